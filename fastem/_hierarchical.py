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
default subset; fewer from 16 features on, see :func:`sample_size`), so its
cost does not grow with the data. With more than 30 features the bounded
subsample holds fewer than 10 points per feature, too few for the unconstrained
model (:func:`suitable`); fastem then starts from k-means++ instead.
"""

import hashlib
import threading

import numpy as np
from numba import njit

__all__ = ["HIERARCHICAL_SAMPLE_SIZE", "hierarchical_labels", "sample_size", "suitable", "svd_transform"]

#: Points that the hierarchical clustering runs on (mclust's ``subset`` default).
HIERARCHICAL_SAMPLE_SIZE = 2000
# Bound of the floating-point work of one tree: m^2 pair costs, each up to a
# p x p Cholesky factorisation (p^3 / 3) and a scatter update (p^2). It keeps
# a tree to about a second; from 16 features on it lowers the subsample below
# HIERARCHICAL_SAMPLE_SIZE.
_WORK = 1e9
# mclust's hcVVV default; with it the regularisation weighs as much as the determinant.
_BETA = 1.0
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


@njit(cache=True, error_model="numpy")
def _log_det(matrix, work):
    """log det of a symmetric matrix by Cholesky; -inf when not positive definite."""
    p = matrix.shape[0]
    total = 0.0
    for j in range(p):
        s = matrix[j, j]
        for q in range(j):
            s -= work[j, q] * work[j, q]
        if not s > 0.0:
            return -np.inf
        d = np.sqrt(s)
        work[j, j] = d
        total += np.log(d)
        for i in range(j + 1, p):
            t = matrix[i, j]
            for q in range(j):
                t -= work[i, q] * work[j, q]
            work[i, j] = t / d
    return 2.0 * total


@njit(cache=True, error_model="numpy")
def _term(n, size, trace, scatter, alpha, work, p):
    """The criterion of one cluster (module docstring); ``scatter`` is read only if ``size > p``."""
    regular = _BETA * (trace + alpha) / n
    if size <= p or trace == 0.0:
        return n * np.log(regular)
    log_det = _log_det(scatter, work)
    if log_det == -np.inf:
        return n * np.log(regular)
    log_det -= p * np.log(n)
    if log_det <= 0.0:
        return n * np.log(np.exp(log_det) + regular)
    return n * (log_det + np.log1p(np.exp(-log_det) * regular))


@njit(cache=True, error_model="numpy")
def _merge_cost(i, k, n, size, mean, scatter, trace, term, alpha, merged, work):
    """Cost of merging clusters i and k; leaves the merged scatter in ``merged``."""
    p = mean.shape[1]
    total = n[i] + n[k]
    c = n[i] * n[k] / total
    squared = 0.0
    for a in range(p):
        d = mean[i, a] - mean[k, a]
        squared += d * d
    trace_ik = trace[i] + trace[k] + c * squared
    size_ik = size[i] + size[k]
    if size_ik > p and trace_ik > 0.0:
        for a in range(p):
            da = mean[i, a] - mean[k, a]
            for b in range(a + 1):
                merged[a, b] = scatter[i, a, b] + scatter[k, a, b] + c * da * (mean[i, b] - mean[k, b])
    return _term(total, size_ik, trace_ik, merged, alpha, work, p) - term[i] - term[k]


@njit(cache=True, error_model="numpy")
def _pair(i, j, m):
    """Index of the pair i < j in the condensed upper triangle of an m x m matrix."""
    return i * m - (i * (i + 1)) // 2 + (j - i - 1)


@njit(cache=True, error_model="numpy")
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


@njit(cache=True, error_model="numpy")
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
    """
    m, p = Z.shape
    merges = np.empty((max(m - 1, 0), 2), dtype=np.int64)
    if m < 2:
        return merges
    n = n.copy()
    mean = Z.copy()
    size = np.ones(m, dtype=np.int64)
    trace = np.zeros(m)
    # Scatter matrices matter only for clusters of more than p points.
    track = m > p
    q = p if track else 0
    scatter = np.zeros((m if track else 1, q, q))
    total = n.sum()
    overall = np.zeros(p)
    for i in range(m):
        for a in range(p):
            overall[a] += n[i] * Z[i, a] / total
    alpha = 0.0
    for i in range(m):
        for a in range(p):
            alpha += n[i] * (Z[i, a] - overall[a]) ** 2
    alpha = max(alpha / (total * max(p, 1)), np.finfo(np.float64).eps)
    term = np.empty(m)
    for i in range(m):
        term[i] = n[i] * np.log(_BETA * alpha / n[i])
    merged = np.zeros((q, q))
    work = np.zeros((q, q))
    costs = np.empty(m * (m - 1) // 2)
    for i in range(m - 1):
        for k in range(i + 1, m):
            costs[_pair(i, k, m)] = _merge_cost(i, k, n, size, mean, scatter, trace, term, alpha, merged, work)
    alive = np.ones(m, dtype=np.bool_)
    partner = np.empty(m, dtype=np.int64)
    cheapest = np.empty(m)
    for i in range(m):
        _refresh_partner(i, alive, costs, partner, cheapest, m)
    # A row whose partner merged keeps its old cheapest cost as a lower bound
    # (its other costs did not change) and is only searched again when that
    # bound comes out smallest (Muellner's generic algorithm).
    stale = np.zeros(m, dtype=np.bool_)
    for step in range(m - 1):
        while True:
            i = -1
            best = np.inf
            for a in range(m):
                if alive[a] and partner[a] >= 0 and (i < 0 or cheapest[a] < best):
                    best = cheapest[a]
                    i = a
            if not stale[i]:
                break
            stale[i] = False
            _refresh_partner(i, alive, costs, partner, cheapest, m)
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
                    scatter[i, a, b] += scatter[j, a, b] + c * da * (mean[i, b] - mean[j, b])
        trace[i] += trace[j]
        for a in range(p):
            mean[i, a] = (n_i * mean[i, a] + n_j * mean[j, a]) / both
        n[i] = both
        size[i] += size[j]
        term[i] = _term(both, size[i], trace[i], scatter[i if track else 0], alpha, work, p)
        alive[j] = False
        for k in range(m):
            if alive[k] and k != i:
                lo, hi = min(i, k), max(i, k)
                costs[_pair(lo, hi, m)] = _merge_cost(i, k, n, size, mean, scatter, trace, term, alpha, merged, work)
        for k in range(j):
            if not alive[k] or k == i:
                continue
            if k < i and costs[_pair(k, i, m)] < cheapest[k]:
                cheapest[k] = costs[_pair(k, i, m)]
                partner[k] = i
                stale[k] = False
            elif partner[k] == i or partner[k] == j:
                stale[k] = True
        stale[i] = False
        _refresh_partner(i, alive, costs, partner, cheapest, m)
    return merges


def cut_tree(merges, n_points, n_clusters):
    """Labels 0..c-1 of the partition into ``c = min(n_clusters, n_points)`` clusters."""
    parent = np.arange(n_points)
    for i, j in merges[: max(n_points - n_clusters, 0)]:
        parent[parent == j] = i
    _, labels = np.unique(parent, return_inverse=True)
    return labels


_CACHE_SIZE = 8
_cache = {}
_cache_lock = threading.Lock()


def _tree(Z, n):
    """:func:`merge_tree`, remembered for the last few inputs.

    Restarts and model selection (:func:`fastem.select_n_components`) cut the
    same tree of the same subsample at different numbers of clusters; the tree
    is computed once.
    """
    key = hashlib.blake2b(Z.tobytes() + n.tobytes() + repr(Z.shape).encode(), digest_size=16).digest()
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    merges = merge_tree(Z, n)
    with _cache_lock:
        while len(_cache) >= _CACHE_SIZE:
            _cache.pop(next(iter(_cache)))
        _cache[key] = merges
    return merges


def hierarchical_labels(X, weights, n_clusters):
    """Cluster labels of the points of ``X`` from the hierarchical clustering.

    Identical points start in one cluster (mclust's ``dupPartition``), whose
    size is their summed weight; weights count as numbers of copies, scaled to
    a mean of 1 per point. Points of zero weight are left out (label -1).

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
    distinct, inverse = np.unique(X[positive], axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    copies = weights[positive]
    counts = np.bincount(inverse, copies * (len(copies) / copies.sum()))
    Z = np.ascontiguousarray(svd_transform(distinct, counts))
    merges = _tree(Z, counts)
    labels[positive] = cut_tree(merges, len(distinct), n_clusters)[inverse]
    return labels
