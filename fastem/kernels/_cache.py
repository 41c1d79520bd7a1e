"""Keep Numba's on-disk cache of fastem's kernels in step with their sources.

Numba decides whether a cached kernel is still valid by looking at the source
file of the cached function alone. A kernel links copies of the functions it
calls from other files (a family block, the tiles and the vectorised exp and
log it calls), so an edit to one of those would leave a stale kernel in the
cache. Worse, Numba unpickles a cache index
before it compares stamps, and the index names the params classes of the
kernels in it: once a class is renamed or removed, loading the old index fails
outright.

So the cache of every kernel defined in ``fastem/kernels``, and of the
hierarchical start's functions (``fastem/_hierarchical.py``, which call the
kernels' helpers), lives in a directory named after the stamps (modification
time and size) of every file there, of ``fastem/_hierarchical.py`` and of
``fastem/_config.py``, whose constants are compiled in, and
after the vector width they are compiled for (:mod:`fastem.kernels._codegen`)
and Numba's settings that change the code it compiles (``_SETTINGS``: its
optimisation level, profiling, debug information, bounds checks), taken once
per process: the kernels a process compiles are those of the sources it
imported, and its cache directory cannot change under it. Any edit to any of
them, or an upgrade of fastem, starts a fresh directory and never reads an
old index. The first process that uses the new directory deletes the
sibling directories that have not been written to for a day
(``STALE_SECONDS``), so that edits and upgrades do not pile up old kernels.

Several processes may compile the same kernels into the same directory at
once (a cold cache under multiprocessing or a parallel test run). Numba
writes each file of its cache atomically, but saving an entry reads the
index, picks a data file name and rewrites the index: two processes doing
that at once lose entries or give two entries one data file (numba issue
#10128). fastem's kernels therefore save under an exclusive ``flock`` on a
lock file in their cache directory, and a save that still fails with an
OSError (a directory removed under the process, a full disk, a read-only
cache) is dropped: the kernel is compiled and in memory, only its disk copy
is missing, and the next process compiles it again. The compile notice
(:mod:`fastem._progress`) says so, with the error and the fix, once.

Where no cache directory is writable (no NUMBA_CACHE_DIR, a read-only
install and home) or fastem's sources are not files (a zip archive, a
zipapp: Numba's locators read the source file's stamp), every Numba locator
declines fastem's functions, and Numba would refuse to define them at all
(``RuntimeError: cannot cache function ...: no locator available``). The
last of fastem's locators then caches them in a temporary directory of the
process's own, removed at its exit: the kernels are compiled in every run,
are the same code, and no other process or source can be found there. The
compile notice says once that they cannot be kept, why, and the fix.

Loading a cached function, Numba first refreshes its compiler's context:
it imports and installs its typing and lowering registries (the
implementations of Python and NumPy for compiled code, which import
``scipy.linalg`` and cffi), and initialises its runtime. A process that only
loads compiled code needs the runtime alone: the registries serve typing and
lowering, and every compilation refreshes the context itself before it
starts (``numba.core.compiler.CompilerBase``). fastem's functions are
therefore loaded after the runtime's initialisation only; the refresh waits
for the first compilation of the process, if any. A warm first fit of
10,000 points took 1.04 s against 1.31 s with it (medians, on a loaded
2-core machine: docs/performance.md). Other functions of the process, a
family registered from outside fastem among them, are loaded as Numba
alone loads them.
"""

import atexit
import contextlib
import hashlib
import os
import shutil
import tempfile
import time

from numba.core import caching, config
from numba.core.runtime import rtsys
from numba.misc.appdirs import AppDirs

from .. import _progress
from . import _codegen

try:
    import fcntl
except ImportError:  # Windows: Numba's atomic file replacement only
    fcntl = None

_PACKAGE = __name__.partition(".")[0] + "."
_KERNEL_DIR = os.path.dirname(os.path.abspath(__file__))
_PACKAGE_DIR = os.path.dirname(_KERNEL_DIR)
_CONFIG = os.path.join(_PACKAGE_DIR, "_config.py")
# fastem's one module of cached functions outside fastem/kernels (the
# hierarchical start's), whose functions call the kernels' helpers.
_OUTSIDE = (os.path.join(os.path.dirname(_KERNEL_DIR), "_hierarchical.py"),)

# Age after which another stamp's cache directory is deleted. A process still
# running older sources may write to its directory; a day leaves it alone.
STALE_SECONDS = 24 * 3600

