"""Data sources: where the points of a data pass come from.

Every pass of the fused kernel over data, whether an E-step in ``fit``,
``summarize``, ``score`` or a prediction, goes through a *data source*. A
source cuts the data into chunks, runs a function on each chunk and either sums
the float64 vectors it returns, in a fixed order (:meth:`reduce`), or collects
per-row outputs (:meth:`map`). The estimator never sees where the data live:

- :class:`ArraySource`, for a 2-D array in memory or on disk
  (``np.load(path, mmap_mode='r')``, :class:`numpy.memmap`). The array is
  validated without a copy and streamed through the kernel in chunks of at most
  :data:`CHUNK_BYTES` bytes, so a fit of a memory-mapped file needs anonymous
  memory for one chunk's scratch, not for the data.
- :class:`ChunkedSource`, for a re-iterable of chunks such as :class:`Chunks`:
  one validation pass checks each chunk, and every later pass streams the
  chunks again in the same order.
- ``fastem._dask.DaskSource``, for a ``dask.array.Array``: the kernel runs on
  the workers block by block and the statistics are tree-reduced.

The chunked-data protocol
-------------------------
``fit`` and the other methods accept any object that is iterable, that is not
an array, list or tuple, and whose iteration can be repeated (``iter(obj)``
starts from the beginning each time; a generator cannot, and is rejected). Each
item is either a 2-D array-like chunk of shape (n_rows, n_features) or a pair
``(chunk, sample_weight)`` with ``sample_weight`` of shape (n_rows,) or None.
:class:`Chunks` is the ready-made implementation for a list of arrays or
``.npy`` files.

Column names
------------
Every source has ``feature_names_in``: the column names of the data (an
object array of str), or None. They come from a DataFrame or Arrow table
(:func:`fastem._validation.feature_names_of`), from every chunk of chunked
data, which must all have the same names in the same order, and from a
Dask DataFrame. The estimators record them at fit and check them after.
"""

import contextlib
import functools
import math
import weakref
import os
import re
import sys
import tokenize
from collections.abc import Iterator

import numpy as np

from ._config import BLOCK_SIZE
from .exceptions import warn_at_caller
from ._init import sample_index, subsample
from ._tables import (
    TABLE_EXTENSIONS, binary_format, check_encoding, names_in_row, parquet_index_problem,
    place_of, read_table, spells_names, starts_as_text, unnamed_first_row,
)
from ._validation import (
    EntryError, as_list, check_array, check_memory, check_not_mapping, check_path_characters,
    check_range, check_sample_weight, check_total_weight, check_weight_labels, close_choice,
    column_selection,
    FLOAT32_MAX, NAMES_SHOWN, beyond_float32, dtype_text, feature_names_of, first_entry,
    name_differences, name_key, names_written_otherwise, pandas_index_names, shown_names,
    without_pandas_index,
)

__all__ = [
    "CHUNK_BYTES",
    "Chunks",
    "ArraySource",
    "ChunkedSource",
    "as_source",
    "is_dask_array",
    "is_dask_dataframe",
]

# Largest slice of an array, in bytes, that one kernel call reads. The kernel's
# own scratch does not grow with it; what does is an output that the caller did
# not provide (e.g. the labels of one chunk of a chunked source). Each call
# costs a parallel launch and a reduction: 4 calls over 128 MB of data took
# 0.7 ms (5%) longer than one in the same process, hence slices this large.
CHUNK_BYTES = 256 * 2**20


def chunk_rows(n_features, itemsize):
    """Rows per kernel call: ``CHUNK_BYTES`` of data, a whole number of blocks."""
    rows = CHUNK_BYTES // (n_features * itemsize)
    return max(BLOCK_SIZE, rows - rows % BLOCK_SIZE)


def is_dask_array(X):
    """True for a ``dask.array.Array``, decided without importing dask."""
    cls = type(X)
    return cls.__name__ == "Array" and cls.__module__.split(".")[:2] == ["dask", "array"]


#: The command line's --header words, and the ``header`` of :class:`Chunks` each stands for.
HEADER_WORDS = {"auto": None, "yes": True, "no": False}


def _is_of_dask_dataframe(X, name):
    """Whether ``X``'s class is ``dask.dataframe``'s ``name``, decided without importing dask."""
    cls = type(X)
    return cls.__name__ == name and cls.__module__.split(".")[:2] == ["dask", "dataframe"]


def is_dask_dataframe(X):
    """True for a ``dask.dataframe.DataFrame``, decided without importing dask."""
    return _is_of_dask_dataframe(X, "DataFrame")


def is_dask_series(X):
    """True for a ``dask.dataframe.Series`` (a Dask DataFrame's column)."""
    return _is_of_dask_dataframe(X, "Series")


def _is_chunked(X):
    if isinstance(X, (Chunks, ChunkedSource)):
        return True
    if isinstance(X, (list, tuple, str, bytes, np.ndarray)) or hasattr(X, "__array__"):
        return False
    return hasattr(X, "__iter__") and not hasattr(X, "shape")


def as_source(
    X, sample_weight=None, *, check_data=None, anchors=None, allow_nan=False, nan_advice=None,
    allow_empty=False, squares=True,
):
    """Return the data source for ``X``: an array, a chunked source or a Dask array.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), re-iterable of chunks, or dask array
    sample_weight : array-like of shape (n_samples,), default=None
        Not allowed for chunked data, whose chunks carry their own weights.
    check_data : callable, optional
        Called on each validated chunk; raises for data outside a family's domain.
    anchors : ndarray of shape (m, n_features), optional
        Points that locate a fitted model; they count in the range check
        (see :func:`fastem._validation.check_range`).
    allow_nan : bool, default=False
        Keep NaN entries as missing values (infinities are refused either way).
    nan_advice : str, optional
        Without ``allow_nan``, what the error for NaN advises (the
        estimator's option for missing values, or where to find one); see
        :func:`fastem._validation.non_finite_message`.
    allow_empty : bool, default=False
        Accept data of no rows, or of weights that are all 0 (for
        ``summarize``: its statistics of such data are 0, a term that adds
        nothing to a sum). Otherwise they are refused: there is nothing to fit.
    squares : bool or None, default=True
        Whether the model computes squared distances of the data (Gaussian
        families), whose range check then refuses ranges that would overflow
        when squared; None for a pass whose range has no limit (the scoring
        by an exponential or Poisson mixture); see
        :func:`fastem._validation.check_range`.
    """
    if isinstance(X, (ArraySource, ChunkedSource)) or type(X).__name__ == "DaskSource":
        return X
    # Read as chunks, a dict's keys were paths.
    check_not_mapping(X, "X", "X must be an array of shape (n_samples, n_features) or chunked data")
    if is_dask_array(X) or is_dask_dataframe(X):
        from ._dask import DaskSource

        return DaskSource(
            X, sample_weight, check_data=check_data, anchors=anchors, allow_nan=allow_nan,
            nan_advice=nan_advice, allow_empty=allow_empty, squares=squares,
        )
    if _is_chunked(X):
        if sample_weight is not None:
            raise ValueError(
                "sample_weight cannot be given separately for chunked data; yield "
                "(chunk, weights) pairs from the source instead, e.g. "
                "Chunks(arrays, sample_weights=weights)."
            )
        return ChunkedSource(
            X, check_data=check_data, anchors=anchors, allow_nan=allow_nan,
            nan_advice=nan_advice, allow_empty=allow_empty, squares=squares,
        )
    return ArraySource(
        X, sample_weight, check_data=check_data, anchors=anchors, allow_nan=allow_nan,
        nan_advice=nan_advice, allow_empty=allow_empty, squares=squares,
    )


