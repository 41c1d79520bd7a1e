"""Serialise kernel launches when Numba's threading layer cannot share its pool.

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


def thread_safe(kernel):
    """Wrap a ``parallel=True`` kernel so that each call runs in :func:`parallel_section`."""

    def call(*args):
        with parallel_section():
            return kernel(*args)

    return call
