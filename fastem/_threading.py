"""How the driver launches kernels: serial or parallel, thread-safe, one specialisation per dtype.

Every ``parallel=True`` kernel in fastem is called through :func:`launch`,
which decides per call how many threads it gets. Nothing here changes a
process-wide setting: the thread count is set with ``numba.set_num_threads``,
which is local to the calling thread, and put back after the call.

Small work
    Below ``SERIAL_WORK`` (see :mod:`fastem._config`) the kernel runs on the
    calling thread alone, with no other thread to wait for or to wake: the
    fused E-step as a compilation without a parallel region
    (``fused_e_step_serial``, the same partitions in the same order, so the
    same bits; it needs no lock), the other kernels on a team of one.
Busy machines
    A parallel region ends at a barrier that waits for every thread of the
    team. When other processes keep the cores busy, a team thread waits for
    a time slice before it even starts, and the others spin at the barrier
    meanwhile, on the cores the late thread needs: a 10,000-point fit that
    took 9 ms took 100 ms and more with one busy process per core. So the
    team is sized to the cores that are free: :func:`free_cores` counts the
    runnable tasks of other processes (Linux: ``/proc/loadavg`` less this
    process's own running threads) that two readings in a row see, at most
    every ``_LOAD_INTERVAL`` seconds, and the kernel runs on that many
    threads. It once subtracted its own threads only when the machine looked
    full: on a quiet 2-core machine Numba's worker, still spinning after the
    last pass, counted as a busy core in 61-86 of 266 readings, and each
    such reading sent the next 0.1 s of passes to one thread.

At any thread count the kernels cut the data into the same partitions and
reduce them in the same order: the results are bitwise the same.

BLAS inside kernels
    From ``BLAS_MIN_FEATURES`` features on, the 'tied' Gaussian block maps
    float64 blocks through BLAS (``np.dot`` in Numba calls SciPy's BLAS) from
    every kernel thread. A
    multi-threaded BLAS would start its own threads inside each call, on the
    cores the kernel threads already use: measured with both threads calling
    OpenBLAS, 0.05 GFLOP/s against 6.5 GFLOP/s with BLAS on one thread. So
    kernels on such data run under :func:`single_threaded_blas`, as
    scikit-learn's k-means does around its own BLAS calls. This is the one
    process-wide setting changed here: while such a kernel runs, BLAS calls of
    other threads of the process also run on one thread. Each partition's BLAS
    calls have fixed sizes, so their results do not depend on the team.
    SciPy's BLAS is loaded only where it is called: ``import scipy.linalg``
    took 0.1 s of a warm first fit, which calls neither it nor Numba's
    ``np.dot``. So such kernels load it before the limit is set
    (``single_threaded_blas(kernel_blas=True)``; Numba would load it at its
    first call, inside the limit, unlimited), and the driver takes
    ``scipy.linalg`` from :func:`scipy_linalg`, which limits SciPy's BLAS
    too when it is loaded inside a limit.

Numba's 'tbb' and 'omp' layers accept parallel kernels launched from several
Python threads at once. The 'workqueue' layer, which Numba falls back to when
neither TBB nor OpenMP is available, aborts the whole process ("Concurrent
access has been detected"). Every parallel launch in fastem therefore goes
through :func:`parallel_section`, which takes a process-wide lock only while
the layer is 'workqueue', or not chosen yet (Numba picks it at the first
parallel launch). Under 'tbb' and 'omp' concurrent fits still run
concurrently: the kernels are ``nogil=True``.
"""

import contextlib
import functools
import os
import sys
import threading
import time

import numba
import numpy as np

from ._config import BLAS_MIN_FEATURES, SERIAL_WORK

__all__ = [
    "free_cores", "launch", "on_one_blas_thread", "parallel_section", "read_only",
    "read_only_fields", "scipy_linalg", "single_threaded_blas", "usable_cpus",
]

_LOCK = threading.Lock()
# A context that does nothing: it keeps no state, so one serves every launch.
_NO_OP = contextlib.nullcontext()

# The BLAS limit, shared by concurrent kernel calls: set by the first, put
# back by the last (a limit per call would restore another call's limit).
# "users": the calls inside it, per thread (its identifier), which a forked
# child, whose only thread is the one that forked, can count again; "scipy":
# whether SciPy's BLAS was loaded (_SCIPY_BLAS_MODULE) when the controller looked
# for the libraries; "limiters": the limit's, one more for those loaded inside it.
_BLAS_LOCK = threading.Lock()
_blas = {"controller": None, "scipy": False, "limiters": [], "users": {}}

# Seconds for which one reading of the machine's load is reused.
_LOAD_INTERVAL = 0.1
# The last reading; a later reading within _CONFIRM_SECONDS confirms its count.
_load = {"time": -np.inf, "free": None, "others": None, "pid": None}
_CONFIRM_SECONDS = 1.0


