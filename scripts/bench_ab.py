"""Time EM iterations of this checkout against another commit's, alternating in one process.

On a shared machine the speed of the host drifts by more than the changes
worth measuring (up to 2x within minutes on the project's machine): runs of
two checkouts one after the other, even alternating, compare the host's
moments as much as the code. This script imports both versions into one
process and times them in turn on the same data from the same start, so
that a drift touches both alike.

The other commit's ``fastem`` package is taken with ``git archive`` and
imported under the name ``fastem_base`` (the package imports itself
relatively throughout); it is kept in ``~/.cache/fastem-bench-ab/<commit>``,
so its kernels are compiled on the first run only. Its kernels are cached
by Numba's default per-file locator beside its sources, not by fastem's
own (which the working tree's package, imported first, installs): harmless
for a tree that never changes. An iteration is what
``scripts/bench_vs_sklearn.py`` times: a pass of plain EM as ``fit`` runs it
(``fastem._em.run_em`` on the estimator's stand-in, ``_HOOKS``; a commit
without them cannot be compared), from the initial parameters of that
script's data.

Each round times ``--n-iter`` iterations of each version, the first of
the two alternating between rounds. Printed: the median ms per iteration of
each, and the median and quartiles over the rounds of the ratio
base / this checkout (above 1: this checkout is faster).

Examples
--------
::

    python scripts/bench_ab.py --base HEAD~1 --config full 2 4
    python scripts/bench_ab.py --base HEAD~5 --config diag 16 8 --threads 1 --rounds 41
"""

import argparse
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

import numba
import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]  # this checkout's fastem, whatever PYTHONPATH says
from bench_vs_sklearn import fastem_iterations, make_data  # noqa: E402

CACHE = pathlib.Path.home() / ".cache" / "fastem-bench-ab"
COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
# What the timed iterations call on a model (fastem_iterations, _validate_data)
_HOOKS = ("_em_stand_in", "_set_parameters", "_validate_data")


def base_package(revision):
    """The directory holding ``fastem_base``, the package of ``revision``, extracted once."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{revision}^{{commit}}"],
        capture_output=True, text=True,
    )
    if commit.returncode != 0:
        raise SystemExit(f"bench_ab: {revision!r} is not a commit of {ROOT}: {commit.stderr.strip()}")
    commit = commit.stdout.strip()
    home = CACHE / commit
    if not (home / "fastem_base" / "__init__.py").exists():
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", commit, "fastem"],
            capture_output=True,
        )
        if archive.returncode != 0:
            raise SystemExit(f"bench_ab: no fastem package in {revision}: {archive.stderr.decode().strip()}")
        home.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(home / "fastem_base", ignore_errors=True)  # an extraction cut short
        with tempfile.TemporaryDirectory(dir=home) as scratch:
            path = pathlib.Path(scratch) / "fastem.tar"
            path.write_bytes(archive.stdout)
            with tarfile.open(path) as tar:
                # the extraction filter exists from Python 3.10.12 and 3.11.4 on
                safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(scratch, **safe)
            os.replace(pathlib.Path(scratch) / "fastem", home / "fastem_base")
    return home, commit


def start(package, X, covariance_type, n_components, init):
    """A model of ``package`` at the initial parameters, and its validated data."""
    model = package.GaussianMixture(n_components, covariance_type=covariance_type, max_iter=0, **init)
    model.fit(X[:1000])  # max_iter=0: only sets the initial parameters
    return model, model._validate_data(X, reset=False)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the commit to compare with (e.g. HEAD~1)")
    parser.add_argument(
        "--config", nargs=3, required=True, metavar=("COVARIANCE_TYPE", "N_FEATURES", "N_COMPONENTS"),
        help=f"covariance type ({', '.join(COVARIANCE_TYPES)}), features and components",
    )
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64")
    parser.add_argument("--n-samples", type=int, default=1_000_000, help="at least 1,000")
    parser.add_argument("--n-iter", type=int, default=10, help="EM iterations per timing")
    parser.add_argument("--rounds", type=int, default=31, help="timings of each version, at least 2")
    parser.add_argument("--threads", type=int, default=None, help="Numba threads (default: all)")
    args = parser.parse_args(argv)
    covariance_type = args.config[0]
    if covariance_type not in COVARIANCE_TYPES:
        parser.error(f"--config: the covariance type must be one of {', '.join(COVARIANCE_TYPES)}")
    try:
        n_features, n_components = int(args.config[1]), int(args.config[2])
    except ValueError:
        parser.error("--config: the numbers of features and components must be whole numbers")
    if n_features < 1 or n_components < 1:
        parser.error("--config: the numbers of features and components must be at least 1")
    if args.n_samples < max(1000, n_components):
        parser.error("--n-samples must be at least 1,000 (the start is set on the first 1,000 points)")
    if args.rounds < 2 or args.n_iter < 1:
        parser.error("--rounds must be at least 2 (the ratio's quartiles) and --n-iter at least 1")
    if args.threads is not None and not 1 <= args.threads <= numba.config.NUMBA_NUM_THREADS:
        parser.error(f"--threads must be between 1 and {numba.config.NUMBA_NUM_THREADS} (Numba's threads)")

    home, commit = base_package(args.base)
    sys.path.insert(0, str(home))
    import fastem
    import fastem_base

    missing = [hook for hook in _HOOKS if not hasattr(fastem_base.GaussianMixture, hook)]
    if missing:
        raise SystemExit(f"bench_ab: {args.base}'s GaussianMixture has no {', '.join(missing)}, "
                         "which the timed iterations call; compare with a later commit")
    if args.threads:
        numba.set_num_threads(args.threads)
    X, init = make_data(covariance_type, args.n_samples, n_features, n_components, np.dtype(args.dtype).type)
    versions = {
        "base": start(fastem_base, X, covariance_type, n_components, init),
        "this": start(fastem, X, covariance_type, n_components, init),
    }
    for model, source in versions.values():
        fastem_iterations(model, source, 3)  # compiles, or loads the kernels, and warms up
    times = {"base": [], "this": []}
    for r in range(args.rounds):
        for key in ("base", "this") if r % 2 == 0 else ("this", "base"):
            model, source = versions[key]
            t = time.perf_counter()
            fastem_iterations(model, source, args.n_iter)
            times[key].append((time.perf_counter() - t) / args.n_iter * 1e3)
    ratios = sorted(b / t for b, t in zip(times["base"], times["this"]))
    quartiles = statistics.quantiles(ratios, n=4)
    print(
        f"{covariance_type} D={n_features} K={n_components} {args.dtype}, N={args.n_samples:,}, "
        f"{numba.get_num_threads()} Numba threads, {args.rounds} rounds of {args.n_iter} iterations: "
        f"base {commit[:10]} {statistics.median(times['base']):.2f} ms/iter, this checkout "
        f"{statistics.median(times['this']):.2f} ms/iter; base / this per round: median "
        f"{statistics.median(ratios):.3f}, quartiles {quartiles[0]:.3f}-{quartiles[2]:.3f}"
    )


if __name__ == "__main__":
    main()
