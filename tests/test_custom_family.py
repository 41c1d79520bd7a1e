"""A family defined outside fastem, through the public protocol alone.

The Bernoulli mixture below (binary features, independent within a
component) is written the way docs/families.md says a new family is written:
a params NamedTuple and two block functions registered with
``register_family_kernels``, and a ``BaseMixture`` subclass that fills the
hooks. The tests then use the driver as is: initialisation, restarts,
convergence, prediction, sampling, sample weights, summaries and the data
checks. Nothing in fastem knows about this family.
"""

import re
from typing import NamedTuple

import numba
import numpy as np
import pytest
from numba import njit
from numba.typed import List as typed_list
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats
from scipy.special import logsumexp

from fastem import BaseMixture
from fastem.kernels import _fused, prefetch_next, register_family_kernels, registered_families


# Probabilities are kept in [FLOOR, 1 - FLOOR] so that log p and log(1 - p)
# stay finite when a component's points all agree on a feature.
FLOOR = 1e-6


class BernoulliParams(NamedTuple):
    log_p: np.ndarray  # (n_components, n_features), log of the probability of a 1
    log_q: np.ndarray  # (n_components, n_features), log of the probability of a 0


@njit(cache=False)
def bernoulli_log_prob(params, xt, n, log_prob, work, prefetch):
    n_components, n_features = params.log_p.shape
    for k in range(n_components):
        prefetch_next(prefetch)
        out = log_prob[k]
        for i in range(n):
            out[i] = 0
        for j in range(n_features):
            a = params.log_p[k, j]
            b = params.log_q[k, j]
            x = xt[j]
            for i in range(n):
                out[i] += b + x[i] * (a - b)


@njit(cache=False)
def bernoulli_accumulate(params, xt, n, resp, work, stats, prefetch):
    n_components, n_features = params.log_p.shape
    for k in range(n_components):
        prefetch_next(prefetch)
        for j in range(n_features):
            s = 0.0
            for i in range(n):
                s += resp[k, i] * xt[j, i]
            stats[k * n_features + j] += s


register_family_kernels(
    BernoulliParams, bernoulli_log_prob, bernoulli_accumulate, cache=False,
    shapes={"log_p": ("n_components", "n_features"), "log_q": ("n_components", "n_features")},
)


class BernoulliMixture(BaseMixture):
    """Mixture of independent Bernoulli features; ``probabilities_`` is (K, D)."""

    _parameter_names = ("weights_", "probabilities_")

    def _set_probabilities(self, p):
        self.probabilities_ = np.clip(p, FLOOR, 1 - FLOOR).astype(self._dtype)

    def _check_data(self, X):
        bad = (X != 0) & (X != 1)
        if bad.any():
            raise ValueError(
                f"BernoulliMixture models binary data, but X has {int(bad.sum())} value(s) "
                f"other than 0 and 1, e.g. {float(X[bad][0])!r}. Binarise it first, e.g. X > 0."
            )

    def _kernel_params(self, dtype):
        p = np.asarray(self.probabilities_, dtype=np.float64)
        return BernoulliParams(np.log(p).astype(dtype), np.log1p(-p).astype(dtype))

    def _moment_shapes(self, n_features):
        return {"sx": (self.n_components, n_features)}

    def _reference(self):
        return {}

    def _parameter_shapes(self, n_features):
        return {"weights_": (self.n_components,), "probabilities_": (self.n_components, n_features)}

    def _check_parameter_values(self):
        p = self.probabilities_
        if not ((p > 0) & (p < 1)).all():
            raise ValueError("probabilities_ must lie strictly between 0 and 1; refit the model.")

    def _work_rows(self, n_features):
        return 0

    def _params_from_moments(self, nk, means, covariances):
        self._set_probabilities(means)

    def _m_step_family(self, stats):
        nk = stats.nk + 10 * np.finfo(np.float64).eps
        self._set_probabilities(stats.moments["sx"] / nk[:, None])

    def _check_family_init(self, n_features):
        pass

    def _init_family_from_user(self):
        pass

    def _n_family_parameters(self):
        return self.probabilities_.size

    def _sample_component(self, rng, k, n):
        p = np.asarray(self.probabilities_[k], dtype=np.float64)
        return (rng.uniform(size=(n, p.shape[0])) < p).astype(np.float64)


