"""The schedule: one window of CODE_BITS ticks per neuron layer, pipelined. A layer's cores run in
the window of its depth (neuron layers from the input); the output is read in the last window."""

from __future__ import annotations

from ..image import Schedule
from ..ir.codes import CODE_BITS
from ..ir.depths import depths
from ..ir.graph import Graph


def stage_cores(graph: Graph, layers: dict) -> None:
    """Each tile's core learns its layer's name and window."""
    depth = depths(graph)
    for layer in layers.values():
        for core in layer.builders:
            core.stage, core.layer = depth[layer.node.output], layer.node.name


def schedule(graph: Graph) -> Schedule:
    return Schedule(bits=CODE_BITS, sample_interval=CODE_BITS, output_offset=CODE_BITS * depths(graph)[graph.output] - 1)


