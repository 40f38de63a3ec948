"""The STEM neuron (SDANN 3.2, isa/programs/stem_neuron.s): shift-and-add the 8 bit planes of its
inputs, requantize (bias, integer multiplier, shifts), add the zero point, clamp; IR op `stem`."""

from __future__ import annotations

import numpy as np

from ..arith import fixed_multiply, saturate, scale_by_power, shift_right_even, shift_right_round
from ..ir import ops
from ..ir.codes import CODE_BITS
from ..ir.graph import Node
from ..sparsify import emitted_codes
from .common import CodeNeuron, output_registers, per_neuron, plane_sums, fused_table, set_fused_table


HORNER, WEIGHTED = "horner", "weighted"  # the integration schemes (passes/scaled_integration.py)


class Stem(CodeNeuron):
    op, label, template_file, counts_macs = ops.STEM, "STEM", "stem_neuron.s", True

    def report_label(self, node: Node) -> str:
        fused = " + lut" if "table" in node.params else ""  # an activation fused into the layer
        return f"{self.label} {'+'.join(c['kind'] for c in node.attrs['connections'])}{fused}"

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        reg, dsum = arith["register_bits"], arith["dendrite_sum_bits"]
        a, p = node.attrs, node.params
        batch = inputs[0].shape[0]
        acc = np.broadcast_to(p["init"], (batch,) + tuple(out_shape)).astype(np.int64)
        sums = plane_sums(node, inputs, out_shape)
        weighted = a.get("integration") == WEIGHTED
        for bit in range(CODE_BITS):  # bit 0: the first tick, the most significant input bit
            wgtsum = saturate(sums[bit], dsum)
            if weighted:  # UPDS: this tick's sum x 2^(7 - bit) / 2^acc_shift, rounded once
                acc = saturate(acc + scale_by_power(wgtsum, bit + p["acc_shift"] - (CODE_BITS - 1)), reg)
            else:
                acc = saturate(acc * 2, reg)
                acc = saturate(acc + shift_right_round(wgtsum, a["acc_shift"]), reg)
        acc = saturate(acc + p["bias"], reg)
        if a["out_shifts"]:  # MULT truncates, the shift after it rounds: one rounding in all
            acc = saturate(np.multiply(acc, p["multiplier"], dtype=np.int64) >> a["mul_shift"], reg)
        else:
            acc = saturate(fixed_multiply(acc, p["multiplier"], a["mul_shift"]), reg)
        rounding = shift_right_even if a.get("round") == "RNE" else shift_right_round
        for shift in a["out_shifts"]:
            acc = rounding(acc, shift)
        acc = saturate(acc + a["zero_point"], reg)
        return fused_table(node, emitted_codes(acc, a))

    def template_values(self, node: Node) -> dict:
        """MUL rounds at mul_shift; with further shifts MULT truncates and the last shift rounds, so
        that the product is rounded once (floor(floor(v / 2^a) + 2^(b-1)) / 2^b) = round(v / 2^(a+b)))."""
        a = node.attrs
        weighted = a.get("integration") == WEIGHTED
        return {"acc_shift": 0 if weighted else a["acc_shift"], "horner": not weighted, "weighted": weighted,
                "mul_op": "MULT" if a["out_shifts"] else "MUL",
                "mul_shift": a["mul_shift"], "out_shifts": a["out_shifts"], "round": a.get("round", "RND"),
                "sparsify": "sparsify" in a, "lut": "table" in node.params}

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        super().init_core(core, node, flat, shape)
        core.set_config(self.registers(**output_registers(node.attrs)))
        set_fused_table(core, node)
        keys = ("bias", "multiplier", "init") + (("acc_shift",) if node.attrs.get("integration") == WEIGHTED else ())
        for key in keys:
            core.state[:, self.state[key]] = per_neuron(node.params[key], shape, flat)
        core.state[:, self.state["acc"]] = core.state[:, self.state["init"]]


MODEL = Stem()
