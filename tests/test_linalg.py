"""The M-step's small linear algebra (fastem.kernels.linalg) against NumPy/SciPy."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import linalg

from fastem.kernels.linalg import covariances_from_precision_cholesky, precision_cholesky_upper


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
