"""fastem as a drop-in for scikit-learn: estimator checks, errors, warnings, feature names."""

import os
import pickle
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import fastem

sklearn = pytest.importorskip("sklearn")
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

# scikit-learn's generic checks draw real-valued data (uniform, normal, iris).
# PoissonMixture models counts and rejects non-integer values with a
# ValueError that says how to round them; scikit-learn has no tag for
# "whole numbers only", so these checks cannot give it valid data. Every
# other check applies to it and passes.
_POISSON_NOT_COUNTS = "scikit-learn's test data are not whole numbers; PoissonMixture models counts"
_POISSON_EXPECTED_FAILURES = {
    name: _POISSON_NOT_COUNTS
    for name in (
        "check_fit_score_takes_y",
        "check_estimators_overwrite_params",
        "check_dont_overwrite_parameters",
        "check_estimators_fit_returns_self",
        "check_readonly_memmap_input",
        "check_n_features_in_after_fitting",
        "check_estimators_dtypes",
        "check_sample_weights_list",
        "check_all_zero_sample_weights_error",
        "check_sample_weight_equivalence_on_dense_data",
        "check_dtype_object",
        "check_pipeline_consistency",
        "check_estimators_nan_inf",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_fit2d_1sample",
        "check_fit2d_1feature",
        "check_dict_unchanged",
        "check_fit_idempotent",
        "check_fit_check_is_fitted",
        "check_n_features_in",
        "check_fit2d_predict1d",
    )
}


def _expected_failures(estimator):
    return _POISSON_EXPECTED_FAILURES if isinstance(estimator, fastem.PoissonMixture) else {}


with warnings.catch_warnings():
    # fastem does not subclass sklearn.base.BaseEstimator, so that importing
    # fastem does not import scikit-learn; it implements the API itself.
    warnings.filterwarnings("ignore", "Estimator .* does not inherit from", UserWarning)
    _with_checks = parametrize_with_checks(
        [
            fastem.GaussianMixture(), fastem.BayesianGaussianMixture(),
            fastem.ExponentialMixture(), fastem.PoissonMixture(),
        ],
        expected_failed_checks=_expected_failures,
    )


@_with_checks
def test_sklearn_estimator_checks(estimator, check):
    # scikit-learn's checks fit tiny data with few iterations on purpose.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        warnings.simplefilter("ignore", fastem.EmptyComponentWarning)
        check(estimator)


def test_poisson_fails_sklearn_checks_only_for_data_that_are_not_counts():
    # each expected failure above is the counts error on scikit-learn's real-valued
    # data (also where a check wanted another message first), nothing else
    from sklearn.utils.estimator_checks import check_estimator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        warnings.simplefilter("ignore", fastem.EmptyComponentWarning)
        warnings.filterwarnings("ignore", "Estimator .* does not inherit from", UserWarning)
        warnings.simplefilter("ignore", sklearn.exceptions.SkipTestWarning)  # array API
        results = check_estimator(fastem.PoissonMixture(), on_fail=None,
                                  expected_failed_checks=_POISSON_EXPECTED_FAILURES)
    xfailed = {r["check_name"] for r in results if r["status"] == "xfail"}
    assert xfailed == set(_POISSON_EXPECTED_FAILURES)
    assert {r["status"] for r in results} <= {"passed", "xfail", "skipped"}
    for r in results:
        if r["status"] == "xfail":
            assert "PoissonMixture models counts (non-negative whole numbers)" in str(r["exception"])


@pytest.mark.parametrize("estimator", [
    *(fastem.GaussianMixture(2, covariance_type=c) for c in ("full", "tied", "diag", "spherical")),
    fastem.GaussianMixture(3, accelerate=False), fastem.ExponentialMixture(2),
], ids=repr)
def test_weights_are_repeated_rows_from_the_default_start(estimator):
    # scikit-learn's check with several components. The default start is chosen from the
    # weighted data, so it passes; a random start (init_params='kmeans', 'random', ...,
    # or n_init > 1) draws rows, which repeated rows change, so it may not (scikit-learn's
    # KMeans lists this check as an expected failure for the same reason).
    from sklearn.utils.estimator_checks import check_sample_weight_equivalence_on_dense_data

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        check_sample_weight_equivalence_on_dense_data(type(estimator).__name__, estimator)


