"""Small data on a quiet machine and on a busy one (one CPU-bound process per core).

The same work is timed with the machine quiet and with ``os.cpu_count()``
processes running ``while True: pass`` beside it, started in ``setup`` and
stopped in ``teardown``. ``scripts/bench_under_load.py`` prints the same
figures side by side in one run.
"""

import os
import pathlib
import subprocess
import sys
import time
import warnings

import numpy as np

import fastem

from .common import QUICK

FAITHFUL = pathlib.Path(fastem.__file__).resolve().parents[1] / "tests" / "data" / "faithful.csv"


class TimeBusyMachine:
    """A 10,000-point fit (full D=2 K=4, 5 passes) and select_n_components on Old Faithful."""

    params = ["quiet", "loaded"]
    param_names = ["machine"]
    timeout = 600

    def setup(self, machine):
        warnings.simplefilter("ignore", fastem.ConvergenceWarning)
        X = np.random.default_rng(0).normal(size=(10_000, 2))
        X[:5_000] += 4.0
        self.X = X
        self.model = fastem.GaussianMixture(4, max_iter=5, tol=0.0, accelerate=False,
                                            random_state=0)
        if not FAITHFUL.exists():  # an installed fastem without its tests
            raise NotImplementedError("Old Faithful data (tests/data/faithful.csv) not found")
        self.faithful = np.loadtxt(FAITHFUL, delimiter=",", comments="#", skiprows=3)
        # The grid of the README's figure; a smaller one for the quick smoke run.
        self.grid = dict(n_components=range(1, 4), n_init=2) if QUICK else dict(
            n_components=range(1, 10), n_init=10)
        # Compile the kernels (or load them from Numba's cache) before timing.
        self.model.fit(X)
        fastem.select_n_components(self.faithful, range(1, 3), random_state=0)
        self.load = []
        if machine == "loaded":
            self.load = [
                subprocess.Popen([sys.executable, "-c", "while True: pass"])
                for _ in range(os.cpu_count() or 1)
            ]
            time.sleep(0.5)

    def teardown(self, machine):
        for proc in self.load:
            proc.kill()
            proc.wait()

    def time_fit_10k(self, machine):
        self.model.fit(self.X)

    def time_select_old_faithful(self, machine):
        fastem.select_n_components(self.faithful, random_state=0, **self.grid)

    time_select_old_faithful.number = 1
    time_select_old_faithful.repeat = (1, 3, 60.0)
