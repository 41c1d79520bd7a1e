"""How fastem's kernels are compiled: the vector width, and one copy of each function.

Both adjustments apply only to the LLVM code Numba generates while one of
fastem's kernels (a function defined in ``fastem/kernels``) compiles, which
Numba's "numba:compile" events delimit; Numba compiles under one process-wide
lock, so nothing another thread compiles meanwhile is affected. The vector
width goes on fastem's own functions, and on the blocks of a family
registered with :func:`~fastem.kernels.register_family_kernels` from
outside fastem, which the fused E-step calls (like the kernels, their last
bits may differ between the two widths). Functions of Numba's that a
kernel's compilation compiles on the way (its implementations of NumPy
functions and array methods) live
in libraries that Numba shares with the rest of the process: they are
compiled as Numba alone would, and take the kernel's width where they are
inlined into it. The user's other Numba functions are compiled as Numba
alone would.

The vector width
    On CPUs with AVX-512, LLVM's default tuning for some of them (Intel's
    ``prefer-256-bit``) keeps loops on 256-bit vectors and leaves half of each
    vector register unused; for others (AMD's Zen 4 and 5) it fills them.
    Setting ``NUMBA_CPU_FEATURES`` would change that for every Numba function
    of the process. fastem instead gives each of its own functions the
    attribute ``"prefer-vector-width"``, which LLVM's X86 back end reads per
    function (``X86TargetMachine::getSubtargetImpl``) in place of the CPU's
    tuning. The width is chosen once per process from the CPU features Numba
    compiles for (so ``NUMBA_CPU_NAME`` and ``NUMBA_CPU_FEATURES`` keep their
    meaning) and from the environment variable ``FASTEM_VECTOR_WIDTH``:

    ``auto`` (default)
        512 where the features include AVX-512 (``+avx512f``), otherwise 256.
    ``256``
        256-bit vectors at most, on every CPU (128 where the features have no
        AVX, as with ``NUMBA_CPU_NAME=generic``).
    ``512``
        512 on any CPU (without AVX-512 it has no effect).

    The internal linkage below applies at every width.
    The choice is part of the name of the kernels' disk-cache directory (see
    :mod:`fastem.kernels._cache`), so kernels compiled at one width are never
    loaded at the other; Numba already keeps its cache apart per CPU name and
    feature set. ``scripts/bench_vector_width.py`` measures the two widths
    side by side.

One copy of each function
    Numba compiles a kernel's parallel region, and every function a kernel
    calls, into libraries of their own, finalised and loaded into the process
    before the kernel, and links a copy of each into the kernel's module as
    ``linkonce_odr`` (weak) functions, which LLVM then optimises a second
    time with the kernel. When the kernel's machine code is loaded, a weak
    function already defined in the process resolves to that definition. So a
    kernel compiled in this process runs the first copies, optimised once,
    while the same kernel loaded from the disk cache, whose callees were never
    compiled here, runs its own copies, optimised twice. Under fast-math the
    two may sum in different orders: the statistics of the same data under the
    same parameters differed in the last bits between the first process,
    which compiled the kernels, and every later one. fastem's kernels
    therefore give the linked copies internal linkage before LLVM optimises
    the kernel's module: a kernel always runs its own copies, the ones its
    disk-cache entry holds, and its results do not depend on whether it was
    compiled or loaded.

One copy of each inlined scope
    Numba inlines a function of ``inline="always"`` by copying its IR twice
    (``InlineWorker.inline_ir``), one deep copy per block, each block with
    a fresh memo: the scope of the function, which holds every one of its
    variables, was copied again with every block, so that the copy of a
    helper grew with its blocks times its variables (0.1 s for one of 48
    blocks and 470 variables in the 'full' log-densities; 0.3 s of a cold
    first fit). In fastem's kernels the blocks of one copy share one memo,
    keyed by the scope they share: one copy of the scope and of each
    variable, shared by the blocks as in the IR copied, and the same IR
    after inlining. Other functions are inlined as Numba alone inlines them.

No C callbacks
    Beside each function, Numba builds a wrapper with the C calling
    convention, for use as a first-class function value (a function passed
    to a jitted function typed as a ``numba.types.FunctionType``), and LLVM
    optimises and emits it with the function. fastem passes none of its
    functions as such values (the fused E-step and the hierarchical start call
    theirs through the address of the function itself) and defines no
    ``numba.cfunc`` (whose address is that wrapper's), so the functions
    defined in fastem's modules are compiled without that wrapper: a cold
    first fit built 39 of them, 5% of the LLVM instructions it compiled. Other
    functions, a registered family's blocks among them, keep theirs, and so
    does a ``numba.cfunc`` made of one of fastem's Python functions. One of
    fastem's compiled functions passed from Python as a first-class function
    value is refused by Numba (its wrapper's address is 0); passed within
    compiled code it is called directly, as before.
"""

