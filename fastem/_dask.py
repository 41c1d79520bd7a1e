"""Dask arrays as a data source: the fused kernel runs where the blocks live.

Imported only when a ``dask.array.Array`` or a ``dask.dataframe.DataFrame``
reaches an estimator, so that ``import fastem`` works without Dask
(``pip install fastem[dask]`` adds it).

- Reductions (every E-step of ``fit``, ``summarize``, ``score``, ``bic``,
  ``aic``): each block of rows goes through the fused kernel on a worker and
  becomes one float64 statistics vector; the vectors are summed by Dask's tree
  reduction (``Array.sum(split_every=...)``), whose shape depends only on the
  block structure, so the sum is taken in a fixed order. Only the vector of
  ``2 + n_components + n_family_stats`` numbers per block travels to the
  client, where the M-step runs.
- Before the first reduction the data (and weights) are persisted and
  validated in one computation (NaN/inf, negative weights), so that the EM
  iterations read them from worker memory instead of recomputing the graph
  that produced them.
- Per-row outputs (``predict``, ``predict_proba``, ``score_samples``) are lazy
  ``map_blocks`` arrays; each block is checked for NaN, and for the family's domain
  (negative values, counts that are not whole numbers), when it is computed.
- Initialisation draws the same row indices as for a NumPy array of the same
  length (:func:`fastem._init.sample_index`, at most 100,000 rows) and gathers
  them in one computation, block by block in fastem's tasks (see ``_reading``).

The estimator itself is shipped to the workers inside each task; it holds only
its parameters, a few kilobytes for typical sizes.
"""

import contextlib
import zlib

import dask
import dask.array as da
import numpy as np

from ._init import sample_index
from ._validation import (
    _NAN_ADVICE,
    EntryError,
    _is_sparse,
    check_frame_columns,
    check_range,
    check_table_integers,
    check_total_weight,
    check_weights_unmasked,
    check_whole_numbers_held,
    dtype_text,
    feature_label,
    feature_names_of,
    first_refused_entry,
    masked_as_nan,
    may_round,
    non_finite_message,
    numeric_advice,
    numeric_weights,
    scan_data,
    weight_values,
)
from .data import (
    FileSignature, backing_file, is_dask_dataframe, is_dask_series, kept_once, reading,
)

__all__ = ["DaskSource"]

# Fan-in of the tree reduction of statistics vectors.
SPLIT_EVERY = 16


@contextlib.contextmanager
def _reading(*blocks):
    """Context of one read of dask blocks by fastem (see :func:`fastem.data.reading`).

    A block that is a NumPy masked array, in an array whose ``_meta`` did not say
    so (which :class:`DaskSource` would have read as a masked array's), is a
    ``ValueError``. A block that is memory-mapped from a file (``da.from_npy_stack(path,
    mmap_mode='r')``, or blocks that ``np.load(..., mmap_mode='r')`` in a task)
    reaches the task as a view of the map, and fastem's copy or kernel is
    its first read: a file truncated since it was mapped gives a
    ``ValueError`` naming it, not SIGBUS.
    """
    for block, name in zip(blocks, ("X", "sample_weight")):
        if isinstance(block, np.ma.MaskedArray):  # np.asarray would drop its mask
            raise ValueError(
                f"the dask array {name} has blocks that are NumPy masked arrays, but its _meta "
                f"is not one (e.g. da.from_delayed or map_blocks given no meta=), so fastem "
                f"would read the values hidden under the mask; give meta=np.ma.masked_array("
                f"np.empty({(0,) * block.ndim}, dtype={block.dtype.name})) where it is made, "
                f"or fill the masked entries ({name}.map_blocks(np.ma.filled, np.nan))."
            )
    with contextlib.ExitStack() as reads:
        for block in blocks:
            path = backing_file(block)
            reads.enter_context(reading(block, None if path is None else FileSignature(path)))
        yield


def _check_known_sizes(X, name):
    """Refuse a dask array whose blocks' sizes Dask does not know (NaN in ``X.chunks``).

    Such arrays come from filtering by a condition (``X[X[:, 0] > 0]``) or
    from a DataFrame's ``to_dask_array()`` / ``values``. Their shape holds
    NaN, which every size computed from it would carry.
    """
    if any(np.isnan(size) for chunks in X.chunks for size in chunks):
        raise ValueError(
            f"{name} is a dask array of shape {X.shape} whose blocks have unknown sizes "
            f"(NaN in {name}.chunks). Call {name}.compute_chunk_sizes() first, or for a "
            "DataFrame's values use to_dask_array(lengths=True)."
        )


