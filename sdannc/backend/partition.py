"""Split each neuron layer into core-sized tiles: bands of rows with as many channels as fit.

A tile is channels [c0, c1) x rows [r0, r1) of a (C, H, W) output, or a run of neurons of a flat
output. Its neurons are numbered channel-major inside the core: (c - c0) * rows * W + (y - r0) * W + x.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tile:
    c0: int
    c1: int
    r0: int
    r1: int

    @property
    def channels(self) -> int:
        return self.c1 - self.c0

    @property
    def rows(self) -> int:
        return self.r1 - self.r0


def as_chw(shape) -> tuple[int, int, int]:
    """Any per-sample shape as (channels, rows, columns): (N,) is N channels of 1 x 1."""
    shape = tuple(shape)
    if len(shape) == 1:
        return shape[0], 1, 1
    if len(shape) == 2:
        return shape[0], shape[1], 1
    return shape[0], shape[1], int(np.prod(shape[2:]))


def tiles(shape, max_neurons: int, max_channels: int | None = None, max_rows: int | None = None) -> list[Tile]:
    """All channels of a band of rows per core where they fit (at most max_channels), else fewer.

    Keeping a tile's channels together means an input pixel feeds the few cores whose rows its
    window reaches, instead of one core per output channel: far fewer axon entries and packets.
    """
    c, h, w = as_chw(shape)
    if w > max_neurons:
        raise ValueError(f"a row of {w} neurons is more than a core holds ({max_neurons})")
    per = max(1, min(c, max_channels or c, max_neurons // w))
    rows = max(1, min(h, max_rows or h, max_neurons // (per * w)))
    return [Tile(c0, min(c0 + per, c), r0, min(r0 + rows, h)) for c0 in range(0, c, per) for r0 in range(0, h, rows)]


def local_index(tile: Tile, shape) -> tuple[np.ndarray, np.ndarray]:
    """Flat element ids of the tile's neurons in the output tensor, and their local indices."""
    c, h, w = as_chw(shape)
    ch, y, x = np.meshgrid(np.arange(tile.c0, tile.c1), np.arange(tile.r0, tile.r1), np.arange(w), indexing="ij")
    flat = ((ch * h + y) * w + x).ravel()
    return flat, np.arange(flat.size)
