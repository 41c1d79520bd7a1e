"""Input validation, in one place. Kernels assume what these functions ensure.

Every error says what was wrong, the value seen, and how to fix it.
"""

import contextlib
import contextvars
import decimal
import difflib
import numbers
import os
import sys
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping

import numpy as np

from ._config import SERIAL_WORK
from .exceptions import warn_at_caller
from ._threading import launch
from .kernels._checks import count_non_integer, n_check_partitions, scan_columns

_FLOAT_DTYPES = (np.float32, np.float64)


# Arrays of fewer entries than SERIAL_WORK are checked with NumPy: on small
# data its temporaries cost nothing, and a first fit of a few thousand points
# then compiles no check kernel (scan_columns alone took a quarter of the
# cold first fit's compile time). Larger ones go through the kernels, which
# read the data once and make no temporary of their size.


# Rows per slice of the scan that skips NaN (missing values): bounds its temporaries.
_SCAN_ROWS = 65536


def scan_data(X, allow_nan=False):
    """Non-finite entries and column ranges of a 2-D float array.

    With ``allow_nan``, NaN entries are missing values: they are not
    counted, and the ranges are those of the other entries.

    Returns
    -------
    n_nonfinite : int
        NaN or infinite entries (infinite ones only, with ``allow_nan``).
    lo, hi : ndarray of shape (n_features,), float64
        Per-feature minimum and maximum (inf and -inf with no rows);
        meaningful only when ``n_nonfinite`` is 0.
    """
    if not allow_nan:
        return _scan_finite(X)
    n_bad, lo, hi = _scan_finite(X)
    if n_bad:  # NaN or inf: a second pass, on data with missing values only
        n_inf = 0
        lo = np.full(X.shape[1], np.inf)
        hi = np.full(X.shape[1], -np.inf)
        for start in range(0, X.shape[0], _SCAN_ROWS):
            part = X[start : start + _SCAN_ROWS]
            n_inf += int(np.count_nonzero(np.isinf(part)))
            part_lo, part_hi = _column_extremes(part, np.fmin, np.fmax)
            lo = np.fmin(lo, part_lo)
            hi = np.fmax(hi, part_hi)
        return n_inf, lo, hi
    return n_bad, lo, hi


def _scan_finite(X):
    if X.size >= SERIAL_WORK:
        return launch(scan_columns, X, n_check_partitions(X.shape[0]))
    if X.shape[0] == 0:
        return 0, np.full(X.shape[1], np.inf), np.full(X.shape[1], -np.inf)
    n_nonfinite = X.size - np.count_nonzero(np.isfinite(X))
    return (n_nonfinite, *_column_extremes(X, np.minimum, np.maximum))


def _column_extremes(X, minimum, maximum):
    """``(minimum.reduce, maximum.reduce)`` of each column of the 2-D array ``X``, float64.

    ``X`` has at least one row.

    NumPy reduces down the columns of a C-contiguous array one short row at
    a time, and along contiguous rows in one vectorised loop. Up to
    ``_NARROW_COLUMNS`` columns the rows are therefore reduced along
    transposed copies of blocks of at most ``_COPY_ELEMENTS`` entries (2
    MiB of float64, what the scan's other temporaries take for 32 columns).
    10,000 x 4 float64: 250 us for each of ``X.min(axis=0)`` and
    ``X.max(axis=0)``, 25 us for the copies and both reductions along them;
    from 64 columns on the copies cost more than they save (NumPy 2.4, the
    Zen 4 machine). The extremes are the same numbers either way (a column
    holding both 0.0 and -0.0 may give the other zero).
    """
    if X.shape[1] > _NARROW_COLUMNS:
        lo, hi = minimum.reduce(X, axis=0), maximum.reduce(X, axis=0)
        return lo.astype(np.float64), hi.astype(np.float64)
    rows = _COPY_ELEMENTS // max(X.shape[1], 1)
    lo = hi = None
    for start in range(0, X.shape[0], rows):
        columns = np.ascontiguousarray(X[start : start + rows].T)
        part_lo, part_hi = minimum.reduce(columns, axis=1), maximum.reduce(columns, axis=1)
        lo = part_lo if lo is None else minimum(lo, part_lo)
        hi = part_hi if hi is None else maximum(hi, part_hi)
    return lo.astype(np.float64), hi.astype(np.float64)


_NARROW_COLUMNS = 32
_COPY_ELEMENTS = 1 << 18


def find_non_integers(X):
    """Number of entries of a 2-D float array that are not whole numbers (NaN is not counted).

    Also returns the flat index (``i * n_features + j``) of the first, in
    row-major order, or -1 when there is none.
    """
    if X.size >= SERIAL_WORK:
        return launch(count_non_integer, X, n_check_partitions(X.shape[0]))
    bad = np.flatnonzero((X != np.floor(X)) & (X == X))
    return bad.size, int(bad[0]) if bad.size else -1


def _span_limit(dtype):
    """Widest feature range whose squared distances stay far from overflow in ``dtype``."""
    return float(np.sqrt(np.finfo(dtype).max)) * 2.0**-10


def code_name(name):
    """``name`` as it is written in the example code of an error: itself when it is a
    Python name (``X``), else ``chunk``, the variable a reader holds for a part of chunked
    data named ``chunk 2`` or ``chunk 2 ('b.csv')`` (``chunk 2.dropna()`` is no code)."""
    return name if name.isidentifier() else "chunk"


def check_not_mapping(X, name, what):
    """TypeError for a dict, an .npz archive (``np.load``'s NpzFile) or a set given as
    ``name``, which NumPy reads as one object (chunked data as its keys); ``what`` begins
    the message. A scipy dok array is a dict too: the checks of arrays say that sparse
    data are refused."""
    if not isinstance(X, (Mapping, set, frozenset)) or _is_sparse(X):
        return
    var = code_name(name)
    if isinstance(getattr(X, "files", None), list):  # np.load of an .npz archive
        fix = (f"{var}[{(X.files or ['name'])[0]!r}] for an array of this .npz archive (it "
               f"holds {X.files})")
    elif isinstance(X, Mapping):
        fix = f"pd.DataFrame({var}) for a dict of columns"
    else:
        fix = f"np.array(sorted({var}))[:, None] for a set of values of one feature"
    raise TypeError(f"{what}, got a {type(X).__name__}. Pass an array or a DataFrame, e.g. {fix}.")


def check_array(
    X, *, name="X", dtype=None, min_samples=1, anchors=None, allow_nan=False, nan_advice=None,
    scan=True, row_place=None, squares=True, ranges=None,
):
    """Return ``X`` as a C-contiguous, native-byte-order float32/float64 2-D array.

    float32 and float64 are kept; other real numeric types (integers, booleans,
    float16, long double) are converted to float64, or to ``dtype`` when it is
    given; so are lists and tuples of numbers (see :func:`as_array`). Memory-
    mapped arrays stay memory-mapped when they already have the right layout.
    ``anchors``, an array of shape (m, n_features) such as a fitted model's
    means, counts in the range check, so that data far from a model are
    rejected like data far from each other. With ``allow_nan``, NaN entries
    are kept as missing values (infinities are still refused); without it,
    the error for NaN ends with ``nan_advice`` (see :func:`non_finite_message`).
    Without ``scan``, the values are not scanned (no NaN, infinity or range
    check): for data whose values were checked before, converted again.
    ``row_place``: a function from a row and a column (0-based) to where the
    entry is, e.g. its line and column of a CSV file, for the error for NaN or
    infinity (default "row 4 (0-based) of column 1", the column by its name
    for a DataFrame). ``squares``: whether the model computes squared
    distances of the data in its dtype (Gaussian families); without it, as
    for exponential and Poisson mixtures, the range limits are float64's
    (see :func:`check_range`), which float32 data never reach. ``ranges``: a
    list to which the per-feature minima and maxima scanned are appended as
    ``(lo, hi)``, for chunked data, whose chunks' ranges are checked together.

    Raises
    ------
    TypeError
        For sparse matrices, and object or non-numeric data.
    ValueError
        For complex data, and arrays that are not 2-D, empty, contain NaN or
        infinity, or span a range whose squares overflow the dtype (float64
        without ``squares``; ``sqrt(finfo.max) / 1024`` per feature, about
        1e151 for float64 and 2e16 for float32); for a whole
        number that float64 would round (beyond 2**53: an integer, a Python
        int in a list beside floats, a long double) or a long double beyond
        float64's range, naming its row and column.
    """
    if isinstance(X, (str, bytes, os.PathLike)):
        raise TypeError(
            f"{name} must be an array of numbers, got the path {os.fspath(X)!r}. Read a file "
            "first: np.load(path, mmap_mode='r') for .npy, fastem.Chunks([path]) for .npy, "
            ".csv and .parquet files, or pd.read_csv(path)."
        )
    # Dask's collections computed first, so that every check below reads what they hold:
    # a lazy frame has no values to read (its integer columns, its pd.NA), and blocks of
    # sparse matrices are read by NumPy as objects.
    X = computed_if_lazy(X)
    check_not_mapping(X, name, f"{name} must be an array of shape (n_samples, n_features)")
    if _is_sparse(X):
        raise TypeError(
            f"A sparse matrix was passed as {name}, but dense data is required. Use "
            f"{code_name(name)}.toarray() to convert it to a dense NumPy array (mixture models "
            "compute with every feature of every point, so the density costs nothing extra)."
        )
    check_table_integers(X, name)
    X = _arrow_nulls_as_floats(X)
    X = check_frame_columns(X, name, allow_nan, nan_advice)
    X = _without_mask(X, name, allow_nan, nan_advice)
    # the column names of a frame that no check above reads by its types (polars, ...)
    other_frame = (hasattr(X, "columns") and hasattr(X, "shape") and not hasattr(X, "iloc")
                   and not hasattr(X, "column_names"))
    columns = [str(c) for c in X.columns] if other_frame else None
    # the names of a pandas DataFrame's or an Arrow table's columns, for the errors below
    labels = columns if other_frame else feature_names_of(X)
    frame = hasattr(X, "iloc")  # a pandas DataFrame, whose columns the fix selects by .iloc
    is_series = hasattr(X, "to_frame") and getattr(X, "ndim", None) == 1
    if not hasattr(X, "dtype") or not hasattr(X, "shape"):
        try:
            X = as_array(X)
        except (ValueError, TypeError) as exc:
            raise TypeError(
                f"{name} could not be converted to a numeric array ({exc}). Pass a "
                "2-D array of shape (n_samples, n_features) with real numbers."
            ) from None
    X = np.asarray(X)
    kind = X.dtype.kind
    if kind == "c":
        raise complex_error(
            name, X.dtype,
            f"Pass {code_name(name)}.real, or stack the real and imaginary parts as separate "
            "features.",
        )
    if kind == "O":
        original = X
        _check_no_text(original, name, columns)
        try:
            X = as_float64(X)
        except OverflowError:
            raise _beyond_float64(name) from None
        except (ValueError, TypeError) as exc:
            raise TypeError(
                f"{name} is an object array whose entries are not all numbers ({exc}). "
                f"Convert it to a numeric array first, e.g. np.asarray({code_name(name)}, "
                "dtype=float)."
            ) from None
        check_whole_numbers_held(original, X, name, labels, frame)
        kind = "f"
    if kind not in "biuf":
        raise TypeError(f"{name} has {dtype_text(X.dtype, 'non-numeric ')}. "
                        f"{numeric_advice(X.dtype, name)}")
    if X.ndim != 2:
        if X.ndim == 0:
            hint = "Pass a 2-D array of shape (n_samples, n_features), not a scalar."
        elif is_series:
            hint = (
                f"{name} is a Series; pass {code_name(name)}.to_frame() to use it as one "
                "feature (its name becomes the column name, kept in feature_names_in_)."
            )
        elif X.ndim == 1:
            hint = (
                "Reshape your data with X.reshape(-1, 1) if it has a single feature, "
                "or X.reshape(1, -1) if it is a single sample."
            )
        else:
            hint = "Reshape it to (n_samples, n_features), e.g. X.reshape(len(X), -1)."
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_features), got a "
            f"{X.ndim}-D array of shape {X.shape}. {hint}"
        )
    n_samples, n_features = X.shape
    if n_samples < min_samples:
        raise ValueError(
            f"Found array with {n_samples} sample(s) (shape={X.shape}) while a minimum of "
            f"{min_samples} is required. Pass {name} with at least {min_samples} row(s)."
        )
    if n_features < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is "
            f"required. Pass {name} with at least one column."
        )
    target = np.dtype(dtype) if dtype is not None else None
    if target is None:
        target = X.dtype.newbyteorder("=") if X.dtype.type in _FLOAT_DTYPES else np.float64
    if X.dtype != target or not X.flags.c_contiguous:
        with np.errstate(over="ignore"):  # a long double beyond float64's: named just below
            converted = np.ascontiguousarray(X, dtype=target)
        check_whole_numbers_held(X, converted, name, labels, frame)
        X = converted
    if n_samples == 0 or not scan:  # an empty chunk of chunked data, or values checked before
        return X
    n_bad, lo, hi = scan_data(X, allow_nan)
    if n_bad:
        row, column, value = first_refused_entry(X, allow_nan)
        if row_place is not None:
            where = f"on {row_place(row, column)}"
        else:
            where = f"in row {row} (0-based) of column {feature_label(column, labels)}"
        raise ValueError(non_finite_message(
            name, n_bad, allow_nan, nan_advice, f"{value}, {where}"))
    check_range(lo, hi, X.dtype, name=name, anchors=anchors, squares=squares, names=labels)
    if ranges is not None:
        ranges.append((lo, hi))
    return X


