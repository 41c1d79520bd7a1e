"""Variational Bayesian Gaussian mixtures, on the Gaussian family's fused kernel.

The variational E-step (Bishop 2006, *Pattern Recognition and Machine
Learning*, sec. 10.2.1, eqs. 10.46-10.67; Blei and Jordan 2006 for the
Dirichlet process) gives each point the log-responsibility

    log rho_nk = E[log pi_k] + E[log |Lambda_k|] / 2 - D / (2 beta_k)
                 - nu_k / 2 (x_n - m_k)^T W_k (x_n - m_k) - D/2 log(2 pi),

which is the Gaussian log-density with precision ``nu_k W_k`` (the model's
``precisions_``, as scikit-learn normalises it) plus a per-component constant.
The constants (digamma sums) are computed once per iteration
(:meth:`BayesianGaussianMixture._kernel_log_weights`) and take the place of
the log mixing weights in the Gaussian family's fused kernel, so the pass over
the data, its statistics (``nk``, first and second moments around the
current means) and every data path are the Gaussian family's. The M-step turns
the same statistics into the parameters of the variational posteriors (Bishop
eqs. 10.58, 10.60-10.63).

The evidence lower bound is scikit-learn's (``_compute_lower_bound``: the
bound with the terms that cancel at the M-step's optimum removed). Its
entropy term ``-sum_nk r_nk log r_nk`` needs no pass of its own: with
``log r_nk = log rho_nk - log sum_j rho_nj``,

    sum_nk r_nk log r_nk = sum_k [N_k c_k - tr(P_k S_k) / 2] - sum_n log sum_j rho_nj,

where ``c_k`` is the constant part of ``log rho_nk``, ``P_k`` the precision
and ``S_k = sum_n r_nk (x_n - m_k)(x_n - m_k)^T`` the scatter around the
means of the E-step, which is the statistic the kernel sums; the last sum is
its log-likelihood sum.
"""

import itertools
import numbers

import numpy as np

from .. import _state
from .._validation import (
    as_float_array, check_choice, check_in_dtype, check_scalar, non_finite_entries)
from ..base import fill_doc
from .gaussian import (
    _ILL_DEFINED, GaussianMixture, _check_spd, _eigenvalues_and_rounding, _GaussianComponents,
    feature_variances, log_det_cholesky, symmetric_part)

__all__ = ["BayesianGaussianMixture"]

_PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")
# The hyper-parameters that are one positive number for every covariance type.
_SCALAR_PRIORS = ("weight_concentration_prior", "mean_precision_prior", "degrees_of_freedom_prior")
_LOG_2 = np.log(2.0)


def _data_mean_and_covariance(source, full):
    """``(n, mean, covariance)`` of a data source, float64, through the fused kernel.

    ``n`` is the sum of the sample weights; the covariance divides by
    ``n - 1`` (``np.cov``'s, with weights as repetition counts), and is the
    diagonal only unless ``full``. Two passes of a one-component Gaussian: the
    first finds the mean, the second sums the scatter around it, so that data
    far from 0 lose nothing to cancellation.
    """
    n_features = source.n_features
    model = GaussianMixture(1, covariance_type="full" if full else "diag", reg_covar=0.0)
    model.weights_ = np.ones(1, dtype=source.dtype)
    covariance = np.eye(n_features) if full else np.ones((1, n_features))
    shift = np.zeros((1, n_features))
    for _ in range(2):
        model._set_gaussian(shift, covariance[None] if full else covariance)
        _state.made_together(model)
        stats = model._summarize(source)
        n = stats.n_samples
        reference = np.asarray(stats.reference["shift"], dtype=np.float64)
        sx = stats.moments["sx"]
        shift = reference + sx / n
    sxx = stats.moments["sxx"][0]
    if full:
        sxx = np.tril(sxx) + np.tril(sxx, -1).T
        scatter = sxx - np.outer(sx[0], sx[0]) / n
    else:
        scatter = sxx - sx[0] ** 2 / n
    with np.errstate(divide="ignore", invalid="ignore"):  # n <= 1: the caller decides
        return n, shift[0], scatter / (n - 1.0)


def _eigenvalues_at_least(matrix, floor):
    """The symmetric ``matrix`` itself if its eigenvalues are at least ``floor``, else
    with the smaller ones raised to ``floor`` (the same eigenvectors); ``floor`` is at
    least what rounding of the eigendecomposition can take away, so that the result is
    positive definite at any scale (data in units of 1e6: a floor of 1e-6 left it
    indefinite).

    Where that rounding is above ``floor`` and the matrix is positive definite beyond
    the rounding of its unit-diagonal form (features in units far apart, variances
    1e-6 and 1e15, not collinear ones), it is kept if that form bounds its eigenvalues
    at least ``floor``, and is given ``floor`` on its diagonal otherwise, as the
    M-step gives its covariances ``reg_covar``: raising eigenvalues to the rounding of
    the largest made the prior variance of the narrow feature 5.4 instead of 1e-6.
    """
    values, vectors = np.linalg.eigh(matrix)
    resolved = 16 * len(values) * np.finfo(np.float64).eps * values[-1]
    if values[0] >= max(floor, resolved):
        return matrix
    if resolved > floor:
        scaled, rounding = _eigenvalues_and_rounding(matrix)
        if scaled[0] > 16 * rounding:
            if scaled[0] * np.diagonal(matrix).min() >= floor:  # a bound on its smallest
                return matrix
            return matrix + np.diag(np.full(len(values), floor))
    floor = max(floor, resolved)
    raised = (vectors * np.maximum(values, floor)) @ vectors.T
    return (raised + raised.T) / 2.0


def _hidden(self):
    raise AttributeError("not defined for this estimator")


# The bound below which each prior of a float32 fit must stay (degrees of
# freedom: n_features - 1, set per fit).
_FLOAT32_FLOORS = {
    "weight_concentration_prior_": 0.0,
    "mean_precision_prior_": 0.0,
    "degrees_of_freedom_prior_": None,
    "covariance_prior_": 0.0,
}


def _priors_for_float32(priors, n_features):
    """The priors (``{name: value}``, float64) adjusted so that rounding them to float32
    keeps the properties the variational M-step needs; the others unchanged.

    - A prior bounded below (a positive concentration, mean precision or
      diagonal covariance; degrees of freedom above ``n_features - 1``) that
      would round onto its bound becomes the next float32 above it (e.g.
      ``degrees_of_freedom_prior = D - 1 + 1e-7``). A positive prior that
      rounds to 0 raises ValueError.
    - A covariance prior that rounding could make indefinite (collinear
      features, where the default prior, the data's covariance, is
      singular) gets a ridge (:func:`_ridged_for_float32`), so the stored
      prior, and the covariance ``S / nu_0`` of a component left without
      data, stay positive definite in float32, as their precisions do;
      without it, a rounded prior with an eigenvalue below 0 made such
      components' covariances indefinite and the fit fail where float64
      fitted.
    - A prior beyond float32's largest number raises ValueError naming it
      (before, the cast gave an infinity that was blamed on the weights).
    """
    for name in ("mean_prior_", *_FLOAT32_FLOORS):
        check_in_dtype(priors[name], name[:-1], np.float32, fix=f"pass a smaller {name[:-1]}")
    adjusted = dict(priors)
    floors = dict(_FLOAT32_FLOORS, degrees_of_freedom_prior_=n_features - 1.0)
    for name, floor in floors.items():
        value = np.asarray(priors[name], dtype=np.float64)
        if name == "covariance_prior_" and value.ndim == 2:
            _check_normal_in_float32(value)
            adjusted[name] = _ridged_for_float32(value)
            continue
        rounded = value.astype(np.float32)
        lost = (rounded <= floor) & (value > floor)
        if floor == 0.0 and lost.any():
            raise ValueError(
                f"{name[:-1]}={value[lost].min():.3g} rounds to 0 in float32, so a float32 "
                "fit cannot hold it. Fit the data as float64 (X.astype(np.float64)), or "
                "pass a larger prior."
            )
        above = np.nextafter(np.float32(floor), np.float32(np.inf))
        adjusted[name] = np.where(lost, above, rounded)
    return adjusted