def mapped_files(X):
    """``[(array, path)]``: each file memory-mapped under ``X``, with an array over its whole map.

    ``X`` is an array, a pandas DataFrame or Series (each column is looked
    at: ``pd.DataFrame(np.memmap(...), copy=False)`` keeps the map), or
    anything else (no file). The map is found through ``.base`` (see
    :func:`fastem._sigbus.mapping_root`): an np.memmap names its file; an
    ``mmap.mmap`` wrapped by ``np.frombuffer`` does not, so its file is read
    from ``/proc/self/maps``, on Linux only (elsewhere it is not found).
    """
    from ._sigbus import mapped_region, mapping_root

    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(X, (pd.DataFrame, pd.Series)):
        frame = X.to_frame() if isinstance(X, pd.Series) else X
        # The frame's blocks, one per dtype: a column at a time cost 45 ms at 2,000
        # columns, every call (pandas' block manager, where it has one).
        blocks = getattr(getattr(frame, "_mgr", None), "blocks", None)
        if blocks is not None:
            arrays = [b.values for b in blocks if isinstance(b.values, np.ndarray)]
        else:
            arrays = [frame.iloc[:, j].to_numpy() for j in range(frame.shape[1])]
    else:
        arrays = [X]
    found = {}
    for array in arrays:
        root = mapping_root(array)
        if root is None or id(root) in found:
            continue
        if isinstance(root, np.memmap):
            whole, path = root, root.filename
        else:  # an mmap.mmap, open: np.frombuffer refuses a closed one
            whole = np.frombuffer(root, dtype=np.uint8)
            region = mapped_region(whole.ctypes.data)
            path = None if region is None else region[3]
        if path is not None:
            found[id(root)] = (whole, os.fspath(path))
    return list(found.values())


def backing_file(array):
    """The path of the file that ``array`` is memory-mapped from, or None.

    For a pandas frame, the first file of :func:`mapped_files`.
    """
    files = mapped_files(array)
    return files[0][1] if files else None


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def same_array(a, b):
    """Whether ``a`` and ``b`` are views of the same elements in the same places: the same
    address, shape, strides and dtype."""
    return (a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
            and a.shape == b.shape and a.strides == b.strides and a.dtype == b.dtype)


# What an output written in place (``in_place``, see ArraySource.map) may be.
IN_PLACE_ADVICE = (
    " (out may be X itself only where X is a C-contiguous float32 or float64 array in memory, "
    "used as it is: not a part of it, a DataFrame, an array of another dtype, chunked data or "
    "a memory-mapped file)"
)


def check_output_is_not_input(out, X, what="the input data", advice=""):
    """Refuse an output array that shares memory or a file with the input ``X``.

    Writing per-row results into the data being read would destroy the data
    and make the rows read later garbage. ``advice`` ends the message.
    """
    if out is None:
        return
    if np.may_share_memory(out, X):
        raise ValueError(
            f"out shares memory with {what}; writing the results there would overwrite "
            f"the data being read{advice}. Pass a separate array, e.g. a new np.memmap."
        )
    in_file = backing_file(X)
    if in_file is not None:
        check_output_is_not_a_file(out, in_file, what)


def check_output_is_not_a_file(out, path, what):
    """Refuse an output array memory-mapped from the file ``path`` that ``what`` is read from
    (as :func:`check_output_is_not_input`, before the file is opened)."""
    out_file = backing_file(out)
    if out_file is not None and _same_file(out_file, os.fsdecode(path)):
        raise ValueError(
            f"out is memory-mapped from {out_file!r}, the file that {what} is read from; "
            "writing the results there would destroy the data. Write them to another file."
        )


class FileSignature:
    """Identity, size and modification time of a data file, to notice changes.

    A memory-mapped file that another program rewrites between two reads
    would give mixed data, and one that is truncated would kill the process
    with SIGBUS at the next read. Checking the signature before and after
    each read of a chunk (see :func:`reading`) turns both into an error that
    names the file; a truncation during a read is caught by
    :mod:`fastem._sigbus`.
    """

    def __init__(self, path):
        self.path = path
        self.value = self._read()

    def _read(self):
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)

    def unchanged(self):
        """Whether the file still has the signature taken when this was made."""
        return self._read() == self.value

    def check(self):
        if not self.unchanged():
            raise ValueError(
                f"the data file {self.path!r} was changed, replaced or truncated while fastem "
                "was reading it (its size, modification time or identity differs from "
                "when it was validated). Do not modify a data file during a fit or a "
                "prediction; rerun on the final file."
            )


def _signature(X):
    path = backing_file(X)
    return None if path is None else FileSignature(path)


# What :func:`reading` does for data that came from no file (reusable: it holds nothing).
_NO_FILES = contextlib.nullcontext()


@contextlib.contextmanager
def reading(X, signature):
    """Context of one read of ``X``; for a memory-mapped file, checks that it stays the same.

    ``signature`` (a :class:`FileSignature` of the file ``X`` comes from, or
    None for data that never came from a file) is checked before and after
    the read; when ``X`` (an array, or a pandas frame's columns) is
    memory-mapped, the read runs under :class:`fastem._sigbus.guard`, so a
    file truncated during the read gives a ``ValueError`` naming it instead of
    killing the process with SIGBUS.
    """
    if signature is None:
        yield
        return
    from ._sigbus import guard

    signature.check()
    # each map under X, whole: NumPy or pandas may read any of it (a frame's columns)
    with contextlib.ExitStack() as guards:
        for array, path in mapped_files(X):
            guards.enter_context(guard(array, path))
        yield
    signature.check()


@contextlib.contextmanager
def writing(files):
    """Context of one write into an ``out=`` array memory-mapped from ``files`` (see
    :func:`mapped_files`), under :class:`fastem._sigbus.guard`.

    A file truncated by another program before or during the write would
    kill the process with SIGBUS at the first write past its new end; the
    guard turns that into a ``ValueError`` naming the file. No signature is
    checked: fastem's own writes change the file's modification time.
    """
    from ._sigbus import guard

    with contextlib.ExitStack() as guards:
        for array, path in files:
            guards.enter_context(guard(array, path, writing=True))
        yield


def _output_shape(n_samples, n_columns):
    """The shape of per-row outputs: ``(n_samples,)`` for one value per row (``n_columns``
    None), else ``(n_samples, n_columns)``."""
    return (n_samples,) if n_columns is None else (n_samples, n_columns)


def check_output_memory(shape, dtype, what, fix="pass {out} to write them to a file instead"):
    """Refuse, before any pass, per-row outputs of ``shape`` and ``dtype`` for ``what``
    that need more memory than there is (:func:`~fastem._validation.check_memory`): a
    prediction of memory-mapped data larger than memory would fill it and be killed.
    The ``fix`` named writes them to a memory-mapped file: ``{out}`` in it is the
    ``out=`` argument that does. Outputs below ``CHUNK_BYTES`` are not checked: every
    pass takes that much scratch."""
    dtype = np.dtype(dtype)
    n_bytes = math.prod(map(int, shape)) * dtype.itemsize  # exact; np.prod costs 3 us a call
    if n_bytes > CHUNK_BYTES:
        check_memory(
            n_bytes, f"the results for {what}, of shape {shape} and dtype {dtype.name},",
            fix.format(out=f"out=np.lib.format.open_memmap(path, mode='w+', "
                           f"dtype={dtype.name!r}, shape={shape})"),
        )


def _output_array(out, shape, dtype, what):
    if out is None:
        check_output_memory(shape, dtype, what)
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray) or out.shape != shape or out.dtype != dtype:
        got = f"{type(out).__name__} of shape {getattr(out, 'shape', None)}, dtype {getattr(out, 'dtype', None)}"
        raise ValueError(
            f"out must be an ndarray (e.g. a np.memmap) of shape {shape} and dtype "
            f"{np.dtype(dtype)} for {what}, got {got}. Create one with "
            f"np.lib.format.open_memmap(path, mode='w+', dtype={np.dtype(dtype).name!r}, "
            f"shape={shape})."
        )
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError("out must be C-contiguous and writeable, e.g. opened with mode='w+'.")
    return out


def kept_once(source, name, compute):
    """``compute()`` the first time for ``source`` and ``name``, its kept result afterwards.

    What the ``scan_once`` methods of the data sources keep: a source lives
    for one call of ``fit``, ``partial_fit`` or ``summarize``, and so does
    what is kept with it.
    """
    kept = source.__dict__.setdefault("_scans", {})
    if name not in kept:
        kept[name] = compute()
    return kept[name]


