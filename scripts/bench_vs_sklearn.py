"""Time EM iterations of fastem against scikit-learn, side by side.

For each configuration the script draws data from a known Gaussian mixture
(deterministic seed), builds one set of initial parameters, and times a fixed
number of EM iterations (no convergence test, so both do the same work) in
``fastem.GaussianMixture`` and in ``sklearn.mixture.GaussianMixture``,
alternating the two in one process. The rows marked "Bayesian" do the same
for the variational mixtures (``BayesianGaussianMixture``, Dirichlet process
prior), from the M-step of the same hard responsibilities, each library's
lower bound included, as its ``fit`` computes it every iteration. An iteration is one E-step and one
M-step: for fastem a pass of plain EM as its ``fit`` runs it (with the checks
of the new parameters and the stopping rule's bookkeeping, see
``fastem_iterations``), for scikit-learn its ``fit``'s loop body; the input checks, which each library's ``fit`` runs once before its
loop, are outside the timings on both sides. Each timing is repeated and the
medians are reported, with two lower bounds for one fastem iteration:

* exp bound: ``N * K`` exponentials at the throughput of fastem's vectorised
  ``exp`` in a parallel Numba loop, measured here;
* read bound: reading the data once at the memory bandwidth of a parallel
  Numba sum over a large array, measured here.

Both bounds use every thread Numba has, like the EM kernels.

Examples
--------
::

    PYTHONPATH=$PWD python scripts/bench_vs_sklearn.py
    PYTHONPATH=$PWD python scripts/bench_vs_sklearn.py --quick
    PYTHONPATH=$PWD python scripts/bench_vs_sklearn.py --markdown bench.md
"""

import argparse
import importlib
import os
import statistics
import sys
import time
import warnings

import numba
import numpy as np
from numba import njit, prange

from fastem import GaussianMixture
from fastem._config import FASTMATH
from fastem.kernels._codegen import compiled_as_kernels, installed_vector_width
from fastem.kernels._math import exp32, exp64

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _machine import cpu_model  # noqa: E402

# Pause before each timing, in seconds (see run_config).
_SETTLE_SECONDS = 0.5

# (covariance type, n_features, n_components, dtype, fraction of --n-samples)
CONFIGS = [
    ("full", 2, 4, np.float64, 1.0),
    ("full", 2, 4, np.float32, 1.0),
    ("full", 16, 8, np.float64, 1.0),
    ("diag", 16, 8, np.float64, 1.0),
    ("tied", 16, 8, np.float64, 1.0),
    ("spherical", 16, 8, np.float64, 1.0),
    ("spherical", 2, 4, np.float64, 1.0),
    ("full", 1, 2, np.float64, 1.0),
    # High dimensions (embeddings, spectra), where the blocks run their
    # register-tiled micro-kernels: at 200,000 points one scikit-learn
    # iteration already takes seconds.
    ("full", 64, 16, np.float64, 0.2),
    ("full", 128, 8, np.float64, 0.2),
]


def make_data(covariance_type, n_samples, n_features, n_components, dtype, seed=0):
    """Draw data from a known mixture and build initial parameters for it.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), ``dtype``
    init : dict
        ``weights_init``, ``means_init`` and ``precisions_init`` (float64,
        shaped for ``covariance_type``): the true means moved by half a
        standard deviation, equal weights, and unit precisions.
    """
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=4.0, size=(n_components, n_features))
    weights = rng.dirichlet(np.full(n_components, 5.0))
    counts = rng.multinomial(n_samples, weights)
    parts = []
    for k, count in enumerate(counts):
        a = rng.normal(size=(n_features, n_features)) / np.sqrt(n_features)
        cov = a @ a.T + 0.5 * np.eye(n_features)
        parts.append(rng.multivariate_normal(means[k], cov, size=count, method="cholesky"))
    X = np.concatenate(parts)
    X = X[rng.permutation(n_samples)].astype(dtype)

    eye = np.eye(n_features)
    precisions = {
        "full": np.broadcast_to(eye, (n_components, n_features, n_features)).copy(),
        "tied": eye,
        "diag": np.ones((n_components, n_features)),
        "spherical": np.ones(n_components),
    }[covariance_type]
    init = {
        "weights_init": np.full(n_components, 1.0 / n_components),
        "means_init": means + 0.5 * rng.normal(size=means.shape),
        "precisions_init": precisions,
    }
    return X, init


