"""Throw random, adversarial inputs at fastem and report every failure mode seen.

Each case is generated from its own seed (so any case can be replayed with
``--replay SEED``) and runs in a worker subprocess with a per-case time limit.
Its outcome is one of:

clean
    The call returned, and the model and the outputs are finite.
error
    A fastem error: ValueError, TypeError, FloatingPointError, AttributeError
    (not fitted) or OSError (load), raised from fastem's own code with a message.
bug
    Anything else: another exception type, an error raised from inside NumPy,
    SciPy or Numba instead of fastem's checks, a warning from NumPy, a NaN
    model or NaN output after a clean return, a hang (time limit) or a crashed
    worker.

Targets: ``fit``, ``predict``/``predict_proba``/``score_samples``/``score`` on a
fitted model, and, when the tree has them, ``fastem.load`` and the ``fastem``
command line (``fastem.cli.main``); missing targets are skipped. An error of
the command line must be one line on stderr (``fastem: error: ...``) from an
error fastem expected; anything else is a bug.

States: ``state`` takes a fitted model of a random family through a random
sequence of ``set_params`` (valid and invalid values), parameters assigned by
hand (wrong shape, NaN, negative, another dtype, another covariance type's
arrays), refits (also on data with other features), ``partial_fit``,
``m_step`` with statistics of this model or of another one, a save
and load (the loaded model must predict bitwise alike) and predictions. A fit
that raises must leave the whole fitted state (parameters, ``n_iter_``,
``lower_bound_``, ...) exactly as it was, and one that returns must hold
attributes of one fit only (parameters that agree with each other and with
``n_features_in_``, ``lower_bound_`` the last of ``lower_bounds_``).
``concurrent`` reads a model (a prediction, ``sample``, ``save`` then
``load``, ``to_sklearn``) in one thread while another thread refits it on
other data: every answer must be bitwise that of the old fit or the new one.

Files: ``tampered`` saves a fitted model (any family, covariance type and
dtype), damages one field, one metadata entry or the bytes of the file, and
loads it (a file that loads must give finite outputs). ``changed`` fits a
memory-mapped ``.npy`` file or ``Chunks`` of parts while a callback truncates,
rewrites, replaces or extends a file at a random iteration (a fit that ends
cleanly, or a dead worker, e.g. by SIGBUS, is a bug). ``inputs`` gives a
command (``fit``, ``predict``, ``predict --proba``, ``sample``, ``select``),
``save`` or an ``out=`` memory map one of its own input files as output, in
some spelling (the path, ``dir/./name``, ``dir//name``, a symbolic or hard
link), with ``.npy`` and CSV data (BOM, CRLF, header, quoted numbers): every
input file must be unchanged byte for byte.

Each worker first compiles every kernel (``_warm_up``), so that no case is
timed with a compilation; a case over the time limit is run again in a fresh
worker with four times the limit, and only a second time-out is a hang.

Usage::

    PYTHONPATH=$PWD python scripts/fuzz.py --seconds 600 --seed 0
"""

import argparse
import collections
import importlib.util
import multiprocessing as mp
import os
import re
import tempfile
import time
import traceback
import warnings

CLEAR_ERRORS = ("ValueError", "TypeError", "FloatingPointError", "AttributeError")
WARM_UP_SECONDS = 900  # a worker compiles every kernel before its first case
CASE_SECONDS = 30


# ---------------------------------------------------------------------------
# case generation (runs in the worker; numpy only)


