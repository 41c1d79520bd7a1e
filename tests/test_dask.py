"""Fitting Dask arrays on a cluster of worker processes; fastem without Dask.

One LocalCluster of 2 single-threaded worker processes serves the module.
"""

import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from fastem import ConvergenceWarning, GaussianMixture
from test_out_of_core import (
    COVARIANCE_TYPES,
    assert_same_model,
    fit_fixed,
    make_data,
)


@pytest.fixture(scope="module")
def client():
    pytest.importorskip("dask.array")
    distributed = pytest.importorskip("distributed")
    # One Numba thread per worker, so that 2 workers use the 2 cores.
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
        env={"NUMBA_NUM_THREADS": "1"},
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def data():
    return make_data()


def as_dask(X, rows=700):
    import dask.array as da

    return da.from_array(X, chunks=(rows, -1))


def test_a_callback_that_pickle_cannot_take_stays_on_the_client(client, data):
    """Only the EM loop calls the callback, on the client: the functions of the tasks no
    longer hold it. Before, a callback holding a lock made every Dask call on a cluster of
    processes fail with "Could not serialize object of type _HLGExprSequence"."""
    import threading

    X, _ = data
    lock, calls = threading.Lock(), []

    def callback(model, n_iter, lower_bound):
        with lock:
            calls.append(n_iter)

    model = GaussianMixture(2, random_state=0, max_iter=5, callback=callback)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        plain = GaussianMixture(2, random_state=0, max_iter=5).fit(as_dask(X))
        model.fit(as_dask(X))
    assert calls and calls[-1] == model.n_iter_
    assert_array_equal(model.means_, plain.means_)
    assert_array_equal(model.predict(as_dask(X)).compute(), plain.predict(as_dask(X)).compute())
    assert model.score(as_dask(X)) == plain.score(as_dask(X))
    model.partial_fit(as_dask(X))
    assert model.n_steps_ == 1
    # and the fits of a selection, and its check of collapsed components
    from fastem import select_n_components

    selection = select_n_components(as_dask(X), n_components=[1, 2], covariance_types=["full"],
                                    callback=callback)
    assert selection.best_params_ == ("full", 2)


def test_dask_unit_weights_fit_bitwise_as_no_weights(client, data):
    """Weights that are all 1 are no weights on Dask too (``_block_reduce``), as in memory
    (tests/test_sample_weight.py)."""
    import dask.array as da

    X, _ = data
    plain = fit_fixed(as_dask(X), "full", None)
    unit = fit_fixed(as_dask(X), "full", da.ones(len(X), chunks=700))
    assert unit.lower_bound_ == plain.lower_bound_
    np.testing.assert_array_equal(unit.means_, plain.means_)
    np.testing.assert_array_equal(unit.covariances_, plain.covariances_)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_dask_fit_matches_memory(client, data, covariance_type, weighted):
    import dask.array as da

    X, w = data
    w = w if weighted else None
    reference = fit_fixed(X, covariance_type, w)
    dw = None if w is None else da.from_array(w, chunks=1000)  # rechunked to X's blocks
    assert_same_model(fit_fixed(as_dask(X), covariance_type, dw), reference)


def test_workers_run_the_kernels_from_the_cache(client, data):
    fit_fixed(as_dask(data[0]), "full", n_iter=2)

    def kernel_stats():
        import fastem
        from fastem.kernels import fused_e_step, fused_e_step_serial

        # the chunks' sizes choose the skeleton; both call the one partition
        kernels = (fused_e_step.skeleton, fused_e_step_serial.skeleton, fused_e_step.partition)
        return fastem.__file__, [sum(k.stats.cache_hits.values()) for k in kernels]

    for path, hits in client.run(kernel_stats).values():
        assert path == sys.modules["fastem"].__file__  # the fastem under test
        assert hits[0] + hits[1] >= 1 and hits[2] >= 1


