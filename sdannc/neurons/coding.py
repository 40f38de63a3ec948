"""What the neuron models of the ttfs and rate codings share (docs/codings.md).

Each receives its inputs' codes as spikes in a window of ir/codes.WINDOW_TICKS[coding] ticks (ttfs:
one spike at tick 256 - code, none for 0; rate: `code` spikes in the window's first ticks,
ir/codec.spikes_at), rebuilds what it needs exactly, computes once on the window's last tick as its
STEM-coded counterpart computes, and sends its own code in the next window in the same coding:
state `threshold` (ttfs 256: the count at which the one output spike fires; rate 1: a spike while
spikes are left to send), registers `last_phase` and `window` (isa/programs/coded_phase.inc).
"""

from __future__ import annotations

import numpy as np

from ..arith import saturate
from ..ir import connections
from ..ir.codes import RATE_CODING, TTFS_CODING, WINDOW_TICKS
from ..ir.graph import Node
from . import adder, lut, max as max_neuron, multiply, stem
from .common import NeuronModel, output_registers, per_neuron, set_fused_table

THRESHOLD = {TTFS_CODING: WINDOW_TICKS[TTFS_CODING], RATE_CODING: 1}


class CodedNeuron(NeuronModel):
    coding = ""  # ir/codes.CODINGS

    @property
    def window(self) -> int:
        return WINDOW_TICKS[self.coding]

    def registers(self, **values: int) -> list[int]:
        return super().registers(last_phase=self.window - 1, window=self.window, **values)

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        core.state[:, self.state["threshold"]] = THRESHOLD[self.coding]


def exact_sums(node: Node, inputs: list[np.ndarray], out_shape) -> np.ndarray:
    """[batch, *out] sum of w x code over every input: what the membrane holds after the window (the
    coding pass refuses a layer whose worst case would saturate the register on the way)."""
    return sum(connections.apply(conn, node.params[f"weight{i}"], np.asarray(x, dtype=np.int64), out_shape)
               for i, (conn, x) in enumerate(zip(node.attrs["connections"], inputs)))


class CodedLinear(CodedNeuron):
    """A weighted sum of codes requantized as the STEM neuron requantizes it (coded_requantize.inc)."""
    counts_macs = True

    def report_label(self, node: Node) -> str:
        fused = " + lut" if "table" in node.params else ""
        return f"{self.label} {'+'.join(c['kind'] for c in node.attrs['connections'])}{fused}"

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        reg, p = arith["register_bits"], node.params
        # the exact sum, then the STEM neuron's requantization after its integration (neurons/stem.py)
        return stem.requantized(saturate(exact_sums(node, inputs, out_shape), reg), node, p["bias"], p["multiplier"],
                                reg)

    def template_values(self, node: Node) -> dict:
        a = node.attrs
        return {"mul_op": "MULT" if a["out_shifts"] else "MUL", "mul_shift": a["mul_shift"],
                "out_shifts": a["out_shifts"], "round": a.get("round", "RND"),
                "sparsify": "sparsify" in a, "lut": "table" in node.params}

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
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
    """Two codes (or one, add_const) rebuilt exactly, then the Add neuron's arithmetic (coded_add.inc)."""

    def report_label(self, node: Node) -> str:
        return self.label + (" + lut" if "table" in node.params else "")

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        # the Add neuron rebuilds both codes from their bits, exactly: the same codes, the same arithmetic
        return adder.MODEL.compute(node, inputs, out_shape, arith)

    def template_values(self, node: Node) -> dict:
        a = node.attrs
        return {"mul_op": "MUL" if a["mul_shift"] else "MULT", "mul_shift": a["mul_shift"],
                "out_shifts": a["out_shifts"], "sparsify": "sparsify" in a, "lut": "table" in node.params}

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        super().init_core(core, node, flat, shape)
        a = node.attrs
        (zero_a, zero_b), (mult_a, mult_b) = a["input_zero_points"], a["multipliers"]
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
    """Two codes rebuilt exactly, then the product neuron's search of its thresholds (product_search.inc)."""

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        # the product neuron rebuilds both codes from their bits, exactly: the same codes, the same search
        return multiply.MODEL.compute(node, inputs, out_shape, arith)

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        super().init_core(core, node, flat, shape)
        za, zb = node.attrs["input_zero_points"]
        core.set_config(self.registers(zero_a=za, zero_b=zb))
        core.set_lut(node.params["thresholds"])
