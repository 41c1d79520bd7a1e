"""BayesianGaussianMixture: scikit-learn's variational mixture, on the fused kernels."""

import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

import fastem
from fastem import BayesianGaussianMixture
from fastem.exceptions import ConvergenceWarning

sklearn = pytest.importorskip("sklearn")
from sklearn.exceptions import ConvergenceWarning as SklearnConvergenceWarning  # noqa: E402
from sklearn.mixture import BayesianGaussianMixture as SklearnBGM  # noqa: E402

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]
POSTERIOR = (
    "weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_",
    "mean_precision_", "degrees_of_freedom_", "weight_concentration_",
)
PRIORS = (
    "weight_concentration_prior_", "mean_precision_prior_", "mean_prior_",
    "degrees_of_freedom_prior_", "covariance_prior_",
)


def blobs(seed, n_per=200, n_features=3, n_centres=3, spread=6.0):
    rng = np.random.RandomState(seed)
    centres = rng.uniform(-spread, spread, size=(n_centres, n_features))
    scales = rng.uniform(0.5, 1.5, size=(n_centres, n_features))
    return np.concatenate([rng.randn(n_per, n_features) * s + c for c, s in zip(centres, scales)])


def responsibilities(X, n_components, seed):
    return np.random.RandomState(seed).dirichlet(np.ones(n_components), size=len(X))


def sklearn_from(X, resp, **params):
    """scikit-learn's estimator after len(lower_bounds) iterations from ``resp``."""

    class FromResponsibilities(SklearnBGM):
        def _initialize_parameters(self, X, random_state, xp=None):
            self._initialize(X, resp)

    estimator = FromResponsibilities(n_components=resp.shape[1], tol=0.0, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SklearnConvergenceWarning)
        estimator.fit(X)
    return estimator


def fastem_from(X, resp, **params):
    """fastem's estimator after ``max_iter`` plain iterations from ``resp``.

    The start is the variational M-step of ``resp``'s weighted moments
    (scikit-learn's ``_initialize``); ``warm_start`` then continues from it,
    with the priors recomputed from the same data.
    """
    model = BayesianGaussianMixture(
        resp.shape[1], tol=0.0, accelerate=False, warm_start=True, **params
    )
    for name, value in model._fit_priors(fastem.data.as_source(X)).items():
        setattr(model, name, value)
    nk = resp.sum(axis=0) + 10 * np.finfo(np.float64).eps
    means = resp.T @ X / nk[:, None]
    covariances = np.stack([
        (resp[:, k, None] * (X - means[k])).T @ (X - means[k]) / nk[k] for k in range(len(nk))
    ])
    model.weights_ = np.full(len(nk), 1.0 / len(nk))
    model._params_from_moments(nk, means, covariances)
    model.n_features_in_ = X.shape[1]
    model.converged_ = False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        return model.fit(X)


def assert_close_arrays(actual, desired, rtol=1e-10, what=""):
    actual = np.asarray(actual, dtype=np.float64)
    desired = np.asarray(desired, dtype=np.float64)
    assert_allclose(actual, desired, rtol=rtol, atol=rtol * np.max(np.abs(desired)), err_msg=what)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_twenty_iterations_agree_with_sklearn(covariance_type, prior_type):
    X = blobs(0)
    resp = responsibilities(X, 5, seed=1)
    params = dict(
        covariance_type=covariance_type, weight_concentration_prior_type=prior_type,
        max_iter=20,
    )
    reference = sklearn_from(X, resp, **params)
    model = fastem_from(X, resp, **params)
    assert model.n_iter_ == reference.n_iter_ == 20
    for name in POSTERIOR + PRIORS:
        assert_close_arrays(getattr(model, name), getattr(reference, name), what=name)
    # the lower bound per sample, and each iteration's
    assert_allclose(model.lower_bound_ * len(X), float(np.ravel(reference.lower_bound_)[0]), rtol=1e-10)
    assert_allclose(
        np.asarray(model.lower_bounds_) * len(X),
        [float(np.ravel(v)[0]) for v in reference.lower_bounds_], rtol=1e-10,
    )
    # predictions use the variational responsibilities, as scikit-learn's do
    Y = blobs(5, n_per=50)
    assert_close_arrays(model.predict_proba(Y), reference.predict_proba(Y), what="predict_proba")
    assert_close_arrays(model.score_samples(Y), reference.score_samples(Y), what="score_samples")
    assert_allclose(model.score(Y), reference.score(Y), rtol=1e-10)
    np.testing.assert_array_equal(model.predict(Y), reference.predict(Y))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_given_priors_agree_with_sklearn(covariance_type):
    X = blobs(2, n_features=2)
    resp = responsibilities(X, 4, seed=3)
    covariance_prior = {
        "full": np.array([[2.0, 0.3], [0.3, 1.0]]),
        "tied": np.array([[2.0, 0.3], [0.3, 1.0]]),
        "diag": np.array([2.0, 0.5]),
        "spherical": 1.5,
    }[covariance_type]
    params = dict(
        covariance_type=covariance_type, max_iter=20, weight_concentration_prior=0.05,
        mean_precision_prior=0.3, mean_prior=np.array([1.0, -2.0]),
        degrees_of_freedom_prior=3.5, covariance_prior=covariance_prior,
    )
    reference = sklearn_from(X, resp, **params)
    model = fastem_from(X, resp, **params)
    for name in POSTERIOR + PRIORS:
        assert_close_arrays(getattr(model, name), getattr(reference, name), what=name)
    assert_allclose(model.lower_bound_ * len(X), float(np.ravel(reference.lower_bound_)[0]), rtol=1e-10)