def complex_error(name, dtype, fix):
    """The ValueError for complex values in ``name`` (scikit-learn's "Complex data not
    supported"), ending with ``fix``."""
    return ValueError(
        f"Complex data not supported: {name} has dtype {dtype}, and mixture models need real "
        f"data. {fix}"
    )


def dtype_text(dtype, adjective=""):
    """``dtype`` as a message names it, with an ``adjective`` ("non-numeric ") before it:
    "non-numeric dtype <U1", or for a structured dtype (records, of any number of fields)
    "a non-numeric structured dtype of 3 field(s)", not every field's name and type."""
    dtype = np.dtype(dtype)
    if dtype.names is None:
        return f"{adjective}dtype {dtype}"
    return f"a {adjective}structured dtype of {len(dtype.names)} field(s)"


def numeric_advice(dtype, name="X", saved=False):
    """How to make numbers of an array of the non-numeric ``dtype``, a sentence: a conversion
    that works for it (``np.asarray(X, dtype=float)`` fails on records and times). With
    ``saved``, for an array read from a file: how to save it again."""
    array = code_name(name)
    if dtype.names is not None:
        columns = f"numpy.lib.recfunctions.structured_to_unstructured({array})"
        if saved:
            return (f"It is a structured array with the fields {shown_names(dtype.names)}: save "
                    "them as "
                    f"the columns of a 2-D array, np.save(path, {columns}), or as a parquet "
                    f"file that keeps the field names, pd.DataFrame({array}).to_parquet(path).")
        return (f"It is a structured array with the fields {shown_names(dtype.names)}: pass "
                "them as the "
                f"columns of a 2-D array, {columns}, or as a DataFrame, pd.DataFrame({array}), "
                "whose columns keep the field names in feature_names_in_.")
    if dtype.kind in "mM":
        numbers = f"({array} - {array}.min()) / np.timedelta64(1, 's')"
        return ("Convert the times to numbers of a unit first, e.g. seconds: "
                + (f"np.save(path, {numbers})." if saved else f"{numbers}."))
    numbers = f"np.asarray({array}, dtype=float)"
    return f"Save a numeric array, e.g. np.save(path, {numbers})." if saved else (
        f"Pass a numeric array, e.g. {numbers}.")


# Beyond this magnitude float64 holds only some whole numbers (every other one up to 2**54).
FLOAT64_WHOLE = 2**53


def as_float64(values):
    """``values.astype(np.float64)``, with pandas' missing value ``pd.NA`` in an object array
    read as NaN, as NumPy reads ``None``: the checks of NaN then name it as a missing value
    (a column of a nullable dtype made ``object``, a list that holds it). Other entries that
    are not numbers raise as ``astype`` raises."""
    try:
        return values.astype(np.float64)
    except TypeError:
        if values.dtype != object:
            raise
        missing = _missing_entries(values, none=False)
        if not missing.any():
            raise
        return np.where(missing, None, values).astype(np.float64)


def _missing_entries(values, none):
    """The boolean mask of the entries of the object array ``values`` that are pandas'
    ``pd.NA`` (once pandas is imported, else none are), or None too if ``none``."""
    na = getattr(sys.modules.get("pandas"), "NA", None)
    return np.asarray(np.frompyfunc(
        lambda entry: (none and entry is None) or (na is not None and entry is na), 1, 1,
    )(values), dtype=bool)


def as_array(value):
    """``np.asarray(value)``; for a list or a tuple (nested ones too) that NumPy makes float64
    with a magnitude of 2**53 or more in an entry that is not a float (an integer, a
    ``Decimal``, a ``Fraction``, a 0-d array), the object array of its entries.

    NumPy makes float64 of integers beside floats (``[[2**53 + 1, 0.5]]``),
    rounding whole numbers beyond 2**53 before any check could see them; as
    objects, they stay the integers given, for the checks of an object
    array's whole numbers (:func:`rounded_by_float64`). Anything else, an
    array or a frame with its own dtype included, is returned as
    ``np.asarray`` gives it, at no further cost.
    """
    values = np.asarray(value)
    # A list of long doubles stays one (they hold every whole number up to 2**64 and are
    # checked as such), and one of large floats float64 (1e18 is no whole number given,
    # and objects cost a Python call per entry in the checks).
    if (isinstance(value, (list, tuple)) and values.dtype.kind == "f"
            and values.dtype.itemsize <= 8 and not _within_whole(values)):
        large = np.abs(values) >= FLOAT64_WHOLE  # NaN compares False
        if large.any():
            objects = np.asarray(value, dtype=object)
            if objects.shape != values.shape:
                return objects
            kinds = set(map(type, objects[large].tolist()))  # one pass in C
            if not all(issubclass(kind, (float, np.floating)) for kind in kinds):
                return objects
    return values


def rounded_by_float64(values, converted):
    """A boolean mask of the whole numbers of ``values`` (an integer array, an object
    array of numbers, or floats wider than float64: long double) that ``converted``, the
    same in float64, rounds: beyond 2**53, float64 holds only some whole numbers. A
    long double beyond float64's range, infinite in ``converted``, is not counted (see
    :func:`beyond_float64`)."""
    wide = np.abs(converted)
    rounded = wide >= FLOAT64_WHOLE  # the candidates; NaN compares False
    if not rounded.any():
        return rounded
    if values.dtype.kind == "f":  # compared in the wider type, which holds both exactly
        return rounded & (wide < np.inf) & (values == np.floor(values)) & (converted != values)
    if values.dtype.kind in "iu":
        # compared in the integers' own type, where float64 stays within its range
        limit = float(np.iinfo(values.dtype).max)  # 2**63 or 2**64, as float64 rounds it
        inside = (converted >= -limit) & (converted < limit)
        back = np.where(inside, converted, 0).astype(values.dtype)
        return rounded & (~inside | (back != values))
    # an object beyond float64 (a Decimal of 1e400) is infinite there: see beyond_float64
    rounded[rounded] = [np.isfinite(c) and whole_value(v) not in (None, int(c))
                        for v, c in zip(values[rounded].tolist(), converted[rounded].tolist())]
    return rounded


def whole_value(value):
    """``value`` as a Python int if it is a whole number (an integer, a ``Fraction`` of whole
    value, or a ``Decimal`` written without decimals, as an Arrow decimal column of scale 0
    gives them), else None. ``Decimal('9007199254740993.00')`` is a fraction, as the
    field 9007199254740993.00 of a CSV file is, and the decimals of a parquet column of
    scale 2 are: float64 rounds it as any fraction."""
    if isinstance(value, np.ndarray) and value.ndim == 0:  # a list's 0-d array
        value = value.item()
    if isinstance(value, numbers.Rational):  # int, NumPy integers, Fraction
        return int(value) if value.denominator == 1 else None
    if isinstance(value, decimal.Decimal) and value.is_finite():
        return int(value) if value.as_tuple().exponent >= 0 else None
    return None


def beyond_float64(values, converted):
    """A boolean mask of the finite entries of ``values`` (floats wider than float64, or
    objects: a ``Decimal`` has no largest value) that ``converted``, the same in float64,
    makes infinite; all False for integers, which float64 holds (Python ints and
    ``Fraction`` objects beyond it fail to convert)."""
    if values.dtype.kind == "f":
        return np.isinf(converted) & np.isfinite(values)
    beyond = np.zeros(values.shape, dtype=bool)
    if values.dtype.kind == "O":
        infinite = np.isinf(converted)
        beyond[infinite] = [_finite_object(v) for v in values[infinite].tolist()]
    return beyond


def _finite_object(value):
    """Whether ``value``, an object that float64 makes infinite, is finite itself."""
    if isinstance(value, decimal.Decimal):
        return value.is_finite()
    return isinstance(value, np.floating) and bool(np.isfinite(value))


def shown_number(value):
    """``value`` as ``format(value, '.6g')`` writes it, a long double or a ``Decimal``
    beyond float64's range too (which ``format`` of a float would write as inf)."""
    if isinstance(value, decimal.Decimal):
        return f"{value:.6g}"
    if abs(value) <= np.finfo(np.float64).max:
        return f"{float(value):.6g}"
    return np.format_float_scientific(value, precision=5).replace(".e", "e")


def beyond_float64_range(where, value, fix):
    """The message for the long double ``value`` beyond float64's range, which float64 would
    make infinite: ``where`` names the data and the place, with ``{}`` for the value;
    ``fix`` says what to do instead."""
    return (f"{where.format(shown_number(value))}, beyond the range of float64 (largest "
            f"{np.finfo(np.float64).max:.3g}), which would be read as inf; {fix}")


def rounded_whole_number(where, value, dtype, fix):
    """The message for the whole number ``value`` that ``dtype`` (float32 or float64) would
    round: ``where`` names the data and the place, ``fix`` says what to do instead."""
    dtype = np.dtype(dtype)
    bits = np.finfo(dtype).nmant + 1
    return (f"{where}: a whole number that {dtype.name} cannot hold (it holds every whole "
            f"number only up to 2**{bits} = {2**bits:,}), which would be read as "
            f"{int(dtype.type(value)):d}; {fix}")


def _first_altered(values, converted):
    """``(i, beyond)`` for the first entry, in the order of ``values.ravel()``, that
    ``converted``, the same in float64, alters: a whole number it rounds
    (:func:`rounded_by_float64`), or, with ``beyond`` True, a long double beyond its range
    (:func:`beyond_float64`); None if it alters none."""
    beyond = beyond_float64(values, converted).ravel()
    altered = beyond | rounded_by_float64(values, converted).ravel()
    if not altered.any():
        return None
    first = int(np.argmax(altered))
    return first, bool(beyond[first])


def _row_of(row, piece):
    """The text for ``row`` (0-based) of the data, or of a piece of them: ``piece`` is
    None, or ``(first_row, name)``, the piece's first row in the data and its name (a
    dask array's block), and the row is named in the data and in the piece."""
    if piece is None:
        return f"row {row} (0-based)"
    first_row, name = piece
    return f"row {first_row + row} (0-based; row {row} of {name})"


