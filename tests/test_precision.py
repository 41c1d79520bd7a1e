"""Numerics that hold in every dtype: float32 far from zero agrees with float64.

Each family and covariance type is fitted in float32 on data that sit 1e4
times their spread away from zero (and, for the exponential family, on very
large values), with and without missing entries, and in float64 on the same
numbers. Both fits start from the
same parameters (the initialisation runs in float64 on either), so their
fitted parameters, ``score_samples`` and BIC must agree to float32 tolerance:
statistics are accumulated around per-component shifts in float64 and every
log-density is evaluated in a form that does not cancel.
"""

import re
import warnings
from fractions import Fraction
from unittest import mock

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats
from scipy.special import expit
from sklearn.base import clone

import fastem
from fastem import (
    BayesianGaussianMixture,
    ConvergenceWarning,
    ExponentialMixture,
    GaussianMixture,
    PoissonMixture,
)
from fastem.base import _statistics_in_float64


def _gaussian_data(rng):
    # Two clusters 6 apart with unit spread, 1e4 from the origin.
    return np.concatenate([rng.normal(1e4, 1.0, (1500, 2)), rng.normal(1e4 + 6, 1.0, (1000, 2))])


def _poisson_data(rng):
    # Counts of about 1e8: a spread (sqrt) of 1e4, and the mean 1e4 spreads away.
    rates = np.array([1e8, 1e8 + 6e4])
    return np.concatenate([rng.poisson(rates[0], (1500, 2)), rng.poisson(rates[1], (1000, 2))])


def _shifted_exponential_data(rng):
    return 1e4 + np.concatenate([rng.exponential(1.0, (1500, 2)), rng.exponential(4.0, (1000, 2))])


def _large_exponential_data(rng):
    return np.concatenate([rng.exponential(1e14, (1500, 2)), rng.exponential(4e14, (1000, 2))])


def _not_positive_definite(matrices):
    """Which of the stored matrices have no Cholesky factor in float64."""
    matrices = np.asarray(matrices, dtype=np.float64)
    bad = []
    for matrix in matrices.reshape(-1, *matrices.shape[-2:]):
        try:
            np.linalg.cholesky(matrix)
            bad.append(False)
        except np.linalg.LinAlgError:
            bad.append(True)
    return np.array(bad)


def _indefinite_as_stored(model):
    """Whether a full or tied model's ``covariances_`` or ``precisions_`` is not positive definite."""
    return bool(_not_positive_definite(model.covariances_).any()
                or _not_positive_definite(model.precisions_).any())


CASES = {
    "gaussian-full": (lambda: GaussianMixture(2, covariance_type="full"), _gaussian_data),
    "gaussian-tied": (lambda: GaussianMixture(2, covariance_type="tied"), _gaussian_data),
    "gaussian-diag": (lambda: GaussianMixture(2, covariance_type="diag"), _gaussian_data),
    "gaussian-spherical": (lambda: GaussianMixture(2, covariance_type="spherical"), _gaussian_data),
    "poisson": (lambda: PoissonMixture(2), _poisson_data),
    "exponential-shifted": (lambda: ExponentialMixture(2), _shifted_exponential_data),
    "exponential-large": (lambda: ExponentialMixture(2), _large_exponential_data),
}


def _fit(make, X):
    model = make().set_params(random_state=0, max_iter=10, tol=0.0)
    # From the tree's start alone: after 10 passes the k-means++ candidates' runs are at
    # no peak, and which of them ranks first can differ between float32 and float64.
    with warnings.catch_warnings(), mock.patch.object(type(model), "_CANDIDATE_SUBSAMPLES", 1):
        warnings.simplefilter("ignore")  # a fixed number of iterations, on purpose
        return model.fit(X)


@pytest.mark.parametrize("missing", ["error", "em"])
@pytest.mark.parametrize("case", list(CASES))
def test_float32_far_from_zero_agrees_with_float64(case, missing):
    """With missing='em', 10% of the entries (no whole row) are NaN."""
    make, data = CASES[case]
    rng = np.random.default_rng(0)
    X32 = data(rng).astype(np.float32)
    if missing == "em":
        X32[(rng.random(X32.shape) < 0.1) & (np.arange(2) == rng.integers(0, 2, (len(X32), 1)))] = np.nan
    X64 = X32.astype(np.float64)
    m32 = _fit(lambda: make().set_params(missing=missing), X32)
    m64 = _fit(lambda: make().set_params(missing=missing), X64)
    assert m32.means_.dtype == np.float32 if hasattr(m32, "means_") else m32.weights_.dtype == np.float32
    for name in m64._parameter_names:
        assert_allclose(getattr(m32, name), getattr(m64, name), rtol=2e-3, atol=0, err_msg=name)
    s32, s64 = m32.score_samples(X32), m64.score_samples(X64)
    # Log-densities agree to float32 rounding of their own size.
    assert_allclose(s32, s64, rtol=1e-4, atol=1e-3 * np.abs(s64).mean())
    assert_allclose(m32.bic(X32), m64.bic(X64), rtol=1e-4)
    # A float32 model predicting float32 data equals the float64 reference on the same model.
    assert_allclose(s32, m32.score_samples(X64), rtol=1e-4, atol=1e-3 * np.abs(s64).mean())


def test_tied_two_points_far_apart_keeps_reg_covar():
    """Scatter around a single centre minus the between part gave 0.75 < reg_covar."""
    X = np.array([[0.0], [9999.0]], dtype=np.float32)
    model = GaussianMixture(2, covariance_type="tied", reg_covar=1.0, random_state=0).fit(X)
    assert_allclose(model.covariances_, [[1.0]], rtol=1e-6)


@pytest.mark.filterwarnings("ignore:The fit reached its peak in float64")  # means stored coarsely
@pytest.mark.parametrize("dtype, separation", [(np.float32, 9999.0), (np.float64, 1e10)])
def test_tied_clusters_far_apart_relative_to_their_spread(dtype, separation):
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.01, (1000, 1))
    X = (np.concatenate([np.zeros((500, 1)), np.full((500, 1), separation)]) + noise).astype(dtype)
    model = GaussianMixture(2, covariance_type="tied", reg_covar=0, random_state=0).fit(X)
    Xc = X.astype(np.float64)
    labels = (Xc[:, 0] > separation / 2).astype(int)
    centred = Xc[:, 0] - np.array([Xc[labels == k, 0].mean() for k in (0, 1)])[labels]
    assert_allclose(model.covariances_[0, 0], np.mean(centred**2), rtol=1e-3)


