"""The list pool stores an identical list once, at the start where the first of them went: adding
lists in bulk (add_many, add_rows) gives the starts and the storage that adding them one by one in
the same order gives, also when two different lists share a hash."""

from __future__ import annotations

import numpy as np
import pytest

from sdannc.image import list_pool
from sdannc.image.list_pool import ListPool


def _reference(lists: list[np.ndarray]) -> tuple[list[int], np.ndarray]:
    """Lists keyed by their bytes, one at a time (the pool as it was)."""
    index, chunks, size, starts = {}, [], 0, []
    for values in lists:
        key = values.tobytes()
        if key not in index:
            index[key] = size
            chunks.append(values)
            size += values.size
        starts.append(index[key])
    return starts, np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)


def _lists(rng, n: int) -> list[np.ndarray]:
    """Short lists with many repeats and a few empty ones."""
    base = [rng.integers(-3, 3, rng.integers(0, 5)) for _ in range(max(1, n // 3))]
    return [base[i].astype(np.int64) for i in rng.integers(0, len(base), n)]


def _bulk(pool: ListPool, lists: list[np.ndarray]) -> np.ndarray:
    bounds = np.concatenate([[0], np.cumsum([v.size for v in lists])]).astype(np.int64)
    flat = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
    return pool.add_many(flat, bounds)


@pytest.mark.parametrize("seed", range(6))
def test_bulk_and_one_by_one_agree_with_the_reference(seed):
    """A fresh pool's first batch in bulk, then a batch into the filled pool in bulk, one list by
    list, and rows of one width (in numpy while the pool is fresh); array() drops the index between."""
    rng = np.random.default_rng(seed)
    batches = [_lists(rng, int(rng.integers(1, 40))) for _ in range(3)]
    rows = rng.integers(-2, 2, (int(rng.integers(1, 30)), 3)).astype(np.int64)
    rows[1::3] = rows[0]
    batches.append(list(rows))
    for order in ([0, 1, 2, 3], [3, 0, 1, 2]):
        expected, joined = _reference([v for k in order for v in batches[k]])
        pool, got = ListPool(), []
        for k in order:
            if k == 2:
                got.extend(pool.add(v) for v in batches[k])
            elif k == 3:
                got.extend(int(start) for start in pool.add_rows(rows))
            else:
                got.extend(_bulk(pool, batches[k]).tolist())
            pool.array()
        assert got == expected
        assert np.array_equal(pool.array(), joined)


@pytest.mark.parametrize("seed", range(4))
def test_distinct_rows_go_in_as_a_block_and_are_found_again(seed):
    """Rows none of which is stored yet (one block, indexed at once) into a filled pool; then the
    same rows again one by one, in rows with some new, and after array(): the reference's starts."""
    rng = np.random.default_rng(seed)
    before = _lists(rng, 20)
    rows = rng.integers(-50, 50, (15, 4)).astype(np.int64)  # distinct, almost surely
    more = np.concatenate([rows[3:8], rng.integers(-50, 50, (4, 4))])
    expected, joined = _reference(before + list(rows) + list(rows[::2]) + list(more) + list(rows[::3]))
    pool = ListPool()
    got = _bulk(pool, before).tolist() + list(pool.add_rows(rows))
    got += [pool.add(v) for v in rows[::2]] + list(pool.add_rows(more))
    pool.array()
    got += list(pool.add_rows(rows[::3]))
    assert got == expected
    assert np.array_equal(pool.array(), joined)


def test_rows_are_lists():
    rows = np.asarray([[1, 2], [3, 4], [1, 2], [0, 0]], dtype=np.int64)
    pool = ListPool()
    pool.add([9])
    assert pool.add_rows(rows) == [1, 3, 1, 5]
    assert pool.array().tolist() == [9, 1, 2, 3, 4, 0, 0]


def test_lists_that_share_a_hash_stay_apart(monkeypatch):
    """Every list hashed alike (in numpy, one by one, rows into a filled pool): only the comparison
    tells them apart."""
    def same(flat, starts, sizes):
        return np.stack([sizes.astype(np.uint64), np.zeros(sizes.size, np.uint64), np.zeros(sizes.size, np.uint64)], 1)

    monkeypatch.setattr(list_pool, "list_hashes", same)
    rng = np.random.default_rng(7)
    lists = _lists(rng, 30)
    rows = rng.integers(-1, 2, (12, 3)).astype(np.int64)  # into the filled pool, some rows alike
    expected, joined = _reference(lists + lists[:10] + list(rows))
    pool = ListPool()
    got = _bulk(pool, lists).tolist() + [pool.add(v) for v in lists[:10]] + list(pool.add_rows(rows))
    assert got == expected
    assert np.array_equal(pool.array(), joined)


@pytest.mark.parametrize("bulk", [False, True])
def test_the_pool_holds_the_narrowest_type_and_widens_for_a_wider_list(bulk):
    """Lists of small values are held as int16; a list beyond it widens the pool (to int32, then
    int64) with every list kept, and a repeat of an earlier list still finds its start."""
    rng = np.random.default_rng(7)
    small = _lists(rng, 40)
    wide = [np.asarray([70000, -3], dtype=np.int64), np.asarray([2 ** 40], dtype=np.int64)]
    lists = small + [wide[0]] + small[:10] + [wide[1]] + small[5:15] + wide
    pool = ListPool()
    if bulk:
        flat = np.concatenate(small)
        bounds = np.concatenate([[0], np.cumsum([len(v) for v in small])])
        starts = list(pool.add_many(flat, bounds))
        assert pool.array().dtype == np.int16
        starts += [pool.add(v) for v in lists[len(small):]]
    else:
        starts = [pool.add(small[0])]
        assert pool.array().dtype == np.int16
        starts += [pool.add(v) for v in lists[1:]]
    assert pool.array().dtype == np.int64
    expected, stored = _reference(lists)
    assert starts == expected
    np.testing.assert_array_equal(pool.array(), stored)