class ArraySource:
    """A 2-D array in memory or memory-mapped, streamed in row chunks.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Validated by :func:`fastem._validation.check_array`: a C-contiguous
        float32/float64 array (memory-mapped or read-only included) is used
        as it is, without a copy.
    sample_weight : array-like of shape (n_samples,), default=None
    check_data : callable, optional
    anchors : ndarray of shape (m, n_features), optional
    allow_nan : bool, default=False
        Keep NaN entries as missing values.
    nan_advice : str, optional
        What the error for NaN advises, without ``allow_nan``.
    allow_empty : bool, default=False
        Accept no rows, or weights that are all 0 (see :func:`as_source`).
    """

    feature_names_in = None
    first_row = 0  # of these rows in the whole data (see map)
    _index_names = ()  # of the pandas index that X carried beside its columns

    def __init__(self, X, sample_weight=None, *, check_data=None, anchors=None, allow_nan=False,
                 nan_advice=None, allow_empty=False, squares=True):
        self._index_names = pandas_index_names(X)
        self._arrow = hasattr(X, "column_names")
        X = without_pandas_index(X)
        self.feature_names_in = feature_names_of(X)
        self.column_selection = column_selection(X)
        signature = _signature(X)
        with reading(X, signature):
            self.X = check_array(X, anchors=anchors, allow_nan=allow_nan, nan_advice=nan_advice,
                                 min_samples=0 if allow_empty else 1, squares=squares)
            if check_data is not None:
                try:
                    check_data(self.X)
                except EntryError as exc:  # the feature of its figures named by column
                    raise exc.named(self.feature_names_in) from None
        # Only an array still read from the file (not a converted copy) needs watching.
        self.signature = signature if backing_file(self.X) is not None else None
        # Weights of a float64 file stay memory-mapped: the kernels read them every pass.
        check_weight_labels(X, sample_weight)
        w_signature = _signature(sample_weight)
        with reading(sample_weight, w_signature):
            self.sample_weight = check_sample_weight(
                sample_weight, self.X.shape[0], allow_zero_sum=allow_empty)
        self.w_signature = w_signature if backing_file(self.sample_weight) is not None else None
        self.n_samples, self.n_features = self.X.shape
        self.dtype = self.X.dtype
        self.n_positive = (
            np.count_nonzero(self.sample_weight) if self.sample_weight.shape[0] else self.n_samples
        )

    def index_note(self, missing):
        """Where X held one of the model's ``missing`` names as its pandas index, not as a
        column: a sentence that says so, with the fix; else '' (see
        :func:`fastem._validation.check_feature_names`)."""
        name = next((name for name in missing if name in self._index_names), None)
        if name is None:
            return ""
        if self._arrow:
            return (f"column {name!r} of the Arrow table X holds the index of the pandas "
                    "DataFrame it was made from (its pandas metadata says so), which is read as "
                    "row labels, not as a column of data; make it a column to select it: "
                    "pyarrow.Table.from_pandas(df.reset_index())")
        return (f"column {name!r} is the index of the pandas DataFrame X, which is read as row "
                "labels, not as a column of data; make it a column to select it: "
                "X.reset_index()")

    def _ranges(self):
        """``[(start, stop), ...]`` of the chunks, in row order: kept with the source for the
        passes of its fit, made again only where ``CHUNK_BYTES`` has changed."""
        kept = self.__dict__.get("_kept_ranges")
        if kept is None or kept[0] != CHUNK_BYTES:
            step = chunk_rows(self.n_features, self.dtype.itemsize)
            kept = self._kept_ranges = (CHUNK_BYTES, [
                (start, min(start + step, self.n_samples))
                for start in range(0, self.n_samples, step)
            ])
        return kept[1]

    def _weights(self, start, stop):
        w = self.sample_weight
        return w[start:stop] if w.shape[0] else w

    def _reading(self):
        """Context of one read of the data and the weights (see :func:`reading`): none for
        data that came from no file, read at every pass of a fit."""
        if self.signature is None and self.w_signature is None:
            return _NO_FILES
        return self._reading_files()

    @contextlib.contextmanager
    def _reading_files(self):
        with reading(self.X, self.signature), reading(self.sample_weight, self.w_signature):
            yield

    def reduce(self, fn):
        """Sum over chunks, in row order, of ``fn(chunk, chunk_weights)`` (float64 vectors).

        Data of no rows (see ``allow_empty``) are one chunk of no rows: the sum
        is what the kernels give for it, zeros of the right length.
        """
        total = None
        for start, stop in self._ranges() or [(0, 0)]:
            with self._reading():
                part = fn(self.X[start:stop], self._weights(start, stop))
            total = part if total is None else total + part
        return total

    def scan_once(self, name, scan, merge):
        """``merge([scan(chunk), ...])`` over the chunks in row order, computed once per source.

        For what stays the same over every pass of a fit (e.g. the patterns of
        missing entries): the result is kept with this source, which lives
        for one call of ``fit``, ``partial_fit`` or ``summarize``, under
        ``name``.
        """
        return kept_once(self, name, lambda: merge(self._scan(scan)))

    def _scan(self, scan):
        """``[scan(chunk), ...]`` over the chunks in row order."""
        parts = []
        for start, stop in self._ranges():
            with reading(self.X, self.signature):
                parts.append(scan(self.X[start:stop]))
        return parts

    def check_outputs(self, n_columns, dtype, fix):
        """Refuse, before a fit that :meth:`map` follows, per-row outputs (``n_columns`` and
        ``dtype`` as for it) that the memory cannot hold, naming ``fix`` (see
        :func:`check_output_memory`)."""
        shape = _output_shape(self.n_samples, n_columns)
        check_output_memory(shape, dtype, "this data", fix)

    def map(self, fn, n_columns, dtype, out=None, in_place=False):
        """Fill per-row outputs chunk by chunk: ``fn(chunk, out_chunk, first_row)``.

        ``first_row`` is the chunk's first row in the whole data. ``n_columns``
        is None for one value per row. Returns ``out`` (allocated when not
        given). With ``in_place``, for an ``fn`` that reads each row of its
        chunk before it writes that row of ``out`` and reads no other
        (``impute``), ``out`` may be the array read itself: an array in memory
        (a file being read is watched for changes), used without conversion.
        """
        shape = _output_shape(self.n_samples, n_columns)
        out = _output_array(out, shape, dtype, "this data")
        if not (in_place and same_array(out, self.X) and backing_file(self.X) is None):
            check_output_is_not_input(out, self.X, "X", IN_PLACE_ADVICE if in_place else "")
        self._fill(fn, out)
        return out

    def _fill(self, fn, out):
        """Fill ``out``, the per-row outputs of :meth:`map`, chunk by chunk."""
        out_files = mapped_files(out)
        for start, stop in self._ranges():
            with reading(self.X, self.signature), writing(out_files):
                fn(self.X[start:stop], out[start:stop], self.first_row + start)

    def subsample(self, random_state, size):
        """(points, weights) of a uniform subsample of at most ``size`` rows, float64."""
        with self._reading():
            return subsample(self.X, self.sample_weight, random_state, size)


_READ_MODES = {"readonly": "r", "copyonwrite": "c"}


def read_npy_header(f):
    """``(shape, dtype)`` from the header of the ``.npy`` file object ``f``, reading no data.

    Raises what NumPy's format readers raise on a damaged header (ValueError,
    OSError, EOFError, SyntaxError), and a ValueError where they let out another
    error: ``tokenize.TokenError`` of their filter of old headers (an unclosed
    bracket, ``'shape': (6, 2 }``), a ``TypeError`` of sorting keys that are not
    all strings (``b'shape'``); callers name the file in their message.
    """
    version = np.lib.format.read_magic(f)
    read_header = (
        np.lib.format.read_array_header_1_0
        if version == (1, 0)
        else np.lib.format.read_array_header_2_0
    )
    try:
        shape, _, dtype = read_header(f)
    except (tokenize.TokenError, TypeError) as exc:
        raise ValueError(f"Cannot parse header: {exc.args[0]}") from None
    return shape, dtype


def load_npy(path, mmap_mode="r"):
    """Open a ``.npy`` file read-only, with errors that name it.

    A FIFO, device or directory is refused without blocking, a 0-byte or
    truncated file and a header that promises more data than the file holds
    give one ``ValueError`` naming the file.
    """
    from .io import open_regular_file

    path = os.fsdecode(path)
    with open_regular_file(path, "data file", "Pass a .npy file written by numpy.save.") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            raise ValueError(
                f"data file {path!r} is empty (0 bytes), not a .npy file. Write it with "
                "numpy.save, or remove it from the list of chunks."
            )
        try:
            shape, dtype = read_npy_header(f)
        except (ValueError, OSError, EOFError, SyntaxError) as exc:
            f.seek(0)
            raise ValueError(_not_npy(path, f.read(1 << 12), exc)) from None
        offset = f.tell()
        needed = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if dtype.hasobject:
            raise ValueError(
                f"data file {path!r} holds Python objects ({dtype_text(dtype)}), not numbers. "
                "Save a numeric array."
            )
        if size < needed:
            raise ValueError(
                f"data file {path!r} is truncated or its header is wrong: the header "
                f"promises an array of shape {shape} and {dtype_text(dtype)} ({needed} bytes "
                f"with the header), but the file has {size} bytes. Write it again with "
                "numpy.save."
            )
        try:
            if mmap_mode is None:
                f.seek(0)
                return np.lib.format.read_array(f, allow_pickle=False)
            return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:  # e.g. truncated since the check above
            raise ValueError(
                f"data file {path!r} could not be read ({' '.join(str(exc).split())}). "
                "Check that no other program is writing it, or write it again with numpy.save."
            ) from None


