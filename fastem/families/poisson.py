"""Mixtures of Poisson distributions over independent count features."""

import functools

import numpy as np

from .._validation import EntryError, find_non_integers
from ..kernels.independent_missing import PoissonMissingParams
from ..kernels.poisson import LOG_FACTORIALS, WORK_ROWS, PoissonParams, split
from ..base import fill_doc
from ..exceptions import RegularizationWarning, warn_at_caller
from ._mean import MeanParameterMixture

__all__ = ["PoissonMixture"]


@functools.lru_cache(maxsize=None)
def _log_factorials(dtype):
    """The log-factorial table as a read-only (hi, lo) pair in ``dtype``."""
    pair = split(LOG_FACTORIALS, dtype)
    for table in pair:
        table.flags.writeable = False
    return pair


# Nats a float32 log-density of a row with NaN may round by before such rows
# run in float64, within what complete rows' float32 blocks may round by
# (2e-3, fastem.kernels.poisson); at 1e-3, rows with NaN were off by 2.4e-4
# nats where complete rows were off by 2e-6. From rates summing to about 840.
_NAN_ROWS_ROUNDING = 1e-4
# Nats per point that a rate held at the min_rate floor may cost its component's points
# before the fit warns. The floor costs counts of mean m below it ``floor - m + m log(m /
# floor)`` nats each (zeros: the floor itself), which min_rate * the feature's mean makes
# 1e-6 nats at mean counts of 1 and 500 nats at 5e8 (zeros, or counts near 2, beside counts
# near 1e9: the floor of 500 gave them a mean log-likelihood of -250 where their own rates
# give -7.5, without a word).
_FLOOR_COST = 1e-2
# The largest rate numpy's Generator.poisson takes (numpy's POISSON_LAM_MAX, for int64).
_NUMPY_POISSON_MAX = np.iinfo(np.int64).max - 10 * np.sqrt(np.iinfo(np.int64).max)


def _anscombe(X):
    """Anscombe's variance-stabilising transform of counts, ``2 sqrt(x + 3/8)``: of
    Poisson counts of any rate above a few, the variance is about 1 (F. J. Anscombe,
    "The transformation of Poisson, binomial and negative-binomial data", Biometrika
    35, 1948). ``X``: ndarray of non-negative counts; returns an array of its shape."""
    return 2.0 * np.sqrt(X + 0.375)