def test_dask_outputs_are_lazy_and_match_memory(client, data):
    import dask.array as da

    X, w = data
    model = fit_fixed(X, "diag")
    dX = as_dask(X)
    for method in ("predict", "predict_proba", "score_samples"):
        lazy = getattr(model, method)(dX)
        assert isinstance(lazy, da.Array)
        assert_allclose(lazy.compute(), getattr(model, method)(X), rtol=1e-12, atol=1e-300)
    assert_allclose(model.score(dX), model.score(X), rtol=1e-12)
    assert_allclose(model.bic(dX, sample_weight=w), model.bic(X, sample_weight=w), rtol=1e-12)
    with pytest.raises(ValueError, match="out cannot be used with Dask data"):
        model.predict(dX, out=np.empty(len(X), dtype=np.int64))


def test_dask_initialisation_uses_the_array_subsample(client, data):
    X, _ = data
    a = GaussianMixture(3, random_state=0, max_iter=0).fit(X)
    b = GaussianMixture(3, random_state=0, max_iter=0).fit(as_dask(X))
    assert_same_model(a, b)


def test_dask_fit_predict_float32_and_errors(client, data):
    X, _ = data
    X32 = X.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GaussianMixture(3, random_state=0, max_iter=3, tol=0)
        labels = model.fit_predict(as_dask(X32))
    assert model.means_.dtype == np.float32
    assert_array_equal(labels.compute(), model.predict(X32))

    bad = X.copy()
    bad[1500, 0] = np.inf
    with pytest.raises(ValueError, match="X contains 1 NaN or infinite value.*block 2"):
        GaussianMixture(2).fit(as_dask(bad))
    with pytest.raises(ValueError, match="block 2 of the dask array X contains 1"):
        model.predict(as_dask(bad)).compute()


