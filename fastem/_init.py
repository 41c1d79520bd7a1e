"""Initialisation: starting responsibilities on a subsample, turned into moments.

Every method works on a random subsample of at most ``INIT_SAMPLE_SIZE`` points
(all points when there are fewer). A good start needs the shape of the data,
not every point, and a bounded subsample keeps initialisation's memory and time
independent of the data size, whether the data sit in memory, on disk or on a
cluster. The subsample carries its sample weights, so weighted data are
initialised as weighted.

Each method yields responsibilities on the subsample; their weighted moments
(component mass, mean, full covariance) are what a family turns into starting
parameters.
"""

import numpy as np

INIT_SAMPLE_SIZE = 100_000
_LLOYD_ITERATIONS = 10


def _sorted_sample(n, size, random_state):
    """``size`` distinct sorted indices below ``n``, in O(size) memory.

    ``RandomState.choice(replace=False)`` permutes all ``n`` indices, which
    for billions of points is itself a large allocation.
    """
    chosen = np.unique(random_state.randint(0, n, size=size))
    while chosen.size < size:
        chosen = np.union1d(chosen, random_state.randint(0, n, size=size - chosen.size))
    return chosen


def sample_index(n_samples, random_state, size=INIT_SAMPLE_SIZE):
    """Rows of a uniform subsample: sorted indices, or ``slice(None)`` for all rows.

    It depends on ``n_samples`` and the random state only, so every data source
    (array, memory map, chunks, Dask array) of the same rows picks the same subsample.
    """
    if n_samples <= size:
        return slice(None)
    return _sorted_sample(n_samples, size, random_state)


def subsample(X, sample_weight, random_state, size=INIT_SAMPLE_SIZE):
    """Return (points, weights) of a uniform subsample without replacement."""
    weighted = sample_weight.shape[0] > 0
    index = sample_index(X.shape[0], random_state, size)
    points = np.asarray(X[index], dtype=np.float64)
    weights = sample_weight[index] if weighted else np.ones(points.shape[0])
    return points, weights


def _squared_distances(X, centers):
    """(n, k) squared Euclidean distances, computed around the centres' mean."""
    origin = centers.mean(axis=0)
    Xc = X - origin
    Cc = centers - origin
    d = (Xc * Xc).sum(1)[:, None] - 2 * Xc @ Cc.T + (Cc * Cc).sum(1)[None, :]
    return np.maximum(d, 0)


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


def nearest_center(X, centers):
    return np.argmin(_squared_distances(X, centers), axis=1)


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


def initial_responsibilities(X, weights, n_components, method, random_state):
    """Responsibilities (n_subsample, n_components) for an ``init_params`` method."""
    n_samples = X.shape[0]
    if method == "random":
        resp = random_state.uniform(size=(n_samples, n_components))
        return resp / resp.sum(axis=1, keepdims=True)
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
    resp = np.zeros((n_samples, n_components))
    resp[np.arange(n_samples), nearest_center(X, centers)] = 1
    return resp


def weighted_moments(X, weights, resp):
    """Component mass (K,), means (K, D) and full covariances (K, D, D).

    A component with no mass gets the overall mean and covariance, so that a
    family always receives finite moments.
    """
    wr = resp * weights[:, None]
    nk = wr.sum(axis=0)
    total = weights.sum()
    overall_mean = weights @ X / total
    Xc = X - overall_mean
    overall_cov = (Xc * weights[:, None]).T @ Xc / total
    n_components, n_features = resp.shape[1], X.shape[1]
    means = np.empty((n_components, n_features))
    covariances = np.empty((n_components, n_features, n_features))
    for k in range(n_components):
        if nk[k] <= 0:
            means[k] = overall_mean
            covariances[k] = overall_cov
            continue
        means[k] = wr[:, k] @ X / nk[k]
        d = X - means[k]
        covariances[k] = (d * wr[:, k, None]).T @ d / nk[k]
    return nk, means, covariances
