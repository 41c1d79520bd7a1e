"""Degenerate data: for every covariance type, a sensible model or a clear error.

The behaviour chosen for each case (see docs/reliability.md):

* ``reg_covar`` (default 1e-6) keeps every covariance positive definite, so
  identical points, constant or duplicated features and collapsed components
  fit; with ``reg_covar=0`` the same data raise a ``ValueError`` that names
  ``reg_covar`` as the remedy.
* A component that holds no data is kept at a weight of exactly 0, its mean
  where it was and its covariance ``reg_covar``, and takes no probability from
  any point; the fit warns with :class:`fastem.EmptyComponentWarning`.
* Second moments are taken around the current means, so data far from the
  origin fit as well as centred data.

No case may produce a NaN parameter.
"""

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastem
from fastem import ConvergenceWarning, EmptyComponentWarning, GaussianMixture

from family_checks import fitted_by_path
from reference import exponential_log_prob, gaussian_log_prob, log_resp_and_norm, poisson_log_prob

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
DTYPES = (np.float64, np.float32)


def blobs(n=120, n_features=3, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.zeros((2, n_features))
    centres[1, 0] = 5.0
    X = np.concatenate([c + rng.normal(size=(n // 2, n_features)) for c in centres])
    return X[rng.permutation(n)]


def assert_sane(model):
    """Finite parameters, weights summing to 1, symmetric positive definite covariances."""
    for name in model._parameter_names:
        assert np.isfinite(getattr(model, name)).all(), name
    assert_allclose(model.weights_.sum(), 1.0, rtol=1e-6)
    cov = np.asarray(model.covariances_, dtype=np.float64)
    if model.covariance_type in ("full", "tied"):
        for c in cov.reshape(-1, cov.shape[-1], cov.shape[-1]):
            assert_allclose(c, c.T, rtol=1e-6, atol=1e-12)
            assert np.linalg.eigvalsh(c)[0] > 0
    else:
        assert (cov > 0).all()


def full_covariances(model):
    cov = np.asarray(model.covariances_, dtype=np.float64)
    K, D = model.means_.shape
    if model.covariance_type == "full":
        return cov
    if model.covariance_type == "tied":
        return np.broadcast_to(cov, (K, D, D))
    if model.covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return np.stack([np.eye(D) * c for c in cov])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_identical_points(covariance_type, dtype):
    X = np.full((40, 3), 2.5, dtype=dtype)
    model = GaussianMixture(1, covariance_type=covariance_type, random_state=0).fit(X)
    assert_sane(model)
    assert_allclose(model.means_, [[2.5, 2.5, 2.5]])
    assert_allclose(full_covariances(model)[0], 1e-6 * np.eye(3), rtol=1e-4)
    with pytest.warns(EmptyComponentWarning, match=r"1 of 2 components hold no data .*n_components=1"):
        model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    assert_sane(model)
    assert_array_equal(model.predict(X), np.zeros(40))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_identical_points_without_regularisation_ask_for_reg_covar(covariance_type):
    with pytest.raises(ValueError, match="ill-defined empirical covariance.*increase reg_covar"):
        GaussianMixture(1, covariance_type=covariance_type, reg_covar=0.0).fit(np.ones((10, 2)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fewer_distinct_points_than_components(covariance_type, dtype):
    X = np.repeat(np.array([[0.0, 1.0], [3.0, -2.0]], dtype=dtype), 15, axis=0)
    with pytest.warns(EmptyComponentWarning, match=r"2 of 4 components hold no data .*\(indices \[2, 3\]\)"):
        model = GaussianMixture(4, covariance_type=covariance_type, random_state=0).fit(X)
    assert_sane(model)
    filled = model.weights_ > 0.1
    assert filled.sum() == 2
    assert_allclose(model.weights_[filled], [0.5, 0.5], rtol=1e-5)
    assert_allclose(np.sort(model.means_[filled], axis=0), [[0.0, -2.0], [3.0, 1.0]], atol=1e-5)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_constant_feature(covariance_type, dtype):
    X = blobs()
    X[:, 1] = 7.0
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X.astype(dtype))
    assert_sane(model)
    assert_allclose(model.means_[:, 1], 7.0)
    if covariance_type != "spherical":  # spherical averages the variance over features
        assert_allclose(full_covariances(model)[:, 1, 1], 1e-6, rtol=1e-2)


def _three_blobs(scale):
    """Three blobs of 200 points (standard deviation 0.5), feature 0 multiplied by ``scale``."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(200, 2)) * 0.5 + c for c in ([0, 0], [5, 0], [0, 5])])
    return X * [scale, 1.0], np.repeat([0, 1, 2], 200)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "estimator",
    [*(dict(covariance_type=c) for c in ("full", "tied", "diag")), "bayesian"],
    ids=["full", "tied", "diag", "bayesian"],
)
def test_regularization_that_swamps_a_feature_warns(estimator, dtype):
    """reg_covar is in the data's units: on a feature in large units it merges components.

    Blobs 10 standard deviations apart along feature 0 merge when that
    feature is scaled by 3e-4 (its variance 5e-7 is half of reg_covar), from
    any start, also the true means: the fit warns, names the feature and the
    fix, and the fix separates them. At 1e-2 and 1e-3 they stay apart; at
    1e-2 the fit is silent, at 1e-3 each blob's variance along the feature
    (2.5e-7) is a quarter of reg_covar, and the fit says so of the components.
    """
    from sklearn.metrics import adjusted_rand_score

    def make(**kwargs):
        if estimator == "bayesian":
            return fastem.BayesianGaussianMixture(n_components=3, random_state=0, **kwargs)
        return GaussianMixture(3, random_state=0, **estimator, **kwargs)

    X, y = _three_blobs(1e-2)
    assert adjusted_rand_score(y, make().fit(X.astype(dtype)).predict(X)) == 1.0
    X, y = _three_blobs(1e-3)
    with pytest.warns(fastem.RegularizationWarning, match=r"variance in feature 0 \(2\."):
        model = make().fit(X.astype(dtype))
    assert adjusted_rand_score(y, model.predict(X)) == 1.0
    X, y = _three_blobs(3e-4)
    with pytest.warns(fastem.RegularizationWarning, match=r"feature\(s\) 0 \(variance 5\.2") as record:
        make().fit(X.astype(dtype))
    advised = float(str(record[0].message).rsplit("at most ", 1)[1].rstrip("."))
    with warnings.catch_warnings():
        # the advice comes from the merged fit: the separated blobs are narrower
        # along the feature, and reg_covar may still be a quarter of their variance
        warnings.filterwarnings("ignore", r"reg_covar=\S+ is at least a quarter of component",
                                fastem.RegularizationWarning)
        model = make(reg_covar=advised).fit(X.astype(dtype))
    assert adjusted_rand_score(y, model.predict(X)) == 1.0


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
def test_regularization_that_swamps_a_feature_warns_in_a_stream(covariance_type):
    """partial_fit checks its running statistics as fit checks its last pass: a stream
    on the feature in large units warns at its first step; at 1e-2 it is silent
    ('spherical' averages the variance over the features, as in the test above)."""
    X, _ = _three_blobs(1e-2)
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    for batch in np.array_split(np.random.default_rng(1).permutation(X), 4):
        model.partial_fit(batch)
    X, _ = _three_blobs(3e-4)
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    with pytest.warns(fastem.RegularizationWarning, match=r"feature\(s\) 0 \(variance 5\."):
        model.partial_fit(np.random.default_rng(1).permutation(X)[:300])


@pytest.mark.parametrize("scale", [1e-9, 1e-12, 1e-15])
def test_regularization_that_swamps_features_far_below_it_warns(scale):
    """Features whose whole spread is below eps * reg_covar (farads, nanometres) merge
    the blobs all the same; their variance is taken without reg_covar, whose rounding
    would hide it, so they warn as a spread of 1e-9 does."""
    X, _ = _three_blobs(1.0)
    with pytest.warns(fastem.RegularizationWarning, match=r"feature\(s\) 0 \(variance .*e-"):
        GaussianMixture(3, random_state=0).fit(X * scale)


@pytest.mark.parametrize("scale", [1e-150, 1e-170, 1e-310])
@pytest.mark.parametrize("estimator", ["full", "diag", "spherical", "bayesian", "stream"])
def test_regularization_that_swamps_features_whose_squares_underflow_warns(estimator, scale):
    """Below about 1e-146 a feature's squares leave float64's normal range: its second
    moments read 0 whether it varies or not, reg_covar merges the blobs, and the fit
    says so (the constant-feature rule, which the rounding of its squares decides,
    cannot tell there). A feature of zeros stays silent."""
    X, _ = _three_blobs(1.0)
    X = np.column_stack([X[:, 0] * scale, X[:, 1], np.zeros(len(X))])
    model = (fastem.BayesianGaussianMixture(3, random_state=0) if estimator == "bayesian"
             else GaussianMixture(3, covariance_type="full" if estimator == "stream" else estimator,
                                  random_state=0))
    with pytest.warns(fastem.RegularizationWarning) as record:
        if estimator == "stream":
            model.partial_fit(X)
        else:
            model.fit(X)
    messages = [str(r.message) for r in record if r.category is fastem.RegularizationWarning]
    assert len(messages) == 1
    assert re.match(r"The values of feature\(s\) 0 \(mean .*e-\d+\) are too small for float64's "
                    r"squares .*Standardise the features", messages[0])


def test_a_feature_with_a_tiny_mean_and_a_computed_variance_does_not_warn():
    """Values of +-1 with a mean of about 1e-203: the squared mean underflows, the variance
    does not, and the feature is neither constant nor swamped."""
    feature = np.r_[np.tile([-1.0, 1.0], 250), 1e-200]
    X = np.c_[np.random.default_rng(0).normal(size=len(feature)), feature]
    GaussianMixture(1).fit(X)  # warnings are errors


def _narrow_clusters(dtype, spread=1e-5):
    """Two clusters of 300 points whose spread along feature 0 is ``spread``, that
    feature's overall standard deviation 1 (the clusters at -1 and 1)."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal([-1.0, 0.0], [spread, 1.0], (300, 2)),
                        rng.normal([1.0, 3.0], [spread, 1.0], (300, 2))])
    return X.astype(dtype)


_NARROW_ESTIMATORS = {
    **{ct: lambda ct=ct, **kw: GaussianMixture(2, covariance_type=ct, random_state=0, **kw)
       for ct in ("full", "tied", "diag")},
    **{f"bayesian-{ct}": lambda ct=ct, **kw: fastem.BayesianGaussianMixture(
        2, covariance_type=ct, random_state=0, **kw) for ct in ("full", "tied", "diag")},
}


def _fitted_by(path, model, X):
    """``model`` fitted to ``X`` by ``fit`` or ``fit`` with half the entries of feature 1
    missing, by ``partial_fit`` in four batches, or from a Dask array."""
    batches = np.array_split(np.random.default_rng(1).permutation(X), 4)
    return fitted_by_path(path, model, X, batches=batches, missing_rows=slice(None, None, 2),
                          chunk_rows=150)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "estimator, path",
    [(estimator, path) for estimator in _NARROW_ESTIMATORS if not estimator.startswith("bayesian")
     for path in ("fit", "partial_fit", "missing", "dask")],
)
def test_regularization_that_swamps_the_spread_within_components_warns(estimator, path, dtype):
    """Clusters of spread 1e-5 along a feature of overall spread 1: reg_covar swamps
    each cluster's variance there (1e-10), not the feature's, and the fitted
    variances are reg_covar's, 1e4 times the data's. The fit names the components
    ('tied': the pooled variance), the feature, and the fixes; with the advised
    reg_covar it is silent and the fitted variance is the data's."""
    X = _narrow_clusters(dtype)
    where = (r"the pooled variance in feature 0" if estimator.endswith("tied")
             else r"component \d's variance in feature 0")
    with pytest.warns(fastem.RegularizationWarning,
                      match=rf"reg_covar=1e-06 is at least a quarter of {where} \(\d\.\d+e-1[01]\)"
                            r".* up to 1\.\d+e\+04 times the data's") as record:
        _fitted_by(path, _NARROW_ESTIMATORS[estimator](), X)
    message = str(record[0].message)
    assert "feature 1" not in message
    advised = float(re.search(r"at most (\S+),", message).group(1))
    with warnings.catch_warnings():
        # float32 holds the means at +-1 to 6e-8 against a spread of 1e-5: a stream's
        # means lie about 5e-6 per sample below the float64 M-step, and it says so
        warnings.filterwarnings("ignore", "partial_fit stores its parameters in float32",
                                ConvergenceWarning)
        model = _fitted_by(path, _NARROW_ESTIMATORS[estimator](reg_covar=advised), X)
    if not estimator.startswith("bayesian"):  # a prior, not reg_covar, sets its variances
        assert_allclose(np.sort(full_covariances(model)[:, 0, 0]), 1e-10, rtol=0.3)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_a_variational_mixtures_narrow_clusters_keep_the_priors_variance_silently(
        covariance_type, dtype):
    """A variational mixture's posterior covariance holds the prior (W_0^{-1} / nu_k): its
    narrow clusters' fitted variances are the prior's (6.6e-3 for a spread of 1e-5), of
    which reg_covar is 1.5e-4, and lowering reg_covar changes nothing; nor does a
    component on one value of a binary or integer-coded feature (mtcars' vs and cyl),
    whose variance there is the prior's. No RegularizationWarning blames reg_covar."""
    X = _narrow_clusters(dtype)
    X = np.c_[X, (X[:, 0] > 0) * np.round(np.abs(X[:, 1]))]  # a feature of whole numbers
    spread = fastem.BayesianGaussianMixture(2, covariance_type=covariance_type, random_state=0)
    model = spread.fit(X)  # warnings are errors here
    assert (np.asarray(model.covariances_) > 1e3 * model.reg_covar).any()


@pytest.mark.parametrize("estimator", ["spherical"])
def test_regularization_that_swamps_a_spherical_variance_warns(estimator):
    """'spherical' components have one variance: clusters of spread 1e-5 in every feature
    warn, naming the components; spread 1e-5 in one feature of two does not swamp
    the average, which is the model's variance."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-1.0, 1e-5, (300, 2)), rng.normal(1.0, 1e-5, (300, 2))])
    cls = fastem.BayesianGaussianMixture if estimator.startswith("bayesian") else GaussianMixture
    with pytest.warns(fastem.RegularizationWarning,
                      match=r"at least a quarter of component \d's variance \(\d\.\d+e-1[01]\)"):
        cls(2, covariance_type="spherical", random_state=0).fit(X)
    cls(2, covariance_type="spherical", random_state=0).fit(_narrow_clusters(np.float64))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
def test_regularization_within_components_warns_beside_an_empty_component(covariance_type):
    """Component 0 loses every point (a mean far from the data): the narrow clusters of the
    others still warn ('tied': their pooled variance), and the empty one is not named."""
    X = _narrow_clusters(np.float64)
    with pytest.warns(EmptyComponentWarning):
        with pytest.warns(fastem.RegularizationWarning,
                          match=r"at least a quarter of (the pooled|component [12]'s) variance "
                                r"in feature 0 \(\d\.\d+e-1[01]\)") as record:
            GaussianMixture(3, covariance_type=covariance_type, random_state=0,
                            means_init=[[50.0, 50.0], [-1.0, 0.0], [1.0, 3.0]]).fit(X)
    messages = [str(r.message) for r in record if r.category is fastem.RegularizationWarning]
    assert len(messages) == 1 and "component 0" not in messages[0]


def test_regularization_within_components_names_columns_and_spares_points_on_one_value():
    """Components named by number and features by column name; a component whose points
    share one value in a feature (a constant column, identical rows) has no spread for
    reg_covar to swamp, nor has an empty one."""
    pd = pytest.importorskip("pandas")
    X = _narrow_clusters(np.float64)
    frame = pd.DataFrame({"width_mm": X[:, 0], "depth_mm": X[:, 1], "site": 7.0})
    with pytest.warns(fastem.RegularizationWarning, match="variance in feature 'width_mm'") as record:
        GaussianMixture(2, random_state=0).fit(frame)
    assert len(record) == 1 and "depth_mm" not in str(record[0].message)
    assert "site" not in str(record[0].message)
    # a cluster of identical rows beside a spread one: silent
    GaussianMixture(2, random_state=0).fit(np.r_[np.full((50, 2), 3.0), X[:, 1:] @ [[1.0, 1.0]]])


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_a_component_collapsed_on_a_rounded_measurement_is_not_called_narrow(
        covariance_type, seed):
    """A component on one repeated value of a feature rounded to 0.01 (durations of 4 for
    "long", as in MASS's geyser) keeps a variance of about 1e-25 from its neighbours' tiny
    responsibilities: a collapse, which select_n_components flags, not a cluster narrower
    than reg_covar, for which lowering reg_covar to 1e-27 would be the advice."""
    rng = np.random.default_rng(seed)
    waiting = np.r_[rng.normal(80, 6, 120), rng.normal(55, 6, 100), rng.normal(78, 6, 60)]
    duration = np.r_[np.round(rng.normal(4.3, 0.4, 120), 2), np.round(rng.normal(2.0, 0.2, 100), 2),
                     np.full(60, 4.0)]
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=seed)
    model.fit(np.c_[waiting, duration])  # warnings are errors here
    spike = np.argmin(model.covariances_[:, 1, 1] if covariance_type == "full"
                      else model.covariances_[:, 1])
    assert model.means_[spike, 1] == pytest.approx(4.0)


def test_regularization_warning_names_columns_and_spares_constant_features():
    pd = pytest.importorskip("pandas")
    X, _ = _three_blobs(3e-4)
    frame = pd.DataFrame({"length_km": X[:, 0], "height_m": X[:, 1], "site": 7.0})
    with pytest.warns(fastem.RegularizationWarning) as record:
        GaussianMixture(3, random_state=0).fit(frame)
    message = str(record[0].message)
    assert "'length_km' (variance" in message
    assert "height_m" not in message and "site" not in message  # a constant feature: nothing lost


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_duplicated_feature(covariance_type, dtype):
    X = blobs()
    X[:, 2] = X[:, 0]
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X.astype(dtype))
    assert_sane(model)
    assert_allclose(model.means_[:, 2], model.means_[:, 0], rtol=1e-5, atol=1e-5)
    assert np.isfinite(model.score_samples(X.astype(dtype))).all()


@pytest.mark.parametrize(
    "covariance_type, make_singular",
    [("full", "constant"), ("full", "duplicate"), ("tied", "constant"), ("tied", "duplicate"),
     ("diag", "constant")],
)
def test_singular_data_without_regularisation_ask_for_reg_covar(covariance_type, make_singular):
    X = blobs()
    X[:, 1] = 7.0 if make_singular == "constant" else X[:, 0]
    with pytest.raises(ValueError, match="increase reg_covar, or scale the input data"):
        GaussianMixture(2, covariance_type=covariance_type, reg_covar=0.0, random_state=0).fit(X)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("path", ["fit", "chunks", "missing", "partial_fit"])
def test_collinear_data_without_regularisation_ask_for_reg_covar(path, covariance_type):
    """Points on a line, reg_covar=0: the covariance is singular, but its rounding left
    the last pivot of its factorisation 1.7e-18 (diagonal 1) and the fit converged,
    silently, at a log-likelihood of 18.2 per point set by that noise. (The same values
    rounded to float32 are no longer on a line: their fit warns of float32's rounding.)"""
    t = np.random.default_rng(0).normal(size=50)
    X = np.c_[t, 0.1 * t + 0.3]
    model = GaussianMixture(1, covariance_type=covariance_type, reg_covar=0.0,
                            missing="em" if path == "missing" else "error")
    with pytest.raises(ValueError, match="increase reg_covar, or scale the input data"):
        if path == "partial_fit":
            model.partial_fit(X)
        else:
            model.fit(fastem.Chunks(np.array_split(X, 3)) if path == "chunks" else X)


@pytest.mark.parametrize(
    "dtype, offset, rtol", [(np.float64, 1e8, 1e-6), (np.float32, 1e4, 1e-3)]
)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_far_from_origin(covariance_type, dtype, offset, rtol):
    X = blobs(n=400)
    means_init = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0]]) + [[0.3, -0.2, 0.1]]
    kw = dict(covariance_type=covariance_type, max_iter=5, tol=0.0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        centred = GaussianMixture(2, means_init=means_init, **kw).fit(X.astype(dtype))
        shifted = GaussianMixture(2, means_init=means_init + offset, **kw).fit((X + offset).astype(dtype))
    cov = np.asarray(centred.covariances_, dtype=np.float64)
    assert_allclose(shifted.covariances_, cov, rtol=rtol, atol=rtol * np.abs(cov).max())
    assert_allclose(shifted.means_ - offset, centred.means_, atol=rtol * offset * 10)
    assert_allclose(shifted.weights_, centred.weights_, rtol=rtol)


@pytest.mark.parametrize("dtype, offset", [(np.float64, 1e8), (np.float32, 1e4)])
def test_far_from_origin_with_default_initialisation(dtype, offset):
    """k-means++ on the subsample and the initial moments are offset-safe too."""
    X = blobs(n=400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        centred = GaussianMixture(2, random_state=0, max_iter=3, tol=0.0).fit(X.astype(dtype))
        shifted = GaussianMixture(2, random_state=0, max_iter=3, tol=0.0).fit((X + offset).astype(dtype))
    rtol = 1e-6 if dtype == np.float64 else 1e-3
    assert_allclose(shifted.covariances_, centred.covariances_, rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dtype, gap", [(np.float64, 1e6), (np.float32, 1e3)])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_extremely_separated_clusters(covariance_type, dtype, gap):
    """Responsibilities underflow to exact 0 and 1; the fit is still exact."""
    X = blobs(n=200)
    X[X[:, 0] > 2.5, 0] += gap
    X = X.astype(dtype)
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    assert_sane(model)
    resp = model.predict_proba(X)
    assert set(np.unique(resp)) <= {0.0, 1.0}
    assert_array_equal(resp.sum(axis=1), 1.0)
    labels = model.predict(X)
    far = X[:, 0] > gap / 2
    assert len(set(labels[far])) == 1 and len(set(labels[~far])) == 1
    assert labels[far][0] != labels[~far][0]
    assert np.isfinite(model.lower_bounds_).all()
    assert np.isfinite(model.score_samples(X)).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_component_that_loses_all_its_points(covariance_type, dtype):
    X = blobs()
    means_init = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0], [1e3, 1e3, 1e3]])
    model = GaussianMixture(3, covariance_type=covariance_type, means_init=means_init)
    with pytest.warns(EmptyComponentWarning, match=r"1 of 3 components .*\(indices \[2\]\).*n_components=2"):
        model.fit(X.astype(dtype))
    assert_sane(model)
    assert model.weights_[2] == 0.0
    assert_allclose(model.means_[2], means_init[2])
    if covariance_type != "tied":  # a tied component shares the covariance of the others
        assert_allclose(full_covariances(model)[2], 1e-6 * np.eye(3), rtol=1e-3)
    assert (model.predict(X.astype(dtype)) != 2).all()
    assert np.isfinite(model.score_samples(X.astype(dtype))).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_empty_components_take_no_probability(covariance_type, dtype):
    """Two distinct points, five components: the midpoint splits between the two real ones."""
    X = np.array([[1.0, 2.0]] * 500 + [[3.0, 2.0]] * 500, dtype=dtype)
    model = GaussianMixture(5, covariance_type=covariance_type, random_state=0)
    with pytest.warns(EmptyComponentWarning, match="3 of 5 components"):
        model.fit(X)
    real = np.flatnonzero(model.weights_ > 0)
    assert len(real) == 2
    assert_allclose(model.weights_[real], [0.5, 0.5], rtol=1e-6)
    midpoint = np.array([[2.0, 2.0]], dtype=dtype)
    proba = model.predict_proba(midpoint)[0]
    assert_allclose(proba[real], [0.5, 0.5], rtol=1e-5)
    assert (np.delete(proba, real) == 0).all()
    assert model.predict(midpoint)[0] in real
    # score_samples is the two-component mixture's density there
    log_prob = gaussian_log_prob(midpoint, model.means_, model.covariances_, covariance_type)
    _, expected = log_resp_and_norm(log_prob[:, real], model.weights_[real])
    assert_allclose(model.score_samples(midpoint), expected, rtol=1e-5)
    grid = np.random.default_rng(0).uniform(0, 4, size=(200, 2)).astype(dtype)
    assert np.isin(model.predict(grid), real).all()


def _zero_weight_model(family, covariance_type, dtype, max_iter):
    """A three-component model whose middle component has weight exactly 0 (given)."""
    weights = [0.5, 0.0, 0.5]
    if family == "gaussian":
        precisions = {"full": np.stack([np.eye(2)] * 3), "tied": np.eye(2),
                      "diag": np.ones((3, 2)), "spherical": np.ones(3)}[covariance_type]
        return GaussianMixture(
            3, covariance_type=covariance_type, weights_init=weights,
            means_init=[[0.0, 0.0], [2.5, 2.5], [5.0, 5.0]], precisions_init=precisions,
            max_iter=max_iter, tol=0.0,
        )
    if family == "exponential":
        return fastem.ExponentialMixture(
            3, weights_init=weights, scales_init=[[0.5, 0.5], [2.0, 2.0], [5.0, 5.0]],
            max_iter=max_iter, tol=0.0,
        )
    return fastem.PoissonMixture(
        3, weights_init=weights, rates_init=[[1.0, 1.0], [3.0, 3.0], [8.0, 8.0]],
        max_iter=max_iter, tol=0.0,
    )


ZERO_WEIGHT_CASES = [("gaussian", ct) for ct in COVARIANCE_TYPES] + [
    ("exponential", None), ("poisson", None)
]


def _points_of(family, dtype):
    rng = np.random.default_rng(0)
    if family == "gaussian":
        X = np.concatenate([rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 5])
    elif family == "exponential":
        X = np.concatenate([rng.exponential(0.5, (100, 2)), rng.exponential(5.0, (100, 2))])
    else:
        X = np.concatenate([rng.poisson(1.0, (100, 2)), rng.poisson(8.0, (100, 2))]).astype(float)
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("family, covariance_type", ZERO_WEIGHT_CASES)
def test_kernels_take_a_zero_weight_without_nan(family, covariance_type, dtype):
    """log-weight -inf: no NaN, probability 0, densities of the other components (both dtypes)."""
    X = _points_of(family, dtype)
    model = _zero_weight_model(family, covariance_type, dtype, max_iter=0).fit(X)
    proba = model.predict_proba(X)
    assert np.isfinite(proba).all() and (proba[:, 1] == 0).all()
    assert (model.predict(X) != 1).all()
    if family == "gaussian":
        log_prob = gaussian_log_prob(X, model.means_, model.covariances_, covariance_type)
    elif family == "exponential":
        log_prob = exponential_log_prob(X, model.scales_)
    else:
        log_prob = poisson_log_prob(X, model.rates_)
    _, expected = log_resp_and_norm(log_prob, model.weights_)
    assert_allclose(model.score_samples(X), expected, rtol=1e-4 if dtype == np.float32 else 1e-10)
    # EM from it: the component stays empty, everything stays finite
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(EmptyComponentWarning):
            fitted = _zero_weight_model(family, covariance_type, dtype, max_iter=5).fit(X)
    assert fitted.weights_[1] == 0.0
    for name in fitted._parameter_names:
        assert np.isfinite(getattr(fitted, name)).all(), name
    assert np.isfinite(fitted.lower_bound_)


@pytest.mark.parametrize("path", ["assigned", "model file"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("family, covariance_type", ZERO_WEIGHT_CASES)
def test_a_weight_below_float64_rounding_of_the_total_takes_no_probability(
    family, covariance_type, dtype, path, tmp_path
):
    """A share of 1e-18, which a fit reads as 0 (and warns of as empty), given by hand or in
    a model file, predicts and scores as the weight 0 does, also at the component's mean.
    Before, it took a probability of up to 1e-15 there."""
    X = _points_of(family, dtype)
    empty = _zero_weight_model(family, covariance_type, dtype, max_iter=0).fit(X)
    model = _zero_weight_model(family, covariance_type, dtype, max_iter=0).fit(X)
    model.weights_ = np.array([0.5, 1e-18, 0.5], dtype=dtype)
    if path == "model file":
        model.save(tmp_path / "model.npz")
        model = fastem.load(tmp_path / "model.npz")
    assert model.weights_[1] > 0
    middle = {"gaussian": 2.5, "exponential": 2.0, "poisson": 3.0}[family]
    points = np.concatenate([X, np.full((1, 2), middle, dtype=dtype)])
    assert_array_equal(model.predict_proba(points), empty.predict_proba(points))
    assert_array_equal(model.predict(points), empty.predict(points))
    assert_array_equal(model.score_samples(points), empty.score_samples(points))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("family, covariance_type", ZERO_WEIGHT_CASES)
def test_sample_draws_from_weights_that_sum_above_1_with_an_empty_last_component(
    family, covariance_type, dtype
):
    """float32 weights (0.6, 0.4 in float32 sum to 1 + 3e-8 in float64), or float64 ones
    assigned within the 1e-6 that weights_ accepts: NumPy's multinomial refused their
    first K - 1 when the last is 0, so sample and the command line's sample failed."""
    model = _zero_weight_model(family, covariance_type, dtype, max_iter=0).fit(
        _points_of(family, dtype))
    weights = [0.6, 0.4, 0.0] if dtype == np.float32 else [0.6 + 5e-7, 0.4, 0.0]
    model.weights_ = np.array(weights, dtype=dtype)
    X, y = model.set_params(random_state=0).sample(1000)
    assert X.shape == (1000, 2) and X.dtype == dtype and np.isfinite(X).all()
    assert (y != 2).all() and 500 < (y == 0).sum() < 700


def test_sample_from_a_float32_fit_whose_last_component_is_empty():
    """Two repeated points, three components, float32: the fitted weights sum to 1 + 3e-8
    in float64 and the last is 0."""
    rng = np.random.default_rng(8)
    X = np.repeat(rng.normal(size=(2, 2)), [308, 500], axis=0).astype(np.float32)
    with pytest.warns(EmptyComponentWarning):
        model = GaussianMixture(3, random_state=8).fit(X)
    assert model.weights_[2] == 0 and model.weights_.astype(np.float64).sum() > 1
    _, y = model.sample(100)
    assert (y != 2).all()


def _variational_fit_with_inactive_components():
    """A float32 variational fit whose prior leaves two of four components at weights
    2.5e-9 and 2.5e-15; the weights of the first three sum to 1 + 2.5e-9 in float64."""
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(8, 1, (200, 2))])
    model = fastem.BayesianGaussianMixture(
        4, weight_concentration_prior=1e-6, random_state=2, max_iter=50
    ).fit(X.astype(np.float32))
    assert model.weights_[:3].astype(np.float64).sum() > 1
    return model


def test_sample_from_a_float32_variational_fit_with_inactive_components():
    model = _variational_fit_with_inactive_components()
    _, y = model.sample(1000)
    assert np.isin(y, np.argsort(model.weights_)[2:]).all()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES + ("bayesian",))
def test_scikit_learn_samples_a_float32_model_with_an_empty_last_component(covariance_type):
    """to_sklearn of float32 weights that sum above 1 in float64, the last 0 (0.6, 0.4: 1 +
    3e-8) or inactive: scikit-learn's sample refused them."""
    pytest.importorskip("sklearn")
    if covariance_type == "bayesian":
        model = _variational_fit_with_inactive_components()
    else:
        model = GaussianMixture(3, covariance_type=covariance_type, max_iter=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(blobs().astype(np.float32))
        model.weights_ = np.array([0.6, 0.4, 0.0], dtype=np.float32)
    estimator = model.to_sklearn()
    assert_allclose(estimator.weights_, model.weights_, rtol=1e-7)
    _, y = estimator.sample(1000)
    assert np.isin(y, np.flatnonzero(model.weights_ > 1e-3)).all()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_scikit_learn_samples_assigned_float64_weights_above_1_with_an_empty_last(covariance_type):
    """to_sklearn of float64 weights assigned within the 1e-6 that weights_ accepts, summing
    above 1, the last 0: scikit-learn's sample refused them, where the model's own draws."""
    pytest.importorskip("sklearn")
    model = GaussianMixture(3, covariance_type=covariance_type, max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(blobs())
    model.weights_ = np.array([0.6 + 5e-7, 0.4, 0.0])
    model.sample(10)
    estimator = model.to_sklearn()
    assert_allclose(estimator.weights_, model.weights_, rtol=1e-6)
    _, y = estimator.sample(1000)
    assert np.isin(y, [0, 1]).all()


def test_no_empty_component_warning_for_a_small_but_real_component():
    X = blobs(n=1000)
    X[0] = [40.0, 40.0, 40.0]  # one outlier: its own component, weight 1/1000
    means_init = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0], [40.0, 40.0, 40.0]])
    model = GaussianMixture(
        3, covariance_type="spherical", means_init=means_init, random_state=0
    ).fit(X)
    assert_allclose(model.weights_[2], 1e-3, rtol=1e-6)


