"""Slow, obviously-correct reference implementations for testing ``fastem``.

Everything here is written straight from the mathematics with plain NumPy and
SciPy (``scipy.stats`` densities wherever they exist) and favours clarity over
speed. The fast Numba kernels of ``fastem`` are tested against these
functions, so this module must never import ``fastem``.

Conventions
-----------
* ``X`` has shape ``(n_samples, n_features)`` = ``(N, D)``; a mixture has
  ``K`` components with mixing ``weights`` of shape ``(K,)``.
* Gaussian parameters follow scikit-learn's ``GaussianMixture`` shapes:

  - ``'full'``: covariances ``(K, D, D)``
  - ``'tied'``: covariances ``(D, D)``
  - ``'diag'``: covariances ``(K, D)``
  - ``'spherical'``: covariances ``(K,)``

* ``sample_weight`` (shape ``(N,)``, non-negative) is optional everywhere;
  ``None`` means all ones. A weight acts exactly like repeating the point:
  an integer weight ``m`` gives the same result as ``m`` copies of the row.
* Every EM step performs one E-step at the *old* parameters followed by one
  M-step. The returned ``'log_likelihood'`` is the weighted sum over points of
  ``log p(x_i)`` at the old parameters and ``'mean_log_likelihood'`` is that
  sum divided by ``sum(sample_weight)`` (with unit weights: divided by ``N``,
  matching scikit-learn's ``_e_step``).
* Component "counts" are ``nk = sum_i w_i r_ik + 10 * eps`` exactly as in
  scikit-learn (``eps = np.finfo(resp.dtype).eps``); the same ``nk`` is used
  for every family so that empty components never divide by zero, and the
  new mixing weights are ``nk / nk.sum()``.
"""

import numpy as np
from numpy.testing import assert_allclose
from scipy import stats
from scipy.special import logsumexp

__all__ = [
    "COVARIANCE_TYPES",
    "check_sample_weight",
    "expand_covariances",
    "gaussian_log_prob",
    "log_resp_and_norm",
    "gaussian_m_step",
    "gaussian_em_step",
    "gaussian_mixture_moments",
    "gaussian_n_parameters",
    "exponential_log_prob",
    "exponential_em_step",
    "exponential_mixture_moments",
    "poisson_log_prob",
    "poisson_em_step",
    "poisson_mixture_moments",
    "run_em",
]

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


# ---------------------------------------------------------------------------
# Helpers


def check_sample_weight(sample_weight, n_samples):
    """Return sample weights as a float array, ones if ``None``.

    Parameters
    ----------
    sample_weight : array-like of shape (n_samples,) or None
        Non-negative per-point weights. ``None`` means all ones.
    n_samples : int
        Number of points ``N``.

    Returns
    -------
    sample_weight : ndarray of shape (n_samples,)
        Float64 weights.
    """
    if sample_weight is None:
        return np.ones(n_samples)
    sample_weight = np.asarray(sample_weight, dtype=np.float64)
    if sample_weight.shape != (n_samples,):
        raise ValueError(
            f"sample_weight must have shape ({n_samples},), "
            f"got {sample_weight.shape}"
        )
    if np.any(sample_weight < 0) or not np.all(np.isfinite(sample_weight)):
        raise ValueError("sample_weight must be finite and non-negative")
    return sample_weight


def _check_covariance_type(covariance_type):
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(
            f"covariance_type must be one of {COVARIANCE_TYPES}, "
            f"got {covariance_type!r}"
        )


