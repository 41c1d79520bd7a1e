"""Register-blocked micro-kernels for the 'full' and 'tied' Gaussian blocks.

Functions
---------
mahalanobis_block(xt, n, mean, factor, log_norm, out, prefetch)
    ``out[i] = log_norm - |U^T (x_i - mean)|^2 / 2`` for the points of a
    block, ``U`` upper triangular (a precision Cholesky factor).
scatter_block(rd, d, n, square, prefetch)
    The lower triangle of ``rd @ d.T`` over the points of a block.
regress_components(coefficients, r0, lane_means, g0, row, x0, x_stride, n_features, out, o0,
                   stride, count)
    A missing coordinate's conditional deviation from the mean under a
    vector of components at once, for data with missing values.

Why micro-kernels. The log-density of a 'full' component is a triangular
matrix product per block, ``y = U^T d`` (``d`` the centred block, features
by points), and a sum of squares over the features. Written as loops whose
inner loop runs over the points (the only loop LLVM's vectoriser takes),
every term ``y[j, i] += U[l, j] d[l, i]`` loads and stores ``y``: one vector
store per fused multiply-add, with the block in L2 from 32 features on. A
register tile written as scalar Numba code is not vectorised at all
(measured: scalar instructions only).

So the Mahalanobis tile is emitted as vector IR here, as GEMM libraries
write their micro-kernels: for two vectors of points and ``columns``
columns of ``U``, ``2 x columns`` vector accumulators stay in registers
through the loop over ``l``. Each step loads two vectors of the block's row
``l``, subtracts the mean (so no centred copy of the block is written),
broadcasts ``columns`` numbers of row ``l`` of ``U`` and issues ``2 x
columns`` multiply-adds; ``y`` is never stored, its squares are added to
the tile's sums once its columns are complete. The IR runs on any x86-64
(LLVM splits the vectors where they are narrower) in the data's dtype:
float32 blocks stay in float32, like the loops they replace.

The tile's shape follows the registers the kernels are compiled for
(``register_bytes`` in :mod:`fastem.kernels._codegen`):

* 256-bit vectors (AVX2, 16 registers): 8 points in float64 (16 in
  float32) and 4 columns, 8 accumulators;
* 512-bit vectors (AVX-512, 32 registers): 16 points in float64 (32 in
  float32) and 8 columns, 16 accumulators, so that each vector of the block
  loaded feeds twice as many multiply-adds. Against the 256-bit tile on the
  same CPU, a 'full' float64 iteration was 1.2x faster at 16 features and
  1.3-1.4x at 64 and 128 with 16-point tiles of 4 columns, and 8 columns
  took another 1.05-1.1x off at 64 and 128.

The scatter is a reduction over the points, which the loop vectoriser does
take: tiles of 3 x 3 entries share one pass, nine vector accumulators for
six loads (one entry per pass needs two loads per multiply-add).

Summation order. Each ``y[j, i]`` is summed over ``l`` in increasing order,
its squares are added in a fixed order of columns, and the scatter's sums
over the points depend on ``n`` only: results depend on the block's contents,
never on threads.
"""

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .._config import FASTMATH
from ._codegen import register_bytes
from ._fused import _typed
from ._memory import prefetch_next

__all__ = [
    "mahalanobis_block", "regress_components", "regression_lanes", "scatter_block", "tile_points",
]

_JIT = dict(cache=True, fastmath=FASTMATH)

# Vectors of points per tile. With 4 columns (AVX2), 8 vector accumulators:
# enough independent multiply-adds to cover their latency (4 cycles, 2 units
# on Zen 3 and Intel cores since Haswell) and few enough to leave registers
# for the loads among 16; with 8 columns (AVX-512), 16 of 32 registers.
_VECTORS = 2


def _lanes(dtype):
    return register_bytes() * 8 // dtype.bitwidth


def _columns():
    """Columns of ``U`` per tile: 8 with 512-bit registers (32 of them), else 4."""
    return 8 if register_bytes() == 64 else 4