def _check_column_held(values, converted, name, j, column=None, frame=False, piece=None,
                       index=None):
    """ValueError for the first whole number of ``values``, column ``j`` of ``name`` (1-D
    integers, objects that are numbers, or long doubles), that ``converted``, the same in
    float64, rounds, or long double beyond float64's range that it makes infinite;
    ``column``: its name; ``frame``: whether ``name`` is a DataFrame (for the fix's code);
    ``piece``: where ``values`` are a piece of ``name`` (see :func:`_row_of`); ``index``:
    the frame's row labels, named when they are not the row's position."""
    if not may_round(values.dtype):
        return
    found = _first_altered(values, converted)
    if found is None:
        return
    row, beyond = found
    label = f"column {j}" if column is None else f"column {column!r}"
    at = _row_of(row, piece)
    if index is not None and index[row] != row:
        at = f"{at[:-1]}; index label {index[row]!r})"
    selected = (f"{name}[{column!r}]" if column is not None else
                f"{name}.iloc[:, {j}]" if frame else f"{name}[:, {j}]")
    if beyond:
        example = f" (e.g. {selected} / {selected}.max())" if name.isidentifier() else ""
        raise ValueError(beyond_float64_range(
            f"{name} holds {{}} in {at} of {label}", values[row],
            f"scale that column into it first{example}"))
    value = int(values[row])
    example = f" (e.g. {selected} - {selected}.min())" if name.isidentifier() else ""
    # an array has one dtype for every column
    accept = ("that column as float64" if column is not None or frame else
              f"{name}.astype(float)" if name.isidentifier() else "the data as float64")
    raise ValueError(rounded_whole_number(
        f"{name} holds {value} in {at} of {label}", value, np.float64,
        f"subtract an offset from that column{example}, or pass {accept} to accept the "
        "rounding"))


def check_held_by_float64(values, converted, name, fix, piece=None):
    """ValueError for the first entry of ``values`` (any shape) that ``converted``, the same
    in float64, alters: a whole number that it rounds (:func:`rounded_by_float64`), or a long
    double beyond its range. The message names ``name`` and the entry's index (for a piece
    of the vector ``name``, ``piece`` is ``(its first index, its name)``: the index in
    both), and ends with ``fix``: what to pass instead to accept the rounding."""
    if not (may_round(values.dtype) and values.size) or _within_whole(converted):
        return
    found = _first_altered(values, converted)
    if found is None:
        return
    flat, beyond = found
    index = np.unravel_index(flat, values.shape)
    where = index[0] if len(index) == 1 else tuple(int(i) for i in index)
    place = f" at index {where}" if values.ndim else ""  # a scalar (one weight for all)
    if piece is not None:
        place = f" at index {piece[0] + where} (index {where} of {piece[1]})"
    value = values[index]
    if beyond:
        raise ValueError(beyond_float64_range(f"{name} holds {{}}{place}", value,
                                             f"scale {name} into it first"))
    raise ValueError(rounded_whole_number(
        f"{name} holds {int(value)}{place}", int(value), np.float64, fix))


def _within_whole(values):
    """Whether every entry of the numbers ``values`` is within 2**53 in magnitude, where
    float64 holds every whole number (False for NaN), by two passes without a copy."""
    return values.size == 0 or (-FLOAT64_WHOLE < values.min() and values.max() < FLOAT64_WHOLE)


def may_round(dtype):
    """Whether float64 may round or overflow values of ``dtype``: 64-bit integers, objects
    (Python's integers have any size), or floats wider than float64 (long double); smaller
    integers fit in float64's 53 bits."""
    return (dtype.kind == "O" or (dtype.kind in "iu" and dtype.itemsize >= 8)
            or (dtype.kind == "f" and dtype.itemsize > 8))


def check_whole_numbers_held(values, converted, name, columns=None, frame=False, piece=None):
    """ValueError for the first whole number of the 2-D ``values`` (integers, objects that
    are numbers, or long doubles) that ``converted``, the same in float64, rounds, or long
    double beyond its range, naming its row and column of ``name`` (by its name in
    ``columns``, when given; ``frame``: whether ``name`` is a DataFrame, for the fix's code;
    ``piece``: where ``values`` are a piece of ``name``, see :func:`_row_of`)."""
    if not (values.ndim == 2 and may_round(values.dtype) and values.size):
        return
    if _within_whole(converted):
        return
    for j in range(values.shape[1]):
        _check_column_held(values[:, j], converted[:, j], name, j,
                           None if columns is None else columns[j], frame, piece)


def _check_no_text(values, name, columns):
    """TypeError for a column of text in ``values``, the object array of a frame whose
    columns are named ``columns`` (None: not a frame, whose text of numbers NumPy converts,
    as scikit-learn does). A frame's text is text even when it holds numbers, as a pandas
    DataFrame's (:func:`check_frame_columns`) and fastem's CSV reader's."""
    if columns is None or values.ndim != 2:
        return
    for j, column in enumerate(columns):
        text = next((v for v in values[:, j].tolist() if isinstance(v, (str, bytes))), None)
        if text is not None:
            raise TypeError(
                f"column {column!r} of {name} holds text ({text!r}), not numbers. Select the "
                "numeric columns, or convert this one to numbers first (e.g. with polars: "
                f"X.with_columns(pl.col({column!r}).cast(pl.Float64)) for numbers stored as "
                "text)."
            )


def _check_arrow_type(field, name, pa):
    """TypeError for a column of an Arrow table that does not hold numbers, as
    :func:`check_frame_columns` refuses a DataFrame's: text is refused even when it holds
    numbers, which NumPy's conversion of the table would have read silently."""
    kind = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
    if (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
            or pa.types.is_decimal(kind) or pa.types.is_null(kind)):
        return
    table = name if name.isidentifier() else "table"
    text = pa.types.is_string(field.type) or pa.types.is_large_string(field.type)
    raise TypeError(
        f"column {field.name!r} of {name} has type {field.type}, not numbers. Select the "
        f"numeric columns, e.g. {table}.select([...]), or convert this one to numbers first"
        + (f" (pyarrow.compute.cast({table}[{field.name!r}], pyarrow.float64()) for numbers "
           "stored as text)." if text else ".")
    )


def _integer_dtype(dtype):
    """The NumPy dtype of the integers of a pandas column of ``dtype``, or None if it does not
    hold integers: NumPy's own, nullable (``Int64``) and Arrow-backed integers give their
    ``numpy_dtype``, sparse ones (``Sparse[int64, 0]``) their ``subtype``."""
    if getattr(dtype, "kind", None) not in ("i", "u"):
        return None
    return np.dtype(getattr(dtype, "numpy_dtype", getattr(dtype, "subtype", dtype)))


def check_table_integers(X, name):
    """:func:`_check_column_held` for each integer column of a pandas DataFrame or an Arrow
    table, before its conversion to one array rounds them (with a float column, in float64);
    an Arrow table's columns that do not hold numbers are refused (:func:`_check_arrow_type`)."""
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(X, (pa.Table, pa.RecordBatch)):
        for j, field in enumerate(X.schema):
            _check_arrow_type(field, name, pa)
            if pa.types.is_integer(field.type):
                values = X.column(j).fill_null(0).to_numpy()
                if not _within_whole(values):
                    _check_column_held(values, values.astype(np.float64), name, j, field.name)
        return
    dtypes = getattr(X, "dtypes", None)
    if not (hasattr(X, "iloc") and hasattr(dtypes, "tolist")):
        return
    for j, (column, dtype) in enumerate(zip(list(X.columns), dtypes.tolist())):
        kind = _integer_dtype(dtype)
        if kind is not None and may_round(kind):  # numpy, nullable (Int64), Arrow integers
            values = X.iloc[:, j].to_numpy(dtype=kind, na_value=0)
            if _within_whole(values):
                continue
            _check_column_held(values, values.astype(np.float64), name, j,
                               column if isinstance(column, str) else None, frame=True,
                               index=X.index)


def _arrow_nulls_as_floats(X):
    """An Arrow table or record batch with columns of type null (missing values only) as a
    table whose null columns are of the floating-point type of the others: float32 beside
    columns whose values make float32 (:func:`frame_float_dtype`), else float64. Read as
    they are, they make its values objects, read as float64 whatever the other columns.
    Other data are returned as they are."""
    pa = sys.modules.get("pyarrow")
    if pa is None or not isinstance(X, (pa.Table, pa.RecordBatch)):
        return X
    nulls = [pa.types.is_null(field.type) for field in X.schema]
    if not any(nulls):
        return X
    others = [np.dtype(field.type.to_pandas_dtype())
              if pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
              or pa.types.is_boolean(field.type) else np.dtype(np.float64)
              for field, null in zip(X.schema, nulls) if not null]
    holes = pa.from_numpy_dtype(frame_float_dtype(others))
    schema = pa.schema([field.with_type(holes) if null else field
                        for field, null in zip(X.schema, nulls)], metadata=X.schema.metadata)
    table = pa.Table.from_batches([X]) if isinstance(X, pa.RecordBatch) else X
    return table.cast(schema)


# What the error for NaN advises when the estimator does not say (see BaseMixture._nan_advice).
_NAN_ADVICE = (
    "If the NaN are missing values, GaussianMixture(missing='em') fits them by EM over the "
    "observed entries; otherwise remove or impute them"
)


def masked_as_nan(X):
    """A NumPy masked array's data with NaN for its masked entries (float64 unless floating).

    ``np.asarray`` drops a mask and keeps whatever the masked entries hold,
    which a fit or a prediction would then read as data. Anything else is
    returned as it is.
    """
    if not isinstance(X, np.ma.MaskedArray):
        return X
    mask = np.ma.getmaskarray(X)
    data = np.ma.getdata(X)
    if not mask.any():
        return data
    if data.dtype.kind != "f":
        data = data.astype(np.float64)
    return np.where(mask, np.asarray(np.nan, dtype=data.dtype), data)


def computed_if_lazy(value):
    """A Dask collection (array, DataFrame, Series) as what it stands for, computed: a masked
    array if its blocks are (``dask.array.ma``, or blocks a task returns masked whatever the
    array's ``_meta`` says), a sparse matrix if they are, a pandas DataFrame or Series;
    anything else as it is. NumPy's conversion (``np.asarray``) computes a dask array too,
    but drops the mask and keeps whatever its masked entries hold, and makes an array of
    objects of sparse blocks."""
    dask = sys.modules.get("dask")  # not imported: nothing is a Dask collection
    if dask is not None and dask.is_dask_collection(value):
        return value.compute()
    return value


def _without_mask(X, name, allow_nan, nan_advice=None):
    """:func:`masked_as_nan` with ``allow_nan`` (masked entries are missing values), else an
    error for masked entries that ends with ``nan_advice``."""
    if not isinstance(X, np.ma.MaskedArray):
        return X
    n_masked = int(np.ma.getmaskarray(X).sum())
    if allow_nan or n_masked == 0:
        return masked_as_nan(X)
    var = code_name(name)
    raise ValueError(
        f"{name} is a masked array with {n_masked} masked entries, whose hidden values would "
        f"be read as data; {var}.filled(np.nan) makes them NaN. {nan_advice or _NAN_ADVICE}, "
        f"e.g. {var} = {var}[~np.ma.getmaskarray({var}).any(axis=1)] drops their rows."
    )


