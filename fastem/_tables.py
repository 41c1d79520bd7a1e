"""Tables of numbers in CSV files, read the way a careful user reads them.

:func:`read_csv` turns a CSV file into a float64 array and its column names.
It decides, from the first lines, what pandas and spreadsheet programs
decide for the user:

- the encoding: a UTF-8 byte-order mark ("CSV UTF-8" from spreadsheets) is
  dropped, UTF-16 and UTF-32 with a mark are read as such, and without one
  when their NUL bytes say so; a header that is not UTF-8 is read as
  Windows-1252 (then Latin-1), as spreadsheets write it;
- the delimiter: comma, tab, semicolon or bar, the one that splits every
  sampled line into the same number of fields (numbers preferred);
- the header: the first row is a header when one of its fields is neither a
  number nor a missing-value marker, or when it quotes every field, all
  different and not all empty, above rows that do not (names that read as
  numbers, as R's ``write.csv`` and fastem write them: "450","500"; not a
  row of missing values, "","" or "NA","NA"), so a headerless file loses no row
  (``header=True`` or ``False`` decides it instead, e.g. for column names
  that are numbers, such as wavelengths); names are kept as pandas keeps
  them (surrounding spaces included), and repeated names get pandas'
  suffixes ('x', 'x.1', ...);
- index columns: a header whose first names are empty (pandas'
  ``df.to_csv(path)``, one per index level) marks the row labels of a
  DataFrame, which are not features; those columns are dropped and a note
  says so (a doubt, said by Chunks too, when the first holds numbers with a
  fraction: a feature whose name is missing, maybe). A first column that
  counts the rows (an index written under a name) is read as data, with a
  note on how to leave it out, which Chunks says too;
- trailing delimiters: lines that end with the delimiter ("1,2,") leave
  empty columns without a name at the end, which pandas reads as columns
  of NaN; they are left out with a note (a value further down in one is an
  error);
- a first line "sep=;" (spreadsheets' note of the delimiter) sets the
  delimiter and is skipped.

Fields may be quoted, lines may end in LF, CRLF or CR alone (Excel for Mac's
"CSV (Macintosh)"), a quoted field that holds lines that read as rows (a quote
left open, which joins the rows below into its field) gets a note, blank lines
are skipped (above the header too), and
leading lines that start with '#' (notes above the table, as in R's data
files and ``numpy.savetxt``'s header) are skipped with a note. Below the
header such a line is an error that names it, also where its first field is
in a column that is not read (an index or label column): among rows that do
not start with '#', an unquoted '#' there marks a note or a row left out,
not data.
Missing values (empty fields, pandas' markers such as ``NA`` or ``nan``, and
float()'s other spellings of NaN, such as ``NAN``, which pandas reads as text)
and text in a numeric column (decimal commas, thousands separators,
currency and percent signs, an accountant's brackets for a negative number,
a unit after a number, numbers separated by spaces, and a number beside a character that float()
strips but pandas does not take for a space, such as a no-break space,
named as such), and a whole number that float64 would round (beyond 2**53,
such as a 19-digit identifier), are errors that give the line, the data row
and the column (all 1-based) and how to fix them. Around a number or a marker, spaces,
tabs and the other ASCII spaces are read as pandas reads them.

The numbers are parsed by pyarrow's CSV reader when pyarrow is installed
(``pip install 'fastem[parquet]'``), else by :func:`numpy.loadtxt`'s C
parser, several times slower (``scripts/bench_csv.py`` measures both on
1,000,000 rows). Both are configured to agree with pandas. Whenever the
fast parser refuses a file or finds a missing value, a field-by-field pass
with the standard library's :mod:`csv` module reads it, or reports the
first bad value with its place.
"""

import codecs
import collections
import contextlib
import csv
import io
import itertools
import math
import os
import re
import threading
import time
import unicodedata
from typing import NamedTuple

import numpy as np

from ._validation import (
    FLOAT64_WHOLE,
    close_choice,
    frame_float_dtype,
    name_key,
    pandas_index_columns,
    rounded_by_float64,
    rounded_whole_number,
    shown_names,
)

__all__ = [
    "NA_VALUES",
    "TABLE_EXTENSIONS",
    "Table",
    "choose_columns",
    "csv_column_names",
    "fill_csv",
    "find_name",
    "guessed_encoding_note",
    "guessed_text_note",
    "header_problem",
    "header_quoted",
    "UNNAMED_INDEX",
    "index_positions",
    "parquet_column_names",
    "read_csv",
    "read_columns",
    "read_parquet",
    "read_table",
    "shortest_text",
]

#: File extensions of the tables that :func:`read_table` reads.
TABLE_EXTENSIONS = (".csv", ".parquet")

# pandas' default markers of a missing value (pandas.read_csv, na_values).
NA_VALUES = frozenset(
    ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
     "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"]
)
_DELIMITERS = (",", "\t", ";", "|")
_SNIFF_BYTES = 1 << 16
_SNIFF_ROWS = 50
_INDEX_NAMES = ("", "Unnamed: 0")


class Table:
    """What a reader found: ``data`` (2-D array), ``names`` (list or None), ``notes``.

    ``positions`` are the 0-based positions of ``data``'s columns among the
    file's columns (its fields, index columns included, in a CSV file), or
    None for a table that was not read from a file; ``layout`` is what
    :func:`read_csv` found of a CSV file (its encoding, delimiter, header;
    what :func:`fill_csv` copies it by), else None; ``doubts`` are the notes
    that say the data may have been misread (a first row of numbers that
    looks like names, read as data). It
    passes for an array with column names where the estimators take one:
    ``np.asarray(table)`` is ``data`` and ``column_names`` are the names.
    """

    def __init__(self, data, names, notes, positions=None, layout=None, doubts=()):
        self.data = data
        self.names = names
        self.notes = notes
        self.doubts = list(doubts)  # the notes that say the data may be misread
        self.positions = positions
        self.layout = layout

    @property
    def column_names(self):
        return self.names

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    def __array__(self, dtype=None, copy=None):
        if copy:
            return np.array(self.data, dtype=dtype)
        return np.asarray(self.data, dtype=dtype)


def _marked_encoding(head):
    """The encoding that the byte-order mark at the start of ``head`` says ('utf-8-sig',
    'utf-16', 'utf-32'), or None without a mark."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def _encoding(head):
    """The text encoding of a file that starts with the bytes ``head``."""
    marked = _marked_encoding(head)
    if marked is not None:
        return marked
    wide = _unmarked_wide_encoding(head)
    if wide is not None:
        return wide
    for encoding in ("utf-8", "cp1252"):
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            if encoding == "utf-8" and _UTF8_TEXT.search(head):
                # text of two encodings, as appending another program's output makes: read
                # as UTF-8, whose reader names the line that is not (no garbled header)
                return encoding
            continue
        return encoding
    return "latin-1"


def starts_as_text(head):
    """Whether a file that starts with the bytes ``head`` is text as :func:`read_csv` reads it:
    with a byte-order mark (UTF-8, UTF-16, UTF-32), UTF-16 or UTF-32 without one, or UTF-8 or
    Windows-1252 text without control characters but tabs, line ends and form feeds (a
    character cut at the end of ``head`` is still text)."""
    marks = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)
    if head.startswith(marks) or _unmarked_wide_encoding(head) is not None:
        return True
    for encoding in ("utf-8", "cp1252"):
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        return _CONTROL.search(text) is None
    return False


# Encodings to name where one is asked for: Western, Central European, Cyrillic, Greek,
# Japanese, Chinese (simplified, traditional), Korean.
_ENCODING_EXAMPLES = "cp1252, cp1250, cp1251, iso8859-7, shift_jis, gb18030, big5 or euc_kr"
# The characters whose bytes every encoding of a CSV file that fastem reads writes as ASCII
# does: the reader finds lines, delimiters, quotes and numbers by these bytes.
_ASCII_STRUCTURE = ("\t\n\r \"#$%&'()*+,-./0123456789:;<=>?@_|"
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def _wide(encoding):
    """Whether ``encoding`` (a codec's name) is UTF-16 or UTF-32."""
    return codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))


def check_encoding(encoding, what="encoding"):
    """The codec name (``codecs.lookup(encoding).name``) of ``encoding``, the text encoding
    in which a CSV file is to be read, given as ``what`` ('--encoding', 'encoding'); None
    for None (the reader detects it). Refused: a name that Python does not know, a codec
    that is not a text encoding ('base64'), one that does not write ASCII as ASCII (after
    the byte-order mark of 'utf-8-sig') but UTF-16 and UTF-32 (EBCDIC's 'cp500', 'utf-7'),
    in which the reader cannot find lines, delimiters and numbers."""
    if encoding is None:
        return None
    shown = f"{what} {encoding!r}" if what.startswith("-") else f"{what}={encoding!r}"
    if not isinstance(encoding, str):
        raise TypeError(f"{what} must be the name of a text encoding (str), such as 'cp1251', "
                        f"got {encoding!r} of type {type(encoding).__name__}")
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        raise ValueError(
            f"{shown} is not an encoding that Python knows; pass the name of the encoding the "
            f"file is written in, such as utf-8, {_ENCODING_EXAMPLES} (Python's names, "
            "listed under 'Standard Encodings' in the codecs module's documentation), or "
            f"leave out {what} to detect it") from None
    if not info._is_text_encoding:
        raise ValueError(f"{shown} is not a text encoding but a codec of bytes ({info.name}); "
                         f"pass the encoding the file's text is written in, such as utf-8, "
                         f"{_ENCODING_EXAMPLES}")
    if not _wide(info.name):
        try:
            encoder = codecs.getincrementalencoder(info.name)()
            encoder.encode("")  # the byte-order mark that one writes first ('utf-8-sig')
            ascii_compatible = encoder.encode(_ASCII_STRUCTURE) == _ASCII_STRUCTURE.encode()
        except UnicodeError:
            ascii_compatible = False
        if not ascii_compatible:
            raise ValueError(
                f"{shown} does not write digits, delimiters and line ends as ASCII does, "
                "which fastem reads CSV files by (only UTF-16 and UTF-32 are read beside "
                "encodings that do); convert the file to UTF-8 first, e.g. in Python: "
                f"open(new_path, 'w', encoding='utf-8').write(open(path, encoding={encoding!r}"
                ").read())")
    return info.name


def _unicode_family(encoding):
    """'utf-8', 'utf-16' or 'utf-32' for an encoding of that family (either byte order,
    with or without a mark), else the name itself."""
    return next((f for f in ("utf-8", "utf-16", "utf-32") if encoding.startswith(f)), encoding)


def _given_encoding(path, head, encoding):
    """The codec that reads the file ``path``, which starts with the bytes ``head``, in
    ``encoding``, a codec name that the user gave (:func:`check_encoding`).

    The given encoding overrides detection, but not what the bytes say for sure. A
    byte-order mark of the same Unicode encoding is honoured (dropped, its byte order
    read: 'utf-8' reads a file with the UTF-8 mark as 'utf-8-sig', and 'utf-8-sig' one
    without it as 'utf-8'), and 'utf-16' or 'utf-32' without one is read in the byte
    order that the file's NUL bytes say (:func:`_unmarked_wide_encoding`), else
    little-endian, as Windows writes it. A mark of another encoding, NUL bytes that say
    UTF-16 or UTF-32 (in a byte order) where another encoding is given, or none where
    UTF-16 or UTF-32 is given without a mark, are an error: the encoding given, or the
    file, is not what the user thinks. So is text in the first ``_SNIFF_BYTES`` that is
    not text in the encoding given, with its line."""
    marked = _marked_encoding(head)
    fix = ("leave out the encoding (--encoding on the command line, encoding= in Python), "
           "which fastem then detects")
    if marked is not None:
        if _unicode_family(marked) != _unicode_family(encoding):
            raise ValueError(
                f"{path!r} starts with the byte-order mark of {_unicode_family(marked).upper()}, "
                f"but the encoding given is {encoding}; {fix}, or, if the file is {encoding} "
                "text after all, remove the mark")
        encoding = marked
    else:
        wide = _unmarked_wide_encoding(head)
        if encoding == "utf-8-sig":  # read as UTF-8 without its mark, and copied without one
            encoding = "utf-8"
        if encoding in ("utf-16", "utf-32"):
            encoding = wide if wide is not None and wide.startswith(encoding) else f"{encoding}-le"
        if wide is not None and wide != encoding:
            raise ValueError(
                f"{path!r} holds NUL bytes where {wide} text has them (its digits, delimiters "
                f"and line ends read as such), but the encoding given is {encoding}; {fix}, or "
                f"pass {wide}")
        if _wide(encoding) and b"\0" not in head:
            raise ValueError(
                f"{path!r} holds no NUL bytes, which {encoding} text has in its digits, "
                f"delimiters and line ends, but the encoding given is {encoding}: the file is "
                f"in another encoding; {fix}")
    try:
        codecs.getincrementaldecoder(encoding)().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise ValueError(_not_in_given_encoding(path, encoding, exc)) from None
    return encoding


def _escaped_bytes(exc):
    """A decoding error handler: each byte that is not text as U+DC00 plus its value, a lone
    surrogate, which no decoder makes of text (surrogateescape takes bytes from 0x80 only,
    where a byte of a broken UTF-16 character or a Shift-JIS pair may be ASCII)."""
    return "".join(chr(0xDC00 + b) for b in exc.object[exc.start:exc.end]), exc.end


codecs.register_error("fastem.escaped_bytes", _escaped_bytes)


def _not_in_given_encoding(path, encoding, exc):
    """The message for the file ``path``, which is not text in ``encoding``, given by the
    user (``exc``: the decoder's error): the first line (1-based) that holds bytes that are
    not, and the fix, with the text around the first of them (each such byte as \\xNN)."""
    where = ""
    with open(path, encoding=encoding, errors="fastem.escaped_bytes", newline="") as f:
        for number, line in enumerate(f, start=1):
            at = next((i for i, c in enumerate(line) if "\udc00" <= c <= "\udcff"), None)
            if at is not None:
                shown = "".join(
                    f"\\x{ord(c) - 0xDC00:02x}" if "\udc00" <= c <= "\udcff"
                    else c.encode("unicode_escape").decode() if not c.isprintable() else c
                    for c in line[max(at - 8, 0):at + 8])
                where = f" on line {number} ('{shown}')"
                break
    return (f"{path!r} is not {encoding} text, the encoding given ({exc.reason}){where}; pass "
            "the encoding the file is written in (--encoding NAME on the command line, "
            f"encoding=NAME in Python: utf-8, {_ENCODING_EXAMPLES}, ...), or leave it out to "
            "let fastem detect it")


# Characters beyond ASCII that Windows-1252 makes of the bytes 0x80-0x9F, but the quotes,
# dashes, ellipsis, bullet, euro and trade mark signs that Western text holds: two of them in
# a name are bytes of another encoding (the lead bytes of Shift-JIS: '\x83e\x83X\x83g',
# 'テスト', reads 'ƒeƒXƒg').
_ODD_CP1252 = frozenset(bytes(range(0x80, 0xA0)).decode("cp1252", errors="ignore")) - set(
    "\u20ac\u2018\u2019\u201c\u201d\u2013\u2014\u2026\u2022\u2122")
# Three characters beyond ASCII in a row: no Western word, but every word in Cyrillic,
# Greek, Chinese, Japanese or Korean read as Windows-1252 ('Äëèíà', 'ÎÂ¶È').
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]{3}")


def _guessed_encoding_note(path, sniffed):
    """The note for a CSV file whose encoding was not given, read as Windows-1252 (or
    Latin-1) because it is not UTF-8, when text beyond ASCII in it becomes names (the
    header's) or row labels that an output keeps (its unnamed index columns): those are
    a guess, which the note names, with how to give the encoding. It says so more
    strongly where the guess is almost certainly wrong: bytes that Windows-1252 does not
    define (read as Latin-1's controls), or names that read as no Western text does
    (:data:`_NON_ASCII_RUN`, :data:`_ODD_CP1252`). For a file read in an encoding that
    the user gave but UTF-8, UTF-16 and UTF-32: a note where those names and labels are
    bytes of UTF-8 text, which a file in another encoding all but never holds (a UTF-8
    file given its user's usual encoding). [] for any other file."""
    names = sniffed.names or []
    index = [v for sample in sniffed.index_sample for v in sample]
    guessed = list(dict.fromkeys(name for name in names + index if not name.isascii()))
    if not guessed:
        return []
    shown = _shown("names" if set(guessed) <= set(names) else "names and row labels", guessed)
    note = _encoding_note(path, sniffed.encoding, sniffed.given, shown, guessed)
    return [] if note is None else [note]


def _doubtful(encoding, given):
    """Whether text read in ``encoding`` (``given`` by the user, else detected) may be
    garbled without an error: the guess of Windows-1252 or Latin-1, or an encoding given
    but UTF-8, UTF-16 and UTF-32 (a UTF-8 file read in it)."""
    if given:
        return not encoding.startswith(("utf-8", "utf-16", "utf-32"))
    return encoding in ("cp1252", "latin-1")


def _encoding_note(path, encoding, given, shown, texts):
    """The note that ``texts``, text beyond ASCII of the file ``path`` (``shown``: what
    they are, :func:`_shown`), read in ``encoding`` (``given`` by the user, else
    detected), may be garbled: where fastem guessed it (:func:`_guess_note`), or where
    it was given but UTF-8, UTF-16 and UTF-32 and their bytes are UTF-8 text beyond ASCII
    (those of a 7-bit encoding, ISO-2022's escapes and HZ's, are ASCII); else None."""
    if not _doubtful(encoding, given):
        return None
    if not given:
        return _guess_note(path, encoding, shown, texts)
    try:
        as_utf8 = [text.encode(encoding).decode("utf-8") for text in texts]
    except UnicodeError:
        return None
    if any(text.isascii() for text in as_utf8):  # a 7-bit encoding's (ISO-2022, HZ)
        return None
    return (f"{path!r}: its {shown}, read in {encoding}, the encoding given, are bytes of "
            f"UTF-8 text, which read as {', '.join(map(repr, as_utf8[:4]))}: if the file is "
            "UTF-8, leave out the encoding (--encoding on the command line, encoding= in "
            "Python), which fastem then detects")


