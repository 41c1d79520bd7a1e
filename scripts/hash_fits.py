"""Digests of many fits' parameters: check that a change leaves the results bitwise the same.

Fits Gaussian mixtures of every covariance type at 1 to 20 features (float64
and float32, restarts, missing values, ``reg_covar=0``, sample weights),
Bayesian, exponential and Poisson mixtures, Old Faithful at several K, and
three ``select_n_components`` grids, and prints a digest of the fitted
parameters, passes and lower bounds of each group. Run it from two checkouts
(``PYTHONPATH=/path/to/checkout python scripts/hash_fits.py``): equal
digests mean bitwise equal models. It times nothing.
"""

import argparse
import hashlib
import pathlib
import warnings

import numpy as np

import fastem

FAITHFUL = pathlib.Path(__file__).resolve().parents[1] / "tests" / "data" / "faithful.csv"


def digest_of(models, extra=()):
    digest = hashlib.sha256()
    for model in models:
        for name in model._parameter_names:
            digest.update(np.ascontiguousarray(getattr(model, name)).tobytes())
        digest.update(repr((model.n_iter_, float(model.lower_bound_))).encode())
    for text in extra:
        digest.update(text.encode())
    return digest.hexdigest()[:16]


def fits():
    rng = np.random.default_rng(0)
    for D in (1, 2, 3, 5, 12, 20):
        X = rng.normal(size=(3000, D))
        X[:1000] += 4
        X[1000:2000] *= 0.5
        for ct in ("full", "tied", "diag", "spherical"):
            for dtype in (np.float64, np.float32):
                yield fastem.GaussianMixture(3, covariance_type=ct, random_state=1, n_init=2).fit(
                    X.astype(dtype))
            missing = X.copy()
            missing[rng.random(missing.shape) < 0.1] = np.nan
            missing[:, 0][np.isnan(missing).all(axis=1)] = 0.0
            if D > 1:
                yield fastem.GaussianMixture(
                    3, covariance_type=ct, random_state=1, missing="em").fit(missing)
            yield fastem.GaussianMixture(
                3, covariance_type=ct, random_state=2, reg_covar=0.0, tol=1e-6).fit(X)
            yield fastem.GaussianMixture(3, covariance_type=ct, random_state=1).fit(
                X, sample_weight=rng.random(len(X)))
            if D <= 3:
                yield fastem.BayesianGaussianMixture(4, covariance_type=ct, random_state=1).fit(X)
    times = rng.exponential(size=(3000, 2))
    times[:1000] *= 5
    yield fastem.ExponentialMixture(2, random_state=0).fit(times)
    yield fastem.PoissonMixture(2, random_state=0).fit(rng.poisson(3, size=(3000, 2)).astype(float))
    faithful = np.loadtxt(FAITHFUL, delimiter=",", comments="#", skiprows=3)
    for ct in ("full", "tied", "diag", "spherical"):
        for K in (1, 3, 6):
            yield fastem.GaussianMixture(K, covariance_type=ct, random_state=0, n_init=3).fit(faithful)


def main():
    warnings.simplefilter("ignore")
    models = list(fits())
    print(f"{len(models)} fits: {digest_of(models)}")
    faithful = np.loadtxt(FAITHFUL, delimiter=",", comments="#", skiprows=3)
    grids = [fastem.select_n_components(faithful, range(1, 7), random_state=0, **options)
             for options in ({}, {"n_init": 3}, {"criterion": "aic", "n_init": 2})]
    selected = [model for grid in grids for model in grid.models_.values()]
    print(f"3 selection grids: {digest_of(selected, [repr(grid.table) for grid in grids])}")


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()
    main()
