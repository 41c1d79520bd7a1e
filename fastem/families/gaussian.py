"""Gaussian mixtures with full, tied, diagonal or spherical covariances."""

import functools
import math
import numbers

import numpy as np

from .._collapse import MIN_VARIANCE_RATIO, gaussian_collapse_reasons, narrow_component_reasons
from .._threading import launch, read_only, read_only_fields, scipy_linalg
from .._validation import (
    LARGEST_MAGNITUDE_SCALING, as_float_array, check_choice, check_distinct_starts,
    check_in_dtype, check_range, check_scalar, check_weights_init, non_finite_entries)
from ..base import _EMPTY_SHARE, BaseMixture, fill_doc, impute_with
from ..exceptions import RegularizationWarning, warn_at_caller
from ..stats import SufficientStatistics
from ..kernels.gaussian import DiagParams, FullParams, TiedParams, work_rows
from ..kernels.gaussian_missing import (
    DiagMissingParams,
    FullMissingParams,
    PatternTable,
    TiedMissingParams,
    fold_pattern_weights,
    impute_rows,
    merge_patterns,
    missing_work_rows,
    pattern_sums,
    pattern_table,
    pattern_weight_entries,
    scan_patterns,
)
from ..kernels.linalg import (
    centring_terms,
    covariances_from_precision_cholesky,
    diagonal_moments,
    full_covariances,
    tied_scatter,
    precision_cholesky_upper,
)

__all__ = ["GaussianMixture"]

_COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
_KERNEL_PARAMS = {
    "full": FullParams,
    "tied": TiedParams,
    "diag": DiagParams,
    "spherical": DiagParams,
}
_MISSING_KERNEL_PARAMS = {
    FullParams: FullMissingParams,
    TiedParams: TiedMissingParams,
    DiagParams: DiagMissingParams,
}
_LOG_2PI = np.log(2 * np.pi)

# Relative error of the Mahalanobis terms above which float32 data are
# evaluated in float64 (see GaussianMixture._cancels_in_float32).
_CANCELLATION = 1e-4
_FLOAT32_EPS = float(np.finfo(np.float32).eps)

_ILL_DEFINED = (
    "Fitting the mixture model failed because some components have ill-defined "
    "empirical covariance (for instance caused by singleton or collapsed samples). "
    "Try to decrease the number of components, increase reg_covar, or scale the "
    "input data."
)


class _PassPatterns:
    """The patterns of missing entries of a source, for one pass at one set of parameters.

    ``keys`` (n_patterns,) int64, most frequent first, from
    :func:`~fastem.kernels.gaussian_missing.scan_patterns`. The pass's
    table of patterns is built from the parameters on the first chunk and
    reused by the others (one per dtype: float32 data may run in float64
    slices).
    """

    def __init__(self, keys):
        self.keys = keys
        self._tables = {}

    def table(self, model, dtype):
        """The :class:`~fastem.kernels.gaussian_missing.PatternTable` of the keys at ``model``'s precisions."""
        dtype = np.dtype(dtype)
        if dtype not in self._tables:
            n_features = model.means_.shape[1]
            pc = upper(np.asarray(model.precisions_cholesky_, dtype=np.float64))
            precisions = precisions_from_cholesky(pc, model.covariance_type)
            self._tables[dtype] = pattern_table(
                self.keys, n_features, precisions.reshape(-1, n_features, n_features),
                np.asarray(model.means_, dtype=np.float64), dtype,
            )
        return self._tables[dtype]


def _listed(items, limit=5):
    """Up to ``limit`` of ``items`` (strings) joined by commas, and how many more there are."""
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _covariance_shape(covariance_type, n_components, n_features):
    return {
        "full": (n_components, n_features, n_features),
        "tied": (n_features, n_features),
        "diag": (n_components, n_features),
        "spherical": (n_components,),
    }[covariance_type]


def covariance_type_of(means, precisions_cholesky, default):
    """The covariance type whose shapes fitted ``means`` and ``precisions_cholesky`` have.

    Square factors of as many components as features are 'tied' ones when
    upper-triangular and 'diag' ones (positive everywhere) otherwise; for one
    component of one feature the two are one model, and ``default`` is kept
    if it is either. Parameters of no covariance type's shapes give
    ``default``: the check of the parameters then names what is wrong.
    """
    if np.ndim(means) != 2:
        return default
    K, D = np.shape(means)
    shape = np.shape(precisions_cholesky)
    types = [t for t in _COVARIANCE_TYPES if _covariance_shape(t, K, D) == shape]
    if len(types) == 2:  # 'tied' and 'diag', K == D
        if D == 1 and default in types:
            return default
        return "diag" if np.tril(precisions_cholesky, -1).any() else "tied"
    return types[0] if types else default


def _upper_factors_of_inverses(matrices):
    """Upper-triangular U_k with U_k @ U_k.T == inv(matrices[k]), for covariances."""
    matrices = np.ascontiguousarray(matrices, dtype=np.float64)
    factors = np.empty(matrices.shape)  # the function writes every entry, the zeros too
    failed = precision_cholesky_upper(matrices, factors, np.empty(matrices.shape[1:]))
    if failed >= 0:
        raise ValueError(_ILL_DEFINED)
    return factors


def _upper_factor(matrix):
    """Upper-triangular U with U @ U.T == matrix, for a precision matrix."""
    linalg = scipy_linalg()  # on use: scipy.linalg takes half of fastem's import time
    flip = matrix[::-1, ::-1]
    return linalg.cholesky(flip, lower=True, check_finite=False)[::-1, ::-1].copy()


def _mapped(vectors, factors, each=False):
    """``v^T U_k`` of each row ``v`` of ``vectors`` (n, d) by each factor ``U_k`` of ``factors``
    (k, d, d), or each diagonal (k, d): shape (n, k, d); with ``each``, of row k by ``U_k``
    alone: (k, d)."""
    if factors.ndim == 2:
        return vectors * factors if each else vectors[:, None, :] * factors
    return np.einsum("kd,kde->ke" if each else "nd,kde->nke", vectors, factors)


def precisions_cholesky_from_covariances(covariances, covariance_type):
    """The upper Cholesky factors of the precisions, shaped as scikit-learn shapes them."""
    if covariance_type == "full":
        return _upper_factors_of_inverses(covariances)
    if covariance_type == "tied":
        return _upper_factors_of_inverses(covariances[None])[0]
    if np.any(covariances <= 0.0):
        raise ValueError(_ILL_DEFINED)
    return 1.0 / np.sqrt(covariances)


def _float64_arrays(*arrays):
    """``arrays`` as read-only C-contiguous float64 arrays, for the compiled M-step's
    functions to read: one compilation each (see :func:`fastem._threading.read_only`)."""
    return [read_only(np.ascontiguousarray(a, dtype=np.float64)) for a in arrays]


@functools.lru_cache(maxsize=64)
def _upper_triangle(n_features):
    """Indices of the upper triangle of an ``n_features`` square matrix, computed once per size.

    Returns ``(flat, on_diagonal, mask)``: the index of each upper entry
    (``np.triu_indices`` order) in the flattened matrix (``row * n_features +
    col``), the positions in that order of the entries on the diagonal, and
    the boolean (n_features, n_features) mask of the upper triangle.
    Read-only; every pass of a fit asks for them (integer indices into one
    axis: a pass's gathers and scatters of the factors' entries cost less
    than with a row and a column index, or a boolean mask, each).
    """
    rows, cols = np.triu_indices(n_features)
    mask = np.zeros((n_features, n_features), dtype=bool)
    mask[rows, cols] = True
    arrays = (rows * n_features + cols, np.flatnonzero(rows == cols), mask)
    for array in arrays:
        array.flags.writeable = False
    return arrays


def upper(matrices, diagonal=True):
    """``np.triu(matrices)`` (over the last two axes) with the cached mask: below the diagonal 0;
    without the ``diagonal``, ``np.triu(matrices, 1)``."""
    mask = _upper_triangle(matrices.shape[-1])[2]
    return np.where(mask, matrices, 0.0) if diagonal else np.where(mask.T, 0.0, matrices)


def lower(matrices, diagonal=True):
    """``np.tril(matrices)`` (over the last two axes) with the cached mask; without the
    ``diagonal``, ``np.tril(matrices, -1)``."""
    mask = _upper_triangle(matrices.shape[-1])[2]
    return np.where(mask.T, matrices, 0.0) if diagonal else np.where(mask, 0.0, matrices)


def log_det_cholesky(precisions_cholesky, covariance_type, n_features):
    """``log det U`` of upper precision factors (half the log-determinant of the precisions).

    Shape (n_components,), or a scalar for 'tied'; float64.
    """
    pc = np.asarray(precisions_cholesky, dtype=np.float64)
    if covariance_type == "full":
        return np.log(pc.diagonal(0, 1, 2)).sum(axis=1)
    if covariance_type == "tied":
        return np.log(np.diag(pc)).sum()
    if covariance_type == "diag":
        return np.log(pc).sum(axis=1)
    return n_features * np.log(pc)


def precisions_from_cholesky(precisions_cholesky, covariance_type):
    if covariance_type == "full":
        return np.einsum("kij,klj->kil", precisions_cholesky, precisions_cholesky)
    if covariance_type == "tied":
        return np.einsum("ij,lj->il", precisions_cholesky, precisions_cholesky)
    return precisions_cholesky**2


def covariances_from_cholesky(precisions_cholesky, covariance_type):
    """Covariances ``V^T V`` with ``V = U^{-1}``, from upper factors ``U`` (``U U^T = P``).

    Triangular solves in plain loops (per extrapolation step, where a
    multi-threaded BLAS call on a tiny matrix costs milliseconds on a busy
    machine), without forming and inverting the precisions: no
    ill-conditioning warning, and a singular factor gives non-finite values.
    """
    if covariance_type in ("diag", "spherical"):
        return 1.0 / precisions_cholesky**2
    factors = precisions_cholesky.reshape(-1, *precisions_cholesky.shape[-2:])
    covariances = np.empty(factors.shape)
    covariances_from_precision_cholesky(
        np.ascontiguousarray(factors, dtype=np.float64), covariances, np.empty(factors.shape[1:])
    )
    return covariances if covariance_type == "full" else covariances[0]


def _eigenvalues_and_rounding(matrix):
    """The eigenvalues of the symmetric ``matrix`` scaled to a unit diagonal
    (``M / sqrt(d d^T)``, ``d`` its diagonal; ``M`` itself where an entry of ``d`` is at
    most 0, and so ``M`` is not positive definite), in float64, ascending, and the
    rounding of the eigendecomposition: ``n eps`` times the largest in magnitude.

    The scaling is a congruence, which keeps the sign of every eigenvalue and so whether
    ``M`` is positive definite, and it takes the units of the features out: the
    precisions of features with spreads 1e-2 and 1e6 (eigenvalues 1e4 and 1e-12), which
    a fit computes and uses, have a smallest eigenvalue below the rounding of their own
    largest, while a singular matrix (``[[1, 3], [3, 9]]``, whose smallest computes as
    1.1e-16) scales to one that is singular within the rounding of entries of 1.
    """
    values = scaled_eigenvalues(matrix)
    return values, len(values) * np.finfo(np.float64).eps * np.abs(values).max()


def scaled_eigenvalues(matrices):
    """The eigenvalues of a symmetric (D, D) matrix, or of each of a (K, D, D) stack, scaled
    to a unit diagonal (``M / sqrt(d d^T)``, ``d`` its diagonal; ``M`` itself where an
    entry of ``d`` is at most 0), float64, ascending along the last axis: the shape of
    the matrix without the units of its features (see :func:`_eigenvalues_and_rounding`)."""
    matrices = np.asarray(matrices, dtype=np.float64)
    diagonal = np.diagonal(matrices, axis1=-2, axis2=-1)
    positive = (diagonal > 0).all(axis=-1, keepdims=True)
    scale = np.where(positive, 1.0 / np.sqrt(np.where(positive, diagonal, 1.0)), 1.0)
    return np.linalg.eigvalsh(matrices * (scale[..., :, None] * scale[..., None, :]))


def smallest_eigenvalue(matrix):
    """The smallest eigenvalue of the symmetric ``matrix``, in float64; 0 where the matrix
    is singular to float64's precision (its smallest eigenvalue scaled to a unit diagonal
    is within the rounding of that decomposition, see :func:`_eigenvalues_and_rounding`),
    where a singular matrix's computes as a rounding error of either sign (1.1e-16 for
    [[1, 3], [3, 9]]), which must not pass for positive definite. Positive exactly when
    the matrix is positive definite: where its own smallest eigenvalue is below the
    rounding of its largest (features in units far apart) and computes with the wrong
    sign, the bound that the scaled one gives (its product with the smallest entry of the
    diagonal), of the right sign."""
    scaled, rounding = _eigenvalues_and_rounding(matrix)
    if abs(scaled[0]) <= rounding:
        return 0.0
    matrix = np.asarray(matrix, dtype=np.float64)
    own = float(np.linalg.eigvalsh(matrix)[0])
    if (own > 0) == (scaled[0] > 0) and own != 0:
        return own
    return float(scaled[0] * np.diagonal(matrix).min())


