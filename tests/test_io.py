"""Model files, pickling, the scikit-learn converters and the fit callback."""

import copy
import functools
import json
import os
import pickle
import re
import stat
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastem
from fastem import io as fastem_io
from fastem.datasets import make_demo_data
from streams import read_in_thread


@pytest.fixture(scope="module")
def data():
    return make_demo_data(1000, random_state=1)[0]


def _fit(X, covariance_type="full", dtype=np.float64, **kwargs):
    return fastem.GaussianMixture(
        3, covariance_type=covariance_type, random_state=0, max_iter=20, **kwargs
    ).fit(X.astype(dtype))


@functools.lru_cache(maxsize=None)
def _fitted(covariance_type="full", dtype=np.float64):
    """A shared fitted model; tests that change it take a deep copy."""
    return _fit(make_demo_data(1000, random_state=1)[0], covariance_type, dtype, tol=1e-2)


def _other_families():
    """Families besides Gaussian that this fastem provides, with positive test data."""
    rng = np.random.default_rng(0)
    found = []
    for name, X in (
        ("ExponentialMixture", rng.exponential([[1.0, 2.0]], size=(2000, 2))),
        ("PoissonMixture", rng.poisson([[2.0, 9.0]], size=(2000, 2)).astype(np.float64)),
    ):
        if hasattr(fastem, name):
            found.append(pytest.param(getattr(fastem, name), X, id=name))
    return found or [pytest.param(None, None, marks=pytest.mark.skip("no other families yet"))]


def _assert_same_model(a, b, X):
    assert type(a) is type(b)
    assert a.get_params().keys() == b.get_params().keys()
    for name in a._parameter_names:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape
        assert x.tobytes() == y.tobytes(), name  # bitwise, NaN-safe
    for name in ("n_features_in_", "converged_", "n_iter_", "lower_bound_", "lower_bounds_"):
        assert getattr(a, name) == getattr(b, name), name
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(a.score_samples(X), b.score_samples(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_round_trip_is_exact(data, tmp_path, covariance_type, dtype):
    model = _fitted(covariance_type, dtype)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = fastem.load(path)
    _assert_same_model(model, loaded, data.astype(dtype))
    assert loaded.covariance_type == covariance_type
    assert loaded.means_.dtype == dtype


@pytest.mark.parametrize("cls, X", _other_families())
def test_round_trip_other_families(tmp_path, cls, X):
    # One-component data: two components merge slowly, so a looser tol.
    model = cls(2, random_state=0, tol=1e-4).fit(X)
    model.save(tmp_path / "m.npz")
    _assert_same_model(model, fastem.load(tmp_path / "m.npz"), X)


def test_file_is_readable_with_numpy_alone(data, tmp_path):
    model = _fit(data, means_init=[[0, 0], [6, 4], [-5, 5]])
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        meta = json.loads(str(f["metadata"]))
        np.testing.assert_array_equal(f["means_"], model.means_)
        np.testing.assert_array_equal(f["hyper__means_init"], [[0, 0], [6, 4], [-5, 5]])
    assert meta["format"] == "fastem-mixture"
    assert meta["format_version"] == 1  # a fitted model; a stepped one is written as version 2
    assert meta["fastem_version"] == fastem.__version__
    assert meta["class"] == "GaussianMixture"
    assert meta["hyper_parameters"]["n_components"] == 3
    assert meta["hyper_parameters"]["covariance_type"] == "full"
    assert meta["dtype"] == "float64"
    assert meta["n_features_in"] == 2
    assert meta["lower_bounds"] == model.lower_bounds_
    np.testing.assert_array_equal(fastem.load(tmp_path / "m.npz").means_init, model.means_init)


def test_unsaveable_hyper_parameters_are_recorded(data, tmp_path):
    model = copy.deepcopy(_fitted())
    model.set_params(callback=print, random_state=np.random.RandomState(0))
    model.save(tmp_path / "m.npz")
    meta = fastem_io.read_metadata(tmp_path / "m.npz")
    assert sorted(meta["not_saved"]) == ["callback", "random_state"]
    loaded = fastem.load(tmp_path / "m.npz")
    assert loaded.callback is None and loaded.random_state is None


def _rewrite_metadata(path, **changes):
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["metadata"]))
    meta.update(changes)
    arrays["metadata"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def test_future_format_version_is_refused(data, tmp_path):
    path = tmp_path / "m.npz"
    _fitted().save(path)
    _rewrite_metadata(path, format_version=fastem_io.FORMAT_VERSION + 1)
    with pytest.raises(ValueError, match="format version 2.*Upgrade fastem"):
        fastem.load(path)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"not a zip file at all", "not a fastem model file"),
        (None, "no 'metadata' entry"),
    ],
)
def test_files_that_are_not_models_are_refused(tmp_path, content, match):
    path = tmp_path / "m.npz"
    if content is None:
        np.savez(path, weights_=np.ones(2))
    else:
        path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        fastem.load(path)


