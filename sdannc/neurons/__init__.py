"""The neuron models, one module each, and their registry.

Each module holds everything about one model (common.NeuronModel): its golden arithmetic, its
program (a template under isa/programs with its state and configuration layouts), how a core is
set up for a layer of it, and its report label. The golden interpreter, the passes and the backend
ask `NEURONS[node.op]`; which ops are neuron layers and which can sparsify follow from it. Adding a
model is a module here, a line below, its op's name and spec in ir/ops.py, its template, and a pass
that lowers to it (docs/compiler.md).

`golden_op` is the integer semantics of any hardware-level node: its model's `compute`, or the
IR's data move (ir/evaluate.py); the golden model, the --calib measurement and the tuner apply it.
"""

from __future__ import annotations

import numpy as np

from ..ir.evaluate import DATA_MOVES
from ..ir.graph import Node
from . import adder, float32_pool, integrate_and_fire, lut, max, multiply, stem, ttfs
from . import rate_add, rate_linear, rate_lut, rate_max, rate_mul, ttfs_add, ttfs_linear, ttfs_lut, ttfs_max, ttfs_mul
from .common import NeuronModel

NEURONS: dict[str, NeuronModel] = {m.MODEL.op: m.MODEL for m in (
    stem, adder, max, lut, multiply, float32_pool, integrate_and_fire, ttfs,
    ttfs_linear, ttfs_max, ttfs_add, ttfs_lut, ttfs_mul, rate_linear, rate_max, rate_add, rate_lut, rate_mul)}  # codings: docs/codings.md

NEURON_OPS = tuple(NEURONS)  # the ops whose nodes are neuron layers (each takes cores of its own)
SPARSIFIABLE_OPS = tuple(op for op, model in NEURONS.items() if model.sparsifiable)  # with the RoT / DRLO block
SPARSIFY_REGISTERS = {op: NEURONS[op].sparsify_registers for op in SPARSIFIABLE_OPS}

OPS = {**{op: model.compute for op, model in NEURONS.items()}, **DATA_MOVES}  # every hardware-level op


def golden_op(node: Node, inputs: list[np.ndarray], shape: tuple, arith: dict) -> np.ndarray:
    """The node's golden op on its inputs' codes."""
    op = OPS.get(node.op)
    if op is None:
        raise ValueError(f"golden model has no op {node.op!r} (node {node.name}): lower the graph first")
    return op(node, inputs, shape, arith)


__all__ = ["NEURONS", "NEURON_OPS", "OPS", "golden_op", "SPARSIFIABLE_OPS", "SPARSIFY_REGISTERS", "NeuronModel"]