def symmetric_part(matrices):
    """``(M + M.T) / 2`` of a (D, D) matrix or of each of a (K, D, D) stack, float64.

    A user's matrix that :func:`_check_spd` accepts is symmetric only within its
    tolerance; the fit uses its symmetric part, so that the matrices it computes
    from it are symmetric to rounding, as a model file must hold them.
    """
    matrices = np.asarray(matrices, dtype=np.float64)
    return (matrices + np.swapaxes(matrices, -1, -2)) / 2.0


def symmetric_within_rounding(matrix):
    """Whether the (D, D) ``matrix`` is symmetric but for rounding: an asymmetry within
    ``np.allclose``'s tolerance, 1e-5 of the entry plus 1e-8 of the largest entry.

    Products that cancel terms (a covariance of 1e-6 from second moments of about 1)
    are symmetric only to the rounding of those terms, which the matrix's own entries
    do not show."""
    scale = float(np.abs(matrix).max())
    return bool(np.allclose(matrix, matrix.T, rtol=1e-5, atol=1e-8 * scale))


def _check_spd(matrix, what):
    """Refuse a matrix that is not symmetric (beyond :func:`symmetric_within_rounding`)
    or not positive definite as float64 can tell."""
    scale = float(np.abs(matrix).max())
    if not symmetric_within_rounding(matrix):
        asymmetry = np.abs(matrix - matrix.T)
        worst = float(asymmetry.max())
        # np.allclose's tolerance, entry by entry: what the message states is what it applied
        allowed = 1e-8 * scale + 1e-5 * np.abs(matrix.T)
        i, j = np.unravel_index(np.argmax(asymmetry - allowed), asymmetry.shape)
        raise ValueError(
            f"{what} must be symmetric, but it differs from its transpose by up to "
            f"{worst:.3g} (its largest entry is {scale:.3g}); an asymmetry within 1e-5 of "
            f"the entry plus 1e-8 of the largest entry ({1e-8 * scale:.3g}) is rounding and "
            f"is symmetrised, and at [{i}, {j}] it is {float(asymmetry[i, j]):.3g}, beyond "
            f"the {float(allowed[i, j]):.3g} allowed there. Pass (P + P.T) / 2 if it is "
            "only roughly symmetric."
        )
    values, rounding = _eigenvalues_and_rounding(matrix)
    if values[0] > rounding:
        return
    if values[0] < -rounding or np.diagonal(matrix).min() <= 0:
        raise ValueError(
            f"{what} must be positive definite, but its smallest eigenvalue is "
            f"{smallest_eigenvalue(matrix):.3g}. Add a small multiple of the identity, or "
            "leave it to the fit."
        )
    raise ValueError(
        f"{what} must be positive definite as float64 can tell: scaled to a unit diagonal "
        f"(as a correlation matrix is), its smallest eigenvalue, {values[0]:.3g}, is within "
        f"the rounding of its largest, {values[-1]:.3g} ({rounding:.3g}), where a singular "
        "matrix's computes too: a row of it is a combination of the others to float64's "
        "precision. Add a small multiple of its diagonal, or leave it to the fit."
    )


def checked_precisions(precisions_cholesky, covariance_type, dtype):
    """``(precisions_cholesky, precisions)`` in ``dtype``, from upper precision factors.

    Raises ValueError when a precision is not finite, or does not fit in
    ``dtype`` (a variance too small for its arithmetic, e.g. ``reg_covar=0``
    on collapsed data).
    """
    dtype = np.dtype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        precisions = precisions_from_cholesky(precisions_cholesky, covariance_type)
    largest = float(np.abs(precisions).max())  # NaN or inf when an entry is
    if not math.isfinite(largest):
        raise ValueError(_ILL_DEFINED)
    if largest > float(np.finfo(dtype).max):  # a Python float against float32 casts to it
        raise ValueError(
            f"A component's precision reaches {largest:.3g}, beyond {dtype.name}'s largest "
            f"number ({np.finfo(dtype).max:.3g}): its variance in some direction is too "
            f"small for {dtype.name} arithmetic. Fit the data as float64 "
            f"(X.astype(np.float64)), scale it up (e.g. {LARGEST_MAGNITUDE_SCALING}), or "
            "raise reg_covar."
        )
    return np.asarray(precisions_cholesky, dtype=dtype), precisions.astype(dtype, copy=False)


def from_unconstrained(theta, covariance_type, means_shape, precisions_cholesky_shape):
    """``(means, precisions_cholesky)``, float64, from the family part of an unconstrained
    vector (see ``_unconstrained_parameters``); ValueError when it is not finite."""
    n_components, n_features = means_shape
    n_means = n_components * n_features
    means = theta[:n_means].reshape(n_components, n_features)
    chol = theta[n_means:]
    if not np.isfinite(theta).all():  # the means and the factors' entries: one test
        raise ValueError("extrapolated Gaussian parameters are not finite")
    if covariance_type in ("full", "tied"):
        flat, on_diagonal, _ = _upper_triangle(n_features)
        entries = chol.reshape(-1, len(flat)).copy()
        entries[:, on_diagonal] = np.exp(entries[:, on_diagonal])
        pc = np.zeros((len(entries), n_features * n_features))
        pc[:, flat] = entries
        pc = pc.reshape(-1, n_features, n_features)
        if covariance_type == "tied":
            pc = pc[0]
    else:
        pc = np.exp(chol).reshape(precisions_cholesky_shape)
    return means, pc


def extrapolated_covariances(precisions_cholesky, covariance_type, dtype):
    """The covariances of extrapolated precision factors, in ``dtype``; ValueError when
    they are not finite there (a float32 one beyond float32's range, too)."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        covariances = covariances_from_cholesky(precisions_cholesky, covariance_type).astype(dtype)
    if not np.isfinite(covariances).all():
        raise ValueError(f"extrapolated covariances are not finite in {np.dtype(dtype).name}")
    return covariances


def _without_cholesky(matrices):
    """(n,) bool: which of the (n, D, D) float64 ``matrices`` have no Cholesky factor.

    One LAPACK call for all of them; one per matrix only when some fails.
    """
    try:
        np.linalg.cholesky(matrices)
    except np.linalg.LinAlgError:
        bad = np.zeros(len(matrices), dtype=bool)
        for k, matrix in enumerate(matrices):
            try:
                np.linalg.cholesky(matrix)
            except np.linalg.LinAlgError:
                bad[k] = True
        return bad
    return np.zeros(len(matrices), dtype=bool)


def _rounded_up(value):
    """``value`` printed with two significant digits, rounded up: a bound stays a bound."""
    if not np.isfinite(value) or value <= 0:
        return f"{value:g}"
    exponent = int(np.floor(np.log10(value))) - 1
    return f"{np.ceil(value / 10.0**exponent) * 10.0**exponent:.2g}"


def in_m_step_image(covariances, covariance_type, reg_covar, dtype):
    """Whether every covariance's smallest eigenvalue is at least ``reg_covar``, up to rounding.

    The M-step's covariances are a scatter matrix (positive semi-definite)
    plus ``reg_covar`` on the diagonal, computed in float64 and rounded to
    ``dtype`` once: each eigenvalue is at least ``reg_covar`` less twice the
    dtype's rounding of the covariance's Frobenius norm (rounding each entry
    moves each eigenvalue by at most that norm of the rounding errors).
    """
    cov = np.asarray(covariances, dtype=np.float64)
    matrices = covariance_type in ("full", "tied")
    if matrices:
        cov = cov.reshape(-1, *cov.shape[-2:])
        smallest = np.linalg.eigvalsh(cov).min(axis=1)
    else:
        cov = cov.reshape(len(cov), -1)  # diag (K, D); spherical (K,) as (K, 1)
        smallest = cov.min(axis=1)
    if (smallest >= reg_covar).all():  # within any margin (at least 0): mostly, no size needed
        return True
    if matrices:
        largest = np.abs(cov).max(axis=(1, 2), keepdims=True)
        # the Frobenius norm, scaled so that it cannot overflow
        size = largest[:, 0, 0] * np.linalg.norm(cov / np.where(largest > 0, largest, 1.0), axis=(1, 2))
    else:
        size = np.abs(cov).max(axis=1)
    margin = 2.0 * np.finfo(dtype).eps * size
    return bool(np.all(smallest >= reg_covar - margin))


def check_positive_diagonals(parameters, covariance_type):
    """Raise ValueError unless the covariances, precision factors and precisions (in
    ``parameters``, by name) have positive diagonals: the kernels read the upper
    triangle of each factor, a Cholesky factor of a positive definite matrix when its
    diagonal is positive."""
    names = ("covariances_", "precisions_cholesky_", "precisions_")
    values = [parameters[name] for name in names]
    if covariance_type in ("full", "tied"):
        values = [value.diagonal(0, -2, -1) for value in values]
    if (np.concatenate(values, axis=None) > 0).all():  # one test; each alone only to name it
        return
    for name, value in zip(names, values):
        if not (value > 0).all():
            raise ValueError(
                f"{name} must have a positive diagonal (variances, precisions), got "
                f"minimum {float(value.min()):.3g}. Refit the model, or assign the "
                "parameters of a fitted one."
            )


def log_norm(precisions_cholesky, covariance_type, n_components, n_features):
    """The kernel params' ``log_norm``, float64 of shape (n_components,).

    ``log det U - n_features / 2 log(2 pi)``, the log of each component's
    normalising constant, from the float64 precision factors ``U``.
    """
    log_det = log_det_cholesky(precisions_cholesky, covariance_type, n_features)
    if covariance_type == "tied":  # one factor for every component
        log_det = np.full(n_components, log_det)
    return log_det - 0.5 * n_features * _LOG_2PI


def tied_shift(weights, means):
    """The point 'tied' log-densities map points around: the weighted mean of the means,
    in the means' dtype."""
    weights = np.asarray(weights, dtype=np.float64)
    return (weights @ np.asarray(means, dtype=np.float64) / weights.sum()).astype(means.dtype, copy=False)


def kernel_arrays(covariance_type, means, precisions_cholesky, log_normalisers, shift=None):
    """The arrays of the complete-data kernel params (``_KERNEL_PARAMS``), before their
    cast to the data's dtype, and the float64 factors they were made from (below the
    diagonal 0 for 'full' and 'tied'). ``log_normalisers`` from :func:`log_norm`;
    ``shift`` ('tied' only) from :func:`tied_shift`."""
    pc = np.asarray(precisions_cholesky, dtype=np.float64)
    arrays = [means, pc, log_normalisers]
    if covariance_type in ("full", "tied"):
        # The blocks' matrix products read whole rows of the factor: what
        # lies below the diagonal of an assigned one must not count.
        pc = arrays[1] = upper(pc)
    if covariance_type == "tied":
        mapped = (np.asarray(means, dtype=np.float64) - np.asarray(shift, dtype=np.float64)) @ pc
        arrays += [shift, mapped]
    elif covariance_type in ("diag", "spherical"):
        # The blocks take 0.5 ((x - m) c)^2 as ((x - m) (c / sqrt 2))^2, one c per feature
        # (broadcast by assignment: np.broadcast_to cost more than the rest of a pass's params).
        arrays[1] = np.empty(means.shape)
        arrays[1][...] = pc.reshape(len(pc), -1) * np.sqrt(0.5)
    return arrays, pc


