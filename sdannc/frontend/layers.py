"""Linear layers (Conv, Gemm, MatMul and their QLinear forms) as IR `linear` heads.

The weight zero point is subtracted into an int64 `weight` laid out [out, in] or
[Cout, Cin/group, kh, kw]; scales become one `weight_scale` per output; the int32 bias of
onnxruntime (scale x_scale * w_scale) becomes `bias` int64 [out], rescaled if its scale differs.
"""

from __future__ import annotations

import math

import numpy as np

from ..ir.ops import LINEAR
from .convert import Converter
from .ops import conv_geometry


def per_out(node_fail, values, nout: int, axis: int | None, out_axis: int, ndim: int, what: str) -> np.ndarray:
    """A per-tensor or per-output-channel parameter as a vector [nout]."""
    values = np.asarray(values).reshape(-1)
    if values.size == 1:
        return np.repeat(values, nout)
    if axis is None or axis % ndim != out_axis or values.size != nout:
        node_fail(f"weight {what} of size {values.size} along axis {axis} is not one per output channel "
                  f"({nout} outputs on axis {out_axis})")
    return values


def _steps(bias: np.ndarray, unit: np.ndarray, fail) -> np.ndarray:
    """A real bias in integer steps of `unit`; one that no integer holds means scales that make no sense."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        steps = np.rint(bias / unit)
    bad = ~(np.abs(steps) < 2.0 ** 62)  # NaN and inf too
    if bad.any():
        fail(f"bias {float(np.asarray(bias)[bad][0]):g} is {float(steps[bad][0]):g} steps of input scale x weight "
             "scale: no integer holds that; check the model's scales")
    return steps.astype(np.int64)


def linear_head(c: Converter, node, x: str, w: np.ndarray, w_scale, w_zp, w_axis: int | None, trans: bool,
                kind: str, attrs: dict | None = None, bias: np.ndarray | None = None,
                bias_scale=None, bias_real: np.ndarray | None = None) -> dict:
    """The head dict of a linear layer reading IR tensor x.

    w is the stored integer weight; trans means it is laid out [in, out] (MatMul, Gemm transB=0).
    bias is an integer bias with scale bias_scale (None: x_scale * w_scale); bias_real a float one."""
    fail = lambda what: c.m.node_fail(node, what)  # noqa: E731
    if not np.issubdtype(w.dtype, np.integer):
        fail(f"weight is {w.dtype}, not quantized (expected an int8 DequantizeLinear weight)")
    out_axis = 1 if trans else 0
    if w.ndim != (4 if kind == "conv" else 2):
        fail(f"weight of shape {list(w.shape)} is not {'4-D' if kind == 'conv' else '2-D'}")
    nout = w.shape[out_axis]
    ws = per_out(fail, w_scale, nout, w_axis, out_axis, w.ndim, "scale").astype(np.float32).astype(np.float64)
    wz = per_out(fail, w_zp if w_zp is not None else 0, nout, w_axis, out_axis, w.ndim, "zero point")
    shape = [1] * w.ndim
    shape[out_axis] = nout
    weight = w.astype(np.int64) - wz.astype(np.int64).reshape(shape)
    if trans:
        weight = np.ascontiguousarray(weight.T)
    if not np.all((ws > 0) & np.isfinite(ws)):
        fail("weight scales must be finite positive numbers")
    in_shape = c.tensors[x].shape
    sx = c.tensors[x].scale
    if kind == "conv":
        geo, out_shape = conv_geometry(attrs or {}, in_shape, weight.shape, fail)
        ir_attrs = {"kind": "conv", **geo}
    else:
        if in_shape != (weight.shape[1],):
            fail(f"input of shape {list(in_shape)} per sample does not fit a weight of {weight.shape[1]} inputs")
        ir_attrs, out_shape = {"kind": "dense"}, (nout,)
    unit = np.float64(sx) * ws  # what one bias step is worth
    if bias is not None:
        b = np.asarray(bias).reshape(-1).astype(np.int64)
        if b.size != nout:
            fail(f"bias of size {b.size} does not match {nout} outputs")
        if bias_scale is not None:
            bs = np.broadcast_to(np.asarray(bias_scale, np.float64).reshape(-1), (nout,))
            if not np.allclose(bs, unit, rtol=1e-5, atol=0):
                b = _steps(b * bs, unit, fail)
                c.notes.append(f"{c.m.node_name(node)}: bias rescaled from its own scale to input x weight scale")
    elif bias_real is not None:
        real = np.asarray(bias_real, np.float64).reshape(-1)
        if real.size != nout:
            fail(f"bias of size {real.size} does not match {nout} outputs")
        b = _steps(real, unit, fail)
    else:
        b = np.zeros(nout, np.int64)
    params = {"weight": weight, "weight_scale": ws, "bias": b}
    # onnxruntime computes this layer as QLinearConv / QGemm / QLinearMatMul (QDQ models fused into
    # them by its optimizer): float32 requantization, docs/exactness.md (lower-linear keeps its scale)
    ir_attrs["float32_requantize"] = True
    return {"op": LINEAR, "inputs": [x], "attrs": ir_attrs, "params": params, "shape": tuple(out_shape),
            "float": node.output[0]}


def check_gemm(c: Converter, node, attrs: dict, has_bias: bool) -> bool:
    """Gemm's alpha, beta and transA must leave it a plain layer; returns transB."""
    alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
    if not math.isclose(alpha, 1.0) or (has_bias and not math.isclose(beta, 1.0)):
        c.m.node_fail(node, f"alpha={alpha:g}, beta={beta:g} is not supported (only alpha = beta = 1)")
    if attrs.get("transA", 0):
        c.m.node_fail(node, "transA=1 is not supported")
    return bool(attrs.get("transB", 0))
