"""Vectorisable ``exp`` and ``log`` for Numba kernels.

The LLVM shipped in PyPI's llvmlite has no vector math library (SVML), so
``np.exp`` or ``np.log`` inside a Numba loop becomes a scalar libm call and the
whole loop stays scalar. The functions here are written only with operations
LLVM can vectorise (arithmetic, ``rint``/``floor``, compares that become
selects, integer bit manipulation), so a loop such as
``out[i] = exp64(x[i])`` is compiled to packed SIMD code.

Functions
---------
exp64(x), exp32(x)
    ``exp`` for float64 / float32 scalars; float32 arithmetic stays float32.
log64(x), log32(x)
    Natural logarithm for float64 / float32 scalars.
muladd(x, y, z)
    ``x * y + z`` as one fused multiply-add where the target has one.

All four are jitted functions meant to be called from other jitted code.

They are deliberately *not* ``inline="always"`` and not compiled with
``fastem._config.FASTMATH``. Numba applies a function's fast-math flags to
every floating-point instruction it lowers, including intrinsics and callees
inlined at the Numba IR level (``inline="always"``), and ``reassoc`` lets
LLVM undo the numerics: it folds the Cody-Waite pair
``n*LN2_HI + n*LN2_LO`` into ``n*ln2`` and turns ``(y * 2**n1) * 2**n2``
into ``y * (2**n1 * 2**n2)``, which overflows or underflows (errors of
hundreds of ulp and spurious inf were measured). Compiled as separate
functions, their instructions keep their own flags (``contract`` only, for
FMA); LLVM still inlines them into the caller's loop, also when they are
loaded from Numba's cache, and vectorises it. Results are therefore bitwise
the same whatever the caller's fast-math flags.

``error_model="numpy"`` removes the zero-division check that Numba otherwise
puts in front of the division in ``log``, which would block vectorisation.
"""

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

__all__ = ["exp32", "exp64", "log32", "log64", "muladd"]

_JIT = {"cache": True, "fastmath": {"contract"}, "error_model": "numpy"}

# Mantissa bits and exponent bias of each float width.
_LAYOUT = {64: (52, 1023), 32: (23, 127)}


def _float_layout(ty):
    """Return ``(llvm float type, llvm int type, mantissa bits, bias)``."""
    mant, bias = _LAYOUT[ty.bitwidth]
    fty = ir.DoubleType() if ty.bitwidth == 64 else ir.FloatType()
    return fty, ir.IntType(ty.bitwidth), mant, bias


def _pow2(builder, n, fty, ity, mant, bias):
    """Emit ``2**n`` for an integer-valued float ``n`` in the normal range.

    Adding ``1.5 * 2**mant + bias`` puts ``n + bias`` in the low mantissa bits
    without a float-to-int conversion (``fptosi`` to int64 does not vectorise
    without AVX-512); shifting left by ``mant`` moves it into the exponent
    field and drops everything above it.
    """
    shifted = builder.fadd(n, ir.Constant(fty, 1.5 * 2.0**mant + bias))
    bits = builder.shl(builder.bitcast(shifted, ity), ir.Constant(ity, mant))
    return builder.bitcast(bits, fty)


@intrinsic
def _ldexp(typingctx, y, n):
    """``y * 2**n`` for an integer-valued float ``n``, ``|n| <= 2 * bias``.

    ``2**n`` is applied as two factors ``2**(n // 2)`` and ``2**(n - n // 2)``
    so that both are normal numbers even when the result overflows or is
    subnormal; the first product is exact and the second rounds once, which
    gives correctly rounded gradual underflow. Callers must not be compiled
    with ``reassoc``, which may regroup this as ``y * (2**n1 * 2**n2)``,
    whose middle product overflows or underflows.
    """
    if not (isinstance(y, types.Float) and y == n):
        return None

    def codegen(context, builder, signature, args):
        yv, nv = args
        fty, ity, mant, bias = _float_layout(signature.return_type)
        floor = builder.module.declare_intrinsic("llvm.floor", [fty])
        n1 = builder.call(floor, [builder.fmul(nv, ir.Constant(fty, 0.5))])
        n2 = builder.fsub(nv, n1)
        part = builder.fmul(yv, _pow2(builder, n1, fty, ity, mant, bias))
        return builder.fmul(part, _pow2(builder, n2, fty, ity, mant, bias))

    return y(y, n), codegen


