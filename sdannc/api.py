"""The Python API (docs/api.md): what `sdannc compile`, `sim` and `run --engine golden` do, for a notebook.

Every function takes paths or in-memory objects (an onnx.ModelProto, a numpy array, a dict of the
config's YAML content) and checks them exactly as the command line does: every user error is a
one-line `sdannc.errors.SdanncError`, with the CLI's message. Heavy modules are imported inside the
functions so that `import sdannc` stays cheap.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Union

if TYPE_CHECKING:  # the annotations only: importing these at run time would make `import sdannc` slow
    import numpy as np
    import onnx

    from .image import ChipImage
    from .ir.graph import Graph
    from .target import Target

PathLike = Union[str, os.PathLike]
ModelLike = Union[PathLike, "onnx.ModelProto"]
TargetLike = Union[PathLike, "Target"]
BatchLike = Union[PathLike, "np.ndarray"]
REPORT = "report.json"  # what `sdannc compile -o` writes beside the image


@dataclass
class CompiledModel:
    """A chip image with its compile report; `graph` (the hardware-level IR) only when just compiled."""

    image: ChipImage
    report: dict | None
    graph: Graph | None = None
    where: str = "<image>"  # the folder it was loaded from: simulate()'s report names it, as `sdannc sim` does

    def save(self, out_dir: PathLike, force: bool = False) -> None:
        """Write the image and report.json to out_dir, as `sdannc compile -o out_dir` does (the same
        bytes). A folder that is neither empty nor an image is replaced only with `force`; some never
        are (fileio.check_output_folder). Raises SdanncError."""
        from .fileio import json_bytes
        from .image import write_image

        extra = {REPORT: json_bytes(self.report)} if self.report is not None else None
        write_image(self.image, out_dir, extra=extra, force=force)


@dataclass
class SimulationResult:
    """`outputs`: the decoded outputs, one row per sample; `report`: the dict `sdannc sim --report` writes."""

    outputs: np.ndarray
    report: dict


def load(image_dir: PathLike) -> CompiledModel:
    """The image in image_dir (and its report.json, if there is one; else report is None); graph is None.
    Raises SdanncError for a folder that is not a sound image."""
    from .image import read_image

    image = read_image(image_dir)
    report_path = Path(image_dir) / REPORT
    report = json.loads(report_path.read_bytes()) if report_path.is_file() else None
    return CompiledModel(image, report, where=str(image_dir))


def compile(model: ModelLike, target: TargetLike = "darwin3", *, config: PathLike | dict | None = None,
            calib: BatchLike | None = None) -> CompiledModel:
    """Compile a quantized ONNX model into a chip image, as `sdannc compile` does.

    model: a path or an onnx.ModelProto; target: a built-in name (darwin3, darwin3-wide), a YAML
    path, or a Target; config: a compile config file or a dict of its content ({"sparsify": ...});
    calib: calibration inputs, a .npy path or an array (the first axis is the batch).
    Raises SdanncError, with the CLI's messages.
    """
    from .compiler import compile_in_memory, compile_inputs

    target, plan, calib = compile_inputs(target, config, calib)
    with _model_file(model) as path:
        compiled = compile_in_memory(path, target, calib, plan=plan)
    if path != model:  # a ModelProto: its temporary file is gone, the report names it by its graph
        compiled.report["model"] = path.name
    return CompiledModel(compiled.image, compiled.report, compiled.graph)


def simulate(image: CompiledModel | ChipImage | PathLike, x: BatchLike, *, lanes: int = 1) -> SimulationResult:
    """Run a batch on the cycle-level simulator, as `sdannc sim` does.

    image: what compile() or load() returns, a ChipImage, or an image folder; x: a .npy path or an
    array whose first axis is the batch. Raises SdanncError, with the CLI's messages."""
    from .fileio import as_batch
    from .image import ChipImage
    from .sim import Simulator
    from .sim.run import run_batch

    if isinstance(image, CompiledModel):
        chip, where = image.image, image.where
    elif isinstance(image, ChipImage):
        chip, where = image, "<image>"
    else:
        chip, where = load(image).image, str(image)
    x, name = as_batch(x, "input")
    result, report = run_batch(Simulator(chip, where), x, name, lanes)  # Simulator.run checks x's shape and dtype
    return SimulationResult(result.outputs, report)


def run_golden(model: ModelLike, x: BatchLike, target: TargetLike = "darwin3", *, config: PathLike | dict | None = None,
           calib: BatchLike | None = None) -> np.ndarray:
    """The golden model's outputs on x, as `sdannc run --engine golden` gives them: what the chip
    computes, bit for bit, without building an image. Arguments as for compile() and simulate();
    raises SdanncError, with the CLI's messages."""
    from .compiler import compile_inputs, golden_outputs
    from .fileio import as_batch

    target, plan, calib = compile_inputs(target, config, calib)
    x, name = as_batch(x, "input")
    with _model_file(model) as path:
        return golden_outputs(path, x, target, plan, calib, name)


@contextmanager
def _model_file(model: ModelLike) -> Iterator[PathLike]:
    """The model's path (as given); a ModelProto is written to a temporary file named after its graph (the
    frontend reads files, and the image and the messages name the model by its file name)."""
    import onnx

    if not isinstance(model, onnx.ModelProto):
        yield model
        return
    with tempfile.TemporaryDirectory(prefix="sdannc-") as tmp:
        name = model.graph.name if model.graph.name.isidentifier() else "model"  # never a path of its own
        path = Path(tmp) / f"{name}.onnx"
        onnx.save(model, str(path))
        yield path