class EntryError(ValueError):
    """A ValueError about one entry of the data, ``X[row, column]`` (0-based; ``row`` in the
    whole data), or about one row when ``column`` is None.

    The message is ``before + entry + after``, the entry named as ``X[4, 1] =
    -0.5`` (a row as ``row 4 (0-based)``) until a caller that knows where the
    data came from names it in the user's terms (:meth:`placed`): a CSV
    file's line and column.

    ``fields`` are figures of the whole data that the message states, put into
    ``before`` (a format string then, e.g. "X has {count} row(s) ..."): ``count``, how
    many rows or entries are refused, and ``smallest`` and ``feature``, the data's
    smallest value and its feature. A check of one piece of the data (a dask array's
    block) states the piece's; :meth:`restated` gives the whole's.
    """

    def __init__(self, before, after="", row=None, column=None, value=None, **fields):
        self.fields, self.template = fields, before
        if fields:
            before = before.format(**fields)
        self.parts, self.row, self.column, self.value = (before, after), row, column, value
        if row is None:  # a message as it is (an error re-raised with a prefix)
            super().__init__(before + after)
        elif column is None:
            super().__init__(f"{before}row {row} (0-based){after}")
        else:
            super().__init__(f"{before}X[{row}, {column}] = {value!r}{after}")

    def restated(self, **fields):
        """The same error with ``fields`` (figures of the whole data) in place of its own."""
        return EntryError(self.template, self.parts[1], self.row, self.column, self.value,
                          **{**self.fields, **fields})

    def named(self, names):
        """The same error with its ``feature`` field (an index) named by the data's column
        ``names`` where there are some (:func:`feature_label`), else this error."""
        if names is None or not isinstance(self.fields.get("feature"), (int, np.integer)):
            return self
        return self.restated(feature=feature_label(self.fields["feature"], names))

    def placed(self, where):
        """The message with the entry named by ``where`` ("line 6 (data row 3), column 2
        ('b') of 'data.csv'"): "-0.5 on {where}", or "on {where}" for a row."""
        before, after = self.parts
        entry = f"on {where}" if self.column is None else f"{self.value!r} on {where}"
        return f"{before}{entry}{after}"


def first_entry(X, test):
    """``(row, column)`` (0-based) of the first entry of the 2-D ``X``, in row-major
    order, where ``test`` (a function from an array to a boolean array of its shape) is
    True; None if there is none. Read in slices, which bound the temporary arrays
    (``X`` may be memory-mapped)."""
    for start in range(0, X.shape[0], _SCAN_ROWS):
        found = test(np.asarray(X[start : start + _SCAN_ROWS]))
        if found.any():
            row, column = np.unravel_index(int(np.argmax(found)), found.shape)
            return start + int(row), int(column)
    return None


#: The largest finite float32, the bound of the values a float32 model's parameters hold.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def beyond_float32(part):
    """Which entries of the array ``part`` are beyond float32's range (a ``test`` of
    :func:`first_entry`)."""
    return np.abs(part) > FLOAT32_MAX


def first_refused_entry(X, allow_nan):
    """``(row, column, value)`` of the first entry of the 2-D ``X`` that a fit refuses: an
    infinity, or NaN unless ``allow_nan``; ``value`` is its text ('nan', 'inf' or
    '-inf'). None if there is none (see :func:`first_entry`)."""
    found = first_entry(X, np.isinf if allow_nan else lambda part: ~np.isfinite(part))
    if found is None:
        return None
    row, column = found
    return row, column, repr(float(X[row, column]))


def non_finite_message(name, n_bad, allow_nan, nan_advice=None, where=None):
    """The error for ``n_bad`` entries of ``name`` that the estimator cannot take.

    ``nan_advice`` is what the estimator advises for NaN when it does not
    take them as missing values (e.g. "pass missing='em' to
    ExponentialMixture ..."); the default names GaussianMixture's option.
    ``where``: the first and its place, e.g. "nan, in row 250 (0-based) of column 1".
    """
    first = "" if where is None else f" The first is {where}."
    if allow_nan:
        return (
            f"{name} contains {n_bad} infinite value(s). NaN entries are taken as missing "
            f"values, but infinities are not: replace them with NaN, or remove those rows.{first}"
        )
    return (
        f"{name} contains {n_bad} NaN or infinite value(s). {nan_advice or _NAN_ADVICE}, e.g. "
        f"X = X[np.isfinite(X).all(axis=1)] drops the incomplete rows.{first}"
    )


def check_frame_columns(X, name, allow_nan=False, nan_advice=None):
    """Name the column of a pandas (or Dask) DataFrame that is not numeric or has missing values.

    Without this, such a frame becomes an object array whose error names no
    column. Other frames (polars, ...) are left to the array checks.
    Returns ``X``, a frame with nullable or other extension columns (``Int64``,
    ``Float64``, ``int64[pyarrow]``, ``decimal128[pyarrow]``, categories of numbers), or
    with boolean columns beside others, as float64, or as float32 where the columns' NumPy
    types would make float32 values (``Float32`` or ``float[pyarrow]`` columns, beside
    none whose values float32 cannot hold: :func:`frame_float_dtype`), as a frame of
    NumPy columns is: with
    ``allow_nan``, their ``pd.NA`` as NaN (missing values); without it,
    ``pd.NA`` is an error that ends with ``nan_advice`` (see
    :func:`non_finite_message`). Integer columns are converted unchecked: check
    them first (:func:`check_table_integers`).
    """
    dtypes, columns = getattr(X, "dtypes", None), getattr(X, "columns", None)
    if dtypes is None or columns is None or not hasattr(dtypes, "tolist"):
        return X
    extension = truths = False
    for j, (column, dtype) in enumerate(zip(list(columns), dtypes.tolist())):
        kind = getattr(getattr(dtype, "categories", None), "dtype", dtype)  # categories' kind
        kind = getattr(kind, "kind", None)
        if kind is None:
            return X  # not pandas' dtypes: nothing to say here
        if kind == "O" and isinstance(dtype, np.dtype) and _holds_numbers(X, j):
            continue  # object column of numbers: converted as scikit-learn converts it
        if kind == "O" and (_is_arrow(dtype, "decimal") or _is_arrow(dtype, "null")):
            # decimal[pyarrow] numbers, as a parquet file's decimal columns are read: float64;
            # null[pyarrow]: pd.NA only, missing values
            extension = True
            continue
        if kind not in "biuf":
            var = code_name(name)
            raise TypeError(
                f"column {column!r} of {name} has dtype {dtype}, not numbers. Select the "
                f"numeric columns, e.g. {var}.select_dtypes('number'), or convert this one "
                f"to numbers first (pd.to_numeric({var}[{column!r}]) for numbers stored as "
                "text)."
            )
        extension = extension or not isinstance(dtype, np.dtype)
        truths = truths or kind == "b"
    if truths and not extension and hasattr(X, "astype") and len(set(dtypes.tolist())) > 1:
        # booleans beside numbers make the values an object array, which a Dask
        # DataFrame's blocks would be; as float64 they are the numbers a pandas frame's
        # object values are read as
        return X.astype(np.float64)
    if not (extension and hasattr(X, "isna")):
        return X
    if not allow_nan:
        # counted per column where the frame lies, not copied whole (a Dask DataFrame)
        missing = np.asarray(X.isna().sum(axis=0))
        if missing.any():
            j, var = int(np.flatnonzero(missing)[0]), code_name(name)
            raise ValueError(
                f"{name} has {int(missing.sum())} missing value(s) (pd.NA), the first in "
                f"column {list(columns)[j]!r}. {nan_advice or _NAN_ADVICE}, e.g. {var}.dropna() "
                f"drops the incomplete rows or {var}.astype(float).fillna({var}.median()) "
                "imputes medians."
            )
    # pd.NA becomes NaN, a missing value; the values of a Dask DataFrame of such columns
    # would be objects
    return X.astype(frame_float_dtype(dtypes.tolist()))


def frame_float_dtype(dtypes):
    """float32 where the NumPy types of a frame's column ``dtypes`` (an extension type's
    ``numpy_dtype``: float32 for ``Float32`` and ``float[pyarrow]``, int64 for ``Int64``)
    make float32 values, as pandas makes a frame of NumPy columns (float32 beside int16:
    float32; beside float64 or int32: float64), else float64: a float32 model for float32
    data, whatever holds its columns."""
    types = []
    for dtype in dtypes:
        if _is_arrow(dtype, "null"):
            continue  # missing values only: NaN in the type of the other columns
        if isinstance(dtype, np.dtype):
            types.append(dtype)
        elif isinstance(getattr(dtype, "numpy_dtype", None), np.dtype):
            types.append(dtype.numpy_dtype)
        else:  # categories of numbers, or a type of no NumPy equivalent
            types.append(getattr(getattr(dtype, "categories", None), "dtype", np.float64))
    try:
        common = np.result_type(*types)
    except (TypeError, ValueError):  # a type of no common one, or none (columns of nulls only)
        return np.float64
    return np.float32 if common == np.float32 else np.float64


def _is_arrow(dtype, kind):
    """True for a pandas column type of Arrow values of the ``kind`` that
    ``pyarrow.types.is_<kind>`` tells: 'decimal' (``decimal128(10, 2)[pyarrow]``) or
    'null' (``null[pyarrow]``, a column of missing values only, as pandas reads a parquet
    column of type null with ``dtype_backend='pyarrow'``)."""
    arrow_type = getattr(dtype, "pyarrow_dtype", None)
    if arrow_type is None:
        return False
    import pyarrow.types  # an Arrow column's type: pyarrow is imported

    return getattr(pyarrow.types, f"is_{kind}")(arrow_type)


def _holds_numbers(X, j):
    """True when column ``j`` of the pandas DataFrame ``X`` (object dtype) holds numbers only.

    scikit-learn converts such a column (made by ``astype(object)`` or by
    concatenating frames) to float64; text, dates and other objects are
    refused. Missing values are left to the NaN check. A Dask column's values
    are not at hand: False.
    """
    if not type(X).__module__.startswith("pandas"):
        return False
    from pandas.api.types import infer_dtype  # X is a pandas DataFrame: pandas is imported

    return infer_dtype(X.iloc[:, j], skipna=True) in (
        "integer", "floating", "mixed-integer-float", "decimal", "boolean", "empty"
    )


def _is_sparse(X):
    """True for a SciPy sparse matrix or array, decided without importing scipy.sparse."""
    return type(X).__module__.startswith("scipy.sparse") and hasattr(X, "toarray")


def pandas_index_columns(schema):
    """The names of the columns an Arrow schema's pandas metadata lists as the index.

    A RangeIndex is stored as metadata alone and lists no column; metadata
    that pandas did not write lists none either.
    """
    try:
        metadata = schema.pandas_metadata or {}
    except (ValueError, TypeError):  # metadata written by another tool
        return set()
    return {c for c in metadata.get("index_columns", ()) if isinstance(c, str)}


def without_pandas_index(X):
    """An Arrow table (or record batch) without the columns that hold a pandas index.

    ``pyarrow.Table.from_pandas(df)`` of a frame whose index is not a plain
    range (a filtered frame, a named or text index) stores the index as
    columns ('__index_level_0__', or its name) and lists them in the
    schema's pandas metadata; they are row labels, not features, as
    ``table.to_pandas()`` shows. Anything else is returned as it is.
    """
    schema = getattr(X, "schema", None)
    if schema is None or not hasattr(X, "column_names"):
        return X
    index = pandas_index_columns(schema)
    keep = [j for j, name in enumerate(X.column_names) if name not in index]
    if len(keep) == len(X.column_names):
        return X
    return type(X).from_arrays([X.column(j) for j in keep],
                               names=[X.column_names[j] for j in keep])


def pandas_index_names(X):
    """The names of the pandas index that ``X`` carries beside its columns: a pandas
    DataFrame's index levels, an Arrow table's columns that its pandas metadata lists as
    the index (:func:`without_pandas_index` leaves them out); [] for anything else."""
    schema = getattr(X, "schema", None)
    if schema is not None and hasattr(X, "column_names"):
        return pandas_index_columns(schema)
    names = getattr(getattr(X, "index", None), "names", None)  # a list's index is a method
    return [] if names is None else [name for name in names if isinstance(name, str)]


