"""Model-based agglomerative hierarchical clustering, the start that mclust uses.

Starting from one cluster per distinct point, the two clusters whose merge
lowers the classification likelihood of an unconstrained Gaussian model
('VVV') the least are merged, again and again (Fraley 1998, "Algorithms for
model-based Gaussian hierarchical clustering", SIAM J. Sci. Comput. 20(1)).
Cutting the tree at K clusters gives the partition whose class moments start
EM. The clustering runs on data transformed as in mclust's default
``hcUse = "SVD"`` (Scrucca & Raftery 2015, "Improved initialisation of
model-based clustering using Gaussian hierarchical partitions", Adv. Data Anal.
Classif. 9): features standardised, rotated onto their principal axes and each
axis divided by the square root of its singular value. The transformation makes
the tree independent of the data's units, shifts and rotations.

The criterion of a cluster of (weighted) size ``n``, scatter matrix ``W`` (sum
of the outer products of the centred points) and trace ``t = tr W`` is mclust's
regularised form of ``n log det(W / n)``::

    term = n log( det(W / n) + beta (t + alpha) / n )     more distinct points than features
    term = n log( beta (t + alpha) / n )                  otherwise

with ``alpha`` the mean squared deviation per coordinate of the transformed
data and ``beta = 1``, as in mclust's ``hcVVV``. A merge costs
``term(i + j) - term(i) - term(j)``; the scatter of a merge is
``W_i + W_j + n_i n_j / (n_i + n_j) (mean_i - mean_j)(mean_i - mean_j)^T``.

The search keeps every pair's cost (``m (m - 1) / 2`` numbers for ``m``
clusters) and, for each cluster, its cheapest partner among the clusters after
it (the "generic" algorithm of Muellner 2011, "Modern hierarchical,
agglomerative clustering algorithms", arXiv:1109.2378): a merge recomputes the
costs of the merged cluster only, and the partners of the clusters that had
one of the two merged clusters as theirs. On ``m`` points this takes
``O(m^2)`` memory and, in practice, ``O(m^2)`` cost evaluations; it runs on a
subsample of at most :data:`HIERARCHICAL_SAMPLE_SIZE` points (mclust's
default subset; fewer from 9 features on, see :func:`sample_size`), so its
cost does not grow with the data. With more than 30 features the bounded
subsample holds fewer than 10 points per feature, too few for the unconstrained
model (:func:`suitable`); fastem then starts from k-means++ instead.
"""

import hashlib
import os
import threading

import numpy as np
from numba import njit, types

from .kernels._fused import compiled_callers_only, _address, _call_compiled, _matrix

__all__ = ["HIERARCHICAL_SAMPLE_SIZE", "hierarchical_labels", "sample_size", "suitable", "svd_transform"]

#: Points that the hierarchical clustering runs on (mclust's ``subset`` default).
HIERARCHICAL_SAMPLE_SIZE = 2000
# Bound of the floating-point work of one tree: m^2 pair costs, each up to a
# p x p Cholesky factorisation (p^3 / 3) and a scatter update (p^2). It keeps
# a tree to about a second; from 9 features on it lowers the subsample below
# HIERARCHICAL_SAMPLE_SIZE.
_WORK = 1e9
# mclust's hcVVV default; with it the regularisation weighs as much as the determinant.
_BETA = 1.0
_EPS = float(np.finfo(np.float64).eps)
# The unconstrained model needs clusters of many more points than features;
# below this many subsample points per feature the tree says little.
_POINTS_PER_FEATURE = 10


def sample_size(n_features):
    """Points the hierarchical clustering of ``n_features`` features runs on."""
    p = float(n_features)
    return int(min(HIERARCHICAL_SAMPLE_SIZE, np.sqrt(_WORK / (p**3 / 3.0 + p**2 + 1.0))))


def suitable(n_features):
    """Whether the bounded subsample holds enough points per feature (up to 30 features)."""
    return sample_size(n_features) >= _POINTS_PER_FEATURE * n_features


