"""The schedule: one window per neuron layer, pipelined. A layer's cores run in the window of its
depth (neuron layers from the input); the output is read in the last window. A window is as long
as one code takes in the graph's coding (ir/codes.WINDOW_TICKS: 8 ticks for stem, 256 for ttfs,
255 for rate), and a new sample starts every window."""

from __future__ import annotations

from ..image import Schedule
from ..ir.codes import WINDOW_TICKS
from ..ir.depths import depths
from ..ir.graph import Graph


def stage_cores(graph: Graph, layers: dict) -> None:
    """Each tile's core learns its layer's name and window."""
    depth = depths(graph)
    for layer in layers.values():
        for core in layer.builders:
            core.stage, core.layer = depth[layer.node.output], layer.node.name


def schedule(graph: Graph) -> Schedule:
    window = WINDOW_TICKS[graph.coding]
    return Schedule(bits=window, sample_interval=window, output_offset=window * depths(graph)[graph.output] - 1,
                    coding=graph.coding)
