"""The compile report: per layer what it costs on the chip, and the totals (pure analysis)."""

from __future__ import annotations

import numpy as np

from ..image import ChipImage
from ..image.memory import axon_memory_words, dendrite_memory_words
from ..ir.graph import Graph
from ..neurons import NEURONS
from ..target import Target
from ..neurons.stem import WEIGHTED
from .program_cost import program_cost
from .synapses import layer_synapses


def _hops(image: ChipImage) -> tuple[int, int]:
    """Hops of every axon entry every neuron sends to (a shared list counts for each sender), and the longest."""
    total = worst = 0
    for core in image.cores:
        if not core.axon_targets.size:
            continue
        dist = np.abs(core.axon_targets[:, 0]) + np.abs(core.axon_targets[:, 1])
        prefix = np.concatenate([[0], np.cumsum(dist)])
        start, count = core.axon_ptr[:, 0], core.axon_ptr[:, 1]
        total += int((prefix[start + count] - prefix[start]).sum())
        worst = max(worst, int(dist.max()))
    return total, worst


# Above this sum of per-layer bounds (output steps) the summary warns: each layer's rounding then
# moves some outputs by a step, and a deep network carries those on (docs/exactness.md).
WARN_ERROR_STEPS = 0.25


def _arithmetic(node, program, target: Target, neurons: int, window: int) -> dict:
    """How the layer computes: its integration scheme, whether its sums are exact, its error bound
    in output steps, and what its program costs per tick (integrating ticks, and the last one).
    A sample's program energy counts every tick of the layer's window (the schedule's `bits`: 8
    for STEM, longer for a coding that spends more ticks per sample), each neuron running its
    program once a tick, the last tick on the other path."""
    integrating, last = program_cost(program, target)
    per_sample = (window - 1) * integrating.instructions + last.instructions
    return {
        "integration": node.attrs.get("integration"),
        "sums_exact": node.attrs.get("integration") != WEIGHTED and not node.attrs.get("acc_shift"),
        "error_steps": float(node.attrs.get("error_bound", 0.0)),
        "instructions_per_tick": [integrating.instructions, last.instructions],
        "cycles_per_tick": [integrating.cycles, last.cycles],
        "program_pj_per_sample": neurons * per_sample * target.energy["pj_per_instruction"],
    }


def error_warning(report: dict) -> str | None:
    """One line when the layers' bounds add up to more than WARN_ERROR_STEPS, with what to do."""
    rounded = [r for r in report["layers"] if r["error_steps"] > 0]
    total = sum(r["error_steps"] for r in rounded)
    if total <= WARN_ERROR_STEPS:
        return None
    worst = max(rounded, key=lambda r: r["error_steps"])
    return (f"warning: {len(rounded)} layers round on this {report['target']} target, up to "
            f"{total:.2g} output steps in all (the most: {worst['layer']}, {worst['error_steps']:.2g}): outputs may "
            f"differ from onnxruntime's by a step or more; `sdannc verify` measures it per layer, --calib "
            f"narrows the scaling, and a target with 32-bit registers (darwin3-wide) is exact")


