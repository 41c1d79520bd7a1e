"""The ``fastem`` command line, end to end, on small files."""

import csv
import io
import json
import os
import socket
import stat
import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

import fastem
from fastem import io as fastem_io
from fastem.cli import main
from fastem.datasets import DEMO_WEIGHTS, make_demo_data
from streams import read_in_thread

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIT = ["--max-iter", "30", "--tol", "1e-2"]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Small data files in every format, and a model fitted on them."""
    d = tmp_path_factory.mktemp("cli")
    X, labels = make_demo_data(400, random_state=3)
    paths = {"X": X, "dir": d}
    paths["npy"] = str(d / "data.npy")
    np.save(paths["npy"], X)
    # id (numeric), x, name (text), y: the data are columns x and y
    paths["csv"] = str(d / "data.csv")
    with open(paths["csv"], "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "x", "name", "y"])
        for i, (x, y) in enumerate(X):
            writer.writerow([i, repr(float(x)), f"point{i}", repr(float(y))])
    paths["plain_csv"] = str(d / "plain.csv")
    np.savetxt(paths["plain_csv"], X, delimiter=",", fmt="%.17g")
    paths["model"] = str(d / "model.npz")
    assert main(["fit", paths["npy"], "-k", "4", *FIT, "-o", paths["model"]]) == 0
    return paths


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


# ----------------------------------------------------------------------
# every subcommand


def test_fit_npy_text(files, capsys, tmp_path):
    status, out, err = run(capsys, "fit", files["npy"], "-k", 4, *FIT, "-o", tmp_path / "m.npz")
    assert status == 0 and err == ""
    assert "fitted 400 samples x 2 features" in out and "saved model to" in out
    model = fastem.load(tmp_path / "m.npz")
    assert model.n_components == 4 and model.covariance_type == "full"
    assert model.means_.dtype == np.float64


@pytest.mark.parametrize("columns", [["--columns", "x,y"], ["--columns", "1,3"],
                                     ["--columns", "x", "--columns", "3"]])
def test_fit_csv_with_header_and_columns_matches_npy(files, capsys, tmp_path, columns):
    status, out, _ = run(
        capsys, "fit", files["csv"], *columns, "-k", 4, *FIT, "-o",
        tmp_path / "m.npz", "--json",
    )
    assert status == 0
    result = json.loads(out)
    reference = fastem.load(files["model"])
    # the CSV holds the same numbers exactly, so the fit is the same
    np.testing.assert_array_equal(result["parameters"]["means_"], reference.means_)
    assert result["n_samples"] == 400 and result["n_features_in"] == 2


def test_fit_headerless_csv(files, capsys, tmp_path):
    status, out, _ = run(capsys, "fit", files["plain_csv"], "-k", 4, *FIT, "-o", tmp_path / "m.npz")
    assert status == 0
    np.testing.assert_array_equal(
        fastem.load(tmp_path / "m.npz").means_, fastem.load(files["model"]).means_
    )


def test_fit_parquet(files, capsys, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    X = files["X"]
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"id": np.arange(len(X)), "x": X[:, 0], "y": X[:, 1]}), path)
    status, out, _ = run(
        capsys, "fit", path, "--columns", "x,y", "-k", 4, *FIT, "-o", tmp_path / "m.npz",
    )
    assert status == 0
    np.testing.assert_array_equal(
        fastem.load(tmp_path / "m.npz").means_, fastem.load(files["model"]).means_
    )
    status, out, _ = run(capsys, "predict", files["model"], path, "--columns", "1,2",
                         "-o", tmp_path / "labels.parquet")
    assert status == 0
    labels = pq.read_table(tmp_path / "labels.parquet").column("component").to_numpy()
    np.testing.assert_array_equal(labels, fastem.load(files["model"]).predict(X))


@pytest.mark.parametrize("covariance", ["diag", "spherical", "tied"])
def test_fit_options(files, capsys, tmp_path, covariance):
    status, _, _ = run(
        capsys, "fit", files["npy"], "-k", 3, "--covariance", covariance, "--dtype", "float32",
        "--n-init", 2, "--seed", 5, *FIT, "-o", tmp_path / "m.npz",
    )
    assert status == 0
    model = fastem.load(tmp_path / "m.npz")
    assert model.covariance_type == covariance
    assert model.means_.dtype == np.float32
    assert model.n_init == 2 and model.random_state == 5 and model.n_components == 3


@pytest.mark.parametrize("bayesian", [[], ["--bayesian"]])
def test_fit_reg_covar(files, capsys, tmp_path, bayesian):
    """--reg-covar reaches the model: the fix the float32 warnings name."""
    status, _, _ = run(capsys, "fit", files["npy"], "-k", 2, "--reg-covar", 0.25, *bayesian, *FIT,
                       "-o", tmp_path / "m.npz")
    assert status == 0
    model = fastem.load(tmp_path / "m.npz")
    assert model.reg_covar == 0.25
    if not bayesian:  # every variance at least reg_covar
        smallest = np.linalg.eigvalsh(np.asarray(model.covariances_, dtype=np.float64))[:, 0]
        assert (smallest >= 0.25 * (1 - 1e-9)).all()


def test_fit_other_family(files, capsys, tmp_path):
    status, out, err = run(capsys, "fit", files["npy"], "-k", 2, "--family", "exponential",
                           "-o", tmp_path / "m.npz")
    if hasattr(fastem, "ExponentialMixture"):
        # the demo data are not positive; an exponential mixture must reject them
        assert status == 1 and err.count("\n") == 1
    else:
        assert status == 1 and "fastem.ExponentialMixture" in err and err.count("\n") == 1


def test_predict_labels_and_proba(files, capsys, tmp_path):
    model = fastem.load(files["model"])
    status, out, _ = run(capsys, "predict", files["model"], files["npy"], "-o", tmp_path / "l.npy")
    assert status == 0 and "wrote labels for 400 samples" in out
    np.testing.assert_array_equal(np.load(tmp_path / "l.npy"), model.predict(files["X"]))

    status, out, _ = run(capsys, "predict", files["model"], files["csv"], "--columns", "x,y",
                         "--proba", "-o", tmp_path / "p.csv", "--json")
    assert status == 0
    assert json.loads(out)["counts"] == np.bincount(model.predict(files["X"]), minlength=4).tolist()
    with open(tmp_path / "p.csv") as f:
        assert f.readline().strip() == "p0,p1,p2,p3"
    proba = np.loadtxt(tmp_path / "p.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(proba, model.predict_proba(files["X"]))


def test_proba_counts_a_row_of_zero_density_where_predict_puts_it(capsys, tmp_path):
    """A row of density 0 under every component has probabilities of 0 alone; the counts of
    --proba took their argmax, component 0, although that one is empty (weight 0)."""
    model = fastem.GaussianMixture(
        3, covariance_type="diag", max_iter=0, weights_init=[0.0, 0.5, 0.5],
        means_init=[[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]], precisions_init=np.full((3, 2), 1e200))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter=0 and the empty start warn
        model.fit(np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 0.1]]))
    model.save(tmp_path / "m.npz")
    X = np.array([[1e60, 1e60], [1.0, 1.0]])
    np.save(tmp_path / "X.npy", X)
    status, out, err = run(capsys, "predict", tmp_path / "m.npz", tmp_path / "X.npy",
                           "--proba", "-o", tmp_path / "p.npy", "--json")
    assert status == 0, err
    assert json.loads(out)["counts"] == np.bincount(model.predict(X), minlength=3).tolist()
    assert json.loads(out)["counts"] == [0, 1, 1]


def test_score(files, capsys):
    status, out, _ = run(capsys, "score", files["model"], files["npy"], "--json")
    assert status == 0
    result = json.loads(out)
    model = fastem.load(files["model"])
    assert result["n_samples"] == 400
    assert result["mean_log_likelihood"] == model.score(files["X"])
    np.testing.assert_allclose(result["bic"], model.bic(files["X"]), rtol=1e-12)
    np.testing.assert_allclose(result["aic"], model.aic(files["X"]), rtol=1e-12)
    status, out, _ = run(capsys, "score", files["model"], files["npy"])
    assert "mean_log_likelihood" in out and "bic" in out


def test_sample(files, capsys, tmp_path):
    status, out, _ = run(capsys, "sample", files["model"], "-n", 50, "--seed", 1,
                         "-o", tmp_path / "s.csv")
    assert status == 0 and "wrote 50 samples x 2 features" in out
    sampled = np.loadtxt(tmp_path / "s.csv", delimiter=",", skiprows=1)
    assert sampled.shape == (50, 2)
    run(capsys, "sample", files["model"], "-n", 50, "--seed", 1, "-o", tmp_path / "s.npy")
    np.testing.assert_array_equal(np.load(tmp_path / "s.npy"), sampled)


def test_sample_of_a_float32_model_whose_last_component_is_empty(capsys, tmp_path):
    """Its float32 weights sum to 1 + 3e-8 in float64; the command failed with NumPy's
    'sum(pvals[:-1]) > 1.0'."""
    model = fastem.GaussianMixture(3, max_iter=0, means_init=[[0.0], [1.0], [2.0]])
    model.fit(np.arange(6, dtype=np.float32)[:, None])
    model.weights_ = np.array([0.6, 0.4, 0.0], dtype=np.float32)
    model.save(tmp_path / "m.npz")
    status, out, err = run(capsys, "sample", tmp_path / "m.npz", "-n", 50, "--seed", 1,
                           "-o", tmp_path / "s.npy")
    assert status == 0 and "wrote 50 samples" in out, err
    assert np.load(tmp_path / "s.npy").shape == (50, 1)


@pytest.mark.parametrize("prior", [[], ["dirichlet_distribution"]])
def test_fit_bayesian(files, capsys, tmp_path, prior):
    path = tmp_path / "m.npz"
    status, out, err = run(capsys, "fit", files["npy"], "-k", 8, "--bayesian", *prior,
                           "--covariance", "diag", "-o", path)
    assert status == 0 and err == ""
    model = fastem.load(path)
    assert type(model) is fastem.BayesianGaussianMixture
    assert model.covariance_type == "diag" and model.n_components == 8
    assert model.weight_concentration_prior_type == (prior or ["dirichlet_process"])[0]
    assert "BayesianGaussianMixture(n_components=8, covariance_type='diag')" in out
    assert "variational lower bound per sample" in out
    effective = model.effective_n_components()
    assert f"effective number of components (weight above 0.01): {effective} of 8" in out
    status, out, _ = run(capsys, "info", path, "--json")
    assert status == 0 and json.loads(out)["effective_n_components"] == effective


def test_bayesian_is_for_gaussians(files, capsys, tmp_path):
    status, _, err = run(capsys, "fit", files["npy"], "-k", 2, "--family", "poisson",
                         "--bayesian", "-o", tmp_path / "m.npz")
    assert status == 2 and "--bayesian applies to --family gaussian only" in err


def test_info(files, capsys):
    status, out, _ = run(capsys, "info", files["model"])
    assert status == 0
    assert "GaussianMixture(n_components=4, covariance_type='full')" in out
    assert "features: 2" in out and "component  weight" in out
    status, out, _ = run(capsys, "info", files["model"], "--json")
    info = json.loads(out)
    model = fastem.load(files["model"])
    assert info["lower_bound"] == model.lower_bound_
    assert info["parameters"]["weights_"] == model.weights_.tolist()


def test_select(files, capsys, tmp_path):
    status, out, _ = run(capsys, "select", files["npy"], "--k", "1-3", "--covariance",
                         "full,diag", "-o", tmp_path / "best.npz")
    assert status == 0 and "best: covariance_type=" in out
    best = fastem.load(tmp_path / "best.npz")
    assert best.n_components in (1, 2, 3) and best.covariance_type in ("full", "diag")
    status, out, _ = run(capsys, "select", files["npy"], "--k", "1-2,4", "--covariance",
                         "diag,spherical", "--seed", 4, "-o", tmp_path / "best.npz", "--json")
    assert status == 0
    result = json.loads(out)
    best = fastem.load(tmp_path / "best.npz")
    assert result["best_params"] == {"covariance_type": best.covariance_type,
                                     "n_components": best.n_components}
    assert {(r["covariance_type"], r["n_components"]) for r in result["table"]} == {
        (c, k) for c in ("diag", "spherical") for k in (1, 2, 4)
    }
    chosen = [r for r in result["table"]
              if (r["covariance_type"], r["n_components"]) == (best.covariance_type, best.n_components)]
    assert chosen[0]["flag"] is None
    assert min(r["bic"] for r in result["table"] if r["flag"] is None) == chosen[0]["bic"]


def test_select_json_says_which_fits_converged(files, capsys):
    # the text table marks them '~'; the JSON table had no word of it
    status, out, _ = run(capsys, "select", files["npy"], "--k", "2-3", "--covariance", "diag",
                         "--max-iter", 1, "--json")
    assert status == 0
    assert [r["converged"] for r in json.loads(out)["table"]] == [False, False]
    status, out, _ = run(capsys, "select", files["npy"], "--k", "1", "--covariance", "diag",
                         "--json")
    assert [r["converged"] for r in json.loads(out)["table"]] == [True]


@pytest.mark.parametrize("family", ["gaussian", "poisson"])
def test_select_takes_the_em_options_of_fit(files, capsys, tmp_path, family):
    """--max-iter, --tol and (Gaussian) --reg-covar reach every fit of the grid, as in fit."""
    counts = np.round(np.abs(files["X"])).astype(np.int64)
    np.save(tmp_path / "counts.npy", counts)
    data = files["npy"] if family == "gaussian" else tmp_path / "counts.npy"
    options = ["--max-iter", 7, "--tol", 0.5]
    if family == "gaussian":
        options += ["--reg-covar", 0.25, "--covariance", "full,diag"]
    status, _, err = run(capsys, "select", data, "--k", "1-2", "--family", family, *options,
                         "-o", tmp_path / "best.npz")
    assert status == 0, err
    best = fastem.load(tmp_path / "best.npz")
    assert best.max_iter == 7 and best.tol == 0.5 and best.n_iter_ <= 7
    if family == "gaussian":
        assert best.reg_covar == 0.25
        covariances = np.asarray(best.covariances_, dtype=np.float64)
        if best.covariance_type == "full":
            covariances = np.linalg.eigvalsh(covariances)
        assert (covariances >= 0.25 * (1 - 1e-9)).all()


def test_sample_beyond_the_memory_is_refused_before_drawing(files, capsys, tmp_path, monkeypatch):
    """An -n whose draws exceed the memory is one line naming -n, not a process killed by
    the kernel's OOM killer after filling the memory; so is a MemoryError while drawing."""
    from fastem import _validation

    monkeypatch.setattr(_validation, "available_memory", lambda: 2**30)
    monkeypatch.setattr(_validation, "container_memory", lambda: None)
    status, out, err = run(capsys, "sample", files["model"], "-n", 10**9, "-o", tmp_path / "s.npy")
    assert status == 1 and out == "" and err.count("\n") == 1
    assert "-n 1,000,000,000 samples of 2 features need about 52.2 GiB" in err
    assert "1.0 GiB available on this machine" in err and not os.path.exists(tmp_path / "s.npy")

    def exhausted(self, n_samples=1):
        raise MemoryError

    monkeypatch.setattr(_validation, "available_memory", lambda: None)  # no figure: draws, and fails
    monkeypatch.setattr(fastem.GaussianMixture, "sample", exhausted)
    status, _, err = run(capsys, "sample", files["model"], "-n", 10, "-o", tmp_path / "s.npy")
    assert status == 1 and "out of memory; draw fewer samples (-n)" in err


