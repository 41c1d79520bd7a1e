"""Block functions of the Gaussian family, one pair per covariance type.

Each covariance type has its own log-density block because their costs differ:
a full Gaussian needs a triangular product per point, a diagonal one only
scaled squares. Statistics are accumulated around a shift, the means at which
the E-step is taken, so that second moments of data far from the origin do not
cancel. The layout of the family statistics is ``sx`` (first moments around the
shift, (n_components, n_features)) followed by ``sxx`` (second moments around
the shift: (n_components, n_features, n_features) for 'full',
(n_features, n_features) summed over components for 'tied', and
(n_components, n_features) for 'diag' and 'spherical').

In every params tuple, ``log_norm[k]`` is the log of the normalising constant,
``sum(log(diag(precisions_cholesky[k]))) - n_features / 2 * log(2 pi)``.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from .._config import FASTMATH
from ._fused import register_family_kernels


class FullParams(NamedTuple):
    means: np.ndarray  # (n_components, n_features)
    precisions_cholesky: np.ndarray  # (n_components, n_features, n_features), upper
    log_norm: np.ndarray  # (n_components,)


class TiedParams(NamedTuple):
    means: np.ndarray  # (n_components, n_features)
    precisions_cholesky: np.ndarray  # (n_features, n_features), upper
    log_norm: np.ndarray  # (n_components,)


class DiagParams(NamedTuple):
    means: np.ndarray  # (n_components, n_features)
    precisions_cholesky: np.ndarray  # (n_components, n_features)
    log_norm: np.ndarray  # (n_components,)


class SphericalParams(NamedTuple):
    means: np.ndarray  # (n_components, n_features)
    precisions_cholesky: np.ndarray  # (n_components,)
    log_norm: np.ndarray  # (n_components,)


_JIT = dict(cache=True, fastmath=FASTMATH)


@njit(inline="always", **_JIT)
def _centre(xt, n, mean, d):
    """OUT d[j, i] = xt[j, i] - mean[j] for the first n points."""
    for j in range(mean.shape[0]):
        m = mean[j]
        for i in range(n):
            d[j, i] = xt[j, i] - m


@njit(inline="always", **_JIT)
def _triangular_log_prob(d, n, precisions_cholesky, log_norm, y, out):
    """OUT out[i] = log_norm - |d[:, i]^T U|^2 / 2, with U upper triangular."""
    for i in range(n):
        out[i] = 0
    for j in range(d.shape[0]):
        for i in range(n):
            y[i] = 0
        for l in range(j + 1):
            c = precisions_cholesky[l, j]
            for i in range(n):
                y[i] += d[l, i] * c
        for i in range(n):
            out[i] += y[i] * y[i]
    for i in range(n):
        out[i] = log_norm - 0.5 * out[i]


@njit(inline="always", **_JIT)
def _first_moments(resp_k, d, n, stats, offset):
    """INOUT stats[offset + j] += sum_i resp_k[i] * d[j, i]."""
    for j in range(d.shape[0]):
        s = 0.0
        for i in range(n):
            s += resp_k[i] * d[j, i]
        stats[offset + j] += s


@njit(inline="always", **_JIT)
def _outer_moments(resp_k, d, n, stats, offset):
    """INOUT lower triangle of stats[offset:].reshape(D, D) += sum_i r d d^T."""
    n_features = d.shape[0]
    for j in range(n_features):
        for l in range(j + 1):
            s = 0.0
            for i in range(n):
                s += resp_k[i] * d[j, i] * d[l, i]
            stats[offset + j * n_features + l] += s


@njit(inline="always", **_JIT)
def _square_moments(resp_k, d, n, stats, offset):
    """INOUT stats[offset + j] += sum_i resp_k[i] * d[j, i]^2."""
    for j in range(d.shape[0]):
        s = 0.0
        for i in range(n):
            s += resp_k[i] * d[j, i] * d[j, i]
        stats[offset + j] += s


# Work rows: row 0 holds a per-point vector, rows 1..n_features the centred block.


@njit(**_JIT)
def _full_log_prob(params, xt, n, log_prob, work):
    for k in range(params.means.shape[0]):
        _centre(xt, n, params.means[k], work[1:])
        _triangular_log_prob(
            work[1:], n, params.precisions_cholesky[k], params.log_norm[k], work[0], log_prob[k]
        )


@njit(**_JIT)
def _tied_log_prob(params, xt, n, log_prob, work):
    for k in range(params.means.shape[0]):
        _centre(xt, n, params.means[k], work[1:])
        _triangular_log_prob(
            work[1:], n, params.precisions_cholesky, params.log_norm[k], work[0], log_prob[k]
        )


@njit(**_JIT)
def _diag_log_prob(params, xt, n, log_prob, work):
    means = params.means
    n_components, n_features = means.shape
    for k in range(n_components):
        out = log_prob[k]
        for i in range(n):
            out[i] = 0
        for j in range(n_features):
            m = means[k, j]
            c = params.precisions_cholesky[k, j]
            for i in range(n):
                y = (xt[j, i] - m) * c
                out[i] += y * y
        lnorm = params.log_norm[k]
        for i in range(n):
            out[i] = lnorm - 0.5 * out[i]


@njit(**_JIT)
def _spherical_log_prob(params, xt, n, log_prob, work):
    means = params.means
    n_components, n_features = means.shape
    for k in range(n_components):
        out = log_prob[k]
        for i in range(n):
            out[i] = 0
        for j in range(n_features):
            m = means[k, j]
            for i in range(n):
                y = xt[j, i] - m
                out[i] += y * y
        c = params.precisions_cholesky[k]
        half_c2 = 0.5 * c * c
        lnorm = params.log_norm[k]
        for i in range(n):
            out[i] = lnorm - half_c2 * out[i]


@njit(**_JIT)
def _full_accumulate(params, xt, n, resp, work, stats):
    n_components, n_features = params.means.shape
    d = work[1:]
    second = n_components * n_features
    for k in range(n_components):
        _centre(xt, n, params.means[k], d)
        _first_moments(resp[k], d, n, stats, k * n_features)
        _outer_moments(resp[k], d, n, stats, second + k * n_features * n_features)


@njit(**_JIT)
def _tied_accumulate(params, xt, n, resp, work, stats):
    n_components, n_features = params.means.shape
    d = work[1:]
    second = n_components * n_features
    for k in range(n_components):
        _centre(xt, n, params.means[k], d)
        _first_moments(resp[k], d, n, stats, k * n_features)
        _outer_moments(resp[k], d, n, stats, second)


@njit(**_JIT)
def _diagonal_accumulate(params, xt, n, resp, work, stats):
    n_components, n_features = params.means.shape
    d = work[1:]
    second = n_components * n_features
    for k in range(n_components):
        _centre(xt, n, params.means[k], d)
        _first_moments(resp[k], d, n, stats, k * n_features)
        _square_moments(resp[k], d, n, stats, second + k * n_features)


register_family_kernels(FullParams, _full_log_prob, _full_accumulate)
register_family_kernels(TiedParams, _tied_log_prob, _tied_accumulate)
register_family_kernels(DiagParams, _diag_log_prob, _diagonal_accumulate)
register_family_kernels(SphericalParams, _spherical_log_prob, _diagonal_accumulate)


def work_rows(n_features):
    """Rows of per-partition scratch the Gaussian blocks need."""
    return n_features + 1
