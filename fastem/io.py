"""Model files: save and load fitted mixtures, and convert to and from scikit-learn.

A model file is a single ``.npz`` archive (see ``docs/model-format.md``) that
NumPy alone can read: one array per fitted parameter, named after the
attribute (``weights_``, ``means_``, ...), array-valued hyper-parameters as
``hyper__<name>``, the online-EM state of a model stepped by ``partial_fit``
as ``online_em__<...>`` entries, and a JSON document in the 0-d string array
``metadata``::

    with np.load("model.npz") as f:
        meta = json.loads(str(f["metadata"]))
        weights = f["weights_"]

The code is generic over a family's ``_parameter_names`` and ``get_params()``,
so a new family is saved and loaded without changes here.
"""

import contextlib
import errno
import hashlib
import io
import json
import math
import numbers
import os
import pathlib
import secrets
import socket
import stat
import sys
import zipfile
import zlib
from collections.abc import Iterable

import numpy as np

from ._state import made_together, one_snapshot
from ._validation import (as_list, check_path_characters, check_random_state, name_max,
                          parameter_as_float)
from .data import read_npy_header

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "save", "load", "read_metadata"]

FORMAT_NAME = "fastem-mixture"
# The newest version this fastem reads and writes. Version 2 adds the online-EM
# state of a model stepped by partial_fit; a file without that state is written
# as version 1, which every fastem reads. fastem before version 2 would load a
# version-2 file without its state (restarting online EM from one batch) if it
# were marked 1; marked 2, they refuse it and say to upgrade.
FORMAT_VERSION = 2
_PLAIN_VERSION = 1  # a file without online-EM state
_ONLINE_VERSION = 2  # the first version that holds it
_METADATA = "metadata"
_HYPER_PREFIX = "hyper__"
# The online-EM state (partial_fit's running statistics): the metadata field
# "online_em" holds n_steps, n_samples, log_likelihood and the names of the
# moments and references; the arrays are these entries.
_ONLINE = "online_em"
_ONLINE_PREFIX = "online_em__"
_ONLINE_NK = _ONLINE_PREFIX + "nk"
_ONLINE_MOMENT = _ONLINE_PREFIX + "moments__"
_ONLINE_REFERENCE = _ONLINE_PREFIX + "reference__"
# Optional field "online_em.warned": which of the stream's once-per-stream warnings it
# has given (attribute: its value), so that a stream continued from the file does not
# give them again; a file without it (older fastem) gives them again.
_STREAM_WARNINGS = {
    "unobserved": "_unobserved_warned", "regularization": "_regularization_warned",
    "stored_parameters": "_stored_parameters_warned", "rounding_loss": "_rounding_loss_warned",
}
# Optional: the 0-based indices of the data file's columns a model was fitted on,
# when they were chosen by index in a file without column names. Older fastem
# ignores the field (its command line takes the file's first columns, as it did
# before the field existed), and its models read the same: no new version.
_COLUMN_INDICES = "column_indices"
# Optional: with missing='em', the features in which components of the fitted parameters
# hold no observed value, as [component, feature] pairs (the model's
# _unobserved_features), so that a partial_fit stream continued from a file without
# running statistics starts from statistics in which they observe none of them
# (BaseMixture._unobserved_of_the_parameters). Older fastem ignores the field, and a file
# without it loads as a model whose components observe every feature: no new version.
_UNOBSERVED_FEATURES = "unobserved_features"
# Optional: the settings the parameters were fitted with (the model's _fitted_settings, e.g.
# {"reg_covar": 1e-06}) where set_params changed them since the fit, so that a partial_fit
# stream continued from a file without running statistics takes out of the parameters what
# the fit put in (GaussianMixture._statistics_of_parameters), as the saved model does.
# Older fastem ignores the field and takes the saved hyper-parameters for them, as every
# file without it does: no new version.
_FITTED_SETTINGS = "fitted_settings"
# Temporary files of a save are named ".<name>.fastem-<host>-<pid>-<random>.tmp".
_TMP_MARK = ".fastem-"
_TMP_SUFFIX = ".tmp"
# Errors NumPy and zipfile raise for a damaged archive or entry.
# What reading a damaged .npz archive raises. zipfile's NotImplementedError (an entry's
# compression method is not one it reads), RuntimeError (an entry marked encrypted) and
# LargeZipFile come from a flag or a field of the archive's headers; the decompressors'
# errors (zlib.error, bz2's OSError, LZMAError) from damaged compressed data.
try:
    from lzma import LZMAError
except ImportError:  # a Python without lzma: zipfile refuses such entries (RuntimeError)
    LZMAError = zlib.error
_READ_ERRORS = (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile, zlib.error,
                LZMAError, NotImplementedError, RuntimeError, zipfile.LargeZipFile)
_WRITTEN_BY = "Pass a file written by model.save() or 'fastem fit -o'."
# How an .npz file starts, as NumPy recognises one: a zip entry, or an empty archive.
_ZIP_START = (b"PK\x03\x04", b"PK\x05\x06")


def _split_hyper_parameters(params):
    """JSON-able hyper-parameters, the array-valued ones stored as arrays, and the names
    of those with no portable form.

    Values are written as the fit reads them: a NumPy bool (``warm_start=np.True_``)
    as a bool, and an array-like (a list, a DataFrame) as an array; one of objects
    (``Decimal`` or ``Fraction`` entries, which ``np.load(allow_pickle=False)``
    cannot read) as float64, as the fit converts it.
    """
    scalars, arrays, dropped = {}, {}, []
    for name, value in params.items():
        if value is None or isinstance(value, (bool, str)):
            scalars[name] = value
        elif isinstance(value, np.bool_):
            scalars[name] = bool(value)
        elif isinstance(value, numbers.Integral):
            scalars[name] = int(value)
        elif isinstance(value, numbers.Real):
            scalars[name] = float(value)
        elif isinstance(value, (np.ndarray, list, tuple)) or hasattr(value, "__array__"):
            array = np.asarray(value)
            arrays[_HYPER_PREFIX + name] = (
                parameter_as_float(value, name) if array.dtype.hasobject else array
            )
        else:
            # A callback or a RandomState instance has no portable form; the
            # loaded model gets the default (None) and the file says so.
            scalars[name] = None
            dropped.append(name)
    return scalars, arrays, dropped


def _online_record_problem(metadata, n_steps, named):
    """What is wrong with the record of the fit in ``metadata`` (the fields of ``_RECORD``)
    of a model stepped by partial_fit ``n_steps`` times since its stream started, or None:
    each step records itself alone (``n_iter`` = ``n_steps`` + 1, ``converged`` false, the
    batch's mean log-likelihood as the one lower bound). ``named(field)`` names a field."""
    if metadata["n_iter"] != n_steps + 1:
        return (f"{named('n_iter')} is {metadata['n_iter']}, but the online-EM state has "
                f"n_steps {n_steps}; a model stepped by partial_fit has n_iter = n_steps + 1")
    if metadata["converged"]:
        return (f"{named('converged')} is true, but a model stepped by partial_fit has not "
                "converged (each step records itself alone)")
    if len(metadata["lower_bounds"]) != 1:
        return (f"{named('lower_bounds')} holds {len(metadata['lower_bounds'])} values, but a "
                "model stepped by partial_fit records its last batch's alone")
    return None


def _online_state(model, n_steps, running):
    """The metadata field and the entries that hold partial_fit's running statistics
    (and which of the stream's warnings ``model`` gave)."""
    warned = {}
    for field, attribute in _STREAM_WARNINGS.items():
        value = getattr(model, attribute, False)
        warned[field] = float(value) if field == "rounding_loss" else bool(value)
    meta = {
        "warned": warned,
        "n_steps": int(n_steps),
        "n_samples": float(running.n_samples),
        "log_likelihood": float(running.log_likelihood),
        "moments": [str(name) for name in running.moments],
        "reference": [str(name) for name in running.reference],
    }
    arrays = {_ONLINE_NK: np.asarray(running.nk)}
    for name, value in running.moments.items():
        arrays[_ONLINE_MOMENT + name] = np.asarray(value)
    for name, value in running.reference.items():
        arrays[_ONLINE_REFERENCE + name] = np.asarray(value)
    return meta, arrays


def _host_tag():
    """This machine's name, reduced to characters that are safe in a file name."""
    return "".join(c for c in socket.gethostname() if c.isalnum())[:32] or "host"


# Bytes of a temporary file's name besides the output's name: '.', _TMP_MARK, the
# host tag (at most 32), '-', a process id (at most 10 digits), '-', 8 hex digits, _TMP_SUFFIX.
_TMP_OVERHEAD = 1 + len(_TMP_MARK) + 32 + 1 + 10 + 1 + 8 + len(_TMP_SUFFIX)


def _temporary_prefix(path):
    """``(directory, prefix)``: the directory of ``path`` and the start of the names of its
    temporary files, ``.<name>.fastem-``.

    A temporary name is longer than the output's own, and any name that the
    directory holds must be an output name: a ``<name>`` too long for that is
    cut to fit (at a character) and followed by ``~`` and 16 hex digits of a
    hash of the whole name, so that outputs whose names start alike still
    have temporary files of their own.
    """
    directory, name = os.path.split(os.path.abspath(path))
    room = name_max(directory) - _TMP_OVERHEAD
    if len(os.fsencode(name)) > room:
        digest = "~" + hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
        while name and len(os.fsencode(name + digest)) > room:
            name = name[:-1]
        name += digest
    return directory, f".{name}{_TMP_MARK}"


def _temporary_name(path):
    directory, prefix = _temporary_prefix(path)
    tag = f"{_host_tag()}-{os.getpid()}-{secrets.token_hex(4)}"
    return os.path.join(directory, f"{prefix}{tag}{_TMP_SUFFIX}")


def tilde_hint(path, example="e.g. with os.path.expanduser"):
    """For a path that starts with '~', that it names a directory '~' (as for ``open`` and
    NumPy, not as in a shell), ``example`` how to give the home directory; else ''."""
    if not os.fsdecode(path).startswith("~"):
        return ""
    return (f" ('~' is not expanded to the home directory here: write the directory out, "
            f"{example}, or let the shell expand it)")


def directory_problem(path):
    """Why the directory of the file ``path`` cannot hold it, or None if it can.

    The directory is resolved as the operating system resolves it when the
    file is opened: ``sub/../m.npz`` needs ``sub`` to exist (it is never
    normalised to ``m.npz`` by its spelling), and ``~`` is a directory named
    ``~``, not the home directory (as for ``open`` and ``numpy.save``).
    Returns ``(errno, text)``: ``text`` names the first component of the
    path, as the user spelled it, that is missing or not a directory.
    """
    directory = os.path.dirname(os.fsdecode(path))
    if not directory:
        return None
    try:
        if stat.S_ISDIR(os.stat(directory).st_mode):
            return None
    except OSError:
        pass
    parts = pathlib.PurePath(directory).parts
    for i in range(len(parts)):
        prefix = os.path.join(*parts[: i + 1])
        try:
            mode = os.stat(prefix).st_mode
        except FileNotFoundError:
            return errno.ENOENT, f"directory {prefix!r} does not exist{tilde_hint(parts[0])}"
        except OSError as exc:
            return exc.errno, f"directory {prefix!r} cannot be reached ({exc.strerror})"
        if not stat.S_ISDIR(mode):
            return errno.ENOTDIR, f"{prefix!r} is not a directory"
    return errno.ENOTDIR, f"{directory!r} is not a directory"


def _directory_error(path, problem, doing="cannot write"):
    """The OSError (FileNotFoundError, NotADirectoryError, ...) for :func:`directory_problem`."""
    number, text = problem
    fix = "create it, or check the path" if number == errno.ENOENT else "check the path"
    return OSError(number, f"{doing} {os.fsdecode(path)!r}: {text}; {fix}")


