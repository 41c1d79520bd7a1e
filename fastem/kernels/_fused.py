"""The fused E-step: one parallel pass that every mixture family shares.

``fused_e_step`` reads a chunk of data once. For each block of ``BLOCK_SIZE``
points it asks the family for the per-component log-densities, turns them into
the per-point log-likelihood and the responsibilities, and asks the family to
add the responsibility-weighted sufficient statistics to the partition's
accumulator. Nothing of size n_samples x n_components is ever allocated unless
the caller asks for the responsibilities themselves (``predict_proba``).

A family plugs in through :func:`register_family_kernels`: it names the
NamedTuple class that carries its parameters into Numba and two ``@njit``
functions, one for the log-densities of a block and one for its statistics.
The skeleton dispatches on the parameter class at compile time, so a family
costs no branch in the hot loop.

Speed: ``exp`` and ``log`` come from :mod:`fastem.kernels._math`, written so
that LLVM vectorises them (the LLVM in PyPI's llvmlite has no vector math
library, so ``np.exp`` would be a scalar call that keeps every loop around it
scalar). Each step over a block is its own branch-free loop over the points,
constants are of the data's dtype (``_typed``), and the kernel has a single
parallel region: with ``parallel=True`` even ``np.zeros`` is a parallel loop,
and every region start waits for all threads. Arrays are indexed through
views that start at the block, with indices counted from 0: LLVM cannot prove
an index like ``start + i`` non-negative, so it wraps it like a negative
Python index, and every vector load becomes a gather (measured 1.6x slower
for the copy of a block). The block is transposed in 8 x 8 tiles of vector
shuffles, and the next block of the partition is prefetched while this one
is computed, paced by the family's blocks (see :mod:`fastem.kernels._memory`).
Scratch comes from one page-aligned buffer that the caller allocates per
call (:func:`fused_scratch`), a slot per partition or, where the partitions
outnumber the threads, per thread, which each partition takes from the
thread that runs it; nothing is allocated inside the loops. A pass
that returns no per-point values and has no sample weights (every pass of an
unweighted fit) sums its points' log-likelihoods with one log per group of
points, the log of the product of their sums of exponentials
(:func:`_sum_of_logs`), not one per point.

Determinism: the data are cut into ``n_partitions`` runs of consecutive blocks,
a number the driver derives from the data size only. Each partition
accumulates serially into its own float64 row and the rows are summed in
partition order, so the result does not depend on the number of threads.

Compilation: a partition's work is one function, ``_partition_pass``,
compiled once per family and dtype by its own dispatcher and cached on its
own. Its callers are two small skeletons of the same source:
``fused_e_step`` runs the partitions in a parallel loop,
``fused_e_step_serial`` one after the other on the calling thread, for
calls too small to share (``fastem._threading.launch``); both sum the
partitions in the same order and give the same bits. A skeleton calls the
partition, and the partition the family's two blocks, through their
addresses (``_call_compiled``), which the driver looks up once per argument
types and number of features (:func:`kernel_addresses`; a family may give
blocks for data of few features, see :func:`register_family_kernels`),
rather than through calls that Numba links: a linked call puts a copy of
the callee in the caller's module, and LLVM optimises that copy again with
the caller (a block's copy was
optimised three times: in its own module, in the overload that dispatched
to it and in the partition). On the Zen 4 machine
(``scripts/measure_first_fit.py``), a first fit of 10,000 points compiled
for 19-22 s with the partition's work written inside the parallel loop
(Numba compiles a loop body twice), 13 s with a linked partition and the
serial skeleton, 10.2-11.8 s with the partition called through its address
and 9.9-10.4 s with the blocks too (see ``fastem.kernels.gaussian`` for the
'full' and 'tied' entries, which keep one second optimisation); a first
process that fits 10,000 and then 300,000 points compiles the parallel
skeleton in 0.6 s, where its linked copy of the partition took 10 s. The
partition borrows its arrays (``_borrowed``), as the body of a parallel loop
does.
"""

import functools
import inspect
import numbers
import operator
import types as pytypes

import numba
import numpy as np
from numba import njit, prange, typeof, types
from numba._dispatcher import compute_fingerprint
from numba.core import cgutils
from numba.core.dispatcher import Dispatcher
from numba.core.imputils import impl_ret_borrowed
from numba.core.registry import CPUDispatcher
from numba.core.typing.typeof import Purpose
from numba.extending import intrinsic, overload
from numba.np.arrayobj import make_array, populate_array

from .._config import BLOCK_SIZE, FASTMATH
from ._math import exp32, exp64, log32, log64
from ._memory import _STATE_LEN, prefetch_block, prefetch_init, transpose_block

__all__ = [
    "fused_e_step",
    "fused_scratch",
    "fused_e_step_uncached",
    "fused_e_step_serial",
    "fused_e_step_serial_uncached",
    "register_family_kernels",
    "registered_families",
    "registered_shapes",
]

_FAMILY_KERNELS = {}


class _CompiledCallersOnly(CPUDispatcher):
    """The dispatcher of a function that fastem calls only from other compiled
    functions or through its address (:func:`_address`), compiled without the
    wrapper for calls from Python (Numba's ``no_cpython_wrapper``, as Numba
    compiles its overloads). A cold first fit built such wrappers, each
    unpacking every argument from Python objects, for functions Python never
    calls.

    Its compilations stay out of the table that a call from Python looks in,
    where their entry would be the missing wrapper, so that such a call is
    refused with a TypeError rather than jumping to no code.
    """

    def add_overload(self, cres):
        self.overloads[tuple(cres.signature.args)] = cres

    def _compile_for_args(self, *args, **kws):
        raise TypeError(
            f"{self.py_func.__module__}.{self.py_func.__qualname__} is compiled for calls from "
            "fastem's compiled functions only, not from Python; call its py_func attribute "
            "for the Python function."
        )