def _checked_partition(partition, partition_info=None):
    """A partition of a Dask DataFrame, refused if an integer column holds a whole number
    that float64 rounds (:func:`~fastem._validation.check_table_integers`, which names the
    row's index label: the partition's first row in the whole is not known yet)."""
    check_table_integers(partition, f"partition {partition_info['number']} of the dask "
                                    "DataFrame X")
    return partition


def _block_place(block_info):
    """``(first row, name)`` of the block of a dask array that ``block_info`` describes
    (see :func:`dask.array.map_blocks`): the messages name a row in the whole array and
    in the block."""
    info = block_info[0]
    return info["array-location"][0][0], f"its block {info['chunk-location'][0]}"


def _as_float64(block, block_info=None):
    """A block of integers or long doubles in float64; ValueError for a whole number that
    float64 rounds, or a long double beyond its range."""
    with np.errstate(over="ignore"):  # a long double beyond float64's: named in the check
        converted = block.astype(np.float64)
    check_whole_numbers_held(block, converted, "X", piece=_block_place(block_info))
    return converted


def _block_weights(block, block_info=None):
    """:func:`~fastem._validation.numeric_weights` of a block of the dask array of weights."""
    return numeric_weights(block, piece=_block_place(block_info))


def _block_without_mask(block, allow_nan, nan_advice, block_info=None):
    """A block of a masked dask array (``da.ma``) with NaN for its masked entries, which are
    missing values with ``allow_nan`` as a NumPy masked array's are; without it, a
    ValueError naming the first. Dask's reads, as ``np.asarray``, keep the hidden values."""
    mask = np.ma.getmaskarray(block)
    if mask.any() and not allow_nan:
        first_row, _ = _block_place(block_info)
        raise ValueError(
            f"X is a masked dask array with {int(mask.sum())} masked entries in its block "
            f"{block_info[0]['chunk-location'][0]}, the first in row "
            f"{first_row + int(np.argmax(mask.any(axis=1)))} (0-based), whose hidden values "
            "would be read as data; da.ma.filled(X, np.nan) makes them NaN. "
            f"{nan_advice or _NAN_ADVICE}."
        )
    return masked_as_nan(block)


def _block_weights_without_mask(block):
    """A block of a masked dask array of weights, refused if it has masked entries."""
    check_weights_unmasked(block)
    return np.ma.getdata(block)


def _check_block(X, block_id, first_row, anchors, allow_nan, nan_advice, names=None,
                 squares=True):
    n_bad, lo, hi = scan_data(X, allow_nan)
    if n_bad:
        row, column, value = first_refused_entry(X, allow_nan)
        raise ValueError(non_finite_message(
            f"block {block_id} of the dask array X", n_bad, allow_nan, nan_advice,
            f"{value}, in row {first_row + row} (0-based) of column "
            f"{feature_label(column, names)} of X"))
    check_range(lo, hi, X.dtype, name=f"block {block_id} of the dask array X", anchors=anchors,
                squares=squares, names=names)


# The columns of _block_validate's row before the per-feature ranges.
_HEAD = 11
# ... of which what check_data refused: how many rows or entries, and which check.
_REFUSED, _REFUSAL = 9, 10
# ... of which the block's own sizes: rows, columns, and the length of its weights.
_SIZES = slice(6, 9)


def _block_validate(block, weights, first_row, check_data, allow_nan, dtype, n_features):
    """[non-finite entries, negative weights, non-finite weights, rows of positive weight,
    total weight, rows of weight 1, rows, columns, weights, rows or entries that
    ``check_data`` refused, which of its refusals, per-feature minimum (n_features),
    per-feature maximum (n_features)].

    A block of other columns than ``n_features``, or with another number of
    weights than rows, is not what its array declares: only its sizes are
    filled in, for the client to name it (see :meth:`DaskSource._prepare`).
    ``first_row`` (an array of one entry) is the block's first row in the
    whole array, for ``check_data`` to name rows in it.
    """
    with _reading(block, weights):
        X = np.ascontiguousarray(block, dtype=dtype)
        counts = np.zeros((1, _HEAD + 2 * n_features))
        counts[0, _SIZES] = *X.shape, X.shape[0] if weights is None else len(weights)
        if X.shape[1] != n_features or counts[0, 8] != X.shape[0]:
            return counts
        return _validate_counts(X, weights, int(first_row[0]), check_data, allow_nan, counts)


