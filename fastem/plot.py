"""Plots of fitted mixtures, and an interactive explorer of 1-D mixtures.

Needs matplotlib (``pip install 'fastem[plot]'``), imported only when a
function here is called: ``import fastem`` never imports matplotlib. Every
function takes an optional ``ax`` (or ``axes``) to draw into and returns a
dict of the matplotlib objects it made.
"""

import itertools

import numpy as np

__all__ = [
    "plot_density_1d",
    "plot_clusters_2d",
    "plot_lower_bounds",
    "plot_selection",
    "plot_pairs",
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


def _axes(ax):
    if ax is None:
        _, ax = _pyplot().subplots()
    return ax


def _color(k):
    return _pyplot().get_cmap("tab10")(k % 10)


def _full_covariances(model):
    """Each component's covariance as a (K, D, D) array, for any covariance type."""
    covariance_type = model.covariance_type
    cov = np.asarray(model.covariances_, dtype=np.float64)
    K, D = model.means_.shape
    if covariance_type == "full":
        return cov
    if covariance_type == "tied":
        return np.broadcast_to(cov, (K, D, D))
    if covariance_type == "diag":
        return np.stack([np.diag(c) for c in cov])
    return cov[:, None, None] * np.eye(D)


def _marginal_densities(model, x, feature):
    """Weighted density of each component at ``x`` for one feature, shape (K, len(x))."""
    weights = np.asarray(model.weights_, dtype=np.float64)[:, None]
    if hasattr(model, "covariance_type"):
        mean = np.asarray(model.means_, dtype=np.float64)[:, feature, None]
        std = np.sqrt(_full_covariances(model)[:, feature, feature])[:, None]
        return weights * np.exp(-0.5 * ((x - mean) / std) ** 2) / (std * _SQRT_2PI)
    if hasattr(model, "scales_"):
        scale = np.asarray(model.scales_, dtype=np.float64).reshape(len(weights), -1)
        return weights * _exponential_density(x, scale[:, feature, None])
    if hasattr(model, "rates_"):
        from scipy.stats import poisson

        rate = np.asarray(model.rates_, dtype=np.float64).reshape(len(weights), -1)
        return weights * poisson.pmf(np.round(x), rate[:, feature, None])
    raise TypeError(
        f"plot_density_1d does not know how to draw a {type(model).__name__}; it draws "
        "Gaussian (means_, covariances_), exponential (scales_) and Poisson (rates_) mixtures."
    )


def _exponential_density(x, scale):
    return np.where(x >= 0, np.exp(-np.clip(x, 0, None) / scale) / scale, 0.0)


def _column(X, feature):
    return np.asarray(X[:, feature] if np.ndim(X) == 2 else X, dtype=np.float64)


def plot_density_1d(model, X=None, *, feature=0, bins=60, ax=None):
    """Histogram of the data, each weighted component density, and the mixture density.

    Parameters
    ----------
    model : fitted mixture
        Gaussian (any covariance type), exponential or Poisson. For data with
        several features the marginal of ``feature`` is drawn.
    X : array-like of shape (n_samples, n_features) or (n_samples,), default=None
        Data drawn as a density histogram.
    feature : int, default=0
    bins : int, default=60
    ax : matplotlib Axes, default=None

    Returns
    -------
    dict with ``ax``, ``hist`` (the histogram's patches or None), ``components``
    (list of Line2D, one per component) and ``mixture`` (Line2D).
    """
    ax = _axes(ax)
    hist = None
    if X is not None:
        values = _column(X, feature)
        _, _, hist = ax.hist(values, bins=bins, density=True, color="0.8", label="data")
        low, high = values.min(), values.max()
    else:
        mean = np.asarray(getattr(model, "means_", getattr(model, "scales_", None)))
        low, high = (0.0, 1.0) if mean is None else (0.0, 4 * float(np.max(mean)))
        if hasattr(model, "covariance_type"):
            std = np.sqrt(_full_covariances(model)[:, feature, feature])
            low = float(np.min(model.means_[:, feature] - 4 * std))
            high = float(np.max(model.means_[:, feature] + 4 * std))
    pad = 0.05 * (high - low or 1.0)
    x = np.linspace(low - pad, high + pad, 600)
    densities = _marginal_densities(model, x, feature)
    components = [
        ax.plot(x, d, "--", color=_color(k), lw=1.2, label=f"component {k}")[0]
        for k, d in enumerate(densities)
    ]
    (mixture,) = ax.plot(x, densities.sum(axis=0), color="k", lw=2, label="mixture")
    ax.set_xlabel(f"feature {feature}")
    ax.set_ylabel("density")
    ax.legend(fontsize="small")
    return {"ax": ax, "hist": hist, "components": components, "mixture": mixture}


def _ellipse(mean, cov, n_std, color):
    from matplotlib.patches import Ellipse

    eigenvalues, eigenvectors = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(eigenvectors[1, -1], eigenvectors[0, -1]))
    width, height = 2 * n_std * np.sqrt(eigenvalues[::-1])
    return Ellipse(mean, width, height, angle=angle, fill=False, edgecolor=color,
                   lw=1.5, alpha=1.0 / n_std)


