"""The command line evaluates DATA with a fitted model as the Python API does.

predict, predict --proba, score and impute take DATA in the dtype that the
model's methods take it in, whatever the model's own: float32 files stay
float32, everything else (every CSV file, integers, float64) is float64. So
a float32 model evaluates a CSV file of values far from 0, of whole numbers
beyond 2**24 or of values beyond float32's range as ``model.predict(X)``
does, its parameters cast up, and writes what Python returns, bit for bit.
"""

import importlib.util
import json
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

import fastem
from fastem.cli import main

pd = pytest.importorskip("pandas")
_HAVE_PYARROW = importlib.util.find_spec("pyarrow") is not None


def read_csv_exactly(path):
    """A CSV file's values as written: pandas' Python parser rounds each field once, as
    Python's float() does (its C parser's default may differ in the last place)."""
    return pd.read_csv(path, engine="python")


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _offset(rng):
    """Two components 0.3 apart at 1e6, of sd 0.05: float32 reads them in steps of 0.0625."""
    X = 1e6 + rng.normal(0, 0.05, (120, 2))
    X[60:] += 0.3
    return X


def _large_integers(rng):
    """Whole numbers beyond 2**24 (16777217 and on), which float32 rounds to even ones."""
    X = 2**24 + 1 + rng.integers(0, 40, (120, 2))
    X[60:] += 60
    return X


def _beyond_float32(rng):
    """Values near 0 and a few beyond float32's range (1e39), infinite in float32."""
    X = rng.normal(0, 1, (120, 2))
    X[60:] += 5
    X[[7, 70], 1] = [1e39, -2e39]
    return X


DATA = {"offset": _offset, "large_integers": _large_integers,
        "beyond_float32": _beyond_float32}


@pytest.fixture(scope="module")
def float32_model(tmp_path_factory):
    """A float32 GaussianMixture of two components fitted near each data set, in a file."""
    d = tmp_path_factory.mktemp("evaluation")
    models = {}
    for name, make in DATA.items():
        X = make(np.random.default_rng(0))
        train = np.where(np.abs(X) > 1e38, 0.0, X)  # the values float32 holds
        model = fastem.GaussianMixture(2, covariance_type="diag", random_state=0)
        with warnings.catch_warnings():  # float32 holds means at 1e6 coarsely: said so
            warnings.simplefilter("ignore", fastem.exceptions.ConvergenceWarning)
            model.fit(train.astype(np.float32))
        assert model._dtype == np.float32
        model.save(d / f"{name}.npz")
        models[name] = d / f"{name}.npz"
    return models


def _files(tmp_path, name):
    """DATA of ``name`` in each format, with the array that Python reads from each."""
    X = DATA[name](np.random.default_rng(1))
    frame = pd.DataFrame(X, columns=["a", "b"])
    files = {tmp_path / "data.csv": frame, tmp_path / "data.npy": X}
    frame.to_csv(tmp_path / "data.csv", index=False)
    np.save(tmp_path / "data.npy", X)
    if _HAVE_PYARROW:
        frame.to_parquet(tmp_path / "data.parquet")
        files[tmp_path / "data.parquet"] = frame
    python = {}
    for path in files:
        if path.suffix == ".csv":
            read = read_csv_exactly(path)
        elif path.suffix == ".parquet":
            read = pd.read_parquet(path)
        else:
            read = np.load(path)
        python[path] = read.to_numpy() if hasattr(read, "to_numpy") else read
    if name == "large_integers":
        assert all(python[p].dtype == np.int64 for p in python)
    return python


