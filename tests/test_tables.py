"""The CSV reader against pandas, with and without pyarrow."""

import csv
import io
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastem import Chunks, GaussianMixture, _tables
from fastem._tables import read_csv

pd = pytest.importorskip("pandas")
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(params=["pyarrow", "numpy", "csv module"])
def reader(request, monkeypatch):
    """read_csv through each of its parsers: pyarrow (when installed), numpy, the csv module."""
    if request.param == "pyarrow":
        pytest.importorskip("pyarrow")
    else:
        monkeypatch.setattr(_tables, "_read_with_pyarrow", lambda layout: None)
    if request.param == "csv module":
        monkeypatch.setattr(_tables, "_read_with_numpy", lambda layout: None)
    return read_csv


def _write(tmp_path, content, name="data.csv"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


X = np.random.default_rng(0).normal(size=(600, 3)).round(6)


def _text(rows, delimiter=",", newline="\n", quote=False):
    fmt = '"{}"' if quote else "{}"
    return newline.join(delimiter.join(fmt.format(v) for v in row) for row in rows) + newline


# (file bytes, what pandas needs to read it the same way)
CASES = {
    "plain headerless": (_text(X.tolist()).encode(), dict(header=None)),
    "BOM headerless": (b"\xef\xbb\xbf" + _text(X.tolist()).encode(), dict(header=None, encoding="utf-8-sig")),
    "BOM with header": (b"\xef\xbb\xbf" + _text([["a", "b", "c"], *X.tolist()]).encode(),
                        dict(encoding="utf-8-sig")),
    "CRLF": (_text([["a", "b", "c"], *X.tolist()], newline="\r\n").encode(), {}),
    "CRLF headerless": (_text(X.tolist(), newline="\r\n").encode(), dict(header=None)),
    "quoted numbers": (_text([["a", "b", "c"], *X.tolist()], quote=True).encode(), {}),
    "latin-1 header": (_text([["Température", "Durée", "Débit"], *X.tolist()]).encode("latin-1"),
                       dict(encoding="latin-1")),
    "cp1252 header": (_text([["€ cost", "b", "c"], *X.tolist()]).encode("cp1252"),
                      dict(encoding="cp1252")),
    "UTF-16 with BOM, tabs": (_text([["a", "b", "c"], *X.tolist()], delimiter="\t").encode("utf-16"),
                              dict(encoding="utf-16", sep="\t")),
    "UTF-16-LE without BOM": (_text([["Débit", "b", "c"], *X.tolist()]).encode("utf-16-le"),
                              dict(encoding="utf-16-le")),
    "UTF-16-BE without BOM, headerless": (_text(X.tolist()).encode("utf-16-be"),
                                          dict(encoding="utf-16-be", header=None)),
    "UTF-32-LE without BOM": (_text([["a", "b", "c"], *X.tolist()]).encode("utf-32-le"),
                              dict(encoding="utf-32-le")),
    "UTF-32-BE without BOM": (_text([["a", "b", "c"], *X.tolist()]).encode("utf-32-be"),
                              dict(encoding="utf-32-be")),
    # Short files whose names are mostly outside Latin-1: few NUL bytes in the head.
    "UTF-16-LE without BOM, Chinese names, one row": (
        _text([["每小时平均气温", "相对湿度百分比", "平均风速每秒米"], [1, 2, 3]]).encode("utf-16-le"),
        dict(encoding="utf-16-le")),
    "UTF-16-BE without BOM, Cyrillic names, two rows": (
        _text([["Температура воздуха", "Влажность", "Скорость ветра"], [1, 2, 3], [4, 5, 6]]
              ).encode("utf-16-be"), dict(encoding="utf-16-be")),
    "UTF-32-LE without BOM, Japanese names, one row": (
        _text([["気温（摂氏）", "相対湿度", "風速"], [1, 2, 3]]).encode("utf-32-le"),
        dict(encoding="utf-32-le")),
    "UTF-16-LE without BOM, names with a no-break space and direction marks": (
        _text([["Temp\u00a0air", "Hum\u200fidity", "x\u3000y"], [1, 2, 3]]).encode("utf-16-le"),
        dict(encoding="utf-16-le")),
    "UTF-32-BE without BOM, a name of joined emoji": (
        _text([["\U0001f469\u200d\U0001f467 count", "b", "c"], [1, 2, 3]]).encode("utf-32-be"),
        dict(encoding="utf-32-be")),
    # No line end in the sniffed head: a header of 3000 names.
    "UTF-16-LE without BOM, header wider than the sniffed head": (
        _text([[f"gene_{j:05d}" for j in range(3000)], *[[0.5] * 3000] * 3]).encode("utf-16-le"),
        dict(encoding="utf-16-le")),
    "UTF-32-LE without BOM, header wider than the sniffed head": (
        _text([[f"gene_{j:05d}" for j in range(3000)], *[[0.5] * 3000] * 3]).encode("utf-32-le"),
        dict(encoding="utf-32-le")),
    "UTF-16-LE without BOM, one row and no line end": ("1,2,3".encode("utf-16-le"),
                                                       dict(encoding="utf-16-le", header=None)),
    # A stray NUL byte, at an even offset before a line end, in a UTF-8 file.
    "UTF-8 with a stray NUL byte": (
        (",".join(f"col{j}" for j in range(20))[:-1] + "\0\n" + _text([[0.5] * 20] * 50)).encode(),
        {}),
    "semicolons": (_text([["a", "b", "c"], *X.tolist()], delimiter=";").encode(), dict(sep=";")),
    "blank lines": (("a,b,c\n\n" + _text(X.tolist()) + "\n\n").encode(), {}),
    "spaces after commas": (_text([["a", "b", "c"], *X.tolist()], delimiter=", ").encode(),
                            dict(skipinitialspace=True)),
    "one column": (_text(X[:, :1].tolist()).encode(), dict(header=None)),
    "one column with header": (_text([["a"], *X[:, :1].tolist()]).encode(), {}),
    "CR line ends": (_text([["a", "b", "c"], *X.tolist()], newline="\r").encode(), {}),
    "CR line ends headerless": (_text(X.tolist(), newline="\r").encode(), dict(header=None)),
    "Latin-1 header with bytes 0x85, 0x81": (  # not cp1252, and U+0085 is no line end in CSV
        _text([["a\x85b", "c\x81", "d"], *X.tolist()]).encode("latin-1"), dict(encoding="latin-1")),
    "spaces around names": (_text([["a", " b ", "c "], *X.tolist()]).encode(), {}),
    "repeated names": (_text([["x", "x", "x.1"], *X.tolist()]).encode(), {}),
    "first line over 64 KiB": (_text([[f"{'n' * 40}{j}" for j in range(1800)],
                                      *np.tile(X, 600)[:3].tolist()]).encode(), {}),
    "headerless line over 64 KiB": (_text(np.tile(X, 1500)[:3].tolist()).encode(),
                                    dict(header=None)),
    "number spellings": (b"a,b,c\n1e5,+2, 3 \n.5,-4.E-2,007\n+1.5e+3,3.,  -0\n", {}),
    "infinities": (b"a,b\ninf,-inf\nInfinity,-Infinity\nINF,1\n", {}),
    "mixed line ends": (b"a,b\r\n1,2\n3,4\r5,6\r\n7,8", {}),
    "blank lines at the end": (b"a,b\r\n1,2\r\n3,4\r\n\r\n\r\n\n", {}),
    "quoted names with the delimiter": (b'"weight, kg","a ""b""",c\n1,2,3\n4,5,6\n', {}),
    "an unnamed column between named ones": (b"a,,b\n1,2,3\n4,5,6\n", {}),
    "quoted numbers and empty names": (b'"x","","y"\n"1","2","3"\n', {}),
}


@pytest.mark.parametrize("case", CASES)
def test_counts_and_values_agree_with_pandas(tmp_path, reader, case):
    content, options = CASES[case]
    path = _write(tmp_path, content)
    table = reader(path)
    expected = pd.read_csv(path, **options)
    assert table.data.shape == expected.shape
    assert_array_equal(table.data, expected.to_numpy(dtype=float))
    if options.get("header", 0) is None:
        assert table.names is None
    else:  # names as pandas reads them by default: spaces around them kept
        as_written = {k: v for k, v in options.items() if k != "skipinitialspace"}
        assert table.names == list(pd.read_csv(path, nrows=0, **as_written).columns)


def test_bom_headerless_keeps_every_row(tmp_path, reader):
    # spreadsheet "CSV UTF-8": the mark must not turn the first row into a header
    path = _write(tmp_path, b"\xef\xbb\xbf" + _text(X.tolist()).encode())
    table = reader(path)
    assert table.data.shape == (600, 3) and table.names is None
    assert_array_equal(table.data, X)


def test_pandas_index_column_is_dropped_with_a_note(tmp_path, reader):
    path = str(tmp_path / "frame.csv")
    pd.DataFrame(X, columns=["a", "b", "c"]).to_csv(path)
    table = reader(path)
    assert table.names == ["a", "b", "c"]
    assert_array_equal(table.data, X)
    assert len(table.notes) == 1 and "df.to_csv(path, index=False)" in table.notes[0]
    assert _tables.csv_column_names(path) == ["a", "b", "c"]
    assert reader(path, ["c", "a"]).names == ["c", "a"]
    assert_array_equal(reader(path, ["0"]).data, X[:, :1])  # indices count data columns


def test_every_unnamed_index_level_is_dropped(tmp_path, reader):
    path = str(tmp_path / "frame.csv")
    index = pd.MultiIndex.from_product([range(200), range(3)])
    pd.DataFrame(X, columns=["a", "b", "c"], index=index).to_csv(path)
    table = reader(path)
    assert table.names == ["a", "b", "c"] and _tables.csv_column_names(path) == ["a", "b", "c"]
    assert_array_equal(table.data, X)
    assert "2 unnamed columns" in table.notes[0]


def test_repeated_names_are_renamed_as_pandas_does_with_a_note(tmp_path, reader):
    path = _write(tmp_path, _text([["x", "x"], *X[:, :2].tolist()]))
    table = reader(path)
    assert table.names == ["x", "x.1"] == list(pd.read_csv(path).columns)
    assert_array_equal(reader(path, ["x.1"]).data, X[:, 1:2])  # each column its own name
    assert "repeats the column name(s) ['x']" in table.notes[0]


def test_semicolons_with_decimal_commas_name_the_decimal_comma(tmp_path, reader):
    rows = [["Laenge", "Breite"], *[[f"{v:.2f}".replace(".", ",") for v in r] for r in X[:, :2]]]
    for content in (_text(rows, delimiter=";"), _text(rows[1:], delimiter=";")):
        with pytest.raises(ValueError, match=r"a number with a decimal comma.*sep=';', decimal=','"):
            reader(_write(tmp_path, content))


def test_names_that_are_numbers(tmp_path, reader):
    path = str(tmp_path / "spectra.csv")
    pd.DataFrame(X, columns=[400, 410, 420]).to_csv(path, index=False)
    table = reader(path)  # no rule tells such names from data: read as data, with a note
    assert table.names is None and table.data.shape == (601, 3)
    assert "--header yes (header=True in Python: Chunks(..., header=True))" in table.notes[0]
    table = reader(path, header=True)
    assert table.names == ["400", "410", "420"] and table.notes == []
    assert_array_equal(table.data, X)
    assert reader(_write(tmp_path, _text(X.tolist())), header=False).notes == []
    plain = _write(tmp_path, _text([[1, 2, 3], *X.tolist()[:5]]) + "4,5,6\n", "counts.csv")
    assert reader(plain).notes[0].startswith(f"{plain!r}: its first row (1, 2, 3)")


def test_pandas_labels_of_unnamed_columns_above_counts_get_a_note(tmp_path, reader):
    """df.to_csv(path, index=False) of a DataFrame without column names writes the header
    0, 1, 2, ...: above whole numbers (counts), which no other rule notes, it is read as a
    row of data with a note that names --header yes, in Chunks as a UserWarning."""
    counts = np.random.default_rng(0).poisson(5.0, (50, 3))
    path = str(tmp_path / "counts.csv")
    pd.DataFrame(counts).to_csv(path, index=False)
    table = reader(path)
    assert table.names is None and table.data.shape == (51, 3)
    assert "its first row (0, 1, 2) holds 0, 1, 2, ..., the labels that pandas" in table.notes[0]
    assert "--header yes (header=True in Python" in table.notes[0]
    assert_array_equal(reader(path, header=True).data, counts)
    with pytest.warns(UserWarning, match=r"its first row \(0, 1, 2\) holds 0, 1, 2"):
        GaussianMixture(1).fit(Chunks([path]))
    # the same counts in another order of labels, or without them: no note
    for first in ([1, 0, 2], counts[0].tolist()):
        other = _write(tmp_path, _text([first, *counts.tolist()]), "other.csv")
        assert reader(other).notes == []


def test_a_quoted_first_row_above_unquoted_rows_is_the_header(tmp_path, reader):
    """Names that read as numbers or missing values, quoted above rows of numbers that are
    not (R's write.csv, csv.QUOTE_NONNUMERIC): the header. Every field quoted: no sign."""
    path = _write(tmp_path, '"450","500"\n' + _text(X[:, :2].tolist()))
    table = reader(path)
    assert table.names == ["450", "500"] and table.notes == []
    assert_array_equal(table.data, X[:, :2])
    named = _write(tmp_path, '"NA","1.5"\n\n' + _text(X[:, :2].tolist()), "na.csv")
    assert reader(named).names == ["NA", "1.5"]
    r_file = _write(tmp_path, '"","1","2"\n' + "".join(
        f'"{i + 1}",{a!r},{b!r}\n' for i, (a, b) in enumerate(X[:, :2].tolist())), "r.csv")
    table = reader(r_file)  # R's row names under an empty name: the index
    assert table.names == ["1", "2"] and table.data.shape == (600, 2)
    every = _write(tmp_path, _text([[1, 2], *X[:, :2].tolist()], quote=True), "all.csv")
    assert reader(every).names is None and reader(every).data.shape == (601, 2)
    # lines that end with the delimiter: their empty last fields say nothing either way
    trailing = _write(tmp_path, '"450","500",\n' + _text([[*r, ""] for r in X[:5, :2].tolist()]),
                      "trailing.csv")
    assert reader(trailing).names == ["450", "500"]
    every = _write(tmp_path, '"1","2",\n' + "".join(f'"{a}","{b}",\n' for a, b in X[:5, :2]),
                   "every.csv")
    assert reader(every).names is None and reader(every).data.shape == (6, 2)
    assert reader(path, header=False).data.shape == (601, 2)


@pytest.mark.parametrize("na_rep", ["", "NA", "nan"])
def test_a_quoted_first_row_of_missing_values_is_data(tmp_path, reader, na_rep):
    """csv.QUOTE_NONNUMERIC quotes the missing values of a row, not its numbers: a first row
    of missing values above rows of numbers is a row of data, which no header is (a header
    neither repeats a name nor has none)."""
    frame = pd.DataFrame(np.vstack([[np.nan, np.nan, np.nan], X[:5]]))
    path = str(tmp_path / "nonnumeric.csv")
    frame.to_csv(path, header=False, index=False, quoting=csv.QUOTE_NONNUMERIC, na_rep=na_rep)
    table = reader(path, missing=True)
    assert table.names is None
    assert_array_equal(table.data, frame.to_numpy())


@pytest.mark.parametrize("names, values", [
    (["450.5", "532.2", "650.8"], lambda rng: rng.uniform(0.0, 1.0, (60, 3))),  # reflectances
    (["2019", "2020"], lambda rng: rng.poisson(5.0, (60, 2))),  # counts by year
])
def test_a_first_row_of_numbers_apart_from_the_rows_below_gets_a_note(tmp_path, reader, names, values):
    """Names that are numbers outside the range of every column below (wavelengths over
    reflectances, years over counts) are read as data, as no rule can be sure, with a note
    that names --header yes and Chunks(..., header=True); data alone get no note."""
    rng = np.random.default_rng(0)
    data = values(rng)
    path = _write(tmp_path, _text([names, *data.tolist()]))
    table = reader(path)
    assert table.names is None and table.data.shape == (61, len(names))
    assert "in every column; it is read as data" in table.notes[0]
    assert "Chunks(..., header=True)" in table.notes[0]
    assert reader(path, header=True).names == names
    assert reader(_write(tmp_path, _text(data.tolist()), "plain.csv")).notes == []
    # A first row of data that is merely extreme gets no note: sorted data, an outlier
    # within a range's width of the rest, a row of NaN or infinities.
    ordered = np.sort(data, axis=0)
    extreme = np.vstack([data.max(axis=0) + 0.5 * np.ptp(data, axis=0), data])
    for rows in (ordered, np.cumsum(data, axis=0), extreme):
        assert reader(_write(tmp_path, _text(rows.tolist()), "extreme.csv")).notes == []
    for first in (["nan"] * len(names), ["inf", "-inf", "inf"][: len(names)]):
        content = _text([first, *data.tolist()])
        assert reader(_write(tmp_path, content, "special.csv"), missing=True).notes == []


def test_chunks_take_a_header_and_warn_the_reader_s_notes(tmp_path):
    import fastem

    rng = np.random.default_rng(0)
    data = np.concatenate([rng.normal(0.2, 0.05, (50, 2)), rng.normal(0.7, 0.05, (50, 2))])
    path = _write(tmp_path, _text([["450.5", "532.2"], *data.tolist()]))
    with pytest.warns(UserWarning, match="its first row .* is read as data"):
        guessed = fastem.GaussianMixture(2, random_state=0).fit(fastem.Chunks([path]))
    assert not hasattr(guessed, "feature_names_in_")
    model = fastem.GaussianMixture(2, random_state=0).fit(fastem.Chunks([path], header=True))
    assert list(model.feature_names_in_) == ["450.5", "532.2"]
    with pytest.raises(ValueError, match="header must be None"):
        fastem.Chunks([path], header="yes")
    # Python ints in columns= are indices, also in a file whose names are numbers
    indexed = fastem.GaussianMixture(2, random_state=0).fit(
        fastem.Chunks([path], header=True, columns=[1, 0]))
    assert list(indexed.feature_names_in_) == ["532.2", "450.5"]


def test_names_with_spaces_are_selected_with_or_without_them(tmp_path, reader):
    path = _write(tmp_path, _text([["x", " y"], *X[:, :2].tolist()]))
    assert reader(path).names == ["x", " y"]
    assert_array_equal(reader(path, ["y"]).data, X[:, 1:2])
    assert reader(path, [" y"]).names == [" y"]


@pytest.mark.parametrize(
    "content, where",
    [
        ("a,b\n1,2\n3,\n5,6\n", "an empty field) on line 3 (data row 2), column 2 ('b')"),
        ("a,b\n1,2\n3,4\nNA,6\n", "'NA') on line 4 (data row 3), column 1 ('a')"),
        ("1,2\n3,4\n5,nan\n", "'nan') on line 3 (data row 3), column 2"),
        ('a,b\r\n1,2\r\n"",4\r\n', "an empty field) on line 3 (data row 2), column 1 ('a')"),
    ],
)
def test_missing_values_are_reported_with_place_and_fix(tmp_path, reader, content, where):
    path = _write(tmp_path, content)
    with pytest.raises(ValueError, match="missing value") as info:
        reader(path)
    message = str(info.value)
    assert where in message
    assert "drop the rows with missing values, or impute them" in message


@pytest.mark.parametrize("token", sorted(_tables.NA_VALUES))
def test_every_missing_value_marker_of_pandas_is_reported_as_missing(tmp_path, reader, token):
    from pandas._libs.parsers import STR_NA_VALUES

    assert _tables.NA_VALUES == STR_NA_VALUES  # pandas' own list, no more and no less
    path = _write(tmp_path, f"a,b\n1,2\n3,{token}\n")
    assert pd.read_csv(path)["b"].isna().tolist() == [False, True]
    shown = "an empty field" if token == "" else repr(token)
    with pytest.raises(ValueError, match="missing value") as info:
        reader(path)
    assert f"({shown}) on line 3 (data row 2), column 2 ('b')" in str(info.value)


TRAILING = {  # a delimiter at the end of each line: (file, pandas' columns to drop)
    "header too": ("a,b,\n1,2,\n3,4,\n", ["Unnamed: 2"]),
    "two, header too": ("a,b,,\r\n1,2,,\r\n3,4,,\r\n", ["Unnamed: 2", "Unnamed: 3"]),
    "headerless": ("1,2,\n3,4,\n", [2]),
    "semicolons": ("a;b;\n1;2;\n3;4;\n", ["Unnamed: 2"]),
    "index column too": (",a,b,\n0,1,2,\n1,3,4,\n", ["Unnamed: 0", "Unnamed: 3"]),
    "spaces in the empty fields": ("a,b,\n1,2, \n3,4,\n", ["Unnamed: 2"]),
}


@pytest.mark.parametrize("case", TRAILING)
def test_trailing_delimiters_leave_no_column_with_a_note(tmp_path, reader, case):
    # pandas reads such a column as NaN ('Unnamed: 2'), which no mixture fits;
    # fastem leaves it out and says so
    content, empty = TRAILING[case]
    path = _write(tmp_path, content)
    header = None if case == "headerless" else "infer"
    sep = ";" if case == "semicolons" else ","
    expected = pd.read_csv(path, header=header, sep=sep).drop(columns=empty)
    table = reader(path)
    assert_array_equal(table.data, expected.to_numpy(dtype=float))
    assert table.names == (None if header is None else list(expected.columns))
    assert any("ends its lines with a delimiter" in note for note in table.notes)
    if header is not None:
        assert _tables.csv_column_names(path) == list(expected.columns)


@pytest.mark.parametrize("content", [
    "a,b\n1,2,\n3,4,\n",  # pandas takes the first column for the index here
    "a,b,\n1,2\n3,4\n",  # pandas adds a column of NaN
    "a,b,,\r\n1,2,\r\n3,4,\r\n",
])
def test_a_header_and_rows_with_trailing_delimiters_of_their_own(tmp_path, reader, content):
    path = _write(tmp_path, content)
    table = reader(path)
    assert table.names == ["a", "b"] == _tables.csv_column_names(path)
    assert_array_equal(table.data, [[1, 2], [3, 4]])
    assert any("ends its lines with a delimiter" in note for note in table.notes)


def test_a_value_below_an_empty_trailing_column_is_an_error(tmp_path, reader):
    rows = "".join(f"{i},{i}," + "\n" for i in range(60))
    path = _write(tmp_path, "a,b,\n" + rows + "7,8,9\n")
    with pytest.raises(ValueError, match=r"'9' on line 62, column 3 \('Unnamed: 2'\), a column "
                                         r"without a name that is empty in the first rows"):
        reader(path)


def test_a_decimal_comma_in_one_column_is_named_when_the_header_has_one_field(tmp_path, reader):
    path = _write(tmp_path, "x\n1,5\n2,5\n")
    with pytest.raises(ValueError, match="line 2 has 2 field.s. but the first row has 1.*decimal comma"):
        reader(path)


def test_a_headerless_column_of_decimal_commas_is_two_columns_as_in_pandas(tmp_path, reader):
    # "1,5" is also two whole numbers; no rule tells them apart (docs/command-line.md)
    path = _write(tmp_path, "1,5\n2,5\n3,5\n")
    assert_array_equal(reader(path).data, [[1, 5], [2, 5], [3, 5]])
    assert_array_equal(reader(path).data, pd.read_csv(path, header=None).to_numpy())


def test_text_in_a_numeric_column(tmp_path, reader):
    path = _write(tmp_path, "a,b\n1,2\n3,abc\n")
    with pytest.raises(ValueError, match=r"non-numeric value 'abc' on line 3 \(data row 2\), column 2 \('b'\)"):
        reader(path)
    for token in ("0x10", "1_000"):  # float() or pyarrow take these; pandas does not
        path = _write(tmp_path, f"a,b\n1,2\n3,{token}\n")
        with pytest.raises(ValueError, match="non-numeric value"):
            reader(path)


@pytest.mark.parametrize("digit", ["\uff11", "\u0665", "\u0967", "\U0001d7d9"])
def test_digits_of_other_scripts_are_text_as_in_pandas(tmp_path, reader, digit):
    # float() reads the decimal digits of every script (full-width, Arabic-Indic,
    # Devanagari, mathematical); pandas keeps them as text
    for value in (digit, f"1{digit}.5", f"-{digit}e3"):
        path = _write(tmp_path, f"a,b\n1,2\n{value},4\n")
        assert not pd.api.types.is_numeric_dtype(pd.read_csv(path)["a"])
        with pytest.raises(ValueError, match=rf"non-numeric value '{re.escape(value)}' on line 3"):
            reader(path)


# Characters that float() and numpy.loadtxt strip around a number and pandas does not:
# no-break, thin, ideographic and narrow no-break spaces, ASCII's information
# separators, NEL.
OTHER_SPACES = ["\xa01.5", "1.5\u2009", "\u30001.5", "\u202f1.5\u202f", "\x1c7", "1.5\x85"]


@pytest.mark.parametrize("value", OTHER_SPACES)
def test_a_number_beside_a_space_pandas_does_not_take_is_text_on_every_reader(
        tmp_path, reader, value):
    path = _write(tmp_path, f"a,b\n1,2\n{value},4\n")
    assert pd.read_csv(path)["a"].tolist() == ["1", value]  # text, as written
    for missing in (False, True):
        with pytest.raises(ValueError, match=(
                rf"has {re.escape(repr(value))} on line 3 \(data row 2\), column 1 \('a'\): "
                r"the number [0-9.]+ with U\+[0-9A-F]{4} .* which pandas does not take for a space.*"
                r"Remove those characters")):
            reader(path, missing=missing)
    assert_array_equal(reader(path, columns=["b"]).data, [[2], [4]])


@pytest.mark.parametrize(("value", "name"), [
    ("\x1c7", "U+001C INFORMATION SEPARATOR FOUR (FILE SEPARATOR)"),
    ("\x1d7", "U+001D INFORMATION SEPARATOR THREE (GROUP SEPARATOR)"),
    ("7\x1e", "U+001E INFORMATION SEPARATOR TWO (RECORD SEPARATOR)"),
    ("7\x1f", "U+001F INFORMATION SEPARATOR ONE (UNIT SEPARATOR)"),
    ("7\x85", "U+0085 NEXT LINE (NEL)"), ("\xa07", "U+00A0 NO-BREAK SPACE"),
])
def test_a_control_character_beside_a_number_is_named_by_its_unicode_alias(
        tmp_path, reader, value, name):
    path = _write(tmp_path, f"a,b\n1,2\n{value},4\n")
    with pytest.raises(ValueError, match=rf"the number 7 with {re.escape(name)} beside it"):
        reader(path)


@pytest.mark.parametrize("value", ["\xa0", "\u3000NA", "NA\u2009"])
def test_a_missing_value_beside_a_space_pandas_does_not_take_is_text(tmp_path, reader, value):
    path = _write(tmp_path, f"a,b\n1,2\n{value},4\n")
    assert pd.read_csv(path)["a"].tolist() == ["1", value]
    with pytest.raises(ValueError, match=rf"has {re.escape(repr(value))} on line 3 .*: (a field "
                                         r"of U\+.* alone|the missing-value marker 'NA' with)"):
        reader(path, missing=True)


@pytest.mark.parametrize("value", [" 1.5 ", "\t1.5", "1.5\t ", "\v1.5", "1.5\f", '"1.5\n"',
                                   '" \r1.5"'])
def test_a_number_beside_spaces_that_pandas_takes_is_read_by_every_reader(tmp_path, reader, value):
    path = _write(tmp_path, f"a,b\n1,2\n{value},4\n")
    assert_array_equal(reader(path).data, [[1, 2], [1.5, 4]])
    assert_array_equal(reader(path).data, pd.read_csv(path).to_numpy(dtype=float))


# Columns that read_columns reads with one float() per field (_plain_column) and columns
# that it hands back to the field-by-field reading; both must give what that reading gives.
PLAIN_AND_OTHER_COLUMNS = [
    ["1.5", "-2e-05", "3E+10", " 4.25\t"], ["1", "-2", "30", " 4 "], ["1", "", "NA", "-3"],
    ["1.5", "2", "", "nan"], ["1.5", "NAN", "+nan", "-1.#IND"], ["", "", ""], ["NA", "nan", ""],
    ["1", "+2"], ["1", "007"], ["1", "-0"], ["1.5", "+2"], ["1.5", "9007199254740993"],
    ["1.5", "9007199254740992"], ["9223372036854775807", "1"], ["9223372036854775808", "1"],
    ["1.5", "inf"], ["1", "-Infinity"], ["1.5", "abc"], ["1", "1_000"], ["1.5", "1\x1c"],
    ["1.5", "\xa01"], ["1.5", "1.5.5"], ["1", ""], ["0x10", "1"], ["1.", ".5"],
]


@pytest.mark.parametrize("column", PLAIN_AND_OTHER_COLUMNS)
def test_read_columns_reads_a_plain_column_as_field_by_field(tmp_path, monkeypatch, column):
    path = _write(tmp_path, "a,b\n" + "".join(f"{v},{i}\n" for i, v in enumerate(column)))
    layout = read_csv(path, columns=["b"]).layout
    _, (fast, _) = _tables.read_columns(path, layout)
    monkeypatch.setattr(_tables, "_plain_column", lambda column: None)
    _, (slow, _) = _tables.read_columns(path, layout)
    assert fast.dtype == slow.dtype
    assert fast.tolist() == slow.tolist() or np.array_equal(fast, slow, equal_nan=True)
    assert [type(v) for v in fast.tolist()] == [type(v) for v in slow.tolist()]


@pytest.mark.parametrize("value", OTHER_SPACES)
def test_read_columns_keeps_a_number_beside_another_space_as_text(tmp_path, value):
    path = _write(tmp_path, f"a,b\n{value},2\n3,4\n")
    _, columns = _tables.read_columns(path, read_csv(path, columns=["b"]).layout)
    assert columns[0].tolist() == pd.read_csv(path)["a"].tolist() == [value, "3"]
    assert columns[1].tolist() == [2, 4]


@pytest.mark.parametrize("value", ["1e400", "-1E+999", "+2.5e308", "179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792"])
def test_a_number_beyond_float64_s_range_is_named_not_read_as_infinite(tmp_path, reader, value):
    path = _write(tmp_path, f"a,b\n1,2\n3,{value}\n5,6\n")
    with pytest.raises(ValueError, match=r"on line 3 \(data row 2\), column 2 \('b'\): a number "
                                         r"beyond float64's range"):
        reader(path)
    with pytest.raises(ValueError, match="beyond float64's range"):
        read_csv(path, missing=True)


@pytest.mark.parametrize("value", ["1e400", "-1e400", "1e+400", "1E400", " 1e400 ", "-1E+999"])
def test_read_columns_names_a_number_beyond_float64_s_range_as_read_csv_does(tmp_path, value):
    # a column that read_csv does not read (the impute writer copies it)
    path = _write(tmp_path, f"a,b\n1,2\n{value},4\n")
    layout = read_csv(path, columns=["b"]).layout
    named = (rf"has '{re.escape(value.strip())}' on line 3 \(data row 2\), column 1 \('a'\): "
             r"a number beyond float64's range")
    with pytest.raises(ValueError, match=named):
        _tables.read_columns(path, layout)
    with pytest.raises(ValueError, match=named):
        read_csv(path)


@pytest.mark.parametrize("value", ["1e-400", "-1e-400", "2.5e-324", "4.9e-324"])
def test_a_number_below_float64_s_range_is_read_as_pandas_reads_it_by_every_reader(
        tmp_path, reader, value):
    path = _write(tmp_path, f"a,b\n1,2\n{value},4\n")
    expected = pd.read_csv(path).to_numpy(dtype=float)
    assert_array_equal(reader(path).data, expected)
    assert np.signbit(reader(path).data[1, 0]) == value.startswith("-")
    _, columns = _tables.read_columns(path, reader(path, columns=["b"]).layout)
    assert_array_equal(columns[0], expected[:, 0])


# float() and both fast parsers read these as NaN; pandas keeps them as text. fastem reads
# them as missing values (fastem impute fills them), on every reader: read_csv without
# missing= gave them back as NaN.
@pytest.mark.parametrize("value", ["NAN", "Nan", "nAn", "+nan", "+NaN", "-NAN", "-Nan"])
def test_every_spelling_of_nan_is_a_missing_value_on_every_reader(tmp_path, reader, value):
    path = _write(tmp_path, f"a,b\n1,2\n{value},4\n5,nan\n")
    with pytest.raises(ValueError, match=rf"has a missing value \('{re.escape(value)}'\) on line 3 "
                                         r"\(data row 2\), column 1 \('a'\); fit with --missing em"):
        reader(path)
    assert_array_equal(reader(path, missing=True).data, [[1, 2], [np.nan, 4], [5, np.nan]])
    _, columns = _tables.read_columns(path, reader(path, missing=True).layout)
    assert columns[0].tolist() == [1, None, 5]
    path = _write(tmp_path, f"{value},4\n5,nan\n")  # a first row with one is data
    assert_array_equal(reader(path, missing=True).data, [[np.nan, 4], [5, np.nan]])


def test_an_infinity_written_as_one_is_read_as_one(tmp_path, reader):
    path = _write(tmp_path, "a,b\n1,2\n3,inf\n-Infinity,6\n")
    assert_array_equal(reader(path).data, [[1, 2], [3, np.inf], [-np.inf, 6]])
    assert_array_equal(reader(path).data, pd.read_csv(path).to_numpy())


def test_a_file_that_mixes_encodings_is_refused_at_the_line_that_changes(tmp_path, reader):
    # A UTF-8 header (the encoding is taken from the head) above a late Latin-1 line
    body = "".join(f"{i}.5,{i}.25\n" for i in range(20_000))
    path = tmp_path / "mixed.csv"
    path.write_bytes("température,x\n".encode() + body.encode() + "ç,1\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"not valid utf-8 text .* on line 20002 \(b'\\xe7,1\\n'\), "
                                         "while the lines above are utf-8 text.*UTF-8 throughout"):
        reader(path)
    # Latin-1 throughout, ASCII in the head: no mix
    path.write_bytes(b"city,x\n" + body.encode() + "\xe7,1\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"on line 20002 .* the first byte that is not ASCII: the "
                                         "file may be in another encoding, such as Latin-1"):
        reader(path)
    # The line is counted as the reader counts lines: CR alone ends one too
    for end in ("\r", "\r\n"):
        path.write_bytes(("température,x\n" + body).replace("\n", end).encode()
                         + "ç,1".encode("latin-1") + end.encode())
        with pytest.raises(ValueError, match=r"on line 20002 \(b'\\xe7,1\\r.*while the lines above"):
            reader(path)
    # UTF-8 text before the Latin-1 byte on its own line is a mix as well
    path.write_bytes(b"city,x\n" + body.encode() + "é,".encode() + "ç\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"on line 20002 \(b'\\xc3\\xa9,\\xe7\\n'\), while the "
                                         "text before it is utf-8 text: the file mixes"):
        reader(path)


def test_a_mix_of_encodings_in_the_head_keeps_the_utf8_names_and_is_named(tmp_path, reader):
    body = "".join(f"{i}.5,{i}.25\n" for i in range(50)).encode()
    path = tmp_path / "mixed.csv"
    # a Latin-1 line within the bytes the encoding is taken from: the names are not garbled
    path.write_bytes("température,x\n".encode() + body + "ç,1\n".encode("latin-1"))
    assert _tables.csv_column_names(str(path)) == ["température", "x"]
    with pytest.raises(ValueError, match=r"on line 52 \(b'\\xe7,1\\n'\), while the lines above "
                                         "are utf-8 text: the file mixes encodings"):
        reader(str(path))
    # the Latin-1 line first, UTF-8 text below it
    path.write_bytes(b"city,x\n" + "ç,1\n".encode("latin-1") + body + "é,1\n".encode())
    with pytest.raises(ValueError, match=r"on line 2 \(b'\\xe7,1\\n'\), while text below it is "
                                         "utf-8 text: the file mixes encodings"):
        reader(str(path))
    # Windows-1252 throughout: read as such
    path.write_bytes("température,x\n".encode("cp1252") + body)
    assert _tables.csv_column_names(str(path)) == ["température", "x"]
    assert reader(str(path), columns=["x"]).data.shape == (50, 1)


def test_byte_lines_end_where_the_text_reader_ends_them():
    text = "a\r\nb\rc\n\r\r\nd\r"
    for block in (1, 2, 3, 64):
        lines = list(_tables._byte_lines(io.BytesIO(text.encode()), block))
        assert [line.decode() for line in lines] == io.StringIO(text, newline="").readlines()


@pytest.mark.parametrize("last", ["# end of table", "# end, of table"])
def test_a_line_of_notes_below_the_header_is_named(tmp_path, reader, last):
    path = _write(tmp_path, "a,b\n1,2\n3,4\n" + last + "\n")
    with pytest.raises(ValueError, match="line 4 .*starts with '#' is a line of notes only "
                                         "above the table"):
        reader(path)
    path = _write(tmp_path, "a,b\n1,2\n#DIV/0!,4\n")  # a spreadsheet's error value
    with pytest.raises(ValueError, match="has '#DIV/0!' on line 3 .*na_values") as error:
        reader(path)
    assert "line of notes" not in str(error.value)
    path = _write(tmp_path, "a,b\n1,2\n#DIV/0!\n")  # in a short row
    with pytest.raises(ValueError, match="line 3 has 1 field") as error:
        reader(path)
    assert "line of notes" not in str(error.value)


@pytest.mark.parametrize("table, columns", [
    ("id,x,y\n1,1,2\n#2,99,99\n3,3,4\n", ["x", "y"]),  # a row left out, in a column not chosen
    ('"","x","y"\n"1",1,2\n#"2",99,99\n"3",3,4\n', None),  # R's write.csv: the index column
    (",x,y\n0,1,2\n# outlier,99,99\n2,3,4\n3,5,6\n", None),  # pandas' index column
])
def test_a_line_of_notes_in_a_column_not_read_is_not_data(tmp_path, reader, table, columns):
    path = _write(tmp_path, table)
    with pytest.raises(ValueError, match=r"on line 3 \(data row 2\), column 1 .*which is not read: a "
                                         "row that starts with '#'.*remove it or move it above the "
                                         "header.*if it is data, quote that field"):
        reader(path, columns=columns)


def test_values_that_start_with_hash_in_a_column_not_read_are_data(tmp_path, reader):
    # the row labels of most rows start with '#', or a label is quoted: data, not notes
    tags = "tag,x\n#python,1\n#numba,2\nplain,3\n"
    assert_array_equal(reader(_write(tmp_path, tags), columns=["x"]).data, [[1], [2], [3]])
    quoted = 'tag,x\n"#python",1\nnumba,2\nplain,3\n'
    assert_array_equal(reader(_write(tmp_path, quoted), columns=["x"]).data, [[1], [2], [3]])
    errors = "a,b\n#N/A,1\n#DIV/0!,2\n3,3\n4,4\n5,5\n"  # a spreadsheet's values
    assert_array_equal(reader(_write(tmp_path, errors), columns=["b"]).data,
                       [[1], [2], [3], [4], [5]])


def test_a_quoted_empty_field_in_a_file_of_one_column_is_a_missing_value(tmp_path, reader):
    # pandas writes a missing value of a one-column frame as "": a field, not a blank line
    frame = pd.DataFrame({"x": [0.1, np.nan, 6.2, np.nan, 5.9]})
    path = str(tmp_path / "one.csv")
    frame.to_csv(path, index=False)
    assert_array_equal(reader(path, missing=True).data, pd.read_csv(path).to_numpy())
    with pytest.raises(ValueError, match=r"missing value \(an empty field\) on line 3 \(data "
                                         r"row 2\)"):
        reader(path)
    path = _write(tmp_path, "x\n0.1\n\n  \n6.2\n")  # empty and blank lines are skipped
    assert_array_equal(reader(path).data, [[0.1], [6.2]])


def test_lines_longer_than_the_csv_modules_field_limit(tmp_path, reader):
    # 8,000 numbers on a line are one field of each delimiter the sniffer tries but its
    # own; a long text field is one field: both are read, as pandas reads them
    wide = pd.DataFrame(np.arange(40_000.0).reshape(5, 8000)).add_prefix("f")
    path = str(tmp_path / "wide.csv")
    wide.to_csv(path, index=False)
    assert_array_equal(reader(path).data, wide.to_numpy())
    path = _write(tmp_path, "note,a\n" + "x" * 200_000 + ",1\ny,2\n", "long.csv")
    assert_array_equal(reader(path, columns=["a"]).data, [[1], [2]])
    assert csv.field_size_limit() == 131_072  # the process's limit is put back


def test_a_first_row_with_a_mark_of_a_missing_value_is_data(tmp_path, reader):
    # UCI's '?', SAS's '.', a dash or a spreadsheet error among numbers: a data row, whose
    # mark is named, not a header that would drop the row without a word
    for mark in ("?", ".", "-", "#DIV/0!"):
        path = _write(tmp_path, f"5.1,{mark},1.4\n4.9,3.0,1.4\n4.7,3.2,1.3\n4.6,3.1,1.5\n")
        with pytest.raises(ValueError, match=rf"has '{re.escape(mark)}' on line 1 \(data row 1\),"
                                             " column 2, which some data sets write for a missing"
                                             rf" value.*na_values=\['{re.escape(mark)}'\]"):
            reader(path)
        assert reader(path, header=True).names == ["5.1", mark, "1.4"]  # when it is names
    path = _write(tmp_path, "#DIV/0!,3.5\n4.9,3.0\n")  # not a comment line above the table
    with pytest.raises(ValueError, match="has '#DIV/0!' on line 1"):
        reader(path)


def test_a_shuffled_row_index_gets_a_note(tmp_path, reader):
    frame = pd.DataFrame(X[:400], columns=["a", "b", "c"]).sample(frac=0.75, random_state=1)
    path = str(tmp_path / "split.csv")
    frame.reset_index().to_csv(path, index=False)
    table = reader(path)
    assert_array_equal(table.data, frame.reset_index().to_numpy())
    assert [n for n in table.notes if "row index" in n] == [
        f"{path!r}: its first column ('index') holds distinct whole numbers (398, 125, ..., "
        "36), as a row index does once rows are shuffled, sampled or split; it is used as a "
        "feature. If it is the index, leave it out (--columns a,b,c; Chunks(..., "
        "columns=['a', 'b', 'c']) in Python)"]
    frame.assign(index=np.arange(300) % 7)[["index", "a", "b", "c"]].to_csv(path, index=False)
    assert not any("row index" in n for n in reader(path).notes)  # repeated values: a feature


@pytest.mark.parametrize("ext", [".csv", ".parquet"])
def test_a_fifo_or_device_given_as_a_table_is_refused_without_blocking(tmp_path, ext):
    fifo = tmp_path / f"pipe{ext}"
    os.mkfifo(fifo)
    device = tmp_path / f"zero{ext}"
    device.symlink_to("/dev/zero")
    code = ("import fastem\n"
            f"for path in [{str(fifo)!r}, {str(device)!r}]:\n"
            "    try:\n"
            "        fastem.GaussianMixture(1).fit(fastem.Chunks([path]))\n"
            "    except ValueError as exc:\n"
            "        print(exc)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": _ROOT})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "is a FIFO (named pipe), not a regular file" in lines[0]
    assert "is a character device, not a regular file" in lines[1]


