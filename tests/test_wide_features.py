"""Models of a variance or a mean per feature at many features hold no features x features array.

'diag' and 'spherical' Gaussians, their variational versions, and exponential and
Poisson mixtures have O(n_components x n_features) parameters. At 10,000 features a
(n_features, n_features) float64 array is 800 MB, and one per component or per thread
ran out of memory: a 'diag' fit of 200 points took 4.9 GB and 38 s, 'spherical' from a
'random' start 11.7 GB and 174 s, a 'diag' imputation 16 such squares. Each test traces
the memory of one operation at 2,000 features (a square: 32 MB) after a first call that
compiles what it needs, and allows half a square. The names of many columns, and the
frames built of them, are handled in work linear in their number (counted, not timed).
"""

import tracemalloc
import warnings

import numpy as np
import pytest

import fastem
from fastem import plot

N_FEATURES = 2000
SQUARE = N_FEATURES**2 * 8

MODELS = {
    "diag": lambda: fastem.GaussianMixture(3, covariance_type="diag", random_state=0),
    "spherical": lambda: fastem.GaussianMixture(3, covariance_type="spherical", random_state=0),
    "bayesian diag": lambda: fastem.BayesianGaussianMixture(
        n_components=3, covariance_type="diag", random_state=0),
    "bayesian spherical": lambda: fastem.BayesianGaussianMixture(
        n_components=3, covariance_type="spherical", random_state=0),
    "exponential": lambda: fastem.ExponentialMixture(3, random_state=0),
    "poisson": lambda: fastem.PoissonMixture(3, random_state=0),
}


def _data(name, missing=False):
    rng = np.random.default_rng(0)
    X = np.abs(rng.normal(size=(40, N_FEATURES)))
    X[:20] += 3.0
    if name == "poisson":
        X = np.round(3 * X)
    if missing:
        X[::5, 7] = np.nan
    return X


