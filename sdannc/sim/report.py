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
    energy = {
        "synaptic_pj": float(c.sops.sum() * e["pj_per_sop"]),
        "instruction_pj": float(c.instructions * e["pj_per_instruction"]),
        "noc_pj": float(link_flits.sum() * e["pj_per_flit_hop"]),
    }
    energy_total = sum(energy.values())
    spikes_total, sops_total = neuron_spikes + c.input_spikes, int(c.sops.sum())
    activity = simulated_activity(sim, c)
    spikes_in, sops_in = sample_totals(activity)
    sched = image.schedule
    return {
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
