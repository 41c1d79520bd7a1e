"""A GaussianMixture's EM run on its stand-in of plain arrays gives bitwise the run on the estimator.

``GaussianMixture._em_stand_in`` hands :func:`fastem._em.run_em` a
:class:`~fastem.families._gaussian_arrays.GaussianArrays` for float64 data in
memory; every fit here runs once through it and once through the estimator's
own hooks (the stand-in switched off), and the two must agree in every bit:
parameters, passes, log-likelihoods, convergence, warnings and errors.
"""

import pathlib
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastem import Chunks, GaussianMixture
from fastem.families._gaussian_arrays import GaussianArrays

FAITHFUL = np.loadtxt(
    pathlib.Path(__file__).parent / "data" / "faithful.csv", delimiter=",", skiprows=3
)


def _blobs(seed, n=600, d=3, k=3, spread=4.0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=spread, size=(k, d))
    return centres[rng.integers(k, size=n)] + rng.normal(size=(n, d)) * rng.uniform(0.5, 1.5, d)


def _one_blob(seed):
    """One 2-D blob: a likelihood ridge for several components, where EM crawls."""
    rng = np.random.default_rng(seed)
    return rng.normal(rng.normal(0, 1.5, (1, 2)), 1.0, (800, 2))


def _rounded(seed):
    """Discrete data (few distinct values): components collapse onto them."""
    rng = np.random.default_rng(seed)
    return np.round(rng.normal(size=(300, 2)) * 1.5)


DATA = {
    "faithful": lambda: FAITHFUL,
    "blobs": lambda: _blobs(0),
    "one blob": lambda: _one_blob(1),
    "rounded": lambda: _rounded(2),
    "few points": lambda: _blobs(3, n=7, d=2, k=2),
}


def _outcome(X, stand_in, monkeypatch, sample_weight=None, warm=None, **kwargs):
    """The fitted model's parameters and record, or the error, and the warnings."""
    used = []
    original = GaussianMixture._em_stand_in

    def stand_in_or_worker(self, worker, source):
        chosen = original(self, worker, source) if stand_in else worker
        used.append(isinstance(chosen, GaussianArrays))
        return chosen

    monkeypatch.setattr(GaussianMixture, "_em_stand_in", stand_in_or_worker)
    model = GaussianMixture(**kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(X, sample_weight=sample_weight)
            if warm is not None:
                model.set_params(warm_start=True, **warm)
                model.fit(X, sample_weight=sample_weight)
        except (ValueError, FloatingPointError) as exc:
            result = (type(exc), str(exc))
        else:
            result = (
                [getattr(model, name) for name in model._parameter_names],
                model.n_iter_, model.converged_, model.lower_bound_, model.lower_bounds_,
            )
    monkeypatch.setattr(GaussianMixture, "_em_stand_in", original)
    return result, [(w.category, str(w.message)) for w in caught], used


def _assert_same(X, monkeypatch, **kwargs):
    arrays, arrays_warnings, used = _outcome(X, True, monkeypatch, **kwargs)
    model, model_warnings, unused = _outcome(X, False, monkeypatch, **kwargs)
    assert used and all(used), "the fit did not run on the stand-in"
    assert not any(unused)
    assert arrays_warnings == model_warnings
    assert type(arrays) is type(model)
    if isinstance(model, tuple) and isinstance(model[0], type):  # an error
        assert arrays == model
        return
    for a, b in zip(arrays[0], model[0]):
        assert a.dtype == b.dtype
        assert_array_equal(a, b, strict=True)
    assert arrays[1:] == model[1:]


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("data", list(DATA))
def test_a_run_on_the_stand_in_is_bitwise_the_run_on_the_estimator(monkeypatch, covariance_type, data):
    X = DATA[data]()
    n_components = 2 if data == "few points" else 4
    _assert_same(X, monkeypatch, n_components=n_components, covariance_type=covariance_type, random_state=0)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_components=3, n_init=3, init_params="k-means++", random_state=1),
        dict(n_components=3, init_params="random", random_state=2),
        dict(n_components=3, accelerate=False, random_state=0),
        dict(n_components=3, max_iter=4, random_state=0),
        dict(n_components=3, tol=1e-3, random_state=0),
        dict(n_components=5, tol=1e-12, max_iter=400, random_state=0),
        dict(n_components=3, reg_covar=0.0, random_state=0),
        dict(n_components=3, reg_covar=1e-2, covariance_type="tied", random_state=0),
    ],
)
@pytest.mark.parametrize("data", ["faithful", "rounded", "one blob"])
def test_settings_keep_the_runs_bitwise_the_same(monkeypatch, kwargs, data):
    _assert_same(DATA[data](), monkeypatch, **kwargs)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_sample_weights_and_warm_starts_keep_the_runs_bitwise_the_same(monkeypatch, covariance_type):
    X = _blobs(4, n=500, d=2)
    weights = np.random.default_rng(5).uniform(0, 3, len(X))
    weights[::7] = 0.0
    _assert_same(X, monkeypatch, sample_weight=weights, n_components=3,
                 covariance_type=covariance_type, random_state=0)
    # weights far from 1: the kernel's statistics are scaled and scaled back
    _assert_same(X, monkeypatch, sample_weight=weights * 1e30, n_components=3,
                 covariance_type=covariance_type, random_state=0)
    _assert_same(X, monkeypatch, n_components=3, covariance_type=covariance_type,
                 max_iter=3, random_state=0, warm={"max_iter": 50})


