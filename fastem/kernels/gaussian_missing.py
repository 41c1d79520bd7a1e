"""Gaussian blocks for data with missing entries (NaN): exact EM under missing at random.

A point ``x`` with observed coordinates ``O`` and missing ones ``M`` has, under
a Gaussian component with mean ``m`` and precision ``P = Sigma^-1``, the
marginal density of ``x_O`` (Little & Rubin, *Statistical Analysis with
Missing Data*, 2nd ed., ch. 11; Ghahramani & Jordan 1994). In precision form,
with ``d = x_O - m_O``, ``b = P_MO d`` and ``L L^T = P_MM`` (Cholesky):

- the conditional mean of the missing coordinates is
  ``E[x_M | x_O] = m_M - P_MM^-1 b``, so the completed deviation is
  ``e = (d, -P_MM^-1 b)``;
- the Mahalanobis term of the observed part is
  ``d^T Sigma_OO^-1 d = d^T P_OO d - b^T P_MM^-1 b = e^T P e``
  (``Sigma_OO^-1`` is the Schur complement of ``P_MM`` in ``P``);
- ``log det Sigma_OO = log det Sigma + log det P_MM``;
- the conditional covariance is ``Sigma_MM|O = P_MM^-1``, and the E-step's
  second moments are ``r (e e^T + [[0, 0], [0, P_MM^-1]])``.

For 'diag' and 'spherical' components ``P_MO = 0``: the missing coordinates
drop out of the density, their conditional mean is the component's mean
(``e_M = 0``) and their expected squared deviation is the variance.

A block without NaN runs the complete-data block of
:mod:`fastem.kernels.gaussian`. A block with NaN groups its incomplete
points by missingness pattern (an open-addressing table on a bit per missing
coordinate, then a counting sort of the block's point indices), and copies
itself into a completed block (per-partition scratch). Component by
component, each pattern's ``P_MM`` is factored once and
``P_MM^-1 P_MO`` formed once; each point's missing coordinates are then
filled with their conditional means (``m_M - P_MM^-1 P_MO d``, one small
matrix-vector product), so that its deviation from the component's mean is
``e``. The component's complete-data blocks (vectorised over the points,
tiled from 12 features on) then run on the completed block: its
log-density is ``e^T P e`` plus, per pattern, ``|M| log(2 pi) / 2 - log det
P_MM / 2``; its statistics are ``r e`` and ``r e e^T``, to which each
pattern adds its summed responsibilities times ``P_MM^-1``. 'diag' and
'spherical' fill the missing coordinates with the component's mean, take
``-sum_M log(precision_cholesky) + |M| log(2 pi) / 2`` per pattern, and add
the variances. 'tied' sums its ``u_i = sum_k r_ik e_ik`` from the
completed copies and corrects its pairs per pattern (see
:func:`_tied_missing_accumulate`). Nothing per point is stored beyond the
block's scratch, and every sum runs in an order fixed by the block's
contents, whatever the number of threads.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange
from numba.extending import overload

from .._config import BLOCK_SIZE, FASTMATH
from .gaussian import (
    _diag_component_log_prob,
    _diag_log_prob,
    _diagonal_accumulate,
    _diagonal_component_accumulate,
    _float64_rows,
    _full_accumulate,
    _full_component_accumulate,
    _full_component_log_prob,
    _full_log_prob,
    _statistics_rows,
    _tied_accumulate,
    _tied_component_moments,
    _tied_log_prob,
    _tied_scatter,
    _tied_weights,
    _triangular_component_log_prob,
    work_rows,
)
from ._fused import _typed, register_family_kernels

__all__ = [
    "DiagMissingParams",
    "FullMissingParams",
    "TiedMissingParams",
    "impute_rows",
    "missing_work_rows",
]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class FullMissingParams(NamedTuple):
    """:class:`~fastem.kernels.gaussian.FullParams` and the precisions, for data with NaN."""

    means: np.ndarray  # (n_components, n_features)
    precisions_cholesky: np.ndarray  # (n_components, n_features, n_features), upper
    log_norm: np.ndarray  # (n_components,)
    precisions: np.ndarray  # (n_components, n_features, n_features)


class TiedMissingParams(NamedTuple):
    """:class:`~fastem.kernels.gaussian.TiedParams` and the shared precision, for data with NaN."""

    means: np.ndarray
    precisions_cholesky: np.ndarray  # (n_features, n_features), upper
    log_norm: np.ndarray
    shift: np.ndarray
    mapped_means: np.ndarray
    precisions: np.ndarray  # (n_features, n_features)


class DiagMissingParams(NamedTuple):
    """:class:`~fastem.kernels.gaussian.DiagParams` and per-feature terms, for data with NaN."""

    means: np.ndarray  # (n_components, n_features)
    half_scales: np.ndarray  # (n_components, n_features)
    log_norm: np.ndarray  # (n_components,)
    feature_log_norm: np.ndarray  # (n_components, n_features): log precision_cholesky - log(2 pi) / 2
    variances: np.ndarray  # (n_components, n_features)


_JIT = dict(cache=True, fastmath=FASTMATH)

# Slots of the open-addressing table that groups a block's points by
# pattern: twice the most patterns a block can have, so that probes stay short.
_SLOTS = 2 * BLOCK_SIZE
# Features up to which a pattern's key (a bit per missing coordinate) is
# exact; from there on, points with equal keys are compared coordinate by
# coordinate.
_KEY_BITS = 62


@njit(**_JIT)
def _scratch_length(n_features):
    """Float64 entries of the per-partition scratch that groups a block's points by pattern."""
    return 12 * BLOCK_SIZE + 1 + 6 * n_features + 3 * n_features * n_features