def test_empty_component_warning_is_a_user_warning():
    assert issubclass(EmptyComponentWarning, UserWarning)


@pytest.mark.parametrize("covariance_type", ("full", "diag", "spherical"))
def test_emptied_component_without_regularisation_asks_for_reg_covar(covariance_type):
    means_init = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 0.0], [1e3, 1e3, 1e3]])
    model = GaussianMixture(3, covariance_type=covariance_type, means_init=means_init, reg_covar=0.0)
    with pytest.raises(ValueError, match="decrease the number of components, increase reg_covar"):
        model.fit(blobs())


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e152), (np.float32, 1e17)])
def test_spread_that_overflows_squares_is_a_clear_error(dtype, scale):
    X = (blobs() * scale).astype(dtype)
    with pytest.raises(ValueError, match=r"X spans .* in feature 0, too wide for float.*Divide the features beyond it by a power of ten"):
        GaussianMixture(2, random_state=0).fit(X)
    model = GaussianMixture(2, random_state=0).fit(blobs().astype(dtype))
    with pytest.raises(ValueError, match="too wide"):
        model.score_samples(X)


@pytest.mark.parametrize("dtype, far", [(np.float64, 1e200), (np.float32, 1e18)])
@pytest.mark.parametrize("method", ["score_samples", "predict_proba", "predict"])
def test_single_point_too_far_from_the_model_is_a_clear_error(method, dtype, far):
    """One point has no spread of its own; its distance to the model is what overflows."""
    model = GaussianMixture(2, covariance_type="spherical", random_state=0).fit(blobs().astype(dtype))
    with pytest.raises(ValueError, match="X with the fitted model spans .* too wide"):
        getattr(model, method)(np.array([[far, 0.0, 0.0]], dtype=dtype))


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e148), (np.float32, 1e14)])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_widest_accepted_spread_fits(covariance_type, dtype, scale):
    X = (blobs() * scale).astype(dtype)
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    assert_sane(model)
    assert np.isfinite(model.score_samples(X)).all()