def _check_priors_reach_empty_components(priors, dtype, n_components, n_features):
    """Raise ValueError when ``weight_concentration_prior`` or ``mean_precision_prior`` is so
    small that the expected log-weight of a component without data leaves the range of
    the fit's ``dtype``.

    Such a component keeps the priors as its posterior counts, and its term in
    the E-step's log-weights holds ``digamma(weight_concentration_prior)``,
    about ``-1 / weight_concentration_prior``, once for each of up to
    ``n_components`` sticks (Blei and Jordan 2006, eq. 20), and
    ``-n_features / (2 mean_precision_prior)`` (Bishop 2006, eq. 10.64). Beyond
    the dtype's largest number they are infinite and the lower bound NaN:
    1e-40 in float32, or 1e-310 in float64, gave a fit full of NaN that ran
    to ``max_iter``. A quarter of the largest number is left to their sum.
    """
    room = float(np.finfo(dtype).max) / 4
    dtype_name = np.dtype(dtype).name
    for name, count, term, effect in (
        ("weight_concentration_prior_", n_components,
         "the expected log-weight of a component without data", " (a prior that small "
         "already leaves every component without data at weight 0)"),
        ("mean_precision_prior_", n_features,
         "the expected log-density of a point under a component without data", ""),
    ):
        value = float(priors[name])
        denominator = (name[:-1] if name.startswith("weight")
                       else f"(2 {name[:-1]})")
        if count > value * room:
            wider = (" or fit the data as float64 (X.astype(np.float64))"
                     if np.dtype(dtype) == np.float32 else "")
            raise ValueError(
                f"{name[:-1]}={value:.3g} is too small for {dtype_name} arithmetic: "
                f"{term}, about -{count} / {denominator}, leaves {dtype_name}'s range, and the "
                f"fit would give NaN. Pass {name[:-1]} >= {count / room:.3g}{effect}"
                f"{',' if wider else ''}{wider}."
            )


def _check_normal_in_float32(prior):
    """Raise ValueError when a variance of the covariance matrix ``prior`` is positive
    but below float32's smallest normal number.

    There float32 rounds absolutely (to multiples of 1.4e-45), not relatively:
    the entries lose their correlations, or round to 0, and the stored prior
    is no longer positive definite (1e-300 * I became 0), though the fit, whose
    posteriors add the data's scatter, ran. Above it, rounding is relative
    and :func:`_ridged_for_float32` keeps the prior positive definite.
    """
    tiny = float(np.finfo(np.float32).tiny)
    variances = np.diagonal(prior)
    small = (variances > 0) & (variances < tiny)
    if small.any():
        raise ValueError(
            f"covariance_prior has a variance of {variances[small].min():.3g}, below "
            f"float32's smallest normal number ({tiny:.3g}): float32 rounds it, and its "
            "covariances, to multiples of 1.4e-45, so a float32 fit cannot hold the prior "
            "positive definite. Fit the data as float64 (X.astype(np.float64)), or pass a "
            "larger prior (or scale the data and covariance_prior alike)."
        )


def _ridged_for_float32(prior):
    """A covariance prior plus the ridge that keeps it positive definite in float32.

    In the prior's correlation scale ``R = diag(s)^-1 S diag(s)^-1`` (``s`` the
    standard deviations of the features that vary), rounding each entry
    relatively moves ``R``'s eigenvalues by at most ``eps / 2 ||R||_F``, and
    definiteness is the same in both scales. So when ``R``'s smallest
    eigenvalue is below ``r = 2 eps sqrt(D) ||R||_F``, each variance gets
    ``r`` times itself: a relative change of about ``1e-6 D``, whatever the
    features' units. Features of zero variance keep their zero rows, which
    round exactly.
    """
    eps = float(np.finfo(np.float32).eps)
    variances = np.diagonal(prior).copy()
    live = variances > 0
    scale = np.sqrt(np.where(live, variances, 1.0))
    correlations = (prior / np.outer(scale, scale))[np.ix_(live, live)]
    if not correlations.size:
        return prior
    ridge = 2.0 * eps * np.sqrt(len(prior)) * np.linalg.norm(correlations)
    if np.linalg.eigvalsh(correlations)[0] >= ridge:
        return prior
    return prior + np.diag(ridge * variances)


def _check_prior_pull(priors, n, mean, covariance_type, dtype, n_components):
    """Raise ValueError when ``mean_prior`` is so far from the data, for its
    ``mean_precision_prior``, that the M-step's covariances leave the range
    of the fit's ``dtype``.

    The M-step adds ``s_k (x_k - m0)(x_k - m0)^T`` to each covariance's scale
    matrix, with ``s_k = N_k beta0 / (beta0 + N_k) <= m = min(beta0, n)``
    (``n`` the total weight; for 'tied', the average over the components,
    ``m = min(beta0, n / K)``). With ``d = m0 - mean``, the data's mean, that
    term must stay below ``1 / tiny`` of ``dtype`` (every covariance type),
    or the covariance, or the precision its inverse, is not finite.

    A pull within the range whose rounding costs a 'full' or 'tied'
    covariance its positive definiteness is named where it happens, in the
    M-step (:func:`_pull_error`): how close a pull may come depends on the
    components' covariances, which the data's covariance does not bound
    (features in different units, a constant feature).
    """
    m0 = np.asarray(priors["mean_prior_"], dtype=np.float64)
    d = m0 - np.asarray(mean, dtype=np.float64)
    largest = float(np.max(np.abs(d)))
    if not largest > 0:
        return
    beta0 = float(priors["mean_precision_prior_"])
    share = float(n) / n_components if covariance_type == "tied" else float(n)
    m = min(beta0, share)  # the most a component's pull is weighted by
    # squares as ratios to largest**2, so that a distance of 1e200 is not infinite here
    rel = d / largest
    shape = {"full": np.sum(rel**2), "tied": np.sum(rel**2), "diag": np.max(rel**2),
             "spherical": np.mean(rel**2)}[covariance_type]
    distance = largest * float(np.sqrt(np.sum(rel**2)))
    limit = 1.0 / float(np.finfo(dtype).tiny)
    # m * largest**2 * shape <= limit, in logarithms so that nothing overflows
    if np.log(m) + 2.0 * np.log(largest) + np.log(shape) <= np.log(limit):
        return
    reach = float(np.sqrt(limit / (m * shape / np.sum(rel**2))))
    with np.errstate(over="ignore"):  # a square beyond the range: no precision helps
        beta_max = limit / (np.float64(largest) ** 2 * shape)
    lower = (f"lower mean_precision_prior below {beta_max:.3g}" if beta_max > 0
             else "lower mean_precision_prior")
    scale = "scale the data and mean_prior down alike"
    if dtype == np.float32:
        scale = f"fit the data as float64 (X.astype(np.float64)), or {scale}"
    raise ValueError(
        f"mean_prior is {distance:.3g} from the data's mean, too far for this fit "
        f"({np.dtype(dtype).name}, mean_precision_prior={beta0:.3g}): the M-step adds up to "
        "mean_precision_prior * |mean_prior - component mean|^2 to the covariances, and "
        f"beyond {reach:.3g} for these data the covariances leave "
        f"{np.dtype(dtype).name}'s range. Move mean_prior towards the data (within "
        f"{reach:.3g} of their mean), {lower}, or {scale}."
    )


