"""fastem: mixture models fitted by Expectation-Maximization with fused Numba kernels."""

from .base import BaseMixture, ConvergenceWarning, EmptyComponentWarning
from .families.gaussian import GaussianMixture
from .stats import SufficientStatistics

__version__ = "0.1.0"

__all__ = [
    "BaseMixture",
    "ConvergenceWarning",
    "EmptyComponentWarning",
    "GaussianMixture",
    "SufficientStatistics",
    "__version__",
]
