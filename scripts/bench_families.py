"""Per-iteration time of ExponentialMixture and PoissonMixture next to plain NumPy EM.

The NumPy EM is the kind written by hand: a dense (n_samples, n_components)
array of log-probabilities, scipy's logsumexp, the responsibilities, and
weighted sums. Both start from the same parameters; after the same number of
iterations they must agree, which the script checks before printing.

fastem's per-iteration time is taken from the public API as
``(time of fit with max_iter=1 + n_iter) - (time of fit with max_iter=1)``
divided by ``n_iter``, so that validation and initialisation cancel. Every
figure is the median of ``--repeats`` runs; all runs happen in one process,
side by side, so the ratio is meaningful on a shared machine.

Usage::

    PYTHONPATH=$PWD python scripts/bench_families.py [--n-samples 10000000] [--repeats 3]
"""

import argparse
import time
import warnings

import numpy as np
from scipy.special import gammaln, logsumexp

from fastem import ConvergenceWarning, ExponentialMixture, PoissonMixture

EPS = 10 * np.finfo(np.float64).eps


def numpy_exponential_step(x, weights, scales):
    log_prob = np.log(weights) - np.log(scales) - x[:, None] / scales
    log_norm = logsumexp(log_prob, axis=1)
    resp = np.exp(log_prob - log_norm[:, None])
    nk = resp.sum(axis=0) + EPS
    return nk / nk.sum(), resp.T @ x / nk


def numpy_poisson_step(x, weights, rates):
    log_prob = np.log(weights) + x[:, None] * np.log(rates) - rates - gammaln(x + 1)[:, None]
    log_norm = logsumexp(log_prob, axis=1)
    resp = np.exp(log_prob - log_norm[:, None])
    nk = resp.sum(axis=0) + EPS
    return nk / nk.sum(), resp.T @ x / nk


def fit_seconds(make_model, X, max_iter):
    model = make_model(max_iter)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    return time.perf_counter() - start, model


def bench(name, make_model, numpy_step, x, weights, params, n_iter, repeats):
    X = x[:, None]
    fit_seconds(make_model, X[:10_000], 2)  # compile, or load the compiled kernel from disk
    fastem_times, numpy_times = [], []
    for _ in range(repeats):
        base, _ = fit_seconds(make_model, X, 1)
        longer, model = fit_seconds(make_model, X, 1 + n_iter)
        fastem_times.append((longer - base) / n_iter)
        w, p = weights, params
        start = time.perf_counter()
        for _ in range(1 + n_iter):
            w, p = numpy_step(x, w, p)
        numpy_times.append((time.perf_counter() - start) / (1 + n_iter))
    fitted = model.scales_ if name == "ExponentialMixture" else model.rates_
    agreement = np.max(np.abs(fitted[:, 0] / p - 1))
    if agreement > 1e-8:
        raise AssertionError(f"{name}: fastem and NumPy differ by {agreement:.2e} (relative)")
    return np.median(fastem_times), np.median(numpy_times), agreement


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=10_000_000)
    parser.add_argument("--n-iter", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    n = args.n_samples
    rng = np.random.default_rng(0)
    half = n // 2

    weights = np.array([0.4, 0.6])
    scales = np.array([0.2, 2.0])
    x_exp = np.concatenate([rng.exponential(0.1, half), rng.exponential(1.0, n - half)])
    rates = np.array([3.0, 15.0])
    x_poi = np.concatenate([rng.poisson(2.0, half), rng.poisson(20.0, n - half)]).astype(np.float64)

    cases = [
        (
            "ExponentialMixture",
            lambda m: ExponentialMixture(
                2, weights_init=weights, scales_init=scales[:, None], max_iter=m, tol=0.0,
                accelerate=False,
            ),
            numpy_exponential_step, x_exp, scales,
        ),
        (
            "PoissonMixture",
            lambda m: PoissonMixture(
                2, weights_init=weights, rates_init=rates[:, None], max_iter=m, tol=0.0,
                accelerate=False,
            ),
            numpy_poisson_step, x_poi, rates,
        ),
    ]
    print(f"N={n:,}, one feature, K=2, float64; median of {args.repeats} repeats of "
          f"{args.n_iter} iterations\n")
    print("| family | fastem s/iter | NumPy s/iter | NumPy / fastem | max rel. diff of params |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, make_model, step, x, params in cases:
        t_fastem, t_numpy, agreement = bench(
            name, make_model, step, x, weights, params, args.n_iter, args.repeats
        )
        print(f"| {name} | {t_fastem:.4f} | {t_numpy:.4f} | {t_numpy / t_fastem:.1f}x "
              f"| {agreement:.1e} |")


if __name__ == "__main__":
    main()
