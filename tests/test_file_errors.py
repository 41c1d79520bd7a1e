"""Data files that are empty, lie, are special or change under a fit give one clear error.

Also the command line's own error paths: each bad invocation gives exactly one
line on stderr, naming the input, and a non-zero exit status, with no Python
traceback and no raw warning.
"""

import io
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest

import fastem
import fastem._sigbus
from fastem.cli import main
from fastem.datasets import make_demo_data


@pytest.fixture(scope="module")
def X():
    return make_demo_data(400, random_state=2)[0]


def test_zero_row_parts_are_accepted_like_empty_dask_blocks(tmp_path, X):
    np.save(tmp_path / "a.npy", X[:150])
    np.save(tmp_path / "empty.npy", np.empty((0, 2)))
    np.save(tmp_path / "b.npy", X[150:])
    data = fastem.Chunks([tmp_path / "a.npy", tmp_path / "empty.npy", tmp_path / "b.npy"])
    chunked = fastem.GaussianMixture(3, random_state=0).fit(data)
    memory = fastem.GaussianMixture(3, random_state=0).fit(X)
    np.testing.assert_allclose(chunked.means_, memory.means_, rtol=1e-10)
    labels = chunked.predict(data)
    assert [len(part) for part in labels] == [150, 0, 250]
    np.testing.assert_array_equal(np.concatenate(labels), memory.predict(X))
    with pytest.raises(ValueError, match="all 2 chunk\\(s\\) are empty"):
        fastem.GaussianMixture(1).fit(fastem.Chunks([np.empty((0, 2)), np.empty((0, 2))]))


def _bad_npy(tmp_path, kind):
    path = tmp_path / f"{kind.replace(' ', '_')}.npy"
    if kind == "zero bytes":
        path.write_bytes(b"")
    elif kind == "lying header":
        np.save(path, np.ones((100, 2)))
        path.write_bytes(path.read_bytes()[:-80])  # the header still promises 100 rows
    elif kind == "garbage":
        path.write_bytes(b"\x93NUMPY\x01\x00garbage")
    elif kind == "FIFO":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    return path


BAD_FILES = [("zero bytes", "empty \\(0 bytes\\)"), ("lying header", "truncated or its header"),
             ("garbage", "not a readable .npy"), ("FIFO", "FIFO"), ("directory", "directory")]


@pytest.mark.parametrize("kind, match", BAD_FILES)
def test_bad_part_files_name_the_file(tmp_path, X, kind, match):
    good = tmp_path / "good.npy"
    np.save(good, X)
    bad = _bad_npy(tmp_path, kind)
    with pytest.raises(ValueError, match=match) as info:
        fastem.GaussianMixture(2).fit(fastem.Chunks([good, bad]))
    assert str(bad) in str(info.value)


# .npy headers that NumPy's parser fails on with another error than ValueError: its filter
# of old headers with tokenize.TokenError, its sorting of the keys with TypeError
HEADER_DAMAGE = {"npy, unclosed bracket": (b"), }", b" , }"),
                 "npy, key not a string": (b", 'shape'", b",b'shape'")}


