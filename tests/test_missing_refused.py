"""NaN in the data of an estimator not fitting missing values: a clear error at every entry point."""

import copy
import functools
import json
import re
import warnings

import numpy as np
import pytest

from fastem import (
    BayesianGaussianMixture,
    Chunks,
    ExponentialMixture,
    GaussianMixture,
    PoissonMixture,
)
from fastem.cli import main

ESTIMATORS = (GaussianMixture, BayesianGaussianMixture, ExponentialMixture, PoissonMixture)
FITTED_METHODS = (
    "predict", "predict_proba", "score", "score_samples", "summarize", "bic", "aic",
    "partial_fit",
)
PATHS = ("array", "chunks", "dask", "frame", "masked", "masked chunks", "dask masked",
         "dask masked chunks")


def _data():
    """Counts in two groups: valid data for every family (Poisson's whole numbers included)."""
    rng = np.random.default_rng(0)
    return np.concatenate([rng.poisson(2.0, (60, 2)), rng.poisson(12.0, (60, 2))]).astype(float)


def _masked(X):
    """X as a masked array whose NaN are masked, with a value hidden under the mask."""
    return np.ma.masked_array(np.where(np.isnan(X), 1e6, X), mask=np.isnan(X))


def _with_nan(path):
    X = _data()
    X[5, 1] = np.nan
    if path == "masked":  # np.asarray would drop the mask and read the hidden 1e6
        return _masked(X)
    if path == "masked chunks":
        return Chunks([_masked(X[:50]), X[50:]])
    if path in ("dask masked", "dask masked chunks"):  # a dask array reads the hidden 1e6 too
        da = pytest.importorskip("dask.array")
        masked = _masked(X)
        X = da.ma.masked_array(da.from_array(masked.data, chunks=40),
                               mask=da.from_array(masked.mask, chunks=40))
        return X if path == "dask masked" else Chunks([X])
    if path == "chunks":
        return Chunks([X[:50], X[50:]])
    if path == "dask":
        da = pytest.importorskip("dask.array")
        return da.from_array(X, chunks=40)
    if path == "frame":  # nullable columns: the missing value is pd.NA
        pd = pytest.importorskip("pandas")
        return pd.DataFrame({"a": X[:, 0], "b": X[:, 1]}).astype("Float64")
    return X


def _expected(cls, predicting=False):
    """The error names the option, or says that the estimator has none and which one does.

    To a fitted model's prediction, the option is set on the model, with no refit.
    """
    name = cls.__name__
    if "missing" in cls._get_param_names() and predicting:
        return (rf"(NaN or infinite|missing value|masked entries).*If the NaN are missing "
                rf"values, set_params\(missing='em'\) makes this fitted {name} predict and "
                r"score each row from its observed entries, with the same parameters \(no refit\)")
    if "missing" in cls._get_param_names():
        return rf"(NaN or infinite|missing value|masked entries).*pass missing='em' to {name}"
    return (rf"(NaN or infinite|missing value|masked entries).*{name} does not support missing values.*"
            + re.escape("GaussianMixture(missing='em')"))


def _model(cls):
    kw = {"max_iter": 400} if cls is BayesianGaussianMixture else {}
    return cls(2, random_state=0, **kw)


@functools.cache
def _fitted(cls):
    return _model(cls).fit(_data())


def _method(model, name):
    if not hasattr(model, name):
        pytest.skip(f"{type(model).__name__} has no {name}")
    return getattr(model, name)


def _compute(result):
    """Dask results are lazy: the error comes when they are computed."""
    return result.compute() if hasattr(result, "compute") else result


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", ("fit", "fit_predict", "partial_fit"))
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fitting_data_with_nan_names_the_option(cls, method, path):
    X = _with_nan(path)
    with pytest.raises(ValueError, match=_expected(cls)):
        _compute(_method(_model(cls), method)(X))


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("method", FITTED_METHODS)
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_a_fitted_model_given_nan_names_the_option(cls, method, path):
    model = copy.deepcopy(_fitted(cls))
    X = _with_nan(path)
    predicting = method not in ("summarize", "partial_fit")  # these sum statistics to fit
    with pytest.raises(ValueError, match=_expected(cls, predicting)):
        _compute(_method(model, method)(X))
    if predicting and "missing" in cls._get_param_names():
        # as the error says: the fitted model, with the option set, predicts from the
        # observed entries (a frame's names are not those of the fit: not under test here)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "X has feature names")
            _compute(_method(model.set_params(missing="em"), method)(X))


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_impute_is_offered_where_missing_values_are(cls):
    """A family that fits missing values imputes them; one that does not has no impute."""
    supports = "missing" in cls._get_param_names()
    assert hasattr(cls, "impute") == supports
    if supports:
        model = _model(cls).fit(_data())
        filled = model.impute(_with_nan("array"))
        assert np.isfinite(filled).all()