import contextlib
import copy
import os

import llvmlite.binding as ll
from numba.core import codegen
from numba.core import inline_closurecall
from numba.core.base import BaseContext
from numba.core.compiler_lock import global_compiler_lock
from numba.core.event import Listener, register
from numba.core.lowering import Lower

ENV = "FASTEM_VECTOR_WIDTH"
CHOICES = ("auto", "256", "512")


def attribute(width):
    """The LLVM function attribute that asks for vectors of ``width`` bits."""
    return f'"prefer-vector-width"="{width}"'


_KERNEL_PACKAGE = __name__.rpartition(".")[0] + "."
_PACKAGE = __name__.partition(".")[0] + "."


def _compile_features():
    """The LLVM feature string Numba's CPU target compiles for (``+avx2,+fma,...``)."""
    from numba.core.registry import cpu_target

    return cpu_target.target_context.codegen()._tm_features


def vector_width(environ=None, features=None):
    """The vector width, in bits, that fastem's kernels are compiled for: 512 or 256.

    ``environ`` defaults to ``os.environ`` and ``features`` to
    the features Numba compiles for. Raises ValueError when
    ``FASTEM_VECTOR_WIDTH`` holds anything but ``auto``, ``256`` or ``512``.
    """
    environ = os.environ if environ is None else environ
    choice = environ.get(ENV, "auto").strip().lower() or "auto"
    if choice not in CHOICES:
        raise ValueError(
            f"{ENV}={environ[ENV]!r} is not a vector width fastem knows; set it to 'auto' "
            "(512 bits where the CPU has AVX-512), '256' or '512', or unset it."
        )
    if choice != "auto":
        return int(choice)
    features = _compile_features() if features is None else features
    return 512 if "+avx512f" in features.split(",") else 256


class _KernelCompilation(Listener):
    """The compilations nested in one of fastem's kernels ("numba:compile" events).

    ``stack`` holds, per nested compilation, whether it compiles one of
    fastem's own functions or a registered family's block (or, for the
    functions first called inside :func:`compiled_as_kernels`, which push
    ``None``, stands for one). Numba compiles under one process-wide lock,
    so one stack serves every thread.
    """

    def __init__(self):
        self.stack = []

    @property
    def depth(self):
        return len(self.stack)

    @property
    def own(self):
        """Whether the innermost compilation is one of fastem's own functions."""
        return bool(self.stack) and self.stack[-1]

    def on_start(self, event):
        # Imported here, not with this module: fastem.kernels installs its cache
        # locators (``_cache.install``) after importing this module and before
        # any kernel module, whose dispatchers take their locator when defined.
        from ._fused import is_family_block

        dispatcher = event.data["dispatcher"]
        module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
        # a registered family's blocks are compiled for the fused E-step on their own
        own = module.startswith(_KERNEL_PACKAGE) or is_family_block(dispatcher)
        if self.stack or own:
            own = own or self.stack[-1] is None
            self.stack.append(own)

    def on_end(self, event):
        if self.stack:
            self.stack.pop()


_compilation = _KernelCompilation()
_settings = {}


def _add_ir_module(original):
    """``CPUCodeLibrary.add_ir_module`` that marks fastem's functions with the vector width.

    Only while the innermost compilation is one of fastem's own functions: a
    function of Numba's that a kernel's compilation compiles on the way (the
    implementation of ``ndarray.view``, say) lives in a library that Numba
    shares with every later function of the process, the user's included,
    and is left as Numba alone compiles it. Inlined into a kernel, its code
    takes the kernel's width.
    """

    def add_ir_module(self, ir_module):
        if _compilation.own:
            mark = attribute(_settings["vector_width"])
            for function in ir_module.functions:
                if not function.is_declaration:
                    # llvmlite's FunctionAttributes takes enum attributes only;
                    # a string attribute goes into the underlying set as is.
                    set.add(function.attributes, mark)
        return original(self, ir_module)

    add_ir_module.fastem_original = original
    return add_ir_module


def _optimize_final_module(original):
    """``CPUCodeLibrary._optimize_final_module`` that keeps a kernel's linked copies its own."""

    def optimize_final_module(self):
        if _compilation.depth:
            for function in self._final_module.functions:
                if not function.is_declaration and function.linkage == ll.Linkage.linkonce_odr:
                    function.linkage = ll.Linkage.internal
        return original(self)

    optimize_final_module.fastem_original = original
    return optimize_final_module


