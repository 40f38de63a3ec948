"""Synaptic operations per spike: for every (source tensor, receiving layer), how many synapses one
spike of each source element reaches, summed over the tiles (cores) of the layer.

A spike delivered to a dendrite costs one synaptic operation per entry of the dendrite's list,
zero weights included (the dendrite unit walks the whole list): the simulator's count. With these
numbers the golden model predicts the simulator's SOPs exactly (sdannc/activity.py).
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph


def _per_link(layer) -> np.ndarray:
    """Each of the layer's links' synapses: the length of the dendrite it reaches (tile by tile, as
    the lengths are per core)."""
    links = layer.links
    out = np.empty(links.dendrite.size, dtype=np.int64)
    for t, builder in enumerate(layer.builders):
        a, b = int(links.tile_start[t]), int(links.tile_start[t + 1])
        out[a:b] = builder.dendrite_lengths()[links.dendrite[a:b]]
    return out


def synapse_counts(graph: Graph, layers: dict) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Receiving layer name -> [(source tensor, synapses per source element)]."""
    counts: dict[str, dict[str, np.ndarray]] = {}
    for layer in layers.values():
        per_source = counts.setdefault(layer.node.name, {})
        synapses = _per_link(layer)
        for i, source in enumerate(layer.node.inputs):
            total = per_source.setdefault(source, np.zeros(graph.tensors[source].size, dtype=np.int64))
            mine = layer.links.input == i
            np.add.at(total, layer.links.element[mine], synapses[mine])
    return {name: list(sources.items()) for name, sources in counts.items()}


def layer_synapses(layer) -> int:
    """All synapses of one layer's cores: the multiply-accumulates per sample a quantized ANN does
    for it (each weight applied to each input it sees, border taps excluded)."""
    return int(_per_link(layer).sum())
