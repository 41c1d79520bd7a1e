"""The shared part of mixtures whose components are fitted by their means.

In the exponential and Poisson families each feature of a component follows a
one-parameter distribution whose parameter is (or is one-to-one with) its
mean: the scale of an exponential, the rate of a Poisson. For such families
the M-step of EM is a weighted mean of the raw data,

    mean[k, d] = sum_i w_i r_ik x_id / nk[k],

so the only family statistics are ``sx`` (n_components, n_features), the
initial parameters are the component means of the initial responsibilities,
and the parameter count is ``n_components * n_features``. A family built on
:class:`MeanParameterMixture` supplies the kernel parameters, the scratch rows,
sampling, the quantile function of a component (``_component_quantile(k, u)``,
for the draws of ``impute``) and the name of its fitted mean.

With ``missing='em'`` a NaN entry is a missing value. The features are
independent given the component, so a missing coordinate drops out of the
density and out of its feature's statistics: ``sx`` sums the observed
entries, a second statistic ``observed_nk`` (n_components, n_features) sums
the responsibilities of the rows where each feature is observed, and

    mean[k, d] = sum_{i: x_id observed} w_i r_ik x_id / observed_nk[k, d]

(see :mod:`fastem.kernels.independent_missing`). The imputed value of a
missing entry is its conditional expectation ``sum_k p(k | x_O) mean[k, d]``.
A component with no observed value of a feature (``observed_nk[k, d]`` 0,
up to float64's rounding of its mass) is not identified there: its mean
keeps its value, the start's, and the fit warns.

A component whose points are all zero in a feature (or that loses all its
points) would get a mean of 0 there, and with it a density of 0 for any
positive value. The means are therefore floored at ``floor * data_mean[d]``,
``data_mean`` being the weighted mean of the feature over all the data (taken
from the statistics, so a summary-based fit floors the same way), or at
``floor`` itself for a feature that is zero everywhere.
"""

import functools
import numbers

import numpy as np

from .._validation import (
    EntryError, as_float_array, check_distinct_starts, check_in_dtype, check_range, check_scalar,
    check_weights_init, first_entry, scan_data)
from ..base import BaseMixture, divisible_masses, fill_doc, impute_with
from ..exceptions import warn_at_caller
from ..kernels.independent_missing import missing_work_rows
from ..stats import SufficientStatistics

__all__ = ["MeanParameterMixture"]


