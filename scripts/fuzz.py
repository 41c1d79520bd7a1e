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
command line (``fastem.cli.main``); missing targets are skipped.

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
FIRST_CASE_SECONDS = 180  # the first case of a worker may compile kernels
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
            elif target == "cli":
                import fastem.cli

                path, fdesc = _garbage_file(rng, np, tmpdir)
                words = ["fit", "predict", "score", "info", "--help", "-k", "0", "--n-components",
                         "x", "--covariance-type", "nope", path, "--output", path, "--seed", "-1"]
                argv = [str(words[int(i)]) for i in rng.integers(0, len(words), size=rng.integers(0, 6))]
                desc = f"cli {argv} ({fdesc})"
                try:
                    fastem.cli.main(argv)
                except SystemExit as exc:
                    if exc.code not in (0, 1, 2, None):
                        return target, "bug", f"SystemExit({exc.code!r})", desc
                    return target, "error" if exc.code else "clean", f"SystemExit({exc.code})", desc
    except RuntimeWarning as exc:
        return target, "bug", f"RuntimeWarning: {exc}", desc
    except Exception as exc:  # classify every failure
        name = type(exc).__name__
        message = str(exc).strip()
        clear = name in CLEAR_ERRORS or (target in ("load", "cli") and isinstance(exc, OSError))
        if clear and message and (_raised_in_fastem(exc) or isinstance(exc, OSError)):
            return target, "error", f"{name}: {message.splitlines()[0][:90]}", desc
        where = traceback.extract_tb(exc.__traceback__)[-1]
        origin = f"{os.path.basename(where.filename)}:{where.lineno}"
        return target, "bug", f"{name} at {origin}: {message.splitlines()[0][:90] if message else ''}", desc
    return target, "clean", "", desc


def _worker(conn, targets):
    tmpdir = tempfile.mkdtemp(prefix="fastem-fuzz-")
    while True:
        seed = conn.recv()
        if seed is None:
            return
        conn.send(run_case(seed, targets, tmpdir))


# ---------------------------------------------------------------------------
# driver


def available_targets():
    targets = ["fit", "predict"]
    import fastem

    if hasattr(fastem, "load"):
        targets.append("load")
    # Only a command line that belongs to the imported fastem: an editable install
    # elsewhere can make find_spec return another tree's module.
    spec = importlib.util.find_spec("fastem.cli")
    if spec is not None and os.path.dirname(spec.origin) == os.path.dirname(fastem.__file__):
        targets.append("cli")
    return targets


class Worker:
    def __init__(self, ctx, targets):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker, args=(child, targets), daemon=True)
        self.process.start()
        self.fresh = True

    def run(self, seed):
        self.conn.send(seed)
        limit = FIRST_CASE_SECONDS if self.fresh else CASE_SECONDS
        self.fresh = False
        if self.conn.poll(limit):
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
    while time.monotonic() - start < args.seconds:
        seed += 1
        result = worker.run(seed)
        if result is None:
            alive = worker.process.is_alive()
            worker.stop()
            kind = "hang" if alive else f"crash (exit {worker.process.exitcode})"
            result = ("?", "bug", kind, f"seed {seed}")
            worker = Worker(ctx, targets)
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
    print(f"\n{n_cases} cases in {elapsed:.0f} s (seed {args.seed})\n")
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
