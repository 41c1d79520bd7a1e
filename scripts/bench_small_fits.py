"""Time default fits and predictions on small data, fastem beside scikit-learn.

On a few thousand to a few tens of thousands of points a fit's passes cost
little, and what a user waits for is the rest: the data's checks, the start,
the driver. This script fits two Gaussian blobs with each library's defaults
(fastem: the hierarchical start, whose tree of the subsample is cached after
the first fit of the same data and seed; scikit-learn: k-means), alternating
the two libraries fit by fit in one process with a pause before each, and
times ``predict`` on the same data. It reports medians of ``--repeat``
calls, in milliseconds.

Run it against another checkout with that checkout's package first on the
path (``PYTHONPATH=/path/to/checkout python scripts/bench_small_fits.py``)
to compare versions on the same machine.

Examples
--------
::

    PYTHONPATH=$PWD python scripts/bench_small_fits.py
    PYTHONPATH=$PWD python scripts/bench_small_fits.py --repeat 50 --shapes 2000x2 10000x2
"""

import argparse
import statistics
import time
import warnings

import numpy as np

import fastem
from _machine import cpu_model  # scripts/_machine.py


def blobs(n_samples, n_features, seed=0):
    """Two unit Gaussian blobs 4 apart along every feature."""
    X = np.random.default_rng(seed).normal(size=(n_samples, n_features))
    X[: n_samples // 2] += 4.0
    return X


# Pause before each timed fit, in seconds: lets the BLAS threads of the
# previous fit (scikit-learn's) go idle. Spinning, they made the machine look
# busy to fastem's choice of threads, and a 40,000-point fit took 35 ms
# right after one of scikit-learn's against 4 ms alone.
_SETTLE_SECONDS = 0.2


def ms(call):
    """Milliseconds of one ``call()``."""
    start = time.perf_counter()
    call()
    return 1e3 * (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", default=["2000x2", "10000x2", "40000x4"],
                        help="n_samples x n_features of each data set")
    parser.add_argument("--n-components", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=15, help="calls per median")
    args = parser.parse_args()
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    K = args.n_components
    print(f"{cpu_model()}; fastem from {fastem.__file__}")
    print(f"default fits of K={K}, and predict, median of {args.repeat} calls, ms")
    print("| data | fastem fit | scikit-learn fit | fastem predict | scikit-learn predict |")
    print("|---|---:|---:|---:|---:|")
    for shape in args.shapes:
        n_samples, n_features = (int(s) for s in shape.split("x"))
        X = blobs(n_samples, n_features)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = fastem.GaussianMixture(K, random_state=0).fit(X)  # compiles, caches the tree
            theirs = SkGaussianMixture(K, random_state=0).fit(X)
            fits = {"fastem": [], "sklearn": []}
            for _ in range(args.repeat):  # alternating, so that both see the same machine
                time.sleep(_SETTLE_SECONDS)
                fits["fastem"].append(ms(lambda: fastem.GaussianMixture(K, random_state=0).fit(X)))
                time.sleep(_SETTLE_SECONDS)
                fits["sklearn"].append(ms(lambda: SkGaussianMixture(K, random_state=0).fit(X)))
        print(
            f"| {n_samples:,} x {n_features} | {statistics.median(fits['fastem']):.2f} "
            f"| {statistics.median(fits['sklearn']):.2f} "
            f"| {statistics.median(ms(lambda: ours.predict(X)) for _ in range(args.repeat)):.3f} "
            f"| {statistics.median(ms(lambda: theirs.predict(X)) for _ in range(args.repeat)):.3f} |"
        )


if __name__ == "__main__":
    main()
