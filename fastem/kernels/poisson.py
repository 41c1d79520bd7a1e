"""Block functions of the Poisson family (independent count features).

Component ``k`` draws each feature ``d`` from a Poisson distribution with
rate ``rates[k, d]``, so that

    log p(x | k) = sum_d (x_d * log rates[k, d] - rates[k, d] - lgamma(x_d + 1)).

The kernel receives ``log_rates`` and the per-component constant
``log_norm[k] = -sum_d rates[k, d]``. The term ``sum_d lgamma(x_d + 1)``
depends on the point only: it is computed once per point of a block, into
scratch row 0, and subtracted from every component's log-density. The counts
are whole numbers (the family checks), so ``lgamma(x + 1) = log(x!)`` comes
from a table below ``LOG_FACTORIAL_TABLE_SIZE`` and from Stirling's series
above it, branch-free so that the loop vectorises: ``math.lgamma`` is a
scalar libm call, and took two thirds of an iteration (10M counts, K=2).

The family statistics are ``sx`` (n_components, n_features), the
responsibility-weighted sums of the counts, accumulated by the same block as
the exponential family's.
"""

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .._config import FASTMATH
from ._fused import _log, _typed, register_family_kernels
from ._memory import prefetch_next
from .exponential import first_moments_block

__all__ = ["LOG_FACTORIALS", "PoissonParams", "WORK_ROWS"]

# Scratch rows the blocks need: row 0 holds sum_d lgamma(x_d + 1) per point.
WORK_ROWS = 1

# log(k!) for k < LOG_FACTORIAL_TABLE_SIZE. At the first count past the table,
# Stirling's series below is accurate to about 1e-24 before rounding.
LOG_FACTORIAL_TABLE_SIZE = 1024
LOG_FACTORIALS = np.array([math.lgamma(k + 1.0) for k in range(LOG_FACTORIAL_TABLE_SIZE)])
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class PoissonParams(NamedTuple):
    log_rates: np.ndarray  # (n_components, n_features)
    log_norm: np.ndarray  # (n_components,), minus the sum over features of the rates
    log_factorials: np.ndarray  # LOG_FACTORIALS in the data's dtype


@njit(inline="always", cache=True, fastmath=FASTMATH)
def _add_log_factorials(x, n, table, out):
    """INOUT out[i] += log(x[i]!) for whole numbers x[i] >= 0, i < n."""
    last = _typed(x, table.shape[0] - 1)
    one = _typed(x, 1.0)
    half = _typed(x, 0.5)
    half_log_2pi = _typed(x, _HALF_LOG_2PI)
    c1 = _typed(x, 1.0 / 12.0)
    c3 = _typed(x, 1.0 / 360.0)
    c5 = _typed(x, 1.0 / 1260.0)
    largest = x[0] if n > 0 else last
    for i in range(n):
        largest = max(largest, x[i])
    if largest <= last:  # the usual block of small counts: the table alone
        for i in range(n):
            out[i] += table[int(x[i])]
        return
    for i in range(n):
        v = x[i]
        from_table = table[int(min(v, last))]
        y = v + one
        r = one / y
        r2 = r * r
        stirling = (y - half) * _log(y) - y + half_log_2pi + r * (c1 - r2 * (c3 - r2 * c5))
        out[i] += from_table if v <= last else stirling


@njit(cache=True, fastmath=FASTMATH)
def _log_prob_block(params, xt, n, log_prob, work, prefetch):
    log_rates = params.log_rates
    n_components, n_features = log_rates.shape
    log_factorial = work[0]
    for i in range(n):
        log_factorial[i] = 0
    for j in range(n_features):
        _add_log_factorials(xt[j], n, params.log_factorials, log_factorial)
    for k in range(n_components):
        out = log_prob[k]
        lnorm = params.log_norm[k]
        for i in range(n):
            out[i] = lnorm - log_factorial[i]
        for j in range(n_features):
            prefetch_next(prefetch)
            lr = log_rates[k, j]
            x = xt[j]
            for i in range(n):
                out[i] += x[i] * lr


register_family_kernels(
    PoissonParams, _log_prob_block, first_moments_block,
    shapes={
        "log_rates": ("n_components", "n_features"),
        "log_norm": ("n_components",),
        "log_factorials": (LOG_FACTORIAL_TABLE_SIZE,),
    },
)