def _constant(value):
    """An intrinsic for Numba code that returns ``value(d)`` for an array ``d``, a compile-time constant."""

    @intrinsic
    def constant(typingctx, d):
        if not (isinstance(d, types.Array) and isinstance(d.dtype, types.Float)):
            return None
        result = value(d.dtype)

        def codegen(context, builder, signature, args):
            return context.get_constant(types.intp, result)

        return types.intp(d), codegen

    return constant


_tile_points = _constant(lambda dtype: _VECTORS * _lanes(dtype))
_tile_columns = _constant(lambda dtype: _columns())


@intrinsic
def _square_sums_tile(typingctx, xt, mean, factor, i0, j0, l_stop, skip, sums):
    """INOUT ``sums[p] += sum_{c >= skip} y[c, p]^2`` for one tile of points.

    ``y[c, p] = sum_{l < l_stop} factor[l, j0 + c] (xt[l, i0 + p] - mean[l])``
    for the ``_columns()`` columns from ``j0`` of ``factor`` and the ``width =
    _VECTORS * lanes`` points from ``i0`` of ``xt``; ``sums`` has ``width``
    entries. The arrays are C-contiguous, of one float dtype; nothing is
    bounds-checked.
    """
    arrays = (xt, mean, factor, sums)
    if not (
        all(isinstance(a, types.Array) and a.layout == "C" for a in arrays)
        and xt.ndim == factor.ndim == 2
        and mean.ndim == sums.ndim == 1
        and isinstance(xt.dtype, types.Float)
        and all(a.dtype == xt.dtype for a in arrays)
    ):
        return None

    def codegen(context, builder, signature, args):
        x_ty, m_ty, f_ty = signature.args[:3]
        x_arr = context.make_array(x_ty)(context, builder, args[0])
        m_data = context.make_array(m_ty)(context, builder, args[1]).data
        f_arr = context.make_array(f_ty)(context, builder, args[2])
        s_data = context.make_array(signature.args[7])(context, builder, args[7]).data
        i0, j0, l_stop, skip = (
            context.cast(builder, value, ty, types.intp)
            for value, ty in zip(args[3:7], signature.args[3:7])
        )
        intp = context.get_value_type(types.intp)
        fty = context.get_data_type(x_ty.dtype)
        itemsize = x_ty.dtype.bitwidth // 8
        lanes = _lanes(x_ty.dtype)
        vty = ir.VectorType(fty, lanes)
        fmuladd = cgutils.get_or_insert_function(
            builder.module,
            ir.FunctionType(vty, [vty, vty, vty]),
            f"llvm.fmuladd.v{lanes}f{x_ty.dtype.bitwidth}",
        )
        zero = ir.Constant(vty, [0.0] * lanes)
        i32 = ir.IntType(32)
        splat_mask = ir.Constant(ir.VectorType(i32, lanes), [0] * lanes)

        def vector_pointer(base, index):
            return builder.bitcast(builder.gep(base, [index]), vty.as_pointer())

        def splat(value):
            one = builder.insert_element(ir.Constant(vty, ir.Undefined), value, i32(0))
            return builder.shuffle_vector(one, ir.Constant(vty, ir.Undefined), splat_mask)

        x_stride = cgutils.unpack_tuple(builder, x_arr.shape)[1]
        f_stride = cgutils.unpack_tuple(builder, f_arr.shape)[1]
        x_start = builder.gep(x_arr.data, [i0])
        f_start = builder.gep(f_arr.data, [j0])
        # Accumulators live in allocas that LLVM promotes to registers.
        columns = _columns()
        slots = [[cgutils.alloca_once_value(builder, zero) for _ in range(_VECTORS)]
                 for _ in range(columns)]
        with cgutils.for_range(builder, l_stop, intp=intp) as loop:
            l = loop.index
            m = splat(builder.load(builder.gep(m_data, [l])))
            row = builder.mul(l, x_stride)
            x = []
            for v in range(_VECTORS):
                index = builder.add(row, ir.Constant(intp, v * lanes))
                point = builder.load(vector_pointer(x_start, index), align=itemsize)
                x.append(builder.fsub(point, m))
            coefficients = builder.mul(l, f_stride)
            for c in range(columns):
                index = builder.add(coefficients, ir.Constant(intp, c))
                u = splat(builder.load(builder.gep(f_start, [index])))
                for v in range(_VECTORS):
                    acc = builder.load(slots[c][v])
                    builder.store(builder.call(fmuladd, [u, x[v], acc]), slots[c][v])
        for v in range(_VECTORS):
            target = vector_pointer(s_data, ir.Constant(intp, v * lanes))
            total = builder.load(target, align=itemsize)
            for c in range(columns):
                y = builder.load(slots[c][v])
                keep = builder.icmp_signed(">=", ir.Constant(intp, c), skip)
                total = builder.fadd(total, builder.select(keep, builder.fmul(y, y), zero))
            builder.store(total, target, align=itemsize)
        return context.get_dummy_value()

    return types.void(xt, mean, factor, i0, j0, l_stop, skip, sums), codegen


