"""missing='em': a component that holds no observed value of a feature.

ExponentialMixture and PoissonMixture keep its start there; GaussianMixture gives it the
data's marginal of the feature."""

import copy
import json
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastem import (Chunks, ConvergenceWarning, ExponentialMixture, GaussianMixture,
                    PoissonMixture, RegularizationWarning, load, select_n_components)


def data():
    """Small values whose feature 1 is always missing, and far ones observed in both features:
    the small component's responsibilities for the far points are exactly 0."""
    rng = np.random.default_rng(0)
    small = np.column_stack([rng.poisson(2.0, 300) + 1, np.full(300, np.nan)])
    far = np.column_stack([rng.poisson(5e4, 300), rng.poisson(50.0, 300)])
    return np.concatenate([small, far]).astype(np.float64)


@pytest.mark.parametrize("family, init", [(ExponentialMixture, "scales_init"),
                                          (PoissonMixture, "rates_init")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unobserved_feature_keeps_its_start_and_warns(family, init, dtype):
    X = data().astype(dtype)
    start = np.array([[3.0, 70.0], [4e4, 40.0]])
    model = family(2, missing="em", weights_init=[0.5, 0.5], **{init: start})
    with pytest.warns(UserWarning, match=r"hold no observed value in some features \(component "
                                         r"0: feature\(s\) 1\).*keep their starting values"):
        model.fit(X)
    means = getattr(model, model._mean_name)
    assert_allclose(means[0, 1], 70.0, rtol=1e-6)  # the start's, not the floor's 5e-5
    assert_allclose(means[1, 1], np.nanmean(X[300:, 1]), rtol=1e-4)
    # imputed from the kept value, not from a floor near 0
    assert_allclose(model.impute(np.array([[2.0, np.nan]], dtype=dtype))[0, 1], 70.0, rtol=1e-4)


def test_partial_fit_keeps_the_previous_value():
    X = data()
    model = PoissonMixture(2, missing="em", weights_init=[0.5, 0.5],
                           rates_init=[[3.0, 70.0], [4e4, 40.0]])
    with pytest.warns(UserWarning, match="hold no observed value"):
        model.partial_fit(X)
    model.partial_fit(X)  # said once per stream
    assert_allclose(model.rates_[0, 1], 70.0)


@pytest.mark.parametrize("family", ["exponential", "poisson"])
def test_select_n_components_says_it_once_of_the_chosen_fit(family):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = select_n_components(data(), n_components=[1, 2, 3], family=family,
                                     missing="em", random_state=0)
    said = [str(w.message) for w in caught if "hold no observed value" in str(w.message)]
    assert result.best_params_ == (family, 2)
    assert len(said) == 1, said  # not once per cell of the grid
    assert f"in the chosen fit ('{family}', 2)" in said[0]


def gaussian_data(dtype=np.float64):
    """Two clusters far apart in feature 0; the far one misses feature 1 at every point, and
    the near one's responsibilities for its points are exactly 0."""
    rng = np.random.default_rng(0)
    near = np.column_stack([rng.normal(5.0, 1.0, 200), rng.normal(50.0, 3.0, 200)])
    far = np.column_stack([rng.normal(100.0, 1.0, 200), np.full(200, np.nan)])
    return np.concatenate([near, far]).astype(dtype)


def gaussian_start(covariance_type):
    """weights_init, means_init and precisions_init: the far component's start in feature 1 is
    mean 70, variance 4 (covariance 0.5 with feature 0) where it has its own."""
    covariances = {
        "full": np.array([[[1.0, 0.5], [0.5, 1.0]], [[1.0, 0.5], [0.5, 4.0]]]),
        "tied": np.array([[1.0, 0.5], [0.5, 1.0]]),
        "diag": np.array([[1.0, 1.0], [1.0, 4.0]]),
        "spherical": np.array([1.0, 1.0]),
    }[covariance_type]
    precisions = np.linalg.inv(covariances) if covariance_type in ("full", "tied") else (
        1.0 / covariances)
    return dict(weights_init=[0.5, 0.5], means_init=[[5.0, 50.0], [100.0, 70.0]],
                precisions_init=precisions)


GAUSSIAN_WARNING = (r"hold no observed value in some features \(component 1: feature\(s\) 1\)"
                    r".*take the data's mean and variance")
REG_COVAR = 0.1


def marginal(X, weights=None):
    """The data's weighted mean and variance of feature 1 over its observed entries."""
    observed = ~np.isnan(X[:, 1])
    w = np.ones(len(X)) if weights is None else np.asarray(weights, dtype=np.float64)
    values, w = X[observed, 1].astype(np.float64), w[observed]
    mean = np.average(values, weights=w)
    return mean, np.average((values - mean) ** 2, weights=w)


def observed_log_density(model, X):
    """NumPy reference: each row's log-density of its observed coordinates under the model."""
    means = np.asarray(model.means_, dtype=np.float64)
    covariances = model._float64_covariances()
    out = np.empty(len(X))
    for i, x in enumerate(np.asarray(X, dtype=np.float64)):
        o = ~np.isnan(x)
        terms = []
        for k in range(len(means)):
            d = x[o] - means[k, o]
            c = covariances[k][np.ix_(o, o)]
            _, logdet = np.linalg.slogdet(c)
            terms.append(np.log(model.weights_[k]) - 0.5 * (
                o.sum() * np.log(2 * np.pi) + logdet + d @ np.linalg.solve(c, d)))
        out[i] = np.logaddexp.reduce(terms)
    return out


def check_far_component_takes_the_marginal(model, covariance_type, X, weights=None):
    """The far component has the data's marginal in feature 1; the near one fits."""
    mean, variance = marginal(X, weights)
    rtol = 1e-5 if model.means_.dtype == np.float32 else 1e-9
    assert_allclose(model.means_[1, 1], mean, rtol=rtol)  # drifted to ~25-50 by the regression
    assert_allclose(model.means_[0], [5.0, 50.0], atol=0.5)
    covariances = model._float64_covariances()
    if covariance_type in ("full", "diag"):  # its variance there grew by reg_covar every step
        assert_allclose(covariances[1, 1, 1], variance + REG_COVAR, rtol=rtol)
        assert covariances[1, 0, 1] == covariances[1, 1, 0] == 0
    elif covariance_type == "tied":  # shared: fitted, the near component observes feature 1
        assert 7.0 < covariances[0, 1, 1] < 12.0
    else:  # one variance, of the feature the far component observes
        assert 0.8 < covariances[1, 0, 0] < 1.6
    assert np.all(np.linalg.eigvalsh(covariances) > 0)
    # points that observe feature 1 are scored with the fitted parameters, as NumPy does
    rows = np.array([[100.0, 50.0], [100.0, 40.0], [5.0, 50.0], [100.0, np.nan]])
    assert_allclose(model.score_samples(rows.astype(model.means_.dtype)),
                    observed_log_density(model, rows), rtol=1e-4, atol=1e-4)
    if covariance_type in ("full", "diag"):
        # [100, 50] under the far component: its density in feature 0 times the data's
        # marginal of feature 1, not hundreds of nats below it
        expected = (np.log(0.5) - np.log(2 * np.pi) - 0.5 * np.log(covariances[1, 0, 0])
                    - 0.5 * np.log(variance + REG_COVAR)
                    - 0.5 * ((100.0 - model.means_[1, 0]) ** 2 / covariances[1, 0, 0]
                             + (50.0 - mean) ** 2 / (variance + REG_COVAR)))
        assert_allclose(model.score_samples(rows[:1].astype(model.means_.dtype))[0], expected,
                        rtol=1e-4)
    X1 = np.array([[model.means_[1, 0], np.nan]], dtype=model.means_.dtype)
    assert_allclose(model.impute(X1)[0, 1], mean, rtol=rtol)


def fit_recording(model, source, **kwargs):
    """Fit ``model`` on ``source``; the far component's mean and covariance in feature 1
    after each iteration, and the warnings."""
    steps = []

    def record(m, n_iter, lower_bound):
        covariances = m._float64_covariances()
        # 'tied' shares its covariance, which the near component's points fit
        variance = [] if m.covariance_type == "tied" else [covariances[-1, -1, -1]]
        steps.append([float(m.means_[1, 1]), *variance])

    model.set_params(callback=record)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(source, **kwargs)
    return steps, caught


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("chunked", [False, True])
def test_gaussian_unobserved_feature_takes_the_data_marginal(covariance_type, dtype, chunked):
    X = gaussian_data(dtype)
    model = GaussianMixture(2, covariance_type=covariance_type, missing="em",
                            reg_covar=REG_COVAR, max_iter=40, tol=0,
                            **gaussian_start(covariance_type))
    steps, caught = fit_recording(model, Chunks([X[:250], X[250:]]) if chunked else X)
    check_far_component_takes_the_marginal(model, covariance_type, X)
    # no drift: the same mean and variance in feature 1 at every iteration
    assert_allclose(steps, [steps[-1]] * len(steps), rtol=1e-12)
    if covariance_type != "tied":  # 'tied' falls by 7e-6 here without the feature's rule too
        assert np.all(np.diff(model.lower_bounds_) >= -1e-9 * np.abs(model.lower_bounds_[1:]))
    assert [w for w in caught if re.search(GAUSSIAN_WARNING, str(w.message))], caught


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gaussian_unobserved_feature_does_not_depend_on_the_start(covariance_type):
    """From fastem's own start (the hierarchical start gives the far component a variance
    of reg_covar in feature 1) the fit ends where the given start's does."""
    X = gaussian_data()
    given = GaussianMixture(2, covariance_type=covariance_type, missing="em",
                            reg_covar=REG_COVAR, **gaussian_start(covariance_type))
    own = GaussianMixture(2, covariance_type=covariance_type, missing="em",
                          reg_covar=REG_COVAR, random_state=0)
    for model in (given, own):
        with pytest.warns(UserWarning, match="hold no observed value"):
            model.fit(X)
    order = np.argsort(own.means_[:, 0])
    assert_allclose(own.means_[order], given.means_, rtol=1e-6)
    assert_allclose(own._float64_covariances()[order] if covariance_type != "tied"
                    else own._float64_covariances(), given._float64_covariances(), rtol=1e-5,
                    atol=1e-4)  # both converged to the default tol
    assert_allclose(own.score(X), given.score(X), rtol=1e-6)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_gaussian_unobserved_feature_with_sample_weight_as_repeated_rows(covariance_type):
    X = gaussian_data()
    weights = np.tile([1.0, 3.0], len(X) // 2)
    start = gaussian_start(covariance_type)
    weighted, repeated = (
        GaussianMixture(2, covariance_type=covariance_type, missing="em", reg_covar=REG_COVAR,
                        max_iter=20, tol=0, **start) for _ in range(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "With missing='em'", UserWarning)
        weighted.fit(X, sample_weight=1e-3 * weights)
        repeated.fit(np.repeat(X, weights.astype(int), axis=0))
    check_far_component_takes_the_marginal(weighted, covariance_type, X, weights)
    assert_allclose(weighted.means_, repeated.means_, rtol=1e-9)
    assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_gaussian_partial_fit_takes_the_data_marginal(covariance_type):
    X = gaussian_data()
    model = GaussianMixture(2, covariance_type=covariance_type, missing="em",
                            reg_covar=REG_COVAR, **gaussian_start(covariance_type))
    rng = np.random.default_rng(1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(10):
            model.partial_fit(X[rng.permutation(len(X))[:300]])
    # the running statistics' marginal: their batches', with nothing of the start
    stats = model._running_stats
    mean, variance = model._data_marginal(stats)
    assert_allclose(model.means_[1, 1], mean[1], rtol=1e-9)
    assert 45 < mean[1] < 55 and 5 < variance[1] < 15
    if covariance_type in ("full", "diag"):
        assert_allclose(model._float64_covariances()[1, 1, 1], variance[1] + REG_COVAR)
    assert [w for w in caught if re.search(GAUSSIAN_WARNING, str(w.message))], caught


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_a_partial_fit_stream_says_each_warning_once_whichever_came_first(covariance_type):
    """A stream says each of its warnings once: the warning of a component with no observed
    value of a feature, given at the first step, does not silence a later step's warning
    that reg_covar swamps the data's spread (they shared one flag)."""
    X = gaussian_data()
    model = GaussianMixture(2, covariance_type=covariance_type, missing="em",
                            reg_covar=REG_COVAR, **gaussian_start(covariance_type))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.partial_fit(X)
    assert [w.category for w in caught] == [UserWarning]
    model.set_params(reg_covar=1e4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.partial_fit(X)
        model.partial_fit(X)  # each once per stream
    assert [w.category for w in caught] == [RegularizationWarning], [
        str(w.message) for w in caught]


def test_gaussian_dask_takes_the_data_marginal():
    da = pytest.importorskip("dask.array")
    X = gaussian_data()
    model = GaussianMixture(2, missing="em", reg_covar=REG_COVAR, max_iter=20, tol=0,
                            **gaussian_start("full"))
    steps, caught = fit_recording(model, da.from_array(X, chunks=150))
    check_far_component_takes_the_marginal(model, "full", X)
    assert_allclose(steps, [steps[-1]] * len(steps), rtol=1e-12)
    assert [w for w in caught if re.search(GAUSSIAN_WARNING, str(w.message))], caught


def check_observed_moments(model, X):
    """Assert that the statistics of ``X`` under ``model`` hold each component's observed
    mass, deviations from its mean and their squares at every feature, as NumPy computes
    them from the responsibilities (rtol 1e-5 in float32, 1e-10 in float64); return them."""
    stats = model.summarize(X)
    resp = model.predict_proba(X).astype(np.float64)
    observed = ~np.isnan(X)
    dev = np.where(observed[:, None, :], X[:, None, :] - model.means_[None], 0.0)
    rtol = 1e-5 if X.dtype == np.float32 else 1e-10
    assert_allclose(stats.moments["observed_nk"], resp.T @ observed, rtol=rtol)
    assert_allclose(stats.moments["observed_sx"], np.einsum("ik,ikj->kj", resp, dev),
                    rtol=rtol, atol=1e-6)
    assert_allclose(stats.moments["observed_sxx"], np.einsum("ik,ikj->j", resp, dev**2),
                    rtol=rtol)
    return stats


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gaussian_observed_moments_against_numpy(covariance_type, dtype):
    """Data without NaN (complete-data kernels) and with NaN (the kernels for missing
    values) give each component's observed mass, deviations and squares at every feature."""
    rng = np.random.default_rng(2)
    X = gaussian_data()[:200] + rng.normal(0.0, 1.0, (200, 2))
    model = GaussianMixture(2, covariance_type=covariance_type, missing="em",
                            random_state=0).fit(X)
    X = X.astype(dtype)
    for missing in (False, True):
        if missing:
            X[::3, 1] = np.nan
            X[1::6, 0] = np.nan
        stats = check_observed_moments(model, X)
        rtol = 1e-5 if dtype == np.float32 else 1e-10
        mean, variance = model._data_marginal(stats)
        assert_allclose(mean, [np.nanmean(X[:, j].astype(np.float64)) for j in range(2)],
                        rtol=rtol)
        assert_allclose(variance, [np.nanvar(X[:, j].astype(np.float64)) for j in range(2)],
                        rtol=10 * rtol)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gaussian_observed_moments_of_five_features_against_numpy(covariance_type, dtype):
    """At five features ('diag' and 'spherical' sum them with the statistics, one feature
    alone, then four at a time), the observed mass, deviations and squares of every feature,
    NaN in each, one feature missing at every point of the far cluster."""
    rng = np.random.default_rng(3)
    X = np.column_stack([gaussian_data(), rng.normal(-20.0, 2.0, (400, 3))])
    X[rng.random(X.shape) < 0.15] = np.nan
    X[:, 0][np.isnan(X).all(axis=1)] = 5.0
    model = GaussianMixture(2, covariance_type=covariance_type, missing="em", max_iter=5,
                            random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    X = X.astype(dtype)
    stats = check_observed_moments(model, X)
    assert (stats.moments["observed_nk"][:, 1] < stats.nk).all()


def test_gaussian_model_file_without_observed_moments_loads(tmp_path):
    """A model file of a Gaussian mixture stepped by partial_fit with missing='em', written
    before its statistics summed the observed-data moments, loads (its running statistics
    are taken as those of data without NaN) and its stream goes on."""
    X = gaussian_data()
    model = GaussianMixture(2, missing="em", reg_covar=REG_COVAR, **gaussian_start("full"))
    with pytest.warns(UserWarning, match=GAUSSIAN_WARNING):
        model.partial_fit(X)
    path = tmp_path / "m.npz"
    model.save(path)
    for name in ("observed_nk", "observed_sx", "observed_sxx"):
        assert_allclose(load(path)._running_stats.moments[name],
                        model._running_stats.moments[name])
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["metadata"]))
    for name in ("observed_nk", "observed_sx", "observed_sxx"):
        meta["online_em"]["moments"].remove(name)
        del arrays[f"online_em__moments__{name}"]
    arrays["metadata"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    loaded = load(path)
    stats = loaded._running_stats
    assert_allclose(stats.moments["observed_nk"], np.repeat(stats.nk[:, None], 2, axis=1))
    assert_allclose(stats.moments["observed_sx"], stats.moments["sx"])
    for _ in range(3):
        loaded.partial_fit(X)
    assert np.isfinite(loaded.score(X))
    assert set(loaded._running_stats.moments) == set(model._running_stats.moments)


def test_gaussian_select_n_components_says_it_once_of_the_chosen_fit():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = select_n_components(gaussian_data(), n_components=[1, 2, 3],
                                     covariance_types=["diag", "full"], missing="em",
                                     random_state=0)
    said = [str(w.message) for w in caught if "hold no observed value" in str(w.message)]
    assert len(said) == 1, said  # not once per cell of the grid
    assert f"in the chosen fit {result.best_params_!r}" in said[0]


def test_a_stream_continued_from_a_model_file_does_not_say_its_warnings_again(tmp_path):
    """A model file saved mid-stream keeps which of the stream's warnings it gave: a stream
    continued from it (as from a pickle) does not give them again, and one that gave none
    still gives them."""
    X = data()
    model = PoissonMixture(2, missing="em", weights_init=[0.5, 0.5],
                           rates_init=[[3.0, 70.0], [4e4, 40.0]])
    with pytest.warns(UserWarning, match="hold no observed value"):
        model.partial_fit(X)
    model.save(tmp_path / "stream.npz")
    loaded = load(tmp_path / "stream.npz")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded.partial_fit(X)
    assert [str(w.message) for w in caught] == []
    assert loaded.n_steps_ == 1
    # the regularisation warning of a Gaussian stream alike, and its own flag apart
    model = GaussianMixture(2, covariance_type="diag", missing="em", reg_covar=1e4,
                            **gaussian_start("diag"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.partial_fit(gaussian_data())
    assert RegularizationWarning in [w.category for w in caught]
    model.save(tmp_path / "gaussian.npz")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load(tmp_path / "gaussian.npz").partial_fit(gaussian_data())
    assert [str(w.message) for w in caught] == []


def continued(model, how, tmp_path, X=None):
    """``model`` as a stream continues it: itself (after fit), loaded from its file, or after
    an M-step of the statistics of ``X`` (whose parameters drop the fit's record)."""
    if how == "file":
        model.save(tmp_path / "fitted.npz")
        return load(tmp_path / "fitted.npz")
    if how == "m_step":
        return model.m_step(model.summarize(X))
    return model


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("how", ["fit", "file", "m_step"])
def test_a_stream_from_a_fitted_gaussian_keeps_the_marginal_of_an_unobserved_feature(
        tmp_path, covariance_type, dtype, how):
    """A partial_fit stream continued from fit() (its file, an m_step) starts from
    statistics in which the far component observes none of feature 1, as the fit's data say:
    its mean and variance there stay the data's marginal, as in the fit, and do not grow by
    the imputed values' variance (they took eta_t * reg_covar and more at each step)."""
    X = gaussian_data(dtype)
    chunked = Chunks([X[:250], X[250:]])
    model = GaussianMixture(2, covariance_type=covariance_type, missing="em",
                            reg_covar=REG_COVAR, max_iter=40, tol=0,
                            **gaussian_start(covariance_type))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match=GAUSSIAN_WARNING):
            model.fit(chunked if how == "fit" else X)
    model = continued(model, how, tmp_path, X)
    fitted_mean, fitted_variance = model.means_[1, 1], model._float64_covariances()[1, 1, 1]
    # the statistics of the parameters give them back
    again = copy.deepcopy(model).m_step(model._statistics_of_parameters())
    for name in model._parameter_names:
        assert_allclose(getattr(again, name), getattr(model, name), rtol=1e-6, atol=1e-12)
    rtol = 1e-5 if dtype == np.float32 else 1e-9
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(4):
            model.partial_fit(X)
            assert model._unobserved(model._running_stats)[1, 1]
            assert_allclose(model.means_[1, 1], fitted_mean, rtol=rtol)
            if covariance_type != "tied":  # 'tied' shares it: the near component's points'
                assert_allclose(model._float64_covariances()[1, 1, 1], fitted_variance,
                                rtol=rtol)
    # said by the fit; a file of a fit (or parameters set since) does not keep which
    # warnings it gave
    said = [w for w in caught if re.search(GAUSSIAN_WARNING, str(w.message))]
    assert len(said) == (how != "fit"), [str(w.message) for w in caught]


@pytest.mark.parametrize("family, init", [(ExponentialMixture, "scales_init"),
                                          (PoissonMixture, "rates_init")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("how", ["fit", "file"])
def test_a_stream_from_a_fitted_model_takes_an_unobserved_mean_from_the_data(
        tmp_path, family, init, dtype, how):
    """A stream continued from fit() (or its file) counts no observed value of feature 1 for
    the small component, which kept its start (70) there: once a batch observes the feature
    for it, its mean is the batch's, as in a stream that started on the fit's data, not an
    average with the start counted as the component's whole mass of observed values."""
    X = data().astype(dtype)
    kwargs = dict(missing="em", weights_init=[0.5, 0.5], **{init: [[3.0, 70.0], [4e4, 40.0]]})
    batch = X[:300].copy()
    batch[:, 1] = np.random.default_rng(5).poisson(3.0, 300) + 1
    fitted, stream = family(2, **kwargs), family(2, **kwargs)
    with pytest.warns(UserWarning, match="hold no observed value"):
        fitted.fit(X)
    with pytest.warns(UserWarning, match="hold no observed value"):
        stream.partial_fit(X)
    model = continued(fitted, how, tmp_path)
    again = copy.deepcopy(model).m_step(model._statistics_of_parameters())
    assert_array_equal(getattr(again, model._mean_name), getattr(model, model._mean_name))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "With missing='em'", UserWarning)
        model.partial_fit(batch)
    stream.partial_fit(batch)
    means = getattr(model, model._mean_name)
    assert_allclose(means[0, 1], getattr(stream, stream._mean_name)[0, 1], rtol=1e-5)
    assert_allclose(means[0, 1], batch[:, 1].astype(np.float64).mean(), rtol=1e-3)  # not 28


def test_a_model_file_keeps_which_components_observe_no_value_of_a_feature(tmp_path):
    """The optional metadata field unobserved_features: [component, feature] pairs; a file
    without it loads as a model whose components observe every feature, one with pairs
    outside the model is refused."""
    model = GaussianMixture(2, missing="em", reg_covar=REG_COVAR, **gaussian_start("full"))
    with pytest.warns(UserWarning, match=GAUSSIAN_WARNING):
        model.fit(gaussian_data())
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["metadata"]))
    assert meta["unobserved_features"] == [[1, 1]]
    assert_array_equal(load(path)._unobserved_features, [[False, False], [False, True]])
    for value, expected in ((None, None), ([], None), ([[2, 0]], "outside a model"),
                            ([[0, True]], "pairs of integers"), ("1,1", "pairs of integers")):
        if value is None:
            del meta["unobserved_features"]
        else:
            meta["unobserved_features"] = value
        arrays["metadata"] = np.array(json.dumps(meta))
        np.savez(path, **arrays)
        if expected is None:
            assert getattr(load(path), "_unobserved_features", None) is None
        else:
            with pytest.raises(ValueError, match=r"is damaged: metadata field "
                                                 rf"'unobserved_features' .*{expected}"):
                load(path)
    # a model fitted without missing='em' has none (set_params(missing='em') would read it)
    meta["unobserved_features"] = [[1, 1]]
    meta["hyper_parameters"]["missing"] = "error"
    arrays["metadata"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"is damaged: metadata field 'unobserved_features' "
                                         r".*not fitted with missing='em'"):
        load(path)
    # a model without such components writes no field; assigned parameters forget it
    model.means_ = model.means_
    model.save(path)
    with np.load(path) as f:
        assert "unobserved_features" not in json.loads(str(f["metadata"]))


def test_a_checkpoint_saved_by_the_callback_keeps_which_components_observe_no_value(tmp_path):
    """The model a callback sees (and saves as a checkpoint) carries the record of its
    parameters' M-step, as the fitted model does: a stream continued from the checkpoint
    keeps the far component's marginal in feature 1."""
    path = tmp_path / "checkpoint.npz"
    model = GaussianMixture(2, missing="em", reg_covar=REG_COVAR, max_iter=5, tol=0,
                            callback=lambda m, n_iter, lower_bound: m.save(path),
                            **gaussian_start("full"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        with pytest.warns(UserWarning, match=GAUSSIAN_WARNING):
            model.fit(gaussian_data())
    with np.load(path) as f:
        assert json.loads(str(f["metadata"]))["unobserved_features"] == [[1, 1]]
    checkpoint = load(path)
    variance = checkpoint._float64_covariances()[1, 1, 1]
    with pytest.warns(UserWarning, match=GAUSSIAN_WARNING):
        checkpoint.partial_fit(gaussian_data())
    assert_allclose(checkpoint._float64_covariances()[1, 1, 1], variance, rtol=1e-9)


def test_the_round_trip_through_sklearn_keeps_fastem_s_own_settings(tmp_path):
    """from_sklearn(model.to_sklearn()) gave a model of scikit-learn's settings alone:
    missing='error' for a model fitted with missing='em' (it no longer imputed), the
    default accelerate, step_exponent and step_offset, init_params 'kmeans' for
    'hierarchical', and no record of the components that observe no value of a feature,
    which the model's file and a stream continued from it keep. The estimator carries
    them (pickled too), and from_sklearn gives them back."""
    import pickle

    pytest.importorskip("sklearn")
    model = GaussianMixture(2, missing="em", reg_covar=REG_COVAR, accelerate=False,
                            step_exponent=0.9, step_offset=3.0, init_params="hierarchical",
                            **gaussian_start("full"))
    with pytest.warns(UserWarning, match=GAUSSIAN_WARNING):
        model.fit(gaussian_data())
    back = GaussianMixture.from_sklearn(pickle.loads(pickle.dumps(model.to_sklearn())))
    assert back.get_params() == {**model.get_params(), **{
        name: back.get_params()[name] for name in ("means_init", "weights_init",
                                                   "precisions_init")}}
    assert back.missing == "em" and back.init_params == "hierarchical"
    assert_array_equal(back._unobserved_of_the_fit(), model._unobserved_of_the_fit())
    back.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as f:
        assert json.loads(str(f["metadata"]))["unobserved_features"] == [[1, 1]]
    assert_array_equal(back.impute(gaussian_data()), model.impute(gaussian_data()))
