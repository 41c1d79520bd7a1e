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
sampling and the name of its fitted mean.

A component whose points are all zero in a feature (or that loses all its
points) would get a mean of 0 there, and with it a density of 0 for any
positive value. The means are therefore floored at ``floor * data_mean[d]``,
``data_mean`` being the weighted mean of the feature over all the data (taken
from the statistics, so a summary-based fit floors the same way), or at
``floor`` itself for a feature that is zero everywhere.
"""

import numbers

import numpy as np

from .._validation import as_float_array, check_scalar, check_weights_init, scan_data
from ..base import BaseMixture

__all__ = ["MeanParameterMixture"]


class MeanParameterMixture(BaseMixture):
    """Base class for mixtures of independent features fitted by their means.

    Subclasses set ``_mean_name`` (the fitted attribute, e.g. ``"scales_"``),
    ``_init_name`` (the user-init parameter, e.g. ``"scales_init"``),
    ``_floor_name`` (the floor hyper-parameter, e.g. ``"min_scale"``) and
    ``_domain`` and ``_negative_hint`` (how an error message names valid data
    and how to fix invalid data), and implement
    ``_kernel_params``, ``_work_rows`` and ``_sample_component``.
    """

    _mean_name = None
    _init_name = None
    _floor_name = None
    _domain = "non-negative numbers"
    _non_negative_data = True
    _negative_hint = ""

    @property
    def _parameter_names(self):
        return ("weights_", self._mean_name)

    @property
    def _regularization_name(self):
        return self._floor_name

    @property
    def _init_parameter_names(self):
        return ("weights_init", self._init_name)

    def _floor(self, data_mean):
        """The smallest mean the M-step gives, per feature: ``floor * data_mean``, or ``floor``."""
        return getattr(self, self._floor_name) * np.where(data_mean > 0, data_mean, 1.0)

    def _set_component_means(self, means, data_mean):
        floored = np.maximum(np.asarray(means, dtype=np.float64), self._floor(data_mean))
        setattr(self, self._mean_name, floored.astype(self._dtype))

    @staticmethod
    def _data_mean(stats):
        return stats.moments["sx"].sum(axis=0) / stats.n_samples

    def _in_m_step_image(self, stats):
        """Every mean at or above the floor, up to the rounding of the dtype."""
        floor = self._floor(self._data_mean(stats)) * (1.0 - 4.0 * np.finfo(self._dtype).eps)
        return bool((np.asarray(getattr(self, self._mean_name), dtype=np.float64) >= floor).all())

    # -- family protocol ------------------------------------------------

    def _check_parameters(self):
        super()._check_parameters()
        check_scalar(
            getattr(self, self._floor_name), self._floor_name, numbers.Real,
            min_val=0.0, include_min=False,
        )

    def _check_data(self, X):
        _, lo, _ = scan_data(X)
        j = int(np.argmin(lo))
        if lo[j] < 0:
            raise ValueError(
                f"Negative values in data passed to {type(self).__name__}, which models "
                f"{self._domain}: the smallest is {lo[j]:g}, in feature {j}. "
                f"{self._negative_hint}"
            )

    def _check_family_init(self, n_features):
        K = self.n_components
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
            if not np.isfinite(m).all() or (m <= 0).any():
                raise ValueError(
                    f"{name} must be finite and positive, got minimum {m.min():.3g}. "
                    "Pass positive values, or leave it to the initialisation."
                )

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
        return {"sx": (self.n_components, n_features)}

    def _reference(self):
        return {}

    def _m_step_family(self, stats):
        nk = stats.nk + 10 * np.finfo(np.float64).eps
        sx = stats.moments["sx"]
        self._set_component_means(sx / nk[:, None], self._data_mean(stats))

    def _unconstrained_parameters(self, parameters):
        """The logarithms of the component means."""
        with np.errstate(divide="ignore"):
            return np.log(np.asarray(parameters[self._mean_name], dtype=np.float64)).ravel()

    def _set_unconstrained_parameters(self, theta):
        current = getattr(self, self._mean_name)
        with np.errstate(over="ignore"):
            means = np.exp(theta).reshape(current.shape).astype(self._dtype)
        if not (np.isfinite(means).all() and np.all(means > 0)):
            raise ValueError(f"extrapolated {self._mean_name} outside (0, inf)")
        setattr(self, self._mean_name, means)

    def _parameter_shapes(self, n_features):
        K = self.n_components
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