def missing_work_rows(n_features):
    """Rows of per-partition scratch: the complete-data blocks' rows, the completed block, float64 scratch."""
    return work_rows(n_features) + n_features + 2 * -(-_scratch_length(n_features) // BLOCK_SIZE)


@njit(inline="always", **_JIT)
def _pattern_scratch(work, n_features):
    """Views in the last rows of ``work``.

    Returns ``(completed, keys, points, member, order, first, starts, slots,
    slot_keys, cursor, corrections, miss, dev, spare, factor, rows, inverse)``:
    the completed block (n_features rows of the data's dtype), then int64
    and float64 vectors (see :func:`_group_patterns` and the blocks).
    """
    D = n_features
    B = BLOCK_SIZE
    count = -(-_scratch_length(D) // work.shape[1])
    first_row = work.shape[0] - count * (8 // work.itemsize)
    completed = work[first_row - D : first_row]
    flat = _float64_rows(work, first_row, count).reshape(-1)
    ints = flat.view(np.int64)
    o = 12 * B + 1
    return (
        completed,
        ints[:B],  # keys
        ints[B : 2 * B],  # points
        ints[2 * B : 3 * B],  # member
        ints[3 * B : 4 * B],  # order
        ints[4 * B : 5 * B],  # first
        ints[5 * B : 6 * B + 1],  # starts
        ints[6 * B + 1 : 8 * B + 1],  # slots
        ints[8 * B + 1 : 10 * B + 1],  # slot_keys
        ints[10 * B + 1 : 11 * B + 1],  # cursor
        flat[11 * B + 1 : 12 * B + 1],  # corrections
        ints[o : o + D],  # miss
        flat[o + D : o + 4 * D],  # dev: three vectors
        flat[o + 4 * D : o + 6 * D],  # spare: two vectors
        flat[o + 6 * D : o + 6 * D + D * D],  # factor
        flat[o + 6 * D + D * D : o + 6 * D + 2 * D * D],  # rows
        flat[o + 6 * D + 2 * D * D : o + 6 * D + 3 * D * D],  # inverse
    )


@njit(inline="always", **_JIT)
def _has_nan(xt, n):
    """Whether a NaN is among the block's first n points: one vectorised sum of ``x * 0``.

    ``x * 0`` is 0 for a finite entry and NaN for a NaN, so the sum never
    overflows; a block without NaN costs one multiply-add per entry.
    """
    zero = _typed(xt, 0.0)
    s = zero
    for j in range(xt.shape[0]):
        row = xt[j]
        for i in range(n):
            s += row[i] * zero
    return s != zero


@njit(inline="always", **_JIT)
def _incomplete_points(xt, n, keys, points):
    """OUT keys[i]: a bit per missing coordinate of point i (coordinate modulo ``_KEY_BITS``);
    points[:count]: the points with a NaN, in order. Returns count.

    The keys are built in one branch-free pass per feature over the points.
    """
    for i in range(n):
        keys[i] = 0
    for j in range(xt.shape[0]):
        row = xt[j]
        bit = np.int64(1) << (j % _KEY_BITS)
        for i in range(n):
            keys[i] |= bit if row[i] != row[i] else np.int64(0)
    count = 0
    for i in range(n):
        if keys[i] != 0:
            points[count] = i
            count += 1
    return count


@njit(inline="always", **_JIT)
def _missing_coordinates(xt, i, miss):
    """OUT miss[:count]: the missing coordinates of point i, ascending; returns count."""
    count = 0
    for j in range(xt.shape[0]):
        v = xt[j, i]
        if v != v:
            miss[count] = j
            count += 1
    return count


@njit(inline="always", **_JIT)
def _same_pattern(xt, i, l):
    for j in range(xt.shape[0]):
        if (xt[j, i] != xt[j, i]) != (xt[j, l] != xt[j, l]):
            return False
    return True


@njit(**_JIT)
def _group_patterns(xt, n, keys, points, member, order, first, starts, slots, slot_keys, cursor):
    """Group the block's points with NaN by missingness pattern; returns the number of groups.

    OUT ``order[starts[g]:starts[g + 1]]``: the points of group g, ascending;
    ``first[g]``: its first point. Groups are numbered in the order of their
    first points, so the grouping depends on the block's contents only. The
    groups are found through an open-addressing table on the points' keys
    (``slots``, ``slot_keys``; keys of more than ``_KEY_BITS`` features
    are checked coordinate by coordinate), then the points are placed by a
    counting sort (``member``, ``cursor``).
    """
    if not _has_nan(xt, n):
        return 0
    count = _incomplete_points(xt, n, keys, points)
    n_features = xt.shape[0]
    for h in range(_SLOTS):
        slots[h] = -1
    n_groups = 0
    for t in range(count):
        i = points[t]
        key = keys[i]
        # Fibonacci hashing: the top bits of the key times 2^64 / golden ratio.
        h = ((key * np.int64(-7046029254386353131)) >> 40) & (_SLOTS - 1)
        while True:
            g = slots[h]
            if g < 0:
                g = n_groups
                n_groups += 1
                slots[h] = g
                slot_keys[h] = key
                first[g] = i
                starts[g + 1] = 0
                break
            if slot_keys[h] == key and (
                n_features <= _KEY_BITS or _same_pattern(xt, first[g], i)
            ):
                break
            h = (h + 1) & (_SLOTS - 1)
        member[t] = g
        starts[g + 1] += 1
    starts[0] = 0
    for g in range(n_groups):
        starts[g + 1] += starts[g]
        cursor[g] = starts[g]
    for t in range(count):
        g = member[t]
        order[cursor[g]] = points[t]
        cursor[g] += 1
    return n_groups


@njit(inline="always", **_JIT)
def _copy_block(xt, n, completed):
    """OUT completed[:, :n] = xt[:, :n] with 0 for NaN."""
    zero = _typed(xt, 0.0)
    for j in range(xt.shape[0]):
        row = xt[j]
        out = completed[j]
        for i in range(n):
            v = row[i]
            out[i] = v if v == v else zero


@njit(inline="always", **_JIT)
def _dense_pattern(precisions, k, means, miss, n_miss, factor, rows, dev):
    """Factor component k's ``P_MM``; copy its ``P_MO``.

    OUT ``factor``: the lower Cholesky factor ``L`` of ``P_MM`` (row-major,
    stride n_features), and ``dev[:n_miss]`` its reciprocal diagonal;
    ``rows``: ``P_M.`` with 0 at the missing coordinates (n_miss rows of
    stride n_features); ``dev[n_features:][a] = rows[a] . means[k]``.
    Returns ``log det P_MM / 2``. Only ``P_MM`` is factored: a point's
    conditional mean then costs ``rows . x`` and two triangular solves of
    size n_miss, as much as a product with a precomputed
    ``P_MM^-1 P_MO``, which would cost n_miss solves of n_features per
    pattern. (``means`` and ``k``, not a row view: a view costs a
    reference count update on the shared array, which threads contend for.)
    """
    D = precisions.shape[-1]
    half_log_det = 0.0
    product = 1.0
    for a in range(n_miss):
        for c in range(a + 1):
            s = _precision(precisions, k, miss[a], miss[c])
            for p in range(c):
                s -= factor[a * D + p] * factor[c * D + p]
            if a == c:
                root = np.sqrt(s)
                factor[a * D + a] = root
                dev[a] = 1.0 / root
                product *= root
                if not 1e-100 < product < 1e100:
                    half_log_det += np.log(product)
                    product = 1.0
            else:
                factor[a * D + c] = s * dev[c]
    half_log_det += np.log(product)
    for a in range(n_miss):
        row = miss[a]
        for j in range(D):
            rows[a * D + j] = _precision(precisions, k, row, j)
        for c in range(n_miss):
            rows[a * D + miss[c]] = 0.0
        s = 0.0
        for j in range(D):
            s += rows[a * D + j] * np.float64(means[k, j])
        dev[D + a] = s
    return half_log_det


@njit(inline="always", **_JIT)
def _conditional_deviation(factor, n_miss, dev, D):
    """INOUT dev[2D:2D + n_miss]: ``b = P_MO d_O`` in, ``P_MM^-1 b`` out (``L L^T``, reciprocal diagonal ``dev[:D]``)."""
    b = 2 * D
    for a in range(n_miss):
        s = dev[b + a]
        for p in range(a):
            s -= factor[a * D + p] * dev[b + p]
        dev[b + a] = s * dev[a]
    for a in range(n_miss - 1, -1, -1):
        s = dev[b + a]
        for p in range(a + 1, n_miss):
            s -= factor[p * D + a] * dev[b + p]
        dev[b + a] = s * dev[a]


@njit(inline="always", **_JIT)
def _fill_conditional_means(completed, order, begin, end, means, k, miss, n_miss, factor, rows, dev):
    """OUT completed[M, i] = m_M - P_MM^-1 P_MO (x_O - m_O), ``m = means[k]``, for the points order[begin:end].

    ``factor``, ``rows`` and ``dev`` from :func:`_dense_pattern`;
    ``completed`` holds the points' observed coordinates (and finite
    values at M, which ``rows`` ignores).
    """
    D = completed.shape[0]
    for t in range(begin, end):
        i = order[t]
        for a in range(n_miss):
            s = 0.0
            for j in range(D):
                s += rows[a * D + j] * np.float64(completed[j, i])
            dev[2 * D + a] = s - dev[D + a]
        _conditional_deviation(factor, n_miss, dev, D)
        for a in range(n_miss):
            m = miss[a]
            completed[m, i] = np.float64(means[k, m]) - dev[2 * D + a]


@njit(inline="always", **_JIT)
def _add_inverse(factor, n_miss, miss, weight, inverse, stats, offset, n_features):
    """INOUT lower triangle of stats[offset:].reshape(D, D)[M, M] += weight P_MM^-1, from its factor."""
    D = n_features
    # V = L^-1 (lower) by forward substitution; P_MM^-1 = V^T V.
    for c in range(n_miss):
        for a in range(c, n_miss):
            s = 1.0 if a == c else 0.0
            for p in range(c, a):
                s -= factor[a * D + p] * inverse[p * D + c]
            inverse[a * D + c] = s / factor[a * D + a]
    for a in range(n_miss):
        out = offset + miss[a] * D
        for c in range(a + 1):
            s = 0.0
            for p in range(a, n_miss):
                s += inverse[p * D + a] * inverse[p * D + c]
            stats[out + miss[c]] += weight * s


# -- what differs between the covariance types, chosen when a block is compiled


def _precision(precisions, k, j, l):
    """Entry (j, l) of component k's precision: 'full' has one per component, 'tied' one (Numba only).

    Entries, not row views: a view made per point costs a reference count
    update on the shared array, which the threads then contend for.
    """
    raise NotImplementedError("_precision is only callable from Numba code")


@overload(_precision, inline="always", jit_options=_JIT)
def _overload_precision(precisions, k, j, l):
    if precisions.ndim == 3:
        return lambda precisions, k, j, l: np.float64(precisions[k, j, l])
    return lambda precisions, k, j, l: np.float64(precisions[j, l])


def _complete_log_prob(params, xt, n, log_prob, work, prefetch):
    """The complete-data log-density block of the params' covariance type (Numba only)."""
    raise NotImplementedError("_complete_log_prob is only callable from Numba code")


def _complete_accumulate(params, xt, n, resp, work, stats, prefetch):
    """The complete-data statistics block of the params' covariance type (Numba only)."""
    raise NotImplementedError("_complete_accumulate is only callable from Numba code")


def _component_log_prob(params, k, xt, n, out, work, prefetch):
    """The complete-data log-densities of component k on the block (Numba only)."""
    raise NotImplementedError("_component_log_prob is only callable from Numba code")


def _component_accumulate(params, k, xt, n, resp_k, work, stats, prefetch):
    """The complete-data statistics of component k on the block (Numba only)."""
    raise NotImplementedError("_component_accumulate is only callable from Numba code")


def _complete_group(params, k, xt, completed, order, begin, end, row, scratch):
    """Fill the missing coordinates of a pattern's points with component k's conditional means.

    OUT ``completed[M, order[begin:end]]``; ``scratch`` (miss, dev,
    factor, rows) holds the pattern's terms afterwards. Returns ``(n_miss, c)``:
    the log-density of a point's observed coordinates is the complete-data
    log-density of its completed copy plus ``c`` (Numba only).
    """
    raise NotImplementedError("_complete_group is only callable from Numba code")


def _add_conditional_covariance(params, k, weight, n_miss, scratch, inverse, stats):
    """Add ``weight`` times component k's conditional covariance of the missing coordinates (Numba only)."""
    raise NotImplementedError("_add_conditional_covariance is only callable from Numba code")


def _kind(params):
    cls = getattr(params, "instance_class", None)
    return {FullMissingParams: "full", TiedMissingParams: "tied", DiagMissingParams: "diag"}.get(cls)


@overload(_complete_log_prob, inline="always", jit_options=_JIT)
def _overload_complete_log_prob(params, xt, n, log_prob, work, prefetch):
    block = {"full": _full_log_prob, "tied": _tied_log_prob, "diag": _diag_log_prob}.get(_kind(params))
    if block is not None:
        return lambda params, xt, n, log_prob, work, prefetch: block(
            params, xt, n, log_prob, work, prefetch
        )
    return None


@overload(_complete_accumulate, inline="always", jit_options=_JIT)
def _overload_complete_accumulate(params, xt, n, resp, work, stats, prefetch):
    block = {
        "full": _full_accumulate, "tied": _tied_accumulate, "diag": _diagonal_accumulate
    }.get(_kind(params))
    if block is not None:
        return lambda params, xt, n, resp, work, stats, prefetch: block(
            params, xt, n, resp, work, stats, prefetch
        )
    return None


@overload(_component_log_prob, inline="always", jit_options=_JIT)
def _overload_component_log_prob(params, k, xt, n, out, work, prefetch):
    if _kind(params) == "tied":
        return lambda params, k, xt, n, out, work, prefetch: _triangular_component_log_prob(
            xt, n, params.means[k], params.precisions_cholesky, params.log_norm[k], out, work,
            prefetch,
        )
    block = {"full": _full_component_log_prob, "diag": _diag_component_log_prob}.get(_kind(params))
    if block is not None:
        return lambda params, k, xt, n, out, work, prefetch: block(
            params, k, xt, n, out, work, prefetch
        )
    return None


@overload(_component_accumulate, inline="always", jit_options=_JIT)
def _overload_component_accumulate(params, k, xt, n, resp_k, work, stats, prefetch):
    block = {
        "full": _full_component_accumulate, "diag": _diagonal_component_accumulate
    }.get(_kind(params))
    if block is not None:
        return lambda params, k, xt, n, resp_k, work, stats, prefetch: block(
            params, k, xt, n, resp_k, work, stats, prefetch
        )
    return None


@overload(_complete_group, inline="always", jit_options=_JIT)
def _overload_complete_group(params, k, xt, completed, order, begin, end, row, scratch):
    kind = _kind(params)
    if kind in ("full", "tied"):

        def dense(params, k, xt, completed, order, begin, end, row, scratch):
            miss, dev, factor, rows = scratch
            n_miss = _missing_coordinates(xt, row, miss)
            half_log_det = _dense_pattern(
                params.precisions, k, params.means, miss, n_miss, factor, rows, dev
            )
            _fill_conditional_means(
                completed, order, begin, end, params.means, k, miss, n_miss, factor, rows, dev
            )
            return n_miss, n_miss * _HALF_LOG_2PI - half_log_det

        return dense
    if kind == "diag":

        def diagonal(params, k, xt, completed, order, begin, end, row, scratch):
            miss = scratch[0]
            n_miss = _missing_coordinates(xt, row, miss)
            c = 0.0
            for a in range(n_miss):
                c -= np.float64(params.feature_log_norm[k, miss[a]])
            for t in range(begin, end):
                i = order[t]
                for a in range(n_miss):
                    completed[miss[a], i] = params.means[k, miss[a]]
            return n_miss, c

        return diagonal
    return None


@overload(_add_conditional_covariance, inline="always", jit_options=_JIT)
def _overload_add_conditional_covariance(params, k, weight, n_miss, scratch, inverse, stats):
    kind = _kind(params)
    if kind == "full":

        def dense(params, k, weight, n_miss, scratch, inverse, stats):
            n_components, D = params.means.shape
            miss, _, factor, _ = scratch
            _add_inverse(factor, n_miss, miss, weight, inverse, stats, (n_components + k * D) * D, D)

        return dense
    if kind == "diag":

        def diagonal(params, k, weight, n_miss, scratch, inverse, stats):
            n_components, D = params.means.shape
            miss = scratch[0]
            squares = (n_components + k) * D
            for a in range(n_miss):
                stats[squares + miss[a]] += weight * np.float64(params.variances[k, miss[a]])

        return diagonal
    return None


@njit(inline="always", **_JIT)
def _grouped_block(xt, n, work):
    """Group the block's incomplete points and copy the block, NaN as 0, if it has any.

    Returns ``(n_groups, (completed, order, first, starts, corrections, miss,
    dev, spare, factor, rows, inverse))``: the views of :func:`_pattern_scratch`
    the blocks use; with ``n_groups == 0`` the block has no NaN and
    nothing is copied.
    """
    (completed, keys, points, member, order, first, starts, slots, slot_keys, cursor,
     corrections, miss, dev, spare, factor, rows, inverse) = _pattern_scratch(work, xt.shape[0])
    n_groups = _group_patterns(
        xt, n, keys, points, member, order, first, starts, slots, slot_keys, cursor
    )
    if n_groups > 0:
        _copy_block(xt, n, completed)
    return n_groups, (
        completed, order, first, starts, corrections, miss, dev, spare, factor, rows, inverse
    )


# -- the blocks


@njit(**_JIT)
def _missing_log_prob(params, xt, n, log_prob, work, prefetch):
    """Log-densities of the observed coordinates, component by component, on a completed copy.

    A block without NaN takes the complete-data block. Otherwise, for each
    component, the missing coordinates of every point are filled with their
    conditional means (one factorisation per pattern and component), the
    component's complete-data log-density runs on the completed block, and
    each pattern's term is added to its points.
    """
    n_groups, views = _grouped_block(xt, n, work)
    if n_groups == 0:
        _complete_log_prob(params, xt, n, log_prob, work, prefetch)
        return
    completed, order, first, starts, corrections, miss, dev, _, factor, rows, _ = views
    scratch = (miss, dev, factor, rows)
    n_components = params.means.shape[0]
    for k in range(n_components):
        for g in range(n_groups):
            corrections[g] = _complete_group(
                params, k, xt, completed, order, starts[g], starts[g + 1], first[g], scratch
            )[1]
        out = log_prob[k]
        _component_log_prob(params, k, completed, n, out, work, prefetch)
        for g in range(n_groups):
            c = _typed(out, corrections[g])
            for t in range(starts[g], starts[g + 1]):
                out[order[t]] += c


@njit(**_JIT)
def _missing_accumulate(params, xt, n, resp, work, stats, prefetch):
    """Expected statistics of 'full' and 'diag' components, component by component.

    The complete-data statistics of the block completed with the
    component's conditional means, and per pattern the points' summed
    responsibilities times the component's conditional covariance of the
    missing coordinates.
    """
    n_groups, views = _grouped_block(xt, n, work)
    if n_groups == 0:
        _complete_accumulate(params, xt, n, resp, work, stats, prefetch)
        return
    completed, order, first, starts, _, miss, dev, _, factor, rows, inverse = views
    scratch = (miss, dev, factor, rows)
    n_components = params.means.shape[0]
    for k in range(n_components):
        r = resp[k]
        for g in range(n_groups):
            begin, end = starts[g], starts[g + 1]
            n_miss = _complete_group(params, k, xt, completed, order, begin, end, first[g], scratch)[0]
            weight = 0.0
            for t in range(begin, end):
                weight += np.float64(r[order[t]])
            _add_conditional_covariance(params, k, weight, n_miss, scratch, inverse, stats)
        _component_accumulate(params, k, completed, n, r, work, stats, prefetch)


@njit(**_JIT)
def _tied_missing_accumulate(params, xt, n, resp, work, stats, prefetch):
    """The 'tied' statistics (see ``gaussian._tied_accumulate``) of the completed copies.

    ``u_i = sum_k r_ik e_ik`` is summed from each component's completed
    copy. A point of pattern ``(O, M)`` has ``e_ik - e_il = -c_kl``, with
    ``c_kl`` the difference ``m_k - m_l`` whose missing coordinates are
    replaced by ``-P_MM^-1 P_MO (m_k - m_l)_O``, the same for every point of
    the pattern. The pairs ``Q_kl``, summed over all points as for complete
    data, stand for ``(m_k - m_l)(m_k - m_l)^T``; per pattern, ``Q_kl (c_kl
    c_kl^T - (m_k - m_l)(m_k - m_l)^T)`` is added to ``sxx`` (0 outside the
    rows and columns of ``M``), and ``sum_i w_i P_MM^-1`` to its ``M x M`` block.
    """
    n_groups, views = _grouped_block(xt, n, work)
    if n_groups == 0:
        _complete_accumulate(params, xt, n, resp, work, stats, prefetch)
        return
    completed, order, first, starts, _, miss, dev, spare, factor, rows, inverse = views
    scratch = (miss, dev, factor, rows)
    n_components, D = params.means.shape
    diff = spare[:D]
    h = spare[D:]
    inv_w = work[0]
    u, d, square = _statistics_rows(work, D)
    _tied_weights(resp, n, inv_w)
    for k in range(n_components):
        for g in range(n_groups):
            _complete_group(params, k, xt, completed, order, starts[g], starts[g + 1], first[g], scratch)
        _tied_component_moments(params, k, completed, n, resp[k], u, stats, prefetch)
    _tied_scatter(n, resp, inv_w, u, d, square, stats, prefetch)
    second = n_components * D
    for g in range(n_groups):
        begin, end = starts[g], starts[g + 1]
        n_miss = _missing_coordinates(xt, first[g], miss)
        _dense_pattern(params.precisions, 0, params.means, miss, n_miss, factor, rows, dev)
        weight = 0.0
        for t in range(begin, end):
            for k in range(n_components):
                weight += np.float64(resp[k, order[t]])
        _add_inverse(factor, n_miss, miss, weight, inverse, stats, second, D)
        for k in range(n_components - 1):
            r_k = resp[k]
            for l in range(k + 1, n_components):
                r_l = resp[l]
                q = 0.0
                for t in range(begin, end):
                    i = order[t]
                    q += np.float64(r_k[i] * inv_w[i] * r_l[i])
                for j in range(D):
                    diff[j] = np.float64(params.means[k, j]) - np.float64(params.means[l, j])
                    h[j] = 0.0
                # h = c_kl - diff, 0 at O.
                for a in range(n_miss):
                    s = 0.0
                    for j in range(D):
                        s += rows[a * D + j] * diff[j]
                    dev[2 * D + a] = s
                _conditional_deviation(factor, n_miss, dev, D)
                for a in range(n_miss):
                    h[miss[a]] = -dev[2 * D + a] - diff[miss[a]]
                # Lower triangle of q (diff h^T + h diff^T + h h^T): row j of M up to
                # the diagonal, then column j below it at the observed coordinates.
                for a in range(n_miss):
                    j = miss[a]
                    out = second + j * D
                    for c in range(j + 1):
                        stats[out + c] += q * (diff[j] * h[c] + h[j] * diff[c] + h[j] * h[c])
                    b = a + 1
                    for c in range(j + 1, D):
                        if b < n_miss and miss[b] == c:
                            b += 1
                        else:
                            stats[second + c * D + j] += q * (h[j] * diff[c])


_K, _D = "n_components", "n_features"
register_family_kernels(
    FullMissingParams, _missing_log_prob, _missing_accumulate,
    shapes={
        "means": (_K, _D), "precisions_cholesky": (_K, _D, _D), "log_norm": (_K,),
        "precisions": (_K, _D, _D),
    },
)
register_family_kernels(
    TiedMissingParams, _missing_log_prob, _tied_missing_accumulate,
    shapes={
        "means": (_K, _D), "precisions_cholesky": (_D, _D), "log_norm": (_K,),
        "shift": (_D,), "mapped_means": (_K, _D), "precisions": (_D, _D),
    },
)
register_family_kernels(
    DiagMissingParams, _missing_log_prob, _missing_accumulate,
    shapes={
        "means": (_K, _D), "half_scales": (_K, _D), "log_norm": (_K,),
        "feature_log_norm": (_K, _D), "variances": (_K, _D),
    },
)


# -- imputation


@njit(inline="always", **_JIT)
def _pattern(xt, i, obs, miss):
    """OUT obs, miss: the observed and missing coordinates of point i, ascending; returns counts."""
    n_obs = 0
    n_miss = 0
    for j in range(xt.shape[0]):
        v = xt[j, i]
        if v != v:
            miss[n_miss] = j
            n_miss += 1
        else:
            obs[n_obs] = j
            n_obs += 1
    return n_obs, n_miss


@njit(**_JIT)
def _dense_conditional(xt, i, means, precisions, k, miss, n_miss, e, b, factor):
    """Completed deviation of point i and its marginal terms, for component k's dense precision ``P``.

    OUT ``e`` (float64, all coordinates): ``x_O - m_O`` and ``-P_MM^-1 P_MO (x_O - m_O)``;
    ``factor``: the lower Cholesky factor of ``P_MM`` (row-major, stride n_features).
    Returns ``(mahalanobis, half_log_det)``: ``(x_O - m_O)^T Sigma_OO^-1 (x_O - m_O)``
    and ``log det P_MM / 2``.
    """
    D = xt.shape[0]
    # e = x - m with 0 at the missing coordinates: the products below run over
    # every coordinate, contiguous rows of P, without indirection.
    for j in range(D):
        v = np.float64(xt[j, i])
        e[j] = 0.0 if v != v else v - np.float64(means[k, j])
    quadratic = 0.0
    for j in range(D):
        s = 0.0
        for l in range(D):
            s += _precision(precisions, k, j, l) * e[l]
        quadratic += e[j] * s
    for a in range(n_miss):
        row = int(miss[a])
        s = 0.0
        for l in range(D):
            s += _precision(precisions, k, row, l) * e[l]
        b[a] = s
    # log det P_MM / 2 is the log of the product of the factor's diagonal: one
    # log per point (a log per coordinate was half the cost of the row),
    # folded into the sum before the product could leave float64's range.
    half_log_det = 0.0
    product = 1.0
    for a in range(n_miss):
        for c in range(a + 1):
            s = _precision(precisions, k, int(miss[a]), int(miss[c]))
            for p in range(c):
                s -= factor[a * D + p] * factor[c * D + p]
            if a == c:
                root = np.sqrt(s)
                factor[a * D + a] = root
                product *= root
                if not 1e-100 < product < 1e100:
                    half_log_det += np.log(product)
                    product = 1.0
            else:
                factor[a * D + c] = s / factor[c * D + c]
    half_log_det += np.log(product)
    # L y = b, then b^T P_MM^-1 b = |y|^2 and L^T c = y; y and c overwrite b.
    explained = 0.0
    for a in range(n_miss):
        s = b[a]
        for p in range(a):
            s -= factor[a * D + p] * b[p]
        s /= factor[a * D + a]
        b[a] = s
        explained += s * s
    for a in range(n_miss - 1, -1, -1):
        s = b[a]
        for p in range(a + 1, n_miss):
            s -= factor[p * D + a] * b[p]
        b[a] = s / factor[a * D + a]
        e[int(miss[a])] = -b[a]
    return quadratic - explained, half_log_det


def _row_conditional(params, k, xt, i, obs, n_obs, miss, n_miss, e, b, factor):
    """OUT e[M]: the conditional mean of point i's missing coordinates less component k's mean.

    For a dense precision, ``factor`` holds the lower Cholesky factor of
    ``P_MM`` afterwards (Numba only).
    """
    raise NotImplementedError("_row_conditional is only callable from Numba code")


def _row_draw(params, k, e, miss, n_miss, factor, normals, i, v):
    """INOUT e[M] += a draw of N(0, Sigma_MM|O) from standard normals ``normals[i, M]``; v scratch (Numba only)."""
    raise NotImplementedError("_row_draw is only callable from Numba code")


@overload(_row_conditional, jit_options=_JIT)
def _overload_row_conditional(params, k, xt, i, obs, n_obs, miss, n_miss, e, b, factor):
    kind = _kind(params)
    if kind in ("full", "tied"):

        def dense(params, k, xt, i, obs, n_obs, miss, n_miss, e, b, factor):
            _dense_conditional(xt, i, params.means, params.precisions, k, miss, n_miss, e, b, factor)

        return dense
    if kind == "diag":

        def diagonal(params, k, xt, i, obs, n_obs, miss, n_miss, e, b, factor):
            for a in range(n_miss):
                e[int(miss[a])] = 0.0

        return diagonal
    return None


@overload(_row_draw, jit_options=_JIT)
def _overload_row_draw(params, k, e, miss, n_miss, factor, normals, i, v):
    kind = _kind(params)
    if kind in ("full", "tied"):

        def dense(params, k, e, miss, n_miss, factor, normals, i, v):
            # Sigma_MM|O = P_MM^-1 = L^-T L^-1: v = L^-T z has that covariance (L^T v = z).
            D = e.shape[0]
            for a in range(n_miss - 1, -1, -1):
                s = np.float64(normals[i, int(miss[a])])
                for p in range(a + 1, n_miss):
                    s -= factor[p * D + a] * v[p]
                v[a] = s / factor[a * D + a]
                e[int(miss[a])] += v[a]

        return dense
    if kind == "diag":

        def diagonal(params, k, e, miss, n_miss, factor, normals, i, v):
            for a in range(n_miss):
                m = int(miss[a])
                e[m] += np.sqrt(np.float64(params.variances[k, m])) * np.float64(normals[i, m])

        return diagonal
    return None


@njit(**_JIT)
def _impute_range(X, resp, params, choices, normals, out, first, stop, scratch):
    """Rows ``first:stop`` of :func:`impute_rows`, with the row's scratch ``scratch``."""
    D = X.shape[1]
    n_components = resp.shape[1]
    draw = choices.shape[0] > 0
    xt = X.T
    obs = scratch[:D]
    miss = scratch[D : 2 * D]
    e = scratch[2 * D : 3 * D]
    b = scratch[3 * D : 4 * D]
    filled = scratch[4 * D : 5 * D]
    factor = scratch[5 * D : 5 * D + D * D]
    for i in range(first, stop):
        n_obs, n_miss = _pattern(xt, i, obs, miss)
        for j in range(D):
            out[i, j] = X[i, j]
        if n_miss == 0:
            continue
        for a in range(n_miss):
            filled[a] = 0.0
        if draw:
            k = n_components - 1
            cumulative = 0.0
            for c in range(n_components):
                cumulative += np.float64(resp[i, c])
                if choices[i] < cumulative:
                    k = c
                    break
            _row_conditional(params, k, xt, i, obs, n_obs, miss, n_miss, e, b, factor)
            _row_draw(params, k, e, miss, n_miss, factor, normals, i, b)
            for a in range(n_miss):
                filled[a] = np.float64(params.means[k, int(miss[a])]) + e[int(miss[a])]
        else:
            for k in range(n_components):
                r = np.float64(resp[i, k])
                if r > 0.0:
                    _row_conditional(params, k, xt, i, obs, n_obs, miss, n_miss, e, b, factor)
                    for a in range(n_miss):
                        m = int(miss[a])
                        filled[a] += r * (np.float64(params.means[k, m]) + e[m])
        for a in range(n_miss):
            out[i, int(miss[a])] = filled[a]


# Runs of rows imputed in parallel, each with its own scratch: a constant, so
# that the result does not depend on the number of threads.
_IMPUTE_PARTITIONS = 16


def _impute_rows(X, resp, params, choices, normals, out):
    """Fill the NaN entries of ``X`` into ``out``: conditional means, or draws.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), IN
    resp : ndarray of shape (n_samples, n_components), IN
        The posterior probabilities of the components given each row's observed
        coordinates.
    params : FullMissingParams, TiedMissingParams or DiagMissingParams, IN
    choices : ndarray of shape (n_samples,) or (0,), IN
        Uniform numbers in [0, 1): with them, each incomplete row draws its
        component from ``resp`` and its missing coordinates from that
        component's conditional distribution (standard normals ``normals``,
        shape (n_samples, n_features)); empty for conditional expectations
        ``sum_k resp_k E_k[x_M | x_O]``.
    out : ndarray of shape (n_samples, n_features), OUT
        ``X`` with its NaN entries filled.

    Runs of rows are imputed in parallel, each with its own scratch.
    """
    n_samples, D = X.shape
    n_parts = _IMPUTE_PARTITIONS if n_samples >= BLOCK_SIZE else 1
    scratch = np.empty((n_parts, 5 * D + D * D))
    for t in prange(n_parts):
        _impute_range(
            X, resp, params, choices, normals, out, t * n_samples // n_parts,
            (t + 1) * n_samples // n_parts, scratch[t],
        )


impute_rows = njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH)(_impute_rows)
