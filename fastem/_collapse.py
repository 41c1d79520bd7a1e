"""Collapsed components: spurious maxima of the Gaussian likelihood, and the rule that finds them.

The Gaussian likelihood is unbounded: a component that sits on a few points
with (almost) no spread in some direction has a density that grows without
limit there. ``reg_covar`` keeps the fit finite, but the result is a spurious
maximum, not a better model. It happens all the time with real data that are
rounded or discrete: a component lies down on one value of a rounded feature,
its variance there drops to ``reg_covar``, and every point on it gains about
``-0.5 * log(reg_covar)`` (7 nats for the default ``1e-6``) of log-likelihood.
EM reaches such maxima from some starts even on continuous data: a start that
gives one component a point or two, far out in a tail, ends with the
component on them.

:func:`fastem.select_n_components` flags fits with collapsed components
(:func:`gaussian_collapse_reasons`, :func:`floored_scale_reasons`, through
each family's ``_collapse_reasons`` hook) and chooses among the others, as
R's mclust leaves out the fits it reports as singular.

What the rules read of the data (their covariance, the resolution of each
feature, their mean) is computed once for a grid (:class:`DataSummary`).
"""

from collections import defaultdict

import numpy as np

from ._init import _second_moment, init_sample_size
from .data import _Slice

# Rows per chunk for the passes that need responsibilities or centred data.
_CHUNK_ROWS = 65_536
# Rule 1's absolute floor: a component on one value of a feature has exactly reg_covar
# of variance across it (the M-step adds reg_covar to a zero spread), and twice that leaves
# room for round-off and the faint tails of neighbouring points. Ten times, it flagged
# genuine clusters of features whose spread is of the order of sqrt(reg_covar) (wdbc's
# fractal dimension, standard deviation 0.007: clusters of variance 4e-6 to 9e-6).
_REG_COVAR_MULTIPLE = 2.0
# Directions in which the data's variance is at most this many reg_covar are degenerate
# in the data themselves and say nothing about one component.
_DEGENERATE_MULTIPLE = 10.0
# Features with at most this many distinct values are codes, not rounded measurements.
_MAX_CODE_LEVELS = 3
# The default relative floor of rule 1 (see fastem.selection.collapsed_components).
MIN_VARIANCE_RATIO = 1e-6
# Rule 3's slack, in points. Kish's size of n points falls short of n by about the
# spread of their responsibilities: a component that holds each of its points to within
# a few percent still rests on them all (4 points held at 1, 1, 1 and 0.999994 have
# 3.99999999997 effective points), and one point held 3.2% (among many) to 4.5% (beside
# one other) below the others costs a thousandth of a point; held at less, it counts short.
_POINTS_SLACK = 1e-3


class DataSummary:
    """What the collapse rules read of a validated data source, each computed on first use.

    ``covariance`` is the weighted covariance of the data (float64, shape
    (n_features, n_features); with ``missing``, pairwise over the observed
    entries), ``variances`` its diagonal (n_features,), ``mean`` the weighted
    mean of each feature over its observed entries, ``total_weight`` the total
    sample weight and ``resolution`` the per-feature gaps and numbers of
    distinct values (:func:`_resolution`). The mean and the total weight take
    one pass, the covariance one more. ``second`` names the widest second
    moments the fits will read (:data:`fastem._init.SECOND_MOMENTS`): with
    'full', the variances are the covariance's diagonal, of the same pass; with
    'diag' (models of a variance per feature alone, 'diag' and 'spherical'),
    they take a pass of their own that builds no (n_features, n_features)
    array, which at many features would not fit in memory. A grid of fits over
    one source shares one summary.
    """

    def __init__(self, source, missing, second):
        self._source, self._missing, self._second = source, missing, second
        self._covariance = self._mean = self._resolution = self._total_weight = None
        self._variances = None

    @property
    def source(self):
        return self._source

    @property
    def covariance(self):
        if self._covariance is None:
            self._covariance = _data_second_moments(
                self._source, self.mean, self.total_weight, self._missing, "full")
        return self._covariance

    @property
    def variances(self):
        if self._variances is None:
            if self._covariance is not None or self._second == "full":
                self._variances = np.diagonal(self.covariance).copy()
            else:
                self._variances = _data_second_moments(
                    self._source, self.mean, self.total_weight, self._missing, "diag")
        return self._variances

    @property
    def mean(self):
        if self._mean is None:
            self._mean, self._total_weight = _feature_means(self._source)
        return self._mean

    @property
    def total_weight(self):
        self.mean  # computed with the mean, in one pass
        return self._total_weight

    @property
    def resolution(self):
        if self._resolution is None:
            self._resolution = _resolution(self._source)
        return self._resolution


