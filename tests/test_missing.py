"""Exact EM on data with missing entries (NaN), against the NumPy reference."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from fastem import Chunks, ConvergenceWarning, GaussianMixture
from fastem.kernels._tiles import regression_lanes
from impute_checks import assert_draws_independent_of_the_data_path
from reference import (
    assert_marginal_predictions,
    gaussian_marginal_log_prob,
    gaussian_missing_em_step,
    log_resp_and_norm,
    run_em,
)

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
LANES = regression_lanes()


def _data(seed=0, n=240, missing=0.25):
    """Three Gaussian clusters with entries missing completely at random (no empty row)."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [4.0, 1.0, -2.0], [-3.0, 3.0, 2.0]])
    labels = rng.integers(0, 3, n)
    mixing = rng.normal(size=(3, 3, 3)) * 0.4 + np.eye(3)
    X = centres[labels] + np.einsum("nij,nj->ni", mixing[labels], rng.normal(size=(n, 3)))
    mask = rng.random(X.shape) < missing
    mask[mask.all(axis=1), 0] = False
    X[mask] = np.nan
    return X, rng.uniform(0.2, 3.0, n)


def _start(covariance_type):
    weights = np.array([0.3, 0.3, 0.4])
    means = np.array([[0.5, 0.0, 0.2], [3.0, 1.5, -1.0], [-2.0, 2.0, 1.0]])
    full = np.stack([np.eye(3) * s + 0.3 * (1 - np.eye(3)) for s in (1.0, 1.5, 2.0)])
    covariances = {
        "full": full,
        "tied": full[1],
        "diag": np.stack([np.diag(c) for c in full]) * np.array([1.0, 1.2, 0.8]),
        "spherical": np.array([1.0, 1.5, 2.0]),
    }[covariance_type]
    if covariance_type in ("full", "tied"):
        precisions = np.linalg.inv(covariances)
    else:
        precisions = 1.0 / covariances
    return weights, means, covariances, precisions


def _fit_steps(X, covariance_type, n_iter, sample_weight=None, **kw):
    weights, means, _, precisions = _start(covariance_type)
    model = GaussianMixture(
        3, covariance_type=covariance_type, weights_init=weights, means_init=means,
        precisions_init=precisions, max_iter=n_iter, tol=0.0, accelerate=False, missing="em", **kw,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, sample_weight=sample_weight)


def _reference_steps(X, covariance_type, n_iter, sample_weight=None):
    weights, means, covariances, _ = _start(covariance_type)
    return run_em(
        gaussian_missing_em_step, X, {"weights": weights, "means": means, "covariances": covariances},
        n_iter, covariance_type=covariance_type, sample_weight=sample_weight,
    )


def test_nan_is_refused_by_default_with_the_option_named():
    X, _ = _data()
    with pytest.raises(ValueError, match=r"NaN or infinite.*missing='em'"):
        GaussianMixture(3).fit(X)


def test_missing_option_is_checked():
    X, _ = _data()
    with pytest.raises(ValueError, match="missing must be one of"):
        GaussianMixture(3, missing="drop").fit(X)