def test_entropy_from_statistics_matches_responsibilities():
    # -sum r log r from the kernel's statistics against the responsibilities themselves
    X = blobs(4)
    for covariance_type in COVARIANCE_TYPES:
        model = BayesianGaussianMixture(
            6, covariance_type=covariance_type, max_iter=3, tol=0.0, random_state=0
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastem.ConvergenceWarning)
            model.fit(X)
        resp = model.predict_proba(X)
        with np.errstate(divide="ignore", invalid="ignore"):
            direct = -np.sum(np.where(resp > 0, resp * np.log(resp), 0.0))
        stats = model.summarize(X)
        from_stats = stats.log_likelihood - model._expected_log_joint(stats)
        assert_allclose(from_stats, direct, rtol=1e-10, atol=1e-9 * len(X))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
    prior_type=st.sampled_from(PRIOR_TYPES),
    n_components=st.integers(1, 8),
    accelerate=st.booleans(),
)
def test_lower_bound_never_decreases(seed, covariance_type, prior_type, n_components, accelerate):
    X = blobs(seed, n_per=60, n_features=2, n_centres=3)
    model = BayesianGaussianMixture(
        n_components, covariance_type=covariance_type, weight_concentration_prior_type=prior_type,
        max_iter=60, random_state=seed, accelerate=accelerate, init_params="random",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        model.fit(X)
    bounds = np.asarray(model.lower_bounds_)
    assert np.all(np.diff(bounds) >= -1e-12 * np.abs(bounds[1:]))
    assert model.lower_bound_ == bounds[-1]
    assert_allclose(model.weights_.sum(), 1.0, rtol=1e-12)


def with_a_copied_column(name):
    """iris with a constant fifth column, wine's first five features and a copy of the
    first, or two clusters whose second feature is the first plus noise of 1e-3, stored
    in float32 1e5 from zero (their difference takes three values, -1, 0 and 1 float32
    units) and centred: the data's covariance is singular or has a direction of rounded
    values, and features constant within a component leave reg_covar as its whole
    variance there."""
    from sklearn.datasets import load_iris, load_wine

    if name == "iris, constant":
        X = load_iris().data
        return np.c_[X, np.full(len(X), 2.0)]
    if name == "correlated, rounded":
        rng = np.random.default_rng(0)
        X = np.concatenate([rng.normal(0, 1, (3000, 3)), rng.normal(4, 1, (3000, 3))]) + 1e5
        X[:, 1] = X[:, 0] + 1e-3 * rng.normal(size=len(X))
        return X.astype(np.float32).astype(np.float64) - 1e5
    X = load_wine().data[:, :5]
    return np.c_[X, X[:, 0]]


COPIED_COLUMN_FITS = [
    ("iris, constant", dict(n_components=8, covariance_type="diag")),
    ("wine, repeated", dict(n_components=8, covariance_type="full",
                            weight_concentration_prior_type="dirichlet_distribution")),
    ("correlated, rounded", dict(n_components=4, covariance_type="full")),
]
# plain EM passes before each run converges and the moves begin (they are not one EM run)
PLAIN_PASSES = {"iris, constant": 60, "wine, repeated": 45, "correlated, rounded": 20}


def penalty_rises(model, X):
    """``reg_covar / 2 * sum_k (N'_k / n - N_k / n) tr E[P_k]`` over each plain pass's
    E-step, ``N_k`` and ``N'_k`` the responsibilities' sums of the E-steps before and at
    it; ``model`` is at the start."""
    trace = {"full": lambda p: np.einsum("kii->k", p), "diag": lambda p: p.sum(axis=1),
             "spherical": lambda p: p * X.shape[1], "tied": lambda p: np.trace(p)}
    rises, shares = [], None
    for _ in range(len(model.lower_bounds_)):
        traces = trace[model.covariance_type](np.asarray(model.precisions_, dtype=np.float64))
        stats = model.summarize(X)
        new_shares = stats.nk / stats.nk.sum()
        rise = 0.0 if shares is None else float((new_shares - shares) @ traces)
        rises.append(max(0.0, 0.5 * model.reg_covar * rise))
        shares = new_shares
        model.m_step(stats)
    return np.array(rises)


@pytest.mark.parametrize("name, params", COPIED_COLUMN_FITS)
def test_bound_falls_of_the_regularised_fit_are_within_its_allowance(name, params):
    """The M-step adds reg_covar to the scatter, and scikit-learn's bound is then the
    evidence lower bound less the penalty c/2 sum_k N_k tr E[P_k]: where reg_covar is a
    component's whole variance along a direction, the expected precisions there are of
    order 1/reg_covar, and an E-step that moves weight onto that component lowers the
    bound. Each pass's fall is within the rise of the penalty over its E-step, and the
    falls summed from the best pass exceed rounding: with none allowed, the first two
    fits stopped at passes 42 to 70 with LikelihoodDecreaseWarning, and with the change
    of the penalty over the M-step allowed, the third at pass 16."""
    X = with_a_copied_column(name)
    params = dict(params, random_state=0, accelerate=False, max_iter=PLAIN_PASSES[name])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)  # warnings are errors
        model = BayesianGaussianMixture(**params).fit(X)
    bounds = np.asarray(model.lower_bounds_)
    assert len(bounds) == PLAIN_PASSES[name]
    margin = np.cbrt(np.finfo(np.float64).eps) * (1.0 + np.abs(bounds))
    assert (np.maximum.accumulate(bounds) - bounds - margin).max() > 0  # beyond rounding
    replay = BayesianGaussianMixture(**{**params, "max_iter": 0}).fit(X)
    replay.lower_bounds_ = model.lower_bounds_
    allowances = penalty_rises(replay, X)
    assert np.all(bounds[:-1] - bounds[1:] <= allowances[1:] + 1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("priors, dtype", [
    (dict(mean_precision_prior=1e10), np.float32),
    (dict(mean_precision_prior=1e300), np.float64),
    (dict(mean_precision_prior=1e300, degrees_of_freedom_prior=1e300), np.float64),
])
def test_priors_that_swallow_the_counts_leave_the_allowance_defined(covariance_type, priors, dtype):
    """The allowance weighs the components by N_k, the posterior less the prior: a prior
    of 1e10 in float32 left every N_k 0, and the allowance divided 0 by 0 on every pass
    (NumPy's RuntimeWarning, an error here). N_k comes from the smaller prior, and is 0
    only when both swallow it."""
    X = np.random.default_rng(0).normal(size=(200, 2)).astype(dtype)
    model = BayesianGaussianMixture(4, covariance_type=covariance_type, random_state=0, **priors)
    assert model.fit(X).converged_
    after = model._get_parameters()
    assert np.isfinite(model._m_step_allowance(after, after, after))


@pytest.mark.parametrize("name, params", COPIED_COLUMN_FITS)
def test_default_fit_with_a_repeated_or_constant_feature_converges(name, params):
    """Accelerated, with the moves, without a warning."""
    model = BayesianGaussianMixture(random_state=0, **params).fit(with_a_copied_column(name))
    assert model.converged_


@pytest.mark.parametrize("scale", [1e6, 1e9])
def test_the_default_covariance_prior_is_positive_definite_at_any_scale(scale):
    """Raised to reg_covar, or to the rounding of the eigendecomposition where that is
    larger: in units of 1e6, a floor of reg_covar left the prior indefinite and the fit
    raised."""
    from sklearn.datasets import load_iris

    X = load_iris().data * scale
    model = BayesianGaussianMixture(3, random_state=0, max_iter=0).fit(np.c_[X, X[:, 0]])
    prior = np.asarray(model.covariance_prior_, dtype=np.float64)
    np.linalg.cholesky(prior)
    assert np.linalg.eigvalsh(prior)[0] > 0


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_a_prior_of_features_in_units_far_apart_fits_saves_and_loads(tmp_path, covariance_type):
    """Eigenvalues 9.7 and 1e18: the smallest is below the rounding of the largest, and the
    prior (the data's variances, spreads 1e9 and 3) is positive definite all the same, as
    its unit-diagonal form (the identity) shows. It fits, and the model saves and loads
    bitwise; before, the fit refused it as not positive definite as float64 can tell, and
    load refused such a covariance_prior_ (smallest eigenvalue 0)."""
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(0, 1e9, 500), np.r_[rng.normal(-3, 1, 250), rng.normal(3, 1, 250)]]
    prior = np.diag(X.var(axis=0)) + 1e-6 * np.eye(2)
    model = BayesianGaussianMixture(2, covariance_type=covariance_type, covariance_prior=prior,
                                    random_state=0).fit(X)
    assert np.isfinite(model.score_samples(X)).all()
    model.save(tmp_path / "model.npz")
    loaded = fastem.load(tmp_path / "model.npz")
    assert_array_equal(loaded.covariance_prior_, model.covariance_prior_)
    assert_array_equal(loaded.score_samples(X), model.score_samples(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_the_default_prior_of_features_in_units_far_apart_keeps_the_narrow_variance(
        covariance_type, dtype):
    """Spreads 1e-2 and 1e7 (two groups 1e8 apart in the wide feature): the data's
    covariance has eigenvalues 1e-4 and 2.6e15, and the default prior keeps them, so each
    component's variance of the narrow feature is its group's. Before, its eigenvalues
    were raised to the rounding of the largest (19): the prior variance outweighed the
    data's 500 points, and the components' variances were about 4e-2."""
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(0, 1e-2, 1000), rng.normal(0, 1e7, 1000)])
    X[:500, 1] += 1e8
    X = X.astype(dtype)
    model = BayesianGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    data_covariance = np.cov(X.astype(np.float64).T)
    assert_allclose(np.asarray(model.covariance_prior_)[0, 0], data_covariance[0, 0], rtol=1e-3)
    labels = model.predict(X)
    assert sorted(np.bincount(labels)) == [500, 500]
    covariances = np.asarray(model.covariances_, dtype=np.float64).reshape(-1, 2, 2)
    for k in range(2):
        group = X[labels == k, 0].astype(np.float64)
        variance = covariances[k if covariance_type == "full" else 0, 0, 0]
        assert_allclose(variance, group.var() if covariance_type == "full"
                        else X[:, 0].astype(np.float64).var(), rtol=0.1)


