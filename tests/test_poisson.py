"""PoissonMixture against the NumPy/SciPy reference in ``reference.py``."""

import decimal
import math
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

from family_checks import (
    Family,
    check_em_steps,
    check_information_criteria,
    check_log_likelihood_never_decreases,
    check_log_prob,
    check_sample_moments,
    check_sample_weight_is_repetition,
    check_summaries_add,
    check_warm_start,
    fit_quietly,
    fitted_by_path,
)
from fastem import ExponentialMixture, PoissonMixture, RegularizationWarning
from reference import poisson_em_step, poisson_log_prob, poisson_mixture_moments


def draw(rng, weights, rates, n):
    z = rng.choice(len(weights), size=n, p=weights)
    return rng.poisson(rates[z]).astype(np.float64)


FAMILY = Family(
    PoissonMixture, "rates", poisson_log_prob, poisson_em_step, poisson_mixture_moments, draw
)
WEIGHTS = np.array([0.4, 0.35, 0.25])
RATES = np.array([[0.5, 6.0, 2.0], [5.0, 1.0, 2.0], [15.0, 9.0, 0.2]])
DTYPES = [np.float32, np.float64]


def make_data(n=500, seed=0):
    return draw(np.random.default_rng(seed), WEIGHTS, RATES, n)


def rough_start(X):
    """Starting parameters away from the truth, so that each step changes a lot."""
    return np.array([0.2, 0.5, 0.3]), np.array([[1.0, 3.0, 1.0], [3.0, 2.0, 1.0], [8.0, 4.0, 2.0]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_densities_match_reference(dtype):
    X = make_data()
    X[0] = [0.0, 170.0, 3.0]  # a large count: lgamma(x + 1) matters
    check_log_prob(FAMILY, X, WEIGHTS, RATES, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_iter", [1, 6])
def test_em_steps_match_reference(dtype, n_iter):
    X = make_data()
    check_em_steps(FAMILY, X, *rough_start(X), dtype, n_iter)


def test_weighted_em_steps_match_reference():
    X = make_data()
    sample_weight = np.random.default_rng(1).uniform(0, 2, size=X.shape[0])
    check_em_steps(FAMILY, X, *rough_start(X), np.float64, 3, sample_weight=sample_weight)


@pytest.mark.parametrize("dtype", DTYPES)
def test_sample_moments_match_mixture_moments(dtype):
    check_sample_moments(FAMILY, WEIGHTS, RATES, dtype)


def test_samples_are_counts():
    model = FAMILY.fitted(make_data(), WEIGHTS, RATES, random_state=0)
    X, _ = model.sample(1000)
    assert np.array_equal(X, np.rint(X)) and X.min() >= 0


def test_sample_weight_equals_repeated_rows():
    X = make_data(200)
    check_sample_weight_is_repetition(FAMILY, X, *rough_start(X))


def test_summaries_add_up_to_one_em_step():
    X = make_data()
    check_summaries_add(FAMILY, X, *rough_start(X))


def test_bic_and_aic():
    check_information_criteria(FAMILY, make_data(), WEIGHTS, RATES)


def test_warm_start_continues_em():
    X = make_data()
    check_warm_start(FAMILY, X, *rough_start(X))


def test_recovers_three_components_on_a_million_points():
    rng = np.random.default_rng(42)
    weights = np.array([0.3, 0.3, 0.4])
    rates = np.array([1.0, 10.0, 40.0])
    z = rng.choice(3, size=1_000_000, p=weights)
    X = rng.poisson(rates[z])[:, None]
    model = PoissonMixture(3, tol=1e-7, max_iter=500, random_state=0).fit(X)
    assert model.converged_
    order = np.argsort(model.rates_[:, 0])
    assert_allclose(model.weights_[order], weights, rtol=0.01)
    assert_allclose(model.rates_[order, 0], rates, rtol=0.01)


@pytest.mark.parametrize("int_dtype", [np.int64, np.uint8])
def test_integer_counts_are_accepted_and_fit_like_floats(int_dtype):
    X = make_data()
    start = rough_start(X)
    as_int = fit_quietly(FAMILY.model(*start, max_iter=3, tol=0.0), X.astype(int_dtype))
    as_float = fit_quietly(FAMILY.model(*start, max_iter=3, tol=0.0), X)
    assert as_int.rates_.dtype == np.float64
    assert_allclose(as_int.rates_, as_float.rates_, rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(
    n_samples=st.integers(3, 60),
    n_features=st.integers(1, 3),
    n_components=st.integers(1, 3),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**31 - 1),
)
def test_log_likelihood_never_decreases(n_samples, n_features, n_components, dtype, seed):
    rng = np.random.default_rng(seed)
    X = rng.poisson(rng.uniform(0, 30, size=n_features), size=(n_samples, n_features))
    model = PoissonMixture(
        min(n_components, n_samples), tol=0.0, max_iter=20, init_params="random", random_state=seed,
        accelerate=False,
    )
    check_log_likelihood_never_decreases(model, X.astype(dtype))


def test_rates_are_floored_where_a_component_is_all_zero():
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [
            np.concatenate([rng.poisson(1.0, 200), rng.poisson(50.0, 200)]),
            np.concatenate([np.zeros(200), rng.poisson(5.0, 200)]),
        ]
    ).astype(np.float64)
    model = fit_quietly(
        PoissonMixture(
            2, weights_init=[0.5, 0.5], rates_init=[[1.0, 1.0], [50.0, 1.0]], max_iter=5,
            tol=0.0, min_rate=1e-3,
        ),
        X,
    )
    small = np.argmin(model.rates_[:, 0])
    assert_allclose(model.rates_[small, 1], 1e-3 * X[:, 1].mean(), rtol=1e-9)
    assert np.isfinite(model.score_samples(X)).all()


def test_negative_counts_are_rejected_with_the_value():
    X = make_data()
    X[4, 2] = -3
    with pytest.raises(ValueError, match=r"Negative values in data.*the smallest is -3, in feature 2"):
        PoissonMixture(2).fit(X)


def test_non_integer_counts_are_rejected_with_the_value():
    X = make_data()
    X[10, 1] = 2.5
    X[20, 0] = 0.1
    with pytest.raises(ValueError, match=r"2 value\(s\) that are not whole numbers, e.g. X\[10, 1\] = 2\.5"):
        PoissonMixture(2).fit(X)
    model = PoissonMixture(2, random_state=0).fit(make_data())
    with pytest.raises(ValueError, match="not whole numbers"):
        model.score_samples(X.astype(np.float32))


def test_nan_counts_are_rejected():
    X = make_data()
    X[3, 0] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        PoissonMixture(2).fit(X)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"rates_init": np.ones((3, 2))}, r"rates_init must have shape .* \(3, 3\), got \(3, 2\)"),
        ({"rates_init": -np.ones((3, 3))}, "finite and positive, got -1 \\(component 0, feature 0; 9 such"),
        ({"weights_init": [0.2, 0.2, 0.2]}, "must sum to 1"),
        ({"min_rate": -1.0}, "min_rate must be > 0"),
    ],
)
def test_invalid_hyper_parameters_are_rejected(kw, match):
    with pytest.raises(ValueError, match=match):
        PoissonMixture(3, **kw).fit(make_data())


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_integer_check_counts_and_locates_across_partitions(dtype):
    from fastem.kernels._checks import count_non_integer

    X = np.zeros((10_000, 3), dtype=dtype)
    X[9_000, 0] = 1.5
    X[3_000, 2] = 7.25
    X[6_000, 1] = -0.5
    assert count_non_integer(X, 16) == (3, 3_000 * 3 + 2)
    assert count_non_integer(X[:2_000], 16) == (0, -1)