def compiled_callers_only(**options):
    """``numba.njit(**options)`` for a function that only compiled code calls
    (see :class:`_CompiledCallersOnly`)."""
    cache = options.pop("cache", False)

    def decorate(func):
        dispatcher = _CompiledCallersOnly(
            func, targetoptions={"nopython": True, "no_cpython_wrapper": True, **options}
        )
        if cache:
            dispatcher.enable_caching()
        return dispatcher

    return decorate


def register_family_kernels(params_class, log_prob_block, accumulate_block, *, cache=True,
                            shapes=None, few_features=None):
    """Teach the fused E-step a new mixture family.

    Parameters
    ----------
    params_class : type
        A ``typing.NamedTuple`` subclass. Its instances carry the family's
        parameters (arrays and scalars) into the kernel; the kernel is compiled
        once per class and dtype.
    log_prob_block : numba dispatcher
        ``log_prob_block(params, xt, n, log_prob, work, prefetch)``, compiled on
        its own and called through its address; its arrays are C-contiguous,
        ``n`` an int64, and it returns nothing. IN:
        ``params``; ``xt`` of shape (n_features, BLOCK_SIZE), the block's
        points transposed (columns ``:n`` are valid); ``work`` of shape
        (n_work, BLOCK_SIZE), scratch owned by the partition or its thread; ``prefetch``, a
        handle to pass to ``fastem.kernels.prefetch_next`` about once per pass
        over the points (see :mod:`fastem.kernels._memory`). OUT: ``log_prob[k, i]``, the
        log-density of point ``i`` under component ``k``, mixing weight
        excluded, for ``i < n``.
    accumulate_block : numba dispatcher
        ``accumulate_block(params, xt, n, resp, work, stats, prefetch)``. IN:
        ``resp[k, i]``, the sample-weighted responsibilities. INOUT: ``stats``,
        a float64 vector holding the family's part of the partition
        accumulator; sum the points of the block in float64 (``s = 0.0``,
        each term widened before it is added) and add, never overwrite. The component counts are accumulated
        by the skeleton. It runs right after ``log_prob_block`` on the same
        block with the same ``work``, and may read what that left there.
    cache : bool, default=True
        Whether the partition and the skeletons compiled for this family are
        cached on disk. The blocks are compiled on their own and cached as
        their own ``njit(cache=...)`` says; Numba checks a block's own source
        file when it loads it. The partition's cache index names
        ``params_class``, and fastem's cache directory follows fastem's kernel
        sources only (``fastem.kernels._cache``): a class renamed or removed
        under an existing cache makes that index fail to load. Leave this
        False for a family whose code is still changing, and empty the cache
        when it changes.
    shapes : dict, optional
        ``{field: shape}`` for the array fields of ``params_class``, each shape
        a tuple of ints and the names ``"n_components"`` and ``"n_features"``.
        Before every launch the driver checks the params against these shapes
        (besides the data's dtype, C-contiguity and finiteness of every array),
        so that no state of a model can make the blocks index outside their
        arrays. Declare every array the blocks index by the data's or the
        model's sizes.
    few_features : tuple, optional
        ``(min_features, log_prob_block, accumulate_block)``: blocks for data
        of fewer than ``min_features`` features, used there instead of the
        two above (e.g. without the loops that only wider data take, so that
        they compile faster). ``min_features`` is an int of at least 2; the
        blocks take the same arguments and follow the same rules; the
        partition and the skeletons are shared.

    Raises
    ------
    TypeError
        A block is not a Numba dispatcher, or does not take exactly its
        arguments, by position (no defaults, ``*args`` or ``**kwargs``): it is
        compiled for them alone and called through its address. Or
        ``few_features`` is not three items, or its ``min_features`` not an int.
    ValueError
        ``few_features``' ``min_features`` is below 2.
    """
    arguments = (
        ("params", "xt", "n", "log_prob", "work", "prefetch"),
        ("params", "xt", "n", "resp", "work", "stats", "prefetch"),
    )
    blocks = (log_prob_block, accumulate_block)
    if few_features is not None:
        few_features = _few_features(few_features)
        blocks += few_features[1:]
    for block, names in zip(blocks, arguments + arguments):
        if not isinstance(block, Dispatcher):
            raise TypeError(
                f"{getattr(block, '__name__', block)!s} must be a Numba dispatcher "
                "(decorate it with numba.njit): the fused E-step compiles each block on its "
                "own and calls it through its address."
            )
        parameters = inspect.signature(block.py_func).parameters.values()
        plain = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        if len(parameters) != len(names) or any(
            p.kind not in plain or p.default is not inspect.Parameter.empty for p in parameters
        ):
            raise TypeError(
                f"{block.__name__} must take exactly the {len(names)} "
                f"arguments ({', '.join(names)}), without defaults, *args or **kwargs: the "
                "fused E-step compiles a block for them alone and calls it through its address."
            )
    _FAMILY_KERNELS[params_class] = (log_prob_block, accumulate_block, cache, few_features)
    _FAMILY_SHAPES[params_class] = None if shapes is None else dict(shapes)


_FAMILY_SHAPES = {}


def _few_features(few_features):
    """``few_features`` of :func:`register_family_kernels` as a tuple, its count an int >= 2."""
    try:
        min_features, log_prob_block, accumulate_block = few_features
    except (TypeError, ValueError):
        raise TypeError(
            "few_features must be three items, (min_features, log_prob_block, "
            f"accumulate_block), got {few_features!r}."
        ) from None
    if isinstance(min_features, bool) or not isinstance(min_features, numbers.Integral):
        raise TypeError(
            f"few_features' min_features must be an int, got {min_features!r}: the blocks run "
            "on data of fewer features than that."
        )
    if min_features < 2:
        raise ValueError(
            f"few_features' min_features must be at least 2, got {min_features}: every data "
            "set has at least one feature, so below that the blocks would never run."
        )
    return int(min_features), log_prob_block, accumulate_block


