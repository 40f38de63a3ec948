"""The integrate-and-fire neuron (isa/programs/if_neuron.s, the vendor's five-instruction example):
each tick the membrane adds the dendrite sum; at the threshold it spikes and resets to zero.

No pass lowers to it yet. A lowering would emit nodes of op `if` carrying, like a STEM node, a
connection and a weight array per input (`connections`, `weight{i}`) and a per-neuron `threshold`
param; the golden interpreter then runs `compute` and the backend the program and `init_core`.
What it must also teach the rest: an IF layer's spikes follow its inputs by one tick, not by a
window, so the schedule (backend/schedule.py) and delay alignment (passes/align_delays.py), which
count one 8-tick window per neuron layer today, need its latency.
"""

from __future__ import annotations

import numpy as np

from ..arith import saturate
from ..ir import ops
from .common import SpikeNeuron, membrane_after_input


class IntegrateAndFire(SpikeNeuron):
    op, label, template_file = ops.IF, "IF", "if_neuron.s"

    def step(self, state: dict[str, np.ndarray], current: np.ndarray, arith: dict) -> np.ndarray:
        membrane = membrane_after_input(state, current, arith)
        fired = membrane >= saturate(state["vth"], arith["register_bits"])  # FIRE R0, R1, ZERO
        state["vt"] = np.where(fired, 0, membrane)
        return fired.astype(np.int64)


MODEL = IntegrateAndFire()
