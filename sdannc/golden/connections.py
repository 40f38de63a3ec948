"""How a layer's inputs reach its neurons: dense, convolution (and pooling windows), elementwise.

One description serves the golden interpreter (which applies it to bit planes with numpy) and the
backend (which turns it into dendrite and axon tables). A connection is a dict:
  {"kind": "dense"}                                        weight [out, in]
  {"kind": "conv", kernel, strides, pads, dilations, group} weight [Cout, Cin/group, kh, kw]
  {"kind": "elementwise"}                                  weight broadcastable to the output shape
Pads are (top, left, bottom, right); padded positions contribute nothing.
"""

from __future__ import annotations

import numpy as np


def conv_output_hw(in_hw, conn: dict) -> tuple[int, int]:
    (h, w), (kh, kw) = in_hw, conn["kernel"]
    (sh, sw), (dh, dw) = conn["strides"], conn["dilations"]
    top, left, bottom, right = conn["pads"]
    return (h + top + bottom - dh * (kh - 1) - 1) // sh + 1, (w + left + right - dw * (kw - 1) - 1) // sw + 1


def conv_windows(x: np.ndarray, conn: dict, fill=0) -> np.ndarray:
    """x [batch, C, H, W] -> windows [batch, C, kh, kw, Ho, Wo] (padding filled with `fill`)."""
    (kh, kw), (sh, sw), (dh, dw) = conn["kernel"], conn["strides"], conn["dilations"]
    top, left, bottom, right = conn["pads"]
    ho, wo = conv_output_hw(x.shape[2:], conn)
    padded = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)
    out = np.empty(x.shape[:2] + (kh, kw, ho, wo), dtype=x.dtype)
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            out[:, :, ky, kx] = padded[:, :, y0:y0 + sh * (ho - 1) + 1:sh, x0:x0 + sw * (wo - 1) + 1:sw]
    return out


def apply(conn: dict, weight: np.ndarray, x: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray:
    """The weighted sums a connection delivers: x [batch, *in_shape] integers -> [batch, *out_shape]."""
    batch = x.shape[0]
    kind = conn["kind"]
    if kind == "dense":
        return (x.reshape(batch, -1) @ weight.T).reshape((batch,) + tuple(out_shape))
    if kind == "elementwise":
        return x.reshape((batch,) + tuple(out_shape)) * weight
    if kind == "conv":
        group = conn["group"]
        windows = conv_windows(x, conn)  # [b, Cin, kh, kw, Ho, Wo]
        cin_g, cout_g = x.shape[1] // group, weight.shape[0] // group
        parts = []
        for g in range(group):
            win = windows[:, g * cin_g:(g + 1) * cin_g]
            wg = weight[g * cout_g:(g + 1) * cout_g]
            parts.append(np.einsum("bckyx,ock->boyx", win.reshape(batch, cin_g, -1, *win.shape[-2:]),
                                   wg.reshape(cout_g, cin_g, -1), optimize=True))
        return np.concatenate(parts, axis=1)
    raise ValueError(f"unknown connection kind {kind!r}")


def valid_window_mask(in_hw, conn: dict) -> np.ndarray:
    """[kh, kw, Ho, Wo] True where a window tap falls inside the input (not padding)."""
    ones = np.ones((1, 1) + tuple(in_hw), dtype=np.int64)
    return conv_windows(ones, conn, fill=0)[0, 0].astype(bool)
