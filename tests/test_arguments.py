"""Bad arguments to the public API: each error names the argument, the value it got and the fix."""

import pickle
import re
import warnings

import numpy as np
import pytest
from sklearn.base import clone

import fastem
from fastem import (
    BayesianGaussianMixture,
    ConvergenceWarning,
    ExponentialMixture,
    GaussianMixture,
    PoissonMixture,
)


def blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0, 1, (n, 2)), rng.normal(5, 1, (n, 2))])


# ----------------------------------------------------------------------
# EM's objective named as what each family maximises

OBJECTIVES = [
    (GaussianMixture, lambda X: X, "log-likelihood"),
    (ExponentialMixture, np.abs, "log-likelihood"),
    (PoissonMixture, lambda X: np.round(np.abs(X)), "log-likelihood"),
    (BayesianGaussianMixture, lambda X: X, "evidence lower bound (ELBO)"),
]


@pytest.mark.parametrize("cls, data, objective", OBJECTIVES)
def test_convergence_warning_names_the_familys_objective(cls, data, objective):
    X = data(blobs())
    with pytest.warns(ConvergenceWarning) as caught:
        cls(2, max_iter=2, tol=0.0, random_state=0).fit(X)
    message = str(caught[0].message)
    assert f"gain of the {objective} per sample" in message
    if cls is BayesianGaussianMixture:
        assert "likelihood" not in message


@pytest.mark.parametrize("cls, data, objective", OBJECTIVES)
def test_the_command_lines_progress_line_names_the_familys_objective(cls, data, objective):
    import io

    from fastem import cli

    stream = io.StringIO()
    cli.Progress(stream, live=False)(cls(2), 1, -1.5)
    short = "ELBO" if cls is BayesianGaussianMixture else "log-lik"
    assert f"{short} -1.500000" in stream.getvalue()


def test_the_variational_mixtures_docstrings_say_lower_bound_not_likelihood():
    """Its fit keeps the start with the largest ELBO, and tol is in ELBO per sample."""
    for text in (BayesianGaussianMixture.__doc__, BayesianGaussianMixture.fit.__doc__):
        assert "largest likelihood" not in text
        assert not re.search(r"unit \(mean log-likelihood", text)
    assert "evidence lower bound" in BayesianGaussianMixture.fit.__doc__


# ----------------------------------------------------------------------
# keywords a class does not take: the error names the keyword and its fix

UNKNOWN_KEYWORDS = [
    (BayesianGaussianMixture, "missing", "does not support missing values.*GaussianMixture\\(missing='em'\\)"),
    (BayesianGaussianMixture, "step_offset", "partial_fit \\(online EM\\), which BayesianGaussianMixture does not have"),
    (BayesianGaussianMixture, "means_init", "hyper-parameter of GaussianMixture, not of BayesianGaussianMixture"),
    (ExponentialMixture, "covariance_type", "features are independent.*scales_"),
    (PoissonMixture, "covariance_type", "features are independent.*rates_"),
    (ExponentialMixture, "reg_covar", "min_scale, the floor of scales_"),
    (PoissonMixture, "reg_covar", "min_rate, the floor of rates_"),
    (PoissonMixture, "means_init", "initial means are rates_init"),
    (GaussianMixture, "weight_concentration_prior", "hyper-parameter of BayesianGaussianMixture"),
    (GaussianMixture, "min_rate", "hyper-parameter of PoissonMixture"),
    (GaussianMixture, "n_component", "Did you mean 'n_components'"),
    (ExponentialMixture, "scale_init", "Did you mean 'scales_init'"),
    (BayesianGaussianMixture, "covariance_priors", "Did you mean 'covariance_prior'"),
    (PoissonMixture, "bogus", "PoissonMixture takes \\['accelerate'"),
]


@pytest.mark.parametrize("cls, name, advice", UNKNOWN_KEYWORDS)
def test_an_unknown_keyword_is_named_with_its_fix(cls, name, advice):
    with pytest.raises(TypeError, match=f"{cls.__name__} got an unexpected keyword argument "
                                        f"'{name}'[:.] .*{advice}"):
        cls(2, **{name: 1})
    with pytest.raises(ValueError, match=f"Invalid parameter '{name}' for {cls.__name__}.*{advice}"):
        cls(2).set_params(**{name: 1})
    # the keywords it takes still construct it: scikit-learn's clone and pickle too
    model = cls(3, random_state=0)
    for copy in (clone(model), pickle.loads(pickle.dumps(model))):
        assert copy.get_params() == model.get_params()


