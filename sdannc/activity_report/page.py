"""The report folder: index.html (self-contained: figures inlined as data URIs), report.json with
every number the page shows, the figures as PNG files, and manifest.json (format sdannc-report, the
sha256 of every other file), by which the next `sdannc report` recognises the folder as its own.

Every number cell of the page carries `data-key`, the path of its value in report.json
(`layers.2.sops_per_sample`), so that a reader or a test can trace it back.
"""

from __future__ import annotations

import base64
import html

from ..version import __version__
from ..fileio import MANIFEST, REPORT_FORMAT, checksums, json_bytes, write_folder
from ..ir.codes import CODE_BITS
from ..sparsify import Setting
from . import plots

FORMAT = REPORT_FORMAT
FORMAT_VERSION = 1

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { padding: 0.2em 0.7em; border-bottom: 1px solid #ddd; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { text-align: left; background: #f3f3f3; }
img { max-width: 100%; }
.note { color: #666; font-size: 0.9em; }
"""


def fmt(value) -> str:
    """How the page writes a number (the tests read it back the same way)."""
    if isinstance(value, int):
        return f"{value:,}"
    if value == 0 or abs(value) >= 0.01:
        return f"{value:,.2f}"
    return f"{value:.3g}"


def num_cell(data: dict, key: str) -> str:
    value = data
    for part in key.split("."):
        value = value[int(part)] if isinstance(value, list) else value[part]
    return f'<td class="num" data-key="{key}">{fmt(value)}</td>'


def text_cell(value) -> str:
    return f"<td>{html.escape(str(value))}</td>"


def table(head, rows) -> str:
    header = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return "<table><tr>" + header + "</tr>" + "".join(f"<tr>{''.join(r)}</tr>" for r in rows) + "</table>"


def figure(name: str, png: bytes, alt: str) -> str:
    data = base64.b64encode(png).decode()
    return f'<img id="fig-{name}" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _setting(row) -> str:
    return str(Setting(**row["sparsify"]))


def _sections(d: dict, figures: dict[str, bytes]) -> list[str]:
    layers = list(enumerate(d["layers"]))
    bits = len(d["layers"][0]["spikes_by_bit_per_sample"]) if d["layers"] else 0
    e = d["energy_per_sample_pj"]
    return [
        ("summary", "Summary", table(["", "value"], [
            [text_cell("model"), text_cell(d["model"])], [text_cell("target"), text_cell(d["target"])],
            [text_cell("input"), text_cell(d["input"])], [text_cell("samples"), num_cell(d, "samples")],
            [text_cell("cores used"), num_cell(d, "cores_used")], [text_cell("cores on the chip"), num_cell(d, "cores_available")],
            [text_cell("spikes per sample"), num_cell(d, "totals.spikes_per_sample")],
            [text_cell("synaptic operations per sample"), num_cell(d, "totals.sops_per_sample")],
            [text_cell("multiply-accumulates per sample (the quantized ANN)"), num_cell(d, "totals.macs_per_sample")],
            [text_cell("SOPs of pipeline fill and drain (whole run, not per sample)"), num_cell(d, "totals.fill_drain_sops")],
        ]), ""),
        ("timing", "Latency and pipelined throughput", table(["", "value"], [
            [text_cell("ticks per sample (latency)"), num_cell(d, "timing.ticks_per_sample")],
            [text_cell("ticks between samples (pipelined)"), num_cell(d, "timing.ticks_between_samples")],
            [text_cell("cycles per tick (simulated mean)"), num_cell(d, "timing.cycles_per_tick")],
            [text_cell("clock, MHz"), num_cell(d, "timing.clock_mhz")],
            [text_cell("latency, us"), num_cell(d, "timing.latency_us")],
            [text_cell("throughput, samples per second"), num_cell(d, "timing.pipelined_samples_per_s")],
        ]), ""),
        ("energy", "Energy per sample", table(["estimate", "pJ per sample", "pJ per operation"], [
            [text_cell("quantized ANN: MACs x pJ per MAC (SDANN table 9)"), num_cell(d, "energy_per_sample_pj.ann_macs"),
             num_cell(d, "energy_per_sample_pj.pj_per_mac")],
            [text_cell("SNN: accumulates (SOPs) x pJ per AC (SDANN table 9)"), num_cell(d, "energy_per_sample_pj.snn_acs"),
             num_cell(d, "energy_per_sample_pj.pj_per_ac")],
            [text_cell(f"chip: SOPs x the target's pJ per SOP ({e['pj_per_sop']})"), num_cell(d, "energy_per_sample_pj.chip_sops"),
             num_cell(d, "energy_per_sample_pj.pj_per_sop")],
            [text_cell("chip, simulated: SOPs, instructions and network, fill and drain shared out"),
             num_cell(d, "energy_per_sample_pj.chip_simulated"), text_cell("")],
        ]), figure("energy", figures["energy.png"], "energy per sample")),
        ("layers", "Spikes and synaptic operations per layer", table(
            ["layer", "op", "neurons", "cores", "spikes per sample", "SOPs per sample", "MACs per sample"],
            [[text_cell(r["layer"]), text_cell(r["op"]), num_cell(d, f"layers.{i}.neurons"), num_cell(d, f"layers.{i}.cores"),
              num_cell(d, f"layers.{i}.spikes_per_sample"), num_cell(d, f"layers.{i}.sops_per_sample"),
              num_cell(d, f"layers.{i}.macs_per_sample")] for i, r in layers]),
         figure("spikes-sops", figures["spikes_sops.png"], "spikes and SOPs per layer")),
        ("bits", "Spikes by bit position (MSB first)" if bits == CODE_BITS else "Spikes by tick of the window "
         "(ttfs: tick 256 - code; rate: the first code ticks; docs/codings.md)", table(
            ["layer"] + [f"bit {bits - 1 - b}" if bits == CODE_BITS else f"tick {b}" for b in range(bits)],
            [[text_cell(r["layer"])] + [num_cell(d, f"layers.{i}.spikes_by_bit_per_sample.{b}") for b in range(bits)]
             for i, r in layers]),
         figure("bits", figures["bit_positions.png"], "share of spikes per bit position")),
        ("sparsification", "Sparsification (RoT / DRLO)", table(
            ["layer", "setting", "SOPs without", "SOPs with", "spikes without", "spikes with"],
            [[text_cell(r["layer"]), text_cell(_setting(r)), num_cell(d, f"layers.{i}.sops_without_sparsify_per_sample"),
              num_cell(d, f"layers.{i}.sops_per_sample"), num_cell(d, f"layers.{i}.spikes_without_sparsify_per_sample"),
              num_cell(d, f"layers.{i}.spikes_per_sample")] for i, r in layers]
            + [[text_cell("all"), text_cell(""), num_cell(d, "totals.sops_without_sparsify_per_sample"),
                num_cell(d, "totals.sops_per_sample"), text_cell(""), text_cell("")]]),
         figure("sparsification", figures["sparsification.png"], "SOPs with and without sparsification")),
    ]


def _maybe(value) -> str:
    return "-" if value is None else fmt(value)


def _board_section(d: dict, figures: dict[str, bytes]) -> tuple:
    """Chips, per-chip use and per-link traffic: the simulated loads, the compiler's estimate beside."""
    sim, samples = d["board"]["simulated"], max(d["samples"], 1)
    estimate = {(tuple(e["from"]), tuple(e["to"])): e["packets_per_sample"]
                for e in (d["board"].get("compiled") or {}).get("chip_links", [])}
    chips = table(["chip", "cores", "neurons", "SOPs per sample", "spikes per sample"],
                   [[text_cell(tuple(c["chip"])), text_cell(fmt(c["cores"])), text_cell(fmt(c["neurons"])),
                     text_cell(fmt(c["synaptic_ops"] / samples)), text_cell(fmt(c["spikes"] / samples))] for c in sim["chips"]])
    links = table(["chip link", "packets per sample", "compiler's estimate", "busiest border link",
                    "its packets per sample"],
                   [[text_cell(f"{tuple(e['from'])} -> {tuple(e['to'])}"), text_cell(fmt(e["packets_per_sample"])),
                     text_cell(_maybe(estimate.get((tuple(e["from"]), tuple(e["to"]))))), text_cell(e["busiest_link"]),
                     text_cell(fmt(e["busiest_link_packets"] / samples))] for e in sim["chip_links"]])
    return ("board", "Board: chips and chip-to-chip links", chips + links,
            figure("board", figures["board.png"], "link loads on the board"))


def render(d: dict, figures: dict[str, bytes]) -> str:
    title = f"sdannc report: {d['model']} on {d['target']}"
    sections = _sections(d, figures) + ([_board_section(d, figures)] if "board" in d else [])
    note = ('<p class="note">Per-sample figures count the spikes and SOPs inside the samples\' windows; the '
            "pipeline's fill and drain (layers computing on zeros before and after the stream) is counted apart. "
            "Numbers per sample are averages over the batch.</p>")
    return html_page(title, note, [(key, heading, cells + image) for key, heading, cells, image in sections])


def html_page(title: str, note: str, sections) -> str:
    """The page of a report folder: the title, a note (HTML), and one <section> per (id, heading, HTML)."""
    body = [f'<section id="{key}"><h2>{html.escape(heading)}</h2>{content}</section>'
            for key, heading, content in sections]
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head>\n<body><h1>{html.escape(title)}</h1>{note}\n" + "\n".join(body)
            + "\n</body></html>\n")


def write_report(d: dict, out_dir, force: bool = False) -> None:
    """Write the report folder atomically; out_dir is replaced only if it is empty or an earlier
    report (any other folder only with `force`: see fileio.check_output_folder)."""
    figures = {
        "spikes_sops.png": plots.spikes_and_sops(d["layers"]),
        "bit_positions.png": plots.bit_positions(d["layers"]),
        "sparsification.png": plots.sparsification(d["layers"]),
        "energy.png": plots.energy(d["energy_per_sample_pj"]),
        **({"board.png": plots.board(d["board"])} if "board" in d else {}),
    }
    files = {"index.html": render(d, figures).encode(), "report.json": json_bytes(d), **figures}
    files[MANIFEST] = json_bytes({"format": FORMAT, "format_version": FORMAT_VERSION, "tool": f"sdannc {__version__}",
                                  "files": checksums(files)}, sort_keys=True)
    write_folder(files, out_dir, FORMAT, force)