def registered_families():
    """Return ``{params_class: cache}`` for every registered family."""
    return {cls: entry[2] for cls, entry in _FAMILY_KERNELS.items()}


def is_family_block(dispatcher):
    """Whether ``dispatcher`` is one of the blocks a registered family gave."""
    return any(
        dispatcher in entry[:2] + (entry[3][1:] if entry[3] else ()) for entry in _FAMILY_KERNELS.values()
    )


def family_blocks(params_class, n_features):
    """The log-density and statistics blocks of a registered family for data of ``n_features``."""
    log_prob, accumulate, _, few_features = _FAMILY_KERNELS[params_class]
    if few_features is not None and n_features < few_features[0]:
        return few_features[1:]
    return log_prob, accumulate


def registered_shapes(params_class):
    """The ``shapes`` a family declared at registration (None if it declared none)."""
    return _FAMILY_SHAPES[params_class]


def _exp(x):
    """Vectorisable exp in the precision of ``x`` (Numba only)."""
    raise NotImplementedError("_exp is only callable from Numba code")


def _log(x):
    """Vectorisable log in the precision of ``x`` (Numba only)."""
    raise NotImplementedError("_log is only callable from Numba code")


def _float_of(like):
    """The float type of the constants of a kernel on the array type ``like``: float32 or float64."""
    return types.float32 if like.dtype == types.float32 else types.float64


# _typed and _tiny are intrinsics, a cast and a constant in place: as
# overloads, each compiled a function of its own for every pair of argument
# types a kernel met.
@intrinsic
def _typed(typingctx, like, value):
    """``value`` as the scalar type of the array ``like`` (float32, or else float64; Numba only)."""
    value = types.unliteral(value)
    if not (isinstance(like, types.Array) and isinstance(value, types.Number)):
        return None

    def codegen(context, builder, signature, args):
        return context.cast(builder, args[1], signature.args[1], signature.return_type)

    return _float_of(like)(like, value), codegen


@intrinsic
def _tiny(typingctx, like):
    """The smallest positive normal number of the scalar type of the array ``like`` (Numba only)."""
    if not isinstance(like, types.Array):
        return None
    scalar = _float_of(like)
    tiny = float(np.finfo(str(scalar)).tiny)

    def codegen(context, builder, signature, args):
        return context.get_constant(scalar, tiny)

    return scalar(like), codegen


@overload(_exp, jit_options={"cache": True})
def _overload_exp(x):
    if x == types.float32:
        return lambda x: exp32(x)
    return lambda x: exp64(x)


@overload(_log, jit_options={"cache": True})
def _overload_log(x):
    if x == types.float32:
        return lambda x: log32(x)
    return lambda x: log64(x)


# Every scratch array of the fused E-step starts on a page boundary. Left to
# malloc, the arrays land in the heap at offsets that vary from process to
# process, and in some processes the full D=16 K=8 E-step ran 1.5x slower for
# its whole life (110 against 74 ms; reproduced by the allocation offsets
# alone: with every large block a fresh page-aligned mmap, 6 of 6 processes
# were fast, against 4 of 6 with malloc's default placement).
_PAGE_BYTES = 4096


@njit(inline="always", cache=True)
def _scratch_sections(n_features, n_components, n_work, itemsize):
    """Element offsets of the scratch arrays of one thread's slot, each rounded up to a page.

    Returns (xt, log-probabilities, per-point vectors, work rows, total),
    ``total`` the slot's size. Inlined into its callers: a few integer
    operations, where a function of its own was one more to compile on a
    first fit (0.1 s).
    """
    page = _PAGE_BYTES // itemsize
    o_lp = (n_features * BLOCK_SIZE + page - 1) // page * page
    o_vec = o_lp + (n_components * BLOCK_SIZE + page - 1) // page * page
    o_work = o_vec + (3 * BLOCK_SIZE + page - 1) // page * page
    total = o_work + (max(n_work, 1) * BLOCK_SIZE + page - 1) // page * page
    return 0, o_lp, o_vec, o_work, total


def e_step_outputs(n_components, dtype, log_prob=None, labels=None, resp=None):
    """The fused E-step's per-row outputs, in its order; an empty array for each not given.

    ``log_prob`` float64 (n_rows,), ``labels`` int64 (n_rows,), ``resp`` of the
    data's ``dtype`` (n_rows, n_components); the empty ones have 0 rows.
    """
    return {
        "log_prob": np.empty(0) if log_prob is None else log_prob,
        "labels": np.empty(0, dtype=np.int64) if labels is None else labels,
        "resp": np.empty((0, n_components), dtype=dtype) if resp is None else resp,
    }


def fused_scratch(n_partitions, n_features, n_components, n_work, dtype):
    """A page-aligned scratch buffer for one call of the fused E-step.

    A slot per partition or per thread Numba may run
    (``numba.config.NUMBA_NUM_THREADS``), whichever are fewer: with a slot
    per partition, partition ``p`` works in slot ``p``; otherwise in the
    slot of the thread that runs it (``numba.get_thread_id()``). So the
    scratch of a pass is no larger than its team's (a pass of 1,000,000
    points in 64 partitions zeroed 2.5 MB for a full D=2 K=4 model on two
    threads, every pass), nor than its partitions' (a prediction of ten
    rows, one partition, took 406-428 us instead of 193-204 us with 64
    threads, zeroing 64 slots).
    """
    dtype = np.dtype(dtype)
    # The Python function itself: the same integer arithmetic as the kernel's,
    # without the 14 us of a call through the Numba dispatcher, every pass.
    n_slots = max(1, min(int(n_partitions), numba.config.NUMBA_NUM_THREADS))
    n = n_slots * _scratch_sections.py_func(
        int(n_features), int(n_components), int(n_work), dtype.itemsize
    )[4]
    raw = np.zeros(n * dtype.itemsize + _PAGE_BYTES, dtype=np.uint8)
    start = -raw.ctypes.data % _PAGE_BYTES
    return raw[start : start + n * dtype.itemsize].view(dtype)


