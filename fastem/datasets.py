"""Synthetic data with known mixture parameters, for demonstrations and checks."""

import numpy as np

__all__ = ["DEMO_WEIGHTS", "DEMO_MEANS", "DEMO_COVARIANCES", "make_demo_data"]

#: Mixing weights of the demo mixture.
DEMO_WEIGHTS = np.array([0.4, 0.3, 0.2, 0.1])

#: Component means of the demo mixture, shape (4, 2).
DEMO_MEANS = np.array([[0.0, 0.0], [6.0, 4.0], [-5.0, 5.0], [4.0, -5.0]])

#: Full, correlated component covariances of the demo mixture, shape (4, 2, 2).
DEMO_COVARIANCES = np.array(
    [
        [[2.0, 1.2], [1.2, 1.5]],
        [[1.0, -0.6], [-0.6, 2.0]],
        [[1.5, 0.9], [0.9, 0.8]],
        [[0.6, -0.3], [-0.3, 1.8]],
    ]
)


def make_demo_data(n_samples=1_000_000, random_state=0, dtype=np.float64):
    """Draw a sample from the four-component 2-D Gaussian demo mixture.

    The mixture has the weights :data:`DEMO_WEIGHTS`, means :data:`DEMO_MEANS`
    and full covariances :data:`DEMO_COVARIANCES`; components overlap a little.

    Parameters
    ----------
    n_samples : int, default=1_000_000
    random_state : int, default=0
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same data.
    dtype : {numpy.float64, numpy.float32}, default=numpy.float64

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
    labels : ndarray of shape (n_samples,), int64
        The component each point was drawn from.
    """
    rng = np.random.default_rng(random_state)
    labels = rng.choice(len(DEMO_WEIGHTS), size=n_samples, p=DEMO_WEIGHTS)
    noise = rng.standard_normal((n_samples, 2))
    factors = np.linalg.cholesky(DEMO_COVARIANCES)
    X = DEMO_MEANS[labels] + np.einsum("nij,nj->ni", factors[labels], noise)
    return X.astype(dtype, copy=False), labels.astype(np.int64)