def feature_names_of(X):
    """Column names of a DataFrame (pandas, polars, ...) or Arrow table, else None.

    Returns an object array of str when every column name is a string, None
    when there are no names or none is a string (e.g. pandas' default integer
    columns), as scikit-learn does.

    Raises
    ------
    TypeError
        When some names are strings and others are not.
    """
    if isinstance(X, np.ndarray):
        return None
    names = getattr(X, "column_names", None)  # pyarrow.Table, pyarrow.RecordBatch
    if names is None and hasattr(X, "columns") and hasattr(X, "shape"):
        names = X.columns  # pandas, polars, modin, ... DataFrames
    if names is None:
        return None
    names = list(names)
    kinds = sorted({"str" if isinstance(n, str) else type(n).__qualname__ for n in names})
    if not names or "str" not in kinds:
        return None
    if len(kinds) > 1:
        raise TypeError(
            "Feature names are only supported if all input features have string names, "
            f"but your input has {kinds} as feature name / column name types. Convert "
            "them all to strings, e.g. X.columns = X.columns.astype(str)."
        )
    names = [str(n) for n in names]
    # counted in one pass: list.count per name took 5 s at 20,000 columns, on each read
    repeated = {n: count for n, count in Counter(names).items() if count > 1}
    if repeated:
        shown = ", ".join(f"{n!r} {count} times" for n, count in repeated.items())
        rename = ("X = X.rename_columns([...])" if hasattr(X, "column_names")  # Arrow
                  else "X.columns = [...]")
        raise ValueError(
            f"Expected unique column names, got: {shown}. A model checks columns by name, "
            f"so each needs its own: rename the repeats, e.g. {rename}, or drop them."
        )
    return np.asarray(names, dtype=object)


def column_selection(X, name="X"):
    """How ``X``, called ``name``, selects its columns by name, in a given order: a format
    string of the list of names (the ``selection`` of :func:`check_feature_names`).
    ``X.select([...])`` for an Arrow table or record batch, which takes no list in
    ``X[...]``; ``X[[...]]`` for a DataFrame (pandas, polars, Dask)."""
    arrow = hasattr(X, "column_names") and hasattr(X, "select")
    return f"{name}.select({{}})" if arrow else f"{name}[{{}}]"


def name_key(name):
    """How a column name reads: without the spaces around it ('x, y' gives ' y', as pandas
    reads it) and in Unicode's composed form (NFC), so that 'café' typed on one system
    ('e' and U+0301, NFD, as macOS names files) is 'café' written on another (U+00E9)."""
    return unicodedata.normalize("NFC", name.strip())


# Names a message lists, at most: a mismatch of 20,000 columns is told in a few lines, as
# scikit-learn's _check_feature_names tells it (its "- ..." after five names).
NAMES_SHOWN = 5


def shown_names(names, limit=NAMES_SHOWN, count=True):
    """``names`` for a message: "['a', 'b', 'c']", or the first ``limit`` of them and, with
    ``count``, how many there are in all ("['a', 'b', 'c', 'd', 'e', ...] (20000 names)")."""
    names = list(names)
    if len(names) <= limit:
        return repr(names)
    shown = f"[{', '.join(map(repr, names[:limit]))}, ...]"
    return f"{shown} ({len(names)} names)" if count else shown


def _listed_names(title, names, limit=NAMES_SHOWN):
    """A title and a line for each of the first ``limit`` names, then one for the rest."""
    lines = "".join(f"- {n}\n" for n in names[:limit])
    if len(names) <= limit:
        return f"{title}:\n{lines}"
    return f"{title} ({len(names)}):\n{lines}- ... and {len(names) - limit} more\n"


def name_differences(names, expected, where="fit"):
    """How the column names ``names`` differ from ``expected`` (those of ``where``), in one
    bounded sentence: the names not in ``where`` and those of ``where`` that are not in
    ``names``, the first :data:`NAMES_SHOWN` of each with their counts, or where the same
    names stand in another order."""
    names, expected = list(names), list(expected)
    expected_set, names_set = set(expected), set(names)
    unseen = [n for n in names if n not in expected_set]
    missing = [n for n in expected if n not in names_set]
    parts = []
    if unseen:
        parts.append(f"{len(unseen)} not in {where} ({shown_names(unseen, count=False)})")
    if missing:
        parts.append(f"{len(missing)} of {where} missing ({shown_names(missing, count=False)})")
    if not parts:
        if len(names) != len(expected):
            return f"{len(names)} columns where {where} has {len(expected)} (names repeat)"
        return f"the same names in another order ({first_misordered(names, expected, where)})"
    return ", ".join(parts)


def names_written_otherwise(names, expected, where="fit"):
    """A sentence on the ``names`` that read as one of the ``expected`` names (those of
    ``where``; :func:`name_key`) but are written otherwise, each beside it in ASCII, where
    the two look the same (the first :data:`NAMES_SHOWN` of them); '' when there are none."""
    keys = {name_key(n): n for n in expected}
    pairs = [(n, keys[name_key(n)]) for n in names
             if name_key(n) in keys and n != keys[name_key(n)]]
    if not pairs:
        return ""
    shown = ", ".join(f"{ascii(n)} for {ascii(e)}" for n, e in pairs[:NAMES_SHOWN])
    if len(pairs) > NAMES_SHOWN:
        shown += f", ... ({len(pairs)} names)"
    return (f"Some names are written otherwise than in {where} (spaces around them, or "
            f"another Unicode normal form of the same letters): {shown}; rename them as in "
            f"{where}. ")


def first_misordered(names, expected, where="fit"):
    """Where ``names`` first differ from ``expected`` (those of ``where``), the same names in
    another order: "column 2 (0-based) is 'c' where fit had 'b'", counted as X.columns[j]
    and --columns count them; '' where they do not differ."""
    for j, (name, wanted) in enumerate(zip(names, expected)):
        if name != wanted:
            return f"column {j} (0-based) is {name!r} where {where} had {wanted!r}"
    return ""


def check_feature_names(names, fitted_names, estimator, selection="X[{}]", index_note=None):
    """Compare the column names of data passed after fit with those seen in fit.

    Follows scikit-learn: a UserWarning when only one of the two has names, a
    ValueError when the names or their order differ, whose fix is
    ``selection`` (a format string) of the list of the names of fit: how the
    data passed selects columns (``X[...]`` for a DataFrame). The message
    names at most :data:`NAMES_SHOWN` unseen and missing names, with their
    counts, whatever the number of columns. ``index_note``, a function of the
    missing names, says where the data hold one as a pandas index rather than
    as a column ('' where they do not): the message then says so too.
    """
    if names is None and fitted_names is None:
        return
    if fitted_names is None:
        warn_at_caller(
            f"X has feature names, but {estimator} was fitted without feature names.",
            UserWarning,
        )
        return
    if names is None:
        warn_at_caller(
            f"X does not have valid feature names, but {estimator} was fitted with feature "
            "names.",
            UserWarning,
        )
        return
    if len(names) == len(fitted_names) and (names == fitted_names).all():
        return
    # each set made once: made per name, it was (n_features x n_features) work
    fitted_set, names_set = set(fitted_names), set(names)
    unseen = [n for n in names if n not in fitted_set]
    missing = [n for n in fitted_names if n not in names_set]
    message = "The feature names should match those that were passed during fit.\n"
    if unseen:
        message += _listed_names("Feature names unseen at fit time", unseen)
    if missing:
        message += _listed_names("Feature names seen at fit time, yet now missing", missing)
    if not unseen and not missing:
        message += "Feature names must be in the same order as they were in fit"
        where = first_misordered(list(names), list(fitted_names))
        message += f" ({where}).\n" if where else ".\n"
    message += names_written_otherwise(unseen, missing)
    note = index_note(missing) if missing and index_note is not None else ""
    if note:
        message += f"Note: {note}\n"
    if len(fitted_names) <= 2 * NAMES_SHOWN:
        chosen = repr(list(fitted_names))
    else:  # the model's names, not a list of thousands
        chosen = "list(model.feature_names_in_)"
    message += f"Select the columns of fit, in order: {selection.format(chosen)}."
    raise ValueError(message)


# The names by which messages call the features of data that carry no names of their
# own (an array), while the command line runs a model on the columns of a file: the
# columns' names, or the names it gives a file's columns without names (x0, x1, ... by
# their place in the file), set by fastem.cli around each call of the library. None (the
# default): such features are named by their 0-based index among the data's.
MESSAGE_FEATURE_NAMES = contextvars.ContextVar("fastem_message_feature_names", default=None)


def feature_label(j, names=None):
    """Feature ``j`` (0-based) as a message names it: by its column name, quoted, where
    ``names`` (the data's column names, e.g. ``feature_names_in_``) are given or the
    command line names the columns it read (:data:`MESSAGE_FEATURE_NAMES`), else by its
    index: ``'waiting'`` or ``1``. Every message that names a feature names it so."""
    if names is None:
        names = MESSAGE_FEATURE_NAMES.get()
    return str(int(j)) if names is None or j >= len(names) else repr(names[j])


def _powers_of_ten(excess):
    """The power of ten that divides each feature ``excess`` (per feature) times beyond a
    limit to a tenth of it at most; 1 for a feature within it (left as it is)."""
    beyond = excess >= min(1.0, excess.max())  # the widest, whatever rounding
    with np.errstate(divide="ignore"):  # log10(0) of a feature within: not used
        return np.where(beyond, 10.0 ** np.ceil(np.log10(excess) + 1.0), 1.0)


def _scale_advice(squares, excess, powers, names):
    """How to bring data within a range limit, ``excess`` (per feature) times beyond it,
    by dividing each feature by its power of ten ``powers`` (:func:`_powers_of_ten`).

    Each feature beyond it is divided by a power of ten that brings it within
    (named in the message, the most distant first), the same for all the data
    (every chunk of chunked data) and computed from none of their statistics:
    a standard deviation or a mean of such data overflows (their squares or
    their sum) to infinity, which makes them all 0, and is NaN in a feature
    with missing values. The other features are left as they are: a common
    factor would take them below what a Gaussian's variances resolve, or round
    a Poisson mixture's counts in them to 0. A Poisson mixture's counts must
    stay whole: counts of a coarser unit.
    """
    beyond = np.flatnonzero(powers != 1.0)
    beyond = beyond[np.argsort(-excess[beyond], kind="stable")]
    factors = [f"feature {feature_label(j, names)} by {powers[j]:.0e}"
               for j in beyond[:NAMES_SHOWN]]
    if beyond.size > NAMES_SHOWN:
        factors.append(f"and {beyond.size - NAMES_SHOWN} more feature(s) alike")
    advice = ("Divide the features beyond it by a power of ten, the same for all the data: "
              + ", ".join(factors))
    if squares:
        return advice + "."
    return advice + " (a Poisson mixture's counts to whole counts of that coarser unit: np.round)."


def _model_scale_advice(low, high, own):
    """The advice for data too far from a fitted model, whose means in the feature lie
    between ``low`` and ``high`` (scaling the data would make them other data), with
    ``own``, what a model fitted to the data alone needs (:func:`_fit_advice`)."""
    return (f"Give data on the scale the model was fitted on (its means lie between {low:.3g} "
            f"and {high:.3g} there)"
            + (", or fit a model to data of this scale." if not own else
               f"; to fit a model to them: {own}"))


def _without_empty(lo, hi):
    """``[lo, hi]`` with a feature of no value (every entry missing, ``lo > hi``) at 0."""
    empty = lo > hi
    if empty.any():
        lo, hi = np.where(empty, 0.0, lo), np.where(empty, 0.0, hi)
    return lo, hi