def test_ragged_rows(tmp_path, reader):
    path = _write(tmp_path, "a,b\n1,2\n3,4,5\n")
    with pytest.raises(ValueError, match="line 3 has 3 field.s. but the first row has 2"):
        reader(path)


@pytest.mark.parametrize("content", ["", "\n\n"])
def test_empty_files(tmp_path, reader, content):
    with pytest.raises(ValueError, match="is empty"):
        reader(_write(tmp_path, content))


@pytest.mark.parametrize("content", ["a,b\n", "a,b\r\n\r\n", "a,b", ",a,b\n", "# note\na;b\n"])
def test_a_header_only_file_is_a_table_of_0_rows(tmp_path, reader, content):
    # a part of a table may be empty (Chunks takes it); the command line refuses it as data
    table = reader(_write(tmp_path, content))
    assert table.data.shape == (0, 2) and table.data.dtype == np.float64
    assert table.names == ["a", "b"]


@pytest.mark.parametrize("kind", ["csv", "parquet", "npy"])
def test_a_part_of_0_rows_is_an_empty_chunk_of_every_kind_of_file(tmp_path, kind):
    # Spark and Dask write a part of an empty partition as a file of the header alone.
    # A header-only CSV part was refused ('has a header row but no data rows') where a
    # parquet or .npy part of 0 rows is an empty chunk.
    if kind == "parquet":
        pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    parts = [rng.normal(size=(80, 2)), rng.normal(size=(80, 2)) + 4.0]
    parts[1][3, 0] = np.nan

    def part(name, values):
        path = tmp_path / f"{name}.{kind}"
        if kind == "npy":
            np.save(path, values)
        else:
            frame = pd.DataFrame(values, columns=["a", "b"])
            getattr(frame, f"to_{kind}")(path, index=False)
        return path

    full, empty = [part(f"p{i}", values) for i, values in enumerate(parts)], part("e", parts[0][:0])
    with_empty = Chunks([full[0], empty, full[1]])
    model = GaussianMixture(2, missing="em", random_state=0).fit(with_empty)
    alone = GaussianMixture(2, missing="em", random_state=0).fit(Chunks(full))
    for name in model._parameter_names:
        assert_array_equal(getattr(model, name), getattr(alone, name), strict=True)
    assert model.score(with_empty) == alone.score(Chunks(full))
    for method in ("predict", "predict_proba", "score_samples", "impute"):
        outputs = getattr(model, method)(with_empty)
        assert [len(out) for out in outputs] == [80, 0, 80]
    with pytest.raises(ValueError, match="no rows: all 2 chunk"):
        GaussianMixture(2).fit(Chunks([empty, empty]))


