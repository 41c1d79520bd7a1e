"""Checks shared by the tests of families fitted by their component means.

``ExponentialMixture`` and ``PoissonMixture`` have the same driver-facing
behaviour and differ in the density, the parameter's name and the data
domain. Each test module describes its family with a :class:`Family` and runs
these checks against the plain NumPy/SciPy reference in ``reference.py``.
"""

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastem import ConvergenceWarning, EmptyComponentWarning, RegularizationWarning
from reference import run_em

# Tolerances of fastem against the float64 reference, per input dtype.
RTOL = {np.float32: 2e-4, np.float64: 1e-9}


@dataclass
class Family:
    estimator: type  # the fastem estimator class
    param: str  # reference name of the (K, D) parameter, e.g. "scales"
    log_prob: Callable  # reference log_prob(X, param) -> (N, K)
    em_step: Callable  # reference em_step(X, weights, param, sample_weight)
    moments: Callable  # reference moments(weights, param) -> mean, variance
    draw: Callable  # draw(rng, weights, param, n) -> X of shape (n, D)

    @property
    def attribute(self):
        return self.param + "_"

    def model(self, weights, param, **kw):
        """An estimator that starts from (weights, param)."""
        init = {"weights_init": weights, self.param + "_init": param}
        return self.estimator(len(weights), **init, **kw)

    def fitted(self, X, weights, param, **kw):
        """An estimator whose parameters are exactly (weights, param): no EM step."""
        return self.model(weights, param, max_iter=0, **kw).fit(X)


def fitted_by_path(path, model, X, *, batches, missing_rows, chunk_rows):
    """``model`` fitted to ``X`` along one of the paths the statistics reach it by:
    ``"fit"``; ``"missing"``, ``fit`` with ``missing='em'`` and feature 1 of
    ``X[missing_rows]`` NaN; ``"partial_fit"``, one step per array of ``batches``;
    ``"dask"``, ``fit`` of a Dask array of ``chunk_rows`` rows per block."""
    if path == "partial_fit":
        for batch in batches:
            model.partial_fit(batch)
        return model
    if path == "missing":
        X = X.copy()
        X[missing_rows, 1] = np.nan
        return model.set_params(missing="em").fit(X)
    if path == "dask":
        da = pytest.importorskip("dask.array")
        return model.fit(da.from_array(X, chunks=(chunk_rows, -1)))
    return model.fit(X)


def fit_quietly(model, X, **kw):
    """Fit for a fixed number of iterations, where not converging is expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, **kw)


def check_log_prob(family, X, weights, param, dtype):
    """score_samples and predict_proba equal the reference E-step."""
    X = X.astype(dtype)
    model = family.fitted(X, weights, param)
    log_prob = family.log_prob(X, param) + np.log(weights)
    norm = np.logaddexp.reduce(log_prob, axis=1)
    rtol = RTOL[dtype]
    assert_allclose(model.score_samples(X), norm, rtol=rtol, atol=rtol)
    resp = model.predict_proba(X)
    assert resp.dtype == dtype
    assert_allclose(resp, np.exp(log_prob - norm[:, None]), rtol=rtol, atol=10 * rtol)
    assert_allclose(resp.sum(axis=1), 1.0, rtol=rtol)
    assert_allclose(model.score(X), norm.mean(), rtol=rtol)
    assert np.array_equal(model.predict(X), np.argmax(model.predict_proba(X), axis=1))


def check_em_steps(family, X, weights, param, dtype, n_iter, sample_weight=None):
    """n_iter EM steps from given parameters equal the reference's n_iter steps."""
    X = X.astype(dtype)
    model = fit_quietly(
        family.model(weights, param, max_iter=n_iter, tol=0.0, accelerate=False), X, sample_weight=sample_weight
    )
    expected, history = run_em(
        family.em_step,
        X.astype(np.float64),
        {"weights": weights, family.param: param},
        n_iter,
        sample_weight=sample_weight,
    )
    rtol = RTOL[dtype] * n_iter
    assert model.n_iter_ == n_iter
    assert getattr(model, family.attribute).dtype == dtype
    assert_allclose(model.weights_, expected["weights"], rtol=rtol)
    assert_allclose(getattr(model, family.attribute), expected[family.param], rtol=rtol)
    assert_allclose(model.lower_bounds_, history, rtol=rtol)