def _resolved(path, user_path, doing):
    """``path`` with its directory resolved as the operating system resolves it, and a
    symbolic link at its end followed (to the file the link points to, resolved the same way).
    """
    for _ in range(40):  # the operating systems' limit on links in one lookup
        problem = directory_problem(path)
        if problem is not None:
            if path != os.fsdecode(user_path):
                number, text = problem
                problem = number, f"it is a symbolic link to {path!r}, and {text}"
            raise _directory_error(user_path, problem, doing)
        directory, name = os.path.split(path)
        if name in ("", os.curdir, os.pardir):  # a directory, refused by the writers
            return os.path.realpath(path)
        target = os.path.join(os.path.realpath(directory or os.curdir), name)
        try:
            link = os.readlink(target)
        except OSError:  # not a link (or not there yet): the file itself
            return target
        path = os.path.join(os.path.dirname(target), link)
    raise OSError(errno.ELOOP, f"{doing} {os.fsdecode(user_path)!r}: too many levels of "
                  "symbolic links")


def replacement_target(path, doing="cannot write"):
    """The file a replacement of ``path`` writes, and the permission bits to give it.

    Outputs are written to a temporary file and renamed over the old one. So
    that this changes nothing but the content, a symbolic link is written
    through (its target is replaced and the link stays a link), and an
    existing file keeps its permission bits. Returns ``(target, mode)``:
    the resolved path, and the existing file's mode, or None for a new file
    (created with the umask's mode, as ``open`` creates it).

    The path is resolved as the operating system resolves it (``sub/../m.npz``
    needs ``sub``), never by its spelling: a missing directory raises
    ``FileNotFoundError`` (a file where a directory should be,
    ``NotADirectoryError``) with a message that names ``path`` and the
    directory as given, after ``doing``.
    """
    path = check_path_characters(os.fsdecode(path), f"{doing}: the path")
    target = _resolved(path, path, doing)
    try:
        return target, stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        return target, None


def check_replaceable(path, target, doing="cannot write", error=None):
    """Refuse to replace ``target``, the existing file of the output ``path``, where its
    user may not write it: a rename needs only the directory's permission, and would
    replace a file made read-only to keep it. Raises ``error(message)`` (default a
    PermissionError) with a message that starts with ``doing``."""
    if os.path.isfile(target) and not os.access(target, os.W_OK):
        message = (f"{doing} {path!r}: the file exists and is read-only; make it writable "
                   "(chmod u+w) to replace it, or choose another path")
        raise error(message) if error is not None else PermissionError(errno.EACCES, message)


def _process_is_gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # EPERM: the process exists and belongs to someone else
        return False
    return False


def _descriptor_named(path):
    """The descriptor of this process that ``path`` names (``/dev/stdout``, ``/dev/fd/1``,
    ``/proc/self/fd/1``), or None.

    Such a path opens the file the descriptor holds (a pipe, a terminal, the file of
    a shell redirection), which is written through the descriptor itself: renamed
    over, the file of ``> out.csv`` would lose its link to the shell, and ``>> log``
    its earlier content.
    """
    directories = {os.path.realpath(d) for d in ("/proc/self/fd", "/dev/fd") if os.path.isdir(d)}
    path = os.path.abspath(os.fsdecode(path))
    for _ in range(40):  # the operating systems' limit on links in one lookup
        directory, name = os.path.split(path)
        try:
            if name.isdigit() and os.path.realpath(directory) in directories:
                return int(name)
            link = os.readlink(path)
        except (OSError, ValueError):  # not a link; a NUL character, refused by the writers
            return None
        path = os.path.join(directory, link)
    return None


class _StreamWriter(io.RawIOBase):
    """A buffered binary stream (a pipe, a terminal, a device) for the writers of outputs.

    It is no ``io.BufferedWriter`` itself: NumPy writes an array to one of those
    with ``tofile``, which needs a file position that a pipe has not.
    """

    def __init__(self, fd):
        super().__init__()
        self._file = os.fdopen(fd, "wb")

    def writable(self):
        return True

    def write(self, data):
        return self._file.write(data)

    def flush(self):
        if not self.closed:
            self._file.flush()

    def close(self):
        if not self.closed:
            try:
                super().close()  # flushes
            finally:
                self._file.close()


def _output_kind(path):
    """How an output to ``path`` is written: ``("descriptor", fd)`` for a descriptor of
    this process (:func:`_descriptor_named`), ``("device", mode)`` for an existing FIFO
    or character device (``/dev/null``, a terminal), ``("refused", mode)`` for a
    socket or a block device, or None for a file to replace."""
    fd = _descriptor_named(path)
    if fd is not None:
        return "descriptor", fd
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # no file (yet); a NUL character, refused by the writers
        return None
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode):
        return "device", mode
    if stat.S_ISSOCK(mode) or stat.S_ISBLK(mode):
        return "refused", mode
    return None


def check_stream(path, doing="cannot write", error=ValueError):
    """Whether an output to ``path`` is written as a stream, not replaced (see
    :func:`replacing`); ``error(message)``, the message starting with ``doing``, for
    one that cannot be written: a socket, a block device, a descriptor that is not
    open (``/dev/stdout`` with stdout closed), a device its user may not write."""
    kind = _output_kind(path)
    if kind is None:
        return False
    what, value = kind
    fix = "give the path of a file, a FIFO or a character device (/dev/stdout)"
    if what == "refused":
        raise error(f"{doing} {path!r}: it is a {_file_kind(value)}, which fastem does not "
                    f"write to; {fix}")
    if what == "descriptor":
        try:
            os.fstat(value)
        except OSError:
            raise error(f"{doing} {path!r}: descriptor {value} is not open; {fix}") from None
    elif not os.access(path, os.W_OK):
        raise error(f"{doing} {path!r}: permission denied; {fix} that you can write")
    return True


def _stream(path, doing, error):
    """A binary file object writing the stream ``path`` names (:func:`check_stream`), or
    None for a file to replace. A FIFO's open waits for its reader, as a shell's
    ``> fifo`` does."""
    if not check_stream(path, doing, error or ValueError):
        return None
    what, value = _output_kind(path)
    if what == "descriptor":
        for f in (sys.stdout, sys.stderr):  # what Python holds for the descriptor goes first
            if f is not None:
                f.flush()
        return _StreamWriter(os.dup(value))
    return _StreamWriter(os.open(path, os.O_WRONLY | getattr(os, "O_BINARY", 0)))


def _of_the_output(exc, *paths):
    """Whether the OSError ``exc``, raised while an output was written to ``paths``, is
    one of writing it: one that names no other file (a full disk names none)."""
    return exc.filename is None or exc.filename in paths or any(
        p in str(exc) for p in paths)


def _output_error(error, doing, path, exc):
    message = f"{doing} {path!r}: {exc.strerror or _one_line(exc)}"
    if error is not None:
        return error(message)
    return OSError(message) if exc.errno is None else OSError(exc.errno, message)


@contextlib.contextmanager
def replacing(path, doing="cannot write", error=None):
    """A binary file object whose content becomes the file ``path`` when the block ends
    without an error.

    The content is written to a temporary file beside ``path``, flushed to the
    disk (``fsync``) through the descriptor that wrote it, and renamed over
    ``path``, whose directory entry is flushed after it (where the platform
    can open a directory). So ``path`` holds the old file or the new one,
    whole, even after a crash or a power loss: an error or an interruption
    (Ctrl-C, SIGTERM) in the block leaves it as it was and removes the
    temporary file; those left by a process that was killed are removed. A
    symbolic link is written through and an existing file keeps its
    permission bits (:func:`replacement_target`), and its owner and group
    where the user may give them (:func:`_keep_owner`); a new file gets the
    bits that ``open`` gives under the umask. The temporary file is never opened again,
    so a umask that refuses its owner reading or writing it (0o222, 0o666,
    0o777) changes only the new file's mode. Another hard link to the old file
    keeps the old content: the new file is a new one.

    A stream (:func:`_stream`: ``/dev/stdout``, a FIFO, ``/dev/null``) is
    written as it is: it cannot be replaced, and what was written stays
    written after an error.

    An ``OSError`` of creating, writing, flushing or renaming the file is
    raised as ``error(message)`` (default: an ``OSError`` of the same errno),
    with a message that starts with ``doing`` and names ``path``, never the
    temporary file.
    """
    path = os.fsdecode(path)
    try:
        stream = _stream(path, doing, error)
    except OSError as exc:
        raise _output_error(error, doing, path, exc) from None
    if stream is not None:
        try:
            with stream:
                yield stream
        except OSError as exc:
            if _of_the_output(exc, path) and not isinstance(exc, BrokenPipeError):
                raise _output_error(error, doing, path, exc) from None
            raise  # a reader that left a pipe: as for stdout
        return
    try:
        target, mode = replacement_target(path, doing)
    except OSError as exc:  # the message names path, and its missing directory
        if error is None:
            raise
        raise error(exc.strerror or _one_line(exc)) from None
    check_replaceable(path, target, doing, error)
    remove_stale_temporary_files(target)
    temporary = _temporary_name(target)
    try:
        # the mode open() gives; the descriptor may write whatever the umask leaves of it
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0),
                     0o666)
    except OSError as exc:
        raise _output_error(error, doing, path, exc) from None
    _keep_owner(fd, target)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        if mode is not None:
            os.chmod(temporary, mode)
        os.replace(temporary, target)
    except BaseException as exc:
        try:
            os.unlink(temporary)
        except FileNotFoundError:
            pass
        if isinstance(exc, OSError) and _of_the_output(exc, temporary, target):
            raise _output_error(error, doing, path, exc) from None
        raise
    _flush_directory(target)


def _keep_owner(fd, target):
    """Give the new file ``fd`` the owner and group of ``target``, the file it replaces,
    where the user may: root gives any (a file replaced by root stays its owner's, who
    can write it), another user a group of theirs (a file of a shared group stays in
    it); else the new file keeps the owner and group it was made with."""
    if not hasattr(os, "fchown"):
        return
    try:
        st = os.stat(target)
    except OSError:  # a new file
        return
    for owner in (st.st_uid, -1):
        try:
            os.fchown(fd, owner, st.st_gid)
            return
        except OSError:
            pass


def _flush_directory(path):
    """Flush the entry of ``path`` in its directory, where the platform can open one."""
    try:
        dir_fd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def remove_stale_temporary_files(path):
    """Remove temporary files that an interrupted save of ``path`` left behind.

    Only files named as :func:`save` names its temporary files for this very
    ``path`` are considered, and only those whose writing process, on this
    machine, no longer exists (a process killed with SIGKILL during a save
    cannot remove its own). Returns the names removed.
    """
    directory, prefix = _temporary_prefix(path)
    host = _host_tag()
    removed = []
    try:
        entries = os.listdir(directory)
    except OSError:
        return removed
    for entry in entries:
        if not (entry.startswith(prefix) and entry.endswith(_TMP_SUFFIX)):
            continue
        fields = entry[len(prefix) : -len(_TMP_SUFFIX)].split("-")
        if len(fields) != 3 or fields[0] != host or not fields[1].isdigit():
            continue
        if not _process_is_gone(int(fields[1])):
            continue
        full = os.path.join(directory, entry)
        try:
            if stat.S_ISREG(os.lstat(full).st_mode):
                os.unlink(full)
                removed.append(entry)
        except OSError:
            pass
    return removed


