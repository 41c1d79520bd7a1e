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

The three terms are each of the order of ``x log x`` while their sum, the
log-density, is of the order of ``log x``: in float32 they cancel, by 2.8 nats
at counts of 1e6 and by hundreds at 1e8 (positive log-probabilities appear).
A float32 block whose counts all fit the table (< 1024) and whose points'
log-factorials sum to at most that of the table's last count (about 6,000:
the terms of a point then sum to below about 15,000 in magnitude, rounded by
below about 2e-3 nats) is computed in float32; with 20 features and counts
of 300, a bound on each count alone let points round by 0.014 nats. Any
other float32 block is computed per point in float64, from parameters passed
as float32 pairs ``hi + lo`` (``log_rates`` + ``log_rates_low``, ...), which
carry 48 bits: the cost of float64 arithmetic is paid only by blocks that
need it.
In float64 the same cancellation costs below 1.6e-9 nats up to counts of
``DEVIANCE_FROM`` (2**20); a block with a larger count is computed in the
deviance form of R's ``dpois`` (Loader 2000), exact to rounding at any count
(:func:`_log_prob_block_deviance`): before it, counts of 1e12 rounded by 3e-3
nats and counts of 1e15 by nats, silently. With ``missing='em'``, a missing
count's term ``-rate`` is taken back from a log-density of that size, which
still loses ``eps * rate`` (2.5e-6 nats under a rate of 1e12).

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
from ._math import log64
from ._memory import prefetch_next
from .exponential import first_moments_block

__all__ = ["LOG_FACTORIALS", "PoissonParams", "WORK_ROWS", "split"]

# Scratch rows the blocks need: row 0 holds sum_d lgamma(x_d + 1) per point
# (in the float64 path of a float32 block, its float32 high part, and row 1
# the low part).
WORK_ROWS = 2

# log(k!) for k < LOG_FACTORIAL_TABLE_SIZE. At the first count past the table,
# Stirling's series below is accurate to about 1e-24 before rounding.
LOG_FACTORIAL_TABLE_SIZE = 1024
LOG_FACTORIALS = np.array([math.lgamma(k + 1.0) for k in range(LOG_FACTORIAL_TABLE_SIZE)])
# The largest sum of a point's log-factorials that a float32 block takes: the
# log-factorial of the table's last count, so that one feature keeps the
# whole table. A point's terms sum to about 2.5 times it in magnitude.
_FLOAT32_LOG_FACTORIALS = LOG_FACTORIALS[-1]
_HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


class PoissonParams(NamedTuple):
    log_rates: np.ndarray  # (n_components, n_features)
    log_norm: np.ndarray  # (n_components,), minus the sum over features of the rates
    log_factorials: np.ndarray  # LOG_FACTORIALS in the data's dtype
    # What rounding to the data's dtype left of each (zeros for float64 data):
    # the float64 path adds them back.
    log_rates_low: np.ndarray  # (n_components, n_features)
    log_norm_low: np.ndarray  # (n_components,)
    log_factorials_low: np.ndarray  # (LOG_FACTORIAL_TABLE_SIZE,)
    # The rates themselves, as hi + lo pairs, for blocks of large counts
    # (_log_prob_block_deviance).
    rates: np.ndarray  # (n_components, n_features)
    rates_low: np.ndarray  # (n_components, n_features)


def split(values, dtype):
    """``(hi, lo)`` in ``dtype`` with ``hi + lo`` equal to float64 ``values`` to 48 bits."""
    values = np.asarray(values, dtype=np.float64)
    hi = np.ascontiguousarray(values, dtype=dtype)
    lo = np.ascontiguousarray(values - hi.astype(np.float64), dtype=dtype)
    return hi, lo


@njit(inline="always", cache=True, fastmath=FASTMATH)
def _add_log_factorials(x, n, table, out):
    """INOUT out[i] += log(x[i]!) for whole numbers x[i] >= 0, i < n; returns the largest x[i]."""
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
        return largest
    for i in range(n):
        v = x[i]
        from_table = table[int(min(v, last))]
        y = v + one
        r = one / y
        r2 = r * r
        stirling = (y - half) * _log(y) - y + half_log_2pi + r * (c1 - r2 * (c3 - r2 * c5))
        out[i] += from_table if v <= last else stirling
    return largest


@njit(inline="always", cache=True, fastmath=FASTMATH)
def _log_factorial64(v, table, table_low):
    """log(v!) in float64 for a whole number v >= 0 (float64), table as hi + lo pairs."""
    last = table.shape[0] - 1
    if v <= last:
        k = int(v)
        return np.float64(table[k]) + np.float64(table_low[k])
    y = v + 1.0
    r = 1.0 / y
    r2 = r * r
    series = r * (1.0 / 12.0 - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0)))
    return (y - 0.5) * log64(y) - y + _HALF_LOG_2PI + series


# From this count on, a block's log-densities are computed in the deviance form
# (_log_prob_block_deviance): x log(rate) rounds by about x |log rate| eps, 1.6e-9
# nats below it, and its three terms cancel.
DEVIANCE_FROM = 2.0**20


