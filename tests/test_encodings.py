"""CSV files in the text encodings of other scripts: given with --encoding (encoding= in
Python), or guessed with a note, never read into silently garbled column names."""

import codecs
import io
import re
import importlib.util
import warnings

import numpy as np
import pytest

import fastem
from fastem._tables import fill_csv, read_csv
from fastem.cli import main
from test_tables import reader  # noqa: F401  (a fixture: read_csv through each parser)

pd = pytest.importorskip("pandas")

# An encoding of each family, the names of two columns and the labels of the rows in it.
FAMILIES = {
    "shift_jis": (["温度", "テスト"], "東京"),
    "gb18030": (["温度", "湿度"], "北京"),
    "big5": (["溫度", "濕度"], "臺北"),
    "euc_kr": (["온도", "습도"], "서울"),
    "iso8859-2": (["Długość", "Šířka"], "Łódź"),
    "cp1250": (["Długość", "Šířka"], "Brno"),
    "cp1251": (["Длина", "Ширина"], "Москва"),
    "iso8859-7": (["Μήκος", "Πλάτος"], "Αθήνα"),
}
# Those whose names here hold bytes that happen to be UTF-8 text ('\xb6\xc8' of GBK's '度'):
# read as UTF-8, as a file that mixes encodings is, and refused at the line of the names.
LIKE_UTF8 = ("gb18030", "big5", "euc_kr")


