"""Initialisation: a starting partition of a subsample, turned into moments.

Every method works on a random subsample of the data: at most
``INIT_SAMPLE_SIZE`` points for the k-means family and 'random' (fewer from 672
features on, :func:`init_sample_size`), at most
:data:`fastem._hierarchical.HIERARCHICAL_SAMPLE_SIZE` for 'hierarchical'
(fewer for many features; all points when there are fewer). A good start needs the shape of the data,
not every point, and a bounded subsample keeps initialisation's memory and
time independent of the data size, whether the data sit in memory, on disk or
on a cluster. The subsample carries its sample weights, so weighted data are
initialised as weighted.

Every method sees the subsample in standard units: each feature centred at its
weighted mean and divided by its weighted standard deviation (the
hierarchical clustering goes further, see :mod:`fastem._hierarchical`). The
start therefore does not depend on the features' units or origins: a feature
in millimetres gives the same partition as the same feature in kilometres.
(Counts have no units.) A family whose components' spread grows with their mean (Poisson counts,
whose variance is their rate) partitions its points after a
variance-stabilising transform (``initial_moments``' ``space``): distances in
standard units of the counts themselves let the few large counts draw the
partition and lump the many small ones, whose spread the likelihood
punishes most.

Each method yields a partition of the subsample (hard labels; 'random' soft
responsibilities), and its weighted moments in the data's own units
(component mass, mean, and full covariance or, for a family that needs no
more, the variance of each feature: :data:`SECOND_MOMENTS`), accumulated in
float64 around a point of each component, are what a family turns into
starting parameters. No temporary holds more than ``_BLOCK_BYTES`` per
(subsample x components) array, whatever the number of components.
"""

import math

import numpy as np

from ._hierarchical import hierarchical_labels, suitable
from ._hierarchical import sample_size as hierarchical_sample_size

INIT_METHODS = ("hierarchical", "k-means++", "kmeans", "random", "random_from_data")
# The second moments of a start: full covariances (n_components, n_features, n_features),
# or the variances of the features (n_components, n_features), a fraction of the memory
# and time for many features (10 components of 10,000 features: 8 GB against 800 kB).
SECOND_MOMENTS = ("full", "diag")
INIT_SAMPLE_SIZE = 100_000
#: Bound of that subsample in float64 bytes: fewer rows from 672 features on (3,355 rows at
#: 20,000 features, where 100,000 rows took 16 GB), never fewer than ``_MIN_INIT_ROWS``.
INIT_SAMPLE_BYTES = 512 * 2**20
_MIN_INIT_ROWS = 1_000
_LLOYD_ITERATIONS = 10
# Bound of one (rows x n_components) float64 temporary; rows are processed in blocks.
_BLOCK_BYTES = 16 * 2**20


def _sorted_sample(n, size, random_state):
    """``size`` distinct sorted indices below ``n``, in O(size) memory.

    ``RandomState.choice(replace=False)`` permutes all ``n`` indices, which
    for billions of points is itself a large allocation. Draws with
    replacement are added until ``size`` distinct indices are drawn; each
    round draws as many as are missing. Up to ``_MARKED_ROWS`` times ``size``
    rows, the indices drawn are marked in an array of ``n`` flags (at most
    128 KiB for the default subsample): the same draws give the same indices,
    without a sort per round. When ``n`` is near ``size`` the rounds are many
    (for 10,000 rows, 2,000 indices, the sorts took 0.8 ms, an eighth of a
    default fit; 9 ms for 2,100 rows).
    """
    if n <= _MARKED_ROWS * size:
        drawn = np.zeros(n, dtype=bool)
        drawn[random_state.randint(0, n, size=size)] = True
        count = np.count_nonzero(drawn)
        while count < size:
            drawn[random_state.randint(0, n, size=size - count)] = True
            count = np.count_nonzero(drawn)
        return np.flatnonzero(drawn)
    chosen = np.unique(random_state.randint(0, n, size=size))
    while chosen.size < size:
        chosen = np.union1d(chosen, random_state.randint(0, n, size=size - chosen.size))
    return chosen


