"""The Python API (docs/api.md): what every `sdannc` command does, for a notebook; the CLI is a thin
layer over it (sdannc/cli.py parses options, calls one of these, and prints or writes the result).

Every function takes paths or in-memory objects (an onnx.ModelProto, a numpy array, a dict of the
config's YAML content) and checks them exactly as the command line does: every user error is a
one-line `sdannc.errors.SdanncError`, with the CLI's message. Heavy modules are imported inside the
functions so that `import sdannc` stays cheap. A `progress(done, total)` argument hears a long run's
progress (ticks simulated, configurations evaluated), as the CLI's progress bar does.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Union

if TYPE_CHECKING:  # the annotations only: importing these at run time would make `import sdannc` slow
    import numpy as np
    import onnx

    from .image import ChipImage
    from .ir.graph import Graph
    from .target import Target
    from .tuning import TuneResult
    from .verification import Verification

PathLike = Union[str, os.PathLike]
ModelLike = Union[PathLike, "onnx.ModelProto"]
TargetLike = Union[PathLike, "Target"]
BatchLike = Union[PathLike, "np.ndarray"]
ConfigLike = Union[PathLike, dict, None]
Progress = Callable[[int, int], None]
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

    def save(self, output: PathLike, report: PathLike | None = None) -> None:
        """Write the outputs (.npy) and, if asked, the report (JSON), as `sdannc sim -o output
        --report report` does: both whole, or neither."""
        from .fileio import array_bytes, json_bytes, save_all

        files = {output: array_bytes(self.outputs)}
        if report is not None:
            files[report] = json_bytes(self.report)
        save_all(files)


@dataclass
class Tuning:
    """What `sdannc tune` finds. `result`: the baseline, the chosen configuration and every one
    evaluated (result.pareto() is the front the CLI prints); `config`: the compile config text that
    applies the choice, the YAML `sdannc tune -o` writes and compile(config=...) reads."""

    result: TuneResult
    config: str

    def save(self, path: PathLike) -> None:
        """Write the config file, whole or not at all, as `sdannc tune -o path` does."""
        from .fileio import save_all

        save_all({path: self.config.encode()})


@dataclass
class ActivityReport:
    """What `sdannc report` measures: `data` is the dict its report.json holds (spikes, SOPs, bit
    positions, sparsification, energy and timing, per layer and in total)."""

    data: dict

    def save(self, out_dir: PathLike, force: bool = False) -> None:
        """Write index.html, report.json and the figures to out_dir, as `sdannc report -o out_dir`
        does; a folder is replaced as CompiledModel.save replaces one."""
        from .activity_report import write_report

        write_report(self.data, out_dir, force)


def load(image_dir: PathLike) -> CompiledModel:
    """The image in image_dir (and its report.json, if there is one; else report is None); graph is None.
    Raises SdanncError for a folder that is not a sound image."""
    from .image import read_image

    image = read_image(image_dir)
    report_path = Path(image_dir) / REPORT
    report = json.loads(report_path.read_bytes()) if report_path.is_file() else None
    return CompiledModel(image, report, where=str(image_dir))


def compile(model: ModelLike, target: TargetLike = "darwin3", *, config: ConfigLike = None,
            calib: BatchLike | None = None, observe: Callable[[str, Graph], None] | None = None,
            status: Callable[[str], None] | None = None,
            milestone: Callable[[str], None] | None = None) -> CompiledModel:
    """Compile a quantized ONNX model into a chip image, as `sdannc compile` does.

    model: a path or an onnx.ModelProto; target: a built-in name (darwin3, darwin3-wide), a YAML
    path, or a Target; config: a compile config file or a dict of its content ({"sparsify": ...});
    calib: calibration inputs, a .npy path or an array (the first axis is the batch).
    observe(step, graph) sees the IR after each step (`--dump-ir`); status(text) hears what the
    compiler is doing and milestone(text) each stage done (the CLI's progress lines).
    Raises SdanncError, with the CLI's messages.
    """
    from .compiler import compile_in_memory, compile_inputs

    target, plan, calib = compile_inputs(target, config, calib)
    with _model_file(model) as path:
        compiled = compile_in_memory(path, target, calib, observe, plan, status, milestone)
    if path != model:  # a ModelProto: its temporary file is gone, the report names it by its graph
        compiled.report["model"] = path.name
    return CompiledModel(compiled.image, compiled.report, compiled.graph)


def simulate(image: CompiledModel | ChipImage | PathLike, x: BatchLike, *, target: TargetLike | None = None,
             lanes: int = 1, progress: Progress | None = None, engine: str = "cycle",
             executor: str | None = None) -> SimulationResult:
    """Run a batch on the simulator, as `sdannc sim` does.

    image: what compile() or load() returns, a ChipImage, or an image folder; x: a .npy path or an
    array whose first axis is the batch; target: refuse an image built for another target (`-t`);
    lanes: independent streams side by side (the results do not change); engine: "cycle" (the
    cycle-level engine) or "functional" (layer after layer, the same outputs and report, faster on
    large batches: docs/simulator.md); executor: how the neuron programs run, "kernel" or "numpy"
    (None: the compiled kernel).
    Raises SdanncError, with the CLI's messages."""
    from .fileio import as_batch
    from .sim import simulator
    from .sim.run import run_batch

    expected = _target(target) if target is not None else None
    chip, where = _chip_image(image, expected)
    x, name = as_batch(x, "input")
    sim = simulator(chip, where, engine, executor)
    result, report = run_batch(sim, x, name, lanes, progress)  # run checks x's shape and dtype
    return SimulationResult(result.outputs, report)


def run(model: ModelLike, x: BatchLike, target: TargetLike = "darwin3", *, engine: str = "golden",
        config: ConfigLike = None, calib: BatchLike | None = None) -> np.ndarray:
    """The model's outputs on x, as `sdannc run` gives them, without writing an image: engine
    "golden" is the integer reference model (what the chip computes, bit for bit, no image built),
    "sim" compiles and runs the image on the simulator. Arguments as for compile() and simulate();
    raises SdanncError, with the CLI's messages."""
    from .compiler import compile_in_memory, compile_inputs, golden_outputs
    from .errors import SdanncError
    from .fileio import as_batch
    from .sim import Simulator

    if engine not in ("golden", "sim"):
        raise SdanncError(f"engine {engine!r}: use golden or sim")
    x, name = as_batch(x, "input")
    target, plan, calib = compile_inputs(target, config, calib)
    with _model_file(model) as path:
        if engine == "golden":
            return golden_outputs(path, x, target, plan, calib, name)
        image = compile_in_memory(path, target, calib, plan=plan).image
        return Simulator(image, str(path) if path == model else path.name).run(x, name=name).outputs


def run_golden(model: ModelLike, x: BatchLike, target: TargetLike = "darwin3", *, config: ConfigLike = None,
               calib: BatchLike | None = None) -> np.ndarray:
    """run(engine="golden"): the golden model's outputs on x, as `sdannc run --engine golden` gives them."""
    return run(model, x, target, engine="golden", config=config, calib=calib)


def verify(model: ModelLike, x: BatchLike, target: TargetLike = "darwin3", *, config: ConfigLike = None,
           calib: BatchLike | None = None, max_steps: int = 0, max_frac: float = 0.0,
           progress: Progress | None = None) -> Verification:
    """Compare every layer of the model on the chip with onnxruntime, as `sdannc verify` does.

    The model is compiled as compile() compiles it (target, config, calib alike) and x runs on the
    simulator, the golden model and onnxruntime. A layer is beyond the bound when more than
    max_frac of its elements differ or one differs by more than max_steps quantization steps.
    The result's `rows` are the table `sdannc verify` prints, `as_json()` what `--json` writes,
    `first_mismatch` the first layer beyond the bound, and `exit_code` the command's.
    Raises SdanncError, with the CLI's messages."""
    from .verification import Bound, verify_model

    bound = Bound(max_steps, max_frac)
    with _model_file(model) as path:
        result = verify_model(path, x, target, config, calib, bound, progress)
    if path != model:
        result.model = path.name
    return result


def tune(model: ModelLike, calib: BatchLike, labels: BatchLike, target: TargetLike = "darwin3", *,
         max_drop: float = 1.0, progress: Progress | None = None) -> Tuning:
    """Choose RoT / DRLO per layer, as `sdannc tune` does: the fewest synaptic operations whose
    accuracy on (calib, labels), measured with the golden model, is within max_drop percentage
    points of the unsparsified model's. calib: inputs (a .npy path or an array, first axis the
    batch); labels: their classes, one integer per sample. Raises SdanncError, with the CLI's messages."""
    from .tuning import tune_model

    with _model_file(model) as path:
        result, text = tune_model(path, target, calib, labels, max_drop, progress)
    return Tuning(result, text)


def report(image: CompiledModel | PathLike, x: BatchLike, *, lanes: int = 1,
           progress: Progress | None = None) -> ActivityReport:
    """Spikes, SOPs, bit positions, sparsification, energy and timing of a compiled image on x, as
    `sdannc report` measures them; .save(out_dir) writes its HTML page. image: what compile() or
    load() returns (with its compile report) or an image folder holding report.json.
    Raises SdanncError, with the CLI's messages."""
    from .activity_report import collect, collect_image

    if isinstance(image, CompiledModel):
        return ActivityReport(collect_image(image.image, image.report, image.where, x, lanes, progress))
    return ActivityReport(collect(image, x, lanes, progress))


def quantize(model: ModelLike, calib: BatchLike, output: PathLike, *, format: str = "qdq",
             per_channel: bool = False, activations: str = "uint8") -> Path:
    """Quantize a float ONNX model with onnxruntime's static quantizer, as `sdannc quantize` does:
    calib is the calibration batch (a .npy path or an array); the quantized model is written to
    output (whole or not at all), whose path is returned. format "qdq" or "qop"; activations
    "uint8" or "int8"; per_channel: one weight scale per output channel. Raises SdanncError."""
    from .quantization import quantize_model

    with _model_file(model) as path:
        return quantize_model(path, calib, output, fmt=format, per_channel=per_channel, activation_type=activations)


def assemble(source: PathLike, isa: PathLike = "darwin3") -> np.ndarray:
    """The program words (uint16) of an assembly file, as `sdannc asm` encodes them; isa: a name
    under isa/ or a YAML file."""
    from .isa import assemble_file, load_isa

    isa_table = load_isa(str(isa))
    return isa_table.encode_program(assemble_file(source, isa_table))


def disassemble(program: PathLike, isa: PathLike = "darwin3") -> str:
    """The assembly text of a program binary (raw little-endian 16-bit words), as `sdannc disasm` prints it."""
    from .isa import disassemble_file, load_isa

    return disassemble_file(program, load_isa(str(isa)))


def _target(target: TargetLike) -> Target:
    from .target import Target, load_target

    return target if isinstance(target, Target) else load_target(str(target))


def _chip_image(image: CompiledModel | ChipImage | PathLike, expected: Target | None) -> tuple[ChipImage, str]:
    """The image to simulate and the name its messages give it; one built for another target than
    `expected` is refused. A folder's report.json is not read: simulating does not need it."""
    from .image import ChipImage, check_built_for, read_image

    if isinstance(image, CompiledModel):
        chip, where = image.image, image.where
    elif isinstance(image, ChipImage):
        chip, where = image, "<image>"
    else:
        return read_image(image, expect_target=expected), str(image)
    if expected is not None:
        check_built_for(chip.target, expected, where)
    return chip, where


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
