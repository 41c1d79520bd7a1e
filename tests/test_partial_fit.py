"""Online (stepwise) EM: partial_fit and the re-centring of Gaussian statistics."""

import copy

import numpy as np
import pytest
from numpy.testing import assert_allclose

import fastem
from fastem import ConvergenceWarning, GaussianMixture

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
MEANS = np.array([[0.0, 0.0], [4.0, 4.0], [-4.0, 4.0]])


def batches(n_batches, size, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n_batches):
        labels = rng.choice(3, size, p=[0.5, 0.3, 0.2])
        yield MEANS[labels] + rng.normal(size=(size, 2)) * 0.8


def sorted_means(model):
    return model.means_[np.argsort(model.means_[:, 0])]


def test_partial_fit_on_a_stream_recovers_the_means():
    model = GaussianMixture(3, random_state=0)
    for batch in batches(1000, 100):
        model.partial_fit(batch)
    assert model.n_steps_ == 999
    assert_allclose(sorted_means(model), MEANS[[2, 0, 1]], atol=0.05)
    assert_allclose(np.sort(model.weights_), [0.2, 0.3, 0.5], atol=0.03)


def test_one_step_follows_the_schedule():
    first, second = batches(2, 500, seed=1)
    model = GaussianMixture(3, random_state=0, step_exponent=0.6, step_offset=1.5)
    model.partial_fit(first)
    running = model._running_stats
    expected = copy.deepcopy(model)
    batch = expected.summarize(second)
    batch = batch.scaled(1 / batch.n_samples)
    eta = (1 + 1.5) ** -0.6
    expected.m_step(model._recentre(running, batch.reference).scaled(1 - eta) + batch.scaled(eta))
    model.partial_fit(second)
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(getattr(model, name), getattr(expected, name), rtol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_recentre_matches_moments_taken_around_the_new_shift(covariance_type):
    X = next(batches(1, 400, seed=2)) + 30.0
    model = GaussianMixture(3, covariance_type=covariance_type, random_state=0, max_iter=5, tol=0)
    with pytest.warns(ConvergenceWarning):
        model.fit(X)
    stats = model.summarize(X)
    resp = model.predict_proba(X)
    rng = np.random.default_rng(3)
    new_shift = model.means_ + rng.normal(scale=5.0, size=(3, 2))
    reference = {"shift": new_shift}
    got = model._recentre(stats, reference)

    d = X[:, None, :] - new_shift[None]  # (n, K, D)
    sx = np.einsum("nk,nkd->kd", resp, d)
    outer = np.einsum("nk,nki,nkj->kij", resp, d, d)
    if covariance_type == "tied":  # the within scatter around the new shift, whole
        sxx = np.tril(outer.sum(axis=0))
        assert not got.moments["pairs"].any()
    else:
        sxx = {
            "full": np.tril(outer),
            "diag": np.einsum("kii->ki", outer),
            "spherical": np.einsum("kii->ki", outer),
        }[covariance_type]
    assert got.reference["shift"] is new_shift
    assert_allclose(got.moments["sx"], sx, rtol=1e-9, atol=1e-9)
    lower = np.tril(got.moments["sxx"]) if covariance_type in ("full", "tied") else got.moments["sxx"]
    assert_allclose(lower, sxx, rtol=1e-9, atol=1e-8)
    # the M-step does not depend on the frame the statistics are taken in
    a, b = copy.deepcopy(model).m_step(stats), copy.deepcopy(model).m_step(got)
    assert_allclose(a.means_, b.means_, rtol=1e-10)
    assert_allclose(a.covariances_, b.covariances_, rtol=1e-8)


def test_partial_fit_after_fit_starts_from_the_fitted_model():
    X = np.concatenate(list(batches(20, 500, seed=4)))
    model = GaussianMixture(3, random_state=0).fit(X)
    means = model.means_.copy()
    model.partial_fit(X[:2000])
    assert model.n_steps_ == 0
    assert_allclose(model.means_, means, atol=0.1)


def test_partial_fit_checks():
    with pytest.raises(ValueError, match="step_exponent must be > 0.5"):
        GaussianMixture(2, step_exponent=0.5).partial_fit(np.ones((10, 2)))
    with pytest.raises(ValueError, match="step_offset must be >= 0"):
        GaussianMixture(2, step_offset=-1.0).partial_fit(np.ones((10, 2)))
    with pytest.raises(ValueError, match="needs at least n_components=3"):
        GaussianMixture(3).partial_fit(np.ones((2, 2)))
    model = GaussianMixture(2, random_state=0).partial_fit(next(batches(1, 50)))
    with pytest.raises(ValueError, match="X has 3 features"):
        model.partial_fit(np.ones((10, 3)))


@pytest.mark.parametrize("fitted_first", [False, True])
def test_partial_fit_sets_a_record_of_its_own_that_saves_and_loads(tmp_path, fitted_first):
    """A model stepped by partial_fit holds no attribute of an earlier fit, and saves."""
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(0, 1, (300, 2)), rng.normal(6, 1, (300, 2))])
    model = fastem.GaussianMixture(2, random_state=0)
    if fitted_first:
        model.fit(X)
    for batch in np.array_split(X[rng.permutation(len(X))], 3):
        model.partial_fit(batch)
    assert model.n_iter_ == model.n_steps_ + 1 == 3
    assert model.converged_ is False
    assert model.lower_bounds_ == [model.lower_bound_]
    model.save(tmp_path / "m.npz")
    loaded = fastem.load(tmp_path / "m.npz")
    assert (loaded.n_iter_, loaded.converged_, loaded.lower_bound_) == (3, False, model.lower_bound_)
    np.testing.assert_array_equal(loaded.score_samples(X), model.score_samples(X))