@pytest.mark.parametrize("place", [0, 1, 2])
@pytest.mark.parametrize("kind", ["parquet", "frame"])
def test_a_csv_part_of_0_rows_takes_the_dtype_of_float32_parts(tmp_path, kind, place):
    """A CSV part of its header alone, read as float64 (a CSV file's numbers always are), was
    refused beside float32 parts ('chunk 1 is read as float64 but chunk 0 as float32') and,
    first, had the float32 parts refused: it holds no number to keep, and is an empty chunk
    of their dtype."""
    if kind == "parquet":
        pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    frames = [pd.DataFrame(rng.normal(size=(80, 2)) + 4.0 * i, columns=["a", "b"]).astype(
        np.float32) for i in range(2)]
    if kind == "parquet":
        for i, frame in enumerate(frames):
            frame.to_parquet(tmp_path / f"p{i}.parquet")
        frames = [tmp_path / f"p{i}.parquet" for i in range(2)]
    empty = tmp_path / "e.csv"
    empty.write_text("a,b\n")
    with_empty = Chunks([*frames[:place], empty, *frames[place:]])
    model = GaussianMixture(2, missing="em", random_state=0).fit(with_empty)
    alone = GaussianMixture(2, missing="em", random_state=0).fit(Chunks(frames))
    assert model.means_.dtype == np.float32
    for name in model._parameter_names:
        assert_array_equal(getattr(model, name), getattr(alone, name), strict=True)
    assert model.score(with_empty) == alone.score(Chunks(frames))
    for method in ("predict", "predict_proba", "score_samples", "impute"):
        outputs = getattr(model, method)(with_empty)
        assert [len(out) for out in outputs] == [80, 80][:place] + [0] + [80, 80][place:]
    model.partial_fit(with_empty)
    full = tmp_path / "full.csv"  # a CSV part with rows is float64, refused beside float32
    pd.DataFrame(rng.normal(size=(5, 2)), columns=["a", "b"]).to_csv(full, index=False)
    with pytest.raises(ValueError, match="chunk 2 .* is read as float64 but chunk 1 as float32"):
        GaussianMixture(2).fit(Chunks([empty, frames[0], full]))


def _binary_files():
    import bz2
    import gzip
    import io
    import lzma
    import zipfile

    npy = io.BytesIO()
    np.save(npy, X)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("data.csv", "a,b\n1,2\n")
    text = _text([["a", "b", "c"], *X.tolist()]).encode()
    return {
        "gzip": (gzip.compress(text), "gzip-compressed file, not CSV text; decompress it"),
        "bzip2": (bz2.compress(text), "bzip2-compressed file"),
        "xz": (lzma.compress(text), "xz-compressed file"),
        "zip": (archive.getvalue(), r"zip \(or .xlsx/.npz\) file"),
        "npy": (npy.getvalue(), r"NumPy .npy file, not CSV text; give it the .npy extension"),
    }


@pytest.mark.parametrize("kind", _binary_files())
def test_binary_files_given_as_csv_are_named_with_the_fix(tmp_path, reader, kind):
    """A compressed or binary table named .csv: its format and the fix, not a parse error
    quoting its bytes."""
    content, match = _binary_files()[kind]
    with pytest.raises(ValueError, match=match):
        reader(_write(tmp_path, content))


