"""How fastem's kernels are compiled (fastem/kernels/_codegen.py): the vector width.

That a kernel compiled in the process and one loaded from the disk cache give
the same results is tested in tests/test_determinism.py.
"""

import copy
import inspect
import os
import re
import subprocess
import sys
import threading

import numba
import numpy as np
import pytest

from fastem.kernels import _cache, _codegen

AVX512 = "+sse2,+avx2,+fma,+avx512f,+avx512dq,+avx512vl,-amx-tile"
AVX2 = "+sse2,+avx2,+fma,-avx512f,-avx512dq"


@pytest.mark.parametrize(
    "setting, features, width",
    [
        (None, AVX512, 512),
        (None, AVX2, 256),
        ("auto", AVX512, 512),
        (" AUTO ", AVX2, 256),
        ("", AVX512, 512),
        ("256", AVX512, 256),
        ("512", AVX2, 512),
    ],
)
def test_vector_width_follows_the_cpu_and_the_environment(setting, features, width):
    environ = {} if setting is None else {_codegen.ENV: setting}
    assert _codegen.vector_width(environ, features) == width


@pytest.mark.parametrize("setting", ["128", "avx512", "yes"])
def test_an_unknown_vector_width_is_refused_with_the_choices(setting):
    with pytest.raises(ValueError, match=r"FASTEM_VECTOR_WIDTH=.*'auto'.*'256' or '512'"):
        _codegen.vector_width({_codegen.ENV: setting}, AVX512)


def test_the_vector_width_names_the_kernel_cache_directory(monkeypatch):
    monkeypatch.setattr(_cache, "_stamp", [])
    monkeypatch.setitem(_codegen._settings, "vector_width", 256)
    narrow = _cache._kernel_sources_stamp()
    monkeypatch.setattr(_cache, "_stamp", [])
    monkeypatch.setitem(_codegen._settings, "vector_width", 512)
    assert _cache._kernel_sources_stamp() != narrow


_COMPILE = """
import numba
import numpy as np
from fastem import GaussianMixture
from fastem.kernels import fused_e_step_serial as fused_e_step  # the kernel of small fits

X = np.random.default_rng(0).normal(size=(500, 3))
GaussianMixture(2, covariance_type="diag", max_iter=2, tol=0).fit(X)

@numba.njit(fastmath=True)
def users_sum(x):
    s = 0.0
    for v in x:
        s += v
    return s

users_sum(X[:, 0])

# Numba compiles ndarray.view as a subroutine, once per process, by the first
# function that needs it: here one compiled as fastem's kernels are (as the
# missing-value kernels view their scratch), before the user's.
from fastem.kernels._codegen import compiled_as_kernels

with compiled_as_kernels():
    @numba.njit
    def kernel_view(raw):
        return raw.view(np.float64)

    kernel_view(np.zeros(16, dtype=np.uint8))

@numba.njit
def users_view(raw):
    return raw.view(np.float64)

users_view(np.zeros(16, dtype=np.uint8))
def width(llvm):
    marks = [w for w in ("256", "512") if f'"prefer-vector-width"="{w}"' in llvm]
    return "+".join(marks) or "none"

# the skeleton and the partition it calls, where the vector loops are
kernels = (fused_e_step.skeleton, fused_e_step.partition)
kernel = "".join(llvm for k in kernels for llvm in k.inspect_llvm().values())
user = "".join(users_sum.inspect_llvm().values()) + "".join(users_view.inspect_llvm().values())
zmm = "".join(fused_e_step.partition.inspect_asm().values()).count("%zmm")
probe = "".join(kernel_view.inspect_llvm().values())
print(width(kernel), width(user), "define" in kernel and "define" in user, width(probe), zmm)
"""


def _compile_in_subprocess(setting, cache_dir):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # FASTEM_COMPILE_AHEAD=0: the kernels inspected are compiled in that process (a kernel
    # a second process compiled is loaded from the cache, which keeps no LLVM to inspect)
    env = dict(os.environ, FASTEM_VECTOR_WIDTH=setting, NUMBA_CACHE_DIR=str(cache_dir),
               FASTEM_COMPILE_AHEAD="0",
               PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", _COMPILE], env=env, capture_output=True,
                            text=True, check=True)
    *marks, zmm = result.stdout.split()
    return marks, int(zmm)


