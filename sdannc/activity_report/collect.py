"""The numbers of `sdannc report`: one simulator run of a compiled image on the user's batch (and a
second with sparsification switched off, when the image has some), gathered into one dict.

Per layer: spikes and SOPs per sample (SDANN fig. 9), spikes by bit position (fig. 8), SOPs with and
without sparsification. Energy per sample three ways: the quantized ANN's MACs x 0.23 pJ against the
SNN's accumulates (SOPs) x 0.03 pJ (the paper's table 9 method, 45 nm figures of its ref. [33]), and
SOPs x the target's pJ per SOP (plus the simulator's instruction and network energy). The table 9
figures are the target's `ann_pj_per_mac` and `snn_pj_per_ac`. Latency and pipelined throughput
from the schedule and the simulated cycles per tick.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np

from ..activity import INPUT_LAYER, sample_totals, simulated_activity
from ..errors import SdanncError
from ..fileio import as_batch
from ..image import ChipImage, read_image
from ..ir.codes import CODE_MAX
from ..sim import Simulator
from ..sim.report import build_report
from ..sparsify import parse_setting

def _registers(pair, core) -> tuple[int, int]:
    ok = isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(i, int) and 0 <= i < core.config.size
                                                           for i in pair)
    if not ok:
        raise SdanncError(f"image: network.json: meta.sparsify_registers of layer {core.layer} is damaged "
                          f"({pair!r}): recompile")
    return pair[0], pair[1]


def without_sparsification(image: ChipImage) -> ChipImage:
    """The same image with every sparsified layer's round-add 0 and keep-mask all ones: the program
    still runs its sparsify block, which then changes nothing."""
    registers = image.meta.get("sparsify_registers", {})
    if not isinstance(registers, dict):
        raise SdanncError(f"image: network.json: meta.sparsify_registers is damaged ({registers!r}): recompile")
    plain = copy.copy(image)
    plain.cores = []
    for core in image.cores:
        if core.layer in registers:
            round_add, keep_mask = _registers(registers[core.layer], core)
            core = copy.copy(core)
            core.config = core.config.copy()
            core.config[round_add], core.config[keep_mask] = 0, CODE_MAX
        plain.cores.append(core)
    return plain


def _compile_report(image_dir: Path):
    """report.json beside the image, as JSON (checked by collect_image); None if there is none."""
    path = image_dir / "report.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise SdanncError(f"image {image_dir}: report.json is not readable JSON ({exc}): recompile") from None


def _count(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_compile_report(data, where: str) -> None:
    """The fields the page uses, of the kinds it uses them as: report.json is not under the manifest's
    checksums, so an edit or a damaged byte reaches this far."""
    if not isinstance(data, dict):
        raise SdanncError(f"{where}: not a JSON object: recompile")
    for key in ("cores_used", "cores_available"):
        if not _count(data.get(key)):
            raise SdanncError(f"{where}: key '{key}' is not a count ({data.get(key)!r}): recompile")
    layers = data.get("layers")
    if not isinstance(layers, list):
        raise SdanncError(f"{where}: key 'layers' is not a list: recompile")
    for i, layer in enumerate(layers):
        if not (isinstance(layer, dict) and all(isinstance(layer.get(k), str) for k in ("layer", "op"))
                and _count(layer.get("neurons")) and _count(layer.get("cores")) and _count(layer.get("macs", 0))):
            raise SdanncError(f"{where}: layers[{i}] is damaged (a layer needs names 'layer', 'op' and counts "
                              "'neurons', 'cores', 'macs'): recompile")


def _sparsified(image: ChipImage, image_where: str) -> dict[str, dict]:
    """Layer -> its RoT / DRLO setting, as the compiler noted them in the image's meta (free-form in
    the image format, so checked here, where the page is about to print them)."""
    where = f"image {image_where}: network.json: meta.sparsify"
    section = image.meta.get("sparsify", {})
    if not isinstance(section, dict):
        raise SdanncError(f"{where} is not a mapping of layers to settings: recompile")
    return {str(layer): parse_setting(value, f"{where}.{layer}").as_dict() for layer, value in section.items()}


def _run(image: ChipImage, where: str, x: np.ndarray, name: str, lanes: int, progress):
    """One simulation (Simulator.run checks the input first)."""
    sim = Simulator(image, where)
    result = sim.run(x, lanes=lanes, name=name, progress=progress)
    return simulated_activity(sim, result.counters), build_report(sim, result)


def collect(image_dir, x, lanes: int = 1, progress=None) -> dict:
    """The report's numbers for the image in image_dir, with the report.json beside it, on the batch x
    (a .npy path or an array)."""
    image_dir = Path(image_dir)
    image = read_image(image_dir)
    return collect_image(image, _compile_report(image_dir), str(image_dir), x, lanes, progress)


def collect_image(image: ChipImage, compiled: dict | None, where: str, x, lanes: int = 1, progress=None) -> dict:
    """collect() of an image in memory and its compile report (None if it has none); `where` names it."""
    if compiled is None:
        raise SdanncError(f"image {where}: no report.json beside it: compile it with `sdannc compile` first")
    _check_compile_report(compiled, f"image {where}: report.json")
    x, input_name = as_batch(x, "input")
    sparsified = _sparsified(image, where)  # the image's meta checked before any run (and progress line)
    unsparsified = without_sparsification(image) if sparsified else None
    activity, sim = _run(image, where, x, input_name, lanes, progress)
    samples = x.shape[0]  # after the run, which checks the input's shape
    plain = _run(unsparsified, where, x, input_name, lanes, None)[0] if sparsified else activity

    rows = []
    for name, info in [(INPUT_LAYER, {"op": "input", "neurons": image.io.n_inputs, "cores": 0, "macs": 0})] + \
            [(r["layer"], r) for r in compiled["layers"]]:
        if any(row["layer"] == name for row in rows) or name not in activity:
            continue
        a, p = activity[name], plain[name]
        rows.append({
            "layer": name, "op": info["op"], "neurons": info["neurons"], "cores": info["cores"],
            "sparsify": sparsified.get(name, {}),
            "spikes_per_sample": a.spikes / samples,
            "sops_per_sample": a.sops / samples,
            "sops_without_sparsify_per_sample": p.sops / samples,
            "spikes_without_sparsify_per_sample": p.spikes / samples,
            "macs_per_sample": info.get("macs", 0),
            "spikes_by_bit_per_sample": (a.spikes_by_bit / samples).tolist(),
        })
    spikes, sops = (total / samples for total in sample_totals(activity))  # as `sdannc sim` counts them
    sops_plain = sample_totals(plain)[1] / samples
    macs = sum(r["macs_per_sample"] for r in rows)
    ticks = max(sim["ticks"], 1)
    cycles_per_tick = sim["cycles"] / ticks
    clock_hz = sim["clock_mhz"] * 1e6
    pj_per_sop = sim["energy"]["pj_per_sop"]
    pj_per_mac, pj_per_ac = image.target.energy["ann_pj_per_mac"], image.target.energy["snn_pj_per_ac"]
    return {
        "image": where,
        "model": compiled.get("model"),
        "target": sim["target"],
        "input": input_name,
        "samples": samples,
        "cores_used": compiled["cores_used"],
        "cores_available": compiled["cores_available"],
        "layers": rows,
        "totals": {
            "spikes_per_sample": spikes,
            "sops_per_sample": sops,
            "sops_without_sparsify_per_sample": sops_plain,
            "sops_saved_fraction": 1 - sops / sops_plain if sops_plain else 0.0,
            "macs_per_sample": macs,
            "fill_drain_sops": sim["synaptic_ops"]["fill_drain"],
        },
        "energy_per_sample_pj": {
            "ann_macs": macs * pj_per_mac,
            "snn_acs": sops * pj_per_ac,
            "chip_sops": sops * pj_per_sop,
            "chip_simulated": sim["energy"]["total_pj"] / samples,  # fill and drain shared out
            "pj_per_mac": pj_per_mac,
            "pj_per_ac": pj_per_ac,
            "pj_per_sop": pj_per_sop,
        },
        "timing": {
            "ticks_per_sample": sim["ticks_per_sample"],
            "ticks_between_samples": sim["ticks_between_samples"],
            "cycles_per_tick": cycles_per_tick,
            "clock_mhz": sim["clock_mhz"],
            "latency_us": sim["ticks_per_sample"] * cycles_per_tick / clock_hz * 1e6,
            "pipelined_samples_per_s": clock_hz / (cycles_per_tick * sim["ticks_between_samples"]),
        },
        "simulator": sim,
        **({"board": board_data(image, compiled, sim, samples)} if "board" in sim else {}),
    }


def board_data(image: ChipImage, compiled: dict, sim: dict, samples: int) -> dict:
    """What the report shows of a board: the grid, the cores used, the compiler's estimate and the
    simulated loads (the board plot's data)."""
    target = image.target
    return {"grid": list(target.grid_size), "chip": [target.mesh["width"], target.mesh["height"]],
            "cores": [[c.x, c.y] for c in image.cores], "samples": samples,
            "compiled": compiled.get("board"), "simulated": sim["board"]}
