"""fastem.plot on the Agg backend: every function draws and returns its objects."""

import subprocess
import sys
import warnings

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
    cov = model._float64_covariances()[0]
    ellipse = out["ellipses"][0]
    widths = sorted([ellipse.width, ellipse.height])
    np.testing.assert_allclose(widths, 2 * np.sqrt(np.linalg.eigvalsh(cov)), rtol=1e-10)
    np.testing.assert_allclose(ellipse.center, model.means_[0])


def test_clusters_2d_of_a_covariance_rounded_below_zero_draws_a_flat_ellipse(data):
    """A covariance of collinear features rounded to an eigenvalue a little below 0: its
    ellipse is flat, not NaN (NumPy's warning is an error here). Set past the checks of an
    assignment (which refuse a covariances_ that is not the inverse of precisions_): no
    fit makes one in float64."""
    model = fastem.GaussianMixture(2, random_state=0, tol=1e-2).fit(data)
    covariances = model.covariances_.copy()
    covariances[0] = np.array([[1.0, 3.0], [3.0, 9.0 - 1e-6]], dtype=np.float32)
    assert np.linalg.eigvalsh(covariances[0].astype(np.float64))[0] < 0
    model._set_parameters({**{name: getattr(model, name) for name in model._parameter_names},
                           "covariances_": covariances})
    ellipse = plot.plot_clusters_2d(model, data, max_points=500)["ellipses"][0]
    assert min(ellipse.width, ellipse.height) == 0.0
    assert max(ellipse.width, ellipse.height) == pytest.approx(2 * np.sqrt(10.0), rel=1e-6)


