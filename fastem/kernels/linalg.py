"""Small dense linear algebra for the M-step, without BLAS.

The M-step factors one small covariance matrix per component and iteration.
Through LAPACK, a multi-threaded BLAS wakes its own threads for each of these
tiny calls; they then spin and compete with the kernel's threads for the same
cores. Plain loops over a few hundred numbers cost microseconds and leave the
cores to the fused kernel.
"""

import numpy as np
from numba import njit


@njit(cache=True)
def precision_cholesky_upper(covariances):
    """Upper factors of the precisions of a stack of covariance matrices.

    Parameters
    ----------
    covariances : ndarray of shape (n_matrices, n_features, n_features)
        Symmetric; only the lower triangle is read.

    Returns
    -------
    factors : ndarray of shape (n_matrices, n_features, n_features)
        ``U`` upper triangular with ``U @ U.T == inv(covariance)``, i.e. the
        transposed inverse of the lower Cholesky factor of the covariance.
    failed : int
        Index of the first matrix that is not numerically positive definite,
        or -1. Factors from that index on are undefined.
    """
    n_matrices, n, _ = covariances.shape
    factors = np.zeros((n_matrices, n, n))
    lower = np.empty((n, n))
    for m in range(n_matrices):
        c = covariances[m]
        lower[:, :] = 0.0
        for j in range(n):
            s = c[j, j]
            for p in range(j):
                s -= lower[j, p] * lower[j, p]
            if not s > 0.0:
                return factors, m
            d = np.sqrt(s)
            lower[j, j] = d
            for i in range(j + 1, n):
                t = c[i, j]
                for p in range(j):
                    t -= lower[i, p] * lower[j, p]
                lower[i, j] = t / d
        # Invert the lower factor by forward substitution, column by column,
        # writing the transpose so that the result is upper triangular.
        u = factors[m]
        for col in range(n):
            for i in range(col, n):
                t = 1.0 if i == col else 0.0
                for p in range(col, i):
                    t -= lower[i, p] * u[col, p]
                u[col, i] = t / lower[i, i]
    return factors, -1


@njit(cache=True, error_model="numpy")
def covariances_from_precision_cholesky(factors):
    """Covariances ``V^T V`` with ``V = U^{-1}``, from upper precision factors ``U``.

    Parameters
    ----------
    factors : ndarray of shape (n_matrices, n_features, n_features)
        Upper triangular ``U`` with ``U @ U.T`` a precision matrix; the strict
        lower triangle is not read.

    Returns
    -------
    covariances : ndarray of shape (n_matrices, n_features, n_features)
        ``inv(U @ U.T) = U^{-T} U^{-1}``, exactly symmetric. A zero on the
        diagonal of ``U`` gives non-finite values, not an error.
    """
    n_matrices, n, _ = factors.shape
    covariances = np.empty((n_matrices, n, n))
    inverse = np.empty((n, n))
    for m in range(n_matrices):
        u = factors[m]
        # U V = I by back substitution, column by column: V is upper triangular.
        inverse[:, :] = 0.0
        for col in range(n):
            for i in range(col, -1, -1):
                t = 1.0 if i == col else 0.0
                for p in range(i + 1, col + 1):
                    t -= u[i, p] * inverse[p, col]
                inverse[i, col] = t / u[i, i]
        for i in range(n):
            for j in range(i + 1):
                s = 0.0
                for p in range(j + 1):  # rows p <= j <= i of columns j and i of V
                    s += inverse[p, i] * inverse[p, j]
                covariances[m, i, j] = s
                covariances[m, j, i] = s
    return covariances
