"""Measured running sums for scaled integration with --calib.

Runs the lowered graph (before scaled integration) on calibration input codes, with exact integer
sums and the real (floating) requantization, and records per layer the largest |running sum| each
integration scheme reaches: a tighter bound than the worst case, so that fewer low bits are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Measured:
    """The largest |partial sum| a layer's accumulator held on the calibration inputs."""

    horner: int  # acc = 2 acc + sum, the bias added at the end
    weighted: np.ndarray  # per neuron: acc = bias + sum of 2^(7 - tick) x sum, the bias its start value


def _stem_sums(node, inputs, out_shape) -> tuple[np.ndarray, Measured]:
    """Exact final sums (bias included), and the largest partial sums of both integration schemes."""
    bias = node.params["bias"]
    acc = np.zeros((inputs[0].shape[0],) + tuple(out_shape), dtype=np.int64)
    horner, weighted = 0, np.zeros(tuple(out_shape), dtype=np.int64)
    sums = plane_sums(node, inputs, out_shape)
    for bit in range(CODE_BITS):
        acc = acc * 2 + sums[bit]
        horner = max(horner, int(np.abs(acc).max(initial=0)))
        weighted = np.maximum(weighted, np.abs(acc * (1 << (CODE_BITS - 1 - bit)) + bias).max(axis=0))
    acc = acc + bias
    return acc, Measured(max(horner, int(np.abs(acc).max(initial=0))), weighted)


def measured_sums(graph: Graph, target: Target, calib: np.ndarray, where: str) -> dict[str, Measured]:
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
