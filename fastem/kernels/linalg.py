"""Small dense arithmetic for the M-step, without BLAS: the Gaussian moments, Cholesky factors.

The M-step factors one small covariance matrix per component and iteration.
Through LAPACK, a multi-threaded BLAS wakes its own threads for each of these
tiny calls; they then spin and compete with the kernel's threads for the same
cores. Plain loops over a few hundred numbers cost microseconds and leave the
cores to the fused kernel.
"""

import numpy as np
from numba import njit

_EPS = float(np.finfo(np.float64).eps)


@njit(cache=True)
def precision_cholesky_upper(covariances, factors, lower):
    """Upper factors of the precisions of a stack of covariance matrices, into ``factors``.

    Parameters
    ----------
    covariances : ndarray of shape (n_matrices, n_features, n_features)
        Symmetric; only the lower triangle is read.
    factors : ndarray of shape (n_matrices, n_features, n_features), float64
        Out (any contents on entry): ``U`` upper triangular with
        ``U @ U.T == inv(covariance)``, i.e. the transposed inverse of the
        lower Cholesky factor of the covariance. Factors from the first
        matrix that fails on are undefined.
    lower : ndarray of shape (n_features, n_features), float64
        Scratch. The caller allocates both arrays: each NumPy constructor
        here was one more function to compile on the first fit.

    Returns
    -------
    failed : int
        Index of the first matrix that is not numerically positive definite
        (a pivot of the factorisation not above ``n_features`` float64 units of its
        diagonal entry, where a singular matrix's pivot computes too), or -1.

    Raises
    ------
    ValueError
        When ``factors`` or ``lower`` is not of the shape above (the loops
        would write and read past their ends).
    """
    n_matrices, n, _ = covariances.shape
    if factors.shape != covariances.shape:
        raise ValueError("precision_cholesky_upper: factors must have the shape of covariances.")
    if lower.shape != (n, n):
        raise ValueError("precision_cholesky_upper: lower must be (n_features, n_features).")
    for m in range(n_matrices):
        c = covariances[m]
        lower[:, :] = 0.0
        for j in range(n):
            s = c[j, j]
            for p in range(j):
                s -= lower[j, p] * lower[j, p]
            # a pivot within the rounding of its diagonal entry (up to n units of it) is
            # that of a singular matrix: 1/sqrt of it would be a precision of noise
            if not s > n * _EPS * c[j, j]:
                return m
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
            for i in range(col):
                u[col, i] = 0.0
            for i in range(col, n):
                t = 1.0 if i == col else 0.0
                for p in range(col, i):
                    t -= lower[i, p] * u[col, p]
                u[col, i] = t / lower[i, i]
    return -1


@njit(cache=True, error_model="numpy")
def covariances_from_precision_cholesky(factors, covariances, inverse):
    """Covariances ``V^T V`` with ``V = U^{-1}``, from upper precision factors ``U``, into ``covariances``.

    Parameters
    ----------
    factors : ndarray of shape (n_matrices, n_features, n_features)
        Upper triangular ``U`` with ``U @ U.T`` a precision matrix; the strict
        lower triangle is not read.
    covariances : ndarray of shape (n_matrices, n_features, n_features), float64
        Out: ``inv(U @ U.T) = U^{-T} U^{-1}``, exactly symmetric. A zero on
        the diagonal of ``U`` gives non-finite values, not an error.
    inverse : ndarray of shape (n_features, n_features), float64
        Scratch. The caller allocates both arrays, as for
        :func:`precision_cholesky_upper`: a NumPy constructor here compiled
        one more function on the first fit.

    Raises
    ------
    ValueError
        When ``covariances`` or ``inverse`` is not of the shape above (the
        loops would write past their ends).
    """
    n_matrices, n, _ = factors.shape
    if covariances.shape != factors.shape:
        raise ValueError(
            "covariances_from_precision_cholesky: covariances must have the shape of factors."
        )
    if inverse.shape != (n, n):
        raise ValueError(
            "covariances_from_precision_cholesky: inverse must be (n_features, n_features)."
        )
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


# ----------------------------------------------------------------------
# The Gaussian M-step's moments from summed statistics
#
# Each operation below is NumPy's in the same order (``fastem.families.
# gaussian._GaussianComponents._weighted_moments`` once wrote them as array
# expressions, which tests/test_linalg.py keeps as the reference): the
# moments, and so every fit, are bitwise those of that form. Sums over
# components stay NumPy's ('tied': :func:`centring_terms`), whose order
# depends on the array's layout. A pass on small data spent about 20 us in
# those expressions, each a NumPy call on a few numbers; one compiled call
# costs about 2 us. A division by 0 or an overflow gives inf or NaN, as in
# NumPy but without its RuntimeWarning (``error_model='numpy'``); the
# M-step's checks then name the parameter that is not finite. Each function
# writes into arrays the caller allocates and calls no other compiled
# function: each compiles in 0.1-0.3 s, where a form of the 'full' moments
# that returned its arrays, with helpers of its own, took 0.7 s (cold, on
# the Zen 4 machine); a first fit compiles those of its covariance type.