def _rows(n=40):
    rng = np.random.default_rng(0)
    return np.round(np.concatenate([rng.normal(0, 1, (n // 2, 2)), rng.normal(6, 1, (n // 2, 2))]), 3)


def _csv(path, encoding, names, label=None, X=None):
    """A CSV file of ``X`` (default :func:`_rows`) under ``names``, in ``encoding``; with
    ``label``, an unnamed first column of row labels (pandas' index) spelt with it."""
    X = _rows() if X is None else X
    head = ("," if label else "") + ",".join(names)
    lines = [head] + [(f"{label}{i}," if label else "") + ",".join(map(repr, map(float, row)))
                      for i, row in enumerate(X)]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.mark.parametrize("encoding", FAMILIES)
def test_names_read_in_the_encoding_given(tmp_path, encoding, reader):  # noqa: F811
    names, _ = FAMILIES[encoding]
    path = _csv(tmp_path / "d.csv", encoding, names)
    table = reader(str(path), encoding=encoding)
    assert table.names == names and table.notes == []
    np.testing.assert_array_equal(table.data, _rows())
    assert reader(str(path), columns=[names[1]], encoding=encoding).names == [names[1]]
    # without it, the guess is said, with the fix, and the names it garbled
    if encoding in LIKE_UTF8:
        with pytest.raises(ValueError, match=r"not valid utf-8 text .* on line 1 .*--encoding NAME"):
            read_csv(str(path))
        return
    guessed = read_csv(str(path))
    assert guessed.names != names
    assert len(guessed.doubts) == 1 and "almost certainly in another encoding" in guessed.doubts[0]
    assert "--encoding NAME" in guessed.doubts[0] and repr(guessed.names[0]) in guessed.doubts[0]
    # and selecting the real name says why it is not found
    with pytest.raises(ValueError, match=f"column '{names[1]}' not found.*Note: .*--encoding"):
        read_csv(str(path), columns=[names[1]])


@pytest.mark.parametrize("encoding", FAMILIES)
def test_chunks_take_the_encoding_and_warn_of_a_guess(tmp_path, encoding):
    names, _ = FAMILIES[encoding]
    path = _csv(tmp_path / "d.csv", encoding, names)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = fastem.GaussianMixture(2, random_state=0).fit(
            fastem.Chunks([path], encoding=encoding))
    assert list(model.feature_names_in_) == names
    model.save(tmp_path / "m.npz")
    assert list(fastem.load(tmp_path / "m.npz").feature_names_in_) == names
    chosen = fastem.Chunks([path], columns=[names[1]], encoding=encoding)
    assert list(fastem.GaussianMixture(1).fit(chosen).feature_names_in_) == [names[1]]
    if encoding in LIKE_UTF8:
        with pytest.raises(ValueError, match=r"on line 1 .*encoding=NAME in Python"):
            fastem.GaussianMixture(2, random_state=0).fit(fastem.Chunks([path]))
        return
    with pytest.warns(UserWarning, match="almost certainly in another encoding.*encoding=NAME"):
        fastem.GaussianMixture(2, random_state=0).fit(fastem.Chunks([path]))


@pytest.mark.parametrize("encoding", FAMILIES)
def test_cli_fit_and_predict_by_name_in_the_encoding_given(tmp_path, capsys, encoding):
    names, label = FAMILIES[encoding]
    path = _csv(tmp_path / "d.csv", encoding, names, label)
    model, out = tmp_path / "m.npz", tmp_path / "labels.csv"
    chosen = f"{names[1]},{names[0]}"
    status, _, err = run(capsys, "fit", path, "-k", 2, "--columns", chosen, "--encoding",
                         encoding, "-o", model)
    assert status == 0, err
    assert "encoding" not in err
    assert list(fastem.load(model).feature_names_in_) == [names[1], names[0]]
    status, _, err = run(capsys, "predict", model, path, "--columns", chosen, "--encoding",
                         encoding, "-o", out)
    assert status == 0, err
    # the output is UTF-8, its row labels the file's, as they are written
    written = out.read_bytes().decode("utf-8").splitlines()
    assert written[0] == ",component" and written[1].startswith(f"{label}0,")
    status, info, _ = run(capsys, "info", model)
    assert status == 0 and f"{names[1]}, {names[0]}" in info
    for command in ("score", "select"):
        status, _, err = run(capsys, command, *([model] if command == "score" else []), path,
                             "--columns", chosen, "--encoding", encoding,
                             *(["-k", "1-2", "--covariance", "diag"] if command == "select" else []))
        assert status == 0, err
    # without --encoding: the note on stderr, and the real names are not found
    status, _, err = run(capsys, "fit", path, "-k", 2, "-o", tmp_path / "g.npz")
    if encoding in LIKE_UTF8:
        assert status == 1 and "on line 1" in err and "--encoding NAME" in err
    else:
        assert status == 0 and "fastem: note:" in err and "almost certainly in another" in err
    status, _, err = run(capsys, "predict", model, path, "-o", out)
    assert status == 1 and "--encoding NAME" in err


def test_impute_reads_the_encoding_given_and_keeps_it_in_a_csv_copy(tmp_path, capsys):
    names, label = FAMILIES["cp1251"]
    X = _rows()
    X[3, 1] = np.nan
    path = _csv(tmp_path / "d.csv", "cp1251", names, label, X)
    path.write_bytes(path.read_bytes().replace(b"nan", b""))
    model = tmp_path / "m.npz"
    assert run(capsys, "fit", path, "-k", 2, "--missing", "em", "--encoding", "cp1251",
               "-o", model)[0] == 0
    assert run(capsys, "impute", model, path, "--encoding", "cp1251", "-o", tmp_path / "f.csv")[0] == 0
    # a CSV copy is the file byte for byte but the filled field: in its own encoding
    copy = (tmp_path / "f.csv").read_bytes().decode("cp1251").splitlines()
    assert copy[0] == "," + ",".join(names) and copy[1].startswith(f"{label}0,")
    if importlib.util.find_spec("pyarrow") is not None:
        assert run(capsys, "impute", model, path, "--encoding", "cp1251", "-o",
                   tmp_path / "f.parquet")[0] == 0
        frame = pd.read_parquet(tmp_path / "f.parquet")
        assert list(frame.columns) == names and frame.index[0] == f"{label}0"


@pytest.mark.parametrize("text, encoding", [
    ("Température,Größe", "cp1252"),
    ("“x”,b", "cp1252"),
])
def test_a_western_guess_is_noted_plainly(tmp_path, capsys, text, encoding):
    path = tmp_path / "d.csv"
    path.write_bytes((text + "\n" + "\n".join(f"{i}.5,{i % 3}" for i in range(20)) + "\n").encode(encoding))
    table = read_csv(str(path))
    assert table.names == text.split(",")
    assert len(table.doubts) == 1 and "are read as Windows-1252, the encoding fastem guesses" in table.doubts[0]
    assert "almost certainly" not in table.doubts[0]
    status, _, err = run(capsys, "fit", path, "-k", 1, "-o", tmp_path / "m.npz")
    assert status == 0 and "Windows-1252" in err and "--encoding NAME" in err
    assert read_csv(str(path), encoding="cp1252").notes == []


def test_bytes_that_windows_1252_does_not_define_are_noted_strongly(tmp_path):
    path = tmp_path / "d.csv"
    # Shift-JIS 'データ' holds 0x81, which Windows-1252 leaves undefined: read as Latin-1
    path.write_bytes("データ,b\n1,2\n3,4\n".encode("shift_jis"))
    note = read_csv(str(path)).doubts[0]
    assert "Latin-1" in note and "almost certainly in another encoding" in note


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "ascii"])
def test_no_note_for_ascii_and_unicode_files(tmp_path, capsys, encoding):
    names = ["a", "b"] if encoding == "ascii" else ["Température", "温度"]
    path = _csv(tmp_path / "d.csv", encoding, names)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = fastem.GaussianMixture(2, random_state=0).fit(fastem.Chunks([path]))
    assert list(model.feature_names_in_) == names
    status, _, err = run(capsys, "fit", path, "-k", 2, "-o", tmp_path / "m.npz")
    assert status == 0 and "note" not in err


def test_a_wrong_encoding_is_an_error_naming_the_line(tmp_path, capsys):
    names, _ = FAMILIES["shift_jis"]
    path = _csv(tmp_path / "d.csv", "shift_jis", names)
    status, _, err = run(capsys, "fit", path, "-k", 2, "--encoding", "utf-8", "-o", tmp_path / "m.npz")
    assert status == 1 and err.startswith("fastem: error: ") and err.count("\n") == 1
    assert "is not utf-8 text, the encoding given" in err and "on line 1 " in err
    assert "--encoding NAME" in err
    # a byte beyond the head, on line 40002, found by the reader
    body = "".join(f"{i}.5,{i % 7}\n" for i in range(40_000))
    path.write_bytes("Длина,b\n".encode("cp1251") + body.encode() + b"\x98,1\n")
    for read in (read_csv, lambda p, **kw: fastem.GaussianMixture(1).fit(fastem.Chunks([p], **kw))):
        with pytest.raises(ValueError, match=r"is not cp1251 text, the encoding given .* on line "
                                             r"40002 \('\\x98,1\\n'\); pass the encoding"):
            read(str(path), encoding="cp1251")


@pytest.mark.parametrize("name, expected", [
    ("nope", "--encoding 'nope' is not an encoding that Python knows"),
    ("base64", "is not a text encoding"),
    ("cp500", "does not write digits, delimiters and line ends as ASCII does"),
])
def test_an_encoding_that_cannot_read_a_csv_file_is_refused(tmp_path, capsys, name, expected):
    path = _csv(tmp_path / "d.csv", "utf-8", ["a", "b"])
    out = ["-o", tmp_path / "o.csv"]
    for command in (["fit", path, "-k", 1, *out], ["select", path],
                    ["predict", tmp_path / "m.npz", path, *out], ["score", tmp_path / "m.npz", path],
                    ["impute", tmp_path / "m.npz", path, *out]):
        status, _, err = run(capsys, *command, "--encoding", name)
        assert status == 2 and expected in err, err
    with pytest.raises(ValueError, match=expected.replace("--encoding 'nope'", "encoding='nope'")):
        fastem.Chunks([path], encoding=name)


def test_encoding_is_for_csv_files_only(tmp_path, capsys):
    np.save(tmp_path / "d.npy", _rows())
    status, _, err = run(capsys, "fit", tmp_path / "d.npy", "-k", 1, "--encoding", "cp1251",
                         "-o", tmp_path / "m.npz")
    assert status == 2 and "--encoding cp1251 has no effect" in err
    with pytest.raises(ValueError, match="no chunk is a .csv file"):
        fastem.Chunks([tmp_path / "d.npy"], encoding="cp1251")


def test_byte_order_marks_and_the_encoding_given(tmp_path):
    names = ["温度", "b"]
    path = tmp_path / "d.csv"
    for codec in ("utf-16", "utf-32", "utf-8-sig"):  # still detected without --encoding
        _csv(path, codec, names)
        assert read_csv(str(path)).names == names and read_csv(str(path)).notes == []
    # a mark of the encoding given (either byte order) is honoured: dropped
    for codec, given in (("utf-16", "utf-16-le"), ("utf-16", "utf-16"), ("utf-8-sig", "utf-8"),
                         ("utf-32", "utf-32")):
        _csv(path, codec, names)
        assert read_csv(str(path), encoding=given).names == names
    # a mark of another encoding is an error
    _csv(path, "utf-16", names)
    with pytest.raises(ValueError, match="byte-order mark of UTF-16, but the encoding given is "
                                         "cp1252; leave out the encoding"):
        read_csv(str(path), encoding="cp1252")
    _csv(path, "utf-8-sig", names)
    with pytest.raises(ValueError, match="byte-order mark of UTF-8, but the encoding given"):
        read_csv(str(path), encoding="utf-16")
    # 'utf-16' without a mark: the byte order of its NUL bytes; NUL bytes of UTF-16 where
    # another encoding is given are an error
    _csv(path, "utf-16-be", names)
    assert read_csv(str(path), encoding="utf-16").names == names
    for given in ("utf-16-le", "cp1252"):
        with pytest.raises(ValueError, match="NUL bytes where utf-16-be text has them.*pass utf-16-be"):
            read_csv(str(path), encoding=given)


def test_an_encoding_of_bytes_that_happen_to_be_utf8_is_refused_at_its_line(tmp_path, reader):  # noqa: F811
    # GBK's bytes of '温度' hold a well-formed UTF-8 pair, as a file that mixes encodings
    # does: its names are not read as U+FFFD, by any parser
    path = tmp_path / "d.csv"
    path.write_bytes("温度,湿度\n1,2\n3,4\n".encode("gb18030"))
    with pytest.raises(ValueError, match=r"not valid utf-8 text .* on line 1 .*--encoding NAME"):
        reader(str(path))
    assert reader(str(path), encoding="gbk").names == ["温度", "湿度"]


@pytest.mark.parametrize("encoding, bad, shown", [
    ("utf-16-le", b"\x00\xd8", r"\\x00\\xd83,4"),  # a lone surrogate: bytes below 0x80 too
    ("shift_jis", b"\x81\x0a", r"\\x81\\n'"),  # a lead byte without its pair, at a line end
    ("cp1251", b"\x98", r"\\x983,4"),  # a byte cp1251 leaves undefined
])
def test_a_byte_not_in_the_encoding_given_is_shown_on_its_line(tmp_path, encoding, bad, shown):
    path = tmp_path / "d.csv"
    text = "温度,b\n" if encoding != "cp1251" else "Длина,b\n"
    path.write_bytes((text + "1,2\n").encode(encoding) + bad + "3,4\n".encode(encoding))
    with pytest.raises(ValueError, match=rf"is not {encoding} text, the encoding given \(.*\) on "
                                         rf"line 3 \('{shown}"):
        read_csv(str(path), encoding=encoding)


@pytest.mark.parametrize("given", ["utf-8-sig", "utf_8_sig", "UTF-8-SIG"])
@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-8"])
def test_utf_8_sig_is_read_as_utf_8_with_its_mark_or_without(tmp_path, capsys, given, codec):
    # the name pandas users pass for Excel's "CSV UTF-8": a mark, then UTF-8 text
    names = ["Température", "温度"]
    X = _rows()
    X[3, 1] = np.nan
    path = _csv(tmp_path / "d.csv", codec, names, X=X)
    path.write_bytes(path.read_bytes().replace(b"nan", b""))
    assert read_csv(str(path), encoding=given, missing=True).names == names
    model = tmp_path / "m.npz"
    status, _, err = run(capsys, "fit", path, "-k", 1, "--missing", "em", "--encoding", given,
                         "-o", model)
    assert status == 0, err
    assert list(fastem.load(model).feature_names_in_) == names
    # the copy keeps the file's mark, or its lack of one
    status, _, err = run(capsys, "impute", model, path, "--encoding", given, "-o", tmp_path / "f.csv")
    assert status == 0, err
    copy, original = (tmp_path / "f.csv").read_bytes(), path.read_bytes()
    assert copy.startswith(codecs.BOM_UTF8) == original.startswith(codecs.BOM_UTF8)
    assert copy.splitlines()[:4] == original.splitlines()[:4]


@pytest.mark.parametrize("encoding, odd", [
    ("cp932", b"\x87\x90\xfa\x54"),  # NEC's and IBM's '≒', '￢': cp932 writes them '\x81\xe0\x81\xca'
    ("euc-jp", b"\x8f\xa2\xb7"),  # JIS X 0212's tilde: written '~'
])
@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"])
def test_an_impute_csv_copy_keeps_bytes_that_the_encoding_writes_back_otherwise(
        tmp_path, capsys, encoding, odd, newline):
    X = _rows()
    lines = [b",a," + odd + b",b,note"]
    for i, (a, b) in enumerate(X):
        note = b'"' + odd + newline + odd + b'"' if i % 5 == 0 else odd  # a field of two lines
        lines.append(b"%s%d,%s,%s,%s,%s" % (odd, i, b"" if i in (3, 10) else repr(float(a)).encode(),
                                             odd, b"" if i == 10 else repr(float(b)).encode(), note))
    path = tmp_path / "d.csv"
    path.write_bytes(newline.join(lines) + newline)
    model = tmp_path / "m.npz"
    status, _, err = run(capsys, "fit", path, "-k", 1, "--missing", "em", "--columns", "a,b",
                         "--encoding", encoding, "-o", model)
    assert status == 0, err
    status, _, err = run(capsys, "impute", model, path, "--encoding", encoding, "-o",
                         tmp_path / "f.csv")
    assert status == 0, err
    # byte for byte but the filled fields, which are ASCII numbers
    copy = (tmp_path / "f.csv").read_bytes().split(newline)
    original = path.read_bytes().split(newline)
    assert len(copy) == len(original)
    changed = [(x.split(b","), y.split(b",")) for x, y in zip(original, copy) if x != y]
    assert len(changed) == 2
    for x, y in changed:
        assert len(x) == len(y) and all(a == b or (a == b"" and np.isfinite(float(b)))
                                        for a, b in zip(x, y))


@pytest.mark.parametrize("given", ["cp1251", "koi8-r", "gbk", "latin-1"])
def test_utf8_names_read_in_another_encoding_given_are_noted(tmp_path, capsys, given):
    names = ["Длина", "Ширина"]
    path = _csv(tmp_path / "d.csv", "utf-8", names, "Москва")
    garbled = [name.encode().decode(given) for name in names]
    table = read_csv(str(path), encoding=given)
    assert table.names == garbled
    assert len(table.doubts) == 1 and "are bytes of UTF-8 text, which read as 'Длина', " \
        "'Ширина', 'Москва0', 'Москва1': if the file is UTF-8, leave out the encoding" in table.doubts[0]
    status, _, err = run(capsys, "fit", path, "-k", 1, "--encoding", given, "-o", tmp_path / "m.npz")
    assert status == 0 and "fastem: note:" in err and "bytes of UTF-8 text" in err
    with pytest.warns(UserWarning, match="bytes of UTF-8 text"):
        fastem.GaussianMixture(1).fit(fastem.Chunks([path], encoding=given))
    # and a column chosen by its real name is not found, with the note
    with pytest.raises(ValueError, match="column 'Ширина' not found.*Note: .*bytes of UTF-8 text"):
        read_csv(str(path), columns=["Ширина"], encoding=given)


def _city_file(path, X, encoding):
    """``path``, written in ``encoding``: columns a and b of ``X`` (NaN as an empty field)
    and a text column, city, of Cyrillic names."""
    path.write_bytes(("a,b,city\n" + "".join(
        f"{'' if np.isnan(a) else repr(a)},{b!r},Москва{i}\n" for i, (a, b) in enumerate(X.tolist()))
    ).encode(encoding))
    return path


def test_text_that_an_output_keeps_read_with_the_guess_is_noted(tmp_path, capsys):
    X = _rows(400)
    X[4, 0] = np.nan
    # names in ASCII, a text column in cp1251: an impute to parquet keeps its values
    path = _city_file(tmp_path / "d.csv", X, "cp1251")
    model = tmp_path / "m.npz"
    status, _, err = run(capsys, "fit", path, "-k", 1, "--missing", "em", "--columns", "a,b", "-o", model)
    assert status == 0, err
    written = []
    for output in ("f.csv", "f.parquet"):  # the copy keeps the bytes: no note
        if output.endswith(".parquet") and importlib.util.find_spec("pyarrow") is None:
            continue
        status, _, err = run(capsys, "impute", model, path, "-o", tmp_path / output)
        assert status == 0
        written.append(err)
    assert written[0] == ""
    if len(written) > 1:
        assert written[1].count("fastem: note:") == 1
        assert "its text values ('Ìîñêâà0', 'Ìîñêâà1', 'Ìîñêâà2', 'Ìîñêâà3', ...) read as garbled " \
            "text in Windows-1252" in written[1] and "--encoding NAME" in written[1]
        status, _, err = run(capsys, "impute", model, path, "--encoding", "cp1251", "-o",
                             tmp_path / "f.parquet")
        assert status == 0 and err == ""
        assert pd.read_parquet(tmp_path / "f.parquet")["city"][0] == "Москва0"
    # row labels beyond the first rows, which the note of the names did not see
    path.write_bytes((",a,b,note\n" + "".join(
        f"{'r' if i < 2000 else 'Москва'}{i},{abs(a)!r},{b!r},№\n"
        for i, (a, b) in enumerate(np.tile(_rows(400), (6, 1)).tolist()))).encode("cp1251"))
    status, _, err = run(capsys, "predict", model, path, "--columns", "a,b", "-o", tmp_path / "p.csv")
    assert status == 0
    assert err.count("fastem: note:") == 2  # the unnamed column, and its labels
    assert "its text values ('Ìîñêâà2000', 'Ìîñêâà2001'" in err
    # a .npy output keeps no labels
    status, _, err = run(capsys, "predict", model, path, "--columns", "a,b", "-o", tmp_path / "p.npy")
    assert status == 0 and err.count("fastem: note:") == 1 and "text values" not in err


@pytest.mark.parametrize("given, read", [("utf-16", "utf-16-le"), ("utf-16-be", "utf-16-be"),
                                         ("utf-32", "utf-32-le")])
@pytest.mark.parametrize("codec", ["utf-8", "cp1251"])
def test_utf_16_or_32_given_for_a_file_without_nul_bytes_is_refused(tmp_path, capsys, given,
                                                                      read, codec):
    # before: its bytes paired into CJK text, 'a header row but no data rows'
    path = _csv(tmp_path / "d.csv", codec, FAMILIES["cp1251"][0])
    expected = (f"holds no NUL bytes, which {read} text has in its digits, delimiters and line "
                f"ends, but the encoding given is {read}: the file is in another encoding; leave "
                "out the encoding")
    with pytest.raises(ValueError, match=expected):
        read_csv(str(path), encoding=given)
    status, _, err = run(capsys, "fit", path, "-k", 1, "--encoding", given, "-o", tmp_path / "m.npz")
    assert status == 1 and expected in err


def test_an_impute_csv_copy_of_a_stateful_encoding_is_byte_exact(tmp_path, capsys):
    # ISO-2022-KR designates its Korean set once, at the start of the file
    X = _rows()
    X[4, 0] = np.nan
    path = _csv(tmp_path / "d.csv", "iso2022_kr", ["온도", "습도"], "서울", X)
    path.write_bytes(path.read_bytes().replace(b"nan", b""))
    model = tmp_path / "m.npz"
    assert run(capsys, "fit", path, "-k", 1, "--missing", "em", "--encoding", "iso2022_kr",
               "-o", model)[0] == 0
    status, _, err = run(capsys, "impute", model, path, "--encoding", "iso2022_kr", "-o",
                         tmp_path / "f.csv")
    assert status == 0, err
    original, copy = path.read_bytes().split(b"\n"), (tmp_path / "f.csv").read_bytes().split(b"\n")
    assert [i for i, (x, y) in enumerate(zip(original, copy)) if x != y] == [5]
    assert copy[5].startswith(original[5].split(b",")[0] + b",") and len(copy) == len(original)


def test_utf8_text_that_an_output_keeps_read_in_another_encoding_given_is_noted(tmp_path, capsys):
    pytest.importorskip("pyarrow")
    X = _rows()
    X[4, 0] = np.nan
    path = _city_file(tmp_path / "d.csv", X, "utf-8")
    model = tmp_path / "m.npz"
    status, _, err = run(capsys, "fit", path, "-k", 1, "--missing", "em", "--columns", "a,b",
                         "--encoding", "cp1251", "-o", model)
    assert status == 0 and err == ""  # the names are ASCII, the text is not read
    status, _, err = run(capsys, "impute", model, path, "--encoding", "cp1251", "-o",
                         tmp_path / "f.parquet")
    assert status == 0 and err.count("fastem: note:") == 1
    assert "its text values ('РњРѕСЃРєРІР°0', 'РњРѕСЃРєРІР°1', 'РњРѕСЃРєРІР°2', 'РњРѕСЃРєРІР°3', " \
        "...), read in cp1251, the encoding given, are bytes of UTF-8 text, which read as " \
        "'Москва0', 'Москва1', 'Москва2', 'Москва3': if the file is UTF-8" in err
    # read in its own encoding: no note
    status, _, err = run(capsys, "impute", model, path, "-o", tmp_path / "f.parquet")
    assert status == 0 and err == ""


@pytest.mark.parametrize("given, names", [("iso2022_jp", ["長さ", "幅"]), ("iso2022_kr", ["길이", "폭"]),
                                          ("hz", ["长度", "宽度"])])
def test_text_of_a_7_bit_encoding_given_is_not_noted_as_utf8(tmp_path, capsys, given, names):
    # the bytes of its text beyond ASCII are ASCII escapes, valid UTF-8 but not UTF-8 text
    path = _csv(tmp_path / "d.csv", given, names, label=names[0])
    table = read_csv(str(path), encoding=given)
    assert table.names == names and table.doubts == []
    assert not any("UTF-8" in note for note in table.notes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastem.GaussianMixture(1).fit(fastem.Chunks([path], encoding=given))
    model = tmp_path / "m.npz"
    status, _, err = run(capsys, "fit", path, "-k", 1, "--encoding", given, "-o", model)
    assert status == 0 and "UTF-8" not in err, err
    # the row labels that a prediction keeps, beyond those that the names' note sees
    status, _, err = run(capsys, "predict", model, path, "--encoding", given,
                         "-o", tmp_path / "p.csv")
    assert status == 0 and "UTF-8" not in err, err


_CUT_SHORT_DURING_THE_COPY = """
import io, os, sys
import numpy as np
import fastem._tables as T
path = sys.argv[1]
table = T.read_csv(path, columns=["a", "b"], missing=True, encoding="cp932")
missing = np.isnan(table.data)
records = T._records
def cut_short(*args, **kwargs):  # another program rewrites the file during the copy
    for i, record in enumerate(records(*args, **kwargs)):
        if i == 5:
            os.truncate(path, 100)
        yield record
T._records = cut_short
try:
    T.fill_csv(table.layout, io.BytesIO(), np.where(missing, 7.5, table.data), missing)
except ValueError as exc:
    print(exc)
"""


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_an_impute_csv_copy_of_a_file_changed_since_it_was_read_says_so(tmp_path, encoding):
    import subprocess
    import sys

    # cp932's '\x87\x90' reads as '≒', which it writes '\x81\xe0': the copy takes the
    # file's own bytes of each record
    odd = "≒".encode() if encoding == "utf-8" else b"\x87\x90"
    path = tmp_path / "d.csv"
    path.write_bytes(b"a,b,c\n" + b"".join(
        b"%d,%s,%s\n" % (i, b"" if i % 3 else b"1", odd) for i in range(20000)))
    table = read_csv(str(path), columns=["a", "b"], missing=True, encoding=encoding)
    missing = np.isnan(table.data)
    path.write_bytes(b"")  # emptied since it was read
    with pytest.raises(ValueError, match="has 0 data row.* now but 20000 when it was read; "
                                         "it changed meanwhile"):
        fill_csv(table.layout, io.BytesIO(), np.where(missing, 7.5, table.data), missing)
    if encoding == "cp932":  # cut short during the copy: an error, not the process killed
        path.write_bytes(b"a,b,c\n" + b"".join(
            b"%d,%s,%s\n" % (i, b"" if i % 3 else b"1", odd) for i in range(20000)))
        done = subprocess.run([sys.executable, "-c", _CUT_SHORT_DURING_THE_COPY, str(path)],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert re.search(r"ends within line \d+ now but did not when it was read; it changed "
                         "meanwhile", done.stdout), done.stdout
