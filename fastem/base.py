"""The EM driver shared by every mixture family, and the family protocol.

:class:`BaseMixture` owns everything that does not depend on the family:
validation, initialisation, restarts (``n_init``), ``warm_start``, the
warnings of a fit, and the chunked prediction passes. The EM loop itself, its
stopping rule and its acceleration are in :mod:`fastem._em`. A family is a
subclass that fills in a few hooks (the *family protocol*):

``_parameter_names``
    Tuple of the fitted attributes that make up the model, weights first.
``_kernel_params(dtype)``
    The NamedTuple that carries the parameters into the fused kernel (its class
    registered with :func:`fastem.kernels.register_family_kernels`), with arrays
    cast to ``dtype``.
``_first_params_class()``
    Optional: the class of ``_kernel_params``' NamedTuple in the fits to
    come, known before any start, where all its fields' shapes are
    registered; a first fit then compiles part of its E-step in a second
    process while it starts (:mod:`fastem._compile_ahead`). Default: None.
``_pass_context(source)``
    Optional: what the kernel params of a pass over ``source`` need from the
    whole source, computed at most once per source (e.g. its patterns of
    missing values, with :meth:`~fastem.data.ArraySource.scan_once`) and
    handed to every chunk's ``_pass_kernel_params`` in the pass. Default:
    None.
``_pass_kernel_params(params, X, context)``
    Optional: the params for one pass over the rows ``X``, derived from
    ``_kernel_params``'s (e.g. with a table of the rows' patterns of missing
    values); ``context`` is the pass's ``_pass_context``, or None for rows
    outside a statistics pass (predictions). Default: ``params``.
``_moment_shapes(n_features)``
    ``{name: shape}`` of the family's additive statistics, in the order the
    kernel's ``accumulate_block`` lays them out.
``_reference()``
    Non-additive arrays that define the frame of the statistics (may be ``{}``).
``_work_rows(n_features)``
    Rows of per-partition scratch the family's kernel blocks need.
``_start_second_moments``
    Optional: the covariances ``_params_from_moments`` needs, ``'full'``
    (n_components, n_features, n_features) or ``'diag'``, the variances of
    the features (n_components, n_features). Default: ``'full'``.
``_params_from_moments(nk, means, covariances)``
    Set the family parameters (not the weights) from weighted moments of the
    initial responsibilities.
``_m_step_family(stats)``
    Set the family parameters (not the weights) from summed statistics.
``_check_family_init(n_features)`` and ``_init_family_from_user()``
    Validate and apply user-given initial parameters.
``_check_in_dtype(dtype, starts)``
    Optional: raise ValueError when the user-given initial parameters (when
    ``starts``) or hyper-parameters of every M-step (``reg_covar``) do not
    fit in the data's dtype (float32). Default: nothing.
``_check_starts_apart(dtype)``
    Optional: raise ValueError when user-given initial parameters start two
    components alike in the data's dtype (EM keeps them alike); not called for a warm start or
    ``max_iter=0``. Default: nothing.
``_user_gives_every_parameter()``
    Optional: True when the user-given initial parameters set every
    parameter; the initialisation then computes no start of its own.
    Default: False.
``_init_parameter_names``
    Optional: the names of the user-given initial parameters, weights first
    and component means second; when all are given, initialisation computes
    nothing, and given means replace the ``init_params`` method.
``_n_family_parameters()``
    Free parameters besides the mixing weights, for BIC and AIC.
``_sample_component(rng, k, n)``
    Draw ``n`` points from component ``k``.
``_check_data(X, first_row=0)``
    Optional: family-specific checks of the data's domain. ``X`` may be a
    piece of the data (a block of a dask array) that starts at row
    ``first_row`` of the whole: a message that names a row counts from there.
    A hook without ``first_row`` is called without it. An error about one
    entry raised as :class:`fastem._validation.EntryError` is named by its
    line and column when the data came from a CSV file.
``_anchor_points()``
    Optional: points of shape (m, n_features) that locate a fitted model
    (e.g. its means); data too far from them to square are rejected.
``_recentre(stats, reference)``
    Optional: re-express statistics around another reference (e.g. Gaussian
    moments around new means), for online EM. Default: no reference, no-op.
``_unconstrained_parameters(parameters)`` and ``_set_unconstrained_parameters(theta)``
    Optional: the family parameters (``parameters`` is ``{name: array}``; all
    but the weights)
    as one float64 vector in coordinates where EM acceleration may
    extrapolate, and back (the first is called with NumPy's divide and invalid
    warnings off: a logarithm of 0 is -inf, judged by the caller); the setter
    raises ValueError for a vector that is not a valid model. Default: the raw arrays, valid when finite. A family
    with constrained parameters should map them to unconstrained ones (e.g.
    log-scales, Cholesky factors with log-diagonals): acceleration then
    rejects fewer steps.
``_family_structure()``
    Optional: hyper-parameters that fix the shapes of the parameters besides
    ``n_components`` (e.g. ``{"covariance_type": "full"}``); a warm start
    whose structure changed starts afresh. Default: ``{}``.
``_family_structure_of_parameters()``
    Optional, with ``_family_structure``: the same keys, with the values that
    the parameters have, read from them (e.g. the shape of the covariances
    says the covariance type), for assigned parameters, whose structure no
    fit, ``load`` or ``from_sklearn`` recorded: ``set_params`` may have
    changed the hyper-parameters since. Default: ``_family_structure()``.
``_kernel_log_weights()``
    Optional: the per-component terms the kernel adds to the log-densities.
    Default: the log mixing weights; a variational family gives the
    expectations of its per-component terms.
``_relative_log_densities(X)``
    Optional: the weighted log-densities of rows, less a term common to the
    components, for the labels and responsibilities of rows so far from every
    component that their log-densities differ by less than their rounding
    (e.g. 'tied' Gaussians, whose quadratic terms are alike, or a feature in which
    every exponential component has the same scale). Default: None.
``_lower_bound(stats, before)``
    Optional: the objective of a pass, after its M-step. Default: the mean
    log-likelihood of ``stats``; a variational family gives its lower bound.
``_fit_priors(source)``
    Optional: ``{name: array}`` that ``fit`` computes once from all the data
    and sets before each start (e.g. priors centred on the data). Default: ``{}``.
``_m_step_allowance(previous, before, after)``
    Optional: how far the objective of a pass (its E-step at ``before``, the
    M-step of the pass at ``previous``; its own M-step to ``after``) may lie
    below that of the pass at ``previous`` because the M-step is regularised
    (see :mod:`fastem._em`). Default: 0, for an M-step that maximises
    (possibly over a constrained set) the expected complete-data
    log-likelihood.
``_unobserved(stats)``
    Optional: with ``missing='em'``, the (n_components, n_features) bool array of the
    features in which a component has no observed value in ``stats``, which its M-step
    treats apart; recorded with the parameters, for ``_statistics_of_parameters``.
    Default: None.
``_warn_unobserved(stats)``, ``_check_regularization(stats, data=None)``, ``_check_stored_parameters()``
    Optional: warnings at the end of ``fit`` and of a ``partial_fit`` step
    (each at most once per stream of steps, whatever the others said): with
    ``missing='em'``, components with no observed value of a feature; the
    regularisation swamps the data's spread; a fitted attribute stored in
    float32 lost a property the float64 M-step gave it. Each returns whether
    it warned. Default: nothing.
    A ``_check_regularization(stats)`` without ``data`` (the step's own
    statistics) is called with the running statistics alone.

Every pass over data goes through a data source (:mod:`fastem.data`): an
array in memory or memory-mapped, a chunked source, or a Dask array. The
driver asks the source to sum the kernel's statistics vectors over its chunks
(:meth:`~fastem.data.ArraySource.reduce`) or to fill per-row outputs
(:meth:`~fastem.data.ArraySource.map`), so the EM loop is the same for all.

Every family's ``__init__`` takes and passes on ``callback=None``: a callable
``callback(model, n_iter, lower_bound)`` called after each EM iteration;
returning True stops the fit early (see :meth:`BaseMixture.fit`), and
``accelerate=True`` (see :mod:`fastem._em`).

A family never sees the data point by point, and the driver never sees the
family's statistics: adding a family changes neither.
"""

import copy
import difflib
import functools
import inspect
import math
import numbers
import operator
import sys
import time
from collections import defaultdict
from typing import NamedTuple

import numpy as np

from . import _progress  # noqa: F401  (announces long kernel compilations on stderr)
from ._collapse import MIN_VARIANCE_RATIO
from ._compile_ahead import start as compile_ahead
from ._config import BLOCK_SIZE, MAX_PARTITIONS, PARTITION_MEMORY
from ._em import rounding_gap, run_em
from ._init import INIT_METHODS, initial_moments, sample_size, start_method
from . import _state
from ._state import (
    ASSIGNED, DERIVED, FITTED_ATTRIBUTES, ParameterState, check_kernel_params,
    check_parameter_arrays,
)
from ._threading import launch, on_one_blas_thread, read_only, read_only_fields
from ._validation import (
    EntryError, assigned_parameter, check_choice, check_feature_names, check_memory,
    FLOAT32_MAX, beyond_float32, check_random_state, check_scalar, drawing_from, feature_label,
    first_entry, parameter_as_float, scan_data, without_pandas_index,
)
from .data import Chunks, as_source, is_dask_dataframe
from .exceptions import (
    ConvergenceWarning,
    EmptyComponentWarning,
    LikelihoodDecreaseWarning,
    NotFittedError,
    WarmStartWarning,
    warn_at_caller,
)
from .kernels import (
    e_step_outputs,
    fused_e_step,
    fused_e_step_uncached,
    fused_e_step_serial,
    fused_e_step_serial_uncached,
    fused_scratch,
    registered_families,
    registered_shapes,
)
from .stats import SufficientStatistics

__all__ = [
    "BaseMixture",
    "ConvergenceWarning",
    "EmptyComponentWarning",
    "LikelihoodDecreaseWarning",
    "WarmStartWarning",
]

#: numpydoc entries that every family's class docstring shares, in the
#: docstring's own indentation; :func:`fill_doc` puts each in place of its
#: ``{name}`` line.
DOC_FRAGMENTS = {
    "fit_attributes": """converged_ : bool
        True when the stopping rule held: at the peak to within ``tol``.
        False after ``partial_fit``, which has no stopping rule.
    n_iter_ : int
        Passes over the data of the best initialization; after
        ``partial_fit``, the number of its steps.
    lower_bound_ : float
        Mean log-likelihood per sample of the best initialization; after
        ``partial_fit``, that of the last batch before its step.
    lower_bounds_ : list of float
        Mean log-likelihood per sample at each accepted pass of the best
        initialization (non-decreasing; with ``accelerate``, extrapolations
        that were rejected are left out, so it can be shorter than ``n_iter_``);
        after ``partial_fit``, ``[lower_bound_]``. These attributes and the
        parameters are one snapshot: they always come from the same fit.
    n_features_in_ : int
        Number of features seen at fit.
    feature_names_in_ : ndarray of str, shape (n_features_in_,)
        Column names of the data at fit, when it had string column names
        (DataFrame, Arrow table, CSV header); absent otherwise.""",
    "tol": """tol : float, default=1e-8
        Convergence threshold, in scikit-learn's unit (EM's objective per sample:
        the mean log-likelihood, or a variational mixture's evidence lower
        bound, the ELBO): the fit stops when Aitken's estimate of the gain still to
        come is below ``tol`` (Böhning et al. 1994; McLachlan and Krishnan,
        *The EM Algorithm and Extensions*, sec. 4.9) and the last step changed
        no parameter array by more than ``sqrt(tol)`` relative to its size.
        See :mod:`fastem._em`.""",
    "accelerate": """accelerate : bool, default=True
        SQUAREM (Varadhan and Roland 2008) and Anderson acceleration
        (Walker and Ni 2011; Henderson and Varadhan 2019) with a
        monotonicity safeguard: fewer passes on slowly converging fits.
        False gives plain EM, step by step the same as scikit-learn's from
        the same start.""",
}


DOC_FRAGMENTS["missing_independent"] = """missing : {'error', 'em'}, default='error'
        What a NaN entry of the data is. 'error': a ValueError, as for
        infinities. 'em': a missing value, missing at random; the features
        are independent given the component, so a missing coordinate drops
        out of the density and out of its feature's statistics, and the fit
        is exact EM over the observed entries (Little & Rubin, *Statistical
        Analysis with Missing Data*, 2nd ed., ch. 8 and 11): the mean of
        feature ``d`` in a component is the responsibility-weighted mean of
        its observed values, ``sum r x_d / sum r`` over the rows where ``d``
        is observed. ``predict``, ``predict_proba``, ``score_samples`` and
        ``score`` then take incomplete rows with the marginal over their
        observed coordinates, and :meth:`impute` fills NaN entries. Rows with
        no observed entry are refused by ``fit``, ``partial_fit`` and
        ``summarize``; prediction gives them the mixing weights."""

# In a method's docstring, whose entries are indented by 8.
DOC_FRAGMENTS["to_sklearn_raises"] = """Raises
        ------
        NotFittedError
            If the model is not fitted.
        ImportError
            If scikit-learn is not installed (it is not a dependency of fastem).
        ValueError
            For what ``save`` refuses (:func:`fastem.io.save`): parameters that
            disagree with the hyper-parameters, or with each other (an assigned
            ``covariances_`` that is not the inverse of ``precisions_``), and a
            record of the fit that a model file cannot hold (``n_iter_`` of -1)."""

DOC_FRAGMENTS["impute_parameters"] = """Parameters
        ----------
        X : array-like of shape (n_samples, n_features), chunked data or dask array
            NaN marks a missing entry; infinities are refused.
        draw : bool, default=False
            Draw from the conditional distribution instead of taking its mean.
        random_state : int, RandomState instance or None, default=None
            The draws' source, with ``draw=True`` only. A row's draw depends on
            it and on the row's place in the data, not on chunks, blocks or
            threads.
        out : ndarray of shape (n_samples, n_features), dtype of the model, optional
            Where to write the result, e.g. a ``np.memmap``. It may be ``X`` itself
            (``impute(X, out=X)`` fills ``X`` in place) where ``X`` is a
            C-contiguous float32 or float64 array in memory; it may not
            otherwise share memory with ``X`` (a part of it, another dtype,
            a DataFrame, chunked data, a memory-mapped file: ValueError). Not
            for Dask arrays. ``out`` is returned, as by
            :meth:`predict`, whatever the kind of ``X``. Written as
            :meth:`score_samples` writes its ``out``.

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features), dtype of X
            A pandas DataFrame for a DataFrame, with its index and columns
            (a column keeps its dtype where that holds the filled values: a
            floating-point column, or one without missing values); a lazy
            Dask DataFrame for a Dask DataFrame, and an Arrow table (record
            batch) of the same schema for one, with their column names; a
            list of arrays for chunked data without ``out``; a lazy dask
            array for a dask array.

        Raises
        ------
        NotFittedError
            The model is not fitted.
        ValueError
            For data with infinite entries, values outside the family's domain,
            or the wrong number of features; for ``random_state`` without
            ``draw=True`` (it would have no effect).
        TypeError
            When ``draw`` is not a bool."""


def _fill(doc):
    for name, text in DOC_FRAGMENTS.items():
        doc = doc.replace("{" + name + "}", text)
    return doc


def fill_doc(cls):
    """Class decorator: each ``{name}`` line of the docstring, and of its methods' docstrings,
    becomes ``DOC_FRAGMENTS[name]``."""
    if cls.__doc__:
        cls.__doc__ = _fill(cls.__doc__)
    for value in vars(cls).values():
        if callable(value) and getattr(value, "__doc__", None):
            value.__doc__ = _fill(value.__doc__)
    return cls


# A component is empty when its share of the total weight is below float64
# rounding: nothing the data can distinguish from zero.
_EMPTY_SHARE = np.finfo(np.float64).eps


def _marked(callback):
    """``callback`` as the EM loop of one run calls it: handed a copy of the working model
    (:meth:`BaseMixture._run_so_far`), and with its exceptions marked as its own (see
    :func:`from_callback`)."""
    if callback is None:
        return None
    lower_bounds = []  # of the run's accepted passes: the callback sees each

    def marked(model, n_iter, lower_bound):
        lower_bounds.append(lower_bound)
        view = model._run_so_far(n_iter, lower_bounds)
        try:
            return callback(view, n_iter, lower_bound)
        except BaseException as exc:
            exc._fastem_from_callback = True  # every exception has a __dict__
            raise

    return marked


def _counting_passes(printer, passes, n_iter, lower_bound):
    """The ``on_pass`` hook of a move's EM run: records the pass number, then prints (``printer``, or None)."""
    passes.append(n_iter)
    if printer is not None:
        printer(n_iter, lower_bound)


def from_callback(error):
    """Whether ``error`` was raised by the user's ``callback`` during an EM run, rather than
    by the run itself: a restart or a move whose EM fails is passed over, but the
    callback's errors propagate as they were raised."""
    return getattr(error, "_fastem_from_callback", False)


class _BestStart:
    """The best of a fit's starts so far, as :meth:`BaseMixture._ranks_above` ranks them.

    ``rules`` are those of :meth:`BaseMixture._ranking_rules` (None: by the likelihood
    alone). Whether a run has a collapsed component is judged only once a second run
    competes with it, so a fit of one start judges nothing.
    """

    def __init__(self, model, rules, dtype):
        self.model, self.rules, self.dtype = model, rules, dtype
        self.result = self.start = self._worker = self._collapsed = None

    def offer(self, worker, result, start):
        """Keep a run's ``result`` (a :class:`~fastem._em.EMResult` of ``worker``, a copy
        of the model) and its ``start`` when it ranks above the best so far."""
        collapsed = None
        if self.result is not None and self.rules is not None:
            if self._collapsed is None:
                self._collapsed = self._judge(self._worker, self.result)
            collapsed = self._judge(worker, result)
        if self.model._ranks_above(result, collapsed, self.result, self._collapsed,
                                   self.dtype):
            self.result, self.start, self._worker = result, start, worker
            self._collapsed = collapsed

    def _judge(self, worker, result):
        """Whether ``result`` has a component that
        :meth:`BaseMixture._parameter_collapse_reasons` finds collapsed, on the data and
        with the relative variance floor of the rules."""
        judge = copy.copy(worker)
        judge._set_parameters(result.parameters)
        data_summary, min_variance_ratio = self.rules
        return bool(judge._parameter_collapse_reasons(data_summary, min_variance_ratio))


class _StartsFailed(Exception):
    """Every start of :meth:`BaseMixture._best_of_starts` failed; ``first_error`` is the first
    one's error, which the fit raises if no other start succeeds."""

    def __init__(self, first_error):
        super().__init__(str(first_error))
        self.first_error = first_error


def _distinct_points(points, weights):
    """``(distinct, counts)``: the distinct rows of ``points`` and their summed ``weights``,
    without rows of weight 0, from which k-means++ draws alike for rows repeated and the
    same rows weighted by their counts."""
    distinct, inverse = np.unique(points, axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=weights, minlength=len(distinct))
    return distinct[counts > 0], counts[counts > 0]


def _empty_components(masses, total=None):
    """Indices of the components whose share of ``total`` (default: the sum of ``masses``)
    is below float64 rounding (``_EMPTY_SHARE``); none when ``masses`` is None."""
    if masses is None:
        return np.empty(0, dtype=np.int64)
    return np.flatnonzero(_empty_mask(np.asarray(masses, dtype=np.float64), total))


def _empty_mask(masses, total=None):
    """Which of the float64 ``masses`` are empty, as :func:`_empty_components` counts them."""
    return masses <= _EMPTY_SHARE * (masses.sum() if total is None else total)


def _unseen_in_subsample(moments, weights):
    """Start ``moments`` (nk, means, covariances) of a partition of a strict subsample by
    given means, each component without a point of it given half a point's weight.

    No point of the subsample nearest to a given mean says only that its
    points, if any, are too few to be drawn: the 3 counts near 1,000 among
    200,000 near 2 (``rates_init=[[2], [1000]]``) were missed by the 2,000
    points drawn, the component started at weight 0, which EM never gives
    data, and the fit ended with it empty, 15,000 nats below the fit that
    holds them. With a weight EM gives it the points that are nearer, or
    leaves it empty where there are none.
    """
    nk, means, covariances = moments
    return np.where(nk > 0, nk, 0.5 * weights[weights > 0].mean()), means, covariances


def _listed_weights(name, weights, indices):
    """``name[k] = value`` for each of ``indices``, and where a value is not 0, that its share
    is below float64 rounding (``_EMPTY_SHARE``), which EM cannot tell from 0."""
    weights = np.asarray(weights, dtype=np.float64)
    listed = ", ".join(f"{name}[{k}] = {weights[k]:.3g}" for k in indices)
    if (weights[indices] > 0).any():
        listed += "; a share below float64 rounding, which EM cannot tell from 0"
    return listed


def _mixing_weights(nk):
    """Mixing weights from component masses: exactly 0 for an empty component.

    A component is empty when its mass is below float64 rounding of the total
    (``nk <= eps * sum(nk)``). Its weight is 0: its log-weight is then -inf,
    so it takes no probability from any point, in ``predict``,
    ``predict_proba`` and ``score_samples`` as in the E-steps that follow.
    The others' weights are their shares of the mass, so that the weights do
    not change when every sample weight is multiplied by the same factor.
    """
    nk = np.asarray(nk, dtype=np.float64)
    total = nk.sum()
    empty = _empty_mask(nk, total)
    # every pass takes this: np.where, and a sum of the rest, only where a component is empty
    weights = nk
    if empty.any():
        weights = np.where(empty, 0.0, nk)
        total = weights.sum()
    if not total > 0:  # no mass anywhere: nothing tells the components apart
        return np.full(nk.shape, 1.0 / nk.shape[0])
    return weights / total


def log_mixing_weights(weights):
    """The log of the mixing weights, float64 of shape (n_components,): -inf for an empty
    component, without a warning.

    Empty as :func:`_empty_components` counts it: a weight of 0, or a share of the
    total below float64 rounding, which the M-step makes 0 (:func:`_mixing_weights`)
    and a fit that starts from it reads as 0. Such a weight reaches a model by
    assignment, a model file or ``from_sklearn`` (scikit-learn's M-step leaves an
    empty component 10 eps / n_samples, 2.8e-18 of 800 points, with a covariance of
    ``reg_covar``): read as its log, that component's spike of density took a new
    point near its mean with probability 1, as the fit that warned of it as empty
    would not.
    """
    weights = np.asarray(weights, dtype=np.float64)
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)
    empty = _empty_mask(weights)
    if empty.any():  # every pass takes this: the assignment only where it changes something
        log_weights[empty] = -np.inf
    return log_weights


