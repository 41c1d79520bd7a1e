"""Exponential and Poisson mixtures on data with missing entries (NaN), against NumPy references."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import special

from fastem import Chunks, ConvergenceWarning, ExponentialMixture, PoissonMixture
from impute_checks import assert_draws_independent_of_the_data_path
from reference import (
    assert_marginal_predictions,
    log_resp_and_norm,
)

FAMILIES = ("exponential", "poisson")
_CLASS = {"exponential": ExponentialMixture, "poisson": PoissonMixture}
_MEAN = {"exponential": "scales_", "poisson": "rates_"}
_INIT = {"exponential": "scales_init", "poisson": "rates_init"}
_START_WEIGHTS = np.array([0.3, 0.3, 0.4])
_START_MEANS = np.array([[1.0, 4.0, 2.0], [6.0, 1.5, 8.0], [15.0, 10.0, 3.0]])


# -- the reference, from the formulas ------------------------------------------


def marginal_log_prob(X, means, family):
    """log p(x_O | k): the sum over the observed coordinates of each feature's log-density.

    Exponential with mean ``s``: ``-log s - x / s``; Poisson with rate ``l``:
    ``x log l - l - log x!``. A missing coordinate adds nothing (the features are
    independent given the component). Returns (n_samples, n_components).
    """
    X = np.asarray(X, dtype=np.float64)
    observed = ~np.isnan(X)
    x = np.where(observed, X, 0.0)[:, None, :]
    m = np.asarray(means, dtype=np.float64)[None]
    if family == "exponential":
        terms = -np.log(m) - x / m
    else:
        terms = x * np.log(m) - m - special.gammaln(x + 1)
    return np.where(observed[:, None, :], terms, 0.0).sum(axis=2)


def missing_em_step(X, weights, means, family, sample_weight=None):
    """One EM iteration on incomplete data (Little & Rubin, ch. 8 and 11).

    E-step: ``R_ik`` from the marginals over the observed coordinates, times
    the sample weight. M-step: ``weights = sum_i R_ik / sum R``, and for each
    feature the responsibility-weighted mean of its observed values,
    ``mean_kd = sum_{i: d observed} R_ik x_id / sum_{i: d observed} R_ik``.
    Returns (weights, means, mean log-likelihood under the parameters given).
    """
    w = np.ones(len(X)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    log_resp, norm = log_resp_and_norm(marginal_log_prob(X, means, family), weights)
    R = w[:, None] * np.exp(log_resp)
    observed = ~np.isnan(X)
    sx = R.T @ np.where(observed, X, 0.0)
    observed_nk = R.T @ observed.astype(np.float64)
    nk = R.sum(axis=0)
    return nk / nk.sum(), sx / observed_nk, float(w @ norm / w.sum())


def reference_steps(X, family, n_iter, sample_weight=None):
    weights, means, history = _START_WEIGHTS, _START_MEANS, []
    for _ in range(n_iter):
        weights, means, mean_ll = missing_em_step(X, weights, means, family, sample_weight)
        history.append(mean_ll)
    return weights, means, history


# -- the data and the fits -------------------------------------------------------


def _data(family, seed=0, n=300, missing=0.25):
    """Three components with entries missing completely at random (no empty row)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 3, n)
    means = np.array([[0.5, 5.0, 2.0], [5.0, 1.0, 10.0], [20.0, 12.0, 4.0]])[labels]
    X = rng.exponential(means) if family == "exponential" else rng.poisson(means).astype(float)
    mask = rng.random(X.shape) < missing
    mask[mask.all(axis=1), 0] = False
    X[mask] = np.nan
    return X, rng.uniform(0.2, 3.0, n)


def _model(family, n_iter, **kw):
    return _CLASS[family](
        3, weights_init=_START_WEIGHTS, **{_INIT[family]: _START_MEANS}, max_iter=n_iter,
        tol=0.0, accelerate=False, missing="em", **kw,
    )


