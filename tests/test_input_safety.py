"""No fastem call or command writes to a file that it was given as input.

Every entry point that writes is given its own input as output: the command
line's ``-o`` (the data file, the model file, through a symbolic link, a hard
link and another spelling of the path), the Python ``out=`` arrays (the input
array itself, a view of it, a memory map of the input file), ``Chunks`` with
a writing ``mmap_mode`` and ``save`` onto a data file. Each must be refused
with the input left byte for byte as it was.
"""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastem
from fastem.cli import main
from fastem.datasets import make_demo_data


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    X = make_demo_data(300, random_state=0)[0]
    np.save(d / "data.npy", X)
    np.savetxt(d / "data.csv", X, delimiter=",", header="x,y", comments="")
    assert main(["fit", str(d / "data.npy"), "-k", "2", "--max-iter", "5", "--tol", "1e-1",
                 "-o", str(d / "model.npz"), "--quiet"]) == 0
    os.symlink(d / "data.npy", d / "link.npy")
    os.link(d / "data.csv", d / "hard.csv")
    os.symlink(d / "model.npz", d / "link.npz")
    return d


def _snapshot(d):
    return {name: (d / name).read_bytes() for name in ("data.npy", "data.csv", "model.npz")}


CASES = [
    ("predict onto the data", ["predict", "{d}/model.npz", "{d}/data.npy", "-o", "{d}/data.npy"]),
    ("predict --proba onto csv data", ["predict", "{d}/model.npz", "{d}/data.csv", "--columns",
                                       "0", "1", "--proba", "-o", "{d}/data.csv"]),
    ("predict onto a hard link of the data", ["predict", "{d}/model.npz", "{d}/data.csv",
                                              "-o", "{d}/hard.csv"]),
    ("predict onto a symbolic link of the data", ["predict", "{d}/model.npz", "{d}/data.npy",
                                                  "-o", "{d}/link.npy"]),
    ("predict onto another spelling", ["predict", "{d}/model.npz", "{d}/data.npy",
                                       "-o", "{d}/../{name}/./data.npy"]),
    ("sample onto the model's link", ["sample", "{d}/model.npz", "-n", "5", "-o", "{d}/link.npz"]),
    ("fit onto the data", ["fit", "{d}/link.npy", "-k", "2", "-o", "{d}/data.npy"]),
    ("select onto the data", ["select", "{d}/data.npy", "--k", "1-2", "-o", "{d}/link.npy"]),
]


@pytest.mark.parametrize("argv", [pytest.param(a, id=i) for i, a in CASES])
def test_no_command_writes_its_input(inputs, capsys, argv):
    before = _snapshot(inputs)
    status = main([a.format(d=inputs, name=inputs.name) for a in argv])
    out, err = capsys.readouterr()
    assert status != 0, out
    assert err.count("\n") == 1 and err.startswith("fastem: error: "), err
    assert _snapshot(inputs) == before


def test_sample_onto_data_is_refused_only_when_it_is_an_input(inputs, capsys, tmp_path):
    # writing to a file that is not an input of the command is allowed
    target = tmp_path / "s.npy"
    np.save(target, np.zeros(3))
    assert main(["sample", str(inputs / "model.npz"), "-n", "5", "-o", str(target)]) == 0
    assert np.load(target).shape == (5, 2)


def test_out_arrays_that_alias_the_input_are_refused(tmp_path):
    X = make_demo_data(300, random_state=0)[0]
    model = fastem.GaussianMixture(2, random_state=0).fit(X)
    Y = np.ascontiguousarray(X[:, :1]).copy()
    one = fastem.GaussianMixture(1, random_state=0).fit(Y)
    for data, method, out in [
        (X.copy(), "predict_proba", None),  # out is the data itself
        (Y, "score_samples", Y.reshape(-1)),  # a view of the data
    ]:
        m = model if data.shape[1] == 2 else one
        out = data if out is None else out
        before = data.copy()
        with pytest.raises(ValueError, match="shares memory"):
            getattr(m, method)(data, out=out)
        np.testing.assert_array_equal(data, before)
    # a memory map of the file being read
    path = tmp_path / "X.npy"
    np.save(path, X)
    before = path.read_bytes()
    mapped = np.load(path, mmap_mode="r")
    writable = np.lib.format.open_memmap(path, mode="r+")
    with pytest.raises(ValueError, match="the file that X is read from"):
        model.predict_proba(mapped, out=writable)
    with pytest.raises(ValueError, match="the file that chunk 0 is read from"):
        model.predict_proba(fastem.Chunks([path]), out=writable)
    del writable, mapped
    assert path.read_bytes() == before


@pytest.mark.parametrize("mode", ["w+", "r+", "write", "readwrite", "x"])
def test_chunks_refuse_writing_modes(tmp_path, mode):
    path = tmp_path / "part-0.npy"
    np.save(path, np.ones((10, 2)))
    before = path.read_bytes()
    with pytest.raises(ValueError, match="mmap_mode must be 'r', 'c' or None"):
        fastem.GaussianMixture(1).fit(fastem.Chunks([path], mmap_mode=mode))
    assert path.read_bytes() == before


@pytest.mark.parametrize("mode", ["r", "c", None, "readonly", "copyonwrite"])
def test_chunks_reading_modes_fit_the_same(tmp_path, mode):
    X = make_demo_data(300, random_state=0)[0]
    np.save(tmp_path / "a.npy", X[:100])
    np.save(tmp_path / "b.npy", X[100:])
    before = (tmp_path / "a.npy").read_bytes()
    chunked = fastem.GaussianMixture(2, random_state=0).fit(
        fastem.Chunks([tmp_path / "a.npy", tmp_path / "b.npy"], mmap_mode=mode))
    memory = fastem.GaussianMixture(2, random_state=0).fit(X)
    np.testing.assert_allclose(chunked.means_, memory.means_, rtol=1e-10)
    assert (tmp_path / "a.npy").read_bytes() == before