@pytest.mark.parametrize("draw", ["plot_density_1d", "explore"])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_plots_of_parameters_refuse_those_the_predictions_refuse(draw, covariance_type):
    """A figure drawn from the parameters runs the checks the predictions run: it drew the
    density of an assigned covariances_ beside the old precisions (which the predictions
    use), weights that do not sum to 1 and an exponential's negative scales, silently."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, 200), rng.normal(4, 1, 200)])[:, None]
    model = fastem.GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    model.covariances_ = model.covariances_ * 4
    for use in (model.predict, lambda _: getattr(plot, draw)(model)):
        with pytest.raises(ValueError, match="'covariances_' is not the inverse of 'precisions_'"):
            use(X)
    model = fastem.GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    model.weights_ = np.array([0.9, 0.9])
    with pytest.raises(ValueError, match="weights_ must be non-negative and sum to 1"):
        getattr(plot, draw)(model)
    exponential = fastem.ExponentialMixture(2, random_state=0).fit(np.abs(X) + 0.1)
    exponential.scales_ = -exponential.scales_
    with pytest.raises(ValueError, match="scales_ must be positive"):
        getattr(plot, draw)(exponential)
    plot.plot_lower_bounds(exponential)  # drawn from the fit's record, not the parameters


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
    # one legend for the figure, none repeated on the panels
    assert all(p["legend"] is None and p["ax"].get_legend() is None for p in out["panels"])
    assert out["figure"].legends == [out["legend"]]
    assert [t.get_text() for t in out["legend"].get_texts()][-1] == "component means"
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
        plot.explore(family="weibull")
    with pytest.raises(ValueError, match="1-D mixtures"):
        plot.explore(models["full"])


# ----------------------------------------------------------------------
# real-data use: names, every family, DataFrames, clear errors


@pytest.fixture(scope="module")
def faithful_like():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal([2.0, 54.0], [0.25, 6.0], (98, 2)),
                        rng.normal([4.3, 80.0], [0.4, 6.0], (174, 2))])
    return pd.DataFrame(X, columns=["eruptions", "waiting"])


@pytest.fixture(scope="module")
def counts():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    return pd.DataFrame({"count": np.concatenate([rng.poisson(3, 40), rng.poisson(15, 32)])})


def test_axes_carry_the_data_names(faithful_like):
    model = fastem.GaussianMixture(2, random_state=0).fit(faithful_like)
    out = plot.plot_clusters_2d(model, faithful_like)
    assert (out["ax"].get_xlabel(), out["ax"].get_ylabel()) == ("eruptions", "waiting")
    out = plot.plot_clusters_2d(model, faithful_like.to_numpy(), features=("waiting", "eruptions"))
    assert (out["ax"].get_xlabel(), out["ax"].get_ylabel()) == ("waiting", "eruptions")
    out = plot.plot_density_1d(model, faithful_like, feature="waiting")
    assert out["ax"].get_xlabel() == "waiting"
    panels = plot.plot_pairs(model, faithful_like)["panels"]
    assert panels[0]["ax"].get_xlabel() == "eruptions"
    with pytest.raises(ValueError, match="no feature named 'duration'"):
        plot.plot_density_1d(model, faithful_like, feature="duration")
    with pytest.raises(ValueError, match="same order"):
        plot.plot_clusters_2d(model, faithful_like[["waiting", "eruptions"]])


def test_clusters_legend_names_every_component(faithful_like):
    model = fastem.GaussianMixture(3, random_state=0).fit(faithful_like)
    legend = plot.plot_clusters_2d(model, faithful_like)["legend"]
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[:3] == [f"component {k} ({w:.0%})" for k, w in enumerate(model.weights_)]
    assert texts[3] == "component means"


def test_points_stay_visible_at_any_size():
    sizes = [plot.point_style(n) for n in (150, 300, 3000, 20_000, 10**6)]
    assert sizes[0][0] >= 20 and sizes[0][1] >= 0.8  # a small real data set: large, opaque
    assert all(a[0] >= b[0] and a[1] >= b[1] for a, b in zip(sizes, sizes[1:]))
    assert sizes[-1][0] >= 2 and sizes[-1][1] >= 0.1


def test_counts_get_integer_bins_matching_the_pmf(counts):
    model = fastem.PoissonMixture(2, random_state=0).fit(counts)
    out = plot.plot_density_1d(model, counts)  # numpy's 'auto' number of bins, widened to integers
    edges = np.array([patch.get_x() for patch in out["hist"]])
    widths = np.array([patch.get_width() for patch in out["hist"]])
    np.testing.assert_allclose(edges % 1, 0.5)
    np.testing.assert_allclose(widths, np.round(widths))
    x = out["mixture"].get_xdata()
    np.testing.assert_array_equal(x, np.round(x))
    # one bar per integer: the bars are relative frequencies, on the scale of the pmf
    out = plot.plot_density_1d(model, counts, bins=100)
    heights = np.array([patch.get_height() for patch in out["hist"]])
    values = counts["count"].to_numpy()
    expected = np.bincount(values - values.min()) / len(values)
    np.testing.assert_allclose(heights, expected)
    assert out["ax"].get_ylabel() == "probability" and out["ax"].get_xlabel() == "count"
    np.testing.assert_allclose(out["mixture"].get_ydata().sum(), 1, atol=0.02)


@pytest.mark.parametrize("family", ["GaussianMixture", "ExponentialMixture", "PoissonMixture"])
def test_every_plot_works_for_every_family(family, counts):
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.poisson(4, 300), rng.poisson(9, 300)]).astype(float)
    model = getattr(fastem, family)(2, random_state=0).fit(X)
    plot.plot_density_1d(model, X, feature=1)
    out = plot.plot_clusters_2d(model, X)
    np.testing.assert_allclose(out["means"].get_offsets(), plot._component_means(model))
    assert (len(out["ellipses"]) > 0) == (family == "GaussianMixture")
    plot.plot_pairs(model, X)
    plot.plot_lower_bounds(model)
    one = getattr(fastem, family)(2, random_state=0).fit(counts)
    explorer = plot.explore(one, counts)
    assert explorer.ax.get_xlabel() == "count" and explorer.ax.get_ylabel()
    assert explorer.family == {"GaussianMixture": "gaussian", "ExponentialMixture": "exponential",
                               "PoissonMixture": "poisson"}[family]
    grid = counts.iloc[:0].reindex(range(len(explorer.x))).assign(count=explorer.x)
    np.testing.assert_allclose(explorer.densities().sum(axis=0),
                               np.exp(one.score_samples(grid)), rtol=1e-8)
    with pytest.raises(ValueError, match="plot_clusters_2d draws two features.*plot_density_1d"):
        plot.plot_clusters_2d(one, counts)


def test_explore_poisson_without_model(counts):
    explorer = plot.explore(data=counts, family="poisson", n_components=2)
    assert set(explorer.sliders) == {("weight", 0), ("rate", 0), ("weight", 1), ("rate", 1)}
    assert explorer.ax.get_xlabel() == "count"
    np.testing.assert_array_equal(explorer.x, np.round(explorer.x))


def test_explorer_labels_its_axes(data):
    explorer = plot.explore(data=data[:, 0])
    assert explorer.ax.get_xlabel() == "x" and explorer.ax.get_ylabel() == "density"


def _every_data_path(frame, tmp_path):
    """The same rows as a DataFrame, array, memory map, Chunks and Dask array and DataFrame."""
    X = frame.to_numpy()
    np.save(tmp_path / "a.npy", X[:100])
    np.save(tmp_path / "b.npy", X[100:])
    np.save(tmp_path / "all.npy", X)
    paths = {
        "array": X,
        "memory map": np.load(tmp_path / "all.npy", mmap_mode="r"),
        "DataFrame": frame,
        "Chunks of DataFrames": fastem.Chunks([frame[:100], frame[100:]]),
        "Chunks of .npy files": fastem.Chunks([tmp_path / "a.npy", tmp_path / "b.npy"]),
    }
    da = pytest.importorskip("dask.array")
    dd = pytest.importorskip("dask.dataframe")
    paths["Dask array"] = da.from_array(X, chunks=(70, -1))
    paths["Dask DataFrame"] = dd.from_pandas(frame, npartitions=3)
    return paths


def test_every_plot_takes_every_data_path(faithful_like, tmp_path, monkeypatch):
    dask = pytest.importorskip("dask")
    monkeypatch.setattr(plot, "_MAX_ROWS", 250)  # larger data are subsampled, alike on every path
    model = fastem.GaussianMixture(2, random_state=0).fit(faithful_like)
    drawn = {}
    with dask.config.set(scheduler="synchronous"):
        for name, X in _every_data_path(faithful_like, tmp_path).items():
            clusters = plot.plot_clusters_2d(model, X)
            density = plot.plot_density_1d(model, X, feature=1)
            pairs = plot.plot_pairs(model, X)
            # the data's names, or the model's for data without names
            assert clusters["ax"].get_xlabel() == "eruptions", name
            assert pairs["panels"][0]["ax"].get_ylabel() == "waiting", name
            drawn[name] = (clusters["scatter"].get_offsets(),
                           [patch.get_height() for patch in density["hist"]])
            plt.close("all")
    reference_points, reference_heights = drawn.pop("array")
    assert reference_points.shape[0] == 250  # 272 rows, at most 250 read
    for name, (points, heights) in drawn.items():
        np.testing.assert_array_equal(points, reference_points, err_msg=name)
        np.testing.assert_allclose(heights, reference_heights, err_msg=name)


def test_plots_check_the_data_as_fit_does(faithful_like):
    model = fastem.GaussianMixture(2, random_state=0).fit(faithful_like)
    bad = faithful_like.copy()
    bad.iloc[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or infinite"):
        plot.plot_clusters_2d(model, bad)
    with pytest.raises(ValueError, match="chunk 1 has the columns"):
        plot.plot_density_1d(model, fastem.Chunks([faithful_like,
                                                  faithful_like[["waiting", "eruptions"]]]))


def test_plots_of_a_model_fitted_on_missing_values_draw_the_observed_data(faithful_like):
    X = faithful_like.to_numpy().copy()
    X[::5, 0] = np.nan
    X[1::5, 1] = np.nan
    model = fastem.GaussianMixture(2, random_state=0, missing="em").fit(X)
    both = ~np.isnan(X).any(axis=1)
    drawn = plot.plot_clusters_2d(model, X)
    offsets = drawn["scatter"].get_offsets()
    assert np.array_equal(np.asarray(offsets), X[both])
    colors = drawn["scatter"].get_facecolors()[:, :3]
    labels = model.predict(X)[both]
    for k in (0, 1):  # colour by the component given the observed coordinates
        assert len({tuple(c) for c in colors[labels == k]}) == 1
    hist = plot.plot_density_1d(model, X, feature=0)["hist"]
    assert round(sum(p.get_height() * p.get_width() for p in hist), 9) == 1  # a density
    observed = X[~np.isnan(X[:, 0]), 0]
    assert hist[0].get_x() == pytest.approx(observed.min())
    assert len(plot.plot_pairs(model, X)["panels"]) == 1
    with pytest.raises(ValueError, match=r"set_params\(missing='em'\) makes this fitted "
                                         "GaussianMixture predict"):
        plot.plot_clusters_2d(fastem.GaussianMixture(2, random_state=0).fit(X[both]), X)
    X[:, 0] = np.nan
    with pytest.raises(ValueError, match="no observed value of"):
        plot.plot_density_1d(model, X, feature=0)


@pytest.mark.parametrize("draw", [
    lambda m, X: plot.plot_density_1d(m, X), lambda m, X: plot.plot_clusters_2d(m, X),
    lambda m, X: plot.plot_pairs(m, X), lambda m, X: plot.plot_lower_bounds(m),
    lambda m, X: plot.explore(m),
])
def test_an_unfitted_model_is_not_fitted_error(data, draw):
    with pytest.raises(fastem.NotFittedError, match="not fitted yet"):
        draw(fastem.GaussianMixture(2), data)


def test_pairs_of_one_feature_is_a_clear_error(data):
    model = fastem.GaussianMixture(2, random_state=0, tol=1e-2).fit(data[:, :1])
    with pytest.raises(ValueError, match="plot_pairs draws two features.*plot_density_1d"):
        plot.plot_pairs(model, data[:, :1])


def test_a_named_series_names_the_axis(data):
    pd = pytest.importorskip("pandas")
    waiting = pd.Series(data[:, 0], name="waiting")
    assert plot.explore(data=waiting).ax.get_xlabel() == "waiting"
    model = fastem.GaussianMixture(2, random_state=0, tol=1e-2).fit(waiting.to_frame())
    assert plot.plot_density_1d(model, waiting)["ax"].get_xlabel() == "waiting"


@pytest.mark.parametrize("family", ["GaussianMixture", "ExponentialMixture", "PoissonMixture"])
@pytest.mark.parametrize("column", ["series", "one-column frame"])
def test_density_1d_of_one_named_column_draws_that_feature(family, column):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"calls": np.concatenate([rng.poisson(2, 150), rng.poisson(12, 150)]),
                          "visits": np.concatenate([rng.poisson(30, 150), rng.poisson(5, 150)])})
    model = getattr(fastem, family)(2, random_state=0).fit(frame.astype(float))
    picked = frame["visits"] if column == "series" else frame[["visits"]]
    out = plot.plot_density_1d(model, picked)
    whole = plot.plot_density_1d(model, frame, feature="visits")
    assert out["ax"].get_xlabel() == "visits"
    np.testing.assert_array_equal(out["mixture"].get_xdata(), whole["mixture"].get_xdata())
    np.testing.assert_array_equal(out["mixture"].get_ydata(), whole["mixture"].get_ydata())
    assert [p.get_height() for p in out["hist"]] == [p.get_height() for p in whole["hist"]]
    assert plot.plot_density_1d(model, picked, feature="visits")["ax"].get_xlabel() == "visits"
    with pytest.raises(ValueError, match="X is the column 'visits', but feature=0 is another"):
        plot.plot_density_1d(model, picked, feature=0)
    with pytest.raises(ValueError, match=r"one of its named columns \(X\[\['calls'\]\]\)"):
        plot.plot_density_1d(model, frame[["visits"]].rename(columns={"visits": "v"}))


@pytest.mark.parametrize("feature", [None, 0, 1, "eruptions", "waiting"])
def test_density_1d_refuses_columns_in_another_order(faithful_like, feature):
    # the data's column j would be drawn over the model's feature j: a wrong picture
    model = fastem.GaussianMixture(2, random_state=0).fit(faithful_like)
    with pytest.raises(ValueError, match="(?s)same order.*X\\[\\['eruptions', 'waiting'\\]\\]"):
        plot.plot_density_1d(model, faithful_like[["waiting", "eruptions"]], feature=feature)


@pytest.mark.parametrize("n_features", [2, 4, 8])
def test_pairs_of_named_features_say_which_are_shown(n_features):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (100, n_features)), rng.normal(4, 1, (100, n_features))])
    frame = pd.DataFrame(X, columns=[f"length {j}" for j in range(n_features)])
    model = fastem.GaussianMixture(2, random_state=0).fit(frame)
    out = plot.plot_pairs(model, frame)
    shown = min(n_features, 4)
    assert len(out["panels"]) == shown * (shown - 1) // 2
    labels = {(p["ax"].get_xlabel(), p["ax"].get_ylabel()) for p in out["panels"]}
    assert ("length 0", "length 1") in labels and all(n in frame.columns for pair in labels for n in pair)
    title = out["figure"].get_suptitle()
    assert title == ("" if n_features <= 4 else
                     "pairs of the first 4 of 8 features; pass pairs=[(i, j), ...] for others")
    picked = plot.plot_pairs(model, frame, pairs=[("length 7", "length 0")] if n_features == 8 else [(1, 0)])
    assert picked["figure"].get_suptitle() == ""
    assert picked["panels"][0]["ax"].get_ylabel() == "length 0"


@pytest.mark.parametrize("family", ["GaussianMixture", "ExponentialMixture", "PoissonMixture"])
def test_explore_refuses_another_column_than_the_models(family, counts):
    pd = pytest.importorskip("pandas")
    model = getattr(fastem, family)(2, random_state=0).fit(counts)
    other = counts.rename(columns={"count": "visits"})
    with pytest.raises(ValueError, match="(?s)unseen at fit time:\n- visits.*X\\[\\['count'\\]\\]"):
        plot.explore(model, other)
    assert plot.explore(model, counts["count"]).ax.get_xlabel() == "count"
    assert plot.explore(model, pd.Series(counts["count"].to_numpy())).ax.get_xlabel() == "count"


@pytest.mark.parametrize("wrong", ["one more", "not a string"])
@pytest.mark.parametrize("call", ["plot_density_1d", "plot_clusters_2d", "plot_pairs",
                                  "explore"])
def test_names_assigned_by_hand_that_predict_refuses_are_refused_by_the_plots(
        faithful_like, wrong, call):
    """feature_names_in_ assigned as other than one string per feature is refused by the
    plots as by predict, before the data's names are compared with it: three names for
    two features were refused as if the data missed the third ("Select the columns of
    fit, in order: X[['eruptions', 'waiting', 'x']]", a selection that fails), a name
    that is no string was an AttributeError ('int' object has no attribute 'strip')."""
    data = faithful_like[["waiting"]] if call == "explore" else faithful_like  # 1-D mixtures
    model = fastem.GaussianMixture(2, random_state=0).fit(data)
    names = list(data.columns)
    model.feature_names_in_ = names + ["x"] if wrong == "one more" else names[:-1] + [5]
    refused = rf"^feature_names_in_ is .*, not a list of {len(names)} strings"
    with pytest.raises(ValueError, match=refused):
        model.predict(data)
    with pytest.raises(ValueError, match=refused):
        getattr(plot, call)(model, data)


def test_lower_bounds_name_what_the_fit_maximised(faithful_like):
    plain = fastem.GaussianMixture(2, random_state=0).fit(faithful_like)
    assert plot.plot_lower_bounds(plain)["ax"].get_ylabel() == "log-likelihood per sample"
    variational = fastem.BayesianGaussianMixture(n_components=2, random_state=0, tol=1e-3,
                                                 max_iter=500).fit(faithful_like)
    out = plot.plot_lower_bounds(variational)
    assert out["ax"].get_ylabel() == "variational lower bound per sample"
    np.testing.assert_array_equal(out["line"].get_ydata(), variational.lower_bounds_)


def _components_drawn(out):
    return [h.get_label() for h in out["handles"][:-1]]


def test_components_without_data_are_not_drawn():
    # two distinct points, five components: three are left without data (weight 0)
    X = np.repeat([[1.0, 2.0], [3.0, 2.0]], 500, axis=0)
    with pytest.warns(fastem.EmptyComponentWarning):
        model = fastem.GaussianMixture(5, random_state=0).fit(X)
    held = np.flatnonzero(model.weights_ > 0)
    assert len(held) == 2
    out = plot.plot_clusters_2d(model, X)
    assert _components_drawn(out) == [f"component {k} (50%)" for k in held]
    assert len(out["ellipses"]) == 2 * 3 and len(out["means"].get_offsets()) == 2
    density = plot.plot_density_1d(model, X)
    assert [line.get_label() for line in density["components"]] == [f"component {k}" for k in held]


@pytest.mark.parametrize("family", ["gaussian", "exponential", "poisson"])
def test_a_component_of_weight_0_leaves_the_range_of_a_density_without_data(family):
    """The third component has weight 0 and its mean (scale, rate) at 1e4: the range of
    plot_density_1d without data reached it, and the curves of the others were squeezed
    into a 2,000th of the plot."""
    X = np.concatenate([np.arange(1.0, 4.0), np.arange(6.0, 9.0)])[:, None]
    start = {"weights_init": [0.5, 0.5, 0.0], "max_iter": 0}
    if family == "gaussian":
        model = fastem.GaussianMixture(3, means_init=[[2.0], [7.0], [1e4]], **start).fit(X)
    elif family == "exponential":
        model = fastem.ExponentialMixture(3, scales_init=[[2.0], [7.0], [1e4]], **start).fit(X)
    else:
        model = fastem.PoissonMixture(3, rates_init=[[2.0], [7.0], [1e4]], **start).fit(X)
    assert model.weights_[2] == 0
    low, high = plot.plot_density_1d(model)["ax"].get_xlim()
    assert -10 < low and high < 100


@pytest.mark.parametrize("spread", [False, True])
def test_components_a_variational_prior_switched_off_leave_the_range_without_data(spread):
    """A Dirichlet-process fit of two clusters near 0 and 5 with its prior's mean at 30:
    the components it switched off (weights of 2e-9 and below) sit there, and the range of
    plot_density_1d without data reached them. A fit whose prior spreads the weight over
    200 components, none above 0.01, spans them all."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (300, 1)), rng.normal(5, 1, (300, 1))])
    if spread:
        model = fastem.BayesianGaussianMixture(
            200, weight_concentration_prior_type="dirichlet_distribution",
            weight_concentration_prior=1e6, random_state=0, max_iter=500)
    else:
        model = fastem.BayesianGaussianMixture(
            6, weight_concentration_prior=1e-6, mean_prior=[30.0], random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        model.fit(X)
    low, high = plot.plot_density_1d(model)["ax"].get_xlim()
    if spread:
        assert model.weights_.max() < 0.01
        assert low < -5 and 10 < high < 20
    else:
        assert np.sort(model.weights_)[-2] < 1e-8 and model.means_.max() == 30
        assert -15 < low and high < 20


def test_components_a_variational_prior_switched_off_are_not_drawn():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) + [6.0, 0.0]])
    model = fastem.BayesianGaussianMixture(n_components=6, random_state=0, max_iter=2000).fit(X)
    on = np.flatnonzero(model.weights_ > 0.01)
    assert len(on) == model.effective_n_components() == 2
    assert model.weights_.min() > 0  # off, but not zero
    out = plot.plot_clusters_2d(model, X)
    assert _components_drawn(out) == [f"component {k} ({model.weights_[k]:.0%})" for k in on]
    assert len(plot.plot_density_1d(model, X)["components"]) == 2
    everything = plot.plot_clusters_2d(model, X, min_weight=0.0)
    assert len(_components_drawn(everything)) == 6
    with pytest.raises(ValueError, match="min_weight must be <= 1"):
        plot.plot_clusters_2d(model, X, min_weight=1.5)


