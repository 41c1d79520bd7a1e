"""The register-blocked micro-kernels of the 'full' Gaussian blocks against NumPy."""

import os
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastem._config import BLOCK_SIZE
from fastem.kernels._codegen import register_bytes
from fastem.kernels._memory import _STATE_LEN
from fastem.kernels._tiles import (
    mahalanobis_block,
    regress_components,
    regression_lanes,
    scatter_block,
    tile_points,
)


def _prefetch_handle():
    """A prefetch handle aimed at nothing (no lines are ever issued)."""
    return np.zeros((1, 1)), np.zeros(_STATE_LEN, dtype=np.int64)


def _upper_factor(n_features, rng):
    A = rng.normal(size=(n_features, n_features + 3))
    covariance = A @ A.T / (n_features + 3) + 0.1 * np.eye(n_features)
    return np.ascontiguousarray(np.linalg.cholesky(np.linalg.inv(covariance)).T)  # upper


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
# 8, 16 and 64: whole panels of 4 or 8 columns (the tile's, by register
# width); 9, 13 and 15: a last panel that overlaps the one before it; n: one
# point, a partial tile, one tile and one more point (tiles of 8, 16 or 32
# points: two vectors of the registers' width), a partial last tile and a
# whole block.
@pytest.mark.parametrize("n_features", [8, 9, 13, 15, 16, 64])
@pytest.mark.parametrize("n", [1, 7, 8, 9, 16, 17, 32, 33, BLOCK_SIZE - 3, BLOCK_SIZE])
def test_mahalanobis_block_matches_numpy(dtype, n_features, n):
    rng = np.random.default_rng(n_features * 1000 + n)
    X = rng.normal(loc=5.0, size=(BLOCK_SIZE, n_features))
    mean = 5.0 + 0.3 * rng.normal(size=n_features)
    factor = _upper_factor(n_features, rng)
    xt = np.ascontiguousarray(X.T, dtype=dtype)
    # Columns past n hold leftovers of an earlier block, finite but arbitrary.
    xt[:, n:] = rng.normal(scale=1e3, size=(n_features, BLOCK_SIZE - n))
    assert tile_points(xt) == 2 * register_bytes() // xt.itemsize
    out = np.full(BLOCK_SIZE, np.nan, dtype=dtype)
    log_norm = -1.5
    mahalanobis_block(
        xt, n, mean.astype(dtype), factor.astype(dtype), dtype(log_norm), out, _prefetch_handle()
    )

    d = xt[:, :n].astype(np.float64) - mean.astype(dtype).astype(np.float64)[:, None]
    expected = log_norm - 0.5 * np.sum((factor.astype(dtype).astype(np.float64).T @ d) ** 2, axis=0)
    if dtype == np.float64:
        assert_allclose(out[:n], expected, rtol=1e-12)
    else:
        assert_allclose(out[:n], expected, rtol=0, atol=2e-6 * np.abs(expected).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("row_dtype", [np.float64, np.float32])
@pytest.mark.parametrize("out_dtype", [np.float64, np.float32])
# An even and an odd number of features (the odd one's last term goes to
# the even accumulator), and a vector of lanes full or holding 1 or 3 components.
@pytest.mark.parametrize("n_features", [1, 6, 9])
@pytest.mark.parametrize("count", [1, 3, "all"])
def test_regress_components_matches_numpy(dtype, row_dtype, out_dtype, n_features, count):
    """The vector fill of one missing coordinate under ``count`` components, its deviation
    from their means: ``-coefficients . (row - lane_means)``, a NaN in the row as 0."""
    lanes = regression_lanes()
    count = lanes if count == "all" else count
    rng = np.random.default_rng(n_features * 10 + count)
    width, i, r0, g0, stride, o0 = 16, 5, 3, 2, 7, 2
    c = n_features // 2
    coefficients = rng.normal(size=r0 + n_features * lanes + 4).astype(dtype)
    lane_means = rng.normal(scale=2.0, size=g0 + n_features * lanes + 3).astype(dtype)
    block = rng.normal(loc=1.0, scale=3.0, size=(n_features, width)).astype(row_dtype)
    block[c, i] = np.nan
    out = np.full(o0 + lanes * stride + 1, -7.0, dtype=out_dtype)
    regress_components(coefficients, r0, lane_means, g0, block.reshape(-1), i, width, n_features,
                       out, o0, stride, count)

    u = coefficients[r0 : r0 + n_features * lanes].astype(np.float64).reshape(n_features, lanes)
    m = lane_means[g0 : g0 + n_features * lanes].astype(np.float64).reshape(n_features, lanes)
    x = np.nan_to_num(block[:, i].astype(np.float64))
    expected = -np.sum(u * (x[:, None] - m), axis=0)
    written = o0 + stride * np.arange(lanes)
    tolerance = 1e-13 if out_dtype == np.float64 else 1e-6
    assert_allclose(out[written[:count]], expected[:count], rtol=tolerance, atol=tolerance)
    untouched = np.ones(out.shape, dtype=bool)
    untouched[written[:count]] = False
    assert (out[untouched] == -7.0).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_block_holds_whole_tiles(dtype):
    # mahalanobis_block reads the columns up to n rounded up to a whole tile.
    assert BLOCK_SIZE % tile_points(np.zeros((8, BLOCK_SIZE), dtype=dtype)) == 0


def test_the_tiles_of_256_bit_registers_match_numpy_on_a_512_bit_cpu(tmp_path):
    # A CPU runs the tiles of its own width only; where it has AVX-512, the
    # tiles of 256-bit registers (8 points, 4 columns in float64) are run
    # here too, in a process compiling for 256-bit vectors.
    if register_bytes() != 64:
        pytest.skip("the CPU has no AVX-512: its tiles are the 256-bit ones, tested above")
    import fastem

    root = os.path.dirname(os.path.dirname(os.path.abspath(fastem.__file__)))
    # The child must run this fastem (not another one installed) at 256 bits.
    child = (
        "import sys, fastem, pytest\n"
        "from fastem.kernels._codegen import register_bytes\n"
        f"assert fastem.__file__ == {fastem.__file__!r}, fastem.__file__\n"
        "assert register_bytes() == 32, register_bytes()\n"
        f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', {__file__!r}, "
        "'-k', 'mahalanobis_block_matches_numpy or whole_tiles']))\n"
    )
    env = dict(os.environ, FASTEM_VECTOR_WIDTH="256", NUMBA_CACHE_DIR=str(tmp_path),
               PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", child], env=env, capture_output=True,
                            text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert " passed" in result.stdout and "skipped" not in result.stdout


@pytest.mark.parametrize("n_features", [3, 4, 5, 7, 11, 64])
@pytest.mark.parametrize("n", [1, 3, 5, BLOCK_SIZE - 1, BLOCK_SIZE])
def test_scatter_block_matches_numpy(n_features, n):
    rng = np.random.default_rng(n_features * 1000 + n)
    rd = rng.normal(size=(n_features, BLOCK_SIZE))
    d = rng.normal(size=(n_features, BLOCK_SIZE))
    # Columns from n on are not read.
    rd[:, n:] = np.nan
    d[:, n:] = np.nan
    square = np.full((n_features, n_features), np.nan)
    scatter_block(rd, d, n, square, _prefetch_handle())
    expected = rd[:, :n] @ d[:, :n].T
    lower = np.tril_indices(n_features)
    assert_allclose(square[lower], expected[lower], rtol=1e-12, atol=1e-12)


def test_full_log_density_ignores_what_lies_below_the_factors_diagonal():
    from fastem import GaussianMixture

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    model = GaussianMixture(2, covariance_type="full", max_iter=5, tol=0, random_state=0)
    with pytest.warns(Warning):
        model.fit(X)
    clean = model.score_samples(X)
    factors = model.precisions_cholesky_.copy()
    below = np.tril_indices(6, -1)
    for factor in factors:
        factor[below] = rng.normal(size=len(below[0]))
    # set past the check of assigned parameters, which refuses such factors (as load does)
    model._set_parameters({**{name: getattr(model, name) for name in model._parameter_names},
                           "precisions_cholesky_": factors})
    assert_allclose(model.score_samples(X), clean, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_full_component_at_many_features_matches_scipy(dtype):
    from scipy.stats import multivariate_normal

    from fastem import GaussianMixture

    rng = np.random.default_rng(1)
    n_features = 13
    A = rng.normal(size=(n_features, n_features))
    X = rng.normal(size=(2 * BLOCK_SIZE + 5, n_features)) @ A + 10.0
    model = GaussianMixture(1, covariance_type="full").fit(X.astype(dtype))
    expected = multivariate_normal(model.means_[0], model.covariances_[0]).logpdf(X.astype(dtype))
    tol = 1e-10 if dtype == np.float64 else 2e-5
    assert_allclose(model.score_samples(X.astype(dtype)), expected, rtol=tol)
    summary = model.summarize(X.astype(dtype))
    centred = X.astype(dtype).astype(np.float64) - model.means_[0]
    assert_allclose(np.tril(summary.moments["sxx"][0]), np.tril(centred.T @ centred), rtol=tol)
