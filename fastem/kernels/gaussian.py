"""Block functions of the Gaussian family, one pair per covariance type.

Each covariance type has its own log-density block because their costs differ:
a full Gaussian needs a triangular product per point, a diagonal one only
scaled squares. Statistics are accumulated around a shift near the
data, so that second moments of data far from the origin do not cancel. The
layout of the family statistics is ``sx`` (first moments around the means at
which the E-step is taken, (n_components, n_features)) followed by ``sxx``
(second moments: (n_components, n_features, n_features) around each mean for
'full', (n_components, n_features) around each mean for 'diag' and
'spherical'). 'tied' takes its (n_features, n_features) second moments around
each point's responsibility-weighted centre of the means and adds the
(n_components, n_components) ``pairs`` from which the M-step forms the rest of
the within-component scatter (see ``_tied_accumulate``).

The 'tied' components share one precision factor ``U``, so its log-density
block maps each point once, ``y = (x - shift) U``, and compares it with the
mapped means ``(means[k] - shift) U`` given in the params.

In every params tuple, ``log_norm[k]`` is the log of the normalising constant,
``sum(log(diag(precisions_cholesky[k]))) - n_features / 2 * log(2 pi)``.
"""

from typing import NamedTuple

import numpy as np
from numba import njit, types
from numba.extending import overload

from .._config import BLAS_MIN_FEATURES, BLOCK_SIZE, FASTMATH, SPARSE_MIN_FEATURES, TILE_MIN_FEATURES
from ._fused import _matrix, _typed, compiled_callers_only, register_family_kernels
from ._math import muladd
from ._memory import prefetch_next
from ._tiles import mahalanobis_block, scatter_block


class FullParams(NamedTuple):
    means: np.ndarray  # (n_components, n_features)
    precisions_cholesky: np.ndarray  # (n_components, n_features, n_features), upper
    log_norm: np.ndarray  # (n_components,)


class TiedParams(NamedTuple):
    means: np.ndarray  # (n_components, n_features)
    precisions_cholesky: np.ndarray  # (n_features, n_features), upper
    log_norm: np.ndarray  # (n_components,)
    shift: np.ndarray  # (n_features,), a point near the data
    mapped_means: np.ndarray  # (n_components, n_features), (means - shift) @ precisions_cholesky


class DiagParams(NamedTuple):
    """Params of 'diag' and 'spherical' components (one scale per feature for both)."""

    means: np.ndarray  # (n_components, n_features)
    half_scales: np.ndarray  # (n_components, n_features), precisions_cholesky / sqrt(2)
    log_norm: np.ndarray  # (n_components,)


_JIT = dict(cache=True, fastmath=FASTMATH)
# The blocks are compiled_callers_only: the fused E-step calls them through
# their addresses (their entries below), the blocks of data with NaN as
# compiled functions.

#: Features from which the 'full' and 'tied' blocks may take their tiled,
#: gathered or BLAS loops; below, only their plain loops.
WIDE_MIN_FEATURES = min(TILE_MIN_FEATURES, SPARSE_MIN_FEATURES, BLAS_MIN_FEATURES)

# The 'full' and 'tied' helpers take an argument ``wide``: None, or True to
# choose between the plain loops and the tiled, gathered or BLAS ones by the
# number of features at run time. Numba prunes the branches of
# ``wide is not None`` when it compiles a block for a None ``wide`` (an
# argument of the compiled function, passed down to the helpers it inlines),
# so that those blocks hold the plain loops alone: the fused E-step runs them
# on data of fewer than WIDE_MIN_FEATURES features (``few_features`` of
# ``register_family_kernels``; about 2 s less to compile in a cold first fit
# of 'full' D=2, see "Busy machines and the first run" in docs/performance.md).

# Log-densities run in the data's dtype: constants are made with ``_typed`` so
# that a float32 block never widens to float64. Every statistic is summed in
# float64, also over the points of one block: each term is widened before it
# is added (a term rounded to float32 carries an error relative to itself
# only), so that a sum of 256 terms loses nothing to float32 rounding,
# whatever their spread.
#
# Work rows (per-partition scratch, see ``work_rows``), in the data's dtype:
# row 0 holds a per-point vector (in the 'full' statistics, the indices of
# the points a component weighs, ``_weighted_points``), rows 1..n_features
# the centred block ``d`` and rows n_features+1..2*n_features the mapped
# block ``y``. The statistics blocks view rows 1.. as float64 rows
# (``_float64_rows``: two float32 rows hold one): the centred block, its
# weighted copy and an (n_features, n_features) product, so that the
# scatter is a float64 product of float64 rows, with no conversion in its
# inner loop.
#
# From TILE_MIN_FEATURES features on, the 'full' log-densities and the
# 'full' and 'tied' scatters of a block are register-blocked micro-kernels
# (``fastem.kernels._tiles``): the Mahalanobis terms of a component are
# computed from the block and the precision Cholesky factor without storing
# the mapped block, and the scatter in tiles of 3 x 3 entries per pass over
# the points. From BLAS_MIN_FEATURES features on, the 'tied' mapped block of
# float64 data is a matrix product through BLAS (``np.dot``, one thread per
# call, see ``fastem._threading``), run over every column of the block:
# columns past ``n`` hold finite leftovers of earlier blocks and are not read
# back.


