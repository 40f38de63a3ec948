"""Append-only storage of integer lists where an identical list is stored once (a core's id, weight
and axon-target lists).

A list is found by a hash of its values (`list_hashes`, the same whether a list is hashed alone or
with a call's other lists in numpy), then compared with the stored one, so the index holds no
copy of the lists (keyed by their bytes, it held each weight list twice: most of a large network's
compile memory). The lists of a fresh pool can go in with one call (`add_many`: a core's axon
lists), hashed and compared in numpy: the same starts as adding them one by one, in order.

A pool holds its lists in the narrowest signed type their values need (int16 up to int64, widened
when a list needs more; not int8, so that an image's arrays can still be set to any value of a
16-bit field, as the image tests do): a large network's weight and axon-target lists are most of its compile
memory, and as int64 they took 8 times the room of the 8-bit weights they are. The values, and so
the starts and the image's bytes (store.py writes each array in the narrowest type anyway), are
the same.
"""

from __future__ import annotations

import bisect
import itertools

import numpy as np

_SEED = 0x5DA11C  # any seed is exact: the hashes only find candidates, the comparison decides
_multipliers = np.zeros((2, 0), dtype=np.uint64)
NARROW = 64  # rows up to this long are cheaper to hash in numpy than one by one (hash of their bytes)
_TYPES = (np.int16, np.int32, np.int64)


def _narrowest(values: np.ndarray, least=np.int16):
    """The narrowest of _TYPES, at least `least`, that holds the values."""
    if not values.size:
        return np.dtype(least)
    lo, hi = int(values.min()), int(values.max())
    for dtype in _TYPES[_TYPES.index(np.dtype(least).type):]:
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return np.dtype(dtype)
    raise ValueError("list values beyond int64")


def _weights(n: int) -> np.ndarray:
    """Two rows of odd 64-bit multipliers, one per position in a list (grown as needed)."""
    global _multipliers
    if _multipliers.shape[1] < n:
        size = max(n, 2 * _multipliers.shape[1], 1024)
        _multipliers = np.random.default_rng(_SEED).integers(0, 2 ** 63, (2, size), dtype=np.uint64) * 2 + 1
    return _multipliers


