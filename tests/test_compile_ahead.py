"""A first fit's E-step compiled ahead by a second process (fastem._compile_ahead).

The second process compiles what it is told from the kernel params' class,
the data's dtype and number of features alone: the kernels must be those a
fit's passes call, or the first process compiles them again. The fit must be
bitwise that of a process that compiles everything itself, and a second
process that fails or hangs must cost the fit its kernels' compilation, no
more.
"""

import io
import json
import os
import subprocess
import sys
import threading
import time
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastem
from fastem import _compile_ahead
from fastem.kernels import _fused
from fastem.kernels.gaussian import WIDE_MIN_FEATURES

_ROOT = Path(__file__).resolve().parents[1]

_MODELS = {
    "full": lambda: fastem.GaussianMixture(2, covariance_type="full"),
    "tied": lambda: fastem.GaussianMixture(2, covariance_type="tied"),
    "diag": lambda: fastem.GaussianMixture(2, covariance_type="diag"),
    "spherical": lambda: fastem.GaussianMixture(2, covariance_type="spherical"),
    "bayesian": lambda: fastem.BayesianGaussianMixture(2),
    "exponential": lambda: fastem.ExponentialMixture(2),
    "poisson": lambda: fastem.PoissonMixture(2),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_features", [1, WIDE_MIN_FEATURES])
@pytest.mark.parametrize("model", list(_MODELS))
def test_the_kernels_compiled_ahead_are_those_a_fit_calls(monkeypatch, model, n_features, dtype):
    X = np.random.default_rng(0).poisson(3.0, size=(200, n_features)).astype(dtype) + 1
    called = []

    def recording(cached, args):
        called.extend(_fused.kernel_signatures(cached, args))
        return addresses(cached, args)

    addresses = _fused.kernel_addresses
    monkeypatch.setattr(_fused, "kernel_addresses", recording)
    estimator = _MODELS[model]().set_params(max_iter=2, random_state=0)
    params_class = estimator._first_params_class()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X)
    spec = {
        "params_class": f"{params_class.__module__}:{params_class.__qualname__}",
        "dtype": np.dtype(dtype).name, "n_features": n_features,
    }
    ahead = _compile_ahead._ahead(spec)
    assert len(ahead) == 2
    for pair in ahead:
        assert pair in called