def _shown(kind, texts):
    """'names ('a', 'b')': ``kind``, then the first four of ``texts``."""
    return f"{kind} (" + ", ".join(repr(t) for t in texts[:4]) + (
        ", ...)" if len(texts) > 4 else ")")


def _guess_note(path, encoding, shown, texts):
    """The note that ``texts``, text beyond ASCII of the file ``path`` (``shown``: what
    they are, :func:`_shown`), were read in ``encoding``, 'cp1252' or 'latin-1', which
    fastem guessed (see :func:`_guessed_encoding_note`)."""
    how = ("pass the encoding it is written in: --encoding NAME (encoding=NAME in Python: "
           f"Chunks(..., encoding=NAME)), such as {_ENCODING_EXAMPLES}")
    odd = encoding == "latin-1" or any(
        _NON_ASCII_RUN.search(text) or sum(c in _ODD_CP1252 for c in text) >= 2
        for text in texts)
    what = "Latin-1, for bytes that Windows-1252 does not define" if (
        encoding == "latin-1") else "Windows-1252"
    if odd:
        return (f"{path!r} is not UTF-8 text, and its {shown} read as garbled text in "
                f"{what}, the encoding fastem guesses: the file is almost certainly in "
                f"another encoding, which fastem cannot tell. To read them right, {how}")
    return (f"{path!r} is not UTF-8 text; its {shown} are read as {what}, the "
            f"encoding fastem guesses (as Western spreadsheets write files). If they read "
            f"wrong, {how}")


def guessed_text_note(layout, columns):
    """The note that text beyond ASCII in ``columns`` (of the CSV file that ``layout``
    reads, as :func:`read_columns` gives them), which an output keeps (row labels, the
    text columns of an impute to another format), may be garbled (:func:`_encoding_note`),
    for text that the note of the file's names and first row labels did not name
    (:func:`_guessed_encoding_note`); None for any other."""
    if not _doubtful(layout.encoding, layout.given):
        return None
    texts = list(dict.fromkeys(
        value for column in columns if column.dtype == object for value in column
        if isinstance(value, str) and not value.isascii() and value not in layout.noted))
    if not texts:
        return None
    return _encoding_note(layout.path, layout.encoding, layout.given,
                          _shown("text values", texts), texts)


# Characters that text files do not hold: the C0 controls but tab, line feed, vertical tab,
# form feed and carriage return, and DEL.
_CONTROL = re.compile("[\x00-\x08\x0e-\x1f\x7f]")


# A character of UTF-8 beyond ASCII, well formed: a pair of bytes that Windows-1252
# text holds only as garbled text ("Ã©" for "é").
_UTF8_TEXT = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)


# The spaces that pandas reads around a number: C's isspace() in ASCII. float() and
# numpy.loadtxt also strip others, which pandas and pyarrow keep as text ('\xa01.5',
# '1.5\u2009', '\u30001.5', '\x1c1.5'): a no-break space copied from a web page or a
# spreadsheet, a thin space that groups digits.
_SPACES = " \t\n\v\f\r"


def _trimmed(field):
    """A field without the spaces around it that pandas reads around a number."""
    return field.strip(_SPACES)


def _is_number(text):
    text = _trimmed(text)
    # float() takes "1_000", the digits of every script ("\uff11", "\u0665") and the
    # spaces of every script around a number ("\xa01.5"); pandas and pyarrow take none
    # of them for a number
    if "_" in text or not (text.isascii() and text.isprintable()):
        return False
    try:
        number = float(text)
    except ValueError:
        return False
    return not math.isnan(number)  # a NaN is a missing value (_is_missing)


# float()'s spellings of NaN, which both fast parsers read as NaN: pandas' markers
# ('nan', 'NaN', '-nan', '-NaN') and the others ('NAN', '+nan', as C and Fortran write it),
# every case of [-+]?nan, listed so that a field is looked up once, not matched.
_NAN_SPELLINGS = frozenset(
    sign + "".join(letters) for sign in ("", "+", "-")
    for letters in itertools.product("nN", "aA", "nN")
)
_MISSING_VALUES = NA_VALUES | _NAN_SPELLINGS


def _is_missing(text):
    """A missing value, once trimmed: an empty field, one of pandas' markers (NA_VALUES), or
    another spelling of NaN, which pandas keeps as text but every reader here reads as NaN
    (as :func:`fill_csv` then fills it)."""
    return _trimmed(text) in _MISSING_VALUES


# A number written with signs or digit groups, once its currency signs (Unicode
# category Sc), percent signs, spaces, accounting parentheses and minus sign
# (U+2212) are read: data that a reader takes for text ("1.5%", "$3.00",
# "3,00 \u20ac", "(1.5)", "1'000", "1.234,56").
_GROUPED_NUMBER = re.compile(
    r"[-+]?(?:[0-9]{1,3}(?:[.,'\u2019][0-9]{3})+|[0-9]+)(?:[.,][0-9]+)?(?:[eE][-+]?[0-9]+)?")


def _decorated_number(text):
    """A number with signs or digit groups that :func:`_is_number` refuses."""
    if _is_number(text):
        return False
    text = text.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    text = "".join(c for c in text.replace("\u2212", "-")
                   if unicodedata.category(c) != "Sc" and c not in "%\u2030 \u00a0\u202f")
    return _GROUPED_NUMBER.fullmatch(text) is not None


# Digit groups of three set apart by one mark other than a comma (named in _bad_value), as
# many locales write thousands: a space (French, SI: 1 234 567,5), which spreadsheets write
# as a no-break space (U+00A0, U+202F) or a thin one (U+2009), an apostrophe (Swiss:
# 1'234.5) or a point (German: 1.234.567,5); then an optional decimal point or comma.
_GROUPED_DIGITS = re.compile(
    r"[-+]?[0-9]{1,3}([ \u00a0\u202f\u2009'\u2019.])[0-9]{3}(?:\1[0-9]{3})*(?:([.,])[0-9]*)?")
_GROUP_MARKS = {" ": "spaces", "'": "apostrophes", ".": "points"}


def _pandas_read(layout, options=""):
    """The pandas call that reads the CSV file of ``layout`` as fastem reads it, with the
    keywords ``options`` (text: ", sep=';', decimal=','"): without a header where it has
    none (pandas' default would take its first row of data for names), below its lines
    of notes, without the empty columns of a delimiter at the end of each line, in its
    encoding. For the fixes that errors give."""
    if layout.names is None:
        options += ", header=None"
    if layout.trailing:
        options += f", usecols=range({layout.trailing[0]})"
    if layout.comments:
        options += f", skiprows={layout.comments}"
    if layout.encoding not in ("utf-8", "utf-8-sig"):
        options += f", encoding={layout.encoding!r}"
    return f"pd.read_csv(path{options})"


def _pandas_write(layout):
    """The pandas call (of a DataFrame) that saves the file of :func:`_pandas_read` again
    as fastem reads it: without the row index, and without a header where it had none
    (pandas would write 0, 1, 2, ..., a row of data to fastem)."""
    return f"to_csv(new_path, index=False{', header=False' if layout.names is None else ''})"


def _pandas_resave(layout, options):
    """The pandas code that reads the CSV file of ``layout`` with the keywords ``options``
    (text: "thousands=','") and saves it again: :func:`_pandas_read`, :func:`_pandas_write`."""
    read = _pandas_read(layout, f", sep={layout.delimiter!r}, {options}")
    return f"{read}.{_pandas_write(layout)}"


def _notation_options(thousands, decimal):
    """pandas' keywords (text) that read numbers with the digit groups set apart by
    ``thousands`` (a character, or None) and the decimal mark ``decimal``."""
    options = [f"thousands={thousands!r}"] if thousands else []
    if decimal != ".":
        options.append(f"decimal={decimal!r}")
    if thousands and not thousands.isascii():  # pandas' C parser takes only ASCII for it
        options.append("engine='python'")
    return ", ".join(options)


def _pandas_number(field, thousands, decimal):
    """The number that pandas' read_csv, with :func:`_notation_options`, reads for ``field``
    in a column of numbers, or None where it reads the column as text. Its C parser takes
    a thousands mark anywhere after the first digit ('1.5' is 15 with thousands='.', and
    '5.' is 5), and a decimal point only as ``decimal``; its Python one (a mark beyond
    ASCII) takes no two marks in a row, and a plain number as written."""
    mark, point = re.escape(thousands or ""), re.escape(decimal)
    python = bool(thousands) and not thousands.isascii()
    text = field.strip() if python else _trimmed(field)
    whole = rf"(?:[0-9]+{mark}|[0-9])*" if python else rf"(?:[0-9][0-9{mark}]*)?"
    power = r"(?:[0-9]?[eE]-?[0-9]+)?" if python else r"(?:[eE][-+]?[0-9]+)?"
    found = re.fullmatch(rf"[-+]?({whole}(?:{point}[0-9]*)?){power}", text)
    if found is None or not any(c.isdigit() for c in found.group(1)):
        return float(field) if python and _is_number(field) else None
    return float((text.replace(thousands, "") if thousands else text).replace(decimal, "."))


def _in_notation(field, thousands, decimal):
    """Whether ``field`` is a number written with digit groups of three set apart by
    ``thousands`` (or none) and the decimal mark ``decimal``."""
    mark = re.escape(thousands or "")
    groups = rf"[0-9]{{1,3}}(?:{mark}[0-9]{{3}})+|" if thousands else ""
    return re.fullmatch(rf"[-+]?(?:{groups}[0-9]*)(?:{re.escape(decimal)}[0-9]*)?"
                        r"(?:[eE][-+]?[0-9]+)?", field.strip()) is not None


def _misread_field(layout, thousands, decimal):
    """The first field of the file of ``layout`` that pandas' read_csv with
    :func:`_notation_options` would not read as the notation means, where the file mixes
    notations: (line, data row, column, field, the number pandas reads or None), or None.
    A field that it reads as another number ('1.5' as 15 with thousands='.', '1,5' as 15
    with thousands=','), in a column that it reads as numbers; or a number in another
    notation that it does not read ('2.5' or '1.234,5' with decimal=','), so that it keeps
    a column as text whose numbers of the notation it was meant to convert. Reads the whole file (an error's
    path, :func:`_rows_to_check`)."""
    columns = [j for j in range(layout.n_fields) if j not in layout.trailing]
    text, converted, misread, unread = set(), set(), {}, {}
    for row_number, (line, row) in enumerate(_rows_to_check(layout), 1):
        for j in columns:
            field = row[j]
            if _is_missing(field):
                continue
            number = _pandas_number(field, thousands, decimal)
            place = (_field_line(line, row, j), row_number, j, field, number)
            if number is None:
                text.add(j)
                if _is_number(field) or _decorated_number(field):
                    unread.setdefault(j, place)
                continue
            if not _is_number(field):
                converted.add(j)
            if not _in_notation(field, thousands, decimal) and not (
                    _is_number(field) and number == float(field)):  # as written
                misread.setdefault(j, place)
    found = ([place for j, place in misread.items() if j not in text]
             + [place for j, place in unread.items() if j in converted])
    return min(found, key=lambda place: (place[0], place[2])) if found else None


def _mixed_notation(layout, value, thousands, decimal, found):
    """What :func:`_misread_field` ``found`` in the file of ``layout``, whose field
    ``value`` asked for the notation of ``thousands`` and ``decimal``: that the file mixes
    notations, which field pandas would misread, and that the file needs correcting."""
    line, row_number, j, field, number = found
    where = f"{field!r} on line {line} (data row {row_number}), {layout.column(j)}"
    what = (f"would read {where} as {shortest_text(number)}" if number is not None else
            f"would not read {where} as a number, and so would keep that column as text, "
            "its numbers unconverted")
    return (
        f"the file mixes notations: pandas' read_csv with "
        f"{_notation_options(thousands, decimal)} {what}; correct the numbers written in "
        f"another notation than {value!r} (such as {field!r}) so that every number of the "
        "file is written alike, before saving it as plain numbers"
    )


def _notation_resave(layout, value, thousands, decimal=".", shown="e.g. with pandas: {}"):
    """The pandas code of :func:`_pandas_resave` for numbers written with ``thousands``
    and ``decimal`` (:func:`_notation_options`), in the text ``shown``; or, where the file
    also holds numbers that it would misread (:func:`_misread_field`), why none is given."""
    found = _misread_field(layout, thousands, decimal)
    if found is not None:
        return _mixed_notation(layout, value, thousands, decimal, found)
    return shown.format(_pandas_resave(layout, _notation_options(thousands, decimal)))


_SPACED = ", sep=r'\\s+'"  # pandas' keyword for numbers separated by spaces, as text


def _spaced_resave(layout):
    """The pandas code that saves the file of ``layout``, of numbers separated by spaces,
    again with commas (see :func:`_pandas_resave`)."""
    return f"{_pandas_read(layout, _SPACED)}.{_pandas_write(layout)}"


def _grouped_digits(layout, value, where):
    """The error for ``value``, a number whose digit groups are set apart by a space, an
    apostrophe or a point (:data:`_GROUPED_DIGITS`), with the pandas call that reads it;
    None for another value. Groups set apart by ASCII spaces may also be numbers that
    numpy.savetxt set apart: the error says both, unless a decimal comma tells."""
    found = _GROUPED_DIGITS.fullmatch(value.strip(" \t"))
    if found is None or found.group(1) == found.group(2):  # 1.234.5 is no number
        return None
    mark, decimal = found.group(1), found.group(2)
    number = value.strip(" \t").replace(mark, "").replace(",", ".")
    # a file that groups digits with points has decimal commas
    fix = _notation_resave(layout, value, mark, "," if decimal == "," or mark == "." else ".",
                           "with pandas: {} for " + number if mark == " " and decimal != ","
                           else "e.g. with pandas: {}")
    named = _GROUP_MARKS.get(mark) or f"U+{ord(mark):04X} {_character_name(mark)}"
    comma = " and a decimal comma" if decimal == "," else ""
    if mark != " " or decimal == ",":
        return (
            f"{layout.path!r} has {value!r} on {where}, a number with {named} between its "
            f"digit groups{comma} ({number}); save the file without separators in numbers"
            f"{' and with decimal points' if comma else ''} ({fix})"
        )
    return (
        f"{layout.path!r} has {value!r} on {where}: a number with spaces between its digit "
        f"groups ({number}) or numbers separated by spaces (numpy.savetxt's default), which "
        "fastem cannot tell apart; fastem reads neither. Check which the file means, then "
        f"save it without separators in numbers ({fix}) or with "
        f"commas between its numbers ({_spaced_resave(layout)}, or np.savetxt(path, X, "
        "delimiter=','))"
    )


# Dashes that text written for print puts for a minus sign (a word processor's U+2212
# MINUS SIGN, an en dash, ...), which pandas and pyarrow read as text.
_MINUS_SIGNS = "\u2212\u2013\u2012\ufe63\uff0d"


def _typographic_minus(layout, value, where):
    """The error for ``value``, a number whose minus sign is one of :data:`_MINUS_SIGNS`,
    with how to replace it; None for another value."""
    signs = "".join(dict.fromkeys(c for c in value if c in _MINUS_SIGNS))
    if not signs or not _is_number(value.translate({ord(c): "-" for c in signs})):
        return None
    shown = " and ".join(f"U+{ord(c):04X} {_character_name(c)}" for c in signs)
    replaced = "".join(f".replace({c!r}, '-')" for c in signs)
    return (
        f"{layout.path!r} has {value!r} on {where}: a number written with {shown} for its "
        "minus sign, which pandas, and fastem, read as text (only '-' is a minus sign). "
        "Replace it in the file (e.g. in Python: text = open(path, "
        f"encoding={layout.encoding!r}).read(){replaced}, then write text to a new file)"
    )