SINGULAR_PRIORS = {  # 2 x 2; the rank-1 one's smallest eigenvalue computes as +1.1e-16
    "zero": np.zeros((2, 2)), "ones": np.ones((2, 2)), "rank 1": np.outer([1.0, 3.0], [1.0, 3.0]),
}


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("label", SINGULAR_PRIORS)
def test_a_singular_covariance_prior_is_refused_given_loaded_or_assigned(
        tmp_path, covariance_type, dtype, label):
    """A singular prior makes the covariance of a component without data singular. The
    fit refuses it as a hyper-parameter; load and save (which runs load's checks) refuse
    it as a fitted attribute, without the allowance for float32 rounding of covariances_
    (the fit stores its prior positive definite in its dtype)."""
    prior = SINGULAR_PRIORS[label]
    X = np.random.default_rng(0).normal(size=(200, 2)).astype(dtype)
    with pytest.raises(ValueError, match="covariance_prior must be positive definite"):
        BayesianGaussianMixture(2, covariance_type=covariance_type, covariance_prior=prior).fit(X)
    model = BayesianGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    path = tmp_path / "model.npz"
    model.save(path)
    model.covariance_prior_ = prior.astype(dtype)
    message = r"field 'covariance_prior_' is not positive definite \(smallest eigenvalue 0\)"
    with pytest.raises(ValueError, match=message):
        model.save(tmp_path / "assigned.npz")
    with np.load(path) as archive:
        arrays = {name: archive[name] for name in archive.files}
    arrays["covariance_prior_"] = prior.astype(dtype)
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=f"^{re.escape(repr(str(path)))}: " + message):
        fastem.load(path)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_the_default_covariance_prior_is_positive_definite(covariance_type):
    """The data's covariance with its eigenvalues raised to reg_covar: a repeated feature
    made it singular and the Wishart prior improper, the precisions of empty components
    of order 1/eps, and a fit of iris with a copied column cycled to max_iter in a move
    1.2 nats per sample below a bound it had reached. Other data keep their covariance
    (test_twenty_iterations_agree_with_sklearn)."""
    from sklearn.datasets import load_iris

    X = load_iris().data
    X = np.c_[X, X[:, 0]]
    model = BayesianGaussianMixture(8, covariance_type=covariance_type, random_state=0).fit(X)
    assert model.converged_
    prior = np.asarray(model.covariance_prior_, dtype=np.float64)
    if covariance_type in ("full", "tied"):
        assert np.linalg.eigvalsh(prior)[0] >= model.reg_covar * (1 - 1e-9)
        assert_allclose(prior, np.cov(X.T), atol=2 * model.reg_covar)
    else:
        assert np.all(prior >= model.reg_covar)
    assert model.n_iter_ < model.max_iter  # no move cycles to max_iter


@pytest.mark.parametrize("seed", range(5))
def test_effective_number_of_components_is_the_true_one(seed):
    rng = np.random.RandomState(seed)
    centres = rng.uniform(-10, 10, size=(4, 2))
    X = np.concatenate([rng.randn(500, 2) * rng.uniform(0.5, 1.5, 2) + c for c in centres])
    model = BayesianGaussianMixture(10, random_state=seed).fit(X)
    assert model.converged_
    assert model.effective_n_components() == 4
    assert np.sum(model.weights_ > 0.01) == 4


def two_blobs():
    """Two unit blobs 4 apart: BayesianGaussianMixture(4) from the hierarchical start
    split each in two ('tied'), or kept the sticks out of order (the others)."""
    rng = np.random.default_rng(14)
    return rng.permutation(
        np.concatenate([rng.normal(0, 1, (1000, 2)), rng.normal(4, 1, (1000, 2))])
    )


def without_moves(monkeypatch):
    monkeypatch.setattr(
        BayesianGaussianMixture, "_escape_local_optimum", lambda self, worker, source, result: result
    )


def first_run(monkeypatch, X, params):
    """The fit without moves, and the number of its callback calls (accepted passes)."""
    calls = []
    with monkeypatch.context() as patch:
        without_moves(patch)
        stuck = BayesianGaussianMixture(callback=lambda *args: calls.append(1), **params).fit(X)
    return stuck, len(calls)


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_moves_reach_the_optimum_that_em_from_the_start_misses(
    covariance_type, prior_type, monkeypatch
):
    X = two_blobs()
    params = dict(
        n_components=4, covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type, random_state=0,
    )
    model = BayesianGaussianMixture(**params).fit(X)
    assert model.converged_
    assert model.effective_n_components() == 2
    if prior_type == "dirichlet_process":  # the larger sticks first
        assert np.all(model.weights_[:2] > 0.4)
    assert model.n_iter_ <= model.max_iter
    assert len(model.lower_bounds_) <= model.n_iter_  # accepted passes, of both runs
    assert model.lower_bounds_[-1] == model.lower_bound_
    kmeans = BayesianGaussianMixture(init_params="kmeans", **params).fit(X)
    assert model.lower_bound_ >= kmeans.lower_bound_ - 1e-9
    without_moves(monkeypatch)
    stuck = BayesianGaussianMixture(**params).fit(X)
    assert model.lower_bound_ >= stuck.lower_bound_
    # EM alone ends lower under the stick-breaking prior (sticks out of order) and for 'tied'
    if prior_type == "dirichlet_process" or covariance_type == "tied":
        assert model.lower_bound_ > stuck.lower_bound_ + 1e-3
    if covariance_type == "tied":
        assert stuck.effective_n_components() == 4


def test_moves_respect_max_iter_and_need_a_converged_run():
    X = two_blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        capped = BayesianGaussianMixture(4, covariance_type="tied", random_state=0, max_iter=60).fit(X)
        assert capped.n_iter_ <= 60
        # an unfinished run is EM's own: no move is tried
        short = BayesianGaussianMixture(4, covariance_type="tied", random_state=0, max_iter=20, tol=0.0)
        short.fit(X)
    assert short.n_iter_ == 20 and not short.converged_
    assert short.effective_n_components() == 4


@pytest.mark.parametrize("case", ["constant column", "reg_covar=0"])
def test_a_move_that_meets_a_singular_covariance_is_not_kept(case, monkeypatch):
    # A merge that emptied a component left it the prior alone, singular with
    # a constant column; with reg_covar=0 the pair's distance met a singular
    # covariance. Both failed fits that converge without moves.
    X = np.column_stack([two_blobs(), np.full(2000, 3.0)])
    params = dict(n_components=4, random_state=0)
    if case == "reg_covar=0":
        params.update(reg_covar=0.0, covariance_prior=np.eye(3))
    model = BayesianGaussianMixture(**params).fit(X)
    assert model.converged_
    without_moves(monkeypatch)
    stuck = BayesianGaussianMixture(**params).fit(X)
    assert model.lower_bound_ >= stuck.lower_bound_


