"""Online (stepwise) EM: partial_fit and the re-centring of Gaussian statistics."""

import copy
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastem
from fastem import ConvergenceWarning, GaussianMixture, RegularizationWarning

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
MEANS = np.array([[0.0, 0.0], [4.0, 4.0], [-4.0, 4.0]])


def batches(n_batches, size, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n_batches):
        labels = rng.choice(3, size, p=[0.5, 0.3, 0.2])
        yield MEANS[labels] + rng.normal(size=(size, 2)) * 0.8


def sorted_means(model):
    return model.means_[np.argsort(model.means_[:, 0])]


def test_partial_fit_on_a_stream_recovers_the_means():
    model = GaussianMixture(3, random_state=0)
    for batch in batches(1000, 100):
        model.partial_fit(batch)
    assert model.n_steps_ == 999
    assert_allclose(sorted_means(model), MEANS[[2, 0, 1]], atol=0.05)
    assert_allclose(np.sort(model.weights_), [0.2, 0.3, 0.5], atol=0.03)


def test_one_step_follows_the_schedule():
    first, second = batches(2, 500, seed=1)
    model = GaussianMixture(3, random_state=0, step_exponent=0.6, step_offset=1.5)
    model.partial_fit(first)
    running = model._running_stats
    expected = copy.deepcopy(model)
    batch = expected.summarize(second)
    batch = batch.scaled(1 / batch.n_samples)
    eta = (1 + 1.5) ** -0.6
    expected.m_step(model._recentre(running, batch.reference).scaled(1 - eta) + batch.scaled(eta))
    model.partial_fit(second)
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(getattr(model, name), getattr(expected, name), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_recentre_matches_moments_taken_around_the_new_shift(covariance_type):
    X = next(batches(1, 400, seed=2)) + 30.0
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0, max_iter=5, tol=0)
    with pytest.warns(ConvergenceWarning):
        model.fit(X)
    stats = model.summarize(X)
    resp = model.predict_proba(X)
    rng = np.random.default_rng(3)
    new_shift = model.means_ + rng.normal(scale=5.0, size=(3, 2))
    reference = {"shift": new_shift}
    got = model._recentre(stats, reference)

    d = X[:, None, :] - new_shift[None]  # (n, K, D)
    sx = np.einsum("nk,nkd->kd", resp, d)
    outer = np.einsum("nk,nki,nkj->kij", resp, d, d)
    if covariance_type == "tied":  # the within scatter around the new shift, whole
        sxx = np.tril(outer.sum(axis=0))
        assert not got.moments["pairs"].any()
    else:
        sxx = {
            "full": np.tril(outer),
            "diag": np.einsum("kii->ki", outer),
            "spherical": np.einsum("kii->ki", outer),
        }[covariance_type]
    assert got.reference["shift"] is new_shift
    assert_allclose(got.moments["sx"], sx, rtol=1e-9, atol=1e-9)
    lower = np.tril(got.moments["sxx"]) if covariance_type in ("full", "tied") else got.moments["sxx"]
    assert_allclose(lower, sxx, rtol=1e-9, atol=1e-8)
    # the M-step does not depend on the frame the statistics are taken in
    a, b = copy.deepcopy(model).m_step(stats), copy.deepcopy(model).m_step(got)
    assert_allclose(a.means_, b.means_, rtol=1e-10)
    assert_allclose(a.covariances_, b.covariances_, rtol=1e-8)


def test_partial_fit_after_fit_starts_from_the_fitted_model():
    X = np.concatenate(list(batches(20, 500, seed=4)))
    model = GaussianMixture(3, random_state=0).fit(X)
    means = model.means_.copy()
    model.partial_fit(X[:2000])
    assert model.n_steps_ == 1  # the fit counts as the stream's first step
    assert_allclose(model.means_, means, atol=0.1)


def _fitted(family, covariance_type, missing, seed=0):
    rng = np.random.default_rng(seed)
    if family == "gaussian":
        X = np.concatenate(list(batches(4, 500, seed=seed)))
        model = GaussianMixture(3, covariance_type=covariance_type, missing=missing, random_state=0)
    else:
        scales = np.array([[0.5, 2.0], [5.0, 1.0], [20.0, 8.0]])[rng.choice(3, 2000)]
        X = rng.exponential(scales) if family == "exponential" else rng.poisson(scales).astype(float)
        cls = fastem.ExponentialMixture if family == "exponential" else fastem.PoissonMixture
        model = cls(3, missing=missing, random_state=0)
    if missing == "em":
        X[rng.random(X.shape) < 0.15] = np.nan
        X = X[~np.isnan(X).all(axis=1)]
    return model.fit(X), X


