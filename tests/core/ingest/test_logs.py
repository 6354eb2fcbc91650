"""The fold's helpers: distinct keys by table and by sort must agree on every kind of input."""

from __future__ import annotations

import numpy as np
import pytest

from core.ingest.logs import distinct_hashes, sorted_unique


def _hashes(rng, n: int, distinct: int) -> np.ndarray:
    pool = rng.integers(0, 2**64, size=distinct, dtype=np.uint64)
    return pool[rng.integers(0, distinct, size=n)]


@pytest.mark.parametrize(("n", "distinct"), [(0, 1), (10, 3), (5000, 50), (300_000, 20_000), (300_000, 300_000),
                                             (50_000, 49_000)])
def test_distinct_hashes_is_sorted_unique(n, distinct):
    rng = np.random.default_rng(n + distinct)
    h = _hashes(rng, n, distinct)
    np.testing.assert_array_equal(distinct_hashes(h), sorted_unique(h))


def test_keys_that_share_slots_and_zero_are_kept():
    # Keys equal in their top bits collide in every slot function's first round more than random ones;
    # the rounds and the final sort must still keep each once, and 0 (the empty slot's mark) too.
    rng = np.random.default_rng(7)
    base = rng.integers(0, 2**20, size=40_000, dtype=np.uint64)
    h = np.concatenate([base, base[::-1], np.zeros(5, dtype=np.uint64), np.array([2**64 - 1] * 3, dtype=np.uint64)])
    out = distinct_hashes(h)
    np.testing.assert_array_equal(out, np.unique(h))
    assert out[0] == 0
    assert out[-1] == 2**64 - 1
    assert distinct_hashes(h, rounds=1).tolist() == out.tolist()


def test_a_chunk_out_of_time_order_folds_like_one_in_order():
    # The pair keys are sorted stably (fast on a log in time order); any order must give the same keys.
    rng = np.random.default_rng(3)
    keys = (np.sort(rng.integers(0, 500, 20_000)) << 32) | rng.integers(0, 2**32, 20_000)
    shuffled = rng.permutation(keys)
    np.testing.assert_array_equal(sorted_unique(shuffled, kind="stable"), np.unique(keys))
