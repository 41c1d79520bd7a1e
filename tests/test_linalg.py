"""The M-step's small linear algebra (fastem.kernels.linalg) against NumPy/SciPy."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import linalg

from fastem.kernels.linalg import (
    covariances_from_precision_cholesky,
    diagonal_moments,
    full_moments,
    precision_cholesky_upper,
    tied_moments,
    tied_scatter,
)


def _covariances(n_features, seed):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(3, n_features, n_features + 2)) * rng.uniform(0.1, 10, n_features)[:, None]
    return A @ A.transpose(0, 2, 1)


@pytest.mark.parametrize("n_features", [1, 2, 5, 16, 40])
def test_precision_factors_and_back(n_features):
    covariances = _covariances(n_features, n_features)
    factors, failed = precision_cholesky_upper(covariances)
    assert failed == -1
    assert_allclose(np.triu(factors), factors, rtol=0, atol=0)  # upper triangular
    for c, u in zip(covariances, factors):
        assert_allclose(u @ u.T @ c, np.eye(n_features), atol=1e-9)
    back = covariances_from_precision_cholesky(factors)
    reference = np.stack([v.T @ v for v in (linalg.solve_triangular(u, np.eye(n_features))
                                            for u in factors)])
    assert_allclose(back, reference, rtol=1e-12, atol=1e-12 * np.abs(reference).max())
    assert_allclose(back, covariances, rtol=1e-9, atol=1e-9 * np.abs(covariances).max())
    assert np.array_equal(back, back.transpose(0, 2, 1))  # exactly symmetric


def test_a_singular_factor_gives_non_finite_values_not_an_error():
    out = covariances_from_precision_cholesky(np.array([[[1.0, 2.0], [0.0, 0.0]]]))
    assert out[0, 0, 0] == 1.0 and not np.isfinite(out[0, 1, 1])


def test_not_positive_definite_is_reported():
    covariances = _covariances(3, 0)
    covariances[1] = -np.eye(3)
    assert precision_cholesky_upper(covariances)[1] == 1


# ----------------------------------------------------------------------
# The M-step's moments against the NumPy array expressions they replace,
# bitwise: every operation of the compiled functions is NumPy's, in the same order.

def _lower(a, diagonal=True):
    return np.tril(a) if diagonal else np.tril(a, -1)


def _numpy_scatter(sxx, pairs, shift):
    scatter = _lower(sxx) + _lower(sxx, diagonal=False).T
    q = np.triu(pairs, 1)
    k, l = np.nonzero(q)
    if len(k):
        diff = shift[k] - shift[l]
        scatter = scatter + np.einsum("p,pi,pj->ij", q[k, l], diff, diff)
    return scatter


@np.errstate(all="ignore")  # an empty component alone: 0 / 0, as in the compiled functions
def _numpy_moments(covariance_type, nk, sx, sxx, shift, reg, pairs=None):
    divisor = np.where(nk > 0, nk, 1.0)
    delta = sx / divisor[:, None]
    means = shift + delta
    n_features = shift.shape[1]
    if covariance_type in ("full", "tied"):
        if covariance_type == "tied":
            sxx = _numpy_scatter(sxx, pairs, shift)
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
    return means, (sxx - 2 * delta * sx + nk[:, None] * delta**2) / divisor[:, None] + reg


def _statistics(n_components, n_features, seed):
    """Summed statistics of every sign and scale, with an empty component, negative zeros and
    zero (and, for the arithmetic, negative) pair weights."""
    rng = np.random.default_rng(seed)
    scale = np.exp(rng.normal(size=n_features) * 4)
    nk = rng.uniform(0, 50, n_components)
    nk[0] = 0.0
    sx = rng.normal(size=(n_components, n_features)) * scale * nk[:, None]
    sx[0] = -0.0
    sxx = rng.normal(size=(n_components, n_features, n_features)) * np.outer(scale, scale)
    sxx[..., 0, 0] = -0.0
    shift = rng.normal(size=(n_components, n_features)) * scale
    pairs = rng.uniform(-1, 5, (n_components, n_components)) * (rng.random((n_components,) * 2) < 0.7)
    return nk, sx, sxx, shift, pairs


def _bitwise(actual, expected):
    assert actual.shape == expected.shape
    assert np.array_equal(actual.view(np.int64), expected.view(np.int64))  # -0.0 and NaN too


def _compiled(function, *args, shapes):
    outputs = [np.empty(shape) for shape in shapes]
    function(*args, *outputs)
    return outputs


@pytest.mark.parametrize("reg", [0.0, 1e-6, 0.3])
@pytest.mark.parametrize("n_components, n_features", [(1, 1), (3, 2), (9, 5), (30, 17)])
def test_moments_are_bitwise_those_of_the_numpy_expressions(n_components, n_features, reg):
    for seed in range(5):
        nk, sx, sxx, shift, pairs = _statistics(n_components, n_features, seed)
        means_shape, matrix_shape = sx.shape, sxx.shape[1:]
        expected = _numpy_moments("full", nk, sx, sxx, shift, reg)
        got = _compiled(full_moments, nk, sx, sxx, shift, reg, shapes=(means_shape, sxx.shape))
        for a, b in zip(got, expected):
            _bitwise(a, b)
        diagonal = np.ascontiguousarray(np.diagonal(sxx, axis1=1, axis2=2))
        expected = _numpy_moments("diag", nk, sx, diagonal, shift, reg)
        got = _compiled(diagonal_moments, nk, sx, diagonal, shift, reg, shapes=(means_shape, means_shape))
        for a, b in zip(got, expected):
            _bitwise(a, b)
        (scatter,) = _compiled(tied_scatter, sxx[0], pairs, shift, shapes=(matrix_shape,))
        _bitwise(scatter, _numpy_scatter(sxx[0], pairs, shift))
        expected = _numpy_moments("tied", nk, sx, sxx[0], shift, reg, pairs)
        got = _compiled(
            tied_moments, nk, sx, scatter, shift, reg, nk.sum(), shapes=(means_shape, matrix_shape)
        )
        for a, b in zip(got, expected):
            _bitwise(a, b)


def test_tied_scatter_without_pairs_is_the_mirrored_lower_triangle():
    sxx = np.array([[2.0, np.nan], [-0.5, 3.0]])  # the upper triangle is not read
    (scatter,) = _compiled(tied_scatter, sxx, np.zeros((2, 2)), np.ones((2, 2)), shapes=((2, 2),))
    _bitwise(scatter, np.array([[2.0, -0.5], [-0.5, 3.0]]))
