"""The ``fastem`` command line: fit, predict, score, impute, sample, select, info and demo.

Every subcommand prints readable text on stdout, or JSON with ``--json``.
Errors print one line on stderr (what was wrong, the value, how to fix it)
and exit with status 1, or 2 for a bad command line; ``--debug`` shows the
traceback instead. Output that stdout cannot take (a full disk, stdout
closed) is an error too; a reader of stdout that left (``| head``) ends the
command quietly with status 141, as SIGPIPE would, an interruption (Ctrl-C)
with 130 and SIGTERM or SIGHUP with 143 or 129, the files being written
removed. Warnings of
a command that succeeds are printed after it, one line each; under ``python
-W error`` (or ``PYTHONWARNINGS=error``) a warning is an error, and the
command writes no output. An option that would have no effect on the command line given
(``impute --seed`` without ``--draw``) is refused with the reason, not ignored. No command writes to a file that it reads: an output path
that is an input file (by device and inode, so links count) is refused.

Data files (DATA) may be ``.npy`` (memory-mapped, not read whole), ``.csv``
(read by :mod:`fastem._tables`: comma, tab, semicolon or bar separated, with
or without a header row, BOM, CRLF, quoting, a pandas index column) or
``.parquet`` (needs pyarrow: ``pip install 'fastem[parquet]'``). ``--columns``
picks columns by name (csv header, parquet) or by 0-based index, comma-
separated or repeated. A model fitted on named columns records the names, and
``predict`` and ``score`` pick a file's columns by them; one fitted on columns
chosen by index in a file without names records the indices (the model file's
``column_indices``), and ``predict``, ``score`` and ``impute`` without
``--columns`` take those columns of a file without names, with a note (a file
with names is refused: choose its columns with ``--columns``; the names x0, x1,
... are places); ``sample`` writes such a model's draws at those columns, the
others NaN, so that they read back as the data did. Paths are resolved as the
operating system resolves them (``sub/../out.csv`` needs ``sub``; ``~`` is
not expanded), and errors name the path given, never a temporary file. An
output that is a stream (``-o /dev/stdout``, a FIFO, ``/dev/null``) is
written into, as CSV where its name has no extension (a model as .npz),
never replaced by a file; a summary printed on stdout then goes to stderr.
"""

import argparse
import collections
import contextlib
import csv
import datetime
import difflib
import errno
import io
import json
import math
import numbers
import os
import signal
import sys
import threading
import time
import warnings

import numpy as np

from ._cli_words import cli_words
from ._config import SERIAL_WORK
from ._progress import (
    ProgressLine, SelectionProgress, compile_notice_muted, flush_compile_notice,
)
from ._tables import (
    check_encoding,
    choose_columns,
    column_labels,
    csv_column_names,
    fill_csv,
    guessed_encoding_note,
    guessed_text_note,
    UNNAMED_INDEX,
    header_problem,
    header_quoted,
    index_positions,
    parquet_column_names,
    parquet_index_problem,
    parquet_range_index,
    place_of,
    read_columns,
    shortest_text,
    names_in_row,
    spells_names,
    unique_names,
    unnamed_first_row,
)
from ._tables import read_table as read_table_file
from ._validation import (
    MESSAGE_FEATURE_NAMES, EntryError, check_memory, check_path_characters, close_choice, dtype_text,
    name_differences, name_key, numeric_advice, rounded_whole_number, shown_names, shown_number,
)
from .base import unobserved_rows
from .data import HEADER_WORDS

__all__ = ["main"]

_DATA_EXTENSIONS = (".npy", ".csv", ".parquet")
_FAMILIES = {"gaussian": "GaussianMixture", "exponential": "ExponentialMixture", "poisson": "PoissonMixture"}
_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


class CommandError(Exception):
    """A problem to report to the user in one line; ``status`` is the exit code."""

    status = 1


class UsageError(CommandError):
    """A bad command line: ``UsageError(message, where_to_look)``."""

    status = 2

    def __str__(self):
        return " ".join(self.args)


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(message, f"(see '{self.prog} --help')")

    def _print_message(self, message, file=None):
        # argparse ignores a failed write: --help lost to a full disk exited 0
        if message and file is not None and file is sys.stdout:
            _flush_stdout(message)
        else:  # stdout closed: argparse prints on stderr
            super()._print_message(message, file)

    def _check_value(self, action, value):
        # argparse's own message, with the choice that a wrong case or a typo is close to
        if action.choices is not None and value not in action.choices:
            choices = ", ".join(map(repr, action.choices))
            raise argparse.ArgumentError(
                action, f"invalid choice: {value!r} (choose from {choices}).{close_choice(value, action.choices)}"
            )

    def _get_option_tuples(self, option_string):
        # An abbreviation of two spellings of one option (--cov: --covariance and
        # --covariance-type) is that option, not an ambiguity.
        unique = {}
        for option in super()._get_option_tuples(option_string):
            unique.setdefault(id(option[0]), option)
        return list(unique.values())


# ----------------------------------------------------------------------
# argument types


def _integer(text, minimum):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
    return value


def _positive_int(text):
    return _integer(text, 1)


def _encoding(text):
    """--encoding: the codec name of a text encoding that Python knows."""
    try:
        return check_encoding(text, "--encoding")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _demo_size(text):
    """--n-samples of the demo: at least a point per component of its mixture."""
    value = _integer(text, -np.inf)
    if value < 4:
        raise argparse.ArgumentTypeError(
            f"must be >= 4, a point for each of the demo mixture's 4 components, got {value}")
    return value


def _non_negative_int(text):
    return _integer(text, 0)


def _non_negative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"must be a number >= 0, got {text!r}")
    if math.isinf(value) and any(c.isdigit() for c in text):  # '1e400', not 'inf'
        raise argparse.ArgumentTypeError(
            f"{text!r} is beyond the range of float64 (largest {np.finfo(np.float64).max:.3g}), "
            "which would read it as inf; give a number within it")
    return value


class KRange:
    """Numbers of components given as ranges, expanded only once checked against the data."""

    def __init__(self, ranges, text):
        self.ranges, self.text = ranges, text

    @property
    def largest(self):
        return max(high for _, high in self.ranges)

    def values(self, n_samples, path):
        if self.largest > n_samples:
            raise CommandError(
                f"--k {self.text} asks for up to {self.largest} components, but {path!r} has "
                f"only {n_samples} data row(s); use at most {n_samples}, e.g. --k "
                f"1-{min(n_samples, 10)}"
            )
        return sorted({k for low, high in self.ranges for k in range(low, high + 1)})


def _k_values(text):
    """'3', '1-10' or '2,4,8' (or a mix: '1-3,8') as ranges of positive ints."""
    ranges = []
    try:
        for part in text.split(","):
            low, _, high = part.partition("-")
            low = int(low)
            high = int(high) if high else low
            if low < 1 or high < low:
                raise ValueError
            ranges.append((low, high))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected positive numbers of components like '4', '1-10' or '2,4,8', got {text!r}"
        ) from None
    return KRange(ranges, text)


_SELECT_ORDER = ("spherical", "diag", "tied", "full")  # select_n_components' order


def _seed(text):
    value = _integer(text, 0)
    if value >= 2**32:
        raise argparse.ArgumentTypeError(f"must be below 2**32 = 4294967296, got {value}")
    return value


def _covariance_list(text):
    """'all' or a comma-separated list; each type once, as --k takes each K once."""
    if text == "all":
        return list(_SELECT_ORDER)
    types = list(dict.fromkeys(t.strip() for t in text.split(",")))
    bad = [t for t in types if t not in _COVARIANCE_TYPES]
    if bad:
        raise argparse.ArgumentTypeError(
            f"unknown covariance type {bad[0]!r}; use 'all' or a comma-separated list of "
            f"{', '.join(_COVARIANCE_TYPES)}"
        )
    return types


# ----------------------------------------------------------------------
# data files


# Why '-', a script's habit for standard input or output, names no file fastem reads, and
# how it writes standard output; each is followed by "a path ending in one of ...".
_NOT_A_STREAM = {
    "data file": "standard input, which fastem does not read: it reads DATA more than once, in "
                 "the format its extension names; give",
    "model file": "standard input, which fastem does not read: it loads a model from the .npz "
                  "file that 'fastem fit -o' wrote; give",
    "output file": "standard output, which fastem writes when it is named /dev/stdout (as CSV, "
                   "a model as .npz); for a file, give",
}


def _standard_stream_error(what, allowed):
    """The CommandError for '-' given as a ``what`` ("data file", ...) path."""
    return CommandError(f"{what} '-' would be {_NOT_A_STREAM[what]} a path ending in one of "
                        f"{', '.join(allowed)}")


def _extension(path, allowed, what):
    if path == "-":
        raise _standard_stream_error(what, allowed)
    ext = os.path.splitext(path)[1].lower()
    if ext not in allowed:
        raise CommandError(
            f"{what} {path!r} has extension {ext or '(none)'!r}; use one of {', '.join(allowed)}"
        )
    return ext


def _column_tokens(requested, names, option="--columns"):
    """``--columns`` values ('a,b', repeated or not) as a flat list of names or indices
    (``option``: the option that gave them, as the errors name it).

    A value that is one of the file's column ``names`` is that name, commas and
    all. Any other value is a comma-separated list read as a CSV row, so a name
    with a comma can be quoted: ``--columns '"weight, kg",height'``.
    """
    if not requested:
        return None
    tokens = []
    for item in requested:
        if names is not None and item in names:
            tokens.append(item)
            continue
        try:  # a quoted name may hold a line break, as a CSV field does
            rows = list(csv.reader(io.StringIO(item, newline=""), skipinitialspace=True))
            if len(rows) > 1:
                raise csv.Error("a line break outside quotes")
            fields = rows[0] if rows else []
        except csv.Error as exc:
            raise CommandError(
                f"{option} {item!r} is not a comma-separated list ({exc}); quote a name "
                f"that contains a comma or a line break, e.g. {option} '\"weight, kg\",height'"
            ) from None
        fields = [field.strip() for field in fields]
        if "" in fields and any(fields):
            # 'a,' or 'a,,b' (e.g. --columns a,$B with B unset): a column left out unseen
            raise CommandError(
                f"{option} {item!r} has an empty entry (entry {fields.index('') + 1}); "
                "remove the extra comma, or name the missing column"
            )
        tokens += [field for field in fields if field]
    if not tokens:
        raise CommandError(
            f"{option} {' '.join(map(repr, requested))} names no column; give names or "
            f"0-based indices, e.g. {option} eruptions,waiting"
        )
    return tokens


def _read_npy(path, columns):
    from .data import load_npy

    try:
        X = load_npy(path, mmap_mode="r")
    except ValueError as exc:
        raise CommandError(_one_line(exc)) from None
    except OSError as exc:
        raise CommandError(
            f"{path!r} is not a readable .npy file ({_one_line(exc)}); write it with numpy.save"
        ) from None
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise CommandError(
            f"{path!r} holds a {X.ndim}-D array of shape {X.shape}; save a 2-D array "
            "(n_samples, n_features)"
        )
    indices = choose_columns(columns, None, list(range(X.shape[1])), path)
    if indices != list(range(X.shape[1])):
        with _watched(X, path):
            X = X[:, indices]  # copies only the chosen columns into memory
    return X, None, [], indices, None


def _watched(X, path):
    """Context of a read of ``X``: a memory-mapped file that changes meanwhile is an error."""
    from .data import FileSignature, backing_file, reading

    return reading(X, FileSignature(path) if backing_file(X) is not None else None)


_HEADER = {None: None, **HEADER_WORDS}


def _read_table(path, columns, header=None, missing=False, nan_fix=None, rounding=False,
                encoding=None):
    table = read_table_file(path, columns, _HEADER[header], missing, nan_fix, rounding,
                            encoding)
    return table.data, table.names, table.notes, table.positions, table.layout


def column_names(path, header=None, encoding=None):
    """The data column names of a CSV or parquet file, or None (no header, or .npy);
    ``header`` and ``encoding`` are ``--header`` and ``--encoding`` (for .csv files)."""
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".csv":
            return csv_column_names(path, _HEADER[header], encoding)
        if ext == ".parquet":
            return parquet_column_names(path)
    except (ValueError, ImportError) as exc:
        raise CommandError(str(exc)) from None
    return None


def _index_problem(path, names):
    """For an error that a parquet DATA lacks some of ``names``: a sentence, '. Note: ...',
    where one of them is the index of the pandas DataFrame saved in it
    (:func:`~fastem._tables.parquet_index_problem`); else ''."""
    if not path.lower().endswith(".parquet"):
        return ""
    try:
        problem = parquet_index_problem(path, names)
    except (ValueError, ImportError) as exc:
        raise CommandError(str(exc)) from None
    return f". Note: {problem}" if problem else ""


def _names_error(args, header, message):
    """A CommandError of ``message``, about the names of DATA read with ``header``, that
    says, when it is so, that they were read in an encoding that fastem guessed."""
    note = None
    if args.data.lower().endswith(".csv"):
        with contextlib.suppress(ValueError):
            note = guessed_encoding_note(args.data, _HEADER[header], args.encoding)
    return CommandError(message + (f". Note: {note}" if note else ""))


def _tilde_hint(path):
    """:func:`fastem.io.tilde_hint`, with the shell's spelling of the home directory."""
    from .io import tilde_hint

    return tilde_hint(path, "e.g. -o ~/out.csv rather than --output=~/out.csv")


def _check_data_path(path):
    """The extension of DATA, a regular file that exists."""
    try:
        check_path_characters(path, "data file")
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    ext = _extension(path, _DATA_EXTENSIONS, "data file")
    if not os.path.exists(path):
        raise CommandError(f"data file {path!r} does not exist; check the path{_tilde_hint(path)}")
    if not os.path.isfile(path):  # a FIFO would block the reader, a directory fail oddly
        raise CommandError(f"data file {path!r} is not a regular file; give the path of a file")
    return ext


