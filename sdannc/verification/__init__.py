"""`sdannc verify`: the first layer where the chip leaves onnxruntime.

The model is compiled as `sdannc compile` compiles it (same target, config and calibration); the
batch runs on the golden model (every tensor's codes) and on the simulator (every layer's codes,
recorded per neuron); onnxruntime, in exact mode, gives every layer's ONNX tensor (onnx_tensors.py).
Per layer (compare.py): how many of the chip's codes differ from onnxruntime's, by how many steps, and
whether the simulator equals the golden model. A layer is beyond the bound when more than `max_frac`
of its elements differ or one differs by more than `max_steps`; the first such layer, in topological
order, is the first mismatch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import onnx

from ..backend import neuron_addresses
from ..compiler import compile_in_memory, compile_inputs
from ..errors import SdanncError
from ..fileio import as_batch
from ..golden import run_codes
from ..golden.interpreter import check_input
from ..ir.codec import encode_input
from ..neurons import NEURON_OPS
from ..reference import default_session_disagreement, reference
from ..sim import Simulator
from .compare import Bound, Row, compare, is_beyond
from .onnx_tensors import corresponding, readers

__all__ = ["Bound", "Row", "Verification", "verify_model"]


@dataclass
class Verification:
    model: str
    target: str
    input: str
    samples: int
    bound: Bound
    rows: list[Row]
    reference_mode: str  # the onnxruntime sessions' modes (sdannc/reference)
    notes: list[str] = field(default_factory=list)  # where onnxruntime could not run exactly, and why
    saturation: str | None = None  # the default session's disagreement on this CPU, if any
    config: str | None = None
    calib: str | None = None

    @property
    def first_mismatch(self) -> Row | None:
        return next((row for row in self.rows if row.beyond), None)

    @property
    def golden_mismatches(self) -> list[Row]:
        return [row for row in self.rows if row.golden_differ]

    @property
    def exit_code(self) -> int:
        """1 when a layer is beyond the bound or the simulator leaves the golden model; else 0."""
        return 1 if self.first_mismatch or self.golden_mismatches else 0

    def as_json(self) -> dict:
        first = self.first_mismatch
        return {
            "model": self.model, "target": self.target, "input": self.input, "samples": self.samples,
            "config": self.config, "calib": self.calib,
            "bound": {"max_steps": self.bound.max_steps, "max_frac": self.bound.max_frac},
            "reference": {"mode": self.reference_mode, "notes": self.notes},
            "saturation": self.saturation,
            "layers": [row.as_json() for row in self.rows],
            "first_mismatch": first.layer if first else None,
            "golden_equals_simulator": not self.golden_mismatches,
            "exit_code": self.exit_code,
        }


def _input_checker(x: np.ndarray, name: str) -> Callable:
    """An observer that checks the input against the frontend's graph, before the passes and backend run."""
    def observe(step, graph) -> None:
        if step == "frontend":
            check_input(graph, x, name)
    return observe


def _simulated_codes(image, where: str, addresses: dict, x: np.ndarray, name: str, progress) -> dict[str, np.ndarray]:
    """[batch, elements] per tensor: the codes its neurons (addresses) emit on the simulator."""
    sim = Simulator(image, where)
    result = sim.run(x, name=name, progress=progress, record_codes=True)
    return {tensor: sim.codes_at(result, core, neuron) for tensor, (core, neuron) in addresses.items()}


def _onnxruntime_codes(model_path, graph, tensors: list[str], x: np.ndarray) -> tuple[dict, set, set]:
    """The codes of the ONNX tensors the given IR tensors stand for, and the sessions' modes and notes."""
    model = onnx.load(str(model_path))
    codes, modes, notes = {}, set(), set()
    for tensor, reader in readers(model, corresponding(graph, tensors, model)).items():
        codes[tensor], session = reader.read(model, x)  # one session at a time: a large model's weights once
        modes.add(session.mode)
        notes |= {session.note} - {""}
    return codes, modes, notes


def _named(given, kind: str) -> str | None:
    """How the JSON names a --config or --calib: its path; "<dict>" or "<array>" from the Python API."""
    if given is None:
        return None
    return f"<{kind}>" if isinstance(given, (dict, np.ndarray)) else str(given)


def verify_model(model_path, x, target, config=None, calib=None, bound: Bound = Bound(),
                 progress: Callable[[int, int], None] | None = None, coding: str | None = None) -> Verification:
    """The per-layer comparison. x, target, config, calib and coding as compiler.compile_inputs and
    fileio.as_batch take them: paths, or the Python API's objects."""
    config_name, calib_name = _named(config, "dict"), _named(calib, "array")
    target, plan, calib = compile_inputs(target, config, calib, coding)
    x, input_name = as_batch(x, "input")
    compiled = compile_in_memory(model_path, target, calib, _input_checker(x, input_name), plan)
    graph, report, image = compiled.graph, compiled.report, compiled.image
    nodes = [node for node in graph.nodes if node.op in NEURON_OPS]
    addresses = neuron_addresses(graph, compiled.layers)
    del compiled  # the layers' tables are large: not held while the simulator runs
    simulated = _simulated_codes(image, str(model_path), {n.output: addresses[n.output] for n in nodes}, x,
                                 input_name, progress)
    golden = run_codes(graph, encode_input(x, graph.input_encode).reshape(x.shape), target.arith, keep=True)
    onnxruntime, modes, notes = _onnxruntime_codes(model_path, graph, [n.output for n in nodes], x)
    plain = reference(model_path)  # the whole model, for the saturation line
    modes.add(plain.mode)
    notes |= {plain.note} - {""}
    rows = []
    for node, summary in zip(nodes, report["layers"]):
        assert summary["layer"] == node.name, (summary["layer"], node.name)  # the report's rows are the layers
        chip = simulated[node.output]
        ref = onnxruntime.get(node.output)
        tensor = node.output if ref is not None and ref.shape == chip.shape else None
        figures = compare(chip, golden[node.output].reshape(chip.shape), ref if tensor else None)
        rows.append(Row(node.name, summary["op"], tensor, list(graph.tensors[node.output].shape), chip.size,
                        beyond=is_beyond(figures, chip.size, bound), sparsify=summary["sparsify"],
                        acc_shift=summary["acc_shift"], **figures))
    saturation = default_session_disagreement(model_path, x, plain.outputs(x)) if plain.exact else None
    return Verification(str(model_path), target.name, input_name, len(x), bound, rows, ", ".join(sorted(modes)),
                        sorted(notes), saturation, config_name, calib_name)
