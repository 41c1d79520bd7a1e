"""Kernels that check data without making a temporary the size of the data."""

import numpy as np
from numba import njit, prange

from .._config import BLOCK_SIZE


@njit(parallel=True, cache=True)
def count_nonfinite(X, n_partitions):
    """Return the number of NaN or infinite entries of a 2-D array."""
    n_samples, n_features = X.shape
    counts = np.zeros(n_partitions, dtype=np.int64)
    for p in prange(n_partitions):
        c = 0
        for i in range(p * n_samples // n_partitions, (p + 1) * n_samples // n_partitions):
            for j in range(n_features):
                if not np.isfinite(X[i, j]):
                    c += 1
        counts[p] = c
    return counts.sum()


@njit(parallel=True, cache=True)
def column_ranges(X, n_partitions):
    """Return the per-feature minimum and maximum, each of shape (n_features,)."""
    n_samples, n_features = X.shape
    lo = np.empty((n_partitions, n_features))
    hi = np.empty((n_partitions, n_features))
    for p in prange(n_partitions):
        for j in range(n_features):
            lo[p, j] = np.inf
            hi[p, j] = -np.inf
        for i in range(p * n_samples // n_partitions, (p + 1) * n_samples // n_partitions):
            for j in range(n_features):
                v = X[i, j]
                lo[p, j] = min(lo[p, j], v)
                hi[p, j] = max(hi[p, j], v)
    out_lo = np.empty(n_features)
    out_hi = np.empty(n_features)
    for j in range(n_features):
        out_lo[j] = lo[:, j].min()
        out_hi[j] = hi[:, j].max()
    return out_lo, out_hi


def n_check_partitions(n_samples):
    """Partitions for the check kernels: enough to share out, few enough to be cheap."""
    return max(1, min(64, n_samples // BLOCK_SIZE))


@njit(parallel=True, cache=True)
def count_non_integer(X, n_partitions):
    """Return the number of entries of a 2-D array that are not whole numbers.

    Also returns the flat index (``i * n_features + j``) of the first such
    entry in row-major order, or -1 when there is none, so that an error
    message can quote the value.
    """
    n_samples, n_features = X.shape
    counts = np.zeros(n_partitions, dtype=np.int64)
    firsts = np.full(n_partitions, -1, dtype=np.int64)
    for p in prange(n_partitions):
        c = 0
        first = -1
        for i in range(p * n_samples // n_partitions, (p + 1) * n_samples // n_partitions):
            for j in range(n_features):
                v = X[i, j]
                if v != np.floor(v):
                    if first < 0:
                        first = i * n_features + j
                    c += 1
        counts[p] = c
        firsts[p] = first
    for p in range(n_partitions):
        if firsts[p] >= 0:
            return counts.sum(), firsts[p]
    return counts.sum(), -1