def divisible_masses(nk):
    """The masses ``nk`` to divide a component's weighted sums by, 1 where a mass is 0.

    A component without mass has sums of 0, so its mean comes out as the
    reference the sums were taken around. No constant is added to the
    others' masses (scikit-learn adds ``10 * eps``): a constant floor would
    not scale with the sample weights, and weights summing to 1e-27 would
    pull every mean towards 0.
    """
    nk = np.asarray(nk, dtype=np.float64)
    return np.where(nk > 0, nk, 1.0)


def check_m_step_values(names, values, dtype):
    """Raise ValueError naming the first of the M-step's parameter arrays that is not finite."""
    if not _state.all_finite(values):
        name = next(n for n, v in zip(names, values) if not np.isfinite(v).all())
        raise ValueError(
            f"The M-step gave non-finite {name}: the data and the current "
            f"parameters are too far apart for {np.dtype(dtype).name} "
            "arithmetic. Scale the data, or give initial parameters near the data"
            + (", or fit in float64 (on float64 data)." if np.dtype(dtype) == np.float32
               else ".")
        )


# The log-weight that stands for an empty component's log(0) in the unconstrained
# coordinates of EM acceleration (see BaseMixture._unconstrained_vector), and the level
# below which an extrapolated log-weight is that stand-in: a real weight's log is at
# least log(5e-324) = -744.4.
_EMPTY_LOG_WEIGHT = -1e300
_EMPTY_LOG_WEIGHT_LEVEL = 0.5 * _EMPTY_LOG_WEIGHT


def weights_from_unconstrained(log_weights, dtype):
    """Mixing weights in ``dtype`` from the log-weights of an unconstrained vector (the
    softmax): exactly 0 for an empty component (a log-weight at the stand-in
    ``_EMPTY_LOG_WEIGHT``), any other weight that underflows floored at the dtype's
    smallest normal number; ValueError when a log-weight is not finite, or every
    component is empty.

    An empty component stays at weight 0, as EM keeps it: floored, it came back
    from an accelerated step with the smallest weight, and where its covariance is
    ``reg_covar``'s (a spike of density at its mean) it took a point there, whose
    component it then stayed (a start at ``weights_init`` 0 in float32 at 20
    features ended with weight 1 / n_samples on one point).
    """
    if not np.isfinite(log_weights).all():
        raise ValueError("extrapolated log-weights are not finite")
    empty = log_weights <= _EMPTY_LOG_WEIGHT_LEVEL
    n_empty = np.count_nonzero(empty)
    if n_empty == empty.size:
        raise ValueError("extrapolated log-weights leave every component empty")
    some_empty = n_empty > 0  # mostly none: then no masks
    top = (log_weights[~empty] if some_empty else log_weights).max()
    weights = np.maximum(np.exp(log_weights - top), np.finfo(dtype).tiny)
    if some_empty:
        weights[empty] = 0.0
    return (weights / weights.sum()).astype(dtype, copy=False)


def _same_objects(these, those):
    """Whether two tuples hold the same objects, position by position (None: never)."""
    return (
        these is not None and len(these) == len(those)
        and all(a is b for a, b in zip(these, those))
    )


# The advice of the warnings that a float32 model's parameters lie measurably below the
# float64 ones they round.
_FLOAT32_ROUNDING_ADVICE = (
    "Centre the data (X - np.nanmean(X, axis=0), which skips missing values) or fit "
    "X.astype(np.float64).")

# Records of the fit that describe its parameters, and their value once the parameters
# come from elsewhere (see BaseMixture.__setattr__; ABSENT: the record goes). The
# running statistics of online EM and the count of their steps are a stream's.
_RECORDS_OF_THE_PARAMETERS = {
    "_running_stats": None, "n_steps_": _state.ABSENT, "_stored_parameters_warned": False,
    "_regularization_warned": False, "_unobserved_warned": False, "_rounding_loss_warned": 0.0,
    "_fit_structure": None, "_unobserved_features": None,
}


def _without_their_records(state):
    """``state`` without the records that describe its parameters (see above)."""
    for record, unknown in _RECORDS_OF_THE_PARAMETERS.items():
        if state.get(record, unknown) is not unknown:
            state = (state.remove(record) if unknown is _state.ABSENT
                     else state.replace_record(record, unknown))
    return state


