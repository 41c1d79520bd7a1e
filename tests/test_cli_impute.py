"""``fastem impute``: DATA comes back whole, with only its missing values in the model's columns filled.

Every other column (text ones too) and every observed value is copied
unchanged, whatever the model's dtype and whichever formats DATA and OUT are.
"""

import codecs
import csv
import json
import os

import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastem
import fastem._tables
import fastem.cli
from fastem.cli import main

FORMATS = (".csv", ".parquet", ".npy")


def _table(seed=0, n=200):
    """Columns a, b, c, d from two clusters; b and d have missing values, so has a."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 4)) + 5.0 * labels[:, None]
    X[:, 2] = np.round(X[:, 2] * 1000)  # whole numbers, as an id column would be
    X[rng.random(n) < 0.15, 1] = np.nan
    X[(rng.random(n) < 0.15) & ~np.isnan(X[:, 1]), 3] = np.nan  # b or d observed in each row
    X[rng.random(n) < 0.1, 0] = np.nan  # not a model column: stays missing
    return X


def _write(path, X, names):
    if path.suffix == ".npy":
        np.save(path, X)
    elif path.suffix == ".csv":
        with open(path, "w") as f:
            f.write(",".join(names) + "\n")
            for row in X:
                f.write(",".join("NA" if v != v else repr(float(v)) for v in row) + "\n")
    else:
        pa = pytest.importorskip("pyarrow")
        import pyarrow.parquet as pq

        pq.write_table(pa.table({n: pa.array(X[:, j], from_pandas=True)
                                 for j, n in enumerate(names)}), path)


def _read(path):
    if path.suffix == ".npy":
        return np.load(path)
    if path.suffix == ".csv":
        return np.genfromtxt(path, delimiter=",", skip_header=1, missing_values="NA",
                             filling_values=np.nan)
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    return np.column_stack([table.column(j).to_numpy(zero_copy_only=False).astype(float)
                            for j in range(table.num_columns)])


@pytest.mark.parametrize("data_format", FORMATS)
@pytest.mark.parametrize("out_format", FORMATS)
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_impute_writes_every_column_with_the_observed_values_unchanged(
        tmp_path, data_format, out_format, dtype):
    X = _table()
    names = ["a", "b", "c", "d"]
    data, model_path, out = (tmp_path / f"data{data_format}", str(tmp_path / "m.npz"),
                             tmp_path / f"filled{out_format}")
    _write(data, X, names)
    columns = ["--columns", "3,1"] if data_format == ".npy" else ["--columns", "d,b"]
    assert main(["fit", str(data), *columns, "-k", "2", "--missing", "em", "--dtype", dtype,
                 "--seed", "0", "--max-iter", "300", "-o", model_path, "--quiet"]) == 0
    impute_columns = columns if data_format == ".npy" else []  # by name otherwise
    assert main(["impute", model_path, str(data), *impute_columns, "-o", str(out),
                 "--quiet"]) == 0
    filled = _read(out)
    model = fastem.load(model_path)
    if hasattr(model, "feature_names_in_"):
        del model.feature_names_in_
    expected = X.copy()
    expected[:, [3, 1]] = model.impute(X[:, [3, 1]])
    assert filled.shape == X.shape
    observed = ~np.isnan(X)
    assert np.array_equal(filled[observed], X[observed])  # bit for bit, float32 model or not
    assert np.isnan(filled[:, 0]).sum() == np.isnan(X[:, 0]).sum()  # not a model column
    assert np.array_equal(filled[:, [1, 3]], expected[:, [1, 3]], equal_nan=True)  # as Python
    if out_format == ".csv":
        # A filled field carries the digits of model.impute's value for float64
        # data, float64's, a float32 model's too: it computes them in float64.
        with open(out, newline="") as f:
            rows = list(csv.reader(f))[1:]
        for j in (1, 3):
            for i in np.flatnonzero(np.isnan(X[:, j])):
                assert rows[i][j] == fastem._tables.shortest_text(expected[i, j])


@pytest.mark.parametrize("data_format", [".npy", ".csv"])
@pytest.mark.parametrize("out_format", [".parquet", ".csv"])
@pytest.mark.parametrize("columns", [None, "2,0", "0,2"])
def test_data_without_names_is_written_with_the_model_s_names(tmp_path, data_format, out_format,
                                                              columns):
    """DATA without names (.npy, a CSV file without a header) has its columns taken as the
    named model's features, and the output names them so. A CSV file without a header was
    written with x0, x1, ... where a .npy file got the model's names, so that the output
    did not read back under the model; and a column not chosen kept its place x1 beside a
    feature named 'x1': a parquet file that pandas could not read, a CSV file refused."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X = _table()[:, [1, 2, 3]]  # b (holes), an id of whole numbers, d (holes)
    chosen = [0, 1, 2] if columns is None else [int(j) for j in columns.split(",")]
    model_path = tmp_path / "m.npz"
    fastem.GaussianMixture(2, missing="em", random_state=0).fit(
        pd.DataFrame(X[:, chosen], columns=["x1", "b", "d"][:len(chosen)])).save(model_path)
    data = tmp_path / f"data{data_format}"
    if data_format == ".npy":
        np.save(data, X)
    else:
        pd.DataFrame(X).to_csv(data, header=False, index=False)
    out = tmp_path / f"filled{out_format}"
    options = [] if columns is None else ["--columns", columns]
    assert main(["impute", str(model_path), str(data), *options, "-o", str(out), "--quiet"]) == 0
    if out_format == ".csv" and data_format == ".csv":  # a copy of DATA: no header
        assert pd.read_csv(out, header=None).shape == X.shape
        return
    filled = pd.read_csv(out) if out_format == ".csv" else pd.read_parquet(out)
    expected = {None: ["x1", "b", "d"], "2,0": ["b", "x1.1", "x1"], "0,2": ["x1", "x1.1", "b"]}
    assert list(filled.columns) == expected[columns]


