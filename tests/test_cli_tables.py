"""The command line on real-world tables: column names, CSV quirks, summaries, help, progress."""

import contextlib
import errno
import importlib.util
import io
import json
import os
import re
import sys

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import fastem
import fastem._tables
from fastem.cli import build_parser, main
from test_tables import NFC, NFD, table_file

pd = pytest.importorskip("pandas")
_HAVE_PYARROW = importlib.util.find_spec("pyarrow") is not None


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _saved_model_run(tmp_path, capsys, frame, command, out, *options):
    """A 2-component model fitted to ``frame``, saved as m.npz, after ``fastem COMMAND m.npz
    d.parquet OPTIONS -o OUT --quiet`` succeeded on it."""
    model = fastem.GaussianMixture(2, random_state=0).fit(frame)
    model.save(tmp_path / "m.npz")
    status, _, err = run(capsys, command, tmp_path / "m.npz", tmp_path / "d.parquet", *options,
                         "-o", tmp_path / out, "--quiet")
    assert status == 0, err
    return model


@pytest.fixture(scope="module")
def faithful(tmp_path_factory):
    """Old Faithful-like data: eruptions (min) and waiting (min), 272 rows."""
    rng = np.random.default_rng(1)
    short = rng.normal([2.0, 54.0], [0.25, 6.0], (98, 2))
    long = rng.normal([4.3, 80.0], [0.4, 6.0], (174, 2))
    frame = pd.DataFrame(np.concatenate([short, long]).round(3), columns=["eruptions", "waiting"])
    d = tmp_path_factory.mktemp("faithful")
    paths = {"frame": frame, "dir": d}
    paths["csv"] = d / "faithful.csv"
    frame.to_csv(paths["csv"], index=False)
    paths["reordered"] = d / "reordered.csv"
    frame[["waiting", "eruptions"]].to_csv(paths["reordered"], index=False)
    paths["indexed"] = d / "indexed.csv"
    frame.to_csv(paths["indexed"])  # pandas' default: an unnamed index column first
    paths["model"] = d / "model.npz"
    assert main(["fit", str(paths["csv"]), "-k", "2", "-o", str(paths["model"]), "--quiet"]) == 0
    return paths


def test_fit_records_column_names(faithful):
    model = fastem.load(faithful["model"])
    assert_array_equal(model.feature_names_in_, ["eruptions", "waiting"])


def test_columns_option_does_not_swallow_the_data_path(faithful, capsys, tmp_path):
    # DATA after --columns: the option takes one comma-separated value
    status, out, err = run(capsys, "fit", "--columns", "waiting,eruptions", faithful["csv"],
                           "-k", 2, "-o", tmp_path / "m.npz", "--json")
    assert status == 0, err
    assert json.loads(out)["feature_names_in"] == ["waiting", "eruptions"]
    status, out, err = run(capsys, "fit", "--columns", "waiting", "--columns", "eruptions",
                           faithful["csv"], "-k", 2, "-o", tmp_path / "m2.npz")
    assert status == 0, err
    assert list(fastem.load(tmp_path / "m2.npz").feature_names_in_) == ["waiting", "eruptions"]


def test_predict_matches_columns_by_name(faithful, capsys, tmp_path):
    model = fastem.load(faithful["model"])
    expected = model.predict(faithful["frame"])
    status, _, err = run(capsys, "predict", faithful["model"], faithful["reordered"],
                         "-o", tmp_path / "labels.npy")
    assert status == 0
    assert "matched by name" in err and err.count("\n") == 1
    assert_array_equal(np.load(tmp_path / "labels.npy"), expected)
    status, out, _ = run(capsys, "score", faithful["model"], faithful["reordered"], "--json",
                         "--quiet")
    assert status == 0
    assert json.loads(out)["mean_log_likelihood"] == pytest.approx(model.score(faithful["frame"]))


@pytest.mark.parametrize("ext", [".csv", ".parquet"])
@pytest.mark.parametrize("command", ["predict", "score", "impute"])
def test_the_note_of_columns_in_another_order_names_the_file_s_column(faithful, capsys, tmp_path,
                                                                      ext, command):
    # The note counted among the model's columns alone: a file of 'id', 'waiting' and
    # 'eruptions' was said to hold 'waiting' in its column 0, which is 'id'.
    frame = faithful["frame"]
    data = table_file(tmp_path / f"d{ext}", ["id", "waiting", "eruptions"],
                      np.c_[np.arange(len(frame)), frame[["waiting", "eruptions"]]])
    out = [] if command == "score" else ["-o", tmp_path / f"out{ext}"]
    status, _, err = run(capsys, command, faithful["model"], data, *out)
    assert status == 0, err
    assert (f"fastem: note: {str(data)!r} has the model's columns in another order (the "
            "model's column 0 (0-based), 'eruptions', is column 2 of the file); they are "
            "matched by name\n") in err
    # the model's columns in its order among others: nothing to note
    data = table_file(tmp_path / f"d{ext}", ["eruptions", "id", "waiting"],
                      np.c_[frame["eruptions"], np.arange(len(frame)), frame["waiting"]])
    status, _, err = run(capsys, command, faithful["model"], data, *out)
    assert status == 0 and "another order" not in err, err


def test_predict_refuses_data_without_the_model_columns(faithful, capsys, tmp_path):
    other = tmp_path / "other.csv"
    faithful["frame"].rename(columns={"waiting": "wait"}).to_csv(other, index=False)
    status, out, err = run(capsys, "predict", faithful["model"], other, "-o", tmp_path / "l.npy")
    assert status == 1 and out == "" and err.count("\n") == 1
    assert "has no column 'waiting'" in err and "fitted on the columns ['eruptions', 'waiting']" in err
    status, _, err = run(capsys, "predict", faithful["model"], faithful["csv"], "--columns",
                         "eruptions", "-o", tmp_path / "l.npy")
    assert status == 1 and "fitted on the columns ['eruptions', 'waiting']; select those" in err


def test_pandas_index_column_is_not_a_feature(faithful, capsys, tmp_path):
    status, out, err = run(capsys, "fit", faithful["indexed"], "-k", 2, "-o",
                           tmp_path / "m.npz", "--json")
    assert status == 0
    assert "unnamed column" in err and "index=False" in err and err.count("\n") == 1
    result = json.loads(out)
    assert result["n_features_in"] == 2 and result["feature_names_in"] == ["eruptions", "waiting"]
    reference = fastem.load(faithful["model"])
    assert_array_equal(fastem.load(tmp_path / "m.npz").means_, reference.means_)


def test_headerless_bom_csv_keeps_every_row(capsys, tmp_path):
    X = np.random.default_rng(0).normal(size=(600, 2))
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(f"{float(a)!r},{float(b)!r}" for a, b in X).encode())
    status, out, _ = run(capsys, "fit", path, "-k", 2, "-o", tmp_path / "m.npz", "--json")
    assert status == 0 and json.loads(out)["n_samples"] == 600
    status, _, _ = run(capsys, "predict", tmp_path / "m.npz", path, "-o", tmp_path / "l.npy")
    assert np.load(tmp_path / "l.npy").shape == (600,)


@pytest.mark.parametrize("content, expected", [
    ("a,b\n", "has a header row but no data rows"),
    ("a,b\n1,2\n3,\n", "missing value (an empty field) on line 3 (data row 2), column 2 ('b')"),
    ("a,b\n1,2\nNA,4\n", "missing value ('NA') on line 3 (data row 2), column 1 ('a')"),
    ("a;b\n1,5;2\n3;4\n", "has '1,5' on line 2 (data row 1), column 1 ('a'), a number with a "
     "decimal comma; fastem reads decimal points"),
    ("a,b\n1,2\n3,x\n", "the non-numeric value 'x' on line 3 (data row 2), column 2 ('b'); choose "
     "numeric columns (--columns on the command line, columns= in fastem.Chunks)"),
    ("a;b\n1;2\n3;12%\n", "has '12%' on line 3 (data row 2), column 2 ('b'): a number (12) "
     "written with a percent sign ('%'), which pandas, and fastem, read as text. Save the "
     "column as plain numbers (e.g. with pandas: df = pd.read_csv(path, sep=';'); df['b'] = "
     "pd.to_numeric(df['b'].str.replace(r'%', '', regex=True))"),
])
def test_csv_problems_give_one_line(capsys, tmp_path, content, expected):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    status, out, err = run(capsys, "fit", path, "-k", 1, "-o", tmp_path / "m.npz")
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("fastem: error: "), err
    assert expected in err


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(capsys, flag):
    assert main([flag]) == 0
    assert capsys.readouterr().out.strip() == f"fastem {fastem.__version__}"


def test_quiet_has_a_short_spelling(faithful, capsys, tmp_path):
    status, out, err = run(capsys, "fit", faithful["indexed"], "-k", 2, "-o", tmp_path / "m.npz", "-q")
    assert status == 0 and err == "" and out.startswith("fitted 272 samples")
    status, _, err = run(capsys, "fit", faithful["indexed"], "-k", 2, "-o", tmp_path / "m.npz")
    assert status == 0 and "unnamed column, the row index" in err


def test_every_option_has_help_and_every_command_examples():
    parser = build_parser()
    subparsers = parser._subparsers._group_actions[0].choices
    for name, sub in subparsers.items():
        assert "examples:" in sub.format_help(), name
        for action in sub._actions:
            assert action.help, f"{name} {action.option_strings or action.dest} has no help"
    assert "examples:" in parser.format_help()


def _counts_csv(tmp_path):
    rng = np.random.default_rng(0)
    counts = np.concatenate([rng.poisson(2.0, 300), rng.poisson(15.0, 200)])
    path = tmp_path / "visits.csv"
    pd.DataFrame({"visits": counts}).to_csv(path, index=False)
    return path


def test_family_summaries(capsys, tmp_path):
    path = _counts_csv(tmp_path)
    status, out, _ = run(capsys, "fit", path, "-k", 2, "--family", "poisson", "-o",
                         tmp_path / "p.npz")
    assert status == 0
    assert "rate visits" in out and "mean" not in out and "array of shape" not in out
    status, out, _ = run(capsys, "info", tmp_path / "p.npz")
    header = next(line for line in out.splitlines() if line.split()[0] == "component")
    assert header.split() == ["component", "weight", "rate", "visits"]
    rates = sorted(float(line.split()[2]) for line in out.splitlines()[-2:])
    assert rates == pytest.approx([2.0, 15.0], rel=0.15)
    status, out, _ = run(capsys, "fit", path, "-k", 2, "--family", "exponential", "-o",
                         tmp_path / "e.npz")
    assert "scale visits" in out and "rate visits" in out and "array of shape" not in out
    status, out, _ = run(capsys, "info", tmp_path / "e.npz", "--json")
    components = json.loads(out)["components"]
    model = fastem.load(tmp_path / "e.npz")
    assert components["scale visits"] == model.scales_[:, 0].tolist()


def test_select_family_and_defaults(capsys, tmp_path):
    path = _counts_csv(tmp_path)
    status, out, err = run(capsys, "select", path, "--family", "poisson", "--k", "1-3",
                           "-o", tmp_path / "best.npz", "--json")
    assert status == 0, err
    result = json.loads(out)
    assert result["best_params"] == {"family": "poisson", "n_components": 2}
    assert isinstance(fastem.load(tmp_path / "best.npz"), fastem.PoissonMixture)
    args = build_parser().parse_args(["select", "data.csv"])
    assert args.covariance is None and args.k.values(100, "d") == list(range(1, 10))  # as in Python


def test_select_defaults_to_every_covariance_type(faithful, capsys):
    status, out, _ = run(capsys, "select", faithful["csv"], "--k", "1-2", "--json")
    assert status == 0
    assert {r["covariance_type"] for r in json.loads(out)["table"]} == {
        "full", "tied", "diag", "spherical"}


def test_select_progress_shows_cell_and_restart(faithful, capsys):
    status, _, err = run(capsys, "select", faithful["csv"], "--k", "1-2", "--covariance",
                         "full,diag", "--n-init", 2, "--progress")
    assert status == 0
    lines = err.splitlines()
    cells = {re.search(r"select (\d)/4 .*?  (\w+) K=(\d)  init (\d)/2", line).groups()
             for line in lines}
    assert {(c, t, k) for c, t, k, _ in cells} == {
        ("1", "full", "1"), ("2", "full", "2"), ("3", "diag", "1"), ("4", "diag", "2")}
    assert {i for *_, i in cells} == {"1", "2"}


@pytest.mark.parametrize("family", ["gaussian", "exponential", "poisson"])
def test_fit_defaults_are_those_of_python(capsys, tmp_path, family):
    path = _counts_csv(tmp_path)
    status, _, err = run(capsys, "fit", path, "-k", 2, "--family", family, "-o", tmp_path / "m.npz")
    assert status == 0, err
    model = fastem.load(tmp_path / "m.npz")
    python = type(model)(2)
    for name in ("max_iter", "tol", "n_init", "init_params", "accelerate"):
        assert getattr(model, name) == getattr(python, name), name
    assert model.random_state == 0  # the one deliberate difference: fits repeat by default


def test_sample_writes_the_model_column_names(faithful, capsys, tmp_path):
    for output in ("s.csv", "s.parquet"):
        status, _, err = run(capsys, "sample", faithful["model"], "-n", 5, "-o", tmp_path / output)
        assert status == 0, err
        read = pd.read_csv if output.endswith(".csv") else pd.read_parquet
        assert list(read(tmp_path / output).columns) == ["eruptions", "waiting"]


def test_column_names_with_commas_and_numbers(capsys, tmp_path):
    frame = pd.DataFrame({"weight, kg": [60.0, 72, 81, 55, 90, 67], "2020": [1.0, 5, 3, 2, 4, 6],
                          "1": [9.0, 8, 7, 6, 5, 4]})
    path = tmp_path / "people.csv"
    frame.to_csv(path, index=False)
    # a quoted name in a comma-separated list; a name that reads as a number is a name
    status, out, err = run(capsys, "fit", path, "--columns", '"weight, kg",1', "-k", 1,
                           "-o", tmp_path / "m.npz", "--json")
    assert status == 0, err
    assert json.loads(out)["feature_names_in"] == ["weight, kg", "1"]
    # the whole value is one of the names: taken as it is
    status, out, err = run(capsys, "fit", path, "--columns", "weight, kg", "--columns", "2020",
                           "-k", 1, "-o", tmp_path / "m2.npz", "--json")
    assert status == 0, err
    assert json.loads(out)["feature_names_in"] == ["weight, kg", "2020"]
    model = fastem.load(tmp_path / "m2.npz")
    status, out, _ = run(capsys, "info", tmp_path / "m2.npz")
    assert "features: 2 ('weight, kg', '2020')" in out
    # predict finds the names again; outputs quote them in their CSV header
    status, _, err = run(capsys, "predict", tmp_path / "m2.npz", path, "-o", tmp_path / "l.csv")
    assert status == 0, err
    assert_array_equal(pd.read_csv(tmp_path / "l.csv")["component"],
                       model.predict(frame[["weight, kg", "2020"]]))
    status, _, err = run(capsys, "sample", tmp_path / "m2.npz", "-n", 3, "-o", tmp_path / "s.csv")
    assert status == 0, err
    assert list(pd.read_csv(tmp_path / "s.csv").columns) == ["weight, kg", "2020"]


