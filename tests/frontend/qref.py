"""A reference evaluator of quantized-level IR that mirrors onnxruntime's CPU arithmetic (test helper).

It is not the compiler's golden model: it exists to check that the frontend read weights, scales,
zero points and geometry right, by reproducing what onnxruntime computes from the same numbers:

  linear   acc = sum W * (x - zx) + bias, exact in int64; y = round_half_even(float32(acc) * M) + zy,
           clamped, with M = float32(sx * sw) / sy in float32 (QLinearConv / QGemm / QLinearMatMul
           requantize with MLAS this way).
  maxpool  on codes (padding never wins).
  avgpool  QLinearAveragePool: dequantize to float32, sum, divide by the count, then
           round(avg / sy + zy). A pool over the whole image is QLinearGlobalAveragePool, which
           sums the codes in int32 and multiplies by sx / (sy * count) in float32.
  add      QLinearAdd's reference kernel: (sa (a - za) + sb (b - zb)) / sc, rounded, + zc.
  add_const  the same with float32(constant) for sb (b - zb) (onnxruntime's MatMul bias).
  concat   QLinearConcat's lookup tables: round(sx (x - zx) / sy) + zy per input.
  reshape / transpose / clamp  exactly.
"""

from __future__ import annotations

import numpy as np

from sdannc.ir.codec import decode_output, encode_input
from sdannc.ir import Graph, Node, Tensor

F = np.float32


def _rne(v: np.ndarray) -> np.ndarray:
    return np.rint(v).astype(np.int64)


def _clamp(q: np.ndarray, node: Node) -> np.ndarray:
    lo, hi = node.attrs.get("clamp", (0, 255))
    return np.clip(q, lo, hi)


def _windows(x: np.ndarray, attrs: dict, fill) -> tuple[np.ndarray, tuple[int, int]]:
    """x [B, C, H, W] padded with fill, as windows [B, C, OH, OW, kh, kw] (with dilations)."""
    top, left, bottom, right = attrs["pads"]
    (kh, kw), (sh, sw) = attrs["kernel"], attrs["strides"]
    dh, dw = attrs.get("dilations", (1, 1))
    xp = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)), constant_values=fill)
    oh = (xp.shape[2] - (kh - 1) * dh - 1) // sh + 1
    ow = (xp.shape[3] - (kw - 1) * dw - 1) // sw + 1
    win = np.empty(x.shape[:2] + (oh, ow, kh, kw), xp.dtype)
    for i in range(kh):
        for j in range(kw):
            win[..., i, j] = xp[:, :, i * dh:i * dh + (oh - 1) * sh + 1:sh, j * dw:j * dw + (ow - 1) * sw + 1:sw]
    return win, (oh, ow)