def svd_transform(X, weights):
    """Scrucca & Raftery's "SVD" transformation of ``X``, weighted.

    Standardise each feature (weighted mean, weighted standard deviation with
    the ``n - 1`` divisor of R's ``scale``), rotate onto the principal axes and
    divide each axis by the square root of its singular value. Constant
    features and directions without variance are dropped.

    Parameters
    ----------
    X : ndarray of shape (m, n_features), float64
    weights : ndarray of shape (m,), positive, mean 1

    Returns
    -------
    Z : ndarray of shape (m, rank), float64
    """
    total = weights.sum()
    mean = weights @ X / total
    centred = X - mean
    sd = np.sqrt(weights @ centred**2 / max(total - 1.0, 1.0))
    keep = sd > np.finfo(np.float64).eps * np.maximum(np.abs(mean), 1e-300) * 16
    if not keep.any():
        return np.zeros((X.shape[0], 0))
    standard = centred[:, keep] / sd[keep]
    _, singular, vt = np.linalg.svd(standard * np.sqrt(weights)[:, None], full_matrices=False)
    rank = singular > singular[0] * max(standard.shape) * np.finfo(np.float64).eps
    return standard @ vt[rank].T / np.sqrt(singular[rank])


@compiled_callers_only(cache=True, error_model="numpy")
def _log_dets(W, p, log_det):
    """``log det`` of the p x p symmetric matrices held in ``W``, by Cholesky; -inf where not positive definite.

    Column ``u`` of ``W`` holds the lower triangle of matrix ``u``, entry
    ``(a, b)``, ``b <= a``, in row ``a (a + 1) / 2 + b``; it is overwritten by
    the Cholesky factor. The loops across the matrices are innermost, so that
    they vectorise, and each matrix goes through the operations of the scalar
    factorisation in the same order (the same rounding). A pivot that is not
    positive leaves a sum of logs that is -inf or NaN, which the logs of
    positive pivots never sum to.
    """
    count = W.shape[1]
    for u in range(count):
        log_det[u] = 0.0
    for j in range(p):
        row_j = j * (j + 1) // 2
        diagonal = row_j + j
        for q in range(j):
            for u in range(count):
                W[diagonal, u] -= W[row_j + q, u] * W[row_j + q, u]
        for u in range(count):
            d = np.sqrt(W[diagonal, u])
            W[diagonal, u] = d
            log_det[u] += np.log(d)
        for i in range(j + 1, p):
            row_i = i * (i + 1) // 2
            for q in range(j):
                for u in range(count):
                    W[row_i + j, u] -= W[row_i + q, u] * W[row_j + q, u]
            for u in range(count):
                W[row_i + j, u] /= W[diagonal, u]
    for u in range(count):
        log_det[u] = 2.0 * log_det[u] if log_det[u] > -np.inf else -np.inf


@compiled_callers_only(cache=True, error_model="numpy")
def _term(n, trace, log_det, alpha, p):
    """The criterion of a cluster (module docstring) from ``log det W``; -inf gives the regularised form.

    ``n log(det(W / n) + r)`` is evaluated as ``n log(exp(l) + r)`` for
    ``l = log det(W / n) <= 0`` and as ``n (l + log1p(exp(-l) r))`` above, so
    that neither overflows.
    """
    regular = _BETA * (trace + alpha) / n
    if log_det == -np.inf:
        return n * np.log(regular)
    log_det -= p * np.log(n)
    if log_det <= 0.0:
        return n * np.log(np.exp(log_det) + regular)
    return n * (log_det + np.log1p(np.exp(-log_det) * regular))