def _borrow(context, builder, typ, value):
    """``value`` of Numba type ``typ`` with every array in it borrowed (see ``_borrowed``)."""
    if isinstance(typ, types.Array):
        view = make_array(typ)(context, builder, value=value)
        view.meminfo = cgutils.get_null_value(view.meminfo.type)
        view.parent = cgutils.get_null_value(view.parent.type)
        return view._getvalue()
    if isinstance(typ, types.BaseTuple):
        for i, member in enumerate(typ):
            borrowed = _borrow(context, builder, member, builder.extract_value(value, i))
            value = builder.insert_value(value, borrowed, i)
    return value


@intrinsic
def _borrowed(typingctx, value):
    """``value`` (an array, or a tuple of arrays and scalars) with its arrays borrowed (Numba only).

    A borrowed array has no reference to the owner of its memory (a null
    meminfo, as the arrays in the body of a Numba parallel loop have), so
    the views taken from it in the loops below count no references: with
    the caller's arrays, every slice of a block took an atomic increment
    and a decrement, and a serial pass of 'full' at one or two features ran
    1.6x slower than the same code in a parallel loop. The caller's arrays
    keep their memory alive until the partition returns.
    """
    def codegen(context, builder, signature, args):
        # A new reference to whatever still counts them (a field that is not
        # an array): the caller releases the result. Null meminfos count nothing.
        return impl_ret_borrowed(context, builder, value, _borrow(context, builder, value, args[0]))

    return value(value), codegen


@intrinsic
def _matrix(typingctx, buffer, start, n_rows, n_cols, dtype):
    """The C-contiguous ``(n_rows, n_cols)`` array of ``dtype`` whose data start at item
    ``start`` of the C-contiguous ``buffer`` (Numba only).

    A view, as ``buffer.reshape(-1)[start:].view(dtype)[:n_rows * n_cols].reshape(...)``
    would be, without them: Numba lowers a reshape through a call into its
    runtime, a view of another dtype through checks of their own, and each
    through functions it compiles on the first use; the kernels' scratch
    arrays took 0.5 s of a cold first fit in those. ``dtype`` is a NumPy
    scalar type (``np.float64``) or an array's ``dtype``. Raises ValueError
    where the array does not fit in ``buffer`` (or a count is negative).
    """
    if isinstance(dtype, types.NumberClass):
        scalar = dtype.instance_type
    elif isinstance(dtype, types.DType):
        scalar = dtype.dtype
    else:
        return None
    counts = (start, n_rows, n_cols)
    if not (
        isinstance(buffer, types.Array) and buffer.layout == "C"
        and all(isinstance(c, types.Integer) for c in counts)
    ):
        return None
    result = types.Array(scalar, 2, "C", readonly=not buffer.mutable)

    def codegen(context, builder, signature, args):
        source = make_array(signature.args[0])(context, builder, args[0])
        intp = context.get_value_type(types.intp)
        start, rows, cols = (
            context.cast(builder, value, ty, types.intp) for value, ty in zip(args[1:4], signature.args[1:4])
        )
        item = intp(context.get_abi_sizeof(context.get_data_type(signature.args[0].dtype)))
        new_item = intp(context.get_abi_sizeof(context.get_data_type(scalar)))
        begin = builder.mul(start, item)
        row_bytes = builder.mul(cols, new_item)
        # Compared by unsigned divisions, which cannot overflow: a start or a
        # count so large that its product wraps around is refused too. Each
        # product is used only where the tests before it bound it by the
        # buffer's bytes (``available``), the divisor is never 0.
        zero = intp(0)
        available = builder.mul(source.nitems, item)
        rows_fit = builder.udiv(
            builder.sub(available, begin),
            builder.select(builder.icmp_signed("==", row_bytes, zero), intp(1), row_bytes),
        )
        outside = builder.or_(
            builder.or_(
                builder.or_(builder.icmp_signed("<", start, zero), builder.icmp_signed("<", rows, zero)),
                builder.or_(
                    builder.icmp_signed("<", cols, zero),
                    builder.icmp_signed(">", start, source.nitems),
                ),
            ),
            builder.or_(
                builder.icmp_unsigned(">", cols, builder.udiv(available, new_item)),
                builder.icmp_unsigned(">", rows, rows_fit),
            ),
        )
        with cgutils.if_unlikely(builder, outside):
            context.call_conv.return_user_exc(
                builder, ValueError, ("_matrix: the array does not fit in the buffer",)
            )
        out = make_array(result)(context, builder)
        data = builder.bitcast(cgutils.pointer_add(builder, source.data, begin), out.data.type)
        populate_array(
            out, data=data, shape=[rows, cols], strides=[row_bytes, new_item], itemsize=new_item,
            meminfo=source.meminfo, parent=source.parent,
        )
        return impl_ret_borrowed(context, builder, result, out._getvalue())

    return result(buffer, start, n_rows, n_cols, dtype), codegen


# _sum_of_logs multiplies up to _LOG_PRODUCT_BOUND / log(K) points' sums of
# exponentials, each at most K, before it takes a log: the product stays
# below exp(_LOG_PRODUCT_BOUND), short of float64's overflow at exp(709.78).
_LOG_PRODUCT_BOUND = 690.0