def test_tied_statistics_with_split_responsibilities_match_numpy():
    """Overlapping components: the between-pairs term carries the rest of the scatter."""
    rng = np.random.default_rng(1)
    X = np.concatenate([rng.normal(0, 1, (400, 3)), rng.normal(1.0, 1, (400, 3))]) + 5e3
    model = GaussianMixture(3, covariance_type="tied", max_iter=3, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    resp = model.predict_proba(X)
    stats_ = model.summarize(X)
    nk = resp.sum(axis=0)
    means = resp.T @ X / (nk + 10 * np.finfo(float).eps)[:, None]
    scatter = sum(
        (resp[:, k, None] * (X - means[k])).T @ (X - means[k]) for k in range(3)
    ) / nk.sum() + model.reg_covar * np.eye(3)
    model.m_step(stats_)
    assert_allclose(model.covariances_, scatter, rtol=1e-9)


@pytest.mark.parametrize("count", [1e6, 1e7, 1e8, 1e9])
def test_poisson_float32_large_counts_match_scipy(count):
    rng = np.random.default_rng(0)
    X = np.round(rng.normal(count, np.sqrt(count), (600, 1))).astype(np.float32)
    model = PoissonMixture(1, max_iter=0, rates_init=[[count]], random_state=0).fit(X)
    expected = stats.poisson.logpmf(X.astype(np.float64)[:, 0], float(model.rates_[0, 0]))
    got = model.score_samples(X)
    assert (got < 0).all()
    assert_allclose(got, expected, rtol=1e-5, atol=1e-4)


def test_poisson_float32_mixed_blocks_of_small_and_large_counts():
    """Blocks under the table size stay float32, blocks above go float64: both right."""
    rng = np.random.default_rng(2)
    X = np.concatenate([rng.poisson(5.0, (700, 2)), rng.poisson(1e7, (700, 2))]).astype(np.float32)
    model = PoissonMixture(2, max_iter=0, rates_init=[[5.0, 5.0], [1e7, 1e7]], random_state=0).fit(X)
    rates = model.rates_.astype(np.float64)
    X64 = X.astype(np.float64)
    component = np.stack([stats.poisson.logpmf(X64, r).sum(axis=1) for r in rates], axis=1)
    expected = np.logaddexp.reduce(component + np.log(model.weights_.astype(np.float64)), axis=1)
    assert_allclose(model.score_samples(X), expected, rtol=1e-5, atol=2e-3)


@pytest.mark.parametrize(
    "n_features, rate", [(20, 300.0), (60, 100.0), (4, 250.0), (40, 20.0), (20, 60.0), (100, 5.0)]
)
def test_poisson_float32_many_features_match_scipy(n_features, rate):
    """Counts within the table but many features: a point's terms sum to D times
    each one's size. Bounded per count alone, 20 features at 300 rounded by 0.014
    nats (BIC off by 21); float32 blocks keep a point's log-factorials within
    that of the table's last count, the others run in float64."""
    rng = np.random.default_rng(4)
    rates = np.array([[rate] * n_features, [1.1 * rate] * n_features])
    X = rng.poisson(rates[rng.integers(0, 2, 3000)]).astype(np.float32)
    model = PoissonMixture(2, max_iter=0, rates_init=rates, random_state=0).fit(X)
    X64 = X.astype(np.float64)
    component = np.stack([stats.poisson.logpmf(X64, r).sum(axis=1) for r in rates], axis=1)
    expected = np.logaddexp.reduce(component + np.log(model.weights_.astype(np.float64)), axis=1)
    assert_allclose(model.score_samples(X), expected, rtol=0, atol=2e-3)


def test_poisson_float32_rows_with_nan_agree_with_float64():
    """Rates of 4000: a missing count's -rate, taken back from a float32
    log-density of the size of the rates' sum, left rows with NaN 2.4e-4 nats
    and responsibilities 7e-5 off, where complete rows were 2e-6 off."""
    rng = np.random.default_rng(6)
    rates = np.array([[4000.0, 4000.0], [4120.0, 4120.0]])
    X = rng.poisson(rates[rng.integers(0, 2, 4000)]).astype(np.float32)
    X[rng.random(X.shape) < 0.3] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 4000.0
    model = PoissonMixture(2, max_iter=1, tol=0.0, rates_init=rates, random_state=0, missing="em")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X)
    X64 = X.astype(np.float64)
    assert_allclose(model.score_samples(X), model.score_samples(X64), rtol=0, atol=1e-5)
    assert_allclose(model.predict_proba(X), model.predict_proba(X64), rtol=0, atol=1e-6)


def _correlated(rng, n=2000):
    """Two clusters of two features that differ by 1e-4 noise: correlation condition ~1e8."""
    z = rng.normal(0, 1, (n, 1))
    X = np.hstack([z, z + 1e-4 * rng.normal(0, 1, (n, 1))])
    X[n // 2 :] += [3.0, 3.0]
    return X


@pytest.mark.parametrize("reg_covar", [0.0, 1e-8, 1e-6])
def test_float32_strongly_correlated_features_reach_the_float64_peak(reg_covar):
    """A float32 fit ended below its own start, or failed on an ill-defined covariance."""
    X32 = _correlated(np.random.default_rng(0)).astype(np.float32)
    kw = dict(random_state=0, reg_covar=reg_covar)
    m64 = GaussianMixture(2, **kw).fit(X32.astype(np.float64))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        m32 = GaussianMixture(2, **kw).fit(X32)
    # converges, never falls; says so where a matrix rounds to one not positive definite
    assert [str(w.message)[:37] for w in caught] == (
        ["In float32, these fitted matrices are"] if _indefinite_as_stored(m32) else []
    )
    assert m32.converged_ and m32.means_.dtype == np.float32
    assert m32.lower_bound_ >= m32.lower_bounds_[0]
    assert m32.lower_bound_ == pytest.approx(m64.lower_bound_, abs=1e-5)
    # Evaluated in float64 where float32 would cancel: the same as float64 data.
    assert_allclose(m32.score_samples(X32), m32.score_samples(X32.astype(np.float64)), rtol=1e-12)


@pytest.mark.filterwarnings("ignore:The fit reached its peak in float64")  # means stored coarsely
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_float32_log_densities_of_components_far_apart_against_their_spread(covariance_type):
    """'tied' maps points around one shift: 9999 apart with sd 0.01, float32 cancelled."""
    rng = np.random.default_rng(0)
    X = np.concatenate([np.zeros((500, 2)), np.full((500, 2), 9999.0)]) + rng.normal(0, 0.01, (1000, 2))
    X32 = X.astype(np.float32)
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X32)
    reference = model.score_samples(X32.astype(np.float64))  # the same float32 model, in float64
    assert_allclose(model.score_samples(X32), reference, rtol=1e-6, atol=1e-6)
    resp = model.predict_proba(X32)
    assert resp.dtype == np.float32
    assert_allclose(resp, model.predict_proba(X32.astype(np.float64)), atol=1e-6)


@pytest.mark.filterwarnings("ignore:The fit reached its peak in float64")  # means stored coarsely
def test_well_conditioned_float32_passes_stay_in_float32():
    """The float64 evaluation costs speed only where float32 would cancel."""
    rng = np.random.default_rng(0)
    X = rng.normal(0, 1, (1000, 3)).astype(np.float32)
    for covariance_type in ("full", "tied", "diag", "spherical"):
        model = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
        assert not model._computes_in_float64(np.float32), covariance_type
    model = GaussianMixture(2, random_state=0).fit(_correlated(rng).astype(np.float32))
    assert model._computes_in_float64(np.float32)
    # and rows with NaN, near the origin and 1e6 from it: a block's copies
    # hold deviations from the component means, whose fills do not cancel
    X[::7, 1] = np.nan
    for offset in (0.0, 1e6):
        Y = X + np.float32(offset)
        for covariance_type in ("full", "tied", "diag", "spherical"):
            model = GaussianMixture(2, covariance_type=covariance_type, random_state=0, missing="em")
            model.fit(Y)
            assert not _statistics_in_float64(model, Y), (offset, covariance_type)
    counts = rng.poisson(50.0, (1000, 3)).astype(np.float32)
    counts[::7, 1] = np.nan
    poisson = PoissonMixture(2, random_state=0, missing="em").fit(counts)
    assert not poisson._nan_rows_cancel_in_float32(True)