def _csv(path, X):
    with open(path, "w") as f:
        f.write("a,b\n")
        for row in X:
            f.write(",".join("NA" if v != v else repr(float(v)) for v in row) + "\n")


def test_cli_names_the_option_or_says_there_is_none(tmp_path, capsys):
    X = _data()
    _csv(tmp_path / "clean.csv", X)
    X[5, 1] = np.nan
    _csv(tmp_path / "holes.csv", X)
    holes, clean = str(tmp_path / "holes.csv"), str(tmp_path / "clean.csv")

    def error(*argv):
        assert main(list(argv)) != 0
        return capsys.readouterr().err

    model = str(tmp_path / "model.npz")
    assert "--missing em" in error("fit", holes, "-k", "2", "-o", model)
    bayes = error("fit", holes, "-k", "2", "--bayesian", "dirichlet_process", "-o", model)
    assert "does not support missing values" in bayes and "--missing em" in bayes

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the CLI prints its warnings, not under test here
        assert main(["fit", clean, "-k", "2", "--seed", "0", "-o", model]) == 0
    capsys.readouterr()
    for command in ("predict", "score"):
        out = ["-o", str(tmp_path / "labels.npy")] if command == "predict" else []
        advice = error(command, model, holes, *out)
        assert "pass --missing em" in advice and "(no refit)" in advice
        assert "refit it" not in advice

    bayes_model = str(tmp_path / "bayes.npz")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["fit", clean, "-k", "2", "--bayesian", "dirichlet_process", "--max-iter", "400",
                     "--seed", "0", "-o", bayes_model]) == 0
    capsys.readouterr()
    assert "BayesianGaussianMixture does not support missing values" in error(
        "score", bayes_model, holes
    )
    message = error("impute", bayes_model, holes, "-o", str(tmp_path / "filled.csv"))
    assert "does not support missing values" in message and "--missing em" in message


def test_missing_em_reads_csv_chunks_and_nullable_frames_as_missing_values(tmp_path):
    """NA in CSV files and pd.NA in nullable columns are NaN to a model that fits them."""
    pd = pytest.importorskip("pandas")
    X = _data()
    X[[5, 40, 77], [1, 0, 1]] = np.nan
    kw = dict(n_components=2, random_state=0, missing="em")
    expected = GaussianMixture(**kw).fit(X)
    _csv(tmp_path / "a.csv", X[:50])
    _csv(tmp_path / "b.csv", X[50:])
    from_files = GaussianMixture(**kw).fit(Chunks([tmp_path / "a.csv", tmp_path / "b.csv"]))
    from_frame = GaussianMixture(**kw).fit(pd.DataFrame(X, columns=["a", "b"]).astype("Float64"))
    for model in (from_files, from_frame):
        np.testing.assert_allclose(model.means_, expected.means_, rtol=1e-12)
        assert list(model.feature_names_in_) == ["a", "b"]


@pytest.mark.parametrize("cls", [c for c in ESTIMATORS if "missing" in c._get_param_names()])
def test_masked_entries_are_missing_values_with_missing_em(cls):
    """A masked entry is what a NaN is; its hidden value is never read."""
    X = _data()
    X[[5, 70], [1, 0]] = np.nan
    fitted = {}
    for kind, data in (("nan", X), ("masked", _masked(X))):
        model = cls(2, random_state=0, missing="em").fit(data)
        fitted[kind] = (model.means_ if hasattr(model, "means_") else model.rates_,
                        model.score_samples(data), model.impute(data), model.predict(data))
        partial = cls(2, random_state=0, missing="em").partial_fit(Chunks([data[:50], X[50:]]))
        fitted[kind] += (partial.score(data),)
    for a, b in zip(fitted["nan"], fitted["masked"]):
        np.testing.assert_array_equal(a, b)
    # a masked array without masked entries is its data
    whole = np.ma.masked_array(_data(), mask=False)
    np.testing.assert_array_equal(
        cls(2, random_state=0).fit(whole).predict(whole), cls(2, random_state=0).fit(_data()).predict(_data())
    )


