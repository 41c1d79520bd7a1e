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

The driver runs the complete-data kernel itself on data without NaN (its
scan for patterns finds none). On data with NaN:

'full' and 'tied': before the pass, one scan of the rows
(:func:`scan_patterns`) finds the distinct missingness patterns, and each
pattern is factored once per pass and component ('full') or once per pass
('tied'), most frequent patterns first, within a budget
(:func:`pattern_table`): its regression ``P_MM^-1 P_MO``, its log-density
term ``|M| log(2 pi) / 2 - log det P_MM / 2`` and ``P_MM^-1``. In the pass,
a block without NaN runs the complete-data block of
:mod:`fastem.kernels.gaussian`. A block with NaN groups its incomplete
points by pattern (an open-addressing table on a bit per missing
coordinate, then a counting sort of the block's point indices), finds each
group's pattern in the pass's table, and copies itself into the
per-partition scratch once per component, centred on that component's mean
(``d = x - m``, 0 for NaN). The conditional deviations of the missing
coordinates of the points of tabled patterns (``-P_MM^-1 P_MO d_O``, the
conditional mean less ``m_M``) are written into every component's copy
first (:func:`_fill_tabled`): one vector per missing coordinate holds as
many components as a register has float64 lanes
(:func:`~fastem.kernels._tiles.regress_components`); a product per
component, the same arithmetic scalar, had taken 1.3 times the
complete-data pass at 8 features, 4 components and 10% of entries
missing. A pattern outside the table has its ``P_MM`` factored per block
and component, and its points filled then. So each point's column of a
component's copy is its completed deviation ``e``, and a fill is of the
size of the spread, whatever the distance of the means from the origin.
Component by component, the complete-data blocks (vectorised over the
points, tiled from 12 features on) then run on the component's copy
without centring it again (the copy takes the place of the centred block
they would build): its log-density is ``e^T P e`` plus the pattern's term;
its statistics are ``r e`` and ``r e e^T`` (about the component's mean, as
for complete data), to which each pattern adds its summed responsibilities
times ``P_MM^-1``: the blocks sum the responsibilities per pattern, and the
products are added once per pass (:func:`pattern_weight_entries`). The
statistics block reuses the grouping and the copies that the log-density
block left in the scratch (one copy refilled per component instead cost
0.3 of the complete-data pass more in restores).
'tied' sums its ``u_i = sum_k r_ik e_ik`` from the completed copies and
corrects its pairs per pattern (see :func:`_tied_missing_accumulate`).

'diag' and 'spherical' run the complete-data blocks on the block itself,
with NaN entries dropping out: each subtracts its feature's share of the
normalising constant, ``log(precision_cholesky) - log(2 pi) / 2``, instead
of its square, adds 0 to the first moments and its responsibility times
the variance to the squares.

Every statistics block also sums, where each feature is observed, each
component's responsibilities (``observed_nk``, n_components x n_features),
their deviations from its mean (``observed_sx``) and their squares summed
over the components (``observed_sxx``, n_features): a component with no
observed mass in a feature is not identified there, and the M-step gives it
the data's mean and variance of the feature, which the sums over the
components give. 'full' and 'tied' sum them in a pass of their own over the
block (:func:`_observed_moments`). 'diag' and 'spherical' sum them in their
pass for the other statistics (``gaussian._first_square_moments``): a NaN
entry adds 0 to ``sx``, so ``observed_sx`` is ``sx``, and the mass and the
squares of the observed entries take an accumulator each next to those of
``sx`` and ``sxx`` (a pass of their own took 4.5 to 5.3 ms of an EM
iteration of 34 ms on one thread, 400,000 points of 16 features, 8
components, 10% of entries missing).

Nothing per point is stored beyond the block's scratch, and every sum runs
in an order fixed by the data, whatever the number of threads.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange
from numba.extending import overload

from .._config import BLOCK_SIZE, FASTMATH, TILE_MIN_FEATURES
from .gaussian import (
    _add_observed_feature,
    _diag_components_log_prob,
    _first_square_moments,
    _float64_rows,
    _full_accumulate,
    _full_component_accumulate,
    _full_log_prob,
    _statistics_rows,
    _tied_accumulate,
    _tied_moments,
    _tied_log_prob,
    _tied_scatter,
    _tied_weights,
    _triangular_log_prob,
    work_rows,
)
from ._fused import _typed, register_family_kernels
from ._memory import prefetch_next
from ._tiles import mahalanobis_block, regress_components, regression_lanes

__all__ = [
    "DiagMissingParams",
    "FullMissingParams",
    "PatternTable",
    "TiedMissingParams",
    "fold_pattern_weights",
    "impute_rows",
    "merge_patterns",
    "missing_work_rows",
    "pattern_sums",
    "pattern_table",
    "pattern_weight_entries",
    "scan_patterns",
]

_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class FullMissingParams(NamedTuple):
    """:class:`~fastem.kernels.gaussian.FullParams` and the precisions, for data with NaN."""

    means: np.ndarray  # (n_components, n_features)
    precisions_cholesky: np.ndarray  # (n_components, n_features, n_features), upper
    log_norm: np.ndarray  # (n_components,)
    precisions: np.ndarray  # (n_components, n_features, n_features)
    origin: np.ndarray  # (n_features,) zeros: the mean of a completed block's deviations
    pattern_slots: np.ndarray  # (n_slots, 2) int64, see PatternTable
    pattern_coordinates: np.ndarray  # (n_patterns, n_features + 1) int64
    pattern_offsets: np.ndarray  # (n_patterns,) int64
    pattern_terms: np.ndarray  # (n_terms,)
    pattern_regressions: np.ndarray  # (n_regression_terms,)
    pattern_regression_offsets: np.ndarray  # (n_patterns,) int64
    pattern_lane_means: np.ndarray  # (n_vectors * n_features * lanes,)


class TiedMissingParams(NamedTuple):
    """:class:`~fastem.kernels.gaussian.TiedParams` and the shared precision, for data with NaN."""

    means: np.ndarray
    precisions_cholesky: np.ndarray  # (n_features, n_features), upper
    log_norm: np.ndarray
    shift: np.ndarray
    mapped_means: np.ndarray
    precisions: np.ndarray  # (n_features, n_features)
    origin: np.ndarray  # (n_features,) zeros
    pattern_slots: np.ndarray
    pattern_coordinates: np.ndarray
    pattern_offsets: np.ndarray
    pattern_terms: np.ndarray
    pattern_regressions: np.ndarray
    pattern_regression_offsets: np.ndarray
    pattern_lane_means: np.ndarray


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
_LAST_BIT = 1 << (_KEY_BITS - 1)


@njit(**_JIT)
def _scratch_length(n_features):
    """Float64 entries of the per-partition scratch that groups a block's points by pattern."""
    return 13 * BLOCK_SIZE + 1 + 5 * n_features + 3 * n_features * n_features


def missing_work_rows(n_features, n_components):
    """Rows of per-partition scratch of 'full' and 'tied': the complete-data blocks' rows,
    the completed blocks, float64 scratch ('diag' and 'spherical' take none).

    ``n_components``: the number of components, each of which has its own
    completed copy of a block (n_features rows) that the log-density block
    fills and the statistics block reads again.
    """
    return (
        work_rows(n_features) + n_components * n_features
        + 2 * -(-_scratch_length(n_features) // BLOCK_SIZE)
    )


@njit(inline="always", **_JIT)
def _first_scratch_row(work, n_features):
    """The first row of ``work`` that :func:`_pattern_scratch`'s float64 vectors take."""
    count = -(-_scratch_length(n_features) // work.shape[1])
    return work.shape[0] - count * (8 // work.itemsize)


@njit(inline="always", **_JIT)
def _pattern_scratch(work, n_features, n_components):
    """Views in the last rows of ``work``.

    Returns ``(completed, keys, points, member, order, first, starts, slots,
    slot_keys, cursor, corrections, tabled, miss, dev, spare, factor, rows,
    inverse)``: the copies of the block (n_components, n_features,
    BLOCK_SIZE) of the data's dtype, one per component, then int64 and
    float64 vectors (see :func:`_group_patterns` and the blocks).
    """
    D = n_features
    B = BLOCK_SIZE
    count = -(-_scratch_length(D) // work.shape[1])
    first_row = _first_scratch_row(work, D)
    completed = work[first_row - n_components * D : first_row].reshape((n_components, D, B))
    flat = _float64_rows(work, first_row, count).reshape(-1)
    ints = flat.view(np.int64)
    o = 13 * B + 1
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
        ints[12 * B + 1 : 13 * B + 1],  # tabled
        ints[o : o + D],  # miss
        flat[o + D : o + 3 * D],  # dev: two vectors
        flat[o + 3 * D : o + 5 * D],  # spare: two vectors
        flat[o + 5 * D : o + 5 * D + D * D],  # factor
        flat[o + 5 * D + D * D : o + 5 * D + 2 * D * D],  # rows
        flat[o + 5 * D + 2 * D * D : o + 5 * D + 3 * D * D],  # inverse
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
    # Branch-free: a branch on each point, taken for about half of them at
    # 10% of entries missing, cost a misprediction every other point.
    count = 0
    for i in range(n):
        points[count] = i
        count += keys[i] != 0
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
def _copy_deviations(xt, n, means, k, completed):
    """OUT completed[:, :n] = xt[:, :n] - means[k] (in the data's dtype, as the complete-data
    blocks centre), 0 for NaN."""
    zero = _typed(xt, 0.0)
    for j in range(xt.shape[0]):
        m = means[k, j]
        row = xt[j]
        out = completed[j]
        for i in range(n):
            v = row[i]
            out[i] = v - m if v == v else zero


@njit(inline="always", **_JIT)
def _dense_pattern(precisions, k, miss, n_miss, factor, rows, dev):
    """Factor component k's ``P_MM``; copy its ``P_MO``.

    OUT ``factor``: the lower Cholesky factor ``L`` of ``P_MM`` (row-major,
    stride n_features), and ``dev[:n_miss]`` its reciprocal diagonal;
    ``rows``: ``P_M.`` with 0 at the missing coordinates (n_miss rows of
    stride n_features). Returns ``log det P_MM / 2``. Only ``P_MM`` is
    factored: a point's conditional deviation then costs ``rows . d`` and
    two triangular solves of size n_miss, as much as a product with a
    precomputed ``P_MM^-1 P_MO``, which would cost n_miss solves of
    n_features per pattern.
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
    return half_log_det


@njit(inline="always", **_JIT)
def _conditional_deviation(factor, n_miss, dev, D):
    """INOUT dev[D:D + n_miss]: ``b = P_MO d_O`` in, ``P_MM^-1 b`` out (``L L^T``, reciprocal diagonal ``dev[:D]``)."""
    b = D
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
def _fill_conditional_deviations(completed, order, begin, end, miss, n_miss, factor, rows, dev):
    """OUT completed[M, i] = -P_MM^-1 P_MO d_O, for the points order[begin:end].

    ``factor``, ``rows`` and ``dev`` from :func:`_dense_pattern`;
    ``completed`` holds the points' deviations ``d`` from the component's
    mean at their observed coordinates (and finite values at M, which
    ``rows`` ignores).
    """
    D = completed.shape[0]
    for t in range(begin, end):
        i = order[t]
        for a in range(n_miss):
            s = 0.0
            for j in range(D):
                s += rows[a * D + j] * np.float64(completed[j, i])
            dev[D + a] = s
        _conditional_deviation(factor, n_miss, dev, D)
        for a in range(n_miss):
            completed[miss[a], i] = -dev[D + a]


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


# -- the pass's table of patterns: each pattern factored once per pass

# Entries (float64 before the cast to the data's dtype) that a pass's table
# of patterns holds at most: 16 MiB. The most frequent patterns are tabled
# first; the rows of the others are grouped and factored per block.
_TABLE_ENTRIES = 1 << 21
# The scan for patterns: runs of rows (a constant, so that the table does not
# depend on the number of threads) and the slots of each run's table, which
# counts at most half as many distinct patterns.
_SCAN_PARTS = 16
_SCAN_SLOTS = 1 << 12


class PatternTable(NamedTuple):
    """The missingness patterns of a pass's rows and their terms, for 'full' and 'tied'.

    ``slots`` (n_slots, 2) int64: an open-addressing table (n_slots a power
    of two) of ``(key, pattern)`` with the pattern's key (a bit per missing
    coordinate) and index, key 0 for an empty slot. ``coordinates[p]``:
    the number of missing coordinates ``m`` of pattern p, then those
    coordinates, ascending. From ``offsets[p] + k * (1 + m * m)``, with k
    the component ('full') or 0 ('tied'), ``terms`` (the data's dtype)
    holds, for that component's precision ``P``: the log-density's term
    ``m log(2 pi) / 2 - log det P_MM / 2`` and ``P_MM^-1`` (m x m).

    The regressions, also of the data's dtype, are laid out for
    :func:`~fastem.kernels._tiles.regress_components`, ``L =
    regression_lanes()`` components per vector and ``G = ceil(n_components
    / L)`` vectors: from ``regression_offsets[p] + (a G + g) n_features L``,
    entry ``j L + q`` of ``regressions`` is ``(P_MM^-1 P_MO)[a, j]`` (0 at
    the columns of ``M``) of component ``g L + q`` ('tied': of the shared
    precision, in every lane), and entry ``g n_features L + j L + q`` of
    ``lane_means`` is that component's mean of feature j (0 past the last
    component).
    """

    slots: np.ndarray
    coordinates: np.ndarray
    offsets: np.ndarray
    terms: np.ndarray
    regressions: np.ndarray
    regression_offsets: np.ndarray
    lane_means: np.ndarray


@njit(inline="always", **_JIT)
def _slot(key, mask):
    """Fibonacci hashing: the top bits of the key times 2^64 / golden ratio."""
    return ((key * np.int64(-7046029254386353131)) >> 40) & mask


@njit(parallel=True, cache=True, nogil=True)
def _scan_patterns(X, keys, counts):
    """OUT keys[p], counts[p]: the patterns of run p of the rows and how many rows have each.

    An open-addressing table per run (key 0: an empty slot; a bit per
    missing coordinate, modulo ``_KEY_BITS``); a run counts the first
    ``n_slots / 2`` distinct patterns it meets and passes over the others.
    """
    n_samples, n_features = X.shape
    n_parts, n_slots = keys.shape
    mask = n_slots - 1
    for p in prange(n_parts):
        run_keys = keys[p]
        run_counts = counts[p]
        for h in range(n_slots):
            run_keys[h] = 0
            run_counts[h] = 0
        used = 0
        for i in range(p * n_samples // n_parts, (p + 1) * n_samples // n_parts):
            key = np.int64(0)
            bit = np.int64(1)
            for j in range(n_features):
                v = X[i, j]
                key |= bit if v != v else np.int64(0)
                bit = bit << 1 if bit < _LAST_BIT else np.int64(1)
            if key == 0:
                continue
            h = _slot(key, mask)
            while run_keys[h] != 0 and run_keys[h] != key:
                h = (h + 1) & mask
            if run_keys[h] == key:
                run_counts[h] += 1
            elif used < n_slots // 2:
                run_keys[h] = key
                run_counts[h] = 1
                used += 1


@njit(inline="always", **_JIT)
def _regression_stride(n_components, n_features):
    """Entries of a tabled pattern's regressions from one missing coordinate to the next:
    ``ceil(n_components / L) n_features L`` (see :class:`PatternTable`)."""
    lanes = regression_lanes()
    return -(-n_components // lanes) * n_features * lanes


@njit(**_JIT)
def _pattern_terms(coordinates, offsets, precisions, terms, regressions, regression_offsets,
                   n_components, lanes):
    """OUT terms, regressions: each pattern's (see :class:`PatternTable`) for each of ``precisions``.

    ``precisions`` (n_precisions, n_features, n_features) float64: one per
    component, or one that all ``n_components`` share. The
    factorisation, solves and inverse are the per-block ones
    (:func:`_dense_pattern`, :func:`_conditional_deviation`,
    :func:`_add_inverse`): ``P_MM^-1 P_MO`` column by column, and
    ``P_MM^-1`` from the inverse of its Cholesky factor. Serial: a table's
    cost is bounded by its entries (``_TABLE_ENTRIES``), and at 8 features
    and 4 components all 255 patterns took 0.9 ms on one thread, less than
    a parallel region's start on a busy machine.
    """
    n_precisions, D = precisions.shape[0], precisions.shape[2]
    n_vectors = -(-n_components // lanes)
    miss = np.empty(D, dtype=np.int64)
    dev = np.empty(2 * D)
    factor = np.empty(D * D)
    rows = np.empty(D * D)
    inverse = np.empty(D * D)
    square = np.zeros(D * D)
    for p in range(coordinates.shape[0]):
        m = coordinates[p, 0]
        for a in range(m):
            miss[a] = coordinates[p, 1 + a]
        size = 1 + m * m
        for k in range(n_precisions):
            # The components whose regression this precision gives: k, or all ('tied').
            first, stop = (0, n_components) if n_precisions == 1 else (k, k + 1)
            base = offsets[p] + k * size
            half_log_det = _dense_pattern(precisions, k, miss, m, factor, rows, dev)
            for j in range(D):
                for a in range(m):
                    dev[D + a] = rows[a * D + j]
                _conditional_deviation(factor, m, dev, D)
                for a in range(m):
                    for c in range(first, stop):
                        g, q = divmod(c, lanes)
                        at = regression_offsets[p] + ((a * n_vectors + g) * D + j) * lanes + q
                        regressions[at] = dev[D + a]
            terms[base] = m * _HALF_LOG_2PI - half_log_det
            _add_inverse(factor, m, miss, 1.0, inverse, square, 0, D)
            covariance = base + 1
            for a in range(m):
                for c in range(a + 1):
                    value = square[miss[a] * D + miss[c]]
                    square[miss[a] * D + miss[c]] = 0.0
                    terms[covariance + a * m + c] = value
                    terms[covariance + c * m + a] = value


def _empty_table(dtype):
    """A table without patterns; its float arrays of ``dtype``, as the kernels check."""
    return PatternTable(
        np.zeros((1, 2), dtype=np.int64), np.zeros((0, 1), dtype=np.int64),
        np.zeros(0, dtype=np.int64), np.zeros(0, dtype=dtype), np.zeros(0, dtype=dtype),
        np.zeros(0, dtype=np.int64), np.zeros(0, dtype=dtype),
    )


def scan_patterns(X):
    """The distinct missingness patterns of ``X`` and their counts, most frequent first.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32 or float64

    Returns
    -------
    keys : ndarray of shape (n_patterns,), int64
        A bit per missing coordinate (coordinate modulo 62 from 63 features
        on, where keys no longer tell every pattern apart); empty when
        ``X`` has no NaN.
    counts : ndarray of shape (n_patterns,), int64
        Rows per pattern, in decreasing order (ties by key). A run of
        ``n_samples / 16`` rows counts its first 2048 distinct patterns
        only, so that counts of rarer patterns may fall short.
    """
    from .._threading import launch

    parts = _SCAN_PARTS if X.shape[0] >= _SCAN_PARTS * BLOCK_SIZE else 1
    keys = np.empty((parts, _SCAN_SLOTS), dtype=np.int64)
    counts = np.empty((parts, _SCAN_SLOTS), dtype=np.int64)
    launch(_scan_patterns, X, keys, counts)
    used = keys != 0
    return merge_patterns([(keys[used], counts[used])])


def merge_patterns(parts):
    """The patterns of several parts of the rows, from each part's :func:`scan_patterns`.

    Parameters
    ----------
    parts : list of (keys, counts) pairs
        Each as :func:`scan_patterns` returns them (any order; a key may
        appear in several parts, or more than once in one).

    Returns
    -------
    keys, counts : ndarray of shape (n_patterns,), int64
        The distinct keys with their summed counts, most frequent first
        (ties by key), as from :func:`scan_patterns` over all the rows.
    """
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    keys = np.concatenate([np.asarray(k, dtype=np.int64) for k, _ in parts])
    counts = np.concatenate([np.asarray(c, dtype=np.int64) for _, c in parts])
    keys, inverse = np.unique(keys, return_inverse=True)
    counts = np.bincount(inverse, weights=counts, minlength=keys.shape[0]).astype(np.int64)
    order = np.lexsort((keys, -counts))
    return keys[order], counts[order]


def pattern_table(keys, n_features, precisions, means, dtype, max_entries=None):
    """The :class:`PatternTable` of patterns ``keys`` for ``precisions`` and ``means``, within a budget.

    Parameters
    ----------
    keys : ndarray of shape (n_patterns,), int64
        Patterns from :func:`scan_patterns`, the first tabled first.
    n_features : int
        At most 62: from there on keys do not tell patterns apart and the
        table is empty.
    precisions : ndarray of shape (n_precisions, n_features, n_features), float64
        The components' precisions ('full') or the shared one ('tied').
    means : ndarray of shape (n_components, n_features)
        The components' means.
    dtype : numpy dtype
        The data's: ``terms``, ``regressions`` and ``lane_means`` are cast to it.
    max_entries : int, optional
        The patterns tabled are the longest prefix of ``keys`` whose terms
        and regressions take at most this many entries (default: 2^21, 16
        MiB).

    Returns
    -------
    PatternTable
    """
    if keys.shape[0] == 0 or n_features > _KEY_BITS:
        return _empty_table(dtype)
    D = n_features
    n_components = means.shape[0]
    lanes = regression_lanes()
    n_vectors = -(-n_components // lanes)
    n_miss = np.bitwise_count(keys).astype(np.int64)
    sizes = precisions.shape[0] * (1 + n_miss * n_miss)
    regression_sizes = n_miss * _regression_stride.py_func(n_components, D)
    ends = np.cumsum(sizes)
    regression_ends = np.cumsum(regression_sizes)
    budget = _TABLE_ENTRIES if max_entries is None else max_entries
    n_patterns = int(np.searchsorted(ends + regression_ends, budget, side="right"))
    keys, n_miss = keys[:n_patterns], n_miss[:n_patterns]
    ends, regression_ends = ends[:n_patterns], regression_ends[:n_patterns]
    offsets = ends - sizes[:n_patterns]
    regression_offsets = regression_ends - regression_sizes[:n_patterns]
    bits = (keys[:, None] >> np.arange(D)) & 1
    coordinates = np.empty((n_patterns, D + 1), dtype=np.int64)
    coordinates[:, 0] = n_miss
    # Missing coordinates first, ascending (a stable sort of "observed").
    coordinates[:, 1:] = np.argsort(1 - bits, axis=1, kind="stable")
    terms = np.zeros(int(ends[-1]) if n_patterns else 0)
    regressions = np.zeros(int(regression_ends[-1]) if n_patterns else 0)
    _pattern_terms(
        coordinates, offsets, np.ascontiguousarray(precisions, dtype=np.float64), terms,
        regressions, regression_offsets, n_components, lanes,
    )
    lane_means = np.zeros((n_vectors * lanes, D))
    lane_means[:n_components] = means
    lane_means = np.ascontiguousarray(
        lane_means.reshape(n_vectors, lanes, D).transpose(0, 2, 1)
    ).reshape(-1)
    n_slots = 1 << max(1, int(2 * n_patterns - 1).bit_length())
    slots = np.zeros((n_slots, 2), dtype=np.int64)
    _fill_slots(keys, slots)
    return PatternTable(
        slots, coordinates, offsets, terms.astype(dtype), regressions.astype(dtype),
        regression_offsets, lane_means.astype(dtype),
    )


# Most per-pattern sums a pass adds up (see pattern_weight_entries): each
# partition zeroes its own and the kernel adds them up across partitions.
_WEIGHT_ENTRIES = 4096


@njit(inline="always", **_JIT)
def _tied_sums_per_pattern(n_components):
    """'tied': the sums of one pattern, the responsibility sum and a ``q_kl`` per pair ``k < l``."""
    return 1 + n_components * (n_components - 1) // 2


def pattern_sums(covariance_type, n_components):
    """Per-pattern sums of :func:`pattern_weight_entries`: ``(per_pattern, n_precisions)``.

    'full': a responsibility sum per component (``n_components``, ``n_components``).
    'tied': the sum over the components, then one ``q_kl = sum_i r_ik r_il / w_i``
    per pair of components ``k < l`` (see :func:`_tied_missing_accumulate`):
    ``(1 + n_components (n_components - 1) / 2, 1)``.
    """
    if covariance_type == "full":
        return n_components, n_components
    return _tied_sums_per_pattern.py_func(n_components), 1


def pattern_weight_entries(n_patterns, per_pattern):
    """Entries of the per-pattern sums after a pass's statistics ('full', 'tied').

    A group of a block's points of one pattern adds its summed
    responsibilities times ``P_MM^-1`` to the second moments, and for
    'tied' a correction per pair of components, each a product of a sum over
    the group's points and a matrix that depends on the pattern and the
    parameters only. For the most frequent tabled patterns (the table's
    first, up to ``_WEIGHT_ENTRIES`` entries) the blocks only add the sums,
    ``per_pattern`` of them per pattern after the family's statistics
    (:func:`pattern_sums`), and :func:`fold_pattern_weights` adds the
    products once per pass. At 8 features, 4 components and 10% of entries
    missing, each block's own products had taken about 0.2 of the
    complete-data pass for 'full' (2.31 times it before, 2.13 after, with
    the point-by-point loops of :func:`_tabled_terms`) and 2.2 for 'tied'
    (5.77 before, 3.55 after).

    Parameters
    ----------
    n_patterns : int
        The patterns of the pass's :class:`PatternTable`.
    per_pattern : int
        Sums per pattern (:func:`pattern_sums`).

    Returns
    -------
    int
        ``n_summed * per_pattern``, n_summed the patterns with sums.
    """
    return min(n_patterns, _WEIGHT_ENTRIES // per_pattern) * per_pattern


def fold_pattern_weights(table, weights, covariance_type, means, stats, offset):
    """INOUT the lower triangles of the second moments += each pattern's sums times their matrices.

    Parameters
    ----------
    table : PatternTable
        The pass's table.
    weights : ndarray of shape (n_summed * per_pattern,), float64
        The per-pattern sums (see :func:`pattern_weight_entries`).
    covariance_type : {'full', 'tied'}
    means : ndarray of shape (n_components, n_features)
        The pass's means, in the dtype of the blocks' (the data's).
    stats : ndarray, float64
        ``stats[offset + k D^2:]``: the ``sxx`` of precision k (D x D,
        lower triangle).
    offset : int

    The patterns are added in the order of their keys, not of the table:
    a table built from other rows (a chunk's own) adds the same products
    in the same order, and a pattern the rows lack adds 0.
    """
    per_pattern, n_precisions = pattern_sums(covariance_type, means.shape[0])
    coordinates = table.coordinates[: weights.shape[0] // per_pattern]
    missing = np.arange(coordinates.shape[1] - 1) < coordinates[:, :1]
    keys = np.where(missing, np.int64(1) << coordinates[:, 1:], 0).sum(axis=1)
    _fold_pattern_weights(
        table.terms, table.offsets, table.coordinates, table.regressions,
        table.regression_offsets, means, weights, np.argsort(keys), per_pattern, n_precisions,
        stats, offset,
    )


@njit(**_JIT)
def _fold_pattern_weights(terms, offsets, coordinates, regressions, regression_offsets, means,
                          weights, order, per_pattern, n_precisions, stats, offset):
    n_components = means.shape[0]
    D = coordinates.shape[1] - 1
    lanes = regression_lanes()
    stride = _regression_stride(n_components, D)
    diff = np.empty(D)
    h = np.empty(D)
    dev = np.empty(2 * D)
    miss = np.empty(D, dtype=np.int64)
    for p in order:
        m = coordinates[p, 0]
        sums = weights[p * per_pattern : (p + 1) * per_pattern]
        for k in range(n_precisions):
            _add_tabled_inverse(
                terms, offsets[p] + k * (1 + m * m) + 1, coordinates, p, sums[k], stats,
                offset + k * D * D, D,
            )
        if per_pattern == n_precisions:
            continue
        for a in range(m):
            miss[a] = coordinates[p, 1 + a]
        pair = 0
        for k in range(n_components - 1):
            for l in range(k + 1, n_components):
                pair += 1
                _mean_difference(means, k, l, diff, h)
                _tabled_regression(regressions, regression_offsets[p], stride, lanes, m, diff, dev, D)
                _add_pair_correction(sums[pair], diff, h, dev, miss, m, stats, offset, D)


@njit(**_JIT)
def _fill_slots(keys, slots):
    """OUT slots: ``(key, index)`` of each of ``keys`` by open addressing."""
    mask = slots.shape[0] - 1
    for p in range(keys.shape[0]):
        h = _slot(keys[p], mask)
        while slots[h, 0] != 0:
            h = (h + 1) & mask
        slots[h, 0] = keys[p]
        slots[h, 1] = p


@njit(inline="always", **_JIT)
def _find_pattern(slots, key):
    """The index of the pattern ``key`` in a table's ``slots``, or -1."""
    mask = slots.shape[0] - 1
    h = _slot(key, mask)
    while True:
        found = slots[h, 0]
        if found == key:
            return slots[h, 1]
        if found == 0:
            return -1
        h = (h + 1) & mask


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


def _factor(precisions_cholesky, k):
    """Component k's precision Cholesky factor: 'full' has one per component, 'tied' one (Numba only)."""
    raise NotImplementedError("_factor is only callable from Numba code")


def _kind(params):
    cls = getattr(params, "instance_class", None)
    return {FullMissingParams: "full", TiedMissingParams: "tied", DiagMissingParams: "diag"}.get(cls)


@overload(_complete_log_prob, inline="always", jit_options=_JIT)
def _overload_complete_log_prob(params, xt, n, log_prob, work, prefetch):
    block = {"full": _full_log_prob, "tied": _tied_log_prob}.get(_kind(params))
    if block is not None:
        return lambda params, xt, n, log_prob, work, prefetch: block(
            params, xt, n, log_prob, work, prefetch, True
        )
    return None


@overload(_complete_accumulate, inline="always", jit_options=_JIT)
def _overload_complete_accumulate(params, xt, n, resp, work, stats, prefetch):
    block = {"full": _full_accumulate, "tied": _tied_accumulate}.get(_kind(params))
    if block is not None:
        return lambda params, xt, n, resp, work, stats, prefetch: block(
            params, xt, n, resp, work, stats, prefetch, True
        )
    return None


@overload(_factor, inline="always", jit_options=_JIT)
def _overload_factor(precisions_cholesky, k):
    if precisions_cholesky.ndim == 3:
        return lambda precisions_cholesky, k: precisions_cholesky[k]
    return lambda precisions_cholesky, k: precisions_cholesky


@njit(inline="always", **_JIT)
def _deviation_log_prob(params, k, e, n, out, work, prefetch):
    """OUT out[i] = log_norm[k] - |U_k^T e[:, i]|^2 / 2 for i < n: component k's complete-data
    log-density of its completed copy ``e``, deviations from its mean (centred already, so
    that the block is not centred again)."""
    factor = _factor(params.precisions_cholesky, k)
    if e.shape[0] >= TILE_MIN_FEATURES:
        mahalanobis_block(e, n, params.origin, factor, params.log_norm[k], out, prefetch)
        return
    prefetch_next(prefetch)
    _triangular_log_prob(e, n, factor, params.log_norm[k], work[0], out)


@njit(inline="always", **_JIT)
def _grouped_block(params, xt, n, work):
    """Group the block's incomplete points, find their patterns in the table, copy the block.

    Returns n_groups, the number of patterns among the block's points (0
    when it has no NaN; nothing is then copied). The groups
    (:func:`_group_patterns`), ``tabled[g]`` (the index of group g's pattern
    in the pass's :class:`PatternTable`, or -1) and a copy of the block per
    component, centred on its mean (NaN as 0), are left in the scratch of
    :func:`_pattern_scratch`, with n_groups and the number of groups whose
    pattern is not in the table, for :func:`_block_groups`.
    """
    n_components = params.means.shape[0]
    (completed, keys, points, member, order, first, starts, slots, slot_keys, cursor,
     corrections, tabled, _, _, _, _, _, _) = _pattern_scratch(work, xt.shape[0], n_components)
    n_groups = _group_patterns(
        xt, n, keys, points, member, order, first, starts, slots, slot_keys, cursor
    )
    cursor[0] = n_groups
    if n_groups > 0:
        pattern_slots = params.pattern_slots
        n_untabled = 0
        for g in range(n_groups):
            tabled[g] = _find_pattern(pattern_slots, keys[first[g]])
            n_untabled += tabled[g] < 0
        cursor[1] = n_untabled
        for k in range(n_components):
            _copy_deviations(xt, n, params.means, k, completed[k])
    return n_groups


@njit(inline="always", **_JIT)
def _block_groups(work, n_features, n_components):
    """What :func:`_grouped_block` left for the block: ``(n_groups, n_untabled, (completed,
    order, first, starts, tabled, corrections, miss, dev, spare, factor, rows, inverse))``;
    n_untabled is meaningful when n_groups > 0."""
    (completed, _, _, _, order, first, starts, _, _, cursor, corrections, tabled, miss, dev,
     spare, factor, rows, inverse) = _pattern_scratch(work, n_features, n_components)
    return cursor[0], cursor[1], (
        completed, order, first, starts, tabled, corrections, miss, dev, spare, factor, rows,
        inverse,
    )


@njit(**_JIT)
def _fill_tabled(regressions, regression_offsets, lane_means, coordinates, xt, n_groups, views):
    """OUT completed[k, M, i]: every component's conditional deviations of the points of tabled patterns.

    ``views[0]``, ``completed``: the block's copies, one per component
    (:func:`_pattern_scratch`). One call of
    :func:`~fastem.kernels._tiles.regress_components` fills a missing
    coordinate of a point in ``regression_lanes()`` components' copies at
    once, from the table's regressions (see :class:`PatternTable`) and the
    point in ``xt`` (its NaN count as 0: the regressions are 0 at the
    missing coordinates). Reading the block itself spares a copy of it, and
    a gather of the incomplete points' rows, which cost more than the fills'
    strided reads.
    """
    completed, order, _, starts, tabled = views[:5]
    n_components, D, width = completed.shape
    source = xt.reshape(-1)
    out = completed.reshape(-1)
    lanes = regression_lanes()
    n_vectors = -(-n_components // lanes)
    size = D * lanes
    for g in range(n_groups):
        p = tabled[g]
        if p < 0:
            continue
        m = coordinates[p, 0]
        start = regression_offsets[p]
        for t in range(starts[g], starts[g + 1]):
            i = order[t]
            for a in range(m):
                c = coordinates[p, 1 + a]
                for v in range(n_vectors):
                    regress_components(
                        regressions, start + (a * n_vectors + v) * size, lane_means, v * size,
                        source, i, xt.shape[1], D, out, (v * lanes * D + c) * width + i, D * width,
                        min(lanes, n_components - v * lanes),
                    )


@njit(**_JIT)
def _tabled_terms(terms, offsets, coordinates, per_component, n_groups, views, log_prob):
    """INOUT ``log_prob[k, i]`` += the log-density term of point i's pattern under component k.

    For the points of tabled patterns; ``terms`` from
    ``offsets[p] + per_component * k * (1 + m * m)`` (see :class:`PatternTable`).
    """
    order, _, starts, tabled = views[1:5]
    for g in range(n_groups):
        p = tabled[g]
        if p < 0:
            continue
        size = per_component * (1 + coordinates[p, 0] ** 2)
        # Point by point, then component by component: a loop per group and
        # component, over the group's few points, cost 0.05 of the
        # complete-data pass more (8 features, 4 components, 10% missing).
        for t in range(starts[g], starts[g + 1]):
            i = order[t]
            for k in range(log_prob.shape[0]):
                log_prob[k, i] += _typed(log_prob, terms[offsets[p] + k * size])


@njit(inline="always", **_JIT)
def _add_tabled_inverse(terms, covariance, coordinates, p, weight, stats, offset, n_features):
    """INOUT lower triangle of stats[offset:].reshape(D, D)[M, M] += weight P_MM^-1 of tabled
    pattern p, whose ``P_MM^-1`` is ``terms[covariance:]`` (m x m, see :class:`PatternTable`)."""
    m = coordinates[p, 0]
    for a in range(m):
        out = offset + coordinates[p, 1 + a] * n_features
        for c in range(a + 1):
            stats[out + coordinates[p, 1 + c]] += weight * np.float64(terms[covariance + a * m + c])


@njit(**_JIT)
def _tabled_covariances(terms, offsets, coordinates, n_groups, views, resp, stats, offset, weights):
    """Each tabled pattern's summed responsibilities per component ('full').

    INOUT ``weights[p K + k]`` += component k's responsibilities summed over
    the block's points of pattern p, for the patterns with an entry there
    (``p < weights.shape[0] // K``, see :func:`pattern_weight_entries`);
    for the others, the lower triangle of component k's ``sxx``
    (``stats[offset + k D^2:]``) += that sum times the pattern's ``P_MM^-1``
    at ``M x M``.
    """
    order, _, starts, tabled = views[1:5]
    D = coordinates.shape[1] - 1
    n_components = resp.shape[0]
    n_weighted = weights.shape[0] // n_components
    for g in range(n_groups):
        p = tabled[g]
        if p < 0:
            continue
        if p < n_weighted:
            summed = weights[p * n_components : (p + 1) * n_components]
            for t in range(starts[g], starts[g + 1]):
                i = order[t]
                for k in range(n_components):
                    summed[k] += np.float64(resp[k, i])
            continue
        m = coordinates[p, 0]
        for k in range(n_components):
            r = resp[k]
            weight = 0.0
            for t in range(starts[g], starts[g + 1]):
                weight += np.float64(r[order[t]])
            _add_tabled_inverse(
                terms, offsets[p] + k * (1 + m * m) + 1, coordinates, p, weight, stats,
                offset + k * D * D, D,
            )


@njit(**_JIT)
def _fill_untabled(k, precisions, xt, completed, n_groups, views, resp_k, stats, offset):
    """Component k's share of the block's patterns outside the table, factored here.

    Without ``resp_k`` (the log-density block): OUT ``completed[M, i]``, the
    conditional deviations of the points of those patterns, and
    ``corrections[g]``, with which the log-density of a point of group g's
    observed coordinates is the complete-data log-density of its completed
    copy plus it. With ``resp_k`` (the statistics block): INOUT
    ``stats[offset:]`` (``sxx`` of component k) += the group's summed
    responsibilities times ``P_MM^-1``.
    """
    order, first, starts, tabled, corrections, miss, dev, _, factor, rows, inverse = views
    D = completed.shape[0]
    accumulate = resp_k.shape[0] > 0
    for g in range(n_groups):
        if tabled[g] >= 0:
            continue
        begin, end = starts[g], starts[g + 1]
        n_miss = _missing_coordinates(xt, first[g], miss)
        half_log_det = _dense_pattern(precisions, k, miss, n_miss, factor, rows, dev)
        if accumulate:
            weight = 0.0
            for t in range(begin, end):
                weight += np.float64(resp_k[order[t]])
            _add_inverse(factor, n_miss, miss, weight, inverse, stats, offset, D)
        else:
            _fill_conditional_deviations(completed, order, begin, end, miss, n_miss, factor, rows, dev)
            corrections[g] = n_miss * _HALF_LOG_2PI - half_log_det


@njit(inline="always", **_JIT)
def _fill_all(params, xt, n_groups, views):
    """:func:`_fill_tabled` for ``params``, the table's arrays bound once."""
    _fill_tabled(
        params.pattern_regressions, params.pattern_regression_offsets, params.pattern_lane_means,
        params.pattern_coordinates, xt, n_groups, views,
    )


@njit(inline="always", **_JIT)
def _fill_component(params, k, xt, n_groups, views, resp_k, stats, offset):
    """:func:`_fill_untabled` for component k of ``params``."""
    return _fill_untabled(
        k, params.precisions, xt, views[0][k], n_groups, views[1:], resp_k, stats, offset
    )


# -- the blocks


@njit(**_JIT)
def _missing_log_prob(params, xt, n, log_prob, work, prefetch):
    """Log-densities of the observed coordinates ('full', 'tied'), component by component, on a completed copy.

    A block without NaN takes the complete-data block. Otherwise each
    component's copy of the block, centred on its mean, has the missing
    coordinates of every point filled with that component's conditional
    deviations (from the pass's table, or one factorisation per pattern and
    component), the component's complete-data log-density runs on its copy
    (:func:`_deviation_log_prob`), and each pattern's term is
    added to its points. The grouping and the completed copies are left in
    ``work`` for the statistics block, which the fused E-step runs next on
    the same block.
    """
    n_groups = _grouped_block(params, xt, n, work)
    if n_groups == 0:
        _complete_log_prob(params, xt, n, log_prob, work, prefetch)
        return
    n_components = params.means.shape[0]
    n_groups, n_untabled, views = _block_groups(work, xt.shape[0], n_components)
    completed, order, _, starts, tabled, corrections, _, dev = views[:8]
    no_resp = log_prob[0, :0]
    _fill_all(params, xt, n_groups, views)
    for k in range(n_components):
        if n_untabled > 0:
            _fill_component(params, k, xt, n_groups, views, no_resp, dev, 0)
        out = log_prob[k]
        _deviation_log_prob(params, k, completed[k], n, out, work, prefetch)
        if n_untabled > 0:
            for g in range(n_groups):
                if tabled[g] < 0:
                    c = _typed(out, corrections[g])
                    for t in range(starts[g], starts[g + 1]):
                        out[order[t]] += c
    _tabled_terms(
        params.pattern_terms, params.pattern_offsets, params.pattern_coordinates,
        params.precisions.ndim - 2, n_groups, views, log_prob,
    )


@njit(**_JIT)
def _observed_moments(xt, n, means, resp, observed):
    """INOUT the observed-data moments of the block's points, float64, where each coordinate is
    observed: ``observed[k D + j]`` += component k's responsibilities summed over the points
    whose coordinate j is observed (``observed_nk``), ``observed[(K + k) D + j]`` += their
    deviations ``r (x_j - m_kj)`` (``observed_sx``) and ``observed[2 K D + j]`` += their
    squares summed over the components (``observed_sxx``), around the components' means ``m``;
    one pass per component and feature (``gaussian._add_observed_feature``, which 'diag' and
    'spherical' use for the features outside their groups of four).

    ``observed_nk`` tells the M-step which components observe which features; summed over
    the components the others are the data's own moments of each feature's observed entries
    (every point's responsibilities sum to its weight).
    """
    n_components = resp.shape[0]
    for j in range(xt.shape[0]):
        row = xt[j]
        for k in range(n_components):
            _add_observed_feature(observed, row, n, means[k, j], resp[k], k, j, n_components)


@njit(**_JIT)
def observed_moments_length(n_components, n_features):
    """The length of the observed-data moments (:func:`_observed_moments`)."""
    return 2 * n_components * n_features + n_features


@njit(**_JIT)
def _missing_accumulate(params, xt, n, resp, work, stats, prefetch):
    """Expected statistics of 'full' components, component by component.

    The complete-data statistics of the component's completed copy of the
    block (deviations from its mean), and per pattern the points' summed
    responsibilities times the component's conditional covariance of the
    missing coordinates. The block's grouping and completed copies are the
    ones :func:`_missing_log_prob` left in ``work``.
    """
    n_components, D = params.means.shape
    n_groups, n_untabled, views = _block_groups(work, D, n_components)
    observed = n_components * D * (1 + D)  # observed_nk, observed_sx, observed_sxx after sxx
    weighted = observed + observed_moments_length(n_components, D)
    _observed_moments(xt, n, params.means, resp, stats[observed:weighted])
    if n_groups == 0:
        _complete_accumulate(params, xt, n, resp, work, stats, prefetch)
        return
    completed = views[0]
    rows = _statistics_rows(work, D)
    for k in range(n_components):
        r = resp[k]
        if n_untabled > 0:
            _fill_component(params, k, xt, n_groups, views, r, stats, (n_components + k * D) * D)
        _full_component_accumulate(params, k, params.origin, completed[k], n, r, work, rows, stats, prefetch, True)
    _tabled_covariances(
        params.pattern_terms, params.pattern_offsets, params.pattern_coordinates, n_groups, views,
        resp, stats, n_components * D, stats[weighted:],
    )


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
    rows and columns of ``M``), and ``sum_i w_i P_MM^-1`` to its ``M x M``
    block. For the patterns with sums after the statistics, only
    ``sum_i w_i`` and each ``Q_kl`` go there, and the products are added
    once per pass (:func:`pattern_weight_entries`). The block's
    grouping and completed copies are the ones :func:`_missing_log_prob`
    left in ``work``.
    """
    n_components, D = params.means.shape
    n_groups, _, views = _block_groups(work, D, n_components)
    second = n_components * D
    observed = second + D * D + n_components * n_components  # observed moments, after the pairs
    weighted = observed + observed_moments_length(n_components, D)
    _observed_moments(xt, n, params.means, resp, stats[observed:weighted])
    if n_groups == 0:
        _complete_accumulate(params, xt, n, resp, work, stats, prefetch)
        return
    completed, order, first, starts, tabled, _, miss, dev, spare, factor, rows, inverse = views
    diff = spare[:D]
    h = spare[D:]
    inv_w = work[0]
    u, d, square = _statistics_rows(work, D)
    _tied_weights(resp, n, inv_w)
    _tied_moments(params.origin, completed, n, resp, u, stats, prefetch)
    _tied_scatter(n, resp, inv_w, u, d, square, stats, prefetch, True)
    weights = stats[weighted:]  # see pattern_weight_entries
    per_pattern = _tied_sums_per_pattern(n_components)
    n_weighted = weights.shape[0] // per_pattern
    terms = params.pattern_terms
    coordinates = params.pattern_coordinates
    lanes = regression_lanes()
    stride = _regression_stride(n_components, D)
    for g in range(n_groups):
        begin, end = starts[g], starts[g + 1]
        weight = 0.0
        for t in range(begin, end):
            for k in range(n_components):
                weight += np.float64(resp[k, order[t]])
        p = tabled[g]
        summed = 0 <= p < n_weighted
        if summed:
            weights[p * per_pattern] += weight
        elif p >= 0:
            n_miss = coordinates[p, 0]
            for a in range(n_miss):
                miss[a] = coordinates[p, 1 + a]
            _add_tabled_inverse(
                terms, params.pattern_offsets[p] + 1, coordinates, p, weight, stats, second, D
            )
        else:
            n_miss = _missing_coordinates(xt, first[g], miss)
            _dense_pattern(params.precisions, 0, miss, n_miss, factor, rows, dev)
            _add_inverse(factor, n_miss, miss, weight, inverse, stats, second, D)
        pair = 0
        for k in range(n_components - 1):
            r_k = resp[k]
            for l in range(k + 1, n_components):
                r_l = resp[l]
                q = 0.0
                for t in range(begin, end):
                    i = order[t]
                    q += np.float64(r_k[i] * inv_w[i] * r_l[i])
                pair += 1
                if summed:
                    weights[p * per_pattern + pair] += q
                    continue
                _mean_difference(params.means, k, l, diff, h)
                if p >= 0:
                    _tabled_regression(
                        params.pattern_regressions, params.pattern_regression_offsets[p], stride,
                        lanes, n_miss, diff, dev, D,
                    )
                else:
                    for a in range(n_miss):
                        s = 0.0
                        for j in range(D):
                            s += rows[a * D + j] * diff[j]
                        dev[D + a] = s
                    _conditional_deviation(factor, n_miss, dev, D)
                _add_pair_correction(q, diff, h, dev, miss, n_miss, stats, second, D)


@njit(inline="always", **_JIT)
def _mean_difference(means, k, l, diff, h):
    """OUT ``diff = m_k - m_l`` (float64) and ``h = 0``, for :func:`_add_pair_correction`."""
    for j in range(diff.shape[0]):
        diff[j] = np.float64(means[k, j]) - np.float64(means[l, j])
        h[j] = 0.0


@njit(inline="always", **_JIT)
def _tabled_regression(regressions, start, stride, lanes, n_miss, diff, dev, D):
    """OUT ``dev[D:D + n_miss] = P_MM^-1 P_MO diff``: the shared ('tied') regression of a tabled
    pattern, lane 0 of its vectors from ``regressions[start:]`` (see :class:`PatternTable`)."""
    for a in range(n_miss):
        s = 0.0
        for j in range(D):
            s += np.float64(regressions[start + a * stride + j * lanes]) * diff[j]
        dev[D + a] = s


@njit(inline="always", **_JIT)
def _add_pair_correction(q, diff, h, dev, miss, n_miss, stats, second, D):
    """INOUT the lower triangle of the 'tied' ``sxx`` (``stats[second:]``) += ``q (diff h^T + h
    diff^T + h h^T)``, ``h = c_kl - diff`` (0 at the observed coordinates; see
    :func:`_tied_missing_accumulate`) from ``dev[D:]`` (:func:`_tabled_regression`)."""
    for a in range(n_miss):
        h[miss[a]] = -dev[D + a] - diff[miss[a]]
    # Row j of M up to the diagonal, then column j below it at the observed coordinates.
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


@njit(**_JIT)
def _diag_missing_log_prob(params, xt, n, log_prob, work, prefetch):
    """Log-densities of the observed coordinates, 'diag' and 'spherical'.

    The complete-data block, in which a NaN entry subtracts its feature's
    share of the normalising constant (``feature_log_norm``) instead of its
    square: the coordinate drops out of the density. No copy, no grouping.
    """
    _diag_components_log_prob(params, xt, n, log_prob, prefetch, params.feature_log_norm)


@njit(**_JIT)
def _diag_missing_accumulate(params, xt, n, resp, work, stats, prefetch):
    """Expected statistics of 'diag' and 'spherical' components.

    The complete-data block, in which a NaN entry (conditional mean: the
    component's mean) adds 0 to the first moments and its responsibility
    times the variance to the squares, and which sums the observed-data
    moments (stored after ``sx`` and ``sxx``) in the same pass.
    """
    n_components, D = params.means.shape
    observed = 2 * n_components * D  # the observed moments, after sx and sxx
    _first_square_moments(
        xt, n, params.means, resp, stats, prefetch, params.variances,
        stats[observed : observed + observed_moments_length(n_components, D)],
    )


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
    DiagMissingParams, _diag_missing_log_prob, _diag_missing_accumulate,
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


def _factor_length(params, n_features):
    """The length of the scratch ``factor`` of :func:`_row_conditional` and :func:`_row_draw`:
    ``n_features ** 2`` for a dense precision, 0 for 'diag' (Numba only)."""
    raise NotImplementedError("_factor_length is only callable from Numba code")


@overload(_factor_length, jit_options=_JIT)
def _overload_factor_length(params, n_features):
    if _kind(params) == "diag":
        return lambda params, n_features: 0
    return lambda params, n_features: n_features * n_features


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
    factor = scratch[5 * D :]
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
    # 'diag' takes no factor: its (D, D) square per run was 51 GB at 20,000 features
    scratch = np.empty((n_parts, 5 * D + _factor_length(params, D)))
    for t in prange(n_parts):
        _impute_range(
            X, resp, params, choices, normals, out, t * n_samples // n_parts,
            (t + 1) * n_samples // n_parts, scratch[t],
        )


impute_rows = njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH)(_impute_rows)
