"""Scores of incomplete data, and ``impute``'s container.

A row with nothing observed carries no observation: its log-likelihood is
exactly 0, and it counts neither in ``score``'s mean nor in the ``n`` of BIC.
The reference is a plain NumPy/SciPy observed-data log-likelihood.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy.special import logsumexp
from scipy.stats import multivariate_normal

from fastem import Chunks, GaussianMixture, PoissonMixture


def _incomplete(seed=0, n=300):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 3)) + 4.0 * labels[:, None]
    X[rng.random((n, 3)) < 0.2] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 1.0  # every row observed somewhere, for the fit
    return X


@pytest.fixture(scope="module")
def model():
    return GaussianMixture(2, missing="em", random_state=0, tol=1e-6, max_iter=500).fit(_incomplete())


def _observed_log_likelihood(model, X):
    """log p(x_O) of each row under the mixture, by SciPy; 0 for a row with nothing observed."""
    covariances = model.covariances_
    result = np.zeros(len(X))
    for i, row in enumerate(X):
        observed = ~np.isnan(row)
        if not observed.any():
            continue
        per_component = [np.log(w) + multivariate_normal.logpdf(
            row[observed], m[observed], c[np.ix_(observed, observed)])
            for w, m, c in zip(model.weights_, model.means_, covariances)]
        result[i] = logsumexp(per_component)
    return result


def _with_empty_rows(X, rows):
    X = X.copy()
    X[rows] = np.nan
    return X


@pytest.mark.parametrize("weighted", [False, True])
def test_rows_with_nothing_observed_count_in_no_score(model, weighted):
    X = _with_empty_rows(_incomplete(seed=1, n=120), [0, 7, 8, 119])
    w = np.random.default_rng(2).uniform(0.5, 2.0, len(X)) if weighted else None
    reference = _observed_log_likelihood(model, X)
    kept = ~np.isnan(X).all(axis=1)
    weights = np.ones(len(X)) if w is None else w
    n = weights[kept].sum()
    total = weights @ reference
    samples = model.score_samples(X)
    assert np.array_equal(samples[~kept], np.zeros(4))  # exactly 0, not -1e-16
    assert_allclose(samples, reference, rtol=1e-10)
    assert_allclose(model.score(X, sample_weight=w), total / n, rtol=1e-10)
    p = model._n_parameters()
    assert_allclose(model.bic(X, sample_weight=w), -2 * total + p * np.log(n), rtol=1e-10)
    assert_allclose(model.aic(X, sample_weight=w), -2 * total + 2 * p, rtol=1e-10)
    # the same as the rows with an observed entry alone
    w_kept = None if w is None else w[kept]
    assert model.score(X, sample_weight=w) == pytest.approx(
        model.score(X[kept], sample_weight=w_kept), rel=1e-14)
    assert model.bic(X, sample_weight=w) == pytest.approx(
        model.bic(X[kept], sample_weight=w_kept), rel=1e-14)


def test_every_data_path_leaves_out_rows_with_nothing_observed(model, tmp_path):
    X = _with_empty_rows(_incomplete(seed=3, n=90), list(range(30, 60)))  # a whole chunk empty
    expected = model.score(X[~np.isnan(X).all(axis=1)])
    chunks = Chunks([X[:30], X[30:60], X[60:]])
    assert model.score(chunks) == pytest.approx(expected, rel=1e-13)
    path = tmp_path / "x.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    assert model.score(mapped) == pytest.approx(expected, rel=1e-13)
    out = np.full(len(X), np.nan)
    model.score_samples(chunks, out=out)
    assert np.array_equal(out[30:60], np.zeros(30))
    assert np.array_equal(np.concatenate(model.score_samples(chunks))[30:60], np.zeros(30))
    assert model.score(X.astype(np.float32)) == pytest.approx(expected, rel=1e-5)
    da = pytest.importorskip("dask.array")
    assert model.score(da.from_array(X, chunks=(30, 3))) == pytest.approx(expected, rel=1e-13)
    assert np.array_equal(model.score_samples(da.from_array(X, chunks=(30, 3))).compute()[30:60],
                          np.zeros(30))


def test_a_family_with_independent_features_leaves_them_out_too():
    rng = np.random.default_rng(4)
    X = rng.poisson([[2.0, 9.0]], size=(200, 2)).astype(float)
    X[rng.random(X.shape) < 0.2] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 3.0
    model = PoissonMixture(1, missing="em", random_state=0).fit(X)
    with_empty = np.vstack([X, np.full((5, 2), np.nan)])
    assert np.array_equal(model.score_samples(with_empty)[-5:], np.zeros(5))
    assert model.score(with_empty) == pytest.approx(model.score(X), rel=1e-14)
    assert model.bic(with_empty) == pytest.approx(model.bic(X), rel=1e-14)
    assert model.aic(with_empty) == pytest.approx(model.aic(X), rel=1e-14)


@pytest.mark.parametrize("method", ["score", "bic", "aic"])
def test_no_row_with_an_observed_entry_is_a_clear_error(model, method):
    X = np.full((4, 3), np.nan)
    with pytest.raises(ValueError, match="no row with an observed entry"):
        getattr(model, method)(X)
    with pytest.raises(ValueError, match="no row with an observed entry"):  # weight 0 where observed
        getattr(model, method)(np.vstack([X, np.ones((1, 3))]), sample_weight=[1, 1, 1, 1, 0])
    assert np.array_equal(model.score_samples(X), np.zeros(4))


def test_fit_still_refuses_rows_with_nothing_observed():
    X = _with_empty_rows(_incomplete(seed=5), [3])
    with pytest.raises(ValueError, match="1 row\\(s\\) whose every entry is missing"):
        GaussianMixture(2, missing="em").fit(X)


def test_impute_returns_a_dataframe_for_a_dataframe(model):
    pd = pytest.importorskip("pandas")
    X = _incomplete(seed=6, n=50)
    X[:, 2] = np.where(np.isnan(X[:, 2]), np.nan, X[:, 2])
    frame = pd.DataFrame({"a": X[:, 0], "b": X[:, 1].astype(np.float32), "c": X[:, 2]},
                         index=pd.Index([f"r{i}" for i in range(50)], name="row"))
    unnamed = GaussianMixture(2, missing="em", random_state=0, tol=1e-6, max_iter=500).fit(
        frame.to_numpy(np.float64))
    named = GaussianMixture(2, missing="em", random_state=0, tol=1e-6, max_iter=500).fit(frame)
    filled = named.impute(frame)
    assert isinstance(filled, pd.DataFrame)
    assert filled.index.equals(frame.index) and list(filled.columns) == ["a", "b", "c"]
    assert list(filled.dtypes) == [np.float64, np.float32, np.float64]
    assert not filled.isna().any().any()
    as_array = unnamed.impute(frame.to_numpy(np.float64))
    assert_allclose(filled.to_numpy(np.float64), as_array, rtol=1e-6)
    observed = frame.notna().to_numpy()
    assert np.array_equal(filled.to_numpy()[observed], frame.to_numpy()[observed])
    draws = named.impute(frame, draw=True, random_state=3)
    assert isinstance(draws, pd.DataFrame) and draws.index.equals(frame.index)
    out = np.empty((50, 3))
    assert named.impute(frame, out=out) is out  # out= is returned, as predict returns it
    assert isinstance(unnamed.impute(frame.to_numpy()), np.ndarray)


def test_impute_keeps_a_column_without_holes_and_a_nullable_column(model):
    pd = pytest.importorskip("pandas")
    X = _incomplete(seed=7, n=60)
    frame = pd.DataFrame({"a": np.round(np.nan_to_num(X[:, 0]) * 10).astype(np.int64),
                          "b": pd.array(np.round(X[:, 1] * 10), dtype="Float64"),
                          "c": X[:, 2]}, index=np.arange(60) * 2)
    named = GaussianMixture(2, missing="em", random_state=0, tol=1e-6, max_iter=500).fit(
        frame.astype(float))
    filled = named.impute(frame)
    assert filled["a"].dtype == np.int64 and filled["a"].equals(frame["a"])
    assert filled["b"].dtype == "Float64" and not filled["b"].isna().any()
    assert filled.index.equals(frame.index)


def test_random_state_without_draw_is_refused(model):
    with pytest.raises(ValueError, match="random_state=3 has no effect without draw=True"):
        model.impute(_incomplete(n=10), random_state=3)
