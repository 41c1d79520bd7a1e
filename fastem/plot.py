"""Plots of fitted mixtures, and an interactive explorer of 1-D mixtures.

Needs matplotlib (``pip install 'fastem[plot]'``), imported only when a
function here is called: ``import fastem`` never imports matplotlib. Every
function takes an optional ``ax`` (or ``axes``) to draw into and returns a
dict of the matplotlib objects it made.

Data are taken in every form the estimators take: arrays (memory-mapped
too), DataFrames and Arrow tables (whose column names label the axes),
:class:`fastem.Chunks` and Dask arrays or DataFrames. At most 1,000,000 rows
are read, a uniform subsample of larger data (the same on every call), so a
plot of data larger than memory never reads them whole.
"""

import itertools
import numbers

import numpy as np

from ._state import one_snapshot
from ._validation import as_array, as_list, check_choice, check_scalar
from .exceptions import kept_warnings, warn_at_caller

__all__ = [
    "plot_density_1d",
    "plot_clusters_2d",
    "plot_lower_bounds",
    "plot_selection",
    "plot_pairs",
    "point_style",
    "explore",
    "Explorer",
]

_SQRT_2PI = np.sqrt(2 * np.pi)


def _pyplot():
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "fastem.plot needs matplotlib, which is not installed. Install it with "
            "pip install 'fastem[plot]' (or pip install matplotlib)."
        ) from None
    return plt


def _axes(ax, name="ax"):
    """``ax``, a matplotlib Axes, or a new figure's when None; a TypeError naming ``name``
    for anything else (drawing on it failed with an AttributeError deep in the plot)."""
    if ax is None:
        _, ax = _pyplot().subplots()
        return ax
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise TypeError(
            f"{name} must be a matplotlib Axes, got {ax!r} of type {type(ax).__name__}. Pass "
            "one, e.g. figure, ax = plt.subplots(), or leave it None for a new figure."
        )
    return ax


def _color(k):
    return _pyplot().get_cmap("tab10")(k % 10)


# Rows of the data that a plot reads: a histogram of a million points looks like
# one of all of them, and data larger than memory (a memory-mapped file, Chunks,
# a Dask array) are never read whole for a picture.
_MAX_ROWS = 1_000_000


def _data(X, max_rows=None, model=None):
    """At most ``max_rows`` rows of ``X`` as float64 (n_rows, n_features), and its column names.

    ``X`` is any data the estimators take (an array, memory-mapped too; a
    DataFrame or Arrow table; :class:`fastem.Chunks`; a Dask array or
    DataFrame), validated as they validate it; a 1-D array is one feature,
    and a named Series one column of that name. NaN entries are missing
    values for a ``model`` fitted with ``missing='em'``, else an error
    that says what ``model`` offers. Data that ``model``'s family does not
    model (negative values for an exponential mixture, counts that are not
    whole numbers for a Poisson one) are refused as its ``predict`` refuses them.
    Larger data give a uniform subsample of rows, the same on every call.
    Column names come from the data (None without names).
    """
    from .base import family_check
    from .data import as_source

    if getattr(X, "ndim", None) == 1 and hasattr(X, "to_frame") and isinstance(X.name, str):
        X = X.to_frame()
    elif getattr(X, "ndim", None) == 1 or isinstance(X, (list, tuple)) and np.ndim(X) == 1:
        X = X.reshape(-1, 1) if hasattr(X, "compute") else as_array(X).reshape(-1, 1)
    missing = getattr(model, "missing", "error") == "em"
    advice = None if model is None else model._nan_advice(predicting=True)
    check = None if model is None else family_check(model, statistics=False)
    source = as_source(X, check_data=check, allow_nan=missing, nan_advice=advice,
                       squares=getattr(model, "_squares_data", True))
    values, _ = source.subsample(np.random.RandomState(0), max_rows or _MAX_ROWS)
    names = source.feature_names_in
    return values, None if names is None else [str(n) for n in names]


def _check_model(model, what, min_features=1, parameters=True):
    """``model`` fitted, with at least ``min_features`` (1 or 2) features, or a clear error.

    With ``parameters``, for a figure drawn from them, its parameters pass the
    checks of their use by the predictions (``_check_fitted_parameters``):
    assigned ones that disagree with one another (a ``covariances_`` beside
    the old precisions), weights off the simplex, hyper-parameters changed
    since the fit. A figure would otherwise draw a mixture other than the one
    the model predicts with. So do its ``feature_names_in_`` (one string per
    feature), which the data's names are compared with.
    """
    if not hasattr(model, "_check_is_fitted"):
        raise TypeError(f"{what} takes a fastem mixture, got {type(model).__name__}.")
    model._check_is_fitted()
    if parameters:
        model._check_fitted_parameters(model.n_features_in_)
        model._checked_feature_names()  # before the data's names are compared with them
    if model.n_features_in_ < min_features:  # min_features=2: the 2-D plots
        raise ValueError(
            f"{what} draws two features, but the {type(model).__name__} has "
            f"{model.n_features_in_} feature; use plot_density_1d(model, X) for one feature."
        )


def _feature_index(model, feature, names, what):
    """A 0-based feature index from an int or a column name, checked against the model.

    A name is found as written, else as it reads (spaces around it, another Unicode
    normal form: :func:`fastem._tables.find_name`), where that finds one feature."""
    from ._tables import find_name

    n_features = model.n_features_in_
    if isinstance(feature, str):
        known = names if names is not None else getattr(model, "feature_names_in_", None)
        j = None if known is None else find_name(feature, [str(name) for name in known])
        if j is None:
            raise ValueError(
                f"{what}: no feature named {feature!r}; the features are "
                f"{list(known) if known is not None else 'unnamed (pass an index)'}."
            )
        return j
    if isinstance(feature, bool) or not isinstance(feature, numbers.Integral):
        raise TypeError(
            f"{what}: a feature is an index (int) or a column name (str), got {feature!r} "
            f"of type {type(feature).__name__}."
        )
    if not -n_features <= feature < n_features:
        raise ValueError(
            f"{what}: feature {feature} is out of range for a model of {n_features} feature(s) "
            f"(indices 0 to {n_features - 1})."
        )
    return feature % n_features