# A unit written after a number ("3.2kg", "20 °C", "5 m/s", "12 m²"): letters, with an
# optional degree sign before them, a '/' or a point between words, a power after them.
_UNIT = re.compile(r"(.*?[0-9.)])\s*(°?[^\W\d_]+(?:[/.·][^\W\d_]+)*[²³]?)")
# A number's digits once its decorations are gone, with its groups: "1,234.50" (a comma
# between groups, a decimal point), "1.234,50" (points, a decimal comma), "1'234.50",
# "1 234,50" (apostrophes or spaces), or no groups ("12.5", "3,50": a decimal comma).
_DECORATED_DIGITS = re.compile(
    r"[-+]?(?:[0-9]{1,3}(?P<group>[,.'\u2019 \u00a0\u202f\u2009])[0-9]{3}"
    r"(?:(?P=group)[0-9]{3})*|[0-9]*)(?:(?P<decimal>[.,])[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_PERCENT_SIGNS = "%\u2030"


def _raw(pattern):
    """``pattern`` written as Python writes a regular expression: r'...' where it can."""
    return f"r'{pattern}'" if "'" not in pattern and not pattern.endswith("\\") else repr(pattern)


def _decorated_value(layout, value, where, j):
    """The error for ``value``, a number written with a currency sign ('$1,234.50', '€3',
    '1.234,50 €'), a percent sign ('12%'), an accountant's brackets for a negative number
    ('(12.5)') or a unit after it ('3.2kg'), each of which pandas reads as text, on
    ``where`` (the line, row and column ``j``) of a CSV file: what it holds, and a pandas
    call that reads the column as numbers. None for another value."""
    column = j if layout.names is None else layout.names[j]

    def fields():  # the column's fields, each with its place, for the misread ones
        for row_number, (line, row) in enumerate(_rows_to_check(layout), 1):
            yield (f"line {_field_line(line, row, j)} (data row {row_number}), "
                   f"{layout.column(j)}", row[j])

    return _decorated_number_error(
        value, f"{layout.path!r} has {value!r} on {where}", column,
        _pandas_read(layout, "" if layout.delimiter == "," else f", sep={layout.delimiter!r}"),
        f"df.{_pandas_write(layout)}", fields)


def _decorated_number_error(value, what_where, column, read, write, fields):
    """The error for ``value`` of :func:`_decorated_value`, which ``what_where`` names with
    its place in its file, in the ``column`` that pandas' ``read`` (code) reads and
    ``write`` saves again; None for another value. ``fields()``: (place, field) of each
    value of the column, in order, where the pandas steps for ``value`` may misread
    another value written in another notation ('2.50 €' as 250 beside '1.234,50 €')."""
    text = value.strip()
    brackets = len(text) > 2 and text[0] == "(" and text[-1] == ")"
    if brackets:
        text = text[1:-1].strip()
    signs = "".join(dict.fromkeys(
        c for c in text if unicodedata.category(c) == "Sc" or c in _PERCENT_SIGNS))
    text = "".join(c for c in text if c not in signs).strip()
    unit = None
    found = _UNIT.fullmatch(text)
    if found is not None:
        text, unit = found.group(1), found.group(2)
    minus = "".join(dict.fromkeys(c for c in text if c in _MINUS_SIGNS))
    text = text.translate({ord(c): "-" for c in minus})
    if text[:1] in ("-", "+"):  # "-$5", "- 5 %"
        text = text[0] + text[1:].strip()
    digits = _DECORATED_DIGITS.fullmatch(text)
    if not (brackets or signs or unit) or digits is None or not any(map(str.isdigit, text)):
        return None
    group, decimal = digits.group("group"), digits.group("decimal")
    if group is not None and group == decimal:
        return None  # 1.234.5 is no number
    comma_decimal = decimal == "," or group == "."
    ambiguous = group == "," and decimal is None and text.count(",") == 1
    number = text.replace(group, "") if group else text
    number = number.replace(",", ".") if comma_decimal else number
    number = ("-" + number.lstrip("+")) if brackets and not number.startswith("-") else number
    if not _is_number(number):
        return None
    what = []
    if signs:
        shown = " and ".join(repr(c) for c in signs)
        kind = ("a percent sign" if signs == "%" else "a per mille sign" if signs == "\u2030"
                else "a currency sign" if not any(c in _PERCENT_SIGNS for c in signs)
                else "signs")
        what.append(f"{kind} ({shown})")
    if brackets:
        what.append("an accountant's brackets for a negative number")
    if unit:
        what.append(f"a unit ({unit!r})")
    if minus:
        what.append(" and ".join(f"U+{ord(c):04X} {_character_name(c)}" for c in minus) +
                    " for its minus sign")
    if group is not None:
        what.append(f"{_GROUP_MARKS.get(group, 'commas' if group == ',' else repr(group))} "
                    "between its digit groups")
    if comma_decimal:
        what.append("a decimal comma")
    number_text = number.lstrip("+")
    written = f"{', '.join(what[:-1]) + ' and ' if len(what) > 1 else ''}{what[-1]}"
    # the pandas steps that take the decorations off the column's text, in order, each
    # with the same step in Python
    steps = []
    if brackets:
        steps.append((".str.strip().str.replace(r'^\\((.*)\\)$', r'-\\1', regex=True)",
                      lambda t: re.sub(r"^\((.*)\)$", r"-\1", t.strip(), flags=re.DOTALL)))
    decorations = [re.escape(c) for c in signs] + ([re.escape(unit)] if unit else [])
    separators = [re.escape(group)] if group is not None and group != " " else []
    if any(c.isspace() for c in value.strip()):
        separators.append(r"\s")
    if decorations or separators:
        removed = "|".join(decorations + separators)
        steps.append((f".str.replace({_raw(removed)}, '', regex=True)",
                      lambda t: re.sub(removed, "", t)))
    for c in minus:
        steps.append((f".str.replace({c!r}, '-')", lambda t, c=c: t.replace(c, "-")))
    if comma_decimal:
        steps.append((".str.replace(',', '.')", lambda t: t.replace(",", ".")))
    found = _misread_decorated(fields(), steps, decorations, group,
                               "," if comma_decimal else ".")
    if found is not None:
        place, field, number = found
        return (
            f"{what_where}: a number ({number_text}) written with {written}, which pandas, "
            f"and fastem, read as text; but the column mixes notations: the pandas steps "
            f"that take those off would read {field!r} on {place} as {shortest_text(number)}. "
            f"Correct the numbers written in another notation than {value!r} (such as "
            f"{field!r}) so that every number of the column is written alike, then save the "
            "column as plain numbers"
        )
    fix = (f"df = {read}; df[{column!r}] = pd.to_numeric(df[{column!r}]"
           f"{''.join(code for code, _ in steps)}); {write}")
    notes = ""
    for c, per in (("%", 100), ("\u2030", 1000)):
        if c in signs:
            notes += f"; divide by {per} for fractions of {c!r}"
    if unit:
        notes += f"; keep the unit ({unit}) in the column's name instead"
    if ambiguous:
        notes += (f"; if its comma is a decimal comma ({text.replace(',', '.')}), not a "
                  "thousands separator, replace ',' by '.' instead of removing it")
    return (
        f"{what_where}: a number ({number_text}) written with {written}, which "
        "pandas, and fastem, read as text. "
        f"Save the column as plain numbers (e.g. with pandas: {fix}{notes})"
    )


def _misread_decorated(fields, steps, decorations, group, decimal):
    """The first of ``fields`` ((place, field) pairs) that the pandas ``steps`` of
    :func:`_decorated_number_error` ((code, the same step in Python) pairs) turn into
    another number than its notation means: (place, field, number), or None. The notation:
    digit groups set apart by ``group`` (or none), the decimal mark ``decimal``, once the
    ``decorations`` (regular expressions of signs and a unit), brackets and minus signs of
    print are off."""
    for place, field in fields:
        if field is None or _is_missing(field):
            continue
        text = field
        for _, step in steps:
            text = step(text)
        if not _is_number(text):
            continue  # which pd.to_numeric refuses, not misreads
        number = float(text)
        core = re.sub(r"^\((.*)\)$", r"\1", field.strip(), flags=re.DOTALL)
        core = re.sub("|".join(decorations), "", core) if decorations else core
        core = re.sub(r"^([-+])\s+", r"\1",
                      core.translate({ord(c): "-" for c in _MINUS_SIGNS}).strip())
        if not _in_notation(core, group, decimal) and not (
                _is_number(field) and float(field) == number):  # as written
            return place, field, number
    return None


def _spaced_numbers(text):
    """True for numbers separated by spaces ("1.5 2.5"), as numpy.savetxt writes by default."""
    parts = text.split()
    return len(parts) > 1 and all(_is_number(v) for v in parts)


def _is_comment(line):
    """A line of notes (or a row's first field that may start one): '#' first, and not
    pandas' missing-value marker or a spreadsheet's error value (#DIV/0!, #VALUE!), which
    are values of a row."""
    if not line.startswith("#"):
        return False
    first = line.split(",")[0].split(";")[0].split("\t")[0].split("|")[0].strip()
    return first not in NA_VALUES and not _SPREADSHEET_ERROR.fullmatch(first)


# A spreadsheet's error value (#DIV/0!, #VALUE!, #NAME?), not a note.
_SPREADSHEET_ERROR = re.compile(r"#[A-Z][A-Z0-9_/]*[!?]|#N/A|#GETTING_DATA")
# What marks a missing value in data sets that do not write pandas' markers: UCI's '?',
# SAS's '.', a dash, an asterisk; and a spreadsheet's error values.
_MISSING_MARK = re.compile(r"\?+|\.|-+|\*+|" + _SPREADSHEET_ERROR.pattern)


_SEP_LINE = re.compile(r'"?sep=(.)"?')


def _delimiter_line(path, encoding):
    """The delimiter named by a first line such as "sep=;" (Excel's hint), or None."""
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        first = f.readline().rstrip("\r\n")
    match = _SEP_LINE.fullmatch(first)
    return match.group(1) if match else None


def _comment_lines(path, encoding, skip=0):
    """(number of leading comment lines after ``skip`` lines, whether one holds a quote character)."""
    count, quoted = 0, False
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        for _ in range(skip):
            f.readline()
        for line in f:
            if not _is_comment(line):
                break
            count += 1
            quoted = quoted or '"' in line
    return count, quoted


def _is_blank(row, text=None):
    """An empty line, or spaces only: skipped wherever it stands. A record whose one field
    is quoted (``""``, how pandas writes a missing value in a file of one column) is not
    blank when its ``text`` is given: it holds an empty field."""
    return not row or (len(row) == 1 and not row[0].strip() and (text is None or '"' not in text))


_FIELD_LIMIT = threading.Lock()
_field_limit_users = {"count": 0, "saved": None}


def _field_limit_lock_of_a_forked_child():
    """Give a forked child a lock of the csv limit that no thread holds: a parent thread
    that held it as it started or ended a read does not exist in the child, whose first
    read of a CSV file would wait for it forever. The reads of parent threads do not go
    on in the child either: the limit they lifted is put back there."""
    global _FIELD_LIMIT
    _FIELD_LIMIT = threading.Lock()
    if _field_limit_users["count"]:
        csv.field_size_limit(_field_limit_users["saved"])
        _field_limit_users["count"] = 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_field_limit_lock_of_a_forked_child)


@contextlib.contextmanager
def _long_fields():
    """Lift the csv module's limit on a field's length (131,072 characters) while it
    reads: a line of 7,000 numbers is one field of each delimiter the sniffer tries but
    its own, and a long text field is a field. The limit is the module's, shared by the
    process: it is put back when the last of fastem's concurrent reads ends."""
    with _FIELD_LIMIT:
        if _field_limit_users["count"] == 0:
            _field_limit_users["saved"] = csv.field_size_limit(2**31 - 1)
        _field_limit_users["count"] += 1
    try:
        yield
    finally:
        with _FIELD_LIMIT:
            _field_limit_users["count"] -= 1
            if _field_limit_users["count"] == 0:
                csv.field_size_limit(_field_limit_users["saved"])


def _lines_through_header(path, encoding, delimiter, skip):
    """Physical lines from line ``skip + 1`` through the end of the first record that is not
    blank (the header): blank lines above it, and every line of a quoted field with line
    breaks, count. pyarrow's ``skip_rows`` and numpy's ``skiprows`` count lines so."""
    with open(path, encoding=encoding, errors="replace", newline="") as f, _long_fields():
        for _ in range(skip):
            f.readline()
        reader = csv.reader(f, delimiter=delimiter)
        for row in reader:
            if not _is_blank(row):
                break
        return reader.line_num


def _sample_rows(path, encoding, delimiter, skip=0):
    """The first rows (at most ``_SNIFF_ROWS``), each whole however long its line."""
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        for _ in range(skip):
            f.readline()
        # lines end at LF, CR or CRLF only (str.splitlines would also cut at U+0085,
        # which a Latin-1 header can hold)
        lines = io.StringIO(f.read(_SNIFF_BYTES), newline="").readlines()
        if lines and not lines[-1].endswith(("\n", "\r")):
            lines[-1] += f.readline()  # finish the line the sample cut short
        while len(lines) < 2 and lines:  # a header and a row, however wide
            line = f.readline()
            if not line:
                break
            lines.append(line)
    with _long_fields():
        rows = [row for row in csv.reader(lines, delimiter=delimiter) if not _is_blank(row)]
    return rows[:_SNIFF_ROWS]


_DECIMAL_COMMA = re.compile(r"[-+]?[0-9]*,[0-9]+(?:[eE][-+]?[0-9]+)?")


def _delimiter(path, encoding, skip):
    """The delimiter that splits the sampled lines most consistently (numbers preferred)."""
    best, best_score = ",", None
    for delimiter in _DELIMITERS:
        # a line of spaces and tabs only splits on a tab, but is no row of several fields
        # for the delimiter to split: in a file of one column, a spreadsheet's empty cell
        rows = [row for row in _sample_rows(path, encoding, delimiter, skip)
                if any(v.strip() for v in row)]
        widths = [len(row) for row in rows]
        if not rows or max(widths) < 2:
            continue
        body = rows[1:] or rows
        consistent = len(set(widths[1:] or widths)) == 1
        # numbers with a decimal comma count for another delimiter, so that
        # "1,25;-0,37" splits on ';' and its decimal commas are then named
        numeric = np.mean([_is_number(v) or _is_missing(v)
                           or (delimiter != "," and _DECIMAL_COMMA.fullmatch(_trimmed(v)) is not None)
                           for r in body for v in r])
        score = (consistent and len(set(widths)) == 1, consistent, numeric, max(widths))
        if best_score is None or score > best_score:
            best, best_score = delimiter, score
    return best


def _reads_as_data(field):
    """A field that is no name: a number, a missing-value marker (pandas', or a mark such
    as '?' that other data sets use), or numbers separated by spaces."""
    return (_is_number(field) or _is_missing(field) or _spaced_numbers(field)
            or _MISSING_MARK.fullmatch(_trimmed(field)) is not None)


def _header(first_row, header=None, quoted=False):
    """The first row's fields as names if it is a header, else None.

    ``header=None`` decides from the fields: a header has a field that
    :func:`_reads_as_data` does not accept, or is ``quoted``: written as text
    above rows that are not (:func:`_quoted_first_row`).
    """
    if header is None:
        header = quoted or not all(_reads_as_data(v) for v in first_row)
    return list(first_row) if header else None


def _quoted_first_row(path, encoding, delimiter, skip):
    """Whether the first row quotes every field (empty ones aside, as a trailing delimiter
    leaves, or quoted: ``""``), all different, and a row below it (among the first
    ``_SNIFF_ROWS``) leaves one unquoted: names written as text above rows of numbers, as
    R's ``write.csv``, ``csv.QUOTE_NONNUMERIC`` and fastem's own output write names that
    read as numbers or missing values ("450","500" of wavelengths, "NA"). A file that
    quotes every field (``csv.QUOTE_ALL``) says nothing so, nor does a first row of missing
    values that ``csv.QUOTE_NONNUMERIC`` quotes (``"",""``, ``"NA","NA"`` from
    ``df.to_csv(quoting=csv.QUOTE_NONNUMERIC, header=False)``): no header repeats a name
    (pandas and R make names unique) or has none."""
    with open(path, encoding=encoding, errors="replace", newline="") as f, _long_fields():
        for _ in range(skip):
            f.readline()
        consumed = []

        def lines():
            for text in f:
                consumed.append(text)
                yield text

        quoted = []  # per record: whether each field but the empty ones is quoted
        for row in csv.reader(lines(), delimiter=delimiter):
            text = "".join(consumed)
            consumed.clear()
            if _is_blank(row):
                continue
            if not quoted:
                names = [value for value in row if value.strip()]
            fields = [text[start:stop] for start, stop in _field_spans(text, delimiter)]
            quoted.append([field.startswith('"')
                           for field, value in zip(fields, row) if value.strip()])
            if not all(quoted[0]) or len(quoted) > _SNIFF_ROWS or not all(quoted[-1]):
                break
    return (any(quoted[0]) and all(quoted[0]) and len(set(names)) == len(names)
            and any(not all(q) for q in quoted[1:]))


def _trailing_columns(rows, names):
    """(fields per data row, how many of the last ones are empty columns of trailing separators).

    A line that ends with its delimiter ("1,2,", as spreadsheets export) has
    an empty last field. Such trailing columns have no name (or no header
    field at all) and are empty in every sampled row; pandas reads them as
    columns of NaN ('Unnamed: 2'), which no mixture can fit.
    """
    body = rows[1:] if names is not None else rows
    n_fields = len(rows[0])
    widths = {len(row) for row in body}
    if (names is not None and len(widths) == 1 and min(widths) > n_fields
            and all(not v.strip() for row in body for v in row[n_fields:])):
        n_fields = min(widths)  # "a,b" above rows of "1,2,"
    if (names is not None and len(widths) == 1 and min(widths) < n_fields
            and all(not name.strip() for name in names[min(widths):])):
        n_fields = min(widths)  # "a,b," above rows of "1,2": the header's own empty fields
    count = 0
    while body and count < n_fields - 1:
        j = n_fields - 1 - count
        if names is not None and j < len(names) and names[j].strip():
            break
        if any(j < len(row) and row[j].strip() for row in body):
            break
        count += 1
    return n_fields, count


def _pandas_names(names, n_fields):
    """A header's names as pandas reads them: a missing or empty name is 'Unnamed: j'."""
    names = list(names) + [""] * (n_fields - len(names))
    return [name if name else f"Unnamed: {j}" for j, name in enumerate(names)]


def unique_names(names):
    """pandas' names for a header with repeats: the second 'x' is 'x.1' (or the next free)."""
    used, seen, unique = set(names), set(), []
    for name in names:
        if name in seen:
            k = 1
            while f"{name}.{k}" in used:
                k += 1
            name = f"{name}.{k}"
            used.add(name)
        seen.add(name)
        unique.append(name)
    return unique


# Characters that a table of numbers is made of: digits, delimiters, line ends.
_STRUCTURE = frozenset("0123456789.,;|\t\r\n")
_STRUCTURE_BYTES = frozenset(c.encode()[0] for c in _STRUCTURE)


def _unmarked_wide_encoding(head):
    """UTF-16 or UTF-32 without a byte-order mark, or None.

    A text file in a single-byte encoding or UTF-8 has no NUL bytes; in
    UTF-16 and UTF-32 every character below U+0100 (digits, delimiters, line
    ends) has some. (Windows tools write "Unicode" text without the mark.)
    Each wide encoding is tried on the head of the file. The right one
    decodes it with no NUL character, and into the digits, delimiters and
    line ends whose bytes the head holds: at least half of them, the rest
    being bytes of other characters that happen to equal them. A wrong byte
    order or width fails to decode, yields NUL characters, or turns those
    bytes into other characters; so does a UTF-8 file with a stray NUL byte.
    This holds whatever the script of the names (a header in Chinese above a
    single row) and without a line end in the head (a very wide header).
    """
    if b"\0" not in head:
        return None
    in_bytes = sum(1 for b in head if b in _STRUCTURE_BYTES)
    found = []
    for encoding in ("utf-32-le", "utf-32-be", "utf-16-le", "utf-16-be"):
        try:
            text = codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError:
            continue
        structure = sum(1 for c in text if c in _STRUCTURE)
        if "\0" not in text and structure > 0 and 2 * structure >= in_bytes:
            found.append((structure, encoding))
    found.sort()
    if not found or (len(found) > 1 and found[-1][0] == found[-2][0]):
        return None  # no wide encoding fits, or two fit as well: not decided here
    return found[-1][1]


