"""Blocks for data with missing entries (NaN) in families of independent features.

Within a component of an exponential or Poisson mixture the features are
independent, so the log-density of a point is a sum of one term per feature,
``log p(x | k) = sum_d f_kd(x_d)``, and the marginal density of its observed
coordinates ``O`` simply leaves the other terms out (Little & Rubin,
*Statistical Analysis with Missing Data*, 2nd ed., sec. 11.2; Ghahramani &
Jordan 1994):

    log p(x_O | k) = sum_{d in O} f_kd(x_d).

EM on the observed data treats the component labels as the missing data: the
E-step takes the responsibilities ``r_ik`` from these marginals, and the
M-step maximises ``sum_i sum_k r_ik sum_{d in O_i} log f_kd(x_id)``, one
feature at a time. For a family fitted by its means it sets

    mean[k, d] = sum_{i: d in O_i} r_ik x_id / sum_{i: d in O_i} r_ik,

so the statistics are the family's ``sx`` summed over the observed entries
and the per-feature responsibility mass ``observed_nk[k, d]``, the
denominator (``nk[k]`` when nothing is missing).

The blocks wrap the family's complete-data blocks rather than repeat them.
The log-density block writes 0 in place of each NaN of the transposed block,
records where they were (scratch rows after the family's own), runs the
complete-data block, and subtracts the term a 0 contributed,
``zero_log_density[k, d] = f_kd(0)`` (``log rates`` for the exponential,
``-rates`` for the Poisson), for each missing coordinate. The statistics
block runs right after it on the same block and scratch (the fused E-step
calls the two in that order): the family's ``sx`` then adds 0 for the
missing entries, and ``observed_nk`` leaves them out. A block without NaN
costs one pass over its entries (the scan) and a sum per component more than
the complete-data blocks.
"""

from typing import NamedTuple

import numpy as np
from numba import njit
from numba.extending import overload

from .._config import BLOCK_SIZE, FASTMATH
from ._fused import _typed, register_family_kernels
from .exponential import _log_prob_block as _exponential_log_prob
from .exponential import first_moments_block
from .poisson import LOG_FACTORIAL_TABLE_SIZE
from .poisson import _log_prob_block as _poisson_log_prob

__all__ = ["ExponentialMissingParams", "PoissonMissingParams", "missing_work_rows"]


class ExponentialMissingParams(NamedTuple):
    """:class:`~fastem.kernels.exponential.ExponentialParams` and the terms of a 0, for data with NaN."""

    rates: np.ndarray  # (n_components, n_features)
    log_norm: np.ndarray  # (n_components,)
    zero_log_density: np.ndarray  # (n_components, n_features): log rates


class PoissonMissingParams(NamedTuple):
    """:class:`~fastem.kernels.poisson.PoissonParams` and the terms of a 0, for data with NaN."""

    log_rates: np.ndarray
    log_norm: np.ndarray
    log_factorials: np.ndarray
    log_rates_low: np.ndarray
    log_norm_low: np.ndarray
    log_factorials_low: np.ndarray
    rates: np.ndarray
    rates_low: np.ndarray
    zero_log_density: np.ndarray  # (n_components, n_features): -rates


_JIT = dict(cache=True, fastmath=FASTMATH)


def _count_rows(n_features):
    return -(-n_features // BLOCK_SIZE)


def missing_work_rows(family_rows, n_features):
    """Scratch rows: the family's own, one indicator row per feature, then the per-feature counts."""
    return family_rows + n_features + _count_rows(n_features)


@njit(inline="always", **_JIT)
def _missing_rows(work, n_features):
    """Views of the last rows of ``work``: (indicators (n_features, BLOCK_SIZE), counts (n_features,))."""
    n_counts = (n_features + work.shape[1] - 1) // work.shape[1]
    last = work.shape[0] - n_counts
    return work[last - n_features : last], work[last:].reshape(-1)[:n_features]


def _complete_log_prob(params, xt, n, log_prob, work, prefetch):
    """The family's complete-data log-density block (Numba only)."""
    raise NotImplementedError("_complete_log_prob is only callable from Numba code")


@overload(_complete_log_prob, jit_options=_JIT)
def _overload_complete_log_prob(params, xt, n, log_prob, work, prefetch):
    block = {
        ExponentialMissingParams: _exponential_log_prob,
        PoissonMissingParams: _poisson_log_prob,
    }.get(getattr(params, "instance_class", None))
    if block is not None:
        return lambda params, xt, n, log_prob, work, prefetch: block(
            params, xt, n, log_prob, work, prefetch
        )
    return None


@njit(**_JIT)
def _missing_log_prob(params, xt, n, log_prob, work, prefetch):
    """OUT log_prob[k, i] = log p(x_O | k); INOUT xt: NaN become 0; OUT the NaN's places in ``work``."""
    zero_log_density = params.zero_log_density
    n_components, n_features = zero_log_density.shape
    missing, counts = _missing_rows(work, n_features)
    zero = _typed(xt, 0.0)
    one = _typed(xt, 1.0)
    total = zero
    for j in range(n_features):
        row = xt[j]
        gap = missing[j]
        count = zero
        for i in range(n):
            v = row[i]
            absent = v != v
            gap[i] = one if absent else zero
            row[i] = zero if absent else v
            count += gap[i]
        counts[j] = count
        total += count
    _complete_log_prob(params, xt, n, log_prob, work, prefetch)
    if total == zero:
        return
    for k in range(n_components):
        out = log_prob[k]
        for j in range(n_features):
            if counts[j] > zero:
                term = zero_log_density[k, j]
                gap = missing[j]
                for i in range(n):
                    out[i] -= gap[i] * term


@njit(**_JIT)
def _missing_accumulate(params, xt, n, resp, work, stats, prefetch):
    """INOUT stats: the family's ``sx`` over the observed entries, then ``observed_nk``.

    Reads the NaN's places that :func:`_missing_log_prob` left in ``work`` for this block.
    """
    n_components, n_features = params.zero_log_density.shape
    first_moments_block(params, xt, n, resp, work, stats, prefetch)
    missing, counts = _missing_rows(work, n_features)
    observed_nk = n_components * n_features
    for k in range(n_components):
        r = resp[k]
        mass = 0.0
        for i in range(n):
            mass += np.float64(r[i])
        for j in range(n_features):
            s = mass
            if counts[j] > 0:
                gap = missing[j]
                s = 0.0
                for i in range(n):
                    s += np.float64(r[i]) * (1.0 - np.float64(gap[i]))
            stats[observed_nk + k * n_features + j] += s


_K, _D = "n_components", "n_features"
register_family_kernels(
    ExponentialMissingParams, _missing_log_prob, _missing_accumulate,
    shapes={"rates": (_K, _D), "log_norm": (_K,), "zero_log_density": (_K, _D)},
)
register_family_kernels(
    PoissonMissingParams, _missing_log_prob, _missing_accumulate,
    shapes={
        "log_rates": (_K, _D),
        "log_norm": (_K,),
        "log_factorials": (LOG_FACTORIAL_TABLE_SIZE,),
        "log_rates_low": (_K, _D),
        "log_norm_low": (_K,),
        "log_factorials_low": (LOG_FACTORIAL_TABLE_SIZE,),
        "rates": (_K, _D),
        "rates_low": (_K, _D),
        "zero_log_density": (_K, _D),
    },
)
