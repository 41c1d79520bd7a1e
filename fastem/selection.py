"""Choosing the number of components and the covariance type by BIC or AIC.

:func:`select_n_components` fits a grid of Gaussian mixtures, one per
(covariance type, number of components), or of another family's mixtures,
one per number of components, scores each with an information criterion,
and keeps the best fit that is not *collapsed*.

Collapsed components
--------------------
A component that sits on a few points, or on one value of a rounded feature,
is a spurious maximum of the unbounded Gaussian likelihood that no BIC
penalty can compete with (see :mod:`fastem._collapse`), and scikit-learn's
own BIC search picks such fits. Like R's mclust, which reports these fits as
singular and leaves them out, :func:`select_n_components` flags them and
chooses among the others. The rule is in :func:`collapsed_components`.
"""

import math
import numbers
from collections.abc import Iterable, Mapping

import numpy as np

from ._collapse import DataSummary
from ._progress import SelectionProgress
from ._validation import as_list, check_choice, check_random_state, check_scalar, close_choice
from .data import as_source
from .base import family_check, from_callback
from .exceptions import ConvergenceWarning, kept_warnings, warn_at_caller
from .families.exponential import ExponentialMixture
from .families.gaussian import _COVARIANCE_TYPES, GaussianMixture
from .families.poisson import PoissonMixture

__all__ = ["CellProgress", "CriterionTable", "SelectionResult", "collapsed_components", "select_n_components"]

_CRITERIA = ("bic", "aic")
#: The families that :func:`select_n_components` fits, by the name it takes.
FAMILIES = {"gaussian": GaussianMixture, "exponential": ExponentialMixture,
            "poisson": PoissonMixture}
# The grid sets these itself; passing them through **gmm_kwargs would be ambiguous.
_GRID_PARAMETERS = ("n_components", "covariance_type")
_NAN_ADVICE = (
    "If the NaN are missing values, pass missing='em' to select_n_components, whose fits "
    "then use EM over the observed entries and the criteria the observed-data likelihood; "
    "otherwise remove or impute them"
)