@intrinsic
def _frexp_sqrt2(typingctx, x):
    """Split a positive normal ``x`` into ``(m, e)`` with ``x = m * 2**e``.

    ``m`` lies in ``[sqrt(1/2), sqrt(2))`` and ``e`` is returned as an
    integer-valued float. Offsetting the bit pattern by the gap between 1 and
    ``sqrt(1/2)`` before splitting it moves mantissas at or above ``sqrt(2)``
    into the next binade. ``e`` is built by placing the biased exponent in the
    mantissa of ``2**mant`` and subtracting, because int64-to-float conversion
    does not vectorise without AVX-512. Other inputs give finite garbage.
    """
    if not isinstance(x, types.Float):
        return None

    def codegen(context, builder, signature, args):
        fty, ity, mant, bias = _float_layout(x)
        # Bit pattern of sqrt(1/2) rounded to nearest, as in fdlibm/musl:
        # 0x3fe6a09e667f3bcd (float64), 0x3f3504f3 (float32).
        sqrt_half = np.array(np.sqrt(0.5), dtype=f"f{x.bitwidth // 8}")
        low = int(sqrt_half.view(f"u{x.bitwidth // 8}"))
        one = bias << mant
        bits = builder.add(builder.bitcast(args[0], ity), ir.Constant(ity, one - low))
        biased_exp = builder.lshr(bits, ir.Constant(ity, mant))
        magic = (bias + mant) << mant  # bit pattern of 2**mant
        e_plus = builder.bitcast(builder.add(biased_exp, ir.Constant(ity, magic)), fty)
        e = builder.fsub(e_plus, ir.Constant(fty, 2.0**mant + bias))
        m_bits = builder.add(
            builder.and_(bits, ir.Constant(ity, (1 << mant) - 1)), ir.Constant(ity, low)
        )
        m = builder.bitcast(m_bits, fty)
        return context.make_tuple(builder, signature.return_type, (m, e))

    return types.UniTuple(x, 2)(x), codegen


@intrinsic
def muladd(typingctx, x, y, z):
    """``x * y + z`` of three floats of one type, rounded once where the target fuses them.

    LLVM's ``llvm.fmuladd``: the fused multiply-add that the fast-math flag
    ``contract`` makes of a product added to a value, as one operation that
    vectorises. Written out where an expression holds two products, as
    ``x * y + u * v``: contracted, either product may be the one fused, and
    which one sets the last bits.
    """
    if not (isinstance(x, types.Float) and x == y == z):
        return None

    def codegen(context, builder, signature, args):
        fty = context.get_value_type(signature.return_type)
        name = f"llvm.fmuladd.f{signature.return_type.bitwidth}"
        function = cgutils.get_or_insert_function(builder.module, ir.FunctionType(fty, [fty] * 3), name)
        return builder.call(function, args)

    return x(x, y, z), codegen


# ---------------------------------------------------------------------------
# exp
# ---------------------------------------------------------------------------
# exp(x) = 2**n * exp(r), n = rint(x / ln2), r = x - n*ln2 in [-ln2/2, ln2/2].
# ln2 is split Cody-Waite style: LN2_HI has enough trailing zero bits that
# n * LN2_HI is exact for every n reachable here, so r is accurate without
# relying on FMA. exp(r) = 1 + r + r**2 * P(r), P a Chebyshev fit of
# (exp(r) - 1 - r) / r**2 (errors 0.07 ulp for float64, 0.08 ulp for float32
# before rounding in the evaluation).
#
# Inputs are clamped to [XMIN, XMAX] just outside the representable range so
# that n stays small enough for _ldexp: XMIN gives 0 (also for -inf) and XMAX
# overflows to inf (also for +inf). NaN fails both compares and propagates.