def _min_points(covariance_type, n_features):
    """Points a component needs for its covariance to be non-singular without reg_covar."""
    return {"full": n_features + 1, "tied": 1, "diag": 2, "spherical": 2}[covariance_type]


def _row_blocks(n_samples):
    return [slice(start, start + _CHUNK_ROWS) for start in range(0, n_samples, _CHUNK_ROWS)]


def _weights_or_ones(sample_weight, n_samples):
    return sample_weight if sample_weight.shape[0] else np.ones(n_samples)


def _data_second_moments(source, mean, total, missing=False, second="full"):
    """Weighted covariance of the data in float64, in one pass over the source around
    ``mean``, the weighted mean of each feature, of total weight ``total``
    (:func:`_feature_means`): the (n_features, n_features) matrix for ``second``
    'full', the variance of each feature, (n_features,), for 'diag', with no
    (n_features, n_features) array (:data:`fastem._init.SECOND_MOMENTS`).

    With ``missing``, NaN entries are missing values: each mean is taken over
    a feature's observed entries and each covariance over the rows where both
    features are observed (the pairwise estimate; the collapse rule only
    measures the data's spread along directions with it).
    """
    shape = (source.n_features,) * (2 if second == "full" else 1)

    def sums(X, w):
        w = _weights_or_ones(w, X.shape[0])
        out = np.zeros((2, *shape))
        for s in _row_blocks(X.shape[0]):
            part = np.asarray(X[s], dtype=np.float64)
            if missing:
                observed = ~np.isnan(part)
                centred = np.where(observed, part - mean, 0.0)
                out[1] += _second_moment(observed.astype(np.float64), w[s], second)
            else:
                centred = part - mean
            out[0] += _second_moment(centred, w[s], second)
        return out.ravel()

    moments, pair_mass = source.reduce(sums).reshape(2, *shape)
    if not missing:
        return moments / total
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pair_mass > 0, moments / pair_mass, 0.0)


def _effective_points(model, source):
    """Effective number of points behind each component (Kish's effective size).

    ``n_eff_k = (sum_i r_ik)^2 / sum_i r_ik^2`` over the rows of positive weight,
    with ``r_ik`` the responsibilities. With hard assignments it is the number of
    points in the component. Unlike the component's mass ``sum_i w_i r_ik`` it
    does not depend on the weights: one point with a large weight still counts
    as one point, and two points count as two whatever their weights. Kish's
    weighted form, ``(sum_i w_i r_ik)^2 / sum_i (w_i r_ik)^2``, counted two
    points of weights 2 and 3 as 1.92, below the 2 that a 'diag' covariance
    needs, where the five rows they stand for count as five.
    """
    K = model._n_components
    model = model._for_tasks()  # the function below goes to Dask's workers

    def masses(X, w):
        w = _weights_or_ones(w, X.shape[0])
        out = np.zeros(2 * K)
        for s in _row_blocks(X.shape[0]):
            # A chunk of the validated source, in the columns of fit: no input checks again.
            resp = model._outputs(_Slice(X[s], np.empty(0)), "resp")
            # a row counts as one point whatever its weight; a row of weight 0 as none
            counted_resp = resp.astype(np.float64) * (w[s, None] > 0)
            out[:K] += counted_resp.sum(axis=0)
            out[K:] += (counted_resp**2).sum(axis=0)
        return out

    total = source.reduce(masses)
    mass, mass_squared = total[:K], total[K:]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(mass_squared > 0, mass**2 / mass_squared, 0.0)