def _not_npy(path, head, exc):
    """The message for the file ``path``, starting with the bytes ``head``, whose .npy header
    NumPy could not read (``exc``): what the file is instead, when its first bytes say so (a
    compressed file, an archive, a table, text), and the fix."""
    known = binary_format(head)
    large = re.search(r"Header info length \((\d+)\) is large", str(exc))
    if large is not None:  # numpy.load's limit, which only records of many fields reach
        return (f"data file {path!r} has a .npy header of {int(large.group(1)):,} bytes, more "
                "than NumPy reads from a file it does not trust: the header of a structured "
                "array (records) of many fields, which are not a 2-D array of numbers. Save "
                "its fields as the columns of a 2-D array: np.save(path, "
                "numpy.lib.recfunctions.structured_to_unstructured(X)).")
    if known is not None and known[0] != "NumPy .npy":
        return f"data file {path!r} is a {known[0]} file, not a .npy file; {known[1]}."
    if known is None and starts_as_text(head):  # NumPy's magic reads as Windows-1252 text
        table = " or ".join(TABLE_EXTENSIONS)
        return (f"data file {path!r} holds text, not a .npy file; a table of numbers is read "
                f"from files named {table} (give a CSV file the .csv extension; a tab or "
                "semicolon delimiter is found), or write the array with numpy.save.")
    return (f"data file {path!r} is not a readable .npy file ({' '.join(str(exc).split())}). "
            "Write it with numpy.save.")