def test_masked_sample_weights_are_refused():
    X = _data()
    weights = np.ma.masked_array(np.ones(len(X)), mask=np.arange(len(X)) == 3)
    with pytest.raises(ValueError, match=r"sample_weight is a masked array.*filled\(0\)"):
        GaussianMixture(2).fit(X, sample_weight=weights)
    unmasked = np.ma.masked_array(np.ones(len(X)), mask=False)
    GaussianMixture(2, random_state=0).fit(X, sample_weight=unmasked)


def _with_pd_na(path, X):
    """X with pandas' pd.NA where it holds NaN, as an object frame, list, array or chunks."""
    pd = pytest.importorskip("pandas")
    objects = np.where(np.isnan(X), pd.NA, X.astype(object))
    if path == "object frame":  # e.g. a nullable column made object, or concatenated frames
        return pd.DataFrame(objects, columns=["a", "b"], dtype=object)
    if path == "list":
        return objects.tolist()
    if path == "object chunks":
        return Chunks([objects[:50], objects[50:]])
    return objects


OBJECT_PATHS = ("object frame", "list", "object array", "object chunks")


@pytest.mark.parametrize("path", OBJECT_PATHS)
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_pd_na_in_object_data_is_a_missing_value(cls, path):
    """pd.NA is what None and NaN are: fitted by missing='em', else refused as missing."""
    X = _data()
    X[[5, 70], [1, 0]] = np.nan
    data = _with_pd_na(path, X)
    if "missing" not in cls._get_param_names():
        with pytest.raises(ValueError, match=_expected(cls)):
            _model(cls).fit(data)
        return
    model = cls(2, random_state=0, missing="em").fit(data)
    expected = cls(2, random_state=0, missing="em").fit(X)
    for name in ("predict", "score_samples", "impute"):
        got, want = getattr(model, name)(data), getattr(expected, name)(X)
        if path == "object chunks":
            got = np.concatenate(got) if name != "impute" else np.vstack(got)
        # chunks sum in another order (see the README): the same fit up to rounding
        np.testing.assert_allclose(np.asarray(got, dtype=float), want, rtol=1e-9)
    with pytest.raises(ValueError, match=_expected(cls)):
        cls(2, random_state=0).fit(data)


def test_pd_na_in_weights_and_parameters_is_refused_as_missing():
    pd = pytest.importorskip("pandas")
    X = _data()
    weights = np.array([pd.NA] + [1.0] * (len(X) - 1), dtype=object)
    with pytest.raises(ValueError, match=r"sample_weight contains 1 NaN .* at index 0"):
        GaussianMixture(2, random_state=0).fit(X, sample_weight=weights)
    with pytest.raises(TypeError, match=r"means_init holds pd.NA at index \(0, 1\)"):
        GaussianMixture(2, random_state=0, means_init=[[0.0, pd.NA], [5.0, 5.0]]).fit(X)


def test_cli_predicts_and_scores_missing_values_with_a_model_fitted_without(tmp_path, capsys):
    """A model fitted on complete rows predicts and scores rows with missing values from
    their observed entries, with the same parameters, as set_params(missing='em') does in
    Python: the command line's advice was to refit."""
    import fastem

    pd = pytest.importorskip("pandas")

    X = _data()
    _csv(tmp_path / "clean.csv", X)
    holes_X = X.copy()
    holes_X[5, 1] = np.nan
    _csv(tmp_path / "holes.csv", holes_X)
    model, labels = str(tmp_path / "model.npz"), str(tmp_path / "labels.npy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["fit", str(tmp_path / "clean.csv"), "-k", "2", "--seed", "0", "-o",
                     model]) == 0
    assert main(["predict", model, str(tmp_path / "holes.csv"), "-o", labels,
                 "--missing", "em"]) == 0
    fitted = fastem.load(model).set_params(missing="em")
    holes_X = pd.DataFrame(holes_X, columns=["a", "b"])
    np.testing.assert_array_equal(np.load(labels), fitted.predict(holes_X))
    capsys.readouterr()
    assert main(["score", model, str(tmp_path / "holes.csv"), "--missing", "em", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_observed_samples"] == len(X) == result["n_samples"]
    assert np.isclose(result["mean_log_likelihood"], fitted.score(holes_X))
