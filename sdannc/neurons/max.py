"""The bit-serial max neuron (isa/programs/max_neuron.s): the largest code in each pooling window,
padding ignored; its inputs arrive on dendrites of weights 1, 2, 4, ...; IR op `max`
(passes/lower_pools.py lowers MaxPool to it, windows of more than 7 inputs as rows then columns)."""

from __future__ import annotations

import numpy as np

from ..ir import connections, ops
from ..ir.graph import Node
from .common import CodeNeuron


class Max(CodeNeuron):
    op, label, template_file = ops.MAX, "max", "max_neuron.s"

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        conn = node.attrs["connections"][0]
        windows = connections.conv_windows(inputs[0], conn, fill=-1)  # [b, C, kh, kw, Ho, Wo]
        return windows.reshape(windows.shape[:2] + (-1,) + windows.shape[-2:]).max(axis=2)

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        super().init_core(core, node, flat, shape)
        kh, kw = node.attrs["connections"][0]["kernel"]
        every_input = (1 << (kh * kw)) - 1
        core.set_config(self.registers(all_candidates=every_input))
        core.state[:, self.state["candidates"]] = every_input


MODEL = Max()