_EXP64_XMIN = -746.0
_EXP64_XMAX = 710.0
_LOG2E64 = 1.4426950408889634
_LN2_HI64 = 6.93147180369123816490e-01  # 0x1.62e42feep-1, 32 significant bits
_LN2_LO64 = 1.90821492927058770002e-10
_E64P0 = 2.5100375832561234e-08
_E64P1 = 2.7620075879983367e-07
_E64P2 = 2.7557268480310024e-06
_E64P3 = 2.4801521322368692e-05
_E64P4 = 0.00019841269863040545
_E64P5 = 0.0013888888917196719
_E64P6 = 0.008333333333330065
_E64P7 = 0.041666666666624164
_E64P8 = 0.16666666666666669
_E64P9 = 0.5000000000000001


@numba.njit(**_JIT)
def exp64(x):
    """Vectorisable ``exp`` of a float64 scalar.

    Parameters
    ----------
    x : float64

    Returns
    -------
    float64
        ``exp(x)`` with an error below 1.5 ulp for normal results (1.07 ulp
        max measured against long double). Subnormal results
        (``-745.13 < x < -708.4``) are gradual, within one smallest
        subnormal of the exact value. ``exp(0) == 1`` exactly, ``exp(-inf) == 0``,
        ``exp(x) == inf`` for ``x > 709.78`` and NaN propagates.
    """
    x = _EXP64_XMIN if x < _EXP64_XMIN else x
    x = _EXP64_XMAX if x > _EXP64_XMAX else x
    n = np.rint(x * _LOG2E64)
    r = (x - n * _LN2_HI64) - n * _LN2_LO64
    p = _E64P0
    p = p * r + _E64P1
    p = p * r + _E64P2
    p = p * r + _E64P3
    p = p * r + _E64P4
    p = p * r + _E64P5
    p = p * r + _E64P6
    p = p * r + _E64P7
    p = p * r + _E64P8
    p = p * r + _E64P9
    return _ldexp(1.0 + (r + r * r * p), n)


_F32 = np.float32
_EXP32_XMIN = _F32(-105.0)
_EXP32_XMAX = _F32(90.0)
_LOG2E32 = _F32(1.4426950408889634)
_LN2_HI32 = _F32(0.693145751953125)  # 0x3f317200, 15 significant bits
_LN2_LO32 = _F32(1.4286068203094173e-06)
_E32P0 = _F32(0.0013926175888627768)
_E32P1 = _F32(0.008363173343241215)
_E32P2 = _F32(0.041666556149721146)
_E32P3 = _F32(0.16666577756404877)
_E32P4 = _F32(0.5)
_ONE32 = _F32(1.0)


@numba.njit(**_JIT)
def exp32(x):
    """Vectorisable ``exp`` of a float32 scalar, computed in float32.

    Parameters
    ----------
    x : float32

    Returns
    -------
    float32
        ``exp(x)`` with an error below 1.5 ulp for normal results (1.08 ulp
        max, checked on every float32 input). Subnormal results
        (``-103.97 < x < -87.34``) are gradual, within one smallest
        subnormal of the exact value. ``exp(0) == 1`` exactly, ``exp(-inf) == 0``,
        ``exp(x) == inf`` for ``x > 88.72`` and NaN propagates.
    """
    x = _EXP32_XMIN if x < _EXP32_XMIN else x
    x = _EXP32_XMAX if x > _EXP32_XMAX else x
    n = np.rint(x * _LOG2E32)
    r = (x - n * _LN2_HI32) - n * _LN2_LO32
    p = _E32P0
    p = p * r + _E32P1
    p = p * r + _E32P2
    p = p * r + _E32P3
    p = p * r + _E32P4
    return _ldexp(_ONE32 + (r + r * r * p), n)


