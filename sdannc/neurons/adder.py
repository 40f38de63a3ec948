"""The exact Add neuron (isa/programs/add_neuron.s): its inputs arrive on dendrites of weights 1
and 2, so each tick's dendrite sum holds both input bits apart; each goes into its own accumulator,
and after 8 ticks both codes are exact. Then two multipliers, the offset, the shifts, the zero
point; IR op `adder` (passes/lower_elementwise.py lowers Add and add_const to it)."""

from __future__ import annotations

import numpy as np

from ..arith import fixed_multiply, saturate
from ..ir import ops
from ..ir.codes import CODE_BITS
from ..ir.graph import Node
from ..sparsify import emitted_codes
from .common import SHIFTS, CodeNeuron, fused_table, output_registers, per_neuron, plane_sums, set_fused_table


class Adder(CodeNeuron):
    op, label, template_file = ops.ADDER, "add", "add_neuron.s"

    def report_label(self, node: Node) -> str:
        return self.label + (" + lut" if "table" in node.params else "")  # an activation fused into the layer

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        reg, dsum = arith["register_bits"], arith["dendrite_sum_bits"]
        a, p = node.attrs, node.params
        batch = inputs[0].shape[0]
        acc = [np.zeros((batch,) + tuple(out_shape), dtype=np.int64) for _ in range(2)]
        sums = plane_sums(node, inputs, out_shape)
        for bit in range(CODE_BITS):
            wgtsum = saturate(saturate(sums[bit], dsum), reg)  # LDW with shift 0: the sum into a register
            high = wgtsum >> 1
            low = saturate(wgtsum - saturate(high << 1, reg), reg)
            acc = [saturate(saturate(acc[0] * 2, reg) + low, reg), saturate(saturate(acc[1] * 2, reg) + high, reg)]
        # MULT (exact, shift 0) or MUL (each product rounded half up at mul_shift: unbiased, where two
        # truncations would both pull the sum down)
        multiply = fixed_multiply if a["mul_shift"] else (lambda x, m, shift: np.multiply(x, m, dtype=np.int64))
        terms = [saturate(multiply(saturate(x - z, reg), m, a["mul_shift"]), reg)
                 for x, z, m in zip(acc, a["input_zero_points"], a["multipliers"])]
        v = saturate(saturate(terms[0] + terms[1], reg) + p["offset"], reg)
        for shift, mode in a["out_shifts"]:
            v = SHIFTS[mode](v, shift)
        v = saturate(v + a["zero_point"], reg)
        return fused_table(node, emitted_codes(v, a))

    def template_values(self, node: Node) -> dict:
        """The MULT shift and the chain of (amount, TRUNC|RND|RNE) right shifts: truncating shifts
        then one rounding shift round once (floor(floor(v / 2^a) + 2^(b-1)) / 2^b))."""
        a = node.attrs
        return {"mul_op": "MUL" if a["mul_shift"] else "MULT", "mul_shift": a["mul_shift"], "out_shifts": a["out_shifts"],
                "sparsify": "sparsify" in a, "lut": "table" in node.params}

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        super().init_core(core, node, flat, shape)
        a = node.attrs
        (zero_a, zero_b), (mult_a, mult_b) = a["input_zero_points"], a["multipliers"]
        core.set_config(self.registers(**output_registers(a), zero_a=zero_a, zero_b=zero_b, mult_a=mult_a,
                                       mult_b=mult_b))
        core.state[:, self.state["offset"]] = per_neuron(node.params["offset"], shape, flat)
        set_fused_table(core, node)


MODEL = Adder()
