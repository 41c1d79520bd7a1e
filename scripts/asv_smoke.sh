#!/usr/bin/env bash
# Smoke test of the asv suite: run every benchmark once, on 10,000-point data,
# against this checkout's fastem in the current Python. Exits non-zero if any
# benchmark fails (asv run exits 2 then) or if the suite cannot be loaded.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# asv drops PYTHONPATH from the benchmark processes and uses ASV_PYTHONPATH
# instead: put this checkout first so that its fastem is the one measured.
export ASV_PYTHONPATH="$root${ASV_PYTHONPATH:+:$ASV_PYTHONPATH}"
export FASTEM_ASV_QUICK=1

asv machine --yes >/dev/null
asv check --python=same
# forkserver imports the suite once and forks a process per benchmark, instead
# of starting a new interpreter (and importing numba) for each of them.
asv run --python=same --quick --show-stderr --launch-method=forkserver "$@"
