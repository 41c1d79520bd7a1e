"""Render every plot of fastem.plot, and the explorer, to PNG files in docs/gallery/.

Run from the repository root::

    PYTHONPATH=$PWD python scripts/make_gallery.py

The explorer is driven from code (sliders set, then saved) on the Agg backend.
"""

import os
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import fastem  # noqa: E402
from fastem import plot  # noqa: E402
from fastem.datasets import make_demo_data  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "gallery")


def save(figure, name):
    path = os.path.join(OUT, name)
    figure.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(figure)
    print(f"wrote {os.path.relpath(path)}")


def main():
    os.makedirs(OUT, exist_ok=True)
    X, _ = make_demo_data(50_000, random_state=0)
    model = fastem.GaussianMixture(4, random_state=0).fit(X)

    x1 = X[:, :1]
    model_1d = fastem.GaussianMixture(3, random_state=0).fit(x1)
    figure, ax = plt.subplots(figsize=(7, 4))
    plot.plot_density_1d(model_1d, x1, ax=ax)
    ax.set_title("plot_density_1d: first feature of the demo data, K=3")
    save(figure, "density_1d.png")

    figure, ax = plt.subplots(figsize=(6, 5.5))
    plot.plot_clusters_2d(model, X, ax=ax)
    ax.set_title("plot_clusters_2d: demo data, full covariances, 1-2-3 std")
    save(figure, "clusters_2d.png")

    figure, axes = plt.subplots(2, 2, figsize=(10, 9))
    for ax, covariance_type in zip(axes.ravel(), ("full", "tied", "diag", "spherical")):
        fitted = fastem.GaussianMixture(4, covariance_type=covariance_type, random_state=0).fit(X)
        plot.plot_clusters_2d(fitted, X, ax=ax, max_points=3000)
        ax.set_title(covariance_type)
    figure.tight_layout()
    save(figure, "clusters_2d_covariance_types.png")

    figure, ax = plt.subplots(figsize=(6, 4))
    slow = fastem.GaussianMixture(4, init_params="random", tol=1e-6, max_iter=300,
                                  random_state=1).fit(X)
    plot.plot_lower_bounds(slow, ax=ax)
    ax.set_title(f"plot_lower_bounds: random init, {slow.n_iter_} iterations")
    save(figure, "lower_bounds.png")

    sample = X[:20_000]
    if hasattr(fastem, "select_n_components"):
        result = fastem.select_n_components(
            sample, n_components=range(1, 8), covariance_types=("full", "tied", "diag", "spherical"),
            criterion="bic", random_state=0,
        )
    else:
        result = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastem.ConvergenceWarning)
            for covariance_type in ("full", "tied", "diag", "spherical"):
                for k in range(1, 8):
                    fitted = fastem.GaussianMixture(k, covariance_type=covariance_type,
                                                    random_state=0).fit(sample)
                    result[covariance_type, k] = fitted.bic(sample)
    figure, ax = plt.subplots(figsize=(6, 4))
    plot.plot_selection(result, label="BIC", ax=ax)
    ax.set_title("plot_selection: BIC on 20,000 demo points")
    save(figure, "selection.png")

    rng = np.random.default_rng(0)
    X3 = np.column_stack([X, 0.5 * X[:, 0] - 0.8 * X[:, 1] + rng.standard_normal(len(X))])
    model_3d = fastem.GaussianMixture(4, random_state=0).fit(X3)
    pairs = plot.plot_pairs(model_3d, X3, max_points=5000)
    pairs["figure"].suptitle("plot_pairs: 3 features")
    pairs["figure"].tight_layout()
    save(pairs["figure"], "pairs.png")

    explorer = plot.explore(model_1d, x1)
    save(explorer.figure, "explorer_fitted.png")
    explorer = plot.explore(model_1d, x1)
    explorer.set("mean", 0, -2.0)
    explorer.set("std", 2, 0.5)
    explorer.set("weight", 1, 0.05)
    explorer.ax.set_title("explore: sliders moved from the fitted values")
    save(explorer.figure, "explorer_moved.png")

    data = np.concatenate([rng.exponential(1.0, 6000), rng.exponential(6.0, 4000)])
    explorer = plot.explore(data=data, family="exponential", n_components=2)
    explorer.set("scale", 0, 1.0)
    explorer.set("scale", 1, 6.0)
    explorer.set("weight", 0, 0.6)
    explorer.set("weight", 1, 0.4)
    explorer.ax.set_title("explore: exponential mixture, sliders set to the true values")
    save(explorer.figure, "explorer_exponential.png")


if __name__ == "__main__":
    main()