@pytest.mark.parametrize("dtype, top, rtol", [(np.float64, 1e12, 7e-16), (np.float32, 2**24, 3e-7)])
def test_vectorised_log_factorials_match_lgamma(dtype, top, rtol):
    """Table below LOG_FACTORIAL_TABLE_SIZE, Stirling's series above: within about 3 ulp of math.lgamma."""
    import math

    from fastem.kernels.poisson import LOG_FACTORIAL_TABLE_SIZE, LOG_FACTORIALS, _add_log_factorials

    rng = np.random.default_rng(0)
    edge = np.arange(LOG_FACTORIAL_TABLE_SIZE - 5, LOG_FACTORIAL_TABLE_SIZE + 5)
    big = np.round(np.exp(rng.uniform(np.log(LOG_FACTORIAL_TABLE_SIZE), np.log(top), 3000)))
    x = np.concatenate([np.arange(3000), edge, big]).astype(dtype)
    out = np.zeros_like(x)
    _add_log_factorials(x, len(x), LOG_FACTORIALS.astype(dtype), out)
    expected = np.array([math.lgamma(float(v) + 1.0) for v in x])
    assert out[0] == 0.0 and out[1] == 0.0
    np.testing.assert_allclose(out[2:], expected[2:], rtol=rtol, atol=0)
    # A block whose counts all fit the table takes the table-only loop.
    small = np.arange(LOG_FACTORIAL_TABLE_SIZE, dtype=dtype)
    out = np.ones_like(small)
    _add_log_factorials(small, len(small), LOG_FACTORIALS.astype(dtype), out)
    np.testing.assert_allclose(out[2:] - 1, expected[2:LOG_FACTORIAL_TABLE_SIZE], rtol=rtol * 4, atol=0)


