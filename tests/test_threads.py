"""Fits in concurrent Python threads give bitwise the results of sequential fits,
whatever the number of threads the kernels run on (one for small data, fewer
on a busy machine).

Under Numba's 'workqueue' threading layer, concurrent parallel launches abort
the process unless fastem serialises them (fastem/_threading.py); that case runs
in a subprocess so that a failure is an exit code, not a crashed test session.
"""

import copy
import json
import os
import pickle
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal

import fastem
from fastem import ExponentialMixture, GaussianMixture, PoissonMixture

ROOT = Path(__file__).resolve().parents[1]


def _jobs():
    rng = np.random.default_rng(0)
    X1 = np.concatenate([rng.normal(size=(6000, 4)), rng.normal(size=(6000, 4)) + 3.0])
    X2 = (rng.normal(size=(9000, 3)) * 2.0 + 1.0).astype(np.float32)
    return [
        (dict(n_components=3, covariance_type="full", max_iter=15, tol=0.0, random_state=0), X1),
        (dict(n_components=4, covariance_type="diag", max_iter=15, tol=0.0, random_state=1), X2),
    ]


def _run(params, X):
    # The fits stop at max_iter on purpose. Their ConvergenceWarning is ignored
    # by the callers' process-wide filter: catch_warnings() inside the threads
    # would race, one thread restoring the filters while the other still fits.
    model = GaussianMixture(**params).fit(X)
    outputs = [getattr(model, name) for name in model._parameter_names]
    outputs += [model.score_samples(X), model.predict_proba(X), np.array(model.lower_bounds_)]
    # Every parallel kernel, the imputation's too, is launched through fastem._threading.
    holes = X.copy()
    holes[np.random.default_rng(2).random(X.shape) < 0.1] = np.nan
    outputs += [model.impute(holes), model.impute(holes, draw=True, random_state=0)]
    return outputs


def _concurrently(jobs):
    results = [None] * len(jobs)
    errors = []

    def work(i):
        try:
            results[i] = _run(*jobs[i])
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results


@pytest.mark.filterwarnings("ignore::fastem.ConvergenceWarning")
def test_concurrent_fits_equal_sequential_fits():
    jobs = _jobs()
    sequential = [_run(*job) for job in jobs]
    for _ in range(2):
        for got, expected in zip(_concurrently(jobs), sequential):
            for a, b in zip(got, expected):
                assert_array_equal(a, b)