@pytest.mark.parametrize("dtype, scale, far", [(np.float64, 1e152, 1e200), (np.float32, 1e17, 1e18)])
def test_dask_range_checks_match_memory(client, data, dtype, scale, far):
    """Data too wide for the dtype, or too far from the fitted model, are clear errors."""
    X = data[0].astype(dtype)
    wide = X.copy()
    wide[:, 0] *= scale
    with pytest.raises(ValueError, match=r"X spans .* in feature 0, too wide for float"):
        GaussianMixture(2).fit(as_dask(wide))
    model = GaussianMixture(2, max_iter=2, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    point = np.zeros((1, X.shape[1]), dtype=dtype)
    point[0, 0] = far
    with pytest.raises(ValueError, match="X with the fitted model spans .* too wide"):
        model.score(as_dask(point))
    with pytest.raises(ValueError, match="block 0 of the dask array X with the fitted model spans"):
        model.predict(as_dask(point)).compute()


def test_import_and_fit_without_dask():
    code = (
        "import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
        "import numpy as np, fastem\n"
        "X = np.random.default_rng(0).normal(size=(500, 2))\n"
        "print(fastem.GaussianMixture(2, random_state=0).fit(X).predict(X[:3]).shape)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "(3,)"


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_dask_bayesian_fit_matches_memory(client, data, covariance_type, weighted):
    import dask.array as da
    from test_bayesian import assert_same_posterior, fit_paths

    X, w = data
    w = w if weighted else None
    reference = fit_paths(X, covariance_type, w)
    dw = None if w is None else da.from_array(w, chunks=1000)
    assert_same_posterior(fit_paths(as_dask(X), covariance_type, dw), reference)


def test_dask_float32_fit_that_finishes_in_float64_matches_memory(client, monkeypatch):
    """A float32 fit that converges into its rounding noise finishes in float64, its passes
    casting slices of each block; Dask's first call, on an empty block, has no slice."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (300, 2)), rng.normal(5, 1, (300, 2))])[rng.permutation(600)]
    X32 = X.astype(np.float32)
    finishes = []
    original = GaussianMixture._finish_in_float64

    def counted(self, *args):
        finishes.append(1)
        return original(self, *args)

    monkeypatch.setattr(GaussianMixture, "_finish_in_float64", counted)
    memory = GaussianMixture(2, random_state=0).fit(X32)
    assert finishes, "this data no longer reaches the float64 finish"
    monkeypatch.undo()
    distributed = GaussianMixture(2, random_state=0).fit(as_dask(X32, rows=150))
    assert distributed.means_.dtype == np.float32
    assert_allclose(distributed.means_, memory.means_, rtol=1e-5, atol=1e-6)


def _unknown_rows(X):
    blocks = as_dask(X, rows=200)
    return blocks[blocks[:, 0] > -np.inf]  # all rows, in blocks whose lengths Dask does not know


def _unknown_columns(X):
    import dask
    import dask.array as da

    return da.from_delayed(dask.delayed(np.asarray)(X), shape=(X.shape[0], np.nan), dtype=X.dtype)


# Every method that takes data, called with X and (where it takes them) weights.
_WEIGHED = {
    "fit": lambda model, X, w: GaussianMixture(2, random_state=0).fit(X, sample_weight=w),
    "partial_fit": lambda model, X, w: GaussianMixture(2, random_state=0).partial_fit(
        X, sample_weight=w),
    "score": lambda model, X, w: model.score(X, sample_weight=w),
    "bic": lambda model, X, w: model.bic(X, sample_weight=w),
    "summarize": lambda model, X, w: model.summarize(X, sample_weight=w),
}
_CALLS = {
    **_WEIGHED,
    "predict": lambda model, X, w: model.predict(X),
    "predict_proba": lambda model, X, w: model.predict_proba(X),
    "score_samples": lambda model, X, w: model.score_samples(X),
}


@pytest.mark.parametrize("method, unknown", [
    *((method, unknown) for method in _CALLS for unknown in ("rows of X", "columns of X")),
    *((method, "sample_weight") for method in _WEIGHED),
])
def test_dask_arrays_of_unknown_sizes_are_named_with_the_fix(data, method, unknown):
    """A dask array whose block sizes are NaN (a filtered array, a DataFrame's values)
    is refused, as X or as sample_weight, with the call that gives the sizes. Before, unknown
    columns raised a TypeError from a slice, and weights of unknown length were said to have
    another length than X."""
    pytest.importorskip("dask.array")
    X, w = data
    X, w = X[:1000], w[:1000]
    model = GaussianMixture(2, random_state=0).fit(X)
    if unknown == "sample_weight":
        X, w, name = as_dask(X), _unknown_rows(np.c_[w, w])[:, 0], "sample_weight"
    else:
        X, name = (_unknown_rows if unknown == "rows of X" else _unknown_columns)(X), "X"
    with pytest.raises(ValueError, match=rf"^{name} is a dask array of shape .* whose blocks "
                       rf"have unknown sizes .*Call {name}\.compute_chunk_sizes\(\) first"):
        _CALLS[method](model, X, w)


@pytest.mark.parametrize("method", list(_WEIGHED))
def test_a_dask_dataframe_column_weighs_like_its_values(data, method):
    """sample_weight=frame['w'] beside a Dask DataFrame X gives what the same weights as a
    NumPy array give. Before, Dask raised a TypeError: the Series' length is lazy."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, w = data
    X, w = X[:1000], w[:1000]
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])]).assign(w=w)
    columns = list(frame.columns[:-1])
    lazy = dd.from_pandas(frame, npartitions=3)
    model = GaussianMixture(2, random_state=0).fit(frame[columns])
    got = _WEIGHED[method](model, lazy[columns], lazy["w"])
    expected = _WEIGHED[method](model, frame[columns], w)
    if isinstance(got, GaussianMixture):
        got, expected = got.means_, expected.means_
    elif not np.isscalar(got):
        got, expected = got.nk, expected.nk
    assert_allclose(got, expected, rtol=1e-10)


