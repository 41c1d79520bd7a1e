"""fastem.plot on the Agg backend: every function draws and returns its objects."""

import subprocess
import sys

import numpy as np
import pytest
from scipy.integrate import trapezoid

import fastem
from fastem.datasets import make_demo_data

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")
plot = pytest.importorskip("fastem.plot")


@pytest.fixture(scope="module")
def data():
    return make_demo_data(2000, random_state=2)[0]


@pytest.fixture(scope="module")
def models(data):
    return {
        c: fastem.GaussianMixture(4, covariance_type=c, random_state=0, tol=1e-2).fit(data)
        for c in ("full", "tied", "diag", "spherical")
    }


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_importing_fastem_does_not_import_matplotlib():
    code = "import sys, fastem, fastem.cli, fastem.io; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_missing_matplotlib_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'fastem\[plot\]'"):
        plot.plot_lower_bounds([1.0, 2.0])


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_density_1d(data, models, covariance_type):
    model = models[covariance_type]
    _, ax = plt.subplots()
    out = plot.plot_density_1d(model, data, feature=1, ax=ax)
    assert out["ax"] is ax and len(out["components"]) == 4 and out["hist"] is not None
    x = out["mixture"].get_xdata()
    # the plotted mixture is the sum of the components and integrates to about 1
    total = sum(line.get_ydata() for line in out["components"])
    np.testing.assert_allclose(out["mixture"].get_ydata(), total)
    assert abs(trapezoid(out["mixture"].get_ydata(), x) - 1) < 0.01
    one_d = fastem.GaussianMixture(2, random_state=0).fit(data[:, :1])
    # a 1-feature model's density matches its own score_samples
    y = plot.plot_density_1d(one_d)["mixture"]
    np.testing.assert_allclose(
        np.log(y.get_ydata()), one_d.score_samples(y.get_xdata()[:, None]), rtol=1e-8
    )


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_clusters_2d(data, models, covariance_type):
    model = models[covariance_type]
    out = plot.plot_clusters_2d(model, data, max_points=500)
    assert len(out["ellipses"]) == 3 * model.n_components
    assert out["scatter"].get_offsets().shape == (500, 2)
    np.testing.assert_allclose(out["means"].get_offsets(), model.means_)
    # the 1-std ellipse of component 0 has the axes of its covariance
    cov = plot._full_covariances(model)[0]
    ellipse = out["ellipses"][0]
    widths = sorted([ellipse.width, ellipse.height])
    np.testing.assert_allclose(widths, 2 * np.sqrt(np.linalg.eigvalsh(cov)), rtol=1e-10)
    np.testing.assert_allclose(ellipse.center, model.means_[0])


def test_lower_bounds(models):
    model = models["full"]
    out = plot.plot_lower_bounds(model)
    np.testing.assert_array_equal(out["line"].get_ydata(), model.lower_bounds_)
    np.testing.assert_array_equal(out["line"].get_xdata(), np.arange(1, len(model.lower_bounds_) + 1))


def test_selection_from_dict():
    values = {("full", 1): 10.0, ("full", 2): 4.0, ("full", 3): 5.0,
              ("diag", 1): 11.0, ("diag", 2): 6.0, ("diag", 3): 3.5}
    out = plot.plot_selection(values, label="BIC")
    assert set(out["lines"]) == {"full", "diag"}
    np.testing.assert_array_equal(out["lines"]["diag"].get_ydata(), [11.0, 6.0, 3.5])
    assert list(out["best"].get_xdata()) == [3] and list(out["best"].get_ydata()) == [3.5]
    assert out["ax"].get_ylabel() == "BIC"


def test_selection_from_select_n_components(data):
    result = fastem.select_n_components(data[:500], n_components=range(1, 4), covariance_types=("full", "diag"),
                    criterion="bic", random_state=0)
    out = plot.plot_selection(result)
    assert set(out["lines"]) == {"full", "diag"}


def test_selection_rejects_other_input():
    with pytest.raises(TypeError, match="plot_selection needs"):
        plot.plot_selection([1, 2, 3])


def test_pairs(data):
    X3 = np.column_stack([data, data[:, 0] - data[:, 1]])
    model = fastem.GaussianMixture(3, random_state=0, tol=1e-2).fit(X3)
    out = plot.plot_pairs(model, X3, max_points=300)
    assert len(out["panels"]) == 3 and len(out["axes"]) == 3
    assert [p["ax"].get_xlabel() for p in out["panels"]] == ["feature 0", "feature 0", "feature 1"]
    assert all(len(p["ellipses"]) == 9 for p in out["panels"])
    _, axes = plt.subplots(1, 2)
    out = plot.plot_pairs(model, X3, pairs=[(0, 2), (1, 2)], axes=axes, n_std=(2,))
    assert out["figure"] is axes[0].figure and len(out["panels"][1]["ellipses"]) == 3


def test_explore_gaussian_from_model(data):
    x = data[:, :1]
    model = fastem.GaussianMixture(3, random_state=0, tol=1e-2).fit(x)
    explorer = plot.explore(model, x)
    assert len(explorer.sliders) == 9
    grid = explorer.mixture.get_xdata()
    # starts at the model's density
    np.testing.assert_allclose(
        np.log(explorer.mixture.get_ydata()), model.score_samples(grid[:, None]), rtol=1e-8
    )
    explorer.set("mean", 0, 1.5)
    explorer.set("std", 0, 0.25)
    assert explorer.values()["mean"][0] == 1.5
    # the redrawn curve is the mixture with the new parameters
    expected = explorer.densities().sum(axis=0)
    np.testing.assert_allclose(explorer.mixture.get_ydata(), expected)
    z = (grid - 1.5) / 0.25
    w = explorer.values()["weight"]
    np.testing.assert_allclose(explorer.components[0].get_ydata(),
                               w[0] / w.sum() * np.exp(-0.5 * z**2) / (0.25 * np.sqrt(2 * np.pi)))
    explorer.reset()
    np.testing.assert_allclose(explorer.values()["mean"], model.means_[:, 0])
    explorer.set("weight", 2, 0.9)
    explorer.reset_button._observers.process("clicked", None)  # what a click on it does
    np.testing.assert_allclose(explorer.values()["weight"], model.weights_)
    explorer.figure.canvas.draw()


def test_explore_exponential_without_model():
    rng = np.random.default_rng(0)
    explorer = plot.explore(data=rng.exponential(2.0, 1000), family="exponential", n_components=2)
    assert set(explorer.sliders) == {("weight", 0), ("scale", 0), ("weight", 1), ("scale", 1)}
    explorer.set("scale", 1, 2.0)
    explorer.set("weight", 0, 0.0)
    x = explorer.x
    np.testing.assert_allclose(explorer.mixture.get_ydata(), np.exp(-x / 2.0) / 2.0)


def test_explore_rejects_bad_input(data, models):
    with pytest.raises(ValueError, match="family must be"):
        plot.explore(family="poisson")
    with pytest.raises(ValueError, match="1-D mixtures"):
        plot.explore(models["full"])
