"""Fits are bitwise the same whatever the number of threads, serial or parallel,
and whether the kernels were compiled in the process or loaded from the disk cache.

The data are split into partitions whose number depends on the data size only,
and the per-partition accumulators are reduced in partition order, so one and
two Numba threads, and the one-thread team of small data, must give
identical parameters. Each fit runs in its own process because the thread count is
fixed when Numba starts, and so that the first process of an empty cache
directory compiles the kernels and the next one loads them.
"""

import os
import subprocess
import sys

import pytest

from fastem._config import BLAS_MIN_FEATURES, BLOCK_SIZE

_FIT = """
import sys
import numpy as np
import fastem._threading
from fastem import GaussianMixture

covariance_type, dtype, n_features = sys.argv[1], sys.argv[2], int(sys.argv[4])
missing = float(sys.argv[5])  # fraction of entries set to NaN, fitted with missing="em"
fastem._threading.SERIAL_WORK = float(sys.argv[3])  # inf: every pass on one thread
fastem._threading.free_cores = lambda: None  # all threads, however busy the machine is
rng = np.random.default_rng(0)
n_samples = 40 * {block} + 11
centres = rng.normal(scale=4.0, size=(3, n_features))
X = centres[rng.integers(3, size=n_samples)] + rng.normal(size=(n_samples, n_features))
X = X.astype(dtype)
holes = rng.uniform(size=X.shape) < missing
holes[holes.all(axis=1), 0] = False  # every row keeps an observed entry
X[holes] = np.nan
weights = rng.uniform(0.5, 2.0, size=n_samples)
model = GaussianMixture(3, covariance_type=covariance_type, max_iter=15, tol=0, random_state=7,
                        missing="em" if missing else "error")
import warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model.fit(X, sample_weight=weights)
out = [model.weights_, model.means_, model.covariances_, model.precisions_cholesky_,
       np.array([model.lower_bound_])]
sys.stdout.write("".join(np.ascontiguousarray(a).tobytes().hex() for a in out))
""".format(block=BLOCK_SIZE)


def _fit_in_subprocess(n_threads, covariance_type, dtype, n_features, serial_work=0, missing=0.0,
                       cache_dir=None):
    env = dict(os.environ, NUMBA_NUM_THREADS=str(n_threads))
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run(
        [sys.executable, "-c", _FIT, covariance_type, dtype, str(serial_work), str(n_features),
         str(missing)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize("dtype", ["float64", "float32"])
# From TILE_MIN_FEATURES features on, 'full' runs the register-tiled micro-kernels;
# from BLAS_MIN_FEATURES on, 'tied' calls BLAS in every partition.
@pytest.mark.parametrize(
    "covariance_type, n_features",
    [("full", 3), ("diag", 3), ("full", BLAS_MIN_FEATURES + 1), ("tied", BLAS_MIN_FEATURES + 1)],
)
def test_one_and_two_threads_and_the_small_data_team_give_identical_fits(
    covariance_type, n_features, dtype
):
    one = _fit_in_subprocess(1, covariance_type, dtype, n_features)
    two = _fit_in_subprocess(2, covariance_type, dtype, n_features)
    small = _fit_in_subprocess(2, covariance_type, dtype, n_features, serial_work="inf")
    assert len(one) > 0
    assert one == two
    assert small == one


# Numba links a copy of every function a kernel calls, its parallel region
# included, into the kernel, and a kernel compiled in the process used to run
# the callees' first copies instead (fastem/kernels/_codegen.py): 'full' and
# 'diag' fits differed in the last bits between the process that compiled the
# kernels and the next one. Both dtypes, the register tiles (13 features) and
# the missing-value kernels.
@pytest.mark.parametrize(
    "covariance_type, dtype, n_features, missing",
    [
        ("full", "float64", 3, 0.0),
        ("diag", "float32", 3, 0.0),
        ("full", "float64", 13, 0.0),
        ("full", "float64", 3, 0.2),
        ("spherical", "float32", 3, 0.2),
    ],
)
def test_compiled_and_cached_kernels_give_identical_fits(
    covariance_type, dtype, n_features, missing, tmp_path
):
    compiled = _fit_in_subprocess(1, covariance_type, dtype, n_features, missing=missing,
                                  cache_dir=tmp_path)
    assert any(tmp_path.rglob("*.nbc")), "the first process did not fill the cache"
    cached = _fit_in_subprocess(1, covariance_type, dtype, n_features, missing=missing,
                                cache_dir=tmp_path)
    assert len(compiled) > 0
    assert compiled == cached


def test_partition_count_depends_on_sizes_only():
    from fastem.base import n_partitions_for

    assert n_partitions_for(40 * BLOCK_SIZE + 11, 20) == 41
    assert n_partitions_for(10**9, 20) == 64
    assert n_partitions_for(1, 20) == 1
    # Bounded reduction memory: 64 MiB of float64 accumulators at most.
    assert n_partitions_for(10**9, 2**20) == 8
    assert n_partitions_for(10**9, 2**24) == 1
