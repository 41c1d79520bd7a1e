"""Progress on long work: kernel compilation and model selection."""

import io
import os
import re
import subprocess
import sys

import numba
import numpy as np
import pytest
from numba.core.event import register, unregister

import fastem
from fastem import _progress


def _function_in(module):
    def total(x):
        s = 0.0
        for i in range(x.shape[0]):
            s += x[i] * x[i]
        return s

    total.__module__ = module
    return numba.njit(cache=False)(total)


@pytest.fixture
def notice(monkeypatch):
    monkeypatch.setattr(_progress, "_ANNOUNCE_AFTER", 0.0)
    monkeypatch.setattr(_progress, "_BURST_GAP", 0.0)
    stream = io.StringIO()
    listener = _progress.CompileNotice(stream)
    register("numba:compile", listener)
    yield listener, stream
    unregister("numba:compile", listener)


def test_compilation_of_fastem_functions_is_announced_with_its_duration(notice, capsys):
    listener, stream = notice
    _function_in("fastem.probe")(np.ones(3))
    if listener.done_timer is not None:
        listener.done_timer.join()
    lines = stream.getvalue().splitlines()
    # not "first run only": a later run's first fit of another family or dtype compiles too
    assert lines[0].startswith("fastem: compiling the kernels (once for each family")
    assert lines[1].startswith("fastem: compiled the kernels in ") and lines[1].endswith(" s")
    assert len(lines) == 2
    capsys.readouterr()  # the process-wide notice wrote the same to stderr


def _script_compiling_a_fastem_function(tmp_path, notice, burst_gap=None):
    """A script that compiles one function of a fastem module, its notice announced at once
    (and its end after ``burst_gap`` seconds without compilation), run with
    ``FASTEM_COMPILE_NOTICE=notice``: the finished process, which printed the sum."""
    script = tmp_path / "short.py"
    gap = "" if burst_gap is None else f"_progress._BURST_GAP = {burst_gap}\n"
    script.write_text(
        "import numba, numpy as np\n"
        "from fastem import _progress\n"
        "_progress._ANNOUNCE_AFTER = 0.0\n" + gap +
        "def total(x):\n"
        "    return x.sum()\n"
        "total.__module__ = 'fastem.probe'\n"
        "print(numba.njit(total)(np.ones(3)))\n"
    )
    env = dict(os.environ, PYTHONPATH=os.getcwd(), FASTEM_COMPILE_NOTICE=notice)
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stdout == "3.0\n", done.stderr
    return done


def test_compile_notice_is_complete_when_the_script_ends_right_after(tmp_path):
    # The "compiled" line waits for a gap without compilation (here longer than
    # the script lives); at interpreter exit it is printed at once.
    done = _script_compiling_a_fastem_function(tmp_path, "1", burst_gap=600.0)
    lines = done.stderr.splitlines()
    assert len(lines) == 2, done.stderr
    assert lines[0].startswith("fastem: compiling the kernels")
    assert lines[1].startswith("fastem: compiled the kernels in ")


def test_the_usual_spellings_of_off_turn_the_notice_off(tmp_path):
    # only exactly "0" did
    assert _script_compiling_a_fastem_function(tmp_path, " Off").stderr == ""


def test_a_burst_that_goes_on_as_its_end_is_printed_is_announced_once():
    # The timer of a burst's end, woken as the next compilation started (too late for its
    # cancel), printed the end, forgot the burst's start, and the burst's next end raised
    # a TypeError (None subtracted) in Numba's compilation, after a second announcement.
    stream = io.StringIO()
    listener = _progress.CompileNotice(stream)
    listener.on_start(_progress._WAIT)
    listener._announce()
    listener.on_end(_progress._WAIT)
    listener.on_start(_progress._WAIT)  # the next compilation ...
    listener._done()  # ... as the timer of the first one's end calls this
    listener._announce()
    listener.on_end(_progress._WAIT)
    listener.flush()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert lines[0].startswith("fastem: compiling the kernels")
    assert lines[1].startswith("fastem: compiled the kernels in ")


def test_other_compilations_are_not_announced(notice):
    listener, stream = notice
    _function_in("user_module")(np.ones(3))
    assert stream.getvalue() == ""