_MARKED_ROWS = 64


def sample_index(n_samples, random_state, size):
    """Rows of a uniform subsample: sorted indices, or ``slice(None)`` for all rows.

    It depends on ``n_samples`` and the random state only, so every data source
    (array, memory map, chunks, Dask array) of the same rows picks the same subsample.
    """
    if n_samples <= size:
        return slice(None)
    return _sorted_sample(n_samples, size, random_state)


def subsample(X, sample_weight, random_state, size):
    """Return (points, weights) of a uniform subsample without replacement."""
    weighted = sample_weight.shape[0] > 0
    index = sample_index(X.shape[0], random_state, size)
    points = np.asarray(X[index], dtype=np.float64)
    weights = sample_weight[index] if weighted else np.ones(points.shape[0])
    return points, weights


def start_method(method, n_features, restart):
    """The method that start number ``restart`` (0-based) of ``init_params=method`` uses.

    The hierarchical tree is a deterministic function of its subsample, so the
    starts after the first use 'k-means++' to explore other peaks; so does
    every start for more features than the tree handles
    (:func:`fastem._hierarchical.suitable`); there the fit's first start competes
    with the Lloyd refinement of its partition
    (:meth:`fastem.base.BaseMixture._refines_first_start`).
    """
    if method == "hierarchical" and (restart > 0 or not suitable(n_features)):
        return "k-means++"
    return method


def init_sample_size(n_features):
    """Rows of the subsample of the k-means family and 'random' for ``n_features`` features:
    ``INIT_SAMPLE_SIZE``, fewer where they would hold more than ``INIT_SAMPLE_BYTES`` in
    float64."""
    rows = INIT_SAMPLE_BYTES // (8 * max(int(n_features), 1))
    return int(min(INIT_SAMPLE_SIZE, max(_MIN_INIT_ROWS, rows)))


def sample_size(method, n_features):
    """Subsample size that ``method`` runs on."""
    if method == "hierarchical":
        return hierarchical_sample_size(n_features)
    return init_sample_size(n_features)


def weighted_mean(X, weights):
    """Weighted column means in float64, summed around the first point.

    Summing ``X - X[0]`` instead of ``X`` keeps the digits of data far from 0:
    identical points give their value exactly, not a rounded sum divided back.
    """
    shift = X[0]
    return shift + weights @ (X - shift) / weights.sum()


def standardise(X, weights):
    """``X`` centred at its weighted mean and scaled to unit weighted standard deviation.

    A feature without spread is only centred. Returns (standardised X, mean, scale).
    """
    mean = weighted_mean(X, weights)
    centred = X - mean
    scale = np.sqrt(weights @ centred**2 / weights.sum())
    scale[~(scale > 0)] = 1.0
    return centred / scale, mean, scale


def _squared_distances(X, centers):
    """(n, k) squared Euclidean distances, computed around the centres' mean."""
    origin = centers.mean(axis=0)
    Xc = X - origin
    Cc = centers - origin
    d = (Xc * Xc).sum(1)[:, None] - 2 * Xc @ Cc.T + (Cc * Cc).sum(1)[None, :]
    return np.maximum(d, 0)


