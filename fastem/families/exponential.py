"""Mixtures of exponential distributions with independent features."""

import copy

import numpy as np

from ..kernels.exponential import ExponentialParams
from ..kernels.independent_missing import ExponentialMissingParams
from .._collapse import MIN_VARIANCE_RATIO, floored_scale_reasons
from .._validation import parameter_as_float
from ..base import fill_doc
from ..exceptions import RegularizationWarning, warn_at_caller
from ._mean import MeanParameterMixture

__all__ = ["ExponentialMixture"]


@fill_doc
class ExponentialMixture(MeanParameterMixture):
    """Mixture of exponential distributions, fitted by EM with fused Numba kernels.

    Within a component the features are independent, and feature ``d`` of
    component ``k`` is exponential with mean ``scales_[k, d]``:

    ``log p(x | k) = sum_d (-log scales_[k, d] - x_d / scales_[k, d])``.

    Data must be non-negative (zeros are valid). The M-step sets each scale to
    the responsibility-weighted mean of the feature.

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
        :class:`~fastem.GaussianMixture` and :mod:`fastem._init`); the initial
        scales are the component means under it.
    weights_init : array-like of shape (n_components,), default=None
    scales_init : array-like of shape (n_components, n_features), default=None
        Positive initial scales (component means).
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
    min_scale : float in (0, 1), default=1e-6
        Floor of the scales, as a fraction of each feature's (weighted) mean
        over the data; for a feature that is zero in every sample, the floor is
        ``min_scale`` itself. Without it, a component whose points are all zero
        in a feature would get a scale of 0 and give every positive value zero
        density. It plays the part of ``reg_covar`` in Gaussian mixtures. A
        component at the floor in a feature that is not zero throughout sits
        on zeros, where its likelihood would grow without limit, or on positive
        points whose mean is below the floor (data spanning more orders of
        magnitude than ``1 / min_scale``): the fit warns
        (:class:`~fastem.RegularizationWarning`, naming the component, the
        feature and which of the two it is), and
        :func:`~fastem.select_n_components` flags such fits.
    {missing_independent}

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
    scales_ : ndarray of shape (n_components, n_features)
        Mean of each component and feature.
    rates_ : ndarray of shape (n_components, n_features)
        ``1 / scales_``, derived from ``scales_`` on access.
    {fit_attributes}

    Examples
    --------
    >>> import numpy as np
    >>> from fastem import ExponentialMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.concatenate([rng.exponential(0.1, 5000), rng.exponential(1.0, 5000)])
    >>> model = ExponentialMixture(2, random_state=0).fit(X[:, None])
    >>> np.sort(model.scales_.ravel()).round(1)
    array([0.1, 1. ])
    """

    _mean_name = "scales_"
    _complete_params_class = ExponentialParams
    _init_name = "scales_init"
    _floor_name = "min_scale"
    _domain = "non-negative data"
    _negative_hint = (
        "Pass non-negative values (durations, sizes, distances); if the data "
        "have a known offset, subtract it first."
    )

    def __init__(
        self,
        n_components=1,
        *,
        tol=1e-8,
        max_iter=1000,
        n_init=1,
        init_params="hierarchical",
        weights_init=None,
        scales_init=None,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        callback=None,
        accelerate=True,
        step_exponent=0.7,
        step_offset=2.0,
        missing="error",
        min_scale=1e-6,
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
        self.scales_init = scales_init
        self.min_scale = min_scale

    @property
    def rates_(self):
        """Rates ``1 / scales_``, of shape (n_components, n_features).

        Assigning rates assigns ``scales_ = 1 / rates_``, the parameter the model
        holds, in the rates' dtype (lists and integers as float64). Raises ValueError
        for rates that are not all positive and finite, which no scale inverts.
        """
        return 1 / self.scales_

    @rates_.setter
    def rates_(self, value):
        if value is None:  # named as an absent scales_ at its use
            self.scales_ = value
            return
        rates = parameter_as_float(value, "rates_")
        if not (np.isfinite(rates) & (rates > 0)).all():
            raise ValueError(
                f"rates_ must be positive and finite, got minimum {np.nanmin(rates):.6g}"
                f"{' and NaN' if np.isnan(rates).any() else ''}: the model holds "
                "scales_ = 1 / rates_. Assign positive rates, or scales_ itself."
            )
        self.scales_ = 1 / rates

    def _complete_kernel_params(self, dtype):
        rates = 1 / np.asarray(self.scales_, dtype=np.float64)
        return ExponentialParams(
            np.ascontiguousarray(rates, dtype=dtype),
            np.log(rates).sum(axis=1).astype(dtype),
        )

    def _linear_terms(self):
        """``(-rates, log(rates))``, float64 (n_components, n_features): the log-density is
        ``sum_d -rates[k, d] x_d + log(rates[k, d])``."""
        rates = 1 / np.asarray(self.scales_, dtype=np.float64)
        return -rates, np.log(rates)

    def _missing_kernel_params(self, dtype):
        # A 0 adds log(rate) to the log-density: the term a missing coordinate takes back.
        rates = 1 / np.asarray(self.scales_, dtype=np.float64)
        return ExponentialMissingParams(
            *self._complete_kernel_params(dtype), np.ascontiguousarray(np.log(rates), dtype=dtype)
        )

    def _complete_work_rows(self, n_features):
        return 0

    def _sample_component(self, rng, k, n):
        scales = np.asarray(self.scales_[k], dtype=np.float64)
        return rng.exponential(scales, size=(n, scales.shape[0]))

    def _component_quantile(self, k, u):
        """Component ``k``'s quantiles at ``u`` (n, n_features) in (0, 1): ``-scale log(1 - u)``."""
        return -np.asarray(self.scales_[k], dtype=np.float64) * np.log1p(-u)

    def _parameter_collapse_reasons(self, summary, min_variance_ratio=MIN_VARIANCE_RATIO):
        # The exponential density grows without limit as a scale falls to 0, on
        # points that are all 0 in that feature: a scale at min_scale's floor.
        # (min_variance_ratio is a rule of Gaussian components.)
        return floored_scale_reasons(self, summary.mean)

    def _gains_on_a_floor(self, move, worker, before, after):
        """Whether ``move`` is a wide split (``move.wide``, see :meth:`_moves`) and ``after``
        has more components at the ``min_scale`` floor
        (:func:`~fastem._collapse.floored_scale_reasons`) than ``before``: a split by 100
        towards small scales reaches zeros in the data, on which a component's
        likelihood grows without limit but for the floor (it put one on the zeros of
        durations rounded to whole units, which the fit took for one exponential twice).
        Other moves are kept as the highest runs are; one that empties a component is
        not kept either (:meth:`MeanParameterMixture._gains_on_a_floor`)."""
        if super()._gains_on_a_floor(move, worker, before, after):
            return True
        if not getattr(move, "wide", False):
            return False

        def floored(result):
            judge = copy.copy(worker)
            judge._set_parameters(result.parameters)
            return len(floored_scale_reasons(judge, judge._data_mean(result.stats)))

        return floored(after) > floored(before)

    def _check_regularization(self, stats, data=None):
        """Warn (RegularizationWarning) of components whose scale is at the ``min_scale``
        floor in a feature that is not zero throughout (:func:`~fastem._collapse.floored_scale_reasons`);
        return whether it warned.

        Such a component sits on points that are all 0 in that feature (stray
        zeros, values rounded down), where the exponential density grows
        without limit as the scale falls: its scale and the likelihood it
        adds are the floor's, not the data's, a spurious maximum as a
        Gaussian component on one point is. Or it sits on positive points
        whose mean is below the floor (data spanning more orders of magnitude
        than ``1 / min_scale``): the warning then says so, with their mean,
        and how far ``min_scale`` would have to fall to let them through. The
        components' own means are read from ``data`` where it is given (a
        ``partial_fit`` step's batch: the running statistics average them
        with those of earlier parameters), or from the running statistics for
        a component that holds none of the batch.
        """
        data_mean = self._data_mean(stats)
        means = self._means_before_the_floor(stats, data)
        reasons = floored_scale_reasons(self, data_mean, means)
        if not reasons:
            return False
        weights = np.asarray(self.weights_, dtype=np.float64)
        shown = "; ".join(f"component {k} (weight {weights[k]:.3g}): {why}"
                          for k, why in reasons.items())
        floor = self._floor(data_mean)
        floored = (np.asarray(self.scales_, dtype=np.float64) <= floor * (
            1.0 + 4.0 * np.finfo(self.scales_.dtype).eps)) & (data_mean > 0)
        # as floored_scale_reasons tells zeros from positive points
        positive = floored & (means > floor * np.finfo(np.float64).eps)
        if positive.any():
            # the ratio a floor would need to let the smallest such mean through, to a power of 10
            needed = 10.0 ** np.floor(np.log10(np.min((means / data_mean)[positive])) - 1.0)
            message = (
                "A component whose points are positive but far below the floor is held there: "
                "the data span more orders of magnitude than a scale may follow under "
                f"min_scale={self.min_scale:g} (a fraction of each feature's mean), and its "
                "scale and likelihood are the floor's, not the data's. Lower min_scale (to "
                f"{needed:.0e} or below), or fit the data in a narrower unit or on a log scale."
            )
        else:
            message = ""
        if (floored & ~positive).any():
            message += (
                (" " if message else "")
                + "Without the floor the density of a component whose points are all 0 would "
                "grow without limit on its zeros: its scale and likelihood are set by "
                f"min_scale={self.min_scale:g}, not by the data (a spurious maximum). If the "
                "zeros stand for values below the resolution of the measurement, replace "
                "them by half that resolution; otherwise fit fewer components or another "
                "init_params or random_state (select_n_components leaves such fits out)."
            )
        warn_at_caller(
            f"Scales at the min_scale floor in features that are not all 0: {shown}. {message}",
            RegularizationWarning,
        )
        return True
