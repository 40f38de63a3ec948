"""Products of two activations (the frontend's `mul`: onnxruntime's QLinearMul, a squeeze-and-
excitation gate) -> product neurons (`product`, isa/programs/mul_neuron.s).

onnxruntime (MlasQLinearMul, x86) computes `sat(rne(fl(fl(P) * R + zc)))` with P = (a - za)(b - zb)
an exact integer and R = fl(fl(sa sb) / sc) one float32 for the layer. For R > 0 that is a
non-decreasing step function of P, so the output code is the number of its thresholds
t_k = min {P : code(P) >= k}, k = 1..255, at or below P: computed here over every P in
[-255^2, 255^2] with onnxruntime's float32 arithmetic, the chip's answer is onnxruntime's by
construction. The neuron holds P exactly, which needs registers of at least 18 bits (darwin3-wide).
On 16-bit registers (darwin3) it computes Q = sat(P - C) in its two-word accumulator (MACW, SFTW)
instead, with C chosen so that every threshold less C fits the register: saturation is monotone,
so Q >= t_k - C exactly where P >= t_k, and the counts are the same. That needs the thresholds
between the least and the largest P to span less than 2^16 - 1 products (output scales at least
about sa sb / 257); others are refused. The gate's inputs: a on an elementwise dendrite of weight 1; b of
weight 2, elementwise, or, a per-channel gate [C, 1, 1] of a [C, H, W] output, broadcast by a
depthwise window of H x W over the 1 x 1 input padded by H - 1, W - 1 on every side (each output
position reads the gate once)."""

from __future__ import annotations

import numpy as np

from ..errors import SdanncError
from ..ir.codes import CODE_MAX
from ..ir.graph import Graph, Node
from ..ir.ops import MUL, PRODUCT
from ..target import Target
from .base import Options, Pass

F32 = np.float32
P_MAX = CODE_MAX * CODE_MAX  # |(a - za)(b - zb)| at most
P_BITS = 18  # signed bits that hold +-65025


def qlinear_mul_codes(p: np.ndarray, sa: float, sb: float, sc: float, zc_onnx: int, zc_code: int) -> np.ndarray:
    """onnxruntime's QLinearMul output code (the IR's) of each product p of code differences."""
    ratio = F32(F32(F32(sa) * F32(sb)) / F32(sc))
    value = (p.astype(F32) * ratio + F32(zc_onnx)).astype(F32)
    return (np.rint(value).astype(np.int64) + (zc_code - zc_onnx)).clip(0, CODE_MAX)


def thresholds(sa: float, sb: float, sc: float, zc_onnx: int, zc_code: int, clamp, register_bits: int) -> np.ndarray:
    """[256]: word 0 the register's minimum, word k the least P whose code is at least k (the
    register's maximum where none is), for the codes clamped to `clamp`."""
    p = np.arange(-P_MAX, P_MAX + 1, dtype=np.int64)
    codes = np.clip(qlinear_mul_codes(p, sa, sb, sc, zc_onnx, zc_code), *clamp)
    assert np.all(np.diff(codes) >= 0), "QLinearMul is non-decreasing in P for positive scales"
    low, high = -(1 << (register_bits - 1)), (1 << (register_bits - 1)) - 1
    first = np.searchsorted(codes, np.arange(1, CODE_MAX + 1), side="left")  # first P with code >= k
    t = np.where(first < p.size, p[np.minimum(first, p.size - 1)], high)
    t = np.where(first == 0, low, t)  # every P reaches k
    return np.concatenate([[low], t]).astype(np.int64)


def centered(table: np.ndarray, register_bits: int) -> tuple[np.ndarray, int] | None:
    """(the thresholds less C, with word 0 the register's minimum; C) for a register of
    `register_bits`, or None where they span more than it holds. A threshold below every P acts as
    -P_MAX, one above every P as P_MAX + 1."""
    b = np.clip(table[1:], -P_MAX, P_MAX + 1)
    top = (1 << (register_bits - 1)) - 1
    if int(b.max() - b.min()) > 2 * top:
        return None
    center = int(b.min()) + top  # b - center in [-top, top]: above the saturated minimum, -top - 1
    return np.concatenate([[-top - 1], b - center]).astype(np.int64), center


def _gate_connection(out_shape: tuple) -> dict:
    c, h, w = out_shape
    return {"kind": "conv", "kernel": (h, w), "strides": (1, 1), "pads": (h - 1, w - 1, h - 1, w - 1),
            "dilations": (1, 1), "group": c}


def product_node(node: Node, graph: Graph, target: Target, options: Options) -> Node:
    bits = target.arith["register_bits"]
    a, b = (graph.tensors[i] for i in node.inputs)
    y = graph.tensors[node.output]
    conns, weights = [], []
    for t, w in ((a, 1), (b, 2)):
        if t.shape == y.shape:
            conns.append({"kind": "elementwise"})
            weights.append(np.full((1,) * len(y.shape), w, dtype=np.int64))
        else:  # a per-channel gate [C, 1, 1]
            conns.append(_gate_connection(y.shape))
            weights.append(np.full((y.shape[0], 1) + tuple(y.shape[1:]), w, dtype=np.int64))
    table = thresholds(a.scale, b.scale, y.scale, node.attrs["zero_point_onnx"], y.zero_point,
                       node.attrs.get("clamp", (0, CODE_MAX)), max(bits, P_BITS))
    attrs, params = {"connections": conns, "input_zero_points": (a.zero_point, b.zero_point)}, {}
    if bits < P_BITS:  # Q = sat(P - C) in the two-word accumulator
        fits = centered(table, bits) if 2 * bits >= P_BITS else None
        if fits is None:
            raise SdanncError(f"model {options.model}: node {node.name}: a product of two activations compares "
                              f"(a - za)(b - zb) with thresholds that span more products than {bits}-bit registers "
                              f"hold (its output scale is too small for its input scales): use darwin3-wide")
        table, params["center"] = fits[0], np.asarray(fits[1], dtype=np.int64)
        attrs["two_words"] = bits
    if table.size > target.core["lut_words"]:
        raise SdanncError(f"model {options.model}: node {node.name}: its thresholds take {table.size} words, the "
                          f"target's lookup memory holds {target.core['lut_words']} (core.lut_words)")
    return Node(name=node.name, op=PRODUCT, inputs=list(node.inputs), output=node.output, attrs=attrs,
                params={"weight0": weights[0], "weight1": weights[1], "thresholds": table, **params})


def lower_mul(graph: Graph, target: Target, options: Options) -> Graph:
    graph = graph.copy()
    graph.nodes = [product_node(n, graph, target, options) if n.op == MUL else n for n in graph.nodes]
    return graph


PASS = Pass("lower-mul", lower_mul, "products of two activations (QLinearMul) to product neurons")
