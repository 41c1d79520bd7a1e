"""Time fastem's EM iterations with 256-bit and with 512-bit vectors, side by side.

fastem compiles its kernels for 512-bit vectors where the CPU has AVX-512
(``FASTEM_VECTOR_WIDTH``, see ``fastem/kernels/_codegen.py``). The width is
fixed per process, so the script starts two worker processes, one with
``FASTEM_VECTOR_WIDTH=256`` and one with ``512``, each with its own kernel
cache directory. For every configuration both workers draw the data and the
start of ``scripts/bench_vs_sklearn.py`` (same seed), and the script asks them
in turn, ``--repeat`` times, for the time of ``--n-iter`` iterations of
fastem's loop body (one fused pass and one M-step, the data validated once
beforehand). The table gives the median milliseconds per iteration of each
width and the median of the per-round ratios, with the largest relative
difference between the two widths' means after the timings.

On a CPU without AVX-512 both workers run the same code, and the ratios show
the noise of the measurement.

Example::

    PYTHONPATH=$PWD python scripts/bench_vector_width.py --markdown width.md
"""

import argparse
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import cpu_model  # noqa: E402

# (covariance type, n_features, n_components, n_samples); each in both dtypes.
CONFIGS = [
    ("full", 1, 2, 1_000_000),
    ("full", 2, 4, 1_000_000),
    ("full", 16, 8, 1_000_000),
    ("diag", 16, 8, 1_000_000),
    ("tied", 16, 8, 1_000_000),
    ("spherical", 2, 4, 1_000_000),
    ("spherical", 16, 8, 1_000_000),
    ("full", 64, 16, 200_000),
    ("full", 128, 8, 200_000),
]

WIDTHS = ("256", "512")


def _worker(width, cache_dir, connection):
    """Serve timing requests at one vector width until told to stop (``None``)."""
    os.environ["FASTEM_VECTOR_WIDTH"] = width
    os.environ["NUMBA_CACHE_DIR"] = cache_dir
    from bench_vs_sklearn import fastem_iterations, fastem_model, make_data

    connection.send(True)
    state = {}
    while (request := connection.recv()) is not None:
        kind = request[0]
        if kind == "data":
            _, covariance_type, n_features, n_components, n_samples, dtype = request
            X, init = make_data(covariance_type, n_samples, n_features, n_components, dtype)
            model = fastem_model(X, covariance_type, n_components, init)
            source = model._validate_data(X, reset=False)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fastem_iterations(model, source, 1)  # compiles or loads the kernels
            state = {"X": X, "init": init, "source": source, "model": model,
                     "covariance_type": covariance_type, "n_components": n_components}
            connection.send(True)
        elif kind == "time":
            n_iter = request[1]
            model = fastem_model(state["X"], state["covariance_type"], state["n_components"],
                                 state["init"])
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                fastem_iterations(model, state["source"], n_iter)
                seconds = (time.perf_counter() - start) / n_iter
            state["model"] = model
            connection.send(seconds)
        elif kind == "means":
            connection.send(state["model"].means_)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-iter", type=int, default=5, help="EM iterations per timing")
    parser.add_argument("--repeat", type=int, default=5, help="timings per width and configuration")
    parser.add_argument("--n-samples", type=float, default=1.0,
                        help="fraction of each configuration's points (default 1)")
    parser.add_argument("--only", default=None,
                        help="run only configurations whose label contains this")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table to FILE")
    args = parser.parse_args(argv)

    context = multiprocessing.get_context("spawn")
    workers = {}
    with tempfile.TemporaryDirectory(prefix="fastem-width-") as cache:
        for width in WIDTHS:
            ours, theirs = context.Pipe()
            process = context.Process(
                target=_worker, args=(width, os.path.join(cache, width), theirs), daemon=True
            )
            process.start()
            workers[width] = (process, ours)
        for _, connection in workers.values():
            connection.recv()  # the worker has imported fastem
        header = (
            f"{cpu_model()}; {args.n_iter} EM iterations per timing, median of {args.repeat} "
            f"per width; FASTEM_VECTOR_WIDTH=256 "
            f"against 512"
        )
        rows = [
            "| config | 256-bit ms/iter | 512-bit ms/iter | speed-up | means rel. diff |",
            "|---|---:|---:|---:|---:|",
        ]
        print(header, flush=True)
        for covariance_type, n_features, n_components, n_samples in CONFIGS:
            for dtype in ("float64", "float32"):
                n = max(1000, int(n_samples * args.n_samples))
                label = f"{covariance_type} D={n_features} K={n_components} {dtype} N={n:,}"
                if args.only and args.only not in label:
                    continue
                for _, connection in workers.values():
                    connection.send(("data", covariance_type, n_features, n_components, n,
                                     np.dtype(dtype).type))
                for _, connection in workers.values():
                    connection.recv()
                times = {width: [] for width in WIDTHS}
                for round_ in range(args.repeat):
                    # Alternate which width goes first, so neither always
                    # follows the other's cache and frequency state.
                    for width in WIDTHS if round_ % 2 == 0 else WIDTHS[::-1]:
                        connection = workers[width][1]
                        connection.send(("time", args.n_iter))
                        times[width].append(connection.recv())
                means = {}
                for width, (_, connection) in workers.items():
                    connection.send(("means",))
                    means[width] = connection.recv()
                ratio = statistics.median(a / b for a, b in zip(times["256"], times["512"]))
                scale = np.max(np.abs(means["256"]))
                diff = np.max(np.abs(means["512"] - means["256"])) / scale
                rows.append(
                    f"| {label} | {statistics.median(times['256']) * 1e3:.2f} | "
                    f"{statistics.median(times['512']) * 1e3:.2f} | {ratio:.2f}x | {diff:.1e} |"
                )
                print(rows[-1], flush=True)
        for process, connection in workers.values():
            connection.send(None)
            process.join()
    table = header + "\n\n" + "\n".join(rows) + "\n"
    print()
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
