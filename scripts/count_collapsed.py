"""Count default fits that end with collapsed components (spurious maxima).

A fit whose component sits on a point or two of a tail, or on one value of a
rounded feature, has a higher likelihood than the fits around it (the
Gaussian likelihood is unbounded), so ranking starts by likelihood alone picks
it. This script counts such fits with default settings, by
:func:`fastem.selection.collapsed_components`, on three sets of data:

- one standard Gaussian blob, two components: N in (100, 300, 1000), 1 to 3
  features, 'full', 'diag' and 'spherical', 5 seeds (135 fits);
- real data bundled with scikit-learn or fastem's tests: Old Faithful, iris,
  wine's first 6 features, breast cancer's first 5; 4 covariance types,
  K=2..6 (80 fits);
- two exponential clusters (300 and 200 points of scale 1 and 5, 2
  features) with 12 first features set to 0; K=2..4, ``n_init`` 1 and 4,
  20 seeds (120 fits).

Usage::

    PYTHONPATH=$PWD python scripts/count_collapsed.py [--list]
"""

import argparse
import warnings
from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer, load_iris, load_wine

from fastem import ExponentialMixture, GaussianMixture
from fastem.selection import collapsed_components

FAITHFUL = Path(__file__).resolve().parents[1] / "tests" / "data" / "faithful.csv"


def one_blob():
    for n in (100, 300, 1000):
        for d in (1, 2, 3):
            for covariance_type in ("full", "diag", "spherical"):
                for seed in range(5):
                    X = np.random.default_rng(seed).normal(size=(n, d))
                    model = GaussianMixture(2, covariance_type=covariance_type, random_state=seed)
                    yield f"blob n={n} d={d} {covariance_type} seed={seed}", model, X


def real_data():
    data = {
        "faithful": np.loadtxt(FAITHFUL, delimiter=",", comments="#", skiprows=3),
        "iris": load_iris().data,
        "wine6": load_wine().data[:, :6],
        "breast_cancer5": load_breast_cancer().data[:, :5],
    }
    for name, X in data.items():
        for covariance_type in ("full", "tied", "diag", "spherical"):
            for k in range(2, 7):
                model = GaussianMixture(k, covariance_type=covariance_type, random_state=0)
                yield f"{name} {covariance_type} K={k}", model, X


def exponential_with_zeros():
    for seed in range(20):
        rng = np.random.default_rng(seed)
        X = np.concatenate([rng.exponential(1.0, (300, 2)), rng.exponential(5.0, (200, 2))])
        X[rng.choice(500, 12, replace=False), 0] = 0.0
        for k in (2, 3, 4):
            for n_init in (1, 4):
                model = ExponentialMixture(k, n_init=n_init, random_state=seed)
                yield f"exponential seed={seed} K={k} n_init={n_init}", model, X


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--list", action="store_true", help="print each collapsed fit")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    for title, cases in [("one Gaussian blob, K=2", one_blob), ("real data", real_data),
                         ("exponential clusters with zeros", exponential_with_zeros)]:
        collapsed = total = 0
        for label, model, X in cases():
            total += 1
            reasons = collapsed_components(model.fit(X), X)
            if reasons:
                collapsed += 1
                if args.list:
                    print(f"  {label}: {next(iter(reasons.values()))}")
        print(f"{title}: {collapsed} of {total} default fits end with collapsed components")


if __name__ == "__main__":
    main()