@pytest.mark.parametrize("family", ["gaussian", "exponential", "poisson"])
def test_no_start_is_computed_when_the_user_gives_every_parameter(family, monkeypatch):
    """reg_covar=0: the k-means++ start's covariance of repeated points is singular."""
    import fastem.base

    def not_needed(*args, **kwargs):
        raise AssertionError("an initial start was computed and then replaced")

    monkeypatch.setattr(fastem.base, "initial_moments", not_needed)
    X = np.array([[0.0, 0.0]] * 3 + [[1.0, 1.0], [1.0, 2.0], [2.0, 1.0]])
    if family == "gaussian":
        model = GaussianMixture(
            2, reg_covar=0, max_iter=0, weights_init=[0.5, 0.5], means_init=[[0, 0], [1.3, 1.3]],
            precisions_init=[np.eye(2), np.eye(2)],
        )
    elif family == "exponential":
        model = ExponentialMixture(2, max_iter=0, weights_init=[0.5, 0.5], scales_init=[[1, 1], [2, 2]])
    else:
        model = PoissonMixture(2, max_iter=0, weights_init=[0.5, 0.5], rates_init=[[1, 1], [2, 2]])
    model.fit(X)
    assert_allclose(model.weights_, [0.5, 0.5])
    if family == "gaussian":
        assert_allclose(model.means_, [[0, 0], [1.3, 1.3]])
        assert_allclose(model.precisions_, [np.eye(2), np.eye(2)])
        model.set_params(max_iter=1, tol=0)
        with pytest.warns(ConvergenceWarning):  # one pass, tol=0: scikit-learn fits this case too
            model.fit(X)


def _covariance_cases(rng):
    """Data where the fitted covariances sit at or near reg_covar in some direction."""
    base = np.concatenate([rng.normal(0.0, 1.0, (300, 3)), rng.normal(6.0, 1.0, (300, 3))])
    constant = base.copy()
    constant[:, 0] = 3.0  # that feature's variance is reg_covar exactly, in float64
    correlated = base.copy()
    correlated[:, 1] = correlated[:, 0] + 1e-4 * correlated[:, 1]  # an eigenvalue near reg_covar
    return {"constant feature": constant, "correlated features": correlated,
            "far from zero": base + 1e4, "identical points": np.full((50, 3), 7.5)}


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_covariances_keep_reg_covar_up_to_the_rounding_of_their_dtype(covariance_type, dtype):
    """Every eigenvalue of ``covariances_`` is at least ``reg_covar``, up to the rounding of the
    stored matrix: ``reg_covar - u * ||C||_F`` with ``u`` the dtype's unit roundoff.

    The covariances are built in float64 from the float64 statistics (eigenvalues
    ``>= reg_covar`` up to float64 rounding) and stored in the model's dtype; rounding
    each entry moves an eigenvalue by at most ``u ||C||_F`` (Weyl), so a float32
    covariance may show, e.g., 9.54e-7 for ``reg_covar=1e-6`` when its norm is about 1.
    The precisions are those of the float64 covariances.
    """
    u = np.finfo(dtype).eps / 2
    rng = np.random.default_rng(0)
    for name, X in _covariance_cases(rng).items():
        for reg_covar in (1e-6, 1e-3):
            model = GaussianMixture(2, covariance_type=covariance_type, reg_covar=reg_covar,
                                    random_state=0, max_iter=50)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # empty components, unconverged fits
                model.fit(X.astype(dtype))
            covariances = np.asarray(model.covariances_, dtype=np.float64)
            if covariance_type == "tied":
                covariances = covariances[None]
            if covariance_type in ("full", "tied"):
                smallest = np.array([np.linalg.eigvalsh(c)[0] for c in covariances])
                norms = np.linalg.norm(covariances, axis=(1, 2))
            else:
                smallest = covariances.reshape(len(covariances), -1).min(axis=1)
                norms = np.abs(covariances).reshape(len(covariances), -1).max(axis=1)
            # float64's own rounding of the M-step adds a few ulps of the norm
            bound = reg_covar - (u + 8 * np.finfo(np.float64).eps) * norms
            assert (smallest >= bound).all(), (name, reg_covar, smallest, bound)
            # and the stored precisions are the inverses of the stored covariances
            precisions = np.asarray(model.precisions_, dtype=np.float64)
            if covariance_type == "tied":
                precisions = precisions[None]
            if covariance_type in ("full", "tied"):
                products = np.einsum("kij,kjl->kil", covariances, precisions)
                identity = np.broadcast_to(np.eye(3), products.shape)
                conditions = np.linalg.cond(covariances)[:, None, None]
                assert_allclose(products, identity, atol=float(50 * u * conditions.max()))
            else:
                assert_allclose(covariances * precisions, 1.0, rtol=50 * u)


