"""The exact Add neuron (isa/programs/add_neuron.s): its inputs arrive on dendrites of weights 1
and 2, so each tick's dendrite sum holds both input bits apart; each goes into its own accumulator,
and after 8 ticks both codes are exact. Then two multipliers, the offset, the shifts, the zero
point; IR op `adder` (passes/lower_elementwise.py lowers Add and add_const to it).

On registers too narrow for the Add's sums (16 bits), attr `two_words` (the register width W)
selects isa/programs/add_two_words.s: the same arithmetic with the multipliers, offset and
shift of a register twice as wide (darwin3-wide's, on darwin3), held in a two-word accumulator
(MACW, SFTW), so that it computes what the wide register computes, bit for bit. With attr `search`
(passes/requantize.add_search) isa/programs/add_search.s: the exact sum of the same two-word
program, and the output code by integration exact's threshold search (neurons/stem.py's lookup
memory layout): onnxruntime's QLinearAdd, bit for bit."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ..arith import fixed_multiply, multiply_accumulate, saturate, shift_two_words, two_words
from ..ir import ops
from ..ir.codes import CODE_BITS
from ..ir.graph import Node
from ..isa import ProgramTemplate, assemble_template, load_isa, read_template
from ..resources import data_dir
from ..sparsify import emitted_codes
from .common import SHIFTS, CodeNeuron, fused_table, output_registers, per_neuron, plane_sums, set_fused_table
from .stem import exact_memory, exact_memory_words, exact_tables

TWO_WORDS_TEMPLATE = "add_two_words.s"
SEARCH_TEMPLATE = "add_search.s"


def split_multiplier(m: int, split: int) -> tuple[int, int]:
    """m = high 2^split + low, both with m's sign and |low| < 2^split: every partial sum of the
    two-word program is then bounded by the sum of |m| (x - z) over the inputs, as the wide one is."""
    sign = -1 if m < 0 else 1
    return sign * (abs(m) >> split), sign * (abs(m) & ((1 << split) - 1))


def one_shift(out_shifts) -> tuple[int, str]:
    """The chain of (amount, TRUNC | RND | RNE) right shifts as one shift: truncating shifts then one
    rounding one round once, as one rounding shift by their sum does."""
    total = sum(amount for amount, _ in out_shifts)
    return total, (out_shifts[-1][1] if out_shifts else "TRUNC")


class Adder(CodeNeuron):
    op, label, template_file = ops.ADDER, "add", "add_neuron.s"
    extra_templates = (TWO_WORDS_TEMPLATE, SEARCH_TEMPLATE)  # attr two_words' program, attr search's

    @cached_property
    def two_words_template(self) -> ProgramTemplate:
        """The two-word program: add_neuron.s's fields and registers, and the multipliers' and the
        offset's low words after them."""
        template = read_template(data_dir("isa") / "programs" / TWO_WORDS_TEMPLATE)
        assert all(template.state[k] == v for k, v in self.template.state.items())
        assert all(template.config[k] == v for k, v in self.template.config.items())
        return template

    @cached_property
    def search_template(self) -> ProgramTemplate:
        """The threshold-search program: two_codes.inc's fields as add_neuron.s has them, registers as add_two_words.s."""
        template = read_template(data_dir("isa") / "programs" / SEARCH_TEMPLATE)
        assert all(template.state[k] == self.template.state[k] for k in ("acc_a", "phase", "residue", "acc_b"))
        assert all(template.config[k] == self.two_words_template.config[k] for k in template.config)
        return template

    def template_of(self, node: Node) -> ProgramTemplate:
        if "search" in node.attrs:
            return self.search_template
        return self.two_words_template if "two_words" in node.attrs else self.template

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
        if "search" in a:  # S exact; the code is how many thresholds are at or below it
            (ma, mb), (za, zb) = a["multipliers"], a["input_zero_points"]
            s = ma * (acc[0] - za) + mb * (acc[1] - zb)
            table, _ = exact_tables(node, out_shape)
            return np.searchsorted(table[0, 1:], s, side="right").astype(np.int64)
        if "two_words" in a:
            v = self._two_words(node, acc, reg)
        else:
            # MULT (exact, shift 0) or MUL (each product rounded half up at mul_shift: unbiased, where
            # two truncations would both pull the sum down)
            multiply = fixed_multiply if a["mul_shift"] else (lambda x, m, shift: np.multiply(x, m, dtype=np.int64))
            terms = [saturate(multiply(saturate(x - z, reg), m, a["mul_shift"]), reg)
                     for x, z, m in zip(acc, a["input_zero_points"], a["multipliers"])]
            v = saturate(saturate(terms[0] + terms[1], reg) + p["offset"], reg)
            for shift, mode in a["out_shifts"]:
                v = SHIFTS[mode](v, shift)
        v = saturate(v + a["zero_point"], reg)
        return fused_table(node, emitted_codes(v, a))

    @staticmethod
    def _two_words(node: Node, acc, reg: int) -> np.ndarray:
        """add_two_words.s: the offset into the accumulator, then per input (x - z) m_high 2^split
        and (x - z) m_low (MACW), then one shift into a register (SFTW)."""
        a, split = node.attrs, node.attrs["two_words"] - 1
        high, low = two_words(np.broadcast_to(node.params["offset"], acc[0].shape[1:]), reg)
        high, low = saturate(high, reg), saturate(low, reg)  # LOAD: state fields hold register values
        for x, z, m in zip(acc, a["input_zero_points"], a["multipliers"]):
            x = saturate(x - z, reg)
            m_high, m_low = split_multiplier(m, split)
            high, low = multiply_accumulate(high, low, x, m_high, split, reg)
            high, low = multiply_accumulate(high, low, x, m_low, 0, reg)
        return shift_two_words(high, low, *one_shift(a["out_shifts"]), reg)

    def template_values(self, node: Node) -> dict:
        """The MULT shift and the chain of (amount, TRUNC|RND|RNE) right shifts: truncating shifts
        then one rounding shift round once (floor(floor(v / 2^a) + 2^(b-1)) / 2^b)); with
        `two_words`, the multipliers' split and the chain as one shift."""
        a = node.attrs
        if "search" in a:
            return {"split": a["two_words"] - 1}
        values = {"sparsify": "sparsify" in a, "lut": "table" in node.params}
        if "two_words" in a:
            out_shift, mode = one_shift(a["out_shifts"])
            return {**values, "split": a["two_words"] - 1, "out_shift": out_shift, "round": mode}
        return {**values, "mul_op": "MUL" if a["mul_shift"] else "MULT", "mul_shift": a["mul_shift"],
                "out_shifts": a["out_shifts"]}

    def source(self, node: Node) -> str:
        return self.template_of(node).source(self.template_values(node))

    def program(self, node: Node, target) -> np.ndarray:
        isa = load_isa(target.isa_name)
        return isa.encode_program(assemble_template(self.template_of(node), isa, self.template_values(node)))

    def lookup_words(self, node: Node, flat: np.ndarray, shape) -> int:
        return exact_memory_words(node, flat, shape) if "search" in node.attrs else 0

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        if "search" in node.attrs:
            return self._init_search(core, node, flat, shape)
        super().init_core(core, node, flat, shape)
        a = node.attrs
        (zero_a, zero_b), (mult_a, mult_b) = a["input_zero_points"], a["multipliers"]
        offset = per_neuron(node.params["offset"], shape, flat)
        if "two_words" in a:
            template, bits = self.two_words_template, a["two_words"]
            (high_a, low_a), (high_b, low_b) = (split_multiplier(m, bits - 1) for m in (mult_a, mult_b))
            core.set_config(self.registers(template.config, **output_registers(a), zero_a=zero_a, zero_b=zero_b,
                                           mult_a=high_a, mult_b=high_b, mult_a_low=low_a, mult_b_low=low_b))
            core.state[:, template.state["offset"]], core.state[:, template.state["offset_low"]] = two_words(offset, bits)
        else:
            core.set_config(self.registers(**output_registers(a), zero_a=zero_a, zero_b=zero_b, mult_a=mult_a,
                                           mult_b=mult_b))
            core.state[:, self.state["offset"]] = offset
        set_fused_table(core, node)

    def _init_search(self, core, node: Node, flat: np.ndarray, shape) -> None:
        """The multipliers split as add_two_words.s has them; the core's lookup memory as integration
        exact's (one table, one record); each neuron's record address in field `record`."""
        a, template = node.attrs, self.search_template
        (za, zb), split = a["input_zero_points"], a["two_words"] - 1
        (high_a, low_a), (high_b, low_b) = (split_multiplier(m, split) for m in a["multipliers"])
        core.set_config(self.registers(template.config, zero_a=za, zero_b=zb,
                                       mult_a=high_a, mult_b=high_b, mult_a_low=low_a, mult_b_low=low_b))
        memory, record = exact_memory(node, flat, shape)
        core.set_lut(memory)
        core.state[:, :] = 0
        core.state[:, template.state["record"]] = record


MODEL = Adder()