def _row_blocks(n_rows, n_columns):
    """Slices of rows whose (rows x n_columns) float64 array fits in ``_BLOCK_BYTES``."""
    rows = max(1, _BLOCK_BYTES // (8 * max(n_columns, 1)))
    return [slice(start, start + rows) for start in range(0, n_rows, rows)]


def kmeans_plusplus(X, weights, n_clusters, random_state):
    """Weighted greedy k-means++ seeding (Arthur & Vassilvitskii 2007).

    At each step ``2 + log(n_clusters)`` candidates are drawn with probability
    proportional to weight times squared distance to the nearest centre, and
    the one that lowers the weighted potential most is kept.
    """
    n_samples = X.shape[0]
    n_local_trials = 2 + int(np.log(n_clusters))
    centers = np.empty((n_clusters, X.shape[1]))
    first = random_state.choice(n_samples, p=weights / weights.sum())
    centers[0] = X[first]
    closest = _squared_distances(X, centers[:1])[:, 0]
    potential = weights @ closest
    for c in range(1, n_clusters):
        if potential <= 0:  # every point already sits on a centre
            centers[c:] = centers[0]
            break
        cumulative = np.cumsum(weights * closest)
        targets = random_state.uniform(size=n_local_trials) * cumulative[-1]
        candidates = np.minimum(np.searchsorted(cumulative, targets), n_samples - 1)
        candidate_closest = np.minimum(closest[:, None], _squared_distances(X, X[candidates]))
        candidate_potential = weights @ candidate_closest
        best = int(np.argmin(candidate_potential))
        centers[c] = X[candidates[best]]
        closest = candidate_closest[:, best]
        potential = candidate_potential[best]
    return centers


# Coordinates up to this size are used as they are; larger ones are divided by
# the largest, so that products of two stay within float64.
_SQUARED_LIMIT = 1e100


def nearest_center(X, centers):
    """Index of the nearest centre of each row, in row blocks of bounded memory.

    The squared distances are compared as their differences from the first
    centre's, ``|c_k - x|^2 - |c_0 - x|^2 = (c_k - c_0) . (c_k + c_0 - 2 x)``,
    computed around the centres' mean: no square of a row is formed, so rows
    far closer to each other than to the centres (user-given means some 1e158
    standard units from data of tiny spread) are told apart by the term linear
    in them. The squared distances themselves overflowed there, or tied in
    their rounding, and every row went to the first centre. Coordinates beyond
    ``_SQUARED_LIMIT`` are first divided by the largest, which keeps the order.
    Near the largest float64 every coordinate is first scaled by a power of 2
    (exactly) so that the centres' sum and the differences from their mean
    cannot overflow: centres at 1.5e308 had given NaN.
    """
    room = np.finfo(np.float64).max / (2 * len(centers))
    largest = max(np.abs(centers).max(initial=0.0), np.abs(X).max(initial=0.0))
    shrink = 2.0 ** -math.ceil(math.log2(largest / room)) if largest > room else 1.0
    origin = (centers * shrink).mean(axis=0)
    centred = centers * shrink - origin
    size = max(np.abs(centred).max(initial=0.0), np.abs(X * shrink - origin).max(initial=0.0))
    unit = size if size > _SQUARED_LIMIT else 1.0
    centred = centred / unit
    steps = centred - centred[0]
    offsets = (steps * (centred + centred[0])).sum(axis=1)
    labels = np.empty(X.shape[0], dtype=np.int64)
    for rows in _row_blocks(X.shape[0], len(centers)):
        linear = ((X[rows] * shrink - origin) / unit) @ steps.T
        labels[rows] = np.argmin(offsets[None, :] - 2 * linear, axis=1)
    return labels


def lloyd(X, weights, centers, n_iter=_LLOYD_ITERATIONS):
    """Weighted Lloyd iterations; a cluster that empties keeps its centre."""
    for _ in range(n_iter):
        labels = nearest_center(X, centers)
        mass = np.bincount(labels, weights, minlength=len(centers))
        sums = np.stack(
            [np.bincount(labels, weights * X[:, j], minlength=len(centers)) for j in range(X.shape[1])],
            axis=1,
        )
        filled = mass > 0
        new = centers.copy()
        new[filled] = sums[filled] / mass[filled, None]
        if np.array_equal(new, centers):
            break
        centers = new
    return centers


def quantile_labels(X, weights, n_clusters):
    """Labels (n,) of R's mclust's start of one feature (its ``qclass``): the points in
    order, cut into ``n_clusters`` groups of about equal weight, a point going to the
    group in which the middle of its weight falls.

    On one feature mclust starts from this partition, not from its tree, and on
    heavy-tailed values it finds the peaks that the tree and k-means++ miss: in
    standard units of R's ``islands`` (48 areas, 12 to 16,988) those put a few
    far values apart, on components of one or two points, and EM stayed there
    (K=4: -298.18 against the -289.32 from the quantiles; K=5: -331.44 against
    -287.68).

    Raises ValueError when a group gets no point (a point of much of the weight,
    or fewer points than groups).
    """
    order = np.argsort(X[:, 0], kind="stable")
    w = weights[order]
    cumulative = np.cumsum(w)
    groups = (n_clusters * (cumulative - w / 2) / cumulative[-1]).astype(np.int64)
    labels = np.empty(X.shape[0], dtype=np.int64)
    labels[order] = np.minimum(groups, n_clusters - 1)
    if np.unique(labels).size < n_clusters:
        raise ValueError(
            f"the quantiles of the data cut them into fewer than {n_clusters} groups")
    return labels


def initial_labels(X, weights, n_components, method, random_state):
    """Hard labels (n_subsample,) of a starting partition, for every method but 'random'
    and for 'quantile' (one feature: :func:`quantile_labels`), a candidate of the default
    start that is no ``init_params``.

    ``X`` is in standard units (:func:`standardise`). Labels are in
    0..n_components-1, or -1 for a point that belongs to no component.
    """
    if method == "hierarchical":
        return hierarchical_labels(X, weights, n_components)
    if method == "quantile":
        return quantile_labels(X, weights, n_components)
    if method == "random_from_data":
        positive = np.flatnonzero(weights > 0)
        chosen = random_state.choice(
            positive, n_components, replace=len(positive) < n_components,
            p=weights[positive] / weights[positive].sum(),
        )
        centers = X[chosen]
    else:
        centers = kmeans_plusplus(X, weights, n_components, random_state)
        if method == "kmeans":
            centers = lloyd(X, weights, centers)
    return nearest_center(X, centers)


def _second_moment(deviations, weights, second):
    """The weighted sum of the products of ``deviations`` (n, D): (D, D) for ``second``
    'full', the (D,) squares of each feature for 'diag' (:data:`SECOND_MOMENTS`)."""
    weighted = deviations * weights[:, None]
    if second == "full":
        return weighted.T @ deviations
    return np.einsum("ij,ij->j", weighted, deviations)


def _overall_moments(X, weights, second):
    total = weights.sum()
    mean = weighted_mean(X, weights)
    return mean, _second_moment(X - mean, weights, second) / total


def _second_moments_shape(n_components, n_features, second):
    tail = (n_features, n_features) if second == "full" else (n_features,)
    return (n_components, *tail)


def partition_moments(X, weights, labels, n_components, second="full"):
    """Component mass (K,), means (K, D) and covariances of a hard partition: full (K, D, D)
    for ``second`` 'full', the variances of the features (K, D) for 'diag'.

    Each component's moments are taken around one of its own points, in
    float64, so that data far from 0 keep their digits. A component with no
    mass gets the overall mean and covariance, so that a family always
    receives finite moments.
    """
    n_features = X.shape[1]
    nk = np.zeros(n_components)
    means = np.empty((n_components, n_features))
    covariances = np.empty(_second_moments_shape(n_components, n_features, second))
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(n_components + 1))
    empty = []
    for k in range(n_components):
        members = order[bounds[k] : bounds[k + 1]]
        w = weights[members]
        if members.size == 0 or not w.sum() > 0:
            empty.append(k)
            continue
        Xk = X[members]
        nk[k] = w.sum()
        means[k] = weighted_mean(Xk, w)
        covariances[k] = _second_moment(Xk - means[k], w, second) / nk[k]
    if empty:
        means[empty], covariances[empty] = _overall_moments(X, weights, second)
    return nk, means, covariances