def test_json_has_no_nan_or_infinity(files, capsys, tmp_path):
    """Strict JSON has neither: a model fitted with --max-iter 0 has no lower bound (null)."""
    path = tmp_path / "m0.npz"
    for argv in (["fit", files["npy"], "-k", 2, "--max-iter", 0, "-o", path, "--json"],
                 ["info", path, "--json"]):
        status, out, _ = run(capsys, *argv)
        assert status == 0
        result = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in JSON"))
        assert result["lower_bound"] is None


def test_demo(capsys):
    status, out, _ = run(capsys, "demo", "--n-samples", 20000, "--json")
    assert status == 0
    result = json.loads(out)
    np.testing.assert_allclose(result["fitted"]["weights"], DEMO_WEIGHTS, atol=0.02)
    assert result["n_samples"] == 20000 and result["warmup_seconds"] > 0
    status, out, _ = run(capsys, "demo", "--n-samples", 20000)
    assert "matched to true ones" in out and "First call" in out


def test_progress_forced_and_quiet(files, capsys, tmp_path):
    status, _, err = run(capsys, "fit", files["npy"], "-k", 2, *FIT, "--progress",
                         "-o", tmp_path / "m.npz")
    lines = err.splitlines()
    model = fastem.load(tmp_path / "m.npz")
    assert status == 0 and len(lines) == model.n_iter_
    assert lines[0].startswith("init 1/1  iter    1/30  log-lik")
    assert "s/iter" in lines[-1]
    status, _, err = run(capsys, "fit", files["npy"], "-k", 2, *FIT, "-o", tmp_path / "m.npz")
    assert err == ""  # stderr is not a terminal here


def test_max_iter_warning_is_one_line(files, capsys, tmp_path):
    status, _, err = run(capsys, "fit", files["npy"], "-k", 4, "--max-iter", 1, "--tol", 0,
                         "-o", tmp_path / "m.npz")
    assert status == 0
    assert err.startswith("fastem: warning: Best of 1 initialization(s) did not converge")
    assert err.count("\n") == 1