def test_unknown_class_is_refused(data, tmp_path):
    path = tmp_path / "m.npz"
    _fitted().save(path)
    _rewrite_metadata(path, **{"class": "CauchyMixture"})
    with pytest.raises(ValueError, match="'CauchyMixture' model"):
        fastem.load(path)


@pytest.mark.parametrize("name", ["BaseMixture", "Chunks", "SufficientStatistics", "load",
                                  "ConvergenceWarning", "__version__"])
def test_a_class_that_is_no_family_is_refused(tmp_path, name):
    """A name fastem has that is not a mixture family (BaseMixture, the base they
    share, fits nothing) is refused in one line naming the file, not built."""
    path = tmp_path / "m.npz"
    _fitted().save(path)
    _rewrite_metadata(path, **{"class": name})
    message = f"{str(path)!r} holds no family's model: its class is {name!r}, which is not one"
    with pytest.raises(ValueError, match="^" + re.escape(message)):
        fastem.load(path)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        fastem.load(tmp_path / "nope.npz")


def test_interrupted_write_keeps_the_old_file(data, tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    old = _fitted("diag")
    old.save(path)
    before = path.read_bytes()

    def failing_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a zip archive")
        raise OSError("No space left on device")

    monkeypatch.setattr(fastem_io.np, "savez", failing_savez)
    with pytest.raises(OSError, match="No space left"):
        _fitted("full").save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]
    _assert_same_model(old, fastem.load(path), data)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_save_to_a_fifo_or_a_device_writes_into_it(data, tmp_path):
    """A FIFO was refused as 'not a regular file': the model is written into it, and the
    FIFO stays one; /dev/null takes a model too, and stays a device."""
    model = _fitted("diag")
    fifo = tmp_path / "m.npz"
    os.mkfifo(fifo)
    finish = read_in_thread(fifo)
    try:
        model.save(fifo)
    finally:
        received = finish()
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    copy = tmp_path / "copy.npz"
    copy.write_bytes(received)
    _assert_same_model(model, fastem.load(copy), data)
    if os.path.exists("/dev/null"):
        model.save("/dev/null")
        assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_load_from_a_fifo_says_to_save_the_stream_to_a_file(tmp_path):
    """A model saved to a stream cannot be loaded from one (an .npz archive is read from
    its end): the refusal says to save the stream to a file. Before, it said only to pass
    a file written by model.save() or 'fastem fit -o', which the stream's model was."""
    fifo = tmp_path / "m.npz"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match=r"is a FIFO.*save the stream to one first"):
        fastem.load(fifo)