@pytest.mark.parametrize("name", DATA)
def test_a_float32_model_scores_and_predicts_data_as_python_does(float32_model, capsys, tmp_path,
                                                                 name):
    """score, predict and predict --proba of a float32 model on a CSV, .npy or parquet file of
    float64 or integer values give model.score(X), model.predict(X) and
    model.predict_proba(X) of the same values, bit for bit, in float64; they had read the file
    in float32 (a mean log-likelihood of 2.306 for 2.423 on data at 1e6), or refused whole
    numbers beyond 2**24 and values beyond 3.4e38."""
    model = fastem.load(float32_model[name])
    for path, X in _files(tmp_path, name).items():
        status, out, err = run(capsys, "score", float32_model[name], path, "--json", "--quiet")
        assert status == 0, err
        assert json.loads(out)["mean_log_likelihood"] == model.score(X), path
        status, _, err = run(capsys, "predict", float32_model[name], path,
                             "-o", tmp_path / "labels.npy", "--quiet")
        assert status == 0, err
        assert_array_equal(np.load(tmp_path / "labels.npy"), model.predict(X))
        for out_path in (tmp_path / "proba.npy", tmp_path / "proba.csv"):
            status, _, err = run(capsys, "predict", float32_model[name], path, "--proba",
                                 "-o", out_path, "--quiet")
            assert status == 0, err
            expected = model.predict_proba(X)
            assert expected.dtype == np.float64
            written = (np.load(out_path) if out_path.suffix == ".npy" else
                       read_csv_exactly(out_path).to_numpy())
            assert written.dtype == np.float64
            assert_array_equal(written, expected)


@pytest.mark.parametrize("name", DATA)
def test_a_float32_model_imputes_data_as_python_does(float32_model, capsys, tmp_path, name):
    """impute with a float32 model writes model.impute(X) of float64 data: fills computed in
    float64 from the model's parameters cast up, with float64's digits in a CSV file; they
    had been computed from the file read in float32 or rounded to float32's digits."""
    model = fastem.load(float32_model[name])
    X = DATA[name](np.random.default_rng(2)).astype(np.float64)
    X[::5, 0] = np.nan
    X[2::5, 1] = np.nan
    pd.DataFrame(X, columns=["a", "b"]).to_csv(tmp_path / "holes.csv", index=False)
    np.save(tmp_path / "holes.npy", X)
    expected = model.impute(X)
    assert expected.dtype == np.float64
    for data in (tmp_path / "holes.csv", tmp_path / "holes.npy"):
        for out_path in (tmp_path / "filled.npy", tmp_path / "filled.csv"):
            status, _, err = run(capsys, "impute", float32_model[name], data, "-o", out_path,
                                 "--quiet")
            assert status == 0, err
            written = (np.load(out_path) if out_path.suffix == ".npy" else
                       read_csv_exactly(out_path).to_numpy())
            assert_array_equal(written, expected)


def test_float32_data_stay_float32_under_any_model(capsys, tmp_path):
    """A float32 .npy file is evaluated in float32, by a float32 or a float64 model, as
    Python evaluates a float32 array: the probabilities and the fills are float32."""
    rng = np.random.default_rng(3)
    X = _offset(rng).astype(np.float32) - np.float32(1e6)
    np.save(tmp_path / "data.npy", X)
    holes = X.copy()
    holes[::4, 1] = np.nan
    np.save(tmp_path / "holes.npy", holes)
    for dtype in (np.float32, np.float64):
        model = fastem.GaussianMixture(2, random_state=0).fit(X.astype(dtype))
        model.save(tmp_path / "m.npz")
        status, out, err = run(capsys, "score", tmp_path / "m.npz", tmp_path / "data.npy",
                               "--json")
        assert status == 0, err
        assert json.loads(out)["mean_log_likelihood"] == model.score(X)
        status, _, err = run(capsys, "predict", tmp_path / "m.npz", tmp_path / "data.npy",
                             "--proba", "-o", tmp_path / "p.npy")
        assert status == 0, err
        written = np.load(tmp_path / "p.npy")
        assert written.dtype == np.float32
        assert_array_equal(written, model.predict_proba(X))
        status, _, err = run(capsys, "impute", tmp_path / "m.npz", tmp_path / "holes.npy",
                             "-o", tmp_path / "filled.npy")
        assert status == 0, err
        expected = model.impute(holes)
        assert expected.dtype == np.float32
        assert_array_equal(np.load(tmp_path / "filled.npy"), expected)
