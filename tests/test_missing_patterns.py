"""The pass's table of missingness patterns: each pattern is factored once per pass.

Against NumPy: the scan's patterns and counts, the table's regressions,
log-density terms and conditional covariances, and fits whose patterns are
all, some or none in the table (the others are factored per block), with
patterns shared by many blocks and by every run of the scan.
"""

import math
import warnings

import numba
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import fastem._threading
from fastem import ConvergenceWarning, GaussianMixture
from fastem.kernels import gaussian_missing
from fastem.kernels._tiles import regression_lanes
from fastem.kernels.gaussian_missing import pattern_table, scan_patterns
from reference import gaussian_missing_em_step, run_em


def _keys_by_numpy(X):
    """Patterns (a bit per missing coordinate) and their counts, most frequent first."""
    mask = np.isnan(X)
    keys = (mask.astype(np.int64) << np.arange(X.shape[1])).sum(axis=1)
    keys, counts = np.unique(keys[keys != 0], return_counts=True)
    order = np.lexsort((keys, -counts))
    return keys[order], counts[order]


def _incomplete(rng, n, d, fraction, dtype=np.float64):
    X = rng.normal(size=(n, d)).astype(dtype)
    mask = rng.random((n, d)) < fraction
    mask[mask.all(axis=1), 0] = False
    X[mask] = np.nan
    return X


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [300, 9000])
def test_scan_finds_every_pattern_and_its_count(dtype, n):
    """One run of rows (300) and sixteen (9000): the runs' counts add up."""
    X = _incomplete(np.random.default_rng(0), n, 7, 0.2, dtype)
    keys, counts = scan_patterns(X)
    expected_keys, expected_counts = _keys_by_numpy(X)
    assert len(keys) > 50
    assert_array_equal(keys, expected_keys)
    assert_array_equal(counts, expected_counts)


def test_scan_of_complete_data_is_empty():
    keys, counts = scan_patterns(np.ones((1000, 4)))
    assert keys.shape == counts.shape == (0,)


def _precisions(rng, n_precisions, d):
    factors = rng.normal(size=(n_precisions, d, d))
    return factors @ np.swapaxes(factors, 1, 2) + d * np.eye(d)


LANES = regression_lanes()


