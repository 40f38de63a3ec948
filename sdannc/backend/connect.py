"""Dendrite tables for one tile of a layer, and the (source element -> dendrite, index) links.

Dense connections use one absolute dendrite per source element (its weight column), all sharing
one id list. Convolutions and pooling windows use relative dendrites: a source pixel's spike
carries its position in the tile's output grid, and one dendrite per (input channel, border class)
lists the offsets to every output it feeds, so interior pixels share lists (convolution weight
sharing). Elementwise inputs use one relative dendrite per input, carrying the neuron's own index.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ir.connections import conv_output_hw
from .partition import Tile, as_chw, local_index


class TileTooLarge(Exception):
    """The tile's tables cannot be encoded (an index wider than the spike carries): split it."""


@dataclass
class Links:
    """Source elements of one input tensor and where their spikes go in this tile's core."""

    element: np.ndarray
    dendrite: np.ndarray
    carried: np.ndarray


def dense(core, tile: Tile, weight: np.ndarray) -> Links:
    ids = np.arange(tile.channels)
    block = weight[tile.c0:tile.c1]  # [tile outputs, inputs]
    used = np.flatnonzero(np.any(block != 0, axis=0))
    if not used.size:  # no dendrite, and no id list either
        return Links(used, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    dendrites = core.add_dendrites(ids, block[:, used].T)  # a dendrite per used input, sharing the id list
    return Links(used, dendrites.astype(np.int64), np.zeros(used.size, dtype=np.int64))


def elementwise(core, tile: Tile, weight: np.ndarray, out_shape) -> Links:
    values = np.unique(weight)
    if values.size != 1:
        raise ValueError("elementwise weights must be uniform")
    flat, local = local_index(tile, out_shape)
    dendrite = core.add_dendrite([0], [int(values[0])], relative=True)
    return Links(flat, np.full(flat.size, dendrite, dtype=np.int64), local)


def _axis_classes(size_in: int, size_out: int, lo: int, hi: int, k: int, stride: int, dilation: int, pad: int):
    """Per input coordinate: quotient, remainder, bitmask of kernel taps landing in [lo, hi)."""
    coord = np.arange(size_in)
    q, r = np.divmod(coord + pad, stride)
    mask = np.zeros(size_in, dtype=np.int64)
    shift = np.zeros((size_in, k), dtype=np.int64)
    for tap in range(k):
        num = r - tap * dilation
        ok = num % stride == 0
        out = q + num // stride
        ok &= (out >= max(lo, 0)) & (out < min(hi, size_out))
        mask |= ok.astype(np.int64) << tap
        shift[:, tap] = num // stride
    return q, r, mask, shift


def window(core, tile: Tile, conn: dict, in_shape, out_shape, weight: np.ndarray | None, limit_index: int,
           cache: dict | None = None) -> Links:
    """Convolution (weight given) or max window (weight None: input k gets weight 2^k, channel to itself).
    `cache` (one per connection of a layer) keeps the weight blocks its tiles share (_block_dendrites)."""
    cin, h, w = as_chw(in_shape)
    cout, ho, wo = as_chw(out_shape)
    (kh, kw), (sh, sw), (dh, dw) = conn["kernel"], conn["strides"], conn["dilations"]
    top, left, _, _ = conn["pads"]
    assert conv_output_hw((h, w), conn) == (ho, wo)
    x0, x1 = tile.columns(wo)
    tw = x1 - x0  # the tile's row length: wo for a band of rows, less for a patch
    qy, ry, ymask, ey = _axis_classes(h, ho, tile.r0, tile.r1, kh, sh, dh, top)
    qx, rx, xmask, ex = _axis_classes(w, wo, x0, x1, kw, sw, dw, left)
    rows, cols = np.flatnonzero(ymask), np.flatnonzero(xmask)
    if not rows.size or not cols.size:
        return Links(*(np.zeros(0, dtype=np.int64) for _ in range(3)))
    raw = (qy[rows, None] - tile.r0) * tw + (qx[None, cols] - x0)
    base = int(raw.min())
    carried = raw - base
    if carried.max() > limit_index:
        raise TileTooLarge(f"needs neuron indices up to {int(carried.max())}, a spike carries {limit_index}")
    row_key = np.unique(np.stack([ry[rows], ymask[rows]], axis=1), axis=0, return_inverse=True)[1].ravel()
    col_key = np.unique(np.stack([rx[cols], xmask[cols]], axis=1), axis=0, return_inverse=True)[1].ravel()
    n_rc, n_cc = int(row_key.max()) + 1, int(col_key.max()) + 1
    first_row = {int(k): int(rows[i]) for i, k in reversed(list(enumerate(row_key)))}
    first_col = {int(k): int(cols[i]) for i, k in reversed(list(enumerate(col_key)))}
    plane = tile.rows * tw
    taps = {}  # (row class, column class) -> kernel taps (ky, kx) that land in the tile
    for rc in range(n_rc):
        iy = first_row[rc]
        for cc in range(n_cc):
            ix = first_col[cc]
            ky, kx = np.meshgrid([k for k in range(kh) if ymask[iy] >> k & 1],
                                 [k for k in range(kw) if xmask[ix] >> k & 1], indexing="ij")
            taps[rc, cc] = (ky.ravel(), kx.ravel(), ey[iy, ky.ravel()] * tw + ex[ix, kx.ravel()] + base)
    blocks = list(_channel_blocks(tile, conn["group"], cin, cout))
    if not blocks:
        return Links(*(np.zeros(0, dtype=np.int64) for _ in range(3)))
    used = np.concatenate([cis for cis, _ in blocks])
    table = np.concatenate([_block_dendrites(core, tile, conn, weight, plane, taps, cis, outs, cache)
                            for cis, outs in blocks])
    pixels = (rows[:, None] * w + cols[None, :]).ravel()
    elements = (used[:, None] * (h * w) + pixels[None, :]).ravel()
    dendrites = table[:, row_key[:, None], col_key[None, :]].ravel()
    return Links(elements, dendrites, np.tile(carried.ravel(), used.size))


def _channel_blocks(tile: Tile, group: int, cin: int, cout: int):
    """(input channels, the tile's output channels they feed): a block per group of a convolution
    (every input channel of a group feeds the same outputs), a block per channel of a max window."""
    if not group:
        for ci in range(max(tile.c0, 0), min(tile.c1, cin)):
            yield np.arange(ci, ci + 1), np.arange(ci, ci + 1)
        return
    cin_g, cout_g = cin // group, cout // group
    for g in range(group):
        outs = np.arange(max(g * cout_g, tile.c0), min((g + 1) * cout_g, tile.c1))
        if outs.size:
            yield np.arange(g * cin_g, (g + 1) * cin_g), outs


def _block_dendrites(core, tile: Tile, conn: dict, weight, plane: int, taps: dict, cis: np.ndarray,
                     outs: np.ndarray, cache: dict | None = None) -> np.ndarray:
    """A dendrite per (input channel, row class, column class); their ids as [channel, row class,
    column class]. The offsets of a class are the same for every channel of a block and only the
    weights differ, so each class's dendrites are sliced and added for the whole block at once."""
    kw = conn["kernel"][1]
    offsets, weights = [], []
    for ky, kx, shift in taps.values():
        offsets.append(((outs[:, None] - tile.c0) * plane + shift[None, :]).ravel())
        if conn["group"]:
            # the same block for every tile of these channels with these taps (a layer's bands of rows)
            key = (int(outs[0]), outs.size, int(cis[0]), cis.size, ky.tobytes(), kx.tobytes())
            block = cache.get(key) if cache is not None else None
            if block is None:
                local = cis - cis[0]  # input channel within its group
                block = weight[outs[:, None, None], local[None, :, None], ky[None, None, :], kx[None, None, :]]
                block = np.ascontiguousarray(block.transpose(1, 0, 2).reshape(cis.size, -1), dtype=np.int64)
                if cache is not None:  # [channel, output-major taps]
                    cache[key] = block
            weights.append(block)
        else:
            weights.append(np.broadcast_to(1 << (ky * kw + kx), (outs.size, ky.size)).reshape(1, -1))
    n_rc, n_cc = max(k[0] for k in taps) + 1, max(k[1] for k in taps) + 1
    table = np.empty((cis.size, n_rc, n_cc), dtype=np.int64)
    for k, (rc, cc) in enumerate(taps):
        table[:, rc, cc] = core.add_dendrites(offsets[k], np.broadcast_to(weights[k], (cis.size, offsets[k].size)),
                                              relative=True)
    return table