def test_npy_output_with_upper_case_extension_writes_that_very_path(tmp_path, capsys):
    # "-o data.NPY" must write "data.NPY", not "data.NPY.npy" (np.save would
    # append ".npy"), which may be the very data file being read.
    X = make_demo_data(100, random_state=0)[0]
    data = tmp_path / "data.NPY.npy"
    np.save(data, X)
    before = data.read_bytes()
    assert main(["fit", str(data), "-k", "2", "--max-iter", "5", "-o", str(tmp_path / "m.npz"),
                 "--quiet"]) == 0
    assert main(["predict", str(tmp_path / "m.npz"), str(data), "-o",
                 str(tmp_path / "data.NPY"), "--quiet"]) == 0
    capsys.readouterr()
    assert data.read_bytes() == before
    assert np.load(tmp_path / "data.NPY").shape == (100,)


# The sweep: every command that writes (-o), onto each of its own inputs, in every spelling.
_COMMANDS = {
    "fit": (["fit", "{data}", "-k", "2", "--max-iter", "5"], ["data"]),
    "predict": (["predict", "{model}", "{data}"], ["model", "data"]),
    "predict --proba": (["predict", "{model}", "{data}", "--proba"], ["model", "data"]),
    "sample": (["sample", "{model}", "-n", "5"], ["model"]),
    "select": (["select", "{data}", "--k", "1-2"], ["data"]),
}
_SPELLINGS = {
    "path": lambda d, name: str(d / name),
    "dot": lambda d, name: f"{d}/./{name}",
    "double slash": lambda d, name: f"{d}//{name}",
    "parent": lambda d, name: f"{d}/../{d.name}/{name}",
    "link": lambda d, name: str(d / {"data.npy": "link.npy", "data.csv": "hard.csv",
                                     "model.npz": "link.npz"}[name]),
}


@pytest.mark.parametrize("spelling", list(_SPELLINGS))
@pytest.mark.parametrize("data", ["data.npy", "data.csv"])
@pytest.mark.parametrize("command", list(_COMMANDS))
def test_every_command_refuses_each_of_its_inputs_as_output(inputs, capsys, command, data, spelling):
    argv, own = _COMMANDS[command]
    files = {"data": data, "model": "model.npz"}
    argv = [a.format(data=inputs / data, model=inputs / "model.npz") for a in argv]
    for role in own:
        before = _snapshot(inputs)
        status = main(argv + ["--quiet", "-o", _SPELLINGS[spelling](inputs, files[role])])
        out, err = capsys.readouterr()
        assert status != 0, (role, out)
        assert err.count("\n") == 1 and err.startswith("fastem: error: "), err
        assert _snapshot(inputs) == before, role


@pytest.mark.parametrize("method", ["score_samples", "predict", "predict_proba"])
@pytest.mark.parametrize("source", ["memmap", "memmap of a link", "Chunks", "Chunks of a link"])
@pytest.mark.parametrize("out_through", ["path", "link"])
def test_every_out_argument_refuses_a_map_of_the_input_file(tmp_path, method, source, out_through):
    X = make_demo_data(300, random_state=0)[0]
    model = fastem.GaussianMixture(2, random_state=0).fit(X)
    path, link = tmp_path / "X.npy", tmp_path / "link.npy"
    np.save(path, X)
    os.symlink(path, link)
    before = path.read_bytes()
    read = link if "link" in source else path
    data = fastem.Chunks([read]) if source.startswith("Chunks") else np.load(read, mmap_mode="r")
    shape = {"score_samples": (300,), "predict": (300,), "predict_proba": (300, 2)}[method]
    dtype = np.int64 if method == "predict" else np.float64
    out = np.memmap(path if out_through == "path" else link, dtype=dtype, mode="r+",
                    offset=128, shape=shape)
    with pytest.raises(ValueError, match="is read from"):
        getattr(model, method)(data, out=out)
    del out, data
    assert path.read_bytes() == before


@pytest.mark.parametrize("method", ["impute", "predict_proba"])
def test_an_out_array_that_a_later_chunk_is_part_of_is_refused_before_any_write(method):
    """Chunks whose second chunk is a view of out: the refusal came at that chunk, after
    the first chunk's results were written over the caller's data in out."""
    X = make_demo_data(400, random_state=0)[0]
    model = fastem.GaussianMixture(2, random_state=0).fit(X)
    first = X[:200].copy()
    if method == "impute":
        first[::7, 0] = np.nan
    out = np.full((400, 2), 7.0)
    out[200:] = X[200:]
    before = out.copy()
    with pytest.raises(ValueError, match="shares memory with chunk 1"):
        getattr(model, method)(fastem.Chunks([first, out[200:]]), out=out)
    np.testing.assert_array_equal(out, before)


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="needs /dev/stdout")
def test_an_output_to_stdout_appended_to_the_data_file_is_refused(inputs, tmp_path):
    """'-o /dev/stdout >> data.csv' would append the labels to the data being read."""
    data = tmp_path / "data.csv"
    data.write_bytes((inputs / "data.csv").read_bytes())
    before = data.read_bytes()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(data, "ab") as f:
        done = subprocess.run(
            [sys.executable, "-m", "fastem", "predict", str(inputs / "model.npz"), str(data),
             "-o", "/dev/stdout", "--quiet"],
            stdout=f, stderr=subprocess.PIPE, env=dict(os.environ, PYTHONPATH=root),
            check=False)
    assert done.returncode == 1 and b"is the data file" in done.stderr, done.stderr
    assert data.read_bytes() == before
