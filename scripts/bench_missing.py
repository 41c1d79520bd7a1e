"""Missing values: the cost of a pass, and what exact EM recovers, against the usual fixes.

Three parts, each printed as a table:

``speed``
    Time of one EM iteration as a fit runs it: one pass (the fused E-step
    and statistics) over a data source validated once, whose patterns of
    missing entries are scanned once, as in ``fit``; each pass builds its
    table of patterns for its parameters. N x D data from a K-component
    full-covariance mixture, with the parameters of a fit of each
    covariance type: the complete data with ``missing='error'`` and
    ``missing='em'`` (no NaN), and the same data with 10% and 20% of its
    entries missing completely at random; ratios to the complete-data pass
    of the same covariance type. Also scikit-learn's E-step plus M-step on
    the complete data (against 'full'). Medians of ``--repeats`` passes,
    interleaved, side by side in one process. ``--threads N`` runs every
    pass on N threads: by default a pass takes the cores that other
    processes leave free, so that on a shared machine some passes run on
    fewer threads than others and the medians mix the two.
``recovery``
    A known 3-component 5-D full mixture, 20% and 50% of entries missing
    completely at random. Fits by fastem's exact EM, by a complete-data fit
    of the rows without NaN, and by a complete-data fit of the data with
    each NaN replaced by its column's mean. Parameter error: the largest
    absolute error of the means and of the covariances (components matched
    to the truth by their means), and the mean log-likelihood of held-out
    complete data.
``imputation``
    Root mean squared error of the imputed entries against the true values,
    for fastem's conditional expectation, column means, and scikit-learn's
    ``IterativeImputer`` (Bayesian ridge regressions, the default).

Usage::

    PYTHONPATH=$PWD python scripts/bench_missing.py [speed|recovery|imputation ...]
        [--n-samples 1000000] [--repeats 5] [--threads N]
"""

import argparse
import copy
import itertools
import time
import warnings

import numpy as np

from fastem import GaussianMixture

from _machine import cpu_model


def mixture_data(rng, n_samples, n_features, n_components):
    """Points of a full-covariance mixture with well separated means, and its parameters."""
    means = rng.normal(scale=4.0, size=(n_components, n_features))
    factors = rng.normal(scale=0.6, size=(n_components, n_features, n_features))
    covariances = factors @ np.swapaxes(factors, 1, 2) + 0.5 * np.eye(n_features)
    weights = rng.dirichlet(np.full(n_components, 5.0))
    labels = rng.choice(n_components, size=n_samples, p=weights)
    noise = np.einsum("nij,nj->ni", np.linalg.cholesky(covariances)[labels],
                      rng.standard_normal((n_samples, n_features)))
    return means[labels] + noise, (weights, means, covariances)


def mcar(rng, X, fraction):
    """X with ``fraction`` of its entries set to NaN at random; rows keep one observed entry."""
    mask = rng.random(X.shape) < fraction
    empty = mask.all(axis=1)
    mask[empty, rng.integers(0, X.shape[1], empty.sum())] = False
    out = X.copy()
    out[mask] = np.nan
    return out


def median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def speed_data(n_samples, fractions=(0.10, 0.20)):
    """N x 8 points of a 4-component full mixture, and the same with each fraction of entries missing."""
    rng = np.random.default_rng(0)
    X, _ = mixture_data(rng, n_samples, 8, 4)
    return X, {fraction: mcar(rng, X, fraction) for fraction in fractions}