def _peak(operation):
    """The peak of traced memory of ``operation()``, in bytes, after a first call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 40 points of 2,000 features: whatever it says
        operation()
        tracemalloc.start()
        try:
            operation()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


@pytest.mark.parametrize("missing", [False, True])
@pytest.mark.parametrize("init_params", ["hierarchical", "random", "k-means++"])
@pytest.mark.parametrize("name", MODELS)
def test_fits_hold_no_square_of_the_features(name, init_params, missing):
    """The start (n_components full covariances before), the passes' scratch (an
    (n_features, n_features) square per thread before) and, for the variational
    mixtures, the merge moves (diagonal matrices for their determinants before)."""
    if missing and name.startswith("bayesian"):
        pytest.skip("BayesianGaussianMixture fits no missing values")
    X = _data(name, missing)
    model = MODELS[name]().set_params(init_params=init_params)
    if missing:
        model.set_params(missing="em")
    assert _peak(lambda: model.fit(X)) < SQUARE / 2


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_model_selection_holds_no_square_of_the_features(covariance_type):
    """The collapse rules read the data's variances alone for these types (the data's
    covariance matrix and each component's, with their eigenvectors, before)."""
    X = _data(covariance_type)
    peak = _peak(lambda: fastem.select_n_components(
        X, n_components=[1, 2], covariance_types=[covariance_type]))
    assert peak < SQUARE / 2


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_imputation_holds_no_square_of_the_features(covariance_type):
    X = _data(covariance_type, missing=True)
    model = fastem.GaussianMixture(2, covariance_type=covariance_type, missing="em",
                                   random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    assert _peak(lambda: model.impute(X)) < SQUARE / 2
    assert _peak(lambda: model.impute(X, draw=True, random_state=0)) < SQUARE / 2


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_the_command_line_summary_and_plots_hold_no_square_of_the_features(covariance_type):
    """The summary's standard deviations, a feature's density and two features' ellipses
    read the variances they show (each component's full covariance matrix before)."""
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from fastem.cli import _model_summary

    X = _data(covariance_type)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastem.GaussianMixture(2, covariance_type=covariance_type,
                                       random_state=0).fit(X)
    summary = _model_summary(model)
    variances = np.asarray(model.covariances_)
    variances = variances if covariance_type == "diag" else variances[:, None]
    np.testing.assert_allclose(summary["components"]["sd x5"],
                               np.sqrt(np.broadcast_to(variances, (2, N_FEATURES))[:, 5]))
    assert _peak(lambda: _model_summary(model)) < SQUARE / 2
    for draw in (lambda: plot.plot_density_1d(model, X, feature=5),
                 lambda: plot.plot_clusters_2d(model, X, features=(5, 9))):
        assert _peak(lambda: (draw(), plt.close("all"))) < SQUARE / 2


class _CountedName(str):
    """A column name that counts the comparisons of names by equality: finding the
    repeats among D names takes about D of them by hashing, D * D by ``list.count``."""

    comparisons = hashes = 0

    def __str__(self):
        return self

    def __eq__(self, other):
        type(self).comparisons += 1
        return str.__eq__(self, other)

    def __hash__(self):
        type(self).hashes += 1
        return str.__hash__(self)


def _counted_names(n):
    _CountedName.comparisons = _CountedName.hashes = 0
    return [_CountedName(f"gene{j}") for j in range(n)]


class _Frame:
    """A data frame as ``feature_names_of`` reads one: ``columns`` and ``shape``."""

    def __init__(self, columns):
        self.columns, self.shape = columns, (1, len(columns))


def test_column_names_are_checked_for_repeats_in_linear_work():
    """Each name was counted in the whole list (list.count): a DataFrame of 20,000 named
    columns took 5 s per check, on every read (a fit 14.8 s, a predict 13.5 s, against
    0.7 s for the array), and a parquet file's schema and the command line's table of
    components the same."""
    from fastem._validation import feature_names_of
    from fastem.cli import _component_columns

    names = _counted_names(N_FEATURES)
    assert list(feature_names_of(_Frame(names))) == names
    assert _CountedName.comparisons < 10 * N_FEATURES
    with pytest.raises(ValueError, match=r"'gene1' 2 times"):
        feature_names_of(_Frame(names + names[1:2]))

    model = fastem.PoissonMixture(2)
    model.weights_ = np.array([0.5, 0.5])
    model.rates_ = np.ones((2, N_FEATURES))
    names = _counted_names(N_FEATURES)
    columns = _component_columns(model, names)
    assert f"rate {names[7]}" in columns and len(columns) == 1 + N_FEATURES
    assert _CountedName.comparisons < 10 * N_FEATURES


def test_names_that_differ_from_those_of_fit_are_found_in_linear_work():
    """The set of the names of fit was made again for each name (and that of the data for
    each name of fit) before the error that names the differences."""
    from fastem._validation import check_feature_names

    fitted = np.array(_counted_names(N_FEATURES), dtype=object)
    names = fitted.copy()
    names[5] = _CountedName("gene5b")
    _CountedName.comparisons = _CountedName.hashes = 0
    differences = r"unseen at fit time:\n- gene5b\n.*now missing:\n- gene5\n"
    with pytest.raises(ValueError, match=differences):
        check_feature_names(names, fitted, "GaussianMixture")
    assert _CountedName.hashes < 10 * N_FEATURES


def test_a_parquet_schema_is_checked_for_repeats_in_linear_work(monkeypatch, tmp_path):
    pa = pytest.importorskip("pyarrow")
    from fastem import _tables

    path = tmp_path / "wide.parquet"
    path.write_bytes(b"")
    names = _counted_names(N_FEATURES)

    class Schema:
        pass

    schema = Schema()
    schema.names = names

    class Reader:
        @staticmethod
        def read_schema(_):
            return schema

    monkeypatch.setattr(_tables, "_pyarrow_parquet", lambda path: (pa, Reader))
    assert _tables._parquet_schema(str(path)) is schema
    assert _CountedName.comparisons < 10 * N_FEATURES
    schema.names = names + names[3:4]
    with pytest.raises(ValueError, match="'gene3' more than once"):
        _tables._parquet_schema(str(path))


def test_an_imputed_data_frame_is_built_in_linear_work(monkeypatch):
    """Each column was cast back to its dtype by its own isetitem, which splits the frame's
    block: (n_features x n_features) work, 10 s at 20,000 columns. Columns are cast by
    dtype now, and not at all where the dtype is the filled values'."""
    pd = pytest.importorskip("pandas")
    X = _data("diag", missing=True)
    frame = pd.DataFrame(X, columns=[f"gene{j}" for j in range(N_FEATURES)])
    model = fastem.GaussianMixture(2, covariance_type="diag", missing="em", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(frame)
        expected = model.impute(X)  # X: no names
    calls = []
    isetitem = pd.DataFrame.isetitem
    monkeypatch.setattr(pd.DataFrame, "isetitem",
                        lambda self, loc, value: (calls.append(loc), isetitem(self, loc, value)))
    filled = model.impute(frame)
    np.testing.assert_array_equal(filled.to_numpy(), expected)
    assert list(filled.columns) == list(frame.columns) and (filled.dtypes == np.float64).all()
    assert len(calls) == 0

    # float32 and whole-number columns keep their dtypes, a column with holes takes the filled
    mixed = frame.astype({"gene0": np.float32, "gene2": np.float32})
    for name in ("gene1", "gene7"):  # gene7 has holes
        mixed[name] = mixed[name].round().astype("Int64")
    calls.clear()
    filled = model.impute(mixed)
    assert filled.dtypes["gene0"] == np.float32 and filled.dtypes["gene2"] == np.float32
    assert filled.dtypes["gene1"] == "Int64" and filled.dtypes["gene7"] == np.float64
    assert (filled.dtypes.iloc[3:7] == np.float64).all()
    assert len(calls) == 2


@pytest.mark.parametrize("operation", ["k-means++", "random", "restarts", "selection"])
def test_the_subsamples_of_the_start_and_the_collapse_rules_are_bounded_in_bytes(
        operation, monkeypatch):
    """The k-means family's, 'random''s and the collapse rules' subsample was 100,000 rows
    whatever the number of features: 16 GB of float64 at 20,000 features. It holds at most
    INIT_SAMPLE_BYTES (at 2,000 features 33,554 rows), so data of more rows than that start
    from a subsample of that many."""
    from fastem import _init
    from fastem.data import ArraySource

    sizes = []
    subsample = ArraySource.subsample
    monkeypatch.setattr(ArraySource, "subsample",
                        lambda self, rs, size: (sizes.append(size), subsample(self, rs, size))[1])
    X = _data("diag")
    model = fastem.GaussianMixture(2, covariance_type="diag", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if operation == "selection":
            fastem.select_n_components(X, [1, 2], covariance_types="diag", random_state=0)
        elif operation == "restarts":
            model.set_params(n_init=2).fit(X)
        else:
            model.set_params(init_params=operation).fit(X)
    assert sizes and max(sizes) * N_FEATURES * 8 <= _init.INIT_SAMPLE_BYTES
    assert _init.init_sample_size(2) == _init.INIT_SAMPLE_SIZE


def _named_frame(n_rows, n_columns, prefix="gene"):
    pd = pytest.importorskip("pandas")
    values = np.random.default_rng(0).normal(size=(n_rows, n_columns))
    return pd.DataFrame(values, columns=[f"{prefix}{j}" for j in range(n_columns)])


def test_a_name_mismatch_of_many_columns_is_told_in_a_few_lines():
    """Data whose 20,000 names all differ from those of fit got an error that listed every
    name, twice, and the selection of all of them (250 KB); it lists the first five of
    each, with their counts, and selects the model's names by attribute."""
    from fastem._validation import check_feature_names

    fitted = np.array([f"gene{j}" for j in range(20_000)], dtype=object)
    renamed = np.array([f"probe{j}" for j in range(20_000)], dtype=object)
    with pytest.raises(ValueError) as error:
        check_feature_names(renamed, fitted, "GaussianMixture")
    message = str(error.value)
    assert len(message) < 1000, len(message)
    assert "unseen at fit time (20000):\n- probe0\n" in message
    assert "- probe4\n- ... and 19995 more\n" in message and "probe5" not in message
    assert "yet now missing (20000):\n- gene0\n" in message
    assert message.endswith("X[list(model.feature_names_in_)].")
    with pytest.raises(ValueError) as error:
        check_feature_names(fitted[::-1], fitted, "GaussianMixture")
    message = str(error.value)
    assert len(message) < 1000 and "same order as they were in fit (column 0 (0-based) is " \
        "'gene19999' where fit had 'gene0')" in message


def test_the_first_misordered_column_is_counted_as_x_columns_counts_it():
    """The first column out of order was counted from 1 ('column 4 is ...' of X.columns[3]),
    where a DataFrame's columns, the other errors' entries and --columns count from 0."""
    from fastem._validation import check_feature_names

    fitted = np.array(["a", "b", "c", "d", "e"], dtype=object)
    swapped = fitted[[0, 1, 2, 4, 3]]
    with pytest.raises(ValueError) as error:
        check_feature_names(swapped, fitted, "GaussianMixture")
    assert "(column 3 (0-based) is 'e' where fit had 'd')" in str(error.value)
    assert swapped[3] == "e"


def test_every_path_that_checks_names_tells_a_mismatch_compactly():
    dd = pytest.importorskip("dask.dataframe")
    frame = _named_frame(40, 300)
    model = fastem.GaussianMixture(1, covariance_type="diag", random_state=0).fit(frame)
    renamed = frame.rename(columns=lambda name: name.replace("gene", "probe"))
    calls = {
        "predict": lambda: model.predict(renamed),
        "score": lambda: model.score(renamed),
        "score_samples": lambda: model.score_samples(renamed),
        "partial_fit": lambda: model.partial_fit(renamed),
        "impute": lambda: model.impute(renamed),
        "Chunks": lambda: model.predict(fastem.Chunks([renamed[:20], renamed[20:]])),
        "Dask": lambda: model.predict(dd.from_pandas(renamed, npartitions=2)),
        "chunks of other names": lambda: fastem.GaussianMixture(1).fit(
            fastem.Chunks([frame[:20], renamed[20:]])),
    }
    for call, method in calls.items():
        with pytest.raises(ValueError) as error:
            method()
        message = str(error.value)
        assert len(message) < 1200 and "probe5" not in message, (call, len(message))
        assert "300" in message, (call, message)


def test_the_command_line_tells_a_name_mismatch_of_many_columns_compactly(tmp_path, capsys):
    from fastem.cli import main

    frame = _named_frame(40, 300)
    frame.to_csv(tmp_path / "train.csv", index=False)
    assert main(["fit", str(tmp_path / "train.csv"), "-k", "1", "--covariance-type", "diag",
                 "-o", str(tmp_path / "m.npz"), "-q"]) == 0
    frame.iloc[:, 10:].to_csv(tmp_path / "data.csv", index=False)
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "data.csv"),
                 "-o", str(tmp_path / "l.npy")]) == 1
    err = capsys.readouterr().err
    assert "has no column 'gene0' (nor 9 more of the model: ['gene1'," in err
    assert len(err) < 1000 and "gene200" not in err, err