def _check_destination(path):
    """Refuse to replace anything at ``path`` that is not a fastem model file.

    A model is saved by renaming a new file over ``path``; if ``path`` is a
    data file (say the ``.npy`` file the model was fitted on, or an ``.npz``
    archive with an entry of its own named ``metadata``), it would be lost.
    Empty files and existing model files (whose metadata names fastem's
    format, of any version) may be replaced, and a stream (a FIFO,
    ``/dev/stdout``) written. A path that ends with a separator names a
    directory, which a model file cannot be.
    """
    if not path:  # else the directory it resolves to, the current one, is written over
        raise ValueError("cannot save a model to '': the path is empty. Give the path of a "
                         "file, e.g. 'model.npz'.")
    if path.endswith(tuple(s for s in (os.sep, os.altsep) if s)):
        stem = path.rstrip(os.sep + (os.altsep or ""))
        example = os.path.join(stem, "model.npz") if os.path.isdir(stem) else stem
        raise ValueError(
            f"cannot save a model to {path!r}: a path that ends with {path[-1]!r} names a "
            f"directory. Give the path of a file, e.g. {example!r}."
        )
    problem = directory_problem(path)
    if problem is not None:
        raise _directory_error(path, problem, "cannot save a model to")
    if check_stream(path, "cannot save a model to"):  # /dev/stdout, a FIFO: never replaced
        return
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise OSError(exc.errno, f"cannot save a model to {path!r}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise ValueError(
            f"cannot save a model to {path!r}: it is a {_file_kind(st.st_mode)}, not a "
            "regular file. Give the path of a new .npz file."
        )
    if st.st_size == 0:
        return
    try:  # an archive of other data may have an entry named 'metadata' too
        with _open(path) as archive:
            _fastem_metadata(archive, path)
    except (ValueError, OSError):
        raise ValueError(
            f"refusing to save a model over {path!r}: it exists and is not a fastem model "
            "file (saving would replace its contents). Choose another path, e.g. "
            "'model.npz', or remove the file first if it is no longer needed."
        ) from None


@one_snapshot
def save(model, path, *, column_indices=None):
    """Write a fitted model to ``path`` as a versioned ``.npz`` model file.

    The file is written to a temporary file in the same directory, flushed to
    disk and then renamed over ``path``, so ``path`` always holds either the
    previous file or the complete new one, never a partial write. A save that
    fails removes its temporary file; one that was killed (SIGKILL, power
    loss) cannot, and the next save to the same ``path`` removes it. A
    replaced model file keeps its permission bits, and its owner and group
    where the user may give them (root may), and a ``path`` that is a
    symbolic link is written through: its target is replaced, the link stays;
    another hard link to the old file keeps the old model. A ``path`` that is
    a stream (``/dev/stdout``, a FIFO, ``/dev/null``) is written as it is,
    never replaced (see :func:`replacing`). ``path`` is resolved as the
    operating system resolves it (``sub/../m.npz`` needs the directory
    ``sub``; ``~`` is not expanded, as by ``open``).

    Parameters
    ----------
    model : BaseMixture
        A fitted fastem mixture.
    path : str, bytes or os.PathLike
        Destination, conventionally ending in ``.npz`` (no suffix is added).
    column_indices : sequence of int, optional
        The 0-based indices of the data file's columns that the model was
        fitted on, one per feature, when they were chosen by index from a
        file without column names (``fastem fit data.npy --columns 1,0``).
        Recorded as the metadata field ``column_indices``, which ``fastem
        predict``, ``score`` and ``impute`` apply to such files. Default:
        those of the file the model was loaded from, kept until a ``fit``.

    Raises
    ------
    AttributeError
        If the model is not fitted.
    ValueError
        If ``path`` exists and is not a fastem model file (a data file, a
        directory, a socket): it is never replaced. An empty file may be. If
        ``path`` holds a NUL character.
    OSError
        If the file cannot be written (its directory does not exist, say:
        the message names ``path``, never the temporary file); ``path`` is
        then left as it was. A ``PermissionError`` for an existing file that
        its user may not write (made read-only to keep it), which a rename
        would replace all the same.
    TypeError
        If ``path`` is not one path (a list of them, None, a file object).
    """
    from . import __version__

    model._check_is_fitted()
    # Hyper-parameters changed by set_params since the fit (n_components,
    # covariance_type) no longer describe the parameters: load would refuse the file.
    _check_fitted_parameters(model)
    path = _one_path(path, "model.save(path)")
    if column_indices is None:  # those of the file the model was loaded from, if any
        column_indices = getattr(model, "_column_indices", None)
    if column_indices is not None:
        column_indices = [
            int(j) if isinstance(j, numbers.Integral) and not isinstance(j, bool) else j
            for j in as_list(column_indices, "column_indices",
                             "[1, 0], the 0-based column of each feature, in order")
        ]
        problem = _column_indices_problem(column_indices, int(model.n_features_in_))
        if problem is not None:
            raise ValueError(f"column_indices {column_indices!r} {problem}")
    _check_destination(path)
    try:
        hyper, hyper_arrays, dropped = _split_hyper_parameters(model.get_params())
        _check_hyper_parameters(type(model)(**hyper, **{
            name[len(_HYPER_PREFIX):]: value for name, value in hyper_arrays.items()
        }), int(model.n_features_in_))
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"cannot save a model to {path!r}: a hyper-parameter would not load: "
            f"{_one_line(exc)} Set a valid value with set_params, then save again."
        ) from None
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "fastem_version": __version__,
        "class": _class_name(type(model)),
        "hyper_parameters": hyper,
        "not_saved": dropped,
        "parameters": list(model._parameter_names),
        "dtype": np.dtype(model._dtype).name,
        **_record_metadata(model),
    }
    check_record(model, f"cannot save a model to {path!r}", "A file of it would not load.")
    if column_indices is not None:  # optional: only files fitted on columns chosen by index
        metadata[_COLUMN_INDICES] = column_indices
    unobserved = model._unobserved_of_the_fit()
    if unobserved is not None:  # optional: only models with such components
        metadata[_UNOBSERVED_FEATURES] = np.argwhere(unobserved).tolist()
    fitted = getattr(model, "_fitted_settings", None) or {}
    changed = {name: float(value) for name, value in fitted.items()
               if name in hyper and hyper[name] != value}
    if changed:  # optional: only where set_params changed them since the fit
        metadata[_FITTED_SETTINGS] = changed
    arrays = checked_parameter_arrays(
        model, f"cannot save a model to {path!r}", f"A file of them would not load. {_MODEL_FIX}"
    )
    arrays.update(hyper_arrays)
    running = getattr(model, "_running_stats", None)  # read from the same snapshot
    # as the saved hyper-parameter missing sums a batch (set_params(missing=...) since the
    # stream's last step): a file of the others would not load
    running = model._stream_statistics_for_missing(running)
    if running is not None:
        problem = _online_record_problem(_record_metadata(model), model.n_steps_,
                                         lambda field: f"its {_RECORD[field]}")
        if problem is not None:
            raise ValueError(f"cannot save a model to {path!r}: {problem}. A file of it would "
                             "not load. Assign the record of one step, or refit the model.")
        metadata["format_version"] = _ONLINE_VERSION
        metadata[_ONLINE], online_arrays = _online_state(model, model.n_steps_, running)
        arrays.update(online_arrays)
    else:
        metadata["format_version"] = _PLAIN_VERSION
    arrays[_METADATA] = np.array(json.dumps(metadata))

    with replacing(path, "cannot save a model to") as f:
        np.savez(f, **arrays)


def _class_name(cls):
    """The metadata field ``class`` of a model of ``cls``: the name of one of fastem's
    mixtures, or for a class defined elsewhere (a subclass, a family of one's own, even
    one named as a fastem mixture) its module and qualified name, which :func:`load`
    does not build: it would build the fastem class of that name without the subclass's
    code."""
    import fastem

    if getattr(fastem, cls.__name__, None) is cls:
        return cls.__name__
    return f"{cls.__module__}.{cls.__qualname__}"


# The record of the fit in a model file: metadata field -> the model's attribute.
_RECORD = {
    "n_features_in": "n_features_in_", "feature_names_in": "feature_names_in_",
    "converged": "converged_", "n_iter": "n_iter_", "lower_bound": "lower_bound_",
    "lower_bounds": "lower_bounds_",
}


def _json_value(value):
    """``value`` as JSON holds it when it is a number, a bool, a string or a sequence of
    them, without rounding (2.5 stays 2.5, 3 is not True); else as it is, for
    :func:`_record_problem` to name."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, np.ndarray):
        return _json_value(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


def _record_metadata(model):
    """The metadata fields of the record of ``model``'s fit, read as they are."""
    return {field: _json_value(getattr(model, name, None)) for field, name in _RECORD.items()}