def test_column_selection(tmp_path, reader):
    path = _write(tmp_path, _text([["a", "b", "c"], *X.tolist()]))
    table = reader(path, ["c", "0"])
    assert table.names == ["c", "a"]
    assert_array_equal(table.data, X[:, [2, 0]])
    with pytest.raises(ValueError, match=r"column 'z' not found.*its columns are \['a', 'b', 'c'\]"):
        reader(path, ["z"])
    with pytest.raises(ValueError, match="column index 3 is out of range"):
        reader(path, ["3"])
    headerless = _write(tmp_path, _text(X.tolist()), "plain.csv")
    with pytest.raises(ValueError, match="no header row with names"):
        reader(headerless, ["a"])


@pytest.mark.parametrize("head", [
    "# Old Faithful geyser, Yellowstone: eruption time (min), waiting (min)\n# R datasets\n",
    "# notes\n\n",  # a blank line after them
    '# it\'s "quoted, unbalanced\n',  # a quote in a comment: read field by field
    "# notes\r\n# more notes\r\n",
])
def test_leading_comment_lines_are_skipped_with_a_note(tmp_path, reader, head):
    body = "eruptions,waiting\n" + "".join(f"{a!r},{b!r}\n" for a, b in X[:50, :2].tolist())
    path = _write(tmp_path, head + body)
    table = reader(path)
    assert table.names == ["eruptions", "waiting"]
    assert_array_equal(table.data, X[:50, :2])
    n = head.count("#")
    assert table.notes == [f"{path!r} starts with {n} comment line(s) ('#'), which are skipped"]
    # a bad value is placed on its line in the file, comment lines counted
    path = _write(tmp_path, head + "a,b\n1,2\n3,x\n")
    line = head.count("\n") + 3
    with pytest.raises(ValueError, match=rf"non-numeric value 'x' on line {line} \(data row 2\)"):
        reader(path)


def test_comment_lines_without_a_header_and_the_na_marker(tmp_path, reader):
    # numpy.savetxt(path, X, header="x,y") writes "# x,y": the rows below have no header
    path = _write(tmp_path, "# x,y\n" + _text(X[:20, :2].tolist()))
    table = reader(path)
    assert table.names is None
    assert_array_equal(table.data, X[:20, :2])
    # "#N/A" first is a missing value, not a comment
    path = _write(tmp_path, "#N/A,2\n1,2\n")
    with pytest.raises(ValueError, match=r"missing value \('#N/A'\) on line 1"):
        reader(path)


def test_the_repository_data_file_reads_as_pandas_reads_it(reader):
    path = os.path.join(os.path.dirname(__file__), "data", "faithful.csv")
    table = reader(path)
    expected = pd.read_csv(path, comment="#")
    assert table.names == list(expected.columns)
    assert_array_equal(table.data, expected.to_numpy(dtype=float))


def test_a_line_of_spaces_is_blank_as_in_pandas(tmp_path, reader):
    path = _write(tmp_path, "a,b\n1,2\n   \n3,4\n")
    assert_array_equal(reader(path).data, pd.read_csv(path).to_numpy(dtype=float))


@pytest.mark.parametrize("value, match", [
    ("1,000.5", "a thousands separator.*thousands=','"),
    ("1,000", "a thousands separator \\(1000\\) or with a decimal comma \\(1.000\\)"),
])
def test_thousands_separators_are_named(tmp_path, reader, value, match):
    with pytest.raises(ValueError, match=match):
        reader(_write(tmp_path, f'a,b\n"{value}",2\n3,4\n'))


@pytest.mark.parametrize("delimiter", [",", ";"])
@pytest.mark.parametrize("value", ["1,000", "-12,345,678", "0,500"])
def test_the_fix_an_ambiguous_separator_names_reads_what_it_says(tmp_path, reader, delimiter, value):
    """'1,000' is a thousand or one: the message gives both fixes, each with the number it
    reads, so that following one cannot silently turn a thousand into one."""
    path = _write(tmp_path, f'a{delimiter}b\n"{value}"{delimiter}2\n3{delimiter}4\n')
    with pytest.raises(ValueError) as error:
        reader(path)
    message = str(error.value)
    fixes = re.findall(r"(pd\.read_csv\(path, [^)]*\))\.to_csv\(new_path, index=False\)"
                       r"(?: for (\S+?)\)?(?: or|$)|\)$)", message)
    fixes = [(call, claimed or value.replace(",", "")) for call, claimed in fixes]
    # one comma: either; more: thousands (a decimal comma is one comma)
    assert len(fixes) == (2 if value.count(",") == 1 else 1), message
    for call, claimed in fixes:
        read = eval(call, {"pd": pd, "path": path})
        assert read.iloc[0, 0] == float(claimed), (call, claimed)


@pytest.mark.parametrize("delimiter, value, number, encoding", [
    (",", "1\u00a0234", 1234, "utf-8"),  # a spreadsheet's no-break space
    (",", "-1\u202f234\u202f567", -1234567, "utf-8"),  # SI's narrow no-break space
    (";", "1\u00a0234,5", 1234.5, "latin-1"),  # French, with a decimal comma
    (";", "1 234,5", 1234.5, "utf-8"),
    (",", "12 345.25", 12345.25, "utf-8"),  # or numbers that numpy.savetxt set apart
    (";", "-1.234.567,25", -1234567.25, "utf-8"),  # German
    (";", "1.234.567", 1234567, "utf-8"),
    (",", "1'234.5", 1234.5, "utf-8"),  # Swiss
    (",", "1\u2019234.5", 1234.5, "utf-8"),
])
def test_digit_groups_set_apart_by_spaces_or_points_are_named_with_a_fix_that_reads_them(
        tmp_path, reader, delimiter, value, number, encoding):
    """A number whose thousands are set apart by a space, a no-break space or a narrow one,
    a point or an apostrophe is named so, with the pandas call that reads it: before,
    'numbers separated by spaces (numpy.savetxt's default)' with sep=r'\\s+', which
    misreads the file, or a 'non-numeric value' without a fix. Plain spaces may also set
    numbers apart: both fixes are given."""
    text = f"a{delimiter}b\n{value}{delimiter}2\n3{delimiter}4\n"
    path = _write(tmp_path, text.encode(encoding))
    with pytest.raises(ValueError, match=r"on line 2 \(data row 1\), column 1 \('a'\).* a "
                                         r"number with .* between its digit groups") as error:
        reader(path)
    message = str(error.value)
    assert ("numpy.savetxt" in message) == (value == "12 345.25"), message
    call = re.search(r"pd\.read_csv\(path, [^)]*\)", message).group(0)
    assert eval(call, {"pd": pd, "path": path}).iloc[0, 0] == number, call


@pytest.mark.parametrize("value, number, encoding", [
    ("\u22121.5", -1.5, "utf-8"),  # a word processor's minus sign
    ("2.5e\u22123", 2.5e-3, "utf-8"),
    ("\u20134", -4, "cp1252"),  # an en dash
])
def test_a_typographic_minus_sign_is_named_with_a_fix_that_reads_it(
        tmp_path, reader, value, number, encoding):
    """A number whose minus sign is U+2212 MINUS SIGN or a dash is named so, with the
    replacement that reads it (before, a 'non-numeric value' without a fix)."""
    path = _write(tmp_path, f"a,b\n{value},2\n3,4\n".encode(encoding))
    with pytest.raises(ValueError, match=r"on line 2 \(data row 1\), column 1 \('a'\): a "
                                         r"number written with U\+.* for its minus sign") as error:
        reader(path)
    fix = re.search(r"text = open\(path, encoding='(.*?)'\)\.read\(\)((?:\.replace\([^)]*\))+)",
                    str(error.value))
    with open(path, encoding=fix.group(1)) as f:
        text = eval("text" + fix.group(2), {"text": f.read()})
    assert pd.read_csv(io.StringIO(text)).iloc[0, 0] == number


