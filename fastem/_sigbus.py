"""Survive the truncation of a memory-mapped file while it is being read.

When another program truncates a file that this process has memory-mapped,
reading a page past the new end raises SIGBUS, whose default action kills the
process without a message. A Python signal handler cannot help: it would run
only after the faulting instruction returned, which it never does. So on
Linux (x86-64 and AArch64) fastem installs a small machine-code handler,
compiled from LLVM IR by llvmlite, and registers the address range of each
read of a memory-mapped array (an np.memmap, or an ``mmap.mmap`` under
``np.frombuffer``), and of each write into a memory-mapped ``out=`` array,
while it runs:

- a fault inside a range registered by :class:`guard` maps a page of zeros
  over the faulting page (``mmap`` with ``MAP_FIXED``), counts the fault,
  notes the lowest faulting page and returns, so the read goes on and
  finishes;
- when the guarded read is over, :class:`guard` maps the file back over the
  pages from the lowest faulting one to the end of the range, as the array's
  memory map had them (same protection, sharing and file offsets), so no page
  of zeros stays behind: a later read of a page past the file's new end
  faults again, as it would have without fastem, and a page that the file
  has again reads the file. It then raises a ``ValueError`` naming the file;
  the values read are discarded;
- a fault anywhere else restores the handler that was installed before
  (Python's ``faulthandler``, or the default action) and returns, so the
  fault happens again and is handled as it would have been without fastem;
- a SIGBUS sent by another process (``kill -BUS``, ``si_code <= 0``) is not a
  fault, and returning would not repeat it: the handler restores the
  previous action and raises the signal again, so it is delivered as it
  would have been without fastem.

Reads are as fast as before: the handler costs nothing until a fault. On
other platforms :class:`guard` only checks, and a truncation during a read
still ends the process (``docs/reliability.md``).
"""

import ctypes
import mmap
import os
import platform
import signal
import sys
import threading

import numpy as np

__all__ = ["guard", "SUPPORTED"]

SUPPORTED = sys.platform.startswith("linux") and platform.machine() in ("x86_64", "aarch64")

_SIGBUS = int(signal.SIGBUS) if SUPPORTED else None
_SA_SIGINFO = 0x4
_SA_ONSTACK = 0x08000000
_SA_RESTART = 0x10000000
_MAP_FIXED = 0x10
_N_SLOTS = 64
# The table the handler reads: one row per guarded range: start, end, faults,
# and the lowest page that faulted (``end`` until one does).
_table = np.zeros((_N_SLOTS, 4), dtype=np.int64)
_lock = threading.Lock()


def _lock_of_a_forked_child():
    """Give a forked child a lock of the table that no thread holds: a parent thread that
    held it (installing the handler on first use) does not exist in the child, whose
    first read of a memory-mapped file would wait for it forever."""
    global _lock
    _lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_lock_of_a_forked_child)
_free = list(range(_N_SLOTS))
_state = {}  # the handler, the libc functions and the previous sigaction, made on first use