@njit(cache=True)
def _product_group(n_components):
    """How many points :func:`_sum_of_logs` multiplies before it takes a log: up to a block."""
    if n_components < 2:
        return BLOCK_SIZE
    # np.int64, which truncates as int() does: Numba compiles int() of a float
    # as a function of its own (0.12 s of a first fit).
    return max(1, min(BLOCK_SIZE, np.int64(_LOG_PRODUCT_BOUND / np.log(n_components))))


@compiled_callers_only(cache=True, fastmath=FASTMATH)
def _sum_of_logs(scale, n, group):
    """``sum(log(scale[:n]))`` in float64, one log per ``group`` points.

    ``scale[i]`` is the sum over the K components of
    ``exp(log_density + log_weight - top[i])``, whose largest term is 1 (up
    to rounding): it lies in [1, K], or is 0 for a point of zero density
    under every component and NaN for a NaN point. The product of ``group``
    of them, taken in float64 (``group`` from :func:`_product_group`),
    therefore cannot overflow, and a 0 or a NaN carries into its log as it
    would into the sum of the points' own logs. Each product rounds once per
    factor: a relative error of at most ``group`` float64 units, 2.8e-14 on
    the log of a block of 256 points, about the rounding of the block's sum
    of per-point logs. In a profile of the Zen 4 machine the loop of
    per-point logs took 14% of a full D=1 K=2 pass and 6% of a full D=2 K=4
    one (a division and a polynomial per point); a product is one
    multiplication.
    """
    total = 0.0
    for g0 in range(0, n, group):
        part = scale[g0 : min(g0 + group, n)]
        product = 1.0
        for i in range(part.shape[0]):
            product *= np.float64(part[i])
        total += log64(product)
    return total