@pytest.mark.parametrize("line_break", ["\n", "\r", "\r\n"])
@pytest.mark.parametrize("writer", ["sample", "impute parquet", "impute npy"])
def test_csv_outputs_quote_names_and_text_with_line_breaks(capsys, tmp_path, line_break, writer):
    # A CSV field with a line break of either kind is quoted, or a reader splits the row there.
    if writer != "sample":
        pytest.importorskip("pyarrow")
    name, label = f"length{line_break}(cm)", f"seen{line_break}twice"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"site": [label] + ["once"] * 39, name: rng.normal(size=40),
                          "width": rng.normal(size=40)})
    frame.loc[3, "width"] = np.nan
    frame.to_parquet(tmp_path / "d.parquet")
    model = tmp_path / "m.npz"
    status, _, err = run(capsys, "fit", tmp_path / "d.parquet", "--columns", name, "--columns", "width",
                         "--missing", "em", "-k", 1, "-o", model, "--quiet")
    assert status == 0, err
    out = tmp_path / "out.csv"
    if writer == "sample":
        argv, names, rows = ("sample", model, "-n", 40, "-o", out), [name, "width"], 40
    elif writer == "impute parquet":
        argv, names, rows = ("impute", model, tmp_path / "d.parquet", "-o", out), list(frame), 40
    else:
        np.save(tmp_path / "d.npy", frame[[name, "width"]].to_numpy())
        argv, names, rows = ("impute", model, tmp_path / "d.npy", "-o", out), [name, "width"], 40
    status, _, err = run(capsys, *argv)
    assert status == 0, err
    written = pd.read_csv(out)
    assert list(written.columns) == names and len(written) == rows
    if writer == "impute parquet":
        assert written["site"][0] == label
    assert fastem._tables.read_csv(out, columns=[name, "width"]).data.shape == (rows, 2)


def _model_named(names, tmp_path, missing=False):
    """A model fitted on a frame (also saved as d.parquet) with columns ``names``."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(0, 1, (60, len(names))), columns=names)
    if missing:
        frame.iloc[3, 0] = np.nan
        frame.to_parquet(tmp_path / "d.parquet")
    model = fastem.GaussianMixture(1, missing="em" if missing else "error", random_state=0)
    model.fit(frame).save(tmp_path / "m.npz")
    return tmp_path / "m.npz"


@pytest.mark.parametrize("names", [["450", "500"], ["NA", "nan"], ["1.5", "?"]])
@pytest.mark.parametrize("writer", ["sample", "impute parquet"])
def test_names_that_read_as_data_are_written_so_that_they_read_back(capsys, tmp_path, names,
                                                                   writer):
    """A header of names that read as numbers or missing values ('450,500') was written
    as it is, and read back as a row of data: a fit on the output had a row too many, or
    refused a missing value. Such a header is quoted, and read back as the header."""
    if writer != "sample":
        pytest.importorskip("pyarrow")
    model = _model_named(names, tmp_path, missing=writer != "sample")
    argv = (("sample", model, "-n", 7) if writer == "sample"
            else ("impute", model, tmp_path / "d.parquet"))
    status, _, err = run(capsys, *argv, "-o", tmp_path / "s.csv")
    assert status == 0, err
    status, out, err = run(capsys, "fit", tmp_path / "s.csv", "-k", 1, "--json",
                           "-o", tmp_path / "m2.npz")
    assert status == 0, err
    assert json.loads(out)["feature_names_in"] == names
    assert json.loads(out)["n_samples"] == (7 if writer == "sample" else 60)
    written = pd.read_csv(tmp_path / "s.csv", keep_default_na=False)
    assert list(written.columns) == names


@pytest.mark.parametrize("names, at", [(["", "b"], 1), (["Unnamed: 0", "b"], 1), (["a", ""], 2)])
@pytest.mark.parametrize("writer", ["sample", "impute parquet"])
def test_a_name_that_no_csv_header_keeps_is_refused(capsys, tmp_path, names, at, writer):
    """An empty first name (or 'Unnamed: 0') marks pandas' row index, which readers leave
    out: a column so named was written, and lost when the output was read. An empty name
    elsewhere is read as 'Unnamed: j'. Such a name is refused; .parquet keeps it."""
    pytest.importorskip("pyarrow")
    model = _model_named(names, tmp_path, missing=writer != "sample")
    argv = (("sample", model, "-n", 7) if writer == "sample"
            else ("impute", model, tmp_path / "d.parquet"))
    status, _, err = run(capsys, *argv, "-o", tmp_path / "s.csv")
    assert status == 1 and not (tmp_path / "s.csv").exists()
    assert f"cannot write the column name {names[at - 1]!r} (column {at})" in err, err
    assert "write the output as .parquet" in err
    status, _, err = run(capsys, *argv, "-o", tmp_path / "s.parquet")
    assert status == 0, err
    assert list(pd.read_parquet(tmp_path / "s.parquet").columns) == names


@pytest.mark.parametrize("name", [" ", "sep=;"])
def test_a_header_of_one_name_that_reads_as_another_line_is_refused(capsys, tmp_path, name):
    """The one name ' ' was written as a blank line, which readers skip (the first row of
    data became the header), and 'sep=;' as a spreadsheet's note of the delimiter."""
    model = _model_named([name], tmp_path)
    status, _, err = run(capsys, "sample", model, "-n", 7, "-o", tmp_path / "s.csv")
    assert status == 1 and not (tmp_path / "s.csv").exists()
    assert f"cannot write the column name {name!r} (column 1)" in err, err


@pytest.mark.parametrize("argv, expected", [
    (["fit", "--columns", "a", "b", "{csv}", "-k", "1", "-o", "{t}/m.npz"],
     "unrecognized arguments: {csv}; --columns takes one value: give several columns "
     "comma-separated (--columns a,b) or repeat the option"),
    (["fit", "{csv}", "--columns", "", "-k", "1", "-o", "{t}/m.npz"], "--columns '' names no column"),
    (["fit", "{csv}", "--columns", "a,c", "-k", "1", "-o", "{t}/m.npz"],
     "column 'c' not found in '{csv}'; its columns are ['a', 'b']"),
])
def test_columns_mistakes_are_one_line(capsys, tmp_path, argv, expected):
    path = tmp_path / "ab.csv"
    path.write_text("a,b\n1,2\n3,4\n5,7\n")
    argv = [a.format(csv=path, t=tmp_path) for a in argv]
    status, out, err = run(capsys, *argv)
    assert status in (1, 2) and out == "" and err.count("\n") == 1
    assert expected.format(csv=path) in err


@pytest.mark.parametrize("command", ["predict", "score", "impute"])
@pytest.mark.parametrize("ext", [".csv", ".parquet"])
def test_named_data_under_a_model_without_names_gets_a_note(faithful, capsys, tmp_path, command,
                                                            ext):
    # The model cannot match names it does not have: the columns are taken in the file's
    # order, which is said, as the opposite case says it.
    if ext == ".parquet":
        pytest.importorskip("pyarrow")
    frame = faithful["frame"]
    np.save(tmp_path / "points.npy", frame.to_numpy())
    model = tmp_path / "m.npz"
    assert run(capsys, "fit", tmp_path / "points.npy", "-k", 2, "-o", model, "--quiet")[0] == 0
    data = tmp_path / f"swapped{ext}"
    swapped = frame[["waiting", "eruptions"]]
    swapped.to_csv(data, index=False) if ext == ".csv" else swapped.to_parquet(data)
    out = [] if command == "score" else ["-o", tmp_path / f"out{ext}"]
    status, _, err = run(capsys, command, model, data, *out)
    assert status == 0, err
    assert err == (f"fastem: note: the model has no column names; the columns of '{data}' are "
                   "taken as its features, in order: ['waiting', 'eruptions'] (choose others, "
                   "or another order, with --columns)\n")
    for quiet in (["--columns", "eruptions,waiting"], ["--quiet"]):
        status, _, err = run(capsys, command, model, data, *out, *quiet)
        assert status == 0 and err == "", err
    # the names that sample writes for such a model, x0, x1, in order, need no note
    assert run(capsys, "sample", model, "-n", 20, "-o", tmp_path / f"drawn{ext}")[0] == 0
    status, _, err = run(capsys, command, model, tmp_path / f"drawn{ext}", *out)
    assert status == 0 and err == "", err


def test_data_without_names_under_a_named_model_gets_a_note(faithful, capsys, tmp_path):
    np.save(tmp_path / "points.npy", faithful["frame"].to_numpy())
    status, _, err = run(capsys, "predict", faithful["model"], tmp_path / "points.npy",
                         "-o", tmp_path / "l.npy")
    assert status == 0
    assert err == (f"fastem: note: '{tmp_path / 'points.npy'}' has no column names; its columns "
                   "are taken as the model's, in order: ['eruptions', 'waiting']\n")
    assert_array_equal(np.load(tmp_path / "l.npy"),
                       fastem.load(faithful["model"]).predict(faithful["frame"]))
    status, _, err = run(capsys, "score", faithful["model"], tmp_path / "points.npy", "--quiet")
    assert status == 0 and err == ""


@pytest.mark.parametrize("command", ["predict", "score", "impute"])
@pytest.mark.parametrize("ext", [".npy", ".csv"])
def test_the_note_on_data_without_names_says_which_columns_columns_chose(faithful, capsys,
                                                                        tmp_path, command, ext):
    # With --columns, the note said that DATA's columns were taken as the model's, in order,
    # where the columns chosen were: "its columns are taken as the model's, in order:
    # ['eruptions', 'waiting']" for the columns 2 and 0 of three.
    frame = faithful["frame"]
    X = np.c_[frame["waiting"], np.ones(len(frame)), frame["eruptions"]]
    path = tmp_path / f"d{ext}"
    if ext == ".npy":
        np.save(path, X)
    else:
        pd.DataFrame(X).to_csv(path, header=False, index=False)
    out = [] if command == "score" else ["-o", tmp_path / "out.npy"]
    status, _, err = run(capsys, command, faithful["model"], path, "--columns", "2,0", *out)
    assert status == 0, err
    assert err == (f"fastem: note: {str(path)!r} has no column names; its columns 2, 0 (0-based, "
                   "as --columns chose them) are taken as the model's, in order: ['eruptions', "
                   "'waiting']\n")
    if command == "predict":
        assert_array_equal(np.load(tmp_path / "out.npy"),
                           fastem.load(faithful["model"]).predict(frame))


@pytest.mark.parametrize("command", ["predict", "score", "impute"])
@pytest.mark.parametrize("model_names, data", [(True, ".npy"), (True, " without a header.csv"),
                                               (False, ".csv")])
def test_data_of_another_width_gets_no_note_that_takes_its_columns(faithful, capsys, tmp_path,
                                                                   command, model_names, data):
    # The note that DATA's columns are taken as the model's, in order, came before the error
    # that they are not as many: "its columns are taken as the model's, in order:
    # ['eruptions', 'waiting']" above "has 3 column(s) but the model was fitted on 2".
    frame = faithful["frame"].assign(extra=1.0)
    model = faithful["model"]
    if not model_names:
        np.save(tmp_path / "points.npy", faithful["frame"].to_numpy())
        model = tmp_path / "m.npz"
        assert run(capsys, "fit", tmp_path / "points.npy", "-k", 2, "-o", model, "--quiet")[0] == 0
    path = tmp_path / f"d{data}".replace(" without a header", "")
    if data == ".npy":
        np.save(path, frame.to_numpy())
    else:
        frame.to_csv(path, index=False, header=not model_names)
    out = [] if command == "score" else ["-o", tmp_path / "out.csv"]
    status, _, err = run(capsys, command, model, path, *out)
    assert status == 1
    assert err == (f"fastem: error: {str(path)!r} has 3 column(s) but the model was fitted on 2 "
                   "feature(s); select the same columns with --columns\n")


def test_header_option_for_names_that_are_numbers(capsys, tmp_path):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(np.concatenate([rng.normal(0, 1, (100, 3)), rng.normal(5, 1, (100, 3))]),
                         columns=[400, 410, 420])
    frame.to_csv(tmp_path / "spectra.csv", index=False)
    status, out, err = run(capsys, "fit", tmp_path / "spectra.csv", "-k", 2, "--json",
                           "-o", tmp_path / "rows.npz")
    assert status == 0 and json.loads(out)["n_samples"] == 201  # the names read as a row ...
    assert "pass --header yes" in err  # ... and said so
    status, out, err = run(capsys, "fit", tmp_path / "spectra.csv", "-k", 2, "--json",
                           "--header", "yes", "-o", tmp_path / "m.npz")
    assert status == 0 and err == ""
    assert json.loads(out)["n_samples"] == 200
    assert json.loads(out)["feature_names_in"] == ["400", "410", "420"]
    status, _, err = run(capsys, "predict", tmp_path / "m.npz", tmp_path / "spectra.csv",
                         "--header", "yes", "--columns", "410,400,420", "-o", tmp_path / "l.npy")
    assert status == 0 and len(np.load(tmp_path / "l.npy")) == 200
    # Without --header, a first row that holds the model's names (in any order) is the header:
    # the columns are matched by name, and no row is added.
    expected = fastem.load(tmp_path / "m.npz").predict(frame.set_axis(["400", "410", "420"], axis=1))
    frame[[420, 400, 410]].to_csv(tmp_path / "reordered.csv", index=False)
    for data in ("spectra.csv", "reordered.csv"):
        status, _, err = run(capsys, "predict", tmp_path / "m.npz", tmp_path / data,
                             "-o", tmp_path / "l.npy")
        assert status == 0 and "holds the model's column names, so it is read as the header" in err
        assert_array_equal(np.load(tmp_path / "l.npy"), expected)
    # ... also written otherwise: spaces after the commas, or as floats
    for i, line in enumerate(["400, 410, 420", "420.0,400.0,410.0"]):
        order = [int(float(v)) for v in line.split(",")]
        path = tmp_path / f"written{i}.csv"
        path.write_text(line + "\n" + frame[order].to_csv(index=False, header=False))
        status, _, err = run(capsys, "predict", tmp_path / "m.npz", path, "-o", tmp_path / "l.npy")
        assert status == 0 and "read as the header" in err
        assert_array_equal(np.load(tmp_path / "l.npy"), expected)


@pytest.mark.parametrize("first", [[0, 1, 2], [2, 0, 1]])
def test_a_first_data_row_that_spells_the_model_s_names_is_never_guessed(capsys, tmp_path, first):
    """Names '0', '1', '2' (a DataFrame's columns as text) and a headerless file whose first
    row of counts is 0,1,2 or 2,0,1. In another order the row is data like the others; in
    the names' order it reads exactly as the header that df.to_csv writes, so it is refused
    until --header says which it is."""
    rng = np.random.default_rng(0)
    counts = rng.poisson(3.0, (30, 3))
    pd.DataFrame(counts.astype(float), columns=["0", "1", "2"]).to_csv(tmp_path / "fit.csv", index=False)
    assert run(capsys, "fit", tmp_path / "fit.csv", "--family", "poisson", "-k", "2",
               "--header", "yes", "-o", tmp_path / "m.npz")[0] == 0
    rows = np.vstack([first, counts[:9]])
    np.savetxt(tmp_path / "new.csv", rows, delimiter=",", fmt="%d")
    spelled = first == [0, 1, 2]
    for command in ("predict", "score", "impute"):
        outputs = {"predict": ["-o", tmp_path / "l.npy"], "impute": ["-o", tmp_path / "f.csv"]}
        status, out, err = run(capsys, command, tmp_path / "m.npz", tmp_path / "new.csv",
                               *outputs.get(command, []))
        if spelled:
            assert status != 0 and "spells the model's column names" in err
            assert "--header yes or --header no" in err
            status, out, err = run(capsys, command, tmp_path / "m.npz", tmp_path / "new.csv",
                                   "--header", "no", *outputs.get(command, []))
        assert status == 0 and "read as the header" not in err
    assert_array_equal(np.load(tmp_path / "l.npy"), fastem.load(tmp_path / "m.npz").predict(
        pd.DataFrame(rows.astype(float), columns=["0", "1", "2"])))