def test_parquet_decimal_columns_are_numbers(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import decimal

    import pyarrow.parquet as pq

    values = [decimal.Decimal("1.25"), decimal.Decimal("-3.50")]
    table = pa.table({"price": pa.array(values, pa.decimal128(9, 2)), "n": [1, 2]})
    pq.write_table(table, tmp_path / "t.parquet")
    read = _tables.read_parquet(str(tmp_path / "t.parquet"))
    assert read.names == ["price", "n"]
    assert_array_equal(read.data, [[1.25, 1], [-3.5, 2]])


SEP_LINE = {  # a spreadsheet's first line naming the delimiter: (file, delimiter, header)
    "semicolons": ("sep=;\na;b\n1.5;2\n3;4\n", ";", "infer"),
    "commas, CRLF": ("sep=,\r\na,b\r\n1.5,2\r\n3,4\r\n", ",", "infer"),
    "byte-order mark": ("\ufeffsep=;\na;b\n1.5;2\n3;4\n", ";", "infer"),
    "tabs, headerless": ("sep=\t\n1.5\t2\n3\t4\n", "\t", None),
    "then a comment line": ("sep=,\n# units: cm\na,b\n1.5,2\n3,4\n", ",", "infer"),
}


@pytest.mark.parametrize("case", SEP_LINE)
def test_a_sep_line_names_the_delimiter_and_is_skipped(tmp_path, reader, case):
    # pandas reads "sep=;" as a header; fastem follows it, as spreadsheets do
    content, sep, header = SEP_LINE[case]
    path = _write(tmp_path, content)
    expected = pd.read_csv(path, sep=sep, header=header, encoding="utf-8-sig",
                           skiprows=1, comment="#")
    table = reader(path)
    assert_array_equal(table.data, expected.to_numpy(dtype=float))
    assert table.names == (None if header is None else list(expected.columns))
    assert f"starts with the line 'sep={sep}'" in table.notes[0]
    path = _write(tmp_path, content.replace("3", "x"))  # places count the line
    line = content[:content.index("3")].count("\n") + 1
    with pytest.raises(ValueError, match=rf"non-numeric value 'x' on line {line} \(data row 2\)"):
        reader(path)


ROW_NUMBERS = {  # a row index written as a named column: (how the file is made, what is named)
    "a named index": (lambda f, p: f.rename_axis("id").to_csv(p),
                      "its first column ('id') counts the rows (0, 1, ..., 599)"),
    "reset_index": (lambda f, p: f.reset_index().to_csv(p, index=False),
                    "its first column ('index') counts the rows (0, 1, ..., 599)"),
    "rows from 1": (lambda f, p: f.assign(row=range(1, 601))[["row", "a", "b", "c"]]
                    .to_csv(p, index=False),
                    "its first column ('row') counts the rows (1, 2, ..., 600)"),
    "headerless": (lambda f, p: f.reset_index().to_csv(p, index=False, header=False),
                   "its first column counts the rows (0, 1, ..., 599)"),
}


@pytest.mark.parametrize("case", ROW_NUMBERS)
def test_a_first_column_of_row_numbers_gets_a_note(tmp_path, reader, case):
    # read as pandas reads it (a feature), with a note on how to leave it out
    make, named = ROW_NUMBERS[case]
    path = str(tmp_path / "frame.csv")
    make(pd.DataFrame(X, columns=["a", "b", "c"]), path)
    table = reader(path)
    assert_array_equal(table.data[:, 1:], X) and table.data.shape == (600, 4)
    how = ("--columns 1,2,3; Chunks(..., columns=[1, 2, 3])" if case == "headerless" else
           "--columns a,b,c; Chunks(..., columns=['a', 'b', 'c'])")
    assert [n for n in table.notes if "counts the rows" in n] == [
        f"{path!r}: {named}, as a row index does; it is used as a feature. "
        f"If it is the index, leave it out ({how} in Python)"]
    assert not any("counts the rows" in n for n in reader(path, ["1", "2"]).notes)  # chosen


@pytest.mark.parametrize("ext", [".csv", ".parquet"])
def test_chunks_say_that_a_first_column_of_row_numbers_is_used_as_a_feature(tmp_path, ext):
    """Chunks of a file whose first column counts the rows (df.reset_index() written) say
    the command line's note as a UserWarning, once, and fit it as pandas reads it; before,
    they fitted the row numbers as a feature without a word (a parquet file on the command
    line too). Columns chosen by the caller, or an index that pandas stored as one, are
    silent."""
    if ext == ".parquet":
        pytest.importorskip("pyarrow")
    frame = pd.DataFrame(X[:200], columns=["a", "b", "c"]).reset_index()
    path = str(tmp_path / f"frame{ext}")
    frame.to_csv(path, index=False) if ext == ".csv" else frame.to_parquet(path)
    note = (rf"fastem: note: {re.escape(repr(path))}: its first column \('index'\) counts the "
            r"rows \(0, 1, \.\.\., 199\).*Chunks\(\.\.\., columns=\['a', 'b', 'c'\]\)")
    with pytest.warns(UserWarning, match=note) as record:
        model = GaussianMixture(1).fit(Chunks([path]))
    assert len(record) == 1 and list(model.feature_names_in_) == ["index", "a", "b", "c"]
    GaussianMixture(1).fit(Chunks([path], columns=["a", "b", "c"]))  # silent
    if ext == ".parquet":
        frame.set_index("index").to_parquet(path)
        GaussianMixture(1).fit(Chunks([path]))  # silent: pandas' index


@pytest.mark.parametrize("first", [[0, 1, 3, 4], [2, 3, 4, 5], [0, 0, 1, 2], [0.5, 1.5, 2.5, 3.5]])
def test_other_first_columns_get_no_row_number_note(tmp_path, reader, first):
    rows = [[v, i * 0.7] for i, v in enumerate(first)]
    assert reader(_write(tmp_path, _text([["x", "y"], *rows]))).notes == []
    assert reader(_write(tmp_path, _text([["x"], *[[v] for v in first]]), "one.csv")).notes == []


@pytest.mark.parametrize("make, line", [
    (lambda p: np.savetxt(p, X[:5]), 1),  # numpy.savetxt's default delimiter is a space
    (lambda p: np.savetxt(p, X[:5], fmt="%.3f", header="a b c", comments=""), 2),
    (lambda p: pd.DataFrame(X[:5], columns=["a", "b", "c"]).to_string(p, index=False), 2),
])
def test_numbers_separated_by_spaces_are_named(tmp_path, reader, make, line):
    path = str(tmp_path / "spaced.csv")
    make(path)
    with pytest.raises(ValueError, match=rf"on line {line} \(data row 1\), column 1.*: numbers "
                                         r"separated by spaces.*np.savetxt\(path, X, delimiter=','\)"):
        reader(path)


def test_a_title_line_above_the_header_is_named(tmp_path, reader):
    path = _write(tmp_path, "Old Faithful eruptions\neruptions,waiting\n3.6,79\n1.8,54\n")
    with pytest.raises(ValueError, match=r"line 2 has 2 field.s. but the first row has 1.*if line 1 "
                                         r"is a title rather than the column names, remove it or "
                                         r"start it with '#'"):
        reader(path)
    path = _write(tmp_path, "# Old Faithful eruptions\neruptions,waiting\n3.6,79\n1.8,54\n")
    assert reader(path).names == ["eruptions", "waiting"]


@pytest.mark.parametrize("above, line", [("\n\n", 3), ("# source: USGS\n\n", 3)])
def test_a_title_line_below_blank_lines_is_named_at_its_line(tmp_path, reader, above, line):
    """The hint counted the lines above the header as the comment lines alone: a title below
    blank lines was named as line 1 or 2, a blank line or a comment."""
    path = _write(tmp_path, above + "Old Faithful eruptions\neruptions,waiting\n3.6,79\n")
    with pytest.raises(ValueError, match=rf"line {line + 1} has 2 field.s. but the first row "
                                         rf"has 1.*if line {line} is a title rather than"):
        reader(path)


@pytest.mark.parametrize("content, where, how", [
    ("a,b\n1,\n2,\n3,NA\n", "column 2 ('b')", "leave it out (--columns a, or columns= in fastem.Chunks)"),
    ("a b,b,c\n1,,3\n2,nan,4\n", "column 2 ('b')", "(--columns 'a b,c', or"),
    ("1,\n2,NA\n", "column 2", "(--columns 0, or"),
    ("x\n\nNA\nnan\n", "column 1 ('x')", "it holds no data"),
])
def test_a_column_without_any_value_is_named_as_such(tmp_path, reader, content, where, how):
    # pandas reads a column of NaN; dropping the rows with missing values would drop them all
    path = _write(tmp_path, content)
    with pytest.raises(ValueError, match=f"has no value in any row of {re.escape(where)}, only "
                                         f"missing values; .*{re.escape(how)}"):
        reader(path)


@pytest.mark.parametrize("content", [
    "a,b\n,2\n1.5,3\n2.5,4\n3.5,5\n",
    "a,b\nNA,2\nNA,3\n2.5,NA\n3.5,5\n",
    "# exported\na;b\n;2\n1.5;\n2.5;4\n",
])
def test_missing_values_in_the_first_rows_lose_no_row(tmp_path, reader, content):
    path = _write(tmp_path, content)
    delimiter = ";" if ";" in content else ","
    expected = pd.read_csv(path, sep=delimiter, comment="#").to_numpy(dtype=float)
    np.testing.assert_array_equal(reader(path, missing=True).data, expected)


PARQUET_INDEXES = {  # how the frame's index is set: (frame -> frame, index columns named in the note)
    "range index": (lambda f: f, []),
    "named range index": (lambda f: f.rename_axis("id"), []),
    "a column as index": (lambda f: f.set_index("a"), ["a"]),
    "text labels": (lambda f: f.set_axis([f"r{i}" for i in range(len(f))]).rename_axis("label"),
                    ["label"]),
    "unnamed integer index": (lambda f: f.set_axis(range(5, 5 + len(f))), []),
    "two levels": (lambda f: f.set_index(["a", "b"]), ["a", "b"]),
}


def test_a_parquet_column_that_only_looks_like_an_index_is_data(tmp_path):
    """A column named '__index_level_0__' that no pandas metadata lists is data, as pandas
    reads it (a file written by pyarrow alone)."""
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = str(tmp_path / "arrow.parquet")
    pq.write_table(pa.table({"__index_level_0__": X[:, 0], "b": X[:, 1]}), path)
    expected = pd.read_parquet(path)
    table = _tables.read_parquet(path)
    assert table.names == list(expected.columns) == ["__index_level_0__", "b"]
    assert_array_equal(table.data, expected.to_numpy())
    assert table.notes == []


def test_repeated_columns_are_refused_on_every_reader(tmp_path):
    """A selection that names one column twice (by name, index or both) would fit a
    degenerate model on two copies; every reader refuses it."""
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame(X, columns=["x", "y", "z"])
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    for path in (tmp_path / "t.csv", tmp_path / "t.parquet"):
        for columns in (["x", "x"], ["x", "0"], ["y", "-2"]):
            with pytest.raises(ValueError, match=r"select the column '.' of .* twice .*select each column once"):
                _tables.read_table(path, columns)
    with pytest.raises(ValueError, match=r"select column 1 of .* twice \(as '1' and '-2'\)"):
        _tables.read_csv(_write(tmp_path, _text(X.tolist()), "plain.csv"), ["1", "-2"])


@pytest.mark.parametrize("case", PARQUET_INDEXES)
def test_parquet_index_columns_are_left_out_as_pandas_does(tmp_path, case):
    pytest.importorskip("pyarrow")
    make, shown = PARQUET_INDEXES[case]
    path = str(tmp_path / "frame.parquet")
    make(pd.DataFrame(X, columns=["a", "b", "c"])).to_parquet(path)
    expected = pd.read_parquet(path)  # the index is no column
    table = _tables.read_parquet(path)
    assert table.names == list(expected.columns) == _tables.parquet_column_names(path)
    assert_array_equal(table.data, expected.to_numpy())
    assert table.notes == ([f"{path!r} holds the index of a pandas DataFrame in the column(s) "
                            f"{shown}; not used as features (save it with "
                            "df.reset_index().to_parquet(path) to fit it)"] if shown else [])


@pytest.mark.parametrize("above", [
    "\n", "\r\n\r\n", "   \n", "# measured 2024\n\n", "sep=,\n\n", "sep=,\n# notes\n\n\n",
])
@pytest.mark.parametrize("header, names", [
    ("450,500,550", ["450", "500", "550"]),
    ("x,y,z", ["x", "y", "z"]),
    ('"4\n50",500,"5\r\n50"', ["4\n50", "500", "5\r\n50"]),
])
def test_the_header_is_never_read_as_data_whatever_stands_above_it(
        tmp_path, reader, above, header, names):
    # Blank lines above the header, and names with line breaks in quotes, take
    # lines that every parser must skip with the header: a header of numbers
    # once came back as a first row of data, one row too many.
    path = _write(tmp_path, above + header + "\n" + _text(X.tolist()))
    table = reader(path, header=True)
    assert table.names == names
    assert_array_equal(table.data, X)


def _labelled_rows(first=None):
    rng = np.random.default_rng(3)
    rows = [f"{rng.integers(0, 4)},{rng.normal(5 * (i % 2), 1):.4f},{rng.normal(5 * (i % 2), 1):.4f},"
            f"{'cat' if i % 2 else 'dog'}" for i in range(60)]
    if first is not None:
        rows[0] = first
    return "\n".join(rows) + "\n"


def test_a_headerless_file_with_a_label_column_is_noted_and_never_guessed(tmp_path):
    # Its first row is names by the rule (a field is text), but only the label
    # column holds text, as in every row below: the row may be data.
    path = _write(tmp_path, _labelled_rows("1,0.5,3,dog"))
    table = read_csv(path, columns=["0", "2"])
    assert table.data.shape == (59, 2)
    assert len(table.doubts) == 1 and "--header no" in table.doubts[0]
    assert table.doubts[0] in table.notes
    # '1' names column 0 and indexes column 1: refused, not guessed
    with pytest.raises(ValueError, match="both the name of its column 0 and the index of its column 1"):
        read_csv(path, columns=["1", "2"])
    assert read_csv(path, columns=["1", "2"], header=False).data.shape == (60, 2)
    assert read_csv(path, columns=["1", "2"], header=True).names == ["1", "3"]
    # reading the label column too: the error says that the first row may be data
    with pytest.raises(ValueError, match="non-numeric value 'cat'.*looks like a row of data"):
        read_csv(path)


@pytest.mark.parametrize("first, cell", [("1.5%,2.0", "1.5%"), ("$3.00,2.0", "$3.00"),
                                         ('"1,000",2.0', "1,000"), ("1.5,2.0 %", "2.0 %"),
                                         ("(1.5),2.0", "(1.5)"), ("\u22121.5,2.0", "\u22121.5"),
                                         ('"3,00 \u20ac",2.0', "3,00 \u20ac"),
                                         ("1.5%,2.0%", "1.5%"), ("$3.00,$4.00", "$3.00"),
                                         ("\xa01.5,2.0", "\xa01.5"), ("1.5,2.0\u3000", "2.0\u3000")])
@pytest.mark.parametrize("rows", [1, 30])
def test_a_first_row_of_numbers_written_with_signs_is_noted_as_data(tmp_path, first, cell, rows):
    # One field is text only by its sign or digit groups: the row read as names
    # is a row of data left out, which the note says, with both fixes.
    body = "".join(f"{1 + i / 10:.1f},{2 + i / 10:.1f}\n" for i in range(rows))
    table = read_csv(_write(tmp_path, first + "\n" + body))
    assert table.data.shape == (rows, 2)
    assert len(table.doubts) == 1
    assert "--header no" in table.doubts[0] and "write it plainly" in table.doubts[0]
    assert repr(cell) in table.doubts[0]  # as the file has it
    with pytest.raises(ValueError, match=re.escape(repr(cell))):  # read as data: refused
        read_csv(table_path := _write(tmp_path, first + "\n" + body, "b.csv"), header=False)
    assert read_csv(table_path, header=True).doubts == []


@pytest.mark.parametrize("rows", [
    ["1,5;2,5", "3,5;4,5", "5,5;6,5"],  # a spreadsheet's of a locale of decimal commas
    ["$1.50,$2.00", "$3.00,$4.00", "$5.00,$6.00"],
    ["1.5%,2%", "3%,4%", "5%,6%"],
    ['"1,234.5","2,000.5"', '"3,234.5","4,000.5"', '"5,234.5","6,000.5"'],
])
def test_a_first_row_in_the_notation_of_every_row_below_is_noted_as_data(tmp_path, rows):
    """A first row of numbers written with a decimal comma, signs or digit groups is taken
    for names, and was noted as maybe data only beside a column of plain numbers: where
    every column is written so, the error named the first row's field as a column
    ('3,5' on line 2 (data row 1), column 1 ('1,5')) and its fix, with pandas' header=0,
    left the row out again. The note says that the row may be data, and --header no reads
    it so, in the error's fix too."""
    path = _write(tmp_path, "\n".join(rows) + "\n")
    cell = next(csv.reader([rows[0]], delimiter=";" if ";" in rows[0] else ","))[0]
    with pytest.raises(ValueError, match=r"on line 2 \(data row 1\).*Note: .*its first row "
                                         r".* looks like a row of data.*--header no") as error:
        read_csv(path)
    assert repr(cell) in str(error.value).split("Note: ")[1]
    with pytest.raises(ValueError, match=rf"{re.escape(repr(cell))} on line 1 \(data row 1\)"):
        read_csv(path, header=False)


@pytest.mark.parametrize("header", ["x,y", "0-4,5-9", "2019,x", "n (%),y", "0,10.0.0.1",
                                    "1,2.3.2020", "1,1.0.1"])
def test_names_that_are_no_decorated_numbers_are_not_doubted(tmp_path, header):
    table = read_csv(_write(tmp_path, header + "\n1,2\n3,4\n5,6\n"))
    assert table.doubts == [] and table.data.shape == (3, 2)


@pytest.mark.parametrize("header", ["a,b,c,label", "n,2019,2020,label", "2,x,y,z"])
def test_real_headers_beside_a_label_column_are_not_doubted(tmp_path, header):
    path = _write(tmp_path, header + "\n" + _labelled_rows())
    table = read_csv(path, columns=[0, 1, 2])
    assert table.doubts == [] and table.data.shape == (60, 3)


@pytest.mark.parametrize("field, read_as", [
    ("9007199254740993", "9007199254740992"),  # 2**53 + 1
    ("-9007199254740995", "-9007199254740996"),
    ("1234567890123456789", "1234567890123456768"),
    (" 18446744073709551615 ", "18446744073709551616"),  # beyond int64 too
    ('"9007199254740993"', "9007199254740992"),  # quoted
])
@pytest.mark.parametrize("missing", [False, True])
def test_whole_numbers_that_float64_rounds_are_refused(tmp_path, reader, field, read_as, missing):
    """A whole number beyond 2**53 that float64 would round (a 19-digit identifier) is named
    with its place and what it would read as, by every parser, with or without missing
    values; whole numbers that float64 holds and other numbers that large are read."""
    content = f"id,x\n1,0.5\n{field},1.5\n{'' if missing else 3},2.5\n"
    with pytest.raises(ValueError, match="float64 cannot hold") as info:
        reader(_write(tmp_path, content), missing=missing)
    message = str(info.value)
    assert f"{field.strip().strip(chr(34))!r} on line 3 (data row 2), column 1 ('id')" in message
    assert f"read as {read_as};" in message and "--columns x" in message
    held = "id,x\n9007199254740992,1\n1152921504606846976,2\n-9007199254740993.0,3\n1e300,4\n"
    data = reader(_write(tmp_path, held, "held.csv")).data
    assert_array_equal(data[:, 0], [2.0**53, 2.0**60, -(2.0**53), 1e300])


@pytest.mark.parametrize("content", [
    "x,y\n1e+20,2.5\n-3.25e+18,1\n",  # floats beyond 2**53
    "x,y\n12345678901234568,1\n9007199254740992,2\n",  # whole numbers float64 holds (%.17g)
    "x,y\n0.12345678901234567890,1\n1.2345678901234567890e+20,2\n",  # long fractions
    "x,y\r1e+20,12345678901234568\r",  # lines ended by CR alone
])
def test_large_numbers_that_float64_holds_take_no_field_by_field_pass(
        tmp_path, monkeypatch, reader, content):
    """The file's fields are looked at one by one for a whole number that float64 rounds only
    where one may be written (a run of 16 digits or more that float64 rounds): a file of
    values beyond 2**53 written as floats, or as whole numbers float64 holds, is read by its
    parser alone, as a file of small values is."""
    expected = np.loadtxt(io.StringIO(content.replace("\r", "\n")), delimiter=",", skiprows=1,
                          ndmin=2)
    small = content.split("\n" if "\n" in content else "\r")[0] + "\n1,2\n3,4\n"
    passes = []
    rows = _tables._rows
    monkeypatch.setattr(_tables, "_rows", lambda *args, **kw: passes.append(1) or rows(*args, **kw))
    reader(_write(tmp_path, small, "small.csv"))
    of_small, passes[:] = len(passes), []
    assert_array_equal(reader(_write(tmp_path, content)).data, expected)
    assert len(passes) == of_small


def test_whole_numbers_that_float64_rounds_are_refused_in_parquet_files(tmp_path):
    """Integer columns (also with nulls, which pyarrow turns into float64) and decimal ones of
    scale 0 of a parquet file: a value beyond 2**53 that float64 would round is named."""
    pa = pytest.importorskip("pyarrow")
    import decimal

    import pyarrow.parquet as pq

    big = 2**53 + 1
    columns = {
        "int64": pa.array([1, big, 3], pa.int64()),
        "int64 with nulls": pa.array([1, big, None], pa.int64()),
        "uint64": pa.array([1, 2**64 - 1, 3], pa.uint64()),
        "decimal": pa.array([decimal.Decimal(1), decimal.Decimal(big), decimal.Decimal(3)],
                            pa.decimal128(20, 0)),
    }
    x = pa.array([0.5, 1.5, 2.5])
    for kind, column in columns.items():
        path = str(tmp_path / "ids.parquet")
        pq.write_table(pa.table({"id": column, "x": x}), path)
        with pytest.raises(ValueError, match="float64 cannot hold") as info:
            _tables.read_parquet(path, missing=True)
        assert "in row 2 of column 'id'" in str(info.value) and "--columns x" in str(info.value), kind
    pq.write_table(pa.table({"id": pa.array([1, 2**53, 2**60], pa.int64()), "x": x}), path)
    assert_array_equal(_tables.read_parquet(path).data[:, 0], [1, 2**53, 2**60])


@pytest.mark.parametrize("names", [["a", "b"], ["weight, kg", "h"], ['say "hi", x', "h"],
                                   ['say "hi"', "it's"], ["a b", "1"], ["-x", "y"],
                                   ["-1", "0"], ["-a b", "c"]])
def test_the_columns_option_in_a_message_selects_those_columns(names):
    # the fix a message gives, pasted into a shell, reads back as the same columns; one
    # that starts with '-' is joined with '=', where argparse took it for an option
    import shlex

    from fastem.cli import _column_tokens, build_parser

    option = shlex.split(_tables._columns_option(names))
    args = build_parser().parse_args(["fit", "d.csv", "-k", "2", "-o", "m.npz", *option])
    assert _column_tokens(args.columns, None) == names


@pytest.mark.parametrize("value", ["nan(1)", "-nan(0x7)"])
@pytest.mark.parametrize("missing", [False, True])
def test_text_that_only_pyarrow_reads_as_nan_is_refused(tmp_path, value, missing):
    # pandas reads it as text, and so does the csv module's pass: a missing value is one of
    # pandas' markers, with or without missing, whichever parser reads the file
    path = tmp_path / "d.csv"
    path.write_text(f"a,b\n1.5,2\n{value},3\n4,5\n")
    with pytest.raises(ValueError, match=re.escape(f"non-numeric value {value!r} on line 3")):
        _tables.read_csv(path, missing=missing)


@pytest.mark.parametrize("values, count, row", [([1.0, np.nan, None, 3.0], 2, 2),
                                                ([1.0, None, np.nan, np.nan], 3, 2)])
def test_a_parquet_column_s_missing_values_count_its_nan_beside_its_nulls(tmp_path, values,
                                                                         count, row):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"a": pa.array(values), "b": [1.0, 2.0, 3.0, 4.0]}), path)
    with pytest.raises(ValueError, match=re.escape(
            f"has {count} missing value(s) in column 'a', the first in row {row};")):
        _tables.read_parquet(path)


def _reordered(kind, tmp_path, X):
    """X with columns 'b', 'a' as the data ``kind`` of a prediction."""
    pd = pytest.importorskip("pandas")
    import fastem

    frame = pd.DataFrame(X[:, ::-1], columns=["b", "a"])
    if kind == "frame":
        return frame
    if kind == "frame chunks":
        return fastem.Chunks([frame[:100], frame[100:]])
    if kind.startswith(("arrow", "record batch")):
        pa = pytest.importorskip("pyarrow")
        table = pa.Table.from_pandas(frame, preserve_index=False)
        if kind.startswith("record batch"):
            table = table.to_batches()[0]
        return fastem.Chunks([table[:100], table[100:]]) if kind.endswith("chunks") else table
    path = tmp_path / f"part.{kind}"
    if kind == "csv":
        frame.to_csv(path, index=False)
    else:
        pytest.importorskip("pyarrow")
        frame.to_parquet(path)
    return fastem.Chunks([path])


