"""Compile ahead: part of a first fit's E-step compiled by a second process while this one starts.

A fit on a cold cache compiles its kernels one after the other as it reaches
them: Numba compiles under one lock per process, and its compiler is Python
code that holds the GIL, so threads cannot share the work. Where a core is
idle, :func:`start` hands the two largest compilations of a first fit's
E-step that do not wait for its start, the partition
(``fastem.kernels._fused._partition_pass``) and the family's log-density
block, to a second Python process, which compiles them into the disk cache
while this process compiles and runs the start (the hierarchical tree, the
k-means++ seeding) and its own part of the E-step. Where this process
reaches one of the two, it waits for the other process to finish it and
loads it from the cache (``COMPILING_ELSEWHERE`` in
:mod:`fastem.kernels._fused`).

The types the two are compiled for depend only on the kernel params' class,
the data's dtype and its number of features, all known before the start:
:func:`first_pass_arguments` builds arguments of those types from the shapes
the family registered, and ``kernel_signatures`` gives the same signatures
as for a pass over real data (``tests/test_compile_ahead.py``). The code is
the same: the same compiler, settings and cache directory, whose name follows
Numba's settings and the vector width (``fastem.kernels._cache``), so the
fits are bitwise those of a process that compiles everything itself.

The second process starts only where it can help: the family's kernels are
cached on disk, this process's are kept there (none of its saves has
failed, and its cache is no temporary directory of its own:
``fastem.kernels._cache.unkept``), their cache directory has ``ROOM``
bytes free, neither of the two is compiled in this process or cached
yet, a core is free of other processes' work
(``fastem._threading.free_cores``), Python can be started again
(``sys.executable`` is a Python interpreter, not a frozen application or a
program that embeds Python), and ``FASTEM_COMPILE_AHEAD`` is not off
(``0``, ``false``, ``no``, ``off``: :func:`fastem._environ.switched_on`). If
it fails, ends without a kernel or has not done one ``TIMEOUT`` seconds
after it started, or fails to save one (it then ends at once), this
process compiles the kernel itself. A child forked
meanwhile waits for none of them. The second process ends with this one:
this process holds its stdin open while it runs, and it exits at the end
of its stdin (this process killed or ended; its forked children close
their copy). Measurements: docs/performance.md ("Busy machines and the
first run").
"""

import contextlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time

import numpy as np
from numba.core import config

from ._environ import switched_on
from ._progress import compiling_elsewhere
from ._threading import free_cores, read_only, read_only_fields, usable_cpus
from .kernels import _cache
from .kernels._fused import (
    COMPILING_ELSEWHERE,
    FusedEStep,
    e_step_outputs,
    fused_scratch,
    kernel_signatures,
    registered_families,
    registered_shapes,
)

__all__ = ["first_pass_arguments", "start"]

ENV = "FASTEM_COMPILE_AHEAD"
# Seconds after the second process's start when this one stops waiting for its kernels and
# compiles those not done itself: far above the 3-4 s the two take on a quiet 2-core
# machine, and the 50 s of a loaded one.
TIMEOUT = 300.0
# The directory that holds the fastem package, first on the second process's path.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Bytes free in the cache directory below which no second process starts, its saves likely to
# fail: several times the 1.3 MB of a cold first fit's whole cache (a full Gaussian mixture of
# 2 features; its partition and log-density block take 0.32 MB).
ROOM = 8 * 2**20
# Which of kernel_signatures' three the second process compiles, in this order: the
# log-density block first, as this process needs it first.
_AHEAD = (0, 2)
_lock = threading.Lock()
# (params class, dtype, n_features) of the first fits this process has looked at: later
# fits of the same kind find their kernels compiled or compiling (or the machine was busy
# at the first), and cost one lookup.
_seen = set()
# The stdin pipes of the second processes this process follows (_follow).
_lifelines = set()


def first_pass_arguments(params_class, dtype, n_features):
    """Arguments of the types that a fit's passes give the fused E-step skeleton.

    ``X`` one row of ``n_features`` zeros (the family's blocks depend on the
    number), the other arrays of size 1 in each dimension (their types do
    not depend on their sizes: a 'full' model of 5,000 features would
    otherwise allocate its precision factors here), with the numbers of
    dimensions the family registered for ``params_class``
    (``register_family_kernels``' ``shapes``), in ``dtype``, read-only, as
    :class:`fastem.base.RunEStep` and :func:`fastem.base.launch_e_step` pass
    them. Returns the tuple of ``FusedEStep._arguments``, or None where the
    family declared no shape for some field of its params (their types are
    then unknown before the first pass).
    """
    shapes = registered_shapes(params_class)
    if shapes is None or set(shapes) != set(params_class._fields):
        return None
    dtype = np.dtype(dtype)
    params = params_class(*(
        np.zeros((1,) * len(shapes[name]), dtype=dtype) for name in params_class._fields
    ))
    return FusedEStep._arguments(
        read_only(np.zeros((1, n_features), dtype=dtype)), read_only(np.empty(0)),
        read_only(np.zeros(1, dtype=dtype)), read_only_fields(params), 0, 1, 0, True,
        *e_step_outputs(1, dtype).values(), fused_scratch(1, 1, 1, 0, dtype),
    )


def _ahead(spec):
    """The ``(dispatcher, signature)`` pairs of ``spec`` that the second process compiles."""
    params_class = _class(spec["params_class"])
    cached = registered_families().get(params_class)
    args = first_pass_arguments(params_class, spec["dtype"], spec["n_features"])
    if not cached or args is None:
        return []
    signatures = kernel_signatures(True, args)
    return [signatures[i] for i in _AHEAD]


