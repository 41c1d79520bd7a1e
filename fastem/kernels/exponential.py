"""Block functions of the exponential family (independent features).

Component ``k`` draws each feature ``d`` from an exponential distribution with
mean ``scales[k, d]``, so that

    log p(x | k) = sum_d (-log scales[k, d] - x_d * rates[k, d]),

with ``rates = 1 / scales``. The kernel receives the rates and the
per-component constant ``log_norm[k] = sum_d log rates[k, d]``, so a block
costs one multiply-add per point, feature and component and no logarithm.

The family statistics are ``sx`` (n_components, n_features): the
responsibility-weighted sums of the raw data. Exponential data are
non-negative, so raw sums do not cancel and need no shift.
"""

from typing import NamedTuple

import numpy as np
from numba import njit

from .._config import FASTMATH
from ._fused import register_family_kernels
from ._memory import prefetch_next

__all__ = ["ExponentialParams", "first_moments_block"]


class ExponentialParams(NamedTuple):
    rates: np.ndarray  # (n_components, n_features), 1 / scales
    log_norm: np.ndarray  # (n_components,), sum over features of log(rates)


_JIT = dict(cache=True, fastmath=FASTMATH)


@njit(**_JIT)
def _log_prob_block(params, xt, n, log_prob, work, prefetch):
    rates = params.rates
    n_components, n_features = rates.shape
    for k in range(n_components):
        out = log_prob[k]
        lnorm = params.log_norm[k]
        for i in range(n):
            out[i] = lnorm
        for j in range(n_features):
            prefetch_next(prefetch)
            r = rates[k, j]
            x = xt[j]
            for i in range(n):
                out[i] -= x[i] * r


@njit(**_JIT)
def first_moments_block(params, xt, n, resp, work, stats, prefetch):
    """INOUT ``stats[k * n_features + j] += sum_i resp[k, i] * xt[j, i]``, summed in float64.

    The statistics block of every family whose M-step is a weighted mean of
    the raw data (exponential, Poisson).
    """
    n_components = resp.shape[0]
    n_features = xt.shape[0]
    for k in range(n_components):
        r = resp[k]
        for j in range(n_features):
            prefetch_next(prefetch)
            x = xt[j]
            s = 0.0
            for i in range(n):
                s += np.float64(r[i]) * np.float64(x[i])
            stats[k * n_features + j] += s


register_family_kernels(
    ExponentialParams, _log_prob_block, first_moments_block,
    shapes={"rates": ("n_components", "n_features"), "log_norm": ("n_components",)},
)