def _entries(n_miss, n_precisions, n_components, d):
    """A pattern's entries in the table: terms per precision and regressions in lanes."""
    return n_precisions * (1 + n_miss**2) + n_miss * -(-n_components // LANES) * d * LANES


@pytest.mark.parametrize(
    "n_precisions, n_components",
    [(1, 3), (3, 3), (1, LANES + 1), (LANES + 1, LANES + 1), (2 * LANES, 2 * LANES)],
    ids=["tied", "full", "tied-two-vectors", "full-two-vectors", "full-two-whole-vectors"],
)
def test_table_holds_each_pattern_s_regression_log_density_term_and_covariance(
    n_precisions, n_components
):
    """'tied' (one precision) and 'full', with components for one vector of
    lanes and for two, the second full or holding one component."""
    rng = np.random.default_rng(1)
    d = 6
    X = _incomplete(rng, 2000, d, 0.3)
    keys, _ = scan_patterns(X)
    precisions = _precisions(rng, n_precisions, d)
    means = rng.normal(size=(n_components, d))
    table = pattern_table(keys, d, precisions, means, np.float64)
    assert len(table.coordinates) == len(keys)
    n_vectors = -(-n_components // LANES)
    lane_means = table.lane_means.reshape(n_vectors, d, LANES).transpose(0, 2, 1)
    lane_means = lane_means.reshape(n_vectors * LANES, d)
    assert_array_equal(lane_means[:n_components], means)
    assert not lane_means[n_components:].any()
    for p, key in enumerate(keys):
        miss = np.flatnonzero((key >> np.arange(d)) & 1)
        m = len(miss)
        assert_array_equal(table.coordinates[p, 1 : 1 + m], miss)
        assert table.coordinates[p, 0] == m
        found = table.slots[table.slots[:, 0] == key]
        assert_array_equal(found, [[key, p]])
        size = 1 + m * m
        start = table.regression_offsets[p]
        regressions = table.regressions[start : start + m * n_vectors * d * LANES]
        regressions = regressions.reshape(m, n_vectors, d, LANES).transpose(1, 3, 0, 2)
        regressions = regressions.reshape(n_vectors * LANES, m, d)
        assert not regressions[n_components:].any()
        for k in range(n_components):
            precision = precisions[k if n_precisions > 1 else 0]
            block = precision[np.ix_(miss, miss)]
            regression = np.linalg.solve(block, precision[miss])
            regression[:, miss] = 0.0
            assert_allclose(regressions[k], regression, rtol=1e-12, atol=1e-14)
        for k, precision in enumerate(precisions):
            base = table.offsets[p] + k * size
            block = precision[np.ix_(miss, miss)]
            term = m * 0.5 * math.log(2 * math.pi) - 0.5 * np.linalg.slogdet(block)[1]
            terms = table.terms[base : base + size]
            assert terms[0] == pytest.approx(term, rel=1e-12)
            assert_allclose(terms[1:].reshape(m, m), np.linalg.inv(block), rtol=1e-12)
    absent = np.int64(1 << (d + 1))  # a coordinate the data do not have: no such pattern
    assert absent not in table.slots[:, 0]


def test_table_keeps_the_most_frequent_patterns_within_its_budget():
    rng = np.random.default_rng(2)
    d = 5
    keys, _ = scan_patterns(_incomplete(rng, 3000, d, 0.3))
    precisions = _precisions(rng, 2, d)
    n_miss = np.bitwise_count(keys).astype(np.int64)
    sizes = _entries(n_miss, 2, 2, d)
    budget = int(sizes[:7].sum()) + int(sizes[7]) - 1
    table = pattern_table(keys, d, precisions, np.zeros((2, d)), np.float64, max_entries=budget)
    assert len(table.coordinates) == 7
    assert len(table.terms) + len(table.regressions) == sizes[:7].sum()
    assert set(table.slots[:, 0]) - {0} == set(keys[:7])


def test_table_is_empty_from_63_features_on():
    """From 63 features on, keys no longer tell every pattern apart: no table."""
    rng = np.random.default_rng(3)
    X = _incomplete(rng, 500, 66, 0.05)
    keys, _ = scan_patterns(X)
    assert len(keys) > 0
    table = pattern_table(keys, 66, _precisions(rng, 1, 66), np.zeros((1, 66)), np.float64)
    assert table.coordinates.shape[0] == 0
    assert not table.slots[:, 0].any()
    table = pattern_table(keys, 62, _precisions(rng, 1, 62), np.zeros((1, 62)), np.float64)
    assert table.coordinates.shape[0] == len(keys)


def _mixture(seed, n, d, fraction):
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(3, d))
    labels = rng.integers(0, 3, n)
    X = centres[labels] + rng.normal(size=(n, d))
    mask = rng.random((n, d)) < fraction
    mask[mask.all(axis=1), 0] = False
    X[mask] = np.nan
    return X, rng.uniform(0.2, 3.0, n), centres


def _start(covariance_type, centres):
    rng = np.random.default_rng(4)
    d = centres.shape[1]
    factors = rng.normal(scale=0.3, size=(3, d, d))
    full = factors @ np.swapaxes(factors, 1, 2) + np.eye(d)
    covariances = full if covariance_type == "full" else full[0]
    return np.array([0.3, 0.3, 0.4]), centres + rng.normal(scale=0.5, size=centres.shape), covariances


def _fit(X, w, covariance_type, start, n_iter):
    weights, means, covariances = start
    model = GaussianMixture(
        len(weights), covariance_type=covariance_type, weights_init=weights, means_init=means,
        precisions_init=np.linalg.inv(covariances), max_iter=n_iter, tol=0.0, accelerate=False,
        missing="em",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, sample_weight=w)


@pytest.mark.parametrize("weighted", ["all", "first 4", "none"])
@pytest.mark.parametrize("budget", ["all", "some", "none"])
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_tabled_and_untabled_patterns_follow_the_reference(
    monkeypatch, covariance_type, budget, weighted
):
    """4,500 rows (18 blocks, every run of the scan): each pattern recurs in many
    blocks. With a budget for some patterns only, the others are factored per
    block, in the same blocks as tabled ones. Of the tabled ones, those with
    per-pattern sums add their P_MM^-1 (and for 'tied' their corrections
    per pair of components) once per pass, the others per block."""
    X, w, centres = _mixture(5, 4500, 5, 0.2)
    start = _start(covariance_type, centres)
    keys, _ = scan_patterns(X)
    n_precisions = 3 if covariance_type == "full" else 1
    per_pattern, _ = gaussian_missing.pattern_sums(covariance_type, 3)
    weight_entries = {"all": None, "first 4": 4 * per_pattern, "none": 0}[weighted]
    if weight_entries is not None:
        monkeypatch.setattr(gaussian_missing, "_WEIGHT_ENTRIES", weight_entries)
        assert gaussian_missing.pattern_weight_entries(len(keys), per_pattern) == weight_entries
    n_miss = np.bitwise_count(keys).astype(np.int64)
    entries = {"all": None, "some": int(_entries(n_miss, n_precisions, 3, 5)[:8].sum()),
               "none": 0}[budget]
    if entries is not None:
        monkeypatch.setattr(gaussian_missing, "_TABLE_ENTRIES", entries)
        tabled = len(pattern_table(keys, 5, _precisions(np.random.default_rng(0), n_precisions, 5),
                                   np.zeros((3, 5)), np.float64).coordinates)
        assert tabled == (8 if budget == "some" else 0) and len(keys) > 20
    model = _fit(X, w, covariance_type, start, 3)
    weights, means, covariances = start
    expected, history = run_em(
        gaussian_missing_em_step, X, {"weights": weights, "means": means, "covariances": covariances},
        3, covariance_type=covariance_type, sample_weight=w,
    )
    assert_allclose(model.weights_, expected["weights"], rtol=1e-10)
    assert_allclose(model.means_, expected["means"], rtol=1e-10, atol=1e-12)
    assert_allclose(model.covariances_, expected["covariances"], rtol=1e-10, atol=1e-12)
    assert_allclose(model.lower_bound_, history[-1], rtol=1e-10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_conditional_means_keep_their_precision_beside_a_far_component(covariance_type, dtype):
    """Two components 1e6 standard deviations apart, features correlated 0.9
    within each, the second feature missing in 30% of the rows: the
    conditional means of the near component must not carry roundings of
    the size of the far one (as an intercept and a product each of the
    size of the means' distance would). One EM step against the reference
    on the same (rounded) data, by the kernels in the data's dtype."""
    rng = np.random.default_rng(7)
    covariance = np.array([[1.0, 0.9], [0.9, 1.0]])
    means = np.array([[0.0, 0.0], [1e6, 0.0]])
    X = means[rng.integers(0, 2, 1200)] + rng.multivariate_normal([0, 0], covariance, 1200)
    X[rng.random(1200) < 0.3, 1] = np.nan
    X = X.astype(dtype)
    covariances = np.stack([covariance] * 2) if covariance_type == "full" else covariance
    start = (np.array([0.5, 0.5]), means, covariances)
    model = _fit(X, None, covariance_type, start, 1)
    expected = gaussian_missing_em_step(
        X.astype(np.float64), start[0], means, covariances, covariance_type
    )
    # float32 data rounded to float32 parameters: 1e6 carries 0.06 of rounding.
    atol = {np.float32: (0.07, 2e-5), np.float64: (1e-9, 1e-11)}[dtype]
    assert_allclose(model.means_, expected["means"], rtol=0, atol=atol[0])
    # The near component, whose mean and covariance are of order 1.
    assert_allclose(model.means_[0], expected["means"][0], rtol=0, atol=atol[1])
    assert_allclose(model.covariances_, expected["covariances"], rtol=0, atol=atol[1] * 10)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="one Numba thread only")
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_the_fit_does_not_depend_on_the_number_of_threads(monkeypatch, covariance_type):
    X, w, centres = _mixture(6, 20_000, 5, 0.15)
    kw = dict(covariance_type=covariance_type, random_state=0, max_iter=5, tol=0.0,
              missing="em")
    # Every launch takes the threads it is given, however busy the machine.
    monkeypatch.setattr(fastem._threading, "free_cores", lambda: None)
    threads = numba.get_num_threads()
    fits = []
    try:
        for n_threads in (1, 2):
            numba.set_num_threads(n_threads)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = GaussianMixture(3, **kw).fit(X, sample_weight=w)
            fits.append([model.weights_, model.means_, model.covariances_,
                         model.score_samples(X)])
    finally:
        numba.set_num_threads(threads)
    for got, expected in zip(fits[-1], fits[0]):
        assert_array_equal(got, expected)


def _counting_scans(monkeypatch):
    """Count the scans for patterns that a fit makes (each chunk of each source scanned)."""
    from fastem.families import gaussian

    calls = []

    def counting(X):
        calls.append(X.shape[0])
        return scan_patterns(X)

    monkeypatch.setattr(gaussian, "scan_patterns", counting)
    return calls


def _per_pass_scans(monkeypatch):
    """Every chunk of every pass scans its own rows, as without a source's patterns."""
    monkeypatch.setattr(GaussianMixture, "_pass_context", lambda self, source: None)


def _chunked(X, w, n_parts):
    from fastem import Chunks

    bounds = np.linspace(0, len(X), n_parts + 1).astype(int)
    return Chunks([X[a:b] for a, b in zip(bounds[:-1], bounds[1:])],
                  sample_weights=[w[a:b] for a, b in zip(bounds[:-1], bounds[1:])])


def test_merged_patterns_of_parts_are_those_of_the_whole():
    X = _incomplete(np.random.default_rng(7), 5000, 6, 0.25)
    parts = [scan_patterns(X[a:b]) for a, b in ((0, 1000), (1000, 1001), (1001, 1001), (1001, 5000))]
    keys, counts = gaussian_missing.merge_patterns(parts)
    expected_keys, expected_counts = _keys_by_numpy(X)
    assert_array_equal(keys, expected_keys)
    assert_array_equal(counts, expected_counts)
    keys, counts = gaussian_missing.merge_patterns([])
    assert keys.shape == counts.shape == (0,) and keys.dtype == counts.dtype == np.int64


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("weighted", [False, True])
def test_a_fit_scans_its_data_once_and_fits_as_with_a_scan_per_pass(
    monkeypatch, covariance_type, weighted
):
    """The patterns cannot change between passes: one scan per fit gives the
    fit of one scan per pass, bitwise, whatever the number of restarts."""
    X, w, _ = _mixture(8, 3000, 5, 0.2)
    w = w if weighted else None
    kw = dict(covariance_type=covariance_type, random_state=0, n_init=2, max_iter=6, tol=0.0,
              missing="em")
    calls = _counting_scans(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        once = GaussianMixture(3, **kw).fit(X, sample_weight=w)
        assert calls == [len(X)]
        _per_pass_scans(monkeypatch)
        per_pass = GaussianMixture(3, **kw).fit(X, sample_weight=w)
    assert len(calls) > 12  # 2 x 6 passes, each scanning again
    for name in ("weights_", "means_", "covariances_", "lower_bound_"):
        assert_array_equal(getattr(once, name), getattr(per_pass, name))


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_chunks_with_and_without_nan_are_scanned_once_per_fit(monkeypatch, covariance_type):
    """Chunks, one of them without NaN: the source's patterns serve every chunk,
    and the fit is the in-memory one (1e-10) and that of a scan per chunk per
    pass (bitwise)."""
    X, w, centres = _mixture(9, 3000, 5, 0.2)
    X[1000:2000] = np.nan_to_num(X[1000:2000], nan=1.0)  # the middle chunk complete
    start = _start(covariance_type, centres)
    calls = _counting_scans(monkeypatch)
    chunked = _fit(_chunked(X, w, 3), None, covariance_type, start, 5)
    assert calls == [1000, 1000, 1000]
    in_memory = _fit(X, w, covariance_type, start, 5)
    _per_pass_scans(monkeypatch)
    per_pass = _fit(_chunked(X, w, 3), None, covariance_type, start, 5)
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(getattr(chunked, name), getattr(in_memory, name), rtol=1e-10, atol=1e-12)
        assert_array_equal(getattr(chunked, name), getattr(per_pass, name))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_complete_data_cost_no_scan_per_pass_and_fit_bitwise_as_without_missing(
    monkeypatch, covariance_type, dtype
):
    X, w, _ = _mixture(10, 2000, 4, 0.0)
    X = X.astype(dtype)
    kw = dict(covariance_type=covariance_type, random_state=0, n_init=2, max_iter=5, tol=0.0)
    calls = _counting_scans(monkeypatch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        em = GaussianMixture(3, missing="em", **kw).fit(X, sample_weight=w)
        plain = GaussianMixture(3, **kw).fit(X, sample_weight=w)
        assert calls == [len(X)]
        em.set_params(warm_start=True, n_init=1).fit(X, sample_weight=w)
        plain.set_params(warm_start=True, n_init=1).fit(X, sample_weight=w)
    assert calls == [len(X), len(X)]  # a new fit scans again: the data may have changed
    for name in ("weights_", "means_", "covariances_", "lower_bound_"):
        assert_array_equal(getattr(em, name), getattr(plain, name))


def test_a_new_fit_sees_nan_put_into_the_same_array(monkeypatch):
    """Nothing is kept across fits: NaN written into the array after a fit count in the next."""
    X, _, centres = _mixture(11, 1500, 4, 0.0)
    start = _start("full", centres)
    first = _fit(X, None, "full", start, 3)
    X[::7, 1] = np.nan
    second = _fit(X, None, "full", start, 3)
    expected, _ = run_em(
        gaussian_missing_em_step, X,
        {"weights": start[0], "means": start[1], "covariances": start[2]}, 3,
        covariance_type="full",
    )
    assert not np.allclose(first.means_, second.means_)
    assert_allclose(second.means_, expected["means"], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_partial_fit_batches_with_and_without_nan(monkeypatch, covariance_type):
    """Batches scanned once each: a complete batch updates as with missing='error'
    (bitwise), and the whole sequence is that of a scan per pass (bitwise)."""
    X, w, _ = _mixture(12, 4000, 5, 0.2)
    complete = np.nan_to_num(X[:1000], nan=0.5)
    batches = [(complete, w[:1000]), (X[1000:2500], w[1000:2500]), (complete, None),
               (X[2500:], w[2500:])]
    kw = dict(covariance_type=covariance_type, random_state=0)

    def run(model, sequence):
        for batch, weights in sequence:
            model.partial_fit(batch, sample_weight=weights)
        return model

    calls = _counting_scans(monkeypatch)
    em = run(GaussianMixture(3, missing="em", **kw), batches[:1])
    plain = run(GaussianMixture(3, **kw), batches[:1])
    for name in ("weights_", "means_", "covariances_"):
        assert_array_equal(getattr(em, name), getattr(plain, name))
    run(em, batches[1:])
    assert calls == [len(b) for b, _ in batches]
    assert np.isfinite(em.means_).all() and np.isfinite(em.covariances_).all()
    _per_pass_scans(monkeypatch)
    per_pass = run(GaussianMixture(3, missing="em", **kw), batches)
    for name in ("weights_", "means_", "covariances_"):
        assert_array_equal(getattr(em, name), getattr(per_pass, name))


def test_dask_blocks_are_scanned_once_per_fit(monkeypatch):
    da = pytest.importorskip("dask.array")
    X, w, centres = _mixture(13, 3000, 5, 0.2)
    X[:1000] = np.nan_to_num(X[:1000], nan=1.0)  # the first block complete
    start = _start("full", centres)
    calls = _counting_scans(monkeypatch)
    lazy = _fit(da.from_array(X, chunks=(1000, 5)), da.from_array(w, chunks=1000), "full", start, 5)
    assert sorted(calls) == [1000, 1000, 1000]
    in_memory = _fit(X, w, "full", start, 5)
    for name in ("weights_", "means_", "covariances_"):
        assert_allclose(getattr(lazy, name), getattr(in_memory, name), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_block_scratch_views_are_disjoint_and_past_the_complete_data_rows(dtype):
    """Each view of :func:`_pattern_scratch` (the completed copies, the grouping's
    vectors, the factor, ...) has bytes of its own, inside the work rows that
    ``missing_work_rows`` sizes and past the rows the complete-data blocks use."""
    from fastem._config import BLOCK_SIZE
    from fastem.kernels.gaussian import work_rows

    for n_features in range(1, 131):
        for n_components in (1, 8, 9, 70):
            work = np.zeros(
                (gaussian_missing.missing_work_rows(n_features, n_components), BLOCK_SIZE),
                dtype=dtype,
            )
            views = gaussian_missing._pattern_scratch.py_func(work, n_features, n_components)
            start = work.__array_interface__["data"][0]
            first = start + work_rows(n_features) * BLOCK_SIZE * work.itemsize
            spans = sorted(
                (v.__array_interface__["data"][0], v.__array_interface__["data"][0] + v.nbytes)
                for v in views
            )
            # the last view (the inverse, D x D) whole: a short scratch would cut it
            assert views[-1].size == n_features**2, (n_features, n_components)
            assert spans[0][0] >= first, (n_features, n_components)
            assert spans[-1][1] <= start + work.nbytes, (n_features, n_components)
            for (_, end), (begin, _) in zip(spans, spans[1:]):
                assert end <= begin, (n_features, n_components)
