"""Missing values in exponential and Poisson mixtures: the cost of a pass.

Time of one EM pass (the fused E-step and statistics, ``summarize``) on N x D
data from a K-component mixture, with the parameters of a fit: the complete
data with ``missing='error'`` and with ``missing='em'`` (no NaN), and the same
data with 10% of its entries missing completely at random. Medians of
``--repeats`` passes, side by side in one process.

Usage::

    PYTHONPATH=$PWD python scripts/bench_missing_families.py [--n-samples 1000000] [--repeats 5]
"""

import argparse
import copy
import warnings

import numpy as np

from fastem import ExponentialMixture, PoissonMixture

from _machine import cpu_model
from bench_missing import mcar, median_time


def family_data(rng, family, n_samples, n_features, n_components):
    means = rng.uniform(1.0, 30.0, size=(n_components, n_features))
    labels = rng.integers(0, n_components, n_samples)
    if family is PoissonMixture:
        return rng.poisson(means[labels]).astype(np.float64)
    return rng.exponential(means[labels])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n, d, k = args.n_samples, 8, 4
    print(f"\nOne EM pass, N={n:,} D={d} K={k}, {cpu_model()}; medians of {args.repeats}\n")
    print(f"{'family':<12} {'data':<40} {'ms':>8} {'ratio':>7}")
    for family in (ExponentialMixture, PoissonMixture):
        rng = np.random.default_rng(0)
        X = family_data(rng, family, n, d, k)
        Xm = mcar(rng, X, 0.10)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = family(k, random_state=0, max_iter=5).fit(X[:100_000])
        em = copy.copy(model)
        em.missing = "em"
        # The data are validated once, as in fit; each pass is the fused kernel over them.
        passes = [
            ("complete data, missing='error'", model, model._validate_data(X, reset=False)),
            ("complete data, missing='em'", em, em._validate_data(X, reset=False)),
            ("10% of entries missing, missing='em'", em, em._validate_data(Xm, reset=False)),
        ]
        for _, m, source in passes:  # compile and warm up
            m._summarize(source)
        # interleaved repeats, so that the machine's load falls on every row alike
        times = {name: [] for name, _, _ in passes}
        for _ in range(args.repeats):
            for name, m, source in passes:
                times[name].append(median_time(lambda: m._summarize(source), 1))
        base = float(np.median(times[passes[0][0]]))
        for name, _, _ in passes:
            seconds = float(np.median(times[name]))
            print(f"{family.__name__[:-7]:<12} {name:<40} {1e3 * seconds:8.1f} {seconds / base:7.2f}")


if __name__ == "__main__":
    main()