def _precisions_of_1e200(covariance_type, n_components):
    """``precisions_init`` of 1e200 on two features: a point 1e60 away lies at an infinite
    squared distance from every component, density 0 in floating point."""
    return {
        "full": np.broadcast_to(1e200 * np.eye(2), (n_components, 2, 2)).copy(),
        "tied": 1e200 * np.eye(2),
        "diag": np.full((n_components, 2), 1e200),
        "spherical": np.full(n_components, 1e200),
    }[covariance_type]


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_zero_density_everywhere_gives_minus_inf_not_nan(covariance_type):
    precisions = _precisions_of_1e200(covariance_type, 2)
    model = GaussianMixture(
        2, covariance_type=covariance_type, max_iter=0, weights_init=[0.5, 0.5],
        means_init=[[0.0, 0.0], [1.0, 1.0]], precisions_init=precisions,
    ).fit(np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.1]]))
    X = np.array([[0.0, 0.0], [1e60, 1e60]])
    log_prob = model.score_samples(X)
    assert np.isfinite(log_prob[0]) and log_prob[1] == -np.inf
    resp = model.predict_proba(X)
    assert not np.isnan(resp).any()
    assert_allclose(resp[0].sum(), 1.0)
    assert (resp[1] == 0).all()


def _start_at_weight_0_beside_a_spike(case):
    """(estimator, X): float32 data in which component 2 starts at weight 0 on a point of
    the data, where its density is a spike (a covariance of reg_covar, an exponential
    scale at the min_scale floor on a row of zeros) whose value there exceeds float32's
    smallest normal weight's reciprocal (e**87)."""
    rng = np.random.default_rng(0)
    if case == "exponential":
        d = 10
        X = np.concatenate([rng.exponential(1.0, (300, d)), rng.exponential(1.5, (300, d)),
                            np.zeros((1, d))]).astype(np.float32)
        return fastem.ExponentialMixture(
            3, weights_init=[0.5, 0.5, 0.0],
            scales_init=[np.ones(d), np.full(d, 1.5), np.full(d, 1e-6)]), X
    d = 20
    X = np.concatenate([rng.normal(0.0, 1.0, (300, d)),
                        rng.normal(0.3, 1.3, (300, d))]).astype(np.float32)
    means = np.array([np.zeros(d), np.full(d, 0.3), X[0]])
    return GaussianMixture(3, covariance_type=case, weights_init=[0.5, 0.5, 0.0],
                           means_init=means), X