def _class(name):
    """The class named ``module:qualname``, also one nested in another class."""
    module, _, qualname = name.partition(":")
    __import__(module)
    found = sys.modules[module]
    for attribute in qualname.split("."):
        found = getattr(found, attribute)
    return found


def _present(dispatcher, signature):
    """Whether ``dispatcher`` has ``signature`` in memory or in its disk cache (True if unknown)."""
    if signature in dispatcher.overloads:
        return True
    try:
        cache = dispatcher._cache
        key = cache._index_key(signature, dispatcher.targetctx.codegen())
        return key in cache._cache_file._load_index()
    except Exception:  # noqa: BLE001 - an index Numba cannot read: do not compile ahead
        return True


def _kept(dispatcher):
    """Whether the second process could keep what it compiles where this process loads it:
    this process's kernels are kept on disk and ``dispatcher``'s cache directory has ``ROOM``
    bytes free."""
    if _cache.unkept:
        return False
    try:
        return shutil.disk_usage(dispatcher._cache._cache_path).free >= ROOM
    except OSError:
        return False


def _may_start():
    # a program that embeds Python (a frozen application, a web server) is no interpreter
    interpreter = os.path.basename(sys.executable or "").lower().startswith("python")
    if not switched_on(ENV) or getattr(sys, "frozen", False) or not interpreter:
        return False
    free = free_cores()
    return (usable_cpus() if free is None else free) >= 2


def start(params_class, dtype, n_features):
    """Compile the partition and log-density block of a first pass in a second process.

    For fits whose E-step runs on kernel params of ``params_class`` (a
    registered family's NamedTuple class), over data of ``dtype`` with
    ``n_features`` columns. Returns at once,
    True if a second process was started; this process's first pass then
    waits for its kernels (see the module's docstring). Never raises for
    want of a second process.
    """
    kind = (params_class, np.dtype(dtype), n_features)
    if kind in _seen:
        return False
    spec = {
        "params_class": f"{params_class.__module__}:{params_class.__qualname__}",
        "dtype": np.dtype(dtype).name, "n_features": int(n_features),
    }
    with _lock:
        if kind in _seen:
            return False
        _seen.add(kind)
        if not _may_start():
            return False
        pairs = _ahead(spec)
        if not pairs or any(pair in COMPILING_ELSEWHERE or _present(*pair) for pair in pairs):
            return False
        if not _kept(pairs[0][0]):
            return False
        # the cache directory of this process's Numba, also where set in code
        cache_dir = {"NUMBA_CACHE_DIR": config.CACHE_DIR} if config.CACHE_DIR else {}
        env = dict(os.environ, **cache_dir, **{ENV: "0", "FASTEM_COMPILE_NOTICE": "0"})
        try:
            process = subprocess.Popen(
                _command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL, env=env, text=True,
            )
        except OSError:
            return False
        done = [threading.Event() for _ in pairs]
        deadline = time.monotonic() + TIMEOUT
        for pair, event in zip(pairs, done):
            COMPILING_ELSEWHERE[pair] = _waiter(event, deadline)
        threading.Thread(
            target=_follow, args=(process, json.dumps(spec), done), daemon=True,
            name="fastem-compile-ahead",
        ).start()
    return True


def _command():
    """The second process's command line: Python with fastem's root first on its path, and
    without the current directory, which ``-c`` puts there (a ``json.py`` or ``numpy.py``
    there ran in its imports)."""
    code = (
        f"import sys; sys.path[:] = [{_ROOT!r}] + [p for p in sys.path if p]; "
        "from fastem._compile_ahead import _compile; _compile()"
    )
    return [sys.executable, "-c", code]


def _state_of_a_forked_child():
    """A forked child has a free lock, and waits for no kernel of the parent's second
    process: the parent's thread that follows that process, and would have told it when
    each is done, does not exist in the child. It closes its copy of the second process's
    stdin, whose end ends that process (held open by the child, it outlived the parent)."""
    global _lock
    _lock = threading.Lock()
    COMPILING_ELSEWHERE.clear()
    for pipe in list(_lifelines):
        with contextlib.suppress(OSError, ValueError):
            pipe.close()
    _lifelines.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_state_of_a_forked_child)


def _waiter(event, deadline):
    def wait():
        with compiling_elsewhere():
            event.wait(max(0.0, deadline - time.monotonic()))

    return wait


def _follow(process, spec, done):
    """Send ``spec`` to the second process and set ``done[i]`` as it reports kernel i compiled
    (or all of them when it ends); close its pipes and wait for its end. Its stdin stays open
    until then: its end, at the end of this process, ends the second process."""
    _lifelines.add(process.stdin)
    try:
        process.stdin.write(spec + "\n")
        process.stdin.flush()
        for line in process.stdout:
            if line.strip().isdigit():  # not what Numba's debugging options or a site module print
                done[int(line)].set()
    except (OSError, ValueError, IndexError):
        pass
    finally:
        for event in done:
            event.set()
        _lifelines.discard(process.stdin)
        for pipe in (process.stdin, process.stdout):
            with contextlib.suppress(OSError):  # a pipe the process closed first
                pipe.close()
        process.wait()


def _compile():
    """The second process: compile the kernels of the spec on stdin, printing each one's index;
    exit at the end of stdin, the first process's end."""
    spec = json.loads(sys.stdin.readline())
    threading.Thread(target=_exit_at_the_end_of_stdin, daemon=True).start()
    pairs = _ahead(spec)
    for i, (dispatcher, signature) in enumerate(pairs):
        dispatcher.compile(signature)
        if _cache.unkept:  # not saved: its end ends the first process's wait at once
            return
        print(i, flush=True)


def _exit_at_the_end_of_stdin():
    """End the second process when its stdin ends: the first process has ended (killed, or
    done with it), and nothing would load what it compiles."""
    sys.stdin.read()
    os._exit(0)