@pytest.mark.parametrize("names", [["1", "2", "3"], ["1.5", "-2", "7"]])
def test_a_header_of_names_that_are_numbers_never_becomes_a_labelled_row(capsys, tmp_path, names):
    """df.to_csv of counts whose columns are named 1, 2, 3 (days): read as data, the header
    got a label of its own, and every label after it belonged to the row above (401 labels
    for 400 rows). The CLI and Chunks refuse the file until told what its first row is."""
    rng = np.random.default_rng(0)
    counts = np.concatenate([rng.poisson(2, (200, 3)), rng.poisson(9, (200, 3))])
    frame = pd.DataFrame(counts, columns=names)  # whole numbers, written without '.0'
    model = fastem.PoissonMixture(2, random_state=0).fit(frame)
    model.save(tmp_path / "m.npz")
    frame.to_csv(tmp_path / "days.csv", index=False)
    status, _, err = run(capsys, "predict", tmp_path / "m.npz", tmp_path / "days.csv",
                         "-o", tmp_path / "l.npy")
    assert status != 0 and "spells the model's column names" in err
    status, _, _ = run(capsys, "predict", tmp_path / "m.npz", tmp_path / "days.csv",
                       "--header", "yes", "-o", tmp_path / "l.npy")
    assert status == 0
    assert_array_equal(np.load(tmp_path / "l.npy"), model.predict(frame))
    with pytest.raises(ValueError, match=r"spells the column names.*header=True"):
        model.predict(fastem.Chunks([tmp_path / "days.csv"]))
    assert_array_equal(model.predict(fastem.Chunks([tmp_path / "days.csv"], header=True))[0],
                       model.predict(frame))


def test_a_header_of_the_model_s_names_in_another_order_is_never_data_to_chunks(capsys,
                                                                                tmp_path):
    """A header of names that are numbers, the model's in another order ('2,1' above
    fractions, df[['2', '1']].to_csv): the command line reads it as the header and matches
    the columns by name; Chunks read it as a row of data, and predict took the columns in
    the file's order as the model's features, with a label for the header (201 labels for
    200 rows, half of them wrong), where the names in their order are refused. Now Chunks
    refuse it too, until told what the row is."""
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(0, 1, 200) + np.repeat([0, 8], 100), rng.normal(0, 1, 200)]
    frame = pd.DataFrame(X, columns=["1", "2"])
    model = fastem.GaussianMixture(2, random_state=0).fit(frame)
    model.save(tmp_path / "m.npz")
    path = tmp_path / "swapped.csv"
    frame[["2", "1"]].to_csv(path, index=False)
    status, _, err = run(capsys, "predict", tmp_path / "m.npz", path, "-o", tmp_path / "l.npy")
    assert status == 0 and "so it is read as the header" in err
    assert_array_equal(np.load(tmp_path / "l.npy"), model.predict(frame))
    with pytest.raises(ValueError, match=r"spells the column names .*\['2', '1'\]\), in another "
                                         r"order.*header=True"):
        model.predict(fastem.Chunks([path]))
    with pytest.raises(ValueError, match=r"same order as they were in fit"):
        model.predict(fastem.Chunks([path], header=True))
    assert_array_equal(model.predict(fastem.Chunks([path], header=True, columns=["1", "2"]))[0],
                       model.predict(frame))


@pytest.mark.parametrize("header, order", [("01,02", "their"), ("02,01", "another"),
                                           ("1,2", "their"), ("2,1", "another")])
def test_chunks_say_in_which_order_a_header_holds_the_model_s_names(tmp_path, header, order):
    # The names as other spellings of the same numbers ('01,02' above the columns '1' and
    # '2'), in their order, were said to be "in another order".
    rng = np.random.default_rng(0)
    X = np.c_[rng.normal(0, 1, 200) + np.repeat([0, 8], 100), rng.normal(0, 1, 200)]
    model = fastem.GaussianMixture(2, random_state=0).fit(pd.DataFrame(X, columns=["1", "2"]))
    path = tmp_path / "d.csv"
    with open(path, "w") as f:
        f.write(header + "\n")
        pd.DataFrame(X).to_csv(f, header=False, index=False)
    with pytest.raises(ValueError, match=rf"spells the column names .*\), in {order} order"):
        model.predict(fastem.Chunks([path]))


@pytest.mark.parametrize("command", ["fit --columns", "predict", "predict --columns"])
def test_a_parquet_index_asked_for_by_name_is_named_as_the_index(capsys, tmp_path, command):
    # The column 'id' of df.set_index('id').to_parquet(path) was said to be absent, where
    # the file holds it, as the DataFrame's index.
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": rng.normal(size=40), "x": rng.normal(size=40)})
    fastem.GaussianMixture(1).fit(frame).save(tmp_path / "m.npz")
    data = tmp_path / "d.parquet"
    frame.set_index("id").to_parquet(data)
    argv = {"fit --columns": ["fit", data, "--columns", "id,x", "-k", 1, "-o", tmp_path / "n.npz"],
            "predict": ["predict", tmp_path / "m.npz", data, "-o", tmp_path / "l.csv"],
            "predict --columns": ["predict", tmp_path / "m.npz", data, "--columns", "id,x",
                                  "-o", tmp_path / "l.csv"]}[command]
    status, _, err = run(capsys, *argv)
    assert status == 1 and err.count("\n") == 1, err
    assert err.endswith(f". Note: column 'id' of {str(data)!r} is the index of the pandas "
                        "DataFrame saved in it (its pandas metadata says so), which is read as "
                        "row labels, not as a column of data; save it as a column to select "
                        "it: df.reset_index().to_parquet(path)\n"), err


def test_repeated_names_never_read_one_column_twice(capsys, tmp_path):
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (100, 2)), rng.normal([5, -5], 1, (100, 2))])
    path = tmp_path / "dup.csv"
    path.write_text("x,x\n" + "\n".join(f"{a},{b}" for a, b in X) + "\n")
    status, _, err = run(capsys, "fit", path, "-k", 2, "-o", tmp_path / "m.npz")
    assert status == 0 and "renamed as pandas renames them" in err
    model = fastem.load(tmp_path / "m.npz")
    assert list(model.feature_names_in_) == ["x", "x.1"]
    status, _, _ = run(capsys, "predict", tmp_path / "m.npz", path, "-o", tmp_path / "l.npy")
    assert status == 0
    assert_array_equal(np.load(tmp_path / "l.npy"), model.predict(pd.DataFrame(X, columns=["x", "x.1"])))
    # a DataFrame with repeated names is refused, as in scikit-learn, and so is a model
    # whose names repeat (assigned by hand), by save as by load: no fit writes one
    with pytest.raises(ValueError, match="Expected unique column names"):
        fastem.GaussianMixture(2).fit(pd.DataFrame(X, columns=["x", "x"]))
    repeated = fastem.GaussianMixture(2, random_state=0).fit(X)
    repeated.feature_names_in_ = np.array(["x", "x"], dtype=object)
    with pytest.raises(ValueError, match="feature_names_in_ repeats the name 'x'"):
        repeated.save(tmp_path / "frame.npz")


@pytest.mark.parametrize("family", ["gaussian", "poisson"])
def test_info_of_a_model_whose_names_repeat_shows_every_feature(capsys, tmp_path, family,
                                                                monkeypatch):
    """The component table of info (and of fit's --json) had one column per title, 'mean x'
    for both features named x: the first feature's means and standard deviations were
    dropped, and the second's shown under the name alone, in the text and the JSON.
    (save and load refuse such names, which no fit writes: the model is shown as loaded.)"""
    rng = np.random.default_rng(0)
    X = np.abs(np.concatenate([rng.normal([0, 50], 1, (100, 2)),
                               rng.normal([5, 80], 1, (100, 2))])).round()
    make = fastem.GaussianMixture if family == "gaussian" else fastem.PoissonMixture
    model = make(2, random_state=0).fit(X)
    model.feature_names_in_ = np.array(["x", "x"], dtype=object)
    monkeypatch.setattr(fastem.cli, "_load_model", lambda path: (model, None))
    status, out, _ = run(capsys, "info", tmp_path / "m.npz", "--json")
    assert status == 0
    components = json.loads(out)["components"]
    title = "mean" if family == "gaussian" else "rate"
    for j in range(2):
        values = (model.means_ if family == "gaussian" else model.rates_)[:, j]
        assert components[f"{title} x (feature {j})"] == values.tolist()
    assert f"{title} x" not in components
    status, out, _ = run(capsys, "info", tmp_path / "m.npz")
    assert status == 0 and f"{title} x (feature 0)" in out and f"{title} x (feature 1)" in out


def test_a_missing_data_file_is_the_only_message(faithful, capsys, tmp_path):
    status, out, err = run(capsys, "score", faithful["model"], tmp_path / "nope.npy")
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and "does not exist" in err


