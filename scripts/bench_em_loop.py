"""The EM loop's own cost per pass: ``fastem._em.run_em`` on a model whose hooks do almost nothing.

The model is EM on a quadratic: its "M-step" is the linear map
``theta -> star + A (theta - star)`` (``A`` symmetric, eigenvalues from 0.1
to ``rate``), its log-likelihood ``-|theta - star|^2``. Every hook is a few
NumPy operations on a vector of ``dim`` numbers, so the time per pass is
that of the loop's stopping rule, SQUAREM and Anderson steps. Compare it
with the time per pass of a real fit on small data, where the family's
hooks (E-step, M-step, checks) come on top. Run as

    PYTHONPATH=$PWD python scripts/bench_em_loop.py [--fits 200]
"""

import argparse
import time

import numpy as np

from fastem import _em


class _Stats:
    __slots__ = ("mean_log_likelihood",)

    def __init__(self, value):
        self.mean_log_likelihood = value


class _Source:
    n_features = 1


class QuadraticEM:
    """The hooks ``run_em`` calls, for EM on ``-|theta - star|^2`` with a linear M-step."""

    _dtype = np.float64
    _regularization_name = "reg_covar"

    def __init__(self, dim, rate, seed):
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
        self.A = q @ np.diag(np.linspace(0.1, rate, dim)) @ q.T
        self.star = rng.normal(size=dim)
        self.theta = self.star + rng.normal(size=dim)

    def _summarize(self, source):
        d = self.theta - self.star
        return _Stats(-float(d @ d))

    def m_step(self, stats):
        self.theta = self.star + self.A @ (self.theta - self.star)

    def _get_parameters(self):
        return (self.theta,)

    def _set_parameters(self, parameters):
        self.theta = parameters[0]

    def _named_parameters(self, parameters):
        return {"theta": parameters[0]}

    def _unconstrained(self, parameters):
        return parameters[0]

    def _set_unconstrained(self, theta):
        self.theta = np.array(theta)

    def _pass_checks_on(self, before, n_features):
        pass

    def _in_m_step_image(self, stats):
        return True

    def _m_step_allowance(self, previous, before, after):
        return 0.0

    def _lower_bound(self, stats, before):
        return stats.mean_log_likelihood


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=200, help="fits per configuration")
    args = parser.parse_args(argv)
    print("| parameters | slowest rate | passes per fit | us per pass |")
    print("|---:|---:|---:|---:|")
    for dim, rate in [(6, 0.99), (18, 0.99), (18, 0.9)]:
        passes, start = 0, time.perf_counter()
        for seed in range(args.fits):
            result = _em.run_em(QuadraticEM(dim, rate, seed), _Source(), tol=1e-8, max_iter=1000, accelerate=True)
            passes += result.n_iter
        seconds = time.perf_counter() - start
        print(f"| {dim} | {rate} | {passes / args.fits:.1f} | {seconds / passes * 1e6:.1f} |")


if __name__ == "__main__":
    main()
