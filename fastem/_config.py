"""Settings shared by every kernel, kept in one place."""

# LLVM fast-math flags for the kernels. "nnan" and "ninf" are left out on
# purpose: with them LLVM may fold ``np.isfinite`` checks to True, and the
# driver relies on those checks to reject NaN and inf instead of returning a
# silent NaN model.
FASTMATH = {"nsz", "arcp", "contract", "afn", "reassoc"}

# Points per block. Inner loops run over the points of one block so that LLVM
# can vectorise them; 256 rows of a few features stay in L1 cache. Measured
# with scripts/bench_vs_sklearn.py-style timings: 128 and 512 are 5-10% slower
# for full D=2 K=4 and D=16 K=8, 1024 up to 35% slower at D=16.
BLOCK_SIZE = 256

# Features from which the 'tied' Gaussian block maps a block of float64 data
# through the shared precision Cholesky factor as a matrix product through
# BLAS, one thread per call (see fastem/_threading.py and
# fastem/kernels/gaussian.py); from 32 on it took 2.3x less time per block
# than the loops.
BLAS_MIN_FEATURES = 32

# Features from which the 'full' Gaussian blocks compute a block's
# Mahalanobis terms and second moments in register tiles
# (fastem/kernels/_tiles.py) rather than in loops with one output row per
# pass over the points. Measured per block and component on one core, tiles
# against loops: log-densities 1.1-1.2x at 8 features, 1.6-1.8x at 12 to
# 16, 2-5x from 24 on; second moments 0.7-0.8x at 8, 1.0-1.2x at 12 to 16,
# 1.2-2x from 24 on (and 2x or more against BLAS, which they replace).
TILE_MIN_FEATURES = 12  # at least 8, the columns of a Mahalanobis tile with AVX-512

# Features from which a 'full' component's statistics of a block skip the
# points whose responsibility for it is exactly 0 (the fused E-step sets
# responsibilities below the smallest normal number to 0: a log-density
# about 708 below another's in float64, 87 in float32), when they are at
# least three quarters of the block. From here on the second moments,
# D (D + 1) / 2 products per point, outweigh gathering the D coordinates of
# the points kept; with half of the block kept, a float32 pass at 12
# features was 1.2x slower than without skipping, and the break-even there
# was near 90 of 256 points. Measured on the benchmark's data
# (scripts/bench_vs_sklearn.py, one iteration, both threads), skipping at
# up to half of the block: full D=64 K=16 1.3x (float64) and 1.75x
# (float32) faster, D=128 K=8 1.3x and 1.4x, D=16 K=8 float32 1.4x, and
# D=16 K=8 float64, whose responsibilities are almost never 0, unchanged.
SPARSE_MIN_FEATURES = 12

# Upper bound on the number of partitions (runs of consecutive blocks) that one
# kernel call splits the data into. Each partition owns one accumulator, so the
# bound limits reduction memory; it is a constant, not the thread count, so that
# results are bitwise the same whatever the number of threads.
MAX_PARTITIONS = 64

# Memory allowed for the per-partition accumulators of one kernel call, in bytes.
PARTITION_MEMORY = 64 * 2**20

# Work below which a kernel runs on the calling thread alone (see
# fastem/_threading.py), in units of one statistic of one point: 1,000 points
# of a 2-D full model with 4 components, whose statistics vector has 30
# entries, are 30,000 units. That model's pass costs about 8 ns per point on
# one core (3.8 ms per million points on two, docs/performance.md), so 200,000 units
# (6,700 points) take about 0.05 ms: a second thread could save some 25 us,
# the order of what a parallel region's start and barrier cost on an idle
# machine. On a busy one (load average 8-10 on 2 cores) every two-thread
# region cost 15-120 ms more than the one-thread pass, at 256 to 256,000
# points (scripts/bench_serial_threshold.py).
SERIAL_WORK = 200_000