def _other_format(path, kind, X):
    """``path`` holding X in another format than its extension says."""
    import gzip

    text = "a,b\n" + "".join(f"{a!r},{b!r}\n" for a, b in X.tolist())
    if kind == "csv text":
        path.write_text(text)
    elif kind == "tab text":
        path.write_text(text.replace(",", "\t"))
    elif kind in ("utf-16 text", "utf-32 text"):  # a spreadsheet's "Unicode text"
        path.write_bytes(text.encode(kind.split()[0]))
    elif kind == "unmarked utf-16 text":
        path.write_bytes(text.encode("utf-16-le"))
    elif kind == "windows-1252 text":
        path.write_bytes(text.replace("a,", "caf\u00e9,", 1).encode("cp1252"))
    elif kind == "zeros":  # space reserved for a file never written
        path.write_bytes(bytes(1000))
    elif kind == "npy, bad header":  # NumPy's magic, then text: a .npy broken by hand
        path.write_bytes(b"\x93NUMPY garbage, not a header\n")
    elif kind in HEADER_DAMAGE:
        buffer = io.BytesIO()
        np.save(buffer, X)
        path.write_bytes(buffer.getvalue().replace(*HEADER_DAMAGE[kind], 1))
    elif kind == "npy, cut header":  # a copy stopped in the header
        buffer = io.BytesIO()
        np.save(buffer, X)
        path.write_bytes(buffer.getvalue()[:40])
    elif kind == "gzip":
        path.write_bytes(gzip.compress(text.encode()))
    elif kind == "npz":
        with open(path, "wb") as f:
            np.savez(f, X=X)
    else:
        pa = pytest.importorskip("pyarrow")
        import pyarrow.parquet as pq

        pq.write_table(pa.table({"a": X[:, 0], "b": X[:, 1]}), path)
    return path


OTHER_FORMATS = [("csv text", "holds text, not a .npy file; .* files named .csv or .parquet"),
                 ("tab text", "holds text, not a .npy file; .* files named .csv or .parquet"),
                 *[(kind, "holds text, not a .npy file; .* files named .csv or .parquet")
                   for kind in ("utf-16 text", "utf-32 text", "unmarked utf-16 text",
                                "windows-1252 text")],
                 ("zeros", r"is not a readable .npy file \(the magic string"),
                 ("npy, bad header", r"is not a readable .npy file \("),
                 ("npy, cut header", r"is not a readable .npy file \("),
                 *[(kind, r"is not a readable .npy file \(Cannot parse header")
                   for kind in HEADER_DAMAGE],
                 ("gzip", "is a gzip-compressed file, not a .npy file; decompress it"),
                 ("npz", r"is a zip \(or .xlsx/.npz\) file, not a .npy file; .*np.load\(path\)"),
                 ("parquet", "is a parquet file, not a .npy file; give it the .parquet extension")]


# Chunks reads a path that is neither .csv nor .parquet as .npy; the command line reads
# .npy paths only so (it refuses other extensions by name)
@pytest.mark.parametrize("entry, name", [("chunks", "part.npy"), ("chunks", "part.txt"),
                                         ("chunks", "part.csv.gz"), ("chunks", "part.tsv"),
                                         ("fit", "part.npy"), ("predict", "part.npy")])
@pytest.mark.parametrize("kind, match", OTHER_FORMATS)
def test_a_file_read_as_npy_that_is_another_format_says_which(tmp_path, X, capsys, entry, kind,
                                                              match, name):
    path = _other_format(tmp_path / name, kind, X)
    if entry == "chunks":
        with pytest.raises(ValueError, match=match) as info:
            fastem.GaussianMixture(2).fit(fastem.Chunks([path]))
        assert str(path) in str(info.value)
        return
    model = tmp_path / "m.npz"
    fastem.GaussianMixture(2).fit(X).save(model)
    argv = (["fit", str(path), "-k", "2", "-o", str(tmp_path / "n.npz")] if entry == "fit"
            else ["predict", str(model), str(path), "-o", str(tmp_path / "l.csv")])
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err
    assert re.search(match, err), err


class _Rewriter:
    """A fit callback that changes a data file after the first iteration."""

    def __init__(self, path, how):
        self.path, self.how = path, how

    def __call__(self, model, n_iter, lower_bound):
        if n_iter == 1:
            data = np.load(self.path)
            if self.how == "truncate":
                with open(self.path, "r+b") as f:
                    f.truncate(os.path.getsize(self.path) - 16 * 50)
            elif self.how == "rewrite":
                np.save(self.path, data + 1.0)  # same size, new contents
                os.utime(self.path, ns=(1, 1))
            else:  # replace by renaming a new file over it
                np.save(str(self.path) + ".new.npy", data[::-1])
                os.replace(str(self.path) + ".new.npy", self.path)
        return False