class Chunks:
    """Data that come as a sequence of 2-D chunks, in memory or in files.

    Pass an instance to ``fit``, ``summarize``, ``score``, ``predict`` and the
    other methods in place of an array. Files are read when a pass reaches
    them, one at a time: ``.npy`` files memory-mapped, ``.csv`` and
    ``.parquet`` files (parts of a table, as Spark or Dask write them) read
    whole into memory, on every pass. Column names of DataFrames, Arrow
    tables, CSV headers and parquet files become the model's
    ``feature_names_in_``; every chunk must have the same ones.

    Parameters
    ----------
    chunks : sequence of array-like or path
        Each entry is a 2-D array (a DataFrame or an Arrow table too) of
        shape (n_rows_i, n_features), or the path of a ``.npy``, ``.csv`` or
        ``.parquet`` file holding one (``.csv`` files are read as the command
        line reads them, see :mod:`fastem._tables`; a CSV file is parsed again
        on every pass, so large ones are better converted to ``.npy`` or
        ``.parquet``). All chunks must have the same number of features and,
        after conversion, the same dtype.
    sample_weights : sequence of array-like, path or None, default=None
        One entry per chunk: the weights of its rows, shape (n_rows_i,), an
        ``.npy`` file holding them, or None for unit weights.
    mmap_mode : {'r', 'c', None}, default='r'
        How ``.npy`` files are opened (see :func:`numpy.load`): memory-mapped
        read-only ('r'), memory-mapped copy-on-write ('c'), or read into
        memory one file at a time (None). A file is never written: modes that
        write ('r+', 'w+') are refused.
    columns : sequence of str or int, optional
        The columns to read from ``.csv`` and ``.parquet`` files, in this
        order, by name or 0-based index (default: all). Only for chunks that
        are such files. Columns chosen by index in files without names are
        recorded by a fit, as ``fastem fit --columns`` records them: a saved
        model names its features by them (x2, x1) and the command line reads
        those columns of a file; a negative index must pick the same column
        of every file.
    header : bool or None, default=None
        Whether the first row of each ``.csv`` file holds the column names:
        None decides from the row (names if a field is not a number, or if
        it quotes names that are numbers above rows that it does not; a later
        file whose first row spells the names of the first file read with a
        header reads it as its header), True and False say so, e.g. True for
        names that are numbers (wavelengths, years). A first row of numbers
        that looks like such names but is read as data (``header=None``)
        gives a ``UserWarning`` naming the fix.
    encoding : str or None, default=None
        The text encoding of the ``.csv`` files, a name that
        :func:`codecs.lookup` knows ('cp1251', 'shift_jis', 'gb18030',
        'big5', 'euc_kr', ...), as pandas' ``encoding``: it overrides
        detection, and a byte that is not text in it is an error naming its
        line. None detects it: a byte-order mark (UTF-8, UTF-16, UTF-32),
        UTF-16 or UTF-32 without one, UTF-8, else Windows-1252 (Latin-1
        where a byte is not Windows-1252), a guess that a ``UserWarning``
        names when column names (or row labels) are read with it.

    Raises
    ------
    TypeError
        For ``chunks``, ``columns`` or ``sample_weights`` that are not a list:
        one array, DataFrame or path, a dict (whose keys ``list`` would take),
        a set (in an arbitrary order), a string or a number; for an entry of
        ``chunks`` or ``sample_weights`` that is a one-shot iterator (a
        generator), which a second pass would find empty; for an entry of
        ``chunks`` that is a pair (chunk, weights), a tuple or a list, whose weights go in
        ``sample_weights``; for an entry of
        ``columns`` that is neither a name (str) nor an index (int), such as
        a bool, a float or None.
    ValueError
        For ``columns`` with chunks that are not ``.csv`` or ``.parquet``
        files, ``header`` or ``encoding`` with none that is a ``.csv`` file, an
        ``encoding`` that Python does not know or that is no text encoding; when a pass
        reads a file: for a file that cannot be read, a missing or
        non-numeric value, a column not found (each message names the file
        and the place), or negative ``columns`` that pick other columns of
        files of other widths.

    Examples
    --------
    >>> data = fastem.Chunks(["part-0.npy", "part-1.npy", "part-2.npy"])
    >>> model = fastem.GaussianMixture(4).fit(data)
    >>> labels = model.predict(data)  # a list: one array per chunk
    >>> parts = fastem.Chunks(sorted(glob.glob("table/part-*.parquet")), columns=["x", "y"])
    """

    def __init__(self, chunks, sample_weights=None, *, mmap_mode="r", columns=None, header=None,
                 encoding=None):
        # One array or table of rows (NumPy, pandas, Arrow, Dask), which list() would
        # take apart into rows or columns.
        if _is_path(chunks) or hasattr(chunks, "shape") and len(chunks.shape) <= 2:
            shown = repr(os.fsdecode(chunks)) if _is_path(chunks) else f"of shape {chunks.shape}"
            raise TypeError(
                f"Chunks takes a list of chunks, got one {type(chunks).__name__} {shown}. Pass "
                "a list, e.g. Chunks([path]) or Chunks(sorted(glob.glob('parts/*.npy'))); one "
                "array can go to fit directly, one .npy file as np.load(path, mmap_mode='r')."
            )
        self.chunks = as_list(chunks, "chunks", "Chunks(sorted(glob.glob('parts/*.npy')))")
        self.columns = None if columns is None else as_list(
            columns, "columns", "columns=['x', 'y'] (names or 0-based indices, in order)"
        )
        if self.columns is not None:
            for token in self.columns:
                if not isinstance(token, (str, int, np.integer)) or isinstance(token, bool):
                    raise TypeError(
                        f"columns entries must be column names (str) or 0-based indices "
                        f"(int), got {token!r} of type {type(token).__name__} in "
                        f"columns={self.columns!r}. Pass names or whole numbers, e.g. "
                        "columns=['x', 'y'] or columns=[0, 2]."
                    )
            for i, chunk in enumerate(self.chunks):
                if _table_path(chunk) is None:
                    raise ValueError(
                        f"columns={self.columns!r} selects columns of .csv and .parquet "
                        f"files, but chunk {i} is {_describe(chunk)}; select the columns of "
                        "arrays and .npy files before, e.g. X[:, [0, 2]], or leave out columns."
                    )
        if sample_weights is not None:
            sample_weights = as_list(
                sample_weights, "sample_weights", "one array, .npy path or None per chunk, in the "
                "chunks' order"
            )
            if len(sample_weights) != len(self.chunks):
                raise ValueError(
                    f"sample_weights has {len(sample_weights)} entries but there are "
                    f"{len(self.chunks)} chunks; give one entry (or None) per chunk."
                )
        self.sample_weights = sample_weights
        for i, chunk in enumerate(self.chunks):
            if _is_pair(chunk):
                raise TypeError(
                    f"chunk {i} is a pair (chunk, weights), but Chunks takes the weights "
                    "separately, one entry per chunk: Chunks(chunks, sample_weights=weights), "
                    "e.g. Chunks([X0, X1], sample_weights=[w0, w1])."
                )
        for entries, what in ((self.chunks, "chunk"), (sample_weights or [], "sample_weights entry")):
            for i, entry in enumerate(entries):
                if _is_path(entry):
                    check_path_characters(os.fsdecode(entry), f"{what} {i}, the path")
                if isinstance(entry, Iterator):
                    raise TypeError(
                        f"{what} {i} is a {type(entry).__name__}, a one-shot iterator, but "
                        "Chunks reads every chunk and its weights on every pass (a validation "
                        "pass, then each EM iteration), and an iterator gives its values once. "
                        "Pass an array, e.g. np.asarray(list(values))."
                    )
        if header not in (None, True, False):
            # the command line's --header words, and true/false, spelt in Python
            spelt = {**HEADER_WORDS, "true": True, "false": False}
            word = header.lower() if isinstance(header, str) else None
            hint = f" Did you mean header={spelt[word]}?" if word in spelt else ""
            raise ValueError(
                f"header must be None (decide from the first row), True or False, got "
                f"{header!r}.{hint}"
            )
        # header and encoding apply to .csv files only
        no_csv = bool(self.chunks) and not any(
            (_table_path(chunk) or "").lower().endswith(".csv") for chunk in self.chunks)
        if header is not None and no_csv:
            raise ValueError(
                f"header={header!r} says whether the first row of a .csv file holds column "
                f"names, but no chunk is a .csv file (chunk 0 is {_describe(self.chunks[0])}), "
                "whose column names come with it; leave out header."
            )
        self.header = header
        self.encoding = check_encoding(encoding)
        if encoding is not None and no_csv:
            raise ValueError(
                f"encoding={encoding!r} is the text encoding of .csv files, but no chunk is a "
                f".csv file (chunk 0 is {_describe(self.chunks[0])}); leave out encoding."
            )
        self._noted = set()
        self._part_names = None  # the header of the first CSV file read with one
        self.mmap_mode = _READ_MODES.get(mmap_mode, mmap_mode) if isinstance(mmap_mode, str) else mmap_mode
        if self.mmap_mode not in ("r", "c", None):
            raise ValueError(
                f"mmap_mode must be 'r', 'c' or None, got {mmap_mode!r}: Chunks only reads "
                "its files, and a writing mode ('r+', 'w+') could truncate or change them. "
                f"Use mmap_mode='r' (the default).{close_choice(mmap_mode, ('r', 'c'))}"
            )

    def __len__(self):
        return len(self.chunks)

    def _load(self, item):
        if _table_path(item) is not None:
            # Missing values become NaN: the estimator that reads them says
            # whether it fits them (missing='em') or how to fix them.
            table = read_table(item, self.columns, header=self.header, missing=True,
                               encoding=self.encoding)
            if self._header_of_a_part(item, table):
                table = read_table(item, self.columns, header=True, missing=True,
                                   encoding=self.encoding)
            if self.columns is not None and table.names is not None:
                # A column chosen by name has that name in every file, however the file
                # writes it (spaces around it, another Unicode normal form).
                table.names = [
                    token if isinstance(token, str) and name_key(token) == name_key(name)
                    else name for token, name in zip(self.columns, table.names)]
            for note in table.doubts:
                if note not in self._noted:  # every pass reads the file again
                    self._noted.add(note)
                    warn_at_caller(f"fastem: note: {note}", UserWarning, of_data=note)
            return table
        if _is_path(item):
            return load_npy(item, self.mmap_mode)
        return item

    def _header_of_a_part(self, path, table):
        """Whether the first row of the CSV file ``path``, read as data (``table``), spells
        the names of the first CSV file read with a header: the same header, above rows
        that do not tell it from data (names that are numbers, quoted, above a part of
        quoted missing values only, or above no rows), as Spark, Dask and R write the
        parts of one table. Only with ``header=None`` and all columns."""
        if self.header is not None or self.columns is not None or not str(path).lower(
                ).endswith(".csv"):
            return False
        if table.names is not None:
            self._part_names = self._part_names or list(table.names)
            return False
        first = None if self._part_names is None else unnamed_first_row(path, self.encoding)
        return first is not None and spells_names(first.fields, self._part_names)

    def check_first_row(self, fitted_names):
        """Refuse a first ``.csv`` chunk whose first row, read as data, spells ``fitted_names``
        in their order, or in another order (:func:`~fastem._tables.names_in_row`) where it
        looks like names (:attr:`~fastem._tables.FirstRow.looks_like_names`), as the
        command line then reads it as the header.

        Names that are numbers (days 1, 2, 3 above counts, as ``df.to_csv``
        writes them) do not tell a header from a row of data; a header read
        as data would get a label of its own, and every label after it would
        belong to the row above; a header of the names in another order
        would have the columns read as the model's features in the file's
        order, without their names to match them by. Only with
        ``header=None``, which decides.
        """
        path = _table_path(self.chunks[0]) if self.chunks else None
        if self.header is not None or path is None or not path.lower().endswith(".csv"):
            return
        first = unnamed_first_row(path, self.encoding)
        if first is None:
            return
        # each name's place in the row, where it holds them as numbers ('01' for '1')
        order = names_in_row(fitted_names, first.fields) if first.looks_like_names else None
        if spells_names(first.fields, fitted_names) or order is not None:
            in_order = order is None or order == sorted(order)
            raise ValueError(
                f"The first row of {path!r} spells the column names the model was fitted with "
                f"({first.fields}), in {'their' if in_order else 'another'} order, and was read "
                "as a row of data because they are numbers: it is the header if they are names "
                "(df.to_csv writes names that are numbers so), or a row of data that reads the "
                "same. Say which: Chunks(..., header=True) or Chunks(..., header=False)."
            )

    def _load_weights(self, item):
        return load_npy(item, self.mmap_mode) if _is_path(item) else item

    def __iter__(self):
        for i, chunk in enumerate(self.chunks):
            w = None if self.sample_weights is None else self.sample_weights[i]
            yield self._load(chunk), self._load_weights(w)

    def files(self, i):
        """Paths of the files that chunk ``i`` and its weights are read from (None: in memory)."""
        w = None if self.sample_weights is None else self.sample_weights[i]
        return tuple(os.fsdecode(item) if _is_path(item) else None for item in (self.chunks[i], w))

    def __repr__(self):
        return f"Chunks(<{len(self.chunks)} chunks>)"


def _is_pair(item):
    """Whether ``item``, an entry of :class:`Chunks`, is a pair (chunk, weights): a tuple of
    two whose first is a path or a 2-D array or table (a tuple that is a chunk holds
    rows, each 1-D), or such a list whose second is no 2-D array (a list of two chunks)."""
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        return False
    first, second = item
    if isinstance(item, list) and len(getattr(second, "shape", ())) == 2:
        return False
    return _is_path(first) or len(getattr(first, "shape", ())) == 2


def _is_path(item):
    return isinstance(item, (str, bytes)) or hasattr(item, "__fspath__")


def _table_path(item):
    """The path of a ``.csv`` or ``.parquet`` file, or None for anything else."""
    if not _is_path(item):
        return None
    path = os.fsdecode(item)
    return path if os.path.splitext(path)[1].lower() in TABLE_EXTENSIONS else None


def _describe(item):
    if _is_path(item):
        return f"the file {os.fsdecode(item)!r}"
    return f"an object of type {type(item).__name__}"


# How a file chunk is given in another dtype: saved again, for each kind of file.
_SAVED_AGAIN = ("np.save it again for a .npy file; for a parquet file, "
                "pd.read_parquet(path).astype(np.{dtype}).to_parquet(path)")