class _ForwardingSubclass(GaussianMixture):
    """A user's subclass that passes its other keywords on to GaussianMixture."""

    def __init__(self, tag="x", **kwargs):
        super().__init__(**kwargs)
        self.tag = tag


def test_a_subclass_that_passes_keywords_on_takes_its_parents():
    # its own signature lists tag only: its parent's keywords are not refused as unknown
    model = _ForwardingSubclass(tag="y", n_components=2, random_state=0)
    assert (model.tag, model.n_components, model.random_state) == ("y", 2, 0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'n_component'"):
        _ForwardingSubclass(n_component=2)


@pytest.mark.parametrize("family, name, advice", [
    ("gaussian", "reg_covr", "Did you mean 'reg_covar'"),
    ("poisson", "reg_covar", "min_rate, the floor of rates_"),
    ("exponential", "means_init", "initial means are scales_init"),
])
def test_select_n_components_names_an_unknown_keyword_with_its_fix(family, name, advice):
    X = np.round(np.abs(blobs(50)))
    with pytest.raises(TypeError, match=f"unexpected keyword argument '{name}'.*{advice}"):
        fastem.select_n_components(X, [1, 2], family=family, **{name: 1})


# ----------------------------------------------------------------------
# sizes: huge, negative, float or bool counts are refused before any allocation


def fitted(cls):
    X = blobs(50)
    data = {ExponentialMixture: np.abs(X), PoissonMixture: np.round(np.abs(X))}.get(cls, X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(2, random_state=0, max_iter=5).fit(data)


FAMILIES = [GaussianMixture, BayesianGaussianMixture, ExponentialMixture, PoissonMixture]
HUGE = [10**20, 2**63, 2**62, np.uint64(2**63), 10**12]


def make_demo_data(n_samples):
    return fastem.datasets.make_demo_data(n_samples)


@pytest.mark.parametrize("n_samples", HUGE)
@pytest.mark.parametrize("draw", [
    *[pytest.param(lambda n, cls=cls: fitted(cls).sample(n), id=cls.__name__) for cls in FAMILIES],
    pytest.param(make_demo_data, id="make_demo_data"),
])
def test_a_draw_beyond_the_memory_is_refused_naming_n_samples(draw, n_samples, monkeypatch):
    from fastem import _validation

    monkeypatch.setattr(_validation, "available_memory", lambda: 2**30)
    monkeypatch.setattr(_validation, "container_memory", lambda: None)
    with pytest.raises(ValueError, match=f"n_samples={int(n_samples):,} .* need about .* GiB of "
                                         r"memory, more than the 1\.0 GiB available on this "
                                         "machine: draw fewer"):
        draw(n_samples)


@pytest.mark.parametrize("n_samples", [10**20, 2**63])
def test_a_draw_beyond_numpys_largest_array_is_refused_without_a_memory_figure(n_samples, monkeypatch):
    from fastem import _validation

    monkeypatch.setattr(_validation, "available_memory", lambda: None)
    monkeypatch.setattr(_validation, "container_memory", lambda: None)
    with pytest.raises(ValueError, match="more than the largest array NumPy can allocate"):
        fitted(GaussianMixture).sample(n_samples)


@pytest.mark.parametrize("n_samples, error, message", [
    (-1, ValueError, "n_samples must be >= 0, got -1"),
    (1.5, TypeError, "n_samples must be an integer, got 1.5 of type float"),
    (True, TypeError, "n_samples must be an integer, got True of type bool"),
    ("10", TypeError, "n_samples must be an integer, got '10' of type str"),
])
def test_make_demo_data_names_a_bad_n_samples(n_samples, error, message):
    with pytest.raises(error, match=message):
        make_demo_data(n_samples)


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(dtype=np.int32), ValueError, "dtype must be numpy.float32 or numpy.float64"),
    (dict(dtype=np.float16), ValueError, "dtype must be numpy.float32 or numpy.float64"),
    (dict(random_state="seed"), TypeError, "random_state must be an int >= 0, a numpy.random.Generator"),
    (dict(random_state=-1), ValueError, "random_state must be >= 0, got -1"),
])
def test_make_demo_data_names_a_bad_dtype_or_seed(kwargs, error, message):
    with pytest.raises(error, match=message):
        fastem.datasets.make_demo_data(10, **kwargs)


