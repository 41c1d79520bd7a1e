"""Data of wide ranges in the families without squared distances, and the min_scale floor."""

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastem import (Chunks, ExponentialMixture, GaussianMixture, PoissonMixture,
                    RegularizationWarning)


def wide(dtype, span, counts=False):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.exponential(1.0, 300), rng.exponential(span, 300)])[:, None]
    return (np.rint(X) if counts else X).astype(dtype)


@pytest.mark.parametrize("family", [ExponentialMixture, PoissonMixture])
@pytest.mark.parametrize("dtype, span", [(np.float32, 1e17), (np.float32, 1e36),
                                         (np.float64, 1e150)])
def test_wide_data_fit_without_squares(family, dtype, span):
    """Exponential and Poisson kernels form no squares: the Gaussian range limit (about
    1.8e16 in float32) is no limit of theirs, and float32 fits agree with float64."""
    X = wide(dtype, span, counts=family is PoissonMixture)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularizationWarning)
        model = family(2, random_state=0).fit(X)
        reference = family(2, random_state=0).fit(X.astype(np.float64))
        chunked = family(2, random_state=0).fit(Chunks([X[:250], X[250:]]))
        online = family(2, random_state=0).partial_fit(X)
    means = getattr(model, model._mean_name)
    assert means.dtype == dtype and np.isfinite(means).all()
    assert_allclose(np.sort(means.ravel()), np.sort(getattr(reference, model._mean_name).ravel()),
                    rtol=1e-4)
    assert_allclose(getattr(chunked, model._mean_name), means, rtol=1e-5)
    assert np.isfinite(getattr(online, model._mean_name)).all()
    assert np.isfinite(model.score(X)) and np.isfinite(model.score_samples(X)).all()


def test_wide_data_still_refused_by_gaussian_squares():
    with pytest.raises(ValueError, match="squared distances would overflow"):
        GaussianMixture(2, random_state=0).fit(wide(np.float32, 1e17))


