"""`sdannc compile` and `sdannc run`: the whole path from an ONNX file to a chip image or outputs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .backend import build_image
from .backend.capacity import LayerNeed, check_capacity
from .backend.report import compile_report
from .config import check_coding, load_config, parse_config
from .fileio import as_batch, json_bytes
from .frontend import load_onnx
from .activity import bit_planes_per_element
from .backend.board_report import board_report
from .golden import run as golden_run
from .golden import run_codes
from .ir.codec import encode_input
from .neurons import NEURON_OPS
from .image import ChipImage, write_image
from .ir.graph import Graph
from .passes import Options, run_pipeline
from .sparsify import Plan
from .target import Target, load_target


def lower(model_path, target: Target, calib: np.ndarray | None = None, stop_after: str | None = None,
          observe: Callable[[str, Graph], None] | None = None, plan: Plan | None = None) -> Graph:
    """ONNX -> hardware-level IR (or the IR after `stop_after`)."""
    graph = load_onnx(model_path)
    plan = plan or Plan()
    options = Options(calib=calib, model=str(model_path), sparsify=plan, integration=plan.integration,
                      coding=plan.coding)
    return run_pipeline(graph, target, options, stop_after=stop_after, observe=observe)


@dataclass
class Compiled:
    """Everything one compile makes, in memory."""

    graph: Graph  # the hardware-level IR
    image: ChipImage
    layers: dict  # the backend's tiles per neuron layer: which neurons hold each tensor (backend.neuron_addresses)
    report: dict


def lower_within_capacity(model_path, target: Target, calib: np.ndarray | None = None,
                          observe: Callable[[str, Graph], None] | None = None,
                          plan: Plan | None = None) -> tuple[Graph, list[LayerNeed]]:
    """lower(), then refuse a network that cannot fit the chip before any table is built (its lower
    bounds, backend/capacity.py, already exceed it); the bounds per layer."""
    graph = lower(model_path, target.chip_target(), calib, observe=observe, plan=plan)  # a board's chips lower alike
    return graph, check_capacity(graph, target, str(model_path), plan.tiling if plan else None)


def compile_to_image(model_path, target: Target, calib: np.ndarray | None = None,
                     observe: Callable[[str, object], None] | None = None,
                     plan: Plan | None = None, status: Callable[[str], None] | None = None,
                     milestone: Callable[[str], None] | None = None) -> tuple[Graph, ChipImage, dict]:
    """`status(text)` hears what the compiler is doing, step by step (the CLI shows it on a terminal);
    `milestone(text)` hears each stage done, once the inputs are read and the network passed the
    capacity estimate (the CLI prints those where stderr is not a terminal)."""
    compiled = compile_in_memory(model_path, target, calib, observe, plan, status, milestone)
    return compiled.graph, compiled.image, compiled.report


def compile_in_memory(model_path, target: Target, calib: np.ndarray | None = None,
                      observe: Callable[[str, object], None] | None = None,
                      plan: Plan | None = None, status: Callable[[str], None] | None = None,
                      milestone: Callable[[str], None] | None = None) -> Compiled:
    """compile_to_image, keeping the layers' tiles too. `observe(step, state)` sees the IR after each
    pass and the backend's state after each of its steps (backend/build.py)."""
    status = status or (lambda text: None)
    milestone = milestone or (lambda text: None)

    def each_step(step: str, graph: Graph) -> None:
        status(f"{step} done")
        if observe:
            observe(step, graph)

    status(f"reading {Path(model_path).name}")
    graph, needs = lower_within_capacity(model_path, target, calib, observe=each_step, plan=plan)
    milestone(f"read and lowered {len(needs)} layers; estimate: at least {sum(n.cores for n in needs)} of "
              f"{target.core_count() * target.chip_count} cores")
    spikes = element_spikes(graph, calib, target) if target.is_board and calib is not None else None
    final: list = []
    image, layers = build_image(graph, target, status, milestone, observe, model=Path(model_path).name,
                                sizes=plan.tiling if plan else None, spikes=spikes, keep=final.append)
    report = compile_report(graph, image, layers, target, str(model_path))
    if target.is_board:
        report["board"] = board_report(final[0], image)
    return Compiled(graph, image, layers, report)


# At most this many calibration samples measure the spikes that weigh a board's links (an estimate).
_SPIKE_SAMPLES = 16


def element_spikes(graph: Graph, calib: np.ndarray, target: Target) -> np.ndarray:
    """Spikes per sample of every element id (backend/addresses.py: the input's elements, then each
    neuron layer's output) on the calibration inputs: each code's set bits, averaged."""
    x = calib[:_SPIKE_SAMPLES]
    codes = encode_input(x, graph.input_encode).reshape(x.shape)
    values = run_codes(graph, codes, target.arith, keep=True)
    names = [graph.input] + [node.output for node in graph.nodes if node.op in NEURON_OPS]
    return np.concatenate([bit_planes_per_element(values[name].reshape(len(x), -1)) for name in names])


def compile_inputs(target, config=None, calib=None, coding: str | None = None) -> tuple[Target, Plan, np.ndarray | None]:
    """What `--target`, `--config`, `--calib` and `--coding` mean to every command that compiles, and
    to the Python API: target a name, a YAML path or a Target; config a YAML path, a dict of its
    content or None; calib a .npy path, an array or None; coding stem, ttfs, rate or None (the
    config's `coding:`, else stem)."""
    target = target if isinstance(target, Target) else load_target(str(target))
    plan = parse_config(config, "config <dict>") if isinstance(config, dict) else load_config(config)
    if coding is not None:
        plan = dataclasses.replace(plan, coding=check_coding(coding, "compile"))
    calib = as_batch(calib, "calibration input")[0] if calib is not None else None
    return target, plan, calib


def compile_model(model_path, target_name: str, out_dir, calib_path=None,
                  observe: Callable[[str, object], None] | None = None, config_path=None,
                  status: Callable[[str], None] | None = None, milestone: Callable[[str], None] | None = None,
                  force: bool = False, coding: str | None = None) -> dict:
    """Compile and write OUT_DIR (image + report.json) all at once: a failure leaves no OUT_DIR.

    `force` lets the image replace a folder that holds something else (fileio.check_output_folder)."""
    target, plan, calib = compile_inputs(target_name, config_path, calib_path, coding)
    _, image, report = compile_to_image(model_path, target, calib, observe, plan, status, milestone)
    if status:
        status(f"writing {out_dir}")
    write_image(image, out_dir, extra={"report.json": json_bytes(report)}, force=force)
    return report


def golden_outputs(model_path, x: np.ndarray, target: Target, plan: Plan | None = None,
                   calib: np.ndarray | None = None, name: str = "input") -> np.ndarray:
    """The golden model's outputs on x: what the compiled image computes, without an image."""
    return golden_run(lower(model_path, target, calib, plan=plan), x, target.arith, name)

