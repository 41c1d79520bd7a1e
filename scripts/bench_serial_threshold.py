"""Where a parallel E-step starts to beat the serial one: the measurement behind SERIAL_WORK.

For each configuration and size, one E-step pass (``model.summarize(X)``, the
public path with its Python overhead) is timed with the kernel's serial
compilation and with its parallel one at every thread count up to
``numba.config.NUMBA_NUM_THREADS``, alternating in one process; medians of
``--repeat`` runs; fastem's own choice of thread count by the machine's load
is switched off. The work column is rows x statistics per row, the unit of
``fastem._config.SERIAL_WORK``. Run as

    python scripts/bench_serial_threshold.py [--repeat 41]
"""

import argparse
import os
import statistics
import time
import warnings

import numba
import numpy as np

import fastem
from fastem import _threading

from _machine import cpu_model  # scripts/_machine.py

CONFIGS = [
    ("full", 2, 4),
    ("full", 16, 8),
    ("diag", 16, 8),
    ("spherical", 2, 4),
]
SIZES = [256, 1_000, 4_000, 16_000, 64_000, 256_000]


def _model(covariance_type, n_features, n_components, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        return fastem.GaussianMixture(
            n_components, covariance_type=covariance_type, max_iter=1, random_state=0
        ).fit(X[:2_000])


def _time(model, X, serial_work, threads, repeat):
    _threading.SERIAL_WORK = serial_work
    _threading.free_cores = lambda: None  # the thread count is set here, whatever the load
    numba.set_num_threads(threads)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        model.summarize(X)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=41)
    args = parser.parse_args(argv)
    saved = _threading.SERIAL_WORK
    max_threads = numba.config.NUMBA_NUM_THREADS
    print(f"CPU: {cpu_model()}, {os.cpu_count()} logical CPUs; load average "
          f"{os.getloadavg()[0]:.1f}; threading layer after the first call below")
    header = f"{'config':<18} {'rows':>8} {'work':>11} {'serial ms':>10}"
    header += "".join(f" {f'{t} thr ms':>9}" for t in range(1, max_threads + 1))
    print(header)
    rng = np.random.default_rng(0)
    for covariance_type, n_features, n_components in CONFIGS:
        X_all = rng.normal(size=(max(SIZES), n_features))
        model = _model(covariance_type, n_features, n_components, X_all)
        n_stats = model._n_stats(n_features)[1]
        for n in SIZES:
            X = X_all[:n]
            runs = {"serial": [], **{t: [] for t in range(1, max_threads + 1)}}
            for _ in range(3):  # alternate, so that a change of load hits every column
                runs["serial"].append(_time(model, X, np.inf, max_threads, args.repeat // 3))
                for t in range(1, max_threads + 1):
                    runs[t].append(_time(model, X, 0, t, args.repeat // 3))
            row = f"{covariance_type} D={n_features} K={n_components}"
            line = f"{row:<18} {n:>8,} {n * n_stats:>11,} {statistics.median(runs['serial']) * 1e3:>10.3f}"
            line += "".join(
                f" {statistics.median(runs[t]) * 1e3:>9.3f}" for t in range(1, max_threads + 1)
            )
            print(line, flush=True)
    _threading.SERIAL_WORK = saved
    numba.set_num_threads(max_threads)
    print(f"threading layer: {numba.threading_layer()}")


if __name__ == "__main__":
    main()
