"""Fits in concurrent Python threads give bitwise the results of sequential fits.

Under Numba's 'workqueue' threading layer, concurrent parallel launches abort
the process unless fastem serialises them (fastem/_threading.py); that case runs
in a subprocess so that a failure is an exit code, not a crashed test session.
"""

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastem import GaussianMixture

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
