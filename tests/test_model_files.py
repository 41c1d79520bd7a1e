"""Model files that are damaged, edited or special are refused with one clear line.

Every fitted array of every family and covariance type is set to a wrong
shape, a wrong dtype and each invalid value its family forbids, saved, and
loaded: ``fastem.load`` must refuse it with a ValueError that names the file
and the field. Damaged archives, special files (FIFO, device, directory) and
interrupted saves (a real SIGKILL) are covered too.
"""

import functools
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import zipfile

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
            cases = [("wrong shape", np.concatenate([value, value[:1]])),
                     ("one row fewer", value[:-1]),
                     ("extra axis", value[None]),
                     ("axis dropped", value[0]),
                     ("dtype", value.astype(np.float16)),
                     ("integers", value.astype(np.int64)),
                     ("object", None)]
            if value.ndim == 2 and value.shape[0] != value.shape[1]:
                cases.append(("transposed", value.T))
            cases += _invalid_values(name, value, covariance_type)
            for label, replacement in cases:
                yield pytest.param(
                    family, covariance_type, dtype, name, label, replacement,
                    id=f"{family}-{covariance_type}-{dtype}-{name}-{label}",
                )


@pytest.mark.parametrize("family, covariance_type, dtype, name, label, replacement", _field_cases())
def test_every_invalid_field_is_refused(tmp_path, family, covariance_type, dtype, name, label,
                                         replacement):
    model = _model(family, covariance_type, dtype)
    path = tmp_path / "m.npz"
    model.save(path)
    arrays = _arrays(path)
    if label == "object":
        # An object array needs pickling; NumPy refuses it with allow_pickle=False.
        arrays[name] = np.array([object()] * len(np.atleast_1d(arrays[name])), dtype=object)
        _write_object(path, arrays)
    else:
        if label not in ("dtype", "integers"):
            replacement = replacement.astype(arrays[name].dtype)
        arrays[name] = replacement
        _write(path, arrays)
    with pytest.raises(ValueError) as info:
        fastem.load(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert repr(name) in message


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
    elif kind == "not a model":
        np.save(tmp_path / "x.npy", np.ones(3))
        return tmp_path / "x.npy"
    return path


@pytest.mark.parametrize("kind", ["truncated", "zero bytes", "flipped byte",
                                  "metadata not a string", "metadata not json", "object metadata",
                                  "missing parameter", "bad hyper-parameter", "bad hyper array",
                                  "not a model"])
def test_damaged_files_give_one_line_naming_the_file(tmp_path, kind):
    path = _damaged(tmp_path, kind)
    with pytest.raises(ValueError) as info:
        fastem.load(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


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
    # an existing model file and an empty file may be replaced
    model.save(tmp_path / "m.npz")
    model.save(tmp_path / "m.npz")
    (tmp_path / "empty.npz").write_bytes(b"")
    model.save(tmp_path / "empty.npz")
    assert fastem.load(tmp_path / "empty.npz").n_components == model.n_components


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
        model = fastem.load({str(path)!r})
        model.means_init = np.zeros((3000, 1000))  # tens of MB of hyper-parameter array
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
        "parameters": [["weights_"]], "n_features_in": [0, -1, 7], "feature_names_in": [["a"], [1, 2]],
        "dtype": ["float16", "int64"], "converged": ["yes"], "n_iter": [-1, 2.5],
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


@pytest.mark.parametrize("family, covariance_type, dtype, field, label, value", _metadata_cases())
def test_every_invalid_metadata_field_is_refused(tmp_path, family, covariance_type, dtype, field,
                                                 label, value):
    arrays = _arrays(_saved(family, covariance_type, dtype))
    meta = json.loads(str(arrays["metadata"]))
    holder = meta if len(field) == 1 else meta[field[0]]
    if label == "missing":
        del holder[field[-1]]
    else:
        holder[field[-1]] = value
    arrays["metadata"] = np.array(json.dumps(meta))
    _write(tmp_path / "m.npz", arrays)
    with pytest.raises(ValueError) as info:
        fastem.load(tmp_path / "m.npz")
    message = str(info.value)
    assert "\n" not in message and str(tmp_path / "m.npz") in message
    # the field, or what it disagrees with (the arrays, for n_features_in)
    named = {"format": ["fastem model file"], "format_version": ["format_version", "format version"],
             "class": ["model"], "n_features_in": ["n_features_in", "n_features="]}.get(field[0], [field[-1]])
    assert any(n in message for n in named), message
