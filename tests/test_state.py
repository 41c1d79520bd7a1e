"""Model state that cannot lie: parameters that disagree never reach a kernel.

Before every kernel launch the driver checks the fitted parameters against
each other, the hyper-parameters and the data (shape, dtype, finiteness,
weights on the simplex, the family's domain), and the kernel params against
the shapes the family declared when it registered its blocks. These tests
sweep every parameter of every family and covariance type, set to a wrong
shape, a wrong dtype or an invalid value, through every method that launches
a kernel.
"""

import copy
import pickle
import warnings

import numpy as np
import pytest

import fastem
from fastem import ExponentialMixture, GaussianMixture, PoissonMixture
from fastem._state import FITTED_ATTRIBUTES, ParameterState
from fastem.base import WarmStartWarning

FAMILIES = [
    ("gaussian-full", lambda: GaussianMixture(2, covariance_type="full", random_state=0)),
    ("gaussian-tied", lambda: GaussianMixture(2, covariance_type="tied", random_state=0)),
    ("gaussian-diag", lambda: GaussianMixture(2, covariance_type="diag", random_state=0)),
    ("gaussian-spherical", lambda: GaussianMixture(2, covariance_type="spherical", random_state=0)),
    ("exponential", lambda: ExponentialMixture(2, random_state=0)),
    ("poisson", lambda: PoissonMixture(2, random_state=0)),
]

METHODS = {
    "score_samples": lambda m, X: m.score_samples(X),
    "predict": lambda m, X: m.predict(X),
    "predict_proba": lambda m, X: m.predict_proba(X),
    "score": lambda m, X: m.score(X),
    "bic": lambda m, X: m.bic(X),
    "aic": lambda m, X: m.aic(X),
    "summarize": lambda m, X: m.summarize(X),
    "sample": lambda m, X: m.sample(3),
}


def _data(name, dtype=np.float64):
    rng = np.random.default_rng(0)
    if name == "poisson":
        X = np.concatenate([rng.poisson(2.0, (300, 3)), rng.poisson(15.0, (300, 3))])
    elif name == "exponential":
        X = np.concatenate([rng.exponential(0.5, (300, 3)), rng.exponential(5.0, (300, 3))])
    else:
        X = np.concatenate([rng.normal(0, 1, (300, 3)), rng.normal(6, 1, (300, 3))])
    return X.astype(dtype)


def _fitted(name, dtype=np.float64):
    make = dict(FAMILIES)[name]
    X = _data(name, dtype)
    return make().fit(X), X


def _wrong_shapes(shape):
    """A few shapes that differ from ``shape``: one more or less row, one axis more or less."""
    shapes = [shape[:-1] + (shape[-1] + 1,), shape + (2,)]
    if shape[0] > 1:
        shapes.append((shape[0] - 1,) + shape[1:])
    if len(shape) > 1:
        shapes.append(shape[1:])
    return shapes


@pytest.mark.parametrize("name", [f for f, _ in FAMILIES])
def test_every_parameter_of_the_wrong_shape_is_named(name):
    model, X = _fitted(name)
    expected = model.score_samples(X)
    for param in model._parameter_names:
        good = getattr(model, param)
        for shape in _wrong_shapes(good.shape):
            setattr(model, param, np.ones(shape, dtype=good.dtype) / max(1, shape[0]))
            for method in METHODS.values():
                with pytest.raises(ValueError, match=rf"{param} has shape {shape}".replace("(", r"\(").replace(")", r"\)")):
                    method(model, X)
            setattr(model, param, good)
    np.testing.assert_array_equal(model.score_samples(X), expected)


@pytest.mark.parametrize("name", [f for f, _ in FAMILIES])
def test_every_parameter_non_finite_or_not_float_is_named(name):
    model, X = _fitted(name)
    for param in model._parameter_names:
        good = getattr(model, param)
        for bad, message in [
            (np.full_like(good, np.nan), "contains NaN or infinite"),
            (np.where(np.ones_like(good, dtype=bool), np.inf, good), "contains NaN or infinite"),
            # integers become float64, as in means_init: one that float64 rounds is named
            (np.full(good.shape, 2**53 + 1), "holds 9007199254740993 at index"),
            (good.astype(np.float32 if good.dtype == np.float64 else np.float64), "dtype"),
            ("not an array", "must be a float32 or float64 array, got dtype <U12"),
        ]:
            setattr(model, param, bad)
            for method in METHODS.values():
                with pytest.raises(ValueError, match=message):
                    method(model, X)
        setattr(model, param, good)