def _run(code):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), *sys.path]))
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_import_fastem_does_not_import_sklearn_or_scipy_linalg():
    # nor any other optional dependency, nor scipy.linalg or scipy.special
    # (together as long as the rest of the import; imported when a model first
    # needs them): each costs a short script its import time
    out = _run("""
        import sys
        import fastem
        print(sorted({m.split(".")[0] for m in sys.modules} & {
            "sklearn", "matplotlib", "pandas", "dask", "distributed", "pyarrow", "tqdm"}
            | {"scipy.linalg", "scipy.special"} & set(sys.modules)))
    """)
    assert out.strip() == "[]"


_CATCH = """
    import warnings
    import numpy as np
    X = np.random.default_rng(0).normal(size=(200, 2))
    try:
        fastem.GaussianMixture(2).predict(X)
    except sklearn.exceptions.NotFittedError as exc:
        assert isinstance(exc, (fastem.NotFittedError, ValueError, AttributeError))
        print("caught")
    warnings.filterwarnings("ignore", category=sklearn.exceptions.ConvergenceWarning)
    fastem.GaussianMixture(2, max_iter=1, random_state=0).fit(X)   # -W error: must be silent
    print("silenced")
"""


@pytest.mark.parametrize("order", ["fastem first", "sklearn first"])
def test_sklearn_catches_fastem_errors_and_filters_its_warnings(order):
    imports = ("import fastem\nimport sklearn.exceptions\n" if order == "fastem first"
               else "import sklearn.exceptions\nimport fastem\n")
    assert _run(imports + textwrap.dedent(_CATCH)).split() == ["caught", "silenced"]


def test_sklearn_imported_after_the_model_was_made():
    out = _run("""
        import numpy as np, fastem
        model = fastem.GaussianMixture(2)
        import sklearn.exceptions
        try:
            model.score(np.ones((3, 2)))
        except sklearn.exceptions.NotFittedError:
            print("caught")
    """)
    assert out.split() == ["caught"]


def test_fastem_classes_catch_without_sklearn_names():
    with pytest.raises(fastem.NotFittedError):
        fastem.GaussianMixture(2).predict(np.ones((3, 2)))
    with pytest.warns(fastem.ConvergenceWarning):
        fastem.GaussianMixture(2, max_iter=1, random_state=0).fit(
            np.random.default_rng(0).normal(size=(100, 2)))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        fastem.ExponentialMixture(2).predict(np.ones((3, 2)))


def test_errors_pickle_as_fastem_classes():
    from sklearn.exceptions import NotFittedError

    try:
        fastem.PoissonMixture(2).predict(np.ones((3, 2)))
    except NotFittedError as exc:
        back, args = pickle.loads(pickle.dumps(exc)), exc.args
    assert isinstance(back, fastem.NotFittedError) and isinstance(back, NotFittedError)
    assert back.args == args


# ----------------------------------------------------------------------
# feature names


@pytest.fixture
def frame():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (150, 2)), rng.normal([6, 60], [0.5, 5], (150, 2))])
    return pd.DataFrame(X, columns=["eruptions", "waiting"])


def test_feature_names_from_a_dataframe(frame):
    model = fastem.GaussianMixture(2, random_state=0).fit(frame)
    assert_array_equal(model.feature_names_in_, ["eruptions", "waiting"])
    assert model.feature_names_in_.dtype == object
    plain = fastem.GaussianMixture(2, random_state=0).fit(frame.to_numpy())
    assert_array_equal(model.predict(frame), plain.predict(frame.to_numpy()))


