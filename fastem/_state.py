"""The fitted state of a model: one immutable snapshot, and the checks before a launch.

A fitted mixture's parameters (``weights_``, ``means_``, ...: the family's
``_parameter_names``) and the record of the fit that made them
(``n_features_in_``, ``feature_names_in_``, ``n_iter_``, ``converged_``,
``lower_bound_``, ``lower_bounds_``, ...: ``FITTED_ATTRIBUTES``) live in one
:class:`ParameterState`, stored on the model in a single attribute. The state
never changes: assigning ``model.means_`` builds a new state with that field
replaced, and a fit builds its states in private and publishes the final one
with one assignment. A reader that takes the state once therefore sees one
consistent model, every attribute from one fit, whatever another thread
assigns meanwhile.

:func:`pinned` gives a thread its own view of a model's state for the length
of a call: every read of a parameter attribute in that thread returns the
pinned state's value, and every assignment replaces the pinned state only. On
normal exit a state that changed is published (to an enclosing pin of the
same thread, or to the model); on an exception it is dropped, so a call that
fails leaves the parameters as they were. Prediction paths pin to read one
snapshot throughout; fits pin to work in private and publish at the end.

:func:`check_kernel_params` is the last check before every kernel launch:
it compares the params NamedTuple with the shapes its family declared at
registration (:func:`fastem.kernels.register_family_kernels`), and the data,
weights and output arrays with one another, in microseconds and without a
pass over the data.
"""

import contextlib
import copy
import copyreg
import functools
import os
import threading
import weakref

import numpy as np

from ._validation import (
    LARGEST_MAGNITUDE_SCALING, NoneEntryError, non_finite_entries, parameter_as_float,
)

__all__ = [
    "FITTED_ATTRIBUTES",
    "ParameterState",
    "all_finite",
    "check_kernel_params",
    "check_parameter_arrays",
    "one_snapshot",
    "on_the_settings_of_its_start",
    "pinned",
]


# The fitted attributes besides the parameters, kept in the snapshot with them
# so that no reader sees the parameters of one fit beside the record of another.
FITTED_ATTRIBUTES = frozenset({
    "n_features_in_", "feature_names_in_", "n_iter_", "converged_", "lower_bound_",
    "lower_bounds_", "n_steps_", "_running_stats", "_remaining_gain", "_fit_structure",
    "_column_indices", "_stored_parameters_warned", "_regularization_warned", "_fitted_settings",
    "_rounding_loss_warned", "_unobserved_warned", "_unobserved_features",
})


# Stands for "no such name" where None is a value.
ABSENT = object()

# The memo key (see ParameterState.memo) marking parameters assigned by hand, which
# BaseMixture._check_fitted_parameters checks against one another before their first use.
ASSIGNED = "assigned"
# The memo key of the names of the parameters that an assignment derived from others
# (BaseMixture._derived_from_assigned) and none has assigned since: a later assignment of
# what they were derived from derives them again.
DERIVED = "derived"