def test_a_column_not_found_among_many_is_told_in_one_short_line(tmp_path):
    """--columns (columns= of Chunks) with a name that a file of 20,000 columns does not
    hold listed all 20,000 names; it shows the first five, the count, and the name meant."""
    from fastem import _tables

    names = [f"gene{j}" for j in range(20_000)]
    path = tmp_path / "wide.csv"
    path.write_text(",".join(names) + "\n" + ",".join(["1.5"] * len(names)) + "\n")
    with pytest.raises(ValueError) as error:
        _tables.read_csv(str(path), columns=["gene12345", "gene_7"])
    message = str(error.value)
    assert len(message) < 300, len(message)
    assert message.endswith("['gene0', 'gene1', 'gene2', 'gene3', 'gene4', ...] (20000 names). "
                            "Did you mean 'gene7'?")
    narrow = tmp_path / "narrow.csv"
    narrow.write_text("gene0,gene1\n1,2\n")
    with pytest.raises(ValueError, match=r"its columns are \['gene0', 'gene1'\]$"):
        _tables.read_csv(str(narrow), columns=["zzz"])


def test_records_of_many_fields_are_refused_in_a_few_lines(tmp_path, capsys):
    """A structured array (records) of 2,000 fields was refused with its dtype written out,
    every field's name and type, and the list of every name; the error counts the fields
    and names the first five, in Python, for a dask array and on the command line."""
    from fastem.cli import main

    frame = _named_frame(10, 2000)
    records = frame.to_records(index=False)
    calls = [lambda: fastem.GaussianMixture(1).fit(records),
             lambda: fastem.GaussianMixture(1).fit(frame, sample_weight=records)]
    try:
        import dask.array as da
        calls.append(lambda: fastem.GaussianMixture(1).fit(da.from_array(records)))
    except ImportError:
        pass
    for call in calls:
        with pytest.raises(TypeError, match="structured dtype of 2000 field") as error:
            call()
        assert len(str(error.value)) < 500 and "gene5'" not in str(error.value)
    np.save(tmp_path / "records.npy", records[[f"gene{j}" for j in range(200)]])
    assert main(["fit", str(tmp_path / "records.npy"), "-k", "1",
                 "-o", str(tmp_path / "m.npz")]) == 1
    err = capsys.readouterr().err
    assert "structured dtype of 200 field(s)" in err and len(err) < 600, err


def test_records_whose_npy_header_numpy_will_not_read_are_named_as_records(tmp_path, capsys):
    """A .npy file of records of 2,000 fields, written by numpy.save, was "not a readable
    .npy file (Header info length (41014) is large ...). Write it with numpy.save."""
    from fastem.cli import main

    path = tmp_path / "records.npy"
    np.save(path, _named_frame(10, 2000).to_records(index=False))
    fix = r"structured_to_unstructured\(X\)\)\.$"
    with pytest.raises(ValueError, match=r"has a \.npy header of 4\d,\d\d\d bytes.*records.*"
                                         + fix):
        fastem.GaussianMixture(1).fit(fastem.Chunks([str(path)]))
    assert main(["fit", str(path), "-k", "1", "-o", str(tmp_path / "m.npz")]) == 1
    err = capsys.readouterr().err
    assert "structured array (records) of many fields" in err and "Write it with" not in err
