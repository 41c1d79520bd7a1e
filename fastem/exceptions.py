"""fastem's exceptions and warnings, caught by scikit-learn code as scikit-learn's own.

``import fastem`` does not import scikit-learn (it would add about half a
second to every short script). Yet code written for scikit-learn catches
``sklearn.exceptions.NotFittedError`` and filters
``sklearn.exceptions.ConvergenceWarning``, and such code must keep working
when fastem's estimators replace scikit-learn's.

Both needs are met when the error or warning is *created*: if scikit-learn
is imported in the process by then (in any order relative to fastem), the
object created is an instance of a subclass of both fastem's class and
scikit-learn's. A program that never imported scikit-learn cannot name
scikit-learn's classes, so it loses nothing. So::

    try:
        model.predict(X)
    except sklearn.exceptions.NotFittedError:   # also: fastem.NotFittedError,
        ...                                      # ValueError, AttributeError

    warnings.filterwarnings("ignore", category=sklearn.exceptions.ConvergenceWarning)

work with fastem's estimators. A warning must be issued as an instance,
``warnings.warn(ConvergenceWarning(message))``: given a class and a string,
:func:`warnings.warn` would match filters against fastem's class only.
"""

import contextlib
import sys
import threading
import warnings

__all__ = ["ConvergenceWarning", "EmptyComponentWarning", "NotFittedError"]

# The list that keeps the warnings of this thread within a block of kept_warnings, if any.
_KEPT = threading.local()


@contextlib.contextmanager
def kept_warnings():
    """Keep, in a list, the warnings that fastem gives in this thread within the block,
    instead of giving them; other threads give theirs as ever.

    ``warnings.catch_warnings(record=True)`` swaps the process's filters and
    ``showwarning`` for the block, which is no block of one thread: it took the
    warnings that other threads gave meanwhile for its own (a fit in another thread
    lost its warnings while ``select_n_components`` ran, 295 of 300), and its end
    restored the filters that other threads had changed since its start. Blocks nest:
    an inner block keeps its own.
    """
    outer = getattr(_KEPT, "warnings", None)
    _KEPT.warnings = kept = []
    try:
        yield kept
    finally:
        _KEPT.warnings = outer


def warn_at_caller(message, category=None, *, of_data=None, restated=False):
    """:func:`warnings.warn`, pointed at the first frame outside fastem's modules: the user's line.

    A fixed ``stacklevel`` points into fastem whenever the same warning is
    reached through another public method or wrapper (``fit_predict`` calls
    ``fit``; the state lock wraps both), and the default filter then shows it
    once per fastem line rather than once per user line.

    Two marks, set on the warning as ``fastem_of_data`` and ``fastem_restated``,
    tell :func:`fastem.select_n_components`, which records the warnings of every
    fit of its grid and says them after its choice, how to say this one:
    ``of_data``, a key, marks a warning of the data or the settings, which every
    fit gives alike but for its figures (said once for the grid, once per key);
    ``restated`` a warning that the grid says in its own words (a fit that did
    not converge, a float32 rounding loss). A warning with neither is of the
    fitted model, said of the chosen fit alone.

    Within a block of :func:`kept_warnings` in this thread, the warning is kept in its
    list (as an instance) instead.
    """
    kept = getattr(_KEPT, "warnings", None)
    if not isinstance(message, Warning) and (of_data is not None or restated or kept is not None):
        message = (category or UserWarning)(message)
    if of_data is not None or restated:
        message.fastem_of_data, message.fastem_restated = of_data, restated
    if kept is not None:
        kept.append(message)
        return
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "fastem":
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def _sklearn_class(name):
    """scikit-learn's ``sklearn.exceptions.<name>`` if scikit-learn is imported, else None."""
    if "sklearn" not in sys.modules:
        return None
    try:
        import sklearn.exceptions
    except ImportError:  # a broken or half-imported scikit-learn
        return None
    return getattr(sklearn.exceptions, name, None)


_COMPATIBLE = {}


