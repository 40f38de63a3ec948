"""Scaled integration (SDANN 3.2): keep the running sum inside the accumulator.

The STEM accumulator doubles each tick and adds the tick's dendrite sum shifted right by k, so its
final value is about sum / 2^k. k is the smallest shift for which the worst case (or, with --calib,
the largest value measured on the calibration inputs, with a margin) fits the register; the bias is
scaled by the same 2^k and the requantization multiplier grows by 2^k to make up for it.
"""

from __future__ import annotations

import numpy as np

from ..errors import SdanncError
from ..ir import connections
from ..ir.codes import CODE_BITS, CODE_MAX
from ..ir.graph import Graph, Node
from ..ir.ops import STEM
from ..target import Target
from .base import Options, Pass
from .measure import measured_sums

MEASURED_MARGIN = 1.25  # headroom over the largest sum seen on the calibration inputs


def _abs_weight_sum(node: Node, graph: Graph) -> np.ndarray:
    """Per neuron: the sum of |w| over everything it listens to (worst case per input code = 1)."""
    out_shape = graph.tensors[node.output].shape
    total = np.zeros(out_shape, dtype=np.int64)
    for i, (conn, name) in enumerate(zip(node.attrs["connections"], node.inputs)):
        total += connections.weight_sums(conn, node.params[f"weight{i}"], graph.tensors[name].shape, out_shape,
                                         absolute=True)
    return total


def worst_case(node: Node, graph: Graph) -> tuple[int, int]:
    """(largest |final sum + bias|, largest |dendrite sum in one tick|) over all inputs."""
    per_tick = _abs_weight_sum(node, graph)
    final = CODE_MAX * per_tick + np.abs(node.params["bias"])
    return int(final.max(initial=0)), int(per_tick.max(initial=0))


def choose_shift(bound: int, register_bits: int) -> int:
    """Smallest k with bound / 2^k (plus the rounding of 8 shifted ticks) inside the register."""
    limit = (1 << (register_bits - 1)) - 1
    k = 0
    while (bound >> k) + (1 << CODE_BITS) > limit and k < 31:
        k += 1
    return k


def scaled_integration(graph: Graph, target: Target, options: Options) -> Graph:
    graph = graph.copy()
    reg = target.arith["register_bits"]
    measured = measured_sums(graph, target, options.calib, options.model) if options.calib is not None else {}
    for node in graph.nodes:
        if node.op != STEM:
            continue
        bound, per_tick = worst_case(node, graph)
        adder = target.arith["dendrite_sum_bits"]
        if per_tick >= 1 << (adder - 1):
            raise SdanncError(f"layer {node.name}: fan-in too large: one tick's dendrite sum can reach {per_tick}, "
                              f"the {adder}-bit dendrite adder holds {(1 << (adder - 1)) - 1}: "
                              f"use fewer input channels or a target with a wider adder")
        source = "worst case"
        if node.name in measured:
            bound, source = int(measured[node.name] * MEASURED_MARGIN), "measured on --calib"
        k = choose_shift(bound, reg)
        node.attrs["acc_shift"] = k
        node.attrs["acc_bits"] = max(bound, 1).bit_length() + 1
        if k:
            node.params["bias"] = (node.params["bias"] + (1 << (k - 1))) >> k
            node.params["real_multiplier"] = node.params["real_multiplier"] * (1 << k)
            graph.notes.append(f"scaled-integration: {node.name}: sums need {node.attrs['acc_bits']} bits "
                               f"({source}), accumulator {reg}: each tick's sum shifted right by {k}")
    return graph


PASS = Pass("scaled-integration", scaled_integration, "shift each tick's sum so the accumulator cannot overflow")
