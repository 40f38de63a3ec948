"""Quantized unary activations (the frontend's `unary`: Sigmoid, Tanh, HardSwish, LeakyRelu, SiLU,
...) -> lookup neurons (`lut`, isa/programs/lut_neuron.s): the input on one elementwise dendrite
of weight 1, the table (clamped as a following Relu / Clip clamps) in the core's lookup memory.

A table maps 256 codes to 256 codes, so it is exact whatever the target's widths; the table must
fit the target's lookup memory (`core.lut_words`)."""

from __future__ import annotations

import numpy as np

from ..errors import SdanncError
from ..ir.codes import CODE_MAX
from ..ir.graph import Graph, Node
from ..ir.ops import LUT, UNARY
from ..target import Target
from .base import Options, Pass


def lut_node(node: Node, graph: Graph, target: Target, options: Options) -> Node:
    table = np.asarray(node.params["table"], dtype=np.int64)
    words = target.core["lut_words"]
    if table.size > words:
        raise SdanncError(f"model {options.model}: node {node.name}: its activation is a table of {table.size} codes, "
                          f"the target's lookup memory holds {words} words (core.lut_words)")
    low, high = node.attrs.get("clamp", (0, CODE_MAX))
    one = (1,) * len(graph.tensors[node.output].shape)
    return Node(name=node.name, op=LUT, inputs=list(node.inputs), output=node.output,
                attrs={"connections": [{"kind": "elementwise"}]},
                params={"weight0": np.ones(one, dtype=np.int64), "table": np.clip(table, low, high)})


def lower_unary(graph: Graph, target: Target, options: Options) -> Graph:
    graph = graph.copy()
    graph.nodes = [lut_node(n, graph, target, options) if n.op == UNARY else n for n in graph.nodes]
    return graph


PASS = Pass("lower-unary", lower_unary, "quantized unary activations (tables of 256 codes) to lookup neurons")