def _resolution(source):
    """Smallest gap between distinct values of each feature, on a subsample.

    Rows of zero weight are left out. Returns the gaps and the numbers of
    distinct values, both of shape (n_features,). A feature with a single
    value has gap 0.
    """
    points, weights = source.subsample(np.random.RandomState(0),
                                       init_sample_size(source.n_features))
    points = points[weights > 0]
    gaps = np.zeros(source.n_features)
    n_values = np.zeros(source.n_features, dtype=np.int64)
    for j in range(source.n_features):
        values = points[:, j]
        distinct = np.unique(values[~np.isnan(values)])  # NaN: a missing value
        n_values[j] = distinct.size
        gaps[j] = np.diff(distinct).min() if distinct.size > 1 else 0.0
    return gaps, n_values


def _feature_means(source):
    """(the weighted mean of each feature over its observed (not NaN) entries, float64;
    the total weight)."""
    D = source.n_features

    def sums(X, w):
        w = _weights_or_ones(w, X.shape[0])
        out = np.zeros(1 + 2 * D)
        out[0] = w.sum()
        for s in _row_blocks(X.shape[0]):
            part = np.asarray(X[s], dtype=np.float64)
            observed = ~np.isnan(part)
            out[1 : 1 + D] += w[s] @ np.where(observed, part, 0.0)
            out[1 + D :] += w[s] @ observed
        return out

    totals = source.reduce(sums)
    return totals[1 : 1 + D] / np.maximum(totals[1 + D :], np.finfo(np.float64).tiny), totals[0]


def floored_scale_reasons(model, data_mean, component_means=None):
    """{component: why} for the components of a fitted mixture with a ``_floor``
    (:class:`~fastem.ExponentialMixture`'s ``min_scale``) whose scale is at the floor
    in a feature that is not zero throughout: their points are all 0 there (without
    the floor their density would grow without limit), or positive but of a mean
    below the floor (data that span more orders of magnitude than the floor lets a
    scale follow). ``data_mean``: the weighted mean of each feature over the data
    (its observed entries), of shape (n_features,). ``component_means``: the
    components' weighted means before the floor, float64 of shape
    (n_components, n_features), which tell the two apart (a mean below float64's
    rounding of the floor is that of zeros: the responsibilities that far points
    keep in such a component add such means to its zeros); without them the
    reason names both."""
    floor = model._floor(data_mean)
    scales = np.asarray(model.scales_, dtype=np.float64)
    at_floor = (scales <= floor * (1.0 + 4.0 * np.finfo(model.scales_.dtype).eps)) & (
        data_mean > 0) & (np.asarray(model.weights_)[:, None] > 0)

    def points(k, d):
        if component_means is None:
            return "its points are all 0 there, or of a mean below the floor"
        mean = float(component_means[k, d])
        if not mean > floor[d] * np.finfo(np.float64).eps:
            return "its points are all 0 there"
        return (f"its points there are not 0 but average {mean:.3g}, "
                f"{floor[d] / mean:.3g} times below the floor")

    return {
        int(k): ", ".join(f"scale {scales[k, d]:.3g} of feature {model._feature_label(d)} at "
                          f"the min_scale floor "
                          f"({floor[d]:.3g}): {points(k, d)}"
                          for d in np.flatnonzero(at_floor[k]))
        for k in np.flatnonzero(at_floor.any(axis=1))
    }


def _shown_below(value, limit):
    """``value``, which is below ``limit``, to 3 significant digits, or to as many more as
    it takes not to round it up to ``limit`` (1.9996 points is not shown as 2 of 2)."""
    for digits in (3, 6, 17):
        text = f"{value:.{digits}g}"
        if float(text) < limit:
            break
    return text