def _collinear_data(missing):
    """Five features in units of 300, the second exactly three times the first: every
    component collapses along one axis to ``reg_covar``, 1e-12 of its largest variance."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 5)) * 300
    X[:, 1] = 3 * X[:, 0]
    if missing == "em":
        X[rng.random(X.shape) < 0.2] = np.nan
        X[np.isnan(X).all(axis=1), 2] = 0.0
    return X


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize(
    "estimator, missing",
    # the variational mixture has no missing='em'
    [("GaussianMixture", "error"), ("GaussianMixture", "em"), ("BayesianGaussianMixture", "error")],
)
def test_float32_matrices_that_round_to_indefinite_are_warned_and_the_model_uses_its_factors(
    estimator, covariance_type, missing
):
    """A float32 covariance with a variance below the float32 rounding of its entries
    stores as a matrix that is not positive definite (and so does its precision). The
    fit says so, once, with the ``reg_covar`` that avoids it; sampling uses the
    precision factors, valid factors; the suggested ``reg_covar`` gives positive
    definite matrices and no warning."""
    import fastem
    from fastem import RegularizationWarning

    X = _collinear_data(missing).astype(np.float32)

    def fit(n_components, **extra):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = getattr(fastem, estimator)(
                n_components, covariance_type=covariance_type, random_state=0, max_iter=30,
                **({"missing": "em"} if missing == "em" else {}), **extra,
            ).fit(X)
        found = [str(w.message) for w in caught if issubclass(w.category, RegularizationWarning)
                 and "not positive definite as stored" in str(w.message)
                 and w.filename == __file__]  # pointed at the user's call
        return model, found, _indefinite_as_stored(model)

    # Whether the rounding goes below 0 is a matter of each matrix's last bits:
    # the first number of components whose fit has a matrix that does.
    for n_components in (12, 2, 3, 4, 5) if covariance_type == "full" else (2, 3, 4, 5):
        model, found, indefinite = fit(n_components)
        assert bool(found) == indefinite, (n_components, found)
        if indefinite:
            break
    assert indefinite  # the case this test is about
    assert len(found) == 1 and "X.astype(np.float64)" in found[0], found
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # NumPy warns on a covariance that is not PSD
        samples, _ = model.sample(500)
    assert np.isfinite(samples).all()
    # scikit-learn's float64 copy holds the factors' matrices, and samples from them
    copy = model.to_sklearn()
    assert not _not_positive_definite(copy.covariances_).any()
    assert not _not_positive_definite(copy.precisions_).any()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        copy.sample(100)

    needed = float(found[0].split("reg_covar to at least ", 1)[1].split()[0])
    model, found, indefinite = fit(n_components, reg_covar=needed)
    assert found == [] and not indefinite


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_partial_fit_warns_of_float32_matrices_that_round_to_indefinite(covariance_type):
    """Once when a step's stored matrices become indefinite, not again while they stay so
    (the message's numbers change each step, so Python's filter would repeat it), and
    again after a step without it or parameters assigned in between."""
    from fastem import RegularizationWarning

    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0)
    before, episodes, steps = False, 0, 0
    for batch in np.array_split(_collinear_data("error").astype(np.float32), 12):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.partial_fit(batch)
        found = [w for w in caught if issubclass(w.category, RegularizationWarning)]
        indefinite = _indefinite_as_stored(model)
        assert len(found) == int(indefinite and not before)
        assert all(w.filename == __file__ for w in found)
        episodes += len(found)
        steps += indefinite
        before = indefinite
    assert episodes >= 1 and steps > episodes  # it lasted, and was said once per episode
    assert before
    model.means_ = model.means_.copy()  # parameters from elsewhere: said again
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.partial_fit(batch)
    found = [w for w in caught if issubclass(w.category, RegularizationWarning)]
    assert len(found) == int(_indefinite_as_stored(model))
    assert found or covariance_type == "tied"  # 'full' stays indefinite here


def test_float32_selection_and_collapse_rules_read_the_precision_factors():
    """Nearly collinear features with a real thin direction: the float32 covariances_
    round to eigenvalues below 0, which the collapse rules read as singular components
    (and selection then skipped K=2 and 3). They read the float64 covariances of the
    precision factors, and agree with float64; the selection warns once."""
    from fastem import RegularizationWarning, select_n_components
    from fastem.selection import collapsed_components

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 4)) * 4
    X = rng.normal(size=(4000, 4)) + centres[rng.integers(3, size=4000)]
    X[:, 3] = X[:, 0] - 2 * X[:, 1] + 1e-5 * rng.normal(size=4000)
    X *= 1e3
    results = {}
    for dtype in (np.float64, np.float32):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = GaussianMixture(3, random_state=0).fit(X.astype(dtype))
            assert collapsed_components(model, X.astype(dtype)) == {}
            result = select_n_components(X.astype(dtype), [2, 3, 4], covariance_types=("full",),
                                         random_state=0)
        stored = [w for w in caught if issubclass(w.category, RegularizationWarning)]
        results[dtype] = (result.best_params_, result.flags, len(stored), model)
    assert _indefinite_as_stored(results[np.float32][3])  # the case this test is about
    assert results[np.float32][0] == results[np.float64][0] == ("full", 3)
    assert not any(results[np.float32][1].values())
    assert results[np.float64][2] == 0 and results[np.float32][2] <= 2  # the fit's, the grid's


def test_float64_sample_draws_from_assigned_covariances():
    """Assigned covariances_ of a float64 model (with their precisions: alone, they are
    refused) are what sample() draws from."""
    X = _gaussian_data(np.random.default_rng(0))
    model = GaussianMixture(2, random_state=0).fit(X)
    model.covariances_ = model.covariances_ * 100
    model.precisions_ = model.precisions_ / 100
    model.precisions_cholesky_ = model.precisions_cholesky_ / 10
    samples, labels = model.sample(20_000)
    variance = samples[labels == 0].var(axis=0)
    assert_allclose(variance, np.diagonal(model.covariances_[0]), rtol=0.05)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("estimator", [GaussianMixture, BayesianGaussianMixture])
def test_sample_from_covariances_of_features_in_units_far_apart(estimator, covariance_type, dtype):
    """A covariance of features in units 1e-3, 1e5 and 1 (variances 2e-6 to 1e10,
    nearly uncorrelated): sample() draws from it with no warning. NumPy's SVD-based
    sampler rebuilds it to rtol 1e-8 entry by entry, and called this positive
    definite matrix "not symmetric positive-semidefinite"."""
    covariance = np.array([[2e-6, 1.7, 3.8e-5], [1.7, 1e10, -880.0], [3.8e-5, -880.0, 1.0]])
    factor = np.triu(np.linalg.inv(np.linalg.cholesky(covariance)).T)
    means = np.array([[0.0, 0.0, 1e4], [0.01, 1e6, 1e4 + 5.0]])
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3)) * [0.1, 1e5, 1.0] + [0.0, 0.0, 1e4]
    model = estimator(2, covariance_type=covariance_type, random_state=0).fit(X.astype(dtype))
    per_component = (lambda a: np.array([a, a])) if covariance_type == "full" else (lambda a: a)
    model.weights_ = np.array([0.5, 0.5], dtype=dtype)
    if estimator is BayesianGaussianMixture:  # the concentrations of those expected weights
        model.weight_concentration_ = np.array([[1.0, 1.0], [1.0, 1e-9]], dtype=dtype)
    model.means_ = means.astype(dtype)
    model.covariances_ = per_component(covariance).astype(dtype)
    model.precisions_cholesky_ = per_component(factor).astype(dtype)
    model.precisions_ = per_component(factor @ factor.T).astype(dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        samples, labels = model.sample(40_000)
    assert samples.dtype == dtype
    for k in range(2):
        # whitened by the model's precision factor: unit covariance whatever the units
        white = (samples[labels == k].astype(np.float64) - means[k]) @ factor
        assert_allclose(np.cov(white.T), np.eye(3), atol=0.05)


def test_sample_refuses_assigned_covariances_that_are_not_positive_definite():
    model = GaussianMixture(2, random_state=0).fit(_gaussian_data(np.random.default_rng(0)))
    model.covariances_ = np.array([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]])
    # assigned without precisions that agree, which no positive definite factor gives
    with pytest.raises(ValueError, match="covariances_' is not the inverse of 'precisions_'"):
        model.sample(100)
    model._set_parameters({**{name: getattr(model, name) for name in model._parameter_names},
                           "covariances_": model.covariances_})  # past that check
    with pytest.raises(ValueError, match="covariances_ of component 1 is not positive definite"):
        model.sample(100)


def _stressed_missing_data():
    """float32 rows with NaN, the last feature an exact combination of the others, in
    units of 4e4, with weights: an extrapolated point's precision restricted to some
    rows' missing features has a zero pivot in float64, and its table's factorisation
    divided by zero."""
    rng = np.random.default_rng(896525959)
    centres = rng.normal(size=(3, 5)) * 4
    X = rng.normal(size=(800, 5)) + centres[rng.integers(3, size=800)]
    combination = rng.normal(size=(4, 1))
    X[:, 4:] = X[:, :4] @ combination + 0.0 * rng.normal(size=(800, 1))
    X *= 39043.5590686218
    X = X.astype(np.float32)
    weights_rng = np.random.default_rng(896525960)
    X[weights_rng.random(X.shape) < 0.15] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 1.0
    weights = weights_rng.exponential(size=len(X)) * float(10 ** weights_rng.uniform(-3, 3))
    return X, weights


def test_a_kernel_division_by_zero_rejects_the_point_or_is_a_clear_error():
    """A kernel that divides by zero (a singular factorisation) is a FloatingPointError,
    which rejects an extrapolated point: the fit goes on, as the float64 fit does (it
    had stopped with a ZeroDivisionError from the compiled table)."""
    X, weights = _stressed_missing_data()
    model = GaussianMixture(10, random_state=896525959, max_iter=60, missing="em")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, sample_weight=weights)
    assert np.isfinite(model.lower_bound_)
    assert model.lower_bound_ >= model.lower_bounds_[0]


def test_float32_matrices_positive_definite_as_stored_are_not_warned():
    from fastem import RegularizationWarning

    X = _gaussian_data(np.random.default_rng(0)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RegularizationWarning)
        GaussianMixture(2, random_state=0).fit(X)


TOO_SMALL_FOR_FLOAT32 = {
    # A spread of 1e-20: variances of 1e-40 and precisions of 1e40, beyond float32.
    **{f"gaussian-{ct}": (lambda ct=ct: GaussianMixture(2, covariance_type=ct, reg_covar=1e-50),
                          lambda rng: 1e-20 * _gaussian_data(rng) - 1e-16)
       for ct in ("full", "tied", "diag", "spherical")},
    # Values of 1e-40 (subnormal in float32): rates of 1e40.
    "exponential": (lambda: ExponentialMixture(2),
                    lambda rng: 1e-40 * _shifted_exponential_data(rng) - 1e-36),
}


@pytest.mark.parametrize("case", TOO_SMALL_FOR_FLOAT32)
def test_parameters_beyond_float32_are_a_clear_error_and_float64_fits(case):
    """A float32 fit whose parameters overflow float32 says so and names float64 as the fix,
    on every path that meets it (the M-step's precisions, a pass's kernel parameters),
    instead of blaming the covariances or asking for a refit."""
    make, data = TOO_SMALL_FOR_FLOAT32[case]
    X = data(np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"float32.*Fit the data as float64 \(X\.astype\(np\.float64\)\)"):
        make().set_params(random_state=0).fit(X.astype(np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = make().set_params(random_state=0).fit(X)
    assert np.isfinite(model.score(X))


def _far_rows(rng, offset):
    """Rows at 1e2 to 1e9 in eight directions from ``offset``, some with a NaN."""
    directions = np.array(
        [[1, 1], [-1, -1], [1, -1], [-1, 1], [1, 0], [0, 1], [-1, 0], [0, -1]], dtype=float
    )
    rows = np.array([offset + d * s for s in 10.0 ** np.arange(2, 10) for d in directions])
    return rows + rng.normal(0, 1, rows.shape)


@pytest.mark.filterwarnings("ignore:The fit reached its peak in float64")  # means stored coarsely
@pytest.mark.parametrize("missing", ["error", "em"])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical", "bayesian"])
@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_float32_rows_far_from_every_component_are_predicted_as_in_float64(
    covariance_type, offset, missing
):
    # A float32 log-density is resolved to about eps times its magnitude: at
    # (1e8, 1e8) the rounding of the coordinates exceeded the separation of
    # components 5 apart, and 'tied' gave [0.5, 0.5] and label 0.
    from fastem import BayesianGaussianMixture

    rng = np.random.default_rng(13)
    X = offset + np.concatenate([rng.normal(0, 1, (500, 2)), rng.normal(5, 1, (500, 2))])
    if covariance_type == "bayesian":
        if missing == "em":
            pytest.skip("BayesianGaussianMixture refuses missing values")
        model = BayesianGaussianMixture(2, random_state=0)
    else:
        model = GaussianMixture(2, covariance_type=covariance_type, random_state=0, missing=missing)
    model.fit(X.astype(np.float32))
    rows = _far_rows(rng, offset)
    if missing == "em":
        rows[::5, 1] = np.nan
    rows32 = rows.astype(np.float32)
    # the float32 model on the same numbers as float64: the reference, computed in float64
    expected_proba = model.predict_proba(rows32.astype(np.float64))
    expected_log = model.score_samples(rows32.astype(np.float64))
    assert_allclose(model.predict_proba(rows32), expected_proba, atol=1e-6)
    np.testing.assert_array_equal(model.predict(rows32), expected_proba.argmax(axis=1))
    assert_allclose(model.score_samples(rows32), expected_log, rtol=1e-6)
    # the rows near the data stay in float32, at float32 speed
    near = X[:50].astype(np.float32)
    assert_allclose(model.score_samples(near), model.score_samples(near.astype(np.float64)), rtol=1e-5)


def _far_rows_model_and_rows(case, missing):
    """A float32 model fitted near the data, and float32 rows far from every component."""
    rng = np.random.default_rng(13)
    if case == "exponential":
        X = np.concatenate([rng.exponential(1.0, (500, 2)), rng.exponential(4.0, (500, 2))])
        model = ExponentialMixture(2, random_state=0, missing=missing)
        rows = np.abs(_far_rows(rng, 0.0))
    else:
        X = np.concatenate([rng.normal(0, 1, (500, 2)), rng.normal(5, 1, (500, 2))])
        model = (
            BayesianGaussianMixture(2, random_state=0) if case == "bayesian"
            else GaussianMixture(2, covariance_type=case, random_state=0, missing=missing)
        )
        rows = _far_rows(rng, 0.0)
    model.fit(X.astype(np.float32))
    rows = np.concatenate([X[:100], rows])
    if missing == "em":
        rows[100::5, 1] = np.nan
    return model, rows.astype(np.float32), rng.uniform(0.5, 2.0, len(rows))


def _shared_covariance_model(case, dtype, missing):
    """Two components 5 apart that share one covariance: a fitted 'tied' mixture
    (``GaussianMixture`` or, for ``case='bayesian'``, ``BayesianGaussianMixture``), or a
    'full', 'diag' or 'spherical' start of equal precisions kept as it is (``max_iter=0``)."""
    rng = np.random.default_rng(13)
    X = np.concatenate([rng.normal(0, 1, (500, 2)), rng.normal(5, 1, (500, 2))])
    if case == "bayesian":
        model = BayesianGaussianMixture(2, covariance_type="tied", random_state=0)
    elif case == "tied":
        model = GaussianMixture(2, covariance_type="tied", random_state=0, missing=missing)
    else:
        precision = {"full": [[1.2, 0.3], [0.3, 0.8]], "diag": [1.2, 0.8], "spherical": 1.1}[case]
        model = GaussianMixture(
            2, covariance_type=case, max_iter=0, weights_init=[0.4, 0.6],
            means_init=[[0.0, 0.0], [5.0, 5.0]], precisions_init=np.stack([precision] * 2),
            missing=missing,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X.astype(dtype))


def _precisions(model):
    """The precision matrices ``U U^T`` of a Gaussian model's float64 factors, (K, D, D)."""
    factors = np.asarray(model.precisions_cholesky_, dtype=np.float64)
    K, D = model.means_.shape
    if model.covariance_type == "tied":
        factors = np.stack([factors] * K)
    elif model.covariance_type in ("diag", "spherical"):
        factors = np.stack([np.diag(np.broadcast_to(f, D)) for f in factors])
    return factors @ factors.transpose(0, 2, 1)