@compiled_callers_only(cache=True, error_model="numpy")
def _merge_costs(log_dets, i, partners, n, size, mean, scatter, trace, term, alpha, out, work, full):
    """Costs of merging cluster ``i`` with each cluster of ``partners``, into ``out``.

    The trace and scatter of each merge are those of the module docstring.
    Scatter matrices (packed as in :func:`_log_dets`) are formed and factorised
    only for merges of more than ``p`` points with a positive trace; the others
    take the regularised form. The loops over the partners are innermost, so
    that they vectorise; each cost goes through the operations of a one-pair
    evaluation in the same order (the same rounding, hence the same merges).
    ``work`` (float64, ``(5 + p + scatter.shape[1]) m``) and ``full`` (int64, ``m``)
    are scratch, for ``m`` clusters. ``log_dets``: the address of :func:`_log_dets`
    compiled for ``_LOG_DETS_TYPES``, called through it, as :func:`_merge_loop` calls it:
    a call Numba links would put a copy of it into this function's module, which LLVM
    optimises again (0.1-0.2 s of a cold first fit).
    """
    count = len(partners)
    p = mean.shape[1]
    m = full.shape[0]
    total = work[:count]
    c = work[m : m + count]
    trace_ik = work[2 * m : 2 * m + count]
    log_det = work[3 * m : 3 * m + count]
    for t in range(count):
        k = partners[t]
        total[t] = n[i] + n[k]
        c[t] = n[i] * n[k] / total[t]
        trace_ik[t] = 0.0
        log_det[t] = -np.inf
    for a in range(p):
        for t in range(count):
            d = mean[i, a] - mean[partners[t], a]
            trace_ik[t] += d * d
    # The merges that take the determinant, by their place in partners.
    n_full = 0
    for t in range(count):
        k = partners[t]
        trace_ik[t] = trace[i] + trace[k] + c[t] * trace_ik[t]
        if size[i] + size[k] > p and trace_ik[t] > 0.0:
            full[n_full] = t
            n_full += 1
    full_log_det = work[4 * m : 4 * m + n_full]
    difference = _matrix(work, 5 * m, p, n_full, work.dtype)
    W = _matrix(work, (5 + p) * m, scatter.shape[1], n_full, work.dtype)
    for a in range(p):
        for u in range(n_full):
            difference[a, u] = mean[i, a] - mean[partners[full[u]], a]
    for a in range(p):
        for b in range(a + 1):
            ab = a * (a + 1) // 2 + b
            for u in range(n_full):
                t = full[u]
                W[ab, u] = scatter[i, ab] + scatter[partners[t], ab] + c[t] * difference[a, u] * difference[b, u]
    _call_compiled(log_dets, (W, p, full_log_det))
    for u in range(n_full):
        log_det[full[u]] = full_log_det[u]
    for t in range(count):
        out[t] = _term(total[t], trace_ik[t], log_det[t], alpha, p) - term[i] - term[partners[t]]


_LOG_DETS_TYPES = (types.float64[:, ::1], types.int64, types.float64[::1])
_MERGE_COSTS_TYPES = (
    types.int64, types.int64, types.int64[::1], types.float64[::1], types.int64[::1],
    types.float64[:, ::1], types.float64[:, ::1], types.float64[::1], types.float64[::1], types.float64,
    types.float64[::1], types.float64[::1], types.int64[::1],
)


@compiled_callers_only(cache=True, error_model="numpy")
def _pair(i, j, m):
    """Index of the pair i < j in the condensed upper triangle of an m x m matrix."""
    return i * m - (i * (i + 1)) // 2 + (j - i - 1)


@compiled_callers_only(cache=True, error_model="numpy")
def _refresh_partner(k, alive, costs, partner, cheapest, m):
    best = np.inf
    best_l = -1
    for l in range(k + 1, m):
        if alive[l]:
            c = costs[_pair(k, l, m)]
            if c < best:
                best = c
                best_l = l
    partner[k] = best_l
    cheapest[k] = best


@compiled_callers_only(cache=True, error_model="numpy")
def _cheapest_row(rows, partner, cheapest):
    """The first of ``rows`` with a partner and the smallest cheapest cost."""
    i = -1
    best = np.inf
    for a in rows:
        if partner[a] >= 0 and (i < 0 or cheapest[a] < best):
            best = cheapest[a]
            i = a
    return i