def plot_clusters_2d(model, X, *, features=(0, 1), n_std=(1, 2, 3), max_points=20_000,
                     random_state=0, ax=None):
    """Points coloured by their most likely component, covariance ellipses and means.

    Parameters
    ----------
    model : fitted GaussianMixture (any covariance type)
    X : array-like of shape (n_samples, n_features)
        Labels use all features; two of them are drawn.
    features : (int, int), default=(0, 1)
    n_std : sequence of float, default=(1, 2, 3)
        An ellipse per component at each of these numbers of standard deviations.
    max_points : int, default=20000
        At most this many points (a random subsample) are drawn.
    random_state : int, default=0
        Seed of the subsample.
    ax : matplotlib Axes, default=None

    Returns
    -------
    dict with ``ax``, ``scatter`` (PathCollection), ``ellipses`` (list of
    Ellipse, ``len(n_std)`` per component) and ``means`` (PathCollection).
    """
    ax = _axes(ax)
    X = np.asarray(X)
    if X.shape[0] > max_points:
        rows = np.random.default_rng(random_state).choice(X.shape[0], max_points, replace=False)
        X = X[np.sort(rows)]
    labels = model.predict(X)
    i, j = features
    colors = [_color(k) for k in labels]
    scatter = ax.scatter(X[:, i], X[:, j], c=colors, s=3, alpha=0.4, linewidths=0)
    block = np.ix_([i, j], [i, j])
    covariances = _full_covariances(model)
    means = np.asarray(model.means_, dtype=np.float64)[:, [i, j]]
    ellipses = []
    for k in range(model.n_components):
        for n in n_std:
            ellipses.append(ax.add_patch(_ellipse(means[k], covariances[k][block], n, _color(k))))
    marks = ax.scatter(means[:, 0], means[:, 1], marker="X", s=90, c="k", edgecolors="w",
                       zorder=3, label="means")
    ax.set_xlabel(f"feature {i}")
    ax.set_ylabel(f"feature {j}")
    return {"ax": ax, "scatter": scatter, "ellipses": ellipses, "means": marks}


def plot_lower_bounds(model, *, ax=None):
    """The mean log-likelihood per sample at each EM iteration (``lower_bounds_``).

    Parameters
    ----------
    model : fitted mixture, or a sequence of floats
    ax : matplotlib Axes, default=None

    Returns
    -------
    dict with ``ax`` and ``line`` (Line2D).
    """
    ax = _axes(ax)
    values = np.asarray(getattr(model, "lower_bounds_", model), dtype=np.float64)
    (line,) = ax.plot(np.arange(1, len(values) + 1), values, "o-", ms=3)
    ax.set_xlabel("iteration")
    ax.set_ylabel("log-likelihood per sample")
    return {"ax": ax, "line": line}