@pytest.mark.parametrize("method", list(_CALLS))
def test_a_dask_dataframe_with_a_boolean_column_reads_as_the_pandas_one(data, method):
    """A boolean column beside numbers makes a frame's values an object array: pandas'
    are read as numbers, and so are now a Dask DataFrame's, whose blocks were refused
    as objects ("X has dtype object")."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, _ = data
    X = X[:600]
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    frame = frame.assign(flag=X[:, 0] > 0, count=np.arange(len(X)) % 3)
    lazy = dd.from_pandas(frame, npartitions=3)
    model = GaussianMixture(2, random_state=0).fit(frame)
    with dask_config_synchronous():
        got = _CALLS[method](model, lazy, None)
        got = got.compute() if hasattr(got, "compute") else got
    expected = _CALLS[method](model, frame, None)
    if isinstance(got, GaussianMixture):
        assert_array_equal(got.feature_names_in_, frame.columns)
        got, expected = got.means_, expected.means_
    elif hasattr(got, "nk"):
        got, expected = got.nk, expected.nk
    assert_allclose(got, expected, rtol=1e-10)


def dask_config_synchronous():
    import dask

    return dask.config.set(scheduler="synchronous")


def _blocks_as(X, function, dtype):
    """X's row blocks through ``function``, declared as blocks of X's shape and ``dtype``."""
    return as_dask(X, rows=200).map_blocks(function, dtype=dtype)


_UNDECLARED = {  # blocks of another size than the array declares
    "rows of X": (lambda block: block[:-7], None),
    "columns of X": (lambda block: np.c_[block, block[:, :1]], None),
    "weights": (None, lambda block: block[:-7]),
}


@pytest.mark.parametrize("method, undeclared", [
    *((method, what) for method in _CALLS for what in ("rows of X", "columns of X")),
    *((method, "weights") for method in _WEIGHED),
])
def test_blocks_sized_otherwise_than_declared_are_named(data, method, undeclared):
    """A dask array whose blocks are not the size its chunks declare (map_blocks of a
    function that drops rows or adds a column, given no chunks=) is refused, naming the
    block, the sizes and compute_chunk_sizes(). Before: IndexError, a broadcasting error,
    an error blaming the model's parameters, or scores of half the rows."""
    import dask.array as da

    X, w = data
    X, w = X[:1000], w[:1000]
    model = GaussianMixture(2, random_state=0).fit(X)
    of_x, of_w = _UNDECLARED[undeclared]
    name = "X" if of_x else "sample_weight"
    dX = as_dask(X) if of_x is None else _blocks_as(X, of_x, X.dtype)
    dw = da.from_array(w, chunks=200)
    dw = dw if of_w is None else dw.map_blocks(of_w, dtype=w.dtype)
    with pytest.raises(ValueError, match=rf"^the dask array {name} has other blocks than its "
                       rf"chunks declare: block \d+ has .*Call {name}\.compute_chunk_sizes"):
        result = _CALLS[method](model, dX, dw)
        if hasattr(result, "compute"):
            result.compute()


@pytest.mark.parametrize("method", list(_CALLS))
@pytest.mark.parametrize("stored, declared", [(np.int64, np.float64), (np.float16, np.float32)])
def test_blocks_of_another_dtype_than_declared_are_read_as_declared(data, method, stored,
                                                                    declared):
    """Blocks whose dtype is not the array's (map_blocks given another dtype=) are read as
    the declared dtype, as the array's own astype would give them. Before, an integer or
    float16 block reached the kernel: 'X must be float32 or float64 for the kernel'."""
    X, w = data
    X, w = np.round(X[:1000] * 4), w[:1000]
    model = GaussianMixture(2, random_state=0).fit(X.astype(declared))
    got = _CALLS[method](model, _blocks_as(X, lambda block: block.astype(stored), declared), w)
    expected = _CALLS[method](model, X.astype(declared), w)
    if hasattr(got, "compute"):
        got = got.compute()
    if isinstance(got, GaussianMixture):
        got, expected = got.means_, expected.means_
    elif hasattr(got, "nk"):
        got, expected = got.nk, expected.nk
    assert_allclose(got, expected, rtol=1e-5)