class _GaussianComponents(BaseMixture):
    """The Gaussian family's protocol, shared by the maximum-likelihood and variational mixtures.

    Subclasses add the hyper-parameters (``__init__``), the parameters
    (``_parameter_names``), their initialisation and their M-step; the
    statistics, their frame, the kernel params and the covariance algebra
    are here.
    """

    _regularization_name = "reg_covar"

    def _check_parameters(self):
        super()._check_parameters()
        check_choice(self.covariance_type, "covariance_type", _COVARIANCE_TYPES)
        check_scalar(self.reg_covar, "reg_covar", numbers.Real, min_val=0.0)

    # A covariance whose smallest variance along an axis is at most this many times its
    # dtype's machine epsilon of the largest is singular to that precision.
    _SINGULAR_EPSILONS = 1e3

    def _singular_component(self, dtype):
        """The first component whose covariance is singular to ``dtype``'s precision: the
        smallest eigenvalue at most ``_SINGULAR_EPSILONS`` machine epsilons of the largest,
        both of the covariance scaled to a unit diagonal, so that features in units far
        apart (variances 1e-4 and 1e12) do not read as a collapse ('full', 'tied'); or a
        variance at most that of the same feature's largest variance among the components
        ('diag') or of the largest component's ('spherical')."""
        covariances = np.asarray(self.covariances_, dtype=np.float64)
        bound = self._SINGULAR_EPSILONS * np.finfo(dtype).eps
        if self.covariance_type in ("full", "tied"):
            stack = covariances[None] if self.covariance_type == "tied" else covariances
            eigenvalues = scaled_eigenvalues(stack)
            smallest, largest = eigenvalues[:, 0], eigenvalues[:, -1]
            along = ("along one direction and {:.3g} along another, in units of its "
                     "variances")
        else:
            variances = covariances if covariances.ndim == 2 else covariances[:, None]
            top = variances.max(axis=0)
            j = np.argmin(variances / top, axis=1)  # each component's narrowest feature
            smallest, largest = variances[np.arange(len(variances)), j], top[j]
            along = ("for a feature whose largest variance in a component is {:.3g}"
                     if covariances.ndim == 2 else "against another component's {:.3g}")
        singular = np.flatnonzero(~(smallest > bound * largest))
        if not singular.size:
            return None
        k = int(singular[0])
        which = ("the shared covariance" if self.covariance_type == "tied"
                 else f"component {k}'s covariance (weight {float(self.weights_[k]):.3g})")
        description = (f"{which} is singular to {np.dtype(dtype).name} precision "
                       f"(variance {smallest[k]:.3g} " + along.format(largest[k]) + "): a "
                       "component collapsing onto a point, a line or a plane of the data")
        if float(self.reg_covar) == 0.0:
            advice = ("set reg_covar above 0 (scikit-learn's default is 1e-6), or fit fewer "
                      "components")
        else:
            advice = (f"raise reg_covar (now {float(self.reg_covar):.3g}, added to the "
                      "variances in the data's units), or fit fewer components")
        return description, advice

    def _derived_from_assigned(self, values, state):
        """``precisions_`` from an assigned ``precisions_cholesky_``, the parameter the
        predictions read, as scikit-learn's estimator derives it: code written for it
        assigns ``covariances_`` and ``precisions_cholesky_`` and leaves ``precisions_``
        as it was. ``covariances_`` too, when the model has none (code that sets
        ``weights_``, ``means_`` and ``precisions_cholesky_`` alone, from which
        scikit-learn's estimator predicts), or only covariances derived from factors
        assigned earlier; covariances it has from a fit or an assignment are kept, and
        checked against the factors at their first use. In the factors' dtype. A factor of a
        shape the covariance type does not take derives nothing (the parameters' check
        names it), nor does one kept unconverted: ragged lists, entries that float64
        would alter (``Decimal`` or ``int64`` beyond 2**53), which the check names."""
        factor = values.get("precisions_cholesky_")
        if not isinstance(factor, np.ndarray) or factor.dtype not in (np.float32, np.float64):
            return {}
        derived = []
        if "precisions_" not in values:
            derived.append("precisions_")
        if "covariances_" not in values and "covariances_" not in state:
            derived.append("covariances_")
        if not derived:
            return {}
        shapes = {"full": 3, "tied": 2, "diag": 2, "spherical": 1}
        if factor.ndim != shapes.get(self.covariance_type):
            return {}
        if self.covariance_type in ("full", "tied"):
            if factor.shape[-1] != factor.shape[-2]:
                return {}
            factor = upper(factor)
        compute = {
            "precisions_": lambda: precisions_from_cholesky(factor, self.covariance_type),
            "covariances_": lambda: covariances_from_cholesky(
                factor.astype(np.float64), self.covariance_type).astype(factor.dtype),
        }
        with np.errstate(all="ignore"):
            return {name: compute[name]() for name in derived}

    def _check_in_dtype(self, dtype, starts):
        # Every M-step adds reg_covar to the covariances it casts to the dtype.
        check_in_dtype(self.reg_covar, "reg_covar", dtype, positive=True,
                       fix="scale the data down and reg_covar alike")

    def _change_scales(self, parameters):
        """The means' scale for the stopping rule: the largest standard deviation of any
        component along any feature, times the square root of the dtype's resolution
        (1.5e-8 in float64, 3.5e-4 in float32).

        Means of centred data are near 0 (about 1e-17, 1e-8 in float32) and
        change by the rounding of their sums from pass to pass (by 7e-10 of the
        spread in float32): next to their own size that was a relative change of
        order 1, and a one-component fit ran to ``max_iter``. Means larger than
        the scale keep their own size. (The spread itself, one for every
        feature, let a wide feature hide the others' changes: a fit with
        ``tol=1e-2`` stopped 0.37 nats short.)
        """
        means = np.asarray(parameters["means_"])
        covariances = np.asarray(parameters["covariances_"], dtype=np.float64)
        if self.covariance_type in ("full", "tied"):
            covariances = covariances.diagonal(0, -2, -1)
        resolution = np.sqrt(np.finfo(means.dtype).eps)
        return {"means_": resolution * float(np.sqrt(covariances.max(initial=0.0)))}

    def _rounding_loss(self, parameters, exact=None):
        """The mean log-likelihood that storing the means in float32 costs.

        Each mean lies off the float64 one by its rounding ``delta``, and a
        component's mean log-density falls by ``delta' P delta / 2`` (``P`` its
        precision). With ``exact``, ``delta`` is the rounding of its means (a
        mean that float32 holds, as that of a component collapsed onto a
        float32 value, costs nothing). Without, it is of mean square ``ulp**2 /
        12`` (``ulp``: float32's spacing at the mean): ``sum_k w_k sum_d
        ulp_kd**2 / 12 * P_k,dd / 2``. Means 1e6 from the origin against a unit
        spread are stored to 0.06: 3.3e-4 per sample for two features (3.6e-4
        measured).
        """
        reference = parameters if exact is None else exact
        factors = np.asarray(reference["precisions_cholesky_"], dtype=np.float64)
        weights = np.asarray(reference["weights_"], dtype=np.float64)
        means = np.asarray(parameters["means_"], dtype=np.float64)
        if exact is not None:
            delta = means - np.asarray(exact["means_"], dtype=np.float64)
            if self.covariance_type == "full":
                # delta' L, whose squared norm is delta' P delta
                projected = np.einsum("kd,kde->ke", delta, factors)
            elif self.covariance_type == "tied":
                projected = delta @ factors
            elif self.covariance_type == "diag":
                projected = delta * factors
            else:  # spherical
                projected = delta * factors[:, None]
            return 0.5 * float(weights @ np.sum(projected**2, axis=1))
        ulp = np.spacing(np.abs(means).astype(np.float32)).astype(np.float64)
        if self.covariance_type in ("full", "tied"):
            variances = np.sum(factors**2, axis=-1)  # the precision's diagonal, L L'
        elif self.covariance_type == "diag":
            variances = factors**2
        else:  # spherical
            variances = factors[:, None] ** 2
        return 0.5 * float(weights @ np.sum(ulp**2 / 12.0 * variances, axis=1))

    @property
    def _start_second_moments(self):
        """'full' and 'tied' start from full covariances, 'diag' and 'spherical' from the
        variances of the features (see :data:`fastem._init.SECOND_MOMENTS`)."""
        return "full" if self.covariance_type in ("full", "tied") else "diag"

    def _regularized_covariances(self, nk, covariances):
        """Covariances of the covariance type, plus ``reg_covar``, from per-component ones.

        ``covariances`` are the responsibility-weighted covariances of the
        components, full (n_components, n_features, n_features), or for 'diag'
        and 'spherical' also the variances of the features alone
        (n_components, n_features; the start's, :attr:`_start_second_moments`);
        ``nk`` their masses: 'tied' averages them with weights ``nk``, 'diag'
        keeps the variances and 'spherical' their mean.
        """
        reg = float(self.reg_covar)
        n_features = covariances.shape[1]
        if self.covariance_type == "full":
            return covariances + reg * np.eye(n_features)
        if self.covariance_type == "tied":
            return np.tensordot(nk, covariances, axes=1) / nk.sum() + reg * np.eye(n_features)
        if covariances.ndim == 3:
            covariances = np.diagonal(covariances, axis1=1, axis2=2)
        diag = covariances + reg
        return diag if self.covariance_type == "diag" else diag.mean(axis=1)

    def _set_gaussian(self, means, covariances):
        dtype = self._dtype
        self._set_precisions(
            precisions_cholesky_from_covariances(covariances, self.covariance_type),
            means_=np.asarray(means, dtype=dtype),
            covariances_=np.asarray(covariances, dtype=dtype),
        )

    def _set_precisions(self, precisions_cholesky, **parameters):
        """Set ``precisions_cholesky_`` and ``precisions_`` from upper factors, in one state
        with ``parameters`` (the others they go with, in the model's dtype): nothing is
        derived from the factors twice (:meth:`_derived_from_assigned`)."""
        factors, precisions = checked_precisions(
            precisions_cholesky, self.covariance_type, self._dtype
        )
        self._replace_parameters(
            {**parameters, "precisions_cholesky_": factors, "precisions_": precisions})

    def _moment_shapes(self, n_features):
        K = self._n_components
        second = {
            "full": (K, n_features, n_features),
            "tied": (n_features, n_features),
            "diag": (K, n_features),
            "spherical": (K, n_features),
        }[self.covariance_type]
        shapes = {"sx": (K, n_features), "sxx": second}
        if self.covariance_type == "tied":
            shapes["pairs"] = (K, K)
        if self._fits_missing():
            # sums where each feature is observed (fastem.kernels.gaussian_missing)
            shapes.update(observed_nk=(K, n_features), observed_sx=(K, n_features),
                          observed_sxx=(n_features,))
        return shapes

    def _unpack(self, total, n_features, reference=None, shapes=None):
        """:meth:`BaseMixture._unpack`; with ``missing='em'``, the observed-data moments of
        a pass over data without NaN, which runs the complete-data kernels (they sum none),
        are its moments (:meth:`_observed_of_complete`). A pass of the kernels for data with
        NaN adds each row's responsibilities at its observed features, at least one per row,
        so its ``observed_nk`` is 0 throughout only where ``nk`` is."""
        stats = super()._unpack(total, n_features, reference, shapes)
        observed = stats.moments.get("observed_nk")
        if observed is not None and not observed.any():
            stats.moments.update(self._observed_of_complete(stats))
        return stats

    def _observed_of_complete(self, stats):
        """``observed_nk``, ``observed_sx`` and ``observed_sxx`` (float64) of statistics
        ``stats`` of data without NaN, from their ``nk``, ``sx`` and ``sxx``: every feature is
        observed at every point."""
        nk, sx, sxx = _float64_arrays(stats.nk, stats.moments["sx"], stats.moments["sxx"])
        n_features = sx.shape[1]
        if self.covariance_type == "full":
            squares = np.diagonal(sxx, axis1=1, axis2=2).sum(axis=0)
        elif self.covariance_type == "tied":
            shift = np.asarray(stats.reference["shift"], dtype=np.float64)
            squares = np.diagonal(self._tied_scatter(sxx, stats.moments["pairs"], shift)).copy()
        else:
            squares = sxx.sum(axis=0)
        return {"observed_nk": np.repeat(nk[:, None], n_features, axis=1),
                "observed_sx": sx.copy(), "observed_sxx": squares}

    def _reference(self):
        return {"shift": self.means_}

    def _tied_shift(self):
        """The point 'tied' log-densities map points around (see :func:`tied_shift`)."""
        return tied_shift(self.weights_, self.means_)

    def _recentre(self, stats, reference):
        """Re-express moments taken around ``shift`` s around ``reference['shift']`` s'.

        With c = s - s' per component: sx' = sx + nk c and, for 'full', 'diag'
        and 'spherical', sxx' = sxx + sx c^T + c sx^T + nk c c^T (only the
        diagonal for 'diag' and 'spherical', which store the diagonal; 'full'
        stores and updates the lower triangle). For 'tied', the within scatter
        around s (:meth:`_tied_scatter`) is updated the same way summed over
        the components, and stored whole in ``sxx`` with ``pairs`` set to 0.
        """
        old = np.asarray(stats.reference["shift"], dtype=np.float64)
        new = np.asarray(reference["shift"], dtype=np.float64)
        c = old - new
        nk, sx, sxx = stats.nk, stats.moments["sx"], stats.moments["sxx"]
        moments = {"sx": sx + nk[:, None] * c}
        if self.covariance_type in ("full", "tied"):
            cross = np.einsum("ki,kj->kij", sx, c)
            update = cross + np.swapaxes(cross, 1, 2) + np.einsum("k,ki,kj->kij", nk, c, c)
            if self.covariance_type == "tied":
                scatter = self._tied_scatter(sxx, stats.moments["pairs"], old)
                moments["sxx"] = np.tril(scatter + update.sum(axis=0))
                moments["pairs"] = np.zeros_like(stats.moments["pairs"])
            else:
                moments["sxx"] = sxx + np.tril(update)
        else:
            moments["sxx"] = sxx + 2 * sx * c + nk[:, None] * c**2
        if "observed_nk" in stats.moments:  # as sx and the diagonal of sxx, where observed
            observed_nk = stats.moments["observed_nk"]
            observed_sx = stats.moments["observed_sx"]
            moments["observed_nk"] = observed_nk
            moments["observed_sx"] = observed_sx + observed_nk * c
            moments["observed_sxx"] = stats.moments["observed_sxx"] + (
                2 * observed_sx * c + observed_nk * c**2).sum(axis=0)
        return SufficientStatistics(
            stats.n_samples, stats.log_likelihood, nk, moments, {"shift": reference["shift"]}
        )

    def _settings_of_the_fit(self):
        return {"reg_covar": float(self.reg_covar)}

    def _statistics_of_parameters(self):
        """``nk`` = the weights, ``sx`` = 0 around the means, ``sxx`` = nk (covariance - r).

        The covariances are those of the precision factors, which the
        kernels use (an assigned ``covariances_`` that disagrees with them
        does not count). ``r`` is the ``reg_covar`` the parameters were
        fitted with (``_fitted_settings``, recorded by ``fit``, ``partial_fit``
        and ``load``), or the current one when none is recorded (parameters
        assigned to a new model), and an excess negative beyond rounding is
        clipped at 0 (a scatter has no negative variance). The M-step
        (:meth:`_weighted_moments`) divides ``sxx`` by ``nk`` and adds the
        current ``reg_covar``: with the same ``reg_covar`` it gives the
        covariances back, and a ``reg_covar`` changed since the fit applies
        to the data's moments, as in a new fit. 'tied' keeps its scatter
        whole in ``sxx`` with ``pairs`` 0; 'spherical' repeats its variance
        over the features, whose mean it takes.
        """
        weights = np.asarray(self.weights_, dtype=np.float64)
        n_components, n_features = self.means_.shape
        factors = np.asarray(self.precisions_cholesky_, dtype=np.float64)
        if self.covariance_type in ("full", "tied"):
            factors = upper(factors)  # what the kernels read of an assigned factor
        covariances = covariances_from_cholesky(factors, self.covariance_type)
        matrices = self.covariance_type in ("full", "tied")
        fitted = getattr(self, "_fitted_settings", None) or {}
        reg_covar = fitted.get("reg_covar", float(self.reg_covar))
        excess = covariances - reg_covar * (np.eye(n_features) if matrices else 1.0)
        # A negative scatter beyond rounding (r larger than the covariance) is clipped
        # at 0, component by component; one within rounding is kept as it is, so that
        # the M-step gives the covariances back bitwise.
        rounding = 64 * np.finfo(np.float64).eps * np.abs(covariances).max(
            axis=(-1, -2) if matrices else None, keepdims=True
        )
        if matrices:
            stack = excess.reshape(-1, n_features, n_features)
            values, vectors = np.linalg.eigh(stack)
            negative = values.min(axis=-1) < -rounding.reshape(-1)
            stack[negative] = (vectors[negative] * np.maximum(values[negative], 0.0)[:, None, :]
                               ) @ np.swapaxes(vectors[negative], -1, -2)
            excess = stack.reshape(excess.shape)
        else:
            excess = np.where(excess < -rounding, 0.0, excess)
        moments = {"sx": np.zeros((n_components, n_features))}
        if self.covariance_type == "full":
            moments["sxx"] = np.tril(weights[:, None, None] * excess)
        elif self.covariance_type == "tied":
            moments["sxx"] = np.tril(weights.sum() * excess)
            moments["pairs"] = np.zeros((n_components, n_components))
        elif self.covariance_type == "diag":
            moments["sxx"] = weights[:, None] * excess
        else:
            moments["sxx"] = np.repeat((weights * excess)[:, None], n_features, axis=1)
        stats = SufficientStatistics(1.0, 0.0, weights, moments, self._reference())
        if self._fits_missing():
            stats.moments.update(self._observed_of_complete(stats))
            unobserved = self._unobserved_of_the_fit()
            if unobserved is not None:
                # each component's variance of each feature, less the fit's reg_covar
                if self.covariance_type in ("full", "tied"):
                    spread = np.diagonal(excess, axis1=-2, axis2=-1)
                else:
                    spread = excess if excess.ndim == 2 else excess[:, None]
                spread = np.broadcast_to(spread, (n_components, n_features))
                stats.moments.update(self._observed_of_the_fit(stats, unobserved, spread))
        return stats

    def _observed_of_the_fit(self, stats, unobserved, spread):
        """The observed-data moments of the statistics of the parameters
        (:meth:`_statistics_of_parameters`, whose ``observed_nk``, ``observed_sx`` and
        ``observed_sxx`` say that every component observes every feature) where the fit
        recorded components with no observed value of a feature (``unobserved``,
        (n_components, n_features) bool, :meth:`_unobserved_of_the_parameters`).

        Such a component's ``observed_nk`` there is 0, so that the M-step gives it the data's
        marginal (:meth:`_marginal_where_unobserved`), not the moments of the values its
        points were imputed (which would drift), until the stream's data observe the feature
        for it. The other components' observed moments of the feature are set so that the
        data's marginal (:meth:`_data_marginal`) is the fitted one: the mean of such a
        component there, and its variance (``spread`` (n_components, n_features), the
        fitted variances less the fit's ``reg_covar``; unused by 'tied' and 'spherical'
        unless no component observes the feature). A feature that no component observes
        keeps the moments of the parameters (no observed mass can hold a marginal).
        """
        nk = np.asarray(stats.nk, dtype=np.float64)
        shift = np.asarray(stats.reference["shift"], dtype=np.float64)
        observed_nk = stats.moments["observed_nk"].copy()
        observed_sx = stats.moments["observed_sx"].copy()
        observed_sxx = stats.moments["observed_sxx"].copy()
        for j in np.flatnonzero(unobserved.any(axis=0)):
            mass = np.where(unobserved[:, j], 0.0, nk)
            if not mass.sum() > 0:
                continue
            first = np.flatnonzero(unobserved[:, j])[0]
            mean, variance = shift[first, j], max(float(spread[first, j]), 0.0)
            # around each component's shift c, the points of mass m_k at the data's mean:
            # sx = m_k (mean - c_k), and the squares add m_k (c_k - mean)^2 to the variance's
            observed_nk[:, j] = mass
            observed_sx[:, j] = mass * (mean - shift[:, j])
            observed_sxx[j] = mass.sum() * variance + (mass * (shift[:, j] - mean) ** 2).sum()
        return {"observed_nk": observed_nk, "observed_sx": observed_sx,
                "observed_sxx": observed_sxx}

    @staticmethod
    def _tied_scatter(sxx, pairs, means):
        """sum_k sum_i r_ik (x_i - m_k)(x_i - m_k)^T from the 'tied' statistics, float64.

        ``sxx`` (lower triangle) holds sum_i w_i (x_i - c_i)(x_i - c_i)^T around
        each point's centre c_i; the rest is sum_{k<l} Q_kl (m_k - m_l)(m_k - m_l)^T,
        a sum of positive semi-definite terms (see ``fastem.kernels.gaussian``).
        """
        sxx, pairs, means = _float64_arrays(sxx, pairs, means)
        scatter, between = np.empty(sxx.shape), np.empty(sxx.shape)
        tied_scatter(sxx, pairs, means, scatter, between)
        return scatter

    def _anchor_points(self):
        return getattr(self, "means_", None)

    def _family_structure(self):
        return {"covariance_type": self.covariance_type}

    def _family_structure_of_parameters(self):
        return {"covariance_type": covariance_type_of(
            self.means_, self.precisions_cholesky_, self.covariance_type)}

    def _cancels_in_float32(self):
        """Whether float32 Mahalanobis terms would lose more than ``_CANCELLATION`` relative.

        A 'full' or 'tied' log-density sums ``y_j = sum_l (x_l - c_l) U_lj``
        (``c`` the mean, or the shared shift for 'tied'). For a point one
        standard deviation from its mean the terms are of size
        ``s_l |U_lj|``, with ``s_l`` the standard deviation plus, for
        'tied', the distance of the farthest mean from the shift, while
        ``y`` is of order 1: each ``y_j`` carries a float32 rounding of
        ``eps * sum_l s_l |U_lj|``. Strongly correlated features (a large
        condition number of the correlation matrix) or, for 'tied', means
        far apart against the spread make that large. Diagonal and
        spherical terms do not cancel.
        """
        if self.covariance_type in ("diag", "spherical"):
            return False
        spread, factors = self._spread_and_factors()
        if self.covariance_type == "tied":
            means = np.asarray(self.means_, dtype=np.float64)
            spread = spread + np.abs(means - self._tied_shift().astype(np.float64)).max(axis=0)
        terms = np.einsum("kl,klj->kj", spread, factors)
        return bool(_FLOAT32_EPS * terms.max() * factors.shape[-1] > _CANCELLATION)

    def _spread_and_factors(self):
        """``(s, |U|)``: standard deviations (n, D) and absolute precision Cholesky factors (n, D, D),
        float64; ``n`` is 1 for 'tied', else n_components."""
        factors = np.asarray(self.precisions_cholesky_, dtype=np.float64)
        factors = np.abs(factors.reshape(-1, *factors.shape[-2:]))
        covariances = np.asarray(self.covariances_, dtype=np.float64)
        spread = np.sqrt(np.diagonal(covariances, axis1=-2, axis2=-1)).reshape(-1, factors.shape[-1])
        return spread, factors

    def _m_step_allowance(self, previous, before, after):
        """``reg_covar / 2 * sum_k w_k (tr P_k - tr P'_k)``: how far a regularised M-step may fall.

        The M-step with ``reg_covar = c`` maximises the expected complete-data
        log-likelihood less the penalty ``c/2 sum_k n_k tr(P_k)`` (``n_k`` the
        responsibilities' sums at ``previous``, ``P_k`` the precisions): for each
        covariance type, adding ``c`` to the variances is that maximiser (the
        inverse-Wishart form of the penalty). The minorisation that makes EM
        monotone (Dempster, Laird and Rubin 1977) then bounds the fall of the
        mean log-likelihood from ``previous`` (precisions ``P``) to ``before``
        (``P'``, weights ``w_k = n_k / n``) by the change of the penalty.
        """
        if self.reg_covar == 0:
            return 0.0
        return self._penalty_change(
            self._precision_traces(previous), self._precision_traces(before), before["weights_"]
        )

    def _penalty_change(self, old_traces, new_traces, weights):
        """``reg_covar / 2 * sum_k weights_k (tr P_k - tr P'_k)``, at least 0: the fall of
        ``c/2 sum_k w_k tr(P_k)`` from precisions of traces ``old_traces`` to precisions of
        traces ``new_traces`` (:meth:`_precision_traces`)."""
        weights = np.asarray(weights, dtype=np.float64)
        change = old_traces - new_traces
        return max(0.0, 0.5 * float(self.reg_covar) * float(weights @ change))

    def _precision_traces(self, parameters):
        """``tr P_k`` of each component's precision in ``parameters``, float64 of shape
        (n_components,) ('tied': the one trace, repeated)."""
        precisions = np.asarray(parameters["precisions_"], dtype=np.float64)
        n_components, n_features = np.shape(parameters["means_"])
        if self.covariance_type == "full":
            return np.einsum("kii->k", precisions)
        if self.covariance_type == "tied":
            return np.full(n_components, np.trace(precisions))
        if self.covariance_type == "diag":
            return precisions.sum(axis=1)
        return n_features * precisions

    def _in_m_step_image(self, stats):
        """Every covariance's smallest eigenvalue at least ``reg_covar``, up to rounding
        (see :func:`in_m_step_image`)."""
        return in_m_step_image(
            self.covariances_, self.covariance_type, float(self.reg_covar), self._dtype)

    def _unconstrained_parameters(self, parameters):
        """Means, and the precision Cholesky factors with log-diagonals (upper triangles)."""
        means = np.asarray(parameters["means_"], dtype=np.float64)
        pc = np.asarray(parameters["precisions_cholesky_"], dtype=np.float64)
        if self.covariance_type in ("full", "tied"):
            n_features = means.shape[1]
            flat, on_diagonal, _ = _upper_triangle(n_features)
            entries = pc.reshape(-1, n_features * n_features).take(flat, axis=1)
            entries[:, on_diagonal] = np.log(entries[:, on_diagonal])
            chol = entries.ravel()
        else:
            chol = np.log(pc).ravel()
        return np.concatenate([means.ravel(), chol])

    def _set_unconstrained_parameters(self, theta):
        means, pc = from_unconstrained(
            theta, self.covariance_type, self.means_.shape, np.shape(self.precisions_cholesky_)
        )
        dtype = self._dtype
        self._set_precisions(
            pc, means_=means.astype(dtype),
            covariances_=extrapolated_covariances(pc, self.covariance_type, dtype))

    def _parameter_shapes(self, n_features):
        K = self._n_components
        cov = _covariance_shape(self.covariance_type, K, n_features)
        return {
            "weights_": (K,),
            "means_": (K, n_features),
            "covariances_": cov,
            "precisions_cholesky_": cov,
            "precisions_": cov,
        }

    def _check_parameter_values(self):
        check_positive_diagonals(self._get_parameters(), self.covariance_type)

    def _work_rows(self, n_features):
        if self.covariance_type in ("diag", "spherical"):
            # Their blocks, with or without missing values, take no scratch rows; the
            # (n_features, n_features) square of the others would take 2.9 GB per thread
            # at 20,000 features.
            return 0
        if not self._fits_missing():
            return work_rows(n_features)
        return missing_work_rows(n_features, self._n_components)

    def _log_norm(self, precisions_cholesky, n_features):
        """The kernel params' ``log_norm`` (see :func:`log_norm`)."""
        return log_norm(precisions_cholesky, self.covariance_type, self._n_components, n_features)

    def _first_params_class(self):
        return None if self._fits_missing() else _KERNEL_PARAMS[self.covariance_type]

    def _kernel_params(self, dtype):
        means = self.means_
        pc = np.asarray(self.precisions_cholesky_, dtype=np.float64)
        arrays, pc = kernel_arrays(
            self.covariance_type, means, pc, self._log_norm(pc, means.shape[1]),
            self._tied_shift() if self.covariance_type == "tied" else None,
        )
        params_class = _KERNEL_PARAMS[self.covariance_type]
        if self._fits_missing():
            arrays += self._missing_kernel_arrays(pc)
            params_class = _MISSING_KERNEL_PARAMS[params_class]
        arrays = [np.ascontiguousarray(a, dtype=dtype) for a in arrays]
        if params_class in (FullMissingParams, TiedMissingParams):
            # No table of patterns until a pass over data gives one (_pass_kernel_params).
            arrays += pattern_table(np.empty(0, dtype=np.int64), means.shape[1], None, means, dtype)
        return params_class(*arrays)

    def _missing_kernel_arrays(self, pc):
        """The arrays the blocks for data with NaN add (``fastem.kernels.gaussian_missing``)."""
        if self.covariance_type in ("full", "tied"):
            precisions = precisions_from_cholesky(pc, self.covariance_type)
            return [precisions, np.zeros(self.means_.shape[1])]  # and the origin of deviations
        scales = np.broadcast_to(pc.reshape(len(pc), -1), self.means_.shape)
        return [np.log(scales) - 0.5 * _LOG_2PI, 1.0 / scales**2]

    def _pass_context(self, source):
        """With ``missing='em'``, the source's patterns of missing entries, scanned once per source.

        The patterns cannot change between the passes of a fit, so one scan
        of the rows (:func:`~fastem.kernels.gaussian_missing.scan_patterns`,
        chunk by chunk, merged) serves every pass over ``source``; a pass
        then builds its table of patterns once, for its parameters
        (:class:`_PassPatterns`).
        """
        if not self._fits_missing():
            return None
        keys, _ = source.scan_once("missing patterns", scan_patterns, merge_patterns)
        return _PassPatterns(keys)

    def _pass_kernel_params(self, params, X, context):
        """The complete-data params for data without NaN; for 'full' and 'tied', a table of patterns.

        With ``missing='em'``, the patterns of missing entries are the
        source's (``context``, see :meth:`_pass_context`) or, for rows
        outside a statistics pass, those of one scan of ``X``
        (:func:`~fastem.kernels.gaussian_missing.scan_patterns`). Data
        without NaN take the complete-data kernel itself. Otherwise each
        pattern's terms for each component ('full') or for the shared
        precision ('tied') are computed once for the pass, the most frequent
        patterns first, within a budget
        (:func:`~fastem.kernels.gaussian_missing.pattern_table`); the blocks
        look them up.
        """
        if not self._fits_missing():
            return params
        if context is None:
            context = _PassPatterns(scan_patterns(X)[0])
        if context.keys.shape[0] == 0:
            complete = _KERNEL_PARAMS[self.covariance_type]
            return complete(*params[: len(complete._fields)])
        if self.covariance_type not in ("full", "tied"):
            return params
        table = context.table(self, X.dtype)
        return params._replace(**{f"pattern_{name}": a for name, a in table._asdict().items()})

    def _pass_statistics_length(self, params):
        """With a table of patterns, its most frequent patterns' sums
        (:func:`~fastem.kernels.gaussian_missing.pattern_weight_entries`)."""
        if not isinstance(params, (FullMissingParams, TiedMissingParams)):
            return 0
        per_pattern, _ = pattern_sums(self.covariance_type, self._n_components)
        return pattern_weight_entries(params.pattern_coordinates.shape[0], per_pattern)

    def _fold_pass_statistics(self, params, totals, n_stats):
        """Each tabled pattern's sums times their matrices, into ``sxx``
        (:func:`~fastem.kernels.gaussian_missing.fold_pattern_weights`)."""
        stats = totals[:n_stats].copy()
        table = PatternTable(*(getattr(params, f"pattern_{name}") for name in PatternTable._fields))
        fold_pattern_weights(
            table, totals[n_stats:], self.covariance_type, read_only(params.means), stats,
            2 + self._n_components * (1 + params.means.shape[1]),
        )
        return stats

    # RegularizationWarning when reg_covar is at least this share of a
    # feature's variance: above it, blobs 10 standard deviations apart along
    # the feature merged (3 blobs, one feature scaled down: kept at 1e-3,
    # whose variance is 6 reg_covar; merged at 3e-4, 0.5 reg_covar). The
    # same share of a component's own variance leaves its fitted variance
    # at least 1.25 times the data's.
    _REGULARIZATION_SHARE = 0.25

    def _shown_features(self, features, describe):
        """Up to five of ``features`` (indices), by column name where the fit had them, each
        with ``describe(j)``: "0 (variance 1e-07), 'b' (variance 2e-07) and 3 more"."""
        return _listed([f"{self._feature_label(j)} ({describe(j)})" for j in features])

    def _check_regularization(self, stats, data=None):
        """Warn (RegularizationWarning) where ``reg_covar`` swamps the data's spread; return
        whether it warned.

        Two rules, both on the statistics of the last pass (``partial_fit``:
        the running statistics; ``data``, a step's batch alone, is not read),
        with variances taken without ``reg_covar``,
        whose rounding would hide a spread below ``eps * reg_covar``:

        * a feature whose variance over the data is within 4 ``reg_covar``:
          by the law of total variance, the weighted within-component
          variances plus the variance of the component means (for
          'spherical', the within part is the components' variance averaged
          over the features). A constant feature (variance 0, up to the
          rounding of its squared mean) carries nothing to regularise away.
        * a component whose own variance in a feature is within 4
          ``reg_covar`` (clusters narrow within a wide feature): its fitted
          variance there is mostly ``reg_covar``, at least 1.25 times the
          data's. 'tied' takes the pooled within-component variance of each
          feature, 'spherical' each component's one variance. A variational
          mixture compares its posterior variances without ``reg_covar``,
          which hold the prior (:meth:`_unregularized_variances`). A component of
          no weight, or whose points share one value in the feature
          (variance 0 up to the rounding of its statistics or of the values,
          or below ``eps * reg_covar``: identical points, a constant feature,
          a spike on a rounded measurement with the tiny responsibilities of
          its neighbours), has no spread to swamp; it has collapsed, which
          ``select_n_components`` flags. One that holds such points and a
          measurable share of the others' weight is warned of, with both
          causes.
        """
        reg = float(self.reg_covar)
        if reg == 0:
            return False
        nk, means, cov = self._weighted_moments(stats, reg_covar=0.0)
        weights = nk / nk.sum()
        within = feature_variances(cov, self.covariance_type, means.shape)
        # what the fitted variances hold besides reg_covar: the data's spread, and a
        # variational mixture's prior (which reg_covar does not swamp)
        own = self._unregularized_variances(within, reg)
        offsets = means - means[0]  # exactly 0 on a constant feature
        between = weights @ (offsets - weights @ offsets) ** 2
        variance = weights @ within + between
        # the rounding of second moments of a constant feature: its squared value
        eps, tiny = np.finfo(np.float64).eps, np.finfo(np.float64).tiny
        squared = weights @ means**2
        constant = variance <= 16 * eps * squared
        # Values below about 1e-146, whose squares and their rounding fall below
        # float64's normal range, leave second moments of 0 (or of a few digits)
        # whether the feature varies or not: reg_covar swamps them unseen. A
        # feature whose variance is above that range was computed (a mean near 0)
        # ('spherical' has no variance of its own per feature: its means alone decide)
        computed = (variance >= tiny / (16 * eps)) & (self.covariance_type != "spherical")
        underflow = (16 * eps * squared < tiny) & ~computed & (means != 0).any(axis=0)
        if underflow.any():
            shown = self._shown_features(
                np.flatnonzero(underflow), lambda j: f"mean {means[:, j] @ weights:.3g}"
            )
            warn_at_caller(
                f"The values of feature(s) {shown} are too small for float64's squares "
                f"(below about {np.sqrt(tiny / (16 * eps)):.0e}): their variance cannot be "
                f"computed, and reg_covar={reg:g} swamps it, so components that differ along "
                "them may have merged. Standardise the features (e.g. "
                "sklearn.preprocessing.StandardScaler).",
                RegularizationWarning, of_data="float64 squares underflow",
            )
        swamped = ~constant & ~underflow & (reg >= self._REGULARIZATION_SHARE * variance)
        if swamped.any():
            shown = self._shown_features(
                np.flatnonzero(swamped), lambda j: f"variance {variance[j]:.3g}")
            warn_at_caller(
                f"reg_covar={reg:g} is at least a quarter of the variance of feature(s) "
                f"{shown}: it swamps their within-component spread, and components that "
                "differ along them may have merged. Standardise the features (e.g. "
                "sklearn.preprocessing.StandardScaler), or lower reg_covar to at most "
                f"{0.01 * float(variance[swamped].min()):.3g}.",
                RegularizationWarning, of_data="reg_covar swamps a feature",
            )
        # A component's variance is a difference of second moments around the shift its
        # statistics were taken around: of one without spread, their rounding is left.
        # Nor is a spread within 16 units of the rounding of the values themselves, or
        # below what reg_covar's own rounding shows (eps * reg_covar): a component on one
        # repeated value (a rounded measurement: MASS's geyser, whose durations are 4 for
        # "long") keeps 1e-64 to 1e-25 from the tiny responsibilities of its neighbours.
        # Such a component has collapsed, and fit says nothing of it, as of one of
        # variance 0 (select_n_components flags both: fastem._collapse).
        squared = (16 * eps * (means - np.asarray(stats.reference["shift"], dtype=np.float64)) ** 2
                   + (16 * eps * means) ** 2)
        rounding = {
            "tied": np.broadcast_to(weights @ squared, means.shape),
            "spherical": np.broadcast_to(squared.mean(axis=1)[:, None], means.shape),
        }.get(self.covariance_type, squared)
        narrow = (
            (weights > _EMPTY_SHARE)[:, None] & (within > np.maximum(rounding, eps * reg))
            & (reg * self._reg_covar_share()[:, None] >= self._REGULARIZATION_SHARE * own)
            & ~(constant | underflow | swamped)
        )
        if self.covariance_type == "tied":  # one pooled variance per feature
            narrow[0], narrow[1:] = narrow.any(axis=0), False
        elif self.covariance_type == "spherical":  # one variance per component
            narrow[:, 0], narrow[:, 1:] = narrow.any(axis=1), False
        if narrow.any():
            self._warn_narrow_components(reg, own, narrow)
        return bool(underflow.any() or swamped.any() or narrow.any())

    def _unregularized_variances(self, within, reg):
        """(n_components, n_features) float64: each component's fitted variance in each
        feature without ``reg_covar``'s part, which the narrow-component rule compares
        with ``reg_covar``. Maximum likelihood: the data's own, ``within``; a family whose
        fitted variances hold more (a prior) says so."""
        return within

    def _warn_narrow_components(self, reg, within, narrow):
        """RegularizationWarning naming the components and features (``narrow``, a boolean
        mask of shape (n_components, n_features)) whose variance ``within`` is within 4
        ``reg_covar``."""
        def where(k, j):
            if self.covariance_type == "tied":
                return f"the pooled variance in feature {self._feature_label(j)}"
            if self.covariance_type == "spherical":
                return f"component {k}'s variance"
            return f"component {k}'s variance in feature {self._feature_label(j)}"

        pairs = sorted(zip(*np.nonzero(narrow)), key=lambda pair: within[pair])
        shown = _listed([f"{where(k, j)} ({within[k, j]:.3g})" for k, j in pairs])
        smallest = float(within[pairs[0]])
        warn_at_caller(
            f"reg_covar={reg:g} is at least a quarter of {shown}: it swamps the spread "
            "within those components, whose fitted variances there are up to "
            f"{(smallest + reg) / smallest:.3g} times the data's. For clusters that narrow, "
            f"lower reg_covar to at most {0.01 * smallest:.3g}, or multiply those features by "
            f"at least {10 * np.sqrt(reg / smallest):.3g}; a component on one repeated value "
            "(a constant put in for missing values, a rounded measurement) has collapsed: fit "
            "fewer components, or another init_params or random_state.",
            RegularizationWarning,
        )

    def _float64_covariances(self, k=None, features=None):
        """Covariance matrices in float64, for code that factors them: (n_components,
        n_features, n_features), or component ``k``'s (n_features, n_features); with
        ``features`` (indices, or a boolean mask of shape (n_features,)), those among the
        features chosen alone.

        ``covariances_`` itself for a float64 model, and for 'diag' and
        'spherical' (as diagonal matrices, of the chosen features alone: no
        (n_features, n_features) matrix is formed); for a float32 'full' or
        'tied' model, the covariances of its precision Cholesky factors (which
        the densities use): a float32 ``covariances_`` is within float32
        rounding of them, but its smallest eigenvalues need not be
        (:meth:`_check_stored_parameters`).
        """
        K, D = self.means_.shape
        if self.covariance_type in ("diag", "spherical"):
            variances = self._float64_feature_variances()
            if features is not None:
                variances = variances[:, features]
            if k is not None:
                variances = variances[k : k + 1]
            covariances = np.einsum("kd,de->kde", variances, np.eye(variances.shape[1]))
            return covariances if k is None else covariances[0]
        if self._dtype == np.float32:
            factors = np.asarray(self.precisions_cholesky_, dtype=np.float64)
            if self.covariance_type == "full" and k is not None:
                factors, k = factors[k : k + 1], 0  # the one component's alone
            covariances = covariances_from_cholesky(factors, self.covariance_type)
        else:
            covariances = np.asarray(self.covariances_, dtype=np.float64)
        if self.covariance_type == "tied":
            covariances = covariances if k is not None else np.broadcast_to(covariances, (K, D, D))
        elif k is not None:
            covariances = covariances[k]
        if features is not None:
            covariances = covariances[..., features, :][..., features]
        return covariances

    def _float64_feature_variances(self):
        """Each component's variance in each feature, float64, (n_components, n_features):
        the diagonals of :meth:`_float64_covariances`, without forming those matrices for
        'diag' and 'spherical'."""
        K, D = self.means_.shape
        if self.covariance_type in ("full", "tied"):
            return np.diagonal(self._float64_covariances(), axis1=1, axis2=2).copy()
        covariances = np.asarray(self.covariances_, dtype=np.float64)
        return np.array(feature_variances(covariances, self.covariance_type, (K, D)))

    def _observed_factors(self, observed):
        """The components' upper precision factors over the features ``observed`` (a boolean
        mask of shape (n_features,)), float64: (n_components, n_observed, n_observed) for
        'full' and 'tied' (one factor repeated), (n_components, n_observed) diagonals for
        'diag' and 'spherical'; and their log normalising constants, (n_components,).

        Over every feature, the model's factors; over some, the factors of the
        marginal covariances (the rows of their observed features, as the
        kernels for data with NaN take them).
        """
        K, D = self.means_.shape
        pc = np.asarray(self.precisions_cholesky_, dtype=np.float64)
        if self.covariance_type in ("diag", "spherical"):
            factors = np.broadcast_to(pc.reshape(K, -1), (K, D))[:, observed]
            log_det = np.log(factors).sum(axis=1)
        else:
            if observed.all():
                factors = upper(pc.reshape(-1, D, D))
            else:
                covariances = self._float64_covariances(features=observed)
                tied = self.covariance_type == "tied"
                factors = _upper_factors_of_inverses(covariances[:1] if tied else covariances)
            factors = np.broadcast_to(factors, (K,) + factors.shape[1:])
            log_det = np.log(np.diagonal(factors, axis1=1, axis2=2)).sum(axis=1)
        return factors, log_det - 0.5 * np.count_nonzero(observed) * _LOG_2PI

    def _log_density_floor(self, low, high):
        """A lower bound of the weighted log-densities over the box ``[low, high]``, or None
        with ``missing='em'`` (a row's log-density is then its observed features').

        ``|U_k^T (x - m_k)|^2 <= |U_k|_F^2 |x - m_k|^2``, and ``|x - m_k|^2`` is at most
        the sum over the features of the larger of ``(low - m_k)^2`` and
        ``(high - m_k)^2``; the bound is the largest over the components of their
        weighted log-densities at that distance.
        """
        if self._fits_missing():
            return None
        means = np.asarray(self.means_, dtype=np.float64)
        n_components, n_features = means.shape
        pc = np.asarray(self.precisions_cholesky_, dtype=np.float64)
        squares = pc**2
        if self.covariance_type == "full":
            spread = squares.sum(axis=(1, 2))
        elif self.covariance_type == "tied":
            spread = squares.sum()
        elif self.covariance_type == "diag":
            spread = squares.sum(axis=1)
        else:
            spread = n_features * squares
        reach = np.maximum((low - means) ** 2, (high - means) ** 2).sum(axis=1)
        floors = (
            self._kernel_log_weights()
            + log_norm(pc, self.covariance_type, n_components, n_features)
            - 0.5 * spread * reach
        )
        return float(np.max(floors))

    def _relative_log_densities(self, X):
        """The kernel's weighted log-densities of the rows ``X`` less ``-|U_0^T t|^2 / 2``.

        With ``t = x - c`` around the weighted centre ``c`` of the means,
        ``d_k = means[k] - c`` and ``U_k`` component k's upper precision
        factor over the row's observed features,
        ``|U_k^T (t - d_k)|^2 - |U_0^T t|^2 = (t^T (U_k - U_0)) . (t^T (U_k + U_0))
        - 2 (t^T U_k) . (d_k^T U_k) + |d_k^T U_k|^2``: its first term is exactly
        0 where the components share a factor ('tied'), and what tells them
        apart far from every component is no longer the rounding of
        ``|U_k^T (t - d_k)|^2``. float64 of shape (n_rows, n_components).
        """
        means = np.asarray(self.means_, dtype=np.float64)
        centre = tied_shift(self.weights_, means)
        deviations = np.asarray(X, dtype=np.float64) - centre
        offsets = means - centre
        observed = ~np.isnan(deviations)
        patterns, pattern_of_row = np.unique(observed, axis=0, return_inverse=True)
        relative = np.empty((deviations.shape[0], means.shape[0]))
        for p, pattern in enumerate(patterns):
            rows = pattern_of_row.reshape(-1) == p
            factors, log_norm = self._observed_factors(pattern)
            t = deviations[rows][:, pattern]
            mapped = _mapped(t, factors)
            mapped_offsets = _mapped(offsets[:, pattern], factors, each=True)
            quadratic = (
                (_mapped(t, factors - factors[:1]) * _mapped(t, factors + factors[:1])).sum(axis=2)
                - 2.0 * (mapped * mapped_offsets).sum(axis=2)
                + (mapped_offsets**2).sum(axis=1)
            )
            relative[rows] = log_norm - 0.5 * quadratic
        return relative + self._kernel_log_weights()

    def _reg_covar_share(self):
        """(n_components,) float64: the share of ``reg_covar`` that reaches each
        component's covariance (1: it is added to each). A component's covariance
        is at least ``share * reg_covar`` along every axis, and its
        within-component part at most ``norm / share``."""
        return np.ones(self._n_components)

    def _collapse_reasons(self, source, summary, min_variance_ratio=MIN_VARIANCE_RATIO):
        return gaussian_collapse_reasons(self, source, summary, min_variance_ratio)

    def _parameter_collapse_reasons(self, summary, min_variance_ratio=MIN_VARIANCE_RATIO):
        return narrow_component_reasons(self, summary, min_variance_ratio)

    def _check_stored_parameters(self, warn=True):
        """Whether float32 ``covariances_`` or ``precisions_`` are not positive definite as
        stored; warns of it (RegularizationWarning) when ``warn``.

        The M-step computes each covariance in float64, at least ``c = share *
        reg_covar`` along every axis (:meth:`_reg_covar_share`), and rounds it
        to the model's dtype once. Rounding a matrix's entries moves its
        eigenvalues by up to ``u = eps / 2`` times its Frobenius norm ``n``
        (Weyl's inequality; Golub & Van Loan, *Matrix Computations*, 4th ed.,
        Thm. 8.1.5). So the stored covariance is positive definite when
        ``c > u n``, and its precision (eigenvalues from ``1 / n`` to ``1 / c``,
        norm at most ``sqrt(D) / c``) when ``c > u sqrt(D) n``: with
        ``c >= 2 eps sqrt(D) n`` both hold with a factor 4 to spare, and
        nothing is factored. Otherwise the stored matrices are tested (a
        Cholesky factorisation, as code that uses them would take), and a
        warning names those that have none and the ``reg_covar`` that meets
        the bound. In float32, a variance below about
        ``1e-7`` times the largest (nearly collinear features) is enough. The
        precision Cholesky factors the kernels use stay valid factors
        (positive diagonals), and the model's densities do not depend on
        this; code that factors ``covariances_`` or ``precisions_`` does.
        """
        if self._dtype != np.float32 or self.covariance_type not in ("full", "tied"):
            return False
        covariances = np.asarray(self.covariances_, dtype=np.float64)
        covariances = covariances.reshape(-1, *covariances.shape[-2:])
        n_features = covariances.shape[-1]
        share = self._reg_covar_share()[: len(covariances)]
        bound = 2.0 * _FLOAT32_EPS * np.sqrt(n_features) * np.linalg.norm(covariances, axis=(1, 2))
        if (share * float(self.reg_covar) >= bound).all():
            return False
        failing = {}
        bad_components = np.zeros(len(covariances), dtype=bool)
        for name in ("covariances_", "precisions_"):
            stored = np.asarray(getattr(self, name), dtype=np.float64)
            bad = _without_cholesky(stored.reshape(-1, *stored.shape[-2:]))
            if bad.any():
                failing[name] = np.flatnonzero(bad)
                bad_components |= bad
        if not failing or not warn:
            return bool(failing)
        with np.errstate(divide="ignore"):
            needed = float(np.max(bound[bad_components] / share[bad_components]))
        which = "; ".join(
            name if self.covariance_type == "tied" else f"{name} of component(s) {list(map(int, bad))}"
            for name, bad in failing.items()
        )
        warn_at_caller(
            f"In float32, these fitted matrices are not positive definite as stored: {which}. "
            f"Some variance (reg_covar={self.reg_covar:g} along a collapsed axis, or nearly "
            "collinear features) is below float32's rounding of covariances whose norm "
            f"reaches {float(np.linalg.norm(covariances, axis=(1, 2)).max()):.3g}. The "
            "fitted densities (precisions_cholesky_) are unaffected, but code that factors "
            "covariances_ or precisions_ (Cholesky, scipy.stats.multivariate_normal) will "
            "fail on them. Fit the data as float64 (X.astype(np.float64); on the command "
            f"line, --dtype float64). Raising reg_covar to at least {_rounded_up(needed)} "
            "also avoids it, but swamps the spread of any feature whose variance is not "
            "well above that: standardise the features first (e.g. "
            "sklearn.preprocessing.StandardScaler).",
            RegularizationWarning,
        )
        return True

    def _m_step_family(self, stats):
        _, means, cov = self._weighted_moments(stats)
        unobserved = self._unobserved(stats)
        if unobserved.any():
            means, cov = self._marginal_where_unobserved(stats, unobserved, means, cov)
        self._set_gaussian(means, cov)

    # A component whose observed mass in a feature is at most this share of its mass is not
    # identified there. Its responsibilities for points it does not hold are tails: a point 6
    # standard deviations away keeps exp(-18) = 1.5e-8 of its weight, and no share of a few
    # such points tells where the feature lies for the component. A share, so the same with
    # sample_weight of any scale and with rows repeated as their weight says.
    _UNOBSERVED_SHARE = float(np.sqrt(np.finfo(np.float64).eps))

    def _unobserved(self, stats):
        """(n_components, n_features) bool: the features in which a component with mass has
        no observed value (``missing='em'``): every point it holds misses the feature, up to
        responsibilities of at most ``_UNOBSERVED_SHARE`` of its mass (which far points keep)."""
        observed = stats.moments.get("observed_nk")
        if observed is None:
            return np.zeros(stats.moments["sx"].shape, dtype=bool)
        nk = np.asarray(stats.nk, dtype=np.float64)[:, None]
        return (nk > 0) & (observed <= self._UNOBSERVED_SHARE * nk)

    @staticmethod
    def _data_marginal(stats):
        """``(means, variances)`` (n_features,), float64: the weighted mean and variance of
        each feature over its observed entries in the data of ``stats`` (``missing='em'``).

        Every point's responsibilities sum to its weight, so the components' observed-data
        moments (``observed_nk``, ``observed_sx`` around their means, ``observed_sxx``)
        summed over the components are the data's; re-expressed around the data's mean, the
        squares lose nothing to cancellation. A feature with no observed entry has mean 0
        and variance 0.
        """
        shift = np.asarray(stats.reference["shift"], dtype=np.float64)
        observed_nk, observed_sx, observed_sxx = _float64_arrays(
            stats.moments["observed_nk"], stats.moments["observed_sx"],
            stats.moments["observed_sxx"])
        mass = observed_nk.sum(axis=0)
        divisor = np.where(mass > 0, mass, 1.0)
        means = (observed_sx.sum(axis=0) + (observed_nk * shift).sum(axis=0)) / divisor
        c = shift - means
        squares = observed_sxx + (2 * observed_sx * c + observed_nk * c**2).sum(axis=0)
        return means, np.maximum(squares / divisor, 0.0)

    def _marginal_where_unobserved(self, stats, unobserved, means, cov):
        """The M-step's ``(means, covariances)`` (float64) with, in the features a component
        has no observed value of (``unobserved``, :meth:`_unobserved`), the data's marginal:
        the feature's weighted mean and variance over its observed entries
        (:meth:`_data_marginal`) plus ``reg_covar``, and covariances 0 with the other
        features.

        The data say nothing of those parameters (the observed-data likelihood of the points
        the component holds is the same for any value): the E-step's conditional
        expectations put the mean where the regression on the observed features drifts,
        and the variance up by ``reg_covar`` each iteration, and a start's value, held,
        could be anything (the hierarchical start's variance there is ``reg_covar``). The
        data's marginal is the same at every M-step and scores the points that do observe
        the feature as the data's spread says. Neither changes the observed-data
        likelihood of the points the component holds, so the fit still climbs it. 'tied'
        shares its covariance: its means there are the data's, and a feature some component
        observes keeps the M-step's variance and covariances (taken around the means of the
        M-step; around the data's means they would change the likelihood of the components
        that observe the feature, and it fell); one that no component observes is set as
        for 'full'. 'spherical' has one variance per component: the mean of its variances
        over the features it observes (with the data's variance of the others it would
        change in those, and so would the likelihood).
        """
        data_means, data_variances = self._data_marginal(stats)
        reg = float(self.reg_covar)
        means = np.where(unobserved, data_means, means)
        ctype = self.covariance_type
        if ctype == "tied":
            nk = np.asarray(stats.nk, dtype=np.float64)
            features = (unobserved | (nk == 0)[:, None]).all(axis=0)
            return means, self._marginal_matrix(cov[None], features[None],
                                                data_variances + reg)[0]
        if ctype == "full":
            return means, self._marginal_matrix(cov, unobserved, data_variances + reg)
        if ctype == "diag":
            return means, np.where(unobserved, data_variances + reg, cov)
        nk, sx, sxx, shift = _float64_arrays(
            stats.nk, stats.moments["sx"], stats.moments["sxx"], stats.reference["shift"]
        )
        own = np.empty(sxx.shape)
        diagonal_moments(nk, sx, sxx, shift, reg, np.empty(sx.shape), own)
        cov = cov.copy()
        for k in np.flatnonzero(unobserved.any(axis=1)):
            observed = ~unobserved[k]
            cov[k] = own[k][observed].mean() if observed.any() else (data_variances + reg).mean()
        return means, cov

    @staticmethod
    def _marginal_matrix(cov, unobserved, variances):
        """``cov`` (n, D, D) with, in each matrix k, the rows and columns of the features
        ``unobserved[k]`` 0 but for their diagonal, ``variances`` (D,) there: still positive
        definite."""
        cov = cov.copy()
        for k in np.flatnonzero(unobserved.any(axis=1)):
            u = np.flatnonzero(unobserved[k])
            cov[k][u, :] = 0.0
            cov[k][:, u] = 0.0
            cov[k][u, u] = variances[u]
        return cov

    def _warn_unobserved(self, stats):
        """Warn (UserWarning, as ExponentialMixture and PoissonMixture) of components with no
        observed value in a feature (:meth:`_unobserved`), of the statistics ``stats`` of the
        fitted parameters; return whether it warned."""
        unobserved = self._unobserved(stats)
        if not unobserved.any():
            return False
        shown = "; ".join(
            f"component {k}: feature(s) "
            f"{', '.join(self._feature_label(j) for j in np.flatnonzero(unobserved[k]))}"
            for k in np.flatnonzero(unobserved.any(axis=1)))
        warn_at_caller(
            f"With missing='em', components hold no observed value in some features "
            f"({shown}): every point they hold misses them, so the data say nothing of their "
            "means, variances and covariances there. There they take the data's mean and "
            "variance of the feature (over its observed entries, plus reg_covar) and "
            "covariances 0 with the other features; 'spherical' keeps the variance of the "
            "features they observe. Their imputations and the densities of points that do "
            "have those features rest on that choice: fit fewer components, or check why "
            "those features are missing together.",
            UserWarning,
        )
        return True

    def _weighted_moments(self, stats, reg_covar=None):
        """``(nk, means, covariances)`` of the responsibilities, float64, from summed statistics.

        ``nk`` as summed (0 for a component without mass); the covariances
        of the covariance type with ``reg_covar`` (default: the model's) added, as scikit-learn's
        ``_estimate_gaussian_parameters`` gives them, except that no
        ``10 * eps`` is added to the masses (:func:`~fastem.base.divisible_masses`).
        Computed by the compiled functions of :mod:`fastem.kernels.linalg`,
        bitwise as NumPy's array expressions (``tests/test_linalg.py``).
        """
        reg = float(self.reg_covar if reg_covar is None else reg_covar)
        nk, sx, sxx, shift = _float64_arrays(
            stats.nk, stats.moments["sx"], stats.moments["sxx"], stats.reference["shift"]
        )
        means = np.empty(sx.shape)
        if self.covariance_type in ("full", "tied"):
            cov = np.empty((len(nk), *sxx.shape[-2:]))
            centring_terms(nk, sx, shift, means, cov)
            if self.covariance_type == "full":
                full_covariances(nk, sxx, reg, cov)
                return nk, means, cov
            # NumPy's sums over the components, as the array form had them
            scatter = self._tied_scatter(sxx, stats.moments["pairs"], shift)
            eye = np.eye(shift.shape[1])
            return nk, means, (scatter + cov.sum(axis=0)) / nk.sum() + reg * eye
        variances = np.empty(sxx.shape)
        diagonal_moments(nk, sx, sxx, shift, reg, means, variances)
        if self.covariance_type == "spherical":
            return nk, means, variances.mean(axis=1)
        return nk, means, variances

    def _n_family_parameters(self):
        K, D = self.means_.shape
        cov = {
            "full": K * D * (D + 1) / 2.0,
            "tied": D * (D + 1) / 2.0,
            "diag": K * D,
            "spherical": K,
        }[self.covariance_type]
        return int(cov + K * D)

    def _sample_component(self, rng, k, n):
        mean = np.asarray(self.means_[k], dtype=np.float64)
        if self.covariance_type in ("full", "tied"):
            # By the Cholesky factor, as the densities: RandomState.multivariate_normal
            # factors by SVD and checks the product entry by entry (rtol 1e-8), so
            # positive definite covariances of features in units far apart
            # (variances 1e-6 and 1e10) were "not symmetric positive-semidefinite"
            # with NumPy's RuntimeWarning, and indefinite ones gave samples anyway.
            try:
                factor = np.linalg.cholesky(self._float64_covariances(k))
            except np.linalg.LinAlgError:
                raise ValueError(
                    f"covariances_ of component {k} is not positive definite, so no "
                    "samples can be drawn from it. Assign positive definite "
                    "covariances_, or refit the model."
                ) from None
            return mean + rng.standard_normal(size=(n, mean.shape[0])) @ factor.T
        cov = np.asarray(self.covariances_, dtype=np.float64)
        scale = np.sqrt(cov[k])
        return mean + rng.standard_normal(size=(n, mean.shape[0])) * scale


