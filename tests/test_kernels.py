"""The fused E-step and the Gaussian blocks against the plain NumPy/SciPy reference.

Every output of the kernel is checked: the per-point log-likelihood
(``score_samples``), the labels (``predict``), the responsibilities
(``predict_proba``) and the statistics vector (``summarize``: sum of weights,
log-likelihood, nk, sx, sxx), for the four covariance types, float32 and
float64, with and without sample weights. Sizes are chosen so that the data
span several blocks and partitions and end in a partial block.

Tolerances: float64 ``rtol=1e-10``; float32 ``1e-4`` relative to the largest
magnitude of the compared quantity (the kernel computes in float32 and sums in
float64).
"""

import warnings

import numba
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.mixture import GaussianMixture as SkGaussianMixture

from fastem import GaussianMixture
from fastem._config import BLAS_MIN_FEATURES, BLOCK_SIZE, FASTMATH, SPARSE_MIN_FEATURES, TILE_MIN_FEATURES
from fastem._threading import read_only, read_only_fields
from fastem.kernels import _fused
from fastem.kernels._fused import _block_signatures, family_blocks
from fastem.kernels.gaussian import (
    WIDE_MIN_FEATURES,
    FullParams,
    TiedParams,
    _full_accumulate,
    _full_accumulate_entry,
    _full_accumulate_narrow_entry,
    _full_log_prob,
    _full_log_prob_entry,
    _full_log_prob_narrow_entry,
    _tied_accumulate,
    _tied_accumulate_entry,
    _tied_accumulate_narrow_entry,
    _tied_log_prob,
    _tied_log_prob_entry,
    _tied_log_prob_narrow_entry,
)
from reference import (
    COVARIANCE_TYPES,
    gaussian_em_step,
    gaussian_log_prob,
    gaussian_missing_em_step,
    log_resp_and_norm,
)

N_SAMPLES = 5 * BLOCK_SIZE + 37
TOL = {np.float64: 1e-10, np.float32: 1e-4}


def _mixture_data(n_samples, n_features, n_components, seed, offset=10.0):
    """Points from a mixture centred away from the origin, and starting parameters."""
    rng = np.random.default_rng(seed)
    centres = offset + rng.normal(scale=3.0, size=(n_components, n_features))
    labels = rng.integers(n_components, size=n_samples)
    X = centres[labels] + rng.normal(size=(n_samples, n_features)) * rng.uniform(
        0.5, 1.5, size=n_features
    )
    means = centres + 0.3 * rng.normal(size=centres.shape)
    return X, means, rng


def _precisions_init(covariance_type, n_components, n_features, rng):
    """Random valid precisions of scikit-learn's shape for the covariance type."""
    if covariance_type in ("full", "tied"):
        n = n_components if covariance_type == "full" else 1
        a = rng.normal(size=(n, n_features, n_features)) / np.sqrt(n_features)
        p = a @ np.swapaxes(a, 1, 2) + 0.5 * np.eye(n_features)
        return p if covariance_type == "full" else p[0]
    shape = (n_components, n_features) if covariance_type == "diag" else (n_components,)
    return rng.uniform(0.5, 2.0, size=shape)


def _model_at(X, means, rng, covariance_type, dtype):
    """A fastem model set to given parameters without any EM iteration."""
    n_components, n_features = means.shape
    weights = rng.dirichlet(np.full(n_components, 3.0))
    model = GaussianMixture(
        n_components,
        covariance_type=covariance_type,
        max_iter=0,
        weights_init=weights,
        means_init=means,
        precisions_init=_precisions_init(covariance_type, n_components, n_features, rng),
        random_state=0,
    )
    return model.fit(X.astype(dtype))


