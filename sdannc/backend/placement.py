"""Put tiles on the mesh: layers in order along a Hilbert curve, so that producers sit next to their
consumers (any run of n consecutive cores on the curve fits in a block of about sqrt(n) x sqrt(n),
which keeps routes short in both axes); tiles that need a big core's dendrite memory take the next
big core on the curve."""

from __future__ import annotations

import numpy as np

from ..errors import SdanncError
from ..target import Target


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


def _orientations(target: Target) -> list[list[tuple[int, int]]]:
    """The curve mirrored and transposed (8 ways), keeping only neuron cores."""
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
    for tile, big in enumerate(needs_big):
        i = cursor
        while i < len(free) and (taken[i] or (big and not target.is_big_core(free[i][0]))):
            i += 1
        if i == len(free):
            i = next((j for j in range(len(free)) if not taken[j] and (not big or target.is_big_core(free[j][0]))), None)
            if i is None:
                raise SdanncError(f"layer {layer_of[tile]}: no big core left for a tile that needs one "
                                  f"(the chip has {sum(target.is_big_core(x) for x, _ in free)}): use a smaller tile")
        taken[i] = True
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


def place(target: Target, needs_big: list[bool], layer_of: list[str], routes: np.ndarray | None = None):
    """A mesh position per tile, in tile order. With the routes between tiles, the curve is tried
    in each orientation and with some of the unused cores left at its start instead of its end, and the
    first placement that keeps every route within the hop limit wins (else the shortest worst).
    Each try costs one pass over the tiles; a few hundred tries take well under a second."""
    curves = _orientations(target)
    if len(needs_big) > len(curves[0]):
        raise SdanncError(f"the network needs {len(needs_big)} cores, the chip has {len(curves[0])}: "
                          f"use fewer channels or a smaller input")
    if routes is None:
        return _assign(target, curves[0], needs_big, layer_of)
    spare = len(curves[0]) - len(needs_big)
    best, best_hops = None, None
    for skip in range(0, spare + 1, max(1, spare // 64)):
        for free in curves:
            try:
                positions = _assign(target, free[skip:], needs_big, layer_of)
            except SdanncError:
                continue
            hops = worst_hops(positions, routes)
            if hops <= target.mesh["max_hops_per_axis"]:
                return positions
            if best_hops is None or hops < best_hops:
                best, best_hops = positions, hops
    return best if best is not None else _assign(target, curves[0], needs_big, layer_of)