class ParameterState:
    """An immutable snapshot of a fitted model: its parameters and its fit's record.

    ``values`` maps each parameter name to an array, copied in and marked
    read-only, so neither the caller's array nor a view handed out later can
    change a state. ``record`` holds the other fitted attributes of the same
    fit (``n_features_in_``, ``n_iter_``, ``converged_``, ``lower_bound_``,
    ...), stored as given: they are replaced, never changed in place.

    ``memo`` keeps what has been computed from the parameters alone (see
    :meth:`derived`); states with the same parameters share it.
    """

    __slots__ = ("_values", "_record", "_memo")

    def __init__(self, values=(), record=(), memo=None):
        frozen = {}
        for name, value in dict(values).items():
            frozen[name] = _frozen(value)
        object.__setattr__(self, "_values", frozen)
        object.__setattr__(self, "_record", dict(record))
        object.__setattr__(self, "_memo", {} if memo is None else memo)

    def __setattr__(self, name, value):
        raise AttributeError("ParameterState is immutable; use replace()")

    def __reduce__(self):
        # the memo is not pickled, but for the marks of parameters assigned by hand or
        # derived from them
        memo = {key: self._memo[key] for key in (ASSIGNED, DERIVED) if key in self._memo}
        memo = memo or None
        return (ParameterState, (self._values, self._record, memo))

    def __contains__(self, name):
        return name in self._values or name in self._record

    def __getitem__(self, name):
        if name in self._values:
            return self._values[name]
        return self._record[name]

    def get(self, name, default=None):
        """The parameter or fitted attribute ``name``, or ``default`` if the state has none."""
        value = self._values.get(name, ABSENT)
        return self._record.get(name, default) if value is ABSENT else value

    def names(self):
        """The parameter names, in the order they were set."""
        return tuple(self._values)

    @property
    def memo(self):
        """The dict of values derived from this state's parameters (see :meth:`derived`)."""
        return self._memo

    def derived(self, key, compute):
        """``compute()``, a value that depends on this state's parameters and on ``key`` only.

        Computed once per state and key, then kept: the EM loop asks for
        the same vector of a state twice, and a model's predictions for the
        same kernel parameters on every call. Treat the value as read-only.
        """
        memo = self._memo
        if key not in memo:
            memo[key] = compute()
        return memo[key]

    def replace(self, name, value):
        """A new state with the parameter ``name`` set to ``value`` (added if absent)."""
        values = dict(self._values)
        values[name] = _frozen(value)
        return ParameterState._of_frozen(values, self._record)

    @classmethod
    def _of_frozen(cls, values, record, memo=None):
        """A state of ``values`` that are already frozen, and of a ``record`` no state changes."""
        state = object.__new__(cls)
        object.__setattr__(state, "_values", values)
        object.__setattr__(state, "_record", record)
        object.__setattr__(state, "_memo", {} if memo is None else memo)
        return state

    def replace_record(self, name, value):
        """A new state with the fitted attribute ``name`` set to ``value``."""
        record = dict(self._record)
        record[name] = value
        return ParameterState._of_frozen(self._values, record, self._memo)

    def with_parameters(self, other):
        """A new state with the parameters of ``other`` and the record of this one."""
        if isinstance(other, ParameterState):
            return ParameterState(other._values, self._record, other._memo)
        return ParameterState(other, self._record)

    def remove(self, name):
        """A new state without ``name`` (a parameter or a fitted attribute)."""
        values, record = dict(self._values), dict(self._record)
        if name in values:
            del values[name]
            return ParameterState(values, record)
        del record[name]
        return ParameterState._of_frozen(values, record, self._memo)  # the same parameters

    def __repr__(self):
        parts = ", ".join(f"{n}{getattr(v, 'shape', '')}" for n, v in self._values.items())
        return f"ParameterState({parts}; {', '.join(self._record)})"


def _frozen(value):
    if value is None:  # an assigned None stays one, for the checks to name
        return value
    if isinstance(value, np.ndarray) and not value.flags.writeable and value.base is None:
        return value  # already one of ours
    try:
        array = np.array(value, copy=True)
    except (TypeError, ValueError):
        return value  # the launch check rejects it with a message naming the attribute
    array.flags.writeable = False
    return array


# Pins of this thread: {id(model): [state]}. Not stored on the model, so that
# a pin never travels with a pickled or copied model.
_LOCAL = threading.local()


def _pins():
    try:
        return _LOCAL.pins
    except AttributeError:  # this thread's first pin
        pins = _LOCAL.pins = {}
        return pins


_EMPTY = ParameterState()


def committed(model):
    """The state published on ``model`` (empty before the first fit)."""
    return model.__dict__.get("_parameters", _EMPTY)


def current(model):
    """The state this thread sees: its pin if it has one, else the published state."""
    cell = _pins().get(id(model))
    return committed(model) if cell is None else cell[0]


