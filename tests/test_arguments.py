"""Bad arguments to the public API: each error names the argument, the value it got and the fix."""

import re
import warnings

import numpy as np
import pytest

import fastem
from fastem import (
    BayesianGaussianMixture,
    ConvergenceWarning,
    ExponentialMixture,
    GaussianMixture,
    PoissonMixture,
)


def blobs(n=200, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0, 1, (n, 2)), rng.normal(5, 1, (n, 2))])


# ----------------------------------------------------------------------
# EM's objective named as what each family maximises

OBJECTIVES = [
    (GaussianMixture, lambda X: X, "log-likelihood"),
    (ExponentialMixture, np.abs, "log-likelihood"),
    (PoissonMixture, lambda X: np.round(np.abs(X)), "log-likelihood"),
    (BayesianGaussianMixture, lambda X: X, "evidence lower bound (ELBO)"),
]


@pytest.mark.parametrize("cls, data, objective", OBJECTIVES)
def test_convergence_warning_names_the_familys_objective(cls, data, objective):
    X = data(blobs())
    with pytest.warns(ConvergenceWarning) as caught:
        cls(2, max_iter=2, tol=0.0, random_state=0).fit(X)
    message = str(caught[0].message)
    assert f"gain of the {objective} per sample" in message
    if cls is BayesianGaussianMixture:
        assert "likelihood" not in message


def test_the_variational_mixtures_docstrings_say_lower_bound_not_likelihood():
    """Its fit keeps the start with the largest ELBO, and tol is in ELBO per sample."""
    for text in (BayesianGaussianMixture.__doc__, BayesianGaussianMixture.fit.__doc__):
        assert "largest likelihood" not in text
        assert not re.search(r"unit \(mean log-likelihood", text)
    assert "evidence lower bound" in BayesianGaussianMixture.fit.__doc__
