"""GaussianMixture: EM iterations, peak memory of a fit, prediction passes; BayesianGaussianMixture fits."""

from .common import (
    COVARIANCE_TYPES,
    DTYPES,
    N_ITER,
    SHAPES,
    SIZES,
    WARMUP_ROWS,
    GaussianData,
    fit_quietly,
    gaussian_model,
    load_dataset,
    shape_for,
)


class TimeGaussianFit(GaussianData):
    """``N_ITER`` EM iterations from fixed initial parameters (no early stop)."""

    params = [SIZES, list(SHAPES), COVARIANCE_TYPES, DTYPES]
    param_names = ["n_samples", "shape", "covariance_type", "dtype"]
    number = 1
    repeat = (1, 5, 30.0)
    # setup() already warms the JIT up; asv's own warm-up would repeat a whole
    # fit, seconds of work at 10M points.
    warmup_time = 0
    timeout = 600

    def setup(self, data_dir, n_samples, shape, covariance_type, dtype):
        n_features, n_components = shape_for(shape, n_samples)
        self.X = load_dataset("gaussian", n_samples, n_features, n_components, dtype)
        self.model = gaussian_model(covariance_type, n_features, n_components)
        # The first call in a process compiles the kernels for this covariance
        # type and dtype, or loads them from Numba's cache: both take far
        # longer than an iteration on small data. Pay it here, untimed.
        fit_quietly(self.model, self.X[:WARMUP_ROWS])

    def time_fit(self, data_dir, n_samples, shape, covariance_type, dtype):
        fit_quietly(self.model, self.X)


class PeakMemGaussianFit(GaussianData):
    """Peak resident memory of a fit, next to that of the data alone.

    asv records the process's peak resident set size, setup included, so
    ``peakmem_data`` (the interpreter, fastem, its loaded kernels and the data)
    is the baseline and ``peakmem_fit - peakmem_data`` is what the fit itself
    allocates. Memory does not depend on the covariance type's arithmetic
    beyond (K, D, D) parameter arrays, so only 'full' is measured.
    """

    params = [SIZES, list(SHAPES), DTYPES]
    param_names = ["n_samples", "shape", "dtype"]
    timeout = 600

    def setup(self, data_dir, n_samples, shape, dtype):
        n_features, n_components = shape_for(shape, n_samples)
        self.X = load_dataset("gaussian", n_samples, n_features, n_components, dtype)
        self.model = gaussian_model("full", n_features, n_components)
        # Load the kernels in both benchmarks, so that they differ by the fit only.
        fit_quietly(self.model, self.X[:WARMUP_ROWS])

    def peakmem_data(self, data_dir, n_samples, shape, dtype):
        """Baseline: everything ``setup`` holds, and no fit."""

    def peakmem_fit(self, data_dir, n_samples, shape, dtype):
        fit_quietly(self.model, self.X)


class TimeGaussianPredict(GaussianData):
    """One pass over the data with a fitted model: labels and log-densities."""

    params = [SIZES, list(SHAPES), COVARIANCE_TYPES, DTYPES]
    param_names = ["n_samples", "shape", "covariance_type", "dtype"]
    number = 1
    repeat = (1, 10, 20.0)
    warmup_time = 0
    timeout = 600

    def setup(self, data_dir, n_samples, shape, covariance_type, dtype):
        n_features, n_components = shape_for(shape, n_samples)
        self.X = load_dataset("gaussian", n_samples, n_features, n_components, dtype)
        # The parameters only need to be plausible: fit on the first rows.
        self.model = fit_quietly(
            gaussian_model(covariance_type, n_features, n_components), self.X[:100_000]
        )
        # Compile or load the prediction kernels untimed (see TimeGaussianFit).
        self.model.predict(self.X[:WARMUP_ROWS])
        self.model.score_samples(self.X[:WARMUP_ROWS])

    def time_predict(self, data_dir, n_samples, shape, covariance_type, dtype):
        self.model.predict(self.X)

    def time_score_samples(self, data_dir, n_samples, shape, covariance_type, dtype):
        self.model.score_samples(self.X)



class TimeBayesianFit(GaussianData):
    """A BayesianGaussianMixture fit of ``N_ITER`` passes (no early stop), Dirichlet process prior.

    The fit includes its start: the priors from the data (two passes) and a
    random partition's moments.
    """

    params = [SIZES, list(SHAPES), ["full", "diag"]]
    param_names = ["n_samples", "shape", "covariance_type"]
    number = 1
    repeat = (1, 5, 30.0)
    warmup_time = 0
    timeout = 600

    def setup(self, data_dir, n_samples, shape, covariance_type):
        import fastem

        n_features, n_components = shape_for(shape, n_samples)
        self.X = load_dataset("gaussian", n_samples, n_features, n_components, "float64")
        self.model = fastem.BayesianGaussianMixture(
            n_components, covariance_type=covariance_type, max_iter=N_ITER, tol=0.0,
            init_params="random", random_state=0,
        )
        fit_quietly(self.model, self.X[:WARMUP_ROWS])  # compiles or loads the kernels, untimed

    def time_fit(self, data_dir, n_samples, shape, covariance_type):
        fit_quietly(self.model, self.X)