def feature_variances(covariances, covariance_type, shape):
    """Each component's variance in each feature, of shape ``shape`` (n_components,
    n_features): the diagonals of the ``covariance_type``'s ``covariances``, the one
    'tied' diagonal for every component, a 'spherical' component's variance for every
    feature (read-only views where they repeat)."""
    return {
        "full": lambda: np.diagonal(covariances, axis1=-2, axis2=-1),
        "tied": lambda: np.broadcast_to(np.diagonal(covariances), shape),
        "diag": lambda: covariances,
        "spherical": lambda: np.broadcast_to(covariances[:, None], shape),
    }[covariance_type]()


@fill_doc
class GaussianMixture(_GaussianComponents):
    """Gaussian mixture model fitted by EM with fused Numba kernels.

    A drop-in replacement for :class:`sklearn.mixture.GaussianMixture`: the same
    parameters, attributes and methods, plus ``sample_weight`` and the
    sufficient-statistics protocol (:meth:`summarize`, :meth:`m_step`).

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    covariance_type : {'full', 'tied', 'diag', 'spherical'}, default='full'
        'full': each component has its own covariance matrix; 'tied': all share
        one; 'diag': each has its own diagonal matrix; 'spherical': each has
        its own single variance.
    {tol}
    reg_covar : float, default=1e-6
        Non-negative regularisation added to the diagonal of covariances, in
        the data's units. The fit warns (:class:`~fastem.RegularizationWarning`)
        where it is at least a quarter of a feature's variance, or of a
        component's own variance in a feature ('tied': the pooled one,
        'spherical': each component's one variance): there the fitted
        variances are mostly ``reg_covar``, not the data's.
    max_iter : int, default=1000
        Passes over the data per initialization (one E-step and M-step each).
    n_init : int, default=1
        Number of initializations; the best result is kept.
        A start whose partition or EM run fails (a component without
        spread) is passed over when ``n_init > 1``; the fit raises the first
        failure only when every start fails.
    init_params : {'hierarchical', 'k-means++', 'kmeans', 'random', 'random_from_data'}, default='hierarchical'
        How the starting partition is chosen, on a subsample in standard units
        (see :mod:`fastem._init`). 'hierarchical': model-based agglomerative
        hierarchical clustering as in R's mclust (Fraley 1998; Scrucca &
        Raftery 2015), on at most 2,000 points; with ``n_init > 1`` the
        starts after the first use 'k-means++', and so does every start for
        more than 30 features, whose first start is the better of that
        k-means++ partition and its Lloyd refinement ('kmeans'), each run by
        EM on the data (about twice the time of one run). When the tree takes all of the data (at most
        2,000 points, fewer from 16 features on), its first start is the best
        of the tree's partition and ``max(0, 5 - n_init)`` k-means++
        partitions, each run by EM on the data, and its restarts draw
        k-means++ partitions of the same data in turn (so such a fit
        considers at least five starts, costs up to five fits, and never
        ends lower with more restarts; see ``BaseMixture._best_of_starts``).
        The others run on at most 100,000 points: 'k-means++' seeding,
        'kmeans' (k-means++ then Lloyd iterations), 'random'
        responsibilities, 'random_from_data' centres.
    weights_init : array-like of shape (n_components,), default=None
    means_init : array-like of shape (n_components, n_features), default=None
    precisions_init : array-like, default=None
        Shaped like ``precisions_`` for the covariance type.
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
        Start the next ``fit`` from the current solution (then ``n_init`` is ignored).
    verbose : int, default=0
        1 prints each initialization and every ``verbose_interval``-th
        iteration; 2 also prints the lower bound, its change and time per iteration.
    verbose_interval : int, default=10
    callback : callable, default=None
        ``callback(model, n_iter, lower_bound)`` is called after each EM
        iteration; returning True stops the fit early (see :meth:`fit`).
    {accelerate}
    step_exponent : float in (0.5, 1], default=0.7
        Online EM (:meth:`partial_fit`): the step size of the t-th update is
        ``eta_t = (t + step_offset) ** -step_exponent``. Closer to 0.5 forgets
        old batches faster; 1 averages all batches equally.
    step_offset : float >= 0, default=2.0
        Online EM: delays the decay of the step size, damping the first updates.
    missing : {'error', 'em'}, default='error'
        What a NaN entry of the data is. 'error': a ValueError, as for
        infinities. 'em': a missing value, missing at random; the fit is
        exact EM over the observed entries (Little & Rubin, *Statistical
        Analysis with Missing Data*, 2nd ed., ch. 8 and 11; Ghahramani &
        Jordan 1994): the E-step uses each point's marginal density over its
        observed coordinates, and the statistics add the conditional
        expectations of the missing coordinates and their conditional
        covariances. ``predict``, ``predict_proba``, ``score_samples`` and
        ``score`` then take incomplete rows with the same marginal, and
        :meth:`impute` fills NaN entries. Rows with no observed entry carry
        no information and are refused by ``fit``, ``partial_fit`` and
        ``summarize``; prediction gives them the mixing weights. Rows
        without NaN take the complete-data kernel unchanged. A component
        with no observed value of a feature (every point it holds misses
        it, up to responsibilities of at most 1.5e-8 of its mass) is not
        identified there: at every M-step its mean there is the data's
        weighted mean of the feature over its observed entries, its
        variance the data's variance of them plus ``reg_covar``, its
        covariances with the other features 0 ('tied' keeps its shared
        covariance; 'spherical' its variance, the mean over the features
        the component observes), and the fit warns (UserWarning).

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    means_ : ndarray of shape (n_components, n_features)
    covariances_ : ndarray
        (n_components, n_features, n_features) for 'full', (n_features,
        n_features) for 'tied', (n_components, n_features) for 'diag',
        (n_components,) for 'spherical'.
    precisions_ : ndarray, shaped like ``covariances_``
    precisions_cholesky_ : ndarray, shaped like ``covariances_``
        Upper-triangular factors ``U`` with ``U @ U.T == precisions_`` (full, tied).
    {fit_attributes}
    """

    _parameter_names = (
        "weights_",
        "means_",
        "covariances_",
        "precisions_cholesky_",
        "precisions_",
    )
    _init_parameter_names = ("weights_init", "means_init", "precisions_init")

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
        weights_init=None,
        means_init=None,
        precisions_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        callback=None,
        accelerate=True,
        step_exponent=0.7,
        step_offset=2.0,
        missing="error",
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
            step_exponent=step_exponent,
            step_offset=step_offset,
        )
        self.covariance_type = covariance_type
        self.reg_covar = reg_covar
        self.missing = missing
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init

    def impute(self, X, *, draw=False, random_state=None, out=None):
        """``X`` with each NaN entry filled under the fitted mixture.

        A row with observed coordinates ``O`` and missing ones ``M`` gets
        the conditional expectation under the mixture (Ghahramani & Jordan
        1994; Little & Rubin, *Statistical Analysis with Missing Data*,
        2nd ed., sec. 11.2),

        ``E[x_M | x_O] = sum_k p(k | x_O) (mu_kM + Sigma_kMO Sigma_kOO^-1 (x_O - mu_kO))``,

        with ``p(k | x_O)`` the component probabilities of :meth:`predict_proba`
        (the marginal over the observed coordinates). With ``draw=True`` the
        row draws instead: a component from ``p(k | x_O)``, then ``x_M``
        from that component's conditional Gaussian, with covariance
        ``Sigma_kMM - Sigma_kMO Sigma_kOO^-1 Sigma_kOM``; calls with
        different ``random_state`` give the completed data sets of multiple
        imputation (Rubin 1987). Observed entries are copied unchanged. A
        row with nothing observed gets the mixture's mean, or a draw from
        the mixture. The model need not have been fitted with
        ``missing='em'``.

        {impute_parameters}
        """
        return impute_with(self, X, draw, random_state, out)

    def _impute_rows(self, X, resp, uniforms, out):
        """Family hook of :func:`fastem.base.impute_with`: fill one chunk.

        In float64 where the model's passes over float32 data run in float64
        (:meth:`_computes_in_float64`: float64 parameters, or float32 ones
        that would cancel), as its responsibilities were computed.
        """
        if self._computes_in_float64(X.dtype):
            filled = np.empty(X.shape)
            self._impute_rows(X.astype(np.float64), resp, uniforms, filled)
            out[...] = filled
            return
        params = read_only_fields(self._kernel_params(X.dtype))
        if uniforms is None:
            choices, normals = np.empty(0), np.empty((0, X.shape[1]))
        else:  # standard normals by inversion of their distribution function
            from scipy.special import ndtri  # on use: scipy.special takes a third of the import

            choices, normals = uniforms[:, 0], ndtri(uniforms[:, 1:])
        # read-only and C-contiguous whatever the caller's: one compilation
        resp, choices, normals = (
            read_only(np.ascontiguousarray(a)) for a in (resp, choices, normals)
        )
        launch(impute_rows, X, resp, params, choices, normals, out,
               cost_per_row=X.shape[1] * (X.shape[1] + resp.shape[1]))

    def to_sklearn(self):
        """An equivalent fitted :class:`sklearn.mixture.GaussianMixture` (float64).

        Its hyper-parameters are this model's, except ``init_params='hierarchical'``,
        which scikit-learn does not have: it becomes scikit-learn's default
        'kmeans', so that the estimator can be cloned and fitted again there.
        fastem's own hyper-parameters (``missing``, ``accelerate``, ``step_exponent``,
        ``step_offset``, 'hierarchical') go with it as ``_fastem_hyper_parameters``,
        and :meth:`from_sklearn` gives them back (not ``callback``). The
        ``reg_covar`` that the parameters embody, where ``set_params`` changed it since
        the fit (a model file's ``fitted_settings``), goes with the estimator as
        ``_fastem_fitted_settings``, which :meth:`from_sklearn` reads back while the
        estimator holds the same ``precisions_cholesky_``, and so are a float32
        model's parameters, which it gives back bitwise as a float32 model.

        {to_sklearn_raises}
        """
        from ..io import gaussian_to_sklearn

        return gaussian_to_sklearn(self)

    @classmethod
    def from_sklearn(cls, estimator):
        """A GaussianMixture with the parameters of a fitted scikit-learn one.

        Its parameters embody the estimator's ``reg_covar``, or the one that
        :meth:`to_sklearn` recorded with them (``_fastem_fitted_settings``).

        Raises
        ------
        TypeError
            If ``estimator`` is not a fitted scikit-learn GaussianMixture.
        ValueError
            If it is not fitted, or its parameters are ones that ``save`` would
            refuse in a fastem model (see :meth:`to_sklearn`).
        """
        from ..io import gaussian_from_sklearn

        return gaussian_from_sklearn(cls, estimator)

    # -- family protocol ------------------------------------------------

    def _check_family_init(self, n_features):
        K = self._n_components
        if self.weights_init is not None:
            check_weights_init(self.weights_init, K)
        if self.means_init is not None:
            m = as_float_array(self.means_init, "means_init")
            if m.shape != (K, n_features):
                raise ValueError(
                    f"means_init must have shape (n_components, n_features) = "
                    f"({K}, {n_features}), got {m.shape}."
                )
            if not np.isfinite(m).all():
                raise ValueError(non_finite_entries(
                    m, "means_init", "Give a finite mean for every component, or leave "
                    "means_init None for the fit to choose them."))
            check_range(m.min(axis=0), m.max(axis=0), np.dtype(np.float64), name="means_init")
        if self.precisions_init is not None:
            p = as_float_array(self.precisions_init, "precisions_init")
            shape = _covariance_shape(self.covariance_type, K, n_features)
            if p.shape != shape:
                raise ValueError(
                    f"precisions_init must have shape {shape} for covariance_type="
                    f"{self.covariance_type!r}, got {p.shape}."
                )
            if not np.isfinite(p).all():
                raise ValueError(non_finite_entries(
                    p, "precisions_init", "Give finite precisions (inverse covariances), or "
                    "leave precisions_init None for the fit to choose them."))
            if self.covariance_type == "full":
                for k, matrix in enumerate(p):
                    _check_spd(matrix, f"precisions_init[{k}]")
            elif self.covariance_type == "tied":
                _check_spd(p, "precisions_init")
            elif (p <= 0).any():
                raise ValueError(
                    f"precisions_init must be positive, got minimum {p.min():.3g}."
                )

    def _check_in_dtype(self, dtype, starts):
        super()._check_in_dtype(dtype, starts)
        if not starts:
            return
        if self.means_init is not None:
            check_in_dtype(self.means_init, "means_init", dtype)
        if self.precisions_init is not None:
            # The covariances are the precisions' inverses, cast too.
            p = np.asarray(self.precisions_init, dtype=np.float64)
            positive = self.covariance_type in ("diag", "spherical")
            check_in_dtype(p, "precisions_init", dtype, positive=positive)
            check_in_dtype(self._factors_of_precisions_init()[1],
                           "precisions_init, inverted into covariances,", dtype,
                           positive=positive, fix="scale the data and precisions_init alike")

    def _check_starts_apart(self, dtype):
        if self.means_init is not None:
            precisions = None
            if self.precisions_init is not None and self.covariance_type != "tied":
                precisions = np.asarray(self.precisions_init, dtype=np.float64)
            check_distinct_starts(
                np.asarray(self.means_init, dtype=np.float64), "means_init", precisions,
                "precisions_init", dtype)

    def _em_stand_in(self, worker, source):
        """:class:`~fastem.families._gaussian_arrays.GaussianArrays` for float64 data in
        memory with ``missing='error'``, when no callback needs the working copy itself and
        the hooks and attributes the stand-in reproduces are GaussianMixture's own (none
        overridden or replaced)."""
        from ..data import ArraySource
        from ._gaussian_arrays import GaussianArrays

        if (
            self.callback is None
            and all(
                getattr(type(worker), name) is hook and name not in vars(worker)
                for name, hook in _STAND_IN_REPRODUCES.items()
            )
            and type(source) is ArraySource
            and np.dtype(source.dtype) == np.float64
            and not worker._fits_missing()
        ):
            return GaussianArrays(worker, source.n_features)
        return worker

    def _user_gives_every_parameter(self):
        return not any(p is None for p in (self.weights_init, self.means_init, self.precisions_init))

    def _init_family_from_user(self):
        dtype = self._dtype
        if self.weights_init is not None:
            self.weights_ = np.asarray(self.weights_init, dtype=dtype)
        if self.means_init is not None:
            self.means_ = np.asarray(self.means_init, dtype=dtype)
        if self.precisions_init is not None:
            pc, covariances = self._factors_of_precisions_init()
            self._set_precisions(pc, covariances_=covariances.astype(dtype))

    def _factors_of_precisions_init(self):
        """The upper Cholesky factors of ``precisions_init`` and the covariances, their
        inverses, in float64. The covariances are computed from the factors, as a fit's
        from its own: inverting the precisions of features in units far apart (spreads
        1e-2 and 1e6, a condition number of 1e16) warned of an ill-conditioned matrix,
        which the factorisation, exact to the rounding of each feature's scale, is not."""
        p = np.asarray(self.precisions_init, dtype=np.float64)
        if self.covariance_type in ("full", "tied"):  # symmetric within _check_spd's tolerance
            p = symmetric_part(p)
        if self.covariance_type == "full":
            pc = np.stack([_upper_factor(matrix) for matrix in p])
        elif self.covariance_type == "tied":
            pc = _upper_factor(p)
        else:
            pc = np.sqrt(p)
        return pc, covariances_from_cholesky(pc, self.covariance_type)

    def _params_from_moments(self, nk, means, covariances):
        if self.precisions_init is not None:  # the user's precisions replace the covariances
            self.means_ = np.asarray(means, dtype=self._dtype)
            return
        self._set_gaussian(means, self._regularized_covariances(nk, covariances))


# The hooks and attributes of GaussianMixture that its EM stand-in
# (``_gaussian_arrays.GaussianArrays``) reproduces or relies on: a subclass or a
# patch (of the class or of the instance) that replaces one of them fits through
# the estimator's own hooks.
_STAND_IN_REPRODUCES = {
    name: getattr(GaussianMixture, name)
    for name in (
        "_summarize", "_totals", "_run_kernel", "_kernel_params", "_pass_kernel_params",
        "_kernel_log_weights", "_fold_pass_statistics", "_pass_statistics_length",
        "_pass_context", "_reference", "m_step", "_m_step_family", "_set_gaussian",
        "_set_precisions", "_check_statistics", "_set_unconstrained",
        "_set_unconstrained_parameters", "_in_m_step_image", "_check_fitted_parameters",
        "_check_parameter_values", "_get_parameters", "_set_parameters", "_unconstrained",
        "_pass_checks_on", "_computes_in_float64", "_log_norm", "_tied_shift",
        "_check_parameters", "_lower_bound", "_parameter_names", "_regularization_name",
        "_named_parameters", "_check_is_fitted", "_fits_missing", "_m_step_allowance",
    )
}