def _exact_log_odds(model, rows):
    """log p(component 1 | row) - log p(component 0 | row) of a two-component Gaussian model,
    in rationals: the quadratic terms of each row's observed features exactly, under the
    marginal precisions of the model's float64 factors, and each component's other terms
    from the model at its mean (the row's pattern of NaN), which it computes near the data."""
    means = np.asarray(model.means_, dtype=np.float64)
    covariances = np.linalg.inv(_precisions(model))
    odds = []
    for row in rows.astype(np.float64):
        observed = ~np.isnan(row)
        at_means = np.where(observed, means, np.nan)
        constants = np.log(model.predict_proba(at_means)[[0, 1], [0, 1]]) + model.score_samples(at_means)
        terms = []
        for k in (0, 1):
            precision = np.linalg.inv(covariances[k][np.ix_(observed, observed)])
            d = [Fraction(x) - Fraction(m) for x, m in zip(row[observed], means[k, observed])]
            q = sum(d[i] * Fraction(precision[i, j]) * d[j] for i in range(len(d)) for j in range(len(d)))
            terms.append(Fraction(constants[k]) - q / 2)
        odds.append(float(terms[1] - terms[0]))
    return np.array(odds)


@pytest.mark.parametrize("missing", ["error", "em"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", ["tied", "bayesian", "full", "diag", "spherical"])
def test_rows_far_from_components_that_share_a_covariance_get_the_exact_odds(case, dtype, missing):
    # Components that share their quadratic term differ far from the data by a
    # term linear in the row, which the rounding of the log-densities (eps times
    # 1e28 at 1e14 standard deviations) hid: 'tied' gave [0.5, 0.5] and label 0
    # where the odds for component 1 were e**3.3e11, in float64 and float32 alike.
    if case == "bayesian" and missing == "em":
        pytest.skip("BayesianGaussianMixture refuses missing values")
    model = _shared_covariance_model(case, dtype, missing)
    # along the axes and diagonals, and across the gradient g of the log-odds, off that
    # line by a few units of log-odds (g of the model's float64 factor)
    means = np.asarray(model.means_, dtype=np.float64)
    gradient = _precisions(model)[0] @ (means[1] - means[0])
    across = np.array([gradient[1], -gradient[0]]) / np.linalg.norm(gradient)
    directions = np.array([[1, 1], [-1, -1], [1, -1], [-1, 1], [1, 0], [0, 1], [-1, 0], [0, -1]])
    rows = np.concatenate([
        [d * s for s in 10.0 ** np.arange(12, 16) for d in directions],
        [sign * s * across + a * gradient / (gradient @ gradient)
         for s in 10.0 ** np.arange(9, 16) for sign in (1, -1) for a in (-3.0, 0.5, 4.0)],
    ])
    if missing == "em":
        rows[::3, 0] = np.nan
    rows = rows.astype(dtype)
    odds = _exact_log_odds(model, rows)
    assert_allclose(model.predict_proba(rows)[:, 1], expit(odds), atol=1e-9)
    decided = np.abs(odds) > 1e-3
    np.testing.assert_array_equal(model.predict(rows)[decided], (odds[decided] > 0).astype(int))


def test_far_rows_after_the_first_slice_of_rows_get_the_exact_odds():
    # The far rows are found _FAR_ROWS rows at a time: a far row in a later
    # slice is corrected as one in the first is.
    from fastem.base import _FAR_ROWS

    model = _shared_covariance_model("tied", np.float64, "error")
    far = np.array([[1e14, -1e14], [-1e14, 1e14]])
    rows = np.concatenate([np.zeros((_FAR_ROWS + 5, 2)), far, np.zeros((3, 2))])
    odds = _exact_log_odds(model, far)
    assert_allclose(model.predict_proba(rows)[-5:-3, 1], expit(odds), atol=1e-9)
    np.testing.assert_array_equal(model.predict(rows)[-5:-3], (odds > 0).astype(int))


@pytest.mark.parametrize("missing", ["error", "em"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("family", ["exponential", "poisson"])
def test_a_large_value_in_a_feature_every_component_shares_keeps_the_odds(family, dtype, missing):
    # A column of zeros puts every component at the floor there (scale or rate
    # 1e-6), so its term is the same for all: at a value of 1e14 it was some
    # 1e15 nats, whose rounding moved a Poisson row's probability from 0.06 to 0.12.
    rng = np.random.default_rng(9)
    if family == "exponential":
        first = np.concatenate([rng.exponential(1.0, 300), rng.exponential(10.0, 300)])
        model = ExponentialMixture(2, random_state=0, missing=missing)
    else:
        first = np.concatenate([rng.poisson(2.0, 300), rng.poisson(20.0, 300)]).astype(float)
        model = PoissonMixture(2, random_state=0, missing=missing)
    model.fit(np.column_stack([first, np.zeros(600)]).astype(dtype))
    rows = np.array([[x, v] for v in 10.0 ** np.arange(8, 16) for x in (0.0, 3.0, 6.0, 9.0, 12.0)])
    if missing == "em":
        rows[::4, 0] = np.nan
    rows = rows.astype(dtype)
    # exact log-odds of component 1 against 0, over the observed features
    means = np.asarray(model.scales_ if family == "exponential" else model.rates_, dtype=np.float64)
    weights = np.asarray(model.weights_, dtype=np.float64)
    odds = []
    for row in rows.astype(np.float64):
        total = Fraction(np.log(weights[1])) - Fraction(np.log(weights[0]))
        for j in np.flatnonzero(~np.isnan(row)):
            x, (m0, m1) = Fraction(row[j]), (Fraction(m) for m in means[:, j])
            if family == "exponential":  # -log(scale) - x / scale
                total += Fraction(np.log(means[0, j])) - Fraction(np.log(means[1, j])) + x / m0 - x / m1
            else:  # x log(rate) - rate
                total += x * (Fraction(np.log(means[1, j])) - Fraction(np.log(means[0, j]))) - m1 + m0
        odds.append(float(total))
    odds = np.array(odds)
    # rows below the limit of 2**46 nats keep the rounding of their log-densities:
    # up to 2**-7 nats of odds, 0.002 in probability
    assert_allclose(model.predict_proba(rows)[:, 1], expit(odds), atol=2e-3)
    decided = np.abs(odds) > 2.0**-6
    np.testing.assert_array_equal(model.predict(rows)[decided], (odds[decided] > 0).astype(int))


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("missing", ["error", "em"])
@pytest.mark.parametrize("case", ["full", "tied", "diag", "spherical", "bayesian", "exponential"])
def test_float32_score_bic_and_aic_of_rows_far_from_every_component(case, missing, weighted):
    """score, bic and aic take the rows far from every component in float64, as
    score_samples does: summed as float32 computed them, two points 3e4 and 1e5
    standard deviations away put bic up to 1.4e3 off, and score was not the mean of
    score_samples."""
    if case == "bayesian" and missing == "em":
        pytest.skip("BayesianGaussianMixture refuses missing values")
    model, rows32, weights = _far_rows_model_and_rows(case, missing)
    weights = weights if weighted else None
    total_weight = len(rows32) if weights is None else weights.sum()
    score = model.score(rows32, sample_weight=weights)
    # score is the mean of score_samples (their sums of 1e17 agree to float64 rounding) ...
    assert_allclose(
        score, np.average(model.score_samples(rows32), weights=weights), rtol=1e-12, atol=1e-9
    )
    # ... and agrees with float64 on the same numbers to the 2**-7 nats (eps * 2**17)
    # by which a float32 row below the limit may round
    rows64 = rows32.astype(np.float64)
    assert_allclose(score, model.score(rows64, sample_weight=weights), rtol=1e-12, atol=2.0**-7)
    if case != "bayesian":
        for criterion in ("bic", "aic"):
            assert_allclose(
                getattr(model, criterion)(rows32, sample_weight=weights),
                getattr(model, criterion)(rows64, sample_weight=weights),
                rtol=1e-12, atol=2 * 2.0**-7 * total_weight,
            )


@pytest.mark.parametrize("offset", [300.0, 1e6])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_float32_rows_with_nan_far_from_the_origin_agree_with_float64(covariance_type, offset):
    """Two correlated components 6 apart, 1e6 from the origin, 20% of the entries missing.

    (And 300 from it.) One EM step and the predictions agree with float64
    on the same numbers. A 'full' or 'tied' block that filled a missing
    coordinate with its conditional mean, a number near 1e6 that float32
    rounds by 0.06, put the log-densities of incomplete rows 7e-3 off and
    the responsibilities 5e-4; its copies now hold deviations from the
    component means, whose fills are of the size of the spread.
    """
    rng = np.random.default_rng(3)
    covariance = np.array([[1.0, 0.9, 0.5], [0.9, 1.0, 0.6], [0.5, 0.6, 1.0]])
    means = offset * np.array([[1.0, -1.0, 1.0], [1.0, -1.0, 1.0]]) + [[0, 0, 0], [6, 0, 0]]
    X = means[rng.integers(0, 2, 4000)] + rng.multivariate_normal(np.zeros(3), covariance, 4000)
    X[rng.random(X.shape) < 0.2] = np.nan
    X[np.isnan(X).all(axis=1), 0] = offset
    X32 = X.astype(np.float32)
    X64 = X32.astype(np.float64)
    precisions = {
        "full": np.stack([np.linalg.inv(covariance)] * 2), "tied": np.linalg.inv(covariance),
        "diag": np.ones((2, 3)), "spherical": np.ones(2),
    }[covariance_type]
    kw = dict(covariance_type=covariance_type, missing="em", max_iter=1, tol=0.0,
              weights_init=[0.5, 0.5], means_init=means, precisions_init=precisions)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        m32 = GaussianMixture(2, **kw).fit(X32)
        m64 = GaussianMixture(2, **kw).fit(X64)
    assert m32.means_.dtype == np.float32
    # float32 rounds 1e6 by 0.06: the means to that, the covariances to float32 rounding
    assert_allclose(m32.means_, m64.means_, rtol=0, atol=0.07)
    assert_allclose(m32.covariances_, m64.covariances_, rtol=1e-5, atol=1e-5)
    assert_allclose(m32.lower_bound_, m64.lower_bound_, rtol=1e-7)
    # the float32 model's predictions against the same model on float64 numbers
    assert_allclose(m32.score_samples(X32), m32.score_samples(X64), rtol=1e-6, atol=1e-6)
    assert_allclose(m32.predict_proba(X32), m32.predict_proba(X64), rtol=0, atol=1e-6)


@pytest.mark.parametrize("method", ["fit", "fit_predict"])
def test_warnings_point_at_the_callers_line_through_every_public_method(method):
    """Warnings name the user's line, however many of fastem's own frames (fit_predict
    calling fit, the state lock) lie between: they had named fastem's files."""
    X = _collinear_data("error").astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        getattr(GaussianMixture(2, covariance_type="tied", random_state=0, max_iter=2), method)(X)
    assert any(issubclass(w.category, ConvergenceWarning) for w in caught)
    assert all(w.filename == __file__ for w in caught), [(w.filename, w.lineno) for w in caught]


def _float32_cases():
    """(family, hyper-parameters, name) of values that do not fit in float32."""
    eye = np.eye(2)
    for value in (1e39, -1e39):
        yield "GaussianMixture", {"means_init": [[value, 0.0], [0.0, 0.0]]}, "means_init"
    for value in (1e39, 1e-46):
        yield "ExponentialMixture", {"scales_init": [[value, value], [1.0, 1.0]]}, "scales_init"
        yield "PoissonMixture", {"rates_init": [[value, value], [1.0, 1.0]]}, "rates_init"
        yield ("GaussianMixture", {"covariance_type": "diag", "precisions_init": [[value, 1.0], [1.0, 1.0]]},
               "precisions_init")
        yield ("GaussianMixture", {"covariance_type": "spherical", "precisions_init": [value, 1.0]},
               "precisions_init")
        yield ("GaussianMixture", {"covariance_type": "full", "precisions_init": [eye * value, eye]},
               "precisions_init")
    for covariance_type in ("full", "tied", "diag", "spherical"):
        yield "GaussianMixture", {"covariance_type": covariance_type, "reg_covar": 1e200}, "reg_covar"
        yield ("BayesianGaussianMixture", {"covariance_type": covariance_type, "reg_covar": 1e200},
               "reg_covar")
        for prior in ("weight_concentration_prior", "mean_precision_prior",
                      "degrees_of_freedom_prior"):
            yield ("BayesianGaussianMixture", {"covariance_type": covariance_type, prior: 1e300},
                   prior)
        yield ("BayesianGaussianMixture", {"covariance_type": covariance_type, "mean_prior": [1e39, 0]},
               "mean_prior")
        covariance_prior = {"full": eye * 1e300, "tied": eye * 1e300, "diag": [1e300, 1e300],
                            "spherical": 1e300}[covariance_type]
        yield ("BayesianGaussianMixture",
               {"covariance_type": covariance_type, "covariance_prior": covariance_prior},
               "covariance_prior")


@pytest.mark.parametrize("family, params, name", list(_float32_cases()))
def test_values_beyond_float32_are_named_before_the_cast(family, params, name):
    """Initial parameters, reg_covar and priors beyond float32's range (or positive ones that
    round to 0 in it) gave NumPy's "overflow encountered in cast" and then an error that
    blamed the model's state ("refit the model") or the sample weights: each is now named,
    with its value and the fix, before anything is cast (RuntimeWarnings are errors here)."""
    import fastem

    X = np.abs(np.random.default_rng(0).normal(size=(200, 2))).astype(np.float32)
    if family == "PoissonMixture":
        X = np.round(X * 3)
    with pytest.raises(ValueError, match=rf"^{name}(, inverted into covariances,)? holds .*(beyond float32's largest number|"
                                          r"rounds to 0 in float32).*X\.astype\(np\.float64\)"):
        getattr(fastem, family)(2, **params).fit(X)
    if family != "BayesianGaussianMixture":
        with pytest.raises(ValueError, match=rf"^{name}(, inverted into covariances,)? holds"):
            getattr(fastem, family)(2, **params).partial_fit(X)


def _floor_cases():
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(size=(150, 3)), rng.normal(size=(150, 3)) * 0.1 + 4.0])
    for covariance_type in ("full", "tied", "diag", "spherical"):
        yield covariance_type, GaussianMixture(2, covariance_type=covariance_type, random_state=0), X
    yield "bayesian", BayesianGaussianMixture(3, random_state=0), X
    yield "exponential", ExponentialMixture(2, random_state=0), np.abs(X) * 10
    yield "poisson", PoissonMixture(2, random_state=0), np.round(np.abs(X) * 30)


@pytest.mark.parametrize("case", list(_floor_cases()), ids=lambda case: case[0])
@pytest.mark.parametrize("stretch", [1.0, 1e3, 1e7])
def test_the_log_density_floor_bounds_every_row_of_its_box(case, stretch):
    # predict looks for rows far from every component only where this bound
    # says some may be: it must lie below the log-density of every row of the
    # box, its corners included, near the data and far from it.
    _, model, X = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    low, high = X.min(axis=0), X.max(axis=0) * stretch
    corners = np.array([[(low, high)[(c >> j) & 1][j] for j in range(X.shape[1])]
                        for c in range(2 ** X.shape[1])])
    rows = np.concatenate([X, corners, (low + high) / 2 + 0 * X[:1]])
    if isinstance(model, PoissonMixture):
        rows = np.round(rows)
    floor = model._log_density_floor(low, high)
    assert floor <= model.score_samples(rows).min()


@pytest.mark.parametrize("case", list(_floor_cases()), ids=lambda case: case[0])
def test_predict_computes_the_log_densities_only_where_rows_may_be_far(case, monkeypatch):
    # Near the components predict takes the labels alone from the kernel (the
    # log-densities cost their exponentials); a row far away adds them.
    from fastem.base import BaseMixture

    _, model, X = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X)
    outputs = []
    run_kernel = BaseMixture._run_kernel

    def recording(self, *args, **kwargs):
        outputs.append(sorted(k for k in kwargs if k in ("labels", "log_prob", "resp")))
        return run_kernel(self, *args, **kwargs)

    monkeypatch.setattr(BaseMixture, "_run_kernel", recording)
    model.predict(X)
    assert outputs == [["labels"]]
    outputs.clear()
    far = X.copy()
    far[0] = 1e15
    model.predict(far)
    assert outputs == [["labels", "log_prob"]]


def test_a_float64_finish_is_not_taken_for_a_start_outside_the_m_steps_image(monkeypatch):
    """A float32 run finished in float64 starts from its M-step output rounded to float32:
    a variance at reg_covar (a component on repeated values of iris) lies below it by that
    rounding, which is no start outside the M-step's image: the finish keeps its first
    pass as its best and its chain (iris at K=5 took one more pass, to another bound)."""
    from sklearn.datasets import load_iris

    from fastem import _em

    outside = []
    accept = _em._Run.accept

    def recording(run, *args, **kwargs):
        accept(run, *args, **kwargs)
        if run.n_passes > 1 and run.lower_bounds and len(run.lower_bounds) == 1:
            outside.append((run.n_passes, run.outside_start))

    monkeypatch.setattr(_em._Run, "accept", recording)
    X = load_iris().data.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        GaussianMixture(5, random_state=0, n_init=2).fit(X)
    finishes = [start for passes, start in outside]
    assert finishes and all(start is None for start in finishes)


def _far_blobs(offset):
    """Two unit-spread clusters 4 apart, ``offset`` from the origin, in float32."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0.0, 1.0, (2500, 2)), rng.normal(4.0, 1.0, (2500, 2))])
    return (X + offset).astype(np.float32)


@pytest.mark.parametrize("source", ["array", "chunks"])
@pytest.mark.parametrize("make", [
    lambda: GaussianMixture(2, covariance_type="full", random_state=0),
    lambda: GaussianMixture(2, covariance_type="tied", random_state=0),
    lambda: GaussianMixture(2, covariance_type="diag", random_state=0),
    lambda: GaussianMixture(2, covariance_type="spherical", random_state=0),
    lambda: BayesianGaussianMixture(n_components=2, random_state=0),
], ids=["full", "tied", "diag", "spherical", "bayesian"])
def test_float32_parameters_that_round_below_the_peak_are_warned(make, source):
    """Means 1e6 from the origin are stored in float32 to 0.06: the float32 model lies
    about 3.6e-4 per sample below the float64 peak its fit reached, and says so; at
    1e3 rounding costs nothing float32 can resolve, and nothing is said."""
    X = _far_blobs(1e6)
    data = fastem.Chunks([X[:3000], X[3000:]]) if source == "chunks" else X
    with pytest.warns(ConvergenceWarning, match="stored in float32 lie") as record:
        model = make().fit(data)
    assert model.means_.dtype == np.float32
    stated = float(str(record[0].message).split(" lie ")[1].split(" ")[0])
    # the stated loss is the float32 model's, scored exactly against the float64 parameters
    X64 = X.astype(np.float64)
    loss = make().fit(X64).score(X64) - model.score(X64)
    assert stated == pytest.approx(loss, rel=0.05) and loss > 1e-4
    make().fit(_far_blobs(1e3))  # warnings are errors


@pytest.mark.parametrize("covariance_type", ["full", "spherical"])
def test_float32_partial_fit_whose_means_round_below_the_peak_says_so_once(covariance_type):
    """A stream stores its means in float32 as fit does: 1e6 from the origin, the model
    lies 3e-4 per sample below the float64 stream's, said at its first such step alone."""
    X = _far_blobs(1e6)[np.random.default_rng(1).permutation(5000)]
    model = GaussianMixture(2, covariance_type=covariance_type, random_state=0)
    with pytest.warns(ConvergenceWarning, match="partial_fit stores its parameters") as record:
        for batch in np.array_split(X, 10):
            model.partial_fit(batch)
    assert len(record) == 1 and model.means_.dtype == np.float32
    stated = float(str(record[0].message).split(" lie about ")[1].split(" ")[0])
    assert 1e-4 < stated < 1e-3
    near = GaussianMixture(2, covariance_type=covariance_type, random_state=0)
    for batch in np.array_split(_far_blobs(1e3), 10):
        near.partial_fit(batch)  # warnings are errors


def test_float32_rounding_advice_of_data_with_missing_values_fits():
    """The centring advised skips missing values: X - X.mean(axis=0) made every feature
    with one NaN all NaN, which a fit with missing='em' refuses."""
    X = _far_blobs(1e6)
    X[::50, 0] = np.nan
    with pytest.warns(ConvergenceWarning, match=r"stored in float32 lie.*Centre the data "
                                                r"\(X - np\.nanmean\(X, axis=0\)"):
        GaussianMixture(2, random_state=0, missing="em").fit(X)
    model = GaussianMixture(2, random_state=0, missing="em").fit(X - np.nanmean(X, axis=0))
    assert np.isfinite(model.means_).all()  # and, warnings being errors, no loss is said
    grid = dict(n_components=[1, 2], covariance_types=["full"], random_state=0, missing="em")
    with pytest.warns(ConvergenceWarning, match=r"Centre the data \(X - np\.nanmean\(X, axis=0\)"):
        fastem.select_n_components(X, **grid)
    fastem.select_n_components(X - np.nanmean(X, axis=0), **grid)


def test_float32_partial_fit_after_a_fit_that_said_it_stays_quiet():
    X = _far_blobs(1e6)
    with pytest.warns(ConvergenceWarning, match="stored in float32 lie"):
        model = GaussianMixture(2, random_state=0).fit(X)
    model.partial_fit(X[:500])  # warnings are errors


def test_select_n_components_says_once_that_its_float32_fits_round_below_the_peak():
    """The grid silences its fits' ConvergenceWarnings: the rounding loss is said once,
    with the count of fits it concerns and the chosen fit's loss, as that fit measured it."""
    X = _far_blobs(1e6)
    with pytest.warns(ConvergenceWarning, match="store their means in float32") as record:
        result = fastem.select_n_components(
            X, n_components=[1, 2], covariance_types=["full", "diag"], random_state=0)
    message = str(record[0].message)
    assert len(record) == 1 and message.startswith("4 of the 4 fits")
    assert str(result.best_params_) in message
    stated = float(re.search(r"(\S+) per sample", message)[1])
    chosen = result.best_model_
    X64 = X.astype(np.float64)
    loss = clone(chosen).fit(X64).score(X64) - chosen.score(X64)
    assert stated == pytest.approx(loss, rel=0.05) and loss > 1e-4
    fastem.select_n_components(_far_blobs(1e3), n_components=[1, 2],
                               covariance_types=["full"], random_state=0)


def test_float32_fit_converged_at_max_iter_says_what_rounding_costs():
    """A float32 run that converges at its last allowed pass has none left to finish in
    float64, and its means 1e6 from the origin lie short of the peak by their rounding.
    The 'spherical' run reaches a fixed point of float32 EM, its parameters bitwise the
    same after a pass, and stops at the pass after it, 10. The 'full' run that converged
    at its pass 12 only within float32's noise, which a float64 finish would have
    confirmed, is not converged: it warns that it stopped short (it said converged_=True,
    with the rounding's cost)."""
    # from the tree's start alone, whose run converges at that pass
    with mock.patch.object(GaussianMixture, "_CANDIDATE_SUBSAMPLES", 1):
        with pytest.warns(ConvergenceWarning, match="The fit stores its parameters in float32"):
            model = GaussianMixture(2, covariance_type="spherical", random_state=0,
                                    max_iter=10).fit(_far_blobs(1e6))
        assert model.converged_ and model.n_iter_ == 10
        with pytest.warns(ConvergenceWarning, match="did not converge in max_iter=12"):
            model = GaussianMixture(2, covariance_type="full", random_state=0,
                                    max_iter=12).fit(_far_blobs(1e6))
        assert not model.converged_ and model.n_iter_ == 12


def test_bayesian_float32_rounding_loss_is_not_called_a_log_likelihood():
    """The variational model has no likelihood: its loss is one of score, beside an ELBO."""
    with pytest.warns(ConvergenceWarning, match="stored in float32 lie") as record:
        BayesianGaussianMixture(n_components=2, random_state=0).fit(_far_blobs(1e6))
    message = str(record[0].message)
    assert "log-likelihood" not in message and "in score (the variational" in message


def test_float32_partial_fit_states_the_rounding_of_its_means_not_an_expectation():
    """A component collapsed onto one float32 value 1e5 from the origin has a mean that
    float32 holds: its precision of 1e6 (reg_covar) costs nothing, where a uniform
    rounding would be expected to cost 1 per sample."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (3000, 1)), np.full((2000, 1), 3.0)]) + 1e5
    X = X.astype(np.float32)[rng.permutation(5000)]
    model = GaussianMixture(2, random_state=0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for batch in np.array_split(X, 10):
            model.partial_fit(batch)
    stated = [float(re.search(r"(\S+) per sample", str(w.message))[1]) for w in record
              if "partial_fit stores its parameters" in str(w.message)]
    assert len(stated) == 1 and stated[0] < 1e-4