@pytest.mark.parametrize("how", ["truncate", "rewrite", "replace"])
@pytest.mark.parametrize("source", ["memmap", "chunks", "chunks in memory", "weights"])
def test_a_file_changed_between_passes_is_an_error(tmp_path, X, how, source):
    path = tmp_path / "X.npy"
    np.save(path, X)
    if source == "memmap":
        data = np.load(path, mmap_mode="r")
    elif source == "weights":  # the weights file changes, the data file does not
        np.save(tmp_path / "data.npy", X)
        np.save(path, np.ones(len(X)))
        data = fastem.Chunks([tmp_path / "data.npy"], [path])
    else:
        data = fastem.Chunks([path], mmap_mode=None if source == "chunks in memory" else "r")
    model = fastem.GaussianMixture(2, random_state=0, tol=0, max_iter=5,
                                   callback=_Rewriter(path, how))
    with pytest.raises(ValueError, match="changed|truncated") as info:
        model.fit(data)
    assert str(path) in str(info.value)


# ----------------------------------------------------------------------
# the command line


@pytest.fixture(scope="module")
def files(tmp_path_factory, X):
    d = tmp_path_factory.mktemp("cli-errors")
    np.save(d / "data.npy", X)
    big = X.copy()
    big[7, 1] = 1e39
    np.save(d / "big.npy", big)
    for kind, _ in BAD_FILES:
        _bad_npy(d, kind)
    os.mkfifo(d / "fifo.npz")
    os.mkfifo(d / "fifo.csv")
    np.save(d / "no_rows.npy", np.empty((0, 2)))
    with_nan = X.copy()
    with_nan[3, 0] = np.nan
    np.save(d / "nan.npy", with_nan)
    (d / "corrupt.parquet").write_bytes(b"PAR1 not really parquet")
    np.save(d / "identical.npy", np.ones((50, 2)))
    (d / "named.csv").write_text("a,b\n" + "\n".join(f"{x},{y}" for x, y in X))
    (d / "header_only.csv").write_text("a,b\n")
    (d / "other_names.csv").write_bytes(b"a,\xff\n1,2\n3,4\n")
    (d / "data.txt").write_text("1,2\n")
    assert main(["fit", str(d / "named.csv"), "-k", "2", "--max-iter", "5", "--tol", "1e-1",
                 "--quiet", "-o", str(d / "named.npz")]) == 0
    assert main(["fit", str(d / "data.npy"), "-k", "2", "--max-iter", "5", "--tol", "1e-1",
                 "--quiet", "-o", str(d / "model.npz")]) == 0
    return d


