"""The numbers of `sdannc compare` for one coding: one simulator run of the model compiled in it,
per layer and in total, next to onnxruntime's outputs on the same batch.

Per layer: spikes and SOPs inside the samples' windows (the integers, and per sample: their sums
over the layers are `sdannc sim`'s `in_sample_windows` counters), the layer's window and pipeline
stage in ticks, the cycles its cores were busy, and energy per sample: SOPs x the target's pJ per
SOP, the compile report's program energy (instructions over the layer's window x pJ per
instruction), and the SDANN table 9 method (the quantized ANN's MACs x `ann_pj_per_mac` against
SOPs x `snn_pj_per_ac`). In total, the simulator's own energy terms: SOPs, executed instructions and
flit-hops, fill and drain shared out. Accuracy against the labels and agreement with onnxruntime
(exact mode, sdannc/reference) on the decoded outputs.
"""

from __future__ import annotations

import numpy as np

from ..activity import INPUT_LAYER, simulated_activity
from ..image import ChipImage
from ..sim import Simulator
from ..sim.report import build_report

MEASURED, REFUSED = "measured", "refused"


def accuracy(outputs: np.ndarray, labels: np.ndarray | None) -> float | None:
    """Top-1 accuracy in percent (the largest output per sample is the class), None without labels."""
    if labels is None:
        return None
    return 100.0 * float(np.mean(outputs.reshape(len(outputs), -1).argmax(axis=1) == labels))


def output_steps(chip: np.ndarray, ref: np.ndarray, decode: dict) -> np.ndarray:
    """|chip - onnxruntime| per output element, in quantization steps of the output."""
    if decode.get("kind") == "dequantize":
        return np.rint(np.abs(chip.astype(np.float64) - ref.astype(np.float64)) / decode["scale"]).astype(np.int64)
    return np.abs(chip.astype(np.int64) - ref.astype(np.int64))


def agreement(chip: np.ndarray, ref: np.ndarray, decode: dict) -> dict:
    """How the chip's outputs compare with onnxruntime's: elements equal, the largest difference,
    and top-1 agreement (the same class for a sample)."""
    steps = output_steps(chip, ref.reshape(chip.shape), decode)
    flat_chip, flat_ref = chip.reshape(len(chip), -1), ref.reshape(len(ref), -1)
    return {
        "elements": int(steps.size),
        "differ": int(np.count_nonzero(steps)),
        "elements_equal": 1.0 - float(np.count_nonzero(steps)) / steps.size if steps.size else 1.0,
        "max_steps": int(steps.max(initial=0)),
        "top1": float(np.mean(flat_chip.argmax(axis=1) == flat_ref.argmax(axis=1))),
    }


def _layer_cycles(image: ChipImage, core_cycles: np.ndarray) -> dict[str, int]:
    cycles: dict[str, int] = {}
    for core, busy in zip(image.cores, core_cycles):
        cycles[core.layer] = cycles.get(core.layer, 0) + int(busy)
    return cycles


def _stages(image: ChipImage) -> dict[str, int]:
    stages: dict[str, int] = {}
    for core in image.cores:
        stages[core.layer] = max(stages.get(core.layer, 0), int(core.stage))
    return stages


def measure(coding: str, image: ChipImage, compiled: dict, where: str, x: np.ndarray, input_name: str,
            ref: np.ndarray, labels: np.ndarray | None, lanes: int = 1, progress=None) -> dict:
    """One coding's entry of the comparison: its image (and compile report) run on the batch x."""
    sim = Simulator(image, where)
    result = sim.run(x, lanes=lanes, name=input_name, progress=progress)
    activity, report = simulated_activity(sim, result.counters), build_report(sim, result)
    samples = x.shape[0]
    e = image.target.energy
    window = image.schedule.bits
    cycles, stages = _layer_cycles(image, result.counters.core_cycles), _stages(image)
    info = {row["layer"]: row for row in compiled["layers"]}
    order = [INPUT_LAYER] + [name for name in info if name != INPUT_LAYER]  # as `sdannc report` lists them
    rows = []
    for name in sorted(activity, key=lambda n: order.index(n) if n in order else len(order)):
        a = activity[name]
        layer = info.get(name, {"op": "input", "neurons": image.io.n_inputs, "cores": 0, "macs": 0,
                                "program_pj_per_sample": 0.0})
        sops_per_sample = a.sops / samples
        rows.append({
            "layer": name, "op": layer["op"], "neurons": layer["neurons"], "cores": layer["cores"],
            "spikes": a.spikes, "sops": a.sops,
            "spikes_per_sample": a.spikes / samples, "sops_per_sample": sops_per_sample,
            "macs_per_sample": layer.get("macs", 0),
            "stage": stages.get(name, 0), "window_ticks": window,
            "cycles": cycles.get(name, 0), "cycles_per_sample": cycles.get(name, 0) / samples,
            "energy_per_sample_pj": {
                "chip_sops": sops_per_sample * e["pj_per_sop"],
                "program": float(layer.get("program_pj_per_sample", 0.0)),
                "ann_macs": layer.get("macs", 0) * e["ann_pj_per_mac"],
                "snn_acs": sops_per_sample * e["snn_pj_per_ac"],
            },
        })
    spikes, sops = sum(r["spikes"] for r in rows), sum(r["sops"] for r in rows)
    macs = sum(r["macs_per_sample"] for r in rows)
    breakdown = report["energy"]["breakdown_pj"]
    ticks = max(report["ticks"], 1)
    cycles_per_tick = report["cycles"] / ticks
    clock_hz = report["clock_mhz"] * 1e6
    return {
        "coding": coding,
        "status": MEASURED,
        "cores_used": compiled["cores_used"],
        "neurons": compiled["neurons"],
        "layers": rows,
        "totals": {
            "spikes": spikes, "sops": sops,
            "spikes_per_sample": spikes / samples, "sops_per_sample": sops / samples,
            "macs_per_sample": macs,
        },
        "timing": {
            "ticks_per_sample": report["ticks_per_sample"],
            "ticks_between_samples": report["ticks_between_samples"],
            "ticks": report["ticks"],
            "cycles": report["cycles"],
            "cycles_per_sample": report["cycles_per_sample"],
            "cycles_per_tick": cycles_per_tick,
            "latency_us": report["ticks_per_sample"] * cycles_per_tick / clock_hz * 1e6,
            "pipelined_samples_per_s": clock_hz / (cycles_per_tick * report["ticks_between_samples"]),
        },
        "energy_per_sample_pj": {
            "chip_sops": report["energy"]["per_sample_pj"],
            "instructions": breakdown["instruction_pj"] / samples,
            "noc": breakdown["noc_pj"] / samples,
            "chip_simulated": report["energy"]["per_sample_all_pj"],
            "program_estimate": sum(r["energy_per_sample_pj"]["program"] for r in rows),
            "ann_macs": macs * e["ann_pj_per_mac"],
            "snn_acs": sops / samples * e["snn_pj_per_ac"],
            "pj_per_sop": e["pj_per_sop"], "pj_per_instruction": e["pj_per_instruction"],
            "pj_per_flit_hop": e["pj_per_flit_hop"], "pj_per_mac": e["ann_pj_per_mac"],
            "pj_per_ac": e["snn_pj_per_ac"],
        },
        "accuracy": accuracy(result.outputs, labels),
        "agreement": agreement(result.outputs, ref, image.io.output_decode),
        "simulator": report,
    }


def refused(coding: str, message: str) -> dict:
    """The entry of a coding the compiler refused for this model: its one-line message."""
    return {"coding": coding, "status": REFUSED, "message": " ".join(message.split())}