def _data(rng, np, n_features=None):
    """An adversarial data array and a description of it.

    Most arrays are valid but numerically hard, so that the numerical paths
    are exercised as often as the checks.
    """
    n = int(rng.choice([0, 1, 2, 3, 5] + [20, 100, 400] * 4))
    # 9 and 16 features take the kernels' tiled transposition (8 x 8 tiles),
    # 9 with a column left over.
    d = int(rng.choice([0, 1, 5, 9, 16] + [2, 3] * 3)) if n_features is None else n_features
    if n_features is not None and rng.random() < 0.1:
        d += 1
    kind = rng.choice(
        ["normal", "blobs", "constant", "duplicate-rows", "duplicate-cols", "offset",
         "separated", "huge", "tiny", "integers", "denormal", "mixed-scale"]
    )
    X = rng.normal(size=(n, d))
    if kind == "blobs" and n:
        X += rng.integers(0, 3, size=(n, 1)) * 6.0
    elif kind == "constant":
        X[:] = rng.normal()
    elif kind == "duplicate-rows" and n:
        X = X[rng.integers(0, max(1, min(n, 3)), size=n)]
    elif kind == "duplicate-cols" and d:
        X = X[:, rng.integers(0, d, size=d)]
    elif kind == "offset":
        X += 10.0 ** rng.integers(3, 12)
    elif kind == "separated" and n:
        X[: n // 2] += 10.0 ** rng.integers(3, 200)
    elif kind == "huge":
        X *= 10.0 ** rng.integers(10, 300)
    elif kind == "tiny":
        X *= 10.0 ** -rng.integers(10, 300)
    elif kind == "integers":
        X = rng.integers(-3, 3, size=(n, d))
    elif kind == "denormal":
        X *= 1e-310
    elif kind == "mixed-scale" and d:
        X *= 10.0 ** rng.integers(-150, 150, size=d)
    desc = [f"{kind} {n}x{d}"]

    spoil = rng.choice(["none"] * 40 + ["nan", "inf", "1-D", "3-D", "0-D", "list", "ragged"])
    if spoil in ("nan", "inf") and X.size:
        X = X.astype(np.float64)
        X.flat[rng.integers(0, X.size)] = np.nan if spoil == "nan" else -np.inf
    elif spoil == "1-D":
        X = X.ravel()
    elif spoil == "3-D":
        X = X.reshape(1, *X.shape)
    elif spoil == "0-D":
        X = np.float64(1.0)
    elif spoil == "list":
        X = X.tolist()
    elif spoil == "ragged" and n > 1:
        rows = np.empty(n, dtype=object)
        for i, row in enumerate(X):
            rows[i] = list(row) + [1.0] * (i == 0)
        X = rows
    desc.append(str(spoil))

    if isinstance(X, np.ndarray) and X.ndim and spoil != "ragged":
        dtype = rng.choice(["float64"] * 12 + ["float32"] * 12 + ["float16", "int64", "bool",
                            "complex", "object", "str", ">f8", ">f4", "uint8"])
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            X = X.astype(str(dtype))
        layout = rng.choice(["C", "F", "strided", "read-only"])
        if layout == "F":
            X = np.asfortranarray(X)
        elif layout == "strided" and X.ndim == 2:
            X = np.repeat(X, 2, axis=1)[:, ::2]
        elif layout == "read-only":
            X.flags.writeable = False
        desc += [str(dtype), str(layout)]
    return X, " ".join(desc)


def _maybe_bad(rng, good, bad):
    """Mostly a valid value, sometimes an invalid one."""
    return good if rng.random() < 0.9 else bad[int(rng.integers(0, len(bad)))]


def _params(rng, np, n_features):
    K = _maybe_bad(rng, int(rng.integers(1, 5)), [0, -1, 2.5, True, "2", None, 10**6])
    params = dict(
        n_components=K,
        covariance_type=_maybe_bad(rng, str(rng.choice(["full", "tied", "diag", "spherical"])),
                                   ["Full", None, 1]),
        tol=_maybe_bad(rng, float(rng.choice([1e-3, 0.0, 1e-8, 10.0])), [-1.0, np.nan, np.inf, "a"]),
        reg_covar=_maybe_bad(rng, float(rng.choice([1e-6, 0.0, 1e-12, 1.0, 1e6])),
                             [-1e-6, np.nan, np.inf, None]),
        max_iter=_maybe_bad(rng, int(rng.integers(0, 25)), [-1, 1.5, True]),
        n_init=_maybe_bad(rng, int(rng.integers(1, 3)), [0, 1.0]),
        init_params=_maybe_bad(rng, str(rng.choice(["k-means++", "kmeans", "random",
                                                    "random_from_data"])), ["k-means", None]),
        random_state=_maybe_bad(rng, int(rng.integers(0, 100)), [-5, 2**40, 1.5, "x"]),
        verbose=0,
    )
    if type(K) is int and 0 < K < 10 and n_features:
        D = n_features
        ct = params["covariance_type"]
        if rng.random() < 0.15:
            w = rng.dirichlet(np.ones(K))
            params["weights_init"] = _maybe_bad(rng, w, [w * 2, -w, w[:-1], np.full(K, np.nan)])
        if rng.random() < 0.15:
            m = rng.normal(size=(K, D)) * 10.0 ** rng.integers(0, 8)
            params["means_init"] = _maybe_bad(rng, m, [m.T, m[:, :1], np.full((K, D), np.inf)])
        if rng.random() < 0.15:
            shapes = {"full": (K, D, D), "tied": (D, D), "diag": (K, D), "spherical": (K,)}
            shape = shapes.get(ct, (K,))
            if ct in ("full", "tied"):
                p = np.broadcast_to(np.eye(D), shape).copy() * rng.uniform(0.1, 10)
            else:
                p = np.full(shape, rng.uniform(0.1, 10))
            params["precisions_init"] = _maybe_bad(rng, p, [-p, p * 0, p[..., :1], np.ones(3)])
    return params


def _weights(rng, np, n):
    choice = rng.choice(["none"] * 5 + ["uniform", "zeros", "negative", "nan", "short", "sparse"])
    if choice == "none" or not isinstance(n, int):
        return None, "none"
    w = {
        "uniform": lambda: rng.uniform(0, 3, size=n),
        "zeros": lambda: np.zeros(n),
        "negative": lambda: -np.ones(n),
        "nan": lambda: np.full(n, np.nan),
        "short": lambda: np.ones(max(0, n - 1)),
        "sparse": lambda: (rng.random(n) < 0.1).astype(float),
    }[choice]()
    return w, str(choice)


def _garbage_file(rng, np, directory):
    path = os.path.join(directory, f"model{int(rng.integers(1e9))}")
    kind = rng.choice(["empty", "bytes", "text", "npz-truncated", "npz-wrong", "missing", "dir"])
    if kind == "empty":
        open(path, "wb").close()
    elif kind == "bytes":
        with open(path, "wb") as fh:
            fh.write(rng.bytes(int(rng.integers(1, 4000))))
    elif kind == "text":
        with open(path, "w") as fh:
            fh.write('{"n_components": "x", "means_": [[1, 2], [3]]}')
    elif kind in ("npz-truncated", "npz-wrong"):
        np.savez(path + ".npz", a=rng.normal(size=(3, 3)), weights_=np.array([0.5, np.nan]))
        path += ".npz"
        if kind == "npz-truncated":
            with open(path, "r+b") as fh:
                fh.truncate(max(1, os.path.getsize(path) // 2))
    elif kind == "dir":
        path = directory
    return path, str(kind)


def _fitted_model(rng, np, fastem):
    family = str(rng.choice(["gaussian", "exponential", "poisson"]))
    dtype = str(rng.choice(["float32", "float64"]))
    D = int(rng.integers(1, 4))
    if family == "gaussian":
        X = rng.normal(size=(200, D))
        model = fastem.GaussianMixture(
            int(rng.integers(1, 4)), covariance_type=str(rng.choice(["full", "tied", "diag", "spherical"])),
            random_state=0, max_iter=5)
    elif family == "exponential":
        X = rng.exponential(size=(200, D))
        model = fastem.ExponentialMixture(int(rng.integers(1, 4)), random_state=0, max_iter=5)
    else:
        X = rng.poisson(3.0, size=(200, D)).astype(float)
        model = fastem.PoissonMixture(int(rng.integers(1, 4)), random_state=0, max_iter=5)
    X = X.astype(dtype)
    return model.fit(X), X, f"{type(model).__name__} {getattr(model, 'covariance_type', '')} {dtype} D={D}"


def _tamper(rng, np, path):
    """Damage the model file at ``path`` in one random way; return what was done."""
    import json

    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["metadata"]))
    how = str(rng.choice(["field", "field", "metadata", "bytes"]))
    if how == "bytes":
        data = bytearray(open(path, "rb").read())
        if rng.random() < 0.5:
            del data[int(rng.integers(0, len(data))):]
            what = f"truncated to {len(data)} bytes"
        else:
            i = int(rng.integers(0, len(data)))
            data[i] ^= int(rng.integers(1, 256))
            what = f"byte {i} flipped"
        open(path, "wb").write(bytes(data))
        return what
    if how == "metadata":
        key = str(rng.choice(sorted(meta)))
        change = str(rng.choice(["delete", "null", "string", "number", "n_components"]))
        if change == "delete":
            del meta[key]
        elif change == "n_components":
            meta["hyper_parameters"]["n_components"] = int(rng.integers(-1, 6))
            key = "hyper_parameters.n_components"
        else:
            meta[key] = {"null": None, "string": "x", "number": float(rng.normal())}[change]
        arrays["metadata"] = np.array(json.dumps(meta))
        np.savez(path, **arrays)
        return f"metadata {key}: {change}"
    name = str(rng.choice(meta["parameters"]))
    value = arrays[name].astype(np.float64)
    change = str(rng.choice(["nan", "inf", "negative", "zero", "scale", "noise", "shape",
                             "transpose", "swap", "dtype"]))
    if change == "nan":
        value.flat[int(rng.integers(value.size))] = np.nan
    elif change == "inf":
        value.flat[int(rng.integers(value.size))] = np.inf
    elif change == "negative":
        value = -value
    elif change == "zero":
        value = np.zeros_like(value)
    elif change == "scale":
        value = value * 10.0 ** rng.uniform(-3, 3)
    elif change == "noise":
        value = value + rng.normal(size=value.shape)
    elif change == "shape":
        value = np.concatenate([value, value[:1]]) if rng.random() < 0.5 else value[:-1]
    elif change == "transpose":
        value = value.T
    elif change == "swap":
        other = str(rng.choice(meta["parameters"]))
        value, arrays[other] = arrays[other].astype(np.float64), value
        change = f"swap with {other}"
    arrays[name] = value if change == "dtype" else value.astype(arrays[name].dtype)
    np.savez(path, **arrays)
    return f"{name}: {change}"


def _family_model(rng, np):
    """A random unfitted model, with data of its domain: (model, X)."""
    import fastem

    family = str(rng.choice(["full", "tied", "diag", "spherical", "exponential", "poisson"]))
    D = int(rng.integers(1, 4))
    K = int(rng.integers(1, 4))
    dtype = str(rng.choice(["float32", "float64"]))
    if family == "exponential":
        model, X = fastem.ExponentialMixture(K), rng.exponential(size=(200, D))
    elif family == "poisson":
        model, X = fastem.PoissonMixture(K), rng.poisson(5.0, size=(200, D)).astype(float)
    else:
        model = fastem.GaussianMixture(K, covariance_type=family)
        X = rng.normal(size=(200, D)) + rng.integers(0, 3, size=(200, 1)) * 5.0
    return model.set_params(random_state=0, max_iter=10), X.astype(dtype), family


def _tampered(rng, np, value):
    """A wrong version of a parameter array, and what was done to it."""
    kind = str(rng.choice(["shape-more", "shape-less", "drop-axis", "add-axis", "nan", "inf",
                           "negative", "zero", "int", "other-dtype", "scalar", "string",
                           "transpose", "scaled"]))
    v = np.asarray(value)
    if v.dtype.kind not in "biuf":  # tampered before into text: tamper a number instead
        v = np.ones(3)
    out = {
        "shape-more": lambda: np.concatenate([v, v[:1]]) if v.ndim else v,
        "shape-less": lambda: v[:-1] if v.ndim else v,
        "drop-axis": lambda: v[0] if v.ndim else v,
        "add-axis": lambda: v[None],
        "nan": lambda: np.where(rng.random(v.shape) < 0.5, np.nan, v),
        "inf": lambda: np.full_like(v, np.inf),
        "negative": lambda: -v,
        "zero": lambda: np.zeros_like(v),
        "int": lambda: v.astype(np.int64),
        "other-dtype": lambda: v.astype(np.float32 if v.dtype == np.float64 else np.float64),
        "scalar": lambda: 1.0,
        "string": lambda: "x",
        "transpose": lambda: v.T,
        "scaled": lambda: v * 0.2,
    }[kind]()
    return out, kind


def _random_set_params(rng, np, model):
    names = sorted(model.get_params())
    name = str(rng.choice([n for n in names if n != "callback"]))
    pool = {
        "n_components": [1, 2, 3, 5, 0, -1, 2.5, "2"],
        "covariance_type": ["full", "tied", "diag", "spherical", "Full", None],
        "reg_covar": [0.0, 1e-6, 1.0, -1.0, np.nan],
        "warm_start": [True, False, "yes"],
        "max_iter": [0, 1, 5, -1],
        "tol": [0.0, 1e-3, -1.0],
        "n_init": [1, 2, 0],
        "init_params": ["k-means++", "kmeans", "random", "random_from_data", "nope"],
        "random_state": [0, 1, None, -1],
        "min_scale": [1e-6, 0.0, 1.0, -1.0],
        "min_rate": [1e-6, 0.0, 1.0, -1.0],
    }.get(name, [None])
    value = pool[int(rng.integers(0, len(pool)))]
    model.set_params(**{name: value})
    return f"set_params({name}={value!r})"


def _predict_outputs(model, X, np, method):
    out = getattr(model, method)(X) if method != "sample" else model.sample(5)[0]
    out = np.asarray(out, dtype=np.float64)
    if np.isnan(out).any() or (out == np.inf).any():
        return f"NaN or +inf output of {method}"
    return None


def _mixed_record(model):
    """Why the fitted attributes of ``model`` cannot come from one fit, or None."""
    import numpy as np

    if len(model.lower_bounds_) and model.lower_bound_ != model.lower_bounds_[-1]:
        return f"lower_bound_ {model.lower_bound_} is not lower_bounds_[-1] {model.lower_bounds_[-1]}"
    try:
        model._check_fitted_parameters(model.n_features_in_)
    except ValueError as exc:
        return f"the fitted attributes disagree: {exc}"
    if model._fit_structure != model._structure(model.n_features_in_):
        return f"fitted as {model._fit_structure}, recorded as {model._structure(model.n_features_in_)}"
    if not all(np.asarray(getattr(model, n)).dtype == model.weights_.dtype for n in model._parameter_names):
        return "parameters of two dtypes"
    return None


def _state_case(rng, np, tmpdir):
    import fastem
    from fastem import _state

    model, X, family = _family_model(rng, np)
    model.fit(X)
    steps = [f"{family} fitted"]
    for _ in range(int(rng.integers(1, 7))):
        action = str(rng.choice(["set_params", "set_params", "assign", "refit", "refit-other-d",
                                 "partial_fit", "m_step", "save-load", "predict", "predict"]))
        try:
            if action == "set_params":
                steps.append(_random_set_params(rng, np, model))
            elif action == "assign":
                name = str(rng.choice(list(model._parameter_names)))
                value, kind = _tampered(rng, np, getattr(model, name))
                setattr(model, name, value)
                steps.append(f"{name} {kind}")
            elif action in ("refit", "refit-other-d", "partial_fit"):
                data = X if action != "refit-other-d" else np.abs(
                    np.round(rng.normal(size=(150, X.shape[1] + 1)) * 3)).astype(X.dtype)
                before = _state.committed(model)
                steps.append(action)
                try:
                    if action == "partial_fit":
                        model.partial_fit(data[: int(rng.integers(1, len(data)))])
                    else:
                        model.fit(data)
                except Exception:
                    if _state.committed(model) is not before:
                        return "bug", "a failed fit changed the fitted state", " -> ".join(steps)
                    raise
                bad = _nonfinite_model(model, np)
                if bad:
                    return "bug", f"NaN model: {bad}", " -> ".join(steps)
                mixed = _mixed_record(model) if action != "partial_fit" else None
                if mixed:
                    return "bug", f"attributes of two fits: {mixed}", " -> ".join(steps)
            elif action == "m_step":
                # statistics summarized by this model or by another one
                other, data, kind = _family_model(rng, np)
                source = other.fit(data) if rng.random() < 0.7 else model
                steps.append(f"m_step({'own' if source is model else kind} statistics)")
                before = _state.committed(model)
                try:
                    model.m_step(source.summarize(X if source is model else data))
                except Exception:
                    if _state.committed(model) is not before:
                        return "bug", "a failed m_step changed the fitted state", " -> ".join(steps)
                    raise
            elif action == "save-load":
                path = os.path.join(tmpdir, f"state{int(rng.integers(1e9))}.npz")
                steps.append("save-load")
                model.save(path)
                loaded = fastem.load(path)
                for method in ("score_samples", "predict_proba"):
                    if not np.array_equal(getattr(model, method)(X), getattr(loaded, method)(X)):
                        return "bug", f"the loaded model's {method} differs", " -> ".join(steps)
            else:
                method = str(rng.choice(["predict", "predict_proba", "score_samples", "score",
                                         "bic", "aic", "sample"]))
                steps.append(method)
                problem = _predict_outputs(model, X, np, method)
                if problem:
                    return "bug", problem, " -> ".join(steps)
        except Exception as exc:
            exc.fuzz_description = " -> ".join(steps)
            raise
    return "clean", "", " -> ".join(steps)


def _concurrent_case(rng, np, tmpdir):
    """A reader in this thread while another thread refits the model: old or new answer only."""
    import threading

    import fastem

    model, X, family = _family_model(rng, np)
    model.set_params(tol=0.0, max_iter=int(rng.integers(2, 8)))
    X_new = X[::-1] * 1.5 + 1.0 if family not in ("poisson", "exponential") else X[::-1] * 2.0
    method = str(rng.choice(["predict", "predict_proba", "score_samples", "score", "bic", "aic",
                             "sample", "save", "to_sklearn"]))
    if method == "to_sklearn" and not hasattr(model, "to_sklearn"):
        method = "save"
    path = os.path.join(tmpdir, f"concurrent{int(rng.integers(1e9))}.npz")

    def answer(m):
        if method == "save":
            m.save(path)
            loaded = fastem.load(path)
            return [loaded.score_samples(X), np.array([loaded.lower_bound_, loaded.n_iter_])]
        if method == "to_sklearn":
            est = m.to_sklearn()
            return [est.means_, est.precisions_cholesky_, np.array([est.lower_bound_, est.n_iter_])]
        if method == "sample":
            return [m.sample(20)[0]]
        return [np.asarray(getattr(m, method)(X))]

    import copy
    expected = [answer(copy.deepcopy(model).fit(data)) for data in (X, X_new)]
    model.fit(X)
    done = threading.Event()
    errors = []

    def refit():
        try:
            for i in range(4):
                model.fit(X_new if i % 2 == 0 else X)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    thread = threading.Thread(target=refit)
    thread.start()
    seen = 0
    try:
        while not done.is_set() or seen == 0:
            got = answer(model)
            seen += 1
            if not any(all(np.array_equal(a, b) for a, b in zip(got, e)) for e in expected):
                return "bug", f"{method} during a refit matches neither fit", f"{family} {method}"
    finally:
        thread.join()
    if errors:
        raise errors[0]
    return "clean", "", f"{family} {method} x{seen}"


def _change_file(rng, np, path):
    """A fit callback that changes ``path`` at a random iteration."""
    when = int(rng.integers(1, 4))
    how = str(rng.choice(["truncate", "truncate-all", "rewrite", "replace", "extend"]))

    def callback(model, n_iter, lower_bound):
        if n_iter == when:
            if how.startswith("truncate"):
                with open(path, "r+b") as fh:
                    fh.truncate(0 if how == "truncate-all" else os.path.getsize(path) // 2)
            elif how == "rewrite":
                data = np.load(path)
                np.save(path, data[::-1].copy())
            elif how == "replace":
                np.save(path + ".new.npy", np.load(path) * 2)
                os.replace(path + ".new.npy", path)
            else:
                with open(path, "ab") as fh:
                    fh.write(b"\0" * 4096)
        return False

    return callback, f"{how} at iteration {when}"


def _run_cli(argv):
    """Run the command line in-process: (outcome, detail) with outcome clean, error or bug.

    An error must be one line on stderr, ``fastem: error: ...``, from an
    error fastem expected (no "rerun with --debug" for an unexpected type).
    """
    import contextlib
    import io

    import fastem.cli

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            status = fastem.cli.main(argv)
        except SystemExit as exc:
            status = exc.code
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("fastem: compil")]
    if status in (0, None):
        return "clean", ""
    if status not in (1, 2):
        return "bug", f"exit status {status!r}"
    if len(lines) != 1 or not lines[0].startswith("fastem: error:"):
        return "bug", f"error in {len(lines)} line(s): {' | '.join(lines)[:200]}"
    if "rerun with --debug" in lines[0]:
        return "bug", f"unexpected error type: {lines[0][:200]}"
    return "error", lines[0][:100]


def _digest(path):
    import hashlib

    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest(), os.path.islink(path)


def _write_csv(rng, np, path, X):
    """``X`` as a CSV file with a random spelling: BOM, CRLF, header, quoted numbers."""
    newline = "\r\n" if rng.random() < 0.5 else "\n"
    quote = '"' if rng.random() < 0.3 else ""
    rows = [",".join(f"{quote}{v!r}{quote}" for v in row) for row in X.tolist()]
    if rng.random() < 0.5:
        rows.insert(0, ",".join(f"x{j}" for j in range(X.shape[1])))
    text = newline.join(rows) + newline
    encoding = "utf-8-sig" if rng.random() < 0.5 else "utf-8"
    with open(path, "w", encoding=encoding, newline="") as fh:
        fh.write(text)
    return f"csv({encoding}, {'CRLF' if newline == chr(13) + chr(10) else 'LF'}, quote={bool(quote)})"


def _cli_case(rng, np, tmpdir):
    """A random command line over real and garbage files; inputs must stay unchanged."""
    import fastem

    d = os.path.join(tmpdir, f"cli{int(rng.integers(1e9))}")
    os.makedirs(d)
    X = np.abs(rng.normal(size=(80, 3)) * 3 + rng.integers(0, 2, size=(80, 1)) * 6)
    counts = np.round(X) + 1
    if rng.random() < 0.2:
        X = np.round(X)
    if rng.random() < 0.1:
        X[int(rng.integers(80)), int(rng.integers(3))] = float(rng.choice([np.nan, np.inf, 1e300]))
    npy, csv, model_path = (os.path.join(d, n) for n in ("data.npy", "data.csv", "model.npz"))
    np.save(npy, X)
    _write_csv(rng, np, csv, X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        family = [fastem.GaussianMixture(2), fastem.ExponentialMixture(2),
                  fastem.PoissonMixture(2)][int(rng.integers(3))]
        family.set_params(random_state=0).fit(counts).save(model_path)
    garbage, gdesc = _garbage_file(rng, np, d)
    files = [npy, csv, model_path, garbage]
    inputs = [p for p in files[:3]]
    before = {p: _digest(p) for p in inputs}

    def pick(values):
        return str(values[int(rng.integers(len(values)))])

    command = pick(["fit", "predict", "score", "sample", "select", "info", "demo", "nope", "--help",
                    "--version"])
    argv = [command]
    positional = {"fit": 1, "predict": 2, "score": 2, "sample": 1, "select": 1, "info": 1}.get(command, 0)
    for i in range(positional + int(rng.integers(-1, 2))):
        argv.append(pick(files) if rng.random() < 0.3 else
                     (model_path if i == 0 and command in ("predict", "score", "sample", "info")
                      else pick([npy, csv])))
    options = {
        "-k": ["2", "0", "x", "1000000", "-3"], "-o": [os.path.join(d, "out.npz"), os.path.join(d, "out.npy"),
                                                      os.path.join(d, "out.csv"), npy, csv, model_path, d],
        "--covariance": ["full", "tied", "nope", "diag,full"], "--max-iter": ["0", "5", "-1", "x"],
        "--tol": ["0", "1e-3", "-1", "nan"], "--dtype": ["float32", "float64", "int"],
        "--family": ["gaussian", "poisson", "exponential", "beta"], "--columns": ["0,1", "x0", "9", "a,,b", ""],
        "--k": ["1-3", "1-10000000000", "3-1", "2,4", "x"], "-n": ["5", "0", "x"], "--proba": None,
        "--json": None, "--quiet": None, "--seed": ["0", "-1", "x"], "--n-init": ["1", "0"],
        "--criterion": ["bic", "aic", "icl"], "--debug": None,
    }
    required = {"fit": ["-k", "-o"], "predict": ["-o"], "sample": ["-n", "-o"]}.get(command, [])
    own = {"fit": ["--covariance", "--max-iter", "--tol", "--dtype", "--family", "--columns",
                   "--seed", "--n-init"],
           "predict": ["--proba", "--columns", "--dtype"], "score": ["--columns", "--dtype", "--json"],
           "sample": ["--seed"], "select": ["--k", "--covariance", "--criterion", "-o", "--family",
                                            "--columns", "--dtype"], "info": ["--json"]}.get(command, [])
    chosen = [o for o in required if rng.random() < 0.9]
    chosen += [pick(own) for _ in range(int(rng.integers(0, 3)))] if own else []
    chosen += [pick(sorted(options)) for _ in range(int(rng.random() < 0.2))]
    for option in chosen:
        if option == "--debug":
            continue  # --debug asks for the traceback
        argv.append(option)
        if options[option] is not None:
            argv.append(pick(options[option]))
    desc = f"cli {[os.path.relpath(a, d) if a.startswith(d) else a for a in argv]} (garbage: {gdesc})"
    outcome, detail = _run_cli(argv)
    # A file may be replaced only as the output of a command that does not read it.
    output = argv[argv.index("-o") + 1] if "-o" in argv[:-1] else None
    changed = [os.path.basename(p) for p in inputs
               if _digest(p) != before[p] and (p != output or p in argv[1:positional + 1])]
    if changed:
        return "bug", f"input file(s) {changed} changed", desc
    return outcome, detail, desc


def _inputs_case(rng, np, tmpdir):
    """An entry point given one of its inputs (in some spelling) as its output.

    Every input file must come out byte for byte as it went in, and still be
    what it was (a symbolic link stays a link); a refusal must be a clear error.
    """
    import fastem

    d = os.path.join(tmpdir, f"inputs{int(rng.integers(1e9))}")
    os.makedirs(d)
    X = rng.normal(size=(60, 2)) + rng.integers(0, 2, size=(60, 1)) * 4.0
    npy, csv, model_path = (os.path.join(d, n) for n in ("data.npy", "data.csv", "model.npz"))
    np.save(npy, X)
    desc = _write_csv(rng, np, csv, X)
    fastem.GaussianMixture(2, random_state=0).fit(X).save(model_path)
    os.symlink(npy, os.path.join(d, "link.npy"))
    os.link(csv, os.path.join(d, "hard.csv"))
    inputs = [npy, csv, model_path, os.path.join(d, "link.npy")]
    before = {p: _digest(p) for p in inputs}

    def spelled(path):
        name = os.path.basename(path)
        others = {npy: ["link.npy"], csv: ["hard.csv"]}.get(path, [])
        choices = [path, os.path.join(d, ".", name), d + os.sep + os.sep + name]
        choices += [os.path.join(d, other) for other in others]
        return choices[int(rng.integers(len(choices)))]

    data = [npy, csv][int(rng.integers(2))]
    command = str(rng.choice(["fit", "predict", "predict-proba", "sample", "select", "save",
                              "out-array"]))
    own = {"fit": [data], "predict": [model_path, data], "predict-proba": [model_path, data],
           "sample": [model_path], "select": [data], "save": [npy, csv, model_path],
           "out-array": [npy]}[command]
    target = spelled(own[int(rng.integers(len(own)))])
    if rng.random() < 0.2:
        target = os.path.join(d, "new-output" + os.path.splitext(target)[1])
    desc = f"{command} -> {os.path.relpath(target, d)} | data {os.path.basename(data)} {desc}"
    outcome, detail = "clean", ""
    if command in ("save", "out-array"):
        try:
            if command == "save":
                fastem.load(model_path).save(target)
            else:
                if os.path.exists(target):  # over the data's own values, past the header
                    out = np.memmap(target, dtype=np.float64, mode="r+", offset=128, shape=(60,))
                else:
                    out = np.memmap(target, dtype=np.float64, mode="w+", shape=(60,))
                fastem.load(model_path).score_samples(np.load(npy, mmap_mode="r"), out=out)
                del out
        except (ValueError, TypeError, OSError) as exc:
            outcome, detail = "error", f"{type(exc).__name__}: {str(exc)[:90]}"
    else:
        argv = {
            "fit": ["fit", data, "-k", "2", "-o", target],
            "predict": ["predict", model_path, data, "-o", target],
            "predict-proba": ["predict", model_path, data, "--proba", "-o", target],
            "sample": ["sample", model_path, "-n", "5", "-o", target],
            "select": ["select", data, "--k", "1-2", "-o", target],
        }[command]
        outcome, detail = _run_cli(argv)
    changed = [os.path.basename(p) for p in inputs if _digest(p) != before[p]]
    if changed:
        return "bug", f"input file(s) {changed} changed by {command}", desc
    return outcome, detail, desc


# ---------------------------------------------------------------------------
# running one case (in the worker)


def _nonfinite_model(model, np):
    for name in getattr(model, "_parameter_names", ()):
        value = getattr(model, name, None)
        if value is not None and not np.isfinite(np.asarray(value, dtype=np.float64)).all():
            return name
    return None


def _raised_in_fastem(exc):
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and f"{os.sep}fastem{os.sep}" in frames[-1].filename


def run_case(seed, targets, tmpdir):
    """Return (target, outcome, detail, description) for the case of ``seed``."""
    import numpy as np

    import fastem

    rng = np.random.default_rng(seed)
    target = targets[int(rng.integers(0, len(targets)))]
    desc = ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            warnings.simplefilter("ignore", fastem.ConvergenceWarning)
            warnings.simplefilter("ignore", getattr(fastem, "EmptyComponentWarning", UserWarning))
            if target == "fit":
                X, desc = _data(rng, np)
                n = len(X) if hasattr(X, "__len__") and np.ndim(X) else None
                w, wdesc = _weights(rng, np, n)
                params = _params(rng, np, np.shape(X)[1] if np.ndim(X) == 2 else 0)
                desc += f" | w={wdesc} | {params}"
                model = fastem.GaussianMixture(**params).fit(X, sample_weight=w)
                bad = _nonfinite_model(model, np)
                if bad:
                    return target, "bug", f"NaN model: {bad}", desc
            elif target == "predict":
                rng_fit = np.random.default_rng(int(rng.integers(2**32)))
                D = int(rng.integers(1, 4))
                ct = str(rng.choice(["full", "tied", "diag", "spherical"]))
                scale = 10.0 ** rng.integers(-5, 6)
                dtype = str(rng.choice(["float32", "float64"]))
                Xfit = (rng_fit.normal(size=(100, D)) * scale).astype(dtype)
                model = fastem.GaussianMixture(int(rng.integers(1, 4)), covariance_type=ct,
                                               random_state=0).fit(Xfit)
                X, desc = _data(rng, np, n_features=D)
                method = str(rng.choice(["predict", "predict_proba", "score_samples", "score"]))
                desc = f"{method} on {desc} | model {ct} D={D} scale={scale:g} {dtype}"
                out = np.asarray(getattr(model, method)(X), dtype=np.float64)
                # -inf is a legitimate log-likelihood: a point so far from every
                # component that its density is 0 in floating point.
                if np.isnan(out).any() or (out == np.inf).any():
                    return target, "bug", f"NaN or +inf output of {method}", desc
            elif target == "load":
                path, desc = _garbage_file(rng, np, tmpdir)
                fastem.load(path)
            elif target in ("state", "concurrent", "inputs"):
                case = {"state": _state_case, "concurrent": _concurrent_case,
                        "inputs": _inputs_case}[target]
                outcome, detail, desc = case(rng, np, tmpdir)
                if outcome != "clean":
                    return target, outcome, detail, desc
            elif target == "tampered":
                model, X, desc = _fitted_model(rng, np, fastem)
                path = os.path.join(tmpdir, f"tampered{int(rng.integers(1e9))}.npz")
                model.save(path)
                desc += " | " + _tamper(rng, np, path)
                loaded = fastem.load(path)
                for method in ("score_samples", "predict_proba"):
                    out = np.asarray(getattr(loaded, method)(X), dtype=np.float64)
                    if not np.isfinite(out).all():
                        return target, "bug", f"a tampered file loaded; {method} not finite", desc
            elif target == "changed":
                path = os.path.join(tmpdir, f"data{int(rng.integers(1e9))}.npy")
                X = rng.normal(size=(int(rng.integers(50, 5000)), int(rng.integers(1, 4))))
                np.save(path, X.astype(str(rng.choice(["float32", "float64"]))))
                callback, desc = _change_file(rng, np, path)
                chunked = rng.random() < 0.5
                data = fastem.Chunks([path]) if chunked else np.load(path, mmap_mode="r")
                desc = f"{'Chunks' if chunked else 'memmap'} {X.shape} | {desc}"
                fastem.GaussianMixture(2, random_state=0, tol=0, max_iter=5,
                                       callback=callback).fit(data)
                return target, "bug", "a fit ended cleanly although its file changed", desc
            elif target == "cli":
                outcome, detail, desc = _cli_case(rng, np, tmpdir)
                return target, outcome, detail, desc
    except RuntimeWarning as exc:
        return target, "bug", f"RuntimeWarning: {exc}", desc
    except Exception as exc:  # classify every failure
        desc = getattr(exc, "fuzz_description", desc)
        name = type(exc).__name__
        message = str(exc).strip()
        clear = name in CLEAR_ERRORS or (target in ("load", "cli") and isinstance(exc, OSError))
        if clear and message and (_raised_in_fastem(exc) or isinstance(exc, OSError)):
            return target, "error", f"{name}: {message.splitlines()[0][:90]}", desc
        where = traceback.extract_tb(exc.__traceback__)[-1]
        origin = f"{os.path.basename(where.filename)}:{where.lineno}"
        return target, "bug", f"{name} at {origin}: {message.splitlines()[0][:90] if message else ''}", desc
    return target, "clean", "", desc


def _warm_up():
    """Compile every kernel specialisation the cases use, before any case is timed.

    A case that compiled a kernel (tens of seconds on a busy machine) would
    otherwise pass for a hang.
    """
    import numpy as np

    import fastem

    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dtype in (np.float32, np.float64):
            for make, X in [
                *[(lambda ct=ct: fastem.GaussianMixture(2, covariance_type=ct), rng.normal(size=(300, 2)))
                  for ct in ("full", "tied", "diag", "spherical")],
                (lambda: fastem.ExponentialMixture(2), rng.exponential(size=(300, 2))),
                (lambda: fastem.PoissonMixture(2), rng.poisson(3.0, size=(300, 2)).astype(float)),
            ]:
                X = X.astype(dtype)
                model = make().set_params(max_iter=3, random_state=0).fit(X)
                model.predict_proba(X), model.sample(3)
                model.partial_fit(X)


def _worker(conn, targets):
    tmpdir = tempfile.mkdtemp(prefix="fastem-fuzz-")
    _warm_up()
    conn.send("ready")
    while True:
        seed = conn.recv()
        if seed is None:
            return
        conn.send(run_case(seed, targets, tmpdir))


# ---------------------------------------------------------------------------
# driver


def available_targets():
    targets = ["fit", "predict", "state", "concurrent"]
    import fastem

    if hasattr(fastem, "load"):
        targets += ["load", "tampered", "changed"]
    # Only a command line that belongs to the imported fastem: an editable install
    # elsewhere can make find_spec return another tree's module.
    spec = importlib.util.find_spec("fastem.cli")
    if spec is not None and os.path.dirname(spec.origin) == os.path.dirname(fastem.__file__):
        targets += ["cli", "inputs"]
    return targets


class Worker:
    def __init__(self, ctx, targets):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker, args=(child, targets), daemon=True)
        self.process.start()
        # The warm-up compiles (or loads from the cache) every kernel first.
        self.ready = self.conn.poll(WARM_UP_SECONDS) and self.conn.recv() == "ready"

    def run(self, seed, limit=None):
        if not self.ready:
            return None
        self.conn.send(seed)
        if self.conn.poll(CASE_SECONDS if limit is None else limit):
            try:
                return self.conn.recv()
            except EOFError:
                pass
        return None

    def stop(self):
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--replay", type=int, help="run the case of this seed in-process and show it")
    args = parser.parse_args(argv)

    targets = available_targets()
    if args.replay is not None:
        print(run_case(args.replay, targets, tempfile.mkdtemp()))
        return
    print(f"targets: {', '.join(targets)} (missing are skipped)")
    ctx = mp.get_context("spawn")
    worker = Worker(ctx, targets)
    outcomes = collections.Counter()
    details = collections.Counter()
    first_bug = {}
    start = time.monotonic()
    seed = args.seed * 1_000_000
    n_cases = 0
    slow = 0
    while time.monotonic() - start < args.seconds:
        seed += 1
        result = worker.run(seed)
        if result is None:
            # Confirmed in a fresh worker with four times the time, so that a slow
            # moment of a busy machine is not taken for a hang.
            alive = worker.process.is_alive()
            worker.stop()
            kind = "hang" if alive else f"crash (exit {worker.process.exitcode})"
            worker = Worker(ctx, targets)
            result = worker.run(seed, limit=4 * CASE_SECONDS)
            if result is None:
                alive = worker.process.is_alive()
                worker.stop()
                kind = "hang" if alive else f"crash (exit {worker.process.exitcode})"
                result = ("?", "bug", kind, f"seed {seed}")
                worker = Worker(ctx, targets)
            else:
                slow += 1
        target, outcome, detail, desc = result
        n_cases += 1
        outcomes[(target, outcome)] += 1
        if outcome != "clean":
            # group messages that differ only in the values they quote
            details[(outcome, re.sub(r"[-+.\w]*\d[-+.\w]*", "#", detail)[:60])] += 1
        if outcome == "bug" and detail not in first_bug:
            first_bug[detail] = (seed, desc)
            print(f"BUG seed={seed}: {detail}\n    {desc[:300]}", flush=True)
    worker.conn.send(None)
    worker.stop()

    elapsed = time.monotonic() - start
    print(f"\n{n_cases} cases in {elapsed:.0f} s (seed {args.seed}); {slow} timed out once and "
          "finished when run again")
    print(f"outcomes: {dict(collections.Counter(o for (_, o) in outcomes.elements()))}\n")
    print(f"{'target':10s} {'outcome':8s} {'count':>7s}")
    for (target, outcome), count in sorted(outcomes.items()):
        print(f"{target:10s} {outcome:8s} {count:7d}")
    print(f"\n{'outcome':8s} {'kind':60s} {'count':>7s}")
    for (outcome, kind), count in details.most_common():
        print(f"{outcome:8s} {kind[:60]:60s} {count:7d}")
    print("\nfirst example of each bug:" if first_bug else "\nno bugs found")
    for detail, (seed, desc) in first_bug.items():
        print(f"  seed {seed}: {detail}\n      {desc[:400]}")


if __name__ == "__main__":
    main()