WEIGHTS = np.array([0.5, 0.3, 0.2])
PROBABILITIES = np.array(
    [
        [0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.5, 0.2],
        [0.1, 0.2, 0.1, 0.9, 0.8, 0.9, 0.5, 0.2],
        [0.1, 0.9, 0.5, 0.1, 0.9, 0.1, 0.9, 0.9],
    ]
)


def true_model(dtype=np.float64, random_state=0):
    """A model holding the true parameters, set through its public attributes."""
    X = np.zeros((3, PROBABILITIES.shape[1]), dtype=dtype)
    model = BernoulliMixture(3, max_iter=0, random_state=random_state).fit(X)
    model.weights_ = WEIGHTS.astype(dtype)
    model.probabilities_ = PROBABILITIES.astype(dtype)
    return model


def scipy_log_prob(X, weights, probabilities):
    log_prob = np.stack(
        [stats.bernoulli.logpmf(X, p).sum(axis=1) for p in probabilities], axis=1
    )
    return log_prob + np.log(weights)


def test_registered_uncached():
    assert registered_families()[BernoulliParams] is False


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_score_samples_and_predict_proba_match_scipy(dtype):
    model = true_model(dtype)
    X, _ = model.sample(2000)
    assert X.dtype == dtype
    expected = scipy_log_prob(X, WEIGHTS, PROBABILITIES)
    norm = logsumexp(expected, axis=1)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(model.score_samples(X), norm, rtol=rtol)
    assert_allclose(model.predict_proba(X), np.exp(expected - norm[:, None]), rtol=10 * rtol, atol=rtol)


def test_sample_frequencies_match_parameters():
    X, y = true_model().sample(100_000)
    assert set(np.unique(X)) == {0.0, 1.0}
    assert_allclose(np.bincount(y) / len(y), WEIGHTS, atol=0.01)
    for k in range(3):
        assert_allclose(X[y == k].mean(axis=0), PROBABILITIES[k], atol=0.02)


def test_fit_recovers_known_parameters_with_restarts():
    X, y = true_model(random_state=1).sample(30_000)
    model = BernoulliMixture(3, n_init=3, tol=1e-6, max_iter=500, random_state=0).fit(X)
    assert model.converged_ and model.n_iter_ < 500
    assert np.all(np.diff(model.lower_bounds_) >= -1e-10)
    # Match fitted to true components by the label each true component gets most.
    order = [np.bincount(model.predict(X[y == k]), minlength=3).argmax() for k in range(3)]
    assert sorted(order) == [0, 1, 2]
    assert_allclose(model.weights_[order], WEIGHTS, atol=0.02)
    assert_allclose(model.probabilities_[order], PROBABILITIES, atol=0.04)
    assert np.mean(np.asarray(order)[y] == model.predict(X)) > 0.9
    n_parameters = PROBABILITIES.size + 2
    assert_allclose(
        model.bic(X), -2 * model.score(X) * len(X) + n_parameters * np.log(len(X)), rtol=1e-10
    )


def test_sample_weight_and_summaries_use_the_driver_unchanged():
    X, _ = true_model(random_state=2).sample(300)
    counts = np.random.default_rng(0).integers(0, 3, size=len(X))
    counts[0] = 1
    kw = dict(max_iter=3, tol=0.0, random_state=0, init_params="k-means++")
    weighted = true_model()
    weighted.m_step(weighted.summarize(X, sample_weight=counts))
    repeated = true_model()
    repeated_X = np.repeat(X, counts, axis=0)
    half = len(repeated_X) // 2
    repeated.m_step(repeated.summarize(repeated_X[:half]) + repeated.summarize(repeated_X[half:]))
    assert_allclose(weighted.probabilities_, repeated.probabilities_, rtol=1e-10)
    assert_allclose(weighted.weights_, repeated.weights_, rtol=1e-10)
    with pytest.warns(Warning, match="did not converge"):
        BernoulliMixture(3, **kw).fit(X, sample_weight=counts)


