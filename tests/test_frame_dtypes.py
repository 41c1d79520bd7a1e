"""A DataFrame of pandas' nullable or pyarrow-backed columns fits as the NumPy array of its
values does (``df.to_numpy(dtype, na_value=np.nan)``): float32 columns give a float32
model, pd.NA is a missing value."""

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastem import Chunks, ExponentialMixture, GaussianMixture, PoissonMixture

pd = pytest.importorskip("pandas")


def _frame():
    rng = np.random.default_rng(0)
    X = np.r_[rng.poisson(2.0, (60, 2)), rng.poisson(9.0, (60, 2))].astype(np.float64)
    return pd.DataFrame(X, columns=["a", "b"])


def _model(family):
    return {"gaussian": lambda: GaussianMixture(2, missing="em", random_state=0),
            "exponential": lambda: ExponentialMixture(2, missing="em", random_state=0),
            "poisson": lambda: PoissonMixture(2, missing="em", random_state=0)}[family]()


@pytest.mark.parametrize("family", ["gaussian", "exponential", "poisson"])
@pytest.mark.parametrize("kind, dtype", [
    ("Float32", np.float32), ("Float64", np.float64), ("Int64", np.float64),
    ("float[pyarrow]", np.float32), ("double[pyarrow]", np.float64),
    ({"a": "Float32", "b": np.float32}, np.float32),
    ({"a": "Float32", "b": np.float64}, np.float64),
    ({"a": "Float32", "b": "Int16"}, np.float32),
])
@pytest.mark.parametrize("how", ["fit", "partial_fit", "chunks"])
def test_nullable_columns_fit_as_their_values(family, kind, dtype, how):
    if kind == "float[pyarrow]" or kind == "double[pyarrow]":
        pytest.importorskip("pyarrow")
    frame = _frame().astype(kind)
    frame.iloc[3, 1] = pd.NA
    values = frame.to_numpy(dtype, na_value=np.nan)
    model, reference = _model(family), _model(family)
    if how == "chunks":
        model.fit(Chunks([frame.iloc[:70], frame.iloc[70:]]))
        reference.fit(Chunks([values[:70], values[70:]]))
    else:
        getattr(model, how)(frame)
        getattr(reference, how)(values)
    mean_name = {"gaussian": "means_", "exponential": "scales_", "poisson": "rates_"}[family]
    assert getattr(model, mean_name).dtype == dtype
    assert_array_equal(getattr(model, mean_name), getattr(reference, mean_name))
    assert_array_equal(model.weights_, reference.weights_)
    assert_array_equal(model.predict_proba(frame), reference.predict_proba(values))
    assert model.score(frame) == reference.score(values)


@pytest.mark.parametrize("family", ["gaussian", "exponential", "poisson"])
@pytest.mark.parametrize("how", ["fit", "dask"])
def test_arrow_decimal_columns_fit_as_their_values(family, how):
    """Columns of Arrow decimals (decimal128[pyarrow], as pandas reads a parquet file's
    decimals) are numbers: they fit as float64 values do (they were refused as 'not
    numbers'), their pd.NA a missing value."""
    pa = pytest.importorskip("pyarrow")
    frame = _frame()
    frame["b"] = frame["b"].astype(pd.ArrowDtype(pa.decimal128(10, 2)))
    frame.iloc[3, 1] = pd.NA
    values = frame.astype(np.float64).to_numpy()
    assert np.isnan(values[3, 1])
    model, reference = _model(family), _model(family)
    if how == "dask":  # the reference sums the same blocks
        dd = pytest.importorskip("dask.dataframe")
        frame = dd.from_pandas(frame, npartitions=2)
        values = dd.from_pandas(pd.DataFrame(values, columns=["a", "b"]), npartitions=2)
    model.fit(frame)
    reference.fit(values)
    mean_name = {"gaussian": "means_", "exponential": "scales_", "poisson": "rates_"}[family]
    assert getattr(model, mean_name).dtype == np.float64
    assert_array_equal(getattr(model, mean_name), getattr(reference, mean_name))
    assert list(model.feature_names_in_) == ["a", "b"]