def _unless_nan(value, absent):
    """``value``, or ``absent`` where ``value`` is NaN; ``value`` itself when ``absent`` is None (Numba only).

    The 'diag' blocks take an optional per-feature term for missing entries
    through this: with None (complete data) they compile to the plain loops.
    """
    raise NotImplementedError("_unless_nan is only callable from Numba code")


def _absent_term(terms, j, scale):
    """``scale * terms[j]``, or None when ``terms`` is None (Numba only)."""
    raise NotImplementedError("_absent_term is only callable from Numba code")


def _row(rows, k):
    """``rows[k]``, or None when ``rows`` is None (Numba only)."""
    raise NotImplementedError("_row is only callable from Numba code")


def _where_observed(value, deviation, observed):
    """``value`` where ``deviation`` is a number, else 0; 0 when ``observed`` is None
    (Numba only)."""
    raise NotImplementedError("_where_observed is only callable from Numba code")


def _add_observed(observed, k, j, n_components, mass, first, square):
    """INOUT the observed-data moments ``observed`` of component k at feature j (see
    :func:`_first_square_moments`); nothing when ``observed`` is None (Numba only)."""
    raise NotImplementedError("_add_observed is only callable from Numba code")


def _add_observed_feature(observed, row, n, mean, resp_k, k, j, n_components):
    """INOUT the observed-data moments ``observed`` of component k at feature j, from a pass
    of their own over the points ``row[:n]`` whose coordinate is not NaN: the responsibilities
    ``resp_k``, their deviations ``r (x - mean)`` and the squares ``r (x - mean)^2`` (the
    deviation in the data's dtype, the products and sums in float64; the layout of
    :func:`_first_square_moments`); nothing when ``observed`` is None (Numba only)."""
    raise NotImplementedError("_add_observed_feature is only callable from Numba code")


def _component_mean(means, k):
    """``means[k]`` of (n_components, n_features) means, or a shared (n_features,) ``means``
    itself (Numba only)."""
    raise NotImplementedError("_component_mean is only callable from Numba code")


def _component_rows(xt, k):
    """``xt[k]`` of (n_components, n_features, BLOCK_SIZE) rows, one block per component,
    or a shared (n_features, BLOCK_SIZE) ``xt`` itself (Numba only)."""
    raise NotImplementedError("_component_rows is only callable from Numba code")


# Not inlined in Numba's IR (a conditional expression there leaves a
# variable out of scope); LLVM inlines these one-liners.
@overload(_unless_nan, jit_options=_JIT)
def _overload_unless_nan(value, absent):
    if isinstance(absent, types.NoneType):
        return lambda value, absent: value
    return lambda value, absent: value if value == value else absent


@overload(_absent_term, jit_options=_JIT)
def _overload_absent_term(terms, j, scale):
    if isinstance(terms, types.NoneType):
        return lambda terms, j, scale: None
    return lambda terms, j, scale: scale * terms[j]


@overload(_row, jit_options=_JIT)
def _overload_row(rows, k):
    if isinstance(rows, types.NoneType):
        return lambda rows, k: None
    return lambda rows, k: rows[k]


@overload(_where_observed, jit_options=_JIT)
def _overload_where_observed(value, deviation, observed):
    if isinstance(observed, types.NoneType):
        return lambda value, deviation, observed: 0.0
    return lambda value, deviation, observed: value if deviation == deviation else 0.0


@overload(_add_observed, jit_options=_JIT)
def _overload_add_observed(observed, k, j, n_components, mass, first, square):
    if isinstance(observed, types.NoneType):
        return lambda observed, k, j, n_components, mass, first, square: None

    def add(observed, k, j, n_components, mass, first, square):
        D = observed.shape[0] // (2 * n_components + 1)
        observed[k * D + j] += mass
        observed[(n_components + k) * D + j] += first
        observed[2 * n_components * D + j] += square

    return add


@overload(_add_observed_feature, jit_options=_JIT)
def _overload_add_observed_feature(observed, row, n, mean, resp_k, k, j, n_components):
    if isinstance(observed, types.NoneType):
        return lambda observed, row, n, mean, resp_k, k, j, n_components: None

    def add(observed, row, n, mean, resp_k, k, j, n_components):
        mass = 0.0
        first = 0.0
        square = 0.0
        for i in range(n):
            w = np.float64(resp_k[i])
            v = np.float64(row[i] - mean)
            r = w * v
            mass += _where_observed(w, v, observed)
            first += _where_observed(r, v, observed)
            square += _where_observed(r * v, v, observed)
        _add_observed(observed, k, j, n_components, mass, first, square)

    return add


@overload(_component_mean, jit_options=_JIT)
def _overload_component_mean(means, k):
    if means.ndim == 2:
        return lambda means, k: means[k]
    return lambda means, k: means


@overload(_component_rows, jit_options=_JIT)
def _overload_component_rows(xt, k):
    if xt.ndim == 3:
        return lambda xt, k: xt[k]
    return lambda xt, k: xt


@njit(inline="always", **_JIT)
def _float64_rows(work, first, count):
    """``count`` float64 rows of the block's width, from row ``first`` of ``work`` on."""
    return _matrix(work, first * work.shape[1], count, work.shape[1], np.float64)


