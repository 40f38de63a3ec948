"""The time-to-first-spike neuron (isa/programs/ttfs_neuron.s, as in Quartz): each tick the
membrane adds the dendrite sum; the first time it reaches the threshold the neuron spikes, and
never again (nothing clears state field `fired`): the tick of its one spike is its value.

No pass lowers to it yet. A lowering would emit nodes of op `ttfs` carrying a connection and a
weight array per input (`connections`, `weight{i}`) and a per-neuron `threshold` param, as for
the integrate-and-fire neuron (integrate_and_fire.py), and would have the same latency to teach
the schedule; a network of more than one sample also needs `fired` and the membrane cleared
between samples, which the program does not do.
"""

from __future__ import annotations

import numpy as np

from ..arith import saturate
from ..ir import ops
from .common import SpikeNeuron, membrane_after_input


class TimeToFirstSpike(SpikeNeuron):
    op, label, template_file = ops.TTFS, "TTFS", "ttfs_neuron.s"

    def step(self, state: dict[str, np.ndarray], current: np.ndarray, arith: dict) -> np.ndarray:
        membrane = membrane_after_input(state, current, arith)
        crossed = membrane >= saturate(state["vth"], arith["register_bits"])  # FIRE R0, R1, NONE
        first = (state["fired"] == 0) & crossed  # once it fired, CMP R3, R3, EQ0 and JC skip the FIRE
        state["vt"] = membrane
        state["fired"] = np.where(first, 1, state["fired"])  # MOVI R6, 1; SEL R3, R6
        return first.astype(np.int64)


MODEL = TimeToFirstSpike()
