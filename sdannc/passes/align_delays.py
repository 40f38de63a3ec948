"""Make the inputs of every node arrive in the same 8-tick window.

Each neuron layer takes one window (8 ticks); a residual branch that skips layers reaches the Add
early. Relays (identity STEM neurons) on the shorter path delay it by whole windows, so that the
Add sees the same sample on both inputs (SDANN 3.4's pipelining then holds for any graph).
"""

from __future__ import annotations

from ..ir.depths import latency
from ..ir.graph import Graph, Tensor
from ..target import Target
from .base import Options, Pass, fresh_name, identity_stem


def align_delays(graph: Graph, target: Target, options: Options) -> Graph:
    graph = graph.copy()
    depth = {graph.input: 0}
    nodes = []
    for node in graph.nodes:
        deepest = max(depth[i] for i in node.inputs)
        inputs = []
        for name in node.inputs:
            for step in range(deepest - depth[name]):
                src = graph.tensors[name]
                relay = Tensor(fresh_name(graph, f"{name}_delay"), src.shape, src.scale, src.zero_point)
                graph.tensors[relay.name] = relay
                nodes.append(identity_stem(graph, name, f"{node.name}/delay{step}", relay))
                depth[relay.name] = depth[name] + 1
                name = relay.name
            inputs.append(name)
        node.inputs = inputs
        nodes.append(node)
        depth[node.output] = deepest + latency(node.op)
    graph.nodes = nodes
    if any(n.name.endswith("/delay0") for n in nodes):
        graph.notes.append("align-delays: relays inserted where inputs of a layer arrive in different windows")
    return graph


PASS = Pass("align-delays", align_delays, "relay neurons so that every layer's inputs arrive in the same window")