def read_table(path, columns=None, dtype=None, quiet=False, header=None, missing=False,
               nan_fix=None, model=None, rounding=False, encoding=None):
    """Read DATA: a 2-D array, its column names (None without names), their positions, layout.

    The positions are the chosen columns' 0-based places among the file's
    columns (a CSV file's fields, index columns included); the layout is
    what the reader found of a CSV file (:class:`fastem._tables.Table`), else
    None.

    ``columns`` are ``--columns`` values; ``header`` and ``encoding`` are
    ``--header`` and ``--encoding`` (for .csv files); ``dtype`` converts the array
    (float32 or float64; by default float32 data stay float32 and the rest
    become float64, as the estimators convert them); with ``missing``,
    missing values (NaN, empty CSV fields, ``NA``) are kept as NaN; without
    it, the error for one ends with
    ``nan_fix`` (the default advises ``fit --missing em``). Notes about the
    file (an index column left out) go to stderr. A value that the conversion
    to the dtype would alter (beyond its range, or a whole number that it
    rounds) is an error, whose fix names ``model``, the path of the model
    file that evaluates the data, if any (in the default dtype, that of
    its methods); with ``rounding`` (and float64),
    whole numbers are read rounded, for a command that copies the file's own
    values and only computes with them (impute).
    """
    ext = _check_data_path(path)
    tokens = _column_tokens(columns, column_names(path, header, encoding) if columns else None)
    try:
        if ext == ".npy":
            X, names, notes, positions, layout = _read_npy(path, tokens)
        else:
            X, names, notes, positions, layout = _read_table(path, tokens, header, missing,
                                                             nan_fix, rounding, encoding)
    except (ValueError, ImportError) as exc:  # the readers' messages name the file, place and fix
        raise CommandError(str(exc)) from None
    for note in notes if not quiet else ():
        print(f"fastem: note: {note}", file=sys.stderr)
    if X.dtype.kind not in "biuf":
        raise CommandError(
            f"{path!r} holds values of {dtype_text(X.dtype)}, not real numbers. "
            f"{numeric_advice(X.dtype, saved=True)}"
        )
    if X.shape[0] == 0:
        raise CommandError(
            f"{path!r} has a header row but no data rows; add rows of numbers below the header"
            if ext == ".csv" and names is not None else f"{path!r} has no data rows")
    if X.shape[1] == 0:  # an array of shape (n, 0), a parquet file of its row index alone
        raise CommandError(f"{path!r} has no data columns (its {X.shape[0]:,} rows hold no "
                           "value, or only a row index, which is not data); give a file "
                           "with at least one column of numbers")
    # the dtype of the computation: float32 data stay float32 (of either byte order, as the
    # estimators take them), the rest become float64
    target = np.dtype(dtype or (np.float32 if X.dtype.type is np.float32 else np.float64))
    with _watched(X, path):
        _check_finite(X, path, missing, nan_fix, layout)
        if X.dtype != target:
            if not rounding and X.dtype.type is not target.type:  # not a change of byte order
                _check_holds(X, path, target, names, model, layout)
            X = X.astype(target)
    return X, names, positions, layout


def _check_holds(X, path, dtype, names, model=None, layout=None, block=1 << 20):
    """Refuse values of ``X`` that the cast to ``dtype`` would alter: beyond its range (they
    would be infinite), or whole numbers that it would round (16777217 in float32, which holds
    every whole number only up to 2**24; an int64 beyond 2**53 in float64).

    A whole number counts as such in an integer array, and in a float array up to where its
    own type holds every whole number as written (2**53 in float64, 2**64 in an x86 long
    double). The row and the column of
    the first are 1-based, as in the other errors about a file's values; the column is
    counted among the columns read (``names``, when the file has them), or for a CSV file
    (its ``layout``) the row's line and the column are those of the file. ``model``: the
    path of the model that evaluates ``X`` rather than a fit, for the fix; it takes data
    that are not float32 in float64, so ``dtype`` is float64 then.
    """
    info = np.finfo(dtype)
    bound = 2 ** (info.nmant + 1)  # every whole number up to it is held exactly
    integers = X.dtype.kind in "biu"
    written = None if integers else 2.0 ** (np.finfo(X.dtype).nmant + 1)  # as for bound
    for start in range(0, X.shape[0], block):
        part = np.asarray(X[start : start + block])
        with np.errstate(over="ignore"):  # a long double beyond float64's: too large
            wide = np.abs(part.astype(np.float64))
        too_large = wide > info.max
        rounded = wide >= bound  # candidates, then decided one by one
        if not integers:
            rounded &= (np.abs(part) <= written) & (part == np.trunc(part))
        # as Python numbers, exact: NumPy would compare an int64 with a float64 in float64
        rounded[rounded] = [type(v)(dtype.type(v)) != v for v in part[rounded].tolist()]
        bad = too_large | rounded
        if not bad.any():
            continue
        row, column = np.unravel_index(int(np.argmax(bad)), part.shape)
        value = part[row, column]
        name = "" if names is None else f" ({names[column]!r})"
        where = (f"{path!r} holds {{}} on {place_of(layout, start + row, column)}"
                 if layout is not None else
                 f"{path!r} holds {{}} in data row {start + row + 1} (1-based, header not "
                 f"counted), column {column + 1}{name} of those read")
        refit = f"fit the model {model!r} again"
        if too_large[row, column]:
            scale = (f"{refit} on data scaled into it, scaling these alike" if model else
                     "scale the data")
            raise CommandError(
                f"{where.format(shown_number(value))}, beyond the range of {dtype.name} (largest "
                f"{info.max:.3g}); " + (scale if dtype == np.float64 or wide[row, column] == np.inf
                                        else f"use --dtype float64, or {scale}")
            )
        if model is None:
            offset = "subtract an offset from that column (its smallest value, say)"
        else:
            offset = (f"{refit} on that column less an offset (its smallest value, say), "
                      "subtracting it here too")
        raise CommandError(rounded_whole_number(
            where.format(int(value)), int(value), dtype,
            f"use --dtype float64, or {offset}" if dtype == np.float32 else offset))


def _check_finite(X, path, missing=False, nan_fix=None, layout=None, block=1 << 20):
    """Name the file and the first bad row (NaN is missing, not bad, with ``missing``): its
    line too for a CSV file (its ``layout``).

    Reads a memory-mapped file in blocks.
    """
    for start in range(0, X.shape[0], block):
        part = X[start : start + block]
        good = ~np.isinf(part) if missing else np.isfinite(part)
        good = good.all(axis=1)
        if not good.all():
            row = start + int(np.argmin(good))
            what = "an infinite value" if missing else "a NaN or infinite value"
            fix = ("replace it with NaN (a missing value) or remove such rows" if missing
                   else nan_fix or "fit with --missing em if NaN marks missing values, or "
                   "remove or impute such rows")
            where = (f"on {place_of(layout, row)}" if layout is not None else
                     f"in data row {row + 1} (1-based, header not counted)")
            raise CommandError(f"{path!r} has {what} {where}: {X[row].tolist()}; {fix}")


_OUTPUT_EXTENSIONS = (".npy", ".csv", ".parquet")


def _output_extension(path, allowed=_OUTPUT_EXTENSIONS):
    """The extension that names the format of the output ``path``, one of ``allowed``.

    A stream without an extension (``/dev/stdout``, a FIFO: see
    :func:`fastem.io.replacing`) takes CSV, text that a terminal or a pipe
    reads, when it is allowed (a model file is .npz).
    """
    from .io import check_stream

    if path != "-" and not os.path.splitext(path)[1] and check_stream(path, error=CommandError):
        return ".csv" if ".csv" in allowed else allowed[0]
    return _extension(path, allowed, "output file")


def _check_output(path, allowed, inputs):
    """Check an output path: its extension, its directory, and that it is no input.

    ``inputs`` maps a description ("data file", "model file") to the input
    path. Sameness is decided by the file system (device and inode), so a
    symbolic or hard link to an input, or another spelling of its path, is
    caught too: '-o /dev/stdout >> data.csv' as well. A stream (``/dev/stdout``, a
    FIFO), which is written into, needs no writable directory.
    """
    from .io import check_replaceable, check_stream, replacement_target

    _output_extension(path, allowed)
    if not check_stream(path, error=CommandError):
        try:  # resolved as the operating system does: 'sub/../out.csv' needs 'sub'
            target, _ = replacement_target(path)
        except OSError as exc:  # the message names the path as given and its missing directory
            raise CommandError(exc.strerror or _one_line(exc)) from None
        directory = os.path.dirname(target)
        if not os.access(directory, os.W_OK | os.X_OK):  # checked before the work
            raise CommandError(f"cannot write {path!r}: directory {directory!r} is not "
                               "writable; choose an output path in a directory you can write to")
        check_replaceable(path, target, error=CommandError)
    for what, source in inputs.items():
        try:
            same = os.path.samefile(path, source)
        except OSError:  # either does not exist (yet)
            same = False
        if same:
            raise CommandError(
                f"output {path!r} is the {what} {source!r} that this command reads; writing "
                "it would destroy the input. Choose another output path"
            )
    if os.path.isdir(path):
        raise CommandError(f"cannot write {path!r}: it is a directory; give a file name")


def _replacing(path):
    """A binary file object whose content becomes ``path`` when the block succeeds
    (:func:`fastem.io.replacing`): an error or an interruption (Ctrl-C, SIGTERM)
    part-way leaves ``path`` as it was, never a cut-off file; a stream
    (``/dev/stdout``, a FIFO) is written as it is. An error of writing is a
    CommandError naming ``path``, never the temporary file."""
    from .io import replacing

    return replacing(path, "cannot write", CommandError)


class _LineFeedRows:
    """The text file ``f`` for a ``csv.writer`` whose rows end in '\r\n', written ending in '\n'.

    The writer quotes a field that holds a character of its line terminator:
    with '\n' alone, a name or text holding '\r' would go unquoted, and a
    reader (fastem's, pandas') would split the row there. The writer hands
    each row to ``write`` whole.
    """

    def __init__(self, f):
        self._f = f

    def write(self, row):
        return self._f.write(row[:-2] + "\n")


class _CsvRows:
    """A ``csv.writer`` of rows ending in '\n' that quotes fields with line breaks of either
    kind, and every field of a row whose first field starts with '#' or U+FEFF.

    A line that starts with '#' is a comment to fastem's reader (skipped above the header,
    an error below it) and to R's ``read.table``: unquoted, a first column name such as
    '#clicks' would lose the header, and a first field such as '#A12' its row. A file
    that starts with U+FEFF starts with a byte-order mark to every reader, which drops it:
    unquoted, a first name such as '\ufeffid' (read from a file with its mark kept) would be
    read back as 'id'.
    """

    def __init__(self, f):
        rows = _LineFeedRows(f)
        self._plain = csv.writer(rows, lineterminator="\r\n")
        self._quoted = csv.writer(rows, lineterminator="\r\n", quoting=csv.QUOTE_ALL)

    def writerow(self, row):
        row = list(row)
        marked = bool(row) and str(row[0]).startswith(("#", "\ufeff"))
        (self._quoted if marked else self._plain).writerow(row)

    def writeheader(self, names):
        """Write a header of column ``names`` that reads back as them: quoted when every name
        reads as a number or a missing value (a header of '450,500' would be read as a row
        of data). :func:`_check_header` refuses the names that no header holds so."""
        (self._quoted if header_quoted(names) else self).writerow(names)

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def _check_header(names, path, n_index=0):
    """Refuse, before writing the CSV file ``path``, column ``names`` that its header cannot
    hold so that they read back as written (:func:`fastem._tables.header_problem`): an
    empty name, or a first name that marks pandas' row index, whose column readers leave
    out of the data. ``n_index``: the first names are those of a row index."""
    problem = header_problem(names, n_index) if path.lower().endswith(".csv") else None
    if problem is not None:
        j, why = problem
        raise CommandError(
            f"cannot write the column name {str(names[j])!r} (column {j + 1}) in the header of "
            f"{path!r}: {why}, so that the column would be lost or renamed when read; write the "
            "output as .parquet, which keeps every name, or rename the column"
        )


def write_array(path, array, names):
    """Write a 1-D or 2-D array as .npy, .csv (with a header of ``names``) or .parquet.

    The file appears whole or not at all (:func:`_replacing`).
    """
    _check_header(names, path)
    with _replacing(path) as f:
        _write_array(f, _output_extension(path), array, names)


def _write_array(f, ext, array, names):
    """Write ``array`` to the binary file object ``f`` in the format of the extension ``ext``."""
    if ext == ".npy":
        np.save(f, array)
        return
    table = array.reshape(len(array), -1)
    if ext == ".csv":
        fmt = "%d" if table.dtype.kind in "iu" else ("%.9g" if table.dtype == np.float32 else "%.17g")
        header = io.StringIO()
        _CsvRows(header).writeheader(names)  # quotes a name with a comma or a line break
        np.savetxt(f, table, fmt=fmt, delimiter=",", header=header.getvalue()[:-1], comments="",
                   encoding="utf-8")
        return
    pa, pq = _pyarrow_for_output()
    # a list, not a dict: columns with the same name are all kept
    pq.write_table(pa.table([table[:, j] for j in range(table.shape[1])], names=list(names)), f)


# ----------------------------------------------------------------------
# models


def _family_class(family):
    import fastem

    name = _FAMILIES[family]
    cls = getattr(fastem, name, None)
    if cls is None:
        raise CommandError(
            f"--family {family} needs fastem.{name}, which this fastem {fastem.__version__} "
            "does not provide; upgrade fastem or use --family gaussian"
        )
    return cls


def _load_model(path):
    """The model in ``path``, and the ``column_indices`` its file records (or None)."""
    from .io import _COLUMN_INDICES, _load

    try:
        model, metadata = _load(path)
    except FileNotFoundError:
        if path == "-":  # not a file named '-', which is loaded as any other
            raise _standard_stream_error("model file", (".npz",)) from None
        raise CommandError(
            f"model file {path!r} does not exist; create it with 'fastem fit -o'"
            f"{_tilde_hint(path)}"
        ) from None
    return model, metadata.get(_COLUMN_INDICES)