def test_infinities_are_refused_even_with_missing_em():
    X, _ = _data()
    X[3, 1] = np.inf
    with pytest.raises(ValueError, match="1 infinite value"):
        GaussianMixture(3, missing="em").fit(X)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_em_steps_equal_the_reference(covariance_type, weighted):
    X, w = _data()
    sample_weight = w if weighted else None
    n_iter = 20
    model = _fit_steps(X, covariance_type, n_iter, sample_weight)
    expected, history = _reference_steps(X, covariance_type, n_iter, sample_weight)
    assert model.n_iter_ == n_iter
    assert_allclose(model.weights_, expected["weights"], rtol=1e-10)
    assert_allclose(model.means_, expected["means"], rtol=1e-10, atol=1e-12)
    assert_allclose(model.covariances_, expected["covariances"], rtol=1e-10, atol=1e-12)
    assert_allclose(model.lower_bound_, history[-1], rtol=1e-10)
    assert np.all(np.diff(history) >= -1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_em_steps_follow_the_reference(covariance_type):
    X, w = _data(seed=1)
    model = _fit_steps(X.astype(np.float32), covariance_type, 5, w)
    expected, _ = _reference_steps(X.astype(np.float32).astype(np.float64), covariance_type, 5, w)
    assert model.means_.dtype == np.float32
    assert_allclose(model.means_, expected["means"], rtol=2e-4, atol=2e-4)
    assert_allclose(model.covariances_, expected["covariances"], rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_predictions_use_the_marginal_of_the_observed_coordinates(covariance_type):
    X, _ = _data(seed=2)
    X[5] = np.nan  # prediction accepts a row with nothing observed
    model = _fit_steps(X[:-1][~np.isnan(X[:-1]).all(axis=1)], covariance_type, 3)
    log_prob = gaussian_marginal_log_prob(X, model.means_, model.covariances_, covariance_type)
    assert_marginal_predictions(model, X, log_prob, empty_row=5)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_without_nan_missing_em_equals_the_complete_data_fit(covariance_type):
    X, w = _data(missing=0.0)
    kw = dict(covariance_type=covariance_type, random_state=0)
    plain = GaussianMixture(3, **kw).fit(X, sample_weight=w)
    missing = GaussianMixture(3, missing="em", **kw).fit(X, sample_weight=w)
    # Data without NaN take the complete-data kernel itself: bitwise.
    assert plain.n_iter_ == missing.n_iter_
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert_array_equal(getattr(missing, name), getattr(plain, name))
    assert missing.lower_bound_ == plain.lower_bound_


@pytest.mark.parametrize("n_init", [2, 3, 7])
def test_without_nan_missing_em_restarts_as_the_complete_data_fit(n_init):
    """The restarts draw on from the first start's candidates whatever the start from the
    mean-filled rows drew: iris, K=5, n_init=3 ended at -1.019 per sample with
    missing='em' against -0.354 without it."""
    from sklearn.datasets import load_iris

    X = load_iris().data
    plain = GaussianMixture(5, random_state=0, n_init=n_init).fit(X)
    missing = GaussianMixture(5, random_state=0, n_init=n_init, missing="em").fit(X)
    assert missing.lower_bound_ == plain.lower_bound_
    assert_array_equal(missing.means_, plain.means_)


def test_complete_rows_give_the_complete_data_statistics():
    """The incomplete rows' statistics are added, the complete rows' are today's."""
    X, _ = _data(n=600)
    complete = ~np.isnan(X).any(axis=1)
    model = _fit_steps(X, "full", 2)
    plain = GaussianMixture(3, max_iter=0).fit(X[complete])
    plain.set_params(missing="em")  # the same parameters, the kernel for data with NaN
    for name in ("weights_", "means_", "covariances_", "precisions_", "precisions_cholesky_"):
        setattr(plain, name, getattr(model, name))
    with_nan = plain.summarize(X[complete])
    plain.set_params(missing="error")
    without = plain.summarize(X[complete])
    # bitwise in a process of its own (see above); the last bits may differ
    assert_allclose(with_nan.nk, without.nk, rtol=1e-14)
    for key in without.moments:
        assert_allclose(with_nan.moments[key], without.moments[key], rtol=1e-13, atol=1e-12)


def test_rows_with_nothing_observed_are_refused_by_fit():
    X, _ = _data()
    X[7] = np.nan
    with pytest.raises(ValueError, match="1 row.*every entry is missing"):
        GaussianMixture(3, missing="em").fit(X)


def test_a_feature_with_no_observed_value_is_refused():
    X, _ = _data()
    X[:, 2] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    with pytest.raises(ValueError, match="feature 2 has no observed value"):
        GaussianMixture(3, missing="em").fit(X)
    pd = pytest.importorskip("pandas")  # a DataFrame's column is named, as in every message
    frame = pd.DataFrame(X, columns=["a", "b", "c", "d"][: X.shape[1]])
    with pytest.raises(ValueError, match="feature 'c' has no observed value"):
        GaussianMixture(3, missing="em").fit(frame)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_feature_observed_in_a_few_rows_only_starts_from_its_observed_mean(chunked):
    """The start's subsample may hold none of a rare feature's observed values: every seed fits."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (5000, 3)), rng.normal(5, 1, (5000, 3))])
    rare = rng.choice(len(X), 5, replace=False)
    X[np.setdiff1d(np.arange(len(X)), rare), 2] = np.nan
    data = Chunks([X[:4000], X[4000:]]) if chunked else X
    for seed in range(8):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            # a start without the rare values leaves a component none of them (said)
            warnings.filterwarnings("ignore", "With missing='em', components hold no "
                                    "observed value", UserWarning)
            model = GaussianMixture(2, missing="em", random_state=seed, max_iter=5).fit(data)
        assert np.isfinite(model.means_).all()


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag"])
def test_chunks_and_dask_give_the_in_memory_fit(covariance_type):
    X, w = _data(n=900, missing=0.3)
    memory = _fit_steps(X, covariance_type, 10, w)
    parts = np.array_split(np.arange(len(X)), 4)
    chunked = _fit_steps(
        Chunks([X[p] for p in parts], sample_weights=[w[p] for p in parts]), covariance_type, 10
    )
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(getattr(chunked, name), getattr(memory, name), rtol=1e-10, atol=1e-12)
    da = pytest.importorskip("dask.array")
    dask_fit = _fit_steps(da.from_array(X, chunks=250), covariance_type, 10, da.from_array(w, chunks=250))
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(getattr(dask_fit, name), getattr(memory, name), rtol=1e-10, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    fraction=st.floats(0.05, 0.6),
    covariance_type=st.sampled_from(COVARIANCE_TYPES),
)
def test_log_likelihood_never_decreases_on_incomplete_data(seed, fraction, covariance_type):
    X, w = _data(seed=seed, n=150, missing=fraction)
    trace = []
    weights, means, _, precisions = _start(covariance_type)
    model = GaussianMixture(
        3, covariance_type=covariance_type, weights_init=weights, means_init=means,
        precisions_init=precisions, max_iter=15, tol=0.0, accelerate=False, missing="em",
        reg_covar=0.0, callback=lambda m, it, lb: trace.append(lb),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, sample_weight=w)
    assert np.all(np.diff(trace) >= -1e-10 * np.abs(trace[:-1]).max())


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_impute_gives_the_conditional_expectation_under_the_mixture(covariance_type):
    X, _ = _data(seed=3)
    X[4] = np.nan
    model = _fit_steps(X[np.isfinite(X).any(axis=1)], covariance_type, 3)
    from reference import expand_covariances, gaussian_conditional

    full = expand_covariances(model.covariances_, covariance_type, 3, 3)
    log_resp, _ = log_resp_and_norm(
        gaussian_marginal_log_prob(X, model.means_, model.covariances_, covariance_type),
        model.weights_,
    )
    expected = np.zeros_like(X)
    for i in range(len(X)):
        for k in range(3):
            expected[i] += np.exp(log_resp[i, k]) * gaussian_conditional(X[i], model.means_[k], full[k])[0]
    filled = model.impute(X)
    assert_allclose(filled, expected, rtol=1e-10, atol=1e-12)
    observed = ~np.isnan(X)
    assert np.array_equal(filled[observed], X[observed])
    assert np.isnan(X).sum() > 0  # the input is left alone


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_impute_draws_from_the_conditional_distribution(covariance_type):
    """Many draws for one row: their mean and covariance are the conditional ones."""
    X, _ = _data(seed=4)
    model = _fit_steps(X, covariance_type, 3)
    row = np.array([[np.nan, 0.5, np.nan]])
    from reference import expand_covariances, gaussian_conditional

    full = expand_covariances(model.covariances_, covariance_type, 3, 3)
    resp = model.predict_proba(row)[0]
    parts = [gaussian_conditional(row[0], model.means_[k], full[k]) for k in range(3)]
    mean = sum(r * x for r, (x, _) in zip(resp, parts))
    second = sum(r * (c + np.outer(x, x)) for r, (x, c) in zip(resp, parts))
    draws = model.impute(np.repeat(row, 40000, axis=0), draw=True, random_state=0)
    assert np.all(draws[:, 1] == 0.5)
    missing = [0, 2]
    assert_allclose(draws[:, missing].mean(axis=0), mean[missing], atol=0.03)
    cov = second - np.outer(mean, mean)
    assert_allclose(np.cov(draws[:, missing].T), cov[np.ix_(missing, missing)], rtol=0.04, atol=0.05)
    again = model.impute(np.repeat(row, 40000, axis=0), draw=True, random_state=0)
    assert np.array_equal(draws, again)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_impute_draws_depend_on_the_seed_and_the_row_only(covariance_type, tmp_path):
    X, _ = _data(seed=6)
    assert_draws_independent_of_the_data_path(_fit_steps(X, covariance_type, 3), X, tmp_path)


def test_impute_writes_out_of_core_and_takes_chunks(tmp_path):
    X, _ = _data(seed=5)
    model = _fit_steps(X, "full", 3)
    out = np.lib.format.open_memmap(tmp_path / "out.npy", mode="w+", dtype=np.float64, shape=X.shape)
    model.impute(X, out=out)
    assert np.array_equal(np.asarray(out), model.impute(X))
    chunks = model.impute(Chunks([X[:100], X[100:]]))
    assert np.array_equal(np.concatenate(chunks), model.impute(X))
    complete = GaussianMixture(3, random_state=0).fit(np.nan_to_num(X))
    assert np.isfinite(complete.impute(X)).all()  # a model fitted without missing='em'
    assert complete.missing == "error"


def _airquality_csv(path):
    from fastem.datasets import load_airquality

    X, names = load_airquality()
    with open(path, "w") as f:
        f.write(",".join(names) + "\n")
        for row in X:
            f.write(",".join("NA" if v != v else repr(float(v)) for v in row) + "\n")
    return X, names


def test_cli_imputes_with_a_model_fitted_on_complete_data(tmp_path):
    """A model fitted without --missing em imputes incomplete rows, as its impute method does."""
    from fastem.cli import main

    X, _ = _data(n=300, missing=0.0)
    header = "a,b,c"
    np.savetxt(tmp_path / "complete.csv", X, delimiter=",", header=header, comments="")
    incomplete = X.copy()
    incomplete[::7, 1] = np.nan
    np.savetxt(tmp_path / "incomplete.csv", incomplete, delimiter=",", header=header,
               comments="")
    model_path = str(tmp_path / "m.npz")
    assert main(["fit", str(tmp_path / "complete.csv"), "-k", "3", "-o", model_path,
                 "--quiet"]) == 0
    out = str(tmp_path / "filled.csv")
    assert main(["impute", model_path, str(tmp_path / "incomplete.csv"), "-o", out,
                 "--quiet"]) == 0
    import fastem

    model = fastem.load(model_path)
    del model.feature_names_in_  # the array below has no column names
    filled = np.loadtxt(out, delimiter=",", skiprows=1)
    assert_allclose(filled, model.impute(incomplete), rtol=1e-12)


def test_cli_fits_and_imputes_a_csv_with_missing_values(tmp_path, capsys):
    from fastem.cli import main

    X, names = _airquality_csv(tmp_path / "air.csv")
    model_path = str(tmp_path / "model.npz")
    columns = ["--columns", "Ozone,Solar.R,Wind,Temp"]
    assert main(["fit", str(tmp_path / "air.csv"), *columns, "-k", "2", "-o", model_path]) != 0
    assert "--missing em" in capsys.readouterr().err
    assert main(["fit", str(tmp_path / "air.csv"), *columns, "-k", "2", "--missing", "em",
                 "--max-iter", "300", "-o", model_path]) == 0
    model = fastem_load(model_path)
    assert model.missing == "em"
    assert list(model.feature_names_in_) == names[:4]
    del model.feature_names_in_  # compared below with arrays of the same columns
    python = GaussianMixture(2, missing="em", random_state=0, max_iter=300).fit(X[:, :4])
    assert_allclose(model.means_, python.means_)
    out = str(tmp_path / "filled.csv")
    assert main(["impute", model_path, str(tmp_path / "air.csv"), *columns, "-o", out]) == 0
    filled = np.loadtxt(out, delimiter=",", skiprows=1)
    assert_allclose(filled[:, :4], model.impute(X[:, :4]), rtol=1e-12)
    assert np.array_equal(filled[:, 4:], X[:, 4:])  # Month and Day, not in the model
    assert main(["predict", model_path, str(tmp_path / "air.csv"), *columns,
                 "-o", str(tmp_path / "labels.npy")]) == 0
    assert np.array_equal(np.load(tmp_path / "labels.npy"), model.predict(X[:, :4]))


def fastem_load(path):
    import fastem

    return fastem.load(path)


def test_airquality_is_r_s_data_set():
    from fastem.datasets import load_airquality

    X, names = load_airquality()
    assert X.shape == (153, 6) and names[:2] == ["Ozone", "Solar.R"]
    assert np.isnan(X).sum(axis=0).tolist() == [37, 7, 0, 0, 0, 0]
    assert X[0].tolist() == [41, 190, 7.4, 67, 5, 1]


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_em_steps_at_many_features_equal_the_reference(covariance_type):
    """From 12 features on the complete rows take other full blocks; the sum is the same."""
    rng = np.random.default_rng(7)
    n_features = 14
    X = rng.normal(size=(300, n_features)) + np.repeat([[0.0], [3.0]], 150, axis=0)
    X[rng.random(X.shape) < 0.15] = np.nan
    weights = np.array([0.5, 0.5])
    means = np.array([np.zeros(n_features), np.full(n_features, 2.5)])
    covariances = np.eye(n_features) * 1.5 + 0.1
    full = np.stack([covariances, covariances]) if covariance_type == "full" else covariances
    model = GaussianMixture(
        2, covariance_type=covariance_type, weights_init=weights, means_init=means,
        precisions_init=np.linalg.inv(full), max_iter=4, tol=0.0, accelerate=False, missing="em",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    expected, _ = run_em(
        gaussian_missing_em_step, X, {"weights": weights, "means": means, "covariances": full}, 4,
        covariance_type=covariance_type,
    )
    assert_allclose(model.means_, expected["means"], rtol=1e-10, atol=1e-12)
    assert_allclose(model.covariances_, expected["covariances"], rtol=1e-10, atol=1e-12)


def test_memory_mapped_npy_with_nan_gives_the_in_memory_fit(tmp_path):
    X, w = _data(n=600, missing=0.3)
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    memory = _fit_steps(X, "full", 10, w)
    on_disk = _fit_steps(mapped, "full", 10, w)
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(getattr(on_disk, name), getattr(memory, name), rtol=1e-10, atol=1e-12)
    assert_allclose(
        on_disk.predict_proba(mapped), memory.predict_proba(X), rtol=1e-10, atol=1e-12
    )
    chunks = Chunks([tmp_path / "X.npy"], sample_weights=[w])
    assert_allclose(_fit_steps(chunks, "full", 10).means_, memory.means_, rtol=1e-10, atol=1e-12)


def _online_reference(batches, covariance_type, step_exponent, step_offset, reg_covar=1e-6):
    """Online EM (Cappe & Moulines 2009) on incomplete batches, from the formulas.

    Each batch's E-step statistics per unit weight are ``nk = mean_i R_ik``,
    ``s1 = mean_i R_ik x_hat_ik`` and ``s2 = mean_i R_ik (x_hat_ik x_hat_ik^T + C_ik)``
    (:func:`reference.gaussian_conditional`); the running statistics move
    toward them by ``eta_t = (t + step_offset) ** -step_exponent`` (the first
    batch sets them); the M-step is ``mu = s1 / nk``, ``Sigma = s2 / nk - mu mu^T``
    plus ``reg_covar`` (the diagonal of it for 'diag').
    """
    from reference import expand_covariances, gaussian_conditional

    weights, means, covariances, _ = _start(covariance_type)
    running = None
    for t, X in enumerate(batches):
        full = expand_covariances(covariances, covariance_type, 3, X.shape[1])
        log_prob = gaussian_marginal_log_prob(X, means, covariances, covariance_type)
        R = np.exp(log_resp_and_norm(log_prob, weights)[0])
        s1 = np.zeros_like(means)
        s2 = np.zeros((3, X.shape[1], X.shape[1]))
        for k in range(3):
            for i in range(len(X)):
                x_hat, conditional = gaussian_conditional(X[i], means[k], full[k])
                s1[k] += R[i, k] * x_hat
                s2[k] += R[i, k] * (np.outer(x_hat, x_hat) + conditional)
        batch = [R.mean(axis=0), s1 / len(X), s2 / len(X)]
        if running is None:
            running = batch
        else:
            eta = (t + step_offset) ** -step_exponent
            running = [(1 - eta) * a + eta * b for a, b in zip(running, batch)]
        nk, s1, s2 = running
        weights = nk / nk.sum()
        means = s1 / nk[:, None]
        full = s2 / nk[:, None, None] - np.einsum("ki,kj->kij", means, means)
        full += reg_covar * np.eye(X.shape[1])
        covariances = full if covariance_type == "full" else np.diagonal(full, axis1=1, axis2=2)
    return weights, means, covariances


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_partial_fit_on_incomplete_batches_is_online_em(covariance_type):
    """Each step of partial_fit on a stream of incomplete batches, against the formulas."""
    X, _ = _data(n=600, missing=0.3)
    batches = np.array_split(X, 4)
    weights, means, _, precisions = _start(covariance_type)
    model = GaussianMixture(
        3, covariance_type=covariance_type, weights_init=weights, means_init=means,
        precisions_init=precisions, missing="em", step_exponent=0.6, step_offset=1.5,
    )
    for batch in batches:
        model.partial_fit(batch)
    expected = _online_reference(batches, covariance_type, 0.6, 1.5)
    assert_allclose(model.weights_, expected[0], rtol=1e-10)
    assert_allclose(model.means_, expected[1], rtol=1e-10, atol=1e-12)
    assert_allclose(model.covariances_, expected[2], rtol=1e-10, atol=1e-12)


def test_partial_fit_statistics_of_a_stream_add_up_to_the_in_memory_ones():
    """The first step of partial_fit on all the data is the in-memory EM step; chunk
    summaries under one model add up to the summary of the whole."""
    X, w = _data(n=600, missing=0.3)
    weights, means, _, precisions = _start("full")
    online = GaussianMixture(
        3, weights_init=weights, means_init=means, precisions_init=precisions, missing="em"
    ).partial_fit(X, sample_weight=w)
    memory = _fit_steps(X, "full", 1, w)
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(getattr(online, name), getattr(memory, name), rtol=1e-10, atol=1e-12)
    whole = memory.summarize(X, sample_weight=w)
    parts = [memory.summarize(X[p], sample_weight=w[p]) for p in np.array_split(np.arange(600), 5)]
    total = parts[0]
    for part in parts[1:]:
        total = total + part
    assert_allclose(total.nk, whole.nk, rtol=1e-12)
    for key in whole.moments:
        assert_allclose(total.moments[key], whole.moments[key], rtol=1e-10, atol=1e-10)


def _three_component_data(n=900, missing=0.2, seed=11):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [6.0, 2.0, -3.0], [-5.0, 5.0, 3.0]])
    labels = rng.choice(3, n, p=[0.4, 0.35, 0.25])
    X = centres[labels] + rng.normal(size=(n, 3)) @ np.diag([1.0, 0.8, 1.2])
    mask = rng.random(X.shape) < missing
    mask[mask.all(axis=1), 0] = False
    X[mask] = np.nan
    return X


def test_select_n_components_on_incomplete_data_chooses_three_by_the_observed_likelihood():
    from fastem import select_n_components
    from reference import gaussian_n_parameters

    X = _three_component_data()
    result = select_n_components(
        X, range(1, 6), covariance_types=("full", "diag"), random_state=0, missing="em"
    )
    assert result.best_params_[1] == 3
    model = result.best_model_
    assert model.missing == "em"
    # the score is the observed-data log-likelihood: the marginal over each row's observed entries
    _, norm = log_resp_and_norm(
        gaussian_marginal_log_prob(X, model.means_, model.covariances_, model.covariance_type),
        model.weights_,
    )
    assert model.score(X) == pytest.approx(norm.mean(), rel=1e-10)
    n = len(X)
    p = gaussian_n_parameters(3, 3, model.covariance_type)
    bic = -2 * model.score(X) * n + p * np.log(n)
    assert result.table[result.best_params_] == pytest.approx(bic, rel=1e-10)
    assert model.bic(X) == pytest.approx(bic, rel=1e-10)


def test_select_n_components_refuses_nan_naming_its_option():
    from fastem import select_n_components

    with pytest.raises(ValueError, match="pass missing='em' to select_n_components"):
        select_n_components(_three_component_data(), range(1, 3), covariance_types=("diag",))


def test_cli_select_takes_missing_values(tmp_path, capsys):
    import json

    from fastem import select_n_components
    from fastem.cli import main

    X = _three_component_data(n=600)
    with open(tmp_path / "x.csv", "w") as f:
        f.write("a,b,c\n")
        for row in X:
            f.write(",".join("NA" if v != v else repr(float(v)) for v in row) + "\n")
    data = str(tmp_path / "x.csv")
    argv = ["select", data, "--k", "1-4", "--covariance", "diag", "--seed", "0", "--json"]
    assert main(argv) != 0
    assert "select with --missing em" in capsys.readouterr().err
    assert main([*argv, "--missing", "em"]) == 0
    best = json.loads(capsys.readouterr().out)["best_params"]
    expected = select_n_components(
        X, range(1, 5), covariance_types=("diag",), random_state=0, missing="em"
    )
    assert best["n_components"] == expected.best_params_[1] == 3


def _patterned_data(seed, n, n_features, fraction, n_components=3):
    """Clusters with entries missing at random; the first block complete, some rows observed once.

    Rows 256 to 256 + n_features keep one coordinate each (every coordinate
    in turn): the pattern with all but one coordinate missing.
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=3.0, size=(n_components, n_features))
    labels = rng.integers(0, n_components, n)
    mixing = rng.normal(size=(n_components, n_features, n_features)) * 0.3 + np.eye(n_features)
    X = centres[labels] + np.einsum("nij,nj->ni", mixing[labels], rng.normal(size=(n, n_features)))
    mask = rng.random(X.shape) < fraction
    mask[:256] = False
    lone = np.arange(n_features)
    mask[256 + lone] = True
    mask[256 + lone, lone] = False
    mask[mask.all(axis=1), 0] = False
    X[mask] = np.nan
    return X, rng.uniform(0.2, 3.0, n), centres


def _patterned_start(covariance_type, centres, rng):
    n_components, n_features = centres.shape
    factors = rng.normal(scale=0.3, size=(n_components, n_features, n_features))
    full = factors @ np.swapaxes(factors, 1, 2) + np.eye(n_features)
    covariances = {
        "full": full,
        "tied": full[0],
        "diag": np.stack([np.diag(c) for c in full]),
        "spherical": np.array([np.diag(c).mean() for c in full]),
    }[covariance_type]
    weights = np.full(n_components, 1.0 / n_components)
    return weights, centres + rng.normal(scale=0.5, size=centres.shape), covariances


def _fit_and_reference(X, covariance_type, start, n_iter, sample_weight=None):
    weights, means, covariances = start
    precisions = (
        np.linalg.inv(covariances) if covariance_type in ("full", "tied") else 1.0 / covariances
    )
    model = GaussianMixture(
        len(weights), covariance_type=covariance_type, weights_init=weights, means_init=means,
        precisions_init=precisions, max_iter=n_iter, tol=0.0, accelerate=False, missing="em",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, sample_weight=sample_weight)
    expected, history = run_em(
        gaussian_missing_em_step, np.asarray(X, dtype=np.float64),
        {"weights": weights, "means": means, "covariances": covariances}, n_iter,
        covariance_type=covariance_type, sample_weight=sample_weight,
    )
    return model, expected, history


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_many_patterns_across_blocks_equal_the_reference(covariance_type, weighted):
    """Three blocks (one complete, the last partial), dozens of patterns per block, rows
    observed at a single coordinate: the grouping by pattern changes nothing."""
    X, w, centres = _patterned_data(0, 700, 6, 0.35)
    patterns = {tuple(row) for row in np.isnan(X[256:512])}
    assert len(patterns) > 30
    start = _patterned_start(covariance_type, centres, np.random.default_rng(1))
    model, expected, history = _fit_and_reference(
        X, covariance_type, start, 8, w if weighted else None
    )
    assert_allclose(model.weights_, expected["weights"], rtol=1e-10)
    assert_allclose(model.means_, expected["means"], rtol=1e-10, atol=1e-12)
    assert_allclose(model.covariances_, expected["covariances"], rtol=1e-10, atol=1e-12)
    assert_allclose(model.lower_bound_, history[-1], rtol=1e-10)
    log_prob = gaussian_marginal_log_prob(X, model.means_, model.covariances_, covariance_type)
    _, norm = log_resp_and_norm(log_prob, model.weights_)
    assert_allclose(model.score_samples(X), norm, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n_components", [LANES + 1, 2 * LANES])
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_components_filled_a_vector_at_a_time_equal_the_reference(covariance_type, n_components):
    """A point's conditional means are computed for a vector of components at once
    (``regression_lanes()`` of them): with one component past a vector, and with two
    whole vectors, every component gets its own."""
    X, w, centres = _patterned_data(4, 700, 5, 0.3, n_components=n_components)
    start = _patterned_start(covariance_type, centres, np.random.default_rng(5))
    model, expected, history = _fit_and_reference(X, covariance_type, start, 5, w)
    assert_allclose(model.weights_, expected["weights"], rtol=1e-10)
    assert_allclose(model.means_, expected["means"], rtol=1e-10, atol=1e-12)
    assert_allclose(model.covariances_, expected["covariances"], rtol=1e-10, atol=1e-12)
    assert_allclose(model.lower_bound_, history[-1], rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_many_patterns_in_float32_follow_the_reference(covariance_type):
    X, w, centres = _patterned_data(2, 700, 6, 0.35)
    start = _patterned_start(covariance_type, centres, np.random.default_rng(3))
    model, expected, _ = _fit_and_reference(X.astype(np.float32), covariance_type, start, 4, w)
    assert model.means_.dtype == np.float32
    assert_allclose(model.means_, expected["means"], rtol=2e-4, atol=2e-4)
    assert_allclose(model.covariances_, expected["covariances"], rtol=2e-4, atol=2e-4)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_patterns_of_many_features_are_told_apart(covariance_type):
    """From 63 features on, two patterns can share a key: missing coordinate 0 and
    missing coordinate 62 do; their points must still get their own conditionals."""
    n_features = 66
    X, w, centres = _patterned_data(4, 400, n_features, 0.0, n_components=2)
    rows = np.arange(256 + n_features, 400)
    X[rows[::2], 0] = np.nan
    X[rows[1::2], 62] = np.nan
    X[rows[:20], 63] = np.nan
    start = _patterned_start(covariance_type, centres, np.random.default_rng(5))
    model, expected, history = _fit_and_reference(X, covariance_type, start, 3, w)
    assert_allclose(model.means_, expected["means"], rtol=1e-10, atol=1e-12)
    assert_allclose(model.covariances_, expected["covariances"], rtol=1e-10, atol=1e-12)
    assert_allclose(model.lower_bound_, history[-1], rtol=1e-10)


@pytest.mark.parametrize("n_features", [62, 63, 66])
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_float32_data_of_many_features_fits_and_scores_with_or_without_a_table(
    covariance_type, n_features
):
    """Up to 62 features the patterns are tabled; from 63 on the table is empty and
    every pattern is factored per block. Either way float32 data fit and score."""
    X, w, centres = _patterned_data(6, 400, n_features, 0.05, n_components=2)
    start = _patterned_start(covariance_type, centres, np.random.default_rng(7))
    model, expected, _ = _fit_and_reference(X.astype(np.float32), covariance_type, start, 2, w)
    assert model.means_.dtype == np.float32
    assert_allclose(model.means_, expected["means"], rtol=2e-4, atol=2e-4)
    assert_allclose(model.covariances_, expected["covariances"], rtol=2e-4, atol=2e-4)
    Y = X[250:300].astype(np.float32)
    log_prob = gaussian_marginal_log_prob(
        Y.astype(np.float64), model.means_.astype(np.float64),
        model.covariances_.astype(np.float64), covariance_type,
    )
    _, norm = log_resp_and_norm(log_prob, model.weights_.astype(np.float64))
    assert_allclose(model.score_samples(Y), norm, rtol=1e-4, atol=1e-3)
    # A model fitted on complete float32 data scores incomplete rows (an empty table).
    rng = np.random.default_rng(8)
    centres = rng.normal(0.0, 3.0, (3, n_features))
    complete = centres[rng.integers(0, 3, 2000)] + rng.normal(size=(2000, n_features))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GaussianMixture(
            3, covariance_type=covariance_type, missing="em", max_iter=2, random_state=0
        ).fit(complete.astype(np.float32))
    Y = complete[:10].astype(np.float32)
    Y[0, 5] = np.nan
    log_prob = gaussian_marginal_log_prob(
        Y.astype(np.float64), model.means_.astype(np.float64),
        model.covariances_.astype(np.float64), covariance_type,
    )
    _, norm = log_resp_and_norm(log_prob, model.weights_.astype(np.float64))
    assert_allclose(model.score_samples(Y), norm, rtol=1e-4, atol=1e-3)


def _four_clusters(seed, missing=0.25):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])
    X = centres[rng.choice(4, 3000, p=[0.4, 0.3, 0.2, 0.1])] + rng.normal(size=(3000, 2))
    X[rng.random(X.shape) < missing] = np.nan
    return X[~np.isnan(X).all(axis=1)]


@pytest.mark.parametrize("seed", [101, 103, 104])
def test_the_default_start_on_incomplete_data_reaches_the_best_peak(seed):
    """The start is computed from the complete rows, not from rows whose NaN hold the means.

    Mean-filled rows lie on the lines x = mean and y = mean, and the
    hierarchical start split one cluster along them: in these data sets
    (25% of entries missing) the default fit was 80-95 nats below the best
    of 20 k-means++ starts.
    """
    X = _four_clusters(seed)
    default = GaussianMixture(4, missing="em", random_state=0).fit(X)
    restarts = GaussianMixture(4, missing="em", random_state=0, init_params="k-means++",
                               n_init=10).fit(X)
    assert default.score(X) >= restarts.score(X) - 1e-6


def test_a_cluster_missing_from_the_complete_rows_is_found():
    """Feature 0 is missing wherever feature 1 is above 3 (missing at random, not completely):
    the complete rows leave out the third cluster, and a start from them alone ended 615 nats
    below the start from the mean-filled rows. Both are run, and the better one is kept."""
    from fastem import select_n_components

    rng = np.random.default_rng(102)
    X = np.concatenate([rng.normal(size=(400, 3)), rng.normal(size=(400, 3)) + [6, 0, 0],
                        rng.normal(size=(400, 3)) + [0, 6, 6]])
    X[X[:, 1] > 3, 0] = np.nan
    with warnings.catch_warnings():
        # the third cluster observes feature 0 at one row of its 400: its variance there
        # settles by 1/400 of the way per iteration, beyond max_iter
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GaussianMixture(3, missing="em", random_state=0).fit(X)
        result = select_n_components(X, range(1, 6), covariance_types=["full"], missing="em",
                                     random_state=0)
    assert model.score(X) * len(X) > -5888.0
    assert_allclose(np.sort(model.means_[:, 1]), [0.0, 0.0, 6.0], atol=0.2)
    assert result.best_params_ == ("full", 3)


def _cluster_without_feature_0(seed=0, n=600):
    rng = np.random.RandomState(seed)
    labels = rng.randint(3, size=n)
    X = np.array([[0.0, 0.0], [5.0, 0.0], [0.0, 5.0]])[labels] + rng.randn(n, 2)
    X[labels == 2, 0] = np.nan
    holes = rng.rand(n, 2) < 0.1
    holes[np.isnan(X).any(axis=1)] = False
    X[holes] = np.nan
    return X[~np.isnan(X).all(axis=1)]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_first_start_that_fails_leaves_the_other(covariance_type):
    """With reg_covar=0 the mean-filled start of a cluster that never has feature 0 has no
    spread there (an ill-defined covariance): the fit keeps the complete rows' start, which
    fits, instead of failing as a whole."""
    X = _cluster_without_feature_0()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GaussianMixture(3, covariance_type=covariance_type, missing="em", random_state=0,
                                reg_covar=0.0).fit(X)
    assert np.isfinite(model.score(X))


def test_both_first_starts_failing_is_the_error_of_the_first():
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=400), np.full(400, 3.0)])  # feature 1 has no spread
    X[rng.random(400) < 0.2, 0] = np.nan
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        GaussianMixture(2, missing="em", random_state=0, reg_covar=0.0).fit(X)