@pytest.mark.parametrize("kind, fix", [
    ("frame", "X[['a', 'b']]"),
    ("frame chunks", "chunk[['a', 'b']] for each chunk"),
    ("arrow", "X.select(['a', 'b'])"),
    ("record batch", "X.select(['a', 'b'])"),
    ("arrow chunks", "chunk.select(['a', 'b']) for each chunk"),
    ("record batch chunks", "chunk.select(['a', 'b']) for each chunk"),
    ("csv", "fastem.Chunks(paths, columns=['a', 'b']) for its files"),
    ("parquet", "fastem.Chunks(paths, columns=['a', 'b']) for its files"),
])
def test_columns_in_another_order_are_selected_as_the_data_selects_them(tmp_path, kind, fix):
    """The fix for data whose columns are those of fit in another order was X[...] for
    every kind of data: a Chunks of files selects them with columns=, each DataFrame chunk
    on its own, an Arrow table with select (X[[...]] raises TypeError)."""
    pd = pytest.importorskip("pandas")
    import fastem

    X = np.random.default_rng(0).normal(size=(200, 2))
    model = fastem.GaussianMixture(2, random_state=0).fit(pd.DataFrame(X, columns=["a", "b"]))
    with pytest.raises(ValueError, match="in the same order") as info:
        model.predict(_reordered(kind, tmp_path, X))
    assert str(info.value).endswith(f"Select the columns of fit, in order: {fix}.")
    if kind in ("csv", "parquet"):  # the fix works
        assert_array_equal(np.concatenate(model.predict(fastem.Chunks(
            [tmp_path / f"part.{kind}"], columns=["a", "b"]))),
            model.predict(pd.DataFrame(X, columns=["a", "b"])))


@pytest.mark.parametrize("kind", ["csv", "parquet"])
@pytest.mark.parametrize("token", [True, 1.0, np.float64(0.0), None, b"a"])
def test_columns_that_are_neither_names_nor_indices_are_refused_by_chunks(tmp_path, kind, token):
    """A column token of another type (a bool, a float, None, bytes) raised AttributeError
    ("'bool' object has no attribute 'strip'") from the first pass over the data."""
    import fastem

    path = tmp_path / f"part.{kind}"
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    if kind == "csv":
        frame.to_csv(path, index=False)
    else:
        pytest.importorskip("pyarrow")
        frame.to_parquet(path)
    with pytest.raises(TypeError, match=re.escape(
            f"columns entries must be column names (str) or 0-based indices (int), got {token!r} "
            f"of type {type(token).__name__}")):
        fastem.Chunks([path], columns=["a", token])
    # names and indices of every integer type are taken
    chunks = fastem.Chunks([path], columns=["c", np.int64(0), 1])
    model = fastem.GaussianMixture(1).fit(chunks)
    assert_array_equal(model.feature_names_in_, ["c", "a", "b"])


NFC, NFD = "caf\u00e9", "cafe\u0301"  # 'café' as most systems write it, and as macOS does


def table_file(path, names, values):
    frame = pd.DataFrame(values, columns=names)
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        pytest.importorskip("pyarrow")
        frame.to_parquet(path)
    return path


@pytest.mark.parametrize("ext", [".csv", ".parquet"])
@pytest.mark.parametrize("token, other", [(NFC, NFD), (NFD, NFC), ("b", " b")])
def test_chunks_name_a_column_chosen_by_name_as_chosen_in_every_file(tmp_path, ext, token,
                                                                     other):
    """Files that write a chosen name otherwise (another Unicode normal form, spaces around
    it) were found, then refused: "chunk 1 has the columns ['a', 'café'] but chunk 0 has
    ['a', 'café']"."""
    import fastem

    paths = [table_file(tmp_path / f"part-0{ext}", ["a", token], X[:300, :2]),
             table_file(tmp_path / f"part-1{ext}", [other, "a"], X[300:, 1::-1])]
    chunks = fastem.Chunks(paths, columns=["a", token])
    model = fastem.GaussianMixture(1).fit(chunks)
    assert_array_equal(model.feature_names_in_, ["a", token])
    assert_allclose(model.means_[0], X[:, :2].mean(axis=0), rtol=1e-12)
    other_model = fastem.GaussianMixture(1).fit(fastem.Chunks(paths[::-1], columns=["a", other]))
    assert_array_equal(other_model.feature_names_in_, ["a", other])
    assert_array_equal(np.concatenate(model.predict(chunks)), np.zeros(600))


@pytest.mark.parametrize("kind", ["frame", "chunks of frames", "csv", "parquet"])
def test_names_written_otherwise_are_named_in_the_error(tmp_path, kind):
    """Names that look the same in an error ("Feature names unseen at fit time: - café ...
    seen at fit time, yet now missing: - café") are shown as written."""
    import fastem

    frames = [pd.DataFrame(X[:300, :2], columns=["a", NFC]),
              pd.DataFrame(X[300:, :2], columns=["a", NFD])]
    if kind == "frame":
        model = fastem.GaussianMixture(1).fit(frames[0])
        call, data, where = model.predict, frames[1], "fit"
    elif kind == "chunks of frames":
        call, data, where = fastem.GaussianMixture(1).fit, fastem.Chunks(frames), "chunk 0"
    else:
        paths = [table_file(tmp_path / f"part-{i}.{kind}", f.columns, f.to_numpy())
                 for i, f in enumerate(frames)]
        call, data, where = fastem.GaussianMixture(1).fit, fastem.Chunks(paths), "chunk 0"
    with pytest.raises(ValueError, match=re.escape(
            f"Some names are written otherwise than in {where} (spaces around them, or "
            "another Unicode normal form of the same letters): 'cafe\\u0301' for 'caf\\xe9'; "
            f"rename them as in {where}.")):
        call(data)


@pytest.mark.parametrize("kind, fix", [
    ("frame", "chunk[['a', 'b']] for each chunk"),
    ("arrow", "chunk.select(['a', 'b']) for each chunk"),
    ("csv", "fastem.Chunks(paths, columns=['a', 'b']) for its files"),
    ("parquet", "fastem.Chunks(paths, columns=['a', 'b']) for its files"),
])
def test_chunks_in_another_order_are_selected_as_the_chunks_select_them(tmp_path, kind, fix):
    """Chunks whose columns are those of chunk 0 in another order were told to select
    them with chunk[[...]], which a Chunks of files and an Arrow table do not take."""
    import fastem

    frames = [pd.DataFrame(X[:300, :2], columns=["a", "b"]),
              pd.DataFrame(X[300:, 1::-1], columns=["b", "a"])]
    if kind == "arrow":
        pa = pytest.importorskip("pyarrow")
        chunks = fastem.Chunks([pa.Table.from_pandas(f, preserve_index=False) for f in frames])
    elif kind == "frame":
        chunks = fastem.Chunks(frames)
    else:
        chunks = fastem.Chunks([table_file(tmp_path / f"part-{i}.{kind}", f.columns, f.to_numpy())
                                for i, f in enumerate(frames)])
    with pytest.raises(ValueError, match="in the same order") as info:
        fastem.GaussianMixture(1).fit(chunks)
    assert str(info.value).endswith(f"Select them, e.g. {fix}.")


@pytest.mark.parametrize("kind", ["array", "frame", "npy", "parquet"])
@pytest.mark.parametrize("header", [True, False])
def test_chunks_refuse_a_header_with_no_csv_file_to_apply_to(tmp_path, kind, header):
    """header= was ignored, without a word, where no chunk is a .csv file: header=False
    for the first row of a parquet file, which has its names apart, still read its names."""
    import fastem

    frame = pd.DataFrame(X[:, :2], columns=["a", "b"])
    chunk = {"array": X[:, :2], "frame": frame}.get(kind, tmp_path / f"part.{kind}")
    if kind == "npy":
        np.save(chunk, X[:, :2])
    elif kind == "parquet":
        pytest.importorskip("pyarrow")
        frame.to_parquet(chunk)
    with pytest.raises(ValueError, match=re.escape(
            f"header={header!r} says whether the first row of a .csv file holds column names, "
            "but no chunk is a .csv file")):
        fastem.Chunks([chunk], header=header)
    named = kind in ("frame", "parquet")
    frame.to_csv(tmp_path / "part.csv", index=False, header=named)
    mixed = fastem.Chunks([chunk, tmp_path / "part.csv"], header=named)  # it applies to the .csv
    assert fastem.GaussianMixture(1).fit(mixed).n_features_in_ == 2


_STRAY_QUOTE = ['name,a,b', 'x,1.5,2', '"y,3,4', 'z,5,6', 'w,7,8', '"v,9,10', 'u,11,12']


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
def test_rows_that_an_open_quote_joins_into_a_field_are_noted(tmp_path, reader, encoding, end):
    """A quote that opens a field of text and is closed lines below makes the rows between
    one field, as pandas and every CSV reader read it: 6 rows read as 3, without a word."""
    path = _write(tmp_path, end.join(_STRAY_QUOTE + [""]).encode(encoding))
    table = reader(path, ["a", "b"], missing=True)
    assert_array_equal(table.data, [[1.5, 2], [9, 10], [11, 12]])
    assert len(pd.read_csv(path, encoding=encoding)) == 3  # pandas reads the same
    note = (f"{path!r} has a quoted field on lines 3 to 6 (data row 2, column 1 ('name')) that "
            "holds 3 line(s) that read as rows of the table (line 3: 'y,3,4'), which are read "
            "as text in that field, not as rows: a quote that opens a field and is not closed "
            "where the field ends joins the lines below into that field: remove that quote, or "
            "close it")
    assert [n for n in table.notes if "quoted field" in n] == [
        n for n in table.doubts if "quoted field" in n]
    assert table.doubts[0].startswith(note)


@pytest.mark.parametrize("content", [
    'name,a,b\n"x\ny",1,2\n"a, b\nc, d",3,4\n\n\n',  # text with line breaks: no rows in it
    'name,a,b\n"x",1,2\n"y",3,4\n',  # quoted, on one line
    '"a","b"\n1,2\n3,4\n\n',  # a quoted header
])
def test_fields_of_several_lines_that_hold_no_rows_take_no_note(tmp_path, reader, content):
    table = reader(_write(tmp_path, content), ["a", "b"])
    assert table.data.shape == (2, 2) and table.notes == table.doubts == []


def test_chunks_warn_of_rows_joined_into_a_field(tmp_path):
    import fastem

    path = _write(tmp_path, "\n".join(_STRAY_QUOTE) + "\n")
    with pytest.warns(UserWarning, match="line 3: 'y,3,4'"):
        model = fastem.GaussianMixture(1).fit(fastem.Chunks([path], columns=["a", "b"]))
    assert model.n_features_in_ == 2


def test_a_quote_left_open_to_the_end_of_the_file_is_named(tmp_path, reader):
    path = _write(tmp_path, "name,a,b\nx,1,2\n\"y,3,4\nz,5,6\n")
    with pytest.raises(ValueError, match=re.escape(
            "line 3 has 1 field(s) but the first row has 3; every row needs the same number "
            "of fields, separated by ',' (its field 1 opens a quote on line 3 that runs to "
            "line 4: a quote that opens a field and is not closed")):
        reader(path, ["a", "b"])