BAD = [
    ("float32 overflow", ["fit", "{d}/big.npy", "-k", "2", "--dtype", "float32", "-o", "{t}/m.npz"],
     "holds 1e+39 in data row 8 (1-based, header not counted), column 2 of those read, beyond "
     "the range of float32"),
    ("k beyond the data", ["select", "{d}/data.npy", "--k", "1-10000000000"],
     "asks for up to 10000000000 components, but"),
    ("k beyond the data (list)", ["select", "{d}/data.npy", "--k", "2,401"], "has only 400"),
    ("zero-byte npy", ["fit", "{d}/zero_bytes.npy", "-k", "2", "-o", "{t}/m.npz"], "zero_bytes.npy"),
    ("lying npy header", ["predict", "{d}/model.npz", "{d}/lying_header.npy", "-o", "{t}/l.npy"],
     "lying_header.npy"),
    ("garbage npy", ["score", "{d}/model.npz", "{d}/garbage.npy"], "garbage.npy"),
    ("FIFO data", ["fit", "{d}/FIFO.npy", "-k", "2", "-o", "{t}/m.npz"], "not a regular file"),
    ("FIFO csv data", ["fit", "{d}/fifo.csv", "-k", "2", "-o", "{t}/m.npz"], "not a regular file"),
    ("directory data", ["fit", "{d}/directory.npy", "-k", "2", "-o", "{t}/m.npz"],
     "not a regular file"),
    ("FIFO model", ["info", "{d}/fifo.npz"], "FIFO"),
    ("directory model", ["info", "{d}"], "directory"),
    ("output is a directory", ["sample", "{d}/model.npz", "-n", "3", "-o", "{d}/directory.npy"],
     "directory"),
    ("fit over a data file", ["fit", "{d}/data.npy", "-k", "2", "-o", "{t}/x.npz", "--quiet"],
     "refusing to save a model over"),
    ("no data rows", ["fit", "{d}/no_rows.npy", "-k", "1", "-o", "{t}/m.npz"], "has no data rows"),
    ("NaN in npy", ["score", "{d}/model.npz", "{d}/nan.npy"], "NaN or infinite value in data row 4 (1-based"),
    ("negative tol", ["fit", "{d}/data.npy", "-k", "2", "--tol", "-1", "-o", "{t}/m.npz"],
     "must be a number >= 0"),
    ("poisson on real numbers", ["fit", "{d}/data.npy", "-k", "2", "--family", "poisson",
                                 "-o", "{t}/m.npz"], "Poisson"),
    ("exponential on negative numbers", ["fit", "{d}/data.npy", "-k", "2", "--family",
                                         "exponential", "-o", "{t}/m.npz"], "non-negative"),
    ("model given as data", ["score", "{d}/model.npz", "{d}/model.npz"], "extension '.npz'"),
    ("data given as model", ["info", "{d}/data.npy"], "not a fastem model file"),
    ("missing data for predict", ["predict", "{d}/model.npz", "{d}/none.npy", "-o", "{t}/l.npy"],
     "does not exist"),
    ("FIFO model for sample", ["sample", "{d}/fifo.npz", "-n", "2", "-o", "{t}/s.npy"], "FIFO"),
    ("corrupt parquet", ["fit", "{d}/corrupt.parquet", "-k", "2", "-o", "{t}/m.npz"],
     "corrupt.parquet"),
    ("every candidate collapses", ["select", "{d}/identical.npy", "--k", "2-3"],
     "every fit was flagged as collapsed or failed (spherical K=2"),
    ("a family the data do not fit", ["select", "{d}/data.npy", "--family", "poisson", "--k", "1-2"],
     "fastem: error: Negative values in data passed to PoissonMixture"),
    ("covariance for another family", ["select", "{d}/data.npy", "--family", "poisson",
                                       "--covariance", "full"], "--family gaussian only"),
    ("a column the file lacks", ["predict", "{d}/named.npz", "{d}/named.csv", "--columns", "nope,b",
                                 "-o", "{t}/l.npy"], "column 'nope' not found"),
    ("columns other than the model's", ["predict", "{d}/named.npz", "{d}/other_names.csv",
                                        "-o", "{t}/l.npy"], "has no column 'b'"),
    ("a header and no rows", ["fit", "{d}/header_only.csv", "-k", "2", "-o", "{t}/m.npz"],
     "no data rows"),
    ("a --columns value that is not a list", ["fit", "{d}/data.npy", "-k", "2", "--columns",
                                              "0\n1", "-o", "{t}/m.npz"],
     "is not a comma-separated list"),
    ("not a table extension", ["fit", "{d}/data.txt", "-k", "2", "-o", "{t}/m.npz"],
     "extension '.txt'"),
    ("a .npy column selected twice", ["fit", "{d}/data.npy", "-k", "2", "--columns", "0,-2",
                                      "-o", "{t}/m.npz"], "(as '0' and '-2'); select each column once"),
    ("a CSV column selected twice", ["fit", "{d}/named.csv", "-k", "2", "--columns", "b,b",
                                     "-o", "{t}/m.npz"], "(as 'b' and 'b'); select each column once"),
]


