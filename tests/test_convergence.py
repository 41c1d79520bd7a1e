"""The EM loop: the stopping rule, SQUAREM acceleration, warm starts and failed fits.

The values asserted come from the cases that motivated the rule: fits that
stopped far from the peak under a rule on the last change of the
log-likelihood (two exponentials, two overlapping Gaussians, Old Faithful).
References are fits of the same model run far past convergence
(``tol=1e-10``, plain EM).
"""

import copy
import pathlib
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose

import fastem
from fastem import ConvergenceWarning, ExponentialMixture, GaussianMixture, PoissonMixture
from fastem._em import aitken_remaining_gain
from fastem.base import LikelihoodDecreaseWarning, WarmStartWarning

FAITHFUL = pathlib.Path(__file__).parent / "data" / "faithful.csv"
COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


def overlapping(seed):
    """300 points from N((2, 4), [[5, 2], [2, 6]]) and 100 from N((0, 0), [[4, 2], [2, 3]])."""
    rng = np.random.default_rng(seed)
    return np.concatenate([
        rng.multivariate_normal([2, 4], [[5, 2], [2, 6]], 300),
        rng.multivariate_normal([0, 0], [[4, 2], [2, 3]], 100),
    ])


def two_exponentials(n_samples=1_000_000, seed=0):
    rng = np.random.default_rng(seed)
    half = n_samples // 2
    return np.concatenate([rng.exponential(0.1, half), rng.exponential(1.0, half)])[:, None]


def fitted_attributes(model):
    """Every attribute of a model, arrays copied, for before/after comparisons."""
    # The parameters are compared by name; their snapshot object has no value equality.
    names = [n for n in vars(model) if n != "_parameters"]
    names += [n for n in model._parameter_names if hasattr(model, n)]
    return {name: copy.deepcopy(getattr(model, name)) for name in names}


def assert_same_attributes(model, before):
    after = fitted_attributes(model)
    assert sorted(after) == sorted(before)
    for name, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(after[name], value, err_msg=name)
        elif name != "callback":
            assert after[name] == value, name


# ----------------------------------------------------------------------
# the stopping rule


def test_aitken_recovers_the_limit_of_a_geometric_sequence():
    # l_t = 1 - 0.9**t: increments shrink by 0.9, the limit is 1.
    values = 1 - 0.9 ** np.arange(10, 13)
    assert aitken_remaining_gain(*values) == pytest.approx(1 - values[1], rel=1e-10)


def test_aitken_gain_at_a_fixed_point_and_outside_the_linear_phase():
    assert aitken_remaining_gain(-1.0, -0.5, -0.5) == 0.0  # no gain: a fixed point
    assert aitken_remaining_gain(-1.0, -0.9, -0.7) == np.inf  # increments grow
    assert aitken_remaining_gain(-1.0, -1.0, -0.9) == np.inf  # a stall, then a gain


def test_two_exponentials_recover_scales_and_weights_within_one_percent():
    X = two_exponentials()
    model = ExponentialMixture(2, random_state=0).fit(X)
    assert model.converged_
    order = np.argsort(model.scales_[:, 0])
    assert_allclose(model.scales_[order, 0], [0.1, 1.0], rtol=0.01)
    assert_allclose(model.weights_[order], [0.5, 0.5], rtol=0.01)


@pytest.mark.parametrize("seed", range(20))
def test_overlapping_gaussians_reach_the_peak_with_default_settings(seed):
    X = overlapping(seed)
    model = GaussianMixture(2, random_state=seed).fit(X)
    reference = GaussianMixture(
        2, random_state=seed, tol=1e-10, max_iter=100_000, accelerate=False
    ).fit(X)
    assert model.converged_
    assert model.score(X) >= reference.score(X) - 1e-6


def test_old_faithful_tied_three_components_reaches_the_peak():
    X = np.loadtxt(FAITHFUL, delimiter=",", skiprows=3)
    model = GaussianMixture(3, covariance_type="tied", n_init=10, random_state=0).fit(X)
    assert model.converged_
    assert model.score(X) * len(X) >= -1126.33


def test_tol_zero_never_converges_and_plain_em_runs_max_iter_passes():
    X = overlapping(0)
    with pytest.warns(ConvergenceWarning, match="estimated remaining gain"):
        model = GaussianMixture(2, random_state=0, tol=0.0, max_iter=7, accelerate=False).fit(X)
    assert model.n_iter_ == 7 and len(model.lower_bounds_) == 7 and not model.converged_