def _narrow_and_wide(family):
    """1-D data of a narrow and a wide component, a component's parameter far below
    the explorer's default slider range (a hundredth or less of the data's span)."""
    rng = np.random.default_rng(0)
    if family == "GaussianMixture":
        return np.r_[rng.normal(0.123, 1e-3, 300), rng.normal(5.0, 10.0, 300)][:, None]
    if family == "ExponentialMixture":
        return np.r_[rng.exponential(0.01, 300), rng.exponential(100.0, 300)][:, None]
    return np.r_[rng.poisson(0.01, 300), rng.poisson(60.0, 300)][:, None].astype(float)


def _narrow_fit(family, X, **params):
    """A 2-component fit of ``_narrow_and_wide`` data; Gaussian mixtures with ``reg_covar``
    far below the narrow component's variance (1e-6), which the default would double."""
    if family == "GaussianMixture":
        params["reg_covar"] = 1e-9
    return getattr(fastem, family)(2, random_state=0, **params).fit(X)


@pytest.mark.parametrize("with_data", [False, True])
@pytest.mark.parametrize("family", ["GaussianMixture", "ExponentialMixture", "PoissonMixture"])
def test_explore_starts_at_the_models_mixture_whatever_its_parameters(family, with_data):
    X = _narrow_and_wide(family)
    model = _narrow_fit(family, X)
    explorer = plot.explore(model, X if with_data else None)
    parameters = {"mean": model.means_[:, 0], "std": np.sqrt(model.covariances_.ravel())} \
        if family == "GaussianMixture" else {"scale": model.scales_[:, 0]} \
        if family == "ExponentialMixture" else {"rate": model.rates_[:, 0]}
    for name, value in {"weight": model.weights_, **parameters}.items():
        np.testing.assert_allclose(explorer.values()[name], value, rtol=1e-12)
    np.testing.assert_allclose(explorer.densities(), plot._marginal_densities(model, explorer.x, 0),
                               rtol=1e-10, atol=1e-300)
    explorer.set(list(parameters)[0], 0, 1.0)
    explorer.reset()  # back to the model's values, not to clamped ones
    np.testing.assert_allclose(explorer.values()[list(parameters)[0]], list(parameters.values())[0],
                               rtol=1e-12)


