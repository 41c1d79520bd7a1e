"""The M-step's small linear algebra (fastem.kernels.linalg) against NumPy/SciPy."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import linalg

from fastem.families.gaussian import _GaussianComponents
from fastem.kernels.linalg import (
    centring_terms,
    covariances_from_precision_cholesky,
    diagonal_moments,
    full_covariances,
    precision_cholesky_upper,
)
from fastem.stats import SufficientStatistics


def _covariances(n_features, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(3, n_features, n_features + 2)) * rng.uniform(0.1, 10, n_features)[:, None]
    return A @ A.transpose(0, 2, 1)


@pytest.mark.parametrize("n_features", [1, 2, 5, 16, 40])
def test_precision_factors_and_back(n_features):
    covariances = _covariances(n_features, n_features)
    factors = np.zeros(covariances.shape)
    failed = precision_cholesky_upper(covariances, factors, np.empty((n_features, n_features)))
    assert failed == -1
    assert_allclose(np.triu(factors), factors, rtol=0, atol=0)  # upper triangular
    for c, u in zip(covariances, factors):
        assert_allclose(u @ u.T @ c, np.eye(n_features), atol=1e-9)
    back = np.full(factors.shape, np.nan)
    covariances_from_precision_cholesky(factors, back, np.full((n_features, n_features), 7.0))
    reference = np.stack([v.T @ v for v in (linalg.solve_triangular(u, np.eye(n_features))
                                            for u in factors)])
    assert_allclose(back, reference, rtol=1e-12, atol=1e-12 * np.abs(reference).max())
    assert_allclose(back, covariances, rtol=1e-9, atol=1e-9 * np.abs(covariances).max())
    assert np.array_equal(back, back.transpose(0, 2, 1))  # exactly symmetric


def test_a_singular_factor_gives_non_finite_values_not_an_error():
    out = np.empty((1, 2, 2))
    covariances_from_precision_cholesky(np.array([[[1.0, 2.0], [0.0, 0.0]]]), out, np.empty((2, 2)))
    assert out[0, 0, 0] == 1.0 and not np.isfinite(out[0, 1, 1])


@pytest.mark.parametrize(
    "covariances_shape, inverse_shape, wrong",
    [((2, 3, 3), (3, 3), "covariances"), ((3, 3, 3), (2, 3), "inverse"), ((3, 3, 3), (4, 4), "inverse")],
)
def test_covariances_from_factors_refuse_arrays_of_other_shapes(covariances_shape, inverse_shape, wrong):
    # The caller allocates the result and the scratch; arrays of other shapes would be
    # written and read past their ends.
    factors = np.stack([np.eye(3)] * 3)
    with pytest.raises(ValueError, match=wrong):
        covariances_from_precision_cholesky(factors, np.empty(covariances_shape), np.empty(inverse_shape))


def test_not_positive_definite_is_reported():
    covariances = _covariances(3, 0)
    covariances[1] = -np.eye(3)
    assert precision_cholesky_upper(covariances, np.zeros(covariances.shape), np.empty((3, 3))) == 1



def test_a_matrix_singular_within_rounding_is_reported():
    """The covariance of collinear points is singular; its rounding can leave the last
    pivot a tiny positive number (1.7e-18 against a diagonal of 1), whose inverse square
    root was taken for a precision of 7.6e8 where it is one of rounding noise."""
    t = np.random.default_rng(0).normal(size=50)
    X = np.c_[t, 0.1 * t + 0.3]
    covariance = np.cov(X.T, bias=True)[None]
    assert np.linalg.cholesky(covariance[0])[1, 1] > 0  # LAPACK's takes it as it rounds
    assert precision_cholesky_upper(covariance, np.zeros((1, 2, 2)), np.empty((2, 2))) == 0


def test_precision_factors_overwrite_what_the_output_held():
    """The caller's ``factors`` may hold anything: its lower triangles are written as zeros."""
    covariances = _covariances(4, 1)
    factors = np.full(covariances.shape, 7.0)
    assert precision_cholesky_upper(covariances, factors, np.full((4, 4), 7.0)) == -1
    expected = np.zeros(covariances.shape)
    precision_cholesky_upper(covariances, expected, np.empty((4, 4)))
    assert np.array_equal(factors, expected) and np.array_equal(np.triu(factors), factors)


