"""The product neuron (isa/programs/mul_neuron.s): a Mul of two activations (a squeeze-and-
excitation gate), as onnxruntime's QLinearMul computes it. Its inputs arrive on dendrites of
weights 1 and 2, as the Add neuron's do, so both codes are exact after 8 ticks; P = (a - za)(b - zb)
is exact; onnxruntime's output is a non-decreasing step function of P, whose 255 thresholds
(param `thresholds` [256], word 0 the register's minimum) are the core's lookup memory, and the
output code is how many of them are at or below P (a binary search of 8 LUT reads). IR op
`product` (passes/lower_mul.py lowers the frontend's `mul` to it). On 16-bit registers (attr
`two_words`, the register width) the search compares Q = sat(P - C) (param `center` = C, in the
two-word accumulator) with the thresholds less C."""

from __future__ import annotations

import numpy as np

from ..arith import multiply_accumulate, saturate, shift_two_words, two_words
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
        x, y = saturate(acc[0] - za, reg), saturate(acc[1] - zb, reg)
        if "two_words" in node.attrs:  # LOAD -C into the accumulator, MACW x y, SFTW by 0
            high, low = (np.broadcast_to(w, x.shape) for w in two_words(-int(node.params["center"]), reg))
            p = shift_two_words(*multiply_accumulate(high, low, x, y, 0, reg), 0, "TRUNC", reg)
        else:
            p = saturate(np.multiply(x, y, dtype=np.int64), reg)
        t = node.params["thresholds"]
        # the binary search finds the largest count whose threshold is at or below P (t is sorted)
        return np.searchsorted(t[1:], p, side="right").astype(np.int64)

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        super().init_core(core, node, flat, shape)
        za, zb = node.attrs["input_zero_points"]
        core.set_config(self.registers(zero_a=za, zero_b=zb))
        core.set_lut(node.params["thresholds"])
        if "two_words" in node.attrs:
            high, low = two_words(-int(node.params["center"]), node.attrs["two_words"])
            core.state[:, self.state["center"]], core.state[:, self.state["center_low"]] = high, low

    def template_values(self, node: Node) -> dict:
        two = "two_words" in node.attrs
        return {"one_word": not two, "two_words": two}


MODEL = Product()
