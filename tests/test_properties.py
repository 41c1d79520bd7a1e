"""Invariants of a fitted model over random shapes, dtypes, K, covariance types and data.

Hypothesis draws the sizes, the dtype, the covariance type and a seed; the data
are a random mixture drawn from that seed (random centres, scales and
correlations), so that every example is a well-posed but arbitrary problem.
Examples are derandomized and few, so the file is stable and fast in CI.
"""

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from scipy.special import logsumexp

from fastem import ConvergenceWarning, EmptyComponentWarning, GaussianMixture
from reference import gaussian_log_prob

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
PROPERTY_SETTINGS = settings(max_examples=25, deadline=None, derandomize=True)

# Per dtype: tolerance of the log-likelihood decrease (per sample) and of
# densities compared with the float64 SciPy reference.
TOL = {np.float64: dict(decrease=1e-9, rtol=1e-9, atol=1e-9),
       np.float32: dict(decrease=1e-4, rtol=1e-4, atol=1e-3)}


@st.composite
def problems(draw):
    n_features = draw(st.integers(1, 4))
    n_components = draw(st.integers(1, 4))
    n_samples = draw(st.integers(10 * n_components * n_features, 300))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    covariance_type = draw(st.sampled_from(COVARIANCE_TYPES))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    true_k = rng.integers(1, 5)
    centres = rng.normal(scale=rng.uniform(0.5, 10.0), size=(true_k, n_features))
    labels = rng.integers(0, true_k, size=n_samples)
    mixing = rng.normal(size=(true_k, n_features, n_features)) + 2 * np.eye(n_features)
    noise = rng.normal(size=(n_samples, n_features))
    X = centres[labels] + np.einsum("nij,nj->ni", mixing[labels], noise)
    X = X * rng.uniform(0.01, 100.0) + rng.uniform(-1e3, 1e3)
    return X.astype(dtype), n_components, covariance_type, seed


def fit(X, n_components, covariance_type, seed, **kw):
    model = GaussianMixture(
        n_components, covariance_type=covariance_type, random_state=seed % 1000, **kw
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (ConvergenceWarning, EmptyComponentWarning))
        return model.fit(X)


@PROPERTY_SETTINGS
@given(problems())
def test_log_likelihood_never_decreases(problem):
    X, n_components, covariance_type, seed = problem
    model = fit(X, n_components, covariance_type, seed, reg_covar=1e-9, tol=0.0, max_iter=15)
    bounds = np.array(model.lower_bounds_)
    assert np.isfinite(bounds).all()
    allowed = TOL[X.dtype.type]["decrease"] * np.maximum(1.0, np.abs(bounds[:-1]))
    assert (np.diff(bounds) >= -allowed).all(), np.diff(bounds)


@PROPERTY_SETTINGS
@given(problems())
def test_fitted_model_invariants(problem):
    X, n_components, covariance_type, seed = problem
    model = fit(X, n_components, covariance_type, seed, max_iter=20)
    tol = TOL[X.dtype.type]

    for name in model._parameter_names:
        assert np.isfinite(getattr(model, name)).all(), name
        assert getattr(model, name).dtype == X.dtype, name
    assert_allclose(model.weights_.sum(), 1.0, rtol=1e-6)
    assert (model.weights_ >= 0).all()

    cov = np.asarray(model.covariances_, dtype=np.float64)
    if covariance_type in ("full", "tied"):
        for c in cov.reshape(-1, *cov.shape[-2:]):
            assert_allclose(c, c.T, rtol=0, atol=1e-12 * np.abs(c).max())
            assert np.linalg.eigvalsh(c)[0] > 0
    else:
        assert (cov > 0).all()

    resp = model.predict_proba(X)
    assert_allclose(resp.sum(axis=1), 1.0, rtol=tol["rtol"] * 10)
    assert_array_equal(model.predict(X), np.argmax(resp, axis=1))

    component_log_prob = gaussian_log_prob(X, model.means_, cov, covariance_type)
    expected = logsumexp(component_log_prob + np.log(model.weights_.astype(np.float64)), axis=1)
    scale = np.maximum(1.0, np.abs(expected))
    assert_allclose(model.score_samples(X) / scale, expected / scale, rtol=0, atol=tol["atol"])