def expand_covariances(covariances, covariance_type, n_components, n_features):
    """Expand covariances of any type into full matrices.

    Parameters
    ----------
    covariances : ndarray
        Shape ``(K, D, D)`` for 'full', ``(D, D)`` for 'tied', ``(K, D)`` for
        'diag' and ``(K,)`` for 'spherical'.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        Parameterisation of ``covariances``.
    n_components : int
        Number of components ``K``.
    n_features : int
        Number of features ``D``.

    Returns
    -------
    full_covariances : ndarray of shape (n_components, n_features, n_features)
        One full covariance matrix per component.
    """
    _check_covariance_type(covariance_type)
    covariances = np.asarray(covariances, dtype=np.float64)
    K, D = n_components, n_features
    full = np.empty((K, D, D))
    for k in range(K):
        if covariance_type == "full":
            full[k] = covariances[k]
        elif covariance_type == "tied":
            full[k] = covariances
        elif covariance_type == "diag":
            full[k] = np.diag(covariances[k])
        else:  # spherical
            full[k] = covariances[k] * np.eye(D)
    return full


def _nk(weighted_resp):
    """Component counts exactly as scikit-learn: sum + 10 * eps."""
    return weighted_resp.sum(axis=0) + 10 * np.finfo(weighted_resp.dtype).eps


def log_resp_and_norm(log_prob, weights):
    """E-step: log-responsibilities and per-point log-likelihoods.

    Parameters
    ----------
    log_prob : ndarray of shape (n_samples, n_components)
        ``log p(x_i | component k)``.
    weights : ndarray of shape (n_components,)
        Mixing weights (summing to one).

    Returns
    -------
    log_resp : ndarray of shape (n_samples, n_components)
        ``log r_ik = log pi_k + log p(x_i | k) - log p(x_i)``.
    log_prob_norm : ndarray of shape (n_samples,)
        ``log p(x_i) = logsumexp_k (log pi_k + log p(x_i | k))``.
    """
    log_prob = np.asarray(log_prob, dtype=np.float64)
    with np.errstate(divide="ignore"):  # a zero weight gives log(0) = -inf
        weighted_log_prob = log_prob + np.log(np.asarray(weights, dtype=np.float64))
    log_prob_norm = logsumexp(weighted_log_prob, axis=1)
    with np.errstate(under="ignore", invalid="ignore"):
        log_resp = weighted_log_prob - log_prob_norm[:, np.newaxis]
    return log_resp, log_prob_norm


def _e_step(log_prob, weights, sample_weight):
    """Return (resp, weighted resp, total log-lik, mean log-lik)."""
    log_resp, log_prob_norm = log_resp_and_norm(log_prob, weights)
    resp = np.exp(log_resp)
    log_likelihood = float(np.sum(sample_weight * log_prob_norm))
    mean_log_likelihood = log_likelihood / float(np.sum(sample_weight))
    weighted_resp = sample_weight[:, np.newaxis] * resp
    return resp, weighted_resp, log_likelihood, mean_log_likelihood


# ---------------------------------------------------------------------------
# Gaussian mixtures


