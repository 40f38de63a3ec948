"""The simulation report: ticks, cycles, time, spikes, synaptic operations, hot spots, energy.

Spikes, SOPs and energy per sample count each sample's own window only (sdannc/sim/windows.py, the
definition `sdannc report` uses); the totals are the whole run's, with the pipeline filling and
draining, which belongs to no sample and is also given apart (`fill_drain`).
"""

from __future__ import annotations

import numpy as np

from ..activity import sample_totals, simulated_activity
from .simulator import SimResult, Simulator


def _per_core(image, values: np.ndarray) -> dict[str, int]:
    return {core.name: int(v) for core, v in zip(image.cores, values)}


def build_report(sim: Simulator, result: SimResult) -> dict:
    image, target, c = sim.image, sim.target, result.counters
    samples = max(result.samples, 1)
    tick_cycles = np.asarray(c.tick_cycles, dtype=np.int64).reshape(-1, result.lanes) if c.tick_cycles else \
        np.zeros((0, result.lanes), dtype=np.int64)
    total_cycles = int(tick_cycles.sum())
    seconds = total_cycles / target.clock_hz
    spikes_per_core = np.bincount(sim.neuron_core, weights=c.neuron_spikes, minlength=len(image.cores))
    neuron_spikes = int(c.neuron_spikes.sum())
    link_flits = c.link_flits
    busiest_link = int(np.argmax(link_flits)) if link_flits.size else 0
    busiest_core = int(np.argmax(c.core_cycles)) if c.core_cycles.size else 0
    e = target.energy
    chip = sim.network.chip_links
    energy = {
        "synaptic_pj": float(c.sops.sum() * e["pj_per_sop"]),
        "instruction_pj": float(c.instructions * e["pj_per_instruction"]),
        "noc_pj": float(link_flits.sum() * e["pj_per_flit_hop"]) if chip is None else
        float(link_flits[~chip].sum() * e["pj_per_flit_hop"]),
    }
    if chip is not None:  # a board: its chip-to-chip links' flits at their own energy
        energy["chip_link_pj"] = float(link_flits[chip].sum() * target.chip_links["pj_per_flit"])
    energy_total = sum(energy.values())
    spikes_total, sops_total = neuron_spikes + c.input_spikes, int(c.sops.sum())
    activity = simulated_activity(sim, c)
    spikes_in, sops_in = sample_totals(activity)
    sched = image.schedule
    report = {
        "image": sim.where,
        "target": target.name,
        "engine": sim.engine,
        "samples": result.samples,
        "lanes": result.lanes,
        "ticks": result.ticks,
        "ticks_per_sample": sched.latency,
        "ticks_between_samples": sched.sample_interval,
        "cycles": total_cycles,
        "cycles_per_sample": total_cycles / samples,
        "clock_mhz": target.clock_hz / 1e6,
        "time_s": seconds,
        "time_per_sample_s": seconds / samples,
        "throughput_samples_per_s": (result.samples / seconds) if seconds else None,
        "spikes": {
            "per_sample": spikes_in / samples,
            "in_sample_windows": spikes_in,
            "total": spikes_total,
            "fill_drain": spikes_total - spikes_in,
            "neurons": neuron_spikes,
            "inputs": c.input_spikes,
            "per_core": _per_core(image, spikes_per_core),
        },
        "synaptic_ops": {
            "per_sample": sops_in / samples,
            "in_sample_windows": sops_in,
            "total": sops_total,
            "fill_drain": sops_total - sops_in,
            "per_core": _per_core(image, c.sops),
        },
        "instructions": int(c.instructions),
        "busiest_core": {
            "core": image.cores[busiest_core].name if image.cores else None,
            "cycles": int(c.core_cycles[busiest_core]) if c.core_cycles.size else 0,
            "synaptic_ops": int(c.sops[busiest_core]) if c.sops.size else 0,
        },
        "busiest_link": {"link": sim.network.mesh.link_name(busiest_link), "flits": int(link_flits[busiest_link])
                         if link_flits.size else 0},
        "noc": {"flit_hops": int(link_flits.sum()), "max_hops": c.max_hops},
        "energy": {
            # the SOPs of each sample's window; instructions and the network are not split by sample
            "per_sample_pj": sops_in * e["pj_per_sop"] / samples,
            "per_sample_all_pj": energy_total / samples,  # every term, fill and drain shared out
            "total_pj": energy_total,
            "fill_drain_pj": (sops_total - sops_in) * e["pj_per_sop"],
            "breakdown_pj": energy,
            "pj_per_sop": e["pj_per_sop"],
        },
        # inside real samples' windows, per layer (the rows of `sdannc report`): integers, which add
        # exactly over batches (sdannc eval merges its shards' reports with them)
        "layers": {name: {"spikes_by_bit": [int(v) for v in a.spikes_by_bit], "sops": int(a.sops)}
                   for name, a in activity.items()},
    }
    if chip is not None:
        report["board"] = board_section(sim, c, samples)
    return report