FAMILIES = [("gaussian", ct) for ct in COVARIANCE_TYPES] + [("exponential", None), ("poisson", None)]


@pytest.mark.parametrize("missing", ["error", "em"])
@pytest.mark.parametrize("family, covariance_type", FAMILIES)
def test_the_statistics_of_the_parameters_give_them_back(family, covariance_type, missing):
    model, _ = _fitted(family, covariance_type, missing)
    stats = model._statistics_of_parameters()
    assert stats.n_samples == 1.0
    again = copy.deepcopy(model).m_step(stats)
    for name in model._parameter_names:
        assert_allclose(getattr(again, name), getattr(model, name), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("missing", ["error", "em"])
@pytest.mark.parametrize("family, covariance_type", FAMILIES)
@pytest.mark.parametrize("how", ["fit", "load", "assigned"])
def test_a_model_with_parameters_is_the_first_step_of_its_stream(
    tmp_path, family, covariance_type, missing, how
):
    """One batch moves a fitted model by eta_1 (Cappe & Moulines' step), never to the batch's own fit.

    Before, a model without running statistics took the batch's statistics
    alone: one batch from one cluster set the other components' weights to 0.
    """
    fitted, X = _fitted(family, covariance_type, missing)
    if how == "load":
        fitted.save(tmp_path / "m.npz")
        model = fastem.load(tmp_path / "m.npz")
    elif how == "assigned":
        model = type(fitted)(**fitted.get_params())
        for name in fitted._parameter_names:
            setattr(model, name, getattr(fitted, name))
        model.n_features_in_ = fitted.n_features_in_
    else:
        model = copy.deepcopy(fitted)
    batch = X[fitted.predict(X) == 0][:50]  # a batch from one component only
    start = fitted._statistics_of_parameters()
    expected = copy.deepcopy(fitted)
    stats = expected.summarize(batch)
    stats = stats.scaled(1 / stats.n_samples)
    eta = (1 + model.step_offset) ** -model.step_exponent
    expected.m_step(fitted._recentre(start, stats.reference).scaled(1 - eta) + stats.scaled(eta))

    model.partial_fit(batch)
    assert model.n_steps_ == 1 and model.n_iter_ == 2
    for name in model._parameter_names:
        assert_allclose(getattr(model, name), getattr(expected, name), rtol=1e-9, atol=1e-12)
    # the components the batch hardly reaches keep at least (1 - eta) of their weight
    assert (model.weights_[1:] >= (1 - eta) * fitted.weights_[1:] * (1 - 1e-9)).all()


@pytest.mark.parametrize("family", ["exponential", "poisson"])
def test_a_batch_without_a_feature_steps_a_fitted_model(family):
    """A batch in which a feature is never observed adds nothing to it (it used to be refused)."""
    model, X = _fitted(family, None, "em")
    before = getattr(model, model._mean_name).copy()
    batch = X[:200].copy()
    batch[:, 0] = np.nan
    batch = batch[~np.isnan(batch).all(axis=1)]
    model.partial_fit(batch)
    after = getattr(model, model._mean_name)
    assert np.isfinite(after).all()
    assert_allclose(after[:, 0], before[:, 0], rtol=1e-12)  # the running statistics of feature 0 keep


def test_a_family_that_cannot_give_its_statistics_warns_and_starts_from_the_batch():
    class Opaque(GaussianMixture):
        def _statistics_of_parameters(self):
            return None

    model = Opaque(3, random_state=0).fit(np.concatenate(list(batches(2, 300))))
    with pytest.warns(UserWarning, match="starts from the batch alone"):
        model.partial_fit(next(batches(1, 100, seed=9)))
    assert model.n_steps_ == 0


def test_partial_fit_checks():
    with pytest.raises(ValueError, match="step_exponent must be > 0.5"):
        GaussianMixture(2, step_exponent=0.5).partial_fit(np.ones((10, 2)))
    with pytest.raises(ValueError, match="step_offset must be >= 0"):
        GaussianMixture(2, step_offset=-1.0).partial_fit(np.ones((10, 2)))
    with pytest.raises(ValueError, match="needs at least n_components=3"):
        GaussianMixture(3).partial_fit(np.ones((2, 2)))
    model = GaussianMixture(2, random_state=0).partial_fit(next(batches(1, 50)))
    with pytest.raises(ValueError, match="X has 3 features"):
        model.partial_fit(np.ones((10, 3)))


@pytest.mark.parametrize("fitted_first", [False, True])
def test_partial_fit_sets_a_record_of_its_own_that_saves_and_loads(tmp_path, fitted_first):
    """A model stepped by partial_fit holds no attribute of an earlier fit, and saves."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (300, 2)), rng.normal(6, 1, (300, 2))])
    model = fastem.GaussianMixture(2, random_state=0)
    if fitted_first:
        model.fit(X)
    for batch in np.array_split(X[rng.permutation(len(X))], 3):
        model.partial_fit(batch)
    steps = 3 + fitted_first  # a fitted model is the stream's first step
    assert model.n_iter_ == model.n_steps_ + 1 == steps
    assert model.converged_ is False
    assert model.lower_bounds_ == [model.lower_bound_]
    model.save(tmp_path / "m.npz")
    loaded = fastem.load(tmp_path / "m.npz")
    assert (loaded.n_iter_, loaded.converged_, loaded.lower_bound_) == (steps, False, model.lower_bound_)
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))


@pytest.mark.parametrize("how", ["assigned", "m_step"])
def test_parameters_set_after_a_stream_start_the_next_step(how):
    """Parameters assigned (or set by a user's m_step) after partial_fit are the state of the
    next step: the stream's running statistics no longer pull the model back to the old stream."""
    X = np.concatenate(list(batches(4, 300, seed=6)))
    model = GaussianMixture(3, random_state=0).fit(X)
    model.partial_fit(X[:50])
    other = GaussianMixture(3, random_state=0).fit(X * 2 + 30)
    if how == "assigned":
        for name in other._parameter_names:
            setattr(model, name, getattr(other, name))
    else:
        model.m_step(other.summarize(X * 2 + 30))
    assert model._running_stats is None
    batch = X[300:350] * 2 + 30
    model.partial_fit(batch)
    assert model.n_steps_ == 1
    assert (model.means_ > 20).all()  # near the new parameters, not dragged back to the old stream


def test_the_first_step_reads_the_covariances_the_kernels_use():
    """An assigned covariances_ that disagrees with the precision factors does not start the step."""
    X = np.concatenate(list(batches(4, 300, seed=7)))
    fitted = GaussianMixture(3, random_state=0).fit(X)
    model = copy.deepcopy(fitted)
    model.covariances_ = fitted.covariances_ * 100
    stats = model._statistics_of_parameters()
    again = copy.deepcopy(fitted).m_step(stats)
    assert_allclose(again.covariances_, fitted.covariances_, rtol=1e-10)


def _smallest_variances(model):
    covariances = np.asarray(model.covariances_, dtype=np.float64)
    if model.covariance_type in ("full", "tied"):
        return np.linalg.eigvalsh(covariances.reshape(-1, 2, 2)).min()
    return covariances.min()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("how", ["set_params", "assigned", "loaded", "assigned covariances"])
def test_a_reg_covar_changed_after_the_fit_applies_to_the_next_step(
    covariance_type, how, tmp_path
):
    """The statistics of the fitted parameters take out the reg_covar they were fitted with
    (recorded with them, and read back from a model file), not the current one: raised to
    10 after a fit of unit spread, the next step's variances are at least 10 and keep the
    fitted spread (they were 5.6, the fitted spread less 10 counted as data). Covariances
    assigned smaller than the regularisation taken out give no negative scatter."""
    X = next(batches(1, 2000))
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    with pytest.warns(RegularizationWarning, match="reg_covar=10 is at least a quarter"):
        reference = copy.deepcopy(model).set_params(reg_covar=10.0).partial_fit(X[:100])
    if how == "assigned":  # a parameter assigned again: the record stays
        model.means_ = model.means_.copy()
    elif how == "loaded":
        model.save(tmp_path / "m.npz")
        model = fastem.load(tmp_path / "m.npz")
    elif how == "assigned covariances":
        with pytest.warns(RegularizationWarning, match="reg_covar=0.5 is at least a quarter of"):
            wide = GaussianMixture(3, covariance_type=covariance_type, random_state=0,
                                   reg_covar=0.5).fit(X)
        for name in ("covariances_", "precisions_", "precisions_cholesky_"):
            setattr(model, name, getattr(wide, name))  # covariances of at least 0.5 ...
        model._fitted_settings = {"reg_covar": 0.9}  # ... taken for parameters fitted with 0.9
    model.set_params(reg_covar=10.0)
    with pytest.warns(RegularizationWarning, match="reg_covar=10 is at least a quarter"):
        model.partial_fit(X[:100])
    assert _smallest_variances(model) >= 10.0 * (1 - 1e-9)
    if how != "assigned covariances":  # the fitted spread (about 0.64) is kept, not taken away
        assert _smallest_variances(model) > 10.3
        assert_allclose(model.covariances_, reference.covariances_, rtol=1e-12)


_ENDS_OF_A_STREAM = {
    "fit": lambda model, X: model.fit(X),
    "warm start": lambda model, X: model.set_params(warm_start=True).fit(X),
    "assignment": lambda model, X: setattr(model, "weights_", model.weights_[::-1]),
    "m_step": lambda model, X: model.m_step(model.summarize(X)),
}


@pytest.mark.parametrize("end", list(_ENDS_OF_A_STREAM))
@pytest.mark.parametrize("family, covariance_type", FAMILIES)
def test_parameters_from_elsewhere_end_the_stream_and_its_count(
        family, covariance_type, end, tmp_path):
    """A fit, an assignment or an m_step after partial_fit discards the running statistics,
    and ``n_steps_`` with them: the model reads as one that never streamed, as its saved
    file does, and its next step is the first of a new stream. Before, ``n_steps_`` kept
    counting the discarded stream's steps (beside the record of a fit), and a save and
    load dropped it."""
    model, X = _fitted(family, covariance_type, "error")
    for batch in np.array_split(X, 3):
        model.partial_fit(batch)
    assert model.n_steps_ == 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _ENDS_OF_A_STREAM[end](model, X)
    assert model._running_stats is None
    assert not hasattr(model, "n_steps_")
    model.save(tmp_path / "m.npz")
    loaded = fastem.load(tmp_path / "m.npz")
    assert not hasattr(loaded, "n_steps_")
    for streamed in (model, loaded):
        streamed.partial_fit(X[:100])
        assert streamed.n_steps_ == 1 and streamed.n_iter_ == 2


@pytest.mark.parametrize("start, expected", [("unfitted", 1), ("fit", 0), ("assigned", 1)])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_stream_warns_of_its_regularization_once(covariance_type, start, expected):
    """A stream of partial_fit steps on data whose spread reg_covar swamps gives one
    RegularizationWarning, not one per step (each with its own figures, so that no filter
    folded them: 10 for 10 batches). A fit that warned counts as the stream's first step;
    parameters assigned start a new stream, which warns again."""
    X = np.concatenate(list(batches(4, 300))) * 1e-4
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    if start != "unfitted":
        with pytest.warns(RegularizationWarning):
            model.fit(X)
    if start == "assigned":
        model.means_ = model.means_ * 1.0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for batch in np.array_split(X, 10):
            model.partial_fit(batch)
    assert [w.category for w in caught] == [RegularizationWarning] * expected


@pytest.mark.parametrize("kind", ["array", "DataFrame", "Chunks", "CSV", "dask", "missing"])
def test_a_float64_batch_beyond_float32_names_its_value_for_a_float32_model(tmp_path, kind):
    """A float64 batch holding 1e39 for a float32 model overflowed its M-step, whose error
    said "too far apart for float32 arithmetic" without the value: it names the first
    value beyond float32's range, its place, and fitting in float64 or rescaling."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    batch = X.copy()
    batch[105, 1], batch[150, 0] = 1e39, -2e39
    missing = "em" if kind == "missing" else "error"
    model = fastem.GaussianMixture(2, random_state=0, missing=missing)
    named = kind in ("DataFrame", "CSV")
    model.fit(pd.DataFrame(X, columns=["a", "b"], dtype=np.float32) if named
              else X.astype(np.float32))
    place = r"X\[105, 1\] = 1e\+39"
    if kind == "DataFrame":
        batch = pd.DataFrame(batch, columns=["a", "b"])
    elif kind == "Chunks":
        batch, place = fastem.Chunks([batch[:100], batch[100:]]), r"X\[5, 1\] = 1e\+39"
    elif kind == "CSV":
        pd.DataFrame(batch[100:], columns=["a", "b"]).to_csv(tmp_path / "b.csv", index=False)
        batch = fastem.Chunks([str(tmp_path / "b.csv")])
        place = r"1e\+39 on line 7 \(data row 6\), column 2 \('b'\)"
    elif kind == "dask":
        da = pytest.importorskip("dask.array")
        batch = da.from_array(batch, chunks=70)
    before = model.means_.copy()
    with pytest.raises(ValueError, match=r"has 2 value\(s\) beyond the range of float32 "
                       rf"\(largest 3.4e\+38\).*the first {place}\. .*Fit the model in float64"):
        model.partial_fit(batch)
    np.testing.assert_array_equal(model.means_, before)


def test_a_float32_overflow_of_the_arithmetic_alone_keeps_the_m_step_error():
    X = np.random.default_rng(0).normal(size=(200, 2))
    model = fastem.GaussianMixture(2, random_state=0).fit(X.astype(np.float32))
    with pytest.raises(ValueError, match="too far apart for float32 arithmetic.*or fit in "
                       "float64"):
        model.partial_fit(X * 1e30)