def _selection_values(result):
    """{(covariance_type, n_components): value} from a dict or a selection result."""
    table = getattr(result, "table", result)
    values = table.as_dict() if hasattr(table, "as_dict") else table
    try:
        return {(str(c), int(k)): float(v) for (c, k), v in dict(values).items()}
    except (TypeError, ValueError):
        raise TypeError(
            "plot_selection needs a dict {(covariance_type, n_components): value} or the "
            "result of fastem.select_n_components."
        ) from None


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
    (the marker on the lowest value).
    """
    ax = _axes(ax)
    values = _selection_values(result)
    lines = {}
    for covariance_type in dict.fromkeys(c for c, _ in values):
        ks = sorted(k for c, k in values if c == covariance_type)
        lines[covariance_type] = ax.plot(
            ks, [values[covariance_type, k] for k in ks], "o-", ms=4, label=covariance_type
        )[0]
    # A selection result knows which fits were flagged as collapsed; a dict does not.
    best_type, best_k = getattr(result, "best_params_", None) or min(values, key=values.get)
    (best,) = ax.plot([best_k], [values[best_type, best_k]], "*", ms=16, color="gold",
                      markeredgecolor="k", label=f"best: {best_type}, K={best_k}")
    ax.set_xlabel("number of components")
    ax.set_ylabel(label or str(getattr(result, "criterion", "criterion")).upper())
    ax.legend(fontsize="small")
    return {"ax": ax, "lines": lines, "best": best}


def plot_pairs(model, X, *, pairs=None, axes=None, **kwargs):
    """:func:`plot_clusters_2d` for several feature pairs of D > 2 data.

    Parameters
    ----------
    model : fitted GaussianMixture
    X : array-like of shape (n_samples, n_features)
    pairs : sequence of (int, int), default=None
        The feature pairs; all pairs of the first four features by default.
    axes : sequence of matplotlib Axes, default=None
        One per pair; a new figure with a grid of panels by default.
    **kwargs
        Passed to :func:`plot_clusters_2d`.

    Returns
    -------
    dict with ``figure``, ``axes`` and ``panels`` (one plot_clusters_2d dict per pair).
    """
    n_features = np.shape(X)[1]
    if pairs is None:
        pairs = list(itertools.combinations(range(min(n_features, 4)), 2))
    if axes is None:
        n_cols = min(3, len(pairs))
        n_rows = -(-len(pairs) // n_cols)
        figure, grid = _pyplot().subplots(n_rows, n_cols, figsize=(4 * n_cols, 3.6 * n_rows),
                                          squeeze=False)
        axes = list(grid.ravel())
        for extra in axes[len(pairs):]:
            extra.set_visible(False)
    else:
        axes = list(np.ravel(axes))
        figure = axes[0].figure
    if len(axes) < len(pairs):
        raise ValueError(f"plot_pairs got {len(axes)} axes for {len(pairs)} pairs; pass one per pair.")
    panels = [plot_clusters_2d(model, X, features=p, ax=a, **kwargs) for p, a in zip(pairs, axes)]
    return {"figure": figure, "axes": axes[: len(pairs)], "panels": panels}


# ----------------------------------------------------------------------
# the explorer


class Explorer:
    """A figure with sliders for the weights and parameters of a 1-D mixture.

    Made by :func:`explore`. Moving a slider redraws the mixture density and
    the weighted component densities; the weights are normalised to sum to 1
    when drawn. Drive it from code with :meth:`set` (or the sliders'
    ``set_val``), then :meth:`reset`.

    Attributes
    ----------
    figure : matplotlib Figure
    ax : matplotlib Axes
        The density plot.
    sliders : dict {(name, k): Slider}
        ``name`` is 'weight', 'mean', 'std' (Gaussian) or 'weight', 'scale'
        (exponential); ``k`` the component.
    reset_button : matplotlib Button
    mixture : Line2D
    components : list of Line2D
    """

    def __init__(self, family, weights, parameters, ranges, data=None, bins=60):
        from matplotlib.widgets import Button, Slider

        plt = _pyplot()
        self.family = family
        names = ["weight", *parameters]
        n_components = len(weights)
        n_rows = len(names) * n_components
        self.figure = plt.figure(figsize=(8, 4.5 + 0.28 * n_rows))
        bottom = (0.6 + 0.28 * n_rows) / (4.5 + 0.28 * n_rows)
        self.ax = self.figure.add_axes([0.1, bottom + 0.05, 0.85, 0.93 - bottom - 0.05])
        low, high = ranges["x"]
        self.x = np.linspace(low, high, 800)
        self._data_top = 0.0
        if data is not None:
            heights, _, _ = self.ax.hist(_column(data, 0), bins=bins, density=True, color="0.85",
                                         label="data")
            self._data_top = float(heights.max())
        self.components = [
            self.ax.plot(self.x, np.zeros_like(self.x), "--", color=_color(k), lw=1.2,
                         label=f"component {k}")[0]
            for k in range(n_components)
        ]
        (self.mixture,) = self.ax.plot(self.x, np.zeros_like(self.x), "k", lw=2, label="mixture")
        self.ax.legend(fontsize="small", loc="upper right")
        self.ax.set_title(f"{family} mixture explorer")

        initial = {"weight": np.asarray(weights, dtype=np.float64)}
        initial.update({n: np.asarray(v, dtype=np.float64) for n, v in parameters.items()})
        self.sliders = {}
        height = 0.28 / (4.5 + 0.28 * n_rows)
        row = 0
        for k in range(n_components):
            for name in names:
                axis = self.figure.add_axes([0.25, bottom - (row + 1) * height * 1.0 - 0.02,
                                             0.5, height * 0.7])
                lo, hi = ranges[name]
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
        """Weighted component densities at ``x`` (default: the plotted grid), shape (K, len(x))."""
        x = self.x if x is None else np.asarray(x, dtype=np.float64)
        v = self.values()
        weights = v["weight"] / v["weight"].sum() if v["weight"].sum() > 0 else v["weight"]
        if self.family == "gaussian":
            z = (x - v["mean"][:, None]) / v["std"][:, None]
            return weights[:, None] * np.exp(-0.5 * z**2) / (v["std"][:, None] * _SQRT_2PI)
        return weights[:, None] * _exponential_density(x, v["scale"][:, None])

    def set(self, name, k, value):
        """Set slider ``(name, k)`` to ``value`` (redraws, as moving it by hand does)."""
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
        self.ax.set_ylim(0, 1.1 * top)
        self.figure.canvas.draw_idle()


def explore(model=None, data=None, *, family="gaussian", n_components=2, bins=60):
    """Interactive figure to explore a 1-D Gaussian or exponential mixture with sliders.

    Parameters
    ----------
    model : fitted GaussianMixture or exponential mixture with one feature, default=None
        Start from its parameters (the family follows the model). Without a
        model the components start spread over the data (or over [-5, 5]
        for Gaussians and [0, 10] for exponentials without data).
    data : array-like of shape (n_samples, 1) or (n_samples,), default=None
        Overlaid as a density histogram; sets the plotted range.
    family : {'gaussian', 'exponential'}, default='gaussian'
    n_components : int, default=2
        Used when no model is given.
    bins : int, default=60

    Returns
    -------
    Explorer
        Exposes ``sliders``, ``set``, ``reset`` and the figure.
    """
    if model is not None:
        family = "gaussian" if hasattr(model, "covariance_type") else "exponential"
        if model.n_features_in_ != 1:
            raise ValueError(
                f"explore shows 1-D mixtures, but the model has {model.n_features_in_} "
                "features; fit a model on a single column."
            )
        n_components = model.n_components
    if family not in ("gaussian", "exponential"):
        raise ValueError(f"family must be 'gaussian' or 'exponential', got {family!r}.")
    values = None if data is None else _column(data, 0)
    if family == "gaussian":
        low, high = (-5.0, 5.0) if values is None else (float(values.min()), float(values.max()))
        spread = high - low
        if model is not None:
            means = np.asarray(model.means_, dtype=np.float64)[:, 0]
            stds = np.sqrt(_full_covariances(model)[:, 0, 0])
            low, high = min(low, float((means - 3 * stds).min())), max(high, float((means + 3 * stds).max()))
            spread = high - low
        else:
            means = np.linspace(low, high, n_components + 2)[1:-1]
            stds = np.full(n_components, spread / (4 * n_components))
        parameters = {"mean": means, "std": stds}
        ranges = {"x": (low - 0.05 * spread, high + 0.05 * spread), "mean": (low, high),
                  "std": (spread / 200, spread / 2)}
    else:
        # a long tail would squeeze the plot: show up to the 99.5th percentile
        high = 10.0 if values is None else float(np.quantile(values, 0.995))
        if model is not None:
            scales = np.asarray(model.scales_, dtype=np.float64).ravel()
            high = max(high, 5 * float(scales.max()))
        else:
            scales = high / 5 * np.arange(1, n_components + 1) / n_components
        parameters = {"scale": scales}
        ranges = {"x": (0.0, high), "scale": (high / 500, high)}
    weights = (np.asarray(model.weights_, dtype=np.float64) if model is not None
               else np.full(n_components, 1.0 / n_components))
    ranges["weight"] = (0.0, 1.0)
    return Explorer(family, weights, parameters, ranges, data=data, bins=bins)