# The first bytes of binary formats that are given as CSV by mistake: (magic, what, fix).
_BINARY_FORMATS = (
    (b"\x1f\x8b", "gzip-compressed", "decompress it first (gunzip FILE)"),
    (b"BZh", "bzip2-compressed", "decompress it first (bunzip2 FILE)"),
    (b"\xfd7zXZ\x00", "xz-compressed", "decompress it first (unxz FILE)"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed", "decompress it first (unzstd FILE)"),
    (b"PK\x03\x04", "zip (or .xlsx/.npz)", "extract the table, or save it as CSV (an .npz "
     "archive's arrays are np.load(path)[name])"),
    (b"PAR1", "parquet", "give it the .parquet extension"),
    (b"\x93NUMPY", "NumPy .npy", "give it the .npy extension"),
    (b"\x89HDF\r\n\x1a\n", "HDF5", "export the table as CSV, .npy or .parquet"),
)


def binary_format(head):
    """``(what, fix)`` for a file that starts with the bytes ``head`` in a known binary format
    ('gzip-compressed', 'decompress it first (gunzip FILE)'), else None."""
    for magic, what, fix in _BINARY_FORMATS:
        if head.startswith(magic):
            return what, fix
    return None


def _check_not_binary(path, head):
    """Refuse a file that starts like a known binary format, naming the format and the fix."""
    known = binary_format(head)
    if known is not None:
        raise ValueError(f"{path!r} is a {known[0]} file, not CSV text; {known[1]}")


def _regular_file(path):
    """``path`` opened for binary reading when it is a regular file; a FIFO, a device or a
    directory is refused at once (a FIFO would block the reader, a device never end)."""
    from .io import open_regular_file

    return open_regular_file(path, "data file", "Pass a .csv or .parquet file.")


def _sniff(path, header=None, encoding=None):
    """What the first lines of a CSV file say about it, as a :class:`_Sniffed`; ``encoding``:
    the one given (:func:`check_encoding`), else None to detect it."""
    with _regular_file(path) as f:
        head = f.read(_SNIFF_BYTES)
    if not head.strip():
        raise ValueError(f"{path!r} is empty; expected rows of numbers separated by commas")
    _check_not_binary(path, head)
    given = encoding is not None
    encoding = (_given_encoding(path, head, check_encoding(encoding)) if given
                else _encoding(head))
    hinted = _delimiter_line(path, encoding)
    sep_line = hinted is not None
    count, quoted = _comment_lines(path, encoding, skip=sep_line)
    comments = (sep_line + count, quoted)  # every line above the table
    delimiter = hinted or _delimiter(path, encoding, comments[0])
    rows = _sample_rows(path, encoding, delimiter, comments[0])
    if not rows:
        what = "comment lines" if count else "a delimiter line" if sep_line else "blank lines"
        raise ValueError(f"{path!r} has only {what}; expected rows of numbers")
    quoted = (header is None and all(_reads_as_data(v) for v in rows[0])
              and _quoted_first_row(path, encoding, delimiter, comments[0]))
    names = _header(rows[0], header, quoted)
    header_lines = 0 if names is None else _lines_through_header(
        path, encoding, delimiter, comments[0]
    )
    n_fields, trailing = _trailing_columns(rows, names)
    left_out = trailing
    if names is not None:
        left_out += max(0, len(names) - n_fields)  # empty names beyond the rows' fields
        names = _pandas_names(names[:n_fields], n_fields)
    sniffed = _Sniffed(encoding, delimiter, names, n_fields, trailing, left_out, comments,
                       sep_line, header_lines)
    sniffed.given = given
    if not given and encoding == "utf-8" and any("\ufffd" in name for name in names or ()):
        # names of bytes that are not UTF-8 in a file read as UTF-8, for text in its head
        # that is (_encoding): a mix of encodings, or one (GBK, Big5, EUC-KR) whose bytes
        # happen to hold UTF-8's; refused rather than read as U+FFFD
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError as exc:
            raise ValueError(_encoding_error(path, encoding, given, exc)) from None
    # the first values of the unnamed first columns, which are left out as the row index
    # (its levels), one list per column
    sniffed.index_sample = [[row[j] for row in rows[1:] if len(row) > j]
                            for j in range(_index_columns(names))]
    return sniffed


class _Sniffed:
    """A CSV file's encoding, delimiter and header.

    ``names`` are the header's names as pandas reads them (None without a
    header), one per field; ``n_fields`` the fields of a data row, the last
    ``trailing`` of which are the empty columns of trailing separators;
    ``left_out`` counts those and the header's empty fields beyond its rows';
    ``comments`` is ``(count, quoted)``: the lines above the table (Excel's
    "sep=;" line when ``sep_line``, then the lines that start with '#'), and
    whether one of them holds a quote character; ``header_lines`` the lines
    below those through the end of the header (blank lines above it and the
    lines of a quoted name with line breaks included; 0 without a header).
    """

    def __init__(self, encoding, delimiter, names, n_fields, trailing, left_out, comments,
                 sep_line, header_lines):
        self.encoding = encoding
        self.delimiter = delimiter
        self.names = names
        self.n_fields = n_fields
        self.trailing = trailing
        self.left_out = left_out
        self.comments = comments
        self.sep_line = sep_line
        self.header_lines = header_lines
        self.index_sample = []  # the first values of the unnamed first columns (see _sniff)
        self.given = False  # whether the user gave the encoding, else it was detected

    def data_columns(self):
        """Positions of the columns that hold data: no index columns, no trailing empty ones."""
        return list(range(_index_columns(self.names), self.n_fields - self.trailing))


_INTEGER = re.compile(r"\s*[-+]?[0-9]+\s*", re.ASCII)  # \s: pandas' spaces only


# Rows below a first row of numbers that it must stand apart from, in every
# column, to be noted: a row of data does so by chance with a probability of
# about (2 / (rows + 1)) ** columns.
_APART_ROWS = 9


def _stands_apart(first, body):
    """Whether every value of ``first`` lies far outside the range of its column in ``body``:
    further from it than the range is wide (wavelengths of 450 above reflectances within
    [0, 1]; not the smallest row of sorted data, nor one outlier among spread values)."""
    values = [float(v) for v in first]
    if not all(np.isfinite(values)):
        return False
    columns = [[float(r[j]) for r in body if j < len(r) and _is_number(r[j])]
               for j in range(len(first))]
    if min(len(c) for c in columns) < _APART_ROWS:
        return False
    for v, c in zip(values, columns):
        lo, hi = min(c), max(c)
        if not (np.isfinite(lo) and np.isfinite(hi) and max(lo - v, v - hi) > max(hi - lo, 0.0)):
            return False
    return True


def _why_names(first, body):
    """Why a first row of numbers looks like column names, or None when it does not
    (see :func:`_numeric_header_note`)."""
    if (len(first) < 2 or not all(_is_number(v) for v in first)
            or len({float(v) for v in first}) < len(first)):
        return None
    if all(_INTEGER.fullmatch(v) for v in first) and any(
            _is_number(v) and not _INTEGER.fullmatch(v) for r in body for v in r):
        return "holds whole numbers above rows of fractions"
    if _stands_apart(first, body):
        return "lies far outside the range of the rows below it in every column"
    return None


def _pandas_labels(first):
    """Why a first row of numbers may be the header of a DataFrame without column names,
    which ``df.to_csv(path, index=False)`` writes as 0, 1, 2, ..., or None. Only a note:
    above counts such a row may be data too, and it stays data (see :func:`spells_names`)."""
    if len(first) < 2 or [v.strip() for v in first] != [str(j) for j in range(len(first))]:
        return None
    return ("holds 0, 1, 2, ..., the labels that pandas writes as the header of a DataFrame "
            "without column names")


class FirstRow(NamedTuple):
    """A CSV file's first row, read as data because no header was found above it."""

    fields: list  # its fields, stripped
    looks_like_names: bool  # numbers that look like column names (see _why_names)


def unnamed_first_row(path, encoding=None):
    """:class:`FirstRow` of a CSV file in which no header is found, else None; ``encoding``
    as for :func:`read_csv`."""
    sniffed = _sniff(path, encoding=encoding)
    if sniffed.names is not None:
        return None
    rows = _sample_rows(path, sniffed.encoding, sniffed.delimiter, sniffed.comments[0])
    return FirstRow([v.strip() for v in rows[0]], _why_names(rows[0], rows[1:]) is not None)


def spells_names(row, names):
    """Whether a first row read as data (:attr:`FirstRow.fields`) is ``names`` as written,
    in their order: the header that ``df.to_csv`` writes for columns named 1, 2, 3, which
    no rule tells from a first row of counts 1, 2, 3."""
    return row == [str(n).strip() for n in names]


def names_in_row(names, row):
    """For each of the model's ``names``, its position in the first ``row`` of a file
    (:attr:`FirstRow.fields`), if the row holds exactly those names, each once, in any
    order, as written or as the same number ('400', ' 400', '400.0'); else None."""
    def key(text):
        text = text.strip()
        try:
            return ("number", float(text))
        except ValueError:
            return ("text", text)

    keys = [key(field) for field in row]
    wanted = [key(name) for name in names]
    if len(set(keys)) != len(keys) or sorted(keys) != sorted(wanted):
        return None
    position = {k: j for j, k in enumerate(keys)}
    return [position[k] for k in wanted]


def _numeric_header_note(path, encoding, delimiter, comments):
    """A note when a first row read as data looks like names that are numbers.

    Numbers, all different, that are whole above rows of fractions, that are
    0, 1, 2, ... (pandas' labels of columns without names, above counts too),
    or that each lie outside the range of their column in the rows below: the
    column labels of spectra (wavelengths, 450.5 above reflectances) or of
    years (2019 above counts), which no rule can tell from data for sure. The
    note says how to read them as names.
    """
    rows = _sample_rows(path, encoding, delimiter, comments)
    first = rows[0]
    why = _why_names(first, rows[1:]) or _pandas_labels(first)
    if why is None:
        return []
    shown = ", ".join(v.strip() for v in first[:4]) + (", ..." if len(first) > 4 else "")
    return [f"{path!r}: its first row ({shown}) {why}; it is read as data. If these are "
            "column names, pass --header yes (header=True in Python: Chunks(..., header=True))"]


def _data_like_names_note(path, encoding, delimiter, comments):
    """A note when a first row read as names looks like a row of data.

    The row is names because a field of it is not a number. When every such
    field is a number written with a sign, digit groups or a decimal comma
    ('1.5%', '$3', '1,000', '1,5'), or stands in a column whose rows below hold
    text too (a column of labels), and every other field is a number in a
    column of numbers (written so or plainly), the row may well be the first
    row of a file without a header (UCI's ``iris.data``; a spreadsheet's of
    decimal commas), which is then left out of the data. The note says how to
    read it as data.
    """
    rows = _sample_rows(path, encoding, delimiter, comments)
    first, body = rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]
    names_text = {j for j, v in enumerate(first) if not _reads_as_data(v)}  # why it is names
    # Also names ('2.5 %,97.5 %' of R's confint): a note too many costs less than a
    # row of data left out unsaid.
    decorated = {j for j in names_text if _decorated_number(first[j])}
    if not names_text or len(body) < (1 if decorated == names_text else 2):
        return []
    # numbers written with signs are numbers here: a file of them has no text column
    text_columns = {j for j in range(len(first))
                    if not all(_reads_as_data(r[j]) or _decorated_number(r[j]) for r in body)}
    if not names_text <= text_columns | decorated or len(text_columns) == len(first):
        return []
    numbers = [j for j in range(len(first)) if j not in text_columns]
    if _why_names([first[j] for j in numbers], [[r[j] for j in numbers] for r in body]):
        return []  # years above counts beside a column of labels: names after all
    shown = ", ".join(v.strip() for v in first[:4]) + (", ..." if len(first) > 4 else "")
    shown_signs = ", ".join(repr(_trimmed(first[j])) for j in sorted(decorated))
    signs = (f" ({shown_signs}: a number written with a sign, digit groups, a decimal comma or "
             "a space beyond ASCII, which fastem reads only as text; write it plainly)"
             if decorated else "")
    return [f"{path!r}: its first row ({shown}) is read as the column names, but it looks like "
            "a row of data: numbers where the rows below have numbers, text only where they "
            f"have text too{signs}. If it is data, pass --header no (header=False in Python: "
            "Chunks(..., header=False))"]


def _index_columns(names):
    """How many leading columns hold a DataFrame's row labels: unnamed, as pandas writes them."""
    if names is None:
        return 0
    count = 0
    while count < len(names) - 1 and (names[count] in _INDEX_NAMES
                                      or re.fullmatch(r"Unnamed: \d+", names[count])):
        count += 1
    return count


def header_problem(names, n_index=0):
    """``(position, why)`` of the first of ``names`` that a CSV header does not hold so that
    :func:`read_csv` (and pandas) read it back as written, else None: an empty name, which
    readers read as 'Unnamed: j', a name that marks the row index which pandas writes
    (empty, or 'Unnamed: 0', first or after the index's), whose column readers leave out,
    the one name of a header that reads as another line (blank, or 'sep=;'), and a name
    written twice (a row index named as a column: 'component'), which readers rename.
    ``n_index``: the first names are those of the row index, written empty when unnamed."""
    names = [str(name) for name in names]
    index = _index_columns(names)
    if index > n_index:
        where = "first" if n_index == 0 else "right after the row index"
        return n_index, (f"a column named {names[n_index]!r} {where} is the row index that "
                         "pandas writes (df.to_csv(path)), which readers leave out of the data")
    if "" in names[n_index:]:
        j = names.index("", n_index)
        return j, f"an empty name is read as 'Unnamed: {j}'"
    if len(names) == 1 and not names[0].strip():
        return 0, "a header of one blank name is a blank line, which readers skip"
    if len(names) == 1 and _SEP_LINE.fullmatch(names[0]):
        return 0, "a first line such as 'sep=;' is a spreadsheet's note of the delimiter"
    first = {}
    for j, name in enumerate(names):
        if name and name in first:  # unnamed index levels are all written empty
            return j, (f"it is the name of column {first[name] + 1} too, and readers rename a "
                       f"repeated name (to {name + '.1'!r}, as pandas does)")
        first.setdefault(name, j)
    return None


# The names that pandas gives a row index without a name: 'Unnamed: 0' read from a CSV
# file, '__index_level_0__' in a parquet file.
UNNAMED_INDEX = re.compile(r"Unnamed: \d+|__index_level_\d+__")


def index_positions(path, layout=None):
    """Positions among a file's columns (as :func:`read_columns` gives them) of those that
    hold a pandas DataFrame's row index: a CSV file's unnamed first columns (``layout``,
    see :func:`read_csv`), the columns that a parquet file's pandas metadata lists."""
    if layout is not None:
        return list(range(_index_columns(layout.names)))
    schema = _parquet_schema(path)
    index = _parquet_index_columns(schema)
    return [j for j, name in enumerate(schema.names) if name in index]


def parquet_range_index(path):
    """A parquet file's pandas row index of RangeIndex levels, which its metadata alone
    records (no column; a MultiIndex of such levels too), as the levels' names
    ('__index_level_k__' for one without a name) and labels, int64 arrays of shape
    (n_rows,); None for a file of another index, of the default one (0, 1, ..., unnamed),
    which any DataFrame of its rows has, or of levels that do not count its rows (written
    by another tool from a frame's rows with its metadata), which pandas reads as the
    default one too."""
    try:
        metadata = _parquet_schema(path).pandas_metadata or {}
    except (ValueError, TypeError):  # metadata written by another tool
        return None
    listed = metadata.get("index_columns", ())
    if not (isinstance(listed, list) and listed
            and all(isinstance(level, dict) and level.get("kind") == "range" for level in listed)):
        return None
    names, labels = [], []
    n_rows = _pyarrow_parquet(path)[1].read_metadata(path).num_rows
    for k, level in enumerate(listed):
        try:
            start, stop, step = (int(level[key]) for key in ("start", "stop", "step"))
            values = np.arange(start, stop, step, dtype=np.int64)
        except (KeyError, TypeError, ValueError, ZeroDivisionError):
            return None
        if len(values) != n_rows:
            return None
        name = level.get("name")
        names.append(f"__index_level_{k}__" if name is None else str(name))
        labels.append(values)
    if len(listed) == 1 and start == 0 and step == 1 and name is None:
        return None
    return names, labels


def header_quoted(names):
    """Whether a CSV header of ``names`` quotes them, so that it is read as names: when every
    name reads as data (numbers, missing-value markers: wavelengths '450', 'NA'), a header
    that does not is read as a row of data (see :func:`_quoted_first_row`)."""
    return all(_reads_as_data(str(name)) for name in names)


def csv_column_names(path, header=None, encoding=None):
    """The names of a CSV file's data columns (index columns left out), or None;
    ``encoding`` as for :func:`read_csv`."""
    sniffed = _sniff(path, header, encoding)
    if sniffed.names is None:
        return None
    first = _index_columns(sniffed.names)
    return unique_names(sniffed.names[first:])[:len(sniffed.data_columns())]