def _file_kind(mode):
    for test, kind in (
        (stat.S_ISDIR, "directory"),
        (stat.S_ISFIFO, "FIFO (named pipe)"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
    ):
        if test(mode):
            return kind
    return "special file"


def open_regular_file(path, what, fix=None):
    """Open ``path`` for reading as a binary file object, refusing anything but a regular file.

    The file is opened without blocking and checked with ``fstat`` on the open
    descriptor, so a FIFO, a device or a directory is refused at once (a FIFO
    would otherwise block the open until a writer appears), and the file that
    was checked is the file that is read. ``fix`` ends the error messages
    (default: how model files are written).
    """
    path = os.fsdecode(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    missing_fix = "Check the path, or create it with 'fastem fit' or model.save(path)."
    if fix is not None:
        missing_fix = "Check the path."
    fix = _WRITTEN_BY if fix is None else fix
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(
            errno.ENOENT, f"{what} {path!r} does not exist{tilde_hint(path)}. {missing_fix}"
        ) from None
    except IsADirectoryError:
        raise ValueError(f"{what} {path!r} is a directory, not a file. {fix}") from None
    except OSError as exc:
        raise OSError(exc.errno, f"cannot open {what} {path!r}: {exc.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            if fix is _WRITTEN_BY and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
                # a model file is read at its end first: a stream cannot be read that way
                fix = ("A model written to a stream (-o /dev/stdout, a FIFO) is read "
                       "from a file: save the stream to one first (> model.npz).")
            raise ValueError(
                f"{what} {path!r} is a {_file_kind(mode)}, not a regular file. {fix}"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class _Archive:
    """An open model file: its ``.npz`` entries, read with errors that name the file."""

    def __init__(self, path):
        self.path = path
        self.file = open_regular_file(path, "model file")
        try:
            if not zipfile.is_zipfile(self.file):
                raise ValueError(
                    f"{path!r} is not a fastem model file (not an .npz archive). {_WRITTEN_BY}"
                )
            self.file.seek(0)
            if self.file.read(len(_ZIP_START[0])) not in _ZIP_START:
                # NumPy would read it as a pickle, and advise to unpickle it
                raise ValueError(
                    f"{path!r} is not a fastem model file: it holds a zip archive after "
                    "other data (an .npz file starts with its archive). "
                    f"{_WRITTEN_BY}"
                )
            self.file.seek(0)
            try:
                self.npz = np.load(self.file, allow_pickle=False)
            except _READ_ERRORS as exc:
                raise ValueError(
                    f"{path!r} is not a fastem model file (NumPy could not read it as .npz: "
                    f"{_one_line(exc)}). {_WRITTEN_BY}"
                ) from None
            if not isinstance(self.npz, np.lib.npyio.NpzFile):
                raise ValueError(
                    f"{path!r} is not a fastem model file (not an .npz archive). {_WRITTEN_BY}"
                )
            if _METADATA not in self.npz.files:
                raise ValueError(
                    f"{path!r} is not a fastem model file (no {_METADATA!r} entry). {_WRITTEN_BY}"
                )
        except BaseException:
            self.close()
            raise

    @property
    def files(self):
        return self.npz.files

    def __getitem__(self, key):
        try:
            return self.npz[key]
        except _READ_ERRORS as exc:
            raise ValueError(
                f"{self.path!r} is damaged: its entry {key!r} cannot be read "
                f"({_one_line(exc)}). Save the model again, or restore the file from a copy."
            ) from None

    def n_bytes(self, key):
        """The size of entry ``key`` once read, from its header alone (no data read)."""
        name = key + ".npy" if key + ".npy" in self.npz.zip.namelist() else key
        try:
            with self.npz.zip.open(name) as f:
                shape, dtype = read_npy_header(f)
        except (*_READ_ERRORS, SyntaxError) as exc:
            raise ValueError(
                f"{self.path!r} is damaged: its entry {key!r} cannot be read "
                f"({_one_line(exc)}). Save the model again, or restore the file from a copy."
            ) from None
        return int(np.prod(shape, dtype=np.float64)) * dtype.itemsize

    def close(self):
        npz = getattr(self, "npz", None)
        if isinstance(npz, np.lib.npyio.NpzFile):
            npz.close()
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _one_line(exc):
    return " ".join(str(exc).split()) or type(exc).__name__


def _open(path):
    return _Archive(os.fsdecode(path))


def _one_path(path, call):
    """``path`` as a str, or a TypeError naming it and ``call``, the call that takes it."""
    if isinstance(path, (str, bytes)) or hasattr(path, "__fspath__"):
        return check_path_characters(os.fsdecode(path), "path")
    name = getattr(path, "name", None)
    if hasattr(path, "read") or hasattr(path, "write"):  # a file object iterates over lines
        example = call.replace("path", repr(name if isinstance(name, str) else "model.npz"))
        fix = ("a model file is opened by its path (a save writes a new file beside it and "
               f"renames it into place): pass the path, e.g. {example}")
    elif isinstance(path, Iterable) and not isinstance(path, np.ndarray):
        fix = f"call {call} once per file"
    else:
        fix = f"pass the file's path, e.g. {call.replace('path', repr('model.npz'))}"
    raise TypeError(
        f"path must be one file's path (str, bytes or os.PathLike), got {path!r} of type "
        f"{type(path).__name__}: {fix}."
    )


_METADATA_FIELDS = {
    "class": (str,),
    "hyper_parameters": (dict,),
    "parameters": (list,),
    "n_features_in": (int,),
    "dtype": (str,),
    "converged": (bool,),
    "n_iter": (int,),
    "lower_bound": (int, float),
    "lower_bounds": (list,),
}


# A model's metadata is a few kB; a larger entry is refused before it is read.
_METADATA_MAX_BYTES = 1 << 24


def _parse_metadata(archive, path):
    metadata = _fastem_metadata(archive, path)
    version = metadata.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{path!r} has an invalid format_version {version!r}.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} uses model format version {version}, written by fastem "
            f"{metadata.get('fastem_version', '?')}; this fastem reads model format version "
            f"{FORMAT_VERSION} and older. Upgrade fastem to load it."
        )
    return metadata


def _fastem_metadata(archive, path):
    """The metadata of ``archive`` as a dict whose ``format`` is fastem's, of any version;
    else a ValueError naming ``path``: the archive is not a fastem model file."""
    size = archive.n_bytes(_METADATA)
    if size > _METADATA_MAX_BYTES:
        raise ValueError(
            f"{path!r} is not a fastem model file: its metadata entry would take {size} "
            f"bytes (at most {_METADATA_MAX_BYTES} expected). {_WRITTEN_BY}"
        )
    entry = archive[_METADATA]
    try:
        if entry.dtype.kind not in "SU" or entry.ndim != 0:
            raise ValueError(f"a {entry.dtype} array of shape {entry.shape}, not a string")
        metadata = json.loads(str(entry))
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"{path!r} has an unreadable metadata entry ({_one_line(exc)}). {_WRITTEN_BY}"
        ) from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ValueError(
            f"{path!r} is not a fastem model file (format "
            f"{metadata.get('format') if isinstance(metadata, dict) else None!r}, expected "
            f"{FORMAT_NAME!r})."
        )
    return metadata


def _check_metadata_fields(metadata, path):
    """Every field that :func:`load` uses is present and of the right JSON type."""
    for field, types in _METADATA_FIELDS.items():
        if field not in metadata:
            raise _damaged(path, f"its metadata lacks the field {field!r}")
        if field in _RECORD:  # typed by _record_problem, below, as save's record is
            continue
        value = metadata[field]
        if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
            raise ValueError(
                f"{path!r} is damaged: metadata field {field!r} is {value!r}, expected "
                f"{' or '.join(t.__name__ for t in types)}."
            )
    if metadata["dtype"] not in ("float32", "float64"):
        raise ValueError(
            f"{path!r} is damaged: metadata field 'dtype' is {metadata['dtype']!r}, expected "
            "'float32' or 'float64'."
        )
    problem = _record_problem(metadata, lambda field: f"metadata field {field!r}")
    if problem is not None:
        raise ValueError(f"{path!r} is damaged: {problem}.")


def check_record(model, doing, why):
    """Raise ValueError, starting with ``doing`` and saying ``why`` it matters, when the
    record of ``model``'s fit (``n_iter_``, ``converged_``, ``lower_bound_``,
    ``lower_bounds_``, ``feature_names_in_``, ``n_features_in_``) is one that
    :func:`load` refuses in a file: :func:`save` and the conversions to and from
    scikit-learn refuse what a model file cannot hold."""
    problem = _record_problem(_record_metadata(model), lambda field: f"its {_RECORD[field]}")
    if problem is not None:
        raise ValueError(
            f"{doing}: {problem}. {why} Assign the record of one fit, or refit the model.")


def _record_problem(metadata, named):
    """What is wrong with the record of the fit in ``metadata`` (the fields of
    ``_RECORD``), or None. ``named(field)`` names a field in the message: ``load``
    checks a file with it, and ``save`` the record it would write."""
    for field in _RECORD:
        types = _METADATA_FIELDS.get(field)  # None for feature_names_in, which may be absent
        value = metadata.get(field)
        if types is not None and (
            not isinstance(value, types) or (bool not in types and isinstance(value, bool))
        ):
            return f"{named(field)} is {value!r}, expected {' or '.join(t.__name__ for t in types)}"
    if metadata["n_features_in"] < 1:
        return f"{named('n_features_in')} is {metadata['n_features_in']}, expected a positive integer"
    if metadata["n_iter"] < 0:
        return f"{named('n_iter')} is {metadata['n_iter']}, expected a non-negative integer"
    # A fit records one lower bound per accepted pass over the data, at most one per
    # iteration, and converges only after a pass: max_iter=0 records none, unconverged.
    n_bounds = len(metadata["lower_bounds"])
    if n_bounds > metadata["n_iter"]:
        return (f"{named('n_iter')} is {metadata['n_iter']}, but {named('lower_bounds')} "
                f"holds {n_bounds} values, one per iteration at most; they come from one fit")
    if metadata["n_iter"] == 0 and metadata["converged"]:
        return (f"{named('converged')} is true with {named('n_iter')} 0; a fit converges only "
                "after an iteration")
    for value in metadata["lower_bounds"]:
        if not (_is_json_number(value) and math.isfinite(value)):
            return f"{named('lower_bounds')} holds {value!r}, expected finite numbers"
    # The record of one fit: its lower bound is the last of its lower bounds.
    bounds = metadata["lower_bounds"]
    if bounds and float(metadata["lower_bound"]) != float(bounds[-1]):
        return (f"{named('lower_bound')} is {metadata['lower_bound']!r}, but the last of "
                f"{named('lower_bounds')} is {bounds[-1]!r}; they come from one fit")
    # A fit of max_iter=0 evaluated nothing: its lower bound is -inf, and only then.
    lower_bound = metadata["lower_bound"]
    if not (math.isfinite(lower_bound) or (lower_bound == -math.inf and not bounds)):
        return (f"{named('lower_bound')} is {lower_bound!r}, expected a finite number (or -inf "
                "for a model fitted with max_iter=0)")
    names = metadata.get("feature_names_in")  # absent from files of fastem 0.1.0
    if names is not None and not (isinstance(names, list) and len(names) == metadata["n_features_in"]
                                  and all(isinstance(n, str) for n in names)):
        return (f"{named('feature_names_in')} is {names!r}, not a list of "
                f"{metadata['n_features_in']} strings")
    if names is not None and len(set(names)) != len(names):
        repeated = next(n for n in names if names.count(n) > 1)
        return (f"{named('feature_names_in')} repeats the name {repeated!r}; a fit takes "
                "distinct column names, one per feature")
    return None


def read_metadata(path):
    """The JSON metadata of a model file, as a dict, without building the model.

    Raises
    ------
    FileNotFoundError, ValueError, TypeError
        As :func:`load`, for a missing, special or damaged file, or a ``path``
        that is not one path.
    """
    path = _one_path(path, "fastem.io.read_metadata(path)")
    with _open(path) as archive:
        return _parse_metadata(archive, path)


def load(path):
    """Load a model written by :func:`save` (or ``model.save``).

    Every array is checked against the metadata and the family's constraints
    before the model is built (see ``docs/model-format.md``), so a damaged or
    edited file is refused rather than used.

    Parameters
    ----------
    path : str, bytes or os.PathLike
        A regular file; a FIFO, device or directory is refused without
        blocking.

    Returns
    -------
    model : BaseMixture
        The fitted model, with bitwise identical parameter arrays. A model
        saved after ``partial_fit`` gets back its online-EM state
        (``n_steps_`` and the running statistics), so its next
        ``partial_fit`` continues as the saved model's would; from a file
        without that state, ``partial_fit`` restarts online EM.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    TypeError
        If ``path`` is not one path (a list of them, None).
    ValueError
        If the file is not a fastem model file, is damaged, was written by a
        newer fastem, or holds parameters that disagree with its metadata or
        violate the family's constraints (weights off the simplex, non-finite
        values, covariances or precisions that are not positive definite,
        non-positive scales or rates). The message names the file and the field.
        If ``path`` holds a NUL character.
    """
    return _load(path)[0]


def _load(path):
    """:func:`load`: the model, and the file's metadata (checked) for what the model does
    not hold (``column_indices``)."""
    import fastem

    path = _one_path(path, "fastem.load(path)")
    with _open(path) as archive:
        metadata = _parse_metadata(archive, path)
        _check_metadata_fields(metadata, path)
        name = metadata["class"]
        cls = getattr(fastem, name, None)
        if cls is None:
            raise ValueError(
                f"{path!r} holds a {name!r} model, a class that fastem {fastem.__version__} "
                "does not have: either a class defined outside fastem (a subclass of one of "
                "its mixtures, say), which load does not build (pickle models of such "
                "classes; this file's arrays read with numpy.load, see docs/model-format.md), "
                "or one of a newer fastem (upgrade fastem to load it)."
            )
        if cls not in _families():  # e.g. BaseMixture, the base they share, or Chunks
            raise ValueError(
                f"{path!r} holds no family's model: its class is {name!r}, which is not "
                f"one of fastem's mixtures ({', '.join(c.__name__ for c in _families())}). "
                f"{_FILE_FIX}"
            )
        hyper = dict(metadata["hyper_parameters"])
        _check_entry_sizes(archive, path, hyper.get("n_components"), metadata["n_features_in"])
        for key in archive.files:
            if key.startswith(_HYPER_PREFIX):
                hyper[key[len(_HYPER_PREFIX) :]] = archive[key]
        unknown = sorted(set(hyper) - set(cls._get_param_names()))
        if unknown:
            raise ValueError(
                f"{path!r} has hyper-parameters {unknown} that {name} in fastem "
                f"{fastem.__version__} does not know. Upgrade fastem to load it."
            )
        model = cls(**hyper)
        try:
            _check_hyper_parameters(model, metadata["n_features_in"])
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"{path!r} has an invalid hyper-parameter: {_one_line(exc)}"
            ) from None
        names = list(model._parameter_names)
        if metadata["parameters"] != names:
            raise ValueError(
                f"{path!r} is damaged: metadata field 'parameters' is "
                f"{metadata['parameters']}, but a {name} has {names}."
            )
        missing = [p for p in names if p not in archive.files]
        if missing:
            raise ValueError(
                f"{path!r} lacks the fitted parameters {missing}; the file is damaged. "
                "Save the model again, or restore the file from a copy."
            )
        arrays = {p: archive[p] for p in names}
        online = _read_online_entries(archive, metadata, path)
    check_fitted_arrays(model, arrays, metadata["n_features_in"], metadata["dtype"], path)
    # together: none is derived from another (weights_ from weight_concentration_)
    model._replace_parameters({p: arrays[p] for p in names})
    made_together(model)  # checked against one another above
    model.n_features_in_ = metadata["n_features_in"]
    # checked against the parameters above; set_params may change the hyper-parameters
    model._fit_structure = model._structure(model.n_features_in_)
    names = metadata.get("feature_names_in")  # absent from files of fastem 0.1.0; checked above
    if names is not None:
        model.feature_names_in_ = np.asarray(names, dtype=object)
    indices = _optional_field(metadata, _COLUMN_INDICES, path, _column_indices_problem,
                              model.n_features_in_)
    if indices is not None:
        model._column_indices = indices  # saved again with the model, cleared by a fit
    model.converged_ = metadata["converged"]
    model.n_iter_ = metadata["n_iter"]
    model.lower_bound_ = float(metadata["lower_bound"])
    model.lower_bounds_ = [float(v) for v in metadata["lower_bounds"]]
    # the saved hyper-parameters are those the parameters were fitted with (e.g.
    # reg_covar, which partial_fit takes out of the fitted covariances)
    model._fitted_settings = model._settings_of_the_fit()
    settings = _optional_field(metadata, _FITTED_SETTINGS, path, _fitted_settings_problem,
                               model._fitted_settings)
    if settings is not None:
        model._fitted_settings = {**model._fitted_settings,
                                  **{name: float(value) for name, value in settings.items()}}
    pairs = _optional_field(metadata, _UNOBSERVED_FEATURES, path, _unobserved_features_problem,
                            model._n_components, model.n_features_in_, model._fits_missing())
    if pairs is not None:
        unobserved = np.zeros((model._n_components, model.n_features_in_), dtype=bool)
        for k, j in pairs:
            unobserved[k, j] = True
        model._unobserved_features = unobserved if unobserved.any() else None
    if online is not None:  # without it, partial_fit starts online EM from the parameters
        _restore_online_state(model, metadata, online, path)
    return model, metadata