def gaussian_collapse_reasons(model, source, summary, min_variance_ratio=MIN_VARIANCE_RATIO):
    """{component: why} for the collapsed components of a fitted Gaussian mixture on the
    validated ``source`` (``summary``: its :class:`DataSummary`), by the three rules of
    :func:`fastem.selection.collapsed_components`."""
    reasons = defaultdict(list)
    for reasons_of in (
        narrow_component_reasons(model, summary, min_variance_ratio),
        few_point_reasons(model, source),
    ):
        for k, why in reasons_of.items():
            reasons[k].append(why)
    return {k: ", ".join(why) for k, why in sorted(reasons.items())}


def narrow_component_reasons(model, summary, min_variance_ratio=MIN_VARIANCE_RATIO):
    """{component: why} for the components of a fitted Gaussian mixture narrower than the
    data allow (rules 1 and 2 of :func:`fastem.selection.collapsed_components`), from
    its parameters and the data's :class:`DataSummary` ``summary`` alone."""
    reg_covar = float(model.reg_covar)
    floor_abs = _REG_COVAR_MULTIPLE * reg_covar
    reasons = defaultdict(list)
    axis_variance = model._float64_feature_variances()  # (K, D) float64
    axes_are_features = model.covariance_type in ("diag", "spherical")
    if axes_are_features:
        # the components' axes are the features: no (D, D) matrix is needed
        eigenvalues = axis_variance
        data_var = np.broadcast_to(summary.variances, eigenvalues.shape)
    else:
        eigenvalues, eigenvectors = np.linalg.eigh(model._float64_covariances())
        # s[k, j] = v_kj^T S v_kj, the data's variance along component k's j-th axis
        data_var = np.einsum("kdj,de,kej->kj", eigenvectors, summary.covariance, eigenvectors)
    floor = np.maximum(floor_abs, min_variance_ratio * data_var)
    narrow = (eigenvalues < floor) & (data_var > _DEGENERATE_MULTIPLE * reg_covar)
    for k in np.flatnonzero(narrow.any(axis=1)):
        j = int(np.argmax(np.where(narrow[k], floor[k] - eigenvalues[k], -np.inf)))
        axis = f"feature {model._feature_label(j)}" if axes_are_features else "an axis"
        reasons[int(k)].append(
            f"variance {eigenvalues[k, j]:.3g} along {axis} where the data have "
            f"{data_var[k, j]:.3g} (floor {floor[k, j]:.3g})"
        )
    gaps, n_values = summary.resolution
    axis_floor = gaps**2 / 12.0
    # rule 2 only for features that look like rounded measurements
    rounded = (n_values > _MAX_CODE_LEVELS) & (summary.variances >= axis_floor)
    for k, j in zip(*np.nonzero((axis_variance < axis_floor) & rounded)):
        reasons[int(k)].append(
            f"variance {axis_variance[k, j]:.3g} along feature {model._feature_label(j)}, "
            "below the "
            f"{axis_floor[j]:.3g} that rounding to steps of {gaps[j]:.3g} gives",
        )
    return {k: ", ".join(why) for k, why in sorted(reasons.items())}


def few_point_reasons(model, source):
    """{component: why} for the components of a fitted Gaussian mixture with fewer
    effective points (:func:`_effective_points`) on the validated ``source`` than their
    covariance needs to be non-singular without ``reg_covar`` (rule 3 of
    :func:`fastem.selection.collapsed_components`): components fitted to a point or two,
    the spurious maximizers of McLachlan & Peel (2000, *Finite Mixture Models*,
    sec. 3.10)."""
    n_eff = _effective_points(model, source)
    needed = _min_points(model.covariance_type, source.n_features)
    return {
        int(k): f"{_shown_below(n_eff[k], needed)} effective points, fewer than {needed}"
        for k in np.flatnonzero(n_eff < needed - _POINTS_SLACK)
    }

