"""How the driver launches parallel kernels: thread-safe, one specialisation per dtype.

Every ``parallel=True`` kernel in fastem is called through :func:`launch`.

Numba's 'tbb' and 'omp' layers accept parallel kernels launched from several
Python threads at once. The 'workqueue' layer, which Numba falls back to when
neither TBB nor OpenMP is available, aborts the whole process ("Concurrent
access has been detected"). Every parallel kernel call in fastem therefore
goes through :func:`thread_safe`, whose :func:`parallel_section` takes a
process-wide lock only
while the layer is 'workqueue', or not chosen yet (Numba picks it at the
first parallel launch). Under 'tbb' and 'omp' concurrent fits still run
concurrently.
"""

import contextlib
import threading

import numba
import numpy as np

_LOCK = threading.Lock()


def _needs_lock():
    try:
        return numba.threading_layer() == "workqueue"
    except ValueError:  # no parallel kernel has run yet: the layer is not chosen
        return True


@contextlib.contextmanager
def parallel_section():
    """Context in which a ``parallel=True`` kernel may be called safely from any thread."""
    if _needs_lock():
        with _LOCK:
            yield
    else:
        yield


def launch(kernel, X, *args):
    """Call the ``parallel=True`` kernel ``kernel(X, *args)`` safely from any thread.

    The data are handed over as a read-only view. Numba compiles a separate
    specialisation for read-only arrays, and LLVM may vectorise the two
    differently; read-only memory maps would then get results that differ in
    the last bits from the same data in memory, and pay a second compilation.
    With every array read-only, all layouts share one kernel per dtype.
    """
    view = X.view(np.ndarray)
    view.flags.writeable = False
    with parallel_section():
        return kernel(view, *args)