# Variational mixtures (BayesianGaussianMixture, Dirichlet process prior), the
# same shapes of iteration: (covariance type, n_features, n_components, dtype,
# fraction of --n-samples). Every covariance type: each has its own
# per-component constants and lower-bound terms around the shared kernel.
BAYESIAN_CONFIGS = [
    ("full", 2, 10, np.float64, 1.0),
    ("diag", 16, 10, np.float64, 1.0),
    ("spherical", 16, 10, np.float64, 1.0),
    ("tied", 16, 10, np.float64, 1.0),
]


def initial_moments(X, init):
    """Hard responsibilities of the nearest initial mean: their masses, means and covariances."""
    means = init["means_init"]
    n_components, n_features = means.shape
    labels = np.empty(len(X), dtype=np.int64)
    for start in range(0, len(X), 100_000):  # bounded memory at any N
        part = np.asarray(X[start : start + 100_000], dtype=np.float64)
        labels[start : start + 100_000] = np.argmin(
            ((part[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1
        )
    nk = np.bincount(labels, minlength=n_components).astype(np.float64)
    nk += 10 * np.finfo(np.float64).eps
    centres = np.stack([X[labels == k].mean(axis=0) for k in range(n_components)])
    covariances = np.stack([np.cov(X[labels == k].T, bias=True).reshape(n_features, n_features)
                            for k in range(n_components)])
    return labels, nk, centres, covariances


def fastem_bayesian_model(X, covariance_type, n_components, init):
    """A fastem variational model at the M-step of the hard start, ready for iterations."""
    from fastem import BayesianGaussianMixture
    from fastem.data import as_source

    model = BayesianGaussianMixture(n_components, covariance_type=covariance_type)
    for name, value in model._fit_priors(as_source(X)).items():
        setattr(model, name, value)
    _, nk, centres, covariances = init["moments"]
    model.weights_ = np.full(n_components, 1.0 / n_components, dtype=X.dtype)
    model._params_from_moments(nk, centres, covariances)
    model.n_features_in_ = X.shape[1]
    return model


def fastem_bayesian_iterations(model, source, n_iter):
    """``n_iter`` passes of the variational loop body: E-step, M-step and lower bound.

    As in ``fit`` (``fastem._em``), the parameters of an M-step from a pass's
    statistics count as checked when those of the pass were.
    """
    for _ in range(n_iter):
        stats = model._summarize(source)
        before = model._get_parameters()
        model.m_step(stats)
        model._pass_checks_on(before, source.n_features)
        model._lower_bound(stats, before)


def sklearn_bayesian_model(X, covariance_type, n_components, init):
    """A scikit-learn variational model at the M-step of the same hard start."""
    from sklearn.mixture import BayesianGaussianMixture as SkBayesianGaussianMixture

    model = SkBayesianGaussianMixture(n_components=n_components, covariance_type=covariance_type)
    model._check_parameters(X)
    labels = init["moments"][0]
    resp = np.zeros((len(X), n_components))
    resp[np.arange(len(X)), labels] = 1.0
    model._initialize(X, resp)
    return model


def sklearn_bayesian_iterations(model, X, n_iter):
    """``n_iter`` iterations of scikit-learn's loop body, its lower bound included (``fit_predict``)."""
    for _ in range(n_iter):
        log_prob_norm, log_resp = model._e_step(X)
        model._m_step(X, log_resp)
        model._compute_lower_bound(log_resp, log_prob_norm)


def fastem_model(X, covariance_type, n_components, init):
    """A fastem model at the initial parameters, ready for EM iterations."""
    model = GaussianMixture(n_components, covariance_type=covariance_type, max_iter=0, **init)
    model.fit(X[:1000])  # max_iter=0: only sets the initial parameters
    return model


def fastem_iterations(model, source, n_iter):
    """``n_iter`` passes of plain EM as ``fit`` runs them, with no stop.

    ``source`` is the validated data (``model._validate_data(X)``): ``fit``
    validates once before its loop, as scikit-learn does, and neither
    library's validation is part of an iteration. The passes are those of
    ``fit`` (``fastem._em.run_em`` on the family's stand-in for its working
    copy, :meth:`~fastem.GaussianMixture._em_stand_in`, with
    ``accelerate=False``): each is one fused E-step, one M-step, the checks
    of the new parameters and the stopping rule's bookkeeping. At ``tol=0``
    the rule never holds, so every run makes ``n_iter`` passes; ``model``
    then takes their parameters, as ``fit`` gives them back. The model's own
    hooks (``m_step``, ``_summarize``), which a run drives where the family
    has no stand-in (float32 data), give the same bits.
    """
    package = type(model).__module__.partition(".")[0]  # this checkout's or bench_ab.py's base
    run_em = importlib.import_module(package + "._em").run_em
    worker = model._em_stand_in(model, source)
    result = run_em(worker, source, tol=0.0, max_iter=n_iter, accelerate=False)
    if result.n_iter != n_iter:
        raise RuntimeError(f"fastem stopped after {result.n_iter} of {n_iter} passes at tol=0")
    if worker is not model:
        model._set_parameters(result.parameters)


def sklearn_model(X, covariance_type, n_components, init):
    """A scikit-learn model at the initial parameters, ready for EM iterations."""
    from sklearn.mixture import GaussianMixture as SkGaussianMixture

    model = SkGaussianMixture(n_components, covariance_type=covariance_type, **init)
    model._initialize(X, None)  # with every *_init given this only copies them
    return model


def sklearn_iterations(model, X, n_iter):
    """``n_iter`` iterations of scikit-learn's EM loop body (``fit_predict``)."""
    for _ in range(n_iter):
        _, log_resp = model._e_step(X)
        model._m_step(X, log_resp)


# The exp probes are compiled as fastem's kernels are, at their vector width
# (fastem/kernels/_codegen.py), and not cached: the cache does not know the width.
@njit(parallel=True, fastmath=FASTMATH)
def _exp_throughput_kernel(x, n_repeat):
    n_partitions = x.shape[0]
    out = np.zeros(n_partitions)
    for p in prange(n_partitions):
        row = x[p]
        s = 0.0
        for _ in range(n_repeat):
            for i in range(row.shape[0]):
                s += exp64(row[i])
        out[p] = s
    return out


@njit(parallel=True, fastmath=FASTMATH)
def _exp32_throughput_kernel(x, n_repeat):
    n_partitions = x.shape[0]
    out = np.zeros(n_partitions)
    for p in prange(n_partitions):
        row = x[p]
        s = np.float32(0.0)
        for _ in range(n_repeat):
            for i in range(row.shape[0]):
                s += exp32(row[i])
        out[p] = s
    return out


@njit(parallel=True, cache=True, fastmath=FASTMATH)
def _sum_kernel(x):
    n_partitions = 64
    n = x.shape[0]
    out = np.zeros(n_partitions)
    for p in prange(n_partitions):
        # A view indexed from 0: with ``x[i]`` for i from ``p * n // n_partitions``
        # LLVM wraps each index like a negative one and the loads become
        # gathers, which measured a third of the bandwidth.
        part = x[p * n // n_partitions : (p + 1) * n // n_partitions]
        s = 0.0
        for i in range(part.shape[0]):
            s += part[i]
        out[p] = s
    return out.sum()


def _best_time(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def exp_throughput(dtype, repeat=5):
    """Exponentials per second of the vectorised exp, on all Numba threads."""
    # Rows of 4096 stay in L1 cache, so this measures arithmetic, not memory.
    x = np.random.default_rng(1).uniform(-20, 0, size=(64, 4096)).astype(dtype)
    kernel = _exp_throughput_kernel if dtype == np.float64 else _exp32_throughput_kernel
    n_repeat = 100
    with compiled_as_kernels():
        kernel(x, 1)
    return x.size * n_repeat / _best_time(lambda: kernel(x, n_repeat), repeat)


def read_bandwidth(repeat=5):
    """Bytes per second read by a parallel sum over a 512 MiB array."""
    x = np.ones(64 * 2**20)
    _sum_kernel(x)
    return x.nbytes / _best_time(lambda: _sum_kernel(x), repeat)


def run_config(covariance_type, n_features, n_components, dtype, n_samples, n_iter, repeat,
               bayesian=False):
    """Median seconds per iteration for fastem and scikit-learn.

    With ``bayesian``, of the variational mixtures (``BayesianGaussianMixture``)
    from the M-step of the same hard responsibilities.
    """
    X, init = make_data(covariance_type, n_samples, n_features, n_components, dtype)
    make_fastem, iterate_fastem = fastem_model, fastem_iterations
    make_sklearn, iterate_sklearn = sklearn_model, sklearn_iterations
    if bayesian:
        init = {"moments": initial_moments(X, init)}
        make_fastem, iterate_fastem = fastem_bayesian_model, fastem_bayesian_iterations
        make_sklearn, iterate_sklearn = sklearn_bayesian_model, sklearn_bayesian_iterations
    fastem_times, sklearn_times = [], []
    # Warm-up: compiles (or loads) the kernels and touches the data once.
    model = make_fastem(X, covariance_type, n_components, init)
    source = model._validate_data(X, reset=False)
    iterate_fastem(model, source, 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the models never converge: we stop them
        for _ in range(repeat):
            # OpenBLAS's worker threads spin for a while after scikit-learn's
            # last BLAS call and take a core from whatever runs next; let them
            # go idle so that each library is timed on a quiet machine.
            time.sleep(_SETTLE_SECONDS)
            model = make_fastem(X, covariance_type, n_components, init)
            start = time.perf_counter()
            iterate_fastem(model, source, n_iter)
            fastem_times.append((time.perf_counter() - start) / n_iter)
            sk_model = make_sklearn(X, covariance_type, n_components, init)
            time.sleep(_SETTLE_SECONDS)
            start = time.perf_counter()
            iterate_sklearn(sk_model, X, n_iter)
            sklearn_times.append((time.perf_counter() - start) / n_iter)
    agreement = np.max(np.abs(model.means_ - sk_model.means_)) / np.max(np.abs(sk_model.means_))
    return statistics.median(fastem_times), statistics.median(sklearn_times), agreement, X


def write_table(header, rows, markdown=None):
    """Print the header and the table rows, and write them to ``markdown`` if given."""
    table = header + "\n\n" + "\n".join(rows) + "\n"
    print()
    print(table)
    if markdown:
        with open(markdown, "w") as f:
            f.write(table)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small data, for a smoke test")
    parser.add_argument("--markdown", metavar="FILE", help="also write the table to FILE")
    parser.add_argument("--n-samples", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--n-iter", type=int, default=None, help="EM iterations per timing")
    parser.add_argument("--repeat", type=int, default=None, help="timings per configuration")
    parser.add_argument(
        "--only", default=None, help="run only configurations whose label contains this"
    )
    args = parser.parse_args(argv)
    n_samples = args.n_samples or (20_000 if args.quick else 1_000_000)
    n_iter = args.n_iter or (2 if args.quick else 10)
    repeat = args.repeat or 5

    exp_rate = {np.float64: exp_throughput(np.float64), np.float32: exp_throughput(np.float32)}
    bandwidth = read_bandwidth()

    header = (
        f"N={n_samples:,}, {n_iter} EM iterations per timing, median of {repeat}; "
        f"{numba.get_num_threads()} Numba threads; {cpu_model()}, kernels compiled for "
        f"{'512-bit vectors' if installed_vector_width() == 512 else 'the default width'}; "
        f"exp: {exp_rate[np.float64] / 1e9:.2f} G/s (float64), "
        f"{exp_rate[np.float32] / 1e9:.2f} G/s (float32); read {bandwidth / 1e9:.1f} GB/s; "
        f"threads env: NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', '-')}, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '-')}"
    )
    rows = [
        "| config | fastem ms/iter | sklearn ms/iter | speed-up | exp bound ms | read bound ms "
        "| means rel. diff |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    print(header, flush=True)
    configs = [(c, False) for c in CONFIGS] + [(c, True) for c in BAYESIAN_CONFIGS]
    for (covariance_type, n_features, n_components, dtype, fraction), bayesian in configs:
        label = f"{covariance_type} D={n_features} K={n_components} {np.dtype(dtype).name}"
        if bayesian:
            label = "Bayesian " + label
        n = int(n_samples * fraction)
        if n != n_samples:
            label += f" N={n:,}"
        if args.only and args.only not in label:
            continue
        fastem_s, sklearn_s, agreement, X = run_config(
            covariance_type, n_features, n_components, dtype, n, n_iter, repeat, bayesian
        )
        exp_bound = n * n_components / exp_rate[dtype]
        read_bound = X.nbytes / bandwidth
        rows.append(
            f"| {label} | {fastem_s * 1e3:.2f} | {sklearn_s * 1e3:.1f} | "
            f"{sklearn_s / fastem_s:.1f}x | {exp_bound * 1e3:.2f} | {read_bound * 1e3:.2f} | "
            f"{agreement:.1e} |"
        )
        print(rows[-1], flush=True)
    write_table(header, rows, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
