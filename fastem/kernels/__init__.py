"""Numba kernels: the fused E-step skeleton and each family's blocks."""

from numba.core import config as _numba_config

from . import _cache, _codegen

if _numba_config.DISABLE_JIT:
    raise ImportError(
        "NUMBA_DISABLE_JIT is set, but fastem's E-step and M-step run only as kernels "
        "compiled by Numba: no fit, prediction or score would work. Unset "
        "NUMBA_DISABLE_JIT in the environment of the process that imports fastem "
        "(e.g. `env -u NUMBA_DISABLE_JIT python script.py`)."
    )

_codegen.install()
_cache.install()

# isort: split
# Every kernel module from here on: their dispatchers take the cache locator
# that _cache.install() put first (tests/test_kernel_cache.py).

from ._fused import (
    fused_e_step,
    fused_e_step_uncached,
    fused_e_step_serial,
    fused_e_step_serial_uncached,
    e_step_outputs,
    fused_scratch,
    register_family_kernels,
    registered_families,
    registered_shapes,
)
from ._memory import prefetch_next

__all__ = [
    "fused_e_step",
    "fused_e_step_uncached",
    "fused_e_step_serial",
    "fused_e_step_serial_uncached",
    "e_step_outputs",
    "fused_scratch",
    "prefetch_next",
    "register_family_kernels",
    "registered_families",
    "registered_shapes",
]