def _locks_of_a_forked_child():
    """Give a forked child locks that no thread holds: a thread of the parent that held one
    (a kernel launch, a BLAS limit being set) does not exist in the child, which would wait
    for it forever. The BLAS limit of calls in the parent's other threads is theirs: the
    child counts only its own thread's, and without any puts the original limits back
    (the count of a call the child never made kept its BLAS on one thread for good)."""
    global _LOCK, _BLAS_LOCK
    _LOCK, _BLAS_LOCK = threading.Lock(), threading.Lock()
    own = _blas["users"].get(threading.get_ident(), 0)
    _blas["users"] = {threading.get_ident(): own} if own else {}
    if not own:
        _restore_blas_limits()


# The forking thread takes _BLAS_LOCK while the process forks: a child forked while another
# thread was setting the BLAS limit (or putting it back) had libraries on one thread that
# its record of the limit did not hold yet, and kept them there for good; one forked while
# that thread was inside threadpoolctl's lock would have waited for that lock forever.
# The lock is held for a few milliseconds at most; should it stay taken (a thread stopped
# inside it), the fork waits _FORK_WAIT seconds for it, then goes on without it.
_FORK_WAIT = 1.0
_blas_lock_at_fork = threading.local()  # whether this thread took it, for its own fork


def _take_blas_lock_for_fork():
    _blas_lock_at_fork.taken = _BLAS_LOCK.acquire(timeout=_FORK_WAIT)


def _release_blas_lock_after_fork():
    if _blas_lock_at_fork.taken:
        _BLAS_LOCK.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_take_blas_lock_for_fork,
                        after_in_parent=_release_blas_lock_after_fork,
                        after_in_child=_locks_of_a_forked_child)


def _needs_lock():
    try:
        return numba.threading_layer() == "workqueue"
    except ValueError:  # no parallel kernel has run yet: the layer is not chosen
        return True


def parallel_section():
    """Context in which a ``parallel=True`` kernel may be called safely from any thread.

    The lock itself, or a context that does nothing: no generator to start
    on every launch.
    """
    return _LOCK if _needs_lock() else _NO_OP


def _in_blas_control(action):
    """``action()`` (setting or putting back the BLAS limit), run where this thread may set
    the size of a process-wide BLAS pool.

    threadpoolctl (3.8, as installed here) lets one thread at a time set the threads of
    an OpenBLAS on pthreads, the first that set them, until that thread's ``with
    threadpool_limits()`` ends; the calls of every other thread do nothing, silently.
    The limit here is not such a block: it is shared by the threads that fit, set by
    the first and put back by the last, which may be another. So once one thread had
    fitted (the main thread, say), a fit in another thread ran its BLAS on every thread
    (its bits then differed from the same fit's in the main thread: 548 passes against
    522, 96 features), and a limit that a thread other than the one that set it put back
    stayed at one thread for good. No thread holds that control before or after
    ``action`` (older threadpoolctl has none)."""
    import threadpoolctl

    release = getattr(threadpoolctl.OpenBLASController, "clear_controlling_thread", None)
    if release is not None:
        release(force=True)
    try:
        return action()
    finally:
        if release is not None:
            release(force=True)


# The module whose presence tells that SciPy's BLAS is loaded. An extension module enters
# sys.modules only once its shared library, and the BLAS it links, is loaded; scipy.linalg
# is there from the start of its import: a limit entered by another thread while it was
# being imported looked for the libraries before SciPy's BLAS was loaded, and took the
# libraries found then for those with SciPy's, which it never limited again.
_SCIPY_BLAS_MODULE = "scipy.linalg._fblas"


def _find_blas():
    """With ``_BLAS_LOCK`` held: the controller of the BLAS libraries, looked for again when
    SciPy's has been loaded since; inside a limit, the libraries found then limited too."""
    scipy_loaded = _SCIPY_BLAS_MODULE in sys.modules
    if _blas["controller"] is not None and _blas["scipy"] == scipy_loaded:
        return
    from threadpoolctl import ThreadpoolController

    _blas["controller"], _blas["scipy"] = ThreadpoolController(), scipy_loaded
    if _blas["users"]:
        _blas["limiters"].append(_limited_blas())


@contextlib.contextmanager
def single_threaded_blas(kernel_blas=False):
    """Context in which SciPy's and NumPy's BLAS run on one thread (see the module docstring).

    ``kernel_blas``: compiled code inside calls BLAS through Numba (``np.dot``),
    which calls SciPy's: it is loaded first, so that it is limited as well.
    """
    if kernel_blas:
        import scipy.linalg.cython_blas  # noqa: F401
    thread = threading.get_ident()
    with _BLAS_LOCK:
        _find_blas()
        users = _blas["users"]
        if not users:
            _blas["limiters"] = [_limited_blas()]
        users[thread] = users.get(thread, 0) + 1
    try:
        yield
    finally:
        with _BLAS_LOCK:
            users = _blas["users"]
            users[thread] -= 1
            if not users[thread]:
                del users[thread]
            if not users:
                _restore_blas_limits()