def merge_tree(Z, n):
    """The merges of the hierarchical clustering of ``Z``, down to one cluster.

    Parameters
    ----------
    Z : ndarray of shape (m, p), float64
        Distinct points, transformed (see :func:`svd_transform`).
    n : ndarray of shape (m,), float64
        Positive weight of each point (the number of copies of it).

    Returns
    -------
    merges : ndarray of shape (m - 1, 2), int64
        Row s holds the clusters merged at step s, each named by its smallest
        point index; the merged cluster keeps the first name.

    Raises
    ------
    ValueError
        ``Z`` or ``n`` is not finite, a weight is not positive, or the merge
        costs overflow (weights far from 1: scale them to a mean of 1).
    """
    Z = np.array(Z, dtype=np.float64, order="C")  # copies: the loop takes C-contiguous arrays
    if Z.ndim != 2:
        raise ValueError(f"merge_tree needs points of shape (m, p), got shape {Z.shape}.")
    m, p = Z.shape
    merges = np.empty((max(m - 1, 0), 2), dtype=np.int64)
    n = np.array(n, dtype=np.float64)
    if n.shape != (m,) or not (np.isfinite(Z).all() and np.isfinite(n).all() and (n > 0).all()):
        raise ValueError(
            "merge_tree needs finite points and one finite, positive weight per point; got "
            f"{m} points with {int((~np.isfinite(Z)).sum())} non-finite coordinates and weights "
            f"of shape {n.shape}, {int((~(np.isfinite(n) & (n > 0))).sum())} of them not finite "
            "and positive. Drop those points, or give them positive weights."
        )
    if m < 2:
        return merges
    # Scatter matrices (lower triangles, packed as in _log_dets) matter only
    # for clusters of more than p points.
    triangle = p * (p + 1) // 2 if m > p else 0
    total = n.sum()  # before the loop, which merges the weights in place
    # The arrays are made here, not in the compiled loop: each NumPy
    # constructor there is one more function to compile on the first fit.
    _merge_loop(
        _address(_merge_costs, _MERGE_COSTS_TYPES), _address(_log_dets, _LOG_DETS_TYPES),
        Z, merges,
        n=n,
        mean=Z.copy(),
        size=np.ones(m, dtype=np.int64),
        trace=np.zeros(m),
        scatter=np.zeros((m if triangle else 1, triangle)),
        term=np.empty(m),
        costs=np.empty(m * (m - 1) // 2),
        alive=np.ones(m, dtype=np.bool_),
        # the clusters alive, in increasing order; int64 as the address's types say
        order=np.arange(m, dtype=np.int64),
        partner=np.empty(m, dtype=np.int64),
        cheapest=np.empty(m),
        stale=np.zeros(m, dtype=np.bool_),
        partners=np.empty(m, dtype=np.int64),
        row=np.empty(m),
        factor=np.empty((triangle, 1)),
        log_det=np.empty(1),
        overall=np.zeros(p),
        work=np.empty((5 + p + triangle) * m),  # _merge_costs's scratch
        full=np.empty(m, dtype=np.int64),
    )
    if merges[-1, 0] < 0:
        raise ValueError(
            "The hierarchical clustering found no finite merge cost (the weights or the "
            f"points' spread overflow: weights sum to {total:.3g}, the largest coordinate is "
            f"{np.abs(Z).max():.3g}). Scale the points to unit spread and the weights to a "
            "mean of 1."
        )
    return merges


@njit(cache=True, error_model="numpy")
def _merge_loop(
    merge_costs, log_dets, Z, merges, n, mean, size, trace, scatter, term, costs, alive, order,
    partner, cheapest, stale, partners, row, factor, log_det, overall, work, full,
):
    """:func:`merge_tree` from its arrays: ``n`` and ``mean`` copies of the weights and of
    ``Z``, ``size`` ones, ``trace``, ``scatter``, ``overall``, ``stale`` zeros, ``alive``
    ones, ``order`` 0..m-1; the others scratch. OUT ``merges`` (-1 from the first step
    that finds no finite cost on).

    ``merge_costs`` and ``log_dets`` are the addresses of :func:`_merge_costs`
    and :func:`_log_dets` compiled for ``_MERGE_COSTS_TYPES`` and
    ``_LOG_DETS_TYPES``, called through them: a call Numba links would put
    copies of them into this function's module, which LLVM optimises again.
    """
    m, p = Z.shape
    track = scatter.shape[1] > 0
    total = 0.0
    for i in range(m):
        total += n[i]
    for i in range(m):
        for a in range(p):
            overall[a] += n[i] * Z[i, a] / total
    alpha = 0.0
    for i in range(m):
        for a in range(p):
            deviation = Z[i, a] - overall[a]
            alpha += n[i] * (deviation * deviation)  # as ** 2, which Numba compiles a function for
    alpha /= total * (p if p > 1 else 1)
    if alpha < _EPS:
        alpha = _EPS
    for i in range(m):
        term[i] = n[i] * np.log(_BETA * alpha / n[i])
    for i in range(m):
        start = _pair(i, i + 1, m)
        _call_compiled(merge_costs, (
            log_dets, i, order[i + 1 :], n, size, mean, scatter, trace, term, alpha,
            costs[start : start + m - 1 - i], work, full,
        ))
        _refresh_partner(i, alive, costs, partner, cheapest, m)
    # A row whose partner merged keeps its old cheapest cost as a lower bound
    # (its other costs did not change) and is only searched again when that
    # bound comes out smallest (Muellner's generic algorithm).
    for step in range(m - 1):
        n_alive = m - step
        while True:
            i = _cheapest_row(order[:n_alive], partner, cheapest)
            if i < 0 or not stale[i]:
                break
            stale[i] = False
            _refresh_partner(i, alive, costs, partner, cheapest, m)
        if i < 0:  # no finite cost left (overflow): the caller raises
            merges[step:] = -1
            return
        j = partner[i]
        merges[step, 0] = i
        merges[step, 1] = j
        # Merge j into i.
        n_i, n_j = n[i], n[j]
        both = n_i + n_j
        c = n_i * n_j / both
        for a in range(p):
            da = mean[i, a] - mean[j, a]
            trace[i] += c * da * da
            if track:
                for b in range(a + 1):
                    ab = a * (a + 1) // 2 + b
                    scatter[i, ab] += scatter[j, ab] + c * da * (mean[i, b] - mean[j, b])
        trace[i] += trace[j]
        for a in range(p):
            mean[i, a] = (n_i * mean[i, a] + n_j * mean[j, a]) / both
        n[i] = both
        size[i] += size[j]
        log_det[0] = -np.inf
        if size[i] > p and trace[i] != 0.0:
            for ab in range(scatter.shape[1]):
                factor[ab, 0] = scatter[i, ab]
            _call_compiled(log_dets, (factor, p, log_det))
        term[i] = _term(both, trace[i], log_det[0], alpha, p)
        alive[j] = False
        # Drop j from order; the clusters alive other than i are the partners
        # of the new costs, the first ``before`` of them ahead of i.
        n_alive -= 1
        before = 0
        for a in range(n_alive):
            if order[a] >= j:
                order[a] = order[a + 1]
            if order[a] < i:
                partners[a] = order[a]
            elif order[a] == i:
                before = a
            else:
                partners[a - 1] = order[a]
        _call_compiled(
            merge_costs,
            (log_dets, i, partners[: n_alive - 1], n, size, mean, scatter, trace, term, alpha, row, work, full),
        )
        # A row ahead of i may find its cheapest cost in i; one that had i or j
        # as partner otherwise goes stale, as do rows between i and j that had j.
        for t in range(before):
            k = partners[t]
            costs[_pair(k, i, m)] = row[t]
            if row[t] < cheapest[k]:
                cheapest[k] = row[t]
                partner[k] = i
                stale[k] = False
            elif partner[k] == i or partner[k] == j:
                stale[k] = True
        for t in range(before, n_alive - 1):
            k = partners[t]
            costs[_pair(i, k, m)] = row[t]
            if k < j and partner[k] == j:
                stale[k] = True
        stale[i] = False
        _refresh_partner(i, alive, costs, partner, cheapest, m)


def cut_tree(merges, n_points, n_clusters):
    """Labels 0..c-1 of the partition into ``c = min(n_clusters, n_points)`` clusters.

    A merge ``(i, j)`` of :func:`merge_tree` gives the points of cluster
    ``j`` to cluster ``i < j``, which is still standing, and ``j`` is never
    merged again. Each cluster that the first ``n_points - c`` merges took
    points to the one that took it; every point then follows those pointers
    to the cluster that holds it at the cut, doubling its stride each round
    (``log2`` of the longest chain rounds of one gather). Relabelling the
    points merge by merge took 4 ms for a tree of 2,000 points, every fit.
    Raises ValueError for merges that do not form such a tree.
    """
    holder = np.arange(n_points)
    taken = np.asarray(merges, dtype=np.int64).reshape(-1, 2)[: max(n_points - n_clusters, 0)]
    valid = (0 <= taken[:, 0]) & (taken[:, 0] < taken[:, 1]) & (taken[:, 1] < n_points)
    if not valid.all():
        step = int(np.argmin(valid))
        raise ValueError(
            f"merges must join clusters i < j below {n_points}, as merge_tree gives them; "
            f"merge {step} joins {taken[step].tolist()}."
        )
    holder[taken[:, 1]] = taken[:, 0]
    while True:  # the pointers go down (i < j): no cycle, at most log2(n_points) + 1 rounds
        further = holder[holder]
        if np.array_equal(further, holder):
            break
        holder = further
    _, labels = np.unique(holder, return_inverse=True)
    return labels


_CACHE_SIZE = 8
_cache = {}
_cache_lock = threading.Lock()


def _cache_lock_of_a_forked_child():
    """Give a forked child a lock of the trees' cache that no thread holds: a parent
    thread that held it does not exist in the child, whose first fit from the tree would
    wait for it forever."""
    global _cache_lock
    _cache_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_cache_lock_of_a_forked_child)


