"""The cost of an EM pass on small data: model selection on Old Faithful, and the passes themselves.

Three timings, the first two on one Numba thread unless ``--threads`` says otherwise:

- ``select``: ``select_n_components`` on Old Faithful (272 x 2), the four
  covariance types x K = 1..9, ``n_init=10`` (360 fits, about 25,700
  passes), after a small call that loads the kernels; seconds.
- ``pass``: a pass of plain EM on Old Faithful at K=5 (the E-step, the
  M-step, the checks and the stopping rule's bookkeeping), as a fit drives
  it: ``fastem._em.run_em`` on the fit's working copy (the stand-in of
  ``fastem/families/_gaussian_arrays.py``), from a model fitted for 3
  passes, ``--passes`` passes without a stop; the best of 5 runs, us.
- ``fit``: a default ``GaussianMixture(4, random_state=0).fit`` of 10,000
  points in four blobs on Numba's threads (its passes run in parallel),
  the median of 15 fits after one that builds the start's tree; ms.

Run it from each checkout to compare, alternating, in fresh processes::

    PYTHONPATH=$PWD python scripts/bench_small_passes.py
    PYTHONPATH=/path/to/other/checkout python scripts/bench_small_passes.py --only select
"""

import argparse
import pathlib
import statistics
import time
import warnings

import numba
import numpy as np

import fastem
from fastem import _em
from fastem.data import ArraySource

_FAITHFUL = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "faithful.csv"


def time_select(X):
    fastem.select_n_components(X, range(1, 3), n_init=1, random_state=0)  # loads the kernels
    start = time.perf_counter()
    fastem.select_n_components(X, range(1, 10), n_init=10, random_state=0)
    return time.perf_counter() - start


def time_passes(X, covariance_type, passes):
    model = fastem.GaussianMixture(5, covariance_type=covariance_type, random_state=0, max_iter=3)
    model.fit(X)
    source = ArraySource(X)
    best = np.inf
    for _ in range(5):
        worker = model._em_stand_in(model, source)
        start = time.perf_counter()
        result = _em.run_em(worker, source, tol=0.0, max_iter=passes, accelerate=False)
        best = min(best, (time.perf_counter() - start) / result.n_iter)
    return best


def time_fit():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [4, 0], [0, 4], [4, 4]], dtype=float)
    X = np.concatenate([c + rng.standard_normal((2500, 2)) for c in centres])
    fastem.GaussianMixture(4, random_state=0).fit(X)  # builds the start's tree
    times = []
    for _ in range(15):
        start = time.perf_counter()
        fastem.GaussianMixture(4, random_state=0).fit(X)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("select", "pass", "fit"), action="append")
    parser.add_argument("--passes", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1, help="Numba threads of select and pass")
    args = parser.parse_args()
    numba.set_num_threads(args.threads)
    warnings.simplefilter("ignore")  # the fits of few passes do not converge
    X = np.loadtxt(_FAITHFUL, delimiter=",", skiprows=3)
    only = args.only or ("select", "pass", "fit")
    if "select" in only:
        print(f"select_n_components, Old Faithful: {time_select(X):.2f} s")
    if "pass" in only:
        for covariance_type in ("full", "tied", "diag", "spherical"):
            per_pass = time_passes(X, covariance_type, args.passes)
            print(f"plain EM pass, Old Faithful, {covariance_type} K=5: {per_pass * 1e6:.1f} us")
    if "fit" in only:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        print(f"default fit, 10,000 x 2, K=4: {time_fit() * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