def _compile_subroutine_no_cache(original):
    """``BaseContext._compile_subroutine_no_cache`` that compiles as Numba alone would.

    Numba compiles some implementations (``ndarray.view``'s, say) as
    subroutines of the function being compiled, without a "numba:compile"
    event, and keeps them for every later function of the process: inside a
    kernel's compilation, such a subroutine counts as a function of
    Numba's, not of fastem's.
    """

    def compile_subroutine_no_cache(self, *args, **kwargs):
        if not _compilation.stack:
            return original(self, *args, **kwargs)
        _compilation.stack.append(False)
        try:
            return original(self, *args, **kwargs)
        finally:
            _compilation.stack.pop()

    compile_subroutine_no_cache.fastem_original = original
    return compile_subroutine_no_cache


def _create_cfunc_wrapper(original):
    """``Lower.create_cfunc_wrapper`` that builds no C wrapper for the functions of fastem's modules.

    Except in a C callback's compilation (``numba.cfunc`` of one of them, whose
    address is the wrapper's), which Numba alone runs with ``no_compile``: it
    adds the wrapper before it compiles the module.
    """

    def create_cfunc_wrapper(self):
        callback = self.flags is not None and self.flags.no_compile
        if self.fndesc.modname.startswith(_PACKAGE) and not callback:
            return None
        return original(self)

    create_cfunc_wrapper.fastem_original = original
    return create_cfunc_wrapper


class _BlockCopies:
    """The ``copy`` module as :mod:`numba.core.inline_closurecall` sees it: within the
    ``inline_ir`` of one of fastem's kernels, the deep copies of blocks of one scope share
    a memo (see the module docstring)."""

    def __init__(self):
        self.memos = None  # {id(scope): (scope, memo)} within such an inline_ir, else None

    def __getattr__(self, name):
        # the rest of the copy module as it is (copy.copy, ...), for a Numba that uses it
        return getattr(copy, name)

    def deepcopy(self, value, memo=None):
        scope = getattr(value, "scope", None)
        if memo is not None or self.memos is None or scope is None:
            return copy.deepcopy(value, memo)
        # the scope is kept with its memo, so that its id names no other scope meanwhile
        return copy.deepcopy(value, self.memos.setdefault(id(scope), (scope, {}))[1])


_block_copies = _BlockCopies()


def _inline_ir(original):
    """``InlineWorker.inline_ir`` whose copies of the callee's blocks share one memo per
    scope in fastem's kernels (:class:`_BlockCopies`)."""

    def inline_ir(self, *args, **kwargs):
        if not _compilation.own or _block_copies.memos is not None:
            return original(self, *args, **kwargs)
        _block_copies.memos = {}
        try:
            return original(self, *args, **kwargs)
        finally:
            _block_copies.memos = None

    inline_ir.fastem_original = original
    return inline_ir


@contextlib.contextmanager
def compiled_as_kernels():
    """Compile the Numba functions first called inside as fastem's kernels are compiled.

    For measurements that stand for a kernel's inner loop (the benchmarks'
    exp throughput probe); such functions must not be cached on disk, whose
    index does not know the vector width. Holds Numba's compiler lock, so
    that another thread compiles nothing meanwhile.
    """
    with global_compiler_lock:
        _compilation.stack.append(None)
        try:
            yield
        finally:
            _compilation.stack.pop()


def installed_vector_width():
    """The vector width this process compiles fastem's kernels for (after :func:`install`)."""
    return _settings["vector_width"]


def register_bytes():
    """Bytes of the vector registers fastem's kernels fill: 64 with AVX-512 at 512 bits, else 32.

    For code that lays out its own vectors (the register tiles of
    :mod:`fastem.kernels._tiles`); 32 also where ``FASTEM_VECTOR_WIDTH=512``
    is set on a CPU without AVX-512.
    """
    wide = installed_vector_width() == 512 and "+avx512f" in _compile_features().split(",")
    return 64 if wide else 32


def install():
    """Compile fastem's kernels as described above, from now on; idempotent."""
    if _settings:
        return
    _settings["vector_width"] = vector_width()
    library = codegen.CPUCodeLibrary
    library.add_ir_module = _add_ir_module(library.add_ir_module)
    library._optimize_final_module = _optimize_final_module(library._optimize_final_module)
    context = BaseContext
    context._compile_subroutine_no_cache = _compile_subroutine_no_cache(
        context._compile_subroutine_no_cache
    )
    Lower.create_cfunc_wrapper = _create_cfunc_wrapper(Lower.create_cfunc_wrapper)
    worker = inline_closurecall.InlineWorker
    worker.inline_ir = _inline_ir(worker.inline_ir)
    inline_closurecall.copy = _block_copies
    register("numba:compile", _compilation)
