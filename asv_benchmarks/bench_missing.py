"""The cost of missing values: one EM pass over data with NaN against the complete-data pass."""

import sys
from pathlib import Path

from .common import QUICK

# The measurement of scripts/bench_missing.py speed (the README's table), so
# that the tracked ratio and the published one are the same measurement.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import bench_missing  # noqa: E402

_N_SAMPLES = 10_000 if QUICK else 1_000_000
_REPEATS = 1 if QUICK else 9
_FRACTIONS = {"10%": 0.10, "20%": 0.20}


class TrackMissingPassRatio:
    """Time of one pass over data with NaN (``missing='em'``) / that over the complete data.

    N x 8 points of a 4-component mixture (``_N_SAMPLES``, float64), with
    10% or 20% of the entries missing completely at random, and a model
    fitted to the complete data; the passes over the complete and the
    incomplete data alternate over ``_REPEATS`` repeats, and the ratio is
    of the medians (``scripts/bench_missing.py``, :func:`pass_times`).
    """

    params = [["full", "tied", "diag", "spherical"], list(_FRACTIONS)]
    param_names = ["covariance_type", "missing"]
    unit = "ratio to the complete-data pass"
    timeout = 900

    def track_ratio(self, covariance_type, missing):
        fraction = _FRACTIONS[missing]
        X, incomplete = bench_missing.speed_data(_N_SAMPLES, (fraction,))
        times, _ = bench_missing.pass_times(covariance_type, X, incomplete, _REPEATS)
        return times[-1][1] / times[0][1]
