"""Time ``import fastem`` plus a first fit in fresh processes, cold and warm.

Cold: Numba's cache directory is empty, so the kernels are compiled. Warm:
the same directory again, so they are loaded from the cache. Each run is a
new interpreter, as for a short script, with the modules' bytecode already
written, as an installed package has it (``PYTHONPYCACHEPREFIX``, filled by
one untimed process first; a ``PYTHONDONTWRITEBYTECODE`` of the environment
would otherwise compile every module from source at every run). Beside them, the same for Numba
alone: ``import numba`` and the first call of one trivial ``@njit(cache=True)``
function, the floor under any package built on Numba (its first dispatch
loads Numba's typing and lowering registries, which import scipy.linalg and
cffi). And the cold first fit once more with ``FASTEM_COMPILE_AHEAD=0``,
every kernel compiled in the fit's own process: where a core is free, a cold
first fit compiles part of its E-step in a second process
(``fastem/_compile_ahead.py``). The processes import the fastem of the checkout this script is in,
whatever ``PYTHONPATH`` says: to compare two checkouts, run each one's
script. Run as

    python scripts/measure_first_fit.py [--n-samples 10000] [--repeat 3]
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

from _machine import cpu_model  # scripts/_machine.py

# The bytecode of the timed processes' modules, for this script's life.
_BYTECODE = tempfile.TemporaryDirectory()

# The checkout: the child processes run in it, and `python -c` puts it first on their path.
ROOT = pathlib.Path(__file__).resolve().parents[1]

_CHILD = r"""
import time
start = time.perf_counter()
{breakdown_setup}
import numpy as np
import fastem
imported = time.perf_counter()
X = np.random.default_rng(0).normal(size=({n}, 2))
X[: {n} // 2] += 5.0
fastem.GaussianMixture(2, covariance_type="{covariance_type}", random_state=0).fit(X)
done = time.perf_counter()
print(imported - start, done - start)
{breakdown_report}
"""

# Records every compilation: (depth, qualified name, seconds including nested ones).
_BREAKDOWN_SETUP = r"""
from numba.core import event
compiled, stack = [], []
class Recorder(event.Listener):
    def on_start(self, ev):
        stack.append((time.perf_counter(), ev.data["dispatcher"]))
    def on_end(self, ev):
        t0, dispatcher = stack.pop()
        compiled.append((len(stack), dispatcher.py_func.__qualname__,
                         time.perf_counter() - t0, dispatcher, ev.data.get("signature")))
event.register("numba:compile", Recorder())
"""

_BREAKDOWN_REPORT = r"""
total = sum(r[2] for r in compiled if r[0] == 0)
print(f"compiled {len(compiled)} functions, {total:.1f} s in outermost compilations")
for depth, name, seconds, _, _ in sorted(compiled, key=lambda r: -r[2])[:12]:
    print(f"  {'  ' * depth}{name}: {seconds:.2f} s")
depth, name, seconds, dispatcher, sig = max(compiled, key=lambda r: r[2])
for cres in dispatcher.overloads.values():
    times = cres.metadata.get("pipeline_times", {})
    for pipeline, passes in times.items():
        rows = sorted(((t.init + t.run + t.finalize, p) for p, t in passes.items()), reverse=True)
        print(f"{name}, {pipeline}: " + ", ".join(f"{p} {t:.2f} s" for t, p in rows[:8]))
"""


_FLOOR_CHILD = r"""
import time
start = time.perf_counter()
import numpy as np
import numba
imported = time.perf_counter()
@numba.njit(cache=True)
def total(x):
    return x.sum()
total(np.ones(3))
done = time.perf_counter()
print(imported - start, done - start)
"""


def _env(**variables):
    """The environment of the timed processes: the bytecode directory of :func:`_write_bytecode`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return dict(env, PYTHONPYCACHEPREFIX=_BYTECODE.name, **variables)


def _write_bytecode():
    """Import what the timed processes import, once, untimed, so that they find its bytecode."""
    with tempfile.TemporaryDirectory() as cache_dir:
        code = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n" + _FLOOR_CHILD.replace(
            "import numba\n", "import numba\nimport fastem\n"
        )
        script = os.path.join(cache_dir, "imports.py")
        with open(script, "w") as f:
            f.write(code)
        subprocess.run(
            [sys.executable, script], env=_env(NUMBA_CACHE_DIR=cache_dir), check=True,
            capture_output=True, cwd=ROOT,
        )


def _floor(cache_dir):
    """``(import numpy and numba, import + first call of one cached function)`` in seconds, in a fresh
    process; the script lives in ``cache_dir`` (Numba caches the functions of files only,
    per file), so that a second call finds the first call's cache."""
    script = os.path.join(cache_dir, "floor.py")
    if not os.path.exists(script):
        with open(script, "w") as f:
            f.write(_FLOOR_CHILD)
    env = _env(NUMBA_CACHE_DIR=os.path.join(cache_dir, "numba"))
    out = subprocess.run([sys.executable, script], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"measure_first_fit: the Numba-alone process failed:\n{out.stderr}")
    first = out.stdout.split()
    return float(first[0]), float(first[1])


def _run(cache_dir, n_samples, covariance_type, breakdown=False, ahead=True):
    env = _env(NUMBA_CACHE_DIR=cache_dir, FASTEM_COMPILE_NOTICE="0")
    if not ahead:  # every kernel compiled in the fit's own process (fastem._compile_ahead)
        env["FASTEM_COMPILE_AHEAD"] = "0"
    code = _CHILD.format(
        n=n_samples,
        covariance_type=covariance_type,
        breakdown_setup=_BREAKDOWN_SETUP if breakdown else "",
        breakdown_report=_BREAKDOWN_REPORT if breakdown else "",
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    first, rest = out.split("\n", 1)
    if breakdown:
        print(rest, end="")
    first = first.split()
    return float(first[0]), float(first[1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=10_000)
    parser.add_argument("--covariance-type", default="full")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--breakdown", action="store_true")
    args = parser.parse_args(argv)
    _write_bytecode()
    cold, warm, alone, floor_cold, floor_warm = [], [], [], [], []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory() as cache_dir:
            breakdown = args.breakdown and i == 0
            cold.append(_run(cache_dir, args.n_samples, args.covariance_type, breakdown))
            warm.append(_run(cache_dir, args.n_samples, args.covariance_type))
        with tempfile.TemporaryDirectory() as cache_dir:
            alone.append(_run(cache_dir, args.n_samples, args.covariance_type, ahead=False))
        with tempfile.TemporaryDirectory() as cache_dir:
            floor_cold.append(_floor(cache_dir))
            floor_warm.append(_floor(cache_dir))
    print(f"CPU: {cpu_model()}, load average {os.getloadavg()[0]:.1f}")
    fastem_run = (
        f"{{}}: import fastem {{:.2f}} s, import + first fit of {args.n_samples:,} points "
        f"({args.covariance_type}) {{:.2f}} s"
    )
    numba_run = (
        "Numba alone, {}: import numpy and numba {:.2f} s, "
        "import + first call of one trivial cached function {:.2f} s"
    )
    for what, label, runs in (
        (fastem_run, "cold cache", cold), (fastem_run, "warm cache", warm),
        (fastem_run, "cold cache, nothing compiled ahead (FASTEM_COMPILE_AHEAD=0)", alone),
        (numba_run, "cold cache", floor_cold), (numba_run, "warm cache", floor_warm),
    ):
        medians = [statistics.median(r[i] for r in runs) for i in (0, 1)]
        print(f"{what.format(label, *medians)} (median of {args.repeat} fresh processes)")


if __name__ == "__main__":
    main()
