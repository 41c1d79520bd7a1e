"""Out-of-core data paths: memory maps, chunked data and output arrays.

The same EM iterations from the same initial parameters must give the same
model whether the data sit in memory, in a memory-mapped file streamed in
chunks, or in a list of ``.npy`` files.
"""

import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastem
import fastem.data
from fastem import Chunks, ConvergenceWarning, GaussianMixture
from fastem._validation import check_array
from fastem.data import ArraySource, ChunkedSource, chunk_rows

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
FITTED = ("weights_", "means_", "covariances_", "precisions_cholesky_")


def make_data(n=6000, seed=0, offset=50.0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [4.0, 1.0], [-2.0, 5.0]]) + offset
    labels = rng.integers(0, 3, n)
    X = centres[labels] + rng.normal(size=(n, 2)) * np.array([1.0, 0.6])
    weights = rng.uniform(0.0, 2.0, n)
    return X, weights


def initial_parameters(covariance_type, offset=50.0):
    precisions = {
        "full": np.tile(np.eye(2), (3, 1, 1)),
        "tied": np.eye(2),
        "diag": np.ones((3, 2)),
        "spherical": np.ones(3),
    }[covariance_type]
    return dict(
        weights_init=[0.3, 0.3, 0.4],
        means_init=np.array([[1.0, 0.0], [3.0, 2.0], [-1.0, 4.0]]) + offset,
        precisions_init=precisions,
    )


