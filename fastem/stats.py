"""Sufficient statistics: what a fused E-step returns, and what adds up.

The E-step of EM only ever needs sums over points. A chunk of data summarized
under fixed parameters becomes a :class:`SufficientStatistics`, and two
summaries taken under the same parameters merge with ``+``. Out-of-core
fitting, Dask, sample weights and any distributed engine are built on this:
summarize each piece wherever it lives, add the summaries, and hand the total
to the estimator's :meth:`~fastem.base.BaseMixture.m_step`.
"""

import numbers

import numpy as np

__all__ = ["SufficientStatistics"]


class SufficientStatistics:
    """Additive summary of data under fixed mixture parameters.

    Parameters
    ----------
    n_samples : float
        Sum of the sample weights (the number of points when unweighted).
    log_likelihood : float
        Sum over points of weight times log-likelihood under the parameters
        the summary was taken at.
    nk : ndarray of shape (n_components,)
        Sum over points of weight times responsibility, per component.
    moments : dict of str to ndarray
        The family's additive statistics, e.g. ``sx`` and ``sxx`` for Gaussians.
        All float64.
    reference : dict of str to ndarray, optional
        Non-additive arrays that define the frame of ``moments``, e.g. the
        ``shift`` around which Gaussian moments are taken. Two summaries add
        only when their references are equal.

    Examples
    --------
    >>> total = model.summarize(X[:1000]) + model.summarize(X[1000:])
    >>> model.m_step(total)  # same parameters as one EM step on all of X
    """

    # NumPy defers to this class's operators: an array plus statistics is their TypeError,
    # not an array of statistics, one per entry.
    __array_ufunc__ = None

    def __init__(self, n_samples, log_likelihood, nk, moments, reference=None):
        self.n_samples = float(n_samples)
        self.log_likelihood = float(log_likelihood)
        self.nk = np.asarray(nk, dtype=np.float64)
        self.moments = {name: np.asarray(v, dtype=np.float64) for name, v in moments.items()}
        self.reference = dict(reference or {})

    @property
    def mean_log_likelihood(self):
        """Log-likelihood per unit of sample weight."""
        return self.log_likelihood / self.n_samples

    def _check_compatible(self, other):
        if not isinstance(other, SufficientStatistics):
            raise TypeError(
                f"Cannot add sufficient statistics and a value of type "
                f"{type(other).__name__}: add the summaries of chunks "
                "(model.summarize(chunk)) to each other, starting from the first or from 0."
            )
        if self.nk.shape != other.nk.shape or self.moments.keys() != other.moments.keys():
            raise ValueError(
                "Cannot add sufficient statistics of different models: got "
                f"{self.nk.shape[0]} and {other.nk.shape[0]} components with moments "
                f"{sorted(self.moments)} and {sorted(other.moments)}. Summarize every "
                "chunk with the same estimator and parameters."
            )
        for name, value in self.reference.items():
            if name not in other.reference or not np.array_equal(value, other.reference[name]):
                raise ValueError(
                    f"Cannot add sufficient statistics taken at different parameters "
                    f"(their reference '{name}' differs). Summarize every chunk under the "
                    "same parameters before adding, or re-express one of them first."
                )

    def __add__(self, other):
        if isinstance(other, numbers.Number) and other == 0:  # lets sum() start from 0
            return self
        self._check_compatible(other)
        return SufficientStatistics(
            self.n_samples + other.n_samples,
            self.log_likelihood + other.log_likelihood,
            self.nk + other.nk,
            {name: value + other.moments[name] for name, value in self.moments.items()},
            self.reference,
        )

    __radd__ = __add__

    def scaled(self, factor):
        """Return the statistics with every additive part multiplied by ``factor``."""
        return SufficientStatistics(
            self.n_samples * factor,
            self.log_likelihood * factor,
            self.nk * factor,
            {name: value * factor for name, value in self.moments.items()},
            self.reference,
        )

    def __repr__(self):
        parts = ", ".join(f"{name}{value.shape}" for name, value in self.moments.items())
        return (
            f"SufficientStatistics(n_samples={self.n_samples:g}, "
            f"log_likelihood={self.log_likelihood:g}, n_components={self.nk.shape[0]}, "
            f"moments=[{parts}])"
        )
