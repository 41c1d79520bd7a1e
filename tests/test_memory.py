"""How the fused E-step moves data: the block transposition and the prefetch pacing.

The transposition is compared with NumPy's ``.T`` element for element (it must
be exact), for widths below, at and around the 8 x 8 tiles and for blocks
whose point count is not a multiple of 8. The prefetch state is driven from a
small jitted loop that stands in for a block's passes: it checks which bytes
are prefetched, how the lines per call follow the calls of the previous block,
and that nothing beyond the next block is touched.
"""

import numpy as np
import pytest
from numba import njit
from numpy.testing import assert_array_equal

from fastem._config import BLOCK_SIZE
from fastem.kernels import _memory
from fastem.kernels._memory import prefetch_block, prefetch_init, prefetch_next, transpose_block


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_features", [1, 2, 7, 8, 9, 16, 21, 24])
@pytest.mark.parametrize("n", [1, 7, 8, 13, BLOCK_SIZE - 1, BLOCK_SIZE])
def test_transpose_block_matches_numpy(dtype, n_features, n):
    rng = np.random.default_rng(n_features * 1000 + n)
    X = rng.normal(size=(BLOCK_SIZE + 5, n_features)).astype(dtype)
    Xb = X[3 : 3 + n]  # a view that does not start at the array's start
    sentinel = dtype(-12345.0)
    xt = np.full((n_features, BLOCK_SIZE), sentinel, dtype=dtype)
    transpose_block(Xb, n, xt)
    assert_array_equal(xt[:, :n], Xb.T)
    assert np.all(xt[:, n:] == sentinel), "columns past n were written"


def test_transpose_network_moves_every_element():
    # _transpose_order raises if the shuffle network misplaces any element.
    assert sorted(_memory._transpose_order(8)) == list(range(8))
    assert sorted(_memory._transpose_order(4)) == list(range(4))


@njit
def _drive(data, blocks, calls_per_block):
    """Run prefetch_block + calls_per_block[b] prefetch_next calls per block.

    Returns, per block, the first and one-past-last byte prefetched and the
    lines per call in force.
    """
    state = np.empty(_memory._STATE_LEN, dtype=np.int64)
    prefetch = (data, state)
    prefetch_init(prefetch)
    out = np.empty((len(calls_per_block), 3), dtype=np.int64)
    for b in range(len(calls_per_block)):
        lo, hi = blocks[b, 0], blocks[b, 1]
        prefetch_block(prefetch, lo, hi)
        out[b, 2] = state[_memory._LINES]
        for _ in range(calls_per_block[b]):
            prefetch_next(prefetch)
        out[b, 0] = lo
        out[b, 1] = state[_memory._NEXT]
    return out


def test_prefetch_lines_follow_the_previous_block():
    data = np.zeros((4 * BLOCK_SIZE, 16))
    block_bytes = BLOCK_SIZE * 16 * 8  # 512 lines
    blocks = np.array([[(b + 1) * block_bytes, (b + 2) * block_bytes] for b in range(3)])
    blocks[-1, 1] = blocks[-1, 0] + 1000  # a short last block
    out = _drive(data, blocks, np.array([64, 64, 64]))
    # First block: the default lines per call, 64 * 4 lines of 512.
    assert out[0, 2] == _memory._FIRST_LINES
    assert out[0, 1] - out[0, 0] == 64 * _memory._FIRST_LINES * 64
    # Then 512 lines over the 64 calls counted: 8 per call, the block is covered.
    assert out[1, 2] == 8
    assert out[1, 1] == blocks[1, 1]
    # Never past the end of the next block.
    assert out[2, 1] == blocks[2, 1]


def test_prefetch_lines_per_call_are_capped():
    data = np.zeros((4 * BLOCK_SIZE, 16))
    block_bytes = BLOCK_SIZE * 16 * 8
    blocks = np.array([[(b + 1) * block_bytes, (b + 2) * block_bytes] for b in range(2)])
    out = _drive(data, blocks, np.array([2, 2]))
    assert out[1, 2] == _memory._MAX_LINES
    assert out[1, 1] - out[1, 0] == 2 * _memory._MAX_LINES * 64


def test_prefetch_of_an_empty_block_touches_nothing():
    data = np.zeros((BLOCK_SIZE, 2))
    end = data.nbytes
    out = _drive(data, np.array([[end, end], [end, end]]), np.array([5, 5]))
    assert_array_equal(out[:, 1], [end, end])