@pytest.mark.parametrize("family", ["GaussianMixture", "ExponentialMixture", "PoissonMixture"])
def test_explore_draws_the_observed_data_of_a_model_fitted_on_missing_values(family, counts):
    values = counts["count"].to_numpy(dtype=float)[:, None] + (family == "ExponentialMixture")
    model = getattr(fastem, family)(2, missing="em", random_state=0).fit(values)
    holes = values.copy()
    holes[::3] = np.nan
    explorer = plot.explore(model, holes)
    observed = holes[~np.isnan(holes)]
    assert sum(patch.get_height() * patch.get_width() for patch in explorer.ax.patches) == \
        pytest.approx(1.0)
    assert explorer.ax.get_xlim()[1] >= observed.max()
    with pytest.raises(ValueError, match="explore: data has no observed value of 'x'"):
        plot.explore(model, np.full((5, 1), np.nan))
    plain = getattr(fastem, family)(2, random_state=0).fit(values)
    with pytest.raises(ValueError, match="NaN.*missing='em'"):
        plot.explore(plain, holes)


@pytest.mark.parametrize("family", ["exponential", "poisson"])
def test_explore_refuses_negative_data_of_a_non_negative_family(family):
    with pytest.raises(ValueError, match=f"data of {family} mixtures are non-negative.*minimum -2"):
        plot.explore(data=np.array([-2.0, 1.0, 3.0]), family=family)