def _sizes(counts, n_rows, most_rows):
    """The tree's sizes of the distinct points, from their summed weights ``counts``:
    whole numbers of rows where some weight divides every count into whole numbers
    summing to at most ``most_rows``, else the counts scaled to a mean of 1 per input row
    (``n_rows``).

    The tree's regularisation (``alpha`` beside ``W``) is not invariant to the
    scale of the sizes, so it needs the weight of a row. Weights that count
    repeated rows (whole counts, in any unit) are taken at their count, as
    the repeated rows are, and rounded to it, so that the tree of weights in
    another unit is bitwise that of the rows: scaled to a mean of 1 per input
    row, integer weights gave another tree than the rows repeated (3 of 36
    default fits of iris and blobs ended up to 12 nats apart). That matters
    only where the repeated rows would be in the tree whole (``most_rows``,
    its sample size). Other weights are shares, scaled to a mean of 1 per
    input row, as unit weights are (then each distinct point's size is its
    number of copies, as in mclust): sizes of hundreds per point drown
    ``alpha`` (weights uniform in (0, 1) in units of the smallest, 12 and 20
    features: up to 18 nats per point lower).
    """
    smallest = counts.min()
    total = counts.sum()
    with np.errstate(over="ignore"):  # weights 1e300 apart: inf, no whole numbers
        ratios = counts / smallest
        rows_per_part = ratios.sum()
    parts = 1
    # the unit is smallest / parts; its whole numbers sum to parts * total / smallest
    while parts * rows_per_part <= most_rows:
        scaled = ratios * parts
        whole = np.rint(scaled)
        if np.all(np.abs(scaled - whole) <= 1e-9 * scaled):
            return whole
        parts += 1
    return counts * (n_rows / total)


