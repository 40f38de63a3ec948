"""Measured running sums for scaled integration with --calib.

Runs the lowered graph (before scaled integration) on calibration input codes, with exact integer
sums and the real (floating) requantization, and records per layer the largest |running sum| the shift-and-add
reaches: a tighter bound than the worst case, so that fewer low bits are dropped.
"""

from __future__ import annotations

import numpy as np

from .. import sparsify
from ..inputs import check_batch
from ..ir.codec import encode_input
from ..ir.codes import CODE_BITS
from ..ir.evaluate import walk
from ..ir.graph import Graph
from ..ir.ops import STEM
from ..neurons import golden_op
from ..neurons.common import plane_sums
from ..target import Target


def _stem_sums(node, inputs, out_shape) -> tuple[np.ndarray, float]:
    """Exact final sums (bias included), and the largest |partial sum| of the MSB-first accumulation."""
    acc = np.zeros((inputs[0].shape[0],) + tuple(out_shape), dtype=np.int64)
    largest = 0
    sums = plane_sums(node, inputs, out_shape)
    for bit in range(CODE_BITS):
        acc = acc * 2 + sums[bit]
        largest = max(largest, int(np.abs(acc).max(initial=0)))
    acc = acc + node.params["bias"]
    return acc, max(largest, int(np.abs(acc).max(initial=0)))


def measured_sums(graph: Graph, target: Target, calib: np.ndarray, where: str) -> dict[str, int]:
    check_batch(calib, graph.tensors[graph.input].shape, "calibration input", f"the input of model {where}",
                graph.input_encode, at_least=1)
    sums = {}

    def apply(node, inputs, shape, arith) -> np.ndarray:  # STEM layers exactly, recording their sums
        if node.op != STEM:
            return golden_op(node, inputs, shape, arith)
        acc, sums[node.name] = _stem_sums(node, inputs, shape)
        y = np.rint(acc * node.params["real_multiplier"]).astype(np.int64) + node.attrs["zero_point"]
        return sparsify.emitted_codes(y, node.attrs)

    walk(graph, {graph.input: encode_input(calib, graph.input_encode).astype(np.int64)}, target.arith, apply)
    return sums
