"""The STEM neuron (SDANN 3.2, isa/programs/stem_neuron.s): shift-and-add the 8 bit planes of its
inputs, requantize (bias, integer multiplier, shifts), add the zero point, clamp; IR op `stem`."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ..arith import fixed_multiply, saturate, scale_by_power, shift_right_even, shift_right_round
from ..ir import ops
from ..ir.codes import CODE_BITS
from ..ir.graph import Node
from ..isa import ProgramTemplate, assemble_template, load_isa, read_template
from ..resources import data_dir
from ..sparsify import emitted_codes
from .common import CodeNeuron, output_registers, per_neuron, plane_sums, fused_table, set_fused_table


HORNER, WEIGHTED, EXACT = "horner", "weighted", "exact"  # the integration schemes (passes/scaled_integration.py)
EXACT_BASE = 14  # exact: T = H 2^EXACT_BASE + L, L in [-2^13, 2^13)
EXACT_WORDS = 512  # exact: lookup memory words per threshold table (256 entries of two words; entry 0 never taken)
EXACT_RECORD = 3  # exact: lookup memory words per distinct (table, bias) of a core: table base, bias high, bias low


def split_words(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x = hi 2^14 + lo with lo in [-2^13, 2^13) (hi rounds half up, as LDW does)."""
    x = np.asarray(x, dtype=np.int64)
    hi = (x + (1 << (EXACT_BASE - 1))) >> EXACT_BASE
    return hi, x - (hi << EXACT_BASE)


def exact_tables(node: Node, shape) -> tuple[np.ndarray, np.ndarray]:
    """Integration "exact": the threshold tables [groups, 256] on T + bias (param `exact_thresholds`)
    and each neuron's table (param `exact_group`, broadcast to the layer's shape)."""
    return node.params["exact_thresholds"], np.broadcast_to(node.params["exact_group"], tuple(shape))


