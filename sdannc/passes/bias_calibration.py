"""Bias calibration (SDANN 3.1): keep each stored bias inside the register width.

A neuron's bias is stored in a register-wide state field. Where it does not fit, its high part
moves into the accumulator's starting value, which the 8 doublings of the shift-and-add multiply
by 256: bias = init * 256 + rest, with both parts in range. With weighted integration nothing
doubles: the bias is the starting value itself (so that partial sums are measured from it), and one
beyond the register starts the accumulator saturated, where its output is clamped whatever the sum.
"""

from __future__ import annotations

import numpy as np

from ..errors import SdanncError
from ..arith import saturate
from ..ir.codes import CODE_BITS
from ..ir.graph import Graph
from ..ir.ops import STEM
from ..neurons.stem import EXACT, WEIGHTED
from ..target import Target
from .base import Options, Pass


def bias_calibration(graph: Graph, target: Target, options: Options) -> Graph:
    graph = graph.copy()
    limit = 1 << (target.arith["register_bits"] - 1)
    for node in graph.nodes:
        if node.op != STEM:
            continue
        bias = node.params["bias"]
        if node.attrs.get("integration") == WEIGHTED:
            node.params["init"], node.params["bias"] = saturate(bias, target.arith["register_bits"]), np.zeros_like(bias)
            continue
        init = np.zeros_like(bias)
        if node.attrs.get("integration") == EXACT:  # the bias goes into the thresholds, at 32 bits
            node.params["init"] = init
            continue
        if np.abs(bias).max(initial=0) >= limit:
            init = np.floor_divide(bias, 1 << CODE_BITS)
            bias = bias - init * (1 << CODE_BITS)
            if np.abs(init).max(initial=0) >= limit:
                raise SdanncError(f"layer {node.name}: bias {int(np.abs(node.params['bias']).max())} is too large "
                                  f"even split over the accumulator: try the wide target")
            graph.notes.append(f"bias-calibration: {node.name}: biases beyond {target.arith['register_bits']} bits "
                               f"split into a starting value x 256 plus a remainder")
        node.params["bias"], node.params["init"] = bias, init
    return graph


PASS = Pass("bias-calibration", bias_calibration, "split biases too wide for a register (SDANN 3.1)")