@pytest.mark.parametrize("argv, expected", [pytest.param(a, e, id=i) for i, a, e in BAD])
def test_bad_invocations_give_one_line(files, capsys, tmp_path, argv, expected):
    np.savez(tmp_path / "x.npz", a=np.ones(3))  # a data archive, not a model
    status = main([a.format(d=files, t=tmp_path) for a in argv])
    out, err = capsys.readouterr()
    assert status in (1, 2) and out == ""
    assert err.count("\n") == 1 and err.startswith("fastem: error: "), err
    assert expected in err, err
    assert not os.path.exists(tmp_path / "m.npz")


@pytest.mark.parametrize("command", ["fit", "select", "predict", "score", "impute"])
@pytest.mark.parametrize("data", ["none.npy", "index.parquet"])
def test_a_file_of_no_data_columns_is_named_as_such(files, tmp_path, capsys, data, command):
    """A .npy array of shape (n, 0), or a parquet file of a frame's row index alone, was
    said by fit and select to have 'no value in any row of the chosen columns, only
    missing values', which it does not hold, and by predict, score and impute to have
    '0 column(s)' where the model has 2, with '--columns' for a fix. It is said to have no
    data columns."""
    path = tmp_path / data
    if data.endswith(".npy"):
        np.save(path, np.empty((5, 0)))
    else:
        pd = pytest.importorskip("pandas")
        pytest.importorskip("pyarrow")
        pd.DataFrame(index=pd.Index(np.arange(5), name="id")).to_parquet(path)
    argv = {"fit": ["fit", path, "-k", "1", "-o", tmp_path / "m.npz"],
            "select": ["select", path, "--k", "1-2"],
            "predict": ["predict", f"{files}/model.npz", path, "-o", tmp_path / "o.csv"],
            "score": ["score", f"{files}/model.npz", path],
            "impute": ["impute", f"{files}/model.npz", path, "-o", tmp_path / "o.csv"]}[command]
    status = main([str(a) for a in argv])
    err = capsys.readouterr().err
    last = err.splitlines()[-1]  # below notes on the file, such as its index column
    assert status == 1 and last.startswith("fastem: error: "), err
    assert f"{str(path)!r} has no data columns" in last and "give a file with at least one " \
        "column of numbers" in last, err


@pytest.mark.parametrize("role", ["data", "model", "output", "model output"])
def test_a_name_too_long_for_a_file_is_named(files, tmp_path, capsys, role):
    """A path with a name longer than a file name can be (300 bytes): the data file was
    said not to exist ('check the path'), an output was refused with 'File name too long'
    alone, naming no path, and a model file with Python's '[Errno 36]'. Each names the
    path and the fix, in Python too."""
    long = str(tmp_path / ("x" * 300))
    argv = {"data": ["fit", long + ".csv", "-k", "1", "-o", tmp_path / "m.npz"],
            "model": ["predict", long + ".npz", f"{files}/data.npy", "-o", tmp_path / "o.csv"],
            "output": ["predict", f"{files}/model.npz", f"{files}/data.npy", "-o", long + ".csv"],
            "model output": ["fit", f"{files}/data.npy", "-k", "1", "-o", long + ".npz"]}[role]
    status = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1, err
    assert "has a name of 304 bytes, 'xxxxxxxxxxxxxxxxxxxx...', longer than a file name can " \
        "be here (255 bytes); choose a shorter name." in err and long in err, err
    model = fastem.load(f"{files}/model.npz")
    call = {"data": lambda: fastem.Chunks([long + ".npy"]),
            "model": lambda: fastem.load(long + ".npz"),
            "output": lambda: model.save(long + "/m.npz"),  # a directory's name
            "model output": lambda: model.save(long + ".npz")}[role]
    with pytest.raises(ValueError, match="has a name of 30[04] bytes"):
        call()