def test_subprocess_console_entry(files, tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run(
        [sys.executable, "-m", "fastem", "predict", files["model"], files["npy"], "-o",
         str(tmp_path / "l.csv")],
        capture_output=True, text=True, env=env, check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    labels = np.loadtxt(tmp_path / "l.csv", delimiter=",", skiprows=1)
    np.testing.assert_array_equal(labels, fastem.load(files["model"]).predict(files["X"]))

    bad = subprocess.run(
        [sys.executable, "-m", "fastem", "fit", str(tmp_path / "missing.npy"), "-k", "2",
         "-o", str(tmp_path / "m.npz")],
        capture_output=True, text=True, env=env, check=False,
    )
    assert bad.returncode == 1
    assert bad.stderr.splitlines() == [
        f"fastem: error: data file {str(tmp_path / 'missing.npy')!r} does not exist; check the path"
    ]


# ----------------------------------------------------------------------
# bad inputs: one line on stderr, non-zero exit, no traceback


@pytest.fixture(scope="module")
def bad_files(files):
    d = files["dir"]
    paths = {}
    paths["corrupt.npy"] = d / "corrupt.npy"
    paths["corrupt.npy"].write_bytes(b"\x93NUMPY garbage")
    paths["nan.csv"] = d / "nan.csv"
    paths["nan.csv"].write_text("x,y\n1,2\nnan,3\n4,5\n")
    paths["empty.csv"] = d / "empty.csv"
    paths["empty.csv"].write_text("")
    paths["ragged.csv"] = d / "ragged.csv"
    paths["ragged.csv"].write_text("1,2\n3\n")
    paths["three.npy"] = d / "three.npy"
    np.save(paths["three.npy"], np.ones((10, 3)))
    paths["cube.npy"] = d / "cube.npy"
    np.save(paths["cube.npy"], np.ones((2, 2, 2)))
    paths["text.npy"] = d / "text.npy"
    np.save(paths["text.npy"], np.array([["a", "b"], ["c", "d"]]))
    paths["data.txt"] = d / "data.txt"
    paths["data.txt"].write_text("1 2\n")
    paths["notmodel.npz"] = d / "notmodel.npz"
    np.savez(paths["notmodel.npz"], weights_=np.ones(2))
    paths["garbage.npz"] = d / "garbage.npz"
    paths["garbage.npz"].write_bytes(b"hello")
    future = d / "future.npz"
    with np.load(files["model"]) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays["metadata"]))
    meta["format_version"] = fastem_io.FORMAT_VERSION + 1
    arrays["metadata"] = np.array(json.dumps(meta))
    np.savez(future, **arrays)
    paths["future.npz"] = future
    return {k.replace(".", "_"): str(v) for k, v in paths.items()}


BAD = [
    ("missing data file", ["fit", "{d}/nope.npy", "-k", "2", "-o", "{t}/m.npz"], "does not exist"),
    ("bad extension", ["fit", "{data_txt}", "-k", "2", "-o", "{t}/m.npz"], "extension '.txt'"),
    ("corrupt npy", ["fit", "{corrupt_npy}", "-k", "2", "-o", "{t}/m.npz"], "not a readable .npy"),
    ("3-D npy", ["fit", "{cube_npy}", "-k", "2", "-o", "{t}/m.npz"], "3-D array"),
    ("text npy", ["fit", "{text_npy}", "-k", "2", "-o", "{t}/m.npz"], "not real numbers"),
    ("unknown column", ["fit", "{csv}", "--columns", "x,z", "-k", "2", "-o", "{t}/m.npz"],
     "column 'z' not found"),
    ("column index out of range", ["fit", "{csv}", "--columns", "7", "-k", "2", "-o", "{t}/m.npz"],
     "column index 7 is out of range"),
    ("column name without header", ["fit", "{npy}", "--columns", "x", "-k", "2", "-o",
                                    "{t}/m.npz"], "select columns by 0-based index"),
    ("non-numeric csv", ["fit", "{csv}", "--columns", "x,name", "-k", "2", "-o", "{t}/m.npz"],
     "non-numeric value 'point0' on line 2 (data row 1), column 3 ('name')"),
    ("ragged csv", ["fit", "{ragged_csv}", "-k", "1", "-o", "{t}/m.npz"],
     "line 2 has 1 field(s) but the first row has 2"),
    ("empty csv", ["fit", "{empty_csv}", "-k", "1", "-o", "{t}/m.npz"], "is empty"),
    ("NaN values", ["fit", "{nan_csv}", "-k", "1", "-o", "{t}/m.npz"],
     "missing value ('nan') on line 3 (data row 2), column 1 ('x')"),
    ("-k 0", ["fit", "{npy}", "-k", "0", "-o", "{t}/m.npz"], "must be >= 1, got 0"),
    ("-k not an int", ["fit", "{npy}", "-k", "two", "-o", "{t}/m.npz"],
     "expected an integer, got 'two'"),
    ("-k above n_samples", ["fit", "{npy}", "-k", "500", "-o", "{t}/m.npz"],
     "as many data rows as components, got -k 500 with only 400 data row(s)"),
    ("missing -k", ["fit", "{npy}", "-o", "{t}/m.npz"], "required: -k"),
    ("bad covariance", ["fit", "{npy}", "-k", "2", "--covariance", "round", "-o", "{t}/m.npz"],
     "invalid choice: 'round'"),
    ("bad dtype", ["fit", "{npy}", "-k", "2", "--dtype", "float16", "-o", "{t}/m.npz"],
     "invalid choice: 'float16'"),
    ("negative max-iter", ["fit", "{npy}", "-k", "2", "--max-iter", "-1", "-o", "{t}/m.npz"],
     "must be >= 0"),
    ("tol not a number", ["fit", "{npy}", "-k", "2", "--tol", "small", "-o", "{t}/m.npz"],
     "expected a number, got 'small'"),
    ("covariance for poisson", ["fit", "{npy}", "-k", "2", "--family", "poisson", "--covariance",
                                "diag", "-o", "{t}/m.npz"], "poisson"),
    ("reg-covar for poisson", ["fit", "{npy}", "-k", "2", "--family", "poisson", "--reg-covar",
                               "0.1", "-o", "{t}/m.npz"], "--reg-covar applies to --family gaussian"),
    ("negative reg-covar", ["fit", "{npy}", "-k", "2", "--reg-covar", "-1", "-o", "{t}/m.npz"],
     "must be a number >= 0"),
    ("select reg-covar for poisson", ["select", "{npy}", "--k", "1-2", "--family", "poisson",
                                      "--reg-covar", "0.1"], "--reg-covar applies to --family gaussian"),
    ("select negative tol", ["select", "{npy}", "--tol", "-1"], "must be a number >= 0"),
    ("empty entry in --columns", ["fit", "{csv}", "--columns", "x,", "-k", "2", "-o", "{t}/m.npz"],
     "--columns 'x,' has an empty entry (entry 2)"),
    ("empty entry inside --columns", ["fit", "{csv}", "--columns", "x,,y", "-k", "2", "-o",
                                      "{t}/m.npz"], "has an empty entry (entry 2)"),
    ("output directory missing", ["fit", "{npy}", "-k", "2", "-o", "{t}/no/such/m.npz"],
     "does not exist"),
    ("model output not npz", ["fit", "{npy}", "-k", "2", "-o", "{t}/m.pkl"], "extension '.pkl'"),
    ("unknown command", ["frobnicate"], "invalid choice: 'frobnicate'"),
    ("model from the future", ["info", "{future_npz}"], "Upgrade fastem"),
    ("npz that is not a model", ["info", "{notmodel_npz}"], "not a fastem model file"),
    ("garbage model", ["predict", "{garbage_npz}", "{npy}", "-o", "{t}/l.npy"],
     "not a fastem model file"),
    ("missing model", ["score", "{d}/none.npz", "{npy}"], "model file"),
    ("sample -n 0", ["sample", "{model}", "-n", "0", "-o", "{t}/s.npy"], "must be >= 1, got 0"),
    ("wrong number of features", ["predict", "{model}", "{three_npy}", "-o", "{t}/l.npy"],
     "has 3 column(s) but the model was fitted on 2"),
    ("bad predict output", ["predict", "{model}", "{npy}", "-o", "{t}/l.xlsx"], "extension '.xlsx'"),
    ("bad k range", ["select", "{npy}", "--k", "5-2"], "got '5-2'"),
    ("bad covariance list", ["select", "{npy}", "--covariance", "full,round"],
     "unknown covariance type 'round'"),
]


@pytest.mark.parametrize("argv, expected", [pytest.param(a, e, id=i) for i, a, e in BAD])
def test_bad_input_gives_one_line(files, bad_files, capsys, tmp_path, argv, expected):
    names = dict(bad_files, npy=files["npy"], csv=files["csv"], model=files["model"],
                 d=str(files["dir"]), t=str(tmp_path))
    status, out, err = run(capsys, *[a.format(**names) for a in argv])
    assert status in (1, 2)
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("fastem: error: "), err
    assert "Traceback" not in err
    assert expected in err
    assert not os.path.exists(tmp_path / "m.npz")


def test_debug_shows_the_exception(files, capsys):
    with pytest.raises(Exception, match="does not exist"):
        main(["info", str(files["dir"] / "none.npz"), "--debug"])


CSV_DIALECTS = {
    "utf-8 byte-order mark, no header": ("utf-8-sig", "1,2\n3,4\n5,6\n", None),
    "byte-order mark and CRLF": ("utf-8-sig", "1,2\r\n3,4\r\n5,6\r\n", None),
    "byte-order mark and header": ("utf-8-sig", "a,b\n1,2\n3,4\n5,6\n", ["a", "b"]),
    "quoted numbers": ("utf-8", '"1","2"\n"3","4"\n"5","6"\n', None),
    "quoted header and numbers": ("utf-8", '"a","b"\n"1","2"\n"3","4"\n"5","6"\n', ["a", "b"]),
    "latin-1 header": ("latin-1", "é,b\n1,2\n3,4\n5,6\n", ["é", "b"]),
    "cp1252 header": ("cp1252", "“x”,b\n1,2\n3,4\n5,6\n", ["“x”", "b"]),
}


