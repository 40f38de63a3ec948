"""Synaptic operations per spike: for every (source tensor, receiving layer), how many synapses one
spike of each source element reaches, summed over the tiles (cores) of the layer.

A spike delivered to a dendrite costs one synaptic operation per entry of the dendrite's list,
zero weights included (the dendrite unit walks the whole list): the simulator's count. With these
numbers the golden model predicts the simulator's SOPs exactly (sdannc/activity.py).
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Graph


def synapse_counts(graph: Graph, layers: dict) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Receiving layer name -> [(source tensor, synapses per source element)]."""
    counts: dict[str, dict[str, np.ndarray]] = {}
    for layer in layers.values():
        per_source = counts.setdefault(layer.node.name, {})
        for builder, tile_links in zip(layer.builders, layer.links):
            lengths = builder.dendrite_lengths()
            for source, link in tile_links:
                total = per_source.setdefault(source, np.zeros(graph.tensors[source].size, dtype=np.int64))
                np.add.at(total, link.element, lengths[link.dendrite])
    return {name: list(sources.items()) for name, sources in counts.items()}


def layer_synapses(layer) -> int:
    """All synapses of one layer's cores: the multiply-accumulates per sample a quantized ANN does
    for it (each weight applied to each input it sees, border taps excluded)."""
    total = 0
    for builder, tile_links in zip(layer.builders, layer.links):
        lengths = builder.dendrite_lengths()  # once per tile, not per input
        total += sum(int(lengths[link.dendrite].sum()) for _, link in tile_links)
    return total