def _log_pmf_of_large_counts(x, rate):
    """``log p(x | rate)`` of a count above 2**20 in 50-digit decimal arithmetic, with
    Stirling's series for ``log(x!)`` (its next term is below 1e-33 there)."""
    decimal.getcontext().prec = 50
    x, rate = decimal.Decimal(float(x)), decimal.Decimal(float(rate))
    log_factorial = (x * x.ln() - x + (2 * decimal.Decimal(math.pi) * x).ln() / 2
                     + 1 / (12 * x) - 1 / (360 * x**3))
    return float(x * rate.ln() - rate - log_factorial)


@pytest.mark.parametrize("missing", ["error", "em"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("count", [2.0**21, 1e9, 2.0**40, 1e15, 2.0**52])
def test_log_densities_of_large_counts_are_exact(count, dtype, missing):
    """``x log(rate) - rate - log(x!)`` cancels: at counts of 1e12 its float64 terms rounded
    by 3e-3 nats, at 1e15 by nats (score_samples -15.9 against -18.2, and predict_proba off
    by up to 1). Such blocks take the deviance form of R's dpois. A K=1 fit of
    ``count + (-2, 0, 2)`` has the rate ``count``; a mixture tells two close rates apart."""
    x = np.array([[count - 2], [count], [count + 2]], dtype=dtype)
    model = PoissonMixture(1, missing=missing).fit(x)
    assert float(model.rates_[0, 0]) == float(x.astype(np.float64).mean())
    expected = [_log_pmf_of_large_counts(v, model.rates_[0, 0]) for v in x[:, 0]]
    assert_allclose(model.score_samples(x), expected, rtol=0, atol=1e-12 if dtype == np.float64 else 4e-6)
    # two components 10 standard deviations apart, and a feature of small counts
    rates = np.array([[count, 3.0], [count + 10 * np.sqrt(count), 30.0]])
    rng = np.random.default_rng(0)
    z = np.repeat([0, 1], 100)
    X = rng.poisson(rates[z]).astype(dtype)
    if missing == "em":
        X[::3, 1] = np.nan
    model = PoissonMixture(2, missing=missing, random_state=0).fit(X)
    labels = model.predict(X)
    assert (labels == z).all() or (labels == 1 - z).all()
    fitted = np.asarray(model.rates_, dtype=np.float64)
    weights = np.asarray(model.weights_, dtype=np.float64)
    for row, out in zip(X[:12].astype(np.float64), model.score_samples(X[:12])):
        terms = [np.log(weights[k]) + _log_pmf_of_large_counts(row[0], fitted[k, 0])
                 + (0.0 if np.isnan(row[1]) else row[1] * np.log(fitted[k, 1]) - fitted[k, 1]
                    - math.lgamma(row[1] + 1)) for k in range(2)]
        assert out == pytest.approx(np.logaddexp(*terms), abs=1e-9 if dtype == np.float64 else 2e-5)


@pytest.mark.parametrize("cls, name", [(PoissonMixture, "rates_init"),
                                       (ExponentialMixture, "scales_init")])
@pytest.mark.parametrize("bad", [np.inf, np.nan, 0.0, -1.0])
def test_initial_means_refused_are_named_by_the_entry_refused(cls, name, bad):
    # an infinite entry was refused as 'got minimum 1', the smallest of the others
    init = np.array([[1.0, 2.0], [30.0, 40.0]])
    init[1, 0] = bad
    X = np.random.default_rng(0).poisson(5.0, (50, 2)).astype(float)
    with pytest.raises(ValueError, match=rf"{name} must be finite and positive, got "
                                         rf"{bad:.3g} \(component 1, feature 0; 1 such"):
        cls(2, **{name: init}).fit(X)


def _small_counts_beside_huge_ones(dtype, small):
    """Feature 0: counts of mean ``small`` (0: zeros) in rows 0-299, counts near 1e9 in
    rows 300-599, whose mean puts the min_rate floor near 500; feature 1: counts near 5."""
    rng = np.random.default_rng(0)
    huge = rng.poisson(1e9, 300)
    X = np.column_stack([np.concatenate([rng.poisson(small, 300), huge]),
                         rng.poisson(5.0, 600)])
    return X.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", ["fit", "missing", "partial_fit", "dask"])
@pytest.mark.parametrize("small", [0.0, 2.0])
def test_a_rate_held_at_the_floor_far_above_its_counts_warns(small, path, dtype):
    """Beside counts near 1e9 the min_rate floor is near 500: the component of the small
    counts (or of zeros) is held there, and its points' log-likelihood is the floor's,
    hundreds of nats each below their own rate's (a mean score of -250 where -7.5 is
    reached), which the fit did without a word. It warns, naming the component, the
    feature, the mean of its points and a min_rate that lets them through, with which the
    fit follows them and is silent."""
    X = _small_counts_beside_huge_ones(dtype, small)

    def fitted(min_rate):
        model = PoissonMixture(2, weights_init=[0.5, 0.5], rates_init=[[3.0, 5.0], [1e9, 5.0]],
                               min_rate=min_rate)
        return fitted_by_path(path, model, X, batches=[X] * 3, missing_rows=slice(1, None, 5),
                              chunk_rows=200)

    with pytest.warns(RegularizationWarning,
                      match=r"Rates at the min_rate floor cost .*: component 0 \(weight \S+\): "
                            r"rate \S+ of feature 0, whose points average \S+, at the min_rate "
                            r"floor \(\S+\), \S+ nats per point") as record:
        model = fitted(1e-6)
    assert len(record) == 1 and "feature 1" not in str(record[0].message)
    assert model.rates_[0, 0] > 100.0
    advised = float(re.search(r"Lower min_rate \(to (\S+) or below\)",
                              str(record[0].message)).group(1))
    refit = fitted(advised)  # warnings are errors
    assert refit.rates_[0, 0] < 0.01 + 1.5 * small


def test_a_rate_at_the_floor_on_zeros_of_small_counts_is_silent():
    """Zeros beside counts near 50: the floor (5e-5) costs each zero 5e-5 nats, a
    zero-inflation component the floor hardly changes."""
    rng = np.random.default_rng(0)
    X = np.concatenate([np.zeros(300), rng.poisson(50.0, 300)])[:, None]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = PoissonMixture(2, random_state=0).fit(X)
    assert np.sort(model.rates_.ravel())[0] <= 1e-6 * X.mean() * (1 + 1e-9)
