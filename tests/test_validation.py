"""Bad input: every case is rejected with a clear error, or accepted correctly.

A clear error names what was wrong, shows the value seen and says how to fix
it; the tests match on those parts of the message. Inputs that are unusual but
valid (integer, object, non-contiguous, read-only, big-endian data) must give
exactly the same model as the clean float64 array.
"""


import pathlib
import re
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastem import (
    BayesianGaussianMixture, ExponentialMixture, GaussianMixture, PoissonMixture)
from fastem.exceptions import ConvergenceWarning

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")


@pytest.fixture(scope="module")
def X():
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(size=(60, 3)), rng.normal(size=(60, 3)) + 4.0])


def make(**kw):
    kw.setdefault("random_state", 0)
    return GaussianMixture(2, **kw)


def assert_same_model(a, b):
    for name in a._parameter_names:
        assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)


# ---------------------------------------------------------------------------
# the data array


@pytest.mark.parametrize("n_features", [1, 3, 11, 12, 17])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scan_columns_matches_numpy(n_features, dtype):
    """Both loop orders of the scan (by column below 12 features, by row from 12 on)."""
    from fastem._threading import launch
    from fastem.kernels._checks import n_check_partitions, scan_columns

    rng = np.random.default_rng(n_features)
    X = (rng.normal(size=(3001, n_features)) * rng.uniform(1, 100, n_features)).astype(dtype)
    n_bad, lo, hi = launch(scan_columns, X, n_check_partitions(len(X)))
    assert n_bad == 0
    assert_array_equal(lo, X.min(axis=0))
    assert_array_equal(hi, X.max(axis=0))
    X[[0, 1500, 3000], [0, n_features - 1, n_features // 2]] = [np.nan, np.inf, -np.inf]
    assert launch(scan_columns, X, n_check_partitions(len(X)))[0] == 3


# NumPy below SERIAL_WORK (along transposed rows up to 32 columns, down the columns
# from 33), the kernel above
@pytest.mark.parametrize("n_samples, n_features", [(0, 13), (1, 13), (700, 13), (700, 40), (30_000, 13)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_data_scans_agree_with_numpy_on_both_sides_of_the_threshold(n_samples, n_features, dtype):
    from fastem._validation import find_non_integers, scan_data

    rng = np.random.default_rng(n_samples)
    X = np.rint(rng.normal(size=(n_samples, n_features)) * 50).astype(dtype)
    n_bad, lo, hi = scan_data(X)
    assert n_bad == 0 and lo.dtype == hi.dtype == np.float64
    if n_samples:
        assert_array_equal(lo, X.min(axis=0))
        assert_array_equal(hi, X.max(axis=0))
    else:
        assert np.all(lo == np.inf) and np.all(hi == -np.inf)
    assert find_non_integers(X) == (0, -1)
    if n_samples > 1:
        X[[n_samples - 1, n_samples // 2], [4, 12]] = [np.nan, 0.5]
        assert scan_data(X)[0] == 1  # the NaN; 0.5 is finite
        # NaN is a missing value, not a count that is not whole (missing='em')
        assert find_non_integers(X) == (1, (n_samples // 2) * n_features + 12)


# 70,000 rows: two chunks of the scan; 9 columns: blocks of the chunk's transposed copy;
# 40 columns: reduced down the columns
@pytest.mark.parametrize("n_samples, n_features", [(1, 3), (700, 3), (70_000, 3), (70_000, 9), (700, 40)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scan_with_missing_values_ranges_the_observed_entries(n_samples, n_features, dtype):
    from fastem._validation import scan_data

    rng = np.random.default_rng(n_samples)
    X = (rng.normal(size=(n_samples, n_features)) * 50).astype(dtype)
    X[rng.random(X.shape) < 0.2] = np.nan
    X[:, 2] = np.nan  # a column with nothing observed
    X[n_samples // 2, 0] = np.inf
    n_inf, lo, hi = scan_data(X, allow_nan=True)
    assert n_inf == 1 and lo.dtype == hi.dtype == np.float64
    # a column with nothing observed: inf and -inf, as for no rows
    assert_array_equal(lo, np.fmin(np.inf, np.fmin.reduce(X, axis=0)))
    assert_array_equal(hi, np.fmax(-np.inf, np.fmax.reduce(X, axis=0)))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_data_is_rejected(X, bad):
    Xb = X.copy()
    Xb[3, 1] = bad
    Xb[7, 0] = bad
    with pytest.raises(ValueError, match=r"X contains 2 NaN or infinite value\(s\).*isfinite"):
        make().fit(Xb)


@pytest.mark.parametrize(
    "data, hint",
    [
        (np.float64(3.0), "not a scalar"),
        (np.arange(10.0), r"X.reshape\(-1, 1\) if it has a single feature"),
        (np.zeros((4, 5, 3)), r"X.reshape\(len\(X\), -1\)"),
    ],
    ids=["0-D", "1-D", "3-D"],
)
def test_wrong_dimension_says_how_to_reshape(data, hint):
    with pytest.raises(ValueError, match=rf"got a {data.ndim}-D array of shape .*{hint}"):
        make().fit(data)


def test_fewer_samples_than_components(X):
    with pytest.raises(ValueError, match="n_components=5 with only 3 sample"):
        GaussianMixture(5).fit(X[:3])


def test_fewer_weighted_samples_than_components(X):
    w = np.zeros(len(X))
    w[:2] = 1.0
    with pytest.raises(ValueError, match="only 2 sample"):
        GaussianMixture(3).fit(X, sample_weight=w)


@pytest.mark.parametrize(
    "data, match",
    [
        (np.array([["a", "b"], ["c", "d"]]), "non-numeric dtype <U1"),
        (np.ones((4, 2), dtype="datetime64[s]"), "non-numeric dtype datetime64"),
        (np.array([[1.0, "a"], [2.0, None]], dtype=object), "object array whose entries"),
        ([[1.0, 2.0], [3.0]], "could not be converted"),
        ("data.csv", r"got the path 'data.csv'. Read a file first: .*fastem.Chunks\(\[path\]\)"),
        (b"data.npy", "got the path b'data.npy'"),
        (pathlib.Path("data.parquet"), "got the path 'data.parquet'. Read a file first"),
    ],
    ids=["str", "datetime", "object-mixed", "ragged", "string", "bytes", "pathlib"],
)
def test_non_numeric_data_is_rejected(data, match):
    with pytest.raises(TypeError, match=match):
        make().fit(data)


def test_complex_data_is_a_value_error_as_in_scikit_learn():
    with pytest.raises(ValueError, match="Complex data not supported.*complex128.*X.real"):
        make().fit(np.ones((4, 2)) + 1j)


def test_sparse_data_is_refused_with_the_fix():
    sparse = pytest.importorskip("scipy.sparse")
    X = sparse.random(50, 3, density=0.5, format="csr", random_state=0)
    for container in (X, sparse.csr_array(X), X.tocoo()):
        with pytest.raises(TypeError, match=r"sparse matrix was passed.*dense data is required.*toarray\(\)"):
            make().fit(container)
    model = make().fit(np.random.default_rng(0).normal(size=X.shape))
    with pytest.raises(TypeError, match="dense data is required"):
        model.predict(X)


@pytest.mark.parametrize(
    "shape, match",
    [((0, 3), r"0 sample\(s\) \(shape=\(0, 3\)\) while a minimum of 1 is required"),
     ((12, 0), r"0 feature\(s\) \(shape=\(12, 0\)\) while a minimum of 1 is required"),
     ((0, 0), r"0 sample\(s\) \(shape=\(0, 0\)\) while a minimum of 1 is required")],
)
def test_empty_data_messages(shape, match):
    with pytest.raises(ValueError, match=match):
        make().fit(np.empty(shape))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_, np.float16, object])
def test_integer_bool_half_and_object_data_become_float64(X, dtype):
    if dtype is object:
        data = X.astype(object)
    elif dtype is np.bool_:
        data = X > 1.0
    else:
        data = (np.abs(X) * 3).astype(dtype)
    as_float = np.asarray(data, dtype=np.float64)
    model = make(covariance_type="diag").fit(data)
    assert model.means_.dtype == np.float64
    assert_same_model(model, make(covariance_type="diag").fit(as_float))


def _with_whole_number(X, kind, tmp_path):
    """``X`` with 2**53 + 1 (which float64 rounds) in row 3 of column 1, as ``kind``."""
    import fastem

    whole = (X * 1000).astype(np.int64)
    whole[3, 1] = 2**53 + 1
    if kind == "int64":
        return whole
    if kind == "uint64":
        return np.abs(whole).astype(np.uint64)
    if kind == "object":
        return whole.astype(object)
    if kind == "Chunks of a .npy file":
        np.save(tmp_path / "whole.npy", whole)
        return fastem.Chunks([tmp_path / "whole.npy"])
    if kind == "dask array":
        return pytest.importorskip("dask.array").from_array(whole, chunks=(2, -1))
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(b=whole[:, 1])  # int64 beside floats
    if kind == "DataFrame":
        return frame
    if kind == "DataFrame of Int64":
        return frame.astype({"b": "Int64"})
    if kind == "DataFrame of Sparse[int64]":
        return frame.astype({"b": pd.SparseDtype(np.int64, 0)})
    pa = pytest.importorskip("pyarrow")
    if kind == "DataFrame of int64[pyarrow]":
        return frame.astype({"b": "int64[pyarrow]"})
    if kind == "dask DataFrame":
        return pytest.importorskip("dask.dataframe").from_pandas(frame, chunksize=2)
    return pa.Table.from_pandas(frame)  # "Arrow table"


WHOLE_KINDS = ["int64", "uint64", "object", "Chunks of a .npy file", "dask array", "DataFrame",
               "DataFrame of Int64", "DataFrame of Sparse[int64]", "DataFrame of int64[pyarrow]",
               "dask DataFrame", "Arrow table"]


@pytest.mark.parametrize("kind", WHOLE_KINDS)
@pytest.mark.parametrize("method", ["fit", "predict", "score_samples", "partial_fit"])
def test_whole_numbers_that_float64_rounds_are_refused(X, tmp_path, kind, method):
    """Data of whole numbers become float64, which holds them only up to 2**53: one that it
    would round (a 19-digit identifier, a count of nanoseconds) is named with its place and
    the fix, in every kind of input and every method, where it had been rounded silently
    (also by the conversion of a table whose integer column stands beside float ones)."""
    data = _with_whole_number(X, kind, tmp_path)
    named = kind.startswith(("DataFrame", "Arrow", "dask DataFrame"))
    model = make(covariance_type="diag")
    if method in ("predict", "score_samples"):
        pd = pytest.importorskip("pandas") if named else None
        model.fit(pd.DataFrame(X, columns=["a", "b", "c"]) if named else X)
    with pytest.raises(ValueError, match="float64 cannot hold") as info:
        result = getattr(model, method)(data)
        getattr(result, "compute", lambda: None)()  # a dask array's outputs are lazy
    message = str(info.value)
    # row 1 of block (partition) 1 of 2 rows; a partition's row in the whole is its index label
    row = {"dask array": "3 (0-based; row 1 of its block 1)",
           "dask DataFrame": "1 (0-based; index label 3)"}.get(kind, "3 (0-based)")
    assert f"holds 9007199254740993 in row {row} of column " in message
    assert ("column 'b'" if named else "column 1") in message
    assert "read as 9007199254740992; subtract an offset" in message


@pytest.mark.parametrize("dtype", ["int64", "Int64", "int64[pyarrow]", "Sparse[int64, 0]",
                                   "Sparse[uint64, 0]"])
def test_a_frame_of_integer_columns_of_any_pandas_dtype_is_data(X, dtype):
    """A DataFrame's integer column of pandas' dtypes (sparse too) gives the model of the
    float64 array, where a sparse one had failed in the check of its whole numbers."""
    pd = pytest.importorskip("pandas")
    if "pyarrow" in dtype:
        pytest.importorskip("pyarrow")
    whole = np.abs(X * 1000).astype(np.int64)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(b=whole[:, 1]).astype({"b": dtype})
    expected = make(covariance_type="diag").fit(frame.astype({"b": np.float64}).to_numpy())
    assert_same_model(make(covariance_type="diag").fit(frame), expected)


def _dask_frame(frame, kind):
    """``frame`` as a Dask DataFrame of 3 partitions, or as Chunks of those partitions."""
    import fastem

    lazy = pytest.importorskip("dask.dataframe").from_pandas(frame, npartitions=3)
    if kind == "dask DataFrame":
        return lazy
    return fastem.Chunks([lazy.partitions[i] for i in range(lazy.npartitions)])


@pytest.mark.parametrize("dtype", ["Int64", "Float64", "int64[pyarrow]"])
@pytest.mark.parametrize("kind", ["dask DataFrame", "Chunks of dask partitions"])
def test_a_dask_frame_of_nullable_columns_is_data(X, dtype, kind):
    """A Dask DataFrame with a column of pandas' nullable or Arrow dtypes, and Chunks of its
    partitions, give the model of the pandas frame. Before, the Dask DataFrame was refused
    as "a dask array of dtype object" (its values are objects) and Chunks of its partitions
    of integers failed inside Dask ('Series' object has no attribute 'to_numpy')."""
    pd = pytest.importorskip("pandas")
    if "pyarrow" in dtype:
        pytest.importorskip("pyarrow")
    whole = np.abs(X * 1000).astype(np.int64)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(b=whole[:, 1]).astype({"b": dtype})
    expected = make(covariance_type="diag").fit(frame)
    got = make(covariance_type="diag").fit(_dask_frame(frame, kind))
    for name in expected._parameter_names:
        np.testing.assert_allclose(getattr(got, name), getattr(expected, name), rtol=1e-9)

def test_the_missing_values_of_a_dask_frame_are_counted_without_copying_it(X, monkeypatch):
    """A Dask DataFrame of nullable columns fitted without missing='em' has its pd.NA counted
    per column by Dask. Before, the whole frame of isna() was computed into memory (one
    byte per value, however large the frame) to count them."""
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    whole = np.abs(X * 1000).astype(np.int64)
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(b=whole[:, 1]).astype({"b": "Int64"})
    lazy = dd.from_pandas(frame, npartitions=3)

    def copied_whole(self, *args, **kwargs):
        raise AssertionError("a Dask DataFrame was computed into one array")

    monkeypatch.setattr(type(lazy), "__array__", copied_whole)
    expected = make(covariance_type="diag").fit(frame)
    got = make(covariance_type="diag").fit(lazy)
    for name in expected._parameter_names:
        np.testing.assert_allclose(getattr(got, name), getattr(expected, name), rtol=1e-9)
    frame.loc[7, "b"] = pd.NA
    with pytest.raises(ValueError, match=r"1 missing value\(s\) \(pd.NA\), the first in column"):
        make(covariance_type="diag").fit(dd.from_pandas(frame, npartitions=3))



def test_a_nullable_integer_that_float64_rounds_is_refused_in_a_dask_frame_with_missing_values(X):
    """With missing='em' the nullable columns of a Dask DataFrame became float64 before the
    integers of its partitions were checked: 2**53 + 1 was fitted as 2**53, silently."""
    pd = pytest.importorskip("pandas")
    whole = (X * 1000).astype(np.int64)
    whole[3, 1] = _BIG
    frame = pd.DataFrame(X, columns=["a", "b", "c"]).assign(b=whole[:, 1]).astype({"b": "Int64"})
    frame.loc[7, "b"] = pd.NA
    with pytest.raises(ValueError, match=_ROUNDED.format(r"in row 3 \(0-based\) of column 'b'")):
        make(covariance_type="diag", missing="em").fit(_dask_frame(frame, "dask DataFrame"))


def test_sparse_blocks_chunks_and_weights_are_refused_with_the_fix(X):
    """Sparse data in a dask array (blocks that are sparse matrices), as a chunk of Chunks,
    and sparse weights are refused with what to do. Before, NumPy read them as arrays of
    objects: "setting an array element with a sequence" from inside a Dask task, or "an
    object array whose entries are not all numbers"."""
    import fastem

    sparse = pytest.importorskip("scipy.sparse")
    da = pytest.importorskip("dask.array")
    lazy = da.from_array(sparse.csr_matrix(np.abs(X)), chunks=(40, 3), asarray=False)
    with pytest.raises(TypeError, match=r"^X is a dask array of sparse blocks \(csr_matrix\), "
                       r"but dense data are required\. .*X\.map_blocks\(lambda b: b\.toarray"):
        make().fit(lazy)
    with pytest.raises(TypeError, match="^A sparse matrix was passed as chunk 0, but dense data"):
        make().fit(fastem.Chunks([lazy]))
    with pytest.raises(TypeError, match=r"^sample_weight is a sparse matrix of shape \(120, 1\); "
                       r"pass a dense 1-D array"):
        make().fit(X, sample_weight=sparse.csr_matrix(np.ones((len(X), 1))))


def test_whole_numbers_that_float64_holds_are_data(X):
    """Whole numbers beyond 2**53 that float64 holds (2**60, -2**63) give the model of the
    float64 array, and so does one that it rounds once passed as float64, as the error
    says for an array, whose columns share a dtype."""
    whole = np.zeros((len(X), 3), dtype=np.int64)
    whole[:, 0] = (X[:, 0] * 1000).astype(np.int64) * 2**50
    whole[:, 1] = (X[:, 1] * 1000).astype(np.int64)
    whole[:, 2] = np.where(X[:, 2] > 1, -(2**63), 2**62)
    assert np.abs(whole).max() >= 2**53
    as_float = whole.astype(np.float64)
    assert_same_model(make(covariance_type="diag").fit(whole),
                      make(covariance_type="diag").fit(as_float))
    whole[3, 1] = 2**53 + 1
    with pytest.raises(ValueError, match=r"float64 cannot hold.*or pass X\.astype\(float\) to "
                       "accept the rounding"):
        make(covariance_type="diag").fit(whole)
    make(covariance_type="diag").fit(whole.astype(np.float64))  # the rounding accepted


# 2**53 + 1: float64 holds 2**53 and 2**53 + 2 only
_BIG = 2**53 + 1
_ROUNDED = "holds 9007199254740993 {}.*float64 cannot hold.*read as 9007199254740992"


def _sequence_with_whole_number(X, container):
    """``X`` as a Python sequence of ``container`` kind with the integer 2**53 + 1 in row 3
    of column 1 and floats elsewhere, which NumPy makes float64 (rounding it)."""
    rows = X.tolist()
    if container == "list of arrays":  # one row of int64 among rows of float64
        rows = [np.asarray(r) for r in rows]
        rows[3] = np.array([1, _BIG, 2])
        return rows
    rows[3][1] = np.int64(_BIG) if container == "list of NumPy integers" else _BIG
    return tuple(tuple(r) for r in rows) if container == "tuple" else rows


SEQUENCES = ["list", "tuple", "list of arrays", "list of NumPy integers"]
DATA_METHODS = ["fit", "partial_fit", "Chunks", "predict", "predict_proba", "score_samples",
                "score", "bic", "aic"]


@pytest.mark.parametrize("container", SEQUENCES)
@pytest.mark.parametrize("method", DATA_METHODS)
def test_whole_numbers_beside_floats_in_a_list_are_refused(X, container, method):
    """A list (a tuple, nested ones) with a whole number beyond 2**53 beside floats is made
    float64 by NumPy, which rounded it before any check saw it (an object array of the same
    numbers was refused): it is named with its place and the fix, in every method."""
    import fastem

    data = _sequence_with_whole_number(X, container)
    model = make(covariance_type="diag")
    if method not in ("fit", "partial_fit", "Chunks"):
        model.fit(X)
    call = (lambda: model.fit(fastem.Chunks([data]))) if method == "Chunks" else (
        lambda: getattr(model, method)(data))
    with pytest.raises(ValueError, match=_ROUNDED.format(r"in row 3 \(0-based\) of column 1")):
        call()
    model.fit(np.asarray(data, dtype=float))  # the rounding accepted, as the error says


@pytest.mark.parametrize("family", ["BayesianGaussianMixture", "ExponentialMixture",
                                    "PoissonMixture"])
@pytest.mark.parametrize("method", ["fit", "predict"])
def test_whole_numbers_beside_floats_in_a_list_are_refused_by_every_family(X, family, method):
    import fastem

    data = np.round(np.abs(X) * 3) + 1  # in every family's domain
    model = getattr(fastem, family)(n_components=2, random_state=0)
    if method == "predict":
        model.fit(data)
    with pytest.raises(ValueError, match=_ROUNDED.format(r"in row 3 \(0-based\) of column 1")):
        getattr(model, method)(_sequence_with_whole_number(data, "list"))


def test_long_doubles_and_0d_arrays_in_a_list_are_checked_as_in_an_array():
    """A list of np.longdouble was made an object array, whose long doubles the checks did
    not read (2**53 + 1 was rounded silently, where an array of them is refused), and a
    0-d array in a list was not read as a whole number."""
    from fastem._validation import as_float_array, check_array, check_sample_weight

    for entry in (np.longdouble(_BIG), np.array(_BIG)):
        rows = [[entry, 0.5], [1.0, 2.0]]
        with pytest.raises(ValueError, match=_ROUNDED.format(r"in row 0 \(0-based\) of column 0")):
            check_array(rows)
        with pytest.raises(ValueError, match=_ROUNDED.format(r"at index \(0, 0\)")):
            as_float_array(rows, "means_init")
        with pytest.raises(ValueError, match=_ROUNDED.format("at index 0")):
            check_sample_weight([entry, 1.0, 2.0], 3)
    with pytest.raises(ValueError, match="beyond the range of float64"):
        check_array([[np.longdouble("1e400"), 0.5], [1.0, 2.0]])


def test_a_scalar_weight_that_float64_rounds_is_named_without_an_index():
    """One weight for every sample (a scalar) has no index: the message had said 'at index ()'."""
    from fastem._validation import check_sample_weight

    for weight in (_BIG, np.array(_BIG), np.int64(_BIG)):
        with pytest.raises(ValueError, match="sample_weight holds 9007199254740993: a whole "
                                             "number that float64 cannot hold"):
            check_sample_weight(weight, 3)


def test_a_list_of_large_floats_stays_float64():
    """Floats of 2**53 or more are no whole numbers given: a list of them is read as a
    float64 array, not as objects checked one by one (12 times slower on 200,000 rows)."""
    from fastem._validation import as_array, check_array

    rows = [[1e18, 0.5], [3e18, 2.0]]
    assert as_array(rows).dtype == np.float64
    assert as_array([[1e18, 2**60 + 1]]).dtype == object  # an integer among them
    assert_array_equal(check_array(rows), np.asarray(rows))


def test_a_whole_number_beside_floats_in_a_list_is_refused_by_the_plots(X):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from fastem.plot import plot_density_1d

    model = make().fit(X[:, :1])
    with pytest.raises(ValueError, match=_ROUNDED.format(r"in row 3 \(0-based\) of column 0")):
        plot_density_1d(model, [float(v) for v in X[:3, 0]] + [_BIG])


def _exact_numbers(X, kind):
    """``X`` with the whole number 2**53 + 1 in row 3 of column 1 as an exact number (a
    ``Decimal`` or a ``Fraction``) beside floats, as ``kind``; its column is named 'b'."""
    import decimal
    import fractions

    number = fractions.Fraction if "Fraction" in kind else decimal.Decimal
    rows = X.astype(object)
    rows[:, 1] = [number(v) for v in X[:, 1].round(2).astype(str)]
    rows[3, 1] = number(_BIG)
    if kind.startswith("list"):
        return rows.tolist()
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(rows, columns=["a", "b", "c"]).astype({"a": float, "c": float})
    if kind == "DataFrame of Decimal":
        return frame
    pa = pytest.importorskip("pyarrow")
    scale = 0 if kind.endswith("scale 0") else 2
    b = [number(v).quantize(number(10) ** -scale) for v in rows[:, 1]]
    return pa.table({"a": X[:, 0], "b": pa.array(b, pa.decimal128(20 + scale, scale)),
                     "c": X[:, 2]})


@pytest.mark.parametrize("kind", ["list of Decimal", "list of Fraction", "DataFrame of Decimal",
                                  "Arrow decimal of scale 0"])
@pytest.mark.parametrize("method", ["fit", "predict"])
def test_whole_numbers_as_exact_numbers_that_float64_rounds_are_refused(X, kind, method):
    """A whole number beyond 2**53 held as an exact number (a ``Decimal`` written without
    decimals, an Arrow decimal column of scale 0, a ``Fraction``), which float64 would
    round, is named as an integer is, a frame's by its column's name; they had been rounded
    silently. Written with decimals (a column of scale 2), it is a fraction, as in a CSV
    or parquet file: rounded as any fraction."""
    data = _exact_numbers(X, kind)
    named = not kind.startswith("list")
    model = make(covariance_type="diag")
    if method == "predict":
        pd = pytest.importorskip("pandas")
        model.fit(pd.DataFrame(X, columns=["a", "b", "c"]) if named else X)
    column = "'b'" if named else "1"
    with pytest.raises(ValueError, match=_ROUNDED.format(
            f"in row 3 \\(0-based\\) of column {column}")):
        getattr(model, method)(data)
    if kind.startswith("Arrow"):
        table = _exact_numbers(X, "Arrow decimal of scale 2")
        assert_same_model(make(covariance_type="diag").fit(table),
                          make(covariance_type="diag").fit(table.to_pandas().astype(float)))


@pytest.mark.parametrize("dtype", [object, np.longdouble])
def test_a_frame_s_whole_numbers_are_selected_by_iloc_in_the_fix(X, dtype):
    """A DataFrame whose columns have no names (0, 1, ...) has its column of Python
    integers or long doubles selected in the fix as a DataFrame's are (``X[:, 1]`` fails on
    one)."""
    if dtype is np.longdouble and not _LONG:
        pytest.skip("long double is float64 here")
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X).astype({1: dtype})
    frame.iloc[3, 1] = dtype(2**53 + 3) if dtype is np.longdouble else 2**53 + 3
    with pytest.raises(ValueError, match=r"holds 9007199254740995 in row 3 \(0-based\) of "
                       r"column 1: .*\(e.g. X.iloc\[:, 1\] - X.iloc\[:, 1\].min\(\)\), "
                       "or pass that column as float64"):
        make().fit(frame)


@pytest.mark.parametrize("what", ["sample_weight", "means_init"])
def test_exact_whole_weights_and_parameters_that_float64_rounds_are_refused(X, what):
    import decimal
    import fractions

    if what == "sample_weight":
        weights = [decimal.Decimal(1)] * len(X)
        weights[3] = decimal.Decimal(_BIG)
        call = lambda: make().fit(X, sample_weight=weights)  # noqa: E731
    else:
        means = [[fractions.Fraction(_BIG), 0, 0], [4, 4, 4]]
        call = lambda: make(means_init=means).fit(X)  # noqa: E731
    with pytest.raises(ValueError, match=f"{what} holds 9007199254740993 at index"):
        call()


def _weights_with_whole_number(n, kind):
    """Weights of ``n`` samples, 2**53 + 1 at index 3, as ``kind``."""
    w = [1.0] * n
    w[3] = _BIG
    if kind == "list":  # beside floats: NumPy makes it float64
        return w
    whole = np.ones(n, dtype=np.int64)
    whole[3] = _BIG
    if kind == "dask array":
        return pytest.importorskip("dask.array").from_array(whole, chunks=2)
    return whole.astype({"int64": np.int64, "uint64": np.uint64, "object": object}[kind])


@pytest.mark.parametrize("kind, method", [
    (kind, method) for kind in ["list", "int64", "uint64", "object", "dask array"]
    for method in ["fit", "partial_fit", "score", "Chunks"]
    if not (kind == "dask array" and method == "Chunks")  # chunks carry arrays of weights
])
def test_sample_weights_that_float64_rounds_are_refused(X, kind, method):
    """A whole-number weight beyond 2**53 (a count) that float64 would round is named with
    its index and the fix, as data are, in every method and kind of weights."""
    import fastem

    data = X
    if kind == "dask array":
        data = pytest.importorskip("dask.array").from_array(X, chunks=(2, -1))
    weights = _weights_with_whole_number(len(X), kind)
    model = make(covariance_type="diag")
    if method == "score":
        model.fit(X)
    if method == "Chunks":
        data, weights = fastem.Chunks([X], sample_weights=[weights]), None
    # the index in the whole vector, not in the block (1 of 2 weights) that holds it
    where = "sample_weight holds 9007199254740993 at index 3" + (
        r" \(index 1 of its block 1\)" if kind == "dask array" else "")
    with pytest.raises(ValueError, match=where + ".*float64 cannot hold.*read as "
                       r"9007199254740992; pass the weights as float64 \(e.g. np.asarray"):
        result = getattr(model, "fit" if method == "Chunks" else method)(
            data, sample_weight=weights)
        getattr(result, "compute", lambda: None)()


_PARAMETERS = {  # (estimator, parameter, its value with 2**53 + 1 at index (0, 0), ...)
    "means_init": ("GaussianMixture", "diag", [[_BIG, 0.5, 0.5], [4.0, 4.0, 4.0]]),
    "precisions_init": ("GaussianMixture", "diag",
                        np.array([[_BIG, 1, 1], [1, 1, 1]], dtype=np.int64)),
    "mean_prior": ("BayesianGaussianMixture", "diag", [_BIG, 0.5, 0.5]),
    "covariance_prior": ("BayesianGaussianMixture", "diag",
                         np.array([_BIG, 1, 1], dtype=np.uint64)),
    "scales_init": ("ExponentialMixture", None, [[_BIG, 0.5, 0.5], [4.0, 4.0, 4.0]]),
    "rates_init": ("PoissonMixture", None, np.array([[_BIG, 1, 1], [4, 4, 4]], dtype=object)),
}


@pytest.mark.parametrize("name", list(_PARAMETERS))
def test_parameters_that_float64_rounds_are_refused(X, name):
    """A whole number beyond 2**53 in a parameter array (a list beside floats, integers,
    objects) that float64 would round is named with its index and the fix."""
    import fastem

    family, covariance_type, value = _PARAMETERS[name]
    kw = {} if covariance_type is None else {"covariance_type": covariance_type}
    model = getattr(fastem, family)(n_components=2, random_state=0, **kw, **{name: value})
    index = "0" if np.ndim(value) == 1 else r"\(0, 0\)"
    with pytest.raises(ValueError, match=f"{name} holds 9007199254740993 at index {index}.*"
                       "float64 cannot hold.*read as 9007199254740992; pass "
                       f"{name} as float64"):
        model.fit(np.round(np.abs(X) * 3) + 1)


_LONG = np.finfo(np.longdouble).nmant > np.finfo(np.float64).nmant
_LONG_ONLY = pytest.mark.skipif(not _LONG, reason="long double is float64 here")


def _long_double(X, value, kind, tmp_path, dtype=np.longdouble):
    """``X`` as long doubles (or ``dtype``) with ``value`` in row 3 of column 1, as ``kind``."""
    import fastem

    data = X.astype(np.longdouble)
    data[3, 1] = value
    data = data.astype(dtype)
    if kind == "Chunks of a .npy file":
        np.save(tmp_path / "long.npy", data)
        return fastem.Chunks([tmp_path / "long.npy"])
    if kind == "dask array":
        return pytest.importorskip("dask.array").from_array(data, chunks=(2, -1))
    if kind == "DataFrame":
        return pytest.importorskip("pandas").DataFrame(data)
    return data


LONG_KINDS = ["array", "Chunks of a .npy file", "dask array", "DataFrame"]


@_LONG_ONLY
@pytest.mark.parametrize("kind", LONG_KINDS)
@pytest.mark.parametrize("method", ["fit", "predict", "score_samples"])
def test_long_doubles_that_float64_alters_are_refused(X, tmp_path, kind, method):
    """Long doubles (float128 on x86) hold whole numbers up to 2**64 and magnitudes up to
    1e4932: one that float64 would round (2**53 + 3) or make infinite (1e400, which had
    been refused as "NaN or infinite", or overflowed in the cast) is named with its place
    and the fix; fractions are rounded as float64 rounds any fraction."""
    model = make(covariance_type="diag")
    if method != "fit":
        model.fit(X)
    row = "; row 1 of its block 1" if kind == "dask array" else ""  # of 2 rows
    for value, message in ((np.longdouble(2**53 + 3),
                            f"holds 9007199254740995 in row 3 \\(0-based{row}\\) of column 1: a "
                            "whole number that float64 cannot hold.*read as 9007199254740996"),
                           (np.longdouble(10) ** 400,
                            f"holds 1e\\+400 in row 3 \\(0-based{row}\\) of column 1, beyond "
                            "the range of float64 .*which would be read as inf; scale that")):
        with pytest.raises(ValueError, match=message):
            result = getattr(model, method)(_long_double(X, value, kind, tmp_path))
            getattr(result, "compute", lambda: None)()
    third = np.longdouble(1) / 3
    fitted = make(covariance_type="diag").fit(_long_double(X, third, kind, tmp_path))
    as_float64 = _long_double(X, third, kind, tmp_path, np.float64)
    assert_same_model(fitted, make(covariance_type="diag").fit(as_float64))


@_LONG_ONLY
@pytest.mark.parametrize("what", ["sample_weight", "means_init"])
def test_long_double_weights_and_parameters_that_float64_alters_are_refused(X, what):
    for value, message in ((np.longdouble(2**53 + 3), "holds 9007199254740995 at index"),
                           (np.longdouble(10) ** 400, r"holds 1e\+400 at index .*beyond the "
                                                      "range of float64")):
        if what == "sample_weight":
            weights = np.ones(len(X), dtype=np.longdouble)
            weights[3] = value
            call = lambda: make().fit(X, sample_weight=weights)  # noqa: E731
        else:
            means = np.array([[value, 0, 0], [4, 4, 4]], dtype=np.longdouble)
            call = lambda: make(means_init=means).fit(X)  # noqa: E731
        with pytest.raises(ValueError, match=f"{what} {message}"):
            call()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["fortran", "strided", "read-only", "big-endian", "list"])
def test_unusual_layouts_give_the_same_model(X, dtype, layout):
    clean = np.ascontiguousarray(X, dtype=dtype)
    if layout == "fortran":
        data = np.asfortranarray(clean)
    elif layout == "strided":
        data = np.repeat(clean, 2, axis=0)[::2]
        assert not data.flags.c_contiguous
    elif layout == "read-only":
        data = clean.copy()
        data.flags.writeable = False
    elif layout == "big-endian":
        data = clean.astype(clean.dtype.newbyteorder(">"))
    else:
        data = clean.tolist()
        clean = clean.astype(np.float64)
    expected = make(covariance_type="full").fit(clean)
    model = make(covariance_type="full").fit(data)
    assert model.means_.dtype == clean.dtype
    assert_same_model(model, expected)
    assert_array_equal(model.score_samples(data), expected.score_samples(clean))
    assert_array_equal(model.predict(data), expected.predict(clean))


def test_read_only_input_is_not_written(X):
    data = X.copy()
    data.flags.writeable = False
    make().fit(data).predict_proba(data)
    assert_array_equal(data, X)


def test_mismatched_features_at_predict_time(X):
    model = make().fit(X)
    for method in ("predict", "predict_proba", "score_samples", "score", "bic", "aic"):
        with pytest.raises(ValueError, match="X has 2 features, but GaussianMixture is expecting 3 features as input"):
            getattr(model, method)(X[:, :2])


def test_predict_before_fit(X):
    from fastem import NotFittedError

    for error in (NotFittedError, AttributeError, ValueError):
        with pytest.raises(error, match="not fitted yet. Call 'fit'"):
            make().predict(X)


# ---------------------------------------------------------------------------
# sample weights


@pytest.mark.parametrize(
    "weights, exc, match",
    [
        (np.full(120, np.nan), ValueError, "120 NaN or infinite"),
        (-np.ones(120), ValueError, "120 negative value.*smallest being -1"),
        (np.zeros(120), ValueError, "Every sample_weight is zero"),
        (np.ones(7), ValueError, r"shape \(7,\) but X has 120 samples"),
        (np.array(["a"] * 120), TypeError, "sample_weight must be numeric"),
    ],
    ids=["nan", "negative", "zero", "shape", "str"],
)
def test_bad_sample_weight(X, weights, exc, match):
    with pytest.raises(exc, match=match):
        make().fit(X, sample_weight=weights)


# ---------------------------------------------------------------------------
# user-given initial parameters


@pytest.mark.parametrize(
    "weights, match",
    [
        ([0.3, 0.3], r"sums to 0.6.*weights_init / weights_init.sum\(\)"),
        ([1.3, -0.3], r"finite and non-negative, got \[ 1.3 -0.3\]"),
        ([0.5, np.nan], "finite and non-negative"),
        ([0.2, 0.3, 0.5], r"shape \(2,\) for n_components=2, got \(3,\)"),
    ],
    ids=["sum", "negative", "nan", "shape"],
)
def test_bad_weights_init(X, weights, match):
    with pytest.raises(ValueError, match=match):
        make(weights_init=weights).fit(X)


@pytest.mark.parametrize(
    "means, match",
    [
        (np.zeros((3, 3)), r"\(2, 3\), got \(3, 3\)"),
        (np.zeros((2, 2)), r"\(2, 3\), got \(2, 2\)"),
        (np.zeros(6), r"got \(6,\)"),
        (np.array([[0.0, 0, 0], [np.inf, 0, 0]]), "NaN or infinite"),
    ],
    ids=["K", "D", "flat", "inf"],
)
def test_bad_means_init(X, means, match):
    with pytest.raises(ValueError, match=match):
        make(means_init=means).fit(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_components_that_start_alike_are_refused(covariance_type):
    """EM keeps components that start alike alike: equal initial means (and, when given,
    equal initial precisions) would leave one of them empty or a copy."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 5])
    means = np.array([[0.0, 0.0], [5.0, 5.0], [0.0, 0.0]])
    with pytest.raises(ValueError, match="means_init rows 0 and 2 are equal: EM keeps"):
        GaussianMixture(3, covariance_type=covariance_type, means_init=means).fit(X)
    precisions = {"full": np.array([np.eye(2)] * 3), "tied": np.eye(2),
                  "diag": np.ones((3, 2)), "spherical": np.ones(3)}[covariance_type]
    same = dict(covariance_type=covariance_type, means_init=means, precisions_init=precisions)
    if covariance_type == "tied":  # one precision for all: the means alone decide
        match = "means_init rows 0 and 2 are equal: EM keeps"
    else:
        match = "means_init rows 0 and 2 are equal and so are their precisions_init"
    with pytest.raises(ValueError, match=match):
        GaussianMixture(3, **same).fit(X)
    if covariance_type != "tied":  # equal means, other precisions: EM can separate them
        scale = np.array([1.0, 1.0, 4.0]).reshape((3,) + (1,) * (precisions.ndim - 1))
        model = GaussianMixture(3, covariance_type=covariance_type, means_init=means,
                                precisions_init=precisions * scale, max_iter=1)
        with warnings.catch_warnings():  # one pass: not converged, and one component empty
            warnings.simplefilter("ignore")
            assert model.fit(X).n_iter_ == 1  # accepted


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_components_that_start_alike_within_rounding_are_refused(covariance_type):
    """Means a few units in the last place apart start as alike as equal ones; what
    rounding is depends on the dtype the data computes in."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 5]) + 100
    means = np.array([[100.0, 100.0], [105.0, 105.0], [100.0, 100.0]])
    means[2] = np.nextafter(np.nextafter(means[2], 200), 200)  # 2 ulps apart
    for data in (X, X.astype(np.float32)):
        with pytest.raises(ValueError, match="means_init rows 0 and 2 are equal within "
                                             f"rounding in {data.dtype}: EM keeps"):
            GaussianMixture(3, covariance_type=covariance_type, means_init=means).fit(data)
    means[2] = means[0] * (1 + 2e-7)  # apart in float64, not in float32
    model = GaussianMixture(3, covariance_type=covariance_type, means_init=means, max_iter=1)
    with pytest.warns(ConvergenceWarning):
        model.fit(X)
    with pytest.raises(ValueError, match="equal within rounding in float32"):
        model.fit(X.astype(np.float32))


def test_a_warm_start_does_not_read_the_initial_means():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 5])
    model = GaussianMixture(2, warm_start=True, random_state=0).fit(X)
    model.set_params(means_init=np.zeros((2, 2)))
    assert model.fit(X).n_iter_ >= 1  # continues the fit; the equal rows are not used
    model.set_params(means_init=np.full((2, 2), np.nan))  # still checked, as scikit-learn does
    with pytest.raises(ValueError, match="means_init contains NaN"):
        model.fit(X)


@pytest.mark.parametrize("cls, name", [(ExponentialMixture, "scales_init"), (PoissonMixture, "rates_init")])
def test_mean_families_refuse_components_that_start_alike(cls, name):
    X = np.random.default_rng(0).exponential(size=(300, 2)).round() + 1
    with pytest.raises(ValueError, match=f"{name} rows 1 and 2 are equal"):
        cls(3, **{name: [[1.0, 1.0], [2.0, 3.0], [2.0, 3.0]]}).fit(X)
    with pytest.raises(ValueError, match=f"{name} rows 1 and 2 are equal within rounding"):
        cls(3, **{name: [[1.0, 1.0], [2.0, 3.0], [2.0, np.nextafter(3.0, 4)]]}).fit(X)


@pytest.mark.parametrize(
    "covariance_type, precisions, match",
    [
        ("full", np.array([[[1, 0.5, 0], [0, 1, 0], [0, 0, 1]]] * 2), r"precisions_init\[0\] must be symmetric"),
        ("full", np.array([np.eye(3), -np.eye(3)]), r"precisions_init\[1\] must be positive definite.*-1"),
        ("full", np.array([np.eye(3), np.diag([1.0, 0.0, 1.0])]), r"precisions_init\[1\].*smallest eigenvalue is 0"),
        ("full", np.ones((2, 3)), r"shape \(2, 3, 3\) for covariance_type='full', got \(2, 3\)"),
        ("tied", -np.eye(3), "precisions_init must be positive definite"),
        # rank 1: its smallest eigenvalue computes as a rounding error (2.7e-17 on an Intel
        # CPU) or as 0 (on a Zen 5), refused either way
        ("tied", np.outer([1.0, 4.0, 3.0], [1.0, 4.0, 3.0]),
         r"precisions_init must be positive definite(, but its smallest eigenvalue is 0| as "
         r"float64 can tell: scaled to a unit diagonal .*, its smallest eigenvalue, .*, is "
         r"within the rounding of its largest)"),
        # rank 1 in units far apart: singular however its eigenvalues compute
        ("tied", np.outer([1e-8, 1.0, 1e8], [1e-8, 1.0, 1e8]),
         r"precisions_init must be positive definite(, but its smallest eigenvalue is 0| as "
         r"float64 can tell: scaled to a unit diagonal)"),
        ("tied", np.triu(np.ones((3, 3))), "precisions_init must be symmetric"),
        ("diag", -np.ones((2, 3)), "must be positive, got minimum -1"),
        ("spherical", np.array([1.0, 0.0]), "must be positive, got minimum 0"),
        ("spherical", np.array([1.0, np.nan]), "NaN or infinite"),
    ],
)
def test_bad_precisions_init(X, covariance_type, precisions, match):
    with pytest.raises(ValueError, match=match):
        make(covariance_type=covariance_type, precisions_init=precisions).fit(X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_the_parameters_of_a_fit_of_features_in_units_far_apart_start_a_fit(covariance_type,
                                                                            dtype):
    """Spreads 1e-2 and 1e6: the fit's precisions have eigenvalues of about 1e4 and
    1e-12, the smallest below the rounding of the largest, and are positive definite all
    the same (the fit computes them and uses them). Given back with the weights and means,
    they start a fit at that fit's peak; before, 'full' and 'tied' ones were refused as
    not positive definite as float64 can tell."""
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.normal(0, 1e-2, 1000), rng.normal(0, 1e6, 1000)])
    X[:500] += [0.1, 5e6]
    X = X.astype(dtype)
    fitted = make(covariance_type=covariance_type).fit(X)
    again = make(covariance_type=covariance_type, weights_init=fitted.weights_,
                 means_init=fitted.means_, precisions_init=fitted.precisions_).fit(X)
    assert again.lower_bound_ >= fitted.lower_bound_ - 1e-6 * abs(fitted.lower_bound_)
    assert np.all(np.abs(again.means_ - fitted.means_) <= 1e-3 * X.std(axis=0))


# ---------------------------------------------------------------------------
# hyper-parameters


@pytest.mark.parametrize(
    "name, value, exc, match",
    [
        ("n_components", 0, ValueError, "n_components must be >= 1, got 0"),
        ("n_components", -2, ValueError, "got -2"),
        ("n_components", 2.5, TypeError, "n_components must be an integer, got 2.5 of type float"),
        ("n_components", True, TypeError, "got True of type bool"),
        ("n_components", "2", TypeError, "got '2' of type str"),
        ("tol", -1e-3, ValueError, "tol must be >= 0.0, got -0.001"),
        ("tol", np.nan, ValueError, "tol must be a finite number, got nan"),
        ("tol", np.inf, ValueError, "tol must be a finite number, got inf"),
        ("tol", "1e-3", TypeError, "tol must be a number"),
        ("tol", None, TypeError, "got None"),
        ("reg_covar", -1.0, ValueError, "reg_covar must be >= 0.0, got -1.0"),
        ("reg_covar", np.inf, ValueError, "reg_covar must be a finite number, got inf"),
        ("reg_covar", np.nan, ValueError, "got nan"),
        ("reg_covar", True, TypeError, "reg_covar must be a number, got True"),
        ("max_iter", -1, ValueError, "max_iter must be >= 0, got -1"),
        ("max_iter", 10.0, TypeError, "max_iter must be an integer, got 10.0"),
        ("n_init", 0, ValueError, "n_init must be >= 1, got 0"),
        ("n_init", 1.5, TypeError, "n_init must be an integer"),
        ("init_params", "kmeans+", ValueError, "init_params must be one of .*got 'kmeans\\+'"),
        ("init_params", None, ValueError, "got None"),
        ("covariance_type", "ful", ValueError, "covariance_type must be one of .*got 'ful'"),
        ("covariance_type", None, ValueError, "got None"),
        ("verbose", -1, ValueError, "verbose must be >= 0, got -1"),
        ("verbose", 0.5, TypeError, "verbose must be an integer"),
        ("verbose_interval", 0, ValueError, "verbose_interval must be >= 1, got 0"),
        ("verbose_interval", 2.0, TypeError, "verbose_interval must be an integer"),
        ("random_state", -1, ValueError, r"between 0 and 2\*\*32 - 1 when it is an int, got -1"),
        ("random_state", 2**32, ValueError, "got 4294967296"),
        ("random_state", 1.5, ValueError, "random_state must be None, an int or a numpy.random.RandomState, got 1.5"),
        ("random_state", True, ValueError, "got True"),
        ("random_state", "0", ValueError, "got '0'"),
        ("warm_start", "yes", TypeError, "warm_start must be True or False, got 'yes' of type str"),
        ("warm_start", 1, TypeError, "got 1 of type int"),
        ("weights_init", ["a", "b"], TypeError, "weights_init must be an array of real numbers"),
        ("means_init", [["a"] * 3] * 2, TypeError, "means_init must be an array of real numbers"),
        ("precisions_init", "eye", TypeError, "precisions_init must be an array of real numbers, got 'eye'"),
    ],
)
def test_bad_hyper_parameter(X, name, value, exc, match):
    with pytest.raises(exc, match=match):
        GaussianMixture(**{"n_components": 2, name: value}).fit(X)


@pytest.mark.parametrize(
    "name, value",
    [("n_components", np.int32(2)), ("tol", np.float32(1e-3)), ("reg_covar", 0), ("max_iter", 0),
     ("random_state", np.int64(3)), ("random_state", np.random.RandomState(1)), ("verbose", np.int8(0))],
)
def test_numpy_scalars_and_edge_values_are_accepted(X, name, value):
    model = GaussianMixture(**{"n_components": 2, "random_state": 0, name: value})
    model.fit(X)
    assert np.isfinite(model.means_).all()


def test_sample_size_is_checked(X):
    model = make().fit(X)
    with pytest.raises(ValueError, match="n_samples must be >= 1, got 0"):
        model.sample(0)
    with pytest.raises(TypeError, match="n_samples must be an integer, got 2.0"):
        model.sample(2.0)


def test_values_too_large_for_the_dtype_are_rejected():
    # One point of magnitude 1e300 spans nothing, but means computed from it are
    # off by ~1e284, whose square overflows.
    X = np.full((1, 5), 1e300)
    with pytest.raises(ValueError, match=r"magnitude 1e\+300 in feature 0, too large.*Shift the input "
                       r"data, .* X - np\.nanmin\(X, axis=0\)"):
        GaussianMixture(1, init_params="kmeans", random_state=0).fit(X)
    # the advice fits
    model = GaussianMixture(1, init_params="kmeans", random_state=0).fit(X - np.nanmin(X, axis=0))
    assert np.isfinite(model.means_).all()


@pytest.mark.parametrize("family", ["GaussianMixture", "ExponentialMixture", "PoissonMixture"])
def test_dataframe_columns_that_are_not_numbers_are_named(family):
    pd = pytest.importorskip("pandas")
    import fastem

    counts = np.array([1.0, 2, 3, 4, 6, 7])
    cases = [
        ({"kind": ["a", "b", "a", "b", "a", "b"]}, TypeError,
         r"column 'kind' of X has dtype \w+, not numbers. Select the numeric columns, e.g. "
         r"X.select_dtypes\('number'\)"),
        ({"when": pd.date_range("2020", periods=6)}, TypeError,
         r"column 'when' of X has dtype datetime64\[\w+\], not numbers"),
        ({"kind": pd.Categorical(["a", "b"] * 3)}, TypeError, "column 'kind' of X has dtype category"),
        ({"visits": pd.array([1, 2, None, 4, 5, 6], dtype="Int64")}, ValueError,
         r"X has 1 missing value\(s\) \(pd.NA\), the first in column 'visits'. .*missing='em'.*"
         r"X.dropna\(\) drops the incomplete rows"),
    ]
    model = getattr(fastem, family)(1)
    for extra, error, message in cases:
        with pytest.raises(error, match=message):
            model.fit(pd.DataFrame({"x": counts, **extra}))
    dask = pytest.importorskip("dask")
    dd = pytest.importorskip("dask.dataframe")
    with dask.config.set(scheduler="synchronous"):  # a Dask DataFrame: the same messages
        for extra, error, message in cases[::3]:
            with pytest.raises(error, match=message):
                model.fit(dd.from_pandas(pd.DataFrame({"x": counts, **extra}), npartitions=2))
    # numeric extension dtypes without missing values, numeric categories, booleans: accepted
    frame = pd.DataFrame({"x": counts, "n": pd.array([1, 2, 3, 4, 5, 6], dtype="Int64"),
                          "c": pd.Categorical([1, 2] * 3), "b": [True, False] * 3})
    reference = getattr(fastem, family)(1).fit(frame.to_numpy(dtype=float))
    fitted = getattr(fastem, family)(1).fit(frame)
    np.testing.assert_allclose(fitted.score(frame), reference.score(frame.to_numpy(dtype=float)),
                               rtol=1e-12)
    assert_array_equal(fitted.feature_names_in_, ["x", "n", "c", "b"])


@pytest.mark.parametrize("family", ["GaussianMixture", "ExponentialMixture", "PoissonMixture"])
@pytest.mark.parametrize("entries", ["floats", "integers", "ints and floats", "decimals", "booleans"])
def test_dataframe_object_columns_of_numbers_are_numbers_as_in_sklearn(family, entries):
    # astype(object) or a concatenation leaves numbers in an object column;
    # scikit-learn converts them, and so does fastem (as it converts object arrays)
    pd = pytest.importorskip("pandas")
    import decimal

    import fastem

    counts = np.array([1.0, 2, 3, 4, 6, 7, 1, 2])
    column = {"floats": counts.tolist(), "integers": [int(v) for v in counts],
              "ints and floats": [int(v) if i % 2 else v for i, v in enumerate(counts)],
              "decimals": [decimal.Decimal(int(v)) for v in counts],
              "booleans": [bool(i % 2) for i in range(8)]}[entries]
    frame = pd.DataFrame({"x": counts, "o": pd.Series(column, dtype=object)})
    assert frame["o"].dtype == object
    numbers = frame.to_numpy(dtype=float)
    fitted = getattr(fastem, family)(1).fit(frame)
    np.testing.assert_allclose(fitted.score(frame), getattr(fastem, family)(1).fit(numbers).score(numbers),
                               rtol=1e-12)
    assert_array_equal(fitted.feature_names_in_, ["x", "o"])


@pytest.mark.parametrize("column", [["1.5", "2.5"], ["a", "b"], [1.5, "2.5"], "timestamps"])
def test_dataframe_columns_of_text_or_other_objects_are_refused(column):
    # numbers stored as text are text, as in fastem's CSV reader: the message says how to convert
    pd = pytest.importorskip("pandas")

    if column == "timestamps":
        column = [pd.Timestamp("2020"), pd.Timestamp("2021")]
    frame = pd.DataFrame({"x": [1.0, 2.0], "o": pd.Series(column, dtype=object)})
    with pytest.raises(TypeError, match=r"column 'o' of X has dtype object, not numbers.*"
                                        r"pd.to_numeric\(X\['o'\]\) for numbers stored as text"):
        GaussianMixture(1).fit(frame)


@pytest.mark.parametrize("column, expected", [
    ("string of numbers", "type string, not numbers.*pyarrow.compute.cast\\(X\\['o'\\], "
                     "pyarrow.float64\\(\\)\\) for numbers stored as text"),
    ("large_string", "type large_string, not numbers"),
    ("dictionary", "type dictionary<values=string"),
    ("timestamps", "type timestamp\\[us\\], not numbers"),
    ("binary", "type binary, not numbers"),
])
@pytest.mark.parametrize("table", ["Table", "RecordBatch", "Chunks of a Table"])
@pytest.mark.parametrize("method", ["fit", "predict"])
def test_arrow_columns_of_text_or_other_objects_are_refused(column, expected, table, method):
    """An Arrow table's column of text (even of numbers), times or bytes is refused by name,
    as a DataFrame's is; NumPy's conversion of the table had read text of numbers silently."""
    pa = pytest.importorskip("pyarrow")
    import datetime

    import fastem

    values = {"string of numbers": pa.array(["1.5", "2.5"]),
              "large_string": pa.array(["1", "2"], pa.large_string()),
              "dictionary": pa.array(["1", "2"]).dictionary_encode(),
              "timestamps": pa.array([datetime.datetime(2020, 1, 1), datetime.datetime(2021, 1, 1)]),
              "binary": pa.array([b"1", b"2"])}[column]
    x = pa.array([1.0, 2.0])
    data = getattr(pa, "RecordBatch" if table == "RecordBatch" else "Table").from_arrays(
        [x, values], names=["x", "o"])
    data = fastem.Chunks([data]) if table.startswith("Chunks") else data
    model = GaussianMixture(1)
    if method == "predict":
        model.fit(pa.table({"x": [1.0, 2.0, 4.0], "o": [1.0, 3.0, 2.0]}))
    name = "chunk 0" if table.startswith("Chunks") else "X"
    expected = expected.replace("X\\[", "table\\[") if name != "X" else expected
    with pytest.raises(TypeError, match=f"column 'o' of {name} has {expected}"):
        getattr(model, method)(data)


def _records_and_times(kind):
    X = np.random.default_rng(0).normal(size=(40, 2))
    if kind == "structured":
        records = np.zeros(40, dtype=[("length", "f8"), ("width", "i4")])
        records["length"], records["width"] = X[:, 0], (X[:, 1] * 100).astype(np.int32)
        return records
    times = np.datetime64("2024-01-01") + (X * 86400).astype("timedelta64[s]")
    return times if kind == "datetime64" else times - np.datetime64("2024-01-01")


RECORD_ADVICE = {
    "structured": ("numpy.lib.recfunctions.structured_to_unstructured(X)", "pd.DataFrame(X)"),
    "datetime64": ("(X - X.min()) / np.timedelta64(1, 's')",),
    "timedelta64": ("(X - X.min()) / np.timedelta64(1, 's')",),
}


@pytest.mark.parametrize("kind", list(RECORD_ADVICE))
@pytest.mark.parametrize("source", ["array", "predict", "Chunks of a .npy file", "dask array"])
def test_records_and_times_get_a_conversion_that_works(tmp_path, kind, source):
    """A structured array (records) or an array of times is refused with a conversion that
    works for it, and each conversion it names gives data that fit: np.asarray(X,
    dtype=float), which had been advised, raises on records and counts times in the array's
    own unit from 1970 (nanoseconds beyond 2**53)."""
    import numpy.lib.recfunctions  # noqa: F401  (for the advice, evaluated below)

    import fastem

    pd = pytest.importorskip("pandas")
    X = _records_and_times(kind)
    data = X if kind == "structured" else X.reshape(-1, 1)
    if kind == "structured":
        with pytest.raises(TypeError):
            np.asarray(data, dtype=float)
    np.save(tmp_path / "records.npy", data)
    model = GaussianMixture(1)
    if source == "predict":
        model.fit(np.zeros((3, 2 if kind == "structured" else 1)) + np.arange(3)[:, None])
    given = {"Chunks of a .npy file": lambda: fastem.Chunks([tmp_path / "records.npy"]),
             "dask array": lambda: pytest.importorskip("dask.array").from_array(data)}.get(
        source, lambda: data)()
    with pytest.raises(TypeError) as info:
        getattr(model, "predict" if source == "predict" else "fit")(given)
    var = "chunk" if source.startswith("Chunks") else "X"  # a chunk's variable in the code
    for conversion in RECORD_ADVICE[kind]:
        conversion = re.sub(r"\bX\b", var, conversion)
        assert conversion in str(info.value)
        converted = eval(conversion, {"np": np, "numpy": np, "pd": pd, var: data})
        fitted = GaussianMixture(1).fit(converted)
        if conversion.startswith("pd."):
            assert_array_equal(fitted.feature_names_in_, ["length", "width"])


def test_records_and_times_in_a_data_file_get_a_conversion_that_works(tmp_path, capsys):
    """The command line's error for a .npy file of records or times says how to save it so
    that it reads, and files saved so are fitted."""
    from fastem.cli import main

    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    for kind, conversions in RECORD_ADVICE.items():
        X = _records_and_times(kind)
        data = X if kind == "structured" else X.reshape(-1, 1)
        np.save(tmp_path / "records.npy", data)
        assert main(["fit", str(tmp_path / "records.npy"), "-k", "1", "-o",
                     str(tmp_path / "m.npz")]) == 1
        err = capsys.readouterr().err
        for conversion in conversions:
            saved = (f"{conversion}.to_parquet(path)" if conversion.startswith("pd.")
                     else f"np.save(path, {conversion})")
            assert saved in err, err
            path = str(tmp_path / ("saved.parquet" if conversion.startswith("pd.") else "saved.npy"))
            eval(saved, {"np": np, "numpy": np, "pd": pd, "X": data, "path": path})
            assert main(["fit", path, "-k", "1", "-o", str(tmp_path / "m.npz"), "--quiet"]) == 0


class _PolarsLike:
    """A frame as polars' DataFrame presents itself: column names, a shape, and __array__
    (object entries for mixed columns); no pandas dtypes, no iloc."""

    def __init__(self, values, columns):
        self.values, self.columns = values, list(columns)

    @property
    def shape(self):
        return self.values.shape

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.values, dtype=dtype)


@pytest.mark.parametrize("text", ["2.5", b"2.5", "two"])
@pytest.mark.parametrize("how", ["fit", "predict", "Chunks"])
def test_columns_of_text_of_any_frame_are_refused_by_name(text, how):
    """A frame other than pandas' and Arrow's (polars, ...) whose column holds text, even
    text of numbers, is refused by the column's name, as a DataFrame's is; NumPy's
    conversion had read '2.5' as 2.5 silently. Its whole numbers that float64 rounds are
    named by column too."""
    import fastem

    values = np.array([[float(i), text] for i in range(10)], dtype=object)
    frame = _PolarsLike(values, ["a", "b"])
    model = GaussianMixture(1)
    if how == "predict":
        model.fit(_PolarsLike(np.arange(20.0).reshape(10, 2), ["a", "b"]))
    data = fastem.Chunks([frame]) if how == "Chunks" else frame
    with pytest.raises(TypeError, match=f"column 'b' of (X|chunk 0) holds text \\({text!r}\\), "
                                        "not numbers"):
        getattr(model, "predict" if how == "predict" else "fit")(data)
    whole = np.array([[2**53 + 1, 1.0], [3, 2.0]] * 5, dtype=object)
    with pytest.raises(ValueError, match="holds 9007199254740993 in row 0 \\(0-based\\) of "
                                         "column 'a'"):
        GaussianMixture(1).fit(_PolarsLike(whole, ["a", "b"]))
    numbers = np.array([[1, 2.5], [2, 3.0], [4, 1.5]] * 4, dtype=object)  # objects of numbers
    assert_array_equal(GaussianMixture(1).fit(_PolarsLike(numbers, ["a", "b"])).feature_names_in_,
                       ["a", "b"])


# Every integer hyper-parameter, as the NumPy integer types whose arithmetic
# overflows soonest. 12 features make the statistics and parameter counts
# exceed int8's range (2 full components: 180 parameters).
_INTEGER_HYPER = {"n_components": 2, "max_iter": 60, "n_init": 2, "verbose": 0,
                  "verbose_interval": 7, "random_state": 5}


def _family_data(family):
    X = np.random.default_rng(0).normal(size=(300, 12))
    X[:150] += 3.0
    return {"ExponentialMixture": np.abs(X) + 0.1,
            "PoissonMixture": np.round(np.abs(X) * 3)}.get(family, X)


@pytest.mark.parametrize("family", ["GaussianMixture", "BayesianGaussianMixture",
                                    "ExponentialMixture", "PoissonMixture"])
@pytest.mark.parametrize("int_type", [np.int8, np.uint8, np.int16])
@pytest.mark.parametrize("init_params", ["hierarchical", "kmeans"])
def test_numpy_integer_hyper_parameters_compute_as_python_ints(family, int_type, init_params):
    """np.int8(2) components gave OverflowError deep in the start (int8 arithmetic with
    the sample count): every integer hyper-parameter now gives the model its Python
    int gives, and the estimator keeps the object it was given (clone needs it)."""
    import fastem

    X = _family_data(family)
    cls = getattr(fastem, family)
    given = {name: int_type(value) for name, value in _INTEGER_HYPER.items()}
    model = cls(**given, init_params=init_params).fit(X)
    reference = cls(**_INTEGER_HYPER, init_params=init_params).fit(X)
    assert_same_model(model, reference)
    assert all(model.get_params()[name] is value for name, value in given.items())
    assert model.score(X) == reference.score(X)
    assert_array_equal(model.sample(int_type(50))[0], reference.sample(50)[0])
    if family != "BayesianGaussianMixture":
        assert model.bic(X) == reference.bic(X)
        model.partial_fit(X)
        reference.partial_fit(X)
        assert_same_model(model, reference)


@pytest.mark.parametrize("family, name, value", [
    ("GaussianMixture", "reg_covar", 1e-3), ("GaussianMixture", "tol", 1e-3),
    ("GaussianMixture", "step_offset", 3.0), ("BayesianGaussianMixture", "reg_covar", 1e-3),
    ("ExponentialMixture", "min_scale", 1e-3), ("PoissonMixture", "min_rate", 1e-3)])
@pytest.mark.parametrize("float_type", [np.float16, np.float32])
def test_numpy_float_hyper_parameters_compute_as_python_floats(family, name, value, float_type):
    """reg_covar=np.float16(1e-3) computed the regularisation's allowance in float16
    and warned of a fall of the likelihood: it now fits as the same Python float."""
    import fastem

    X = np.random.default_rng(0).normal(size=(300, 3))  # one blob: components overlap
    X = {"ExponentialMixture": np.abs(X), "PoissonMixture": np.round(np.abs(X) * 3)}.get(family, X)
    cls = getattr(fastem, family)
    model = cls(2, random_state=0, **{name: float_type(value)}).fit(X)
    reference = cls(2, random_state=0, **{name: float(float_type(value))}).fit(X)
    assert_same_model(model, reference)


@pytest.mark.parametrize("family, name, values, magnitude", [
    ("GaussianMixture", "means_init", [[1e160, 0.0], [0.0, 0.0]], "spans 1e\\+160"),
    ("GaussianMixture", "means_init", [[1e170, 1.0], [1e170, 0.0]], "magnitude 1e\\+170"),
    ("ExponentialMixture", "scales_init", [[1e300, 1e300], [1.0, 1.0]], "spans 1e\\+300"),
    ("PoissonMixture", "rates_init", [[1e300, 1e300], [1.0, 1.0]], "spans 1e\\+300"),
])
def test_initial_values_beyond_float64_s_range_are_named(family, name, values, magnitude):
    """Initial means whose squared distances overflow float64, as data that wide are
    refused: before, NumPy's overflow warnings from the start's partition, and a fit
    that ended with the far component empty (or, for means, an error naming X)."""
    import fastem

    X = _family_data(family)[:, :2]
    with pytest.raises(ValueError, match=rf"{name} (?:{magnitude}|has values of {magnitude}).* "
                                         r"too (?:wide|large) for float64 arithmetic"):
        getattr(fastem, family)(2, **{name: values}).fit(X)



# ---------------------------------------------------------------------------
# a chunked source that yields other data on a later pass


class _ChangingChunks:
    """Two chunks of ``X`` (with their weights ``w``, if any), copied anew on each pass;
    from the third pass on, the first goes through ``change`` (if not None). The validation pass and the first EM passes see
    the data as they were."""

    def __init__(self, X, change, w=None):
        self.X, self.change, self.w, self.passes = X, change, w, 0

    def __iter__(self):
        self.passes += 1
        half = len(self.X) // 2
        parts = [(self.X[:half].copy(), None), (self.X[half:], None)]
        if self.w is not None:
            parts = [(X, self.w[:half].copy() if i == 0 else self.w[half:])
                     for i, (X, _) in enumerate(parts)]
        if self.passes >= 3 and self.change is not None:
            parts[0] = self.change(*parts[0])
        return iter([X if w is None else (X, w) for X, w in parts])


def _with_value(value):
    def change(X, w):
        X[5, 0] = value
        return X, w
    return change


def _with_weight(value):
    def change(X, w):
        w[3] = value
        return X, w
    return change


_CHANGES = {  # name: (change, the message's account of it)
    "nan": (_with_value(np.nan), "NaN or infinite"),
    "inf": (_with_value(np.inf), "NaN or infinite"),
    "huge": (_with_value(1e300), "too wide"),
    "float32": (lambda X, w: (X.astype(np.float32), w),
                "dtype float32 where the validation pass saw float64"),
    "fewer rows": (lambda X, w: (X[:-7], None if w is None else w[:-7]),
                   "rows 193 where the validation pass saw 200"),
    "fewer columns": (lambda X, w: (X[:, :1], w), "features 1 where the validation pass saw 2"),
    "negative": (_with_value(-3.0), "Negative values"),
    "not a count": (_with_value(2.5), "not whole numbers"),
    "nan weight": (_with_weight(np.nan), "sample_weight contains 1 NaN"),
    "negative weight": (_with_weight(-5.0), "sample_weight contains 1 negative"),
    "weights dropped": (lambda X, w: (X, None),
                        "no weights where the validation pass saw weights"),
}
# which families' domains each change leaves
_OUTSIDE = {"negative": ("poisson", "exponential"), "not a count": ("poisson",)}


@pytest.mark.parametrize("family, change", [
    (family, change) for change in _CHANGES for family in ("gaussian", "exponential", "poisson")
    if family in _OUTSIDE.get(change, (family,))
])
def test_a_chunked_source_that_changes_between_passes_is_refused(family, change):
    """Each pass checks every chunk as the validation pass did: NaN, infinities, values
    outside the family's domain, another dtype or shape, invalid weights. Before, NaN gave
    a model of NaN or an error blaming the covariances, and negative values, counts that
    are not whole numbers or a float32 chunk in a float64 source were fitted silently."""
    rng = np.random.default_rng(0)
    cls, X = {
        "gaussian": (GaussianMixture, rng.normal(size=(400, 2))),
        "exponential": (ExponentialMixture, rng.exponential(size=(400, 2)) + 0.1),
        "poisson": (PoissonMixture, rng.poisson(4.0, size=(400, 2)).astype(float)),
    }[family]
    w = rng.uniform(0.5, 2.0, size=400) if "weight" in change else None
    how, account = _CHANGES[change]
    source = _ChangingChunks(X, how, w)
    with pytest.raises(ValueError, match="changed after validation at chunk 0") as info:
        cls(2, random_state=0, max_iter=10, tol=0).fit(source)
    assert account in str(info.value)
    assert "must yield the same chunks on every pass" in str(info.value)
    assert source.passes >= 3


@pytest.mark.parametrize("stored", ["arrays", "integer arrays", "data frames", "npy files"])
def test_later_passes_do_not_scan_again_the_chunks_they_checked(tmp_path, monkeypatch, stored):
    """Chunks that are the arrays the validation pass checked (converted again where they
    need it: integers, DataFrames), or files that fastem reads itself and that have not
    changed, are not scanned again on each pass: a second scan of a chunk costs as much as
    a pass of 2 components in 2 features. Chunks yielded anew are."""
    from fastem import Chunks

    X = np.random.default_rng(0).normal(size=(400, 2))
    parts = [X[:200], X[200:]]
    if stored == "integer arrays":
        X = np.rint(X * 100)
        parts = [part.astype(np.int64) for part in (X[:200], X[200:])]
    elif stored == "data frames":
        pd = pytest.importorskip("pandas")
        parts = [pd.DataFrame(part, columns=["a", "b"]) for part in parts]
    elif stored == "npy files":
        parts = [str(tmp_path / f"part{i}.npy") for i in range(2)]
        for i, path in enumerate(parts):
            np.save(path, X[200 * i: 200 * (i + 1)])
    scans = []

    def counting(X, *args):
        scans.append(X.shape[0])
        return scan_data(X, *args)

    from fastem import _validation

    scan_data = _validation.scan_data
    monkeypatch.setattr(_validation, "scan_data", counting)
    model = GaussianMixture(2, random_state=0, max_iter=10, tol=0, accelerate=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(Chunks(parts))
        assert model.n_iter_ == 10 and len(scans) == 2  # the validation pass's
        scans.clear()
        model.fit(_ChangingChunks(X, None))
    assert len(scans) > 20  # copies made anew on every pass: checked on every pass


def test_a_map_of_other_rows_of_the_same_file_is_checked(tmp_path):
    """A map of a file that the source yields itself may cover other rows of it on a later
    pass: it is checked again, unlike a file that fastem reads whole (Chunks of paths)."""
    counts = np.random.default_rng(0).poisson(4.0, size=(2000, 2)).astype(float)
    counts[1000:] = -5.0
    path = tmp_path / "counts.npy"
    np.save(path, counts)

    class Shifting:
        passes = 0

        def __iter__(self):
            rows = np.load(path, mmap_mode="r")
            start = 0 if self.passes == 0 else 1000
            self.passes += 1
            yield rows[start:start + 1000]

    with pytest.raises(ValueError, match="changed after validation at chunk 0: .*Negative"):
        PoissonMixture(2, max_iter=5, random_state=0).fit(Shifting())


# ---------------------------------------------------------------------------
# user matrices that are symmetric only within rounding


_ROUGHLY_SYMMETRIC = np.array([[2.0, 0.5], [0.5 + 1e-9, 1.0]])


def _with_matrix(family, covariance_type, matrix):
    import fastem

    if family == "bayesian":
        return fastem.BayesianGaussianMixture(
            2, covariance_type=covariance_type, covariance_prior=matrix, random_state=0)
    stacked = matrix if covariance_type == "tied" else np.stack([matrix, matrix])
    return GaussianMixture(2, covariance_type=covariance_type, precisions_init=stacked,
                           random_state=0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("family", ["gaussian", "bayesian"])
def test_a_roughly_symmetric_user_matrix_fits_saves_and_loads(tmp_path, family, covariance_type,
                                                              dtype):
    """covariance_prior or precisions_init symmetric within 1e-9: fit accepted it, but a
    covariance_prior's asymmetry reached the posterior covariances, which save refused. The fit
    uses the symmetric part; the model goes through a file and back."""
    import fastem

    X = np.random.default_rng(0).normal(size=(300, 2)).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = _with_matrix(family, covariance_type, _ROUGHLY_SYMMETRIC).fit(X)
    model.save(tmp_path / "m.npz")
    loaded = fastem.load(tmp_path / "m.npz")
    for name in model._parameter_names:
        assert_array_equal(np.asarray(getattr(loaded, name)), np.asarray(getattr(model, name)))


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("family", ["gaussian", "bayesian"])
def test_an_asymmetric_user_matrix_is_refused(family, covariance_type):
    name = "covariance_prior" if family == "bayesian" else "precisions_init"
    asymmetric = np.array([[2.0, 0.5], [0.7, 1.0]])
    with pytest.raises(ValueError, match=rf"{name}(\[0\])? must be symmetric, but it differs "
                                         r"from its transpose by up to 0\.2.*\(P \+ P\.T\) / 2"):
        _with_matrix(family, covariance_type, asymmetric).fit(
            np.random.default_rng(0).normal(size=(100, 2)))


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("family", ["gaussian", "bayesian"])
def test_an_asymmetry_refused_near_zero_entries_is_refused_with_the_tolerance_applied(
        family, covariance_type):
    """diag(1e-12) with a 1e-17 off-diagonal asymmetry: within 1e-5 of the largest entry,
    but beyond 1e-5 of the entry plus 1e-8 of the largest (1e-20), which np.allclose
    applies. The message states that tolerance, and where it is exceeded."""
    name = "covariance_prior" if family == "bayesian" else "precisions_init"
    matrix = np.diag([1e-12, 1e-12])
    matrix[0, 1] = 1e-17
    with pytest.raises(ValueError, match=rf"{name}(\[0\])? must be symmetric") as info:
        _with_matrix(family, covariance_type, matrix).fit(
            np.random.default_rng(0).normal(size=(100, 2)) * 1e-6)
    message = str(info.value)
    assert "within 1e-5 of the entry plus 1e-8 of the largest entry (1e-20)" in message
    assert re.search(r"at \[[01], [01]\] it is 1e-17, beyond the 1e-20 allowed there", message)


# ---------------------------------------------------------------------------
# m_step: statistics that no data can give


def _statistics_of(stats, **changes):
    """A copy of ``stats`` with ``changes``: callables of the old value, by field or moment."""
    from fastem import SufficientStatistics

    fields = dict(n_samples=stats.n_samples, log_likelihood=stats.log_likelihood, nk=stats.nk)
    moments = dict(stats.moments)
    for name, change in changes.items():
        if name in fields:
            fields[name] = change(fields[name])
        else:
            moments[name] = change(moments[name])
    return SufficientStatistics(**fields, moments=moments, reference=stats.reference)


_MODELS_FOR_M_STEP = {
    "gaussian full": lambda: GaussianMixture(2, random_state=0),
    "gaussian tied": lambda: GaussianMixture(2, covariance_type="tied", random_state=0),
    "gaussian diag, missing='em'": lambda: GaussianMixture(
        2, covariance_type="diag", missing="em", random_state=0),
    "bayesian": lambda: __import__("fastem").BayesianGaussianMixture(2, random_state=0),
    "exponential": lambda: ExponentialMixture(2, random_state=0),
    "poisson, missing='em'": lambda: PoissonMixture(2, missing="em", random_state=0),
}

_IMPOSSIBLE_STATISTICS = {
    "negative nk": (dict(nk=lambda nk: -nk), r"nk holds -\d.*never negative"),
    "nk of 0": (dict(nk=np.zeros_like), "nk is 0 in every component: there is no weight"),
    "NaN in nk": (dict(nk=lambda nk: np.r_[np.nan, nk[1:]]), "nk holds nan"),
    "infinite nk": (dict(nk=lambda nk: np.r_[np.inf, nk[1:]]), "nk holds inf"),
    "n_samples of 0": (dict(n_samples=lambda n: 0.0), "n_samples is 0, but a total weight"),
    "NaN n_samples": (dict(n_samples=lambda n: np.nan), "n_samples is nan"),
    "negative n_samples": (dict(n_samples=lambda n: -n), r"n_samples is -\d"),
    "NaN log_likelihood": (dict(log_likelihood=lambda v: np.nan), "log_likelihood is nan"),
    "NaN moment": (dict(sx=lambda sx: np.full_like(sx, np.nan)), "sx holds nan"),
    "infinite moment": (dict(sx=lambda sx: np.full_like(sx, -np.inf)), "sx holds -inf"),
}


@pytest.mark.parametrize("case", sorted(_IMPOSSIBLE_STATISTICS))
@pytest.mark.parametrize("family", sorted(_MODELS_FOR_M_STEP))
def test_m_step_refuses_statistics_that_no_data_can_give(family, case):
    """Counts and weights are finite and non-negative, and some weight is positive. An
    M-step from anything else gave a model without a word (negative or zero counts:
    Gaussian covariances 100 times too wide; a NaN count: exponential scales 13 times
    too large) or an error that blamed the data (ill-defined covariance, data and
    parameters too far apart). The model is unchanged."""
    rng = np.random.default_rng(0)
    data = np.round(np.abs(np.concatenate([rng.normal(2, 1, (60, 3)), rng.normal(9, 1, (60, 3))])))
    if "missing" in family:
        data[::7, 1] = np.nan
    model = _MODELS_FOR_M_STEP[family]().fit(data)
    before = {name: getattr(model, name) for name in model._parameter_names}
    changes, message = _IMPOSSIBLE_STATISTICS[case]
    with pytest.raises(ValueError, match="These sufficient statistics cannot come from data: "
                                         + message):
        model.m_step(_statistics_of(model.summarize(data), **changes))
    for name, value in before.items():
        assert_array_equal(getattr(model, name), value, err_msg=name)
    model.m_step(model.summarize(data))  # what summarize gives is taken as before


@pytest.mark.parametrize("cls", [ExponentialMixture, PoissonMixture])
@pytest.mark.parametrize("moment", ["sx", "observed_nk"])
def test_m_step_refuses_negative_sums_of_non_negative_data(cls, moment):
    """sx sums non-negative data (and observed_nk responsibilities): a negative entry put
    every mean at the floor, silently."""
    data = np.random.default_rng(1).poisson(4.0, (100, 2)).astype(float)
    data[::9, 0] = np.nan
    model = cls(2, missing="em", random_state=0).fit(data)
    bad = _statistics_of(model.summarize(data), **{moment: lambda v: v - v.max() - 1.0})
    with pytest.raises(ValueError, match=rf"{moment} holds -\d.*are never negative"):
        model.m_step(bad)


# ---------------------------------------------------------------------------
# user-given parameter arrays: what a cast to float64 would misread


def _valid_parameter(name):
    """A valid value of each user-given parameter array, for 2 components of 2 features."""
    return {
        "weights_init": np.array([0.4, 0.6]),
        "means_init": np.array([[0.0, 0.0], [4.0, 4.0]]),
        "precisions_init": np.array([[1.0, 1.0], [2.0, 2.0]]),
        "scales_init": np.array([[1.0, 2.0], [3.0, 4.0]]),
        "rates_init": np.array([[1.0, 2.0], [3.0, 4.0]]),
        "mean_prior": np.array([1.0, 2.0]),
        "covariance_prior": np.array([[2.0, 0.5], [0.5, 1.0]]),
    }[name]


_PARAMETER_ARRAYS = [
    ("gaussian", "weights_init"), ("gaussian", "means_init"), ("gaussian", "precisions_init"),
    ("bayesian", "mean_prior"), ("bayesian", "covariance_prior"),
    ("exponential", "weights_init"), ("exponential", "scales_init"), ("poisson", "rates_init"),
]

_MISREAD = {
    # a cast drops the imaginary parts (NumPy's ComplexWarning at most)
    "complex": (lambda v: v + 1j, ValueError,
                r"Complex data not supported: {name} has dtype complex128.*{name}.real"),
    # a cast reads the hidden value of a masked entry
    "masked": (lambda v: np.ma.masked_array(v, mask=np.arange(v.size).reshape(v.shape) == 0),
               ValueError, r"{name} is a masked array with 1 masked entries"),
    # a cast reads '0.5' as 0.5, as data of text are refused
    "text": (lambda v: v.astype(str), TypeError, r"{name} must be an array of real numbers"),
    # a cast reads a date as days since 1970
    "dates": (lambda v: v.astype("datetime64[D]"), TypeError,
              r"{name} must be an array of real numbers"),
}


@pytest.mark.parametrize("kind", sorted(_MISREAD))
@pytest.mark.parametrize("family, name", _PARAMETER_ARRAYS)
def test_parameter_arrays_that_a_cast_would_misread_are_refused(family, name, kind):
    import fastem

    cls = {"gaussian": GaussianMixture, "bayesian": fastem.BayesianGaussianMixture,
           "exponential": ExponentialMixture, "poisson": PoissonMixture}[family]
    extra = {"covariance_type": "diag"} if name == "precisions_init" else {}
    data = np.random.default_rng(0).poisson(3.0, (50, 2)).astype(float)
    make_bad, exc, message = _MISREAD[kind]
    value = _valid_parameter(name)
    cls(2, random_state=0, **extra, **{name: value}).fit(data)  # the valid value fits
    with pytest.raises(exc, match=message.format(name=name)):
        cls(2, random_state=0, **extra, **{name: make_bad(value)}).fit(data)


# ---------------------------------------------------------------------------
# Python integers beyond float64


_HUGE = 10**400  # a Python int: float(_HUGE) raises OverflowError


@pytest.mark.parametrize("family, name", [
    ("gaussian", "reg_covar"), ("gaussian", "tol"), ("gaussian", "step_offset"),
    ("exponential", "min_scale"), ("poisson", "min_rate"),
    ("bayesian", "weight_concentration_prior"), ("bayesian", "mean_precision_prior"),
    ("bayesian", "degrees_of_freedom_prior"),
])
def test_a_number_hyper_parameter_beyond_float64_is_named(family, name):
    """An int of 401 digits passed the checks of a number (as an int it is finite) and
    failed later with Python's bare "OverflowError: int too large to convert to float"."""
    import fastem

    cls = {"gaussian": GaussianMixture, "bayesian": fastem.BayesianGaussianMixture,
           "exponential": ExponentialMixture, "poisson": PoissonMixture}[family]
    data = np.random.default_rng(0).poisson(3.0, (50, 2)).astype(float)
    with pytest.raises(ValueError, match=f"{name} holds an integer beyond float64's range"):
        cls(2, random_state=0, **{name: _HUGE}).fit(data)


@pytest.mark.parametrize("cls, name", [
    (GaussianMixture, "means_init"), (GaussianMixture, "weights_init"),
    (ExponentialMixture, "scales_init"), (PoissonMixture, "rates_init"),
])
def test_a_parameter_array_holding_an_integer_beyond_float64_is_named(cls, name):
    value = {"weights_init": [_HUGE, 0]}.get(name, [[_HUGE, 1], [2, 3]])
    data = np.random.default_rng(0).poisson(3.0, (50, 2)).astype(float)
    with pytest.raises(ValueError, match=f"{name} holds an integer beyond float64's range"):
        cls(2, random_state=0, **{name: value}).fit(data)


@pytest.mark.parametrize("method", ["fit", "predict", "score_samples", "score", "summarize"])
def test_data_holding_an_integer_beyond_float64_is_named(X, method):
    data = np.array([[_HUGE, 0.0, 0.0]] + X.tolist(), dtype=object)
    model = make().fit(X)
    with pytest.raises(ValueError, match="X holds an integer beyond float64's range"):
        getattr(model, method)(data)


# ---------------------------------------------------------------------------
# the floors of the mean families: fractions of each feature's mean


@pytest.mark.parametrize("value", [1, 1.0, np.float32(1.0), 10.0, 1e10, 1e308])
@pytest.mark.parametrize("cls, name", [(ExponentialMixture, "min_scale"),
                                       (PoissonMixture, "min_rate")])
@pytest.mark.parametrize("path", ["fit", "partial_fit", "m_step", "select_n_components"])
def test_a_floor_at_or_above_the_mean_is_refused(cls, name, value, path):
    """The floor is a fraction of each feature's mean: at 1 or above it, no component
    can sit below the mean, and the M-step raised every one there without a word
    (min_scale=1e10: every scale 1e10 times its feature's mean); near 1e308 the floor
    overflowed and the error blamed the model ("refit the model")."""
    import fastem

    data = np.random.default_rng(0).poisson(4.0, (100, 2)).astype(float)
    message = rf"{name} must be below 1, got {re.escape(repr(value))}: it is a fraction"
    with pytest.raises(ValueError, match=message):
        if path == "m_step":
            model = cls(2, random_state=0).fit(data)
            stats = model.summarize(data)
            model.set_params(**{name: value}).m_step(stats)
        elif path == "select_n_components":
            family = "exponential" if cls is ExponentialMixture else "poisson"
            fastem.select_n_components(data, [1, 2], family=family, **{name: value})
        else:
            getattr(cls(2, random_state=0, **{name: value}), path)(data)
    cls(2, random_state=0, **{name: 0.999}).fit(data)  # a fraction below 1 fits


@pytest.mark.parametrize("entry", ["fit", "predict", "chunk"])
@pytest.mark.parametrize("kind, fix", [
    ("npz", "{x}['X'] for an array of this .npz archive (it holds ['X'])"),
    ("dict", "pd.DataFrame({x}) for a dict of columns"),
    ("set", "np.array(sorted({x}))[:, None] for a set of values of one feature"),
], ids=["npz", "dict", "set"])
def test_a_dict_an_npz_archive_or_a_set_is_refused_with_the_fix(tmp_path, entry, kind, fix):
    # NumPy reads each as one object (chunked data as its keys): refused, with what to pass.
    from fastem import Chunks

    X = np.random.default_rng(0).normal(size=(40, 2))
    if kind == "npz":
        np.savez(tmp_path / "d.npz", X=X)
        data = np.load(tmp_path / "d.npz")
    else:
        data = {"a": X[:, 0], "b": X[:, 1]} if kind == "dict" else set(X[:, 0].tolist())
    model = GaussianMixture(1).fit(X)
    call = {"fit": GaussianMixture(1).fit, "predict": model.predict,
            "chunk": lambda d: model.predict(Chunks([X, d]))}[entry]
    x = "chunk" if entry == "chunk" else "X"
    with pytest.raises(TypeError, match=re.escape(fix.format(x=x))):
        call(data)


@pytest.mark.parametrize("make, name, entry", [
    (lambda: GaussianMixture(2, means_init=[[0, 0], [np.nan, 1]]), "means_init",
     r"means_init\[1, 0\] = nan"),
    (lambda: GaussianMixture(2, covariance_type="spherical",
                                    precisions_init=[1, np.inf]), "precisions_init",
     r"precisions_init\[1\] = inf"),
    (lambda: BayesianGaussianMixture(2, mean_prior=[0, np.nan]), "mean_prior",
     r"mean_prior\[1\] = nan"),
    (lambda: BayesianGaussianMixture(2, covariance_prior=[[1, 0], [0, np.inf]]),
     "covariance_prior", r"covariance_prior\[1, 1\] = inf"),
])
def test_a_non_finite_initial_parameter_names_its_entry_and_the_fix(make, name, entry):
    """'means_init contains NaN or infinite values.' named neither the entry nor a fix."""
    X = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(ValueError, match=rf"{name} contains NaN or infinite values: 1 of \d, "
                                         rf"the first {entry}\. .*leave {name} None"):
        make().fit(X)


def test_a_non_finite_assigned_parameter_names_its_entry():
    X = np.random.default_rng(0).normal(size=(50, 2))
    model = GaussianMixture(2, random_state=0).fit(X)
    model.means_ = np.array([[0.0, 0.0], [np.nan, 1.0]])
    with pytest.raises(ValueError, match=r"means_ contains NaN or infinite values: 1 of 4, the "
                                         r"first means_\[1, 0\] = nan\. The parameters"):
        model.predict(X)