def list_hashes(flat: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """[lists, 3] uint64: length and two polynomial hashes (wrapping) of flat[start:start + size], for
    non-empty lists that follow one another in `flat` (starts ascending, no gaps between them)."""
    if not sizes.size:
        return np.zeros((0, 3), dtype=np.uint64)
    pos = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    first, last = int(starts[0]), int(starts[-1] + sizes[-1])
    values = flat[first:last].view(np.uint64)
    m = _weights(int(sizes.max()))
    local = starts - first
    with np.errstate(over="ignore"):
        h1 = np.add.reduceat(values * m[0][pos], local)
        h2 = np.add.reduceat(values * m[1][pos], local)
    return np.stack([sizes.astype(np.uint64), h1, h2], axis=1)


def list_key(values: np.ndarray) -> tuple[int, int]:
    """The index's key of one list: its length and first list_hashes hash (as in a batch, so that
    lists hashed in numpy, a call's rows at once, and lists added one by one find each other). The
    length is part of the key: a candidate is then as long as the list, and the comparison exact."""
    flat = np.ascontiguousarray(values, dtype=np.int64)
    return flat.size, int(list_hashes(flat, np.zeros(1, dtype=np.int64), np.full(1, flat.size, dtype=np.int64))[0, 1])


class ListPool:
    def __init__(self) -> None:
        self._size = 0
        self._index: dict[tuple[int, int], int | list[int]] = {}  # list_key -> a start (several: a clash)
        self._new: dict[int, np.ndarray] = {}  # start -> lists (one, or a block of rows), added since the last array()
        self._new_starts: list[int] = []  # their starts, ascending
        self._dtype = np.dtype(np.int16)  # the lists' type: the narrowest that holds every value so far
        self._joined = np.zeros(0, dtype=self._dtype)  # the lists before those, end to end
        self._empty: int | None = None  # where the first empty list went
        self._unindexed: tuple[np.ndarray, np.ndarray] | None = None  # (starts, sizes) stored in bulk, not indexed

    def add(self, items) -> int:
        return self._add_one(np.asarray(items, dtype=np.int64).ravel())

    def add_rows(self, rows: np.ndarray):
        """`add` for every row of a 2-D int64 array, without the per-call conversions."""
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        if self._fresh() and rows.shape[1] <= NARROW:
            return self.add_many(rows.reshape(-1), np.arange(len(rows) + 1, dtype=np.int64) * rows.shape[1])
        # The type for all rows at once (a convolution tile adds millions of rows: per row, finding
        # it was most of the tile step); widening before the first row or at the row that needs it
        # stores the same values at the same starts.
        self._hold(rows)
        if not rows.size:
            return [self._add_held(values) for values in rows.astype(self._dtype)]
        self._index_pending()
        n, width = rows.shape
        hashes = list_hashes(rows.reshape(-1), np.arange(n, dtype=np.int64) * width,
                             np.full(n, width, dtype=np.int64))[:, 1]
        keys = list(zip(itertools.repeat(width, n), hashes.tolist()))
        if np.unique(hashes).size == n and self._index.keys().isdisjoint(keys):
            # no row can be stored yet or twice (no key is): all of them go in as one block
            start = self._append(rows.astype(self._dtype).reshape(-1))
            starts = list(range(start, start + n * width, width))
            self._index.update(zip(keys, starts))
            return starts
        return [self._add_keyed(values, key) for values, key in zip(rows.astype(self._dtype), keys)]

    def _fresh(self) -> bool:
        return self._size == 0 and not self._index and self._unindexed is None and self._empty is None

    def _stored(self, start: int, size: int) -> np.ndarray:
        if start < self._joined.size:
            return self._joined[start:start + size]
        first = self._new_starts[bisect.bisect_right(self._new_starts, start) - 1]  # the block that holds it
        return self._new[first][start - first:start - first + size]

    def _append(self, values: np.ndarray) -> int:
        """Store lists (one, or a block of rows end to end) after the others; where they start."""
        start = self._size
        self._new[start] = values
        self._new_starts.append(start)
        self._size += values.size
        return start

    def _register(self, key: tuple[int, int], start: int) -> None:
        known = self._index.get(key)
        self._index[key] = start if known is None else ([known] if isinstance(known, int) else known) + [start]

    def _index_pending(self) -> None:
        """Index the lists a fresh pool took in bulk, before anything is looked up in it."""
        if self._unindexed is None:
            return
        starts, sizes = self._unindexed
        self._unindexed = None
        hashes = list_hashes(self._joined.astype(np.int64), starts, sizes)[:, 1].tolist()
        for size, h, start in zip(sizes.tolist(), hashes, starts.tolist()):
            self._register((size, h), start)

    def _widen(self, dtype) -> None:
        """Hold the lists as `dtype` (wider): joined, and indexed again from their bytes when next needed."""
        self.array()
        self._dtype = np.dtype(dtype)
        self._joined = self._joined.astype(self._dtype)  # (array() moved the index to _unindexed)

    def _hold(self, values: np.ndarray) -> None:
        """Widen the pool's type, if need be, to one that holds `values`."""
        dtype = _narrowest(values, self._dtype)
        if dtype != self._dtype:
            self._widen(dtype)

    def _add_one(self, values: np.ndarray) -> int:
        if not values.size:
            return self._add_held(values)
        self._hold(values)
        return self._add_held(values.astype(self._dtype))

    def _add_held(self, values: np.ndarray) -> int:
        """`add` for a list already of the pool's type (or empty)."""
        if not values.size:  # takes no room: where the first empty list went
            if self._empty is None:
                self._empty = self._size
            return self._empty
        self._index_pending()
        return self._add_keyed(values, list_key(values))

    def _add_keyed(self, values: np.ndarray, key: tuple[int, int]) -> int:
        """`add` for a non-empty list of the pool's type, its list_key given, the index up to date."""
        known = self._index.get(key)
        if known is not None:
            data = values.tobytes()
            for start in (known,) if isinstance(known, int) else known:
                stored = self._stored(start, values.size)
                if stored.size == values.size and stored.tobytes() == data:
                    return start
        start = self._append(values)
        self._register(key, start)
        return start

    def add_many(self, flat: np.ndarray, bounds: np.ndarray) -> np.ndarray:
        """Lists flat[bounds[i]:bounds[i + 1]] (int64), each as `add` would take it, in order; their starts.
        Into a fresh pool (the compiler's axon lists) they are hashed and compared in numpy."""
        flat = np.ascontiguousarray(flat, dtype=np.int64)
        bounds = np.asarray(bounds, dtype=np.int64)
        sizes = np.diff(bounds)
        full = np.flatnonzero(sizes > 0)
        if self._fresh() and full.size:
            keys = list_hashes(flat, bounds[:-1][full], sizes[full])
            _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
            rep = full[first[inverse.ravel()]]  # per non-empty list: the call's first list with its key
            if self._lists_equal(flat, bounds, full, rep):  # else two lists share a key: one by one below
                return self._add_fresh(flat, sizes, full, first, rep)
        return np.asarray([self._add_one(flat[a:b]) for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist())],
                          dtype=np.int64)

    def _add_fresh(self, flat, sizes, full, first, rep) -> np.ndarray:
        """The call's distinct lists go in end to end, in order; a repeat gets its first's start."""
        out = np.empty(sizes.size, dtype=np.int64)
        distinct = np.zeros(sizes.size, dtype=bool)
        distinct[full[first]] = True
        stored = np.cumsum(np.where(distinct, sizes, 0))
        out[distinct] = stored[distinct] - sizes[distinct]
        out[full] = out[rep]
        empty = np.flatnonzero(sizes == 0)
        if empty.size:
            self._empty = int(stored[empty[0]])
            out[empty] = self._empty
        keep = np.repeat(distinct, sizes)
        self._dtype = _narrowest(flat, self._dtype)
        self._joined = flat[keep].astype(self._dtype, copy=False) if not keep.all() else flat.astype(self._dtype)
        self._size = int(self._joined.size)
        self._unindexed = (out[distinct], sizes[distinct])
        return out

    @staticmethod
    def _lists_equal(flat: np.ndarray, bounds: np.ndarray, lists: np.ndarray, rep: np.ndarray) -> bool:
        """Whether every list equals its representative (same key: same length)."""
        dup = rep != lists
        if not dup.any():
            return True
        a, b, sizes = lists[dup], rep[dup], np.diff(bounds)[lists[dup]]
        offset = np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        return bool(np.array_equal(flat[np.repeat(bounds[a], sizes) + offset], flat[np.repeat(bounds[b], sizes) + offset]))

    def array(self) -> np.ndarray:
        """All lists end to end (a tile's core is built twice: for its memory check, then for the image).

        The index is dropped (a big network's cores hold millions of lists): where the lists start is
        kept, and the index is made again from them if another list comes."""
        if self._new:
            self._joined = np.concatenate([self._joined, *self._new.values()])
            self._new, self._new_starts = {}, []
        if self._index:
            starts = [s for v in self._index.values() for s in ((v,) if isinstance(v, int) else v)]
            if self._unindexed is not None:
                starts.extend(self._unindexed[0].tolist())
            starts = np.sort(np.asarray(starts, dtype=np.int64))
            self._unindexed = (starts, np.diff(np.append(starts, self._size)))
            self._index = {}
        if not self._joined.size:  # (an empty array is written with its type: int64, as it always was)
            return np.zeros(0, dtype=np.int64)
        return self._joined
