"""Run a hardware-level IR graph on code arrays with the golden ops.

`walk` is the one loop over a graph's nodes: the golden model, the measured sums of --calib
(passes/measure.py) and the tuner's re-runs (tune.py) differ only in how a node is applied and
where the walk starts.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..ir.codec import decode_output, encode_input
from ..inputs import check_batch
from ..ir.graph import Graph, Node
from .ops import OPS

# (node, its inputs' codes, its output's shape, the target's arith) -> its output's codes
Apply = Callable[[Node, list, tuple, dict], np.ndarray]


def golden_op(node: Node, inputs: list[np.ndarray], shape: tuple, arith: dict) -> np.ndarray:
    """The node's golden op on its inputs' codes."""
    op = OPS.get(node.op)
    if op is None:
        raise ValueError(f"golden model has no op {node.op!r} (node {node.name}): lower the graph first")
    return op(node, inputs, shape, arith)


def walk(graph: Graph, values: dict[str, np.ndarray], arith: dict, start: int = 0,
         apply: Apply = golden_op) -> dict[str, np.ndarray]:
    """Every tensor's codes: those of `values` (the input's, or every tensor's before node `start`)
    and the outputs of graph.nodes[start:], each made by `apply`. `values` is not changed."""
    values = dict(values)
    for node in graph.nodes[start:]:
        values[node.output] = apply(node, [values[i] for i in node.inputs], graph.tensors[node.output].shape, arith)
    return values


def run_codes(graph: Graph, codes: np.ndarray, arith: dict, keep: bool = False) -> dict[str, np.ndarray] | np.ndarray:
    """Input codes [batch, *shape] -> output codes (or every tensor's codes, with keep=True)."""
    values = walk(graph, {graph.input: codes.astype(np.int64)}, arith)
    return values if keep else values[graph.output]


def check_input(graph: Graph, x: np.ndarray, name: str) -> None:
    check_batch(x, graph.tensors[graph.input].shape, f"input {name}", "the model's input", graph.input_encode)


def run(graph: Graph, x: np.ndarray, arith: dict, name: str = "input") -> np.ndarray:
    """The user's input batch -> the graph's output, encoded and decoded as the chip image does."""
    check_input(graph, x, name)
    codes = encode_input(x, graph.input_encode).reshape(x.shape)
    out = run_codes(graph, codes, arith)
    return decode_output(out.reshape(out.shape[0], -1), graph.output_decode).reshape(out.shape)