def check_sample_moments(family, weights, param, dtype, n_samples=400_000):
    """The moments of a large sample equal the mixture's moments."""
    X0 = family.draw(np.random.default_rng(0), weights, param, 10).astype(dtype)
    model = family.fitted(X0, weights, param, random_state=0)
    X, y = model.sample(n_samples)
    assert X.dtype == dtype and X.shape == (n_samples, param.shape[1])
    mean, variance = family.moments(weights, param)
    # Five standard errors of the mean and (roughly) of the variance.
    se_mean = np.sqrt(variance / n_samples)
    assert np.all(np.abs(X.mean(axis=0) - mean) < 5 * se_mean)
    assert_allclose(X.var(axis=0), variance, rtol=0.03)
    assert_allclose(np.bincount(y, minlength=len(weights)) / n_samples, weights, atol=0.005)
    for k in range(len(weights)):
        assert_allclose(X[y == k].mean(axis=0), param[k], rtol=0.03)


def check_sample_weight_is_repetition(family, X, weights, param):
    """Integer sample weights give the same fit as repeated rows."""
    counts = np.random.default_rng(3).integers(0, 4, size=X.shape[0])
    counts[0] = 2  # at least one point of positive weight
    weighted = fit_quietly(family.model(weights, param, max_iter=4, tol=0.0), X, sample_weight=counts)
    repeated = fit_quietly(family.model(weights, param, max_iter=4, tol=0.0), np.repeat(X, counts, axis=0))
    assert_allclose(weighted.weights_, repeated.weights_, rtol=1e-10)
    assert_allclose(
        getattr(weighted, family.attribute), getattr(repeated, family.attribute), rtol=1e-10
    )
    assert_allclose(weighted.lower_bounds_, repeated.lower_bounds_, rtol=1e-10)
    assert_allclose(
        weighted.score(X, sample_weight=counts), repeated.score(np.repeat(X, counts, axis=0)),
        rtol=1e-10,
    )


def check_summaries_add(family, X, weights, param):
    """Summaries of two halves, added and passed to m_step, equal one EM step."""
    model = family.fitted(X, weights, param)
    half = X.shape[0] // 2
    total = model.summarize(X[:half]) + model.summarize(X[half:])
    assert total.moments["sx"].shape == param.shape
    model.m_step(total)
    expected = family.em_step(X, weights, param)
    assert_allclose(model.weights_, expected["weights"], rtol=1e-10)
    assert_allclose(getattr(model, family.attribute), expected[family.param], rtol=1e-10)


def check_information_criteria(family, X, weights, param):
    """bic and aic count K * D + K - 1 free parameters."""
    model = family.fitted(X, weights, param)
    n_parameters = param.size + len(weights) - 1
    log_likelihood = np.logaddexp.reduce(family.log_prob(X, param) + np.log(weights), axis=1).sum()
    assert_allclose(model.bic(X), -2 * log_likelihood + n_parameters * np.log(X.shape[0]), rtol=1e-10)
    assert_allclose(model.aic(X), -2 * log_likelihood + 2 * n_parameters, rtol=1e-10)


def check_warm_start(family, X, weights, param):
    """Two warm-started fits of 2 and 3 iterations equal 5 reference iterations."""
    model = fit_quietly(family.model(weights, param, max_iter=2, tol=0.0, accelerate=False), X)
    model.set_params(warm_start=True, max_iter=3)
    fit_quietly(model, X)
    expected, _ = run_em(family.em_step, X, {"weights": weights, family.param: param}, 5)
    assert_allclose(getattr(model, family.attribute), expected[family.param], rtol=1e-9)


def check_log_likelihood_never_decreases(model, X):
    """Plain EM (with the floor on the means) never lowers the log-likelihood."""
    with warnings.catch_warnings():
        # tiny random data (3 points, 3 components) may leave a component empty, or on
        # zeros at the scale floor: not the property
        warnings.simplefilter("ignore", EmptyComponentWarning)
        warnings.simplefilter("ignore", RegularizationWarning)
        fit_quietly(model, X)
    bounds = np.asarray(model.lower_bounds_)
    assert np.isfinite(bounds).all()
    slack = (1e-5 if X.dtype == np.float32 else 1e-10) * (1 + np.abs(bounds[:-1]))
    assert np.all(np.diff(bounds) >= -slack), np.diff(bounds)
