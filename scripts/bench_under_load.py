"""fastem on a busy machine: the same work quiet and beside one CPU-bound process per core.

Measured side by side in one run (medians):

* a 10,000-point fit (full, D=2, K=4, 5 EM passes without acceleration),
  quiet and loaded; the target is at most 2x the quiet time loaded;
* ``select_n_components`` on Old Faithful (272 x 2; 4 covariance types x
  K=1..9, ``n_init=10``), quiet and loaded, each with the default threads
  and with one thread (``numba.set_num_threads(1)``); the target is under
  1.5 s loaded.

``--before`` adds, for the 10,000-point fit, the behaviour without the
serial path and the load-sized team (every kernel parallel on all threads);
``--serial`` adds the same fit with every pass on the calling thread (no
parallel region at any size), which shows how much of the loaded time is
the threads' and how much the operating system's sharing of the cores.
The load is ``os.cpu_count()`` processes running ``while True: pass``,
started after the quiet runs and stopped at the end. Run as

    python scripts/bench_under_load.py [--repeat 15] [--select-repeat 3] [--before] [--serial]
"""

import argparse
import contextlib
import os
import pathlib
import statistics
import subprocess
import sys
import time
import warnings

import numba
import numpy as np

import fastem
from fastem import _threading

from _machine import cpu_model  # scripts/_machine.py

FAITHFUL = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data" / "faithful.csv"


@contextlib.contextmanager
def _threads(n):
    before = numba.get_num_threads()
    numba.set_num_threads(n)
    try:
        yield
    finally:
        numba.set_num_threads(before)


@contextlib.contextmanager
def _always_serial():
    """Every pass on the calling thread, for the --serial row."""
    saved = _threading.SERIAL_WORK
    _threading.SERIAL_WORK = float("inf")
    try:
        yield
    finally:
        _threading.SERIAL_WORK = saved


@contextlib.contextmanager
def _always_parallel():
    """fastem without the serial path and the load-sized team, for the --before column."""
    saved = _threading.SERIAL_WORK, _threading.free_cores
    _threading.SERIAL_WORK, _threading.free_cores = 0, lambda: None
    try:
        yield
    finally:
        _threading.SERIAL_WORK, _threading.free_cores = saved


def _median_seconds(func, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@contextlib.contextmanager
def _load(n_processes):
    procs = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n_processes)
    ]
    time.sleep(1.0)  # let them reach the cores
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
        for proc in procs:
            proc.wait()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--select-repeat", type=int, default=3)
    parser.add_argument("--before", action="store_true")
    parser.add_argument("--serial", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", fastem.ConvergenceWarning)

    X = np.random.default_rng(0).normal(size=(10_000, 2))
    X[:5_000] += 4.0
    fit = fastem.GaussianMixture(4, max_iter=5, tol=0.0, accelerate=False, random_state=0)
    faithful = np.loadtxt(FAITHFUL, delimiter=",", comments="#", skiprows=3)

    def select():
        fastem.select_n_components(faithful, range(1, 10), n_init=10, random_state=0)

    # Warm up: compile or load every kernel both paths need.
    fit.fit(X)
    with _always_parallel():
        fit.fit(X)
    fastem.select_n_components(faithful, range(1, 3), n_init=1, random_state=0)

    cores = os.cpu_count()
    print(f"CPU: {cpu_model()}, {cores} logical CPUs, {numba.get_num_threads()} Numba "
          f"threads, threading layer {numba.threading_layer()}")
    results = {}
    for phase in ("quiet", "loaded"):
        with _load(cores) if phase == "loaded" else contextlib.nullcontext():
            load = os.getloadavg()[0]
            results[phase, "fit"] = _median_seconds(lambda: fit.fit(X), args.repeat)
            if args.before:
                with _always_parallel():
                    results[phase, "fit before"] = _median_seconds(lambda: fit.fit(X), args.repeat)
            if args.serial:
                with _always_serial():
                    results[phase, "fit serial"] = _median_seconds(lambda: fit.fit(X), args.repeat)
            results[phase, "select"] = _median_seconds(select, args.select_repeat)
            with _threads(1):
                results[phase, "select 1 thread"] = _median_seconds(select, args.select_repeat)
            print(f"{phase}: load average at the start {load:.1f}", flush=True)

    print(f"\n{'work':<46} {'quiet':>9} {'loaded':>9} {'loaded/quiet':>13}")
    rows = [("10,000-point fit (full D=2 K=4, 5 passes)", "fit", 1e3, "ms")]
    if args.before:
        rows.append(("  the same, every kernel parallel (before)", "fit before", 1e3, "ms"))
    if args.serial:
        rows.append(("  the same, every pass serial", "fit serial", 1e3, "ms"))
    rows += [
        ("select_n_components, Old Faithful", "select", 1.0, "s"),
        ("  the same, one thread", "select 1 thread", 1.0, "s"),
    ]
    for label, key, scale, unit in rows:
        quiet, loaded = results["quiet", key], results["loaded", key]
        print(f"{label:<46} {quiet * scale:>6.3g} {unit:<2} {loaded * scale:>6.3g} {unit:<2} "
              f"{loaded / quiet:>12.2f}x")


if __name__ == "__main__":
    main()