def _restore_blas_limits():
    """Put back the limits that the BLAS limit found (with ``_BLAS_LOCK`` held, or in a
    forked child)."""
    limiters, _blas["limiters"] = _blas["limiters"], []
    failure = None
    for limiter in reversed(limiters):  # the first knows the caller's
        try:  # every one, whatever another raises (an interrupt at the end of a fit)
            _in_blas_control(limiter.restore_original_limits)
        except BaseException as error:
            failure = failure or error
    if failure is not None:
        raise failure


def _limited_blas():
    """The BLAS libraries of the controller limited to one thread: their limiter."""
    return _in_blas_control(
        functools.partial(_blas["controller"].limit, limits=1, user_api="blas"))


def scipy_linalg():
    """``scipy.linalg``, imported on first use; loaded inside :func:`single_threaded_blas`,
    its BLAS runs on one thread there as NumPy's does."""
    from scipy import linalg

    with _BLAS_LOCK:
        _find_blas()
    return linalg


def on_one_blas_thread(function):
    """``function`` (a fit, an update of a model, ``sample``) run under
    :func:`single_threaded_blas`.

    The driver of a fit calls BLAS and LAPACK itself between the kernels: the
    moments of the start (a (D, n) by (n, D) product), Cholesky factors and
    inverses of (D, D) matrices. A multi-threaded OpenBLAS splits such calls
    among its threads from a few tens of features on (64 on the 2-core
    machine) and sums the pieces in another order: the bits of a fit then
    depended on the BLAS threads of the process, which scikit-learn's and
    joblib's process pools (loky) set to the cores per worker. A
    ``cross_validate(..., n_jobs=2)`` of a 'full' model of 64 features
    scored 1e-3 per sample away from the serial one, after 177 passes instead
    of 193, and ``sample`` (the draws times the Cholesky factors) drew other
    points for the same ``random_state``. On one thread the calls give the
    same bits in every process.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with single_threaded_blas():
            return function(*args, **kwargs)

    return wrapper


def _runnable_tasks():
    """Runnable tasks on the machine now, this process's included, or None if unknown."""
    try:
        with open("/proc/loadavg", "rb") as f:
            return int(f.read().split()[3].split(b"/")[0])
    except (OSError, IndexError, ValueError):
        return None


def _own_running_threads():
    """Threads of this process in the running state (e.g. worker threads still spinning)."""
    count = 0
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # the thread ended meanwhile
            continue
        count += stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] == b"R"
    return max(count, 1)