def made_together(model):
    """Take the mark of parameters assigned by hand (:data:`ASSIGNED`) off the state
    ``model``'s thread sees: fastem has just set its parameters together (an M-step, an
    extrapolated step), so they agree with one another by construction, and their first
    use need not check them against one another, a cost of the order of
    ``n_components * n_features**3``, as large as a pass over a small batch."""
    current(model).memo.pop(ASSIGNED, None)


def assign(model, state):
    """Make ``state`` the one this thread sees: in its pin, or published in one assignment."""
    cell = _pins().get(id(model))
    if cell is None:
        model.__dict__["_parameters"] = state
    else:
        cell[0] = state


@contextlib.contextmanager
def pinned(model, state=None):
    """Within, this thread reads and writes its own copy of ``model``'s state.

    Without ``state``, the pin starts from the state this thread sees; nested
    pins of the same model share the outer one. On normal exit a changed
    state is published in one assignment; on an exception it is dropped.

    With ``state`` (a state captured earlier, e.g. by a pass over several
    chunks or by a Dask task), this thread sees exactly that state until the
    exit, which publishes nothing.
    """
    pins = _pins()
    key = id(model)
    outer = pins.get(key)
    if state is not None:
        pins[key] = [state]
        try:
            yield state
        finally:
            if outer is None:
                del pins[key]
            else:
                pins[key] = outer
        return
    if outer is not None:
        yield outer[0]
        return
    start = committed(model)
    cell = [start]
    pins[key] = cell
    try:
        yield start
    finally:
        del pins[key]
    if cell[0] is not start:  # reached only on normal exit
        model.__dict__["_parameters"] = cell[0]


def one_snapshot(function):
    """Run ``function(model, ...)`` on one snapshot of ``model``: its fitted state and its
    hyper-parameters as they were when the call began.

    Every read of ``model``'s fitted attributes in the call returns the state
    as it was when the call began, whatever other threads publish meanwhile;
    a state the call sets is published in one assignment when it returns, and
    dropped if it raises. The hyper-parameters (``n_components``,
    ``covariance_type``, ...) decide how the parameters are read: a
    ``set_params`` by another thread during the call would pair the
    parameters of one setting with the code of another (a 'full' model's
    matrices read as 'diag' ones, two components' weights beside three
    components' draws). The call therefore runs on a shallow copy of the
    model (see :func:`on_the_settings_of_its_start`), which no other thread
    sees; a call that returns the copy returns the model, and the other
    attributes the call sets or deletes on it (a subclass's record of the
    call) are set or deleted on the model, even if it raises. For methods
    (``model`` is ``self``) and for functions that take the model first or
    as ``model=``; a first argument that is not a model (None, a list of
    lower bounds) is passed on as it is.
    """

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        model = args[0] if args else kwargs.get("model")
        if not hasattr(type(model), "_parameter_names") or id(model) in _pins():
            # not a model, or already pinned in this thread (the pin is shared)
            return function(*args, **kwargs)
        start = current(model)
        runner = _copy_holding(model, start)
        attributes = _instance_attributes(runner)
        if args:
            args = (runner, *args[1:])
        else:
            kwargs["model"] = runner
        try:
            with pinned(runner):
                result = function(*args, **kwargs)
        finally:
            _keep_attributes(model, runner, attributes)
        if committed(runner) is not start:
            model.__dict__["_parameters"] = committed(runner)
        return model if result is runner else result

    return wrapper


def _copy_holding(model, state):
    """A shallow copy of ``model`` (its hyper-parameters as they are now) holding ``state``."""
    runner = copy.copy(model)
    runner.__dict__["_parameters"] = state
    return runner


def _instance_attributes(model):
    """``model``'s own attributes: its ``__dict__``, and the ``__slots__`` a subclass has."""
    attributes = dict(model.__dict__)
    for name in copyreg._slotnames(type(model)):  # as copy and pickle find them
        value = getattr(model, name, ABSENT)
        if value is not ABSENT:
            attributes[name] = value
    return attributes