def _partition_pass(
    p, slot, blocks, X, sample_weight, log_weights, params, n_family_stats, n_partitions, n_work,
    accumulate, out_log_prob, out_labels, out_resp, scratch, acc, prefetch_states,
):
    """Partition ``p`` of the fused E-step: its blocks into ``acc[p]``.

    The arguments are those of the skeleton (:func:`_fused_e_step`), and
    ``acc`` and ``prefetch_states``, one row per partition. ``blocks``: the
    addresses of the family's log-density and statistics blocks, compiled
    for the types :func:`_block_signatures` gives. The partition
    carves its scratch from slot ``slot`` of ``scratch`` (see
    :func:`fused_scratch`), its own or that of the thread that runs it: the
    blocks find there what the slot's last block left, as within a partition.

    Every loop over the points of a block is a separate, branch-free inner
    loop so that LLVM vectorises it; the optional outputs are tested once per
    block. Per-point arithmetic runs in the data's dtype; sums over the points
    of a block (log-likelihood, component counts, the family's statistics)
    are taken in float64 and added to ``acc[p]`` once per block.
    """
    X, sample_weight, log_weights, params = _borrowed((X, sample_weight, log_weights, params))
    out_log_prob, out_labels, out_resp = _borrowed((out_log_prob, out_labels, out_resp))
    scratch, acc, prefetch_states = _borrowed((scratch, acc, prefetch_states))
    n_samples, n_features = X.shape
    n_components = log_weights.shape[0]
    n_blocks = (n_samples + BLOCK_SIZE - 1) // BLOCK_SIZE
    b_first = p * n_blocks // n_partitions
    b_end = (p + 1) * n_blocks // n_partitions
    o_xt, o_lp, o_vec, o_work, slot_size = _scratch_sections(
        n_features, n_components, n_work, X.itemsize
    )
    scratch = scratch[slot * slot_size : (slot + 1) * slot_size]
    xt = _matrix(scratch, o_xt, n_features, BLOCK_SIZE, scratch.dtype)
    lp = _matrix(scratch, o_lp, n_components, BLOCK_SIZE, scratch.dtype)
    top = scratch[o_vec : o_vec + BLOCK_SIZE]
    scale = scratch[o_vec + BLOCK_SIZE : o_vec + 2 * BLOCK_SIZE]
    factor = scratch[o_vec + 2 * BLOCK_SIZE : o_vec + 3 * BLOCK_SIZE]
    work = _matrix(scratch, o_work, max(n_work, 1), BLOCK_SIZE, scratch.dtype)
    stats = acc[p]
    prefetch_state = prefetch_states[p]
    n_stats = stats.shape[0]
    weighted = sample_weight.shape[0] > 0
    want_log_prob = out_log_prob.shape[0] > 0
    want_labels = out_labels.shape[0] > 0
    want_resp = out_resp.shape[0] > 0
    zero = _typed(X, 0.0)
    one = _typed(X, 1.0)
    minus_inf = _typed(X, -np.inf)
    tiny = _tiny(X)
    row_bytes = X.shape[1] * X.itemsize
    for s in range(n_stats):
        stats[s] = 0.0
    group = _product_group(n_components)
    prefetch = (X, prefetch_state)
    prefetch_init(prefetch)
    for b in range(b_first, b_end):
        start = b * BLOCK_SIZE
        n = min(BLOCK_SIZE, n_samples - start)
        # The next block of this partition is fetched while this one is computed.
        next_start = min(start + BLOCK_SIZE, b_end * BLOCK_SIZE, n_samples)
        next_stop = min(next_start + BLOCK_SIZE, b_end * BLOCK_SIZE, n_samples)
        prefetch_block(prefetch, next_start * row_bytes, next_stop * row_bytes)
        Xb = X[start : start + n]
        transpose_block(Xb, n, xt)

        _call_compiled(blocks[0], (params, xt, n, lp, work, prefetch))

        # The maximum over components of the weighted log-densities. They
        # are not stored: the exponentials below add the weights again,
        # which saves a pass that writes the block.
        lw = log_weights[0]
        for i in range(n):
            top[i] = lp[0, i] + lw
        for k in range(1, n_components):
            lw = log_weights[k]
            for i in range(n):
                top[i] = max(top[i], lp[k, i] + lw)
        if want_labels:
            # The first component that reaches the maximum, as argmax. A
            # component of weight 0 (log-weight -inf) is never one: it reaches
            # the maximum only of a point of zero density under every
            # component, which then goes to the first component of positive
            # weight, as it would go to component 0 were that not empty.
            labels = out_labels[start : start + n]
            for i in range(n):
                labels[i] = 0
            for k in range(n_components - 1, -1, -1):
                lw = log_weights[k]
                if lw > minus_inf:
                    for i in range(n):
                        labels[i] = k if lp[k, i] + lw == top[i] else labels[i]

        # A point of zero density under every component (its maximum is
        # -inf) is exponentiated around 0 instead: its sum is then 0, its
        # log-likelihood -inf and its responsibilities 0, never NaN.
        for i in range(n):
            top[i] = top[i] if top[i] > minus_inf else zero

        # Unnormalised responsibilities and their sum. Without weights, the
        # loop of the last component also takes the factor that normalises
        # them, 1 / sum: the divisions, which the core does in a unit of
        # their own, then overlap the exponentials' arithmetic rather than
        # run alone in a loop of their own (at one feature and two
        # components they took a sixth of the partition's time there).
        lw = log_weights[0]
        for i in range(n):
            e = _exp(lp[0, i] + (lw - top[i]))
            lp[0, i] = e
            scale[i] = e
        last = n_components - 1 if not weighted else n_components
        for k in range(1, n_components):
            lw = log_weights[k]
            if k == last:
                for i in range(n):
                    e = _exp(lp[k, i] + (lw - top[i]))
                    lp[k, i] = e
                    sum_e = scale[i] + e
                    scale[i] = sum_e
                    factor[i] = one / sum_e if sum_e > zero else zero
            else:
                for i in range(n):
                    e = _exp(lp[k, i] + (lw - top[i]))
                    lp[k, i] = e
                    scale[i] += e

        # The log-likelihood of point i is top[i] + log(scale[i]). Where the
        # points' own values are wanted or weighted, `top` takes each of them;
        # otherwise only their sum counts, and its logs are taken of products
        # (see _sum_of_logs). The factor is weight / sum.
        per_point = want_log_prob or weighted
        if per_point:
            for i in range(n):
                top[i] = top[i] + _log(scale[i])
        if want_log_prob:
            log_prob_b = out_log_prob[start : start + n]
            for i in range(n):
                log_prob_b[i] = top[i]
        sum_w = 0.0
        loglik = 0.0 if per_point else _sum_of_logs(scale, n, group)
        if weighted:
            weight_b = sample_weight[start : start + n]
            for i in range(n):
                loglik += weight_b[i] * np.float64(top[i])
                w = _typed(X, weight_b[i])
                factor[i] = w / scale[i] if scale[i] > zero else zero
            for i in range(n):
                sum_w += weight_b[i]
        else:
            for i in range(n):
                loglik += np.float64(top[i])
            if last == 0:
                for i in range(n):
                    factor[i] = one / scale[i] if scale[i] > zero else zero
            sum_w = n
        stats[0] += sum_w
        stats[1] += loglik

        # Responsibilities below the smallest normal number are set to 0.
        # They add nothing to any statistic, and every operation on a
        # subnormal number costs some hundred cycles on x86: in 'full'
        # at 64 features, where points far from a component have
        # responsibilities of 1e-310 and each one enters D * D products,
        # a pass took ten times as long.
        for k in range(n_components):
            resp = lp[k]
            s = 0.0
            for i in range(n):
                r = resp[i] * factor[i]
                r = zero if r < tiny else r  # NaN stays NaN
                resp[i] = r
                s += np.float64(r)
            stats[2 + k] += s
        if want_resp:
            resp_b = out_resp[start : start + n]
            for k in range(n_components):
                for i in range(n):
                    resp_b[i, k] = lp[k, i]
        if accumulate:
            family_stats = stats[2 + n_components :]
            _call_compiled(blocks[1], (params, xt, n, lp, work, family_stats, prefetch))


# One compilation per family and dtype; a family registered with
# ``cache=False`` has its partitions compiled by the uncached dispatcher.
_PARTITION = {
    cached: compiled_callers_only(cache=cached, nogil=True, fastmath=FASTMATH)(_partition_pass)
    for cached in (True, False)
}
# The partition's arguments after the skeleton's own: ``acc`` and ``prefetch_states``.
_PARTITION_ROWS = (types.float64[:, ::1], types.int64[:, ::1])


@intrinsic
def _call_compiled(typingctx, address, args):
    """Call the function compiled by Numba at ``address`` with the tuple ``args`` (Numba only).

    The function must have been compiled for exactly the types of ``args``
    and return nothing (:func:`kernel_addresses`). A call through a pointer,
    rather than a call Numba links: a linked call puts a copy of the callee
    into the caller's module, which LLVM optimises once more with the caller.
    So the skeletons call the partition, and the partition the family's
    blocks, each compiled, cached and loaded on its own.
    """
    argtypes = tuple(args.types)

    def codegen(context, builder, signature, llargs):
        address_value, args_value = llargs
        fnty = context.call_conv.get_function_type(types.none, argtypes)
        callee = builder.inttoptr(address_value, fnty.as_pointer())
        values = [builder.extract_value(args_value, i) for i in range(len(argtypes))]
        status, _ = context.call_conv.call_function(builder, callee, types.none, argtypes, values)
        with cgutils.if_unlikely(builder, status.is_error):
            context.call_conv.return_status_propagate(builder, status)
        return context.get_dummy_value()

    return types.none(address, args), codegen


