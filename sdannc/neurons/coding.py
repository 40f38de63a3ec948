"""What the neuron models of the ttfs and rate codings share (docs/codings.md).

Each receives its inputs' codes as spikes in a window of ir/codes.WINDOW_TICKS[coding] ticks (ttfs:
one spike at tick 256 - code, none for 0; rate: `code` spikes in the window's first ticks,
ir/codec.spikes_at), rebuilds what it needs exactly, computes once on the window's last tick as its
STEM-coded counterpart computes, and sends its own code in the next window in the same coding:
state `threshold` (ttfs 256: the count at which the one output spike fires; rate 1: a spike while
spikes are left to send), registers `last_phase` and `window` (isa/programs/coded_phase.inc).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ..arith import saturate, two_words
from ..ir import connections
from ..ir.codes import RATE_CODING, TTFS_CODING, WINDOW_TICKS
from ..ir.graph import Node
from ..isa import ProgramTemplate, assemble_template, load_isa, read_template
from ..resources import data_dir
from . import adder, lut, max as max_neuron, multiply, stem
from .common import NeuronModel, output_registers, per_neuron, set_fused_table

THRESHOLD = {TTFS_CODING: WINDOW_TICKS[TTFS_CODING], RATE_CODING: 1}


class CodedNeuron(NeuronModel):
    coding = ""  # ir/codes.CODINGS

    @property
    def window(self) -> int:
        return WINDOW_TICKS[self.coding]

    def registers(self, layout: dict[str, int] | None = None, /, **values: int) -> list[int]:
        return super().registers(layout, last_phase=self.window - 1, window=self.window, **values)

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        core.state[:, self.state["threshold"]] = THRESHOLD[self.coding]


def exact_sums(node: Node, inputs: list[np.ndarray], out_shape) -> np.ndarray:
    """[batch, *out] sum of w x code over every input: what the membrane holds after the window (the
    coding pass refuses a layer whose worst case would saturate the register on the way)."""
    return sum(connections.apply(conn, node.params[f"weight{i}"], np.asarray(x, dtype=np.int64), out_shape)
               for i, (conn, x) in enumerate(zip(node.attrs["connections"], inputs)))


class CodedLinear(CodedNeuron):
    """A weighted sum of codes requantized as the STEM neuron requantizes it (coded_requantize.inc);
    on 16-bit registers, of a layer of integration exact (attr `integration`), the sum held in two
    words and the STEM neuron's threshold search instead (`exact_file`, coded_exact.inc)."""
    counts_macs = True
    exact_file = ""  # the exact program, under isa/programs

    @property
    def extra_templates(self) -> tuple[str, ...]:
        return (self.exact_file,)

    @cached_property
    def exact_template(self) -> ProgramTemplate:
        return read_template(data_dir("isa") / "programs" / self.exact_file)

    def report_label(self, node: Node) -> str:
        fused = " + lut" if "table" in node.params else ""
        return f"{self.label} {'+'.join(c['kind'] for c in node.attrs['connections'])}{fused}"

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        reg, p = arith["register_bits"], node.params
        if node.attrs.get("integration") == stem.EXACT:  # the exact sum, STEM's search of its thresholds
            return stem.exact_codes(exact_sums(node, inputs, out_shape), node, out_shape)
        # the exact sum, then the STEM neuron's requantization after its integration (neurons/stem.py)
        return stem.requantized(saturate(exact_sums(node, inputs, out_shape), reg), node, p["bias"], p["multiplier"],
                                reg)

    def template_values(self, node: Node) -> dict:
        a = node.attrs
        return {"mul_op": "MULT" if a["out_shifts"] else "MUL", "mul_shift": a["mul_shift"],
                "out_shifts": a["out_shifts"], "round": a.get("round", "RND"),
                "sparsify": "sparsify" in a, "lut": "table" in node.params}

    def source(self, node: Node) -> str:
        if node.attrs.get("integration") == stem.EXACT:
            return self.exact_template.source({})
        return super().source(node)

    def program(self, node: Node, target) -> np.ndarray:
        if node.attrs.get("integration") == stem.EXACT:
            isa = load_isa(target.isa_name)
            return isa.encode_program(assemble_template(self.exact_template, isa, {}))
        return super().program(node, target)

    def lookup_words(self, node: Node, flat: np.ndarray, shape) -> int:
        return stem.exact_memory_words(node, flat, shape) if node.attrs.get("integration") == stem.EXACT else 0

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        if node.attrs.get("integration") == stem.EXACT:  # the STEM neuron's tables and records (stem.exact_memory)
            fields = self.exact_template.state
            core.set_config(self.registers(self.exact_template.config))
            memory, record = stem.exact_memory(node, flat, shape)  # (the tiling checked that it fits: lookup_words)
            core.set_lut(memory)
            core.state[:, :] = 0
            core.state[:, fields["threshold"]] = THRESHOLD[self.coding]
            core.state[:, fields["record"]] = record
            return
        super().init_core(core, node, flat, shape)
        core.set_config(self.registers(**output_registers(node.attrs)))
        set_fused_table(core, node)
        for key in ("bias", "multiplier"):
            core.state[:, self.state[key]] = per_neuron(node.params[key], shape, flat)


