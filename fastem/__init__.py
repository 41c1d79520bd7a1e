"""fastem: mixture models fitted by Expectation-Maximization with fused Numba kernels."""

from .base import BaseMixture
from .data import Chunks
from .families.bayesian import BayesianGaussianMixture
from .exceptions import (
    ConvergenceWarning,
    EmptyComponentWarning,
    LikelihoodDecreaseWarning,
    NotFittedError,
    RegularizationWarning,
    WarmStartWarning,
)
from .families.exponential import ExponentialMixture
from .families.gaussian import GaussianMixture
from .families.poisson import PoissonMixture
from .io import load
from .selection import select_n_components
from .stats import SufficientStatistics

__version__ = "0.1.0"

# Submodules reached as attributes (fastem.datasets.load_airquality()), imported on first use.
_SUBMODULES = ("datasets", "plot")


def __getattr__(name):
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fastem' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_SUBMODULES])

__all__ = [
    "BaseMixture",
    "BayesianGaussianMixture",
    "Chunks",
    "ConvergenceWarning",
    "EmptyComponentWarning",
    "ExponentialMixture",
    "GaussianMixture",
    "LikelihoodDecreaseWarning",
    "PoissonMixture",
    "RegularizationWarning",
    "SufficientStatistics",
    "WarmStartWarning",
    "NotFittedError",
    "load",
    "select_n_components",
    "__version__",
]
