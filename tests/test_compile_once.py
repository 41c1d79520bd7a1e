"""Each compiled function of fastem compiles once per dtype, whatever the flags of the arrays.

Numba types an array by its dtype, its number of dimensions, its layout
(C-contiguous or any strides) and whether it is read-only, and compiles a
function again for every combination it meets. A fitted model's parameters
are read-only (frozen in its state), those a fit has just computed are not,
and users pass read-only data, weights and initial parameters (memory maps,
``np.load``, arrays shared between threads): each difference that reached a
kernel would compile it twice, seconds on a cold cache. The calls below run
in a fresh process, so that the signatures seen are those of the public API
alone; every pair of signatures of one function that they reach must differ
in more than the layout and the read-only flag of its arrays.
"""

import subprocess
import sys
from pathlib import Path

_WORKLOAD = r"""
import gc, os, tempfile, warnings
import numpy as np
from numba.core import types
from numba.core.registry import CPUDispatcher
import fastem

warnings.simplefilter("ignore")


def frozen(a):
    a = np.array(a)
    a.flags.writeable = False
    return a


rng = np.random.default_rng(0)
X = rng.normal(size=(400, 2))
X[:200] += 5.0
weights = rng.uniform(0.5, 2.0, len(X))
with_nan = X.copy()
with_nan[::7, 0] = np.nan
large = np.repeat(X, 50, axis=0)  # enough rows for the parallel E-step
for data in (X, frozen(X)):
    for covariance_type in ("full", "tied", "diag", "spherical"):
        model = fastem.GaussianMixture(2, covariance_type=covariance_type, random_state=0)
        model.fit(data)
        model.predict(data)
        model.score_samples(frozen(data))
        model.fit(data, sample_weight=frozen(weights))
        model.fit(data.astype(np.float32))
        fastem.GaussianMixture(
            2, covariance_type=covariance_type, random_state=0, max_iter=2
        ).fit(large)
        fastem.GaussianMixture(
            2, covariance_type=covariance_type, random_state=0, warm_start=True,
            means_init=frozen([[0.0, 0.0], [5.0, 5.0]]), weights_init=frozen([0.5, 0.5]),
        ).fit(data).fit(data)
        online = fastem.GaussianMixture(2, covariance_type=covariance_type, random_state=0)
        online.partial_fit(data)
        online.partial_fit(frozen(data))
        missing = fastem.GaussianMixture(
            2, covariance_type=covariance_type, random_state=0, missing="em"
        ).fit(with_nan)
        missing.predict(frozen(with_nan))
        missing.impute(frozen(with_nan), draw=True, random_state=0)
        missing.impute(with_nan)
        missing_32 = fastem.GaussianMixture(
            2, covariance_type=covariance_type, random_state=0, missing="em"
        ).fit(with_nan.astype(np.float32))
        missing_32.impute(with_nan, draw=True, random_state=0)
        missing_32.impute(with_nan)
        missing_32.summarize(with_nan)
        missing_32.partial_fit(with_nan)
        missing.m_step(missing.summarize(frozen(data), sample_weight=frozen(weights)))
        fastem.GaussianMixture(
            2, covariance_type=covariance_type, random_state=0,
            precisions_init=frozen(model.precisions_), means_init=frozen(model.means_),
        ).fit(data)
        with tempfile.TemporaryDirectory() as directory:
            path = os.path.join(directory, "model.npz")
            fastem.io.save(missing, path)
            fastem.load(path).predict(data)
        fastem.BayesianGaussianMixture(
            n_components=3, covariance_type=covariance_type, random_state=0, max_iter=5
        ).fit(data)
    for family, values in (
        (fastem.ExponentialMixture, np.abs(data) + 0.1),
        (fastem.PoissonMixture, np.floor(np.abs(data) * 3)),
    ):
        family(2, random_state=0).fit(values).predict(frozen(values))
        values = values.copy()
        values[::7, 0] = np.nan
        for dtype in (np.float64, np.float32):
            model = family(2, random_state=0, missing="em").fit(values.astype(dtype))
            model.impute(values, draw=True, random_state=0)
            model.summarize(frozen(values))
    fastem.select_n_components(data[:200], range(1, 3), n_init=2, random_state=0)


def writable(t):
    if isinstance(t, types.Array):
        return types.Array(t.dtype, t.ndim, "A", readonly=False, aligned=True)
    if isinstance(t, types.BaseTuple):
        members = [writable(u) for u in t]
        return types.BaseTuple.from_types(members, getattr(t, "instance_class", tuple))
    return t


for obj in gc.get_objects():
    if isinstance(obj, CPUDispatcher) and obj.py_func.__module__.startswith("fastem"):
        seen = {}
        for signature in obj.overloads:
            seen.setdefault(tuple(writable(t) for t in signature), []).append(signature)
        for same in seen.values():
            if len(same) > 1:
                print(f"{obj.py_func.__module__}.{obj.py_func.__qualname__}: {same}")
"""


def test_no_function_compiles_twice_for_the_flags_of_its_arrays():
    run = subprocess.run(
        [sys.executable, "-c", _WORKLOAD], capture_output=True, text=True, timeout=3000,
        cwd=Path(__file__).resolve().parents[1],  # "-c" imports fastem from here first
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout == "", "compiled again for read-only or strided arrays:\n" + run.stdout
