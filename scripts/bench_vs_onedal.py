"""Time EM iterations of fastem against Intel oneDAL's ``em_gmm``, side by side.

oneDAL (``pip install daal4py``) is the fastest EM for Gaussian mixtures in
Python that fastem knows of; it has 'full' and 'diag' covariances. For each
configuration the script draws the data and the start of
``scripts/bench_vs_sklearn.py`` (same seed), and times both libraries in one
process, alternating, from the same start:

* oneDAL: ``daal4py.em_gmm(nComponents=K, maxIterations=m,
  accuracyThreshold=0)`` from the same weights, means and covariances. Its
  ``compute`` call also converts the data and checks them, so one iteration
  is the difference between ``1 + n_iter`` and 1 iterations, divided by
  ``n_iter``. oneDAL may stop earlier than asked, also with
  ``accuracyThreshold=0`` (its log-likelihood stops rising: at D=64 K=16 it
  stopped after 3); the difference is then over the iterations it ran, which
  the table reports;
* fastem: ``n_iter`` iterations of its loop body (one fused pass and one
  M-step), the data validated once beforehand, as in
  ``scripts/bench_vs_sklearn.py``.

Each figure is the median of ``--repeat`` such timings, each after a pause
of half a second in which the other library's worker threads go idle. daal4py 2024.7 needs
scikit-learn < 1.6 and ``packaging`` to import, so it usually lives in an
environment of its own::

    python -m venv /tmp/daal
    /tmp/daal/bin/pip install daal4py==2024.7.0 'scikit-learn<1.6' packaging numba numpy scipy
    /tmp/daal/bin/pip install -e . --no-deps
    /tmp/daal/bin/python scripts/bench_vs_onedal.py

Without daal4py the script says so and exits with status 0.

oneDAL 2024.7 asks whether the CPU is Intel's (``daal_check_is_intel_cpu``)
and on another vendor's CPU with the same instruction sets takes other code
paths: on an AMD EPYC (Zen 5, AVX-512) its 'full' iterations took 1.1-2.2x
as long as with the check answered "Intel", with the same results to
rounding. ``--as-intel`` answers the check so (a two-function library
preloaded into a second run of the script, built with ``cc``), to measure
fastem against oneDAL at its best on such a machine; the header says which.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from importlib.metadata import version as _version

import numba
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import cpu_model  # noqa: E402
from bench_vs_sklearn import _SETTLE_SECONDS, fastem_iterations, fastem_model, make_data  # noqa: E402

# (covariance type, n_features, n_components, n_samples)
CONFIGS = [
    ("full", 2, 4, 1_000_000),
    ("full", 16, 8, 1_000_000),
    ("diag", 16, 8, 1_000_000),
    ("full", 64, 16, 200_000),
    ("diag", 64, 16, 200_000),
    ("full", 128, 8, 200_000),
]


# The answer "Intel" to oneDAL's checks of the CPU's vendor (C++ names, oneDAL 2024).
_AS_INTEL_SOURCE = """\
#include <stdbool.h>
bool _Z23daal_check_is_intel_cpuv(void) { return true; }
bool _Z28__daal_internal_is_intel_cpuv(void) { return true; }
"""
_AS_INTEL_MARK = "FASTEM_BENCH_ONEDAL_AS_INTEL"


def _run_as_intel(argv):
    """Run this script again with oneDAL's vendor checks answered "Intel"; its exit status."""
    with tempfile.TemporaryDirectory() as build:
        source = os.path.join(build, "as_intel.c")
        library = os.path.join(build, "as_intel.so")
        with open(source, "w") as f:
            f.write(_AS_INTEL_SOURCE)
        try:
            subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-o", library, source], check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise SystemExit(
                f"bench_vs_onedal: --as-intel builds a small C library with 'cc', which "
                f"failed ({exc}); install a C compiler (e.g. apt-get install gcc), or run "
                "without --as-intel"
            ) from None
        preload = " ".join(filter(None, [library, os.environ.get("LD_PRELOAD")]))
        env = dict(os.environ, LD_PRELOAD=preload, **{_AS_INTEL_MARK: "1"})
        return subprocess.call([sys.executable, os.path.abspath(__file__), *argv], env=env)


def _vendor_check():
    """How oneDAL's check of the CPU's vendor was answered in this run, for the header."""
    if os.environ.get(_AS_INTEL_MARK):
        return "oneDAL's check of the CPU's vendor answered Intel (--as-intel)"
    vendor = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            vendor = next((line.split(":", 1)[1].strip() for line in f if line.startswith("vendor_id")), vendor)
    except OSError:
        pass
    if vendor == "GenuineIntel":
        return "an Intel CPU"
    return f"CPU vendor {vendor}: oneDAL's non-Intel paths (see --as-intel)"