def collapsed_components(model, X, sample_weight=None, *, min_variance_ratio=1e-6):
    """Find the components of a fitted mixture that have collapsed.

    A component ``k`` of a Gaussian mixture (:class:`~fastem.GaussianMixture`,
    :class:`~fastem.BayesianGaussianMixture`) is flagged when either holds:

    1. **Too narrow.** Its covariance has an eigenvalue ``lam`` (eigenvector
       ``v``) with ``lam < max(2 * reg_covar, min_variance_ratio * s)``, where
       ``s = v^T S v`` is the variance of the whole data set along ``v``
       (``S`` the weighted covariance of ``X``), in a direction where the data
       themselves are not degenerate (``s > 10 * reg_covar``).

       A component that lies down on one value of a rounded feature has
       exactly ``reg_covar`` of variance across it (the M-step adds
       ``reg_covar`` to a zero spread), so ``2 * reg_covar`` catches it with
       room for round-off and for the faint tails of neighbouring points,
       while a genuine cluster of a feature whose spread is of the order of
       ``sqrt(reg_covar)`` (a variance of a few ``reg_covar``) is not flagged. The
       relative term makes the rule independent of the data's units: when the
       data are large, a component squeezed onto two or three neighbouring
       grid values has a variance well above ``reg_covar`` but a millionth
       (default) of the data's variance along that direction, which no real
       cluster of such data has. Directions in which the whole data set has
       no variance (a constant feature, or collinear features for 'full')
       say nothing about one component and are not used.

    2. **Narrower than the data's resolution.** Its variance along feature
       ``j`` is below ``h_j**2 / 12``, where ``h_j`` is the smallest gap
       between distinct values of feature ``j`` (found on a subsample of at
       most 100,000 points). Data rounded to a grid of step ``h`` carry
       rounding noise of variance ``h**2 / 12`` (Sheppard's correction), so
       a real cluster seen through the rounding is never narrower than that;
       a component that is has its mass on (almost) a single grid value. This
       catches components that sit mostly, but not exactly, on one value, and
       'tied' fits in which every component lies on a slice of a rounded
       feature, whose variances stay well above ``reg_covar``. For continuous
       features ``h`` is tiny and the rule never fires.

       The rule holds only for rounded measurements, so it is applied only
       to features that look like one: more than three distinct values, and
       a variance over the whole data set of at least ``h_j**2 / 12``.
       Indicators (0/1 columns), three-level codes and features nearly
       constant on one value are discrete in themselves: a real component
       lies mostly on one of their values, and the data set as a whole may be
       narrower than ``h_j**2 / 12`` (a 0/1 column with 7% ones has variance
       0.065). A component exactly on one of their values is still caught by
       rule 1.

    3. **Too few points.** Its effective number of points
       (Kish's effective sample size ``(sum_i r_ik)^2 / sum_i r_ik^2`` over the
       rows of positive weight, whatever their weights: a row of weight 3 is one
       point) is below what its covariance needs to be
       non-singular without ``reg_covar``: ``n_features + 1`` for 'full', 2
       for 'diag' and 'spherical', 1 for 'tied' (the shared covariance is
       pooled; each component only needs a point for its mean), by more than
       a thousandth of a point. Kish's size of points held unequally falls
       short of their number (two points held at 1 and 0.99999 count
       1.99999999995), so a component that holds each of its points to within
       about 3% rests on them all; a point held at less counts short.

    A component of an :class:`~fastem.ExponentialMixture` is flagged when its
    scale sits at the ``min_scale`` floor in a feature where the data are not
    all zero: its points are all 0 there, and its density would grow without
    limit as the scale falls (or they average below the floor, and its scale
    is the floor's, not theirs). A :class:`~fastem.PoissonMixture`'s likelihood is
    bounded, and none of its components is flagged.

    :func:`select_n_components` flags the grid's fits by these rules.

    Parameters
    ----------
    model : fitted mixture
    X : array-like of shape (n_samples, n_features), chunked data or dask array
        The data the model was fitted on, in any form ``fit`` accepts.
    sample_weight : array-like of shape (n_samples,), default=None
    min_variance_ratio : float, default=1e-6
        The relative term of rule 1. Data with genuine clusters narrower than
        ``sqrt(min_variance_ratio)`` (1/1000) of the data's spread along their
        thinnest direction need a smaller value.

    Returns
    -------
    reasons : dict of int to str
        For each collapsed component, every rule it breaks; empty when none is.
    """
    missing = model._fits_missing()
    source = as_source(X, sample_weight, allow_nan=missing, nan_advice=model._nan_advice(),
                       squares=model._squares_data)
    min_variance_ratio = check_scalar(
        min_variance_ratio, "min_variance_ratio", numbers.Real, min_val=0.0, max_val=1.0)
    summary = DataSummary(source, missing, model._start_second_moments)
    return model._collapse_reasons(source, summary, min_variance_ratio)


class CriterionTable(Mapping):
    """Criterion values of a grid of fits, keyed by ``(covariance_type, n_components)``.

    A read-only mapping: ``table[('full', 3)]``, ``dict(table)`` and
    :meth:`as_dict` give the values; :meth:`as_array` lays them out with one
    row per covariance type and one column per number of components;
    ``print(table)`` shows an aligned table marking the best fit, the
    flagged ones and those that did not converge. Failed fits have the value
    ``nan``.
    """

    def __init__(self, criterion, covariance_types, n_components, values, flags, best,
                 converged=None):
        self.criterion = criterion
        self.covariance_types = tuple(covariance_types)
        self.n_components = tuple(n_components)
        self._values = dict(values)
        self._flags = dict(flags)
        self._best = best
        self._converged = dict(converged or {})

    def __getitem__(self, key):
        return self._values[key]

    def __iter__(self):
        return iter(self._values)

    def __len__(self):
        return len(self._values)

    def as_dict(self):
        """``{(covariance_type, n_components): value}`` as a plain dict."""
        return dict(self._values)

    def as_array(self, *, include_flagged=True):
        """Values as an array of shape (n_covariance_types, n_n_components).

        Parameters
        ----------
        include_flagged : bool, default=True
            If False, flagged fits (collapsed, failed) are ``nan``.
        """
        return np.array(
            [
                [
                    self._values[(ct, k)]
                    if include_flagged or not self._flags[(ct, k)]
                    else np.nan
                    for k in self.n_components
                ]
                for ct in self.covariance_types
            ]
        )

    def _cell(self, key):
        value = self._values[key]
        text = "failed" if not np.isfinite(value) else f"{value:.2f}"
        flag = self._flags[key]
        mark = "*" if key == self._best else ("S" if flag.startswith("singular") else
                                              "F" if flag.startswith("failed") else "")
        if np.isfinite(value) and not self._converged.get(key, True):
            mark += "~"
        return text + mark.ljust(2)

    def __str__(self):
        header = [""] + [f"K={k} " for k in self.n_components]
        rows = [[ct] + [self._cell((ct, k)) for k in self.n_components] for ct in self.covariance_types]
        widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]
        lines = [
            f"{self.criterion.upper()} (lower is better; * best, S singular: collapsed "
            "components, F failed, ~ not converged: the value at the peak is lower)"
        ]
        for row in [header] + rows:
            lines.append(
                "  ".join([row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])])
            )
        return "\n".join(lines)

    def __repr__(self):
        return str(self)