def test_concurrent_fits_under_the_workqueue_layer():
    script = textwrap.dedent(
        """
        import warnings
        warnings.simplefilter("ignore")
        import numba, numpy as np
        import test_threads as t
        jobs = t._jobs()
        sequential = [t._run(*job) for job in jobs]
        assert numba.threading_layer() == "workqueue", numba.threading_layer()
        for _ in range(3):
            for got, expected in zip(t._concurrently(jobs), sequential):
                for a, b in zip(got, expected):
                    np.testing.assert_array_equal(a, b)
        print("same")
        """
    )
    env = dict(os.environ, NUMBA_THREADING_LAYER="workqueue",
               PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "same"


# What a process pool's forked worker runs with a model of the parent, whose kernels ran in
# parallel first: each call launches a parallel kernel (the fused E-step, the data checks,
# the scan of missing-value patterns, imputation) on data above SERIAL_WORK.
FORKED_CALLS = ["fit", "predict_proba", "score_samples", "fit missing", "impute",
                "poisson fit"]

_FORK_SCRIPT = """
import concurrent.futures, hashlib, json, multiprocessing, warnings
warnings.simplefilter("ignore")
import numba, numpy as np
from numba.np.ufunc import omppool
import fastem

rng = np.random.default_rng(0)
X = np.concatenate([rng.normal(0, 1, (40_000, 4)), rng.normal(4, 1, (40_000, 4))])
X_missing = np.where(rng.random(X.shape) < 0.1, np.nan, X)
X_missing[np.isnan(X_missing).all(axis=1), 0] = 0.0
counts = rng.poisson(3.0, (80_000, 3)).astype(float)
params = dict(n_components=2, max_iter=4, tol=0.0, random_state=0)
model = fastem.GaussianMixture(**params).fit(X)
incomplete = fastem.GaussianMixture(**params, missing="em").fit(X_missing)
CALLS = {
    "fit": lambda: fastem.GaussianMixture(**params).fit(X).means_,
    "predict_proba": lambda: model.predict_proba(X),
    "score_samples": lambda: model.score_samples(X),
    "fit missing": lambda: fastem.GaussianMixture(**params, missing="em").fit(X_missing).means_,
    "impute": lambda: incomplete.impute(X_missing),
    "poisson fit": lambda: fastem.PoissonMixture(**params).fit(counts).rates_,
}

def digest(name):
    return hashlib.sha256(np.ascontiguousarray(CALLS[name]()).tobytes()).hexdigest()

if __name__ == "__main__":
    if numba.threading_layer() != "omp" or omppool.openmp_vendor != "GNU":
        print(json.dumps("not GNU OpenMP"))
    else:
        here = {name: digest(name) for name in CALLS}
        fork = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=fork) as pool:
            there = dict(zip(CALLS, pool.map(digest, CALLS)))
        print(json.dumps({name: here[name] == there[name] for name in CALLS}))
"""


def _last_line_of_script(folder, name, text, *args, timeout=600, **environment):
    """The last line of stdout of the Python script ``text``, written to ``folder / name``
    and run with ``args`` in a fresh process that imports this checkout's fastem, with
    ``environment`` added to this process's; the script must succeed."""
    script = folder / name
    script.write_text(text)
    env = dict(os.environ, PYTHONPATH=str(ROOT), **environment)
    proc = subprocess.run([sys.executable, str(script), *args], env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def forked_calls(tmp_path_factory):
    return json.loads(_last_line_of_script(
        tmp_path_factory.mktemp("fork"), "forked.py", _FORK_SCRIPT, timeout=900,
        NUMBA_THREADING_LAYER="omp"))


@pytest.mark.parametrize("call", FORKED_CALLS)
def test_a_forked_worker_of_a_process_whose_kernels_ran_on_gnu_openmp(forked_calls, call):
    # GNU OpenMP is not fork-safe: Numba ended the worker at its first parallel kernel
    # ("Terminating: fork() called from a process already using GNU OpenMP"), and the pool
    # broke. The worker runs the kernels on its own thread: the same bits as the parent.
    if forked_calls == "not GNU OpenMP":
        pytest.skip("Numba's 'omp' layer on GNU OpenMP is not available")
    assert forked_calls[call] is True


_USER_KERNEL_FORK_SCRIPT = """
import concurrent.futures, json, multiprocessing, warnings
warnings.simplefilter("ignore")
import numba, numpy as np
import fastem

@numba.njit(parallel=True)
def total(x):  # the user's own parallel function, not fastem's
    s = 0.0
    for i in numba.prange(x.shape[0]):
        s += x[i]
    return s

def means():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (40_000, 4)), rng.normal(4, 1, (40_000, 4))])
    model = fastem.GaussianMixture(2, max_iter=4, tol=0.0, random_state=0).fit(X)
    return model.means_.tolist()

if __name__ == "__main__":
    total(np.ones(1000))  # the process's first parallel region, before any of fastem's
    from numba.np.ufunc import omppool
    if numba.threading_layer() != "omp" or omppool.openmp_vendor != "GNU":
        print(json.dumps("not GNU OpenMP"))
    else:
        fork = multiprocessing.get_context("fork")
        with concurrent.futures.ProcessPoolExecutor(1, mp_context=fork) as pool:
            try:
                there = pool.submit(means).result(timeout=600)
            except concurrent.futures.process.BrokenProcessPool:
                there = "the worker died"
        print(json.dumps(there == means() or there))
"""


def test_a_forked_worker_of_a_process_whose_own_parallel_function_ran_on_gnu_openmp(tmp_path):
    # The parent's first parallel region was the user's, not fastem's: fastem had not
    # recorded it, so the worker's first kernel started a parallel region and Numba ended
    # it (a multiprocessing.Pool then waited for its result forever). Its fit runs on its
    # own thread and gives the parent's bits.
    outcome = json.loads(_last_line_of_script(
        tmp_path, "user_kernel_fork.py", _USER_KERNEL_FORK_SCRIPT, timeout=900,
        NUMBA_THREADING_LAYER="omp"))
    if outcome == "not GNU OpenMP":
        pytest.skip("Numba's 'omp' layer on GNU OpenMP is not available")
    assert outcome is True


_HELD_LOCK_SCRIPT = """
import multiprocessing, sys, threading, time, warnings
warnings.simplefilter("ignore")
import numpy as np
import fastem
from fastem import _compile_ahead, _hierarchical, _sigbus, _state, _tables, _threading, _validation

held, folder = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
X = rng.normal(size=(60_000, 4))
wide = rng.normal(size=(500, 40))  # BLAS_MIN_FEATURES and more: under the BLAS limit
model = fastem.GaussianMixture(2, max_iter=2, random_state=0).fit(X)  # a parallel launch
model.partial_fit(X[:1000])
shared = fastem.GaussianMixture(2, max_iter=2, random_state=np.random.RandomState(0)).fit(X[:500])
np.save(folder + "/x.npy", X[:2000])
np.savetxt(folder + "/x.csv", X[:2000], delimiter=",", header="a,b,c,d", comments="")
calls = {
    "kernel launch": (_threading._LOCK, lambda: fastem.GaussianMixture(2, max_iter=2).fit(X)),
    "BLAS limit": (_threading._BLAS_LOCK,
                   lambda: fastem.GaussianMixture(2, covariance_type="diag", max_iter=2).fit(wide)),
    "partial_fit": (_state._UPDATE_LOCKS[id(model)], lambda: model.partial_fit(X[:1000])),
    "memory map": (_sigbus._lock, lambda: fastem.GaussianMixture(2, max_iter=2).fit(
        np.load(folder + "/x.npy", mmap_mode="r"))),
    "tree cache": (_hierarchical._cache_lock,
                   lambda: fastem.GaussianMixture(2, max_iter=2).fit(X[:500] + 1.0)),
    "CSV field limit": (_tables._FIELD_LIMIT, lambda: fastem.GaussianMixture(2, max_iter=2).fit(
        fastem.Chunks([folder + "/x.csv"]))),
    "draws": (_validation.drawing_from(shared.random_state), lambda: shared.sample(10)),
    "compile ahead": (_compile_ahead._lock, lambda: exponential_fit()),
    "compile ahead wait": (threading.Lock(), lambda: exponential_fit()),
}
lock, call = calls[held]
if held == "compile ahead wait":  # kernels the parent waits for from its second process
    from fastem.kernels._fused import COMPILING_ELSEWHERE

    never = threading.Event()
    spec = {"params_class": "fastem.kernels.exponential:ExponentialParams", "dtype": "float64",
            "n_features": 4}
    for pair in _compile_ahead._ahead(spec):
        COMPILING_ELSEWHERE[pair] = _compile_ahead._waiter(never, time.monotonic() + 10_000)

def exponential_fit():  # a first fit of its kind in the process
    fastem.ExponentialMixture(2, max_iter=2).fit(np.abs(X[:500]))

def child(queue):
    call()
    queue.put("done")

def hold(taken, release):  # a thread of the parent inside that call when another forks
    with lock:
        taken.set()
        release.wait()

if __name__ == "__main__":
    import threading

    fork = multiprocessing.get_context("fork")
    queue = fork.Queue()
    taken, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold, args=(taken, release))
    holder.start()
    taken.wait()
    worker = fork.Process(target=child, args=(queue,))
    worker.start()
    release.set()
    holder.join()
    worker.join(120)
    if worker.is_alive():
        worker.kill()
        print("hung")
    else:
        print(queue.get(timeout=10))
"""


@pytest.mark.parametrize("held", ["kernel launch", "BLAS limit", "partial_fit", "memory map",
                                  "tree cache", "CSV field limit", "draws", "compile ahead",
                                  "compile ahead wait"])
def test_a_forked_child_does_not_wait_for_a_lock_its_parent_held(tmp_path, held):
    # a thread of the parent inside a kernel launch (under 'workqueue'), a BLAS limit, a
    # partial_fit, the guard of a memory-mapped read, the cache of hierarchical trees, the
    # csv module's field limit, sample's draws from a shared generator or the start of a
    # process that compiles ahead held the lock as another thread forked (or the parent
    # waited for that process's kernels, which the child is never told of): the child's copy of
    # the lock stayed held, by a thread the child does not have, and its first such call
    # waited forever
    last = _last_line_of_script(tmp_path, "held.py", _HELD_LOCK_SCRIPT, held, str(tmp_path),
                                NUMBA_THREADING_LAYER="workqueue")
    assert last == "done"


# The start of a script that forks beside another thread of its own: ``forked_child()``
# forks a child that reports its BLAS threads before and after a fit of its own.
_FORKED_CHILD_REPORTS = """
import json
import multiprocessing
import threading

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401 (the BLAS of the fit's kernels, loaded first)
from threadpoolctl import threadpool_info

import fastem
from fastem import _threading


def blas_threads():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def child(queue):
    before = blas_threads()
    X = np.random.default_rng(0).normal(size=(500, 3))
    fastem.GaussianMixture(2, max_iter=2, random_state=0).fit(X)  # in the limit and out
    queue.put((before, blas_threads()))


def forked_child():  # (the child's BLAS threads before and after its fit, its process)
    fork = multiprocessing.get_context("fork")
    queue = fork.Queue()
    worker = fork.Process(target=child, args=(queue,))
    worker.start()
    return queue.get(timeout=120), worker
"""


_FORK_IN_A_BLAS_LIMIT_SCRIPT = _FORKED_CHILD_REPORTS + """


if __name__ == "__main__":
    original = blas_threads()
    taken, release = threading.Event(), threading.Event()

    def hold():  # a fit in another thread of the parent, inside the limit, as it forks
        with _threading.single_threaded_blas():
            taken.set()
            release.wait()

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait()
    (before, after), worker = forked_child()
    release.set()
    holder.join()
    worker.join()
    print(json.dumps([original, before, after, blas_threads()]))
"""


def test_a_forked_child_keeps_no_blas_limit_of_its_parent_s_other_threads(tmp_path):
    # a fit in another thread of the parent held the BLAS limit as the process forked: the
    # child counted that fit as its own, which it never ends, and its BLAS ran on one
    # thread for good, through its own fits (2, 1 and 1 threads in the child)
    original, before, after, parent = json.loads(_last_line_of_script(
        tmp_path, "fork_in_limit.py", _FORK_IN_A_BLAS_LIMIT_SCRIPT, OPENBLAS_NUM_THREADS="2"))
    assert original == before == after == parent and 1 not in original


_BLAS_LIMIT_IN_THREADS_SCRIPT = """
import json
import threading

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401 (the BLAS of the fit's kernels, loaded first)
from threadpoolctl import threadpool_info

import fastem
from fastem import _threading


def blas_threads():
    return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]


def in_thread(target):
    thread = threading.Thread(target=target)
    thread.start()
    return thread


if __name__ == "__main__":
    original = blas_threads()
    X = np.random.default_rng(0).normal(size=(500, 3))
    fastem.GaussianMixture(2, max_iter=2, random_state=0).fit(X)  # the main thread's first
    seen = []

    def record(model, n_iter, lower_bound):
        seen.append(blas_threads())

    in_thread(lambda: fastem.GaussianMixture(2, max_iter=2, random_state=0,
                                             callback=record).fit(X)).join()
    # the main thread sets the limit, another thread's fit puts it back
    taken, release = threading.Event(), threading.Event()

    def hold():
        with _threading.single_threaded_blas():
            taken.set()
            release.wait()

    with _threading.single_threaded_blas():
        holder = in_thread(hold)
        taken.wait()
        seen.append(blas_threads())
    release.set()
    holder.join()
    print(json.dumps([original, seen, blas_threads()]))
"""


def test_the_blas_limit_holds_in_every_thread_and_is_put_back_by_any(tmp_path):
    # threadpoolctl lets only the thread that first set OpenBLAS's threads set them again:
    # after a fit in the main thread, a fit in another thread ran its BLAS on 2 threads
    # (its bits those of a process of 2 BLAS threads), and a limit the main thread set
    # and another thread put back stayed at 1 thread for good
    original, seen, after = json.loads(_last_line_of_script(
        tmp_path, "limit_in_threads.py", _BLAS_LIMIT_IN_THREADS_SCRIPT,
        OPENBLAS_NUM_THREADS="2"))
    assert 1 not in original and after == original
    assert seen and all(threads == [1] * len(original) for threads in seen), seen


def _refit_job():
    rng = np.random.default_rng(1)
    X_old = np.concatenate([rng.normal(0, 1, (3000, 3)), rng.normal(5, 1, (3000, 3))])
    X_new = np.concatenate([rng.normal(0, 2, (3000, 3)), rng.normal(-4, 1, (3000, 3))])
    X_test = rng.normal(1, 3, (2000, 3))
    params = dict(n_components=2, covariance_type="full", max_iter=8, tol=0.0, random_state=0)
    return params, X_old, X_new, X_test


def _saved(model, path):
    """What a model file written by ``save`` holds: its parameters and its fit's record."""
    model.save(path)
    loaded = fastem.load(path)
    record = [loaded.lower_bound_, loaded.n_iter_, *loaded.lower_bounds_]
    return np.concatenate([loaded.score_samples(_refit_job()[3][:50]), record])


def _converted(model):
    estimator = model.to_sklearn()
    record = [estimator.lower_bound_, estimator.n_iter_, *estimator.lower_bounds_]
    return np.concatenate([estimator.means_.ravel(), estimator.precisions_cholesky_.ravel(), record])


def _plotted(model, X):
    from matplotlib.figure import Figure

    from fastem.plot import plot_clusters_2d

    drawn = plot_clusters_2d(model, X, ax=Figure().add_subplot())
    ellipses = [[*e.center, e.width, e.height, e.angle] for e in drawn["ellipses"]]
    legend = [float(t.get_text().split("(")[1].rstrip("%)")) for t in drawn["legend"].get_texts()[:-1]]
    return np.concatenate([np.ravel(ellipses), drawn["scatter"].get_facecolors().ravel(), legend])


def _answers(tmp_path):
    """Every public reader of a fitted model, each giving one array."""
    answers = {
        "score_samples": lambda m, X: m.score_samples(X),
        "predict_proba": lambda m, X: m.predict_proba(X),
        "predict": lambda m, X: m.predict(X),
        "score": lambda m, X: np.array(m.score(X)),
        "bic": lambda m, X: np.array(m.bic(X)),
        "aic": lambda m, X: np.array(m.aic(X)),
        "sample": lambda m, X: m.sample(50)[0],
        "summarize": lambda m, X: m.summarize(X[:100]).nk,
        "means_": lambda m, X: m.means_,
        "save": lambda m, X: _saved(m, tmp_path / "model.npz"),
        "to_sklearn": lambda m, X: _converted(m),
    }
    try:
        import matplotlib  # noqa: F401

        answers["plot_clusters_2d"] = _plotted
    except ImportError:
        pass
    return answers


@pytest.mark.filterwarnings("ignore::fastem.ConvergenceWarning")
def test_refit_while_predicting_gives_the_old_or_the_new_model(monkeypatch, tmp_path):
    """A thread that reads the model while another refits sees one fit per call, never a mixture.

    Every public reader is tried: the predictions, ``sample``, ``summarize``,
    ``save`` (the file's parameters and its record of the fit:
    ``lower_bound_``, ``n_iter_``, ``lower_bounds_``), ``to_sklearn`` and a
    plot. The data are streamed in chunks of 256 rows, so that one prediction
    spans several kernel calls, and the interpreter switches threads every 10
    microseconds, so that the reading thread runs in the middle of fits.
    """
    import fastem.data

    monkeypatch.setattr(fastem.data, "CHUNK_BYTES", 256 * 3 * 8)
    answers = _answers(tmp_path)
    params, X_old, X_new, X_test = _refit_job()
    expected = []
    for X in (X_old, X_new):
        reference = GaussianMixture(**params).fit(X)
        expected.append({name: f(reference, X_test) for name, f in answers.items()})
    for name in answers:
        assert not np.array_equal(expected[0][name], expected[1][name]), name

    model = GaussianMixture(**params).fit(X_old)
    stop = threading.Event()
    errors = []
    seen = {name: set() for name in answers}

    def refit():
        # at least 12 refits, and on until a reader has seen both models (on a
        # busy machine the reading thread may get no time slice during the first)
        try:
            for i in range(400):
                if i >= 12 and any(len(s) == 2 for s in seen.values()):
                    break
                model.fit(X_new if i % 2 == 0 else X_old)
        except BaseException as exc:
            errors.append(exc)
        finally:
            stop.set()

    def predict():
        try:
            while not stop.is_set():
                for name, f in answers.items():
                    got = f(model, X_test)
                    which = [k for k in (0, 1) if np.array_equal(got, expected[k][name])]
                    assert which, f"{name} matches neither the old nor the new model"
                    seen[name].add(which[0])
        except BaseException as exc:
            errors.append(exc)
            stop.set()

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        threads = [threading.Thread(target=refit), threading.Thread(target=predict)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    if errors:
        raise errors[0]
    assert any(len(s) == 2 for s in seen.values())  # the predictions did overlap refits


def _family_jobs():
    rng = np.random.default_rng(3)
    n = 40 * 256 + 11  # many partitions, and a last block that is not full
    centres = rng.normal(scale=4.0, size=(3, 3))
    gaussian = centres[rng.integers(3, size=n)] + rng.normal(size=(n, 3))
    counts = rng.poisson(rng.choice([1.0, 6.0, 20.0], size=(n, 1)), size=(n, 2)).astype(float)
    waits = rng.exponential(rng.choice([0.5, 4.0], size=(n, 1)), size=(n, 2))
    fixed = dict(max_iter=6, tol=0.0, random_state=0)
    jobs = [
        (GaussianMixture(3, covariance_type=ct, **fixed), gaussian.astype(dtype))
        for ct in ("full", "tied", "diag", "spherical")
        for dtype in (np.float64, np.float32)
    ]
    jobs.append((PoissonMixture(3, **fixed), counts))
    jobs.append((ExponentialMixture(2, **fixed), waits))
    return jobs


@pytest.mark.filterwarnings("ignore::fastem.ConvergenceWarning")
@pytest.mark.parametrize("job", range(len(_family_jobs())))
def test_one_thread_and_all_threads_give_bitwise_the_same_answers(monkeypatch, job):
    """Small data (below SERIAL_WORK) run on one thread: the same bits as all threads."""
    import fastem._threading

    monkeypatch.setattr(fastem._threading, "free_cores", lambda: None)
    model, X = _family_jobs()[job]
    weights = np.random.default_rng(1).uniform(0.5, 2.0, size=X.shape[0])
    answers = []
    for serial_work in (np.inf, 0):
        monkeypatch.setattr(fastem._threading, "SERIAL_WORK", serial_work)
        fitted = copy.deepcopy(model).fit(X, sample_weight=weights)
        outputs = [getattr(fitted, name) for name in fitted._parameter_names]
        outputs += [fitted.score_samples(X), fitted.predict_proba(X), fitted.predict(X),
                    np.array(fitted.lower_bounds_)]
        answers.append(outputs)
    for one_thread, all_threads in zip(*answers):
        assert_array_equal(one_thread, all_threads)


def _recording_threads(monkeypatch, name):
    """Wrap the skeleton of the fused E-step at ``name`` (module.attribute) to record each
    call's thread count: the calls through the kernel and through its ``bound`` form."""
    import importlib

    module_name, attribute = name.rsplit(".", 1)
    kernel = getattr(importlib.import_module(module_name), attribute)
    skeleton = kernel.skeleton
    seen = []

    def record(*args):
        seen.append(numba.get_num_threads())
        return skeleton(*args)

    monkeypatch.setattr(kernel, "skeleton", record)
    return seen


@pytest.mark.filterwarnings("ignore::fastem.ConvergenceWarning")
def test_small_data_run_on_the_calling_thread_alone(monkeypatch):
    """A fit of 1,000 points runs every pass on the calling thread: no team to wait for.

    (Its input checks run in NumPy: see test_validation.py.)
    """
    import fastem._threading

    monkeypatch.setattr(fastem._threading, "free_cores", lambda: None)
    parallel = _recording_threads(monkeypatch, "fastem.base.fused_e_step")
    serial = _recording_threads(monkeypatch, "fastem.base.fused_e_step_serial")
    X = np.random.default_rng(0).normal(size=(1_000, 2))
    model = GaussianMixture(4, max_iter=3, tol=0.0, random_state=0).fit(X)
    model.predict_proba(X)
    assert len(serial) >= 4  # the kernel without a parallel region
    assert not parallel
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS


@pytest.mark.filterwarnings("ignore::fastem.ConvergenceWarning")
def test_the_team_shrinks_to_the_free_cores(monkeypatch):
    import fastem._threading

    passes = _recording_threads(monkeypatch, "fastem.base.fused_e_step")
    X = np.random.default_rng(0).normal(size=(100_000, 2))
    for free, expected in ((None, numba.get_num_threads()), (1, 1), (64, numba.get_num_threads())):
        monkeypatch.setattr(fastem._threading, "free_cores", lambda: free)
        passes.clear()
        GaussianMixture(2, max_iter=2, tol=0.0, random_state=0).fit(X)
        assert set(passes) == {expected}


# The state of fastem._threading before its first reading of the load.
_FIRST_READING = {"time": -np.inf, "free": None, "others": None, "pid": None}


def test_free_cores_counts_other_processes_only(monkeypatch):
    """A first reading: the runnable tasks less this process's own running threads."""
    import fastem._threading as threading_

    cores = os.cpu_count()
    cases = (
        (1, 1, cores),
        (1 + cores, 1, 1),
        (1 + cores, 1 + cores, cores),
        (2, 2, cores),  # this thread and one worker still spinning: nobody else
        (3, 2, cores - 1),
        (1, 3, cores),  # threads that started between the two counts: never more than the cores
    )
    for runnable, own, expected in cases:
        monkeypatch.setattr(threading_, "_runnable_tasks", lambda: runnable)
        monkeypatch.setattr(threading_, "_own_running_threads", lambda: own)
        monkeypatch.setattr(threading_, "_load", _FIRST_READING.copy())
        assert threading_.free_cores() == max(1, expected)
    monkeypatch.setattr(threading_, "_runnable_tasks", lambda: None)
    monkeypatch.setattr(threading_, "_load", _FIRST_READING.copy())
    assert threading_.free_cores() is None


@pytest.mark.skipif(os.cpu_count() < 2, reason="one core is always the floor")
def test_free_cores_are_at_most_the_cpus_the_process_may_use(monkeypatch):
    """A process pinned to one CPU (``taskset``, a container's cpuset) of a quiet machine
    has one free core, not the machine's: its team and a second process see so."""
    import fastem._threading as threading_

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    monkeypatch.setattr(threading_, "_runnable_tasks", lambda: 1)
    monkeypatch.setattr(threading_, "_own_running_threads", lambda: 1)
    monkeypatch.setattr(threading_, "_load", _FIRST_READING.copy())
    assert threading_.usable_cpus() == 1
    assert threading_.free_cores() == 1


class _Clock:
    """A stand-in for the ``time`` module of fastem._threading: a wall clock set by hand."""

    def __init__(self):
        self.now = 100.0

    def monotonic(self):
        return self.now


@pytest.mark.skipif(os.cpu_count() < 2, reason="one core is always the floor")
def test_free_cores_counts_a_load_that_two_readings_in_a_row_see(monkeypatch):
    """A task runnable for an instant does not shrink the team; a load that stays does."""
    import fastem._threading as threading_

    cores = os.cpu_count()
    clock, runnable = _Clock(), {"tasks": 1}
    monkeypatch.setattr(threading_, "time", clock)
    monkeypatch.setattr(threading_, "_runnable_tasks", lambda: runnable["tasks"])
    monkeypatch.setattr(threading_, "_own_running_threads", lambda: 1)
    monkeypatch.setattr(threading_, "_load", _FIRST_READING.copy())
    steps = (
        # seconds since the last reading, runnable tasks (this thread included); free cores
        (0.0, 1, cores),
        (0.2, 2, cores),  # another task, for an instant
        (0.2, 2, cores - 1),  # it stays
        (0.05, 1, cores - 1),  # within _LOAD_INTERVAL: the last answer
        (0.2, 1, cores),  # it went
        (5.0, 2, cores - 1),  # long after the last reading: nothing to confirm against
        (0.2, 1 + cores, cores - 1),  # every core taken: seen as far as the last reading saw
        (0.2, 1 + cores, 1),
        (0.2, 1, cores),
        (1.0, 2, cores),  # a second after the last reading: still confirmed against it
        (0.2, 1, cores),
        (1.01, 2, cores - 1),  # just over a second: not
        (0.2, None, None),  # the load unknown
        (0.2, 2, cores - 1),  # nothing to confirm against
    )
    for seconds, tasks, expected in steps:
        clock.now += seconds
        runnable["tasks"] = tasks
        assert threading_.free_cores() == expected, (seconds, tasks)
    # A forked child does not confirm against its parent's reading, but does against its own.
    clock.now += 0.2
    threading_._load = dict(threading_._load, pid=-1, others=0)
    runnable["tasks"] = 2
    assert threading_.free_cores() == cores - 1
    clock.now += 0.2
    runnable["tasks"] = 1
    assert threading_.free_cores() == cores
    clock.now += 0.2
    runnable["tasks"] = 2
    assert threading_.free_cores() == cores


@pytest.mark.filterwarnings("ignore::fastem.ConvergenceWarning")
@pytest.mark.parametrize("reader", ["save", "to_sklearn", "plot_clusters_2d"])
def test_a_fit_publishes_its_parameters_and_its_record_together(monkeypatch, tmp_path, reader):
    """Another thread that reads the model while a refit commits sees the old fit whole.

    The refit is held at its last step (the ConvergenceWarning issued after
    every fitted attribute is set) while another thread reads the model:
    that thread must see every attribute of the old fit, parameters and
    record (``n_iter_``, ``lower_bound_``, ``lower_bounds_``) alike.
    """
    import fastem.base

    if reader == "plot_clusters_2d":
        pytest.importorskip("matplotlib")
    read = _answers(tmp_path)[reader]
    params, X_old, X_new, X_test = _refit_job()
    model = GaussianMixture(**params).fit(X_old)
    old = read(model, X_test)
    seen = []

    def warn(*args, **kwargs):
        reader_thread = threading.Thread(target=lambda: seen.append(read(model, X_test)))
        reader_thread.start()
        reader_thread.join()

    original = fastem.base.warn_at_caller
    monkeypatch.setattr(fastem.base, "warn_at_caller", warn)
    model.fit(X_new)
    monkeypatch.setattr(fastem.base, "warn_at_caller", original)
    assert seen, "the refit did not warn"
    np.testing.assert_array_equal(seen[0], old)
    assert not np.array_equal(read(model, X_test), old)


def test_concurrent_partial_fits_lose_no_batch():
    """Threads streaming batches into one model: each partial_fit starts from the state the
    previous one published, so every batch counts (none is overwritten by a concurrent step)."""
    rng = np.random.default_rng(3)
    batches = [np.concatenate([rng.normal(0, 1, (400, 3)), rng.normal(4, 1, (400, 3))])
               for _ in range(40)]
    model = GaussianMixture(2, random_state=0).partial_fit(batches[0])
    errors = []

    def stream(part):
        try:
            for X in part:
                model.partial_fit(X)
        except BaseException as exc:  # re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=stream, args=(batches[1 + i :: 3],)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]
    assert model.n_steps_ == len(batches) - 1


def test_partial_fit_of_an_unhashable_model():
    """A subclass with __eq__ and no __hash__ (a dataclass-style family) still streams."""

    class Comparable(GaussianMixture):
        def __eq__(self, other):
            return type(self) is type(other)

    X = np.random.default_rng(4).normal(size=(200, 2))
    a, b = Comparable(2, random_state=0), Comparable(2, random_state=0)
    assert a == b
    a.partial_fit(X)
    b.partial_fit(X).partial_fit(X)
    assert (a.n_steps_, b.n_steps_) == (0, 1)


def _statistics(stats):
    return np.concatenate([stats.nk, *(np.ravel(v) for v in stats.moments.values())])


def _readers(tmp_path, stats=None):
    """Every public reader of a fitted model, each giving one array: ``m_step`` of
    ``stats`` the parameters it sets."""

    def m_step(model, X):
        stepped = model.m_step(stats)
        return np.concatenate([np.ravel(getattr(stepped, name)) for name in model._parameter_names])

    def saved(model, X):
        model.save(tmp_path / "m.npz")
        return fastem.load(tmp_path / "m.npz").score_samples(X)

    readers = {
        "score_samples": lambda m, X: m.score_samples(X),
        "predict": lambda m, X: m.predict(X),
        "predict_proba": lambda m, X: m.predict_proba(X),
        "score": lambda m, X: np.array(m.score(X)),
        "sample": lambda m, X: m.sample(40)[0],
        "summarize": lambda m, X: _statistics(m.summarize(X)),
        "save": saved,
        "m_step": m_step,
    }
    return readers


def _changed_models():
    rng = np.random.default_rng(5)
    X = np.concatenate([rng.normal(0, 1, (500, 3)), rng.normal(4, 1, (500, 3))])
    fixed = dict(max_iter=5, tol=0.0, random_state=0)
    return {
        "full->diag": (GaussianMixture(2, **fixed), X, dict(covariance_type="diag")),
        "2->3 components": (GaussianMixture(2, **fixed), X, dict(n_components=3)),
        "full->missing": (GaussianMixture(2, **fixed), X, dict(missing="em")),
        "bayesian full->spherical": (fastem.BayesianGaussianMixture(n_components=2, **fixed), X,
                                     dict(covariance_type="spherical")),
        "exponential 2->3": (ExponentialMixture(2, **fixed), np.abs(X) + 0.1,
                             dict(n_components=3)),
        "poisson 2->3": (PoissonMixture(2, **fixed), np.round(np.abs(X)), dict(n_components=3)),
    }


@pytest.mark.filterwarnings("ignore::fastem.ConvergenceWarning")
@pytest.mark.parametrize("reader", list(_readers(Path("."))) + ["bic", "impute", "to_sklearn"])
@pytest.mark.parametrize("case", list(_changed_models()))
def test_set_params_during_a_call_changes_nothing_in_it(monkeypatch, tmp_path, reader, case):
    """A call that reads the model runs on the hyper-parameters of its start.

    Another thread calls ``set_params`` (another covariance type, another
    number of components) when the call reads its first fitted attribute:
    the call still answers as the model it started with, bitwise, instead
    of reading a 'full' model's matrices as 'diag' ones or two components'
    weights beside three components' draws; the change is made on the model.
    """
    model, X, change = _changed_models()[case]
    model.fit(X)
    readers = {**_readers(tmp_path, model.summarize(X)), "bic": lambda m, X: np.array(m.bic(X)),
               "impute": lambda m, X: m.impute(np.where(X > 3.5, np.nan, X)),
               "to_sklearn": lambda m, X: _converted(m)}
    read = readers[reader]
    if reader in ("bic", "to_sklearn", "impute") and not hasattr(model, reader):
        pytest.skip(f"{type(model).__name__} has no {reader}")
    expected = read(copy.deepcopy(model), X)
    current, fired = fastem._state.current, []

    def set_params_elsewhere(m):
        if not fired and fastem._state._pins():  # the first read inside the call
            fired.append(True)
            other = threading.Thread(target=model.set_params, kwargs=change)
            other.start()
            other.join()
        return current(m)

    monkeypatch.setattr(fastem._state, "current", set_params_elsewhere)
    got = read(model, X)
    monkeypatch.setattr(fastem._state, "current", current)
    assert fired
    assert model.get_params()[next(iter(change))] == next(iter(change.values()))
    assert_array_equal(got, expected)


@pytest.mark.filterwarnings("ignore::fastem.ConvergenceWarning")
@pytest.mark.parametrize("output", ["score_samples", "predict", "predict_proba"])
def test_a_lazy_dask_result_keeps_the_settings_of_its_call(output):
    """A Dask result computed (on the threaded scheduler) after ``set_params`` is the model's
    at the call, as it is after a refit."""
    da = pytest.importorskip("dask.array")
    model, X, change = _changed_models()["full->diag"]
    model.fit(X)
    expected = getattr(model, output)(X)
    lazy = getattr(model, output)(da.from_array(X, chunks=300))
    model.set_params(**change)
    assert_array_equal(lazy.compute(scheduler="threads"), expected)


class _Recording(GaussianMixture):
    """A subclass that records on itself each check of its parameters."""

    def _check_fitted_parameters(self, n_features):
        self.n_checks = getattr(self, "n_checks", 0) + 1
        return super()._check_fitted_parameters(n_features)


_RECORDED_CALLS = {
    "predict": lambda m, X, path: m.predict(X),
    "predict_proba": lambda m, X, path: m.predict_proba(X),
    "score": lambda m, X, path: m.score(X),
    "score_samples": lambda m, X, path: m.score_samples(X),
    "summarize": lambda m, X, path: m.summarize(X),
    "m_step": lambda m, X, path: m.m_step(m.summarize(X)),
    "sample": lambda m, X, path: m.sample(10),
    "bic": lambda m, X, path: m.bic(X),
    "aic": lambda m, X, path: m.aic(X),
    "save": lambda m, X, path: m.save(path),
    "to_sklearn": lambda m, X, path: m.to_sklearn(),
}


@pytest.mark.parametrize("call", list(_RECORDED_CALLS))
def test_what_a_subclass_records_during_a_call_stays_on_the_model(tmp_path, call):
    """The call runs on a copy of the model (for the settings of its start): what a
    subclass's method set on it, a count or a cache, was dropped with the copy."""
    X = np.random.default_rng(0).normal(size=(200, 2))
    model = _Recording(2, random_state=0).fit(X)
    vars(model).pop("n_checks", None)
    _RECORDED_CALLS[call](model, X, tmp_path / "m.npz")
    assert vars(model).get("n_checks", 0) >= 1
    model.weights_ = [0.5, 0.6]  # off the simplex: the check records, then raises
    before = model.n_checks
    with pytest.raises(ValueError, match="weights_"):
        _RECORDED_CALLS[call](model, X, tmp_path / "n.npz")
    assert model.n_checks == before + 1


class _SlottedRecording(GaussianMixture):
    """A subclass that records its checks in a slot, and keeps a slot it never sets."""

    __slots__ = ("n_checks", "unset")

    def _check_fitted_parameters(self, n_features):
        self.n_checks = getattr(self, "n_checks", 0) + 1
        return super()._check_fitted_parameters(n_features)


@pytest.mark.parametrize("call", list(_RECORDED_CALLS))
def test_a_subclass_with_slots_is_copied_and_keeps_what_it_records(tmp_path, call):
    """The copy a call runs on (and copy, pickle) of a subclass with __slots__ raised
    "unhashable type: 'dict'" in __setstate__; a slot the call set stays on the model."""
    X = np.random.default_rng(0).normal(size=(200, 2))
    model = _SlottedRecording(2, random_state=0).fit(X)
    model.n_checks = 0
    _RECORDED_CALLS[call](model, X, tmp_path / "m.npz")
    assert model.n_checks >= 1 and not hasattr(model, "unset")
    for twin in (copy.copy(model), pickle.loads(pickle.dumps(model))):
        assert twin.n_checks == model.n_checks and not hasattr(twin, "unset")
        assert_array_equal(twin.means_, model.means_)


_READING_PARENT_SCRIPT = r"""
import csv, os, threading
from fastem import _tables

limit = csv.field_size_limit()
reading, done = threading.Event(), threading.Event()


def read():
    with _tables._long_fields():
        reading.set()
        done.wait()


thread = threading.Thread(target=read)
thread.start()
reading.wait()
pid = os.fork()
if pid == 0:
    after_fork = csv.field_size_limit()
    with _tables._long_fields():
        pass
    os._exit(0 if after_fork == limit == csv.field_size_limit() else 1)
done.set()
thread.join()
_, status = os.waitpid(pid, 0)
print("child", os.waitstatus_to_exitcode(status), "parent", int(csv.field_size_limit() == limit))
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_gets_back_the_csv_limit_a_parent_thread_lifted(tmp_path):
    # a thread of the parent reading a CSV file had lifted the csv module's field limit as
    # another thread forked: the child, where that read never ends, kept the limit lifted
    # for good, for its own code and every later csv read of it
    last = _last_line_of_script(tmp_path, "reading.py", _READING_PARENT_SCRIPT)
    assert last == "child 0 parent 1"


def _warnings_of_a_fit_in_another_thread():
    """Fit, in a new thread, a model that warns (max_iter=1: a ConvergenceWarning), and
    predict with a model fitted on named columns from an array (a UserWarning)."""
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 2))
    named = GaussianMixture(2, random_state=0).fit(pd.DataFrame(X, columns=["a", "b"]))

    def work():
        GaussianMixture(3, max_iter=1, random_state=0).fit(X)
        named.predict(X)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


_OTHER_THREADS_WARNINGS = ("did not converge in max_iter=1 iterations",
                           "X does not have valid feature names")


@pytest.mark.parametrize("call", ["select_n_components", "plot_clusters_2d"])
def test_calls_that_keep_their_warnings_leave_other_threads_theirs(monkeypatch, call):
    # select_n_components kept each fit's warnings, and plot_clusters_2d dropped the names
    # warning of its own predict, with warnings.catch_warnings: a block of the process, not
    # of the thread, which took or dropped the warnings other threads gave meanwhile
    # (another thread's 300 fits said 5 of their 300 warnings beside select_n_components)
    # and restored, at its end, the filters of its start
    rng = np.random.default_rng(5)
    X = np.concatenate([rng.normal(size=(150, 2)), rng.normal(size=(150, 2)) + 5.0])
    calls = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if call == "select_n_components":
            def callback(model, n_iter, lower_bound):
                if not calls:
                    calls.append(n_iter)
                    _warnings_of_a_fit_in_another_thread()

            result = fastem.select_n_components(X, n_components=[1, 2],
                                                covariance_types=["diag"], callback=callback)
            kept = [str(w) for said in result.warnings.values() for w in said]
            assert not [w for w in kept if w.startswith(_OTHER_THREADS_WARNINGS)], kept
        else:
            from matplotlib.figure import Figure

            from fastem.plot import plot_clusters_2d

            model = GaussianMixture(2, random_state=0).fit(pd.DataFrame(X, columns=["u", "v"]))
            predict = GaussianMixture.predict

            def predict_while_another_thread_warns(self, *args, **kwargs):
                if not calls:  # the other thread predicts too
                    calls.append(1)
                    _warnings_of_a_fit_in_another_thread()
                return predict(self, *args, **kwargs)

            monkeypatch.setattr(GaussianMixture, "predict", predict_while_another_thread_warns)
            plot_clusters_2d(model, X, ax=Figure().add_subplot())
    assert calls
    said = [str(w.message) for w in caught]
    for text in _OTHER_THREADS_WARNINGS:
        assert sum(s.startswith(text) or text in s for s in said) == 1, said


def test_a_csv_read_by_numpy_leaves_other_threads_their_warnings(monkeypatch, tmp_path):
    # The CSV reader silenced loadtxt's warning of a file without rows with
    # warnings.catch_warnings, around every read of a file that pyarrow does not read:
    # another thread's UserWarnings were dropped meanwhile
    from fastem import _tables

    path = tmp_path / "points.csv"
    np.savetxt(path, np.random.default_rng(6).normal(size=(50, 2)), delimiter=",",
               header="a,b", comments="")
    monkeypatch.setattr(_tables, "_read_with_pyarrow", lambda layout: None)
    loadtxt, calls = np.loadtxt, []

    def loadtxt_while_another_thread_warns(*args, **kwargs):
        calls.append(1)
        _warnings_of_a_fit_in_another_thread()
        return loadtxt(*args, **kwargs)

    monkeypatch.setattr(np, "loadtxt", loadtxt_while_another_thread_warns)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert _tables.read_csv(path).data.shape == (50, 2)
    assert calls
    said = [str(w.message) for w in caught]
    for text in _OTHER_THREADS_WARNINGS:
        assert sum(text in s for s in said) == 1, said


def _wide_jobs():
    """Fits whose driver calls BLAS and LAPACK on sizes that OpenBLAS splits among threads."""
    rng = np.random.default_rng(11)
    mix = rng.normal(size=(160, 160))
    X = np.concatenate([rng.normal(size=(3000, 160)), rng.normal(size=(3000, 160)) + 1.0]) @ mix
    gappy = X[:, :64].copy()
    gappy[::7, 3] = np.nan
    fixed = dict(n_components=3, max_iter=3, tol=0.0, random_state=0)
    return [
        ("fit", GaussianMixture(covariance_type="full", **fixed), X[:, :64]),
        ("fit", GaussianMixture(covariance_type="tied", **fixed), X),
        ("fit", GaussianMixture(covariance_type="full", missing="em", **fixed), gappy),
        ("fit_predict", GaussianMixture(covariance_type="full", **fixed), X[:, :64]),
        ("fit", fastem.BayesianGaussianMixture(covariance_type="full", **fixed), X[:, :64]),
        ("partial_fit", GaussianMixture(covariance_type="full", **fixed), X[:, :64]),
    ]


@pytest.mark.filterwarnings("ignore::fastem.ConvergenceWarning")
@pytest.mark.parametrize("job", range(len(_wide_jobs())))
def test_a_fit_gives_the_same_bits_whatever_the_blas_threads_of_the_process(job):
    """A process pool (loky, as joblib and scikit-learn's n_jobs start it) gives each worker
    fewer BLAS threads than the parent: a fit of 64 features there differed from the same
    fit in the parent (cross_validate(n_jobs=2) scored other than serially). The driver's
    BLAS and LAPACK calls run on one thread, and the caller's limit is put back after."""
    import scipy.linalg  # noqa: F401  (its BLAS as well as NumPy's, limited below)
    from threadpoolctl import threadpool_info, threadpool_limits

    method, model, X = _wide_jobs()[job]
    answers = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            fitted = copy.deepcopy(model)
            getattr(fitted, method)(X)
            if method == "partial_fit":
                fitted.partial_fit(X[::-1])
            assert {lib["num_threads"] for lib in threadpool_info()
                    if lib["user_api"] == "blas"} == {threads}
        answers.append([getattr(fitted, name) for name in fitted._parameter_names]
                       + [fitted.predict_proba(X)])
    for one_thread, two_threads in zip(*answers):
        assert_array_equal(one_thread, two_threads)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("cls", [GaussianMixture, fastem.BayesianGaussianMixture])
def test_sample_draws_the_same_bits_whatever_the_blas_threads_of_the_process(cls, covariance_type):
    """The draws of a model of 64 features with a fixed random_state, under one and two BLAS
    threads: they differed by 1e-14 (the draws times the Cholesky factors, split by OpenBLAS)."""
    import scipy.linalg  # noqa: F401  (its BLAS as well as NumPy's, limited below)
    from threadpoolctl import threadpool_limits

    X = _wide_jobs()[0][2]
    model = cls(n_components=3, covariance_type=covariance_type, max_iter=3, tol=0.0,
                random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        model.fit(X)
    draws = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="blas"):
            draws.append(model.sample(2000))
    for one_thread, two_threads in zip(*draws):
        assert_array_equal(one_thread, two_threads)


@pytest.mark.parametrize("shared", ["RandomState", "None"])
@pytest.mark.parametrize("make", [
    # fitted from a seed: the global generator's state at this test depends on the tests
    # before it
    lambda X: GaussianMixture(3, covariance_type="full", random_state=0).fit(X),
    lambda X: GaussianMixture(3, covariance_type="diag", random_state=0).fit(X.astype(np.float32)),
    lambda X: fastem.BayesianGaussianMixture(n_components=3, random_state=0).fit(X),
    lambda X: ExponentialMixture(3, random_state=0).fit(np.abs(X)),
    lambda X: PoissonMixture(3, random_state=0).fit(np.round(np.abs(X))),
], ids=["full", "diag-float32", "bayesian", "exponential", "poisson"])
def test_threads_sampling_from_a_shared_generator_draw_what_serial_calls_draw(make, shared):
    """sample from one model in two threads whose random_state is a generator the calls
    share (a RandomState, or None: NumPy's global one): each call's draws are its own,
    those of the calls made one at a time in some order. They interleaved: in every run,
    each thread got points that neither serial call draws."""
    # three groups, which each fit reaches the peak of well within max_iter
    X = np.random.default_rng(0).normal(size=(3000, 3)) + 6.0 * np.repeat(np.eye(3), 1000, axis=0)
    model = make(X)
    n = 200_000

    def seeded():
        if shared == "None":
            np.random.seed(5)
            model.set_params(random_state=None)
        else:
            model.set_params(random_state=np.random.RandomState(5))

    seeded()
    serial = [model.sample(n)[0].tobytes(), model.sample(n)[0].tobytes()]
    for _ in range(3):
        seeded()
        drawn = [None, None]
        threads = [threading.Thread(target=lambda i=i: drawn.__setitem__(i, model.sample(n)[0]))
                   for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(d.tobytes() for d in drawn) == sorted(serial)


_SCIPY_BLAS_ON_USE = """
import sys
import numpy as np
import fastem
from threadpoolctl import threadpool_info
from fastem import _threading

def blas_threads():
    return sorted((lib["filepath"], lib["num_threads"]) for lib in threadpool_info()
                  if lib["user_api"] == "blas")

X = np.random.default_rng(0).normal(size=(500, 2))
fastem.GaussianMixture(2, random_state=0).fit(X)
print("scipy.linalg" in sys.modules)
before = {n for _, n in blas_threads()}
seen = []
if sys.argv[1] == "driver":  # the driver's scipy.linalg, imported inside the fit's limit
    with _threading.single_threaded_blas():
        _threading.scipy_linalg()
        seen = blas_threads()
else:  # a kernel whose np.dot calls SciPy's BLAS (from BLAS_MIN_FEATURES features on)
    _threading.launch(lambda view: seen.extend(blas_threads()), np.zeros((10, 40)))
print(len(seen), sorted({n for _, n in seen}), {n for _, n in blas_threads()} == before)
"""


@pytest.mark.parametrize("where", ["driver", "kernel"])
def test_scipy_blas_is_loaded_on_use_and_limited_there(where):
    """A fit that calls no SciPy imported scipy.linalg (0.1 s of a warm first fit) to find its
    BLAS: it is loaded where it is used, and limited to one thread there as NumPy's is,
    also when it is first loaded inside the limit; the caller's limits come back after.
    (A process that compiles kernels loads it with Numba's registries: the first run
    fills the kernel cache, the second is the one looked at.)"""
    for _ in range(2):
        done = subprocess.run([sys.executable, "-c", _SCIPY_BLAS_ON_USE, where],
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
    loaded, limited = done.stdout.strip().split("\n")
    assert loaded == "False"
    assert limited == "2 [1] True"  # NumPy's BLAS and SciPy's, on one thread, then put back


_SCIPY_BLAS_LOADED_WHILE_ANOTHER_THREAD_ENTERS = """
import json
import sys
import threading

from threadpoolctl import threadpool_info

from fastem import _threading


def blas_threads():
    return sorted(lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas")


importing, resume = threading.Event(), threading.Event()


class Stall:  # holds scipy.linalg's import after it is in sys.modules, before its BLAS
    def find_spec(self, name, path=None, target=None):
        if name == "scipy.linalg._fblas" and not resume.is_set():
            importing.set()
            resume.wait()


sys.meta_path.insert(0, Stall())
seen = []


def fit_that_loads_scipy():
    with _threading.single_threaded_blas():
        _threading.scipy_linalg()
        seen.append(blas_threads())


original = blas_threads()
with _threading.single_threaded_blas():
    thread = threading.Thread(target=fit_that_loads_scipy)
    thread.start()
    assert importing.wait(60), "scipy.linalg no longer imports scipy.linalg._fblas"
    with _threading.single_threaded_blas():  # another fit enters meanwhile
        pass
    resume.set()
    thread.join()
    seen.append(blas_threads())
with _threading.single_threaded_blas():  # a later limit
    seen.append(blas_threads())
print(json.dumps([original, seen, blas_threads()]))
"""


def test_scipy_blas_loaded_while_another_thread_enters_the_limit_is_limited(tmp_path):
    # a limit entered while another thread imported scipy.linalg looked for the libraries
    # before SciPy's BLAS was loaded and took them for those with it: SciPy's BLAS ran on
    # 2 threads in that limit and in every later limit of the process
    original, seen, after = json.loads(_last_line_of_script(
        tmp_path, "scipy_loaded_meanwhile.py", _SCIPY_BLAS_LOADED_WHILE_ANOTHER_THREAD_ENTERS,
        OPENBLAS_NUM_THREADS="2"))
    assert original == [2] and after == [2, 2]
    assert seen == [[1, 1]] * 3, seen


_FORK_WHILE_ANOTHER_THREAD_SETS_THE_LIMIT = _FORKED_CHILD_REPORTS + """


if __name__ == "__main__":
    original = blas_threads()
    limited, resume = threading.Event(), threading.Event()
    limit = _threading._limited_blas

    def slow_limit():  # the libraries are on one thread, the limit not yet recorded
        limiter = limit()
        limited.set()
        resume.wait(10)
        return limiter

    _threading._limited_blas = slow_limit

    def fit():
        with _threading.single_threaded_blas():
            pass

    thread = threading.Thread(target=fit)
    thread.start()
    limited.wait()
    threading.Timer(0.5, resume.set).start()
    (before, after), worker = forked_child()
    worker.join()
    thread.join()
    print(json.dumps([original, before, after, blas_threads()]))
"""


def test_a_child_forked_while_another_thread_sets_the_blas_limit_keeps_no_limit(tmp_path):
    # forked while another thread had set the limit and not yet recorded it, the child
    # kept its BLAS on one thread for good (1, 1 and 1 thread in the child)
    original, before, after, parent = json.loads(_last_line_of_script(
        tmp_path, "fork_while_limiting.py", _FORK_WHILE_ANOTHER_THREAD_SETS_THE_LIMIT,
        OPENBLAS_NUM_THREADS="2", timeout=300))
    assert original == before == after == parent and 1 not in original


def test_putting_back_the_blas_limit_puts_back_every_library_whatever_one_raises(monkeypatch):
    # the limiters were put back in a loop that an error (an interrupt at the end of a fit)
    # left: the others stayed at one thread, and the list held them for the next limit,
    # which then recorded one thread as the original
    restored = []

    class Limiter:
        def __init__(self, name, error=None):
            self.name, self.error = name, error

        def restore_original_limits(self):
            restored.append(self.name)
            if self.error is not None:
                raise self.error

    from fastem import _threading

    monkeypatch.setitem(_threading._blas, "limiters",
                        [Limiter("first"), Limiter("second", KeyboardInterrupt())])
    with pytest.raises(KeyboardInterrupt):
        _threading._restore_blas_limits()
    assert restored == ["second", "first"] and _threading._blas["limiters"] == []