@pytest.mark.parametrize("data_format", [".npy", ".parquet"])
@pytest.mark.parametrize("out_format", FORMATS)
def test_float32_data_is_written_back_in_float32(tmp_path, data_format, out_format):
    """float32 DATA (.npy, parquet) comes back float32, as model.impute(X) returns it: a
    .npy output of float32, parquet columns of float32 (those with holes too), CSV fields
    with float32's digits. A .npy output was float64, a parquet output float64 in the
    columns with holes beside float32 in the others, and a CSV output wrote the observed
    values with float64's digits (0.10000000149011612 for 0.1)."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    X = _table()[:, [1, 2, 3]].astype(np.float32)  # b and d with holes, c without
    X[0, 1] = np.float32(0.1)
    names = ["b", "c", "d"]
    data, model_path, out = (tmp_path / f"data{data_format}", str(tmp_path / "m.npz"),
                             tmp_path / f"filled{out_format}")
    if data_format == ".npy":
        np.save(data, X)
    else:
        pq.write_table(pa.table({n: pa.array(X[:, j], from_pandas=True)
                                 for j, n in enumerate(names)}), data)
    assert main(["fit", str(data), "-k", "2", "--missing", "em", "--seed", "0",
                 "--max-iter", "300", "-o", model_path, "--quiet"]) == 0
    model = fastem.load(model_path)
    if hasattr(model, "feature_names_in_"):
        del model.feature_names_in_
    assert model.means_.dtype == np.float32
    expected = model.impute(X)
    assert expected.dtype == np.float32
    assert main(["impute", model_path, str(data), "-o", str(out), "--quiet"]) == 0
    if out_format == ".npy":
        filled = np.load(out)
        assert filled.dtype == np.float32
    elif out_format == ".parquet":
        table = pq.read_table(out)
        assert [field.type for field in table.schema] == [pa.float32()] * 3
        filled = np.column_stack([c.to_numpy() for c in table.columns])
    else:
        with open(out, newline="") as f:
            rows = list(csv.reader(f))[1:]
        assert rows[0][1] == "0.1"
        assert all(field == fastem._tables.shortest_text(v, np.float32)
                   for row, values in zip(rows, expected) for field, v in zip(row, values))
        filled = np.array(rows, dtype=np.float32)
    assert np.array_equal(filled, expected)


@pytest.mark.parametrize("dtype", ["float16", "longdouble"])
@pytest.mark.parametrize("out_format", FORMATS)
def test_columns_of_other_float_types_with_holes_are_written_as_float64(tmp_path, dtype,
                                                                       out_format):
    """A .npy file of float16 or long doubles is read as float64, and its filled columns are
    written as float64 with model.impute's values, in every format: a parquet output of long
    doubles, which Arrow cannot hold, would be refused."""
    pytest.importorskip("pyarrow")
    X = _table()[:, [1, 3]]  # b and d, each with holes
    data, model_path, out = (tmp_path / "data.npy", str(tmp_path / "m.npz"),
                             tmp_path / f"filled{out_format}")
    np.save(data, X.astype(dtype))
    assert main(["fit", str(data), "-k", "2", "--missing", "em", "--seed", "0",
                 "--max-iter", "300", "-o", model_path, "--quiet"]) == 0
    assert main(["impute", model_path, str(data), "-o", str(out), "--quiet"]) == 0
    expected = fastem.load(model_path).impute(X.astype(dtype).astype(np.float64))
    if out_format == ".npy":
        assert np.load(out).dtype == np.float64
    elif out_format == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        assert [f.type for f in pq.read_table(out).schema] == [pa.float64()] * 2
    assert np.array_equal(_read(out), expected)


@pytest.mark.skipif(np.finfo(np.longdouble).nmant <= 52, reason="long double is float64 here")
@pytest.mark.parametrize("held", [True, False])
def test_a_column_of_long_doubles_goes_to_parquet_as_float64_or_is_refused(tmp_path, capsys,
                                                                         held):
    """A .npy file of long doubles, one column without a hole (copied as it is): a parquet
    output takes it as float64 where float64 holds its values, and refuses it with the
    formats that keep it where not. Both were Arrow's 'Unsupported numpy type 13'."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    X = _table()[:, [1, 3, 2]].astype(np.longdouble)  # b and d with holes, c without
    if not held:
        X[5, 2] = np.longdouble(1) / 3  # a third in long double's digits
    data, model_path, out = (tmp_path / "data.npy", str(tmp_path / "m.npz"),
                             tmp_path / "filled.parquet")
    np.save(data, X)
    assert main(["fit", str(data), "--columns", "0,1", "-k", "2", "--missing", "em",
                 "--seed", "0", "--max-iter", "300", "-o", model_path, "--quiet"]) == 0
    code = main(["impute", model_path, str(data), "--columns", "0,1", "-o", str(out),
                 "--quiet"])
    err = capsys.readouterr().err
    if held:
        assert code == 0
        table = pq.read_table(out)
        assert [f.type for f in table.schema] == [pa.float64()] * 3
        assert np.array_equal(table.column(2).to_numpy(), X[:, 2].astype(np.float64))
    else:
        assert code == 1 and err.count("\n") == 1
        assert "the column 'x2' of long doubles" in err and "write the output as .npy" in err
        assert not out.exists()


def test_impute_copies_a_csv_file_as_text_with_only_the_missing_fields_filled(tmp_path):
    """Comments, the delimiter, the line ending, text columns and the spelling of numbers stay."""
    X = _table(seed=1, n=60)
    lines = ["# site survey, 2026", "site;a;b;c;d;note"]
    for i, row in enumerate(X):
        a = "" if np.isnan(row[0]) else f"{row[0]:.3f}0"  # trailing zero: the text is kept
        b = ("NA", "NAN", "+nan", "")[i % 4] if np.isnan(row[1]) else f"{row[1]:.6e}"
        d = "" if np.isnan(row[3]) else f" {row[3]:.4f}"  # a leading space
        lines.append(f"s{i};{a};{b};{int(row[2])};{d};\"ok; checked\"")
    path = tmp_path / "survey.csv"
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode())
    model_path, out = str(tmp_path / "m.npz"), tmp_path / "filled.csv"
    assert main(["fit", str(path), "--columns", "b,d", "-k", "2", "--missing", "em",
                 "--dtype", "float32", "--seed", "0", "--max-iter", "300",
                 "-o", model_path, "--quiet"]) == 0
    assert main(["impute", model_path, str(path), "-o", str(out), "--quiet"]) == 0
    text = out.read_bytes().decode()
    assert text.startswith("# site survey, 2026\r\n") and text.count("\r\n") == len(lines)
    model = fastem.load(model_path)
    del model.feature_names_in_
    with open(path, newline="") as f:
        before = list(csv.reader(f.readlines()[1:], delimiter=";"))
    with open(out, newline="") as f:
        after = list(csv.reader(f.readlines()[1:], delimiter=";"))
    assert after[0] == before[0]  # the header
    columns = {"b": 2, "d": 4}
    values = np.array([[float(r[j]) if r[j].strip() not in ("", "NA", "NAN", "+nan") else np.nan
                        for j in columns.values()] for r in before[1:]])
    imputed = model.impute(values)
    for i, (old, new) in enumerate(zip(before[1:], after[1:])):
        for j, (a, b) in enumerate(zip(old, new)):
            if j in columns.values() and a.strip() in ("", "NA", "NAN", "+nan"):
                c = list(columns.values()).index(j)
                # the shortest text of model.impute's float64 value, a float32 model's too
                assert b == fastem._tables.shortest_text(imputed[i, c])
            else:
                assert b == a


