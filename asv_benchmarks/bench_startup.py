"""Start-up costs, each in a fresh interpreter: importing fastem, and the first fit.

The first fit in a process compiles the kernels, or loads them from Numba's
on-disk cache when an earlier process left them there (``cache=True``). Both
are measured: 'cold' points NUMBA_CACHE_DIR at a new, empty folder in every
timed process; 'warm' at a folder that a process run in ``setup`` filled.
"""

import shutil
import subprocess
import sys
import tempfile
import textwrap


def timeraw_import_fastem():
    return "import fastem"


# Untimed part of the child process; it must set NUMBA_CACHE_DIR before numba
# is imported. {cache_dir} is filled in per parameter.
_FIRST_FIT_SETUP = """
os.environ["NUMBA_CACHE_DIR"] = {cache_dir}
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
    """First ``GaussianMixture.fit`` (full, float64, 2,000 points, 5 iterations) in a process."""

    params = ["cold", "warm"]
    param_names = ["numba_cache"]
    number = 1
    repeat = (1, 3, 60.0)
    rounds = 1
    timeout = 900

    def setup(self, numba_cache):
        self.cache_root = tempfile.mkdtemp(prefix="fastem-asv-numba-")
        if numba_cache == "warm":
            self.cache_dir = repr(self.cache_root)
            code = _FIRST_FIT_SETUP.format(cache_dir=self.cache_dir) + _FIRST_FIT
            subprocess.run([sys.executable, "-c", code], check=True)
        else:
            # A new empty folder in every timed process, so no sample reuses
            # what an earlier one compiled.
            self.cache_dir = f"__import__('tempfile').mkdtemp(dir={self.cache_root!r})"

    def teardown(self, numba_cache):
        shutil.rmtree(self.cache_root, ignore_errors=True)

    def timeraw_first_fit(self, numba_cache):
        setup = _FIRST_FIT_SETUP.format(cache_dir=self.cache_dir)
        return textwrap.dedent(_FIRST_FIT), setup
