"""The comparison folder: index.html (figures inlined), comparison.json with every number the page
shows, the figures as PNG files, and manifest.json (format sdannc-comparison, the sha256 of every
other file), by which the next `sdannc compare` recognises the folder as its own.

As on the activity report's page, every number cell carries `data-key`, the path of its value in
comparison.json (`results.0.totals.sops_per_sample`).
"""

from __future__ import annotations

import html

from ..activity_report.page import figure, html_page, num_cell, table, text_cell
from ..fileio import COMPARISON_FORMAT, MANIFEST, checksums, json_bytes, write_folder
from ..version import __version__
from . import plots
from .measure import MEASURED

FORMAT_VERSION = 1
DATA = "comparison.json"


def _cell(d: dict, key: str) -> str:
    """A number cell, or "n/a" for a figure that was not measured (accuracy without labels)."""
    value = d
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return num_cell(d, key) if value is not None else f'<td class="num" data-key="{key}">n/a</td>'


def _measured(d: dict) -> list[tuple[int, dict]]:
    return [(i, r) for i, r in enumerate(d["results"]) if r["status"] == MEASURED]


def _codings_table(d: dict) -> str:
    head = ["coding", "spikes per sample", "SOPs per sample", "ticks per sample", "ticks between samples",
            "cycles per sample", "latency, us", "chip energy per sample, pJ", "accuracy, %",
            "outputs equal to onnxruntime", "largest difference, steps", "top-1 agreement"]
    rows = []
    for i, r in enumerate(d["results"]):
        k = f"results.{i}"
        if r["status"] != MEASURED:
            rows.append([text_cell(r["coding"]), f'<td colspan="{len(head) - 1}">refused: '
                         f'{html.escape(r["message"])}</td>'])
            continue
        rows.append([text_cell(r["coding"]), _cell(d, f"{k}.totals.spikes_per_sample"),
                     _cell(d, f"{k}.totals.sops_per_sample"), _cell(d, f"{k}.timing.ticks_per_sample"),
                     _cell(d, f"{k}.timing.ticks_between_samples"), _cell(d, f"{k}.timing.cycles_per_sample"),
                     _cell(d, f"{k}.timing.latency_us"), _cell(d, f"{k}.energy_per_sample_pj.chip_simulated"),
                     _cell(d, f"{k}.accuracy"), _cell(d, f"{k}.agreement.elements_equal"),
                     _cell(d, f"{k}.agreement.max_steps"), _cell(d, f"{k}.agreement.top1")])
    return table(head, rows)


def _energy_table(d: dict) -> str:
    head = ["coding", "SOPs x pJ per SOP", "instructions x pJ per instruction", "flit-hops x pJ per flit-hop",
            "chip, simulated (all three)", "program estimate (compile report)", "quantized ANN: MACs x pJ per MAC",
            "SNN: ACs x pJ per AC"]
    rows = []
    for i, r in _measured(d):
        k = f"results.{i}.energy_per_sample_pj"
        rows.append([text_cell(r["coding"])] + [_cell(d, f"{k}.{name}") for name in (
            "chip_sops", "instructions", "noc", "chip_simulated", "program_estimate", "ann_macs", "snn_acs")])
    return table(head, rows)


def _layers_table(d: dict, i: int) -> str:
    head = ["layer", "op", "neurons", "cores", "stage", "window, ticks", "spikes per sample", "SOPs per sample",
            "cycles per sample", "SOPs x pJ/SOP", "program", "ANN MACs (table 9)", "SNN ACs (table 9)"]
    rows = []
    for j, row in enumerate(d["results"][i]["layers"]):
        k = f"results.{i}.layers.{j}"
        rows.append([text_cell(row["layer"]), text_cell(row["op"])] + [_cell(d, f"{k}.{name}") for name in (
            "neurons", "cores", "stage", "window_ticks", "spikes_per_sample", "sops_per_sample", "cycles_per_sample",
            "energy_per_sample_pj.chip_sops", "energy_per_sample_pj.program", "energy_per_sample_pj.ann_macs",
            "energy_per_sample_pj.snn_acs")])
    return table(head, rows)


def _sections(d: dict, figures: dict[str, bytes]) -> list[tuple[str, str, str]]:
    ref = d["reference"]
    summary = table(["", "value"], [
        [text_cell("model"), text_cell(d["model"])], [text_cell("target"), text_cell(d["target"])],
        [text_cell("input"), text_cell(d["input"])], [text_cell("samples"), num_cell(d, "samples")],
        [text_cell("labels"), text_cell(d["labels"] or "none given")],
        [text_cell("codings"), text_cell(", ".join(d["codings"]))],
        [text_cell("onnxruntime"), text_cell(ref["mode"] + (f": {ref['note']}" if ref["note"] else ""))],
        [text_cell("onnxruntime's accuracy, %"), _cell(d, "reference.accuracy")],
    ])
    sections = [
        ("summary", "Summary", summary),
        ("codings", "The codings side by side", _codings_table(d)),
        ("energy", "Energy per sample, pJ", _energy_table(d)),
        ("figures", "SOPs per layer, energy against latency",
         figure("sops", figures["sops_per_layer.png"], "SOPs per layer by coding")
         + figure("energy-latency", figures["energy_latency.png"], "energy against latency")),
    ]
    for i, r in _measured(d):
        sections.append((f"layers-{r['coding']}", f"Per layer: {r['coding']}", _layers_table(d, i)))
    return sections


def render(d: dict, figures: dict[str, bytes]) -> str:
    title = f"sdannc compare: {d['model']} on {d['target']}"
    note = ('<p class="note">Spikes and SOPs per sample count the samples\' own windows (as sdannc sim and '
            "sdannc report do); the chip's simulated energy is the whole run's (SOPs, executed instructions, "
            "flit-hops), fill and drain shared out over the samples. Outputs are compared with onnxruntime in its "
            "exact integer mode, in quantization steps of the output. A refused coding is one the compiler "
            "cannot lower this model to; its message says which layer and why.</p>")
    return html_page(title, note, _sections(d, figures))


def write_comparison(d: dict, out_dir, force: bool = False) -> None:
    """Write the comparison folder atomically; out_dir is replaced only if it is empty or an earlier
    comparison (any other folder only with `force`: see fileio.check_output_folder)."""
    measured = [r for r in d["results"] if r["status"] == MEASURED]
    figures = {"sops_per_layer.png": plots.sops_per_layer(measured),
               "energy_latency.png": plots.energy_and_latency(measured)}
    files = {"index.html": render(d, figures).encode(), DATA: json_bytes(d), **figures}
    files[MANIFEST] = json_bytes({"format": COMPARISON_FORMAT, "format_version": FORMAT_VERSION,
                                  "tool": f"sdannc {__version__}", "files": checksums(files)}, sort_keys=True)
    write_folder(files, out_dir, COMPARISON_FORMAT, force)