_ADDRESSES = {}
# The type of the blocks' addresses (Python ints) as the skeleton passes them to the partition.
_BLOCKS = typeof((0, 0))
# (position, dimensions) of the skeleton's array arguments after the addresses, ``X`` first
_ARRAY_NDIMS = ((0, 2), (1, 1), (2, 1), (8, 1), (9, 1), (10, 2), (11, 1))


def _block_signatures(params, X):
    """The types of the arguments the partition passes to the family's two blocks."""
    rows = types.Array(numba.from_dtype(X.dtype), 2, "C")
    prefetch = types.Tuple((typeof(X, Purpose.argument), types.int64[::1]))
    head = (typeof(params, Purpose.argument), rows, types.int64, rows, rows)
    return head + (prefetch,), head + (types.float64[::1], prefetch)


# (dispatcher, signature): a function that returns once another process has
# compiled the pair into the disk cache, or given up (fastem._compile_ahead)
COMPILING_ELSEWHERE = {}


def _address(dispatcher, signature):
    """The address of ``dispatcher`` compiled (or loaded from its disk cache) for ``signature``."""
    compiled = dispatcher.overloads.get(signature)
    if compiled is None:  # compile() waits for Numba's compiler lock, even when compiled
        waiting = COMPILING_ELSEWHERE.pop((dispatcher, signature), None)
        if waiting is not None:
            waiting()  # then compile() loads the other process's code from the disk cache
        dispatcher.compile(signature)
        compiled = dispatcher.overloads[signature]
    if compiled.signature.return_type != types.none:
        # called as a function that returns nothing: another return type would
        # be written where the caller keeps none
        raise TypeError(
            f"{dispatcher.py_func.__qualname__} returns {compiled.signature.return_type}; "
            "a family's blocks must return nothing (write into their output arrays)."
        )
    return compiled.library.get_pointer_to_function(compiled.fndesc.llvm_func_name)


def kernel_signatures(cached, args):
    """What the skeleton's ``args`` call, each as ``(dispatcher, signature)``.

    ``(log_prob_block, accumulate_block, partition)``: the family's blocks for
    the arguments' number of features (:func:`family_blocks`) and the
    partition, with the types they are compiled for. Depends on the
    arguments' types and number of features only (see
    :mod:`fastem._compile_ahead`, which compiles some of them in another
    process).
    """
    X, params = args[0], args[3]
    log_prob, accumulate = family_blocks(type(params), X.shape[1])
    log_prob_types, accumulate_types = _block_signatures(params, X)
    partition_types = (
        (types.int64, types.int64, _BLOCKS)
        + tuple(typeof(a, Purpose.argument) for a in args)
        + _PARTITION_ROWS
    )
    return (
        (log_prob, log_prob_types), (accumulate, accumulate_types),
        (_PARTITION[cached], partition_types),
    )


def kernel_addresses(cached, args):
    """The addresses of the partition and of the family's blocks for the skeleton's ``args``.

    Returns ``(partition, (log_prob_block, accumulate_block))``, each compiled
    (or loaded from the disk cache) on the first call for the arguments'
    types and number of features: the blocks are those :func:`family_blocks`
    gives for it. ``args``: the skeleton's arguments after the addresses, ``X`` the
    read-only view that :func:`fastem._threading.launch` passes.
    """
    try:
        key = (cached, type(args[3]), np.shape(args[0])[1:], compute_fingerprint(args))
    except (NotImplementedError, TypeError, ValueError):
        key = None  # a field Numba cannot fingerprint: type the arguments every call
    addresses = _ADDRESSES.get(key)
    if addresses is None:
        # checked once per argument types: the key holds each array's dimensions
        for position, ndim in _ARRAY_NDIMS:
            if np.ndim(args[position]) != ndim:
                raise TypeError(
                    f"fused E-step argument {position + 1} must be a {ndim}-d array, got "
                    f"{np.ndim(args[position])} dimensions."
                )
        log_prob, accumulate, partition = kernel_signatures(cached, args)
        blocks = (_address(*log_prob), _address(*accumulate))
        addresses = (_address(*partition), blocks)
        if key is not None:
            _ADDRESSES[key] = addresses
    return addresses


@njit(inline="always", cache=True)
def _thread_slot():
    """The slot of the scratch (see :func:`fused_scratch`) of the thread that runs a partition
    in the parallel skeleton: the thread's number in its team, below the team's size."""
    return np.int64(numba.get_thread_id())


@njit(inline="always", cache=True)
def _calling_thread_slot():
    """The slot of the serial skeleton, whose partitions all run on the calling thread.

    Not ``numba.get_thread_id()``: on a thread that runs no parallel region
    before, that reads a threading layer which may not be launched yet.
    """
    return np.int64(0)


