"""The asv suite runs: every benchmark executes once on small data.

A broken benchmark fails CI here instead of in someone's tracking run. The
full suite, with its 10M-point sizes, is for people to run (README, "Tracking
performance").
"""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(shutil.which("asv") is None, reason="asv is not installed")
def test_every_benchmark_runs_once():
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "asv_smoke.sh")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    # asv run exits 2 when any benchmark fails.
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
