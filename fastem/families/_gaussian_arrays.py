"""A Gaussian mixture's EM run on plain arrays: the same passes, without the estimator's overhead.

:func:`fastem._em.run_em` drives a working copy of the estimator through
about a dozen hooks per pass (the fused E-step, the M-step, the checks of
new parameters, the unconstrained coordinates of the acceleration). On the
estimator each hook goes through its general machinery: parameter
snapshots (:mod:`fastem._state`), data-source dispatch, the checks every
family needs. On small data that machinery is most of a pass: on Old
Faithful (272 x 2), a pass took about 290 us, of which the EM loop's own
bookkeeping was about 26 us and the compiled E-step about 7 us
(``select_n_components``, 4 covariance types x K=1..9, ``n_init=10``:
25,368 passes).

:class:`GaussianArrays` stands in for the working copy of a
:class:`~fastem.GaussianMixture` during one run: it holds the parameters
as a tuple of arrays and gives the loop the same hooks, computed by the
same functions as the estimator's (``fastem.families.gaussian``:
:func:`~fastem.families.gaussian.kernel_arrays`,
:func:`~fastem.families.gaussian.checked_precisions`,
:func:`~fastem.families.gaussian.from_unconstrained`, ...; the E-step
through :class:`fastem.base.RunEStep`, :func:`fastem.base.launch_e_step` with what stays
the same from pass to pass taken once), with the same checks of new
parameters, raising the same errors. A run on it gives bitwise the result of
a run on the estimator (``tests/test_gaussian_arrays.py``). The same
``select_n_components`` call took 4.65-4.97 s of CPU time on it against
6.64-7.16 s on the estimator (five runs of each, alternating; the Zen 4
machine).

:meth:`fastem.families.gaussian.GaussianMixture._em_stand_in` takes it for
float64 data in memory (an ArraySource) with ``missing='error'`` and no
callback (which receives the working copy), while the hooks and attributes
it reproduces are GaussianMixture's own: a subclass or patch that replaces
one fits through the estimator.
"""

import contextlib

import numpy as np

from ..base import (
    RunEStep,
    _mixing_weights,
    _unit_scaled,
    check_m_step_values,
    log_mixing_weights,
    weights_from_unconstrained,
)
from ..kernels import registered_families
from .._state import all_finite, check_parameter_arrays
from .gaussian import (
    _KERNEL_PARAMS,
    check_positive_diagonals,
    checked_precisions,
    covariances_from_cholesky,
    extrapolated_covariances,
    from_unconstrained,
    in_m_step_image,
    kernel_arrays,
    log_norm,
    precisions_cholesky_from_covariances,
    precisions_from_cholesky,
    tied_shift,
)


# What the E-step's params and log-weights hold finite by the way they are made from
# parameters that passed their checks (finite, positive diagonals of the precision
# factors): the means, the factors (or the scales) and the log-normalisers, and
# log-weights of finite weights, never NaN (RunEStep's made_finite). Not the 'tied'
# shift and mapped means, products that can overflow.
_MADE_FINITE = ("log_weights", "means", "precisions_cholesky", "half_scales", "log_norm")
_NO_OP = contextlib.nullcontext()


class _Parameters(tuple):
    """The parameters in ``_parameter_names`` order, and what is known of them:
    ``checked`` (they passed the checks of a pass), ``arrays_checked`` (they
    are arrays that :func:`~fastem._state.check_parameter_arrays` would pass,
    by the way they were made), ``theta`` (their unconstrained vector),
    ``named`` (``{name: array}``, which its readers only read) and ``traces``
    (their precisions' traces), once computed."""

    def __new__(cls, values, checked, arrays_checked=False):
        parameters = super().__new__(cls, values)
        parameters.checked = checked
        parameters.arrays_checked = arrays_checked
        parameters.theta = None
        parameters.named = None
        parameters.traces = None
        return parameters


