"""Errors that name a place in the data name the user's place: the row of the whole array
(not of the dask block or partition that held it), the file a chunk or its weights were
read from, and for CSV files the line as an editor counts it (1-based, header and blank
lines included, a quoted field over several lines on its own line)."""

import warnings

import numpy as np
import pytest

from fastem import Chunks, ExponentialMixture, GaussianMixture, PoissonMixture
from fastem.cli import main

da = pytest.importorskip("dask.array")

N, BLOCK, BAD = 300, 100, 250  # the bad entry: row 250, in row 50 of block (chunk) 2


def points(n=N):
    return np.abs(np.random.default_rng(0).normal(size=(n, 2))) + 1.0


def pieces(X):
    return [X[i : i + BLOCK] for i in range(0, len(X), BLOCK)]


def fitted(cls=GaussianMixture):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(2, random_state=0, max_iter=3).fit(np.round(points()))


def as_kind(X, kind, tmp_path, weights=None):
    """(data, sample_weight) of ``X`` (and ``weights``) as ``kind``, in blocks of 100 rows."""
    if kind == "array":
        return X, weights
    if kind == "dask array":
        return (da.from_array(X, chunks=(BLOCK, -1)),
                None if weights is None else da.from_array(weights, chunks=BLOCK))
    if kind == "dask array, weights an array":
        return da.from_array(X, chunks=(BLOCK, -1)), weights
    if kind == "Chunks":
        return Chunks(pieces(X), sample_weights=None if weights is None else pieces(weights)), None
    files, weight_files = [], []
    for i, part in enumerate(pieces(X)):
        files.append(str(tmp_path / f"part-{i}.npy"))
        np.save(files[-1], part)
        if weights is not None:
            weight_files.append(str(tmp_path / f"weights-{i}.npy"))
            np.save(weight_files[-1], weights[i * BLOCK : (i + 1) * BLOCK])
    return Chunks(files, sample_weights=weight_files or None), None


# Where each kind names the bad entry (row 250, row 50 of the third block).
ROW = {
    "array": "row 250 (0-based)",
    "dask array": "row 250 (0-based; row 50 of its block 2)",
    "Chunks": "chunk 2 holds {value} in row 50 (0-based)",
    "Chunks of files": "chunk 2 ('{path}/part-2.npy') holds {value} in row 50 (0-based)",
}


def message(call):
    with pytest.raises(ValueError) as caught:
        result = call()
        getattr(result, "compute", lambda: None)()  # a dask array's outputs are lazy
    return str(caught.value)


@pytest.mark.parametrize("kind", ["array", "dask array", "Chunks", "Chunks of files"])
@pytest.mark.parametrize("method", ["fit", "predict", "score"])
def test_a_whole_number_that_float64_rounds_is_named_at_its_row(kind, method, tmp_path):
    X = np.round(points()).astype(np.int64)
    X[BAD, 1] = 2**53 + 1
    data, _ = as_kind(X, kind, tmp_path)
    model = fitted() if method != "fit" else GaussianMixture(2, max_iter=2)
    text = message(lambda: getattr(model, method)(data))
    where = ROW[kind].format(value=2**53 + 1, path=tmp_path)
    assert where in text and "of column 1" in text, text