@pytest.mark.parametrize("name", [f for f, _ in FAMILIES])
def test_weights_off_the_simplex_and_parameters_out_of_domain(name):
    model, X = _fitted(name)
    good = model.weights_
    for bad in ([0.1, 0.1], [1.5, -0.5], [0.2, 0.2]):
        model.weights_ = np.array(bad)
        with pytest.raises(ValueError, match="weights_ must be non-negative and sum to 1"):
            model.score_samples(X)
    model.weights_ = good
    for param in model._parameter_names[1:]:
        if param == "means_":  # Gaussian means may take any sign
            continue
        value = getattr(model, param)
        setattr(model, param, -value)
        with pytest.raises(ValueError, match=rf"{param} must (be positive|have a positive diagonal)"):
            model.predict(X)
        setattr(model, param, value)
    model.predict(X)


@pytest.mark.parametrize("name", [f for f, _ in FAMILIES])
def test_changed_hyper_parameters_that_disagree_with_the_fit(name):
    model, X = _fitted(name)
    model.set_params(n_components=3)
    with pytest.raises(ValueError, match=r"weights_ has shape \(2,\), expected \(3,\).*n_components=3"):
        model.predict(X)
    model.set_params(n_components=2)
    model.predict(X)
    with pytest.raises(ValueError, match="has 2 features, but"):
        model.predict(X[:, :2])


@pytest.mark.parametrize("fitted", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("declared", ["full", "tied", "diag", "spherical"])
def test_precisions_of_another_covariance_type(fitted, declared):
    model, X = _fitted(f"gaussian-{fitted}")
    model.set_params(covariance_type=declared)
    if declared == fitted:
        model.score_samples(X)
        return
    with pytest.raises(ValueError, match="(covariances_|precisions_cholesky_|precisions_) has shape"):
        model.score_samples(X)
    with pytest.raises(ValueError):
        model.set_params(covariance_type="bogus").predict(X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("how", ["fit", "partial_fit", "load"])
@pytest.mark.parametrize("fitted, declared", [("diag", "tied"), ("tied", "diag")])
def test_a_covariance_type_changed_since_the_fit_is_refused_where_shapes_agree(
        tmp_path, how, dtype, fitted, declared):
    """'diag' and 'tied' parameters of as many components as features have the same
    shapes, (K, D) and (D, D): after set_params(covariance_type=...) the shape checks
    passed, and a 'diag' model read as 'tied' predicted, scored, sampled, stepped and
    saved (a file that load refuses) without an error, or a 'tied' one read as 'diag'
    was refused as if its values were wrong. Every method names the change. (A variational
    mixture's 'tied' degrees_of_freedom_ is one number, so its shapes tell the two apart.)"""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (150, 2)), rng.normal(5, 1, (150, 2))]).astype(dtype)
    X[:, 1] += 0.5 * X[:, 0]  # correlated: the 'tied' factor has an off-diagonal term
    model = GaussianMixture(n_components=2, covariance_type=fitted, random_state=0)
    if how == "partial_fit":
        model.partial_fit(X[:150]).partial_fit(X[150:])
    else:
        model.fit(X)
    if how == "load":
        model.save(tmp_path / "m.npz")
        model = fastem.load(tmp_path / "m.npz")
    expected = model.score_samples(X)
    model.set_params(covariance_type=declared)
    readers = dict(METHODS, save=lambda m, X: m.save(tmp_path / "changed.npz"),
                   to_sklearn=lambda m, X: m.to_sklearn(),
                   partial_fit=lambda m, X: m.partial_fit(X))
    for use in readers.values():
        with pytest.raises(ValueError, match=f"fitted with covariance_type='{fitted}', but its "
                           f"hyper-parameters now say covariance_type='{declared}'"):
            use(model, X)
    assert not (tmp_path / "changed.npz").exists()
    model.set_params(covariance_type=fitted)
    np.testing.assert_array_equal(model.score_samples(X), expected)