@pytest.mark.parametrize("encoding, text, header", CSV_DIALECTS.values(), ids=list(CSV_DIALECTS))
def test_csv_rows_and_columns_agree_with_the_csv_module(tmp_path, encoding, text, header):
    from fastem._tables import read_csv

    path = tmp_path / "data.csv"
    path.write_bytes(text.encode(encoding))
    with open(path, newline="", encoding=encoding) as f:
        rows = list(csv.reader(f))
    if header is not None:
        assert rows[0] == header
        rows = rows[1:]
    X = read_csv(str(path), ["1", "0"]).data
    expected = np.array(rows, dtype=np.float64)
    np.testing.assert_array_equal(X, expected[:, ::-1])


# ----------------------------------------------------------------------
# replacing an output changes its content only


def _outputs(files):
    """Every command that writes a file, with the suffix of its output."""
    return [
        (["fit", files["npy"], "-k", "2", *FIT, "--quiet"], ".npz"),
        (["select", files["npy"], "--k", "1-2", "--quiet"], ".npz"),
        (["predict", files["model"], files["npy"]], ".csv"),
        (["predict", files["model"], files["npy"], "--proba"], ".npy"),
        (["sample", files["model"], "-n", "5"], ".parquet"),
        (["impute", files["model"], files["npy"]], ".csv"),
    ]


@pytest.mark.parametrize("case", range(6))
def test_an_output_through_a_symbolic_link_keeps_the_link_and_the_mode(files, capsys, tmp_path, case):
    argv, suffix = _outputs(files)[case]
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    target = tmp_path / f"target{suffix}"
    link = tmp_path / f"link{suffix}"
    assert main([*argv, "-o", str(target)]) == 0  # a valid output of the command to replace
    os.chmod(target, 0o640)
    link.symlink_to(target.name)
    if suffix != ".npz":  # a model file is replaced only by a model file
        target.write_bytes(b"old")
    before = target.stat().st_mtime_ns
    capsys.readouterr()
    assert main([*argv, "-o", str(link)]) == 0, capsys.readouterr().err
    assert link.is_symlink() and os.readlink(link) == target.name
    assert (target.stat().st_mode & 0o777) == 0o640
    assert target.read_bytes()[:3] != b"old" and target.stat().st_mtime_ns >= before
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([link.name, target.name])


@pytest.mark.parametrize("case", [*range(6), "predict parquet", "sample npy"])
def test_an_output_is_on_the_disk_before_its_rename_and_the_rename_after(files, tmp_path,
                                                                        monkeypatch, case):
    """A rename over an old file, committed by the file system before the new file's data,
    leaves an empty or cut-off file after a power loss: the data outputs of the
    command line were renamed unflushed (model files were flushed)."""
    argv, suffix = {
        "predict parquet": (["predict", files["model"], files["npy"]], ".parquet"),
        "sample npy": (["sample", files["model"], "-n", "5"], ".npy"),
    }.get(case) or _outputs(files)[case]
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    if not os.path.isdir("/proc/self/fd"):
        pytest.skip("names an open file by /proc/self/fd (Linux)")
    events, fsync, replace = [], os.fsync, os.replace

    def recorded_fsync(fd):
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        fsync(fd)

    def recorded_replace(source, target):
        events.append(("replace", os.fspath(source), os.fspath(target)))
        replace(source, target)

    monkeypatch.setattr(os, "fsync", recorded_fsync)
    monkeypatch.setattr(os, "replace", recorded_replace)
    output = tmp_path / f"out{suffix}"
    assert main([*argv, "-o", str(output)]) == 0
    renames = [i for i, event in enumerate(events) if event[0] == "replace"]
    assert len(renames) == 1 and events[renames[0]][2] == str(output), events
    temporary = events[renames[0]][1]
    assert ("fsync", temporary) in events[: renames[0]], events
    assert ("fsync", str(tmp_path)) in events[renames[0] :], events


def _open_as_its_owner(monkeypatch):
    """Make ``os.open`` of a file check its owner's permission bits, as for a user other
    than root (the tests may run as root, who passes every check)."""
    real_open = os.open

    def open_as_its_owner(path, flags, *args, **kwargs):
        access = flags & os.O_ACCMODE
        if os.path.isfile(path):
            bits = os.stat(path).st_mode
            if (access != os.O_WRONLY and not bits & 0o400) or (
                    access != os.O_RDONLY and not bits & 0o200):
                raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", open_as_its_owner)


@pytest.mark.parametrize("mode", [0o200, 0o400])
@pytest.mark.parametrize("case", range(2, 6))
def test_an_output_whose_mode_refuses_its_owner_reading_or_writing_is_replaced(
        files, capsys, tmp_path, monkeypatch, case, mode):
    """An output of mode 0o200 (written, never read, by its owner) or 0o400 (read-only):
    its new file took that mode before its flush, which opens it, and a user other than
    root got 'Permission denied'."""
    argv, suffix = _outputs(files)[case]
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    target = tmp_path / f"out{suffix}"
    target.write_bytes(b"old")
    os.chmod(target, mode)
    _open_as_its_owner(monkeypatch)
    assert main([*argv, "-o", str(target)]) == 0, capsys.readouterr().err
    monkeypatch.undo()
    assert (target.stat().st_mode & 0o777) == mode
    os.chmod(target, 0o600)
    assert target.read_bytes()[:3] != b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == [target.name]


@pytest.mark.parametrize("case", range(6))
def test_an_output_is_flushed_through_a_descriptor_open_for_writing(files, capsys, tmp_path,
                                                                    monkeypatch, case):
    """Windows flushes a file (os.fsync, FlushFileBuffers) only through a descriptor open
    for writing: opened read-only for its flush, every model file and output failed there
    with 'Bad file descriptor'. A flush through a read-only descriptor is refused here as
    Windows refuses it."""
    fcntl = pytest.importorskip("fcntl")
    argv, suffix = _outputs(files)[case]
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    real_fsync = os.fsync

    def fsync_as_on_windows(fd):
        if os.path.isfile(f"/proc/self/fd/{fd}") and (
                fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE) == os.O_RDONLY:
            raise OSError(9, "Bad file descriptor")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_as_on_windows)
    output = tmp_path / f"out{suffix}"
    assert main([*argv, "-o", str(output)]) == 0, capsys.readouterr().err
    assert output.stat().st_size > 0


@pytest.mark.parametrize("umask", [0o222, 0o666, 0o777])
@pytest.mark.parametrize("case", range(6))
def test_an_output_made_under_a_umask_that_refuses_its_owner_writing_is_written(
        files, capsys, tmp_path, monkeypatch, case, umask):
    """Under a umask of 0o222 (files are made read-only) every new output and model file
    is made of mode 0o444: its flush opened it for reading and writing, and a user other
    than root got 'cannot write ...: Permission denied'. Under 0o666 or 0o777 (mode 0),
    it was opened again for reading, refused too; it is flushed through the descriptor
    that wrote it."""
    argv, suffix = _outputs(files)[case]
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    output = tmp_path / f"out{suffix}"
    _open_as_its_owner(monkeypatch)
    umask = os.umask(umask)
    try:
        assert main([*argv, "-o", str(output)]) == 0, capsys.readouterr().err
    finally:
        umask = os.umask(umask)
    monkeypatch.undo()
    assert (output.stat().st_mode & 0o777) == 0o666 & ~umask and output.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [output.name]


def _assert_same_output(received, expected, suffix):
    """An output read from a stream holds what the regular file ``expected`` holds (a
    model file: the same model; its archive records the time it was written)."""
    if suffix != ".npz":
        assert received == expected.read_bytes()
        return
    copy = expected.with_name("received.npz")
    copy.write_bytes(received)
    a, b = fastem.load(copy), fastem.load(expected)
    assert a.get_params() == b.get_params()
    for name in a._parameter_names:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("case", range(6))