@pytest.mark.parametrize("argv", [BAD[0][1], BAD[1][1], BAD[6][1]])
def test_bad_invocations_in_a_real_process(files, tmp_path, argv):
    command = [sys.executable, "-m", "fastem", *[a.format(d=files, t=tmp_path) for a in argv]]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode in (1, 2)
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("fastem: error: "), done.stderr
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr


def test_select_n_components_reads_chunks_and_memory_maps_like_arrays(tmp_path, X):
    np.save(tmp_path / "a.npy", X[:123])
    np.save(tmp_path / "b.npy", X[123:])
    np.save(tmp_path / "X.npy", X)
    kwargs = dict(n_components=[1, 2, 3], covariance_types=("full", "diag"), random_state=0)
    memory = fastem.select_n_components(X, **kwargs)
    for data in (fastem.Chunks([tmp_path / "a.npy", tmp_path / "b.npy"]),
                 np.load(tmp_path / "X.npy", mmap_mode="r")):
        result = fastem.select_n_components(data, **kwargs)
        assert result.best_params_ == memory.best_params_
        np.testing.assert_allclose(result.table.as_array(), memory.table.as_array(), rtol=1e-8)
        assert result.flags == memory.flags


def test_select_n_components_reads_dask_arrays_like_arrays(X):
    da = pytest.importorskip("dask.array")
    kwargs = dict(n_components=[1, 2, 3], covariance_types=("full", "diag"), random_state=0)
    memory = fastem.select_n_components(X, **kwargs)
    result = fastem.select_n_components(da.from_array(X, chunks=(150, 2)), **kwargs)
    assert result.best_params_ == memory.best_params_
    np.testing.assert_allclose(result.table.as_array(), memory.table.as_array(), rtol=1e-8)
    assert result.flags == memory.flags


@pytest.mark.parametrize("family, regularization", [("GaussianMixture", "reg_covar"),
                                                    ("ExponentialMixture", "min_scale"),
                                                    ("PoissonMixture", "min_rate")])
def test_advice_names_a_parameter_the_family_has(monkeypatch, family, regularization):
    import re
    import types

    model = getattr(fastem, family)(1, random_state=0)
    monkeypatch.setattr(model, "_summarize",
                        lambda source: types.SimpleNamespace(mean_log_likelihood=-np.inf))
    with pytest.raises(FloatingPointError) as info:
        model.fit(np.arange(1.0, 11.0)[:, None])
    advised = re.findall(r"increase (\w+)", str(info.value))
    assert advised == [regularization]
    assert regularization in model.get_params()


needs_sigbus_guard = pytest.mark.skipif(
    not fastem._sigbus.SUPPORTED, reason="the SIGBUS guard needs Linux on x86-64 or AArch64")