@pytest.mark.parametrize("seed, covariance_type", [(0, "diag"), (1, "full"), (1, "spherical")])
def test_the_acceleration_s_safeguards_run_as_the_estimator_s(monkeypatch, seed, covariance_type):
    """With a large reg_covar on discrete data, extrapolated points fall outside the
    M-step's image (a variance below reg_covar) and are refused: where the stand-in
    refused none, these fits took other passes."""
    _assert_same(_rounded(seed), monkeypatch, n_components=4, covariance_type=covariance_type,
                 reg_covar=0.1, random_state=seed)


@pytest.mark.parametrize("layout", ["memmap", "dataframe", "fortran", "strided", "integers"])
def test_inputs_of_every_layout_keep_the_runs_bitwise_the_same(monkeypatch, tmp_path, layout):
    X = _blobs(9, n=400, d=3)
    if layout == "memmap":
        np.save(tmp_path / "X.npy", X)
        X = np.load(tmp_path / "X.npy", mmap_mode="r")
    elif layout == "dataframe":
        X = pytest.importorskip("pandas").DataFrame(X, columns=["a", "b", "c"])
    elif layout == "fortran":
        X = np.asfortranarray(X)
    elif layout == "strided":
        X = np.repeat(X, 2, axis=0)[::2]
    else:
        X = np.round(X * 10).astype(np.int64)
    _assert_same(X, monkeypatch, n_components=3, random_state=0)


@pytest.mark.parametrize(
    "name, bad",
    [
        ("precisions_cholesky_", lambda v: -v),  # a negative diagonal
        ("weights_", lambda v: v * 2.0),  # off the simplex
        ("means_", lambda v: np.full_like(v, np.nan)),
    ],
)
def test_bad_parameters_a_warm_start_begins_from_give_the_estimator_s_errors(monkeypatch, name, bad):
    """The checks of a run's first point are the estimator's, with its messages."""
    X = _blobs(10, n=300, d=2)
    outcomes = []
    for stand_in in (True, False):
        model = GaussianMixture(2, covariance_type="full", random_state=0).fit(X)
        setattr(model, name, bad(getattr(model, name)))
        model.set_params(warm_start=True)
        if not stand_in:
            monkeypatch.setattr(GaussianMixture, "_em_stand_in", lambda self, worker, source: worker)
        with pytest.raises(ValueError) as info:
            model.fit(X)
        monkeypatch.undo()
        outcomes.append(str(info.value))
    assert outcomes[0] == outcomes[1]


