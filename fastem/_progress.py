"""Progress of long work on stderr: kernel compilation, EM iterations, model selection.

One look for all of it, after tqdm's (which fastem does not import: it
would be a dependency for one line of text): on a terminal one line is
rewritten in place; elsewhere (a log file, a CI job) each update is a line.
"""

import atexit
import contextlib
import sys
import threading
import time
import types

import numpy as np
from numba.core.event import Listener, register

from ._environ import switched_on

__all__ = [
    "CompileNotice", "ProgressLine", "SelectionProgress", "flush_compile_notice", "kernels_not_kept",
]


def _clock(seconds):
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes:02d}:{seconds:02d}"


class ProgressLine:
    """A status line on ``stream`` (default stderr), rewritten in place on a terminal."""

    def __init__(self, stream=None, live=None):
        self.stream = sys.stderr if stream is None else stream
        self.live = self.stream.isatty() if live is None else live
        self.wrote = False

    def show(self, text):
        self.stream.write("\r\033[K" + text if self.live else text + "\n")
        self.stream.flush()
        self.wrote = True

    def finish(self):
        """End the line in place, so that the next output starts on a fresh one."""
        if self.live and self.wrote:
            self.stream.write("\n")
            self.stream.flush()
        self.wrote = False


class SelectionProgress:
    """Progress of :func:`fastem.select_n_components`, one update per EM iteration.

    Called as ``progress(event)`` with ``event`` a dict: ``cell`` and
    ``n_cells`` (1-based position in the grid), ``covariance_type``,
    ``n_components``, ``init`` and ``n_init`` (1-based restart), ``n_iter``,
    ``max_iter`` and ``lower_bound``. Shows a tqdm-style line::

        select  7/40 [00:12<00:56]  full K=3  init 1/1  iter 14/100  log-lik -4.1552

    Off a terminal (a log file, a CI job), where every update is a line of its
    own, a fit's iterations are thinned to one line per ``interval`` seconds:
    the first and the last iteration of every fit are always shown.
    """

    def __init__(self, stream=None, live=None, interval=1.0):
        self.line = ProgressLine(stream, live)
        self.interval = 0.0 if self.line.live else interval
        self.start = time.perf_counter()
        self.shown_at = -np.inf
        self.fit = None  # (cell, init) of the last update
        self.pending = None  # the last update's text, if it was not shown

    def __call__(self, event):
        now = time.perf_counter()
        elapsed = now - self.start
        done = event["cell"] - 1
        left = elapsed / done * (event["n_cells"] - done) if done else None
        width = len(str(event["n_cells"]))
        text = (
            f"select {event['cell']:>{width}}/{event['n_cells']} [{_clock(elapsed)}<"
            f"{'?' if left is None else _clock(left)}]  {event['covariance_type']} "
            f"K={event['n_components']}  init {event['init']}/{event['n_init']}  "
            f"iter {event['n_iter']}/{event['max_iter']}  log-lik {event['lower_bound']:.6g}"
        )
        fit = (event["cell"], event["init"])
        if fit != self.fit:
            self._flush()  # the previous fit's last iteration
            self.fit = fit
        elif now - self.shown_at < self.interval:
            self.pending = text
            return
        self.line.show(text)
        self.shown_at = now
        self.pending = None

    def _flush(self):
        if self.pending is not None:
            self.line.show(self.pending)
            self.pending = None

    def finish(self):
        self._flush()
        self.line.finish()


# ----------------------------------------------------------------------
# the one-time compilation of the kernels

# Seconds a compilation may take before it is announced: short ones (a
# small helper) stay silent, the kernels' tens of seconds do not.
_ANNOUNCE_AFTER = 1.0


# Seconds without a compilation after which a burst of them is reported done.
_BURST_GAP = 0.5