def _validate_counts(X, weights, first_row, check_data, allow_nan, counts):
    lo, hi = _HEAD, _HEAD + X.shape[1]
    counts[0, 0], counts[0, lo:hi], counts[0, hi:] = scan_data(X, allow_nan)
    if weights is None:
        counts[0, 3] = counts[0, 4] = counts[0, 5] = X.shape[0]
    else:
        w = np.asarray(weights, dtype=np.float64)
        counts[0, 1] = np.count_nonzero(w < 0)
        counts[0, 2] = np.count_nonzero(~np.isfinite(w))
        counts[0, 3] = np.count_nonzero(w > 0)
        counts[0, 4] = w.sum()
        counts[0, 5] = np.count_nonzero(w == 1.0)
    if check_data is not None and X.shape[0] and not counts[0, 0]:
        try:
            check_data(X, first_row)
        except EntryError as exc:  # counted over every block by the client (_refuse)
            counts[0, _REFUSED] = exc.fields.get("count", 1)
            counts[0, _REFUSAL] = zlib.crc32(exc.template.encode())
    return counts


def _undeclared_blocks(name, block):
    """The error for ``block`` (its index and sizes) of the dask array ``name``, sized
    otherwise than ``name.chunks`` declares."""
    return ValueError(
        f"the dask array {name} has other blocks than its chunks declare: {block}. Dask "
        "takes a block's size from what the function that makes it returns (e.g. "
        "map_blocks given no chunks= for a function that drops rows or adds columns), not "
        f"from its chunks. Call {name}.compute_chunk_sizes() first, or give map_blocks the "
        "chunks its function returns."
    )


def _block_reduce(block, weights, fn, dtype):
    with _reading(block, weights):
        X = np.ascontiguousarray(block, dtype=dtype)
        w = np.empty(0) if weights is None else np.ascontiguousarray(weights, dtype=np.float64)
        return fn(X, w)[None, :]


def _block_scan(block, scan, dtype):
    with _reading(block):
        return scan(np.ascontiguousarray(block, dtype=dtype))


def _block_map(block, fn, n_columns, dtype, anchors, allow_nan, nan_advice, data_dtype,
               check_data=None, names=None, squares=True, block_info=None):
    with _reading(block):
        X = np.ascontiguousarray(block, dtype=data_dtype)
        block_id = block_info[0]["chunk-location"][0] if block_info else "?"
        if block_info:
            declared = tuple(hi - lo for lo, hi in block_info[0]["array-location"])
            if X.shape != declared:
                raise _undeclared_blocks(
                    "X", f"block {block_id} has shape {X.shape}, declared {declared}")
        first_row = block_info[0]["array-location"][0][0] if block_info else 0
        _check_block(X, block_id, first_row, anchors, allow_nan, nan_advice, names, squares)
        if check_data is not None and X.shape[0]:
            # the family's domain (negative or fractional counts), as an array's is checked
            try:
                check_data(X, first_row)
            except EntryError as exc:  # its counts are the block's: the others are lazy
                raise EntryError(
                    f"In block {block_id} of the dask array X (rows {first_row} to "
                    f"{first_row + X.shape[0] - 1}; a lazy output checks each block as it "
                    f"computes it, so the figures are this block's): {exc.named(names)}"
                ) from None
        shape = (X.shape[0],) if n_columns is None else (X.shape[0], n_columns)
        out = np.empty(shape, dtype=dtype)
        fn(X, out, first_row)
    return out


def _block_take(block, weights, rows):
    """``(points, weights)`` of the block's ``rows``, float64, gathered under the guard."""
    with _reading(block, weights):
        points = np.asarray(block[rows], dtype=np.float64)
        taken = (
            np.ones(len(rows)) if weights is None
            else np.asarray(weights[rows], dtype=np.float64)
        )
    return points, taken


