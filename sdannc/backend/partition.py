"""Split each neuron layer into core-sized tiles: bands of rows with as many channels as fit, or,
where a row of all its channels is more than a core holds, patches of all the channels there fit.

A tile is channels [c0, c1) x rows [r0, r1) x columns [x0, x1) of a (C, H, W) output, or a run of
neurons of a flat output. Its neurons are numbered channel-major inside the core:
(c - c0) * rows * columns + (y - r0) * columns + (x - x0); a band of rows has all W columns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tile:
    c0: int
    c1: int
    r0: int
    r1: int
    x0: int = 0
    x1: int | None = None  # None: every column (a band of rows)

    @property
    def channels(self) -> int:
        return self.c1 - self.c0

    @property
    def rows(self) -> int:
        return self.r1 - self.r0

    def columns(self, width: int) -> tuple[int, int]:
        """The tile's columns [x0, x1) of an output `width` wide."""
        return self.x0, width if self.x1 is None else self.x1

    def neurons(self, shape) -> int:
        x0, x1 = self.columns(as_chw(shape)[2])
        return self.channels * self.rows * (x1 - x0)


def as_chw(shape) -> tuple[int, int, int]:
    """Any per-sample shape as (channels, rows, columns): (N,) is N channels of 1 x 1."""
    shape = tuple(shape)
    if len(shape) == 1:
        return shape[0], 1, 1
    if len(shape) == 2:
        return shape[0], shape[1], 1
    return shape[0], shape[1], int(np.prod(shape[2:]))


def wants_patches(shape, core_neurons: int) -> bool:
    """A layer is cut into patches where a row of all its channels is more than a core holds: a band
    of rows would then split the channels into groups and take a single row, so that every pixel of
    its input feeds 3 rows x every group of cores (12 on a 64-channel layer at 224 x 224), where a
    patch of all the channels takes about (1 + 2 / side)^2. Layers of smaller rows keep their bands
    (and every image that holds only such layers its bytes)."""
    c, h, w = as_chw(shape)
    return h > 1 and w > 1 and c * w > core_neurons


# The least patch (pixels) worth cutting: 4 x 4, which a 3 x 3 window's pixel reaches (1 + 2 / 4)^2
# = 2.25 of on average, against 3 rows x (at least 2 channel groups) of the band it replaces.
# Smaller ones (a layer of many channels, or few neurons a core for its axon memory) stay bands.
LEAST_PATCH = 16


def patches(shape, max_neurons: int, max_channels: int | None = None, max_rows: int | None = None
            ) -> list[Tile] | None:
    """Tiles of as many channels as fit (at most max_channels) over a patch of rows x columns, about
    square, the columns split evenly: an input pixel feeds the patches its window reaches. None
    where such a patch would have fewer than LEAST_PATCH pixels."""
    c, h, w = as_chw(shape)
    per = max(1, min(c, max_channels or c, max_neurons))
    pixels = max_neurons // per
    if pixels < LEAST_PATCH or pixels >= w:
        return None
    side = max(1, min(w, math.isqrt(pixels)))
    across = -(-w // side)
    width = -(-w // across)
    rows = max(1, min(h, max_rows or h, pixels // width))
    return [Tile(c0, min(c0 + per, c), r0, min(r0 + rows, h), x0, min(x0 + width, w))
            for c0 in range(0, c, per) for r0 in range(0, h, rows) for x0 in range(0, w, width)]


def tiles(shape, max_neurons: int, max_channels: int | None = None, max_rows: int | None = None,
          patch: bool = False) -> list[Tile]:
    """All channels of a band of rows per core where they fit (at most max_channels), else fewer;
    with `patch` (wants_patches), patches instead where they have at least LEAST_PATCH pixels.

    Keeping a tile's channels together means an input pixel feeds the few cores whose rows its
    window reaches, instead of one core per output channel: far fewer axon entries and packets.
    """
    cut = patches(shape, max_neurons, max_channels, max_rows) if patch else None
    if cut is not None:
        return cut
    c, h, w = as_chw(shape)
    if w > max_neurons:
        raise ValueError(f"a row of {w} neurons is more than a core holds ({max_neurons})")
    per = max(1, min(c, max_channels or c, max_neurons // w))
    rows = max(1, min(h, max_rows or h, max_neurons // (per * w)))
    return [Tile(c0, min(c0 + per, c), r0, min(r0 + rows, h)) for c0 in range(0, c, per) for r0 in range(0, h, rows)]


def local_index(tile: Tile, shape) -> tuple[np.ndarray, np.ndarray]:
    """Flat element ids of the tile's neurons in the output tensor, and their local indices."""
    c, h, w = as_chw(shape)
    x0, x1 = tile.columns(w)
    ch, y, x = np.meshgrid(np.arange(tile.c0, tile.c1), np.arange(tile.r0, tile.r1), np.arange(x0, x1), indexing="ij")
    flat = ((ch * h + y) * w + x).ravel()
    return flat, np.arange(flat.size)
