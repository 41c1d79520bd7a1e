"""Kernels that check data without making a temporary the size of the data."""

import numpy as np
from numba import njit, prange

from .._config import BLOCK_SIZE


# Features from which scan_columns reads row by row (see its docstring).
_ROW_WISE_FEATURES = 12


@njit(parallel=True, cache=True, nogil=True)
def scan_columns(X, n_partitions):
    """One pass over a 2-D array: its non-finite entries and its column ranges.

    With few features, each partition walks its rows in blocks of
    ``BLOCK_SIZE``, one column at a time within a block, so that the running
    minimum, maximum and count live in registers. From ``_ROW_WISE_FEATURES``
    features on it walks row by row instead and vectorises over the
    features, which are contiguous: a column of a block is then a strided
    read (1M x 16 float64: 6.3 ms by column, 3.5 ms by row; 1M x 8: 2.8 and
    3.1 ms).

    Returns
    -------
    n_nonfinite : int
        Number of NaN or infinite entries.
    lo, hi : ndarray of shape (n_features,)
        Per-feature minimum and maximum; meaningful only when there are no
        non-finite entries.
    """
    n_samples, n_features = X.shape
    counts = np.zeros(n_partitions, dtype=np.int64)
    lo = np.empty((n_partitions, n_features))
    hi = np.empty((n_partitions, n_features))
    for p in prange(n_partitions):
        plo = lo[p]
        phi = hi[p]
        for j in range(n_features):
            plo[j] = np.inf
            phi[j] = -np.inf
        c = 0
        first = p * n_samples // n_partitions
        last = (p + 1) * n_samples // n_partitions
        if n_features >= _ROW_WISE_FEATURES:
            # A view, so that LLVM sees indices from 0 (see _fused.py).
            rows = X[first:last]
            for i in range(rows.shape[0]):
                row = rows[i]
                for j in range(n_features):
                    v = row[j]
                    c += not np.isfinite(v)
                    plo[j] = min(plo[j], v)
                    phi[j] = max(phi[j], v)
        else:
            for start in range(first, last, BLOCK_SIZE):
                block = X[start : min(last, start + BLOCK_SIZE)]
                for j in range(n_features):
                    low = plo[j]
                    high = phi[j]
                    for i in range(block.shape[0]):
                        v = block[i, j]
                        c += not np.isfinite(v)
                        low = min(low, v)
                        high = max(high, v)
                    plo[j] = low
                    phi[j] = high
        counts[p] = c
    out_lo = np.empty(n_features)
    out_hi = np.empty(n_features)
    for j in range(n_features):
        out_lo[j] = lo[:, j].min()
        out_hi[j] = hi[:, j].max()
    return counts.sum(), out_lo, out_hi


def n_check_partitions(n_samples):
    """Partitions for the check kernels: enough to share out, few enough to be cheap."""
    return max(1, min(64, n_samples // BLOCK_SIZE))


@njit(parallel=True, cache=True, nogil=True)
def count_non_integer(X, n_partitions):
    """Return the number of entries of a 2-D array that are not whole numbers.

    NaN (a missing value) is not counted. Also returns the flat index (``i * n_features + j``) of the first such
    entry in row-major order, or -1 when there is none, so that an error
    message can quote the value.
    """
    n_samples, n_features = X.shape
    counts = np.zeros(n_partitions, dtype=np.int64)
    firsts = np.full(n_partitions, -1, dtype=np.int64)
    for p in prange(n_partitions):
        c = 0
        first = -1
        first_row = p * n_samples // n_partitions
        rows = X[first_row : (p + 1) * n_samples // n_partitions]
        for i in range(rows.shape[0]):
            for j in range(n_features):
                v = rows[i, j]
                if v != np.floor(v) and v == v:
                    if first < 0:
                        first = (first_row + i) * n_features + j
                    c += 1
        counts[p] = c
        firsts[p] = first
    for p in range(n_partitions):
        if firsts[p] >= 0:
            return counts.sum(), firsts[p]
    return counts.sum(), -1
