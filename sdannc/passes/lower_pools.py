"""MaxPool -> bit-serial max neurons; AveragePool and GlobalAveragePool -> STEM with fixed weights.

A max neuron compares up to 7 inputs bit by bit (each input's spike arrives with its own power-of-
two weight, so the dendrite sum says which inputs have a 1); larger windows become two stages,
rows then columns, which give the same maximum. An average is a depthwise convolution with weights
1 and a per-neuron multiplier scale_in / (scale_out * count); or, where onnxruntime's float32
QLinearAveragePool rounds codes that way does not (attr float32_pool from the frontend: exact ties
at a power-of-two count and a binary ratio of scales), the float32 pool neuron (float32_pool.py).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import SdanncError
from ..ir import connections
from ..ir.codes import CODE_MAX
from ..ir.graph import Graph, Node, Tensor
from ..ir.ops import AVGPOOL, FLOAT32_POOL, MAX, MAXPOOL
from ..target import Target
from .base import Options, Pass, fresh_name, stem_node
from .float32_pool import needs_float32, pool_tables
from .sparsify import layer_sparsified
from .requantize import row_major_steps

MAX_INPUTS = 7  # weights 1, 2, 4 .. 64 fit any signed 8-bit weight


def _window(node: Node) -> dict:
    return {"kind": "conv", "kernel": tuple(node.attrs["kernel"]), "strides": tuple(node.attrs["strides"]),
            "pads": tuple(node.attrs["pads"]), "dilations": tuple(node.attrs.get("dilations", (1, 1))), "group": 0}


def _max_node(name: str, source: str, output: str, conn: dict) -> Node:
    return Node(name=name, op=MAX, inputs=[source], output=output, attrs={"connections": [conn]})


def lower_maxpool(node: Node, graph: Graph) -> list[Node]:
    conn = _window(node)
    kh, kw = conn["kernel"]
    if kh > MAX_INPUTS or kw > MAX_INPUTS:
        raise SdanncError(f"layer {node.name}: MaxPool window {kh}x{kw}: at most {MAX_INPUTS} per axis is supported")
    if kh * kw <= MAX_INPUTS:
        return [_max_node(node.name, node.inputs[0], node.output, conn)]
    (sh, sw), (dh, dw) = conn["strides"], conn["dilations"]
    top, left, bottom, right = conn["pads"]
    rows = {"kind": "conv", "kernel": (kh, 1), "strides": (sh, 1), "pads": (top, 0, bottom, 0),
            "dilations": (dh, 1), "group": 0}
    cols = {"kind": "conv", "kernel": (1, kw), "strides": (1, sw), "pads": (0, left, 0, right),
            "dilations": (1, dw), "group": 0}
    src = graph.tensors[node.inputs[0]]
    mid_hw = connections.conv_output_hw(src.shape[1:], rows)
    mid = Tensor(fresh_name(graph, f"{node.output}_rows"), (src.shape[0],) + mid_hw, src.scale, src.zero_point)
    graph.tensors[mid.name] = mid
    return [_max_node(f"{node.name}/rows", node.inputs[0], mid.name, rows),
            _max_node(f"{node.name}/cols", mid.name, node.output, cols)]


def ties_possible(count: int, scales) -> bool:
    """Whether an average of `count` codes can land exactly on a half step: a power-of-two count and
    a ratio of the (float32) scales that is a binary fraction (the output mantissa's odd part divides
    the input's)."""
    mx, my = (int(math.frexp(float(np.float32(s)))[0] * (1 << 24)) for s in scales)
    while my % 2 == 0:
        my //= 2
    return count & (count - 1) == 0 and mx % my == 0


def float32_pool(node: Node, graph: Graph, target: Target, options: Options) -> Node | None:
    """The float32 pool neuron for an AveragePool onnxruntime computes in float32 (attr float32_pool:
    the input's and output's code offsets and its kernel), where its rounding differs from the exact
    average's somewhere (passes/float32_pool.needs_float32) and the tables can be built and held;
    else None (the layer stays a STEM one: the exact average), with a note where ties are possible."""
    offsets = node.attrs.get("float32_pool")
    if offsets is None or options.coding != "stem" or layer_sparsified(options.sparsify, graph, node.name):
        return None
    x, y = graph.tensors[node.inputs[0]], graph.tensors[node.output]
    conn = _window(node)
    kh, kw = conn["kernel"]
    clamp = node.attrs.get("clamp", (0, CODE_MAX))
    in_offset, out_offset, kernel = offsets
    args = (kh * kw, (x.scale, y.scale), (x.zero_point, y.zero_point), (in_offset, out_offset), clamp, kernel == "fused")
    if any(conn["pads"]) or conn["dilations"] != (1, 1):
        tables = "padded windows"  # windows of other counts at the border
    else:
        tables = pool_tables(*args)
    if not isinstance(tables, str):
        if not needs_float32(tables, *args):
            return None
        if tables.memory.size > target.core.get("lut_words", 0):
            tables = f"its tables take {tables.memory.size:,} words of lookup memory, a core has {target.core.get('lut_words', 0):,}"
    if isinstance(tables, str):
        if ties_possible(kh * kw, (x.scale, y.scale)):
            graph.notes.append(f"lower-pools: {node.name}: onnxruntime's float32 average pool cannot run on the "
                               f"float32 pool neuron ({tables}); the layer computes the exact average")
        return None
    conn["group"] = 0  # each channel to itself, input k of a window on weight 2^k (as the max neuron's)
    steps = row_major_steps(kh * kw)
    return Node(name=node.name, op=FLOAT32_POOL, inputs=list(node.inputs), output=node.output,
                attrs={"connections": [conn], "input_zero_point": x.zero_point, "zero_point": y.zero_point,
                       "clamp": tuple(clamp), "record_zero": tables.record_zero, "final_zero": tables.final_zero,
                       "boundary": tables.boundary, "steps": [tuple(step) for step in steps],
                       "integration": f"float32 {kernel}", "error_bound": 0.0},
                params={"pool_tables": tables.memory})


def lower_avgpool(node: Node, graph: Graph) -> Node:
    x, y = graph.tensors[node.inputs[0]], graph.tensors[node.output]
    channels = x.shape[0]
    conn = _window(node)
    conn["group"] = channels
    kh, kw = conn["kernel"]
    valid = connections.valid_window_mask(x.shape[1:], conn).sum(axis=(0, 1))  # taps inside, [Ho, Wo]
    count = np.full_like(valid, kh * kw) if node.attrs.get("count_include_pad") else valid
    return stem_node(node.name, node.inputs, y, [conn], [np.ones((channels, 1, kh, kw))], -x.zero_point * valid,
                     x.scale / (y.scale * count), node.attrs.get("clamp", (0, CODE_MAX)))


def lower_pools(graph: Graph, target: Target, options: Options) -> Graph:
    graph = graph.copy()
    nodes = []
    for node in graph.nodes:
        if node.op == MAXPOOL:
            nodes.extend(lower_maxpool(node, graph))
        elif node.op == AVGPOOL:
            nodes.append(float32_pool(node, graph, target, options) or lower_avgpool(node, graph))
        else:
            nodes.append(node)
    graph.nodes = nodes
    return graph


PASS = Pass("lower-pools", lower_pools, "MaxPool to bit-serial max neurons, average pooling to fixed-weight STEM")
