"""Time a whole default fit of fastem and of scikit-learn, side by side.

``scripts/bench_vs_sklearn.py`` times EM iterations from one start; a user
feels the time from ``fit()`` to its return, with each library's defaults:
its own start (fastem: hierarchical on a subsample; scikit-learn: k-means),
its own stopping rule (fastem: Aitken's estimate of the remaining gain below
1e-8 with acceleration; scikit-learn: a last change below 1e-3) and its own
``max_iter``. This script times exactly that, on the same data (drawn as in
``bench_vs_sklearn.py``, the same configurations), alternating the two
libraries in one process, and reports the median wall time of ``--repeat``
fits, the passes each needed, and the mean log-likelihood per sample each
reached: a faster fit that stops lower is not the better answer.

Examples
--------
::

    PYTHONPATH=$PWD python scripts/bench_fit_time.py --n-samples 200000
    PYTHONPATH=$PWD python scripts/bench_fit_time.py --quick --markdown fit.md
"""

import argparse
import statistics
import sys
import time
import warnings

import numba
import numpy as np

from fastem import GaussianMixture
from bench_vs_sklearn import CONFIGS, make_data, write_table

# Pause before each timing, in seconds: lets BLAS worker threads of the
# previous fit go idle (see bench_vs_sklearn.run_config).
_SETTLE_SECONDS = 0.5


def timed_fit(model, X):
    """(seconds, fitted model) of one ``fit`` call, warnings silenced."""
    time.sleep(_SETTLE_SECONDS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.fit(X)
        return time.perf_counter() - start, model


def run_config(covariance_type, n_features, n_components, dtype, n_samples, repeat):
    """Median fit seconds, passes and mean log-likelihood for each library."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    X, _ = make_data(covariance_type, n_samples, n_features, n_components, dtype)
    # Warm-up: compiles (or loads) the kernels for this configuration.
    timed_fit(GaussianMixture(n_components, covariance_type=covariance_type, max_iter=2), X[:2000])
    runs = {"fastem": [], "sklearn": []}
    for _ in range(repeat):
        runs["fastem"].append(timed_fit(
            GaussianMixture(n_components, covariance_type=covariance_type, random_state=0), X
        ))
        runs["sklearn"].append(timed_fit(
            SkGaussianMixture(n_components, covariance_type=covariance_type, random_state=0), X
        ))
    result = {}
    for name, fits in runs.items():
        model = fits[-1][1]
        result[name] = (
            statistics.median(seconds for seconds, _ in fits),
            model.n_iter_,
            float(model.score(X.astype(np.float64))),
        )
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data, for a smoke test")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table to FILE")
    parser.add_argument("--n-samples", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--repeat", type=int, default=3, help="fits per library and configuration")
    parser.add_argument(
        "--only", default=None, help="run only configurations whose label contains this"
    )
    args = parser.parse_args(argv)
    n_samples = args.n_samples or (20_000 if args.quick else 1_000_000)
    header = (
        f"N={n_samples:,}, default settings of each library, median wall time of "
        f"{args.repeat} fits from fit() to its return; {numba.get_num_threads()} Numba threads"
    )
    rows = [
        "| config | fastem s | sklearn s | speed-up | fastem passes | sklearn passes "
        "| fastem mean log-lik. | sklearn mean log-lik. |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    print(header, flush=True)
    for covariance_type, n_features, n_components, dtype, fraction in CONFIGS:
        label = f"{covariance_type} D={n_features} K={n_components} {np.dtype(dtype).name}"
        n = int(n_samples * fraction)
        if n != n_samples:
            label += f" N={n:,}"
        if args.only and args.only not in label:
            continue
        r = run_config(covariance_type, n_features, n_components, dtype, n, args.repeat)
        (fs, fi, fl), (ss, si, sl) = r["fastem"], r["sklearn"]
        rows.append(
            f"| {label} | {fs:.3f} | {ss:.3f} | {ss / fs:.1f}x | {fi} | {si} | {fl:.6f} | {sl:.6f} |"
        )
        print(rows[-1], flush=True)
    write_table(header, rows, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
