"""Start-up costs, each in a fresh interpreter: importing fastem, and the first fit.

The first fit in a process compiles the kernels, or loads them from Numba's
on-disk cache when an earlier process left them there (``cache=True``). Both
are measured, as TimerawFirstFit 'cold' and 'warm'; TrackFirstFitCompilations
counts the functions a cold first fit compiles.
"""

import shutil
import subprocess
import sys
import tempfile
import textwrap


def timeraw_import_fastem():
    return "import fastem"


# Untimed part of the child process. {cache_env} sets NUMBA_CACHE_DIR, which
# must happen before numba is imported.
_FIRST_FIT_SETUP = """
import os
{cache_env}
import warnings
import numpy as np
import fastem
X = np.random.default_rng(0).normal(size=(2_000, 2))
model = fastem.GaussianMixture(4, max_iter=5, tol=0.0, init_params="random", random_state=0)
"""

_FIRST_FIT = """
with warnings.catch_warnings():
    warnings.simplefilter("ignore", fastem.ConvergenceWarning)
    model.fit(X)
"""


class TimerawFirstFit:
    """First ``GaussianMixture.fit`` (full, float64, 2,000 points, 5 iterations) in a process.

    'warm' uses Numba's usual cache location, which ``setup`` fills by running
    the same fit once in a child process (quick when it is filled already).
    'cold' points NUMBA_CACHE_DIR at a new empty folder in every timed process,
    so no sample reuses what an earlier one compiled.
    """

    params = ["cold", "warm"]
    param_names = ["numba_cache"]
    number = 1
    repeat = (1, 3, 60.0)
    rounds = 1
    timeout = 900

    def setup(self, numba_cache):
        self.cache_root = tempfile.mkdtemp(prefix="fastem-asv-numba-")
        if numba_cache == "warm":
            self.cache_env = ""
            code = _FIRST_FIT_SETUP.format(cache_env="") + _FIRST_FIT
            subprocess.run([sys.executable, "-c", code], check=True)
        else:
            self.cache_env = (
                "import tempfile\n"
                f"os.environ['NUMBA_CACHE_DIR'] = tempfile.mkdtemp(dir={self.cache_root!r})"
            )

    def teardown(self, numba_cache):
        shutil.rmtree(self.cache_root, ignore_errors=True)

    def timeraw_first_fit(self, numba_cache):
        return textwrap.dedent(_FIRST_FIT), _FIRST_FIT_SETUP.format(cache_env=self.cache_env)


# Counts the compilations of fastem's own functions in a first fit on an empty
# cache; Numba's overloads of NumPy functions are not counted.
_COUNT_COMPILATIONS = """
import os, tempfile
os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(dir={cache_root!r})
os.environ["FASTEM_COMPILE_NOTICE"] = "0"
from numba.core import event
count = 0
class Counter(event.Listener):
    def on_start(self, ev):
        pass
    def on_end(self, ev):
        global count
        count += ev.data["dispatcher"].py_func.__module__.startswith("fastem")
event.register("numba:compile", Counter())
import warnings
import numpy as np
import fastem
X = np.random.default_rng(0).normal(size=(10_000, 2))
X[:5_000] += 5.0
with warnings.catch_warnings():
    warnings.simplefilter("ignore", fastem.ConvergenceWarning)
    fastem.GaussianMixture(2, random_state=0).fit(X)
print(count)
"""


class TrackFirstFitCompilations:
    """Functions of fastem that a default first fit compiles (full, float64, 10,000 points).

    A cold first fit's time is mostly these compilations. The count is
    exact where the time is noisy: a kernel compiled twice for one fit (for
    a read-only and a writeable array of the same type, say) shows as a step.
    """

    unit = "functions"
    number = 1
    repeat = 1
    timeout = 900

    def setup(self):
        self.cache_root = tempfile.mkdtemp(prefix="fastem-asv-numba-")

    def teardown(self):
        shutil.rmtree(self.cache_root, ignore_errors=True)

    def track_compilations(self):
        code = _COUNT_COMPILATIONS.format(cache_root=self.cache_root)
        out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        return int(out.stdout.split()[-1])