def _reference_outputs(model, X, sample_weight):
    """Log-likelihoods, responsibilities and statistics from tests/reference.py."""
    X = np.asarray(X, dtype=np.float64)
    means = np.asarray(model.means_, dtype=np.float64)
    covariances = np.asarray(model.covariances_, dtype=np.float64)
    log_prob = gaussian_log_prob(X, means, covariances, model.covariance_type)
    log_resp, log_norm = log_resp_and_norm(log_prob, np.asarray(model.weights_, np.float64))
    resp = np.exp(log_resp)
    w = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    R = w[:, None] * resp
    d = X[:, None, :] - means[None, :, :]  # (N, K, D)
    sx = np.einsum("nk,nkd->kd", R, d)
    if model.covariance_type == "full":
        sxx = np.tril(np.einsum("nk,nki,nkj->kij", R, d, d))
    elif model.covariance_type == "tied":
        # The within-component scatter, summed over the components.
        sxx = np.einsum("nk,nki,nkj->ij", R, d, d)
    else:
        sxx = np.einsum("nk,nkd->kd", R, d * d)
    stats = {
        "n_samples": w.sum(),
        "log_likelihood": np.dot(w, log_norm),
        "nk": R.sum(axis=0),
        "sx": sx,
        "sxx": sxx,
    }
    return log_norm, resp, stats


def _close(actual, desired, dtype, what):
    """Compare at rtol for float64, at a tolerance relative to the scale for float32."""
    desired = np.asarray(desired, dtype=np.float64)
    tol = TOL[dtype]
    if dtype == np.float64:
        assert_allclose(actual, desired, rtol=tol, atol=tol * np.max(np.abs(desired)) * 1e-3,
                        err_msg=what)
    else:
        assert_allclose(actual, desired, rtol=0, atol=tol * np.max(np.abs(desired)), err_msg=what)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
