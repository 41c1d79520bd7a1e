"""Time to the answer: passes and wall time until the log-likelihood is within 1e-8 of its limit.

Unlike the other fit benchmarks, which time a fixed number of iterations,
these measure what a user waits for: a fit from a fixed start until its mean
log-likelihood per sample is within ``TARGET`` (1e-8) of the limit, with and
without acceleration. The cases, the limit and the measurement are those of
``scripts/bench_convergence.py`` (slow cases: overlapping components, two
exponentials, Old Faithful; fast ones: separated blobs).
"""

import sys
from pathlib import Path

import fastem

from .common import QUICK

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_convergence  # noqa: E402

# The smoke run (FASTEM_ASV_QUICK) checks that the benchmark works on the
# smallest case; the limits of the others take minutes to establish.
CASES = ["Old Faithful tied K=3"] if QUICK else list(bench_convergence.CASES)


class TrackToAnswer:
    """Passes over the data, and wall time (fit less initialisation, seconds), to the answer."""

    params = [CASES, [True, False]]
    param_names = ["case", "accelerate"]
    timeout = 900

    def setup(self, case, accelerate):
        if not hasattr(fastem.GaussianMixture(), "accelerate"):
            raise NotImplementedError("this commit of fastem has no accelerate option")
        _, data, self.kw = bench_convergence.CASES[case]
        self.X = data(QUICK)
        self.start = bench_convergence.start_of(self.X, self.kw)
        self.limit = bench_convergence.limit_of(self.X, self.kw, self.start)  # also warms the JIT up

    def _to_answer(self, accelerate):
        return bench_convergence.fastem_to_answer(
            self.X, self.kw, self.start, self.limit, accelerate
        )

    def track_passes(self, case, accelerate):
        return self._to_answer(accelerate)[0]

    track_passes.unit = "passes"

    def track_seconds(self, case, accelerate):
        return self._to_answer(accelerate)[1]

    track_seconds.unit = "seconds"
