"""Add -> a STEM neuron with two inputs; an explicit Relu/Clip -> a clamping relay; Concat inputs
of another scale -> requantizing relays, so that Concat itself only moves data.

For Add the two inputs' weights approximate the ratio of their scales within the weight width:
the larger gets the largest weight, the other the nearest integer to keep the ratio (docs/exactness.md).
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph, Node, Tensor
from ..target import Target
from .base import Options, Pass, fresh_name, identity_stem, stem_node


def add_weights(ratio_a: float, ratio_b: float, weight_bits: int) -> tuple[int, int, float]:
    """Integer weights (wa, wb) and a multiplier m with wa * m ~ ratio_a and wb * m ~ ratio_b."""
    top = (1 << (weight_bits - 1)) - 1
    big = max(ratio_a, ratio_b)
    m = big / top
    return max(1, round(ratio_a / m)), max(1, round(ratio_b / m)), m


def lower_add(node: Node, graph: Graph, target: Target) -> Node:
    a, b = (graph.tensors[i] for i in node.inputs)
    y = graph.tensors[node.output]
    wa, wb, m = add_weights(a.scale / y.scale, b.scale / y.scale, target.arith["weight_bits"])
    one = (1,) * len(y.shape)
    return stem_node(node.name, node.inputs, y, [{"kind": "elementwise"}] * 2, [np.full(one, wa), np.full(one, wb)],
                     -(wa * a.zero_point + wb * b.zero_point), m, node.attrs.get("clamp", (0, 255)))


def _requantized_inputs(node: Node, graph: Graph) -> tuple[list[Node], Node]:
    out = graph.tensors[node.output]
    relays, inputs = [], []
    for i, name in enumerate(node.inputs):
        t = graph.tensors[name]
        if (t.scale, t.zero_point) == (out.scale, out.zero_point):
            inputs.append(name)
            continue
        relay = Tensor(fresh_name(graph, f"{name}_requant"), t.shape, out.scale, out.zero_point)
        graph.tensors[relay.name] = relay
        relays.append(identity_stem(graph, name, f"{node.name}/requant{i}", relay))
        inputs.append(relay.name)
    node.inputs = inputs
    return relays, node


def lower_elementwise(graph: Graph, target: Target, options: Options) -> Graph:
    graph = graph.copy()
    nodes = []
    for node in graph.nodes:
        if node.op == "add":
            nodes.append(lower_add(node, graph, target))
        elif node.op == "clamp":
            relay = identity_stem(graph, node.inputs[0], node.name, graph.tensors[node.output], node.attrs["clamp"])
            nodes.append(relay)
        elif node.op == "concat":
            relays, node = _requantized_inputs(node, graph)
            nodes.extend(relays + [node])
        else:
            nodes.append(node)
    graph.nodes = nodes
    return graph


PASS = Pass("lower-elementwise", lower_elementwise, "Add, explicit clamps and Concat requantization to STEM neurons")
