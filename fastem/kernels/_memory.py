"""Getting the data into the fused E-step: block transposition and prefetching.

Functions
---------
transpose_block(Xb, n, xt)
    ``xt[j, i] = Xb[i, j]`` for the first ``n`` points of a block.
prefetch_init(prefetch), prefetch_block(prefetch, lo, hi)
    Start prefetching the bytes ``[lo, hi)`` of the data for the next block.
prefetch_next(prefetch)
    Issue the next few prefetches; blocks call it once per pass over the points.

Why transpose with shuffles. Read column by column, a row-major block is
moved one element at a time: a scalar load and a scalar store per value
(LLVM does not vectorise the strided loop). From 8 features on, the block
is moved instead in tiles of 8 x 8, each read as 8 row vectors and turned
into 8 column vectors by a network of ``shufflevector`` in three stages,
which the backend lowers to unpack and permute instructions: 0.41 against
0.58 us per float64 block of 256 x 16 in L1, 0.17 against 0.55 us in float32.
``transpose_block`` is a function of its own, not inlined into the skeleton
at the Numba level: inlined, its tile code slowed the D=2 E-step by about 6%
although it never runs there.

Why prefetch by hand. A block is read only when its transposition starts,
and most of it is then a cache miss that the core waits for: in the diag
D=16 K=8 E-step this wait was 1.9 ms of 11.9 (measured against data that
stays in L1). Prefetch instructions for the *next* block, issued while the
current one is computed, hide it, but only if they are spread out: a burst
of more than about 32 lines fills the core's miss buffers and stalls the loop
behind it as a load would (a burst of 64 lines per pass cost as much as no
prefetch at all in a synthetic test). The skeleton therefore hands the
blocks a ``prefetch`` handle; every pass over the points calls
:func:`prefetch_next`, which issues a few lines. The number of lines per call
is set from the number of calls in the previous block, so that the lines of a
block are spread over all of the work of the block before, whatever the
family and its sizes.

Measured together (kernel alone, N=1M, alternating in one process): diag
D=16 K=8 from 12.1 to 10.0 ms, spherical D=16 K=8 from 11.8 to 9.8 ms, tied
D=16 K=8 5-9% faster; full D=16 K=8 is bound by arithmetic and unchanged,
and so are the D=1 and D=2 kernels, within the noise of about 5%. The tiles
without the prefetch were slower than the scalar copy (they then wait for
memory sooner), and the prefetch without the tiles gained half as much.

Prefetching changes no result, only where the data wait.
"""

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["prefetch_block", "prefetch_init", "prefetch_next", "transpose_block"]

_JIT = dict(cache=True)

_TILE = 8  # the tiles are _TILE x _TILE
_LINE_BYTES = 64
# Lines per call while a partition's first block counts the calls, and the
# most ever issued per call (a larger burst stalls; see above).
_FIRST_LINES = 4
_MAX_LINES = 16

# The prefetch handle is a tuple (data, state) with state an int64 array of
# _STATE_LEN: the next byte to prefetch, the end byte, lines per call, and
# the number of calls made during the current block.
_NEXT, _END, _LINES, _CALLS, _STATE_LEN = 0, 1, 2, 3, 4


def _transpose_network(width):
    """The shuffle stages of a ``width`` x ``width`` transpose.

    Each stage is a list of ``(out, a, b, mask)``: vector ``out`` becomes
    ``shufflevector(a, b, mask)`` of the vectors before the stage. Stage ``s``
    interleaves runs of ``2**s`` elements of vectors ``2**s`` apart.
    """
    stages = []
    run = 1
    while run < width:
        stage = []
        for base in range(0, width, 2 * run):
            for o in range(run):
                a, b = base + o, base + o + run
                low, high = [], []
                for start in range(0, width, 2 * run):
                    low += list(range(start, start + run))
                    low += [width + x for x in range(start, start + run)]
                    high += list(range(start + run, start + 2 * run))
                    high += [width + x for x in range(start + run, start + 2 * run)]
                stage += [(a, a, b, low), (b, a, b, high)]
        stages.append(stage)
        run *= 2
    return stages


def _transpose_order(width):
    """Which column each output vector of the network holds, checked element by element."""
    labels = [[(r, c) for c in range(width)] for r in range(width)]
    for stage in _transpose_network(width):
        new = list(labels)
        for out, a, b, mask in stage:
            both = labels[a] + labels[b]
            new[out] = [both[m] for m in mask]
        labels = new
    order = []
    for vector in labels:
        column = vector[0][1]
        if vector != [(r, column) for r in range(width)]:
            raise AssertionError(f"the transpose network is wrong: {vector}")
        order.append(column)
    return order


_ORDER = _transpose_order(_TILE)


def _element_pointer(context, builder, ary, row, col, itemsize, vty):
    """Pointer to ``ary[row, col]`` of a 2-D C-contiguous array, as a pointer to ``vty``."""
    intp = context.get_value_type(types.intp)
    stride = cgutils.unpack_tuple(builder, ary.strides)[0]
    item = ir.Constant(intp, itemsize)
    offset = builder.add(builder.mul(row, stride), builder.mul(col, item))
    base = builder.ptrtoint(ary.data, intp)
    return builder.inttoptr(builder.add(base, offset), vty.as_pointer())


