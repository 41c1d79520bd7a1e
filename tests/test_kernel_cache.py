"""Numba's on-disk cache of fastem's kernels under concurrent processes.

Several processes that compile the same kernels into one empty cache at
once (multiprocessing, parallel test runs) must all succeed, and leave a
cache that the next process loads instead of compiling. Every cached
kernel of fastem lives in the directory of the stamp of its kernel sources,
so that an edit or an upgrade of any of them is never served an older
kernel (a family registered from outside fastem with ``cache=True`` is not
in the stamp: see ``register_family_kernels``).
"""

import errno
import io
import os
import shutil
import subprocess
import sys
import types
import zipapp
from pathlib import Path

import pytest

from fastem import _progress
from fastem.kernels import _cache, _checks

_ROOT = Path(__file__).resolve().parents[1]

_FIT = """
import sys, numpy as np, fastem
from fastem.kernels._fused import fused_e_step_serial as fused_e_step  # the kernel of small fits
X = np.random.default_rng(int(sys.argv[1])).exponential(size=(300, 2))
fastem.ExponentialMixture(2, random_state=0, tol=1e-4).fit(X)
for kernel in (fused_e_step.skeleton, fused_e_step.partition):
    print(sum(kernel._cache_hits.values()), sum(kernel._cache_misses.values()))
"""


def _env(cache_dir):
    return dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), FASTEM_COMPILE_NOTICE="0")