def test_the_types_of_a_wide_model_cost_no_memory_of_its_size():
    import tracemalloc

    from fastem.kernels.gaussian import FullParams

    tracemalloc.start()
    try:
        _compile_ahead.first_pass_arguments(FullParams, np.float64, 5_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # 5,000 x 5,000 precision factors would be 200 MB per component


class _Family:
    class Params:  # a family's params class nested in another class
        pass


def test_the_second_process_finds_a_params_class_nested_in_another_class():
    # it looked up "_Family.Params" as one attribute of the module, and failed
    name = f"{_Family.Params.__module__}:{_Family.Params.__qualname__}"
    assert _compile_ahead._class(name) is _Family.Params


def test_missing_values_fitted_by_em_are_not_compiled_ahead():
    # their params hold tables of the data's patterns: types unknown before the data is read
    assert fastem.GaussianMixture(2, missing="em")._first_params_class() is None
    assert fastem.ExponentialMixture(2, missing="em")._first_params_class() is None


def test_no_second_process_without_a_free_core_an_interpreter_or_when_turned_off(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(_compile_ahead, "free_cores", lambda: 1)
    assert not _compile_ahead._may_start()
    monkeypatch.setattr(_compile_ahead, "free_cores", lambda: None)  # the load unknown
    assert _compile_ahead._may_start()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert not _compile_ahead._may_start()
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(_compile_ahead, "free_cores", lambda: 2)
    for embedding in ("/usr/bin/uwsgi", ""):  # its "-c" is no Python code
        monkeypatch.setattr(sys, "executable", embedding)
        assert not _compile_ahead._may_start()
    monkeypatch.setattr(sys, "executable", "/opt/venv/bin/python3.12")
    assert _compile_ahead._may_start()
    monkeypatch.setenv(_compile_ahead.ENV, "0")
    assert not _compile_ahead._may_start()


@pytest.fixture
def free_core(monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    monkeypatch.setattr(_compile_ahead, "free_cores", lambda: 2)
    monkeypatch.setattr(sys, "executable", "/opt/venv/bin/python3.12")


@pytest.mark.parametrize("value", [" 0", "false", "No", "OFF "])
def test_the_usual_spellings_of_off_turn_it_off(free_core, monkeypatch, value):
    # only exactly "0" did
    monkeypatch.setenv(_compile_ahead.ENV, value)
    assert not _compile_ahead._may_start()


def test_a_switch_of_unknown_spelling_is_on_and_said_so(free_core, monkeypatch):
    monkeypatch.setenv(_compile_ahead.ENV, "nope")
    with pytest.warns(RuntimeWarning, match="FASTEM_COMPILE_AHEAD='nope' is neither on"):
        assert _compile_ahead._may_start()


@pytest.mark.parametrize("why", ["full disk", "a save failed"])
def test_no_second_process_where_its_kernels_could_not_be_saved(free_core, monkeypatch, why):
    # it compiled them, failed to save them, and the fit waited for it, then compiled them
    started = []

    def popen(*args, **kwargs):
        started.append(args)
        raise OSError("not started here")

    monkeypatch.setattr(_compile_ahead, "_seen", set())
    monkeypatch.setattr(_compile_ahead, "_present", lambda *pair: False)
    monkeypatch.setattr(_compile_ahead.subprocess, "Popen", popen)
    if why == "full disk":
        full = types.SimpleNamespace(total=10**9, used=10**9 - 4096, free=4096)
        monkeypatch.setattr(_compile_ahead.shutil, "disk_usage", lambda path: full)
    else:
        monkeypatch.setattr(_compile_ahead._cache, "unkept", ["OSError: ..."])
    params_class = fastem.ExponentialMixture(2)._first_params_class()
    assert not _compile_ahead.start(params_class, np.float64, 3)
    assert not started


def test_the_second_process_ends_at_a_failed_save(monkeypatch, capsys):
    # it went on: the fit waited for a kernel it would not find on disk
    unkept = []

    class Kernel:
        def compile(self, signature):
            unkept.append("OSError: [Errno 28] No space left on device")

    monkeypatch.setattr(_compile_ahead._cache, "unkept", unkept)
    monkeypatch.setattr(_compile_ahead, "_ahead", lambda spec: [(Kernel(), None), (Kernel(), None)])
    monkeypatch.setattr(_compile_ahead, "_exit_at_the_end_of_stdin", lambda: None)
    monkeypatch.setattr(sys, "stdin", io.StringIO("{}\n"))
    _compile_ahead._compile()
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("reads", [True, False])
def test_the_pipes_of_the_second_process_are_closed(reads):
    # left open, they were a ResourceWarning when the thread that follows the process ended
    code = "import sys; sys.stdin.readline(); print(0)" if reads else "pass"
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    )
    done = [threading.Event(), threading.Event()]
    _compile_ahead._follow(process, "{}", done)
    assert all(event.is_set() for event in done) and process.returncode == 0
    assert process.stdin.closed and process.stdout.closed


def test_other_output_of_the_second_process_is_no_end_of_its_work():
    # NUMBA_DEBUG_CACHE=1 prints to its stdout: the first such line ended the wait for every
    # kernel, and the fit compiled them itself beside the second process
    process = subprocess.Popen(
        [sys.executable, "-c", "print('[cache] index saved'); print(1)"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    order = []

    class Done:
        def __init__(self, i):
            self.i = i

        def set(self):
            order.append(self.i)

    _compile_ahead._follow(process, "{}", [Done(0), Done(1)])
    assert order[0] == 1  # kernel 1 reported done first; the rest at the process's end


# A first fit in a fresh process on an empty cache, a free core assumed, the second
# process started by the program argv[1] (a stand-in for Python that fails, hangs or
# starts late); prints the fit, the functions this process compiled and the fit's seconds.
_FIRST_FIT = r"""
import json, sys, time
import numpy as np
from numba.core import event

compiled = []


class Recorder(event.Listener):
    def on_start(self, ev):
        pass

    def on_end(self, ev):
        compiled.append(ev.data["dispatcher"].py_func.__qualname__)


event.register("numba:compile", Recorder())
import fastem
from fastem import _compile_ahead

_compile_ahead.free_cores = lambda: 2
worker = sys.argv[1]
sys.executable = worker
if not worker.endswith("slow"):
    _compile_ahead.TIMEOUT = 2.0
model, n_features = sys.argv[2], int(sys.argv[3])
X = np.abs(np.random.default_rng(0).normal(size=(3000, n_features)))
X[:1500] += 5.0
start = time.perf_counter()
estimator = (fastem.GaussianMixture(2, random_state=0) if model == "gaussian"
             else fastem.ExponentialMixture(2, random_state=0)).fit(X)
seconds = time.perf_counter() - start
fitted = [estimator.lower_bound_, estimator.weights_.tolist(), estimator.predict_proba(X[:50]).tolist()]
print(json.dumps([fitted, compiled, seconds]))
"""


def _first_fit(tmp_path, worker, model, n_features, notice="0"):
    """``(fitted, the functions compiled in the fit's process, its seconds, its stderr)``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), FASTEM_COMPILE_NOTICE=notice)
    env.pop(_compile_ahead.ENV, None)
    run = subprocess.run(
        [sys.executable, "-c", _FIRST_FIT, worker, model, str(n_features)], capture_output=True,
        text=True, timeout=900, env=env, cwd=_ROOT,  # "-c" imports fastem from here first
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return (*json.loads(run.stdout.splitlines()[-1]), run.stderr)


def _here(model, n_features):
    """The same fit in this process, which compiled its kernels itself or loaded them."""
    X = np.abs(np.random.default_rng(0).normal(size=(3000, n_features)))
    X[:1500] += 5.0
    estimator = (fastem.GaussianMixture(2, random_state=0) if model == "gaussian"
                 else fastem.ExponentialMixture(2, random_state=0)).fit(X)
    return [estimator.lower_bound_, estimator.weights_.tolist(), estimator.predict_proba(X[:50]).tolist()]


def test_a_cold_first_fit_loads_the_kernels_the_second_process_compiled(tmp_path):
    # a second process that starts late, so that the fit waits for its kernels
    slow = tmp_path / "python-slow"
    slow.write_text(f'#!/bin/sh\nsleep 8\nexec "{sys.executable}" "$@"\n')
    slow.chmod(0o755)
    fitted, compiled, seconds, stderr = _first_fit(
        tmp_path / "cache", str(slow), "gaussian", 2, notice="1"
    )
    # the start and the rest compiled here; the partition and the log-density block there
    assert "_merge_loop" in compiled and "_full_accumulate_narrow_entry" in compiled
    assert "_partition_pass" not in compiled
    assert "_full_log_prob_narrow_entry" not in compiled
    assert fitted == _here("gaussian", 2)  # bitwise
    # The notice counts the wait for the other process's kernels as compilation (a pause of
    # the compilations, e.g. for the start's merges on a loaded machine, splits it in two).
    done = "fastem: compiled the kernels in "
    announced = [float(line[len(done):-2]) for line in stderr.splitlines() if line.startswith(done)]
    assert announced and sum(announced) >= 0.6 * seconds, stderr


@pytest.mark.parametrize("worker", ["exits", "hangs"])
def test_a_second_process_that_fails_costs_only_the_compilation(tmp_path, worker):
    script = tmp_path / "python"
    script.write_text("#!/bin/sh\nexit 3\n" if worker == "exits" else "#!/bin/sh\nsleep 20\n")
    script.chmod(0o755)
    fitted, compiled, _, _ = _first_fit(tmp_path / "cache", str(script), "exponential", 3)
    assert "_partition_pass" in compiled  # compiled here after all
    assert fitted == _here("exponential", 3)


def test_the_second_process_imports_nothing_from_the_current_directory(tmp_path):
    # "-c" puts the current directory first on the path: a json.py there ran in its imports
    (tmp_path / "json.py").write_text("open('ran', 'w').close()\n")
    subprocess.run(_compile_ahead._command(), cwd=tmp_path, stdin=subprocess.DEVNULL,
                   capture_output=True, timeout=300)
    assert not (tmp_path / "ran").exists()


# A first fit on an empty cache, a free core assumed, that prints the second process's pid
# once it has sent it its work.
_KILLED_FIT = r"""
import subprocess
import numpy as np
import fastem
from fastem import _compile_ahead

_compile_ahead.free_cores = lambda: 2
popen = subprocess.Popen


class Told:
    def __init__(self, pipe, pid):
        self.pipe, self.pid = pipe, pid

    def write(self, text):
        self.pipe.write(text)
        self.pipe.flush()
        print(self.pid, flush=True)

    def __getattr__(self, name):
        return getattr(self.pipe, name)


def started(command, *args, **kwargs):
    process = popen(command, *args, **kwargs)
    if "fastem._compile_ahead" in str(command):
        process.stdin = Told(process.stdin, process.pid)
    return process


subprocess.Popen = started
fastem.ExponentialMixture(2).fit(np.random.default_rng(0).exponential(size=(3000, 3)))
"""


def _running(pid):
    """Whether process ``pid`` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="reads /proc")
def test_the_second_process_ends_with_the_first(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), FASTEM_COMPILE_NOTICE="0")
    env.pop(_compile_ahead.ENV, None)
    fit = subprocess.Popen([sys.executable, "-c", _KILLED_FIT], stdout=subprocess.PIPE, text=True,
                           env=env, cwd=_ROOT)
    second = int(fit.stdout.readline())
    fit.kill()
    fit.wait()
    fit.stdout.close()
    for _ in range(1200):
        if not _running(second):
            break
        time.sleep(0.1)
    assert not _running(second)
    # it compiled on and saved its first kernel, which no process would load (and died
    # printing that it was done, to the first process's end of its stdout)
    assert not list(tmp_path.rglob("exponential._log_prob_block*"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="forks")
def test_a_forked_child_does_not_keep_the_second_process_running():
    # its copy of the second process's stdin kept that open after the parent's end
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.readline(); print(0, flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    done = [threading.Event()]
    threading.Thread(target=_compile_ahead._follow, args=(process, "{}", done), daemon=True).start()
    done[0].wait(60)
    child = os.fork()
    if child == 0:
        time.sleep(60)
        os._exit(0)
    try:
        os.close(process.stdin.fileno())  # the parent's end, as at its death
        assert process.wait(30) == 0
    finally:
        os.kill(child, 9)
        os.waitpid(child, 0)