# ----------------------------------------------------------------------
# acceleration


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_acceleration_reaches_the_same_peak_in_fewer_passes(covariance_type):
    X = overlapping(3)
    kw = dict(covariance_type=covariance_type, random_state=3, tol=1e-10, max_iter=100_000)
    plain = GaussianMixture(2, accelerate=False, **kw).fit(X)
    fast = GaussianMixture(2, accelerate=True, **kw).fit(X)
    assert fast.converged_ and plain.converged_
    assert fast.score(X) == pytest.approx(plain.score(X), abs=1e-8)
    assert fast.n_iter_ < plain.n_iter_


@pytest.mark.parametrize("estimator", [ExponentialMixture, PoissonMixture])
def test_acceleration_for_families_fitted_by_their_means(estimator):
    rng = np.random.default_rng(1)
    if estimator is PoissonMixture:
        X = np.concatenate([rng.poisson(3.0, 3000), rng.poisson(5.0, 3000)])[:, None]
    else:
        X = two_exponentials(6000, seed=1)
    kw = dict(random_state=0, tol=1e-10, max_iter=100_000)
    plain = estimator(2, accelerate=False, **kw).fit(X)
    fast = estimator(2, **kw).fit(X)
    assert fast.score(X) == pytest.approx(plain.score(X), abs=1e-8)
    assert fast.n_iter_ * 2 < plain.n_iter_


def test_accelerated_fit_of_memory_mapped_and_chunked_data_equals_in_memory(tmp_path):
    X = overlapping(5)
    path = tmp_path / "x.npy"
    np.save(path, X)
    np.save(tmp_path / "a.npy", X[:150])
    np.save(tmp_path / "b.npy", X[150:])
    kw = dict(random_state=5, tol=1e-10, max_iter=100_000)
    in_memory = GaussianMixture(2, **kw).fit(X)
    mapped = GaussianMixture(2, **kw).fit(np.load(path, mmap_mode="r"))
    chunked = GaussianMixture(2, **kw).fit(fastem.Chunks([tmp_path / "a.npy", tmp_path / "b.npy"]))
    for other in (mapped, chunked):
        assert other.n_iter_ == in_memory.n_iter_
        assert_allclose(other.means_, in_memory.means_, rtol=1e-8)


