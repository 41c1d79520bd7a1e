"""fastem.GaussianMixture against scikit-learn and against the mixture's own invariants."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning
from sklearn.mixture import GaussianMixture as SkGaussianMixture

import fastem
from fastem import ConvergenceWarning
from reference import COVARIANCE_TYPES, gaussian_mixture_moments, gaussian_n_parameters

SHAPES = [(2000, 2, 3), (5000, 5, 4), (3000, 1, 2)]
PARAMETERS = ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_")


def make_data(n_samples, n_features, n_components, seed=0):
    """Overlapping Gaussian clusters with random full covariances, shuffled."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(n_components, size=n_samples)
    centers = rng.normal(scale=3.0, size=(n_components, n_features))
    mixing = rng.normal(scale=0.5, size=(n_components, n_features, n_features)) + np.eye(n_features)
    noise = rng.normal(size=(n_samples, n_features))
    return centers[labels] + np.einsum("nij,nj->ni", mixing[labels], noise)


def initial_params(X, n_components, covariance_type, seed=1):
    """Rough user-given starting parameters, shaped for ``covariance_type``."""
    rng = np.random.default_rng(seed)
    n_features = X.shape[1]
    weights = rng.dirichlet(np.full(n_components, 5.0))
    means = X[rng.choice(len(X), n_components, replace=False)]
    scale = rng.uniform(0.5, 2.0, size=n_components)
    precisions = {
        "full": scale[:, None, None] * np.eye(n_features),
        "tied": np.eye(n_features),
        "diag": np.outer(scale, np.ones(n_features)),
        "spherical": scale,
    }[covariance_type]
    return {"weights_init": weights, "means_init": means, "precisions_init": precisions}


def fit_pair(X, n_components, covariance_type, max_iter=20, **kwargs):
    """Fit fastem and scikit-learn from the same start for ``max_iter`` iterations."""
    params = dict(
        covariance_type=covariance_type,
        max_iter=max_iter,
        tol=0.0,
        **initial_params(X, n_components, covariance_type),
        **kwargs,
    )
    ours = fastem.GaussianMixture(n_components, accelerate=False, **params)
    theirs = SkGaussianMixture(n_components, **params)
    with pytest.warns(ConvergenceWarning):
        ours.fit(X)
    with pytest.warns(SkConvergenceWarning):
        theirs.fit(X)
    return ours, theirs


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matches_sklearn(shape, covariance_type):
    n_samples, n_features, n_components = shape
    X = make_data(n_samples, n_features, n_components)
    ours, theirs = fit_pair(X, n_components, covariance_type)
    for name in PARAMETERS:
        assert getattr(ours, name).shape == getattr(theirs, name).shape, name
        assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-10, atol=1e-13, err_msg=name)
    assert_allclose(ours.lower_bounds_, theirs.lower_bounds_, rtol=1e-10)
    assert ours.lower_bound_ == pytest.approx(theirs.lower_bound_, rel=1e-10)
    assert ours.n_iter_ == theirs.n_iter_ == 20
    assert ours.bic(X) == pytest.approx(theirs.bic(X), rel=1e-10)
    assert ours.aic(X) == pytest.approx(theirs.aic(X), rel=1e-10)
    assert ours._n_parameters() == theirs._n_parameters() == gaussian_n_parameters(
        n_components, n_features, covariance_type
    )
    assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-10)
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_shapes_counts_and_moments(covariance_type):
    X = make_data(2000, 2, 3)
    model = fastem.GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    n = 200_000
    samples, labels = model.sample(n)
    assert samples.shape == (n, 2) and labels.shape == (n,)
    assert samples.dtype == np.float64 and labels.dtype.kind == "i"
    counts = np.bincount(labels, minlength=3)
    expected = n * model.weights_
    assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected))
    # labels are sorted by component, and each component's points have its mean
    assert np.all(np.diff(labels) >= 0)
    for k in range(3):
        assert_allclose(samples[labels == k].mean(axis=0), model.means_[k], atol=0.05)
    mean, covariance = gaussian_mixture_moments(
        model.weights_, model.means_, model.covariances_, covariance_type
    )
    spread = np.sqrt(np.diag(covariance))
    assert_allclose(samples.mean(axis=0), mean, atol=5 * spread.max() / np.sqrt(n))
    assert_allclose(np.cov(samples.T), covariance, rtol=0.02, atol=0.02 * spread.max() ** 2)


def test_sample_rejects_bad_count():
    model = fastem.GaussianMixture(2, random_state=0).fit(make_data(500, 2, 2))
    with pytest.raises(ValueError, match="n_samples must be >= 1, got 0"):
        model.sample(0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_warm_start_continues(covariance_type):
    X = make_data(2000, 2, 3)
    straight, _ = fit_pair(X, 3, covariance_type, max_iter=10)
    ours, theirs = fit_pair(X, 3, covariance_type, max_iter=4, warm_start=True)
    ours.set_params(max_iter=6)
    theirs.set_params(max_iter=6)
    with pytest.warns(ConvergenceWarning):
        ours.fit(X)
    with pytest.warns(SkConvergenceWarning):
        theirs.fit(X)
    for name in PARAMETERS:
        assert_allclose(getattr(ours, name), getattr(straight, name), rtol=1e-12, atol=1e-14)
        assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-10, atol=1e-13)
    assert_allclose(ours.lower_bounds_, straight.lower_bounds_[4:], rtol=1e-12)
    assert_allclose(ours.lower_bounds_, theirs.lower_bounds_, rtol=1e-10)