def _tree(points, copies):
    """``(inverse, merges, n_distinct)`` of the points of positive weight, remembered for
    the last few inputs.

    ``inverse`` maps each point to its distinct point, ``merges`` is the
    :func:`merge_tree` of the distinct points (transformed by
    :func:`svd_transform`, weighted by their copies). Restarts, refits and
    model selection (:func:`fastem.select_n_components`) cut the same tree of
    the same subsample at different numbers of clusters: the tree is
    computed once, and so are the distinct points (0.5-0.6 ms of
    ``np.unique(axis=0)`` at 2,000 points, a sixth of a refit of small data).
    The key is the points' and weights' bytes, dtypes and shapes.
    """
    key = hashlib.blake2b(
        points.tobytes() + copies.tobytes()
        + repr((points.shape, points.dtype.str, copies.dtype.str)).encode(),
        digest_size=16,
    ).digest()
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    distinct, inverse = np.unique(points, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = _sizes(np.bincount(inverse, copies), len(copies), sample_size(points.shape[1]))
    Z = np.ascontiguousarray(svd_transform(distinct, counts))
    tree = (inverse, merge_tree(Z, counts), len(distinct))
    for array in tree[:2]:
        array.flags.writeable = False  # shared by every later call with the same points
    with _cache_lock:
        while len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = tree
    return tree


def hierarchical_labels(X, weights, n_clusters):
    """Cluster labels of the points of ``X`` from the hierarchical clustering.

    Identical points start in one cluster (the ``dupPartition`` of mclust's
    ``hc``), whose size is their summed weight, in units of the weight of one
    row (:func:`_sizes`): weights that count copies give the tree of the
    copies. Points of zero weight are left out (label -1). mclust's ``Mclust``
    does not start so: its ``hc`` call passes no ``partition`` on to
    ``hcVVV``, which then starts from one cluster per row: repeated rows
    merge pair by pair, among merges of exactly equal cost that its order of
    search decides. On data with repeated rows the two trees differ (MASS's
    geyser, 257 distinct of 299 rows: adjusted Rand index 0.97 at K=2, 0.49 at
    K=8), and so do the peaks EM reaches from them.

    Parameters
    ----------
    X : ndarray of shape (m, n_features), float64
    weights : ndarray of shape (m,), non-negative
    n_clusters : int

    Returns
    -------
    labels : ndarray of shape (m,), int64
        In 0..c-1, with ``c = min(n_clusters, distinct points of positive
        weight)``; -1 for points of zero weight.
    """
    positive = weights > 0
    labels = np.full(X.shape[0], -1, dtype=np.int64)
    if not positive.any():
        return labels
    inverse, merges, n_distinct = _tree(X[positive], weights[positive])  # new C-contiguous arrays
    labels[positive] = cut_tree(merges, n_distinct, n_clusters)[inverse]
    return labels