def test_every_pass_of_the_moves_counts_towards_max_iter():
    X = two_blobs()
    calls = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        for max_iter in (60, 100):
            calls.clear()
            model = BayesianGaussianMixture(
                4, covariance_type="tied", random_state=0, max_iter=max_iter,
                callback=lambda model, n_iter, bound: calls.append(n_iter),
            ).fit(X)
            assert model.n_iter_ <= max_iter
            assert len(calls) <= model.n_iter_  # accepted passes, of the kept and tried moves
            assert calls == sorted(calls) and len(set(calls)) == len(calls)


def test_an_error_of_the_callback_during_a_move_propagates(monkeypatch):
    X = two_blobs()
    params = dict(n_components=4, covariance_type="tied", random_state=0)
    _, passes = first_run(monkeypatch, X, params)
    calls = []

    def callback(*args):
        calls.append(1)
        if len(calls) > passes:
            raise ValueError("the callback's own error") from KeyError("its cause")

    with pytest.raises(ValueError, match="the callback's own error") as raised:
        BayesianGaussianMixture(callback=callback, **params).fit(X)
    assert isinstance(raised.value.__cause__, KeyError)  # as it was raised, chain included


def test_a_move_that_ends_at_max_iter_unconverged_is_not_kept(monkeypatch):
    # The fit converges at pass 296 (at 123 under an earlier stopping rule, with
    # max_iter=200); a move that gained but reached max_iter=300 unconverged turned it
    # into an unconverged fit with a ConvergenceWarning. The converged optimum is kept,
    # and the warning says what the move reached.
    rng = np.random.default_rng(1)
    X = rng.permutation(np.concatenate([rng.normal(i * 4, 1, (400, 1)) for i in range(3)]))
    params = dict(n_components=5, covariance_prior=np.eye(1), random_state=0, max_iter=300)
    with pytest.warns(ConvergenceWarning, match=r"a move out of it .* raised the evidence lower "
                      r"bound \(ELBO\) by \S+ per sample, but was still climbing when "
                      r"max_iter=300"):
        model = BayesianGaussianMixture(**params).fit(X)
    assert model.converged_ and model.n_iter_ <= 300
    without_moves(monkeypatch)
    stuck = BayesianGaussianMixture(**params).fit(X)
    assert model.lower_bound_ >= stuck.lower_bound_


def test_a_move_cut_short_by_max_iter_below_the_optimum_is_said():
    # A move's run still climbing at -1.88920 when max_iter=1000 ran out, below the kept
    # -1.88718, was dropped without a word (converged_=True); with the passes it needs
    # the fit ends at -1.88567 (a Zen 5 CPU; where the passes fall depends on the CPU's
    # rounding, so the cut is placed two passes into the run of a move that succeeds).
    # The fit now says that a move could not be judged.
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(c, 1.0, (3000, 3))
                        for c in ((0, 0, 0), (1.5, 0, 0), (0, 1.5, 0))])
    passes = []  # (pass, ELBO) of the accepted passes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        whole = BayesianGaussianMixture(
            6, random_state=0, max_iter=3000,
            callback=lambda m, n, bound: passes.append((n, bound)),
        ).fit(X)
    # a move's run starts below the optimum it leaves; this one ends above it
    start, left = next(
        (n, before) for i, ((_, before), (n, after)) in enumerate(zip(passes, passes[1:]))
        if after < before - 1e-6 and max(bound for _, bound in passes[i:]) > before + 1e-6
    )
    with pytest.warns(ConvergenceWarning, match=r"a move out of it .* was still climbing, "
                      r"\S+ per sample below its evidence lower bound \(ELBO\), when "
                      rf"max_iter={start + 2} passes ran out"):
        cut = BayesianGaussianMixture(6, random_state=0, max_iter=start + 2).fit(X)
    assert cut.converged_ and cut.n_iter_ == start + 2 and cut.lower_bound_ == left
    assert whole.converged_ and whole.lower_bound_ > left + 1e-6


def test_the_passes_of_a_move_that_raises_are_counted(monkeypatch):
    X = two_blobs()
    m_step = BayesianGaussianMixture._variational_m_step
    original_moves = BayesianGaussianMixture._moved_moments
    steps = []  # M-steps of each move's run

    def failing_m_step(self, nk, means, covariances):
        # the tenth M-step of the first move's run raises, as an ill-defined covariance does
        if getattr(self, "_move", 0) == 1:
            steps.append(1)
            if len(steps) == 10:
                raise ValueError("ill-defined empirical covariance")
        return m_step(self, nk, means, covariances)

    def moves(self, worker, stats):
        for number, moments in enumerate(original_moves(self, worker, stats), start=1):
            worker._move = number
            yield moments

    monkeypatch.setattr(BayesianGaussianMixture, "_variational_m_step", failing_m_step)
    monkeypatch.setattr(BayesianGaussianMixture, "_moved_moments", moves)
    calls = []
    model = BayesianGaussianMixture(
        4, covariance_type="tied", random_state=0,
        callback=lambda model, n_iter, bound: calls.append(n_iter),
    ).fit(X)
    assert len(steps) >= 10
    assert calls == sorted(set(calls))  # strictly increasing: no pass numbered twice
    assert calls[-1] <= model.n_iter_ <= model.max_iter


def test_a_callback_that_stops_during_a_move_stops_the_fit(monkeypatch):
    X = two_blobs()
    params = dict(n_components=4, covariance_type="tied", random_state=0)
    stuck, passes = first_run(monkeypatch, X, params)
    calls = []
    model = BayesianGaussianMixture(
        callback=lambda *args: calls.append(1) or len(calls) > passes, **params
    ).fit(X)
    assert len(calls) == passes + 1  # the first pass of the first move, and no more
    assert model.lower_bound_ >= stuck.lower_bound_


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_merge_keeps_the_mass_and_the_moments_of_the_pair(covariance_type):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(600, 3)) * [1.0, 2.0, 0.5]
    resp = rng.dirichlet(np.ones(4), size=len(X))
    model = BayesianGaussianMixture(4, covariance_type=covariance_type, reg_covar=0.0)
    nk = resp.sum(axis=0)
    means = resp.T @ X / nk[:, None]
    full = np.stack([(resp[:, k, None] * (X - means[k])).T @ (X - means[k]) / nk[k] for k in range(4)])
    covariances = {
        "full": full, "tied": np.einsum("k,kij->ij", nk, full) / nk.sum(),
        "diag": np.diagonal(full, axis1=1, axis2=2).copy(),
        "spherical": np.diagonal(full, axis1=1, axis2=2).mean(axis=1),
    }[covariance_type]
    merged_nk, merged_means, merged_cov = model._merged(nk, means, covariances, 1, 3)
    r = resp[:, 1] + resp[:, 3]
    # the emptied component keeps its moments, with a negligible mass
    assert_allclose(merged_nk, [nk[0], r.sum(), nk[2], 1e-10 * len(X)], rtol=1e-12)
    assert_allclose(merged_means[1], r @ X / r.sum(), rtol=1e-12)
    assert_allclose(merged_means[[0, 2, 3]], means[[0, 2, 3]], rtol=0)
    pooled = (r[:, None] * (X - merged_means[1])).T @ (X - merged_means[1]) / r.sum()
    expected = {
        "full": pooled, "diag": np.diag(pooled), "spherical": np.diag(pooled).mean(),
        # the shared covariance gains the pair's scatter between their means
        "tied": (np.einsum("k,kij->ij", nk[[0, 2]], full[[0, 2]]) + r.sum() * pooled) / nk.sum(),
    }[covariance_type]
    assert_allclose(merged_cov if covariance_type == "tied" else merged_cov[1], expected, rtol=1e-10)


