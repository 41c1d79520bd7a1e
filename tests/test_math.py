"""Accuracy and special values of the vectorisable math in fastem.kernels._math."""

import platform
import re
from fractions import Fraction

import numba
import numpy as np
import pytest

from fastem._config import FASTMATH
from fastem.kernels._math import exp32, exp64, log32, log64, muladd

# Error bounds promised in the docstrings, in ulp of the correctly rounded
# result (normal results) or in units of the smallest subnormal (subnormal
# results).
EXP_ULP = 1.5
LOG_ULP = 1.0
SUBNORMAL_ULP = 1.0

F64, F32 = np.float64, np.float32
# float64 results are checked against long double when it is wider than
# double (x86: 64-bit mantissa); otherwise against numpy's float64 result,
# which is itself up to about 1 ulp off, so the bound is widened by that.
_EXTENDED = np.finfo(np.longdouble).nmant > np.finfo(F64).nmant
_REF64_SLACK = 0.0 if _EXTENDED else 1.0


def _make_loop(fn, fastmath=False):
    @numba.njit(fastmath=fastmath)
    def loop(x, out):
        for i in range(x.shape[0]):
            out[i] = fn(x[i])

    return loop


_LOOPS = {fn: _make_loop(fn) for fn in (exp64, exp32, log64, log32)}


def _apply(fn, x):
    out = np.empty_like(x)
    _LOOPS[fn](x, out)
    return out


def _reference(ufunc, x):
    """Reference values one precision level above ``x``'s dtype."""
    wide = np.longdouble if x.dtype == F64 else F64
    with np.errstate(all="ignore"):
        return ufunc(x.astype(wide))


def _ulp_errors(y, ref, dtype):
    """Return ``(normal, subnormal)`` max errors in ulp of the rounded ``ref``.

    Only finite reference values count; subnormal errors (including results
    that round to 0) are in units of the smallest subnormal.
    """
    with np.errstate(all="ignore"):
        rounded = ref.astype(dtype)
        ulp = np.spacing(np.abs(rounded)).astype(ref.dtype)
    finite = np.isfinite(rounded)
    tiny = np.finfo(dtype).tiny
    normal = finite & (np.abs(rounded) >= tiny)
    subnormal = finite & (np.abs(rounded) < tiny)
    err = np.zeros(y.shape, dtype=ref.dtype)
    err[finite] = np.abs(y[finite].astype(ref.dtype) - ref[finite]) / ulp[finite]
    worst_normal = float(err[normal].max()) if normal.any() else 0.0
    worst_sub = float(err[subnormal].max()) if subnormal.any() else 0.0
    return worst_normal, worst_sub


def _exp_inputs(dtype, lo, hi, normal_lo, seed):
    rng = np.random.default_rng(seed)
    parts = [
        np.linspace(lo, hi, 2_000_001),
        rng.uniform(lo, hi, 1_000_000),
        rng.uniform(-1.0, 1.0, 200_000),  # around exp(0) == 1
        np.linspace(lo, normal_lo + 1.0, 200_001),  # underflow edge
        np.linspace(hi - 1.0, hi, 100_001),  # overflow edge
    ]
    return np.concatenate(parts).astype(dtype)


def _log_inputs(dtype, seed):
    rng = np.random.default_rng(seed)
    uint = np.uint64 if dtype == F64 else np.uint32
    info = np.finfo(dtype)
    inf_bits = int(np.array(np.inf, dtype=dtype).view(uint))
    tiny_bits = int(np.array(info.tiny, dtype=dtype).view(uint))
    k = np.arange(-2000, 2001)
    parts = [
        # Uniform over bit patterns: every binade, including subnormals.
        rng.integers(1, inf_bits, 2_000_000, dtype=uint).view(dtype),
        rng.integers(1, tiny_bits, 200_000, dtype=uint).view(dtype),
        rng.uniform(0.5, 2.0, 1_000_000).astype(dtype),
        np.linspace(0.6, 1.5, 500_001).astype(dtype),
        (1.0 + k * info.eps).astype(dtype),  # log near 1 cancels
        # Every power of two, from the smallest subnormal up.
        np.exp2(np.arange(np.log2(info.smallest_subnormal), info.maxexp)).astype(dtype),
    ]
    return np.concatenate(parts)