def test_reordered_columns_are_an_error_as_in_sklearn(frame):
    model = fastem.GaussianMixture(2, random_state=0).fit(frame)
    for method in ("predict", "predict_proba", "score_samples", "score", "bic"):
        with pytest.raises(ValueError, match="(?s)must be in the same order.*X\\[\\['eruptions', 'waiting'\\]\\]"):
            getattr(model, method)(frame[["waiting", "eruptions"]])
    renamed = frame.rename(columns={"waiting": "wait"})
    with pytest.raises(ValueError, match="unseen at fit time:\n- wait\n.*yet now missing:\n- waiting"):
        model.predict(renamed)
    # reordered by the user, the labels are those of the original order
    assert_array_equal(model.predict(frame[["waiting", "eruptions"]][["eruptions", "waiting"]]),
                       model.predict(frame))


def test_names_present_on_one_side_only_warn(frame):
    model = fastem.GaussianMixture(2, random_state=0).fit(frame)
    with pytest.warns(UserWarning, match="X does not have valid feature names, but GaussianMixture was fitted with"):
        model.predict(frame.to_numpy())
    unnamed = fastem.GaussianMixture(2, random_state=0).fit(frame.to_numpy())
    assert not hasattr(unnamed, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names, but GaussianMixture was fitted without"):
        unnamed.predict(frame)


def test_refit_without_names_forgets_them(frame):
    model = fastem.GaussianMixture(2, random_state=0).fit(frame)
    model.fit(frame.to_numpy())
    assert not hasattr(model, "feature_names_in_")


def test_a_series_is_one_feature_by_to_frame(frame):
    series = frame["waiting"]
    for call in (lambda X: fastem.GaussianMixture(2).fit(X),
                 lambda X: fastem.GaussianMixture(2, random_state=0).fit(frame[["waiting"]]).predict(X)):
        with pytest.raises(ValueError, match=r"got a 1-D array .*X is a Series; pass X.to_frame\(\)"):
            call(series)
    model = fastem.GaussianMixture(2, random_state=0).fit(series.to_frame())
    assert_array_equal(model.feature_names_in_, ["waiting"])


def test_integer_and_mixed_column_names(frame):
    pd = pytest.importorskip("pandas")
    model = fastem.GaussianMixture(2, random_state=0).fit(pd.DataFrame(frame.to_numpy()))
    assert not hasattr(model, "feature_names_in_")  # 0, 1: no names, as in scikit-learn
    mixed = pd.DataFrame(frame.to_numpy(), columns=["a", 1])
    with pytest.raises(TypeError, match="only supported if all input features have string names"):
        fastem.GaussianMixture(2).fit(mixed)


@pytest.mark.parametrize("family", ["GaussianMixture", "ExponentialMixture", "PoissonMixture"])
@pytest.mark.parametrize("make", ["pandas", "arrow"])
def test_repeated_column_names_are_refused_as_in_sklearn(frame, family, make):
    pd = pytest.importorskip("pandas")
    repeated = pd.DataFrame(frame.abs().round().to_numpy(), columns=["x", "x"])
    if make == "arrow":
        pa = pytest.importorskip("pyarrow")
        repeated = pa.table([pa.array(repeated.iloc[:, j]) for j in range(2)], names=["x", "x"])
    with pytest.raises(ValueError, match="Expected unique column names, got: 'x' 2 times") as info:
        getattr(fastem, family)(2).fit(repeated)
    # the renaming advised is that of the kind of table, and it works
    rename = "X = X.rename_columns([...])" if make == "arrow" else "X.columns = [...]"
    assert f"e.g. {rename}, or drop them" in str(info.value)
    scope = {"X": repeated if make == "arrow" else repeated.copy()}
    exec(rename.replace("[...]", "['x', 'y']"), scope)
    fitted = getattr(fastem, family)(2, random_state=0).fit(scope["X"])
    assert_array_equal(fitted.feature_names_in_, ["x", "y"])
    model = getattr(fastem, family)(2, random_state=0).fit(frame.abs().round())
    with pytest.raises(ValueError, match="Expected unique column names"):
        model.predict(repeated)


def test_numpy_string_column_names_are_strings(frame):
    pd = pytest.importorskip("pandas")
    named = pd.DataFrame(frame.to_numpy(), columns=pd.Index(["a", np.str_("b")], dtype=object))
    model = fastem.GaussianMixture(2, random_state=0).fit(named)
    assert_array_equal(model.feature_names_in_, ["a", "b"])
    assert all(type(n) is str for n in model.feature_names_in_)


def test_feature_names_from_an_arrow_table(frame):
    pa = pytest.importorskip("pyarrow")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    model = fastem.GaussianMixture(2, random_state=0).fit(table)
    assert_array_equal(model.feature_names_in_, ["eruptions", "waiting"])
    assert_array_equal(model.predict(table), model.predict(frame))
    with pytest.raises(ValueError, match="same order"):
        model.predict(table.select(["waiting", "eruptions"]))


ARROW_INDEXES = {  # pyarrow keeps a pandas index that is not a plain range as columns
    "filtered rows": lambda f: f[f["waiting"] > 0],
    "named index": lambda f: f.set_axis(np.arange(len(f)) * 2).rename_axis("id"),
    "text labels": lambda f: f.set_axis([f"r{i}" for i in range(len(f))]),
    "two levels": lambda f: f.set_axis(pd_multiindex(len(f))),
}


def pd_multiindex(n):
    pd = pytest.importorskip("pandas")
    return pd.MultiIndex.from_arrays([np.arange(n) // 2, np.arange(n) % 2])


@pytest.mark.parametrize("family", ["GaussianMixture", "ExponentialMixture", "PoissonMixture"])
@pytest.mark.parametrize("index", ARROW_INDEXES)
@pytest.mark.parametrize("kind", ["table", "record batch", "chunks of tables"])
def test_the_pandas_index_of_an_arrow_table_is_no_feature(frame, family, index, kind):
    pa = pytest.importorskip("pyarrow")
    counts = frame.abs().round()
    indexed = ARROW_INDEXES[index](counts)
    if kind == "table":
        data = pa.Table.from_pandas(indexed)
    elif kind == "record batch":
        data = pa.RecordBatch.from_pandas(indexed)
    else:
        data = fastem.Chunks([pa.Table.from_pandas(indexed.iloc[:100]),
                              pa.Table.from_pandas(indexed.iloc[100:])])
    assert kind == "chunks of tables" or len(data.column_names) > 2  # the index is there
    model = getattr(fastem, family)(2, random_state=0).fit(data)
    values = indexed.to_numpy()  # the frame's values: its index is no column
    plain = getattr(fastem, family)(2, random_state=0).fit(values)
    assert_array_equal(model.feature_names_in_, ["eruptions", "waiting"])
    np.testing.assert_allclose(model.score(data), plain.score(values), rtol=1e-12)


@pytest.mark.parametrize("family", ["ExponentialMixture", "PoissonMixture"])
def test_feature_names_for_every_family(frame, family):
    counts = frame.abs().round()
    model = getattr(fastem, family)(2, random_state=0).fit(counts)
    assert_array_equal(model.feature_names_in_, ["eruptions", "waiting"])
    with pytest.raises(ValueError, match="same order"):
        model.score(counts[["waiting", "eruptions"]])


def test_feature_names_survive_save_load_and_pickle(frame, tmp_path):
    model = fastem.GaussianMixture(2, random_state=0).fit(frame)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = fastem.load(path)
    assert_array_equal(loaded.feature_names_in_, model.feature_names_in_)
    with pytest.raises(ValueError, match="same order"):
        loaded.predict(frame[["waiting", "eruptions"]])
    assert_array_equal(pickle.loads(pickle.dumps(model)).feature_names_in_, model.feature_names_in_)
    unnamed = fastem.GaussianMixture(2, random_state=0).fit(frame.to_numpy())
    unnamed.save(path)
    assert not hasattr(fastem.load(path), "feature_names_in_")


# Every kind of data that carries column names, built from the same frame.
def _dataframe(frame, tmp_path):
    return frame


def _arrow_table(frame, tmp_path):
    pa = pytest.importorskip("pyarrow")
    return pa.Table.from_pandas(frame, preserve_index=False)


def _chunks_of_dataframes(frame, tmp_path):
    return fastem.Chunks([frame[:100], frame[100:220], frame[220:]])


def _chunks_of_arrow_tables(frame, tmp_path):
    pa = pytest.importorskip("pyarrow")
    return fastem.Chunks([pa.Table.from_pandas(frame[:100], preserve_index=False),
                          pa.Table.from_pandas(frame[100:], preserve_index=False)])


def _dask_dataframe(frame, tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    return dd.from_pandas(frame, npartitions=3)


def _new_directory(tmp_path):
    directory = tmp_path / str(len(list(tmp_path.iterdir())))
    directory.mkdir()
    return directory


def _chunks_of_parquet_files(frame, tmp_path):
    pytest.importorskip("pyarrow")
    directory = _new_directory(tmp_path)
    parts = [directory / "part-0.parquet", directory / "part-1.parquet"]
    frame[:130].to_parquet(parts[0])  # with pandas' index, which is not a feature
    frame[130:].to_parquet(parts[1], index=False)
    return fastem.Chunks(parts)


def _chunks_of_csv_files(frame, tmp_path):
    directory = _new_directory(tmp_path)
    parts = [directory / "part-0.csv", directory / "part-1.csv"]
    frame[:130].to_csv(parts[0])  # with pandas' index, which is not a feature
    frame[130:].to_csv(parts[1], index=False, float_format="%.17g")
    return fastem.Chunks(parts)


NAMED_KINDS = [_dataframe, _arrow_table, _chunks_of_dataframes, _chunks_of_arrow_tables,
               _dask_dataframe, _chunks_of_parquet_files, _chunks_of_csv_files]
FAMILIES = ["GaussianMixture", "ExponentialMixture", "PoissonMixture"]


@pytest.fixture
def synchronous_dask():
    dask = pytest.importorskip("dask")
    with dask.config.set(scheduler="synchronous"):
        yield


def _family_frame(frame, family):
    return frame if family == "GaussianMixture" else frame.abs().round()


def _as_list(labels):
    if isinstance(labels, list):
        return np.concatenate(labels)
    return np.asarray(labels.compute() if hasattr(labels, "compute") else labels)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("kind", NAMED_KINDS, ids=lambda f: f.__name__.strip("_"))
def test_feature_names_from_every_kind_of_named_data(frame, kind, family, synchronous_dask,
                                                    tmp_path):
    frame = _family_frame(frame, family)
    data = kind(frame, tmp_path)
    model = getattr(fastem, family)(2, random_state=0).fit(data)
    assert_array_equal(model.feature_names_in_, ["eruptions", "waiting"])
    reference = getattr(fastem, family)(2, random_state=0).fit(frame.to_numpy())
    assert_array_equal(_as_list(model.predict(data)), reference.predict(frame.to_numpy()))
    reordered = kind(frame[["waiting", "eruptions"]], tmp_path)
    for method in ("predict", "score", "summarize"):
        with pytest.raises(ValueError, match="must be in the same order"):
            getattr(model, method)(reordered)


@pytest.mark.parametrize("kind", NAMED_KINDS, ids=lambda f: f.__name__.strip("_"))
def test_select_n_components_keeps_the_names(frame, kind, synchronous_dask, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the grid's internal passes must not warn about names
        result = fastem.select_n_components(kind(frame, tmp_path), n_components=[2],
                                            covariance_types=["full"], random_state=0)
    assert_array_equal(result.best_model_.feature_names_in_, ["eruptions", "waiting"])


def test_chunks_must_share_their_column_names(frame):
    reordered = fastem.Chunks([frame[:150], frame[150:][["waiting", "eruptions"]]])
    with pytest.raises(ValueError, match=r"chunk 1 has the columns \['waiting', 'eruptions'\] but "
                       r"chunk 0 has \['eruptions', 'waiting'\].*same order"):
        fastem.GaussianMixture(2).fit(reordered)
    unnamed = fastem.Chunks([frame[:150], frame[150:].to_numpy()])
    with pytest.raises(ValueError, match=r"chunk 0 has the column names \['eruptions', 'waiting'\] "
                       "but chunk 1 has none"):
        fastem.GaussianMixture(2).fit(unnamed)
    model = fastem.GaussianMixture(2, random_state=0).fit(frame)
    with pytest.raises(ValueError, match="chunk 1 has the column names"):
        model.predict(fastem.Chunks([frame.to_numpy(), frame]))


def test_chunks_read_the_columns_asked_for(frame, tmp_path):
    pytest.importorskip("pyarrow")
    frame = frame.assign(id=np.arange(len(frame)))
    frame[:150].to_parquet(tmp_path / "a.parquet")
    frame[150:].to_csv(tmp_path / "b.csv", index=False, float_format="%.17g")
    parts = fastem.Chunks([tmp_path / "a.parquet", tmp_path / "b.csv"], columns=["waiting", "eruptions"])
    model = fastem.GaussianMixture(2, random_state=0).fit(parts)
    assert_array_equal(model.feature_names_in_, ["waiting", "eruptions"])
    reference = fastem.GaussianMixture(2, random_state=0).fit(frame[["waiting", "eruptions"]])
    np.testing.assert_allclose(model.means_, reference.means_, rtol=1e-10)
    with pytest.raises(ValueError, match=r"column 'wait' not found in .*a.parquet'; its columns are "
                       r"\['eruptions', 'waiting', 'id'\]"):
        model.fit(fastem.Chunks([tmp_path / "a.parquet"], columns=["wait"]))
    with pytest.raises(ValueError, match="columns=\\['waiting'\\] selects columns of .csv and .parquet "
                       "files, but chunk 0 is an object of type ndarray"):
        fastem.Chunks([frame.to_numpy(), tmp_path / "a.parquet"], columns=["waiting"])


def test_chunk_files_with_bad_values_name_the_file_and_place(frame, tmp_path):
    frame[:150].to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "b.csv").write_text("eruptions,waiting\n1.5,60\n2.5,NA\n")
    # a missing value is NaN, which the estimator refuses, naming the file and its option
    with pytest.raises(ValueError, match=r"chunk 1 \('.*b.csv'\) contains 1 NaN or infinite "
                       r"value\(s\). If the NaN are missing values, pass missing='em'"):
        fastem.GaussianMixture(2).fit(fastem.Chunks([tmp_path / "a.csv", tmp_path / "b.csv"]))
    with pytest.raises(FileNotFoundError, match=r"data file '.*c.npy' does not exist. Check the path.$"):
        fastem.GaussianMixture(2).fit(fastem.Chunks([tmp_path / "a.csv", tmp_path / "c.npy"]))


def test_chunks_of_one_path_or_array_is_refused(tmp_path):
    with pytest.raises(TypeError, match=r"Chunks takes a list of chunks, got one str '.*a.npy'. "
                       r"Pass a list, e.g. Chunks\(\[path\]\)"):
        fastem.Chunks(str(tmp_path / "a.npy"))
    with pytest.raises(TypeError, match=r"got one ndarray of shape \(3, 2\)"):
        fastem.Chunks(np.ones((3, 2)))