# The pull of mean_prior on a covariance, against the largest eigenvalue of the rest of
# its scale matrix, beyond which a covariance that is not positive definite is laid to
# the pull's rounding: float64 keeps ~16 digits, and a rest whose eigenvalues span
# more than 1e10 is itself about to fail.
_PULL_DOMINATES = 1e6


def _pull_error(rest, pull, diff, beta0):
    """A ValueError naming ``mean_prior`` when its pull swamps a covariance, else None.

    ``rest`` (K, D, D): the scale matrices without the pull (the prior plus the
    components' scatter); ``pull`` (K, D): ``sqrt(s_k) (x_k - m0)``, whose outer
    products the M-step adds; ``diff`` (K, D): ``x_k - m0``. Called when the
    M-step's covariances are not positive definite: a positive semidefinite
    term cannot cost a positive definite ``rest`` that in exact arithmetic, and
    when it is ``_PULL_DOMINATES`` times the rest its rounding has.
    """
    # the largest eigenvalue in magnitude: a rest computed from a previous pass's
    # swamped covariances is itself not positive definite
    spread = np.array([np.max(np.abs(np.linalg.eigvalsh(r))) for r in rest])
    weight = np.sum(pull**2, axis=1)  # |pull_k|^2, the pull term's one eigenvalue
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = weight / spread
    ratio = np.where(spread > 0, ratio, np.inf)
    k = int(np.argmax(np.where(np.isfinite(weight), ratio, -np.inf)))
    if not ratio[k] > _PULL_DOMINATES:
        return None
    distance = float(np.sqrt(np.sum(diff[k] ** 2)))
    return ValueError(
        "Fitting the mixture model failed because a component's covariance is not "
        f"positive definite: mean_prior is {distance:.3g} from the component's mean, and "
        "the M-step adds to its scale matrix the pull of mean_prior, weighted by "
        f"mean_precision_prior ({beta0:.3g}), of {weight[k]:.3g}: {ratio[k]:.3g} times the "
        "largest eigenvalue (in magnitude) of the rest of that matrix (the covariance prior "
        f"and the component's scatter, {spread[k]:.3g}), so that its rounding swamps the "
        "covariance's smallest eigenvalues. Move mean_prior towards the data, or lower "
        "mean_precision_prior."
    )