def guessed_encoding_note(path, header=None, encoding=None):
    """The note that the names of the CSV file ``path``, read with ``header`` and
    ``encoding`` (see :func:`read_csv`), are in a guessed encoding
    (:func:`_guessed_encoding_note`), else None: for an error about its names."""
    notes = _guessed_encoding_note(path, _sniff(path, header, encoding))
    return notes[0] if notes else None


def read_csv(path, columns=None, header=None, missing=False, nan_fix=None, rounding=False,
             encoding=None):
    """Read a CSV file of numbers.

    Parameters
    ----------
    path : str
    columns : list of str, optional
        Columns to keep, in this order: names (when the file has a header) or
        0-based indices, counted after dropped index columns.
    header : bool, optional
        Whether the first row holds column names. None decides from the row:
        names when one of its fields is not a number.
    missing : bool, default=False
        Read a missing value (an empty field, ``NA`` and the other spellings
        of ``NA_VALUES``, and float()'s other spellings of NaN, such as
        ``NAN``) as NaN instead of refusing it.
    nan_fix : str, optional
        Without ``missing``, how the error for a missing value tells to fix
        it (the default: fit with ``--missing em``, or drop or impute).
    rounding : bool, default=False
        Read a whole number that float64 would round (beyond 2**53) rounded,
        instead of refusing it: for a caller that copies the file's own
        fields and only computes with them.
    encoding : str, optional
        The file's text encoding, a name that :func:`codecs.lookup` knows
        ('cp1251', 'shift_jis', 'gb18030'): it overrides detection. A
        byte-order mark of the same Unicode encoding is honoured (dropped,
        its byte order read); a mark of another is an error, and so is a
        byte that is not text in it, with its line. None detects the
        encoding: a byte-order mark, UTF-16 or UTF-32 without one, UTF-8,
        else Windows-1252 (Latin-1 where a byte is not Windows-1252), a
        guess that a note names when names are read with it.

    Returns
    -------
    Table
        ``data``: float64 array of shape (n_rows, n_columns); ``names``:
        the chosen columns' names, or None without a header; ``notes``:
        sentences for the user (e.g. that an index column was dropped).

    Raises
    ------
    ValueError
        With the line, data row and column (1-based) of a missing or
        non-numeric value, of a whole number that float64 would round
        (beyond 2**53, such as a 19-digit identifier; see ``rounding``), or of a row with the
        wrong number of fields, or when the file is empty. A header without
        data rows is a table of 0 rows (a part of a table may be empty; the
        command line refuses it as data).
    """
    path = os.fsdecode(path)
    sniffed = _sniff(path, header, encoding)
    encoding, delimiter, names, comments = (sniffed.encoding, sniffed.delimiter, sniffed.names,
                                            sniffed.comments)
    guessed = _guessed_encoding_note(path, sniffed)  # a doubt: names may be garbled
    notes = list(guessed)
    if sniffed.sep_line:
        notes.append(f"{path!r} starts with the line 'sep={delimiter}', a spreadsheet's note of its "
                     "delimiter, which is skipped")
    if comments[0] - sniffed.sep_line:
        notes.append(f"{path!r} starts with {comments[0] - sniffed.sep_line} comment line(s) ('#'), "
                     "which are skipped")
    first = _index_columns(names)
    index_doubt = []
    if names is not None and len(set(names[first:])) < len(names) - first:
        repeated = sorted(n for n, count in collections.Counter(names[first:]).items()
                          if count > 1)
        names = names[:first] + unique_names(names[first:])
        notes.append(f"{path!r} repeats the column name(s) {repeated}; the repeats are "
                     "renamed as pandas renames them: 'x', 'x.1', ...")
    if first:
        what = "an unnamed column, the row index" if first == 1 else (
            f"{first} unnamed columns, the levels of the row index")
        fractions = [[v.strip() for v in sample if _is_number(v) and not float(v).is_integer()]
                     for sample in sniffed.index_sample]
        if first == 1 and fractions[0]:
            # numbers with a fraction are no row labels that pandas writes: a feature whose
            # name is missing, maybe (a doubt, which Chunks says too)
            index_doubt.append(
                f"{path!r} starts with an unnamed column, which is read as the row index "
                "that pandas writes with df.to_csv(path) and not used as a feature, but it "
                f"holds numbers that are not row labels ({', '.join(fractions[0][:3])}, ...). "
                "If it is a feature, give it a name in the file's header"
            )
            notes.extend(index_doubt)
        elif any(fractions):  # so for the levels of a row index
            doubted = [j for j, values in enumerate(fractions) if values]
            index_doubt.append(
                f"{path!r} starts with {first} unnamed columns, read as the levels of the row "
                "index that pandas writes with df.to_csv(path) and not used as features, but "
                f"column(s) {', '.join(str(j + 1) for j in doubted)} (1-based) hold numbers "
                f"that are not row labels ({', '.join(fractions[doubted[0]][:3])}, ...). If "
                "they are features, give them names in the file's header"
            )
            notes.extend(index_doubt)
        else:
            notes.append(
                f"{path!r} starts with {what} that pandas writes with df.to_csv(path); not "
                "used as features (write the file with df.to_csv(path, index=False) to "
                "leave it out)"
            )
    if sniffed.left_out:
        notes.append(
            f"{path!r} ends its lines with a delimiter ({delimiter!r}), which leaves "
            f"{sniffed.left_out} empty column(s) without a name at the end; not used as features"
        )
    doubts = []
    if names is None and header is None:
        doubts = _numeric_header_note(path, encoding, delimiter, comments[0])
    elif header is None:
        doubts = _data_like_names_note(path, encoding, delimiter, comments[0])
    notes.extend(doubts)
    try:
        chosen = choose_columns(columns, names, sniffed.data_columns(), path,
                                doubts[0] if names is not None and doubts else None)
    except ValueError as exc:
        if not guessed:
            raise
        raise ValueError(f"{exc}. Note: {guessed[0]}") from None
    layout = _Layout(sniffed, path, chosen, missing, nan_fix)
    # The fast parsers skip comment lines by count, which a quote in them could upset.
    data = None if comments[1] else _read_with_pyarrow(layout)
    if data is None and not comments[1]:
        data = _read_with_numpy(layout)
    if data is None:
        try:
            data = _read_with_csv(layout)
        except ValueError as exc:
            if not doubts:
                raise
            raise ValueError(f"{exc}. Note: {doubts[0]}") from None
    skipped = _skipped_lines_notes(layout, data.shape[0])
    notes.extend(skipped)
    doubts.extend(skipped)
    if not rounding:
        _check_whole_numbers(layout, data)
    chosen_names = None if names is None else [names[j] for j in chosen]
    if not columns:
        row_numbers = _row_number_note(path, data, chosen_names)
        notes.extend(row_numbers)
        doubts.extend(row_numbers)
    return Table(data, chosen_names, notes, chosen, layout, guessed + index_doubt + doubts)


def fill_csv(layout, out, values, missing, dtype=np.float64):
    """Copy a CSV file to the binary file ``out`` with its missing values filled.

    ``layout`` is the ``layout`` of the :class:`Table` that :func:`read_csv`
    read with ``missing=True`` (the file is not sniffed again); ``values``
    has one row per data row and one column per chosen column. Data row
    ``i``'s field in chosen column ``c``, where ``missing[i, c]`` (the
    reader read it as NaN), becomes the shortest text that reads back as
    ``values[i, c]`` in ``dtype``, that of the fills (:func:`shortest_text`).
    Nothing else changes: every
    other byte of the file is copied as it is, the lines above the table
    ("sep=", comments), the header, blank lines, quoting, spaces, line
    endings (each line its own) and the other fields, in the file's
    encoding with its byte-order mark, present or absent (UTF-16 and UTF-32
    in the byte order of the file), bytes that are not text in that
    encoding included.

    Raises
    ------
    ValueError
        When the file has another number of data rows than ``values`` (it
        changed since it was read), or a row with the wrong number of fields.
    """
    path = layout.path
    with open(path, "rb") as f:
        head = f.read(4)
    mark, codec = _byte_order(head, layout.encoding)
    out.write(mark)
    n_rows, at = 0, len(mark)
    # one encoder for the file, whose state a stateful codec (ISO-2022) carries over lines
    encoder = codecs.getincrementalencoder(codec)(errors="surrogateescape")
    # read by position, not through a memory map, whose pages beyond the end of a file
    # cut short meanwhile end the process (SIGBUS), and which an empty file cannot have
    with open(path, "rb") as raw:
        try:
            for kind, line, row, text in _records(layout, errors="surrogateescape"):
                # Each record is copied as the file holds it: its text in the file's
                # codec, or, where the codec writes it back otherwise (cp932's
                # '\x87\x90' reads as '≒', written '\x81\xe0'), its own bytes.
                # Bytes that are not text in the file's encoding (a Latin-1 name in a
                # UTF-8 file's text column) are written back as they were.
                state = encoder.getstate()
                original = encoder.encode(text)
                written_back = codec in _ROUND_TRIP or _bytes_at(raw, at, len(original)) == original
                if not written_back:
                    original = _record_bytes(layout, line, raw, at, text, codec)
                at += len(original)
                if kind == "data":
                    if n_rows < len(values) and missing[n_rows].any():
                        fills = _filled_record(layout, line, row, text, values[n_rows],
                                               missing[n_rows], dtype)
                        if written_back:
                            encoder.setstate(state)
                            original = encoder.encode(_spliced(text, fills))
                        else:
                            original = _filled_bytes(original, fills, codec)
                    n_rows += 1
                out.write(original)
        except UnicodeDecodeError as exc:
            raise ValueError(_decode_error(layout, exc)) from None
    if n_rows != len(values):
        raise ValueError(
            f"{path!r} has {n_rows} data row(s) now but {len(values)} when it was read; it "
            "changed meanwhile: run the command again"
        )


# Codecs that write the text they read (with bytes that are not text escaped) back as the
# file holds it, where others may not (cp932, EUC-JP, stateful ISO-2022 codecs)
_ROUND_TRIP = frozenset(("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp1252",
                         "latin-1", "iso8859-1"))


def _bytes_at(f, at, size):
    """The ``size`` bytes (fewer at its end) of the binary file ``f`` from its byte ``at``."""
    f.seek(at)
    return f.read(size)


def _record_bytes(layout, line, f, at, text, codec):
    """The bytes of the record ``text`` (a line, or several for a quoted field with line
    breaks) that starts at the byte ``at`` of the binary file ``f``: up to as many line
    ends as it holds, in a codec that writes line ends as ASCII and the record's text
    otherwise than the file holds it. An error where those bytes are not that text (a
    stateful codec, whose line does not read alone), or where the file ends before them
    (it was cut short since it was read)."""
    n = _line_breaks(text) + (not text.endswith(("\n", "\r")))
    f.seek(at)
    record = b"".join(itertools.islice(_byte_lines(f, block=1 << 8), n))  # a short line's block
    if text.endswith(("\n", "\r")) and not record.endswith((b"\n", b"\r")):
        raise ValueError(f"{layout.path!r} ends within line {line} now but did not when it "
                         "was read; it changed meanwhile: run the command again")
    if record.decode(codec, "surrogateescape") != text:
        raise ValueError(
            f"{layout.path!r} line {line} does not read as one record in {codec} where "
            "its bytes are cut at line ends, which a copy byte for byte needs; impute to "
            "a .npy or .parquet file, or save the file as UTF-8 first")
    return record


def _filled_bytes(original, fills, codec):
    """The bytes ``original`` of a record in ``codec``, which writes its text back
    otherwise, with the fields ``fills`` (see :func:`_filled_record`) of its text filled:
    the bytes of each found where decoding ``original`` reaches it."""
    decoder = codecs.getincrementaldecoder(codec)(errors="surrogateescape")
    at, n = {0: 0}, 0  # text position: byte offset where decoding reaches it
    for i in range(len(original)):
        n += len(decoder.decode(original[i:i + 1]))
        at.setdefault(n, i + 1)
    return _spliced(original, [(at[start], at[stop], value.encode(codec))
                               for start, stop, value in fills])


def _spliced(record, fills):
    """``record`` (text or bytes) with each span ``fills`` holds, (start, stop, value) in
    order, replaced by its value."""
    parts, end = [], 0
    for start, stop, value in fills:
        parts += [record[end:start], value]
        end = stop
    return record[:0].join(parts + [record[end:]])


# The byte-order marks that the reader accepts, with the codec that writes after each.
_MARKS = {
    "utf-8-sig": ((codecs.BOM_UTF8, "utf-8"),),
    "utf-16": ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")),
    "utf-32": ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be")),
}


def _byte_order(head, encoding):
    """(byte-order mark, codec without a mark) that write text as the file starting with ``head``."""
    for mark, codec in _MARKS.get(encoding, ()):
        if head.startswith(mark):
            return mark, codec
    return b"", encoding


def _field_spans(text, delimiter):
    """(start, stop) of each field of the record ``text``, as :mod:`csv` splits it.

    Quoting as the csv module's default dialect reads it: a field that
    starts with '"' runs to the closing quote ('""' inside is a quote);
    a quote elsewhere is a character. The line ending is in no field.
    """
    stop = len(text.rstrip("\r\n"))
    spans, start, quoted, i = [], 0, False, 0
    while i < stop:
        char = text[i]
        if quoted:
            if char == '"':
                if i + 1 < stop and text[i + 1] == '"':
                    i += 1
                else:
                    quoted = False
        elif char == '"' and i == start:
            quoted = True
        elif char == delimiter:
            spans.append((start, i))
            start = i + 1
        i += 1
    spans.append((start, stop))
    return spans


def _filled_record(layout, line, row, text, values, missing, dtype):
    """(start, stop, value) of each field of the record ``text`` to fill, in the record's
    order: the span of the field of a missing chosen column, and the text of its value."""
    spans = _field_spans(text, layout.delimiter)
    if len(spans) != len(row):  # the record is not as the csv module split it
        raise ValueError(
            f"{layout.path!r} line {line} has fields that cannot be told apart ({text!r}); "
            "save the file with standard CSV quoting"
        )
    return [(*spans[layout.chosen[c]], shortest_text(values[c], dtype))
            for c in sorted(np.flatnonzero(missing), key=lambda c: layout.chosen[c])]


def read_columns(path, layout=None, positions=None):
    """Every column of a CSV or parquet file, index and text columns included.

    ``layout`` is the ``layout`` of the :class:`Table` that :func:`read_csv`
    read from the CSV file ``path`` (None for parquet). Returns ``(names,
    columns)``: the names (``'x0'``, ``'x1'``, ... for a CSV file without a
    header; repeats renamed as :func:`read_csv` renames them) and one 1-D
    array per column. A CSV column whose every present value is a whole
    number within int64, written as Python writes it (no sign '+', no
    leading zero: '02134' is a code, not 2134), is int64, or, with a
    missing value, Python ints and None (object), so that no digit is lost;
    one whose every present value is a number that float64 holds (not a
    whole number beyond int64) is float64, NaN where a value is missing;
    any other holds its text as the file has it, spaces and 'NA' included
    (object), None where a field is empty. The columns that :func:`read_csv`
    read as numbers (``layout.chosen``) are numbers however they are
    written ('+5', '007'): int64 (or Python ints and None) when every
    present value is a whole number within int64, else float64. A number
    beyond float64's range ('1e400') is refused as :func:`read_csv` refuses
    it, and so is a whole number that float64 would round in a float64
    column read as numbers. Parquet columns are
    converted by pyarrow (``to_numpy``): numbers keep their type (NaN where
    missing), except integers with a missing value, which are Python ints
    and None (object); text and dictionary (categorical) columns are object,
    None where null, as are timestamps with a time zone (datetime objects of that zone:
    ``to_numpy`` gives their instants in UTC without it).

    Raises ValueError for a parquet file with a repeated column name, and for
    a number beyond float64's range or a whole number that float64 would round
    in a CSV file (with its line, data row and column). ``positions``, a list of
    column positions, reads those columns alone (of a parquet file, only those).
    """
    path = os.fsdecode(path)
    if layout is None:
        pa, pq = _pyarrow_parquet(path)
        schema = _parquet_schema(path)  # refuses repeated names
        table = pq.read_table(path, columns=None if positions is None
                              else [schema.names[j] for j in positions])
        names = column_labels(path)
        return [names[j] for j in (range(len(names)) if positions is None else positions)], [
            np.array(c.to_pylist(), dtype=object)
            if (pa.types.is_integer(c.type) and c.null_count) or pa.types.is_dictionary(c.type)
            or (pa.types.is_timestamp(c.type) and c.type.tz is not None)
            else c.to_numpy(zero_copy_only=False) for c in table.columns]
    n_columns = layout.n_fields - len(layout.trailing)
    texts = [[] for _ in range(n_columns)]
    lines = []  # per row: its first line, or for a row over several lines its fields' lines
    try:
        for line, row in _rows(layout):
            spans = any(_line_breaks(field) for field in row)
            lines.append([_field_line(line, row, j) for j in range(n_columns)] if spans
                         else line)
            for j in range(n_columns):
                texts[j].append(row[j])
    except UnicodeDecodeError as exc:
        raise ValueError(_decode_error(layout, exc)) from None
    columns = []
    for j, column in enumerate(texts):
        plain = _plain_column(column)
        if plain is not None:
            columns.append(plain)
            continue
        stripped = [_trimmed(t) for t in column]
        present = [t for t in stripped if not _is_missing(t)]
        read = j in layout.chosen  # read as numbers, however written
        if present and all(_INTEGER.fullmatch(t) and (read or str(int(t)) == t)
                           and abs(int(t)) < 2**63 for t in present):
            integers = [None if _is_missing(t) else int(t) for t in stripped]
            columns.append(np.array(integers, dtype=object if len(present) < len(stripped)
                                    else np.int64))
        elif read or all(_is_float(t) for t in present):
            columns.append(np.array([
                np.nan if _is_missing(t) else
                _exact_float(layout, t, line[j] if isinstance(line, list) else line, i + 1, j)
                for i, (t, line) in enumerate(zip(stripped, lines))]))
        else:
            columns.append(np.array([None if t == "" else t for t in column], dtype=object))
    names = column_labels(path, layout)
    if positions is not None:
        return [names[j] for j in positions], [columns[j] for j in positions]
    return names, columns


