"""Model files that are damaged, edited or special are refused with one clear line.

Every fitted array of every family and covariance type is set to a wrong
shape, a wrong dtype and each invalid value its family forbids, saved, and
loaded: ``fastem.load`` must refuse it with a ValueError that names the file
and the field. Damaged archives, special files (FIFO, device, directory) and
interrupted saves (a real SIGKILL) are covered too.
"""

import functools
import json
import re
import os
import signal
import subprocess
import sys
import textwrap
import threading
import warnings
import zipfile
from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest

import fastem
from fastem import io as fastem_io
from fastem.datasets import make_demo_data

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]


@functools.lru_cache(maxsize=None)
def _model(family, covariance_type="full", dtype="float64"):
    rng = np.random.default_rng(0)
    if family == "gaussian":
        X = make_demo_data(600, random_state=1)[0].astype(dtype)
        model = fastem.GaussianMixture(3, covariance_type=covariance_type, random_state=0)
    elif family == "bayesian":
        X = make_demo_data(600, random_state=1)[0].astype(dtype)
        model = fastem.BayesianGaussianMixture(3, covariance_type=covariance_type, random_state=0)
    elif family == "exponential":
        X = rng.exponential([[1.0, 5.0]], size=(600, 2)).astype(dtype)
        model = fastem.ExponentialMixture(2, random_state=0)
    else:
        X = rng.poisson([[2.0, 9.0]], size=(600, 2)).astype(dtype)
        model = fastem.PoissonMixture(2, random_state=0)
    return _fit_quietly(model, X)


def _fit_quietly(model, X):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        return model.set_params(max_iter=5).fit(X)


MODELS = [("gaussian", c, d) for c in COVARIANCE_TYPES for d in ("float32", "float64")] + [
    (f, None, d) for f in ("exponential", "poisson") for d in ("float32", "float64")
] + [("bayesian", c, "float64") for c in COVARIANCE_TYPES] + [
    ("bayesian", c, "float32") for c in ("full", "spherical")
]


def _arrays(path):
    with np.load(path) as f:
        return {k: f[k] for k in f.files}


def _write(path, arrays):
    np.savez(path, **arrays)


def _invalid_values(name, value, covariance_type):
    """(label, replacement) pairs that the family forbids for field ``name``."""
    bad = []
    v = value.astype(np.float64)
    nan = v.copy()
    nan.flat[0] = np.nan
    inf = v.copy()
    inf.flat[-1] = np.inf
    bad += [("nan", nan), ("inf", inf)]
    if name == "weights_":
        negative = v.copy()
        negative[0], negative[1] = -v[0], v[1] + 2 * v[0]
        bad += [("negative", negative), ("sum 0.2", v * 0.2), ("zeros", np.zeros_like(v))]
    elif name in ("scales_", "rates_"):
        bad += [("zero", np.where(np.arange(v.size).reshape(v.shape) == 0, 0.0, v)),
                ("negative", -v)]
    elif name in ("weight_concentration_", "mean_precision_", "weight_concentration_prior_",
                  "mean_precision_prior_"):
        bad += [("zero", np.zeros_like(v)), ("negative", -v)]
    elif name in ("degrees_of_freedom_", "degrees_of_freedom_prior_"):
        bad += [("n_features - 1", np.full_like(v, value.size and 1.0))]
    elif name == "covariance_prior_":
        bad += [("negative definite" if v.ndim == 2 else "negative", -v)]
        if v.ndim == 2:  # singular, which no rounding allowance may admit
            bad += [("zero", np.zeros_like(v)), ("rank 1", np.ones_like(v))]
    elif name in ("covariances_", "precisions_", "precisions_cholesky_"):
        if covariance_type in ("diag", "spherical"):
            bad += [("negative", -v), ("zero", np.zeros_like(v))]
        elif name == "precisions_cholesky_":
            flipped = v.copy()
            diag = np.diagonal(flipped, axis1=-2, axis2=-1).copy()
            idx = np.arange(diag.shape[-1])
            flipped[..., idx, idx] = -diag
            lower = np.swapaxes(v, -1, -2).copy()
            bad += [("negative diagonal", flipped), ("lower triangular", lower),
                    ("scaled", v * 2.0)]
        else:
            not_spd = -v
            asym = v.copy()
            asym[..., 0, -1] += 1.0 + np.abs(asym).max()
            bad += [("negative definite", not_spd), ("asymmetric", asym), ("scaled", v * 3.0)]
    return bad


def _layout_cases(value):
    """(label, replacement) of an entry of wrong shape, dtype or kind ('object': an object array)."""
    cases = [("wrong shape", np.concatenate([value, value[:1]])),
             ("one row fewer", value[:-1]),
             ("extra axis", value[None]),
             ("axis dropped", value[0]),
             ("dtype", value.astype(np.float16)),
             ("integers", value.astype(np.int64)),
             ("object", None)]
    if value.ndim == 2 and value.shape[0] != value.shape[1]:
        cases.append(("transposed", value.T))
    return cases


def _field_cases():
    for family, covariance_type, dtype in MODELS:
        model = _model(family, covariance_type, dtype)
        for name in model._parameter_names:
            value = getattr(model, name)
            if value.ndim == 0:  # a scalar prior
                cases = [("extra axis", value[None]), ("dtype", value.astype(np.float16)),
                         ("integers", value.astype(np.int64)), ("object", None)]
                cases += _invalid_values(name, value, covariance_type)
                for label, replacement in cases:
                    yield pytest.param(
                        family, covariance_type, dtype, name, label, replacement,
                        id=f"{family}-{covariance_type}-{dtype}-{name}-{label}",
                    )
                continue
            cases = _layout_cases(value) + _invalid_values(name, value, covariance_type)
            for label, replacement in cases:
                yield pytest.param(
                    family, covariance_type, dtype, name, label, replacement,
                    id=f"{family}-{covariance_type}-{dtype}-{name}-{label}",
                )


@pytest.mark.parametrize(
    "family, covariance_type, dtype, name, label, replacement", list(_field_cases())
)
def test_every_invalid_field_is_refused(tmp_path, family, covariance_type, dtype, name, label,
                                         replacement):
    model = _model(family, covariance_type, dtype)
    path = tmp_path / "m.npz"
    model.save(path)
    _replace_entry(path, name, label, replacement, raw=("dtype", "integers"))
    _assert_refused_naming(path, name)


def _replace_entry(path, name, label, replacement, raw):
    """Rewrite entry ``name`` of the file: deleted ('missing'), an object array ('object'),
    or ``replacement``, cast to the entry's dtype unless ``label`` is in ``raw``."""
    arrays = _arrays(path)
    if label == "missing":
        del arrays[name]
        _write(path, arrays)
    elif label == "object":
        # An object array needs pickling; NumPy refuses it with allow_pickle=False.
        arrays[name] = np.array([object()] * len(np.atleast_1d(arrays[name])), dtype=object)
        _write_object(path, arrays)
    else:
        arrays[name] = replacement if label in raw else replacement.astype(arrays[name].dtype)
        _write(path, arrays)