class _Sigaction(ctypes.Structure):
    # glibc's and musl's struct sigaction on Linux
    _fields_ = [
        ("sa_sigaction", ctypes.c_void_p),
        ("sa_mask", ctypes.c_ulong * (128 // ctypes.sizeof(ctypes.c_ulong))),
        ("sa_flags", ctypes.c_int),
        ("sa_restorer", ctypes.c_void_p),
    ]


# The handler, in LLVM IR: compiled by llvmlite (already loaded by Numba) in
# tens of milliseconds, with this process's addresses of the table, of libc's
# mmap and sigaction and of the saved previous action written in as constants.
_HANDLER_IR = """
define void @fastem_sigbus_handler(i32 %signal, ptr %info, ptr %context) {{
entry:
  ; siginfo_t: si_signo, si_errno, si_code (3 ints, padded to 16 bytes), then si_addr
  %code_field = getelementptr i8, ptr %info, i64 8
  %code = load volatile i32, ptr %code_field
  %sent = icmp sle i32 %code, 0
  br i1 %sent, label %resend, label %fault
fault:
  %address_field = getelementptr i8, ptr %info, i64 16
  %address = load volatile i64, ptr %address_field
  br label %loop
loop:
  %slot = phi i64 [0, %fault], [%next, %continue]
  %done = icmp eq i64 %slot, {n_slots}
  br i1 %done, label %elsewhere, label %compare
compare:
  %row = mul i64 %slot, 4
  %start_field = getelementptr i64, ptr inttoptr (i64 {table} to ptr), i64 %row
  %start = load volatile i64, ptr %start_field
  %end_field = getelementptr i64, ptr %start_field, i64 1
  %end = load volatile i64, ptr %end_field
  %above = icmp sge i64 %address, %start
  %below = icmp slt i64 %address, %end
  %inside = and i1 %above, %below
  br i1 %inside, label %guarded, label %continue
continue:
  %next = add i64 %slot, 1
  br label %loop
guarded:
  %offset = urem i64 %address, {page}
  %page_start = sub i64 %address, %offset
  %page_pointer = inttoptr i64 %page_start to ptr
  %mapped = call ptr inttoptr (i64 {mmap} to ptr)(ptr %page_pointer, i64 {page}, i32 {protection}, i32 {flags}, i32 -1, i64 0)
  %count_field = getelementptr i64, ptr %start_field, i64 2
  %count = load volatile i64, ptr %count_field
  %count_plus_one = add i64 %count, 1
  store volatile i64 %count_plus_one, ptr %count_field
  %lowest_field = getelementptr i64, ptr %start_field, i64 3
  %lowest = load volatile i64, ptr %lowest_field
  %lower = icmp slt i64 %page_start, %lowest
  %new_lowest = select i1 %lower, i64 %page_start, i64 %lowest
  store volatile i64 %new_lowest, ptr %lowest_field
  ret void
elsewhere:
  %restored = call i32 inttoptr (i64 {sigaction} to ptr)(i32 %signal, ptr inttoptr (i64 {previous} to ptr), ptr null)
  ret void
resend:
  %restored_for_resend = call i32 inttoptr (i64 {sigaction} to ptr)(i32 %signal, ptr inttoptr (i64 {previous} to ptr), ptr null)
  %raised = call i32 inttoptr (i64 {raise_} to ptr)(i32 %signal)
  ret void
}}
"""


def _compile():
    """Compile the handler for this process; returns False where that is not possible."""
    try:
        import llvmlite.binding as llvm

        llvm.initialize_native_target()
        llvm.initialize_native_asmprinter()
        libc = ctypes.CDLL(None, use_errno=True)
        previous = _Sigaction()
        ir = _HANDLER_IR.format(
            n_slots=_N_SLOTS,
            table=_table.ctypes.data,
            page=mmap.PAGESIZE,
            mmap=ctypes.cast(libc.mmap, ctypes.c_void_p).value,
            protection=mmap.PROT_READ | mmap.PROT_WRITE,
            flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | _MAP_FIXED,
            sigaction=ctypes.cast(libc.sigaction, ctypes.c_void_p).value,
            raise_=ctypes.cast(getattr(libc, "raise"), ctypes.c_void_p).value,
            previous=ctypes.addressof(previous),
        )
        module = llvm.parse_assembly(ir)
        module.verify()
        machine = llvm.Target.from_default_triple().create_target_machine()
        engine = llvm.create_mcjit_compiler(module, machine)
        engine.finalize_object()
        address = engine.get_function_address("fastem_sigbus_handler")
    except Exception:  # noqa: BLE001 - an older llvmlite, or no libc symbols: no guard
        return False
    sigaction = libc.sigaction
    sigaction.restype = ctypes.c_int
    sigaction.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]
    # the engine owns the compiled code: keep it alive for the life of the process
    remap = libc.mmap
    remap.restype = ctypes.c_void_p
    remap.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long
    ]
    _state.update(
        engine=engine, address=address, previous=previous, sigaction=sigaction, mmap=remap
    )
    return True


# How each np.memmap mode maps its file: (open flags, protection, sharing).
_MODES = {
    "r": (os.O_RDONLY, mmap.PROT_READ, mmap.MAP_SHARED),
    "c": (os.O_RDONLY, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_PRIVATE),
    "r+": (os.O_RDWR, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED),
    "w+": (os.O_RDWR, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED),
}


def mapping_root(array):
    """What owns the file mapping under ``array``: an np.memmap, an ``mmap.mmap``, or None.

    Follows ``.base`` through views and through memoryviews (``np.frombuffer``
    of an ``mmap.mmap`` keeps the mmap behind a memoryview).
    """
    while array is not None:
        if isinstance(array, mmap.mmap):
            return array
        if isinstance(array, np.memmap) and isinstance(array.base, mmap.mmap):
            return array
        if isinstance(array, memoryview):
            array = array.obj
        elif isinstance(array, np.ndarray):
            array = array.base
        else:
            return None
    return None


def _address(root):
    """Address of the first byte of ``root``'s mapping (an np.memmap or an ``mmap.mmap``)."""
    if isinstance(root, np.ndarray):
        return root.ctypes.data
    return np.frombuffer(root, dtype=np.uint8).ctypes.data if len(root) else None


def mapped_region(address):
    """``(start, permissions, file offset at start, path)`` of the mapping holding ``address``.

    Read from ``/proc/self/maps``, so Linux only; None elsewhere, or when
    ``address`` is in no mapping of a file.
    """
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                fields = line.split(maxsplit=5)
                start, end = (int(bound, 16) for bound in fields[0].split("-"))
                if start <= address < end:
                    path = fields[5].rstrip("\n") if len(fields) == 6 else ""
                    if not path.startswith("/"):
                        return None  # anonymous memory, the heap, the stack
                    return start, fields[1], int(fields[2], 16), path
    except OSError:
        return None
    return None