def _fused_e_step(
    partition,  # IN address of _partition_pass compiled for these arguments (kernel_addresses)
    blocks,  # IN addresses of the family's blocks, passed on to the partition
    X,  # IN (n_samples, n_features), C-contiguous
    sample_weight,  # IN (n_samples,) or (0,) for unit weights
    log_weights,  # IN (n_components,), same dtype as X
    params,  # IN the family's NamedTuple
    n_family_stats,  # IN length of the family's part of the statistics
    n_partitions,  # IN number of partitions, from the data size only
    n_work,  # IN rows of family scratch per partition
    accumulate,  # IN whether to accumulate statistics at all
    out_log_prob,  # OUT (n_samples,) float64 or (0,): per-point log-likelihood
    out_labels,  # OUT (n_samples,) int64 or (0,): most likely component
    out_resp,  # OUT (n_samples, n_components) or (0, n_components)
    scratch,  # SCRATCH from fused_scratch(n_partitions, n_features, n_components, n_work, X.dtype):
    # a slot per partition, or per thread Numba may run (one for the serial skeleton)
):
    """Summarize a chunk under the current parameters in one pass.

    Returns a float64 vector ``[sum of weights, log-likelihood, nk (n_components),
    family statistics (n_family_stats)]``. Each partition is a call of
    ``_partition_pass`` through ``partition``, into its own row of the
    accumulator; the rows are summed in partition order.
    """
    n_stats = 2 + log_weights.shape[0] + n_family_stats
    n_slots = scratch.shape[0] // _scratch_sections(
        X.shape[1], log_weights.shape[0], n_work, X.itemsize
    )[4]
    # np.empty, not np.zeros: with parallel=True every np.zeros is a parallel
    # region of its own, and each region start waits for every thread.
    acc = np.empty((n_partitions, n_stats))
    prefetch_states = np.empty((n_partitions, _STATE_LEN), dtype=np.int64)
    # The slot each partition ran in. A column, of the type of prefetch_states:
    # np.empty of a vector of int64 would be one more function to compile.
    slots = np.empty((n_partitions, 1), dtype=np.int64)
    for p in prange(n_partitions):
        # A partition whose thread has no slot is not run: an error inside
        # the parallel loop does not reach the caller, so it is raised below.
        slot = np.int64(p) if n_slots >= n_partitions else _thread_slot()
        slots[p, 0] = slot
        if slot < n_slots:
            _call_compiled(partition, (
                np.int64(p), slot, blocks, X, sample_weight, log_weights, params,
                n_family_stats, n_partitions, n_work, accumulate, out_log_prob, out_labels,
                out_resp, scratch, acc, prefetch_states,
            ))
    for p in range(n_partitions):
        if slots[p, 0] >= n_slots:
            raise ValueError(
                "The fused E-step's scratch is too small: allocate it with fused_scratch("
                "n_partitions, n_features, n_components, n_work, X.dtype)."
            )

    total = np.empty(n_stats)
    for s in range(n_stats):
        total[s] = 0.0
    for p in range(n_partitions):
        for s in range(n_stats):
            total[s] += acc[p, s]
    return total


def _renamed(function, name, **names):
    """``function`` under another qualified name, with ``names`` in place of its globals of those names.

    Numba names a function's disk-cache files after its qualified name and
    keys their entries by signature alone: two cached dispatchers of one
    function, one parallel and one not, would load each other's code.
    """
    scope = {**function.__globals__, **names} if names else function.__globals__
    twin = pytypes.FunctionType(
        function.__code__, scope, name, function.__defaults__, function.__closure__
    )
    twin.__qualname__ = name
    twin.__doc__ = function.__doc__
    return twin


class FusedEStep:
    """The fused E-step: ``kernel(X, *args)`` runs ``skeleton(partition, blocks, X, *args)``.

    ``partition`` is the address of the partition compiled for the
    arguments' types by the cached or the uncached dispatcher (``partition``
    here) as ``cached`` says, ``blocks`` those of the family's blocks
    (:func:`kernel_addresses`).
    """

    def __init__(self, skeleton, cached):
        self.skeleton = skeleton
        self.cached = cached
        self.partition = _PARTITION[cached]

    @staticmethod
    def _arguments(
        X, sample_weight, log_weights, params, n_family_stats, n_partitions, n_work,
        accumulate, out_log_prob, out_labels, out_resp, scratch,
    ):
        # The arguments as the skeleton's parallel loop passes them on. Numba
        # hands a 0-d array to the loop's body as a scalar, so the partition
        # would be called with other types than its address was compiled for:
        # the counts and the flag are taken as Python scalars, and an array of
        # another dimension than the kernel's is refused (kernel_addresses).
        return (
            X, sample_weight, log_weights, params, operator.index(n_family_stats),
            operator.index(n_partitions), operator.index(n_work), bool(accumulate),
            out_log_prob, out_labels, out_resp, scratch,
        )

    def __call__(self, *args):
        args = self._arguments(*args)
        return self.skeleton(*kernel_addresses(self.cached, args), *args)

    def bound(self, *args):
        """The kernel for calls with arguments of the types of ``args`` (those of a call).

        Returns ``kernel(X, *args)`` with the addresses of the partition and
        the blocks looked up once, here: for the passes of one EM run, whose
        arguments keep their types (the counts and the flag must be Python
        ints and a bool, as :meth:`__call__` takes them).
        """
        return functools.partial(
            self.skeleton, *kernel_addresses(self.cached, self._arguments(*args))
        )



# nogil: fits in several Python threads run their passes at the same time.
fused_e_step = FusedEStep(
    njit(parallel=True, cache=True, nogil=True, fastmath=FASTMATH)(_fused_e_step), True
)
fused_e_step_uncached = FusedEStep(
    njit(parallel=True, nogil=True, fastmath=FASTMATH)(_fused_e_step), False
)
# The same partitions one after the other on the calling thread, for calls
# too small to share (``fastem._threading.launch``): no parallel region to
# start or to compile. Both skeletons call the one compiled ``_partition_pass``
# per family and dtype, and sum the partitions in the same order.
_serial = _renamed(_fused_e_step, "_fused_e_step_serial", _thread_slot=_calling_thread_slot)
fused_e_step_serial = FusedEStep(njit(cache=True, nogil=True, fastmath=FASTMATH)(_serial), True)
fused_e_step_serial_uncached = FusedEStep(njit(nogil=True, fastmath=FASTMATH)(_serial), False)