def _fit_steps(X, family, n_iter, sample_weight=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return _model(family, n_iter, **kw).fit(X, sample_weight=sample_weight)


def _means(model):
    return getattr(model, _MEAN["poisson" if isinstance(model, PoissonMixture) else "exponential"])


# -- EM --------------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("family", FAMILIES)
def test_em_steps_equal_the_reference(family, weighted):
    X, w = _data(family)
    sample_weight = w if weighted else None
    model = _fit_steps(X, family, 20, sample_weight)
    weights, means, history = reference_steps(X, family, 20, sample_weight)
    assert model.n_iter_ == 20
    assert_allclose(model.weights_, weights, rtol=1e-10)
    assert_allclose(_means(model), means, rtol=1e-10)
    assert_allclose(model.lower_bound_, history[-1], rtol=1e-10)
    assert np.all(np.diff(history) >= -1e-12)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_m_step_divides_by_the_observed_responsibility_mass(family):
    """sx sums the observed entries; observed_nk their responsibilities, per feature."""
    X, w = _data(family, seed=1)
    model = _fit_steps(X, family, 2, w)
    stats = model.summarize(X, sample_weight=w)
    log_resp, _ = log_resp_and_norm(marginal_log_prob(X, _means(model), family), model.weights_)
    R = w[:, None] * np.exp(log_resp)
    observed = ~np.isnan(X)
    assert_allclose(stats.nk, R.sum(axis=0), rtol=1e-12)
    assert_allclose(stats.moments["sx"], R.T @ np.where(observed, X, 0.0), rtol=1e-12)
    assert_allclose(stats.moments["observed_nk"], R.T @ observed, rtol=1e-12)
    stepped = model.m_step(stats)
    assert_allclose(_means(stepped), stats.moments["sx"] / stats.moments["observed_nk"], rtol=1e-12)


@pytest.mark.parametrize("family", FAMILIES)
def test_float32_em_steps_follow_the_reference(family):
    X, w = _data(family, seed=2)
    model = _fit_steps(X.astype(np.float32), family, 5, w)
    _, means, _ = reference_steps(X.astype(np.float32).astype(np.float64), family, 5, w)
    assert _means(model).dtype == np.float32
    assert_allclose(_means(model), means, rtol=2e-4)


@pytest.mark.parametrize("family", FAMILIES)
def test_without_nan_missing_em_equals_the_complete_data_fit(family):
    X, w = _data(family, missing=0.0)
    plain = _CLASS[family](3, random_state=0).fit(X, sample_weight=w)
    missing = _CLASS[family](3, random_state=0, missing="em").fit(X, sample_weight=w)
    assert plain.n_iter_ == missing.n_iter_
    assert_allclose(missing.weights_, plain.weights_, rtol=1e-13)
    assert_allclose(_means(missing), _means(plain), rtol=1e-13)
    assert missing.lower_bound_ == pytest.approx(plain.lower_bound_, rel=1e-14)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    fraction=st.floats(0.05, 0.6),
    family=st.sampled_from(FAMILIES),
)
def test_log_likelihood_never_decreases_on_incomplete_data(seed, fraction, family):
    X, w = _data(family, seed=seed, n=150, missing=fraction)
    trace = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        _model(family, 15, callback=lambda m, it, lb: trace.append(lb)).fit(X, sample_weight=w)
    assert np.all(np.diff(trace) >= -1e-10 * np.abs(trace[:-1]).max())


