"""Values given after the fit are taken as the fit takes them: a fitted parameter assigned
(``model.means_ = ...``) or read from scikit-learn is converted as ``means_init`` is, and a
whole number that float64 would round, or a value beyond float64's range, is refused
naming it, not rounded or made infinite; a ``Decimal``, a long double or a command-line
number beyond float64's range is named as such, not as "infinite"."""

import copy
import decimal
import fractions
import pickle
import warnings

import numpy as np
import pytest

from fastem import (
    BayesianGaussianMixture,
    ExponentialMixture,
    GaussianMixture,
    PoissonMixture,
    load,
)
from fastem.cli import main

BIG = 2**53 + 1  # float64 reads it as 2**53


def data(cls):
    X = np.abs(np.random.default_rng(0).normal(3, 1, (200, 2)))
    return np.round(X) if cls is PoissonMixture else X


def fitted(cls, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(2, random_state=0, max_iter=5, **kwargs).fit(data(cls))


FAMILIES = [
    pytest.param(GaussianMixture, id="gaussian"),
    pytest.param(BayesianGaussianMixture, id="bayesian"),
    pytest.param(ExponentialMixture, id="exponential"),
    pytest.param(PoissonMixture, id="poisson"),
]


def with_big(value, kind):
    """The parameter ``value`` with BIG as its first entry, as ``kind``."""
    entries = np.asarray(value, dtype=np.float64).tolist()
    flat = entries
    while isinstance(flat[0], list):
        flat = flat[0]
    flat[0] = BIG
    if kind == "list beside floats":  # NumPy would make float64 of it, rounding BIG
        return entries
    if kind == "int64":
        return np.vectorize(int, otypes=[object])(np.array(entries, dtype=object)).astype(np.int64)
    if kind == "long double":
        return np.array(entries, dtype=object).astype(np.longdouble)
    convert = decimal.Decimal if kind == "Decimal" else fractions.Fraction
    return np.vectorize(lambda v: convert(int(v)) if v == BIG else convert(v),
                        otypes=[object])(np.array(entries, dtype=object))


KINDS = ["list beside floats", "int64", "Decimal", "Fraction", "long double"]

USES = {
    "predict": lambda m, X: m.predict(X),
    "score_samples": lambda m, X: m.score_samples(X),
    "sample": lambda m, X: m.sample(3),
    "save": lambda m, X: m.save("unused.npz"),
    "warm_start fit": lambda m, X: m.set_params(warm_start=True).fit(X),
}


@pytest.mark.parametrize("cls", FAMILIES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("use", list(USES))
def test_an_assigned_whole_number_that_float64_rounds_is_refused(cls, kind, use, tmp_path,
                                                                  monkeypatch):
    if kind == "long double" and np.finfo(np.longdouble).nmant <= 52:
        pytest.skip("long double is float64 here")
    monkeypatch.chdir(tmp_path)
    X = data(cls)
    for name in fitted(cls)._parameter_names:
        model = fitted(cls)
        if getattr(model, name).ndim == 0:
            continue
        setattr(model, name, with_big(getattr(model, name), kind))
        refused = pytest.raises(
            ValueError, match=f"{name} holds 9007199254740993 at index .*float64 cannot hold")
        with refused, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            USES[use](model, X)
    assert not (tmp_path / "unused.npz").exists()


@pytest.mark.parametrize("cls", FAMILIES)
def test_assigned_values_that_float64_holds_are_converted(cls):
    """As ``means_init`` takes them: lists and ``Decimal`` entries become float64."""
    model = fitted(cls)
    X = data(cls)
    # not a variational mixture's weight_concentration_, of which its weights_ are a function
    name = "means_" if "means_" in model._parameter_names else model._parameter_names[1]
    value = getattr(model, name)
    exact = np.round(value * 4) / 4  # quarters: held exactly by any float
    setattr(model, name, exact)
    expected = model.score_samples(X)
    for given in (exact.tolist(), [[decimal.Decimal(str(v)) for v in row] for row in exact]
                  if exact.ndim == 2 else exact.tolist()):
        setattr(model, name, given)
        assert getattr(model, name).dtype == np.float64
        np.testing.assert_array_equal(model.score_samples(X), expected)


def test_a_masked_entry_assigned_is_not_read():
    model = fitted(GaussianMixture)
    model.means_ = np.ma.masked_array(model.means_, mask=[[True, False], [False, False]])
    with pytest.raises(ValueError, match="means_ contains NaN"):
        model.predict(data(GaussianMixture))


@pytest.mark.parametrize("cls", FAMILIES)
def test_an_assigned_decimal_beyond_float64_is_named_out_of_range(cls):
    model = fitted(cls)
    name = model._parameter_names[1]
    value = getattr(model, name).astype(object)
    value.flat[0] = decimal.Decimal("1e400")
    setattr(model, name, value)
    with pytest.raises(ValueError, match=rf"{name} holds 1e\+400 at index .*beyond the range "
                                         "of float64"):
        model.predict(data(cls))


@pytest.mark.parametrize("where", ["X", "sample_weight", "means_init", "weights_init"])
def test_a_decimal_beyond_float64_is_named_out_of_range_not_infinite(where):
    """A ``Decimal`` has no largest value: beyond float64's it was refused as
    "NaN or infinite", as if the user had given an infinity."""
    X = data(GaussianMixture).astype(object)
    kwargs, fit_kwargs = {}, {}
    huge = decimal.Decimal("1e400")
    if where == "X":
        X[5, 1] = huge
    elif where == "sample_weight":
        fit_kwargs["sample_weight"] = [huge] + [decimal.Decimal(1)] * (len(X) - 1)
    elif where == "means_init":
        kwargs["means_init"] = [[huge, 0], [1, 1]]
    else:
        kwargs["weights_init"] = [huge, decimal.Decimal(1)]
    with pytest.raises(ValueError, match=r"holds 1e\+400 .*beyond the range of float64") as info:
        GaussianMixture(2, **kwargs).fit(X, **fit_kwargs)
    assert "NaN or infinite" not in str(info.value) and where in str(info.value)


@pytest.mark.skipif(np.finfo(np.longdouble).max <= np.finfo(np.float64).max,
                    reason="long double is float64 here")
@pytest.mark.parametrize("name", ["tol", "reg_covar"])
def test_a_long_double_hyper_parameter_beyond_float64_is_named_out_of_range(name):
    value = np.longdouble(10) ** 400
    with pytest.raises(ValueError, match=rf"{name} is 1e\+400, beyond the range of float64"):
        GaussianMixture(2, **{name: value}).fit(data(GaussianMixture))


def test_from_sklearn_refuses_what_float64_would_round():
    mixture = pytest.importorskip("sklearn.mixture")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator = mixture.BayesianGaussianMixture(n_components=2, random_state=0).fit(
            data(GaussianMixture))
    estimator.means_ = with_big(estimator.means_, "Decimal")
    with pytest.raises(ValueError, match="means_ holds 9007199254740993 at index"):
        BayesianGaussianMixture.from_sklearn(estimator)


@pytest.mark.parametrize("option", ["--tol", "--reg-covar"])
@pytest.mark.parametrize("value", ["1e400", "-1e400", "2e308"])
def test_a_command_line_number_beyond_float64_is_named_out_of_range(option, value, tmp_path,
                                                                     capsys):
    np.save(tmp_path / "X.npy", data(GaussianMixture))
    status = main(["fit", str(tmp_path / "X.npy"), "-k", "1", f"{option}={value}",
                   "-o", str(tmp_path / "m.npz")])
    err = capsys.readouterr().err
    assert status != 0 and f"argument {option}" in err, err
    assert ("beyond the range of float64" in err) != value.startswith("-"), err
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("cls", FAMILIES)
@pytest.mark.parametrize("use", list(USES))
def test_an_assigned_none_is_named_as_absent(cls, use, tmp_path, monkeypatch):
    """``model.means_ = None`` is read back as None and named at every use, not taken as a
    0-d NaN array ("has shape ()") nor failing inside another attribute."""
    monkeypatch.chdir(tmp_path)
    X = data(cls)
    for name in fitted(cls)._parameter_names:
        model = fitted(cls)
        setattr(model, name, None)
        assert getattr(model, name) is None
        with pytest.raises(ValueError, match=rf"{cls.__name__} has no {name} \(it is None\)"):
            USES[use](model, X)
    assert not (tmp_path / "unused.npz").exists()


NONE_INITS = [
    pytest.param(GaussianMixture, "means_init", [[None, 1.0], [2.0, 3.0]], r"\(0, 0\)", id="means_init"),
    pytest.param(GaussianMixture, "weights_init", [0.5, None], "1", id="weights_init"),
    pytest.param(GaussianMixture, "precisions_init", [[[1.0, 0.0], [0.0, None]]] * 2, r"\(0, 1, 1\)",
                 id="precisions_init"),
    pytest.param(BayesianGaussianMixture, "mean_prior", [None, 1.0], "0", id="mean_prior"),
    pytest.param(BayesianGaussianMixture, "covariance_prior", [[1.0, None], [None, 1.0]], r"\(0, 1\)",
                 id="covariance_prior"),
    pytest.param(ExponentialMixture, "scales_init", [[1.0, None], [2.0, 3.0]], r"\(0, 1\)",
                 id="scales_init"),
    pytest.param(PoissonMixture, "rates_init", [[1.0, 2.0], [None, 3.0]], r"\(1, 0\)",
                 id="rates_init"),    pytest.param(GaussianMixture, "means_init", None, "", id="pd.NA"),
]


@pytest.mark.parametrize("cls, name, value, index", NONE_INITS)
def test_a_none_entry_of_an_initial_parameter_is_named(cls, name, value, index):
    """A None entry is refused with its index, not cast to NaN and blamed as a NaN; so is
    pandas' pd.NA."""
    if value is None:
        pd = pytest.importorskip("pandas")
        value, index, missing = [[1.0, 2.0], [3.0, pd.NA]], r"\(1, 1\)", "pd.NA"
    else:
        missing = "None"
    with pytest.raises(TypeError, match=rf"{name} holds {missing} at index {index} "):
        cls(2, random_state=0, **{name: value}).fit(data(cls))


@pytest.mark.parametrize("cls", FAMILIES)
def test_an_assigned_parameter_with_a_none_entry_is_named(cls):
    model = fitted(cls)
    name = model._parameter_names[1]
    value = getattr(model, name).astype(object)
    value.flat[0] = None
    setattr(model, name, value)
    with pytest.raises(ValueError, match=rf"{name} holds None at index "):
        model.predict(data(cls))


# ----------------------------------------------------------------------
# parameters that assigned ones determine


def separated(dtype=np.float64):
    X = np.random.default_rng(3).normal(size=(200, 2))
    X[:100] += 5.0
    return X.astype(dtype)


@pytest.mark.parametrize("cls", [GaussianMixture, BayesianGaussianMixture])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_an_m_step_derives_the_precisions_from_their_factors_once(cls, covariance_type,
                                                                   monkeypatch):
    """The M-step sets the precision factors with the precisions it computed: assigning
    the factors derived the precisions again (of the order of n_components *
    n_features**3, 0.05 s of each M-step at 20 components of 200 features), which the
    M-step then replaced."""
    from fastem.families import gaussian

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = cls(2, covariance_type=covariance_type, random_state=0, max_iter=3).fit(
            separated())
    stats = model.summarize(separated())
    calls = []
    compute = gaussian.precisions_from_cholesky
    monkeypatch.setattr(gaussian, "precisions_from_cholesky",
                        lambda *args: calls.append(1) or compute(*args))
    model.m_step(stats)
    assert len(calls) == 1
    if cls is GaussianMixture:
        calls.clear()
        model.partial_fit(separated()[:50])
        assert len(calls) == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_a_model_set_from_precision_factors_alone_derives_its_covariances(
        covariance_type, dtype, tmp_path):
    """Code written for scikit-learn's estimator sets weights_, means_ and
    precisions_cholesky_, from which that estimator predicts. Such a model was refused
    by every method ("has no covariances_"); the covariances now follow from the
    factors, and the model predicts as scikit-learn's, samples, saves and loads."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    X = separated()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = SkGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    model = GaussianMixture(2, covariance_type=covariance_type)
    for name in ("weights_", "means_", "precisions_cholesky_"):
        setattr(model, name, getattr(reference, name).astype(dtype))
    for name in ("n_features_in_", "converged_", "n_iter_", "lower_bound_"):
        setattr(model, name, getattr(reference, name))
    model.lower_bounds_ = [reference.lower_bound_]
    assert model.covariances_.dtype == model.precisions_.dtype == dtype
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(model.covariances_, reference.covariances_, rtol=tolerance)
    np.testing.assert_allclose(model.score_samples(X), reference.score_samples(X),
                               rtol=tolerance)
    assert model.sample(5)[0].dtype == dtype
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(load(tmp_path / "m.npz").score_samples(X),
                                  model.score_samples(X))
    np.testing.assert_allclose(model.to_sklearn().score_samples(X), reference.score_samples(X),
                               rtol=tolerance)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_lower_precision_factors_alone_are_refused(covariance_type):
    """Lower factors (np.linalg.cholesky's) of a model without covariances: the
    covariances and precisions derived from their upper triangles (their diagonals),
    which the kernels read, would agree with them and the model would predict from
    other precisions than the factors'. They are refused, naming the triangle."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    X = separated()
    reference = SkGaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    model = GaussianMixture(2, covariance_type=covariance_type)
    model.weights_, model.means_ = reference.weights_, reference.means_
    model.precisions_cholesky_ = np.linalg.cholesky(reference.precisions_)
    model.n_features_in_ = 2
    with pytest.raises(ValueError, match=r"'precisions_cholesky_' is not upper-triangular.*"
                                         r"must be upper-triangular factors U"):
        model.predict(X)
    # so are entries below the diagonal of a fitted model's factors, whose upper triangles
    # agree with its covariances: scikit-learn's estimator would compute with them
    fitted_model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    factors = fitted_model.precisions_cholesky_.copy()
    factors[..., 1, 0] = 0.5
    fitted_model.precisions_cholesky_ = factors
    with pytest.raises(ValueError, match="'precisions_cholesky_' is not upper-triangular"):
        fitted_model.predict(X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("prior", ["dirichlet_process", "dirichlet_distribution"])
def test_assigned_weight_concentrations_carry_their_expected_weights(prior, dtype, tmp_path):
    """weight_concentration_ assigned alone was refused beside the old weights_ (which
    scikit-learn's estimator ignores in its predictions), with the advice to assign the
    covariance parameters together. weights_ follows the concentrations, as precisions_
    follows precisions_cholesky_, and the model predicts as scikit-learn's."""
    X = separated(dtype)
    kwargs = dict(n_components=2, weight_concentration_prior_type=prior, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BayesianGaussianMixture(**kwargs).fit(X)
    concentration = model.weight_concentration_.copy()
    concentration[..., 0] += 30
    model.weight_concentration_ = concentration
    assert model.weights_.dtype == dtype
    np.testing.assert_allclose(model.weights_, model._expected_weights(
        concentration.astype(np.float64)), rtol=1e-6)
    reference = model.to_sklearn()
    np.testing.assert_allclose(model.score_samples(X), reference.score_samples(X),
                               rtol=1e-4 if dtype == np.float32 else 1e-10)
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(load(tmp_path / "m.npz").predict(X), model.predict(X))


def test_weights_that_disagree_with_the_concentrations_are_advised_on_the_weights(tmp_path):
    """The advice named covariances_, precisions_ and precisions_cholesky_, none of
    which was wrong."""
    X = separated()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BayesianGaussianMixture(2, random_state=0).fit(X)
    model.weights_ = model.weights_[::-1]
    for use in (lambda: model.predict(X), lambda: model.save(tmp_path / "m.npz"),
                lambda: model.to_sklearn()):
        with pytest.raises(ValueError, match="weights_' disagrees with 'weight_concentration_'"
                           ".*assign weight_concentration_ alone") as refused:
            use()
        assert "covariances_" not in str(refused.value)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_assigned_exponential_rates_set_the_scales(dtype):
    """ExponentialMixture.rates_ (1 / scales_) could be read but not assigned: NumPy's
    "property 'rates_' of 'ExponentialMixture' object has no setter". Assigned rates set
    the scales the model holds; rates that no scale inverts are refused, naming them."""
    X = data(ExponentialMixture).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged
        model = ExponentialMixture(2, random_state=0, max_iter=5).fit(X)
    expected = copy.deepcopy(model)
    rates = np.array([[2.0, 0.5], [0.25, 4.0]], dtype=dtype)
    model.rates_ = rates
    assert model.scales_.dtype == dtype
    np.testing.assert_array_equal(model.scales_, 1 / rates)
    expected.scales_ = 1 / rates
    np.testing.assert_array_equal(model.score_samples(X), expected.score_samples(X))
    model.rates_ = rates.tolist()
    assert model.scales_.dtype == np.float64
    for bad in ([[0.0, 1.0], [1.0, 1.0]], [[-1.0, 1.0], [1.0, 1.0]], [[np.nan, 1.0], [1.0, 1.0]]):
        with pytest.raises(ValueError, match="rates_ must be positive and finite"):
            model.rates_ = bad


def test_loaded_and_converted_weights_are_kept_as_stored(tmp_path):
    """load and from_sklearn set the parameters together: a file's or an estimator's
    weights_ are kept as stored, not derived again from weight_concentration_ (which in
    float32 rounds otherwise)."""
    from sklearn.mixture import BayesianGaussianMixture as SkBayesian

    X = np.random.default_rng(0).normal(size=(300, 3))
    X[:100] += 5.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = BayesianGaussianMixture(4, random_state=0).fit(X.astype(np.float32))
        reference = SkBayesian(n_components=4, random_state=0).fit(X)
    model.save(tmp_path / "m.npz")
    loaded = load(tmp_path / "m.npz")
    for name in model._parameter_names:
        np.testing.assert_array_equal(getattr(loaded, name), getattr(model, name), err_msg=name)
    converted = BayesianGaussianMixture.from_sklearn(reference)
    np.testing.assert_array_equal(converted.weights_, reference.weights_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_precision_factors_assigned_alone_again_derive_the_covariances_again(
        covariance_type, dtype):
    """A model given weights_, means_ and precisions_cholesky_ alone derives its
    covariances from the factors: factors assigned alone again (a loop of hand-made
    M-steps, another model's) derive them again, before and after pickling, rather than
    being refused for disagreeing with covariances the user never assigned. Covariances
    the user assigned are kept and checked against the factors, as a fit's are."""
    X = separated()
    first, second = (
        GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(
            (X * scale).astype(dtype))
        for scale in (1.0, 2.0))
    tolerance = 1e-5 if dtype == np.float32 else 1e-10
    model = GaussianMixture(2, covariance_type=covariance_type)
    model.weights_, model.means_ = first.weights_, first.means_
    model.n_features_in_ = 2
    model.precisions_cholesky_ = first.precisions_cholesky_
    model.precisions_cholesky_ = second.precisions_cholesky_
    np.testing.assert_allclose(model.covariances_, second.covariances_, rtol=tolerance)
    assert model.covariances_.dtype == dtype
    model.score(X)
    model = pickle.loads(pickle.dumps(model))
    model.precisions_cholesky_ = first.precisions_cholesky_
    np.testing.assert_allclose(model.covariances_, first.covariances_, rtol=tolerance)
    model.score(X)
    model.covariances_ = first.covariances_  # assigned: kept from now on
    model.precisions_cholesky_ = second.precisions_cholesky_
    with pytest.raises(ValueError, match="'covariances_' is not the inverse of 'precisions_'"):
        model.score(X)
