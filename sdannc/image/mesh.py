"""The mesh network-on-chip: dimension-ordered (x, then y) routes, hop counts, directed links.

On a board (docs/board.md) the chips' meshes join into one grid of routers in board coordinates:
every border router links to the facing border router of the neighbouring chip, and those links are
the chip-to-chip links (`chip_links` of the target: their latency, rate and energy). A route is x
then y over the whole board, so a spike for another chip crosses chip edges where its route does.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse

from ..target import Target

# Directed links leave a node east, west, north (y + 1) or south (y - 1).
_DIRECTIONS = {"E": 0, "W": 1, "N": 2, "S": 3}


class Mesh:
    def __init__(self, target: Target) -> None:
        self.width, self.height = target.grid_size
        self.chip_width, self.chip_height = target.mesh["width"], target.mesh["height"]
        self.n_links = self.width * self.height * len(_DIRECTIONS)

    def chip_links(self) -> np.ndarray:
        """[links] whether each directed link leaves its chip (a chip-to-chip link)."""
        node, direction = np.divmod(np.arange(self.n_links), len(_DIRECTIONS))
        x, y = node % self.width, node // self.width
        east = (direction == _DIRECTIONS["E"]) & ((x + 1) % self.chip_width == 0) & (x + 1 < self.width)
        west = (direction == _DIRECTIONS["W"]) & (x % self.chip_width == 0) & (x > 0)
        north = (direction == _DIRECTIONS["N"]) & ((y + 1) % self.chip_height == 0) & (y + 1 < self.height)
        south = (direction == _DIRECTIONS["S"]) & (y % self.chip_height == 0) & (y > 0)
        return east | west | north | south

    def link_chips(self, link: int) -> tuple[tuple[int, int], tuple[int, int]]:
        """The chips at the two ends of a directed link (the same chip for an on-chip link)."""
        node, direction = divmod(int(link), len(_DIRECTIONS))
        x, y = self.xy(node)
        tx, ty = x + (1, -1, 0, 0)[direction], y + (0, 0, 1, -1)[direction]
        return (x // self.chip_width, y // self.chip_height), (tx // self.chip_width, ty // self.chip_height)

    def xy(self, node: int) -> tuple[int, int]:
        return node % self.width, node // self.width

    def link_name(self, link: int) -> str:
        node, direction = divmod(int(link), len(_DIRECTIONS))
        x, y = self.xy(node)
        return f"({x},{y})->{'EWNS'[direction]}"

    def hops(self, pairs: np.ndarray) -> np.ndarray:
        """Manhattan distance of each (source node, destination node) pair."""
        sx, sy = pairs[:, 0] % self.width, pairs[:, 0] // self.width
        dx, dy = pairs[:, 1] % self.width, pairs[:, 1] // self.width
        return np.abs(dx - sx) + np.abs(dy - sy)

    def route(self, src: int, dst: int) -> list[int]:
        """Directed link ids an x-then-y route crosses."""
        (x, y), (tx, ty) = self.xy(src), self.xy(dst)
        links = []
        while x != tx:
            step, direction = (1, "E") if tx > x else (-1, "W")
            links.append((y * self.width + x) * len(_DIRECTIONS) + _DIRECTIONS[direction])
            x += step
        while y != ty:
            step, direction = (1, "N") if ty > y else (-1, "S")
            links.append((y * self.width + x) * len(_DIRECTIONS) + _DIRECTIONS[direction])
            y += step
        return links

    def pair_link_matrix(self, pairs: np.ndarray) -> scipy.sparse.csr_matrix:
        """[pairs, links] incidence: which links each route crosses."""
        rows, cols = [], []
        for p, (src, dst) in enumerate(pairs):
            links = self.route(int(src), int(dst))
            rows.extend([p] * len(links))
            cols.extend(links)
        data = np.ones(len(rows), dtype=np.int64)
        return scipy.sparse.csr_matrix((data, (rows, cols)), shape=(len(pairs), self.n_links))