def regression_lanes():
    """Components per vector of :func:`regress_components`: the float64 lanes of a register (8 or 4)."""
    return register_bytes() // 8


@intrinsic
def _regress_lanes(typingctx, coefficients, r0, lane_means, g0, row, x0, x_stride, n_features,
                   out, o0, stride, count):
    """OUT ``out[o0 + q stride] = -sum_{j < n_features} coefficients[r0 + j L + q]
    (row[x0 + j x_stride] - lane_means[g0 + j L + q])`` for ``q < count``, a NaN in
    ``row`` taken as 0.

    ``L = regression_lanes()``: one vector per term, one lane per
    component, in float64. ``coefficients`` and ``lane_means`` are of one
    float dtype, ``row`` float32 or float64 (float32 is widened), ``out``
    float64 or float32 (the vector is rounded to it); all C-contiguous and
    not bounds-checked.
    """
    floats = (types.float32, types.float64)
    if not (
        all(isinstance(a, types.Array) and a.layout == "C" and a.ndim == 1 for a in
            (coefficients, lane_means, row, out))
        and coefficients.dtype in floats
        and lane_means.dtype == coefficients.dtype
        and row.dtype in floats
        and out.dtype in floats
    ):
        return None

    def codegen(context, builder, signature, args):
        f64 = ir.DoubleType()
        lanes = regression_lanes()
        vty = ir.VectorType(f64, lanes)
        c_data, m_data, x_data, o_data = (
            context.make_array(signature.args[a])(context, builder, args[a]).data
            for a in (0, 2, 4, 8)
        )
        r0, g0, x0, x_stride, n_features, o0, stride_out, count = (
            context.cast(builder, args[a], signature.args[a], types.intp)
            for a in (1, 3, 5, 6, 7, 9, 10, 11)
        )
        intp = context.get_value_type(types.intp)
        fmuladd = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(vty, [vty, vty, vty]), f"llvm.fmuladd.v{lanes}f64"
        )
        i32 = ir.IntType(32)
        splat_mask = ir.Constant(ir.VectorType(i32, lanes), [0] * lanes)
        stride = ir.Constant(intp, lanes)

        in_type = context.get_data_type(coefficients.dtype)
        in_vty = ir.VectorType(in_type, lanes)

        def vector(base, index):
            value = builder.load(builder.bitcast(builder.gep(base, [index]), in_vty.as_pointer()),
                                 align=coefficients.dtype.bitwidth // 8)
            return value if in_type == f64 else builder.fpext(value, vty)

        def add_term(j, acc):
            lane = builder.mul(j, stride)
            at = builder.add(x0, builder.mul(j, x_stride))
            x = builder.load(builder.gep(x_data, [at]))
            x = builder.select(builder.fcmp_ordered("==", x, x), x, ir.Constant(x.type, 0.0))
            if x.type != f64:
                x = builder.fpext(x, f64)
            x = builder.insert_element(ir.Constant(vty, ir.Undefined), x, i32(0))
            x = builder.shuffle_vector(x, ir.Constant(vty, ir.Undefined), splat_mask)
            d = builder.fsub(x, vector(m_data, builder.add(g0, lane)))
            u = vector(c_data, builder.add(r0, lane))
            builder.store(builder.call(fmuladd, [u, d, builder.load(acc)]), acc)

        # Even and odd terms in two accumulators: one would wait on its own
        # multiply-adds, a chain as long as the features.
        zero = ir.Constant(vty, [0.0] * lanes)
        even = cgutils.alloca_once_value(builder, zero)
        odd = cgutils.alloca_once_value(builder, zero)
        one = ir.Constant(intp, 1)
        with cgutils.for_range(builder, builder.ashr(n_features, one), intp=intp) as loop:
            j = builder.shl(loop.index, one)
            add_term(j, even)
            add_term(builder.add(j, one), odd)
        with builder.if_then(builder.trunc(n_features, ir.IntType(1))):
            add_term(builder.sub(n_features, one), even)
        result = builder.fneg(builder.fadd(builder.load(even), builder.load(odd)))
        out_type = context.get_data_type(signature.args[8].dtype)
        for q in range(lanes):
            index = ir.Constant(intp, q)
            with builder.if_then(builder.icmp_signed("<", index, count), likely=True):
                value = builder.extract_element(result, i32(q))
                if out_type != f64:
                    value = builder.fptrunc(value, out_type)
                at = builder.add(o0, builder.mul(index, stride_out))
                builder.store(value, builder.gep(o_data, [at]))
        return context.get_dummy_value()

    sig = types.void(
        coefficients, r0, lane_means, g0, row, x0, x_stride, n_features, out, o0, stride, count
    )
    return sig, codegen


@overload(regression_lanes, inline="always", jit_options=_JIT)
def _overload_regression_lanes():
    lanes = regression_lanes()
    return lambda: lanes


@njit(inline="always", **_JIT)
def regress_components(coefficients, r0, lane_means, g0, row, x0, x_stride, n_features, out, o0,
                       stride, count):
    """Conditional deviations of one missing coordinate under up to ``L`` components at once.

    OUT ``out[o0 + q stride] = -sum_{j < n_features} coefficients[r0 + j L + q]
    (row[x0 + j x_stride] - lane_means[g0 + j L + q])`` for ``q < count``, a
    NaN in ``row`` taken as 0 (the missing coordinates of a point, whose
    coefficients are 0), ``L = regression_lanes()`` (8 with 512-bit
    registers, else 4). Component ``q`` of the vector is lane ``q`` of
    every ``L``-entry group: ``coefficients`` holds its regression row
    ``(P_MM^-1 P_MO)[a]`` (0 at the missing coordinates), ``lane_means``
    its mean, ``row`` the point; ``out`` then gets the missing coordinate's
    conditional mean less the component's mean. Written as vector IR: a
    loop over ``n_features`` whose body is a few vector operations, where
    per component a dot product this short runs scalar. float64
    arithmetic; the terms of even ``j`` and of odd ``j`` are summed apart,
    each in increasing ``j``, then added. ``out`` float64 or float32.
    """
    _regress_lanes(
        coefficients, r0, lane_means, g0, row, x0, x_stride, n_features, out, o0, stride, count
    )


@njit(**_JIT)
def tile_points(xt):
    """Points per tile of :func:`mahalanobis_block` for the dtype of ``xt``: two vectors (8 to 32)."""
    return _tile_points(xt)


@njit(**_JIT)
def mahalanobis_block(xt, n, mean, factor, log_norm, out, prefetch):
    """OUT ``out[i] = log_norm - |U^T (xt[:, i] - mean)|^2 / 2`` for ``i < n``.

    Parameters
    ----------
    xt : ndarray of shape (n_features, width), float32 or float64, C-contiguous
        The block, features by points. The columns up to ``n`` rounded up
        to a multiple of :func:`tile_points` are read and must be finite
        (``width`` must be a multiple of it).
    n : int
        Points in the block.
    mean : ndarray of shape (n_features,), dtype of ``xt``
    factor : ndarray of shape (n_features, n_features), dtype of ``xt``
        ``U``, upper triangular with zeros below the diagonal (a precision
        Cholesky factor). Needs ``n_features >= 8`` (the columns of a
        tile: 4 or 8).
    log_norm : float
        The component's log normalising constant.
    out : ndarray of shape (width,), dtype of ``xt``
        Written up to ``n`` rounded up as above; only ``out[:n]`` is meaningful.
    prefetch : the fused E-step's prefetch handle, advanced once per tile.
    """
    n_features = xt.shape[0]
    width = _tile_points(xt)  # a constant: LLVM unrolls the loops over a tile into vectors
    columns = _tile_columns(xt)
    zero = _typed(out, 0.0)
    half = _typed(out, 0.5)
    n_panels = (n_features + columns - 1) // columns
    for i0 in range(0, n, width):
        prefetch_next(prefetch)
        sums = out[i0 : i0 + width]
        for p in range(width):
            sums[p] = zero
        for q in range(n_panels):
            # Column j of U has nonzeros in rows l <= j only: a panel of
            # columns stops at its last column's diagonal. The last panel
            # ends at the last feature and may overlap the one before it;
            # its columns already added are skipped.
            j0 = min(q * columns, n_features - columns)
            _square_sums_tile(xt, mean, factor, i0, j0, j0 + columns, q * columns - j0, sums)
    for i in range(n):
        out[i] = log_norm - half * out[i]


@njit(**_JIT)
def scatter_block(rd, d, n, square, prefetch):
    """OUT ``square[j, l] = sum_{i < n} rd[j, i] d[l, i]`` for ``l <= j`` (float64).

    Entries above the diagonal may be written too and are not meaningful.
    Tiles of 3 x 3 entries share one pass over the points: nine vector
    accumulators, six loads per nine multiply-adds, a reduction that LLVM
    vectorises over ``i``. The last tile of rows and of columns ends at the
    last feature and may overlap the one before it (its entries are written
    twice, with the same values). Needs ``n_features >= 3``.

    Parameters
    ----------
    rd, d : ndarray of shape (n_features, width), float64
        Rows read up to column ``n``.
    n : int
    square : ndarray of shape (n_features, n_features), float64
    prefetch : the fused E-step's prefetch handle, advanced once per row of tiles.
    """
    n_features = d.shape[0]
    for j0 in range(0, n_features, 3):
        prefetch_next(prefetch)
        j0 = min(j0, n_features - 3)
        a0, a1, a2 = rd[j0], rd[j0 + 1], rd[j0 + 2]
        for l0 in range(0, j0 + 3, 3):
            l0 = min(l0, n_features - 3)
            b0, b1, b2 = d[l0], d[l0 + 1], d[l0 + 2]
            s00 = s01 = s02 = s10 = s11 = s12 = s20 = s21 = s22 = 0.0
            for i in range(n):
                x0, x1, x2 = a0[i], a1[i], a2[i]
                y0, y1, y2 = b0[i], b1[i], b2[i]
                s00 += x0 * y0
                s01 += x0 * y1
                s02 += x0 * y2
                s10 += x1 * y0
                s11 += x1 * y1
                s12 += x1 * y2
                s20 += x2 * y0
                s21 += x2 * y1
                s22 += x2 * y2
            square[j0, l0], square[j0, l0 + 1], square[j0, l0 + 2] = s00, s01, s02
            square[j0 + 1, l0], square[j0 + 1, l0 + 1], square[j0 + 1, l0 + 2] = s10, s11, s12
            square[j0 + 2, l0], square[j0 + 2, l0 + 1], square[j0 + 2, l0 + 2] = s20, s21, s22
