"""Quantized unary activations (the frontend's `unary`: Sigmoid, Tanh, HardSwish, LeakyRelu, SiLU,
...) -> lookup neurons (`lut`, isa/programs/lut_neuron.s): the input on one elementwise dendrite
of weight 1, the table (clamped as a following Relu / Clip clamps) in the core's lookup memory.

Where the activation's input is a STEM or Add layer that nothing else reads (a Conv, Gemm or Add
followed by its activation), the table is fused into that layer instead (its param `table`: the
program's last step, output_code.inc's `lut`): the layer computes its own code exactly as before
and sends table[code], so the result is the same, one layer (its neurons, cores and 8 ticks)
cheaper.

A table maps 256 codes to 256 codes, so it is exact whatever the target's widths; the table must
fit the target's lookup memory (`core.lut_words`)."""

from __future__ import annotations

import numpy as np

from ..errors import SdanncError
from ..ir.codes import CODE_MAX
from ..ir.graph import Graph, Node
from ..ir.ops import ADDER, LUT, STEM, UNARY
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


def _fusable(graph: Graph, node: Node, others: list[Node]) -> Node | None:
    """The STEM or Add layer (among `others`, the graph's other nodes) whose code the unary node
    reads and nothing else does, if any."""
    x = node.inputs[0]
    producer = next((n for n in others if n.output == x), None)
    if producer is None or producer.op not in (STEM, ADDER) or "table" in producer.params or x == graph.output:
        return None
    if any(x in n.inputs for n in others):
        return None
    return producer


def lower_unary(graph: Graph, target: Target, options: Options) -> Graph:
    graph = graph.copy()
    original, nodes = list(graph.nodes), []
    for i, node in enumerate(original):
        if node.op != UNARY:
            nodes.append(node)
            continue
        lut = lut_node(node, graph, target, options)
        producer = _fusable(graph, node, nodes + original[i + 1:])
        if producer is None:
            nodes.append(lut)
            continue
        nodes[next(k for k, n in enumerate(nodes) if n is producer)] = Node(
            name=producer.name, op=producer.op, inputs=list(producer.inputs), output=node.output,
            attrs=dict(producer.attrs), params=dict(producer.params, table=lut.params["table"]))
        del graph.tensors[node.inputs[0]]
        graph.notes.append(f"lower-unary: {node.name}: the activation's table is fused into {producer.name}")
    graph.nodes = nodes
    return graph


PASS = Pass("lower-unary", lower_unary, "quantized unary activations (tables of 256 codes) to lookup neurons")
