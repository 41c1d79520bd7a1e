"""Block functions of the Poisson family (independent count features).

Component ``k`` draws each feature ``d`` from a Poisson distribution with
rate ``rates[k, d]``, so that

    log p(x | k) = sum_d (x_d * log rates[k, d] - rates[k, d] - lgamma(x_d + 1)).

The kernel receives ``log_rates`` and the per-component constant
``log_norm[k] = -sum_d rates[k, d]``. The term ``sum_d lgamma(x_d + 1)``
depends on the point only: it is computed once per point of a block, into
scratch row 0, and subtracted from every component's log-density.

The family statistics are ``sx`` (n_components, n_features), the
responsibility-weighted sums of the counts, accumulated by the same block as
the exponential family's.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .._config import FASTMATH
from ._fused import register_family_kernels
from .exponential import first_moments_block

__all__ = ["PoissonParams", "WORK_ROWS"]

# Scratch rows the blocks need: row 0 holds sum_d lgamma(x_d + 1) per point.
WORK_ROWS = 1


class PoissonParams(NamedTuple):
    log_rates: np.ndarray  # (n_components, n_features)
    log_norm: np.ndarray  # (n_components,), minus the sum over features of the rates


@njit(cache=True, fastmath=FASTMATH)
def _log_prob_block(params, xt, n, log_prob, work):
    log_rates = params.log_rates
    n_components, n_features = log_rates.shape
    log_factorial = work[0]
    for i in range(n):
        log_factorial[i] = 0
    for j in range(n_features):
        x = xt[j]
        for i in range(n):
            log_factorial[i] += math.lgamma(x[i] + 1)
    for k in range(n_components):
        out = log_prob[k]
        lnorm = params.log_norm[k]
        for i in range(n):
            out[i] = lnorm - log_factorial[i]
        for j in range(n_features):
            lr = log_rates[k, j]
            x = xt[j]
            for i in range(n):
                out[i] += x[i] * lr


register_family_kernels(PoissonParams, _log_prob_block, first_moments_block)