def test_effective_n_components_checks_its_threshold():
    model = BayesianGaussianMixture(3, random_state=0).fit(blobs(0, n_features=2))
    assert model.effective_n_components(threshold=0.0) == 3
    with pytest.raises(ValueError, match="threshold"):
        model.effective_n_components(threshold=1.5)
    with pytest.raises(fastem.NotFittedError):
        BayesianGaussianMixture(3).effective_n_components()


def test_effective_n_components_refuses_weights_that_disagree_with_the_concentrations():
    """The count reads the parameters the predictions read: a weights_ assigned without
    its weight_concentration_ (which the predictions weigh the components by) was counted
    silently, three components with weight above 0.01 reported as one."""
    model = BayesianGaussianMixture(3, random_state=0).fit(blobs(0, n_features=2))
    assert model.effective_n_components(threshold=0.0) == 3
    model.weights_ = np.array([1.0, 0.0, 0.0])
    for use in (model.predict, lambda _: model.effective_n_components()):
        with pytest.raises(ValueError, match="'weights_' disagrees with 'weight_concentration_'"):
            use(blobs(0, n_features=2))


@pytest.mark.parametrize(
    "params, error, match",
    [
        ({"weight_concentration_prior_type": "dirichlet"}, ValueError, "weight_concentration_prior_type"),
        ({"weight_concentration_prior": 0.0}, ValueError, "weight_concentration_prior must be > 0"),
        ({"weight_concentration_prior": "1"}, TypeError, "weight_concentration_prior"),
        ({"mean_precision_prior": -1.0}, ValueError, "mean_precision_prior must be > 0"),
        ({"degrees_of_freedom_prior": np.inf}, ValueError, "finite"),
        ({"degrees_of_freedom_prior": 1.5}, ValueError, "greater than n_features - 1 = 2"),
        ({"mean_prior": [0.0, 1.0]}, ValueError, r"mean_prior must have shape \(n_features,\) = \(3,\)"),
        ({"mean_prior": [0.0, np.nan, 1.0]}, ValueError, "mean_prior contains NaN"),
        ({"covariance_prior": np.eye(2)}, ValueError, r"covariance_prior must have shape \(3, 3\)"),
        ({"covariance_prior": -np.eye(3)}, ValueError, "positive definite"),
        ({"covariance_prior": np.eye(3), "covariance_type": "diag"}, ValueError,
         r"shape \(3,\) for covariance_type='diag'"),
        ({"covariance_prior": [1.0, 0.0, 1.0], "covariance_type": "diag"}, ValueError, "must be positive"),
        ({"covariance_prior": 0.0, "covariance_type": "spherical"}, ValueError, "covariance_prior must be > 0"),
        ({"covariance_type": "unknown"}, ValueError, "covariance_type must be one of"),
        ({"reg_covar": -1e-6}, ValueError, "reg_covar"),
        ({"n_components": 0}, ValueError, "n_components"),
    ],
)
def test_bad_hyper_parameters_say_what_and_how(params, error, match):
    with pytest.raises(error, match=match):
        BayesianGaussianMixture(**{"n_components": 2, **params}).fit(blobs(0))


def test_too_few_samples_and_bad_data():
    with pytest.raises(ValueError, match="n_samples >= n_components"):
        BayesianGaussianMixture(5).fit(np.random.RandomState(0).randn(3, 2))
    with pytest.raises(ValueError, match="total sample weight above 1"):
        BayesianGaussianMixture(1).fit(np.ones((1, 2)))
    with pytest.raises(ValueError, match="NaN"):
        BayesianGaussianMixture(2).fit(np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0]]))
    # a single sample with a given covariance prior is a valid (if weak) fit
    one = BayesianGaussianMixture(1, covariance_prior=np.eye(2), max_iter=5, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        one.fit(np.ones((1, 2)))
    assert_allclose(one.weights_, [1.0])


def test_no_likelihood_methods():
    model = BayesianGaussianMixture(2, random_state=0).fit(blobs(0))
    for name in ("bic", "aic", "partial_fit"):
        assert not hasattr(model, name)
        with pytest.raises(AttributeError, match="variational lower bound"):
            getattr(model, name)


@pytest.mark.parametrize("fitted", [False, True])
@pytest.mark.parametrize("name", ["impute", "missing"])
def test_the_words_of_missing_values_say_that_it_does_not_support_them(name, fitted):
    model = BayesianGaussianMixture(2, random_state=0)
    if fitted:
        model.fit(blobs(0))
    assert not hasattr(model, name)
    with pytest.raises(AttributeError, match=f"BayesianGaussianMixture has no {name}: it does not "
                                             r"support missing values \(NaN\)\. "
                                             r"GaussianMixture\(missing='em'\)"):
        getattr(model, name)
    with pytest.raises(AttributeError, match="object has no attribute 'imputes'"):
        model.imputes


def test_predict_and_sample_shapes():
    X = blobs(1)
    model = BayesianGaussianMixture(4, covariance_type="diag", random_state=0).fit(X)
    assert model.predict(X).shape == (len(X),)
    proba = model.predict_proba(X)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    samples, labels = model.sample(50)
    assert samples.shape == (50, 3) and labels.shape == (50,)
    assert model.weight_concentration_.shape == (2, 4)
    model = BayesianGaussianMixture(
        4, covariance_type="tied", weight_concentration_prior_type="dirichlet_distribution",
        random_state=0,
    ).fit(X)
    assert model.weight_concentration_.shape == (4,)
    assert model.degrees_of_freedom_.shape == ()


def test_n_init_keeps_the_largest_lower_bound():
    X = blobs(3)
    single = [
        BayesianGaussianMixture(6, init_params="random", random_state=s).fit(X).lower_bound_
        for s in range(3)
    ]
    best = BayesianGaussianMixture(6, init_params="random", n_init=3, random_state=0).fit(X)
    assert best.lower_bound_ >= max(single[:1]) - 1e-12
    assert len(best.lower_bounds_) >= 1


def test_warm_start_continues_from_the_posterior():
    X = blobs(2)
    model = BayesianGaussianMixture(5, random_state=0, max_iter=5, tol=0.0, accelerate=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        model.fit(X)
        first = model.lower_bound_
        model.set_params(warm_start=True)
        model.fit(X)
    assert model.lower_bounds_[0] >= first - 1e-12
    assert model.n_iter_ == 5


# ---------------------------------------------------------------------------
# data paths: every one comes from the same statistics


def fit_paths(data, covariance_type, sample_weight=None, n_iter=8, **params):
    """A fit of fixed length (plain iterations, no early stop) from a fixed start."""
    model = BayesianGaussianMixture(
        6, covariance_type=covariance_type, max_iter=n_iter, tol=0.0, accelerate=False,
        random_state=0, **params,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        return model.fit(data, sample_weight=sample_weight)


def assert_same_posterior(a, b, rtol=1e-10):
    for name in POSTERIOR + PRIORS:
        assert_close_arrays(getattr(a, name), getattr(b, name), rtol=rtol, what=name)
    assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=rtol)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_memmap_and_chunks_fit_as_in_memory(tmp_path, small_chunks, covariance_type, weighted):
    from test_out_of_core import make_data, save_chunks

    X, w = make_data()
    w = w if weighted else None
    reference = fit_paths(X, covariance_type, w)
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    assert_same_posterior(fit_paths(mapped, covariance_type, w), reference)
    chunks = save_chunks(tmp_path, X, [0, 1000, 1001, 3500, 6000], w)
    assert_same_posterior(fit_paths(chunks, covariance_type), reference)
    assert reference.n_iter_ == 8


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_are_repetitions(covariance_type, prior_type):
    X = blobs(6, n_per=100)
    counts = np.random.RandomState(0).randint(0, 4, size=len(X))
    start = fit_paths(X, covariance_type, n_iter=2, weight_concentration_prior_type=prior_type)
    fits = []
    for data, weight in ((X, counts.astype(float)), (np.repeat(X, counts, axis=0), None)):
        model = fit_paths(X, covariance_type, n_iter=2, weight_concentration_prior_type=prior_type)
        model.set_params(warm_start=True, max_iter=10)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastem.ConvergenceWarning)
            fits.append(model.fit(data, sample_weight=weight))
    assert start.n_iter_ == 2
    assert_same_posterior(*fits, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_keeps_its_dtype_and_agrees_with_float64(covariance_type):
    X = blobs(7, n_per=300) + 100.0  # away from 0: moments around the means, not raw sums
    single = fit_paths(X.astype(np.float32), covariance_type, n_iter=15)
    double = fit_paths(X, covariance_type, n_iter=15)
    for name in POSTERIOR + PRIORS:
        assert getattr(single, name).dtype == np.float32, name
    assert single.predict_proba(X.astype(np.float32)).dtype == np.float32
    for name in POSTERIOR:
        assert_close_arrays(getattr(single, name), getattr(double, name), rtol=2e-3, what=name)
    assert_allclose(single.lower_bound_, double.lower_bound_, rtol=1e-4)


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(fastem.data, "CHUNK_BYTES", 512 * 2 * 8)


# ---------------------------------------------------------------------------
# model files and scikit-learn conversion


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_model_file_round_trip(tmp_path, covariance_type, prior_type):
    X = blobs(8)
    model = fit_paths(
        X, covariance_type, n_iter=5, weight_concentration_prior_type=prior_type,
        mean_prior=X.mean(axis=0) + 0.5,
    )
    model.save(tmp_path / "m.npz")
    loaded = fastem.load(tmp_path / "m.npz")
    assert type(loaded) is BayesianGaussianMixture
    assert loaded.get_params().keys() == model.get_params().keys()
    for name in POSTERIOR + PRIORS:
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name), err_msg=name)
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    assert loaded.lower_bounds_ == model.lower_bounds_