def test_select_n_components_chooses_and_fits_alike_with_and_without_progress():
    """progress sets a callback, which keeps the estimator's run: the same models."""
    from fastem import select_n_components

    quiet = select_n_components(FAITHFUL, range(1, 5), n_init=2, random_state=0)
    shown = select_n_components(FAITHFUL, range(1, 5), n_init=2, random_state=0, progress=lambda info: None)
    assert quiet.best_params_ == shown.best_params_
    for key, model in quiet.models_.items():
        other = shown.models_[key]
        for name in model._parameter_names:
            assert_array_equal(getattr(model, name), getattr(other, name), strict=True)
        assert model.n_iter_ == other.n_iter_


def test_errors_of_a_run_are_those_of_the_estimator(monkeypatch):
    """A covariance that becomes ill-defined without regularisation raises the same error.

    One k-means++ start, whose error propagates (restarts, and the default start's
    candidates, pass over a run that fails)."""
    X = np.repeat(_blobs(6, n=40, d=2, k=2), 5, axis=0)
    X[:100] = X[0]  # a component can collapse onto one point
    kwargs = dict(n_components=3, reg_covar=0.0, random_state=0, init_params="k-means++")
    outcome, _, used = _outcome(X, True, monkeypatch, **kwargs)
    assert all(used)
    assert outcome[0] is ValueError and "ill-defined empirical covariance" in outcome[1]
    _assert_same(X, monkeypatch, **kwargs)


def test_the_stand_in_is_taken_only_where_it_runs_as_the_estimator_does():
    """float64 data in memory, complete, no callback (which is handed the working copy)."""
    X = _blobs(7, n=200, d=2)
    model = GaussianMixture(2, random_state=0).fit(X)

    def taken(estimator, data):
        source = estimator._validate_data(data, None, reset=False, statistics=True)
        return isinstance(estimator._em_stand_in(estimator, source), GaussianArrays)

    assert taken(model, X)
    assert not taken(model, X.astype(np.float32))
    assert not taken(model, Chunks([X[:100], X[100:]]))
    assert not taken(GaussianMixture(2, random_state=0, callback=lambda *a: None).fit(X), X)
    assert not taken(GaussianMixture(2, random_state=0, missing="em").fit(X), X)

    class Plain(GaussianMixture):
        pass

    class OwnMStep(GaussianMixture):
        def _m_step_family(self, stats):
            super()._m_step_family(stats)

    class MoreParameters(GaussianMixture):
        _parameter_names = GaussianMixture._parameter_names + ("data_mean_",)

    class BoundByName(GaussianMixture):
        def _lower_bound(self, stats, before):
            return stats.mean_log_likelihood + 0.0 * float(np.sum(before["weights_"]))

    class Ridge(GaussianMixture):
        _regularization_name = "the ridge"

    assert taken(Plain(2, random_state=0).fit(X), X)
    # a hook or attribute the stand-in reproduces, overridden or replaced: the
    # estimator's own run
    source = model._validate_data(X, None, reset=False, statistics=True)
    for cls in (OwnMStep, MoreParameters, BoundByName, Ridge):
        worker = cls(2, random_state=0)
        assert worker._em_stand_in(worker, source) is worker, cls.__name__


def test_a_replaced_hook_is_honoured(monkeypatch):
    X = _blobs(8, n=200, d=2)
    model = GaussianMixture(2, random_state=0).fit(X)
    source = model._validate_data(X, None, reset=False, statistics=True)
    monkeypatch.setattr(model, "_m_step_family", lambda stats: None)  # on the instance
    assert model._em_stand_in(model, source) is model
    monkeypatch.delattr(model, "_m_step_family")
    assert isinstance(model._em_stand_in(model, source), GaussianArrays)
    monkeypatch.setattr(GaussianMixture, "_in_m_step_image", lambda self, stats: True)
    assert model._em_stand_in(model, source) is model