def _run_script(script, *args, timeout=120):
    """Run ``script`` in a fresh interpreter (a SIGBUS there cannot end the test run)."""
    return subprocess.run([sys.executable, "-c", script, *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


_TRUNCATE_DURING_READ = """
import sys, numpy as np, fastem
from fastem import _sigbus
path, source = sys.argv[1], sys.argv[2]
X = np.load(path, mmap_mode="r") if source == "memmap" else fastem.Chunks([path])
model = fastem.GaussianMixture(2, random_state=0, max_iter=3, tol=0).fit(X)
real_enter = _sigbus.guard.__enter__
def enter_then_truncate(self):
    # the read has begun (its checks passed): another program truncates the file
    result = real_enter(self)
    with open(path, "r+b") as f:
        f.truncate(4096)
    return result
_sigbus.guard.__enter__ = enter_then_truncate
try:
    model.score_samples(X)
except ValueError as exc:
    print(exc)
    sys.exit(3)
"""


@needs_sigbus_guard
@pytest.mark.parametrize("source", ["memmap", "chunks"])
def test_a_file_truncated_during_a_read_is_an_error_not_sigbus(tmp_path, source):
    path = tmp_path / "X.npy"
    np.save(path, np.random.default_rng(0).normal(size=(200_000, 2)))
    _assert_truncation_named(_run_script(_TRUNCATE_DURING_READ, path, source, timeout=300), path)


def _assert_truncation_named(done, path):
    """The script exited with the ValueError naming the truncated ``path`` (3), not SIGBUS."""
    assert done.returncode == 3, (done.returncode, done.stderr[-2000:])
    assert "was truncated while fastem was reading it" in done.stdout
    assert str(path) in done.stdout


_TRUNCATE_UNDER_OTHER_WRAPPERS = """
import mmap, os, sys, numpy as np, fastem
path, source = sys.argv[1], sys.argv[2]
X = np.random.default_rng(0).normal(size=(200_000, 2))
weights = None
if source == "frombuffer":  # an mmap.mmap of the file, no np.memmap anywhere
    np.save(path, X)
    f = open(path, "rb")
    X = np.frombuffer(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ), dtype=np.float64,
                      offset=128).reshape(-1, 2)
elif source == "frame":  # a DataFrame whose only block is the memory map
    import pandas as pd
    np.save(path, X)
    X = pd.DataFrame(np.load(path, mmap_mode="r"), copy=False)
elif source == "weights":  # the data are in memory, the weights are mapped
    np.save(path, np.ones(len(X)))
    weights = np.load(path, mmap_mode="r")
if source == "dask":  # blocks that np.load maps in their tasks, kept mapped by persist
    import dask.array as da
    da.to_npy_stack(path, da.from_array(X, chunks=50_000))
    X = da.from_npy_stack(path, mmap_mode="r")
    def truncate(model, n_iter, lower_bound):  # after the first pass mapped every block
        if n_iter == 1:
            os.truncate(os.path.join(path, "1.npy"), 4096)
        return False
else:  # another program truncates the mapped file before fastem sees it
    os.truncate(path, 4096)
    truncate = None
try:
    fastem.GaussianMixture(2, random_state=0, max_iter=3, tol=0, callback=truncate).fit(
        X, sample_weight=weights)
except ValueError as exc:
    print(exc)
    sys.exit(3)
"""


@needs_sigbus_guard
@pytest.mark.parametrize("source", ["frombuffer", "frame", "weights", "dask"])
def test_a_file_truncated_under_other_wrappers_is_an_error_not_sigbus(tmp_path, source):
    # The guard found np.memmap data only: these four died with SIGBUS.
    if source == "frame":
        pytest.importorskip("pandas")
    if source == "dask":
        pytest.importorskip("dask.array")
    path = tmp_path / ("stack" if source == "dask" else "X.npy")
    _assert_truncation_named(
        _run_script(_TRUNCATE_UNDER_OTHER_WRAPPERS, path, source, timeout=300), path
    )


_TRUNCATED_OUTPUT = """
import os, sys, numpy as np, fastem
path, source = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(0)
X = rng.normal(size=(200_000, 2))
model = fastem.GaussianMixture(2, random_state=0).fit(X[:1000])
data = fastem.Chunks([X[:100_000], X[100_000:]]) if source == "chunks" else X
messages = []
for method, dtype, columns in [("predict", np.int64, ()), ("score_samples", np.float64, ()),
                               ("predict_proba", np.float64, (2,)), ("impute", np.float64, (2,))]:
    out = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(len(X), *columns))
    os.truncate(path, 4096)  # another program truncates the output file
    try:
        getattr(model, method)(data, out=out)
    except ValueError as exc:
        messages.append(str(exc))
    del out
print("\\n".join(messages))
sys.exit(3 if len(messages) == 4 else 4)
"""


@needs_sigbus_guard
@pytest.mark.parametrize("source", ["array", "chunks"])
def test_an_output_file_truncated_under_out_is_an_error_not_sigbus(tmp_path, source):
    # Only the data were guarded: a write into a truncated out= map died with SIGBUS.
    path = tmp_path / "out.npy"
    done = _run_script(_TRUNCATED_OUTPUT, path, source, timeout=300)
    assert done.returncode == 3, (done.returncode, done.stdout, done.stderr[-2000:])
    lines = done.stdout.splitlines()
    assert len(lines) == 4
    for line in lines:
        assert f"the output file {str(path)!r} (the out= array) was truncated" in line


_UNGUARDED_FAULT = """
import faulthandler, sys, numpy as np
from fastem import _sigbus
faulthandler.enable()
path = sys.argv[1]
X = np.load(path, mmap_mode="r")
with _sigbus.guard(X, path):  # installs the handler; this read is fine
    X.sum()
with open(path, "r+b") as f:
    f.truncate(4096)
X.sum()  # not guarded: the fault must be handled as without fastem
"""


@needs_sigbus_guard
def test_a_fault_outside_guarded_reads_is_left_to_the_previous_handler(tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, np.ones((200_000, 2)))
    done = _run_script(_UNGUARDED_FAULT, path)
    assert done.returncode == -7  # killed by SIGBUS, as without fastem
    assert "Bus error" in done.stderr  # faulthandler, the previous handler, ran


_TRUNCATE_THEN_RESTORE = """
import sys, numpy as np
from fastem import _sigbus
path = sys.argv[1]
X = np.load(path, mmap_mode="r")
original = np.array(X)
data = open(path, "rb").read()
try:
    with _sigbus.guard(X, path):
        with open(path, "r+b") as f:
            f.truncate(4096)
        X.sum()
except ValueError as exc:
    assert "was truncated" in str(exc), exc
else:
    sys.exit("no error")
with open(path, "r+b") as f:  # the file is whole again
    f.write(data)
# The map reads the file again, not the pages of zeros the handler put in.
sys.exit(0 if np.array_equal(np.asarray(X), original) else 4)
"""


@needs_sigbus_guard
def test_a_caught_truncation_leaves_no_page_of_zeros_in_the_map(tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, np.random.default_rng(0).uniform(1, 2, size=(200_000, 2)))
    done = _run_script(_TRUNCATE_THEN_RESTORE, path)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])