def _one_dtype_fix(X, name, paths):
    """How to give every chunk one dtype, for the chunk ``name`` (``X``) read in another
    dtype than chunk 0 (``paths``: the files of chunk 0 and of ``name``, or None): float32
    for all, unless ``X`` holds a value beyond float32's range, which the cast would make
    infinite (then float64, naming that value), or one of them is a CSV file, which is
    read as float64 whatever its numbers (then float64, naming the file)."""
    csv_file = next((os.fsdecode(path) for path in paths
                     if path is not None and os.fsdecode(path).lower().endswith(".csv")), None)
    if csv_file is not None:
        return (f"{csv_file!r} is a CSV file, read as float64: give every chunk as float64, "
                f"e.g. chunk.astype(np.float64) ({_SAVED_AGAIN.format(dtype='float64')}).")
    found = None if X.dtype == np.float32 else first_entry(X, beyond_float32)
    if found is None:
        return ("Give every chunk as float32 or every one as float64, e.g. "
                f"chunk.astype(np.float32) ({_SAVED_AGAIN.format(dtype='float32')}).")
    row, column = found
    return (f"{name} holds {float(X[row, column]):.6g} in row {row} (0-based) of column "
            f"{column}, beyond the range of float32 (largest {FLOAT32_MAX:.3g}), which a cast to "
            "float32 would make infinite: give every chunk as float64, e.g. "
            f"chunk.astype(np.float64) ({_SAVED_AGAIN.format(dtype='float64')}).")


def _check_chunk_names(names, first, name, selection):
    """Refuse a chunk whose column names are not those of chunk 0, in the same order.

    ``selection``: how the chunks select columns, the format string of
    :attr:`ChunkedSource.column_selection`.
    """
    if names is None and first is None:
        return
    if names is not None and first is not None and list(names) == list(first):
        return
    if names is None or first is None:
        has, lacks = ("chunk 0", name) if names is None else (name, "chunk 0")
        theirs = list(first if names is None else names)
        raise ValueError(
            f"{has} has the column names {shown_names(theirs)} but {lacks} has none (labels "
            "that are not all strings, such as pandas' integers 0, 1, ..., are no names), so its "
            "columns cannot be matched to them. Give every chunk the same named columns (e.g. "
            "DataFrames with the same columns), or pass every chunk as a plain array."
        )
    # the columns both have, in chunk 0's order: chunk 0's own may be more than this one has
    held = set(names)
    common = [column for column in first if column in held]
    if len(names) <= 2 * NAMES_SHOWN and len(first) <= 2 * NAMES_SHOWN:
        had = f"the columns {list(names)} but chunk 0 has {list(first)}"
        chosen = selection.format(repr(common))
    else:  # a few of thousands of names
        had = (f"{len(names)} columns and chunk 0 has {len(first)}, of other names or in "
               f"another order: {name_differences(names, first, 'chunk 0')}")
        chosen = (f"{selection.format('names')}, names being the list of the columns both have, "
                  "in chunk 0's order")
    fix = (f"Select them, e.g. {chosen}." if common else
           "They have no column in common: give chunks of the same columns.")
    raise ValueError(
        f"{name} has {had}. Every chunk must have the same columns in the same order. "
        f"{names_written_otherwise(names, first, 'chunk 0')}{fix}"
    )


def _column_labels(X):
    """A DataFrame's column labels when none is a string (pandas' integers: 0, 1, ...), which
    are no feature names (scikit-learn's rule, :func:`feature_names_of`), else None."""
    if isinstance(X, np.ndarray) or not (hasattr(X, "columns") and hasattr(X, "shape")):
        return None
    try:
        labels = list(X.columns)
    except TypeError:
        return None
    return labels if labels and not any(isinstance(v, str) for v in labels) else None


def _check_chunk_labels(labels, first, name):
    """Refuse a chunk whose column labels that are not names (integers) are not those of
    chunk 0, in its order: columns [1, 0] after [0, 1] would be read by position, each
    column fitted as the other."""
    if labels is None or first is None or labels == first:
        return
    raise ValueError(
        f"{name} has the column labels {labels} but chunk 0 has {first}. Every chunk must "
        f"have the same columns in the same order: select them, e.g. chunk[{first}], or, "
        "if the columns are matched by position, pass arrays (chunk.to_numpy())."
    )


def _chosen_positions(X, names, chunks):
    """The 0-based columns of its file that the chunk ``X`` of ``chunks`` holds, where a
    :class:`Chunks` chose them (``columns``) in a file without column names, as the command
    line's ``--columns`` records them (a model file's ``column_indices``); else None."""
    if names is not None or not isinstance(chunks, Chunks) or chunks.columns is None:
        return None
    return [int(j) for j in X.positions]


def _check_chunk_positions(positions, first, name, chunks):
    """Refuse a chunk that holds other columns of its file (``positions``) than chunk 0 holds
    of its own (``first``), both chosen by the ``columns`` of the :class:`Chunks` ``chunks``
    in files without names: negative indices count from the last column of each file, whose
    widths differ."""
    if positions == first:
        return
    raise ValueError(
        f"{name} holds the columns {positions} (0-based) of its file but chunk 0 the columns "
        f"{first} of its own: columns={chunks.columns!r} counts negative indices from the last "
        "column of each file, and the files have different numbers of columns, which have no "
        "names to match them by. Choose the same columns of every file by their 0-based "
        f"index from the first, e.g. columns={first!r}."
    )


def _is_csv_part(X):
    """Whether the chunk ``X`` was read from a CSV file (:func:`fastem._tables.read_table`),
    whose numbers are read as float64, whatever dtype the other chunks have."""
    return getattr(X, "layout", None) is not None


def _split(item, i, chunks):
    """(chunk, its weights or None) of item ``i`` of the chunked data ``chunks``; an Arrow
    chunk without its pandas index columns.

    A tuple is a pair (chunk, sample_weight), never a chunk whose rows are its items:
    a tuple of two rows that a source yields would be read as a 1-D chunk and its
    weights, which the error says. (:class:`Chunks` yields pairs of its own.)
    """
    if isinstance(item, tuple):
        if len(item) != 2:
            raise ValueError(
                f"chunk {i}: a chunk must be an array or a pair (array, sample_weight), got a "
                f"tuple of {len(item)} items. Yield a chunk as an array, e.g. np.asarray(rows)."
            )
        if not isinstance(chunks, Chunks) and np.ndim(item[0]) == 1 and not _is_path(item[0]):
            raise ValueError(
                f"chunk {i} is a tuple of 2 items, read as a pair (chunk, sample_weight), whose "
                f"chunk is 1-D, of shape {np.shape(item[0])}. Yield a chunk of rows as a 2-D "
                "array, e.g. np.asarray(rows), and a chunk with its weights as (chunk, weights)."
            )
        return without_pandas_index(item[0]), item[1]
    return without_pandas_index(item), None


class _Seen:
    """What the validation pass of a :class:`ChunkedSource` read of one chunk, to know a
    later pass's chunk for the same data, whose values need no second scan.

    A later chunk is the same data when it is the very array (and weights) the
    validation pass checked, or when fastem reads it from the same file itself
    (``Chunks`` of paths) and the file's signature has not changed
    (:class:`FileSignature`; every read checks it again, see :func:`reading`).
    Its values need no second scan then, only the conversion to the kernels'
    array (integers to float64, a DataFrame's columns): a scan of data that
    cannot have changed costs as much as a cheap pass (2 components, 2
    features). A map of a file yielded by the caller is not known by its file
    (it may cover other rows of it); an array changed in place during a fit is
    not seen, as it is not when the fit reads an array in memory.
    """

    def __init__(self, raw, supplied, own_files):
        self._refs = tuple(_weak(part) for part in raw)
        self._supplied = supplied
        self._own_files = own_files  # per part: the FileSignature of the file fastem reads, or None

    def used_up(self, w):
        """Whether the weights ``w`` are the very one-shot iterator (a generator) that the
        validation pass read to its end. (A chunk that is one fails that pass.)"""
        ref = self._refs[1]
        return isinstance(w, Iterator) and ref is not None and ref() is w

    def same(self, X, w):
        """Whether the chunk ``X`` with weights ``w`` is the data the validation pass checked."""
        if (w is not None) != self._supplied:
            return False
        for part, ref, own_file in zip((X, w), self._refs, self._own_files):
            if part is None or (ref is not None and ref() is part):
                continue
            if own_file is None or not own_file.unchanged():
                return False
        return True