# Each feature scaled up (or down) by its largest magnitude, as a fix of parameters beyond
# the dtype's range: not by its standard deviation (the squares of values that small
# underflow to 0), and a feature of zeros divided by the dtype's smallest normal number, not
# by 0 (0 / 0: NaN in it, and a RuntimeWarning).
LARGEST_MAGNITUDE_SCALING = "X / np.nanmax(np.abs(X), axis=0, initial=np.finfo(X.dtype).tiny)"


_SHIFT_ADVICE = ("the input data, by the same offsets for all of them, e.g. "
                 "X - np.nanmin(X, axis=0): their spread is within the limit (a mean of such "
                 "values may overflow, and is NaN in a feature with missing values).")


def _fit_advice(lo, hi, dtype, squares, names):
    """How to bring data of per-feature range ``[lo, hi]`` within the limits of a fit in
    ``dtype`` (see :func:`check_range`), or "" for data within them.

    Both limits at once: a feature too wide and another of values too large are told
    what each needs (a division of the one alone left the other refused)."""
    lo, hi = _without_empty(lo, hi)
    limit, eps = _span_limit(dtype), np.finfo(dtype).eps
    excess = hi / limit - lo / limit  # the span in limits, without inf beyond float64's
    large = np.maximum(np.abs(lo), np.abs(hi)) * (eps / limit)  # the magnitude in limits
    if not squares:  # a division brings both within
        excess = np.maximum(excess, large)
    if not (excess <= 1.0).all():
        powers = _powers_of_ten(excess)
        advice = _scale_advice(squares, excess, powers, names)
        if squares and not (large / powers <= 1.0).all():
            advice += " Then shift " + _SHIFT_ADVICE
        return advice
    if not (large <= 1.0).all():
        return "Shift " + _SHIFT_ADVICE
    return ""


def check_range(lo, hi, dtype, *, name="X", anchors=None, squares=True, names=None):
    """Reject data whose per-feature range ``[lo, hi]`` would overflow ``dtype`` arithmetic.

    ``anchors`` (shape (m, n_features)), such as a fitted model's means,
    widen the range: data far from a model are rejected like data far from
    each other, and told to come on the model's scale. See
    :func:`check_array` for the limits. Without ``squares``
    (a model whose kernels compute no squared distances of the data:
    exponential and Poisson mixtures, whose kernels take products of a value
    and a parameter and sum their statistics in float64), the limits are
    float64's whatever ``dtype``: what squares such data is the float64
    standardisation of the starts (:func:`fastem._init.standardise`), and
    float32 data cannot reach them. With ``squares=None`` the range has no
    limit: a pass of a fitted exponential or Poisson mixture that scores the
    data squares none of them and computes no mean of them (a log-density
    beyond float64's range is -inf, a density of 0, as scipy.stats gives it).
    """
    if squares is None:
        return
    if not squares:
        dtype = np.dtype(np.float64)
    if anchors is not None and anchors.shape[1] != lo.shape[0]:
        anchors = None
    data_lo, data_hi = lo, hi

    def advice(j):
        # taken for data refused only: what a fit of the data alone needs, and for data
        # far from a fitted model, that model's scale in feature j first
        own = _fit_advice(data_lo, data_hi, dtype, squares, names)
        return own if anchors is None else _model_scale_advice(anchor_lo[j], anchor_hi[j], own)

    if anchors is not None:
        anchor_lo, anchor_hi = anchors.min(axis=0), anchors.max(axis=0)
        lo = np.minimum(lo, anchor_lo)
        hi = np.maximum(hi, anchor_hi)
    # A feature with no value (every entry missing) has no range to check.
    lo, hi = _without_empty(lo, hi)
    with np.errstate(over="ignore"):  # beyond float64's largest number: inf, refused below
        span = hi - lo
    limit = _span_limit(dtype)
    if not (span <= limit).all():
        j = int(np.argmax(span))
        width = (f"{span[j]:.3g}" if np.isfinite(span[j]) else
                 f"more than {np.finfo(np.float64).max:.3g} (float64's largest number)")
        at_risk = ("squared distances would overflow" if squares else
                   "the squared deviations that standardise the data for the starts would "
                   "overflow")
        raise ValueError(
            f"{name}{'' if anchors is None else ' with the fitted model'} spans {width} "
            f"in feature {feature_label(j, names)}, too wide for {dtype} arithmetic: "
            f"{at_risk} (the limit is {limit:.3g}). "
            + advice(j)
        )
    # Means and centres computed from such values are off by a rounding error
    # of magnitude * eps; its square must not overflow either.
    magnitude = np.maximum(np.abs(lo), np.abs(hi))
    if not (magnitude * np.finfo(dtype).eps <= limit).all():
        j = int(np.argmax(magnitude))
        raise ValueError(
            f"{name} has values of magnitude {magnitude[j]:.3g} in feature "
            f"{feature_label(j, names)}, too large "
            f"for {dtype} arithmetic: rounding errors of means that large would "
            f"overflow when squared (the limit is {limit / np.finfo(dtype).eps:.3g}). "
            + advice(j)
        )


def numeric_weights(w, name="sample_weight", piece=None):
    """The sample weights ``w`` (an ndarray) with a numeric dtype, or a TypeError.

    An object array of numbers (a pandas column of dtype object, a list that
    holds ``Decimal`` or ``None``) becomes float64, as data and scikit-learn's
    ``sample_weight`` do (``None`` becomes NaN, refused as such), and so do
    64-bit integers and long doubles; a whole number among them that float64
    would round (beyond 2**53), or a long double beyond float64's range, is a
    ValueError naming its index in ``name`` (and in ``piece``, for a piece of it,
    see :func:`check_held_by_float64`).
    """
    if may_round(w.dtype):  # objects, 64-bit integers, long doubles
        try:
            with np.errstate(over="ignore"):  # a long double beyond float64's: named below
                converted = as_float64(w)
        except OverflowError:  # a Python int beyond float64
            raise _beyond_float64("sample_weight") from None
        except (ValueError, TypeError) as exc:  # objects that are not numbers
            raise TypeError(
                f"sample_weight is an object array whose entries are not all numbers ({exc}). "
                "Pass an array of non-negative numbers, one per sample."
            ) from None
        check_held_by_float64(
            w, converted, name, "pass the weights as float64 (e.g. np.asarray(sample_weight, "
            "dtype=float)) to accept the rounding, a change of at most one part in 2**53", piece)
        return converted
    if w.dtype.kind not in "biuf":
        raise TypeError(
            f"sample_weight must be numeric, got {dtype_text(w.dtype)}. Pass an array of "
            "non-negative numbers, one per sample."
        )
    return w


def check_weights_unmasked(sample_weight):
    """ValueError for a NumPy masked array of weights (or a block of a Dask one) with masked
    entries, whose hidden values would be read as weights."""
    if isinstance(sample_weight, np.ma.MaskedArray) and np.ma.getmaskarray(sample_weight).any():
        raise ValueError(
            "sample_weight is a masked array with masked entries, whose hidden values would be "
            "read as weights. Give every sample a weight (sample_weight.filled(0) leaves the "
            "masked samples out of the fit)."
        )


def weight_values(sample_weight, n_samples):
    """``sample_weight`` (not None) as a numeric ndarray, its shape and values not yet checked.

    Every data source reads the weights it is given here, so that they mean
    the same for an array, chunks and a Dask array of the same rows: a number
    is the weight of each of the ``n_samples`` rows, a one-shot iterator is
    read into a list, and a masked array with masked entries, a dict or a set
    are refused (ValueError, TypeError), since their hidden values, keys or
    order would be read as weights.
    """
    sample_weight = computed_if_lazy(sample_weight)
    if _is_sparse(sample_weight):  # NumPy reads it as an array of one object
        raise TypeError(
            f"sample_weight is a sparse matrix of shape {sample_weight.shape}; pass a dense "
            "1-D array of weights, e.g. np.asarray(sample_weight.todense()).ravel()."
        )
    check_weights_unmasked(sample_weight)
    if isinstance(sample_weight, (Mapping, set, frozenset, Iterator)):
        sample_weight = as_list(sample_weight, "sample_weight", "one number per row of X, in order")
    w = numeric_weights(as_array(_unmasked(sample_weight)))
    return np.full(n_samples, float(w)) if w.ndim == 0 else w


def check_weight_labels(X, sample_weight, name="X"):
    """Raise ValueError for weights in a pandas Series whose index holds the row labels of
    the pandas DataFrame ``X`` in another order.

    Weights are read by position, as scikit-learn reads them, so such weights
    (a frame sorted or shuffled after its weight column was taken out) would
    silently weight other rows than their labels say. Indexes of other labels
    (a Series of weights made from an array, beside a frame indexed by dates)
    are taken by position, as before; so are duplicated labels, which name no
    row.
    """
    x_index, w_index = getattr(X, "index", None), getattr(sample_weight, "index", None)
    if x_index is None or w_index is None:
        return
    if not (type(X).__module__.startswith("pandas")
            and type(sample_weight).__module__.startswith("pandas")):
        return  # a Dask collection's index is lazy
    if (len(x_index) != len(w_index) or x_index.equals(w_index)
            or not (x_index.is_unique and w_index.is_unique)):
        return
    found = np.asarray(w_index.isin(x_index), dtype=bool)
    if x_index.nlevels == w_index.nlevels == 1 and x_index.hasnans:  # isin finds no pd.NA
        found |= np.asarray(w_index.isna())
    if not found.all():
        return
    row = int(np.flatnonzero(_labels_differ(x_index, w_index))[0])
    x_label, w_label = (_plain_label(v) for v in (x_index[row], w_index[row]))
    raise ValueError(
        f"sample_weight is a Series whose index holds the row labels of {name} in another "
        f"order: row {row} of {name} is labelled {x_label!r} but weight {row} is labelled "
        f"{w_label!r}. Weights are read by position, so they would weight other rows "
        f"than their labels say. Align them, sample_weight.loc[{code_name(name)}.index], or "
        "pass sample_weight.to_numpy() to take them by position."
    )


def _labels_differ(a, b):
    """Boolean array: where the pandas Indexes ``a`` and ``b`` of one length hold different
    labels, missing labels (NaN, None, NaT, pd.NA) alike, as ``Index.equals`` takes them; level
    by level for a MultiIndex."""
    if a.nlevels > 1 and a.nlevels == b.nlevels:
        return np.logical_or.reduce([_labels_differ(a.get_level_values(k), b.get_level_values(k))
                                     for k in range(a.nlevels)])
    import pandas as pd  # a and b are pandas Indexes

    a_labels, b_labels = np.array(a, dtype=object), np.array(b, dtype=object)
    for labels in (a_labels, b_labels):
        labels[pd.isna(labels)] = None  # alike, where pd.NA == x is pd.NA and NaN != NaN
    return ~np.asarray(a_labels == b_labels, dtype=bool)


def _plain_label(label):
    """A row label as Python writes it: 1, not np.int64(1), in a tuple too (a MultiIndex's)."""
    if isinstance(label, tuple):
        return tuple(_plain_label(v) for v in label)
    return label.item() if isinstance(label, np.generic) else label