def column_labels(path, layout=None):
    """The names that :func:`read_columns` gives every column of the file, without reading it.

    A CSV file's (``layout`` as for :func:`read_columns`): its header's names, repeats
    renamed as :func:`read_csv` renames them, or ``'x0'``, ``'x1'``, ... without a
    header; a parquet file's (``layout`` None): its fields' names, a pandas row index's
    columns by the labels its metadata gives them. Raises ValueError for a parquet
    file with a repeated column name.
    """
    if layout is None:
        schema = _parquet_schema(os.fsdecode(path))  # refuses repeated names
        labels = _pandas_index_labels(schema)
        return [labels.get(name, name) for name in schema.names]
    n_columns = layout.n_fields - len(layout.trailing)
    return (unique_names(layout.names[:n_columns]) if layout.names is not None
            else [f"x{j}" for j in range(n_columns)])


# ASCII's information separators, which float() strips around a number and pandas does not
_SEPARATORS = "\x1c\x1d\x1e\x1f"


def _plain_column(column):
    """The array that read_columns makes of the fields ``column`` when each is a finite
    number or a missing value and all are plain: ASCII, without '_' or a separator
    (\\x1c-\\x1f). None for any other column, which read_columns reads field by field.

    In plain text, float() takes exactly the fields that :func:`_is_number` takes, and
    the spellings of NaN that :func:`_is_missing` takes, so that one float() decides most
    fields (a whole number written as Python writes it and the other missing values are
    then looked at), where the field-by-field reading costs two more look-ups and a regex.
    """
    joined = "".join(column)
    if not joined.isascii() or "_" in joined or any(c in joined for c in _SEPARATORS):
        return None
    numbers = []
    whole = []  # positions of the numbers written without '.' or an exponent
    n_missing = 0
    for t in column:
        try:
            number = float(t)
        except ValueError:
            if not _is_missing(t):
                return None  # text
            number = math.nan
            n_missing += 1
        else:
            if number - number != 0.0:  # NaN (a missing value) or infinite
                if number == number:
                    return None  # an infinity, or a number beyond float64's range
                n_missing += 1
            elif "." not in t and "e" not in t and "E" not in t:
                whole.append(len(numbers))
        numbers.append(number)
    if not whole:
        return np.array(numbers, dtype=np.float64)
    texts = [_trimmed(column[i]) for i in whole]
    if not all(str(int(t)) == t for t in texts):
        return None  # text: '+5', '007', '-0'
    if len(whole) == len(numbers) - n_missing and all(abs(int(t)) < 2**63 for t in texts):
        if not n_missing:
            return np.array([int(t) for t in texts], dtype=np.int64)
        integers = [None] * len(numbers)
        for i, t in zip(whole, texts):
            integers[i] = int(t)
        return np.array(integers, dtype=object)
    if not all(abs(int(t)) <= 2**53 for t in texts):
        return None  # text beside numbers that are not whole
    return np.array(numbers, dtype=np.float64)


def _is_float(text):
    """A number that float64 holds as written: a whole number only as Python writes it, within 2**53."""
    if not _INTEGER.fullmatch(text):
        return _is_number(text)
    return str(int(text)) == text and abs(int(text)) <= 2**53


def shortest_text(value, dtype=np.float64):
    """The shortest text that reads back as the number ``value`` in ``dtype``: '12' for 12.0, '0.1' for 0.1.

    With ``dtype=np.float32`` the digits are those of ``value`` rounded to
    float32 ('-0.15572366', not '-0.15572365983544012'): a number computed
    in float32 (a fill of float32 data) carries float32's digits, and more
    would claim a precision it does not have.
    """
    value = float(value)
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return str(np.float32(value)) if np.dtype(dtype) == np.float32 else repr(value)


def _row_number_note(path, data, names):
    """A note when the first column counts the rows (0, 1, 2, ... or 1, 2, 3, ...).

    That is a DataFrame's row index written under a name (``df.to_csv(path)``
    of a frame whose index has a name, or of ``df.reset_index()``): the row
    numbers, which are no feature. It is read as data; the note says how to
    leave it out, on the command line and in Python. It is a doubt of the
    reading (:attr:`Table.doubts`), which :class:`fastem.Chunks` says as a
    UserWarning: a fit would otherwise take the row numbers as a feature without
    a word.
    """
    if data.shape[1] < 2 or data.shape[0] < 3:
        return []
    first = data[:, 0]
    shown = f"({first[0]:.0f}, {first[1]:.0f}, ..., {first[-1]:.0f})"
    if first[0] in (0, 1) and np.array_equal(first, np.arange(len(first)) + first[0]):
        does = f"counts the rows {shown}, as a row index does"
    elif (names is not None and names[0].strip().lower() in _INDEX_LIKE_NAMES
          and (first >= 0).all() and (first == np.round(first)).all()
          and len(np.unique(first)) == len(first)):
        # reset_index() of rows that were shuffled, sampled or split
        does = (f"holds distinct whole numbers {shown}, as a row index does once rows are "
                "shuffled, sampled or split")
    else:
        return []
    what = "" if names is None else f" ({names[0]!r})"
    rest = (list(range(1, data.shape[1])) if names is None else names[1:])
    how = _columns_option(rest)
    in_python = f"columns={list(rest)!r}" if len(rest) <= 8 else "columns= of the others"
    return [f"{path!r}: its first column{what} {does}; it is used as a "
            f"feature. If it is the index, leave it out ({how}; Chunks(..., {in_python}) "
            "in Python)"]


# The names of a row index written as a column: pandas' reset_index() ('index', or
# 'level_0' when 'index' is taken), and the usual names of row identifiers.
_INDEX_LIKE_NAMES = frozenset(["index", "level_0", "id", "row", "row_id", "rowid", "rownames"])


def _columns_option(columns):
    """'--columns a,b' for these names or indices, one word for the shell; a phrase for many.
    A value that starts with '-' is joined with '=' ('--columns=-x,y'): argparse reads a
    separate '-x,y' as an option."""
    if len(columns) > 8:
        return "--columns with the other columns"
    row = io.StringIO()  # a CSV row, as --columns reads it: a name with ',' or '"' quoted
    csv.writer(row, lineterminator="\r\n").writerow([str(c) for c in columns])
    value = row.getvalue()[:-2]
    joint = "=" if value.startswith("-") else " "
    if re.search(r"[\s\"']", value):
        value = "'" + value.replace("'", "'\\''") + "'"
    return f"--columns{joint}{value}"


def read_table(path, columns=None, header=None, missing=False, nan_fix=None, rounding=False,
               encoding=None):
    """Read a ``.csv`` or ``.parquet`` file of numbers: :func:`read_csv` or :func:`read_parquet`.

    ``header`` and ``encoding`` apply to CSV files (see :func:`read_csv`); with ``missing``,
    missing values become NaN instead of an error, whose fix is ``nan_fix``;
    with ``rounding``, whole numbers that float64 rounds are read rounded
    instead of refused.
    """
    path = os.fsdecode(path)
    ext = os.path.splitext(path)[1].lower()
    if ext == ".csv":
        return read_csv(path, columns, header, missing, nan_fix, rounding, encoding)
    if ext == ".parquet":
        return read_parquet(path, columns, missing, nan_fix, rounding)
    raise ValueError(
        f"{path!r} has extension {ext or '(none)'!r}; tables are read from "
        f"{' and '.join(TABLE_EXTENSIONS)} files"
    )


def _parquet_index_columns(schema):
    """The columns of a parquet file that hold a pandas DataFrame's index, not data.

    pandas lists them in the file's metadata ("index_columns"): a named index
    under its name (``df.set_index('id').to_parquet(path)``), an unnamed one
    as ``__index_level_0__``; a RangeIndex is stored as metadata alone. A
    column that the metadata does not list is data, whatever its name, as
    pandas reads it.
    """
    listed = pandas_index_columns(schema)
    return [n for n in schema.names if n in listed]


def _pandas_index_labels(schema):
    """The names of a parquet file's index columns that pandas stores under another field
    name, by field name: an index named as a column ('a' beside the column 'a') is stored
    as '__index_level_0__', its name in the pandas metadata alone."""
    try:
        metadata = schema.pandas_metadata or {}
    except (ValueError, TypeError):  # metadata written by another tool
        return {}
    index = _parquet_index_columns(schema)
    return {column["field_name"]: str(column["name"]) for column in metadata.get("columns", ())
            if isinstance(column, dict) and column.get("field_name") in index
            and column.get("name") is not None and column["name"] != column["field_name"]}


def _pyarrow_parquet(path):
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(
            f"reading {path!r} needs pyarrow, which is not installed; run "
            "pip install 'fastem[parquet]' (or save the data as .npy or .csv)"
        ) from None
    return pa, pq


def _parquet_schema(path):
    """The schema of a parquet file; ValueError if unreadable or a column name repeats."""
    pa, pq = _pyarrow_parquet(path)
    _regular_file(path).close()
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(
            f"{path!r} is not a readable parquet file ({' '.join(str(exc).split())})"
        ) from None
    names = list(schema.names)
    repeated = [n for n, count in collections.Counter(names).items() if count > 1]
    if repeated:
        raise ValueError(
            f"{path!r} has the column name {repeated[0]!r} more than once, so a column cannot "
            "be chosen by its name; rename the repeated columns (with pandas: df.columns = "
            "[...]) and write the file again"
        )
    return schema


def parquet_column_names(path):
    """The names of a parquet file's data columns (pandas' index left out)."""
    schema = _parquet_schema(path)
    index = _parquet_index_columns(schema)
    return [n for n in schema.names if n not in index]


def parquet_index_problem(path, names):
    """Where the parquet file ``path`` holds one of ``names`` (columns asked for by name, or a
    model's names) as the index of the pandas DataFrame saved in it and not as a column of
    data: a sentence that says so, with the fix, for the first such name; else ''. Such a
    column is no data column (:func:`parquet_column_names`), and was said to be absent."""
    schema = _parquet_schema(path)
    index = _parquet_index_columns(schema)
    data = {name for name in schema.names if name not in index}
    for name in names:
        if isinstance(name, str) and name in index and name not in data:
            return (f"column {name!r} of {path!r} is the index of the pandas DataFrame saved "
                    "in it (its pandas metadata says so), which is read as row labels, not as "
                    "a column of data; save it as a column to select it: "
                    "df.reset_index().to_parquet(path)")
    return ""


def read_parquet(path, columns=None, missing=False, nan_fix=None, rounding=False):
    """Read a parquet file of numbers.

    Parameters
    ----------
    path : str
    columns : list of str or int, optional
        Columns to keep, in this order: names or 0-based indices (the
        columns of pandas' index are not counted).
    missing, nan_fix, rounding
        As for :func:`read_csv`.

    Returns
    -------
    Table
        ``data``: array of shape (n_rows, n_columns), the columns' common
        numeric dtype; ``names``: the chosen columns' names; ``notes``: that
        the columns of a DataFrame's index were left out, if any.

    Raises
    ------
    ImportError
        When pyarrow is not installed.
    ValueError
        For a file that is not parquet, a column that is not numeric, a
        missing value, and a value of an integer column (or a decimal one of
        scale 0) that float64 would round (beyond 2**53; see ``rounding``),
        with its column and 1-based row.
    """
    path = os.fsdecode(path)
    columns_given = bool(columns)
    pa, pq = _pyarrow_parquet(path)
    schema = _parquet_schema(path)
    names = list(schema.names)
    index = _parquet_index_columns(schema)
    available = [j for j, name in enumerate(names) if name not in index]
    shown = [n for n in index if not n.startswith("__index_level_")]
    try:
        positions = choose_columns(columns, names, available, path)
    except ValueError as exc:
        problem = parquet_index_problem(path, columns)
        if not problem:
            raise
        raise ValueError(f"{exc}. Note: {problem}") from None
    chosen = [names[i] for i in positions]
    notes = [f"{path!r} holds the index of a pandas DataFrame in the column(s) {shown}; not used "
             "as features (save it with df.reset_index().to_parquet(path) to fit it)"] if shown else []
    for name in chosen:
        kind = schema.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)
                or pa.types.is_boolean(kind) or pa.types.is_decimal(kind)
                or pa.types.is_null(kind)):
            text = _parquet_text_column(pa, pq, path, name, kind)
            raise ValueError(text or (
                f"column {name!r} of {path!r} has type {kind}, not numbers; choose numeric "
                "columns (--columns on the command line, columns= in fastem.Chunks)"
            ))
    try:
        table = pq.read_table(path, columns=chosen)
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(
            f"{path!r} is not a readable parquet file ({' '.join(str(exc).split())})"
        ) from None
    for name in chosen if not missing else ():
        if table.column(name).null_count:  # then NaN counts as missing too, as in pandas
            holes = np.flatnonzero(
                table.column(name).is_null(nan_is_null=True).to_numpy(zero_copy_only=False))
            raise ValueError(
                f"{path!r} has {len(holes)} missing value(s) in column {name!r}, the first in "
                f"row {holes[0] + 1}; {nan_fix or _NAN_FIX}"
            )
    if not chosen:
        return Table(np.empty((table.num_rows, 0)), [], notes, [])
    for name in chosen if not rounding else ():
        _check_parquet_whole_numbers(path, name, table.column(name), chosen)
    columns = [table.column(name) for name in chosen]
    columns = [c.cast(pa.float64()) if pa.types.is_decimal(c.type) else c for c in columns]
    arrays = [None if pa.types.is_null(c.type) else c.to_numpy(zero_copy_only=False)
              for c in columns]
    # A column of type null (pandas writes one for a column of None) holds missing values
    # only: NaN in the floating-point type of the other columns, so that it does not turn
    # a file of float32 into float64.
    holes = frame_float_dtype([a.dtype for a in arrays if a is not None])
    data = np.column_stack([np.full(table.num_rows, np.nan, holes) if a is None else a
                            for a in arrays])
    row_numbers = [] if columns_given else _row_number_note(path, data, chosen)
    return Table(data, chosen, notes + row_numbers, positions, doubts=row_numbers)


def _parquet_text_column(pa, pq, path, name, kind):
    """The error for the parquet column ``name`` of text (type ``kind``) whose first value
    is a number as text, plain ('1.5') or written with signs or a unit ('12%', '$3',
    '3.2kg'; :func:`_decorated_value`), with the pandas call that saves it as numbers;
    None for a column of other text (labels), or of another type."""
    if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)):
        return None
    try:
        values = pq.read_table(path, columns=[name]).column(name)
    except (pa.ArrowException, OSError):
        return None  # the read below names what is wrong with the file
    for row, value in enumerate(values.to_pylist()):
        if value is None or _is_missing(value):
            continue
        what_where = f"column {name!r} of {path!r} holds text, {value!r} in row {row + 1}"
        if _is_number(value):
            return (f"{what_where}: numbers stored as text. Save the column as numbers (e.g. "
                    f"with pandas: df = pd.read_parquet(path); df[{name!r}] = pd.to_numeric("
                    f"df[{name!r}]); df.to_parquet(new_path))")
        return _decorated_number_error(
            value, what_where, name, "pd.read_parquet(path)", "df.to_parquet(new_path)",
            lambda: ((f"row {row + 1}", field) for row, field in enumerate(values.to_pylist())))
    return None


def _check_parquet_whole_numbers(path, name, column, chosen):
    """ValueError for the first value of an integer column (or a decimal one of scale 0) of a
    parquet file that float64 would round, as :func:`_check_whole_numbers` for CSV files."""
    import pyarrow as pa

    if pa.types.is_integer(column.type):
        values = column.fill_null(0).to_numpy()
    elif pa.types.is_decimal(column.type) and column.type.scale == 0:
        values = np.array([0 if v is None else int(v) for v in column.to_pylist()], dtype=object)
    else:
        return
    rounded = rounded_by_float64(values, values.astype(np.float64))
    if rounded.any():
        row = int(np.argmax(rounded))
        value = int(values[row])
        raise ValueError(rounded_whole_number(
            f"{path!r} has {value} in row {row + 1} of column {name!r}", value, np.float64,
            _whole_number_fix([n for n in chosen if n != name])))


def find_name(name, names, keys=None):
    """The position in ``names`` of ``name``: as written, else of the one name that reads
    the same (:func:`name_key`), else None (none, or more than one). ``keys``: the
    names' keys, for a caller that looks up many names."""
    if name in names:
        return names.index(name)
    keys = [name_key(n) for n in names] if keys is None else keys
    key = name_key(name)
    return keys.index(key) if keys.count(key) == 1 else None