def random_moments(X, weights, n_components, random_state, second="full"):
    """Moments of uniform random responsibilities, drawn and summed in row blocks, with
    the covariances of ``second`` (see :func:`partition_moments`).

    The responsibilities of each row are uniform draws normalised to sum 1
    (scikit-learn's 'random'). Moments are accumulated around the overall
    mean, near which every component of such a start lies.
    """
    n_features = X.shape[1]
    mean = weighted_mean(X, weights)
    centred = X - mean
    nk = np.zeros(n_components)
    first = np.zeros((n_components, n_features))
    squares = np.zeros(_second_moments_shape(n_components, n_features, second))
    products = "nk,nd,ne->kde" if second == "full" else "nk,nd,nd->kd"
    for rows in _row_blocks(X.shape[0], n_components):
        resp = random_state.uniform(size=(centred[rows].shape[0], n_components))
        resp *= (weights[rows] / resp.sum(axis=1))[:, None]
        nk += resp.sum(axis=0)
        first += resp.T @ centred[rows]
        squares += np.einsum(products, resp, centred[rows], centred[rows])
    safe = np.where(nk > 0, nk, 1.0)
    offsets = first / safe[:, None]
    if second == "full":
        covariances = squares / safe[:, None, None] - np.einsum("kd,ke->kde", offsets, offsets)
    else:
        covariances = squares / safe[:, None] - offsets**2
    return nk, mean + offsets, covariances