def test_impute_keeps_a_parquet_file_s_column_types(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    X = _table(seed=2)
    counts = pa.array([None if v != v else int(abs(v) * 10) for v in X[:, 1]], type=pa.int64())
    table = pa.table({
        "site": pa.array([f"s{i}" for i in range(len(X))]),
        "b": counts,
        "d": pa.array(X[:, 3].astype(np.float32), from_pandas=True),
        "c": pa.array(X[:, 2].astype(np.int64) + 2**53 + 1),  # integers beyond float64's
    })
    data, model_path, out = tmp_path / "d.parquet", str(tmp_path / "m.npz"), tmp_path / "f.parquet"
    pq.write_table(table, data)
    # fitted on c less the offset: a fit refuses whole numbers that float64 rounds
    fitted = table.set_column(3, "c", pa.array(X[:, 2].astype(np.int64)))
    pq.write_table(fitted, tmp_path / "fitted.parquet")
    assert main(["fit", str(tmp_path / "fitted.parquet"), "--columns", "b,d,c", "-k", "2",
                 "--missing", "em", "--seed", "0", "--max-iter", "300", "-o", model_path,
                 "--quiet"]) == 0
    assert main(["impute", model_path, str(data), "-o", str(out), "--quiet"]) == 0
    filled = pq.read_table(out)
    assert filled.schema.names == ["site", "b", "d", "c"]
    assert filled.column("c").equals(table.column("c"))  # no missing value: left as it is
    assert filled.column("site").equals(table.column("site"))
    assert filled.schema.field("d").type == pa.float32()
    assert filled.schema.field("b").type == pa.float64()  # a conditional expectation
    assert filled.column("b").null_count == filled.column("d").null_count == 0
    observed = ~np.isnan(X[:, 3])
    assert np.array_equal(filled.column("d").to_numpy()[observed], X[observed, 3].astype(np.float32))
    b = counts.to_numpy(zero_copy_only=False)
    kept = ~np.isnan(b)
    assert np.array_equal(filled.column("b").to_numpy()[kept], b[kept])


def test_impute_refuses_to_write_text_columns_as_numbers(tmp_path, capsys):
    X = _table(seed=3, n=40)
    path = tmp_path / "named.csv"
    with open(path, "w") as f:
        f.write("name,b,d\n")
        for i, row in enumerate(X):
            values = ("" if v != v else repr(float(v)) for v in row[[1, 3]])
            f.write(f"p{i}," + ",".join(values) + "\n")
    model_path = str(tmp_path / "m.npz")
    assert main(["fit", str(path), "--columns", "b,d", "-k", "2", "--missing", "em",
                 "--seed", "0", "--max-iter", "300", "-o", model_path, "--quiet"]) == 0
    capsys.readouterr()
    assert main(["impute", model_path, str(path), "-o", str(tmp_path / "f.npy")]) != 0
    err = capsys.readouterr().err
    assert "the column 'name', which does not hold numbers" in err and ".csv or .parquet" in err
    assert not (tmp_path / "f.npy").exists()


@pytest.mark.parametrize("command", ["fit", "select"])
def test_rows_without_a_value_in_the_chosen_columns_are_left_out_with_a_note(
        tmp_path, capsys, command):
    X = _table(seed=4, n=120)
    X[[5, 9], 1] = X[[5, 9], 3] = np.nan
    path = tmp_path / "holes.csv"
    _write(path, X, ["a", "b", "c", "d"])
    model_path = str(tmp_path / "m.npz")
    k = ["-k", "2", "--max-iter", "300"] if command == "fit" else ["-k", "1-2"]
    assert main([command, str(path), "--columns", "b,d", *k, "--missing", "em", "--seed", "0",
                 "-o", model_path]) == 0
    assert "2 row(s) with no value in any chosen column (the first is data row 6)" in (
        capsys.readouterr().err)
    kept = np.delete(X[:, [1, 3]], [5, 9], axis=0)
    fitted = fastem.load(model_path)
    python = fastem.GaussianMixture(2, missing="em", random_state=0, max_iter=300).fit(kept)
    if command == "fit":
        assert_allclose(fitted.means_, python.means_, rtol=1e-10)
    X[:, [1, 3]] = np.nan
    _write(path, X, ["a", "b", "c", "d"])
    assert main([command, str(path), "--columns", "b,d", *k, "--missing", "em",
                 "-o", model_path]) != 0
    assert "no value in any row of the chosen columns" in capsys.readouterr().err


def test_impute_keeps_the_index_and_text_columns_between_formats(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X = _table(seed=5, n=80)
    frame = pd.DataFrame({"site": [f"s{i}" for i in range(len(X))], "b": X[:, 1], "d": X[:, 3]},
                         index=pd.Index(np.arange(100, 100 + len(X)), name="id"))
    frame["b"] = frame["b"].round(0).astype("Int64")  # nullable integers
    frame.to_csv(tmp_path / "d.csv")
    frame.to_parquet(tmp_path / "d.parquet")
    model_path = str(tmp_path / "m.npz")
    assert main(["fit", str(tmp_path / "d.csv"), "--columns", "b,d", "-k", "2", "--missing", "em",
                 "--seed", "0", "--max-iter", "300", "-o", model_path, "--quiet"]) == 0
    for data, out in [("d.csv", "f.parquet"), ("d.parquet", "f.csv"), ("d.parquet", "g.parquet"),
                      ("d.csv", "g.csv")]:
        assert main(["impute", model_path, str(tmp_path / data), "-o", str(tmp_path / out),
                     "--quiet"]) == 0
        back = (pd.read_parquet if out.endswith(".parquet") else pd.read_csv)(tmp_path / out)
        back = back.reset_index() if "id" not in back.columns else back
        assert sorted(back.columns) == ["b", "d", "id", "site"], (data, out)  # parquet: index last
        assert list(back["id"]) == list(frame.index) and list(back["site"]) == list(frame["site"])
        assert back[["b", "d"]].notna().all().all()
        observed = frame["b"].notna().to_numpy()
        assert np.array_equal(back["b"].to_numpy(float)[observed], frame["b"].to_numpy(float)[observed])


@pytest.mark.parametrize("labels", ["numbers", "text"])
@pytest.mark.parametrize("data, out", [("d.parquet", "f.csv"), ("d.csv", "f.parquet"),
                                       ("d.csv", "f.npy"), ("d.parquet", "f.npy")])
def test_an_unnamed_row_index_stays_the_index_between_formats(tmp_path, capsys, labels, data,
                                                              out):
    """The row index of a frame without a name (the unnamed first column of df.to_csv,
    a parquet file's '__index_level_0__') was written as a column of data: last, under
    '__index_level_0__', in a CSV file, as 'Unnamed: 0' in a parquet file, and into a .npy
    file, so that a fit on the output took it for a feature. It stays the index, as
    pandas writes one: first and unnamed in a CSV file, in the pandas metadata of a parquet
    file, and out of a .npy file."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X = _table(seed=7, n=60)[:, 1:3]
    frame = pd.DataFrame(X, columns=["b", "c"],
                         index=[f"r{i}" for i in range(60)] if labels == "text"
                         else np.arange(100, 160))
    frame.to_csv(tmp_path / "d.csv")
    frame.to_parquet(tmp_path / "d.parquet")
    model = str(tmp_path / "m.npz")
    fastem.GaussianMixture(1, missing="em", random_state=0).fit(frame).save(model)
    assert main(["impute", model, str(tmp_path / data), "-o", str(tmp_path / out),
                 "--quiet"]) == 0
    capsys.readouterr()
    assert main(["fit", str(tmp_path / out), "-k", "1", "--json", "--quiet",
                 "-o", str(tmp_path / "again.npz")]) == 0
    assert json.loads(capsys.readouterr().out)["n_features_in"] == 2
    if out.endswith(".npy"):
        assert np.load(tmp_path / out).shape == (60, 2)
        return
    back = (pd.read_parquet(tmp_path / out) if out.endswith(".parquet")
            else pd.read_csv(tmp_path / out, index_col=0))
    assert list(back.columns) == ["b", "c"] and list(back.index) == list(frame.index)
    assert back.notna().all().all()


def _late_latin1_file(tmp_path):
    """A UTF-8 CSV file whose last text field is Latin-1, far below the sniffed head; and a model."""
    X = _table(seed=6, n=3000)
    path = tmp_path / "late.csv"
    rows = [f"{float(v[1])!r},{float(v[3])!r},note" for v in X]
    rows[-1] = rows[-1].replace("note", "caf\xe9")  # not UTF-8, far below the sniffed head
    path.write_bytes(("b,d,text\n" + "\n".join(rows).replace("nan", "") + "\n").encode("latin-1"))
    model_path = str(tmp_path / "m.npz")
    X2 = np.nan_to_num(X[:, [1, 3]])
    np.savetxt(tmp_path / "ok.csv", X2, delimiter=",", header="b,d", comments="")
    assert main(["fit", str(tmp_path / "ok.csv"), "-k", "2", "--seed", "0", "-o", model_path,
                 "--quiet"]) == 0
    return path, model_path


def test_bytes_that_are_not_text_in_the_file_s_encoding_are_copied_as_they_were(tmp_path, capsys):
    path, model_path = _late_latin1_file(tmp_path)
    out = tmp_path / "out.csv"
    assert main(["impute", model_path, str(path), "--columns", "b,d", "-o", str(out),
                 "--quiet"]) == 0
    before, after = path.read_bytes().split(b"\n"), out.read_bytes().split(b"\n")
    assert len(after) == len(before)
    assert before[-2].endswith(b",caf\xe9") and after[-2].endswith(b",caf\xe9")
    changed = [i for i, (x, y) in enumerate(zip(before, after)) if x != y]
    assert changed and all(b",," in before[i] or before[i].startswith(b",") for i in changed)
    # Between formats the field must become text: a one-line error, nothing written.
    parquet = tmp_path / "out.parquet"
    pytest.importorskip("pyarrow")
    capsys.readouterr()
    assert main(["impute", model_path, str(path), "--columns", "b,d", "-o", str(parquet)]) != 0
    err = capsys.readouterr().err
    assert "late.csv" in err and "save it as UTF-8" in err and "Traceback" not in err
    assert not parquet.exists()


def test_an_error_part_way_leaves_the_output_as_it_was(tmp_path, monkeypatch, capsys):
    path, model_path = _late_latin1_file(tmp_path)
    out = tmp_path / "out.csv"
    out.write_text("previous")
    filled_record = fastem._tables._filled_record
    calls = []

    def malformed_late(*args):  # a record that cannot be split, far down the file
        calls.append(1)
        if len(calls) > 300:
            raise ValueError("'late.csv' line 2000 has fields that cannot be told apart")
        return filled_record(*args)

    monkeypatch.setattr(fastem._tables, "_filled_record", malformed_late)
    capsys.readouterr()
    assert main(["impute", model_path, str(path), "--columns", "b,d", "-o", str(out)]) != 0
    err = capsys.readouterr().err
    assert "late.csv" in err and "cannot be told apart" in err and "Traceback" not in err
    assert len(calls) > 300
    assert out.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.csv")] == []


# ----------------------------------------------------------------------
# a CSV file is copied byte for byte, but for the filled fields


def _two_column_model(tmp_path):
    """A model of the columns b and d fitted with missing='em', and the path of it named so."""
    X = _table(seed=7, n=200)[:, [1, 3]]
    model = fastem.GaussianMixture(2, missing="em", random_state=0, max_iter=300).fit(X)
    model.feature_names_in_ = np.array(["b", "d"], dtype=object)
    path = str(tmp_path / "m.npz")
    model.save(path)
    del model.feature_names_in_
    return model, path


_NA_SPELLINGS = ("", "NA", "nan", "N/A", '"NA"', " NA ", "NULL", "#N/A", "NaN", "<NA>")
_NUMBER_SPELLINGS = ("{!r}", " {!r}", '"{!r}"', "{:.17e}", "{!r} ")


def _template(n_rows, note, endings):
    """(CSV text with a placeholder for each missing field, the rows' (b, d) values).

    Above the table a "sep=" line and comments (one with quotes); blank lines
    and lines of spaces between rows and at the end; a text column with the
    delimiter, quotes and line breaks inside quoted fields; every spelling of
    a missing value; numbers spelled with spaces, quotes and exponents.
    """
    rng = np.random.default_rng(8)
    values = _table(seed=9, n=n_rows)[:, [1, 3]]
    lines, slot = ["sep=,", '# survey "2026", first wave', "# units: none"], 0
    lines.append("name,b,d,remark")
    for i, row in enumerate(values):
        fields = [f"r{i}"]
        for v in row:
            if np.isnan(v):
                fields.append("{%d}" % slot)
                slot += 1
            else:
                fields.append(_NUMBER_SPELLINGS[rng.integers(len(_NUMBER_SPELLINGS))].format(float(v)))
        fields.append(('"a, b"', '"says ""hi"""', f'"{note}\nsecond line, too"', "", note)[i % 5])
        lines.append(",".join(fields))
        if i % 7 == 3:
            lines.append("")
        if i % 11 == 5:
            lines.append("   ")
    lines += ["", ""]
    text = "".join(line + endings[k % len(endings)] for k, line in enumerate(lines))
    return text, values


def _expected(text, values, model):
    missing = np.isnan(values)
    filled = model.impute(values)[missing]
    spellings = [_NA_SPELLINGS[k % len(_NA_SPELLINGS)] for k in range(missing.sum())]
    return (text.format(*spellings),
            text.format(*(fastem._tables.shortest_text(v) for v in filled)))


ENCODINGS = {
    "utf-8": (b"", "utf-8", "caf\xe9 \u2264 \u6e29"),
    "utf-8 with BOM": (codecs.BOM_UTF8, "utf-8", "caf\xe9 \u2264 \u6e29"),
    "utf-16 LE": (codecs.BOM_UTF16_LE, "utf-16-le", "caf\xe9 \u2264 \u6e29"),
    "utf-16 BE": (codecs.BOM_UTF16_BE, "utf-16-be", "caf\xe9 \u2264 \u6e29"),
    "utf-32 LE": (codecs.BOM_UTF32_LE, "utf-32-le", "caf\xe9 \u2264 \u6e29"),
    "utf-32 BE": (codecs.BOM_UTF32_BE, "utf-32-be", "caf\xe9 \u2264 \u6e29"),
    "windows-1252": (b"", "cp1252", "caf\xe9 \u20ac"),
    "latin-1": (b"", "latin-1", "caf\xe9 \x81"),  # 0x81 is no cp1252 character
}
ENDINGS = {"LF": ["\n"], "CRLF": ["\r\n"], "CR": ["\r"], "mixed": ["\r\n", "\n", "\r\n", "\r"]}


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("endings", ENDINGS)
def test_a_csv_copy_keeps_every_byte_but_the_filled_fields(tmp_path, encoding, endings):
    mark, codec, note = ENCODINGS[encoding]
    model, model_path = _two_column_model(tmp_path)
    text, values = _template(60, note, ENDINGS[endings])
    before, after = _expected(text, values, model)
    data, out = tmp_path / "data.csv", tmp_path / "out.csv"
    data.write_bytes(mark + before.encode(codec))
    assert main(["impute", model_path, str(data), "-o", str(out), "--quiet"]) == 0
    assert out.read_bytes() == mark + after.encode(codec)


def test_a_csv_copy_without_a_final_line_ending_or_header(tmp_path):
    model, model_path = _two_column_model(tmp_path)
    model.save(model_path)
    values = np.array([[1.5, np.nan], [np.nan, 2.5], [0.25, 4.0]])
    data, out = tmp_path / "data.csv", tmp_path / "out.csv"
    data.write_text('\n1.5,NA\n\n"",2.5\n0.25 ,4', newline="")
    assert main(["impute", model_path, str(data), "-o", str(out), "--quiet"]) == 0
    filled = [fastem._tables.shortest_text(v) for v in model.impute(values)[np.isnan(values)]]
    assert out.read_bytes().decode() == f'\n1.5,{filled[0]}\n\n{filled[1]},2.5\n0.25 ,4'


# ----------------------------------------------------------------------
# an option that would have no effect is refused


def _data_files(tmp_path):
    X = np.nan_to_num(_table(seed=10, n=60)[:, [1, 3]])
    np.save(tmp_path / "d.npy", X)
    _write(tmp_path / "d.csv", X, ["b", "d"])
    model_path = str(tmp_path / "m.npz")
    assert main(["fit", str(tmp_path / "d.csv"), "-k", "2", "--missing", "em", "--seed", "0",
                 "--max-iter", "300", "-o", model_path, "--quiet"]) == 0
    return model_path


INEFFECTIVE = {
    "impute --seed without --draw": (
        "impute {m} {d}.csv -o {o}.csv --seed 3", "--seed 3 has no effect without --draw"),
    "impute --seed 0 without --draw": (
        "impute {m} {d}.csv -o {o}.csv --seed 0", "--seed 0 has no effect without --draw"),
    "--progress and --quiet": ("fit {d}.csv -k 2 -o {o}.npz --progress -q", "opposite things"),
    **{f"{command} --progress": (line + " --progress", "--progress has no effect")
       for command, line in [("predict", "predict {m} {d}.csv -o {o}.npy"),
                             ("score", "score {m} {d}.csv"),
                             ("impute", "impute {m} {d}.csv -o {o}.csv"),
                             ("sample", "sample {m} -n 5 -o {o}.npy"),
                             ("info", "info {m}")]},
    **{f"{command} --header on .npy": (line + " --header yes", "--header yes has no effect")
       for command, line in [("fit", "fit {d}.npy -k 2 -o {o}.npz"),
                             ("predict", "predict {m} {d}.npy -o {o}.npy"),
                             ("score", "score {m} {d}.npy"),
                             ("impute", "impute {m} {d}.npy -o {o}.npy"),
                             ("select", "select {d}.npy --k 1-2")]},
}


@pytest.mark.parametrize("case", INEFFECTIVE)
def test_an_option_without_effect_is_refused_with_why_and_what_instead(tmp_path, capsys, case):
    model_path = _data_files(tmp_path)
    line, message = INEFFECTIVE[case]
    argv = line.format(m=model_path, d=tmp_path / "d", o=tmp_path / "out").split()
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and ("leave out" in err or "pass" in err) and "Traceback" not in err
    assert not any(p.name.startswith("out") for p in tmp_path.iterdir())


def test_impute_draws_with_a_seed_and_takes_the_header_option_of_a_csv(tmp_path):
    model_path = _data_files(tmp_path)
    X = _table(seed=11, n=50)[:, [1, 3]]
    _write(tmp_path / "h.csv", X, ["b", "d"])
    for seed, out in [(3, "a.csv"), (3, "b.csv"), (4, "c.csv")]:
        assert main(["impute", model_path, str(tmp_path / "h.csv"), "--draw", "--seed", str(seed),
                     "--header", "yes", "-o", str(tmp_path / out), "--quiet"]) == 0
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


# ----------------------------------------------------------------------
# outputs


def test_score_counts_rows_with_nothing_observed_in_no_statistic(tmp_path, capsys):
    model_path = _data_files(tmp_path)
    X = _table(seed=12, n=80)[:, [1, 3]]
    X[[4, 5, 70]] = np.nan
    _write(tmp_path / "s.csv", X, ["b", "d"])
    capsys.readouterr()
    assert main(["score", model_path, str(tmp_path / "s.csv"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    model = fastem.load(model_path)
    del model.feature_names_in_
    assert result["n_samples"] == 80 and result["n_observed_samples"] == 77
    assert result["mean_log_likelihood"] == pytest.approx(model.score(X), rel=1e-12)
    assert result["bic"] == pytest.approx(model.bic(np.delete(X, [4, 5, 70], axis=0)), rel=1e-12)
    assert result["aic"] == pytest.approx(model.aic(X), rel=1e-12)
    _write(tmp_path / "s.csv", np.full((3, 2), np.nan), ["b", "d"])
    assert main(["score", model_path, str(tmp_path / "s.csv")]) == 1
    assert "only missing values" in capsys.readouterr().err


def test_column_names_in_any_script_reach_a_csv_output(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    X = _table(seed=13, n=60)[:, [1, 3]]
    names = ["temp\xe9rature \u00b0C", "\u6e29\u5ea6"]
    pq.write_table(pa.table({n: pa.array(X[:, j], from_pandas=True) for j, n in enumerate(names)}),
                   tmp_path / "d.parquet")
    model_path = str(tmp_path / "m.npz")
    assert main(["fit", str(tmp_path / "d.parquet"), "-k", "2", "--missing", "em", "--seed", "0",
                 "--max-iter", "300", "-o", model_path, "--quiet"]) == 0
    for command in (["impute", model_path, str(tmp_path / "d.parquet")],
                    ["sample", model_path, "-n", "5"]):
        assert main([*command, "-o", str(tmp_path / "out.csv"), "--quiet"]) == 0
        header = (tmp_path / "out.csv").read_bytes().decode("utf-8").splitlines()[0]
        assert next(csv.reader([header])) == names


def test_a_column_named_like_an_option(tmp_path):
    X = _table(seed=14, n=60)[:, [1, 3]]
    _write(tmp_path / "d.csv", X, ["--draw", "-o"])
    model_path, out = str(tmp_path / "m.npz"), tmp_path / "out.csv"
    assert main(["fit", str(tmp_path / "d.csv"), "--columns=--draw,-o", "-k", "2", "--missing",
                 "em", "--seed", "0", "--max-iter", "300", "-o", model_path, "--quiet"]) == 0
    assert main(["impute", model_path, str(tmp_path / "d.csv"), "-o", str(out), "--quiet"]) == 0
    assert out.read_text().splitlines()[0] == "--draw,-o"
    assert not np.isnan(_read(out)).any()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="file permissions bind no superuser")
def test_an_unwritable_output_is_refused_before_the_work(tmp_path, capsys):
    model_path = _data_files(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    read_only = tmp_path / "old.csv"
    read_only.write_text("keep")
    read_only.chmod(0o400)
    try:
        for out, message in [(locked / "o.csv", "is not writable"), (read_only, "read-only")]:
            assert main(["impute", model_path, str(tmp_path / "d.csv"), "-o", str(out)]) == 1
            assert message in capsys.readouterr().err
        assert read_only.read_text() == "keep"
    finally:
        locked.chmod(0o700)


def test_an_interruption_while_writing_leaves_no_file(tmp_path, monkeypatch, capsys):
    model_path = _data_files(tmp_path)
    out = tmp_path / "out.csv"
    out.write_text("previous")

    def interrupted(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(fastem.cli, "fill_csv", interrupted)
    assert main(["impute", model_path, str(tmp_path / "d.csv"), "-o", str(out)]) == 130
    assert out.read_text() == "previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.csv", "d.npy", "m.npz", "out.csv"]


def test_whole_numbers_beyond_float64_keep_every_digit_between_formats(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    X = _table(seed=15, n=60)[:, [1, 3]]
    ids = [2**60 + i for i in range(60)]
    with_hole = [None if i % 9 == 4 else v for i, v in enumerate(ids)]
    pq.write_table(pa.table({"id": pa.array(with_hole, type=pa.int64()),
                             "b": pa.array(X[:, 0], from_pandas=True),
                             "d": pa.array(X[:, 1], from_pandas=True)}), tmp_path / "d.parquet")
    with open(tmp_path / "d.csv", "w") as f:
        f.write("id,b,d\n" + "".join(f"{i}," + ",".join("" if v != v else repr(v) for v in row)
                                     + "\n" for i, row in zip(ids, X.tolist())))
    model_path = str(tmp_path / "m.npz")
    assert main(["fit", str(tmp_path / "d.csv"), "--columns", "b,d", "-k", "2", "--missing", "em",
                 "--seed", "0", "--max-iter", "300", "-o", model_path, "--quiet"]) == 0
    assert main(["impute", model_path, str(tmp_path / "d.parquet"), "-o", str(tmp_path / "o.csv"),
                 "--quiet"]) == 0
    with open(tmp_path / "o.csv", newline="") as f:
        column = [row[0] for row in csv.reader(f)][1:]
    assert column == ["" if v is None else str(v) for v in with_hole]
    assert main(["impute", model_path, str(tmp_path / "d.csv"), "-o", str(tmp_path / "o.parquet"),
                 "--quiet"]) == 0
    assert pq.read_table(tmp_path / "o.parquet").column("id").to_pylist() == ids
    capsys.readouterr()
    for data in ("d.csv", "d.parquet"):
        assert main(["impute", model_path, str(tmp_path / data), "-o",
                     str(tmp_path / "o.npy")]) == 1
        assert "would round" in capsys.readouterr().err
    assert not (tmp_path / "o.npy").exists()


# ----------------------------------------------------------------------
# between formats, every value of every column is kept


def _fit_b_d(tmp_path, capsys):
    X = _table(seed=8, n=120)[:, [1, 3]]
    path = tmp_path / "fit.csv"
    _write(path, X, ["b", "d"])
    model_path = str(tmp_path / "m.npz")
    assert main(["fit", str(path), "-k", "2", "--missing", "em", "--seed", "0",
                 "--max-iter", "300", "-o", model_path, "--quiet"]) == 0
    capsys.readouterr()
    return X, model_path


def test_between_formats_codes_text_and_categories_are_kept(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X, model_path = _fit_b_d(tmp_path, capsys)
    n = len(X)
    zips = [f"0{2134 + i}" for i in range(n)]
    country = ["NA" if i % 3 == 0 else "FR" for i in range(n)]  # Namibia, not a missing value
    big = [str(12345678901234567890 + i) for i in range(n)]  # beyond int64
    with open(tmp_path / "d.csv", "w") as f:
        f.write("zip,country,big,b,d\n")
        for i in range(n):
            values = ",".join("" if v != v else repr(float(v)) for v in X[i])
            f.write(f"{zips[i]},{country[i]},{big[i]},{values}\n")
    assert main(["impute", model_path, str(tmp_path / "d.csv"), "-o",
                 str(tmp_path / "o.parquet"), "--quiet"]) == 0
    back = pd.read_parquet(tmp_path / "o.parquet")
    assert list(back["zip"]) == zips and list(back["country"]) == country
    assert list(back["big"]) == big

    group = pd.Categorical(["ctl" if i % 2 else None for i in range(n)], categories=["ctl", "x"])
    pd.DataFrame({"grp": group, "b": X[:, 0], "d": X[:, 1]}).to_parquet(tmp_path / "c.parquet")
    assert main(["impute", model_path, str(tmp_path / "c.parquet"), "-o",
                 str(tmp_path / "c.csv"), "--quiet"]) == 0
    with open(tmp_path / "c.csv", newline="") as f:
        column = [row[0] for row in csv.reader(f)][1:]
    assert column == ["ctl" if i % 2 else "" for i in range(n)]  # a null stays empty


@pytest.mark.parametrize("out", [".parquet", ".npy"])
@pytest.mark.parametrize("spelling, value", [("+5", 5.0), ("007", 7.0), ("-0", -0.0),
                                             ("+2.5", 2.5)])
@pytest.mark.parametrize("hole", [None, "", "NA"])
def test_a_model_column_between_formats_holds_the_numbers_fitted_however_spelt(
        tmp_path, capsys, out, spelling, value, hole):
    # The model read '+5' as 5: in a .parquet or .npy output, that column holds numbers
    # (not text, not refused), with or without a value to fill, however it is marked.
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    X, model_path = _fit_b_d(tmp_path, capsys)
    X = X[~np.isnan(X).any(axis=1)]
    fields = [[repr(v) for v in row] for row in X.tolist()]
    fields[0][0] = spelling
    X[0, 0] = value
    if hole is not None:
        fields[1][0] = hole
        X[1, 0] = np.nan
    (tmp_path / "d.csv").write_text("b,d\n" + "".join(",".join(row) + "\n" for row in fields))
    assert main(["impute", model_path, str(tmp_path / "d.csv"), "-o",
                 str(tmp_path / f"o{out}"), "--quiet"]) == 0, capsys.readouterr().err
    if out == ".parquet":
        assert pa.types.is_floating(pq.read_schema(tmp_path / "o.parquet").field("b").type)
    filled = _read(tmp_path / f"o{out}")
    observed = ~np.isnan(X)
    assert np.array_equal(filled[observed], X[observed])
    assert np.signbit(filled[0, 0]) == np.signbit(value)
    assert np.isfinite(filled).all()


def test_a_whole_number_that_float64_rounds_in_a_model_column_between_formats_is_refused(
        tmp_path, capsys):
    pytest.importorskip("pyarrow")
    X, model_path = _fit_b_d(tmp_path, capsys)
    with open(tmp_path / "d.csv", "w") as f:
        f.write("b,d\n" + "".join(
            ",".join(("+9007199254740993" if (i, j) == (2, 0) else "" if v != v else repr(v))
                     for j, v in enumerate(row)) + "\n" for i, row in enumerate(X.tolist())))
    assert main(["impute", model_path, str(tmp_path / "d.csv"), "-o",
                 str(tmp_path / "o.parquet")]) == 1
    err = capsys.readouterr().err
    assert "has '+9007199254740993' on line 4 (data row 3), column 1 ('b')" in err
    assert "would be read as 9007199254740992" in err
    assert not (tmp_path / "o.parquet").exists()


def test_a_number_beyond_float64_in_a_column_not_fitted_is_named_between_formats(
        tmp_path, capsys):
    pytest.importorskip("pyarrow")
    X, model_path = _fit_b_d(tmp_path, capsys)
    with open(tmp_path / "d.csv", "w") as f:
        f.write("big,b,d\n" + "".join(
            f"{'1e400' if i == 2 else i}," + ",".join("" if v != v else repr(v) for v in row)
            + "\n" for i, row in enumerate(X.tolist())))
    assert main(["impute", model_path, str(tmp_path / "d.csv"), "-o",
                 str(tmp_path / "o.parquet")]) == 1
    assert ("has '1e400' on line 4 (data row 3), column 1 ('big'): a number beyond float64's "
            "range" in capsys.readouterr().err)
    assert not (tmp_path / "o.parquet").exists()


def test_nested_parquet_columns_are_not_written_to_csv_as_their_repr(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    X, model_path = _fit_b_d(tmp_path, capsys)
    n = len(X)
    b, d = pa.array(X[:, 0], from_pandas=True), pa.array(X[:, 1], from_pandas=True)
    for name, values in [("items", pa.array([list(range(1200))] * n)),
                         ("point", pa.array([{"p": 1}] * n)),
                         ("raw", pa.array([b"\x00\xff"] * n))]:
        pq.write_table(pa.table({name: values, "b": b, "d": d}), tmp_path / f"{name}.parquet")
        out = tmp_path / f"{name}.csv"
        assert main(["impute", model_path, str(tmp_path / f"{name}.parquet"), "-o", str(out)]) == 1
        err = capsys.readouterr().err
        assert f"column {name!r}, which holds lists, structures or bytes" in err
        assert not out.exists()


def test_whole_numbers_of_a_model_column_keep_their_digits_or_are_refused(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    X, model_path = _fit_b_d(tmp_path, capsys)
    n = len(X)
    whole = [2**53 + 1 + i for i in range(n)]  # float64 would round them
    d = pa.array(X[:, 1], from_pandas=True)
    pq.write_table(pa.table({"b": pa.array(whole, type=pa.int64()), "d": d}), tmp_path / "w.parquet")
    assert main(["impute", model_path, str(tmp_path / "w.parquet"), "-o",
                 str(tmp_path / "w.csv"), "--quiet"]) == 0
    with open(tmp_path / "w.csv", newline="") as f:
        column = [row[0] for row in csv.reader(f)][1:]
    assert column == [str(v) for v in whole]  # no hole in b: copied as it is
    holes = [None if i == 3 else v for i, v in enumerate(whole)]
    pq.write_table(pa.table({"b": pa.array(holes, type=pa.int64()), "d": d}), tmp_path / "h.parquet")
    assert main(["impute", model_path, str(tmp_path / "h.parquet"), "-o",
                 str(tmp_path / "h.csv")]) == 1
    err = capsys.readouterr().err
    assert f"the whole number {whole[0]} in column 'b'" in err and "would round" in err
    assert not (tmp_path / "h.csv").exists()


def test_a_parquet_file_with_a_repeated_column_name_is_refused_by_name(tmp_path, capsys):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    X, model_path = _fit_b_d(tmp_path, capsys)
    columns = [pa.array(X[:, 0], from_pandas=True), pa.array(X[:, 1], from_pandas=True),
               pa.array(np.arange(len(X)))]
    pq.write_table(pa.table(columns, names=["b", "d", "b"]), tmp_path / "r.parquet")
    data = str(tmp_path / "r.parquet")
    for argv in (["impute", model_path, data, "-o", str(tmp_path / "r.csv")],
                 ["fit", data, "--columns", "d", "-k", "2", "-o", str(tmp_path / "r.npz")],
                 ["predict", model_path, data, "-o", str(tmp_path / "r.npy")]):
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert "'b' more than once" in err and "Traceback" not in err, argv


@pytest.mark.parametrize("mark", ["#", "\ufeff"])
@pytest.mark.parametrize("command", ["sample", "impute names", "impute values"])
def test_a_csv_output_whose_row_starts_with_a_hash_reads_back_whole(tmp_path, command, mark):
    """A line that starts with '#' is a comment to the reader: a first column name '#n'
    written plainly lost the header of the output (its names), and a first field '#A1'
    among rows that do not start with '#' made the output unreadable ("a row that starts
    with '#' among rows that do not ... quote that field"). A file that starts with U+FEFF
    starts with a byte-order mark, which readers drop: a first name '\ufeffn' (of a file
    read with its mark kept) written plainly was read back as 'n', which the model that
    wrote it did not find."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X = _table(seed=7, n=60)[:, [1, 3]]
    frame = pd.DataFrame({f"{mark}n": X[:, 0], "d": X[:, 1]})
    if command == "impute values":  # a text column first, some ids starting with the mark
        frame.insert(0, "id", [f"B{i}" if i % 3 else f"{mark}A{i}" for i in range(len(X))])
    frame.to_parquet(tmp_path / "d.parquet")
    model_path = str(tmp_path / "m.npz")
    assert main(["fit", str(tmp_path / "d.parquet"), "--columns", f"{mark}n,d", "-k", "2",
                 "--missing", "em", "--seed", "0", "-o", model_path, "--quiet"]) == 0
    out = tmp_path / "out.csv"
    if command == "sample":
        assert main(["sample", model_path, "-n", "20", "-o", str(out), "--quiet"]) == 0
    else:
        assert main(["impute", model_path, str(tmp_path / "d.parquet"), "-o", str(out),
                     "--quiet"]) == 0
    names = fastem._tables.read_csv(out, columns=[f"{mark}n", "d"])
    back = pd.read_csv(out)
    assert list(back.columns) == list(frame.columns) and len(back) == len(names.data)
    if command != "sample":
        assert len(back) == len(frame)
        observed = frame[f"{mark}n"].notna().to_numpy()
        assert np.array_equal(names.data[observed, 0], frame[f"{mark}n"].to_numpy()[observed])
    if command == "impute values":
        assert list(back["id"]) == list(frame["id"])
    assert main(["score", model_path, str(out), "--quiet"]) == 0


def test_naming_the_columns_of_wide_data_without_names_takes_linear_time():
    """The output's names of DATA without names, as wide as a model may be: the set of the
    model's columns was made again for each column of DATA, (width x features) work, some
    15 s at 40,000 columns where it now takes milliseconds."""
    import time

    width = 40_000
    positions = list(range(0, width, 2))
    fitted = [f"f{j}" for j in positions]
    start = time.perf_counter()
    names = fastem.cli._named_as_the_model(width, positions, fitted)
    assert time.perf_counter() - start < 2.0
    assert names[:4] == ["f0", "x1", "f2", "x3"] and len(set(names)) == width