# ---------------------------------------------------------------------------
# log
# ---------------------------------------------------------------------------
# fdlibm/musl algorithm: x = m * 2**e, m in [sqrt(1/2), sqrt(2)), f = m - 1,
# s = f / (2 + f), log(1 + f) = f - f**2/2 + s * (f**2/2 + R(s**2)), and
# log(x) = e*LN2_HI + (log(1 + f) + e*LN2_LO). The division is a packed
# vdivpd/vdivps and keeps the polynomial short. Subnormal inputs are scaled
# into the normal range first. 0 -> -inf, x < 0 -> NaN, +inf -> +inf,
# NaN -> NaN are selected at the end. The LN2_HI/LN2_LO split of exp is
# reused: e*LN2_HI is exact for every exponent, subnormals included.

_LOG64_TINY = 2.2250738585072014e-308  # smallest normal float64
_LOG64_SCALE = 2.0**54
_LOG64_SCALE_EXP = 54.0
_LG1 = 6.666666666666735130e-01
_LG2 = 3.999999999940941908e-01
_LG3 = 2.857142874366239149e-01
_LG4 = 2.222219843214978396e-01
_LG5 = 1.818357216161805012e-01
_LG6 = 1.531383769920937332e-01
_LG7 = 1.479819860511658591e-01


@numba.njit(**_JIT)
def log64(x):
    """Vectorisable natural logarithm of a float64 scalar.

    Parameters
    ----------
    x : float64

    Returns
    -------
    float64
        ``log(x)`` with an error below 1 ulp for all positive finite ``x``,
        subnormals included (0.83 ulp max measured against long double).
        ``log(0) == -inf``, ``log(inf) == inf``, ``log(x < 0)`` and
        ``log(nan)`` are NaN.
    """
    sub = x < _LOG64_TINY
    m, e = _frexp_sqrt2(x * _LOG64_SCALE if sub else x)
    e = e - _LOG64_SCALE_EXP if sub else e
    f = m - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    res = s * (hfsq + (t2 + t1)) + e * _LN2_LO64 - hfsq + f + e * _LN2_HI64
    res = res if x > 0.0 else (-np.inf if x == 0.0 else np.nan)
    return res if x < np.inf else x


_LOG32_TINY = _F32(1.1754943508222875e-38)  # smallest normal float32
_LOG32_SCALE = _F32(2.0**25)
_LOG32_SCALE_EXP = _F32(25.0)
_LGF1 = _F32(0.66666662693)  # 0xaaaaaa.0p-24
_LGF2 = _F32(0.40000972152)  # 0xccce13.0p-25
_LGF3 = _F32(0.28498786688)  # 0x91e9ee.0p-25
_LGF4 = _F32(0.24279078841)  # 0xf89e26.0p-26
_HALF32 = _F32(0.5)
_TWO32 = _F32(2.0)
_ZERO32 = _F32(0.0)
_INF32 = _F32(np.inf)
_NEG_INF32 = _F32(-np.inf)
_NAN32 = _F32(np.nan)


@numba.njit(**_JIT)
def log32(x):
    """Vectorisable natural logarithm of a float32 scalar, computed in float32.

    Parameters
    ----------
    x : float32

    Returns
    -------
    float32
        ``log(x)`` with an error below 1 ulp for all positive finite ``x``,
        subnormals included (0.84 ulp max, checked on every float32 input).
        ``log(0) == -inf``, ``log(inf) == inf``, ``log(x < 0)`` and
        ``log(nan)`` are NaN.
    """
    sub = x < _LOG32_TINY
    m, e = _frexp_sqrt2(x * _LOG32_SCALE if sub else x)
    e = e - _LOG32_SCALE_EXP if sub else e
    f = m - _ONE32
    hfsq = _HALF32 * f * f
    s = f / (_TWO32 + f)
    z = s * s
    w = z * z
    t1 = w * (_LGF2 + w * _LGF4)
    t2 = z * (_LGF1 + w * _LGF3)
    res = s * (hfsq + (t2 + t1)) + e * _LN2_LO32 - hfsq + f + e * _LN2_HI32
    res = res if x > _ZERO32 else (_NEG_INF32 if x == _ZERO32 else _NAN32)
    return res if x < _INF32 else x