# -- data paths --------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_every_data_path_gives_the_in_memory_fit(family, tmp_path):
    X, w = _data(family, n=900, missing=0.3)
    memory = _fit_steps(X, family, 10, w)
    parts = np.array_split(np.arange(len(X)), 4)
    np.save(tmp_path / "X.npy", X)
    fits = {
        "chunks": _fit_steps(Chunks([X[p] for p in parts], sample_weights=[w[p] for p in parts]),
                             family, 10),
        "memmap": _fit_steps(np.load(tmp_path / "X.npy", mmap_mode="r"), family, 10, w),
        "npy chunks": _fit_steps(Chunks([tmp_path / "X.npy"], sample_weights=[w]), family, 10),
    }
    da = pytest.importorskip("dask.array")
    fits["dask"] = _fit_steps(da.from_array(X, chunks=250), family, 10, da.from_array(w, chunks=250))
    for path, model in fits.items():
        assert_allclose(model.weights_, memory.weights_, rtol=1e-10, err_msg=path)
        assert_allclose(_means(model), _means(memory), rtol=1e-10, err_msg=path)


@pytest.mark.parametrize("family", FAMILIES)
def test_partial_fit_on_incomplete_batches_is_online_em(family):
    """Each step against the formulas: running statistics per unit weight,
    moved by eta_t = (t + step_offset) ** -step_exponent, then the M-step."""
    X, w = _data(family, n=600, missing=0.3)
    batches = np.array_split(np.arange(len(X)), 4)
    model = _model(family, 1, step_exponent=0.6, step_offset=1.5)
    for rows in batches:
        model.partial_fit(X[rows], sample_weight=w[rows])
    weights, means, running = _START_WEIGHTS, _START_MEANS, None
    for t, rows in enumerate(batches):
        x, v = X[rows], w[rows]
        log_resp, _ = log_resp_and_norm(marginal_log_prob(x, means, family), weights)
        R = v[:, None] * np.exp(log_resp) / v.sum()
        observed = ~np.isnan(x)
        batch = [R.sum(axis=0), R.T @ np.where(observed, x, 0.0), R.T @ observed]
        if running is None:
            running = batch
        else:
            eta = (t + 1.5) ** -0.6
            running = [(1 - eta) * a + eta * b for a, b in zip(running, batch)]
        weights, means = running[0] / running[0].sum(), running[1] / running[2]
    assert_allclose(model.weights_, weights, rtol=1e-10)
    assert_allclose(_means(model), means, rtol=1e-10)


# -- prediction and imputation ----------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_predictions_use_the_marginal_of_the_observed_coordinates(family):
    X, _ = _data(family, seed=3)
    model = _fit_steps(X, family, 3)
    X[5] = np.nan  # prediction accepts a row with nothing observed
    assert_marginal_predictions(model, X, marginal_log_prob(X, _means(model), family), empty_row=5)


@pytest.mark.parametrize("family", FAMILIES)
def test_impute_gives_the_conditional_expectation_under_the_mixture(family):
    X, _ = _data(family, seed=4)
    model = _fit_steps(X, family, 3)
    X[4] = np.nan
    log_resp, _ = log_resp_and_norm(marginal_log_prob(X, _means(model), family), model.weights_)
    expected = np.where(np.isnan(X), np.exp(log_resp) @ _means(model), X)
    filled = model.impute(X)
    assert_allclose(filled, expected, rtol=1e-10)
    observed = ~np.isnan(X)
    assert np.array_equal(filled[observed], X[observed])
    assert np.isnan(X).sum() > 0  # the input is left alone
    # the missing entries as 1, not 0: an exponential component on zeros sits at the
    # min_scale floor, and the fit warns of it
    complete = _CLASS[family](3, random_state=0).fit(np.nan_to_num(X, nan=1.0))
    assert np.isfinite(complete.impute(X)).all()  # a model fitted without missing='em'


