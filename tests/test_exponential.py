"""ExponentialMixture against the NumPy/SciPy reference in ``reference.py``."""

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
from fastem import ExponentialMixture, RegularizationWarning
from reference import exponential_em_step, exponential_log_prob, exponential_mixture_moments


def draw(rng, weights, scales, n):
    z = rng.choice(len(weights), size=n, p=weights)
    return rng.exponential(scales[z])


FAMILY = Family(
    ExponentialMixture, "scales", exponential_log_prob, exponential_em_step,
    exponential_mixture_moments, draw,
)
WEIGHTS = np.array([0.5, 0.3, 0.2])
SCALES = np.array([[0.5, 2.0], [3.0, 0.7], [10.0, 5.0]])
DTYPES = [np.float32, np.float64]


def make_data(n=500, seed=0):
    X = draw(np.random.default_rng(seed), WEIGHTS, SCALES, n)
    X[:5, 0] = 0.0  # zeros are valid data
    return X


def rough_start(X):
    """Starting parameters away from the truth, so that each step changes a lot."""
    return np.array([0.2, 0.5, 0.3]), np.array([[1.0, 1.0], [2.0, 0.5], [4.0, 8.0]])


@pytest.mark.parametrize("dtype", DTYPES)
def test_log_densities_match_reference(dtype):
    check_log_prob(FAMILY, make_data(), WEIGHTS, SCALES, dtype)


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
    check_sample_moments(FAMILY, WEIGHTS, SCALES, dtype)


def test_sample_weight_equals_repeated_rows():
    X = make_data(200)
    check_sample_weight_is_repetition(FAMILY, X, *rough_start(X))


def test_summaries_add_up_to_one_em_step():
    X = make_data()
    check_summaries_add(FAMILY, X, *rough_start(X))


def test_bic_and_aic():
    check_information_criteria(FAMILY, make_data(), WEIGHTS, SCALES)


def test_warm_start_continues_em():
    X = make_data()
    check_warm_start(FAMILY, X, *rough_start(X))


def test_rates_are_derived_from_scales():
    model = FAMILY.fitted(make_data(), WEIGHTS, SCALES)
    assert_allclose(model.rates_, 1 / SCALES)
    model.scales_ = model.scales_ * 2
    assert_allclose(model.rates_, 0.5 / SCALES)
    with pytest.raises(AttributeError):
        ExponentialMixture().rates_


def test_recovers_two_components_on_a_million_points():
    rng = np.random.default_rng(42)
    X = np.concatenate([rng.exponential(0.1, 500_000), rng.exponential(1.0, 500_000)])[:, None]
    model = ExponentialMixture(2, tol=1e-7, max_iter=500, random_state=0).fit(X)
    assert model.converged_
    order = np.argsort(model.scales_[:, 0])
    assert_allclose(model.weights_[order], [0.5, 0.5], rtol=0.01)
    assert_allclose(model.scales_[order, 0], [0.1, 1.0], rtol=0.01)


def test_more_initializations_never_fit_worse():
    X = make_data(400, seed=5)
    one = ExponentialMixture(3, n_init=1, tol=1e-6, max_iter=300, random_state=7).fit(X)
    three = ExponentialMixture(3, n_init=3, tol=1e-6, max_iter=300, random_state=7).fit(X)
    assert three.lower_bound_ >= one.lower_bound_
    assert three.lower_bound_ == pytest.approx(three.score(X), rel=1e-3)


@settings(max_examples=25, deadline=None)
@given(
    n_samples=st.integers(3, 60),
    n_features=st.integers(1, 3),
    n_components=st.integers(1, 3),
    zero_fraction=st.sampled_from([0.0, 0.3]),
    dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**31 - 1),
)
def test_log_likelihood_never_decreases(n_samples, n_features, n_components, zero_fraction, dtype, seed):
    rng = np.random.default_rng(seed)
    X = rng.exponential(rng.uniform(0.1, 10, size=n_features), size=(n_samples, n_features))
    X[rng.uniform(size=X.shape) < zero_fraction] = 0.0
    model = ExponentialMixture(
        min(n_components, n_samples), tol=0.0, max_iter=20, init_params="random", random_state=seed,
        accelerate=False,
    )
    check_log_likelihood_never_decreases(model, X.astype(dtype))