class CodedMax(CodedNeuron):
    """The largest code of each pooling window (padding ignored), as the max neuron computes it."""

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        return max_neuron.MODEL.compute(node, inputs, out_shape, arith)  # the same maximum of the same codes

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        super().init_core(core, node, flat, shape)
        core.set_config(self.registers())


class CodedAdd(CodedNeuron):
    """Two codes (or one, add_const) rebuilt exactly, then the Add neuron's arithmetic (coded_add.inc;
    with attr `two_words`, 16-bit registers, the two-word Add's: add_two_words.inc, `two_words_file`)."""
    two_words_file = ""  # the two-word program, under isa/programs

    @property
    def extra_templates(self) -> tuple[str, ...]:
        return (self.two_words_file,)

    @cached_property
    def two_words_template(self) -> ProgramTemplate:
        return read_template(data_dir("isa") / "programs" / self.two_words_file)

    def template_of(self, node: Node) -> ProgramTemplate:
        return self.two_words_template if "two_words" in node.attrs else self.template

    def source(self, node: Node) -> str:
        return self.template_of(node).source(self.template_values(node))

    def program(self, node: Node, target) -> np.ndarray:
        isa = load_isa(target.isa_name)
        return isa.encode_program(assemble_template(self.template_of(node), isa, self.template_values(node)))

    def report_label(self, node: Node) -> str:
        return self.label + (" + lut" if "table" in node.params else "")

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        # the Add neuron rebuilds both codes from their bits, exactly: the same codes, the same arithmetic
        return adder.MODEL.compute(node, inputs, out_shape, arith)

    def template_values(self, node: Node) -> dict:
        if "two_words" in node.attrs:
            return adder.MODEL.template_values(node)  # the two-word Add's split and one shift
        a = node.attrs
        return {"mul_op": "MUL" if a["mul_shift"] else "MULT", "mul_shift": a["mul_shift"],
                "out_shifts": a["out_shifts"], "sparsify": "sparsify" in a, "lut": "table" in node.params}

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        super().init_core(core, node, flat, shape)
        a = node.attrs
        (zero_a, zero_b), (mult_a, mult_b) = a["input_zero_points"], a["multipliers"]
        if "two_words" in a:  # as the two-word Add neuron's registers and fields (neurons/adder.py)
            template, bits = self.two_words_template, a["two_words"]
            (high_a, low_a), (high_b, low_b) = (adder.split_multiplier(m, bits - 1) for m in (mult_a, mult_b))
            core.set_config(self.registers(template.config, **output_registers(a), zero_a=zero_a, zero_b=zero_b,
                                           mult_a=high_a, mult_b=high_b, mult_a_low=low_a, mult_b_low=low_b))
            offset = per_neuron(node.params["offset"], shape, flat)
            core.state[:, template.state["offset"]], core.state[:, template.state["offset_low"]] = two_words(offset,
                                                                                                          bits)
            set_fused_table(core, node)
            return
        core.set_config(self.registers(**output_registers(a), zero_a=zero_a, zero_b=zero_b, mult_a=mult_a,
                                       mult_b=mult_b))
        core.state[:, self.state["offset"]] = per_neuron(node.params["offset"], shape, flat)
        set_fused_table(core, node)


class CodedLookup(CodedNeuron):
    """The input code rebuilt exactly, then the table in the core's lookup memory."""

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        return lut.MODEL.compute(node, inputs, out_shape, arith)  # the code rebuilt exactly: the same table

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        super().init_core(core, node, flat, shape)
        core.set_config(self.registers())
        core.set_lut(node.params["table"])


class CodedProduct(CodedNeuron):
    """Two codes rebuilt exactly, then the product neuron's search of its thresholds (product_search.inc,
    on 16-bit registers over Q = sat(P - C) in two words, as the product neuron's)."""

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        # the product neuron rebuilds both codes from their bits, exactly: the same codes, the same search
        return multiply.MODEL.compute(node, inputs, out_shape, arith)

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        super().init_core(core, node, flat, shape)
        za, zb = node.attrs["input_zero_points"]
        core.set_config(self.registers(zero_a=za, zero_b=zb))
        core.set_lut(node.params["thresholds"])
        if "two_words" in node.attrs:  # 16-bit registers: the search on Q = sat(P - C), as the product neuron's
            high, low = two_words(-int(node.params["center"]), node.attrs["two_words"])
            core.state[:, self.state["center"]], core.state[:, self.state["center_low"]] = high, low

    def template_values(self, node: Node) -> dict:
        return multiply.MODEL.template_values(node)  # one word, or two (attr two_words)