def choose_columns(columns, names, available, path, doubt=None):
    """Positions in the file of the ``columns`` tokens: names, or 0-based indices into ``available``.

    A token that is a column's name is that column, even when it reads as a number;
    a name written otherwise in the file, with spaces around it or in another Unicode
    normal form, is found too (:func:`find_name`), when that is unambiguous.

    ``names`` are the names of all the file's columns (None without a header);
    ``available`` the positions that hold data. No tokens: every available one.
    ``doubt``: the note that says the names may be a row of data
    (:func:`_data_like_names_note`); a token that is then both a name and the
    index of another column is refused (ValueError) rather than guessed.
    """
    if not columns:
        return available
    n = len(available)
    shown = None if names is None else [names[j] for j in available]
    keys = None if shown is None else [name_key(name) for name in shown]
    chosen = []
    for token in columns:
        if isinstance(token, (int, np.integer)) and not isinstance(token, bool):
            index = int(token)  # an index from Python (Chunks(columns=[0, 2])), never a name
        elif shown is not None and token in shown:  # a name, even one that looks like a number
            position = available[shown.index(token)]
            if doubt and _INTEGER.fullmatch(token) and -n <= int(token) < n and (
                    available[int(token) % n] != position):
                raise ValueError(
                    f"column {token!r} of {path!r} is both the name of its column "
                    f"{available.index(position)} and the index of its column "
                    f"{int(token) % n}, and its first row may be data rather than names "
                    f"({doubt}); pass --header no to select columns by index, or --header "
                    "yes to select them by name (header=False or True in fastem.Chunks)"
                )
            chosen.append(position)
            continue
        elif shown is not None and find_name(token, shown, keys) is not None:
            chosen.append(available[find_name(token, shown, keys)])
            continue
        else:
            try:
                index = int(token)
            except ValueError:
                if shown is None:
                    raise ValueError(
                        f"column {token!r} not found: {path!r} has no header row with names; "
                        f"select columns by 0-based index (0 to {n - 1})"
                    ) from None
                close = close_choice(token, shown)  # the name meant, among thousands
                raise ValueError(
                    f"column {token!r} not found in {path!r}; its columns are "
                    f"{shown_names(shown)}{'.' + close if close else ''}"
                ) from None
        if not -n <= index < n:
            raise ValueError(
                f"column index {index} is out of range for {path!r}, which has {n} "
                f"column(s) (indices 0 to {n - 1})"
            )
        chosen.append(available[index % n])
    seen = {}  # position -> where in columns it was first selected
    for k, position in enumerate(chosen):
        first = seen.setdefault(position, k)
        if first < k:
            what = f"column {position}" if shown is None else f"the column {shown[available.index(position)]!r}"
            raise ValueError(
                f"the columns {shown_names(columns)} select {what} of {path!r} twice (as "
                f"{columns[first]!r} and {columns[k]!r}); select each column once"
            )
    return chosen


# How the error for a missing value read without ``missing`` tells to fix it.
_NAN_FIX = (
    "fit with --missing em (missing='em' in Python) to fit missing values by EM, or drop the rows with missing "
    "values, or impute them (e.g. with pandas: df.dropna() or df.fillna(df.median())), and "
    "save the file again"
)


class _Layout:
    """Everything the parsers need to know about a file, decided once."""

    def __init__(self, sniffed, path, chosen, missing=False, nan_fix=None):
        self.missing = missing  # missing values become NaN
        self.nan_fix = nan_fix or _NAN_FIX  # otherwise, how the error tells to fix one
        self.comments = sniffed.comments[0]  # leading comment lines
        self.skip = self.comments + sniffed.header_lines  # lines before the data
        self.path = path
        self.encoding = sniffed.encoding
        self.given = sniffed.given  # the encoding was given, not detected
        # the names and first row labels, which the note of a guessed encoding names
        self.noted = set(sniffed.names or ()) | {
            v for sample in sniffed.index_sample for v in sample}
        self.delimiter = sniffed.delimiter
        self.names = sniffed.names
        self.n_fields = sniffed.n_fields
        self.chosen = chosen
        # the empty columns of trailing separators, checked empty in every row
        self.trailing = list(range(sniffed.n_fields - sniffed.trailing, sniffed.n_fields))

    def column(self, j):
        """'column 3 ('waiting')': 1-based, as a spreadsheet counts."""
        name = "" if self.names is None else f" ({self.names[j]!r})"
        return f"column {j + 1}{name}"


def _read_with_pyarrow(layout):
    """The data by pyarrow, or None when pyarrow is missing, refuses, or finds missing values."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pv
    except ImportError:
        return None
    generated = [f"f{j}" for j in range(layout.n_fields)]
    include = [generated[j] for j in layout.chosen]
    empty = [generated[j] for j in layout.trailing]
    # the first column, when it is not read, for lines of notes below the header
    # (its type inferred: numbers, the usual row labels, cost no text)
    first = [generated[0]] if _first_unread(layout) else []
    encoding = "utf8" if layout.encoding in ("utf-8", "utf-8-sig") else layout.encoding
    try:
        table = pv.read_csv(
            layout.path,
            read_options=pv.ReadOptions(
                column_names=generated, skip_rows=layout.skip,
                encoding=encoding,
            ),
            parse_options=pv.ParseOptions(delimiter=layout.delimiter),
            convert_options=pv.ConvertOptions(
                column_types={name: pa.float64() for name in include + empty},
                include_columns=include + empty + first,
                null_values=sorted(NA_VALUES),
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
    except (pa.ArrowException, OSError, UnicodeError):
        return None
    if (not layout.missing and any(table.column(name).null_count for name in include)) or any(
            table.column(name).null_count < table.num_rows for name in empty):
        return None
    if first and pa.types.is_string(table.column(first[0]).type):
        import pyarrow.compute as pc
        if pc.any(pc.starts_with(table.column(first[0]), "#")).as_py():
            return None  # the csv module's pass tells notes from data
    if not include:
        return np.empty((table.num_rows, 0))
    columns = [table.column(name).to_numpy(zero_copy_only=False) for name in include]
    data = np.column_stack(columns).astype(np.float64)
    nulls = sum(table.column(name).null_count for name in include)
    if layout.missing and np.isnan(data).sum() > nulls:
        return None  # text that pyarrow reads as NaN, and pandas as text ('nan(1)'): checked
    return None if _refused(data, layout) else data


def _refused(data, layout):
    """Whether a fast reader's ``data`` go to the csv module's pass, which names the value at
    fault: a NaN without ``missing``, or an infinity (written so, or a number beyond float64's
    range)."""
    return bool(np.isinf(data).any() or (not layout.missing and np.isnan(data).any()))


def _records(layout, errors="strict"):
    """(kind, line number, fields, text) of every record of the file, in order.

    The line number is that of the record's first line (a quoted field with
    line breaks spans several; :func:`_field_line` gives a field's). ``kind`` is 'above' (a line above the table: "sep=", comments), 'blank'
    (an empty line, or spaces only), 'header' or 'data'; ``text`` is the
    record exactly as the file holds it, line ending included (several
    lines for a quoted field with line breaks), so that joining every
    ``text`` gives the file back. Data rows are checked for their number
    of fields. ``errors``: how bytes that are not text in the file's encoding
    are decoded ("surrogateescape" keeps them, for a copy that writes them
    back as they were).
    """
    with open(layout.path, encoding=layout.encoding, errors=errors, newline="") as f, \
            _long_fields():
        for line in range(1, layout.comments + 1):
            yield "above", line, None, f.readline()
        consumed = []

        def lines():
            for text in f:
                consumed.append(text)
                yield text

        reader = csv.reader(lines(), delimiter=layout.delimiter)
        header_done = layout.names is None
        header_line = None  # the header's line: below the comment lines, and blank ones
        for row in reader:
            line = reader.line_num + layout.comments - len(consumed) + 1
            text = "".join(consumed)
            consumed.clear()
            if _is_blank(row, text):
                yield "blank", line, row, text
                continue
            if not header_done:
                header_done, header_line = True, line
                yield "header", line, row, text
                continue
            if len(row) != layout.n_fields:
                hint = ""
                if _is_comment(row[0]):
                    hint = _LATE_COMMENT
                elif (layout.delimiter == "," and len(row) > layout.n_fields
                        and all(_INTEGER.fullmatch(v) for v in row)):
                    hint = (" (if its numbers have decimal commas, such as 1,5, save the file "
                            "with '.' as the decimal separator)")
                elif any(_line_breaks(field) for field in row):
                    j = next(j for j, field in enumerate(row) if _line_breaks(field))
                    first = _field_line(line, row, j)
                    last = first + _line_breaks(row[j].rstrip("\r\n"))
                    runs = f" that runs to line {last}" if last > first else ""
                    hint = (f" (its field {j + 1} opens a quote on line {first}{runs}: "
                            f"{_OPEN_QUOTE})")
                elif layout.n_fields == 1 and layout.names is not None and len(row) > 1:
                    hint = (f" (if line {header_line} is a title rather than the column "
                            "names, remove it or start it with '#')")
                raise ValueError(
                    f"{layout.path!r} line {line} has {len(row)} field(s) but the "
                    f"first row has {layout.n_fields}; every row needs the same number of "
                    f"fields, separated by {layout.delimiter!r}{hint}"
                )
            for j in layout.trailing:
                if row[j].strip():
                    raise ValueError(
                        f"{layout.path!r} has {row[j]!r} on line {_field_line(line, row, j)}, "
                        f"{layout.column(j)}, "
                        "a column without a name that is empty in the first rows (the empty "
                        "field of a delimiter at the end of each line); give that column a "
                        "name in the header, or remove that value"
                    )
            yield "data", line, row, text


def _line_breaks(text):
    """Number of line breaks in ``text`` ('\r\n', '\n' or '\r', as the reader splits lines)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


_LINE_BREAK = re.compile("\r\n|\r|\n")

# How a quote that opens a field and is not closed where the field ends reads, and its fix.
_OPEN_QUOTE = ("a quote that opens a field and is not closed where the field ends joins the "
               "lines below into that field: remove that quote, or close it")


def _lines_below_header(layout, quoted=True, block=1 << 20):
    """Number of lines of the file below the lines above its data (``layout.skip``: comments,
    header) through its last line that is not blank, cut where the text reader cuts them (LF,
    CRLF, CR alone); with ``quoted``, 0 when no line below the header holds a quote
    character, which a field of several lines needs. Bytes for the encodings that write
    ASCII as ASCII (a search for the quote as fast as memchr), text for UTF-16 and UTF-32."""
    wide = _wide(layout.encoding)
    if wide:
        f = open(layout.path, encoding=layout.encoding, errors="replace", newline="")
        cr, lf, spaces = "\r", "\n", _SPACES
    else:
        f = open(layout.path, "rb")
        cr, lf, spaces = b"\r", b"\n", _SPACES.encode()

    def breaks(text):
        n_cr = text.count(cr)  # most files have no CR: no search for CRLF
        return text.count(lf) + n_cr - (text.count(cr + lf) if n_cr else 0)

    lines = seen = 0
    after_cr = False
    with f:
        if wide:
            for _ in range(layout.skip):
                f.readline()
        else:
            above = _byte_lines(f)
            start = sum(len(next(above, b"")) for _ in range(layout.skip))
            f.seek(start)
            if quoted and not any(b'"' in chunk for chunk in iter(lambda: f.read(block), b"")):
                return 0
            f.seek(start)
        while chunk := f.read(block):
            joined = int(after_cr and chunk.startswith(lf))  # a CRLF cut by the block
            in_chunk = breaks(chunk) - joined
            body = len(chunk.rstrip(spaces))
            if body:  # the breaks in the blank tail of the chunk are not below a line
                lines = seen + in_chunk - breaks(chunk[body:]) + 1
            seen += in_chunk
            after_cr = chunk.endswith(cr)
    return lines


# What the scans of a file's lines below its header found (:func:`_skipped_lines_notes`,
# :func:`_other_spaces_below_header`), by the file's identity, size and times and by what
# the scan was asked: a fit over a CSV file of Chunks reads it on every pass, and each scan
# reads the whole file again. A file that is changed gets another key, but one rewritten
# within the clock tick of the file system (milliseconds) keeps its times: as git does with
# its index, a file modified or changed less than _SETTLED nanoseconds before the scan keeps
# no answer.
_SCANS = {}
_SCANS_KEPT = 64
_SETTLED = 2 * 10**9


def _file_key(path):
    """(device, inode, size, modification and change times) of the file ``path``, else None."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _scanned(layout, what, scan, *args):
    """``scan(layout, *args)``, kept for the file as it is now (see ``_SCANS``); ``what``
    and ``args`` name the question. A file changed during the scan keeps no answer."""
    before = _file_key(layout.path)
    if before is None or max(before[3:]) > time.time_ns() - _SETTLED:
        return scan(layout, *args)
    key = (layout.path, what, layout.encoding, layout.skip, args, before)
    if key in _SCANS:
        return _SCANS[key]
    found = scan(layout, *args)
    if _file_key(layout.path) == before:
        while len(_SCANS) >= _SCANS_KEPT:  # the oldest goes (another thread's may first)
            with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                del _SCANS[next(iter(_SCANS))]
        _SCANS[key] = found
    return found


def _reads_as_row(layout, text):
    """Whether the line ``text`` reads as a row of the table: as many fields as its rows,
    numbers or missing values in the columns read, one number at least."""
    fields = next(csv.reader([text], delimiter=layout.delimiter), [])
    if len(fields) != layout.n_fields:
        return False
    values = [fields[j] for j in layout.chosen]
    return any(map(_is_number, values)) and all(
        _is_number(v) or _is_missing(v) for v in values)


def _skipped_lines_notes(layout, n_rows):
    """The notes for the lines below the header that are read as no row of their own, or []
    (see :func:`_skipped_lines_found`), kept for the file as it is (``_SCANS``): a fit over
    Chunks reads the file again on every pass."""
    names = None if layout.names is None else tuple(layout.names)
    return list(_scanned(layout, "skipped", _skipped_lines_found, n_rows, layout.delimiter,
                         layout.n_fields, tuple(layout.chosen), names))


def _skipped_lines_found(layout, n_rows, *_):
    """The notes for the lines below the header that are read as no row of their own, or [].

    A quoted field that holds lines that read as rows of the table, which an open quote
    joined into it (a stray quote in a column of text: '"x,1,2' on one line and 'w",7,8'
    lines below; in a column between others, '1,"x,2' and '3,w",4', which also make one
    row of the values of two); in a file of one column, blank lines between its rows, which
    every reader skips as pandas does, and which a spreadsheet writes for an empty cell. A
    file whose lines below the header are as many as its rows has neither; one of several
    columns and no quote below its header costs a search for one.
    """
    if _lines_below_header(layout, quoted=layout.n_fields > 1) <= n_rows:
        return []
    found = []  # (data row, column, first and last line of the field, lines that are rows)
    blank, between = [], []  # blank lines since the last row, and those between rows
    row_number = 0
    for kind, line, row, text in _records(layout, errors="replace"):
        if kind == "header":
            blank.clear()
        elif kind == "blank" and (row_number or layout.names is not None):
            blank.append(line)
        if kind != "data":
            continue
        row_number += 1
        between.extend(blank)
        blank.clear()
        end = line + _line_breaks(text.rstrip("\r\n"))  # the record's last line
        if end == line:  # a row of one line, as most are
            continue
        for j, field in enumerate(row):
            pieces = _LINE_BREAK.split(field)
            first = _field_line(line, row, j)
            # whole lines of the file: those between the field's first and last, its first,
            # the line after the quote, when the field starts the record, and its last, the
            # line before the quote, when the field ends the record
            ends = len(pieces) - (j < len(row) - 1 or len(pieces) == 1)
            rows = [(first + i, pieces[i]) for i in range(0 if j == 0 else 1, ends)
                    if _reads_as_row(layout, pieces[i])]
            if 0 < j < len(row) - 1 and len(pieces) > 1:
                # a field inside the record: its first line ends in it, its last starts in
                # it, and the row takes its values before the field from the one, after it
                # from the other; each is a row of its own without the field's quotes
                own = _LINE_BREAK.split(text.rstrip("\r\n"))  # the record's lines
                outer = [first - line, first - line + len(pieces) - 1]
                rows = sorted(rows + [(line + i, own[i]) for i in outer
                                      if _reads_as_row(layout, own[i].replace('"', ""))])
            if rows:  # a field open to the end of the file ends on the record's last line
                found.append((row_number, j, first, min(first + len(pieces) - 1, end), rows))
    notes = []
    if found:
        row_number, j, first, last, rows = found[0]
        more = ""
        if len(found) > 1:
            total = sum(len(rows) for *_, rows in found)
            more = f" ({len(found)} such fields, which hold {total} such lines)"
        notes.append(
            f"{layout.path!r} has a quoted field on lines {first} to {last} (data row "
            f"{row_number}, {layout.column(j)}) that holds {len(rows)} line(s) that read as "
            f"rows of the table (line {rows[0][0]}: {rows[0][1]!r}){more}, which are read as "
            f"text in that field, not as rows: {_OPEN_QUOTE} (a field whose text does hold "
            "such lines is read as it is)")
    if between and layout.n_fields == 1:
        notes.append(
            f"{layout.path!r} has {len(between)} blank line(s) between its rows (line "
            f"{between[0]}{', ...' if len(between) > 1 else ''}), which are skipped, as pandas "
            "skips them; in a file of one column a blank line may be a missing value (a "
            "spreadsheet's empty cell): write those as NA, or \"\", to read them as missing "
            "values, or remove the lines")
    return notes


def _field_line(line, row, j):
    """The line of field ``j`` of the record ``row`` that starts on ``line``: below it by
    the line breaks in the quoted fields before ``j``."""
    return line + sum(_line_breaks(field) for field in row[:j])


def place_of(layout, row, j=None):
    """"line 5 (data row 3)", and with ``j`` ", column 2 ('b')": where the data row ``row``
    (0-based) and its chosen column ``j`` (0-based among those read) are in the file, as
    the readers' errors name a place. Reads the file up to that row."""
    for number, (line, fields) in enumerate(_rows(layout)):
        if number == row:
            break
    if j is None:
        return f"line {line} (data row {row + 1})"
    column = layout.chosen[j]
    return (f"line {_field_line(line, fields, column)} (data row {row + 1}), "
            f"{layout.column(column)}")


def _rows_to_check(layout):
    """:func:`_rows` for an error that checks its fix against the whole file: up to a row
    that the reader refuses (its number of fields, bytes not of the file's encoding),
    which pandas would refuse too, and which a later error names."""
    try:
        yield from _rows(layout)
    except ValueError:
        return


def _rows(layout, header=False):
    """(line number, fields) of each non-blank data row; checks the number of fields.

    With ``header``, the header row (when the file has one) comes first.
    """
    for kind, line, row, _ in _records(layout):
        if kind == "data" or (header and kind == "header"):
            yield line, row


