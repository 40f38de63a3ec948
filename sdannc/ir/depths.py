"""How many 8-tick windows after the input each tensor's codes arrive: the pipelining of SDANN 3.4,
which delay alignment (passes/align_delays.py) enforces and the backend's schedule reads."""

from __future__ import annotations

from .graph import Graph
from .ops import NEURON_OPS


def latency(op: str) -> int:
    """Windows a node of `op` adds: one per neuron layer, none for a data move."""
    return 1 if op in NEURON_OPS else 0


def depths(graph: Graph) -> dict[str, int]:
    """Windows from the input to each tensor: one per neuron layer on the way."""
    depth = {graph.input: 0}
    for node in graph.nodes:
        deepest = max(depth[i] for i in node.inputs)
        depth[node.output] = deepest + latency(node.op)
    return depth
