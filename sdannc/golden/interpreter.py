"""Run a hardware-level IR graph on code arrays with the golden ops."""

from __future__ import annotations

import numpy as np

from ..errors import SdanncError
from ..image.codec import decode_output, encode_input, input_dtype_ok
from ..ir.graph import Graph
from .ops import OPS


def run_codes(graph: Graph, codes: np.ndarray, arith: dict, keep: bool = False) -> dict[str, np.ndarray] | np.ndarray:
    """Input codes [batch, *shape] -> output codes (or every tensor's codes, with keep=True)."""
    values = {graph.input: codes.astype(np.int64)}
    for node in graph.nodes:
        op = OPS.get(node.op)
        if op is None:
            raise ValueError(f"golden model has no op {node.op!r} (node {node.name}): lower the graph first")
        values[node.output] = op(node, [values[i] for i in node.inputs], graph.tensors[node.output].shape, arith)
    return values if keep else values[graph.output]


def check_input(graph: Graph, x: np.ndarray, name: str) -> None:
    shape = graph.tensors[graph.input].shape
    if x.ndim < 1 or tuple(x.shape[1:]) != tuple(shape):
        raise SdanncError(f"input {name}: shape {tuple(x.shape)} does not match the model's input "
                          f"(batch, {', '.join(map(str, shape))})")
    if not input_dtype_ok(graph.input_encode, x.dtype):
        raise SdanncError(f"input {name}: dtype {x.dtype} does not suit the model's input ({graph.input_encode['kind']})")


def run(graph: Graph, x: np.ndarray, arith: dict, name: str = "input") -> np.ndarray:
    """The user's input batch -> the graph's output, encoded and decoded as the chip image does."""
    check_input(graph, x, name)
    codes = encode_input(x, graph.input_encode).reshape(x.shape)
    out = run_codes(graph, codes, arith)
    return decode_output(out.reshape(out.shape[0], -1), graph.output_decode).reshape(out.shape)