_LATER_SETTINGS = {
    "missing": {"missing": "error"},
    "covariance_type": {"covariance_type": "spherical"},
    "n_components": {"n_components": 3},
}


# Every family with each setting it has: the Bayesian mixture fits no missing values,
# the exponential and Poisson ones have no covariance type.
_FAMILY_SETTINGS = [
    (family, setting)
    for family in ("GaussianMixture", "BayesianGaussianMixture", "PoissonMixture",
                   "ExponentialMixture")
    for setting in _LATER_SETTINGS
    if not (family == "BayesianGaussianMixture" and setting == "missing")
    and not ("Gaussian" not in family and setting == "covariance_type")
]


@pytest.mark.parametrize("family, value, message", [
    ("PoissonMixture", -1.0, r"Negative values in data passed to PoissonMixture.*X\[45, 1\]"),
    ("PoissonMixture", 1.5, r"not whole numbers, e\.g\. X\[45, 1\] = 1\.5"),
    ("ExponentialMixture", -1.0, r"Negative values in data passed to ExponentialMixture.*"
                                 r"X\[45, 1\]"),
])
@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples"])
def test_lazy_outputs_refuse_data_outside_the_family_as_an_array_does(family, value, message,
                                                                       method):
    """A block of a dask array with a negative or fractional count gave numbers (a
    log-density of -6078 for a count of -1) where the array and Chunks raise."""
    da = pytest.importorskip("dask.array")
    import dask

    import fastem

    counts = np.random.default_rng(1).poisson(3, (60, 2)).astype(float)
    model = getattr(fastem, family)(2, random_state=0).fit(counts)
    counts[45, 1] = value
    with pytest.raises(ValueError, match=message):
        getattr(model, method)(counts)
    lazy = getattr(model, method)(da.from_array(counts, chunks=20))
    with dask.config.set(scheduler="synchronous"), pytest.raises(ValueError, match=message):
        lazy.compute()


@pytest.mark.parametrize("family, setting", _FAMILY_SETTINGS)
@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples"])
def test_lazy_outputs_are_those_of_the_model_at_the_call(family, setting, method):
    """A lazy output was computed from the hyper-parameters the model had when it was
    computed: a set_params(missing='error') after the call gave NaN scores where the model
    of the call scored rows with missing entries, other settings an error."""
    import dask.array as da

    import fastem

    rng = np.random.default_rng(0)
    X = np.abs(make_data(600)[0])
    if family == "PoissonMixture":
        X = np.floor(X * 2)
    missing = {} if family == "BayesianGaussianMixture" else {"missing": "em"}
    if missing:
        X[rng.random(len(X)) < 0.2, 0] = np.nan
    model = getattr(fastem, family)(2, random_state=0, **missing).fit(X)
    expected = getattr(model, method)(X)
    lazy = getattr(model, method)(da.from_array(X, chunks=150))
    model.set_params(**_LATER_SETTINGS[setting])
    assert_array_equal(lazy.compute(), expected)


