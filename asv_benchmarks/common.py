"""Settings, data sets and models shared by fastem's asv benchmarks.

Data are drawn once with fixed seeds and kept as ``.npy`` files in
``DATA_DIR`` (default ``asv_benchmarks/.data``, ignored by git; set
``FASTEM_ASV_DATA_DIR`` to move it). Benchmarks load them in ``setup``, so
neither drawing nor loading is ever timed, and drawing happens in asv's
``setup_cache`` process, so it never shows in a ``peakmem_`` figure either.

``FASTEM_ASV_QUICK=1`` limits every size to 10,000 points: with
``asv run --quick`` that runs each benchmark once in a few minutes (the CI
smoke run, ``scripts/asv_smoke.sh``).
"""

import os
import warnings

import numpy as np

import fastem
from fastem import ConvergenceWarning

QUICK = os.environ.get("FASTEM_ASV_QUICK", "") not in ("", "0")

#: Number of points of the data sets.
SIZES = [10_000] if QUICK else [10_000, 100_000, 1_000_000, 10_000_000]

#: Data shapes, as (n_features, n_components), under readable parameter names.
SHAPES = {"D=2,K=4": (2, 4), "D=16,K=8": (16, 8)}

#: The wide shape runs only up to this many points. At 10M points its data are
#: 1.28 GB in float64 and one full-covariance iteration takes seconds on two
#: cores; 10k to 1M already show how it scales.
MAX_POINTS = {"D=2,K=4": 10_000_000, "D=16,K=8": 1_000_000}

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
DTYPES = ["float32", "float64"]

#: EM iterations per timed fit. tol=0 disables the convergence test, so every
#: fit does exactly this much work whatever the data.
N_ITER = 5

#: Rows used to compile (or load from Numba's cache) the kernels before timing.
WARMUP_ROWS = 1_000

#: Size of the scikit-learn comparison (track_ benchmarks).
COMPARISON_SIZE = 10_000 if QUICK else 100_000

DATA_DIR = os.environ.get("FASTEM_ASV_DATA_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), ".data"
)

_SEED = 20_240_611
_CHUNK_ROWS = 1_000_000  # rows drawn per step, so that drawing 10M points needs little memory
_KINDS = {"gaussian": 0, "exponential": 1, "poisson": 2}


def shape_for(shape, n_samples):
    """(n_features, n_components) of a shape name; skip sizes the shape leaves out."""
    if n_samples > MAX_POINTS[shape]:
        raise NotImplementedError(
            f"{shape} runs only up to {MAX_POINTS[shape]:,} points (see MAX_POINTS)"
        )
    return SHAPES[shape]


def mixture_truth(kind, n_features, n_components):
    """Parameters of the mixture the data of ``kind`` are drawn from."""
    rng = np.random.default_rng([_SEED, _KINDS[kind], n_features, n_components])
    if kind == "gaussian":
        return {
            "means": rng.normal(0.0, 4.0, size=(n_components, n_features)),
            "scales": rng.uniform(0.5, 1.5, size=n_components),
        }
    if kind == "exponential":
        return {"scales": rng.uniform(0.5, 5.0, size=(n_components, n_features))}
    return {"rates": rng.uniform(1.0, 20.0, size=(n_components, n_features))}


def _draw(kind, truth, rng, n_rows):
    """``n_rows`` float64 points of the ``kind`` mixture, equal weights."""
    first = next(iter(truth.values()))
    labels = rng.integers(first.shape[0], size=n_rows)
    if kind == "gaussian":
        noise = rng.standard_normal((n_rows, truth["means"].shape[1]))
        return truth["means"][labels] + noise * truth["scales"][labels, None]
    if kind == "exponential":
        return rng.exponential(truth["scales"][labels])
    return rng.poisson(truth["rates"][labels]).astype(np.float64)


def dataset_path(kind, n_samples, n_features, n_components, dtype):
    name = f"{kind}_n{n_samples}_d{n_features}_k{n_components}_{dtype}.npy"
    return os.path.join(DATA_DIR, name)


