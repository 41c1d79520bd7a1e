"""Model files: save and load fitted mixtures, and convert to and from scikit-learn.

A model file is a single ``.npz`` archive (see ``docs/model-format.md``) that
NumPy alone can read: one array per fitted parameter, named after the
attribute (``weights_``, ``means_``, ...), array-valued hyper-parameters as
``hyper__<name>``, and a JSON document in the 0-d string array ``metadata``::

    with np.load("model.npz") as f:
        meta = json.loads(str(f["metadata"]))
        weights = f["weights_"]

The code is generic over a family's ``_parameter_names`` and ``get_params()``,
so a new family is saved and loaded without changes here.
"""

import json
import numbers
import os
import tempfile
import zipfile

import numpy as np

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "save", "load", "read_metadata"]

FORMAT_NAME = "fastem-mixture"
FORMAT_VERSION = 1
_METADATA = "metadata"
_HYPER_PREFIX = "hyper__"


def _split_hyper_parameters(params):
    """JSON-able hyper-parameters, and the array-valued ones stored as arrays."""
    scalars, arrays, dropped = {}, {}, []
    for name, value in params.items():
        if value is None or isinstance(value, (bool, str)):
            scalars[name] = value
        elif isinstance(value, numbers.Integral):
            scalars[name] = int(value)
        elif isinstance(value, numbers.Real):
            scalars[name] = float(value)
        elif isinstance(value, (np.ndarray, list, tuple)):
            arrays[_HYPER_PREFIX + name] = np.asarray(value)
        else:
            # A callback or a RandomState instance has no portable form; the
            # loaded model gets the default (None) and the file says so.
            scalars[name] = None
            dropped.append(name)
    return scalars, arrays, dropped


def save(model, path):
    """Write a fitted model to ``path`` as a versioned ``.npz`` model file.

    The file is written to a temporary file in the same directory, flushed to
    disk and then renamed over ``path``, so ``path`` always holds either the
    previous file or the complete new one, never a partial write.

    Parameters
    ----------
    model : BaseMixture
        A fitted fastem mixture.
    path : str or os.PathLike
        Destination, conventionally ending in ``.npz`` (no suffix is added).
    """
    from . import __version__

    model._check_is_fitted()
    hyper, hyper_arrays, dropped = _split_hyper_parameters(model.get_params())
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "fastem_version": __version__,
        "class": type(model).__name__,
        "hyper_parameters": hyper,
        "not_saved": dropped,
        "parameters": list(model._parameter_names),
        "n_features_in": int(model.n_features_in_),
        "dtype": np.dtype(model._dtype).name,
        "converged": bool(model.converged_),
        "n_iter": int(model.n_iter_),
        "lower_bound": float(model.lower_bound_),
        "lower_bounds": [float(v) for v in model.lower_bounds_],
    }
    arrays = {name: np.asarray(getattr(model, name)) for name in model._parameter_names}
    arrays.update(hyper_arrays)
    arrays[_METADATA] = np.array(json.dumps(metadata))

    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(
        dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp makes the file private (0600); give it the mode a plain open() would
            os.chmod(tmp, _default_mode())
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:  # make the rename itself durable; not every platform can open a directory
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)


def _default_mode():
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _open(path):
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"Model file {path!r} does not exist. Check the path, or create it with "
            "'fastem fit' or model.save(path)."
        )
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path!r} is not a fastem model file (not an .npz archive). Pass a file "
            "written by model.save() or 'fastem fit -o'."
        )
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(
            f"{path!r} is not a fastem model file (NumPy could not read it as .npz: {exc}). "
            "Pass a file written by model.save() or 'fastem fit -o'."
        ) from None
    if not isinstance(archive, np.lib.npyio.NpzFile) or _METADATA not in archive.files:
        if isinstance(archive, np.lib.npyio.NpzFile):
            archive.close()
        raise ValueError(
            f"{path!r} is not a fastem model file (no {_METADATA!r} entry). Pass a file "
            "written by model.save() or 'fastem fit -o'."
        )
    return archive


def _parse_metadata(archive, path):
    try:
        metadata = json.loads(str(archive[_METADATA]))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{path!r} has an unreadable metadata entry ({exc}).") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ValueError(
            f"{path!r} is not a fastem model file (format "
            f"{metadata.get('format') if isinstance(metadata, dict) else None!r}, expected "
            f"{FORMAT_NAME!r})."
        )
    version = metadata.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"{path!r} has an invalid format_version {version!r}.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path!r} uses model format version {version}, written by fastem "
            f"{metadata.get('fastem_version', '?')}; this fastem reads versions up to "
            f"{FORMAT_VERSION}. Upgrade fastem to load it."
        )
    return metadata


def read_metadata(path):
    """The JSON metadata of a model file, as a dict, without building the model."""
    with _open(path) as archive:
        return _parse_metadata(archive, os.fspath(path))


def load(path):
    """Load a model written by :func:`save` (or ``model.save``).

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    model : BaseMixture
        The fitted model, with bitwise identical parameter arrays.
    """
    import fastem

    path = os.fspath(path)
    with _open(path) as archive:
        metadata = _parse_metadata(archive, path)
        name = metadata["class"]
        cls = getattr(fastem, name, None)
        if not (isinstance(cls, type) and issubclass(cls, fastem.BaseMixture)):
            raise ValueError(
                f"{path!r} holds a {name!r} model, which this fastem "
                f"{fastem.__version__} does not provide. Upgrade fastem to load it."
            )
        hyper = dict(metadata["hyper_parameters"])
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
        missing = [p for p in model._parameter_names if p not in archive.files]
        if missing:
            raise ValueError(f"{path!r} lacks the fitted parameters {missing}; the file is damaged.")
        for p in model._parameter_names:
            setattr(model, p, archive[p])
    model.n_features_in_ = metadata["n_features_in"]
    model.converged_ = metadata["converged"]
    model.n_iter_ = metadata["n_iter"]
    model.lower_bound_ = metadata["lower_bound"]
    model.lower_bounds_ = list(metadata["lower_bounds"])
    return model


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


def gaussian_to_sklearn(model):
    """An equivalent fitted :class:`sklearn.mixture.GaussianMixture` (float64 arrays)."""
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

    model._check_is_fitted()
    estimator = SklearnGaussianMixture(
        **{name: getattr(model, name) for name in _SHARED_GAUSSIAN_HYPER}
    )
    for name in _GAUSSIAN_FITTED:
        value = getattr(model, name)
        if isinstance(value, np.ndarray):
            value = value.astype(np.float64)
        setattr(estimator, name, value)
    estimator.lower_bounds_ = list(model.lower_bounds_)
    return estimator


def gaussian_from_sklearn(cls, estimator):
    """A fastem GaussianMixture holding the parameters of a fitted scikit-learn one."""
    if not hasattr(estimator, "weights_"):
        raise ValueError(
            f"{type(estimator).__name__} is not fitted; call its fit() before converting."
        )
    model = cls(**{name: getattr(estimator, name) for name in _SHARED_GAUSSIAN_HYPER})
    for name in _GAUSSIAN_FITTED:
        setattr(model, name, getattr(estimator, name))
    model.lower_bounds_ = list(getattr(estimator, "lower_bounds_", [estimator.lower_bound_]))
    return model