class SelectionResult:
    """What :func:`select_n_components` returns.

    Attributes
    ----------
    criterion : str
        'bic' or 'aic'.
    table : CriterionTable
        The criterion of every fit; print it for an aligned overview.
    flags : dict of (str, int) to str
        Why each fit was excluded from selection ('' when it was not):
        ``'singular: ...'`` for collapsed components (see
        :func:`collapsed_components`), ``'failed: ...'`` for fits that raised.
    converged : dict of (str, int) to bool
        Whether each fit converged (failed fits: False). A fit that did not
        converge stopped at ``max_iter``; its criterion is at or above (worse
        than) the value at the peak it was climbing to. Marked ``~`` in the
        printed table.
    warnings : dict of (str, int) to tuple of Warning
        The warnings that each fit gave (an empty tuple when none), failed fits
        included, as Warning instances (``str(w)`` the message, ``type(w)`` the
        category). Only those of the chosen fit are said, and those of the data
        or the settings once; the others are of models that were not chosen.
    models_ : dict of (str, int) to GaussianMixture (or the family's mixture)
        Every fitted estimator (failed fits are absent).
    best_params_ : tuple of (str, int) or None
        ``(covariance_type, n_components)`` of the best unflagged fit
        (``(family, n_components)`` for another family).
    best_model_ : GaussianMixture (or the family's mixture) or None
        The fitted estimator for ``best_params_``.
    best_score_ : float
        Its criterion value (``nan`` when every fit was flagged).
    """

    def __init__(self, criterion, table, flags, converged, models, best, warnings=None):
        self.criterion = criterion
        self.warnings = dict(warnings or {})
        self.table = table
        self.flags = flags
        self.converged = converged
        self.models_ = models
        self.best_params_ = best
        self.best_model_ = None if best is None else models[best]
        self.best_score_ = np.nan if best is None else table[best]

    def __repr__(self):
        return f"SelectionResult(best_params_={self.best_params_!r})\n{self.table}"


class CellProgress:
    """A fit's ``callback`` that reports to a selection's ``progress`` with its grid cell.

    ``label`` names the cell's model (its covariance type); ``user_callback``
    (or None) is called too, and its answer stops the fit as usual.
    """

    def __init__(self, progress, cell, n_cells, label, user_callback):
        self.progress = progress
        self.cell = cell
        self.n_cells = n_cells
        self.label = label
        self.user_callback = user_callback
        self.init = 0

    def __call__(self, model, n_iter, lower_bound):
        if n_iter == 1:
            self.init += 1
        self.progress({
            "cell": self.cell, "n_cells": self.n_cells,
            "covariance_type": self.label, "n_components": model.n_components,
            "init": self.init, "n_init": model.n_init,
            "n_iter": n_iter, "max_iter": model.max_iter, "lower_bound": float(lower_bound),
        })
        return self.user_callback is not None and self.user_callback(model, n_iter, lower_bound)