@pytest.mark.parametrize("family", ["gaussian", "exponential", "poisson"])
def test_explore_of_data_of_one_value_draws_finite_densities(family):
    explorer = plot.explore(data=np.full(50, 0.0 if family != "gaussian" else 3.0), family=family)
    assert np.isfinite(explorer.densities()).all() and np.ptp(explorer.x) > 0
    low, high = explorer.ax.get_ylim()
    assert np.isfinite([low, high]).all()


def _peaks(family, model, feature=0):
    """Each component's highest weighted density: at its mean (Gaussian) or at 0 (exponential)."""
    if family == "GaussianMixture":
        std = np.sqrt(model._float64_covariances()[:, feature, feature])
        return model.weights_ / (std * np.sqrt(2 * np.pi))
    return model.weights_ / model.scales_[:, feature]


@pytest.mark.parametrize("draw", ["density with data", "density without data", "explorer"])
@pytest.mark.parametrize("family, params", [
    *(("GaussianMixture", {"covariance_type": c}) for c in ("full", "tied", "diag", "spherical")),
    ("ExponentialMixture", {}),
])
def test_density_curves_show_the_peak_of_a_component_narrower_than_their_spacing(
        family, params, draw):
    X = _narrow_and_wide(family)
    X = np.column_stack([X, X[::-1]])  # a second feature: the marginal of feature 0 is drawn
    model = _narrow_fit(family, X, **params)
    if draw == "explorer":
        one = _narrow_fit(family, X[:, :1], **params)
        lines, model = plot.explore(one, X[:, :1]).components, one
    else:
        lines = plot.plot_density_1d(model, X if draw == "density with data" else None,
                                     min_weight=0.0)["components"]
    drawn = [line.get_ydata().max() for line in lines]
    np.testing.assert_allclose(drawn, _peaks(family, model), rtol=1e-9)
    # and the narrow component's curve holds its mass, all within the drawn range
    narrow = np.argmax(_peaks(family, model))
    line = lines[narrow]
    assert trapezoid(line.get_ydata(), line.get_xdata()) == pytest.approx(model.weights_[narrow], rel=1e-2)