def test_floor_warning_tells_positive_points_from_zeros():
    """A component of positive points far below the floor is not said to sit on zeros."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.exponential(1e-9, 500), rng.exponential(1e9, 500)])[:, None]
    with pytest.warns(RegularizationWarning) as record:
        model = ExponentialMixture(2, random_state=0).fit(X)
    message = str(record[0].message)
    assert "all 0" not in message.split(": ", 1)[1].split(". ")[0]
    assert "not 0 but average 1" in message and "Lower min_scale" in message
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularizationWarning)
        refit = ExponentialMixture(2, random_state=0, min_scale=1e-20).fit(X)
    assert_allclose(np.sort(refit.scales_.ravel())[0], 1e-9, rtol=0.2)
    assert model.scales_.min() > 1e-3  # the floor's
    # zeros are still named as such
    Z = np.concatenate([np.zeros(300), rng.exponential(1.0, 300)])[:, None]
    with pytest.warns(RegularizationWarning, match="its points are all 0 there.*spurious"):
        ExponentialMixture(2, random_state=0).fit(Z)


def follow_the_advice(message, X, whole=False):
    """``X`` with each feature that the message of a range too wide names divided by the
    power of ten it advises (rounded to whole counts with ``whole``); at least one is."""
    advised = re.findall(r"feature (\d+) by (1e[+-][0-9]+)\b", message)
    assert advised
    X = X.copy()
    for j, factor in advised:
        X[:, int(j)] = X[:, int(j)] / float(factor)
        if whole:
            X[:, int(j)] = np.round(X[:, int(j)])
    return X


def with_a_feature_of_unit_scale(X, family):
    rng = np.random.default_rng(1)
    other = {GaussianMixture: rng.normal, ExponentialMixture: rng.exponential,
             PoissonMixture: lambda size: rng.poisson(5.0, size)}[family](size=len(X))
    return np.column_stack([X, other.astype(X.dtype)])


@pytest.mark.parametrize("span", [1e153, 1e170, 1e300, 1e306])
@pytest.mark.parametrize("family", [ExponentialMixture, PoissonMixture])
def test_range_beyond_float64_standardisation_names_it_and_the_fix_fits(family, span):
    """The advice fits: counts stay whole (``X / X.std(axis=0)`` made them fractions,
    which a Poisson mixture refuses), by a factor that brings them within the limit, in
    the features beyond it alone (``X / X.mean(axis=0)`` of values near 1e306 overflowed
    to all 0; ``np.round(X / 1e+N)`` of every feature rounded the others' counts to 0)."""
    counts = family is PoissonMixture
    X = with_a_feature_of_unit_scale(wide(np.float64, span, counts=counts), family)
    with pytest.raises(ValueError, match="squared deviations that standardise the data") as error:
        family(2, random_state=0).fit(X)
    message = str(error.value)
    assert "std(axis=0)" not in message and "mean(axis=0)" not in message
    assert "feature 1 by" not in message  # within the limit: left as it is
    scaled = follow_the_advice(message, X, whole=counts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularizationWarning)
        model = family(2, random_state=0).fit(scaled)
    means = getattr(model, model._mean_name)
    assert np.isfinite(means).all() and np.ptp(means[:, 0]) > 0
    assert_allclose(scaled[:, 1], X[:, 1])


@pytest.mark.parametrize("dtype, span", [(np.float64, 1e152), (np.float64, 1e160),
                                         (np.float64, 1e300), (np.float32, 1e17),
                                         (np.float32, 1e20), (np.float32, 1e30)])
@pytest.mark.parametrize("kind", ["array", "missing", "chunks", "dask"])
def test_range_too_wide_for_gaussian_squares_advises_a_scaling_that_fits(dtype, span, kind):
    """The advice is a power of ten for the feature beyond the limit, the same for all the
    data: X / X.std(axis=0), the advice before, overflowed to infinity beyond sqrt(max)
    (1.3e154 in float64, 1.8e19 in float32) and made the data all 0, which fitted; it was
    NaN in a feature with NaN, and each chunk's own for chunked data."""
    clusters = np.random.default_rng(0).normal([[-1.0], [1.0]], 0.1, size=(2, 300)).reshape(-1, 1)
    X = with_a_feature_of_unit_scale(clusters * span, GaussianMixture).astype(dtype)
    missing = "em" if kind == "missing" else "error"
    if kind == "missing":
        X[::7, 0] = np.nan
    data = {"chunks": lambda X: Chunks([X[:300], X[300:]]),
            "dask": lambda X: pytest.importorskip("dask.array").from_array(X, chunks=200)}
    given = data.get(kind, lambda X: X)
    with pytest.raises(ValueError, match="squared distances would overflow") as error:
        GaussianMixture(2, missing=missing, random_state=0).fit(given(X))
    message = str(error.value)
    assert "std(axis=0)" not in message and "feature 1 by" not in message
    scaled = follow_the_advice(message, X)
    model = GaussianMixture(2, missing=missing, random_state=0).fit(given(scaled))
    assert model.means_.dtype == dtype and np.isfinite(model.means_).all()
    assert np.ptp(model.means_[:, 0]) > np.nanmax(scaled[:, 0]) / 100  # not all 0


@pytest.mark.parametrize("missing", ["error", "em"])
def test_values_too_large_for_a_gaussian_are_advised_a_shift_that_fits(missing):
    """Values whose spread is within the limit but whose magnitude is not: the advice
    shifts them by their minimum. X - X.mean(axis=0), the advice before, overflowed (the
    sum of 100 values of 1e307) and was NaN in a feature with missing values."""
    X = np.random.default_rng(0).normal(size=(100, 2))
    X[:, 0] = 1e307
    if missing == "em":
        X[::9, 0] = np.nan
    with pytest.raises(ValueError, match=r"magnitude 1e\+307 in feature 0, too large") as error:
        GaussianMixture(1, missing=missing, random_state=0).fit(X)
    assert "X - np.nanmin(X, axis=0)" in str(error.value)
    with warnings.catch_warnings():
        # a spread within the limit at such magnitudes is at most a rounding step: feature
        # 0 is constant, which reg_covar swamps
        warnings.simplefilter("ignore", RegularizationWarning)
        model = GaussianMixture(1, missing=missing, random_state=0).fit(X - np.nanmin(X, axis=0))
    assert np.isfinite(model.means_).all()


def _poisson_with_rates(rates):
    model = PoissonMixture(1).fit(np.array([[5.0, 5.0], [6.0, 6.0]]))
    model.weights_ = np.array([1.0])
    model.rates_ = np.array([rates])
    return model


def test_poisson_draws_imputations_at_large_rates():
    """scipy's poisson.ppf gives NaN below the mean from rates of about 1e9 on: the drawn
    imputation of a missing count was NaN for most rows."""
    model = _poisson_with_rates([1e12, 3.0])
    X = np.tile([np.nan, 2.0], (400, 1))
    drawn = model.impute(X, draw=True, random_state=0)[:, 0]
    assert np.isfinite(drawn).all()
    assert_allclose(drawn.mean(), 1e12, rtol=1e-6)
    assert_allclose(drawn.std(), 1e6, rtol=0.2)  # sqrt of the rate
    assert np.array_equal(drawn, np.round(drawn))


def test_poisson_samples_beyond_numpys_largest_rate():
    model = _poisson_with_rates([1e20, 3.0])
    X, _ = model.sample(1000)
    assert np.isfinite(X).all()
    assert_allclose(X[:, 0].mean(), 1e20, rtol=1e-9)
    assert_allclose(X[:, 1].mean(), 3.0, rtol=0.15)


def test_floor_warning_of_a_partial_fit_step_whose_batch_the_component_does_not_hold():
    """The component on values near 1e-3 holds none of a batch of values near 1e7, whose
    mean raises the floor above its scale: its points are its earlier batch's, not zeros."""
    rng = np.random.default_rng(0)
    first = np.concatenate([rng.exponential(1e-3, 500), rng.exponential(1.0, 500)])[:, None]
    model = ExponentialMixture(2, scales_init=[[1e-3], [1.0]], weights_init=[0.5, 0.5])
    model.partial_fit(first)
    with pytest.warns(RegularizationWarning, match="component 0") as caught:
        model.partial_fit(rng.exponential(1e7, 1000)[:, None])
    message = str(caught[0].message)
    assert "are all 0" not in message
    assert "its points there are not 0 but average 0.0011" in message


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_data_too_far_from_the_fitted_model_are_sent_to_its_scale(covariance_type):
    """Data within the limits alone, beyond them with the model's means: rescaling the data
    (X / X.std(axis=0), which is 0 for one row) is no advice; the model's scale is."""
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(wide(np.float64, 10.0))
    with pytest.raises(ValueError, match="X with the fitted model spans") as error:
        model.score_samples(np.array([[1e200]]))
    message = str(error.value)
    assert "std(axis=0)" not in message
    assert "Give data on the scale the model was fitted on (its means lie between" in message


@pytest.mark.parametrize("family, dtype, apart", [
    (GaussianMixture, np.float64, 1e154), (GaussianMixture, np.float32, 1e19),
    (ExponentialMixture, np.float64, 1e154), (PoissonMixture, np.float64, 1e154),
])
def test_chunks_within_the_limits_alone_are_checked_together(family, dtype, apart):
    """Each chunk spans little; together they span as the array of their rows does, which
    is refused: Chunks checked each chunk alone, and a Gaussian fit overflowed in its
    M-step (its covariances infinite, the error an ill-defined covariance)."""
    rows = np.rint(np.random.default_rng(0).exponential(3.0, (100, 2)))
    chunks = [rows.astype(dtype), (rows + apart).astype(dtype)]
    with pytest.raises(ValueError, match="spans") as whole:
        family(2, random_state=0).fit(np.concatenate(chunks))
    with pytest.raises(ValueError) as chunked:
        family(2, random_state=0).fit(Chunks(chunks))
    assert str(chunked.value) == str(whole.value).replace("X", "X (its chunks together)", 1)


def test_chunks_each_near_a_fitted_model_are_checked_together_with_it():
    rows = np.random.default_rng(0).normal(size=(100, 2))
    model = GaussianMixture(2, random_state=0).fit(rows)
    chunks = [rows - 1e151, rows + 1e151]  # each within the limit with the model's means
    with pytest.raises(ValueError, match=r"^X with the fitted model spans"):
        model.score(np.concatenate(chunks))
    with pytest.raises(ValueError, match=r"^X \(its chunks together\) with the fitted model spans"):
        model.score(Chunks(chunks))


@pytest.mark.parametrize("kind", ["array", "chunks", "dask", "means_init", "fitted"])
def test_a_range_beyond_float64s_largest_number_is_refused_as_such(kind):
    """Values near +-1.79e308: their span overflows float64, which the range check computed
    with a RuntimeWarning (an error in the tests) and called 'inf'."""
    X = np.random.default_rng(0).normal(size=(50, 2))
    X[0, 0], X[1, 0] = 1.79e308, -1.79e308
    calls = {
        "array": lambda: GaussianMixture(2).fit(X),
        "chunks": lambda: GaussianMixture(2).fit(Chunks([X[:25], X[25:]])),
        "dask": lambda: GaussianMixture(2).fit(
            pytest.importorskip("dask.array").from_array(X, chunks=10)),
        "means_init": lambda: GaussianMixture(2, means_init=X[:2]).fit(X[2:]),
        "fitted": lambda: GaussianMixture(2, random_state=0).fit(X[2:]).score_samples(X),
    }
    with pytest.raises(ValueError, match=r"spans more than 1\.8e\+308 \(float64's largest number\) "
                                         r"in feature 0, too wide"):
        calls[kind]()


def _reference_log_densities(model, Y):
    """Per-component weighted log-densities of ``Y`` under ``model``, from scipy.stats."""
    from scipy import stats

    Y = np.asarray(Y, dtype=np.float64)[:, None, :]
    with np.errstate(all="ignore"):  # scipy's x / scale of the largest values
        if isinstance(model, PoissonMixture):
            terms = stats.poisson.logpmf(Y, np.asarray(model.rates_, dtype=np.float64)[None])
        else:
            terms = stats.expon.logpdf(Y, scale=np.asarray(model.scales_, dtype=np.float64)[None])
    return np.log(np.asarray(model.weights_, dtype=np.float64)) + terms.sum(axis=-1)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("family", [ExponentialMixture, PoissonMixture])
def test_a_fitted_model_scores_values_beyond_the_limits_of_a_fit(family, dtype):
    """Scoring squares nothing of the data and computes no mean of them: a model of small
    values scores 1e300 (1e38 in float32) as scipy.stats does, on every path. They were
    refused with the advice to scale them down (a fit's limit), which would score other
    data."""
    rng = np.random.default_rng(0)
    X = rng.exponential(2.0, (300, 2))
    X = np.rint(X) if family is PoissonMixture else X
    model = family(2, random_state=0).fit(X.astype(dtype))
    large = 1e300 if dtype == np.float64 else 1e38
    Y = np.array([[large, 1.0], [2.0, large / 3], [2.0, 1.0]], dtype=dtype)
    from scipy.special import logsumexp

    reference = _reference_log_densities(model, Y)
    expected = logsumexp(reference, axis=1)
    assert_allclose(model.score_samples(Y), expected, rtol=1e-6)
    assert_allclose(model.score(Y), expected.mean(), rtol=1e-6)
    assert_allclose(np.concatenate(model.score_samples(Chunks([Y[:1], Y[1:]]))), expected,
                    rtol=1e-6)
    assert np.array_equal(model.predict(Y), reference.argmax(axis=1))
    resp = model.predict_proba(Y)
    assert np.isfinite(resp).all()
    assert_allclose(resp.sum(axis=1), 1.0)
    missing = family(2, random_state=0, missing="em").fit(X.astype(dtype))
    Z = Y.copy()
    Z[1, 0] = np.nan
    assert np.isfinite(missing.score_samples(Z)).all()


def test_a_fitted_model_scores_far_values_on_dask_arrays():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(0)
    model = PoissonMixture(2, random_state=0).fit(np.rint(rng.exponential(2.0, (300, 1))))
    Y = np.array([[1e300], [2.0]])
    for method in ("score_samples", "predict", "predict_proba"):
        assert_allclose(np.asarray(getattr(model, method)(da.from_array(Y, chunks=1))),
                        getattr(model, method)(Y))


@pytest.mark.parametrize("missing", ["error", "em"])
@pytest.mark.parametrize("family", [ExponentialMixture, PoissonMixture])
def test_log_densities_beyond_float64_are_minus_inf(family, missing):
    """Values whose log-density is beyond float64 under every component (a Poisson count's
    log-factorial overflows from about 2e305 on) have density 0, as far points of a
    Gaussian: -inf, probabilities 0 and the first component of positive weight, with no
    error (math.lgamma's OverflowError) and no NaN (scipy.stats gives NaN for some)."""
    rng = np.random.default_rng(0)
    if family is PoissonMixture:
        X = np.rint(rng.exponential(50.0, (300, 1)))
    else:  # rates of about 100: 1e307 * 100 overflows
        X = rng.exponential(0.01, (300, 1))
    model = family(2, random_state=0, missing=missing).fit(X)
    Y = np.array([[np.finfo(np.float64).max], [1e307], [1.0]])
    log_prob = model.score_samples(Y)
    assert (log_prob[:2] == -np.inf).all() and np.isfinite(log_prob[2])
    resp = model.predict_proba(Y)
    assert (resp[:2] == 0).all() and resp[2].sum() == pytest.approx(1.0)
    assert (model.predict(Y)[:2] == 0).all()
    assert model.score(Y) == -np.inf


def test_probabilities_of_values_beyond_one_components_float64_range():
    """A component whose log-density of a value is beyond float64 has probability 0: taken
    less that component's, the others' relative log-densities were +inf, and the
    probabilities NaN."""
    model = ExponentialMixture(3).fit(np.random.default_rng(0).exponential(1.0, (300, 1)))
    model.weights_ = np.array([0.3, 0.3, 0.4])
    model.scales_ = np.array([[1 / 132.0], [1 / 2.9], [0.5]])
    Y = np.array([[1e307]])
    resp = model.predict_proba(Y)
    assert_allclose(resp, [[0.0, 0.0, 1.0]])
    assert model.predict(Y)[0] == 2
    assert_allclose(model.score_samples(Y), _reference_log_densities(model, Y).max(axis=1))


@pytest.mark.parametrize("family", [ExponentialMixture, PoissonMixture])
def test_partial_fit_far_from_the_model_names_its_scale_and_a_fit_of_the_data(family):
    """A batch far from a fitted model is sent to the model's scale (an exponential or
    Poisson mixture told to scale it down, a rescaled batch in the units of none of the
    earlier ones); to fit a model of it, which its own range refuses too ("or fit a model
    to data of this scale" was no advice), it gets the advice of a fit, which fits."""
    rng = np.random.default_rng(0)
    X = np.rint(rng.exponential(2.0, (300, 1)))
    model = family(2, random_state=0).fit(X)
    batch = wide(np.float64, 1e160, counts=True)
    with pytest.raises(ValueError, match="X with the fitted model spans") as error:
        model.partial_fit(batch)
    message = str(error.value)
    assert "Give data on the scale the model was fitted on (its means lie between" in message
    assert "or fit a model to data of this scale" not in message
    assert "; to fit a model to them: Divide the features beyond it by a power of ten" in message
    scaled = follow_the_advice(message, batch, whole=family is PoissonMixture)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularizationWarning)
        fitted = family(2, random_state=0).fit(scaled)
    assert np.isfinite(getattr(fitted, fitted._mean_name)).all()