class DaskSource:
    """A 2-D dask array (and optional weights) as a data source.

    Parameters
    ----------
    X : dask.array.Array of shape (n_samples, n_features)
        Chunked along rows; column chunks are merged. float32 and float64 are
        kept, other real types become float64.
    sample_weight : array-like or dask array of shape (n_samples,), default=None
        Read by position. A pandas Series' index is not checked against the row
        labels of a Dask DataFrame ``X``: they are computed lazily, and its known
        divisions bound the labels of each partition, not of each row, so a check
        would need a pass over the index. A column of ``X`` comes with its rows.
    check_data : callable, optional
        Run on each block in the validation computation.
    anchors : ndarray of shape (m, n_features), optional
        Points that locate a fitted model; they count in the range check
        (see :func:`fastem._validation.check_range`).
    allow_nan : bool, default=False
        Keep NaN entries as missing values (infinities are refused either way).
    nan_advice : str, optional
        What the error for NaN advises, without ``allow_nan``.
    allow_empty : bool, default=False
        Accept no rows, or weights that are all 0 (see :func:`fastem.data.as_source`).
    squares : bool or None, default=True
        Whether the range check refuses ranges whose squares would overflow, or None
        for no limit
        (see :func:`fastem.data.as_source`).

    A ``dask.dataframe.DataFrame`` is taken as the dask array of its values
    (``X.to_dask_array(lengths=True)``, one pass to count the rows of each
    partition), with its column names as ``feature_names_in``.
    """

    feature_names_in = None

    def __init__(self, X, sample_weight=None, *, check_data=None, anchors=None, allow_nan=False,
                 nan_advice=None, allow_empty=False, squares=True):
        integers_checked = is_dask_dataframe(X)
        if integers_checked:
            self.feature_names_in = feature_names_of(X)
            # checked in the pass that counts the rows, before the conversion of nullable
            # columns or of a partition to one array rounds its integers to float64
            X = X.map_partitions(_checked_partition, meta=X._meta)
            X = check_frame_columns(X, "X", allow_nan, nan_advice).to_dask_array(lengths=True)
        if _is_sparse(X._meta):  # NumPy reads its blocks as objects, deep in a task
            raise TypeError(
                f"X is a dask array of sparse blocks ({type(X._meta).__name__}), but dense data "
                "are required. Make its blocks dense first, e.g. X.map_blocks(lambda b: "
                "b.toarray(), dtype=X.dtype, meta=np.empty((0, 0), dtype=X.dtype))."
            )
        kind = X.dtype.kind
        if kind not in "biuf":
            advice = ("Convert the dask array first, e.g. X.astype(float)." if kind in "USO"
                      else numeric_advice(X.dtype))
            raise TypeError(f"X has {dtype_text(X.dtype)}; mixture models need real "
                            f"numbers. {advice}")
        if X.ndim != 2:
            raise ValueError(
                f"X must be a 2-D dask array of shape (n_samples, n_features), got "
                f"{X.ndim}-D with shape {X.shape}."
            )
        _check_known_sizes(X, "X")
        if X.shape[0] < (0 if allow_empty else 1) or X.shape[1] < 1:
            raise ValueError(f"X has shape {X.shape}; at least one sample and one feature are required.")
        target = X.dtype.newbyteorder("=") if X.dtype.type in (np.float32, np.float64) else np.float64
        integers = X.dtype.kind in "iu"
        # known before a conversion block by block, whose result Dask does not know is masked
        masked = isinstance(X._meta, np.ma.MaskedArray)
        if (integers and not integers_checked) or (not integers and may_round(X.dtype)):  # long double
            X = X.map_blocks(_as_float64, dtype=np.float64)
        elif X.dtype != target:
            X = X.astype(target)
        if masked:
            X = X.map_blocks(_block_without_mask, allow_nan, nan_advice, dtype=X.dtype,
                             meta=np.empty((0, 0), dtype=X.dtype))
        if X.numblocks[1] != 1:
            X = X.rechunk({1: -1})
        self.X = X
        self.n_samples, self.n_features = X.shape
        self.dtype = np.dtype(target)
        self.sample_weight = None if sample_weight is None else self._weights(sample_weight)
        self.check_data = check_data
        self.anchors = anchors
        self.allow_nan = allow_nan
        self.nan_advice = nan_advice
        self.allow_empty = allow_empty
        self.squares = squares
        self._n_positive = None

    def _weights(self, sample_weight):
        w = sample_weight
        if is_dask_series(w):  # a column of a Dask DataFrame, e.g. frame["weight"]
            w = w.to_dask_array(lengths=True)
        if not isinstance(w, da.Array):
            w = weight_values(w, self.n_samples)
        else:
            _check_known_sizes(w, "sample_weight")
            if isinstance(w._meta, np.ma.MaskedArray):
                w = w.map_blocks(_block_weights_without_mask, dtype=w.dtype,
                                 meta=np.empty((0,) * w.ndim, dtype=w.dtype))
            # numbers as objects, 64-bit integers and long doubles are converted (and
            # checked) block by block, as an array of them is
            w = (w.map_blocks(_block_weights, dtype=np.float64) if may_round(w.dtype)
                 else numeric_weights(w))
        if w.shape != (self.n_samples,):
            raise ValueError(
                f"sample_weight has shape {w.shape} but X has {self.n_samples} samples; "
                f"pass one weight per sample, shape ({self.n_samples},)."
            )
        if not isinstance(w, da.Array):
            w = da.from_array(np.asarray(w))
        return w.astype(np.float64).rechunk((self.X.chunks[0],))

    def _weight_args(self):
        return (self.sample_weight, "i") if self.sample_weight is not None else (None, None)

    def _prepare(self):
        """Persist the data and validate them in one computation, once."""
        if self._n_positive is not None:
            return
        self.X, self.sample_weight = dask.persist(self.X, self.sample_weight)
        starts = self._block_starts()
        counts = da.blockwise(
            _block_validate, "ij", self.X, "ij", *self._weight_args(),
            da.from_array(starts[:-1], chunks=1), "i", self.check_data, None,
            self.allow_nan, None, self.dtype, None, self.n_features, None,
            adjust_chunks={"i": 1, "j": _HEAD + 2 * self.n_features}, dtype=np.float64,
            align_arrays=False,  # one start per block of X, not one per row
        ).compute()
        self._check_sizes(counts[:, _SIZES].astype(np.int64))
        bad = np.flatnonzero(counts[:, 0])
        if bad.size:
            row, column, value = first_refused_entry(
                self.X.blocks[bad[0]].compute(), self.allow_nan)
            raise ValueError(non_finite_message(
                "X", int(counts[:, 0].sum()), self.allow_nan, self.nan_advice,
                f"{value}, in row {starts[bad[0]] + row} (0-based) of column "
                f"{feature_label(column, self.feature_names_in)}, "
                f"in block {bad[0]}"))
        for column, what, wrong, fix in (
            (2, "NaN or infinite", lambda w: ~np.isfinite(w),
             "Every weight must be a finite non-negative number."),
            (1, "negative", lambda w: w < 0,
             "Weights act like repetition counts and must be >= 0."),
        ):
            bad = np.flatnonzero(counts[:, column])
            if bad.size:
                weights = self.sample_weight.blocks[bad[0]].compute()
                raise ValueError(
                    f"sample_weight has {int(counts[:, column].sum())} {what} value(s), the "
                    f"first at index {starts[bad[0]] + int(np.argmax(wrong(weights)))}, in "
                    f"block {bad[0]}. {fix}"
                )
        lo = counts[:, _HEAD : _HEAD + self.n_features].min(axis=0)
        hi = counts[:, _HEAD + self.n_features :].max(axis=0)
        check_range(lo, hi, self.dtype, anchors=self.anchors, squares=self.squares,
                    names=self.feature_names_in)
        if counts[:, _REFUSED].any():
            self._refuse(counts, starts, lo)
        check_total_weight(counts[:, 4].sum(), allow_zero=self.allow_empty)
        if counts[:, 5].sum() == self.n_samples:
            self.sample_weight = None  # unit weights are no weights (check_sample_weight)
        self._n_positive = int(counts[:, 3].sum())

    def _refuse(self, counts, starts, lo):
        """Raise check_data's error of the first block it refused, with the figures of the
        whole array: the rows or entries of every block refused alike, and the smallest
        value (``lo``, per feature). Each block counted its own, and the error raised
        from one of them (whichever finished first) said that block's alone."""
        first = int(np.flatnonzero(counts[:, _REFUSED])[0])
        X = np.ascontiguousarray(self.X.blocks[first].compute(), dtype=self.dtype)
        try:
            self.check_data(X, int(starts[first]))
        except EntryError as exc:
            alike = counts[:, _REFUSAL] == counts[first, _REFUSAL]
            fields = {}
            if "count" in exc.fields:
                fields["count"] = int(counts[alike, _REFUSED].sum())
            if "smallest" in exc.fields:
                feature = int(np.argmin(lo))
                fields.update(smallest=float(lo[feature]), feature=feature)
            raise exc.restated(**fields).named(self.feature_names_in) from None
        raise AssertionError(f"check_data refused block {first} of X, then accepted it")

    def _block_starts(self):
        """The first row of each block of X in the whole array, and the number of rows."""
        return np.concatenate([[0], np.cumsum(self.X.chunks[0])]).astype(np.int64)

    def _check_sizes(self, sizes):
        """Raise for the first block whose (rows, columns, weights) ``sizes`` are not those
        that the chunks of X (and of the weights, rechunked to X's rows) declare."""
        rows = np.asarray(self.X.chunks[0])
        declared = np.c_[rows, np.full(len(rows), self.n_features), rows]
        wrong = np.flatnonzero((sizes != declared).any(axis=1))
        if not wrong.size:
            return
        i = wrong[0]
        if (sizes[i, :2] != declared[i, :2]).any():
            raise _undeclared_blocks("X", f"block {i} has shape "
                                     f"{tuple(map(int, sizes[i, :2]))}, declared "
                                     f"{tuple(map(int, declared[i, :2]))}")
        raise _undeclared_blocks("sample_weight", f"block {i} has {sizes[i, 2]} weights for "
                                 f"the {sizes[i, 0]} rows of X's block {i}")

    @property
    def n_positive(self):
        self._prepare()
        return self._n_positive

    def reduce(self, fn):
        """Sum of ``fn(block, block_weights)`` over the blocks, tree-reduced by Dask."""
        self._prepare()
        n_stats = fn(np.empty((0, self.n_features), dtype=self.dtype), np.empty(0)).shape[0]
        parts = da.blockwise(
            _block_reduce, "ij", self.X, "ij", *self._weight_args(), fn, None, self.dtype, None,
            adjust_chunks={"i": 1, "j": n_stats}, dtype=np.float64,
        )
        return parts.sum(axis=0, split_every=SPLIT_EVERY).compute()

    def scan_once(self, name, scan, merge):
        """``merge([scan(block), ...])`` over the blocks in order, computed once per source.

        See :meth:`fastem.data.ArraySource.scan_once`; the blocks are scanned
        where they live, and only the results travel to the client.
        """
        self._prepare()
        return kept_once(self, name, lambda: merge(list(dask.compute(
            *[dask.delayed(_block_scan)(b, scan, self.dtype) for b in self.X.to_delayed().ravel()]
        ))))

    def check_outputs(self, n_columns, dtype, fix):
        """Nothing to refuse: the outputs of :meth:`map` are lazy."""

    def map(self, fn, n_columns, dtype, out=None, in_place=False):
        """A lazy dask array of per-row outputs, one ``map_blocks`` task per block.

        Each task runs ``fn(block, out_block, first_row)``, the block's first
        row in the whole array. ``out`` is refused (``in_place`` or not): the
        result is lazy.
        """
        if out is not None:
            raise ValueError(
                "out cannot be used with Dask data (a dask array or DataFrame): the result is "
                "lazy. Write it out with dask, e.g. result.to_zarr(path) or "
                "da.store(result, target) for an array, result.to_parquet(path) for a DataFrame."
            )
        if n_columns is None:
            return self.X.map_blocks(
                _block_map, fn, None, dtype, self.anchors, self.allow_nan, self.nan_advice,
                self.dtype, self.check_data, names=self.feature_names_in, squares=self.squares,
                drop_axis=1, dtype=dtype,
            )
        return self.X.map_blocks(
            _block_map, fn, n_columns, dtype, self.anchors, self.allow_nan, self.nan_advice,
            self.dtype, self.check_data, names=self.feature_names_in, squares=self.squares,
            chunks=(self.X.chunks[0], (n_columns,)), dtype=dtype,
        )

    def subsample(self, random_state, size):
        """(points, weights): the rows an equal-length NumPy array would give, float64."""
        self._prepare()
        index = sample_index(self.n_samples, random_state, size)
        if isinstance(index, slice):
            index = np.arange(self.n_samples)[index]
        # Gathered block by block in fastem's tasks, whose reads are guarded (_reading):
        # Dask's own fancy indexing would read a memory-mapped block unguarded.
        offsets = self._block_starts()
        blocks = self.X.to_delayed().ravel()
        weights = (
            [None] * len(blocks) if self.sample_weight is None
            else self.sample_weight.to_delayed().ravel()
        )
        parts = []
        for i, (block, w) in enumerate(zip(blocks, weights)):
            lo, hi = np.searchsorted(index, offsets[i : i + 2])
            if hi > lo:
                parts.append(dask.delayed(_block_take)(block, w, index[lo:hi] - offsets[i]))
        parts = dask.compute(*parts)
        return np.concatenate([p for p, _ in parts]), np.concatenate([w for _, w in parts])
