"""Time to the answer: passes and wall time until a fit is within 1e-8 of its limit.

A *case* is a data set, a model and a fixed start. For each case the limit
of the log-likelihood is taken from a fit run far past convergence, and a fit
is timed from the start until its mean log-likelihood per sample is within
``TARGET`` of that limit: the passes over the data it needed and its wall
time (the fit's time less that of the same fit with ``max_iter=0``, so that
validation and initialisation cancel). fastem with and without acceleration
run the same code path; scikit-learn (Gaussian cases) runs the same EM
iterations as fastem without acceleration from the same start, so it needs
the same number of passes. Every case starts from the estimator's default
start (``init_params``), seed 0, as a fit with default settings does.

The asv suite (``asv_benchmarks/bench_convergence.py``) imports the cases
and measurements from here. Every figure printed is the median of
``--repeats`` runs in one process, side by side.

Usage::

    PYTHONPATH=$PWD python scripts/bench_convergence.py [--repeats 3] [--markdown table.md]
    PYTHONPATH=$PWD python scripts/bench_convergence.py --ridges
    PYTHONPATH=$PWD python scripts/bench_convergence.py --stops [--missing]
"""

import argparse
import pathlib
import time
import warnings

import numpy as np

import fastem

#: How close to the limit counts as the answer (mean log-likelihood per sample).
TARGET = 1e-8

#: At most this many passes per fit: a run that needs more is reported as not reached.
MAX_PASSES = 20_000


def overlapping(n_samples=400, seed=0):
    """Two overlapping 2-D Gaussians, 3/4 from N((2, 4), [[5, 2], [2, 6]]), 1/4 from N(0, [[4, 2], [2, 3]])."""
    rng = np.random.default_rng(seed)
    big = 3 * n_samples // 4
    return np.concatenate([
        rng.multivariate_normal([2, 4], [[5, 2], [2, 6]], big),
        rng.multivariate_normal([0, 0], [[4, 2], [2, 3]], n_samples - big),
    ])


def two_exponentials(n_samples=1_000_000, seed=0):
    """Equal parts exponential with scale 0.1 and 1.0, one feature."""
    rng = np.random.default_rng(seed)
    half = n_samples // 2
    return np.concatenate([rng.exponential(0.1, half), rng.exponential(1.0, n_samples - half)])[:, None]


def separated_blobs(n_samples=200_000, n_features=2, n_components=3, seed=0):
    """Separated unit Gaussians: centres drawn with a spread of 5 per feature, at least 8 apart."""
    rng = np.random.default_rng(seed)
    while True:
        centres = 5.0 * rng.standard_normal((n_components, n_features))
        gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
        if gaps[np.triu_indices(n_components, 1)].min() >= 8.0:
            break
    labels = rng.integers(0, n_components, n_samples)
    return centres[labels] + rng.standard_normal((n_samples, n_features))


def old_faithful():
    """R's ``faithful`` (272 x 2), the test suite's copy."""
    path = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data" / "faithful.csv"
    return np.loadtxt(path, delimiter=",", skiprows=3)


#: name -> (kind, data function, estimator keyword arguments); slow cases first.
CASES = {
    "overlapping N=400 full K=2": ("slow", lambda quick: overlapping(400), dict(n_components=2)),
    "overlapping N=200k full K=2": (
        "slow", lambda quick: overlapping(10_000 if quick else 200_000), dict(n_components=2)
    ),
    "two exponentials N=1M K=2": (
        "slow", lambda quick: two_exponentials(10_000 if quick else 1_000_000),
        dict(n_components=2, family="exponential"),
    ),
    "Old Faithful tied K=3": (
        "slow", lambda quick: old_faithful(), dict(n_components=3, covariance_type="tied")
    ),
    "separated blobs N=200k full K=3": (
        "fast", lambda quick: separated_blobs(10_000 if quick else 200_000), dict(n_components=3)
    ),
    "separated blobs N=200k D=8 diag K=4": (
        "fast", lambda quick: separated_blobs(10_000 if quick else 200_000, 8, 4),
        dict(n_components=4, covariance_type="diag"),
    ),
}