def test_scales_are_floored_where_a_component_is_all_zero():
    rng = np.random.default_rng(0)
    X = np.zeros((400, 2))
    X[:, 0] = np.concatenate([rng.exponential(0.01, 200), rng.exponential(100.0, 200)])
    X[200:, 1] = rng.exponential(1.0, 200)  # zero wherever component 0 lives
    with pytest.warns(RegularizationWarning, match="of feature 1 at the min_scale floor"):
        model = fit_quietly(
            ExponentialMixture(
                2, weights_init=[0.5, 0.5], scales_init=[[0.01, 1.0], [100.0, 1.0]], max_iter=5,
                tol=0.0, min_scale=1e-3,
            ),
            X,
        )
    floor = 1e-3 * X[:, 1].mean()
    small = np.argmin(model.scales_[:, 0])
    assert_allclose(model.scales_[small, 1], floor, rtol=1e-9)
    assert np.isfinite(model.score_samples(X)).all()


def test_feature_zero_everywhere_gets_the_absolute_floor():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.exponential(1.0, 300), np.zeros(300)])
    model = ExponentialMixture(2, min_scale=1e-4, random_state=0).fit(X)
    assert_allclose(model.scales_[:, 1], 1e-4)
    assert np.isfinite(model.score_samples(X)).all()


def test_negative_data_is_rejected_with_the_value():
    X = make_data()
    X[7, 1] = -0.25
    with pytest.raises(ValueError, match=r"Negative values in data.*the smallest is -0\.25, in feature 1"):
        ExponentialMixture(2).fit(X)
    model = ExponentialMixture(2, random_state=0).fit(make_data())
    with pytest.raises(ValueError, match="negative"):
        model.predict(X)


def test_nan_data_is_rejected():
    X = make_data()
    X[3, 0] = np.nan
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        ExponentialMixture(2).fit(X)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"scales_init": np.ones((2, 3))}, r"scales_init must have shape .* \(3, 2\), got \(2, 3\)"),
        ({"scales_init": [[1.0, 1.0], [0.0, 1.0], [1.0, 1.0]]}, "finite and positive, got 0 \\(component 1, feature 0; 1 such"),
        ({"weights_init": [0.5, 0.5]}, r"weights_init must have shape \(3,\)"),
        ({"weights_init": [0.5, 0.5, 0.5]}, "must sum to 1"),
        ({"min_scale": 0.0}, "min_scale must be > 0"),
    ],
)
def test_invalid_hyper_parameters_are_rejected(kw, match):
    with pytest.raises(ValueError, match=match):
        ExponentialMixture(3, **kw).fit(make_data())


def _zeros_among_durations(dtype):
    """Two exponential clusters (scales 1 and 10) of 2 features, with 12 stray zeros in
    feature 0, spread over the rows."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.exponential(1.0, (400, 2)), rng.exponential(10.0, (400, 2))])
    X = X[rng.permutation(len(X))]
    X[::len(X) // 12, 0] = 0.0
    return X.astype(dtype)


def _fitted_on_zeros(path, X):
    """A 3-component fit whose start puts component 0 on the zeros of feature 0, by
    ``fit``, ``fit`` with missing entries in feature 1, ten ``partial_fit`` steps on the
    whole data (online EM's averaging reaches the floor at the eighth), or ``fit`` of a
    Dask array."""
    model = ExponentialMixture(
        3, weights_init=[0.02, 0.49, 0.49], scales_init=[[1e-3, 3.0], [1.0, 1.0], [10.0, 10.0]])
    return fitted_by_path(path, model, X, batches=[X] * 10, missing_rows=slice(1, None, 5),
                          chunk_rows=200)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("path", ["fit", "missing", "partial_fit", "dask"])
def test_a_component_on_stray_zeros_at_the_scale_floor_warns(path, dtype):
    """Stray zeros in feature 0 draw a component whose scale falls to the min_scale floor:
    its likelihood there grows without limit but for the floor, and the fit says so,
    naming the component, its weight, the feature and the floor. A default fit of the
    same data, whose components do not sit on the zeros, is silent."""
    X = _zeros_among_durations(dtype)
    with pytest.warns(RegularizationWarning,
                      match=r"Scales at the min_scale floor .*: component 0 \(weight \S+\): "
                            r"scale \S+ of feature 0 at the min_scale floor \(\S+\): its points "
                            r"are all 0 there\. .*min_scale=1e-06") as record:
        model = _fitted_on_zeros(path, X)
    assert len(record) == 1 and "feature 1" not in str(record[0].message)
    assert model.scales_[0, 0] <= 1e-6 * np.nanmean(X[:, 0]) * (1 + 1e-5)
    ExponentialMixture(2, random_state=0).fit(X)  # warnings are errors
