"""Quantized Conv/Gemm/MatMul -> STEM layer: zero points folded into a per-neuron bias.

acc = sum W (x - zx) + b = sum W x + (b - zx * sum_valid W). In a padded convolution the padded taps
carry the real value 0 (code zx) and contribute nothing, so the fold uses only the taps that fall
inside the input: border neurons get their own bias.
"""

from __future__ import annotations

import numpy as np

from ..errors import SdanncError
from ..ir import connections
from ..ir.codes import CODE_MAX
from ..ir.graph import Graph, Node
from ..ir.ops import LINEAR
from ..target import Target
from .base import Options, Pass, stem_node


def lower(node: Node, graph: Graph, target: Target) -> Node:
    x, y = graph.tensors[node.inputs[0]], graph.tensors[node.output]
    w = node.params["weight"].astype(np.int64)
    limit = 1 << (target.arith["weight_bits"] - 1)
    if w.size and (w.min() < -limit or w.max() > limit - 1):
        bits = target.arith["weight_bits"]
        raise SdanncError(f"layer {node.name}: weights span {w.min()}..{w.max()}, the target's {bits}-bit weights "
                          f"hold {-limit}..{limit - 1}: quantize the weights to {bits} bits or use a target with "
                          f"wider weights")
    kind = node.attrs["kind"]
    conn = {"kind": "dense"} if kind == "dense" else {
        "kind": "conv", **{k: tuple(node.attrs[k]) for k in ("kernel", "strides", "pads", "dilations")},
        "group": int(node.attrs["group"])}
    out_shape = y.shape
    channel_axis = (slice(None),) + (None,) * (len(out_shape) - 1)
    folded = connections.weight_sums(conn, node.params["weight"], x.shape, out_shape)
    bias = node.params["bias"].astype(np.int64)[channel_axis] - x.zero_point * folded
    scale = (x.scale * node.params["weight_scale"].astype(np.float64) / y.scale)[channel_axis]
    stem = stem_node(node.name, node.inputs, y, [conn], [w], bias, scale, node.attrs.get("clamp", (0, CODE_MAX)))
    if node.attrs.get("float32_requantize"):  # onnxruntime's own multiplier, fl(fl(sx sw) / sy) (docs/exactness.md)
        s32 = (np.float32(x.scale) * node.params["weight_scale"].astype(np.float32)) / np.float32(y.scale)
        stem.params["float32_scale"] = np.broadcast_to(s32.astype(np.float32)[channel_axis], y.shape).copy()
    return stem


def lower_linear(graph: Graph, target: Target, options: Options) -> Graph:
    graph = graph.copy()
    graph.nodes = [lower(n, graph, target) if n.op == LINEAR else n for n in graph.nodes]
    return graph


PASS = Pass("lower-linear", lower_linear, "Conv/Gemm/MatMul to STEM layers, zero points folded into biases")
