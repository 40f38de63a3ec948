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
    from .sim import Simulator
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
            milestone: Callable[[str], None] | None = None, coding: str | None = None) -> CompiledModel:
    """Compile a quantized ONNX model into a chip image, as `sdannc compile` does.

    model: a path or an onnx.ModelProto; target: a built-in name (darwin3, darwin3-wide), a YAML
    path, or a Target; config: a compile config file or a dict of its content ({"sparsify": ...});
    calib: calibration inputs, a .npy path or an array (the first axis is the batch); coding: the
    spike coding, "stem", "ttfs" or "rate" (docs/codings.md; None: the config's `coding:`, else stem).
    observe(step, graph) sees the IR after each step (`--dump-ir`); status(text) hears what the
    compiler is doing and milestone(text) each stage done (the CLI's progress lines).
    Raises SdanncError, with the CLI's messages.
    """
    from .compiler import compile_in_memory, compile_inputs

    target, plan, calib = compile_inputs(target, config, calib, coding)
    with _model_file(model) as path:
        compiled = compile_in_memory(path, target, calib, observe, plan, status, milestone)
    if path != model:  # a ModelProto: its temporary file is gone, the report names it by its graph
        compiled.report["model"] = path.name
    return CompiledModel(compiled.image, compiled.report, compiled.graph)


def simulate(image: CompiledModel | ChipImage | Simulator | PathLike, x: BatchLike, *, target: TargetLike | None = None,
             lanes: int = 1, engine: str = "cycle", threads: int | None = None, executor: str | None = None,
             progress: Progress | None = None) -> SimulationResult:
    """Run a batch on the simulator, as `sdannc sim` does.

    image: what compile() or load() returns, a ChipImage, an image folder, or a sdannc.sim.Simulator
    (which builds the image's connectivity once, for many calls; it is its own engine); x: a .npy
    path or an array whose first axis is the batch; target: refuse an image built for another
    target (`-t`); lanes: independent streams side by side; threads: how many of the machine's
    cores one run uses (default all); neither changes the results. engine: one of
    sdannc.sim.engines.ENGINES, "cycle" (the cycle-level engine) or "functional" (layer after
    layer, the same outputs and report: docs/simulator.md); executor: how the neuron programs run,
    "kernel" or "numpy" (None: the compiled kernel).
    Raises SdanncError, with the CLI's messages."""
    from .errors import SdanncError
    from .fileio import as_batch
    from .sim import Simulator, simulator
    from .sim.engines import check_engine
    from .sim.run import run_batch

    check_engine(engine)
    expected = _target(target) if target is not None else None
    if isinstance(image, Simulator):  # built once for many calls (sdannc eval's workers)
        sim = image
        if expected is not None:
            from .image import check_built_for

            check_built_for(sim.image.target, expected, sim.where)
    else:
        sim = simulator(*_chip_image(image, expected), engine, executor)
    x, name = as_batch(x, "input")
    if threads is not None and threads < 1:
        raise SdanncError(f"threads {threads}: give at least 1")
    result, report = run_batch(sim, x, name, lanes, progress, threads)  # run checks x's shape and dtype
    return SimulationResult(result.outputs, report)


@dataclass
class Evaluation:
    """What `sdannc eval` measured: `outputs` (one row per sample, in input order), `summary` (the
    dict summary.json holds: accuracy, agreement with onnxruntime, spikes, SOPs and energy per sample,
    per layer), `timing` (the host's: wall time, workers, samples per second; timing.json)."""

    outputs: np.ndarray
    summary: dict
    timing: dict


def evaluate(image: PathLike, x: BatchLike, out_dir: PathLike, *, labels: BatchLike | None = None,
             reference: PathLike | None = None, engine: str = "cycle", workers: int | None = None,
             scheduler: str | None = None, threads: int | None = None, shard_size: int | None = None,
             force: bool = False, progress: Progress | None = None) -> Evaluation:
    """Run a whole input set through an image folder, sharded over Dask, as `sdannc eval` does.

    x: the inputs (a .npy path or an array, first axis the samples); labels: their classes (one
    integer each) for the accuracy; reference: the quantized ONNX model, for the agreement with
    onnxruntime (exact mode); engine: one of sdannc.sim.engines.ENGINES. workers: the embedded local
    cluster's worker processes (default 1), or scheduler: a running Dask scheduler's address. The
    results go to out_dir (outputs.npy, summary.json, index.html, timing.json, shards/); a folder that
    holds an earlier run of the same image and inputs is resumed, and one of other inputs is refused
    unless force (which starts over). shard_size: samples per shard (default 32); the results do not
    depend on workers, threads or scheduler. progress(done, total) hears the shards done.
    Raises SdanncError, with the CLI's messages."""
    from .errors import SdanncError
    from .evaluation import plan
    from .evaluation.run import Job, check_labels, evaluate as run_evaluation
    from .fileio import as_batch
    from .image import read_image
    from .inputs import check_batch
    from .sim.engines import check_engine

    check_engine(engine)
    if workers is not None and scheduler is not None:
        raise SdanncError("give --workers or --scheduler, not both: the scheduler's cluster has its own workers")
    for name, value in (("workers", workers), ("threads", threads), ("shard size", shard_size)):
        if value is not None and value < 1:
            raise SdanncError(f"{name} {value}: give at least 1")
    chip = read_image(image)
    x_arg = x
    x, x_name = as_batch(x, "input")
    io = chip.io
    check_batch(x, io.input_shape, f"input {x_name}", f"the image {image}'s input", io.input_encode)
    y = None
    if labels is not None:
        y, y_name = as_batch(labels, "labels")
        y = check_labels(y, y_name, len(x))
    ref_bytes = ref_name = ref_info = None
    if reference is not None:
        from .reference import reference as load_reference

        ref = load_reference(reference)  # refuses, in one line, a model onnxruntime cannot load
        ref_bytes, ref_name = Path(reference).read_bytes(), str(reference)
        ref_info = {"model": ref_name, "mode": ref.mode, "note": ref.note}
        del ref
    job = Job(chip, str(image), x, x_name, y, ref_bytes, ref_name, ref_info, engine, threads,
              shard_size or plan.DEFAULT_SHARD_SIZE, simulate)
    given = {"IMAGE_DIR": image, "--input": x_arg, "--labels": labels, "--reference": reference}
    inputs = {k: v for k, v in given.items() if v is not None and not hasattr(v, "shape")}  # the files it reads
    result = run_evaluation(job, Path(out_dir), workers=workers, scheduler=scheduler, force=force,
                            inputs=inputs, progress=progress)
    return Evaluation(result.outputs, result.summary, result.timing)