@njit(cache=True, error_model="numpy")
def centring_terms(nk, sx, shift, means, terms):
    """Means, and what turns each component's second moment around its shift into its scatter.

    Parameters
    ----------
    nk : ndarray of shape (n_components,)
        Summed responsibilities. The divisor ``m_k`` is ``nk[k]`` where it is
        positive, else 1 (``fastem.base.divisible_masses``).
    sx : ndarray of shape (n_components, n_features)
        ``sum_i r_ik (x_i - s_k)``, around the shift ``s``.
    shift : ndarray of shape (n_components, n_features)
    means : ndarray of shape (n_components, n_features)
        Out: ``s + delta`` with ``delta = sx / m``.
    terms : ndarray of shape (n_components, n_features, n_features)
        Out: ``-delta sx^T - sx delta^T + nk delta delta^T``, which added to
        ``sum_i r_ik (x_i - s_k)(x_i - s_k)^T`` gives the scatter around the
        mean. 'full' turns them into covariances with :func:`full_covariances`;
        'tied' sums them over the components in NumPy, which orders that sum
        by the array's layout (pairwise over 8 or more components of one
        feature), so a loop here would not give its bits.
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
                terms[k, i, j] = (di * sx[k, j] * -1.0 - sx[k, i] * dj) + nk[k] * di * dj


@njit(cache=True, error_model="numpy")
def full_covariances(nk, sxx, reg_covar, covariances):
    """'full' covariances from the second moments and the :func:`centring_terms`, in place.

    Parameters
    ----------
    nk : ndarray of shape (n_components,)
        As for :func:`centring_terms`.
    sxx : ndarray of shape (n_components, n_features, n_features)
        ``sum_i r_ik (x_i - s_k)(x_i - s_k)^T``; only its lower triangle is read.
    reg_covar : float
        Added to each diagonal.
    covariances : ndarray of shape (n_components, n_features, n_features)
        In: the centring terms. Out: ``(sxx + terms) / m + reg_covar I``.
    """
    n_components, n_features = sxx.shape[:2]
    for k in range(n_components):
        divisor = nk[k] if nk[k] > 0 else 1.0
        for i in range(n_features):
            for j in range(n_features):
                mirrored = (sxx[k, i, j] if i >= j else 0.0) + (sxx[k, j, i] if j > i else 0.0)
                regularised = reg_covar * (1.0 if i == j else 0.0)
                covariances[k, i, j] = (mirrored + covariances[k, i, j]) / divisor + regularised


@njit(cache=True, error_model="numpy")
def diagonal_moments(nk, sx, sxx, shift, reg_covar, means, variances):
    """Means and per-feature variances of the responsibilities, from their summed statistics.

    ``nk``, ``sx``, ``shift`` and ``means`` as for :func:`centring_terms`,
    ``reg_covar`` as for :func:`full_covariances`; ``sxx`` (n_components,
    n_features) the diagonal of the second moments. Writes into
    ``variances`` (n_components, n_features)
    ``(sxx - 2 delta sx + nk delta^2) / m + reg_covar``.
    """
    n_components, n_features = sx.shape
    for k in range(n_components):
        divisor = nk[k] if nk[k] > 0 else 1.0
        for i in range(n_features):
            d = sx[k, i] / divisor
            means[k, i] = shift[k, i] + d
            scatter = sxx[k, i] - 2.0 * d * sx[k, i] + nk[k] * (d * d)
            variances[k, i] = scatter / divisor + reg_covar


@njit(cache=True, error_model="numpy")
def tied_scatter(sxx, pairs, means, scatter, between):
    """The 'tied' scatter ``sum_k sum_i r_ik (x_i - m_k)(x_i - m_k)^T`` into ``scatter``.

    ``sxx`` (n_features, n_features): its lower triangle holds
    ``sum_i w_i (x_i - c_i)(x_i - c_i)^T`` around each point's centre; ``pairs``
    (n_components, n_components): above the diagonal the weights ``Q_kl``;
    ``means`` (n_components, n_features). ``scatter`` is the mirrored ``sxx``
    plus, where some ``Q_kl`` (k < l) is not 0, ``sum_{k<l} Q_kl (m_k - m_l)(m_k -
    m_l)^T``, summed over the pairs in row order into ``between`` (scratch of
    ``scatter``'s shape), each term ``(Q_kl d_i) d_j``: bitwise NumPy's
    ``np.tril(sxx) + np.tril(sxx, -1).T + np.einsum("p,pi,pj->ij", q, d, d)``.
    """
    n_components, n_features = means.shape
    for i in range(n_features):
        for j in range(n_features):
            scatter[i, j] = (sxx[i, j] if i >= j else 0.0) + (sxx[j, i] if j > i else 0.0)
            between[i, j] = 0.0
    found = False
    for k in range(n_components):
        for l in range(k + 1, n_components):
            q = pairs[k, l]
            if q != 0.0:
                found = True
                for i in range(n_features):
                    di = means[k, i] - means[l, i]
                    for j in range(n_features):
                        between[i, j] += q * di * (means[k, j] - means[l, j])
    if found:
        for i in range(n_features):
            for j in range(n_features):
                scatter[i, j] = scatter[i, j] + between[i, j]