def check_sample_weight(
    sample_weight, n_samples, *, require_positive_sum=True, allow_zero_sum=False
):
    """Return sample weights as a float64 vector, or an empty one for unit weights.

    Unit weights are ``None`` or weights that are all 1: the kernels then take
    their unweighted pass, so that ``sample_weight=np.ones(n)`` fits bitwise as
    no weights do (the unweighted pass sums its log-likelihood from products of
    points, the weighted one point by point: their last bits differ, and an
    accelerated fit can take another path from them).
    ``require_positive_sum=False`` accepts all-zero weights, for one chunk of
    data whose other chunks carry the weight; ``allow_zero_sum`` accepts them
    and still checks a positive total's range (see :func:`check_total_weight`).
    """
    if sample_weight is None:
        return np.empty(0, dtype=np.float64)
    w = weight_values(sample_weight, n_samples)
    if w.shape != (n_samples,):
        raise ValueError(
            f"sample_weight has shape {w.shape} but X has {n_samples} samples; pass "
            f"one weight per sample, shape ({n_samples},)."
        )
    w = np.ascontiguousarray(w, dtype=np.float64)
    if not np.isfinite(w).all():
        raise ValueError(
            f"sample_weight contains {int((~np.isfinite(w)).sum())} NaN or infinite "
            f"value(s), the first at index {int(np.argmax(~np.isfinite(w)))}. "
            "Every weight must be a finite non-negative number."
        )
    if (w < 0).any():
        raise ValueError(
            f"sample_weight contains {int((w < 0).sum())} negative value(s), the "
            f"smallest being {w.min():g}, the first at index {int(np.argmax(w < 0))}. "
            "Weights act like repetition counts and must be >= 0."
        )
    if require_positive_sum:
        with np.errstate(over="ignore"):  # an infinite sum is reported as out of range
            check_total_weight(w.sum(), allow_zero=allow_zero_sum)
    if w.size and w[0] == 1.0 and (w == 1.0).all():
        return np.empty(0, dtype=np.float64)
    return w


# The total weight must leave the weighted sums of squares that the kernels
# accumulate (weight x responsibility x squared distance) room in float64 on
# both sides: about 150 decades each way.
_TOTAL_WEIGHT_RANGE = (2.0**-500, 2.0**500)


def check_total_weight(total, *, allow_zero=False):
    """Raise a ValueError unless the sum of all the sample weights is positive and in range.

    A total of 0 leaves nothing to fit (``allow_zero`` accepts it, for a
    summary of data that holds no weight: its statistics are 0). A total
    below about 3e-151 or above about 3e150 lets the weighted sums underflow
    or overflow float64, which would silently spoil the fit. A
    maximum-likelihood fit does not depend on the scale of the weights, so
    the fix is to rescale them.
    """
    if allow_zero and total == 0:
        return
    if not total > 0:
        raise ValueError(
            "Every sample_weight is zero, so there is no data to fit. Give at least one "
            "sample a positive weight."
        )
    low, high = _TOTAL_WEIGHT_RANGE
    if not low <= total <= high:
        raise ValueError(
            f"The sample weights sum to {total:.3g}, outside [{low:.3g}, {high:.3g}], where "
            "the weighted sums of the EM statistics under- or overflow float64. Multiply "
            "every weight by the same constant to bring the sum near the number of "
            "samples: a maximum-likelihood fit does not depend on the scale of the "
            "weights (a Bayesian fit does, through its priors, and BIC, AIC and "
            "select_n_components do, through the number of observations)."
        )


def non_finite_entries(values, name, fix):
    """The message for the array ``values`` of the parameter ``name``, which holds NaN or
    infinite entries: how many, the first with its index ("means_init[1, 0] = nan"),
    and ``fix``, a sentence (or ''); None when every entry is finite."""
    values = np.asarray(values)
    bad = ~np.isfinite(values)
    if not bad.any():
        return None
    index = np.unravel_index(int(np.argmax(bad)), values.shape)
    shown = "".join(f"[{', '.join(map(str, index))}]") if values.ndim else ""
    return (f"{name} contains NaN or infinite values: {int(bad.sum())} of {values.size}, the "
            f"first {name}{shown} = {float(values[index])!r}.{' ' + fix if fix else ''}")


def as_float_array(value, name):
    """A user-given parameter array as float64, or an error that names it.

    Refused as in data: complex values (a cast drops the imaginary parts,
    ValueError), text and dates (a cast reads '0.5' as 0.5 and a date as days
    since 1970, TypeError), a masked array with masked entries (a cast
    reads their hidden values, ValueError), and a whole number that float64
    would round (beyond 2**53: an integer, a Python int in a list beside
    floats) or a long double beyond float64's range (ValueError, naming its
    index). Booleans, integers, long doubles and object arrays of numbers are
    converted.
    """
    if isinstance(value, np.ma.MaskedArray) and np.ma.getmaskarray(value).any():
        raise ValueError(
            f"{name} is a masked array with {int(np.ma.getmaskarray(value).sum())} masked "
            f"entries, whose hidden values would be read as {name}. Pass a plain array with "
            "every entry set."
        )
    try:
        values = as_array(_unmasked(value))
    except (ValueError, TypeError):  # ragged nested sequences
        raise _not_real_numbers(value, name) from None
    if values.dtype.kind == "c":
        raise complex_error(name, values.dtype, f"Pass {name}.real if its imaginary parts are 0.")
    if values.dtype.kind not in "biufO":  # text, dates
        raise _not_real_numbers(value, name)
    if values.dtype.kind == "O":
        _refuse_none(values, name)
    try:
        with np.errstate(over="ignore"):  # a long double beyond float64's: named below
            converted = as_float64(values)
    except OverflowError:
        raise _beyond_float64(name) from None
    except (ValueError, TypeError):  # objects that are not numbers
        raise _not_real_numbers(value, name) from None
    check_held_by_float64(values, converted, name,
                          f"pass {name} as float64 (np.asarray({name}, dtype=float)) to accept "
                          "the rounding")
    return converted


def parameter_as_float(value, name):
    """The fitted parameter ``name`` as a float array: a float32 or float64 array as it is
    (the model's dtype decides which one agrees), anything else (lists, integers,
    ``Decimal`` and ``Fraction`` entries, long doubles) converted to float64 as the fit
    takes an initial parameter such as ``means_init`` (:func:`as_float_array`, whose
    errors name what float64 would alter)."""
    if type(value) is np.ndarray and value.dtype in _FLOAT_DTYPES:  # a masked one is converted
        return value
    return as_float_array(value, name)


def assigned_parameter(value, name):
    """A fitted parameter as assigned (``model.means_ = value``), for the checks at its use.

    :func:`parameter_as_float`; a value that it refuses (a whole number that
    float64 would round, one beyond its range, text) is kept unconverted, as
    :func:`as_array` reads it, without NumPy's silent rounding of integers
    beside floats, and masked entries as NaN: the check at its use
    (:func:`fastem._state.check_parameter_arrays`) names it.
    """
    if value is None:  # named as an absent parameter at its use
        return value
    try:
        return parameter_as_float(value, name)
    except (TypeError, ValueError):
        try:
            return as_array(masked_as_nan(value))
        except (TypeError, ValueError):  # ragged nested sequences
            return value


def _unmasked(value):
    """The data of a masked array, ``value`` itself otherwise: ``np.ma.getdata`` would make
    an array of a list, whose integers beside floats :func:`as_array` keeps."""
    return np.ma.getdata(value) if isinstance(value, np.ma.MaskedArray) else value


def _beyond_float64(name):
    """The ValueError for a Python int in ``name`` that float64 cannot hold (beyond 1.8e308),
    instead of Python's bare "int too large to convert to float"."""
    return ValueError(
        f"{name} holds an integer beyond float64's range (1.8e+308), which float64 "
        f"arithmetic cannot hold. Scale {name} into that range first."
    )


class NoneEntryError(TypeError):
    """A parameter array given with a missing value (None, ``pd.NA``) where a number belongs."""


def _refuse_none(values, name):
    """Raise NoneEntryError where the object array ``values`` holds None or pandas' ``pd.NA``:
    a cast to float64 would read it as NaN, and the error would then be about a NaN the
    user never gave."""
    absent = _missing_entries(values, none=True)
    if not absent.any():
        return
    first = values[tuple(np.argwhere(absent)[0])] if values.ndim else values.item()
    what = "None" if first is None else "pd.NA"
    if values.ndim == 0:
        raise NoneEntryError(f"{name} is {what}; pass an array of real numbers with the documented shape.")
    index = tuple(int(i) for i in np.argwhere(absent)[0])
    raise NoneEntryError(
        f"{name} holds {what} at index {index[0] if len(index) == 1 else index} "
        f"({int(absent.sum())} missing entries in all); a parameter has no missing values: "
        "pass a real number for every entry."
    )


def _not_real_numbers(value, name):
    return TypeError(
        f"{name} must be an array of real numbers, got {value!r}. Pass e.g. "
        f"np.asarray({name}, dtype=float) with the documented shape."
    )


def check_weights_init(weights_init, n_components):
    """Check user-given initial mixing weights; return them as float64."""
    w = as_float_array(weights_init, "weights_init")
    if w.shape != (n_components,):
        raise ValueError(
            f"weights_init must have shape ({n_components},) for n_components="
            f"{n_components}, got {w.shape}."
        )
    if not np.isfinite(w).all() or (w < 0).any():
        raise ValueError(f"weights_init must be finite and non-negative, got {w}.")
    if not np.isclose(w.sum(), 1.0, rtol=0, atol=1e-6):
        raise ValueError(
            f"weights_init must sum to 1, but sums to {w.sum():.6g}. Divide by "
            "its sum: weights_init / weights_init.sum()."
        )
    return w


def check_in_dtype(values, name, dtype, *, positive=False, fix=None):
    """Raise ValueError unless the user-given ``values`` (initial parameters, a
    regularisation) survive the cast to the fit's ``dtype``.

    A float32 fit stores them in float32: a magnitude above float32's largest
    number would become an infinity (NumPy's "overflow encountered in cast"),
    and a parameter that must be positive (``positive``: scales, rates,
    precisions, variances) would round to 0, each then reported as a broken
    state of the model. ``fix`` is the advice besides fitting as float64
    (default: scale the data and ``name`` alike).
    """
    dtype = np.dtype(dtype)
    info = np.finfo(dtype)
    values = np.asarray(values, dtype=np.float64)
    fix = fix or f"scale the data and {name} alike"
    big = np.abs(values) > info.max
    if big.any():
        raise ValueError(
            f"{name} holds {values[big].flat[0]:.3g}, beyond {dtype.name}'s largest number "
            f"({info.max:.3g}), so a {dtype.name} fit cannot hold it. Fit the data as "
            f"float64 (X.astype(np.float64)), or {fix}."
        )
    if positive:
        lost = (values > 0) & (values.astype(dtype) == 0)
        if lost.any():
            raise ValueError(
                f"{name} holds {values[lost].flat[0]:.3g}, which rounds to 0 in {dtype.name}, "
                f"so a {dtype.name} fit cannot hold it. Fit the data as float64 "
                f"(X.astype(np.float64)), or {fix}."
            )


def check_distinct_starts(rows, name, shapes=None, shapes_name=None, dtype=np.float64):
    """Raise ValueError when two components start alike: rows of ``rows`` (initial
    means, scales or rates, shape (n_components, ...)) and, when given, entries of
    ``shapes`` (initial precisions, one per component) that are equal, or as good as
    equal in the fit's ``dtype``: every element within ``ALIKE_ULPS`` units in the last
    place of the larger one (float32 data computes in float32).

    EM keeps such components alike at every step (their responsibilities are
    in a fixed ratio), so one of them is wasted: empty or a copy of the other;
    from starts that differ only by rounding, the difference grows too slowly
    for EM to part them before it stops.
    """
    rows = np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)
    rtol = ALIKE_ULPS * np.finfo(dtype).eps
    for k in range(len(rows)):
        for j in range(k):
            if _alike(rows[j], rows[k], rtol) and (
                    shapes is None or _alike(shapes[j], shapes[k], rtol)):
                also = f" and so are their {shapes_name}" if shapes is not None else ""
                how = "equal" if np.array_equal(rows[j], rows[k]) else (
                    f"equal within rounding in {np.dtype(dtype).name}")
                raise ValueError(
                    f"{name} rows {j} and {k} are {how}{also}: EM keeps components that "
                    "start alike alike, so one of them would be empty or a copy. Give each "
                    "component its own start, or use fewer components."
                )