STDOUT_COMMANDS = {
    "info --json": ["info", "{model}", "--json"],
    "info": ["info", "{model}"],
    "score": ["score", "{model}", "{csv}", "--quiet"],
    "sample": ["sample", "{model}", "-n", "3", "-o", "{out}", "--quiet"],
}


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("argv", STDOUT_COMMANDS.values(), ids=list(STDOUT_COMMANDS))
def test_a_closed_pipe_ends_quietly(faithful, tmp_path, argv, buffered):
    # `fastem info model.npz --json | head -1`: the reader leaves before fastem writes. With
    # stdout buffered (Python's default for a pipe), the text is written at exit, where a
    # failure had been "Exception ignored ... BrokenPipeError" with status 120.
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    if not buffered:
        env["PYTHONUNBUFFERED"] = "1"
    argv = [a.format(out=tmp_path / "out.csv", **faithful) for a in argv]
    process = subprocess.Popen([sys.executable, "-m", "fastem", *argv], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()
    _, err = process.communicate(timeout=300)
    assert err == b"" and process.returncode == 141


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("stdout", ["full", "closed"])
@pytest.mark.parametrize("argv", STDOUT_COMMANDS.values(), ids=list(STDOUT_COMMANDS))
def test_output_that_stdout_cannot_take_is_an_error(faithful, tmp_path, argv, stdout):
    # a full disk, or a stdout closed (`>&-`), had lost the output with status 120, or 0
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    argv = [a.format(out=tmp_path / "out.csv", **faithful) for a in argv]
    with open("/dev/full", "wb") as full:
        process = subprocess.run([sys.executable, "-m", "fastem", *argv], env=env,
                                 stdout=full if stdout == "full" else None,
                                 stderr=subprocess.PIPE, timeout=300, check=False,
                                 preexec_fn=None if stdout == "full" else lambda: os.close(1))
    err = process.stderr.decode()
    assert process.returncode == 1
    assert err.count("\n") == 1 and err.startswith("fastem: error:") and "standard output" in err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("stdout", ["full", "closed pipe", "closed"])
@pytest.mark.parametrize("argv", [["--help"], ["fit", "--help"], ["--version"]],
                         ids=["help", "fit help", "version"])
def test_help_and_version_that_stdout_cannot_take(argv, stdout):
    # argparse ignores a failed write of what it prints: `fastem --help > /dev/full`
    # exited 0 with the help lost. A closed stdout (`>&-`) gets it on stderr.
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    with open("/dev/full", "wb") as full:
        process = subprocess.Popen(
            [sys.executable, "-m", "fastem", *argv], env=env,
            stdout={"full": full, "closed pipe": subprocess.PIPE, "closed": None}[stdout],
            stderr=subprocess.PIPE, preexec_fn=(lambda: os.close(1)) if stdout == "closed" else None,
        )
        if stdout == "closed pipe":
            process.stdout.close()
        _, err = process.communicate(timeout=300)
    err = err.decode()
    if stdout == "full":
        assert process.returncode == 1 and err.count("\n") == 1
        assert err.startswith("fastem: error: cannot write the output to standard output")
    elif stdout == "closed pipe":
        assert process.returncode == 141 and err == ""
    else:
        assert process.returncode == 0 and ("usage: fastem" in err or "fastem 0" in err)


def test_seed_range_and_repeated_covariance_types(faithful, capsys):
    status, _, err = run(capsys, "select", faithful["csv"], "--seed", "-1")
    assert status == 2 and "argument --seed: must be >= 0, got -1" in err
    status, out, _ = run(capsys, "select", faithful["csv"], "--k", "1-2,2", "--covariance",
                         "full,full,diag", "--json", "--quiet")
    assert status == 0
    assert [c["covariance_type"] for c in json.loads(out)["table"]] == ["full"] * 2 + ["diag"] * 2
    status, out, _ = run(capsys, "select", faithful["csv"], "--k", "1", "--json", "--quiet")
    assert status == 0  # every type, in select_n_components' order
    assert [c["covariance_type"] for c in json.loads(out)["table"]] == [
        "spherical", "diag", "tied", "full"]


def test_max_iter_0_says_the_model_is_the_start(faithful, capsys, tmp_path):
    status, out, _ = run(capsys, "fit", faithful["csv"], "-k", 2, "--max-iter", 0, "-o",
                         tmp_path / "m.npz", "--quiet")
    assert status == 0 and "not fitted by EM (max_iter=0)" in out and "-inf" not in out


@pytest.mark.parametrize("command", ["fit", "select"])
@pytest.mark.parametrize("k", ["-k", "--k", "--n-components"])
@pytest.mark.parametrize("covariance", ["--covariance", "--covariance-type"])
def test_fit_and_select_take_the_same_spellings(faithful, capsys, tmp_path, command, k, covariance):
    # -k in fit and --k in select were the only spellings; scikit-learn says covariance_type
    status, out, err = run(capsys, command, faithful["csv"], k, 2, covariance, "diag",
                           "-o", tmp_path / "m.npz", "--json", "--quiet")
    assert status == 0, err
    model = fastem.load(tmp_path / "m.npz")
    assert (model.n_components, model.covariance_type) == (2, "diag")


def test_select_of_a_family_the_data_do_not_fit_gives_the_reason(faithful, capsys):
    # the data do not fit the family: that reason, once, before any fit
    status, out, err = run(capsys, "select", faithful["csv"], "--family", "poisson", "--k", "1-3")
    assert status == 1 and out == ""
    assert err.startswith("fastem: error: PoissonMixture models counts "
                          "(non-negative whole numbers)") and err.count("\n") == 1


@pytest.mark.parametrize("columns, expected", [(["waiting"], "1 feature in"),
                                               (["waiting,eruptions"], "2 features in")])
def test_fit_counts_its_features_in_words(faithful, capsys, tmp_path, columns, expected):
    status, out, _ = run(capsys, "fit", faithful["csv"], "--columns", *columns, "-k", 2,
                         "-o", tmp_path / "m.npz", "--quiet")
    assert status == 0 and f"fitted 272 samples x {expected}" in out
    status, out, _ = run(capsys, "sample", tmp_path / "m.npz", "-n", 1, "-o", tmp_path / "s.csv")
    assert status == 0 and f"wrote 1 samples x {expected.replace(' in', '')} to" in out


@pytest.mark.parametrize("command", ["fit", "select"])
@pytest.mark.parametrize("abbreviation", ["--cov", "--covar", "--covariance-t"])
def test_an_abbreviation_of_one_option_spelled_two_ways_is_that_option(faithful, capsys, tmp_path,
                                                                       command, abbreviation):
    status, _, err = run(capsys, command, faithful["csv"], "-k", 2, abbreviation, "diag",
                         "-o", tmp_path / "m.npz", "--quiet")
    assert status == 0, err
    assert fastem.load(tmp_path / "m.npz").covariance_type == "diag"


@pytest.mark.parametrize("argv, spelled", [
    (["fit", "{csv}", "--n_components", "2", "-o", "{t}/m.npz"], "--n-components"),
    (["fit", "{csv}", "-k", "2", "--max_iter=5", "-o", "{t}/m.npz"], "--max-iter"),
    (["select", "{csv}", "--covariance_type", "full"], "--covariance-type"),
    (["select", "{csv}", "--n_init", "2"], "--n-init"),
])
def test_python_parameter_names_get_the_option_spelling(faithful, capsys, tmp_path, argv, spelled):
    status, out, err = run(capsys, *[a.format(csv=faithful["csv"], t=tmp_path) for a in argv])
    assert status == 2 and out == "" and err.count("\n") == 1
    assert f"options are spelled with '-', not '_' (e.g. {spelled})" in err


def test_a_variational_model_file_is_described_in_its_own_terms(faithful, capsys, tmp_path):
    # its lower bound is the variational lower bound, and it has no BIC or AIC
    model = fastem.BayesianGaussianMixture(n_components=3, random_state=0, tol=1e-3,
                                           max_iter=500).fit(faithful["frame"])
    model.save(tmp_path / "bgm.npz")
    status, out, _ = run(capsys, "info", tmp_path / "bgm.npz")
    assert status == 0 and "variational lower bound per sample" in out and "log-likelihood" not in out
    status, out, _ = run(capsys, "score", tmp_path / "bgm.npz", faithful["csv"], "--json")
    assert status == 0
    result = json.loads(out)
    assert set(result) == {"n_samples", "mean_log_likelihood", "total_log_likelihood"}
    np.testing.assert_allclose(result["mean_log_likelihood"], model.score(faithful["frame"]),
                               rtol=1e-12)
    status, out, _ = run(capsys, "info", faithful["model"])
    assert status == 0 and "log-likelihood per sample" in out


# ----------------------------------------------------------------------
# columns chosen by index in a file without names: recorded in the model file


@pytest.fixture(scope="module")
def unnamed(tmp_path_factory):
    """A row number, then the two data columns in the order (b, a), as files with and
    without names; the model is fitted on the columns 2,1 (a, b) of the headerless CSV."""
    rng = np.random.default_rng(5)
    a = np.concatenate([rng.normal(0, 1, 150), rng.normal(6, 1, 150)])
    b = rng.normal(100, 20, 300)
    table = np.column_stack([np.arange(300.0), b, a])
    d = tmp_path_factory.mktemp("unnamed")
    paths = {"table": table, "dir": d, "csv": d / "plain.csv", "npy": d / "plain.npy",
             "named_csv": d / "named.csv", "parquet": d / "named.parquet"}
    np.savetxt(paths["csv"], table, delimiter=",", fmt="%.17g")
    np.save(paths["npy"], table)
    frame = pd.DataFrame(table, columns=["row", "b", "a"])
    frame.to_csv(paths["named_csv"], index=False)
    if _has_pyarrow():
        frame.to_parquet(paths["parquet"])
    return paths


def _has_pyarrow():
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _unnamed_model(unnamed, source, capsys, tmp_path, command="fit"):
    path = tmp_path / f"{command}-{source}.npz"
    k = ["-k", 2] if command == "fit" else ["--k", 2, "--covariance", "full"]
    status, _, err = run(capsys, command, unnamed[source], "--columns", "2,1", *k, "-o", path,
                         "-q")
    assert status == 0, err
    return path


@pytest.mark.parametrize("command", ["fit", "select"])
@pytest.mark.parametrize("source", ["csv", "npy"])
def test_columns_chosen_by_index_are_recorded(unnamed, capsys, tmp_path, command, source):
    path = _unnamed_model(unnamed, source, capsys, tmp_path, command)
    assert fastem.io.read_metadata(path)["column_indices"] == [2, 1]
    status, out, err = run(capsys, "info", path)
    assert status == 0 and "columns 2,1 of a file without column names" in out
    status, out, err = run(capsys, "info", path, "--json")
    assert json.loads(out)["column_indices"] == [2, 1]
    # all the columns, or columns chosen by name, are no choice by index
    status, _, err = run(capsys, "fit", unnamed["npy"], "-k", 2, "-o", tmp_path / "all.npz", "-q")
    assert status == 0, err
    assert "column_indices" not in fastem.io.read_metadata(tmp_path / "all.npz")
    status, _, err = run(capsys, "fit", unnamed["named_csv"], "--columns", "2,1", "-k", 2,
                         "-o", tmp_path / "named.npz", "-q")
    assert status == 0, err
    meta = fastem.io.read_metadata(tmp_path / "named.npz")
    assert "column_indices" not in meta and meta["feature_names_in"] == ["a", "b"]


@pytest.mark.parametrize("data", ["csv", "npy"])
def test_predict_and_score_use_the_recorded_columns(unnamed, capsys, tmp_path, data):
    path = _unnamed_model(unnamed, "csv", capsys, tmp_path)
    model = fastem.load(path)
    X = unnamed["table"][:, [2, 1]]
    status, out, err = run(capsys, "score", path, unnamed[data], "--json")
    assert status == 0, err
    assert json.loads(out)["mean_log_likelihood"] == pytest.approx(model.score(X), rel=1e-12)
    assert err.count("\n") == 1 and "fastem: note: " in err and "columns 2,1" in err
    status, out, err = run(capsys, "predict", path, unnamed[data], "-o", tmp_path / "l.npy", "-q")
    assert status == 0 and err == ""
    assert_array_equal(np.load(tmp_path / "l.npy"), model.predict(X))
    assert sorted(np.bincount(model.predict(X))) == [150, 150]


@pytest.mark.parametrize("output", ["npy", "csv", "parquet"])
def test_a_sample_of_a_model_of_columns_chosen_by_index_reads_back_where_it_was_fitted(
        unnamed, capsys, tmp_path, output):
    """A model fitted on the columns 2,1 of a file without names: ``sample`` wrote its
    features as columns 0,1, which ``score``, ``predict`` and ``impute`` then read at 2,1
    of the file (a score of 1 file column for another: silently wrong), or refused as a
    file with names. The draws are laid out as the fitted file was (column 0 NaN, feature
    j at column_indices[j]), and the summaries label each feature by its file column."""
    if output == "parquet" and not _has_pyarrow():
        pytest.skip("needs pyarrow")
    path = _unnamed_model(unnamed, "npy", capsys, tmp_path)
    model = fastem.load(path)
    drawn = tmp_path / f"drawn.{output}"
    status, out, err = run(capsys, "sample", path, "-n", 400, "--seed", 3, "-o", drawn)
    assert status == 0 and "placed at the 0-based columns 2,1" in out, err
    X = model.set_params(random_state=3).sample(400)[0]  # the features in the model's order
    table = {"npy": lambda: np.load(drawn), "csv": lambda: pd.read_csv(drawn).to_numpy(),
             "parquet": lambda: pd.read_parquet(drawn).to_numpy()}[output]()
    assert table.shape == (400, 3) and np.isnan(table[:, 0]).all()
    assert_array_equal(table[:, [2, 1]], X)
    status, out, err = run(capsys, "score", path, drawn, "--json")
    assert status == 0, err
    assert json.loads(out)["mean_log_likelihood"] == pytest.approx(model.score(X), rel=1e-12)
    status, out, err = run(capsys, "predict", path, drawn, "-o", tmp_path / "l.npy", "-q")
    assert status == 0, err
    assert_array_equal(np.load(tmp_path / "l.npy"), model.predict(X))
    for command in ("info", "fit"):
        argv = ([path] if command == "info" else
                [unnamed["npy"], "--columns", "2,1", "-k", 2, "-o", tmp_path / "again.npz"])
        status, out, err = run(capsys, command, *argv)
        assert status == 0 and "mean x2" in out and "mean x0" not in out, err
        assert out.index("mean x2") < out.index("mean x1")


@pytest.mark.parametrize("data", ["named_csv", "indexed_csv", "parquet"])
def test_recorded_columns_are_not_guessed_in_a_file_with_names(unnamed, capsys, tmp_path, data):
    """Positions in an unnamed file say nothing about a named one: its first column may be an
    index ('id', which reads as data) or another feature. The user chooses, with --columns."""
    if data == "parquet" and not _has_pyarrow():
        pytest.skip("needs pyarrow")
    path = _unnamed_model(unnamed, "npy", capsys, tmp_path)
    target = unnamed.get(data)
    if data == "indexed_csv":
        target = tmp_path / "indexed.csv"
        frame = pd.DataFrame(unnamed["table"], columns=["row", "b", "a"],
                             index=pd.Index(np.arange(len(unnamed["table"])) * 2 + 5, name="id"))
        frame.to_csv(target)
    for command in (["score"], ["predict", "-o", tmp_path / "l.csv"],
                    ["impute", "-o", tmp_path / "f.csv"]):
        status, out, err = run(capsys, command[0], path, target, *command[1:])
        assert status == 1 and out == "" and err.count("\n") == 1, err
        assert "columns 2,1 (0-based) of a file without column names" in err
        assert "--columns" in err
    status, out, err = run(capsys, "score", path, target, "--columns", "a,b", "--json")
    assert status == 0, err
    model = fastem.load(path)
    assert json.loads(out)["mean_log_likelihood"] == pytest.approx(
        model.score(unnamed["table"][:, [2, 1]]), rel=1e-12)


def test_recorded_columns_survive_a_load_and_save_and_a_fit_clears_them(unnamed, capsys,
                                                                         tmp_path):
    """A model loaded in Python and saved again (after partial_fit, say) keeps the columns its
    file recorded, so the command line still reads the right ones; a fit on new data clears them."""
    path = _unnamed_model(unnamed, "npy", capsys, tmp_path)
    model = fastem.load(path)
    model.partial_fit(unnamed["table"][:50, [2, 1]])
    model.save(tmp_path / "again.npz")
    assert fastem.io.read_metadata(tmp_path / "again.npz")["column_indices"] == [2, 1]
    status, out, err = run(capsys, "score", tmp_path / "again.npz", unnamed["npy"], "--json")
    assert status == 0 and "columns 2,1" in err
    assert json.loads(out)["mean_log_likelihood"] == pytest.approx(
        model.score(unnamed["table"][:, [2, 1]]), rel=1e-12)
    model.set_params(warm_start=True)  # a warm refit continues on the same columns
    model.fit(unnamed["table"][:, [2, 1]])
    model.save(tmp_path / "warm.npz")
    assert fastem.io.read_metadata(tmp_path / "warm.npz")["column_indices"] == [2, 1]
    model.set_params(warm_start=False)
    model.fit(unnamed["table"][:, :2])
    model.save(tmp_path / "refit.npz")
    assert "column_indices" not in fastem.io.read_metadata(tmp_path / "refit.npz")


def test_the_users_columns_win_over_the_recorded_ones(unnamed, capsys, tmp_path):
    path = _unnamed_model(unnamed, "npy", capsys, tmp_path)
    model = fastem.load(path)
    status, out, err = run(capsys, "score", path, unnamed["npy"], "--columns", "1,2", "--json")
    assert status == 0 and err == ""
    swapped = unnamed["table"][:, [1, 2]]
    assert json.loads(out)["mean_log_likelihood"] == pytest.approx(model.score(swapped), rel=1e-12)


def test_data_narrower_than_the_recorded_columns_is_one_line(unnamed, capsys, tmp_path):
    path = _unnamed_model(unnamed, "csv", capsys, tmp_path)
    narrow = tmp_path / "narrow.csv"
    np.savetxt(narrow, unnamed["table"][:, :2], delimiter=",", fmt="%.17g")
    np.save(tmp_path / "narrow.npy", unnamed["table"][:, :2])
    for data in (narrow, tmp_path / "narrow.npy"):
        for command in (["score"], ["predict", "-o", tmp_path / "l.csv"],
                        ["impute", "-o", tmp_path / "f.csv"]):
            status, out, err = run(capsys, command[0], path, data, *command[1:])
            assert status == 1 and out == "" and err.count("\n") == 1, err
            assert f"{str(data)!r} has 2 columns" in err and "columns 2,1" in err
            assert "at least 3 columns" in err and "--columns" in err
    assert not (tmp_path / "l.csv").exists() and not (tmp_path / "f.csv").exists()


@pytest.mark.parametrize("data, out", [("csv", ".csv"), ("npy", ".npy"), ("csv", ".npy")])
def test_impute_fills_the_recorded_columns_in_place(unnamed, capsys, tmp_path, data, out):
    table = unnamed["table"].copy()
    table[::7, 2] = np.nan
    table[3::11, 1] = np.nan
    source = tmp_path / f"holes.{data}"
    if data == "csv":
        np.savetxt(source, table, delimiter=",", fmt="%.17g")
    else:
        np.save(source, table)
    model_path = tmp_path / "m.npz"
    status, _, err = run(capsys, "fit", source, "--columns", "2,1", "-k", 2, "--missing", "em",
                         "-o", model_path, "-q")
    assert status == 0, err
    status, _, err = run(capsys, "impute", model_path, source, "-o", tmp_path / f"f{out}")
    assert status == 0 and "columns 2,1" in err
    filled = (np.loadtxt(tmp_path / f"f{out}", delimiter=",") if out == ".csv"
              else np.load(tmp_path / f"f{out}"))
    assert filled.shape == table.shape
    assert_array_equal(filled[:, 0], table[:, 0])  # the other column, kept
    expected = fastem.load(model_path).impute(table[:, [2, 1]])
    assert_array_equal(filled[:, [2, 1]], expected)
    assert not np.isnan(filled).any()


@pytest.mark.parametrize("ext", [".csv", ".npy"])
def test_swapped_columns_of_a_file_without_names_are_not_silently_unswapped(unnamed, capsys,
                                                                            tmp_path, ext):
    # the report: fit --columns 1,0 on a headerless file, then score and predict it
    X = unnamed["table"][:, 1:]
    data = tmp_path / f"nh{ext}"
    np.savetxt(data, X, delimiter=",", fmt="%.17g") if ext == ".csv" else np.save(data, X)
    status, _, err = run(capsys, "fit", data, "--columns", "1,0", "-k", 2,
                         "-o", tmp_path / "m.npz")
    assert status == 0, err
    model = fastem.load(tmp_path / "m.npz")
    status, out, err = run(capsys, "score", tmp_path / "m.npz", data, "--json")
    assert status == 0
    assert json.loads(out)["mean_log_likelihood"] == pytest.approx(model.score(X[:, [1, 0]]),
                                                                   rel=1e-12)
    assert "columns 1,0" in err
    status, out, err = run(capsys, "predict", tmp_path / "m.npz", data, "-o", tmp_path / "p.csv",
                           "--json")
    assert status == 0
    assert sorted(json.loads(out)["counts"]) == [150, 150]


@pytest.mark.parametrize("fitted_header, data_header", [("a,b", "a, b"), ("a, b", "a,b"),
                                                         ("a,b", " b , a ")])
def test_names_with_spaces_around_them_match_the_model_s(capsys, tmp_path, fitted_header,
                                                         data_header):
    # "a, b" is read as ['a', ' b'] (as pandas reads it); fit --columns b finds ' b', and
    # predict, score and impute match the model's names to the file's so too.
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (30, 2)), rng.normal(6, 1, (30, 2))]).round(4)
    train, data = tmp_path / "train.csv", tmp_path / "data.csv"
    train.write_text(fitted_header + "\n" + "".join(f"{u},{v}\n" for u, v in X))
    flipped = data_header.replace(" ", "").split(",") == ["b", "a"]
    rows = X[:, ::-1] if flipped else X
    data.write_text(data_header + "\n" + "".join(f"{u},{v}\n" for u, v in rows))
    status, _, err = run(capsys, "fit", train, "-k", 2, "-o", tmp_path / "m.npz", "--quiet")
    assert status == 0, err
    model = fastem.load(tmp_path / "m.npz")
    for argv in (["predict", tmp_path / "m.npz", data, "-o", tmp_path / "l.csv"],
                 ["predict", tmp_path / "m.npz", data, "--columns", data_header.replace(" ", ""),
                  "-o", tmp_path / "l.csv"]):
        status, _, err = run(capsys, *argv)
        assert status == 0, err
        expected = model.predict(pd.DataFrame(X, columns=model.feature_names_in_))
        assert_array_equal(pd.read_csv(tmp_path / "l.csv")["component"], expected)