@intrinsic
def _transpose_tile(typingctx, src, i0, j0, dst):
    """``dst[j0 + c, i0 + r] = src[i0 + r, j0 + c]`` for ``r, c < 8``.

    Both arrays are 2-D, C-contiguous and of the same float dtype; no bounds
    are checked.
    """
    if not (
        isinstance(src, types.Array)
        and isinstance(dst, types.Array)
        and src.ndim == dst.ndim == 2
        and src.layout == dst.layout == "C"
        and src.dtype == dst.dtype
        and isinstance(src.dtype, types.Float)
    ):
        return None

    def codegen(context, builder, signature, args):
        src_ty, i0_ty, j0_ty, dst_ty = signature.args
        s = context.make_array(src_ty)(context, builder, args[0])
        d = context.make_array(dst_ty)(context, builder, args[3])
        row0 = context.cast(builder, args[1], i0_ty, types.intp)
        col0 = context.cast(builder, args[2], j0_ty, types.intp)
        fty = context.get_data_type(src_ty.dtype)
        vty = ir.VectorType(fty, _TILE)
        align = src_ty.dtype.bitwidth // 8
        intp = context.get_value_type(types.intp)
        vectors = []
        for r in range(_TILE):
            row = builder.add(row0, ir.Constant(intp, r))
            pointer = _element_pointer(context, builder, s, row, col0, align, vty)
            vectors.append(builder.load(pointer, align=align))
        mask_ty = ir.VectorType(ir.IntType(32), _TILE)
        for stage in _transpose_network(_TILE):
            new = list(vectors)
            for out, a, b, mask in stage:
                mask = ir.Constant(mask_ty, mask)
                new[out] = builder.shuffle_vector(vectors[a], vectors[b], mask)
            vectors = new
        for vector, column in zip(vectors, _ORDER):
            col = builder.add(col0, ir.Constant(intp, column))
            pointer = _element_pointer(context, builder, d, col, row0, align, vty)
            builder.store(vector, pointer, align=align)
        return context.get_dummy_value()

    return types.void(src, i0, j0, dst), codegen


@intrinsic
def _prefetch(typingctx, ary, offset):
    """Prefetch the cache line at byte ``offset`` from the start of ``ary`` (no bounds check)."""
    if not (isinstance(ary, types.Array) and isinstance(offset, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        a = context.make_array(signature.args[0])(context, builder, args[0])
        i8p = ir.IntType(8).as_pointer()
        off = context.cast(builder, args[1], signature.args[1], types.intp)
        address = builder.gep(builder.bitcast(a.data, i8p), [off])
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        # read, keep in all cache levels, data cache
        builder.call(fn, [address, i32(0), i32(3), i32(1)])
        return context.get_dummy_value()

    return types.void(ary, offset), codegen


@njit(inline="always", **_JIT)
def _transpose_columns(Xb, n, xt, j_start):
    """OUT ``xt[j, i] = Xb[i, j]`` for ``i < n`` and ``j >= j_start``, one column at a time.

    Every index starts at 0 in the loop over points: LLVM cannot prove an
    index such as ``i0 + i`` non-negative and would wrap it like a negative
    Python index, with scalar code.
    """
    for j in range(j_start, Xb.shape[1]):
        row = xt[j]
        for i in range(n):
            row[i] = Xb[i, j]


@njit(**_JIT)
def transpose_block(Xb, n, xt):
    """OUT ``xt[j, i] = Xb[i, j]`` for ``i < n`` and every feature ``j``."""
    n_features = Xb.shape[1]
    if n_features == 2:
        # Both columns in one pass, where LLVM knows the rows' stride (the
        # branch fixes Xb.shape[1], from which a C array's addresses are
        # computed): vector loads de-interleaved by shuffles, where the
        # loop of one column at a time loads each value alone. At two
        # features and four components, that loop took 8% of a pass.
        row0 = xt[0]
        row1 = xt[1]
        for i in range(n):
            row0[i] = Xb[i, 0]
            row1[i] = Xb[i, 1]
    elif n_features < _TILE:
        _transpose_columns(Xb, n, xt, 0)
    else:
        n_tiled = n - n % _TILE
        d_tiled = n_features - n_features % _TILE
        for i0 in range(0, n_tiled, _TILE):
            for j0 in range(0, d_tiled, _TILE):
                _transpose_tile(Xb, i0, j0, xt)
        _transpose_columns(Xb, n_tiled, xt, d_tiled)
        _transpose_columns(Xb[n_tiled:n], n - n_tiled, xt[:, n_tiled:], 0)


@njit(inline="always", **_JIT)
def prefetch_init(prefetch):
    """Reset the state of ``prefetch`` at the start of a partition."""
    state = prefetch[1]
    state[_NEXT] = 0
    state[_END] = 0
    state[_LINES] = _FIRST_LINES
    state[_CALLS] = 0


@njit(inline="always", **_JIT)
def prefetch_block(prefetch, lo, hi):
    """Aim ``prefetch`` at the bytes ``[lo, hi)`` of the data.

    Call once per block, before the block's work: the calls counted during
    the previous block set how many lines each call of :func:`prefetch_next`
    issues. Call :func:`prefetch_init` at the start of a partition.
    """
    state = prefetch[1]
    n_lines = (hi - lo + _LINE_BYTES - 1) // _LINE_BYTES
    calls = state[_CALLS]
    if calls > 0:
        state[_LINES] = min(_MAX_LINES, (n_lines + calls - 1) // calls)
    state[_CALLS] = 0
    state[_NEXT] = lo
    state[_END] = hi


@njit(inline="always", **_JIT)
def prefetch_next(prefetch):
    """Prefetch the next few lines of the next block (once per pass over the points)."""
    data, state = prefetch
    state[_CALLS] += 1
    start = state[_NEXT]
    stop = min(start + state[_LINES] * _LINE_BYTES, state[_END])
    for offset in range(start, stop, _LINE_BYTES):
        _prefetch(data, offset)
    state[_NEXT] = stop