def _check_hyper_parameters(model, n_features):
    """Raise TypeError or ValueError, as ``set_params`` and a fit on ``n_features``
    features would, for a hyper-parameter of ``model`` that :func:`load` refuses."""
    model._check_parameters()
    model._check_family_init(n_features)
    check_random_state(model.random_state)  # checked at fit otherwise; sample reads it


def _families():
    """The mixture classes that fastem exports: those a model file can hold."""
    import fastem

    return [
        cls for cls in (getattr(fastem, name) for name in fastem.__all__)
        if isinstance(cls, type) and issubclass(cls, fastem.BaseMixture)
        and cls is not fastem.BaseMixture
    ]


def _column_indices_problem(indices, n_features):
    """What is wrong with ``column_indices`` for a model of ``n_features``, or None."""
    if not (isinstance(indices, list)
            and all(isinstance(j, int) and not isinstance(j, bool) for j in indices)):
        return "is not a list of integers"
    if len(indices) != n_features:
        return (f"has {len(indices)} entries, but the model has n_features_in={n_features}: one "
                "index per feature")
    if any(j < 0 for j in indices):
        return f"holds a negative index ({min(indices)}); indices are 0-based positions"
    if len(set(indices)) != len(indices):
        return "repeats an index; each column is chosen once"
    return None


def _fitted_settings_problem(settings, known):
    """What is wrong with ``fitted_settings`` for a model whose parameters embody the
    settings named in ``known`` (its ``_settings_of_the_fit()``), or None."""
    if not isinstance(settings, dict):
        return "is not a JSON object of settings"
    for name, value in settings.items():
        if name not in known:
            return (f"names {name!r}, which the parameters of this model do not embody "
                    f"(it records {sorted(known)})")
        if not (_is_json_number(value) and math.isfinite(value) and value >= 0):
            return f"gives {name!r} the value {value!r}, not a finite non-negative number"
    return None


def _unobserved_features_problem(pairs, n_components, n_features, fits_missing):
    """What is wrong with ``unobserved_features`` for a model of ``n_components`` and
    ``n_features`` (``fits_missing``: fitted with ``missing='em'``), or None."""
    if not (isinstance(pairs, list) and all(
            isinstance(pair, list) and len(pair) == 2
            and all(isinstance(i, int) and not isinstance(i, bool) for i in pair)
            for pair in pairs)):
        return "is not a list of [component, feature] pairs of integers"
    if pairs and not fits_missing:
        # save writes it only for missing='em': without missing values every component
        # observes every feature, and set_params(missing='em') would read it
        return ("names components without an observed value of a feature, but the model "
                "was not fitted with missing='em' (its hyper-parameter 'missing'), whose "
                "components observe every feature")
    for k, j in pairs:
        if not (0 <= k < n_components and 0 <= j < n_features):
            return (f"holds the pair {[k, j]}, outside a model of n_components={n_components} "
                    f"and n_features_in={n_features} (0-based indices)")
    return None


def _optional_field(metadata, name, path, problem_of, *context):
    """The optional metadata field ``name`` (see its constant), or None where the file has
    none; a field that ``problem_of(value, *context)`` finds a problem in (a string) is
    refused as damage."""
    value = metadata.get(name)
    if value is not None:
        problem = problem_of(value, *context)
        if problem is not None:
            raise _damaged(path, f"metadata field {name!r} is {value!r}, which {problem}")
    return value


def _damaged(path, problem):
    """The one-line ValueError for a model file whose ``problem`` shows it is damaged."""
    return ValueError(
        f"{path!r} is damaged: {problem}. Save the model again, or restore the file from a copy."
    )


def _is_json_number(value):
    """A JSON number as ``json.loads`` gives it: an int or a float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _read_online_entries(archive, metadata, path):
    """The online-EM state's entries, checked against the metadata field ``online_em``.

    Returns None for a file without the state (a model fitted by ``fit``, or a
    file of a fastem that did not save it: ``partial_fit`` then restarts
    online EM), else ``{entry: array}`` as read.
    """
    stray = sorted(k for k in archive.files if k.startswith(_ONLINE_PREFIX))
    if _ONLINE not in metadata:
        if stray:
            raise _damaged(
                path, f"it has the online-EM entries {stray} but no metadata field {_ONLINE!r}"
            )
        return None
    online = metadata[_ONLINE]
    if not isinstance(online, dict):
        raise _damaged(path, f"metadata field {_ONLINE!r} is {online!r}, expected a dict")
    if metadata["format_version"] < _ONLINE_VERSION:
        raise _damaged(
            path,
            f"metadata field {_ONLINE!r} needs format_version {_ONLINE_VERSION}, but the file "
            f"says {metadata['format_version']} (older fastem would ignore it)",
        )
    for field, check, expected in (
        ("n_steps", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
         "a non-negative integer"),
        ("n_samples", lambda v: _is_json_number(v) and math.isfinite(v) and v > 0,
         "a positive finite number"),
        ("log_likelihood", lambda v: _is_json_number(v) and math.isfinite(v), "a finite number"),
        ("moments", lambda v: isinstance(v, list) and all(isinstance(n, str) for n in v)
         and len(set(v)) == len(v), "a list of distinct names"),
        ("reference", lambda v: isinstance(v, list) and all(isinstance(n, str) for n in v)
         and len(set(v)) == len(v), "a list of distinct names"),
    ):
        name = f"{_ONLINE}.{field}"
        if field not in online:
            raise _damaged(path, f"its metadata lacks the field {name!r}")
        if not check(online[field]):
            raise _damaged(path, f"metadata field {name!r} is {online[field]!r}, expected {expected}")
    if metadata["n_iter"] != online["n_steps"] + 1:
        raise _damaged(
            path,
            f"metadata field '{_ONLINE}.n_steps' is {online['n_steps']}, but 'n_iter' is "
            f"{metadata['n_iter']}; a model stepped by partial_fit has n_iter = n_steps + 1",
        )
    problem = _online_record_problem(metadata, online["n_steps"],
                                     lambda field: f"metadata field {field!r}")
    if problem is not None:
        raise _damaged(path, problem)
    listed = {_ONLINE_NK: _ONLINE}
    listed.update({_ONLINE_MOMENT + n: f"{_ONLINE}.moments" for n in online["moments"]})
    listed.update({_ONLINE_REFERENCE + n: f"{_ONLINE}.reference" for n in online["reference"]})
    for key, field in listed.items():
        if key not in archive.files:
            raise _damaged(path, f"it lacks the entry {key!r} that metadata field {field!r} lists")
    for key in stray:
        if key not in listed:
            field = next((f"{_ONLINE}.{f}" for f, prefix in (("moments", _ONLINE_MOMENT),
                          ("reference", _ONLINE_REFERENCE)) if key.startswith(prefix)), _ONLINE)
            raise _damaged(path, f"it has the entry {key!r}, which metadata field {field!r} "
                           "does not list")
    keys = list(listed)
    return {k: archive[k] for k in keys}


def _restore_online_state(model, metadata, entries, path):
    """Check the online-EM state against the built model, and set n_steps_ and the statistics.

    Every array must be finite and of the shape the model's statistics have;
    ``nk`` and the moments float64 (as :class:`SufficientStatistics` holds
    them), ``nk`` non-negative and summing to at most ``n_samples``, and each reference
    of the dtype of the model's own reference (its parameters' dtype).
    """
    from .stats import SufficientStatistics

    online = metadata[_ONLINE]
    n_features = model.n_features_in_
    moment_shapes = {n: tuple(s) for n, s in model._moment_shapes(n_features).items()}
    # A GaussianMixture with missing='em' written before its statistics summed the
    # observed-data moments (observed_nk, observed_sx, observed_sxx): they are taken as
    # those of data without NaN, as if its components observed every feature.
    observed_unsaved = [
        n for n in ("observed_nk", "observed_sx", "observed_sxx")
        if hasattr(model, "_observed_of_complete") and n in moment_shapes
        and isinstance(online.get("moments"), (list, tuple)) and n not in online["moments"]
    ]
    for n in observed_unsaved:
        moment_shapes.pop(n)
    reference_now = {n: np.asarray(v) for n, v in model._reference().items()}
    for field, names, expected in (("moments", online["moments"], moment_shapes),
                                   ("reference", online["reference"], reference_now)):
        if set(names) != set(expected):
            raise _damaged(
                path,
                f"metadata field '{_ONLINE}.{field}' is {names}, but a {type(model).__name__} "
                f"with these hyper-parameters has {list(expected)}",
            )

    def checked(key, value, shape, dtype):
        field = _Field(path, key, value)
        if value.dtype.kind != "f" or value.dtype.itemsize != np.dtype(dtype).itemsize:
            field.fail(f"has dtype {value.dtype}, expected {np.dtype(dtype).name}")
        if value.shape != shape:
            field.fail(
                f"has shape {value.shape}, but a model with n_components={model.n_components} "
                f"and n_features={n_features} needs {shape}"
            )
        field.value = np.asarray(value, dtype=dtype, order="C")
        field.finite()
        return field

    nk = checked(_ONLINE_NK, entries[_ONLINE_NK], (model.n_components,), np.float64)
    if (nk.value < 0).any():
        nk.fail(f"has a negative mass, {nk.value.min():.6g}")
    n_samples = float(online["n_samples"])
    total = float(nk.value.sum())
    # At most the weight, up to float32's rounding of the responsibilities: a
    # point of zero density under every component adds its weight to
    # n_samples and no responsibility to nk.
    if not total <= n_samples * (1.0 + 1e-4):
        nk.fail(f"sums to {total:.9g}, more than metadata field '{_ONLINE}.n_samples', "
                f"{n_samples!r}")
    moments = {
        n: checked(_ONLINE_MOMENT + n, entries[_ONLINE_MOMENT + n], moment_shapes[n],
                   np.float64).value
        for n in online["moments"]
    }
    reference = {
        n: checked(_ONLINE_REFERENCE + n, entries[_ONLINE_REFERENCE + n],
                   reference_now[n].shape, reference_now[n].dtype).value
        for n in online["reference"]
    }
    if observed_unsaved:
        complete = model._observed_of_complete(
            SufficientStatistics(n_samples, 0.0, nk.value, moments, reference))
        moments.update({n: complete[n] for n in observed_unsaved})
    model.n_steps_ = online["n_steps"]
    model._running_stats = SufficientStatistics(
        n_samples, float(online["log_likelihood"]), nk.value, moments, reference
    )
    # the stream's warnings said before it was saved stay said (assigned after the running
    # statistics: each assignment of the online state resets them)
    warned = online.get("warned")
    if isinstance(warned, dict):
        for field, attribute in _STREAM_WARNINGS.items():
            value = warned.get(field)
            if field == "rounding_loss":
                if _is_json_number(value) and math.isfinite(value) and value >= 0:
                    setattr(model, attribute, float(value))
            elif isinstance(value, bool):
                setattr(model, attribute, value)


def _check_entry_sizes(archive, path, n_components, n_features):
    """Refuse, before reading it, an entry larger than any array of the model can be.

    The entries of an ``.npz`` file may be compressed: a damaged or hostile
    file could otherwise make :func:`load` decompress gigabytes into memory
    before its shapes are checked.
    """
    if not isinstance(n_components, int) or isinstance(n_components, bool) or n_components < 1:
        n_components = 1  # the hyper-parameter check that follows names the problem
    # (the 'pairs' statistic of a 'tied' Gaussian stepped by partial_fit is K x K)
    limit = 8 * n_components * ((n_features + 1) ** 2 + n_components) + (1 << 16)
    for key in archive.files:
        if key == _METADATA:
            continue
        size = archive.n_bytes(key)
        if size > limit:
            raise ValueError(
                f"{path!r} is damaged: its entry {key!r} would take {size} bytes, more than "
                f"any array of a model with n_components={n_components} and "
                f"n_features={n_features} ({limit} bytes). Save the model again, or "
                "restore the file from a copy."
            )


# ----------------------------------------------------------------------
# what a fitted model's arrays must satisfy


_FILE_FIX = "The file is damaged or was edited; save the model again."
# What save and to_sklearn say of a model whose parameters load would refuse in a file.
_MODEL_FIX = (
    "If they were assigned, assign the parameters of one fitted model together "
    "(covariances_, precisions_ and precisions_cholesky_ describe the same matrices); if "
    "they come from a fit, refit it."
)
# What they say of a variational mixture's weights_ that disagree with its concentrations.
_WEIGHTS_FIX = (
    "If they were assigned, assign weight_concentration_ alone (weights_, its expected "
    "weights, follows it), or the weights_ and weight_concentration_ of one fitted model "
    "together; if they come from a fit, refit it."
)


class ParametersDisagree(ValueError):
    """A model's parameters disagree with one another (see :func:`check_parameters_agree`)."""