@pytest.mark.parametrize(
    ("fn", "dtype", "lo", "hi", "normal_lo", "slack"),
    [
        (exp64, F64, -745.2, 709.79, -708.39, _REF64_SLACK),
        (exp32, F32, -104.0, 88.72, -87.33, 0.0),
    ],
    ids=["exp64", "exp32"],
)
def test_exp_accuracy(fn, dtype, lo, hi, normal_lo, slack):
    x = _exp_inputs(dtype, lo, hi, normal_lo, seed=0)
    y = _apply(fn, x)
    assert y.dtype == dtype
    normal, sub = _ulp_errors(y, _reference(np.exp, x), dtype)
    assert normal <= EXP_ULP + slack, f"{fn.__name__}: max error {normal:.3f} ulp (normal results)"
    assert sub <= SUBNORMAL_ULP + slack, (
        f"{fn.__name__}: max error {sub:.3f} ulp (subnormal results)"
    )


@pytest.mark.parametrize(
    ("fn", "dtype", "slack"),
    [(log64, F64, _REF64_SLACK), (log32, F32, 0.0)],
    ids=["log64", "log32"],
)
def test_log_accuracy(fn, dtype, slack):
    x = _log_inputs(dtype, seed=1)
    y = _apply(fn, x)
    assert y.dtype == dtype
    normal, sub = _ulp_errors(y, _reference(np.log, x), dtype)
    assert sub == 0.0  # log of a positive float is never subnormal
    assert normal <= LOG_ULP + slack, f"{fn.__name__}: max error {normal:.3f} ulp"


@pytest.mark.parametrize(("fn", "dtype"), [(exp64, F64), (exp32, F32)], ids=["exp64", "exp32"])
def test_exp_special_values(fn, dtype):
    big = 710.0 if dtype == F64 else 89.0
    small = -746.0 if dtype == F64 else -104.0
    x = np.array([0.0, -0.0, -np.inf, np.inf, np.nan, big, small, -1e30, 1e30], dtype=dtype)
    y = _apply(fn, x)
    expected = np.array([1, 1, 0, np.inf, np.nan, np.inf, 0, 0, np.inf], dtype=dtype)
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize(("fn", "dtype"), [(log64, F64), (log32, F32)], ids=["log64", "log32"])
def test_log_special_values(fn, dtype):
    x = np.array([1.0, 0.0, -0.0, np.inf, -np.inf, -1.0, np.nan], dtype=dtype)
    y = _apply(fn, x)
    expected = np.array([0, -np.inf, -np.inf, np.inf, np.nan, np.nan, np.nan], dtype=dtype)
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize(("fn", "dtype"), [(exp64, F64), (exp32, F32)], ids=["exp64", "exp32"])
def test_exp_subnormal_range_is_gradual(fn, dtype):
    # Results between the smallest subnormal and the smallest normal number
    # are not flushed to zero.
    lo, hi = (-745.0, -708.5) if dtype == F64 else (-103.0, -87.5)
    y = _apply(fn, np.linspace(lo, hi, 10_001).astype(dtype))
    assert np.all(y > 0)
    assert np.all(y < np.finfo(dtype).tiny)


@pytest.mark.parametrize(
    ("fn", "dtype", "x"),
    [
        (exp64, F64, np.linspace(-745.2, 709.7, 100_003)),
        (exp32, F32, np.linspace(-104.0, 88.7, 100_003)),
        (log64, F64, np.geomspace(1e-310, 1e308, 100_003)),
        (log32, F32, np.geomspace(1e-44, 1e38, 100_003)),
    ],
    ids=["exp64", "exp32", "log64", "log32"],
)
def test_caller_fastmath_does_not_change_results(fn, dtype, x):
    # The functions are compiled with their own flags and inlined by LLVM,
    # so the caller's fast-math flags cannot reassociate their arithmetic.
    x = x.astype(dtype)
    expected = _apply(fn, x)
    for fastmath in (set(FASTMATH), True):
        out = np.empty_like(x)
        _make_loop(fn, fastmath)(x, out)
        np.testing.assert_array_equal(out, expected)