@pytest.mark.parametrize(
    "factors_shape, lower_shape, name",
    [((3, 4, 4), (1, 1), "lower"), ((3, 4, 4), (4, 5), "lower"), ((1, 4, 4), (4, 4), "factors"),
     ((3, 2, 2), (4, 4), "factors"), ((3, 4, 5), (4, 4), "factors")],
)
def test_precision_factors_refuse_arrays_of_other_shapes(factors_shape, lower_shape, name):
    """Arrays the caller allocates of another shape than the covariances' are refused,
    not written or read past their ends."""
    covariances = _covariances(4, 2)
    with pytest.raises(ValueError, match=f"{name} must"):
        precision_cholesky_upper(covariances, np.zeros(factors_shape), np.zeros(lower_shape))

# ----------------------------------------------------------------------
# The M-step's moments against the NumPy array expressions they replace,
# bitwise: every operation of the compiled functions is NumPy's, in the same order.

def _lower(a, diagonal=True):
    return np.tril(a) if diagonal else np.tril(a, -1)


def _numpy_tied_scatter(sxx, pairs, means):
    scatter = _lower(sxx) + _lower(sxx, diagonal=False).T
    q = np.triu(pairs, 1)
    k, l = np.nonzero(q)
    if len(k):
        diff = means[k] - means[l]
        scatter = scatter + np.einsum("p,pi,pj->ij", q[k, l], diff, diff)
    return scatter


@np.errstate(all="ignore")  # 0 / 0 and overflows, as in the compiled functions
def _numpy_moments(covariance_type, nk, sx, sxx, shift, reg, pairs=None):
    divisor = np.where(nk > 0, nk, 1.0)
    delta = sx / divisor[:, None]
    means = shift + delta
    n_features = shift.shape[1]
    if covariance_type in ("full", "tied"):
        if covariance_type == "tied":
            sxx = _numpy_tied_scatter(sxx, pairs, shift)
        else:
            sxx = _lower(sxx) + np.swapaxes(_lower(sxx, diagonal=False), -1, -2)
        centred = (
            delta[:, :, None] * sx[:, None, :] * -1.0
            - sx[:, :, None] * delta[:, None, :]
            + np.einsum("k,ki,kj->kij", nk, delta, delta)
        )
        if covariance_type == "full":
            return means, (sxx + centred) / divisor[:, None, None] + reg * np.eye(n_features)
        return means, (sxx + centred.sum(axis=0)) / nk.sum() + reg * np.eye(n_features)
    diag = (sxx - 2 * delta * sx + nk[:, None] * delta**2) / divisor[:, None] + reg
    return means, diag if covariance_type == "diag" else diag.mean(axis=1)


_SPECIAL = np.array([np.nan, np.inf, -np.inf, 1e308, -1e308, 5e-324, 0.0, -0.0])


def _statistics(n_components, n_features, seed):
    """Summed statistics of every sign and scale: an empty component, negative and NaN
    masses, subnormal, huge, infinite and NaN entries, negative zeros, and pair weights
    that are 0, negative or NaN."""
    rng = np.random.default_rng(seed)
    scale = np.exp(rng.normal(size=n_features) * 4)
    nk = rng.uniform(0, 50, n_components)
    sx = rng.normal(size=(n_components, n_features)) * scale * nk[:, None]
    sxx = rng.normal(size=(n_components, n_features, n_features)) * np.outer(scale, scale)
    shift = rng.normal(size=(n_components, n_features)) * scale
    pairs = rng.uniform(-1, 5, (n_components, n_components)) * (rng.random((n_components,) * 2) < 0.7)
    nk[0] = 0.0
    sx[0] = -0.0
    sxx[..., 0, 0] = -0.0
    if seed % 2:  # the rest of the time, only finite numbers
        for a in (nk, sx, sxx, shift, pairs):
            flat = a.reshape(-1)
            where = rng.random(flat.size) < 0.15
            flat[where] = rng.choice(_SPECIAL, where.sum())
        nk[-1] = -nk[-1]
    return nk, sx, sxx, shift, pairs


