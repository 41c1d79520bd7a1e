"""Time ``import fastem`` plus a first fit in fresh processes, cold and warm.

Cold: Numba's cache directory is empty, so the kernels are compiled. Warm:
the same directory again, so they are loaded from the cache. Each run is a
new interpreter, as for a short script. Run as

    python scripts/measure_first_fit.py [--n-samples 10000] [--repeat 3]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

_CHILD = r"""
import time
start = time.perf_counter()
import numpy as np
import fastem
imported = time.perf_counter()
X = np.random.default_rng(0).normal(size=({n}, 2))
X[: {n} // 2] += 5.0
fastem.GaussianMixture(2, covariance_type="{covariance_type}", random_state=0).fit(X)
done = time.perf_counter()
print(imported - start, done - start)
"""


def _run(cache_dir, n_samples, covariance_type):
    env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
    code = _CHILD.format(n=n_samples, covariance_type=covariance_type)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--covariance-type", default="full")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    cold, warm = [], []
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as cache_dir:
            cold.append(_run(cache_dir, args.n_samples, args.covariance_type))
            warm.append(_run(cache_dir, args.n_samples, args.covariance_type))
    for label, runs in (("cold cache", cold), ("warm cache", warm)):
        imports = statistics.median(r[0] for r in runs)
        totals = statistics.median(r[1] for r in runs)
        print(
            f"{label}: import fastem {imports:.2f} s, import + first fit of "
            f"{args.n_samples:,} points ({args.covariance_type}) {totals:.2f} s "
            f"(median of {args.repeat} fresh processes)"
        )


if __name__ == "__main__":
    main()