def test_means_of_shape_1_2_for_two_components():
    model, X = _fitted("gaussian-full")
    model.means_ = np.zeros((1, 3))
    with pytest.raises(ValueError, match=r"means_ has shape \(1, 3\), expected \(2, 3\)"):
        model.score_samples(X)


def test_parameters_are_read_only_copies():
    model, X = _fitted("gaussian-diag")
    means = np.array(model.means_)
    model.means_ = means
    means[0, 0] = 1e6  # the caller's array is not the model's
    assert model.means_[0, 0] != 1e6
    with pytest.raises(ValueError, match="read-only"):
        model.means_[0, 0] = 1.0
    assert isinstance(model._get_parameters(), ParameterState)


def test_pickle_and_copy_keep_the_parameters():
    import pickle

    model, X = _fitted("gaussian-tied")
    expected = model.score_samples(X)
    for other in (pickle.loads(pickle.dumps(model)), copy.deepcopy(model), copy.copy(model)):
        np.testing.assert_array_equal(other.score_samples(X), expected)
    other = copy.copy(model)
    other.means_ = other.means_ + 1.0  # replaces the copy's snapshot only
    np.testing.assert_array_equal(model.score_samples(X), expected)


def test_pickle_with_parameters_as_plain_attributes_loads():
    """A model pickled when parameters and fitted attributes were plain instance attributes."""
    model, X = _fitted("exponential")
    expected = model.score_samples(X)
    state = dict(model.__dict__)
    snapshot = state.pop("_parameters")
    names = snapshot.names() + tuple(name for name in FITTED_ATTRIBUTES if name in snapshot)
    state.update({name: snapshot[name] for name in names})
    old = ExponentialMixture.__new__(ExponentialMixture)
    old.__setstate__(state)
    np.testing.assert_array_equal(old.score_samples(X), expected)


def test_failed_refit_leaves_the_parameters_as_they_were():
    X = np.array([[0.0, 0.0], [1.0, 1.0]] * 10)
    model = GaussianMixture(2, random_state=0).fit(X)
    before = {name: getattr(model, name) for name in model._parameter_names}
    with pytest.raises(ValueError, match="ill-defined"):
        model.set_params(n_components=2, reg_covar=0, covariance_type="full").fit(X)
    for name, value in before.items():
        assert getattr(model, name) is value


def test_failed_m_step_leaves_the_parameters_as_they_were():
    model, X = _fitted("gaussian-full")
    stats = model.summarize(X)
    before = model._get_parameters()
    stats.moments["sxx"][:] = np.nan
    with pytest.raises(ValueError):
        model.m_step(stats)
    assert model._get_parameters() is before