@pytest.mark.parametrize("family", [GaussianMixture, ExponentialMixture, PoissonMixture])
@pytest.mark.parametrize("kind", ["array", "chunks"])
def test_a_feature_too_wide_and_another_too_large_are_advised_both_fixes(family, kind):
    """One feature spans beyond the limit, another holds values too large (1e168, beyond
    5.9e+166): the advice, followed as written, fits. It named the wide feature alone, and
    the data divided by it were refused for the other ("magnitude 1e+168 in feature 1")."""
    rng = np.random.default_rng(0)
    wide_feature = {GaussianMixture: rng.normal(size=200) * 1e152,
                    ExponentialMixture: rng.exponential(1e153, 200),
                    PoissonMixture: np.round(rng.exponential(1e153, 200))}[family]
    X = with_a_feature_of_unit_scale(np.column_stack([wide_feature, np.full(200, 1e168)]),
                                     family)
    given = (lambda X: Chunks([X[:100], X[100:]])) if kind == "chunks" else (lambda X: X)
    with pytest.raises(ValueError, match="spans .* in feature 0, too wide") as error:
        family(2, random_state=0).fit(given(X))
    message = str(error.value)
    scaled = follow_the_advice(message, X, whole=family is PoissonMixture)
    if "Then shift" in message:
        assert "X - np.nanmin(X, axis=0)" in message
        scaled = scaled - np.nanmin(scaled, axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RegularizationWarning)  # feature 1 is constant
        model = family(2, random_state=0).fit(given(scaled))
    assert np.isfinite(model.means_ if family is GaussianMixture else
                       getattr(model, model._mean_name)).all()