def _weak(part):
    """A weak reference to ``part``, or None (also for ``part`` None or not weakly referable)."""
    try:
        return None if part is None else weakref.ref(part)
    except TypeError:
        return None


class ChunkedSource:
    """A re-iterable of chunks (the chunked-data protocol), validated once.

    The constructor makes one pass over the chunks: each is checked like an
    array (2-D, numeric, finite, the weights valid, in the family's domain)
    and must have the same number of features and dtype as the first; errors
    name the chunk. Later passes check that each chunk still has the shape,
    dtype, column names and weighting seen in the validation pass, and check
    its values again in the same way unless the chunk is the very array the
    validation pass checked, or read by fastem from the same unchanged file
    (see :class:`_Seen`): a source that yields other data on a later pass
    raises ValueError saying that it changed, instead of giving a model of
    NaN or of mixed data.

    Chunks that are DataFrames or Arrow tables give the source its column
    names; every chunk must then have the same names in the same order.

    Parameters
    ----------
    chunks : re-iterable
        Yields 2-D arrays or (array, sample_weight) pairs.
    check_data : callable, optional
    anchors : ndarray of shape (m, n_features), optional
    allow_nan : bool, default=False
        Keep NaN entries as missing values.
    nan_advice : str, optional
        What the error for NaN advises, without ``allow_nan``.
    allow_empty : bool, default=False
        Accept chunks of no rows in all, or weights that are all 0 (see
        :func:`as_source`). At least one chunk is needed, for the columns.
    """

    feature_names_in = None
    #: The columns of their files that :class:`Chunks` chose by index in files without
    #: names (:func:`_chosen_positions`), which a fit records; else None.
    column_indices = None
    _first_selection = "chunk[{}]"  # how chunk 0 selects its columns (column_selection)

    @property
    def column_selection(self):
        """How the chunks select columns by name, in a given order: a format string of the
        list of names (see :func:`fastem._validation.check_feature_names`)."""
        if isinstance(self.chunks, Chunks) and self.chunks.files(0)[0] is not None:
            return "fastem.Chunks(paths, columns={}) for its files"
        return self._first_selection + " for each chunk"

    def index_note(self, missing):
        """Where the first file of the chunks, a parquet file, holds one of the model's
        ``missing`` names as the index of the pandas DataFrame saved in it: a sentence that
        says so, with the fix (:func:`~fastem._tables.parquet_index_problem`); else ''."""
        path = self.chunks.files(0)[0] if isinstance(self.chunks, Chunks) else None
        if path is None or not path.lower().endswith(".parquet"):
            return ""
        return parquet_index_problem(path, missing)

    def __init__(self, chunks, *, check_data=None, anchors=None, allow_nan=False, nan_advice=None,
                 allow_empty=False, squares=True):
        if iter(chunks) is chunks:
            raise TypeError(
                f"X is a {type(chunks).__name__}, a one-shot iterator, but chunked data are "
                "read more than once: a validation pass, then each EM iteration (or the "
                "pass of a prediction or a partial_fit step). Pass a re-iterable, e.g. "
                "fastem.Chunks(list(X)) or an object whose __iter__ starts over; to learn "
                "from a stream, call partial_fit once per batch: for batch in stream: "
                "model.partial_fit(batch)."
            )
        self.chunks = chunks
        self._checks = dict(
            check_data=check_data, anchors=anchors, allow_nan=allow_nan, nan_advice=nan_advice,
            squares=squares)
        self.rows = []
        self.weighted = []  # per chunk: whether it came with weights
        self.unit = []  # per chunk: whether they were all 1
        self.signatures = []
        self.seen = []  # per chunk: what the validation pass read (_Seen)
        self.n_positive = 0
        total_weight = 0.0
        self.dtype = None
        self._labels = None  # chunk 0's column labels that are not names (see _column_labels)
        self.n_features = None
        ranges = []  # the per-feature minima and maxima of the chunks read so far, as one
        for i, item in enumerate(chunks):
            X, w = _split(item, i, chunks)
            # Files are watched whether memory-mapped or read into memory:
            # a file rewritten between passes would otherwise give mixed data.
            own = chunks.files(i) if isinstance(chunks, Chunks) else (None, None)
            x_path, w_path = own[0] or backing_file(X), own[1] or backing_file(w)
            name = f"chunk {i}" if x_path is None else f"chunk {i} ({x_path!r})"
            signature = None if x_path is None else FileSignature(x_path)
            w_signature = None if w_path is None else FileSignature(w_path)
            self.signatures.append((signature, w_signature))
            own_files = (signature if own[0] else None, w_signature if own[1] else None)
            names = self._names(X, name)
            selection = column_selection(X, "chunk")
            labels = None if names is not None else _column_labels(X)
            positions = _chosen_positions(X, names, chunks)
            if i:
                _check_chunk_names(names, self.feature_names_in, name, self.column_selection)
                _check_chunk_labels(labels, self._labels, name)
                _check_chunk_positions(positions, self.column_indices, name, chunks)
            self.seen.append(_Seen((X, w), w is not None, own_files))
            given = getattr(X, "dtype", None)  # an array's, before check_array converts it
            csv_part = _is_csv_part(X)
            X, w, supplied = self._checked(X, w, name, (signature, w_signature), ranges=ranges)
            # what the chunk was stored as, where it is not what fastem reads it as
            # (float16, integers and booleans are read as float64)
            stored = "" if given is None or given == X.dtype else f", given as {given},"
            if not i:
                self.feature_names_in = names
                self.column_indices = positions
                self._labels = labels
                self._first_selection = selection
                self.n_features = X.shape[1]
            elif X.shape[1] != self.n_features:
                raise ValueError(
                    f"{name} has {X.shape[1]} features but chunk 0 has {self.n_features}. "
                    "Every chunk must have the same columns."
                )
            # a CSV part of its header alone stores no dtype: it takes the others'
            dtyped = not (csv_part and not X.shape[0])
            if dtyped and self.dtype is None:
                self.dtype, first, first_stored, first_path = X.dtype, f"chunk {i}", stored, x_path
            elif dtyped and X.dtype != self.dtype:
                raise ValueError(
                    f"{name} is read as {X.dtype}{stored} but {first} as {self.dtype}"
                    f"{first_stored.rstrip(',')}: every chunk is computed in one dtype. "
                    f"{_one_dtype_fix(X, name, (first_path, x_path))}"
                )
            if len(ranges) == 2:
                (lo, hi), (chunk_lo, chunk_hi) = ranges
                ranges[:] = [(np.minimum(lo, chunk_lo), np.maximum(hi, chunk_hi))]
            self.rows.append(X.shape[0])
            self.weighted.append(supplied)
            # weights that are all 1 go to the kernels as none (see check_sample_weight)
            self.unit.append(supplied and w.shape[0] == 0)
            self.n_positive += np.count_nonzero(w) if w.shape[0] else X.shape[0]
            total_weight += w.sum() if w.shape[0] else X.shape[0]
        if not self.rows:
            raise ValueError("the chunked data yielded no chunks; at least one is required.")
        if self.dtype is None:  # CSV parts of their header alone, all of them
            self.dtype = np.dtype(np.float64)
        self.n_samples = sum(self.rows)
        if self.n_samples == 0 and not allow_empty:
            raise ValueError(
                f"the chunked data have no rows: all {len(self.rows)} chunk(s) are empty. "
                "At least one sample is required."
            )
        check_total_weight(total_weight, allow_zero=allow_empty)
        if ranges:  # each chunk is within the limits: together, they may not be
            check_range(*ranges[0], self.dtype, name="X (its chunks together)",
                        anchors=anchors, squares=squares, names=self.feature_names_in)
        self.offsets = np.concatenate([[0], np.cumsum(self.rows)])

    @staticmethod
    def _names(X, name):
        try:
            return feature_names_of(X)
        except TypeError as exc:
            raise TypeError(f"{name}: {exc}") from None

    def _checked(self, X, w, name, signatures, scan=True, ranges=None):
        """One chunk and its weights checked as an array's are: ``(X, w, weights given)``.

        ``X`` kernel-ready (:func:`check_array`, then the family's
        ``check_data``), ``w`` from :func:`check_sample_weight` (empty for
        none, or all 1). Without ``scan``, for a chunk whose values were
        checked before (see :class:`_Seen`), ``X`` is only converted. Errors
        name the chunk, and those of its weights the file they were read from.
        ``ranges`` as for :func:`check_array`.
        """
        checks = self._checks
        signature, w_signature = signatures
        layout = getattr(X, "layout", None)  # a CSV file's, whose rows are named by line
        frame = X  # a DataFrame's row labels, for its weights' (check_weight_labels)
        with reading(X, signature):  # a DataFrame's columns may be copied
            X = check_array(
                X, name=name, anchors=checks["anchors"], min_samples=0,
                allow_nan=checks["allow_nan"], nan_advice=checks["nan_advice"], scan=scan,
                row_place=None if layout is None else functools.partial(place_of, layout),
                squares=checks["squares"], ranges=ranges,
            )
        supplied = w is not None
        try:
            check_weight_labels(frame, w, name)
            with reading(w, w_signature):
                w = check_sample_weight(w, X.shape[0], require_positive_sum=False)
        except (TypeError, ValueError) as exc:
            weights = "" if w_signature is None else f", read from {w_signature.path!r}"
            raise type(exc)(f"{name}, its weights{weights}: {exc}") from None
        if scan and checks["check_data"] is not None and X.shape[0]:
            try:
                with reading(X, signature):
                    checks["check_data"](X)
            except EntryError as exc:  # a CSV file's entry is named by its line and column
                try:
                    exc = exc.named(self._names(frame, name))
                except TypeError:
                    pass  # names of mixed kinds, refused below as the chunk's
                text = str(exc) if layout is None else exc.placed(
                    place_of(layout, exc.row, exc.column))
                if text.startswith("X has "):  # of this chunk alone: the rest is not read yet
                    raise ValueError(f"{name} has {text[len('X has '):]}".replace(
                        " (0-based)", f" of {name} (0-based)", 1)) from None
                raise ValueError(f"{name}: {text}") from None
            except (TypeError, ValueError) as exc:  # the family's: rows of NaN, negative counts
                raise type(exc)(f"{name}: {exc}") from None
        return X, w, supplied

    def _iter(self):
        """Yield (index, X, w, signatures) with X kernel-ready, checked as in the first pass.

        ``signatures`` are those of X's and w's files: both may still be
        memory-mapped, and are read under :func:`reading`.
        """
        count = 0
        for i, item in enumerate(self.chunks):
            if i >= len(self.rows):
                raise self._changed(
                    i, f"more than the {len(self.rows)} chunk(s) of the validation pass")
            X, w = _split(item, i, self.chunks)
            signatures = self.signatures[i]
            name = f"chunk {i}"
            if self.seen[i].used_up(w):
                raise self._changed(
                    i, f"its weights are the {type(w).__name__} that the validation pass read "
                    "to its end, and a one-shot iterator gives its values once. Yield new "
                    "weights on every pass, or an array")
            try:
                names = self._names(X, name)
                _check_chunk_names(names, self.feature_names_in, name, self.column_selection)
                _check_chunk_labels(None if names is not None else _column_labels(X),
                                    self._labels, name)
                scan = not self.seen[i].same(X, w)
                csv_part = _is_csv_part(X)
                X, w, supplied = self._checked(X, w, name, signatures, scan=scan)
                if csv_part and not X.shape[0]:  # in the others' dtype (see __init__)
                    X = X.astype(self.dtype, copy=False)
            except (TypeError, ValueError) as exc:
                raise self._changed(i, exc) from None
            seen = {"rows": self.rows[i], "features": self.n_features, "dtype": self.dtype,
                    "weights": "weights" if self.weighted[i] else "no weights"}
            now = {"rows": X.shape[0], "features": X.shape[1], "dtype": X.dtype,
                   "weights": "weights" if supplied else "no weights"}
            for what in seen:
                if now[what] != seen[what]:
                    raise self._changed(
                        i, f"{what} {now[what]} where the validation pass saw {seen[what]}")
            if self.unit[i]:
                w = np.empty(0)
            yield i, X, w, signatures
            count += 1
        if count != len(self.rows):
            raise self._changed(
                count, f"{count} chunk(s) where the validation pass saw {len(self.rows)}")

    def _changed(self, i, problem):
        """The error for a source that yields other data than in its validation pass."""
        return ValueError(
            f"the chunked data changed after validation at chunk {i}: "
            f"{str(problem).rstrip('.')}. A chunked source must yield the same chunks on "
            "every pass."
        )

    def reduce(self, fn):
        """Sum over chunks, in order, of ``fn(chunk, chunk_weights)``; with no rows at all
        (see ``allow_empty``), the sum of what it gives for the empty chunks."""
        total = None
        for _, X, w, signatures in self._iter():
            if X.shape[0] or not self.n_samples:
                part = _Slice(X, w, signatures).reduce(fn)
                total = part if total is None else total + part
        return total

    def scan_once(self, name, scan, merge):
        """``merge([scan(chunk), ...])`` over the chunks in order, computed once per source.

        See :meth:`ArraySource.scan_once`.
        """
        return kept_once(self, name, lambda: merge([
            part for _, X, w, signatures in self._iter()
            for part in _Slice(X, w, signatures)._scan(scan)
        ]))

    def check_outputs(self, n_columns, dtype, fix):
        """As :meth:`ArraySource.check_outputs`, for the outputs of every chunk."""
        shape = _output_shape(self.n_samples, n_columns)
        check_output_memory(shape, dtype, "these chunks", fix)

    def map(self, fn, n_columns, dtype, out=None, in_place=False):
        """Per-row outputs: a list with one array per chunk, or filled into ``out``.

        ``fn(chunk, out_chunk, first_row)`` as for an array, with the rows
        counted over all the chunks.

        ``out``, when given, is one array with a row for every row of every
        chunk (e.g. a ``np.memmap``), filled in chunk order and returned. It
        may not share memory with a chunk, ``in_place`` or not (which only
        words the error: chunks are read again, and each one's rows are
        checked as it is read).
        """
        advice = IN_PLACE_ADVICE if in_place else ""
        shape = _output_shape(self.n_samples, n_columns)
        if out is None:  # one array per chunk, all kept
            check_output_memory(shape, dtype, "these chunks")
            return [_Slice(X, w, signatures, self.offsets[i]).map(fn, n_columns, dtype)
                    for i, X, w, signatures in self._iter()]
        out = _output_array(out, shape, dtype, "these chunks")
        for i, item in enumerate(self.chunks):  # before any write, the chunks at hand
            X, _ = _split(item, i, self.chunks)
            if isinstance(X, (str, bytes, os.PathLike)):
                check_output_is_not_a_file(out, X, f"chunk {i}")
            else:
                check_output_is_not_input(out, X, f"chunk {i}", advice)
        for i, X, w, signatures in self._iter():
            check_output_is_not_input(out, X, f"chunk {i}", advice)  # as it was read
            chunk = _Slice(X, w, signatures, self.offsets[i])
            chunk._fill(fn, out[self.offsets[i] : self.offsets[i + 1]])
        return out

    def subsample(self, random_state, size):
        """The rows that :func:`fastem._init.subsample` would pick, gathered in one pass.

        The validation pass counted the rows, so the subsample draws the same
        row indices as for an array of the same length and gathers them chunk
        by chunk: a chunked source starts from the same subsample as the
        concatenated array would.
        """
        index = sample_index(self.n_samples, random_state, size)
        if isinstance(index, slice):
            index = np.arange(self.n_samples)
        points, weights = [], []
        for i, X, w, signatures in self._iter():
            lo, hi = np.searchsorted(index, self.offsets[i : i + 2])
            rows = index[lo:hi] - self.offsets[i]
            with _Slice(X, w, signatures)._reading():
                points.append(np.asarray(X[rows], dtype=np.float64))
                weights.append(w[rows] if w.shape[0] else np.ones(rows.shape[0]))
        return np.concatenate(points), np.concatenate(weights)


class _Slice(ArraySource):
    """A validated chunk viewed as an array source (no checks repeated)."""

    def __init__(self, X, sample_weight, signatures=(None, None), first_row=0):
        self.X, self.sample_weight = X, sample_weight
        self.first_row = first_row
        self.n_samples, self.n_features = X.shape
        self.dtype = X.dtype
        self.signature, self.w_signature = signatures