def test_only_fastems_kernels_are_marked_for_the_vector_width(tmp_path):
    # The attribute of the chosen width is in the LLVM code on any CPU; a
    # user's function compiled in the same process after fastem's kernels
    # never carries one, nor do the functions of Numba's it links that
    # fastem's kernels compiled first. Where the CPU has AVX-512, LLVM honours it, whatever
    # its own tuning for the CPU prefers: the kernel's machine code uses the
    # 512-bit registers many times more at 512 than at 256.
    wide, wide_zmm = _compile_in_subprocess("512", tmp_path / "512")
    narrow, narrow_zmm = _compile_in_subprocess("256", tmp_path / "256")
    assert wide == ["512", "none", "True", "512"]
    assert narrow == ["256", "none", "True", "256"]
    if "+avx512f" in _codegen._compile_features().split(","):
        assert wide_zmm > 3 * narrow_zmm + 100


def test_an_unknown_vector_width_stops_the_import_with_the_reason():
    env = dict(os.environ, FASTEM_VECTOR_WIDTH="1024")
    result = subprocess.run([sys.executable, "-c", "import fastem"], env=env,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "FASTEM_VECTOR_WIDTH='1024' is not a vector width fastem knows" in result.stderr


def test_numba_disable_jit_stops_the_import_with_the_reason():
    # Without Numba's compiler no kernel runs: say so at import, not in a kernel.
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    result = subprocess.run([sys.executable, "-c", "import fastem"], env=env,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "ImportError: NUMBA_DISABLE_JIT is set" in result.stderr
    assert "env -u NUMBA_DISABLE_JIT" in result.stderr


def test_compiling_as_kernels_keeps_other_threads_compilations_out():
    # compiled_as_kernels() holds Numba's compiler lock: a function another
    # thread compiles meanwhile waits, and is then compiled as Numba alone would.
    entered, release = threading.Event(), threading.Event()

    def hold():
        with _codegen.compiled_as_kernels():
            entered.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    assert entered.wait(30)

    @numba.njit
    def users_double(x):
        return 2.0 * x

    compiled = threading.Event()
    compiler = threading.Thread(target=lambda: (users_double(1.0), compiled.set()))
    compiler.start()
    try:
        assert not compiled.wait(0.5)
    finally:
        release.set()
        holder.join()
        compiler.join(60)
    assert compiled.is_set()
    assert '"prefer-vector-width"' not in "".join(users_double.inspect_llvm().values())
    assert _codegen._compilation.depth == 0


def _c_wrappers(dispatcher):
    """Names of the C-callable wrappers (``cfunc.*``) defined in a dispatcher's LLVM code."""
    llvm = "".join(dispatcher.inspect_llvm().values())
    return re.findall(r'define [^@\n]*@"?(cfunc\.[^"( ]+)', llvm)


def test_fastems_functions_are_compiled_without_the_c_wrapper_and_others_keep_it():
    # Nothing of fastem takes one of its functions as a first-class function
    # value, the wrapper's use; a user's function compiled in the same process
    # keeps its wrapper. Compiled anew: the disk cache keeps no LLVM code.
    from fastem.kernels.linalg import full_covariances

    ours = numba.njit(error_model="numpy")(full_covariances.py_func)
    ours.compile((numba.float64[::1], numba.float64[:, :, ::1], numba.float64, numba.float64[:, :, ::1]))

    @numba.njit
    def users_scale(x):
        return 2.0 * x

    users_scale(1.0)
    assert _c_wrappers(ours) == []
    assert len(_c_wrappers(users_scale)) == 1



@pytest.mark.parametrize(
    "module, name, signature, args",
    [
        ("fastem._hierarchical", "_pair", "int64(int64, int64, int64)", (1, 2, 5)),
        ("fastem.kernels._fused", "_product_group", "int64(int64)", (7,)),
    ],
)
def test_a_c_callback_of_fastems_function_keeps_its_c_wrapper(module, name, signature, args):
    # numba.cfunc's address is the wrapper's: without it, the address was 0 and a
    # call through it crashed the process.
    import importlib

    py_func = getattr(importlib.import_module(module), name).py_func
    callback = numba.cfunc(signature)(py_func)
    assert callback.address != 0
    assert callback.ctypes(*args) == py_func(*args)


def _compiled_callers_only():
    """Every function of fastem compiled for compiled callers only, by name."""
    import fastem._hierarchical
    import fastem.kernels.gaussian
    from fastem.kernels import _fused

    found = {
        f"{module.__name__}.{name}": value
        for module in (fastem._hierarchical, fastem.kernels.gaussian, _fused)
        for name, value in vars(module).items()
        if isinstance(value, _fused._CompiledCallersOnly)
    }
    found.update({f"partition, cached={cached}": d for cached, d in _fused._PARTITION.items()})
    return found


def test_a_function_for_compiled_callers_refuses_a_call_from_python():
    # Compiled without the wrapper that unpacks Python arguments, such a function
    # called from Python jumped to no code and crashed the process. Before and
    # after a fit, and once compiled for the call's types: a TypeError that names
    # the function and its py_func.
    import numpy as np

    from fastem import GaussianMixture
    from fastem._hierarchical import _term

    functions = _compiled_callers_only()
    assert len(functions) >= 10, sorted(functions)
    for name, dispatcher in functions.items():
        arity = len(inspect.signature(dispatcher.py_func).parameters)
        with pytest.raises(TypeError, match="compiled functions only.*py_func"):
            dispatcher(*[1.0] * arity)
    X = np.random.default_rng(0).normal(size=(400, 2))
    X[:200] += 4.0
    GaussianMixture(2, random_state=0).fit(X)
    _term.compile((numba.float64,) * 4 + (numba.int64,))
    with pytest.raises(TypeError, match=r"fastem\._hierarchical\._term is compiled for calls from"):
        _term(3.0, 1.0, 0.5, 0.1, 2)
    assert np.isfinite(_term.py_func(3.0, 1.0, 0.5, 0.1, 2))


def _helper_with_many_blocks(x, n):
    s = 0.0
    for i in range(n):
        if x[i] > 0:
            s += x[i]
        elif x[i] < -1:
            s -= x[i]
        else:
            s += 1.0
    for i in range(n):
        s = s * 0.5 if s > 10 else s + x[i]
    return s


_helper = _helper_with_many_blocks  # in the compiled twins' globals, the inlined dispatcher


def _caller(x):
    return _helper(x, x.shape[0]) + _helper(x[::-1], x.shape[0] - 1)


def _as_function_of(module, function, scope):
    """``function`` with ``scope`` for its globals, defined in ``module`` as Numba sees it."""
    twin = type(function)(function.__code__, scope, function.__name__)
    twin.__module__ = module
    return twin


def _kernel_pair(module):
    """``_caller`` compiled as a function of ``module``, with its helper inlined."""
    scope = {}
    scope["_helper"] = numba.njit(inline="always")(_as_function_of(module, _helper_with_many_blocks, scope))
    return numba.njit(_as_function_of(module, _caller, scope))


@pytest.mark.parametrize("module", ["fastem.kernels._inlining_probe", "not_fastem"])
def test_a_kernels_inlined_helper_copies_its_scope_once_per_copy(module, monkeypatch):
    # Numba copies an inlined function's IR twice, one deep copy per block with a memo of
    # its own: the scope, which holds every variable, was copied with each block (in the
    # 'full' log-densities, a tenth of a second per helper). In fastem's kernels the blocks
    # of one copy share one copy of the scope; the function computes the same.
    from numba.core import ir

    copies = []

    def counted(self, memo):
        if self.localvars._con:  # the function's scope, not its empty parent
            copies.append(self)
        twin = object.__new__(type(self))
        memo[id(self)] = twin
        twin.__dict__.update(copy.deepcopy(self.__dict__, memo))
        return twin

    monkeypatch.setattr(ir.Scope, "__deepcopy__", counted, raising=False)
    x = np.linspace(-3.0, 3.0, 50)
    assert _kernel_pair(module)(x) == _caller(x)
    if module.startswith("fastem."):
        assert len(copies) == 2 * 2  # two inlined calls, two copies each
    else:
        assert len(copies) > 2 * 2 * 5  # Numba's own: a copy per block and copy



def test_numba_s_inlining_module_keeps_the_rest_of_the_copy_module():
    """The inliner's module sees fastem's block copier as its ``copy`` module: every other
    function of the copy module is the copy module's, for a Numba whose inliner uses one."""
    from numba.core import inline_closurecall

    import copy

    assert inline_closurecall.copy.copy is copy.copy
    assert inline_closurecall.copy.Error is copy.Error
    value = [[1.0], {"a": 2}]
    assert inline_closurecall.copy.deepcopy(value) == value
