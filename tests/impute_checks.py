"""Checks of ``impute`` shared by the tests of the Gaussian and of the mean-parameter families."""

import numpy as np
import pytest

from fastem import Chunks


def assert_draws_independent_of_the_data_path(model, X, tmp_path):
    """``model.impute(draw=True)`` gives each row the same draw on every data path.

    An array, uneven ``Chunks``, a memory map, ``out=``, and a dask array with
    uneven blocks computed twice by the threaded scheduler and once by the
    synchronous one: the draws depend on the seed and the row only. Another
    seed draws otherwise.
    """
    draws = model.impute(X, draw=True, random_state=7)
    missing = np.isnan(X)
    assert np.isfinite(draws).all() and np.array_equal(draws[~missing], X[~missing])
    assert not np.array_equal(draws[missing], model.impute(X, draw=True, random_state=8)[missing])
    cuts = [0, 7, 8, 131, len(X)]
    chunks = model.impute(Chunks([X[a:b] for a, b in zip(cuts, cuts[1:])]), draw=True,
                          random_state=7)
    assert np.array_equal(np.concatenate(chunks), draws)
    np.save(tmp_path / "X.npy", X)
    mapped = np.load(tmp_path / "X.npy", mmap_mode="r")
    out = np.empty_like(X)
    model.impute(mapped, draw=True, random_state=7, out=out)
    assert np.array_equal(out, draws)
    da = pytest.importorskip("dask.array")
    lazy = model.impute(da.from_array(X, chunks=((50, 3, 97, len(X) - 150), X.shape[1])),
                        draw=True, random_state=7)
    for scheduler in ("threads", "threads", "synchronous"):
        assert np.array_equal(lazy.compute(scheduler=scheduler), draws)