def test_an_output_to_a_fifo_is_written_into_it(files, capsys, tmp_path, case):
    """A FIFO given as the output was replaced by a regular file of the same name (a
    model file was refused): its reader waited for ever, and the output went to a file."""
    argv, suffix = _outputs(files)[case]
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    expected = tmp_path / f"expected{suffix}"
    assert main([*argv, "-o", str(expected)]) == 0, capsys.readouterr().err
    fifo = tmp_path / f"fifo{suffix}"
    os.mkfifo(fifo)
    finish = read_in_thread(fifo)
    try:
        status = main([*argv, "-o", str(fifo)])
    finally:
        received = finish()
    assert status == 0, capsys.readouterr().err
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    _assert_same_output(received, expected, suffix)


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="needs /dev/stdout")
@pytest.mark.parametrize("command", ["predict", "fit"])
def test_an_output_to_dev_stdout_is_written_to_stdout(files, tmp_path, command):
    """'-o /dev/stdout' was refused for its lack of an extension: a table is written there
    as CSV, a model as .npz, and the summary goes to stderr, out of the data. Redirected
    to a file for appending (>>), the output is appended, not renamed over the file."""
    argv, suffix = {"predict": (["predict", files["model"], files["npy"]], ".csv"),
                    "fit": (["fit", files["npy"], "-k", "2", *FIT], ".npz")}[command]
    expected = tmp_path / f"expected{suffix}"
    assert main([*argv, "-o", str(expected), "--quiet"]) == 0
    env = dict(os.environ, PYTHONPATH=ROOT)
    command_line = [sys.executable, "-m", "fastem", *argv, "-o", "/dev/stdout", "--quiet"]
    piped = subprocess.run(command_line, capture_output=True, env=env, check=False)
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr.decode().startswith(("wrote labels", "fitted"))
    _assert_same_output(piped.stdout, expected, suffix)
    appended = tmp_path / f"appended{suffix}"
    appended.write_bytes(b"before\n")
    with open(appended, "ab") as f:
        done = subprocess.run(command_line, stdout=f, stderr=subprocess.PIPE, env=env,
                              check=False)
    assert done.returncode == 0, done.stderr
    content = appended.read_bytes()
    assert content.startswith(b"before\n")
    _assert_same_output(content[len(b"before\n"):], expected, suffix)


@pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="needs UNIX sockets")
@pytest.mark.parametrize("case", range(6))
def test_an_output_that_is_a_socket_is_refused_and_kept(files, capsys, case):
    """A UNIX socket given as the output was replaced by a regular file (the rename
    removed its name): it is refused, before the work, and stays a socket."""
    import shutil
    import tempfile

    argv, suffix = _outputs(files)[case]
    directory = tempfile.mkdtemp(dir="/tmp")  # a socket's path is short (108 bytes)
    try:
        path = os.path.join(directory, f"s{suffix}")
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(path)
            status, out, err = run(capsys, *argv, "-o", path)
            assert status == 1 and err.count("\n") == 1, err
            assert f"cannot write {path!r}: it is a socket" in err, err
            assert stat.S_ISSOCK(os.lstat(path).st_mode)
            assert "fitted" not in out and "wrote" not in out
    finally:
        shutil.rmtree(directory)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="gives a file to another user (root only)")
@pytest.mark.parametrize("case", range(6))
def test_an_output_replaced_by_root_keeps_its_owner_and_group(files, capsys, tmp_path, case):
    """An output replaced by root (a model refitted by a cron job, say) became root's,
    its mode kept: its owner could no longer write it. The new file takes the old one's
    owner and group."""
    argv, suffix = _outputs(files)[case]
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    output = tmp_path / f"out{suffix}"
    assert main([*argv, "-o", str(output)]) == 0, capsys.readouterr().err
    os.chown(output, 65534, 65534)
    os.chmod(output, 0o644)
    assert main([*argv, "-o", str(output)]) == 0, capsys.readouterr().err
    st = output.stat()
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (65534, 65534, 0o644)


def test_save_through_a_symbolic_link_keeps_the_link_and_the_mode(files, tmp_path):
    model = fastem.load(files["model"])
    target, link = tmp_path / "m.npz", tmp_path / "current.npz"
    model.save(target)
    os.chmod(target, 0o600)
    link.symlink_to(target)
    model.save(link)
    assert link.is_symlink() and link.resolve() == target
    assert (target.stat().st_mode & 0o777) == 0o600
    assert fastem.load(link).n_components == model.n_components
    assert sorted(p.name for p in tmp_path.iterdir()) == ["current.npz", "m.npz"]


# ----------------------------------------------------------------------
# output paths: resolved as the operating system resolves them, errors name them


def _writers(files):
    return {
        "fit": (["fit", files["npy"], "-k", 2, *FIT], ".npz"),
        "select": (["select", files["npy"], "--k", 1, "--covariance", "full"], ".npz"),
        "predict": (["predict", files["model"], files["npy"]], ".csv"),
        "impute": (["impute", files["model"], files["npy"]], ".npy"),
        "sample": (["sample", files["model"], "-n", 5], ".parquet"),
    }


@pytest.mark.parametrize("prefix, missing", [("sub/../", "sub"), ("~/", "~")])
@pytest.mark.parametrize("command", ["fit", "select", "predict", "impute", "sample"])
def test_an_output_in_a_missing_directory_is_named_as_given(files, capsys, tmp_path, monkeypatch,
                                                            command, prefix, missing):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    argv, ext = _writers(files)[command]
    output = f"{prefix}out{ext}"
    status, out, err = run(capsys, *argv, "-o", output)
    assert status == 1 and out == "" and err.count("\n") == 1, err
    assert f"cannot write {output!r}: directory {missing!r} does not exist" in err
    assert ".tmp" not in err and "fastem-" not in err
    assert os.listdir(tmp_path) == []  # not ./out (the path's spelling without 'sub/..')


@pytest.mark.parametrize("command", ["predict", "impute", "sample"])
def test_a_failed_write_names_the_output_not_the_temporary_file(files, capsys, tmp_path,
                                                                monkeypatch, command):
    argv, ext = _writers(files)[command]
    monkeypatch.setattr(fastem_io, "_temporary_name",
                        lambda target: str(tmp_path / "gone" / f".out{ext}.tmp"))
    output = str(tmp_path / f"out{ext}")
    status, out, err = run(capsys, *argv, "-o", output)
    assert status == 1 and err.count("\n") == 1, err
    assert f"cannot write {output!r}" in err and ".tmp" not in err
    assert not os.path.exists(output)


def test_progress_gives_the_time_per_pass_of_accelerated_steps(monkeypatch):
    """An accelerated step counts three passes: the progress line divides its time by
    them. Before, the time of the three passes was shown as one iteration's."""
    from fastem import cli

    clock = iter(np.arange(0.0, 100.0, 3.0))  # 3 s between calls, whatever they count
    monkeypatch.setattr(cli.time, "perf_counter", lambda: float(next(clock)))
    stream = io.StringIO()
    progress = cli.Progress(stream, live=False)
    model = fastem.GaussianMixture(2, max_iter=30)
    for n_iter in (1, 2, 5, 6, 1, 4):  # the last two: a second initialization
        progress(model, n_iter, -1.0)
    per_iter = [float(line.split()[-2]) for line in stream.getvalue().splitlines()]
    assert per_iter == [3.0, 3.0, 1.0, 3.0, 3.0, 1.0]


@pytest.mark.parametrize("argv, option, close, command", [
    (["fit", "{npy}", "--n-compnents", "2", "-o", "{out}"], "--n-compnents", "--n-components",
     "fit"),  # argparse reported -k missing
    (["fit", "{npy}", "-k", "2", "--max-iters", "5", "-o", "{out}"], "--max-iters", "--max-iter",
     "fit"),
    (["fit", "{npy}", "-k", "2", "--covarience=full", "-o", "{out}"], "--covarience",
     "--covariance", "fit"),
    (["predict", "{model}", "{npy}", "--probas", "-o", "{out}"], "--probas", "--proba",
     "predict"),
    (["fit", "{npy}", "-k", "2", "--zzz", "-o", "{out}"], "--zzz", None, "fit"),
    # the dashes that every option has are not counted as a likeness
    (["fit", "{npy}", "-k", "2", "--bogus", "-o", "{out}"], "--bogus", None, "fit"),
    (["fit", "{npy}", "-k", "2", "--foo", "-o", "{out}"], "--foo", None, "fit"),
    (["predict", "{model}", "{npy}", "--n", "3", "-o", "{out}"], "--n", None, "predict"),
    (["sample", "{model}", "--sep", ",", "-o", "{out}"], "--sep", None, "sample"),
    (["fit", "{npy}", "-k", "2", "---max-iter", "5", "-o", "{out}"], "---max-iter",
     "--max-iter", "fit"),
])
def test_an_unknown_option_names_its_command_and_the_close_one(files, capsys, tmp_path, argv,
                                                                option, close, command):
    status, out, err = run(capsys, *[a.format(npy=files["npy"], model=files["model"],
                                              out=tmp_path / "out.npz") for a in argv])
    assert status == 2 and out == "" and err.count("\n") == 1, err
    assert f"{option} is not an option of 'fastem {command}'." in err, err
    assert (f"Did you mean {close!r}?" in err) if close else "Did you mean" not in err, err
    assert f"(see 'fastem {command} --help')" in err, err


@pytest.mark.parametrize("argv, option, command, others", [
    (["predict", "{model}", "{npy}", "--max-iter", "3", "-o", "{out}"], "--max-iter", "predict",
     "'fastem fit' and 'fastem select'"),
    (["fit", "{npy}", "-k", "2", "--proba", "-o", "{out}"], "--proba", "fit", "'fastem predict'"),
    (["score", "{model}", "{npy}", "--n-samp", "3"], "--n-samp", "score",
     "'fastem sample' and 'fastem demo'"),
])
def test_an_option_of_another_command_names_that_command(files, capsys, tmp_path, argv, option,
                                                         command, others):
    status, out, err = run(capsys, *[a.format(npy=files["npy"], model=files["model"],
                                              out=tmp_path / "out.npz") for a in argv])
    assert status == 2 and out == "" and err.count("\n") == 1, err
    assert (f"{option} is not an option of 'fastem {command}'. It is an option of {others}."
            in err), err
    assert "Did you mean" not in err, err