@njit(inline="always", **_JIT)
def _centre(xt, n, mean, d):
    """OUT d[j, i] = xt[j, i] - mean[j] for the first n points."""
    for j in range(mean.shape[0]):
        m = mean[j]
        row = xt[j]
        out = d[j]
        for i in range(n):
            out[i] = row[i] - m


@njit(inline="always", **_JIT)
def _triangular_log_prob(d, n, precisions_cholesky, log_norm, y, out):
    """OUT out[i] = log_norm - |d[:, i]^T U|^2 / 2, with U upper triangular.

    Column j of ``d^T U`` is built in ``y`` and its square added to ``out`` in
    the pass that adds its last term, so each column costs j + 1 passes.
    """
    half = _typed(out, 0.5)
    for j in range(d.shape[0]):
        c = precisions_cholesky[0, j]
        if j == 0:
            for i in range(n):
                v = d[0, i] * c
                out[i] = v * v
            continue
        for i in range(n):
            y[i] = d[0, i] * c
        for l in range(1, j):
            c = precisions_cholesky[l, j]
            for i in range(n):
                y[i] += d[l, i] * c
        c = precisions_cholesky[j, j]
        for i in range(n):
            v = y[i] + d[j, i] * c
            out[i] += v * v
    for i in range(n):
        out[i] = log_norm - half * out[i]


@njit(inline="always", **_JIT)
def _triangular_product(d, n, precisions_cholesky, y, prefetch):
    """OUT y[j, i] = sum_{l <= j} d[l, i] U[l, j], i.e. y = (d^T U)^T, with U upper triangular."""
    for j in range(d.shape[0]):
        prefetch_next(prefetch)
        y_j = y[j]
        c = precisions_cholesky[0, j]
        d_0 = d[0]
        for i in range(n):
            y_j[i] = d_0[i] * c
        for l in range(1, j + 1):
            c = precisions_cholesky[l, j]
            d_l = d[l]
            for i in range(n):
                y_j[i] += d_l[i] * c


@njit(inline="always", **_JIT)
def _maps_through_blas(d):
    """Whether ``_mapped_block`` calls BLAS for the centred block ``d``.

    Only float64 blocks: measured per block at 32 to 64 features, single
    precision BLAS was slower than the fused loops (141 against 109 us at
    64), double precision faster (213 against 263 us).
    """
    return d.shape[0] >= BLAS_MIN_FEATURES and d.itemsize == 8


@njit(inline="always", **_JIT)
def _mapped_block(d, n, precisions_cholesky, y, prefetch, wide):
    """OUT y[:, i] = U^T d[:, i]; through BLAS over every column if ``wide`` and ``_maps_through_blas``."""
    if wide is not None and _maps_through_blas(d):
        prefetch_next(prefetch)
        np.dot(precisions_cholesky.T, d, y)
    else:
        _triangular_product(d, n, precisions_cholesky, y, prefetch)


@njit(inline="always", **_JIT)
def _mapped_log_prob(y, mapped_means, n, log_norm, log_prob, prefetch):
    """OUT log_prob[k, i] = log_norm[k] - |y[:, i] - mapped_means[k]|^2 / 2, every k.

    Each row of ``y`` is passed over by every component before the next
    row is read, so that the rows in use (one of ``y`` and the K of
    ``log_prob``) stay in the L1 cache, where ``y`` alone fills it at 16
    float64 features; each point's operations are the same in either order.
    """
    half = _typed(y, 0.5)
    n_components = mapped_means.shape[0]
    for k in range(n_components):
        prefetch_next(prefetch)
        b = mapped_means[k, 0]
        y_0 = y[0]
        out = log_prob[k]
        for i in range(n):
            v = y_0[i] - b
            out[i] = v * v
    for j in range(1, y.shape[0]):
        y_j = y[j]
        for k in range(n_components):
            b_j = mapped_means[k, j]
            out = log_prob[k]
            for i in range(n):
                v = y_j[i] - b_j
                out[i] += v * v
    for k in range(n_components):
        lnorm = log_norm[k]
        out = log_prob[k]
        for i in range(n):
            out[i] = lnorm - half * out[i]


@njit(inline="always", **_JIT)
def _centre_first_moments(xt, n, mean, resp_k, d, rd, stats, offset, points):
    """OUT d = xt - mean, rd = resp_k * d (float64 rows); INOUT stats[offset + j] += sum_i rd[j, i].

    ``points``: None for the first ``n`` points of the block, or the indices
    of the ``n`` points to take (gathered into the first ``n`` columns of
    ``d`` and ``rd``).
    """
    for j in range(mean.shape[0]):
        m = np.float64(mean[j])
        row = xt[j]
        d_j = d[j]
        rd_j = rd[j]
        s = 0.0
        for i in range(n):
            p = i if points is None else points[i]
            v = np.float64(row[p]) - m
            r = np.float64(resp_k[p]) * v
            d_j[i] = v
            rd_j[i] = r
            s += r
        stats[offset + j] += s


@njit(inline="always", **_JIT)
def _weighted_points(resp_k, n, points):
    """OUT points[:m] = the indices i < n with resp_k[i] != 0, in increasing order; returns m.

    Counts first (a vectorised pass) and writes the indices only when at
    most a quarter of the points are weighted; otherwise returns ``n`` with
    ``points`` untouched: gathered columns cost more per point than
    contiguous ones, so the whole block is taken.
    """
    m = 0
    for i in range(n):
        m += resp_k[i] != 0
    if 4 * m > n:
        return n
    m = 0
    for i in range(n):
        points[m] = i
        m += resp_k[i] != 0
    return m


