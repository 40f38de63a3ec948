"""The `sdannc` command: a thin layer over the Python API (sdannc/api.py). Each subcommand reads its
options, calls one API function, and prints or writes what it returns; the work is the API's.

A SdanncError from any subcommand is the user's to fix: it prints as one line,
`sdannc: error: <message>`, on stderr and exits with code 2; so do click's usage errors (a bad option
value, a missing argument) and what the operating system refuses (a full disk, a file that cannot be
written). Anything else is a bug and keeps its traceback. Subcommands are `@main.command()` functions.
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path

import click

from . import api
from .version import __version__
from .errors import SdanncError
from .fileio import (COMPARISON_FORMAT, EVAL_FORMAT, IMAGE_FORMAT, REPORT_FORMAT, check_output_folder, check_writable,
                     json_bytes, save_all, save_array)
from .passes import STEP_NAMES  # the names --dump-ir offers, when the options are declared
from .backend import BACKEND_STEP_NAMES
from .sim.engines import DEFAULT_ENGINE, ENGINES
from .ir.codes import CODINGS


class _Group(click.Group):
    """Every error the user can fix, ours or click's (a bad option value, a missing argument), is one line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            _usage_error(ctx, exc)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SdanncError as exc:
            _error_line(ctx, str(exc), exc.exit_code)
        except click.UsageError as exc:  # parsing a subcommand's options, or an unknown command
            _usage_error(ctx, exc)
        except OSError as exc:  # the machine's refusal (disk full, permissions), not a bug of ours
            where = f"{exc.filename}: " if exc.filename else ""
            _error_line(ctx, f"{where}{exc.strerror or exc}", SdanncError.exit_code)


def _error_line(ctx: click.Context, message: str, exit_code: int):
    message = " ".join(message.split())  # one line, whatever the message
    click.echo(f"sdannc: error: {message}", err=True)
    ctx.exit(exit_code)


def _usage_error(ctx: click.Context, exc: click.UsageError):
    """click's message (it names the option and the value) on one line, instead of its usage block."""
    if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):
        raise exc  # `sdannc` alone prints the help, as `sdannc --help` does
    names, where = [], exc.ctx or ctx
    while where.parent is not None:  # the command path, spelled as the user types it
        names.append(where.info_name)
        where = where.parent
    command = " ".join(["sdannc", *reversed(names)])
    _error_line(ctx, f"{exc.format_message().rstrip('.')} (see '{command} --help')", exc.exit_code)


@click.group(cls=_Group)
@click.version_option(__version__, "--version", prog_name="sdannc")
def main() -> None:
    """Compile quantized neural networks for Darwin3-like neuromorphic chips, and simulate them."""


def _isa_option(command):
    return click.option(
        "--isa", "isa_name", default="darwin3", show_default=True, metavar="NAME|PATH",
        help="Instruction set: a name under isa/ or a YAML file.",
    )(command)


def _lanes_option(command):
    return click.option("--lanes", default=1, show_default=True, type=click.IntRange(min=1),
                        help="Independent streams simulated side by side (results do not change; each lane adds the pipeline's latency).")(command)


def _quiet_option(command):
    return click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")(command)


def _output_folder(kind: str, what: str, *inputs: str):
    """`-o/--output FOLDER` and `--force` of a command that writes a folder of `kind` (its manifest's
    format). The folder is checked before the command does any work (fileio.check_output_folder):
    `inputs` name the parameters whose files it must not hold."""
    def decorate(command):
        @functools.wraps(command)
        def checked(**params):
            labels = {p.name: (max(p.opts, key=len) if isinstance(p, click.Option) else p.human_readable_name)
                      for p in click.get_current_context().command.params}
            check_output_folder(params["out_dir"], kind, params["force"],
                                {labels[name]: params[name] for name in inputs})
            return command(**params)

        checked = click.option("--force", is_flag=True,
                               help="Replace the folder even if it holds other files (never the current folder, "
                                    "one that holds it or an input, or the home folder).")(checked)
        return click.option("-o", "--output", "out_dir", required=True,
                            type=click.Path(file_okay=False, path_type=Path),
                            help=f"Folder for {what}: made, or replaced if it is empty or an earlier one.")(checked)
    return decorate


# ---- instruction set ------------------------------------------------------------------------


@main.command()
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Program file to write: raw little-endian 16-bit words.")
@_isa_option
def asm(source: Path, output: Path, isa_name: str) -> None:
    """Assemble SOURCE (.s) into a program binary."""
    from .isa import write_program_bin

    words = api.assemble(source, isa=isa_name)
    write_program_bin(output, words)
    click.echo(f"{output}: {len(words)} words")