#: Units in the last place within which two components' initial parameters are alike.
ALIKE_ULPS = 4


def _alike(a, b, rtol):
    """Whether the arrays ``a`` and ``b`` differ only by rounding: every element within
    ``rtol`` of the larger magnitude of the two."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return bool(np.all(np.abs(a - b) <= rtol * np.maximum(np.abs(a), np.abs(b))))


def check_scalar(value, name, target_type, *, min_val=None, max_val=None, include_min=True):
    """Check a hyper-parameter's type and range; return it as a Python int or float.

    A NumPy scalar passes as the number it is (``numbers.Integral`` takes
    ``np.int8``), but computing with it keeps its type: ``np.int8(2) * 200``
    raises OverflowError, ``np.float16(1e-6) + 1.0`` rounds in float16. The
    value returned computes as the same Python number would.
    """
    if isinstance(value, bool) or not isinstance(value, target_type):
        kind = "an integer" if target_type is numbers.Integral else "a number"
        raise TypeError(f"{name} must be {kind}, got {value!r} of type {type(value).__name__}.")
    if target_type is not numbers.Integral:
        try:
            finite = np.isfinite(float(value))
        except OverflowError:  # a Python int beyond float64, which a float computation meets
            raise _beyond_float64(name) from None
        if not finite and np.isfinite(value):  # a long double beyond float64's range
            raise ValueError(beyond_float64_range(
                f"{name} is {{}}", value, f"pass {name} within that range"))
        if not finite:
            raise ValueError(f"{name} must be a finite number, got {value!r}.")
    if min_val is not None:
        bad = value < min_val if include_min else value <= min_val
        if bad:
            op = ">=" if include_min else ">"
            raise ValueError(f"{name} must be {op} {min_val}, got {value!r}.")
    if max_val is not None and value > max_val:
        raise ValueError(f"{name} must be <= {max_val}, got {value!r}.")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def close_choice(value, choices):
    """" Did you mean 'x'?" for the choice that ``value`` differs from only in case, or
    the closest one by spelling; "" when none is close, or ``value`` is not a str."""
    if not isinstance(value, str):
        return ""
    by_case = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(value.lower(), list(by_case), n=1)
    return f" Did you mean {by_case[close[0]]!r}?" if close else ""


def check_choice(value, name, choices, meaning=""):
    """``value`` when it is one of the strings ``choices``; else a ValueError naming ``name``,
    the choices (as the container ``choices`` prints), the value, ``meaning`` (what the
    choices do, text that follows a colon) and the close choice."""
    if isinstance(value, str) and value in choices:
        return value
    meaning = f": {meaning}" if meaning else ""
    raise ValueError(
        f"{name} must be one of {choices}, got {value!r}{meaning}.{close_choice(value, choices)}"
    )


def name_max(directory):
    """The longest file name, in bytes, that ``directory`` holds (255 where unknown)."""
    try:
        return os.pathconf(directory, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # no pathconf (Windows), or no answer
        return 255


def check_path_characters(path, what):
    """Raise ValueError naming ``what`` and ``path`` (a str) when it holds a NUL character,
    which no file name holds, or a name longer than its directory holds: Python's own
    errors, "embedded null byte" and "File name too long", name neither (and
    ``os.path.exists`` says such a path does not exist)."""
    if "\x00" in path:
        raise ValueError(
            f"{what} {path!r} holds a NUL character ('\\x00'), which no file name can hold; "
            "check how the path was built."
        )
    directory = ""
    for name in path.split(os.sep):
        size = len(os.fsencode(name))
        if size > 255 and size > name_max(directory or os.curdir):  # 255: every usual limit
            raise ValueError(
                f"{what} {path!r} has a name of {size} bytes, {name[:20] + '...'!r}, longer "
                f"than a file name can be here ({name_max(directory or os.curdir)} bytes); "
                "choose a shorter name."
            )
        directory = os.path.join(directory, name) if directory or name else os.sep
    return path


def as_list(value, name, example, *, ordered=True):
    """``value``, a sequence of entries, as a list; refuse what ``list`` would misread.

    ``list`` takes a dict for its keys, a string for its characters and a set
    in an arbitrary order, and raises its own TypeError for a number. Each of
    these is a TypeError naming ``name``, the value and the fix, ``example``
    (a call that works). ``ordered=False`` accepts sets, where the order does
    not matter.
    """
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        problem = f"one {type(value).__name__}, {value!r}, not a list of them"
    elif isinstance(value, Mapping):
        problem = f"a {type(value).__name__}, whose keys would be taken for the list"
    elif ordered and isinstance(value, (set, frozenset)):
        problem = f"a {type(value).__name__}, whose order is arbitrary"
    elif isinstance(value, np.ndarray) and value.ndim == 0 or not isinstance(value, Iterable):
        problem = f"{value!r} of type {type(value).__name__}"
    else:
        return list(value)
    raise TypeError(f"{name} must be a list, got {problem}. Pass a list: {example}.")


def available_memory(root="/"):
    """Bytes of memory available to a new allocation on this machine (Linux's
    MemAvailable in ``root``/proc/meminfo), or None where there is no such figure."""
    try:
        with open(os.path.join(root, "proc", "meminfo")) as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


# cgroup v1 writes "no limit" as the largest page-aligned counter, just below
# 2**63; a limit this large binds nothing.
_NO_CGROUP_LIMIT = 2**62

# Per cgroup version: where its hierarchy is mounted, how /proc/self/cgroup
# names it, and the files of a group's limit, usage and reclaimable file cache
# (the keys in memory.stat of the page cache's lists, active and inactive: the
# kernel reclaims both before its OOM killer acts, as the machine's
# MemAvailable counts both as available; a memory-mapped file read on every
# pass of a fit sits on the active one).
_CGROUP_MEMORY = (
    ("sys/fs/cgroup", lambda controllers, hierarchy: hierarchy == "0",
     "memory.max", "memory.current", ("active_file", "inactive_file")),
    ("sys/fs/cgroup/memory", lambda controllers, hierarchy: "memory" in controllers.split(","),
     "memory.limit_in_bytes", "memory.usage_in_bytes",
     ("total_active_file", "total_inactive_file")),
)


def _read_int(path):
    """The integer in file ``path``; None for a missing or unreadable file, or "max"."""
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _reclaimable(path, keys):
    """Bytes of the ``keys`` in the memory.stat file ``path``, summed (0 for a key that is
    not there)."""
    total = 0
    try:
        with open(path) as f:
            for line in f:
                name, _, value = line.partition(" ")
                if name in keys:
                    total += int(value)
    except (OSError, ValueError):
        pass
    return total


def container_memory(root="/"):
    """The memory limit of this process's control groups (cgroups) that leaves the least.

    A container (Docker, Kubernetes, a CI runner, a Slurm job) limits its
    processes' memory by a cgroup: v2's ``memory.max``, v1's
    ``memory.limit_in_bytes``, for the process's own group (read from
    ``root``/proc/self/cgroup) and each group above it, since a parent's
    limit binds its children too. What a group leaves is its limit less its
    usage, the page cache that the kernel reclaims before it ends a process (the
    active and inactive file pages) not counted as used.

    Returns
    -------
    (available, limit, path) or None
        Bytes left under the binding limit, the limit in bytes, and the path
        of the file it was read from; None where no group has a limit, or its
        files are missing or unreadable (not Linux, no cgroup mounted).
    """
    try:
        with open(os.path.join(root, "proc", "self", "cgroup")) as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    tightest = None
    for line in lines:
        hierarchy, _, rest = line.partition(":")
        controllers, _, group = rest.partition(":")
        for mount, names, limit_file, usage_file, cache_keys in _CGROUP_MEMORY:
            if not names(controllers, hierarchy):
                continue
            parts = [part for part in group.split("/") if part not in ("", ".")]
            if ".." in parts:  # a group outside this cgroup namespace: only its root is seen
                parts = []
            # A container often sees its own group mounted as the hierarchy's root,
            # where /proc/self/cgroup names the host's path: directories missing.
            for depth in range(len(parts), -1, -1):
                directory = os.path.join(root, mount, *parts[:depth])
                limit = _read_int(os.path.join(directory, limit_file))
                usage = _read_int(os.path.join(directory, usage_file))
                if limit is None or limit >= _NO_CGROUP_LIMIT or usage is None:
                    continue
                used = usage - _reclaimable(os.path.join(directory, "memory.stat"), cache_keys)
                available = max(0, limit - max(0, used))
                if tightest is None or available < tightest[0]:
                    tightest = (available, limit, os.path.join(directory, limit_file))
    return tightest


def check_memory(n_bytes, what, fix, error=ValueError):
    """Refuse to allocate ``n_bytes`` (an int) for ``what`` when they exceed the memory.

    Linux does not refuse an allocation beyond the memory available: its OOM
    killer ends the process without a word once the pages are touched, and
    a size beyond the largest array (``np.intp``) is NumPy's OverflowError.
    The memory is the least of what binds: the machine's (MemAvailable), and
    what the limit of the process's container leaves (its cgroup's, see
    :func:`container_memory`), where the OOM killer acts at the container's
    limit whatever the machine has free. ``error`` (the exception class) says
    ``what`` needs about how much, against which memory, and ``fix``.
    """
    host, container = available_memory(), container_memory()
    if container is not None and (host is None or container[0] < host):
        available, limit, where = container
        against = (
            f"the {available / 2**30:,.1f} GiB left under the memory limit of this process's "
            f"container ({limit / 2**30:,.1f} GiB, {where}; beyond it the process is killed "
            f"without a message): raise the container's memory limit, or "
        )
    elif host is not None:
        available, against = host, f"the {host / 2**30:,.1f} GiB available on this machine: "
    else:
        available, against = np.iinfo(np.intp).max, "the largest array NumPy can allocate: "
    if n_bytes > available:
        raise error(f"{what} need about {n_bytes / 2**30:,.1f} GiB of memory, more than {against}{fix}")


# The generators that fastem calls are drawing from, by id: [lock, calls holding or waiting].
_DRAWING = {}
_DRAWING_GUARD = threading.Lock()


def _drawing_locks_of_a_forked_child():
    """Give a forked child no lock of a draw: the parent thread that held it does not
    exist in the child, which would wait for it forever."""
    global _DRAWING_GUARD
    _DRAWING_GUARD = threading.Lock()
    _DRAWING.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_drawing_locks_of_a_forked_child)


@contextlib.contextmanager
def drawing_from(rng):
    """Hold the generator ``rng`` for the draws of one call.

    A ``random_state`` given as a ``RandomState``, or None (NumPy's global
    generator), is shared: two calls drawing from it in two threads at once
    would interleave their draws, each getting points that no call made one at
    a time gets. A call holding ``rng`` makes another fastem call that draws
    from it wait, so that concurrent calls draw what they would draw one at a
    time, in some order. A generator seeded from an int for one call is
    uncontended.
    """
    key = id(rng)
    with _DRAWING_GUARD:
        entry = _DRAWING.setdefault(key, [threading.RLock(), 0])
        entry[1] += 1
    try:
        with entry[0]:
            yield rng
    finally:
        with _DRAWING_GUARD:
            entry[1] -= 1
            if not entry[1] and _DRAWING.get(key) is entry:
                del _DRAWING[key]


def check_random_state(seed):
    """Turn ``seed`` into a ``numpy.random.RandomState``, as scikit-learn does."""
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if not 0 <= seed < 2**32:
            raise ValueError(
                f"random_state must be between 0 and 2**32 - 1 when it is an int, got "
                f"{seed}. Pass a seed in that range, e.g. random_state % 2**32."
            )
        return np.random.RandomState(int(seed))
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(
        f"random_state must be None, an int or a numpy.random.RandomState, got {seed!r}."
    )