def test_processes_compiling_into_one_empty_cache_at_once_all_succeed(tmp_path):
    runs = [
        subprocess.Popen([sys.executable, "-c", _FIT, str(i)], env=_env(tmp_path),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(3)
    ]
    for run in runs:
        out, err = run.communicate(timeout=1200)
        assert run.returncode == 0, err[-3000:]
    # The cache they left is whole: a new process loads the kernel, compiles nothing.
    done = subprocess.run([sys.executable, "-c", _FIT, "9"], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    # the fused E-step every fit runs: its skeleton, and the partition it calls
    lines = done.stdout.splitlines()
    assert len(lines) == 2
    for line in lines:
        hits, misses = map(int, line.split())
        assert hits >= 1 and misses == 0
    assert not [name for _, _, names in os.walk(tmp_path) for name in names if ".tmp" in name]


_FAILED_WRITE = """
import numpy as np
from numba.core import caching
from fastem.kernels import _checks

_checks.scan_columns(np.ones((10, 2)), 1)  # compiled here: the cache directory is empty
assert sum(_checks.scan_columns._cache_misses.values()) == 1
sig, compiled = next(iter(_checks.scan_columns.overloads.items()))

def fail(self, *args):
    raise FileNotFoundError(2, "No such file or directory", "scan_columns.nbi.tmp.0")

caching.IndexDataCacheFile._save_index = fail
caching.IndexDataCacheFile._save_data = fail
_checks.scan_columns._cache.save_overload(sig, compiled)  # no error
assert _checks.scan_columns._cache._impl.locator.fastem
print("kept")
"""


def test_a_failed_cache_write_of_a_kernel_is_not_fatal(tmp_path):
    """A directory removed under the process, a full disk: the compiled kernel is kept.

    In a process of its own with an empty cache, so that the kernel is compiled
    there (one loaded from the disk cache has no compiled object to save).
    """
    done = subprocess.run([sys.executable, "-c", _FAILED_WRITE], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["kept"]


def test_kernel_cache_directory_is_fixed_for_the_process(monkeypatch):
    """Taken once: an edit of the sources while the process runs cannot move it."""
    path = _checks.scan_columns._cache._cache_path

    def edited(*args):
        raise AssertionError("the kernel sources were read again")

    monkeypatch.setattr(os, "listdir", edited)
    assert _checks.scan_columns._cache._impl.locator.get_cache_path() == path
    assert os.path.basename(path) == f"fastem-{_cache._kernel_sources_stamp()}"


_CACHED_KERNELS = """
import importlib, os, pkgutil
import fastem, fastem.kernels
from numba.core.dispatcher import Dispatcher
from fastem.kernels import _cache

expected = f"fastem-{_cache._kernel_sources_stamp()}"
seen, stale = 0, []
names = [f"fastem.kernels.{info.name}" for info in pkgutil.iter_modules(fastem.kernels.__path__)]
for module_name in names + ["fastem._hierarchical"]:
    module = importlib.import_module(module_name)
    for name, value in vars(module).items():
        cache = getattr(value, "_cache", None) if isinstance(value, Dispatcher) else None
        if cache is None or not hasattr(cache, "_cache_path"):  # not cached
            continue
        seen += 1
        if os.path.basename(cache._cache_path) != expected:
            stale.append(f"{module_name}.{name}: {cache._cache_path}")
print(seen)
print("\\n".join(stale))
"""


def test_every_cached_kernel_lives_in_the_directory_of_the_sources_stamp(tmp_path):
    """In a fresh process, as a user imports fastem.

    Numba checks only a cached function's own file: a kernel cached outside
    the stamped directory (the fused E-step was, when the module that
    marks the kernels' vector width imported it before the locators were
    installed) was served stale after an edit of a family's blocks. The
    hierarchical start's functions, which call the kernels' helpers, were
    cached by Numba's own locator beside their file: stale after an edit of
    those, and compiled under other Numba settings for every later process.
    """
    done = subprocess.run([sys.executable, "-c", _CACHED_KERNELS], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    seen, *stale = done.stdout.strip().split("\n")
    assert int(seen) > 20
    assert not [line for line in stale if line], stale


_WARM_PROCESS = """
import hashlib, sys
import numpy as np
import fastem
from fastem.kernels._fused import fused_e_step_serial

rng = np.random.default_rng(0)
X = rng.normal(size=(3000, 2))
X[:1500] += 5.0
gappy = rng.exponential(size=(600, 3)).astype(np.float32)
gappy[::5, 1] = np.nan
models = [
    fastem.GaussianMixture(2, random_state=0).fit(X),
    fastem.ExponentialMixture(2, missing="em", random_state=0).fit(gappy),
]
models.append(fastem.GaussianMixture(2, random_state=0).fit(X[::2]))
print(hashlib.sha256(b"".join(
    np.ascontiguousarray(getattr(m, name)).tobytes() for m in models for name in m._parameter_names
)).hexdigest())
print(sum(fused_e_step_serial.skeleton._cache_misses.values()))
print(" ".join(name for name in ("numba.np.linalg", "numba.typed.typeddict") if name in sys.modules))
# a compilation after the loads: Numba's registries, which it needs, are there for it
import numba
print(numba.njit(lambda a: np.linalg.det(a))(np.eye(2) * 2.0))
"""


def test_a_process_that_loads_the_kernels_does_not_load_numbas_registries(tmp_path):
    """Loading a cached function, Numba imported and installed its typing and lowering
    registries first (0.3-0.6 s, most of a warm first fit): fastem's functions are loaded
    with its runtime alone, and give the bits of the process that compiled them. A
    compilation later in the process still finds the registries."""
    runs = []
    for _ in range(2):  # compiled, then loaded from the cache
        done = subprocess.run([sys.executable, "-c", _WARM_PROCESS], env=_env(tmp_path),
                              capture_output=True, text=True, timeout=1200)
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append(done.stdout.split("\n"))
    (compiled_bits, compiled_misses, _, det), (loaded_bits, loaded_misses, registries, det_later) = (
        run[:4] for run in runs)
    assert int(compiled_misses) >= 1 and int(loaded_misses) == 0
    assert loaded_bits == compiled_bits
    assert registries == ""
    assert float(det) == float(det_later) == 4.0


_DIRECTORY_CHECKS = """
import tempfile
checks = []
temporary_file = tempfile.TemporaryFile

def counted(*args, dir=None, **kwargs):
    checks.append(dir)
    return temporary_file(*args, dir=dir, **kwargs)

tempfile.TemporaryFile = counted
import fastem
from fastem.kernels import _checks
print(len(checks), checks.count(_checks.scan_columns._cache._cache_path))
"""


def test_import_checks_each_kernel_cache_directory_once(tmp_path):
    """Numba checks that the cache directory of each cached function is writable, with a
    temporary file, as the function is defined: 127 files written and deleted in
    ``import fastem`` (12-50 ms of it). The kernels' directory is checked once."""
    done = subprocess.run([sys.executable, "-c", _DIRECTORY_CHECKS], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    checks, of_the_kernels = map(int, done.stdout.split())
    assert of_the_kernels == 1
    assert checks - of_the_kernels < 20  # the functions outside fastem/kernels, as Numba checks


_REMOVED_DIRECTORY = """
import os, shutil
import numpy as np
from fastem.kernels import _checks
path = _checks.scan_columns._cache._cache_path
shutil.rmtree(path)  # after the import's check
_checks.scan_columns(np.ones((10, 2)), 1)  # compiled, and saved into the directory made again
print(sorted(name.split("-")[0] for name in os.listdir(path) if name.endswith(".nbi")))
"""


def test_a_kernel_cache_directory_removed_after_the_import_is_made_again_for_a_save(tmp_path):
    done = subprocess.run([sys.executable, "-c", _REMOVED_DIRECTORY], env=_env(tmp_path),
                          capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["['_checks.scan_columns']"]


_STAMP = "from fastem.kernels import _cache; print(_cache._kernel_sources_stamp())"


def _stamp(tmp_path, **settings):
    done = subprocess.run([sys.executable, "-c", _STAMP], env=dict(_env(tmp_path), **settings),
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_kernels_compiled_under_other_numba_settings_are_never_loaded(tmp_path):
    """Numba's index of a cache records the CPU, not its optimisation level or profiling:
    kernels compiled once under NUMBA_ENABLE_PROFILING=1 (33 times slower) were loaded by
    every later process. Each such setting has a cache directory of its own, and a process
    of the default settings compiles its kernels rather than load those."""
    default = _stamp(tmp_path)
    assert _stamp(tmp_path, NUMBA_DEBUG_CACHE="0") == default  # a setting that compiles nothing else
    for name, value in [("NUMBA_OPT", "0"), ("NUMBA_ENABLE_PROFILING", "1"), ("NUMBA_DEBUGINFO", "1"),
                        ("NUMBA_BOUNDSCHECK", "1"), ("NUMBA_LOOP_VECTORIZE", "0")]:
        assert _stamp(tmp_path, **{name: value}) != default, name
    # each process compiles its kernels itself: a second process compiling ahead for it
    # (fastem._compile_ahead) would make its partition a hit of its own settings' cache
    alone = dict(_env(tmp_path), FASTEM_COMPILE_AHEAD="0")
    profiled = subprocess.run([sys.executable, "-c", _FIT, "1"],
                              env=dict(alone, NUMBA_ENABLE_PROFILING="1"), capture_output=True, text=True)
    assert profiled.returncode == 0, profiled.stderr
    done = subprocess.run([sys.executable, "-c", _FIT, "1"], env=alone, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    hits_and_misses = [tuple(map(int, line.split())) for line in done.stdout.strip().splitlines()]
    assert all(hits == 0 and misses > 0 for hits, misses in hits_and_misses), hits_and_misses


# A thread of the parent saves a kernel (holds the cache's lock) as another thread forks;
# the child tells whether the lock is free once that save has ended.
_FORK_DURING_A_SAVE = r"""
import fcntl, os, sys, threading
from fastem.kernels import _cache

directory = sys.argv[1]
held, release = threading.Event(), threading.Event()


def save():
    with _cache._exclusive(directory):
        held.set()
        release.wait()


thread = threading.Thread(target=save)
thread.start()
held.wait()
read, write = os.pipe()
pid = os.fork()
if pid == 0:
    os.read(read, 1)
    fd = os.open(os.path.join(directory, _cache.LOCK_NAME), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os._exit(1)
    os._exit(0)
release.set()
thread.join()
os.write(write, b"x")
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_child_forked_during_a_save_leaves_the_cache_lock_free(tmp_path):
    # a flock belongs to the open file: the child's copy of the descriptor of the parent
    # thread's save held the lock after that save ended, and the child's next save, and
    # every later save into that cache by any process, waited for the child's end
    done = subprocess.run([sys.executable, "-c", _FORK_DURING_A_SAVE, str(tmp_path)],
                          env=_env(tmp_path), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == ["child", "0"]


def test_a_failed_save_is_said_in_the_compile_notice(monkeypatch, tmp_path):
    # the notice said the kernels were cached on disk for later runs, a full disk or not
    notice = _progress.CompileNotice(io.StringIO())
    monkeypatch.setattr(_progress, "_NOTICE", notice)
    monkeypatch.setattr(_cache, "unkept", [])

    def full(self, sig, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    locator = types.SimpleNamespace(fastem=True, ensure_cache_path=lambda again: None)
    cache = types.SimpleNamespace(_impl=types.SimpleNamespace(locator=locator), _cache_path=str(tmp_path))
    notice.on_start(_progress._WAIT)
    notice._announce()
    _cache._save_overload(full)(cache, None, None)  # no error
    notice.on_end(_progress._WAIT)
    notice.flush()
    lines = notice.stream.getvalue().splitlines()
    assert len(lines) == 2 and "they are cached on disk" in lines[0]
    assert lines[1].startswith("fastem: compiled the kernels in ")
    assert lines[1].endswith(
        f"s; they could not be saved on disk for later runs: OSError: [Errno {errno.ENOSPC}] No space "
        f"left on device (cache directory {tmp_path}); set NUMBA_CACHE_DIR=<a writable directory "
        "with free space> to keep them"
    )


# Compiles a small kernel and again, announced however short; where no cache directory is
# writable ("read-only": every locator's check of its directory fails), or from a zipapp.
_NOWHERE = """
import sys
if sys.argv[-1] == "read-only":
    from numba.core import caching

    def read_only(self):
        raise PermissionError(13, "Permission denied", self.get_cache_path())

    caching._CacheLocator.ensure_cache_path = read_only
import numpy as np
from fastem import _progress
from fastem.kernels import _checks
_progress._ANNOUNCE_AFTER = 0.0
for dtype in (np.float64, np.float32):
    _checks.scan_columns(np.ones((10, 2), dtype=dtype), 1)
    _progress.flush_compile_notice()
print(_checks.scan_columns._cache._cache_path)
"""


@pytest.mark.parametrize("where", ["read-only", "zipapp"])
def test_fastem_compiles_its_kernels_where_they_cannot_be_kept(tmp_path, where):
    # Numba raised "cannot cache function 'exp64': no locator available" in the import
    (tmp_path / "tmp").mkdir()
    env = dict(os.environ, TMPDIR=str(tmp_path / "tmp"), FASTEM_COMPILE_NOTICE="1")
    env.pop("NUMBA_CACHE_DIR", None)
    if where == "zipapp":
        app = tmp_path / "app"
        shutil.copytree(_ROOT / "fastem", app / "fastem", ignore=shutil.ignore_patterns("__pycache__"))
        (app / "__main__.py").write_text(_NOWHERE)
        zipapp.create_archive(app, tmp_path / "app.pyz")
        command = [sys.executable, str(tmp_path / "app.pyz")]
        fix = "install fastem as files (pip install) to keep them"
    else:
        command = [sys.executable, "-c", _NOWHERE, where]
        env["PYTHONPATH"] = str(_ROOT)
        fix = "set NUMBA_CACHE_DIR=<a writable directory> to keep them"
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith(str(tmp_path / "tmp" / "fastem-kernels-"))
    lines = done.stderr.splitlines()
    assert len(lines) == 4, done.stderr
    assert lines[0].startswith("fastem: compiling the kernels (they cannot be kept on disk for later runs: ")
    assert lines[0].endswith(f"; {fix})...")
    assert lines[2] == "fastem: compiling the kernels (not kept on disk for later runs)..."
    assert not os.listdir(tmp_path / "tmp")  # removed at exit


def test_fastem_says_how_to_fix_a_machine_with_no_writable_directory(tmp_path):
    # no cache directory and no temporary directory: Numba's "no locator available"
    env = dict(os.environ, TMPDIR=str(tmp_path / "missing"), PYTHONPATH=str(_ROOT))
    env.pop("NUMBA_CACHE_DIR", None)
    code = "import tempfile; tempfile._candidate_tempdir_list = lambda: []\n" + _NOWHERE
    done = subprocess.run([sys.executable, "-c", code, "read-only"], env=env, capture_output=True,
                          text=True, timeout=600, cwd=tmp_path)
    assert done.returncode != 0
    assert done.stderr.splitlines()[-1].startswith(
        "ImportError: fastem's kernels need a writable directory for Numba's cache, and none is: "
        "no cache directory is writable"
    )
    assert done.stderr.endswith("set NUMBA_CACHE_DIR or TMPDIR to a writable directory.\n")