# 11 features: the block is transposed in 8 x 8 tiles plus 3 single columns,
# and the last, partial block has a tail of 37 % 8 points. From
# TILE_MIN_FEATURES features on, 'full' and 'tied' run the register-tiled
# micro-kernels (one more feature: a last panel and tile that overlap the
# ones before), and from BLAS_MIN_FEATURES on
# 'tied' maps float64 blocks through BLAS.
@pytest.mark.parametrize(
    "n_features, n_components",
    [(3, 4), (11, 3), (TILE_MIN_FEATURES + 1, 2), (BLAS_MIN_FEATURES + 1, 2)],
)
def test_kernel_outputs_match_reference(
    covariance_type, dtype, weighted, n_features, n_components
):
    X, means, rng = _mixture_data(N_SAMPLES, n_features, n_components, seed=1)
    sample_weight = rng.uniform(0, 3, size=N_SAMPLES) if weighted else None
    model = _model_at(X, means, rng, covariance_type, dtype)
    Xd = X.astype(dtype)
    log_norm, resp, stats = _reference_outputs(model, Xd, sample_weight)

    _close(model.score_samples(Xd), log_norm, dtype, "score_samples")
    proba = model.predict_proba(Xd)
    assert proba.dtype == dtype
    _close(proba, resp, dtype, "predict_proba")
    labels = model.predict(Xd)
    # Points whose two best components are closer than the tolerance may flip.
    top2 = np.sort(resp, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > 10 * TOL[dtype]
    assert_array_equal(labels[clear], resp.argmax(axis=1)[clear])

    summary = model.summarize(Xd, sample_weight=sample_weight)
    _close(summary.n_samples, stats["n_samples"], dtype, "n_samples")
    _close(summary.log_likelihood, stats["log_likelihood"], dtype, "log_likelihood")
    _close(summary.nk, stats["nk"], dtype, "nk")
    _close(summary.moments["sx"], stats["sx"], dtype, "sx")
    sxx = summary.moments["sxx"]
    if model.covariance_type == "tied":  # kept around each point's centre, plus pairs of means
        sxx = model._tied_scatter(sxx, summary.moments["pairs"], np.asarray(model.means_, np.float64))
    _close(sxx, stats["sxx"], dtype, "sxx")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_components", [1, 2, 3, 40, 1000])
@pytest.mark.parametrize("identical", [False, True])
def test_a_pass_s_log_likelihood_is_the_sum_of_the_points_own(dtype, n_components, identical):
    """Without per-point outputs, the pass takes the logs of products of the points'
    sums of exponentials (``_sum_of_logs``). Its log-likelihood is the reference's,
    and the sum of the points' own (``score_samples``), also for identical components,
    where every point's sum is K: the largest products, which must not overflow (1000
    components: 1000 ** 256 would)."""
    X, means, rng = _mixture_data(N_SAMPLES, 2, n_components, seed=4)
    Xd = X.astype(dtype)
    if identical:
        means = np.broadcast_to(means[0], means.shape).copy()
    model = GaussianMixture(
        n_components, covariance_type="spherical", max_iter=0,
        weights_init=np.full(n_components, 1.0 / n_components), means_init=means,
        precisions_init=np.full(n_components, 0.5), random_state=0,
    ).fit(Xd)
    log_norm, _, _ = _reference_outputs(model, Xd, None)
    log_likelihood = model.summarize(Xd).log_likelihood
    assert np.isfinite(log_likelihood)
    _close(log_likelihood, log_norm.sum(), dtype, "log_likelihood")
    _close(log_likelihood, model.score_samples(Xd).astype(np.float64).sum(), dtype, "sum of score_samples")


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_responsibilities_below_the_smallest_normal_number_are_zero(covariance_type, dtype):
    # Two unit-variance components 10 apart along the first feature: the log
    # of the second one's responsibility runs linearly from about -850 to 0
    # along the points, through the subnormal range of both dtypes
    # (-745..-708 and -104..-87). Subnormal numbers are set to 0 by the
    # kernel (they made a 'full' pass at 64 features ten times slower); the
    # responsibilities at or above the smallest normal number and the
    # statistics agree with the reference, which keeps the subnormal ones.
    rng = np.random.default_rng(4)
    n = 4 * BLOCK_SIZE + 9
    X = np.column_stack([np.linspace(-80.0, 5.0, n), rng.normal(size=n)])
    means = np.array([[0.0, 0.0], [10.0, 0.0]])
    precisions = {"full": np.stack([np.eye(2)] * 2), "tied": np.eye(2),
                  "diag": np.ones((2, 2)), "spherical": np.ones(2)}[covariance_type]
    model = GaussianMixture(2, covariance_type=covariance_type, max_iter=0,
                            weights_init=[0.5, 0.5], means_init=means,
                            precisions_init=precisions).fit(X.astype(dtype))
    Xd = X.astype(dtype)
    _, resp, stats = _reference_outputs(model, Xd, None)
    tiny = np.finfo(dtype).tiny
    assert np.any((resp > 0) & (resp < tiny)), "the data must reach the subnormal range"

    proba = model.predict_proba(Xd)
    assert not np.any((proba > 0) & (proba < tiny))
    normal = resp >= 2 * tiny
    assert np.all(proba[normal] > 0)
    _close(proba, np.where(resp < tiny, 0.0, resp), dtype, "predict_proba")
    summary = model.summarize(Xd)
    _close(summary.nk, stats["nk"], dtype, "nk")
    _close(summary.moments["sx"], stats["sx"], dtype, "sx")


def _separated_blocks(n_features, rng):
    """Points of three unit-variance components 60 apart, composed block by block.

    Component k's points have responsibility exactly 0 for the others (in
    both dtypes), except points half-way between components 0 and 1, which
    one or both of them weigh. Per
    block of BLOCK_SIZE points, a component holds none, one, a quarter, a
    quarter plus one, half, all but a few, or all of the points, in
    shuffled order, then comes a last partial block. Returns X and the
    components' centres.
    """
    B = BLOCK_SIZE
    centres = 10.0 + np.zeros((3, n_features))
    centres[:, 0] += [0.0, 60.0, 120.0]
    blocks = [
        np.zeros(B),
        np.r_[1, np.zeros(B - 1)],
        np.r_[np.ones(B // 4), np.full(B - B // 4, 2)],
        np.r_[np.ones(B // 4 + 1), np.full(B - B // 4 - 1, 2)],
        np.r_[np.ones(B // 2), np.full(B // 2, 2)],
        np.r_[np.full(20, 0.5), np.full(B - 20, 2)],  # 0.5: half-way between 0 and 1
        rng.choice([0, 1, 2, 0.5], size=37),
    ]
    place = np.concatenate([rng.permutation(b) for b in blocks])
    X = rng.normal(size=(place.size, n_features)) + 10.0
    X[:, 0] += 60.0 * place
    return X, centres


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("missing", [False, True])
def test_points_of_zero_responsibility_are_skipped_exactly(dtype, weighted, missing):
    # From SPARSE_MIN_FEATURES features on, a 'full' component's statistics
    # of a block skip the points whose responsibility for it is exactly 0,
    # gathering the others when they are at most a quarter of the block. One
    # EM step must equal the reference's, whatever the block's composition.
    rng = np.random.default_rng(7)
    n_features = SPARSE_MIN_FEATURES + 1
    X, centres = _separated_blocks(n_features, rng)
    if missing:  # holes in every feature but the first, which separates the components
        holes = rng.random(X.shape) < 0.1
        holes[:, 0] = False
        X[holes] = np.nan
    sample_weight = rng.uniform(0.5, 2.0, size=X.shape[0]) if weighted else None
    weights = np.array([0.3, 0.3, 0.4])
    covariances = np.stack([np.eye(n_features) * s for s in (1.0, 1.5, 0.8)])
    model = GaussianMixture(
        3, covariance_type="full", weights_init=weights, means_init=centres + 0.2,
        precisions_init=np.linalg.inv(covariances), max_iter=1, tol=0.0, accelerate=False,
        missing="em" if missing else "error",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one step does not converge
        model.fit(X.astype(dtype), sample_weight=sample_weight)
    step = gaussian_missing_em_step if missing else gaussian_em_step
    expected = step(X.astype(dtype), weights, centres + 0.2, covariances, "full",
                    sample_weight=sample_weight)
    # float32 data, float64 sums: only the responsibilities are rounded, so
    # a tolerance relative to each entry (a point dropped from a block moves
    # the means and covariances by 1e-5 relative and more).
    rtol = 1e-10 if dtype == np.float64 else 1e-6
    for name in ("weights", "means", "covariances"):
        assert_allclose(getattr(model, name + "_"), expected[name], rtol=rtol,
                        atol=rtol * np.abs(expected[name]).max() * 1e-3, err_msg=name)


@pytest.mark.parametrize("n", [1, 3, 4, 5, 37, BLOCK_SIZE])
def test_points_are_gathered_when_at_most_a_quarter_is_weighted(n):
    from fastem.kernels.gaussian import _weighted_points

    rng = np.random.default_rng(n)
    for m in range(n + 1):
        resp = np.zeros(n)
        chosen = np.sort(rng.choice(n, size=m, replace=False))
        resp[chosen] = rng.uniform(0.1, 1.0, size=m)
        points = np.full(2 * BLOCK_SIZE, -1, dtype=np.int32)
        count = _weighted_points(resp, n, points)
        if 4 * m <= n:
            assert count == m
            assert_array_equal(points[:m], chosen)
        else:
            assert count == n
            assert np.all(points == -1), "the dense path leaves the indices alone"


@pytest.mark.parametrize("n_samples", [1, BLOCK_SIZE - 1, BLOCK_SIZE, 64 * BLOCK_SIZE + 3])
def test_every_block_and_partition_is_counted(n_samples):
    X, means, rng = _mixture_data(n_samples + 10, 2, 3, seed=2)
    model = _model_at(X, means, rng, "diag", np.float64)
    X = X[:n_samples]
    _, resp, stats = _reference_outputs(model, X, None)
    summary = model.summarize(X)
    assert summary.n_samples == n_samples
    assert_allclose(summary.nk, stats["nk"], rtol=1e-10)
    assert_allclose(summary.log_likelihood, stats["log_likelihood"], rtol=1e-10)


def _fit(X, means, covariance_type, n_iter, estimator=GaussianMixture, **kw):
    n_components = means.shape[0]
    rng = np.random.default_rng(3)
    model = estimator(
        n_components,
        covariance_type=covariance_type,
        max_iter=n_iter,
        tol=0,
        weights_init=np.full(n_components, 1 / n_components),
        means_init=means,
        precisions_init=_precisions_init(covariance_type, n_components, X.shape[1], rng),
        **kw,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tol=0 never converges: the warning is expected
        return model.fit(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_fit_stays_float32_and_matches_float64(covariance_type):
    X, means, _ = _mixture_data(3000, 3, 3, seed=4, offset=5.0)
    fit64 = _fit(X, means, covariance_type, 10)
    fit32 = _fit(X.astype(np.float32), means, covariance_type, 10)
    for name in ("weights_", "means_", "covariances_", "precisions_cholesky_", "precisions_"):
        value32 = getattr(fit32, name)
        value64 = getattr(fit64, name)
        assert value32.dtype == np.float32, name
        assert_allclose(value32, value64, rtol=0, atol=1e-4 * np.max(np.abs(value64)),
                        err_msg=name)
    assert_allclose(fit32.lower_bound_, fit64.lower_bound_, rtol=1e-5)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n_samples, n_features, n_components", [(2000, 2, 3), (700, 5, 4)])
def test_twenty_iterations_match_scikit_learn(covariance_type, n_samples, n_features, n_components):
    X, means, _ = _mixture_data(n_samples, n_features, n_components, seed=5, offset=2.0)
    ours = _fit(X, means, covariance_type, 20, accelerate=False)
    theirs = _fit(X, means, covariance_type, 20, estimator=SkGaussianMixture)
    for name in ("weights_", "means_", "covariances_", "precisions_"):
        assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-10,
                        atol=1e-12, err_msg=name)
    assert_allclose(ours.lower_bound_, theirs.lower_bound_, rtol=1e-10)


def test_stale_kernel_cache_directories_are_pruned(tmp_path):
    """Cache directories of other kernel sources go once unused for a day; nothing else does."""
    import os
    import time

    from fastem.kernels import _cache

    dirs = {name: tmp_path / name for name in ("fastem-current", "fastem-old", "fastem-recent", "other")}
    for path in dirs.values():
        path.mkdir()
        (path / "kernel.nbi").write_bytes(b"")
    past = time.time() - _cache.STALE_SECONDS - 60
    for name in ("fastem-current", "fastem-old", "other"):
        os.utime(dirs[name], (past, past))
    _cache.prune_stale(str(tmp_path), str(dirs["fastem-current"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fastem-current", "fastem-recent", "other"]
    _cache.prune_stale(str(tmp_path / "missing"), "")  # an absent parent is not an error


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_scratch_sections_start_on_pages(dtype):
    from fastem.kernels._fused import _PAGE_BYTES, _scratch_sections, fused_scratch

    buf = fused_scratch(7, 3, np.int32(5), 9, dtype)
    sections = _scratch_sections(3, 5, 9, np.dtype(dtype).itemsize)
    slot = sections[4]
    # a slot per partition or per thread Numba may run, whichever are fewer
    n_slots = min(7, numba.config.NUMBA_NUM_THREADS)
    assert buf.dtype == dtype and buf.shape == (n_slots * slot,)
    assert fused_scratch(1, 3, 5, 9, dtype).shape == (slot,)
    for thread in range(n_slots):
        for offset, rows in zip(sections[:4], (3, 5, 3, 9)):
            assert buf[thread * slot + offset :].ctypes.data % _PAGE_BYTES == 0
            assert offset + rows * BLOCK_SIZE <= slot


@numba.njit
def _matrix_of(buffer, start, n_rows, n_cols, as_float64):
    if as_float64:
        return _fused._matrix(buffer, start, n_rows, n_cols, np.float64).copy()
    return _fused._matrix(buffer, start, n_rows, n_cols, buffer.dtype).astype(np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matrix_views_the_buffer_as_reshape_and_view_do(dtype):
    """The kernels' scratch views (``_matrix``) are the NumPy views they stand for, and
    one that does not fit in its buffer raises instead of reading past it, also where
    its size in bytes overflows."""
    buffer = np.arange(2 * 40, dtype=dtype).reshape(2, 40)  # the rows of a work array
    flat = buffer.reshape(-1)
    assert_array_equal(_matrix_of(buffer, 6, 3, 5, False), flat[6:21].reshape(3, 5))
    # float64 rows over float32 ones: two items each (4 x 8 of them from item 10 on)
    start, rows = (10, flat[10:74]) if dtype == np.float32 else (10, flat[10:42])
    assert_array_equal(_matrix_of(buffer, start, 4, 8, True), rows.view(np.float64).reshape(4, 8))
    assert _matrix_of(buffer, 80, 0, 5, False).shape == (0, 5)
    for start, n_rows, n_cols in (
        (0, 9, 9), (-1, 1, 1), (79, 1, 2), (0, -1, 1), (81, 0, 0),
        # counts whose products in bytes wrap around 2**64
        (0, 2**61, 4), (0, 2**62, 2), (0, 1, 2**61 + 1), (0, 0, 2**62), (2**62, 1, 1), (2**61, 0, 1),
    ):
        with pytest.raises(ValueError, match="does not fit"):
            _matrix_of(buffer, start, n_rows, n_cols, False)


def _exact_float32_data(n_features, seed):
    """float32 data whose centred terms are exact, and dyadic weights spanning 2^-12..2^12.

    Integers within 2000 of 1e6 (a large common offset against a small spread)
    and weights that are powers of two make every term of every statistic
    (``w``, ``w d``, ``w d d^T`` with ``d = x - 1e6``, ``w x``) exactly
    representable in float64, so float64 sums of them are exact in any order,
    while a float32 sum of one block of 256 of them is not.
    """
    rng = np.random.default_rng(seed)
    n_samples = 8 * BLOCK_SIZE + 37
    X = (1e6 + rng.integers(-2000, 2001, size=(n_samples, n_features))).astype(np.float32)
    sample_weight = 2.0 ** rng.integers(-12, 13, size=n_samples)
    return X, sample_weight


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_float32_statistics_are_summed_in_float64(covariance_type):
    """Block sums of float32 terms are exact where float64 sums are, float32 ones are not.

    With one component every responsibility equals the point's weight
    exactly, so the kernel's statistics must equal the reference's bit for
    bit; and the log-likelihood must be the float64 sum of the per-point
    values that ``score_samples`` returns.
    """
    n_features = 3
    X, sample_weight = _exact_float32_data(n_features, seed=11)
    precisions = {"full": np.eye(n_features)[None] / 4e6, "tied": np.eye(n_features) / 4e6,
                  "diag": np.full((1, n_features), 1 / 4e6), "spherical": np.full(1, 1 / 4e6)}
    model = GaussianMixture(
        1, covariance_type=covariance_type, max_iter=0, means_init=np.full((1, n_features), 1e6),
        precisions_init=precisions[covariance_type],
    ).fit(X)
    assert model.means_.dtype == np.float32 and not model._computes_in_float64(np.float32)
    _, resp, stats = _reference_outputs(model, X, sample_weight)
    assert_array_equal(resp, 1.0)

    summary = model.summarize(X, sample_weight=sample_weight)
    assert summary.n_samples == stats["n_samples"]
    assert_array_equal(summary.nk, stats["nk"])
    assert_array_equal(summary.moments["sx"], stats["sx"])
    lower = np.tril_indices(n_features)
    sxx = summary.moments["sxx"]
    if covariance_type in ("full", "tied"):
        assert_array_equal(sxx.reshape(-1, n_features, n_features)[:, lower[0], lower[1]],
                           stats["sxx"].reshape(-1, n_features, n_features)[:, lower[0], lower[1]])
    else:
        assert_array_equal(sxx.reshape(stats["sxx"].shape), stats["sxx"])
    per_point = model.score_samples(X)
    assert_allclose(summary.log_likelihood, np.dot(sample_weight, per_point), rtol=1e-14)


@pytest.mark.parametrize("family", ["exponential", "poisson"])
def test_float32_first_moments_of_other_families_are_summed_in_float64(family):
    from fastem import ExponentialMixture, PoissonMixture

    X, sample_weight = _exact_float32_data(2, seed=12)
    if family == "exponential":
        model = ExponentialMixture(1, max_iter=0, scales_init=np.full((1, 2), 1e6))
    else:
        model = PoissonMixture(1, max_iter=0, rates_init=np.full((1, 2), 1e6))
    model.fit(X)
    summary = model.summarize(X, sample_weight=sample_weight)
    assert_array_equal(summary.nk, [sample_weight.sum()])
    assert_array_equal(summary.moments["sx"].ravel(), sample_weight @ X.astype(np.float64))
    assert_allclose(summary.log_likelihood, np.dot(sample_weight, model.score_samples(X)),
                    rtol=1e-14)


def _fresh_compile(block, params, X, *extra):
    """``block`` compiled anew (not loaded from the disk cache, which keeps neither LLVM
    nor typing) for the arguments the partition passes, and ``extra`` after them.
    Returns the dispatcher and the signature."""
    log_prob_types, accumulate_types = _block_signatures(params, X)
    head = accumulate_types if "accumulate" in block.py_func.__name__ else log_prob_types
    fresh = numba.njit(cache=False, fastmath=FASTMATH)(block.py_func)
    signature = (*head, *(numba.typeof(e) for e in extra))
    fresh.compile(signature)
    return fresh, signature


def _fresh_llvm(block, params, X, wide):
    """The LLVM of ``block`` compiled anew for the partition's arguments and a ``wide`` of that type."""
    fresh, signature = _fresh_compile(block, params, X, wide)
    return fresh.inspect_llvm(signature)


def _wide_passed(entry, params, X):
    """The type of the ``wide`` that ``entry`` passes to its block, as Numba types the call."""
    fresh, signature = _fresh_compile(entry, params, X)
    calls = fresh.overloads[signature].type_annotation.calltypes.values()
    (call,) = [c for c in calls if c is not None and len(c.args) == len(signature) + 1]
    return call.args[-1]


@pytest.mark.parametrize(
    "covariance_type, blocks",
    [
        ("full", {_full_log_prob: "mahalanobis_block", _full_accumulate: "scatter_block"}),
        ("tied", {_tied_log_prob: "xxgemm", _tied_accumulate: "scatter_block"}),
    ],
)
def test_blocks_of_few_features_hold_their_plain_loops_alone(covariance_type, blocks):
    """Below WIDE_MIN_FEATURES features the family's blocks are its ``few_features``
    entries, which pass ``wide=None``: Numba prunes the tiled and BLAS loops from those
    blocks (fewer to compile); the other entries pass True, and the blocks hold them."""
    params_class = {"full": FullParams, "tied": TiedParams}[covariance_type]
    entries = {
        "full": (_full_log_prob_entry, _full_accumulate_entry,
                 _full_log_prob_narrow_entry, _full_accumulate_narrow_entry),
        "tied": (_tied_log_prob_entry, _tied_accumulate_entry,
                 _tied_log_prob_narrow_entry, _tied_accumulate_narrow_entry),
    }[covariance_type]
    for n_features in (1, WIDE_MIN_FEATURES - 1):
        assert family_blocks(params_class, n_features) == entries[2:]
    for n_features in (WIDE_MIN_FEATURES, BLAS_MIN_FEATURES):
        assert family_blocks(params_class, n_features) == entries[:2]
    X, means, rng = _mixture_data(N_SAMPLES, BLAS_MIN_FEATURES, 2, seed=3)
    params = _model_at(X, means, rng, covariance_type, np.float64)._kernel_params(np.float64)
    general = {numba.types.boolean, numba.types.literal(True)}
    for entry, passes in zip(entries, (general, general, {numba.types.none}, {numba.types.none})):
        assert _wide_passed(entry, params, X) in passes
    for block, wide_loop in blocks.items():
        assert wide_loop not in _fresh_llvm(block, params, X, None)
        assert wide_loop in _fresh_llvm(block, params, X, True)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_the_fused_e_step_runs_the_blocks_for_the_data_s_number_of_features(
    monkeypatch, covariance_type
):
    """Each call runs the blocks ``family_blocks`` gives for the data's number of features,
    whatever the process ran before: the table of addresses is kept per number of
    features, so data of 11 features then 12 then 11 take the narrow, general and narrow
    blocks (the types of the arguments alone are the same for all three)."""
    monkeypatch.setattr(_fused, "_ADDRESSES", {})
    run = []
    addresses = _fused.kernel_addresses
    monkeypatch.setattr(
        _fused, "kernel_addresses", lambda cached, args: run.append(addresses(cached, args)) or run[-1]
    )
    for n_features in (WIDE_MIN_FEATURES - 1, WIDE_MIN_FEATURES, WIDE_MIN_FEATURES - 1):
        X, means, rng = _mixture_data(N_SAMPLES, n_features, 2, seed=n_features)
        model = _model_at(X, means, rng, covariance_type, np.float64)
        run.clear()
        model.summarize(X)
        params = read_only_fields(model._kernel_params(np.float64))  # as launch_e_step
        view = read_only(X)  # as the launch passes the data
        expected = tuple(
            _fused._address(block, types)
            for block, types in zip(family_blocks(type(params), n_features), _block_signatures(params, view))
        )
        assert run and all(blocks == expected for _, blocks in run)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocks_of_few_features_give_the_bits_of_the_general_ones(monkeypatch, covariance_type, dtype):
    """The plain loops alone are the loops the general blocks run below
    WIDE_MIN_FEATURES features: the same outputs, bit for bit."""
    X, means, rng = _mixture_data(N_SAMPLES, WIDE_MIN_FEATURES - 1, 3, seed=5)
    weights = rng.uniform(0, 3, size=N_SAMPLES)
    model = _model_at(X, means, rng, covariance_type, dtype)
    Xd = X.astype(dtype)

    def outputs():
        summary = model.summarize(Xd, sample_weight=weights)
        return [model.score_samples(Xd), model.predict_proba(Xd), summary.log_likelihood,
                summary.nk, *summary.moments.values()]

    few = outputs()
    params_class = type(model._kernel_params(dtype))
    monkeypatch.setitem(_fused._FAMILY_KERNELS, params_class, _fused._FAMILY_KERNELS[params_class][:3] + (None,))
    monkeypatch.setattr(_fused, "_ADDRESSES", {})
    general = family_blocks(params_class, WIDE_MIN_FEATURES - 1)
    assert general == _fused._FAMILY_KERNELS[params_class][:2]
    for a, b in zip(few, outputs()):
        assert_array_equal(a, b)