@pytest.mark.parametrize(
    "name, value, match",
    [
        ("mean_precision_", lambda v: -v, "must be positive"),
        ("degrees_of_freedom_", lambda v: v * 0 + 1.0, "must exceed n_features - 1 = 2"),
        ("weights_", lambda v: v[::-1], "disagrees with 'weight_concentration_'"),
        ("covariance_prior_", lambda v: -v, "positive definite"),
    ],
)
def test_damaged_model_file_is_refused(tmp_path, name, value, match):
    model = fit_paths(blobs(8), "full", n_iter=3)
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as f:
        arrays = dict(f)
    arrays[name] = value(arrays[name])
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=match):
        fastem.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_to_and_from_sklearn(covariance_type, prior_type):
    X = blobs(9)
    model = fit_paths(X, covariance_type, n_iter=6, weight_concentration_prior_type=prior_type)
    estimator = model.to_sklearn()
    assert isinstance(estimator, SklearnBGM)
    assert estimator.init_params == "kmeans"
    assert_allclose(estimator.predict_proba(X), model.predict_proba(X), rtol=1e-12, atol=1e-300)
    assert_allclose(estimator.score_samples(X), model.score_samples(X), rtol=1e-12)
    samples, _ = estimator.sample(10)
    assert samples.shape == (10, 3)
    # scikit-learn's own fit, converted, predicts as scikit-learn does
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SklearnConvergenceWarning)
        fitted = SklearnBGM(
            n_components=4, covariance_type=covariance_type,
            weight_concentration_prior_type=prior_type, random_state=0,
        ).fit(X)
    back = BayesianGaussianMixture.from_sklearn(fitted)
    assert back.init_params == "kmeans"
    for name in POSTERIOR + PRIORS:
        assert_close_arrays(getattr(back, name), getattr(fitted, name), rtol=1e-15, what=name)
    assert_allclose(back.predict_proba(X), fitted.predict_proba(X), rtol=1e-10, atol=1e-300)
    assert_allclose(back.score(X), fitted.score(X), rtol=1e-12)
    again = BayesianGaussianMixture.from_sklearn(model.to_sklearn())
    for name in POSTERIOR + PRIORS:
        np.testing.assert_array_equal(getattr(again, name), getattr(model, name), err_msg=name)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_the_fitted_priors_passed_back_give_the_same_fit(tmp_path, covariance_type):
    # the fitted priors are 0-d arrays (and arrays for mean_prior_, covariance_prior_):
    # passed back as the hyper-parameters, they give the same priors and posterior, a
    # model file keeps them, and scikit-learn refits the converted estimator
    X = blobs(9)
    model = fit_paths(X, covariance_type, n_iter=4)
    given = {name[:-1]: getattr(model, name) for name in PRIORS}
    again = fit_paths(X, covariance_type, n_iter=4, **given)
    assert_same_posterior(again, model, rtol=1e-15)
    again.save(tmp_path / "model.npz")
    assert_same_posterior(fastem.load(tmp_path / "model.npz"), model, rtol=0)
    estimator = sklearn.base.clone(again.to_sklearn())
    for name in ("weight_concentration_prior", "mean_precision_prior", "degrees_of_freedom_prior"):
        assert type(estimator.get_params()[name]) is float
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SklearnConvergenceWarning)
        estimator.set_params(max_iter=2).fit(X)


@pytest.mark.parametrize("prior", [np.array(1.5), np.array([1.5]), [1.5]])
def test_a_spherical_covariance_prior_is_taken_as_an_array_like_as_in_sklearn(prior):
    X = blobs(9)
    reference = fit_paths(X, "spherical", n_iter=4, covariance_prior=1.5)
    assert_same_posterior(fit_paths(X, "spherical", n_iter=4, covariance_prior=prior), reference,
                          rtol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SklearnConvergenceWarning)
        fitted = SklearnBGM(n_components=3, covariance_type="spherical", covariance_prior=prior,
                            max_iter=5, random_state=0).fit(X)
    back = BayesianGaussianMixture.from_sklearn(fitted)
    assert back.covariance_prior_.shape == ()
    assert_allclose(back.predict_proba(X), fitted.predict_proba(X), rtol=1e-10, atol=1e-300)
    with pytest.raises(ValueError, match=r"covariance_prior must be a number for covariance_type="
                                         r"'spherical' .* got an array of shape \(3,\)"):
        BayesianGaussianMixture(2, covariance_type="spherical", covariance_prior=np.ones(3)).fit(X)


def test_from_sklearn_needs_a_fitted_estimator():
    with pytest.raises(ValueError, match="not fitted"):
        BayesianGaussianMixture.from_sklearn(SklearnBGM())