def test_jitted_loop_both_dtypes():
    @numba.njit(fastmath=set(FASTMATH))
    def softmax_and_log(a64, a32, out64, out32, log64_out, log32_out):
        top64 = a64.max()
        top32 = a32.max()
        for i in range(a64.shape[0]):
            out64[i] = exp64(a64[i] - top64)
            out32[i] = exp32(a32[i] - top32)
        for i in range(a64.shape[0]):
            log64_out[i] = log64(out64[i])
            log32_out[i] = log32(out32[i])

    rng = np.random.default_rng(2)
    # Scale keeps exp32(a - max) above float32 underflow so that log32 of it
    # is finite.
    a64 = rng.normal(scale=8.0, size=10_007)
    a32 = a64.astype(F32)
    out64, log64_out = np.empty_like(a64), np.empty_like(a64)
    out32, log32_out = np.empty_like(a32), np.empty_like(a32)
    softmax_and_log(a64, a32, out64, out32, log64_out, log32_out)

    np.testing.assert_allclose(out64, np.exp(a64 - a64.max()), rtol=5e-16, atol=0)
    np.testing.assert_allclose(out32, np.exp(a32 - a32.max()), rtol=3e-7, atol=0)
    np.testing.assert_allclose(log64_out, a64 - a64.max(), rtol=1e-15, atol=1e-13)
    np.testing.assert_allclose(log32_out, a32 - a32.max(), rtol=1e-6, atol=1e-5)
    assert out32.dtype == F32 and log32_out.dtype == F32


@pytest.mark.parametrize("fn", [exp32, log32], ids=["exp32", "log32"])
def test_float32_stays_float32(fn):
    @numba.njit
    def call(x):
        return fn(x)

    call(F32(0.5))
    sig = call.signatures[0]
    assert call.overloads[sig].signature.return_type == numba.float32
    # The caller's final IR holds the inlined body (the cached callee's own IR
    # cannot be inspected): float arithmetic only, no double.
    llvm_ir = call.inspect_llvm(sig)
    assert re.search(r"= f(add|sub|mul|div)\b[^\n]*\bfloat\b", llvm_ir)
    assert not re.search(r"= f(add|sub|mul|div)\b[^\n]*\bdouble\b", llvm_ir)


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 SIMD check")
@pytest.mark.parametrize(
    ("fn", "dtype", "ty"),
    [(exp64, F64, "double"), (exp32, F32, "float"), (log64, F64, "double"), (log32, F32, "float")],
    ids=["exp64", "exp32", "log64", "log32"],
)
def test_loop_is_vectorised(fn, dtype, ty):
    x = np.ones(16, dtype=dtype)
    loop = _make_loop(fn, set(FASTMATH))
    loop(x, np.empty_like(x))
    llvm_ir = loop.inspect_llvm(loop.signatures[0])
    packed = re.findall(rf"= f(?:add|sub|mul)\b[^\n]*<\d+ x {ty}>", llvm_ir)
    assert packed, "loop calling the function was not vectorised"


@numba.njit(fastmath=set(FASTMATH))
def _muladd_loop(x, y, z, out):
    for i in range(x.shape[0]):
        out[i] = muladd(x[i], y[i], z[i])


@pytest.mark.parametrize("dtype", [F64, F32])
def test_muladd_rounds_once_in_its_dtype(dtype):
    # x * y + z with one rounding (the fused multiply-add of x86-64 and
    # AArch64), or the product rounded first: either way within the dtype.
    rng = np.random.default_rng(3)
    x, y, z = (rng.normal(size=1000).astype(dtype) for _ in range(3))
    out = np.empty_like(x)
    _muladd_loop(x, y, z, out)
    assert out.dtype == dtype
    fused = np.array(
        [float(Fraction(float(a)) * Fraction(float(b)) + Fraction(float(c))) for a, b, c in zip(x, y, z)]
    ).astype(dtype)  # exact, rounded to float64 and then (float32) to the dtype
    separate = x * y + z
    assert np.all((out == fused) | (out == separate))
    if platform.machine() in ("x86_64", "AMD64"):
        llvm_ir = _muladd_loop.inspect_llvm(_muladd_loop.signatures[-1])
        ty = "double" if dtype == F64 else "float"
        assert re.search(rf"fmuladd\.v\d+f{8 * dtype().itemsize}", llvm_ir) or re.search(
            rf"<\d+ x {ty}>", llvm_ir
        ), "a loop of muladd was not vectorised"
