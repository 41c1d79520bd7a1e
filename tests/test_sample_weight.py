"""Sample weights act as repetition counts, everywhere a GaussianMixture uses data."""

import copy
import re

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.base import clone as sklearn_clone

import fastem
from fastem import ConvergenceWarning
from reference import (
    COVARIANCE_TYPES,
    gaussian_em_step,
    gaussian_log_prob,
    log_resp_and_norm,
)
from test_gaussian import PARAMETERS, initial_params, make_data


def fit_fixed(X, covariance_type, sample_weight=None, n_components=3, max_iter=20, start=None):
    model = fastem.GaussianMixture(
        n_components, covariance_type=covariance_type, max_iter=max_iter, tol=0.0, **start
    )
    with pytest.warns(ConvergenceWarning):
        return model.fit(X, sample_weight=sample_weight)


def assert_same_fit(a, b):
    for name in PARAMETERS:
        assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-10, atol=1e-13, err_msg=name)
    assert_allclose(a.lower_bounds_, b.lower_bounds_, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_integer_weights_equal_repeated_rows(covariance_type):
    X = make_data(1500, 3, 3)
    counts = np.random.default_rng(5).integers(1, 5, size=len(X))
    start = initial_params(X, 3, covariance_type)
    weighted = fit_fixed(X, covariance_type, counts, start=start)
    repeated = fit_fixed(np.repeat(X, counts, axis=0), covariance_type, start=start)
    assert_same_fit(weighted, repeated)
    assert weighted.bic(X, sample_weight=counts) == pytest.approx(
        repeated.bic(np.repeat(X, counts, axis=0)), rel=1e-10
    )


def default_start_data(seed):
    rng = np.random.default_rng(seed)
    if seed % 2:
        from sklearn.datasets import load_iris

        return load_iris().data[:, :2], rng  # with repeated rows of its own
    return rng.normal(size=(200, 2)) + 3 * rng.integers(0, 3, (200, 1)), rng


@pytest.mark.parametrize("unit", [1.0, 0.37, 2.0**-40])
@pytest.mark.parametrize("seed, covariance_type", [(2, "diag"), (4, "full"), (5, "full")])
def test_integer_weights_equal_repeated_rows_from_the_default_start(seed, covariance_type, unit):
    """The hierarchical tree, its k-means++ candidates and EM from them: weights that count
    rows, in any unit, fit as the rows repeated. With the weights scaled to a mean of 1 per
    input row the tree was another, and these K=4 fits ended 6 to 12 nats apart."""
    X, rng = default_start_data(seed)
    counts = rng.integers(1, 5, size=len(X))
    params = dict(covariance_type=covariance_type, random_state=0)
    weighted = fastem.GaussianMixture(4, **params).fit(X, sample_weight=unit * counts)
    repeated = fastem.GaussianMixture(4, **params).fit(np.repeat(X, counts, axis=0))
    assert weighted.lower_bound_ == pytest.approx(repeated.lower_bound_, rel=1e-9)
    assert_allclose(weighted.means_, repeated.means_, rtol=1e-6, atol=1e-9)


def test_the_sizes_of_the_tree():
    """Whole counts in any unit are counted as rows, exactly, as long as the rows they count
    would be in the tree whole; other weights are shares, a mean of 1 per input row."""
    from fastem._hierarchical import _sizes

    counts = np.array([3.0, 1.0, 4.0, 2.0])
    for unit in (1.0, 0.37, 0.1, 2.0**-40, 1e12):
        assert_array_equal(_sizes(unit * counts, 10, 2000), counts)
    assert_array_equal(_sizes(counts + 0.5, 10, 2000), 2 * counts + 1)  # halves
    many = np.array([65.0, 66.0, 66.0, 65.0])  # 65ths of the smallest
    assert_array_equal(_sizes(3.0 * many, 4, 2000), many)
    assert_allclose(_sizes(counts, 10, 9), counts)  # 10 rows: shares, 10 / 10
    assert_allclose(_sizes(counts, 20, 9), counts * 2)  # a mean of 1 per each of 20 rows
    # thousandths: whole numbers of 1/1000, but 1,827 rows of them
    shares = np.array([0.31, 0.9, 0.017, 0.6])
    assert_array_equal(_sizes(shares, 4, 2000), [310, 900, 17, 600])
    assert_allclose(_sizes(shares, 4, 1000), shares / shares.mean())
    assert_allclose(_sizes(np.array([1.0, 1e-310]), 2, 2000), [2.0, 2e-310])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_zero_weights_drop_points(covariance_type):
    X = make_data(1500, 2, 3)
    weights = np.random.default_rng(6).uniform(0.5, 2.0, size=len(X))
    weights[::3] = 0.0
    keep = weights > 0
    start = initial_params(X[keep], 3, covariance_type)
    with_zeros = fit_fixed(X, covariance_type, weights, start=start)
    without = fit_fixed(X[keep], covariance_type, weights[keep], start=start)
    assert_same_fit(with_zeros, without)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_one_weighted_em_step_matches_reference(covariance_type):
    X = make_data(1000, 3, 3)
    weights = np.random.default_rng(7).exponential(size=len(X))
    start = initial_params(X, 3, covariance_type)
    model = fit_fixed(X, covariance_type, weights, max_iter=1, start=start)
    precisions = np.asarray(start["precisions_init"])
    covariances = (
        np.linalg.inv(precisions) if covariance_type in ("full", "tied") else 1.0 / precisions
    )
    step = gaussian_em_step(
        X, start["weights_init"], start["means_init"], covariances, covariance_type,
        sample_weight=weights,
    )
    assert_allclose(model.weights_, step["weights"], rtol=1e-10)
    assert_allclose(model.means_, step["means"], rtol=1e-10)
    assert_allclose(model.covariances_, step["covariances"], rtol=1e-10, atol=1e-13)
    assert model.lower_bounds_[0] == pytest.approx(step["mean_log_likelihood"], rel=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_weighted_log_likelihood_matches_reference(covariance_type):
    X = make_data(1200, 2, 3)
    weights = np.random.default_rng(8).uniform(0.0, 3.0, size=len(X))
    model = fastem.GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    model.fit(X, sample_weight=weights)
    log_prob = gaussian_log_prob(X, model.means_, model.covariances_, covariance_type)
    log_resp, log_norm = log_resp_and_norm(log_prob, model.weights_)
    total = weights @ log_norm
    assert model.score(X, sample_weight=weights) == pytest.approx(total / weights.sum(), rel=1e-10)
    assert model.score(X) == pytest.approx(log_norm.mean(), rel=1e-10)
    stats = model.summarize(X, sample_weight=weights)
    assert stats.log_likelihood == pytest.approx(total, rel=1e-10)
    assert stats.n_samples == pytest.approx(weights.sum(), rel=1e-12)
    assert_allclose(stats.nk, weights @ np.exp(log_resp), rtol=1e-10)
    n_parameters = model._n_parameters()
    assert model.bic(X, sample_weight=weights) == pytest.approx(
        -2 * total + n_parameters * np.log(weights.sum()), rel=1e-10
    )
    assert model.aic(X, sample_weight=weights) == pytest.approx(-2 * total + 2 * n_parameters, rel=1e-10)


BAD_WEIGHTS = [
    (np.zeros(300), ValueError, "Every sample_weight is zero"),
    (np.r_[-1.0, np.ones(299)], ValueError, "1 negative value.*smallest being -1"),
    (np.r_[np.nan, np.ones(299)], ValueError, "1 NaN or infinite"),
    (np.r_[np.inf, np.ones(299)], ValueError, "1 NaN or infinite"),
    (np.ones(299), ValueError, r"shape \(299,\) but X has 300 samples"),
    (np.ones((300, 1)), ValueError, r"shape \(300, 1\) but X has 300 samples"),
    (np.array(["a"] * 300), TypeError, "sample_weight must be numeric"),
    (np.full(300, 1e-160), ValueError, r"sum to 3e-158, outside .*Multiply every weight"),
    (np.full(300, 1e307), ValueError, r"sum to inf, outside .*Multiply every weight"),
]


@pytest.mark.parametrize("weights,error,message", BAD_WEIGHTS, ids=[
    "all-zero", "negative", "nan", "inf", "short", "2-d", "strings", "tiny-sum", "huge-sum",
])
@pytest.mark.parametrize("method", ["fit", "score", "summarize", "bic", "aic"])
def test_bad_weights_raise_clear_errors(weights, error, message, method):
    X = make_data(300, 2, 2)
    model = fastem.GaussianMixture(2, random_state=0)
    if method != "fit":
        model.fit(X)
    if method == "summarize" and message == "Every sample_weight is zero":
        # a piece of no weight summarizes to 0, a term of a sum (see test_out_of_core)
        assert model.summarize(X, sample_weight=weights).n_samples == 0
        return
    with pytest.raises(error, match=message):
        getattr(model, method)(X, sample_weight=weights)


def test_fewer_positive_weights_than_components():
    X = make_data(300, 2, 2)
    weights = np.zeros(300)
    weights[:2] = 1.0
    with pytest.raises(ValueError, match="only 2 sample.*of positive weight"):
        fastem.GaussianMixture(3).fit(X, sample_weight=weights)


def two_clusters():
    rng = np.random.default_rng(9)
    near = rng.normal(size=(500, 2))
    far = rng.normal(size=(500, 2)) + [100.0, 0.0]
    return np.vstack([near, far]), np.r_[np.zeros(500, bool), np.ones(500, bool)]


@pytest.mark.parametrize("init_params", ["k-means++", "kmeans", "random_from_data"])
def test_initialisation_is_weighted(init_params):
    X, far = two_clusters()
    weights = np.where(far, 1e6, 1.0)

    def start(sample_weight, seed):
        model = fastem.GaussianMixture(4, init_params=init_params, random_state=seed, max_iter=0)
        return model.fit(X, sample_weight=sample_weight).means_

    for seed in range(5):
        # Unweighted, the seeding finds both clusters ...
        unweighted = start(None, seed)
        assert (unweighted[:, 0] < 50).any() and (unweighted[:, 0] > 50).any()
        # ... weighted, the near cluster carries 1e-6 of the mass and gets no centre.
        assert (start(weights, seed)[:, 0] > 90.0).all()


def test_random_from_data_never_starts_on_zero_weight_points():
    X, far = two_clusters()
    weights = np.where(far, 0.0, 1.0)
    for seed in range(5):
        model = fastem.GaussianMixture(
            3, init_params="random_from_data", random_state=seed, max_iter=0
        ).fit(X, sample_weight=weights)
        assert (np.abs(model.means_[:, 0]) < 10).all()


def weighted_family_data(family):
    """(estimator, X, weights) for one family, with components well apart."""
    rng = np.random.default_rng(11)
    weights = rng.uniform(0.5, 2.0, size=900)
    if family == "exponential":
        X = np.vstack([rng.exponential(1.0, (450, 2)), rng.exponential(20.0, (450, 2))])
        return fastem.ExponentialMixture(2, random_state=0), X, weights
    if family == "poisson":
        X = np.vstack([rng.poisson(2.0, (450, 2)), rng.poisson(30.0, (450, 2))]).astype(float)
        return fastem.PoissonMixture(2, random_state=0), X, weights
    X = make_data(900, 2, 3)
    return fastem.GaussianMixture(3, covariance_type=family, random_state=0), X, weights


@pytest.mark.parametrize("family", [*COVARIANCE_TYPES, "exponential", "poisson"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("source", ["memory", "chunks"])
def test_unit_weights_fit_bitwise_as_no_weights(family, dtype, source):
    """Weights that are all 1 are no weights (``check_sample_weight``): the kernels take the
    same pass, and the fits agree in every bit. The unweighted pass sums its log-likelihood
    from products of points, the weighted one point by point: their last bits differ, and
    an accelerated fit can take another path from them (a float32 full D=2 K=4 fit ended
    0.29 apart in its means)."""
    model, X, _ = weighted_family_data(family)
    X = X.astype(dtype)
    ones = np.ones(len(X))
    if source == "chunks":
        plain = sklearn_clone(model).fit(fastem.Chunks([X[:400], X[400:]]))
        unit = sklearn_clone(model).fit(fastem.Chunks([X[:400], X[400:]], [ones[:400], ones[400:]]))
    else:
        plain = sklearn_clone(model).fit(X)
        unit = sklearn_clone(model).fit(X, sample_weight=ones)
    assert unit.n_iter_ == plain.n_iter_
    assert unit.lower_bound_ == plain.lower_bound_
    for name in ("weights_", *model._parameter_names):
        np.testing.assert_array_equal(getattr(unit, name), getattr(plain, name), err_msg=name)
    assert unit.score(X, sample_weight=ones) == plain.score(X)


# float64 data with any scale; float32 data with powers of two, which scale the
# weights exactly, so that float32's rounding of them cannot move the fit.
SCALES = [
    *((np.float64, scale) for scale in (1e-140, 1e-45, 1e-30, 1e-12, 1e12, 1e30, 1e45, 1e140)),
    *((np.float32, 2.0**power) for power in (-450, -150, -40, 40, 130, 450)),
]


@pytest.mark.parametrize("family", [*COVARIANCE_TYPES, "exponential", "poisson"])
@pytest.mark.parametrize(("dtype", "scale"), SCALES)
def test_fit_does_not_depend_on_the_scale_of_the_weights(family, scale, dtype):
    """Multiplying every weight by one constant multiplies the log-likelihood by it,
    so the maximum-likelihood fit, its start included, must not change. A constant
    added to the component masses (as scikit-learn's ``10 * eps``) breaks this for
    small weights: weights of 1e-30 kept the start's mixing weights and pulled the
    means towards 0. On float32 data, weights outside float32's range (2^-150,
    2^130) once became 0 or infinite in the kernel's responsibilities."""
    import warnings

    model, X, weights = weighted_family_data(family)
    X = X.astype(dtype)
    rtol = 1e-9 if dtype == np.float64 else 1e-6
    unit = sklearn_clone(model).fit(X, sample_weight=weights)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "log-likelihood fell", no empty component
        scaled = sklearn_clone(model).fit(X, sample_weight=weights * scale)
    assert scaled.n_iter_ == unit.n_iter_
    for name in ("weights_", *model._parameter_names):
        assert_allclose(getattr(scaled, name), getattr(unit, name), rtol=rtol, atol=rtol * 1e-3, err_msg=name)
    assert_allclose(scaled.lower_bound_, unit.lower_bound_, rtol=rtol * 1e-3)
    assert_allclose(scaled.score(X, sample_weight=weights * scale), unit.score(X, sample_weight=weights), rtol=rtol * 1e-3)
    # The statistics a pass sums scale with the weights: partial_fit and m_step see them.
    stats = unit.summarize(X, sample_weight=weights)
    scaled_stats = unit.summarize(X, sample_weight=weights * scale)
    assert_allclose(scaled_stats.nk / scale, stats.nk, rtol=rtol)
    assert_allclose(scaled_stats.n_samples / scale, stats.n_samples, rtol=1e-12)
    stepped = copy.deepcopy(unit).m_step(stats)
    scaled_stepped = copy.deepcopy(unit).m_step(scaled_stats)
    for name in ("weights_", *model._parameter_names):
        assert_allclose(getattr(scaled_stepped, name), getattr(stepped, name), rtol=rtol, atol=rtol * 1e-3, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_chunk_of_subnormal_weights_adds_nothing(dtype):
    """Only the total weight is range-checked: one chunk may hold weights of 1e-310 only.
    Its pass scales them by at most 2**1000 (a normal float64), and it adds about 0."""
    X = make_data(1024, 2, 2).astype(dtype)
    tiny = [np.ones(512), np.full(512, 1e-310)]
    zero = [np.ones(512), np.zeros(512)]
    fits = [
        fastem.GaussianMixture(2, random_state=0).fit(
            fastem.Chunks([X[:512], X[512:]], sample_weights=weights))
        for weights in (tiny, zero)
    ]
    rtol = 1e-12 if dtype == np.float64 else 1e-5  # float32: a few ulps over the fit
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(getattr(fits[0], name), getattr(fits[1], name), rtol=rtol, err_msg=name)


@pytest.mark.parametrize("scale", [1e-160, 1e160])
def test_weights_out_of_range_are_refused_on_every_data_path(scale, tmp_path):
    X = make_data(400, 2, 2)
    weights = np.full(len(X), scale)
    message = r"The sample weights sum to .*, outside \["
    model = fastem.GaussianMixture(2, random_state=0)
    with pytest.raises(ValueError, match=message):
        model.fit(X, sample_weight=weights)
    halves = fastem.Chunks([X[:200], X[200:]], sample_weights=[weights[:200], weights[200:]])
    with pytest.raises(ValueError, match=message):
        model.fit(halves)
    with pytest.raises(ValueError, match=message):
        model.partial_fit(X, sample_weight=weights)
    da = pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match=message):
        model.fit(da.from_array(X, chunks=100), sample_weight=da.from_array(weights, chunks=100))


def test_bayesian_posterior_counts_beyond_float32_are_a_clear_error():
    """A Bayesian fit's posterior counts grow with the total weight: on float32 data, weights
    summing past 3.4e38 are named, with the fixes, not an overflowing cast; float64 fits."""
    X = make_data(600, 2, 2)
    weights = np.full(len(X), 1e37)
    model = fastem.BayesianGaussianMixture(n_components=2, random_state=0)
    with pytest.raises(ValueError, match=r"sum to 6e\+39.*exceed float32's largest number.*float64"):
        sklearn_clone(model).fit(X.astype(np.float32), sample_weight=weights)
    assert np.isfinite(sklearn_clone(model).fit(X, sample_weight=weights).weights_).all()


def test_object_weights_of_numbers_are_numbers_on_every_data_path():
    """An object array of numbers (a pandas column of dtype object, Decimal entries) was
    refused as "sample_weight must be numeric, got dtype object", though object data of
    numbers are converted, as scikit-learn converts both."""
    from decimal import Decimal

    X = make_data(400, 2, 2)
    weights = np.random.default_rng(0).integers(1, 4, len(X)).astype(float)
    as_objects = np.array([Decimal(int(w)) for w in weights], dtype=object)
    model = fastem.GaussianMixture(2, random_state=0)
    expected = sklearn_clone(model).fit(X, sample_weight=weights)
    fits = {
        "array": sklearn_clone(model).fit(X, sample_weight=as_objects),
        "Series": sklearn_clone(model).fit(X, sample_weight=pd.Series(as_objects)),
        "Chunks": sklearn_clone(model).fit(fastem.Chunks(
            [X[:200], X[200:]], sample_weights=[as_objects[:200], as_objects[200:]])),
    }
    da = pytest.importorskip("dask.array")
    lazy = {"dask": as_objects, "dask, dask array of weights": da.from_array(as_objects, chunks=100)}
    for path, w in lazy.items():
        fits[path] = sklearn_clone(model).fit(da.from_array(X, chunks=100), sample_weight=w)
    for path, fit in fits.items():
        assert_allclose(fit.means_, expected.means_, rtol=1e-10, err_msg=path)
    assert expected.score(X, sample_weight=as_objects) == expected.score(X, sample_weight=weights)


@pytest.mark.parametrize("weights, error, message", [
    (np.array([1, "a"] * 200, dtype=object), TypeError,
     "sample_weight is an object array whose entries are not all numbers"),
    (np.array([1, None] * 200, dtype=object), ValueError, "sample_weight (contains|has) 200 NaN"),
    (np.array([10**400] + [1] * 399, dtype=object), ValueError,
     "sample_weight holds an integer beyond float64's range"),
])
def test_object_weights_that_are_not_all_numbers_are_named(weights, error, message):
    X = make_data(400, 2, 2)
    model = fastem.GaussianMixture(2, random_state=0)
    with pytest.raises(error, match=message):
        model.fit(X, sample_weight=weights)
    da = pytest.importorskip("dask.array")
    for w in (weights, da.from_array(weights, chunks=100)):
        with pytest.raises(error, match=message):
            model.fit(da.from_array(X, chunks=100), sample_weight=w)


def _masked_weights(n):
    weights = np.ma.array(np.full(n, 2.0), mask=np.arange(n) < n // 2)
    weights.data[: n // 2] = 100.0  # hidden values that must not be read
    return weights


def _dask_masked_weights(n):
    da = pytest.importorskip("dask.array")
    weights = _masked_weights(n)
    return da.ma.masked_array(da.from_array(weights.data, chunks=150),
                              mask=da.from_array(weights.mask, chunks=150))


REFUSED_WEIGHT_FORMS = {
    "masked": (_masked_weights, ValueError, "masked array with masked entries"),
    "dask masked": (_dask_masked_weights, ValueError, "masked array with masked entries"),
    "dict": (lambda n: dict(enumerate(np.ones(n))), TypeError, "got a dict, whose keys"),
    "set": (lambda n: set(range(1, n + 1)), TypeError, "got a set, whose order is arbitrary"),
}
ACCEPTED_WEIGHT_FORMS = {
    "number": (lambda n: 2.5, lambda n: np.full(n, 2.5)),
    "generator": (lambda n: (1.0 + i % 3 for i in range(n)), lambda n: 1.0 + np.arange(n) % 3),
    "map": (lambda n: map(float, range(1, n + 1)), lambda n: np.arange(1.0, n + 1)),
}
WEIGHTED_METHODS = ["fit", "partial_fit", "score", "summarize", "bic"]


def _weighted_call(method, X, weights):
    """``method`` called with ``weights``: the fitted model's parameters, or its result."""
    model = fastem.GaussianMixture(2, random_state=0)
    if method in ("fit", "partial_fit"):
        return getattr(model, method)(X, sample_weight=weights).means_
    result = model.fit(make_data(400, 2, 2)).__getattribute__(method)(X, sample_weight=weights)
    return result.moments["sx"] if method == "summarize" else result


@pytest.mark.parametrize("method", WEIGHTED_METHODS)
@pytest.mark.parametrize("form", list(REFUSED_WEIGHT_FORMS))
def test_weights_that_would_be_misread_are_refused_on_every_data_path(form, method):
    """A masked array's hidden values, a dict's keys or a set's order were read as the
    weights of a Dask array (the hidden 100s of a masked array silently fitted), where an
    array in memory refuses them."""
    da = pytest.importorskip("dask.array")
    make, error, message = REFUSED_WEIGHT_FORMS[form]
    X = make_data(400, 2, 2)
    for data in (X, da.from_array(X, chunks=150)):
        with pytest.raises(error, match=message):
            _weighted_call(method, data, make(len(X)))


@pytest.mark.parametrize("method", WEIGHTED_METHODS)
@pytest.mark.parametrize("form", list(ACCEPTED_WEIGHT_FORMS))
def test_weights_of_every_form_mean_the_same_on_every_data_path(form, method):
    """A number (every row's weight) and a one-shot iterator of weights were refused for a
    Dask array, as an object array or a shape (), where an array in memory takes them."""
    da = pytest.importorskip("dask.array")
    make, as_array = ACCEPTED_WEIGHT_FORMS[form]
    X = make_data(400, 2, 2)
    expected = _weighted_call(method, X, as_array(len(X)))
    for data in (X, da.from_array(X, chunks=150)):
        assert_allclose(_weighted_call(method, data, make(len(X))), expected, rtol=1e-10, atol=1e-10,
                        err_msg=type(data).__name__)


def test_weights_labelled_in_another_order_than_the_frame_are_refused():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(40, 2)), columns=["a", "b"])
    weights = pd.Series(rng.uniform(0.5, 2.0, 40), index=frame.index)
    shuffled = frame.sort_values("a")  # its row labels in another order than the weights'
    model = fastem.GaussianMixture(2, random_state=0)
    fitted = fastem.GaussianMixture(2, random_state=0).fit(frame, sample_weight=weights)
    # weights read by position would weight other rows than their labels say
    for call in (model.fit, model.partial_fit, fitted.score, fitted.summarize):
        with pytest.raises(ValueError, match=r"index holds the row labels of X in another "
                           r"order: row 0 of X is labelled \d+ but weight 0 is labelled 0"):
            call(shuffled, sample_weight=weights)
    parts = fastem.Chunks([frame, shuffled], sample_weights=[weights, weights])
    with pytest.raises(ValueError, match=r"chunk 1, its weights: .*loc\[chunk.index\]"):
        fastem.GaussianMixture(2, random_state=0).fit(parts)
    # aligned, they are the fit of the frame as it was
    aligned = fastem.GaussianMixture(2, random_state=0).fit(
        shuffled, sample_weight=weights[shuffled.index])
    assert_allclose(np.sort(aligned.means_, axis=0), np.sort(fitted.means_, axis=0), rtol=1e-12)
    # labels of another kind are positions, as scikit-learn takes them
    dated = frame.set_axis(pd.date_range("2020-01-01", periods=40))
    by_position = fastem.GaussianMixture(2, random_state=0).fit(dated, sample_weight=weights)
    assert_array_equal(by_position.means_, fitted.means_)


@pytest.mark.parametrize("x_index, w_index, row, x_label, w_label", [
    # a MultiIndex with NaN in a level: row 0 is alike, as Index.equals takes it
    (pd.MultiIndex.from_tuples([(1, np.nan), (1, 2.0), (2, 1.0)]),
     pd.MultiIndex.from_tuples([(1, float("nan")), (2, 1.0), (1, 2.0)]), 1, (1, 2.0), (2, 1.0)),
    # pd.NA labels, which Index.isin finds nowhere
    (pd.Index([pd.NA, 1, 2], dtype="Int64"), pd.Index([1, pd.NA, 2], dtype="Int64"), 0, "<NA>",
     1),
])
def test_weights_labelled_in_another_order_name_the_first_row_that_differs(
        x_index, w_index, row, x_label, w_label):
    frame = pd.DataFrame(np.arange(6.0).reshape(3, 2), index=x_index)
    weights = pd.Series([1.0, 2.0, 3.0], index=w_index)
    x_label = x_label if x_label == "<NA>" else repr(x_label)
    with pytest.raises(ValueError, match=re.escape(
            f"row {row} of X is labelled {x_label} but weight {row} is labelled {w_label!r}.")):
        fastem.GaussianMixture(1).fit(frame, sample_weight=weights)
    # the same labels in the same order are the frame's rows
    fastem.GaussianMixture(1).fit(frame, sample_weight=weights.set_axis(x_index))