# Small random mixtures: every family and covariance type, float32 and float64.
@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    family=st.sampled_from(COVARIANCE_TYPES + ["exponential", "poisson"]),
    n_components=st.integers(1, 4),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_accelerated_steps_never_lower_the_log_likelihood(seed, family, n_components, dtype):
    rng = np.random.default_rng(seed)
    n_samples = int(rng.integers(20, 300))
    centres = rng.normal(0, 3, (n_components, 2))
    X = centres[rng.integers(0, n_components, n_samples)] + rng.normal(0, 1, (n_samples, 2))
    if family == "exponential":
        X, make = np.abs(X), lambda **kw: ExponentialMixture(n_components, **kw)
    elif family == "poisson":
        X, make = np.round(np.abs(X) * 3), lambda **kw: PoissonMixture(n_components, **kw)
    else:
        make = lambda **kw: GaussianMixture(n_components, covariance_type=family, **kw)  # noqa: E731
    X = X.astype(dtype)
    kw = dict(random_state=seed, tol=0.0, max_iter=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", fastem.EmptyComponentWarning)
        start = make(max_iter=1, accelerate=False, random_state=seed, tol=0.0).fit(X)
        fast = make(accelerate=True, **kw).fit(X)
    bounds = np.asarray(fast.lower_bounds_)
    slack = (1e-4 if dtype == np.float32 else 1e-9) * (1 + np.abs(bounds))
    # Never below plain EM's start value, and monotone over accepted passes.
    assert bounds[-1] >= start.lower_bound_ - slack[0]
    assert np.all(np.diff(bounds) >= -slack[1:])
    assert len(bounds) <= fast.n_iter_ <= 40


# ----------------------------------------------------------------------
# warm start


def test_warm_start_tests_convergence_afresh():
    X = overlapping(13)
    X_new = overlapping(14)
    model = GaussianMixture(2, random_state=0).fit(X)
    # A previous lower bound that equals the new data's first value must not stop the refit.
    model.lower_bound_ = model.score(X_new)
    model.set_params(warm_start=True, accelerate=False)
    reference = copy.deepcopy(model).set_params(tol=1e-10, max_iter=100_000).fit(X_new)
    model.fit(X_new)
    assert model.n_iter_ >= 3 and len(model.lower_bounds_) == model.n_iter_
    assert model.score(X_new) >= reference.score(X_new) - 1e-6


@pytest.mark.parametrize(
    "change, message",
    [
        ({"n_components": 3}, "n_components=2 to 3"),
        ({"covariance_type": "diag"}, "covariance_type='full' to 'diag'"),
        ("features", "n_features=2 to 3"),
    ],
)
def test_warm_start_after_a_change_of_shape_starts_afresh(change, message):
    X = overlapping(0)
    model = GaussianMixture(2, random_state=0, warm_start=True).fit(X)
    params = {} if change == "features" else change
    if change == "features":
        X = np.column_stack([X, X[:, 0] - X[:, 1] + np.random.default_rng(0).normal(size=len(X))])
    model.set_params(**params)
    with pytest.warns(WarmStartWarning, match=message):
        model.fit(X)
    fresh = GaussianMixture(**{**model.get_params(), "warm_start": False}).fit(X)
    for name in model._parameter_names:
        assert_allclose(getattr(model, name), getattr(fresh, name), rtol=1e-12)
    assert model.n_features_in_ == X.shape[1]
    # The next warm start continues without a warning.
    model.fit(X)


# ----------------------------------------------------------------------
# a fit that fails changes nothing


def test_failed_refit_leaves_the_model_intact():
    X = overlapping(0)
    model = GaussianMixture(2, random_state=0).fit(X)
    before = fitted_attributes(model)
    labels = model.predict(X)
    model.set_params(n_components=3, reg_covar=0)
    two_points = np.repeat([[1.0, 2.0], [3.0, 2.0]], 5, axis=0)
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        model.fit(two_points)
    model.set_params(n_components=2, reg_covar=1e-6)
    assert_same_attributes(model, before)
    np.testing.assert_array_equal(model.predict(X), labels)


class Interrupt(Exception):
    pass


def interrupt_at(n):
    def callback(model, n_iter, lower_bound):
        if n_iter >= n:
            raise Interrupt
    return callback


@pytest.mark.parametrize("accelerate", [False, True])
@pytest.mark.parametrize("warm_start", [False, True])
@pytest.mark.parametrize("make", [
    lambda: GaussianMixture(2, random_state=0),
    lambda: GaussianMixture(2, covariance_type="tied", random_state=0),
    lambda: ExponentialMixture(2, random_state=0),
])
def test_fit_interrupted_at_any_pass_leaves_the_model_intact(make, warm_start, accelerate):
    X = np.abs(overlapping(1))
    model = make().fit(X)
    model.set_params(warm_start=warm_start, accelerate=accelerate)
    before = fitted_attributes(model)
    other = np.abs(overlapping(2)) * 1.5
    for n in (1, 2, 3):  # a fit has at least three accepted passes: the stopping rule needs them
        model.set_params(callback=interrupt_at(n))
        with pytest.raises(Interrupt):
            model.fit(other)
        with pytest.raises(Interrupt):
            model.fit_predict(other)
        model.set_params(callback=None)
        assert_same_attributes(model, {**before, "callback": None})


def test_failed_first_fit_leaves_no_fitted_attribute():
    model = GaussianMixture(3, reg_covar=0)
    unfitted = fitted_attributes(model)
    with pytest.raises(ValueError, match="ill-defined"):
        model.fit(np.repeat([[1.0, 2.0], [3.0, 2.0]], 5, axis=0))
    assert_same_attributes(model, unfitted)
    assert not hasattr(model, "n_features_in_") and not hasattr(model, "weights_")


def test_callback_sees_a_working_copy_with_the_current_parameters():
    X = overlapping(0)
    seen = []
    model = GaussianMixture(2, random_state=0, accelerate=False, callback=lambda m, n, lb: seen.append(
        (m, n, lb, m.score(X))
    ))
    model.fit(X)
    assert [s[1] for s in seen] == list(range(1, model.n_iter_ + 1))
    assert [s[2] for s in seen] == model.lower_bounds_
    assert all(type(s[0]) is GaussianMixture and s[0] is not model for s in seen)
    # The copy holds the parameters after each M-step: their score is the next pass's value.
    assert_allclose([s[3] for s in seen[:-1]], model.lower_bounds_[1:], rtol=1e-12)


# ----------------------------------------------------------------------
# a log-likelihood that falls says so


def test_falling_log_likelihood_warns_with_the_cause_and_keeps_the_best_parameters():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.1, (200, 1)), rng.normal(1, 0.1, (200, 1))])
    with pytest.warns(LikelihoodDecreaseWarning, match=r"fell from .* reg_covar=0.1 is large"):
        model = GaussianMixture(2, reg_covar=0.1, random_state=0, accelerate=False).fit(X)
    assert not model.converged_
    assert model.lower_bound_ == max(model.lower_bounds_)
    assert model.score(X) == pytest.approx(model.lower_bound_, rel=1e-12)