def _whole_number_files(d):
    """Data with one whole number that float32 (or float64) rounds, in each kind of file."""
    rng = np.random.default_rng(3)
    X = rng.normal(1e6, 1e3, (60, 2)).round()
    X[5, 1] = 2**24 + 1  # 16777217: float32 holds 16777216 and 16777218
    pd.DataFrame(X, columns=["a", "b"]).astype(np.int64).to_csv(d / "f32.csv", index=False)
    np.save(d / "f32.npy", X)
    np.save(d / "f32_int.npy", X.astype(np.int32))
    if _HAVE_PYARROW:
        pd.DataFrame(X.astype(np.int64), columns=["a", "b"]).to_parquet(d / "f32.parquet")
    wide = X.astype(np.int64)
    wide[5, 1] = 2**53 + 1
    np.save(d / "f64_int.npy", wide)
    X[5, 1] = 2**24  # held exactly: the models of the fixture are fitted on these
    pd.DataFrame(X, columns=["a", "b"]).to_csv(d / "held.csv", index=False)
    return d


@pytest.fixture(scope="module")
def whole_numbers(tmp_path_factory):
    d = _whole_number_files(tmp_path_factory.mktemp("whole"))
    for dtype in ("float32", "float64"):
        assert main(["fit", str(d / "held.csv"), "-k", "1", "--dtype", dtype, "--quiet",
                     "-o", str(d / f"{dtype}.npz")]) == 0
    return d


ROUNDED = [  # (command line, the value, the dtype, the fix)
    (["fit", "{d}/f32.csv", "-k", "1", "--dtype", "float32", "-o", "{t}/out.npz"],
     "16777217", "float32", "use --dtype float64, or subtract an offset"),
    (["fit", "{d}/f32.npy", "-k", "1", "--dtype", "float32", "-o", "{t}/out.npz"],
     "16777217", "float32", "use --dtype float64"),
    (["fit", "{d}/f32_int.npy", "-k", "1", "--dtype", "float32", "-o", "{t}/out.npz"],
     "16777217", "float32", "use --dtype float64"),
    (["fit", "{d}/f32.parquet", "-k", "1", "--dtype", "float32", "-o", "{t}/out.npz"],
     "16777217", "float32", "use --dtype float64"),
    (["select", "{d}/f32.csv", "--k", "1", "--dtype", "float32", "-o", "{t}/out.npz"],
     "16777217", "float32", "use --dtype float64"),
    (["fit", "{d}/f64_int.npy", "-k", "1", "-o", "{t}/out.npz"],
     "9007199254740993", "float64", "subtract an offset from that column"),
    (["select", "{d}/f64_int.npy", "--k", "1", "-o", "{t}/out.npz"],
     "9007199254740993", "float64", "subtract an offset from that column"),
    (["score", "{d}/float64.npz", "{d}/f64_int.npy"],
     "9007199254740993", "float64", "fit the model '{d}/float64.npz' again on that column less"),
]


@pytest.mark.parametrize("argv, value, dtype, fix", ROUNDED,
                         ids=[f"{a[0]}-{a[-3 if a[-2] == '-o' else -1].rsplit('/', 1)[-1]}"
                              for a, *_ in ROUNDED])
def test_whole_numbers_that_the_dtype_rounds_are_refused(whole_numbers, capsys, tmp_path, argv,
                                                         value, dtype, fix):
    """Every command that reads data in a dtype (--dtype float32, float64) refuses a whole
    number that it would round, naming the value, its place and the fix that applies to that
    command; nothing is written. A model reads data that are not float32 in float64, a float32
    model too (test_a_float32_model_reads_whole_numbers_that_float32_rounds)."""
    if any(a.endswith(".parquet") for a in argv) and not _HAVE_PYARROW:
        pytest.skip("needs pyarrow")
    status, out, err = run(capsys, *[a.format(d=whole_numbers, t=tmp_path) for a in argv])
    assert status == 1 and out == "", err
    error = err.splitlines()[-1]
    csv = any(str(a).endswith(".csv") for a in argv)  # named by line, as the reader does
    assert error.startswith("fastem: error: "), err
    assert (f"holds {value} on line 7 (data row 6), column 2 ('b')" if csv else
            f"holds {value} in data row 6 (1-based") in error, err
    assert f"{dtype} cannot hold" in error, err
    assert fix.format(d=whole_numbers) in error, err
    assert os.listdir(tmp_path) == []


def test_a_float32_model_reads_whole_numbers_that_float32_rounds(whole_numbers, capsys,
                                                                 tmp_path):
    """predict and score with a float32 model read 16777217 (which --dtype float32 refuses) in
    float64, as model.predict(X) does, and give Python's results; they had been refused."""
    model = fastem.load(whole_numbers / "float32.npz")
    for name in ("f32.csv", "f32.npy", "f32_int.npy"):
        data = whole_numbers / name
        X = (pd.read_csv(data) if name.endswith(".csv") else
             pd.DataFrame(np.load(data), columns=["a", "b"]))
        status, out, err = run(capsys, "score", whole_numbers / "float32.npz", data, "--json",
                               "--quiet")
        assert status == 0, err
        assert json.loads(out)["mean_log_likelihood"] == model.score(X)
        status, _, err = run(capsys, "predict", whole_numbers / "float32.npz", data, "--proba",
                             "-o", tmp_path / "p.npy", "--quiet")
        assert status == 0, err
        assert_array_equal(np.load(tmp_path / "p.npy"), model.predict_proba(X))


_LONG = np.finfo(np.longdouble).nmant > np.finfo(np.float64).nmant


@pytest.mark.skipif(not _LONG, reason="long double is float64 here")
@pytest.mark.parametrize("value, shown, dtype, fix", [
    (2**53 + 3, "9007199254740995", "float64", ["subtract an offset from that column"]),
    (10**400, "1e+400", "float64", ["beyond the range of float64", "; scale the data"]),
    (2**53 + 3, "9007199254740995", "float32", ["float32 cannot hold", "use --dtype float64"]),
    (10**400, "1e+400", "float32", ["beyond the range of float32", "; scale the data"]),
], ids=["rounded-float64", "beyond-float64", "rounded-float32", "beyond-float32"])
def test_long_doubles_that_the_dtype_alters_are_refused(whole_numbers, capsys, tmp_path, value,
                                                        shown, dtype, fix):
    """A .npy file of long doubles holds whole numbers up to 2**64 as written, and magnitudes
    up to 1e4932: one that the dtype would round (2**53 + 3 had been read as 2**53 + 4) or
    make infinite (1e400, named as inf, with the advice to use --dtype float64 that cannot
    hold it either) is refused with the fix, by a fit of that dtype and by a model, which
    reads data that are not float32 in float64 whatever its dtype."""
    X = np.random.default_rng(0).normal(1e6, 1e3, (20, 2)).astype(np.longdouble)
    X[5, 1] = np.longdouble(value)
    np.save(tmp_path / "long.npy", X)
    model = whole_numbers / f"{dtype}.npz"
    refit = (f"fit the model '{model}' again on that column less" if shown[0] == "9" else
             f"fit the model '{model}' again on data scaled into it")
    for argv, fixes in ((["fit", tmp_path / "long.npy", "-k", 1, "--dtype", dtype,
                          "-o", tmp_path / "m.npz"], fix),
                        (["score", model, tmp_path / "long.npy"], ["float64", refit])):
        status, out, err = run(capsys, *argv)
        assert status == 1 and out == "", err
        error = err.splitlines()[-1]
        assert f"holds {shown} in data row 6 (1-based" in error, err
        for part in fixes:
            assert part in error, err
    assert not (tmp_path / "m.npz").exists()


def test_whole_numbers_are_refused_only_where_the_dtype_rounds_them(whole_numbers, capsys,
                                                                    tmp_path):
    """Whole numbers held exactly (2**24, 2**25 + 4 in float32; 2**60 in float64) and
    fractions that float32 rounds, as any fraction, are read, and impute reads any whole
    number; the next whole number is not read by a fit."""
    X = np.array([[2.0**24, 1.5], [2.0**25 + 4, 16777217.5], [3.0, 4.25]])
    np.save(tmp_path / "held.npy", X)
    np.save(tmp_path / "held_int.npy", np.array([[2**60], [2**53], [5]], dtype=np.int64))
    for path, dtype in (("held.npy", "float32"), ("held_int.npy", "float64")):
        status, _, err = run(capsys, "fit", tmp_path / path, "-k", 1, "--dtype", dtype,
                             "-o", tmp_path / "m.npz", "--quiet")
        assert status == 0, err
    status, _, err = run(capsys, "score", whole_numbers / "float32.npz",
                         whole_numbers / "held.csv", "--quiet")
    assert status == 0, err
    # impute copies DATA's own fields, and computes with their rounding
    (tmp_path / "ids.csv").write_text("a,b\n9007199254740993,1000000\n1000000,\n")
    status, _, err = run(capsys, "impute", whole_numbers / "float64.npz", tmp_path / "ids.csv",
                         "-o", tmp_path / "filled.csv", "--quiet")
    assert status == 0, err
    assert (tmp_path / "filled.csv").read_text().splitlines()[1] == "9007199254740993,1000000"
    X[1, 0] = 2**25 + 2
    np.save(tmp_path / "held.npy", X)
    status, _, err = run(capsys, "fit", tmp_path / "held.npy", "-k", 1, "--dtype", "float32",
                         "-o", tmp_path / "m.npz", "--quiet")
    assert status == 1 and "holds 33554434 in data row 2" in err, err


WRITING_COMMANDS = {
    "fit": ["fit", "{csv}", "-k", "2", "-o", "{dir}/out.npz"],
    "select": ["select", "{csv}", "--k", "1-2", "--covariance", "full", "-o", "{dir}/out.npz"],
    "predict": ["predict", "{model}", "{csv}", "-o", "{dir}/out.csv"],
    "sample": ["sample", "{model}", "-n", "5", "-o", "{dir}/out.npy"],
    "impute csv": ["impute", "{model}", "{csv}", "-o", "{dir}/out.csv"],
    "impute npy": ["impute", "{model}", "{csv}", "-o", "{dir}/out.npy"],
}


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGHUP"])
@pytest.mark.parametrize("argv", WRITING_COMMANDS.values(), ids=list(WRITING_COMMANDS))
def test_a_signal_while_writing_leaves_the_output_as_it_was(faithful, tmp_path, argv, signame):
    # `timeout 60 fastem ...`, a job scheduler's kill (SIGTERM) or a closed terminal (SIGHUP),
    # as the output is renamed into place, had ended the process with the temporary file left
    # beside the output
    import signal
    import subprocess

    argv = [a.format(dir=tmp_path, model=faithful["model"], csv=faithful["csv"]) for a in argv]
    out = argv[-1]
    previous = (faithful["model"].read_bytes() if out.endswith(".npz")  # a model is replaced
                else b"previous")  # only by a model
    with open(out, "wb") as f:
        f.write(previous)
    script = ("import os, signal, sys\nimport fastem.cli\nreplace = os.replace\n"
              f"def terminated(*args):\n    os.kill(os.getpid(), signal.{signame})\n"
              "    replace(*args)\nos.replace = terminated\n"
              "sys.exit(fastem.cli.main(sys.argv[1:]))\n")
    process = subprocess.run([sys.executable, "-c", script, *argv, "--quiet"],
                             capture_output=True, timeout=300, check=False)
    assert process.returncode == 128 + getattr(signal, signame) and process.stdout == b""
    assert process.stderr == f"fastem: terminated ({signame})\n".encode()
    assert [p.name for p in tmp_path.iterdir()] == [os.path.basename(out)]
    with open(out, "rb") as f:
        assert f.read() == previous


