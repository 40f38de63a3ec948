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
        """[pairs, links] incidence: which links each route crosses (`route`'s links, in its order,
        for every pair at once: a board's hundreds of thousands of routes one by one took seconds)."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        (sx, sy), (tx, ty) = self._xy(pairs[:, 0]), self._xy(pairs[:, 1])
        row_x, x = _steps(sx, tx)  # east or west along the source's row, then north or south
        row_y, y = _steps(sy, ty)
        east, north = tx[row_x] > x, ty[row_y] > y
        along_x = (sy[row_x] * self.width + x) * len(_DIRECTIONS) + np.where(east, _DIRECTIONS["E"], _DIRECTIONS["W"])
        along_y = (y * self.width + tx[row_y]) * len(_DIRECTIONS) + np.where(north, _DIRECTIONS["N"], _DIRECTIONS["S"])
        rows, cols = np.concatenate([row_x, row_y]), np.concatenate([along_x, along_y])
        order = np.argsort(rows, kind="stable")  # per pair: its x links, then its y links
        data = np.ones(rows.size, dtype=np.int64)
        return scipy.sparse.csr_matrix((data, (rows[order], cols[order])), shape=(len(pairs), self.n_links))

    def _xy(self, node: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return node % self.width, node // self.width


def _steps(start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each k, the positions from start[k] towards end[k] (end excluded), one step at a time:
    (which k each position belongs to, the position)."""
    length = np.abs(end - start)
    which = np.repeat(np.arange(start.size), length)
    step = np.arange(int(length.sum())) - np.repeat(np.cumsum(length) - length, length)
    return which, start[which] + np.sign(end - start)[which] * step