def check_parameters_agree(model, state):
    """Refuse Gaussian parameters that disagree with one another, which no method would
    read as one model.

    Of ``state`` (a :class:`~fastem._state.ParameterState` of ``model``), as
    :func:`load` checks a model file's: ``precisions_`` the product of the
    Cholesky factors (their upper triangles, which the kernels read),
    ``covariances_`` its inverse, and a variational mixture's ``weights_`` the
    expected weights of its ``weight_concentration_``. An assigned
    ``covariances_`` beside the old precisions was used by ``sample`` while
    the predictions used the precisions. Raises :class:`ParametersDisagree`,
    naming the attributes and the fix.
    """
    from .families.bayesian import BayesianGaussianMixture
    from .families.gaussian import _GaussianComponents, upper

    names = ("weights_", "covariances_", "precisions_", "precisions_cholesky_")
    if not isinstance(model, _GaussianComponents) or any(n not in state for n in names):
        return
    dtype = np.dtype(state["weights_"].dtype)
    fields = {name: _Field(None, name, np.asarray(state[name]), _MODEL_FIX)
              for name in model._parameter_names if name in state}
    factors = U = np.asarray(state["precisions_cholesky_"], dtype=np.float64)
    if model.covariance_type in ("full", "tied"):
        U = upper(factors)
    note = ""
    try:
        if not np.array_equal(U, factors):  # a lower factor, as np.linalg.cholesky gives
            note = (
                " The precisions_cholesky_ hold entries below the diagonal, which no method "
                "reads: they must be upper-triangular factors U with U @ U.T == "
                "precisions_, as scikit-learn's are (np.linalg.cholesky gives lower ones)."
            )
        _check_gaussian_relations(model.covariance_type, fields, dtype, U)
        if note:  # the others derived from the upper triangles agree with them
            raise ValueError("'precisions_cholesky_' is not upper-triangular.")
        if isinstance(model, BayesianGaussianMixture):
            _check_expected_weights(model, fields)
    except ValueError as exc:
        raise ParametersDisagree(
            f"The parameters of this {type(model).__name__} disagree with each other: "
            f"{str(exc).replace('field ', '', 1)}{note}"
        ) from None


def _check_fitted_parameters(model):
    """``model._check_fitted_parameters``, but for a disagreement between its parameters,
    which :func:`checked_parameter_arrays` reports in the words of its caller."""
    try:
        model._check_fitted_parameters(model.n_features_in_)
    except ParametersDisagree:
        pass


def checked_parameter_arrays(model, doing, fix=_MODEL_FIX):
    """The fitted parameters of ``model`` as arrays, once they pass what :func:`load`
    checks of a model file's arrays.

    ``save`` writes no file that ``load`` would refuse, and ``to_sklearn`` makes
    no estimator of such parameters: both run these checks, the estimator's own
    (:meth:`~fastem.base.BaseMixture._check_fitted_parameters`) and then the
    file's (:func:`check_fitted_arrays`: symmetric positive definite matrices,
    covariances the inverse of the precisions, ...; fastem's families only).
    A failure of the file's raises ValueError starting with ``doing``, naming
    the field and ending with ``fix`` (or ``fix(name)``, for a callable).
    """
    _check_fitted_parameters(model)
    arrays = {name: np.asarray(getattr(model, name)) for name in model._parameter_names}
    if type(model).__module__.startswith("fastem."):  # load knows fastem's families only
        try:
            check_fitted_arrays(model, dict(arrays), int(model.n_features_in_),
                                np.dtype(model._dtype).name, None, fix)
        except ValueError as exc:
            raise ValueError(f"{doing}: {exc}") from None
    return arrays


class _Field:
    """Checks of one array of a model file; errors name the file and the field, and ``fix``."""

    def __init__(self, path, name, value, fix=_FILE_FIX):
        self.path, self.name, self.value, self.fix = path, name, value, fix

    def fail(self, problem):
        where = "" if self.path is None else f"{self.path!r}: "  # None: the caller says where
        raise ValueError(f"{where}field {self.name!r} {problem}. {self.fix}")

    def finite(self):
        if not np.isfinite(self.value).all():
            bad = int((~np.isfinite(self.value)).sum())
            self.fail(f"contains {bad} NaN or infinite value(s)")

    def positive(self):
        self.finite()
        if self.value.size and not (self.value > 0).all():
            self.fail(f"must be positive, but its smallest value is {self.value.min():.6g}")

    def symmetric_positive_definite(self, dtype, rounded=True):
        """Symmetric positive definite matrices; ``rounded``: computed in float64 and
        stored in ``dtype`` (covariances_, precisions_), allowed that rounding.

        Without it (covariance_prior_, which the fit stores positive definite in its
        dtype: see ``_priors_for_float32``) the smallest eigenvalue must be above 0
        beyond rounding, as the estimator requires of a given covariance_prior: a
        singular prior makes the covariance of a component without data singular.
        """
        from .families.gaussian import smallest_eigenvalue

        self.finite()
        for index, matrix in _matrices(self.value):
            matrix = matrix.astype(np.float64)
            scale = np.abs(matrix).max()
            if not _stored_symmetric(matrix, dtype):
                self.fail(f"{index}is not symmetric")
            if not rounded:
                smallest = smallest_eigenvalue(matrix)
                if not smallest > 0:
                    self.fail(
                        f"{index}is not positive definite (smallest eigenvalue {smallest:.3g})"
                    )
                continue
            try:
                np.linalg.cholesky(matrix)
            except np.linalg.LinAlgError:
                # A positive definite matrix computed in float64 and stored in
                # ``dtype`` (a float32 covariance of nearly collinear features)
                # can round to one with an eigenvalue of 0 or a little below:
                # within the rounding of its entries, it is kept (not the zero matrix).
                smallest = np.linalg.eigvalsh(matrix)[0]
                if not smallest > -_tolerance(dtype) * scale * len(matrix):
                    self.fail(
                        f"{index}is not positive definite (smallest eigenvalue {smallest:.3g})"
                    )


def _matrices(value):
    """(label, matrix) pairs of a (D, D) or (K, D, D) array."""
    if value.ndim == 2:
        return [("", value)]
    return [(f"[{k}] ", m) for k, m in enumerate(value)]


def _tolerance(dtype):
    """Relative tolerance for values computed in float64 and stored in ``dtype``."""
    return 64 * float(np.finfo(dtype).eps)


def _stored_symmetric(matrix, dtype):
    """Whether the float64 (D, D) ``matrix``, stored in ``dtype``, is symmetric as a model
    file holds its matrices: within :func:`_tolerance` of its largest entry."""
    return bool(np.allclose(matrix, matrix.T, rtol=0,
                            atol=_tolerance(dtype) * np.abs(matrix).max()))


def check_fitted_arrays(model, arrays, n_features, dtype_name, path, fix=_FILE_FIX):
    """Check a model file's parameter arrays against its metadata and its family.

    ``arrays`` maps each of ``model._parameter_names`` to the array read from
    the file; they are replaced in place by native-byte-order, C-contiguous
    copies. Shapes and dtypes are checked for every family; the values for
    the families of this package (Gaussian: SPD covariances and precisions,
    upper-triangular precision Cholesky factors with a positive diagonal, the
    three consistent with each other; exponential and Poisson: positive
    scales and rates). A family defined elsewhere gets the checks of its
    weights and of finiteness. ``path``: the file that errors name (None:
    the caller names the model). ``fix``: what an error advises, or a
    function of the field's name giving it (``save`` and ``to_sklearn``
    check a model with the same function, through
    :func:`checked_parameter_arrays`; ``from_sklearn`` advises on a
    ``covariance_prior_`` of its own).
    """
    from .families._mean import MeanParameterMixture
    from .families.bayesian import BayesianGaussianMixture
    from .families.gaussian import _GaussianComponents

    dtype = np.dtype(dtype_name)
    K, D = model.n_components, n_features
    shapes = {"weights_": (K,)}
    if isinstance(model, _GaussianComponents):
        shapes = {name: tuple(shape) for name, shape in model._parameter_shapes(D).items()}
    elif isinstance(model, MeanParameterMixture):
        shapes[model._mean_name] = (K, D)
    fields = {}
    for name, value in arrays.items():
        field = fields[name] = _Field(path, name, value, fix(name) if callable(fix) else fix)
        if value.dtype.kind != "f" or value.dtype.itemsize != dtype.itemsize:
            field.fail(f"has dtype {value.dtype}, but the metadata says {dtype.name}")
        expected = shapes.get(name)
        if expected is not None and value.shape != expected:
            field.fail(
                f"has shape {value.shape}, but a model with n_components={K} and "
                f"n_features={D} needs {expected}"
            )
        if expected is None and (value.ndim == 0 or value.shape[0] != K) and name != "precisions_cholesky_":
            field.fail(f"has shape {value.shape}; its first axis must have n_components={K} entries")
        arrays[name] = field.value = np.asarray(value, dtype=dtype, order="C")  # keeps 0-d
        field.finite()
    weights = fields["weights_"]
    if (weights.value < 0).any():
        weights.fail(f"has a negative weight, {weights.value.min():.6g}")
    total = float(weights.value.astype(np.float64).sum())
    if abs(total - 1.0) > 1e-6 + 4 * K * float(np.finfo(dtype).eps):
        weights.fail(f"sums to {total:.9g}; mixing weights must sum to 1")
    if isinstance(model, _GaussianComponents):
        _check_gaussian(model.covariance_type, fields, dtype)
    elif isinstance(model, MeanParameterMixture):
        fields[model._mean_name].positive()
    if isinstance(model, BayesianGaussianMixture):
        _check_posterior(model, fields, D, dtype)