@pytest.mark.parametrize("argv", WRITING_COMMANDS.values(), ids=list(WRITING_COMMANDS))
def test_a_killed_command_s_temporary_file_is_removed(faithful, tmp_path, capsys, argv):
    # SIGKILL leaves no chance to clean up: the next command that writes the output does
    import subprocess

    from fastem.io import _host_tag

    argv = [a.format(dir=tmp_path, model=faithful["model"], csv=faithful["csv"]) for a in argv]
    out = argv[-1]
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".{os.path.basename(out)}.fastem-{_host_tag()}-{dead.pid}-0123abcd.tmp"
    stale.write_text("cut off")
    assert main([*argv, "--quiet"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == [os.path.basename(out)]


@pytest.mark.parametrize("argv", WRITING_COMMANDS.values(), ids=list(WRITING_COMMANDS))
def test_an_output_name_as_long_as_the_file_system_holds_is_written(faithful, tmp_path, argv):
    # a name of 255 bytes, which open() writes: the command refused it with "File name too
    # long", the error of its temporary file's name, longer than the output's
    argv = [a.format(dir=tmp_path, model=faithful["model"], csv=faithful["csv"]) for a in argv]
    stem, ext = os.path.splitext(argv[-1])
    argv[-1] = out = stem + "\u00e9" * ((255 - len("out") - len(ext)) // 2) + ext
    assert len(os.fsencode(os.path.basename(out))) <= os.pathconf(tmp_path, "PC_NAME_MAX")
    for _ in range(2):  # written, then replaced
        assert main([*argv, "--quiet"]) == 0
    assert [p.name for p in tmp_path.iterdir()] == [os.path.basename(out)]


WARNING_COMMANDS = {
    "fit": ["fit", "{csv}", "-k", "3", "--max-iter", "1", "-o", "{dir}/out.npz"],
    "fit --bayesian": ["fit", "{csv}", "-k", "3", "--bayesian", "--max-iter", "1",
                       "-o", "{dir}/out.npz"],
    "fit --family exponential": ["fit", "{csv}", "-k", "2", "--family", "exponential",
                                 "--max-iter", "1", "-o", "{dir}/out.npz"],
    "select": ["select", "{csv}", "--k", "1-2", "--covariance", "full", "--max-iter", "1",
               "-o", "{dir}/out.npz"],
}


@pytest.mark.parametrize("argv", WARNING_COMMANDS.values(), ids=list(WARNING_COMMANDS))
def test_warnings_made_errors_by_python_fail_the_command(faithful, tmp_path, capsys, monkeypatch,
                                                         argv):
    # `python -W error -m fastem fit ...` in a pipeline that must not go on with an unconverged
    # model: the warning had been printed and the model written, with status 0
    argv = [a.format(dir=tmp_path, csv=faithful["csv"]) for a in argv]
    assert main([*argv, "--quiet"]) == 0  # without Python's -W: a warning, after success
    assert capsys.readouterr().err.startswith("fastem: warning:")
    os.remove(argv[-1])
    monkeypatch.setattr(sys, "warnoptions", ["error"])
    status, out, err = run(capsys, *argv, "--quiet")
    assert status == 1 and out == "" and err.count("\n") == 1
    assert err.startswith("fastem: error:") and "did not converge" in err and "--debug" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("how", ["-W error", "PYTHONWARNINGS=error"])
def test_python_warning_options_apply_in_a_real_process(faithful, tmp_path, how):
    import subprocess

    env = dict(os.environ)
    options = ["-W", "error"] if how == "-W error" else []
    if not options:
        env["PYTHONWARNINGS"] = "error"
    process = subprocess.run([sys.executable, *options, "-m", "fastem", "fit", str(faithful["csv"]),
                              "-k", "3", "--max-iter", "1", "-o", str(tmp_path / "m.npz")],
                             env=env, capture_output=True, timeout=300, check=False)
    assert process.returncode == 1 and process.stdout == b""
    assert process.stderr.startswith(b"fastem: error:") and process.stderr.count(b"\n") == 1
    assert list(tmp_path.iterdir()) == []


class _FailingStdout(io.StringIO):
    """A stdout without a file descriptor, as a program that calls main may set, whose
    flush fails with ``error``."""

    def __init__(self, error):
        super().__init__()
        self.error = error

    def flush(self):
        raise self.error


@pytest.mark.parametrize("error, status, message", [
    (BrokenPipeError(errno.EPIPE, "Broken pipe"), 141, ""),
    (OSError(errno.ENOSPC, "No space left on device"), 1, "No space left on device; free space"),
    (OSError(errno.EIO, "Input/output error"), 1, "Input/output error; redirect it to a file"),
    (OSError(errno.EBADF, "Bad file descriptor"), 1, "Bad file descriptor; redirect it to a file"),
])
def test_a_stdout_without_a_file_descriptor_that_fails(faithful, capsys, monkeypatch, error,
                                                       status, message):
    # main embedded in a program whose sys.stdout has no fileno: the failure of its flush
    # raised io.UnsupportedOperation out of main, or was reported as "error: fileno"; and
    # "free space on its device" was the advice for every failure (a terminal gone: EIO)
    monkeypatch.setattr(sys, "stdout", _FailingStdout(error))
    assert main(["info", str(faithful["model"])]) == status
    err = capsys.readouterr().err
    assert "fileno" not in err and message in err
    assert err == "" if status == 141 else err.startswith("fastem: error: cannot write")


@pytest.mark.parametrize("ext", [".csv", ".parquet"])
@pytest.mark.parametrize("fitted, written", [(NFC, NFD), (NFD, NFC)])
@pytest.mark.parametrize("command", ["predict", "score", "impute", "fit --columns"])
def test_names_in_another_unicode_normal_form_match(capsys, tmp_path, ext, fitted, written,
                                                    command):
    # The same letters in another normal form were another name: "has no column 'café'; ...
    # its columns are ['café', ...]", and --columns did not find it.
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (30, 2)), rng.normal(6, 1, (30, 2))]).round(4)
    train = table_file(tmp_path / f"train{ext}", [fitted, "b"], X)
    data = table_file(tmp_path / f"data{ext}", ["b", written], X[:, ::-1])
    status, _, err = run(capsys, "fit", train, "-k", 2, "-o", tmp_path / "m.npz", "--quiet")
    assert status == 0, err
    model = fastem.load(tmp_path / "m.npz")
    expected = pd.DataFrame(X, columns=[fitted, "b"])
    if command == "fit --columns":  # the name as the other system writes it
        status, out, err = run(capsys, "fit", data, "--columns", f"{fitted},b", "-k", 2,
                               "-o", tmp_path / "m2.npz", "--json")
        assert status == 0, err
        assert json.loads(out)["feature_names_in"] == [written, "b"]
        refit = fastem.load(tmp_path / "m2.npz")
        assert_array_equal(refit.means_, model.means_)
    elif command == "score":
        status, out, err = run(capsys, "score", tmp_path / "m.npz", data, "--json")
        assert status == 0, err
        assert json.loads(out)["mean_log_likelihood"] == pytest.approx(model.score(expected),
                                                                       rel=1e-12)
    elif command == "predict":
        status, _, err = run(capsys, "predict", tmp_path / "m.npz", data, "-o", tmp_path / "l.csv")
        assert status == 0, err
        assert_array_equal(pd.read_csv(tmp_path / "l.csv")["component"], model.predict(expected))
    else:
        status, _, err = run(capsys, "impute", tmp_path / "m.npz", data, "-o",
                             tmp_path / f"filled{ext}")
        assert status == 0, err
        filled = (pd.read_csv if ext == ".csv" else pd.read_parquet)(tmp_path / f"filled{ext}")
        assert list(filled.columns) == ["b", written]
        assert_array_equal(filled.to_numpy(), X[:, ::-1])


@pytest.mark.parametrize("ext", [".csv", ".parquet"])
@pytest.mark.parametrize("command", ["predict", "score", "impute"])
def test_names_that_read_alike_are_each_matched_to_a_column_of_their_own(capsys, tmp_path,
                                                                        ext, command):
    # A model of 'a' and ' a' (a header 'a, a') took the column 'a' for both in a file of
    # 'a' and 'b', noted "the model's columns in another order (['a'])" and failed with
    # "the columns ['a', 'a'] select the column 'a' ... twice", a selection never made.
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (30, 2)), rng.normal(6, 1, (30, 2))]).round(4)
    train = table_file(tmp_path / f"train{ext}", ["a", " a"], X)
    model_path = tmp_path / "m.npz"
    status, _, err = run(capsys, "fit", train, "-k", 2, "-o", model_path, "--quiet")
    assert status == 0, err
    model = fastem.load(model_path)
    out = [] if command == "score" else ["-o", tmp_path / f"out{ext}"]
    for names, absent in ((["a", "b"], " a"), ([" a", "b"], "a"), ([" a ", "b"], "a")):
        data = table_file(tmp_path / f"data{ext}", names, X)
        status, _, err = run(capsys, command, model_path, data, *out)
        assert status == 1
        assert err.startswith(f"fastem: error: {str(data)!r} has no column {absent!r}"), err
    # each name as written, in another order, or one as written and the other read
    # without its spaces from the one column left: matched by name
    expected = model.score(pd.DataFrame(X, columns=["a", " a"]))
    for names in (["b", " a", "a"], ["b", "a ", "a"]):
        data = table_file(tmp_path / f"data{ext}", names, np.c_[X[:, 0], X[:, ::-1]])
        status, out_text, err = run(capsys, "score", model_path, data, "--json")
        assert status == 0, err
        assert json.loads(out_text)["mean_log_likelihood"] == pytest.approx(expected,
                                                                            rel=1e-12)
    # a name written otherwise that one column reads as, still found
    data = table_file(tmp_path / f"data{ext}", ["a ", "b"], X[:, :1].repeat(2, axis=1))
    model_path2 = tmp_path / "m2.npz"
    train = table_file(tmp_path / f"train{ext}", ["a", "b"], X)
    assert run(capsys, "fit", train, "-k", 2, "-o", model_path2, "--quiet")[0] == 0
    status, _, err = run(capsys, "score", model_path2, data)
    assert status == 0, err


@pytest.mark.parametrize("command", ["fit", "select", "predict", "score", "impute"])
@pytest.mark.parametrize("option", ["--columns", "--col"])
@pytest.mark.parametrize("value", ["-1,0", "-x"])
def test_a_columns_value_that_starts_with_a_dash_is_told_to_join_the_option(
        capsys, faithful, tmp_path, command, option, value):
    # Negative indices (-1,0) and a name such as '-x' were "argument --columns: expected
    # one argument", which did not say why; --columns=-1,0 reads them.
    model_args = [] if command in ("fit", "select") else [faithful["model"]]
    out = [] if command == "score" else ["-o", tmp_path / ("m.npz" if not model_args else "o.csv")]
    status, _, err = run(capsys, command, *model_args, faithful["csv"], option, value, *out)
    assert status == 2
    assert (f"'{value}' starts with '-', which is read as an option: join it to the option "
            f"with '=' (--columns={value})") in err
    if command == "fit" and value == "-1,0":  # the fix works
        status, out, err = run(capsys, command, faithful["csv"], f"--columns={value}", "-k", 2,
                               "-o", tmp_path / "m.npz", "--json")
        assert status == 0, err
        assert json.loads(out)["feature_names_in"] == ["waiting", "eruptions"]


@pytest.mark.parametrize("line_break", ["\n", "\r\n"])
def test_columns_take_a_quoted_name_with_a_line_break_in_a_list(capsys, tmp_path, line_break):
    """A name with a line break, quoted in a list of --columns as a CSV field quotes it (and
    as the messages that suggest --columns write it), was refused as no list at all."""
    name = f"multi{line_break}line"
    frame = pd.DataFrame({"a": [1.0, 5, 3, 2, 4, 6], name: [9.0, 8, 7, 6, 5, 4], "c": 1.0})
    path = tmp_path / "names.csv"
    frame.to_csv(path, index=False)
    status, out, err = run(capsys, "fit", path, "--columns", f'"{name}",a', "-k", 1,
                           "-o", tmp_path / "m.npz", "--json")
    assert status == 0, err
    assert json.loads(out)["feature_names_in"] == [name, "a"]
    status, _, err = run(capsys, "fit", path, "--columns", f"a{line_break}c", "-k", 1,
                         "-o", tmp_path / "m.npz")
    assert status == 1 and "is not a comma-separated list (a line break outside quotes); " \
        "quote a name that contains a comma or a line break" in err