def _estimator(kw):
    kw = dict(kw)
    family = kw.pop("family", "gaussian")
    cls = fastem.ExponentialMixture if family == "exponential" else fastem.GaussianMixture
    return cls, kw


def start_of(X, kw):
    """The initial parameters of a case, as ``*_init`` keyword arguments.

    The estimator's default start (``init_params``), seed 0: the fit a user
    gets with default settings.
    """
    cls, kw = _estimator(kw)
    model = cls(**kw, max_iter=0, random_state=0).fit(X)
    if cls is fastem.ExponentialMixture:
        return {"weights_init": model.weights_, "scales_init": model.scales_}
    return {
        "weights_init": model.weights_,
        "means_init": model.means_,
        "precisions_init": model.precisions_,
    }


def _quiet_fit(model, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model.fit(X)
        return time.perf_counter() - start


def limit_of(X, kw, start):
    """The limit of the log-likelihood: the best of long accelerated and plain fits."""
    cls, kw = _estimator(kw)
    best = -np.inf
    for accelerate in (True, False):
        model = cls(**kw, **start, tol=1e-14, max_iter=MAX_PASSES, accelerate=accelerate)
        _quiet_fit(model, X)
        best = max(best, model.score(X), model.lower_bound_)
    return best


class _UntilTarget:
    """A fit callback that stops at the first pass within TARGET of the limit."""

    def __init__(self, limit):
        self.limit = limit
        self.passes = None

    def __call__(self, model, n_iter, lower_bound):
        if lower_bound >= self.limit - TARGET:
            self.passes = n_iter
            return True
        return False


def fastem_to_answer(X, kw, start, limit, accelerate):
    """(passes, seconds) of fastem from ``start`` to within TARGET of ``limit``."""
    cls, kw = _estimator(kw)
    until = _UntilTarget(limit)
    model = cls(**kw, **start, tol=0.0, max_iter=MAX_PASSES, accelerate=accelerate, callback=until)
    seconds = _quiet_fit(model, X)
    seconds -= _quiet_fit(cls(**kw, **start, max_iter=0), X)
    return until.passes, seconds


def sklearn_to_answer(X, kw, start, passes):
    """(passes, seconds) of scikit-learn for the same EM iterations as plain fastem."""
    from sklearn.mixture import GaussianMixture

    cls, kw = _estimator(kw)
    if cls is not fastem.GaussianMixture or passes is None:
        return None, None
    one = _quiet_fit(GaussianMixture(**kw, **start, tol=0.0, max_iter=1), X)
    if passes == 1:
        return 1, one
    model = GaussianMixture(**kw, **start, tol=0.0, max_iter=passes)
    many = _quiet_fit(model, X)
    per_iteration = (many - one) / (passes - 1)
    return passes, per_iteration * passes


def measure(name, quick=False, repeats=3):
    """One row of the table: passes and seconds for each contender, medians of ``repeats``."""
    kind, data, kw = CASES[name]
    X = data(quick)
    start = start_of(X, kw)
    limit = limit_of(X, kw, start)
    row = {"case": name, "kind": kind, "n_samples": len(X), "limit": limit}
    for label, run in (
        ("accelerated", lambda: fastem_to_answer(X, kw, start, limit, True)),
        ("plain", lambda: fastem_to_answer(X, kw, start, limit, False)),
    ):
        runs = [run() for _ in range(repeats)]
        row[label] = (runs[0][0], float(np.median([r[1] for r in runs])))
    runs = [sklearn_to_answer(X, kw, start, row["plain"][0]) for _ in range(repeats)]
    row["sklearn"] = (
        (None, None) if runs[0][0] is None else (runs[0][0], float(np.median([r[1] for r in runs])))
    )
    return row


def _cell(value, fmt):
    return "n/a" if value is None else format(value, fmt)


def markdown(rows):
    lines = [
        "| case | kind | fastem accelerated: passes, s | fastem plain: passes, s "
        "| scikit-learn: passes, s | passes plain / accelerated | time sklearn / accelerated |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        acc, plain, sk = r["accelerated"], r["plain"], r["sklearn"]
        ratio = "n/a" if None in (acc[0], plain[0]) else f"{plain[0] / acc[0]:.2f}x"
        speed = "n/a" if None in (sk[1], acc[1]) else f"{sk[1] / acc[1]:.1f}x"
        lines.append(
            f"| {r['case']} | {r['kind']} | {_cell(acc[0], 'd')}, {_cell(acc[1], '.3f')} "
            f"| {_cell(plain[0], 'd')}, {_cell(plain[1], '.3f')} "
            f"| {_cell(sk[0], 'd')}, {_cell(sk[1], '.3f')} "
            f"| {ratio} | {speed} |"
        )
    return "\n".join(lines) + "\n"


def one_blob(seed):
    """One 2-D Gaussian blob of 500 to 3,000 points: a ridge for two or more components."""
    rng = np.random.default_rng(seed)
    return rng.normal(rng.normal(0, 1.5, (1, 2)), rng.uniform(0.5, 1.5), (rng.integers(500, 3000), 2))


def shortfall(model, X, max_iter):
    """How far, in units of its ``tol``, the fitted GaussianMixture ``model`` is below the
    peak that plain EM reaches from its answer on ``X`` in up to ``max_iter`` passes."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peak = fastem.GaussianMixture(
            model.n_components, covariance_type=model.covariance_type, weights_init=model.weights_,
            means_init=model.means_, precisions_init=model.precisions_, missing=model.missing,
            accelerate=False, tol=1e-14, max_iter=max_iter,
        ).fit(X)
    return (peak.lower_bound_ - model.lower_bound_) / model.tol


def ridges(seeds=range(990, 1010)):
    """Whether default fits on a likelihood ridge stop at their peak, or say they did not.

    Three fits per seed (3 components full and diag, 4 full) to
    :func:`one_blob`. A fit's peak is found by plain EM from its answer, for
    up to 40,000 passes; the shortfall is in units of ``tol``. Prints one
    row per fit that claimed convergence more than 3 ``tol`` short or did
    not converge, and a summary.
    """
    claimed, short, worst = 0, 0, 0.0
    for seed in seeds:
        X = one_blob(seed)
        for k, covariance_type in ((3, "full"), (3, "diag"), (4, "full")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = fastem.GaussianMixture(k, covariance_type=covariance_type, random_state=seed % 5).fit(X)
            gap = shortfall(model, X, 40_000)
            if model.converged_:
                claimed += 1
                worst = max(worst, gap)
                short += gap > 3
            if not model.converged_ or gap > 3:
                print(f"seed {seed} K={k} {covariance_type}: converged_={model.converged_} "
                      f"after {model.n_iter_} passes, {gap:.1f} tol short", flush=True)
    print(f"{claimed} of {3 * len(seeds)} fits claimed convergence; {short} of them more than "
          f"3 tol short; the largest shortfall {worst:.1f} tol")


def stop_sets():
    """Small data sets for :func:`stops`: scikit-learn's bundled iris, wine (6 features)
    and breast cancer (5 features), Old Faithful, and three 3-D Gaussian blobs of 3,000
    points, 2.5 apart."""
    from sklearn import datasets

    rng = np.random.default_rng(0)
    return {
        "iris": datasets.load_iris().data,
        "wine": datasets.load_wine().data[:, :6],
        "breast cancer": datasets.load_breast_cancer().data[:, :5],
        "Old Faithful": old_faithful(),
        "blobs": np.concatenate([rng.normal(c, 1.0, (3000, 3)) for c in (0.0, 2.5, 5.0)]),
    }


def missing_sets():
    """Data sets for :func:`stops` with ``--missing``: iris, wine (6 features) and breast
    cancer (5 features), each with one feature missing for one class and 10%, 20%, 30% or
    40% of all the entries missing (seeds 1 to 4; rows left with none observed dropped)."""
    from sklearn import datasets

    sets = {}
    for name, (X, y) in {
        "iris": datasets.load_iris(return_X_y=True),
        "wine": datasets.load_wine(return_X_y=True),
        "breast cancer": datasets.load_breast_cancer(return_X_y=True),
    }.items():
        X = X[:, : {"wine": 6, "breast cancer": 5}.get(name, X.shape[1])]
        for seed in (1, 2, 3, 4):
            holed = X.copy()
            holed[y == seed % 2, seed % X.shape[1]] = np.nan
            holed[np.random.default_rng(seed).random(X.shape) < seed / 10] = np.nan
            sets[f"{name}, {10 * seed}% missing"] = holed[~np.isnan(holed).all(axis=1)]
    return sets


def stops(missing=False):
    """Passes to the stop, fit time and shortfall of 80 default fits (4 covariance types
    x K=2..5 on :func:`stop_sets`), seed 0; with ``missing``, of 144 fits with
    ``missing='em'`` (4 covariance types x K=2..4 on :func:`missing_sets`).

    A fit's shortfall is measured against the peak that plain EM reaches from its
    answer (up to 20,000 passes), in units of ``tol``. Prints one line per data set and
    the totals: what a change of the stopping rule costs and buys on ordinary fits.
    """
    total = dict(passes=0, seconds=0.0, fits=0, converged=0, short=0, worst=0.0)
    ks, options = ((2, 3, 4), dict(missing="em")) if missing else ((2, 3, 4, 5), {})
    for name, X in (missing_sets() if missing else stop_sets()).items():
        passes, seconds = 0, 0.0
        for covariance_type in ("full", "diag", "tied", "spherical"):
            for k in ks:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    begin = time.perf_counter()
                    model = fastem.GaussianMixture(
                        k, covariance_type=covariance_type, random_state=0, **options).fit(X)
                    seconds += time.perf_counter() - begin
                gap = shortfall(model, X, 20_000)
                passes += model.n_iter_
                total["fits"] += 1
                if model.converged_:
                    total["converged"] += 1
                    total["short"] += gap > 3
                    total["worst"] = max(total["worst"], gap)
        print(f"{name}: {passes} passes, {seconds:.2f} s", flush=True)
        total["passes"] += passes
        total["seconds"] += seconds
    print(f"{total['fits']} fits: {total['passes']} passes, {total['seconds']:.2f} s; "
          f"{total['converged']} claimed convergence, {total['short']} of them more than 3 tol "
          f"short; the largest shortfall {total['worst']:.1f} tol")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10,000-point versions of the cases")
    parser.add_argument("--markdown", help="also write the table to this file")
    parser.add_argument("--ridges", action="store_true", help="only the stops of 60 fits on ridges (ridges())")
    parser.add_argument("--stops", action="store_true", help="only the stops of 80 default fits (stops())")
    parser.add_argument("--missing", action="store_true",
                        help="with --stops: of 144 fits with missing='em' (stops(missing=True))")
    args = parser.parse_args()
    if args.ridges:
        ridges()
        return
    if args.stops:
        stops(args.missing)
        return
    _quiet_fit(fastem.GaussianMixture(2, max_iter=2), overlapping(1000))  # compile or load the kernels
    _quiet_fit(fastem.ExponentialMixture(2, max_iter=2), two_exponentials(1000))
    rows = []
    for name in CASES:
        rows.append(measure(name, args.quick, args.repeats))
        print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    table = markdown(rows)
    print()
    print(table)
    if args.markdown:
        pathlib.Path(args.markdown).write_text(table)


if __name__ == "__main__":
    main()