def compile_report(graph: Graph, image: ChipImage, layers: dict, target: Target, model: str) -> dict:
    rows = []
    for layer in layers.values():
        node = layer.node
        neuron = NEURONS[node.op]
        cores = [image.cores[c] for c in layer.cores]
        rows.append({
            "layer": node.name,
            "op": neuron.report_label(node),
            "neurons": int(sum(c.n_neurons for c in cores)),
            "cores": len(cores),
            "dendrite_words": int(sum(dendrite_memory_words(c, target) for c in cores)),
            "axon_words": int(sum(axon_memory_words(c, target) for c in cores)),
            "macs": layer_synapses(layer) if neuron.counts_macs else 0,
            "sparsify": node.attrs.get("sparsify", {}),
            "acc_bits": node.attrs.get("acc_bits"),
            "acc_shift": node.attrs.get("acc_shift"),
            **_arithmetic(node, cores[0].program if cores else np.zeros(0, dtype=np.uint16), target,
                          int(sum(c.n_neurons for c in cores)), image.schedule.bits),
        })
    total_hops, worst_hops = _hops(image)
    s = image.schedule
    return {
        "model": model,
        "target": target.name,
        "layers": rows,
        "cores_used": len(image.cores),
        "cores_available": target.core_count() * target.chip_count,  # a board: all its chips' cores
        "neurons": int(sum(c.n_neurons for c in image.cores)),
        "dendrite_words": int(sum(r["dendrite_words"] for r in rows)),
        "axon_words": int(sum(r["axon_words"] for r in rows)),
        "ticks_per_sample": s.latency,
        "ticks_between_samples": s.sample_interval,
        "hops_total": total_hops,
        "hops_worst": worst_hops,
        "notes": list(graph.notes),
        **({"coding": s.coding} if s.coding != "stem" else {}),  # absent: stem (its reports stay as they were)
    }


def summary_table(report: dict) -> str:
    head = ("layer", "op", "neurons", "cores", "dendrite words", "axon words", "acc bits", "shift", "integration",
            "error steps", "instr/tick")
    body = [(r["layer"], r["op"], r["neurons"], r["cores"], r["dendrite_words"], r["axon_words"],
             r["acc_bits"] if r["acc_bits"] is not None else "-", r["acc_shift"] if r["acc_shift"] is not None else "-",
             (r["integration"] or "-") + (" exact" if r["integration"] not in (None, "exact") and r["sums_exact"] else ""),
             f"{r['error_steps']:.2g}" if r["error_steps"] else "0",
             "{} / {}".format(*r["instructions_per_tick"]))
            for r in report["layers"]]
    widths = [max(len(str(row[i])) for row in [head] + body) for i in range(len(head))]

    def line(row) -> str:  # names left-aligned, numbers right-aligned
        return "  ".join(str(v).ljust(w) if i < 2 else str(v).rjust(w) for i, (v, w) in enumerate(zip(row, widths)))

    lines = [line(head), line(["-" * w for w in widths])] + [line(r) for r in body]
    lines.append(
        f"cores {report['cores_used']} of {report['cores_available']}, neurons {report['neurons']}, "
        f"dendrite memory {report['dendrite_words']} words, axon memory {report['axon_words']} words")
    coding = f" (coding {report['coding']}: docs/codings.md)" if "coding" in report else ""
    lines.append(f"ticks per sample {report['ticks_per_sample']}, a new sample every {report['ticks_between_samples']} "
                 f"ticks when pipelined{coding}; routes {report['hops_total']} hops in all, {report['hops_worst']} at most")
    lines.extend(board_lines(report["board"]) if "board" in report else [])
    lines.extend(f"note: {n}" for n in report["notes"])
    warning = error_warning(report)
    if warning:
        lines.append(warning)
    return "\n".join(lines)


def board_lines(board: dict) -> list[str]:
    """The board section in a few lines: chips used, each chip's use, the link loads expected."""
    lines = [f"board {board['board']}: {board['chips_used']} of {board['chips_available']} chips used"]
    lines += [f"  chip ({c['chip'][0]}, {c['chip'][1]}): {c['cores']} cores, {c['neurons']} neurons, dendrite memory "
              f"{c['dendrite_words']} words, axon memory {c['axon_words']} words" for c in board["chips"]]
    busiest = board["busiest_link"]
    lines.append(f"  busiest on-chip link {busiest['link']}: about {busiest['flits_per_sample']:.1f} flits a sample "
                 f"({board['estimate']} estimate)")
    for edge in board["chip_links"]:
        lines.append(f"  chip link ({edge['from'][0]}, {edge['from'][1]}) -> ({edge['to'][0]}, {edge['to'][1]}): "
                     f"about {edge['packets_per_sample']:.1f} packets a sample, at most "
                     f"{edge['busiest_link_packets']:.1f} on one border link ({edge['busiest_link']})")
    return lines