def _indexed_frame(index, dtype="float64"):
    """Two separated clusters of columns a, b with the row ``index`` of a DataFrame."""
    rng = np.random.default_rng(3)
    n = 40
    X = np.vstack([rng.normal(size=(n // 2, 2)), rng.normal(size=(n // 2, 2)) + 6])
    labels = {
        "numbers": pd.Index(np.arange(300, 300 - 2 * n, -2)),
        "text": pd.Index([f"r{i}" for i in range(n)]),
        "named": pd.Index([f"r{i}" for i in range(n)], name="id"),
        "levels": pd.MultiIndex.from_arrays([[f"s{i % 3}" for i in range(n)], np.arange(n)]),
        # a parquet file records a RangeIndex in its pandas metadata alone, as no column
        "rows 100 on": pd.RangeIndex(100, 100 + n),
        "every other row": pd.RangeIndex(0, 2 * n, 2, name="row"),
        "range levels": pd.MultiIndex.from_arrays([range(n), range(5, 5 + n)], names=["i", "j"]),
        "named as an output": pd.Index([f"r{i}" for i in range(n)], name="component"),
    }[index]
    return pd.DataFrame(X.astype(dtype), columns=["a", "b"], index=labels)


@pytest.mark.skipif(not _HAVE_PYARROW, reason="needs pyarrow")
@pytest.mark.parametrize("proba", [False, True])
@pytest.mark.parametrize("out", ["o.csv", "o.parquet", "o.npy"])
@pytest.mark.parametrize("data, index", [
    ("d.csv", "numbers"), ("d.csv", "text"), ("d.csv", "levels"), ("d.parquet", "numbers"),
    ("d.parquet", "named"), ("d.parquet", "levels"),
])
def test_predict_keeps_the_row_index_of_data(tmp_path, capsys, data, index, out, proba):
    """predict wrote its labels or probabilities alone, without DATA's row index (the
    unnamed first columns of df.to_csv, the index columns that a parquet file's pandas
    metadata lists): its rows could not be joined back to DATA's by label, in a CSV or
    parquet output alike. They keep it, as impute keeps it: first in a CSV file (unnamed
    where DATA's is), in the pandas metadata of a parquet file; a .npy file holds the
    predictions alone."""
    frame = _indexed_frame(index)
    (frame.to_csv if data.endswith(".csv") else frame.to_parquet)(tmp_path / data)
    model = fastem.GaussianMixture(2, random_state=0).fit(frame)
    model.save(tmp_path / "m.npz")
    argv = ["predict", str(tmp_path / "m.npz"), str(tmp_path / data), "-o", str(tmp_path / out),
            "--quiet"] + (["--proba"] if proba else [])
    assert main(argv) == 0
    capsys.readouterr()
    expected = model.predict_proba(frame) if proba else model.predict(frame)
    names = ["p0", "p1"] if proba else ["component"]
    if out.endswith(".npy"):
        assert_array_equal(np.load(tmp_path / out), expected)
        return
    n_index = frame.index.nlevels
    back = (pd.read_parquet(tmp_path / out) if out.endswith(".parquet")
            else pd.read_csv(tmp_path / out, index_col=list(range(n_index))))
    assert list(back.columns) == names
    assert list(back.index) == list(frame.index)
    assert list(back.index.names) == list(frame.index.names)
    assert_array_equal(back.to_numpy().reshape(expected.shape), expected)
    assert back.to_numpy().dtype == expected.dtype


@pytest.mark.skipif(not _HAVE_PYARROW, reason="needs pyarrow")
@pytest.mark.parametrize("command", ["predict", "impute"])
@pytest.mark.parametrize("out", ["o.csv", "o.parquet"])
@pytest.mark.parametrize("index", ["rows 100 on", "every other row", "range levels"])
def test_the_range_index_of_a_parquet_file_is_kept(tmp_path, capsys, index, out, command):
    """A parquet file records a RangeIndex other than 0, 1, ... (a frame's rows 100 on, a
    named one, a MultiIndex of such levels) in its pandas metadata alone, with no column:
    predict's output was labelled 0, 1, ..., which joined its rows to others of DATA, and
    so was impute's CSV output, and predict dropped the levels of a MultiIndex. They keep
    DATA's labels."""
    frame = _indexed_frame(index)
    frame.to_parquet(tmp_path / "d.parquet")
    model = _saved_model_run(tmp_path, capsys, frame, command, out)
    back = (pd.read_parquet(tmp_path / out) if out.endswith(".parquet")
            else pd.read_csv(tmp_path / out, index_col=list(range(frame.index.nlevels))))
    assert list(back.index) == list(frame.index)
    assert list(back.index.names) == list(frame.index.names)
    if command == "predict":
        assert list(back.columns) == ["component"]
        assert_array_equal(back["component"], model.predict(frame))
    else:
        assert list(back.columns) == ["a", "b"]
        assert_array_equal(back.to_numpy(), frame.to_numpy())


@pytest.mark.skipif(not _HAVE_PYARROW, reason="needs pyarrow")
@pytest.mark.parametrize("command", ["predict", "impute"])
@pytest.mark.parametrize("out", ["o.csv", "o.parquet"])
def test_a_range_index_that_does_not_count_the_rows_is_the_default_one(tmp_path, capsys,
                                                                        command, out):
    """A parquet file written by pyarrow from some rows of a table read from a frame's file
    keeps the frame's pandas metadata, whose RangeIndex no longer counts its rows; pandas
    reads it with the index 0, 1, ... predict refused it, saying that the file 'changed
    while it was read; run the command again', as it did at every run. It is read as
    pandas reads it."""
    import pyarrow.parquet as pq

    frame = _indexed_frame("rows 100 on")
    frame.to_parquet(tmp_path / "whole.parquet")
    pq.write_table(pq.read_table(tmp_path / "whole.parquet").slice(0, 30), tmp_path / "d.parquet")
    part = pd.read_parquet(tmp_path / "d.parquet")
    assert list(part.index) == list(range(30))
    model = fastem.GaussianMixture(2, random_state=0).fit(frame)
    model.save(tmp_path / "m.npz")
    status, _, err = run(capsys, command, tmp_path / "m.npz", tmp_path / "d.parquet", "-o",
                         tmp_path / out, "--quiet")
    assert status == 0, err
    back = (pd.read_parquet(tmp_path / out) if out.endswith(".parquet")
            else pd.read_csv(tmp_path / out))
    assert list(back.index) == list(range(30))
    expected = model.predict(part) if command == "predict" else part.to_numpy()
    assert_array_equal(back.to_numpy().reshape(expected.shape), expected)


@pytest.mark.skipif(not _HAVE_PYARROW, reason="needs pyarrow")
@pytest.mark.parametrize("command, out", [("predict", "o.parquet"), ("predict", "o.csv"),
                                          ("impute", "o.csv")])
def test_times_of_a_time_zone_in_a_parquet_file_keep_their_zone(tmp_path, capsys, command, out):
    """Timestamps of a time zone (a DataFrame's index of Berlin's hours) were read as their
    instants in UTC without the zone: predict and impute wrote 2023-12-31 23:00:00 for
    2024-01-01 00:00:00+01:00, a label no row of DATA has. They keep their zone: the
    parquet output's index is DATA's, the CSV output's time has its offset, as pandas
    writes it."""
    frame = _indexed_frame("named")
    frame.index = pd.date_range("2024-01-01", periods=len(frame), freq="h",
                                tz="Europe/Berlin", name="t")
    frame.to_parquet(tmp_path / "d.parquet")
    _saved_model_run(tmp_path, capsys, frame, command, out)
    if out.endswith(".parquet"):
        assert pd.read_parquet(tmp_path / out).index.equals(frame.index)
    else:
        first = (tmp_path / out).read_text().splitlines()[1].split(",")[0]
        assert first == "2024-01-01 00:00:00+01:00"
        back = pd.read_csv(tmp_path / out, index_col=0, parse_dates=True)
        assert list(back.index) == list(frame.index)


@pytest.mark.skipif(not _HAVE_PYARROW, reason="needs pyarrow")
def test_predict_of_an_index_named_component_writes_a_parquet_file_that_reads(tmp_path, capsys):
    """DATA's row index named 'component', as predict's labels are: the parquet output
    had two fields 'component', which pandas refuses to read. The index is stored as
    '__index_level_0__' under its name, as pyarrow.Table.from_pandas stores it."""
    frame = _indexed_frame("named as an output")
    frame.to_parquet(tmp_path / "d.parquet")
    model = _saved_model_run(tmp_path, capsys, frame, "predict", "o.parquet")
    back = pd.read_parquet(tmp_path / "o.parquet")
    assert list(back.columns) == ["component"] and back.index.name == "component"
    assert list(back.index) == list(frame.index)
    assert_array_equal(back["component"], model.predict(frame))


@pytest.mark.skipif(not _HAVE_PYARROW, reason="needs pyarrow")
@pytest.mark.parametrize("command, out", [("predict", "o.csv"), ("predict", "o.parquet"),
                                          ("impute", "o.parquet"), ("impute", "o.csv")])
def test_an_index_named_as_a_column_of_a_parquet_file_keeps_its_name(tmp_path, capsys,
                                                                      command, out):
    """A frame's row index named as one of its columns ('a') is stored by pandas as the
    field '__index_level_0__', its name in the pandas metadata alone: predict's outputs
    and impute's CSV output wrote it unnamed, so that pandas read their index without the
    name that it reads DATA's with. It keeps its name; a CSV output of impute, whose
    header would hold 'a' twice, is refused with the fix."""
    frame = _indexed_frame("named")
    frame.index.name = "a"
    frame.to_parquet(tmp_path / "d.parquet")
    assert pd.read_parquet(tmp_path / "d.parquet").index.name == "a"
    model = fastem.GaussianMixture(2, random_state=0).fit(frame)
    model.save(tmp_path / "m.npz")
    status, _, err = run(capsys, command, tmp_path / "m.npz", tmp_path / "d.parquet", "-o",
                         tmp_path / out, "--quiet")
    if command == "impute" and out.endswith(".csv"):
        assert status == 1 and "cannot write the column name 'a' (column 2)" in err, err
        return
    assert status == 0, err
    back = (pd.read_parquet(tmp_path / out) if out.endswith(".parquet")
            else pd.read_csv(tmp_path / out, index_col=0))
    assert back.index.name == "a" and list(back.index) == list(frame.index)
    assert list(back.columns) == (["component"] if command == "predict" else ["a", "b"])


@pytest.mark.skipif(not _HAVE_PYARROW, reason="needs pyarrow")
@pytest.mark.parametrize("index_name, proba", [("component", False), ("p1", True)])
def test_a_csv_output_that_would_repeat_a_name_is_refused(tmp_path, capsys, index_name, proba):
    """DATA's row index named as an output column of predict ('component', 'p1' with
    --proba): the CSV output's header repeated the name, and readers (pandas, fastem) read
    the output column back renamed ('component.1'), so that it was no longer found by its
    name. The output is refused with the fix, as other names a header cannot hold are; a
    parquet output keeps both names."""
    frame = _indexed_frame("named as an output")
    frame.index.name = index_name
    frame.to_parquet(tmp_path / "d.parquet")
    model = fastem.GaussianMixture(2, random_state=0).fit(frame)
    model.save(tmp_path / "m.npz")
    argv = ["predict", tmp_path / "m.npz", tmp_path / "d.parquet", "--quiet"] + (
        ["--proba"] if proba else [])
    status, _, err = run(capsys, *argv, "-o", tmp_path / "o.csv")
    assert status == 1 and not (tmp_path / "o.csv").exists()
    assert f"cannot write the column name {index_name!r} (column " in err
    assert f"readers rename a repeated name (to '{index_name}.1', as pandas does)" in err
    assert "write the output as .parquet" in err
    status, _, err = run(capsys, *argv, "-o", tmp_path / "o.parquet")
    assert status == 0, err
    back = pd.read_parquet(tmp_path / "o.parquet")
    assert back.index.name == index_name and index_name in back.columns


@pytest.mark.skipif(not _HAVE_PYARROW, reason="needs pyarrow")
@pytest.mark.parametrize("out", ["o.csv", "o.parquet"])
def test_predict_keeps_the_row_index_beside_float32_probabilities(tmp_path, capsys, out):
    """float32 probabilities of float32 data beside the row index: float32 in a parquet
    file, float32's digits in a CSV file, as without an index."""
    frame = _indexed_frame("named", "float32")
    frame.to_parquet(tmp_path / "d.parquet")
    model = _saved_model_run(tmp_path, capsys, frame, "predict", out, "--proba")
    expected = model.predict_proba(frame)
    assert expected.dtype == np.float32
    if out.endswith(".parquet"):
        back = pd.read_parquet(tmp_path / out)
        assert list(back.dtypes) == [np.float32, np.float32]
    else:
        back = pd.read_csv(tmp_path / out, index_col=0, dtype={"p0": np.float32, "p1": np.float32})
        for line in (tmp_path / out).read_text().splitlines()[1:]:
            for field in line.split(",")[1:]:  # float32's shortest digits, at most 9
                assert len(field.split("e")[0].replace("-", "").replace(".", "").lstrip("0")) <= 9
    assert list(back.index) == list(frame.index)
    assert_array_equal(back.to_numpy(np.float32), expected)


def test_info_shows_the_reg_covar_that_the_parameters_embody(tmp_path, capsys):
    """A model whose reg_covar was changed by set_params after its fit: its file records
    the fit's in fitted_settings, which info left out, showing 0.05 as the reg_covar of
    covariances fitted with 1e-6. --json gives the field as the file holds it, and the
    text says both; a model without the change has no such field."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(100, 2)), rng.normal(size=(100, 2)) + 6])
    model = fastem.GaussianMixture(2, random_state=0).fit(X)
    model.save(tmp_path / "plain.npz")
    model.set_params(reg_covar=0.05).save(tmp_path / "m.npz")
    assert main(["info", str(tmp_path / "m.npz"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["fitted_settings"] == {"reg_covar": 1e-6}
    assert summary["hyper_parameters"]["reg_covar"] == 0.05
    assert main(["info", str(tmp_path / "m.npz")]) == 0
    assert "fitted with reg_covar=1e-06; reg_covar is now 0.05" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "plain.npz"), "--json"]) == 0
    assert "fitted_settings" not in json.loads(capsys.readouterr().out)


def test_predict_copies_the_row_labels_of_a_csv_file_to_a_csv_file_as_written(tmp_path, capsys):
    """The labels of a CSV file's unnamed index column go to a CSV output as the file
    writes them ('0.10', '1e3', '007', '5.0'), as impute copies them, not as the numbers
    they read as ('0.1', '1000.0', '7.0', '5.0')."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 6])
    model = fastem.GaussianMixture(2, random_state=0).fit(pd.DataFrame(X, columns=["a", "b"]))
    model.save(tmp_path / "m.npz")
    labels = ["0.10", "1e3", "007", "2.50", "-0"] + [f"{i}.0" for i in range(5, 100)]
    (tmp_path / "d.csv").write_text(",a,b\n" + "".join(
        f"{label},{a!r},{b!r}\n" for label, (a, b) in zip(labels, X.tolist())))
    assert main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "d.csv"),
                 "-o", str(tmp_path / "o.csv"), "--quiet"]) == 0
    lines = (tmp_path / "o.csv").read_text().splitlines()
    assert lines[0] == ",component"
    assert [line.rsplit(",", 1)[0] for line in lines[1:]] == labels
    expected = model.predict(pd.DataFrame(X, columns=["a", "b"])).tolist()
    assert [int(line.rsplit(",", 1)[1]) for line in lines[1:]] == expected


@pytest.mark.skipif(not _HAVE_PYARROW, reason="needs pyarrow")
@pytest.mark.parametrize("name", [None, "key"])
def test_a_row_index_of_bytes_is_named_as_the_index_where_csv_cannot_hold_it(
        tmp_path, capsys, name):
    """A parquet file's row index of bytes, which a CSV field cannot hold, was named as
    "the column ''" where it had no name; predict and impute name the row index, and a
    parquet output keeps it."""
    frame = pd.DataFrame({"a": np.arange(20.0) % 7, "b": np.arange(20.0) % 5},
                         index=pd.Index([f"r{j}".encode() for j in range(20)], name=name))
    frame.to_parquet(tmp_path / "d.parquet")
    model = fastem.GaussianMixture(2, random_state=0).fit(frame)
    model.save(tmp_path / "m.npz")
    what = "an unnamed row index" if name is None else "the row index 'key'"
    for command in ("predict", "impute"):
        assert main([command, str(tmp_path / "m.npz"), str(tmp_path / "d.parquet"), "-o",
                     str(tmp_path / "o.csv"), "--quiet"]) == 1
        assert f"has {what}, which holds lists, structures or bytes" in capsys.readouterr().err
        assert not (tmp_path / "o.csv").exists()
    assert main(["predict", str(tmp_path / "m.npz"), str(tmp_path / "d.parquet"), "-o",
                 str(tmp_path / "o.parquet"), "--quiet"]) == 0
    assert list(pd.read_parquet(tmp_path / "o.parquet").index) == list(frame.index)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_big_endian_npy_file_is_read_as_its_native_twin(tmp_path, dtype):
    """A .npy file in the other byte order ('>f4', as np.save writes X.astype('>f4')) is read
    as the file of native numbers: a float32 one stays float32 as in Python, where fit made
    a float64 model, predict, score and impute computed in float64 and wrote float64 files;
    and impute writes a parquet output, where Arrow refused its columns ('Byte-swapped
    arrays not supported')."""
    if not _HAVE_PYARROW:
        pytest.skip("pyarrow writes the parquet output")
    rng = np.random.default_rng(7)
    X = np.concatenate([rng.normal(0, 1, (150, 3)), rng.normal(3, 1, (150, 3))]).astype(dtype)
    X[rng.random(X.shape) < 0.1] = np.nan
    X[:, 2] = rng.normal(size=len(X))  # a column without a missing value
    outputs = {}
    for twin, stored in (("native", X), ("swapped", X.astype(X.dtype.newbyteorder(">")
                                                            if sys.byteorder == "little"
                                                            else X.dtype.newbyteorder("<")))):
        d = tmp_path / twin
        d.mkdir()
        np.save(d / "data.npy", stored)
        model = str(d / "m.npz")
        assert main(["fit", str(d / "data.npy"), "-k", "2", "--missing", "em", "--seed", "0",
                     "-o", model, "--quiet"]) == 0
        assert main(["predict", model, str(d / "data.npy"), "--proba", "-o",
                     str(d / "p.npy"), "--quiet"]) == 0
        assert main(["score", model, str(d / "data.npy"), "--json", "--quiet"]) == 0
        files = [np.load(d / "p.npy")]
        for out in ("i.npy", "i.parquet", "i.csv"):
            assert main(["impute", model, str(d / "data.npy"), "-o", str(d / out),
                         "--quiet"]) == 0
        files += [np.load(d / "i.npy"), pd.read_parquet(d / "i.parquet"),
                  (d / "i.csv").read_bytes()]
        fitted = fastem.load(model)
        outputs[twin] = [fitted.means_, *files]
    native, swapped = outputs["native"], outputs["swapped"]
    assert native[0].dtype == np.dtype(dtype)
    for a, b in zip(native, swapped):
        if isinstance(a, pd.DataFrame):
            assert list(b.dtypes) == list(a.dtypes) == [np.dtype(dtype)] * 3
            pd.testing.assert_frame_equal(a, b)
        elif isinstance(a, bytes):
            assert a == b
        else:
            assert a.dtype == b.dtype
            assert_array_equal(a, b)


def _fit_in_python(how, data, tmp_path):
    """A Gaussian mixture of K=2 fitted in Python on ``data`` by ``how``; saved, the path."""
    model = fastem.GaussianMixture(2, covariance_type="full", random_state=0)
    if how == "select":
        model = fastem.select_n_components(data, [2], ["full"], random_state=0).best_model_
    elif how == "partial_fit":
        model.partial_fit(data)
    elif how == "callback":  # the copy that a callback saves, a checkpoint of the fit
        model.set_params(callback=lambda m, n_iter, bound: m.save(tmp_path / "python.npz"))
        model.set_params(max_iter=2).fit(data)
        return tmp_path / "python.npz"
    else:
        getattr(model, how)(data)
    model.save(tmp_path / "python.npz")
    return tmp_path / "python.npz"


@pytest.mark.filterwarnings("ignore::fastem.ConvergenceWarning")
@pytest.mark.parametrize("how", ["fit", "fit_predict", "partial_fit", "select", "callback"])
@pytest.mark.parametrize("columns, header", [([2, 1], False), ([2, 1], None), ([-1, 1], False)])
def test_python_chunks_of_columns_chosen_by_index_record_them_as_the_command_line(
        unnamed, capsys, tmp_path, how, columns, header):
    """fastem.Chunks([path], columns=[2, 1]) of a file without names fitted a model that
    named its features x0, x1 and recorded no columns: saved, the command line read the
    columns 0,1 of the file as its features (or refused the file's width), where a fit of
    --columns 2,1 reads 2,1. The file's columns are recorded as the command line records
    them, whichever way the model learns from the chunks."""
    chunks = fastem.Chunks([unnamed["csv"]], columns=columns, header=header)
    path = _fit_in_python(how, chunks, tmp_path)
    assert fastem.io.read_metadata(path)["column_indices"] == [2, 1]
    status, out, err = run(capsys, "info", path)
    assert status == 0 and "columns 2,1 of a file without column names" in out, err
    assert out.index("mean x2") < out.index("mean x1") and "mean x0" not in out
    model = fastem.load(path)
    status, out, err = run(capsys, "score", path, unnamed["csv"], "--json")
    assert status == 0 and "columns 2,1" in err
    assert json.loads(out)["mean_log_likelihood"] == pytest.approx(
        model.score(unnamed["table"][:, [2, 1]]), rel=1e-12)
    assert model.score(chunks) == pytest.approx(model.score(unnamed["table"][:, [2, 1]]))


def test_python_chunks_of_named_columns_or_all_columns_record_no_indices(unnamed, tmp_path):
    """Columns chosen by index in a file with names are known by their names; all the
    columns of a file without names are no choice (as the command line records them)."""
    model = fastem.GaussianMixture(2, random_state=0)
    model.fit(fastem.Chunks([unnamed["named_csv"]], columns=[2, 1]))
    model.save(tmp_path / "named.npz")
    meta = fastem.io.read_metadata(tmp_path / "named.npz")
    assert "column_indices" not in meta and meta["feature_names_in"] == ["a", "b"]
    with pytest.warns(UserWarning, match="its first column counts the rows"):
        model.fit(fastem.Chunks([unnamed["csv"]], header=False))
    model.save(tmp_path / "all.npz")
    assert "column_indices" not in fastem.io.read_metadata(tmp_path / "all.npz")


def test_negative_indices_into_files_of_other_widths_are_refused(unnamed, tmp_path):
    """columns=[-1] of files without names of 3 and 4 columns reads the column 2 of one and
    3 of the other as one feature, which no column index names."""
    wide = tmp_path / "wide.csv"
    np.savetxt(wide, np.column_stack([unnamed["table"], unnamed["table"][:, 2]]),
               delimiter=",", fmt="%.17g")
    chunks = fastem.Chunks([unnamed["csv"], wide], columns=[-1, 1], header=False)
    with pytest.raises(ValueError, match=re.escape(
            "chunk 1 ('" + str(wide) + "') holds the columns [3, 1] (0-based) of its file but "
            "chunk 0 the columns [2, 1]")) as info:
        fastem.GaussianMixture(2).fit(chunks)
    assert "columns=[2, 1]" in str(info.value)
    model = fastem.GaussianMixture(2, random_state=0).fit(
        fastem.Chunks([unnamed["csv"], wide], columns=[2, 1], header=False))
    assert model._column_indices == [2, 1]


def test_a_warm_fit_records_the_columns_of_its_data(unnamed, capsys, tmp_path):
    """A model loaded from a file of --columns 2,1 and fitted again (warm_start) on
    fastem.Chunks(columns=[3, 1]) of a wider file saved the columns 2,1: the command line
    then read one of its features from another column of that file."""
    path = _unnamed_model(unnamed, "csv", capsys, tmp_path)
    table = unnamed["table"]
    wider = tmp_path / "wider.csv"
    np.savetxt(wider, np.column_stack([table[:, 0], table[:, 1], table[:, 0], table[:, 2]]),
               delimiter=",", fmt="%.17g")
    model = fastem.load(path).set_params(warm_start=True)
    model.fit(fastem.Chunks([wider], columns=[3, 1], header=False))
    model.save(tmp_path / "warm.npz")
    assert fastem.io.read_metadata(tmp_path / "warm.npz")["column_indices"] == [3, 1]
    status, out, err = run(capsys, "score", tmp_path / "warm.npz", wider, "--json")
    assert status == 0 and "columns 3,1" in err
    assert json.loads(out)["mean_log_likelihood"] == pytest.approx(
        model.score(table[:, [2, 1]]), rel=1e-12)
    # a warm fit on named columns records their names alone: not the columns of a file
    # without names beside them, which the command line read in place of the names
    model.fit(pd.DataFrame(table[:, [2, 1]], columns=["a", "b"]))
    model.save(tmp_path / "named.npz")
    meta = fastem.io.read_metadata(tmp_path / "named.npz")
    assert "column_indices" not in meta and meta["feature_names_in"] == ["a", "b"]


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score", "score_samples",
                                    "partial_fit"])