def usable_cpus():
    """The CPUs this process may run on: its affinity mask (Linux), else the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def free_cores():
    """Cores not kept busy by other processes, at least 1; None where the load is unknown.

    At most the CPUs this process may use (:func:`usable_cpus`: a process
    pinned to one CPU of a quiet machine has one free core). Counts the
    runnable tasks on the machine (Linux ``/proc/loadavg``) less
    this process's own running threads: fastem's worker threads spin for a
    while after each parallel region, and they are not load. A task that is
    runnable for an instant would still shrink the team for the next
    ``_LOAD_INTERVAL`` seconds, so a reading counts only the load that the
    reading before it, if taken within ``_CONFIRM_SECONDS`` in this
    process, also saw (the smaller of the two counts): a load that stays is
    seen from the second reading on, and one that goes is forgotten at once.
    The answer is reused for ``_LOAD_INTERVAL`` seconds. Safe to call from
    several threads: each reads the last state once and replaces it whole.
    """
    global _load
    state = _load
    now = time.monotonic()
    if now - state["time"] < _LOAD_INTERVAL:
        return state["free"]
    runnable = _runnable_tasks()
    others = None if runnable is None else max(0, runnable - _own_running_threads())
    free = None
    if others is not None:
        seen = others
        confirms = state["pid"] == os.getpid() and now - state["time"] <= _CONFIRM_SECONDS
        if confirms and state["others"] is not None:
            seen = min(others, state["others"])
        free = max(1, min(usable_cpus(), (os.cpu_count() or 1) - seen))
    _load = {"time": now, "free": free, "others": others, "pid": os.getpid()}
    return free


def read_only(array):
    """``array`` as a read-only ``np.ndarray``: itself when it is one, else a view.

    Numba types a read-only array apart from a writeable one and compiles a
    kernel once for each: a kernel called with the parameters of a fitted
    model (frozen, read-only) and with those a fit has just computed would
    compile twice, seconds each on a cold cache. Arrays that a kernel only
    reads pass through here, so that each kernel has one signature per dtype.
    """
    if type(array) is np.ndarray and not array.flags.writeable:
        return array
    view = array.view(np.ndarray)
    view.flags.writeable = False
    return view


def read_only_fields(params):
    """The NamedTuple ``params`` with each of its ``np.ndarray`` fields :func:`read_only`."""
    return params._make(read_only(a) if type(a) is np.ndarray else a for a in params)


# The process that first launched a parallel kernel, or that forked after any parallel
# region of its own (a user's too), when Numba's layer is 'omp' on GNU OpenMP (0 for any
# other layer; None before either). GNU OpenMP is not fork-safe:
# Numba ends a forked child of that process that launches a parallel region ("Terminating:
# fork() called from a process already using GNU OpenMP"), the default start method of
# multiprocessing and concurrent.futures' process pools on Linux.
_parallel_parent = {"pid": None}
# Compilations of parallel kernels without their parallel region, for such children.
_SERIAL = {}


def _record_parallel_parent():
    if _parallel_parent["pid"] is None:
        gnu = False
        if numba.threading_layer() == "omp":  # its module exists only where OpenMP does
            from numba.np.ufunc import omppool

            gnu = omppool.openmp_vendor == "GNU"
        _parallel_parent["pid"] = os.getpid() if gnu else 0


def _record_parallel_parent_before_fork():
    """At a fork, record this process as the parent of the child when its parallel regions
    ran on GNU OpenMP, whoever launched them: a user's own ``parallel=True`` function, or
    another library's, makes the child as unable to start a parallel region as fastem's
    kernels do, and a child that tried was ended (a ``multiprocessing.Pool`` waited for its
    results forever)."""
    if _parallel_parent["pid"] is not None:
        return
    try:
        numba.threading_layer()
    except ValueError:  # no parallel region has run in this process
        return
    _record_parallel_parent()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_record_parallel_parent_before_fork)


def _forked_from_gnu_openmp():
    """Whether this process is a forked child of one whose parallel kernels ran on GNU OpenMP."""
    return _parallel_parent["pid"] not in (None, 0, os.getpid())


def _serial_compilation(kernel):
    """``kernel`` compiled without its parallel region: its ``prange`` loops run in order,
    over the same partitions, on the calling thread."""
    serial = _SERIAL.get(kernel)
    if serial is None:
        options = {k: v for k, v in kernel.targetoptions.items() if k != "nopython"}
        serial = _SERIAL[kernel] = numba.njit(**{**options, "parallel": False})(kernel.py_func)
    return serial


def launch(kernel, X, *args, cost_per_row=None, serial=None):
    """Call the ``parallel=True`` kernel ``kernel(X, *args)`` safely from any thread.

    ``cost_per_row`` estimates the kernel's work per row of ``X`` in the units
    of ``SERIAL_WORK`` (default: the number of features, for kernels that
    read each entry once). Below ``SERIAL_WORK`` in total the kernel runs on
    the calling thread alone: ``serial(X, *args)``, a compilation of the
    kernel without its parallel region that gives the same results, where
    the caller has one, else the kernel on a team of one. Above, the kernel
    runs on at most as many threads as there are free cores (see the module
    docstring). In a forked child of a process whose kernels ran on GNU
    OpenMP, which cannot start a parallel region, every kernel runs on the
    calling thread: ``serial``, or the kernel compiled without
    ``parallel=True`` (the same partitions in the same order).

    The data are handed over as a read-only view. Numba compiles a separate
    specialisation for read-only arrays, and LLVM may vectorise the two
    differently; read-only memory maps would then get results that differ in
    the last bits from the same data in memory, and pay a second compilation.
    With every array read-only, all layouts share one kernel per dtype.
    """
    view = read_only(X)
    cost = X.shape[1] if cost_per_row is None else cost_per_row
    blas = single_threaded_blas(kernel_blas=True) if X.shape[1] >= BLAS_MIN_FEATURES else _NO_OP
    small = X.shape[0] * cost < SERIAL_WORK
    if small and serial is not None:  # on the calling thread, forked or not (no os.getpid)
        with blas:
            return serial(view, *args)
    forked = _forked_from_gnu_openmp()
    if forked and serial is None:
        serial = _serial_compilation(kernel)
    if forked:
        with blas:
            return serial(view, *args)
    threads = numba.get_num_threads()
    team = threads
    if small:
        team = 1
    elif threads > 1:
        free = free_cores()
        if free is not None:
            team = min(threads, free)
    if team == threads:
        with parallel_section(), blas:
            result = kernel(view, *args)
    else:
        numba.set_num_threads(team)
        try:
            with parallel_section(), blas:
                result = kernel(view, *args)
        finally:
            numba.set_num_threads(threads)
    _record_parallel_parent()
    return result