def test_both_first_starts_failing_goes_on_to_the_restarts():
    """With restarts, the two first starts failing at their partitions is passed over as
    any failed start is (the fit raised before trying a restart); every start failing is
    the first error."""
    rng = np.random.RandomState(1)
    rng.normal(size=240)  # the draws before these data where they were found
    X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(4, 1, (60, 2)), np.tile([[2.0, 20.0]], (8, 1))])
    X[[0, 70], 0] = np.nan
    params = dict(reg_covar=0.0, init_params="random_from_data", random_state=4, missing="em")
    model = GaussianMixture(3, n_init=8, **params).fit(X)
    assert np.isfinite(model.lower_bound_)
    with pytest.raises(ValueError, match="ill-defined empirical covariance"):
        GaussianMixture(3, n_init=4, **params).fit(X)  # every start fails


def test_without_nan_missing_em_runs_one_first_start():
    """On a subsample without NaN the start from the mean-filled rows is the start from the
    complete rows: it is not run again, and cannot fail where the other fitted (8 copies
    of one point and reg_covar=0 raised with missing='em' only)."""
    rng = np.random.RandomState(1)
    X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(4, 1, (60, 2)), np.tile([[2.0, 6.0]], (8, 1))])
    runs = {}
    for missing in ("error", "em"):
        seen = runs[missing] = []
        model = GaussianMixture(
            3, reg_covar=0.0, random_state=0, missing=missing,
            callback=lambda model, n_iter, lower_bound, seen=seen: seen.append(n_iter),
        ).fit(X)
        runs[missing + " bound"] = model.lower_bound_
    assert runs["em bound"] == runs["error bound"]
    assert runs["em"] == runs["error"]


