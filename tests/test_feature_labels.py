"""Every message that names a feature names it alike: by its column name where the data
(or the fitted model) have them, by its index otherwise."""

import numpy as np
import pytest

import fastem
from fastem import ExponentialMixture, GaussianMixture, PoissonMixture, RegularizationWarning

pd = pytest.importorskip("pandas")


def _half_missing():
    """Small values whose feature 'b' is always missing, and far ones observed in both."""
    rng = np.random.default_rng(0)
    small = np.column_stack([rng.poisson(2.0, 300) + 1, np.full(300, np.nan)])
    far = np.column_stack([rng.poisson(5e4, 300), rng.poisson(50.0, 300)])
    return pd.DataFrame(np.concatenate([small, far]), columns=["a", "b"])


@pytest.mark.parametrize("family, init", [(ExponentialMixture, "scales_init"),
                                          (PoissonMixture, "rates_init")])
@pytest.mark.parametrize("how", ["fit", "partial_fit"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_component_without_observed_values_names_the_column(family, init, how, dtype):
    """ExponentialMixture and PoissonMixture name the feature of a component with no
    observed value of it by its column name, as GaussianMixture does."""
    model = family(2, missing="em", weights_init=[0.5, 0.5],
                   **{init: [[3.0, 70.0], [4e4, 40.0]]})
    with pytest.warns(UserWarning, match=r"\(component 0: feature\(s\) 'b'\)"):
        getattr(model, how)(_half_missing().astype(dtype))
    with pytest.warns(UserWarning, match=r"\(component 0: feature\(s\) 1\)"):
        family(2, missing="em", weights_init=[0.5, 0.5], **{init: [[3.0, 70.0], [4e4, 40.0]]}
               ).fit(_half_missing().to_numpy(dtype))


def test_a_scale_at_the_floor_names_the_column():
    """The warning of an exponential scale at the min_scale floor, and select_n_components'
    flag of it, name the feature by its column name."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.exponential(1.0, (500, 2)), rng.exponential(10.0, (300, 2))])
    X[:40, 0] = 0.0
    frame = pd.DataFrame(X, columns=["wait", "gap"])
    with pytest.warns(RegularizationWarning, match="of feature 'wait' at the min_scale floor"):
        ExponentialMixture(3, weights_init=[0.05, 0.5, 0.45],
                           scales_init=[[1e-3, 3.0], [1.0, 1.0], [10.0, 10.0]]).fit(frame)
    result = fastem.select_n_components(frame, range(1, 5), family="exponential",
                                        random_state=0)
    assert "of feature 'wait' at the min_scale floor" in result.flags[("exponential", 4)]


def test_data_too_wide_for_the_arithmetic_names_the_column():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.0, 1e300, -1e300]})
    with pytest.raises(ValueError, match="spans 2e\\+300 in feature 'b', too wide"):
        GaussianMixture(1).fit(frame)
    with pytest.raises(ValueError, match="spans 2e\\+300 in feature 1, too wide"):
        GaussianMixture(1).fit(frame.to_numpy())


@pytest.mark.parametrize("family", [ExponentialMixture, PoissonMixture])
@pytest.mark.parametrize("how", ["frame", "chunks", "csv", "dask", "cli"])
def test_negative_data_name_the_column_of_the_smallest_value(tmp_path, capsys, family, how):
    """The error for data outside the family's domain names the feature of the smallest
    value by its column name, on every path that has the names (and by index without)."""
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0] * 5, "b": [2.0, 0.0, -2.0, 5.0] * 5})
    path = str(tmp_path / "data.csv")
    frame.to_csv(path, index=False)
    if how == "cli":
        from fastem.cli import main
        status = main(["fit", path, "-k", "2", "--family", family.__name__[:-7].lower(),
                       "-o", str(tmp_path / "model.npz")])
        err = capsys.readouterr().err
        assert status != 0 and "the smallest is -2, in feature 'b'; the first is " in err, err
        return
    X = {"frame": lambda: frame, "chunks": lambda: fastem.Chunks([frame[:8], frame[8:]]),
         "csv": lambda: fastem.Chunks([path]),
         "dask": lambda: pytest.importorskip("dask.dataframe").from_pandas(frame, npartitions=2),
         }[how]()
    with pytest.raises(ValueError, match=r"the smallest is -2, in feature 'b'; the first is "):
        family(2).fit(X)
    with pytest.raises(ValueError, match=r"the smallest is -2, in feature 1; the first is "):
        family(2).fit(frame.to_numpy())


@pytest.mark.parametrize("family", [ExponentialMixture, PoissonMixture])
def test_a_lazy_output_of_a_dask_frame_names_the_column_of_the_smallest_value(family):
    """A lazy output checks each block of a Dask DataFrame as it computes it: its error
    names the feature of the smallest value by column name, as an eager check does."""
    dd = pytest.importorskip("dask.dataframe")
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0] * 5, "b": [2.0, 0.0, -2.0, 5.0] * 5})
    model = family(2, random_state=0).fit(frame.abs())
    with pytest.raises(ValueError, match=r"the smallest is -2, in feature 'b'; the first is "):
        model.predict(dd.from_pandas(frame, npartitions=2)).compute()


@pytest.mark.parametrize("names", [np.array([1, 2]), ["a", None], np.array(["a"]), "ab"])
@pytest.mark.parametrize("data", ["frame", "array", "chunks"])
@pytest.mark.parametrize("method", ["predict", "score", "partial_fit"])
def test_column_names_assigned_that_are_not_strings_are_named(names, data, method):
    """feature_names_in_ assigned by hand as other than one string per feature: every
    method that takes data says so and what to assign. Before, integers failed inside the
    comparison of names ("'numpy.int64' object has no attribute 'strip'")."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame(np.concatenate([rng.normal(0, 1, (50, 2)), rng.normal(5, 1, (50, 2))]),
                     columns=["a", "b"])
    model = GaussianMixture(2, random_state=0).fit(X)
    model.feature_names_in_ = names
    source = {"frame": X, "array": X.to_numpy(), "chunks": fastem.Chunks([X])}[data]
    with pytest.raises(ValueError, match=r"feature_names_in_ is .*, not a list of 2 strings, "
                       r"one column name per feature. Assign the column names"):
        getattr(model, method)(source)
    model.feature_names_in_ = np.array(["a", "b"], dtype=object)
    getattr(model, method)(X)