def test_save_over_a_read_only_model_file_is_refused(data, tmp_path, monkeypatch):
    """A model file made read-only (chmod a-w) to keep it was replaced by save all the
    same, since a rename needs only the directory's permission ('fastem fit -o' refused
    it). ``os.access`` checks the owner's bits here, as for a user other than root."""
    path = tmp_path / "m.npz"
    old = _fitted("diag")
    old.save(path)
    os.chmod(path, 0o444)
    before = path.read_bytes()
    monkeypatch.setattr(os, "access", lambda p, mode: not mode & os.W_OK
                        or bool(os.stat(p).st_mode & stat.S_IWUSR))
    with pytest.raises(PermissionError, match="read-only; make it writable") as info:
        _fitted("full").save(path)
    assert repr(str(path)) in str(info.value)
    monkeypatch.undo()
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["m.npz"]


@pytest.mark.parametrize("mode", ["wb", "w", "rb"])
def test_a_file_object_for_a_path_is_refused_with_its_path_to_pass(tmp_path, mode):
    """A file object, which iterates over its lines, was told to 'call model.save(path)
    once per file', as a list of paths is."""
    path = tmp_path / "m.npz"
    _fitted("diag").save(path)
    with open(path, mode) as f:
        with pytest.raises(TypeError, match="opened by its path") as info:
            (fastem.load if "r" in mode else _fitted("diag").save)(f)
    assert repr(str(path)) in str(info.value) and "once per file" not in str(info.value)


def test_saved_file_has_the_usual_permissions(tmp_path):
    path = tmp_path / "m.npz"
    _fitted().save(path)
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~umask


