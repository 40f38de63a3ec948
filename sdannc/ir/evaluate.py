"""Evaluating a hardware-level graph on code arrays [batch, *shape] (int64).

`walk` is the one loop over a graph's nodes: the golden model (golden/), the measured sums of
--calib (passes/measure.py) and the tuner's re-runs (tune.py) differ only in how a node is applied
and where the walk starts. The data moves are defined by the IR itself, so they are here; what a
neuron op computes is its model's (sdannc/neurons, which joins both in `golden_op`).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .graph import Graph, Node
from .ops import CONCAT, GATHER, RESHAPE, TRANSPOSE

# (node, its inputs' codes, its output's shape, the target's arith) -> its output's codes
Apply = Callable[[Node, list, tuple, dict], np.ndarray]


def walk(graph: Graph, values: dict[str, np.ndarray], arith: dict, apply: Apply,
         start: int = 0) -> dict[str, np.ndarray]:
    """Every tensor's codes: those of `values` (the input's, or every tensor's before node `start`)
    and the outputs of graph.nodes[start:], each made by `apply`. `values` is not changed."""
    values = dict(values)
    for node in graph.nodes[start:]:
        values[node.output] = apply(node, [values[i] for i in node.inputs], graph.tensors[node.output].shape, arith)
    return values


def reshape(node: Node, inputs, out_shape, arith) -> np.ndarray:
    return inputs[0].reshape((inputs[0].shape[0],) + tuple(out_shape))


def transpose(node: Node, inputs, out_shape, arith) -> np.ndarray:
    return inputs[0].transpose((0,) + tuple(1 + a for a in node.attrs["perm"]))


def concat(node: Node, inputs, out_shape, arith) -> np.ndarray:
    return np.concatenate(inputs, axis=1 + node.attrs["axis"])


def gather(node: Node, inputs, out_shape, arith) -> np.ndarray:
    """Output element k is input element index[k]; index -1 is code 0 (a Pad: no spikes at all)."""
    flat = inputs[0].reshape(inputs[0].shape[0], -1)
    index = node.params["index"].reshape(-1)
    out = np.where(index >= 0, flat[:, np.maximum(index, 0)], 0)
    return out.reshape((flat.shape[0],) + tuple(out_shape))


DATA_MOVES: dict[str, Apply] = {RESHAPE: reshape, TRANSPOSE: transpose, CONCAT: concat, GATHER: gather}