def ensure_dataset(kind, n_samples, n_features, n_components, dtype):
    """Write the data set to ``DATA_DIR`` unless it is there already.

    Rows are drawn in chunks, each from its own seeded generator, straight into
    a memory-mapped file that is renamed into place when complete, so an
    interrupted run never leaves a truncated file behind. float32 sets are the
    float64 draws rounded.
    """
    path = dataset_path(kind, n_samples, n_features, n_components, dtype)
    if os.path.exists(path):
        return path
    os.makedirs(DATA_DIR, exist_ok=True)
    truth = mixture_truth(kind, n_features, n_components)
    partial = f"{path[:-4]}.partial-{os.getpid()}.npy"  # *.npy: ignored by git
    out = np.lib.format.open_memmap(partial, mode="w+", dtype=dtype, shape=(n_samples, n_features))
    for chunk, start in enumerate(range(0, n_samples, _CHUNK_ROWS)):
        stop = min(n_samples, start + _CHUNK_ROWS)
        rng = np.random.default_rng([_SEED, _KINDS[kind], n_samples, n_features, chunk])
        out[start:stop] = _draw(kind, truth, rng, stop - start)
    out.flush()
    del out
    os.replace(partial, path)
    return path


def load_dataset(kind, n_samples, n_features, n_components, dtype, mmap_mode=None):
    """The data set as an in-memory array, or memory-mapped with ``mmap_mode='r'``."""
    path = dataset_path(kind, n_samples, n_features, n_components, dtype)
    return np.load(path, mmap_mode=mmap_mode)


def gaussian_init(covariance_type, n_features, n_components):
    """Fixed initial parameters: equal weights, shifted true means, unit precisions."""
    means = mixture_truth("gaussian", n_features, n_components)["means"] + 0.5
    precisions = {
        "full": np.tile(np.eye(n_features), (n_components, 1, 1)),
        "tied": np.eye(n_features),
        "diag": np.ones((n_components, n_features)),
        "spherical": np.ones(n_components),
    }[covariance_type]
    return {
        "weights_init": np.full(n_components, 1.0 / n_components),
        "means_init": means,
        "precisions_init": precisions,
    }


def gaussian_model(covariance_type, n_features, n_components, estimator=None, max_iter=N_ITER):
    """A GaussianMixture that runs exactly ``max_iter`` iterations from fixed parameters.

    ``estimator`` is the class (fastem's by default, or scikit-learn's: both
    take the same arguments). fastem computes nothing from the data when
    every initial parameter is given; scikit-learn still draws initial
    responsibilities first, and ``init_params="random"`` is the cheapest way
    for it to do that.
    """
    estimator = fastem.GaussianMixture if estimator is None else estimator
    return estimator(
        n_components,
        covariance_type=covariance_type,
        max_iter=max_iter,
        tol=0.0,
        init_params="random",
        random_state=0,
        **gaussian_init(covariance_type, n_features, n_components),
    )


def fit_quietly(model, X):
    """``model.fit(X)`` without the ConvergenceWarning that tol=0 always causes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X)


class GaussianData:
    """Mix-in: every Gaussian data set of the suite, drawn once per asv run.

    asv runs ``setup_cache`` once for all classes that inherit it (its key is
    this file and line) in a process of its own, before their benchmarks.
    """

    def setup_cache(self):
        for shape, (n_features, n_components) in SHAPES.items():
            for n_samples in SIZES:
                if n_samples <= MAX_POINTS[shape]:
                    for dtype in DTYPES:
                        ensure_dataset("gaussian", n_samples, n_features, n_components, dtype)
        # Fill Numba's on-disk cache for every covariance type and dtype here,
        # so that no benchmark process compiles: a compilation would add
        # LLVM's memory to whichever peakmem_ benchmark happened to run first.
        for covariance_type in COVARIANCE_TYPES:
            for dtype in DTYPES:
                X = load_dataset("gaussian", SIZES[0], 2, 4, dtype)[:WARMUP_ROWS]
                model = fit_quietly(gaussian_model(covariance_type, 2, 4), X)
                model.predict(X)
                model.score_samples(X)
        return DATA_DIR

    setup_cache.timeout = 1800