def test_select_n_components_on_incomplete_data_finds_the_four_clusters():
    """The example of the fault: BIC chose 5 'tied' components after a start on mean-filled rows."""
    from fastem import select_n_components

    rng = np.random.default_rng(7)
    centres = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])
    X = centres[rng.choice(4, 3000, p=[0.4, 0.3, 0.2, 0.1])] + rng.normal(0, 1, (3000, 2))
    X[rng.random(X.shape) < 0.25] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    result = select_n_components(X, range(1, 6), random_state=0, missing="em")
    assert result.best_model_.n_components == 4


def test_a_start_with_few_complete_rows_fills_the_means():
    """Below 10 complete rows per feature or per component, the start fills NaN with the means,
    and there is no second start."""
    from fastem.base import points_for_start

    X, w = _data(seed=3, missing=0.6)  # 3 features, about 6% of the rows complete
    complete = ~np.isnan(X).any(axis=1)
    assert 0 < complete.sum() < 30
    points, weights = points_for_start(X, w, None, 3)
    assert points.shape == X.shape and not np.isnan(points).any()
    assert weights is w
    assert points_for_start(X, w, None, 3, filled=True) is None
    X2, w2 = _data(seed=3, n=2000, missing=0.25)
    points, weights = points_for_start(X2, w2, None, 3)
    complete = ~np.isnan(X2).any(axis=1)
    assert_array_equal(points, X2[complete])
    assert_array_equal(weights, w2[complete])
    points, weights = points_for_start(X2, w2, None, 3, filled=True)
    assert points.shape == X2.shape and not np.isnan(points).any()
    # It fits, where the regularised M-step lowers the log-likelihood pass after
    # pass: a loss no longer reads as no gain left once the ratio of increments
    # near the peak is known. On a Zen 5 CPU the rule held at pass 728, 5.3e-7 per
    # sample (53 tol) below the peak, where the losses of the last passes shrank by
    # ratios 0.88, 0.67, 0.34: a loss about to turn into a gain, which Aitken's
    # estimate of the loss does not see (see _steady_ratio).
    model = GaussianMixture(3, missing="em", random_state=0, max_iter=2_000)
    model.fit(X, sample_weight=w)
    assert model.converged_
    peak = GaussianMixture(
        3, missing="em", weights_init=model.weights_, means_init=model.means_,
        precisions_init=model.precisions_, accelerate=False, tol=1e-14, max_iter=20_000,
    ).fit(X, sample_weight=w)
    assert peak.lower_bound_ - model.lower_bound_ < 3 * model.tol