def _data_warning_key(message):
    """The key of ``message`` (a Warning) among the grid's warnings of the data (marked
    ``of_data`` where fastem raised it: :func:`fastem.exceptions.warn_at_caller`), or
    None when it is a warning of one cell's fitted model."""
    key = getattr(message, "fastem_of_data", None)
    return None if key is None else (type(message), key)


def _say_cell_warnings(best, said):
    """Say the warnings that the fits of the grid gave (``said``: the Warning instances of
    each cell, in the grid's order), once each, after the choice of ``best``.

    A warning of the data or the settings (marked ``of_data``) holds for every cell:
    said once, in the chosen cell's words when it gave it. A warning of a fitted model is
    said of the chosen fit alone, saying so; those of the other cells, whose models the
    caller does not get, stay in ``result.warnings``. Those that the grid says in its own
    words (marked ``restated``) are left to it.
    """
    order = ([best] if best is not None else []) + [key for key in said if key != best]
    data = {}
    for key in order:
        for message in said[key]:
            found = _data_warning_key(message)
            if found is not None:
                data.setdefault(found, message)
    for message in data.values():
        warn_at_caller(type(message)(str(message)))
    if best is None:
        return
    given = set()
    for message in said[best]:
        text = str(message)
        if (_data_warning_key(message) is not None or (type(message), text) in given
                or getattr(message, "fastem_restated", False)):
            continue
        given.add((type(message), text))
        word = text.split(" ", 1)[0]
        if word[:1].isupper() and word[1:].islower():  # "The fit ...", not "NaN ..."
            text = text[0].lower() + text[1:]
        warn_at_caller(type(message)(f"select_n_components: in the chosen fit {best}, {text}"))


def _check_largest(largest, n_samples):
    if largest > n_samples:
        raise ValueError(
            f"n_components goes up to {largest}, but X has only {n_samples} sample(s) of "
            "positive weight. Use fewer components or more data."
        )


def _check_grid(n_components, covariance_types, criterion, n_samples, family="gaussian"):
    if isinstance(n_components, numbers.Integral) or not isinstance(n_components, Iterable):
        raise TypeError(
            f"n_components must be a sequence of component counts, got {n_components!r}. "
            "Pass e.g. range(1, 10), or [3] for a single count."
        )
    if isinstance(n_components, range) and len(n_components):
        # Checked before the range is expanded: range(1, 10**10) must not build a list.
        _check_largest(max(n_components[0], n_components[-1]), n_samples)
    ks = as_list(n_components, "n_components", "range(1, 10), or [3] for a single count",
                 ordered=False)
    if not ks:
        raise ValueError("n_components is empty; pass at least one component count, e.g. range(1, 10).")
    for k in ks:
        check_scalar(k, "each entry of n_components", numbers.Integral, min_val=1)
    if len(set(ks)) != len(ks):
        raise ValueError(f"n_components has repeated entries: {ks}. List each count once.")
    _check_largest(max(ks), n_samples)
    if family != "gaussian":
        if covariance_types is not None:
            raise ValueError(
                f"covariance_types applies to family='gaussian' only, not {family!r}; leave it "
                "out (a family without covariance types has one row in the table)."
            )
        covariance_types = (family,)
    elif covariance_types is None:
        covariance_types = ("spherical", "diag", "tied", "full")
    types = (covariance_types,) if isinstance(covariance_types, str) else tuple(as_list(
        covariance_types, "covariance_types", "('full', 'diag'), or 'full' for one type",
        ordered=False,
    ))
    if not types:
        raise ValueError(f"covariance_types is empty; pass some of {_COVARIANCE_TYPES}.")
    for ct in types if family == "gaussian" else ():
        if ct not in _COVARIANCE_TYPES:
            raise ValueError(
                f"covariance_types must contain only {_COVARIANCE_TYPES}, got {ct!r}."
                f"{close_choice(ct, _COVARIANCE_TYPES)}"
            )
    if len(set(types)) != len(types):
        raise ValueError(f"covariance_types has repeated entries: {types}. List each type once.")
    crit = criterion.lower() if isinstance(criterion, str) else criterion
    if crit not in _CRITERIA:
        raise ValueError(
            f"criterion must be 'bic' or 'aic', got {criterion!r}.{close_choice(criterion, _CRITERIA)}"
        )
    return [int(k) for k in ks], types, crit