def test_python_data_of_other_columns_than_recorded_name_the_recorded_ones(
        unnamed, capsys, tmp_path, method):
    """A model of --columns 2,1 given all the columns of the file in Python: the error says
    which columns of the file it was fitted on, and how to read those."""
    model = fastem.load(_unnamed_model(unnamed, "csv", capsys, tmp_path))
    for data in (unnamed["table"], fastem.Chunks([unnamed["csv"]], header=False)):
        with pytest.warns(UserWarning) if isinstance(data, fastem.Chunks) else (
                contextlib.nullcontext()):  # the note of its first column of row numbers
            with pytest.raises(ValueError, match=re.escape(
                    "X has 3 features, but GaussianMixture is expecting 2 features as input. "
                    "Pass data with the same columns as in fit. It was fitted on the columns "
                    "[2, 1] (0-based) of a file without column names: fastem.Chunks(paths, "
                    "columns=[2, 1]) reads those of such files, X[:, [2, 1]] takes them of an "
                    "array.")):
                getattr(model, method)(data)
    plain = fastem.GaussianMixture(2, random_state=0).fit(unnamed["table"][:, [2, 1]])
    with pytest.raises(ValueError, match="as in fit.$"):
        getattr(plain, method)(unnamed["table"])


def _with_ids(faithful, ext, path):
    """The faithful rows with a text ``id`` and a whole-number ``station`` column first."""
    frame = faithful["frame"].copy()
    frame.insert(0, "id", [f"r{i:03d}" for i in range(len(frame))])
    frame.insert(1, "station", np.arange(len(frame)) * 7 + 10**15)  # beyond float32, in float64
    frame.to_csv(path, index=False) if ext == ".csv" else frame.to_parquet(path)
    return frame


@pytest.mark.parametrize("out_ext", [".csv", ".parquet"])
@pytest.mark.parametrize("ext", [".csv", ".parquet"])
def test_predict_keeps_the_columns_that_join_its_output_back_to_data(faithful, capsys, tmp_path,
                                                                     ext, out_ext):
    """Without ``--keep``, an output of labels held no column of DATA to join it back by
    (an id): ``--keep`` writes the chosen columns, text and whole numbers as DATA has
    them, before the output's, by name or index, with or without probabilities."""
    if ".parquet" in (ext, out_ext) and not _HAVE_PYARROW:
        pytest.skip("pyarrow is not installed")
    data = tmp_path / f"ids{ext}"
    frame = _with_ids(faithful, ext, data)
    model = fastem.load(faithful["model"])
    out = tmp_path / f"labels{out_ext}"
    read = pd.read_csv if out_ext == ".csv" else pd.read_parquet
    for keep, expected in ((["--keep", "id"], ["id"]), (["--keep", "station,0"], ["station", "id"]),
                           (["--keep", "1", "--keep", "id"], ["station", "id"])):
        status, _, err = run(capsys, "predict", faithful["model"], data, "-o", out, "-q", *keep)
        assert status == 0, err
        written = read(out)
        assert list(written.columns) == expected + ["component"]
        assert_array_equal(written["component"], model.predict(faithful["frame"]))
        for name in expected:
            assert_array_equal(written[name], frame[name])
    status, _, err = run(capsys, "predict", faithful["model"], data, "-o", out, "-q", "--proba",
                         "--keep", "id")
    assert status == 0, err
    written = read(out)
    assert list(written.columns) == ["id", "p0", "p1"]
    assert_array_equal(written["id"], frame["id"])


def test_predict_keeps_numbers_of_a_npy_or_a_file_without_names(faithful, capsys, tmp_path):
    """A .npy output holds kept columns of numbers; DATA without names (.npy, a CSV file
    without a header) has its columns kept by index."""
    X = faithful["frame"].to_numpy()
    ids = np.arange(len(X), dtype=np.int64) + 2**53 + 1  # whole numbers float64 rounds
    model = fastem.GaussianMixture(2, random_state=0).fit(X)
    model.save(tmp_path / "m.npz")
    np.save(tmp_path / "d.npy", np.column_stack([X, np.arange(len(X))]))
    pd.DataFrame(np.column_stack([X, np.arange(len(X))])).to_csv(
        tmp_path / "d.csv", index=False, header=False)
    for data in ("d.npy", "d.csv"):
        status, _, err = run(capsys, "predict", tmp_path / "m.npz", tmp_path / data,
                             "--columns", "0,1", "--keep", "2", "-o", tmp_path / "o.npy", "-q")
        assert status == 0, err
        assert_array_equal(np.load(tmp_path / "o.npy"),
                           np.column_stack([np.arange(len(X)), model.predict(X)]))
        status, _, err = run(capsys, "predict", tmp_path / "m.npz", tmp_path / data,
                             "--columns", "0,1", "--keep", "x2", "-o", tmp_path / "o.npy", "-q")
        assert status == 1 and "no header row with names" in err
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "id": ids}).to_csv(tmp_path / "i.csv", index=False)
    status, _, err = run(capsys, "predict", tmp_path / "m.npz", tmp_path / "i.csv", "--columns",
                         "a,b", "--keep", "id", "--proba", "-o", tmp_path / "o.npy", "-q")
    assert status == 1 and "'id'" in err  # float64 would round the ids


@pytest.mark.parametrize("keep, message", [
    ("idx", "column 'idx' not found"),
    ("id,", "--keep 'id,' has an empty entry"),
    ("component", "has the name of an output column"),
    ("9", "out of range"),
])
def test_predict_keep_refuses_what_it_cannot_keep(faithful, capsys, tmp_path, keep, message):
    data = tmp_path / "ids.csv"
    frame = _with_ids(faithful, ".csv", data)
    frame.rename(columns={"station": "component"}).to_csv(data, index=False)
    status, _, err = run(capsys, "predict", faithful["model"], data, "-o", tmp_path / "o.csv",
                         "--keep", keep)
    assert status == 1 and message in err and err.count("\n") == 1, err
    assert not (tmp_path / "o.csv").exists()
    status, _, err = run(capsys, "predict", faithful["model"], data, "-o", tmp_path / "o.npy",
                         "--keep", "id")
    assert status == 1 and "holds numbers only" in err


@pytest.mark.skipif(not _HAVE_PYARROW, reason="needs pyarrow")
@pytest.mark.parametrize("fraction", ["", ".5", ".000000001"])
def test_predict_keeps_times_and_durations_in_nanoseconds_as_such(faithful, capsys, tmp_path,
                                                                   fraction):
    """Times in nanoseconds, pandas' unit, kept from a parquet DATA: a CSV output had the
    nanoseconds since 1970 (1704067200000000000), a number that joins to no time of DATA,
    and a .npy output failed with numpy's error of promoting datetime64 with int64. They
    are written as times, to the nanosecond where they need it, and a .npy output is
    refused as for text. Durations in nanoseconds (pandas' timedeltas) likewise were
    numbers of nanoseconds, and are written as str of a timedelta writes them."""
    frame = faithful["frame"].copy()
    times = pd.to_datetime([f"2024-01-01 00:00:{i % 60:02d}{fraction}"
                            for i in range(len(frame))])
    frame.insert(0, "t", np.array(times, dtype="M8[ns]"))
    frame.loc[3, "t"] = pd.NaT
    frame.to_parquet(tmp_path / "d.parquet")
    out = tmp_path / "o.csv"
    status, _, err = run(capsys, "predict", faithful["model"], tmp_path / "d.parquet", "-o", out,
                         "-q", "--keep", "t")
    assert status == 0, err
    lines = out.read_text().splitlines()
    # a whole microsecond as a time in microseconds is written (str of a datetime)
    first = "2024-01-01 00:00:00" + {".5": ".500000"}.get(fraction, fraction)
    assert lines[1].split(",")[0] == first
    assert lines[4].split(",")[0] == ""  # NaT: empty, as pandas writes it
    written = pd.read_csv(out, parse_dates=["t"])
    assert_array_equal(written["t"].to_numpy("M8[ns]"), frame["t"].to_numpy())
    # durations in nanoseconds, as pandas writes timedeltas: as durations, not numbers
    lengths = np.array([-1, 1, 10**9, 10**9 + 1, 2 * 86400 * 10**9 + 5], dtype="m8[ns]")
    if not fraction:
        lengths = lengths * 1000
    frame = frame.iloc[:5].assign(d=lengths, t=pd.NaT)
    frame.to_parquet(tmp_path / "d.parquet")
    status, _, err = run(capsys, "predict", faithful["model"], tmp_path / "d.parquet", "-o", out,
                         "-q", "--keep", "d")
    assert status == 0, err
    back = pd.read_csv(out, dtype={"d": str})["d"]
    assert all(":" in text for text in back), list(back)  # not the nanoseconds, a number
    assert_array_equal(pd.to_timedelta(back).to_numpy("m8[ns]"), lengths)
    status, _, err = run(capsys, "predict", faithful["model"], tmp_path / "d.parquet", "-o",
                         tmp_path / "o.npy", "--keep", "t")
    assert status == 1 and "holds numbers only" in err and err.count("\n") == 1, err


def test_predict_keep_leaves_the_row_index_where_it_is(faithful, capsys, tmp_path):
    """The row index of DATA (pandas' unnamed first column) stays the output's index: kept
    again, it is not written twice."""
    out = tmp_path / "o.csv"
    status, _, err = run(capsys, "predict", faithful["model"], faithful["indexed"], "-o", out,
                         "-q", "--keep", "0,eruptions")
    assert status == 0, err
    written = pd.read_csv(out, index_col=0)
    assert list(written.columns) == ["eruptions", "component"]
    assert_array_equal(written.index, np.arange(len(faithful["frame"])))