def _keep_attributes(model, runner, attributes):
    """Set on ``model`` what a call on ``runner``, its copy whose own attributes were
    ``attributes`` (:func:`_instance_attributes`), set or deleted besides the fitted state:
    what a subclass's method records on the model (a count, a cache). Only those names: a
    ``set_params`` of others by another thread meanwhile stays."""
    slots = set(copyreg._slotnames(type(model)))
    after = _instance_attributes(runner)
    for name, value in after.items():
        if name != "_parameters" and attributes.get(name, ABSENT) is not value:
            if name in slots:
                object.__setattr__(model, name, value)
            else:
                model.__dict__[name] = value
    for name in attributes.keys() - after.keys():
        if name not in slots:
            model.__dict__.pop(name, None)
        elif getattr(model, name, ABSENT) is not ABSENT:
            object.__delattr__(model, name)


def on_the_settings_of_its_start(function):
    """Run ``function(model, ...)``, an update of ``model``, on the hyper-parameters of its start.

    A fit reads the hyper-parameters again and again (each start, each pass,
    the record at its end: the structure and the settings its parameters were
    fitted with). A ``set_params`` meanwhile, by another thread or by a
    callback, would give parameters of one setting beside a record of
    another. The call therefore runs on a shallow copy of the model taken
    when it starts, holding the state this thread sees, and its final state
    is published on the model (to this thread's pin, or in one assignment)
    when it returns; nothing if it raises. A call that returns the copy
    returns the model.
    """

    @functools.wraps(function)
    def wrapper(model, *args, **kwargs):
        runner = _copy_holding(model, current(model))
        result = function(runner, *args, **kwargs)
        assign(model, committed(runner))
        return model if result is runner else result

    return wrapper


# Per-model locks of the methods that update a model from its own state, by
# id(model): a model need not be hashable, and models that compare equal
# keep locks of their own. Each entry goes when its model does.
_UPDATE_LOCKS = {}
_UPDATE_LOCKS_GUARD = threading.Lock()


def _update_locks_of_a_forked_child():
    """Give a forked child update locks that no thread holds: a parent thread in the
    middle of a ``partial_fit`` does not exist in the child, which would wait for it forever."""
    global _UPDATE_LOCKS_GUARD
    _UPDATE_LOCKS_GUARD = threading.Lock()
    _UPDATE_LOCKS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_update_locks_of_a_forked_child)


def one_update_at_a_time(function):
    """Run ``function(model, ...)``, an update of ``model`` from its current state, alone.

    ``partial_fit`` reads the model's parameters and running statistics,
    adds a batch and publishes the result: two threads that did so at once
    would both start from the same state, and the second to publish would
    drop the first one's batch. Calls on the same model therefore take turns
    (in the order they acquire its lock); calls on different models, and
    every reader, run at once. Outermost, so that each call pins the state
    its predecessor published.
    """

    @functools.wraps(function)
    def wrapper(model, *args, **kwargs):
        key = id(model)
        with _UPDATE_LOCKS_GUARD:
            lock = _UPDATE_LOCKS.get(key)
            if lock is None:
                lock = _UPDATE_LOCKS[key] = threading.RLock()
                weakref.finalize(model, _UPDATE_LOCKS.pop, key, None)
        with lock:
            return function(model, *args, **kwargs)

    return wrapper


# ----------------------------------------------------------------------
# checks

def all_finite(arrays):
    """Whether every entry of every array in ``arrays`` is finite: one test for all of them.

    Each test of an array's finiteness costs about a microsecond however small
    the array; the checks of every pass test several small ones, and look at
    each alone only to say which one failed.
    """
    return np.isfinite(np.concatenate(arrays, axis=None)).all() if arrays else True


def _describe_shape(shape, n_components, n_features):
    return tuple(
        n_components if s == "n_components" else n_features if s == "n_features" else s
        for s in shape
    )


