"""Time the CSV reader on a 1,000,000-row file: through pyarrow, numpy and the csv module.

    PYTHONPATH=$PWD python scripts/bench_csv.py [--rows 1000000] [--repeat 3]

Writes a (rows x 2) float64 CSV with a header and reads it with fastem's
reader through each of its parsers: pyarrow, numpy.loadtxt (used when pyarrow
is not installed) and the csv module (the field-by-field pass that reports
bad values), and with pandas.read_csv for reference; prints the median time
of each and checks that they agree.
"""

import argparse
import os
import statistics
import tempfile
import time

import numpy as np

from fastem import _tables


def _time(fn, repeat):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    X = np.random.default_rng(0).normal(size=(args.rows, 2))
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "points.csv")
        np.savetxt(path, X, delimiter=",", header="x,y", comments="", fmt="%.17g")
        print(f"{args.rows:,} rows x 2 columns, {os.path.getsize(path) / 2**20:.1f} MiB, "
              f"median of {args.repeat}")
        originals = {name: getattr(_tables, f"_read_with_{name}") for name in ("pyarrow", "numpy")}
        try:
            for name in ("pyarrow", "numpy", "csv module"):
                seconds, table = _time(lambda: _tables.read_csv(path), args.repeat)
                print(f"  fastem, {name:<11}{seconds:7.2f} s")
                assert np.array_equal(table.data, X)
                if name in originals:  # the next run goes without this parser
                    setattr(_tables, f"_read_with_{name}", lambda layout: None)
        finally:
            for name, parser in originals.items():
                setattr(_tables, f"_read_with_{name}", parser)
        try:
            import pandas as pd
        except ImportError:
            return
        seconds, frame = _time(lambda: pd.read_csv(path), args.repeat)
        print(f"  pandas.read_csv     {seconds:7.2f} s")
        assert np.array_equal(frame.to_numpy(), X)


if __name__ == "__main__":
    main()
