"""Keep Numba's on-disk cache of fastem's kernels in step with their sources.

Numba decides whether a cached kernel is still valid by looking at the source
file of the cached function alone. The fused skeleton lives in one file and the
family blocks it inlines live in others, so an edit to a family block would
leave a stale skeleton in the cache. This module adds the stamps of every file
in ``fastem/kernels`` to the stamp of each kernel defined there, and of ``fastem/_config.py``, whose constants (block
size, fast-math flags) are compiled into them: any edit to any of these
invalidates every cached kernel.
"""

import os

from numba.core import caching

_KERNEL_DIR = os.path.dirname(os.path.abspath(__file__))
_CONFIG = os.path.join(os.path.dirname(_KERNEL_DIR), "_config.py")


def _kernel_sources_stamp():
    paths = [os.path.join(_KERNEL_DIR, name) for name in sorted(os.listdir(_KERNEL_DIR))]
    stamps = []
    for path in [_CONFIG] + [p for p in paths if p.endswith(".py")]:
        st = os.stat(path)
        stamps.append((os.path.basename(path), st.st_mtime, st.st_size))
    return tuple(stamps)


def _kernels_locator(base):
    class KernelsLocator(base):
        @classmethod
        def from_function(cls, py_func, py_file):
            if os.path.dirname(os.path.abspath(py_file)) != _KERNEL_DIR:
                return None
            return super().from_function(py_func, py_file)

        def get_source_stamp(self):
            return (super().get_source_stamp(), _kernel_sources_stamp())

    KernelsLocator.__name__ = f"Fastem{base.__name__}"
    return KernelsLocator


def install():
    """Put fastem's locators first, once; idempotent."""
    locators = caching.CacheImpl._locator_classes
    if not any(cls.__name__.startswith("Fastem") for cls in locators):
        bases = (
            caching.UserProvidedCacheLocator,
            caching.InTreeCacheLocator,
            caching.UserWideCacheLocator,
        )
        locators[:0] = [_kernels_locator(base) for base in bases]
