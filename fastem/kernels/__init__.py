"""Numba kernels: the fused E-step skeleton and each family's blocks."""

from . import _cache, _codegen

_codegen.install()
_cache.install()

# isort: split

from ._fused import (
    fused_e_step,
    fused_e_step_uncached,
    fused_scratch,
    register_family_kernels,
    registered_families,
    registered_shapes,
)
from ._memory import prefetch_next

__all__ = [
    "fused_e_step",
    "fused_e_step_uncached",
    "fused_scratch",
    "prefetch_next",
    "register_family_kernels",
    "registered_families",
    "registered_shapes",
]
