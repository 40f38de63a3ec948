"""How a layer's inputs reach its neurons: dense, convolution (and pooling windows), elementwise.

One description serves the neuron models' golden arithmetic (sdannc/neurons: applied to bit planes
with numpy), the passes and the backend (which turns it into dendrite and axon tables). A
connection is a dict, one per input in a node's `connections` attr:
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


# Integer products run as float64 BLAS products: exact while every partial sum stays below 2^53
# (then the order BLAS adds in cannot matter); larger bounds fall back to int64 arithmetic.
_EXACT_FLOAT = 2 ** 53


def _exact_in_float(x: np.ndarray, weight: np.ndarray, fan_in: int) -> bool:
    largest_x = int(np.abs(x).max(initial=0))
    largest_w = int(np.abs(weight).max(initial=0))
    return largest_x * largest_w * max(fan_in, 1) < _EXACT_FLOAT


def _product(a: np.ndarray, b: np.ndarray, exact_float: bool) -> np.ndarray:
    """a @ b for integer arrays, exactly."""
    if exact_float:
        return np.rint(a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64)
    return a.astype(np.int64) @ b.astype(np.int64)


def apply(conn: dict, weight: np.ndarray, x: np.ndarray, out_shape: tuple[int, ...]) -> np.ndarray:
    """The weighted sums a connection delivers: x [batch, *in_shape] integers -> [batch, *out_shape]."""
    batch = x.shape[0]
    kind = conn["kind"]
    if kind == "dense":
        flat = x.reshape(batch, -1)
        exact = _exact_in_float(flat, weight, flat.shape[1])
        return _product(flat, weight.T, exact).reshape((batch,) + tuple(out_shape))
    if kind == "elementwise":
        return x.reshape((batch,) + tuple(out_shape)) * weight
    if kind == "conv":
        group = conn["group"]
        windows = conv_windows(x, conn)  # [b, Cin, kh, kw, Ho, Wo]
        cin_g, cout_g = x.shape[1] // group, weight.shape[0] // group
        ho, wo = windows.shape[-2:]
        taps = cin_g * windows.shape[2] * windows.shape[3]
        exact = _exact_in_float(x, weight, taps)
        parts = []
        for g in range(group):
            # im2col: rows are (sample, output position), columns the window's taps
            cols = windows[:, g * cin_g:(g + 1) * cin_g].reshape(batch, taps, ho * wo).transpose(0, 2, 1)
            wg = weight[g * cout_g:(g + 1) * cout_g].reshape(cout_g, taps)
            out = _product(cols.reshape(batch * ho * wo, taps), wg.T, exact)
            parts.append(out.reshape(batch, ho, wo, cout_g).transpose(0, 3, 1, 2))
        return np.concatenate(parts, axis=1)
    raise ValueError(f"unknown connection kind {kind!r}")


def apply_bit_planes(conn: dict, weight: np.ndarray, codes: np.ndarray, out_shape, bits: int) -> np.ndarray:
    """`apply` to each bit plane of the codes, MSB first, in one call: [bits, batch, *out_shape]."""
    planes = np.stack([(codes >> (bits - 1 - b)) & 1 for b in range(bits)])  # [bits, batch, ...]
    sums = apply(conn, weight, planes.reshape((-1,) + codes.shape[1:]), out_shape)
    return sums.reshape((bits, codes.shape[0]) + tuple(out_shape))


def valid_window_mask(in_hw, conn: dict) -> np.ndarray:
    """[kh, kw, Ho, Wo] True where a window tap falls inside the input (not padding)."""
    ones = np.ones((1, 1) + tuple(in_hw), dtype=np.int64)
    return conv_windows(ones, conn, fill=0)[0, 0].astype(bool)


def _input_sums(weight: np.ndarray, absolute: bool) -> np.ndarray:
    """weight.sum(axis=1), of |weight| if absolute, a block of outputs at a time: |weight| of a large
    layer is never held whole (VGG-16's first dense layer: 822 MB)."""
    step = max(1, (1 << 20) // max(1, weight[:1].size))
    part = np.abs if absolute else np.asarray
    blocks = [part(weight[i:i + step]).sum(axis=1) for i in range(0, weight.shape[0], step)]
    return np.concatenate(blocks) if blocks else np.zeros((0,) + weight.shape[2:], dtype=np.int64)


def weight_sums(conn: dict, weight: np.ndarray, in_shape, out_shape, absolute: bool = False) -> np.ndarray:
    """Per output neuron, the sum of the weights (|weights| if absolute) of every input it hears,
    padded taps excluded: what `apply` gives for an input of all ones, without its windows or its float
    copy of the weights (those took 1.7 GB for VGG-16's first dense layer)."""
    kind = conn["kind"]
    if kind == "dense":
        return _input_sums(weight, absolute).reshape(out_shape)
    if kind == "elementwise":
        return np.broadcast_to(np.abs(weight) if absolute else weight, tuple(out_shape)).astype(np.int64)
    if kind == "conv":
        mask = valid_window_mask(tuple(in_shape)[1:], conn)  # [kh, kw, Ho, Wo]
        per_tap = _input_sums(weight, absolute)  # [Cout, kh, kw]: a group's input channels share the window
        return np.einsum("oyx,yxhw->ohw", per_tap, mask.astype(np.int64)).reshape(out_shape)
    raise ValueError(f"unknown connection kind {kind!r}")
