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

from ..golden.connections import conv_output_hw
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
    dendrites = np.asarray([core.add_dendrite(ids, block[:, i]) for i in used], dtype=np.int64)
    return Links(used, dendrites, np.zeros(used.size, dtype=np.int64))


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


def window(core, tile: Tile, conn: dict, in_shape, out_shape, weight: np.ndarray | None, limit_index: int) -> Links:
    """Convolution (weight given) or max window (weight None: input k gets weight 2^k, channel to itself)."""
    cin, h, w = as_chw(in_shape)
    cout, ho, wo = as_chw(out_shape)
    (kh, kw), (sh, sw), (dh, dw) = conn["kernel"], conn["strides"], conn["dilations"]
    top, left, _, _ = conn["pads"]
    assert conv_output_hw((h, w), conn) == (ho, wo)
    qy, ry, ymask, ey = _axis_classes(h, ho, tile.r0, tile.r1, kh, sh, dh, top)
    qx, rx, xmask, ex = _axis_classes(w, wo, 0, wo, kw, sw, dw, left)
    rows, cols = np.flatnonzero(ymask), np.flatnonzero(xmask)
    if not rows.size or not cols.size:
        return Links(*(np.zeros(0, dtype=np.int64) for _ in range(3)))
    raw = (qy[rows, None] - tile.r0) * wo + qx[None, cols]
    base = int(raw.min())
    carried = raw - base
    if carried.max() > limit_index:
        raise TileTooLarge(f"needs neuron indices up to {int(carried.max())}, a spike carries {limit_index}")
    row_key = np.unique(np.stack([ry[rows], ymask[rows]], axis=1), axis=0, return_inverse=True)[1].ravel()
    col_key = np.unique(np.stack([rx[cols], xmask[cols]], axis=1), axis=0, return_inverse=True)[1].ravel()
    n_rc, n_cc = int(row_key.max()) + 1, int(col_key.max()) + 1
    first_row = {int(k): int(rows[i]) for i, k in reversed(list(enumerate(row_key)))}
    first_col = {int(k): int(cols[i]) for i, k in reversed(list(enumerate(col_key)))}
    group = conn["group"]  # 0: a max window, each channel to itself
    plane = tile.rows * wo
    taps = {}  # (row class, column class) -> kernel taps (ky, kx) that land in the tile
    for rc in range(n_rc):
        iy = first_row[rc]
        for cc in range(n_cc):
            ix = first_col[cc]
            ky, kx = np.meshgrid([k for k in range(kh) if ymask[iy] >> k & 1],
                                 [k for k in range(kw) if xmask[ix] >> k & 1], indexing="ij")
            taps[rc, cc] = (ky.ravel(), kx.ravel(), ey[iy, ky.ravel()] * wo + ex[ix, kx.ravel()] + base)
    elements, dendrites, carries = [], [], []
    for ci in range(cin):
        if group:
            cin_g, cout_g = cin // group, cout // group
            g = ci // cin_g
            outs = np.arange(max(g * cout_g, tile.c0), min((g + 1) * cout_g, tile.c1))
        else:
            outs = np.arange(ci, ci + 1) if tile.c0 <= ci < tile.c1 else np.zeros(0, dtype=np.int64)
        if not outs.size:
            continue
        table = np.empty((n_rc, n_cc), dtype=np.int64)
        for (rc, cc), (ky, kx, shift) in taps.items():
            offsets = ((outs[:, None] - tile.c0) * plane + shift[None, :]).ravel()
            if group:
                weights = weight[outs[:, None], ci - g * (cin // group), ky[None, :], kx[None, :]].ravel()
            else:
                weights = np.broadcast_to(1 << (ky * kw + kx), (outs.size, ky.size)).ravel()
            table[rc, cc] = core.add_dendrite(offsets, weights, relative=True)
        pix_y, pix_x = np.meshgrid(rows, cols, indexing="ij")
        elements.append(((ci * h + pix_y) * w + pix_x).ravel())
        dendrites.append(table[row_key[:, None], col_key[None, :]].ravel())
        carries.append(carried.ravel())
    if not elements:
        return Links(*(np.zeros(0, dtype=np.int64) for _ in range(3)))
    return Links(np.concatenate(elements), np.concatenate(dendrites), np.concatenate(carries))