@fill_doc
class BayesianGaussianMixture(_GaussianComponents):
    """Variational Bayesian Gaussian mixture, fitted with fused Numba kernels.

    A drop-in replacement for :class:`sklearn.mixture.BayesianGaussianMixture`:
    the same priors, parameters, attributes and methods, plus ``sample_weight``,
    float32 data and every data source of :class:`~fastem.GaussianMixture`
    (memory maps, :class:`~fastem.Chunks`, Dask arrays). Give ``n_components``
    an upper bound on the number of components: the Dirichlet prior on the
    weights switches the components the data do not need off (their
    ``weights_`` fall towards 0), and the *effective number of components*,
    those with a weight above a small threshold, answers "how many?".

    The updates are variational Bayes for a Gaussian mixture with a
    Gaussian-Wishart prior on each component (Bishop 2006, *Pattern Recognition
    and Machine Learning*, sec. 10.2; Attias 2000) and a Dirichlet
    distribution or a truncated stick-breaking Dirichlet process (Blei and
    Jordan 2006) on the weights; see :mod:`fastem.families.bayesian`.

    Parameters
    ----------
    n_components : int, default=1
        Upper bound on the number of components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
    {tol}
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of the weighted
        covariances before the Wishart update, as in scikit-learn. The fit
        warns (:class:`~fastem.RegularizationWarning`) where it is at least a
        quarter of a feature's variance, or of a component's posterior
        variance in a feature without it (which holds the prior: a component
        on one value of a binary column keeps the prior's variance there).
    max_iter : int, default=1000
        Passes over the data per initialization.
    n_init : int, default=1
        Number of initializations; the one with the largest lower bound is kept.
        A start whose partition or EM run fails (a component without
        spread) is passed over when ``n_init > 1``; the fit raises the first
        failure only when every start fails.
    init_params : {'hierarchical', 'k-means++', 'kmeans', 'random', 'random_from_data'}, default='hierarchical'
        The starting partition, as for :class:`~fastem.GaussianMixture` but
        without the k-means++ candidates of its first start; the start is the
        variational M-step from its responsibilities, with the component
        masses scaled to the data's total weight.
    weight_concentration_prior_type : {'dirichlet_process', 'dirichlet_distribution'}, default='dirichlet_process'
        'dirichlet_process': the stick-breaking prior, which orders the
        components and switches the later ones off; 'dirichlet_distribution':
        a finite symmetric Dirichlet prior.
    weight_concentration_prior : float > 0, default=None
        Concentration of the Dirichlet prior (``gamma_0``, or ``alpha_0``);
        smaller values favour fewer components. None: ``1 / n_components``.
    mean_precision_prior : float > 0, default=None
        ``beta_0``: how strongly the means are drawn towards ``mean_prior``.
        None: 1.
    mean_prior : array-like of shape (n_features,), default=None
        ``m_0``. None: the (weighted) mean of the data.
    degrees_of_freedom_prior : float > n_features - 1, default=None
        ``nu_0`` of the Wishart prior. None: ``n_features``.
    covariance_prior : float or array-like, default=None
        ``W_0^{-1}``, the prior on the covariances: shape (n_features,
        n_features) for 'full' and 'tied', (n_features,) for 'diag', a float
        for 'spherical' (or, as scikit-learn takes it, an array of one
        element). None: the (weighted) covariance of the data
        (``np.cov``, its diagonal, or the diagonal's mean), with its
        eigenvalues raised to at least ``reg_covar``: scikit-learn's default,
        but positive definite when features are repeated or constant.
        This float, ``weight_concentration_prior``, ``mean_precision_prior``
        and ``degrees_of_freedom_prior`` may also be 0-d arrays, such as the
        fitted priors (``covariance_prior_``, ...) of another model.
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
        Start the next ``fit`` from the current posteriors (the priors are
        recomputed from the new data, as scikit-learn does).
    verbose : int, default=0
    verbose_interval : int, default=10
    callback : callable, default=None
        ``callback(model, n_iter, lower_bound)`` after each iteration;
        returning True stops the fit early.
    {accelerate}

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Expected mixing weights under the variational posterior.
    weight_concentration_ : ndarray
        Parameters of the weights' posterior: shape (2, n_components) for the
        Dirichlet process (the Beta parameters of each stick, the pair that
        scikit-learn stores as a tuple), (n_components,) for the Dirichlet
        distribution.
    mean_precision_ : ndarray of shape (n_components,)
        ``beta_k``.
    means_ : ndarray of shape (n_components, n_features)
        ``m_k``, the posterior means of the component means.
    degrees_of_freedom_ : ndarray of shape (n_components,), or 0-d for 'tied'
        ``nu_k``.
    covariances_ : ndarray
        ``W_k^{-1} / nu_k``, shaped as for :class:`~fastem.GaussianMixture`.
    precisions_ : ndarray
        ``nu_k W_k``, the expected precisions.
    precisions_cholesky_ : ndarray
        Upper-triangular ``U`` with ``U @ U.T == precisions_`` (full, tied).
    weight_concentration_prior_, mean_precision_prior_, degrees_of_freedom_prior_ : 0-d ndarray
        The priors used by the fit (defaults resolved).
    mean_prior_ : ndarray of shape (n_features,)
    covariance_prior_ : ndarray
        Shape (n_features, n_features), (n_features,) or 0-d by covariance type.
    lower_bound_ : float
        scikit-learn's evidence lower bound of the best initialization
        (``_compute_lower_bound``, without constant terms) per unit of sample
        weight: scikit-learn's ``lower_bound_`` divided by the number of
        samples, in the unit of ``tol``.
    lower_bounds_ : list of float
        The lower bound per unit of sample weight at each accepted pass of
        the EM run that gave the parameters: non-decreasing, but for the
        falls that ``reg_covar`` in the M-step allows (see
        ``_m_step_allowance``) and rounding. After a kept
        move (see ``_escape_local_optimum``), the run from it, whose passes
        ``n_iter_`` counts with the others.
    converged_ : bool
    n_iter_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of str, shape (n_features_in_,)

    Raises
    ------
    ValueError
        From ``fit``, before any pass of EM, for priors the M-step cannot
        compute with: a ``mean_prior`` so far from the data's mean, for its
        ``mean_precision_prior``, that the covariances would leave the
        data's dtype's range (every covariance type); the message gives the
        distance that works. From the M-step, when a 'full' or 'tied'
        covariance is not positive definite because the pull of a far
        ``mean_prior`` swamps its smallest eigenvalues in rounding; the
        message names mean_prior, its distance and the fix. In float32,
        also a prior beyond float32's range, one that rounds to 0, or a
        ``covariance_prior`` matrix with a
        variance below float32's smallest normal number.

    Notes
    -----
    ``predict``, ``predict_proba``, ``score_samples`` and ``score`` use the
    variational log-responsibilities, as scikit-learn's class does. There is no
    ``bic``, ``aic`` or ``partial_fit``: the lower bound, not a likelihood, is
    what this model maximises.
    """

    _parameter_names = (
        "weights_",
        "weight_concentration_",
        "mean_precision_",
        "means_",
        "degrees_of_freedom_",
        "covariances_",
        "precisions_cholesky_",
        "precisions_",
        "weight_concentration_prior_",
        "mean_precision_prior_",
        "mean_prior_",
        "degrees_of_freedom_prior_",
        "covariance_prior_",
    )
    _warns_empty_components = False
    _objective = "evidence lower bound (ELBO)"
    _scored = "score (the variational log-probability per sample, not the ELBO)"
    _off_weight = 0.01  # the default threshold of effective_n_components

    def __init__(
        self,
        n_components=1,
        *,
        covariance_type="full",
        tol=1e-8,
        reg_covar=1e-6,
        max_iter=1000,
        n_init=1,
        init_params="hierarchical",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        callback=None,
        accelerate=True,
    ):
        super().__init__(
            n_components=n_components,
            tol=tol,
            max_iter=max_iter,
            n_init=n_init,
            init_params=init_params,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
            verbose_interval=verbose_interval,
            callback=callback,
            accelerate=accelerate,
        )
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior

    def to_sklearn(self):
        """An equivalent fitted :class:`sklearn.mixture.BayesianGaussianMixture` (float64).

        Its predictions are this model's. ``weight_concentration_`` becomes
        scikit-learn's pair of arrays for the Dirichlet process, and the 0-d
        priors Python floats. ``lower_bound_`` and ``lower_bounds_`` stay per
        unit of sample weight (scikit-learn's own fits report the sum over
        the samples). ``init_params='hierarchical'``, which scikit-learn does
        not have, becomes its default 'kmeans'; it and ``accelerate`` go with the
        estimator as ``_fastem_hyper_parameters``, which :meth:`from_sklearn`
        gives back. The ``reg_covar`` that the
        parameters embody, where ``set_params`` changed it since the fit, goes
        with the estimator as ``_fastem_fitted_settings``, which
        :meth:`from_sklearn` reads back while the estimator holds the same
        ``precisions_cholesky_``, and so are a float32 model's parameters, which
        it gives back bitwise as a float32 model.

        {to_sklearn_raises}
        """
        from ..io import bayesian_to_sklearn

        return bayesian_to_sklearn(self)

    @classmethod
    def from_sklearn(cls, estimator):
        """A BayesianGaussianMixture with the posterior and priors of a fitted scikit-learn one.

        scikit-learn's ``lower_bound_`` (a sum over the samples) is copied as it is.
        The parameters embody the estimator's ``reg_covar``, or the one that
        :meth:`to_sklearn` recorded with them (``_fastem_fitted_settings``).

        Raises
        ------
        TypeError
            If ``estimator`` is not a fitted scikit-learn BayesianGaussianMixture.
        ValueError
            If it is not fitted, or its parameters are ones that ``save`` would
            refuse in a fastem model (see :meth:`to_sklearn`).
        """
        from ..io import bayesian_from_sklearn

        return bayesian_from_sklearn(cls, estimator)

    # The model maximises a lower bound, not a likelihood: the base class's
    # information criteria and online EM have no meaning here. A property that
    # raises AttributeError hides the inherited method (hasattr is False), and
    # __getattr__, which Python then calls, says why.
    _NO_LIKELIHOOD = ("bic", "aic", "partial_fit")
    bic = aic = partial_fit = property(_hidden)

    @classmethod
    def _parameter_advice(cls, name):
        if name == "missing":
            return (
                ": BayesianGaussianMixture does not support missing values (NaN). Fit "
                "GaussianMixture(missing='em'), which fits them by EM over the observed "
                "entries (select_n_components(X, missing='em') chooses its number of "
                "components), or remove or impute them first (GaussianMixture(missing='em')"
                ".fit(X).impute(X) fills them in)."
            )
        if name in ("step_exponent", "step_offset"):
            return (
                f": {name} sets the steps of partial_fit (online EM), which "
                "BayesianGaussianMixture does not have; leave it out, or use GaussianMixture "
                "for online EM."
            )
        return super()._parameter_advice(name)

    def _no_attribute_message(self, name):
        if name in self._NO_LIKELIHOOD:
            return (
                f"BayesianGaussianMixture has no {name}: it maximises a variational lower "
                "bound, not the likelihood. Use GaussianMixture (with select_n_components) "
                "for information criteria and online EM."
            )
        return super()._no_attribute_message(name)

    def effective_n_components(self, threshold=_off_weight):
        """The number of components with an expected weight above ``threshold``.

        The Dirichlet prior leaves the components that the data do not need
        with the prior's mass only (about ``1 / n_samples`` of the weight):
        those above the threshold are the ones the data support. Compare
        with :func:`fastem.select_n_components`, which fits every K and
        scores each by BIC.

        Parameters
        ----------
        threshold : float in [0, 1), default=0.01

        Returns
        -------
        int

        Raises
        ------
        NotFittedError
            If the model is not fitted.
        ValueError
            For a ``threshold`` outside [0, 1), or parameters that the
            predictions would refuse (a ``weights_`` assigned that disagrees
            with ``weight_concentration_``, from which the predictions weigh
            the components).
        """
        self._check_is_fitted()
        self._check_fitted_parameters(self.n_features_in_)
        check_scalar(threshold, "threshold", numbers.Real, min_val=0.0, max_val=1.0)
        if threshold == 1.0:
            raise ValueError("threshold must be below 1, got 1.0: no weight exceeds it.")
        return int(np.count_nonzero(np.asarray(self.weights_) > threshold))

    # -- hyper-parameters -------------------------------------------------

    def _check_parameters(self):
        super()._check_parameters()
        check_choice(
            self.weight_concentration_prior_type, "weight_concentration_prior_type", _PRIOR_TYPES
        )
        for name in _SCALAR_PRIORS:
            self._scalar_prior(name)
        if self.covariance_type == "spherical":
            self._scalar_prior("covariance_prior")

    def _scalar_prior(self, name):
        """The hyper-parameter ``name``, a positive number, as a Python float; None if unset.

        A 0-d array (a fitted ``*_prior_`` passed back) counts as the number it
        holds, and so, for the 'spherical' ``covariance_prior``, which
        scikit-learn takes as an array-like, does an array or list of one element.
        """
        value = getattr(self, name)
        if value is None:
            return None
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]
        elif name == "covariance_prior" and isinstance(value, (list, tuple, np.ndarray)):
            try:
                shape = np.shape(value)
            except ValueError:  # a ragged list: not numbers, as check_scalar says
                shape = ()
            if shape and np.prod(shape) != 1:
                raise ValueError(
                    f"covariance_prior must be a number for covariance_type='spherical' (one "
                    f"variance shared by the features), got an array of shape {shape}. "
                    "Pass a float, e.g. the mean of the data's variances."
                )
            if shape:
                value = np.asarray(value).reshape(())[()]
        return check_scalar(value, name, numbers.Real, min_val=0.0, include_min=False)

    def _check_family_init(self, n_features):
        """Check the priors that depend on the number of features."""
        if self.mean_prior is not None:
            m = as_float_array(self.mean_prior, "mean_prior")
            if m.shape != (n_features,):
                raise ValueError(
                    f"mean_prior must have shape (n_features,) = ({n_features},), got {m.shape}."
                )
            if not np.isfinite(m).all():
                raise ValueError(non_finite_entries(
                    m, "mean_prior", "Give a finite value for every feature, or leave "
                    "mean_prior None for the data's mean."))
        dof = self._scalar_prior("degrees_of_freedom_prior")
        if dof is not None and not dof > n_features - 1:
            raise ValueError(
                f"degrees_of_freedom_prior must be greater than n_features - 1 = "
                f"{n_features - 1} for a proper Wishart prior, got {dof!r}. Leave it None "
                f"for n_features, or pass a larger value."
            )
        if self.covariance_prior is None or self.covariance_type == "spherical":
            return
        c = as_float_array(self.covariance_prior, "covariance_prior")
        shape = (n_features,) if self.covariance_type == "diag" else (n_features, n_features)
        if c.shape != shape:
            raise ValueError(
                f"covariance_prior must have shape {shape} for covariance_type="
                f"{self.covariance_type!r}, got {c.shape}."
            )
        if not np.isfinite(c).all():
            raise ValueError(non_finite_entries(
                c, "covariance_prior", "Give finite values, or leave covariance_prior None "
                "for the data's covariance."))
        if self.covariance_type == "diag":
            if not (c > 0).all():
                raise ValueError(
                    f"covariance_prior must be positive for covariance_type='diag', got "
                    f"minimum {c.min():.3g}."
                )
        else:
            _check_spd(c, "covariance_prior")

    def _family_structure(self):
        return {
            "covariance_type": self.covariance_type,
            "weight_concentration_prior_type": self.weight_concentration_prior_type,
        }

    def _family_structure_of_parameters(self):
        """The covariance type of the Gaussian parameters; the process's concentrations
        are a pair per component, (2, n_components), the distribution's one."""
        process = np.ndim(self.weight_concentration_) == 2
        return {
            **super()._family_structure_of_parameters(),
            "weight_concentration_prior_type": (
                "dirichlet_process" if process else "dirichlet_distribution"),
        }

    @property
    def _process(self):
        return self.weight_concentration_prior_type == "dirichlet_process"

    def _derived_from_assigned(self, values, state):
        """``precisions_`` (and ``covariances_``) from ``precisions_cholesky_``, as for
        :class:`GaussianMixture`, and ``weights_`` from an assigned
        ``weight_concentration_``: the posterior's expected weights, as scikit-learn's
        estimator reports them while its predictions read the concentrations alone. In
        the concentrations' dtype. Concentrations of a shape that the prior type does not
        take, or not all positive and finite, derive no weights (the parameters' check
        names them)."""
        derived = super()._derived_from_assigned(values, state)
        concentration = values.get("weight_concentration_")
        if ("weights_" in values or not isinstance(concentration, np.ndarray)
                or concentration.dtype not in (np.float32, np.float64)):
            return derived
        shape_taken = (concentration.ndim == 2 and concentration.shape[0] == 2 if self._process
                       else concentration.ndim == 1)
        exact = concentration.astype(np.float64)
        if not shape_taken or not exact.size or not (np.isfinite(exact) & (exact > 0)).all():
            return derived
        with np.errstate(all="ignore"):
            weights = self._expected_weights(exact)
        if np.isfinite(weights).all():
            derived["weights_"] = weights.astype(concentration.dtype)
        return derived

    # -- priors and initialisation ---------------------------------------

    def _fit_priors(self, source):
        """The priors of this fit: the given ones, the others from the data (two passes over it)."""
        n_features, dtype = source.n_features, source.dtype
        K = self._n_components
        defaults = {
            "weight_concentration_prior": 1.0 / K,
            "mean_precision_prior": 1.0,
            "degrees_of_freedom_prior": n_features,
        }
        priors = {}
        for name, default in defaults.items():
            value = self._scalar_prior(name)
            priors[name + "_"] = default if value is None else value
        n, mean, covariance = _data_mean_and_covariance(
            source, full=self.covariance_type in ("full", "tied")
        )
        if self.covariance_prior is None and not n > 1:
            raise ValueError(
                f"The default covariance_prior is the covariance of the data, which needs "
                f"a total sample weight above 1, got {n:g} (n_samples={source.n_positive} "
                "of positive weight). Pass covariance_prior, or more data."
            )
        if self.mean_prior is None:
            priors["mean_prior_"] = mean
        else:
            priors["mean_prior_"] = self.mean_prior
        # The default prior is the data's covariance with its eigenvalues at least
        # reg_covar, as every covariance of the model has them: a repeated or constant
        # feature makes the data's covariance singular, the Wishart prior improper, and
        # the precisions of components without data of order 1 / eps, whose rounding
        # made the bound cycle and the moves run to max_iter. Other data keep their
        # covariance as it is (scikit-learn's, up to the rounding of its sums).
        if self.covariance_prior is not None and self.covariance_type in ("full", "tied"):
            # symmetric within _check_spd's tolerance: the posterior covariances are
            # computed from it, and must be symmetric to rounding
            priors["covariance_prior_"] = symmetric_part(self.covariance_prior)
        elif self.covariance_type == "spherical" and self.covariance_prior is not None:
            priors["covariance_prior_"] = self._scalar_prior("covariance_prior")
        elif self.covariance_prior is not None:
            priors["covariance_prior_"] = self.covariance_prior
        elif self.covariance_type == "diag":
            priors["covariance_prior_"] = np.maximum(covariance, float(self.reg_covar))
        elif self.covariance_type == "spherical":
            priors["covariance_prior_"] = max(covariance.mean(), float(self.reg_covar))
        else:
            priors["covariance_prior_"] = _eigenvalues_at_least(covariance, float(self.reg_covar))
        if dtype == np.float32:
            priors = _priors_for_float32(priors, n_features)
        _check_priors_reach_empty_components(priors, dtype, K, n_features)
        _check_prior_pull(priors, n, mean, self.covariance_type, dtype, K)
        priors = {name: np.asarray(value, dtype=dtype) for name, value in priors.items()}
        # Not a parameter: the starting partition's masses, taken on a subsample,
        # are scaled to the data's total weight.
        priors["_total_weight"] = n
        return priors

    def _init_family_from_user(self):
        """No initial parameters are given to a variational mixture; the priors are its input."""

    def _reg_covar_share(self):
        """``N_k / nu_k``: each posterior covariance is ``(W_0^{-1} + N_k S_k + ...) / nu_k``
        with ``reg_covar`` in ``S_k`` (Bishop 2006, eq. 10.62, normalised by ``nu_k``)."""
        nu = np.broadcast_to(np.asarray(self.degrees_of_freedom_, dtype=np.float64), (self._n_components,))
        nu0 = float(self.degrees_of_freedom_prior_)
        return np.maximum(nu - nu0, 0.0) / nu

    def _unregularized_variances(self, within, reg):
        """The posterior covariances' diagonals without ``reg_covar``'s share: the prior
        ``W_0^{-1} / nu_k`` is part of them, so a component on one repeated value (a binary
        or integer-coded feature: mtcars' vs, cyl) keeps the prior's variance there, which
        ``reg_covar`` does not swamp."""
        cov = np.asarray(self.covariances_, dtype=np.float64)
        diagonal = feature_variances(cov, self.covariance_type, within.shape)
        share = self._reg_covar_share()
        if self.covariance_type == "tied":
            share = np.full_like(share, share.min())
        return np.maximum(diagonal - share[:, None] * reg, 0.0)

    def _params_from_moments(self, nk, means, covariances):
        """The variational M-step from the starting partition's moments (scikit-learn's ``_initialize``)."""
        nk = nk * (self._total_weight / nk.sum())
        self._variational_m_step(nk, means, self._regularized_covariances(nk, covariances))

    # -- moves out of local optima -------------------------------------------

    # Merges tried per round: the closest pairs of active components.
    _MERGE_TRIALS = 3
    # The mass, as a share of the total, that a merge leaves the emptied component.
    _EMPTIED = 1e-10

    def _moves(self, worker, result):
        """Reorder and merge moves from a converged run (see :meth:`BaseMixture._escape_local_optimum`).

        Variational EM for a mixture with more components than the data need
        stops in local optima that coordinate ascent cannot leave:

        - under the stick-breaking prior the components are not exchangeable,
          and the bound is higher with the larger ones first (Kurihara,
          Welling and Teh 2007, sec. 4, sort the components by size). EM
          keeps the order of its start;
        - a cluster split between two components stays split when one
          component, with the other switched off, would score higher (the
          merge moves of Hughes and Sudderth 2013, *Memoized online
          variational inference for Dirichlet process mixture models*).

        A move rewrites the weighted moments of the run's last pass (the
        statistics add up: a merged component has the pair's summed mass and
        pooled moments, the other a negligible mass) and takes the
        variational M-step from them. A move whose M-step or EM run meets an
        ill-defined covariance is not kept.
        Proposals: the components by decreasing mass
        (Dirichlet process only), then merges of the ``_MERGE_TRIALS`` pairs
        of active components (mass above ``_off_weight`` of the total) with
        the smallest Bhattacharyya distance.
        """
        for moments in self._moved_moments(worker, result.stats):
            yield lambda trial, moments=moments: trial._variational_m_step(*moments)

    def _moved_moments(self, worker, stats):
        """Candidate weighted moments ``(nk, means, covariances)``, float64, in the order tried."""
        nk, means, covariances = worker._weighted_moments(stats)
        if self._process:
            order = np.argsort(-nk, kind="stable")
            if np.any(nk[order] != nk):
                tied = self.covariance_type == "tied"
                yield nk[order], means[order], covariances if tied else covariances[order]
        active = np.flatnonzero(nk > self._off_weight * nk.sum())
        distances = {pair: self._bhattacharyya(means, covariances, *pair)
                     for pair in itertools.combinations(active, 2)}
        pairs = sorted((pair for pair in distances if np.isfinite(distances[pair])),
                       key=distances.get)
        for a, b in pairs[: self._MERGE_TRIALS]:
            yield self._merged(nk, means, covariances, a, b)

    def _bhattacharyya(self, means, covariances, a, b):
        """The Bhattacharyya distance between components a and b as Gaussians (Fukunaga 1990, eq. 3.152).

        inf where a covariance is singular (``reg_covar=0``): no merge is proposed for the pair.
        """
        n_features = means.shape[1]
        cov = np.asarray(covariances, dtype=np.float64)
        d = means[a] - means[b]
        if self.covariance_type in ("diag", "spherical"):
            # diagonal matrices: their determinants are products, no (D, D) matrix is formed
            var_a, var_b = (np.broadcast_to(cov[c], (n_features,)) for c in (a, b))
            pooled = 0.5 * (var_a + var_b)
            if not (np.all(var_a > 0) and np.all(var_b > 0)):
                return np.inf
            log_det, log_det_a, log_det_b = (np.log(v).sum() for v in (pooled, var_a, var_b))
            mahalanobis = d @ (d / pooled)
        else:
            cov_a, cov_b = (cov, cov) if self.covariance_type == "tied" else (cov[a], cov[b])
            pooled = 0.5 * (cov_a + cov_b)
            signs, log_dets = np.linalg.slogdet(np.stack([pooled, cov_a, cov_b]))
            if not np.all(signs > 0):
                return np.inf
            log_det, log_det_a, log_det_b = log_dets
            mahalanobis = d @ np.linalg.solve(pooled, d)
        return 0.125 * mahalanobis + 0.5 * (log_det - 0.5 * (log_det_a + log_det_b))

    def _merged(self, nk, means, covariances, a, b):
        """The moments with component b merged into a: summed mass, pooled mean and covariance.

        Covariances keep ``reg_covar`` (it pools to itself); 'tied' adds the
        pair's between-component scatter to the shared covariance. b keeps
        its moments with the mass ``_EMPTIED`` times the total (as EM leaves
        a component it switches off): with none, its covariance would be the
        prior's alone, singular for data with a constant column.
        """
        nk, means, covariances = nk.copy(), means.copy(), np.array(covariances, dtype=np.float64)
        n = nk[a] + nk[b]
        d = means[a] - means[b]
        between = nk[a] * nk[b] / n
        if self.covariance_type == "tied":
            covariances += between * np.outer(d, d) / nk.sum()
        else:
            spread = {"full": np.outer, "diag": np.multiply,
                      "spherical": lambda d, e: np.mean(d * e)}[self.covariance_type](d, d)
            covariances[a] = (nk[a] * covariances[a] + nk[b] * covariances[b] + between * spread) / n
        means[a] = (nk[a] * means[a] + nk[b] * means[b]) / n
        nk[a], nk[b] = n, self._EMPTIED * nk.sum()
        return nk, means, covariances

    # -- the M-step -------------------------------------------------------

    def _m_step_family(self, stats):
        self._variational_m_step(*self._weighted_moments(stats))

    def _variational_m_step(self, nk, xk, sk):
        """Posterior parameters from masses ``nk``, means ``xk`` and covariances ``sk`` (float64).

        Bishop (2006) eqs. 10.58 and 10.60-10.63 (with ``nu_k = nu_0 + N_k``),
        the stick-breaking update of Blei and Jordan (2006), and
        scikit-learn's normalisation of ``W_k^{-1}`` by ``nu_k``; 'tied'
        shares one Wishart posterior with the average mass ``sum N_k / K``.
        """
        K = self._n_components
        alpha0 = float(self.weight_concentration_prior_)
        if self._process:
            remaining = np.hstack((np.cumsum(nk[::-1])[-2::-1], 0.0))
            concentration = np.stack([1.0 + nk, alpha0 + remaining])
        else:
            concentration = alpha0 + nk
        beta0 = float(self.mean_precision_prior_)
        m0 = np.asarray(self.mean_prior_, dtype=np.float64)
        nu0 = float(self.degrees_of_freedom_prior_)
        prior = np.asarray(self.covariance_prior_, dtype=np.float64)
        beta = beta0 + nk
        diff = xk - m0
        # Bishop's (beta0 m0 + N_k x_k) / beta_k with the weights divided first: beta0 * m0
        # overflowed for a large precision and mean (1e300 and 1e10), and m0 + N_k / beta_k
        # (x_k - m0) loses x_k to cancellation when m0 is far
        means = (beta0 / beta)[:, None] * m0 + (nk / beta)[:, None] * xk
        # sqrt(shrink) * diff, squared: shrink * diff**2 without the square of a
        # far mean_prior overflowing first (_check_prior_pull bounds the product)
        pull = np.sqrt(nk * beta0 / beta)[:, None] * diff
        if self.covariance_type == "full":
            nu = nu0 + nk
            rest = prior + nk[:, None, None] * sk
            cov = rest + np.einsum("ki,kj->kij", pull, pull)
            cov /= nu[:, None, None]
        elif self.covariance_type == "tied":
            nu = np.asarray(nu0 + nk.sum() / K)
            rest = prior + sk * nk.sum() / K
            cov = rest + pull.T @ pull / K
            cov /= nu
        elif self.covariance_type == "diag":
            nu = nu0 + nk
            cov = (prior + nk[:, None] * sk + pull**2) / nu[:, None]
        else:
            nu = nu0 + nk
            cov = (prior + nk * sk + np.mean(pull**2, axis=1)) / nu
        dtype = self._dtype
        counts = (np.asarray(concentration), beta, np.asarray(nu))
        if max(float(np.max(c)) for c in counts) > float(np.finfo(dtype).max):
            raise ValueError(
                f"The sample weights sum to {float(nk.sum()):.3g}, and the posterior counts "
                "(weight_concentration_, mean_precision_, degrees_of_freedom_), which grow "
                f"with the total weight, exceed {dtype.name}'s largest number "
                f"({np.finfo(dtype).max:.3g}). Scale the weights down (a Bayesian fit "
                "depends on their scale, through its priors), or fit the data as float64."
            )
        self._replace_parameters({
            "weights_": self._expected_weights(concentration).astype(dtype),
            "weight_concentration_": concentration.astype(dtype),
            "mean_precision_": beta.astype(dtype),
            "degrees_of_freedom_": nu.astype(dtype),
        })
        try:
            self._set_gaussian(means, cov)
        except ValueError as error:
            if str(error) != _ILL_DEFINED or self.covariance_type not in ("full", "tied"):
                raise
            if self.covariance_type == "full":
                named = _pull_error(rest, pull, diff, beta0)
            else:  # one scale matrix, with the components' pulls summed
                named = _pull_error(rest[None], np.sqrt(np.sum(pull**2, axis=0) / K)[None],
                                    diff[[int(np.argmax(np.sum(pull**2, axis=1)))]], beta0)
            if named is None:
                raise
            raise named from error
        _state.made_together(self)

    def _expected_weights(self, concentration):
        """``E[pi_k]`` under the weights' posterior, float64 (scikit-learn's ``weights_``)."""
        if self._process:
            a, b = concentration
            total = a + b
            weights = a / total * np.hstack((1.0, np.cumprod(b / total)[:-1]))
        else:
            weights = np.asarray(concentration, dtype=np.float64)
        return weights / weights.sum()

    # -- the variational E-step and the lower bound -------------------------

    def _expected_log_weights(self):
        """``E[log pi_k]``, float64 (Bishop eq. 10.66; Blei and Jordan 2006, eq. 20)."""
        from scipy.special import digamma

        concentration = np.asarray(self.weight_concentration_, dtype=np.float64)
        if self._process:
            a, b = concentration
            digamma_total = digamma(a + b)
            return digamma(a) - digamma_total + np.hstack(
                (0.0, np.cumsum(digamma(b) - digamma_total)[:-1])
            )
        return digamma(concentration) - digamma(concentration.sum())

    def _kernel_log_weights(self):
        """``log rho_nk`` less the Gaussian log-density with precision ``nu_k W_k``.

        ``E[log pi_k] + (E[log |Lambda_k|] - D log nu_k - D / beta_k) / 2``
        with ``E[log |Lambda_k|] = sum_i digamma((nu_k - i) / 2) + D log 2 + log |W_k|``
        (Bishop eqs. 10.64-10.66); ``log |W_k| - D log nu_k`` is the
        log-determinant of ``precisions_`` that the kernel's Gaussian
        normalisation already holds.

        Computed once per parameter state: the pass's kernel launch and its
        lower bound (:meth:`_expected_log_joint`) read the same vector.
        """
        return _state.current(self).derived(
            ("kernel_log_weights", self.weight_concentration_prior_type),
            self._variational_log_weights,
        )

    def _variational_log_weights(self):
        """The vector of :meth:`_kernel_log_weights`, computed (float64)."""
        from scipy.special import digamma

        n_features = self.means_.shape[1]
        nu = np.asarray(self.degrees_of_freedom_, dtype=np.float64)
        beta = np.asarray(self.mean_precision_, dtype=np.float64)
        log_lambda = n_features * _LOG_2 + digamma(
            0.5 * (nu[..., None] - np.arange(n_features))
        ).sum(axis=-1)
        return self._expected_log_weights() + 0.5 * (
            log_lambda - n_features / beta - n_features * np.log(nu)
        )

    def _expected_log_joint(self, stats):
        """``sum_nk r_nk log rho_nk`` of the statistics' E-step, under the model's parameters.

        The parameters must be those the statistics were taken at; the
        per-component terms are those the kernel used, in its dtype.
        """
        dtype = self._dtype
        constants = self._kernel_log_weights().astype(dtype).astype(np.float64)
        pc = np.asarray(self.precisions_cholesky_, dtype=np.float64)
        log_norm = self._log_norm(pc, self.means_.shape[1]).astype(dtype).astype(np.float64)
        sxx = stats.moments["sxx"]
        if self.covariance_type == "full":
            scatter = np.tril(sxx) + np.swapaxes(np.tril(sxx, -1), -1, -2)
            projected = np.einsum("kij,kjl->kil", scatter, pc)
            mahalanobis = np.einsum("kil,kil->k", pc, projected)
        elif self.covariance_type == "tied":
            shift = np.asarray(stats.reference["shift"], dtype=np.float64)
            scatter = self._tied_scatter(sxx, stats.moments["pairs"], shift)
            mahalanobis = np.sum(pc * (scatter @ pc))
        elif self.covariance_type == "diag":
            mahalanobis = np.sum(pc**2 * sxx, axis=1)
        else:
            mahalanobis = pc**2 * sxx.sum(axis=1)
        return float(stats.nk @ (constants + log_norm) - 0.5 * np.sum(mahalanobis))

    def _lower_bound(self, stats, before):
        """scikit-learn's evidence lower bound per unit of sample weight.

        ``-sum r log r`` of the E-step at ``before`` (see the module
        docstring), less the log-normalisers of the Wishart, Dirichlet (or
        Beta) and Gaussian posteriors at the current parameters, without the
        constant terms (Bishop eqs. 10.70-10.77 with the M-step's optimum
        substituted, as scikit-learn's ``_compute_lower_bound`` does).
        """
        from scipy.special import betaln, gammaln

        with _state.pinned(self, before):
            entropy = stats.log_likelihood - self._expected_log_joint(stats)
        n_features = self.means_.shape[1]
        nu = np.asarray(self.degrees_of_freedom_, dtype=np.float64)
        log_det = log_det_cholesky(
            self.precisions_cholesky_, self.covariance_type, n_features
        ) - 0.5 * n_features * np.log(nu)
        log_wishart = -(
            nu * log_det
            + nu * n_features * 0.5 * _LOG_2
            + gammaln(0.5 * (nu[..., None] - np.arange(n_features))).sum(axis=-1)
        )
        log_wishart = (
            self._n_components * float(log_wishart) if self.covariance_type == "tied"
            else float(np.sum(log_wishart))
        )
        concentration = np.asarray(self.weight_concentration_, dtype=np.float64)
        if self._process:
            log_norm_weight = -float(np.sum(betaln(concentration[0], concentration[1])))
        else:
            log_norm_weight = float(
                gammaln(concentration.sum()) - np.sum(gammaln(concentration))
            )
        beta = np.asarray(self.mean_precision_, dtype=np.float64)
        bound = (
            entropy - log_wishart - log_norm_weight - 0.5 * n_features * np.sum(np.log(beta))
        )
        return bound / stats.n_samples

    # -- parameters -----------------------------------------------------

    def _parameter_shapes(self, n_features):
        K = self._n_components
        shapes = super()._parameter_shapes(n_features)
        shapes.update({
            "weight_concentration_": (2, K) if self._process else (K,),
            "mean_precision_": (K,),
            "degrees_of_freedom_": () if self.covariance_type == "tied" else (K,),
            "weight_concentration_prior_": (),
            "mean_precision_prior_": (),
            "mean_prior_": (n_features,),
            "degrees_of_freedom_prior_": (),
            "covariance_prior_": {
                "full": (n_features, n_features),
                "tied": (n_features, n_features),
                "diag": (n_features,),
                "spherical": (),
            }[self.covariance_type],
        })
        return shapes

    def _check_parameter_values(self):
        super()._check_parameter_values()
        n_features = self.means_.shape[1]
        for name, floor in (
            ("weight_concentration_", 0.0),
            ("mean_precision_", 0.0),
            ("weight_concentration_prior_", 0.0),
            ("mean_precision_prior_", 0.0),
            ("degrees_of_freedom_", n_features - 1.0),
            ("degrees_of_freedom_prior_", n_features - 1.0),
        ):
            value = np.asarray(getattr(self, name))
            if not (value > floor).all():
                raise ValueError(
                    f"{name} must be greater than {floor:g}, got minimum "
                    f"{float(value.min()):.3g}. Refit the model, or assign the parameters "
                    "of a fitted one."
                )

    def _unconstrained_parameters(self, parameters):
        """Log-concentrations, log-``beta``, ``log(nu - D + 1)``, then the Gaussian coordinates."""
        n_features = np.shape(parameters["means_"])[1]
        own = [
            np.log(np.asarray(parameters["weight_concentration_"], dtype=np.float64)).ravel(),
            np.log(np.asarray(parameters["mean_precision_"], dtype=np.float64)).ravel(),
            np.log(
                np.asarray(parameters["degrees_of_freedom_"], dtype=np.float64) - (n_features - 1.0)
            ).ravel(),
        ]
        return np.concatenate(own + [super()._unconstrained_parameters(parameters)])

    def _set_unconstrained_parameters(self, theta):
        n_features = self.means_.shape[1]
        values = {}
        offset = 0
        for name in ("weight_concentration_", "mean_precision_", "degrees_of_freedom_"):
            shape = np.shape(getattr(self, name))
            size = int(np.prod(shape))
            values[name] = theta[offset : offset + size].reshape(shape)
            offset += size
        if not all(np.isfinite(v).all() for v in values.values()):
            raise ValueError("extrapolated posterior parameters are not finite")
        super()._set_unconstrained_parameters(theta[offset:])
        dtype = self._dtype
        concentration = np.exp(values["weight_concentration_"])
        self._replace_parameters({
            "weight_concentration_": concentration.astype(dtype),
            "mean_precision_": np.exp(values["mean_precision_"]).astype(dtype),
            "degrees_of_freedom_": (
                np.exp(values["degrees_of_freedom_"]) + (n_features - 1.0)).astype(dtype),
            "weights_": self._expected_weights(concentration).astype(dtype),
        })

    def _in_m_step_image(self, stats):
        """True: every pass's value is the lower bound at its own M-step's output.

        An accelerated point is never the point whose bound is judged: the
        pass at it returns the bound of its E-step's responsibilities with the
        posteriors of the M-step that follows (:meth:`_lower_bound`), and an
        accepted pass leaves the model at that M-step's output. So no
        accelerated point, in or out of the M-step's image, can show a bound
        that the updates could not reach.
        """
        return True

    def _m_step_allowance(self, previous, before, after):
        """``reg_covar / 2 * sum_k (N'_k / n - N_k / n) tr E[P_k]``, at least 0: the rise of the
        penalty over the E-step of the pass at ``before``.

        The variational M-step with ``reg_covar = c`` adds ``N_k c`` to the
        scale matrix of each Wishart posterior (scikit-learn's, Bishop eq.
        10.62 with ``S_k + c I``), and the bound (:meth:`_lower_bound`, Bishop
        eqs. 10.70-10.77 with that M-step's optimum substituted) leaves out the
        trace terms that ``c`` keeps from cancelling: it is the evidence lower
        bound less the penalty ``c/2 sum_k N_k tr E[P_k]`` (``E[P_k] = nu_k
        W_k``, ``precisions_``; ``N_k`` the responsibilities' sums). The
        M-step maximises exactly that, so it never lowers it. The E-step
        maximises the evidence lower bound alone: it raises that, and moves
        ``N_k`` to ``N'_k``, which can raise the penalty by ``c/2 sum_k (N'_k
        - N_k) tr E[P_k]`` at the precisions of ``before``. So the bound of
        the pass at ``before`` lies at most that far below the pass at
        ``previous``. With a feature repeated or constant, or a direction of
        rounded values, ``reg_covar`` is a component's whole variance along it,
        ``E[P_k]`` is of order ``1 / reg_covar`` there, and weight moving onto
        that component lowers the bound (correlated features stored in
        float32, whose difference takes three values: falls of 5.6e-4 per
        sample stopped a fit at pass 16 with LikelihoodDecreaseWarning, the
        change of the penalty over the M-step allowing 1.7e-4).

        ``N_k`` (of ``before``'s E-step in ``before``, of this one in
        ``after``) is ``beta_k - beta_0``, and also ``nu_k - nu_0`` (but for
        'tied', whose one Wishart has ``nu_0 + n``): it is taken from the
        smaller prior, since a large one swallows the counts in its rounding
        (a ``mean_precision_prior`` of 1e10 in float32 left them all 0, and
        the allowance 0 / 0). When both do, the allowance is 0.
        """
        if self.reg_covar == 0:
            return 0.0
        count_sources = [("mean_precision_", "mean_precision_prior_")]
        if self.covariance_type != "tied":
            count_sources.append(("degrees_of_freedom_", "degrees_of_freedom_prior_"))
        posterior, prior = min(count_sources, key=lambda names: float(after[names[1]]))
        shares = []
        for parameters in (before, after):
            counts = np.asarray(parameters[posterior], dtype=np.float64) - float(parameters[prior])
            total = counts.sum()
            if not total > 0:
                return 0.0
            shares.append(counts / total)
        rise = (shares[1] - shares[0]) @ self._precision_traces(before)
        return max(0.0, 0.5 * float(self.reg_covar) * float(rise))