@main.command()
@click.argument("program", type=click.Path(dir_okay=False, path_type=Path))
@_isa_option
def disasm(program: Path, isa_name: str) -> None:
    """Print the assembly text of a program binary."""
    click.echo(api.disassemble(program, isa=isa_name), nl=False)


# ---- compiler ---------------------------------------------------------------------------------


def _target_option(command):
    return click.option("-t", "--target", "target_name", default="darwin3", show_default=True, metavar="NAME|PATH",
                        help="Chip: a built-in target (darwin3, darwin3-wide) or a YAML file.")(command)


def _config_options(command):
    """--config and --calib mean the same to every command that compiles (compiler.compile_inputs)."""
    command = click.option("--calib", "calib_path", type=click.Path(dir_okay=False, path_type=Path),
                           help="Calibration inputs (.npy): scaled integration from measured sums instead of "
                                "worst cases.")(command)
    return click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
                        help="Compile config (YAML), e.g. the sparsify: section `sdannc tune` writes.")(command)


def _compile_options(command):
    """--config, --calib and one --coding (compare takes several codings of its own)."""
    command = click.option("--coding", type=click.Choice(CODINGS), default=None,
                           help="Spike coding: stem (the default: 8 bits MSB first), ttfs (one spike, time to first "
                                "spike) or rate (a spikes); overrides the config's coding: (docs/codings.md).")(command)
    return _config_options(command)


@main.command(name="compile")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@_target_option
@_output_folder(IMAGE_FORMAT, "the chip image and report.json", "model", "calib_path", "config_path", "target_name")
@_compile_options
@click.option("--dump-ir", "dump_ir", type=click.Choice(STEP_NAMES + BACKEND_STEP_NAMES), multiple=True,
              help="Print the IR after this pass, or the backend's tiles and placement after this backend "
                   "step (repeatable).")
@_quiet_option
def compile_command(model: Path, target_name: str, out_dir: Path, force: bool, calib_path: Path | None,
                    config_path: Path | None, coding: str | None, dump_ir, quiet: bool) -> None:
    """Compile a quantized ONNX MODEL into a chip image."""
    from .backend.report import summary_table

    def observe(step, graph):
        if step in dump_ir:
            click.echo(f"== IR after {step} ==\n{graph.dump()}")

    with _status("compile", quiet) as status:
        compiled = api.compile(model, target_name, config=config_path, calib=calib_path, observe=observe,
                               status=status.update, milestone=status.milestone, coding=coding)
        status.update(f"writing {out_dir}")
        compiled.save(out_dir, force)
    if not quiet:
        click.echo(summary_table(compiled.report))
        click.echo(f"image written to {out_dir}")


@main.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--input", "-i", "input_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Input batch (.npy); the first axis is the batch.")
@click.option("--output", "-o", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--engine", type=click.Choice(["golden", "sim"]), default="golden", show_default=True,
              help="golden: the integer reference model; sim: compile and run on the simulator.")
@_target_option
@_compile_options
def run(model: Path, input_path: Path, output_path: Path, engine: str, target_name: str,
        config_path: Path | None, calib_path: Path | None, coding: str | None) -> None:
    """Run a quantized ONNX MODEL as the chip computes it, without writing an image."""
    save_array(output_path, api.run(model, input_path, target_name, engine=engine, config=config_path,
                                    calib=calib_path, coding=coding))
    click.echo(f"outputs written to {output_path}")


@main.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--input", "-i", "input_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Input batch (.npy); the first axis is the batch.")
@_target_option
@_compile_options
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the table, the bound and the verdict as JSON.")
@click.option("--max-steps", default=0, show_default=True, type=int,
              help="Largest difference from onnxruntime a layer may have, in quantization steps.")
@click.option("--max-frac", default=0.0, show_default=True, type=float,
              help="Largest fraction of a layer's elements that may differ from onnxruntime (0 to 1).")