def _kernel_inputs(X, n_components, covariance_type):
    """The E-step's kernel parameters, sizes, cached kernels and log-weights of a model
    fitted to ``X`` for 2 passes."""
    from fastem.kernels import registered_families

    model = GaussianMixture(n_components, covariance_type=covariance_type, max_iter=2,
                            random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    params = model._kernel_params(np.float64)
    sizes = (*model._n_stats(X.shape[1]), model._work_rows(X.shape[1]))
    return params, sizes, registered_families()[type(params)], np.log(model.weights_)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("n", [272, 20_000])  # one serial call; parallel partitions
def test_the_run_s_e_step_is_launch_e_step_pass_after_pass(covariance_type, n):
    """RunEStep, which checks the arguments in full and allocates its scratch at the first
    pass only, gives bitwise launch_e_step's statistics at every pass, and its errors."""
    from fastem.base import RunEStep, launch_e_step

    X = np.ascontiguousarray(np.resize(FAITHFUL, (n, 2)))
    params, sizes, cached, log_weights = _kernel_inputs(X, 4, covariance_type)
    run_e_step = RunEStep(cached, *sizes)
    rng = np.random.default_rng(0)
    for _ in range(3):  # other values each pass, in the same scratch
        moved = params._replace(means=params.means + rng.normal(size=params.means.shape))
        expected = launch_e_step(X, np.empty(0), log_weights, moved, cached, *sizes, True)
        assert_array_equal(run_e_step(X, np.empty(0), log_weights, moved), expected, strict=True)
    for bad, nan_weight in ((np.inf, False), (np.nan, False), (0.0, True)):
        means = params.means.copy()
        means[1, 0] += bad
        weights = np.where(np.arange(4) == 2, np.nan, log_weights) if nan_weight else log_weights
        errors = []
        for e_step in (run_e_step, lambda *args: launch_e_step(*args, cached, *sizes, True)):
            with pytest.raises(ValueError) as info:
                e_step(X, np.empty(0), weights, params._replace(means=means))
            errors.append(str(info.value))
        assert errors[0] == errors[1]


def test_the_run_s_e_step_tests_the_fields_not_made_finite():
    """RunEStep(made_finite=...) leaves those fields (and the log-weights) to the caller at
    the later passes, and still gives launch_e_step's error for a field it tests; its
    first pass checks everything. The stand-in tests the 'tied' shift and mapped means."""
    from fastem.base import RunEStep, launch_e_step

    X = np.ascontiguousarray(FAITHFUL)
    params, sizes, cached, log_weights = _kernel_inputs(X, 3, "tied")
    bad = params.mapped_means.copy()
    bad[0, 0] = np.inf
    with pytest.raises(ValueError) as info:
        launch_e_step(X, np.empty(0), log_weights, params._replace(mapped_means=bad), cached,
                      *sizes, True)
    expected = str(info.value)
    made_finite = ("log_weights", "means", "precisions_cholesky", "log_norm")
    first = RunEStep(cached, *sizes, made_finite=made_finite)
    with pytest.raises(ValueError, match="means"):  # the first pass checks every field
        first(X, np.empty(0), log_weights, params._replace(means=params.means + np.nan))
    run_e_step = RunEStep(cached, *sizes, made_finite=made_finite)
    assert_array_equal(
        run_e_step(X, np.empty(0), log_weights, params),
        launch_e_step(X, np.empty(0), log_weights, params, cached, *sizes, True), strict=True,
    )
    with pytest.raises(ValueError) as info:
        run_e_step(X, np.empty(0), log_weights, params._replace(mapped_means=bad))
    assert str(info.value) == expected