def _check_posterior(model, fields, n_features, dtype):
    """A variational mixture's posterior and priors: in their domains, weights from concentrations."""
    for name in (
        "weight_concentration_", "mean_precision_", "weight_concentration_prior_",
        "mean_precision_prior_",
    ):
        fields[name].positive()
    for name in ("degrees_of_freedom_", "degrees_of_freedom_prior_"):
        field = fields[name]
        if not (field.value > n_features - 1).all():
            field.fail(
                f"must exceed n_features - 1 = {n_features - 1}, but its smallest value is "
                f"{field.value.min():.6g}"
            )
    prior = fields["covariance_prior_"]
    if model.covariance_type in ("full", "tied"):
        prior.symmetric_positive_definite(dtype, rounded=False)
    else:
        prior.positive()
    _check_expected_weights(model, fields)


def _check_expected_weights(model, fields):
    """A variational mixture's ``weights_``: the expected weights of its concentrations."""
    expected = model._expected_weights(fields["weight_concentration_"].value.astype(np.float64))
    weights = fields["weights_"]
    if not np.allclose(weights.value, expected, rtol=1e-4, atol=1e-6):
        # the advice of the weights, not of the covariance parameters
        fix = weights.fix.replace(_MODEL_FIX, _WEIGHTS_FIX)
        _Field(weights.path, weights.name, weights.value, fix).fail(
            "disagrees with 'weight_concentration_' (the weights are the posterior's "
            "expected weights)"
        )


def _check_gaussian(covariance_type, fields, dtype):
    covariances = fields["covariances_"]
    cholesky = fields["precisions_cholesky_"]
    precisions = fields["precisions_"]
    U = cholesky.value.astype(np.float64)
    if covariance_type in ("diag", "spherical"):
        for field in (covariances, cholesky, precisions):
            field.positive()
    else:
        covariances.symmetric_positive_definite(dtype)
        precisions.symmetric_positive_definite(dtype)
        if np.tril(U, -1).any():
            cholesky.fail(
                "is not upper-triangular (it must hold factors U with U @ U.T equal to "
                "the precision matrix, as scikit-learn stores them)"
            )
        diagonal = np.diagonal(U, axis1=-2, axis2=-1)
        if not (diagonal > 0).all():
            cholesky.fail(
                f"has a diagonal entry {diagonal.min():.6g}; the diagonal of a Cholesky "
                "factor must be positive"
            )
    _check_gaussian_relations(covariance_type, fields, dtype, U)


def _check_gaussian_relations(covariance_type, fields, dtype, U):
    """``precisions_`` the product of the factors ``U`` (float64) and ``covariances_`` its
    inverse, each within the rounding of ``dtype``."""
    covariances, precisions = fields["covariances_"], fields["precisions_"]
    if covariance_type in ("diag", "spherical"):
        products = bound = U * U
        residual = np.abs(covariances.value * precisions.value.astype(np.float64) - 1.0)
        allowed = 1e-3
    else:
        products = U @ np.swapaxes(U, -1, -2)
        bound = np.abs(U) @ np.swapaxes(np.abs(U), -1, -2)
        C = covariances.value.astype(np.float64)
        P = precisions.value.astype(np.float64)
        residual = np.abs(C @ P - np.eye(C.shape[-1]))
        # Rounding the matrices to ``dtype`` perturbs the product by about
        # eps * |C| |P|, which grows with their conditioning.
        norms = np.abs(C).sum(axis=-1).max() * np.abs(P).sum(axis=-1).max()
        allowed = 1e-3 + 16 * float(np.finfo(dtype).eps) * float(norms)
    # precisions_ is U @ U.T up to the rounding of storing it in ``dtype``.
    if not (np.abs(precisions.value - products) <= _tolerance(dtype) * bound).all():
        precisions.fail("disagrees with 'precisions_cholesky_' (it must equal U @ U.T)")
    if not residual.max() <= allowed:
        covariances.fail(
            "is not the inverse of 'precisions_' (covariances_ @ precisions_ differs from "
            f"the identity by {residual.max():.3g})"
        )


# ----------------------------------------------------------------------
# scikit-learn converters

_SHARED_GAUSSIAN_HYPER = (
    "n_components",
    "covariance_type",
    "tol",
    "reg_covar",
    "max_iter",
    "n_init",
    "init_params",
    "weights_init",
    "means_init",
    "precisions_init",
    "random_state",
    "warm_start",
    "verbose",
    "verbose_interval",
)
_GAUSSIAN_FITTED = (
    "weights_",
    "means_",
    "covariances_",
    "precisions_cholesky_",
    "precisions_",
    "converged_",
    "n_iter_",
    "lower_bound_",
    "n_features_in_",
)


_BAYESIAN_HYPER = (
    "n_components", "covariance_type", "tol", "reg_covar", "max_iter", "n_init", "init_params",
    "weight_concentration_prior_type", "weight_concentration_prior", "mean_precision_prior",
    "mean_prior", "degrees_of_freedom_prior", "covariance_prior", "random_state", "warm_start",
    "verbose", "verbose_interval",
)
_BAYESIAN_FITTED = _GAUSSIAN_FITTED + (
    "mean_precision_", "mean_prior_", "covariance_prior_", "degrees_of_freedom_",
    "weight_concentration_prior_", "mean_precision_prior_", "degrees_of_freedom_prior_",
)


def _to_sklearn(model, sklearn_class, hyper_names, fitted_names):
    """A fitted scikit-learn ``sklearn_class`` with the model's hyper-parameters and attributes."""
    model._check_is_fitted()
    # As save: hyper-parameters changed by set_params since the fit (n_components,
    # covariance_type) no longer describe the parameters, and scikit-learn would use
    # the two together; parameters that a model file could not hold (covariances_ not
    # the inverse of precisions_, say) would give it predictions of neither.
    doing = f"cannot convert the {type(model).__name__} to scikit-learn"
    checked_parameter_arrays(
        model, doing, f"scikit-learn would compute with parameters that disagree. {_MODEL_FIX}",
    )
    check_record(model, doing, "A fastem model file could not hold it.")
    hyper = {name: getattr(model, name) for name in hyper_names}
    if hyper["init_params"] == "hierarchical":  # not scikit-learn's: its default, so that
        hyper["init_params"] = "kmeans"        # clone(estimator).fit(X) runs there
    estimator = sklearn_class(**hyper)
    for name in fitted_names:
        value = getattr(model, name)
        if isinstance(value, np.ndarray):
            value = value.astype(np.float64)
        setattr(estimator, name, value)
    if model._dtype == np.float32 and model.covariance_type in ("full", "tied"):
        # float32 covariances and precisions can be stored indefinite (nearly collinear
        # features): scikit-learn's float64 ones are those of the precision factors
        from .families.gaussian import precisions_from_cholesky

        covariances = model._float64_covariances()
        estimator.covariances_ = covariances if model.covariance_type == "full" else covariances[0]
        estimator.precisions_ = precisions_from_cholesky(
            estimator.precisions_cholesky_, model.covariance_type
        )
    elif model._dtype == np.float32:
        # 'diag' and 'spherical': float32 variances and precisions agree with the factors
        # within float32's rounding, not float64's, which from_sklearn checks them at;
        # scikit-learn's float64 ones are those of the factors, as for 'full'
        estimator.precisions_ = estimator.precisions_cholesky_**2
        estimator.covariances_ = 1.0 / estimator.precisions_
    if model._dtype == np.float32 or estimator.weights_[:-1].sum() > 1.0:
        # float32 weights can sum above 1 in float64 (0.6 and 0.4: 1 + 3e-8), as can float64
        # ones assigned within the 1e-6 that weights_ accepts, and with an empty or inactive
        # last component scikit-learn's sample (NumPy's multinomial) then refuses the others
        estimator.weights_ = estimator.weights_ / estimator.weights_.sum()
    estimator.lower_bounds_ = list(model.lower_bounds_)
    if getattr(model, "feature_names_in_", None) is not None:  # None: no names, as absent
        # an object array of its own, as scikit-learn's fit sets it, whatever was assigned
        # (a list, a tuple, an array of NumPy strings)
        estimator.feature_names_in_ = np.array(model.feature_names_in_, dtype=object)
    # The settings the parameters embody (reg_covar), which a set_params since the fit may
    # have changed and scikit-learn has no field for: from_sklearn reads them back, as
    # load reads a file's fitted_settings, while the estimator holds these parameters.
    fitted = getattr(model, "_fitted_settings", None) or model._settings_of_the_fit()
    estimator._fastem_fitted_settings = {
        "settings": {name: float(value) for name, value in fitted.items()},
        "precisions_cholesky_": np.array(estimator.precisions_cholesky_, copy=True),
    }
    if model._dtype == np.float32:  # scikit-learn's are float64; from_sklearn takes these
        estimator._fastem_fitted_settings["float32_parameters"] = {
            name: np.array(getattr(model, name), copy=True) for name in model._parameter_names}
    unobserved = model._unobserved_of_the_fit()
    if unobserved is not None:  # as a model file's unobserved_features
        estimator._fastem_fitted_settings["unobserved_features"] = (
            np.argwhere(unobserved).tolist())
    # fastem's hyper-parameters that scikit-learn has not (the callback, a function, is
    # not carried: it is not saved in a model file either)
    estimator._fastem_hyper_parameters = {
        name: getattr(model, name) for name in _FASTEM_ONLY_HYPER
        if name in model._get_param_names()}
    estimator._fastem_hyper_parameters["init_params"] = model.init_params
    return estimator


# fastem's hyper-parameters that scikit-learn's mixtures do not have
_FASTEM_ONLY_HYPER = ("accelerate", "missing", "step_exponent", "step_offset")


_SKLEARN_MIXTURES = ("GaussianMixture", "BayesianGaussianMixture")


def _real_as_float(value):
    """``value`` as a Python float where it is one real number (a NumPy scalar, an array
    of one); anything else as given, for the check of the converted record to name."""
    try:
        array = np.asarray(value)
    except (ValueError, TypeError):  # ragged
        return value
    if array.size == 1 and array.dtype.kind in "fiu":
        return float(array.ravel()[0])
    return value


def _from_sklearn(cls, estimator, hyper_names, fitted_names, kind):
    """A ``cls`` with the hyper-parameters and fitted attributes of a scikit-learn estimator
    of the class ``kind`` of ``sklearn.mixture`` (TypeError for another)."""
    from sklearn import mixture

    if not isinstance(estimator, getattr(mixture, kind)):
        name = type(estimator).__name__
        public = name in _SKLEARN_MIXTURES and isinstance(estimator, getattr(mixture, name))
        shown = f"sklearn.mixture.{name}" if public else f"{type(estimator).__module__}.{name}"
        raise TypeError(
            f"{cls.__name__}.from_sklearn takes a fitted sklearn.mixture.{kind}, got {shown}"
            + (f"; use fastem.{name}.from_sklearn for it." if public else ".")
        )
    if not hasattr(estimator, "weights_"):
        raise ValueError(
            f"{type(estimator).__name__} is not fitted; call its fit() before converting."
        )
    hyper = {name: getattr(estimator, name) for name in hyper_names}
    carried = getattr(estimator, "_fastem_hyper_parameters", None)
    if isinstance(carried, dict):  # written by to_sklearn
        hyper.update({name: value for name, value in carried.items()
                      if name in _FASTEM_ONLY_HYPER and name in cls._get_param_names()})
        if carried.get("init_params") == "hierarchical" and hyper["init_params"] == "kmeans":
            hyper["init_params"] = "hierarchical"  # what to_sklearn made 'kmeans'
    model = cls(**hyper)
    # the parameters together, as the estimator holds them: none is derived from another
    # (weights_ from weight_concentration_, precisions_ from precisions_cholesky_)
    parameters = [name for name in fitted_names if name in model._parameter_names]
    model._replace_parameters({name: _as_fastem_holds(estimator, name) for name in parameters})
    for name in fitted_names:
        if name not in parameters:
            setattr(model, name, _as_fastem_holds(estimator, name))
    # Python floats, as a fit and a model file give them: scikit-learn's are NumPy
    # scalars (a variational mixture's an array of one), which save and load would change
    model.lower_bound_ = _real_as_float(estimator.lower_bound_)
    bounds = getattr(estimator, "lower_bounds_", [estimator.lower_bound_])
    model.lower_bounds_ = [_real_as_float(v) for v in bounds]
    if getattr(estimator, "feature_names_in_", None) is not None:  # None: no names, as absent
        model.feature_names_in_ = np.asarray(estimator.feature_names_in_, dtype=object)
    return model


