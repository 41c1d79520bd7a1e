"""fastem's speed relative to scikit-learn's GaussianMixture."""

import sys
from pathlib import Path

import numpy as np

from .common import COMPARISON_SIZE, N_ITER, QUICK, SHAPES

# The comparison is the one scripts/bench_vs_sklearn.py makes for the README's
# table, so that the tracked ratio and the published one are the same measurement.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_vs_sklearn  # noqa: E402

_REPEATS = 1 if QUICK else 5  # the smoke run only checks that it works


class TrackSpeedupOverSklearn:
    """Time per EM iteration of scikit-learn divided by that of fastem.

    Both libraries run ``N_ITER`` EM iterations (one E-step and one M-step
    each, no convergence test: fastem's passes as its ``fit`` runs them,
    scikit-learn's ``fit`` loop body) on the same data (``COMPARISON_SIZE`` points,
    float64) from the same initial parameters, alternating within each of
    ``_REPEATS`` repeats; the ratio is of the medians. See
    ``scripts/bench_vs_sklearn.py``.
    """

    shapes = SHAPES
    params = [list(shapes), ["full", "diag"]]
    param_names = ["shape", "covariance_type"]
    unit = "speed-up over scikit-learn (x)"
    timeout = 900

    def setup(self, shape, covariance_type):
        try:
            import sklearn  # noqa: F401
        except ImportError:
            raise NotImplementedError("scikit-learn is not installed") from None

    def track_speedup(self, shape, covariance_type):
        n_features, n_components = self.shapes[shape]
        fastem_seconds, sklearn_seconds, _, _ = bench_vs_sklearn.run_config(
            covariance_type, n_features, n_components, np.float64, COMPARISON_SIZE, N_ITER, _REPEATS
        )
        return sklearn_seconds / fastem_seconds


class TrackHighDimensionalSpeedupOverSklearn(TrackSpeedupOverSklearn):
    """The same ratio for full covariance in 64 and 128 dimensions.

    scikit-learn's matrix products are at their best there, and fastem's
    blocks run their register-tiled micro-kernels; the rows of
    ``scripts/bench_vs_sklearn.py`` with the same shapes are at N=200,000.
    """

    shapes = {"D=64,K=16": (64, 16), "D=128,K=8": (128, 8)}
    params = [list(shapes), ["full"]]


class TrackBayesianSpeedupOverSklearn:
    """The same ratio for the variational mixtures (``BayesianGaussianMixture``).

    Both libraries run ``N_ITER`` iterations (the variational E-step, the
    M-step and the lower bound each, as their ``fit`` loops do) with the
    Dirichlet process prior, from the M-step of the same hard
    responsibilities; the rows "Bayesian" of ``scripts/bench_vs_sklearn.py``.
    """

    shapes = {
        "full,D=2,K=10": ("full", 2, 10),
        "diag,D=16,K=10": ("diag", 16, 10),
        "spherical,D=16,K=10": ("spherical", 16, 10),
        "tied,D=16,K=10": ("tied", 16, 10),
    }
    params = [list(shapes)]
    param_names = ["shape"]
    unit = "speed-up over scikit-learn (x)"
    timeout = 900

    def setup(self, shape):
        try:
            import sklearn  # noqa: F401
        except ImportError:
            raise NotImplementedError("scikit-learn is not installed") from None

    def track_speedup(self, shape):
        covariance_type, n_features, n_components = self.shapes[shape]
        fastem_seconds, sklearn_seconds, _, _ = bench_vs_sklearn.run_config(
            covariance_type, n_features, n_components, np.float64, COMPARISON_SIZE, N_ITER,
            _REPEATS, bayesian=True,
        )
        return sklearn_seconds / fastem_seconds


class TrackFitTimeOverSklearn:
    """Wall time of a default scikit-learn fit divided by that of a default fastem fit.

    Each library's own defaults (start, stopping rule, ``max_iter``) on the
    same ``COMPARISON_SIZE`` points: the time a user waits for ``fit``. A
    ratio for the whole fit is only fair beside the log-likelihood each
    reaches, which ``scripts/bench_fit_time.py`` reports with it.
    """

    shapes = SHAPES
    params = [list(shapes), ["full", "diag"]]
    param_names = ["shape", "covariance_type"]
    unit = "fit-time speed-up over scikit-learn (x)"
    timeout = 900

    setup = TrackSpeedupOverSklearn.setup

    def track_fit_time_speedup(self, shape, covariance_type):
        import bench_fit_time

        n_features, n_components = self.shapes[shape]
        result = bench_fit_time.run_config(
            covariance_type, n_features, n_components, np.float64, COMPARISON_SIZE, _REPEATS
        )
        return result["sklearn"][0] / result["fastem"][0]
