"""Put tiles on the mesh.

First the layers go in order along a Hilbert curve, so that producers sit next to their consumers
(any run of n consecutive cores on the curve fits in a block of about sqrt(n) x sqrt(n)); tiles that
need a big core's dendrite memory take the next big core on the curve. The curve alone cannot keep
every route within the hop limit when two large layers are connected all to all (each of one layer's
cores must then lie within the limit of each of the other's), so a local search then moves and swaps
tiles to cut the hops over the limit first and the total hops second.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..errors import SdanncError
from ..target import Target
from . import placement_kernel


def _gilbert(x: int, y: int, ax: int, ay: int, bx: int, by: int):
    """Generalized Hilbert curve over the rectangle spanned by (ax, ay) and (bx, by) from (x, y):
    consecutive points are neighbours for any width and height (J. Cervený's gilbert2d)."""
    w, h = abs(ax + ay), abs(bx + by)
    dax, day = (ax > 0) - (ax < 0), (ay > 0) - (ay < 0)
    dbx, dby = (bx > 0) - (bx < 0), (by > 0) - (by < 0)
    if h == 1:
        for _ in range(w):
            yield x, y
            x, y = x + dax, y + day
        return
    if w == 1:
        for _ in range(h):
            yield x, y
            x, y = x + dbx, y + dby
        return
    ax2, ay2, bx2, by2 = ax // 2, ay // 2, bx // 2, by // 2
    w2, h2 = abs(ax2 + ay2), abs(bx2 + by2)
    if 2 * w > 3 * h:
        if w2 % 2 and w > 2:
            ax2, ay2 = ax2 + dax, ay2 + day
        yield from _gilbert(x, y, ax2, ay2, bx, by)
        yield from _gilbert(x + ax2, y + ay2, ax - ax2, ay - ay2, bx, by)
    else:
        if h2 % 2 and h > 2:
            bx2, by2 = bx2 + dbx, by2 + dby
        yield from _gilbert(x, y, bx2, by2, ax2, ay2)
        yield from _gilbert(x + bx2, y + by2, ax, ay, bx - bx2, by - by2)
        yield from _gilbert(x + (ax - dax) + (bx2 - dbx), y + (ay - day) + (by2 - dby),
                            -bx2, -by2, -(ax - ax2), -(ay - ay2))


def curve(target: Target) -> list[tuple[int, int]]:
    """Every neuron core along the curve, starting at the controller's corner."""
    w, h = target.mesh["width"], target.mesh["height"]
    points = _gilbert(0, 0, w, 0, 0, h) if w >= h else _gilbert(0, 0, 0, h, w, 0)
    return [(x, y) for x, y in points if target.is_core(x, y)]


_CURVES: dict[tuple, list[list[tuple[int, int]]]] = {}  # by mesh size and controller: a board's chips share them


def _orientations(target: Target) -> list[list[tuple[int, int]]]:
    """The curve mirrored and transposed (8 ways), keeping only neuron cores (lists not to change)."""
    w, h = target.mesh["width"], target.mesh["height"]
    key = (w, h, tuple(target.controller))
    if key not in _CURVES:
        _CURVES[key] = _curves(target)
    return _CURVES[key]


def _curves(target: Target) -> list[list[tuple[int, int]]]:
    w, h = target.mesh["width"], target.mesh["height"]
    base = list(_gilbert(0, 0, w, 0, 0, h)) if w >= h else list(_gilbert(0, 0, 0, h, w, 0))
    maps = [lambda x, y: (x, y), lambda x, y: (w - 1 - x, y), lambda x, y: (x, h - 1 - y),
            lambda x, y: (w - 1 - x, h - 1 - y)]
    if w == h:
        maps += [lambda x, y, f=f: f(y, x) for f in list(maps)]
    curves = []
    for f in maps:
        points = [f(x, y) for x, y in base]
        curves.append([p for p in points if target.is_core(*p)])
    return curves


def _assign(target: Target, free: list[tuple[int, int]], needs_big: list[bool], layer_of: list[str]):
    taken = [False] * len(free)
    positions = []
    cursor = 0
    is_big = [target.is_big_core(x) for x, _ in free]
    big_left = sum(is_big)
    needs_left = sum(needs_big)  # big cores the tiles still to place need
    for tile, big in enumerate(needs_big):
        needs_left -= big
        i = cursor
        # a tile that does not need a big core leaves the big cores to those that do when no spare is left
        spare = big or big_left > needs_left + big
        while i < len(free) and (taken[i] or (big and not is_big[i]) or (not spare and is_big[i])):
            i += 1
        if i == len(free) and not spare:
            i = next((j for j in range(len(free)) if not taken[j] and not is_big[j]), cursor)
            while i < len(free) and taken[i]:
                i += 1
        if i == len(free):
            i = next((j for j in range(len(free)) if not taken[j] and (not big or target.is_big_core(free[j][0]))), None)
            if i is None:
                raise SdanncError(f"layer {layer_of[tile]}: no big core left for a tile that needs one (the network "
                                  f"needs {sum(needs_big):,}, the chip has {sum(target.is_big_core(x) for x, _ in free):,}): "
                                  f"give the layer smaller tiles with the config key `tiling: {{{layer_of[tile]}: "
                                  f"{{neurons: N}}}}`")
        taken[i] = True
        big_left -= is_big[i]
        positions.append(free[i])
        while cursor < len(free) and taken[cursor]:
            cursor += 1
    return positions


def worst_hops(positions, routes: np.ndarray) -> int:
    """The longest per-axis distance of any (source core, destination core) route."""
    if not len(routes):
        return 0
    xy = np.asarray(positions)
    return int(np.abs(xy[routes[:, 0]] - xy[routes[:, 1]]).max())


MAX_SWEEPS = 12    # passes of the local search over all tiles; it usually settles in a few
MIN_GAIN = 0.01    # stop when a pass lowers the cost by less than this share (a hop over the limit costs much)


class _Search:
    """Local search over tile positions. Each route costs its per-axis distances, plus a penalty per
    hop over the limit larger than any route's length, so that moves first bring every route within
    the limit and then shorten routes in all. A move takes one tile to the core, free or not, that
    lowers the cost most (an occupied core's tile moves to the vacated core)."""

    def __init__(self, target: Target, positions, needs_big, routes: np.ndarray, weights=None):
        self.cores = [(x, y) for y in range(target.mesh["height"]) for x in range(target.mesh["width"])
                      if target.is_core(x, y)]
        index = {p: i for i, p in enumerate(self.cores)}
        self.x = np.asarray([p[0] for p in self.cores], dtype=np.int64)
        self.y = np.asarray([p[1] for p in self.cores], dtype=np.int64)
        self.big = np.asarray([target.is_big_core(x) for x in self.x], dtype=bool)
        self.limit = target.mesh["max_hops_per_axis"]
        self.penalty = target.mesh["width"] + target.mesh["height"]
        self.needs_big = np.asarray(needs_big, dtype=bool)
        self.pos = np.asarray([index[p] for p in positions], dtype=np.int64)  # core index per tile
        self.tile_on = np.full(len(self.cores), -1, dtype=np.int64)
        self.tile_on[self.pos] = np.arange(len(self.pos))
        keep = routes[:, 0] != routes[:, 1]  # a tile feeding itself is never far
        routes = routes[keep]
        # A route's weight scales its length (its packets per sample: then the cost is the flit-hops,
        # the links' load in all); the penalty per hop over the limit outweighs the heaviest route.
        self.w = np.ones(len(routes)) if weights is None else np.asarray(weights, dtype=np.float64)[keep]
        self.penalty = self.penalty * (float(self.w.max()) if self.w.size else 1.0)
        self.a, self.b = (np.ascontiguousarray(routes[:, k], dtype=np.int64) for k in (0, 1))
        ends = np.concatenate([self.a, self.b])
        order = np.argsort(ends, kind="stable")
        self.peers = np.concatenate([self.b, self.a])[order]  # every tile's route partners, grouped by tile
        self.peer_w = np.concatenate([self.w, self.w])[order]
        self.peer_start = np.searchsorted(ends[order], np.arange(len(self.pos) + 1))
        # where each tile's routes as a destination start among its peers (those as a source come first)
        self.peer_split = self.peer_start[:-1] + np.bincount(self.a, minlength=len(self.pos))
        # per axis, the distance and the hops over the limit from column X to column v (likewise rows),
        # so that a tile's routes from every core sum per axis over its partners' columns and rows
        # (_best_move): the weights scale the distance, the penalty the hops over the limit
        self.dist_x, self.over_x = self._axis_tables(int(self.x.max(initial=0)) + 1)
        self.dist_y, self.over_y = self._axis_tables(int(self.y.max(initial=0)) + 1)

    def _axis_tables(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        d = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
        return d, np.maximum(0, d - self.limit)

    def _axis_cost(self, d: np.ndarray, w) -> np.ndarray:
        d = np.abs(d)
        return w * d + self.penalty * np.maximum(0, d - self.limit)

    def _parts(self, c1, c2) -> tuple[np.ndarray, np.ndarray]:
        """The hops between cores, and the hops over the limit (both axes)."""
        dx, dy = np.abs(self.x[c1] - self.x[c2]), np.abs(self.y[c1] - self.y[c2])
        return dx + dy, np.maximum(0, dx - self.limit) + np.maximum(0, dy - self.limit)

    def _pair_cost(self, c1, c2, w=1.0) -> np.ndarray:
        return self._axis_cost(self.x[c1] - self.x[c2], w) + self._axis_cost(self.y[c1] - self.y[c2], w)

    def _tile_costs(self) -> np.ndarray:
        """Each tile's share: the cost of every route it is an end of."""
        cost = self._pair_cost(self.pos[self.a], self.pos[self.b], self.w)
        n = len(self.pos)
        return np.bincount(self.a, cost, minlength=n) + np.bincount(self.b, cost, minlength=n)

    def total(self) -> float:
        return float(self._pair_cost(self.pos[self.a], self.pos[self.b], self.w).sum())

    def _axis_sums(self, coord, dist, over, peers, peer_w) -> np.ndarray:
        """[cores] the cost along one axis of the tile's routes from every core: summed once per
        column (row) value of its partners instead of once per core (the same sums)."""
        at = coord[self.pos[peers]]
        return (dist @ np.bincount(at, weights=peer_w, minlength=len(dist))
                + self.penalty * (over @ np.bincount(at, minlength=len(over))))[coord]

    def _best_move(self, tile: int, costs: np.ndarray) -> tuple[int, float]:
        """The core whose take (with a swap if occupied) lowers the cost most, and by how much."""
        here = self.pos[tile]
        span = slice(self.peer_start[tile], self.peer_start[tile + 1])
        peers, peer_w = self.peers[span], self.peer_w[span]
        moved = self._axis_sums(self.x, self.dist_x, self.over_x, peers, peer_w) \
            + self._axis_sums(self.y, self.dist_y, self.over_y, peers, peer_w)
        delta = moved - costs[tile]
        other = self.tile_on
        occupied = other >= 0
        n = len(self.pos)
        # each other tile's cost if it moved to `here`
        at_here = (np.bincount(self.a, self._pair_cost(here, self.pos[self.b], self.w), minlength=n)
                   + np.bincount(self.b, self._pair_cost(here, self.pos[self.a], self.w), minlength=n))
        delta[occupied] += at_here[other[occupied]] - costs[other[occupied]]
        # a swapped pair's own routes keep their length; the sums above counted them as 0 after the swap
        shared, shared_w = np.bincount(peers, minlength=n), np.bincount(peers, weights=peer_w, minlength=n)
        d, over = self._parts(np.flatnonzero(occupied), here)
        delta[occupied] += 2 * (shared_w[other[occupied]] * d + shared[other[occupied]] * self.penalty * over)
        allowed = self.big | ~self.needs_big[tile]
        allowed &= ~occupied | self.big[here] | ~self.needs_big[np.maximum(other, 0)]
        allowed[here] = False
        delta[~allowed] = np.inf
        core = int(np.argmin(delta))
        return core, float(delta[core])

    def _move(self, tile: int, core: int) -> None:
        here, other = self.pos[tile], self.tile_on[core]
        self.pos[tile], self.tile_on[core], self.tile_on[here] = core, tile, other
        if other >= 0:
            self.pos[other] = here

    def sweep(self, compiled: bool = True) -> int:
        """One pass over the tiles in order, each taking its best move if it helps; the moves made.
        Compiled (placement_kernel.py) unless `compiled` is False: then `_best_move`, the reference
        the kernel's moves are tested against."""
        if compiled:
            return int(placement_kernel.sweep(
                self.pos, self.tile_on, self.x, self.y, self.big, self.needs_big,
                self.peers, self.peer_w, self.peer_start, self.peer_split, self.dist_x, self.over_x, self.dist_y, self.over_y,
                int(self.limit), float(self.penalty)))
        moves = 0
        for tile in range(len(self.pos)):
            core, delta = self._best_move(tile, self._tile_costs())
            if delta < 0:
                self._move(tile, core)
                moves += 1
        return moves

    def positions(self) -> list[tuple[int, int]]:
        return [self.cores[c] for c in self.pos]


def _refine(target: Target, positions, needs_big, routes: np.ndarray, weights=None) -> list[tuple[int, int]]:
    """Passes of the local search from `positions` until one makes no move or gains too little."""
    search = _Search(target, positions, needs_big, routes, weights)
    if not len(search.a):
        return list(positions)
    for _ in range(MAX_SWEEPS):
        before = search.total()
        if not search.sweep() or search.total() > (1 - MIN_GAIN) * before:
            break
    return search.positions()


def place(target: Target, needs_big: list[bool], layer_of: list[str], routes: np.ndarray | None = None,
          weights: np.ndarray | None = None, enough: int | None = None):
    """A mesh position per tile, in tile order. With the routes between tiles, the curve placement is
    refined by local search, from each orientation of the curve in turn until every route is within
    the hop limit (else the placement with the shortest worst route). `weights` (per route, its
    packets per sample) make the search shorten the heavy routes first: the links' load, not the hops.
    `enough` (at least the limit) stops at the first placement whose routes are within it instead."""
    enough = max(enough or 0, target.mesh["max_hops_per_axis"])
    curves = _orientations(target)
    if len(needs_big) > len(curves[0]):
        counts = Counter(layer_of).most_common(3)
        largest = ", ".join(f"layer {name} {n:,}" for name, n in counts)
        raise SdanncError(f"the network needs {len(needs_big):,} cores, the chip has {len(curves[0]):,} (the most: "
                          f"{largest}): use fewer channels or a smaller input, or larger tiles where the config's "
                          f"tiling: made them smaller")
    if routes is None or not len(routes):
        return _assign(target, curves[0], needs_big, layer_of)
    best, best_hops = None, None
    for free in curves:
        positions = _refine(target, _assign(target, free, needs_big, layer_of), needs_big, routes, weights)
        hops = worst_hops(positions, routes)
        if hops <= enough:
            return positions
        if best_hops is None or hops < best_hops:
            best, best_hops = positions, hops
    return best