@pytest.mark.parametrize("end", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("header", [True, False])
def test_blank_lines_between_the_rows_of_one_column_are_noted(tmp_path, reader, end, header):
    """A spreadsheet saves an empty cell of a column alone as a blank line, which every
    reader skips, as pandas does: the rows below move up, without a word."""
    lines = ["1.5", "", "2.5", "  ", "", "3.5", "", ""]  # blank lines at the end: no rows
    path = _write(tmp_path, end.join((["x"] if header else []) + lines))
    table = reader(path, missing=True)
    assert_array_equal(table.data, [[1.5], [2.5], [3.5]])
    first = 3 if header else 2
    assert [n for n in table.notes if "blank line" in n] == table.doubts == [
        f"{path!r} has 3 blank line(s) between its rows (line {first}, ...), which are "
        "skipped, as pandas skips them; in a file of one column a blank line may be a missing "
        "value (a spreadsheet's empty cell): write those as NA, or \"\", to read them as "
        "missing values, or remove the lines"]


@pytest.mark.parametrize("content", [
    "x\n1.5\n2.5\n\n\n",  # at the end
    "\n\nx\n1.5\n2.5\n",  # above the header
    "\n1.5\n2.5\n",  # above the first row
    'x\n1.5\n""\n2.5\n',  # a quoted empty field: a missing value
    "x,y\n1.5,1\n\n2.5,2\n",  # two columns: a blank line is no row
])
def test_blank_lines_that_are_no_row_take_no_note(tmp_path, reader, content):
    table = reader(_write(tmp_path, content), missing=True)
    assert table.notes == table.doubts == []


@pytest.mark.parametrize("lines, joined", [
    (['a,b,name', '1,2,x', '3,4,"y', '5,6,z"', '9,10,v'], [4]),  # text in the last column
    (['a,b,name', '1,2,x', '3,4,"y', '5,6,z', '7,8,w"', '9,10,v'], [4, 5]),
    (['name,a,b', 'x,1,2', '"y,3,4', 'w",7,8', 'v,9,10'], [3]),  # as in the first
])
def test_rows_joined_into_a_field_that_ends_the_record_are_noted(tmp_path, reader, lines,
                                                                 joined):
    """The last line of a quoted field that ends its record is a whole line of the file, as
    the first line of one that starts its record is: a row joined there is noted too."""
    path = _write(tmp_path, "\n".join(lines) + "\n")
    table = reader(path, ["a", "b"], missing=True)
    assert len(table.data) == len(pd.read_csv(path)) == len(lines) - 1 - len(joined)
    [note] = [n for n in table.doubts if "quoted field" in n]
    assert f"holds {len(joined)} line(s) that read as rows of the table (line {joined[0]}: " \
        in note


def test_only_rows_of_several_lines_are_split_into_lines(tmp_path, monkeypatch):
    """A file with a field of several lines is searched for rows joined into a field: its
    fields of one line hold none, and splitting them all cost several times the read."""
    lines = ['"name","a","b"', '"x\ny",0.5,1'] + [f'"r{i}",{i},{i + 1}' for i in range(300)]
    path = _write(tmp_path, "\n".join(lines) + "\n")
    split = []

    class Counted:
        def split(self, text):
            split.append(text)
            return re.split("\r\n|\r|\n", text)

    monkeypatch.setattr(_tables, "_LINE_BREAK", Counted())
    table = read_csv(path, ["a", "b"])
    assert table.data.shape == (301, 2) and table.doubts == []
    assert split == ["x\ny", "0.5", "1"]  # the fields of the row of two lines only


@pytest.mark.parametrize("end", ["\n", "\r\n"])
def test_a_field_open_to_the_end_of_the_file_is_noted_on_the_lines_it_spans(tmp_path, reader,
                                                                             end):
    """A quote left open in the last column runs to the end of the file: the field ends on
    the file's last line, not on the line after it."""
    path = _write(tmp_path, end.join(["a,b,name", "1,2,x", '3,4,"y', "5,6,z", ""]))
    table = reader(path, ["a", "b"])
    assert_array_equal(table.data, [[1, 2], [3, 4]])
    [note] = table.doubts
    assert "has a quoted field on lines 3 to 4 (data row 2, column 3 ('name'))" in note


@pytest.mark.parametrize("content, value, runs", [
    ('name,a,b\nx,1,2\ny,3,"4\nz,5,6\n', "'4\\nz,5,6'", 4),  # open to the end of the file
    ('x\n1\n"2\n3\n4"\n5\n', "'2\\n3\\n4'", 5),  # not numbers separated by spaces
])
def test_a_value_that_a_quote_runs_over_several_lines_is_named_so(tmp_path, reader, content,
                                                                   value, runs):
    with pytest.raises(ValueError, match=re.escape(
            f"has {value} on line 3 (data row 2), column ") + r".*" + re.escape(
            f"a quoted field that runs to line {runs}; if its quote was left open, a quote "
            "that opens a field and is not closed")) as info:
        reader(_write(tmp_path, content), ["a", "b"] if "name" in content else None)
    assert "savetxt" not in str(info.value)


@pytest.mark.parametrize("blank", ["\t", " \t ", "\t\t"])
@pytest.mark.parametrize("header", [True, False])
def test_lines_of_tabs_between_the_rows_of_one_column_are_noted(tmp_path, reader, blank,
                                                                header):
    """A line of a tab (a spreadsheet's empty cell, saved as text) in a file of one column
    is a blank line, as pandas reads it: it made the tab the delimiter of the file, and
    its line a row of two fields, refused as a title above the rows."""
    lines = ["1.5", blank, "2.5", "3.5", blank]
    path = _write(tmp_path, "\n".join((["x"] if header else []) + lines) + "\n")
    table = reader(path, missing=True)
    assert_array_equal(table.data, [[1.5], [2.5], [3.5]])
    expected = pd.read_csv(path, header=0 if header else None).to_numpy()
    assert_array_equal(table.data, expected)
    [note] = table.doubts
    assert f"has 1 blank line(s) between its rows (line {3 if header else 2})" in note


@pytest.mark.parametrize("lines, joined", [
    (['a,name,b', '1,x,2', '3,"y,4', '5,z",6', '7,w,8'], [3, 4]),
    (['a,name,b', '1,x,2', '3,"y,4', '5,z,6', '7,w",8', '9,v,10'], [3, 4, 5]),
    (['"a","name","b"', '1,"x",2', '3,"y,4', '5,z",6', '7,"w",8'], [3, 4]),
])
def test_rows_joined_into_a_field_between_others_are_noted(tmp_path, reader, lines, joined):
    """A quote left open in a column between others joins its line and the next into one
    row, which takes its first values from the one and its last from the other: two rows
    read as one, without a word, where a quote in the first or last column is noted."""
    path = _write(tmp_path, "\n".join(lines) + "\n")
    table = reader(path, ["a", "b"], missing=True)
    assert len(table.data) == len(pd.read_csv(path)) == len(lines) - len(joined)
    [note] = [n for n in table.doubts if "quoted field" in n]
    assert f"holds {len(joined)} line(s) that read as rows of the table (line {joined[0]}: " \
        in note


@pytest.mark.parametrize("parser", ["pyarrow", "numpy"])
def test_a_fit_over_chunks_of_a_csv_file_scans_it_once(tmp_path, monkeypatch, parser):
    """The scans of a file's lines below its header (for rows that a quote or a blank line
    hides, for spaces that numpy.loadtxt strips) read the whole file: a fit over Chunks that
    reads the file on every pass scans it on its first only, and a changed file again."""
    import fastem

    if parser == "pyarrow":
        pytest.importorskip("pyarrow")
    else:
        monkeypatch.setattr(_tables, "_read_with_pyarrow", lambda layout: None)
    monkeypatch.setattr(_tables, "_SETTLED", 0, raising=False)  # a file written just now
    scans = []
    for name in ("_lines_below_header", "_other_spaces_below_header"):
        def counted(layout, *args, _scan=getattr(_tables, name), **kwargs):
            scans.append(layout.path)
            return _scan(layout, *args, **kwargs)
        monkeypatch.setattr(_tables, name, counted)
    path = _write(tmp_path, "x,y\n" + _text(X[:200, :2]))
    model = fastem.GaussianMixture(2, max_iter=5, tol=0, random_state=0)
    with pytest.warns(fastem.ConvergenceWarning):  # 5 passes, at least
        model.fit(fastem.Chunks([path]))
    first = len(scans)
    assert 1 <= first <= 2  # one scan of each kind, for all passes
    model.score(fastem.Chunks([path]))
    assert len(scans) == first
    _write(tmp_path, "x,y\n" + _text(X[:200, :2] + 1))  # the same size, another file
    os.utime(path, ns=(1, 1))  # and such times as a copy's
    model.score(fastem.Chunks([path]))
    assert len(scans) == 2 * first


@pytest.mark.parametrize("index", ["range", "filtered", "whole floats"])
def test_an_unnamed_first_column_of_row_labels_is_left_out_without_a_warning(tmp_path, index):
    frame = pd.DataFrame(X[:60], columns=["a", "b", "c"])
    if index == "filtered":
        frame = frame.iloc[::3]
    elif index == "whole floats":
        frame.index = frame.index.astype(float)
    path = str(tmp_path / "frame.csv")
    frame.to_csv(path)
    table = read_csv(path)
    assert table.names == ["a", "b", "c"] and not table.doubts
    assert "the row index that pandas writes" in table.notes[0]
    model = GaussianMixture(1).fit(Chunks([path]))  # warnings are errors
    assert list(model.feature_names_in_) == ["a", "b", "c"]


def test_an_unnamed_first_column_of_numbers_that_are_no_row_labels_gets_a_doubt(tmp_path):
    """A first column without a name is left out as the row index that pandas writes; when
    it holds numbers with a fraction, no row labels, it may be a feature whose name is
    missing: the note says so, on the command line and as Chunks' UserWarning (before, the
    column was left out as the index in Chunks without a word)."""
    frame = pd.DataFrame(X[:60], columns=["", "b", "c"])
    path = str(tmp_path / "frame.csv")
    frame.to_csv(path, index=False)
    table = read_csv(path)
    assert table.names == ["b", "c"]
    assert len(table.doubts) == 1 and table.doubts[0] in table.notes
    assert "holds numbers that are not row labels" in table.doubts[0]
    with pytest.warns(UserWarning, match=r"fastem: note: .* starts with an unnamed column, "
                                         r"which is read as the row index .* If it is a "
                                         r"feature, give it a name in the file's header"):
        GaussianMixture(1).fit(Chunks([path]))


def test_unnamed_index_levels_of_numbers_that_are_no_row_labels_get_a_doubt(tmp_path):
    """Of several unnamed first columns, left out as the levels of the row index that pandas
    writes, one that holds numbers with a fraction may be a feature whose name is missing:
    the note says which, as Chunks' UserWarning (it was left out without a word)."""
    path = str(tmp_path / "frame.csv")
    with open(path, "w") as f:
        f.write(",,b\n" + "".join(f"{i},{x:.3f},{y:.3f}\n" for i, (x, y) in enumerate(X[:30, :2])))
    table = read_csv(path)
    assert table.names == ["b"]
    assert len(table.doubts) == 1 and table.doubts[0] in table.notes
    assert "column(s) 2 (1-based) hold numbers that are not row labels" in table.doubts[0]
    with pytest.warns(UserWarning, match=r"fastem: note: .* starts with 2 unnamed columns, "
                                         r"read as the levels of the row index .* If they are "
                                         r"features, give them names in the file's header"):
        GaussianMixture(1).fit(Chunks([path]))
    frame = pd.DataFrame(X[:30], columns=["a", "b", "c"])
    frame.index = pd.MultiIndex.from_arrays([np.arange(30) % 3, np.arange(30)])
    frame.to_csv(path)
    assert not read_csv(path).doubts  # whole numbers: row labels, as pandas writes them



DECORATED = [  # a number as a spreadsheet or a report writes it, the number, what the error says
    ("12%", 12, "a percent sign"),
    ("-12.5 %", -12.5, "a percent sign"),
    ("12,5%", 12.5, "a percent sign .* and a decimal comma"),
    ("$1,234.50", 1234.5, r"a currency sign \('\$'\) and commas between its digit groups"),
    ("\u20ac3", 3, "a currency sign"),
    ("1.234,50 \u20ac", 1234.5, "points between its digit groups and a decimal comma"),
    ("1 234,50 \u20ac", 1234.5, "spaces between its digit groups and a decimal comma"),
    ("(12.5)", -12.5, "an accountant's brackets for a negative number"),
    ("($1,234.50)", -1234.5, "an accountant's brackets"),
    ("\u2212$5", -5, "U\\+2212 MINUS SIGN for its minus sign"),
    ("3.2kg", 3.2, r"a unit \('kg'\)"),
    ("20 \u00b0C", 20, r"a unit \('\u00b0C'\)"),
]


@pytest.mark.parametrize("value, number, what", DECORATED)
@pytest.mark.parametrize("layout", ["header", "no header", "semicolons and a note"])
def test_a_decorated_number_is_named_with_a_pandas_call_that_reads_it(
        tmp_path, value, number, what, layout):
    """A number written with a currency or percent sign, an accountant's brackets or a unit
    is named so, with its place and the pandas call that reads its column (before, a
    'non-numeric value' without a fix)."""
    delimiter = ";" if layout == "semicolons and a note" else ","
    field = f'"{value}"' if delimiter in value else value
    rows = [["1.5", "2"], ["3", field], ["4", "5"]]
    if layout != "no header":
        rows.insert(0, ["a", "b"])
    text = "".join(delimiter.join(row) + "\n" for row in rows)
    if layout == "semicolons and a note":
        text = "# prices\n" + text
    path = _write(tmp_path, text)
    line = {"header": 3, "no header": 2, "semicolons and a note": 4}[layout]
    column = "column 2:" if layout == "no header" else "column 2 \\('b'\\):"
    with pytest.raises(ValueError, match=rf"{re.escape(repr(value))} on line {line} \(data row "
                                         rf"2\), {column} a number \({number:g}") as error:
        read_csv(path)
    message = str(error.value)
    assert re.search(rf"written with .*{what}", message), message
    fix = re.search(r"with pandas: (df = pd\.read_csv.*?index=False(?:, header=False)?\))",
                    message).group(1)
    new_path = str(tmp_path / "new.csv")
    exec(fix, {"pd": pd, "path": path, "new_path": new_path})
    assert_array_equal(read_csv(new_path).data, [[1.5, 2], [3, number], [4, 5]])


# A number with signs (refused), what it means; another number of its column, what that
# means (None: a number in no notation)
DECORATED_MIXED = [
    ("1.234,50 \u20ac", 1234.5, "2.50 \u20ac", 2.5),
    ("1.234,50 \u20ac", 1234.5, "1.5", 1.5),
    ("1.234,50 \u20ac", 1234.5, "2,50 \u20ac", 2.5),
    ("$1,234.50", 1234.5, "$1,5", 1.5),
    ("$1,234.50", 1234.5, "$2.5", 2.5),
    ("$1,234", 1234, "$1,23", 1.23),
    ("3,00 \u20ac", 3, "1 5 \u20ac", None),
    ("3,00 \u20ac", 3, "2.5", 2.5),
    ("1'234.50 CHF", 1234.5, "1'5 CHF", None),
    ("(1.234,5)", -1234.5, "(2.5)", -2.5),
    ("12%", 12, "0.5%", 0.5),
]


@pytest.mark.parametrize("value, number, other, meant, row, layout", [
    (*case, row, layout) for case in DECORATED_MIXED for row in (0, 2)
    for layout in (";", ",", "\t", "no header", "parquet")
    # a value that fastem refuses is named first; a parquet column, by its first value
    if row == 2 or (_tables._is_number(case[2]) and layout != "parquet")])
def test_the_pandas_steps_for_a_decorated_number_are_not_given_for_a_column_of_mixed_notations(
        tmp_path, value, number, other, meant, row, layout):
    """The pandas steps that an error gives to take the signs and digit groups off a column
    ('1.234,50 \u20ac': remove '\u20ac', '.' and spaces, then ',' for '.') were chosen from
    the one refused value, and silently read another of the column written otherwise as
    another number: '2.50 \u20ac' or '1.5' as 250 or 15, '$1,5' as 15. Where the steps
    would so misread a value of the column, the error names it, with its place, and says
    that the column mixes notations; elsewhere the steps read every value as meant.
    ``row``: the data row (0-based) of ``other``; the refused value is on data row 2."""
    column = ["5", value, "6"]
    column[row] = other
    if layout == "parquet":
        pytest.importorskip("pyarrow")
        path = str(tmp_path / "t.parquet")
        column[0] = None  # the refused value is the column's first
        pd.DataFrame({"a": [1.5, 3, 4], "b": column}).to_parquet(path)

        def read(path):
            return _tables.read_parquet(path, missing=True)
        pattern = (
            r"with pandas: (df = pd\.read_parquet.*?to_parquet\(new_path\))")
        place = rf"{re.escape(repr(other))} on row 3"
    else:
        delimiter = ";" if layout == "no header" else layout
        rows = [["1.5", column[0]], ["3", column[1]], ["4", column[2]]]
        if layout != "no header":
            rows.insert(0, ["a", "b"])
        quote = (lambda v: f'"{v}"' if delimiter in v else v)
        path = _write(tmp_path, "".join(delimiter.join(map(quote, r)) + "\n" for r in rows))
        header = layout != "no header"

        def read(path):
            return read_csv(path, header=header)
        pattern = r"with pandas: (df = pd\.read_csv.*?index=False(?:, header=False)?\))"
        place = (rf"{re.escape(repr(other))} on line {1 + header + row} \(data row {row + 1}\), "
                 "column 2")
    with pytest.raises(ValueError, match=re.escape(repr(value))) as error:
        read(path)
    message = str(error.value)
    fix = re.search(pattern, message)
    if fix is not None:
        new_path = str(tmp_path / ("new.parquet" if layout == "parquet" else "new.csv"))
        exec(fix.group(1), {"pd": pd, "path": path, "new_path": new_path})
        expected = [5 if column[0] else np.nan, number, 6]
        expected[row] = meant
        assert_array_equal(read(new_path).data[:, 1], expected), message
        return
    found = re.search(rf"the column mixes notations: the pandas steps that take those off "
                      rf"would read {place}.* as ([-0-9.e+]+)\. Correct the numbers", message)
    assert found is not None and (meant is None or float(found.group(1)) != meant), message


@pytest.mark.parametrize("mark", ["-", "?", "."])
@pytest.mark.parametrize("spellings", [(" {}", "{}"), ("{}", "{} "), ("{}", "\t{}"),
                                       ("{}", "{}")])
@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("delimiter", [";", ","])
def test_the_pandas_call_for_a_mark_of_a_missing_value_takes_it_with_spaces_around(
        tmp_path, mark, spellings, header, delimiter):
    """fastem reads a field without the spaces around it, and named ' -' as '-', with
    pandas' na_values=['-'], which takes a marker only as written: it kept ' -', and its
    column, as text, which the new file held again. The call lists the mark as each field
    of the file writes it; following it reads every one as a missing value."""
    first, second = (spelling.format(mark) for spelling in spellings)
    rows = [["1", first], ["2", "3"], ["4", second]]
    if header:
        rows.insert(0, ["a", "b"])
    path = _write(tmp_path, "".join(delimiter.join(row) + "\n" for row in rows))
    with pytest.raises(ValueError, match=rf"has {re.escape(repr(mark))} on line {1 + header} "
                                         "\\(data row 1\\), column 2") as error:
        read_csv(path, header=header, missing=True)
    fix = re.search(_RESAVE, str(error.value)).group(0)
    new_path = str(tmp_path / "new.csv")
    exec(fix, {"pd": pd, "path": path, "new_path": new_path})
    assert_array_equal(read_csv(new_path, header=header, missing=True).data,
                       [[1, np.nan], [2, 3], [4, np.nan]])


# The pandas code of an error that saves a CSV file again (its options may call range())
_RESAVE = r"pd\.read_csv\(path, (?:[^()]|\([^()]*\))*\)\.to_csv\(new_path, [^)]*\)"


# Values of a CSV file that fastem refuses with a pandas call that saves the file again as
# numbers: (field, the number the call reads, what the error names it)
RESAVED = [
    ("1,5", 1.5, "a decimal comma"),
    ("1,234.5", 1234.5, "a thousands separator"),
    ("1.234,5", 1234.5, "points between its digit groups"),
    ("1,000", None, "a thousands separator .* or with a decimal comma"),  # two fixes
    ("-", np.nan, "which some data sets write for a missing value"),
]


@pytest.mark.parametrize("value, number, what", RESAVED)
@pytest.mark.parametrize("layout", ["header", "no header", "a note above", "cp1252",
                                    "a delimiter at the end"])
def test_the_pandas_call_that_saves_a_file_again_reads_it_as_fastem_does(
        tmp_path, value, number, what, layout):
    """The pandas call that an error about a number's notation gives reads the file's rows
    as fastem reads them and saves them so: it read a file without a header with pandas'
    header=0, which takes its first row of data for the names (written as the new file's
    header, the row was lost, or its repeated '2' read back as 2.1), and a file with lines
    above its header, or in another encoding than UTF-8, it could not read; the empty
    column of a delimiter at the end of each line, which fastem leaves out, it kept, as a
    column named 'Unnamed: 2' of no value, which the new file could not be fitted with."""
    rows = [["2", "2"], ["3", value], ["4", "5"]]  # whole numbers: in every notation
    if layout != "no header":
        rows.insert(0, ["\u00e9" if layout == "cp1252" else "a", "b"])
    end = ";" if layout == "a delimiter at the end" else ""
    text = "".join(";".join(row) + end + "\n" for row in rows)
    if layout == "a note above":
        text = "sep=;\n# measured 2024; by hand\n" + text
    path = _write(tmp_path, text.encode("cp1252"))
    with pytest.raises(ValueError, match=rf"{re.escape(repr(value))} on line \d+ \(data row "
                                         rf"2\), column 2.*{what}") as error:
        read_csv(path, header=layout != "no header")
    fixes = re.findall(_RESAVE, str(error.value))
    assert len(fixes) == (2 if number is None else 1), str(error.value)
    new_path = str(tmp_path / "new.csv")
    read = []
    for fix in fixes:
        exec(fix, {"pd": pd, "path": path, "new_path": new_path})
        read.append(read_csv(new_path, missing=True).data)
        assert_array_equal(read[-1][[0, 2]], [[2, 2], [4, 5]]), fix
    assert [data[1, 1] for data in read] == ([1000, 1] if number is None else [number]) or (
        np.isnan(number) and np.isnan(read[0][1, 1]))


# A value that fastem refuses, with the pandas keywords of each call its error gives and
# the number that call reads for it; a number elsewhere in the file, and what it means
# (None: a number in no notation)
MIXED = [
    ("1.234,5", {"thousands='.', decimal=','": 1234.5}, "1.5", 1.5),
    ("1.234,5", {"thousands='.', decimal=','": 1234.5}, "2,5", 2.5),
    ("1,234.5", {"thousands=','": 1234.5}, "1,5", 1.5),
    ("1,234.5", {"thousands=','": 1234.5}, "1,23", 1.23),
    ("1,234.5", {"thousands=','": 1234.5}, "2.5", 2.5),
    ("1,5", {"decimal=','": 1.5}, "2.5", 2.5),
    ("1,000", {"thousands=','": 1000, "decimal=','": 1}, "1,5", 1.5),
    ("1,000", {"thousands=','": 1000, "decimal=','": 1}, "2.5", 2.5),
    ("1'234.5", {"thousands=\"'\"": 1234.5}, "1'5", None),
    ("1'234.5", {"thousands=\"'\"": 1234.5}, "2.5", 2.5),
    ("1 234,5", {"thousands=' ', decimal=','": 1234.5}, "2.5", 2.5),
    ("1 234,5", {"thousands=' ', decimal=','": 1234.5}, "1 5", None),
    ("1\u00a0234,5", {"thousands='\\xa0', decimal=',', engine='python'": 1234.5}, "1\u00a05",
     None),
    ("1\u00a0234,5", {"thousands='\\xa0', decimal=',', engine='python'": 1234.5}, "2.5", 2.5),
]


@pytest.mark.parametrize("thousands, decimal", [
    (".", ","), (",", "."), (None, ","), ("'", "."), (" ", ","), (" ", "."), ("\u00a0", ","),
    ("\u00a0", ".")])
def test_the_numbers_that_pandas_reads_in_a_notation_are_foreseen(thousands, decimal):
    """_pandas_number, which tells where pandas' read_csv with thousands= and decimal=
    would misread a file, reads each field as pandas does (a number, or text): with
    engine='python' (a mark beyond ASCII) a plain number beside a no-break space is text."""
    fields = ["1.5", "2,5", "1.234,5", "1,234.5", "1'234.5", "1 234,5", "1 5", "1\u00a0234,5",
              "1\u00a05", ".5", "5.", "1..5", "-1.5", "+1.234,5", "1.5e3", "1,5e3", " 1.5 ",
              "12.3456", "1,2,3", "1.234.567", "32.88\u00a0", "\u00a09.942", "\u00a02.", "e5",
              "1_5", "-.5", "1.500", "7"]
    options = {"decimal": decimal, "thousands": thousands}
    if thousands and not thousands.isascii():
        options["engine"] = "python"
    for field in fields:
        read = pd.read_csv(io.StringIO(f'"{field}"|x\n'), sep="|", header=None, **options)[0][0]
        expected = None if isinstance(read, str) else float(read)
        assert _tables._pandas_number(field, thousands, decimal) == expected, field


@pytest.mark.parametrize("other", ["1.234,5", "1,234.5", "$2.5", "2.5"])
@pytest.mark.parametrize("header", [True, False])
def test_the_pandas_call_for_decimal_commas_is_not_given_for_a_column_it_keeps_as_text(
        tmp_path, other, header):
    """pandas' decimal=',' reads a column as text where one of its values is a number in
    another notation ('1.234,5', '1,234.5', '$2.5', '2.5'), so that its decimal commas
    were left as they were, and fastem named '1,5' again, with the same call: the error
    names that value as one that keeps the column as text."""
    rows = [["a"]] if header else []
    path = _write(tmp_path, "".join(f'"{row[0]}"\n' for row in rows + [["1,5"], [other]]))
    with pytest.raises(ValueError, match=rf"pandas' read_csv with decimal=',' would not read "
                                         rf"{re.escape(repr(other))} on line {2 + header} "
                                         r"\(data row 2\), column 1(?: \('a'\))? as a number, "
                                         r"and so would keep that column as text"):
        read_csv(path, header=header)


@pytest.mark.parametrize("value, calls, other, meant", MIXED)
@pytest.mark.parametrize("place", [(0, 1), (1, 1), (2, 1), (2, 0)])
@pytest.mark.parametrize("header", [True, False])
@pytest.mark.parametrize("delimiter", [";", ",", "\t"])
def test_the_pandas_call_for_a_notation_is_not_given_for_a_file_that_mixes_notations(
        tmp_path, value, calls, other, meant, place, header, delimiter):
    """The pandas call that an error gives for a number in a locale's notation applies to
    the whole file, and was chosen from the one value fastem stopped at: for '1.234,5' it
    gave thousands='.', decimal=',', which read '1.5' elsewhere in the file as 15, and
    thousands=',' read '1,5' as 15. Where another field would be read otherwise than as
    its notation means (or a decimal point would keep a column of decimal commas as text),
    the error names that field and says that the file mixes notations; elsewhere the call
    reads every value as meant. ``place``: (data row, column) of ``other``, about the
    refused value on data row 2, column 1, which alone fastem reads."""
    rows = [["2", "3"], [value, "4"], ["5", "6"]]  # whole numbers: in every notation
    rows[place[0]][place[1]] = other
    if header:
        rows.insert(0, ["a", "b"])
    quote = (lambda v: f'"{v}"' if delimiter in v else v)
    path = _write(tmp_path, "".join(delimiter.join(map(quote, row)) + "\n" for row in rows))
    with pytest.raises(ValueError, match=rf"{re.escape(repr(value))} on line {2 + header} "
                                         r"\(data row 2\), column 1") as error:
        read_csv(path, columns=[0], header=header)
    message = str(error.value)
    given = re.findall(_RESAVE, message)
    new_path = str(tmp_path / "new.csv")
    for fix in given:
        options = next(options for options in calls if f", {options}" in fix)
        exec(fix, {"pd": pd, "path": path, "new_path": new_path})
        expected = [[2, 3], [calls[options], 4], [5, 6]]
        expected[place[0]][place[1]] = meant
        assert_array_equal(read_csv(new_path, header=header).data, expected), message
    if len(given) == len(calls):
        return
    line = 1 + header + place[0]
    assert re.search(
        rf"the file mixes notations: pandas' read_csv with .* would (?:not )?read "
        rf"{re.escape(repr(other))} on line {line} \(data row {place[0] + 1}\), column "
        rf"{place[1] + 1}.*correct the numbers written in another notation", message), message
    # and pandas misreads it so
    options = next(options for options in calls if not any(options in fix for fix in given))
    read = pd.read_csv(path, sep=delimiter, header=0 if header else None,
                       **eval(f"dict({options})"))
    field = read.iloc[place[0], place[1]]
    assert meant is None or not isinstance(field, float) and not str(field).isdigit() or (
        field != meant) or read.iloc[1, 0] != calls[options], (read, message)


def test_the_fix_of_a_headerless_file_of_numbers_set_apart_by_spaces_keeps_its_first_row(
        tmp_path):
    """numpy.savetxt's default: the pandas call took the first row for names, and made a
    repeated one unique ('0', '0.1'), which the new file's first row then held as data."""
    path = _write(tmp_path, "0 0\n1.5 2\n3 4\n")
    with pytest.raises(ValueError, match="numbers separated by spaces") as error:
        read_csv(path)
    fix = re.search(_RESAVE, str(error.value)).group(0)
    new_path = str(tmp_path / "new.csv")
    exec(fix, {"pd": pd, "path": path, "new_path": new_path})
    assert_array_equal(read_csv(new_path).data, [[0, 0], [1.5, 2], [3, 4]])


@pytest.mark.parametrize("value, number, what", DECORATED[::3] + [("1.5", 1.5, None)])
def test_a_parquet_column_of_numbers_as_text_is_named_with_a_pandas_call_that_reads_it(
        tmp_path, value, number, what):
    """A parquet column of text that holds numbers, plain or decorated, got "has type
    large_string, not numbers; choose numeric columns"; the error names its first value
    and row, and how to save the column as numbers."""
    pytest.importorskip("pyarrow")
    path = str(tmp_path / "t.parquet")
    pd.DataFrame({"a": [1.5, 3, 4], "b": [None, value, value]}).to_parquet(path)
    kind = "numbers stored as text" if what is None else f"a number \\({number:g}"
    with pytest.raises(ValueError, match=rf"column 'b' of .* holds text, "
                                         rf"{re.escape(repr(value))} in row 2: {kind}") as error:
        _tables.read_parquet(path)
    fix = re.search(r"with pandas: (df = pd\.read_parquet.*?to_parquet\(new_path\))",
                    str(error.value)).group(1)
    new_path = str(tmp_path / "new.parquet")
    exec(fix, {"pd": pd, "path": path, "new_path": new_path})
    assert_array_equal(_tables.read_parquet(new_path, missing=True).data,
                       [[1.5, np.nan], [3, number], [4, number]])
    labels = str(tmp_path / "labels.parquet")
    pd.DataFrame({"a": [1.5, 3], "b": ["x", "y"]}).to_parquet(labels)
    with pytest.raises(ValueError, match="has type .*string, not numbers; choose numeric"):
        _tables.read_parquet(labels)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_parquet_column_of_type_null_holds_missing_values(tmp_path, dtype):
    """pandas writes a column of None as parquet type null: its values are all missing,
    as the same DataFrame's or Arrow table's are in memory. Every parquet reader refused it
    ("has type null, not numbers"); it is read as NaN in the other columns' floating-point
    type, so that a part of float32 stays float32 and a fit over parts agrees with the
    array, and is named as missing values without missing='em'."""
    pytest.importorskip("pyarrow")
    from fastem.cli import main

    rng = np.random.default_rng(0)
    X = np.r_[rng.normal(size=(60, 2)), rng.normal(size=(60, 2)) + 5].astype(dtype)
    X[60:, 1] = np.nan
    first, second = str(tmp_path / "first.parquet"), str(tmp_path / "second.parquet")
    pd.DataFrame(X[:60], columns=["a", "b"]).to_parquet(first)
    pd.DataFrame({"a": X[60:, 0], "b": [None] * 60}).to_parquet(second)
    read = _tables.read_parquet(second, missing=True).data
    assert read.dtype == dtype
    assert_array_equal(read, X[60:])
    model = GaussianMixture(2, covariance_type="diag", missing="em", random_state=0)
    fitted = model.fit(Chunks([first, second])).means_
    assert fitted.dtype == dtype
    in_memory = GaussianMixture(2, covariance_type="diag", missing="em", random_state=0).fit(X)
    assert_allclose(fitted, in_memory.means_, rtol=1e-8 if dtype == np.float64 else 1e-5)
    with pytest.raises(ValueError, match=r"60 missing value\(s\) in column 'b', the first in row 1"):
        _tables.read_parquet(second)
    model_path, out = str(tmp_path / "m.npz"), str(tmp_path / "out.parquet")
    model.save(model_path)
    assert main(["impute", model_path, second, "-o", out, "--quiet"]) == 0
    expected = model.impute(pd.DataFrame(X[60:], columns=["a", "b"])).to_numpy()
    assert_allclose(pd.read_parquet(out).to_numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("columns", [["id", "x"], ["x", "id"]])
def test_a_parquet_index_chosen_by_name_is_named_as_the_index(tmp_path, columns):
    """A column that a parquet file holds as the index of the pandas DataFrame saved in it
    (df.set_index('id').to_parquet) was said to be absent ("column 'id' not found ...; its
    columns are ['x']"); the error now says what it is and how to fit it."""
    pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": rng.normal(size=20), "x": rng.normal(size=20)})
    path = tmp_path / "d.parquet"
    frame.set_index("id").to_parquet(path)
    with pytest.raises(ValueError, match=r"column 'id' not found in .*\. Note: column 'id' of "
                                         r".* is the index of the pandas DataFrame saved in it.*"
                                         r"df\.reset_index\(\)\.to_parquet\(path\)"):
        GaussianMixture(1).fit(Chunks([path], columns=columns))
    frame.to_parquet(path)  # the fix: a column
    assert list(GaussianMixture(1).fit(Chunks([path], columns=columns)).feature_names_in_) \
        == columns


@pytest.mark.parametrize("data", ["parquet file", "DataFrame", "Arrow table"])
@pytest.mark.parametrize("method", ["predict", "score_samples", "partial_fit"])
def test_a_model_s_column_held_as_a_pandas_index_is_named_as_the_index(tmp_path, data, method):
    """A model's column that the data passed hold as a pandas index (df.set_index('id')), in
    a parquet file, a DataFrame or an Arrow table made from one: the error said that the data
    missed it and to select it (Chunks(paths, columns=['id', 'x'])), a selection that fails."""
    pd = pytest.importorskip("pandas")
    pa = pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"id": rng.normal(size=20), "x": rng.normal(size=20)})
    model = GaussianMixture(1).fit(frame)
    indexed = frame.set_index("id")
    path = tmp_path / "d.parquet"
    indexed.to_parquet(path)
    X, fix = {"parquet file": (Chunks([path]), r"df\.reset_index\(\)\.to_parquet\(path\)"),
              "DataFrame": (indexed, r"X\.reset_index\(\)"),
              "Arrow table": (pa.Table.from_pandas(indexed),
                              r"pyarrow\.Table\.from_pandas\(df\.reset_index\(\)\)")}[data]
    with pytest.raises(ValueError, match=r"(?s)yet now missing:\n- id\nNote: column 'id' .*the "
                                         r"index of the pandas DataFrame.*to select it: " + fix):
        getattr(model, method)(X)
    # a column of the name beside an index of another: no note
    with pytest.raises(ValueError) as error:
        model.predict(frame[["x"]].set_index(frame["x"].rename("other")))
    assert "Note:" not in str(error.value)