def initial_moments(X, weights, n_components, method, random_state, centers=None,
                    second="full", space=None):
    """Moments (nk, means, covariances) of the start of ``method`` on a subsample.

    Parameters
    ----------
    X : ndarray of shape (n_subsample, n_features), float64
    weights : ndarray of shape (n_subsample,)
    n_components : int
    method : str, one of :data:`INIT_METHODS`, or 'quantile' (one feature, see
        :func:`quantile_labels`)
    random_state : numpy.random.RandomState
    centers : ndarray of shape (n_components, n_features), optional
        Component means given by the user: the partition assigns each point
        to the nearest of them (in standard units), and ``method`` is not run.
    second : {'full', 'diag'}, default='full'
        The covariances returned (:data:`SECOND_MOMENTS`).
    space : callable, optional
        The family's variance-stabilising transform, ``space(X)`` of the
        shape of ``X`` (and of ``centers``): the partition is computed on the
        transformed points in standard units, where every component's spread
        is about the same as the distances the methods measure assume; the
        moments are those of the points in the data's units. None: the
        points themselves.

    Returns
    -------
    nk : ndarray of shape (n_components,)
    means : ndarray of shape (n_components, n_features)
    covariances : ndarray of shape (n_components, n_features, n_features) for 'full',
        (n_components, n_features), the variances of the features, for 'diag'
    """
    if space is not None:
        X_space = space(X)
        centers = None if centers is None else space(np.asarray(centers, dtype=np.float64))
    else:
        X_space = X
    standard, mean, scale = standardise(X_space, weights)
    if n_components == 1:  # every method puts every point in the one component
        labels = np.zeros(X.shape[0], dtype=np.int64)
    elif centers is not None:
        offsets = np.asarray(centers, dtype=np.float64) - mean
        # In standard units centres far from data of tiny spread (means_init at
        # 1e151 for a spread of 1e-158) lie beyond float64: the rows and
        # centres are then scaled alike by a power of 2, which keeps the order.
        beyond = math.frexp(np.abs(offsets).max())[1] - math.frexp(scale.min())[1] - 1020
        factor = math.ldexp(1.0, -beyond) if beyond > 0 else 1.0
        labels = nearest_center(standard * factor, offsets * factor / scale)
    elif method == "random":
        return random_moments(X, weights, n_components, random_state, second)
    else:
        labels = initial_labels(standard, weights, n_components, method, random_state)
    return partition_moments(X, weights, labels, n_components, second)