def board_section(sim: Simulator, c, samples: int) -> dict:
    """Per chip its cores, SOPs and spikes; per chip-to-chip edge (the border links between two
    neighbouring chips, one way) its packets per sample and its busiest border link; the worst edge."""
    image, mesh, target = sim.image, sim.network.mesh, sim.target
    per_packet = target.noc["flits_per_packet"]
    chips: dict[tuple, dict] = {}
    spikes = np.bincount(sim.neuron_core, weights=c.neuron_spikes, minlength=len(image.cores))
    for i, core in enumerate(image.cores):
        row = chips.setdefault(target.chip_of(core.x, core.y), {"cores": 0, "neurons": 0, "synaptic_ops": 0,
                                                                "spikes": 0})
        row["cores"] += 1
        row["neurons"] += core.n_neurons
        row["synaptic_ops"] += int(c.sops[i])
        row["spikes"] += int(spikes[i])
    edges: dict[tuple, dict] = {}
    flits = c.link_flits
    # inside real samples' windows (as the SOPs per sample are counted): the pipeline's fill and drain left out
    in_samples = np.asarray(sim.network.route_link_flits.T @ c.sample_route_packets).ravel()
    for link in np.flatnonzero(sim.network.chip_links & (flits > 0)).tolist():
        a, b = mesh.link_chips(link)
        edge = edges.setdefault((a, b), {"from": list(a), "to": list(b), "packets": 0, "packets_per_sample": 0.0,
                                         "busiest_link": "", "busiest_link_packets": 0})
        packets = int(flits[link]) // per_packet
        edge["packets"] += packets
        edge["packets_per_sample"] += float(in_samples[link]) / per_packet / samples
        if packets > edge["busiest_link_packets"]:
            edge["busiest_link"], edge["busiest_link_packets"] = mesh.link_name(link), packets
    rows = sorted(edges.values(), key=lambda e: (e["from"], e["to"]))
    on_chip = np.where(sim.network.chip_links, 0, flits)
    busiest = int(np.argmax(np.where(sim.network.chip_links, 0, in_samples))) if flits.size else 0
    return {
        "chips": [{"chip": list(k), **v} for k, v in chips.items()],
        "chip_links": rows,
        "worst_chip_link": max(rows, key=lambda e: e["packets"], default=None),
        # by the samples' own flits; `flits` the whole run's over that link
        "busiest_on_chip_link": {"link": mesh.link_name(busiest), "flits": int(on_chip[busiest]) if flits.size else 0,
                                 "flits_per_sample": float(in_samples[busiest]) / samples if flits.size else 0.0},
        "chip_link_flits": int(flits[sim.network.chip_links].sum()),
        # every link that carried a flit: board position (x, y), direction, the samples' flits (the board plot)
        "links": [[*mesh.xy(link // 4), "EWNS"[link % 4], int(in_samples[link])]
                  for link in np.flatnonzero(flits).tolist()],
    }
