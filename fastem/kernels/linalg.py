"""Small dense arithmetic for the M-step, without BLAS: the Gaussian moments, Cholesky factors.

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


# ----------------------------------------------------------------------
# The Gaussian M-step's moments from summed statistics
#
# Each operation below is NumPy's in the same order (``fastem.families.
# gaussian._GaussianComponents._weighted_moments`` once wrote them as array
# expressions, which tests/test_linalg.py keeps as the reference): the
# moments, and so every fit, are bitwise those of that form. A pass on small
# data spent about 20 us in those expressions, each a NumPy call on a few
# numbers; one compiled call costs about 2 us. A division by 0 gives inf or
# NaN, as in NumPy (``error_model='numpy'``). Each function writes into
# arrays the caller allocates and calls no other compiled function: each
# compiles in about 0.2 s where one that returned its arrays, with helpers
# of its own, took 0.7 s (cold, on the Zen 5 machine), and a first fit
# compiles the one for its covariance type.


@njit(cache=True, error_model="numpy")
def full_moments(nk, sx, sxx, shift, reg_covar, means, covariances):
    """Means and 'full' covariances of the responsibilities, from their summed statistics.

    Parameters
    ----------
    nk : ndarray of shape (n_components,)
        Summed responsibilities (a mass of 0 divides as 1).
    sx : ndarray of shape (n_components, n_features)
        ``sum_i r_ik (x_i - s_k)``, around the shift ``s``.
    sxx : ndarray of shape (n_components, n_features, n_features)
        ``sum_i r_ik (x_i - s_k)(x_i - s_k)^T``; only its lower triangle is read.
    shift : ndarray of shape (n_components, n_features)
    reg_covar : float
        Added to each diagonal.
    means : ndarray of shape (n_components, n_features)
        Out: ``s + delta`` with ``delta = sx / nk``.
    covariances : ndarray of shape (n_components, n_features, n_features)
        Out: ``(sxx - delta sx^T - sx delta^T + nk delta delta^T) / nk + reg_covar I``.
    """
    n_components, n_features = sx.shape
    for k in range(n_components):
        divisor = nk[k] if nk[k] > 0 else 1.0
        for i in range(n_features):
            means[k, i] = shift[k, i] + sx[k, i] / divisor
        for i in range(n_features):
            di = sx[k, i] / divisor
            for j in range(n_features):
                dj = sx[k, j] / divisor
                mirrored = (sxx[k, i, j] if i >= j else 0.0) + (sxx[k, j, i] if j > i else 0.0)
                centring = (di * sx[k, j] * -1.0 - sx[k, i] * dj) + nk[k] * di * dj
                covariances[k, i, j] = (
                    (mirrored + centring) / divisor + reg_covar * (1.0 if i == j else 0.0)
                )


@njit(cache=True, error_model="numpy")
def tied_scatter(sxx, pairs, shift, scatter):
    """``sum_k sum_i r_ik (x_i - s_k)(x_i - s_k)^T`` from the 'tied' statistics.

    Parameters
    ----------
    sxx : ndarray of shape (n_features, n_features)
        Lower triangle: ``sum_i w_i (x_i - c_i)(x_i - c_i)^T`` around each
        point's centre ``c_i`` (see ``fastem.kernels.gaussian``).
    pairs : ndarray of shape (n_components, n_components)
        Strict upper triangle: the weights ``Q_kl`` of the pairs of shifts.
    shift : ndarray of shape (n_components, n_features)
    scatter : ndarray of shape (n_features, n_features)
        Out: ``sxx`` mirrored plus ``sum_{k<l} Q_kl (s_k - s_l)(s_k - s_l)^T``,
        a sum of positive semi-definite terms; the pairs of weight 0 left out.
    """
    n_components, n_features = shift.shape
    for i in range(n_features):
        for j in range(n_features):
            scatter[i, j] = (sxx[i, j] if i >= j else 0.0) + (sxx[j, i] if j > i else 0.0)
    paired = False
    for k in range(n_components):
        for l in range(k + 1, n_components):
            paired = paired or pairs[k, l] != 0
    if not paired:
        return
    for i in range(n_features):
        for j in range(n_features):
            between = 0.0
            for k in range(n_components):
                for l in range(k + 1, n_components):
                    q = pairs[k, l]
                    if q != 0:
                        between += q * (shift[k, i] - shift[l, i]) * (shift[k, j] - shift[l, j])
            scatter[i, j] = scatter[i, j] + between


@njit(cache=True, error_model="numpy")
def tied_moments(nk, sx, scatter, shift, reg_covar, total, means, covariance):
    """Means and the 'tied' covariance of the responsibilities, from their summed statistics.

    ``nk``, ``sx``, ``shift``, ``reg_covar`` and ``means`` as for
    :func:`full_moments`; ``scatter`` (n_features, n_features) from
    :func:`tied_scatter`; ``total`` the sum of ``nk``. Writes into
    ``covariance`` (n_features, n_features) the components' scatters around
    their means, summed, over ``total``, plus ``reg_covar I``.
    """
    n_components, n_features = sx.shape
    for k in range(n_components):
        divisor = nk[k] if nk[k] > 0 else 1.0
        for i in range(n_features):
            means[k, i] = shift[k, i] + sx[k, i] / divisor
    for i in range(n_features):
        for j in range(n_features):
            centring = 0.0
            for k in range(n_components):
                divisor = nk[k] if nk[k] > 0 else 1.0
                di = sx[k, i] / divisor
                dj = sx[k, j] / divisor
                term = (di * sx[k, j] * -1.0 - sx[k, i] * dj) + nk[k] * di * dj
                centring = term if k == 0 else centring + term
            covariance[i, j] = (scatter[i, j] + centring) / total + reg_covar * (1.0 if i == j else 0.0)


@njit(cache=True, error_model="numpy")
def diagonal_moments(nk, sx, sxx, shift, reg_covar, means, variances):
    """Means and per-feature variances of the responsibilities, from their summed statistics.

    ``nk``, ``sx``, ``shift``, ``reg_covar`` and ``means`` as for
    :func:`full_moments`; ``sxx`` (n_components, n_features) the diagonal of
    the second moments. Writes into ``variances`` (n_components, n_features)
    ``(sxx - 2 delta sx + nk delta^2) / nk + reg_covar``.
    """
    n_components, n_features = sx.shape
    for k in range(n_components):
        divisor = nk[k] if nk[k] > 0 else 1.0
        for i in range(n_features):
            d = sx[k, i] / divisor
            means[k, i] = shift[k, i] + d
            variances[k, i] = (sxx[k, i] - 2.0 * d * sx[k, i] + nk[k] * (d * d)) / divisor + reg_covar