@pytest.mark.parametrize("chunked", [False, True])
def test_masked_entries_of_a_dask_array_are_missing_values(chunked):
    """A masked dask array (dask.array.ma) was read by its blocks' data, the values hidden
    under the mask included, where a NumPy masked array's masked entries are missing values
    (missing='em') or refused."""
    import dask.array as da

    from fastem import Chunks

    X = make_data(400)[0]
    hidden = np.zeros(X.shape, dtype=bool)
    hidden[::7, 1] = True
    data = np.where(hidden, 1e6, X)  # what the mask hides must not be read
    masked = da.ma.masked_array(da.from_array(data, chunks=150),
                                mask=da.from_array(hidden, chunks=150))
    given = Chunks([masked]) if chunked else masked
    with_nan = np.where(hidden, np.nan, X)
    model = GaussianMixture(2, random_state=0, missing="em").fit(given)
    expected = GaussianMixture(2, random_state=0, missing="em").fit(with_nan)
    assert_allclose(model.means_, expected.means_, rtol=1e-10)
    scores = model.score_samples(given)  # one array per chunk, or a lazy array
    scores = np.concatenate(scores) if chunked else scores.compute()
    assert_allclose(scores, expected.score_samples(with_nan), rtol=1e-10)


@pytest.mark.parametrize("chunked", [False, True])
@pytest.mark.parametrize("dtype", [np.int64, np.uint16, np.longdouble])
@pytest.mark.parametrize("missing", ["em", "error"])
def test_masked_dask_arrays_of_every_real_type_keep_their_mask(dtype, missing, chunked):
    """A masked dask array of integers or long doubles, which is converted to float64 block
    by block, kept its mask no longer: the hidden values were fitted as data, silently.

    On the threaded scheduler, not the module's cluster, where the client would be the
    default once another test made it: distributed cannot gather a masked array of long
    doubles (it reschedules the gather without end), which ``Chunks`` computes whole."""
    import dask
    import dask.array as da

    from fastem import Chunks

    X = np.round(make_data(400)[0] * 10) + 40  # whole and non-negative, for every dtype
    hidden = np.zeros(X.shape, dtype=bool)
    hidden[3::7, 1] = True
    data = np.where(hidden, 1000, X).astype(dtype)  # what the mask hides must not be read
    masked = da.ma.masked_array(da.from_array(data, chunks=150),
                                mask=da.from_array(hidden, chunks=150))
    given = Chunks([masked]) if chunked else masked
    with dask.config.set(scheduler="threads"):
        if missing == "error":
            with pytest.raises(ValueError, match="masked"):
                GaussianMixture(2, random_state=0).fit(given)
            return
        model = GaussianMixture(2, random_state=0, missing="em").fit(given)
    expected = GaussianMixture(2, random_state=0, missing="em").fit(
        np.where(hidden, np.nan, data.astype(np.float64)))
    assert_allclose(model.means_, expected.means_, rtol=1e-6)


def _undeclared_masked(values, n_blocks=2):
    """A dask array whose blocks are NumPy masked arrays, made by tasks given no meta=, so
    that its _meta is a plain ndarray."""
    import dask
    import dask.array as da

    step = len(values) // n_blocks
    blocks = [da.from_delayed(dask.delayed(lambda i: values[i * step:(i + 1) * step])(i),
                              shape=(step, *values.shape[1:]), dtype=values.dtype)
              for i in range(n_blocks)]
    return da.concatenate(blocks)


def _fit_beside_dask(X, w, X_plain):
    import dask.array as da

    return GaussianMixture(2, random_state=0).fit(da.from_array(X_plain, chunks=200),
                                                  sample_weight=w)


def _fit_chunks(X, w, X_plain):
    from fastem import Chunks

    return GaussianMixture(2, random_state=0).fit(Chunks([X]))


_UNDECLARED_MASKED_CALLS = {
    "fit": lambda X, w, X_plain: GaussianMixture(2, random_state=0).fit(X),
    "fit missing='em'": lambda X, w, X_plain: GaussianMixture(2, random_state=0, missing="em").fit(X),
    "predict": lambda X, w, X_plain: GaussianMixture(2, random_state=0).fit(X_plain).predict(X).compute(),
    "weights": _fit_beside_dask,
    "weights beside an array": lambda X, w, X_plain: GaussianMixture(2, random_state=0).fit(
        X_plain, sample_weight=w),
    "Chunks": _fit_chunks,
}


