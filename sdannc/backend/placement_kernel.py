"""The placement's local search, compiled (numba): one pass over the tiles, each taking the move
that lowers the cost most (placement.py's `_Search`, whose numpy `_best_move` is the reference).

The arithmetic is the reference's, term for term and in its order (its `bincount`s sum in route
order, each tile's routes as a source and as a destination apart), so that the moves are the
same; the reference's matrix products (`dist @ weights`) are sums over the columns in order here.
With integer route weights (every route 1 on a chip; the fan-out estimate on a board) every sum is
an exact integer, so the placement is the reference's to the core (tests/compiler/test_placement.py
compares them pass for pass, with fractional weights too). Where the reference sums every route
for every tile, a move here sums again only the routes of the tiles it moved and of their peers
(no other route changed), and an occupant's routes from the vacated core only when the swap could
still beat the best move.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, inline="always")
def _axis_cost(d, w, limit, penalty):
    d = abs(d)
    return w * d + penalty * max(0, d - limit)


@nb.njit(cache=True, inline="always")
def _pair_cost(x, y, c1, c2, w, limit, penalty):
    return _axis_cost(x[c1] - x[c2], w, limit, penalty) + _axis_cost(y[c1] - y[c2], w, limit, penalty)


@nb.njit(cache=True)
def _tile_cost(x, y, pos, peers, peer_w, lo, split, hi, at, limit, penalty):
    """The cost of a tile's routes (its peers[lo:hi]) with the tile at core `at`: over its routes as
    a source (peers[lo:split], in route order), then as a destination, added as two bincounts are."""
    as_source = 0.0
    for i in range(lo, split):
        as_source += _pair_cost(x, y, at, pos[peers[i]], peer_w[i], limit, penalty)
    as_dest = 0.0
    for i in range(split, hi):
        as_dest += _pair_cost(x, y, at, pos[peers[i]], peer_w[i], limit, penalty)
    return as_source + as_dest


@nb.njit(cache=True)
def _axis_sums(coord, pos, peers, peer_w, lo, hi, dist, over, penalty, weight, count, out):
    """out[u]: the cost along one axis of the tile's routes (its peers[lo:hi]) from column (row) u."""
    weight[:] = 0.0
    count[:] = 0
    for i in range(lo, hi):
        v = coord[pos[peers[i]]]
        weight[v] += peer_w[i]
        count[v] += 1
    n = out.size
    for u in range(n):
        s = 0.0
        k = 0
        for v in range(n):
            s += dist[u, v] * weight[v]
            k += over[u, v] * count[v]
        out[u] = s + penalty * k


@nb.njit(cache=True)
def sweep(pos, tile_on, x, y, big, needs_big, peers, peer_w, peer_start, peer_split, dist_x, over_x, dist_y,
          over_y, limit, penalty):
    """One pass over the tiles in order, each moved (swapped with an occupied core's tile) to the
    core that lowers the cost most, if that lowers it; pos and tile_on are updated. The moves made.

    A tile's peers are peers[peer_start[t]:peer_start[t + 1]], those of its routes as a source
    first (up to peer_split[t]), each part in route order. An occupant's cost at the moving tile's
    core is summed only if the move could still beat the best so far: its other terms are at least
    0, so the move's cost is at least the rest's, in floating point too (rounding is monotonic)."""
    tiles, cores = pos.size, tile_on.size
    costs = np.empty(tiles)
    for t in range(tiles):
        costs[t] = _tile_cost(x, y, pos, peers, peer_w, peer_start[t], peer_split[t], peer_start[t + 1], pos[t],
                              limit, penalty)
    shared, shared_w = np.zeros(tiles, np.int64), np.zeros(tiles)
    seen = np.full(tiles, -1, np.int64)
    nx, ny = dist_x.shape[0], dist_y.shape[0]
    weight_x, count_x, sums_x = np.empty(nx), np.empty(nx, np.int64), np.empty(nx)
    weight_y, count_y, sums_y = np.empty(ny), np.empty(ny, np.int64), np.empty(ny)
    moves = 0
    for tile in range(tiles):
        here = pos[tile]
        lo, hi = peer_start[tile], peer_start[tile + 1]
        _axis_sums(x, pos, peers, peer_w, lo, hi, dist_x, over_x, penalty, weight_x, count_x, sums_x)
        _axis_sums(y, pos, peers, peer_w, lo, hi, dist_y, over_y, penalty, weight_y, count_y, sums_y)
        for i in range(lo, hi):
            shared[peers[i]] += 1
            shared_w[peers[i]] += peer_w[i]
        best, core = np.inf, 0
        tile_big = needs_big[tile]
        for c in range(cores):
            if c == here or (tile_big and not big[c]):
                continue
            other = tile_on[c]
            if other >= 0 and not big[here] and needs_big[other]:
                continue
            delta = (sums_x[x[c]] + sums_y[y[c]]) - costs[tile]
            if other >= 0:
                if delta + (0.0 - costs[other]) >= best:  # (at_here >= 0, the swap's term >= 0)
                    continue
                at_here = _tile_cost(x, y, pos, peers, peer_w, peer_start[other], peer_split[other],
                                     peer_start[other + 1], here, limit, penalty)
                delta += at_here - costs[other]
                dx, dy = abs(x[c] - x[here]), abs(y[c] - y[here])
                d = dx + dy
                extra = max(0, dx - limit) + max(0, dy - limit)
                delta += 2 * (shared_w[other] * d + shared[other] * penalty * extra)
            if delta < best:
                best, core = delta, c
        for i in range(lo, hi):
            shared[peers[i]] = 0
            shared_w[peers[i]] = 0.0
        if best < 0:
            other = tile_on[core]
            pos[tile], tile_on[core], tile_on[here] = core, tile, other
            if other >= 0:
                pos[other] = here
            moves += 1
            # the routes of the two tiles changed: their costs and their peers', summed afresh
            for moved in (tile, other):
                if moved < 0:
                    continue
                for i in range(peer_start[moved] - 1, peer_start[moved + 1]):
                    t = moved if i < peer_start[moved] else peers[i]
                    if seen[t] == tile:
                        continue
                    seen[t] = tile
                    costs[t] = _tile_cost(x, y, pos, peers, peer_w, peer_start[t], peer_split[t],
                                          peer_start[t + 1], pos[t], limit, penalty)
    return moves
