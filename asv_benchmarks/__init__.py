"""airspeed velocity (asv) benchmarks of fastem; see README.md in this folder."""