def check_parameter_arrays(model, shapes, n_features, parameters=None):
    """Check the model's parameter attributes against ``shapes`` ({name: shape}).

    Every parameter must be a finite real array of the expected shape, all of
    one floating dtype, and the weights must lie on the simplex. Raises a
    ValueError naming the attribute, what it is and what was expected; for
    values that float64 would alter (a whole number beyond 2**53, a value
    beyond its range), the error of an initial parameter that holds them
    (:func:`fastem._validation.parameter_as_float`).
    ``parameters``: ``{name: array}`` to check in place of the model's own
    (a stand-in's for one EM run; ``model`` then names them in the messages).
    """
    cls = type(model).__name__

    def error(text):
        # Built only on failure: reading the hyper-parameters is slow next to the checks.
        described = ", ".join(
            f"{name}={value!r}" for name, value in model.get_params().items()
            if name in ("n_components", "covariance_type")
        )
        return ValueError(
            f"{text} The parameters of this {cls} disagree with each other or with its "
            f"hyper-parameters ({described}, {n_features} feature(s)): refit the model, "
            "or assign parameters that agree."
        )

    # read once: the checks run before the passes of a fit
    state = current(model) if parameters is None else parameters
    names = model._parameter_names
    values = [state.get(name, ABSENT) for name in names]
    # Each array is tested alone (below) only if this fails.
    finite = all_finite([v for v in values if isinstance(v, np.ndarray) and v.dtype.kind == "f"])
    dtype = None
    for name, value in zip(names, values):
        if value is ABSENT or value is None:
            raise error(f"{cls} has no {name}" + (" (it is None)." if value is None else "."))
        if not isinstance(value, np.ndarray) or value.dtype not in (np.float32, np.float64):
            try:  # what float64 would alter is named as in an initial parameter
                parameter_as_float(value, name)
            except NoneEntryError as exc:
                raise error(str(exc)) from None
            except TypeError:  # not numbers: named below
                pass
        if not isinstance(value, np.ndarray) or value.dtype.kind != "f":
            kind = type(value).__name__
            what = f"dtype {value.dtype}" if isinstance(value, np.ndarray) else f"a {kind}"
            raise error(f"{name} must be a float32 or float64 array, got {what}.")
        if dtype is None:
            dtype = value.dtype
        elif value.dtype != dtype:
            raise error(
                f"{name} has dtype {value.dtype}, but weights_ has {dtype}; all parameters "
                "must share one dtype."
            )
        if value.dtype not in (np.float32, np.float64):
            raise error(f"{name} must be float32 or float64, got {value.dtype}.")
        expected = shapes.get(name)
        if expected is not None and value.shape != tuple(expected):
            raise error(f"{name} has shape {value.shape}, expected {tuple(expected)}.")
        if not finite and not np.isfinite(value).all():
            raise error(non_finite_entries(value, name, ""))
    weights = state["weights_"]
    total = float(np.sum(weights, dtype=np.float64))
    tolerance = 1e-6 + 10 * weights.shape[0] * np.finfo(weights.dtype).eps
    if weights.ndim != 1 or (weights < 0).any() or abs(total - 1.0) > tolerance:
        raise ValueError(
            f"weights_ must be non-negative and sum to 1, got minimum "
            f"{float(weights.min()) if weights.size else float('nan'):.3g} and sum {total:.6g}. "
            "Divide by the sum, or refit the model."
        )


