"""missing='em': a component that holds no observed value of a feature keeps its start there."""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose

from fastem import ExponentialMixture, PoissonMixture, select_n_components


def data():
    """Small values whose feature 1 is always missing, and far ones observed in both features:
    the small component's responsibilities for the far points are exactly 0."""
    rng = np.random.default_rng(0)
    small = np.column_stack([rng.poisson(2.0, 300) + 1, np.full(300, np.nan)])
    far = np.column_stack([rng.poisson(5e4, 300), rng.poisson(50.0, 300)])
    return np.concatenate([small, far]).astype(np.float64)


@pytest.mark.parametrize("family, init", [(ExponentialMixture, "scales_init"),
                                          (PoissonMixture, "rates_init")])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_unobserved_feature_keeps_its_start_and_warns(family, init, dtype):
    X = data().astype(dtype)
    start = np.array([[3.0, 70.0], [4e4, 40.0]])
    model = family(2, missing="em", weights_init=[0.5, 0.5], **{init: start})
    with pytest.warns(UserWarning, match=r"hold no observed value in some features \(component "
                                         r"0: feature\(s\) 1\).*keep their starting values"):
        model.fit(X)
    means = getattr(model, model._mean_name)
    assert_allclose(means[0, 1], 70.0, rtol=1e-6)  # the start's, not the floor's 5e-5
    assert_allclose(means[1, 1], np.nanmean(X[300:, 1]), rtol=1e-4)
    # imputed from the kept value, not from a floor near 0
    assert_allclose(model.impute(np.array([[2.0, np.nan]], dtype=dtype))[0, 1], 70.0, rtol=1e-4)


def test_partial_fit_keeps_the_previous_value():
    X = data()
    model = PoissonMixture(2, missing="em", weights_init=[0.5, 0.5],
                           rates_init=[[3.0, 70.0], [4e4, 40.0]])
    with pytest.warns(UserWarning, match="hold no observed value"):
        model.partial_fit(X)
    model.partial_fit(X)  # said once per stream
    assert_allclose(model.rates_[0, 1], 70.0)


@pytest.mark.parametrize("family", ["exponential", "poisson"])
def test_select_n_components_says_it_once_of_the_chosen_fit(family):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = select_n_components(data(), n_components=[1, 2, 3], family=family,
                                     missing="em", random_state=0)
    said = [str(w.message) for w in caught if "hold no observed value" in str(w.message)]
    assert result.best_params_ == (family, 2)
    assert len(said) == 1, said  # not once per cell of the grid
    assert f"in the chosen fit ('{family}', 2)" in said[0]