@pytest.mark.parametrize("call", list(_UNDECLARED_MASKED_CALLS))
def test_masked_blocks_of_a_dask_array_that_does_not_say_so_are_not_read_as_data(call):
    """Blocks that are masked arrays in a dask array whose _meta is a plain ndarray
    (da.from_delayed without meta=) were read by their data, the hidden values fitted."""
    X = make_data(400)[0]
    hidden = np.zeros(X.shape, dtype=bool)
    hidden[3::7, 1] = True
    masked = _undeclared_masked(np.ma.masked_array(np.where(hidden, 1e6, X), hidden))
    weights = _undeclared_masked(np.ma.masked_array(np.where(hidden[:, 1], 1e6, 1.0), hidden[:, 1]))
    with pytest.raises(ValueError, match="masked"):
        _UNDECLARED_MASKED_CALLS[call](masked, weights, X)


def test_masked_blocks_in_chunks_are_missing_values_with_missing_em():
    X = make_data(400)[0]
    hidden = np.zeros(X.shape, dtype=bool)
    hidden[3::7, 1] = True
    masked = _undeclared_masked(np.ma.masked_array(np.where(hidden, 1e6, X), hidden))
    from fastem import Chunks

    model = GaussianMixture(2, random_state=0, missing="em").fit(Chunks([masked]))
    expected = GaussianMixture(2, random_state=0, missing="em").fit(np.where(hidden, np.nan, X))
    assert_allclose(model.means_, expected.means_, rtol=1e-10)


def _refused_rows(case):
    rng = np.random.default_rng(0)
    if case == "rows of NaN":
        X = rng.standard_normal((300, 2))
        X[[10, 150, 250]] = np.nan
        return "GaussianMixture", {"missing": "em"}, X
    if case == "negative":
        X = rng.exponential(size=(300, 2))
        X[[10, 150, 250], 1] = [-1.0, -5.0, -2.0]
        return "ExponentialMixture", {}, X
    X = rng.poisson(3, size=(300, 2)).astype(float)
    X[[10, 150, 250], 0] = [0.5, 1.5, 2.5]
    return "PoissonMixture", {}, X


@pytest.mark.parametrize("case", ["rows of NaN", "negative", "not whole numbers"])
def test_fit_refuses_rows_of_every_block_as_an_array_does(case):
    """Each block checked its own rows, and the error of whichever block finished first
    said that block's count, first row and smallest value: 'X has 1 row(s) ... the first
    row 250' of three rows from row 10. The error states the whole array's."""
    da = pytest.importorskip("dask.array")
    import fastem

    family, settings, X = _refused_rows(case)
    with pytest.raises(ValueError) as from_array:
        getattr(fastem, family)(2, **settings).fit(X)
    for blocks in (100, 50):
        with pytest.raises(ValueError) as from_dask:
            getattr(fastem, family)(2, **settings).fit(da.from_array(X, chunks=(blocks, 2)))
        assert str(from_dask.value) == str(from_array.value)
    assert "X[10, " in str(from_array.value) or "row 10 " in str(from_array.value)


def test_lazy_outputs_say_that_the_refused_figures_are_of_one_block():
    """A lazy output checks each block as it computes it: its error stated the smallest
    value and first entry of whichever block failed first as the array's ('the smallest
    is -2, ... X[250, 1]' of an array whose smallest is -5, first at row 10)."""
    da = pytest.importorskip("dask.array")
    import fastem

    _, _, X = _refused_rows("negative")
    model = fastem.ExponentialMixture(2, random_state=0).fit(np.abs(X))
    with pytest.raises(ValueError) as refused:
        model.predict(da.from_array(X, chunks=(100, 2))).compute()
    text = str(refused.value)
    block = int(re.search(r"In block (\d) of the dask array X", text).group(1))
    assert f"rows {100 * block} to {100 * block + 99}" in text
    assert f"X[{[10, 150, 250][block]}, 1]" in text