def _family_class(family):
    check_choice(family, "family", sorted(FAMILIES))
    return FAMILIES[family]


def _check_gmm_kwargs(gmm_kwargs, cls=GaussianMixture):
    valid = set(cls().get_params()) - set(_GRID_PARAMETERS)
    for name in gmm_kwargs:
        if name in _GRID_PARAMETERS:
            raise TypeError(
                f"{name} is set by the grid; pass n_components=[...] and "
                "covariance_types=(...) to select_n_components instead."
            )
        if name not in valid:
            raise TypeError(
                f"select_n_components got an unexpected keyword argument {name!r}. "
                f"Extra keywords go to {cls.__name__}{cls._parameter_advice(name)}"
            )


def _possible_gain(model):
    """How much a fit that stopped short might still raise its mean log-likelihood.

    The larger of two estimates. Aitken's estimate of the remaining gain at
    the end of the run holds where EM converges linearly. On a likelihood
    ridge, where a model with more components than the data hold crawls, EM
    converges sublinearly and Aitken's estimate is low; there the gap to the
    limit falls like a power of the pass number, ``c k**-q``, and the gains
    over two consecutive windows of passes ``[n / r**2, n / r]`` and
    ``[n / r, n]`` (``r = 4/3``: the last quarter of the run and the 3/16
    before it) have the ratio ``rho = r**-q`` whatever ``c`` is, and the gap
    still to close after pass ``n`` is ``G rho / (1 - rho)``, ``G`` the gain
    over the last window: exact for such a power law (three times ``G``
    when the gap falls like ``1 / k``), smaller when the gains shrink
    faster. When they do not shrink (``rho >= 1``: a ridge, or the jumps of
    an accelerated fit, whose gains are irregular), the gain over the
    second half of the run stands in: what is still to come if the gap
    falls like ``1 / k``. Windows this
    short see a geometric tail as the small ratio it is, so a fit that is
    settling is not taken for one that crawls. Where Aitken has no estimate
    at the end of the run (its last increments did not shrink: the first
    passes after an accelerated fit's jump, or a ridge), the windows' alone
    stands. Fewer than 8 passes give no estimate (infinite).
    """
    bounds = model.lower_bounds_
    n = len(bounds)
    if n < 8:
        return np.inf
    start, middle = n - 1 - (7 * n) // 16, n - 1 - n // 4
    earlier = bounds[middle] - bounds[start]
    last = bounds[-1] - bounds[middle]
    if last <= 0.0:
        tail = 0.0
    elif earlier <= 0.0 or last >= earlier:
        # The gains do not shrink over these windows (a ridge, or the jumps
        # of an accelerated fit): the gain over the second half of the run,
        # what is still to come if the gap falls like 1 / k.
        tail = bounds[-1] - bounds[n // 2]
    else:
        rho = last / earlier
        tail = last * rho / (1.0 - rho)
    if not np.isfinite(model._remaining_gain):
        return tail
    return max(model._remaining_gain, tail)


def _warn_unconverged(best, values, flags, converged, models, total_weight):
    """One ConvergenceWarning, only for fits that did not converge and can change the choice.

    EM never lowers the likelihood, so a fit stopped short has a criterion
    value at or above the one at its peak, lower by at most twice its possible
    gain in total log-likelihood (:func:`_possible_gain` times the total
    sample weight). Such a fit matters only if it is the chosen one, or if its
    value could still fall below the chosen one's.
    """
    matters = []
    for key, model in models.items():
        if converged[key] or flags[key]:
            continue
        reach = values[key] - 2.0 * total_weight * _possible_gain(model)
        if key == best or reach < values[best]:
            matters.append(key)
    if not matters:
        return
    chosen = (
        f"the chosen fit {best} did not converge, so its parameters are not yet at the peak"
        if best in matters else f"the chosen fit is {best}"
    )
    others = [key for key in matters if key != best]
    rivals = (
        f"; {others} did not converge and, judged by how fast they were still gaining, "
        "could end up with a lower criterion than the chosen fit"
        if others else ""
    )
    warn_at_caller(
        ConvergenceWarning(
            f"Model selection may be unsettled: {chosen}{rivals}. Pass a larger max_iter "
            "(or a larger tol) to select_n_components. result.converged and the '~' marks "
            "of result.table show every fit that did not converge."
        ),
    )


def _warn_rounding_loss(best, models):
    """One ConvergenceWarning for the grid's float32 fits whose means float32 stores too
    coarsely, with the chosen fit's loss (each fit's ``_rounding_loss_warned``).

    Each such fit warns of it, but the grid silences its fits' ConvergenceWarnings; a
    warning per fit would repeat one cause as many times as the grid has cells.
    """
    losses = {key: model._rounding_loss_warned for key, model in models.items()}
    lossy = [key for key, loss in losses.items() if loss]
    if not lossy:
        return
    chosen = (
        f"the chosen fit {best} lies {losses[best]:.3g} per sample below its float64 "
        f"parameters in {models[best]._scored}" if losses[best]
        else f"the chosen fit {best} is not measurably affected"
    )
    warn_at_caller(
        ConvergenceWarning(
            f"{len(lossy)} of the {len(models)} fits of the grid store their means in float32, "
            f"which cannot hold them finely enough (likely values far from 0 against their "
            f"spread): {chosen}. Centre the data (X - np.nanmean(X, axis=0)) or select on "
            "X.astype(np.float64)."
        ),
    )


def select_n_components(
    X,
    n_components=range(1, 10),
    covariance_types=None,
    criterion="bic",
    n_init=1,
    random_state=None,
    sample_weight=None,
    *,
    family="gaussian",
    min_variance_ratio=1e-6,
    progress=None,
    **gmm_kwargs,
):
    """Fit mixtures over a grid and pick the best by BIC or AIC.

    Every combination of ``covariance_types`` and ``n_components`` is fitted
    with :class:`~fastem.GaussianMixture` and scored on ``X``; with another
    ``family``, every count of ``n_components`` with that family's mixture.
    Fits with collapsed components (see :func:`collapsed_components`; for
    exponential mixtures, a component whose scale sits at the ``min_scale``
    floor in a feature where the data are not all zero: points that are all
    0 there, whose density grows without limit as the scale falls) are
    spurious maxima of the likelihood: they are kept in the table, marked
    singular, and excluded from the choice, as R's mclust does.

    The criteria follow scikit-learn's sign: ``BIC = -2 log L + p log n`` and
    ``AIC = -2 log L + 2 p`` with ``p`` free parameters and ``n`` the total
    sample weight, and **lower is better**. R's mclust reports
    ``2 log L - p log n``, the opposite sign, where higher is better.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), chunked data or dask array
        Any data that ``GaussianMixture.fit`` accepts (e.g. :class:`fastem.Chunks`
        or a memory-mapped array); it is validated once and read by every fit.
    n_components : iterable of int, default=range(1, 10)
        Component counts to try.
    covariance_types : str or iterable of str, default=None
        Covariance types to try; None: ('spherical', 'diag', 'tied', 'full').
        Gaussian mixtures only: with another ``family`` leave it None.
    criterion : {'bic', 'aic'}, default='bic'
    n_init : int, default=1
        Initialisations per fit; each fit keeps its best.
    random_state : int, RandomState instance or None, default=None
        Seeds every fit alike: an int is passed to every fit; from None or a
        RandomState one seed is drawn and passed to every fit. Every fit
        therefore starts from the same subsample, and the default
        hierarchical start (the same tree for every covariance type and
        number of components, as in mclust) is computed once for the grid.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative weights that act like repetition counts, for fitting,
        scoring and the collapse rule. The fits do not depend on their scale,
        but the criteria do (``n`` and ``log L`` grow with it, ``p`` does
        not): give weights that sum to the number of observations they stand
        for.
    family : {'gaussian', 'exponential', 'poisson'}, default='gaussian'
        The mixtures to fit: :class:`~fastem.GaussianMixture`,
        :class:`~fastem.ExponentialMixture` or :class:`~fastem.PoissonMixture`.
        The table of another family has one row, named by the family, and
        ``best_params_`` is ``(family, n_components)``.
    min_variance_ratio : float, default=1e-6
        Relative variance floor of the collapse rule (Gaussian mixtures only).
    progress : bool or callable, default=None
        True shows a progress line on stderr: the grid cell (covariance type,
        K), the restart and the EM iteration. A callable is called after every
        EM iteration of every fit with a dict (``cell``, ``n_cells``,
        ``covariance_type``, ``n_components``, ``init``, ``n_init``,
        ``n_iter``, ``max_iter``, ``lower_bound``); see
        :class:`fastem._progress.SelectionProgress`.
    **gmm_kwargs
        Further parameters of :class:`~fastem.GaussianMixture` (``reg_covar``,
        ``tol``, ``max_iter``, ``init_params``, ...), or of the ``family``'s
        mixture (``min_scale``, ``min_rate``, ...).

    Returns
    -------
    result : SelectionResult
        ``result.table`` (criterion per fit, printable), ``result.best_model_``,
        ``result.best_params_`` = ``(covariance_type, n_components)`` (with
        another family, ``(family, n_components)``),
        ``result.flags``, ``result.converged`` and ``result.warnings`` per fit.

    Raises
    ------
    TypeError, ValueError
        For bad data or arguments, before any fit: among them a value of
        ``**gmm_kwargs`` that the estimator refuses (``reg_covar=-1``,
        ``tol=nan``, ``init_params='kmean'``) or an initial value that a
        cell of the grid cannot take (``means_init`` of another number of
        components), with the estimator's message. A fit that fails on the
        data is marked failed in the table instead.

    Warns
    -----
    ConvergenceWarning
        Once, and only when a fit that did not converge (stopped at
        ``max_iter`` before the stopping rule held) can matter: when it is the
        chosen fit, or when its criterion could still fall below the chosen
        one's. EM never lowers the likelihood, so the criterion of such a fit
        can only fall as EM goes on; the bound of that fall is twice the total
        log-likelihood it may still gain, estimated from how fast it was
        gaining at the end (Aitken's estimate, or the gain over the second
        half of its run if larger: on the likelihood ridge of a model with
        more components than the data hold EM crawls, sublinearly). Fits that
        did not converge but cannot change the choice are only reported:
        ``result.converged`` and a ``~`` in the printed table. A direct
        ``GaussianMixture.fit`` of such a model still warns, as it should.
        Once more, for float32 data, when fits of the grid store means that
        float32 holds too coarsely (far from 0 against their spread), each
        measurably below the float64 peak near it: how many, and the chosen
        fit's loss per sample in log-likelihood, as that fit stated it.
    UserWarning
        When every fit is flagged, so there is no best model.
    Warnings of the fits
        A warning that a fit of the grid gives of its fitted model
        (a :class:`~fastem.RegularizationWarning` of a component narrower than
        ``reg_covar``, an :class:`~fastem.EmptyComponentWarning`, components
        with no observed value of a feature with ``missing='em'``, ...) is
        said once, of the chosen fit only, naming it ("in the chosen fit
        ('full', 3)"); a warning of the data or the settings that every fit
        gives (``reg_covar`` at least a quarter of a feature's variance) is
        said once. ``result.warnings`` keeps every fit's warnings.

    Examples
    --------
    >>> result = select_n_components(X, range(1, 7), criterion="bic", random_state=0)
    >>> print(result.table)
    >>> labels = result.best_model_.predict(X)
    """
    cls = _family_class(family)
    _check_gmm_kwargs(gmm_kwargs, cls)
    prototype = cls(**gmm_kwargs)
    missing = prototype._fits_missing()
    source = as_source(
        X,
        sample_weight,
        # as GaussianMixture.fit validates, since its fits take the source as it is
        check_data=family_check(prototype, statistics=True),
        allow_nan=missing,
        nan_advice=_NAN_ADVICE,
        squares=prototype._squares_data,
    )
    ks, types, criterion = _check_grid(n_components, covariance_types, criterion,
                                       source.n_positive, family)
    n_init = check_scalar(n_init, "n_init", numbers.Integral, min_val=1)
    min_variance_ratio = check_scalar(
        min_variance_ratio, "min_variance_ratio", numbers.Real, min_val=0.0, max_val=1.0)
    if not isinstance(random_state, numbers.Integral):
        random_state = int(check_random_state(random_state).randint(np.iinfo(np.int32).max))
    check_random_state(random_state)
    random_state = int(random_state)  # every fit of the grid gets the same Python int
    # read once for the whole grid; the variances come with the covariance if a type needs it
    second = "full" if {"full", "tied"} & set(types) else "diag"
    summary = DataSummary(source, missing, second)
    total_weight = summary.total_weight

    if total_weight < source.n_positive:
        warn_at_caller(
            f"sample_weight sums to {total_weight:.4g} over {source.n_positive} rows of "
            f"positive weight. The criteria count the total weight as the number of "
            f"observations (BIC's penalty is p log n, {np.log(total_weight):.2f} per "
            "parameter here), so weights that sum to less than the rows favour larger "
            "models. Give weights that sum to the number of observations they stand for "
            f"(e.g. w * {source.n_positive} / w.sum()).",
            UserWarning,
        )
    if progress is True:
        progress = SelectionProgress()
    elif progress is not None and progress is not False and not callable(progress):
        raise TypeError(f"progress must be None, a bool or a callable, got {progress!r}.")
    values, flags, converged, models, said = {}, {}, {}, {}, {}
    grid = [(ct, k) for ct in types for k in ks]
    cells = {}
    for ct, k in grid:
        grid_parameters = {"covariance_type": ct} if family == "gaussian" else {}
        model = cls(k, n_init=n_init, random_state=random_state, **grid_parameters, **gmm_kwargs)
        # A setting that no fit can take is the caller's error, raised before any fit:
        # not a cell that failed (reg_covar=-1 made every cell "failed").
        model._check_parameters()
        model._check_family_init(source.n_features)
        model._check_values_for_dtype(source.dtype, starts=True)
        cells[ct, k] = model
    for cell, (key, model) in enumerate(cells.items(), start=1):
        ct, k = key
        callback = model.callback
        if callable(progress):
            model.set_params(callback=CellProgress(progress, cell, len(grid), ct, callback))
        # the ranking of its starts reads the grid's summary and floor, as its flags do
        model._grid_rules = (summary, min_variance_ratio)
        try:
            # Each cell's warnings are kept with the cell and said after the choice: those
            # of the fitted model of the chosen cell alone, those of the data once
            # (_say_cell_warnings); the grid's own ConvergenceWarnings, once, of the grid.
            # kept in this thread alone: other threads' warnings are theirs to give
            with kept_warnings() as caught:
                model.fit(source)  # validated once, above; carries the weights
        except (ValueError, FloatingPointError) as exc:
            if from_callback(exc):  # the user's callback or progress: not the cell's failure
                raise
            values[key], flags[key], converged[key] = np.nan, f"failed: {exc}", False
            continue
        finally:
            model.set_params(callback=callback)  # the selected model keeps the user's
            del model._grid_rules
            said[key] = tuple(caught)
        models[key] = model
        converged[key] = bool(model.converged_)
        score = model.bic if criterion == "bic" else model.aic
        values[key] = score(source)
        reasons = model._collapse_reasons(source, summary, min_variance_ratio)
        flags[key] = (
            "singular: " + "; ".join(f"component {c}: {why}" for c, why in reasons.items())
            if reasons
            else ""
        )

    if hasattr(progress, "finish"):
        progress.finish()
    candidates = [key for key in values if not flags[key] and math.isfinite(values[key])]
    best = min(candidates, key=lambda key: values[key]) if candidates else None
    _say_cell_warnings(best, said)
    if best is not None:
        _warn_unconverged(best, values, flags, converged, models, total_weight)
        _warn_rounding_loss(best, models)
    if best is None:
        warn_at_caller(
            "Every fit in the grid was flagged as singular or failed, so there is no best "
            "model; see result.flags (and result.warnings). Try fewer components, "
            + ("a larger reg_covar, or check whether the data are discrete."
               if family == "gaussian" else "or include K=1 in n_components."),
            UserWarning,
        )
    table = CriterionTable(criterion, types, ks, values, flags, best, converged)
    return SelectionResult(criterion, table, flags, converged, models, best, said)
