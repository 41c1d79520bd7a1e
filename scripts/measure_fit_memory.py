"""Peak memory of a fit, above the memory that holds the data.

Generates N x D float data, records the process's peak resident set size
(VmHWM) after the data exist, fits a Gaussian mixture for a fixed number of
iterations, and reports how far the peak rose during the fit (initialisation
included). Run as

    python scripts/measure_fit_memory.py --n 10000000 --d 2 --k 4 --dtype float64
    python scripts/measure_fit_memory.py --n 200000 --k 1000 --init-params k-means++

The second measures many components, where initialisation used to allocate
several (subsample x components) float64 arrays (+1.5 GB).
"""

import argparse
import time
import warnings

import numpy as np

import fastem


def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status (this script needs Linux)")


def _reset_peak():
    # Writing "5" to clear_refs resets VmHWM to the current RSS (Linux >= 4.0).
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000_000)
    parser.add_argument("--d", type=int, default=2)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float64")
    parser.add_argument("--covariance", default="full")
    parser.add_argument("--iterations", type=int, default=10)
    parser.add_argument("--init-params", default=None, help="default: the estimator's default")
    args = parser.parse_args(argv)

    # Compile on a tiny problem first, so the JIT's own memory is not counted.
    rng = np.random.default_rng(0)
    small = rng.normal(size=(2000, args.d)).astype(args.dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        fastem.GaussianMixture(args.k, covariance_type=args.covariance, max_iter=2, random_state=0).fit(small)

    centres = rng.normal(scale=5.0, size=(args.k, args.d))
    X = np.empty((args.n, args.d), dtype=args.dtype)
    step = 1_000_000
    for start in range(0, args.n, step):
        stop = min(args.n, start + step)
        labels = rng.integers(0, args.k, stop - start)
        X[start:stop] = centres[labels] + rng.normal(size=(stop - start, args.d))
    del labels

    data_mb = X.nbytes / 2**20
    _reset_peak()
    before = _status_kib("VmRSS") / 1024
    init = {} if args.init_params is None else {"init_params": args.init_params}
    model = fastem.GaussianMixture(
        args.k, covariance_type=args.covariance, max_iter=args.iterations, tol=0, random_state=0,
        **init,
    )
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        model.fit(X)
    elapsed = time.perf_counter() - start
    peak = _status_kib("VmHWM") / 1024
    print(
        f"N={args.n:,} D={args.d} K={args.k} {args.dtype} {args.covariance} init={model.init_params}: "
        f"data {data_mb:.0f} MB, "
        f"RSS before fit {before:.0f} MB, peak during fit {peak:.0f} MB, "
        f"rise {peak - before:.1f} MB; {args.iterations} iterations in {elapsed:.2f} s"
    )


if __name__ == "__main__":
    main()