def gaussian_log_prob(X, means, covariances, covariance_type):
    """Per-component Gaussian log-densities.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data.
    means : ndarray of shape (n_components, n_features)
        Component means.
    covariances : ndarray
        Shape ``(K, D, D)`` for 'full', ``(D, D)`` for 'tied', ``(K, D)`` for
        'diag' and ``(K,)`` for 'spherical' (scikit-learn conventions).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        Parameterisation of ``covariances``.

    Returns
    -------
    log_prob : ndarray of shape (n_samples, n_components)
        ``log N(x_i | mu_k, Sigma_k)`` computed with
        ``scipy.stats.multivariate_normal.logpdf``.
    """
    X = np.asarray(X, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    N, D = X.shape
    K = means.shape[0]
    full = expand_covariances(covariances, covariance_type, K, D)
    log_prob = np.empty((N, K))
    for k in range(K):
        log_prob[:, k] = np.reshape(
            stats.multivariate_normal.logpdf(X, mean=means[k], cov=full[k]), (N,)
        )
    return log_prob


def gaussian_m_step(X, resp, covariance_type, reg_covar=1e-6, sample_weight=None):
    """Gaussian M-step, scikit-learn's ``_estimate_gaussian_parameters`` weighted.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data.
    resp : ndarray of shape (n_samples, n_components)
        Responsibilities (rows sum to one).
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        Parameterisation of the returned covariances.
    reg_covar : float, default=1e-6
        Added to the diagonal of every covariance.
    sample_weight : ndarray of shape (n_samples,), default=None
        Per-point weights; ``None`` means all ones.

    Returns
    -------
    weights : ndarray of shape (n_components,)
        ``nk / nk.sum()``.
    means : ndarray of shape (n_components, n_features)
        ``sum_i w_i r_ik x_i / nk``.
    covariances : ndarray
        Shape ``(K, D, D)``, ``(D, D)``, ``(K, D)`` or ``(K,)`` by type.

    Notes
    -----
    With ``w`` the sample weights, ``R = w[:, None] * resp`` and
    ``nk = R.sum(0) + 10 * eps``, following scikit-learn (1.9):

    * full: ``Sigma_k = sum_i R_ik (x_i - mu_k)(x_i - mu_k)^T / nk_k + reg I``
    * tied: ``Sigma = (X^T diag(w) X - sum_k nk_k mu_k mu_k^T) / sum(nk) + reg I``
    * diag: ``sigma2_k = (R^T (X * X))_k / nk_k - mu_k ** 2 + reg``
    * spherical: mean over features of the diag variances.
    """
    _check_covariance_type(covariance_type)
    X = np.asarray(X, dtype=np.float64)
    resp = np.asarray(resp, dtype=np.float64)
    N, D = X.shape
    K = resp.shape[1]
    w = check_sample_weight(sample_weight, N)

    R = w[:, np.newaxis] * resp
    nk = _nk(R)
    means = (R.T @ X) / nk[:, np.newaxis]

    if covariance_type == "full":
        covariances = np.empty((K, D, D))
        for k in range(K):
            diff = X - means[k]
            covariances[k] = (R[:, k] * diff.T) @ diff / nk[k]
            covariances[k] += reg_covar * np.eye(D)
    elif covariance_type == "tied":
        avg_X2 = X.T @ (w[:, np.newaxis] * X)
        avg_means2 = (nk * means.T) @ means
        covariances = (avg_X2 - avg_means2) / np.sum(nk) + reg_covar * np.eye(D)
    else:
        avg_X2 = (R.T @ (X * X)) / nk[:, np.newaxis]
        diag = avg_X2 - means**2 + reg_covar
        covariances = diag if covariance_type == "diag" else diag.mean(axis=1)

    weights = nk / np.sum(nk)
    return weights, means, covariances


def gaussian_em_step(
    X, weights, means, covariances, covariance_type, reg_covar=1e-6, sample_weight=None
):
    """One EM iteration for a Gaussian mixture.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Data.
    weights : ndarray of shape (n_components,)
        Current mixing weights.
    means : ndarray of shape (n_components, n_features)
        Current means.
    covariances : ndarray
        Current covariances, shape ``(K, D, D)`` for 'full', ``(D, D)`` for
        'tied', ``(K, D)`` for 'diag' and ``(K,)`` for 'spherical'.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        Parameterisation of ``covariances``.
    reg_covar : float, default=1e-6
        Added to the diagonal of the new covariances.
    sample_weight : ndarray of shape (n_samples,), default=None
        Per-point weights; ``None`` means all ones.

    Returns
    -------
    result : dict
        ``'weights'`` (K,), ``'means'`` (K, D), ``'covariances'`` (shape by
        type): the new parameters (see :func:`gaussian_m_step`);
        ``'log_likelihood'`` (float): ``sum_i w_i log p(x_i)`` at the *old*
        parameters; ``'mean_log_likelihood'`` (float): that divided by
        ``sum_i w_i``.
    """
    X = np.asarray(X, dtype=np.float64)
    w = check_sample_weight(sample_weight, X.shape[0])
    log_prob = gaussian_log_prob(X, means, covariances, covariance_type)
    resp, _, ll, mean_ll = _e_step(log_prob, weights, w)
    new_weights, new_means, new_covariances = gaussian_m_step(
        X, resp, covariance_type, reg_covar=reg_covar, sample_weight=w
    )
    return {
        "weights": new_weights,
        "means": new_means,
        "covariances": new_covariances,
        "log_likelihood": ll,
        "mean_log_likelihood": mean_ll,
    }


def gaussian_marginal_log_prob(X, means, covariances, covariance_type):
    """Per-component log-densities of the observed coordinates of each row (NaN = missing).

    ``log N(x_O | mu_O, Sigma_OO)`` with ``O`` the row's observed coordinates
    (Little & Rubin, *Statistical Analysis with Missing Data*, 2nd ed.,
    sec. 11.2): the marginal of a Gaussian is the Gaussian of the observed
    sub-vector and sub-matrix. A row with nothing observed has log-density 0.
    Shape (n_samples, n_components).
    """
    X = np.asarray(X, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    N, D = X.shape
    K = means.shape[0]
    full = expand_covariances(covariances, covariance_type, K, D)
    log_prob = np.zeros((N, K))
    for i in range(N):
        o = ~np.isnan(X[i])
        if not o.any():
            continue
        for k in range(K):
            log_prob[i, k] = stats.multivariate_normal.logpdf(
                X[i, o], mean=means[k, o], cov=full[k][np.ix_(o, o)]
            )
    return log_prob


def gaussian_conditional(x, mean, covariance):
    """Conditional mean and covariance of a row's missing coordinates given its observed ones.

    ``E[x_M | x_O] = mu_M + Sigma_MO Sigma_OO^-1 (x_O - mu_O)`` and
    ``Cov[x_M | x_O] = Sigma_MM - Sigma_MO Sigma_OO^-1 Sigma_OM`` (Little &
    Rubin, sec. 11.2). Returns the completed row ``x_hat`` (D,) and the
    (D, D) conditional covariance, zero outside the missing block.
    """
    m = np.isnan(x)
    o = ~m
    x_hat = np.array(x, dtype=np.float64)
    conditional = np.zeros((len(x), len(x)))
    if not m.any():
        return x_hat, conditional
    s_mo = covariance[np.ix_(m, o)]
    s_oo = covariance[np.ix_(o, o)]
    if o.any():
        x_hat[m] = mean[m] + s_mo @ np.linalg.solve(s_oo, x[o] - mean[o])
        conditional[np.ix_(m, m)] = covariance[np.ix_(m, m)] - s_mo @ np.linalg.solve(s_oo, s_mo.T)
    else:
        x_hat[m] = mean[m]
        conditional[np.ix_(m, m)] = covariance[np.ix_(m, m)]
    return x_hat, conditional


def gaussian_missing_em_step(
    X, weights, means, covariances, covariance_type, reg_covar=1e-6, sample_weight=None
):
    """One EM iteration for a Gaussian mixture on data with missing entries (NaN).

    Exact EM under missing at random (Ghahramani & Jordan 1994; Little &
    Rubin, ch. 11): the E-step takes each row's marginal density over its
    observed coordinates; the M-step's moments use, for row i and component
    k, the completed row ``x_hat_ik`` and the conditional covariance ``C_ik``
    (:func:`gaussian_conditional`):

    * ``mu_k = sum_i R_ik x_hat_ik / nk_k``
    * ``S_k = sum_i R_ik ((x_hat_ik - mu_k)(x_hat_ik - mu_k)^T + C_ik)``
    * full: ``S_k / nk_k + reg I``; tied: ``sum_k S_k / sum(nk) + reg I``;
      diag: the diagonal of ``S_k / nk_k``, plus ``reg``; spherical: its mean.

    Returns the same dict as :func:`gaussian_em_step`.
    """
    X = np.asarray(X, dtype=np.float64)
    N, D = X.shape
    means = np.asarray(means, dtype=np.float64)
    K = means.shape[0]
    w = check_sample_weight(sample_weight, N)
    full = expand_covariances(covariances, covariance_type, K, D)
    log_prob = gaussian_marginal_log_prob(X, means, covariances, covariance_type)
    _, R, ll, mean_ll = _e_step(log_prob, weights, w)
    nk = _nk(R)
    completed = np.empty((K, N, D))
    conditional = np.empty((K, N, D, D))
    for k in range(K):
        for i in range(N):
            completed[k, i], conditional[k, i] = gaussian_conditional(X[i], means[k], full[k])
    new_means = np.einsum("ik,kid->kd", R, completed) / nk[:, None]
    scatter = np.empty((K, D, D))
    for k in range(K):
        diff = completed[k] - new_means[k]
        scatter[k] = (R[:, k] * diff.T) @ diff + np.einsum("i,ide->de", R[:, k], conditional[k])
    if covariance_type == "full":
        new_cov = scatter / nk[:, None, None] + reg_covar * np.eye(D)
    elif covariance_type == "tied":
        new_cov = scatter.sum(axis=0) / nk.sum() + reg_covar * np.eye(D)
    else:
        diag = np.diagonal(scatter, axis1=1, axis2=2) / nk[:, None] + reg_covar
        new_cov = diag if covariance_type == "diag" else diag.mean(axis=1)
    return {
        "weights": nk / nk.sum(),
        "means": new_means,
        "covariances": new_cov,
        "log_likelihood": ll,
        "mean_log_likelihood": mean_ll,
    }


def gaussian_mixture_moments(weights, means, covariances, covariance_type):
    """Mean and covariance of a whole Gaussian mixture.

    Parameters
    ----------
    weights : ndarray of shape (n_components,)
        Mixing weights.
    means : ndarray of shape (n_components, n_features)
        Component means.
    covariances : ndarray
        Component covariances, shape by ``covariance_type``.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        Parameterisation of ``covariances``.

    Returns
    -------
    mean : ndarray of shape (n_features,)
        ``m = sum_k pi_k mu_k``.
    covariance : ndarray of shape (n_features, n_features)
        ``sum_k pi_k (Sigma_k + mu_k mu_k^T) - m m^T`` (law of total
        covariance).
    """
    weights = np.asarray(weights, dtype=np.float64)
    means = np.asarray(means, dtype=np.float64)
    K, D = means.shape
    full = expand_covariances(covariances, covariance_type, K, D)
    mean = weights @ means
    second_moment = np.zeros((D, D))
    for k in range(K):
        second_moment += weights[k] * (full[k] + np.outer(means[k], means[k]))
    return mean, second_moment - np.outer(mean, mean)


def gaussian_n_parameters(n_components, n_features, covariance_type):
    """Number of free parameters, counted as scikit-learn's ``_n_parameters``.

    Parameters
    ----------
    n_components : int
        Number of components ``K``.
    n_features : int
        Number of features ``D``.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}
        Covariance parameterisation.

    Returns
    -------
    n_parameters : int
        ``(K - 1)`` weights + ``K * D`` means + covariance parameters:
        ``K D (D + 1) / 2`` (full), ``D (D + 1) / 2`` (tied), ``K D`` (diag),
        ``K`` (spherical).
    """
    _check_covariance_type(covariance_type)
    K, D = n_components, n_features
    cov_params = {
        "full": K * D * (D + 1) // 2,
        "tied": D * (D + 1) // 2,
        "diag": K * D,
        "spherical": K,
    }[covariance_type]
    return int(cov_params + K * D + K - 1)


# ---------------------------------------------------------------------------
# Exponential mixtures (features independent within a component)


def exponential_log_prob(X, scales):
    """Per-component log-densities of independent exponential features.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Non-negative data (negative values give ``-inf``).
    scales : ndarray of shape (n_components, n_features)
        Component means ``s_kd`` (the scale, i.e. ``1 / rate``).

    Returns
    -------
    log_prob : ndarray of shape (n_samples, n_components)
        ``sum_d log Expon(x_id; scale=s_kd) = sum_d (-log s_kd - x_id / s_kd)``
        via ``scipy.stats.expon.logpdf``.
    """
    X = np.asarray(X, dtype=np.float64)
    scales = np.asarray(scales, dtype=np.float64)
    N = X.shape[0]
    K = scales.shape[0]
    log_prob = np.empty((N, K))
    for k in range(K):
        log_prob[:, k] = stats.expon.logpdf(X, scale=scales[k]).sum(axis=1)
    return log_prob


def exponential_em_step(X, weights, scales, sample_weight=None):
    """One EM iteration for a mixture of independent exponentials.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Non-negative data.
    weights : ndarray of shape (n_components,)
        Current mixing weights.
    scales : ndarray of shape (n_components, n_features)
        Current component means.
    sample_weight : ndarray of shape (n_samples,), default=None
        Per-point weights; ``None`` means all ones.

    Returns
    -------
    result : dict
        ``'weights'`` (K,) = ``nk / nk.sum()``; ``'scales'`` (K, D) =
        ``sum_i w_i r_ik x_id / nk_k``; ``'log_likelihood'`` and
        ``'mean_log_likelihood'`` at the *old* parameters.

    Notes
    -----
    ``nk = sum_i w_i r_ik + 10 * eps`` as for the Gaussian family; there is no
    other regularisation (no floor on the scales), so a component whose points
    are all zero in a feature gets scale 0 there.
    """
    X = np.asarray(X, dtype=np.float64)
    w = check_sample_weight(sample_weight, X.shape[0])
    log_prob = exponential_log_prob(X, scales)
    _, R, ll, mean_ll = _e_step(log_prob, weights, w)
    nk = _nk(R)
    return {
        "weights": nk / nk.sum(),
        "scales": (R.T @ X) / nk[:, np.newaxis],
        "log_likelihood": ll,
        "mean_log_likelihood": mean_ll,
    }


def exponential_mixture_moments(weights, scales):
    """Per-feature mean and variance of a mixture of independent exponentials.

    Parameters
    ----------
    weights : ndarray of shape (n_components,)
        Mixing weights.
    scales : ndarray of shape (n_components, n_features)
        Component means.

    Returns
    -------
    mean : ndarray of shape (n_features,)
        ``m_d = sum_k pi_k s_kd``.
    variance : ndarray of shape (n_features,)
        ``sum_k pi_k 2 s_kd^2 - m_d^2`` (``E[x^2] = 2 s^2`` for an exponential).
    """
    weights = np.asarray(weights, dtype=np.float64)
    scales = np.asarray(scales, dtype=np.float64)
    mean = weights @ scales
    second_moment = weights @ (2.0 * scales**2)
    return mean, second_moment - mean**2


# ---------------------------------------------------------------------------
# Poisson mixtures (features independent within a component)


def poisson_log_prob(X, rates):
    """Per-component log-pmfs of independent Poisson features.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Non-negative integer counts (other values give ``-inf``).
    rates : ndarray of shape (n_components, n_features)
        Component rates ``lambda_kd``.

    Returns
    -------
    log_prob : ndarray of shape (n_samples, n_components)
        ``sum_d (x_id log lambda_kd - lambda_kd - log x_id!)`` via
        ``scipy.stats.poisson.logpmf``.
    """
    X = np.asarray(X, dtype=np.float64)
    rates = np.asarray(rates, dtype=np.float64)
    N = X.shape[0]
    K = rates.shape[0]
    log_prob = np.empty((N, K))
    for k in range(K):
        log_prob[:, k] = stats.poisson.logpmf(X, mu=rates[k]).sum(axis=1)
    return log_prob


def poisson_em_step(X, weights, rates, sample_weight=None):
    """One EM iteration for a mixture of independent Poissons.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Non-negative integer counts.
    weights : ndarray of shape (n_components,)
        Current mixing weights.
    rates : ndarray of shape (n_components, n_features)
        Current rates.
    sample_weight : ndarray of shape (n_samples,), default=None
        Per-point weights; ``None`` means all ones.

    Returns
    -------
    result : dict
        ``'weights'`` (K,) = ``nk / nk.sum()``; ``'rates'`` (K, D) =
        ``sum_i w_i r_ik x_id / nk_k``; ``'log_likelihood'`` and
        ``'mean_log_likelihood'`` at the *old* parameters.

    Notes
    -----
    ``nk = sum_i w_i r_ik + 10 * eps``; no other regularisation.
    """
    X = np.asarray(X, dtype=np.float64)
    w = check_sample_weight(sample_weight, X.shape[0])
    log_prob = poisson_log_prob(X, rates)
    _, R, ll, mean_ll = _e_step(log_prob, weights, w)
    nk = _nk(R)
    return {
        "weights": nk / nk.sum(),
        "rates": (R.T @ X) / nk[:, np.newaxis],
        "log_likelihood": ll,
        "mean_log_likelihood": mean_ll,
    }


def poisson_mixture_moments(weights, rates):
    """Per-feature mean and variance of a mixture of independent Poissons.

    Parameters
    ----------
    weights : ndarray of shape (n_components,)
        Mixing weights.
    rates : ndarray of shape (n_components, n_features)
        Component rates.

    Returns
    -------
    mean : ndarray of shape (n_features,)
        ``m_d = sum_k pi_k lambda_kd``.
    variance : ndarray of shape (n_features,)
        ``sum_k pi_k (lambda_kd + lambda_kd^2) - m_d^2``.
    """
    weights = np.asarray(weights, dtype=np.float64)
    rates = np.asarray(rates, dtype=np.float64)
    mean = weights @ rates
    second_moment = weights @ (rates + rates**2)
    return mean, second_moment - mean**2


# ---------------------------------------------------------------------------
# Generic driver


def run_em(step_fn, X, params, n_iter, **kw):
    """Iterate an EM step function a fixed number of times.

    Parameters
    ----------
    step_fn : callable
        One of the ``*_em_step`` functions, called as
        ``step_fn(X, **params, **kw)``.
    X : ndarray of shape (n_samples, n_features)
        Data.
    params : dict
        Initial parameters keyed by the step function's argument names, e.g.
        ``{'weights': ..., 'means': ..., 'covariances': ...}`` for
        :func:`gaussian_em_step` or ``{'weights': ..., 'rates': ...}`` for
        :func:`poisson_em_step`.
    n_iter : int
        Number of EM iterations.
    **kw
        Further fixed keyword arguments for ``step_fn`` (e.g.
        ``covariance_type``, ``reg_covar``, ``sample_weight``).

    Returns
    -------
    params : dict
        Parameters after ``n_iter`` iterations (same keys as the input).
    mean_log_likelihoods : list of float
        Length ``n_iter``; entry ``i`` is the mean log-likelihood of the
        parameters after ``i`` iterations (i.e. evaluated at the start of
        iteration ``i``), so it should be non-decreasing.
    """
    params = dict(params)
    history = []
    for _ in range(n_iter):
        result = step_fn(X, **params, **kw)
        history.append(result["mean_log_likelihood"])
        params = {key: result[key] for key in params}
    return params, history


def assert_marginal_predictions(model, X, log_prob, empty_row):
    """Check a model's predictions on ``X`` against reference log-densities ``log_prob`` (N, K).

    ``X[empty_row]`` has no observed entry: its responsibilities are the weights,
    its log-likelihood is exactly 0 and it is no observation in the mean.
    """
    log_resp, norm = log_resp_and_norm(log_prob, model.weights_)
    assert_allclose(model.score_samples(X), norm, rtol=1e-10, atol=1e-12)
    assert model.score_samples(X)[empty_row] == 0.0
    assert_allclose(model.predict_proba(X), np.exp(log_resp), rtol=1e-9, atol=1e-12)
    assert np.array_equal(model.predict(X), np.argmax(log_resp, axis=1))
    row = X[empty_row : empty_row + 1]
    assert_allclose(model.predict_proba(row)[0], model.weights_, rtol=1e-12)
    assert_allclose(model.score(X), np.delete(norm, empty_row).mean(), rtol=1e-10)