def _assert_refused_naming(path, name):
    """``load`` refuses the file in one line that names it and the entry ``name``."""
    with pytest.raises(ValueError) as info:
        fastem.load(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert repr(name) in message, message


def _write_object(path, arrays):
    with zipfile.ZipFile(path, "w") as archive:
        for key, value in arrays.items():
            with archive.open(key + ".npy", "w") as f:
                np.lib.format.write_array(f, value, allow_pickle=True)


@pytest.mark.parametrize("family, covariance_type, dtype", MODELS)
def test_valid_files_still_load_bitwise(tmp_path, family, covariance_type, dtype):
    model = _model(family, covariance_type, dtype)
    model.save(tmp_path / "m.npz")
    loaded = fastem.load(tmp_path / "m.npz")
    for name in model._parameter_names:
        assert getattr(loaded, name).tobytes() == getattr(model, name).tobytes()
        assert getattr(loaded, name).dtype == getattr(model, name).dtype


def test_metadata_that_disagrees_with_the_arrays_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    _model("gaussian").save(path)
    for changes, field in [
        ({"n_features_in": 3}, "means_"),
        ({"dtype": "float32"}, "weights_"),
        ({"hyper_parameters": {**_meta(path)["hyper_parameters"], "n_components": 5}}, "weights_"),
        ({"hyper_parameters": {**_meta(path)["hyper_parameters"], "covariance_type": "diag"}},
         "covariances_"),
    ]:
        arrays = _arrays(tmp_path / "m.npz")
        meta = json.loads(str(arrays["metadata"]))
        meta.update(changes)
        arrays["metadata"] = np.array(json.dumps(meta))
        _write(tmp_path / "bad.npz", arrays)
        with pytest.raises(ValueError, match=f"bad.npz.*{field}"):
            fastem.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("family, covariance_type, dtype", MODELS)
def test_a_file_without_feature_names_loads(tmp_path, family, covariance_type, dtype):
    """The metadata field feature_names_in is absent from the files of fastem 0.1.0: such a
    file loads, and predicts as the model it came from (the check of the record of the fit
    raised KeyError on it)."""
    model = _model(family, covariance_type, dtype)
    path = tmp_path / "m.npz"
    model.save(path)
    arrays = _arrays(path)
    meta = json.loads(str(arrays["metadata"]))
    meta.pop("feature_names_in", None)
    arrays["metadata"] = np.array(json.dumps(meta))
    _write(path, arrays)
    loaded = fastem.load(path)
    X = model.sample(20)[0].astype(dtype)
    if family == "poisson":
        X = np.rint(np.abs(X))
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def _meta(path):
    return fastem_io.read_metadata(path)


@pytest.mark.parametrize("field", ["class", "hyper_parameters", "n_features_in", "dtype",
                                   "converged", "n_iter", "lower_bound", "lower_bounds",
                                   "parameters"])
@pytest.mark.parametrize("how", ["missing", "wrong type"])
def test_damaged_metadata_names_the_file_and_the_field(tmp_path, field, how):
    path = tmp_path / "m.npz"
    _model("gaussian").save(path)
    arrays = _arrays(path)
    meta = json.loads(str(arrays["metadata"]))
    if how == "missing":
        del meta[field]
    else:
        meta[field] = [1, 2] if not isinstance(meta[field], list) else "x"
    arrays["metadata"] = np.array(json.dumps(meta))
    _write(path, arrays)
    with pytest.raises(ValueError, match=f"m.npz.*{field}"):
        fastem.load(path)


@pytest.mark.parametrize("field, value", [
    ("lower_bound", float("nan")), ("lower_bound", float("inf")), ("lower_bound", -float("inf")),
    ("lower_bounds", [-1.0, float("nan")]), ("lower_bounds", [float("inf")]),
    ("lower_bounds", [-float("inf"), -1.0]),
])
def test_non_finite_metadata_names_the_file_and_the_field(tmp_path, field, value):
    path = tmp_path / "m.npz"
    _model("gaussian").save(path)
    arrays = _arrays(path)
    meta = json.loads(str(arrays["metadata"]))
    meta[field] = value
    arrays["metadata"] = np.array(json.dumps(meta))  # JSON writes NaN, Infinity
    _write(path, arrays)
    with pytest.raises(ValueError, match=f"m.npz.*{field}"):
        fastem.load(path)


def test_model_fitted_with_max_iter_zero_keeps_its_lower_bound_of_minus_inf(tmp_path):
    X = np.random.default_rng(0).normal(size=(50, 2))
    model = fastem.GaussianMixture(2, max_iter=0, random_state=0).fit(X)
    assert model.lower_bound_ == -np.inf and model.lower_bounds_ == []
    model.save(tmp_path / "m.npz")
    assert fastem.load(tmp_path / "m.npz").lower_bound_ == -np.inf


def _damaged(tmp_path, kind):
    path = tmp_path / "m.npz"
    _model("gaussian", "diag").save(path)
    data = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif kind == "zero bytes":
        path.write_bytes(b"")
    elif kind == "flipped byte":
        # corrupt the middle of an entry's data: the CRC check fails on reading it
        mutable = bytearray(data)
        mutable[len(data) // 3] ^= 0xFF
        path.write_bytes(bytes(mutable))
    elif kind == "metadata not a string":
        arrays = _arrays(path)
        arrays["metadata"] = np.arange(3.0)
        _write(path, arrays)
    elif kind == "metadata not json":
        arrays = _arrays(path)
        arrays["metadata"] = np.array("{not json")
        _write(path, arrays)
    elif kind == "object metadata":
        arrays = _arrays(path)
        arrays["metadata"] = np.array({"a": 1}, dtype=object)
        _write_object(path, arrays)
    elif kind == "missing parameter":
        arrays = _arrays(path)
        del arrays["precisions_"]
        _write(path, arrays)
    elif kind == "bad hyper-parameter":
        arrays = _arrays(path)
        meta = json.loads(str(arrays["metadata"]))
        meta["hyper_parameters"]["reg_covar"] = -1.0
        arrays["metadata"] = np.array(json.dumps(meta))
        _write(path, arrays)
    elif kind == "bad hyper array":
        arrays = _arrays(path)
        arrays["hyper__means_init"] = np.ones((7, 7))
        _write(path, arrays)
    elif kind in HEADER_DAMAGE:  # an entry's .npy header that NumPy's parser fails on
        entry, damage = HEADER_DAMAGE[kind]
        with zipfile.ZipFile(path) as archive:
            entries = {name: archive.read(name) for name in archive.namelist()}
        entries[entry + ".npy"] = entries[entry + ".npy"].replace(*damage, 1)
        with zipfile.ZipFile(path, "w") as archive:
            for name, content in entries.items():
                archive.writestr(name, content)
    elif kind == "not a model":
        np.save(tmp_path / "x.npy", np.ones(3))
        return tmp_path / "x.npy"
    elif kind in _ONLINE_DAMAGE:
        return _damaged_online(tmp_path, kind)
    return path


# An entry's .npy header that NumPy's parser fails on with another error than ValueError
# (tokenize.TokenError of its filter of old headers, TypeError of sorting the keys):
# the entry and the replacement that damages it.
HEADER_DAMAGE = {
    f"{what} in the {entry} header": (entry, damage)
    for what, damage in [("unclosed bracket", (b"), }", b" , }")),
                         ("key not a string", (b", 'shape'", b",b'shape'"))]
    for entry in ("metadata", "means_")
}


# Damaged online-EM state (a model stepped by partial_fit); see _damaged_online below.
_ONLINE_DAMAGE = ["online metadata missing", "online metadata not a dict",
                  "online state in version 1", "stray online entry", "missing online entry",
                  "n_iter disagrees", "nk disagrees with n_samples"]


@pytest.mark.parametrize("kind", ["truncated", "zero bytes", "flipped byte",
                                  "metadata not a string", "metadata not json", "object metadata",
                                  "missing parameter", "bad hyper-parameter", "bad hyper array",
                                  "not a model", *HEADER_DAMAGE, *_ONLINE_DAMAGE])
def test_damaged_files_give_one_line_naming_the_file(tmp_path, kind):
    path = _damaged(tmp_path, kind)
    with pytest.raises(ValueError) as info:
        fastem.load(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


# Bytes before a model file's zip archive, which zipfile still finds at its end.
PREPENDED = {"text": b"model of 2026-12-05\n", "npy file": None, "pickle": None,
             "bytes": bytes(range(256))}


@pytest.mark.parametrize("reader", ["load", "read_metadata", "fastem info"])
@pytest.mark.parametrize("kind", PREPENDED, ids=list(PREPENDED))
def test_a_model_file_after_other_data_is_refused_without_advice_to_unpickle(tmp_path, kind,
                                                                             reader, capsys):
    # NumPy reads a file that does not start with a zip entry as a pickle: the error advised
    # "you can load it unsafely using the allow_pickle= keyword argument or pickle.load()"
    import io
    import pickle

    from fastem.cli import main

    path = tmp_path / "m.npz"
    _model("gaussian").save(path)
    head = PREPENDED[kind]
    if kind == "npy file":
        buffer = io.BytesIO()
        np.save(buffer, np.ones(3))
        head = buffer.getvalue()
    elif kind == "pickle":
        head = pickle.dumps([1.0, 2.0])
    path.write_bytes(head + path.read_bytes())
    if reader == "fastem info":
        assert main(["info", str(path)]) == 1
        message = capsys.readouterr().err
    else:
        with pytest.raises(ValueError) as info:
            getattr(fastem_io, reader)(path)
        message = str(info.value)
    assert str(path) in message and "zip archive after other data" in message
    assert "pickle" not in message and message.strip().count("\n") == 0


def _calls_with_a_path(tmp_path, bad):
    """Every call that takes a path, given ``bad``, as {name: a call returning its error}."""
    from fastem.cli import main

    model, X = _model("gaussian"), make_demo_data(60, random_state=1)[0]
    good = tmp_path / "m.npz"
    model.save(good)
    csv = tmp_path / "points.csv"
    np.savetxt(csv, X, delimiter=",")

    def command(*argv):
        return lambda: main([a.format(bad=bad, model=good, csv=csv) for a in argv])

    return {
        "load": lambda: fastem.load(bad),
        "read_metadata": lambda: fastem_io.read_metadata(bad),
        "save": lambda: model.save(bad),
        "io.save": lambda: fastem_io.save(model, os.fsencode(bad)),
        "Chunks": lambda: fastem.GaussianMixture(1).fit(fastem.Chunks([bad])),
        "Chunks weights": lambda: fastem.GaussianMixture(1).fit(
            fastem.Chunks([X], sample_weights=[bad])),
        "fastem info": command("info", "{bad}"),
        "fastem predict model": command("predict", "{bad}", "{csv}", "-o", "{csv}.out.csv"),
        "fastem fit -o": command("fit", "{csv}", "-k", "1", "-o", "{bad}", "--quiet"),
        "fastem select -o": command("select", "{csv}", "--k", "1", "-o", "{bad}", "--quiet"),
        "fastem predict -o": command("predict", "{model}", "{csv}", "-o", "{bad}.csv"),
        "fastem sample -o": command("sample", "{model}", "-n", "2", "-o", "{bad}.npy"),
        "fastem impute -o": command("impute", "{model}", "{csv}", "-o", "{bad}.npy"),
        "fastem fit DATA": command("fit", "{bad}.csv", "-k", "1", "-o", "{csv}.m.npz"),
        "fastem select DATA": command("select", "{bad}.csv", "--k", "1", "-o", "{csv}.m.npz"),
        "fastem predict DATA": command("predict", "{model}", "{bad}.csv", "-o", "{csv}.out.csv"),
        "fastem score DATA": command("score", "{model}", "{bad}.csv"),
        "fastem impute DATA": command("impute", "{model}", "{bad}.csv", "-o", "{csv}.out.csv"),
    }


PATH_CALLS = ["load", "read_metadata", "save", "io.save", "Chunks", "Chunks weights",
              "fastem info", "fastem predict model", "fastem fit -o", "fastem select -o",
              "fastem predict -o", "fastem sample -o", "fastem impute -o", "fastem fit DATA",
              "fastem select DATA", "fastem predict DATA", "fastem score DATA",
              "fastem impute DATA"]


@pytest.mark.parametrize("call", PATH_CALLS)
def test_a_path_with_a_nul_character_is_named(tmp_path, call, capsys):
    # Python's own error, "embedded null byte", named neither the path nor what took it
    bad = str(tmp_path / "m\x00.npz")
    run = _calls_with_a_path(tmp_path, bad)[call]
    if call.startswith("fastem "):
        assert run() == 1
        message = capsys.readouterr().err
    else:
        with pytest.raises(ValueError) as info:
            run()
        message = str(info.value)
    assert "NUL character" in message and repr(bad)[1:-1] in message, message
    assert _stray(tmp_path) == []


def _load_in_thread(path):
    result = {}

    def run():
        try:
            fastem.load(path)
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), f"load({path!r}) blocked"
    return result.get("error")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_files_are_refused_without_blocking(tmp_path):
    fifo = tmp_path / "m.npz"
    os.mkfifo(fifo)
    error = _load_in_thread(fifo)
    assert isinstance(error, ValueError) and "FIFO" in str(error) and str(fifo) in str(error)
    error = _load_in_thread(tmp_path)
    assert isinstance(error, ValueError) and "directory" in str(error)
    if os.path.exists("/dev/zero"):
        error = _load_in_thread("/dev/zero")
        assert isinstance(error, ValueError) and "character device" in str(error)


def test_save_never_replaces_a_data_file(tmp_path):
    model = _model("gaussian")
    for name, write in [("X.npy", lambda p: np.save(p, np.ones((4, 2)))),
                        ("X.csv", lambda p: p.write_text("1,2\n3,4\n")),
                        ("other.npz", lambda p: np.savez(p, a=np.ones(2)))]:
        path = tmp_path / name
        write(path)
        before = path.read_bytes()
        with pytest.raises(ValueError, match="refusing to save a model over"):
            model.save(path)
        assert path.read_bytes() == before
    with pytest.raises(ValueError, match="directory"):
        model.save(tmp_path)
    # a path that ends with a separator names a directory, even one that does not exist yet
    with pytest.raises(ValueError, match=r"ends with '/' names a directory.*e\.g\. '.*new\.npz'"):
        model.save(f"{tmp_path}/new.npz/")
    assert not (tmp_path / "new.npz").exists()
    with pytest.raises(ValueError, match=r"names a directory.*e\.g\. '.*model\.npz'"):
        model.save(f"{tmp_path}/")  # an existing directory: a file in it
    # an existing model file and an empty file may be replaced
    model.save(tmp_path / "m.npz")
    model.save(tmp_path / "m.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    model.save(tmp_path / "empty.npz")
    assert fastem.load(tmp_path / "empty.npz").n_components == model.n_components
    # a model file of a newer format, which load asks to upgrade for, is a model file
    arrays = _arrays(tmp_path / "m.npz")
    metadata = json.loads(str(arrays["metadata"]))
    metadata["format_version"] = fastem_io.FORMAT_VERSION + 1
    np.savez(tmp_path / "m.npz", **{**arrays, "metadata": np.array(json.dumps(metadata))})
    model.save(tmp_path / "m.npz")
    assert fastem.load(tmp_path / "m.npz").means_.tobytes() == model.means_.tobytes()


# Archives of data that have an entry named 'metadata' of their own.
DATA_ARCHIVES = {
    "json of other data": np.array('{"source": "sensor 4", "format": "csv"}'),
    "text": np.array("recorded 2026-12-05"),
    "numbers": np.arange(3.0),
    "json list": np.array('["fastem-mixture"]'),
}


@pytest.mark.parametrize("metadata", DATA_ARCHIVES.values(), ids=list(DATA_ARCHIVES))
@pytest.mark.parametrize("writer", ["save", "fastem fit -o", "fastem select -o"])
def test_save_never_replaces_a_data_archive_with_an_entry_named_metadata(tmp_path, metadata,
                                                                          writer):
    # such an archive was taken for a model file (it has a 'metadata' entry) and replaced
    from fastem.cli import main

    path = tmp_path / "data.npz"
    np.savez(path, X=np.arange(10.0), metadata=metadata)
    before = path.read_bytes()
    if writer == "save":
        with pytest.raises(ValueError, match="refusing to save a model over .*data.npz"):
            _model("gaussian").save(path)
    else:
        csv = tmp_path / "points.csv"
        np.savetxt(csv, make_demo_data(60, random_state=1)[0], delimiter=",")
        command, option = writer.split()[1:]
        k = ["-k", "1"] if command == "fit" else ["--k", "1", "--covariance", "diag"]
        assert main([command, str(csv), *k, option, str(path), "--quiet"]) == 1
    assert path.read_bytes() == before


@pytest.mark.parametrize("path", ["", b""], ids=["str", "bytes"])
@pytest.mark.parametrize("save", ["model.save", "io.save"])
def test_save_to_an_empty_path_says_so(tmp_path, monkeypatch, path, save):
    # '' resolved to the current directory: "Is a directory", after a temporary file was
    # written beside it, in its parent
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    model = _model("gaussian")
    with pytest.raises(ValueError, match="cannot save a model to '': the path is empty"):
        model.save(path) if save == "model.save" else fastem_io.save(model, path)
    assert os.listdir(tmp_path) == ["work"] and os.listdir(work) == []


def test_save_refuses_hyper_parameters_changed_since_the_fit(tmp_path):
    """set_params(n_components=..., covariance_type=...) after a fit: the file would hold
    parameters its own metadata contradicts, which load refuses as damaged; save says so."""
    for change in ({"n_components": 3}, {"covariance_type": "diag"}):
        model = fastem.GaussianMixture(2, random_state=0).fit(
            np.random.default_rng(0).normal(size=(100, 2))).set_params(**change)
        with pytest.raises(ValueError, match="disagree with each other or with its hyper-parameters"):
            model.save(tmp_path / "m.npz")
        assert not (tmp_path / "m.npz").exists()


def _stray(directory):
    return sorted(n for n in os.listdir(directory) if n.endswith(".tmp"))


def test_a_save_killed_with_sigkill_is_cleaned_up_by_the_next_save(tmp_path):
    """A real process is killed in the middle of writing a large model."""
    path = tmp_path / "m.npz"
    _model("gaussian").save(path)
    before = path.read_bytes()
    script = textwrap.dedent(
        f"""
        import os, sys, time
        import numpy as np
        import fastem
        from fastem import io
        # a valid model of 3 x 420 x 420 matrices (three arrays of 4 MB each)
        model = fastem.GaussianMixture(3)
        eye = np.broadcast_to(np.eye(420), (3, 420, 420))
        model.weights_, model.means_ = np.full(3, 1 / 3), np.zeros((3, 420))
        model.covariances_ = model.precisions_cholesky_ = model.precisions_ = eye
        model.n_features_in_, model.converged_, model.n_iter_ = 420, True, 1
        model.lower_bound_, model.lower_bounds_ = -1.0, [-1.0]
        real_fsync = os.fsync
        def stalled_fsync(fd):
            real_fsync(fd)
            print("writing", flush=True)
            time.sleep(60)
        io.os.fsync = stalled_fsync
        model.save({str(path)!r})
        """
    )
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout.readline().strip() == "writing"
            stray = _stray(tmp_path)
            assert len(stray) == 1 and os.path.getsize(tmp_path / stray[0]) > 10 * 2**20
            process.send_signal(signal.SIGKILL)
            process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
    assert path.read_bytes() == before  # the old model survives
    assert len(_stray(tmp_path)) == 1  # a killed process cannot clean up ...
    _model("gaussian").save(path)
    assert _stray(tmp_path) == []  # ... the next save does


def test_stale_file_cleanup_spares_live_writers_and_other_files(tmp_path):
    path = tmp_path / "m.npz"
    host = fastem_io._host_tag()
    live = tmp_path / f".m.npz.fastem-{host}-{os.getpid()}-0000abcd.tmp"
    other_host = tmp_path / ".m.npz.fastem-elsewhere-999999999-0000abcd.tmp"
    other_model = tmp_path / f".n.npz.fastem-{host}-999999999-0000abcd.tmp"
    user_file = tmp_path / ".m.npz.backup.tmp"
    for p in (live, other_host, other_model, user_file):
        p.write_bytes(b"x")
    _model("gaussian").save(path)
    assert sorted(_stray(tmp_path)) == sorted(p.name for p in (live, other_host, other_model,
                                                               user_file))


# File names as long as the file system holds (255 bytes), of one-byte and of
# multi-byte characters: the temporary file beside them has a longer name.
LONG_NAMES = {"ascii": "m" * 251 + ".npz", "utf-8": "\u00e9" * 125 + ".npz",
              "cjk": "\u6a21" * 83 + ".npz"}


@pytest.mark.parametrize("name", LONG_NAMES.values(), ids=list(LONG_NAMES))
def test_a_file_name_as_long_as_the_file_system_holds_saves(tmp_path, name):
    # open() and numpy.save write such a name; save refused it with "File name too long",
    # the error of its temporary file's name
    path = tmp_path / name
    assert len(os.fsencode(name)) <= os.pathconf(tmp_path, "PC_NAME_MAX")
    model = _model("gaussian")
    model.save(path)
    model.save(path)  # and replaces it
    assert fastem.load(path).means_.tobytes() == model.means_.tobytes()
    assert os.listdir(tmp_path) == [name]


@pytest.mark.parametrize("name", LONG_NAMES.values(), ids=list(LONG_NAMES))
def test_stale_file_cleanup_of_a_long_name_spares_other_paths(tmp_path, name):
    # a long name's temporary files are named by a cut name and a hash of the whole one:
    # the next save removes a killed save's file, not that of another name cut alike
    path, other = tmp_path / name, tmp_path / (name[:-5] + "x.npz")  # cut to the same start
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = fastem_io._host_tag()
    stale = [fastem_io._temporary_name(p).replace(f"-{os.getpid()}-", f"-{dead.pid}-")
             for p in (path, other)]
    assert all(len(os.fsencode(os.path.basename(s))) <= 255 and host in s for s in stale)
    assert os.path.commonprefix(stale).endswith("~")  # the same cut name, two hashes
    for s in stale:
        with open(s, "wb") as f:
            f.write(b"cut off")
    _model("gaussian").save(path)
    assert _stray(tmp_path) == [os.path.basename(stale[1])]


@pytest.mark.parametrize("entry", ["weights_", "hyper__means_init", "metadata"])
def test_an_oversized_compressed_entry_is_refused_before_it_is_read(tmp_path, entry):
    import tracemalloc

    path = tmp_path / "model.npz"
    _model("gaussian").save(path)
    arrays = _arrays(path)
    # 40 MB of zeros compress to about 40 kB: a file cannot make load allocate that much
    arrays[entry] = np.zeros(5_000_000) if entry != "metadata" else np.array(b" " * 17_000_000)
    np.savez_compressed(path, **arrays)
    del arrays
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=f"{entry}.* bytes") as info:
            fastem.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert repr(str(path)) in str(info.value) and "\n" not in str(info.value)
    assert peak < 4_000_000


# Every metadata field of every family, covariance type and dtype: missing, of a
# wrong type, and holding a value that disagrees with the arrays or is invalid.
_INFORMATIONAL = {"fastem_version", "not_saved"}  # never read by load, except in messages


def _metadata_cases():
    invalid = {
        "format": ["other-format"], "format_version": [0, 99, 1.5], "class": ["Mixture", "load"],
        "parameters": [["weights_"]], "n_features_in": [0, -1, 7],
        "feature_names_in": [["a"], [1, 2], ["a", "a"]],
        "dtype": ["float16", "int64"], "converged": ["yes"], "n_iter": [-1, 2.5, True, 0],
        "lower_bound": [float("nan"), 1e300], "lower_bounds": [[float("nan")], "x"],
    }
    for family, covariance_type, dtype in MODELS:
        path_fields = fastem_io.read_metadata(_saved(family, covariance_type, dtype))
        for field in path_fields:
            if field in _INFORMATIONAL:
                continue
            values = [("missing", None)] if field != "feature_names_in" else []
            values += [(f"= {v!r}", v) for v in invalid.get(field, [])]
            for label, value in values:
                yield pytest.param(family, covariance_type, dtype, (field,), label, value,
                                   id=f"{family}-{covariance_type}-{dtype}-{field} {label}")
        for name, current in path_fields["hyper_parameters"].items():
            if name == "callback":
                continue  # never saved: always None
            for label, value in [("a string", "x"), ("-1", -1), ("a list", [1, 2])]:
                if value == current:
                    continue
                if label == "a list" and (name == "mean_prior" or (
                        name == "covariance_prior" and covariance_type == "diag")):
                    continue  # one value per feature of 2: a valid prior
                yield pytest.param(family, covariance_type, dtype, ("hyper_parameters", name),
                                   label, value,
                                   id=f"{family}-{covariance_type}-{dtype}-{name} {label}")


@functools.lru_cache(maxsize=None)
def _saved(family, covariance_type, dtype):
    import tempfile

    path = os.path.join(tempfile.mkdtemp(), "m.npz")
    _model(family, covariance_type, dtype).save(path)
    return path


def _write_with_metadata_field(source, path, field, label, value):
    """Copy the model file ``source`` to ``path`` with the metadata field ``field`` (a tuple
    of keys, outermost first) set to ``value``, or deleted for the label 'missing'."""
    arrays = _arrays(source)
    meta = json.loads(str(arrays["metadata"]))
    holder = meta
    for key in field[:-1]:
        holder = holder[key]
    if label == "missing":
        del holder[field[-1]]
    else:
        holder[field[-1]] = value
    arrays["metadata"] = np.array(json.dumps(meta))
    _write(path, arrays)


@pytest.mark.parametrize(
    "family, covariance_type, dtype, field, label, value", list(_metadata_cases())
)
def test_every_invalid_metadata_field_is_refused(tmp_path, family, covariance_type, dtype, field,
                                                 label, value):
    _write_with_metadata_field(_saved(family, covariance_type, dtype), tmp_path / "m.npz",
                               field, label, value)
    with pytest.raises(ValueError) as info:
        fastem.load(tmp_path / "m.npz")
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "m.npz") in message
    # the field, or what it disagrees with (the arrays, for n_features_in)
    named = {"format": ["fastem model file"], "format_version": ["format_version", "format version"],
             "class": ["model"], "n_features_in": ["n_features_in", "n_features="]}.get(field[0], [field[-1]])
    assert any(n in message for n in named), message


# ----------------------------------------------------------------------
# The online-EM state of a model stepped by partial_fit (n_steps_ and the
# running statistics) is saved, checked and restored, so partial_fit after load
# continues exactly as on the original model.

def _batches(family, dtype, missing, n_batches, size, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n_batches):
        if family == "gaussian":
            centres = np.array([[0.0, 0.0], [4.0, 4.0], [-4.0, 4.0]])
            X = centres[rng.choice(3, size)] + rng.normal(size=(size, 2)) * 0.8
        elif family == "exponential":
            X = rng.exponential([[1.0, 5.0]], size=(size, 2)) * rng.choice([1, 4], (size, 1))
        else:
            X = rng.poisson(np.array([[2.0, 9.0]]) * rng.choice([1, 3], (size, 1))).astype(float)
        X = X.astype(dtype)
        if missing == "em":
            X[rng.random(X.shape) < 0.1] = np.nan
            X[np.isnan(X).all(axis=1), 0] = 1.0  # no row wholly missing
        yield X


def _new(family, covariance_type, missing):
    kwargs = {} if missing == "error" else {"missing": missing}
    if family == "gaussian":
        return fastem.GaussianMixture(3, covariance_type=covariance_type, random_state=0, **kwargs)
    cls = fastem.ExponentialMixture if family == "exponential" else fastem.PoissonMixture
    return cls(2, random_state=0, **kwargs)


@functools.lru_cache(maxsize=None)
def _stepped(family, covariance_type="full", dtype="float64", missing="error"):
    """A model stepped by partial_fit 20 times; tests that step it take a deep copy."""
    model = _new(family, covariance_type, missing)
    for X in _batches(family, dtype, missing, 20, 100, seed=1):
        model.partial_fit(X)
    return model


STEPPED = [("gaussian", c, d, m) for c in COVARIANCE_TYPES for d in ("float32", "float64")
           for m in ("error", "em")] + [
    (f, None, d, m) for f in ("exponential", "poisson") for d in ("float32", "float64")
    for m in ("error", "em")]


def _assert_same_online_state(a, b):
    assert a.n_steps_ == b.n_steps_ and type(a.n_steps_) is type(b.n_steps_)
    s, t = a._running_stats, b._running_stats
    assert s.n_samples == t.n_samples and s.log_likelihood == t.log_likelihood
    assert s.nk.dtype == t.nk.dtype and s.nk.tobytes() == t.nk.tobytes()
    for x, y in ((s.moments, t.moments), (s.reference, t.reference)):
        assert x.keys() == y.keys()
        for name in x:
            u, v = np.asarray(x[name]), np.asarray(y[name])
            assert u.dtype == v.dtype and u.shape == v.shape and u.tobytes() == v.tobytes(), name


@pytest.mark.parametrize("family, covariance_type, dtype, missing", STEPPED)
def test_partial_fit_after_load_continues_bitwise(tmp_path, family, covariance_type, dtype,
                                                  missing):
    import copy

    original = copy.deepcopy(_stepped(family, covariance_type, dtype, missing))
    original.save(tmp_path / "m.npz")
    loaded = fastem.load(tmp_path / "m.npz")
    _assert_same_online_state(original, loaded)
    # a batch of 5 rows, then a larger one: the loaded model must not restart online EM
    small, large = _batches(family, dtype, missing, 2, 100, seed=2)
    for X in (small[:5], large):
        original.partial_fit(X)
        loaded.partial_fit(X)
        assert loaded.n_steps_ == original.n_steps_ and loaded.n_iter_ == original.n_iter_ > 20
        for name in original._parameter_names:
            a, b = getattr(original, name), getattr(loaded, name)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
        assert loaded.lower_bound_ == original.lower_bound_
        _assert_same_online_state(original, loaded)
    # and the file of the continued model holds the continued state
    loaded.save(tmp_path / "again.npz")
    _assert_same_online_state(original, fastem.load(tmp_path / "again.npz"))


@pytest.mark.parametrize("missing", ["error", "em"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_reg_covar_changed_after_the_fit_continues_the_stream_after_load(
        tmp_path, covariance_type, dtype, missing):
    """A fitted model whose reg_covar was changed by set_params, then saved: its first
    partial_fit takes the fit's reg_covar out of the covariances and adds the new one. The
    loaded model took the new one out (the file held only the current hyper-parameters), so
    its step differed from the saved model's by the change (0.05 on every variance). The
    file now records the fit's settings where they differ, and the stream continues
    bitwise, also after a second save and load."""
    import copy

    (X,) = _batches("gaussian", dtype, missing, 1, 300, seed=4)
    model = fastem.GaussianMixture(3, covariance_type=covariance_type, missing=missing,
                                   random_state=0)
    original = _fit_quietly(model, X).set_params(reg_covar=0.05)
    original.save(tmp_path / "m.npz")
    assert fastem_io.read_metadata(tmp_path / "m.npz")["fitted_settings"] == {
        "reg_covar": 1e-6}
    loaded = fastem.load(tmp_path / "m.npz")
    loaded.save(tmp_path / "again.npz")
    again = fastem.load(tmp_path / "again.npz")
    assert loaded.reg_covar == again.reg_covar == 0.05
    (batch,) = _batches("gaussian", dtype, missing, 1, 100, seed=5)
    original = copy.deepcopy(original).partial_fit(batch)
    for model in (loaded, again):
        model.partial_fit(batch)
        for name in original._parameter_names:
            a, b = getattr(original, name), getattr(model, name)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    # a model whose reg_covar is the fit's writes no such field
    _fit_quietly(model, X).save(tmp_path / "plain.npz")
    assert "fitted_settings" not in fastem_io.read_metadata(tmp_path / "plain.npz")


@pytest.mark.parametrize("family", ["GaussianMixture", "BayesianGaussianMixture"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_reg_covar_changed_after_the_fit_survives_the_round_trip_through_sklearn(
        tmp_path, covariance_type, dtype, family):
    """to_sklearn, then from_sklearn, of a model whose reg_covar was changed by set_params
    after its fit: the model came back taking the new reg_covar for the one its parameters
    embody (scikit-learn has no field for it), so its first partial_fit differed from the
    original's by the change, and its file lost fitted_settings. The estimator carries
    the fit's settings while it holds the converted parameters (pickled too); a refit in
    scikit-learn embodies its own reg_covar. A float32 'diag' or 'spherical' model came
    back not at all: its float32 precisions disagreed with its factors at float64's
    rounding."""
    import copy
    import pickle

    pytest.importorskip("sklearn")
    cls = getattr(fastem, family)
    (X,) = _batches("gaussian", dtype, "error", 1, 300, seed=4)
    model = cls(3, covariance_type=covariance_type, random_state=0)
    original = _fit_quietly(model, X).set_params(reg_covar=0.05)
    estimator = pickle.loads(pickle.dumps(original.to_sklearn()))
    back = cls.from_sklearn(estimator)
    assert back.reg_covar == estimator.reg_covar == 0.05
    back.save(tmp_path / "m.npz")
    assert fastem_io.read_metadata(tmp_path / "m.npz")["fitted_settings"] == {"reg_covar": 1e-6}
    if family == "GaussianMixture" and dtype == "float64":  # the same parameters, bitwise
        (batch,) = _batches("gaussian", dtype, "error", 1, 100, seed=5)
        expected = copy.deepcopy(original).partial_fit(batch)
        back.partial_fit(batch)
        for name in original._parameter_names:
            a, b = getattr(expected, name), getattr(back, name)
            assert a.dtype == b.dtype and a.tobytes() == b.tobytes(), name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        estimator.fit(X.astype(np.float64))
    refitted = cls.from_sklearn(estimator)
    refitted.save(tmp_path / "refit.npz")
    assert "fitted_settings" not in fastem_io.read_metadata(tmp_path / "refit.npz")


@pytest.mark.parametrize("value, match", [
    ([1e-6], "is not a JSON object of settings"),
    ({"min_scale": 1e-6}, "names 'min_scale', which the parameters of this model do not embody"),
    ({"reg_covar": -1.0}, "gives 'reg_covar' the value -1.0, not a finite non-negative number"),
    ({"reg_covar": "1e-6"}, "gives 'reg_covar' the value '1e-6', not a finite non-negative"),
    ({"reg_covar": True}, "gives 'reg_covar' the value True, not a finite non-negative"),
])
def test_invalid_fitted_settings_are_refused(tmp_path, value, match):
    model = _model("gaussian")
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as f:
        arrays = {name: f[name] for name in f.files}
    metadata = json.loads(str(arrays["metadata"]))
    metadata["fitted_settings"] = value
    arrays["metadata"] = np.array(json.dumps(metadata))
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(ValueError, match=r"'.*bad.npz' is damaged: metadata field "
                       r"'fitted_settings' is .*, which " + re.escape(match).replace("\\ ", " ")):
        fastem.load(tmp_path / "bad.npz")


def test_the_reported_stream_continues_after_load(tmp_path):
    """The tester's case: 99 batches, save, load, a 5-row batch."""
    batches = list(_batches("gaussian", "float64", "error", 100, 100, seed=3))
    model = fastem.GaussianMixture(2, random_state=0)
    for X in batches[:99]:
        model.partial_fit(X)
    model.save(tmp_path / "pf.npz")
    loaded = fastem.load(tmp_path / "pf.npz")
    model.partial_fit(batches[99][:5])
    loaded.partial_fit(batches[99][:5])
    assert loaded.n_iter_ == model.n_iter_ == 100
    assert loaded.means_.tobytes() == model.means_.tobytes()


@pytest.mark.parametrize("family, covariance_type, dtype", MODELS)
def test_a_model_fitted_by_fit_writes_no_online_state(tmp_path, family, covariance_type, dtype):
    _model(family, covariance_type, dtype).save(tmp_path / "m.npz")
    arrays = _arrays(tmp_path / "m.npz")
    meta = json.loads(str(arrays["metadata"]))
    assert meta["format_version"] == 1 and "online_em" not in meta
    assert not [k for k in arrays if k.startswith("online_em")]


def test_a_fit_after_partial_fit_saves_no_online_state(tmp_path):
    import copy

    model = copy.deepcopy(_stepped("gaussian"))
    _fit_quietly(model, next(_batches("gaussian", "float64", "error", 1, 300, seed=4)))
    model.save(tmp_path / "m.npz")
    meta = _meta(tmp_path / "m.npz")
    assert meta["format_version"] == 1 and "online_em" not in meta
    assert getattr(fastem.load(tmp_path / "m.npz"), "_running_stats", None) is None


def test_a_stepped_model_file_is_version_2_and_lists_its_state(tmp_path):
    model = _stepped("gaussian", "tied")
    model.save(tmp_path / "m.npz")
    arrays = _arrays(tmp_path / "m.npz")
    meta = json.loads(str(arrays["metadata"]))
    assert meta["format_version"] == fastem_io.FORMAT_VERSION == 2
    online = meta["online_em"]
    assert online["n_steps"] == model.n_steps_ == meta["n_iter"] - 1
    assert online["n_samples"] == model._running_stats.n_samples
    assert online["moments"] == ["sx", "sxx", "pairs"] and online["reference"] == ["shift"]
    assert sorted(k for k in arrays if k.startswith("online_em")) == [
        "online_em__moments__pairs", "online_em__moments__sx", "online_em__moments__sxx",
        "online_em__nk", "online_em__reference__shift"]


def test_a_file_without_online_state_loads_and_restarts_online_em(tmp_path):
    """Files written before the state was saved: online EM starts afresh from the parameters."""
    model = _stepped("gaussian")
    model.save(tmp_path / "m.npz")
    arrays = {k: v for k, v in _arrays(tmp_path / "m.npz").items()
              if not k.startswith("online_em")}
    meta = json.loads(str(arrays["metadata"]))
    del meta["online_em"]
    meta["format_version"] = 1
    arrays["metadata"] = np.array(json.dumps(meta))
    _write(tmp_path / "old.npz", arrays)
    loaded = fastem.load(tmp_path / "old.npz")
    assert getattr(loaded, "_running_stats", None) is None
    loaded.partial_fit(next(_batches("gaussian", "float64", "error", 1, 50, seed=5)))
    assert loaded.n_steps_ == 1 and loaded.n_iter_ == 2  # the parameters were the first step


def test_a_reader_of_version_1_refuses_a_stepped_model_and_reads_the_others(tmp_path,
                                                                           monkeypatch):
    """What fastem before the online-EM state does: it refuses the file, rather than
    loading it without its state (and restarting online EM from one batch)."""
    _stepped("gaussian").save(tmp_path / "stepped.npz")
    _model("gaussian").save(tmp_path / "fitted.npz")
    monkeypatch.setattr(fastem_io, "FORMAT_VERSION", 1)
    with pytest.raises(ValueError, match="format version 2.*Upgrade fastem") as info:
        fastem.load(tmp_path / "stepped.npz")
    assert "\n" not in str(info.value)
    fastem.load(tmp_path / "fitted.npz")


def test_a_stepped_model_converts_and_shows_its_steps(tmp_path, capsys):
    from fastem.cli import main

    model = _stepped("gaussian")
    model.save(tmp_path / "m.npz")
    loaded = fastem.load(tmp_path / "m.npz")
    a, b = model.to_sklearn(), loaded.to_sklearn()
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_"):
        assert getattr(a, name).tobytes() == getattr(b, name).tobytes()
    back = fastem.GaussianMixture.from_sklearn(b)
    assert getattr(back, "_running_stats", None) is None
    back.save(tmp_path / "back.npz")
    assert "online_em" not in _meta(tmp_path / "back.npz")
    assert main(["info", str(tmp_path / "m.npz")]) == 0
    assert "stepped by partial_fit 20 time(s) (online EM" in capsys.readouterr().out
    assert main(["info", str(tmp_path / "back.npz")]) == 0  # no running statistics: no steps
    assert "did not converge after 20 iteration(s)" in capsys.readouterr().out


def _online_field_cases():
    """Every online-EM entry of every stepped family: wrong shapes, dtypes and values."""
    for family, covariance_type, dtype, missing in STEPPED:
        model = _stepped(family, covariance_type, dtype, missing)
        stats = model._running_stats
        entries = {"online_em__nk": stats.nk}
        entries.update({f"online_em__moments__{n}": v for n, v in stats.moments.items()})
        entries.update({f"online_em__reference__{n}": np.asarray(v)
                        for n, v in stats.reference.items()})
        for name, value in entries.items():
            cases = _layout_cases(value) + [
                ("other float", value.astype(np.float32 if value.dtype == np.float64 else np.float64)),
                ("missing", None),
            ] + _invalid_values(name, value, covariance_type)
            for label, replacement in cases:
                yield pytest.param(
                    family, covariance_type, dtype, missing, name, label, replacement,
                    id=f"{family}-{covariance_type}-{dtype}-{missing}-{name}-{label}",
                )


@pytest.mark.parametrize("family, covariance_type, dtype, missing, name, label, replacement",
                         list(_online_field_cases()))
def test_every_invalid_online_field_is_refused(tmp_path, family, covariance_type, dtype,
                                               missing, name, label, replacement):
    path = tmp_path / "m.npz"
    _stepped(family, covariance_type, dtype, missing).save(path)
    _replace_entry(path, name, label, replacement, raw=("dtype", "integers", "other float"))
    _assert_refused_naming(path, name)


def _online_metadata_cases():
    invalid = {
        "n_steps": [-1, 1.5, True, "3", 5],  # 5: not n_iter - 1
        "n_samples": [0, -1.0, float("nan"), float("inf"), "1", True],
        "log_likelihood": [float("nan"), -float("inf"), "x", None],
        "moments": [["sx"], ["sx", "sx", "sxx"], ["sx", "sxx", "other"], "sx", [1, 2]],
        "reference": [[], ["shift", "other"], "shift", [None]],
    }
    for family, covariance_type, dtype, missing in STEPPED:
        model = _stepped(family, covariance_type, dtype, missing)
        stats = model._running_stats
        online = {"n_steps": model.n_steps_, "n_samples": stats.n_samples,
                  "log_likelihood": stats.log_likelihood, "moments": list(stats.moments),
                  "reference": list(stats.reference)}  # what the file's field holds
        for field, current in online.items():
            values = [("missing", None)] + [(f"= {v!r}", v) for v in invalid[field] if v != current]
            for label, value in values:
                yield pytest.param(
                    family, covariance_type, dtype, missing, field, label, value,
                    id=f"{family}-{covariance_type}-{dtype}-{missing}-{field} {label}")


@functools.lru_cache(maxsize=None)
def _saved_stepped(family, covariance_type, dtype, missing):
    import tempfile

    path = os.path.join(tempfile.mkdtemp(), "m.npz")
    _stepped(family, covariance_type, dtype, missing).save(path)
    return path


@pytest.mark.parametrize("family, covariance_type, dtype, missing, field, label, value",
                         list(_online_metadata_cases()))
def test_every_invalid_online_metadata_field_is_refused(tmp_path, family, covariance_type, dtype,
                                                        missing, field, label, value):
    _write_with_metadata_field(_saved_stepped(family, covariance_type, dtype, missing),
                               tmp_path / "m.npz", ("online_em", field), label, value)
    with pytest.raises(ValueError) as info:
        fastem.load(tmp_path / "m.npz")
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "m.npz") in message
    assert f"online_em.{field}" in message, message


def _damaged_online(tmp_path, kind):
    path = tmp_path / "m.npz"
    _stepped("gaussian", "diag").save(path)
    arrays = _arrays(path)
    meta = json.loads(str(arrays["metadata"]))
    if kind == "online metadata missing":
        del meta["online_em"]
    elif kind == "online metadata not a dict":
        meta["online_em"] = [1, 2]
    elif kind == "online state in version 1":
        meta["format_version"] = 1
    elif kind == "stray online entry":
        arrays["online_em__moments__extra"] = np.zeros(3)
    elif kind == "missing online entry":
        del arrays["online_em__moments__sxx"]
    elif kind == "n_iter disagrees":
        meta["n_iter"] += 1
    elif kind == "nk disagrees with n_samples":
        meta["online_em"]["n_samples"] /= 2
    arrays["metadata"] = np.array(json.dumps(meta))
    _write(path, arrays)
    return path


@pytest.mark.parametrize("kind, field", [
    ("online metadata missing", "online_em"), ("online metadata not a dict", "online_em"),
    ("online state in version 1", "format_version"), ("stray online entry", "online_em__moments__extra"),
    ("missing online entry", "online_em__moments__sxx"), ("n_iter disagrees", "n_iter"),
    ("nk disagrees with n_samples", "online_em.n_samples"),
])
def test_damaged_online_state_gives_one_line_naming_the_file(tmp_path, kind, field):
    path = _damaged_online(tmp_path, kind)
    with pytest.raises(ValueError) as info:
        fastem.load(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message and field in message, message


def test_a_stepped_tied_model_with_many_components_and_one_feature_loads(tmp_path):
    """The K x K 'pairs' statistic of 'tied' is larger than any parameter when K > D."""
    rng = np.random.default_rng(6)
    model = fastem.GaussianMixture(120, covariance_type="tied", random_state=0, reg_covar=1e-3)
    for _ in range(3):
        model.partial_fit(rng.normal(size=(600, 1)) * 30)
    model.save(tmp_path / "m.npz")
    _assert_same_online_state(model, fastem.load(tmp_path / "m.npz"))


# The optional metadata field column_indices (the command line's columns chosen by
# index in a file without names): written only when given, checked when present.


def test_column_indices_round_trip_and_are_optional(tmp_path):
    model = _model("gaussian")
    fastem_io.save(model, tmp_path / "m.npz", column_indices=(3, np.int64(0)))
    assert fastem_io.read_metadata(tmp_path / "m.npz")["column_indices"] == [3, 0]
    loaded, metadata = fastem_io._load(tmp_path / "m.npz")
    assert metadata["column_indices"] == [3, 0]
    np.testing.assert_array_equal(loaded.means_, model.means_)
    model.save(tmp_path / "plain.npz")  # a file without the field, as before it existed
    assert "column_indices" not in fastem_io.read_metadata(tmp_path / "plain.npz")
    _write_with_metadata_field(tmp_path / "m.npz", tmp_path / "null.npz", ("column_indices",),
                               "= None", None)
    assert fastem_io._load(tmp_path / "null.npz")[1]["column_indices"] is None


@pytest.mark.parametrize("value", [[0], [0, 1, 2], [1, 1], [-1, 0], [0, 1.0], [True, 0], "0,1",
                                   {"0": 1}])
def test_invalid_column_indices_are_refused(tmp_path, value):
    model = _model("gaussian")  # 2 features
    _write_with_metadata_field(_saved("gaussian", "full", "float64"), tmp_path / "m.npz",
                               ("column_indices",), f"= {value!r}", value)
    with pytest.raises(ValueError) as info:
        fastem.load(tmp_path / "m.npz")
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "m.npz") in message
    assert "'column_indices'" in message and "damaged" in message
    if isinstance(value, list):
        with pytest.raises(ValueError, match="column_indices"):
            fastem_io.save(model, tmp_path / "new.npz", column_indices=value)
        assert not (tmp_path / "new.npz").exists()


def test_save_refuses_parameters_that_load_would_refuse(tmp_path):
    """An assigned covariances_ beside the old precisions: the kernels read the precisions, and a
    file of both would not load. save says so and writes nothing (it used to write the file)."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) + 6])
    model = fastem.GaussianMixture(2, random_state=0).fit(X)
    model.covariances_ = model.covariances_ * 100
    with pytest.raises(ValueError, match=r"cannot save a model to .*'covariances_' is not the "
                                         r"inverse of 'precisions_'.*together"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_a_float32_fit_of_collinear_features_saves_and_loads(tmp_path, covariance_type):
    """Its covariances, positive definite in float64, round in float32 to matrices with an
    eigenvalue of 0: within the rounding of their entries, the file is written and read back
    (save refused it, and before that load refused the file)."""
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(size=150), rng.normal(size=150) + 6])
    X = (np.column_stack([x, 2 * x]) * 100).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = fastem.GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    model.save(tmp_path / "m.npz")
    loaded = fastem.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))


@pytest.mark.parametrize("name, value", [
    ("n_iter_", -1), ("n_iter_", 2.5), ("n_iter_", "x"), ("converged_", 3),
    ("lower_bound_", float("nan")), ("lower_bound_", "a"), ("lower_bounds_", [1.0, 2.0]),
    ("lower_bounds_", np.zeros((2, 2))), ("lower_bounds_", [-1.0, float("inf")]),
    ("feature_names_in_", np.array(["a", "b", "c"], dtype=object)),
    ("feature_names_in_", np.array([1, 2])),
    ("feature_names_in_", np.array(["a", "a"], dtype=object)), ("n_iter_", 0),
])
def test_save_refuses_a_record_that_load_would_refuse(tmp_path, name, value):
    """The record of the fit (n_iter_, converged_, lower_bound_, lower_bounds_,
    feature_names_in_) assigned a value that load refuses in a file: save says so, naming
    the attribute, and writes nothing. Before, it wrote a file that load refused (n_iter_
    -1, a NaN lower_bound_, three names for two features), rounded the value into one
    that loaded (n_iter_ 2.5 became 2, converged_ 3 True) or failed with Python's own
    message ("invalid literal for int()")."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) + 6])
    model = fastem.GaussianMixture(2, random_state=0).fit(X)
    setattr(model, name, value)  # [1.0, 2.0]: its last entry is not the lower bound
    with pytest.raises(ValueError, match=rf"cannot save a model to .*its {name} .*would not load"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
    # the conversions to and from scikit-learn refuse it as save does
    with pytest.raises(ValueError, match=rf"cannot convert .* to scikit-learn: .*its {name} "):
        model.to_sklearn()
    if name in ("n_iter_", "lower_bound_", "converged_"):  # scikit-learn's own record
        from sklearn.mixture import GaussianMixture as SkGaussianMixture

        estimator = SkGaussianMixture(2, random_state=0).fit(X)
        setattr(estimator, name, value)
        with pytest.raises(ValueError, match=rf"does not convert: .*its {name} "):
            fastem.GaussianMixture.from_sklearn(estimator)


@pytest.mark.parametrize("changes, named", [
    ({"feature_names_in": ["a", "a"]}, "feature_names_in"),
    ({"feature_names_in": ["b", "a", "b"], "n_features_in": 3}, "feature_names_in"),
    ({"n_iter": 0}, "n_iter"),
    ({"n_iter": 1}, "n_iter"),
    ({"n_iter": 0, "lower_bounds": [], "lower_bound": float("-inf"), "converged": True},
     "converged"),
])
def test_load_refuses_a_record_that_no_fit_writes(tmp_path, changes, named):
    """A fit takes distinct column names, records one lower bound per accepted pass (at
    most n_iter of them) and converges only after a pass: a file with repeated
    feature_names_in, more lower_bounds than n_iter or converged true at n_iter 0 is
    refused naming the field, where load built a model with two features named 'a' (whose
    columns predict could not tell apart) or a record of no fit."""
    source = _saved("gaussian", "full", "float64")
    arrays = _arrays(source)
    meta = json.loads(str(arrays["metadata"]))
    assert meta["n_iter"] >= 2 and meta["lower_bounds"]
    meta.update(changes)
    arrays["metadata"] = np.array(json.dumps(meta))
    _write(tmp_path / "m.npz", arrays)
    with pytest.raises(ValueError, match=rf"is damaged: metadata field '{named}'") as info:
        fastem.load(tmp_path / "m.npz")
    assert "\n" not in str(info.value)


class _PathLike:
    """An os.PathLike whose path is bytes, as os.fspath allows."""

    def __init__(self, path):
        self.path = path

    def __fspath__(self):
        return self.path


PATH_KINDS = {
    "str": str,
    "bytes": os.fsencode,
    "PathLike of bytes": lambda p: _PathLike(os.fsencode(p)),
}


@pytest.mark.parametrize("kind", list(PATH_KINDS))
def test_every_kind_of_path_saves_and_loads(tmp_path, kind):
    """save, load and read_metadata take a path as the os module does (str, bytes, an
    os.PathLike of either), and their errors for a missing file or directory name it as
    text; a bytes path had raised TypeError from deep inside (str and bytes mixed)."""
    model = _model("gaussian")
    as_kind = PATH_KINDS[kind]
    path = str(tmp_path / "m.npz")
    fastem_io.save(model, as_kind(path))
    np.testing.assert_array_equal(fastem.load(as_kind(path)).means_, model.means_)
    assert fastem_io.read_metadata(as_kind(path))["class"] == "GaussianMixture"
    fastem_io.save(model, as_kind(path))  # over the file: through the temporary file
    assert os.listdir(tmp_path) == ["m.npz"]
    with pytest.raises(FileNotFoundError, match="model file '.*none.npz' does not exist"):
        fastem.load(as_kind(str(tmp_path / "none.npz")))
    with pytest.raises(FileNotFoundError, match="~' is not expanded"):
        fastem.load(as_kind("~/none.npz"))
    with pytest.raises(FileNotFoundError, match="directory '.*nodir' does not exist"):
        fastem_io.save(model, as_kind(str(tmp_path / "nodir" / "m.npz")))


def _pandas_frame(rows):
    pd = pytest.importorskip("pandas")
    return pd.DataFrame(rows)


# (family, hyper-parameters given as a user may give them). Each is taken by the fit.
HYPER_PARAMETERS_AS_GIVEN = {
    "warm_start numpy bool": ("gaussian", lambda: {"warm_start": np.True_}),
    "accelerate numpy bool": ("exponential", lambda: {"accelerate": np.False_}),
    "means_init of Decimals": ("gaussian", lambda: {
        "means_init": [[Decimal("-1.5"), Decimal(0)], [Decimal(6), Decimal("6.25")]]}),
    "weights_init of Fractions": ("gaussian", lambda: {
        "weights_init": [Fraction(1, 3), Fraction(2, 3)]}),
    "precisions_init of Decimals": ("gaussian", lambda: {
        "covariance_type": "diag", "precisions_init": [[Decimal(1)] * 2, [Decimal(2)] * 2]}),
    "means_init as a DataFrame": ("gaussian", lambda: {
        "means_init": _pandas_frame([[-1.0, 0.0], [6.0, 6.0]])}),
    "weights_init as a Series": ("poisson", lambda: {
        "weights_init": _pandas_frame([[0.25, 0.75]]).iloc[0]}),
    "rates_init of Fractions": ("poisson", lambda: {
        "rates_init": [[Fraction(1), Fraction(2)], [Fraction(8), Fraction(9)]]}),
    "scales_init of Decimals": ("exponential", lambda: {
        "scales_init": [[Decimal(1), Decimal(4)], [Decimal(3), Decimal("0.5")]]}),
    "mean_prior of Decimals": ("bayesian", lambda: {"mean_prior": [Decimal(1), Decimal(2)]}),
}


@pytest.mark.parametrize("case", list(HYPER_PARAMETERS_AS_GIVEN))
def test_hyper_parameters_as_a_fit_takes_them_save_and_load(tmp_path, case):
    """A hyper-parameter the fit takes (a NumPy bool, a list of Decimal or Fraction entries,
    a DataFrame) is written as the fit reads it, and the file loads with the same value
    and predictions. Before, a NumPy bool was written as null (a file load refused as
    invalid), entries of objects were pickled (a file load refused as damaged), and a
    DataFrame was dropped (the loaded model had no means_init)."""
    family, given = HYPER_PARAMETERS_AS_GIVEN[case]
    hyper = given()
    template = _model(family, "full", "float64")
    X = template.sample(400)[0]
    model = type(template)(**{**template.get_params(), "n_components": 2, **hyper})
    model = _fit_quietly(model, X)
    model.save(tmp_path / "m.npz")
    loaded = fastem.load(tmp_path / "m.npz")
    for name, value in hyper.items():
        got = loaded.get_params()[name]
        if isinstance(value, str):
            assert got == value
        elif isinstance(value, (bool, np.bool_)):
            assert got is bool(value)
        else:
            np.testing.assert_array_equal(got, np.asarray(value, dtype=np.float64))
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))


@pytest.mark.parametrize("change, match", [
    ({"means_init": np.zeros((3, 2))}, r"means_init must have shape"),
    ({"weights_init": [0.5, 0.25, 0.25]}, r"weights_init must have shape"),
    ({"precisions_init": -np.ones((2, 2))}, r"precisions_init must have shape"),
    ({"means_init": [["a", "b"], ["c", "d"]]}, r"means_init must be an array of real numbers"),
])
def test_save_refuses_a_hyper_parameter_that_load_would_refuse(tmp_path, change, match):
    """An initial parameter set since the fit that a fit of the model's data refuses (of
    another shape, of text): save says so, naming it, and leaves the previous file as it
    was. Before, it wrote a file that load refused ("has an invalid hyper-parameter")."""
    model = _model("gaussian")
    model.save(tmp_path / "m.npz")
    before = (tmp_path / "m.npz").read_bytes()
    changed = type(model)(**{**model.get_params(), "n_components": 2})
    changed = _fit_quietly(changed, model.sample(300)[0]).set_params(**change)
    with pytest.raises(ValueError, match=rf"cannot save a model to .*would not load: {match}"):
        changed.save(tmp_path / "m.npz")
    assert (tmp_path / "m.npz").read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


class GaussianMixture(fastem.GaussianMixture):
    """A subclass named as the fastem class it changes."""

    def score_samples(self, X, out=None):
        return super().score_samples(X, out) + 1.0


class Clusters(fastem.GaussianMixture):
    pass


@pytest.mark.parametrize("cls", [Clusters, GaussianMixture])
def test_a_model_of_a_class_outside_fastem_is_refused_with_what_to_do(tmp_path, cls):
    """A subclass's file names its class with its module, which load does not build: the
    error says so and what to do (pickle such models). Before, a subclass of another name
    was refused with only "upgrade fastem", and one named as a fastem class loaded as
    that class, silently without the subclass's code."""
    model = _fit_quietly(cls(2, random_state=0), _model("gaussian").sample(300)[0])
    model.save(tmp_path / "m.npz")
    assert fastem_io.read_metadata(tmp_path / "m.npz")["class"] == f"{__name__}.{cls.__name__}"
    with pytest.raises(ValueError, match=rf"holds a '{__name__}.{cls.__name__}' model, .*a class "
                                         r"defined outside fastem \(a subclass .*pickle .*or one "
                                         r"of a newer fastem"):
        fastem.load(tmp_path / "m.npz")


@pytest.mark.parametrize("family, covariance_type, dtype, prior_type", [
    (*case, "dirichlet_process") for case in MODELS
] + [("bayesian", c, "float64", "dirichlet_distribution") for c in COVARIANCE_TYPES])
def test_the_record_of_the_fit_loads_as_it_was(tmp_path, family, covariance_type, dtype,
                                              prior_type):
    """n_iter_, converged_, lower_bound_ and lower_bounds_ read back equal and of the same
    Python types: before, a BayesianGaussianMixture's lower bounds were NumPy float64
    scalars, which the file gave back as floats (repr and json.dumps told them apart)."""
    model = _model(family, covariance_type, dtype)
    if prior_type == "dirichlet_distribution":
        X = make_demo_data(600, random_state=1)[0].astype(dtype)
        model = _fit_quietly(fastem.BayesianGaussianMixture(
            3, covariance_type=covariance_type, random_state=0,
            weight_concentration_prior_type=prior_type), X)
    model.save(tmp_path / "m.npz")
    loaded = fastem.load(tmp_path / "m.npz")
    for name in ("n_iter_", "converged_", "lower_bound_", "lower_bounds_", "n_features_in_"):
        value = getattr(model, name)
        assert getattr(loaded, name) == value, name
        assert repr(getattr(loaded, name)) == repr(value), name
    assert type(model.lower_bound_) is float
    assert all(type(v) is float for v in model.lower_bounds_)


def _with_entry_flag(data, entry, flag):
    """``data``, a zip archive, with ``entry``'s headers (local and central) marked: its
    compression method an unknown one (99), or encrypted (bit 0 of its flags)."""
    import struct

    data = bytearray(data)
    start = data.find(b"PK\x01\x02")
    while start >= 0:
        name_length = struct.unpack("<H", data[start + 28:start + 30])[0]
        if data[start + 46:start + 46 + name_length] == entry.encode():
            local = struct.unpack("<I", data[start + 42:start + 46])[0]
            if flag == "compression method":
                data[start + 10:start + 12] = data[local + 8:local + 10] = b"\x63\x00"
            else:
                data[start + 8] |= 1
                data[local + 6] |= 1
            return bytes(data)
        start = data.find(b"PK\x01\x02", start + 4)
    raise AssertionError(f"no entry {entry}")


@pytest.mark.parametrize("reader", ["load", "read_metadata", "fastem info", "fastem predict"])
@pytest.mark.parametrize("entry", ["metadata.npy", "means_.npy"])
@pytest.mark.parametrize("flag", ["compression method", "encrypted"])
def test_an_entry_zipfile_cannot_read_is_named_as_damage(tmp_path, flag, entry, reader,
                                                         capsys):
    """A flag in a zip header (an unknown compression method, an encryption bit) names the
    file and the entry as damaged: before, zipfile's NotImplementedError ("That compression
    method is not supported") and RuntimeError ("File 'metadata.npy' is encrypted, password
    required for extraction") came out of load, and the command line called them a bug."""
    from fastem.cli import main

    path = tmp_path / "m.npz"
    _model("gaussian").save(path)
    path.write_bytes(_with_entry_flag(path.read_bytes(), entry, flag))
    expected = rf"m.npz' is damaged: its entry '{entry[:-4]}' cannot be read"
    if reader in ("load", "read_metadata"):
        call = fastem.load if reader == "load" else fastem.io.read_metadata
        if reader == "read_metadata" and entry != "metadata.npy":
            assert call(path)["class"] == "GaussianMixture"  # reads the metadata alone
            return
        with pytest.raises(ValueError, match=expected):
            call(path)
        return
    data = tmp_path / "d.csv"
    data.write_text("x0,x1\n1,2\n3,4\n")
    args = ["info", str(path)] if reader == "fastem info" else [
        "predict", str(path), str(data), "-o", str(tmp_path / "labels.csv")]
    assert main(args) == 1
    message = capsys.readouterr().err
    assert re.search(expected, message) and message.strip().count("\n") == 0


@pytest.mark.parametrize("reader", ["load", "read_metadata", "fastem info"])
@pytest.mark.parametrize("entry", ["metadata.npy", "means_.npy"])
@pytest.mark.parametrize("method", ["ZIP_LZMA", "ZIP_BZIP2", "ZIP_DEFLATED"])
def test_damaged_compressed_data_of_an_entry_is_named_as_damage(tmp_path, method, entry,
                                                                reader, capsys):
    """An archive whose entries are compressed by a method zipfile reads loads; bytes
    damaged inside an entry's compressed data name the file and the entry, for every
    method: LZMA's LZMAError ("Corrupt input data") came out of load, and the command
    line called it a bug."""
    import zipfile

    from fastem.cli import main

    saved, path = tmp_path / "saved.npz", tmp_path / "m.npz"
    _model("gaussian").save(saved)
    with zipfile.ZipFile(saved) as source, zipfile.ZipFile(
            path, "w", compression=getattr(zipfile, method)) as archive:
        for name in source.namelist():
            archive.writestr(name, source.read(name))
    fastem.load(path)  # as written
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(entry)
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data = bytearray(path.read_bytes())
    for k in range(start + 5, start + info.compress_size - 2, 3):
        data[k] ^= 0x5A
    path.write_bytes(bytes(data))
    expected = rf"m.npz' is damaged: its entry '{entry[:-4]}' cannot be read"
    if reader == "fastem info":
        assert main(["info", str(path)]) == 1
        message = capsys.readouterr().err
        assert re.search(expected, message) and message.strip().count("\n") == 0
        return
    if reader == "read_metadata" and entry != "metadata.npy":
        return  # reads the metadata alone
    with pytest.raises(ValueError, match=expected):
        (fastem.load if reader == "load" else fastem.io.read_metadata)(path)


@pytest.mark.parametrize("name", ["n_iter_", "converged_", "lower_bounds_"])
def test_the_record_of_a_stepped_model_is_one_step(tmp_path, name):
    """Each partial_fit step records itself alone: n_iter_ = n_steps_ + 1, converged_
    false, the batch's mean log-likelihood as the one lower bound. save wrote an n_iter_
    assigned since into a file that load refused ('a model stepped by partial_fit has
    n_iter = n_steps + 1'), and a converged_ true or more lower_bounds_ into one that
    loaded as a record of no step; save refuses them, naming the attribute, and load
    refuses such a file, naming the field."""
    import copy

    model = copy.deepcopy(_stepped("gaussian", "full", "float64", "error"))
    model.save(tmp_path / "good.npz")
    value = {"n_iter_": model.n_iter_ + 3, "converged_": True,
             "lower_bounds_": [model.lower_bound_ - 1.0, model.lower_bound_]}[name]
    setattr(model, name, value)
    with pytest.raises(ValueError, match=rf"cannot save a model to .*: its {name} .*partial_fit"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()
    field = name[:-1]
    _write_with_metadata_field(tmp_path / "good.npz", tmp_path / "bad.npz", (field,), "=",
                               _json_value_of(value))
    with pytest.raises(ValueError, match=rf"is damaged: .*'{re.escape(field)}'"):
        fastem.load(tmp_path / "bad.npz")


def _json_value_of(value):
    return [float(v) for v in value] if isinstance(value, list) else value


@pytest.mark.parametrize("family", ["GaussianMixture", "BayesianGaussianMixture"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_float32_model_comes_back_from_sklearn_as_it_was(covariance_type, family):
    """from_sklearn(model.to_sklearn()) of a float32 model gave a float64 model of
    parameters rounded through float64 (covariances recomputed from the factors, weights
    normalised again): its dtype, predictions and file changed. The estimator carries
    the float32 parameters while it holds their float64 copies, pickled too, and
    from_sklearn gives them back bitwise."""
    import pickle

    pytest.importorskip("sklearn")
    cls = getattr(fastem, family)
    (X,) = _batches("gaussian", "float32", "error", 1, 300, seed=4)
    model = _fit_quietly(cls(3, covariance_type=covariance_type, random_state=0), X)
    estimator = pickle.loads(pickle.dumps(model.to_sklearn()))
    assert estimator.means_.dtype == np.float64
    back = cls.from_sklearn(estimator)
    for name in model._parameter_names:
        a, b = getattr(model, name), getattr(back, name)
        assert a.dtype == b.dtype == np.float32 and a.tobytes() == b.tobytes(), name
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("family", ["GaussianMixture", "BayesianGaussianMixture"])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_parameters_assigned_to_the_sklearn_estimator_of_a_float32_model_are_kept(
        covariance_type, family):
    """The float32 parameters that to_sklearn records are given back only while the
    estimator holds their float64 copies: means_ and weights_ assigned to it since were
    replaced by the recorded ones, silently, as if never assigned (a variational
    mixture's means_ alike)."""
    pytest.importorskip("sklearn")
    cls = getattr(fastem, family)
    (X,) = _batches("gaussian", "float32", "error", 1, 300, seed=4)
    model = _fit_quietly(cls(3, covariance_type=covariance_type, random_state=0), X)
    estimator = model.to_sklearn()
    estimator.means_ = estimator.means_ + 10.0
    if family == "GaussianMixture":  # a variational mixture's follow its concentrations
        estimator.weights_ = np.array([0.2, 0.3, 0.5])
    back = cls.from_sklearn(estimator)
    np.testing.assert_array_equal(back.means_, estimator.means_)
    np.testing.assert_allclose(back.weights_, estimator.weights_)
