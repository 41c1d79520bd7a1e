"""fastem's speed relative to scikit-learn's GaussianMixture."""

import statistics
import time

from .common import (
    COMPARISON_SIZE,
    N_ITER,
    QUICK,
    SHAPES,
    WARMUP_ROWS,
    GaussianData,
    fit_quietly,
    gaussian_model,
    load_dataset,
)

_REPEATS = 1 if QUICK else 5  # the smoke run only checks that it works


def _fit_seconds(model, X, max_iter):
    model.set_params(max_iter=max_iter)
    start = time.perf_counter()
    fit_quietly(model, X)
    return time.perf_counter() - start


class TrackSpeedupOverSklearn(GaussianData):
    """Time per EM iteration of scikit-learn divided by that of fastem.

    Both libraries fit the same data (``COMPARISON_SIZE`` points, float64) from
    the same initial parameters. The time per iteration is the difference
    between a fit of ``1 + N_ITER`` iterations and a fit of 1, divided by
    ``N_ITER``: what both fits share (validation, initialisation,
    scikit-learn's final E-step) cancels. The two libraries alternate within
    each of ``_REPEATS`` repeats, so that a change of machine load hits both,
    and the ratio is of the medians.
    """

    params = [list(SHAPES), ["full", "diag"]]
    param_names = ["shape", "covariance_type"]
    unit = "speed-up over scikit-learn (x)"
    timeout = 900

    def setup(self, data_dir, shape, covariance_type):
        try:
            from sklearn.mixture import GaussianMixture as SklearnGaussianMixture
        except ImportError:
            raise NotImplementedError("scikit-learn is not installed") from None
        n_features, n_components = SHAPES[shape]
        self.X = load_dataset("gaussian", COMPARISON_SIZE, n_features, n_components, "float64")
        self.models = [
            gaussian_model(covariance_type, n_features, n_components, estimator)
            for estimator in (None, SklearnGaussianMixture)
        ]
        for model in self.models:  # fastem's kernels: compile or load them untimed
            fit_quietly(model, self.X[:WARMUP_ROWS])

    def track_speedup(self, data_dir, shape, covariance_type):
        per_iteration = [[], []]
        for _ in range(_REPEATS):
            for seconds, model in zip(per_iteration, self.models):
                short = _fit_seconds(model, self.X, 1)
                long = _fit_seconds(model, self.X, 1 + N_ITER)
                seconds.append((long - short) / N_ITER)
        fastem_seconds, sklearn_seconds = (statistics.median(s) for s in per_iteration)
        return sklearn_seconds / fastem_seconds
