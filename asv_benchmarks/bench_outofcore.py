"""Fits on data that are not an in-memory NumPy array: a memory map, a Dask array."""

import importlib.util

from .common import (
    SIZES,
    WARMUP_ROWS,
    GaussianData,
    fit_quietly,
    gaussian_model,
    load_dataset,
)

N_FEATURES, N_COMPONENTS = 2, 4


class TimeMemmapFit(GaussianData):
    """The fit of ``TimeGaussianFit`` (D=2, K=4, full, float64) on ``np.load(mmap_mode='r')``.

    The .npy file was just written or read, so it is in the OS page cache:
    this measures the memory-mapped code path, not the disk.
    """

    params = [SIZES]
    param_names = ["n_samples"]
    number = 1
    repeat = (1, 5, 30.0)
    warmup_time = 0  # setup() warms the JIT up, see bench_gaussian
    timeout = 600

    def setup(self, data_dir, n_samples):
        self.X = load_dataset(
            "gaussian", n_samples, N_FEATURES, N_COMPONENTS, "float64", mmap_mode="r"
        )
        self.model = gaussian_model("full", N_FEATURES, N_COMPONENTS)
        fit_quietly(self.model, self.X[:WARMUP_ROWS])

    def time_fit(self, data_dir, n_samples):
        fit_quietly(self.model, self.X)


class TimeDaskFit(GaussianData):
    """The same fit on a Dask array of 4 chunks, when fastem supports Dask.

    fastem's Dask support is detected as the module ``fastem._dask``; the fit
    goes through ``GaussianMixture.fit``, which dispatches on the array type
    (Dask's default threaded scheduler here, no cluster).
    """

    params = [SIZES]
    param_names = ["n_samples"]
    number = 1
    repeat = (1, 5, 30.0)
    warmup_time = 0
    timeout = 600

    def setup(self, data_dir, n_samples):
        if importlib.util.find_spec("dask") is None:
            raise NotImplementedError("dask is not installed")
        if importlib.util.find_spec("fastem._dask") is None:
            raise NotImplementedError("fastem has no Dask support in this commit")
        import dask.array as da

        X = load_dataset("gaussian", n_samples, N_FEATURES, N_COMPONENTS, "float64", mmap_mode="r")
        self.X = da.from_array(X, chunks=(-(-n_samples // 4), N_FEATURES))
        self.model = gaussian_model("full", N_FEATURES, N_COMPONENTS)
        fit_quietly(self.model, self.X[:WARMUP_ROWS])

    def time_fit(self, data_dir, n_samples):
        fit_quietly(self.model, self.X)