@njit(inline="always", **_JIT)
def _statistics_rows(work, n_features):
    """Float64 views for the statistics: two (n_features, BLOCK_SIZE) blocks and a square."""
    per_row = 8 // work.itemsize  # rows of ``work`` per float64 row
    first = _float64_rows(work, 1, n_features)
    second = _float64_rows(work, 1 + n_features * per_row, n_features)
    square_start = (1 + 2 * n_features * per_row) * work.shape[1]
    return first, second, _matrix(work, square_start, n_features, n_features, np.float64)


@njit(inline="always", **_JIT)
def _outer_moments(d, rd, n, stats, offset, square, prefetch, wide):
    """INOUT lower triangle of stats[offset:].reshape(D, D) += sum_i rd d^T (float64 rows).

    From TILE_MIN_FEATURES features on (and ``wide``), the block's products
    are formed in tiles in ``square`` (scratch, see ``scatter_block``) and
    added from there. Below, four entries of a row of the triangle share one
    pass over the points, so that ``rd[j]`` is loaded once for four products.
    """
    n_features = d.shape[0]
    if wide is not None and n_features >= TILE_MIN_FEATURES:
        scatter_block(rd, d, n, square, prefetch)
        for j in range(n_features):
            out = offset + j * n_features
            for l in range(j + 1):
                stats[out + l] += square[j, l]
        return
    for j in range(n_features):
        prefetch_next(prefetch)
        rd_j = rd[j]
        out = offset + j * n_features
        quads = (j + 1) // 4 * 4
        for l in range(0, quads, 4):
            d0, d1, d2, d3 = d[l], d[l + 1], d[l + 2], d[l + 3]
            s0 = s1 = s2 = s3 = 0.0
            for i in range(n):
                r = rd_j[i]
                s0 += r * d0[i]
                s1 += r * d1[i]
                s2 += r * d2[i]
                s3 += r * d3[i]
            stats[out + l] += s0
            stats[out + l + 1] += s1
            stats[out + l + 2] += s2
            stats[out + l + 3] += s3
        for l in range(quads, j + 1):
            d_l = d[l]
            s = 0.0
            for i in range(n):
                s += rd_j[i] * d_l[i]
            stats[out + l] += s


@njit(inline="always", **_JIT)
def _first_square_moments(xt, n, means, resp, stats, prefetch, variances, observed):
    """INOUT stats[k D + j] += sum_i r d[j, i], stats[(K + k) D + j] += sum_i r d[j, i]^2, every k.

    ``d = xt - means[k]`` and ``r = resp[k]``; ``d`` is taken in the data's
    dtype, the products and sums in float64. Features are taken four per
    pass over the points (after the ``n_features % 4`` first ones, one per
    pass), so that the responsibilities are loaded once for four features,
    and each group of features is passed over by every component before the
    next group is read: the rows in use (the group's, and the K rows of
    responsibilities) stay in the L1 cache, where the whole transposed block
    of 16 float64 features (32 KiB) fills it. Each sum is over the points in
    their order, whatever the order of the passes.
    ``variances``: None, or for data with NaN (missing entries) the
    components' variances, (n_components, n_features); a NaN entry then adds
    0 to the first moments and ``r variances[k, j]`` to the squares (its
    conditional mean is the mean).
    ``observed``: None, or for data with NaN the observed-data moments
    (float64, ``2 K D + D``), INOUT: ``observed[k D + j]`` += the
    responsibilities of the points whose coordinate j is observed
    (``observed_nk``), ``observed[(K + k) D + j]`` += the first moment
    (``observed_sx``: a NaN entry adds 0 to it) and ``observed[2 K D + j]``
    += ``sum_i r d[j, i]^2`` over those points, summed over the components
    (``observed_sxx``). The groups of four features sum them in their pass,
    with an accumulator for the mass and one for the squares per feature;
    the ``n_features % 4`` first features in a pass of their own after
    theirs (:func:`_add_observed_feature`, as 'full' and 'tied' sum every
    feature; in their pass, the accumulators more had the compiler group the
    sums of ``sx`` and ``sxx`` otherwise, and change their last bits).
    With None, nothing of this is compiled.
    """
    n_components, n_features = means.shape
    head = n_features % 4
    for j in range(head):
        row = xt[j]
        for k in range(n_components):
            prefetch_next(prefetch)
            m = means[k, j]
            resp_k = resp[k]
            variances_k = _row(variances, k)
            s = 0.0
            s2 = 0.0
            for i in range(n):
                w = np.float64(resp_k[i])
                v = np.float64(row[i] - m)
                r = w * v
                s += _unless_nan(r, _absent_term(variances_k, j, 0.0))
                s2 += _unless_nan(r * v, _absent_term(variances_k, j, w))
            stats[k * n_features + j] += s
            stats[(n_components + k) * n_features + j] += s2
            _add_observed_feature(observed, row, n, m, resp_k, k, j, n_components)
    for j in range(head, n_features, 4):
        x0, x1, x2, x3 = xt[j], xt[j + 1], xt[j + 2], xt[j + 3]
        for k in range(n_components):
            prefetch_next(prefetch)
            m0, m1, m2, m3 = means[k, j], means[k, j + 1], means[k, j + 2], means[k, j + 3]
            resp_k = resp[k]
            variances_k = _row(variances, k)
            s0 = s1 = s2 = s3 = 0.0
            q0 = q1 = q2 = q3 = 0.0
            o0 = o1 = o2 = o3 = 0.0
            p0 = p1 = p2 = p3 = 0.0
            for i in range(n):
                w = np.float64(resp_k[i])
                v0 = np.float64(x0[i] - m0)
                v1 = np.float64(x1[i] - m1)
                v2 = np.float64(x2[i] - m2)
                v3 = np.float64(x3[i] - m3)
                r0 = w * v0
                r1 = w * v1
                r2 = w * v2
                r3 = w * v3
                s0 += _unless_nan(r0, _absent_term(variances_k, j, 0.0))
                s1 += _unless_nan(r1, _absent_term(variances_k, j + 1, 0.0))
                s2 += _unless_nan(r2, _absent_term(variances_k, j + 2, 0.0))
                s3 += _unless_nan(r3, _absent_term(variances_k, j + 3, 0.0))
                q0 += _unless_nan(r0 * v0, _absent_term(variances_k, j, w))
                q1 += _unless_nan(r1 * v1, _absent_term(variances_k, j + 1, w))
                q2 += _unless_nan(r2 * v2, _absent_term(variances_k, j + 2, w))
                q3 += _unless_nan(r3 * v3, _absent_term(variances_k, j + 3, w))
                o0 += _where_observed(w, v0, observed)
                o1 += _where_observed(w, v1, observed)
                o2 += _where_observed(w, v2, observed)
                o3 += _where_observed(w, v3, observed)
                p0 += _where_observed(r0 * v0, v0, observed)
                p1 += _where_observed(r1 * v1, v1, observed)
                p2 += _where_observed(r2 * v2, v2, observed)
                p3 += _where_observed(r3 * v3, v3, observed)
            first = k * n_features + j
            squares = (n_components + k) * n_features + j
            stats[first] += s0
            stats[first + 1] += s1
            stats[first + 2] += s2
            stats[first + 3] += s3
            stats[squares] += q0
            stats[squares + 1] += q1
            stats[squares + 2] += q2
            stats[squares + 3] += q3
            _add_observed(observed, k, j, n_components, o0, s0, p0)
            _add_observed(observed, k, j + 1, n_components, o1, s1, p1)
            _add_observed(observed, k, j + 2, n_components, o2, s2, p2)
            _add_observed(observed, k, j + 3, n_components, o3, s3, p3)