@pytest.mark.parametrize("family", ["gaussian", "exponential", "poisson"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_null_arrow_column_holds_missing_values(family, dtype):
    """A column of dtype null[pyarrow] (pandas reads a parquet column of None so, with
    dtype_backend='pyarrow') holds pd.NA only: missing values, NaN in the type of the other
    columns, as its values are. It was refused as 'not numbers' by every method."""
    pa = pytest.importorskip("pyarrow")
    frame = _frame().astype(dtype)
    part = frame.iloc[70:].copy()
    part["b"] = pd.array([None] * len(part), dtype=pd.ArrowDtype(pa.null()))
    values = np.r_[frame.iloc[:70].to_numpy(), part.to_numpy(dtype, na_value=np.nan)]
    assert values.dtype == dtype
    model, reference = _model(family), _model(family)
    model.fit(Chunks([frame.iloc[:70], part]))
    reference.fit(Chunks([values[:70], values[70:]]))
    mean_name = {"gaussian": "means_", "exponential": "scales_", "poisson": "rates_"}[family]
    assert getattr(model, mean_name).dtype == dtype
    assert_array_equal(getattr(model, mean_name), getattr(reference, mean_name))
    assert_array_equal(model.predict_proba(part), reference.predict_proba(values[70:]))
    assert model.score(part) == reference.score(values[70:])
    assert_array_equal(model.impute(part).to_numpy(), reference.impute(values[70:]))
    with pytest.raises(ValueError, match=r"missing value\(s\) \(pd.NA\), the first in column 'b'"):
        _model(family).set_params(missing="error").fit(part)


@pytest.mark.parametrize("container", ["table", "batch"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_null_column_of_an_arrow_table_takes_the_type_of_the_others(container, dtype):
    """An Arrow table's column of type null (missing values only) is NaN in the type of the
    other columns: beside float32 columns it made the table's values objects, read as
    float64, so that a float32 part could not join float32 chunks ('chunk 1 is read as
    float64 but chunk 0 as float32') and a float32 table scored in float64. A table or
    frame of such columns only is refused as rows with nothing observed, where NumPy's
    'at least one array or dtype is required' was raised."""
    pa = pytest.importorskip("pyarrow")
    frame = _frame().astype(dtype)
    first = pa.Table.from_pandas(frame.iloc[:70], preserve_index=False)
    part = pa.table({"a": frame["a"].to_numpy()[70:], "b": pa.nulls(50)})
    if container == "batch":
        first, part = first.to_batches()[0], part.to_batches()[0]
    values = frame.to_numpy().copy()
    values[70:, 1] = np.nan
    model = GaussianMixture(2, missing="em", random_state=0).fit(Chunks([first, part]))
    reference = GaussianMixture(2, missing="em", random_state=0).fit(
        Chunks([values[:70], values[70:]]))
    assert model.means_.dtype == dtype
    assert_array_equal(model.means_, reference.means_)
    assert_array_equal(model.score_samples(part), reference.score_samples(values[70:]))
    only_nulls = [pa.table({"b": pa.nulls(3)}),
                  pd.DataFrame({"b": pd.array([None] * 3, dtype=pd.ArrowDtype(pa.null()))})]
    for data in only_nulls:
        with pytest.raises(ValueError, match="3 row.s. whose every entry is missing"):
            GaussianMixture(1, missing="em").fit(data)


@pytest.mark.parametrize("dtype", ["Int64", "boolean", "int64[pyarrow]", "Float32"])
@pytest.mark.parametrize("family", [GaussianMixture, ExponentialMixture])
def test_the_imputation_that_pd_na_is_told_to_take_fits(family, dtype):
    """The medians advised fill every column type that holds pd.NA: X.fillna(X.median())
    raised TypeError for an Int64 column of median 1.5 and for a boolean column, and
    truncated 1.5 to 1 in an int64[pyarrow] column, silently."""
    values = [True, False, None, True, False] if dtype == "boolean" else [1, 2, None, 4, 1]
    X = pd.DataFrame({"a": pd.array(values, dtype=dtype), "b": [1.0, 2.0, 3.0, 5.0, 4.0]})
    with pytest.raises(ValueError, match=r"\(pd.NA\).*e\.g\. X\.dropna\(\) drops the incomplete "
                                         r"rows or X\.astype\(float\)\.fillna\(X\.median\(\)\) "
                                         r"imputes medians\.$"):
        family(1).fit(X)
    filled = X.astype(float).fillna(X.median())
    assert filled.iloc[2, 0] == pytest.approx(0.5 if dtype == "boolean" else 1.5)
    assert np.isfinite(family(1).fit(filled).score(filled))
    assert np.isfinite(family(1).fit(X.dropna()).score(X.dropna()))