def exact_memory(node: Node, flat: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    """Integration "exact": the lookup memory of a core holding the neurons `flat` (their flat
    indices in the layer's output): the tables its neurons use, EXACT_WORDS each, then a record per
    distinct (table, bias), EXACT_RECORD words each; and each neuron's record address."""
    table, group = exact_tables(node, shape)
    group = group.reshape(-1)[flat]
    bias = np.broadcast_to(node.params["bias"], tuple(shape)).reshape(-1)[flat].astype(np.int64)
    used, local = np.unique(group, return_inverse=True)
    records, record_of = np.unique(np.stack([local.reshape(-1), bias], axis=1), axis=0, return_inverse=True)
    hi, lo = split_words(table[used])
    b_hi, b_lo = split_words(records[:, 1])
    memory = np.concatenate([np.stack([hi, lo], axis=-1).reshape(-1),
                             np.stack([records[:, 0] * EXACT_WORDS, b_hi, b_lo], axis=1).reshape(-1)])
    return memory, used.size * EXACT_WORDS + record_of.reshape(-1) * EXACT_RECORD


def exact_memory_words(node: Node, flat: np.ndarray, shape) -> int:
    """The lookup memory words exact_memory needs, without building it."""
    _, group = exact_tables(node, shape)
    group = group.reshape(-1)[flat]
    bias = np.broadcast_to(node.params["bias"], tuple(shape)).reshape(-1)[flat].astype(np.int64)
    tables = np.unique(group).size
    if not flat.size:
        return tables * EXACT_WORDS
    # the distinct (table, bias) pairs, one int64 key a pair (a unique over rows is several times slower)
    bias = bias - int(bias.min())
    span = int(bias.max()) + 1
    group = group.astype(np.int64) - int(group.min())
    if span * (int(group.max()) + 1) < 2 ** 62:
        records = np.unique(group * span + bias).size
    else:
        records = np.unique(np.stack([group, bias], axis=1), axis=0).shape[0]
    return tables * EXACT_WORDS + records * EXACT_RECORD


def exact_codes(t: np.ndarray, node: Node, out_shape) -> np.ndarray:
    """Integration "exact": the output codes [batch, *out] of the exact sums `t`: how many thresholds
    of each neuron's table are at or below T + bias (stem_exact.s's search; the codings' exact
    linear neurons search the same tables, neurons/coding.py)."""
    t = t + np.broadcast_to(node.params["bias"], tuple(out_shape)).astype(np.int64)
    table, group = exact_tables(node, out_shape)
    codes = np.zeros(t.shape, dtype=np.int64)
    for g in range(table.shape[0]):  # table[g] sorted: entry e the least T whose code is >= e
        mask = group == g
        codes[:, mask] = np.searchsorted(table[g, 1:], t[:, mask], side="right")
    return codes


def requantized(acc: np.ndarray, node: Node, bias, multiplier, reg: int) -> np.ndarray:
    """The output codes of the accumulated sums `acc` (= T): + bias, the fixed-point multiplier, the
    shifts, the zero point, clamp, RoT / DRLO, the fused table (registers of `reg` bits)."""
    a = node.attrs
    acc = saturate(acc + bias, reg)
    if a["out_shifts"]:  # MULT truncates, the shift after it rounds: one rounding in all
        acc = saturate(np.multiply(acc, multiplier, dtype=np.int64) >> a["mul_shift"], reg)
    else:
        acc = saturate(fixed_multiply(acc, multiplier, a["mul_shift"]), reg)
    rounding = shift_right_even if a.get("round") == "RNE" else shift_right_round
    for shift in a["out_shifts"]:
        acc = rounding(acc, shift)
    acc = saturate(acc + a["zero_point"], reg)
    return fused_table(node, emitted_codes(acc, a))


class Stem(CodeNeuron):
    op, label, template_file, counts_macs = ops.STEM, "STEM", "stem_neuron.s", True
    extra_templates = ("stem_exact.s",)  # integration "exact"'s program

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
        if a.get("integration") == EXACT:  # T + bias exactly, then how many thresholds are at or below it
            return exact_codes(sum(saturate(sums[bit], dsum) << (CODE_BITS - 1 - bit) for bit in range(CODE_BITS)),
                               node, out_shape)
        for bit in range(CODE_BITS):  # bit 0: the first tick, the most significant input bit
            wgtsum = saturate(sums[bit], dsum)
            if weighted:  # UPDS: this tick's sum x 2^(7 - bit) / 2^acc_shift, rounded once
                acc = saturate(acc + scale_by_power(wgtsum, bit + p["acc_shift"] - (CODE_BITS - 1)), reg)
            else:
                acc = saturate(acc * 2, reg)
                acc = saturate(acc + shift_right_round(wgtsum, a["acc_shift"]), reg)
        return requantized(acc, node, p["bias"], p["multiplier"], reg)

    def template_values(self, node: Node) -> dict:
        """MUL rounds at mul_shift; with further shifts MULT truncates and the last shift rounds, so
        that the product is rounded once (floor(floor(v / 2^a) + 2^(b-1)) / 2^b) = round(v / 2^(a+b)))."""
        a = node.attrs
        weighted = a.get("integration") == WEIGHTED
        return {"acc_shift": 0 if weighted else a["acc_shift"], "horner": not weighted, "weighted": weighted,
                "mul_op": "MULT" if a["out_shifts"] else "MUL",
                "mul_shift": a["mul_shift"], "out_shifts": a["out_shifts"], "round": a.get("round", "RND"),
                "sparsify": "sparsify" in a, "lut": "table" in node.params}

    @cached_property
    def exact_template(self) -> ProgramTemplate:
        """Integration "exact"'s program (isa/programs/stem_exact.s): the same fields and registers."""
        template = read_template(data_dir("isa") / "programs" / self.extra_templates[0])
        assert template.state == self.template.state and template.config == self.template.config
        return template

    def source(self, node: Node) -> str:
        if node.attrs.get("integration") == EXACT:
            return self.exact_template.source({})
        return super().source(node)

    def program(self, node: Node, target) -> np.ndarray:
        if node.attrs.get("integration") == EXACT:
            isa = load_isa(target.isa_name)
            return isa.encode_program(assemble_template(self.exact_template, isa, {}))
        return super().program(node, target)

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        if node.attrs.get("integration") == EXACT:
            return self._init_exact(core, node, flat, shape)
        super().init_core(core, node, flat, shape)
        core.set_config(self.registers(**output_registers(node.attrs)))
        set_fused_table(core, node)
        keys = ("bias", "multiplier", "init") + (("acc_shift",) if node.attrs.get("integration") == WEIGHTED else ())
        for key in keys:
            core.state[:, self.state[key]] = per_neuron(node.params[key], shape, flat)
        core.state[:, self.state["acc"]] = core.state[:, self.state["init"]]

    def lookup_words(self, node: Node, flat: np.ndarray, shape) -> int:
        return exact_memory_words(node, flat, shape) if node.attrs.get("integration") == EXACT else 0

    def _init_exact(self, core, node: Node, flat: np.ndarray, shape) -> None:
        """The core's lookup memory (exact_memory: its neurons' tables and records); each neuron's
        record address in field acc_shift."""
        core.set_config(self.registers(**output_registers(node.attrs)))
        memory, record = exact_memory(node, flat, shape)  # (the tiling checked that it fits: lookup_words)
        core.set_lut(memory)
        core.state[:, :] = 0
        core.state[:, self.state["acc_shift"]] = record


MODEL = Stem()