def test_what_follows_double_dash_is_not_called_an_option(files, capsys, tmp_path):
    status, out, err = run(capsys, "fit", files["npy"], "-k", "2", "-o", str(tmp_path / "m.npz"),
                           "--", "--max-iters")
    assert status == 2 and out == "" and "unrecognized arguments: -- --max-iters" in err, err
    assert "not an option" not in err and "Did you mean" not in err, err


@pytest.mark.parametrize("command, stream", [
    (["fit", "-", "-k", "2", "-o", "{d}/m.npz"], "input"),
    (["fit", "{npy}", "-k", "2", "-o", "-"], "output"),
    (["select", "{npy}", "--k", "1-2", "-o", "-"], "output"),
    (["predict", "{model}", "-", "-o", "{d}/l.npy"], "input"),
    (["predict", "{model}", "{npy}", "-o", "-"], "output"),
    (["score", "{model}", "-"], "input"),
    (["impute", "{model}", "{npy}", "-o", "-"], "output"),
    (["sample", "{model}", "-n", "5", "-o", "-"], "output"),
    (["info", "-"], "input"),
    (["predict", "-", "{npy}", "-o", "{d}/l.npy"], "input"),
    (["score", "-", "{npy}"], "input"),
    (["impute", "-", "{npy}", "-o", "{d}/i.npy"], "input"),
    (["sample", "-", "-n", "5", "-o", "{d}/s.npy"], "input"),
])
def test_a_dash_for_a_standard_stream_is_refused_with_why(files, capsys, command, stream):
    """'-' is named as the stream a script meant, not as a file without an extension;
    for standard output, the name that writes it."""
    argv = [a.format(d=files["dir"], npy=files["npy"], model=files["model"]) for a in command]
    status, out, err = run(capsys, *argv)
    assert status == 1 and out == ""
    assert f"'-' would be standard {stream}, which fastem " in err, err
    assert ("named /dev/stdout" in err) == (stream == "output"), err
    assert "give a path ending in one of" in err


def test_the_demo_times_a_fit_that_compiles_nothing():
    """The warm-up reaches every compiled function the timed fit calls.

    Counted in a fresh process by the signatures of fastem's Numba dispatchers, which a
    first call adds whether it compiles or loads from the disk cache: the timed fit of
    ``fastem demo`` must add none. (A 2-pass warm-up left the covariances' helper of the
    last M-step to the timed fit: compilation timed as fitting on a first run.)
    """
    script = textwrap.dedent("""
        import gc
        from numba.core.dispatcher import Dispatcher
        from fastem import cli

        def signatures():
            return {(d.py_func.__module__, d.py_func.__qualname__, s)
                    for d in gc.get_objects() if isinstance(d, Dispatcher)
                    and d.py_func.__module__.startswith("fastem") for s in d.overloads}

        fit_with, added = cli._fit_with, []

        def timed(model, X, progress):
            before = signatures()
            seconds = fit_with(model, X, progress)
            added.extend(sorted(str(s[:2]) for s in signatures() - before))
            return seconds

        cli._fit_with = timed
        assert cli.main(["demo", "--n-samples", str(2 * cli._DEMO_WARMUP), "--json"]) == 0
        print("added:", added)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "added: []"


@pytest.mark.parametrize("covariance", ["full", "tied", "diag", "spherical"])
def test_the_printed_means_tell_apart_components_far_from_zero(capsys, tmp_path, covariance):
    # Two clusters 0.3 apart at 1e6, of sd 0.05: with 4 significant digits every
    # mean printed as 1e+06, and the table of a fit or of info told nothing apart.
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 0.05, (200, 2)), rng.normal(0.3, 0.05, (200, 2))]) + 1e6
    data, path = tmp_path / "d.npy", tmp_path / "m.npz"
    np.save(data, X)
    status, fitted, _ = run(capsys, "fit", data, "-k", 2, "--covariance", covariance,
                            "-o", path)
    assert status == 0
    status, info, _ = run(capsys, "info", path)
    assert status == 0
    model = fastem.load(path)
    sd = np.sqrt(np.diagonal(model._float64_covariances(), axis1=1, axis2=2))
    for out in (fitted, info):
        lines = out.splitlines()
        start = next(i for i, line in enumerate(lines) if "component  weight" in line) + 1
        rows = [line.split() for line in lines[start:start + 2]]
        printed = np.array([[float(v) for v in row[2:4]] for row in rows])
        assert np.abs(printed - model.means_).max() < 0.1 * sd.min()
    # data near 0 keep 4 digits
    np.save(data, X - 1e6)
    status, out, _ = run(capsys, "fit", data, "-k", 2, "--covariance", covariance, "-o", path)
    assert status == 0
    means = fastem.load(path).means_
    assert f"{means[0, 0]:.4g}" in out and f"{means[0, 0]:.5g}" not in out


def test_the_printed_rates_tell_apart_poisson_components_far_from_zero(capsys, tmp_path):
    # Counts of rates 1e8 and 1.0005e8, 5 standard deviations (sqrt(rate), 1e4) apart:
    # with 4 significant digits both rates printed as 1e+08 in the table of fit and info.
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.poisson(1e8, (500, 1)), rng.poisson(1e8 + 5e4, (500, 1))])
    data, path = tmp_path / "d.npy", tmp_path / "m.npz"
    np.save(data, X.astype(np.float64))
    status, fitted, _ = run(capsys, "fit", data, "-k", 2, "--family", "poisson", "-o", path)
    assert status == 0
    status, info, _ = run(capsys, "info", path)
    assert status == 0
    rates = fastem.load(path).rates_[:, 0]
    assert abs(rates[1] - rates[0]) > 3e4
    for out in (fitted, info):
        lines = out.splitlines()
        start = next(i for i, line in enumerate(lines) if "component  weight" in line) + 1
        printed = np.array([float(line.split()[2]) for line in lines[start:start + 2]])
        assert np.abs(printed - rates).max() < 0.1 * np.sqrt(rates.min())
    # rates near 0 keep 4 digits
    np.save(data, rng.poisson([[0.7], [4.9]], (2, 500)).reshape(-1, 1).astype(np.float64))
    status, out, _ = run(capsys, "fit", data, "-k", 2, "--family", "poisson", "-o", path)
    assert status == 0
    rate = fastem.load(path).rates_[0, 0]
    assert f"{rate:.4g}" in out and f"{rate:.5g}" not in out


@pytest.mark.parametrize("names", [["a\nb", "c"], ["a\tb", "c"], ["a, b", "c"], [" a", "c"],
                                   ["", "c"]])
def test_names_that_would_break_the_table_are_quoted(capsys, tmp_path, names):
    # A line break in a name split the features line and the table's header in two, a
    # tab ran into the next column, and a comma or spaces around a name went unquoted
    # in the table's titles ('mean a, b', 'mean  a'); an empty name was no name at all
    # ('features: 2 (, c)', a title 'mean ').
    pd = pytest.importorskip("pandas")
    X, _ = make_demo_data(200, random_state=0)
    path = tmp_path / "m.npz"
    fastem.GaussianMixture(2, random_state=0, max_iter=30, tol=1e-2).fit(
        pd.DataFrame(X, columns=names)).save(path)
    status, out, _ = run(capsys, "info", path)
    assert status == 0
    lines = out.splitlines()
    assert len(lines) == 4 + 2, out  # class, features, record, header, a row per component
    shown = [repr(n) for n in names]
    assert f"features: 2 ({', '.join(shown)})" in lines[1]
    assert all(f"mean {s}" in lines[3] and f"sd {s}" in lines[3] for s in shown)
    assert "\t" not in out


def test_the_help_lists_progress_only_on_the_commands_that_show_it(capsys, tmp_path):
    """Every command's help listed ``--progress`` ("show progress on stderr even when it is
    not a terminal"), which every command but fit, select and demo refuses: it shows none."""
    from fastem.cli import _PROGRESS_COMMANDS, build_parser

    parser = build_parser()
    for command in parser.commands:
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        out = capsys.readouterr().out
        assert ("--progress" in out) == (command in _PROGRESS_COMMANDS), (command, out)
    assert set(_PROGRESS_COMMANDS) < set(parser.commands)
    status, _, err = run(capsys, "sample", tmp_path / "m.npz", "-n", 5, "-o", tmp_path / "s.npy",
                         "--progress")
    assert status == 2 and "--progress has no effect on 'fastem sample'" in err


def test_the_tol_help_of_select_names_no_option_it_lacks(capsys):
    """``fit`` and ``select`` share their EM options; ``--tol``'s help named ``--bayesian``,
    which ``select`` does not have."""
    from fastem.cli import build_parser

    for command, bayesian in (("select", False), ("fit", True)):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        out = capsys.readouterr().out
        assert ("--bayesian" in out) == bayesian, out


# ----------------------------------------------------------------------
# a library's messages in the words of the command line


@pytest.fixture(scope="module")
def family_files(tmp_path_factory):
    """Data of every family: real numbers (some missing), positive values, counts, and
    real numbers far from 0 against their spread, as float32."""
    d = tmp_path_factory.mktemp("words")
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0.0, 1.0, (150, 2)), rng.normal(5.0, 1.0, (150, 2))])
    paths = {"gaussian": d / "x.npy", "exponential": d / "pos.npy", "poisson": d / "n.npy",
             "missing": d / "miss.npy", "far32": d / "far32.npy", "same": d / "same.npy"}
    np.save(paths["gaussian"], X)
    np.save(paths["exponential"], np.abs(X) + 0.1)
    np.save(paths["poisson"], rng.poisson(3.0, X.shape).astype(float))
    np.save(paths["missing"], np.where(rng.random(X.shape) < 0.1, np.nan, X))
    np.save(paths["far32"], (X + 3e5).astype(np.float32))
    np.save(paths["same"], np.ones((50, 2)))
    return paths