def test_impute_returns_a_table_of_the_kind_it_is_given():
    """A table in, the same kind of table out, with its column names (and index) kept.

    A Dask DataFrame used to give an unnamed dask array, an Arrow table a NumPy array.
    """
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    dd = pytest.importorskip("dask.dataframe")
    X, _ = _data(seed=4, n=300, missing=0.2)
    frame = pd.DataFrame(X, columns=["a", "b", "c"], index=np.arange(300) * 2)
    frame["b"] = frame["b"].astype(np.float32)
    model = GaussianMixture(3, missing="em", random_state=0).fit(frame)
    expected = model.impute(frame)
    assert list(expected.columns) == ["a", "b", "c"] and expected["b"].dtype == np.float32

    lazy = model.impute(dd.from_pandas(frame, npartitions=3))
    assert type(lazy).__name__ == "DataFrame" and list(lazy.columns) == ["a", "b", "c"]
    pd.testing.assert_frame_equal(lazy.compute(), expected)

    for table in (pa.Table.from_pandas(frame), pa.RecordBatch.from_pandas(frame)):
        filled = model.impute(table)
        assert type(filled) is type(table)
        assert filled.column_names == table.column_names  # the stored index included
        assert filled.schema.field("b").type == pa.float32()
        pd.testing.assert_frame_equal(filled.to_pandas(), expected)


