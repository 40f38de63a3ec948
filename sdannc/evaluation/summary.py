"""Merging the shards of an evaluation, and its summary: summary.json and index.html.

The shards' counters are integers and add up exactly (max_hops is a maximum); every figure per sample,
every fraction and the energy are computed once, from the sums, so that the summary does not depend on
how the inputs were sharded over workers. The host's timing is not here: it differs run to run
(run.py prints it and writes timing.json).
"""

from __future__ import annotations

import html

import numpy as np

from ..activity_report.page import STYLE, fmt

_MAX = {"max_hops"}


def add(total, part):
    """The sum of two counter trees (dicts of ints, lists of ints); max_hops is their maximum."""
    if total is None:
        return part
    if isinstance(part, dict):
        keys = list(total) + [k for k in part if k not in total]
        return {k: (max(total.get(k, 0), part.get(k, 0)) if k in _MAX else add(total.get(k), part.get(k)))
                for k in keys}
    if isinstance(part, list):
        return [a + b for a, b in zip(total, part)]
    return total + (part or 0)


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def summarize(records: list[dict], info: dict, target) -> dict:
    """The evaluation's summary from its shards' records (in input order) and what the run was of."""
    c = None
    correct = reference = None
    for record in records:
        c = add(c, record["counters"])
        if record["correct"] is not None:
            correct = (correct or 0) + record["correct"]
        if record["reference"] is not None:
            reference = add(reference, record["reference"])
    n = c["samples"]
    e = target.energy
    pj_sop = e["pj_per_sop"]
    breakdown = {"synaptic_pj": c["sops"]["total"] * pj_sop,
                 "instruction_pj": c["instructions"] * e["pj_per_instruction"],
                 "noc_pj": c["flit_hops"] * e["pj_per_flit_hop"]}
    chip_s = c["cycles"] / target.clock_hz
    summary = {
        **info,
        "target": target.name,
        "samples": n,
        "accuracy": None if correct is None else {"correct": correct, "fraction": correct / n},
        "reference": None if reference is None else {
            **info.get("reference_info", {}), **reference,
            "top1_agreement": reference["top1_agree"] / n,
            "element_equality": _ratio(reference["equal_elements"], reference["elements"]),
        },
        "per_sample": {  # in each sample's own window, as `sdannc sim` and `sdannc report` count
            "spikes": c["spikes"]["in_sample_windows"] / n,
            "sops": c["sops"]["in_sample_windows"] / n,
            "energy_pj": c["sops"]["in_sample_windows"] * pj_sop / n,
        },
        "chip": {  # each shard streamed through one chip: its pipeline fill and drain paid per shard
            "ticks": c["ticks"], "cycles": c["cycles"], "clock_mhz": target.clock_hz / 1e6,
            "time_s": chip_s, "samples_per_s": n / chip_s if chip_s else None,
        },
        "totals": {
            "spikes": c["spikes"], "sops": c["sops"], "instructions": c["instructions"],
            "flit_hops": c["flit_hops"], "max_hops": c["max_hops"],
            "energy_pj": sum(breakdown.values()), "energy_breakdown_pj": breakdown,
            "pj_per_sop": pj_sop,
        },
        "layers": [{"layer": name, "spikes": sum(row["spikes_by_bit"]), "spikes_per_sample": sum(row["spikes_by_bit"]) / n,
                    "spikes_by_bit": row["spikes_by_bit"], "sops": row["sops"], "sops_per_sample": row["sops"] / n,
                    "energy_pj_per_sample": row["sops"] * pj_sop / n} for name, row in c["layers"].items()],
        "per_core": {"spikes": c["spikes_per_core"], "sops": c["sops_per_core"]},
    }
    summary.pop("reference_info", None)
    return summary


def _row(label: str, value, key: str = "") -> str:
    cell = fmt(value) if isinstance(value, (int, float)) else html.escape(str(value))
    return f'<tr><td>{html.escape(label)}</td><td class="num" data-key="{key}">{cell}</td></tr>'


def render(s: dict) -> str:
    """index.html: the summary's figures; every number cell names its key in summary.json."""
    title = f"sdannc eval: {s['image']} on {s['target']}"
    rows = [_row("image", s["image"]), _row("input", s["input"]), _row("engine", s["engine"]),
            _row("samples", s["samples"], "samples"), _row("shards", s["shards"], "shards")]
    if s["accuracy"] is not None:
        rows += [_row("accuracy", s["accuracy"]["fraction"], "accuracy.fraction"),
                 _row("correct", s["accuracy"]["correct"], "accuracy.correct")]
    r = s["reference"]
    if r is not None:
        rows += [_row(f"top-1 agreement with onnxruntime ({r['mode']})", r["top1_agreement"], "reference.top1_agreement"),
                 _row("output elements equal to onnxruntime's", r["element_equality"], "reference.element_equality"),
                 _row("samples whose outputs all equal onnxruntime's", r["identical_samples"],
                      "reference.identical_samples")]
        if r.get("note"):
            rows.append(_row("note", r["note"]))
    p, chip, t = s["per_sample"], s["chip"], s["totals"]
    rows += [_row("spikes per sample", p["spikes"], "per_sample.spikes"),
             _row("synaptic operations per sample", p["sops"], "per_sample.sops"),
             _row("energy per sample, pJ (SOPs x pJ per SOP)", p["energy_pj"], "per_sample.energy_pj"),
             _row("chip time, s (shards streamed one after another)", chip["time_s"], "chip.time_s"),
             _row("chip throughput, samples per second", chip["samples_per_s"], "chip.samples_per_s"),
             _row("energy of the whole run, pJ (fill and drain included)", t["energy_pj"], "totals.energy_pj")]
    head = "<tr><th>layer</th><th>spikes per sample</th><th>SOPs per sample</th><th>energy per sample, pJ</th></tr>"
    layers = "".join(
        f"<tr><td>{html.escape(row['layer'])}</td>"
        + "".join(f'<td class="num" data-key="layers.{i}.{k}">{fmt(row[k])}</td>'
                  for k in ("spikes_per_sample", "sops_per_sample", "energy_pj_per_sample")) + "</tr>"
        for i, row in enumerate(s["layers"]))
    note = ('<p class="note">Per-sample figures count the spikes and SOPs inside the samples\' windows, averaged '
            "over the inputs; each shard is one stream through the chip, whose fill and drain the totals include.</p>")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head>\n<body><h1>{html.escape(title)}</h1>{note}\n"
            f'<section id="summary"><h2>Summary</h2><table><tr><th></th><th>value</th></tr>{"".join(rows)}</table></section>\n'
            f'<section id="layers"><h2>Per layer</h2><table>{head}{layers}</table></section>\n</body></html>\n')


def concatenate(records: list[dict]) -> np.ndarray:
    return np.concatenate([r["outputs"] for r in records], axis=0)
