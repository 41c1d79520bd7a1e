"""Test-suite settings that must hold before fastem is imported."""

import os

# The first-run compile notice prints from a timer thread on stderr. On a cold
# kernel cache it would land in whichever test is capturing stderr at that
# moment, so the suite turns it off; tests/test_progress.py registers its own
# notice to test it.
os.environ.setdefault("FASTEM_COMPILE_NOTICE", "0")
