"""Put tiles on the mesh: layers in order along a serpentine path, so that producers sit next to
their consumers; tiles that need a big core's dendrite memory take the next big core."""

from __future__ import annotations

from ..errors import SdanncError
from ..target import Target


def serpentine(target: Target) -> list[tuple[int, int]]:
    """Every neuron core, row by row, alternating direction, starting next to the controller."""
    w, h = target.mesh["width"], target.mesh["height"]
    order = []
    for y in range(h):
        xs = range(w) if y % 2 == 0 else range(w - 1, -1, -1)
        order.extend((x, y) for x in xs if target.is_core(x, y))
    return order


def place(target: Target, needs_big: list[bool], layer_of: list[str]) -> list[tuple[int, int]]:
    """A mesh position per tile, in tile order."""
    free = serpentine(target)
    if len(needs_big) > len(free):
        raise SdanncError(f"the network needs {len(needs_big)} cores, the chip has {len(free)}: "
                          f"use fewer channels or a smaller input")
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