@njit(inline="always", **_JIT)
def _few_features_log_prob(xt, n, mean, precisions_cholesky, log_norm, out):
    """OUT out[i] = log_norm - |U^T (xt[:, i] - mean)|^2 / 2 for i < n, of one or two features.

    One pass over the points, with each point's operations those of
    :func:`_centre` and :func:`_triangular_log_prob` in their order, hence
    the same bits: the multiply-adds that those passes make of a product
    and a row they stored are written out (``muladd``), where a contraction
    of two products could fuse either. At one or two features the passes'
    loads and stores of their rows were most of the log-densities' time.
    """
    minus_half = _typed(out, -0.5)
    x0 = xt[0]
    m0 = mean[0]
    c00 = precisions_cholesky[0, 0]
    if xt.shape[0] == 1:
        for i in range(n):
            v0 = (x0[i] - m0) * c00
            out[i] = muladd(minus_half, v0 * v0, log_norm)
        return
    x1 = xt[1]
    m1 = mean[1]
    c01 = precisions_cholesky[0, 1]
    c11 = precisions_cholesky[1, 1]
    for i in range(n):
        d0 = x0[i] - m0
        v0 = d0 * c00
        v1 = muladd(x1[i] - m1, c11, d0 * c01)
        out[i] = muladd(minus_half, muladd(v1, v1, v0 * v0), log_norm)


@njit(inline="always", **_JIT)
def _triangular_component_log_prob(xt, n, mean, precisions_cholesky, log_norm, out, work, prefetch, wide):
    """OUT out[i] = log_norm - |U^T (xt[:, i] - mean)|^2 / 2 for i < n, U upper triangular."""
    n_features = xt.shape[0]
    if wide is not None and n_features >= TILE_MIN_FEATURES:
        mahalanobis_block(xt, n, mean, precisions_cholesky, log_norm, out, prefetch)
        return
    prefetch_next(prefetch)
    if n_features <= 2:
        _few_features_log_prob(xt, n, mean, precisions_cholesky, log_norm, out)
        return
    d = work[1 : 1 + n_features]
    _centre(xt, n, mean, d)
    _triangular_log_prob(d, n, precisions_cholesky, log_norm, work[0], out)


@njit(inline="always", **_JIT)
def _full_component_log_prob(params, k, xt, n, out, work, prefetch, wide):
    """OUT out[i] = log-density of point i under 'full' component k, for i < n."""
    _triangular_component_log_prob(
        xt, n, params.means[k], params.precisions_cholesky[k], params.log_norm[k], out, work, prefetch,
        wide,
    )