def n_partitions_for(n_samples, n_stats):
    """How many partitions a kernel call uses: a function of the sizes only."""
    n_blocks = -(-n_samples // BLOCK_SIZE)
    by_memory = max(1, PARTITION_MEMORY // (8 * n_stats))
    return max(1, min(MAX_PARTITIONS, n_blocks, by_memory))


# Rows of a float32 chunk cast to float64 at a time, for a pass that runs in
# float64 (see BaseMixture._computes_in_float64): bounds the copy.
_CAST_ROWS = 256 * BLOCK_SIZE


def _float64_slices(X, *arrays):
    """Float64 copies of row slices of ``X``, with the same rows of ``arrays`` (empty ones stay).

    At least one slice, empty for an ``X`` of no rows (an empty Dask block).
    """
    for start in range(0, max(X.shape[0], 1), _CAST_ROWS):
        stop = min(start + _CAST_ROWS, X.shape[0])
        yield (
            np.ascontiguousarray(X[start:stop], dtype=np.float64),
            *(a[start:stop] if a.shape[0] else a for a in arrays),
        )


def _singular_in(dtype):
    """The error for a kernel that divided by zero: parameters singular in ``dtype``."""
    return (
        "A component's parameters are singular in the arithmetic of the pass (a kernel "
        "divided by zero): with missing values, a precision restricted to some rows' "
        f"missing features that {np.dtype(dtype).name} cannot resolve (nearly collinear "
        "features, or variances that span more than the dtype's precision). Standardise "
        "the features (e.g. sklearn.preprocessing.StandardScaler), raise reg_covar, or fit "
        "the data as float64 (X.astype(np.float64))."
    )


# The fused E-step's kernels, by whether the family's kernels are cached on disk:
# (parallel, serial).
_FUSED_E_STEPS = {
    True: (fused_e_step, fused_e_step_serial),
    False: (fused_e_step_uncached, fused_e_step_serial_uncached),
}


def launch_e_step(
    X, sample_weight, log_weights, params, cached, n_family_stats, n_stats, n_work, accumulate,
    *, log_prob=None, labels=None, resp=None,
):
    """One call of the fused E-step on the rows ``X`` under the kernel ``params``.

    ``log_weights`` (n_components,) in the dtype of ``X``; ``cached``: whether the
    family's kernels are cached on disk (``registered_families``); ``n_family_stats``
    the length of the family's part of the statistics, ``n_stats`` the whole
    vector's (the partitions' cost per row); ``n_work`` the family's scratch rows.
    The optional per-row outputs are filled when given. Checks the params with
    :func:`fastem._state.check_kernel_params` first (ValueError). Returns the
    float64 statistics vector of :func:`fastem.kernels._fused._fused_e_step`.
    """
    n_components = log_weights.shape[0]
    outputs = e_step_outputs(n_components, X.dtype, log_prob, labels, resp)
    # Read-only, like the data (see fastem._threading.read_only): one compilation
    # whether the parameters are a fitted model's (frozen) or a fit's new ones.
    sample_weight = read_only(np.asarray(sample_weight, dtype=np.float64))
    log_weights = read_only(log_weights)
    params = read_only_fields(params)
    check_kernel_params(
        params, registered_shapes(type(params)), X, sample_weight, log_weights, outputs
    )
    kernel, serial = _FUSED_E_STEPS[cached]
    n_partitions = n_partitions_for(X.shape[0], n_stats)
    return launch(
        kernel,
        X,
        sample_weight,
        log_weights,
        params,
        n_family_stats,
        n_partitions,
        n_work,
        accumulate,
        *outputs.values(),
        fused_scratch(n_partitions, X.shape[1], n_components, n_work, X.dtype),
        cost_per_row=n_stats,
        serial=serial,
    )


class RunEStep:
    """:func:`launch_e_step` for the passes of one EM run: the statistics of each chunk.

    ``run_e_step(X, sample_weight, log_weights, params)`` returns what
    ``launch_e_step(X, sample_weight, log_weights, params, cached,
    n_family_stats, n_stats, n_work, True)`` returns (a float64 vector of
    length ``n_stats``), bitwise, and raises the same ValueErrors. What stays
    the same from pass to pass is taken at the first pass over chunks of
    each shape: the full check of :func:`fastem._state.check_kernel_params`
    (the shapes, dtypes and layouts of the arguments), the kernel's
    addresses, the partitions and the scratch. Later passes test what a pass
    can change, the finiteness of the params and of the log-weights (less what
    the caller makes finite, ``made_finite``), and run the full check only when
    that fails, for its error. Sample weights given as the same object as at
    the first pass are read through the same read-only view.

    The params must keep their family, field shapes and dtypes from pass to
    pass, as the parameters of one run do, and the chunks come one at a
    time. The scratch is reused: for families whose blocks write each entry
    of it they use before they read it, as the Gaussian ones do (within one
    call each block finds there what the block before left; entries past a
    block's points may be computed on, never used).

    Parameters
    ----------
    cached : bool
        Whether the family's kernels are cached on disk (``registered_families``).
    n_family_stats, n_stats, n_work : int
        As for :func:`launch_e_step`.
    made_finite : collection of str, default=()
        The names of the params' fields that the caller makes finite by
        construction, and ``"log_weights"`` for log-weights it never makes NaN:
        the later passes do not test them (the first pass checks everything).
    """

    def __init__(self, cached, n_family_stats, n_stats, n_work, made_finite=()):
        self._cached = cached
        self._sizes = (n_family_stats, n_stats, n_work)
        self._made_finite = frozenset(made_finite)
        self._chunks = {}  # (X's shape and strides): what its passes share (_ChunkPasses)

    def __call__(self, X, sample_weight, log_weights, params):
        chunk = self._chunks.get((X.shape, X.strides))
        if chunk is not None and sample_weight is chunk.weights_given:
            weights = chunk.weights  # the read-only view of the same weights
        else:
            weights = read_only(np.asarray(sample_weight, dtype=np.float64))
        log_weights = read_only(log_weights)
        params = read_only_fields(params)
        if chunk is None:
            chunk = self._first(X, sample_weight, weights, log_weights, params)
        elif (chunk.tests_log_weights and np.isnan(log_weights).any()) or (
            chunk.tested and not _state.all_finite([params[i] for i in chunk.tested])
        ):
            check_kernel_params(
                params, registered_shapes(type(params)), X, weights, log_weights, chunk.outputs
            )
        return launch(
            chunk.kernel, X, weights, log_weights, params, *chunk.arguments,
            cost_per_row=self._sizes[1], serial=chunk.serial,
        )

    def _first(self, X, sample_weight, weights, log_weights, params):
        """The first pass over chunks of ``X``'s shape: the full check, and what later ones share."""
        n_family_stats, n_stats, n_work = self._sizes
        n_components = log_weights.shape[0]
        outputs = e_step_outputs(n_components, X.dtype)
        check_kernel_params(
            params, registered_shapes(type(params)), X, weights, log_weights, outputs
        )
        n_partitions = n_partitions_for(X.shape[0], n_stats)
        arguments = (
            n_family_stats, n_partitions, n_work, True, *outputs.values(),
            fused_scratch(n_partitions, X.shape[1], n_components, n_work, X.dtype),
        )
        kernel, serial = (
            e_step.bound(read_only(X), weights, log_weights, params, *arguments)
            for e_step in _FUSED_E_STEPS[self._cached]
        )
        # the fields whose finiteness check_kernel_params tests, less those made finite
        tested = [
            i for i, (name, value) in enumerate(zip(params._fields, params))
            if ((isinstance(value, np.ndarray) and value.dtype == X.dtype)
                or isinstance(value, (float, np.floating)))
            and name not in self._made_finite
        ]
        chunk = self._chunks[(X.shape, X.strides)] = _ChunkPasses(
            kernel, serial, arguments, outputs, tested, "log_weights" not in self._made_finite,
            sample_weight, weights,
        )
        return chunk


class _ChunkPasses(NamedTuple):
    """What the passes of a :class:`RunEStep` over chunks of one shape share."""

    kernel: object  # the bound parallel kernel
    serial: object  # the bound serial kernel
    arguments: tuple  # the arguments after the params: sizes, outputs, scratch
    outputs: dict  # the empty per-row outputs (for check_kernel_params)
    tested: list  # the params' fields whose finiteness later passes test
    tests_log_weights: bool  # whether later passes test the log-weights for NaN
    weights_given: object  # the sample weights of the first pass, as given,
    weights: np.ndarray  # and as the kernel reads them (float64, read-only)


def _kernel_totals(model, state, accumulate, context, X, sample_weight):
    """The statistics vector of one chunk under ``state`` (module level, so that Dask can ship it).

    ``context``: the pass's ``_pass_context``. Rows with nothing observed
    (missing='em'; a pass that sums statistics refuses them) are left out:
    they are no observation, so they add neither to the count nor to the
    log-likelihood. So are the rows of weight 0 of a pass that scores: a row
    far from a fitted exponential or Poisson mixture has a log-density of
    -inf, and its weight times it was NaN (the score of any weights).
    """
    with _state.pinned(model, state):
        if not accumulate:
            left_out = unobserved_rows(X) if model._fits_missing() else None
            if sample_weight.shape[0]:
                weightless = np.asarray(sample_weight) == 0
                left_out = weightless if left_out is None else left_out | weightless
            if left_out is not None and left_out.any():
                X = X[~left_out]
                if sample_weight.shape[0]:
                    sample_weight = sample_weight[~left_out]
        sample_weight, scale = _unit_scaled(np.asarray(sample_weight, dtype=np.float64))
        if _statistics_in_float64(model, X):
            totals = _float64_totals(model, accumulate, context, X, sample_weight)
        elif accumulate or X.dtype != np.float32:
            totals = model._run_kernel(X, sample_weight, accumulate=accumulate, context=context)
        else:
            totals = _float32_score_totals(model, context, X, sample_weight)
        return totals if scale == 1.0 else totals / scale


def _float64_totals(model, accumulate, context, X, sample_weight):
    """The statistics vector of the rows ``X``, computed in float64 slices."""
    return sum(
        model._run_kernel(X64, w, accumulate=accumulate, context=context)
        for X64, w in _float64_slices(X, sample_weight)
    )


def _float32_score_totals(model, context, X, sample_weight):
    """The log-likelihood totals (``score``, ``bic``, ``aic``) of a float32 chunk.

    The rows far from every component (``_FLOAT32_LOG_DENSITY_LIMIT``) are
    computed again in float64, as :func:`_float32_output` does for
    ``score_samples``: summed as computed in float32, two points 3e4 and 1e5
    standard deviations away put ``bic`` up to 1.4e3 off, and ``score`` was not
    the mean of ``score_samples``.
    """
    log_prob = np.empty(X.shape[0])
    totals = model._run_kernel(
        X, sample_weight, accumulate=False, context=context, log_prob=log_prob
    )
    far = ~(np.abs(log_prob) <= _FLOAT32_LOG_DENSITY_LIMIT)  # and -inf, NaN
    if not far.any():
        return totals
    near = np.flatnonzero(~far)
    far = np.flatnonzero(far)
    weighted = sample_weight.shape[0] > 0
    return model._run_kernel(
        X[near], sample_weight[near] if weighted else sample_weight,
        accumulate=False, context=context,
    ) + _float64_totals(
        model, False, context, X[far], sample_weight[far] if weighted else sample_weight
    )


def _statistics_in_float64(model, X):
    """Whether a statistics pass over the chunk ``X`` runs in float64 slices.

    As the model's dtype and parameters ask
    (:meth:`BaseMixture._computes_in_float64`), or for float32 rows with NaN
    whose terms would cancel where complete rows' do not
    (:meth:`BaseMixture._nan_rows_cancel_in_float32`): then the whole chunk,
    if it has one (a check that reads ``X``, made only then).
    """
    if model._computes_in_float64(X.dtype):
        return True
    return (
        X.dtype == np.float32
        and model._nan_rows_cancel_in_float32(statistics=True)
        and incomplete_rows(X).any()
    )


# Largest sample weights the kernel takes as they are: float32 (normal from
# 2**-126 to 2**128) keeps responsibilities down to 2**-66 of them.
_UNSCALED_WEIGHTS = (2.0**-60, 2.0**60)


def _unit_scaled(sample_weight):
    """``(sample_weight * scale, scale)``: ``scale`` is 1 when the largest weight is within
    ``_UNSCALED_WEIGHTS`` (or there are no weights), else the power of two that brings it
    into [1, 2).

    The kernel computes each point's weighted responsibilities in the data's
    dtype, where float32 holds nothing below about 1e-38 nor above 3.4e38:
    weights of 1e-40 would all become 0 and weights of 1e39 infinite. Every
    entry of the statistics vector is linear in the weights, so the caller
    divides it by ``scale`` to undo the scaling, and a power of two makes both
    steps exact. Weights within the band are not copied: a pass over a
    million points would spend a millisecond on it.
    """
    if not sample_weight.shape[0]:
        return sample_weight, 1.0
    largest = float(sample_weight.max())
    low, high = _UNSCALED_WEIGHTS
    if low <= largest <= high or not 0.0 < largest < np.inf:
        return sample_weight, 1.0
    # Clamped so that the scale itself is a normal float64 (a largest weight of
    # 1e-310 is scaled up by 2**1000, which leaves it below 1).
    scale = math.ldexp(1.0, min(max(1 - math.frexp(largest)[1], -1000), 1000))
    return sample_weight * scale, scale


# A float32 log-density of magnitude L is resolved to about eps * L (6e-8 L).
# Beyond 2**17 (0.008 nats) a row lies far from every component, and the
# rounding of its coordinates (eps times their magnitude) can exceed what
# tells the components apart: a point at (1e8, 1e8) got [0.5, 0.5] from two
# components 5 apart. Such rows are computed again in float64: few on most
# data, more on sparse data with a tiny reg_covar, where float32 was wrong.
_FLOAT32_LOG_DENSITY_LIMIT = 2.0**17


def _float32_output(model, output, X, out):
    """:func:`_kernel_output` for float32 data in float32, with some rows computed again in float64.

    The rows far from every component (``_FLOAT32_LOG_DENSITY_LIMIT``) and,
    where the family says their terms would cancel
    (:meth:`BaseMixture._nan_rows_cancel_in_float32`), the rows with NaN;
    so a row's output does not depend on the rows beside it. They are cast
    ``_CAST_ROWS`` at a time.
    """
    log_prob = out if output == "log_prob" else np.empty(X.shape[0])
    also = {} if output == "log_prob" else {"log_prob": log_prob}
    model._run_kernel(X, np.empty(0), accumulate=False, **{output: out}, **also)
    again = ~(np.abs(log_prob) <= _FLOAT32_LOG_DENSITY_LIMIT)  # and -inf, NaN
    if model._nan_rows_cancel_in_float32(statistics=False):
        again |= incomplete_rows(X)
    again = np.flatnonzero(again)
    dtype = np.float64 if out.dtype == np.float32 else out.dtype  # resp: float64 here
    for start in range(0, again.size, _CAST_ROWS):
        rows = again[start : start + _CAST_ROWS]
        values = np.empty((rows.size,) + out.shape[1:], dtype=dtype)
        _run_float64_output(
            model, output, np.ascontiguousarray(X[rows], dtype=np.float64), values
        )
        out[rows] = values


def _float64_output(model, output, X, out):
    """:func:`_kernel_output` for data computed in float64, cast ``_CAST_ROWS`` rows at a time."""
    for X64, part in _float64_slices(X, out):
        if part.dtype == np.float32:  # responsibilities, in the data's dtype
            buffer = np.empty(part.shape)
            _run_float64_output(model, output, X64, buffer)
            part[...] = buffer
        else:
            _run_float64_output(model, output, X64, part)


# A float64 log-density beyond 2**46 is rounded by more than 0.008 nats, as a
# float32 one beyond _FLOAT32_LOG_DENSITY_LIMIT. Where the components share
# their quadratic term ('tied'), their log-densities of a row that far then
# differ by less than their rounding: a point 1e14 standard deviations from
# 'tied' components 5 apart got [0.5, 0.5] and label 0, where the odds for
# component 1 are e**3.3e11 (float32 data, whose far rows are computed in
# float64, too), and so do the terms of a feature in which every exponential
# or Poisson component has the same parameter.
_FLOAT64_LOG_DENSITY_LIMIT = 2.0**46
# Rows per kernel call when the far rows are looked for: a buffer of 8 MB, and
# few enough calls that each still shares out its blocks among the threads.
_FAR_ROWS = 2**20


def _may_hold_far_rows(model, X):
    """Whether a row of the float64 rows ``X`` may have a log-density beyond
    ``_FLOAT64_LOG_DENSITY_LIMIT`` that the family can compute again.

    From the family's lower bound of its weighted log-densities over the box of
    ``X``'s smallest and largest values (:meth:`BaseMixture._log_density_floor`),
    with half the limit to spare: the log-densities that find the far rows
    cost their exponentials, a third of predict's time at two features, and
    no row of data near the components needs them.
    """
    if type(model)._relative_log_densities is BaseMixture._relative_log_densities or not X.size:
        return False
    # the compiled scan of the checks: NumPy's column minima take 18 ms for 1,000,000 x 2
    n_missing, low, high = scan_data(X)
    if n_missing:  # missing values: a row's log-density is that of its observed features
        return True
    with np.errstate(all="ignore"):
        floor = model._log_density_floor(low, high)
    return floor is None or not floor > -0.5 * _FLOAT64_LOG_DENSITY_LIMIT


def _run_float64_output(model, output, X, out):
    """Fill ``out`` with the per-row ``output`` of the float64 rows ``X``.

    The labels and responsibilities of rows whose log-density exceeds
    ``_FLOAT64_LOG_DENSITY_LIMIT`` in magnitude come from the family's
    log-densities less their common term
    (:meth:`BaseMixture._relative_log_densities`), where it has them.
    """
    if output == "log_prob" or not _may_hold_far_rows(model, X):
        model._run_kernel(X, np.empty(0), accumulate=False, **{output: out})
        return
    # The log-densities that find the far rows, _FAR_ROWS rows at a time: a
    # buffer of the whole data's would double the memory of the labels.
    for start in range(0, X.shape[0], _FAR_ROWS):
        rows = slice(start, start + _FAR_ROWS)
        Xs, part = X[rows], out[rows]
        log_prob = np.empty(Xs.shape[0])
        model._run_kernel(Xs, np.empty(0), accumulate=False, log_prob=log_prob, **{output: part})
        far = np.flatnonzero(np.abs(log_prob) > _FLOAT64_LOG_DENSITY_LIMIT)
        far = far[np.isfinite(log_prob[far])]  # a density of 0 everywhere gives no probabilities
        relative = model._relative_log_densities(Xs[far]) if far.size else None
        if relative is None:
            continue
        if output == "labels":
            part[far] = relative.argmax(axis=1)
        else:
            top = relative.max(axis=1, keepdims=True)
            resp = np.exp(relative - top)
            part[far] = resp / resp.sum(axis=1, keepdims=True)


def _kernel_output(model, state, output, X, out, first_row=0):
    """Fill ``out`` with the per-row ``output`` ('labels', 'log_prob' or 'resp') of a chunk.

    ``first_row``, the chunk's place in the data (see ``map``), does not
    change a row's output.
    """
    with _state.pinned(model, state):
        if model._computes_in_float64(X.dtype):
            _float64_output(model, output, X, out)
        elif X.dtype == np.float32:
            _float32_output(model, output, X, out)
        else:
            _run_float64_output(model, output, X, out)
        if output == "log_prob" and model._fits_missing():
            out[unobserved_rows(X)] = 0.0  # the density of nothing observed: exactly 1


def row_uniforms(key, first_row, n_rows, n_columns):
    """``n_columns`` uniform numbers in the open interval (0, 1) for each of ``n_rows`` rows.

    Row ``first_row + i`` of the data always gets the same numbers, whichever
    chunk holds it and in whatever order or process the chunks are drawn:
    they are the outputs of the counter-based Philox generator (Salmon et
    al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011) with
    ``key``, from the row's own counter on. A float64 array of shape
    ``(n_rows, n_columns)``.
    """
    steps = -(-n_columns // 4)  # Philox gives four 64-bit numbers per counter step
    bits = np.random.Philox(key=key, counter=first_row * steps).random_raw(n_rows * 4 * steps)
    bits = bits.reshape(n_rows, 4 * steps)[:, :n_columns]
    # (k + 1/2) / 2**52 for the top 52 bits k: exact, never 0 nor 1
    return ((bits >> np.uint64(12)).astype(np.float64) + 0.5) * 2.0**-52


def _impute_chunk(model, state, key, X, out, first_row):
    """Fill ``out`` with ``X``, its NaN entries imputed under ``state`` (one chunk)."""
    resp = np.empty((X.shape[0], model._n_components), dtype=X.dtype)
    _kernel_output(model, state, "resp", X, resp)
    # Normalised in float64: float32 probabilities sum to 1 within 1e-7 only,
    # which times means 1e6 from the origin put an expectation 1.9 float32 units off.
    resp = resp.astype(np.float64)
    resp /= resp.sum(axis=1, keepdims=True)
    uniforms = None if key is None else row_uniforms(key, first_row, X.shape[0], X.shape[1] + 1)
    with _state.pinned(model, state):
        model._impute_rows(X, resp, uniforms, out)


def _takes_keyword(method, name):
    """Whether ``method`` accepts the keyword argument ``name`` (or any, by ``**kwargs``)."""
    try:
        parameters = inspect.signature(method).parameters
    except (TypeError, ValueError):  # no signature to read: call it as the protocol says
        return True
    return name in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def impute_with(model, X, draw, random_state, out):
    """The body of a family's ``impute``: one pass that fills the NaN of ``X``, chunk by chunk.

    The family hook ``_impute_rows(X, resp, uniforms, out)`` fills one
    chunk ``X`` into ``out`` given its component probabilities ``resp`` (the
    marginal over each row's observed coordinates): conditional
    expectations when ``uniforms`` is None, else a draw per row from its
    ``n_features + 1`` uniform numbers (:func:`row_uniforms`): the first
    picks the component, the others give the missing coordinates by
    inversion of their distribution functions. So a row's draw depends on
    ``random_state`` and its place in the data only, not on how the data is
    split into chunks or blocks, nor on the threads or workers.
    """
    if not isinstance(draw, (bool, np.bool_)):
        raise TypeError(f"draw must be True or False, got {draw!r}.")
    if random_state is not None and not draw:
        raise ValueError(
            f"random_state={random_state!r} has no effect without draw=True: the conditional "
            "expectation is not random. Pass draw=True to draw the missing values, or leave "
            "out random_state."
        )
    model = copy.copy(model)
    model.missing = "em"
    source = model._validate_data(X, reset=False)
    state = model._get_parameters()
    key = check_random_state(random_state).randint(0, 2**63, size=2) if draw else None
    filled = source.map(
        functools.partial(_impute_chunk, model._for_tasks(), state, key), source.n_features,
        # a row's probabilities are computed and its observed entries read before its
        # missing ones are written (_impute_rows): out may be X itself
        source.dtype, out, in_place=True,
    )
    return filled if out is not None else _like_frame(X, filled)


def _like_frame(X, filled):
    """``filled`` as a table of the kind of ``X``, when ``X`` is one: its column names kept.

    A pandas DataFrame keeps its index and columns, and each column its
    dtype where that holds the filled values exactly: a floating-point
    column, or a column without missing values (unchanged); any other (a
    nullable integer column with holes) takes ``filled``'s. A Dask
    DataFrame gives a lazy one with its index and columns, its
    floating-point columns in their dtypes. An Arrow table or record batch
    gives one of the same schema (a pandas index stored in it included),
    its feature columns filled, floating-point ones in their types. Anything
    else gives ``filled``.
    """
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(X, pd.DataFrame):
        frame = pd.DataFrame(filled, index=X.index, columns=X.columns, copy=False)
        holes = X.isna().any(axis=0).to_numpy()
        # the columns cast back, by dtype: one isetitem per column split the frame's block
        # each time, (n_features x n_features) work (10 s at 20,000 columns)
        casts = defaultdict(list)
        for j, dtype in enumerate(X.dtypes):
            if dtype != filled.dtype and (dtype.kind == "f" or not holes[j]):
                casts[dtype].append(j)
        for dtype, columns in casts.items():
            frame.isetitem(columns, frame.iloc[:, columns].astype(dtype))
        return frame
    if is_dask_dataframe(X):
        import dask.dataframe as dd

        frame = dd.from_dask_array(filled, columns=list(X.columns), index=X.index)
        floats = {name: dtype for name, dtype in X.dtypes.items() if dtype.kind == "f"}
        return frame.astype(floats) if floats else frame
    pa = sys.modules.get("pyarrow")
    if pa is not None and isinstance(X, (pa.Table, pa.RecordBatch)):
        features = {name: j for j, name in enumerate(without_pandas_index(X).column_names)}
        arrays, fields = [], []
        for field in X.schema:
            if field.name in features:
                column = filled[:, features[field.name]]
                kind = field.type if pa.types.is_floating(field.type) else pa.from_numpy_dtype(column.dtype)
                field = field.with_type(kind).with_nullable(True)
                arrays.append(pa.array(column, type=kind))
            else:
                arrays.append(X.column(field.name))
            fields.append(field)
        return type(X).from_arrays(arrays, schema=pa.schema(fields, metadata=X.schema.metadata))
    return filled


_MISSING_OPTIONS = ("error", "em")

# Rows per slice of the check for rows with no observed entry: bounds its temporary.
_OBSERVED_CHECK_ROWS = 65536


def unobserved_rows(X):
    """The rows of ``X`` with nothing observed: a boolean array of shape (n_samples,).

    True where every entry of the row is NaN (missing). ``X`` (2-D, e.g. a
    memory map) is read in slices, which bound the temporary array.
    """
    return _rows_of_nan(X, np.all)


def incomplete_rows(X):
    """The rows of ``X`` with a NaN entry (missing): a boolean array of shape (n_samples,).

    Read in slices, as :func:`unobserved_rows`.
    """
    return _rows_of_nan(X, np.any)


def _rows_of_nan(X, reduce):
    rows = np.empty(X.shape[0], dtype=bool)
    for start in range(0, X.shape[0], _OBSERVED_CHECK_ROWS):
        stop = start + _OBSERVED_CHECK_ROWS
        rows[start:stop] = reduce(np.isnan(X[start:stop]), axis=1)
    return rows


def _refuse_beyond_float32(X, first_row=0):
    """Refuse (EntryError) the first entry of ``X`` beyond float32's range, as a ``check_data``
    of the sources: for a float32 model whose M-step overflowed on data of another dtype
    (:meth:`BaseMixture._diagnose_float32_overflow`)."""
    found = first_entry(X, beyond_float32)
    if found is not None:
        row, column = found
        raise EntryError(
            "X has {count} value(s) beyond the range of float32 (largest "
            f"{FLOAT32_MAX:.3g}), the dtype of this model's parameters, the first ",
            ". A float32 model cannot hold parameters of such data. Fit the model in "
            "float64 (fit it, or start partial_fit, on float64 data: X.astype(np.float64)), "
            "or rescale the data (e.g. divide it by a power of ten).",
            first_row + row, column, float(X[row, column]),
            count=int(np.count_nonzero(beyond_float32(X))),
        )


def _check_observed_rows(check_data, X, first_row=0):
    """Refuse rows whose every entry is missing, then run the family's ``check_data``.

    Such a row has the same likelihood, 1, under every model: it carries no
    information, and counting it would only dilute the mean log-likelihood
    and slow EM down. ``first_row``: see :func:`family_check`.
    """
    empty = unobserved_rows(X)
    n_empty = int(empty.sum())
    if n_empty:
        raise EntryError(
            "X has {count} row(s) whose every entry is missing (NaN), the first ",
            ". Such a row has the same likelihood under every model and carries nothing to "
            "fit: drop it first, e.g. X = X[~np.isnan(X).all(axis=1)]. predict, "
            "predict_proba, score_samples and impute accept them.",
            first_row + int(np.argmax(empty)), count=n_empty,
        )
    check_data(X, first_row)


def _without_first_row(check, X, first_row=0):
    check(X)


@functools.lru_cache(maxsize=None)
def _signature_takes_first_row(hook):
    try:
        return "first_row" in inspect.signature(hook).parameters
    except ValueError:  # a compiled function without a signature: called with X alone
        return False


def _takes_first_row(hook):
    """Whether ``hook`` (a family's ``_check_data``, any callable) takes ``first_row``;
    kept per function, since reading a signature costs a prediction of a few rows 4%,
    and read on every call for a callable object that cannot be a key (one that
    defines ``__eq__`` without ``__hash__``)."""
    try:
        return _signature_takes_first_row(hook)
    except TypeError:  # unhashable
        return _signature_takes_first_row.__wrapped__(hook)


def family_check(model, statistics):
    """The check of the data that the sources run on each piece, ``check(X, first_row)``.

    ``first_row`` is the piece's first row in the whole data (a block of a
    dask array), which the family's ``_check_data`` counts rows from; a
    family's hook without that parameter is called without it. With
    ``statistics`` and missing values, rows with nothing observed are refused
    first (:func:`_check_observed_rows`).
    """
    check = model._for_tasks()._check_data
    if not _takes_first_row(getattr(check, "__func__", check)):
        check = functools.partial(_without_first_row, check)
    if statistics and model._fits_missing():
        return functools.partial(_check_observed_rows, check)
    return check


def _holds_nan(X):
    """Whether the chunk ``X`` holds a NaN entry (a missing value)."""
    return bool(np.isnan(X).any())


def _observed_sums(X, sample_weight):
    """``[sum of w x over observed entries, sum of w over them]`` per feature, float64."""
    observed = ~np.isnan(X)
    w = np.ones(len(X)) if sample_weight.shape[0] == 0 else np.asarray(sample_weight, np.float64)
    values = np.where(observed, X, 0).astype(np.float64)
    return np.concatenate([w @ values, w @ observed])


# A start on data with NaN can take the subsample's complete rows when there
# are at least this many times the larger of the numbers of features and
# components (the hierarchical start's own rule of points per feature, see
# fastem._hierarchical.suitable).
_COMPLETE_ROWS_PER_DIMENSION = 10


def points_for_start(points, weights, source, n_components, filled=False):
    """The points and weights a start on data with NaN (``missing='em'``) is computed from.

    Two starts are possible, and neither is always the better one:

    - the subsample's complete rows (``filled=False``), when there are at
      least ``_COMPLETE_ROWS_PER_DIMENSION`` times ``max(n_features,
      n_components)`` of positive weight. Under values missing completely
      at random they are a sample of the data, but when whether a value is
      missing depends on the observed ones (a cluster that always lacks a
      feature) they can leave out a cluster, and EM does not find it again;
    - every row, with each NaN replaced by its feature's weighted observed
      mean (:func:`fill_missing_for_start`; ``filled=True``, and the only
      start with fewer complete rows). The filled rows lie on lines and
      planes through the means, which a partition can follow: at 25% of
      entries missing, a 4-component fit of 2-D data split one cluster and
      merged two, 80-95 nats below the best peak.

    So ``fit`` runs EM from both (:meth:`BaseMixture._fit`) and keeps the
    better. Returns ``(points, weights)``, or None for ``filled=True`` when
    that start is the same as the other (no NaN, or too few complete rows).
    Only the start is computed from these points; EM uses every row.
    """
    has_nan = np.isnan(points).any(axis=1)
    complete = ~has_nan & (weights > 0)
    needed = _COMPLETE_ROWS_PER_DIMENSION * max(points.shape[1], n_components)
    either = has_nan.any() and np.count_nonzero(complete) >= needed
    if filled and not either:  # no NaN in the subsample, or too few complete rows
        return None
    if not filled and (either or not has_nan.any()):
        return points[complete], weights[complete]
    return fill_missing_for_start(points, weights, source), weights


def fill_missing_for_start(points, weights, source):
    """The subsample with each NaN replaced by its feature's weighted observed mean.

    A feature with no observed value in the subsample (one observed in a
    few rows only) takes its observed mean over all of ``source``, one pass
    over the data. Raises ValueError for a feature with no observed value at
    all.
    """
    missing = np.isnan(points)
    if not missing.any():
        return points
    observed = ~missing
    w = np.ones(len(points)) if weights is None else np.asarray(weights, dtype=np.float64)
    mass = (w[:, None] * observed).sum(axis=0)
    sums = (w[:, None] * np.where(observed, points, 0.0)).sum(axis=0)
    if (mass <= 0).any():
        totals = source.reduce(_observed_sums)
        n_features = points.shape[1]
        sums, mass = totals[:n_features], totals[n_features:]
        empty = np.flatnonzero(mass <= 0)
        if empty.size:
            j = int(empty[0])
            named = feature_label(j, getattr(source, "feature_names_in", None))
            raise ValueError(
                f"feature {named} has no observed value (every entry is NaN, or has weight 0): a "
                "mixture cannot be fitted to it. Drop that column."
            )
    return np.where(missing, sums / mass, points)


@functools.cache
def _init_parameter_names(cls):
    """The sorted hyper-parameter names of ``cls.__init__``, read once per class.

    The hyper-parameters are checked before every pass over the data, and
    ``inspect.signature`` was 13% of the time of ``select_n_components`` on
    Old Faithful (cProfile).
    """
    names = []
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.name != "self" and p.kind != p.VAR_KEYWORD and p.name not in names:
                names.append(p.name)
        break
    return tuple(sorted(names))


@functools.cache
def _takes_any_keyword(cls):
    """Whether the first ``__init__`` along the MRO of ``cls`` takes ``**kwargs`` (a user's
    subclass that passes them on to a family's ``__init__``)."""
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            return any(p.kind == p.VAR_KEYWORD for p in inspect.signature(init).parameters.values())
    return False


@functools.cache
def _hyper_parameter_getter(cls):
    """``operator.attrgetter`` of the hyper-parameters of ``cls``: their tuple, in
    ``get_params`` order. Built once per class; read twice in every pass."""
    return operator.attrgetter(*cls._get_param_names())


_one_snapshot = _state.one_snapshot


def _impossible_statistic(stats):
    """Why the driver's parts of ``stats`` cannot be sums over weighted data, or None.

    Weights and responsibilities are finite and non-negative, so ``n_samples``
    and ``nk`` are too, and some weight is positive; every moment and reference
    is finite. An M-step from anything else gave a model silently: counts of 0
    or below gave Gaussian covariances 100 times too wide, NaN counts
    exponential scales 13 times too large.
    """
    if not (np.isfinite(stats.n_samples) and stats.n_samples > 0):
        return f"n_samples is {stats.n_samples:g}, but a total weight is finite and positive"
    if np.isnan(stats.log_likelihood) or stats.log_likelihood == np.inf:
        return f"log_likelihood is {stats.log_likelihood:g}"
    for name, value in [("nk", stats.nk), *stats.moments.items(),
                        *((f"reference {k}", v) for k, v in stats.reference.items())]:
        value = np.asarray(value, dtype=np.float64)
        if not np.isfinite(value).all():
            return f"{name} holds {float(value[~np.isfinite(value)].flat[0]):g}"
    if (stats.nk < 0).any():
        return f"nk holds {float(stats.nk.min()):g}, but a component's weight is never negative"
    if not stats.nk.sum() > 0:
        return "nk is 0 in every component: there is no weight to fit"
    return None


class _KeywordsChecked:
    """Refuses a keyword that the class's ``__init__`` does not take, with its fix.

    Python's own error names the keyword and nothing more; a keyword of
    another family, a feature this one lacks or a typo gets the class's
    ``_parameter_advice``. A base class of its own: ``inspect.signature`` of
    a class takes the first ``__new__`` or ``__init__`` along its MRO, and
    scikit-learn's checks read the hyper-parameters of BaseMixture from its
    ``__init__``.
    """

    def __new__(cls, *args, **kwargs):
        if kwargs and _takes_any_keyword(cls):
            # A subclass whose __init__ passes **kwargs on: its own __init__ (or the one it
            # calls) names what it does not take; its _get_param_names lists only its own.
            return super().__new__(cls)
        for name in kwargs:
            if name not in cls._get_param_names():
                raise TypeError(
                    f"{cls.__name__} got an unexpected keyword argument {name!r}"
                    f"{cls._parameter_advice(name)}"
                )
        return super().__new__(cls)


class BaseMixture(_KeywordsChecked):
    """Base class for mixture models fitted by EM with fused kernels.

    Subclasses implement the family protocol described in :mod:`fastem.base`.

    The fitted parameters (the family's ``_parameter_names``) are attributes
    backed by one immutable snapshot (:class:`fastem._state.ParameterState`).
    Assigning one, e.g. ``model.means_ = m``, publishes a new snapshot with
    that field replaced; the arrays read back are read-only copies, so change
    a parameter by assigning a new array. A value that is not a float32 or
    float64 array (a list, integers, ``Decimal`` entries) becomes float64 as
    ``means_init`` does; one that float64 would alter (a whole number beyond
    2**53, a value beyond its range) is a ValueError at the parameters' next
    use, naming it, as ``means_init`` is at the fit. So are parameters that
    disagree with one another, as ``save`` refuses them (a ``covariances_``
    assigned beside the old ``precisions_cholesky_``): assign those of one
    fitted model together. An assigned ``precisions_cholesky_`` derives
    ``precisions_``, as scikit-learn's estimator does. A model never fitted
    needs ``n_features_in_`` assigned too.

    The other fitted attributes (``n_features_in_``, ``feature_names_in_``,
    ``n_iter_``, ``converged_``, ``lower_bound_``, ``lower_bounds_``,
    ``n_steps_``) live in the same snapshot, so the parameters and the record
    of the fit that made them are always read together.

    Thread safety: every method reads the snapshot once and uses it
    throughout, over all the chunks of a chunked or Dask source too, and
    ``fit``, ``partial_fit`` and ``m_step`` publish their result in one
    assignment when they return (nothing, if they raise). A prediction, a
    ``save`` or a conversion that runs while another thread refits the model
    therefore sees the old model or the new one, never a mixture.
    Hyper-parameters are plain attributes, not part of the snapshot; every
    such call runs on a shallow copy of the model taken when it starts, so a
    ``set_params`` by another thread meanwhile changes nothing in its answer.
    """

    @classmethod
    def _parameter_advice(cls, name):
        """What to do about ``name``, which is not one of the class's hyper-parameters:
        the text that follows "unexpected keyword argument 'name'".

        Family hook: a family says what to do instead of a feature of another
        family that it lacks, and leaves other names to this method.
        """
        from .io import _families

        others = [family.__name__ for family in _families() if name in family._get_param_names()]
        if others:
            return (
                f": it is a hyper-parameter of {' and '.join(others)}, not of {cls.__name__}. "
                f"Use {' or '.join(others)} for it, or leave it out."
            )
        close = difflib.get_close_matches(name, cls._get_param_names(), n=1)
        if close:
            return f". Did you mean {close[0]!r}?"
        return f". {cls.__name__} takes {list(cls._get_param_names())}."

    def __getattr__(self, name):
        # Reached only when ordinary lookup fails: the fitted state lives in the snapshot.
        # Every parameter read of a pass comes here, so a family changes the
        # message (_no_attribute_message), not this lookup.
        if not name.startswith("__"):
            value = _state.current(self).get(name, _state.ABSENT)
            if value is not _state.ABSENT:
                return value
        raise AttributeError(self._no_attribute_message(name))

    def _no_attribute_message(self, name):
        """Family hook: the message of the AttributeError for a name the model does not have."""
        if name in ("impute", "missing"):  # the words of missing-data EM, on a family without it
            return (f"{type(self).__name__} has no {name}: it does not support missing values "
                    "(NaN). GaussianMixture(missing='em') fits them by EM over the observed "
                    "entries, and its impute fills them in.")
        return f"{type(self).__name__!r} object has no attribute {name!r}"

    def __setattr__(self, name, value):
        if name in self._parameter_names:
            self._replace_parameters({name: value})
        elif name in FITTED_ATTRIBUTES:
            _state.assign(self, _state.current(self).replace_record(name, value))
        else:
            object.__setattr__(self, name, value)

    def _replace_parameters(self, values):
        """Replace the parameters ``values`` (``{name: value}``) in one new state, with the
        parameters they determine (:meth:`_derived_from_assigned`) that they leave out.

        An assignment (``model.means_ = ...``) and the M-steps and starts set the
        parameters through this method. Parameters from elsewhere (an assignment, a
        user's m_step) are not the stream's (partial_fit starts online EM again from
        them), and nothing has been said of them yet: they are converted as initial
        parameters are, and marked as assigned by hand, which their first use checks
        against one another (:meth:`_check_fitted_parameters`). fastem's own M-steps
        and starts, whose parameters agree by construction, take the mark off after
        (:func:`fastem._state.made_together`).

        A parameter that an earlier assignment derived, and none has assigned since,
        is the hook's to derive again (it sees a state without it): the factors
        assigned alone twice give the covariances of the second, not a disagreement
        with those derived from the first.
        """
        values = {name: assigned_parameter(value, name) for name, value in values.items()}
        previous = _state.current(self)
        derived_before = previous.memo.get(DERIVED, frozenset()) - values.keys()
        state = previous
        for name, value in values.items():
            state = state.replace(name, value)
        without_derived = state
        for name in derived_before & set(state.names()):
            without_derived = without_derived.remove(name)
        derived = self._derived_from_assigned(values, without_derived)
        for name, value in derived.items():
            state = state.replace(name, value)
        state = _without_their_records(state)
        state.memo[ASSIGNED] = True
        state.memo[DERIVED] = frozenset(derived_before | derived.keys())
        _state.assign(self, state)

    def _derived_from_assigned(self, values, state):
        """Family hook: ``{name: value}`` of the parameters that the assigned ``values``
        (``{name: value}``, converted) determine and do not hold, assigned with them.
        ``state``: the parameters with ``values`` in place. None by default."""
        return {}

    def __delattr__(self, name):
        if name in self._parameter_names or name in FITTED_ATTRIBUTES:
            state = _state.current(self)
            if name not in state:
                raise AttributeError(name)
            _state.assign(self, state.remove(name))
        else:
            object.__delattr__(self, name)

    def __setstate__(self, state):
        # Pickles of models that stored the fitted state as plain attributes. A subclass
        # with __slots__ is copied and pickled as (its __dict__, its slots' values).
        state, slots = state if isinstance(state, tuple) else (state, None)
        names = self._parameter_names
        loose = {
            name: state.pop(name)
            for name in list(state)
            if name in names or name in FITTED_ATTRIBUTES
        }
        self.__dict__.update(state)
        for name, value in (slots or {}).items():
            setattr(self, name, value)
        parameters = {name: value for name, value in loose.items() if name in names}
        if parameters:  # together: none is derived from another
            self._replace_parameters(parameters)
        for name, value in loose.items():
            if name not in names:
                setattr(self, name, value)

    def __sklearn_is_fitted__(self):
        # The fitted attributes live in the snapshot, not in vars(self), where
        # scikit-learn's check_is_fitted would look for them.
        return "weights_" in _state.current(self)

    _parameter_names = ("weights_",)
    # Family protocol: the hyper-parameters holding user-given initial
    # parameters, the mixing weights' first and the component means' (in data
    # units) second, or None when the family does not say (then the start is
    # always computed and ``_init_family_from_user`` overrides parts of it).
    _init_parameter_names = None
    # Family protocol: the covariances of the start's moments that _params_from_moments
    # takes (fastem._init.SECOND_MOMENTS).
    _start_second_moments = "full"
    # Family protocol: the variance-stabilising transform of the data in which the start's
    # partition is computed (fastem._init.initial_moments' ``space``), or None.
    _start_space = None

    def __init__(
        self,
        n_components=1,
        *,
        tol=1e-8,
        max_iter=1000,
        n_init=1,
        init_params="hierarchical",
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        callback=None,
        accelerate=True,
        step_exponent=0.7,
        step_offset=2.0,
    ):
        self.n_components = n_components
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval
        self.callback = callback
        self.accelerate = accelerate
        self.step_exponent = step_exponent
        self.step_offset = step_offset

    # ------------------------------------------------------------------
    # scikit-learn estimator plumbing

    @classmethod
    def _get_param_names(cls):
        return list(_init_parameter_names(cls))

    def get_params(self, deep=True):
        """Return the estimator's hyper-parameters as a dict."""
        return {name: getattr(self, name) for name in self._get_param_names()}

    def set_params(self, **params):
        """Set hyper-parameters; unknown names raise a ValueError.

        The names are checked before any is set: a call that raises changes none.
        """
        valid = self._get_param_names()
        for name in params:
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for {type(self).__name__}"
                    f"{self._parameter_advice(name)}"
                )
        for name, value in params.items():
            setattr(self, name, value)
        return self

    def __repr__(self):
        init = type(self).__init__
        defaults = {
            p.name: p.default for p in inspect.signature(init).parameters.values() if p.name != "self"
        }
        changed = []
        for name, value in self.get_params().items():
            default = defaults.get(name, inspect.Parameter.empty)
            same = value is default
            if not same:
                try:
                    same = bool(value == default)
                except (TypeError, ValueError):
                    same = False
            if not same:
                changed.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(changed)})"

    # True for families whose data cannot be negative (scikit-learn's positive_only tag).
    _non_negative_data = False
    # Whether the kernels compute squared distances of the data (Gaussian families): the
    # range check then refuses ranges whose squares overflow the dtype. Families whose
    # kernels only multiply a value by a parameter are held to float64's limits, those of
    # the starts' standardisation (see fastem._validation.check_range).
    _squares_data = True

    def __sklearn_tags__(self):  # lets scikit-learn utilities treat us as a density estimator
        from sklearn.utils import InputTags, Tags, TargetTags

        return Tags(
            estimator_type="density_estimator",
            target_tags=TargetTags(required=False),
            input_tags=InputTags(positive_only=self._non_negative_data),
        )

    # ------------------------------------------------------------------
    # validation

    def _check_parameters(self):
        check_scalar(self.n_components, "n_components", numbers.Integral, min_val=1)
        check_scalar(self.tol, "tol", numbers.Real, min_val=0.0)
        check_scalar(self.max_iter, "max_iter", numbers.Integral, min_val=0)
        check_scalar(self.n_init, "n_init", numbers.Integral, min_val=1)
        check_scalar(self.verbose, "verbose", numbers.Integral, min_val=0)
        check_scalar(self.verbose_interval, "verbose_interval", numbers.Integral, min_val=1)
        if self.callback is not None and not callable(self.callback):
            raise TypeError(
                f"callback must be None or a callable callback(model, n_iter, lower_bound), "
                f"got {self.callback!r}."
            )
        check_scalar(
            self.step_exponent, "step_exponent", numbers.Real, min_val=0.5, max_val=1.0,
            include_min=False,
        )
        check_scalar(self.step_offset, "step_offset", numbers.Real, min_val=0.0)
        for name in ("warm_start", "accelerate"):
            value = getattr(self, name)
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(
                    f"{name} must be True or False, got {value!r} of type "
                    f"{type(value).__name__}."
                )
        self._fits_missing()
        check_choice(self.init_params, "init_params", INIT_METHODS)

    @property
    def _n_components(self):
        """``n_components`` checked, as a Python int: the value every computation uses.

        The hyper-parameter keeps the object the user gave (scikit-learn's
        ``clone`` and ``get_params`` require it), and a NumPy integer keeps its
        type in arithmetic: ``np.int8(2) * 200`` overflows int8, and a Numba
        kernel would compile (and compute) for int8. Sizes are computed from
        this one instead. A Python int is returned as it is: several hooks of
        every pass read it.
        """
        n_components = self.n_components
        if type(n_components) is int and n_components >= 1:
            return n_components
        return check_scalar(n_components, "n_components", numbers.Integral, min_val=1)

    #: What EM maximises, named in messages: a variational family's evidence lower bound.
    _objective = "log-likelihood"
    #: What ``score`` gives, named in messages: a variational family's is not a likelihood.
    _scored = "log-likelihood"

    #: The hyper-parameter that keeps every density positive (``reg_covar`` for
    #: Gaussians, the floor of the means for exponential and Poisson mixtures),
    #: named in error messages that advise raising it.
    _regularization_name = "the regularization of the components"

    def _check_data(self, X, first_row=0):
        """Family hook: reject data outside the family's domain (``X`` starts at row
        ``first_row`` of the data). Default: accept."""

    def _anchor_points(self):
        """Family hook: points that locate the fitted model. Default: none."""
        return None

    def _fits_missing(self):
        """Whether NaN entries are missing values (``missing='em'``) rather than an error."""
        missing = check_choice(
            getattr(self, "missing", "error"), "missing", _MISSING_OPTIONS,
            "'error' refuses NaN in the data, 'em' fits NaN entries as missing values",
        )
        return missing == "em"

    def _nan_advice(self, predicting=False):
        """What the error for NaN in the data advises this estimator's user.

        A family with a ``missing`` hyper-parameter names it: for a fit, to fit
        them by EM; for a prediction by a fitted model (``predicting``), to
        set it, which needs no refit. Any other family says that it does not
        support missing values and points to the families that do.
        """
        name = type(self).__name__
        if "missing" in self._get_param_names() and predicting:
            return (
                f"If the NaN are missing values, set_params(missing='em') makes this fitted "
                f"{name} predict and score each row from its observed entries, with the "
                "same parameters (no refit); otherwise remove or impute them"
            )
        if "missing" in self._get_param_names():
            return (
                f"If the NaN are missing values, pass missing='em' to {name}, which fits "
                "them by EM over the observed entries; otherwise remove or impute them"
            )
        return (
            f"{name} does not support missing values (NaN): if they are, fit "
            "GaussianMixture(missing='em'), which fits them by EM over the observed entries "
            "(its impute fills them in); otherwise remove or impute them"
        )

    def _checked_feature_names(self):
        """``feature_names_in_`` of the fitted model, None where it has none, checked as the
        comparison with the data's names needs it: one string per feature (it may have been
        assigned by hand), else a ValueError that says so. Every use of the names against
        data (the methods, the plots) checks them so first."""
        fitted_names = getattr(self, "feature_names_in_", None)
        if fitted_names is not None and not (
                not isinstance(fitted_names, str) and np.ndim(fitted_names) == 1
                and len(fitted_names) == self.n_features_in_
                and all(isinstance(name, str) for name in fitted_names)):
            shown = (fitted_names if isinstance(fitted_names, str) or np.ndim(fitted_names) != 1
                     else [n.item() if isinstance(n, np.generic) else n for n in fitted_names])
            raise ValueError(
                f"feature_names_in_ is {shown!r}, not a list of "
                f"{self.n_features_in_} strings, one column name per feature. Assign the "
                "column names of the fit's data as strings (or delete the attribute, for "
                "data without names), or refit the model."
            )
        return fitted_names

    def _validate_data(self, X, sample_weight=None, *, reset, statistics=False, allow_empty=False):
        """Validate ``X`` (and its weights) once and return its data source.

        With ``reset`` the source may have any number of features; the caller
        sets ``n_features_in_`` once its fit succeeds. With ``missing='em'``
        NaN entries are kept; for a pass that sums ``statistics`` (fit,
        partial_fit, summarize) a row with no observed entry is refused.
        ``allow_empty`` accepts data of no rows or no weight (see
        :func:`fastem.data.as_source`).
        """
        if not reset:
            self._check_is_fitted()
            check_scalar(self.n_features_in_, "n_features_in_", numbers.Integral, min_val=1)
            # Before the anchors (e.g. the means) take part in the range check.
            self._check_fitted_parameters(self.n_features_in_)
        fitted_names = None if reset else self._checked_feature_names()
        if fitted_names is not None and isinstance(X, Chunks):
            X.check_first_row(fitted_names)
        allow_nan = self._fits_missing()
        squares = self._squares_data
        if not (squares or reset or statistics):
            squares = None  # a pass that scores: no limit of the range (see check_range)
        source = as_source(
            X,
            sample_weight,
            check_data=family_check(self, statistics),
            anchors=None if reset else self._anchor_points(),
            allow_nan=allow_nan,
            nan_advice=self._nan_advice(predicting=not (reset or statistics)),
            allow_empty=allow_empty,
            squares=squares,
        )
        if reset:  # the source's column names are committed with the fit, by _set_feature_names
            return source
        check_feature_names(
            getattr(source, "feature_names_in", None),
            getattr(self, "feature_names_in_", None),
            type(self).__name__,
            getattr(source, "column_selection", "X[{}]"),
            getattr(source, "index_note", None),
        )
        if source.n_features != self.n_features_in_:
            indices = getattr(self, "_column_indices", None)
            recorded = "" if indices is None else (
                f" It was fitted on the columns {list(indices)} (0-based) of a file without "
                f"column names: fastem.Chunks(paths, columns={list(indices)}) reads those of "
                f"such files, X[:, {list(indices)}] takes them of an array.")
            raise ValueError(
                f"X has {source.n_features} features, but {type(self).__name__} is expecting "
                f"{self.n_features_in_} features as input. Pass data with the same columns "
                f"as in fit.{recorded}"
            )
        return source

    def _run_so_far(self, n_iter, lower_bounds):
        """A copy of this working model, for the callback: the current parameters with the
        record of the run so far (``n_iter_``, ``lower_bound_``, ``lower_bounds_``;
        ``converged_`` False while it runs), so that a checkpoint saved from it
        describes them.

        What the callback does to the copy (``set_params``, an assignment,
        ``m_step``, ``partial_fit``) changes neither the run nor the record the
        fit publishes. Its own ``callback`` is None, so that its ``fit`` does not
        call the callback again, and again.
        """
        view = copy.copy(self)
        view.callback = None
        state = _without_their_records(_state.current(view))
        record = {"n_iter_": n_iter, "lower_bound_": lower_bounds[-1],
                  "lower_bounds_": list(lower_bounds), "converged_": False,
                  "_fitted_settings": view._settings_of_the_fit(),
                  # of the run's last M-step, which set the parameters
                  "_unobserved_features": getattr(self, "_unobserved_features", None)}
        for name, value in record.items():
            state = state.replace_record(name, value)
        _state.assign(view, state)
        return view

    def _feature_label(self, j):
        """Feature ``j`` (0-based) as messages name it: by its column name where the fit
        had them (``feature_names_in_``), else by its index
        (:func:`~fastem._validation.feature_label`)."""
        return feature_label(j, getattr(self, "feature_names_in_", None))

    def _set_feature_names(self, source, warm=False):
        """Commit the column names that :meth:`_validate_data` found (or forget old ones),
        and the columns of its files that the source chose by index in files without names
        (``column_indices``, :class:`~fastem.Chunks` ``columns``), which :func:`fastem.io.save`
        records as the command line's ``--columns`` does: a fit forgets those of the model
        file it was loaded from, but a ``warm`` fit on data that name none of their columns
        (an array of the same columns) keeps them."""
        names = getattr(source, "feature_names_in", None)
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        indices = getattr(source, "column_indices", None)
        if indices is not None or names is not None or not warm:
            self._column_indices = indices

    def _check_is_fitted(self):
        """Raise :class:`~fastem.exceptions.NotFittedError` unless the model is fitted."""
        if not hasattr(self, "weights_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                "appropriate arguments before using this estimator."
            )
        if not hasattr(self, "n_features_in_"):
            # parameters assigned by hand to a model that was never fitted
            raise NotFittedError(
                f"This {type(self).__name__} has parameters assigned by hand but no "
                "n_features_in_, which a fit sets: assign it too (model.n_features_in_ = "
                "the number of features of the data), or fit the model."
            )

    # ------------------------------------------------------------------
    # the sufficient-statistics protocol

    def _n_stats(self, n_features):
        family = sum(math.prod(shape) for shape in self._moment_shapes(n_features).values())
        return family, 2 + self._n_components + family

    def _parameter_shapes(self, n_features):
        """Family hook: ``{name: shape}`` of the fitted parameters. Default: the weights only."""
        return {"weights_": (self._n_components,)}

    def _check_parameter_values(self):
        """Family hook: reject parameters outside the family's domain (ValueError)."""

    def _check_fitted_parameters(self, n_features):
        """Check that the parameters agree with each other, the hyper-parameters and the data.

        Shapes against :meth:`_parameter_shapes`, one floating dtype, finite
        values, weights on the simplex and the family's own constraints
        (:meth:`_check_parameter_values`); a few microseconds, no pass over
        data. Parameters assigned by hand are checked against one another
        too, once (covariances the inverse of the precisions, ...:
        :func:`fastem.io.check_parameters_agree`), which those of a fit,
        ``load`` or ``from_sklearn`` are by construction or were checked
        against. Raises ValueError naming the attribute, the value seen and
        the expected one.
        """
        from .io import check_parameters_agree

        state = _state.current(self)
        key = ("checked", n_features)
        hyper = self._hyper_parameter_values()
        if _same_objects(state.memo.get(key), hyper):
            return
        self._check_parameters()
        check_parameter_arrays(self, self._parameter_shapes(n_features), n_features)
        self._check_structure_of_the_fit(state)
        self._check_parameter_values()
        if state.memo.get(ASSIGNED):
            check_parameters_agree(self, state)
        state.memo[key] = hyper

    def _check_structure_of_the_fit(self, state):
        """Raise ValueError when ``set_params`` changed, since the fit, a hyper-parameter that
        fixes how the parameters are read (``n_components``, ``covariance_type``, ...).

        The structure is the one recorded with the parameters by ``fit``, ``partial_fit``,
        ``load`` or ``from_sklearn`` (``_fit_structure``; parameters assigned since have
        none, and are checked against one another instead). Their shapes cannot always
        tell: 'diag' and 'tied' parameters of as many components as features are both
        square, and a 'diag' model read as 'tied' gave other predictions without an error.
        """
        fitted = state.get("_fit_structure")
        if not fitted:
            return
        wanted = self._structure(fitted.get("n_features"))
        changed = [name for name in wanted
                   if name != "n_features" and name in fitted and fitted[name] != wanted[name]]
        if changed:
            then = ", ".join(f"{name}={fitted[name]!r}" for name in changed)
            now = ", ".join(f"{name}={wanted[name]!r}" for name in changed)
            raise ValueError(
                f"This {type(self).__name__}'s parameters were fitted with {then}, but its "
                f"hyper-parameters now say {now} (set_params since the fit). Refit the model, "
                f"or set_params({then}) to use the fitted parameters."
            )

    def _hyper_parameter_values(self):
        """The hyper-parameters' values, in ``get_params`` order (the objects themselves)."""
        return _hyper_parameter_getter(type(self))(self)

    def _pass_checks_on(self, before, n_features):
        """Count the M-step's parameters as checked when those of its pass, ``before``, were.

        For the EM loop, right after ``m_step(stats)`` with ``stats`` from a
        kernel pass at ``before`` (which ran :meth:`_check_fitted_parameters`):
        an M-step from such statistics gives parameters that pass the same
        checks (finite, of the declared shapes and dtype, weights on the
        simplex, positive precisions; ``m_step`` raises otherwise), so the
        next pass need not run them again. Statistics from elsewhere
        (``m_step`` called by a user) are not vouched for: the next pass
        checks their M-step's parameters.
        """
        key = ("checked", n_features)
        hyper = before.memo.get(key)
        if _same_objects(hyper, self._hyper_parameter_values()):
            _state.current(self).memo[key] = hyper

    @_one_snapshot
    def _run_kernel(
        self, X, sample_weight, *, accumulate, log_prob=None, labels=None, resp=None, context=None
    ):
        n_features = X.shape[1]
        dtype = X.dtype
        self._check_fitted_parameters(n_features)
        # A parameter beyond float32's range becomes inf in the cast:
        # check_kernel_params below names it, with the fix.
        with np.errstate(over="ignore"):
            try:
                params = self._pass_kernel_params(self._kernel_params(dtype), X, context)
            except ZeroDivisionError as exc:  # a compiled table's factorisation
                raise FloatingPointError(_singular_in(dtype)) from exc
        family = type(params)
        cached = registered_families().get(family)
        if cached is None:
            raise TypeError(
                f"{type(self).__name__}._kernel_params returned a {family.__name__}, which is "
                "not a registered family: call fastem.kernels.register_family_kernels "
                "for it when its kernel module is imported."
            )
        n_family, n_stats = self._n_stats(n_features)
        n_pass = self._pass_statistics_length(params) if accumulate else 0
        try:
            totals = launch_e_step(
                X, sample_weight, self._kernel_log_weights().astype(dtype), params, cached,
                n_family + n_pass, n_stats, self._scratch_rows(n_features), accumulate,
                log_prob=log_prob, labels=labels, resp=resp,
            )
        except ZeroDivisionError as exc:  # a factorisation in the kernel
            raise FloatingPointError(_singular_in(dtype)) from exc
        return self._fold_pass_statistics(params, totals, n_stats) if n_pass else totals

    def _scratch_rows(self, n_features):
        """``_work_rows(n_features)``, checked: a whole number of rows, at least 0."""
        return check_scalar(self._work_rows(n_features),
                            f"{type(self).__name__}._work_rows({n_features})",
                            numbers.Integral, min_val=0)

    def _first_params_class(self):
        """Family hook: the class of the kernel params of the fits to come, or None if unknown."""
        return None

    def _pass_context(self, source):
        """Family hook: what every chunk's kernel params in a pass over ``source`` share. Default: None."""
        return None

    def _pass_kernel_params(self, params, X, context):
        """Family hook: the kernel params for one pass over the rows ``X``. Default: ``params``."""
        return params

    def _pass_statistics_length(self, params):
        """Family hook: entries the blocks sum after the family's statistics, for ``params``.

        Sums that only the kernel call's ``params`` give a meaning to; the
        kernel's statistics vector is that much longer, and
        :meth:`_fold_pass_statistics` folds them into the rest. Default: 0.
        """
        return 0

    def _fold_pass_statistics(self, params, totals, n_stats):
        """Family hook: ``totals[:n_stats]`` with the entries after it folded in, float64.

        ``totals``: a kernel call's statistics vector, with the
        :meth:`_pass_statistics_length` entries at its end.
        """
        raise NotImplementedError(f"{type(self).__name__} sums no statistics of its own")

    def _kernel_log_weights(self):
        """Family hook: the per-component terms the kernel adds to the log-densities, float64.

        Default: the log mixing weights (-inf for an empty component). A
        variational mixture gives its expected log-weights and the
        expectations of the log-density's other per-component terms.
        """
        return log_mixing_weights(self.weights_)

    def _log_density_floor(self, low, high):
        """Family hook: a lower bound of the weighted log-density of every row within the box
        ``low <= x <= high`` (float64 arrays of shape (n_features,), NaN for a feature without
        values), as a float, or None where the family has none. Default: None.

        With :meth:`_relative_log_densities`: rows whose log-density may fall
        below ``-_FLOAT64_LOG_DENSITY_LIMIT`` are looked for only where the
        bound does. Its upper side is no concern: no family's log-density
        rises anywhere near the limit.
        """
        return None

    def _relative_log_densities(self, X):
        """Family hook: the kernel's weighted log-densities of the float64 rows ``X``, less a
        term common to the components, where computing them so is more exact.

        float64 of shape (n_rows, n_components), or None. The driver takes the
        labels and responsibilities of rows far from every component from
        them (``_FLOAT64_LOG_DENSITY_LIMIT``), whose log-densities differ by
        less than their rounding where the components share a large term.
        Default: None, the kernel's log-densities.
        """
        return None

    def _lower_bound(self, stats, before):
        """Family hook: the objective of a pass, after its M-step (see :mod:`fastem._em`).

        ``stats`` were summed under the parameters ``before`` (a
        ``_get_parameters()`` result); the model holds their M-step. Default:
        the mean log-likelihood per unit of sample weight at ``before``,
        which EM never lowers. A variational family returns its evidence
        lower bound per unit of sample weight.
        """
        return stats.mean_log_likelihood

    def _fit_priors(self, source):
        """Family hook: parameters that ``fit`` takes from the whole data before any start.

        ``{name: array}`` set on every run of the fit before its
        initialisation (and over a warm start's parameters), computed once
        per fit, e.g. priors centred on the data. Default: ``{}``.
        """
        return {}

    #: Whether ``fit`` warns (EmptyComponentWarning) about components left with
    #: no data: a variational mixture switches unneeded components off by design.
    _warns_empty_components = True

    #: Weight at or below which a component is off: one left without data has
    #: weight exactly 0 (a variational mixture's prior leaves more; plots
    #: leave such components out).
    _off_weight = 0.0

    def _unpack(self, total, n_features, reference=None, shapes=None):
        """The statistics vector ``total`` as SufficientStatistics, its frame ``reference``
        (default: the model's, :meth:`_reference`); ``shapes``: ``_moment_shapes(n_features)``,
        when the caller has them."""
        n_components = self._n_components
        moments = {}
        offset = 2 + n_components
        shapes = self._moment_shapes(n_features) if shapes is None else shapes
        for name, shape in shapes.items():
            size = math.prod(shape)
            moments[name] = total[offset : offset + size].reshape(shape)
            offset += size
        return SufficientStatistics(
            total[0], total[1], total[2 : 2 + n_components], moments,
            self._reference() if reference is None else reference,
        )

    def _totals(self, source, accumulate):
        """One kernel pass over a source: the summed statistics vector."""
        state = self._get_parameters()
        context = self._pass_context(source)
        return source.reduce(
            functools.partial(_kernel_totals, self._for_tasks(), state, accumulate, context))

    def _for_tasks(self):
        """The model as the functions of a pass over a source hold it: without ``callback``
        or the collapse rules (and data summary) of a :func:`fastem.select_n_components` grid.

        Only the EM loop calls the callback, where the fit runs. A Dask cluster of
        processes pickles the functions of every task, and a callback that pickle cannot
        take (an object holding a lock or an open file) made every Dask call (fit,
        predict, score, partial_fit) fail with "Could not serialize object of type
        _HLGExprSequence"; the grid's summary holds the whole source. A shallow copy,
        holding the same snapshot, where there is either; the model itself otherwise.
        """
        if getattr(self, "callback", None) is None and not hasattr(self, "_grid_rules"):
            return self
        model = copy.copy(self)
        model.callback = None
        model.__dict__.pop("_grid_rules", None)
        return model

    def _outputs(self, source, output, out=None):
        """One kernel pass over a source that returns a per-row ``output``."""
        n_columns, dtype = {
            "labels": (None, np.int64),
            "log_prob": (None, np.float64),
            "resp": (self._n_components, source.dtype),
        }[output]
        state = self._get_parameters()
        # A Dask source's outputs are lazy: computed later, from ``self``, which is the
        # copy that the calling method runs on (one_snapshot), so that a set_params
        # (missing, covariance_type) on the model after the call changes nothing in them.
        return source.map(
            functools.partial(_kernel_output, self._for_tasks(), state, output), n_columns, dtype,
            out,
        )

    def _summarize(self, source):
        return self._unpack(self._totals(source, accumulate=True), source.n_features)

    def _recentre(self, stats, reference):
        """Family hook: ``stats`` re-expressed around ``reference``. Default: no reference."""
        return stats

    @_one_snapshot
    def summarize(self, X, sample_weight=None):
        """Sufficient statistics of ``X`` under the current parameters.

        One fused pass over ``X``. Summaries of disjoint chunks taken under the
        same parameters add up to the summary of their union, and
        :meth:`m_step` turns a summary into new parameters. A piece of no rows,
        or of weights that are all 0, summarizes to 0, so that
        ``sum(model.summarize(p) for p in np.array_split(X, k))`` holds for any ``k``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), chunked data or dask array
            ``n_samples`` may be 0.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights that act like repetition counts.

        Returns
        -------
        stats : SufficientStatistics

        Raises
        ------
        NotFittedError
            If the model has no parameters yet.
        ValueError
            If ``X`` has other columns than the fit's, or values outside the
            family's domain, or weights that are negative, not finite, or sum
            outside the range that float64 sums hold.
        """
        return self._summarize(
            self._validate_data(X, sample_weight, reset=False, statistics=True, allow_empty=True))

    @on_one_blas_thread
    @_one_snapshot
    def m_step(self, stats):
        """Set the parameters from summed sufficient statistics (the M-step).

        Parameters
        ----------
        stats : SufficientStatistics
            Statistics summed over all the data, taken under the current
            parameters.

        Returns
        -------
        self

        Raises
        ------
        NotFittedError
            If the model has no parameters yet (fit it, or call
            ``partial_fit``, first).
        TypeError, ValueError
            If ``stats`` is not a :class:`SufficientStatistics` of this model:
            another number of components or features, another family or
            covariance type; if it holds values no data can give (a NaN or
            infinite entry, a negative ``nk`` or ``n_samples``, no positive
            weight, a negative sum of non-negative data); or if a
            hyper-parameter set since the fit is invalid
            (``set_params(covariance_type='Full')``).
        """
        self._check_is_fitted()
        self._check_parameters()  # hyper-parameters set since the fit, before they are read
        self._check_statistics(stats)
        before = _state.current(self)
        try:
            # Data and parameters far apart for the dtype (e.g. a means_init
            # near 0 for data near 1e160) overflow here; that is reported below.
            self._m_step_parameters(stats)
            parameters = _state.current(self)
            names = self._parameter_names
            check_m_step_values(names, [parameters[name] for name in names], self._dtype)
        except ValueError:
            _state.assign(self, before)  # a failed M-step leaves the model as it was
            raise
        # which components the M-step gave no observed value of a feature, for a stream
        # that continues from these parameters
        self._unobserved_features = self._unobserved_of_the_parameters(stats)
        return self

    def _m_step_parameters(self, stats):
        """The parameters of the M-step from ``stats``, set in the model's dtype, unchecked."""
        with np.errstate(over="ignore", invalid="ignore"):
            self.weights_ = _mixing_weights(stats.nk).astype(self._dtype)
            self._m_step_family(stats)
        _state.made_together(self)

    # ------------------------------------------------------------------
    # fitting

    def _check_statistics(self, stats):
        """Reject statistics that another model summarized, before any parameter changes."""
        if not isinstance(stats, SufficientStatistics):
            raise TypeError(
                f"m_step takes a SufficientStatistics, e.g. model.summarize(X), got "
                f"{type(stats).__name__}."
            )
        n_features = self.n_features_in_
        expected = {"nk": (self._n_components,), **self._moment_shapes(n_features)}
        expected.update({f"reference {k}": np.shape(v) for k, v in self._reference().items()})
        got = {"nk": stats.nk.shape, **{k: v.shape for k, v in stats.moments.items()}}
        got.update({f"reference {k}": np.shape(v) for k, v in stats.reference.items()})
        if {k: tuple(v) for k, v in expected.items()} != got:
            differ = sorted(k for k in expected.keys() | got.keys() if got.get(k) != expected.get(k))
            shown = ", ".join(f"{k} {got.get(k, 'missing')} (expected {expected.get(k, 'none')})"
                              for k in differ)
            raise ValueError(
                f"These sufficient statistics do not belong to this {type(self).__name__} "
                f"({self._n_components} component(s), {n_features} feature(s)"
                f"{''.join(f', {k}={v!r}' for k, v in self._family_structure().items())}): "
                f"{shown}. Summarize the data with this model, model.summarize(X)."
            )
        if stats.n_samples == 0 and not np.any(stats.nk):  # summaries of empty pieces only
            raise ValueError(
                "These sufficient statistics hold no data: n_samples is 0, the summaries "
                "of pieces with no rows or with weights that are all 0. An M-step needs some "
                "weight: summarize data with a positive weight too; the model is unchanged."
            )
        problem = _impossible_statistic(stats) or self._impossible_moment(stats)
        if problem is not None:
            raise ValueError(
                f"These sufficient statistics cannot come from data: {problem}. Pass what "
                "summarize returns, summaries added with +, or scaled by a positive finite "
                "factor (stats.scaled(factor)); the model is unchanged."
            )

    def _impossible_moment(self, stats):
        """Family hook: why ``stats.moments``, finite and of the right shapes, cannot be
        sums over data of the family's domain (e.g. a negative sum of non-negative
        data), or None. Default: None."""

    @on_one_blas_thread
    @_state.on_the_settings_of_its_start
    def fit(self, X, y=None, sample_weight=None):
        """Estimate the parameters with the EM algorithm.

        The fit runs ``n_init`` times from different starts and keeps the one
        with the largest objective: the log-likelihood, or for a variational
        mixture the evidence lower bound (ELBO). Each run iterates until the estimated
        distance to the peak is below ``tol``, or for ``max_iter`` passes
        over the data, and warns with :class:`ConvergenceWarning` if it never
        converges. The stopping rule (Aitken's estimate of the limit of the
        objective, Böhning et al. 1994; McLachlan and Krishnan 2008,
        sec. 4.9) and the acceleration (SQUAREM, Varadhan and Roland 2008,
        then Anderson steps, Walker and Ni 2011) are described in
        :mod:`fastem._em`.

        The fit is built aside: if it raises, the estimator is left exactly
        as it was before the call (every fitted attribute of the previous
        fit, or none). With ``warm_start=True`` the previous fit's parameters
        are the start and the convergence test starts afresh; if
        ``n_components``, the number of features or the family's structure
        (e.g. ``covariance_type``) changed, the fit starts from
        ``init_params`` instead, with a :class:`WarmStartWarning`.

        If ``callback`` is set, ``callback(model, n_iter, lower_bound)`` is
        called after each accepted pass over the data, with the objective
        per sample (mean log-likelihood, or ELBO) of that pass's E-step; ``model`` is a copy
        of the working estimator that holds the current parameters (the
        estimator itself changes only when the fit succeeds) with the record of
        the run so far (``n_iter_``, ``lower_bound_``, ``lower_bounds_``,
        ``converged_`` False), so that a checkpoint it saves describes them;
        what the callback does to it (``set_params``, an assignment of a
        parameter, ``m_step``, ``partial_fit``, ``fit``) changes neither the
        fit nor its record. The copy's own ``callback`` is None.
        Returning True (Python's, or NumPy's from a comparison of NumPy
        numbers) stops the fit: no further iterations or initializations
        run, the best result so far is kept, ``converged_`` is False unless
        that iteration converged, and no :class:`ConvergenceWarning` is
        issued.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), chunked data or dask array
            float32 data stay float32; other numeric types become float64. A
            memory-mapped array is streamed from disk without a copy; chunked
            data (e.g. :class:`fastem.data.Chunks`) and Dask arrays are
            described in :mod:`fastem.data`.
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights that act like repetition counts, read by
            position. A pandas Series whose index holds the row labels of the
            DataFrame ``X`` in another order raises ValueError (align it first,
            ``sample_weight.loc[X.index]``). Beside a Dask array or DataFrame,
            whose row labels are computed lazily, a pandas Series is read by
            position without that check: align it first, or pass a column of
            the Dask DataFrame (``X["weight"]``), which comes with its rows.

        Returns
        -------
        self

        Warns
        -----
        ConvergenceWarning
            The best run did not converge in ``max_iter`` passes.
        LikelihoodDecreaseWarning
            The objective fell by more than rounding; the cause is named.
        WarmStartWarning
            ``warm_start`` could not continue from the fitted model.
        EmptyComponentWarning
            A component holds no data after the fit (weight 0). The warning
            names the start as the cause where the component started at
            weight 0 (a ``weights_init`` entry of 0, a given mean nearest to
            no point, the model ``warm_start`` continued from), else the data.
        """
        self._fit(self._validate_data(X, sample_weight, reset=True, statistics=True))
        return self

    @_one_snapshot
    @on_one_blas_thread
    @_state.on_the_settings_of_its_start
    def fit_predict(self, X, y=None, sample_weight=None):
        """Fit, then return the most likely component of each sample.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            A list of arrays for chunked data, a dask array for a dask array.

        Raises
        ------
        ValueError
            As :meth:`fit`, and, before the fit, for labels that the memory
            left cannot hold (see :meth:`predict`).
        """
        source = self._validate_data(X, sample_weight, reset=True, statistics=True)
        # before the fit, whose work a refusal after it would throw away
        source.check_outputs(None, np.int64, "call fit(X), then predict(X, {out}) to write "
                                             "them to a file")
        self._fit(source)
        return self._outputs(source, "labels")

    def _family_structure(self):
        """Family hook: hyper-parameters besides n_components that fix parameter shapes."""
        return {}

    def _structure(self, n_features):
        return {"n_components": self._n_components, "n_features": n_features,
                **self._family_structure()}

    def _family_structure_of_parameters(self):
        """Family hook: the values of :meth:`_family_structure` that the parameters have,
        read from the parameters. Default: the hyper-parameters' (their shapes do not
        depend on them)."""
        return self._family_structure()

    def _structure_of_parameters(self):
        """The structure (see :meth:`_structure`) of the parameters, read from them.

        For assigned parameters, whose structure no fit, ``load`` or
        ``from_sklearn`` recorded (an assignment forgets the record). The
        hyper-parameters cannot tell: ``set_params`` may have changed them since.
        """
        state = _state.current(self)
        if np.ndim(state.get("weights_")) != 1 or any(
                state.get(name) is None for name in self._parameter_names):
            # absent, None, or weights that are not a vector: named by the checks
            self._check_fitted_parameters(self.n_features_in_)
        return {"n_components": len(self.weights_), "n_features": self.n_features_in_,
                **self._family_structure_of_parameters()}

    def _warm_start_mismatch(self, n_features, names=None):
        """Why the fitted parameters cannot start this fit on data of ``n_features`` columns
        named ``names`` (None: unnamed), or None.

        Parameters fitted on named columns start only data whose columns have
        the same names in the same order: in another order each mean would
        start on another feature's values.
        """
        fitted = getattr(self, "_fit_structure", None)
        if fitted is None:  # parameters assigned since the fit, or given without one
            fitted = self._structure_of_parameters()
        wanted = self._structure(n_features)
        changed = [
            f"{name}={fitted[name]!r} to {wanted[name]!r}"
            for name in wanted
            if fitted.get(name) != wanted[name]
        ]
        fitted_names = getattr(self, "feature_names_in_", None)
        if names is not None and fitted_names is not None:
            before, after = [str(n) for n in fitted_names], [str(n) for n in names]
            if before != after:
                changed.append(f"feature names {before} to {after}")
        return ", ".join(changed) or None

    @_one_snapshot
    def _fit(self, source):
        self._check_parameters()
        n_samples = source.n_positive
        if n_samples < self._n_components:
            raise ValueError(
                f"Expected n_samples >= n_components, got n_components={self._n_components} "
                f"with only {n_samples} sample(s) of positive weight. Use fewer components "
                "or more data."
            )
        self._check_family_init(source.n_features)
        warm = self.warm_start and hasattr(self, "converged_")
        if warm:
            mismatch = self._warm_start_mismatch(
                source.n_features, getattr(source, "feature_names_in", None))
            if mismatch is not None:
                warn_at_caller(
                    f"warm_start=True, but the fitted model does not match this fit ({mismatch}), so "
                    f"it cannot start this fit; starting afresh from "
                    f"init_params={self.init_params!r}. Set warm_start=False to silence this, "
                    "or restore the previous settings to continue the previous fit.",
                    WarmStartWarning,
                )
                warm = False
        if warm:  # parameters assigned since the fit are named here, not cast below
            self._check_fitted_parameters(source.n_features)
        # a float32 model continued on float64 data starts from rounded parameters
        rounded = warm and self._dtype == np.float32 and np.dtype(source.dtype) == np.float64
        self._check_values_for_dtype(source.dtype, starts=not warm)
        n_init = 1 if warm else int(self.n_init)
        random_state = check_random_state(self.random_state)
        if not warm:  # a first fit's E-step compiles in another process while this one starts
            params_class = self._first_params_class()
            if params_class is not None:
                compile_ahead(params_class, source.dtype, source.n_features)
        priors = self._fit_priors(source)

        # With missing='em', the first start is run from the complete rows and
        # from the mean-filled rows, when they differ (see points_for_start);
        # either may fail (a covariance without spread) while the other fits.
        two_starts = not warm and self._fits_missing()
        runs = [(init, False) for init in range(n_init)]
        if two_starts:
            runs.insert(1, (0, True))
        first_error = failure = None
        # in select_n_components' grid, a start without collapsed components ranks first
        ranking = _BestStart(self, self._ranking_rules(source), source.dtype)
        # On data of at most _CANDIDATE_SUBSAMPLES times the hierarchical tree's
        # subsample, the starts after the tree are k-means++ partitions of the
        # subsample's distinct points (``pool``), drawn in turn whatever n_init is;
        # the first ``shared`` restarts are ones that compete with the tree for
        # fewer restarts (see _best_of_starts).
        pool = shared = after_first = None
        for init, filled in runs:
            start_error = None  # the error of this start's own partition, where others compete
            # Every run works on a copy: the estimator changes only at the end.
            worker = copy.copy(self)
            worker.n_features_in_ = source.n_features
            worker._set_feature_names(source, warm)  # the callback's copy is of this data
            if warm:
                worker._set_parameters(
                    {
                        # assigned ones are converted as at their other uses: refused
                        # where float64 would alter them, not rounded
                        name: parameter_as_float(getattr(self, name), name).astype(
                            source.dtype, copy=False)
                        for name in self._parameter_names
                    }
                )
            for name, value in priors.items():
                setattr(worker, name, value)
            if warm:
                # The parameters were checked against one another above, within the
                # rounding of their own dtype: a float32 model's, cast for float64 data,
                # agree to float32's rounding only, which a check at float64's refused
                # (ParametersDisagree for every float32 BayesianGaussianMixture).
                _state.made_together(worker)
            if pool is not None and 0 < init <= shared:
                # one of the k-means++ partitions that compete with the tree for fewer
                # restarts, run as any restart is
                try:
                    worker._start_from_moments(
                        initial_moments(*pool, self._n_components, "k-means++", random_state,
                                        second=worker._start_second_moments,
                                        space=worker._start_space),
                        source.dtype,
                    )
                except (ValueError, FloatingPointError) as exc:
                    failure = self._passed_over(failure, exc)
                    continue
            elif not warm:
                if init == 0 and not filled:
                    first_draws = random_state.get_state()
                elif init == 0:  # the same subsample as the other first start
                    random_state.set_state(first_draws)
                drawn = []
                try:
                    sample = worker._initialize(
                        source, random_state, restart=init, filled=filled, drawn=drawn
                    )
                except (ValueError, FloatingPointError) as exc:
                    # The start's own failure (a partition with a component without
                    # spread): with restarts, or a second first start, it is passed over;
                    # where the tree's partition fails, its k-means++ candidates stand,
                    # and where a first k-means++ partition fails, its Lloyd refinement.
                    if init == 0 and drawn and (
                            self._refines_first_start(source)
                            or (not filled and self._draws_candidates(source, drawn[0]))):
                        sample, start_error = drawn[0], exc
                    elif two_starts and init == 0:
                        if filled and first_error is not None:  # both first starts failed
                            if n_init == 1:
                                raise first_error from None
                            failure = self._passed_over(failure, first_error)
                        elif not filled:
                            first_error = exc
                        continue
                    elif n_init == 1:
                        raise
                    else:
                        failure = self._passed_over(failure, exc)
                        continue
                if filled and after_first is not None:
                    # the restarts draw on from the first start's candidates, whatever
                    # this one drew: the draws are those of fewer restarts
                    random_state.set_state(after_first)
                if sample is None:
                    if first_error is not None:  # no other first start
                        raise first_error
                    continue
            if self.verbose:
                print(f"Initialization {init}" + (" (mean-filled rows)" if filled else ""))
            start_weights = _state.current(worker).get("weights_")
            try:
                if not (warm or init > 0 or filled) and self._draws_candidates(source, sample):
                    pool = _distinct_points(*sample)
                    spare = self._spare_candidates(source)
                    shared = min(spare, n_init - 1)
                    result = self._best_of_starts(
                        worker, source, pool, random_state, spare - shared, start_error
                    )
                elif not (warm or init > 0) and self._refines_first_start(source):
                    result = self._best_of_starts(
                        worker, source, None, random_state, 0, start_error,
                        rivals=self._lloyd_rival(worker, source, first_draws, filled))
                else:
                    result = self._run_em_to_the_end(worker, source, rounded_start=rounded)
            except _StartsFailed as failed:
                failure = self._passed_over(failure, failed.first_error)
                result = None
            except (ValueError, FloatingPointError) as exc:
                # EM from this start failed (a covariance without spread): with
                # restarts it is passed over, as a failed candidate is; the
                # callback's own errors propagate
                if n_init == 1 or from_callback(exc):
                    raise
                failure = self._passed_over(failure, exc)
                result = None
            if not warm and init == 0 and not filled:
                after_first = random_state.get_state()
            if result is None:
                continue
            if result.converged and not result.stopped:
                result = self._escape_local_optimum(worker, source, result)
            if self.verbose:
                status = "converged" if result.converged else "did not converge"
                print(f"Initialization {status}. lower bound {result.lower_bound:.5f}.")
            ranking.offer(worker, result, start_weights)
            if result.stopped:
                break
        best, best_start_weights = ranking.result, ranking.start
        if best is None:  # every start's EM failed
            raise failure

        # Commit: every fitted attribute, set together once the fit succeeded.
        self._set_parameters(best.parameters)
        self.n_features_in_ = source.n_features
        self._set_feature_names(source, warm)
        self.n_iter_ = best.n_iter
        self.lower_bounds_ = best.lower_bounds
        self.lower_bound_ = best.lower_bound
        self.converged_ = best.converged
        # read by select_n_components to judge fits that stopped short
        self._remaining_gain = best.remaining_gain
        # a new fit restarts online EM, whose statistics and steps go
        _state.assign(self, _without_their_records(_state.current(self)))
        self._fit_structure = self._structure(source.n_features)

        stats = best.stats
        # the loss said, which a partial_fit stream from this fit counts as given
        if best.rounding_loss is not None:
            self._rounding_loss_warned = self._warn_rounding_loss(best)
        elif best.converged:  # no float64 finish measured it: max_iter reached
            self._rounding_loss_warned = self._warn_stored_rounding_loss(
                stats, best.lower_bound, "The fit")
        else:  # an unconverged fit says that it stopped short
            self._rounding_loss_warned = 0.0
        if best.decrease:
            self._warn_decrease(best.decrease, source.dtype)
        elif not best.converged and int(self.max_iter) > 0 and not best.stopped:
            if best.unresolved and best.rounding_loss is None:  # see _run_em_to_the_end
                reason = (
                    "its float32 passes reached the peak only to within their rounding, "
                    "which can hide a slow climb, and no pass was left to confirm the stop "
                    "in float64). Increase max_iter by a few passes"
                )
            else:
                reason = (
                    f"estimated remaining gain of the {self._objective} per sample above "
                    f"tol={self.tol}). Increase max_iter or tol, or check the data's scale"
                )
            warn_at_caller(
                ConvergenceWarning(
                    f"Best of {n_init} initialization(s) did not converge in max_iter="
                    f"{int(self.max_iter)} iterations ({reason}."
                ),
                restated=True,
            )
        elif best.converged and best.unfinished_move > float(self.tol):
            warn_at_caller(
                ConvergenceWarning(
                    "The fit converged to a local optimum, and a move out of it (a merge, "
                    f"split or reordering of its components) raised the {self._objective} by "
                    f"{best.unfinished_move:.3g} per sample, but was still climbing "
                    "when max_iter="
                    f"{int(self.max_iter)} passes ran out: the fit keeps the converged "
                    "optimum. Increase max_iter to let the move finish."
                ),
            )
        elif best.converged and np.isfinite(best.undecided_move):
            warn_at_caller(
                ConvergenceWarning(
                    "The fit converged to a local optimum, and a move out of it (a merge, "
                    "split or reordering of its components) was still climbing, "
                    f"{best.undecided_move:.3g} per sample below its {self._objective}, "
                    f"when max_iter={int(self.max_iter)} passes ran out: the fit keeps the "
                    "optimum, which the move might have passed. Increase max_iter to let "
                    "the move finish."
                ),
            )
        empty = [] if stats is None else _empty_components(stats.nk, stats.n_samples)
        if len(empty) and self._warns_empty_components:
            warn_at_caller(
                self._empty_components_message(empty, best_start_weights, warm),
                EmptyComponentWarning,
            )
        # a partial_fit stream from this fit counts its warnings as given
        self._unobserved_warned = stats is not None and self._warn_unobserved(stats)
        self._unobserved_features = self._unobserved_of_the_parameters(stats)
        self._regularization_warned = stats is not None and self._check_regularization(stats)
        self._stored_parameters_warned = self._check_stored_parameters()
        self._fitted_settings = self._settings_of_the_fit()

    def _empty_components_message(self, empty, start_weights, warm):
        """The EmptyComponentWarning of a fit whose components ``empty`` hold no data, from
        the mixing weights ``start_weights`` (None where unknown); ``warm``: the fit
        continued from the fitted model (``warm_start``).

        A component that starts at weight 0 gets no responsibility in any E-step,
        so it stays empty whatever the data: the warning then names the start
        (:meth:`_empty_start`), not the data, as the cause.
        """
        K = self._n_components
        fewer = f"n_components={K - len(empty)}"
        message = (
            f"{len(empty)} of {K} components hold no data after fitting (indices "
            f"{list(map(int, empty))}); their weight is 0."
        )
        from_start = [int(k) for k in empty if k in _empty_components(start_weights)]
        cause = self._empty_start(from_start, start_weights, fewer, "warm_start" if warm else None)
        if cause is None:
            from_start = []
        else:
            message += " " + cause
        emptied = [int(k) for k in empty if k not in from_start]
        if emptied:
            during = f" Component(s) {emptied} lost their data during EM." if from_start else ""
            message += (
                f"{during} The data support fewer components: use {fewer}, or "
                f"{self._another_start(warm)}."
            )
        return message

    def _given_init_parameters(self):
        """``(names, given)``: the family's initial parameters (``_init_parameter_names``,
        weights first, then the component means) and those of them the user set."""
        names = self._init_parameter_names or ()
        return names, [name for name in names if getattr(self, name) is not None]

    def _another_start(self, warm):
        """The settings that make another start of this fit (for the advice of a warning)."""
        if warm:
            return "warm_start=False to fit afresh"
        names, given = self._given_init_parameters()
        if self._user_gives_every_parameter() or (len(names) > 1 and names[1] in given):
            return "other " + " or ".join(given)  # init_params is not run
        options = ["init_params", "random_state", *given]
        return "another " + ", ".join(options[:-1]) + " or " + options[-1]

    def _empty_start(self, started_empty, start_weights, fewer, continued=None, online=False):
        """Why the components ``started_empty`` (indices), which started at weight 0 among the
        mixing weights ``start_weights``, hold no data, with the fix, as sentences; None
        when a fit's start was computed from the data (the data then left them empty).

        EM gives a component of weight 0 no responsibility, so it keeps weight 0
        at every step. ``fewer``: the ``n_components=...`` to advise;
        ``continued``: 'warm_start' or 'partial_fit' where the run continued from
        the model's own parameters, None for a start of the run's own; ``online``:
        the start of a ``partial_fit`` stream, whose first batch is to blame where
        no initial parameter is.
        """
        if not started_empty:
            return None
        stays = (
            "online EM gives a component of weight 0 no data, so they stay empty at every "
            "later step, whatever the batches hold" if online
            else "EM gives a component of weight 0 no data, so the start left them empty, "
            "not the data"
        )
        if continued is not None:
            values = _listed_weights("weights_", start_weights, started_empty)
            model, fix = {
                "warm_start": ("the fitted model that warm_start=True continued from",
                               "Set warm_start=False to fit afresh"),
                "partial_fit": ("the model that partial_fit continued from",
                                "Fit afresh (fit, or partial_fit of a new model)"),
            }[continued]
            return (
                f"Component(s) {started_empty} had weight 0 in {model} ({values}), and "
                f"{stays}. {fix}, or use {fewer}."
            )
        names, given = self._given_init_parameters()
        if names and names[0] in given:
            values = _listed_weights(names[0], getattr(self, names[0]), started_empty)
            return (
                f"{names[0]} starts component(s) {started_empty} at weight 0 ({values}), and "
                f"{stays}. Give every component a positive weight in {names[0]}, or use "
                f"{fewer}."
            )
        if len(names) > 1 and names[1] in given:
            return (
                f"No point of the data is nearer to {names[1]} row(s) {started_empty} than to "
                f"another row, so they started at weight 0, and {stays}. Move those rows of "
                f"{names[1]} near the data (or leave {names[1]}=None), or use {fewer}."
            )
        if online:
            return (
                f"The start from the first batch gave component(s) {started_empty} no point "
                f"of it (fewer distinct points than components), so they started at weight 0, "
                f"and {stays}. Start the stream with a batch of at least "
                f"n_components={self._n_components} distinct points, or use {fewer}."
            )
        return None

    def _passed_over(self, failure, error):
        """The first failure of a start, kept to raise if every start fails; says so when
        ``verbose``."""
        if self.verbose:
            print(f"Initialization failed: {error}")
        return failure or error

    def _ranking_rules(self, source):
        """``(summary, min_variance_ratio)`` by which the starts of this fit rank those
        without collapsed components first (:meth:`_ranks_above`): the
        :class:`~fastem._collapse.DataSummary` of ``source`` and the relative variance
        floor of the grid of :func:`fastem.select_n_components` fitting this model, which
        its flags read too. None outside a grid, where the starts rank by the likelihood
        alone."""
        grid = getattr(self, "_grid_rules", None)
        return grid if grid is not None and grid[0].source is source else None

    def _ranks_above(self, result, collapsed, best, best_collapsed, dtype):
        """Whether a start's ``result`` replaces the ``best`` of the earlier ones (None).

        In the grid of :func:`fastem.select_n_components` (``collapsed`` and
        ``best_collapsed`` are then whether :meth:`_parameter_collapse_reasons` finds
        a collapsed component in each; None elsewhere) a run without collapsed
        components ranks above one with them, which the grid would flag as singular
        and leave out; among runs alike in that, and in a fit outside a grid, the
        higher wins (:meth:`_beats`).

        A collapsed component sits on a spurious maximum of the unbounded likelihood,
        whose gain is ``-0.5 * log(reg_covar)`` per point it holds: ranked by the
        likelihood alone, a start that EM led onto one point or one value of an
        indicator won a cell over every proper fit, and the grid lost the cell (R's
        acidity, one feature, K=5 to 9: a component on one point; Boston, 'tied', K=5
        to 7: every component on one value of its 0/1 column). A fit outside a grid
        keeps the highest peak, as scikit-learn's does: a tight group of a few points
        far from the rest (two points in two dimensions, for 'full') is a collapse by
        these rules, and the fits without it stretch another component over it (of 20
        such default fits, 'full', K=4, ranked so, 11 changed: adjusted Rand index 1.0
        to 0.82-0.995). The rules read the parameters and the data's summary alone, not
        the responsibilities: ranking costs no pass over the data, and weights that count
        repeated rows rank as the repeated rows do (a component's effective number of
        points, rule 3 of :func:`fastem.selection.collapsed_components`, counts a point
        of weight 3 as one and three rows as three).
        """
        if best is not None and collapsed != best_collapsed:
            return best_collapsed
        return self._beats(result, best, dtype)

    def _beats(self, result, best, dtype):
        """Whether a run's ``result`` replaces the ``best`` of the earlier starts (None).

        Only by ending higher by more than ``tol`` (the stopping rule's
        precision) or the rounding of the passes that computed the two bounds
        (:func:`~fastem._em.rounding_gap`): runs to one peak stop within that
        of it, and the earlier is kept rather than one whose last bits happen
        to be higher (on another path to the same numbers, e.g. the
        ``missing='em'`` kernel on complete data, they can be the other's).
        """
        if best is None:
            return True
        margin = max(float(self.tol), rounding_gap(result, best, dtype))
        return result.lower_bound > best.lower_bound + margin

    # On data of at most _CANDIDATE_SUBSAMPLES times the hierarchical tree's subsample, a
    # fit considers at least _START_CANDIDATES starts (see _best_of_starts).
    _START_CANDIDATES = 5
    _CANDIDATE_SUBSAMPLES = 10

    def _draws_candidates(self, source, sample):
        """Whether other starts compete with the first start (see :meth:`_best_of_starts`):
        when that start is the hierarchical tree, computed from the data (no initial
        parameters given), of a subsample (``sample``) that holds every row it drew, of
        data of at most ``_CANDIDATE_SUBSAMPLES`` times its rows of positive weight (the
        k-means++ partitions; of one feature, whatever its size, the quantiles' partition
        alone beyond it: see :meth:`_spare_candidates`), and EM runs (``max_iter > 0``).
        With ``missing='em'``, only data without missing
        values, which then fit as the complete data do: of data larger than the
        subsample, the whole data are looked at once, so that whether a NaN fell into
        the subsample (a chance of the random state) does not decide the start."""
        names = self._init_parameter_names
        tree_rows = min(source.n_samples, sample_size("hierarchical", source.n_features))
        return not (
            start_method(self.init_params, source.n_features, 0) != "hierarchical"
            or self.max_iter == 0  # the fit is its start
            or not sample
            or sample[0].shape[0] != tree_rows
            or (self._spare_candidates(source) == 0 and source.n_features != 1)
            or names is None
            or any(getattr(self, name) is not None for name in names)
            or (source.n_samples > tree_rows and self._fits_missing()
                and source.scan_once("holds NaN", _holds_nan, any))
        )

    def _spare_candidates(self, source):
        """How many k-means++ partitions compete with the tree's (less those run as
        restarts): ``_START_CANDIDATES - 1`` on data of at most ``_CANDIDATE_SUBSAMPLES``
        times the tree's subsample, else none (each runs EM on all of the data). Data
        of one feature consider the quantiles' partition whatever their size: from the
        tree's start, EM on 50,000 heavy-tailed values (three lognormal groups, K=3)
        ended 34,500 nats below the quantiles' peak, and a pass over one feature is
        the cheapest there is."""
        tree_rows = min(source.n_samples, sample_size("hierarchical", source.n_features))
        if source.n_positive > self._CANDIDATE_SUBSAMPLES * tree_rows:
            return 0
        return self._START_CANDIDATES - 1

    def _refines_first_start(self, source):
        """Whether the default start's first partition, k-means++ for more features than
        the tree handles (:func:`fastem._init.start_method`), competes with its Lloyd
        refinement (:meth:`_lloyd_rival`): computed from the data (no initial parameters
        given), and EM runs (``max_iter > 0``).

        k-means++ seeds by squared distance, so it seeds on the far points of a wide
        component: one component inside another (covariances I and 100 I, 32 features,
        3,000 points, K=3, 'full') started with a cell of 1 to 11 points, where a full
        covariance needs 33, and EM kept a component on them, 0.9 to 31 nats per point
        below the peak, in 6 of 6 seeds. Lloyd's iterations move such centres into the
        mass; neither start wins everywhere (on overlapping clusters of 40 features the
        k-means++ partition's peak was higher for 4 of 6 seeds), so both run and the
        likelihood chooses, as among the tree's candidates."""
        names = self._init_parameter_names
        return (
            self.init_params == "hierarchical"
            and start_method(self.init_params, source.n_features, 0) == "k-means++"
            and self.max_iter > 0
            and names is not None
            and all(getattr(self, name) is None for name in names)
            and not self._user_gives_every_parameter()
        )

    def _lloyd_rival(self, worker, source, draws, filled=False):
        """A copy of ``worker`` (a first start of the fit) started from the Lloyd refinement
        of its k-means++ centres ('kmeans'): the same subsample and seeding, redrawn from
        the random state ``draws`` that the first start drew from, so the fit's own
        random state draws on as without it. ``filled``: with ``missing='em'``, the rival
        of the start from the mean-filled rows rather than the complete ones
        (:func:`points_for_start`); each first start has its own, as k-means++ seeds on
        far points of either. ``[]`` when that partition fails."""
        rival = copy.copy(worker)
        replay = np.random.RandomState()
        replay.set_state(draws)
        try:
            rival._initialize(source, replay, filled=filled, method="kmeans")
        except (ValueError, FloatingPointError):
            return []
        return [rival]

    def _best_of_starts(self, worker, source, pool, random_state, n_draws, start_error=None,
                        rivals=()):
        """EM from the best of the worker's start (the tree's partition, or a first
        k-means++ partition; unless computing it raised ``start_error``), the started
        copies of the worker in ``rivals``, and
        ``n_draws`` k-means++ partitions of ``pool``, the distinct points of the tree's
        subsample, with their summed weights (None when there are none to draw), each
        run on all of the data.

        The hierarchical partition (mclust's start) is a deterministic
        function of the data: on small real data it often leads to a lower
        peak than a k-means start does (breast cancer, 5 features, 'tied',
        K=4: -5310.1 against -5187.9; on wine's first 6 features BIC's choice
        stood on a diag K=4 fit above a diag K=3 peak). So on such data a
        fit considers at least ``_START_CANDIDATES`` starts, as
        scikit-learn's ``n_init`` runs them, chosen by the likelihood: the
        tree, and k-means++ partitions drawn in turn from ``random_state``.
        With ``n_init`` below ``_START_CANDIDATES`` the first start is the best
        of the tree and ``_START_CANDIDATES - n_init`` of them, and each
        restart is one more, drawn in turn (see :meth:`_fit`); from
        ``_START_CANDIDATES`` on, each is a restart. The draws are the same
        whatever ``n_init`` is, so more restarts consider every start that
        fewer did, and never end lower (iris, full K=6: -123.7 with 5
        restarts against -26.3 with one, when the restarts were drawn
        otherwise). Each candidate is ranked by EM on all of the data (ranked
        on the tree's subsample of larger data, candidates with components of
        a few points won there and emptied on the data: 25 features, 20,000
        points, 0.4 to 0.8 nats per point below the tree's start), so they are
        drawn only for data of at most ``_CANDIDATE_SUBSAMPLES`` times the
        subsample's rows (20,000 up to 8 features, fewer from 9 on), where
        the fit costs about ``_START_CANDIDATES`` times one run: on 12 real
        data sets of 2,380 to 20,000 rows (2 to 6 features, 4 covariance types,
        K=2..6), they reached a higher peak in 108 of 240 fits, and a lower
        one in none. The partitions are drawn from the distinct points with
        their summed weights, so that on data the tree takes whole, weights that
        count repeated rows give the fit of the repeated rows (larger data are
        subsampled by rows). Data of one feature consider one start more, last,
        whatever ``n_init`` is and whatever their size (the only candidate
        of larger data, see :meth:`_spare_candidates`): mclust's own start of
        one feature, the quantiles' partition of ``pool``
        (:func:`~fastem._init.quantile_labels`), which draws nothing.

        A later start wins only as a later restart does (:meth:`_ranks_above`). A
        start whose partition or run fails is passed over; when all fail,
        :class:`_StartsFailed` holds the first one's error. The runs call
        neither ``callback`` nor ``verbose``'s printer; with either, the best
        is run again from its start, bitwise the same, for them to see.
        """
        distinct, counts = pool if pool is not None else (None, None)
        runner = copy.copy(self)
        runner.callback, runner.verbose = None, 0
        # mclust's start of one feature, last: it draws nothing from random_state
        methods = ["k-means++"] * n_draws + (
            ["quantile"] if pool is not None and distinct.shape[1] == 1 else [])
        ranking = _BestStart(self, self._ranking_rules(source) if methods or rivals else None,
                             source.dtype)
        first_error = start_error
        # None: the worker's start; a model: a rival started already
        for method in ([] if start_error else [None]) + list(rivals) + methods:
            trial = method if isinstance(method, BaseMixture) else copy.copy(worker)
            try:
                if isinstance(method, str):
                    trial._start_from_moments(
                        initial_moments(distinct, counts, self._n_components, method,
                                        random_state, second=trial._start_second_moments,
                                        space=trial._start_space),
                        source.dtype,
                    )
                start = trial._get_parameters()
                result = runner._run_em_to_the_end(trial, source)
            except (ValueError, FloatingPointError) as exc:
                first_error = first_error or exc
                continue
            ranking.offer(trial, result, start)
        if ranking.result is None:
            raise _StartsFailed(first_error)
        if self.callback is None and not self.verbose:
            worker._set_parameters(ranking.result.parameters)
            return ranking.result
        worker._set_parameters(ranking.start)
        return self._run_em_to_the_end(worker, source)

    def _check_values_for_dtype(self, dtype, starts):
        """Raise ValueError for hyper-parameters and, when the fit ``starts`` from them, initial
        parameters that a fit of data of ``dtype`` cannot take: beyond the dtype, or starting
        two components alike (EM runs from them only when ``max_iter`` > 0)."""
        self._check_in_dtype(dtype, starts=starts)
        if starts and int(self.max_iter) > 0:
            self._check_starts_apart(dtype)

    def _check_in_dtype(self, dtype, starts):
        """Family hook: raise ValueError when hyper-parameters the fit casts to the data's
        ``dtype`` do not fit in it (see :func:`~fastem._validation.check_in_dtype`):
        the user-given initial parameters when ``starts`` (the fit reads them), and
        whatever the family adds to every M-step. Default: nothing."""

    def _check_starts_apart(self, dtype):
        """Family hook: raise ValueError when initial parameters start two components
        alike in the fit's ``dtype`` (:func:`~fastem._validation.check_distinct_starts`).
        Default: nothing."""

    def _settings_of_the_fit(self):
        """Family hook: the hyper-parameters that the fitted parameters embody and that can
        change after the fit (e.g. ``reg_covar``), ``{name: value}``. Default: none.

        Recorded with the parameters at the end of ``fit`` and of each
        ``partial_fit`` step, and when a model file is loaded
        (``_fitted_settings``), for the family's :meth:`_statistics_of_parameters`.
        """
        return {}

    def _check_regularization(self, stats, data=None):
        """Family hook: warn if the regularisation swamps the data's spread; return whether
        it warned. Default: nothing (False).

        Called once at the end of ``fit`` with the statistics of the fitted
        model's last pass, and after each ``partial_fit`` step with the running
        statistics, until it has warned once in the stream. ``data``: the
        statistics of this step's data alone (``partial_fit``: the batch's,
        under the parameters before the step), None where they are ``stats``.
        """
        return False

    def _warn_unobserved(self, stats):
        """Family hook: with ``missing='em'``, warn of components with no observed value of a
        feature in the statistics ``stats`` of the fitted parameters; return whether it
        warned. Default: nothing (False).

        Called as :meth:`_check_regularization` is, before it, and once per
        ``partial_fit`` stream apart from it: neither warning silences the other.
        """
        return False

    def _observed_of_complete(self, stats):
        """Family hook: the observed-data moments (``observed_nk``, ...) that ``missing='em'``
        statistics carry beside the others, from statistics ``stats`` of data without NaN,
        in which every feature is observed at every point. Default: none."""
        return {}

    def _complete_of_observed(self, stats):
        """Family hook: the moments of ``missing='em'`` statistics ``stats`` as statistics
        of complete data carry them (no observed-data moments), each missing entry counted
        at its expected value under the parameters of their M-step. Default: the moments
        without those whose names start with ``observed_`` (a family whose ``sx`` holds
        the expected values of the missing entries already)."""
        return {name: v for name, v in stats.moments.items()
                if not name.startswith("observed_")}

    def _stream_statistics_for_missing(self, running):
        """The running statistics ``running`` of a ``partial_fit`` stream (None: none), as
        the ``missing`` set now sums a batch: a stream summarized with ``missing='error'``
        (data without NaN) continued after ``set_params(missing='em')`` gets the observed
        moments of complete data (:meth:`_observed_of_complete`), and one summarized with
        ``missing='em'`` continued with another ``missing`` (whose batches have no NaN)
        becomes statistics of complete data (:meth:`_complete_of_observed`). Without this,
        the two did not add ("Cannot add sufficient statistics of different models")."""
        if running is None:
            return None
        observed = any(name.startswith("observed_") for name in running.moments)
        if self._fits_missing() and not observed:
            moments = {**running.moments, **self._observed_of_complete(running)}
        elif observed and not self._fits_missing():
            moments = self._complete_of_observed(running)
        else:
            return running
        return SufficientStatistics(running.n_samples, running.log_likelihood, running.nk,
                                    moments, running.reference)

    def _unobserved(self, stats):
        """Family hook: with ``missing='em'``, the features in which a component with mass
        has no observed value in the statistics ``stats``, an (n_components, n_features)
        bool array, which its M-step treats apart; or None, for a family without such a
        rule (the default)."""
        return None

    def _unobserved_of_the_parameters(self, stats):
        """The record ``_unobserved_features`` of parameters set by the M-step of ``stats``
        (None for none): the (n_components, n_features) bool array of :meth:`_unobserved`
        when some component has no observed value of a feature (``missing='em'``), else
        None.

        Recorded by ``fit`` and ``m_step``, kept with the parameters (an assignment drops
        it) and in model files, for the family's :meth:`_statistics_of_parameters`: in the
        statistics that a ``partial_fit`` stream continuing from parameters without running
        statistics starts from, those components observe none of those features, as in
        the statistics of the data the parameters were fitted to."""
        if stats is None or not self._fits_missing():
            return None
        unobserved = self._unobserved(stats)
        if unobserved is None or not unobserved.any():
            return None
        return np.array(unobserved, dtype=bool)

    def _unobserved_of_the_fit(self):
        """The recorded ``_unobserved_features`` (:meth:`_unobserved_of_the_parameters`)
        when it describes this model's components and features with ``missing='em'``,
        else None (no component is known to miss a feature)."""
        recorded = getattr(self, "_unobserved_features", None)
        if recorded is None or not self._fits_missing() or np.shape(recorded) != (
                self._n_components, getattr(self, "n_features_in_", -1)):
            return None
        return np.asarray(recorded, dtype=bool)

    def _collapse_reasons(self, source, summary, min_variance_ratio=MIN_VARIANCE_RATIO):
        """Family hook: ``{component: why}`` for the components of this fitted model that
        sit on a spurious maximum of an unbounded likelihood (:mod:`fastem._collapse`;
        :func:`fastem.selection.collapsed_components` gives the rules), on the validated
        ``source``, whose :class:`~fastem._collapse.DataSummary` is ``summary``.
        Default: those of :meth:`_parameter_collapse_reasons`."""
        return self._parameter_collapse_reasons(summary, min_variance_ratio)

    def _parameter_collapse_reasons(self, summary, min_variance_ratio=MIN_VARIANCE_RATIO):
        """Family hook: the part of :meth:`_collapse_reasons` that reads only the fitted
        parameters and the data's :class:`~fastem._collapse.DataSummary` ``summary``, no
        responsibilities, so that it costs no pass over the data and sample weights rank
        as the rows they repeat. The ranking of the starts reads it. Default: none, for a
        family whose likelihood is bounded."""
        return {}

    def _check_stored_parameters(self, warn=True):
        """Family hook: whether a fitted attribute, as stored in the model's dtype, lost a
        property that the float64 M-step gave it; warns of it when ``warn``. Default: False.

        Called at the end of ``fit`` and of each ``partial_fit`` step, and by
        ``select_n_components`` for its chosen model. A ``partial_fit`` stream
        whose stored matrices stay indefinite step after step is warned once
        (at its first such step, or by the fit before it), and again after a
        step without it or an assignment of parameters: the warning's numbers
        change with every step, so Python's filter would repeat it.
        """
        return False

    def _change_scales(self, parameters):
        """Family hook: ``{name: scale}``, a size against which the stopping rule measures the
        change of a parameter array where the scale exceeds the array's largest entry.

        ``parameters``: ``{name: array}`` of the step's start. For arrays whose
        entries can all be near 0 next to their natural unit (Gaussian means
        of centred data, against a millionth of the spread). Default: none.
        """
        return {}

    def _m_step_allowance(self, previous, before, after):
        """Family hook: how far the objective of a pass may lie below that of the pass before it.

        ``before`` is the M-step taken from the statistics at ``previous``,
        and ``after`` the M-step taken from those at ``before`` (all three
        ``_get_parameters()`` results): the pass before evaluated
        ``previous``, this one ``before``. An M-step that maximises the
        expected complete-data log-likelihood, or maximises it over a
        constrained set (the floors of the exponential and Poisson
        families), never lowers the objective from a point of that set: the
        default is 0 (a start outside it is not judged, see :mod:`fastem._em`). A
        regularised M-step maximises a penalised objective and may lower it
        by up to the change of the penalty over the step from ``previous`` to
        ``before`` where the objective is taken at the E-step's parameters
        (the log-likelihood). Where the objective is taken after the M-step
        and holds the penalty (a variational bound), the M-step never lowers
        it, and the E-step of the pass at ``before`` may, by the rise of the
        penalty as the responsibilities move.
        """
        return 0.0

    def _in_m_step_image(self, stats):
        """Family hook: whether the current parameters are ones an M-step can produce.

        An accelerated step combines earlier M-step outputs linearly and
        can leave that set: a variance below ``reg_covar``, a scale below
        its floor, where the log-likelihood can exceed anything EM reaches.
        Such a point is never accepted (:mod:`fastem._em`). ``stats`` are
        the statistics of a pass over the same data (the floors of the
        exponential and Poisson families scale with the data's mean). The
        default, for a family whose M-step neither floors nor regularises,
        is True.
        """
        return True

    def _run_em(self, worker, source, passes_done=0, rounded_start=False, slowest=0.0):
        """:func:`fastem._em.run_em` on ``worker`` with this estimator's settings
        (``passes_done``, ``rounded_start`` and ``slowest`` as there).

        The run drives the family's stand-in for ``worker`` (:meth:`_em_stand_in`)
        where it has one; ``worker`` then takes the run's parameters.
        """
        stand_in = self._em_stand_in(worker, source)
        result = run_em(
            stand_in,
            source,
            tol=float(self.tol),
            max_iter=int(self.max_iter),
            accelerate=self.accelerate,
            callback=_marked(self.callback),
            on_pass=self._progress_printer(passes_done),
            passes_done=passes_done,
            rounded_start=rounded_start,
            slowest=slowest,
        )
        if stand_in is not worker:
            worker._set_parameters(result.parameters)
            result = result._replace(parameters=worker._get_parameters())
        return result

    def _em_stand_in(self, worker, source):
        """Family hook: what :func:`fastem._em.run_em` drives for ``worker`` on ``source``.

        An object with the hooks the loop calls, whose run gives bitwise the
        result of a run on ``worker`` itself, but faster (see
        :mod:`fastem.families._gaussian_arrays`). Default: ``worker``.
        """
        return worker

    def _run_em_to_the_end(self, worker, source, passes_done=0, rounded_start=False):
        """:meth:`_run_em`; on float32 data, a run that lost precision continues in float64.

        See :meth:`_finish_in_float64`. A run converged only within float32's
        noise (``EMResult.unresolved``) that no float64 finish confirmed (no
        pass was left) is returned as not converged. ``rounded_start``: the worker's
        parameters are a float32 model's, continued in float64 (see
        :func:`fastem._em.run_em`).
        """
        result = self._run_em(worker, source, passes_done=passes_done, rounded_start=rounded_start)
        if np.dtype(source.dtype) != np.float32:
            return result
        if (
            result.n_iter < self.max_iter  # else no pass is left to run in float64
            and (result.decrease or result.unresolved or (
                # a float32 fixed point can lie short of the peak by the parameters' rounding
                result.converged and self._rounding_loss(
                    worker._named_parameters(result.parameters)
                ) > self._rounding_loss_bound(result.lower_bound)
            ))
        ):
            result = self._finish_in_float64(worker, source, result)
        if result.unresolved and result.rounding_loss is None:
            # Converged only within float32's noise, and no float64 finish ran (no pass
            # was left, or its parameters do not fit in float32): a slow climb may lie
            # under the noise, so the run has not shown that it is within tol of the peak.
            result = result._replace(converged=False)
        return result

    def _rounding_loss_bound(self, lower_bound):
        """The mean log-likelihood that rounding a fit's parameters to float32 may cost
        unsaid: ``tol``, or float32's rounding of ``lower_bound`` where that is larger (float32
        evaluates the model no better: its log-densities of float32 data are rounded by about
        one unit of their size)."""
        return max(float(self.tol), float(np.finfo(np.float32).eps) * (1.0 + abs(lower_bound)))

    def _rounding_loss(self, parameters, exact=None):
        """Family hook: the mean log-likelihood that storing ``parameters`` (``{name:
        array}``) in float32 costs against ``exact``, the float64 ones they round (``{name:
        array}``), or, without them, is expected to cost against the float64 peak near
        them. Default: 0, for parameters that float32 rounds relatively (scales, rates), at
        a cost of the order of the square of its resolution."""
        return 0.0

    def _escape_local_optimum(self, worker, source, result):
        """Moves that EM cannot make, from a converged run, each kept if EM from it ends higher.

        The family proposes the moves (:meth:`_moves`). From each, EM runs,
        and the move is kept if that run converges (or the callback stops
        it) at a bound above the current one by more than the rounding of the
        data's dtype: a converged fit stays converged. The proposals start
        again from a kept move, until none is kept. Every pass, of kept and
        tried moves, counts in ``n_iter_`` and towards ``max_iter``;
        ``callback`` and ``verbose`` see them. A move whose start or EM run
        raises ValueError, FloatingPointError or LinAlgError (an ill-defined
        covariance) is not kept; the callback's errors propagate as they
        were raised.

        Returns the run's result, or that of the run from the last move kept
        (its own lower bounds; its passes numbered on from the run's), with
        ``unfinished_move`` the gain over it of a move's run that was still
        climbing, unconverged, when ``max_iter`` ran out (not kept: the fit
        warns of it), and ``undecided_move`` how far below it such a run
        ended that was still below it (the fit warns of that too: a longer run
        may end higher and keep the move).
        """
        spent = result.n_iter
        unfinished = -np.inf  # the highest bound of a move's run that max_iter cut short
        undecided = -np.inf  # the highest bound of such a run still below the kept one
        dtype = np.dtype(source.dtype)
        # The moves' EM runs: the passes of a run that raises are counted too.
        runner = copy.copy(self)
        passes = [spent]
        printer = self._progress_printer(spent)  # one for every move: their passes number on
        runner._progress_printer = lambda passes_done: functools.partial(
            _counting_passes, printer, passes)
        while spent < int(self.max_iter) and not result.stopped:
            kept = False
            for move in self._moves(worker, result):
                if spent >= int(self.max_iter):
                    break
                trial = copy.copy(worker)
                trial._set_parameters(result.parameters)
                try:
                    move(trial)
                    more = runner._run_em_to_the_end(trial, source, passes_done=spent)
                except (ValueError, FloatingPointError, np.linalg.LinAlgError) as error:
                    if from_callback(error):
                        raise
                    spent = max(spent, passes[-1])
                    continue
                spent = more.n_iter
                margin = rounding_gap(more, result, dtype)
                higher = (not more.decrease and more.lower_bound > result.lower_bound + margin
                          and not self._gains_on_a_floor(move, worker, result, more))
                if higher and (more.converged or more.stopped):
                    if self.verbose:
                        print(f"Move kept: lower bound {more.lower_bound:.5f}.")
                    result = more
                    worker, kept = trial, True
                    break
                if spent >= int(self.max_iter) and not (more.converged or more.stopped
                                                         or more.decrease):
                    if higher:
                        unfinished = max(unfinished, more.lower_bound)
                    else:
                        undecided = max(undecided, more.lower_bound)
                if self.verbose:
                    print(f"Move not kept: lower bound {more.lower_bound:.5f}.")
                if more.stopped:  # the callback asked to stop, during a move that did not gain
                    result = result._replace(stopped=True)
                    break
            if not kept:
                break
        return result._replace(
            n_iter=spent, unfinished_move=max(0.0, unfinished - result.lower_bound),
            undecided_move=max(0.0, result.lower_bound - undecided))

    def _gains_on_a_floor(self, move, worker, before, after):
        """Family hook: whether the run ``after`` of ``move`` (one of :meth:`_moves`) from
        the run ``before`` (both of ``worker``'s family) gains by putting more components
        than ``before`` on a spurious maximum that only the regularisation bounds, which
        the move is then not kept for. Default: False."""
        return False

    def _moves(self, worker, result):
        """Family hook: the moves to try from the converged run ``result`` of ``worker``.

        An iterable of callables, in the order tried, each of which changes the
        parameters of a copy of ``worker`` that holds the run's parameters (and
        may raise ValueError where the move is not possible). It is taken
        afresh after a kept move. Default: none.
        """
        return ()

    def _finish_in_float64(self, worker, source, result):
        """Continue a float32 run in float64 from its best parameters.

        For a run that lost precision (its log-likelihood fell), or one that
        converged only to within the rounding noise of its float32
        log-likelihoods, which can hide a slow climb (on a ridge, gains of
        2e-9 per pass under noise of 8e-8 left fits 5e-3 per sample short).

        The working model holds float64 parameters, so its passes cast the
        data to float64 a slice at a time (:meth:`_computes_in_float64`),
        never copying them whole; the fitted parameters are cast back to float32.
        The float64 run confirms its stop as after a jump, with the slowest
        ratio of increments the float32 run measured (see
        :func:`fastem._em.run_em`).
        Returns the combined result, or ``result`` itself if the float64
        parameters do not fit in float32.

        Rounding the parameters to float32 can cost more than ``tol``: means
        1e6 from the origin against a unit spread are stored to 0.06, which
        cost 3.6e-4 per sample (1e5: 4e-6). One more pass, in float64 at the
        rounded parameters, measures that loss against the float64 run's last
        pass (``EMResult.rounding_loss``; :meth:`_warn_rounding_loss`).
        """
        named = worker._named_parameters(result.parameters)
        worker._set_parameters({name: np.asarray(named[name], dtype=np.float64) for name in named})
        more = self._run_em(worker, source, passes_done=result.n_iter, rounded_start=True,
                            slowest=result.slowest)
        with np.errstate(over="ignore"):
            parameters = {
                name: value.astype(np.float32)
                for name, value in worker._named_parameters(more.parameters).items()
            }
        if not all(np.isfinite(value).all() for value in parameters.values()):
            return result
        rounded = copy.copy(worker)
        rounded._set_parameters({name: value.astype(np.float64)
                                 for name, value in parameters.items()})
        loss = more.stats.mean_log_likelihood - rounded._summarize(source).mean_log_likelihood
        return more._replace(
            parameters=ParameterState(parameters),
            lower_bounds=result.lower_bounds + more.lower_bounds,
            rounding_loss=loss,
        )

    def _stored_rounding_loss(self, stats, lower_bound):
        """The mean log-likelihood that the model's float32 parameters lie below the float64
        M-step of ``stats`` (:meth:`_rounding_loss`), where it exceeds
        :meth:`_rounding_loss_bound` of ``lower_bound``; else 0 (and for float64 models)."""
        if self._dtype != np.float32:
            return 0.0
        stored = self._named_parameters(self._get_parameters())
        exact = copy.copy(self)
        exact._set_parameters({name: np.asarray(value, dtype=np.float64)
                               for name, value in stored.items()})
        exact._m_step_parameters(stats)
        loss = self._rounding_loss(stored, exact._named_parameters(exact._get_parameters()))
        return loss if loss > self._rounding_loss_bound(lower_bound) else 0.0

    def _warn_stored_rounding_loss(self, stats, lower_bound, who, once=""):
        """Warn (ConvergenceWarning) where :meth:`_stored_rounding_loss` is not 0, of
        parameters that no float64 pass measured (``who``: what stored them, ``once``: how
        often it is said); returns the loss it stated, 0 if none."""
        loss = self._stored_rounding_loss(stats, lower_bound)
        if loss:
            warn_at_caller(ConvergenceWarning(
                f"{who} stores its parameters in float32, which cannot hold them finely "
                f"enough (likely values far from 0 against their spread): they lie about "
                f"{loss:.3g} per sample below the float64 M-step they round in "
                f"{self._scored} (tol={self.tol}). {once}{_FLOAT32_ROUNDING_ADVICE}"
            ), restated=True)
        return loss

    def _warn_rounding_loss(self, result):
        """Warn when a float32 fit finished in float64 lost, by rounding its parameters to
        float32, more than :meth:`_rounding_loss_bound`; returns the loss it stated, 0 if
        none."""
        loss = result.rounding_loss
        if not loss > self._rounding_loss_bound(result.stats.mean_log_likelihood):
            return 0.0
        warn_at_caller(
            ConvergenceWarning(
                f"The fit reached its peak in float64, but its parameters stored in float32 "
                f"lie {loss:.3g} per sample below it in {self._scored} (tol={self.tol}): "
                "float32 cannot hold them finely enough (likely values far from 0 against "
                "their spread). lower_bound_ is that of the float64 parameters. "
                f"{_FLOAT32_ROUNDING_ADVICE}"
            ),
            restated=True,
        )
        return loss

    def _singular_component(self, dtype):
        """A component whose parameters are singular to ``dtype``'s precision, as
        ``(description, advice)`` for :meth:`_warn_decrease`, or None (families without
        such parameters)."""
        return None

    def _warn_decrease(self, decrease, dtype):
        best_iter, best, later_iter, later = decrease
        singular = self._singular_component(dtype)
        if singular is not None:
            cause = "{}, where the {} grows without bound as it narrows; {}".format(
                singular[0], self._objective, singular[1])
        else:
            advice = "scale or centre the data"
            if np.dtype(dtype) == np.float32:
                advice += ", or fit X.astype(np.float64)"
            cause = (f"precision lost in the {np.dtype(dtype).name} arithmetic (values far from "
                     f"0 against their spread, or strongly correlated features); {advice}")
        warn_at_caller(
            f"The {self._objective} fell from {best:.8g} per sample at iteration {best_iter} "
            f"to {later:.8g} at iteration {later_iter}, more than rounding and "
            "regularisation allow. The fit stopped and keeps the parameters of iteration "
            f"{best_iter} (converged_=False). Likely cause: {cause}.",
            LikelihoodDecreaseWarning,
        )

    def _progress_printer(self, passes_done=0):
        """The ``on_pass`` hook of the EM loop that prints progress when ``verbose``.

        It prints the first accepted pass at or past each multiple of
        ``verbose_interval``: an accelerated step counts three passes, so the
        pass numbers it sees skip multiples.
        """
        if not self.verbose:
            return None
        start = time.perf_counter()
        previous = [passes_done, -np.inf]  # the pass and lower bound of the last call
        interval = int(self.verbose_interval)

        def on_pass(n_iter, lower_bound):
            (last_pass, last_bound), previous[:] = previous, (n_iter, lower_bound)
            if n_iter // interval > last_pass // interval:
                self._print_iteration(n_iter, lower_bound, lower_bound - last_bound, start)

        return on_pass

    @on_one_blas_thread
    @_state.one_update_at_a_time
    @_one_snapshot
    @_state.on_the_settings_of_its_start
    def partial_fit(self, X, y=None, sample_weight=None):
        """One step of online EM on a mini-batch (Cappe & Moulines 2009).

        The model keeps running sufficient statistics ``s``, normalised per
        unit of sample weight. Each call summarizes the batch under the
        current parameters (``s_batch``, also normalised), updates

            s <- (1 - eta_t) s + eta_t s_batch,   eta_t = (t + step_offset) ** -step_exponent

        for the t-th call after the first (t = 1, 2, ...), and sets the
        parameters from ``s`` (the M-step). Statistics taken around different
        references (Gaussian moments around the means of the time) are first
        re-expressed around the batch's. The first call on an unfitted model
        initialises from the batch (``init_params``, and ``*_init`` when given)
        and sets ``s = s_batch``. A model that has parameters but no running
        statistics (fitted by :meth:`fit`, loaded from a file written before
        any ``partial_fit``, or given its parameters by assignment or by
        :meth:`m_step`, which discard running statistics and ``n_steps_``)
        counts as that first call: ``s`` starts as the statistics its parameters imply,
        those whose M-step gives the parameters back, and its first call is
        step t = 1. So one batch moves a fitted model by ``eta_1``, not to
        the batch's own estimates (raise ``step_offset`` to move it less).
        With ``missing='em'``, a component that the fit (or ``m_step``, or the
        model file) left with no observed value of a feature observes none of it
        in ``s`` either, as in the fit's statistics: the M-step treats it so
        until the stream's batches observe the feature for it. A stream continued
        after ``set_params(missing=...)`` takes ``s`` as the new setting sums a batch:
        with ``missing='em'``, the statistics of complete data observe every feature;
        without it, the missing entries count at their expected values under the
        parameters of ``s`` (so does a model file saved since).
        Each call replaces the record
        of the fit with its own, published with the parameters: ``n_iter_``
        counts the steps (``n_steps_ + 1``), ``converged_`` is False (online
        EM has no convergence test), and ``lower_bound_`` and
        ``lower_bounds_`` hold the batch's mean log-likelihood under the
        parameters before the step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), chunked data or dask array
            One mini-batch.
        y : ignored
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self

        Warns
        -----
        EmptyComponentWarning
            At the first step of a stream that starts from a component of
            weight 0 (given, from the first batch's start, or in the model it
            continues from), and at a step that leaves a component of positive
            weight at weight 0: online EM keeps such a component empty at
            every later step.
        ConvergenceWarning
            Once per stream (and not after a fit that gave it), at the first
            step whose float32 parameters lie measurably below the step's
            float64 ones (Gaussian means far from 0 against their
            spread, which float32 stores coarsely).
        """
        running = getattr(self, "_running_stats", None)
        first = not hasattr(self, "weights_")
        self._check_parameters()
        running = self._stream_statistics_for_missing(running)
        source = self._validate_data(X, sample_weight, reset=first, statistics=True)
        if first:
            if source.n_positive < self._n_components:
                raise ValueError(
                    f"The first batch of partial_fit initialises the model and needs at least "
                    f"n_components={self._n_components} samples of positive weight, got "
                    f"{source.n_positive}. Pass a larger first batch."
                )
            self._check_family_init(source.n_features)
        self._check_in_dtype(source.dtype if first else self._dtype, starts=first)
        if first:
            self._initialize(source, check_random_state(self.random_state))
            self.n_features_in_ = source.n_features
            self._set_feature_names(source)
            running = None
        batch = self._summarize(source)
        batch = batch.scaled(1.0 / batch.n_samples)
        # read before the M-step, whose assignments reset them (see __setattr__)
        steps = None if running is None else self.n_steps_
        stream_start = running is None
        warned = getattr(self, "_stored_parameters_warned", False)
        # a stream's every step would give the warning again, with its own figures
        swamped = getattr(self, "_regularization_warned", False)
        unobserved = getattr(self, "_unobserved_warned", False)
        rounded = getattr(self, "_rounding_loss_warned", False)
        if running is None and not first:
            running = self._statistics_of_parameters()
            if running is None:
                warn_at_caller(
                    f"{type(self).__name__} cannot express its parameters as statistics "
                    "(_statistics_of_parameters), so this first partial_fit step on a model "
                    "with parameters starts from the batch alone and forgets the fitted "
                    "model. Implement the hook to keep it.",
                    UserWarning,
                )
            else:
                steps = 0  # the parameters count as the stream's first step
        if running is None:
            running, steps, eta = batch, 0, None
        else:
            steps += 1
            eta = (steps + float(self.step_offset)) ** -float(self.step_exponent)
            running = self._recentre(running, batch.reference).scaled(1.0 - eta) + batch.scaled(eta)
        before = self.weights_
        try:
            self.m_step(running)
        except ValueError:
            if self._dtype == np.float32 and np.dtype(source.dtype) != np.float32:
                self._diagnose_float32_overflow(X, sample_weight)
            raise
        # as fit does of its last pass
        # a hook written as _check_regularization(stats), before it took data, reads running
        batch_data = {"data": batch} if _takes_keyword(self._check_regularization, "data") else {}
        # each warning once per stream, whichever was said before it
        self._unobserved_warned = unobserved or self._warn_unobserved(running)
        self._regularization_warned = swamped or self._check_regularization(running, **batch_data)
        self._stored_parameters_warned = self._check_stored_parameters(warn=not warned)
        # said once per stream: its every step would give it again, with its own figures
        self._rounding_loss_warned = rounded or self._warn_stored_rounding_loss(
            running, batch.mean_log_likelihood, "partial_fit", "Said once per stream. ")
        self._fitted_settings = self._settings_of_the_fit()
        self._running_stats = running
        self.n_steps_ = steps
        # The record describes this step alone, so that no attribute of an
        # earlier fit stays beside the new parameters.
        self.n_iter_ = steps + 1
        self.converged_ = False
        self.lower_bound_ = batch.mean_log_likelihood
        self.lower_bounds_ = [batch.mean_log_likelihood]
        self._remaining_gain = np.inf
        self._fit_structure = self._structure(self.n_features_in_)
        if self._warns_empty_components:
            if stream_start:
                self._warn_empty_stream(before, first)
            self._warn_emptied_by_step(before, eta)
        return self

    def _diagnose_float32_overflow(self, X, sample_weight):
        """After the M-step of this float32 model overflowed on ``X``, data of another dtype,
        raise the error that names the first entry of ``X`` beyond float32's range, in the
        terms of its source (a CSV file's line, a DataFrame's column, a dask array's
        row); return where there is none (the overflow is of the arithmetic, said by the
        M-step's own error). A second pass over ``X``, on this failure alone."""
        try:
            source = as_source(X, sample_weight, check_data=_refuse_beyond_float32,
                               allow_nan=True, allow_empty=True)
            source.reduce(lambda part, w: np.zeros(1))
        except ValueError as exc:
            if "beyond the range of float32" in str(exc):
                raise ValueError(str(exc)) from None
            # anything else (data that cannot be read twice) leaves the M-step's error

    def _warn_emptied_by_step(self, before, eta):
        """Warn (EmptyComponentWarning) when this ``partial_fit`` step left a component of
        positive weight (in the mixing weights ``before`` it) at weight 0, which online EM
        then keeps empty; ``eta``: the step size, None where the batch alone set the
        statistics."""
        emptied = [int(k) for k in _empty_components(self.weights_)
                   if k not in _empty_components(before)]
        if not emptied:
            return
        fewer = f"n_components={self._n_components - len(emptied)}"
        if eta == 1.0:
            why = (
                f"This step's size is eta = 1 (step_offset={self.step_offset}), so the batch, "
                "which gave them no data, replaced the running statistics"
            )
            fix = (
                "Raise step_offset, so that eta_t = (t + step_offset) ** -step_exponent stays "
                "below 1 and a batch without a component's data does not erase it"
            )
        else:
            why = "The batches gave them no data"
            fix = f"Pass batches that hold every component's data, or use {fewer}"
        warn_at_caller(
            f"partial_fit: component(s) {emptied} hold no data after this step; their weight "
            f"is 0. {why}; online EM gives a component of weight 0 no data, so they stay "
            f"empty at every later step, whatever the batches hold. {fix}.",
            EmptyComponentWarning,
        )

    def _warn_empty_stream(self, start_weights, first):
        """Warn (EmptyComponentWarning) when a ``partial_fit`` stream starts from mixing
        weights ``start_weights`` with a component of weight 0, which online EM keeps
        empty: those of the model it continues from, or of the start of its ``first``
        batch (``weights_init``, given means, or a batch with fewer distinct points
        than components)."""
        started_empty = [int(k) for k in _empty_components(start_weights)]
        if not started_empty:
            return
        fewer = f"n_components={self._n_components - len(started_empty)}"
        cause = self._empty_start(
            started_empty, start_weights, fewer, None if first else "partial_fit", online=True)
        warn_at_caller(
            f"partial_fit: {len(started_empty)} of {self._n_components} components hold no "
            f"data (indices {started_empty}); their weight is 0. {cause}",
            EmptyComponentWarning,
        )

    def _statistics_of_parameters(self):
        """Family hook: statistics per unit of weight whose M-step gives the current parameters.

        The state that online EM (:meth:`partial_fit`) starts from on a model
        that has parameters but no running statistics: in the notation of
        Cappe & Moulines (2009), the ``s`` with ``theta(s)`` the parameters,
        i.e. the expected complete-data statistics of one unit of weight
        under the model. A :class:`~fastem.stats.SufficientStatistics` with
        ``n_samples`` 1 around this model's ``_reference()``, or None when
        the family cannot give one (the default; the first step then starts
        from its batch alone, with a warning).
        """
        return None

    def _print_iteration(self, n_iter, lower_bound, change, start):
        if self.verbose >= 2:
            per_iter = (time.perf_counter() - start) / n_iter
            print(
                f"  Iteration {n_iter}\t time/iter {per_iter:.3f}s\t "
                f"lower bound {lower_bound:.5f}\t change {change:.3g}"
            )
        else:
            print(f"  Iteration {n_iter}")

    def _user_gives_every_parameter(self):
        """Family hook: whether the ``*_init`` hyper-parameters set every parameter."""
        return False

    def _initialize(self, source, random_state, restart=0, filled=False, drawn=None,
                    method=None):
        """Set the starting parameters: the user's where given, the rest from ``init_params``.

        When every initial parameter is given (``_init_parameter_names``),
        nothing is computed from the data. When the component means are
        given, the start's partition assigns each point of the subsample to
        the nearest given mean and ``init_params`` is not run; where the
        subsample is not all the data, a component that none of its points is
        nearest to starts with half a point's weight (:func:`_unseen_in_subsample`),
        not 0. ``restart`` is
        the index of the start among ``n_init``: with 'hierarchical', whose
        tree is a deterministic function of its subsample, the starts after the
        first use 'k-means++' so that restarts explore other peaks
        (:func:`fastem._init.start_method`). ``filled``: on data with NaN,
        the start from the mean-filled rows rather than the complete ones
        (:func:`points_for_start`). Returns None, and sets nothing, when that
        start is the same as the other; else the ``(points, weights)`` of the
        subsample the start was computed on, ``()`` when nothing was
        computed from the data. ``drawn``, a list, receives that subsample
        before the start is computed from it, also when that fails. ``method``: the
        method run in place of ``init_params``' (None: :func:`fastem._init.start_method`'s).
        """
        names = self._init_parameter_names
        given = self._user_gives_every_parameter() or (
            names is not None and all(getattr(self, name) is not None for name in names)
        )
        if given:
            if filled:
                return None
            self.weights_ = np.full(self._n_components, 1.0 / self._n_components, dtype=source.dtype)
            self._init_family_from_user()
            _state.made_together(self)
            return ()
        if method is None:
            method = start_method(self.init_params, source.n_features, restart)
        centers = None
        if names is not None and len(names) > 1 and getattr(self, names[1]) is not None:
            centers = getattr(self, names[1])
        points, weights = source.subsample(random_state, sample_size(method, source.n_features))
        if self._fits_missing():
            start = points_for_start(points, weights, source, self._n_components, filled)
            if start is None:
                return None
            points, weights = start
        elif filled:
            return None
        if drawn is not None:
            drawn.append((points, weights))
        moments = initial_moments(points, weights, self._n_components, method, random_state,
                                  centers, self._start_second_moments, self._start_space)
        if centers is not None and np.count_nonzero(weights > 0) < source.n_positive:
            moments = _unseen_in_subsample(moments, weights)
        self._start_from_moments(moments, source.dtype)
        return points, weights

    def _start_from_moments(self, moments, dtype):
        """Set the starting parameters from a partition's ``(nk, means, covariances)``,
        keeping those the user gave."""
        nk, means, covariances = moments
        names = self._init_parameter_names
        self.weights_ = _mixing_weights(nk).astype(dtype)
        if not (names is not None and all(getattr(self, name) is not None for name in names[1:])):
            self._params_from_moments(nk, means, covariances)
        self._init_family_from_user()
        _state.made_together(self)

    @property
    def _dtype(self):
        # The model computes in the dtype of the data it was fitted on. Read from
        # the state, not through __getattr__: several times in every pass.
        weights = _state.current(self).get("weights_")
        if weights is None:
            raise AttributeError("weights_")  # then __getattr__ says that _dtype is missing
        return weights.dtype

    def _cancels_in_float32(self):
        """Family hook: whether float32 log-densities would cancel under these parameters."""
        return False

    def _nan_rows_cancel_in_float32(self, statistics):
        """Family hook: whether float32 arithmetic on rows with NaN (``missing='em'``) would lose
        precision under these parameters where complete rows' would not. Default: False.

        ``statistics``: for a pass that sums the statistics (True), or for
        per-row outputs, whose log-densities alone count (False).
        """
        return False

    def _computes_in_float64(self, dtype):
        """Whether a pass over data of ``dtype`` runs in float64 rather than in ``dtype``.

        float32 data are cast to float64, a slice of rows at a time (never
        the whole data), when the model's parameters are float64 (a float32
        fit that lost precision finishes in float64) or when the family's
        float32 log-densities would cancel under the current parameters
        (:meth:`_cancels_in_float32`, e.g. strongly correlated features).
        Elsewhere the pass runs in the data's dtype, at float32 speed.
        """
        if np.dtype(dtype) != np.float32:
            return False
        return self._dtype == np.float64 or self._cancels_in_float32()

    def _get_parameters(self):
        """The parameters as one immutable snapshot (:class:`fastem._state.ParameterState`)."""
        return _state.current(self)

    def _set_parameters(self, params):
        """Replace every parameter in one assignment, keeping the fit's record.

        ``params`` is a snapshot from :meth:`_get_parameters` (its parameters
        are taken), a dict by name, or the values in ``_parameter_names`` order.
        """
        if not isinstance(params, (ParameterState, dict)):
            params = dict(zip(self._parameter_names, params))
        _state.assign(self, _state.current(self).with_parameters(params))

    # -- coordinates for EM acceleration (see fastem._em) -----------------

    def _named_parameters(self, parameters):
        """``{name: array}`` of a ``_get_parameters()`` result."""
        if isinstance(parameters, (tuple, list)):
            return dict(zip(self._parameter_names, parameters))
        return {name: parameters[name] for name in self._parameter_names}

    def _unconstrained(self, parameters):
        """``parameters`` (a ``_get_parameters()`` result) as one float64 vector.

        The weights become their logarithms (any vector maps back through
        the softmax); the family parameters come from the family hook
        ``_unconstrained_parameters``, which takes them by name. Computed
        once per snapshot (read-only).
        """
        if isinstance(parameters, ParameterState):
            key = ("unconstrained", type(self), tuple(self._family_structure().items()))
            return parameters.derived(key, lambda: self._unconstrained_vector(parameters))
        return self._unconstrained_vector(parameters)

    def _unconstrained_vector(self, parameters):
        named = self._named_parameters(parameters)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_weights = np.log(np.asarray(named["weights_"], dtype=np.float64))
            family = self._unconstrained_parameters(named)
        # An empty component's weight is exactly 0: a finite stand-in for its
        # log keeps differences between iterates at 0 and maps back to 0
        # (weights_from_unconstrained).
        log_weights = np.maximum(log_weights, _EMPTY_LOG_WEIGHT)
        theta = np.concatenate([log_weights, family])
        theta.flags.writeable = False
        return theta

    def _set_unconstrained(self, theta):
        """Set the parameters from a vector of :meth:`_unconstrained`; ValueError if invalid."""
        self.weights_ = weights_from_unconstrained(theta[: self._n_components], self._dtype)
        self._set_unconstrained_parameters(theta[self._n_components :])
        _state.made_together(self)

    def _unconstrained_parameters(self, parameters):
        """Family hook: the family parameters as a float64 vector. Default: the raw arrays."""
        return np.concatenate(
            [np.ravel(np.asarray(parameters[name], dtype=np.float64))
             for name in self._parameter_names[1:]]
        )

    def _set_unconstrained_parameters(self, theta):
        """Family hook: set the family parameters from such a vector; ValueError if invalid.

        Default: the raw arrays, shaped like the current ones, valid when finite.
        """
        offset = 0
        for name in self._parameter_names[1:]:
            current = getattr(self, name)
            size = np.size(current)
            value = theta[offset : offset + size].reshape(np.shape(current))
            if not np.isfinite(value).all():
                raise ValueError(f"extrapolated {name} is not finite")
            setattr(self, name, value.astype(self._dtype))
            offset += size

    def save(self, path):
        """Write the model to ``path`` atomically, from one snapshot; see :func:`fastem.io.save`."""
        from .io import save

        save(self, path)

    # ------------------------------------------------------------------
    # prediction

    @_one_snapshot
    def score_samples(self, X, out=None):
        """Log-likelihood of each sample under the model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), chunked data or dask array
        out : ndarray of shape (n_samples,), float64, optional
            Where to write the result, e.g. a ``np.memmap`` for data larger than
            memory; filled chunk by chunk and returned. Not for Dask arrays.
            Every check of the data that can be made before the pass (shapes,
            chunks that share memory or a file with ``out``) is made before the
            first write; an error that only the pass meets (a chunk file changed
            meanwhile, Ctrl-C) leaves ``out`` partly written, as NumPy's ``out=``
            does: it is written in place, never copied, so that it may be larger
            than memory.

        Returns
        -------
        log_prob : ndarray of shape (n_samples,), float64
            A list of arrays (one per chunk) for chunked data without ``out``,
            a lazy dask array for a dask array.

        Notes
        -----
        With ``missing='em'``, a row's value is the log of its marginal
        density over its observed coordinates (Little & Rubin, *Statistical
        Analysis with Missing Data*, 2nd ed., sec. 6.2); a row with nothing
        observed has exactly 0, the log of the density of no observation.
        """
        return self._outputs(self._validate_data(X, reset=False), "log_prob", out)

    def _observed_totals(self, X, sample_weight):
        """(number of observations, log-likelihood of the observed data) of ``X``.

        Weighted when weights are given. Rows with nothing observed are no
        observation and are not counted (see :meth:`score`).
        """
        total = self._totals(self._validate_data(X, sample_weight, reset=False), False)
        if not total[0] > 0:
            raise ValueError(
                "X has no row with an observed entry (every entry is NaN) and a positive "
                "weight: the log-likelihood of the observed data is 0 over no observation, and "
                "its mean, BIC and AIC are undefined. Pass rows with at least one observed "
                "value; score_samples gives 0 for each row with nothing observed."
            )
        return float(total[0]), float(total[1])

    @_one_snapshot
    def score(self, X, y=None, sample_weight=None):
        """Mean log-likelihood per observation (weighted mean when weights are given).

        With ``missing='em'`` it is the log-likelihood of the observed data,
        ``sum_i w_i log p(x_i,O_i)`` with ``O_i`` the observed coordinates of
        row ``i`` (the likelihood that ignores the missing-data mechanism
        under missing at random; Little & Rubin, *Statistical Analysis with
        Missing Data*, 2nd ed., sec. 6.2), divided by the number (the weight)
        of the observations. A row with nothing observed carries no
        observation: its log-likelihood is exactly 0 (see :meth:`score_samples`)
        and it does not count in the mean.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), chunked data or dask array
        y : ignored
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        score : float

        Raises
        ------
        ValueError
            When no row has an observed entry and a positive weight (the
            mean of nothing is undefined), and for the data errors of
            :meth:`score_samples`.
        """
        n, log_likelihood = self._observed_totals(X, sample_weight)
        return log_likelihood / n

    @_one_snapshot
    def predict(self, X, out=None):
        """Most likely component of each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), chunked data or dask array
        out : ndarray of shape (n_samples,), int64, optional
            Where to write the labels (e.g. a ``np.memmap``); see :meth:`score_samples`.

        Returns
        -------
        labels : ndarray of shape (n_samples,), int64
            A list of arrays for chunked data without ``out``, a lazy dask
            array for a dask array.
        """
        return self._outputs(self._validate_data(X, reset=False), "labels", out)

    @_one_snapshot
    def predict_proba(self, X, out=None):
        """Posterior probability of each component for each sample.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), chunked data or dask array
        out : ndarray of shape (n_samples, n_components), dtype of X, optional
            Where to write the probabilities (e.g. a ``np.memmap``); see
            :meth:`score_samples`.

        Returns
        -------
        resp : ndarray of shape (n_samples, n_components), dtype of X
            A list of arrays for chunked data without ``out``, a lazy dask
            array for a dask array.
        """
        return self._outputs(self._validate_data(X, reset=False), "resp", out)

    @on_one_blas_thread
    @_one_snapshot
    def sample(self, n_samples=1):
        """Draw samples from the fitted model.

        Parameters
        ----------
        n_samples : int >= 1, default=1
            A Python or NumPy integer (not a bool).

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), dtype of the model
        y : ndarray of shape (n_samples,), the component of each sample

        Raises
        ------
        NotFittedError
            If the model is not fitted.
        TypeError
            For an ``n_samples`` that is not an integer.
        ValueError
            For an ``n_samples`` below 1, or one whose draws need more memory
            than is available (checked before drawing).
        """
        self._check_is_fitted()
        n_samples = check_scalar(n_samples, "n_samples", numbers.Integral, min_val=1)
        d = check_scalar(self.n_features_in_, "n_features_in_", numbers.Integral, min_val=1)
        self._check_fitted_parameters(d)  # before the memory check, which reads their dtype
        check_memory(
            self._sample_bytes(n_samples), f"n_samples={n_samples:,} samples of {d} feature(s)",
            "draw fewer at a time, with another random_state for each draw "
            "(set_params(random_state=...)) if you need more.",
        )
        # Normalised in float64: float32 weights (and assigned ones, within 1e-6) can sum
        # above 1, and with an empty last component NumPy then refuses the first K - 1.
        weights = np.asarray(self.weights_, dtype=np.float64)
        with drawing_from(check_random_state(self.random_state)) as rng:
            counts = rng.multinomial(n_samples, weights / weights.sum())
            X = np.concatenate(
                [self._checked_draw(rng, k, int(c)) for k, c in enumerate(counts)]
            ).astype(self._dtype, copy=False)
        y = np.repeat(np.arange(self._n_components), counts)
        return X, y

    def _sample_bytes(self, n_samples):
        """Bytes that :meth:`sample` allocates for ``n_samples`` draws: standard normals and
        their transform (float64), the labels and the samples in the model's dtype."""
        d = self.n_features_in_
        return n_samples * (2 * d * 8 + 8 + d * np.dtype(self._dtype).itemsize)

    def _checked_draw(self, rng, k, n):
        """``_sample_component(rng, k, n)``, checked: ``n`` finite points of the model's
        features. A family's draw of another shape was concatenated as it was (more
        rows than drawn, another number of columns, a 1-D array)."""
        points = np.asarray(self._sample_component(rng, k, n))
        call = f"{type(self).__name__}._sample_component(rng, {k}, {n})"
        expected = (n, self.n_features_in_)
        if points.shape != expected:
            raise ValueError(
                f"{call} returned an array of shape {points.shape}; a family's draw must be "
                f"the {n} points of the component, shape (n, n_features) = {expected}."
            )
        if points.dtype.kind not in "biuf" or not np.isfinite(points).all():
            raise ValueError(
                f"{call} returned points that are not all finite real numbers (dtype "
                f"{points.dtype}); a family's draw must be finite points of the component."
            )
        return points

    # ------------------------------------------------------------------
    # model selection

    def _n_parameters(self):
        n_family = check_scalar(
            self._n_family_parameters(), f"{type(self).__name__}._n_family_parameters()",
            numbers.Integral, min_val=0,
        )
        return n_family + self._n_components - 1

    @_one_snapshot
    def bic(self, X, sample_weight=None):
        """Bayesian information criterion of the model on ``X``; lower is better.

        ``BIC = -2 log L + p log n`` (Schwarz, "Estimating the dimension of a
        model", Ann. Statist. 6, 1978), with ``p`` the number of free
        parameters, ``log L`` the log-likelihood of the observed data and
        ``n`` the number (the total weight) of the observations, as in
        :meth:`score`: a row with nothing observed counts in neither.

        Sample weights count as repetitions, so unlike a maximum-likelihood
        fit, the BIC (and the AIC, through ``log L``) depends on their scale:
        weights that sum to the number of observations the data stand for
        give the BIC of those observations. Weights scaled to sum to 1 make
        ``log n`` 0, so the penalty vanishes (below a total of 1 it rewards
        parameters) and the largest model wins; :func:`fastem.select_n_components`
        warns of weights that sum to less than the number of rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), chunked data or dask array
        sample_weight : array-like of shape (n_samples,), optional

        Returns
        -------
        bic : float

        Raises
        ------
        ValueError
            As :meth:`score`: when no row has an observed entry.
        """
        n, log_likelihood = self._observed_totals(X, sample_weight)
        return -2 * log_likelihood + self._n_parameters() * np.log(n)

    @_one_snapshot
    def aic(self, X, sample_weight=None):
        """Akaike information criterion of the model on ``X``; lower is better.

        ``AIC = -2 log L + 2 p`` (Akaike, "A new look at the statistical model
        identification", IEEE Trans. Automat. Control 19, 1974), a float, with
        ``log L`` the log-likelihood of the observed data and ``p`` as in
        :meth:`bic`, which takes the same parameters and raises the same
        errors.
        """
        _, log_likelihood = self._observed_totals(X, sample_weight)
        return -2 * log_likelihood + 2 * self._n_parameters()