def _feature_pair(model, pair, names, what):
    """Two 0-based feature indices from a pair of ints or column names (:func:`_feature_index`)."""
    if isinstance(pair, str) or not hasattr(pair, "__len__") or len(pair) != 2:
        raise ValueError(
            f"{what}: a pair of features is two indices or column names, such as (0, 1), "
            f"got {pair!r}."
        )
    pair = as_list(pair, f"{what}: the pair of features", "(0, 1) or ('x', 'y'), in the axes' order")
    return tuple(_feature_index(model, feature, names, what) for feature in pair)


def _feature_name(model, names, j):
    """The name of feature ``j``: from the data's columns, else the model's, else ``x{c}``
    of the file column ``c`` it was fitted on by index (as ``fastem info`` names it: a
    model of ``Chunks(columns=[2, 5], header=False)``), else 'feature j'."""
    if names is not None:
        return names[j]
    fitted = getattr(model, "feature_names_in_", None)
    if fitted is not None:
        return str(fitted[j])
    indices = getattr(model, "_column_indices", None)
    return f"x{int(indices[j])}" if indices is not None else f"feature {j}"


def _is_counts(model):
    return hasattr(model, "rates_") and not hasattr(model, "scales_")


def _component_means(model):
    """Each component's mean, (K, D) float64: means (Gaussian), scales (exponential), rates (Poisson)."""
    for name in ("means_", "scales_", "rates_"):
        if hasattr(model, name):
            return np.asarray(getattr(model, name), dtype=np.float64).reshape(model._n_components, -1)
    raise TypeError(
        f"fastem.plot does not know how to draw a {type(model).__name__}; it draws Gaussian "
        "(means_, covariances_), exponential (scales_) and Poisson (rates_) mixtures."
    )


def _component_parameters(model, feature):
    """Each component's parameters of the marginal of ``feature``, as the explorer names
    them: {'mean', 'std'} (Gaussian), {'scale'} (exponential) or {'rate'} (Poisson),
    each of shape (n_components,) float64."""
    mean = _component_means(model)[:, feature]
    if hasattr(model, "covariance_type"):
        return {"mean": mean, "std": np.sqrt(model._float64_feature_variances()[:, feature])}
    return {"scale" if hasattr(model, "scales_") else "rate": mean}


# Points of a density curve over each component's own span, beside the evenly
# spaced ones: a component narrower than their spacing would show no peak.
_POINTS_PER_COMPONENT = 81
# Probabilities of counts are drawn at every integer of the range up to this many,
# beyond at some of them: counts in the millions would take a point per integer.
_MAX_INTEGERS = 10_000


def _grid(low, high, n_points, parameters):
    """Sorted points on [low, high] at which to draw densities: ``n_points`` evenly
    spaced, and those of each component's span within it (a Gaussian's mean +- 5 std
    with the mean, an exponential's [0, 15 scale] with 0, where the density peaks; see
    :func:`_component_parameters`). An exponential's points start at 0 at the lowest.
    A Poisson mixture's are the integers from 0 at the lowest: all of them up to
    ``_MAX_INTEGERS``, else those nearest to the points of a Gaussian of its mean and
    variance, the rate."""
    n = _POINTS_PER_COMPONENT
    integers = "rate" in parameters
    if integers:
        low, high = max(0, int(np.floor(low))), int(np.ceil(high))
        if high - low < _MAX_INTEGERS:
            return np.arange(low, high + 1, dtype=np.float64)
        parameters = {"mean": parameters["rate"], "std": np.sqrt(parameters["rate"])}
    if "std" in parameters:
        spans = parameters["mean"][:, None] + parameters["std"][:, None] * np.linspace(-5.0, 5.0, n)
    else:
        spans = parameters["scale"][:, None] * np.linspace(0.0, 15.0, n)
        low = max(low, 0.0)  # 0 below 0, where it jumps: a line from below 0 would slant
    x = np.concatenate([np.linspace(low, high, n_points), spans.ravel()])
    if integers:
        x = np.round(x)
    return np.unique(x[(x >= low) & (x <= high)])


def _marginal_densities(model, x, feature):
    """Weighted density (probability for counts) of each component at ``x``, shape (K, len(x))."""
    weights = np.asarray(model.weights_, dtype=np.float64)[:, None]
    mean = _component_means(model)[:, feature, None]
    if hasattr(model, "covariance_type"):
        std = np.sqrt(model._float64_feature_variances()[:, feature])[:, None]
        return weights * np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * _SQRT_2PI)
    if hasattr(model, "scales_"):
        return weights * _exponential_density(x, mean)
    return weights * _poisson_pmf(x, mean)


def _exponential_density(x, scale):
    return np.where(x >= 0, np.exp(-np.clip(x, 0, None) / scale) / scale, 0.0)


def _poisson_pmf(x, rate):
    from scipy.stats import poisson

    return poisson.pmf(x, rate)


#: numpy's rules for the number of histogram bins (numpy.histogram_bin_edges).
_BIN_RULES = ("auto", "fd", "doane", "scott", "stone", "rice", "sturges", "sqrt")

#: The most bins drawn: more are bars narrower than a pixel of any screen, and
#: a billion of them drew for minutes (10**20 was NumPy's "Maximum allowed size").
_MAX_BINS = 100_000