@compiled_callers_only(**_JIT)
def _full_log_prob(params, xt, n, log_prob, work, prefetch, wide):
    for k in range(params.means.shape[0]):
        _full_component_log_prob(params, k, xt, n, log_prob[k], work, prefetch, wide)


@compiled_callers_only(**_JIT)
def _tied_log_prob(params, xt, n, log_prob, work, prefetch, wide):
    n_features = xt.shape[0]
    d = work[1 : 1 + n_features]
    y = work[1 + n_features : 1 + 2 * n_features]
    _centre(xt, xt.shape[1] if wide is not None and _maps_through_blas(d) else n, params.shift, d)
    _mapped_block(d, n, params.precisions_cholesky, y, prefetch, wide)
    _mapped_log_prob(y, params.mapped_means, n, params.log_norm, log_prob, prefetch)


@njit(inline="always", **_JIT)
def _few_features_diag_log_prob(xt, n, mean, c, lnorm, out):
    """OUT out[i] = lnorm - sum_j ((xt[j, i] - mean[j]) c[j])^2 for i < n, of one or two features.

    One pass over the points, each point's operations those of the passes
    of :func:`_diag_components_log_prob` (a square subtracted from the
    stored row is one multiply-add, written out), hence the same bits.
    """
    x0 = xt[0]
    m0 = mean[0]
    c0 = c[0]
    if xt.shape[0] == 1:
        for i in range(n):
            y0 = (x0[i] - m0) * c0
            out[i] = muladd(-y0, y0, lnorm)
        return
    x1 = xt[1]
    m1 = mean[1]
    c1 = c[1]
    for i in range(n):
        y0 = (x0[i] - m0) * c0
        y1 = (x1[i] - m1) * c1
        out[i] = muladd(-y1, y1, muladd(-y0, y0, lnorm))


@njit(inline="always", **_JIT)
def _diag_components_log_prob(params, xt, n, log_prob, prefetch, absent):
    """OUT log_prob[k, i] = log_norm[k] - sum_j ((xt[j, i] - means[k, j]) half_scales[k, j])^2.

    For every component k and i < n. Each pass over the points subtracts
    four features (after the ``n_features % 4`` first ones, one per pass),
    so that a row of ``log_prob`` is loaded and stored about
    ``n_features / 4`` times rather than ``n_features``. Each group of
    features is passed over by every component before the next group is
    read, so that the rows in use (the group's and the K rows of
    ``log_prob``) stay in the L1 cache, which the whole transposed block of
    16 float64 features (32 KiB) fills; each point's operations are the same
    in either order. ``absent``: None, or for data with NaN (missing entries)
    a term per component and feature, (n_components, n_features), that a NaN
    entry subtracts instead (its share of ``log_norm``, so that the
    coordinate drops out of the density).
    """
    n_components, n_features = params.means.shape
    head = n_features % 4
    if absent is None and n_features <= 2:
        for k in range(n_components):
            prefetch_next(prefetch)
            _few_features_diag_log_prob(
                xt, n, params.means[k], params.half_scales[k], params.log_norm[k], log_prob[k]
            )
        return
    one = _typed(log_prob, 1.0)
    for k in range(n_components):
        lnorm = params.log_norm[k]
        out = log_prob[k]
        for i in range(n):
            out[i] = lnorm
    for j in range(head):
        row = xt[j]
        for k in range(n_components):
            prefetch_next(prefetch)
            m = params.means[k, j]
            c_j = params.half_scales[k, j]
            absent_k = _row(absent, k)
            out = log_prob[k]
            for i in range(n):
                y = (row[i] - m) * c_j
                out[i] -= _unless_nan(y * y, _absent_term(absent_k, j, one))
    for j in range(head, n_features, 4):
        x0, x1, x2, x3 = xt[j], xt[j + 1], xt[j + 2], xt[j + 3]
        for k in range(n_components):
            prefetch_next(prefetch)
            mean = params.means[k]
            c = params.half_scales[k]
            m0, m1, m2, m3 = mean[j], mean[j + 1], mean[j + 2], mean[j + 3]
            c0, c1, c2, c3 = c[j], c[j + 1], c[j + 2], c[j + 3]
            absent_k = _row(absent, k)
            out = log_prob[k]
            for i in range(n):
                y0 = (x0[i] - m0) * c0
                y1 = (x1[i] - m1) * c1
                y2 = (x2[i] - m2) * c2
                y3 = (x3[i] - m3) * c3
                out[i] -= (
                    _unless_nan(y0 * y0, _absent_term(absent_k, j, one))
                    + _unless_nan(y1 * y1, _absent_term(absent_k, j + 1, one))
                ) + (
                    _unless_nan(y2 * y2, _absent_term(absent_k, j + 2, one))
                    + _unless_nan(y3 * y3, _absent_term(absent_k, j + 3, one))
                )


@compiled_callers_only(**_JIT)
def _diag_log_prob(params, xt, n, log_prob, work, prefetch):
    _diag_components_log_prob(params, xt, n, log_prob, prefetch, None)


