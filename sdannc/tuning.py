"""`sdannc tune`: choose RoT / DRLO per layer (SDANN table 8's hybrid) to cut synaptic operations
within an accuracy-drop limit, measured with the golden model on labelled data.

The search, in two rounds over the STEM layers that feed other layers:
1. sensitivity: every candidate setting on one layer alone (the rest unsparsified): its SOP saving
   and accuracy drop;
2. greedy hybrid: candidates in order of SOPs saved per point of accuracy lost (free savings first),
   each tried on top of the settings accepted so far and kept if the whole network stays within
   the limit and saves SOPs.
Every configuration evaluated is a point of the accuracy-vs-SOPs table; the Pareto front of them is
printed, and the cheapest configuration within the limit is written as the compile config.

Only layers at or after the first changed layer are re-run (earlier codes are reused), so one
evaluation costs the tail of the network. SOPs are the simulator's count, predicted exactly by the
golden model (sdannc/activity.py); the graph is lowered as `sdannc compile` lowers it without --calib,
in the spike coding asked (`--coding`: its spikes per code, docs/codings.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .activity import golden_activity
from .errors import SdanncError
from .ir.codec import decode_output, encode_input
from .ir.evaluate import walk
from .ir.graph import Graph
from .neurons import golden_op
from .passes.sparsify import hidden_layers
from .sparsify import Plan, Setting

# RoT factors and DRLO positions tried per layer (the paper's tables 4 to 7 range over 1 to 4).
CANDIDATES = tuple(Setting(rot=k) for k in range(1, 5)) + tuple(Setting(drlo=p) for p in range(1, 5))


@dataclass
class Point:
    settings: dict[str, Setting]
    accuracy: float  # percent
    sops: float  # per sample

    def describe(self) -> str:
        return "; ".join(f"{name} {s}" for name, s in self.settings.items()) or "none"


@dataclass
class TuneResult:
    baseline: Point
    chosen: Point
    points: list[Point] = field(default_factory=list)

    def pareto(self) -> list[Point]:
        """Points no other point beats on both accuracy and SOPs, fewest SOPs first."""
        front, best = [], -1.0
        for p in sorted(self.points, key=lambda p: (p.sops, -p.accuracy)):
            if p.accuracy > best:
                front.append(p)
                best = p.accuracy
        return front


class Evaluator:
    """Accuracy and SOPs per sample of the golden model under any per-layer settings."""

    def __init__(self, graph: Graph, x: np.ndarray, labels: np.ndarray, arith: dict, synapses: dict) -> None:
        self.graph, self.labels, self.arith, self.synapses = graph, labels, arith, synapses
        self.samples = x.shape[0]
        codes = encode_input(x, graph.input_encode).reshape(x.shape).astype(np.int64)
        self.baseline_values = self._run({graph.input: codes}, 0, {})
        self.position = {}
        for i, node in enumerate(graph.nodes):
            self.position.setdefault(node.name, i)

    def _run(self, values: dict, start: int, settings: dict[str, Setting]) -> dict:
        def apply(node, inputs, shape, arith) -> np.ndarray:  # the golden op, under the node's setting
            if node.name in settings:
                node = dataclasses.replace(node, attrs={**node.attrs, "sparsify": settings[node.name].as_dict()})
            return golden_op(node, inputs, shape, arith)

        return walk(self.graph, values, self.arith, apply, start)

    def evaluate(self, settings: dict[str, Setting]) -> Point:
        settings = {name: s for name, s in settings.items() if s.active}
        start = min((self.position[name] for name in settings), default=len(self.graph.nodes))
        values = self._run(self.baseline_values, start, settings) if settings else self.baseline_values
        out = values[self.graph.output]
        decoded = decode_output(out.reshape(self.samples, -1), self.graph.output_decode)
        accuracy = 100.0 * float(np.mean(decoded.argmax(axis=1) == self.labels))
        sops = sum(a.sops for a in golden_activity(self.graph, values, self.synapses).values())
        return Point(dict(settings), accuracy, sops / self.samples)


class _Search:
    """The evaluations of one search, in order, with the progress they report."""

    def __init__(self, evaluator: Evaluator, total: int, progress) -> None:
        self.evaluator, self.total, self.progress = evaluator, total, progress
        self.points: list[Point] = []
        self.done = 0

    def measure(self, settings: dict[str, Setting]) -> Point:
        point = self.evaluator.evaluate(settings)
        self.points.append(point)
        self.tick()
        return point

    def tick(self) -> None:
        self.done += 1
        if self.progress:
            self.progress(min(self.done, self.total), self.total)


def search(evaluator: Evaluator, layers: list[str], max_drop: float, candidates=CANDIDATES,
           progress: Callable[[int, int], None] | None = None) -> TuneResult:
    run = _Search(evaluator, 1 + 2 * len(layers) * len(candidates), progress)
    baseline = chosen = run.measure({})
    floor = baseline.accuracy - max_drop
    singles = [(name, c, run.measure({name: c})) for name in layers for c in candidates]

    def merit(item) -> float:  # SOPs saved per point of accuracy lost; free savings first
        _, _, p = item
        return (baseline.sops - p.sops) / max(baseline.accuracy - p.accuracy, 1e-3)

    for name, candidate, single in sorted(singles, key=merit, reverse=True):
        if single.accuracy < floor or single.sops >= baseline.sops:
            run.tick()
            continue  # alone it already breaks the limit, or saves nothing
        trial = run.measure({**chosen.settings, name: candidate})
        if trial.accuracy >= floor and trial.sops < chosen.sops:
            chosen = trial
    if progress:
        progress(run.total, run.total)
    return TuneResult(baseline, chosen, run.points)


def check_labels(labels: np.ndarray, samples: int, where: str) -> np.ndarray:
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise SdanncError(f"labels {where}: expected one integer class per sample, got {labels.dtype} "
                          f"{tuple(labels.shape)}")
    if labels.shape[0] != samples:
        raise SdanncError(f"labels {where}: {labels.shape[0]} labels for {samples} calibration samples")
    return labels


def tune(graph: Graph, x: np.ndarray, labels: np.ndarray, arith: dict, synapses: dict, max_drop: float,
         progress=None) -> TuneResult:
    layers = hidden_layers(graph)
    if not layers:
        raise SdanncError(f"model {graph.name}: no layer to sparsify (only the output layer has STEM neurons)")
    return search(Evaluator(graph, x, labels, arith, synapses), layers, max_drop, progress=progress)


def pareto_table(result: TuneResult) -> str:
    base = result.baseline
    rows = [("SOPs/sample", "SOPs saved", "accuracy", "drop", "settings")]
    for p in [base] + [p for p in result.pareto() if p is not base]:
        mark = " (chosen)" if p is result.chosen else (" (baseline)" if p is base else "")
        rows.append((f"{p.sops:,.0f}", f"{100 * (1 - p.sops / base.sops):.1f}%" if base.sops else "-",
                     f"{p.accuracy:.2f}%", f"{base.accuracy - p.accuracy:+.2f}", p.describe() + mark))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join("  ".join(v.rjust(w) for v, w in zip(r[:4], widths)) + "  " + r[4] for r in rows)


# RoT / DRLO apply to weighted integration's layers, not to integration exact's (its thresholds cannot
# hold them for the activity report): the tuner lowers, and its plan compiles, with weighted.
TUNED_INTEGRATION = "weighted"


def chosen_plan(result: TuneResult, coding: str = "stem") -> Plan:
    return Plan(layers=dict(result.chosen.settings), integration=TUNED_INTEGRATION, coding=coding)


def _labels(labels) -> tuple[np.ndarray, str]:
    """The labels (an array, or a .npy path to read) and the name messages give them."""
    from .fileio import load_array

    if isinstance(labels, np.ndarray):
        return labels, "<array>"
    return load_array(labels, "labels"), str(labels)


def tune_model(model_path, target, calib, labels, max_drop: float, progress=None,
               coding: str = "stem") -> tuple[TuneResult, str]:
    """`sdannc tune`: the search result and the compile config text that applies its choice. target a
    name, a YAML path or a Target; calib and labels .npy paths or arrays. coding: the spike coding
    whose SOPs are counted (its neurons apply RoT / DRLO as STEM's do; the config keeps it)."""
    from pathlib import Path

    from .backend import build_layers
    from .backend.synapses import synapse_counts
    from .compiler import lower_within_capacity
    from .config import config_text
    from .fileio import as_batch
    from .golden.interpreter import check_input
    from .target import Target, load_target

    if max_drop < 0:
        raise SdanncError(f"--max-drop {max_drop}: must not be negative (points of accuracy)")
    target = target if isinstance(target, Target) else load_target(str(target))
    x, calib_name = as_batch(calib, "calibration input")
    labels, labels_name = _labels(labels)
    labels = check_labels(labels, x.shape[0], labels_name)
    graph, _ = lower_within_capacity(model_path, target, plan=Plan(integration=TUNED_INTEGRATION, coding=coding))
    check_input(graph, x, calib_name)
    layers = build_layers(graph, target)  # the tables give the synapses per spike; no placement needed
    result = tune(graph, x, labels, target.arith, synapse_counts(graph, layers), max_drop, progress)
    base, best = result.baseline, result.chosen
    coded = f" --coding {coding}" if coding != "stem" else ""
    header = (f"sdannc tune {Path(model_path).name} -t {target.name}{coded} --max-drop {max_drop}\n"
              f"golden model on {x.shape[0]} samples of {Path(calib_name).name}: accuracy {base.accuracy:.2f}% -> "
              f"{best.accuracy:.2f}%, SOPs per sample {base.sops:,.0f} -> {best.sops:,.0f}")
    return result, config_text(chosen_plan(result, coding), header)