def onedal_seconds(daal4py, X, covariance_type, n_components, init, n_iter):
    """Wall time of one ``em_gmm`` call of at most ``n_iter`` iterations from ``init``, and its count."""
    weights = init["weights_init"][None, :]
    means = init["means_init"]
    precisions = init["precisions_init"]
    if covariance_type == "full":
        covariances = [np.linalg.inv(p) for p in precisions]
        storage = "full"
    else:
        covariances = [(1.0 / p)[None, :] for p in precisions]
        storage = "diagonal"
    algo = daal4py.em_gmm(
        nComponents=n_components,
        maxIterations=n_iter,
        accuracyThreshold=0.0,
        covarianceStorage=storage,
    )
    start = time.perf_counter()
    result = algo.compute(X, weights, means, covariances)
    return time.perf_counter() - start, int(np.asarray(result.nIterations).ravel()[0])


def run_config(daal4py, covariance_type, n_features, n_components, n_samples, n_iter, repeat):
    """Median seconds per iteration for fastem and oneDAL."""
    X, init = make_data(covariance_type, n_samples, n_features, n_components, np.float64)
    model = fastem_model(X, covariance_type, n_components, init)
    source = model._validate_data(X, reset=False)
    fastem_iterations(model, source, 1)  # compiles or loads the kernels
    onedal_seconds(daal4py, X, covariance_type, n_components, init, 1)
    fastem_times, onedal_times = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the models never converge: we stop them
        for _ in range(repeat):
            # Each library's worker threads may spin for a while after its last
            # parallel region (TBB's, Numba's): a pause lets them go idle first.
            model = fastem_model(X, covariance_type, n_components, init)
            time.sleep(_SETTLE_SECONDS)
            start = time.perf_counter()
            fastem_iterations(model, source, n_iter)
            fastem_times.append((time.perf_counter() - start) / n_iter)
            time.sleep(_SETTLE_SECONDS)
            short, short_n = onedal_seconds(daal4py, X, covariance_type, n_components, init, 1)
            time.sleep(_SETTLE_SECONDS)
            long, long_n = onedal_seconds(
                daal4py, X, covariance_type, n_components, init, 1 + n_iter
            )
            # oneDAL may stop before maxIterations even with accuracyThreshold=0:
            # the difference is taken over the iterations it ran, reported.
            if long_n < short_n + 2:
                raise RuntimeError(f"oneDAL ran {long_n} iterations of {1 + n_iter}")
            onedal_times.append((long - short) / (long_n - short_n))
            onedal_iterations = long_n - short_n
    return statistics.median(fastem_times), statistics.median(onedal_times), onedal_iterations


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-iter", type=int, default=10, help="EM iterations per timing")
    parser.add_argument("--repeat", type=int, default=5, help="timings per configuration")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every N by this")
    parser.add_argument("--only", default=None, help="only configurations whose label contains this")
    parser.add_argument(
        "--as-intel", action="store_true",
        help="answer oneDAL's check of the CPU's vendor with Intel (see the docstring)",
    )
    args = parser.parse_args(argv)
    if args.as_intel and not os.environ.get(_AS_INTEL_MARK):
        return _run_as_intel(sys.argv[1:] if argv is None else argv)
    try:
        import daal4py
    except ImportError as exc:
        print(f"daal4py is not importable ({exc}); nothing to compare. See this script's "
              "docstring for an environment that has it.")
        return 0

    print(
        f"{cpu_model()}; {numba.get_num_threads()} Numba threads; float64; "
        f"{args.n_iter} EM iterations per timing, median of {args.repeat}; "
        f"daal4py {_version('daal4py')}; {_vendor_check()}",
        flush=True,
    )
    rows = [
        "| config | oneDAL ms/iter | fastem ms/iter | fastem vs oneDAL | oneDAL iterations timed |",
        "|---|---:|---:|---:|---:|",
    ]
    print("\n".join(rows), flush=True)
    for covariance_type, n_features, n_components, n_samples in CONFIGS:
        n_samples = int(n_samples * args.scale)
        label = f"{covariance_type} D={n_features} K={n_components} N={n_samples:,}"
        if args.only and args.only not in label:
            continue
        fastem_s, onedal_s, onedal_iterations = run_config(
            daal4py, covariance_type, n_features, n_components, n_samples, args.n_iter, args.repeat
        )
        rows.append(
            f"| {label} | {onedal_s * 1e3:.1f} | {fastem_s * 1e3:.1f} | "
            f"{onedal_s / fastem_s:.2f}x | {onedal_iterations} |"
        )
        print(rows[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