@njit(inline="always", **_JIT)
def _full_component_moments(params, k, mean, xt, n, resp_k, rows, stats, prefetch, wide, points):
    """INOUT stats: 'full' component k's first and second moments about ``mean`` (its mean, or
    zeros for a block of deviations from it), weights resp_k, of the block's first ``n`` points
    (``points`` None) or of the ``n`` points ``points`` lists. ``rows``: the block's
    :func:`_statistics_rows`, taken once for all its components (each view is a reshape,
    a call into Numba's runtime: about 3% of a full D=2 K=4 pass in a profile, taken
    per component)."""
    n_components, n_features = params.means.shape
    d, rd, square = rows
    second = n_components * n_features + k * n_features * n_features
    _centre_first_moments(xt, n, mean, resp_k, d, rd, stats, k * n_features, points)
    _outer_moments(d, rd, n, stats, second, square, prefetch, wide)


@njit(inline="always", **_JIT)
def _full_component_accumulate(params, k, mean, xt, n, resp_k, work, rows, stats, prefetch, wide):
    """:func:`_full_component_moments` of the block, for a ``wide`` of True: from
    SPARSE_MIN_FEATURES features on, of its points of nonzero responsibility alone,
    gathered, when they are few."""
    prefetch_next(prefetch)
    if xt.shape[0] >= SPARSE_MIN_FEATURES:
        points = work[0].view(np.int32)
        m = _weighted_points(resp_k, n, points)
        if m == 0:
            return
        if m < n:
            _full_component_moments(params, k, mean, xt, m, resp_k, rows, stats, prefetch, wide, points)
            return
    _full_component_moments(params, k, mean, xt, n, resp_k, rows, stats, prefetch, wide, None)


@compiled_callers_only(**_JIT)
def _full_accumulate(params, xt, n, resp, work, stats, prefetch, wide):
    # ``wide`` is tested here, in the compiled function's own body, where Numba
    # prunes the branch before it inlines the helpers: for a None ``wide`` the
    # gathering is not even inlined (Numba's inlining of this block 0.9 -> 0.4 s).
    rows = _statistics_rows(work, params.means.shape[1])
    for k in range(params.means.shape[0]):
        if wide is None:
            prefetch_next(prefetch)
            _full_component_moments(params, k, params.means[k], xt, n, resp[k], rows, stats, prefetch, None, None)
        else:
            _full_component_accumulate(
                params, k, params.means[k], xt, n, resp[k], work, rows, stats, prefetch, wide
            )


@njit(inline="always", **_JIT)
def _tied_weights(resp, n, inv_w):
    """OUT inv_w[i] = sum_k resp[k, i], each point's weight (inverted by ``_tied_scatter``)."""
    for i in range(n):
        inv_w[i] = resp[0, i]
    for k in range(1, resp.shape[0]):
        r = resp[k]
        for i in range(n):
            inv_w[i] += r[i]


@njit(inline="always", **_JIT)
def _tied_moments(means, xt, n, resp, u, stats, prefetch):
    """OUT u = sum_k resp[k] (xt - means[k]); INOUT stats: the components' first moments.

    ``means``: (n_components, n_features), or the (n_features,) origin of a
    block of deviations from each component's mean, ``xt`` then
    (n_components, n_features, BLOCK_SIZE), each component's deviations
    (see :func:`_component_rows`). Each feature is passed over by every
    component before the next is read, so that the rows in use (the
    feature's of ``xt`` and ``u``, and the K rows of ``resp``) stay in the
    L1 cache; ``u`` adds the components in their order, whatever the order
    of the passes.
    """
    n_components = resp.shape[0]
    n_features = u.shape[0]
    for j in range(n_features):
        u_j = u[j]
        for k in range(n_components):
            prefetch_next(prefetch)
            m = _component_mean(means, k)[j]
            row = _component_rows(xt, k)[j]
            resp_k = resp[k]
            s = 0.0
            if k == 0:
                for i in range(n):
                    v = np.float64(resp_k[i] * (row[i] - m))
                    u_j[i] = v
                    s += v
            else:
                for i in range(n):
                    v = np.float64(resp_k[i] * (row[i] - m))
                    u_j[i] += v
                    s += v
            stats[k * n_features + j] += s


@njit(inline="always", **_JIT)
def _tied_scatter(n, resp, inv_w, u, d, square, stats, prefetch, wide):
    """INOUT stats: ``sxx += sum_i u_i u_i^T / w_i`` and the ``pairs``; OUT inv_w = 1 / w."""
    n_components = resp.shape[0]
    n_features = u.shape[0]
    zero = _typed(inv_w, 0.0)
    one = _typed(inv_w, 1.0)
    for i in range(n):
        inv_w[i] = one / inv_w[i] if inv_w[i] > zero else zero
    for j in range(n_features):
        u_j = u[j]
        d_j = d[j]
        for i in range(n):
            d_j[i] = u_j[i] * np.float64(inv_w[i])
    second = n_components * n_features
    _outer_moments(d, u, n, stats, second, square, prefetch, wide)
    pairs = second + n_features * n_features
    for k in range(n_components - 1):
        prefetch_next(prefetch)
        r_k = resp[k]
        for l in range(k + 1, n_components):
            r_l = resp[l]
            s = 0.0
            for i in range(n):
                s += np.float64(r_k[i] * inv_w[i] * r_l[i])
            stats[pairs + k * n_components + l] += s


