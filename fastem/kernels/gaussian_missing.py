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

Each block runs the complete-data block of :mod:`fastem.kernels.gaussian` on
the whole block first: rows without NaN take exactly the complete-data path
(and give the same statistics, bit for bit). Incomplete rows are then found
by one scan of the block and handled one at a time, with the factor of
``P_MM`` computed on the fly (``|M| x |M|`` scratch, nothing per row is
stored): their log-densities overwrite the complete-data block's NaN, and
their statistics are added to the accumulator before their
responsibilities are set to 0 and their NaN to 0, so that the complete-data
statistics block adds nothing for them.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit, prange
from numba.extending import overload

from .._config import BLOCK_SIZE, FASTMATH
from .gaussian import (
    _diag_log_prob,
    _diagonal_accumulate,
    _float64_rows,
    _full_accumulate,
    _full_log_prob,
    _tied_accumulate,
    _tied_log_prob,
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


def _scratch_length(n_features):
    """Float64 entries of the per-row scratch: the block's incomplete points, then the row's."""
    return BLOCK_SIZE + 4 * n_features + 2 * n_features * n_features


def missing_work_rows(n_features):
    """Rows of per-partition scratch: the complete-data blocks' rows, then float64 scratch."""
    return work_rows(n_features) + 2 * -(-_scratch_length(n_features) // BLOCK_SIZE)


@njit(inline="always", **_JIT)
def _row_scratch(work, n_features):
    """Float64 views in the last rows of ``work``: (points, obs, miss, e, b, factor, inverse)."""
    width = work.shape[1]
    count = -(-(BLOCK_SIZE + 4 * n_features + 2 * n_features * n_features) // width)
    flat = _float64_rows(work, work.shape[0] - count * (8 // work.itemsize), count).reshape(-1)
    D = n_features
    points = flat[:BLOCK_SIZE]
    o = BLOCK_SIZE
    obs = flat[o : o + D]
    miss = flat[o + D : o + 2 * D]
    e = flat[o + 2 * D : o + 3 * D]
    b = flat[o + 3 * D : o + 4 * D]
    factor = flat[o + 4 * D : o + 4 * D + D * D]
    inverse = flat[o + 4 * D + D * D : o + 4 * D + 2 * D * D]
    return points, obs, miss, e, b, factor, inverse


@njit(inline="always", **_JIT)
def _incomplete_points(xt, n, points):
    """OUT points[:count] = the points of the block with a NaN entry, in order; returns count.

    The NaN are counted per point in one branch-free pass per feature (the
    cost of a block without NaN), then the points that have some are listed.
    """
    for i in range(n):
        points[i] = 0.0
    for j in range(xt.shape[0]):
        row = xt[j]
        for i in range(n):
            points[i] += 1.0 if row[i] != row[i] else 0.0
    count = 0
    for i in range(n):
        if points[i] > 0.0:
            points[count] = i
            count += 1
    return count


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


@njit(**_JIT)
def _dense_row_statistics(e, r, miss, n_miss, factor, inverse, stats, sx, sxx):
    """INOUT stats: ``sx += r e``; lower triangle of ``sxx += r (e e^T + P_MM^-1)`` (missing block).

    ``sx`` and ``sxx`` are offsets into ``stats``; ``factor`` the lower factor of ``P_MM``
    from :func:`_dense_conditional`; ``inverse`` scratch for its inverse.
    """
    D = e.shape[0]
    for j in range(D):
        w = r * e[j]
        stats[sx + j] += w
        out = sxx + j * D
        for l in range(j + 1):
            stats[out + l] += w * e[l]
    # V = L^-1 (lower) by forward substitution; P_MM^-1 = V^T V.
    for c in range(n_miss):
        for a in range(c, n_miss):
            s = 1.0 if a == c else 0.0
            for p in range(c, a):
                s -= factor[a * D + p] * inverse[p * D + c]
            inverse[a * D + c] = s / factor[a * D + a]
    for a in range(n_miss):
        out = sxx + int(miss[a]) * D
        for c in range(a + 1):
            s = 0.0
            for p in range(a, n_miss):
                s += inverse[p * D + a] * inverse[p * D + c]
            stats[out + int(miss[c])] += r * s


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


def _row_log_density(params, k, xt, i, obs, n_obs, miss, n_miss, e, b, factor):
    """Log-density of the observed coordinates of point i under component k (Numba only)."""
    raise NotImplementedError("_row_log_density is only callable from Numba code")


def _row_statistics(params, k, r, xt, i, obs, n_obs, miss, n_miss, e, b, factor, inverse, stats):
    """Add point i's expected statistics under component k, weight r (Numba only)."""
    raise NotImplementedError("_row_statistics is only callable from Numba code")


def _kind(params):
    cls = getattr(params, "instance_class", None)
    return {FullMissingParams: "full", TiedMissingParams: "tied", DiagMissingParams: "diag"}.get(cls)


@overload(_complete_log_prob, jit_options=_JIT)
def _overload_complete_log_prob(params, xt, n, log_prob, work, prefetch):
    block = {"full": _full_log_prob, "tied": _tied_log_prob, "diag": _diag_log_prob}.get(_kind(params))
    if block is not None:
        return lambda params, xt, n, log_prob, work, prefetch: block(
            params, xt, n, log_prob, work, prefetch
        )
    return None


@overload(_complete_accumulate, jit_options=_JIT)
def _overload_complete_accumulate(params, xt, n, resp, work, stats, prefetch):
    block = {
        "full": _full_accumulate, "tied": _tied_accumulate, "diag": _diagonal_accumulate
    }.get(_kind(params))
    if block is not None:
        return lambda params, xt, n, resp, work, stats, prefetch: block(
            params, xt, n, resp, work, stats, prefetch
        )
    return None


@overload(_row_log_density, jit_options=_JIT)
def _overload_row_log_density(params, k, xt, i, obs, n_obs, miss, n_miss, e, b, factor):
    kind = _kind(params)
    if kind in ("full", "tied"):

        def dense(params, k, xt, i, obs, n_obs, miss, n_miss, e, b, factor):
            mahalanobis, half_log_det = _dense_conditional(
                xt, i, params.means, params.precisions, k, miss, n_miss, e, b, factor
            )
            return (
                np.float64(params.log_norm[k]) + n_miss * _HALF_LOG_2PI - half_log_det
                - 0.5 * mahalanobis
            )

        return dense
    if kind == "diag":

        def diagonal(params, k, xt, i, obs, n_obs, miss, n_miss, e, b, factor):
            total = 0.0
            for t in range(n_obs):
                o = int(obs[t])
                y = (np.float64(xt[o, i]) - np.float64(params.means[k, o])) * np.float64(
                    params.half_scales[k, o]
                )
                total += np.float64(params.feature_log_norm[k, o]) - y * y
            return total

        return diagonal
    return None


@overload(_row_statistics, jit_options=_JIT)
def _overload_row_statistics(params, k, r, xt, i, obs, n_obs, miss, n_miss, e, b, factor, inverse,
                             stats):
    kind = _kind(params)
    if kind in ("full", "tied"):
        per_component = kind == "full"

        def dense(params, k, r, xt, i, obs, n_obs, miss, n_miss, e, b, factor, inverse, stats):
            n_components, D = params.means.shape
            _dense_conditional(xt, i, params.means, params.precisions, k, miss, n_miss, e, b, factor)
            # 'tied' adds each point's within-component scatter to the shared sxx
            # directly (and nothing to its pairs, see gaussian._tied_accumulate).
            sxx = n_components * D + (k * D * D if per_component else 0)
            _dense_row_statistics(e, r, miss, n_miss, factor, inverse, stats, k * D, sxx)

        return dense
    if kind == "diag":

        def diagonal(params, k, r, xt, i, obs, n_obs, miss, n_miss, e, b, factor, inverse, stats):
            n_components, D = params.means.shape
            sx = k * D
            sxx = n_components * D + k * D
            for t in range(n_obs):
                o = int(obs[t])
                d = np.float64(xt[o, i]) - np.float64(params.means[k, o])
                stats[sx + o] += r * d
                stats[sxx + o] += r * d * d
            for a in range(n_miss):
                m = int(miss[a])
                stats[sxx + m] += r * np.float64(params.variances[k, m])

        return diagonal
    return None


# -- the blocks, one pair for every covariance type


@njit(**_JIT)
def _missing_log_prob(params, xt, n, log_prob, work, prefetch):
    n_components, n_features = params.means.shape
    points, obs, miss, e, b, factor, _ = _row_scratch(work, n_features)
    _complete_log_prob(params, xt, n, log_prob, work, prefetch)
    for t in range(_incomplete_points(xt, n, points)):
        i = int(points[t])
        n_obs, n_miss = _pattern(xt, i, obs, miss)
        for k in range(n_components):
            log_prob[k, i] = _row_log_density(params, k, xt, i, obs, n_obs, miss, n_miss, e, b, factor)


@njit(**_JIT)
def _missing_accumulate(params, xt, n, resp, work, stats, prefetch):
    n_components, n_features = params.means.shape
    points, obs, miss, e, b, factor, inverse = _row_scratch(work, n_features)
    zero = _typed(xt, 0.0)
    for t in range(_incomplete_points(xt, n, points)):
        i = int(points[t])
        n_obs, n_miss = _pattern(xt, i, obs, miss)
        for k in range(n_components):
            r = np.float64(resp[k, i])
            if r > 0.0:
                _row_statistics(
                    params, k, r, xt, i, obs, n_obs, miss, n_miss, e, b, factor, inverse, stats
                )
            resp[k, i] = 0
        for a in range(n_miss):
            xt[int(miss[a]), i] = zero
    _complete_accumulate(params, xt, n, resp, work, stats, prefetch)


_K, _D = "n_components", "n_features"
register_family_kernels(
    FullMissingParams, _missing_log_prob, _missing_accumulate,
    shapes={
        "means": (_K, _D), "precisions_cholesky": (_K, _D, _D), "log_norm": (_K,),
        "precisions": (_K, _D, _D),
    },
)
register_family_kernels(
    TiedMissingParams, _missing_log_prob, _missing_accumulate,
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