@njit(inline="always", cache=True, fastmath=FASTMATH)
def _bd0(x, rate):
    """``x log(x / rate) + rate - x`` without cancellation (Loader 2000, "Fast and accurate
    computation of binomial probabilities", the ``bd0`` of R's ``dpois``), float64, x > 0."""
    d = x - rate
    if abs(d) < 0.1 * (x + rate):
        v = d / (x + rate)
        s = d * v
        ej = 2.0 * x * v
        v2 = v * v
        for j in range(1, 64):  # |v| < 1/11: each term is at most 1/121 of the last
            ej *= v2
            following = s + ej / (2 * j + 1)
            if following == s:
                break
            s = following
        return s
    return x * log64(x / rate) - d


@njit(cache=True, fastmath=FASTMATH)
def _log_prob_block_deviance(params, xt, n, log_prob, work, prefetch):
    """The log-densities of a block with a count of at least ``DEVIANCE_FROM``, in float64.

    ``x log(rate) - rate - log(x!)`` has terms of the order of ``x log x``
    whose sum is of the order of ``log x``: at counts of 1e12 it rounded by
    3e-3 nats in float64, at 1e15 by nats. A count of at least
    ``DEVIANCE_FROM`` takes the form of R's ``dpois`` (Loader 2000):
    ``-bd0(x, rate) - log(2 pi x) / 2 - stirlerr(x)``, with Stirling's
    remainder ``stirlerr(x) = 1/(12 x) - 1/(360 x^3)`` (the next term is
    below 1e-33 there); smaller counts keep the usual form.
    """
    log_rates, log_rates_low = params.log_rates, params.log_rates_low
    rates, rates_low = params.rates, params.rates_low
    n_components, n_features = log_rates.shape
    for k in range(n_components):
        prefetch_next(prefetch)
        out = log_prob[k]
        for i in range(n):
            acc = 0.0
            for j in range(n_features):
                x = np.float64(xt[j, i])
                rate = np.float64(rates[k, j]) + np.float64(rates_low[k, j])
                if x < DEVIANCE_FROM:
                    log_rate = np.float64(log_rates[k, j]) + np.float64(log_rates_low[k, j])
                    acc += x * log_rate - rate - _log_factorial64(
                        x, params.log_factorials, params.log_factorials_low
                    )
                else:
                    r = 1.0 / x
                    stirlerr = r * (1.0 / 12.0 - r * r * (1.0 / 360.0))
                    acc -= _bd0(x, rate) + _HALF_LOG_2PI + 0.5 * log64(x) + stirlerr
            out[i] = acc


@njit(cache=True, fastmath=FASTMATH)
def _log_prob_block_float64(params, xt, n, log_prob, work, prefetch):
    """The log-densities of a float32 block, computed in float64 point by point."""
    log_rates, log_rates_low = params.log_rates, params.log_rates_low
    n_components, n_features = log_rates.shape
    high = work[0]
    low = work[1]
    for i in range(n):
        total = 0.0
        for j in range(n_features):
            total += _log_factorial64(
                np.float64(xt[j, i]), params.log_factorials, params.log_factorials_low
            )
        h = high.dtype.type(total)
        high[i] = h
        low[i] = total - np.float64(h)
    for k in range(n_components):
        prefetch_next(prefetch)
        out = log_prob[k]
        norm = np.float64(params.log_norm[k]) + np.float64(params.log_norm_low[k])
        for i in range(n):
            acc = norm - (np.float64(high[i]) + np.float64(low[i]))
            for j in range(n_features):
                rate = np.float64(log_rates[k, j]) + np.float64(log_rates_low[k, j])
                acc += np.float64(xt[j, i]) * rate
            out[i] = acc


@njit(cache=True, fastmath=FASTMATH)
def _log_prob_block(params, xt, n, log_prob, work, prefetch):
    log_rates = params.log_rates
    n_components, n_features = log_rates.shape
    if xt.itemsize == 4:
        last = _typed(xt, params.log_factorials.shape[0] - 1)
        largest = _typed(xt, 0.0)
        for j in range(n_features):
            row = xt[j]
            for i in range(n):
                largest = max(largest, row[i])
        if largest >= DEVIANCE_FROM:
            _log_prob_block_deviance(params, xt, n, log_prob, work, prefetch)
            return
        if largest > last:  # float32 would cancel: this block in float64
            _log_prob_block_float64(params, xt, n, log_prob, work, prefetch)
            return
    log_factorial = work[0]
    for i in range(n):
        log_factorial[i] = 0
    largest = _typed(xt, 0.0)
    for j in range(n_features):
        largest = max(largest, _add_log_factorials(xt[j], n, params.log_factorials, log_factorial))
    if largest >= DEVIANCE_FROM:  # float64 would cancel: the deviance form
        _log_prob_block_deviance(params, xt, n, log_prob, work, prefetch)
        return
    if xt.itemsize == 4:
        most = log_factorial[0] if n > 0 else _typed(xt, 0.0)
        for i in range(n):
            most = max(most, log_factorial[i])
        if most > _FLOAT32_LOG_FACTORIALS:  # the terms of a point sum too large: float64
            _log_prob_block_float64(params, xt, n, log_prob, work, prefetch)
            return
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
        "log_rates_low": ("n_components", "n_features"),
        "log_norm_low": ("n_components",),
        "log_factorials_low": (LOG_FACTORIAL_TABLE_SIZE,),
        "rates": ("n_components", "n_features"),
        "rates_low": ("n_components", "n_features"),
    },
)