def _bad_parameter_calls():
    """(id, call(model 2-D, model 1-D of counts, X, counts), error, match): a plot
    parameter out of its domain, each refused by name before anything is drawn."""
    def clusters(**kw):
        return lambda two, one, X, counts: plot.plot_clusters_2d(two, X, **kw)

    def density(**kw):
        return lambda two, one, X, counts: plot.plot_density_1d(one, counts, **kw)

    def pairs(**kw):
        return lambda two, one, X, counts: plot.plot_pairs(two, X, **kw)

    def explore(**kw):
        return lambda two, one, X, counts: plot.explore(**kw)

    return [
        ("bins=0, counts", density(bins=0), ValueError, "bins must be >= 1, got 0"),
        ("bins=-3, counts", density(bins=-3), ValueError, "bins must be >= 1, got -3"),
        ("bins=2.5, counts", density(bins=2.5), TypeError, "bins must be an integer, got 2.5"),
        ("bins=0, explorer", explore(data=np.arange(9.0), bins=0), ValueError, "bins must be >= 1"),
        ("bins=-2, explorer of counts", explore(data=np.arange(9.0), family="poisson", bins=-2),
         ValueError, "bins must be >= 1"),
        ("feature=0.5", density(feature=0.5), TypeError, "plot_density_1d: a feature is an index"),
        ("feature=True", density(feature=True), TypeError, "a feature is an index.*got True"),
        ("features=(0,)", clusters(features=(0,)), ValueError, "plot_clusters_2d: a pair of features"),
        ("features=(0, 1, 2)", clusters(features=(0, 1, 2)), ValueError, "a pair of features.*got \\(0, 1, 2\\)"),
        ("features=0", clusters(features=0), ValueError, "a pair of features is two"),
        ("features=(0.5, 1)", clusters(features=(0.5, 1)), TypeError, "a feature is an index.*0.5"),
        ("n_std=(0,)", clusters(n_std=(0,)), ValueError, "n_std must be > 0, got 0"),
        ("n_std=(-1,)", clusters(n_std=(1, -1)), ValueError, "n_std must be > 0, got -1"),
        ("n_std=(nan,)", clusters(n_std=(np.nan,)), ValueError, "n_std must be a finite number"),
        ("n_std=('a',)", clusters(n_std=("a",)), TypeError, "n_std must be a number, got 'a'"),
        ("max_points=0", clusters(max_points=0), ValueError, "max_points must be >= 1, got 0"),
        ("max_points=-1", clusters(max_points=-1), ValueError, "max_points must be >= 1"),
        ("max_points=2.5", clusters(max_points=2.5), TypeError, "max_points must be an integer"),
        ("pairs=[]", pairs(pairs=[]), ValueError, "plot_pairs got no pairs of features"),
        ("pairs=[(0,)]", pairs(pairs=[(0,)]), ValueError, "plot_pairs: a pair of features.*\\(0,\\)"),
        ("pairs=[0]", pairs(pairs=[0, 1]), ValueError, "plot_pairs: a pair of features.*got 0"),
        ("n_components=0", explore(n_components=0), ValueError, "n_components must be >= 1, got 0"),
        ("n_components=-1", explore(n_components=-1, family="poisson"), ValueError,
         "n_components must be >= 1"),
        ("n_components=2.5", explore(n_components=2.5), TypeError, "n_components must be an integer"),
        ("selection of nothing", lambda two, one, X, counts: plot.plot_selection({}), ValueError,
         "plot_selection got no finite value"),
        ("selection of failed fits only",
         lambda two, one, X, counts: plot.plot_selection({("full", 1): np.nan, ("diag", 2): np.nan}),
         ValueError, "plot_selection got no finite value"),
        ("random_state='a'", clusters(random_state="a"), ValueError, "random_state must be.*got 'a'"),
        ("random_state=-1", clusters(max_points=10, random_state=-1), ValueError,
         "random_state must be None, an int >= 0"),
        ("random_state=1.5", clusters(random_state=1.5), ValueError, "random_state must be.*1.5"),
        ("lower bounds of a table", lambda two, one, X, counts: plot.plot_lower_bounds([[1.0, 2.0]]),
         TypeError, "plot_lower_bounds takes a fitted fastem mixture or a 1-D sequence"),
        ("lower bounds of text", lambda two, one, X, counts: plot.plot_lower_bounds("abc"),
         TypeError, "1-D sequence of floats, got str"),
        ("lower bounds of None", lambda two, one, X, counts: plot.plot_lower_bounds(None),
         TypeError, "1-D sequence of floats, got NoneType"),
    ]


@pytest.mark.parametrize("call, error, match", [case[1:] for case in _bad_parameter_calls()],
                         ids=[case[0] for case in _bad_parameter_calls()])
def test_plot_parameters_out_of_their_domain_are_refused_by_name(call, error, match, counts):
    X = make_demo_data(300, random_state=0)[0]
    two = fastem.GaussianMixture(2, random_state=0).fit(X)
    one = fastem.PoissonMixture(2, random_state=0).fit(counts)
    with pytest.raises(error, match=match):
        call(two, one, X, counts)


def test_ellipses_within_one_standard_deviation_are_drawn(data, models):
    out = plot.plot_clusters_2d(models["full"], data, n_std=(0.5, 1))
    halves, ones = out["ellipses"][0::2], out["ellipses"][1::2]
    np.testing.assert_allclose([e.width for e in halves], [e.width / 2 for e in ones])
    assert all(e.get_alpha() == 1.0 for e in out["ellipses"])
    out["ax"].figure.canvas.draw()


@pytest.mark.parametrize("bins", ["auto", "fd", [-0.5, 4.5, 9.5, 30.5]])
def test_counts_take_numpys_rules_and_edges_as_other_data(bins, counts):
    model = fastem.PoissonMixture(2, random_state=0).fit(counts)
    values = counts["count"].to_numpy()
    out = plot.plot_density_1d(model, counts, bins=bins)
    heights = np.array([patch.get_height() * patch.get_width() for patch in out["hist"]])
    assert heights.sum() == pytest.approx(1.0)
    if not isinstance(bins, str):
        assert [patch.get_x() for patch in out["hist"]] == bins[:-1]
    else:  # integer-aligned bars, at most as many as numpy's rule gives
        edges = np.array([patch.get_x() for patch in out["hist"]])
        np.testing.assert_allclose(edges % 1, 0.5)
        assert len(edges) <= len(np.histogram_bin_edges(values, bins)) - 1
    plot.explore(model, counts, bins=bins)


@pytest.mark.parametrize("family", ["gaussian", "exponential", "poisson"])
def test_explorer_with_every_weight_at_zero_draws_flat_curves_without_a_warning(family):
    explorer = plot.explore(family=family, n_components=2)
    explorer.set("weight", 0, 0.0)
    explorer.set("weight", 1, 0.0)  # filterwarnings=error: a singular y-range would raise
    assert not explorer.mixture.get_ydata().any()
    assert explorer.ax.get_ylim() == (0.0, 1.0)


@pytest.mark.parametrize("failed", [("full", 1), ("full", 2), ("diag", 1)])
def test_selection_marks_the_lowest_value_whichever_fit_failed(failed):
    others = {("full", 1): 7.0, ("full", 2): 3.0, ("diag", 1): 5.0, ("diag", 2): 4.0}
    values = {failed: np.nan, **{k: v for k, v in others.items() if k != failed}}  # NaN first
    best = min((k for k in values if k != failed), key=values.get)
    out = plot.plot_selection(values)
    assert out["best"].get_label() == f"best: {best[0]}, K={best[1]}"
    assert out["best"].get_ydata()[0] == values[best]


@pytest.mark.parametrize("draw", ["density with data", "density without data", "explorer"])
def test_counts_in_the_hundreds_of_millions_are_drawn_at_some_integers(draw):
    from scipy.stats import poisson

    rng = np.random.default_rng(0)
    counts = np.r_[rng.poisson(1e8, 300), rng.poisson(1.02e8, 300)][:, None].astype(float)
    model = fastem.PoissonMixture(2, random_state=0).fit(counts)
    if draw == "explorer":
        explorer = plot.explore(model, counts)
        lines, x = explorer.components, explorer.x
    else:
        out = plot.plot_density_1d(model, counts if draw == "density with data" else None)
        lines, x = out["components"], out["mixture"].get_xdata()
    assert len(x) < 5_000  # a point per integer would be 10^8 of them
    np.testing.assert_array_equal(x, np.round(x))
    rates = model.rates_[:, 0]
    for k, line in enumerate(lines):
        np.testing.assert_allclose(line.get_ydata(), model.weights_[k] * poisson.pmf(x, rates[k]),
                                   rtol=1e-10)
        # the component's mode is drawn
        assert line.get_ydata().max() == pytest.approx(
            model.weights_[k] * poisson.pmf(np.floor(rates[k]), rates[k]), rel=1e-6)