def _bitwise(actual, expected):
    assert actual.shape == expected.shape
    same = actual.view(np.int64) == expected.view(np.int64)
    assert np.all(same | (np.isnan(actual) & np.isnan(expected)))  # -0.0 and inf too


class _Model(_GaussianComponents):
    """The hyper-parameters ``_weighted_moments`` reads."""

    def __init__(self, covariance_type, reg_covar):
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar


@pytest.mark.parametrize("reg", [0.0, -0.0, 1e-6, 0.3, np.inf])
@pytest.mark.parametrize(
    "n_components, n_features", [(1, 1), (3, 2), (9, 1), (9, 5), (30, 1), (30, 17)]
)
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_moments_are_bitwise_those_of_the_numpy_expressions(
    covariance_type, n_components, n_features, reg
):
    for seed in range(6):
        nk, sx, sxx, shift, pairs = _statistics(n_components, n_features, seed)
        moments = {"sx": sx, "sxx": sxx}
        if covariance_type == "tied":
            moments = {"sx": sx, "sxx": sxx[0], "pairs": pairs}
        elif covariance_type in ("diag", "spherical"):
            moments["sxx"] = np.ascontiguousarray(np.diagonal(sxx, axis1=1, axis2=2))
        stats = SufficientStatistics(1.0, 0.0, nk, moments, {"shift": shift})
        with np.errstate(all="ignore"):
            got_nk, means, covariances = _Model(covariance_type, reg)._weighted_moments(stats)
        expected = _numpy_moments(covariance_type, nk, sx, moments["sxx"], shift, reg, pairs)
        _bitwise(got_nk, nk)
        _bitwise(means, expected[0])
        _bitwise(covariances, expected[1])


def test_the_compiled_moments_write_only_their_outputs():
    nk, sx, sxx, shift, _ = _statistics(4, 3, 0)
    inputs = [a.copy() for a in (nk, sx, sxx, shift)]
    means, terms = np.empty(sx.shape), np.empty(sxx.shape)
    centring_terms(nk, sx, shift, means, terms)
    full_covariances(nk, sxx, 0.1, terms)
    diagonal_moments(nk, sx, sx * 0, shift, 0.1, means, np.empty(sx.shape))
    for before, after in zip(inputs, (nk, sx, sxx, shift)):
        _bitwise(after, before)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_moments_round_subnormal_products_as_numpy_does(covariance_type):
    # delta * sx = 6.8e-324, between the two smallest subnormals: 2 (delta sx) and
    # (2 delta) sx round differently; so do nk (delta delta) and (nk delta) delta.
    nk = np.array([1.0, 3.0, 1e-318])
    sx = np.array([[2.6e-162, 1.0], [3.0 * 2.6e-162, -1e-170], [1e-10, 2.0]])
    sxx = np.ones((3, 2, 2))
    shift = np.zeros((3, 2))
    moments = {"sx": sx, "sxx": sxx}
    if covariance_type == "diag":
        moments["sxx"] = np.ones((3, 2))
    stats = SufficientStatistics(1.0, 0.0, nk, moments, {"shift": shift})
    with np.errstate(all="ignore"):
        _, means, covariances = _Model(covariance_type, 0.0)._weighted_moments(stats)
    expected = _numpy_moments(covariance_type, nk, sx, moments["sxx"], shift, 0.0)
    _bitwise(means, expected[0])
    _bitwise(covariances, expected[1])