def test_data_checks_run_through_the_hook():
    model = true_model()
    with pytest.raises(ValueError, match=r"1 value\(s\) other than 0 and 1, e.g. 2.0"):
        model.score_samples(np.array([[0, 1, 2, 0, 0, 0, 0, 0.0]]))
    with pytest.raises(ValueError, match="NaN"):
        BernoulliMixture(2).fit(np.array([[0.0, np.nan], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="has 3 features, but BernoulliMixture is expecting 8 features"):
        model.predict(np.zeros((2, 3)))


def test_parameters_that_disagree_are_rejected_before_the_kernel():
    model = true_model()
    X, _ = model.sample(100)
    model.probabilities_ = PROBABILITIES[:2]
    with pytest.raises(ValueError, match=r"probabilities_ has shape \(2, 8\), expected \(3, 8\)"):
        model.score_samples(X)
    model.probabilities_ = np.where(PROBABILITIES > 0.5, 1.0, 0.5)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        model.predict(X)


def test_declared_kernel_shapes_catch_a_family_hook_that_disagrees(monkeypatch):
    """Without the estimator's own checks, the registered shapes still guard the kernel."""
    model = true_model()
    X, _ = model.sample(100)
    monkeypatch.setattr(BernoulliMixture, "_parameter_shapes", lambda self, n: {})
    model.probabilities_ = PROBABILITIES[:, :5]
    with pytest.raises(ValueError, match=r"BernoulliParams.log_p has shape \(3, 5\), expected \(3, 8\)"):
        model.score_samples(X)


def test_save_checks_only_what_load_knows(tmp_path):
    """save runs load's checks on fastem's own families only: a family of its own, whose
    parameters load does not know, saves as it did (a shared parameter of shape (D,) too)."""

    class WithNoise(BernoulliMixture):
        _parameter_names = ("weights_", "probabilities_", "noise_")

        def _parameter_shapes(self, n_features):
            return {**super()._parameter_shapes(n_features), "noise_": (n_features,)}

    model = WithNoise(3, max_iter=0, random_state=0).fit(true_model().sample(200)[0])
    model.noise_ = np.full(PROBABILITIES.shape[1], 0.1)
    model.save(tmp_path / "m.npz")
    assert (tmp_path / "m.npz").stat().st_size > 0


class _ListParams(NamedTuple):
    means: np.ndarray  # (n_components, 1)
    extra: object  # a Numba typed List: a field the kernels count references of


@njit(cache=False)
def _list_log_prob(params, xt, n, log_prob, work, prefetch):
    for k in range(params.means.shape[0]):
        for i in range(n):
            log_prob[k, i] = -0.5 * (xt[0, i] - params.means[k, 0]) ** 2 + params.extra[0]


@njit(cache=False)
def _list_accumulate(params, xt, n, resp, work, stats, prefetch):
    pass


register_family_kernels(_ListParams, _list_log_prob, _list_accumulate, cache=False)


@pytest.mark.parametrize("parallel", [False, True])
def test_the_kernels_leave_the_references_of_a_params_field_as_they_were(parallel):
    """The partitions borrow the params' arrays (no reference counting in their
    loops); a field that is not an array keeps its count, call after call."""
    from numba import typed
    from numba.core.unsafe.refcount import get_refcount

    from fastem.kernels import fused_e_step_serial_uncached, fused_e_step_uncached, fused_scratch

    kernel = fused_e_step_uncached if parallel else fused_e_step_serial_uncached
    count = njit(lambda value: get_refcount(value))
    extra = typed.List([0.25])
    params = _ListParams(np.array([[0.0], [1.0]]), extra)
    X = np.random.default_rng(0).normal(size=(4096, 1))
    before = count(extra)
    for _ in range(3):
        totals = kernel(
            X, np.empty(0), np.log([0.5, 0.5]), params, 0, 4, 1, True, np.empty(0),
            np.empty(0, np.int64), np.empty((0, 2)), fused_scratch(4, 1, 2, 1, np.float64),
        )
    assert count(extra) == before
    assert list(extra) == [0.25] and totals[0] == X.shape[0]


def test_the_skeletons_call_the_partition_through_its_address_and_hold_no_copy_of_it():
    """Each skeleton calls the one compiled partition of a family, and the
    partition the family's blocks: no linked copy that LLVM would optimise
    again with its caller (about 10 s of compilation for the parallel
    skeleton's module, which held one), and the two skeletons give the same bits."""
    from fastem.kernels import fused_e_step_serial_uncached, fused_e_step_uncached, fused_scratch

    params = _ListParams(np.array([[0.0], [1.0]]), typed_list([0.25]))
    X = np.random.default_rng(0).normal(size=(4096, 1))
    totals = [
        kernel(
            X, np.empty(0), np.log([0.5, 0.5]), params, 0, 4, 1, True, np.empty(0),
            np.empty(0, np.int64), np.empty((0, 2)), fused_scratch(4, 1, 2, 1, np.float64),
        )
        for kernel in (fused_e_step_serial_uncached, fused_e_step_uncached)
    ]
    assert_array_equal(totals[0], totals[1])
    for kernel in (fused_e_step_serial_uncached, fused_e_step_uncached):
        assert "_partition_pass" not in "".join(kernel.skeleton.inspect_llvm().values())
    partition = "".join(fused_e_step_uncached.partition.inspect_llvm().values())
    assert "_partition_pass" in partition
    assert "_list_log_prob" not in partition and "_list_accumulate" not in partition
    assert "_list_log_prob" in "".join(_list_log_prob.inspect_llvm().values())


def test_a_block_that_returns_a_value_is_refused_with_the_reason():
    """The blocks are called through their addresses as functions that return
    nothing: a block compiled to return a value would write it where the
    caller keeps nothing."""
    from fastem.kernels import fused_e_step_serial_uncached, fused_scratch

    class _Returning(NamedTuple):
        means: np.ndarray

    @njit(cache=False)
    def log_prob(params, xt, n, log_prob, work, prefetch):
        for k in range(params.means.shape[0]):
            for i in range(n):
                log_prob[k, i] = -0.5 * (xt[0, i] - params.means[k, 0]) ** 2
        return 1.0

    register_family_kernels(_Returning, log_prob, _list_accumulate, cache=False)
    reason = "log_prob returns float64; a family's blocks must return nothing"
    with pytest.raises(TypeError, match=reason):
        fused_e_step_serial_uncached(
            np.zeros((10, 1)), np.empty(0), np.log([0.5, 0.5]), _Returning(np.zeros((2, 1))), 0,
            1, 1, True, np.empty(0), np.empty(0, np.int64), np.empty((0, 2)),
            fused_scratch(1, 1, 2, 1, np.float64),
        )


@pytest.mark.filterwarnings("ignore::fastem.ConvergenceWarning")
def test_a_registered_familys_blocks_are_compiled_for_the_kernels_vector_width():
    from fastem.kernels._codegen import attribute, installed_vector_width

    X = (np.random.default_rng(0).random((300, 4)) < 0.5).astype(float)
    BernoulliMixture(2, max_iter=2, random_state=0).fit(X)
    mark = attribute(installed_vector_width())
    for block in (bernoulli_log_prob, bernoulli_accumulate):
        assert mark in "".join(block.inspect_llvm().values())


@pytest.mark.parametrize("parallel", [False, True])
def test_the_kernels_take_counts_as_0d_arrays_and_refuse_wrong_arrays_with_a_clear_error(parallel):
    """The partition is called through an address compiled for the arguments'
    types; inside the parallel loop Numba passes a 0-d array on as a scalar,
    so the counts and the flag are taken as Python scalars (without that, the
    parallel call crashed the process). A scratch buffer too small for the
    partitions, or an array of the wrong dimension, is refused before the
    parallel loop, where an error would not reach the caller."""
    from fastem.kernels import fused_e_step_serial_uncached, fused_e_step_uncached, fused_scratch

    kernel = fused_e_step_uncached if parallel else fused_e_step_serial_uncached
    params = _ListParams(np.array([[0.0], [1.0]]), typed_list([0.25]))
    X = np.random.default_rng(0).normal(size=(4096, 1))

    def call(n_work=1, accumulate=True, log_weights=np.log([0.5, 0.5]), scratch=None):
        scratch = fused_scratch(4, 1, 2, 1, np.float64) if scratch is None else scratch
        return kernel(
            X, np.empty(0), log_weights, params, 0, 4, n_work, accumulate, np.empty(0),
            np.empty(0, np.int64), np.empty((0, 2)), scratch,
        )

    expected = call()
    assert_array_equal(call(n_work=np.array(1), accumulate=np.array(True)), expected)
    assert_array_equal(call(n_work=np.int32(1), accumulate=np.bool_(True)), expected)
    with pytest.raises(ValueError, match="scratch is too small.*fused_scratch"):
        call(scratch=fused_scratch(4, 1, 2, 1, np.float64)[:100])
    with pytest.raises(TypeError, match="argument 3 must be a 1-d array, got 0"):
        call(log_weights=np.array(0.0))


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs a team of two threads")
def test_a_scratch_with_fewer_slots_than_the_team_is_refused():
    """Each partition works in the slot of the thread that runs it: a scratch
    of one slot, called on a team of two, is refused with the error of a
    short scratch, where the second thread's partitions had been left out of
    the sums without a word (their rows of the accumulator unwritten)."""
    from fastem.kernels import fused_e_step_uncached
    from fastem.kernels._fused import _scratch_sections

    params = _ListParams(np.array([[0.0], [1.0]]), typed_list([0.25]))
    X = np.random.default_rng(0).normal(size=(4096, 1))
    slot = _scratch_sections.py_func(1, 2, 1, 8)[4]

    def call(X, scratch):
        return fused_e_step_uncached(
            X, np.empty(0), np.log([0.5, 0.5]), params, 0, 4, 1, True, np.empty(0),
            np.empty(0, np.int64), np.empty((0, 2)), scratch,
        )

    expected = call(X, np.zeros(4 * slot))  # a slot per partition
    call(3 * X, np.zeros(4 * slot))  # other sums in the freed accumulator
    threads = numba.get_num_threads()
    numba.set_num_threads(2)
    try:
        with pytest.raises(ValueError, match="scratch is too small.*fused_scratch"):
            call(X, np.zeros(slot))
        assert_array_equal(call(X, np.zeros(2 * slot)), expected)  # a slot per thread
    finally:
        numba.set_num_threads(threads)


def _default_log_prob(params, xt, n, log_prob, work, prefetch, shift=0.0):
    pass


def _star_accumulate(params, *args):
    pass


@pytest.mark.parametrize(
    "log_prob, accumulate, name",
    [
        (njit(_default_log_prob), _list_accumulate, "_default_log_prob"),
        (_list_log_prob, njit(_star_accumulate), "_star_accumulate"),
        (_list_log_prob, njit(lambda params, xt, n, resp, work, stats: None), "<lambda>"),
    ],
)
def test_blocks_that_do_not_take_exactly_their_arguments_are_refused_at_registration(
    log_prob, accumulate, name
):
    """A block is compiled for its arguments alone and called through its
    address: defaults and ``*args`` would need Numba's folding of the call."""

    class _Params(NamedTuple):
        means: np.ndarray

    with pytest.raises(TypeError, match=f"{re.escape(name)} must take exactly the (6|7) arguments"):
        register_family_kernels(_Params, log_prob, accumulate, cache=False)
    assert _Params not in registered_families()


def test_few_feature_blocks_are_checked_like_the_others():
    """``few_features`` blocks follow the same rules, and the option its shape."""

    class _Params(NamedTuple):
        means: np.ndarray

    with pytest.raises(TypeError, match="_star_accumulate must take exactly the 7 arguments"):
        register_family_kernels(
            _Params, _list_log_prob, _list_accumulate, cache=False,
            few_features=(4, _list_log_prob, njit(_star_accumulate)),
        )
    for few_features in [(4, _list_log_prob), 4, {"min_features": 4}]:
        with pytest.raises(TypeError, match=r"few_features must be three items, \(min_features"):
            register_family_kernels(
                _Params, _list_log_prob, _list_accumulate, cache=False, few_features=few_features
            )
    for min_features in [4.5, None, "4", True, np.nan]:
        with pytest.raises(TypeError, match="min_features must be an int, got"):
            register_family_kernels(
                _Params, _list_log_prob, _list_accumulate, cache=False,
                few_features=(min_features, _list_log_prob, _list_accumulate),
            )
    for min_features in [1, 0, -3]:
        with pytest.raises(ValueError, match=f"min_features must be at least 2, got {min_features}"):
            register_family_kernels(
                _Params, _list_log_prob, _list_accumulate, cache=False,
                few_features=(min_features, _list_log_prob, _list_accumulate),
            )
    with pytest.raises(TypeError, match="_plain_accumulate must be a Numba dispatcher"):
        register_family_kernels(
            _Params, _list_log_prob, _list_accumulate, cache=False,
            few_features=(4, _list_log_prob, _plain_accumulate),
        )
    assert _Params not in registered_families()


def _plain_accumulate(params, xt, n, resp, work, stats, prefetch):
    pass


def test_blocks_must_be_numba_dispatchers():
    """A block is compiled for the partition's arguments and called through its address:
    a plain function is refused at registration, not at the first fit."""

    class _Params(NamedTuple):
        means: np.ndarray

    with pytest.raises(TypeError, match="_plain_accumulate must be a Numba dispatcher"):
        register_family_kernels(_Params, _list_log_prob, _plain_accumulate, cache=False)
    assert _Params not in registered_families()


def test_few_features_given_as_a_list_registers_and_leaves_numba_working():
    """The option is stored as a tuple: the check of every later compilation (whether it
    compiles a family's block) reads it, and a list there broke every Numba function."""

    class _Params(NamedTuple):
        means: np.ndarray

    try:
        register_family_kernels(
            _Params, _list_log_prob, _list_accumulate, cache=False,
            few_features=[np.int64(4), _list_log_prob, _list_accumulate],
        )
        assert _fused._FAMILY_KERNELS[_Params][3] == (4, _list_log_prob, _list_accumulate)
        assert type(_fused._FAMILY_KERNELS[_Params][3][0]) is int
        assert njit(lambda x: x + 1)(1) == 2
    finally:
        _fused._FAMILY_KERNELS.pop(_Params, None)
        _fused._FAMILY_SHAPES.pop(_Params, None)


def _with_hook(name, hook):
    """A BernoulliMixture whose hook ``name`` is ``hook``: a family with a faulty hook."""
    return type(f"Faulty{name}", (BernoulliMixture,), {name: hook})


_FAULTY_DRAWS = {
    "a column too many": lambda self, rng, k, n: np.zeros((n, self.probabilities_.shape[1] + 1)),
    "a row too many": lambda self, rng, k, n: np.zeros((n + 1, self.probabilities_.shape[1])),
    "1-D": lambda self, rng, k, n: np.zeros(n),
    "a list of the wrong length": lambda self, rng, k, n: [[0.0] * 8] * (n + 2),
}


@pytest.mark.parametrize("case", sorted(_FAULTY_DRAWS))
def test_sample_refuses_a_family_draw_of_the_wrong_shape(case):
    """sample concatenated what _sample_component returned as it was: 13 points for 10,
    9 columns for 8, or a 1-D array."""
    model = _with_hook("_sample_component", _FAULTY_DRAWS[case])(
        3, max_iter=0, random_state=0).fit(true_model().sample(50)[0])
    with pytest.raises(ValueError, match=r"Faulty_sample_component._sample_component\(rng, \d, \d+\) "
                                         r"returned an array of shape .*shape \(n, n_features\) = "
                                         r"\(\d+, 8\)"):
        model.sample(10)


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_sample_refuses_a_family_draw_that_is_not_finite(value):
    model = _with_hook("_sample_component", lambda self, rng, k, n: np.full((n, 8), value))(
        3, max_iter=0, random_state=0).fit(true_model().sample(50)[0])
    with pytest.raises(ValueError, match=r"returned points that are not all finite real numbers"):
        model.sample(10)


@pytest.mark.parametrize("value, error, message", [
    (2.5, TypeError, r"_n_family_parameters\(\) must be an integer, got 2.5"),
    (None, TypeError, r"_n_family_parameters\(\) must be an integer, got None"),
    (-5, ValueError, r"_n_family_parameters\(\) must be >= 0, got -5"),
])
@pytest.mark.parametrize("criterion", ["bic", "aic"])
def test_a_parameter_count_that_is_not_a_count_is_refused(value, error, message, criterion):
    """BIC and AIC counted 2.5 or -5 parameters without a word."""
    X = true_model().sample(50)[0]
    model = _with_hook("_n_family_parameters", lambda self: value)(
        3, max_iter=0, random_state=0).fit(X)
    with pytest.raises(error, match=message):
        getattr(model, criterion)(X)


@pytest.mark.parametrize("value, error, message", [
    (1.5, TypeError, r"_work_rows\(8\) must be an integer, got 1.5"),
    (None, TypeError, r"_work_rows\(8\) must be an integer, got None"),
    (-1, ValueError, r"_work_rows\(8\) must be >= 0, got -1"),
])
def test_scratch_rows_that_are_not_a_count_are_refused(value, error, message):
    """A float or None failed deep in the driver ("'float' object cannot be interpreted
    as an integer"), and -1 was taken as 0."""
    X = true_model().sample(50)[0]
    with pytest.raises(error, match=message):
        _with_hook("_work_rows", lambda self, n_features: value)(3, random_state=0).fit(X)


def test_a_regularization_hook_without_data_is_called_with_the_running_statistics():
    """_check_regularization(stats), as the protocol had it before the hook took ``data``."""
    seen = []

    class OlderHook(BernoulliMixture):
        def _check_regularization(self, stats):
            seen.append(stats)
            return False

    X, _ = true_model(random_state=3).sample(500)
    model = OlderHook(3, random_state=0)
    model.partial_fit(X[:250])
    model.partial_fit(X[250:])
    assert len(seen) == 2
    assert seen[1] is model._running_stats
