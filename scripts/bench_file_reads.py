"""How to read a data file in a fit: a guarded memory map, an unguarded one, or pread.

fastem reads a ``.npy`` file through a memory map, guarded against the file
being changed or truncated during the read (``fastem/_sigbus.py``, the file
checks of ``fastem.data.reading``). The alternative that needs no signal
handler reads each slice with ``os.preadv`` into a reused buffer, and is fed
to ``fit`` as chunked data. This script times one E-step pass (the work of one
EM iteration) of a K=4 Gaussian mixture over the same file in the three ways,
interleaved, and prints the medians, so that the three are measured side by
side under the same load. Run as

    PYTHONPATH=$PWD python scripts/bench_file_reads.py [--rows 100000000] [--repeats 3]

The file (float32, 2 features, ``--rows`` rows: 800 MB by default) is written
to ``--path`` if absent.
"""

import argparse
import contextlib
import os
import time
import warnings

import numpy as np

import fastem
from fastem import data
from fastem.data import CHUNK_BYTES


class PreadChunks:
    """The rows of a 2-D C-order ``.npy`` file, read slice by slice with ``os.preadv``."""

    def __init__(self, path, rows_per_read):
        mapped = np.load(path, mmap_mode="r")
        self.n_rows, self.n_features = mapped.shape
        self.dtype, self.offset = mapped.dtype, mapped.offset
        del mapped
        self.fd = os.open(path, os.O_RDONLY)
        self.buffer = np.empty((rows_per_read, self.n_features), self.dtype)

    def __iter__(self):
        row_bytes = self.n_features * self.dtype.itemsize
        step = len(self.buffer)
        for start in range(0, self.n_rows, step):
            view = self.buffer[: min(step, self.n_rows - start)]
            target = memoryview(view).cast("B")
            done = 0
            while done < len(target):
                n = os.preadv(self.fd, [target[done:]], self.offset + start * row_bytes + done)
                if n == 0:
                    raise EOFError("the file ended early")
                done += n
            yield view


@contextlib.contextmanager
def _unguarded(X, signature):
    yield


def _pass_seconds(make_data, reading, repeats):
    data.reading, guarded = reading, data.reading
    try:
        model = fastem.GaussianMixture(4, random_state=0, max_iter=1, tol=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", fastem.ConvergenceWarning)
            source = model._validate_data(make_data(), reset=True)
            model._fit(source)  # initialisation, and the kernels loaded
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                model._summarize(source)
                times.append(time.perf_counter() - start)
    finally:
        data.reading = guarded
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--path", default="/tmp")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    path = os.path.join(args.path, f"fastem-reads-{args.rows}x2-float32.npy")
    if not os.path.exists(path):
        rng = np.random.default_rng(0)
        means = np.array([[0, 0], [5, 5], [-5, 5], [5, -5]], dtype=np.float32)
        X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(args.rows, 2))
        for start in range(0, args.rows, 10_000_000):
            n = min(10_000_000, args.rows - start)
            X[start : start + n] = rng.normal(size=(n, 2)) + means[rng.integers(0, 4, n)]
        X.flush()
        del X
    guarded = data.reading
    ways = {
        "memory map, guarded (fastem)": (lambda: np.load(path, mmap_mode="r"), guarded),
        "memory map, unguarded": (lambda: np.load(path, mmap_mode="r"), _unguarded),
        "pread into a 256 MiB buffer": (lambda: PreadChunks(path, CHUNK_BYTES // 8), guarded),
    }
    times = {name: [] for name in ways}
    for _ in range(args.repeats):
        for name, (make_data, reading) in ways.items():
            times[name] += _pass_seconds(make_data, reading, 1)
    base = np.median(times["memory map, guarded (fastem)"])
    print(f"{args.rows:,} x 2 float32, K=4: seconds per E-step pass, median of {args.repeats}")
    for name, values in times.items():
        print(f"  {name:32s} {np.median(values):8.3f} s   x{np.median(values) / base:.2f}")


if __name__ == "__main__":
    main()