# Numba's settings that change the code it compiles, which Numba's own index
# of a cache does not record (it records the CPU's name and features): the
# kernels compiled by one process under NUMBA_ENABLE_PROFILING=1 were loaded by
# every later process, and a spherical D=2 K=4 pass ran 33 times slower there.
_SETTINGS = (
    "OPT", "LOOP_VECTORIZE", "SLP_VECTORIZE", "ENABLE_AVX", "ENABLE_PROFILING", "DEBUGINFO_DEFAULT",
    "BOUNDSCHECK", "EXTEND_VARIABLE_LIFETIMES", "LLVM_REFPRUNE_PASS",
)

_pruned = set()
_stamp = []
# The kernels' cache directories this process has checked. Numba checks the
# directory of every cached function as it is defined, by creating it and
# writing and deleting a temporary file there: 127 times in ``import fastem``,
# 12-50 ms of it on a loaded 2-core machine (0.5 ms once). The kernels' locators check
# each directory once, and again before each save (a directory removed meanwhile is made
# again).
_checked = set()

LOCK_NAME = "fastem-cache.lock"

# Why this process's kernels are not kept on disk for later runs, with the fix: the first
# reason met (a failed save, no writable cache directory), or none.
unkept = []
# The temporary cache directory of this process (_ProcessLocator), once made.
_temporary = []


def _not_kept(why):
    """Record why the kernels are not kept on disk, and tell the compile notice, once."""
    if not unkept:
        unkept.append(why)
        _progress.kernels_not_kept(why)


def _kernel_sources_stamp():
    """The stamp of the kernel sources, as this process first saw them."""
    if not _stamp:
        paths = [os.path.join(_KERNEL_DIR, name) for name in sorted(os.listdir(_KERNEL_DIR))]
        stamps = []
        for path in [_CONFIG, *_OUTSIDE] + [p for p in paths if p.endswith(".py")]:
            st = os.stat(path)
            stamps.append((os.path.basename(path), st.st_mtime_ns, st.st_size))
        stamps.append(("vector width", _codegen.installed_vector_width()))
        stamps.append(("numba settings", [(name, str(getattr(config, name, None))) for name in _SETTINGS]))
        _stamp.append(hashlib.sha1(repr(stamps).encode()).hexdigest()[:16])
    return _stamp[0]


# The descriptors of the lock files this process holds locked (_exclusive).
_held = set()