def _linear(node: Node, x: np.ndarray, tx: Tensor, ty: Tensor) -> np.ndarray:
    w, b = node.params["weight"].astype(np.int64), node.params["bias"].astype(np.int64)
    xi = x - tx.zero_point
    if node.attrs["kind"] == "dense":
        acc = xi @ w.T + b
        shape = (1, -1)
    else:
        g = node.attrs["group"]
        win, (oh, ow) = _windows(xi, node.attrs, 0)  # ORT pads with the input zero point: 0 after - zx
        bsz, cin = x.shape[:2]
        cout = w.shape[0]
        win = win.reshape(bsz, g, cin // g, oh, ow, *w.shape[2:])
        wg = w.reshape(g, cout // g, *w.shape[1:])
        acc = np.einsum("bgchwij,gocij->bgohw", win, wg).reshape(bsz, cout, oh, ow) + b[:, None, None]
        shape = (1, -1, 1, 1)
    m = (F(tx.scale) * node.params["weight_scale"].astype(F)) / F(ty.scale)
    y = _rne(acc.astype(F) * m.reshape(shape)) + ty.zero_point
    return _clamp(y, node)


def _avgpool(node: Node, x: np.ndarray, tx: Tensor, ty: Tensor) -> np.ndarray:
    a = node.attrs
    if tuple(a["kernel"]) == x.shape[2:] and not any(a["pads"]):  # QLinearGlobalAveragePool
        n = x.shape[2] * x.shape[3]
        acc = x.sum(axis=(2, 3)) - tx.zero_point * n
        y = _rne(acc.astype(F) * (F(tx.scale) / (F(ty.scale) * F(n)))) + ty.zero_point
        return _clamp(y[:, :, None, None], node)
    v = F(tx.scale) * (x - tx.zero_point).astype(F)
    win, _ = _windows(v, a, np.nan)
    total = np.zeros(win.shape[:4], F)
    count = np.zeros(win.shape[:4], F)
    for i in range(win.shape[4]):
        for j in range(win.shape[5]):
            cell = win[..., i, j]
            total += np.where(np.isnan(cell), F(0), cell)
            count += ~np.isnan(cell)
    if a.get("count_include_pad", 0):
        count[:] = a["kernel"][0] * a["kernel"][1]
    avg = total / count
    return _clamp(_rne(avg / F(ty.scale) + F(ty.zero_point)), node)


def _requant(x: np.ndarray, tx: Tensor, ty: Tensor) -> np.ndarray:
    """MlasQuantizeLinear of a dequantized tensor: round(sx (x - zx) / sy) + zy, saturated."""
    if tx.scale == ty.scale and tx.zero_point == ty.zero_point:
        return x
    v = F(tx.scale) * (x - tx.zero_point).astype(F)
    return np.clip(_rne(v / F(ty.scale)) + ty.zero_point, 0, 255)


def run_codes(graph: Graph, codes: np.ndarray) -> np.ndarray:
    """Output codes [B, ...] for input codes [B, ...]."""
    vals = {graph.input: codes.astype(np.int64)}
    for node in graph.nodes:
        xs = [vals[i] for i in node.inputs]
        ts = [graph.tensors[i] for i in node.inputs]
        ty = graph.tensors[node.output]
        op = node.op
        if op == "linear":
            y = _linear(node, xs[0], ts[0], ty)
        elif op == "maxpool":
            win, _ = _windows(xs[0], node.attrs, -1)
            y = win.max(axis=(4, 5))
        elif op == "avgpool":
            y = _avgpool(node, xs[0], ts[0], ty)
        elif op == "add":
            va, vb = (F(t.scale) * (x - t.zero_point).astype(F) for x, t in zip(xs, ts))
            y = _clamp(_rne((va + vb) / F(ty.scale) + F(ty.zero_point)), node)
        elif op == "add_const":
            va = F(ts[0].scale) * (xs[0] - ts[0].zero_point).astype(F)
            vb = node.params["constant"].astype(F).reshape((1, -1) + (1,) * (va.ndim - 2))
            y = _clamp(_rne((va + vb) / F(ty.scale) + F(ty.zero_point)), node)
        elif op == "concat":
            y = np.concatenate([_requant(x, t, ty) for x, t in zip(xs, ts)], axis=node.attrs["axis"] + 1)
        elif op == "reshape":
            y = xs[0].reshape((len(xs[0]),) + ty.shape)
        elif op == "transpose":
            y = xs[0].transpose((0,) + tuple(p + 1 for p in node.attrs["perm"]))
        elif op == "gather":
            y = xs[0].reshape(len(xs[0]), -1)[:, node.params["index"].reshape(-1)].reshape((len(xs[0]),) + ty.shape)
        elif op == "clamp":
            y = _clamp(xs[0], node)
        else:
            raise AssertionError(f"qref: unknown op {op}")
        assert y.shape[1:] == ty.shape, (node.name, y.shape, ty.shape)
        assert y.min() >= 0 and y.max() <= 255, node.name
        vals[node.output] = y
    return vals[graph.output]


def run(graph: Graph, x: np.ndarray) -> np.ndarray:
    """The graph's output for a batch x, decoded as output_decode says (float32 for 'dequantize')."""
    return decode_output(run_codes(graph, encode_input(x, graph.input_encode)), graph.output_decode)