def run(model: ModelLike, x: BatchLike, target: TargetLike = "darwin3", *, engine: str = "golden",
        config: ConfigLike = None, calib: BatchLike | None = None, coding: str | None = None) -> np.ndarray:
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
    target, plan, calib = compile_inputs(target, config, calib, coding)
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
           progress: Progress | None = None, coding: str | None = None) -> Verification:
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
        result = verify_model(path, x, target, config, calib, bound, progress, coding)
    if path != model:
        result.model = path.name
    return result


def tune(model: ModelLike, calib: BatchLike, labels: BatchLike, target: TargetLike = "darwin3", *,
         max_drop: float = 1.0, progress: Progress | None = None, coding: str = "stem") -> Tuning:
    """Choose RoT / DRLO per layer, as `sdannc tune` does: the fewest synaptic operations whose
    accuracy on (calib, labels), measured with the golden model, is within max_drop percentage
    points of the unsparsified model's. calib: inputs (a .npy path or an array, first axis the
    batch); labels: their classes, one integer per sample; coding: the spike coding whose SOPs count
    (its config keeps it). Raises SdanncError, with the CLI's messages."""
    from .tuning import tune_model

    with _model_file(model) as path:
        result, text = tune_model(path, target, calib, labels, max_drop, progress, coding)
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


@dataclass
class CodingComparison:
    """What `sdannc compare` measures: `data` is the dict its comparison.json holds (per coding: a
    refusal with the compiler's message, or per layer and in total spikes, SOPs, ticks, cycles,
    energy, accuracy and agreement with onnxruntime)."""

    data: dict

    @property
    def results(self) -> dict[str, dict]:
        """Each coding's entry, by name."""
        return {r["coding"]: r for r in self.data["results"]}

    def save(self, out_dir: PathLike, force: bool = False) -> None:
        """Write index.html, comparison.json and the figures to out_dir, as `sdannc compare -o out_dir`
        does; a folder is replaced as CompiledModel.save replaces one."""
        from .comparison import write_comparison

        write_comparison(self.data, out_dir, force)


def compare_codings(model: ModelLike, x: BatchLike, target: TargetLike = "darwin3", *,
                    codings: list[str] | None = None, config: ConfigLike = None, calib: BatchLike | None = None,
                    labels: BatchLike | None = None, lanes: int = 1, progress: Progress | None = None,
                    status: Callable[[str], None] | None = None) -> CodingComparison:
    """Compile the model in each spike coding (codings: a subset of sdannc.config.CODINGS; all of
    them by default) for one target, with the same config and calib, run x on the simulator in
    each, and compare, as `sdannc compare` does. A coding the compiler refuses for this model is
    recorded as refused with its message; the others are still measured. labels: one class per
    sample of x (a .npy path or an array), for accuracy. progress(done, total) hears each
    simulation's ticks, status(text) each coding's steps. .save(out_dir) writes the page.
    Raises SdanncError, with the CLI's messages."""
    from .comparison import check_codings, check_labels, collect
    from .compiler import compile_inputs
    from .fileio import as_batch
    from .frontend import load_onnx
    from .golden.interpreter import check_input

    codings = check_codings(codings)  # before any work, as the target, the config, calib, x and labels
    chip, _, calib = compile_inputs(target, config, calib)
    x, input_name = as_batch(x, "input")
    check_labels(labels, x.shape[0])
    with _model_file(model) as path:
        name = str(path) if path == model else path.name
        check_input(load_onnx(path), x, input_name)  # the model read once: its own faults are no coding's

        def compile_one(coding: str):
            compiled = compile(path, chip, config=config, calib=calib, coding=coding)
            return compiled.image, compiled.report, f"{name} ({coding})"

        data = collect(path, name, chip.name, compile_one, x, input_name, codings=codings, labels=labels,
                       lanes=lanes, progress=progress, status=status)
    return CodingComparison(data)


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