def test_an_error_of_the_callback_in_a_first_start_propagates():
    """Only a start's own failure leaves the other first start; the callback's errors are the user's."""
    X, _ = _data(seed=5, n=400, missing=0.15)

    calls = []

    def callback(model, n_iter, lower_bound):  # aborts once: the other start would not
        calls.append(n_iter)
        if len(calls) == 1:
            raise ValueError("user abort")

    with pytest.raises(ValueError, match="user abort"):
        GaussianMixture(3, missing="em", random_state=0, callback=callback).fit(X)


def _float32_units_off(model, X, offset):
    """The largest error of ``impute`` on float32 data, against the same model on the
    same numbers in float64, in float32 units (spacings) at ``offset``."""
    X32 = X.astype(np.float32)
    missing = np.isnan(X32)
    exact = model.impute(X32.astype(np.float64))[missing]
    got = model.impute(X32)[missing].astype(np.float64)
    return np.abs(got - exact).max() / np.spacing(np.float32(offset))


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_float32_impute_far_from_the_origin_is_the_float64_value_rounded(covariance_type):
    """Two overlapping components 1e6 from the origin, 20% of the entries missing.

    The expectation is ``sum_k r_k E_k[x_M | x_O]``: float32 probabilities sum
    to 1 within 1e-7 only, which put it up to 1.9 float32 units off until they
    were normalised in float64. Rounding the float64 value gives 0.5."""
    rng = np.random.default_rng(3)
    covariance = np.array([[1.0, 0.9, 0.5], [0.9, 1.0, 0.6], [0.5, 0.6, 1.0]])
    means = 1e6 + np.array([[0.0, 0.0, 0.0], [1.5, 1.5, 1.5]])
    X = means[rng.integers(0, 2, 4000)] + rng.multivariate_normal(np.zeros(3), covariance, 4000)
    X[rng.random(X.shape) < 0.2] = np.nan
    X = X[~np.isnan(X).all(axis=1)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GaussianMixture(
            2, covariance_type=covariance_type, random_state=0, missing="em"
        ).fit(X.astype(np.float32))
    assert _float32_units_off(model, X, 1e6) <= 0.5 + 1e-3


def test_float32_impute_computes_in_float64_where_the_model_does():
    """A model of float64 parameters (fitted to float64 data) and features correlated
    to 1e-4: its passes over float32 data run in float64, so must its imputation,
    which had taken the parameters rounded to float32 (errors of 1e-3 at 63 features)."""
    rng = np.random.default_rng(0)
    z = rng.normal(size=(600, 1))
    X = np.hstack([z, z + 1e-4 * rng.normal(size=(600, 1)), rng.normal(size=(600, 1))])
    X[300:] += 3.0
    X[rng.random(600) < 0.3, 1] = np.nan
    X = X.astype(np.float32).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GaussianMixture(2, random_state=0, missing="em").fit(X)
    assert model._computes_in_float64(np.float32)
    assert _float32_units_off(model, X, 4.0) <= 0.5 + 1e-3


def _stream_model(family, covariance_type, missing):
    from fastem import ExponentialMixture, PoissonMixture

    if family == "gaussian":
        return GaussianMixture(3, covariance_type=covariance_type, missing=missing,
                               random_state=0)
    cls = ExponentialMixture if family == "exponential" else PoissonMixture
    return cls(3, missing=missing, random_state=0)


def _stream_data(family, seed):
    """Positive whole numbers (every family takes them) in three groups, a fifth missing."""
    rng = np.random.default_rng(seed)
    X = rng.poisson(rng.choice([3.0, 20.0, 60.0], size=(120, 1)), size=(120, 3)) + 1.0
    missing = X.copy()
    missing[rng.random(X.shape) < 0.2] = np.nan
    missing[np.isnan(missing).all(axis=1), 0] = 1.0
    return X, missing


@pytest.mark.parametrize("family, covariance_type", [
    ("gaussian", "full"), ("gaussian", "tied"), ("gaussian", "diag"),
    ("gaussian", "spherical"), ("exponential", None), ("poisson", None)])
def test_partial_fit_stream_continues_after_set_params_missing(family, covariance_type):
    """A partial_fit stream of complete batches continued after set_params(missing='em') on
    incomplete ones steps as a stream that had missing='em' from its start. One of
    missing='em' continued after set_params(missing='error') starts from statistics of
    complete data whose M-step gives its parameters back (and, for GaussianMixture, whose
    statistics hold the missing entries' expected values, steps as the missing='em' stream
    does on a complete batch). Their statistics did not add: a ValueError."""
    import copy

    X, missing = _stream_data(family, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        switched = _stream_model(family, covariance_type, "error").partial_fit(X)
        switched.set_params(missing="em")
        switched.partial_fit(missing)
        reference = _stream_model(family, covariance_type, "em").partial_fit(X)
        reference.partial_fit(missing)
        for name in reference._parameter_names:
            assert_allclose(getattr(switched, name), getattr(reference, name),
                            rtol=1e-7, atol=1e-10)
        switched.set_params(missing="error")
        running = switched._stream_statistics_for_missing(switched._running_stats)
        again = copy.deepcopy(switched).m_step(running)
        for name in reference._parameter_names:
            assert_allclose(getattr(again, name), getattr(switched, name),
                            rtol=1e-7, atol=1e-10)
        switched.partial_fit(X)
        reference.partial_fit(X)
    if family == "gaussian":
        for name in reference._parameter_names:
            assert_allclose(getattr(switched, name), getattr(reference, name),
                            rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize("family, covariance_type", [
    ("gaussian", "full"), ("gaussian", "tied"), ("exponential", None), ("poisson", None)])
@pytest.mark.parametrize("before, after", [("em", "error"), ("error", "em")])
def test_a_stream_saved_after_set_params_missing_loads_and_continues(
        tmp_path, family, covariance_type, before, after):
    """A partial_fit stream saved after set_params(missing=...) writes its running
    statistics as the saved missing sums a batch: the file loads (it was refused as
    damaged) and its stream steps as the model's own."""
    from fastem import load

    X, missing = _stream_data(family, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = _stream_model(family, covariance_type, before)
        model.partial_fit(missing if before == "em" else X)
        model.set_params(missing=after)
        model.save(tmp_path / "stream.npz")
        loaded = load(tmp_path / "stream.npz")
        loaded.partial_fit(X)
        model.partial_fit(X)
    for name in model._parameter_names:
        assert_allclose(getattr(loaded, name), getattr(model, name), rtol=1e-12)
