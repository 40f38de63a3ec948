"""Where the spikes go: per layer, the spikes it sends by bit position and the synaptic operations
(SOPs) it performs, for one batch, counted inside real samples' windows (no pipeline fill/drain).

Two sources give the same numbers, exactly: the golden model (codes' bit planes times the synapses
each spike reaches, sdannc/backend/synapses.py), and the simulator's counters (sdannc/sim/windows.py).
The first is what `sdannc tune` searches with; the second is what `sdannc report` shows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .golden.interpreter import run_codes
from .ir.codec import encode_input, spike_counts, spikes_by_tick
from .ir.codes import CODE_BITS, STEM_CODING
from .ir.graph import Graph
from .neurons import NEURON_OPS

INPUT_LAYER = "(input)"


@dataclass
class LayerActivity:
    spikes_by_bit: np.ndarray  # [bits] spikes sent, bit 0 = the MSB (sent first)
    sops: int  # synaptic operations its neurons' dendrites performed

    @property
    def spikes(self) -> int:
        return int(self.spikes_by_bit.sum())


def bit_planes(codes: np.ndarray, coding: str = STEM_CODING) -> np.ndarray:
    """[bits] how many codes have each bit set, MSB first (in the codings ttfs and rate: [window],
    how many codes spike at each tick of it, ir/codec.spikes_by_tick)."""
    if coding != STEM_CODING:
        return spikes_by_tick(codes, coding)
    codes = codes.reshape(-1)
    return np.asarray([int(((codes >> (CODE_BITS - 1 - b)) & 1).sum()) for b in range(CODE_BITS)], dtype=np.int64)


def bit_planes_per_element(codes: np.ndarray) -> np.ndarray:
    """[elements] the set bits (spikes) of each element's codes [samples, elements], averaged over the samples."""
    codes = np.asarray(codes, dtype=np.int64)
    return sum(((codes >> b) & 1) for b in range(CODE_BITS)).mean(axis=0)


def _weighted_spikes(codes: np.ndarray, per_element: np.ndarray, coding: str = STEM_CODING) -> int:
    """Sum over samples and elements of (spikes of the element's code) * (synapses each reaches)."""
    flat = codes.reshape(codes.shape[0], -1)
    return int(spike_counts(flat, coding).sum(axis=0) @ per_element)


def golden_activity(graph: Graph, codes: dict[str, np.ndarray], synapses: dict) -> dict[str, LayerActivity]:
    """From every tensor's codes (golden run_codes(..., keep=True)) and the synapse counts; spikes as
    the graph's coding sends them."""
    coding = graph.coding
    out = {INPUT_LAYER: LayerActivity(bit_planes(codes[graph.input], coding), 0)}
    for node in graph.nodes:
        if node.op not in NEURON_OPS:
            continue
        sops = sum(_weighted_spikes(codes[source], counts, coding) for source, counts in synapses.get(node.name, []))
        spikes = bit_planes(codes[node.output], coding)
        if node.name in out:  # a layer lowered to several nodes (a separable pool): one row
            spikes, sops = spikes + out[node.name].spikes_by_bit, sops + out[node.name].sops
        out[node.name] = LayerActivity(spikes, int(sops))
    return out


def run_golden_activity(graph: Graph, x: np.ndarray, arith: dict, synapses: dict):
    """(output codes, per-layer activity) of the golden model on the user's batch x."""
    codes = run_codes(graph, encode_input(x, graph.input_encode).reshape(x.shape), arith, keep=True)
    return codes[graph.output], golden_activity(graph, codes, synapses)


def simulated_activity(sim, counters) -> dict[str, LayerActivity]:
    """The same table from a simulator run (sdannc.sim.Simulator and its result's counters)."""
    image = sim.image
    bits = counters.sample_spikes.shape[1]
    by_core = np.zeros((len(image.cores), bits), dtype=np.int64)
    np.add.at(by_core, sim.neuron_core, counters.sample_spikes)
    out = {INPUT_LAYER: LayerActivity(np.asarray(counters.sample_input_spikes, dtype=np.int64), 0)}
    for index, core in enumerate(image.cores):
        row = out.setdefault(core.layer, LayerActivity(np.zeros(bits, dtype=np.int64), 0))
        row.spikes_by_bit = row.spikes_by_bit + by_core[index]
        row.sops += int(counters.sample_sops[index])
    return out


def sample_totals(activity: dict[str, LayerActivity]) -> tuple[int, int]:
    """(spikes, SOPs) inside real samples' windows, over every layer, the input's spikes included:
    what `sdannc sim` and `sdannc report` both divide by the samples for their per-sample figures."""
    return sum(a.spikes for a in activity.values()), sum(a.sops for a in activity.values())