@pytest.mark.parametrize("kind", ["array", "chunks", "dask"])
@pytest.mark.parametrize("missing", ["error", "em"])
@pytest.mark.parametrize("family", [ExponentialMixture, PoissonMixture])
def test_a_row_of_log_density_minus_inf_and_weight_0_counts_for_nothing(family, missing, kind):
    """A row far from the model (log-density -inf beyond float64) of weight 0 leaves the
    weighted score that of the other rows: its weight times its log-density was NaN."""
    rng = np.random.default_rng(0)
    X = rng.exponential(0.1, size=(300, 2))  # rates above 1: x * rate is inf at 1.79e308
    if family is PoissonMixture:
        X = np.round(X * 30)
    model = family(2, missing=missing, random_state=0).fit(X)
    Y = np.vstack([np.full((1, 2), 1.79e308), X[:20]])
    assert model.score_samples(Y)[0] == -np.inf

    def score(weights):
        if kind == "chunks":
            return model.score(Chunks([Y[:10], Y[10:]], sample_weights=[weights[:10],
                                                                        weights[10:]]))
        if kind == "dask":
            da = pytest.importorskip("dask.array")
            return model.score(da.from_array(Y, chunks=10),
                               sample_weight=da.from_array(weights, chunks=10))
        return model.score(Y, sample_weight=weights)

    assert_allclose(score(np.r_[0.0, np.ones(20)]), model.score(X[:20]), rtol=1e-12)
    assert score(np.r_[np.ones(20), 0.0]) == -np.inf  # the far row of weight 1 counts