@contextlib.contextmanager
def _exclusive(directory):
    """Hold an exclusive ``flock`` on the lock file of a cache directory (no-op without fcntl)."""
    if fcntl is None:
        yield
        return
    fd = os.open(os.path.join(directory, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o666)
    _held.add(fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        _held.discard(fd)
        os.close(fd)  # releases the lock


def _locks_of_a_forked_child():
    """Close in a forked child the lock files that a parent thread held locked in a save.

    A ``flock`` belongs to the open file, which the child shares: held by the
    child's copy of the descriptor, which the parent's thread does not close
    there, it outlived that thread's save, and the child's next save, and
    every save of any process into that cache after it, waited for the
    child's end.
    """
    for fd in list(_held):
        with contextlib.suppress(OSError):
            os.close(fd)
    _held.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_locks_of_a_forked_child)


def _save_overload(original):
    """Numba's ``Cache.save_overload``, serialised and never fatal for fastem's kernels."""

    def save_overload(self, sig, data):
        if not getattr(self._impl.locator, "fastem", False):
            return original(self, sig, data)
        try:
            self._impl.locator.ensure_cache_path(again=True)
            with _exclusive(self._cache_path):
                original(self, sig, data)
        except OSError as error:  # compiled and in memory: only the disk copy is missing
            _not_kept(
                f"{type(error).__name__}: {error} (cache directory {self._cache_path}); set "
                "NUMBA_CACHE_DIR=<a writable directory with free space> to keep them"
            )
        return None

    save_overload.fastem_original = original
    return save_overload


def _load_overload(original):
    """Numba's ``Cache.load_overload``, without the context's refresh for fastem's functions."""

    def load_overload(self, sig, target_context):
        module = getattr(self._py_func, "__module__", None) or ""
        if not module.startswith(_PACKAGE):
            return original(self, sig, target_context)
        rtsys.initialize(target_context)  # what the loaded code calls: allocation, references
        with self._guard_against_spurious_io_errors():
            return self._load_overload(sig, target_context)

    load_overload.fastem_original = original
    return load_overload


def prune_stale(parent, current):
    """Delete the ``fastem-*`` directories in ``parent`` other than ``current`` that
    were last modified more than ``STALE_SECONDS`` ago. Best effort: errors are ignored.
    """
    cutoff = time.time() - STALE_SECONDS
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        path = os.path.join(parent, name)
        if not name.startswith("fastem-") or path == current:
            continue
        try:
            if os.stat(path).st_mtime < cutoff:
                shutil.rmtree(path, ignore_errors=True)
        except OSError:
            pass


def _kernels_locator(base):
    class KernelsLocator(base):
        fastem = True

        @classmethod
        def from_function(cls, py_func, py_file):
            path = os.path.abspath(py_file)
            if os.path.dirname(path) != _KERNEL_DIR and path not in _OUTSIDE:
                return None
            return super().from_function(py_func, py_file)

        def ensure_cache_path(self, again=False):
            path = self.get_cache_path()
            if again or path not in _checked:
                super().ensure_cache_path()
                _checked.add(path)

        def get_cache_path(self):
            parent = super().get_cache_path()
            current = os.path.join(parent, f"fastem-{_kernel_sources_stamp()}")
            if parent not in _pruned:
                _pruned.add(parent)
                prune_stale(parent, current)
            return current

    KernelsLocator.__name__ = f"Fastem{base.__name__}"
    return KernelsLocator


class _ProcessLocator(caching._CacheLocator):
    """The last resort for fastem's functions: a temporary directory of this process's own,
    removed at its exit (see the module's docstring)."""

    fastem = True

    def __init__(self, py_func):
        self._lineno = py_func.__code__.co_firstlineno

    @classmethod
    def from_function(cls, py_func, py_file):
        if not os.path.abspath(py_file).startswith(_PACKAGE_DIR + os.sep):
            return None
        why = _why_no_directory(py_file)
        try:
            _process_directory()
        except OSError as error:
            raise ImportError(
                f"fastem's kernels need a writable directory for Numba's cache, and none is: "
                f"{why}; no temporary directory is writable either ({error}): set "
                "NUMBA_CACHE_DIR or TMPDIR to a writable directory."
            ) from error
        _not_kept(why)
        return cls(py_func)

    def ensure_cache_path(self, again=False):
        os.makedirs(self.get_cache_path(), exist_ok=True)

    def get_cache_path(self):
        return _process_directory()

    def get_source_stamp(self):
        return "the sources of this process"  # the directory holds this process's alone

    def get_disambiguator(self):
        return str(self._lineno)


def _why_no_directory(py_file):
    """Why Numba's locators declined the fastem function of ``py_file``, and the fix."""
    if not os.path.isfile(py_file):
        return (
            f"fastem's sources are not files ({py_file}: a zip archive?), and Numba caches "
            "only functions whose source file it can read; install fastem as files "
            "(pip install) to keep them"
        )
    provided = f"NUMBA_CACHE_DIR={config.CACHE_DIR}" if config.CACHE_DIR else "no NUMBA_CACHE_DIR"
    return (
        f"no cache directory is writable ({provided}, nor {os.path.dirname(py_file)}/__pycache__, "
        f"nor {AppDirs(appname='numba', appauthor=False).user_cache_dir}); set "
        "NUMBA_CACHE_DIR=<a writable directory> to keep them"
    )


def _process_directory():
    """This process's temporary cache directory, made at the first call and removed at exit."""
    if not _temporary:
        path = tempfile.mkdtemp(prefix="fastem-kernels-")
        _temporary.append(path)
        owner = os.getpid()

        def remove():
            if os.getpid() == owner:  # not at a forked child's exit
                shutil.rmtree(path, ignore_errors=True)

        atexit.register(remove)
    return _temporary[0]


def install():
    """Put fastem's locators first and its last resort last, serialise its saves and load its
    functions without the context's refresh, once; idempotent."""
    if not hasattr(caching.Cache.save_overload, "fastem_original"):
        caching.Cache.save_overload = _save_overload(caching.Cache.save_overload)
    if not hasattr(caching.Cache.load_overload, "fastem_original"):
        caching.Cache.load_overload = _load_overload(caching.Cache.load_overload)
    locators = caching.CacheImpl._locator_classes
    if not any(cls.__name__.startswith("Fastem") for cls in locators):
        bases = (
            caching.UserProvidedCacheLocator,
            caching.InTreeCacheLocator,
            caching.UserWideCacheLocator,
        )
        locators[:0] = [_kernels_locator(base) for base in bases]
        locators.append(_ProcessLocator)