class GaussianArrays:
    """The hooks of :func:`fastem._em.run_em` for a GaussianMixture's working copy, on arrays.

    Parameters
    ----------
    model : GaussianMixture
        The working copy, at the run's start. Its hyper-parameters, and
        its hooks that depend on them alone (``_weighted_moments``,
        ``_unconstrained_vector``, ``_penalty_change``, ``_precision_traces``, ``_unpack``,
        ``_check_parameters``, the sizes), are used as they are; its
        parameters are read once.
    n_features : int
        The data's number of features.
    """

    def __init__(self, model, n_features):
        self.model = model
        self._regularization_name = model._regularization_name
        self._objective = model._objective
        self.covariance_type = model.covariance_type
        self._dtype = model._dtype
        self._names = model._parameter_names
        self._n_features = n_features
        self._n_family, self._n_stats = model._n_stats(n_features)
        self._n_work = model._work_rows(n_features)
        self._shapes = model._parameter_shapes(n_features)
        self._moment_shapes = model._moment_shapes(n_features)
        self._e_step = None  # the run's E-step (fastem.base.RunEStep), from the first pass
        self._hyper_checked = False
        start = model._get_parameters()
        self._current = _Parameters([start[name] for name in self._names], checked=False)

    # -- the parameters

    def _get_parameters(self):
        return self._current

    def _set_parameters(self, parameters):
        self._current = parameters  # one that _get_parameters gave

    def _named_parameters(self, parameters):
        if parameters.named is None:  # several hooks a pass ask for them by name
            parameters.named = dict(zip(self._names, parameters))
        return parameters.named

    def _unconstrained(self, parameters):
        if parameters.theta is None:
            parameters.theta = self.model._unconstrained_vector(parameters)
        return parameters.theta

    def _set_unconstrained(self, theta):
        n_components = self.model._n_components
        dtype = self._dtype
        weights = weights_from_unconstrained(theta[:n_components], dtype)
        means, pc = from_unconstrained(
            theta[n_components:], self.covariance_type, self._current[1].shape, self._current[3].shape
        )
        precisions = precisions_from_cholesky(pc, self.covariance_type)
        covariances = covariances_from_cholesky(pc, self.covariance_type).astype(dtype)
        if not all_finite((precisions, covariances)):
            # the estimator's checks, which refuse them (the callers, under
            # np.errstate(all="ignore"), reject the point on any ValueError)
            checked_precisions(pc, self.covariance_type, dtype)
            extrapolated_covariances(pc, self.covariance_type, dtype)
        # Every array is finite (checked above), in the dtype (float64, the stand-in's,
        # where finite precisions pass checked_precisions) and of the shape of the
        # checked parameters it was extrapolated from, and the weights are a softmax:
        # their pass checks the diagonals alone.
        self._current = _Parameters(
            (weights, means.astype(dtype), covariances, pc, precisions), checked=False,
            arrays_checked=True,
        )

    # -- a pass

    def _check(self):
        """The estimator's ``_check_fitted_parameters``, on the current parameters.

        Its check of the hyper-parameters, which no pass changes, runs at the
        first pass only: the estimator's would raise there or nowhere. Its
        check of the arrays runs on parameters not made by
        :meth:`_set_unconstrained`, whose arrays pass it by construction.
        """
        model = self.model
        named = self._named_parameters(self._current)
        if not self._hyper_checked:
            model._check_parameters()
            self._hyper_checked = True
        if not self._current.arrays_checked:
            check_parameter_arrays(model, self._shapes, self._n_features, parameters=named)
        check_positive_diagonals(named, self.covariance_type)
        self._current.checked = True

    def _summarize(self, source):
        if not self._current.checked:
            self._check()
        total = source.reduce(self._chunk_totals)
        # Read-only, as the M-step's compiled functions read its statistics (views of it):
        # they take them as they are, without a read-only view of each every pass.
        total.flags.writeable = False
        return self.model._unpack(
            total, self._n_features, reference={"shift": self._current[1]}, shapes=self._moment_shapes
        )

    def _chunk_totals(self, X, sample_weight):
        """The statistics vector of one chunk (``fastem.base._kernel_totals``)."""
        sample_weight, scale = _unit_scaled(np.asarray(sample_weight, dtype=np.float64))
        weights, means, _, pc, _ = self._current
        dtype = X.dtype
        covariance_type = self.covariance_type
        # the 'tied' mapped means can overflow (the E-step's check names them)
        with np.errstate(over="ignore") if covariance_type == "tied" else _NO_OP:
            pc = np.asarray(pc, dtype=np.float64)
            arrays, _ = kernel_arrays(
                covariance_type, means, pc, log_norm(pc, covariance_type, *means.shape),
                tied_shift(weights, means) if covariance_type == "tied" else None,
            )
            params = _KERNEL_PARAMS[covariance_type](
                *[np.ascontiguousarray(a, dtype=dtype) for a in arrays]
            )
        log_weights = log_mixing_weights(weights).astype(dtype, copy=False)
        if self._e_step is None:
            self._e_step = RunEStep(
                registered_families()[type(params)], self._n_family, self._n_stats, self._n_work,
                made_finite=_MADE_FINITE,
            )
        totals = self._e_step(X, sample_weight, log_weights, params)
        return totals if scale == 1.0 else totals / scale

    def m_step(self, stats):
        """The estimator's M-step (``BaseMixture.m_step`` with ``_m_step_family``).

        Its checks of the new values (:func:`~fastem.families.gaussian.checked_precisions`,
        then :func:`~fastem.base.check_m_step_values`) run only where one of the values
        is not finite, for their errors: finite float64 precisions pass the first, and
        finite values the second (the stand-in runs on float64 alone).
        """
        dtype = self._dtype
        covariance_type = self.covariance_type
        with np.errstate(over="ignore", invalid="ignore"):
            weights = _mixing_weights(stats.nk).astype(dtype, copy=False)
            _, means, covariances = self.model._weighted_moments(stats)
            pc = precisions_cholesky_from_covariances(covariances, covariance_type)
            values = (
                weights, np.asarray(means, dtype=dtype), np.asarray(covariances, dtype=dtype), pc,
                precisions_from_cholesky(pc, covariance_type),
            )
            finite = all_finite(values)
            if not finite:
                checked_precisions(pc, covariance_type, dtype)
        if not finite:
            check_m_step_values(self._names, values, dtype)
        self._current = _Parameters(values, checked=False)

    def _pass_checks_on(self, before, n_features):
        self._current.checked = before.checked

    def _lower_bound(self, stats, before):
        return stats.mean_log_likelihood  # BaseMixture's (the mean log-likelihood)

    # -- the acceleration's safeguards

    def _in_m_step_image(self, stats):
        return in_m_step_image(
            self._current[2], self.covariance_type, float(self.model.reg_covar), self._dtype)

    def _change_scales(self, parameters):
        return self.model._change_scales(parameters)

    def _m_step_allowance(self, previous, before, after):
        """The estimator's, with the precisions' traces of each parameter set taken once:
        the ``before`` of a pass is the ``previous`` of the next."""
        model = self.model
        if model.reg_covar == 0:
            return 0.0
        return model._penalty_change(self._traces(previous), self._traces(before), before[0])

    def _traces(self, parameters):
        if parameters.traces is None:
            parameters.traces = self.model._precision_traces(self._named_parameters(parameters))
        return parameters.traces