def test_warm_start_off_restarts():
    X = make_data(2000, 2, 3)
    model = fastem.GaussianMixture(3, random_state=0, max_iter=500)
    first = model.fit(X).means_.copy()
    assert_array_equal(model.fit(X).means_, first)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_predict_matches_fit_predict_and_proba(covariance_type):
    X = make_data(2000, 2, 3)
    model = fastem.GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    labels = model.fit_predict(X)
    assert_array_equal(labels, model.fit(X).predict(X))
    proba = model.predict_proba(X)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert_array_equal(model.predict(X), proba.argmax(axis=1))
    assert len(np.unique(labels)) == 3


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_agrees_with_float64(covariance_type):
    X = make_data(3000, 3, 3)
    start = initial_params(X, 3, covariance_type)
    models = {}
    for dtype in (np.float32, np.float64):
        model = fastem.GaussianMixture(
            3, covariance_type=covariance_type, max_iter=20, tol=0.0, accelerate=False, **start
        )
        with pytest.warns(ConvergenceWarning):
            models[dtype] = model.fit(X.astype(dtype))
    for name in PARAMETERS:
        single, double = getattr(models[np.float32], name), getattr(models[np.float64], name)
        assert single.dtype == np.float32, name
        assert_allclose(single, double, rtol=1e-4, atol=1e-5 * np.abs(double).max(), err_msg=name)
    assert models[np.float32].predict_proba(X.astype(np.float32)).dtype == np.float32


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_log_likelihood_never_decreases(covariance_type):
    X = make_data(3000, 3, 4, seed=3)
    model = fastem.GaussianMixture(
        4, covariance_type=covariance_type, reg_covar=0.0, tol=0.0, max_iter=60,
        accelerate=False, **initial_params(X, 4, covariance_type),
    )
    with pytest.warns(ConvergenceWarning):
        model.fit(X)
    bounds = np.array(model.lower_bounds_)
    assert len(bounds) == 60
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert bounds[-1] > bounds[0] + 0.01  # the run did real work


def test_convergence_warning_and_flag():
    X = make_data(2000, 2, 3)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        model = fastem.GaussianMixture(3, max_iter=2, tol=1e-10, random_state=0).fit(X)
    assert not model.converged_ and model.n_iter_ == 2
    model = fastem.GaussianMixture(3, max_iter=500, random_state=0).fit(X)  # warnings are errors
    assert model.converged_ and model.n_iter_ < 500


def test_n_init_keeps_the_best():
    X = make_data(2000, 2, 5, seed=4)
    kwargs = dict(init_params="random", max_iter=500, tol=1e-6)
    # Successive fits sharing one RandomState draw the same starts as one fit with n_init=5.
    shared = np.random.RandomState(7)
    singles = [fastem.GaussianMixture(5, random_state=shared, **kwargs).fit(X) for _ in range(5)]
    bounds = [m.lower_bound_ for m in singles]
    assert max(bounds) - min(bounds) > 1e-3  # the starts reach different optima
    best = fastem.GaussianMixture(5, n_init=5, random_state=7, **kwargs).fit(X)
    winner = singles[int(np.argmax(bounds))]
    assert best.lower_bound_ == max(bounds)
    assert_array_equal(best.means_, winner.means_)
    assert best.lower_bounds_ == winner.lower_bounds_


def test_get_set_params_and_clone():
    model = fastem.GaussianMixture(3, covariance_type="diag", reg_covar=1e-4, random_state=5)
    params = model.get_params()
    assert params["n_components"] == 3 and params["covariance_type"] == "diag"
    extras = {"accelerate", "callback", "missing", "step_exponent", "step_offset"}  # fastem's own hyper-parameters
    assert set(params) - extras == set(SkGaussianMixture().get_params())
    model.set_params(n_components=2, tol=1e-5)
    assert model.n_components == 2 and model.tol == 1e-5
    with pytest.raises(ValueError, match="Invalid parameter 'bogus'"):
        model.set_params(bogus=1)
    model.fit(make_data(500, 2, 2))
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "means_")
    assert_array_equal(copy.fit(make_data(500, 2, 2)).means_, model.means_)


@pytest.mark.parametrize("init_params", ["k-means++", "kmeans", "random", "random_from_data"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_init_methods_deterministic(init_params, covariance_type):
    X = make_data(1500, 2, 3)
    fits = [
        fastem.GaussianMixture(
            3, covariance_type=covariance_type, init_params=init_params, random_state=seed,
            max_iter=500,
        ).fit(X)
        for seed in (0, 0, 1)
    ]
    for name in PARAMETERS:
        assert_array_equal(getattr(fits[0], name), getattr(fits[1], name))
    assert np.isfinite(fits[2].lower_bound_)
    # initialisation alone (no EM) depends on the seed
    starts = [
        fastem.GaussianMixture(3, init_params=init_params, random_state=seed, max_iter=0).fit(X).means_
        for seed in (0, 0, 1)
    ]
    assert_array_equal(starts[0], starts[1])
    assert not np.array_equal(starts[0], starts[2])
