"""Keep Numba's on-disk cache of fastem's kernels in step with their sources.

Numba decides whether a cached kernel is still valid by looking at the source
file of the cached function alone. The fused skeleton lives in one file and the
family blocks it inlines live in others, so an edit to a family block would
leave a stale skeleton in the cache. This module adds the stamps of every file
in ``fastem/kernels`` to the stamp of each kernel defined there: any edit to any
kernel source invalidates them all.
"""

import os

from numba.core import caching

_KERNEL_DIR = os.path.dirname(os.path.abspath(__file__))


def _kernel_sources_stamp():
    stamps = []
    for name in sorted(os.listdir(_KERNEL_DIR)):
        if name.endswith(".py"):
            st = os.stat(os.path.join(_KERNEL_DIR, name))
            stamps.append((name, st.st_mtime, st.st_size))
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
