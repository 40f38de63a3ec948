"""Which core and neuron hold each tensor element.

Every element the chip sends a spike for is either an input element (fed by the controller) or a
neuron of a layer; each gets one number, its element id. Reshape, transpose, concat and gather only rename
elements (a gather may drop some and repeat others), so every tensor of the graph is an array of element ids, and one (core, neuron) array
over the ids says where any tensor's elements live.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SdanncError
from ..ir.graph import Graph
from ..ir.ops import CONCAT, GATHER, RESHAPE, TRANSPOSE
from ..neurons import NEURON_OPS
from .partition import local_index

INPUT = -1  # the core of an element that comes from the input (through the controller)
SILENT = -1  # the element id of a gather's padding: code 0, no spikes, so no link carries it


def through_aliases(graph: Graph, produced: dict[str, tuple]) -> dict[str, tuple]:
    """Per-element arrays given for the graph's input and every neuron layer's output, carried to
    every tensor: reshape, transpose and concat only rename elements."""
    values = dict(produced)
    for node in graph.nodes:
        if node.op in NEURON_OPS:
            continue
        if node.op == RESHAPE:
            values[node.output] = values[node.inputs[0]]
        elif node.op == TRANSPOSE:
            src = graph.tensors[node.inputs[0]]
            values[node.output] = tuple(a.reshape(src.shape).transpose(node.attrs["perm"]).reshape(-1)
                                        for a in values[node.inputs[0]])
        elif node.op == GATHER:  # index -1: an element of code 0, which no neuron sends (SILENT)
            index = node.params["index"].reshape(-1)
            values[node.output] = tuple(np.where(index >= 0, a[np.maximum(index, 0)], SILENT)
                                        for a in values[node.inputs[0]])
        elif node.op == CONCAT:
            parts = [tuple(a.reshape(graph.tensors[i].shape) for a in values[i]) for i in node.inputs]
            values[node.output] = tuple(np.concatenate([p[k] for p in parts], axis=node.attrs["axis"]).reshape(-1)
                                        for k in range(len(parts[0])))
        else:
            raise SdanncError(f"layer {node.name}: op {node.op} reached the backend unlowered (a compiler bug)")
    return values


@dataclass
class ElementIds:
    """A number for every element of the input and of each neuron layer's output."""

    first: dict[str, int]  # the first id of the input's and of each neuron layer output's elements
    count: int  # how many ids there are
    of: dict[str, np.ndarray]  # every tensor's elements as ids


def element_ids(graph: Graph) -> ElementIds:
    first, count = {}, 0
    for name in [graph.input] + [node.output for node in graph.nodes if node.op in NEURON_OPS]:
        first[name], count = count, count + graph.tensors[name].size
    produced = {name: (start + np.arange(graph.tensors[name].size, dtype=np.int64),) for name, start in first.items()}
    return ElementIds(first, count, {name: ids for name, (ids,) in through_aliases(graph, produced).items()})


def locate(graph: Graph, ids: ElementIds, layers: dict) -> tuple[np.ndarray, np.ndarray]:
    """(image core, local neuron) of every element id, once the layers' cores are numbered; core
    INPUT and the element itself for the graph's input."""
    core = np.empty(ids.count, dtype=np.int64)
    index = np.empty(ids.count, dtype=np.int64)
    size = graph.tensors[graph.input].size
    core[:size], index[:size] = INPUT, np.arange(size, dtype=np.int64)
    for output, layer in layers.items():
        start, shape = ids.first[output], graph.tensors[output].shape
        for tile, c in zip(layer.tiles, layer.cores):
            flat, local = local_index(tile, shape)
            core[start + flat], index[start + flat] = c, local
    return core, index


def neuron_addresses(graph: Graph, layers: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every tensor's elements as (image core, local neuron) arrays, once the layers are numbered
    (build_image): where the simulator finds a tensor's codes (core INPUT for the graph's input)."""
    ids = element_ids(graph)
    core, index = locate(graph, ids, layers)
    return {name: (core[a], index[a]) for name, a in ids.of.items()}