def test_no_notice_when_the_kernels_load_from_cache(tmp_path):
    # The first run fills the cache (and may announce); the second must be silent.
    # Two clusters for two components: the fit converges and warns nothing.
    code = ("import numpy as np, fastem; "
            "X = np.random.default_rng(0).normal(size=(300, 2)) + np.repeat([[0, 0], [8, 8]], 150, 0); "
            "fastem.GaussianMixture(2, random_state=0).fit(X)")
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True,
                   timeout=900)
    again = subprocess.run([sys.executable, "-W", "error", "-c", code], env=env,
                           capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and again.stderr == ""


def test_select_n_components_reports_every_cell_and_restart():
    X = np.random.default_rng(0).normal(size=(300, 2))
    events = []
    result = fastem.select_n_components(X, n_components=[1, 2], covariance_types=("diag", "full"),
                                        n_init=2, random_state=0, progress=events.append)
    cells = {(e["cell"], e["covariance_type"], e["n_components"]) for e in events}
    assert cells == {(1, "diag", 1), (2, "diag", 2), (3, "full", 1), (4, "full", 2)}
    assert {e["init"] for e in events} == {1, 2} and {e["n_cells"] for e in events} == {4}
    assert all(1 <= e["n_iter"] <= e["max_iter"] for e in events)
    assert result.best_model_.callback is None  # the progress hook does not stay on the model


def test_select_progress_true_draws_a_line(capsys):
    X = np.random.default_rng(0).normal(size=(200, 2))
    fastem.select_n_components(X, n_components=[1, 2], covariance_types="full", random_state=0,
                               progress=True)
    err = capsys.readouterr().err
    assert "select 2/2 [" in err and "full K=2  init 1/1  iter" in err


def test_select_keeps_a_user_callback():
    calls = []
    X = np.random.default_rng(0).normal(size=(200, 2))
    fastem.select_n_components(X, n_components=[1], covariance_types="full", random_state=0,
                               progress=lambda event: None,
                               callback=lambda model, n_iter, lb: calls.append(n_iter))
    assert calls and calls[0] == 1


def test_bad_progress_argument():
    with pytest.raises(TypeError, match="progress must be None, a bool or a callable"):
        fastem.select_n_components(np.ones((10, 1)), [1], progress="yes")


def test_select_progress_off_a_terminal_is_thinned(monkeypatch):
    """Off a terminal each fit shows its first and last iteration, and one line per interval."""
    stream = io.StringIO()
    clock = iter(np.arange(0.0, 1000.0, 0.25))  # each update a quarter of a second later
    monkeypatch.setattr(_progress.time, "perf_counter", lambda: next(clock))
    progress = _progress.SelectionProgress(stream, live=False, interval=1.0)
    for cell in (1, 2):
        for n_iter in range(1, 9):
            progress({"cell": cell, "n_cells": 2, "covariance_type": "full", "n_components": cell,
                      "init": 1, "n_init": 1, "n_iter": n_iter, "max_iter": 100,
                      "lower_bound": -1.0})
    progress.finish()
    iters = [(int(re.search(r"K=(\d)", line)[1]), int(re.search(r"iter (\d+)/", line)[1]))
             for line in stream.getvalue().splitlines()]
    assert iters == [(1, 1), (1, 5), (1, 8), (2, 1), (2, 5), (2, 8)]


_VERBOSE_FITS = {
    "gaussian": lambda **kw: (fastem.GaussianMixture(3, **kw), 0),
    "exponential": lambda **kw: (fastem.ExponentialMixture(3, **kw), 1),
    "poisson": lambda **kw: (fastem.PoissonMixture(3, **kw), 2),
    "bayesian": lambda **kw: (fastem.BayesianGaussianMixture(3, **kw), 0),
}


@pytest.mark.parametrize("interval", [4, 5, 10])
@pytest.mark.parametrize("family", list(_VERBOSE_FITS))
def test_verbose_prints_a_pass_in_every_interval(family, interval, capsys):
    """``verbose`` prints, in each run, the first accepted pass at or past every multiple
    of ``verbose_interval``. Before, it printed the passes that were multiples: an
    accelerated step counts three passes, so most intervals printed nothing."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (300, 2)), rng.normal(2, 1, (300, 2))])
    data = (X, np.abs(X) + 0.1, np.round(3 * np.abs(X)))
    passes = []
    model, which = _VERBOSE_FITS[family](
        random_state=0, verbose=1, verbose_interval=interval,
        callback=lambda model, n_iter, lower_bound: passes.append(n_iter),
    )
    model.fit(data[which])
    printed = [int(n) for n in re.findall(r"^  Iteration (\d+)$", capsys.readouterr().out, re.M)]
    # the runs of one fit (a Bayesian fit's moves): each numbers its passes on
    runs = np.split(passes, np.flatnonzero(np.diff(passes) <= 0) + 1)
    expected = []
    for run in runs:
        multiples = range(interval * -(-int(run[0]) // interval), int(run[-1]) + 1, interval)
        expected += sorted({int(run[run >= m][0]) for m in multiples})
    assert max(np.diff(passes)) > 1, "no accelerated step: the test would test nothing"
    assert printed == expected


def test_the_notice_is_muted_inside_compile_notice_muted(notice, monkeypatch):
    listener, stream = notice
    monkeypatch.setattr(_progress, "_NOTICE", listener)
    with _progress.compile_notice_muted():
        _function_in("fastem.probe")(np.ones(3))
    with _progress.compile_notice_muted(False):
        _function_in("fastem.probe")(np.ones(3))
    if listener.done_timer is not None:
        listener.done_timer.join()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[0].startswith("fastem: compiling the kernels"), lines


def test_the_command_line_s_quiet_mutes_the_compile_notice(tmp_path):
    """--quiet is "no notes on stderr": a first run that compiled the kernels still said
    so ("fastem: compiled the kernels in 13.5 s")."""
    data = tmp_path / "data.csv"
    np.savetxt(data, np.random.default_rng(0).normal(size=(200, 2)) + np.repeat([[0, 0], [8, 8]],
                                                                              100, 0),
               delimiter=",", header="a,b", comments="")
    env = dict(os.environ, PYTHONPATH=os.getcwd(), FASTEM_COMPILE_NOTICE="1",
               NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run([sys.executable, "-m", "fastem", "fit", str(data), "-k", "2", "-q",
                           "-o", str(tmp_path / "m.npz")], env=env, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0 and done.stderr == "", done.stderr