def _as_fastem_holds(estimator, name):
    """The estimator's field ``name``; its matrices (the covariances, precisions and
    covariance prior of 'full' and 'tied') as their symmetric part where they are
    symmetric but for rounding and yet beyond what a model file holds
    (:func:`_stored_symmetric`), as fastem holds the matrices it is given.

    scikit-learn computes them with products that are symmetric only to the rounding of
    the terms they cancel: a 'tied' fit of two repeated points held covariances of 1e-6
    whose off-diagonal entries differ by 1.4e-16, beyond the model file's tolerance (64
    eps of the largest entry), and was refused. Matrices within it are kept bit for bit
    (a fit's, 1 unit apart, go back by ``to_sklearn`` as they came); matrices beyond
    :func:`symmetric_within_rounding` are kept too, for the checks to refuse."""
    from .families.gaussian import symmetric_part, symmetric_within_rounding

    value = getattr(estimator, name)
    if (name not in ("covariances_", "precisions_", "covariance_prior_")
            or getattr(estimator, "covariance_type", None) not in ("full", "tied")):
        return value
    matrices = np.asarray(value)
    if (matrices.dtype != np.float64 or matrices.ndim not in (2, 3)
            or matrices.shape[-1] != matrices.shape[-2] or not np.isfinite(matrices).all()):
        return value
    stack = matrices.reshape(-1, *matrices.shape[-2:])
    stored = [_stored_symmetric(m, np.float64) for m in stack]
    if all(stored) or not all(map(symmetric_within_rounding, stack)):
        return value
    return np.stack([m if kept else symmetric_part(m)
                     for m, kept in zip(stack, stored)]).reshape(matrices.shape)


_REFIT = "A fastem model could not be saved with them; refit the estimator."
# scikit-learn's default covariance_prior is the data's covariance, singular when a
# feature is constant: refitting with the default gives the same prior.
_REFIT_WITH_A_PRIOR = (
    "A fastem model could not be saved with it. Refit the scikit-learn estimator with an "
    "explicit positive definite covariance_prior (positive variances for 'diag' and "
    "'spherical'), e.g. the data's covariance plus a small multiple of the identity, "
    "np.cov(X, rowvar=False) + 1e-6 * np.eye(n_features): its default, the data's "
    "covariance, is singular when a feature is constant, and a refit with it gives the "
    "same prior."
)


def _conversion_fix(name):
    """The advice of an error about the estimator's field ``name``."""
    return _REFIT_WITH_A_PRIOR if name == "covariance_prior_" else _REFIT


def _checked_conversion(model, estimator):
    """``model``, converted from ``estimator``, once its parameters agree with its
    hyper-parameters (scikit-learn's ``set_params`` after a fit can part them), with
    their structure recorded for a warm start."""
    doing = f"The sklearn.mixture.{type(estimator).__name__} does not convert"
    float32 = _float32_parameters(estimator, model._parameter_names)
    if float32 is not None:  # a float32 model's, while the estimator holds them in float64
        if not (isinstance(float32, dict) and set(float32) == set(model._parameter_names)
                and all(isinstance(v, np.ndarray) and v.dtype == np.float32
                        and v.shape == np.shape(getattr(model, name))
                        for name, v in float32.items())):
            raise ValueError(f"{doing}: its fastem record of float32 parameters, written by "
                             f"to_sklearn, is not one array of float32 per parameter of "
                             f"{model._parameter_names}. {_REFIT}")
        model._replace_parameters({name: v.copy() for name, v in float32.items()})
    try:
        checked_parameter_arrays(model, doing, _conversion_fix)
        check_record(model, doing, "A fastem model could not be saved with it.")
    except ValueError as exc:
        message = _one_line(exc)
        raise ValueError(message if message.startswith(doing) else f"{doing}: {message}") from None
    model._fit_structure = model._structure(model.n_features_in_)
    model._fitted_settings = _settings_of_estimator(model, estimator, doing)
    return model


def _carried_record(estimator):
    """The record that ``to_sklearn`` wrote on ``estimator`` (``_fastem_fitted_settings``)
    while the estimator holds the parameters it was written with, else None (an estimator
    of scikit-learn's own fit, or fitted or assigned since)."""
    carried = getattr(estimator, "_fastem_fitted_settings", None)
    if not (isinstance(carried, dict) and {"settings", "precisions_cholesky_"} <= set(carried)):
        return None
    factors = np.asarray(estimator.precisions_cholesky_)
    kept = carried["precisions_cholesky_"]
    if not (isinstance(kept, np.ndarray) and kept.shape == factors.shape
            and np.array_equal(kept, factors)):
        return None
    return carried


def _float32_parameters(estimator, names):
    """The float32 parameters that ``to_sklearn`` recorded on ``estimator``, while it holds
    the float64 ones it was written with (``names``, a model's ``_parameter_names``); else
    None: an estimator whose weights_ or means_ were assigned since converts what it holds."""
    carried = _carried_record(estimator) or {}
    float32, written = carried.get("float32_parameters"), carried.get("float64_parameters")
    if float32 is None or not isinstance(written, dict):
        return None
    for name in names:
        kept, held = written.get(name), getattr(estimator, name, None)
        if not (isinstance(kept, np.ndarray) and np.shape(held) == kept.shape
                and np.array_equal(np.asarray(held), kept)):
            return None
    return float32


def _settings_of_estimator(model, estimator, doing):
    """The settings that the parameters of ``estimator`` embody (``model``'s
    ``_fitted_settings``): those that ``to_sklearn`` recorded, while the estimator holds
    the parameters it recorded them with; else its hyper-parameters, which its own fit
    used (a refit replaces the parameters, and with them the record)."""
    settings = model._settings_of_the_fit()
    carried = _carried_record(estimator)
    if carried is None:
        return settings
    problem = _fitted_settings_problem(carried["settings"], settings)
    pairs = carried.get("unobserved_features")
    if problem is None and pairs is not None:
        problem = _unobserved_features_problem(pairs, model._n_components, model.n_features_in_,
                                               model._fits_missing())
        if problem is None:
            unobserved = np.zeros((model._n_components, model.n_features_in_), dtype=bool)
            for k, j in pairs:
                unobserved[k, j] = True
            model._unobserved_features = unobserved if unobserved.any() else None
    if problem is not None:
        raise ValueError(f"{doing}: its fastem record {carried!r}, written by to_sklearn, "
                         f"{problem}. {_REFIT}")
    return {**settings, **{name: float(value) for name, value in carried["settings"].items()}}


def _sklearn_mixture(model):
    """``sklearn.mixture``, or an ImportError saying that ``to_sklearn`` needs scikit-learn.

    scikit-learn is not a dependency of fastem; without it the import failed
    deep in this module with only "No module named 'sklearn'".
    """
    try:
        from sklearn import mixture
    except ImportError:
        raise ImportError(
            f"{type(model).__name__}.to_sklearn needs scikit-learn, which is not installed. "
            "Install it with pip install scikit-learn; the model itself works without it "
            "(save it with model.save(path))."
        ) from None
    return mixture


@one_snapshot
def gaussian_to_sklearn(model):
    """An equivalent fitted :class:`sklearn.mixture.GaussianMixture` (float64 arrays)."""
    sklearn_class = _sklearn_mixture(model).GaussianMixture
    estimator = _to_sklearn(model, sklearn_class, _SHARED_GAUSSIAN_HYPER, _GAUSSIAN_FITTED)
    return _with_held_parameters(estimator, model)


def gaussian_from_sklearn(cls, estimator):
    """A fastem GaussianMixture holding the parameters of a fitted scikit-learn one."""
    model = _from_sklearn(
        cls, estimator, _SHARED_GAUSSIAN_HYPER, _GAUSSIAN_FITTED, "GaussianMixture"
    )
    return _checked_conversion(model, estimator)


@one_snapshot
def bayesian_to_sklearn(model):
    """An equivalent fitted :class:`sklearn.mixture.BayesianGaussianMixture` (float64 arrays).

    scikit-learn keeps the Dirichlet process's concentrations as a pair of
    arrays and the scalar priors (and the 'tied' degrees of freedom) as floats.
    """
    from .families.bayesian import _SCALAR_PRIORS

    estimator = _to_sklearn(
        model, _sklearn_mixture(model).BayesianGaussianMixture, _BAYESIAN_HYPER,
        _BAYESIAN_FITTED
    )
    for name in _BAYESIAN_FITTED:
        value = getattr(estimator, name)
        if isinstance(value, np.ndarray) and value.ndim == 0:
            setattr(estimator, name, float(value))
    # scikit-learn's parameter check takes only floats for these (a 0-d array, which
    # fastem takes, would make the estimator's refit or clone fail)
    estimator.set_params(**{
        name: model._scalar_prior(name) for name in _SCALAR_PRIORS
        if isinstance(getattr(model, name), np.ndarray)
    })
    concentration = np.asarray(model.weight_concentration_, dtype=np.float64)
    estimator.weight_concentration_ = (
        (concentration[0], concentration[1]) if model._process else concentration
    )
    return _with_held_parameters(estimator, model)


def _with_held_parameters(estimator, model):
    """``estimator``, whose record of a float32 model's parameters also holds the float64
    ones the estimator was given: from_sklearn gives the float32 ones back while the
    estimator holds these, and converts those assigned since (weights_, means_, ...)."""
    carried = estimator._fastem_fitted_settings
    if "float32_parameters" in carried:
        carried["float64_parameters"] = {
            name: np.array(np.asarray(getattr(estimator, name)), copy=True)
            for name in model._parameter_names}
    return estimator


def bayesian_from_sklearn(cls, estimator):
    """A fastem BayesianGaussianMixture holding the posterior of a fitted scikit-learn one.

    Floats become 0-d float64 arrays, the Dirichlet process's pair of
    concentration arrays one (2, n_components) array.
    """
    model = _from_sklearn(
        cls, estimator, _BAYESIAN_HYPER, _BAYESIAN_FITTED, "BayesianGaussianMixture"
    )
    model._check_parameters()
    if model.covariance_type == "spherical" and np.size(model.covariance_prior_) == 1:
        # scikit-learn takes the spherical covariance_prior as an array-like, and keeps
        # an array of one element as its fitted prior: the variance it holds
        model.covariance_prior_ = np.reshape(model.covariance_prior_, ())
    parameters = {}
    for name in model._parameter_names:
        if name != "weight_concentration_":
            # refused, not rounded, where float64 would alter them (parameter_as_float)
            parameters[name] = parameter_as_float(getattr(model, name), name).astype(np.float64)
    concentration = estimator.weight_concentration_
    parameters["weight_concentration_"] = np.asarray(
        np.stack(concentration) if model._process else concentration, dtype=np.float64
    )
    model._replace_parameters(parameters)  # together: the estimator's weights_ are kept
    return _checked_conversion(model, estimator)
