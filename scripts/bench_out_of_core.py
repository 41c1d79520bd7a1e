"""Fit a mixture to data on disk: memory-mapped in one process, and through Dask.

Writes (if absent) an N x 2 float32 ``.npy`` file of a 4-component mixture
(100,000,000 rows, 800 MB, by default), then

1. fits it memory-mapped in this process with a fixed number of EM iterations,
   sampling the process's anonymous resident memory (``RssAnon`` in
   /proc/self/status) from a thread during the fit, and reading the peak
   resident set (``VmHWM``, which also counts the file's pages mapped in);
2. fits the same file through Dask on a ``LocalCluster`` of 2 worker processes
   with 1 thread each (the blocks are loaded from the file by the workers and
   persisted in their memory).

Time per iteration is the time of a fit of ``--iterations`` iterations minus
that of a fit of 0 iterations (validation and initialisation only), divided by
the iterations; both fits start from the same data. Run as

    PYTHONPATH=$PWD python scripts/bench_out_of_core.py [--path /tmp] [--iterations 5]
"""

import argparse
import os
import threading
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


class PeakSampler(threading.Thread):
    """Samples RssAnon every ``interval`` seconds until stopped; keeps the maximum (MiB)."""

    def __init__(self, interval=0.01):
        super().__init__(daemon=True)
        self.interval = interval
        self.peak = 0.0
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            self.peak = max(self.peak, _status_kib("RssAnon") / 1024)
            time.sleep(self.interval)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self._stop_event.set()
        self.join()
        self.peak = max(self.peak, _status_kib("RssAnon") / 1024)


def write_data(path, n, k, seed=0, step=2**22):
    """Write an (n, 2) float32 mixture of ``k`` Gaussians, step rows at a time."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=6.0, size=(k, 2))
    scales = rng.uniform(0.5, 1.5, size=(k, 2))
    out = np.lib.format.open_memmap(path + ".part", mode="w+", dtype=np.float32, shape=(n, 2))
    for start in range(0, n, step):
        stop = min(n, start + step)
        labels = rng.integers(0, k, stop - start)
        out[start:stop] = centres[labels] + rng.normal(size=(stop - start, 2)) * scales[labels]
    out.flush()
    del out
    os.replace(path + ".part", path)


def warm_up(k, small):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        fastem.GaussianMixture(k, max_iter=2, random_state=0).fit(small)


def timed_fits(X, k, iterations):
    """(seconds for 0 iterations, seconds for ``iterations``, fitted model)."""
    times = []
    for max_iter in (0, iterations):
        model = fastem.GaussianMixture(k, max_iter=max_iter, tol=0, random_state=0)
        start = time.perf_counter()
        model.fit(X)
        times.append(time.perf_counter() - start)
    return times[0], times[1], model


def _load_rows(path, start, stop):
    return np.array(np.load(path, mmap_mode="r")[start:stop])


def dask_array_from_npy(path, rows_per_block):
    """A dask array whose blocks each worker reads from the file itself."""
    import dask
    import dask.array as da

    shape = np.load(path, mmap_mode="r").shape
    blocks = [
        da.from_delayed(
            dask.delayed(_load_rows)(path, start, min(start + rows_per_block, shape[0])),
            shape=(min(start + rows_per_block, shape[0]) - start, shape[1]),
            dtype=np.float32,
        )
        for start in range(0, shape[0], rows_per_block)
    ]
    return da.concatenate(blocks)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="/tmp", help="directory of the data file")
    parser.add_argument("--n", type=int, default=100_000_000)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--rows-per-block", type=int, default=5_000_000, help="Dask block rows")
    parser.add_argument("--no-dask", action="store_true")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", fastem.ConvergenceWarning)

    path = os.path.join(args.path, f"fastem_bench_{args.n}x2_float32.npy")
    if not os.path.exists(path):
        start = time.perf_counter()
        write_data(path, args.n, args.k)
        print(f"wrote {path} in {time.perf_counter() - start:.1f} s")

    # Compile (or load from cache) the kernels for read-only float32 data first,
    # so the JIT's memory and time are not counted.
    small = np.random.default_rng(1).normal(size=(5000, 2)).astype(np.float32)
    small.setflags(write=False)
    warm_up(args.k, small)

    X = np.load(path, mmap_mode="r")
    baseline = _status_kib("RssAnon") / 1024
    with PeakSampler() as sampler:
        t0, tn, model = timed_fits(X, args.k, args.iterations)
    per_iter = (tn - t0) / args.iterations
    print(
        f"memmap, in process: N={X.shape[0]:,} D=2 K={args.k} float32 ({X.nbytes / 2**20:.0f} MB "
        f"on disk), {args.iterations} iterations: {per_iter:.3f} s/iteration "
        f"({X.shape[0] / per_iter / 1e6:.0f} M points/s); validation + init {t0:.2f} s"
    )
    print(
        f"  RssAnon: {baseline:.0f} MiB before, peak {sampler.peak:.0f} MiB during the fits "
        f"(target < 256 MiB); VmHWM {_status_kib('VmHWM') / 1024:.0f} MiB (includes mapped file pages)"
    )
    print(f"  means: {np.round(np.sort(model.means_, axis=0), 3).tolist()}")
    if args.no_dask:
        return

    from distributed import Client, LocalCluster, wait

    # One Numba thread per worker: 2 workers x 1 thread use the 2 cores that
    # the in-process fit uses with 2 Numba threads.
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, env={"NUMBA_NUM_THREADS": "1"},
        dashboard_address=None,
    ) as cluster, Client(cluster) as client:
        client.run(warm_up, args.k, small.copy())
        start = time.perf_counter()
        dX = dask_array_from_npy(path, args.rows_per_block).persist()
        wait(dX)
        load = time.perf_counter() - start
        d0, dn, dmodel = timed_fits(dX, args.k, args.iterations)
    dper_iter = (dn - d0) / args.iterations
    print(
        f"dask, LocalCluster 2 workers x 1 thread, blocks of {args.rows_per_block:,} rows: "
        f"{dper_iter:.3f} s/iteration ({dper_iter / per_iter:.2f}x the in-process time, "
        f"overhead {dper_iter - per_iter:+.3f} s/iteration); load+persist {load:.1f} s, "
        f"validation + init {d0:.2f} s"
    )
    print(
        f"  largest difference of the means from the in-process fit: "
        f"{np.max(np.abs(dmodel.means_ - model.means_)):.2e}"
    )


if __name__ == "__main__":
    main()
