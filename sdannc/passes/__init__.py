"""The compiler's passes, in the order they run. Each is a small function from IR to IR."""

from __future__ import annotations

from typing import Callable

from ..ir.graph import Graph
from ..ir.verify import verify
from ..target import Target
from . import align_delays, coding, bias_calibration, lower_elementwise, lower_linear, lower_mul, lower_pools, lower_unary, requantize, scaled_integration, sparsify
from .base import Options, Pass

PIPELINE: list[Pass] = [
    lower_linear.PASS,
    lower_pools.PASS,
    lower_elementwise.PASS,
    lower_unary.PASS,
    lower_mul.PASS,
    sparsify.PASS,
    align_delays.PASS,
    scaled_integration.PASS,
    bias_calibration.PASS,
    requantize.PASS,
    coding.PASS,
]
STEP_NAMES = ["frontend"] + [p.name for p in PIPELINE]


def run_pipeline(graph: Graph, target: Target, options: Options | None = None, stop_after: str | None = None,
                 observe: Callable[[str, Graph], None] | None = None) -> Graph:
    """Run the passes in order, verifying the IR after each; `observe(step, graph)` sees every step."""
    options = options or Options()
    verify(graph, "frontend")
    if observe:
        observe("frontend", graph)
    if stop_after == "frontend":
        return graph
    for p in PIPELINE:
        graph = verify(p.run(graph, target, options), p.name)
        if observe:
            observe(p.name, graph)
        if stop_after == p.name:
            break
    return graph


__all__ = ["PIPELINE", "STEP_NAMES", "Options", "Pass", "run_pipeline"]