@pytest.mark.parametrize("warm", [False, True])
@pytest.mark.parametrize("case", ["full", "diag", "spherical", "exponential"])
def test_an_accelerated_step_leaves_an_empty_component_empty(case, warm):
    """EM keeps a component of weight 0 empty. The accelerated steps floored its weight,
    a softmax of the stand-in for log(0), at float32's smallest normal number: beside a
    spike of its density that weight took the point there, and the fit ended with the
    component on that one point (weight 1 / n_samples), which plain EM never gives it.
    From a start at weight 0 and from a warm start of a model with weight 0 alike."""
    model, X = _start_at_weight_0_beside_a_spike(case)
    if warm:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # max_iter=1 and the empty component warn
            model.set_params(max_iter=1).fit(X)  # the component still at weight 0
        assert model.weights_[2] == 0.0
        model.set_params(max_iter=1000, warm_start=True)
    with pytest.warns(EmptyComponentWarning):
        model.fit(X)
    assert model.weights_[2] == 0.0
    assert (model.predict(X) != 2).all()
    assert (model.predict_proba(X)[:, 2] == 0).all()


def _far_point_models():
    """Models whose first component has weight 0 and under which the point (1e60, 1e60)
    has density 0 in float64 under every component (an infinite squared distance, or an
    exponential rate times the value beyond float64)."""
    points = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.1]])
    means = [[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]]
    for covariance_type in COVARIANCE_TYPES:
        precisions = _precisions_of_1e200(covariance_type, 3)
        yield GaussianMixture(
            3, covariance_type=covariance_type, max_iter=0, weights_init=[0.0, 0.5, 0.5],
            means_init=means, precisions_init=precisions,
        ), points
    yield fastem.ExponentialMixture(
        3, max_iter=0, weights_init=[0.0, 0.5, 0.5], scales_init=np.full((3, 2), 1e-250),
    ), points + 1.0