@_quiet_option
@click.pass_context
def verify(ctx: click.Context, model: Path, input_path: Path, target_name: str, config_path: Path | None,
           calib_path: Path | None, coding: str | None, json_path: Path | None, max_steps: int, max_frac: float,
           quiet: bool) -> None:
    """Compare every layer of MODEL on the chip with onnxruntime: exit 1 at the first layer beyond the bound."""
    from .verification.text import summary_lines

    with _progress("verify", "simulating", "ticks", quiet) as progress:
        result = api.verify(model, input_path, target_name, config=config_path, calib=calib_path,
                            max_steps=max_steps, max_frac=max_frac, progress=progress, coding=coding)
    if json_path is not None:
        save_all({json_path: json_bytes(result.as_json())})
    if not quiet:
        for line in summary_lines(result.as_json()):
            click.echo(line)
    if result.golden_mismatches:  # a compiler bug: said on stderr too, whatever stdout goes to
        click.echo("sdannc: compiler bug: the simulator differs from the golden model: see the table", err=True)
    ctx.exit(result.exit_code)


@main.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--calib", "calib_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Calibration inputs (.npy), first axis the batch.")
@click.option("-o", "--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["qdq", "qop"]), default="qdq", show_default=True)
@click.option("--per-channel", is_flag=True, help="One weight scale per output channel.")
@click.option("--activations", type=click.Choice(["uint8", "int8"]), default="uint8", show_default=True)
def quantize(model: Path, calib_path: Path, output_path: Path, fmt: str, per_channel: bool, activations: str) -> None:
    """Quantize a float ONNX MODEL with onnxruntime's static quantizer."""
    api.quantize(model, calib_path, output_path, format=fmt, per_channel=per_channel, activations=activations)
    click.echo(f"quantized model written to {output_path}")


@main.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--calib", "calib_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Inputs (.npy) to measure accuracy and SOPs on, first axis the batch.")
@click.option("--labels", "labels_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Their classes (.npy of integers, one per sample).")
@click.option("--max-drop", default=1.0, show_default=True, type=float,
              help="Accuracy the sparsification may cost, in percentage points.")
@click.option("-o", "--output", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Compile config to write (YAML with a sparsify: section).")
@click.option("--coding", type=click.Choice(CODINGS), default="stem", show_default=True,
              help="Spike coding whose SOPs are counted, kept in the config (docs/codings.md).")
@_target_option
@_quiet_option
def tune(model: Path, calib_path: Path, labels_path: Path, max_drop: float, output_path: Path, coding: str,
         target_name: str, quiet: bool) -> None:
    """Choose RoT / DRLO per layer: fewest synaptic operations within an accuracy-drop limit."""
    from .tuning import pareto_table

    check_writable(output_path)  # before the search, not after it
    with _progress("tune", "tuning", "configurations", quiet) as progress:
        tuning = api.tune(model, calib_path, labels_path, target_name, max_drop=max_drop, progress=progress,
                          coding=coding)
    tuning.save(output_path)
    result = tuning.result
    if not quiet:
        click.echo(pareto_table(result))
        base, best = result.baseline, result.chosen
        saved = 100 * (1 - best.sops / base.sops) if base.sops else 0.0
        click.echo(f"chosen: {best.describe()}: SOPs per sample {base.sops:,.0f} -> {best.sops:,.0f} "
                   f"({saved:.1f}% fewer), accuracy {base.accuracy:.2f}% -> {best.accuracy:.2f}% "
                   f"({len(result.points)} configurations evaluated)")
        click.echo(f"config written to {output_path}: compile with --config {output_path}")


# ---- simulator --------------------------------------------------------------------------------


@main.command()
@click.argument("image_dir", type=click.Path(path_type=Path))
@click.option("--input", "-i", "input_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Input batch (.npy); the first axis is the batch.")
@click.option("--output", "-o", "output_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the outputs (.npy), decoded as the image says.")
@click.option("--report", "-r", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the full report as JSON.")
@click.option("-t", "--target", "target_name", metavar="NAME|PATH",
              help="Refuse the image unless it was built for this target.")
@click.option("--engine", type=click.Choice(ENGINES), default=DEFAULT_ENGINE, show_default=True,
              help="cycle: tick by tick, spike by spike; functional: layer after layer on integer products, "
                   "the same outputs and report.")
@click.option("--executor", type=click.Choice(["kernel", "numpy"]), default="kernel", show_default=True,
              help="How the neuron programs run: compiled (kernel) or the numpy reference.")
@_lanes_option
@click.option("--threads", type=click.IntRange(min=1),
              help="Threads of the run  [default: the machine's cores] (results do not change).")
@_quiet_option
def sim(image_dir: Path, input_path: Path, output_path: Path, report_path: Path | None, target_name: str | None,
        engine: str, executor: str, lanes: int, threads: int | None, quiet: bool) -> None:
    """Run IMAGE_DIR on the simulator (cycle-level or functional)."""
    from .sim.run import summary_lines

    for path in (output_path, report_path):  # before the run, not after it
        if path is not None:
            check_writable(path)
    with _progress("sim", "simulating", "ticks", quiet) as progress:
        result = api.simulate(image_dir, input_path, target=target_name, lanes=lanes, engine=engine, threads=threads,
                              executor=executor, progress=progress)
    result.save(output_path, report_path)
    if not quiet:
        for line in summary_lines(result.report):
            click.echo(line)
        click.echo(f"outputs written to {output_path}" + (f", report to {report_path}" if report_path else ""))


@main.command()
@click.argument("image_dir", type=click.Path(path_type=Path))
@click.option("--input", "-i", "input_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Input batch (.npy) to measure on; the first axis is the batch.")
@_output_folder(REPORT_FORMAT, "index.html, report.json and the figures", "image_dir", "input_path")
@_lanes_option
@_quiet_option
def report(image_dir: Path, input_path: Path, out_dir: Path, force: bool, lanes: int, quiet: bool) -> None:
    """Spikes, SOPs, bit positions, sparsification, energy and timing of a compiled IMAGE_DIR, as HTML."""
    with _progress("report", "simulating", "ticks", quiet) as progress:
        measured = api.report(image_dir, input_path, lanes=lanes, progress=progress)
    measured.save(out_dir, force)
    data = measured.data
    if not quiet:
        t, e = data["totals"], data["energy_per_sample_pj"]
        click.echo(f"{data['samples']} samples: {t['spikes_per_sample']:,.0f} spikes and {t['sops_per_sample']:,.0f} "
                   f"SOPs per sample ({100 * t['sops_saved_fraction']:.1f}% saved by sparsification)")
        click.echo(f"energy per sample: quantized ANN {e['ann_macs'] / 1e3:.2f} nJ (MACs x {e['pj_per_mac']} pJ), "
                   f"SNN {e['snn_acs'] / 1e3:.2f} nJ (ACs x {e['pj_per_ac']} pJ), this chip {e['chip_sops'] / 1e3:.2f} nJ "
                   f"(SOPs x {e['pj_per_sop']} pJ)")
        click.echo(f"report written to {out_dir / 'index.html'}")


@main.command(name="eval")
@click.argument("image_dir", type=click.Path(path_type=Path))
@click.option("--input", "-i", "input_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The inputs (.npy); the first axis is the samples.")
@click.option("--labels", "labels_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Their classes (.npy of integers, one per sample): the accuracy.")
@click.option("--reference", "reference_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The quantized ONNX model: top-1 agreement and equal outputs with onnxruntime (exact mode).")
@click.option("--engine", type=click.Choice(ENGINES), default=DEFAULT_ENGINE, show_default=True,
              help="The simulation engine.")
@click.option("--workers", type=click.IntRange(min=1),
              help="Worker processes of the local Dask cluster  [default: 1].")
@click.option("--scheduler", metavar="ADDRESS", help="A running Dask scheduler (tcp://HOST:PORT) to run on instead.")
@click.option("--shard-size", type=click.IntRange(min=1), default=32, show_default=True,
              help="Samples per shard: the unit of work, of progress and of resuming.")
@click.option("--threads", type=click.IntRange(min=1),
              help="Threads of each worker's simulation  [default: 1: the workers share the cores] (results do not change).")
@_output_folder(EVAL_FORMAT, "outputs.npy, summary.json, index.html and the shards (a rerun resumes)",
                "image_dir", "input_path", "labels_path", "reference_path")
@_quiet_option
def eval_command(image_dir: Path, input_path: Path, labels_path: Path | None, reference_path: Path | None,
                 engine: str, workers: int | None, scheduler: str | None, shard_size: int, threads: int | None,
                 out_dir: Path, force: bool, quiet: bool) -> None:
    """Run a whole input set through IMAGE_DIR on a Dask cluster: accuracy, agreement, spikes, SOPs, energy."""
    with _progress("eval", "evaluating", "shards", quiet) as progress:
        result = api.evaluate(image_dir, input_path, out_dir, labels=labels_path, reference=reference_path,
                              engine=engine, workers=workers, scheduler=scheduler, threads=threads,
                              shard_size=shard_size, force=force, progress=progress)
    if not quiet:
        s, t = result.summary, result.timing
        line = f"{s['samples']} samples in {s['shards']} shards"
        if s["accuracy"] is not None:
            line += f": accuracy {100 * s['accuracy']['fraction']:.2f}%"
        if s["reference"] is not None:
            r = s["reference"]
            line += (f", top-1 agreement with onnxruntime {100 * r['top1_agreement']:.2f}%, "
                     f"{100 * r['element_equality']:.2f}% of output elements equal")
        click.echo(line)
        p = s["per_sample"]
        click.echo(f"per sample: {p['spikes']:,.0f} spikes, {p['sops']:,.0f} synaptic ops, {p['energy_pj'] / 1e3:,.2f} nJ")
        if t["samples_run"]:
            click.echo(f"{t['samples_run']} samples run in {t['wall_s']:.1f} s on {t['workers']} workers "
                       f"({t['samples_per_s']:.1f} samples/s)" + (f", {t['shards_resumed']} shards resumed"
                                                                  if t["shards_resumed"] else ""))
        else:
            click.echo(f"all {t['shards_resumed']} shards were already done")
        click.echo(f"results written to {out_dir}")
@main.command()
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--input", "-i", "input_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Input batch (.npy) every coding runs; the first axis is the batch.")
@_target_option
@_output_folder(COMPARISON_FORMAT, "index.html, comparison.json and the figures", "model", "input_path",
                "labels_path", "calib_path", "config_path", "target_name")
@_config_options
@click.option("--labels", "labels_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The inputs' classes (.npy of integers, one per sample), for accuracy.")
@click.option("--coding", "codings", multiple=True, metavar="NAME",
              help="A coding to compile in (repeatable); default: every coding the compiler has.")
@_lanes_option
@_quiet_option
def compare(model: Path, input_path: Path, target_name: str, out_dir: Path, force: bool, calib_path: Path | None,
            config_path: Path | None, labels_path: Path | None, codings: tuple[str, ...], lanes: int,
            quiet: bool) -> None:
    """Compile MODEL in each spike coding, run the same inputs, and compare them on one HTML page."""
    from .comparison.text import summary_table

    with _status("compare", quiet) as status:
        def progress(done: int, total: int) -> None:
            status.update(f"simulating: {done}/{total} ticks")

        comparison = api.compare_codings(model, input_path, target_name, codings=list(codings) or None,
                                         config=config_path, calib=calib_path, labels=labels_path, lanes=lanes,
                                         progress=progress, status=status.milestone)
        status.update(f"writing {out_dir}")
        comparison.save(out_dir, force)
    if not quiet:
        click.echo(summary_table(comparison.data))
        click.echo(f"comparison written to {out_dir / 'index.html'}")


def _plain(command: str, text: str) -> None:
    """One progress line where stderr is not a terminal (a log, CI); every one starts `sdannc: <command>:`
    so that a reader tells them from the error line, `sdannc: error: ...`."""
    click.echo(f"sdannc: {command}: {text}", err=True)


class _status:
    """What a long job is doing, on stderr. On a terminal: one updating line. Elsewhere: a plain line
    for each milestone done, only once the inputs are read and the network passed the capacity
    estimate, so that a command refused for its input prints its one error line and nothing else."""

    def __init__(self, command: str, quiet: bool) -> None:
        self.command, self.shown = command, False
        self.live = not quiet and sys.stderr.isatty()
        self.plain = not quiet and not self.live
        self.start = time.monotonic()

    def __enter__(self):
        return self

    def update(self, text: str) -> None:
        if self.live:
            click.echo(f"\r\x1b[K[{time.monotonic() - self.start:6.1f} s] {text}", nl=False, err=True)
            self.shown = True

    def milestone(self, text: str) -> None:
        if self.plain:
            _plain(self.command, f"{text} ({time.monotonic() - self.start:.1f} s)")
        self.update(text)

    def __exit__(self, *exc) -> None:
        if self.shown:
            click.echo("\r\x1b[K", nl=False, err=True)


class _progress:
    """Progress of a long run on stderr: a bar on a terminal; elsewhere a plain line each time another
    tenth is done (the first after the run has started, so never before an input error)."""

    STEPS = 10

    def __init__(self, command: str, label: str, unit: str, quiet: bool) -> None:
        self.command, self.label, self.unit, self.bar = command, label, unit, None
        self.live = not quiet and sys.stderr.isatty()
        self.plain = not quiet and not self.live
        self.tenths = 0

    def __enter__(self):
        return self.update

    def update(self, done: int, total: int) -> None:
        if self.plain and total > 0 and done * self.STEPS // total > self.tenths:
            self.tenths = done * self.STEPS // total
            _plain(self.command, f"{100 * done // total}% ({done}/{total} {self.unit})")
        if not self.live:
            return
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.bar.pos)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


if __name__ == "__main__":
    main(prog_name="sdannc")