@fill_doc
class PoissonMixture(MeanParameterMixture):
    """Mixture of Poisson distributions, fitted by EM with fused Numba kernels.

    Within a component the features are independent counts, and feature ``d``
    of component ``k`` is Poisson with rate ``rates_[k, d]``:

    ``log p(x | k) = sum_d (x_d log rates_[k, d] - rates_[k, d] - log(x_d!))``.

    Data must be non-negative whole numbers. Integer arrays are accepted and
    converted to float64; float arrays must hold integral values. The M-step
    sets each rate to the responsibility-weighted mean count.

    Parameters
    ----------
    n_components : int, default=1
        Number of mixture components.
    {tol}
    max_iter : int, default=1000
        Passes over the data per initialization (one E-step and M-step each).
    n_init : int, default=1
        Number of initializations; the best result is kept.
        A start whose partition or EM run fails (a component without
        spread) is passed over when ``n_init > 1``; the fit raises the first
        failure only when every start fails.
    init_params : {'hierarchical', 'k-means++', 'kmeans', 'random', 'random_from_data'}, default='hierarchical'
        How the starting partition is chosen (see
        :class:`~fastem.GaussianMixture` and :mod:`fastem._init`), on the
        counts' variance-stabilising transform ``2 sqrt(x + 3/8)`` (Anscombe
        1948); the initial rates are the component means under it.
    weights_init : array-like of shape (n_components,), default=None
    rates_init : array-like of shape (n_components, n_features), default=None
        Positive initial rates.
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
        Start the next ``fit`` from the current solution (then ``n_init`` is ignored).
    verbose : int, default=0
    verbose_interval : int, default=10
    callback : callable, default=None
        ``callback(model, n_iter, lower_bound)``, called after each iteration;
        returning True stops the fit.
    {accelerate}
    step_exponent : float in (0.5, 1], default=0.7
        Online EM (:meth:`partial_fit`): the step size of the t-th update is
        ``eta_t = (t + step_offset) ** -step_exponent``.
    step_offset : float >= 0, default=2.0
        Online EM: delays the decay of the step size, damping the first updates.
    min_rate : float in (0, 1), default=1e-6
        Floor of the rates, as a fraction of each feature's (weighted) mean
        count over the data; for a feature that is zero in every sample, the
        floor is ``min_rate`` itself. Without it, a component whose points are
        all zero in a feature would get a rate of 0 and give every positive
        count zero probability. Such a component is not a degenerate fit: the
        probability of a zero count is at most 1, so its likelihood is bounded,
        and at the floor it differs from the rate-0 limit by ``min_rate``
        times the mean count per point (a zero-inflation component). Beside
        counts of a far larger size (zeros or counts near 2 beside counts near
        1e9, whose mean puts the floor near 500), a component is held at the
        floor at a cost of about the floor per point: where a component at the
        floor costs its points more than 0.01 nats each, the fit warns
        (:class:`~fastem.RegularizationWarning`, naming the component, the
        feature and a ``min_rate`` that lets its counts through).
    {missing_independent}

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    rates_ : ndarray of shape (n_components, n_features)
        Mean count of each component and feature.
    {fit_attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from fastem import PoissonMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.poisson(2.0, 5000), rng.poisson(20.0, 5000)])
    >>> model = PoissonMixture(2, random_state=0).fit(X[:, None])
    >>> np.sort(model.rates_.ravel()).round(0)
    array([ 2., 20.])
    """

    _mean_name = "rates_"
    _complete_params_class = PoissonParams
    _init_name = "rates_init"
    _floor_name = "min_rate"
    _domain = "counts (non-negative whole numbers)"
    _negative_hint = "Pass counts; if the values are offset, subtract the offset first."
    # The start's partition is computed on the counts' square roots: in standard units of
    # the counts, the few large ones drew it (islands' areas, K=4: 836 nats below the peak
    # that a partition of the smaller counts reaches).
    _start_space = staticmethod(_anscombe)

    def __init__(
        self,
        n_components=1,
        *,
        tol=1e-8,
        max_iter=1000,
        n_init=1,
        init_params="hierarchical",
        weights_init=None,
        rates_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        callback=None,
        accelerate=True,
        step_exponent=0.7,
        step_offset=2.0,
        missing="error",
        min_rate=1e-6,
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
        self.missing = missing
        self.weights_init = weights_init
        self.rates_init = rates_init
        self.min_rate = min_rate

    def _check_data(self, X, first_row=0):
        super()._check_data(X, first_row)
        n_bad, first = find_non_integers(X)
        if n_bad:
            i, j = divmod(int(first), X.shape[1])
            raise EntryError(
                f"PoissonMixture models {self._domain}, but X has {{count}} value(s) "
                "that are not whole numbers, e.g. ",
                ". Pass integer counts; round them first (np.rint(X)) if they are counts "
                "stored with rounding noise.", first_row + i, j, float(X[i, j]), count=n_bad,
            )

    def _complete_kernel_params(self, dtype):
        rates = np.asarray(self.rates_, dtype=np.float64)
        log_rates, log_rates_low = split(np.log(rates), dtype)
        log_norm, log_norm_low = split(-rates.sum(axis=1), dtype)
        log_factorials, log_factorials_low = _log_factorials(np.dtype(dtype))
        rates_high, rates_low = split(rates, dtype)
        return PoissonParams(
            log_rates, log_norm, log_factorials, log_rates_low, log_norm_low, log_factorials_low,
            rates_high, rates_low,
        )

    def _linear_terms(self):
        """``(log(rates), -rates)``, float64 (n_components, n_features): the log-density is
        ``sum_d log(rates[k, d]) x_d - rates[k, d]`` less ``log(x_d!)``, the same for every
        component."""
        rates = np.asarray(self.rates_, dtype=np.float64)
        return np.log(rates), -rates

    def _floor_of_terms_of_x(self, low, high):
        """``-sum_d log(x_d!)`` at its least over ``[low, high]``: at the larger end, as
        ``log(x!)`` rises from ``x = 1`` and lies within 0.13 of 0 below it."""
        from scipy.special import gammaln

        ends = np.maximum(np.abs(low), np.abs(high))
        # gammaln, not math.lgamma: beyond about 2e305 log(x!) overflows to inf, not an error
        return -float(np.sum(gammaln(ends + 1.0))) - 0.13 * len(ends)

    def _missing_kernel_params(self, dtype):
        # A 0 adds -rate to the log-density: the term a missing coordinate takes back.
        rates = np.asarray(self.rates_, dtype=np.float64)
        return PoissonMissingParams(
            *self._complete_kernel_params(dtype), np.ascontiguousarray(-rates, dtype=dtype)
        )

    def _nan_rows_cancel_in_float32(self, statistics):
        """Whether a float32 row with NaN would round its log-density by more than ``_NAN_ROWS_ROUNDING``.

        A block writes 0 for a missing count, whose term ``-rate`` the
        missing-data block then takes back
        (``fastem.kernels.independent_missing``) from a float32 log-density
        of the size of the rates' sum: ``eps`` times that is lost (8 nats
        at rates of 1e8). Large rates send the float32 rows with NaN to
        float64, where the loss is below 1e-7 nats: for statistics and
        outputs alike.
        """
        rates = np.asarray(self.rates_, dtype=np.float64)
        return self._fits_missing() and bool(
            np.finfo(np.float32).eps * rates.sum(axis=1).max() > _NAN_ROWS_ROUNDING
        )

    def _complete_work_rows(self, n_features):
        return WORK_ROWS

    def _check_regularization(self, stats, data=None):
        """Warn (RegularizationWarning) of components whose rate is held at the ``min_rate``
        floor above the mean of their points at a cost of more than ``_FLOOR_COST`` nats
        per point; return whether it warned.

        The floor is ``min_rate`` times the feature's mean: beside counts near 1e9 it is
        about 1e3, and a component of zeros, or of small counts, is held there at a cost
        of about the floor per point. The components' own means are read as
        :class:`~fastem.ExponentialMixture` reads them
        (:meth:`_means_before_the_floor`).
        """
        data_mean = self._data_mean(stats)
        floor = self._floor(data_mean)
        means = self._means_before_the_floor(stats, data)
        rates = np.asarray(self.rates_, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            cost = floor - means + np.where(means > 0, means * np.log(means / floor), 0.0)
        costly = ((rates <= floor * (1.0 + 4.0 * np.finfo(self.rates_.dtype).eps))
                  & (means < floor) & (cost > _FLOOR_COST)
                  & (np.asarray(self.weights_)[:, None] > 0))
        if not costly.any():
            return False
        weights = np.asarray(self.weights_, dtype=np.float64)
        shown = "; ".join(
            f"component {k} (weight {weights[k]:.3g}): "
            + ", ".join(f"rate {rates[k, d]:.3g} of feature {self._feature_label(d)}, whose "
                        f"points average {means[k, d]:.3g}, at the min_rate floor "
                        f"({floor[d]:.3g}), {cost[k, d]:.3g} nats per point below their own "
                        f"rate's log-likelihood"
                        for d in np.flatnonzero(costly[k]))
            for k in np.flatnonzero(costly.any(axis=1)))
        # a floor at or below each such mean, or below _FLOOR_COST, costs them no more
        let_through = np.maximum(means, _FLOOR_COST) / np.where(data_mean > 0, data_mean, 1.0)
        needed = 10.0 ** np.floor(np.log10(np.min(let_through[costly])))
        warn_at_caller(
            f"Rates at the min_rate floor cost their points' likelihood: {shown}. The floor "
            f"is min_rate={self.min_rate:g} times each feature's mean count, and the counts "
            "span more orders of magnitude than a rate may follow under it: the rate and "
            "likelihood of such a component are the floor's, not the data's. Lower "
            f"min_rate (to {needed:.0e} or below), or fit the small and the large counts "
            "apart.",
            RegularizationWarning,
        )
        return True

    def _sample_component(self, rng, k, n):
        """``n`` counts of component ``k``: NumPy's Poisson draws, and for rates beyond
        what they take (about 9.2e18, near int64's largest count) rounded normal draws
        of mean and variance the rate: their skewness, 1 / sqrt(rate), is below 4e-10
        there."""
        rates = np.asarray(self.rates_[k], dtype=np.float64)
        beyond = rates > _NUMPY_POISSON_MAX
        if not beyond.any():
            return rng.poisson(rates, size=(n, rates.shape[0]))
        counts = rng.poisson(np.where(beyond, 0.0, rates), size=(n, rates.shape[0]))
        counts = counts.astype(np.float64)
        counts[:, beyond] = np.rint(
            rng.normal(rates[beyond], np.sqrt(rates[beyond]), size=(n, int(beyond.sum()))))
        return counts

    def _component_quantile(self, k, u):
        """Component ``k``'s quantiles at ``u`` (n, n_features) in (0, 1).

        The least count whose distribution function reaches ``u``. Where
        scipy's ``poisson.ppf`` gives none (NaN: rates from about 1e9 on, for
        quantiles below the mean), its Cornish-Fisher expansion with the
        continuity correction, ``rate + z sqrt(rate) + (z**2 - 1) / 6`` with
        ``z`` the normal quantile, whose error falls as ``1 / sqrt(rate)``.
        """
        from scipy import stats  # slow to import: only for the draws of impute

        rates = np.asarray(self.rates_[k], dtype=np.float64)
        quantiles = stats.poisson.ppf(u, rates)
        failed = np.isnan(quantiles)
        if failed.any():
            z = stats.norm.ppf(u)
            expansion = rates + z * np.sqrt(rates) + (z * z - 1.0) / 6.0
            quantiles[failed] = np.maximum(np.ceil(expansion - 0.5), 0.0)[failed]
        return quantiles
