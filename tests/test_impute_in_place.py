"""impute(X, out=X): in place where each row is read before it is written."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastem import Chunks, ExponentialMixture, GaussianMixture, PoissonMixture

MODELS = [
    (GaussianMixture, dict(covariance_type="full")),
    (GaussianMixture, dict(covariance_type="diag")),
    (GaussianMixture, dict(covariance_type="tied")),
    (GaussianMixture, dict(covariance_type="spherical")),
    (ExponentialMixture, dict()),
    (PoissonMixture, dict()),
]


def data(dtype, n=3000):
    """Counts (valid for every family) in two groups, with missing entries in each feature."""
    rng = np.random.default_rng(0)
    X = np.rint(np.abs(rng.normal(5.0, 1.5, (n, 3))) + 3.0 * (np.arange(n) % 2)[:, None])
    X[1::7, 1] = np.nan
    X[2::11, 0] = np.nan
    X[3::13, 2] = np.nan
    X[5] = np.nan  # a row with nothing observed gets the mixture's mean
    return X.astype(dtype)


def fitted(family, kwargs, X):
    model = family(2, random_state=0, max_iter=5, tol=0, missing="em", **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 5 iterations do not converge
        return model.fit(X[~np.isnan(X).all(axis=1)])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("family, kwargs", MODELS)
@pytest.mark.parametrize("draw", [False, True])
def test_impute_into_x_itself(family, kwargs, dtype, draw):
    X = data(dtype)
    model = fitted(family, kwargs, X)
    options = dict(draw=True, random_state=1) if draw else {}
    expected = model.impute(X, **options)
    Y = X.copy()
    assert model.impute(Y, out=Y, **options) is Y
    assert_array_equal(Y, expected)


def test_impute_in_place_refused_where_unsafe_says_where_it_is_allowed():
    X = data(np.float64, 400)
    model = fitted(GaussianMixture, {}, X)
    before = X.copy()
    allowed = "out may be X itself only where X is a C-contiguous float32 or float64 array"
    with pytest.raises(ValueError, match=allowed):
        model.impute(X[:300], out=X[100:])  # rows written before they are read
    with pytest.raises(ValueError, match=allowed):
        model.impute(Chunks([X]), out=X)
    assert_array_equal(X, before)