@pytest.mark.parametrize("family", FAMILIES)
def test_impute_draws_from_the_conditional_distribution(family):
    """Many draws of one row: the components in the proportions p(k | x_O), each
    missing feature from that component's distribution."""
    X, _ = _data(family, seed=5)
    model = _fit_steps(X, family, 3)
    row = np.array([[np.nan, 4.0, np.nan]])
    resp = model.predict_proba(row)[0]
    means = _means(model)
    draws = model.impute(np.repeat(row, 40000, axis=0), draw=True, random_state=0)
    assert np.all(draws[:, 1] == 4.0)
    expected_mean = resp @ means
    # per component: exponential variance s^2, Poisson variance l; plus the spread of the means
    variance = means**2 if family == "exponential" else means
    expected_var = resp @ (variance + means**2) - expected_mean**2
    for d in (0, 2):
        assert draws[:, d].mean() == pytest.approx(expected_mean[d], rel=0.03)
        assert draws[:, d].var() == pytest.approx(expected_var[d], rel=0.06)
    if family == "poisson":
        assert np.array_equal(draws, np.rint(draws))
    again = model.impute(np.repeat(row, 40000, axis=0), draw=True, random_state=0)
    assert np.array_equal(draws, again)


@pytest.mark.parametrize("family", FAMILIES)
def test_impute_draws_depend_on_the_seed_and_the_row_only(family, tmp_path):
    X, _ = _data(family, seed=8)
    assert_draws_independent_of_the_data_path(_fit_steps(X, family, 3), X, tmp_path)


@pytest.mark.parametrize("family", FAMILIES)
def test_impute_writes_out_of_core_and_takes_chunks(family, tmp_path):
    X, _ = _data(family, seed=6)
    model = _fit_steps(X, family, 3)
    out = np.lib.format.open_memmap(tmp_path / "out.npy", mode="w+", dtype=np.float64, shape=X.shape)
    model.impute(X, out=out)
    assert np.array_equal(np.asarray(out), model.impute(X))
    chunks = model.impute(Chunks([X[:100], X[100:]]))
    assert np.array_equal(np.concatenate(chunks), model.impute(X))


# -- what is refused ------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_rows_or_features_with_nothing_observed_are_refused(family):
    X, _ = _data(family)
    X[7] = np.nan
    with pytest.raises(ValueError, match="1 row.*every entry is missing"):
        _CLASS[family](3, missing="em").fit(X)
    X, _ = _data(family)
    X[:, 2] = np.nan
    with pytest.raises(ValueError, match="feature 2 has no observed value"):
        _CLASS[family](3, missing="em").fit(X[~np.isnan(X).all(axis=1)])


@pytest.mark.parametrize("family", FAMILIES)
def test_the_domain_is_checked_on_the_observed_entries(family):
    X, _ = _data(family)
    bad = X.copy()
    bad[3, 0] = -1.0
    with pytest.raises(ValueError, match="Negative values.*smallest is -1"):
        _CLASS[family](3, missing="em").fit(bad)
    if family == "poisson":
        bad = X.copy()
        bad[3, 0] = 2.5
        with pytest.raises(ValueError, match="1 value.*not whole numbers.*X\\[3, 0\\] = 2.5"):
            PoissonMixture(3, missing="em").fit(bad)


def test_cli_fits_and_imputes_counts_with_missing_values(tmp_path, capsys):
    from fastem import load
    from fastem.cli import main

    X, _ = _data("poisson", seed=7)
    with open(tmp_path / "counts.csv", "w") as f:
        f.write("a,b,c\n")
        for row in X:
            f.write(",".join("" if v != v else str(int(v)) for v in row) + "\n")
    data, model_path = str(tmp_path / "counts.csv"), str(tmp_path / "model.npz")
    assert main(["fit", data, "-k", "3", "--family", "poisson", "--missing", "em", "--seed", "0",
                 "-o", model_path]) == 0
    model = load(model_path)
    assert isinstance(model, PoissonMixture) and model.missing == "em"
    python = PoissonMixture(3, missing="em", random_state=0).fit(X)
    assert_allclose(model.rates_, python.rates_, rtol=1e-12)
    out = str(tmp_path / "filled.csv")
    assert main(["impute", model_path, data, "-o", out]) == 0
    del model.feature_names_in_  # compared with an array of the same columns
    assert_allclose(np.loadtxt(out, delimiter=",", skiprows=1), model.impute(X), rtol=1e-12)