@pytest.mark.parametrize("path", ["array", "chunks", "dask"])
@pytest.mark.parametrize("case", range(5))
def test_a_point_of_zero_density_everywhere_is_not_given_to_an_empty_component(case, path):
    """The kernel's labels were the first component that reaches the maximum of the
    weighted log-densities; of a point of density 0 under every component that maximum
    is -inf, which an empty component (log-weight -inf) reaches too, and such a point
    went to component 0 although it has weight 0. It goes to the first component of
    positive weight, as it goes to component 0 where that one is not empty."""
    model, points = list(_far_point_models())[case]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter=0 and the empty start warn
        model.fit(points)
    X = np.array([[1e60, 1e60], [1.0, 1.0]])
    if path == "chunks":
        X = fastem.Chunks([X[:1], X[1:]])
    elif path == "dask":
        X = pytest.importorskip("dask.array").from_array(X, chunks=(1, -1))
    log_prob, labels = model.score_samples(X), model.predict(X)
    if path == "chunks":
        log_prob, labels = np.concatenate(log_prob), np.concatenate(labels)
    elif path == "dask":
        log_prob, labels = log_prob.compute(), labels.compute()
    assert log_prob[0] == -np.inf and np.isfinite(log_prob[1])
    assert labels[0] == 1 and labels[1] != 0


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_precision_beyond_float32_names_float32_and_the_fixes(covariance_type):
    # Variances of ~1e-50 are fine in the float64 M-step, but their precisions
    # do not fit in float32 parameters.
    X = (np.random.default_rng(0).normal(size=(100, 3)) * 1e-25).astype(np.float32)
    with pytest.raises(ValueError, match=r"too small for float32 arithmetic.*float64.*scale it up "
                                         r"\(e\.g\. X / np\.nanmax\(np\.abs\(X\), axis=0, "
                                         r"initial=np\.finfo\(X\.dtype\)\.tiny\)\).*raise reg_covar"):
        GaussianMixture(2, covariance_type=covariance_type, reg_covar=0.0, random_state=0).fit(X)
    # The data fit as float64 or scaled as written (X / X.std(axis=0) was inf: float32
    # squares of 1e-25 underflow to a std of 0).
    for fixed in [X.astype(np.float64), X / np.nanmax(np.abs(X), axis=0, initial=np.finfo(X.dtype).tiny)]:
        model = GaussianMixture(2, covariance_type=covariance_type, reg_covar=0.0,
                                random_state=0).fit(fixed)
        assert np.isfinite(model.precisions_).all()


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e-310), (np.float32, 1e-40)])
@pytest.mark.parametrize("zeros", [False, True])
def test_exponential_rates_beyond_the_dtype_name_it_and_the_fix(dtype, scale, zeros):
    # values near the dtype's smallest: the rates, 1 / scale, exceed its largest. With a
    # feature of zeros too (which fits alone), the advice's division by the largest
    # magnitude was 0 / 0 there: a RuntimeWarning and a NaN feature
    X = (np.abs(np.random.default_rng(0).normal(size=(200, 2))) * scale).astype(dtype)
    if zeros:
        X[:, 1] = 0.0
    fix = ("Fit the data as float64" if dtype == np.float32 else
           r"Scale the data into float64's range, e\.g\. each feature by its largest "
           r"magnitude: X / np\.nanmax\(np\.abs\(X\), axis=0, "
           r"initial=np\.finfo\(X\.dtype\)\.tiny\)\.")
    with pytest.raises(ValueError, match=rf"ExponentialParams.rates overflows "
                                         rf"{np.dtype(dtype).name}.*{fix}"):
        fastem.ExponentialMixture(2, random_state=0).fit(X)
    # the advice fits as written (dividing by the std, the advice before, was 0 / 0: the
    # squares of 1e-310 underflow)
    fixed = (X.astype(np.float64) if dtype == np.float32 else
             X / np.nanmax(np.abs(X), axis=0, initial=np.finfo(X.dtype).tiny))
    model = fastem.ExponentialMixture(2, random_state=0).fit(fixed)
    assert np.isfinite(model.scales_).all()


