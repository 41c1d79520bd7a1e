"""Self-checks of the slow reference implementation in ``tests/reference.py``.

The reference is what the fast kernels are tested against, so here it is
checked against independent sources: scikit-learn's ``GaussianMixture``,
hand-written density formulas, row repetition for sample weights, the EM
monotonicity guarantee and numerical integration of mixture moments.
"""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import integrate, stats
from scipy.special import gammaln
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky

from reference import (
    COVARIANCE_TYPES,
    exponential_em_step,
    exponential_log_prob,
    exponential_mixture_moments,
    gaussian_em_step,
    gaussian_log_prob,
    gaussian_mixture_moments,
    gaussian_n_parameters,
    log_resp_and_norm,
    poisson_em_step,
    poisson_log_prob,
    poisson_mixture_moments,
    run_em,
)

# ---------------------------------------------------------------------------
# Fixtures / data


def make_gaussian_data(seed=0, n_per=(120, 90, 60), n_features=3):
    rng = np.random.default_rng(seed)
    centers = np.array([[0.0, 0.0, 0.0], [4.0, -1.0, 2.0], [-3.0, 3.0, 1.0]])
    centers = centers[:, :n_features]
    blocks = []
    for k, n in enumerate(n_per):
        A = rng.normal(size=(n_features, n_features)) * 0.5 + np.eye(n_features)
        blocks.append(centers[k] + rng.normal(size=(n, n_features)) @ A.T)
    X = np.vstack(blocks)
    return X[rng.permutation(len(X))]


def initial_gaussian_params(X, covariance_type, n_components=3, seed=1):
    """Deliberately rough starting parameters (so one step changes a lot)."""
    rng = np.random.default_rng(seed)
    N, D = X.shape
    weights = rng.dirichlet(np.full(n_components, 5.0))
    means = X[rng.choice(N, n_components, replace=False)] + 0.3
    if covariance_type == "full":
        covs = []
        for _ in range(n_components):
            A = rng.normal(size=(D, D)) * 0.3
            covs.append(A @ A.T + np.eye(D) * rng.uniform(0.5, 2.0))
        covariances = np.array(covs)
    elif covariance_type == "tied":
        A = rng.normal(size=(D, D)) * 0.3
        covariances = A @ A.T + 1.5 * np.eye(D)
    elif covariance_type == "diag":
        covariances = rng.uniform(0.5, 2.0, size=(n_components, D))
    else:
        covariances = rng.uniform(0.5, 2.0, size=n_components)
    return {"weights": weights, "means": means, "covariances": covariances}


def precisions_from_covariances(covariances, covariance_type):
    if covariance_type == "full":
        return np.array([np.linalg.inv(c) for c in covariances])
    if covariance_type == "tied":
        return np.linalg.inv(covariances)
    return 1.0 / covariances


def make_exponential_data(seed=0):
    rng = np.random.default_rng(seed)
    scales = np.array([[0.5, 2.0], [3.0, 0.7], [10.0, 5.0]])
    z = rng.choice(3, size=400, p=[0.5, 0.3, 0.2])
    return rng.exponential(scales[z])


def make_poisson_data(seed=0):
    rng = np.random.default_rng(seed)
    rates = np.array([[0.5, 6.0, 2.0], [5.0, 1.0, 2.0], [15.0, 9.0, 0.2]])
    z = rng.choice(3, size=400, p=[0.4, 0.35, 0.25])
    return rng.poisson(rates[z]).astype(np.float64)