@pytest.mark.parametrize("kind, select", [
    ("frame", lambda chunks, columns: [chunk[columns] for chunk in chunks]),
    ("csv", None),
    ("parquet", None),
])
def test_chunks_whose_chunk_0_has_more_columns_are_told_the_columns_both_have(tmp_path, kind,
                                                                             select):
    """Chunk 0 with a column the others lack was told to select chunk 0's columns, which
    the others cannot give: the advice is the columns both have, and followed, it fits."""
    import fastem

    frames = [pd.DataFrame(X[:300, :3], columns=["a", "b", "c"]),
              pd.DataFrame(X[300:, :2], columns=["a", "b"])]
    if kind == "frame":
        parts = frames
    else:
        parts = [table_file(tmp_path / f"part-{i}.{kind}", f.columns, f.to_numpy())
                 for i, f in enumerate(frames)]
    with pytest.raises(ValueError, match="in the same order") as info:
        fastem.GaussianMixture(1).fit(fastem.Chunks(parts))
    assert "['a', 'b']" in str(info.value).rsplit("Select them", 1)[1], str(info.value)
    chunks = (fastem.Chunks(select(parts, ["a", "b"])) if select is not None
              else fastem.Chunks(parts, columns=["a", "b"]))
    model = fastem.GaussianMixture(1).fit(chunks)
    assert_allclose(model.means_[0], X[:, :2].mean(axis=0))
    apart = [pd.DataFrame(X[:300, :2], columns=["a", "b"]),
             pd.DataFrame(X[300:, :2], columns=["c", "d"])]
    with pytest.raises(ValueError, match="They have no column in common: give chunks of the "
                                         "same columns.$"):
        fastem.GaussianMixture(1).fit(fastem.Chunks(apart))