def test_save_unfitted_model_fails(tmp_path):
    with pytest.raises(AttributeError, match="not fitted"):
        fastem.GaussianMixture(2).save(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pickle_round_trip(data, dtype):
    model = _fitted("tied", dtype)
    _assert_same_model(model, pickle.loads(pickle.dumps(model)), data.astype(dtype))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_sklearn_round_trip(data, covariance_type):
    pytest.importorskip("sklearn")
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

    model = _fitted(covariance_type)
    estimator = model.to_sklearn()
    assert isinstance(estimator, SklearnGaussianMixture)
    np.testing.assert_array_equal(estimator.predict(data), model.predict(data))
    np.testing.assert_allclose(estimator.score_samples(data), model.score_samples(data), rtol=1e-10)
    # the estimator fits again in scikit-learn (cross-validation, GridSearchCV, warm starts)
    from sklearn.base import clone

    assert model.init_params == "hierarchical" and estimator.init_params == "kmeans"
    clone(estimator).fit(data)
    estimator.set_params(warm_start=True).fit(data)

    fitted = SklearnGaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(data)
    back = fastem.GaussianMixture.from_sklearn(fitted)
    assert back.covariance_type == covariance_type
    np.testing.assert_array_equal(back.predict(data), fitted.predict(data))
    np.testing.assert_allclose(back.predict_proba(data), fitted.predict_proba(data), atol=1e-10)
    again = back.to_sklearn()
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        np.testing.assert_array_equal(getattr(again, name), getattr(fitted, name))


@pytest.mark.parametrize("family", ["GaussianMixture", "BayesianGaussianMixture"])
@pytest.mark.parametrize("assigned", [None, ("x", "y"), ["x", "y"], np.array(["x", "y"])])
def test_to_sklearn_gives_the_names_as_scikit_learn_sets_them(data, family, assigned):
    """feature_names_in_ assigned as a tuple (which predict, save and load take) failed in
    to_sklearn with "'tuple' object has no attribute 'copy'"; a list or an array of NumPy
    strings reached the estimator as it was. The estimator gets an object array of its own,
    as scikit-learn's fit sets it."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    frame = pd.DataFrame(data[:300], columns=["x", "y"])
    model = getattr(fastem, family)(n_components=2, random_state=0, max_iter=5, tol=1e-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged in 5 iterations
        model.fit(frame)
    if assigned is not None:
        model.feature_names_in_ = assigned
    estimator = model.to_sklearn()
    names = estimator.feature_names_in_
    assert isinstance(names, np.ndarray) and names.dtype == object
    assert names.tolist() == ["x", "y"] and names is not model.feature_names_in_
    np.testing.assert_array_equal(estimator.predict(frame), model.predict(frame))
    with pytest.raises(ValueError, match="same order as they were in fit"):
        estimator.predict(frame[["y", "x"]])


@pytest.mark.parametrize("family", ["GaussianMixture", "BayesianGaussianMixture"])
@pytest.mark.parametrize("direction", ["from_sklearn", "to_sklearn"])
def test_names_set_to_none_convert_as_no_names(data, family, direction):
    """feature_names_in_ set to None is no names to scikit-learn's checks and to fastem's
    (predict of a DataFrame warns that the model was fitted without names) and to save.
    from_sklearn made it an array of None, which every method then refused ("feature_names_in_
    is array(None, dtype=object), not a list of 2 strings"), and to_sklearn gave the
    estimator that array. Now the converted model or estimator has no names."""
    pd = pytest.importorskip("pandas")
    mixture = pytest.importorskip("sklearn.mixture")
    frame = pd.DataFrame(data[:300], columns=["x", "y"])
    source = (getattr(mixture, family) if direction == "from_sklearn"
              else getattr(fastem, family))(n_components=2, random_state=0, max_iter=5, tol=1e-1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged in 5 iterations
        source.fit(frame)
    source.feature_names_in_ = None
    converted = (getattr(fastem, family).from_sklearn(source) if direction == "from_sklearn"
                 else source.to_sklearn())
    assert not hasattr(converted, "feature_names_in_")
    np.testing.assert_array_equal(converted.predict(frame.to_numpy()),
                                  source.predict(frame.to_numpy()))
    with pytest.warns(UserWarning, match="fitted without feature names"):
        converted.predict(frame)


@pytest.mark.parametrize("family", ["GaussianMixture", "BayesianGaussianMixture"])
def test_from_sklearn_gives_the_lower_bounds_as_floats(tmp_path, data, family):
    """As a fit and a model file give them: a GaussianMixture's were scikit-learn's NumPy
    float64 scalars, whose type (and repr) save and load changed."""
    mixture = pytest.importorskip("sklearn.mixture")

    estimator = getattr(mixture, family)(n_components=2, max_iter=5, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not converged in 5 iterations
        estimator.fit(data[:300])
    model = getattr(fastem, family).from_sklearn(estimator)
    assert type(model.lower_bound_) is float and model.lower_bound_ == estimator.lower_bound_
    assert all(type(v) is float for v in model.lower_bounds_)
    assert model.lower_bounds_ == [float(v) for v in estimator.lower_bounds_]
    model.save(tmp_path / "m.npz")
    loaded = fastem.load(tmp_path / "m.npz")
    assert repr(loaded.lower_bound_) == repr(model.lower_bound_)
    assert repr(loaded.lower_bounds_) == repr(model.lower_bounds_)


@pytest.mark.parametrize("family", ["GaussianMixture", "BayesianGaussianMixture"])
def test_to_sklearn_without_scikit_learn_says_to_install_it(monkeypatch, data, family):
    # scikit-learn is not a dependency: without it, to_sklearn raised only
    # "No module named 'sklearn'" from inside fastem.io
    with warnings.catch_warnings():  # max_iter=5 may cut a move short, which is said
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        model = getattr(fastem, family)(2, max_iter=5, tol=1e-2, random_state=0).fit(data[:300])
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.mixture", None)
    with pytest.raises(ImportError, match=rf"{family}\.to_sklearn needs scikit-learn.*"
                                          r"pip install scikit-learn"):
        model.to_sklearn()


def test_from_unfitted_sklearn_fails():
    pytest.importorskip("sklearn")
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

    with pytest.raises(ValueError, match="not fitted"):
        fastem.GaussianMixture.from_sklearn(SklearnGaussianMixture(2))


_DISAGREEMENTS = [  # (family, hyper-parameters, attribute, value) that part the parameters
    *[("GaussianMixture", {"covariance_type": t}, None, None)
      for t in ("tied", "diag", "spherical")],
    ("GaussianMixture", {"n_components": 4}, None, None),
    ("GaussianMixture", {"n_components": 2}, None, None),
    ("GaussianMixture", {}, "weights_", np.array([np.nan, 0.5, 0.5])),
    ("GaussianMixture", {}, "weights_", np.array([-0.5, 1.0, 0.5])),
    ("GaussianMixture", {}, "means_", np.zeros((3, 3))),
    ("BayesianGaussianMixture", {"covariance_type": "tied"}, None, None),
    ("BayesianGaussianMixture", {"weight_concentration_prior_type": "dirichlet_distribution"},
     None, None),
    ("BayesianGaussianMixture", {}, "weight_concentration_", np.ones(3)),
    ("BayesianGaussianMixture", {}, "degrees_of_freedom_", np.ones(3)),
]
# (family, attribute, how to change it): parameters that pass the estimator's checks but
# not those of a model file's arrays, which save runs too
_FILE_DISAGREEMENTS = [
    *[(family, "covariances_", lambda c: c * 100)
      for family in ("GaussianMixture", "BayesianGaussianMixture")],
    ("GaussianMixture", "precisions_", lambda p: p + np.array([[0.0, 0.5], [0.0, 0.0]])),
    ("GaussianMixture", "precisions_cholesky_", lambda u: np.swapaxes(u, 1, 2)),
    ("BayesianGaussianMixture", "precisions_cholesky_", lambda u: np.swapaxes(u, 1, 2)),
    ("BayesianGaussianMixture", "covariance_prior_", lambda c: np.zeros_like(c)),
]


@functools.lru_cache(maxsize=None)
def _fitted_of(family):
    return getattr(fastem, family)(3, random_state=0, max_iter=20, tol=1e-2).fit(
        make_demo_data(1000, random_state=1)[0])


@pytest.mark.parametrize("family, hyper, name, value", _DISAGREEMENTS)
def test_to_sklearn_refuses_what_save_refuses(tmp_path, family, hyper, name, value):
    """Parameters that disagree with the hyper-parameters (set_params after the fit)
    or with the family's constraints (assigned) are not converted: scikit-learn would
    use them together, silently or with a broadcasting error. The error is save's."""
    pytest.importorskip("sklearn")
    model = copy.deepcopy(_fitted_of(family)).set_params(**hyper)
    if name is not None:
        setattr(model, name, value)
    with pytest.raises(ValueError) as saved:
        model.save(tmp_path / "model.npz")
    with pytest.raises(ValueError) as converted:
        model.to_sklearn()
    assert str(converted.value) == str(saved.value)


def _field_problem(message):
    """The part of a model-file check's message that names the field and its problem."""
    return re.search(r"field '\w+' [^.]*\.", message).group(0)


@pytest.mark.parametrize("family, name, change", _FILE_DISAGREEMENTS)
def test_conversions_refuse_the_arrays_that_save_refuses(tmp_path, family, name, change):
    """Assigned parameters that a model file could not hold (covariances_ not the inverse of
    precisions_, a precision factor not upper-triangular, a singular covariance_prior_) are
    neither converted to nor from scikit-learn: save refuses them, and to_sklearn ran only
    the estimator's checks, so scikit-learn predicted from one and sampled from the other."""
    pytest.importorskip("sklearn")
    model = copy.deepcopy(_fitted_of(family))
    estimator = model.to_sklearn()
    setattr(model, name, change(np.asarray(getattr(model, name))))
    with pytest.raises(ValueError) as saved:
        model.save(tmp_path / "model.npz")
    with pytest.raises(ValueError, match=rf"^cannot convert the {family} to scikit-learn: "
                                         r"field .*If they were assigned") as converted:
        model.to_sklearn()
    assert _field_problem(str(converted.value)) == _field_problem(str(saved.value))
    setattr(estimator, name, change(np.asarray(getattr(estimator, name))))
    with pytest.raises(ValueError, match=rf"^The sklearn.mixture.{family} does not convert: "
                                         r"field .*(?i:refit the) (scikit-learn )?estimator") as back:
        getattr(fastem, family).from_sklearn(estimator)
    assert _field_problem(str(back.value)) == _field_problem(str(saved.value))


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_from_sklearn_of_a_singular_default_prior_says_which_prior_to_refit_with(
        covariance_type):
    """scikit-learn's default covariance_prior is the data's covariance, singular with a
    constant feature: "refit the estimator" gives the same prior. The message says to
    refit with an explicit positive definite one, and that one converts."""
    sklearn_mixture = pytest.importorskip("sklearn.mixture")
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(size=300), rng.normal(size=300), np.ones(300)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn's ConvergenceWarning
        estimator = sklearn_mixture.BayesianGaussianMixture(
            n_components=2, covariance_type=covariance_type, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"field 'covariance_prior_' is not positive definite"
                       r".*Refit the scikit-learn estimator with an explicit positive "
                       r"definite covariance_prior") as info:
        fastem.BayesianGaussianMixture.from_sklearn(estimator)
    assert "np.cov(X, rowvar=False) + 1e-6 * np.eye(n_features)" in str(info.value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator = sklearn_mixture.BayesianGaussianMixture(
            n_components=2, covariance_type=covariance_type, random_state=0,
            covariance_prior=np.cov(X, rowvar=False) + 1e-6 * np.eye(3)).fit(X)
    model = fastem.BayesianGaussianMixture.from_sklearn(estimator)
    assert_allclose(model.predict_proba(X), estimator.predict_proba(X), atol=1e-6)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_from_sklearn_of_a_default_prior_of_features_in_units_far_apart_converts(
        tmp_path, covariance_type):
    """Spreads 1e-2 and 1e7: scikit-learn's default prior, the data's covariance, has
    eigenvalues 1e-4 and 2.6e15, the smallest below the rounding of the largest, and is
    positive definite all the same. The estimator converts and the model saves and loads;
    before, the conversion was refused as of a prior that is not positive definite."""
    sklearn_mixture = pytest.importorskip("sklearn.mixture")
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(0, 1e-2, 1000), rng.normal(0, 1e7, 1000)])
    X[:500, 1] += 1e8
    estimator = sklearn_mixture.BayesianGaussianMixture(
        n_components=2, covariance_type=covariance_type, random_state=0).fit(X)
    model = fastem.BayesianGaussianMixture.from_sklearn(estimator)
    assert_allclose(model.score_samples(X), estimator.score_samples(X), rtol=1e-12)
    model.save(tmp_path / "model.npz")
    assert_array_equal(fastem.load(tmp_path / "model.npz").score_samples(X),
                       model.score_samples(X))


@pytest.mark.parametrize("family", ["GaussianMixture", "BayesianGaussianMixture"])
@pytest.mark.parametrize("hyper", [{"n_components": 2}, {"covariance_type": "diag"}])
def test_from_sklearn_refuses_parameters_its_hyper_parameters_do_not_describe(family, hyper):
    """scikit-learn's set_params after a fit parts its hyper-parameters from its
    parameters: the converted model would refuse every prediction."""
    pytest.importorskip("sklearn")
    estimator = _fitted_of(family).to_sklearn().set_params(**hyper)
    with pytest.raises(ValueError, match=rf"^The sklearn.mixture.{family} does not convert: "):
        getattr(fastem, family).from_sklearn(estimator)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
def test_from_sklearn_of_an_empty_component_takes_no_probability(covariance_type):
    """scikit-learn's M-step leaves a component without data a weight of 10 eps / n_samples
    (2.8e-18 of 800 points) and a covariance of reg_covar: converted, that spike of density
    took the midpoint between two repeated points with probability 1, where fastem's fit
    of the same start gives the component weight 0 and the midpoint to the two others."""
    pytest.importorskip("sklearn")
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

    X = np.repeat([[0.0, 0.0], [1.0, 0.5]], [300, 500], axis=0)
    midpoint = np.array([[0.5, 0.25]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator = SklearnGaussianMixture(
            3, covariance_type=covariance_type, means_init=[X[0], X[-1], midpoint[0]]).fit(X)
    assert 0 < estimator.weights_[2] < 1e-17
    model = fastem.GaussianMixture.from_sklearn(estimator)
    proba = model.predict_proba(midpoint)[0]
    assert proba[2] == 0 and model.predict(midpoint)[0] != 2
    assert_allclose(proba[:2], estimator.weights_[:2] / estimator.weights_[:2].sum(), rtol=1e-6)


@pytest.mark.parametrize("bayesian", [False, True], ids=["gaussian", "bayesian"])
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_from_sklearn_symmetrises_matrices_asymmetric_by_rounding(covariance_type, bayesian, tmp_path):
    """scikit-learn computes its matrices with products that are symmetric only to the
    rounding of the terms they cancel: a 'tied' fit of two repeated points held covariances
    of 1e-6 whose off-diagonal entries, 3.27e-15 and 3.13e-15, differ by 1.4e-16. The
    conversion refused it as "not symmetric" (the model file's tolerance, 64 eps of the
    largest entry), with "refit the estimator", which gives the same. Matrices symmetric
    within the tolerance that fastem gives its own initial parameters (1e-5 of the entry
    plus 1e-8 of the largest) are converted as their symmetric part, as those are; beyond
    it they are refused as before."""
    pytest.importorskip("sklearn")
    from sklearn import mixture

    X = np.random.default_rng(0).normal(size=(200, 3)) @ [[1, 0.5, 0], [0, 1, 0.3], [0, 0, 1]]
    sklearn_class = mixture.BayesianGaussianMixture if bayesian else mixture.GaussianMixture
    fastem_class = fastem.BayesianGaussianMixture if bayesian else fastem.GaussianMixture
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator = sklearn_class(n_components=2, covariance_type=covariance_type,
                                  random_state=0).fit(X)
    fields = ("covariances_", "precisions_") + (("covariance_prior_",) if bayesian else ())
    exact = {name: np.array(getattr(estimator, name)) for name in fields}
    for name, matrix in exact.items():
        skew = np.zeros_like(matrix)
        skew[..., 0, 1], skew[..., 1, 0] = 1e-12, -1e-12  # 1e-12 of entries of about 1
        setattr(estimator, name, matrix + skew * np.abs(matrix).max())
    model = fastem_class.from_sklearn(estimator)
    for name, matrix in exact.items():
        held = getattr(model, name)
        assert np.array_equal(held, np.swapaxes(held, -1, -2)), name
        assert_allclose(held, matrix, rtol=0, atol=1e-15 * np.abs(matrix).max())
    path = tmp_path / "m.npz"
    model.save(path)
    assert_array_equal(fastem.load(path).predict(X), estimator.predict(X))
    # an asymmetry beyond rounding is still refused
    estimator.covariances_ = exact["covariances_"] + 1e-3 * skew / 1e-12
    with pytest.raises(ValueError, match="covariances_' .*is not symmetric"):
        fastem_class.from_sklearn(estimator)
    if covariance_type == "full":  # beside it, a matrix within the model file's tolerance
        covariances = exact["covariances_"].copy()  # is kept bit for bit
        covariances[0, 0, 1] = np.nextafter(covariances[0, 1, 0], np.inf)
        covariances[1, 0, 1] += 1e-12 * np.abs(covariances[1]).max()
        estimator.covariances_ = covariances
        assert_array_equal(fastem_class.from_sklearn(estimator).covariances_[0], covariances[0])


# ----------------------------------------------------------------------
# the callback hook


def test_callback_sees_every_iteration(data):
    seen = []
    model = _fit(
        data, accelerate=False, callback=lambda m, n_iter, lb: seen.append((m, n_iter, lb))
    )
    assert [s[1] for s in seen] == list(range(1, model.n_iter_ + 1))
    assert [s[2] for s in seen] == model.lower_bounds_
    # The callback sees the working copy that holds the fit's current parameters.
    assert all(type(s[0]) is type(model) and s[0] is not model for s in seen)


def test_callback_returning_true_stops_without_warning(data):
    model = _fit(data, tol=0.0, callback=lambda m, n_iter, lb: n_iter == 3)
    # filterwarnings=error: a ConvergenceWarning would fail this test.
    assert model.n_iter_ == 3
    assert not model.converged_
    assert len(model.lower_bounds_) == 3


def test_callback_stop_skips_remaining_initializations(data):
    calls = []

    def stop_at_two(model, n_iter, lower_bound):
        calls.append(n_iter)
        return n_iter == 2

    _fit(data, n_init=3, tol=0.0, callback=stop_at_two)
    assert calls == [1, 2]


def test_callback_must_be_callable(data):
    with pytest.raises(TypeError, match="callback must be None or a callable"):
        _fit(data, callback="print")


# ----------------------------------------------------------------------
# paths: resolved as the operating system resolves them; errors name the user's path


def test_save_resolves_the_path_as_the_operating_system_does(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model = _fitted()
    with pytest.raises(FileNotFoundError) as info:
        model.save("sub/../m2.npz")  # open() needs sub; a lexical 'm2.npz' would be another file
    message = str(info.value)
    assert "'sub/../m2.npz'" in message and "directory 'sub' does not exist" in message
    assert ".tmp" not in message and "\n" not in message
    assert os.listdir(tmp_path) == []
    os.mkdir("sub")
    model.save("sub/../m2.npz")
    _assert_same_model(fastem.load("sub/../m2.npz"), model, make_demo_data(50, random_state=1)[0])
    with pytest.raises(NotADirectoryError,
                       match=r"'m2.npz/../m3.npz': 'm2.npz' is not a directory"):
        model.save("m2.npz/../m3.npz")
    # a symbolic link is written through, to the file that open() would reach
    os.symlink(os.path.join("nowhere", "..", "m4.npz"), "link.npz")
    with pytest.raises(FileNotFoundError, match=r"'link.npz': it is a symbolic link to .*"
                       r"directory '.*nowhere' does not exist"):
        model.save("link.npz")
    assert sorted(os.listdir(tmp_path)) == ["link.npz", "m2.npz", "sub"]


def test_tilde_is_a_directory_name_and_errors_name_the_users_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    model = _fitted()
    with pytest.raises(FileNotFoundError) as info:
        model.save("~/x.npz")
    message = str(info.value)
    assert "'~/x.npz'" in message and "directory '~' does not exist" in message
    assert "not expanded" in message and ".tmp" not in message and "fastem-" not in message
    with pytest.raises(FileNotFoundError, match=r"'~/x.npz' does not exist.*not expanded"):
        fastem.load("~/x.npz")
    os.mkdir("~")  # as open() sees it: a directory named '~', in save and load alike
    model.save("~/x.npz")
    assert os.path.isfile(tmp_path / "~" / "x.npz") and fastem.load("~/x.npz").n_components == 3


def test_a_failed_write_names_the_users_path_not_the_temporary_file(tmp_path, monkeypatch):
    gone = tmp_path / "gone"
    monkeypatch.setattr(fastem_io, "_temporary_name", lambda target: str(gone / ".m.npz.tmp"))
    with pytest.raises(FileNotFoundError) as info:
        _fitted().save(tmp_path / "m.npz")
    message = str(info.value)
    assert repr(str(tmp_path / "m.npz")) in message and ".tmp" not in message
    assert not (tmp_path / "m.npz").exists()