def test_a_dask_dataframe_names_the_row_by_its_index_label():
    """A partition's first row in the whole frame is not known while it is checked: the
    row's index label (here the row's position in the whole frame) is named."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X = np.round(points()).astype(np.int64)
    X[BAD, 1] = 2**53 + 1
    frame = dd.from_pandas(pd.DataFrame(X, columns=["a", "b"]).assign(c=0.5), npartitions=3)
    text = message(lambda: GaussianMixture(2, max_iter=2).fit(frame))
    assert "in row 50 (0-based; index label 250) of column 'b'" in text, text
    assert "partition 2 of the dask DataFrame X" in text, text


WEIGHT_KINDS = ["array", "dask array", "dask array, weights an array", "Chunks", "Chunks of files"]

WEIGHT_AT = {
    "array": "at index 250",
    "dask array": "at index 250 (index 50 of its block 2)",
    "dask array, weights an array": "at index 250",
    "Chunks": "chunk 2, its weights: sample_weight {holds} at index 50",
    "Chunks of files": "chunk 2 ('{path}/part-2.npy'), its weights, read from "
                       "'{path}/weights-2.npy': sample_weight {holds} at index 50",
}


@pytest.mark.parametrize("kind", WEIGHT_KINDS)
def test_a_weight_that_float64_rounds_is_named_at_its_index(kind, tmp_path):
    w = np.ones(N, dtype=np.int64)
    w[BAD] = 2**53 + 1
    data, weights = as_kind(points(), kind, tmp_path, w)
    text = message(lambda: GaussianMixture(2, max_iter=2).fit(data, sample_weight=weights))
    holds = "holds 9007199254740993"
    where = WEIGHT_AT[kind].format(path=tmp_path, holds=holds)
    assert where in text if kind.startswith("Chunks") else f"{holds} {where}" in text, text


@pytest.mark.parametrize("kind", WEIGHT_KINDS)
@pytest.mark.parametrize("value, what", [(-1.0, "negative"), (np.nan, "NaN or infinite"),
                                         (np.inf, "NaN or infinite")])
def test_a_weight_no_fit_takes_is_named_at_its_index(kind, value, what, tmp_path):
    w = np.ones(N)
    w[[BAD, BAD + 10]] = value
    data, weights = as_kind(points(), kind, tmp_path, w)
    text = message(lambda: GaussianMixture(2, max_iter=2).fit(data, sample_weight=weights))
    assert f"2 {what} value(s)" in text, text
    where = WEIGHT_AT[kind].format(path=tmp_path, holds="contains")
    first = "the first " + ("at index 50" if kind.startswith("Chunks") else "at index 250")
    assert first in text, text
    if kind.startswith("Chunks"):
        assert where.split(": sample_weight")[0] in text, text
    if kind == "dask array":
        assert "in block 2" in text, text


@pytest.mark.parametrize("method", ["fit", "predict"])
@pytest.mark.parametrize("value", [np.inf, np.nan])
def test_a_non_finite_entry_of_a_dask_array_is_named_at_its_row(method, value):
    X = points()
    X[BAD, 1] = value
    model = fitted() if method == "predict" else GaussianMixture(2, max_iter=2)
    text = message(lambda: getattr(model, method)(da.from_array(X, chunks=(BLOCK, -1))))
    assert (f"The first is {float(value)!r}, in row 250 (0-based) of column 1" in text
            and "block 2" in text), text


@pytest.mark.parametrize("method", ["fit", "predict", "score"])
def test_a_non_finite_entry_of_a_dask_dataframe_is_named_in_its_column(method):
    """A Dask DataFrame's column is named by its name, as a pandas DataFrame's is."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X = points()
    X[BAD, 1] = np.nan
    frame = dd.from_pandas(pd.DataFrame(X, columns=["length", "width"]), npartitions=3)
    model = fitted() if method != "fit" else GaussianMixture(2, max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the model was fitted without feature names
        text = message(lambda: getattr(model, method)(frame))
    assert "The first is nan, in row 250 (0-based) of column 'width'" in text, text


@pytest.mark.parametrize("kind, where", [
    ("array", "X contains {n} {what} value(s)"),  # all in rows 240 to 270, in chunk 2
    ("Chunks", "chunk 2 contains {n} {what} value(s)"),
    ("Chunks of files", "chunk 2 ('{path}/part-2.npy') contains {n} {what} value(s)"),
])
@pytest.mark.parametrize("missing", ["error", "em"])
@pytest.mark.parametrize("method", ["fit", "predict"])
def test_a_non_finite_entry_is_named_at_its_row(kind, where, missing, method, tmp_path):
    """Infinities (and NaN, unless they are missing values) had been counted, not placed."""
    X = points()
    X[BAD, 1] = np.inf
    X[BAD + 20, 0] = -np.inf
    X[BAD - 10, 0] = np.nan  # before them: a missing value with missing='em'
    data, _ = as_kind(X, kind, tmp_path)
    model = (fitted() if method == "predict" else GaussianMixture(2, max_iter=2)).set_params(
        missing=missing)
    text = message(lambda: getattr(model, method)(data))
    what = "infinite" if missing == "em" else "NaN or infinite"
    where = where.format(what=what, path=tmp_path, n=2 if missing == "em" else 3)
    first = (BAD if missing == "em" else BAD - 10) - (200 if kind.startswith("Chunks") else 0)
    entry = "inf" if missing == "em" else "nan"
    column = 1 if missing == "em" else 0
    assert where in text, text
    assert f"The first is {entry}, in row {first} (0-based) of column {column}." in text, text


@pytest.mark.parametrize("kind, where", [
    ("array", "X[250, 0] = 0.5"),
    ("dask array", "X[250, 0] = 0.5"),
    ("Chunks", "chunk 2: PoissonMixture"),
])
@pytest.mark.parametrize("method", ["fit", "partial_fit", "score"])
def test_a_count_that_is_not_whole_is_named_at_its_row(kind, where, method, tmp_path):
    X = np.round(points())
    X[BAD, 0] = 0.5
    data, _ = as_kind(X, kind, tmp_path)
    model = fitted(PoissonMixture) if method == "score" else PoissonMixture(2, max_iter=2)
    text = message(lambda: getattr(model, method)(data))
    assert where in text, text
    if kind == "Chunks":
        assert "X[50, 0] = 0.5" in text, text


@pytest.mark.parametrize("kind, where", [
    ("array", "the first is X[250, 1] = -0.5"),
    ("dask array", "the first is X[250, 1] = -0.5"),
    ("Chunks", "chunk 2: "),
])
@pytest.mark.parametrize("cls", [PoissonMixture, ExponentialMixture])
@pytest.mark.parametrize("method", ["fit", "partial_fit", "score"])
def test_a_negative_value_is_named_at_its_row(kind, where, cls, method, tmp_path):
    """The first negative entry, not the smallest (named too, with its feature)."""
    X = np.round(points())
    X[BAD, 1], X[BAD + 5, 0] = -0.5, -3.0
    data, _ = as_kind(X, kind, tmp_path)
    model = fitted(cls) if method == "score" else cls(2, max_iter=2)
    text = message(lambda: getattr(model, method)(data))
    assert "the smallest is -3, in feature 0" in text and where in text, text
    if kind == "Chunks":
        assert "the first is X[50, 1] = -0.5" in text, text


@pytest.mark.parametrize("kind", ["array", "dask array"])
def test_a_row_with_nothing_observed_is_named(kind, tmp_path):
    X = points()
    X[[BAD, BAD + 1]] = np.nan
    data, _ = as_kind(X, kind, tmp_path)
    text = message(lambda: GaussianMixture(2, missing="em", max_iter=2).fit(data))
    assert "whose every entry is missing (NaN), the first row 250 (0-based)" in text, text


def test_a_family_check_without_first_row_still_runs_on_dask_blocks():
    """A family whose ``_check_data`` takes only ``X`` (as written before ``first_row``)
    is called without it on each block."""
    seen = []

    class Checked(ExponentialMixture):
        def _check_data(self, X):
            seen.append(X.shape[0])
            super()._check_data(X)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Checked(2, max_iter=2).fit(da.from_array(points(), chunks=(BLOCK, -1)))
    assert sorted(seen) == [BLOCK] * 3


class _UnhashableCheck:
    """A callable object with ``__eq__`` and so without a hash."""

    def __init__(self):
        self.seen = []

    def __eq__(self, other):
        return self is other

    def __call__(self, X):
        self.seen.append(X.shape[0])


def _signatureless(X):
    _signatureless.seen.append(X.shape[0])


@pytest.mark.parametrize("make", [
    pytest.param(_UnhashableCheck, id="unhashable callable"),
    pytest.param(lambda: staticmethod(_signatureless), id="no signature"),
])
def test_a_family_check_of_any_callable_still_runs(make, monkeypatch):
    """Before first_row, a family's _check_data could be any callable of X."""
    import inspect

    real_signature = inspect.signature

    def signature(function, *args, **kwargs):  # as for a compiled function
        if function is _signatureless:
            raise ValueError("no signature found")
        return real_signature(function, *args, **kwargs)

    monkeypatch.setattr(inspect, "signature", signature)
    _signatureless.seen = []
    hook = make()

    class Checked(GaussianMixture):
        _check_data = hook

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Checked(2, max_iter=2).fit(points())
    seen = hook.seen if isinstance(hook, _UnhashableCheck) else _signatureless.seen
    assert seen and seen[0] == N


# ----------------------------------------------------------------------
# CSV files: lines as an editor counts them


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    return status, capsys.readouterr().err


@pytest.mark.parametrize("text, where", [
    # a quoted field over two lines before the bad value: the value is on the second line
    ('note,a,b\n"two\nlines",1,x\n', "'x' on line 3 (data row 1), column 3 ('b')"),
    # ... after it: the value is on the record's first line
    ('a,note,b\nx,"two\nlines",1\n', "'x' on line 2 (data row 1), column 1 ('a')"),
    ('a,b,note\n1,2,"one\ntwo\nthree"\n3,x,z\n', "'x' on line 5 (data row 2), column 2 ('b')"),
    ('a,b\r\n1,2\r\n\r\n3,x\r\n', "'x' on line 4 (data row 2), column 2 ('b')"),
])
def test_a_csv_value_is_named_on_its_own_line(text, where, capsys, tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes(text.encode())
    status, err = run(capsys, "fit", path, "-k", 1, "--columns", "a,b", "-o", tmp_path / "m.npz")
    assert status == 1 and where in err, err


@pytest.mark.parametrize("argv, where", [
    (["fit", "{csv}", "-k", 1, "--columns", "a,b", "-o", "{out}"],
     "has a NaN or infinite value on line 7 (data row 3): [5.0, inf]"),
    (["fit", "{csv}", "-k", 1, "--columns", "a,b", "--missing", "em", "-o", "{out}"],
     "has an infinite value on line 7 (data row 3)"),
    (["fit", "{csv}", "-k", 1, "--columns", "a,b", "--dtype", "float32", "-o", "{out}"],
     "holds 16777217 on line 5 (data row 2), column 2 ('b')"),
    (["fit", "{csv}", "-k", 1, "--columns", "b,a", "--dtype", "float32", "-o", "{out}"],
     "holds 16777217 on line 5 (data row 2), column 2 ('b')"),
])
def test_a_csv_value_checked_after_reading_is_named_by_its_line(argv, where, capsys, tmp_path):
    """Infinities and whole numbers that the dtype rounds are found after the file is read:
    they are named by line (blank lines and a quoted field over two lines counted) and
    by the file's column, as the reader's own errors are, not by data row alone."""
    path = tmp_path / "data.csv"
    last = "inf" if "inf" in where else "6"
    path.write_text(f'a,b,note\n1,2,"x\ny"\n\n3,16777217,z\n\n5,{last},w\n')
    status, err = run(capsys, *[str(a).format(csv=path, out=tmp_path / "m.npz") for a in argv])
    assert status == 1 and where in err, err


def test_chunks_of_csv_files_advise_the_python_parameter(tmp_path):
    """The reader's advice for a Chunks user names ``columns=``, not only the command
    line's --columns."""
    path = tmp_path / "part.csv"
    path.write_text("a,b\n1,2\n3,x\n")
    text = message(lambda: GaussianMixture(1).fit(Chunks([path])))
    assert "on line 3 (data row 2), column 2 ('b')" in text
    assert "columns= in fastem.Chunks" in text, text


@pytest.mark.parametrize("missing, what", [("error", "NaN or infinite"), ("em", "infinite")])
def test_an_infinity_in_a_csv_chunk_is_named_by_its_line(missing, what, tmp_path):
    (tmp_path / "part.csv").write_text('a,b,note\n1,2,"x\ny"\n\n3,4,z\n5,-inf,w\n')
    text = message(lambda: GaussianMixture(1, missing=missing).fit(
        Chunks([tmp_path / "part.csv"], columns=["a", "b"])))
    assert f"contains 1 {what} value(s)" in text, text
    assert "The first is -inf, on line 6 (data row 3), column 2 ('b')." in text, text


FAMILY_CHECKS = [  # (family, bad value, how the first bad entry is named)
    ("exponential", "-1.5", "the first is -1.5"),
    ("poisson", "-1.5", "the first is -1.5"),
    ("poisson", "4.5", "e.g. 4.5"),
]


def _family_csv(tmp_path, bad, empty=",,z"):
    """A CSV file whose bad entry is on line 9, data row 4: below a comment, a quoted field
    over two lines, blank lines, CRLF line ends and the row ``empty`` (with nothing
    observed, left out of a fit with --missing em)."""
    path = tmp_path / "data.csv"
    path.write_bytes(f'# counts\r\na,b,note\r\n1,2,"x\r\ny"\r\n\r\n{empty}\r\n3,4,w\r\n'
                     f'\r\n5,{bad},v\r\n'.encode())
    return path


AT = "on line 9 (data row 4), column 2 ('b')"


@pytest.mark.parametrize("family, bad, entry", FAMILY_CHECKS)
@pytest.mark.parametrize("command", ["fit", "select", "predict", "score", "impute"])
def test_a_family_check_names_a_csv_entry_by_its_line_and_column(family, bad, entry, command,
                                                                  capsys, tmp_path):
    """A negative value or a count that is not whole was named X[i, j]: a place in an
    array that the user of a file never saw, its row counted without the header, the
    comment, the blank lines and the rows left out."""
    path = _family_csv(tmp_path, bad)
    model = tmp_path / "m.npz"
    (tmp_path / "ok.csv").write_text("a,b\n1,2\n3,4\n5,6\n")
    if command in ("fit", "select"):
        k = ["-k", 1] if command == "fit" else ["--k", "1-2"]
        argv = [command, path, "--family", family, *k, "--columns", "a,b", "--missing", "em",
                "-o", model]
    else:
        assert run(capsys, "fit", tmp_path / "ok.csv", "--family", family, "-k", 1,
                   "--missing", "em", "-o", model)[0] == 0
        argv = [command, model, path, *(["-o", tmp_path / "out.csv"] if command != "score"
                                          else [])]
    status, err = run(capsys, *argv)
    assert status == 1 and f"{entry} {AT} of '{path}'" in err, err
    assert "X[" not in err, err


@pytest.mark.parametrize("family, bad, entry", FAMILY_CHECKS)
def test_a_family_check_names_an_entry_of_a_csv_chunk_by_its_line(family, bad, entry, tmp_path):
    cls = {"exponential": ExponentialMixture, "poisson": PoissonMixture}[family]
    path = _family_csv(tmp_path, bad, empty=",2,z")
    text = message(lambda: cls(1, missing="em").fit(Chunks([path], columns=["a", "b"])))
    assert f"{entry} {AT}" in text and "X[" not in text, text


def test_a_row_with_nothing_observed_is_named_by_its_line_in_a_csv_chunk(tmp_path):
    path = _family_csv(tmp_path, "4")
    text = message(lambda: GaussianMixture(1, missing="em").fit(
        Chunks([path], columns=["a", "b"])))
    assert "1 row(s) whose every entry is missing (NaN), the first on line 6 (data row 2)" in (
        text), text
