"""What every neuron model answers (NeuronModel), and what the models share.

A neuron model is everything sdannc knows about one hardware-level IR op whose nodes become
neurons: the golden arithmetic its program performs (`compute`), the program itself (a template
under isa/programs, whose `.state` and `.config` lines are the layouts of its state fields and
configuration registers), how a core is set up for a layer's neurons (`init_core`), and what the
compile report calls it. Each model module defines one `MODEL`; neurons/__init__.py registers them.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ..arith import saturate, shift_right_even, shift_right_round, shift_right_trunc
from ..ir import connections
from ..ir.codes import CODE_BITS
from ..ir.graph import Node
from ..isa import ProgramTemplate, assemble_template, load_isa, read_template
from ..resources import data_dir
from ..sparsify import Setting
from ..target import Target

SHIFTS = {"TRUNC": shift_right_trunc, "RND": shift_right_round, "RNE": shift_right_even}  # SFTI R's modes


class NeuronModel:
    op = ""  # the hardware-level IR op
    label = ""  # what the compile report calls its layers
    template_file = ""  # its program's template, under isa/programs
    counts_macs = False  # its synapses are multiply-accumulates of the network (the report's `macs`)

    @cached_property
    def template(self) -> ProgramTemplate:
        return read_template(data_dir("isa") / "programs" / self.template_file)

    @property
    def state(self) -> dict[str, int]:
        """The state field of each name (the template's `.state`)."""
        return self.template.state

    @property
    def config(self) -> dict[str, int]:
        """The configuration register of each name (the template's `.config`)."""
        return self.template.config

    @property
    def sparsifiable(self) -> bool:
        """Its program has the RoT / DRLO block (isa/programs/output_code.inc)."""
        return "sparsify" in self.template.params

    @property
    def sparsify_registers(self) -> tuple[int, int]:
        """The registers of RoT's round-add and of the keep mask (the activity report clears them)."""
        return self.config["round_add"], self.config["keep_mask"]

    def report_label(self, node: Node) -> str:
        return self.label

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        """The golden model: input codes [batch, *shape] -> output codes [batch, *out_shape], as the
        chip computes them, step by step where steps round or saturate (`arith`: the target's widths)."""
        raise NotImplementedError

    def template_values(self, node: Node) -> dict:
        """The template's parameters for the node's program (none: the template as it stands)."""
        return {}

    def source(self, node: Node) -> str:
        """The node's program as assembly text."""
        return self.template.source(self.template_values(node))

    def program(self, node: Node, target: Target) -> np.ndarray:
        """The node's program as the words a core holds."""
        isa = load_isa(target.isa_name)
        return isa.encode_program(assemble_template(self.template, isa, self.template_values(node)))

    def registers(self, layout: dict[str, int] | None = None, /, **values: int) -> list[int]:
        """The core's configuration registers, every one given by its name in the template (or in
        `layout`, another template's `.config` of the model)."""
        layout = self.config if layout is None else layout
        if set(values) != set(layout):
            raise ValueError(f"{self.op}: registers {sorted(values)}, the program reads {sorted(layout)}")
        registers = [0] * (max(layout.values(), default=-1) + 1)
        for name, value in values.items():
            registers[layout[name]] = value
        return registers

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        """Set up a core (image.builder.CoreBuilder) that holds the node's output elements `flat`
        (indices into the flattened `shape`): its configuration registers, its neurons' state."""
        raise NotImplementedError

    def lookup_words(self, node: Node, flat: np.ndarray, shape) -> int:
        """The lookup memory words a core holding the output elements `flat` needs (0: none the
        tiling has to count; a fused table is one table whatever the core holds)."""
        return 0


def per_neuron(values: np.ndarray, shape, flat: np.ndarray) -> np.ndarray:
    """A per-neuron param (broadcastable to the layer's shape) for the neurons `flat` of a core."""
    return np.broadcast_to(values, shape).reshape(-1)[flat]


def plane_sums(node: Node, inputs: list[np.ndarray], out_shape) -> np.ndarray:
    """[bits, batch, *out] the exact dendrite sum of each tick: every input's bit plane of that tick
    (MSB first) through its connection and weights, summed over inputs (before saturation)."""
    return sum(connections.apply_bit_planes(conn, node.params[f"weight{i}"], x, out_shape, CODE_BITS)
               for i, (conn, x) in enumerate(zip(node.attrs["connections"], inputs)))


class CodeNeuron(NeuronModel):
    """A neuron that receives 8-bit codes as spikes, MSB first, and sends its result code in the
    next window by compare-and-subtract against 128 (the emit phase of the STEM, Add and max
    programs): state `threshold` holds 128, register `last_phase` says which tick is a code's last."""

    def registers(self, layout: dict[str, int] | None = None, /, **values: int) -> list[int]:
        return super().registers(layout, last_phase=CODE_BITS - 1, **values)

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        core.state[:, self.state["threshold"]] = 1 << (CODE_BITS - 1)


def fused_table(node: Node, codes: np.ndarray) -> np.ndarray:
    """The codes through the node's fused activation table (param `table`, output_code.inc's `lut`), if any."""
    table = node.params.get("table")
    return codes if table is None else table[codes]


def set_fused_table(core, node: Node) -> None:
    """The core's lookup memory: the node's fused activation table, if any."""
    if "table" in node.params:
        core.set_lut(node.params["table"])


def output_registers(attrs: dict) -> dict[str, int]:
    """The registers of isa/programs/output_code.inc from a node's attrs: the output zero point,
    the clamp, and RoT / DRLO's round-add and keep mask (0 and all bits when not sparsified)."""
    spikes = Setting.of(attrs)
    low, high = attrs["clamp"]
    return {"zero_point": attrs["zero_point"], "low": low, "high": high, "round_add": spikes.add,
            "keep_mask": spikes.mask}


class SpikeNeuron(NeuronModel):
    """A neuron whose spikes are events tick by tick, not the bits of a code (integrate-and-fire,
    time to first spike). Its golden model is `step`, one tick of its program; `compute` runs it
    over codes as a stream. State field `vth` holds each neuron's threshold (param `threshold`)."""

    def step(self, state: dict[str, np.ndarray], current: np.ndarray, arith: dict) -> np.ndarray:
        """One tick: the neurons' state fields by name (updated here) and the tick's dendrite sums
        -> which neurons spike (0 or 1)."""
        raise NotImplementedError

    def start(self, threshold: np.ndarray) -> dict[str, np.ndarray]:
        """The state fields before the first tick: zero, but for the thresholds."""
        state = {name: np.zeros(np.shape(threshold), dtype=np.int64) for name in self.state}
        state["vth"] = np.asarray(threshold, dtype=np.int64)
        return state

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        """The batch as one stream, as the chip sees it: sample after sample, each code's bits MSB
        first one tick each, through the node's connections; each output code is one window's
        spikes, MSB first. The state carries over from sample to sample."""
        sums = plane_sums(node, inputs, out_shape)  # [bits, batch, *out]
        batch, shape = sums.shape[1], tuple(out_shape)
        state = self.start(np.broadcast_to(node.params["threshold"], shape))
        currents = np.moveaxis(sums, 0, 1).reshape((batch * CODE_BITS,) + shape)
        spikes = np.stack([self.step(state, current, arith) for current in currents])
        bit_weights = 1 << np.arange(CODE_BITS - 1, -1, -1, dtype=np.int64)
        return np.tensordot(spikes.reshape((batch, CODE_BITS) + shape), bit_weights, axes=([1], [0]))

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        core.set_config(self.registers())
        core.state[:, self.state["vth"]] = per_neuron(node.params["threshold"], shape, flat)


def membrane_after_input(state: dict[str, np.ndarray], current: np.ndarray, arith: dict) -> np.ndarray:
    """`LDS; UPDV 0`: the membrane plus the tick's dendrite sum (saturated as the dendrite unit
    keeps it), saturated to the register."""
    return saturate(state["vt"] + saturate(current, arith["dendrite_sum_bits"]), arith["register_bits"])
