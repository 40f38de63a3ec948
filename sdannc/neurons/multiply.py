"""The product neuron (isa/programs/mul_neuron.s): a Mul of two activations (a squeeze-and-
excitation gate), as onnxruntime's QLinearMul computes it. Its inputs arrive on dendrites of
weights 1 and 2, as the Add neuron's do, so both codes are exact after 8 ticks; P = (a - za)(b - zb)
is exact; onnxruntime's output is a non-decreasing step function of P, whose 255 thresholds
(param `thresholds` [256], word 0 the register's minimum) are the core's lookup memory, and the
output code is how many of them are at or below P (a binary search of 8 LUT reads). IR op
`product` (passes/lower_mul.py lowers the frontend's `mul` to it)."""

from __future__ import annotations

import numpy as np

from ..arith import saturate
from ..ir import ops
from ..ir.codes import CODE_BITS
from ..ir.graph import Node
from .common import CodeNeuron, plane_sums


class Product(CodeNeuron):
    op, label, template_file = ops.PRODUCT, "mul", "mul_neuron.s"

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        reg, dsum = arith["register_bits"], arith["dendrite_sum_bits"]
        batch = inputs[0].shape[0]
        acc = [np.zeros((batch,) + tuple(out_shape), dtype=np.int64) for _ in range(2)]
        sums = plane_sums(node, inputs, out_shape)
        for bit in range(CODE_BITS):  # as the Add neuron splits its dendrite sum
            wgtsum = saturate(saturate(sums[bit], dsum), reg)
            high = wgtsum >> 1
            low = saturate(wgtsum - saturate(high << 1, reg), reg)
            acc = [saturate(saturate(acc[0] * 2, reg) + low, reg), saturate(saturate(acc[1] * 2, reg) + high, reg)]
        za, zb = node.attrs["input_zero_points"]
        p = saturate(np.multiply(saturate(acc[0] - za, reg), saturate(acc[1] - zb, reg), dtype=np.int64), reg)
        t = node.params["thresholds"]
        # the binary search finds the largest count whose threshold is at or below P (t is sorted)
        return np.searchsorted(t[1:], p, side="right").astype(np.int64)

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        super().init_core(core, node, flat, shape)
        za, zb = node.attrs["input_zero_points"]
        core.set_config(self.registers(zero_a=za, zero_b=zb))
        core.set_lut(node.params["thresholds"])


MODEL = Product()