def pass_times(covariance_type, X, incomplete, repeats):
    """Median seconds of one pass over the complete data and over each of ``incomplete``.

    A model of ``covariance_type`` fitted to the complete data (5 passes
    over its first 100,000 rows) runs its passes on: the complete data
    with ``missing='error'`` and ``missing='em'``, and each array of
    ``incomplete`` (``{fraction: data}``) with ``missing='em'``, each
    validated and scanned for patterns once, as in ``fit``. Repeats are
    interleaved, so that a change in the machine's load touches every pass
    alike. Returns ``(name, seconds)`` pairs, the complete data's first,
    and the model.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GaussianMixture(
            4, covariance_type=covariance_type, random_state=0, max_iter=5
        ).fit(X[:100_000])
    em = copy.copy(model)
    em.missing = "em"
    passes = [
        ("complete data, missing='error'", model, model._validate_data(X, reset=False)),
        ("complete data, missing='em'", em, em._validate_data(X, reset=False)),
    ] + [
        (f"{fraction:.0%} of entries missing, missing='em'", em,
         em._validate_data(Xm, reset=False))
        for fraction, Xm in incomplete.items()
    ]
    for _, m, source in passes:  # compile and warm up (the first pass does the scan)
        m._summarize(source)
    samples = [[] for _ in passes]
    for _ in range(repeats):
        for times, (_, m, source) in zip(samples, passes):
            start = time.perf_counter()
            m._summarize(source)
            times.append(time.perf_counter() - start)
    return [(name, float(np.median(t))) for (name, _, _), t in zip(passes, samples)], model


def speed(args):
    if args.threads:
        import numba

        import fastem._threading

        fastem._threading.free_cores = lambda: None
        numba.set_num_threads(args.threads)
    X, incomplete = speed_data(args.n_samples)
    rows = []
    for covariance_type in args.covariance_types:
        times, model = pass_times(covariance_type, X, incomplete, args.repeats)
        base = times[0][1]
        rows += [(covariance_type, name, t, t / base) for name, t in times]
        if covariance_type == "full":
            sk = model.to_sklearn()

            def sklearn_step():
                _, log_resp = sk._e_step(X)
                sk._m_step(X, log_resp)

            t = median_time(sklearn_step, args.repeats)
            rows.append(("full", "scikit-learn E+M step, complete data", t, t / base))
    threads = f"{args.threads} thread(s)" if args.threads else "threads as the load allows"
    print(f"\nOne EM iteration (pass) of a fit, N={X.shape[0]:,} D={X.shape[1]} K=4, {cpu_model()}, "
          f"{threads}; medians of {args.repeats}")
    for fraction, Xm in incomplete.items():
        share = np.isnan(Xm).any(axis=1).mean()
        print(f"({fraction:.0%} of entries missing leaves {share:.0%} of the rows incomplete)")
    print(f"\n{'covariance':<10} {'data':<40} {'ms':>8} {'ratio':>7}")
    for covariance_type, name, seconds, ratio in rows:
        print(f"{covariance_type:<10} {name:<40} {1e3 * seconds:8.1f} {ratio:7.2f}")


def _match(means, true_means):
    """The permutation of fitted components closest to the true ones."""
    k = len(true_means)
    best = min(itertools.permutations(range(k)),
               key=lambda p: np.abs(means[list(p)] - true_means).sum())
    return list(best)


def _errors(model, truth, test):
    weights, means, covariances = truth
    order = _match(model.means_, means)
    return (
        np.abs(model.means_[order] - means).max(),
        np.abs(model.covariances_[order] - covariances).max(),
        model.score(test),
    )


def recovery(args):
    rng = np.random.default_rng(1)
    X, truth = mixture_data(rng, 3000, 5, 3)
    test, _ = mixture_data(np.random.default_rng(1), 3000, 5, 3)  # same parameters (same seed)
    test = mixture_data(np.random.default_rng(1), 6000, 5, 3)[0][3000:]
    kw = dict(n_components=3, random_state=0, n_init=3)
    print(f"\nRecovery of a 3-component 5-D full mixture, N=3000, {cpu_model()}")
    print("max |error| of the means and of the covariances; held-out mean log-likelihood\n")
    print(f"{'missing':>8} {'method':<34} {'rows used':>9} {'means':>8} {'covariances':>12} {'held-out':>9}")
    full = GaussianMixture(**kw).fit(X)
    print(f"{'0%':>8} {'complete data':<34} {len(X):>9} " + "{:8.3f} {:12.3f} {:9.4f}".format(*_errors(full, truth, test)))
    for fraction in (0.2, 0.5):
        Xm = mcar(np.random.default_rng(2), X, fraction)
        complete = ~np.isnan(Xm).any(axis=1)
        fits = [("fastem missing='em'", GaussianMixture(missing="em", **kw), Xm, len(Xm))]
        if complete.sum() >= 30:
            fits.append(("drop incomplete rows", GaussianMixture(**kw), Xm[complete], complete.sum()))
        filled = np.where(np.isnan(Xm), np.nanmean(Xm, axis=0), Xm)
        fits.append(("mean imputation, then fit", GaussianMixture(**kw), filled, len(Xm)))
        for name, model, data, used in fits:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(data)
            print(f"{fraction:>8.0%} {name:<34} {used:>9} " + "{:8.3f} {:12.3f} {:9.4f}".format(*_errors(model, truth, test)))
        if complete.sum() < 30:
            print(f"{fraction:>8.0%} {'drop incomplete rows':<34} {complete.sum():>9}   (too few rows to fit)")


def imputation(args):
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    rng = np.random.default_rng(3)
    X, _ = mixture_data(rng, 3000, 5, 3)
    print("\nImputation RMSE on the missing entries (3-component 5-D full mixture, N=3000)\n")
    print(f"{'missing':>8} {'fastem conditional mean':>24} {'column means':>13} {'IterativeImputer':>17}")
    for fraction in (0.2, 0.5):
        Xm = mcar(np.random.default_rng(4), X, fraction)
        mask = np.isnan(Xm)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = GaussianMixture(3, missing="em", random_state=0, n_init=3).fit(Xm)
            iterative = IterativeImputer(max_iter=30, random_state=0).fit_transform(Xm)
        means = np.where(mask, np.nanmean(Xm, axis=0), Xm)

        def rmse(filled):
            return np.sqrt(np.mean((filled[mask] - X[mask]) ** 2))

        print(f"{fraction:>8.0%} {rmse(model.impute(Xm)):>24.3f} {rmse(means):>13.3f} {rmse(iterative):>17.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("parts", nargs="*", default=["speed", "recovery", "imputation"])
    parser.add_argument("--n-samples", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None,
                        help="run every pass on this many threads (speed)")
    parser.add_argument(
        "--covariance-types", nargs="+", default=["full", "tied", "diag", "spherical"],
        choices=["full", "tied", "diag", "spherical"],
    )
    args = parser.parse_args()
    for part in args.parts:
        {"speed": speed, "recovery": recovery, "imputation": imputation}[part](args)


if __name__ == "__main__":
    main()