def test_unregistered_params_class_is_a_clear_error(monkeypatch):
    from typing import NamedTuple

    class Stray(NamedTuple):
        rates: np.ndarray

    model, X = _fitted("exponential")
    monkeypatch.setattr(ExponentialMixture, "_kernel_params", lambda self, dtype: Stray(np.ones((2, 3))))
    with pytest.raises(TypeError, match="Stray, which is not a registered family"):
        model.score_samples(X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_kernel_params_of_the_wrong_dtype_or_layout_are_rejected(monkeypatch, dtype):
    model, X = _fitted("exponential", dtype)
    params = model._kernel_params(dtype)
    other = np.float64 if dtype == np.float32 else np.float32
    for bad in (
        params._replace(rates=params.rates.astype(other)),
        params._replace(rates=np.ones((2, 6), dtype=dtype)[:, ::2]),
        params._replace(log_norm=params.log_norm[:1]),
    ):
        monkeypatch.setattr(ExponentialMixture, "_kernel_params", lambda self, d, bad=bad: bad)
        with pytest.raises(ValueError, match="ExponentialParams"):
            model.predict_proba(X)


def test_output_arrays_are_checked_against_the_model():
    model, X = _fitted("gaussian-full")
    X = np.ascontiguousarray(X)
    with pytest.raises(ValueError, match="resp output has shape"):
        model._run_kernel(X, np.empty(0), accumulate=False, resp=np.empty((len(X), 3)))
    with pytest.raises(ValueError, match="labels output"):
        model._run_kernel(X, np.empty(0), accumulate=False, labels=np.empty(len(X) - 1, np.int64))
    with pytest.raises(ValueError, match="sample_weight has shape"):
        model._run_kernel(X, np.ones(len(X) + 1), accumulate=True)


def test_loaded_file_with_disagreeing_arrays_is_rejected_before_the_kernel(tmp_path):
    model, X = _fitted("gaussian-full")
    path = tmp_path / "m.npz"
    model.save(path)
    with np.load(path) as f:
        arrays = dict(f)
    arrays["means_"] = arrays["means_"][:1]
    np.savez(tmp_path / "bad.npz", **arrays)
    try:
        loaded = fastem.load(tmp_path / "bad.npz")
    except ValueError:
        return  # rejected by load itself
    with pytest.raises(ValueError, match=r"means_ has shape \(1, 3\), expected \(2, 3\)"):
        loaded.score_samples(X)


@pytest.mark.parametrize("name", [f for f, _ in FAMILIES])
def test_sample_checks_the_parameters_too(name):
    model, X = _fitted(name)
    param = model._parameter_names[1]
    setattr(model, param, np.float64(1.0))
    with pytest.raises(ValueError, match=rf"{param} has shape \(\)"):
        model.sample(5)


def test_a_copy_holds_the_fitted_state_of_its_moment():
    """copy.copy(model) keeps every fitted attribute of the fit it was taken from."""
    model, X = _fitted("gaussian-full")
    old = copy.copy(model)
    before = {name: getattr(old, name) for name in (*model._parameter_names, "n_iter_",
                                                     "lower_bound_", "lower_bounds_")}
    model.set_params(max_iter=3, tol=0.0)
    with pytest.warns(fastem.ConvergenceWarning):
        model.fit(X[::-1] * 2.0)
    for name, value in before.items():
        assert getattr(old, name) is value, name
    assert not np.array_equal(model.means_, old.means_)
    assert "weights_" not in vars(model) and "n_iter_" not in vars(model)


@pytest.mark.parametrize("other", ["3 components", "diag", "tied", "3 features", "poisson",
                                   "exponential", "not statistics"])
def test_m_step_refuses_statistics_of_another_model(other):
    """Statistics summarized by another model never reach the M-step: the model is unchanged."""
    model, X = _fitted("gaussian-full")
    before = fastem._state.committed(model)
    if other == "not statistics":
        stats, error = {"nk": np.ones(2)}, TypeError
    else:
        data = {"3 features": np.c_[X, X[:, :1]], "poisson": np.round(np.abs(X)),
                "exponential": np.abs(X)}.get(other, X)
        make = {"3 components": lambda: GaussianMixture(3, random_state=0),
                "diag": lambda: GaussianMixture(2, covariance_type="diag", random_state=0),
                "tied": lambda: GaussianMixture(2, covariance_type="tied", random_state=0),
                "3 features": lambda: GaussianMixture(2, random_state=0),
                "poisson": lambda: PoissonMixture(2, random_state=0),
                "exponential": lambda: ExponentialMixture(2, random_state=0)}[other]
        stats, error = make().fit(data).summarize(data), ValueError
    with pytest.raises(error, match="summarize"):
        model.m_step(stats)
    assert fastem._state.committed(model) is before
    with pytest.raises(fastem.NotFittedError):
        GaussianMixture(2).m_step(model.summarize(X))


@pytest.mark.parametrize("other", ["array", "array first", "1", "None", "list"])
def test_statistics_add_only_to_statistics_or_zero(other):
    """Sufficient statistics plus anything but statistics or 0 is a TypeError saying what
    adds up. Before, statistics plus an array raised NumPy's "truth value of an array is
    ambiguous", and an array plus statistics was an array of statistics, one per entry."""
    model, X = _fitted("gaussian-full")
    stats = model.summarize(X)
    add = {"array": lambda: stats + np.zeros(3), "array first": lambda: np.zeros(3) + stats,
           "1": lambda: stats + 1, "None": lambda: stats + None, "list": lambda: [stats] + stats}
    with pytest.raises(TypeError, match=r"^Cannot add sufficient statistics and a value of "
                       r"type \w+: add the summaries of chunks"):
        add[other]()
    assert (sum([stats, stats]) + np.float64(0)).n_samples == 2 * stats.n_samples


def _with_count(stats, count):
    # the summary with the first component's weight replaced by ``count``
    nk = np.r_[count, stats.nk[1:]]
    return fastem.SufficientStatistics(
        stats.n_samples, stats.log_likelihood, nk, stats.moments, stats.reference)


NOT_OF_DATA = {
    "scaled by 0": lambda stats: stats.scaled(0.0),
    "scaled by -1": lambda stats: stats.scaled(-1.0),
    "scaled by nan": lambda stats: stats.scaled(np.nan),
    "a negative count": lambda stats: _with_count(stats, -stats.nk[0]),
    "an infinite count": lambda stats: _with_count(stats, np.inf),
}


@pytest.mark.parametrize("how", list(NOT_OF_DATA))
@pytest.mark.parametrize("name", [f for f, _ in FAMILIES] + ["bayesian"])
def test_m_step_refuses_statistics_that_no_data_give(name, how):
    """Statistics whose total weight is not positive or whose components' weights are
    negative or not finite come from no data: m_step says so and leaves the model as it
    was. Before, statistics scaled by 0 set every Gaussian covariance to reg_covar (every
    exponential scale to its floor), negated ones gave the same model as the data's, and
    NaN blamed an ill-defined covariance."""
    if name == "bayesian":
        X = _data("gaussian")
        model = fastem.BayesianGaussianMixture(2, random_state=0).fit(X)
    else:
        model, X = _fitted(name)
    stats = NOT_OF_DATA[how](model.summarize(X))
    before = fastem._state.committed(model)
    # scaled by 0, they are those of data of no weight (summarize of an empty piece)
    refused = ("These sufficient statistics hold no data: n_samples is 0" if how == "scaled by 0"
               else r"These sufficient statistics cannot come from data: (n_samples|nk) .*Pass "
                    "what summarize returns")
    with pytest.raises(ValueError, match=refused):
        model.m_step(stats)
    assert fastem._state.committed(model) is before


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "name", [name for name, _ in FAMILIES] + ["bayesian-full", "bayesian-diag"]
)
@pytest.mark.parametrize("path", ["estimator", "stand-in"])
def test_m_steps_of_the_em_loop_pass_the_checks_the_next_pass_skips(name, dtype, path, monkeypatch):
    """The EM loop runs the parameter checks once per fit's start, not once per pass.

    It counts the M-step of a checked pass's statistics as checked
    (``_pass_checks_on``). Here every such M-step is checked anyway, for
    every family, both dtypes, weighted data and restarts: none may fail.
    """
    from fastem.base import BaseMixture
    from fastem.families._gaussian_arrays import GaussianArrays

    if path == "stand-in" and not (name.startswith("gaussian") and dtype == np.float64):
        pytest.skip("only float64 GaussianMixture runs drive the stand-in")
    vouched = []
    original = BaseMixture._pass_checks_on

    def check_anyway(self, before, n_features):
        original(self, before, n_features)
        if self._get_parameters().memo.pop(("checked", n_features), None) is not None:
            self._check_fitted_parameters(n_features)
            vouched.append(name)

    if path == "estimator":
        # a patched hook of the estimator keeps its own run (see GaussianMixture._em_stand_in)
        monkeypatch.setattr(BaseMixture, "_pass_checks_on", check_anyway)
    else:  # the stand-in of float64 Gaussian runs vouches in the same way
        stand_in_original = GaussianArrays._pass_checks_on

        def stand_in_checks_anyway(self, before, n_features):
            stand_in_original(self, before, n_features)
            if self._current.checked:
                self._check()
                vouched.append(name)

        monkeypatch.setattr(GaussianArrays, "_pass_checks_on", stand_in_checks_anyway)
    if name.startswith("bayesian"):
        model = fastem.BayesianGaussianMixture(
            4, covariance_type=name.split("-")[1], random_state=0, max_iter=30, tol=0
        )
        X = _data("gaussian", dtype)
    else:
        model = dict(FAMILIES)[name]().set_params(n_init=2, max_iter=30, tol=0)
        X = _data(name, dtype)
    weights = np.random.default_rng(1).uniform(0.1, 2.0, len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        model.fit(X, sample_weight=weights)
    assert len(vouched) >= 20


def test_statistics_from_a_user_are_not_vouched_for():
    """``m_step`` called by a user leaves its parameters to be checked by the next pass."""
    model, X = _fitted("gaussian-full")
    stats = model.summarize(X)
    model.m_step(stats)
    assert ("checked", X.shape[1]) not in model._get_parameters().memo
    stats.moments["sx"][0] *= 1e3  # means far off, still a valid model
    model.m_step(stats)
    model.predict(X)
    assert ("checked", X.shape[1]) in model._get_parameters().memo


def test_states_with_the_same_parameters_share_what_was_derived_from_them():
    model, X = _fitted("gaussian-full")
    state = model._get_parameters()
    theta = model._unconstrained(state)
    assert model._unconstrained(state) is theta and not theta.flags.writeable
    assert state.replace_record("n_iter_", 5).memo is state.memo
    assert state.with_parameters(state).memo is state.memo
    assert state.replace("means_", state["means_"] + 1.0).memo == {}
    assert pickle.loads(pickle.dumps(state)).memo == {}


UPDATES = {
    "fit": lambda model, X: model.fit(X),
    "fit_predict": lambda model, X: model.fit_predict(X),
    "partial_fit": lambda model, X: model.partial_fit(X),
}


@pytest.mark.parametrize("update", list(UPDATES))
@pytest.mark.parametrize(
    "change", [{"n_components": 3}, {"covariance_type": "diag"}, {"reg_covar": 0.5}]
)
def test_an_update_records_the_hyper_parameters_it_ran_with(update, change, monkeypatch):
    """A set_params made while a fit or partial_fit runs (by another thread, or a
    callback) does not enter the record the update publishes: the record describes
    the parameters, which the update computed with the hyper-parameters of its start.
    Before, a fit recorded its structure and reg_covar at its end, so a change of
    n_components there made a warm start refuse its own fit, and a change of
    reg_covar made the next partial_fit take the wrong reg_covar out of the fit."""
    X = _data("gaussian-full")
    reference, model = (GaussianMixture(2, random_state=0) for _ in "ab")
    if update == "partial_fit":
        reference.partial_fit(X[:300]), model.partial_fit(X[:300])
    original = {name: getattr(model, name) for name in change}
    checked = type(model)._check_regularization

    def meanwhile(self, stats, data=None):  # runs near the end of every update
        checked(self, stats, data)
        model.set_params(**change)

    UPDATES[update](reference, X)
    monkeypatch.setattr(type(model), "_check_regularization", meanwhile)
    UPDATES[update](model, X)
    monkeypatch.undo()
    assert model.get_params()[next(iter(change))] == change[next(iter(change))]
    model.set_params(**original)
    for name in (*model._parameter_names, "n_iter_", "lower_bound_"):
        np.testing.assert_array_equal(getattr(model, name), getattr(reference, name), err_msg=name)
    assert model._fit_structure == reference._fit_structure
    assert model._fitted_settings == reference._fitted_settings
    # the record holds: a warm start continues the fit, partial_fit steps it as the reference
    model.set_params(warm_start=True), reference.set_params(warm_start=True)
    model.partial_fit(X[::-1]), reference.partial_fit(X[::-1])
    np.testing.assert_array_equal(model.covariances_, reference.covariances_)
    with warnings.catch_warnings():
        warnings.simplefilter("error", WarmStartWarning)
        model.fit(X)


GAUSSIAN_MATRICES = ["covariances_", "precisions_", "precisions_cholesky_"]


@pytest.mark.parametrize("copied", ["model", "pickle", "deepcopy"])
@pytest.mark.parametrize("name", [f for f, _ in FAMILIES if f.startswith("gaussian")]
                         + ["bayesian"])
def test_assigned_parameters_that_disagree_with_each_other_are_refused(name, copied):
    """One of covariances_, precisions_ and precisions_cholesky_ assigned without the
    others (or a variational mixture's weights_ without its weight_concentration_) is
    refused by every method, as save refuses it. Before, predictions were made from the
    precisions while sample drew from the covariances (and a variational mixture predicted
    with its concentrations), each method answering for another model without an error."""
    if name == "bayesian":
        X = _data("gaussian-full")
        model = fastem.BayesianGaussianMixture(n_components=2, random_state=0).fit(X)
        changes = {"weights_": lambda v: v[::-1]}
    else:
        model, X = _fitted(name)
        changes = {matrix: lambda v: 4.0 * v for matrix in GAUSSIAN_MATRICES}
    for attribute, change in changes.items():
        changed = copy.deepcopy(model)
        setattr(changed, attribute, change(getattr(model, attribute)))
        changed = {"model": lambda m: m, "pickle": lambda m: pickle.loads(pickle.dumps(m)),
                   "deepcopy": copy.deepcopy}[copied](changed)
        for method, use in METHODS.items():
            if name == "bayesian" and method in ("bic", "aic"):
                continue  # it has none
            with pytest.raises(ValueError, match=r"disagree with each other: '\w+_' .*If they "
                               r"were assigned, assign (the parameters of one fitted model|"
                               r"weight_concentration_ alone)"):
                use(changed, X)
        with pytest.raises(ValueError, match="disagree with each other"):
            changed.set_params(warm_start=True).fit(X)
        # the others assigned too, from one fitted model, agree again
        other = copy.deepcopy(model)
        for parameter in model._parameter_names:
            setattr(other, parameter, getattr(changed if parameter == attribute else model,
                                              parameter))
        setattr(other, attribute, getattr(model, attribute))
        np.testing.assert_array_equal(other.score_samples(X), model.score_samples(X))


@pytest.mark.parametrize("name", [f for f, _ in FAMILIES] + ["bayesian"])
def test_set_params_that_raises_sets_nothing(name):
    """A name that the model does not take, after names that it does, sets none of them:
    before, those before it in the call were set, and the model was left half-changed."""
    model = (fastem.BayesianGaussianMixture(n_components=2) if name == "bayesian"
             else dict(FAMILIES)[name]())
    before = model.get_params()
    with pytest.raises(ValueError, match="Invalid parameter 'bogus'"):
        model.set_params(max_iter=5, n_components=3, tol=1.0, bogus=1)
    assert model.get_params() == before


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_covariances_and_precision_factors_assigned_as_for_sklearn_make_one_model(
        covariance_type, tmp_path):
    """Code written for scikit-learn's estimator sets a model by hand through
    covariances_ and precisions_cholesky_, leaving precisions_ (which scikit-learn
    derives) as it was. The assigned factor derives precisions_, so the model agrees
    with itself: its predictions are scikit-learn's for the same attributes, and it
    saves and loads. Before, the stale precisions_ made every method refuse it."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture
    from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

    X = np.random.default_rng(3).normal(size=(200, 2))
    X[:100] += 5.0
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    reference = SkGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    covariances = 3.0 * model.covariances_
    factors = _compute_precision_cholesky(covariances, covariance_type)
    for estimator in (model, reference):
        estimator.covariances_ = covariances
        estimator.precisions_cholesky_ = factors
    expected = {
        "full": lambda U: U @ np.swapaxes(U, -1, -2), "tied": lambda U: U @ U.T,
        "diag": np.square, "spherical": np.square,
    }[covariance_type](factors)
    np.testing.assert_allclose(model.precisions_, expected, rtol=1e-12)
    np.testing.assert_allclose(model.score_samples(X), reference.score_samples(X), rtol=1e-10)
    model.sample(5)
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(fastem.load(tmp_path / "m.npz").score_samples(X),
                                  model.score_samples(X))
    # the factor alone still disagrees with the covariances, which sample draws from
    alone = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    alone.precisions_cholesky_ = factors
    with pytest.raises(ValueError, match="'covariances_' is not the inverse of 'precisions_'"):
        alone.score(X)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_lower_precision_factors_assigned_are_named_as_such(covariance_type):
    """A precisions_cholesky_ assigned as np.linalg.cholesky gives it (lower factors L,
    L @ L.T the precisions) is read by its upper triangle, its diagonal, and so disagrees
    with the covariances: the refusal says that the factors must be upper-triangular. It
    named covariances_ and precisions_ alone, neither of which was assigned."""
    X = np.random.default_rng(3).normal(size=(200, 2))
    X[:100] += 5.0
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    model.precisions_cholesky_ = np.linalg.cholesky(model.precisions_)
    with pytest.raises(ValueError, match=r"(?s)'covariances_' is not the inverse.*entries "
                       r"below the diagonal.*must be upper-triangular factors U"):
        model.predict(X)
    # upper factors with the same diagonal disagree alike, with no word of the triangle
    model.precisions_cholesky_ = np.swapaxes(np.linalg.cholesky(model.precisions_), -1, -2)
    with pytest.raises(ValueError, match="'covariances_' is not the inverse") as refused:
        model.predict(X)
    assert "below the diagonal" not in str(refused.value)


@pytest.mark.parametrize("path", ["fit", "chunks", "float32", "bayesian", "partial_fit",
                                  "load", "m_step"])
def test_parameters_fastem_sets_together_are_not_checked_against_one_another(
        path, monkeypatch, tmp_path):
    """The check of parameters assigned by hand against one another (of the order of
    n_components * n_features**3, as large as a pass over a small batch) runs for
    assigned ones only: the M-steps, starts and extrapolated steps of a fit, partial_fit
    and a model file's checked arrays agree by construction. Every pass of a
    BayesianGaussianMixture fit and over Chunks, and every partial_fit call, had run it."""
    from fastem import io as fastem_io

    calls = []
    check = fastem_io.check_parameters_agree
    monkeypatch.setattr(fastem_io, "check_parameters_agree",
                        lambda model, state: calls.append(1) or check(model, state))
    X = np.random.default_rng(3).normal(size=(400, 3))
    X[:200] += 5.0
    make = {"bayesian": lambda: fastem.BayesianGaussianMixture(2, random_state=0)}.get(
        path, lambda: GaussianMixture(2, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged
        model = make().set_params(max_iter=10, tol=0.0)
        if path == "partial_fit":
            for rows in np.array_split(X, 4):
                model.partial_fit(rows)
        else:
            model.fit({"chunks": fastem.Chunks([X[:200], X[200:]]),
                       "float32": X.astype(np.float32)}.get(path, X))
        if path == "load":
            model.save(tmp_path / "m.npz")
            model = fastem.load(tmp_path / "m.npz")
        if path == "m_step":
            model.m_step(model.summarize(X))
        model.predict(X)
    assert calls == []
    model.covariances_ = model.covariances_  # assigned: checked once, at its first use
    model.predict(X)
    model.predict(X)
    assert calls == [1]


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_a_precision_factor_kept_unconverted_derives_nothing(covariance_type):
    """An assigned precisions_cholesky_ that is kept as given (a ragged list, which is no
    array) derives no precisions_: the check at its use names it. Its derivation had
    raised NumPy's 'inhomogeneous shape' ValueError from the assignment itself (and
    Python's TypeError for Decimal entries beyond float64's precision)."""
    X = np.random.default_rng(3).normal(size=(200, 2))
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    model.precisions_cholesky_ = [[1.0, 2.0], [3.0]]
    with pytest.raises(ValueError, match="precisions_cholesky_ must be a float32 or float64"):
        model.predict(X)


def test_parameters_assigned_to_a_model_never_fitted_ask_for_n_features_in_():
    """A model built by hand (its parameters assigned, never fitted) was refused by every
    method with "object has no attribute 'n_features_in_'", an AttributeError from deep
    in the checks. It now says what to assign; with it, the model works."""
    model = GaussianMixture(2)
    model.weights_ = [0.5, 0.5]
    model.means_ = [[0.0, 0.0], [6.0, 6.0]]
    model.covariances_ = np.stack([np.eye(2)] * 2)
    model.precisions_cholesky_ = np.stack([np.eye(2)] * 2)
    X = np.zeros((3, 2))
    for use in (lambda m: m.predict(X), lambda m: m.score(X), lambda m: m.sample(2),
                lambda m: m.partial_fit(X)):
        with pytest.raises(fastem.exceptions.NotFittedError,
                           match=r"assigned by hand but no n_features_in_.*model.n_features_in_"):
            use(model)
    model.n_features_in_ = 2
    np.testing.assert_array_equal(model.predict(X), [0, 0, 0])