@pytest.mark.parametrize("seed", [
    np.random.RandomState(0), np.random.SeedSequence(1), np.random.PCG64(2), [1, 2, 3],
], ids=["RandomState", "SeedSequence", "BitGenerator", "list"])
def test_make_demo_data_takes_every_seed_numpy_takes(seed):
    # numpy.random.default_rng takes them (a RandomState is the estimators' random_state)
    X, labels = fastem.datasets.make_demo_data(10, random_state=seed)
    assert X.shape == (10, 2) and labels.shape == (10,)



@pytest.mark.parametrize("argv, option", [
    (["demo", "--n-samples", 10**20], "--n-samples 100,000,000,000,000,000,000 demo points"),
    (["demo", "--n-samples", 10**12], "--n-samples 1,000,000,000,000 demo points"),
])
def test_the_command_line_refuses_a_size_beyond_the_memory_naming_its_option(argv, option, capsys):
    from fastem.cli import main

    assert main([str(a) for a in argv]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and option in err and f"use a smaller {argv[1]}" in err


# ----------------------------------------------------------------------
# containers: a dict, a set or a string where a list is expected


@pytest.fixture
def parts(tmp_path):
    X = blobs(50)
    paths = [str(tmp_path / f"part-{i}.npy") for i in range(2)]
    for path, part in zip(paths, np.array_split(X, 2)):
        np.save(path, part)
    table = str(tmp_path / "table.csv")
    np.savetxt(table, X, delimiter=",", header="x,y", comments="")
    return paths, table


WRONG_CONTAINERS = [
    (lambda p: fastem.Chunks(dict.fromkeys(p[0])), "chunks must be a list, got a dict, whose keys"),
    (lambda p: fastem.Chunks(set(p[0])), "chunks must be a list, got a set, whose order is arbitrary"),
    (lambda p: fastem.Chunks(5), "chunks must be a list, got 5 of type int"),
    (lambda p: fastem.Chunks(None), "chunks must be a list, got None of type NoneType"),
    (lambda p: fastem.Chunks(__import__("pandas").DataFrame(blobs(5))), "Chunks takes a list of chunks, got one DataFrame of shape"),
    (lambda p: fastem.Chunks([p[1]], columns="xy"), "columns must be a list, got one str, 'xy'"),
    (lambda p: fastem.Chunks([p[1]], columns={"y", "x"}), "columns must be a list, got a set"),
    (lambda p: fastem.Chunks([p[1]], columns={"x": 0, "y": 1}), "columns must be a list, got a dict"),
    (lambda p: fastem.Chunks(p[0], sample_weights=dict.fromkeys(p[0])), "sample_weights must be a list, got a dict"),
    (lambda p: fastem.select_n_components(blobs(50), {1: "a", 2: "b"}), "n_components must be a list, got a dict"),
    (lambda p: fastem.select_n_components(blobs(50), [1], covariance_types={"full": 1}), "covariance_types must be a list, got a dict"),
    (lambda p: fastem.load(p[0]), r"path must be one file's path .* got \[.* of type list: call fastem.load\(path\) once per file"),
    (lambda p: fastem.load(None), r"path must be one file's path .* got None of type NoneType: pass the file's path"),
    (lambda p: fastem.io.read_metadata(p[0]), r"of type list: call fastem.io.read_metadata\(path\) once per file"),
    (lambda p: fitted(GaussianMixture).save(p[0]), r"of type list: call model.save\(path\) once per file"),
    (lambda p: fastem.io.save(fitted(PoissonMixture), 3), r"got 3 of type int: pass the file's path, e.g. model.save\('model.npz'\)"),
    (lambda p: fastem.io.save(fitted(GaussianMixture), p[1] + ".npz", column_indices={1: 0, 0: 1}), "column_indices must be a list, got a dict"),
    (lambda p: fastem.io.save(fitted(GaussianMixture), p[1] + ".npz", column_indices={1, 0}), "column_indices must be a list, got a set"),
]


@pytest.mark.parametrize("call, message", WRONG_CONTAINERS)
def test_a_wrong_container_is_named_with_its_fix(call, message, parts):
    with pytest.raises(TypeError, match=message):
        call(parts)


@pytest.mark.parametrize("call, message", [
    (lambda X, m: fastem.plot.plot_clusters_2d(m, X, features={"y": 0, "x": 1}), "the pair of features must be a list, got a dict"),
    (lambda X, m: fastem.plot.plot_clusters_2d(m, X, features={1, 0}), "the pair of features must be a list, got a set"),
    (lambda X, m: fastem.plot.plot_pairs(m, X, pairs={(0, 1): "a"}), "pairs must be a list, got a dict"),
])
def test_plots_name_a_wrong_container(call, message):
    pytest.importorskip("matplotlib")
    X = np.column_stack([blobs(50), blobs(50, seed=1)])
    model = GaussianMixture(2, random_state=0).fit(X)
    with pytest.raises(TypeError, match=message):
        call(X, model)



# ----------------------------------------------------------------------
# string choices: a wrong case or a typo gets the choice it is close to

ESTIMATOR_CHOICES = [
    (cls, name, value, close)
    for cls in FAMILIES
    for name, value, close in [
        ("init_params", "Kmeans", "kmeans"),
        ("init_params", "k-means", "kmeans"),
        ("init_params", "Hierarchical", "hierarchical"),
        ("missing", "EM", "em"),
        ("missing", "Error", "error"),
        ("covariance_type", "Full", "full"),
        ("covariance_type", "diagonal", "diag"),
        ("weight_concentration_prior_type", "dirichlet", "dirichlet_process"),
        ("weight_concentration_prior_type", "Dirichlet_Distribution", "dirichlet_distribution"),
    ]
    if name in cls._get_param_names()
]


@pytest.mark.parametrize("cls, name, value, close", ESTIMATOR_CHOICES)
def test_an_estimators_string_choice_suggests_the_close_one(cls, name, value, close):
    model = fitted(cls).set_params(**{name: value})
    with pytest.raises(ValueError, match=f"{name} must be one of .*, got '{value}'.* Did you mean "
                                         f"'{close}'\\?"):
        model.fit(np.round(np.abs(blobs(50))))


@pytest.mark.parametrize("call, name, close", [
    (lambda X: fastem.select_n_components(X, [1], family="Gaussian"), "family", "gaussian"),
    (lambda X: fastem.select_n_components(X, [1], family="poison"), "family", "poisson"),
    (lambda X: fastem.select_n_components(X, [1], covariance_types=["Full"]), "covariance_types", "full"),
    (lambda X: fastem.select_n_components(X, [1], criterion="bci"), "criterion", "bic"),
    (lambda X: fastem.select_n_components(X, [1], missing="EM"), "missing", "em"),
    (lambda X: fastem.Chunks([X], mmap_mode="R"), "mmap_mode", "r"),
    (lambda X: fastem.Chunks([X], header="yes"), "header", "header=True"),
    (lambda X: fastem.Chunks([X], header="No"), "header", "header=False"),
    (lambda X: pytest.importorskip("matplotlib") and fastem.plot.explore(family="Poisson"),
     "family", "poisson"),
])
def test_a_functions_string_choice_suggests_the_close_one(call, name, close):
    quoted = close if name == "header" else f"'{close}'"
    with pytest.raises(ValueError, match=f"{name} .*Did you mean {quoted}\\?"):
        call(np.round(np.abs(blobs(50))))


# ----------------------------------------------------------------------
# plots: sizes, rules, switches and axes


@pytest.fixture
def one_and_three_features():
    pytest.importorskip("matplotlib")
    X1 = blobs(50)[:, :1]
    X3 = np.column_stack([blobs(50), blobs(50, seed=1)[:, 0]])
    return (GaussianMixture(2, random_state=0).fit(X1), X1,
            GaussianMixture(2, random_state=0).fit(X3), X3)


PLOT_ARGUMENTS = [
    (lambda m1, X1, m3, X3: fastem.plot.plot_density_1d(m1, X1, bins=10**20), ValueError,
     "bins must be at most 100,000, got 100,000,000,000,000,000,000: more bins are bars narrower"),
    (lambda m1, X1, m3, X3: fastem.plot.explore(m1, X1, bins=2**63), ValueError,
     "bins must be at most 100,000"),
    (lambda m1, X1, m3, X3: fastem.plot.plot_density_1d(m1, X1, bins="Auto"), ValueError,
     "bins must be one of .*got 'Auto'. Did you mean 'auto'"),
    (lambda m1, X1, m3, X3: fastem.plot.explore(n_components=10**20), ValueError,
     "explore draws sliders for at most 20 components, got n_components=100,000,000,000,"),
    (lambda m1, X1, m3, X3: fastem.plot.plot_clusters_2d(m3, X3, legend="no"), TypeError,
     "legend must be True or False, got 'no'"),
    (lambda m1, X1, m3, X3: fastem.plot.plot_density_1d(m1, X1, ax=1), TypeError,
     "ax must be a matplotlib Axes, got 1 of type int"),
    (lambda m1, X1, m3, X3: fastem.plot.plot_clusters_2d(m3, X3, ax="left"), TypeError,
     "ax must be a matplotlib Axes, got 'left'"),
    (lambda m1, X1, m3, X3: fastem.plot.plot_lower_bounds(m3, ax=[1]), TypeError,
     "ax must be a matplotlib Axes, got \\[1\\] of type list"),
    (lambda m1, X1, m3, X3: fastem.plot.plot_pairs(m3, X3, axes=[1, 2, 3]), TypeError,
     "each entry of axes must be a matplotlib Axes, got 1 of type int"),
]


@pytest.mark.parametrize("call, error, message", PLOT_ARGUMENTS)
def test_plot_arguments_are_named_with_their_fix(call, error, message, one_and_three_features):
    with pytest.raises(error, match=message):
        call(*one_and_three_features)


@pytest.mark.parametrize("argv, close", [
    (["fit", "data.csv", "-k", "2", "--covariance", "Full", "-o", "m.npz"], "full"),
    (["fit", "data.csv", "-k", "2", "--family", "Poison", "-o", "m.npz"], "poisson"),
    (["fit", "data.csv", "-k", "2", "--missing", "EM", "-o", "m.npz"], "em"),
    (["fit", "data.csv", "-k", "2", "--bayesian", "dirichlet", "-o", "m.npz"], "dirichlet_process"),
    (["select", "data.csv", "--criterion", "BIC"], "bic"),
    (["fitt", "data.csv"], "fit"),
])
def test_the_command_line_suggests_the_close_choice(argv, close, capsys):
    from fastem.cli import main

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice" in err and f"Did you mean '{close}'?" in err


@pytest.mark.parametrize("method", ["fit", "predict", "score_samples", "summarize"])
@pytest.mark.parametrize("X, message", [
    ({"a": np.arange(5.0), "b": np.arange(5.0)}, r"X must be an array .* got a dict\. .*pd\.DataFrame\(X\)"),
    ({1.0, 2.0, 3.0}, r"X must be an array .* got a set\. .*np\.array\(sorted\(X\)\)"),
])
def test_data_given_as_a_dict_or_set_is_named(method, X, message):
    """A dict of columns was read as chunks, its keys as file paths."""
    model = fitted(GaussianMixture) if method != "fit" else GaussianMixture(2)
    with pytest.raises(TypeError, match=message):
        getattr(model, method)(X)


@pytest.mark.parametrize("call", [
    lambda w: GaussianMixture(2).fit(blobs(50), sample_weight=w),
    lambda w: fitted(GaussianMixture).score(blobs(50), sample_weight=w),
    lambda w: fitted(PoissonMixture).summarize(np.round(np.abs(blobs(50))), sample_weight=w),
    lambda w: fastem.select_n_components(blobs(50), [1], sample_weight=w),
])
@pytest.mark.parametrize("weights, message", [
    (dict.fromkeys(range(100), 1.0), "sample_weight must be a list, got a dict, whose keys"),
    (set(range(100)), "sample_weight must be a list, got a set, whose order is arbitrary"),
])
def test_sample_weight_given_as_a_dict_or_set_is_named(call, weights, message):
    with pytest.raises(TypeError, match=message):
        call(weights)


@pytest.mark.parametrize("n_samples", ["3", "0"])
def test_the_demo_asks_for_a_point_per_component(n_samples, capsys):
    """It fits 4 components, which --n-samples 3 left to the fit's 'use fewer components'."""
    from fastem.cli import main

    assert main(["demo", "--n-samples", n_samples]) == 2
    assert "--n-samples: must be >= 4, a point for each of the demo mixture's 4 components" in (
        capsys.readouterr().err)