_KILL_BUS = """
import os, signal, sys, time, numpy as np
from fastem import _sigbus
path = sys.argv[1]
X = np.load(path, mmap_mode="r")
with _sigbus.guard(X, path):  # installs the handler
    X.sum()
os.kill(os.getpid(), signal.SIGBUS)  # sent, not a fault: the default action ends the process
time.sleep(2)
sys.exit(5)
"""


@needs_sigbus_guard
def test_a_sigbus_sent_by_kill_is_delivered_as_without_the_guard(tmp_path):
    path = tmp_path / "X.npy"
    np.save(path, np.ones((1000, 2)))
    done = _run_script(_KILL_BUS, path)
    assert done.returncode == -signal.SIGBUS, (done.returncode, done.stderr[-2000:])


def test_select_checks_a_huge_range_before_building_it(X):
    with pytest.raises(ValueError, match="goes up to 9999999999, but X has only 400"):
        fastem.select_n_components(X, range(1, 10**10))


@pytest.mark.parametrize("table, expected", [
    ({"a": [1.0, 2.0, 3.0], "s": ["x", "y", "z"]}, "column 's' of"),
    ({"a": [1.0, None, 3.0], "b": [1.0, 2.0, 3.0]}, "1 missing value(s) in column 'a'"),
])
def test_parquet_errors_give_one_line(tmp_path, capsys, table, expected):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    pq.write_table(pa.table(table), tmp_path / "t.parquet")
    status = main(["fit", str(tmp_path / "t.parquet"), "-k", "1", "-o", str(tmp_path / "m.npz")])
    out, err = capsys.readouterr()
    assert status == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("fastem: error: ") and expected in err, err