@pytest.mark.parametrize("family, name, value, error, match", [
    ("gaussian", "std", -1.0, ValueError, "std must be > 0.0, got -1.0"),
    ("gaussian", "std", 0.0, ValueError, "std must be > 0.0, got 0.0"),
    ("gaussian", "mean", np.nan, ValueError, "mean must be a finite number, got nan"),
    ("gaussian", "mean", "a", TypeError, "mean must be a number, got 'a'"),
    ("gaussian", "weight", -0.5, ValueError, "weight must be >= 0.0, got -0.5"),
    ("exponential", "scale", 0.0, ValueError, "scale must be > 0.0"),
    ("exponential", "scale", np.inf, ValueError, "scale must be a finite number"),
    ("poisson", "rate", -2.0, ValueError, "rate must be > 0.0, got -2.0"),
    ("poisson", "weight", np.nan, ValueError, "weight must be a finite number"),
])
def test_explorer_set_refuses_a_value_outside_the_parameters_domain(family, name, value, error, match):
    explorer = plot.explore(family=family, n_components=2)
    before = explorer.mixture.get_ydata().copy()
    with pytest.raises(error, match=match):
        explorer.set(name, 0, value)
    np.testing.assert_array_equal(explorer.mixture.get_ydata(), before)  # nothing redrawn
    assert (explorer.densities() >= 0).all()


@pytest.mark.parametrize("name, k", [("mean", 5), ("scale", 0), ("weight", -1)])
def test_explorer_set_of_a_slider_it_does_not_have_names_those_it_has(name, k):
    explorer = plot.explore(family="gaussian", n_components=2)
    with pytest.raises(ValueError, match=r"no slider .*the sliders are \['weight', 'mean', 'std'\] "
                                         r"of components 0 to 1"):
        explorer.set(name, k, 1.0)



def test_a_bins_rule_that_gives_more_than_the_most_bins_draws_the_most():
    # 'fd' on a far outlier (and NumPy 1.x's default 'auto') gives 370,000 bins: the
    # rule's count, not one the caller gave, so it is drawn at the most, not refused
    from fastem.plot import _MAX_BINS, _histogram_edges

    values = np.r_[np.random.default_rng(0).normal(size=1_000_000), 1e4]
    assert _histogram_edges(values, "fd") == _MAX_BINS
    with pytest.raises(ValueError, match="bins must be at most 100,000"):
        _histogram_edges(values, _MAX_BINS + 1)


def test_a_bad_legend_is_refused_before_anything_is_drawn():
    import matplotlib.pyplot as plt

    X = make_demo_data(300, random_state=0)[0]
    model = fastem.GaussianMixture(2, random_state=0).fit(X)
    figure, ax = plt.subplots()
    with pytest.raises(TypeError, match="legend must be True or False"):
        plot.plot_clusters_2d(model, X, legend="no", ax=ax)
    assert not ax.collections and not ax.lines and not ax.patches
    plt.close(figure)