def _compatible_class(cls):
    """The subclass of ``cls`` and of scikit-learn's class of the same name (or ``cls``)."""
    theirs = _sklearn_class(cls.__name__)
    if theirs is None or issubclass(cls, theirs):
        return cls
    key = (cls, theirs)
    if key not in _COMPATIBLE:
        _COMPATIBLE[key] = type(
            cls.__name__,
            (cls, theirs),
            {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__},
        )
    return _COMPATIBLE[key]


def _rebuild(cls, args):
    return cls(*args)


class _SklearnCompatible:
    """Mixin: instances are made of the scikit-learn-compatible subclass when possible."""

    def __new__(cls, *args, **kwargs):
        base = cls._fastem_class()
        if cls is base:
            cls = _compatible_class(base)
        return super().__new__(cls, *args, **kwargs)

    def __reduce__(self):
        # Pickle as fastem's class: the receiving process builds the
        # scikit-learn-compatible subclass again if it has scikit-learn.
        return _rebuild, (self._fastem_class(), self.args)


class NotFittedError(_SklearnCompatible, ValueError, AttributeError):
    """A method that needs a fitted model was called before ``fit``.

    Caught by ``except NotFittedError``, ``except ValueError`` and
    ``except AttributeError``, like scikit-learn's class, and by
    ``except sklearn.exceptions.NotFittedError`` when scikit-learn is imported.
    """

    @classmethod
    def _fastem_class(cls):
        return NotFittedError


class ConvergenceWarning(_SklearnCompatible, UserWarning):
    """An EM fit stopped at ``max_iter`` before converging.

    Filtered by ``category=fastem.ConvergenceWarning``, and by
    ``category=sklearn.exceptions.ConvergenceWarning`` when scikit-learn is
    imported. Issue it as ``warnings.warn(ConvergenceWarning(message))``.
    """

    @classmethod
    def _fastem_class(cls):
        return ConvergenceWarning


class EmptyComponentWarning(UserWarning):
    """A fitted component holds no data: its weight is exactly 0.

    EM keeps such a component rather than re-seeding it, so that a fit stays a
    deterministic function of its start. Its weight is exactly 0, so it takes
    no probability from any point in ``predict``, ``predict_proba`` and
    ``score_samples``, and it never produces NaN parameters; but it is wasted
    capacity: fewer components, or another initialisation, fit the same data
    better. A component that starts at weight 0 (a given weight of 0, a given
    mean nearest to no point, a warm start or a ``partial_fit`` stream from a
    model with weight 0) never receives data: the warning then names that
    start, not the data, as the cause.
    """


class RegularizationWarning(UserWarning):
    """The regularisation is as large as the spread of the data on some feature.

    ``reg_covar`` is added to every covariance's diagonal in the data's own
    units. On a feature whose variance is within a few times ``reg_covar``
    (a feature in large units, e.g. kilometres for structure at the metre
    scale), it swamps the within-component variances, and components that
    differ only along that feature merge: the fit is the maximum of the
    regularised likelihood, not of the data's. Standardise the features, or
    lower ``reg_covar`` well below their variance. The same holds of a
    component whose own variance in a feature is within a few times
    ``reg_covar`` (clusters narrow within a wide feature): its fitted
    variance there is mostly ``reg_covar``. Lower ``reg_covar``, or scale
    the feature up.
    """


class LikelihoodDecreaseWarning(UserWarning):
    """EM's objective fell by more than rounding and regularisation allow.

    The objective is the log-likelihood, or for a variational mixture
    (:class:`~fastem.BayesianGaussianMixture`) the evidence lower bound (ELBO),
    which EM never lowers either.

    EM never lowers the likelihood in exact arithmetic. A regularised M-step
    (``reg_covar``) maximises a penalised likelihood, and may lower the
    likelihood itself by a bounded amount at each step (Dempster, Laird and
    Rubin 1977, sec. 3; the bound is the change of the penalty, see
    :mod:`fastem._em`): such decreases are expected and do not warn. This
    warning is for real faults only: a fall beyond the dtype's rounding
    margin plus those bounds, where the arithmetic lost precision (a
    cancelled statistic, float32 data far from 0 or strongly correlated).
    The fit stops at the best parameters it evaluated, with
    ``converged_=False``.
    """


class WarmStartWarning(UserWarning):
    """``warm_start`` could not continue: the model's shape or the data's column names changed,
    so the fit started afresh."""