def check_kernel_params(params, shapes, X, sample_weight, log_weights, outputs):
    """The check before every launch of the fused E-step; raises ValueError.

    Parameters
    ----------
    params : NamedTuple
        The family's kernel parameters.
    shapes : dict or None
        ``{field: shape}`` declared at registration, with ``"n_components"``
        and ``"n_features"`` standing for those sizes; None when the family
        declared none (then only dtype, layout and finiteness are checked).
    X : ndarray of shape (n_samples, n_features)
    sample_weight : ndarray of shape (n_samples,) or (0,)
    log_weights : ndarray of shape (n_components,), dtype of X
    outputs : dict
        ``{"log_prob": a, "labels": b, "resp": c}``, each empty or full-sized.
    """
    n_samples, n_features = X.shape
    n_components = log_weights.shape[0]
    family = type(params).__name__
    dtype = X.dtype
    if X.dtype not in (np.float32, np.float64):
        raise ValueError(f"X must be float32 or float64 for the kernel, got {X.dtype}.")
    if log_weights.dtype != dtype or np.isnan(log_weights).any():
        raise ValueError(f"log-weights of dtype {log_weights.dtype} (data {dtype}) or NaN.")
    if sample_weight.ndim != 1 or sample_weight.shape[0] not in (0, n_samples):
        raise ValueError(
            f"sample_weight has shape {sample_weight.shape}, expected ({n_samples},) or (0,)."
        )
    expected_outputs = {
        "log_prob": ((n_samples,), np.float64),
        "labels": ((n_samples,), np.int64),
        "resp": ((n_samples, n_components), dtype),
    }
    for name, (shape, out_dtype) in expected_outputs.items():
        out = outputs[name]
        empty = out.shape[0] == 0 and out.shape[1:] == shape[1:]
        if not (empty or out.shape == shape) or out.dtype != out_dtype or not out.flags.c_contiguous:
            raise ValueError(
                f"The {name} output has shape {out.shape} and dtype {out.dtype}, expected a "
                f"C-contiguous {np.dtype(out_dtype).name} array of shape {shape}."
            )
    fields = params._fields
    # Each array of the data's dtype is tested alone (below) only if this fails.
    finite = all_finite([v for v in params if isinstance(v, np.ndarray) and v.dtype == dtype])
    if shapes is not None:
        missing = set(shapes) - set(fields)
        if missing:
            raise ValueError(f"{family} lacks the declared field(s) {sorted(missing)}.")
    for field, value in zip(fields, params):
        if isinstance(value, np.ndarray) and value.dtype == np.int64:
            # Indices and keys that a family derives from the data (e.g. a table of
            # the patterns of missing values): built by the family, not the model.
            if not value.flags.c_contiguous:
                raise ValueError(f"{family}.{field} must be a C-contiguous int64 array.")
            continue
        if isinstance(value, np.ndarray):
            if value.dtype != dtype or not value.flags.c_contiguous:
                raise ValueError(
                    f"{family}.{field} must be a C-contiguous {dtype} array like the data, "
                    f"got {'' if value.flags.c_contiguous else 'a non-contiguous '}"
                    f"{value.dtype} array. Cast it in the family's _kernel_params."
                )
            if shapes is not None and field in shapes:
                expected = _describe_shape(shapes[field], n_components, n_features)
                if value.shape != expected:
                    raise ValueError(
                        f"{family}.{field} has shape {value.shape}, expected {expected} for "
                        f"{n_components} component(s) and {n_features} feature(s)."
                    )
            if finite:
                continue
            if np.isinf(value).any() and not np.isnan(value).any():
                name = value.dtype.name
                fix = ("Fit the data as float64 (X.astype(np.float64)), or scale it."
                       if value.dtype == np.float32 else
                       "Scale the data into float64's range, e.g. each feature by its "
                       f"largest magnitude: {LARGEST_MAGNITUDE_SCALING}.")
                raise ValueError(
                    f"{family}.{field} overflows {name}: some of its entries exceed "
                    f"{np.finfo(value.dtype).max:.3g}, so the model's parameters are beyond "
                    f"{name}'s range (data too small or too large for {name} arithmetic). "
                    f"{fix}"
                )
            if not np.isfinite(value).all():
                raise ValueError(
                    f"{family}.{field} contains NaN or infinite values: the model's "
                    "parameters are out of their domain (e.g. a non-positive scale, "
                    "rate or Cholesky diagonal). Refit the model."
                )
        elif isinstance(value, (float, np.floating)) and not np.isfinite(value):
            raise ValueError(f"{family}.{field} is {value}, expected a finite number.")
