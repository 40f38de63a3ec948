"""The lookup neuron (isa/programs/lut_neuron.s): a quantized unary activation as a table of 256
output codes in the core's lookup memory (the LUT instruction, docs/isa.md). Its input arrives on
one dendrite of weight 1; after 8 ticks it holds the input code exactly, looks it up and emits the
output code. IR op `lut` (passes/lower_unary.py lowers the frontend's `unary` to it)."""

from __future__ import annotations

import numpy as np

from ..ir import ops
from ..ir.graph import Node
from .common import CodeNeuron


class Lookup(CodeNeuron):
    op, label, template_file = ops.LUT, "lut", "lut_neuron.s"

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        # the code is rebuilt exactly from its bits (a dendrite of weight 1: 0 or 1 a tick), and
        # LUT's index is never out of range
        codes = np.asarray(inputs[0], dtype=np.int64)
        return node.params["table"][codes].reshape(codes.shape[:1] + tuple(out_shape))

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        super().init_core(core, node, flat, shape)
        core.set_config(self.registers())
        core.set_lut(node.params["table"])


MODEL = Lookup()