def _histogram_edges(values, bins):
    """Histogram bins: the edges ``bins`` if a sequence, else a number of bins (``bins``,
    or from numpy's rule named by ``bins``, 'auto' for None); for whole numbers, edges
    at half-integers with each bin a whole number of integers wide (no empty or doubled
    bars from integers falling unevenly into bins). A number of bins below 1 or above
    ``_MAX_BINS`` is refused, and so is a rule numpy does not have; a rule that gives more
    than ``_MAX_BINS`` gives ``_MAX_BINS``."""
    if bins is None or isinstance(bins, str):
        # A rule's count is the rule's, not the caller's: at most _MAX_BINS of them are drawn
        # (NumPy 1.x's 'auto' and 'fd' give millions on a heavy tail or a far outlier).
        rule = check_choice(bins or "auto", "bins", _BIN_RULES)
        bins = min(len(np.histogram_bin_edges(values, rule)) - 1, _MAX_BINS)
    elif np.ndim(bins):  # edges, as numpy takes them
        return bins
    bins = check_scalar(bins, "bins", numbers.Integral, min_val=1)
    if bins > _MAX_BINS:
        raise ValueError(
            f"bins must be at most {_MAX_BINS:,}, got {bins:,}: more bins are bars narrower "
            "than a pixel. Pass fewer, or the bins' edges."
        )
    if not np.array_equal(values, np.round(values)):
        return bins
    low, high = int(values.min()), int(values.max())
    width = max(1, -(-(high - low + 1) // bins))
    return np.arange(low, high + width + 1, width) - 0.5


def _density_data(model, X, feature):
    """(feature index, the data's values of that feature or None, axis label) for plot_density_1d.

    ``X`` holds the model's features, checked by name as ``predict`` checks
    them, or one named column of a model of several (``X[['waiting']]``, a
    named Series), which is then the feature drawn.
    """
    from ._validation import check_feature_names

    what = "plot_density_1d"
    fitted = getattr(model, "feature_names_in_", None)
    if X is None:
        j = _feature_index(model, 0 if feature is None else feature, None, what)
        return j, None, _feature_name(model, None, j)
    data, names = _data(X, model=model)
    if (data.shape[1] == 1 < model.n_features_in_ and names is not None and fitted is not None
            and names[0] in list(fitted)):
        j = list(fitted).index(names[0])
        if feature is not None and _feature_index(model, feature, None, what) != j:
            raise ValueError(
                f"{what}: X is the column {names[0]!r}, but feature={feature!r} is another "
                "feature of the model; leave feature out, or pass the data of every feature."
            )
        return j, data[:, 0], names[0]
    if data.shape[1] != model.n_features_in_:
        one = "" if fitted is None else f", or one of its named columns (X[[{str(fitted[0])!r}]])"
        raise ValueError(
            f"{what}: X has {data.shape[1]} feature(s) but the model was fitted on "
            f"{model.n_features_in_}; pass the data the model was fitted on{one}."
        )
    if names is not None and fitted is not None:  # columns in another order: refused
        check_feature_names(np.asarray(names, dtype=object), fitted, type(model).__name__)
    j = _feature_index(model, 0 if feature is None else feature, names, what)
    return j, data[:, j], _feature_name(model, names, j)


def _observed(values, label, what, argument):
    """The observed (not NaN) entries of the 1-D ``values``, or a ValueError naming ``label``.

    NaN entries are the missing values of data a model fitted with
    ``missing='em'`` takes (:func:`_data` refuses them otherwise).
    """
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise ValueError(f"{what}: {argument} has no observed value of {label!r}, only "
                         f"missing ones (NaN); pass data that has some, or {argument}=None.")
    return values


def _min_weight(model, min_weight):
    """The checked weight that a drawn component exceeds.

    ``None``: the model's ``_off_weight``, 0 (a component left without data
    has weight exactly 0), or for a variational mixture the default threshold
    of its ``effective_n_components`` (the prior switches unneeded components
    off to weights near ``1 / n_samples``, not to 0).
    """
    if min_weight is None:
        min_weight = model._off_weight
    return check_scalar(min_weight, "min_weight", numbers.Real, min_val=0.0, max_val=1.0)


def _drawn_components(model, min_weight):
    """Indices of the components a plot draws: those whose weight exceeds ``min_weight``
    (:func:`_min_weight`)."""
    return np.flatnonzero(np.asarray(model.weights_, dtype=np.float64)
                          > _min_weight(model, min_weight))


@one_snapshot
def plot_density_1d(model, X=None, *, feature=None, bins=None, min_weight=None, ax=None):
    """Histogram of the data, each weighted component density, and the mixture density.

    Data of whole numbers get one bar per integer (or per run of integers
    when the range is wider than ``bins``). With a model fitted with
    ``missing='em'``, the histogram counts the feature's observed values. For a Poisson mixture (counts)
    the components are probability mass functions drawn at the integers.

    Parameters
    ----------
    model : fitted mixture
        Gaussian (any covariance type), exponential or Poisson. For data with
        several features the marginal of ``feature`` is drawn.
    X : array-like of shape (n_samples, n_features) or (n_samples,), default=None
        Data drawn as a density histogram, in any form that ``fit`` takes
        (column names label the axis and are checked against the model's, as
        ``predict`` checks them; see the module docstring). One named column
        of a model of several features (``X[['waiting']]`` or the Series
        ``X['waiting']``) draws that feature. Without data, the plot spans
        the components of positive weight (a Gaussian's mean +- 4 standard
        deviations), for :class:`fastem.BayesianGaussianMixture` those of
        weight above 0.01, or above a lower ``min_weight``, where there are any
        (not those its prior switched off).
    feature : int or str, default=None
        Index or name of the feature to draw; the first, or the one named
        column of ``X``, by default.
    bins : int, str or sequence of float, default=None
        Number of histogram bins (at most this many for whole numbers), the
        name of numpy's rule for it ('auto', 'fd', ...), or the bins' edges;
        numpy's 'auto' rule by default.
    min_weight : float in [0, 1], default=None
        Components of at most this weight are not drawn (the mixture's
        density still includes them). None: 0, which leaves out components
        without data; for :class:`fastem.BayesianGaussianMixture` the default
        threshold of ``effective_n_components`` (0.01), which leaves out the
        components its prior switched off.
    ax : matplotlib Axes, default=None

    Returns
    -------
    dict with ``ax``, ``hist`` (the histogram's patches or None), ``components``
    (list of Line2D, one per drawn component) and ``mixture`` (Line2D).

    Raises
    ------
    ValueError
        If ``feature`` is not a feature of the model, or ``X`` has another
        number of features, or column names other than the model's, or
        ``bins`` is below 1, above 100,000 or a rule numpy does not have, or
        ``X`` holds values the family does not model (negative ones for an
        exponential or Poisson mixture, counts that are not whole numbers);
        for a model whose parameters its predictions would refuse (assigned
        ones that disagree with one another, or with its hyper-parameters).
    TypeError
        For a ``feature`` that is neither an int nor a str, a ``bins`` that
        is none of its kinds, or an ``ax`` that is not a matplotlib Axes.
    NotFittedError
        For a model that is not fitted.
    """
    _check_model(model, "plot_density_1d")
    j, values, label = _density_data(model, X, feature)
    if values is not None:
        values = _observed(values, label, "plot_density_1d", "X")
        edges = _histogram_edges(values, bins)
    drawn = _drawn_components(model, min_weight)  # every argument checked before ax is drawn on
    ax = _axes(ax)
    counts = _is_counts(model)
    hist = None
    parameters = _component_parameters(model, j)
    if values is not None:
        _, _, hist = ax.hist(values, bins=edges, density=True, color="0.8", label="data")
        low, high = values.min(), values.max()
    else:
        # the range of the components that add to the mixture: one of weight 0 (left without
        # data, where EM left it, or given), or one a variational prior switched off, would
        # stretch it to its place and squeeze the curves; one drawn (min_weight below the
        # prior's threshold) stays in it
        weights = np.asarray(model.weights_, dtype=np.float64)
        off = min(_min_weight(model, min_weight), model._off_weight)
        held = weights > (off if weights.max() > off else 0.0)
        if "std" in parameters:
            mean, std = parameters["mean"][held], parameters["std"][held]
            low, high = float(np.min(mean - 4 * std)), float(np.max(mean + 4 * std))
        else:
            mean = next(iter(parameters.values()))[held]
            low, high = 0.0, float(np.max(mean + 4 * np.sqrt(mean) if counts else 5 * mean))
    if counts:
        x = _grid(low, high, 600, parameters)
        style = dict(marker="o", ms=3)
    else:
        pad = 0.05 * (high - low or 1.0)
        x = _grid(low - pad, high + pad, 600, parameters)
        style = {}
    densities = _marginal_densities(model, x, j)
    components = [
        ax.plot(x, densities[k], "--", color=_color(k), lw=1.2, label=f"component {k}", **style)[0]
        for k in drawn
    ]
    (mixture,) = ax.plot(x, densities.sum(axis=0), color="k", lw=2, label="mixture")
    ax.set_xlabel(label)
    ax.set_ylabel("probability" if counts else "density")
    ax.legend(fontsize="small")
    return {"ax": ax, "hist": hist, "components": components, "mixture": mixture}


def _ellipse(mean, cov, n_std, color):
    from matplotlib.patches import Ellipse

    eigenvalues, eigenvectors = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(eigenvectors[1, -1], eigenvectors[0, -1]))
    # a float32 covariance of collinear features can round to an eigenvalue a
    # little below 0: a flat ellipse, not a NaN one
    width, height = 2 * n_std * np.sqrt(np.maximum(eigenvalues[::-1], 0.0))
    return Ellipse(mean, width, height, angle=angle, fill=False, edgecolor=color,
                   lw=1.5, alpha=min(1.0, 1.0 / n_std))


def point_style(n_points):
    """Marker size (points^2) and alpha for a scatter of ``n_points``: visible at any N.

    A few hundred points get large, nearly opaque markers; tens of thousands
    get small, faint ones whose overlaps show the density.
    """
    n_points = max(int(n_points), 1)
    size = float(np.clip(6000.0 / n_points, 2.0, 30.0))
    alpha = float(np.clip(np.sqrt(400.0 / n_points), 0.12, 0.85))
    return size, alpha


def _labels(model, X, names):
    """``model.predict`` on the array ``X`` whose columns are ``names`` (checked as predict does)."""
    from ._validation import check_feature_names

    fitted = getattr(model, "feature_names_in_", None)
    if names is not None and fitted is not None:
        check_feature_names(np.asarray(names, dtype=object), fitted, type(model).__name__)
    with kept_warnings() as kept:  # this thread's alone: other threads' are theirs to give
        labels = model.predict(X)
    for message in kept:  # the names were checked just above
        if not str(message).startswith("X does not have valid feature names"):
            warn_at_caller(message)
    return labels


@one_snapshot
def plot_clusters_2d(model, X, *, features=(0, 1), n_std=(1, 2, 3), max_points=20_000,
                     random_state=0, legend=True, min_weight=None, ax=None):
    """Points coloured by their most likely component, component means and, for Gaussians, ellipses.

    With a model fitted with ``missing='em'``, ``X`` may hold missing values
    (NaN): a point is coloured by its most likely component given its
    observed coordinates, and a point missing one of the two drawn features
    is not drawn.

    Parameters
    ----------
    model : fitted mixture with at least two features
        Gaussian (any covariance type: ellipses at ``n_std`` standard
        deviations), exponential or Poisson (component means only).
    X : array-like of shape (n_samples, n_features)
        In any form that ``fit`` takes (column names label the axes; see the
        module docstring). Labels use all features; two of them are drawn.
    features : (int or str, int or str), default=(0, 1)
        Indices or names of the two features drawn.
    n_std : float or sequence of float, default=(1, 2, 3)
        An ellipse per component at each of these (positive) numbers of
        standard deviations.
    max_points : int, default=20000
        At most this many points (a random subsample) are drawn; at least 1.
    random_state : int, numpy.random.Generator or None, default=0
        Seed of the subsample.
    legend : bool, default=True
        Draw the legend (component colours, weights, means) on ``ax``.
    min_weight : float in [0, 1], default=None
        Components of at most this weight get no mean, ellipse or legend
        entry (points are still coloured by ``predict``). None: 0, which
        leaves out components without data; for
        :class:`fastem.BayesianGaussianMixture` the default threshold of
        ``effective_n_components`` (0.01), which leaves out the components
        its prior switched off.
    ax : matplotlib Axes, default=None

    Returns
    -------
    dict with ``ax``, ``scatter`` (PathCollection), ``ellipses`` (list of
    Ellipse, ``len(n_std)`` per drawn component for Gaussians, else empty),
    ``means`` (PathCollection), ``handles`` (the legend's entries) and
    ``legend`` (None when ``legend=False``).

    Raises
    ------
    ValueError
        For a model of one feature (use :func:`plot_density_1d`), features
        out of range or not two, data with another number of features, an
        ``n_std`` not positive, a ``max_points`` below 1 or a ``random_state``
        that is no seed; for a model whose parameters its predictions would
        refuse (assigned ones that disagree with one another, or with its
        hyper-parameters).
    TypeError
        For a feature that is neither an int nor a str, an ``n_std`` or
        ``max_points`` that is not a number, a ``legend`` that is not a bool,
        or an ``ax`` that is not a matplotlib Axes.
    """
    from matplotlib.lines import Line2D

    _check_model(model, "plot_clusters_2d", min_features=2)
    X, names = _data(X, model=model)
    if X.shape[1] != model.n_features_in_:
        raise ValueError(
            f"plot_clusters_2d: X has {X.shape[1]} feature(s) but the model was fitted on "
            f"{model.n_features_in_}; pass the data the model was fitted on."
        )
    i, j = _feature_pair(model, features, names, "plot_clusters_2d")
    n_std = [check_scalar(n, "n_std", numbers.Real, min_val=0, include_min=False)
             for n in np.atleast_1d(n_std).tolist()]
    check_scalar(max_points, "max_points", numbers.Integral, min_val=1)
    if not isinstance(legend, (bool, np.bool_)):  # before anything is drawn on ax
        raise TypeError(f"legend must be True or False, got {legend!r} of type {type(legend).__name__}.")
    try:
        rng = np.random.default_rng(random_state)
    except (TypeError, ValueError):
        raise ValueError(f"random_state must be None, an int >= 0 or a numpy.random.Generator, "
                         f"got {random_state!r}.") from None
    drawn = _drawn_components(model, min_weight)
    ax = _axes(ax)
    if X.shape[0] > max_points:
        rows = rng.choice(X.shape[0], max_points, replace=False)
        X = X[np.sort(rows)]
    labels = _labels(model, X, names)
    drawn_rows = ~np.isnan(X[:, [i, j]]).any(axis=1)  # both coordinates observed
    X, labels = X[drawn_rows], labels[drawn_rows]
    size, alpha = point_style(X.shape[0])
    colors = [_color(k) for k in labels]
    scatter = ax.scatter(X[:, i], X[:, j], c=colors, s=size, alpha=alpha, linewidths=0)
    means = _component_means(model)[:, [i, j]]
    ellipses = []
    if hasattr(model, "covariance_type"):
        covariances = model._float64_covariances(features=[i, j])
        for k in drawn:
            for n in n_std:
                ellipses.append(ax.add_patch(_ellipse(means[k], covariances[k], n, _color(k))))
    marks = ax.scatter(means[drawn, 0], means[drawn, 1], marker="X", s=90, c="k", edgecolors="w",
                       zorder=3, label="means")
    weights = np.asarray(model.weights_, dtype=np.float64)
    handles = [Line2D([], [], ls="", marker="o", color=_color(k),
                      label=f"component {k} ({weights[k]:.0%})")
               for k in drawn]
    handles.append(Line2D([], [], ls="", marker="X", color="k", markeredgecolor="w", ms=9,
                          label="component means"))
    if legend:
        legend = ax.legend(handles=handles, fontsize="small", loc="best", framealpha=0.85)
    ax.set_xlabel(_feature_name(model, names, i))
    ax.set_ylabel(_feature_name(model, names, j))
    return {"ax": ax, "scatter": scatter, "ellipses": ellipses, "means": marks,
            "handles": handles, "legend": legend or None}


@one_snapshot
def plot_lower_bounds(model, *, ax=None):
    """The mean log-likelihood per sample at each accepted EM pass (``lower_bounds_``).

    For a variational mixture (:class:`fastem.BayesianGaussianMixture`), the
    variational (evidence) lower bound per sample, which its ``lower_bounds_`` hold.

    With acceleration, rejected extrapolations are not drawn, so a fit can show
    fewer points than its ``n_iter_`` passes.

    Parameters
    ----------
    model : fitted mixture, or a sequence of floats
    ax : matplotlib Axes, default=None

    Returns
    -------
    dict with ``ax`` and ``line`` (Line2D).

    Raises
    ------
    TypeError
        For a ``model`` that is neither a fastem mixture nor a 1-D sequence of
        floats.
    ValueError
        For nothing to draw: a model fitted with ``max_iter=0``, an empty
        sequence, or a model stepped by ``partial_fit``, whose
        ``lower_bounds_`` hold only its last batch's log-likelihood (pass the
        list of its ``lower_bound_`` after each call instead).
    """
    if hasattr(model, "get_params"):  # a model, not a sequence of values
        _check_model(model, "plot_lower_bounds", parameters=False)
        if getattr(model, "_running_stats", None) is not None:
            raise ValueError(
                "plot_lower_bounds draws the passes of a fit, but the model was stepped by "
                "partial_fit, whose lower_bounds_ hold only the last batch's log-likelihood. "
                "Keep model.lower_bound_ after each partial_fit call in a list and pass the list."
            )
    try:
        values = np.asarray(getattr(model, "lower_bounds_", model), dtype=np.float64)
    except (TypeError, ValueError):
        values = None
    if values is None or values.ndim != 1:
        raise TypeError(f"plot_lower_bounds takes a fitted fastem mixture or a 1-D sequence of "
                        f"floats, got {type(model).__name__}.")
    if not len(values):
        raise ValueError("plot_lower_bounds has no pass to draw: " + (
            "the model was fitted with max_iter=0, which keeps the start; fit it with "
            "max_iter of at least 1." if hasattr(model, "get_params") else
            "the sequence is empty; pass at least one value."))
    ax = _axes(ax)
    (line,) = ax.plot(np.arange(1, len(values) + 1), values, "o-", ms=3)
    ax.set_xlabel("accepted pass")
    variational = hasattr(model, "weight_concentration_prior_type")
    ax.set_ylabel("variational lower bound per sample" if variational else "log-likelihood per sample")
    return {"ax": ax, "line": line}


def _selection_values(result):
    """{(covariance_type, n_components): value} from a dict or a selection result."""
    table = getattr(result, "table", result)
    values = table.as_dict() if hasattr(table, "as_dict") else table
    try:
        values = {(str(c), int(k)): float(v) for (c, k), v in dict(values).items()}
    except (TypeError, ValueError):
        raise TypeError(
            "plot_selection needs a dict {(covariance_type, n_components): value} or the "
            "result of fastem.select_n_components."
        ) from None
    if not any(np.isfinite(v) for v in values.values()):
        raise ValueError("plot_selection got no finite value to draw; pass a dict "
                         "{(covariance_type, n_components): value} with at least one.")
    return values


def plot_selection(result, *, label=None, ax=None):
    """The selection criterion against the number of components, one line per covariance type.

    Parameters
    ----------
    result : dict {(covariance_type, n_components): value} or the result of
        :func:`fastem.select_n_components`
    label : str, default=None
        The y-axis label; the result's ``criterion`` (upper-cased) by default.
    ax : matplotlib Axes, default=None

    Returns
    -------
    dict with ``ax``, ``lines`` ({covariance_type: Line2D}) and ``best``
    (the marker on the lowest finite value; NaN marks a failed fit).

    Raises
    ------
    TypeError
        For a ``result`` of another kind.
    ValueError
        For a ``result`` without a finite value.
    """
    values = _selection_values(result)
    ax = _axes(ax)
    lines = {}
    for covariance_type in dict.fromkeys(c for c, _ in values):
        ks = sorted(k for c, k in values if c == covariance_type)
        lines[covariance_type] = ax.plot(
            ks, [values[covariance_type, k] for k in ks], "o-", ms=4, label=covariance_type
        )[0]
    # A selection result knows which fits were flagged as collapsed; a dict does not.
    # NaN (a failed fit) is no candidate: min() could stop on it, as it compares False.
    best_type, best_k = getattr(result, "best_params_", None) or min(
        (key for key, value in values.items() if np.isfinite(value)), key=values.get)
    (best,) = ax.plot([best_k], [values[best_type, best_k]], "*", ms=16, color="gold",
                      markeredgecolor="k", label=f"best: {best_type}, K={best_k}")
    ax.set_xlabel("number of components")
    ax.set_ylabel(label or str(getattr(result, "criterion", "criterion")).upper())
    ax.legend(fontsize="small")
    return {"ax": ax, "lines": lines, "best": best}


@one_snapshot
def plot_pairs(model, X, *, pairs=None, axes=None, **kwargs):
    """:func:`plot_clusters_2d` for several feature pairs of D > 2 data.

    Parameters
    ----------
    model : fitted mixture
        Gaussian, exponential or Poisson.
    X : array-like of shape (n_samples, n_features)
        In any form that ``fit`` takes (see the module docstring).
    pairs : sequence of (int or str, int or str), default=None
        The feature pairs, by index or name; all pairs of the first four
        features by default (with more features, the figure's title says so).
    axes : sequence of matplotlib Axes, default=None
        One per pair; a new figure with a grid of panels by default.
    **kwargs
        Passed to :func:`plot_clusters_2d`.

    Returns
    -------
    dict with ``figure``, ``axes``, ``panels`` (one plot_clusters_2d dict per
    pair) and ``legend`` (one for the figure, beside the panels).

    Raises
    ------
    ValueError
        For no pairs, a pair that is not two features of the model, fewer
        ``axes`` than pairs, and as :func:`plot_clusters_2d`.
    """
    from ._tables import Table

    _check_model(model, "plot_pairs", min_features=2)
    values, names = _data(X, model=model)  # read once for every panel, names kept
    X = Table(values, names, [])
    n_features = model.n_features_in_
    shown_all = pairs is not None or n_features <= 4
    if pairs is None:
        pairs = list(itertools.combinations(range(min(n_features, 4)), 2))
    pairs = as_list(pairs, "pairs", "[(0, 1), (0, 2)]", ordered=False)
    if not pairs:
        raise ValueError("plot_pairs got no pairs of features; pass pairs=[(i, j), ...], or "
                         "leave it out for all pairs of the first four features.")
    for pair in pairs:  # checked before any panel is drawn
        _feature_pair(model, pair, names, "plot_pairs")
    made = axes is None
    if made:
        n_cols = min(3, len(pairs))
        n_rows = -(-len(pairs) // n_cols)
        figure, grid = _pyplot().subplots(n_rows, n_cols, figsize=(4 * n_cols + 1.5, 3.6 * n_rows),
                                          layout="constrained",
                                          squeeze=False)
        axes = list(grid.ravel())
        for extra in axes[len(pairs):]:
            extra.set_visible(False)
    else:
        axes = [_axes(a, "each entry of axes") for a in np.ravel(np.asarray(axes, dtype=object))]
        figure = axes[0].figure
    if len(axes) < len(pairs):
        raise ValueError(f"plot_pairs got {len(axes)} axes for {len(pairs)} pairs; pass one per pair.")
    try:  # the first panel refuses the arguments of every panel, before it draws
        panels = [plot_clusters_2d(model, X, features=p, ax=a, legend=False, **kwargs)
                  for p, a in zip(pairs, axes)]
    except Exception:
        if made:  # not left open, empty, beside the caller's figures
            _pyplot().close(figure)
        raise
    legend = figure.legend(handles=panels[0]["handles"], fontsize="small", loc="outside right upper")
    if not shown_all:  # say that features were left out, and how to see them
        figure.suptitle(f"pairs of the first 4 of {n_features} features; pass pairs=[(i, j), ...] "
                        "for others", fontsize="medium")
    return {"figure": figure, "axes": axes[: len(pairs)], "panels": panels, "legend": legend}


# ----------------------------------------------------------------------
# the explorer


class Explorer:
    """A figure with sliders for the weights and parameters of a 1-D mixture.

    Made by :func:`explore`. Moving a slider redraws the mixture density and
    the weighted component densities; the weights are normalised to sum to 1
    when drawn. Each slider spans its range in ``ranges``, widened to hold
    its initial value, so that the figure starts at the mixture given. Drive
    it from code with :meth:`set` (or the sliders' ``set_val``), then
    :meth:`reset`.

    Attributes
    ----------
    figure : matplotlib Figure
    ax : matplotlib Axes
        The density plot.
    sliders : dict {(name, k): Slider}
        ``name`` is 'weight', 'mean', 'std' (Gaussian), 'weight', 'scale'
        (exponential) or 'weight', 'rate' (Poisson); ``k`` the component.
    reset_button : matplotlib Button
    x : ndarray of shape (n_points,)
        The points the densities are drawn at: evenly spaced, with more over
        each starting component's span (a narrow one still shows its peak),
        or the integers for a Poisson mixture (some of them, over a range of
        more than 10,000).
    mixture : Line2D
    components : list of Line2D
    """

    def __init__(self, family, weights, parameters, ranges, data=None, bins=None, xlabel="x"):
        from matplotlib.widgets import Button, Slider

        plt = _pyplot()
        edges = None if data is None else _histogram_edges(data, bins)  # refused before a figure
        self.family = family
        names = ["weight", *parameters]
        n_components = len(weights)
        n_rows = len(names) * n_components
        self.figure = plt.figure(figsize=(8, 4.5 + 0.28 * n_rows))
        bottom = (0.6 + 0.28 * n_rows) / (4.5 + 0.28 * n_rows)
        self.ax = self.figure.add_axes([0.1, bottom + 0.09, 0.85, 0.93 - bottom - 0.09])
        low, high = ranges["x"]
        counts = family == "poisson"
        initial = {"weight": np.asarray(weights, dtype=np.float64)}
        initial.update({n: np.asarray(v, dtype=np.float64) for n, v in parameters.items()})
        self.x = _grid(low, high, 800, {n: initial[n] for n in parameters})
        self._data_top = 0.0
        if data is not None:
            heights, _, _ = self.ax.hist(data, bins=edges, density=True, color="0.85",
                                         label="data")
            self._data_top = float(heights.max())
        style = dict(marker="o", ms=3) if counts else {}
        self.components = [
            self.ax.plot(self.x, np.zeros_like(self.x), "--", color=_color(k), lw=1.2,
                         label=f"component {k}", **style)[0]
            for k in range(n_components)
        ]
        (self.mixture,) = self.ax.plot(self.x, np.zeros_like(self.x), "k", lw=2, label="mixture")
        self.ax.legend(fontsize="small", loc="upper right")
        self.ax.set_title(f"{family} mixture explorer")
        self.ax.set_xlabel(xlabel)
        self.ax.set_ylabel("probability" if counts else "density")

        self.sliders = {}
        height = 0.28 / (4.5 + 0.28 * n_rows)
        row = 0
        for k in range(n_components):
            for name in names:
                axis = self.figure.add_axes([0.25, bottom - (row + 1) * height * 1.0 - 0.02,
                                             0.5, height * 0.7])
                # widened to hold the start: a Slider clamps its initial value into
                # its range, and would start from another mixture than the one given
                lo = min(ranges[name][0], float(initial[name].min()))
                hi = max(ranges[name][1], float(initial[name].max()))
                slider = Slider(axis, f"{name} {k}", lo, hi, valinit=float(initial[name][k]),
                                color=_color(k))
                slider.on_changed(self._redraw)
                self.sliders[name, k] = slider
                row += 1
        button_axis = self.figure.add_axes([0.82, 0.02, 0.12, 0.05])
        self.reset_button = Button(button_axis, "Reset")
        self.reset_button.on_clicked(lambda event: self.reset())
        self._redraw()

    def values(self):
        """The current slider values as ``{name: ndarray of shape (n_components,)}``."""
        names = dict.fromkeys(name for name, _ in self.sliders)
        n_components = len(self.components)
        return {n: np.array([self.sliders[n, k].val for k in range(n_components)]) for n in names}

    def densities(self, x=None):
        """Weighted component densities at ``x`` (default: the plotted grid), shape (K, len(x)).

        For a Poisson mixture, probabilities at the integers ``x``.
        """
        x = self.x if x is None else np.asarray(x, dtype=np.float64)
        v = self.values()
        weights = v["weight"] / v["weight"].sum() if v["weight"].sum() > 0 else v["weight"]
        if self.family == "gaussian":
            z = (x - v["mean"][:, None]) / v["std"][:, None]
            return weights[:, None] * np.exp(-0.5 * z**2) / (v["std"][:, None] * _SQRT_2PI)
        if self.family == "poisson":
            return weights[:, None] * _poisson_pmf(x, v["rate"][:, None])
        return weights[:, None] * _exponential_density(x, v["scale"][:, None])

    def set(self, name, k, value):
        """Set slider ``(name, k)`` to ``value`` (redraws, as moving it by hand does).

        ``value`` may lie beyond the slider's range, within the parameter's
        domain: a weight at least 0, a std, scale or rate above 0, a mean
        any finite number.

        Raises
        ------
        ValueError
            For a ``(name, k)`` that is not a slider, or a ``value`` outside
            the domain of ``name`` (NaN and infinities too).
        TypeError
            For a ``value`` that is not a number.
        """
        if (name, k) not in self.sliders:
            names = list(dict.fromkeys(n for n, _ in self.sliders))
            raise ValueError(f"Explorer.set: no slider ({name!r}, {k!r}); the sliders are "
                             f"{names} of components 0 to {len(self.components) - 1}.")
        if name == "mean":
            value = check_scalar(value, name, numbers.Real)
        else:  # a negative weight or spread would draw a negative density
            value = check_scalar(value, name, numbers.Real, min_val=0.0, include_min=name == "weight")
        self.sliders[name, k].set_val(value)

    def reset(self):
        """Put every slider back to its initial value."""
        for slider in self.sliders.values():
            slider.reset()

    def _redraw(self, _value=None):
        densities = self.densities()
        for line, density in zip(self.components, densities):
            line.set_ydata(density)
        self.mixture.set_ydata(densities.sum(axis=0))
        top = max(float(densities.sum(axis=0).max()), self._data_top)
        self.ax.set_ylim(0, 1.1 * top or 1.0)  # every weight at 0: nothing drawn above 0
        self.figure.canvas.draw_idle()


_FAMILIES = ("gaussian", "exponential", "poisson")


def _family_of(model):
    if hasattr(model, "covariance_type"):
        return "gaussian"
    if hasattr(model, "scales_"):
        return "exponential"
    if hasattr(model, "rates_"):
        return "poisson"
    raise TypeError(
        f"explore does not know how to draw a {type(model).__name__}; it explores Gaussian, "
        "exponential and Poisson mixtures."
    )


#: The most components explore draws sliders for: its figure grows by a row of
#: 0.28 inches per slider, two or three per component (20 Gaussian ones: 21 inches).
_MAX_EXPLORED_COMPONENTS = 20


@one_snapshot
def explore(model=None, data=None, *, family="gaussian", n_components=2, bins=None):
    """Interactive figure to explore a 1-D Gaussian, exponential or Poisson mixture with sliders.

    Parameters
    ----------
    model : fitted mixture with one feature, default=None
        Start from its parameters (the family follows the model). Without a
        model the components start spread over the data (or over [-5, 5]
        for Gaussians, [0, 10] for exponentials and [0, 20] for Poissons
        without data).
    data : array-like of shape (n_samples, 1) or (n_samples,), default=None
        Overlaid as a density histogram (one bar per integer for Poisson);
        sets the plotted range. A DataFrame's column name labels the axis.
        With a model fitted with ``missing='em'``, NaN entries are missing
        values and the histogram counts the observed ones.
    family : {'gaussian', 'exponential', 'poisson'}, default='gaussian'
        Used when no model is given.
    n_components : int, default=2
        Used when no model is given; at least 1.
    bins : int, str or sequence of float, default=None
        Histogram bins, as in :func:`plot_density_1d`.

    Returns
    -------
    Explorer
        Exposes ``sliders``, ``set``, ``reset`` and the figure.

    Raises
    ------
    ValueError
        For a model or data of more than one feature, data whose column name is
        not the model's, data without an observed value, negative data of an
        exponential or Poisson mixture, counts of a Poisson one that are not whole
        numbers, an unknown family, an ``n_components``
        below 1 or above 20 (a figure of sliders taller than a screen), a
        ``bins`` below 1, above 100,000 or a rule numpy does not have, or a
        model whose parameters its predictions would refuse (as
        :func:`plot_density_1d`).
    TypeError
        For an ``n_components`` that is not an integer, or a ``bins`` that is
        none of its kinds.
    """
    if model is not None:
        _check_model(model, "explore")
        family = _family_of(model)
        if model.n_features_in_ != 1:
            raise ValueError(
                f"explore shows 1-D mixtures, but the model has {model.n_features_in_} "
                "features; fit a model on a single column."
            )
    check_choice(family, "family", _FAMILIES)
    if model is None:
        n_components = check_scalar(n_components, "n_components", numbers.Integral, min_val=1)
        if n_components > _MAX_EXPLORED_COMPONENTS:
            raise ValueError(
                f"explore draws sliders for at most {_MAX_EXPLORED_COMPONENTS} components, got "
                f"n_components={n_components:,}: a figure of more would be taller than a "
                "screen. Explore fewer, or draw a fitted mixture with plot_density_1d."
            )
    names = None
    values = None
    if data is not None:
        values, names = _data(data, model=model)
        if values.shape[1] != 1:
            raise ValueError(
                f"explore shows 1-D mixtures, but data has {values.shape[1]} columns; pass "
                "a single column."
            )
        values = _observed(values[:, 0], names[0] if names else "x", "explore", "data")
        if family != "gaussian" and values.min() < 0:
            raise ValueError(
                f"explore: the data of {family} mixtures are non-negative, but data has "
                f"minimum {values.min():g}; pass the data of the {family} mixture, or "
                "family='gaussian'."
            )
        fractions = values[values != np.round(values)]
        if family == "poisson" and fractions.size:
            raise ValueError(
                f"explore: the data of poisson mixtures are counts (whole numbers), but data "
                f"holds {fractions.size:,} value(s) that are not, e.g. {fractions[0]:g}; pass "
                "counts (np.rint(data) if they are counts stored with noise), or another family."
            )
    if model is not None:
        fitted = getattr(model, "feature_names_in_", None)
        if names is not None and fitted is not None:  # another column than the model's: refused
            from ._validation import check_feature_names

            check_feature_names(np.asarray(names, dtype=object), fitted, type(model).__name__)
        n_components = model._n_components
        xlabel = _feature_name(model, names, 0)
    else:
        xlabel = names[0] if names is not None else "x"
    if family == "gaussian":
        low, high = (-5.0, 5.0) if values is None else (float(values.min()), float(values.max()))
        if high == low:  # data of one value: a range around it
            low, high = low - 0.5 * max(1.0, abs(low)), high + 0.5 * max(1.0, abs(high))
        spread = high - low
        if model is not None:
            means, stds = _component_parameters(model, 0).values()
            low, high = min(low, float((means - 3 * stds).min())), max(high, float((means + 3 * stds).max()))
            spread = high - low
        else:
            means = np.linspace(low, high, n_components + 2)[1:-1]
            stds = np.full(n_components, spread / (4 * n_components))
        parameters = {"mean": means, "std": stds}
        ranges = {"x": (low - 0.05 * spread, high + 0.05 * spread), "mean": (low, high),
                  "std": (spread / 200, spread / 2)}
    else:
        name = "scale" if family == "exponential" else "rate"
        default_high = 10.0 if family == "exponential" else 20.0
        # a long tail would squeeze the plot: show up to the 99.5th percentile
        high = default_high if values is None else float(np.quantile(values, 0.995)) or default_high
        if model is not None:
            means = _component_means(model)[:, 0]
            reach = 5 * means if family == "exponential" else means + 4 * np.sqrt(means) + 1
            high = max(high, float(reach.max()))
        else:
            means = high / 5 * np.arange(1, n_components + 1) / n_components
            if family == "poisson":
                means = np.linspace(0, high, n_components + 2)[1:-1]
        parameters = {name: means}
        ranges = {"x": (0.0, high), name: (high / 500, high)}
    weights = (np.asarray(model.weights_, dtype=np.float64) if model is not None
               else np.full(n_components, 1.0 / n_components))
    ranges["weight"] = (0.0, 1.0)
    return Explorer(family, weights, parameters, ranges, data=values, bins=bins, xlabel=xlabel)