def _read_with_numpy(layout):
    """The data by numpy.loadtxt's C parser, or None when it refuses or finds a NaN.

    All columns are parsed, not only the chosen ones: loadtxt checks that every
    row has the same number of fields only then. A file with text columns
    falls through to the csv module.
    """
    if _no_rows_below_header(layout):  # which loadtxt warns of: "input contained no data"
        return np.empty((0, len(layout.chosen)))
    try:
        data = np.loadtxt(
            layout.path, dtype=np.float64, delimiter=layout.delimiter, quotechar='"',
            comments=None, skiprows=layout.skip,
            ndmin=2, encoding=layout.encoding,
        )
    except (ValueError, UnicodeError):
        return None
    if data.shape[1] != layout.n_fields or _scanned(layout, "spaces",
                                                    _other_spaces_below_header):
        return None
    data = data[:, layout.chosen]
    return None if _refused(data, layout) else data


def _no_rows_below_header(layout, block=1 << 16):
    """Whether the file holds nothing but line ends below its header, where numpy.loadtxt
    reads no rows and warns that the input contained no data: a warning that
    ``warnings.catch_warnings`` would silence for every thread of the process, not for
    this read alone. A line of spaces is a row to loadtxt (which refuses it)."""
    with open(layout.path, encoding=layout.encoding, errors="replace", newline="") as f:
        for _ in range(layout.skip):
            f.readline()
        while text := f.read(block):
            if text.strip("\r\n"):
                return False
    return True


def _other_spaces_below_header(layout, block=1 << 20):
    """Whether the data rows hold a character beyond ASCII or an ASCII separator
    (\\x1c-\\x1f). In rows that numpy.loadtxt read as numbers, it can only be a space
    around a number that loadtxt strips and pandas does not (U+00A0, U+3000, ...), which
    the csv module's pass names. A pass over the text costs about 4% of loadtxt's time."""
    with open(layout.path, encoding=layout.encoding, errors="replace", newline="") as f:
        for _ in range(layout.skip):
            f.readline()
        while text := f.read(block):
            if not text.isascii() or any(c in text for c in _SEPARATORS):
                return True
    return False


def _first_unread(layout):
    """Whether the first column, where a line of notes would show, is not read."""
    return 0 not in layout.chosen and 0 not in layout.trailing


def _read_with_csv(layout):
    """The data by the csv module, field by field: an error names the first bad value."""
    values = []
    notes = []  # (line, data row, field) of the rows that start with '#' in an unread column
    try:
        row_number = 0
        for kind, line, row, text in _records(layout):
            if kind != "data":
                continue
            row_number += 1
            if _first_unread(layout) and text.startswith("#") and _is_comment(row[0]):
                notes.append((line, row_number, row[0]))
            for j in layout.chosen:
                value = _trimmed(row[j])
                if _is_missing(value) and not layout.missing and row_number == 1 and all(  # re-read
                        _is_missing(rest[j]) for _, rest in _rows(layout)):
                    raise ValueError(_empty_column(layout, j))
                if layout.missing and _is_missing(value):
                    values.append(np.nan)
                    continue
                if _is_missing(value) or not _is_number(value):
                    raise ValueError(
                        _bad_value(layout, value, _field_line(line, row, j), row_number, j))
                values.append(_float(layout, value, _field_line(line, row, j), row_number, j))
    except UnicodeDecodeError as exc:
        raise ValueError(_decode_error(layout, exc)) from None
    if notes and 2 * len(notes) < row_number:  # a column of '#' values is data
        raise ValueError(_unread_note(layout, notes))
    return np.array(values, dtype=np.float64).reshape(-1, len(layout.chosen))


def _unread_note(layout, notes):
    """The message for rows that start with '#', unquoted, in a column that is not read,
    among rows that do not: lines of notes, or rows left out, that would be read as data."""
    line, row_number, field = notes[0]
    more = f" ({len(notes)} such lines)" if len(notes) > 1 else ""
    return (
        f"{layout.path!r} has {field!r} on line {line} (data row {row_number}), "
        f"{layout.column(0)}, which is not read: a row that starts with '#' among rows that "
        f"do not{more}, which fastem would read as data{_LATE_COMMENT[:-1]}; if it is data, "
        "quote that field (\"#...\"))"
    )


def _decode_error(layout, exc):
    """:func:`_encoding_error` for the file that ``layout`` reads."""
    return _encoding_error(layout.path, layout.encoding, layout.given, exc)


def _encoding_error(path, encoding, given, exc):
    """The message for bytes of the file ``path`` that are not text in its ``encoding``
    (``given`` by the user, else detected; ``exc``: the decoder's error): which line holds
    them, and whether the lines above were text in it (a file that mixes encodings, as
    appending the output of another program makes). For an encoding that the user gave:
    the line, and that the file is in another encoding (:func:`_not_in_given_encoding`)."""
    if given:
        return _not_in_given_encoding(path, encoding, exc)
    where = ""
    if encoding in ("utf-8", "utf-8-sig", "cp1252"):
        with open(path, "rb") as f:
            before = b""  # the last text above the bad byte that is not ASCII
            lines = _byte_lines(f)
            for number, line in enumerate(lines, start=1):
                try:
                    line.decode(encoding)
                    if not line.isascii():
                        before = line
                except UnicodeDecodeError as bad:
                    shown = line[max(bad.start - 8, 0):bad.end + 8]
                    where = f" on line {number} ({shown!r})"
                    above = "the lines above are"
                    if not line[:bad.start].isascii():  # text of the encoding on this line
                        before, above = line[:bad.start], "the text before it is"
                    elif before.isascii() and encoding != "cp1252" and any(
                            _UTF8_TEXT.search(below) for below in
                            itertools.chain([line[bad.start:]], itertools.islice(lines, 1000))):
                        before, above = b"\x80", "text below it is"  # UTF-8 text after it
                    if not before.isascii():  # text of the encoding above: two encodings
                        where += (f", while {above} {encoding} text: the "
                                  "file mixes encodings, as appending another program's "
                                  "output can make")
                    else:
                        where += (", the first byte that is not ASCII: the file may be in "
                                  "another encoding, such as Latin-1")
                    break
    return (f"{path!r} is not valid {encoding} text ({exc.reason}){where}; save "
            "it as UTF-8 throughout, or, if it is in one other encoding throughout, pass that: "
            f"--encoding NAME (encoding=NAME in Python: {_ENCODING_EXAMPLES}, ...)")


_LINE_END = re.compile(rb"\r\n|\r|\n")


def _byte_lines(f, block=1 << 20):
    """The lines of the binary file ``f``, each with its ending, cut where the text
    reader cuts them: at LF, CRLF and CR alone (Excel for Mac's "CSV (Macintosh)")."""
    rest = b""
    while True:
        data = f.read(block)
        text = rest + data
        start = 0
        for end in _LINE_END.finditer(text):
            if end.group() == b"\r" and end.end() == len(text) and data:
                break  # an LF may follow in the next block
            yield text[start:end.end()]
            start = end.end()
        rest = text[start:]
        if not data:
            break
    if rest:
        yield rest


def _leave_out(others):
    """'leave it out (--columns a,c, or columns= in fastem.Chunks)', keeping the columns
    ``others`` (names or indices); None when there are none."""
    return (f"leave it out ({_columns_option(others)}, or columns= in fastem.Chunks)" if others
            else None)


def _other_columns(layout, j):
    """The chosen columns but ``j``, by name (or by index without a header)."""
    return [k if layout.names is None else layout.names[k] for k in layout.chosen if k != j]


def _empty_column(layout, j):
    """The message for a column without a value in any row: leave it out."""
    how = _leave_out(_other_columns(layout, j)) or "it holds no data"
    return (f"{layout.path!r} has no value in any row of {layout.column(j)}, only missing "
            f"values; {how}")


def _check_whole_numbers(layout, data):
    """ValueError for the first field of a chosen column written as a whole number that
    float64, the type the readers parse into, would round (beyond 2**53: a 19-digit
    identifier, a count of nanoseconds); ``data`` as a reader parsed it."""
    if not (np.abs(data) >= FLOAT64_WHOLE).any() or not _may_write_rounded(layout):
        return  # NaN compares False
    for row_number, (line, row) in enumerate(_rows(layout), 1):
        for j in layout.chosen:
            _check_whole_number(layout, _trimmed(row[j]), _field_line(line, row, j), row_number, j)


def _may_write_rounded(layout):
    """Whether the file may write a whole number that float64 rounds: a run of 16 digits or
    more (every whole number beyond 2**53 = 9007199254740992 has 16), neither after a
    point nor before a point or an exponent, that float64 rounds. Read in blocks of whole
    lines and searched by NumPy: a file of large values written as floats (1e+20, or
    12345678901234568 by ``%.17g``, which float64 holds) needs no field-by-field pass to
    show that none is. An encoding in which digits are not single bytes may (True)."""
    if layout.encoding not in ("utf-8", "utf-8-sig", "cp1252", "latin-1"):  # UTF-16, -32
        return True
    rest = b""
    with open(layout.path, "rb") as f:
        while True:
            block = f.read(1 << 24)
            text = rest + block
            cut = max(text.rfind(b"\n"), text.rfind(b"\r")) + 1 if block else len(text)
            text, rest = text[:cut], text[cut:]
            if _rounded_digit_run(text):
                return True
            if not block:
                return False


def _rounded_digit_run(text):
    """Whether the bytes ``text`` of whole lines hold a run of digits as
    :func:`_may_write_rounded` looks for."""
    codes = np.frombuffer(text + b" ", dtype=np.uint8)  # a byte after the last run
    digit = codes - ord("0") < 10  # bytes below "0" wrap
    edges = np.flatnonzero(np.diff(digit, prepend=False))
    starts, ends = edges[::2], edges[1::2]
    long = ends - starts >= 16
    starts, ends = starts[long], ends[long]
    after = codes[ends]
    whole = (codes[starts - 1] != ord(".")) & (after != ord(".")) & (after | 0x20 != ord("e"))
    return any(int(float(run)) != int(run)  # codes[-1] before a run at 0: the " "
               for run in (text[a:b] for a, b in zip(starts[whole].tolist(), ends[whole].tolist())))


def _whole_number_fix(others):
    """How to fix a file's column of whole numbers that float64 would round; ``others``: the
    other columns read."""
    leave_out = _leave_out(others)
    return ("subtract an offset from that column (its smallest value, say) and save the file "
            "again" + (f", or, if the column is an identifier, {leave_out}" if leave_out else ""))


# Why a line of notes below the header is data: a line of notes is one above the table.
_LATE_COMMENT = (" (if this line is a note, remove it or move it above the header: a line "
                 "that starts with '#' is a line of notes only above the table)")


# How float() spells an infinity; any other number it reads as one is beyond float64's range.
_INFINITY = re.compile(r"[-+]?inf(?:inity)?", re.IGNORECASE)


def _float(layout, value, line, row_number, j):
    """The number ``value`` (one that :func:`_is_number` accepts) on ``line``, data row
    ``row_number``, column ``j``; ValueError for one beyond float64's range, which float()
    reads as infinite. One that float64 cannot tell from 0 ('1e-400') is 0, as pandas and
    pyarrow read it."""
    number = float(value)
    if math.isinf(number) and not _INFINITY.fullmatch(_trimmed(value)):
        raise ValueError(_beyond_float64(layout, value, line, row_number, j))
    return number


def _check_whole_number(layout, value, line, row_number, j):
    """ValueError for the field ``value`` on ``line``, data row ``row_number``, column
    ``j``, when it is a whole number that float64 would round."""
    if _INTEGER.fullmatch(value) and int(float(value)) != int(value):
        raise ValueError(rounded_whole_number(
            f"{layout.path!r} has {value!r} on line {line} (data row {row_number}), "
            f"{layout.column(j)}", int(value), np.float64,
            _whole_number_fix(_other_columns(layout, j))))


def _exact_float(layout, value, line, row_number, j):
    """:func:`_float` of the number ``value``, refusing a whole number that float64 would
    round (:func:`_check_whole_number`)."""
    _check_whole_number(layout, value, line, row_number, j)
    return _float(layout, value, line, row_number, j)


def _beyond_float64(layout, value, line, row_number, j):
    return (
        f"{layout.path!r} has {value!r} on line {line} (data row {row_number}), "
        f"{layout.column(j)}: a number beyond float64's range (magnitudes up to "
        f"{np.finfo(np.float64).max:.3g}), which would be read as infinite; scale that column "
        "(e.g. divide it by a power of ten) and save the file again"
    )


def _other_padding(value):
    """The characters around ``value`` that float() reads as spaces and pandas does not,
    in order, when what they surround is a number or a missing-value marker; else ''."""
    inner = value.strip()
    if inner == _trimmed(value) or not (_is_number(inner) or _is_missing(inner)):
        return ""
    around = value[:value.index(inner)] + value[value.index(inner) + len(inner):]
    return "".join(dict.fromkeys(c for c in around if c not in _SPACES))


# The Unicode names (aliases) of the control characters that float() strips as spaces
# and pandas does not; unicodedata.name() has none for a control character.
_CONTROL_NAMES = {
    "\x1c": "INFORMATION SEPARATOR FOUR (FILE SEPARATOR)",
    "\x1d": "INFORMATION SEPARATOR THREE (GROUP SEPARATOR)",
    "\x1e": "INFORMATION SEPARATOR TWO (RECORD SEPARATOR)",
    "\x1f": "INFORMATION SEPARATOR ONE (UNIT SEPARATOR)",
    "\x85": "NEXT LINE (NEL)",
}


def _character_name(c):
    """The Unicode name of the character ``c``, or the alias of a control character."""
    return _CONTROL_NAMES.get(c) or unicodedata.name(c, "CONTROL CHARACTER")


def _spellings(layout, value):
    """The fields of the file of ``layout`` that are ``value`` once trimmed, as written
    ('-', ' -', '- '), in order: pandas takes a marker of na_values only as written, and
    would keep a column of ' -' as text. Reads the whole file (an error's path)."""
    found = {value: None}
    for _, row in _rows_to_check(layout):
        found.update((field, None) for field in row if _trimmed(field) == value)
    return list(found)


def _bad_value(layout, value, line, row_number, j):
    where = f"line {line} (data row {row_number}), {layout.column(j)}"
    padding = _other_padding(value)
    if padding:
        inner = value.strip()
        shown = " and ".join(f"U+{ord(c):04X} {_character_name(c)}" for c in padding)
        what = (f"a field of {shown} alone" if not inner else
                f"the missing-value marker {inner!r} with {shown} beside it"
                if _is_missing(inner) else f"the number {inner} with {shown} beside it")
        removed = "".join(f".replace({c!r}, '')" for c in padding)
        return (
            f"{layout.path!r} has {value!r} on {where}: {what}, which pandas does not take for "
            "a space, so that pandas, and fastem, read the field as text (only spaces and "
            "tabs may stand around a value). Remove those characters from the file (e.g. "
            f"in Python: text = open(path, encoding={layout.encoding!r}).read(){removed}, "
            "then write text to a new file)"
        )
    breaks = _line_breaks(value.rstrip("\r\n"))
    if breaks:  # numbers on several lines hold no spaces of numpy.savetxt
        return (
            f"{layout.path!r} has {value!r} on {where}, a quoted field that runs to line "
            f"{line + breaks}; if its quote was left open, {_OPEN_QUOTE}; otherwise choose "
            "numeric columns (--columns on the command line, columns= in fastem.Chunks), or "
            "correct that value"
        )
    notation = (_grouped_digits(layout, value, where) or _typographic_minus(layout, value, where)
                or _decorated_value(layout, value, where, j))
    if notation:  # a number written as a locale or print writes it
        return notation
    if _spaced_numbers(value):
        return (
            f"{layout.path!r} has {value!r} on {where}: numbers separated by spaces "
            "(numpy.savetxt's default), which fastem does not take for a delimiter; save "
            "the file with commas (np.savetxt(path, X, delimiter=',')) or convert it (with pandas: "
            f"{_spaced_resave(layout)})"
        )
    if _is_missing(value):
        shown = "an empty field" if value == "" else repr(value)
        return (
            f"{layout.path!r} has a missing value ({shown}) on {where}; {layout.nan_fix}"
        )
    if j == 0 and _is_comment(value):
        return f"{layout.path!r} has the non-numeric value {value!r} on {where}{_LATE_COMMENT}"
    if _MISSING_MARK.fullmatch(value):
        return (
            f"{layout.path!r} has {value!r} on {where}, which some data sets write for a "
            "missing value; fastem reads pandas' markers (an empty field, NA, nan, ...), not "
            f"{value!r}: if it marks one, write the file with those (with pandas: "
            f"{_pandas_resave(layout, f'na_values={_spellings(layout, value)!r}')}), then "
            f"{layout.nan_fix}"
        )
    if re.fullmatch(r"[-+]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?", value) and (
        "." in value or value.count(",") > 1  # a decimal comma is one comma, without a point
    ):
        return (
            f"{layout.path!r} has {value!r} on {where}, a number with a thousands "
            "separator; save the file without separators in numbers "
            f"({_notation_resave(layout, value, ',')})"
        )
    if re.fullmatch(r"[-+]?[0-9]{1,3},[0-9]{3}", value):
        # 1,000 is a thousand or one: each fix would silently misread the other
        thousand, one = value.replace(",", ""), value.replace(",", ".")
        shown = "with pandas: {} for " + thousand
        return (
            f"{layout.path!r} has {value!r} on {where}: a number with a thousands separator "
            f"({thousand}) or with a decimal comma ({one}), which fastem cannot tell apart; "
            "fastem reads neither. Check which the file means, then save it without "
            f"separators in numbers ({_notation_resave(layout, value, ',', '.', shown)}) or "
            f"with decimal points ({_notation_resave(layout, value, None, ',', '{} for ' + one)})"
        )
    if _DECIMAL_COMMA.fullmatch(value):
        return (
            f"{layout.path!r} has {value!r} on {where}, a number with a decimal comma; "
            "fastem reads decimal points: save the file with '.' as the decimal separator "
            f"({_notation_resave(layout, value, None, ',')})"
        )
    return (
        f"{layout.path!r} has the non-numeric value {value!r} on {where}; "
        "choose numeric columns (--columns on the command line, columns= in fastem.Chunks), "
        "or correct that value"
    )