def _how_mapped(array):
    """``(open flags, protection, sharing, address, file offset there)`` of ``array``'s map.

    What :func:`_map_file_back` needs to map the file again; None when the
    mapping cannot be found. An np.memmap says it in its mode and offset; an
    ``mmap.mmap`` says nothing, so its region of ``/proc/self/maps`` is read,
    before any fault replaces pages of it.
    """
    root = mapping_root(array)
    if isinstance(root, np.memmap):
        if root.mode not in _MODES:
            return None
        return (*_MODES[root.mode], root.ctypes.data, root.offset)
    address = None if root is None else _address(root)
    region = None if address is None else mapped_region(address)
    if region is None:
        return None
    start, permissions, offset, _ = region
    writable = "w" in permissions
    return (
        os.O_RDWR if writable and permissions[3] == "s" else os.O_RDONLY,
        mmap.PROT_READ | (mmap.PROT_WRITE if writable else 0),
        mmap.MAP_SHARED if permissions[3] == "s" else mmap.MAP_PRIVATE,
        start, offset,
    )


def _map_file_back(how, path, first, end):
    """Map ``path`` again over the pages ``[first, end)``, mapped as ``how`` says.

    Undoes the pages of zeros the handler mapped there. Best effort: returns
    False if the mapping was not found or the file cannot be mapped.
    """
    if how is None:
        return False
    open_flags, protection, sharing, address, offset = how
    page = mmap.PAGESIZE
    end = -(-end // page) * page
    # File offset of an address of the map: the byte at ``address`` is at ``offset``.
    file_offset = offset + (first - address)
    try:
        fd = os.open(path, open_flags)
    except OSError:
        return False
    try:
        result = _state["mmap"](first, end - first, protection, sharing | _MAP_FIXED, fd, file_offset)
    finally:
        os.close(fd)
    return result not in (None, ctypes.c_void_p(-1).value)


def _install():
    """Make the handler the SIGBUS action, keeping the one it replaces for other faults.

    Returns False if the handler cannot be had on this platform.
    """
    if "compiled" not in _state:
        _state["compiled"] = _compile()
    if not _state["compiled"]:
        return False
    sigaction, address = _state["sigaction"], _state["address"]
    current = _Sigaction()
    if sigaction(_SIGBUS, None, ctypes.byref(current)) != 0:
        return False
    if current.sa_sigaction == address:
        return True
    ctypes.memmove(ctypes.byref(_state["previous"]), ctypes.byref(current), ctypes.sizeof(current))
    action = _Sigaction()
    action.sa_sigaction = address
    action.sa_flags = _SA_SIGINFO | _SA_ONSTACK | _SA_RESTART
    return sigaction(_SIGBUS, ctypes.byref(action), None) == 0


def _byte_bounds(array):
    bounds = getattr(getattr(np.lib, "array_utils", None), "byte_bounds", None)
    if bounds is None:  # NumPy < 2
        bounds = np.byte_bounds
    return bounds(array)


class guard:
    """Context manager around a read of ``array``, memory-mapped from ``path``, or a write.

    Raises ``ValueError`` naming ``path`` when the file was truncated during
    the read (the read itself then returns zeros for the lost pages instead of
    killing the process). With ``writing=True`` the guarded access writes
    into ``array`` (an ``out=`` array): a write to a lost page goes to a page
    of zeros that is then dropped, and the error says that the file written
    lost the results. Guards nest and may run in several threads at once.
    """

    def __init__(self, array, path, writing=False):
        self.array = array
        self.path = path
        self.writing = writing
        self.start, self.end = _byte_bounds(array) if array.size else (0, 0)
        self.slot = None
        self.how = None

    def __enter__(self):
        if not SUPPORTED or self.end == self.start:
            return self
        with _lock:
            if _install() and _free:
                self.slot = _free.pop()
        if self.slot is not None:
            # How the file is mapped, read before a fault in the range can map zeros
            # over its pages (an mmap.mmap's mapping is known from /proc/self/maps only).
            self.how = _how_mapped(self.array)
            _table[self.slot] = (self.start, self.end, 0, self.end)
        return self

    def __exit__(self, exc_type, exc, traceback):
        if self.slot is None:
            return False
        with _lock:
            faults, lowest = int(_table[self.slot, 2]), int(_table[self.slot, 3])
            _table[self.slot] = 0
            _free.append(self.slot)
            self.slot = None
        if faults:
            _map_file_back(self.how, self.path, lowest, self.end)
            if self.writing:
                raise ValueError(
                    f"the output file {self.path!r} (the out= array) was truncated while "
                    f"fastem was writing into it ({faults} page(s) of its memory map were "
                    "gone), so the results written there are lost. Do not modify an out= "
                    "file while fastem writes it; rerun with a new one, e.g. from "
                    "np.lib.format.open_memmap(path, mode='w+', ...)."
                )
            raise ValueError(
                f"the data file {self.path!r} was truncated while fastem was reading it "
                f"({faults} page(s) of its memory map were gone). Do not modify a data "
                "file during a fit or a prediction; rerun on the final file."
            )
        return False
