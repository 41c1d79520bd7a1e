"""``fastem impute``: DATA comes back whole, with only its missing values in the model's columns filled.

Every other column (text ones too) and every observed value is copied
unchanged, whatever the model's dtype and whichever formats DATA and OUT are.
"""

import csv

import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastem
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
    assert_allclose(filled[:, [1, 3]], expected[:, [1, 3]], rtol=1e-6 if dtype == "float32" else 1e-12)


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
                assert float(b) == imputed[i, c]  # the shortest text of that number
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
    assert main(["fit", str(data), "--columns", "b,d,c", "-k", "2", "--missing", "em",
                 "--seed", "0", "--max-iter", "300", "-o", model_path, "--quiet"]) == 0
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


def test_an_error_part_way_leaves_the_output_as_it_was(tmp_path, capsys):
    X = _table(seed=6, n=3000)
    path = tmp_path / "late.csv"
    rows = [f"{float(v[1])!r},{float(v[3])!r},note" for v in X]
    rows[-1] = rows[-1].replace("note", "caf\xe9")  # not UTF-8, far below the sniffed head
    path.write_bytes(("b,d,text\n" + "\n".join(rows).replace("nan", "") + "\n").encode("latin-1"))
    model_path, out = str(tmp_path / "m.npz"), tmp_path / "out.csv"
    X2 = np.nan_to_num(X[:, [1, 3]])
    np.savetxt(tmp_path / "ok.csv", X2, delimiter=",", header="b,d", comments="")
    assert main(["fit", str(tmp_path / "ok.csv"), "-k", "2", "--seed", "0", "-o", model_path,
                 "--quiet"]) == 0
    out.write_text("previous")
    capsys.readouterr()
    assert main(["impute", model_path, str(path), "--columns", "b,d", "-o", str(out)]) != 0
    err = capsys.readouterr().err
    assert "late.csv" in err and "save it as UTF-8" in err and "Traceback" not in err
    assert out.read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.csv")] == []