def _no_python_names(err):
    for name in ("max_iter", "tol=", "reg_covar", "n_components", "random_state",
                 "init_params", "astype", "select_n_components", "result."):
        assert name not in err, err


@pytest.mark.parametrize("data, options", [
    ("gaussian", []),
    ("gaussian", ["--covariance", "diag", "--dtype", "float32"]),
    ("gaussian", ["--bayesian"]),
    ("missing", ["--missing", "em"]),
    ("exponential", ["--family", "exponential"]),
    ("poisson", ["--family", "poisson"]),
])
def test_the_max_iter_warning_names_the_options(family_files, capsys, tmp_path, monkeypatch,
                                                 data, options):
    """The warning of a fit that did not converge named max_iter=1 and tol=0.0, the Python
    parameters, not --max-iter and --tol; also where ``python -W error`` makes it an error."""
    argv = ["fit", family_files[data], "-k", 2, "--max-iter", 1, "--tol", 0, *options,
            "-o", tmp_path / "m.npz"]
    status, _, err = run(capsys, *argv)
    assert status == 0
    assert ("did not converge in --max-iter 1 iterations" in err
            and "above --tol 0.0). Increase --max-iter or --tol," in err), err
    _no_python_names(err)
    monkeypatch.setattr(sys, "warnoptions", ["error"])
    status, _, err = run(capsys, *argv)
    assert status == 1 and "Increase --max-iter or --tol," in err, err
    _no_python_names(err)


def test_the_python_api_keeps_its_parameter_names(family_files):
    X = np.load(family_files["gaussian"])
    with pytest.warns(fastem.ConvergenceWarning, match=r"in max_iter=1 iterations .* "
                      r"above tol=0.0\)\. Increase max_iter or tol,"):
        fastem.GaussianMixture(2, max_iter=1, tol=0.0).fit(X)


def test_the_unsettled_selection_warning_names_the_options(family_files, capsys):
    status, _, err = run(capsys, "select", family_files["gaussian"], "-k", "1-3",
                         "--max-iter", 2, "--tol", 0)
    assert status == 0
    assert ("Pass a larger --max-iter (or a larger --tol). The '~' marks of the table show "
            "every fit that did not converge." in err), err
    _no_python_names(err)


@pytest.mark.parametrize("family", ["gaussian", "exponential", "poisson"])
def test_the_empty_component_warning_names_the_options(family_files, capsys, tmp_path, family):
    status, _, err = run(capsys, "fit", family_files["same"], "-k", 3, "--family", family,
                         "-o", tmp_path / "m.npz")
    assert status == 0
    assert "The data support fewer components: use -k 1, or another --seed." in err, err
    _no_python_names(err)


@pytest.mark.parametrize("argv, expected", [
    (["fit", "{gaussian}", "-k", "2", "--tol", "inf"], "--tol must be a finite number, got inf."),
    (["select", "{gaussian}", "-k", "1-2", "--tol", "inf"],
     "--tol must be a finite number, got inf."),
    (["fit", "{gaussian}", "-k", "2", "--reg-covar", "inf"],
     "--reg-covar must be a finite number, got inf."),
    (["fit", "{same}", "-k", "3", "--reg-covar", "0"], "increase --reg-covar, or scale"),
    (["select", "{same}", "-k", "2-3", "--reg-covar", "0"], "increase --reg-covar, or scale"),
    (["fit", "{gaussian}", "-k", "301"],
     "Expected as many data rows as components, got -k 301 with only 300 data row(s)."),
])
def test_errors_of_the_library_name_the_options(family_files, capsys, tmp_path, argv, expected):
    argv = [a.format(**family_files) for a in argv]
    status, _, err = run(capsys, *argv, *(["-o", tmp_path / "m.npz"] if argv[0] == "fit" else []))
    assert status == 1 and err.startswith("fastem: error: ") and expected in err, err
    _no_python_names(err)


@pytest.mark.parametrize("command", ["fit", "select"])
def test_float32_advice_names_dtype_float64(family_files, capsys, tmp_path, command):
    """Advice to fit X.astype(np.float64) is --dtype float64 on the command line."""
    output = ["-o", tmp_path / "m.npz"] if command == "fit" else []
    status, _, err = run(capsys, command, family_files["far32"], "-k", 2, *output)
    assert status == 0 and "rerun with --dtype float64." in err, err
    _no_python_names(err)


@pytest.mark.parametrize("argv, expected", [
    (["fit", "{csv}", "-k", "0"], "argument -k/--k/--n-components: must be >= 1, got 0"),
    (["select", "{csv}", "-k", "0"], "argument -k/--k/--n-components: expected positive"),
    (["fit", "{csv}", "-k", "2", "--reg-covar", "-1"], "argument --reg-covar: must be a number"),
    (["select", "{csv}", "--n-init", "0"], "argument --n-init: must be >= 1, got 0"),
    (["fit", "{csv}", "-k", "2", "--max-iter", "-5"], "argument --max-iter: must be >= 0, got -5"),
    (["select", "{csv}", "--tol", "-1"], "argument --tol: must be a number >= 0, got '-1'"),
    # what the user typed is quoted as typed
    (["fit", "{csv}", "-k", "2", "max_iter=3"], "unrecognized arguments: max_iter=3"),
])
def test_bad_option_values_are_named_by_the_option(files, capsys, tmp_path, argv, expected):
    argv = [a.format(csv=files["csv"]) for a in argv]
    status, _, err = run(capsys, *argv, *(["-o", tmp_path / "m.npz"] if argv[0] == "fit" else []))
    assert status == 2 and expected in err, err


def test_quoted_names_and_paths_are_not_rewritten(capsys, tmp_path):
    """A column or a directory named like a parameter is quoted in a message, and stays so."""
    (tmp_path / "max_iter").mkdir()
    path = tmp_path / "max_iter" / "d.csv"
    path.write_text("tol,max_iter,n_components\n1,-2,3\n4,5,6\n7,8,9\n")
    status, _, err = run(capsys, "fit", path, "-k", 2, "--family", "exponential",
                         "-o", tmp_path / "m.npz")
    assert status == 1
    assert "in feature 'max_iter'; the first is -2.0" in err and repr(str(path)) in err, err
    assert "--max-iter" not in err and "-k" not in err, err


def test_cli_words_rewrites_only_unquoted_parameters():
    from fastem._cli_words import cli_words
    from fastem.cli import build_parser

    commands = build_parser().commands
    message = ("column 'tol' of \"/d/max_iter's.csv\": tol=0.5 is above max_iter, missing='em' "
               "and the missing values, n_components=3. Use another init_params or "
               "random_state; self.tol, --max_iter, max_iter(3), np.asarray(x, dtype=float) "
               "and f(g(1), tol=2) are code (tol=3)")
    assert cli_words(message, commands["fit"]) == (
        "column 'tol' of \"/d/max_iter's.csv\": --tol 0.5 is above --max-iter, --missing em "
        "and the missing values, -k 3. Use another --seed; self.tol, --max_iter, max_iter(3), "
        "np.asarray(x, dtype=float) and f(g(1), tol=2) are code (--tol 3)")
    # select names the number of components -k too; sample has no --tol nor --max-iter
    assert cli_words("n_components=[2, 3] and n_components", commands["select"]) == (
        "n_components=[2, 3] and -k")
    assert cli_words("tol=0.5, random_state=3", commands["sample"]) == "tol=0.5, --seed 3"
    # an aside that says the Python API's words beside the option's
    for aside in ("fit with --missing em (missing='em' in Python) to fit them",
                  "pass --header no (header=False in Python: Chunks(..., header=False))",
                  "(header=False or True in fastem.Chunks)",
                  "the result of fastem.select_n_components."):
        assert cli_words(aside, commands["fit"]) == aside
    shape = "X must have shape (n_samples, n_components), got n_samples=0"
    assert cli_words(shape, commands["sample"]) == shape.replace("n_samples=", "-n ")


def test_cli_words_takes_linear_time_in_the_message():
    """A message that lists many names outside quotes (or in parentheses of prose): each
    name looked back over the text before it for the parentheses that hold it, some 13 s
    for 5,000 names and 52 s for 10,000, where it now takes milliseconds."""
    import time

    from fastem._cli_words import cli_words
    from fastem.cli import build_parser

    fit = build_parser().commands["fit"]
    names = ", ".join(f"col_{i} (row_{i})" for i in range(5_000))
    message = f"X lacks {names}; max_iter=3 (tol=1e-3) and f(tol=2)."
    start = time.perf_counter()
    rewritten = cli_words(message, fit)
    assert time.perf_counter() - start < 1.0
    assert rewritten == message.replace("max_iter=3 (tol=1e-3)", "--max-iter 3 (--tol 1e-3)")