@pytest.mark.filterwarnings("ignore")
def test_from_sklearn_of_another_class_names_the_class_it_takes():
    """Not a raw AttributeError, nor 'not fitted' for a fitted estimator of another kind."""
    from sklearn.cluster import KMeans
    from sklearn.mixture import GaussianMixture as SklearnGM

    X = np.random.default_rng(0).normal(size=(60, 2))
    cases = [
        (fastem.GaussianMixture, SklearnBGM(n_components=2, random_state=0).fit(X),
         r"takes a fitted sklearn\.mixture\.GaussianMixture, got sklearn\.mixture\."
         r"BayesianGaussianMixture; use fastem\.BayesianGaussianMixture\.from_sklearn"),
        (BayesianGaussianMixture, SklearnGM(2, random_state=0).fit(X),
         r"use fastem\.GaussianMixture\.from_sklearn"),
        (fastem.GaussianMixture, KMeans(2, n_init=1, random_state=0).fit(X),
         r"got sklearn\.cluster\._kmeans\.KMeans\.$"),
    ]
    for cls, estimator, match in cases:
        with pytest.raises(TypeError, match=match):
            cls.from_sklearn(estimator)


def test_float32_priors_keep_the_bounds_and_the_definiteness_float64_gives_them():
    """Priors that float64 holds within their bounds are held by float32 fits too: degrees
    of freedom just above D - 1 stay above it, a prior that rounds to 0 is a clear
    error, and the default covariance prior of collinear features (singular) is stored
    positive definite, so that a float32 fit (it raised an ill-defined covariance where
    float64 fitted) and a refit from the stored prior both work."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(500, 3)), rng.normal(size=(500, 3)) + 6])
    with warnings.catch_warnings():
        # max_iter=50 cuts a move short of converging, which the fit says; beside the point here
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = fastem.BayesianGaussianMixture(
            4, degrees_of_freedom_prior=2 + 1e-7, random_state=0, max_iter=50
        ).fit(X.astype(np.float32))
    assert model.degrees_of_freedom_prior_ > 2 and np.isfinite(model.lower_bound_)
    with pytest.raises(ValueError, match="rounds to 0 in float32"):
        fastem.BayesianGaussianMixture(4, mean_precision_prior=1e-46).fit(X.astype(np.float32))

    collinear = rng.normal(size=(3000, 5)) * 300
    collinear[:, 1] = 3 * collinear[:, 0]
    for covariance_type in ("full", "tied"):
        for n_components in (2, 3, 5, 12):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = fastem.BayesianGaussianMixture(
                    n_components, covariance_type=covariance_type, random_state=0, max_iter=30
                ).fit(collinear.astype(np.float32))
                prior = np.asarray(model.covariance_prior_, dtype=np.float64)
                assert np.linalg.eigvalsh(prior)[0] > 0
                fastem.BayesianGaussianMixture(
                    n_components, covariance_type=covariance_type, random_state=0, max_iter=30,
                    covariance_prior=model.covariance_prior_,
                ).fit(collinear.astype(np.float32))


def test_float32_prior_of_features_in_different_units_is_the_data_covariance():
    """The float32 ridge is relative to each feature's variance, and only for a prior that
    rounding could make indefinite: features in units 1e5 apart keep the data's
    covariance as their prior, and float32 finds float64's three clusters (an absolute
    ridge, sized by the largest variance, had swamped the small feature and merged them)."""
    rng = np.random.default_rng(0)
    z = rng.integers(3, size=3000)
    X = np.column_stack([rng.normal(size=3000) * 1000.0,
                         np.array([0.0, 0.05, 0.10])[z] + 0.01 * rng.normal(size=3000)])
    fits = {}
    for dtype in (np.float64, np.float32):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits[dtype] = BayesianGaussianMixture(5, random_state=0, max_iter=500).fit(X.astype(dtype))
    assert_allclose(fits[np.float32].covariance_prior_, fits[np.float64].covariance_prior_,
                    rtol=1e-6)
    assert_allclose(np.sort(fits[np.float32].weights_), np.sort(fits[np.float64].weights_),
                    atol=0.01)
    assert (fits[np.float32].weights_ > 0.3).sum() == 3


COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


def standard_normal_data(dtype):
    return np.random.default_rng(0).standard_normal((500, 2)).astype(dtype)


# (prior, dtype, covariance types that refuse it): far mean priors, alone or pulled
# hard, whose pull on the covariances leaves the dtype's range ("covariances_
# contains NaN" before): refused before EM.
FAR_MEAN_PRIORS = [
    (dict(mean_prior=[1e200, -1e200]), np.float64, COVARIANCE_TYPES),
    (dict(mean_prior=[1e155, -1e155]), np.float64, COVARIANCE_TYPES),
    (dict(mean_prior=[1e153, -1e153], mean_precision_prior=1e250), np.float64, COVARIANCE_TYPES),
    (dict(mean_prior=[1e30, -1e30]), np.float32, COVARIANCE_TYPES),
    (dict(mean_prior=[1e20, -1e20]), np.float32, COVARIANCE_TYPES),
]


@pytest.mark.parametrize("priors, dtype, covariance_type", [
    (priors, dtype, covariance_type)
    for priors, dtype, refused in FAR_MEAN_PRIORS for covariance_type in refused
])
def test_a_mean_prior_too_far_for_the_m_step_is_refused_naming_it(
        priors, dtype, covariance_type):
    """A mean_prior whose pull on the covariances (mean_precision_prior times the
    squared distance to the data) leaves the dtype's range is refused before EM, by
    name, with the distance that works. Within it, 'diag' and 'spherical' fit; 'full'
    and 'tied' covariances lose their positive definiteness to the pull's rounding
    there, and the M-step names mean_prior."""
    X = standard_normal_data(dtype)
    model = BayesianGaussianMixture(2, covariance_type=covariance_type, random_state=0, **priors)
    with pytest.raises(ValueError, match=r"mean_prior is .* from the data's mean, too far") as info:
        model.fit(X)
    message = str(info.value)
    assert "Move mean_prior towards the data (within" in message
    assert "mean_precision_prior" in message
    assert "NaN" not in message and "ill-defined" not in message
    reach = float(re.search(r"within ([0-9.e+-]+) of their mean", message).group(1))
    within = np.array([1.0, -1.0]) * 0.5 * reach / np.sqrt(2)
    model = BayesianGaussianMixture(2, covariance_type=covariance_type, random_state=0,
                                    max_iter=50, **dict(priors, mean_prior=within))
    if covariance_type in ("full", "tied"):
        with pytest.raises(ValueError, match=r"covariance is not positive definite: "
                           r"mean_prior is [0-9.e+]+ from the component's mean"):
            model.fit(X)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # far priors can leave components unconverged
        fitted = model.fit(X)
    assert np.isfinite(fitted.covariances_).all() and np.isfinite(fitted.lower_bound_)


# Far mean priors within the range whose pull's rounding costs 'full' and 'tied'
# covariances their positive definiteness ("ill-defined empirical covariance" before,
# with no word of the prior).
SWAMPING_MEAN_PRIORS = [
    (dict(mean_prior=[1e15, -1e15]), np.float64),
    (dict(mean_prior=[1e10, -1e10], mean_precision_prior=1e300), np.float64),
    (dict(mean_prior=[1e15, -1e15]), np.float32),
]


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("priors, dtype", SWAMPING_MEAN_PRIORS)
def test_a_mean_prior_whose_pull_swamps_a_covariance_is_named_by_the_m_step(
        priors, dtype, covariance_type):
    """Where the M-step meets a covariance that is not positive definite under a
    pull far beyond the component's scatter, the error names mean_prior, its
    distance and the fix, not only an ill-defined empirical covariance."""
    model = BayesianGaussianMixture(2, covariance_type=covariance_type, random_state=0, **priors)
    with pytest.raises(ValueError, match=r"covariance is not positive definite: mean_prior is "
                       r"[0-9.e+]+ from the component's mean") as info:
        model.fit(standard_normal_data(dtype))
    message = str(info.value)
    assert f"mean_precision_prior ({priors.get('mean_precision_prior', 1.0):.3g})" in message
    assert message.endswith(
        "Move mean_prior towards the data, or lower mean_precision_prior.")
    assert "ill-defined" not in message


def _anisotropic_units():
    rng = np.random.default_rng(0)
    n = 2000
    return np.column_stack(
        [rng.normal(4e5, 5e4, n), rng.normal(40, 10, n), np.ones(n)]), dict(
            n_components=3, mean_prior=np.zeros(3))


def _income_and_rate():
    rng = np.random.default_rng(1)
    n = 2000
    return np.column_stack([rng.normal(5e4, 2e4, n), rng.normal(0.05, 0.01, n)]), dict(
        n_components=2, mean_prior=[5e4 + 300 * 2e4, 0.05])


def _far_on_standard_normal():
    return standard_normal_data(np.float64), dict(n_components=2, mean_prior=[7e7, 0.0])


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", [_anisotropic_units, _income_and_rate, _far_on_standard_normal])
def test_a_far_mean_prior_the_m_step_computes_is_fitted(case, dtype, covariance_type):
    """Features in different units (one constant), or a mean_prior 7e7 spreads from
    N(0, 1) data, give positive definite covariances: they are fitted, not refused
    for a rounding bound that the data's covariance sets (the components' are not
    bounded by it)."""
    X, params = case()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # far priors can leave components unconverged
        model = BayesianGaussianMixture(
            covariance_type=covariance_type, random_state=0, **params).fit(X.astype(dtype))
    covariances = np.asarray(model.covariances_, dtype=np.float64).reshape(
        -1, X.shape[1], X.shape[1])
    assert np.isfinite(model.lower_bound_) and np.isfinite(model.means_).all()
    assert min(np.linalg.eigvalsh(c)[0] for c in covariances) > 0


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("priors", [
    dict(mean_prior=[300.0, -300.0]),
    dict(mean_prior=[1e3, -1e3], mean_precision_prior=1e10),
    dict(mean_prior=[3e4, -3e4], mean_precision_prior=1e-3),
])
def test_a_mean_prior_hundreds_of_spreads_away_is_fitted_and_saved(
        covariance_type, dtype, priors, tmp_path):
    """Far but ordinary mean priors are not refused: the fit is finite and saves."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BayesianGaussianMixture(
            2, covariance_type=covariance_type, random_state=0, max_iter=50, **priors
        ).fit(standard_normal_data(dtype))
    assert np.isfinite(model.covariances_).all() and np.isfinite(model.means_).all()
    model.save(tmp_path / "model.npz")


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_a_large_mean_precision_prior_with_a_far_mean_prior_keeps_the_means_finite(
        covariance_type):
    """The posterior means are Bishop's (beta0 m0 + N_k x_k) / beta_k with the weights
    divided first: beta0 * m0 (1e300 * 1e10) overflowed into NaN means before. The
    prior holds the means at mean_prior. ('full' and 'tied' lose their covariances'
    positive definiteness to such a pull, above.)"""
    priors = dict(mean_prior=[1e10, -1e10], mean_precision_prior=1e300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BayesianGaussianMixture(
            2, covariance_type=covariance_type, random_state=0, max_iter=50, **priors
        ).fit(standard_normal_data(np.float64))
    assert_allclose(model.means_, np.tile(priors["mean_prior"], (2, 1)), rtol=1e-12)
    assert np.isfinite(model.covariances_).all()


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("scale", [1e-300, 1e-44, 1e-39])
def test_a_float32_covariance_prior_below_the_normal_range_is_refused(covariance_type, scale):
    """float32 rounds entries below its smallest normal number absolutely: 1e-300 * I
    became 0, fitted, and could not be saved ("covariance_prior_ is not positive
    definite"). The fit refuses it by name; float64 fits it."""
    prior = scale * np.array([[1.0, 0.5], [0.5, 1.0]])
    model = BayesianGaussianMixture(2, covariance_type=covariance_type, covariance_prior=prior,
                                    random_state=0, max_iter=50)
    with pytest.raises(ValueError, match="covariance_prior has a variance of .* below float32's"):
        model.fit(standard_normal_data(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(standard_normal_data(np.float64))
    assert np.isfinite(model.covariances_).all()


@pytest.mark.parametrize("prior_type", ["dirichlet_process", "dirichlet_distribution"])
@pytest.mark.parametrize("name, value, dtype, n_components", [
    ("weight_concentration_prior", 1e-310, np.float64, 3),  # subnormal: digamma is -inf
    ("weight_concentration_prior", 3e-308, np.float64, 8),  # normal, but 8 sticks overflow
    ("weight_concentration_prior", 1e-40, np.float32, 3),  # float32 holds it, not -1 / it
    ("weight_concentration_prior", 2e-38, np.float32, 8),
    ("mean_precision_prior", 1e-310, np.float64, 3),  # -n_features / (2 * it) is -inf
    ("mean_precision_prior", 1e-40, np.float32, 3),
])
def test_priors_that_put_a_component_without_data_beyond_the_dtype_are_refused(
        name, value, dtype, n_components, prior_type):
    """The expected log-weight of a component without data, about -1 / the concentration per
    stick and -n_features / (2 mean precision), beyond the dtype: NaN and RuntimeWarnings
    in every pass before; a ValueError naming the prior and the least value now."""
    X = blobs(0, n_per=50, n_features=2).astype(dtype)
    model = BayesianGaussianMixture(
        n_components, weight_concentration_prior_type=prior_type, random_state=0,
        **{name: value})
    with pytest.raises(ValueError, match=rf"{name}=.* is too small for {np.dtype(dtype).name} "
                                         rf"arithmetic.*Pass {name} >= ") as raised:
        model.fit(X)
    # the advice of float64 is given only where the fit is not float64 already
    assert ("fit the data as float64" in str(raised.value)) == (dtype == np.float32)
    least = float(
        re.search(rf"Pass {name} >= ([0-9][0-9.e+-]*[0-9])", str(raised.value)).group(1))
    fitted = BayesianGaussianMixture(
        n_components, weight_concentration_prior_type=prior_type, random_state=0, max_iter=20,
        **{name: least * 1.01})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        fitted.fit(X)
    assert np.isfinite(fitted.lower_bound_) and np.isfinite(fitted.lower_bounds_).all()
    assert np.isfinite(fitted.predict_proba(X)).all()


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_a_float32_fit_continues_on_float64_data(covariance_type):
    """warm_start=True from a float32 model on float64 data starts from its parameters cast
    to float64. Its precisions and their factors agree to float32's rounding, and the
    priors set on the run marked the cast parameters as assigned by hand: their check at
    float64's rounding refused them (ParametersDisagree, 'refit it'), every time."""
    X = blobs(0, n_features=2)
    model = BayesianGaussianMixture(3, covariance_type=covariance_type, random_state=0)
    model.fit(X.astype(np.float32))
    start = model.lower_bound_
    model.set_params(warm_start=True).fit(X)
    assert model.converged_ and model.means_.dtype == np.float64
    assert model.lower_bound_ >= start - 1e-6
