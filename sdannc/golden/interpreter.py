"""Run a hardware-level IR graph on code arrays with the golden ops (neurons.golden_op): the loop
is ir/evaluate.walk, shared with the --calib measurement and the tuner."""

from __future__ import annotations

import numpy as np

from ..inputs import check_batch
from ..ir.codec import decode_output, encode_input
from ..ir.evaluate import walk
from ..ir.graph import Graph
from ..neurons import golden_op


def run_codes(graph: Graph, codes: np.ndarray, arith: dict, keep: bool = False) -> dict[str, np.ndarray] | np.ndarray:
    """Input codes [batch, *shape] -> output codes (or every tensor's codes, with keep=True)."""
    values = walk(graph, {graph.input: codes.astype(np.int64)}, arith, golden_op)
    return values if keep else values[graph.output]


def check_input(graph: Graph, x: np.ndarray, name: str) -> None:
    check_batch(x, graph.tensors[graph.input].shape, f"input {name}", "the model's input", graph.input_encode)


def run(graph: Graph, x: np.ndarray, arith: dict, name: str = "input") -> np.ndarray:
    """The user's input batch -> the graph's output, encoded and decoded as the chip image does."""
    check_input(graph, x, name)
    codes = encode_input(x, graph.input_encode).reshape(x.shape)
    out = run_codes(graph, codes, arith)
    return decode_output(out.reshape(out.shape[0], -1), graph.output_decode).reshape(out.shape)