def _save_model(model, path, names, positions, columns):
    """Save a model fitted on DATA's columns at ``positions`` (:func:`read_table`).

    Columns chosen (``columns``: ``--columns``) from a file without names are
    recorded by index (the file's ``column_indices``), so that ``predict``,
    ``score`` and ``impute`` choose the same ones; named columns are matched
    by their names (``feature_names_in_``).
    """
    from .io import save

    if names is not None:  # what fit(DataFrame) records; predict and score select by it
        model.feature_names_in_ = np.asarray(names, dtype=object)
    # Without names, positions count the data columns (no index column is recognised).
    indices = [int(j) for j in positions] if names is None and columns else None
    save(model, path, column_indices=indices)
    return indices


def _to_json(value):
    """NumPy scalars and arrays for json.dumps; anything else as its repr."""
    return value.tolist() if hasattr(value, "tolist") else repr(value)


def _to_list(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


def _column_labels(names, positions):
    """The names by which the command line calls the columns it read (:func:`read_table`):
    their ``names``, else ``x{j}`` of the file's 0-based column ``j``, as
    :func:`_feature_labels` names a model's features once fitted on them."""
    return list(names) if names is not None else [f"x{int(j)}" for j in positions]


def _feature_labels(model, column_indices=None):
    """The features' names, else ``x{j}`` of the file's 0-based column ``j``: the model's
    ``column_indices`` (columns chosen by index in a file without names), else its
    features in order."""
    names = getattr(model, "feature_names_in_", None)
    positions = range(model.n_features_in_) if column_indices is None else column_indices
    return _column_labels(None if names is None else [str(n) for n in names], positions)


def _positional_labels(width):
    """The names x0, x1, ... that ``sample`` writes to a table of ``width`` columns without
    names of its own: read back, they are the columns' places, not names."""
    return [f"x{j}" for j in range(width)]


def _in_fitted_layout(model, X, column_indices):
    """Draws ``X`` (n_samples, n_features), laid out as the data the model was fitted on, and
    their column names: for a model fitted on the columns ``column_indices`` of a file
    without names, feature ``j`` is column ``column_indices[j]`` and any other column below
    the last is NaN, so that ``predict``, ``score`` and ``impute`` of the file read each
    feature where the model does."""
    if column_indices is None:
        return X, _feature_labels(model)
    width = max(column_indices) + 1
    laid_out = np.full((X.shape[0], width), np.nan, dtype=X.dtype)
    laid_out[:, column_indices] = X
    return laid_out, _positional_labels(width)


def _shown_names(names):
    """``names`` as a line of text shows them: all quoted (``repr``) when one is empty, or
    holds a comma, spaces around it or a character that does not print (a line break, a
    tab), which would show no name, run into the next name or break the line; else as
    they are."""
    if any(not n or "," in n or n != n.strip() or not n.isprintable() for n in names):
        return [repr(n) for n in names]
    return list(names)


def _component_columns(model, features=None):
    """{column title: values of shape (n_components,)} in the family's own terms.

    Gaussian: mean and standard deviation of each feature; exponential:
    scale (the mean) and rate of each feature; Poisson: rate (the mean) of
    each feature. Another family: its parameters, flattened per component.
    ``features`` names the features in the titles (default: their names, or
    x0, x1, ...); a name that repeats (a model file whose names were assigned
    so) is followed by the feature's 0-based position, so that each feature
    keeps a column of its own.
    """
    K = model.n_components
    features = _feature_labels(model) if features is None else list(features)
    repeated = {name for name, count in collections.Counter(features).items() if count > 1}
    features = [f"{name} (feature {j})" if name in repeated else name
                for j, name in enumerate(features)]
    columns = {"weight": np.asarray(model.weights_, dtype=np.float64)}

    def per_feature(title, values):
        values = np.asarray(values, dtype=np.float64).reshape(K, -1)
        for j, name in enumerate(features):
            columns[f"{title} {name}"] = values[:, j]

    if hasattr(model, "covariance_type"):
        per_feature("mean", model.means_)
        per_feature("sd", np.sqrt(model._float64_feature_variances()))
    elif hasattr(model, "scales_"):
        per_feature("scale", model.scales_)
        per_feature("rate", model.rates_)
    elif hasattr(model, "rates_"):
        per_feature("rate", model.rates_)
    else:
        for name in model._parameter_names[1:]:
            values = np.asarray(getattr(model, name), dtype=np.float64).reshape(K, -1)
            for j in range(values.shape[1]):
                columns[f"{name}[{j}]"] = values[:, j]
    return columns


def _significant_digits(columns):
    """{title: significant digits} of the Gaussian means and Poisson rates among
    ``columns`` (:func:`_component_columns`) that need more than 4 to be read.

    A mean far from 0 against its feature's spread (1e6 + noise of sd 0.05)
    printed with 4 digits reads 1e+06 for every component, and so do Poisson
    rates of 1e8 and 1.0005e8, 5 standard deviations (sqrt(rate)) apart; each
    gets the digits that show it to a tenth of the feature's smallest standard
    deviation, as many as float64 holds at most. The others keep 4 (an
    exponential's scale is its standard deviation).
    """
    digits = {}
    for title, values in columns.items():
        kind, _, feature = title.partition(" ")
        if kind == "mean":
            spreads = columns.get("sd " + feature)
        elif kind == "rate" and "scale " + feature not in columns:  # Poisson: sd sqrt(rate)
            spreads = np.sqrt(values)
        else:
            continue
        largest = np.max(np.abs(values))
        if spreads is None or not largest > 0 or not np.min(spreads) > 0:
            continue
        needed = int(np.floor(np.log10(largest)) - np.floor(np.log10(np.min(spreads)))) + 2
        if needed > 4:
            digits[title] = min(needed, 17)
    return digits


def _model_summary(model, column_indices=None):
    params = {k: _to_list(v) for k, v in model.get_params().items() if k != "callback"}
    names = getattr(model, "feature_names_in_", None)
    return {
        "class": type(model).__name__,
        "hyper_parameters": params,
        "n_features_in": int(model.n_features_in_),
        "feature_names_in": None if names is None else [str(n) for n in names],
        # the data file's columns, chosen by index in a file without names (else null)
        "column_indices": column_indices,
        "dtype": np.dtype(model._dtype).name,
        "converged": bool(model.converged_),
        "n_iter": int(model.n_iter_),
        "lower_bound": float(model.lower_bound_),
        # the settings that the parameters embody, where set_params changed them since the
        # fit (the model file's fitted_settings): {"reg_covar": 1e-06} beside 0.05
        **({"fitted_settings": _changed_settings(model)} if _changed_settings(model) else {}),
        # A model stepped by partial_fit (online EM), whose running statistics it keeps.
        **({"partial_fit_calls": int(model.n_iter_), "n_steps": int(model.n_steps_)}
           if getattr(model, "_running_stats", None) is not None else {}),
        "parameters": {name: _to_list(getattr(model, name)) for name in model._parameter_names},
        **({"effective_n_components": model.effective_n_components()}
           if hasattr(model, "effective_n_components") else {}),
        "components": {title: v.tolist() for title, v in
                       _component_columns(model, _feature_labels(model, column_indices)).items()},
    }


def _changed_settings(model):
    """The settings that ``model``'s parameters embody where they differ from its
    hyper-parameters (``set_params`` since the fit), as ``save`` writes them."""
    fitted = getattr(model, "_fitted_settings", None) or {}
    return {name: float(value) for name, value in fitted.items()
            if float(getattr(model, name)) != value}


def _print_model(model, column_indices=None):
    summary = _model_summary(model, column_indices)
    hyper = model.get_params()
    shown = ", ".join(
        f"{k}={hyper[k]!r}" for k in ("n_components", "covariance_type") if k in hyper
    )
    print(f"{summary['class']}({shown})")
    names = summary["feature_names_in"]
    if names:
        names = _shown_names(names)
    listed = f" ({', '.join(names)})" if names else ""
    if column_indices is not None:
        listed += (f" (columns {','.join(map(str, column_indices))} of a file without column "
                   "names, 0-based)")
    print(f"  features: {summary['n_features_in']}{listed}   dtype: {summary['dtype']}")
    if summary["n_iter"] == 0:  # max_iter=0: the start, never evaluated on the data
        print("  not fitted by EM (max_iter=0): the parameters are the start")
    elif "partial_fit_calls" in summary:
        print(f"  stepped by partial_fit {summary['partial_fit_calls']} time(s) (online EM, which "
              "keeps its running statistics and has no convergence test); log-likelihood per "
              f"sample of the last batch {summary['lower_bound']:.6f}")
    else:
        status = "converged" if summary["converged"] else "did not converge"
        bound = ("variational lower bound" if "effective_n_components" in summary
                 else "log-likelihood")
        print(f"  {status} after {summary['n_iter']} iteration(s); "
              f"{bound} per sample {summary['lower_bound']:.6f}")
    for name, value in summary.get("fitted_settings", {}).items():
        print(f"  fitted with {name}={value!r}; {name} is now {getattr(model, name)!r}, "
              "for a later fit or partial_fit")
    if "effective_n_components" in summary:
        print(f"  effective number of components (weight above 0.01): "
              f"{summary['effective_n_components']} of {model.n_components}")
    columns = _component_columns(model, _shown_names(_feature_labels(model, column_indices)))
    digits = _significant_digits(columns)
    cells = {title: [f"{v:.{digits.get(title, 4)}g}" for v in values]
             for title, values in columns.items()}
    widths = {title: max(len(title), *map(len, cells[title])) for title in cells}
    print("  component  " + "  ".join(f"{t:<{widths[t]}}" for t in cells))
    for k in range(model.n_components):
        print(f"  {k:<9}  " + "  ".join(f"{cells[t][k]:<{widths[t]}}" for t in cells))


# ----------------------------------------------------------------------
# progress and warnings


class Progress:
    """EM progress on stderr, used as a model's ``callback``.

    On a terminal one line is rewritten in place; otherwise (when forced with
    ``--progress``) each iteration gets its own line. The time of the first
    iteration of the first initialization includes initialization and any JIT
    compilation. The time per iteration is that of the passes since the last
    line: an accelerated step counts three. The objective is the log-likelihood
    per sample ('log-lik'), or a variational mixture's evidence lower bound ('ELBO').
    """

    def __init__(self, stream=None, live=None):
        self.line = ProgressLine(stream, live)
        self.last = time.perf_counter()
        self.n_init_done = 0
        self.previous = np.nan
        self.previous_iter = 0

    def __call__(self, model, n_iter, lower_bound):
        now = time.perf_counter()
        elapsed, self.last = now - self.last, now
        if n_iter == 1:
            self.n_init_done += 1
            self.previous, self.previous_iter = np.nan, 0
        passes, self.previous_iter = n_iter - self.previous_iter, n_iter
        change = "" if np.isnan(self.previous) else f"{lower_bound - self.previous:+.3e}"
        self.previous = lower_bound
        objective = "ELBO" if hasattr(model, "effective_n_components") else "log-lik"
        line = (
            f"init {self.n_init_done}/{model.n_init}  iter {n_iter:>4}/{model.max_iter}  "
            f"{objective} {lower_bound:.6f}  change {change:>10}  {elapsed / passes:.3f} s/iter"
        )
        self.line.show(line)
        return False

    def finish(self):
        self.line.finish()


def _progress(args):
    if args.quiet:
        return None
    if args.progress or sys.stderr.isatty():
        return Progress()
    return None


def _fit_with(model, X, progress):
    """Fit with ``progress`` as callback; :func:`main` reports the warnings in one line each."""
    if progress is not None:
        model.set_params(callback=progress)
    start = time.perf_counter()
    try:
        model.fit(X)
    finally:
        if progress is not None:
            progress.finish()
            model.set_params(callback=None)
    return time.perf_counter() - start


# ----------------------------------------------------------------------
# subcommands


def _finite_or_null(value):
    """``value`` with NumPy values as lists and numbers, and NaN and infinities as None:
    strict JSON (and JavaScript, Go, serde) has no NaN or Infinity."""
    if isinstance(value, dict):
        return {key: _finite_or_null(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_null(item) for item in value]
    if isinstance(value, (np.ndarray, np.generic)):
        return _finite_or_null(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _emit(args, result, text):
    """Print ``result``: as JSON with --json, else by ``text()``; on stderr when the
    command's output file is stdout (``-o /dev/stdout``), so as not to mix into it."""
    if _is_stdout(getattr(args, "output", None)):
        with contextlib.redirect_stdout(sys.stderr):
            _emit_to_stdout(args, result, text)
    else:
        _emit_to_stdout(args, result, text)


def _is_stdout(path):
    """Whether ``path`` is the file of stdout (``/dev/stdout``, or the file of ``> path``)."""
    if path is None or path == "-":
        return False
    try:
        a, b = os.stat(path), os.fstat(sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # no file, or stdout without a descriptor
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _emit_to_stdout(args, result, text):
    if args.json:
        print(json.dumps(_finite_or_null(result), indent=2, default=_to_json, allow_nan=False))
    else:
        text()


def _em_kwargs(args):
    """The estimator parameters of the EM options (--max-iter, --tol, --reg-covar) given.

    Refuses a Gaussian-only option (--covariance, --reg-covar) with another family.
    """
    if args.family != "gaussian":
        for option, value in (("--covariance", args.covariance), ("--reg-covar", args.reg_covar)):
            if value is not None:
                raise UsageError(f"{option} applies to --family gaussian only, not {args.family}")
    if args.family != "gaussian" and getattr(args, "min_variance_ratio", None) is not None:
        raise UsageError(f"--min-variance-ratio applies to --family gaussian only, not "
                         f"{args.family}: a variance floor of the collapse rule of Gaussian "
                         "components")
    given = {"max_iter": args.max_iter, "tol": args.tol, "reg_covar": args.reg_covar}
    return {name: value for name, value in given.items() if value is not None}


def cmd_fit(args):
    _check_output(args.output, (".npz",), {"data file": args.data})
    cls = _family_class(args.family)
    kwargs = dict(n_components=args.n_components, n_init=args.n_init, random_state=args.seed,
                  **_em_kwargs(args))
    if args.family == "gaussian":
        kwargs["covariance_type"] = args.covariance or "full"
    if args.bayesian is not None:
        if args.family != "gaussian":
            raise UsageError(f"--bayesian applies to --family gaussian only, not {args.family}")
        from . import BayesianGaussianMixture

        cls = BayesianGaussianMixture
        kwargs["weight_concentration_prior_type"] = args.bayesian
    if args.missing != "error":
        if args.bayesian is not None:
            raise UsageError("--missing em does not apply with --bayesian: a variational "
                             "mixture does not support missing values")
        kwargs["missing"] = args.missing
    X, names, positions, layout = read_table(args.data, args.columns, args.dtype, args.quiet,
                                             args.header, missing=args.missing == "em",
                                             nan_fix=_nan_fix(cls), encoding=args.encoding)
    X, rows = _rows_to_fit(X, args.data, args.quiet)
    model = cls(**kwargs)
    with _entries_named(args.data, layout, names, _column_labels(names, positions), rows):
        seconds = _fit_with(model, X, _progress(args))
    indices = _save_model(model, args.output, names, positions, args.columns)
    result = _model_summary(model, indices)
    result.update(n_samples=int(X.shape[0]), fit_seconds=seconds, output=args.output)

    def text():
        print(f"fitted {X.shape[0]:,} samples x {_count(X.shape[1], 'feature')} in "
              f"{seconds:.3f} s")
        _print_model(model, indices)
        print(f"saved model to {args.output}")

    _emit(args, result, text)


@contextlib.contextmanager
def _entries_named(path, layout, names, labels, rows=None):
    """Name an entry of DATA that a model refuses (an :class:`~fastem._validation.EntryError`:
    a negative value, a count that is not whole) by its place in the file ``path``: its
    line and column for a CSV file (its ``layout``), else its data row and column (1-based;
    ``names``, the columns' names, if any), not by its place in an array that the user
    never saw. Every message of the model names a feature by ``labels``, the names by
    which the command line calls the columns it gave the model (:func:`_column_labels`),
    as a fit of a DataFrame names them, not by its index among the columns chosen.
    ``rows``: the positions among DATA's rows of the rows given to the model (None: all
    of them, in order)."""
    token = MESSAGE_FEATURE_NAMES.set(labels)
    try:
        yield
    except EntryError as exc:
        exc = exc.named(labels)  # the feature of its figures by column name, as in Python
        row = exc.row if rows is None else int(rows[exc.row])
        if layout is not None:
            where = place_of(layout, row, exc.column)
        else:
            where = f"data row {row + 1} (1-based, header not counted)"
            if exc.column is not None:
                name = "" if names is None else f" ({names[exc.column]!r})"
                where += f", column {exc.column + 1}{name} of those read"
        raise CommandError(exc.placed(f"{where} of {path!r}")) from None
    finally:
        MESSAGE_FEATURE_NAMES.reset(token)


def _rows_to_fit(X, path, quiet):
    """``X`` without its rows whose every value is missing, with a note when there are some,
    and the positions of the rows kept among DATA's (None when every row is kept).

    Such a row has the same likelihood under every model: it carries nothing
    to fit (the estimators refuse it; a command leaves it out and says so).
    """
    empty = unobserved_rows(X)
    if not empty.any():
        return X, None
    if empty.all():
        raise CommandError(f"{path!r} has no value in any row of the chosen columns, only "
                           "missing values; choose columns that hold data")
    if not quiet:
        print(f"fastem: note: {path!r} has {int(empty.sum()):,} row(s) with no value in any "
              f"chosen column (the first is data row {int(np.argmax(empty)) + 1}); they carry "
              "nothing to fit and are left out", file=sys.stderr)
    return X[~empty], np.flatnonzero(~empty)


def _nan_fix(cls, fitted=False):
    """How to fix NaN in DATA for a model of class ``cls`` (one ``fitted`` without them)."""
    if "missing" in cls._get_param_names():
        if fitted:
            return ("the model was fitted without --missing em: if NaN marks missing values, "
                    "pass --missing em, which predicts and scores each row from its observed "
                    "values with the same model (no refit), or remove or impute such rows "
                    "(fastem impute)")
        return "fit with --missing em if NaN marks missing values, or remove or impute such rows"
    return (f"a {cls.__name__} does not support missing values: if NaN marks them, fit a "
            "GaussianMixture with --missing em (no --bayesian), or remove or impute such rows")


def _file_names_of(fitted, file_names):
    """The name in ``file_names`` of each of the model's names ``fitted``, or None where absent.

    A name is matched as written, else as it reads, without the spaces around
    it and in one Unicode normal form, when that finds one column only ('a, b'
    in a file's header gives ' b', as pandas reads it;
    :func:`~fastem._tables.find_name`, which ``--columns`` uses too). Each
    column is matched to one name at most: a column that holds one of the
    model's names as written is that name's, and a column that two names read
    as is neither's. So a model of 'a' and ' a' (a header 'a, a') finds no ' a'
    in a file of 'a' and 'b', where both had taken the column 'a'.
    """
    exact = {name: j for j, name in enumerate(file_names)}
    positions = [exact.get(name) for name in fitted]
    taken = {j for j in positions if j is not None}
    free = [j for j in range(len(file_names)) if j not in taken]
    keys = [name_key(file_names[j]) for j in free]
    # counted and found by dictionaries: list.count and index per name are a
    # (features x features) loop, minutes at 50,000 columns
    key_count = collections.Counter(keys)
    key_position = {key: k for k, key in enumerate(keys)}
    loose = [None if j is not None or key_count[name_key(name)] != 1
             else key_position[name_key(name)] for name, j in zip(fitted, positions)]
    claims = collections.Counter(k for k in loose if k is not None)
    positions = [j if k is None else free[k] if claims[k] == 1 else None
                 for j, k in zip(positions, loose)]
    return [None if j is None else file_names[j] for j in positions]


def _first_misordered_column(fitted, matched, file_names):
    """Where the model's columns ``fitted``, found in a file as ``matched``
    (:func:`_file_names_of`), first stand in another order there than in the model: "the
    model's column 0 (0-based), 'a', is column 2 of the file", counted among ``file_names``
    as ``--columns`` counts them, whatever other columns the file has before or between
    them; '' where they stand in the model's order."""
    position = {name: j for j, name in enumerate(file_names)}
    places = [position[name] for name in matched]
    for j, (place, wanted) in enumerate(zip(places, sorted(places))):
        if place != wanted:
            return (f"the model's column {j} (0-based), {fitted[j]!r}, is column {place} of "
                    "the file")
    return ""


def _data_for(model, args, column_indices=None, missing=False, copied=False):
    """DATA's columns for ``model``, their positions in DATA, its layout (:func:`read_table`)
    and the names by which the command line calls them (:func:`_column_labels`).

    Columns are matched by name when both have names. Else, without
    ``--columns``, a model whose file records ``column_indices`` (fitted on
    columns chosen by index in a file without names) takes those columns of
    a DATA without names, with a note, and refuses a DATA with names; any
    other model DATA's columns in order.
    Missing values are kept as NaN for a model fitted with ``missing='em'``,
    or with ``missing``. The array has the dtype in which the model's methods
    take DATA, whatever the model's own: float32 for a float32 file (a .npy
    array, parquet columns), else float64 (every CSV file, integers), so
    that a float32 model evaluates it as ``model.predict(X)`` does, its
    parameters cast up. With ``copied``, for a command that copies DATA's
    values into its output (impute), whole numbers that float64 rounds are
    read rounded.
    """
    _check_data_path(args.data)  # before any note about its columns
    taken = None  # the note that DATA's columns are taken as the model's features, in order
    taken_as = None  # the model's names, which DATA without names has its columns taken as
    fitted = getattr(model, "feature_names_in_", None)
    columns = args.columns
    if fitted is not None and len(set(fitted)) < len(fitted):
        if not args.quiet:
            print(f"fastem: note: the model's column names repeat ({shown_names(fitted)}), so "
                  f"{args.data!r} is matched to them by position", file=sys.stderr)
        fitted = None
    header = args.header
    if fitted is not None:
        fitted = [str(n) for n in fitted]
        file_names = column_names(args.data, header, args.encoding)
        if (file_names is None and _HEADER[header] is None and columns is None
                and args.data.lower().endswith(".csv")):
            # A first row of numbers that looks like names (see the reader's
            # note) and holds the model's names, each once and nothing else
            # (wavelengths, years), is the header, not a row of data.
            try:
                first = unnamed_first_row(args.data, args.encoding)
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            looks = first is not None and first.looks_like_names
            order = names_in_row(fitted, first.fields) if looks else None
            if order is None and first is not None and spells_names(first.fields, fitted):
                raise CommandError(
                    f"the first row of {args.data!r} spells the model's column names "
                    f"({shown_names(fitted)}), in their order: it is the header if they are names "
                    "(df.to_csv writes names that are numbers so), or a row of data that reads "
                    "the same. Say which: pass --header yes or --header no"
                )
            if order is not None:
                header, file_names = "yes", column_names(args.data, "yes", args.encoding)
                columns = [file_names[j] for j in order]
                if not args.quiet:
                    print(f"fastem: note: the first row of {args.data!r} holds the model's "
                          "column names, so it is read as the header", file=sys.stderr)
                fitted = None  # matched here, by value
    if fitted is not None:
        matched = None if file_names is None else _file_names_of(fitted, file_names)
        requested = _column_tokens(columns, file_names)
        if requested is not None and file_names is not None:
            try:
                positions = choose_columns(requested, file_names, list(range(len(file_names))),
                                           args.data)
            except ValueError as exc:
                raise _names_error(args, header, str(exc) + _index_problem(args.data, requested)
                                   ) from None
            chosen = [file_names[j] for j in positions]
            if sorted(chosen) != sorted(n for n in matched if n is not None):
                raise _names_error(
                    args, header,
                    f"--columns selects {shown_names(chosen)} from {args.data!r} "
                    f"({name_differences(chosen, fitted, 'the model')}), but the model was "
                    f"fitted on the columns {shown_names(fitted)}; select those"
                )
        if file_names is not None:
            absent = [n for n, m in zip(fitted, matched) if m is None]
            if absent:
                raise _names_error(
                    args, header,
                    f"{args.data!r} has no column {absent[0]!r}"
                    f"{f' (nor {len(absent) - 1} more of the model: ' if len(absent) > 1 else ''}"
                    f"{shown_names(absent[1:]) + ')' if len(absent) > 1 else ''}; the model was "
                    f"fitted on the columns {shown_names(fitted)} and its columns are "
                    f"{shown_names(file_names)}{_index_problem(args.data, absent)}"
                )
            misordered = _first_misordered_column(fitted, matched, file_names)
            if misordered and not args.quiet:
                print(f"fastem: note: {args.data!r} has the model's columns in another order "
                      f"({misordered}); they are matched by name", file=sys.stderr)
            columns = matched
        elif column_indices is not None and columns is None:
            columns = _recorded_columns(args, column_indices, header)
        elif not args.quiet:
            taken_as = fitted
    elif column_indices is not None and columns is None:
        file_names = column_names(args.data, header, args.encoding)
        if file_names not in (None, _positional_labels(len(file_names or ()))):
            # Positions in an unnamed file say nothing about a named one, whose
            # first column may be an index or another feature (the names of a
            # file that sample wrote, x0, x1, ..., are the places themselves).
            raise CommandError(
                f"the model was fitted on the columns {','.join(map(str, column_indices))} "
                f"(0-based) of a file without column names, and {args.data!r} has names "
                f"({shown_names(file_names)}), which do not say which of its columns "
                f"those were; choose the model's {len(column_indices)} with --columns"
            )
        width = None if file_names is None else len(file_names)
        columns = _recorded_columns(args, column_indices, header, width)
    elif columns is None and getattr(model, "feature_names_in_", None) is None and not args.quiet:
        file_names = column_names(args.data, header, args.encoding)
        if file_names not in (None, _feature_labels(model)):  # x0, x1, ...: as sample writes
            taken = (f"the model has no column names; the columns of {args.data!r} are taken "
                     f"as its features, in order: {shown_names(file_names)} (choose others, "
                     "or another order, with --columns)")
    missing = missing or model._fits_missing()
    # in the dtype that the model's methods take DATA in, whatever the model's own: a float32
    # model evaluates data that are not float32 in float64, as model.predict(X) does
    X, read_names, positions, layout = read_table(
        args.data, columns, None, args.quiet, header,
        missing=missing, nan_fix=_nan_fix(type(model), fitted=True), model=args.model,
        rounding=copied, encoding=args.encoding)
    if X.shape[1] != model.n_features_in_:
        raise CommandError(
            f"{args.data!r} has {X.shape[1]} column(s) but the model was fitted on "
            f"{model.n_features_in_} feature(s); select the same columns with --columns"
        )
    if taken_as is not None:  # which of DATA's columns: all, or those --columns chose
        which = ("its columns are" if columns is None else
                 f"its columns {', '.join(map(str, positions))} (0-based, as --columns chose "
                 "them) are")
        taken = (f"{args.data!r} has no column names; {which} taken as the model's, in order: "
                 f"{shown_names(taken_as)}")
    if taken:  # once they are known to be as many as the model's features
        print(f"fastem: note: {taken}", file=sys.stderr)
    return X, positions, layout, _column_labels(read_names, positions)


def _recorded_columns(args, indices, header, width=None):
    """``--columns`` values for the columns at ``indices`` of DATA, a file without names (or
    with the names x0, x1, ... of its places, ``width`` of them), which a model's file
    records: it was fitted on them, chosen by index in a file without names. A DATA too
    narrow for them is an error; the choice gets a note."""
    width = _column_count(args.data, header, args.encoding) if width is None else width
    shown = ",".join(map(str, indices))
    if max(indices) >= width:
        raise CommandError(
            f"{args.data!r} has {_count(width, 'column')}, but the model was fitted on the "
            f"columns {shown} (0-based) of a file without column names, which need at least "
            f"{max(indices) + 1} columns; pass data with those columns, or choose the model's "
            f"{len(indices)} with --columns"
        )
    if not args.quiet:
        print(f"fastem: note: the model was fitted on the columns {shown} (0-based) of a file "
              f"without column names, so the columns {shown} of {args.data!r} are used; "
              "choose others with --columns", file=sys.stderr)
    return [str(j) for j in indices]


def _column_count(path, header, encoding):
    """How many data columns the file ``path`` without column names has (.npy or .csv);
    ``header`` and ``encoding``: ``--header`` and ``--encoding``."""
    from ._tables import _sniff
    from .data import load_npy

    try:
        if path.lower().endswith(".npy"):
            shape = load_npy(path, mmap_mode="r").shape
            return shape[1] if len(shape) > 1 else 1
        return len(_sniff(path, _HEADER[header], encoding).data_columns())
    except (ValueError, OSError) as exc:  # the readers' messages name the file and the fix
        raise CommandError(_one_line(exc)) from None


@contextlib.contextmanager
def _columns_matched(model, path, layout, labels):
    """DATA's columns were matched to the model's names in :func:`_data_for`: no warning; an
    entry that the model refuses is named by its place in DATA, and a feature by ``labels``,
    the names of DATA's columns read (:func:`_data_for`; not the model's own names of its
    features, x0, x1, ... in order, where ``--columns`` took DATA's columns in another
    order) (:func:`_entries_named`)."""
    names = getattr(model, "feature_names_in_", None)
    with warnings.catch_warnings(), _entries_named(path, layout, names, labels):
        warnings.filterwarnings("ignore", "X does not have valid feature names", UserWarning)
        yield


def _check_result_memory(n_bytes, what, X, command):
    """Refuse, before computing it, ``what`` of the rows of ``X`` (``n_bytes``) that the
    memory left cannot hold (:func:`~fastem._validation.check_memory`), with the command
    line's fix."""
    check_memory(n_bytes, f"{what} of {X.shape[0]:,} samples",
                 f"split DATA into smaller files and {command} each", CommandError)


def _missing_for(model, args):
    """Set ``model`` to read NaN as missing values when ``--missing em`` says so; whether
    it does (a model fitted with them does without the option)."""
    if args.missing == "em":
        if "missing" not in model._get_param_names():
            raise CommandError(
                f"--missing em: a {type(model).__name__} does not support missing values; fit "
                "a GaussianMixture with --missing em (no --bayesian), or remove or impute the "
                "rows with missing values")
        model.set_params(missing="em")  # the same parameters: no refit
    elif args.missing == "error":
        model.set_params(missing="error")
    return model._fits_missing()


def _first_component_of_positive_weight(model):
    """The component that ``predict`` gives a row of density 0 under every component."""
    return int(np.flatnonzero(np.isfinite(model._kernel_log_weights()))[0])


def cmd_predict(args):
    _check_output(args.output, _OUTPUT_EXTENSIONS, {"model file": args.model, "data file": args.data})
    model, indices = _load_model(args.model)
    X, _, layout, features = _data_for(model, args, indices, _missing_for(model, args))
    width = model.n_components if args.proba else 1  # probabilities in X's dtype, labels int64
    _check_result_memory(X.shape[0] * width * (X.dtype.itemsize if args.proba else 8),
                         f"the {'probabilities' if args.proba else 'labels'}", X, "predict")
    if args.proba:
        with _columns_matched(model, args.data, layout, features):
            out = model.predict_proba(X)
        names = [f"p{k}" for k in range(model.n_components)]
        labels = out.argmax(axis=1)
        # A row of density 0 under every component has probabilities of 0 alone, whose
        # argmax is component 0 even where that one is empty: it counts where predict
        # puts it, in the first component of positive weight.
        labels[~(out.max(axis=1) > 0)] = _first_component_of_positive_weight(model)
        counts = np.bincount(labels, minlength=model.n_components)
    else:
        with _columns_matched(model, args.data, layout, features):
            out = model.predict(X)
        names = ["component"]
        counts = np.bincount(out, minlength=model.n_components)
    _write_rows(args, out, names, layout)
    what = "probabilities" if args.proba else "labels"
    result = {"output": args.output, "n_samples": int(X.shape[0]), "kind": what,
              "counts": counts.tolist()}
    _emit(args, result, lambda: print(
        f"wrote {what} for {X.shape[0]:,} samples to {args.output}; most likely component "
        f"counts: {counts.tolist()}"))


def _read_columns(args, layout, positions=None):
    """Every column of DATA, or those at ``positions`` (:func:`fastem._tables.read_columns`),
    for an output that keeps them: with a note, unless ``--quiet``, where the text of a CSV
    DATA was read in the encoding that fastem guessed."""
    names, columns = read_columns(args.data, layout, positions)
    note = None if layout is None else guessed_text_note(layout, columns)
    if note and not args.quiet:
        print(f"fastem: note: {note}", file=sys.stderr)
    return names, columns


def _row_index(args, layout):
    """The names and columns of DATA's pandas row index, as :func:`_write_imputed` keeps
    them: a CSV file's unnamed first columns (``layout``), the columns that a parquet
    file's pandas metadata lists, or the RangeIndex it records alone where it is not
    0, 1, ... unnamed (a frame's rows 100 on); none for a .npy file."""
    path = args.data
    if os.path.splitext(path)[1].lower() not in (".csv", ".parquet"):
        return [], []
    try:
        index = index_positions(path, layout)
        if not index:
            levels = parquet_range_index(path) if layout is None else None
            return levels if levels is not None else ([], [])
        names, columns = _read_columns(args, layout, index)
    except (ValueError, ImportError) as exc:
        raise CommandError(str(exc)) from None
    return names, columns


def _kept_columns(args, layout):
    """The names and columns of DATA that ``--keep`` chooses (by name, or 0-based index),
    to write beside the output so that it can be joined back to DATA (an id column).

    None chosen without ``--keep``. Columns of DATA's row index, which a CSV or parquet
    output keeps as its index anyway (:func:`_row_index`), are left out. A chosen column
    with the name of an output column is refused (CommandError): the output would hold
    two columns of one name.
    """
    if not args.keep:
        return [], []
    npy = os.path.splitext(args.data)[1].lower() == ".npy"
    try:
        if npy:
            data = _read_npy(args.data, None)[0]
            names, index = [f"x{j}" for j in range(data.shape[1])], []
        else:
            names, index = column_labels(args.data, layout), index_positions(args.data, layout)
        # DATA without names (.npy, a CSV file without a header) has its columns chosen by index
        named = not npy and (layout is None or layout.names is not None)
        tokens = _column_tokens(args.keep, names if named else None, "--keep")
        positions = choose_columns(tokens, names if named else None,
                                   list(range(len(names))), args.data)
        positions = [j for j in positions if j not in index]
        if npy:
            with _watched(data, args.data):
                # in the machine's byte order, which Arrow needs ('>f4' of a big-endian file)
                native = data.dtype.newbyteorder("=")
                return ([names[j] for j in positions],
                        [np.array(data[:, j], dtype=native) for j in positions])
        return _read_columns(args, layout, positions)
    except (ValueError, ImportError) as exc:
        raise CommandError(str(exc)) from None


def _write_rows(args, out, names, layout):
    """Write ``out``, one row per row of DATA, with ``names``: after the columns of DATA
    that ``--keep`` chooses (:func:`_kept_columns`), and beside DATA's row index, which
    stays the index of a CSV or parquet output (as ``impute`` keeps it), where DATA has
    one; a .npy output holds no row index."""
    npy = _output_extension(args.output) == ".npy"
    index_names, index = ([], []) if npy else _row_index(args, layout)
    kept_names, kept = _kept_columns(args, layout)
    for name in kept_names:
        if name in names:
            raise CommandError(
                f"--keep chooses the column {name!r} of {args.data!r}, which has the name of "
                f"an output column ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}); "
                "rename that column of DATA, or leave it out of --keep"
            )
    if not index and not kept:
        write_array(args.output, out, names)
        return
    if any(len(column) != len(out) for column in index + kept):  # read by another pass
        raise CommandError(f"{args.data!r} changed while it was read; run the command again")
    table = out.reshape(len(out), -1)
    columns = [table[:, j] for j in range(table.shape[1])]  # float32's digits in CSV text
    _write_columns(args.output, index_names + kept_names + list(names), index + kept + columns,
                   args.data, list(range(len(index))))


def cmd_score(args):
    model, indices = _load_model(args.model)
    X, _, layout, features = _data_for(model, args, indices, _missing_for(model, args))
    # a row with nothing observed is no observation: the model's score, bic and aic leave it out
    n = X.shape[0] - (int(unobserved_rows(X).sum()) if model._fits_missing() else 0)
    if n == 0:
        raise CommandError(f"{args.data!r} has no value in any row of the model's columns, only "
                           "missing values; score data with at least one observed value")
    with _columns_matched(model, args.data, layout, features):
        mean = model.score(X)
        result = {"n_samples": int(X.shape[0])}
        if model._fits_missing():
            result["n_observed_samples"] = int(n)  # rows with an observed value
        result.update(mean_log_likelihood=mean, total_log_likelihood=mean * n)
    if hasattr(model, "bic"):  # a variational mixture has no information criteria
        # the formulas of model.bic and model.aic, without two more passes over DATA
        n_parameters = model._n_parameters()
        result.update({
            "bic": -2 * mean * n + n_parameters * np.log(n),
            "aic": -2 * mean * n + 2 * n_parameters,
            "n_parameters": int(n_parameters),
        })

    def text():
        for key, value in result.items():
            print(f"{key:<22}{_number_text(value) if isinstance(value, float) else value}")

    _emit(args, result, text)


def _number_text(value):
    """``value`` in six decimals, or in scientific notation from 1e15 on: the log-likelihood
    of values far from an exponential or Poisson model (-2e299) was a 300-digit number."""
    return f"{value:.6f}" if not abs(value) >= 1e15 else f"{value:.9e}"


def cmd_impute(args):
    _check_output(args.output, _OUTPUT_EXTENSIONS, {"model file": args.model, "data file": args.data})
    model, indices = _load_model(args.model)
    if not hasattr(model, "impute"):
        raise CommandError(
            f"{args.model!r} holds a {type(model).__name__}, which does not support missing "
            "values and cannot impute; fit a GaussianMixture with fastem fit --missing em and "
            "impute with it"
        )
    # in Python's dtype for DATA (float64 unless DATA is float32), whatever the model's: the
    # observed values are copied from DATA as they are, whole numbers beyond 2**53 too, and
    # the fills are written in that dtype, as model.impute(X) returns them
    X, positions, layout, features = _data_for(model, args, indices, missing=True, copied=True)
    n_missing = int(np.isnan(X).sum())
    _check_result_memory(X.nbytes, "the imputed values", X, "impute")
    with _columns_matched(model, args.data, layout, features):
        filled = model.impute(X, draw=args.draw,
                              random_state=(args.seed or 0) if args.draw else None)
    _write_imputed(args, model, X, filled, positions, layout)
    how = "draws from the conditional distribution" if args.draw else "conditional expectations"
    result = {"output": args.output, "n_samples": int(X.shape[0]), "n_imputed": n_missing,
              "method": how}
    _emit(args, result, lambda: print(
        f"imputed {n_missing:,} missing value(s) in {X.shape[0]:,} samples ({how}); wrote "
        f"{args.output}"))


def _write_imputed(args, model, X, filled, positions, layout):
    """Write DATA to OUT with the missing values of the model's columns taken from ``filled``.

    ``X`` holds DATA's columns at ``positions`` (NaN where missing) and
    ``filled`` the same with NaN imputed; ``layout`` is what the reader
    found of a CSV DATA. Every other column (index and text columns
    included) and every observed value is copied unchanged: a CSV file to a
    CSV file as text, byte for byte but for the filled fields
    (:func:`fastem._tables.fill_csv`), a parquet file to a parquet file
    with its column types; between formats as values
    (:func:`fastem._tables.read_columns`), where a .npy output needs every
    column to hold numbers. The columns of a pandas row index (a CSV file's
    unnamed first columns, those a parquet file's pandas metadata lists) stay
    the row index (:func:`_write_columns`).
    """
    data_ext = os.path.splitext(args.data)[1].lower()
    out_ext = _output_extension(args.output)
    missing = np.isnan(X)
    try:
        if data_ext == out_ext == ".csv":
            with _replacing(args.output) as out:
                fill_csv(layout, out, filled, missing, filled.dtype)
            return
        if data_ext == out_ext == ".parquet":
            with _replacing(args.output) as out:
                _fill_parquet(args.data, out, positions, filled, missing)
            return
        if data_ext == ".npy":
            data, _, _, _, _ = _read_npy(args.data, None)
            with _watched(data, args.data):
                names = [f"x{j}" for j in range(data.shape[1])]
                # in the machine's byte order, which Arrow needs ('>f4' of a big-endian file)
                native = data.dtype.newbyteorder("=")
                columns = [np.array(data[:, j], dtype=native) for j in range(data.shape[1])]
            index = []
        else:
            names, columns = _read_columns(args, layout)
            index = index_positions(args.data, layout)
            if not index:  # a RangeIndex that a parquet file records alone: after the columns
                index_names, labels = _row_index(args, layout)
                index = list(range(len(names), len(names) + len(labels)))
                names, columns = list(names) + index_names, list(columns) + labels
    except (ValueError, ImportError) as exc:
        raise CommandError(str(exc)) from None
    fitted = getattr(model, "feature_names_in_", None)
    # DATA without names (.npy, a CSV file without a header) has its columns taken as the
    # model's features (the note of _data_for): they are named as the model's in the output
    unnamed = data_ext == ".npy" or (layout is not None and layout.names is None)
    for c, j in enumerate(positions):
        if missing[:, c].any():  # a column without a hole is copied as it is
            _check_exact_in_float(names[j], columns[j], args.data, _FILLED_FLOAT64)
            # a float32 column stays float32 where its fills are (float32 DATA's, as
            # model.impute returns them); any other becomes float64
            columns[j] = np.array(columns[j], dtype=filled.dtype
                                  if columns[j].dtype.type is np.float32 else np.float64)
            columns[j][missing[:, c]] = filled[missing[:, c], c]
    if unnamed and fitted is not None:
        names = _named_as_the_model(len(names), positions, fitted)
    _write_columns(args.output, names, columns, args.data, index)


def _named_as_the_model(width, positions, fitted):
    """The names of the ``width`` columns of DATA without names whose columns at
    ``positions`` are the model's features ``fitted``: those the model's names, each other
    column ``x{j}`` (its 0-based place), made unique beside the model's names as pandas
    makes repeats unique (``x1.1`` beside a feature named ``x1``)."""
    chosen = set(positions)  # once: made per column, it was (width x features) work
    others = [j for j in range(width) if j not in chosen]
    unique = unique_names([str(n) for n in fitted] + [f"x{j}" for j in others])
    names = [None] * width
    for j, name in zip(list(positions) + others, unique):
        names[j] = name
    return names


# values of parquet columns that a CSV field cannot hold as text
_NESTED = (np.ndarray, list, tuple, dict, bytes, bytearray)


def _write_columns(path, names, columns, data, index=()):
    """Write named 1-D columns as .npy (numbers only), .csv (shortest text) or .parquet.

    The columns at the positions ``index`` hold a pandas DataFrame's row index, and stay
    its index, as pandas writes one: the first columns of a CSV file, named as the index
    is ('' when it has no name: 'Unnamed: 0', '__index_level_0__'); columns that a parquet
    file's pandas metadata lists; in a .npy file, none (``to_numpy()`` of the frame).
    """
    ext = _output_extension(path)
    order = list(index) + [j for j in range(len(names)) if j not in index]
    if ext == ".npy":
        order = order[len(index):]
    names = [("" if k < len(index) and UNNAMED_INDEX.fullmatch(names[j]) else names[j])
             if ext == ".csv" else names[j] for k, j in enumerate(order)]
    columns = [columns[j] for j in order]
    if ext == ".npy":
        table = np.column_stack([_npy_column(name, column, data)
                                 for name, column in zip(names, columns)])
        if table.dtype.kind == "f":
            for name, column in zip(names, columns):
                _check_exact_in_float(name, column, data, _NPY_FLOAT64)
        write_array(path, table, names)
        return
    if ext == ".csv":
        _check_header(names, path, len(index))
        for k, (name, column) in enumerate(zip(names, columns)):
            if column.dtype == object and any(isinstance(v, _NESTED) for v in column.tolist()):
                what = (f"the column {name!r}" if k >= len(index)
                        else f"the row index {name!r}" if name else "an unnamed row index")
                raise CommandError(
                    f"{data!r} has {what}, which holds lists, structures or "
                    "bytes, and a CSV field holds text only; write the output as .parquet, "
                    "which keeps it"
                )

        def field(value):
            if value is None or isinstance(value, (float, np.floating)) and value != value:
                return ""
            if isinstance(value, np.float32):  # a float32 column: float32's digits
                return shortest_text(value, np.float32)
            return shortest_text(value) if isinstance(value, float) else str(value)

        with _replacing(path) as out:
            f = io.TextIOWrapper(out, encoding="utf-8", newline="")
            writer = _CsvRows(f)
            writer.writeheader(names)
            writer.writerows([field(v) for v in row] for row in zip(*map(_csv_values, columns)))
            f.detach()  # flushed; ``out`` stays open for its flush to the disk
        return
    pa, pq = _pyarrow_for_output()
    # the index's names, as pandas names them (None: unnamed); an index column named as a
    # data column ('component') is stored as '__index_level_k__' under its name, as
    # pyarrow.Table.from_pandas stores it: a file of two fields 'component' pandas refuses
    labels = [None if UNNAMED_INDEX.fullmatch(name) else name for name in names[:len(index)]]
    names = [f"__index_level_{k}__" if k < len(index) and (
                 labels[k] is None or name in names[len(index):])
             else name for k, name in enumerate(names)]
    # a list, not a dict: columns with the same name are all kept
    table = pa.table([pa.array(_parquet_column(name, c, data), from_pandas=True)
                      for name, c in zip(names, columns)], names=names)
    if index:
        table = table.replace_schema_metadata(_pandas_index_metadata(table, len(index), labels))
    with _replacing(path) as out:
        pq.write_table(table, out)


def _csv_values(column):
    """The values of the 1-D ``column`` as :func:`_write_columns` writes them in CSV fields.

    A float32 column's stay float32 (``tolist`` would give float64's digits). A column of
    times or durations in nanoseconds (pandas' unit, e.g. a parquet DATA's timestamps and
    timedeltas) is ``datetime`` or ``timedelta`` objects where every value is a whole
    microsecond, as a column in microseconds is, else text to the nanosecond
    ('2024-01-01 00:00:00.000000001', '0:00:01.000000001', which pandas reads back):
    ``tolist`` gives the nanoseconds as integers, which read back as numbers.
    """
    if column.dtype.type is np.float32:
        return list(column)
    kind = column.dtype.kind
    if kind not in "mM" or np.datetime_data(column.dtype)[0] != "ns":
        return column.tolist()
    missing = np.isnat(column)
    nanoseconds = column.view(np.int64)
    if not (nanoseconds[~missing] % 1000).any():
        return column.astype(f"{kind}8[us]").tolist()
    text = (np.char.replace(np.datetime_as_string(column), "T", " ").astype(object)
            if kind == "M" else np.array([_duration_text(v) for v in nanoseconds.tolist()],
                                         dtype=object))
    text[missing] = None
    return text.tolist()


def _duration_text(nanoseconds):
    """A duration of ``nanoseconds`` as ``str`` of a ``timedelta`` writes it, to the
    nanosecond: '0:00:01.000000001', '-1 day, 23:59:59.999999999' for -1 ns."""
    microseconds, rest = divmod(nanoseconds, 1000)
    text = str(datetime.timedelta(microseconds=microseconds))
    return f"{text}{'' if '.' in text else '.000000'}{rest:03d}"


def _pandas_index_metadata(table, n_index, labels=None):
    """The pandas metadata of an Arrow ``table`` whose first ``n_index`` columns hold a
    DataFrame's row index (named '__index_level_0__' when it has no name, or a name that
    ``labels``, the index's names, gives), as ``pyarrow.Table.from_pandas`` writes it:
    readers (pandas, fastem) take them for the index, not for data."""
    import pyarrow as pa

    def entry(k, field):
        kind = field.type
        dtype = ("int64" if pa.types.is_integer(kind) else "float64" if pa.types.is_floating(kind)
                 else "bool" if pa.types.is_boolean(kind) else "object")
        name = (None if UNNAMED_INDEX.fullmatch(field.name) else field.name) if labels is None \
            else labels[k]
        return {"name": name,
                "field_name": field.name,
                "pandas_type": ("unicode" if pa.types.is_string(kind)
                                else "mixed" if dtype == "object" else dtype),
                "numpy_type": dtype, "metadata": None}

    fields = list(table.schema)[:n_index]
    metadata = {"index_columns": [f.name for f in fields], "column_indexes": [],
                "columns": [entry(k, f) for k, f in enumerate(fields)]}
    return {b"pandas": json.dumps(metadata).encode()}


_NPY_FLOAT64 = ("the type of a .npy file with fractions or missing values",
                "write the output as .csv or .parquet, which keep it")
_FILLED_FLOAT64 = ("the type of a model column with its missing values filled",
                   "subtract an offset from the column (or rescale it) before fitting")


def _npy_column(name, column, data):
    """A column for a .npy file: numbers as they are, whole numbers with holes as float64;
    any other (text, times) refused with the formats that keep it."""
    if column.dtype.kind not in "OmM":
        return column
    if column.dtype == object:
        present = [v for v in column.tolist() if v is not None]
        if all(isinstance(v, int) for v in present):
            values = np.array([np.nan if v is None else v for v in column.tolist()],
                              dtype=np.float64)
            _check_exact_in_float(name, np.array(present, dtype=object), data, _NPY_FLOAT64)
            return values
    raise CommandError(
        f"{data!r} has the column {name!r}, which does not hold numbers, and a .npy "
        "file holds numbers only; write the output as .csv or .parquet, which keep it"
    )


def _parquet_column(name, column, data):
    """A column for a parquet file: long doubles, which Arrow cannot hold, as float64 where
    float64 holds every value (NaN included), else refused with the formats that keep them."""
    if column.dtype.kind != "f" or column.dtype.itemsize <= 8:
        return column
    with np.errstate(over="ignore"):  # beyond float64's range: inf, refused below
        wide = column.astype(np.float64)
    if not np.array_equal(wide, column, equal_nan=True):
        raise CommandError(
            f"{data!r} has the column {name!r} of long doubles ({column.dtype}), which a "
            "parquet file cannot hold and float64 would alter; write the output as .npy or "
            ".csv, which keep it"
        )
    return wide


def _check_exact_in_float(name, column, data, why):
    """Refuse whole numbers that float64 would round; ``why``: (where float64 comes from, the fix)."""
    if column.dtype.kind not in "iuO":
        return
    large = [v for v in column.tolist() if isinstance(v, numbers.Integral) and abs(v) > 2**53]
    if large:
        raise CommandError(
            f"{data!r} has the whole number {large[0]} in column {name!r}, which float64 "
            f"({why[0]}) would round; {why[1]}"
        )


def _pyarrow_for_output():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise CommandError(
            "writing .parquet needs pyarrow, which is not installed; run "
            "pip install 'fastem[parquet]' (or write .npy or .csv)"
        ) from None
    return pa, pq


def _fill_parquet(path, out, positions, filled, missing):
    """Copy the parquet file ``path`` to the binary file object ``out`` with the ``missing``
    entries of ``positions`` filled.

    Only the columns with a missing value change: a floating-point one
    keeps its type, another (integers, decimals) becomes float64, the type
    of a conditional expectation, and the pandas metadata of the file says
    so (``pd.read_parquet`` reads the new type).
    """
    import json

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    retyped = {}
    for c, j in enumerate(positions):
        if not missing[:, c].any():
            continue
        column = table.column(j)
        kind = column.type if pa.types.is_floating(column.type) else pa.float64()
        values = pa.chunked_array([pa.array(filled[:, c]).cast(kind, safe=False)])
        column = pc.if_else(pa.array(missing[:, c]), values, column.cast(kind, safe=False))
        table = table.set_column(j, table.schema.field(j).with_type(kind), column)
        retyped[table.schema.names[j]] = str(kind.to_pandas_dtype().__name__)
    metadata = dict(table.schema.metadata or {})
    if retyped and b"pandas" in metadata:
        pandas = json.loads(metadata[b"pandas"])
        for entry in pandas.get("columns", []):
            if entry.get("field_name") in retyped:
                dtype = retyped[entry["field_name"]]
                entry.update(pandas_type=dtype, numpy_type=dtype, metadata=None)
        metadata[b"pandas"] = json.dumps(pandas).encode()
        table = table.replace_schema_metadata(metadata)
    pq.write_table(table, out)


def cmd_sample(args):
    _check_output(args.output, _OUTPUT_EXTENSIONS, {"model file": args.model})
    model, column_indices = _load_model(args.model)
    if args.seed is not None:
        model.set_params(random_state=args.seed)
    n, d = args.n_samples, model.n_features_in_
    check_memory(
        model._sample_bytes(n), f"-n {n:,} samples of {_count(d, 'feature')}",
        "draw fewer (-n), in several runs with different --seed values if you need more",
        CommandError,
    )
    X, _ = model.sample(n)
    X, labels = _in_fitted_layout(model, X, column_indices)
    write_array(args.output, X, labels)
    result = {"output": args.output, "n_samples": int(X.shape[0]), "n_features": int(d),
              "column_indices": column_indices}
    placed = ("" if column_indices is None else
              f", placed at the 0-based columns {','.join(map(str, column_indices))} of the "
              "file without column names the model was fitted on"
              + (", the others NaN" if X.shape[1] > d else ""))
    _emit(args, result, lambda: print(f"wrote {X.shape[0]:,} samples x "
                                      f"{_count(d, 'feature')} to {args.output}{placed}"))


def cmd_select(args):
    import fastem

    if args.output is not None:
        _check_output(args.output, (".npz",), {"data file": args.data})
    em_kwargs = _em_kwargs(args)
    X, names, positions, layout = read_table(
        args.data, args.columns, args.dtype, args.quiet, args.header,
        missing=args.missing == "em", encoding=args.encoding,
        nan_fix="select with --missing em if NaN marks missing values, or remove or impute "
        "such rows",
    )
    X, rows = _rows_to_fit(X, args.data, args.quiet)
    n_components = args.k.values(X.shape[0], args.data)
    progress = None if _progress(args) is None else SelectionProgress()
    # Warnings are printed by main, after the command succeeded: an error is one line.
    _family_class(args.family)  # this fastem provides it
    try:
        with _entries_named(args.data, layout, names, _column_labels(names, positions), rows):
            result = fastem.select_n_components(
                X,
                n_components=n_components,
                covariance_types=(tuple(args.covariance or _SELECT_ORDER)
                                  if args.family == "gaussian" else None),
                criterion=args.criterion,
                n_init=args.n_init,
                random_state=args.seed,
                family=args.family,
                progress=progress,
                missing=args.missing,
                **({} if args.min_variance_ratio is None
                   else {"min_variance_ratio": args.min_variance_ratio}),
                **em_kwargs,
            )
        cells = {key: (value, result.flags.get(key) or "")
                 for key, value in result.table.as_dict().items()}
        best_model = result.best_model_
        best = result.best_params_
    finally:
        if progress is not None:
            progress.finish()
    if best_model is None:
        reasons = {flag.partition(": ")[2] for _, flag in cells.values()}
        if all(flag.startswith("failed: ") for _, flag in cells.values()) and len(reasons) == 1:
            raise CommandError(f"every fit failed: {reasons.pop()}")
        flagged = [f"{cell_type} K={k} {(flag or 'failed').split(':')[0]}"
                   for (cell_type, k), (_, flag) in cells.items()]
        more = f", and {len(flagged) - 6} more" if len(flagged) > 6 else ""
        raise CommandError(
            f"every fit was flagged as collapsed or failed ({', '.join(flagged[:6])}{more}); "
            "try fewer components (e.g. include K=1 in --k) or a larger --k range"
        )
    if args.output is not None:
        _save_model(best_model, args.output, names, positions, args.columns)
    elif names is not None:
        best_model.feature_names_in_ = np.asarray(names, dtype=object)
    best_type, best_k = best
    kind = "covariance_type" if args.family == "gaussian" else "family"
    rows = [
        {kind: cell_type, "n_components": k, args.criterion: _to_list(value), "flag": flag or None,
         "converged": bool(result.converged[cell_type, k])}
        for (cell_type, k), (value, flag) in cells.items()
    ]
    out = {
        "criterion": args.criterion,
        "family": args.family,
        "best_params": {kind: best_type, "n_components": best_k},
        "table": rows,
        "output": args.output,
    }

    def text():
        print(result.table)
        print(f"best: {kind}={best_type!r}, n_components={best_k}")
        if args.output is not None:
            print(f"saved best model to {args.output}")

    _emit(args, out, text)
    if not args.quiet:
        _note_better_collapsed(cells, best, args.criterion, result.models_, X)


def _note_better_collapsed(cells, best, criterion, models, X):
    """Say on stderr why the fit of the best criterion, if not the one chosen, was set aside:
    a grid's table marks it S, and its reason is what tells a collapse from a real
    cluster narrower than the floor. A smaller ``--min-variance-ratio`` is advised only
    where it would clear the fit (the fit of ``models`` has no collapsed component of
    ``X`` with a ratio of 0); a floor of ``2 * reg_covar``, too few points or the data's
    rounding are the same with any ratio."""
    from .selection import collapsed_components

    flagged = [(value, key, flag) for key, (value, flag) in cells.items()
               if flag.startswith("singular: ") and value < cells[best][0]]
    if not flagged:
        return
    value, key, flag = min(flagged)
    note = (f"fastem: note: {key[0]} K={key[1]} has a lower {criterion.upper()} ({value:.2f}) "
            f"but was set aside as collapsed ({flag.partition(': ')[2]})")
    if key in models and not collapsed_components(models[key], X, min_variance_ratio=0.0):
        note += ("; if it is a real cluster, as those of heavy-tailed data may be, give a "
                 "smaller --min-variance-ratio (see 'fastem select --help')")
    print(note, file=sys.stderr)


def cmd_info(args):
    model, indices = _load_model(args.model)
    _emit(args, _model_summary(model, indices), lambda: _print_model(model, indices))


# Points of the demo's warm-up fit: enough that its input checks and its
# passes run in parallel (at least SERIAL_WORK entries, see
# fastem._threading.launch), as those of the timed fit do.
_DEMO_WARMUP = SERIAL_WORK


def cmd_demo(args):
    from scipy.optimize import linear_sum_assignment

    from . import ConvergenceWarning, GaussianMixture
    from .datasets import DEMO_COVARIANCES, DEMO_MEANS, DEMO_WEIGHTS, demo_bytes, make_demo_data
    from .kernels import fused_e_step, fused_e_step_serial

    check_memory(demo_bytes(args.n_samples, np.float64), f"--n-samples {args.n_samples:,} demo "
                 "points", "use a smaller --n-samples", CommandError)
    start = time.perf_counter()
    X, _ = make_demo_data(args.n_samples, args.seed)
    generate_seconds = time.perf_counter() - start

    # The first fit in a process compiles the kernels or loads them from
    # Numba's disk cache; a small fit first keeps that out of the fit timing.
    # It is the timed fit on fewer points, run to its end: its passes over all
    # its points run in parallel, those of its start over a subsample
    # serially, and its acceleration and its last M-step reach the helpers
    # that only later passes call (a 2-pass warm-up left the covariances'
    # helper to compile inside the timed fit).
    def misses():
        kernels = (fused_e_step.skeleton, fused_e_step_serial.skeleton, fused_e_step.partition)
        return sum(sum(k.stats.cache_misses.values()) for k in kernels)

    compiled_before = misses()
    n_warmup = min(_DEMO_WARMUP, X.shape[0])
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        GaussianMixture(4, random_state=args.seed).fit(X[:n_warmup])
    warmup_seconds = time.perf_counter() - start
    compiled = misses() > compiled_before
    flush_compile_notice()  # its line before the results, not after them

    model = GaussianMixture(4, random_state=args.seed)
    fit_seconds = _fit_with(model, X, _progress(args))

    distance = np.linalg.norm(DEMO_MEANS[:, None, :] - model.means_[None, :, :], axis=2)
    _, order = linear_sum_assignment(distance)
    fitted = {
        "weights": model.weights_[order],
        "means": model.means_[order],
        "covariances": model.covariances_[order],
    }
    result = {
        "n_samples": int(X.shape[0]),
        "true": {"weights": DEMO_WEIGHTS.tolist(), "means": DEMO_MEANS.tolist(),
                 "covariances": DEMO_COVARIANCES.tolist()},
        "fitted": {k: v.tolist() for k, v in fitted.items()},
        "n_iter": int(model.n_iter_),
        "converged": bool(model.converged_),
        "log_likelihood_per_sample": float(model.lower_bound_),
        "generate_seconds": generate_seconds,
        "warmup_seconds": warmup_seconds,
        "warmup_compiled": compiled,
        "fit_seconds": fit_seconds,
    }

    def text():
        print(f"Demo: {X.shape[0]:,} points in 2-D from a mixture of 4 Gaussians with full, "
              f"correlated covariances (seed {args.seed}, generated in {generate_seconds:.2f} s).")
        print(f"Fitted GaussianMixture(n_components=4, random_state={args.seed}); fitted "
              "components matched to true ones by their means (Hungarian algorithm).\n")
        print(f"{'':3}  {'weight':^15}   {'mean (x, y)':^35}   {'covariance (var x, cov xy, var y)':^47}")
        print(f"{'k':>3}  {'true':>7} {'fit':>7}   {'true':>17} {'fit':>17}   {'true':>23} {'fit':>23}")
        for k in range(4):
            true_cov = DEMO_COVARIANCES[k][[0, 0, 1], [0, 1, 1]]
            fit_cov = fitted["covariances"][k][[0, 0, 1], [0, 1, 1]]
            print(f"{k:>3}  {DEMO_WEIGHTS[k]:>7.4f} {fitted['weights'][k]:>7.4f}   "
                  f"{_numbers(DEMO_MEANS[k]):>17} {_numbers(fitted['means'][k]):>17}   "
                  f"{_numbers(true_cov):>23} {_numbers(fit_cov):>23}")
        status = "converged" if model.converged_ else "did not converge"
        print(f"\nEM {status} after {model.n_iter_} iterations; "
              f"log-likelihood per sample {model.lower_bound_:.6f}.")
        how = ("compiled the kernels" if compiled
               else "loaded the compiled kernels from Numba's disk cache")
        print(f"First call: a warm-up fit on {n_warmup:,} points took {warmup_seconds:.2f} s "
              f"(it {how}; the arithmetic itself takes milliseconds).")
        print(f"Fit on {X.shape[0]:,} points, after the warm-up: {fit_seconds:.2f} s "
              f"({1000 * fit_seconds / max(model.n_iter_, 1):.1f} ms per iteration, "
              "including initialization on a subsample).")

    _emit(args, result, text)


def _numbers(values):
    return "(" + ", ".join(f"{v:+.3f}" for v in values) + ")"


# ----------------------------------------------------------------------
# the parser


_EXAMPLES = {
    None: """examples:
  fastem fit faithful.csv -k 2 -o model.npz           # column names come from the header
  fastem predict model.npz faithful.csv -o labels.csv
  fastem select faithful.csv --k 1-6 --progress -o best.npz
  fastem info model.npz

Run 'fastem COMMAND --help' for the options of each command.""",
    "fit": """examples:
  fastem fit points.npy -k 4 -o model.npz
  fastem fit faithful.csv --columns eruptions,waiting -k 2 --covariance diag -o model.npz
  fastem fit waits.csv -k 2 --family exponential -o model.npz
  fastem fit counts.parquet --columns visits -k 3 --family poisson -o model.npz
  fastem fit points.npy -k 10 --bayesian -o model.npz   # how many of the 10 are needed?
  fastem fit airquality.csv -k 2 --missing em -o model.npz   # empty fields and NA are missing""",
    "predict": """examples:
  fastem predict model.npz points.npy -o labels.npy
  fastem predict model.npz faithful.csv -o proba.csv --proba

A model fitted on named columns reads them by name, in any order; one fitted on columns
chosen by index in a file without names (fit data.npy --columns 1,0) reads the same
columns, unless --columns chooses others.""",
    "score": """examples:
  fastem score model.npz held_out.csv
  fastem score model.npz points.npy --json""",
    "impute": """examples:
  fastem fit airquality.csv --columns Ozone,Solar.R,Wind,Temp -k 2 --missing em -o model.npz
  fastem impute model.npz airquality.csv -o filled.csv
  fastem impute model.npz airquality.csv -o draw1.csv --draw --seed 1
  fastem fit visits.csv -k 3 --family poisson --missing em -o counts.npz
  fastem impute counts.npz visits.csv -o visits_filled.csv

Empty fields, NA and NaN are missing values. OUT holds every column of DATA: only the
missing values of the model's columns are filled, everything else is copied unchanged
(a CSV file to a CSV file as text).""",
    "sample": """examples:
  fastem sample model.npz -n 1000 -o samples.csv --seed 1""",
    "select": """examples:
  fastem select faithful.csv --k 1-6 -o best.npz              # all four covariance types
  fastem select points.npy --k 2,4,8 --covariance full,diag --criterion aic
  fastem select counts.csv --family poisson --k 1-5 --progress""",
    "info": """examples:
  fastem info model.npz
  fastem info model.npz --json""",
    "demo": """examples:
  fastem demo
  fastem demo --n-samples 100000 --seed 3""",
}


def build_parser():
    from . import GaussianMixture, __version__

    def common_options(shows_progress):
        # --progress is parsed on every command, so that one that shows none refuses it
        # with the reason (_refuse_ineffective_options), but only those that show
        # progress list it in their help.
        common = argparse.ArgumentParser(add_help=False)
        common.add_argument("--json", action="store_true",
                            help="print JSON on stdout instead of text")
        common.add_argument("-q", "--quiet", action="store_true",
                            help="no progress display and no notes on stderr" if shows_progress
                            else "no notes on stderr")
        common.add_argument("--progress", action="store_true",
                            help="show progress on stderr even when it is not a terminal "
                            "(on a terminal it is shown anyway)" if shows_progress
                            else argparse.SUPPRESS)
        common.add_argument("--debug", action="store_true",
                            help="show the traceback of an error instead of one line")
        return common

    commons = {shows_progress: common_options(shows_progress) for shows_progress in (False, True)}

    def data_options(p):
        p.add_argument("data", metavar="DATA",
                       help="data file: .npy (memory-mapped), .csv (with or without a header "
                       "row) or .parquet")
        p.add_argument("--columns", action="append", metavar="COLS",
                       help="columns to use, by name or 0-based index, comma-separated "
                       "(--columns eruptions,waiting), or the option repeated (default: all)")
        p.add_argument("--header", choices=tuple(HEADER_WORDS),
                       help="whether a .csv file's first row holds column names: auto "
                       "(default) takes it for names when a field is not a number; yes for "
                       "names that are numbers (wavelengths, years); for .csv DATA only")
        p.add_argument("--encoding", type=_encoding, metavar="NAME",
                       help="the text encoding of a .csv DATA, a name Python knows (cp1251, "
                       "shift_jis, gb18030, ...), which overrides detection (default: a "
                       "byte-order mark, UTF-16/32 without one, UTF-8, else Windows-1252 "
                       "with a note); for .csv DATA only")

    def fit_options(p):
        p.add_argument("--n-init", type=_positive_int, default=1,
                       help="initializations per fit; the best is kept (default 1)")
        p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
        p.add_argument("--dtype", choices=("float32", "float64"),
                       help="compute in this precision (default: float32 data stay float32, "
                       "the rest float64)")

    def em_options(p, bayesian=False):
        defaults = GaussianMixture().get_params()
        measured = ("the log-likelihood per sample (with --bayesian, the evidence lower bound)"
                    if bayesian else "the log-likelihood per sample")
        p.add_argument("--max-iter", type=_non_negative_int,
                       help=f"EM passes at most per initialization (default "
                       f"{defaults['max_iter']}, as in Python)")
        p.add_argument("--tol", type=_non_negative_float,
                       help=f"stop when {measured} is estimated to be within "
                       f"this of its limit (default {defaults['tol']:g}, as in Python)")
        p.add_argument("--reg-covar", type=_non_negative_float,
                       help="added to the diagonal of every within-component covariance, in "
                       f"the data's units squared (default {defaults['reg_covar']:g}, as in "
                       "Python); --family gaussian only")

    def missing_option(p, note):
        p.add_argument("--missing", choices=("error", "em"), default="error",
                       help="what an empty field, NA or NaN in DATA is: 'error' (default), or "
                       f"'em', a missing value fitted by EM over the observed entries {note}")

    def fitted_missing_option(p):
        p.add_argument("--missing", choices=("error", "em"), default=None,
                       help="what an empty field, NA or NaN in DATA is: 'error', or 'em', a "
                       "missing value, each row taken from its observed entries with the same "
                       "model, which needs no refit (default: as the model was fitted; "
                       "--family gaussian, exponential and poisson, without --bayesian)")

    def family_option(p):
        p.add_argument("--family", choices=tuple(_FAMILIES), default="gaussian",
                       help="component distribution: gaussian (default), exponential "
                       "(non-negative data: waiting times, sizes) or poisson (counts)")

    def subcommand(name, help):
        return sub.add_parser(name, parents=[commons[name in _PROGRESS_COMMANDS]], help=help,
                              description=help[0].upper() + help[1:] + ".", epilog=_EXAMPLES[name],
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    parser = _Parser(prog="fastem", description="Fit mixture models by EM on large data.",
                     epilog=_EXAMPLES[None], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-V", "--version", action="version", version=f"fastem {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    parser.commands = sub.choices  # {name: parser}, for the errors of main

    p = subcommand("fit", "fit a mixture and save it")
    data_options(p)
    p.add_argument("-k", "--k", "--n-components", dest="n_components", type=_positive_int,
                   required=True, help="number of components")
    family_option(p)
    p.add_argument("--covariance", "--covariance-type", dest="covariance",
                   choices=_COVARIANCE_TYPES,
                   help="covariance type of a Gaussian mixture (default full)")
    p.add_argument("--bayesian", nargs="?", const="dirichlet_process", default=None,
                   choices=("dirichlet_process", "dirichlet_distribution"), metavar="PRIOR",
                   help="fit a variational Bayesian Gaussian mixture (BayesianGaussianMixture) "
                   "with -k as an upper bound: the prior on the weights switches unneeded "
                   "components off. PRIOR: dirichlet_process (default) or "
                   "dirichlet_distribution")
    em_options(p, bayesian=True)
    fit_options(p)
    missing_option(p, "(every --family, without --bayesian)")
    p.add_argument("-o", "--output", required=True, metavar="MODEL",
                   help="model file to write (.npz)")
    p.set_defaults(func=cmd_fit)

    p = subcommand("predict", "write the most likely component of each row, or the probabilities")
    p.add_argument("model", metavar="MODEL", help="model file (.npz) from 'fastem fit'")
    data_options(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file: .npy, .csv or .parquet")
    p.add_argument("--proba", action="store_true",
                   help="write each component's probability instead of the label")
    p.add_argument("--keep", action="append", metavar="COLS",
                   help="columns of DATA to write before the output's, by name or 0-based "
                   "index, comma-separated (--keep id), or the option repeated: to join the "
                   "output back to DATA. A .csv or .parquet OUT keeps any column, a .npy OUT "
                   "numbers only (default: none; a row index of DATA is always kept)")
    fitted_missing_option(p)
    p.set_defaults(func=cmd_predict)

    p = subcommand("score", "log-likelihood, BIC and AIC of DATA under a model")
    p.add_argument("model", metavar="MODEL", help="model file (.npz) from 'fastem fit'")
    data_options(p)
    fitted_missing_option(p)
    p.set_defaults(func=cmd_score)

    p = subcommand("impute", "fill the missing values of DATA under a fitted mixture model")
    p.add_argument("model", metavar="MODEL", help="model file (.npz) from 'fastem fit'")
    data_options(p)
    p.add_argument("--draw", action="store_true",
                   help="draw each missing value from its conditional distribution (multiple "
                   "imputation) instead of taking its conditional expectation")
    p.add_argument("--seed", type=_seed, help="random seed of --draw (default 0); only with --draw")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file: .npy, .csv or .parquet")
    p.set_defaults(func=cmd_impute)

    p = subcommand("sample", "draw samples from a model")
    p.add_argument("model", metavar="MODEL", help="model file (.npz) from 'fastem fit'")
    p.add_argument("-n", "--n-samples", type=_positive_int, required=True,
                   help="number of samples to draw")
    p.add_argument("--seed", type=_seed, help="random seed (default: the model's random_state)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file: .npy, .csv or .parquet")
    p.set_defaults(func=cmd_sample)

    p = subcommand("select", "choose the number of components (and covariance type) by BIC or AIC")
    data_options(p)
    p.add_argument("-k", "--k", "--n-components", dest="k", type=_k_values,
                   default=KRange([(1, 9)], "1-9"), metavar="K",
                   help="numbers of components to try: '1-9' (default, as in Python), '4' "
                   "or '2,4,8'")
    family_option(p)
    p.add_argument("--covariance", "--covariance-type", dest="covariance",
                   type=_covariance_list, metavar="TYPES",
                   help="Gaussian covariance types to try: 'all' (default, as in Python) or "
                   "a comma-separated list of full, tied, diag, spherical")
    p.add_argument("--criterion", choices=("bic", "aic"), default="bic",
                   help="information criterion; lower is better (default bic)")
    p.add_argument("--min-variance-ratio", type=_non_negative_float, metavar="R",
                   help="a Gaussian component with a variance below R times the data's along "
                   "its axis counts as collapsed and is not chosen (default 1e-6, as in "
                   "Python); give a smaller R for real clusters that narrow, as heavy-tailed "
                   "data have")
    em_options(p)
    fit_options(p)
    missing_option(p, "(every --family); the criteria then use the observed-data likelihood")
    p.add_argument("-o", "--output", metavar="MODEL", help="save the best model here (.npz)")
    p.set_defaults(func=cmd_select)

    p = subcommand("info", "describe a model file")
    p.add_argument("model", metavar="MODEL", help="model file (.npz)")
    p.set_defaults(func=cmd_info)

    p = subcommand("demo", "fit a known 4-component mixture and compare with the truth")
    p.add_argument("--n-samples", type=_demo_size, default=1_000_000,
                   help="points to generate (default 1,000,000)")
    p.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    p.set_defaults(func=cmd_demo)
    return parser


# The commands that run EM and so show its progress.
_PROGRESS_COMMANDS = ("fit", "select", "demo")


# How to use less memory, for the commands whose memory a count given to them sets.
_MEMORY_ADVICE = {
    "sample": "draw fewer samples (-n), in several runs with different --seed values",
}


def _refuse_ineffective_options(args):
    """Refuse an option that would have no effect on this command line: say why, and what to pass.

    An option accepted and then ignored misleads: the user believes it
    applied.
    """
    where = f"(see 'fastem {args.command} --help')"
    if args.progress and args.quiet:
        raise UsageError("--progress and --quiet ask for opposite things (show progress, show "
                         "nothing on stderr); pass one of them", where)
    if args.progress and args.command not in _PROGRESS_COMMANDS:
        raise UsageError(f"--progress has no effect on 'fastem {args.command}', which runs no "
                         f"EM and shows no progress (only {', '.join(_PROGRESS_COMMANDS)} do); "
                         "leave out --progress", where)
    header = getattr(args, "header", None)
    ext = os.path.splitext(getattr(args, "data", ""))[1].lower()
    if header is not None and ext in (".npy", ".parquet"):
        raise UsageError(f"--header {header} has no effect on {args.data!r}: only a .csv file "
                         f"has a header row to take or not (a {ext} file names its columns "
                         "itself, or does not); leave out --header", where)
    encoding = getattr(args, "encoding", None)
    if encoding is not None and ext in (".npy", ".parquet"):
        raise UsageError(f"--encoding {encoding} has no effect on {args.data!r}: only a .csv "
                         f"file is text in an encoding (a {ext} file stores its names as "
                         "Unicode); leave out --encoding", where)
    if args.command == "impute" and args.seed is not None and not args.draw:
        raise UsageError(f"--seed {args.seed} has no effect without --draw: the conditional "
                         "expectation is not random; pass --draw to draw the missing values "
                         "(multiple imputation), or leave out --seed", where)


def _count(n, noun):
    """'1 feature', '2 features'."""
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _said(message, parser, command):
    """``message`` (an exception or a warning) in one line, as this command line says it:
    the Python parameters and code of a library's message named by the options of
    ``command`` that set them. A bad command line (:class:`UsageError`) is said as
    argparse and ``main`` wrote it, from the words the user typed."""
    if command is None or isinstance(message, UsageError):
        return _one_line(message)
    return cli_words(_one_line(message), parser.commands[command])


def _unknown_option(parser, argv):
    """``(option, command, advice)`` for the first ``--option`` of ``argv`` that is not
    one of its command's (nor an abbreviation of one, which argparse takes); None when
    there is none, or no command. argparse reports such an option from the top parser
    ("unrecognized arguments"), or reports a required option missing when the option
    was a misspelling of it, without naming the options it is close to. ``advice`` is
    " Did you mean '--max-iter'?" for the command's option closest by its name, the
    dashes that every option starts with left out of the comparison (they made
    '--bogus' close to '--columns'), else the commands that take the option
    ("It is an option of 'fastem fit' and 'fastem select'."), or "". What follows
    ``--`` is positional."""
    if "--" in argv:
        argv = argv[:argv.index("--")]
    command = next((a for a in argv if a in parser.commands), None)
    if command is None:
        return None
    known = {o[2:]: o for o in parser.commands[command]._option_string_actions
             if o.startswith("--")}
    for arg in argv:
        option = arg.split("=")[0]
        if option.startswith("--") and not any(k.startswith(option) for k in known.values()):
            close = difflib.get_close_matches(option.lstrip("-").lower(), list(known), n=1)
            if close:
                return option, command, f" Did you mean {known[close[0]]!r}?"
            others = [f"'fastem {name}'" for name, sub in parser.commands.items()
                      if any(o.startswith(option) for o in sub._option_string_actions)]
            return option, command, (f" It is an option of {' and '.join(others)}."
                                     if others else "")
    return None


class _Terminated(BaseException):
    """A signal that ends the process (SIGTERM, SIGHUP), raised in the command so that it
    ends as an interruption does: the files it was writing removed, its outputs as they
    were. ``args[0]`` is the signal's number."""


def _raise_terminated(signum, frame):
    raise _Terminated(signum)


# The signals that end a command whose process is stopped (kill, timeout, a job
# scheduler) or whose terminal is closed; SIGHUP is not on Windows.
_ENDING_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP")
                        if hasattr(signal, name))


def _catch_ending_signals():
    """Raise :class:`_Terminated` on SIGTERM and SIGHUP; return the handlers to restore.

    Only in the main thread (the only one that can set a handler), and only
    for a signal with its default action, which ends the process without
    running ``finally`` blocks: a program that calls :func:`main` with its own
    handler keeps it.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, _raise_terminated) for signum in _ENDING_SIGNALS
            if signal.getsignal(signum) is signal.SIG_DFL}


def _apply_python_warning_options():
    """Apply Python's own warning options (``python -W``, ``PYTHONWARNINGS``) again, over ours.

    They are the user's: a warning that ``-W error`` makes an error fails the
    command, before it writes its output, and ``-W ignore`` silences. Python
    parses them with ``warnings._setoption`` at start; an option it refused
    then (with a warning of its own) is left out here too.
    """
    for option in sys.warnoptions:
        try:
            warnings._setoption(option)
        except warnings._OptionError:
            pass


def _discard_stdout():
    """Send what stdout still holds to the null device, so that the exit's flush cannot fail.

    A stdout without a file descriptor (a ``StringIO``, a notebook's stream, set by a
    program that calls :func:`main`) is the program's own to handle, and is left as it is.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def _flush_stdout(text=""):
    """Write ``text`` and what stdout holds now, not at exit, so that a failure sets the
    exit status.

    Python buffers stdout when it is a pipe or a file and writes the rest at
    exit, where a failure (the reader gone: ``fastem score ... | head``; a full
    disk) is printed as "Exception ignored" with status 120. Raises
    ``BrokenPipeError`` when the reader left, and :class:`CommandError` on any
    other failure to write, or when stdout is closed (the output would be lost).
    """
    if sys.stdout is None:  # started with stdout closed (fastem score ... >&-)
        raise CommandError("standard output is closed, so the output of the command was lost; "
                           "redirect it to a file or to /dev/null instead of closing it")
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        _discard_stdout()
        full = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
        fix = ("free space on its device, or redirect it elsewhere" if full else
               "redirect it to a file, or to /dev/null")  # a terminal gone (EIO), ...
        raise CommandError(f"cannot write the output to standard output: "
                           f"{exc.strerror or _one_line(exc)}; {fix}") from None


def main(argv=None):
    """Run the ``fastem`` command line; return the exit status."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    command = None  # known once the command line is parsed
    default_handlers = _catch_ending_signals()
    try:
        try:
            args = parser.parse_args(argv)
        except UsageError as exc:
            message, *where = exc.args
            if message.startswith("unrecognized arguments") and any(
                a.startswith("--columns") for a in argv
            ):
                raise UsageError(
                    f"{message}; --columns takes one value: give several columns "
                    "comma-separated (--columns a,b) or repeat the option (--columns a "
                    "--columns b)", *where
                ) from None
            after = [v for a, v in zip(argv, argv[1:])  # after --columns or an abbreviation
                     if a.startswith("--col") and "--columns".startswith(a) and v.startswith("-")]
            if message.startswith("argument --columns: expected one argument") and after:
                # '-1,0' (negative indices) or '-x' (a name), which argparse reads as an option
                raise UsageError(
                    f"{message}; {after[0]!r} starts with '-', which is read as an option: "
                    f"join it to the option with '=' (--columns={after[0]})", *where
                ) from None
            # no option has '_': --n_components is a Python name typed for --n-components
            underscored = [a.split("=")[0] for a in argv
                           if a.startswith("--") and "_" in a.split("=")[0]]
            if underscored:
                raise UsageError(
                    f"{message}; options are spelled with '-', not '_' (e.g. "
                    f"{underscored[0].replace('_', '-')})", *where
                ) from None
            unknown = _unknown_option(parser, argv)
            if unknown is not None:
                option, command, advice = unknown
                raise UsageError(
                    f"{message}; {option} is not an option of 'fastem {command}'.{advice}",
                    f"(see 'fastem {command} --help')"
                ) from None
            raise
        command = args.command
        _refuse_ineffective_options(args)
        with warnings.catch_warnings(record=True) as caught, \
                compile_notice_muted(getattr(args, "quiet", False)):
            warnings.simplefilter("always")
            _apply_python_warning_options()
            args.func(args)
        for w in caught:  # after success only: an error is reported in one line
            print(f"fastem: warning: {_said(w.message, parser, command)}", file=sys.stderr)
        _flush_stdout()
    except SystemExit as exc:  # --help, --version
        return exc.code
    except KeyboardInterrupt:
        print("fastem: interrupted", file=sys.stderr)
        return 130
    except _Terminated as exc:
        print(f"fastem: terminated ({signal.Signals(exc.args[0]).name})", file=sys.stderr)
        return 128 + exc.args[0]  # as a shell reports a command ended by the signal: 143, 129
    except BrokenPipeError:  # the reader of stdout left (fastem info m.npz | head): no message
        _discard_stdout()
        return 141  # 128 + SIGPIPE, as a shell reports a command ended by the signal
    except CommandError as exc:
        if debug:
            raise
        print(f"fastem: error: {_said(exc, parser, command)}", file=sys.stderr)
        return exc.status
    except MemoryError:
        if debug:
            raise
        advice = _MEMORY_ADVICE.get(command, "use fewer components (-k, --k), fewer columns, "
                                              "or a smaller data file")
        print(f"fastem: error: out of memory; {advice}", file=sys.stderr)
        return 1
    except Exception as exc:  # fastem's ValueError/TypeError/OSError and anything else
        if debug:
            raise
        expected = isinstance(exc, (ValueError, TypeError, OSError, ArithmeticError, Warning))
        suffix = "" if expected else f" ({type(exc).__name__}; rerun with --debug for the traceback)"
        print(f"fastem: error: {_said(exc, parser, command)}{suffix}", file=sys.stderr)
        return 1
    finally:
        for signum, handler in default_handlers.items():
            signal.signal(signum, handler)
    return 0