@fill_doc
class MeanParameterMixture(BaseMixture):
    """Base class for mixtures of independent features fitted by their means.

    Subclasses set ``_mean_name`` (the fitted attribute, e.g. ``"scales_"``),
    ``_init_name`` (the user-init parameter, e.g. ``"scales_init"``),
    ``_floor_name`` (the floor hyper-parameter, e.g. ``"min_scale"``) and
    ``_domain`` and ``_negative_hint`` (how an error message names valid data
    and how to fix invalid data), ``_complete_params_class`` (the class
    ``_complete_kernel_params`` returns), and implement
    ``_complete_kernel_params``, ``_missing_kernel_params``,
    ``_complete_work_rows``, ``_sample_component`` and ``_linear_terms``
    (the log-density's coefficients of ``x`` and its constants, per
    component and feature).
    """

    _mean_name = None
    _complete_params_class = None
    _init_name = None
    _floor_name = None
    # the start's covariances are not read: the variances cost the least
    _start_second_moments = "diag"
    _domain = "non-negative numbers"
    _non_negative_data = True
    # The kernels take x * rate (or x * log rate) and sum x in float64: no square of the
    # data is formed in their dtype (only the starts' standardisation squares, in float64).
    _squares_data = False
    _negative_hint = ""

    @property
    def _parameter_names(self):
        return ("weights_", self._mean_name)

    @property
    def _regularization_name(self):
        return self._floor_name

    def _anchor_points(self):
        # the components' means: data far from them are refused as for a Gaussian's
        return getattr(self, self._mean_name, None)

    @classmethod
    def _parameter_advice(cls, name):
        if name == "covariance_type":
            return (
                f": within a component of {cls.__name__} the features are independent, each "
                f"with its own mean ({cls._mean_name}), as in a Gaussian mixture's "
                "covariance_type='diag'; leave it out."
            )
        if name == "means_init":
            return f": its components' initial means are {cls._init_name}; pass them there."
        if name == "reg_covar":
            return (
                f": {cls._floor_name}, the floor of {cls._mean_name}, keeps its components from "
                "collapsing; set it instead."
            )
        return super()._parameter_advice(name)

    @property
    def _init_parameter_names(self):
        return ("weights_init", self._init_name)

    def _floor(self, data_mean):
        """The smallest mean the M-step gives, per feature: ``floor * data_mean``, or ``floor``."""
        return float(getattr(self, self._floor_name)) * np.where(data_mean > 0, data_mean, 1.0)

    def _set_component_means(self, means, data_mean):
        floored = np.maximum(np.asarray(means, dtype=np.float64), self._floor(data_mean))
        setattr(self, self._mean_name, floored.astype(self._dtype))

    def _observed_nk(self, stats):
        """The responsibility mass behind each mean, (n_components, n_features), float64."""
        if "observed_nk" in stats.moments:
            return stats.moments["observed_nk"]
        return np.broadcast_to(stats.nk[:, None], stats.moments["sx"].shape)

    def _observed_of_complete(self, stats):
        """``observed_nk`` (float64) of statistics ``stats`` of data without NaN: ``nk`` for
        every feature, which every point observes."""
        return {"observed_nk": np.repeat(np.asarray(stats.nk, dtype=np.float64)[:, None],
                                         stats.moments["sx"].shape[1], axis=1)}

    def _complete_of_observed(self, stats):
        """``sx`` of statistics of complete data from ``missing='em'`` statistics ``stats``,
        whose ``sx`` sums the observed entries alone: each component's missing entries
        counted at its mean of their M-step (``nk`` times it), so that a stream continued
        with another ``missing`` keeps the means of its last step."""
        nk = np.asarray(stats.nk, dtype=np.float64)[:, None]
        means = stats.moments["sx"] / divisible_masses(stats.moments["observed_nk"])
        current = getattr(self, self._mean_name, None)
        if current is not None and np.shape(current) == means.shape:
            # the M-step keeps the current mean where a component observes no value
            means = np.where(self._unobserved(stats), np.asarray(current, np.float64), means)
        return {"sx": nk * means}

    def _data_mean(self, stats):
        """The weighted mean of each feature over the data (its observed entries)."""
        if "observed_nk" not in stats.moments:
            return stats.moments["sx"].sum(axis=0) / stats.n_samples
        mass = stats.moments["observed_nk"].sum(axis=0)
        empty = np.flatnonzero(mass <= 0)
        if empty.size:
            raise ValueError(
                f"feature {self._feature_label(empty[0])} has no observed value in the data: "
                "a mixture cannot be fitted to it. Drop that column."
            )
        return stats.moments["sx"].sum(axis=0) / mass

    def _impossible_moment(self, stats):
        # sx sums non-negative data and observed_nk non-negative responsibilities
        for name, value in stats.moments.items():
            if (value < 0).any():
                return (f"{name} holds {float(value.min()):g}, but sums of {self._domain} "
                        "are never negative")
        return None

    def _in_m_step_image(self, stats):
        """Every mean at or above the floor, up to the rounding of the dtype."""
        floor = self._floor(self._data_mean(stats)) * (1.0 - 4.0 * np.finfo(self._dtype).eps)
        return bool((np.asarray(getattr(self, self._mean_name), dtype=np.float64) >= floor).all())

    # -- family protocol ------------------------------------------------

    def _check_parameters(self):
        super()._check_parameters()
        name = self._floor_name
        floor = check_scalar(getattr(self, name), name, numbers.Real, min_val=0.0,
                             include_min=False)
        if floor >= 1.0:
            # A floor at or above each feature's mean leaves no component below the mean:
            # the M-step raises every one there (min_scale=1e10 put every scale of a fit at
            # 1e10 times its feature's mean, without a word).
            raise ValueError(
                f"{name} must be below 1, got {getattr(self, name)!r}: it is a fraction of each "
                f"feature's mean, and a floor at or above the mean leaves no component below "
                f"it. Pass a small fraction (the default is 1e-6)."
            )

    def _check_data(self, X, first_row=0):
        _, lo, _ = scan_data(X, allow_nan=self._fits_missing())
        j = int(np.argmin(lo))
        if lo[j] < 0:
            row, column = first_entry(X, lambda part: part < 0)
            raise EntryError(
                f"Negative values in data passed to {type(self).__name__}, which models "
                f"{self._domain}: the smallest is {{smallest:g}}, in feature {{feature}}; the "
                "first is ",
                f". {self._negative_hint}", first_row + row, column, float(X[row, column]),
                smallest=float(lo[j]), feature=j,
            )

    def _check_family_init(self, n_features):
        K = self._n_components
        if self.weights_init is not None:
            check_weights_init(self.weights_init, K)
        means_init = getattr(self, self._init_name)
        if means_init is not None:
            name = self._init_name
            m = as_float_array(means_init, name)
            if m.shape != (K, n_features):
                raise ValueError(
                    f"{name} must have shape (n_components, n_features) = "
                    f"({K}, {n_features}), got {m.shape}."
                )
            refused = ~(np.isfinite(m) & (m > 0))
            if refused.any():
                k, j = np.argwhere(refused)[0]
                raise ValueError(
                    f"{name} must be finite and positive, got {m[k, j]:.3g} (component {k}, "
                    f"feature {j}; {np.count_nonzero(refused)} such entries in all). "
                    "Pass positive values, or leave it to the initialisation."
                )
            check_range(m.min(axis=0), m.max(axis=0), np.dtype(np.float64), name=name)

    def _check_in_dtype(self, dtype, starts):
        means_init = getattr(self, self._init_name)
        if starts and means_init is not None:
            check_in_dtype(means_init, self._init_name, dtype, positive=True)

    def _check_starts_apart(self, dtype):
        means_init = getattr(self, self._init_name)
        if means_init is not None:
            check_distinct_starts(np.asarray(means_init, dtype=np.float64), self._init_name,
                                  dtype=dtype)

    def _user_gives_every_parameter(self):
        return self.weights_init is not None and getattr(self, self._init_name) is not None

    def _init_family_from_user(self):
        dtype = self._dtype
        if self.weights_init is not None:
            self.weights_ = np.asarray(self.weights_init, dtype=dtype)
        means_init = getattr(self, self._init_name)
        if means_init is not None:
            setattr(self, self._mean_name, np.asarray(means_init, dtype=dtype))

    def _params_from_moments(self, nk, means, covariances):
        self._set_component_means(means, nk @ means / nk.sum())

    def _moment_shapes(self, n_features):
        shape = (self._n_components, n_features)
        return {"sx": shape, "observed_nk": shape} if self._fits_missing() else {"sx": shape}

    def _reference(self):
        return {}

    def _statistics_of_parameters(self):
        """``nk`` = the weights and ``sx`` = nk times each component's means (and, with
        ``missing='em'``, ``observed_nk`` = nk for every feature): the M-step divides them.

        With ``missing='em'``, a component that the fit recorded with no observed value of
        a feature (:meth:`_unobserved_of_the_parameters`) has ``observed_nk`` and ``sx`` 0
        there, as the statistics of the fit's data have: the M-step keeps its mean, and the
        stream's data set it once they observe the feature for it, without the mean the
        fit kept (its start's) counted as observed values."""
        weights = np.asarray(self.weights_, dtype=np.float64)
        means = np.asarray(getattr(self, self._mean_name), dtype=np.float64)
        moments = {"sx": weights[:, None] * means}
        if self._fits_missing():
            observed_nk = np.repeat(weights[:, None], means.shape[1], axis=1)
            unobserved = self._unobserved_of_the_fit()
            if unobserved is not None:
                observed_nk[unobserved] = 0.0
                moments["sx"][unobserved] = 0.0
            moments["observed_nk"] = observed_nk
        return SufficientStatistics(1.0, 0.0, weights, moments, self._reference())

    def _unobserved(self, stats):
        """(n_components, n_features) bool: the features in which a component with mass has
        no observed one (``missing='em'``): every point it holds misses the feature, up to
        responsibilities below float64's rounding of its mass (which far points keep)."""
        if "observed_nk" not in stats.moments:
            return np.zeros(stats.moments["sx"].shape, dtype=bool)
        nk = np.asarray(stats.nk, dtype=np.float64)[:, None]
        observed = stats.moments["observed_nk"]
        return (nk > 0) & (observed <= np.finfo(np.float64).eps * nk)

    def _m_step_family(self, stats):
        data_mean = self._data_mean(stats)
        mass = divisible_masses(self._observed_nk(stats))
        means = stats.moments["sx"] / mass
        unobserved = self._unobserved(stats)
        if unobserved.any():
            # The data say nothing of such a mean (the likelihood is flat in it): it keeps its
            # value, the start's, as EM leaves an unidentified parameter. Divided by a mass of
            # 0 (or by the few responsibilities that far points keep) it was the floor, or a
            # mean of points the component does not hold, without a word.
            current = getattr(self, self._mean_name, None)
            if current is None or np.shape(current) != means.shape:
                current = np.broadcast_to(data_mean, means.shape)
            means = np.where(unobserved, np.asarray(current, dtype=np.float64), means)
        self._set_component_means(means, data_mean)

    def _means_before_the_floor(self, stats, data=None):
        """The components' weighted means of their points, float64 (n_components, n_features),
        before the floor: of ``data`` where it is given (a ``partial_fit`` step's batch: the
        running statistics average them with those of earlier parameters), or of the
        running statistics ``stats`` for a component that holds none of the batch (and
        where ``data`` is None)."""
        own = stats if data is None else data
        with np.errstate(divide="ignore", invalid="ignore"):
            means = own.moments["sx"] / self._observed_nk(own)
            if data is not None:
                # a component that holds none of the batch (0 / 0): its points are the
                # running statistics' (zeros there would be a mean of 0, not NaN)
                means = np.where(np.isnan(means),
                                 stats.moments["sx"] / self._observed_nk(stats), means)
        return means

    def _warn_unobserved(self, stats):
        """Warn (UserWarning) of components with no observed value in a feature
        (:meth:`_unobserved`), whose means there are the start's, in the statistics ``stats``
        of the fitted parameters; return whether it warned."""
        unobserved = self._unobserved(stats)
        if not unobserved.any():
            return False
        shown = "; ".join(
            f"component {k}: feature(s) "
            f"{', '.join(self._feature_label(j) for j in np.flatnonzero(unobserved[k]))}"
            for k in np.flatnonzero(unobserved.any(axis=1)))
        warn_at_caller(
            f"With missing='em', components hold no observed value in some features "
            f"({shown}): "
            f"every point they hold misses them, so the data say nothing of their "
            f"{self._mean_name} there, which keep their starting values (the likelihood is the "
            "same for any value). Their imputations and the densities of points that do have "
            "those features rest on that start: fit fewer components, or give "
            f"{self._init_name} for them.",
            UserWarning,
        )
        return True

    def _first_params_class(self):
        return None if self._fits_missing() else self._complete_params_class

    def _kernel_params(self, dtype):
        if self._fits_missing():
            return self._missing_kernel_params(dtype)
        return self._complete_kernel_params(dtype)

    def _work_rows(self, n_features):
        rows = self._complete_work_rows(n_features)
        return missing_work_rows(rows, n_features) if self._fits_missing() else rows

    def _log_density_floor(self, low, high):
        """A lower bound of the weighted log-densities over the box ``[low, high]``, or None
        with ``missing='em'``: exact for the terms linear in ``x``
        (:meth:`_linear_terms`), each at the nearer end, with the family's bound
        of its terms of ``x`` alone (:meth:`_floor_of_terms_of_x`)."""
        if self._fits_missing():
            return None
        natural, constant = self._linear_terms()
        linear = np.minimum(natural * low, natural * high) + constant
        floors = self._kernel_log_weights() + linear.sum(axis=1)
        return float(np.max(floors)) + self._floor_of_terms_of_x(low, high)

    def _floor_of_terms_of_x(self, low, high):
        """A lower bound of the log-density's terms of ``x`` alone over ``[low, high]``.
        Default: 0, a family without such terms."""
        return 0.0

    def _relative_log_densities(self, X):
        """The kernel's weighted log-densities of the rows ``X`` less ``top . x`` and the
        terms of ``x`` alone, float64 of shape (n_rows, n_components), with ``top``
        the largest coefficient of each feature over the components.

        A component's log-density is ``sum_d natural[k, d] x_d + constant[k, d]``
        plus terms of ``x`` alone (:meth:`_linear_terms`), over the observed
        features. Taken as ``(natural[k] - top) . x``, a feature in which
        every component has the same parameter (a column of zeros, every
        component at the floor) adds exactly 0, however large its value: the
        rounding of its term no longer hides what tells the components apart.
        The data are non-negative, so that no such term is positive: a
        component's is -inf only where its own log-density is beyond float64
        (it has probability 0); taken less one component's (``natural[0]``),
        the others' overflowed to +inf past 1e308 / rate, whose probabilities
        were then NaN.
        """
        natural, constant = self._linear_terms()
        X = np.asarray(X, dtype=np.float64)
        observed = ~np.isnan(X)
        with np.errstate(over="ignore"):  # a component beyond float64: -inf, probability 0
            relative = (np.where(observed, X, 0.0) @ (natural - natural.max(axis=0)).T
                        + observed @ constant.T)
        return relative + self._kernel_log_weights()

    def impute(self, X, *, draw=False, random_state=None, out=None):
        """``X`` with each NaN entry filled under the fitted mixture.

        The features are independent given the component, so a row with
        observed coordinates ``O`` gets, for a missing feature ``d``, the
        conditional expectation (Little & Rubin, *Statistical Analysis with
        Missing Data*, 2nd ed., sec. 11.2)

        ``E[x_d | x_O] = sum_k p(k | x_O) mean[k, d]``,

        with ``p(k | x_O)`` the component probabilities of :meth:`predict_proba`
        (the marginal over the observed coordinates) and ``mean`` the fitted
        component means. With ``draw=True`` the row draws instead: a component
        from ``p(k | x_O)``, then its missing features from that component's
        distribution; calls with different ``random_state`` give the completed
        data sets of multiple imputation (Rubin 1987). Observed entries are
        copied unchanged. A row with nothing observed gets the mixture's mean,
        or a draw from the mixture. The model need not have been fitted with
        ``missing='em'``.

        {impute_parameters}
        """
        return impute_with(self, X, draw, random_state, out)

    def _impute_rows(self, X, resp, uniforms, out):
        """Family hook of :func:`fastem.base.impute_with`: fill one chunk."""
        means = np.asarray(getattr(self, self._mean_name), dtype=np.float64)
        out[...] = X
        rows = np.flatnonzero(np.isnan(X).any(axis=1))
        if uniforms is None:
            filled = np.asarray(resp[rows], dtype=np.float64) @ means
        else:
            # As GaussianMixture.impute: a row's first uniform number picks its component,
            # the others give its coordinates by inversion.
            uniforms = uniforms[rows]
            cumulative = np.cumsum(np.asarray(resp[rows], dtype=np.float64), axis=1)
            components = np.minimum((cumulative <= uniforms[:, :1]).sum(axis=1), len(means) - 1)
            filled = np.empty((rows.size, X.shape[1]))
            for k in range(len(means)):
                chosen = np.flatnonzero(components == k)
                filled[chosen] = self._component_quantile(k, uniforms[chosen, 1:])
        part = X[rows]
        out[rows] = np.where(np.isnan(part), filled, part)

    def _unconstrained_parameters(self, parameters):
        """The logarithms of the component means."""
        return np.log(np.asarray(parameters[self._mean_name], dtype=np.float64)).ravel()

    def _set_unconstrained_parameters(self, theta):
        current = getattr(self, self._mean_name)
        with np.errstate(over="ignore"):
            means = np.exp(theta).reshape(current.shape).astype(self._dtype)
        if not (np.isfinite(means).all() and np.all(means > 0)):
            raise ValueError(f"extrapolated {self._mean_name} outside (0, inf)")
        setattr(self, self._mean_name, means)

    def _parameter_shapes(self, n_features):
        K = self._n_components
        return {"weights_": (K,), self._mean_name: (K, n_features)}

    def _check_parameter_values(self):
        means = getattr(self, self._mean_name)
        if not (means > 0).all():
            raise ValueError(
                f"{self._mean_name} must be positive, got minimum {float(means.min()):.3g}. "
                "Refit the model, or assign the parameters of a fitted one."
            )

    def _n_family_parameters(self):
        return getattr(self, self._mean_name).size

    # -- moves out of local optima (see BaseMixture._escape_local_optimum) ----

    # Two components whose means differ by at most this fraction in every
    # feature are one component counted twice. EM brings such a pair together
    # slowly and stops (at ``tol``) before it meets: three exponentials on 600
    # small values and 12 near 1e4 stopped with scales 7650.3 and 7670.1, 0.26%
    # apart, which a run at tol=0 brought to 7657.9 twice, 0.86 nats below the
    # peak that a move reaches.
    _DUPLICATE = 1e-2
    # A split starts the two halves of a component at its means times and divided by
    # one of these factors, tried in this order: 2 first, then 100, for a small group of
    # values far below the rest (short survival times among long ones), which the
    # halves of a split by 2 leave to the rest: positive survival times of R's MASS::Aids2
    # (2,814) stayed at one exponential twice, 15.9 nats below the peak whose second
    # component holds the 2.5% of values near 9 days, and BIC chose K=1 for them.
    _SPLITS = (2.0, 100.0)

    def _gains_on_a_floor(self, move, worker, before, after):
        """Whether ``move`` is a wide split (``move.wide``, see :meth:`_moves`) and ``after``
        has more components of weight 0 than ``before``: a component split off by 100
        that EM empties adds nothing to the likelihood, and the run's gain is rounding (a
        Poisson pair on counts near 4 with holes, missing='em', ended with a component of
        weight 0 at the rate floor, and the fit warned of an empty component). Families
        add their own spurious maxima (:meth:`ExponentialMixture._gains_on_a_floor`)."""
        if not getattr(move, "wide", False):
            return False

        def emptied(result):
            return int(np.sum(np.asarray(
                worker._named_parameters(result.parameters)["weights_"]) == 0))

        return emptied(after) > emptied(before)

    def _moves(self, worker, result):
        """Merge-and-split moves from a run that ended with one component counted twice.

        EM for these families often converges to a fit in which two
        components share their means: the fit of one component fewer, at a
        local maximum of the likelihood (the data of the pair are less
        dispersed than a mixture of two would need), while another component
        stands for data that two would fit better. The partitions that start
        a fit are drawn in standard units, where heavy-tailed data are one
        cluster of small values and a few far ones: every start of three
        exponentials for R's ``islands`` (48 areas) ended with two components
        on the 8 largest areas, 1.1 nats below the peak that splits the small
        ones, and of the 2,167 Danish fire losses 8.2 nats below.

        When two components (``a``, ``b``) have means within ``_DUPLICATE``
        of each other, each move merges them into ``a`` (summed weight,
        weighted mean, as their statistics add up) and splits one other
        component ``j`` (or the merged one) into ``j`` and ``b``: half its
        weight each, its means multiplied and divided by a factor of
        ``_SPLITS`` (Ueda, Nakano, Ghahramani and Hinton 2000, "SMEM algorithm
        for mixture models", Neural Computation 12). The components are tried
        in turn for each factor, the smaller factor first; a fit without
        duplicates has no moves. The splits by a factor beyond the first are
        ``wide`` (an attribute of the move), which a family may refuse to keep
        where they gain on a spurious maximum (:meth:`_gains_on_a_floor`).
        """
        named = worker._named_parameters(result.parameters)
        weights = np.asarray(named["weights_"], dtype=np.float64)
        means = np.asarray(named[self._mean_name], dtype=np.float64)
        close = np.abs(means[:, None, :] - means[None, :, :]) <= self._DUPLICATE * np.maximum(
            means[:, None, :], means[None, :, :])
        # An empty component (weight 0) counts nothing twice: the M-step puts its means
        # at the floor, beside a component on zeros, and a move revived it there (a
        # start at weight 0 took 17% of the data, without the warning of its start).
        held = weights > 0
        close &= (held[:, None] & held[None, :])[:, :, None]
        pairs = np.argwhere(np.triu(close.all(axis=2), k=1))
        if not len(pairs):
            return
        a, b = pairs[0]
        merged_weights = weights.copy()
        merged_means = means.copy()
        merged_weights[a] = weights[a] + weights[b]
        merged_means[a] = (weights[a] * means[a] + weights[b] * means[b]) / merged_weights[a]
        for factor in self._SPLITS:
            for j in range(len(weights)):
                if j == b:
                    continue
                split_weights = merged_weights.copy()
                split_means = merged_means.copy()
                split_weights[[j, b]] = merged_weights[j] / 2.0
                split_means[j] = merged_means[j] * factor
                split_means[b] = merged_means[j] / factor
                move = functools.partial(_start_at, weights=split_weights, means=split_means)
                # a family may refuse what a wide split gains on a spurious maximum
                # (ExponentialMixture._gains_on_a_floor)
                move.wide = factor > self._SPLITS[0]
                yield move


def _start_at(model, weights, means):
    """Set a mean-parameter mixture's weights and means (float64) in its dtype."""
    model._set_parameters({"weights_": weights.astype(model._dtype),
                           model._mean_name: means.astype(model._dtype)})
