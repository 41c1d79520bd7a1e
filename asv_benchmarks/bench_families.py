"""Exponential and Poisson mixtures: EM iterations, when fastem has the family."""

import fastem

from .common import (
    N_ITER,
    SIZES,
    WARMUP_ROWS,
    ensure_dataset,
    fit_quietly,
    load_dataset,
)

N_FEATURES, N_COMPONENTS = 2, 4
FAMILIES = {"exponential": "ExponentialMixture", "poisson": "PoissonMixture"}


class _TimeFamilyFit:
    """``N_ITER`` EM iterations of one family on data drawn from that family."""

    kind = None  # the data set kind, a key of FAMILIES
    params = [SIZES]
    param_names = ["n_samples"]
    number = 1
    repeat = (1, 5, 30.0)
    warmup_time = 0  # setup() warms the JIT up, see bench_gaussian
    timeout = 600

    def setup_cache(self):
        # One key for both subclasses (this file and line), so asv runs it once:
        # draw the data of every family that this commit of fastem has.
        for kind, family in FAMILIES.items():
            if hasattr(fastem, family):
                for n_samples in SIZES:
                    ensure_dataset(kind, n_samples, N_FEATURES, N_COMPONENTS, "float64")

    setup_cache.timeout = 1800

    def setup(self, n_samples):
        estimator = getattr(fastem, FAMILIES[self.kind], None)
        if estimator is None:
            raise NotImplementedError(f"fastem has no {FAMILIES[self.kind]} in this commit")
        self.X = load_dataset(self.kind, n_samples, N_FEATURES, N_COMPONENTS, "float64")
        self.model = estimator(
            N_COMPONENTS, max_iter=N_ITER, tol=0.0, init_params="random", random_state=0
        )
        # Compile or load the family's kernels untimed.
        fit_quietly(self.model, self.X[:WARMUP_ROWS])

    def time_fit(self, n_samples):
        fit_quietly(self.model, self.X)


class TimeExponentialFit(_TimeFamilyFit):
    kind = "exponential"


class TimePoissonFit(_TimeFamilyFit):
    kind = "poisson"