def fit_fixed(data, covariance_type, sample_weight=None, n_iter=8):
    model = GaussianMixture(
        3, covariance_type=covariance_type, max_iter=n_iter, tol=0,
        **initial_parameters(covariance_type),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(data, sample_weight=sample_weight)


def assert_same_model(a, b, rtol=1e-10):
    for name in FITTED:
        assert_allclose(getattr(a, name), getattr(b, name), rtol=rtol, atol=0, err_msg=name)


@pytest.fixture
def small_chunks(monkeypatch):
    """Make an array source stream 512-row chunks instead of 32 MiB ones."""
    monkeypatch.setattr(fastem.data, "CHUNK_BYTES", 512 * 2 * 8)
    assert chunk_rows(2, 8) == 512


def save_chunks(tmp_path, X, bounds, weights=None):
    paths, wpaths = [], []
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        paths.append(tmp_path / f"x{i}.npy")
        np.save(paths[-1], X[lo:hi])
        if weights is not None:
            wpaths.append(tmp_path / f"w{i}.npy")
            np.save(wpaths[-1], weights[lo:hi])
    return Chunks(paths, wpaths if weights is not None else None)


# ---------------------------------------------------------------------------
# the same fit from every data path


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_memory_memmap_and_chunked_files_fit_the_same(tmp_path, small_chunks, covariance_type, weighted):
    X, w = make_data()
    w = w if weighted else None
    reference = fit_fixed(X, covariance_type, w)

    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    assert_same_model(fit_fixed(mapped, covariance_type, w), reference)

    chunks = save_chunks(tmp_path, X, [0, 1000, 1001, 3500, 6000], w)
    assert_same_model(fit_fixed(chunks, covariance_type), reference)
    assert reference.n_iter_ == 8


def test_memmap_streams_in_bounded_chunks(tmp_path, small_chunks, monkeypatch):
    X, _ = make_data()
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    rows = []
    run_kernel = GaussianMixture._run_kernel

    def recording(self, X, *args, **kwargs):
        rows.append(X.shape[0])
        assert np.shares_memory(X, mapped)  # a view of the file, never a copy
        return run_kernel(self, X, *args, **kwargs)

    monkeypatch.setattr(GaussianMixture, "_run_kernel", recording)
    fit_fixed(mapped, "full", n_iter=2)
    assert max(rows) == 512
    assert sum(rows) == 2 * X.shape[0]


def test_an_array_source_s_chunks_follow_chunk_bytes(monkeypatch):
    """A source keeps its chunks' row ranges for its passes, and takes them again where
    CHUNK_BYTES has changed since."""
    X, _ = make_data()
    source = ArraySource(X)

    def ones(chunk, weights):  # one per chunk
        return np.ones(1)

    assert source.reduce(ones)[0] == 1
    monkeypatch.setattr(fastem.data, "CHUNK_BYTES", 512 * 2 * 8)
    assert source.reduce(ones)[0] == -(-X.shape[0] // 512)
    monkeypatch.setattr(fastem.data, "CHUNK_BYTES", 1024 * 2 * 8)
    assert source.reduce(ones)[0] == -(-X.shape[0] // 1024)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_check_array_keeps_a_read_only_memmap(tmp_path, dtype):
    np.save(tmp_path / "X.npy", make_data(100)[0].astype(dtype))
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    assert not mapped.flags.writeable
    checked = check_array(mapped)
    assert checked.dtype == dtype
    assert np.shares_memory(checked, mapped)

    raw = np.memmap(tmp_path / "raw.bin", dtype=dtype, mode="w+", shape=(100, 2))
    raw[:] = 1.0
    assert np.shares_memory(check_array(raw), raw)


def test_memmap_with_nan_is_rejected(tmp_path):
    X, _ = make_data(1000)
    X[777, 1] = np.nan
    np.save(tmp_path / "X.npy", X)
    with pytest.raises(ValueError, match="1 NaN or infinite"):
        GaussianMixture(2).fit(np.load(tmp_path / "X.npy", mmap_mode="r"))


# ---------------------------------------------------------------------------
# chunked sources


def test_chunked_predictions_scores_and_criteria_match_memory(tmp_path):
    X, w = make_data()
    model = fit_fixed(X, "full")
    chunks = save_chunks(tmp_path, X, [0, 2000, 2500, 6000])
    for method, kind in (("predict", "labels"), ("predict_proba", "resp"), ("score_samples", "log_prob")):
        expected = getattr(model, method)(X)
        parts = getattr(model, method)(chunks)
        assert [len(p) for p in parts] == [2000, 500, 3500]
        assert_allclose(np.concatenate(parts), expected, rtol=1e-12, atol=1e-300)
    assert_allclose(model.score(chunks), model.score(X), rtol=1e-12)
    assert_allclose(model.bic(chunks), model.bic(X), rtol=1e-12)
    assert_allclose(model.aic(chunks), model.aic(X), rtol=1e-12)
    weighted = Chunks([X[:3000], X[3000:]], [w[:3000], w[3000:]])
    assert_allclose(model.score(weighted), model.score(X, sample_weight=w), rtol=1e-12)
    stats = model.summarize(weighted)
    assert_allclose(stats.nk, model.summarize(X, w).nk, rtol=1e-12)


def test_chunks_accept_a_chunk_of_zero_weight():
    X, w = make_data(3000)
    w[:1000] = 0
    chunks = Chunks([X[:1000], X[1000:]], [w[:1000], w[1000:]])
    assert_same_model(fit_fixed(chunks, "diag"), fit_fixed(X, "diag", w))


def test_chunked_subsample_is_the_array_subsample():
    X, w = make_data(5000)
    expected = ArraySource(X, w).subsample(np.random.RandomState(3), 700)
    source = ChunkedSource(Chunks([X[:1234], X[1234:1235], X[1235:]], [w[:1234], w[1234:1235], w[1235:]]))
    got = source.subsample(np.random.RandomState(3), 700)
    assert got[0].shape == (700, 2)
    assert_array_equal(got[0], expected[0])
    assert_array_equal(got[1], expected[1])


def test_chunked_fit_without_initial_parameters_matches_memory():
    X, _ = make_data()
    chunks = Chunks([X[:2500], X[2500:]])
    a = GaussianMixture(3, random_state=0, init_params="kmeans").fit(X)
    b = GaussianMixture(3, random_state=0, init_params="kmeans").fit(chunks)
    assert a.n_iter_ == b.n_iter_
    assert_same_model(a, b)


class Protocol:
    """The chunked-data protocol without Chunks: re-iterable, yields (X, w) or X."""

    def __init__(self, parts):
        self.parts = parts
        self.passes = 0

    def __iter__(self):
        self.passes += 1
        yield from self.parts


def test_any_reiterable_follows_the_protocol():
    X, w = make_data(3000)
    source = Protocol([(X[:1000], w[:1000]), X[1000:2000], (X[2000:], None)])
    unit = np.concatenate([w[:1000], np.ones(2000)])
    model = fit_fixed(source, "tied", n_iter=3)
    assert_same_model(model, fit_fixed(X, "tied", unit, n_iter=3))
    # validation, then the iterations: every initial parameter is given, so no start is computed
    assert source.passes == 1 + 3


@pytest.mark.parametrize(
    "parts, message",
    [
        ([np.ones((5, 2)), np.ones((5, 2)), np.full((5, 2), np.nan)], "chunk 2 contains 10 NaN"),
        ([np.ones((5, 2)), np.ones((5, 3))], "chunk 1 has 3 features but chunk 0 has 2"),
        ([np.ones((5, 2), np.float32), np.ones((5, 2))], "chunk 1 is read as float64 but chunk 0 as float32"),
        ([np.ones((5, 2)), np.ones(5)], "chunk 1 must be a 2-D array"),
        ([np.ones((5, 2)), (np.ones((5, 2)), -np.ones(5))], "chunk 1, its weights: sample_weight contains 5 negative"),
        ([np.ones((5, 2)), (np.ones((5, 2)), np.ones(4))], r"chunk 1, its weights: sample_weight has shape \(4,\)"),
        ([], "yielded no chunks"),
    ],
)
def test_chunk_errors_name_the_chunk(parts, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(2).fit(Protocol(parts))


def _bad_chunks():
    """A second chunk of each kind whose error advises code, with the call it advises."""
    import pandas as pd
    import scipy.sparse

    frame = pd.DataFrame(np.ones((5, 2)), columns=["a", "b"])
    missing = frame.astype("Float64")
    missing.iloc[2, 1] = pd.NA
    return {
        "sparse": (scipy.sparse.csr_matrix(np.ones((5, 2))), TypeError, "chunk.toarray()"),
        "complex": (np.ones((5, 2), complex), ValueError, "chunk.real"),
        "Series": (frame["a"], ValueError, "chunk.to_frame()"),
        "masked": (np.ma.masked_array(np.ones((5, 2)), mask=np.eye(5, 2, dtype=bool)),
                   ValueError, "chunk.filled(np.nan)"),
        "text column": (frame.assign(b="x"), TypeError, "chunk.select_dtypes('number')"),
        "pd.NA": (missing, ValueError, "chunk.dropna()"),
        "text": (np.full((5, 2), "x"), TypeError, "np.asarray(chunk, dtype=float)"),
        "objects": (np.full((5, 2), "x", object), TypeError, "np.asarray(chunk, dtype=float)"),
    }, frame


@pytest.mark.parametrize("kind", ["sparse", "complex", "Series", "masked", "text column", "pd.NA",
                                  "text", "objects"])
def test_chunk_errors_advise_code_that_runs(kind):
    # the chunk is named "chunk 1" in the message, and "chunk" in its example code:
    # "chunk 1.dropna()" is no Python
    bad, frames = _bad_chunks()
    chunk, exc, call = bad[kind]
    first = frames if hasattr(chunk, "columns") else np.ones((5, 2))
    with pytest.raises(exc, match="chunk 1") as info:
        GaussianMixture(2).fit(Chunks([first, chunk]))
    message = str(info.value)
    assert call in message
    assert not re.search(r"chunk \d[.\[]|\(chunk \d", message), message


@pytest.mark.parametrize("stored", ["float16", "int64", "bool", "float16 .npy file"])
@pytest.mark.parametrize("first", [True, False], ids=["chunk 0", "chunk 1"])
def test_chunks_read_in_another_dtype_are_named_as_given(stored, first, tmp_path):
    """float16, integer and boolean chunks are read as float64, so beside float32 ones they
    were refused as "chunk 1 has dtype float64", a dtype the caller never gave."""
    X = np.random.default_rng(0).normal(size=(10, 2))
    other = (X > 0) if stored == "bool" else X.astype(stored.split()[0])
    if stored.endswith("file"):
        np.save(tmp_path / "part.npy", other)
        other = tmp_path / "part.npy"
    parts = [other, X.astype(np.float32)] if first else [X.astype(np.float32), other]
    given = f"float64, given as {stored.split()[0]}"
    message = (f"chunk 1 is read as float32 but chunk 0 as {given}:" if first
               else f"chunk 1 ({str(other)!r}) is read as {given}," if stored.endswith("file")
               else f"chunk 1 is read as {given}, but chunk 0 as float32")
    with pytest.raises(ValueError, match=re.escape(message) + ".*chunk.astype"):
        GaussianMixture(2).fit(Chunks(parts))


def test_one_shot_iterators_and_separate_weights_are_rejected():
    X, w = make_data(100)
    with pytest.raises(TypeError, match="one-shot iterator"):
        GaussianMixture(2).fit(iter([X[:50], X[50:]]))
    with pytest.raises(ValueError, match="cannot be given separately"):
        GaussianMixture(2).fit(Chunks([X]), sample_weight=w)


_READERS = {
    "fit": lambda model, X: GaussianMixture(2, random_state=0).fit(X),
    "fit_predict": lambda model, X: GaussianMixture(2, random_state=0).fit_predict(X),
    "partial_fit": lambda model, X: model.partial_fit(X),
    "predict": lambda model, X: model.predict(X),
    "predict_proba": lambda model, X: model.predict_proba(X),
    "score_samples": lambda model, X: model.score_samples(X),
    "score": lambda model, X: model.score(X),
    "bic": lambda model, X: model.bic(X),
    "aic": lambda model, X: model.aic(X),
    "summarize": lambda model, X: model.summarize(X),
    "select_n_components": lambda model, X: fastem.select_n_components(X, n_components=[1, 2]),
}


@pytest.mark.parametrize("kind", ["generator", "map", "list_iterator"])
@pytest.mark.parametrize("method", list(_READERS))
def test_a_one_shot_iterator_is_refused_with_what_every_method_can_do(method, kind):
    """Every method refuses a one-shot iterator of chunks, saying that chunked data are read
    more than once and how to learn from a stream: partial_fit once per batch. Before, it
    said that EM reads the data once per iteration, also to a prediction, and advised
    partial_fit to a partial_fit that had been given the stream."""
    X, _ = make_data(200)
    model = GaussianMixture(2, random_state=0).fit(X)
    parts = [X[:100], X[100:]]
    stream = {"generator": (part for part in parts), "map": map(np.asarray, parts),
              "list_iterator": iter(parts)}[kind]
    with pytest.raises(TypeError, match=rf"^X is a {kind}, a one-shot iterator, but chunked "
                       r"data are read more than once.*call partial_fit once per batch: for "
                       r"batch in stream: model\.partial_fit\(batch\)\.$"):
        _READERS[method](model, stream)


def test_chunks_that_change_between_passes_are_rejected():
    X, _ = make_data(300)

    class Shrinking:
        def __init__(self):
            self.passes = 0

        def __iter__(self):
            self.passes += 1
            yield X[:200]
            if self.passes == 1:
                yield X[200:]

    with pytest.raises(ValueError, match="changed after validation at chunk 1"):
        GaussianMixture(2, random_state=0).fit(Shrinking())


# ---------------------------------------------------------------------------
# outputs written to memory maps


@pytest.mark.parametrize("chunked", [False, True])
def test_outputs_stream_into_memmaps(tmp_path, small_chunks, chunked):
    X, _ = make_data()
    model = fit_fixed(X, "full")
    np.save(tmp_path / "X.npy", X)
    data = Chunks([X[:1000], X[1000:]]) if chunked else np.load(tmp_path / "X.npy", mmap_mode="r")
    open_memmap = np.lib.format.open_memmap
    for method, dtype, shape in (
        ("predict", np.int64, (6000,)),
        ("predict_proba", np.float64, (6000, 3)),
        ("score_samples", np.float64, (6000,)),
    ):
        out = open_memmap(tmp_path / f"{method}.npy", mode="w+", dtype=dtype, shape=shape)
        assert getattr(model, method)(data, out=out) is out
        out.flush()
        assert_allclose(np.load(tmp_path / f"{method}.npy"), getattr(model, method)(X), rtol=1e-12)


def test_output_array_of_the_wrong_shape_is_rejected():
    X, _ = make_data(100)
    model = fit_fixed(X, "diag")
    with pytest.raises(ValueError, match=r"shape \(100, 3\) and dtype float64"):
        model.predict_proba(X, out=np.empty((100, 2)))
    with pytest.raises(ValueError, match="dtype int64"):
        model.predict(X, out=np.empty(100))


def _counts_then(bad):
    rng = np.random.default_rng(0)
    return [rng.poisson(4.0, (20, 2)).astype(float), bad]


@pytest.mark.parametrize("estimator, parts, message", [
    (GaussianMixture(2, missing="em"), [np.ones((5, 2)), np.full((3, 2), np.nan)],
     r"chunk 1 has 3 row\(s\) whose every entry is missing"),
    (fastem.ExponentialMixture(2, missing="em"), _counts_then(np.array([[1.0, 2.0], [np.nan, np.nan]])),
     r"chunk 1 has 1 row\(s\) whose every entry is missing"),
    (fastem.PoissonMixture(2, missing="em"), _counts_then(np.full((4, 2), np.nan)),
     r"chunk 1 has 4 row\(s\) whose every entry is missing"),
    (fastem.PoissonMixture(2), _counts_then(-np.ones((5, 2))), "chunk 1: Negative values in data"),
    (fastem.PoissonMixture(2), _counts_then(np.full((5, 2), 0.5)), "chunk 1: .*whole numbers"),
    (fastem.ExponentialMixture(2), _counts_then(-np.ones((5, 2))), "chunk 1: Negative values in data"),
])
def test_the_familys_data_errors_name_the_chunk(estimator, parts, message):
    with pytest.raises(ValueError, match=message):
        estimator.fit(Protocol(parts))
    with pytest.raises(ValueError, match=message):
        estimator.fit(fastem.Chunks(parts))


class _SameWeightsEveryPass:
    """A chunked source that yields the same generator of weights on every pass."""

    def __init__(self, X):
        self.X = X
        self.weights = (1.0 + i % 2 for i in range(len(X)))

    def __iter__(self):
        return iter([(self.X, self.weights)])


@pytest.mark.parametrize("method", ["fit", "partial_fit", "summarize", "score", "predict"])
@pytest.mark.parametrize("where", ["Chunks chunk", "Chunks weights", "source weights"])
def test_one_shot_iterators_inside_chunked_data_are_named(where, method):
    """A generator inside chunked data was read up by the validation pass: the next pass
    said that the data had changed (its weights now of shape (0,)), naming no generator."""
    X = make_data(600)[0]
    data = {
        "Chunks chunk": lambda: Chunks([X[:300], (row for row in X[300:])]),
        "Chunks weights": lambda: Chunks(
            [X[:300], X[300:]], sample_weights=[None, (1.0 for _ in range(300))]),
        "source weights": lambda: _SameWeightsEveryPass(X),
    }[where]
    error, message = {
        "Chunks chunk": (TypeError, "chunk 1 is a generator, a one-shot iterator"),
        "Chunks weights": (TypeError, "sample_weights entry 1 is a generator, a one-shot"),
        "source weights": (ValueError, "its weights are the generator that the validation pass"),
    }[where]
    model = GaussianMixture(2, random_state=0)
    if method not in ("fit", "partial_fit"):
        model.fit(X)
    with pytest.raises(error, match=message):
        getattr(model, method)(data())


def _summarized_model(family):
    """A fitted model of ``family`` and data of its domain, with two NaN entries for
    the model of missing values."""
    X = make_data(200)[0] - 50.0
    if family == "exponential":
        return fastem.ExponentialMixture(2, random_state=0).fit(np.abs(X)), np.abs(X)
    if family == "poisson":
        counts = np.round(np.abs(X) * 3)
        return fastem.PoissonMixture(2, random_state=0).fit(counts), counts
    if family == "bayesian":
        return fastem.BayesianGaussianMixture(2, random_state=0).fit(X), X
    if family == "missing":
        X[[3, 50], [0, 1]] = np.nan
        return GaussianMixture(2, missing="em", random_state=0).fit(X), X
    return GaussianMixture(2, covariance_type=family, random_state=0).fit(X), X


SUMMARIZED = (*COVARIANCE_TYPES, "bayesian", "exponential", "poisson", "missing")


@pytest.mark.parametrize("family", SUMMARIZED)
def test_summaries_of_any_split_add_up_empty_pieces_included(family):
    """A map-reduce over pieces (np.array_split, Spark partitions) meets empty pieces:
    summarize refused them, so that sum(summarize(p) for p in pieces) failed as
    soon as there were more pieces than rows."""
    model, X = _summarized_model(family)
    whole = model.summarize(X)
    for n_pieces in (7, len(X), len(X) + 3):
        total = sum(model.summarize(piece) for piece in np.array_split(X, n_pieces))
        assert total.n_samples == whole.n_samples
        assert_allclose(total.log_likelihood, whole.log_likelihood, rtol=1e-12)
        assert_allclose(total.nk, whole.nk, rtol=1e-12)
        for name, value in whole.moments.items():
            assert_allclose(total.moments[name], value, rtol=1e-9, atol=1e-9, err_msg=name)


@pytest.mark.parametrize("family", SUMMARIZED)
@pytest.mark.parametrize("source", ["array", "float32", "zero weights", "Chunks", "dask",
                                    "dask zero weights"])
def test_an_empty_piece_summarizes_to_zero_and_alone_fits_nothing(source, family):
    """The summary of no rows, or of weights all 0, is 0 in every source; an M-step from
    such summaries alone is refused, naming why, and fit still refuses such data."""
    model, X = _summarized_model(family)
    piece, weights = X[:0], None
    if source == "float32":
        piece = piece.astype(np.float32)
    elif source == "zero weights":
        piece, weights = X[:3], np.zeros(3)
    elif source == "Chunks":
        piece = Chunks([X[:0], X[:0]])
    elif source.startswith("dask"):
        da = pytest.importorskip("dask.array")
        if source == "dask":
            piece = da.from_array(X[:0])
        else:
            piece, weights = da.from_array(X[:3]), np.zeros(3)
    empty = model.summarize(piece, sample_weight=weights)
    assert empty.n_samples == 0 and empty.log_likelihood == 0
    assert_array_equal(empty.nk, 0.0)
    for name, value in empty.moments.items():
        assert_array_equal(value, 0.0, err_msg=name)
    whole = model.summarize(X)
    added = whole + empty
    assert added.log_likelihood == whole.log_likelihood
    assert_array_equal(added.nk, whole.nk)
    before = {name: np.copy(getattr(model, name)) for name in ("weights_", "means_")
              if hasattr(model, name)}
    with pytest.raises(ValueError, match="hold no data: n_samples is 0"):
        model.m_step(empty)
    for name, value in before.items():
        assert_array_equal(getattr(model, name), value)
    refused = "minimum of 1 is required|no rows|at least one sample|is zero"
    with pytest.raises(ValueError, match=refused):
        model.fit(piece, sample_weight=weights)


def test_a_part_whose_rows_do_not_tell_its_quoted_header_from_data_takes_the_first_ones(
        tmp_path):
    """Parts of one table, each with the header of names that are numbers, quoted: a part
    whose rows below quote every value too (missing values, as csv.QUOTE_NONNUMERIC writes
    them) reads its first row as the header that the first part's rows show it to be."""
    rows = np.random.default_rng(0).normal(size=(40, 2)).tolist()
    first, second = tmp_path / "part-0.csv", tmp_path / "part-1.csv"
    first.write_text('"450","500"\n' + "".join(f"{a!r},{b!r}\n" for a, b in rows))
    second.write_text('"450","500"\n"1.5",""\n')
    model = GaussianMixture(1, missing="em").fit(Chunks([str(first), str(second)]))
    assert list(model.feature_names_in_) == ["450", "500"]
    assert_allclose(model.means_[0, 0], np.mean([a for a, _ in rows] + [1.5]))


def test_a_pair_in_chunks_and_a_tuple_of_two_rows_are_named():
    X, w = np.ones((5, 2)), np.ones(5)
    # Chunks takes weights as sample_weights; a pair among its chunks is named as such
    with pytest.raises(TypeError, match=r"chunk 1 is a pair \(chunk, weights\).*sample_weights"):
        Chunks([X, (X, w)])
    with pytest.raises(TypeError, match=r"chunk 0 is a pair"):
        Chunks([("part-0.npy", "w-0.npy")])
    # a tuple of rows is a chunk of Chunks, as a list of rows is
    rows = tuple(map(tuple, np.arange(8.0).reshape(4, 2) % 3))
    model = GaussianMixture(2, random_state=0).fit(Chunks([rows, rows]))
    assert model.n_features_in_ == 2
    # the protocol reads a tuple as (chunk, sample_weight): two rows make a 1-D chunk
    with pytest.raises(ValueError, match=r"chunk 1 is a tuple of 2 items, read as a pair "
                       r"\(chunk, sample_weight\), whose chunk is 1-D, of shape \(2,\)"):
        GaussianMixture(2).fit(Protocol([X, ((1.0, 2.0), (3.0, 4.0))]))
    with pytest.raises(ValueError, match="chunk 1: a chunk must be an array or a pair"):
        GaussianMixture(2).fit(Protocol([X, (X, w, None)]))


def test_a_pair_in_chunks_written_as_a_list_is_named():
    X, w = np.ones((5, 2)), np.ones(5)
    for pair in ([X, w], ["part-0.npy", "w-0.npy"]):
        with pytest.raises(TypeError, match=r"chunk 1 is a pair \(chunk, weights\).*sample_w"):
            Chunks([X, pair])
    # a list of rows is a chunk
    model = GaussianMixture(1).fit(Chunks([[[1.0, 2.0], [3.0, 4.0]], X]))
    assert model.n_features_in_ == 2


def test_chunks_whose_integer_column_labels_differ_are_refused():
    """Column labels that are not names (pandas' integers) are no feature names, as in
    scikit-learn, but chunks of one fit whose labels differ, such as [1, 0] after [0, 1],
    had their columns read by position: each column fitted as the other, without a word."""
    pd = pytest.importorskip("pandas")
    X = np.random.default_rng(0).normal(size=(200, 2)) * [1.0, 10.0]
    first = pd.DataFrame(X[:100], columns=[0, 1])
    swapped = pd.DataFrame(X[100:, ::-1], columns=[1, 0])
    model = fastem.GaussianMixture(1)
    with pytest.raises(ValueError, match=re.escape(
            "chunk 1 has the column labels [1, 0] but chunk 0 has [0, 1]. Every chunk must "
            "have the same columns in the same order")):
        model.fit(fastem.Chunks([first, swapped]))
    with pytest.raises(ValueError, match=re.escape("chunk 1 has the column labels [1, 0]")):
        model.fit(fastem.Chunks([first, pd.DataFrame(X[100:], columns=[1, 0])]))
    for second in (swapped[[0, 1]], X[100:], pd.DataFrame(X[100:])):  # [0, 1] or no labels
        model.fit(fastem.Chunks([first, second]))
        np.testing.assert_allclose(model.means_[0], X.mean(axis=0))


def test_chunks_of_integer_labels_beside_names_say_the_labels_are_no_names():
    """Chunk 0 labelled [0, 1] beside a chunk named ['0', '1'] is refused; the error said
    that chunk 0 has no column names at all, which its labels seem to belie."""
    pd = pytest.importorskip("pandas")
    X = np.random.default_rng(0).normal(size=(200, 2))
    chunks = fastem.Chunks([pd.DataFrame(X[:100], columns=[0, 1]),
                            pd.DataFrame(X[100:], columns=["0", "1"])])
    with pytest.raises(ValueError, match=re.escape(
            "but chunk 0 has none (labels that are not all strings, such as pandas' integers")):
        fastem.GaussianMixture(1).fit(chunks)


def test_rows_of_nan_in_a_chunk_are_counted_as_the_chunk_s():
    """The first pass stops at the first chunk with rows of NaN, so its count and row are
    the chunk's: the error said 'chunk 1: X has 1 row(s) ... the first row 500', which
    reads as a count and row of the whole data (rows 1500 and 2500 in all)."""
    X = np.random.default_rng(0).normal(size=(3000, 2))
    X[[1500, 2500]] = np.nan
    with pytest.raises(ValueError, match=re.escape(
            "chunk 1 has 1 row(s) whose every entry is missing (NaN), the first row 500 of "
            "chunk 1 (0-based)")):
        fastem.GaussianMixture(2, missing="em").fit(fastem.Chunks(np.array_split(X, 3)))


@pytest.mark.parametrize("first", [True, False], ids=["csv first", "parquet first"])
def test_a_csv_part_beside_float32_parts_is_told_to_make_them_float64(tmp_path, first):
    """A CSV file is read as float64: beside a float32 parquet part, every chunk was told to
    become float32 (chunk.astype(np.float32), 'np.save it again for a .npy file'), which no
    CSV file can be; the error names the CSV file, float64 and the parquet file's fix."""
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X = np.random.default_rng(0).normal(size=(100, 2))
    frame = pd.DataFrame(X, columns=["a", "b"])
    frame.to_csv(tmp_path / "p.csv", index=False)
    frame.astype(np.float32).to_parquet(tmp_path / "p.parquet")
    parts = [tmp_path / "p.csv", tmp_path / "p.parquet"]
    expected = (f"{str(parts[0])!r} is a CSV file, read as float64: give every chunk as float64, "
                "e.g. chunk.astype(np.float64) (np.save it again for a .npy file; for a parquet "
                "file, pd.read_parquet(path).astype(np.float64).to_parquet(path)).")
    with pytest.raises(ValueError, match=re.escape(expected)):
        fastem.GaussianMixture(2).fit(fastem.Chunks(parts if first else parts[::-1]))
    pd.read_parquet(parts[1]).astype(np.float64).to_parquet(parts[1])  # as told
    fastem.GaussianMixture(2, random_state=0).fit(fastem.Chunks(parts))


def test_a_parquet_part_of_another_dtype_is_told_how_to_save_it_again(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    X = np.random.default_rng(0).normal(size=(100, 2))
    pd.DataFrame(X, columns=["a", "b"]).astype(np.float32).to_parquet(tmp_path / "0.parquet")
    pd.DataFrame(X, columns=["a", "b"]).to_parquet(tmp_path / "1.parquet")
    parts = [tmp_path / "0.parquet", tmp_path / "1.parquet"]
    with pytest.raises(ValueError, match=re.escape(
            "pd.read_parquet(path).astype(np.float32).to_parquet(path)")):
        fastem.GaussianMixture(2).fit(fastem.Chunks(parts))
    pd.read_parquet(parts[1]).astype(np.float32).to_parquet(parts[1])  # as told
    model = fastem.GaussianMixture(2, random_state=0).fit(fastem.Chunks(parts))
    assert model.means_.dtype == np.float32


def test_chunks_of_two_dtypes_are_not_told_to_cast_beyond_float32():
    """A float64 chunk beside a float32 one was told to become float32 (chunk.astype(
    np.float32)), which makes its 1e39 infinite; the error names the value and float64."""
    X = np.random.default_rng(0).normal(size=(100, 2))
    big = X.copy()
    big[3, 1] = 1e39
    with pytest.raises(ValueError, match=r"chunk 1 holds 1e\+39 in row 3 \(0-based\) of column "
                                         r"1, beyond the range of float32.*astype\(np\.float64\)"):
        fastem.GaussianMixture(2).fit(fastem.Chunks([X.astype(np.float32), big]))
    with pytest.raises(ValueError, match=r"astype\(np\.float32\)"):
        fastem.GaussianMixture(2).fit(fastem.Chunks([X.astype(np.float32), X]))
