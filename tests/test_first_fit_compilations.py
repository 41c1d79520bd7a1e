"""What a cold first fit compiles: no function that its kernels could do without.

Each function Numba compiles costs a cold first fit tens to hundreds of
milliseconds (typing, lowering, LLVM's optimisation of it and of the copies
linked into its callers). The fit below runs in a fresh process on an empty
cache and records every compilation, with the one it is nested in.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

_FIRST_FITS = r"""
import json
import numpy as np
from numba.core import event

compiled, stack = [], []


class Recorder(event.Listener):
    def on_start(self, ev):
        stack.append(ev.data["dispatcher"].py_func)

    def on_end(self, ev):
        func = stack.pop()
        parent = stack[-1].__qualname__ if stack else None
        compiled.append((f"{func.__module__}.{func.__qualname__}", parent))


event.register("numba:compile", Recorder())
import fastem

X = np.random.default_rng(0).normal(size=(10000, 2))  # scripts/measure_first_fit.py's fit
X[:5000] += 5.0
fastem.GaussianMixture(2, covariance_type="full", random_state=0).fit(X)
print(json.dumps(compiled))
"""


def _first_fit_compilations(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), FASTEM_COMPILE_NOTICE="0")
    run = subprocess.run(
        [sys.executable, "-c", _FIRST_FITS], capture_output=True, text=True, timeout=600, env=env,
        cwd=Path(__file__).resolve().parents[1],  # "-c" imports fastem from here first
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return [tuple(c) for c in json.loads(run.stdout.splitlines()[-1])]


def test_a_cold_first_fit_compiles_nothing_its_kernels_do_without(tmp_path):
    compiled = _first_fit_compilations(tmp_path)
    # The M-step's covariances are written into arrays the caller allocates: np.empty
    # compiled a function of its own per number of dimensions, in every cold first fit.
    assert ("fastem.kernels.linalg.covariances_from_precision_cholesky", None) in compiled
    assert [c for c in compiled if c[1] == "covariances_from_precision_cholesky"] == []
    # The hierarchical start's merge costs call the factorisation through its address,
    # compiled once: a linked call put a copy of it into their module.
    assert ("fastem._hierarchical._log_dets", "_merge_costs") not in compiled
    assert [name for name, _ in compiled].count("fastem._hierarchical._log_dets") == 1