@compiled_callers_only(**_JIT)
def _tied_accumulate(params, xt, n, resp, work, stats, prefetch, wide):
    """Tied statistics around each point's own centre, so that nothing cancels.

    With ``w_i = sum_k r_ik`` (the point's weight) and ``c_i = sum_k r_ik m_k / w_i``
    (its responsibility-weighted centre), the within-component scatter is

        sum_k sum_i r_ik (x_i - m_k)(x_i - m_k)^T
            = sum_i w_i (x_i - c_i)(x_i - c_i)^T + sum_{k<l} Q_kl (m_k - m_l)(m_k - m_l)^T,

    ``Q_kl = sum_i r_ik r_il / w_i``. Both parts are sums of positive
    semi-definite terms, each small where the data are: the first is built from
    ``u_i = sum_k r_ik (x_i - m_k) = w_i (x_i - c_i)``, never from ``x_i``
    itself, and the second is formed in float64 in the M-step. Statistics:
    ``sx`` around the means, ``sxx`` (lower triangle of ``sum_i u_i u_i^T / w_i``)
    and ``pairs`` (``Q_kl`` for k < l, in a (n_components, n_components) layout).
    """
    inv_w = work[0]
    u, d, square = _statistics_rows(work, params.means.shape[1])
    _tied_weights(resp, n, inv_w)
    _tied_moments(params.means, xt, n, resp, u, stats, prefetch)
    _tied_scatter(n, resp, inv_w, u, d, square, stats, prefetch, wide)


@compiled_callers_only(**_JIT)
def _diagonal_accumulate(params, xt, n, resp, work, stats, prefetch):
    _first_square_moments(xt, n, params.means, resp, stats, prefetch, None, None)


# The 'full' and 'tied' blocks the fused E-step calls (through their
# addresses) are these entries, each a call of the block. The blocks of data
# with NaN (``gaussian_missing``) run the same blocks on their complete points
# through a call Numba links, and LLVM optimises the linked copy once more in
# its caller; the entries give the complete-data pass the same second
# optimisation, hence the same arithmetic. Registered directly, the blocks
# gave a chunk without NaN other last bits than the same chunk within a pass
# of ``missing='em'`` (1 float64 unit in 2 of 15 means after 5 passes:
# tests/test_missing_patterns.py), and float64 fits other bits than before
# the blocks were called through their addresses. Each block has an entry
# for wide data and one for data of few features (``wide`` None).
@compiled_callers_only(**_JIT)
def _full_log_prob_entry(params, xt, n, log_prob, work, prefetch):
    _full_log_prob(params, xt, n, log_prob, work, prefetch, True)


@compiled_callers_only(**_JIT)
def _full_log_prob_narrow_entry(params, xt, n, log_prob, work, prefetch):
    _full_log_prob(params, xt, n, log_prob, work, prefetch, None)


@compiled_callers_only(**_JIT)
def _full_accumulate_entry(params, xt, n, resp, work, stats, prefetch):
    _full_accumulate(params, xt, n, resp, work, stats, prefetch, True)


@compiled_callers_only(**_JIT)
def _full_accumulate_narrow_entry(params, xt, n, resp, work, stats, prefetch):
    _full_accumulate(params, xt, n, resp, work, stats, prefetch, None)


@compiled_callers_only(**_JIT)
def _tied_log_prob_entry(params, xt, n, log_prob, work, prefetch):
    _tied_log_prob(params, xt, n, log_prob, work, prefetch, True)


@compiled_callers_only(**_JIT)
def _tied_log_prob_narrow_entry(params, xt, n, log_prob, work, prefetch):
    _tied_log_prob(params, xt, n, log_prob, work, prefetch, None)


@compiled_callers_only(**_JIT)
def _tied_accumulate_entry(params, xt, n, resp, work, stats, prefetch):
    _tied_accumulate(params, xt, n, resp, work, stats, prefetch, True)


@compiled_callers_only(**_JIT)
def _tied_accumulate_narrow_entry(params, xt, n, resp, work, stats, prefetch):
    _tied_accumulate(params, xt, n, resp, work, stats, prefetch, None)


_K, _D = "n_components", "n_features"
register_family_kernels(
    FullParams, _full_log_prob_entry, _full_accumulate_entry,
    shapes={"means": (_K, _D), "precisions_cholesky": (_K, _D, _D), "log_norm": (_K,)},
    few_features=(WIDE_MIN_FEATURES, _full_log_prob_narrow_entry, _full_accumulate_narrow_entry),
)
register_family_kernels(
    TiedParams, _tied_log_prob_entry, _tied_accumulate_entry,
    shapes={
        "means": (_K, _D), "precisions_cholesky": (_D, _D), "log_norm": (_K,),
        "shift": (_D,), "mapped_means": (_K, _D),
    },
    few_features=(WIDE_MIN_FEATURES, _tied_log_prob_narrow_entry, _tied_accumulate_narrow_entry),
)
register_family_kernels(
    DiagParams, _diag_log_prob, _diagonal_accumulate,
    shapes={"means": (_K, _D), "half_scales": (_K, _D), "log_norm": (_K,)},
)


def work_rows(n_features):
    """Rows of per-partition scratch the Gaussian blocks need, for data of either dtype.

    Row 0, then float64 rows for two centred blocks and an (n_features,
    n_features) square (two float32 rows per float64 row), which also cover
    the log-density blocks' rows; see the layout above.
    """
    square_rows = -(-n_features * n_features // BLOCK_SIZE)
    return 1 + 2 * (2 * n_features + square_rows)