def test_an_aside_on_the_python_api_keeps_its_words(capsys, tmp_path):
    """A message that gives both tongues, the option and its Python parameter, keeps the
    Python one: '(--encoding NAME on the command line, encoding=NAME in Python: ...)' had
    become '--encoding NAME in Python'."""
    path = tmp_path / "latin.csv"
    path.write_bytes(b"caf\xe9,b\n1,2\n3,4\n")
    status, _, err = run(capsys, "fit", path, "-k", 1, "--encoding", "utf-8",
                         "-o", tmp_path / "m.npz")
    assert status == 1
    assert "(--encoding NAME on the command line, encoding=NAME in Python: utf-8," in err, err


def test_score_text_of_values_far_from_the_model_is_readable(tmp_path, capsys):
    """An exponential model scores any value: the text of a log-likelihood of -1e299 was
    a 300-digit number; it is written in scientific notation, the same number as --json's."""
    X = np.random.default_rng(0).exponential(2.0, (300, 1))
    model_path = tmp_path / "model.npz"
    fastem.ExponentialMixture(2, random_state=0).fit(X).save(model_path)
    far = tmp_path / "far.npy"
    np.save(far, np.array([[1e300], [1.0]]))
    status, out, _ = run(capsys, "score", str(model_path), str(far))
    assert status == 0
    lines = dict(line.split(None, 1) for line in out.strip().splitlines())
    assert max(len(v) for v in lines.values()) < 30, out
    status, json_out, _ = run(capsys, "score", str(model_path), str(far), "--json")
    result = json.loads(json_out)
    np.testing.assert_allclose(float(lines["mean_log_likelihood"]), result["mean_log_likelihood"], rtol=1e-9)


def _named_columns_cases():
    """(data (n, 3), a header or None, the command's options, the feature's name, the fault's
    column) for messages of the library that name a feature: a range error, a
    RegularizationWarning, a negative entry of an exponential mixture."""
    rng = np.random.default_rng(0)
    wide = rng.normal(size=(200, 3))
    wide[:, 2] *= 1e160
    blobs = np.concatenate([rng.normal(size=(200, 2)) * 0.5 + c for c in ([0, 0], [5, 0], [0, 5])])
    narrow = np.c_[rng.normal(size=600), blobs * [1.0, 3e-4]]  # column 2 below reg_covar
    negative = np.abs(wide / [1.0, 1.0, 1e160])
    negative[5, 2] = -1.0
    return [
        (wide, "fit", ["-k", "2"]),
        (wide, "select", ["-k", "1-2", "--covariance", "diag"]),
        (narrow, "fit", ["-k", "3", "--seed", "0"]),
        (negative, "fit", ["-k", "2", "--family", "exponential"]),
    ]


@pytest.mark.parametrize("header", [True, False], ids=["names", "no-names"])
@pytest.mark.parametrize("case", range(4), ids=["range", "select-range", "warning", "entry"])
def test_library_messages_name_features_by_the_columns_read(capsys, tmp_path, case, header):
    """A message of the library run by a command names a feature as the command line names
    the file's columns (their names, else x<0-based place in the file>), as a fit of a
    DataFrame names them: it said "feature 1", the index among the columns chosen with
    --columns, which is another column of the file (here the file's third)."""
    X, command, options = _named_columns_cases()[case]
    path = tmp_path / "data.csv"
    np.savetxt(path, X, delimiter=",", header="site,length_km,height_m" if header else "",
               comments="")
    columns = ["--columns", "1,2"] + ([] if header else ["--header", "no"])
    output = ["-o", tmp_path / "m.npz"] if command == "fit" else []
    _, _, err = run(capsys, command, path, *columns, *options, *output)
    name = "'height_m'" if header else "'x2'"
    assert f"feature {name}" in err or f"{name} (variance" in err, err
    assert "feature 1" not in err and "feature 0" not in err, err


@pytest.mark.parametrize("command", ["predict", "score"])
def test_far_data_of_a_model_fitted_on_chosen_columns_are_named_by_column(capsys, tmp_path,
                                                                         command):
    """Data too far from a model fitted on columns 1 and 2 of a file without names: the
    range error names the file's column (x2), as the model's summary does, not feature 1."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    path, model = tmp_path / "data.csv", tmp_path / "m.npz"
    np.savetxt(path, X, delimiter=",")
    assert main(["fit", str(path), "--header", "no", "--columns", "1,2", "-k", "2", "-q",
                 "-o", str(model)]) == 0
    X[:, 2] *= 1e160
    np.savetxt(path, X, delimiter=",")
    output = ["-o", tmp_path / "out.csv"] if command == "predict" else []
    status, _, err = run(capsys, command, model, path, "--header", "no", *output)
    assert status != 0 and "feature 'x2'" in err and "feature 1" not in err, err


# R's datasets::islands: the areas of the world's 48 largest land masses (thousands of
# square miles), heavy-tailed: ten of them between 12 and 16 are a cluster of variance 1.8
# where the data have 1.1e7.
_ISLANDS = [11506, 5500, 16988, 2968, 16, 184, 23, 280, 84, 73, 25, 43, 21, 82, 3745, 840, 13,
            30, 30, 89, 40, 33, 49, 14, 42, 227, 16, 36, 29, 15, 306, 44, 58, 43, 9390, 32, 13,
            29, 6795, 16, 15, 183, 14, 26, 19, 13, 12, 82]


def test_select_says_why_a_better_fit_was_set_aside_and_takes_min_variance_ratio(capsys,
                                                                                tmp_path):
    """A fit of a lower BIC set aside as collapsed was only an S in the table: the command
    line now says why (its component's variance against the floor) and how to lower the
    floor (--min-variance-ratio, which it did not have), and the option reaches
    select_n_components: with 1e-8 the ten small islands are a component, as in R's mclust
    (V,4)."""
    path = tmp_path / "islands.csv"
    np.savetxt(path, np.c_[_ISLANDS], header="area", comments="", fmt="%d")
    status, out, err = run(capsys, "select", path, "-k", "1-5", "--covariance", "diag")
    assert status == 0 and "n_components=3" in out
    assert "note: diag K=4 has a lower BIC (621.22) but was set aside as collapsed" in err, err
    assert "along feature 'area'" in err and "--min-variance-ratio" in err, err
    status, out, err = run(capsys, "select", path, "-k", "1-5", "--covariance", "diag",
                           "--min-variance-ratio", "1e-8")
    assert status == 0 and "n_components=4" in out and "note" not in err, err
    status, _, err = run(capsys, "select", path, "-k", "1-5", "-q")
    assert status == 0 and err == "", err  # --quiet: no note
    status, _, err = run(capsys, "select", path, "--family", "exponential",
                         "--min-variance-ratio", "1e-8")
    assert status != 0 and "--min-variance-ratio applies to --family gaussian only" in err


@pytest.mark.parametrize("command", ["predict", "score", "impute"])
@pytest.mark.parametrize("header", [True, False], ids=["names", "no-names"])
def test_far_data_of_columns_chosen_in_another_order_are_named_by_column(capsys, tmp_path,
                                                                        command, header):
    """A model without names of its own, given DATA's columns in another order with
    --columns: a message names the file's column (by its name, else x<0-based place in the
    file>), not the model's feature x0, which the file's first column is called."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    fitted, model = tmp_path / "fit.npy", tmp_path / "m.npz"
    np.save(fitted, X)
    assert main(["fit", str(fitted), "-k", "2", "-q", "--missing", "em", "-o", str(model)]) == 0
    X[:, 2] *= 1e160
    X[3, 1] = np.nan
    path = tmp_path / "data.csv"
    np.savetxt(path, X, delimiter=",", header="a,b,c" if header else "", comments="")
    columns = ["--columns", "c,a,b" if header else "2,0,1"] + ([] if header else ["--header", "no"])
    output = ["-o", tmp_path / "out.csv"] if command in ("predict", "impute") else []
    status, _, err = run(capsys, command, model, path, *columns, *output)
    name = "'c'" if header else "'x2'"
    assert status != 0 and f"feature {name}" in err and "'x0'" not in err, err


def test_select_advises_min_variance_ratio_only_where_it_would_clear_the_fit(capsys, tmp_path):
    """Ten values within 1e-5 of 3 beside 300 of N(0, 1): the component on them has the
    variance reg_covar gives (1e-6), below the floor of 2 * reg_covar, which no ratio lowers:
    the note says why, and no longer tells the user to give a smaller --min-variance-ratio,
    with which the same note came again."""
    rng = np.random.default_rng(0)
    path = tmp_path / "spike.csv"
    spike = np.r_[rng.normal(size=300), 3 + 1e-5 * rng.normal(size=10)]
    rng.normal(size=310)  # a column of the file left out
    np.savetxt(path, np.c_[rng.normal(size=310), spike], delimiter=",", header="x,spike",
               comments="")
    status, _, err = run(capsys, "select", path, "-k", "1-3", "--covariance", "diag")
    assert status == 0 and "set aside as collapsed" in err and "(floor 2e-06)" in err, err
    assert "--min-variance-ratio" not in err, err