def test_variance_whose_precision_overflows_float64_is_a_clear_error():
    """reg_covar=0 on data of scale 1e-154: the precision, 1 / variance, exceeds float64."""
    X = np.random.default_rng(0).normal(size=(20, 2)) * 1e-154
    model = GaussianMixture(1, covariance_type="diag", reg_covar=0.0, max_iter=9, tol=0.0,
                            init_params="kmeans", random_state=88, means_init=[[-3487.9, 23970.9]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match="ill-defined empirical covariance"):
            model.fit(X)


def test_m_step_overflow_from_means_init_far_from_the_data_is_a_clear_error():
    """Data near 1e161 and means_init near 1e6: a clear error, never a RuntimeWarning or NaN.

    The start's variance is exact (``reg_covar``: one point), so the first
    E-step finds zero density everywhere; with a start rounded to a huge
    variance the second moments around the means overflow in the M-step.
    """
    h = float.fromhex
    X = np.array([[h("0x1.058b5ed3d2b77p+531"), h("-0x1.a751235f1a787p+535"),
                   h("-0x1.474a874e5ca3fp+535")]])
    means = [[h("0x1.2815dc63f1d11p+20"), h("-0x1.656711def130dp+17"), h("-0x1.12b2f3524555dp+19")]]
    model = GaussianMixture(1, covariance_type="spherical", max_iter=4, init_params="random",
                            random_state=60, means_init=means)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises((ValueError, FloatingPointError), match="ill-defined|too far apart|zero density"):
            model.fit(X, sample_weight=[h("0x1.4eaa36809f80ap+1")])


@pytest.mark.parametrize("cls, bad", [
    ("GaussianMixture", {"covariance_type": "Full"}),
    ("GaussianMixture", {"covariance_type": None}),
    ("GaussianMixture", {"reg_covar": -1.0}),
    ("BayesianGaussianMixture", {"covariance_type": "Full"}),
    ("ExponentialMixture", {"min_scale": -1.0}),
    ("PoissonMixture", {"min_rate": -1.0}),
])
def test_m_step_refuses_hyper_parameters_set_invalid_since_the_fit(cls, bad):
    """m_step reads the hyper-parameters as fit does, and refuses invalid ones by name with
    the model as it was; it raised KeyError('Full') from the statistics' shapes."""
    X = np.random.default_rng(0).poisson(3.0, size=(300, 2)).astype(float) + 0.5
    if cls == "PoissonMixture":
        X = np.floor(X)
    with warnings.catch_warnings():  # max_iter=5 may cut a move short, which is said
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = getattr(fastem, cls)(2, random_state=0, max_iter=5, tol=1e-2).fit(X)
    stats = model.summarize(X)
    before = model.weights_.copy()
    model.set_params(**bad)
    name = next(iter(bad))
    with pytest.raises((ValueError, TypeError), match=name):
        model.m_step(stats)
    np.testing.assert_array_equal(model.weights_, before)


@pytest.mark.parametrize("family", ["gaussian", "exponential"])
def test_failed_m_step_raises_and_leaves_the_model_as_it_was(family):
    """Statistics whose new parameters overflow: a clear error, and the old parameters stay."""
    from fastem import ExponentialMixture

    if family == "gaussian":
        X, model = blobs(), GaussianMixture(2, covariance_type="diag", random_state=0)
        match = "ill-defined empirical covariance"
    else:
        X = np.random.default_rng(0).exponential(size=(200, 2))
        model = ExponentialMixture(2, random_state=0)
        match = "M-step gave non-finite scales_: .* too far apart for float64"
    model.fit(X)
    stats = model.summarize(X)
    stats.moments["sx"][0, 0] = np.finfo(np.float64).max
    stats.nk[0] = 1e-300  # a mean of sx / nk overflows
    before = {name: getattr(model, name).copy() for name in model._parameter_names}
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(ValueError, match=match):
            model.m_step(stats)
    for name, value in before.items():
        assert_array_equal(getattr(model, name), value, err_msg=name)


# -- components that start at weight 0: the start, not the data, is named ----------------

FAMILIES = ("gaussian", "exponential", "poisson")


def _family_data(family, dtype):
    """Two groups of 150 points each, of the family's domain."""
    rng = np.random.default_rng(0)
    if family == "gaussian":
        X = np.concatenate([rng.normal(size=(150, 2)), rng.normal(size=(150, 2)) + 6])
    elif family == "exponential":
        X = np.concatenate([rng.exponential(0.5, (150, 2)), rng.exponential(8.0, (150, 2))])
    else:
        X = np.concatenate([rng.poisson(1.0, (150, 2)), rng.poisson(12.0, (150, 2))]).astype(float)
    return X.astype(dtype)


# The family's estimator and the name of its component means' initial parameter, with a
# third mean that no point of _family_data is nearest to.
_ESTIMATORS = {
    "gaussian": (GaussianMixture, "means_init", [[0.0, 0.0], [6.0, 6.0], [500.0, 500.0]]),
    "exponential": (fastem.ExponentialMixture, "scales_init", [[0.5, 0.5], [8.0, 8.0], [1e7, 1e7]]),
    "poisson": (fastem.PoissonMixture, "rates_init", [[1.0, 1.0], [12.0, 12.0], [1e5, 1e5]]),
}


def _estimator(family, **params):
    return _ESTIMATORS[family][0](3, random_state=0, **params)


def _quietly(fit, *args):
    """``fit(*args)`` with its EmptyComponentWarning (about the model a later fit starts from)
    silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EmptyComponentWarning)
        return fit(*args)


def _emptied(family, X):
    """A fitted model whose component 2 holds no data (its start had weight 0)."""
    return _quietly(_estimator(family, weights_init=[0.5, 0.5, 0.0]).fit, X)


def _warm(model):
    return model.set_params(warm_start=True, weights_init=None)


def _assigned(family, X):
    """A model fitted without an empty component, then given weight 0 by assignment."""
    model = _estimator(family).fit(X)
    model.weights_ = np.array([0.5, 0.5, 0.0], dtype=X.dtype)
    return model


def _m_stepped(family, X):
    """A fitted model whose M-step took statistics with no mass in component 2."""
    model = _estimator(family).fit(X)
    stats = _assigned(family, X).summarize(X)
    assert stats.nk[2] == 0
    model.m_step(stats)
    return model


def _loaded(family, X, tmp_path):
    path = tmp_path / "model.npz"
    _emptied(family, X).save(path)
    return fastem.load(path)


# start: (what the fit starts from, the words of the warning that name it)
START_PATHS = {
    "weights_init 0": (
        lambda family, X, tmp_path: _estimator(family, weights_init=[0.5, 0.5, 0.0]),
        r"weights_init starts component\(s\) \[2\] at weight 0 \(weights_init\[2\] = 0\)"),
    "weights_init below rounding": (  # 0 in float32; below float64 rounding of the total
        lambda family, X, tmp_path: _estimator(family, weights_init=[0.5, 0.5 - 1e-300, 1e-300]),
        r"weights_init\[2\] = 1e-300; a share below float64 rounding"),
    "means far from every point": (
        lambda family, X, tmp_path: _estimator(
            family, **{_ESTIMATORS[family][1]: _ESTIMATORS[family][2]}),
        r"No point of the data is nearer to (means|scales|rates)_init row\(s\) \[2\]"),
    "warm start from an emptied fit": (
        lambda family, X, tmp_path: _warm(_emptied(family, X)),
        r"weight 0 in the fitted model that warm_start=True continued from \(weights_\[2\] = 0\)"),
    "warm start from assigned weights": (
        lambda family, X, tmp_path: _warm(_assigned(family, X)),
        r"warm_start=True continued from \(weights_\[2\] = 0\)"),
    "warm start from an M-step": (
        lambda family, X, tmp_path: _warm(_m_stepped(family, X)),
        r"warm_start=True continued from \(weights_\[2\] = 0\)"),
    "warm start from a model file": (
        lambda family, X, tmp_path: _warm(_loaded(family, X, tmp_path)),
        r"warm_start=True continued from \(weights_\[2\] = 0\)"),
}


def _assert_component_2_never_predicted(model, X):
    """Component 2 has weight 0 and takes no row: not the data's, nor one far beyond them."""
    assert model.weights_[2] == 0.0
    rows = np.concatenate([X, X.max(axis=0, keepdims=True) * 50])
    assert (model.predict(rows) != 2).all()
    assert (model.predict_proba(rows)[:, 2] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("start", START_PATHS)
def test_a_component_that_starts_at_weight_0_is_blamed_on_its_start(start, family, dtype, tmp_path):
    """EM gives a component of weight 0 no data: the warning names the start (the given
    weight, the given mean, the model continued from) and its fix, not the data."""
    X = _family_data(family, dtype)
    make, cause = START_PATHS[start]
    model = make(family, X, tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X)
    empty = [w for w in caught if issubclass(w.category, EmptyComponentWarning)]
    assert len(empty) == 1, [str(w.message) for w in caught]
    message = str(empty[0].message)
    assert re.search(r"1 of 3 components .*\(indices \[2\]\)", message), message
    assert re.search(cause, message), message
    assert "the start left them empty, not the data" in message
    assert "n_components=2" in message
    assert "The data support" not in message and "init_params or random_state" not in message
    _assert_component_2_never_predicted(model, X)


# stream start: (the model whose next partial_fit step starts the stream, the words of
# the warning that name its cause[, the stream's first batch from the data])
STREAM_STARTS = {
    "weights_init 0": START_PATHS["weights_init 0"],
    "means far from every point": START_PATHS["means far from every point"],
    "a first batch of fewer distinct points than components": (
        lambda family, X, tmp_path: _estimator(family),
        r"The start from the first batch gave component\(s\) \[2\] no point",
        lambda X: np.repeat(X[[0, -1]], 3, axis=0)),
    "an emptied fit": (
        lambda family, X, tmp_path: _emptied(family, X),
        r"weight 0 in the model that partial_fit continued from \(weights_\[2\] = 0\)"),
    "assigned weights": (
        lambda family, X, tmp_path: _assigned(family, X),
        r"partial_fit continued from \(weights_\[2\] = 0\)"),
    "a model file": (
        lambda family, X, tmp_path: _loaded(family, X, tmp_path),
        r"partial_fit continued from \(weights_\[2\] = 0\)"),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("start", STREAM_STARTS)
def test_a_stream_that_starts_with_a_component_at_weight_0_warns_once(start, family, dtype, tmp_path):
    """Online EM keeps a component of weight 0 empty at every step, whatever the batches:
    the stream's first step says so and names the cause; later steps do not repeat it."""
    X = _family_data(family, dtype)
    make, cause, *batch = STREAM_STARTS[start]
    model = make(family, X, tmp_path)
    with pytest.warns(EmptyComponentWarning) as caught:
        model.partial_fit(batch[0](X) if batch else X)
    messages = [str(w.message) for w in caught if issubclass(w.category, EmptyComponentWarning)]
    assert len(messages) == 1, messages
    assert re.search(r"partial_fit: 1 of 3 components hold no data \(indices \[2\]\)", messages[0])
    assert re.search(cause, messages[0]), messages[0]
    assert "stay empty at every later step" in messages[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptyComponentWarning)
        model.partial_fit(X)
    _assert_component_2_never_predicted(model, X)


@pytest.mark.parametrize("family, unreachable", [
    ("gaussian", [500.0, 500.0]), ("exponential", [1e-7, 1e-7]), ("poisson", [1e5, 1e5])])
def test_a_component_emptied_by_em_from_given_parameters_names_them(family, unreachable):
    """A component that starts with weight but loses its data in EM (its mean where no
    point has density under it): the advice names the start in effect (the given
    parameters, which replace init_params), not init_params."""
    X = _family_data(family, np.float64)
    _, name, means = _ESTIMATORS[family]
    model = _estimator(family, weights_init=[0.4, 0.4, 0.2], **{name: means[:2] + [unreachable]})
    with pytest.warns(EmptyComponentWarning) as caught:
        model.fit(X)
    message = str(caught[0].message)
    assert message.endswith(
        f"The data support fewer components: use n_components=2, or other weights_init or {name}."
    ), message
    _assert_component_2_never_predicted(model, X)


def test_a_component_emptied_by_em_from_a_warm_start_advises_a_fresh_fit():
    X = blobs()
    model = GaussianMixture(3, means_init=[[0, 0, 0], [5, 0, 0], [2.5, 0, 0]], random_state=0)
    _quietly(model.fit, X)
    model.weights_ = np.array([0.4, 0.4, 0.2])
    model.means_ = np.array([[0, 0, 0], [5, 0, 0], [1e3, 1e3, 1e3]], dtype=float)
    model.set_params(warm_start=True)
    with pytest.warns(EmptyComponentWarning, match=r"use n_components=2, or warm_start=False"):
        model.fit(X)


def _far_apart(family, dtype):
    """(all rows, the rows of the first group): groups so far apart that no row of one has
    any responsibility for the other's component."""
    rng = np.random.default_rng(0)
    if family == "gaussian":
        first, second = rng.normal(size=(150, 2)), rng.normal(size=(150, 2)) + 100
    else:
        first, second = rng.poisson(1.0, (150, 2)), rng.poisson(1000.0, (150, 2))
    X = np.concatenate([first, second]).astype(dtype)
    return X, X[:150]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("family", ["gaussian", "poisson"])
@pytest.mark.parametrize("stream", ["from a fit", "from a first batch"])
def test_a_step_of_size_1_that_erases_a_component_warns(stream, family, dtype):
    """step_offset=0 makes the first step's size 1: a batch without a component's data
    replaced the running statistics, and the component stayed at weight 0 for every later
    batch, silently (all 300 rows then went to the other component)."""
    X, first_group = _far_apart(family, dtype)
    model = _ESTIMATORS[family][0](2, random_state=0, step_offset=0)
    if stream == "from a fit":
        model.fit(X)
    else:
        model.partial_fit(X)
    with pytest.warns(EmptyComponentWarning, match=(
            r"partial_fit: component\(s\) \[\d\] hold no data after this step; their weight "
            r"is 0\. This step's size is eta = 1 \(step_offset=0\).*Raise step_offset")):
        model.partial_fit(first_group)
    emptied = int(np.flatnonzero(model.weights_ == 0)[0])
    assert (model.predict(X) != emptied).all()
    # the default step_offset keeps the component, and the stream its data
    kept = _ESTIMATORS[family][0](2, random_state=0).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error", EmptyComponentWarning)
        kept.partial_fit(first_group)
    assert (kept.weights_ > 0.1).all()


@pytest.mark.parametrize("family, unreachable", [("gaussian", [500.0, 500.0]), ("poisson", [1e5, 1e5])])
def test_a_first_batch_that_gives_a_started_component_no_data_warns(family, unreachable):
    X = _family_data(family, np.float64)
    _, name, means = _ESTIMATORS[family]
    model = _estimator(family, weights_init=[0.4, 0.4, 0.2], **{name: means[:2] + [unreachable]})
    with pytest.warns(EmptyComponentWarning, match=(
            r"partial_fit: component\(s\) \[2\] hold no data after this step; their weight is "
            r"0\. The batches gave them no data; online EM .* use n_components=2\.")):
        model.partial_fit(X)
    _assert_component_2_never_predicted(model, X)