class CompileNotice(Listener):
    """Announces on stderr, once, the compilation of fastem's kernels, and its duration.

    Listens to Numba's "numba:compile" events, which fire only when a
    function is compiled, never when it is loaded from Numba's disk cache
    (``cache=True``). When a compilation of a fastem function has run for a
    second, one line says that the kernels are being compiled. The kernels
    compile one after the other as a first fit reaches them; when no other
    compilation has started for half a second after one ends, a second line
    gives the time from the first start to the last end. Compilations are
    serialised by Numba's compiler lock; nested ones (a kernel compiling the
    functions it calls) count as one. Where the kernels are not kept on disk
    (:func:`kernels_not_kept`: a failed save, no writable cache directory),
    the first line printed after it says so, why, and the fix; later
    announcements say only that they are not kept.
    """

    def __init__(self, stream=None):
        self.stream = stream
        self.depth = 0
        self.first_start = None
        self.announce_timer = None
        self.done_timer = None
        self.announced = False
        self.pending = None  # seconds of a finished burst whose line is not printed yet
        self.muted = False  # no notice of a burst that starts meanwhile (compile_notice_muted)
        self.unkept = None  # why the kernels are not kept on disk, with the fix (kernels_not_kept)
        self.told = False  # whether a line said why
        self.lock = threading.Lock()

    def _print(self, text):
        print(text, file=sys.stderr if self.stream is None else self.stream, flush=True)

    def _announce(self):
        with self.lock:
            if self.announced or self.muted:  # muted: nor the line of its end
                return
            self.announced = True
            if self.unkept is None:
                kept = ("once for each family, covariance type and dtype; they are cached on disk "
                        "for later runs")
            elif self.told:
                kept = "not kept on disk for later runs"
            else:
                kept, self.told = f"they cannot be kept on disk for later runs: {self.unkept}", True
        self._print(f"fastem: compiling the kernels ({kept})...")

    def _done(self):
        with self.lock:
            # depth: the burst went on as the timer woke (too late for on_start's cancel)
            if not self.announced or self.pending is None or self.depth > 0:
                return
            seconds, self.pending = self.pending, None
            self.announced = False
            self.first_start = None
            unsaved = ""
            if self.unkept is not None and not self.told:
                unsaved = f"; they could not be saved on disk for later runs: {self.unkept}"
                self.told = True
        self._print(f"fastem: compiled the kernels in {seconds:.1f} s{unsaved}")

    def not_kept(self, why):
        """Say, in the next line, that the kernels are not kept on disk for later runs, ``why``
        (the reason and the fix, a str); the first reason only."""
        with self.lock:
            if self.unkept is None:
                self.unkept = why

    def flush(self):
        """Print the line of a finished burst now, without waiting for the gap.

        Registered with :mod:`atexit`, so that a script that ends right after
        its first fit still says how long the compilation took, and does not
        wait for the timer to say it.
        """
        if self.done_timer is not None:
            self.done_timer.cancel()
        if self.depth == 0:
            self._done()

    def on_start(self, event):
        dispatcher = event.data["dispatcher"]
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
        if self.depth == 0 and not module.startswith("fastem."):
            return
        self.depth += 1
        if self.depth > 1:
            return
        if self.done_timer is not None:
            self.done_timer.cancel()  # the burst goes on
        if self.first_start is None:
            self.first_start = time.perf_counter()
        self.announce_timer = threading.Timer(_ANNOUNCE_AFTER, self._announce)
        self.announce_timer.daemon = True
        self.announce_timer.start()

    def on_end(self, event):
        if self.depth == 0:
            return
        self.depth -= 1
        if self.depth > 0:
            return
        self.announce_timer.cancel()
        if self.announced:
            self.pending = time.perf_counter() - self.first_start
            self.done_timer = threading.Timer(_BURST_GAP, self._done)
            self.done_timer.daemon = True  # at exit, flush() prints the line instead
            self.done_timer.start()
        else:
            self.first_start = None


# FASTEM_COMPILE_NOTICE=0 (or false, no, off) turns the notice off, e.g. for test suites that
# check stderr.
_NOTICE = None
if switched_on("FASTEM_COMPILE_NOTICE"):
    _NOTICE = CompileNotice()
    register("numba:compile", _NOTICE)
    atexit.register(_NOTICE.flush)


@contextlib.contextmanager
def compile_notice_muted(muted=True):
    """No notice of the kernels' compilation while inside, with ``muted`` (the command
    line's --quiet: nothing on stderr but errors and warnings)."""
    if _NOTICE is None or not muted:
        yield
        return
    before, _NOTICE.muted = _NOTICE.muted, True
    try:
        yield
    finally:
        _NOTICE.muted = before


@contextlib.contextmanager
def compiling_elsewhere():
    """A wait for kernels that another process compiles (:mod:`fastem._compile_ahead`),
    announced and timed as a compilation of this process's own."""
    if _NOTICE is None:
        yield
        return
    _NOTICE.on_start(_WAIT)
    try:
        yield
    finally:
        _NOTICE.on_end(_WAIT)


# The event compiling_elsewhere gives the notice: the compilation of a fastem function.
_WAIT = types.SimpleNamespace(data={"dispatcher": types.SimpleNamespace(py_func=compiling_elsewhere)})


def kernels_not_kept(why):
    """Tell the compile notice that the kernels are not kept on disk for later runs, ``why``
    (:meth:`CompileNotice.not_kept`; from :mod:`fastem.kernels._cache`)."""
    if _NOTICE is not None:
        _NOTICE.not_kept(why)


def flush_compile_notice():
    """Print now the line of a finished compilation (:meth:`CompileNotice.flush`), if any."""
    if _NOTICE is not None:
        _NOTICE.flush()