# ---------------------------------------------------------------------------
# (1) Gaussian EM step equals scikit-learn with unit weights


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_gaussian_em_step_matches_sklearn_private_steps(covariance_type):
    X = make_gaussian_data()
    p = initial_gaussian_params(X, covariance_type)
    gm = GaussianMixture(
        n_components=3, covariance_type=covariance_type, reg_covar=1e-6
    )
    gm.weights_ = p["weights"].copy()
    gm.means_ = p["means"].copy()
    gm.covariances_ = np.array(p["covariances"], copy=True)
    gm.precisions_cholesky_ = _compute_precision_cholesky(
        p["covariances"], covariance_type
    )
    sk_log_prob = gm._estimate_log_prob(X)  # at the old parameters
    mean_log_prob_norm, log_resp = gm._e_step(X)
    gm._m_step(X, log_resp)

    out = gaussian_em_step(X, **p, covariance_type=covariance_type, reg_covar=1e-6)

    assert_allclose(out["mean_log_likelihood"], mean_log_prob_norm, rtol=1e-12)
    assert_allclose(
        out["log_likelihood"], mean_log_prob_norm * X.shape[0], rtol=1e-12
    )
    assert_allclose(out["weights"], gm.weights_, rtol=1e-12)
    assert_allclose(out["means"], gm.means_, rtol=1e-12)
    assert out["covariances"].shape == gm.covariances_.shape
    assert_allclose(out["covariances"], gm.covariances_, rtol=1e-12)

    # The E-step pieces agree too.
    my_log_resp, _ = log_resp_and_norm(
        gaussian_log_prob(X, p["means"], p["covariances"], covariance_type),
        p["weights"],
    )
    assert_allclose(np.exp(my_log_resp), np.exp(log_resp), rtol=1e-12, atol=1e-14)
    assert_allclose(
        gaussian_log_prob(X, p["means"], p["covariances"], covariance_type),
        sk_log_prob,
        rtol=1e-12,
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n_iter", [1, 5])
def test_gaussian_run_em_matches_sklearn_fit(covariance_type, n_iter):
    X = make_gaussian_data(seed=3)
    p = initial_gaussian_params(X, covariance_type, seed=4)
    gm = GaussianMixture(
        n_components=3,
        covariance_type=covariance_type,
        reg_covar=1e-6,
        tol=0.0,
        max_iter=n_iter,
        weights_init=p["weights"],
        means_init=p["means"],
        precisions_init=precisions_from_covariances(p["covariances"], covariance_type),
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning):
        gm.fit(X)

    params, history = run_em(
        gaussian_em_step, X, p, n_iter, covariance_type=covariance_type
    )
    assert len(history) == n_iter
    assert_allclose(history, gm.lower_bounds_, rtol=1e-11)
    assert_allclose(params["weights"], gm.weights_, rtol=1e-10)
    assert_allclose(params["means"], gm.means_, rtol=1e-10)
    assert_allclose(params["covariances"], gm.covariances_, rtol=1e-10)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n_features", [1, 2, 5])
def test_gaussian_n_parameters_matches_sklearn(covariance_type, n_features):
    gm = GaussianMixture(n_components=4, covariance_type=covariance_type)
    gm.means_ = np.zeros((4, n_features))
    assert gaussian_n_parameters(4, n_features, covariance_type) == gm._n_parameters()


# ---------------------------------------------------------------------------
# (2) Integer sample weights equal repeated rows


def _assert_results_equal(a, b, rtol=1e-10):
    assert a.keys() == b.keys()
    for key in a:
        assert_allclose(a[key], b[key], rtol=rtol, atol=1e-12, err_msg=key)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_gaussian_sample_weight_equals_repetition(covariance_type):
    X = make_gaussian_data()
    rng = np.random.default_rng(5)
    sw = rng.integers(0, 4, size=X.shape[0])
    p = initial_gaussian_params(X, covariance_type)
    weighted = gaussian_em_step(
        X, **p, covariance_type=covariance_type, sample_weight=sw
    )
    repeated = gaussian_em_step(
        np.repeat(X, sw, axis=0), **p, covariance_type=covariance_type
    )
    _assert_results_equal(weighted, repeated)


def test_exponential_sample_weight_equals_repetition():
    X = make_exponential_data()
    sw = np.random.default_rng(6).integers(0, 4, size=X.shape[0])
    weights = np.array([0.2, 0.3, 0.5])
    scales = np.array([[1.0, 1.0], [2.0, 0.5], [6.0, 4.0]])
    _assert_results_equal(
        exponential_em_step(X, weights, scales, sample_weight=sw),
        exponential_em_step(np.repeat(X, sw, axis=0), weights, scales),
    )


def test_poisson_sample_weight_equals_repetition():
    X = make_poisson_data()
    sw = np.random.default_rng(7).integers(0, 4, size=X.shape[0])
    weights = np.array([0.3, 0.3, 0.4])
    rates = np.array([[1.0, 4.0, 1.0], [4.0, 2.0, 3.0], [10.0, 8.0, 0.5]])
    _assert_results_equal(
        poisson_em_step(X, weights, rates, sample_weight=sw),
        poisson_em_step(np.repeat(X, sw, axis=0), weights, rates),
    )


def test_unit_sample_weight_equals_none_and_scaling_invariance():
    X = make_poisson_data()
    weights = np.array([0.3, 0.3, 0.4])
    rates = np.array([[1.0, 4.0, 1.0], [4.0, 2.0, 3.0], [10.0, 8.0, 0.5]])
    _assert_results_equal(
        poisson_em_step(X, weights, rates),
        poisson_em_step(X, weights, rates, sample_weight=np.ones(X.shape[0])),
        rtol=0,
    )
    # Scaling all weights by c changes only the total log-likelihood (by c).
    sw = np.random.default_rng(8).uniform(0.1, 2.0, size=X.shape[0])
    a = poisson_em_step(X, weights, rates, sample_weight=sw)
    b = poisson_em_step(X, weights, rates, sample_weight=3.5 * sw)
    for key in ("weights", "rates", "mean_log_likelihood"):
        assert_allclose(a[key], b[key], rtol=1e-12)
    assert_allclose(3.5 * a["log_likelihood"], b["log_likelihood"], rtol=1e-12)


def test_bad_sample_weight_raises():
    X = make_poisson_data()
    weights = np.array([0.5, 0.5])
    rates = np.ones((2, 3))
    with pytest.raises(ValueError):
        poisson_em_step(X, weights, rates, sample_weight=np.ones(3))
    with pytest.raises(ValueError):
        poisson_em_step(X, weights, rates, sample_weight=-np.ones(X.shape[0]))
    with pytest.raises(ValueError):
        gaussian_log_prob(X, np.zeros((2, 3)), np.ones(2), "banana")


# ---------------------------------------------------------------------------
# (3) EM never decreases the log-likelihood


def _assert_non_decreasing(history):
    history = np.asarray(history)
    assert np.all(np.isfinite(history))
    # Allow only floating-point noise.
    tol = 1e-12 * np.maximum(1.0, np.abs(history[:-1]))
    assert np.all(np.diff(history) >= -tol), np.diff(history)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_gaussian_log_likelihood_monotone(covariance_type, weighted):
    X = make_gaussian_data(seed=11)
    sw = np.random.default_rng(12).uniform(0, 3, size=X.shape[0]) if weighted else None
    p = initial_gaussian_params(X, covariance_type, seed=13)
    _, history = run_em(
        gaussian_em_step,
        X,
        p,
        30,
        covariance_type=covariance_type,
        reg_covar=0.0,
        sample_weight=sw,
    )
    assert len(history) == 30
    _assert_non_decreasing(history)
    assert history[-1] > history[0]


@pytest.mark.parametrize("weighted", [False, True])
def test_exponential_log_likelihood_monotone(weighted):
    X = make_exponential_data(seed=14)
    sw = np.random.default_rng(15).uniform(0, 3, size=X.shape[0]) if weighted else None
    p = {
        "weights": np.array([0.3, 0.3, 0.4]),
        "scales": np.array([[1.0, 1.0], [2.0, 0.5], [6.0, 4.0]]),
    }
    params, history = run_em(exponential_em_step, X, p, 30, sample_weight=sw)
    assert set(params) == {"weights", "scales"}
    _assert_non_decreasing(history)
    assert history[-1] > history[0]


@pytest.mark.parametrize("weighted", [False, True])
def test_poisson_log_likelihood_monotone(weighted):
    X = make_poisson_data(seed=16)
    sw = np.random.default_rng(17).uniform(0, 3, size=X.shape[0]) if weighted else None
    p = {
        "weights": np.array([0.3, 0.3, 0.4]),
        "rates": np.array([[1.0, 4.0, 1.0], [4.0, 2.0, 3.0], [10.0, 8.0, 0.5]]),
    }
    params, history = run_em(poisson_em_step, X, p, 30, sample_weight=sw)
    assert set(params) == {"weights", "rates"}
    _assert_non_decreasing(history)
    assert history[-1] > history[0]


# ---------------------------------------------------------------------------
# (4) Log-densities equal hand-written formulas


def test_exponential_log_prob_hand_formula():
    X = make_exponential_data()
    scales = np.array([[1.0, 1.0], [2.0, 0.5], [6.0, 4.0]])
    expected = np.empty((X.shape[0], 3))
    for i in range(X.shape[0]):
        for k in range(3):
            expected[i, k] = sum(
                -np.log(scales[k, d]) - X[i, d] / scales[k, d] for d in range(2)
            )
    assert_allclose(exponential_log_prob(X, scales), expected, rtol=1e-13)


def test_poisson_log_prob_hand_formula():
    X = make_poisson_data()
    rates = np.array([[1.0, 4.0, 1.0], [4.0, 2.0, 3.0], [10.0, 8.0, 0.5]])
    expected = np.empty((X.shape[0], 3))
    for i in range(X.shape[0]):
        for k in range(3):
            expected[i, k] = sum(
                X[i, d] * np.log(rates[k, d]) - rates[k, d] - gammaln(X[i, d] + 1)
                for d in range(3)
            )
    assert_allclose(poisson_log_prob(X, rates), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_gaussian_log_prob_hand_formula(covariance_type):
    X = make_gaussian_data()
    p = initial_gaussian_params(X, covariance_type)
    K, D = p["means"].shape
    covs = p["covariances"]
    expected = np.empty((X.shape[0], K))
    for k in range(K):
        if covariance_type == "full":
            S = covs[k]
        elif covariance_type == "tied":
            S = covs
        elif covariance_type == "diag":
            S = np.diag(covs[k])
        else:
            S = covs[k] * np.eye(D)
        L = np.linalg.cholesky(S)
        z = np.linalg.solve(L, (X - p["means"][k]).T)
        log_det = 2.0 * np.sum(np.log(np.diag(L)))
        expected[:, k] = -0.5 * (D * np.log(2 * np.pi) + log_det + np.sum(z**2, 0))
    got = gaussian_log_prob(X, p["means"], covs, covariance_type)
    assert got.shape == (X.shape[0], K)
    assert_allclose(got, expected, rtol=1e-12)


def test_log_resp_and_norm():
    rng = np.random.default_rng(0)
    log_prob = rng.normal(size=(50, 4)) * 20
    weights = np.array([0.1, 0.2, 0.3, 0.4])
    log_resp, log_norm = log_resp_and_norm(log_prob, weights)
    joint = np.exp(log_prob) * weights
    assert_allclose(log_norm, np.log(joint.sum(1)), rtol=1e-12)
    assert_allclose(np.exp(log_resp), joint / joint.sum(1, keepdims=True), rtol=1e-11)


def test_single_sample_and_single_feature_shapes():
    X = np.array([[0.3]])
    means, variances = np.array([[0.0], [1.0]]), np.array([1.0, 2.0])
    lp = gaussian_log_prob(X, means, variances, "spherical")
    assert lp.shape == (1, 2)
    assert_allclose(lp[0], stats.norm.logpdf(0.3, [0.0, 1.0], np.sqrt([1.0, 2.0])))


# ---------------------------------------------------------------------------
# Mixture moments versus numerical integration


def _mixture_1d_moments(pdf, lo, hi):
    mass = integrate.quad(pdf, lo, hi, limit=200)[0]
    m1 = integrate.quad(lambda x: x * pdf(x), lo, hi, limit=200)[0]
    m2 = integrate.quad(lambda x: x * x * pdf(x), lo, hi, limit=200)[0]
    assert_allclose(mass, 1.0, rtol=1e-8)
    return m1, m2 - m1**2


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_gaussian_mixture_moments_by_quadrature(covariance_type):
    X = make_gaussian_data()
    p = initial_gaussian_params(X, covariance_type)
    mean, cov = gaussian_mixture_moments(**p, covariance_type=covariance_type)
    K, D = p["means"].shape
    assert mean.shape == (D,) and cov.shape == (D, D)
    full = np.array(
        [
            {
                "full": lambda k: p["covariances"][k],
                "tied": lambda k: p["covariances"],
                "diag": lambda k: np.diag(p["covariances"][k]),
                "spherical": lambda k: p["covariances"][k] * np.eye(D),
            }[covariance_type](k)
            for k in range(K)
        ]
    )
    # The projection a^T x of the mixture is a 1-D Gaussian mixture.
    I = np.eye(D)
    for i in range(D):
        for j in range(i, D):
            a = I[i] + (I[j] if j != i else 0.0)
            mu = p["means"] @ a
            sd = np.sqrt(np.einsum("d,kde,e->k", a, full, a))
            pdf = lambda x: np.sum(p["weights"] * stats.norm.pdf(x, mu, sd))
            m1, var = _mixture_1d_moments(pdf, -60, 60)
            assert_allclose(m1, a @ mean, rtol=1e-8, atol=1e-10)
            assert_allclose(var, a @ cov @ a, rtol=1e-8)


def test_exponential_mixture_moments_by_quadrature():
    weights = np.array([0.2, 0.3, 0.5])
    scales = np.array([[1.0, 1.0], [2.0, 0.5], [6.0, 4.0]])
    mean, var = exponential_mixture_moments(weights, scales)
    assert mean.shape == var.shape == (2,)
    for d in range(2):
        pdf = lambda x: np.sum(weights * stats.expon.pdf(x, scale=scales[:, d]))
        m1, v = _mixture_1d_moments(pdf, 0, np.inf)
        assert_allclose([m1, v], [mean[d], var[d]], rtol=1e-8)


def test_poisson_mixture_moments_by_summation():
    weights = np.array([0.3, 0.3, 0.4])
    rates = np.array([[1.0, 4.0, 1.0], [4.0, 2.0, 3.0], [10.0, 8.0, 0.5]])
    mean, var = poisson_mixture_moments(weights, rates)
    assert mean.shape == var.shape == (3,)
    x = np.arange(200)[:, None]
    for d in range(3):
        pmf = stats.poisson.pmf(x, rates[:, d]) @ weights
        m1 = np.sum(x[:, 0] * pmf)
        assert_allclose(pmf.sum(), 1.0, rtol=1e-12)
        v = np.sum(x[:, 0] ** 2 * pmf) - m1**2
        assert_allclose([m1, v], [mean[d], var[d]], rtol=1e-10)


def test_reference_does_not_import_fastem():
    import reference

    with open(reference.__file__) as f:
        source = f.read()
    assert "import fastem" not in source and "from fastem" not in source