@pytest.mark.parametrize("typed", ["cafe\u0301", " caf\u00e9 "])
@pytest.mark.parametrize("plotter", ["density", "clusters"])
def test_a_feature_named_in_another_unicode_form_or_with_spaces_is_found(typed, plotter):
    """'café' typed on macOS (NFD) or with spaces around it, for the model's 'café' (NFC):
    'no feature named 'café'; the features are ['café', 'b']', as predict takes those
    columns for the same names."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(200, 2)), columns=["caf\u00e9", "b"])
    model = fastem.GaussianMixture(2, random_state=0).fit(frame)
    if plotter == "density":
        axis = plot.plot_density_1d(model, feature=typed)["ax"]
        assert axis.get_xlabel() == "caf\u00e9"
    else:
        axis = plot.plot_clusters_2d(model, frame, features=("b", typed))["ax"]
        assert axis.get_ylabel() == "caf\u00e9"


@pytest.mark.parametrize("min_weight", [0.001, 0.0])
def test_a_component_drawn_below_the_prior_threshold_stays_in_the_range_without_data(min_weight):
    """A cluster of 0.6% of the points far from the rest: plot_density_1d without data and
    with a min_weight below the variational prior's threshold (0.01) draws its component,
    and the range left it out, so its curve and its part of the mixture were not seen."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (1000, 1)), rng.normal(50, 1, (6, 1))])
    model = fastem.BayesianGaussianMixture(3, weight_concentration_prior=1e-3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        model.fit(X)
    far = np.flatnonzero(model.means_[:, 0] > 30)
    assert far.size == 1 and 1e-3 < model.weights_[far[0]] < 0.01
    low, high = plot.plot_density_1d(model, min_weight=min_weight)["ax"].get_xlim()
    assert low < -3 and high > model.means_[far[0], 0] + 1
    assert plot.plot_density_1d(model)["ax"].get_xlim()[1] < 10  # by default, as it was


def _refusals(data, models):
    model = models["full"]
    selection = {("full", 1): 1.0}
    return {
        "density bins=0": lambda **ax: plot.plot_density_1d(model, data, bins=0, **ax),
        "density unknown rule": lambda **ax: plot.plot_density_1d(model, data, bins="nope", **ax),
        "density min_weight=2": lambda **ax: plot.plot_density_1d(model, data, min_weight=2, **ax),
        "density no data": lambda **ax: plot.plot_density_1d(model, min_weight=-1, **ax),
        "clusters min_weight": lambda **ax: plot.plot_clusters_2d(model, data, min_weight=-1, **ax),
        "clusters n_std": lambda **ax: plot.plot_clusters_2d(model, data, n_std=0, **ax),
        "pairs min_weight": lambda **ax: plot.plot_pairs(
            model, data, min_weight=2, **({"axes": [ax["ax"]]} if ax else {})),
        "selection": lambda **ax: plot.plot_selection({("full", "one"): 1.0}, **ax),
        "selection NaN": lambda **ax: plot.plot_selection(dict.fromkeys(selection, np.nan), **ax),
        "explore bins=0": lambda **ax: plot.explore(data=data[:, 0], bins=0, **ax),
    }


@pytest.mark.parametrize("case", list(_refusals(None, {"full": None})))
def test_refused_arguments_open_no_figure_and_draw_nothing(case, data, models):
    """An argument a plot refuses is refused before a figure is opened or the caller's
    Axes drawn on: the histogram (min_weight), the scatter (min_weight) and a new figure
    (bins, min_weight, the selection, plot_pairs' grid, the explorer's) were left behind.
    Fails before the fix in 9 of 10 cases (n_std was checked in time)."""
    call = _refusals(data, models)[case]
    with pytest.raises((TypeError, ValueError)):
        call()
    assert plt.get_fignums() == []
    if case.startswith("explore"):
        return  # explore takes no Axes
    figure, ax = plt.subplots()
    before = len(ax.get_children())
    with pytest.raises((TypeError, ValueError)):
        call(ax=ax)
    assert len(ax.get_children()) == before
    assert plt.get_fignums() == [figure.number]


def test_density_1d_draws_one_snapshot_of_a_model_refitted_meanwhile(data, monkeypatch):
    """plot_density_1d reads the model's parameters once, as every plot does: a refit by
    the caller or another thread while it draws does not mix the two fits' parameters.
    Fails before the fix (the curves were the refit's over the first fit's grid)."""
    model = fastem.GaussianMixture(2, random_state=0, tol=1e-2).fit(data[:, :1])
    grid = plot._grid

    def refit_meanwhile(*args):
        model.fit(data[:, :1] + 100.0)
        return grid(*args)

    monkeypatch.setattr(plot, "_grid", refit_meanwhile)
    drawn = plot.plot_density_1d(model, data[:, :1])
    monkeypatch.setattr(plot, "_grid", grid)
    x = drawn["mixture"].get_xdata()
    assert x.min() < 0 and x.max() < 20  # the first fit's range
    first = fastem.GaussianMixture(2, random_state=0, tol=1e-2).fit(data[:, :1])
    np.testing.assert_allclose(drawn["mixture"].get_ydata(),
                               plot._marginal_densities(first, x, 0).sum(axis=0), rtol=1e-12)


def test_lower_bounds_without_a_trace_are_refused_with_what_to_draw(data):
    """A model stepped by partial_fit keeps its last batch's log-likelihood alone, and
    one fitted with max_iter=0 none: plot_lower_bounds drew one point at 'accepted
    pass' 1, or an empty plot, as the trace of a fit. Fails before the fix."""
    stepped = fastem.GaussianMixture(2, random_state=0)
    for batch in np.array_split(data, 3):
        stepped.partial_fit(batch)
    with pytest.raises(ValueError, match="stepped by partial_fit.*lower_bound_ after each"):
        plot.plot_lower_bounds(stepped)
    started = fastem.GaussianMixture(2, max_iter=0, random_state=0).fit(data)
    with pytest.raises(ValueError, match="max_iter=0"):
        plot.plot_lower_bounds(started)
    with pytest.raises(ValueError, match="sequence is empty"):
        plot.plot_lower_bounds([])
    assert plt.get_fignums() == []
    # the values a caller kept after each partial_fit are drawn
    bounds = []
    for batch in np.array_split(data, 3):
        bounds.append(stepped.partial_fit(batch).lower_bound_)
    assert len(plot.plot_lower_bounds(bounds)["line"].get_xdata()) == 3


@pytest.mark.parametrize("family, shift", [("exponential", -10.0), ("poisson", -10.0),
                                           ("poisson", 0.5)])
@pytest.mark.parametrize("draw", ["density", "density of one column", "explore"])
def test_data_the_family_does_not_model_are_refused_by_every_plot(family, shift, draw):
    """Negative data of an exponential or Poisson mixture, and counts that are not whole
    numbers, are refused by the plots as predict refuses them: plot_density_1d and
    explore drew their histogram under the model's density or probabilities (explore
    refused negative data only without a model). Fails before the fix (9 of 9)."""
    rng = np.random.default_rng(0)
    if family == "exponential":
        X, cls = rng.exponential(2.0, (300, 2)), fastem.ExponentialMixture
    else:
        X, cls = rng.poisson(3.0, (300, 2)).astype(np.float64), fastem.PoissonMixture
    pd = pytest.importorskip("pandas")
    X = X[:, :1] if draw == "explore" else X
    X = pd.DataFrame(X, columns=["a", "b"][:X.shape[1]])
    model = cls(2, random_state=0).fit(X)
    calls = {"density": lambda: plot.plot_density_1d(model, X + shift),
             "density of one column": lambda: plot.plot_density_1d(model, X[["b"]] + shift),
             "explore": lambda: plot.explore(model, X + shift)}
    what = "Negative values" if shift < 0 else "not whole numbers"
    with pytest.raises(ValueError, match=what):
        calls[draw]()
    assert plt.get_fignums() == []


def test_explore_without_a_model_refuses_counts_that_are_not_whole_numbers():
    """explore(family='poisson') draws probabilities at the integers: data that are not
    whole numbers were drawn as a histogram beside them (negative data were refused).
    Fails before the fix."""
    with pytest.raises(ValueError, match=r"counts \(whole numbers\).*2 value\(s\).*e\.g\. 1\.5"):
        plot.explore(family="poisson", data=np.array([0.0, 1.5, 2.0, 3.25]))
    assert plt.get_fignums() == []
    assert plot.explore(family="poisson", data=np.array([0.0, 1.0, 2.0, 3.0])).x[0] == 0


def test_features_fitted_by_file_column_are_labelled_as_the_command_line_names_them(tmp_path):
    """A model of columns 2 and 0 of CSV files without names: ``fastem info`` calls its
    features x2 and x0, and so do the plots' axes (they said 'feature 0')."""
    X = make_demo_data(600, random_state=0)[0]
    table = np.column_stack([X[:, 1], np.zeros(len(X)), X[:, 0]])
    np.savetxt(tmp_path / "d.csv", table, delimiter=",")
    model = fastem.GaussianMixture(2, random_state=0).fit(
        fastem.Chunks([tmp_path / "d.csv"], columns=[2, 0], header=False))
    out = plot.plot_clusters_2d(model, X)
    assert (out["ax"].get_xlabel(), out["ax"].get_ylabel()) == ("x2", "x0")
    assert plot.plot_density_1d(model, feature=1)["ax"].get_xlabel() == "x0"
    model.save(tmp_path / "m.npz")
    loaded = fastem.load(tmp_path / "m.npz")
    assert plot.plot_density_1d(loaded)["ax"].get_xlabel() == "x2"
    plt.close("all")
