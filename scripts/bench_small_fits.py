"""Time default fits and predictions on small data, fastem beside scikit-learn.

On a few thousand to a few tens of thousands of points a fit's passes cost
little, and what a user waits for is the rest: the data's checks, the start,
the driver. This script fits two Gaussian blobs with each library's defaults
(fastem: the hierarchical start; scikit-learn: k-means) and times
``predict`` on the same data, in one process, and reports medians of
``--repeat`` calls in milliseconds. fastem's tree of the subsample is kept
for later fits of the same subsample (the same data and seed): "fastem
first fit" clears that cache before each fit, as a first fit of new data
finds it, and "fastem refit" does not (the cache is private to fastem; the script
clears it for this). Each library's calls run in a block
of their own: right after scikit-learn's fits its BLAS threads still spin,
and fastem's choice of threads took the machine for a busy one (a
40,000-point fit took 35 ms instead of 4), while a pause before each fit
slowed scikit-learn's next fit 2-4x.

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
from fastem import _hierarchical
from _machine import cpu_model  # scripts/_machine.py


def blobs(n_samples, n_features, seed=0):
    """Two unit Gaussian blobs 4 apart along every feature."""
    X = np.random.default_rng(seed).normal(size=(n_samples, n_features))
    X[: n_samples // 2] += 4.0
    return X


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
    print("| data | fastem first fit | fastem refit | scikit-learn fit "
          "| fastem predict | scikit-learn predict |")
    print("|---|---:|---:|---:|---:|---:|")
    for shape in args.shapes:
        n_samples, n_features = (int(s) for s in shape.split("x"))
        X = blobs(n_samples, n_features)

        def first_fit():
            _hierarchical._cache.clear()
            return fastem.GaussianMixture(K, random_state=0).fit(X)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # compiles the kernels, warms both libraries up
            ours = fastem.GaussianMixture(K, random_state=0).fit(X)
            theirs = SkGaussianMixture(K, random_state=0).fit(X)
            calls = {  # fastem's calls first: scikit-learn's leave BLAS threads spinning
                "first": first_fit,
                "refit": lambda: fastem.GaussianMixture(K, random_state=0).fit(X),
                "ours predict": lambda: ours.predict(X),
                "sklearn": lambda: SkGaussianMixture(K, random_state=0).fit(X),
                "their predict": lambda: theirs.predict(X),
            }
            medians = {}
            for name, call in calls.items():
                call()
                medians[name] = statistics.median(ms(call) for _ in range(args.repeat))
        print(
            f"| {n_samples:,} x {n_features} | {medians['first']:.1f} | {medians['refit']:.2f} "
            f"| {medians['sklearn']:.2f} | {medians['ours predict']:.3f} "
            f"| {medians['their predict']:.3f} |"
        )


if __name__ == "__main__":
    main()
