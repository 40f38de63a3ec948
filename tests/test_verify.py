"""`sdannc verify`, the first-mismatch finder, end to end through the command line.

On exact families (darwin3-wide) every layer equals onnxruntime and the exit code is 0; a RoT config
makes the first sparsified layer the first mismatch (exit 1) until --max-steps / --max-frac allow
what it does; on darwin3 the first mismatch is the first layer scaled integration shifts; the JSON
is the printed table; user mistakes are one line, exit 2, and nothing written.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import models
from cli_checks import assert_user_error, progress_lines
from sdannc.sparsify import Plan
from sdannc import verification as verify_module
from sdannc.cli import main
from sdannc.compiler import lower
from sdannc.golden import run as golden_run
from sdannc.reference import DEFAULT, Reference, reference
from sdannc.sim import Simulator
from sdannc.target import load_target
from sdannc.verification.onnx_tensors import corresponding, quantizations
from sdannc.verification.text import HEAD

EXACT_VARIANTS = [("qdq", False, "uint8"), ("qdq", True, "int8"), ("qop", False, "int8"), ("qop", True, "uint8")]
# an MLP and a CNN (batch fixed to 1: a batch of 16 must verify all the same), and the Add nets
EXACT_FAMILIES = ["mlp_gemm", "strided_depthwise", "residual", "mlp_matmul"]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """name -> a .npy of 16 held-out digits shaped for that model."""
    folder = tmp_path_factory.mktemp("verify-inputs")
    paths = {}
    for name in models.FLOAT_MODELS:
        paths[name] = folder / f"{name}.npy"
        np.save(paths[name], models.eval_set(models.float_model(name), 16))
    return paths


def verify(runner, model, x, *args):
    return runner.invoke(main, ["verify", str(model), "--input", str(x), *map(str, args)])


def table_rows(stdout: str) -> list[list[str]]:
    """The printed table's rows, split into cells (columns are two or more spaces apart)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split() and line.startswith(HEAD[0] + " "))
    end = next(i for i, line in enumerate(lines) if line.startswith("bound: "))
    return [re.split(r"\s{2,}", line.strip()) for line in lines[start + 2:end]]


def run_json(runner, tmp_path, model, x, *args) -> tuple[object, dict]:
    out = tmp_path / "verify.json"
    result = verify(runner, model, x, "--json", out, *args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result, json.loads(out.read_text())


# ---- exact families: every layer equal, exit 0 -------------------------------------------------------


@pytest.mark.parametrize("variant", EXACT_VARIANTS, ids=models.variant_id)
@pytest.mark.parametrize("name", EXACT_FAMILIES)
def test_exact_family_on_darwin3_wide_has_every_layer_equal(runner, tmp_path, inputs, name, variant):
    model = models.quantized(name, *variant)
    result, report = run_json(runner, tmp_path, model, inputs[name], "-t", "darwin3-wide")
    assert result.exit_code == 0, result.stdout
    rows = report["layers"]
    compiled = lower(model, load_target("darwin3-wide"))
    assert [r["layer"] for r in rows] == [n.name for n in compiled.nodes if n.op in ("stem", "adder", "max")]
    for row in rows:
        added = "/" in row["layer"]  # relays and requantizing relays the passes add: no ONNX tensor
        assert (row["tensor"] is None) == added, row
        assert row["golden_differ"] == 0 and not row["beyond"]
        if not added:
            assert (row["differ"], row["max_steps"], row["rms_over_std"]) == (0, 0, 0.0), row
            assert row["elements"] == 16 * int(np.prod(row["shape"]))
    assert report["first_mismatch"] is None and report["golden_equals_simulator"] and report["exit_code"] == 0
    assert report["reference"]["mode"] == ("exact (uint8 twin)" if variant[0] == "qop" and variant[2] == "int8"
                                           else "exact")
    compared = sum(r["tensor"] is not None for r in rows)
    assert result.stdout.splitlines()[-1] == f"all {compared} layers with an onnxruntime tensor are within the bound"


def test_the_output_layer_row_is_the_models_own_outputs(runner, tmp_path, inputs):
    """The last layer's differences are those of the whole model's outputs (one exact session) against
    the golden model's. (Reading every tensor as an extra output of one session would not give them:
    on this int8 QDQ CNN onnxruntime then runs conv2 as a float Conv, and 1 output differs, not 8.)"""
    model = models.quantized("cnn_pool", "qdq", False, "int8")
    result, report = run_json(runner, tmp_path, model, inputs["cnn_pool"], "-t", "darwin3-wide")
    x = np.load(inputs["cnn_pool"])
    target = load_target("darwin3-wide")
    chip, onnxruntime = golden_run(lower(model, target), x, target.arith), reference(model).outputs(x)
    assert report["layers"][-1]["differ"] == int(np.count_nonzero(chip != onnxruntime)) > 0
    # the QDQ AveragePool rounds its ties otherwise (docs/exactness.md (a)): the first mismatch, layers before it equal
    assert report["first_mismatch"] == "avgpool" and result.exit_code == 1
    assert all(r["differ"] == 0 for r in report["layers"][:3])


@pytest.mark.parametrize("per_channel", [False, True], ids=["pertensor", "perchannel"])
def test_onnxruntime_tensors_are_those_the_whole_model_computes(inputs, per_channel):
    """The AveragePool tensor of the int8 QDQ CNN, read from onnxruntime, is what the whole model feeds
    its last layer: the chip's dense layer (exact on darwin3-wide) applied to it gives onnxruntime's
    outputs exactly. Read at its QuantizeLinear instead of its DequantizeLinear, onnxruntime would run
    that pool unfused, in float, and round some of its ties otherwise."""
    import onnx

    from sdannc.neurons import OPS
    from sdannc.verification.onnx_tensors import readers

    path = models.quantized("cnn_pool", "qdq", per_channel, "int8")
    model, target = onnx.load(str(path)), load_target("darwin3-wide")
    graph = lower(path, target)
    layers = [n.output for n in graph.nodes if n.op in ("stem", "adder", "max")]
    quant = corresponding(graph, layers, model)
    x = np.load(inputs["cnn_pool"])
    fc = graph.nodes[-1]
    read = readers(model, quant)
    pooled, expected = (read[t].read(model, x)[0] for t in ("avgpool_out_QuantizeLinear_Output", fc.output))
    assert np.array_equal(OPS["stem"](fc, [pooled], graph.tensors[fc.output].shape, target.arith), expected)


# ---- a RoT config: the first sparsified layer is the first mismatch ------------------------------------------


@pytest.mark.parametrize("config, first", [("default: {rot: 2}", "conv_s2"), ("conv_dw: {rot: 2}", "conv_dw")])
def test_rot_config_makes_the_first_sparsified_layer_the_first_mismatch(runner, tmp_path, inputs, config, first):
    config_path = tmp_path / "sdannc.yaml"
    config_path.write_text(f"sparsify:\n  {config}\n")
    model = models.quantized("strided_depthwise")
    result, report = run_json(runner, tmp_path, model, inputs["strided_depthwise"], "-t", "darwin3-wide",
                              "--config", config_path)
    assert result.exit_code == 1
    progress_lines(result, "verify")  # beyond the bound is a verdict, not an error: nothing else on stderr
    rows = report["layers"]
    sparsified = [r["layer"] for r in rows if r["sparsify"]]
    assert sparsified[0] == first == report["first_mismatch"]
    index = [r["layer"] for r in rows].index(first)
    assert all(r["differ"] == 0 for r in rows[:index])  # what comes before it is still exact
    row = rows[index]
    assert row["sparsify"] == {"rot": 2} and 0 < row["max_steps"] <= 2  # RoT 2 moves a code by at most 2
    assert result.stdout.splitlines()[-1] == (
        f"first mismatch: layer {first} (tensor {row['tensor']}): {100 * row['differ_fraction']:.3g}% of "
        f"{row['elements']} elements differ, by up to {row['max_steps']} step{'s' if row['max_steps'] != 1 else ''}; "
        f"it is sparsified (rot 2)")
    assert report["golden_equals_simulator"]


def test_max_steps_and_max_frac_loosen_the_bound(runner, tmp_path, inputs):
    """The same RoT run passes with the bound set to its own worst figures, and fails again at the
    first layer that exceeds either when one is tightened by a step or a hair."""
    config_path = tmp_path / "sdannc.yaml"
    config_path.write_text("sparsify:\n  default: {rot: 2}\n")
    model, x = models.quantized("mlp_gemm"), inputs["mlp_gemm"]
    args = ("-t", "darwin3-wide", "--config", config_path)
    _, strict = run_json(runner, tmp_path, model, x, *args)
    compared = [r for r in strict["layers"] if r["tensor"]]
    steps, frac = max(r["max_steps"] for r in compared), max(r["differ_fraction"] for r in compared)
    assert strict["exit_code"] == 1 and steps > 0 and 0 < frac < 1

    loose, report = run_json(runner, tmp_path, model, x, *args, "--max-steps", steps, "--max-frac", frac)
    assert loose.exit_code == 0 and report["first_mismatch"] is None
    assert report["bound"] == {"max_steps": steps, "max_frac": frac}
    assert f"by at most {steps} steps" in loose.stdout

    _, fewer_steps = run_json(runner, tmp_path, model, x, *args, "--max-steps", steps - 1, "--max-frac", 1)
    assert fewer_steps["first_mismatch"] == next(r["layer"] for r in compared if r["max_steps"] == steps)
    _, smaller_frac = run_json(runner, tmp_path, model, x, *args, "--max-steps", steps, "--max-frac", frac * 0.999)
    assert smaller_frac["first_mismatch"] == next(r["layer"] for r in compared if r["differ_fraction"] == frac)
    assert fewer_steps["exit_code"] == smaller_frac["exit_code"] == 1


# ---- darwin3: layers drift ------------------------------------------------------------------------------


def _weighted(tmp_path):
    """A compile config for weighted integration, where darwin3's layers round (integration exact,
    the compiler's choice, computes onnxruntime's codes: nothing to find)."""
    path = tmp_path / "weighted.yaml"
    path.write_text("integration: weighted\n")
    return path


@pytest.mark.parametrize("name", ["cnn_pool", "mlp_gemm"])
def test_darwin3_first_mismatch_is_the_first_layer_scaled_integration_shifts(runner, tmp_path, inputs, name):
    weighted = _weighted(tmp_path)
    result, report = run_json(runner, tmp_path, models.quantized(name), inputs[name], "-t", "darwin3",
                              "--config", weighted)
    assert result.exit_code == 1 and report["golden_equals_simulator"]
    rows = report["layers"]
    first = next(r for r in rows if r["beyond"])
    shifted = next(r for r in rows if r["acc_shift"])
    assert first["layer"] == shifted["layer"] == report["first_mismatch"]
    assert result.stdout.splitlines()[-1].endswith(f"; scaled integration shifts its sums right by "
                                                   f"{first['acc_shift']} bits")
    # allowing the first layer's error (one step), no later layer goes beyond it: with weighted
    # integration (docs/exactness.md) the error does not grow with depth as the paper's scheme's did
    assert first["max_steps"] == 1
    result, later = run_json(runner, tmp_path, models.quantized(name), inputs[name], "-t", "darwin3",
                             "--max-steps", 1, "--max-frac", 1, "--config", weighted)
    assert result.exit_code == later["exit_code"] == 0 and later["first_mismatch"] is None


# ---- the JSON is the printed table ----------------------------------------------------------------------


def test_the_json_holds_what_was_printed(runner, tmp_path, inputs):
    calib = tmp_path / "calib.npy"
    np.save(calib, models.calib_set(models.float_model("residual"), 32))
    model = models.quantized("residual", "qop", True, "int8")
    weighted = _weighted(tmp_path)
    result, report = run_json(runner, tmp_path, model, inputs["residual"], "-t", "darwin3", "--calib", calib,
                              "--max-steps", 3, "--max-frac", 0.5, "--config", weighted)
    assert result.exit_code == report["exit_code"] == 1
    printed = table_rows(result.stdout)
    assert len(printed) == len(report["layers"]) >= 8
    for cells, row in zip(printed, report["layers"]):
        compared = row["tensor"] is not None
        assert cells == [
            row["layer"], row["op"], row["tensor"] or "-", str(row["elements"]),
            f"{row['differ']} ({100 * row['differ'] / row['elements']:.3g}%)" if compared else "-",
            str(row["max_steps"]) if compared else "-",
            f"{row['rms_over_std']:.4f}" if compared else "-",
            "yes"]
    lines = result.stdout.splitlines()
    assert lines[0] == (f"{model.name} on darwin3: 16 samples of {inputs['residual'].name}, every layer's codes "
                        f"against onnxruntime, mode {report['reference']['mode']}")
    assert "bound: at most 50% of a layer's elements differ, by at most 3 steps" in lines
    assert lines[-1].startswith(f"first mismatch: layer {report['first_mismatch']} ")
    assert (report["model"], report["target"], report["samples"], report["calib"], report["config"]) == \
        (str(model), "darwin3", 16, str(calib), str(weighted))
    assert report["reference"] == {"mode": "exact (uint8 twin)", "notes": []}


def test_notes_say_where_onnxruntime_is_not_exact(runner, tmp_path, inputs, monkeypatch):
    """A session that fell back to onnxruntime's default kernels, and the saturation line, are printed
    before the table and kept in the JSON."""
    note = "onnxruntime's exact mode cannot load it; compared against its default kernels"
    saturation = "onnxruntime's default kernels on this CPU saturate: 12.50% of outputs differ from its exact mode"

    def default_reference(model, threads=0):
        session = reference(model, threads).session
        return Reference(session, DEFAULT, note=note)

    monkeypatch.setattr(verify_module, "reference", default_reference)
    monkeypatch.setattr(verify_module.onnx_tensors, "reference", default_reference)
    monkeypatch.setattr(verify_module, "default_session_disagreement", lambda *a: saturation)
    result, report = run_json(runner, tmp_path, models.quantized("mlp_gemm"), inputs["mlp_gemm"], "-t", "darwin3-wide")
    assert report["reference"] == {"mode": DEFAULT, "notes": [note]}
    # exact sessions are not asked whether the default one saturates; with a default session there is none to ask
    assert report["saturation"] is None
    assert f"note: {note}" in result.stdout.splitlines()[1:3]

    monkeypatch.setattr(verify_module, "reference", reference)
    monkeypatch.setattr(verify_module.onnx_tensors, "reference", reference)
    result, report = run_json(runner, tmp_path, models.quantized("mlp_gemm"), inputs["mlp_gemm"], "-t", "darwin3-wide")
    assert report["saturation"] == saturation and result.stdout.splitlines()[1] == f"note: {saturation}"
    assert result.exit_code == 0


def test_a_simulator_that_leaves_the_golden_model_is_a_compiler_bug(runner, tmp_path, inputs, monkeypatch):
    """One flipped bit in one layer's record is a loud line, on stdout and stderr, and exit 1 even
    within the widest bound."""
    codes_at = Simulator.codes_at
    model = models.quantized("mlp_gemm")

    def flip_first_layer(self, result, core, neuron):
        codes = codes_at(self, result, core, neuron)
        if codes.shape[1] == 32:  # mlp_gemm's fc1
            codes[3, 5] ^= 1
        return codes

    monkeypatch.setattr(Simulator, "codes_at", flip_first_layer)
    result, report = run_json(runner, tmp_path, model, inputs["mlp_gemm"], "-t", "darwin3-wide", "--max-frac", 1,
                              "--max-steps", 255)
    assert result.exit_code == report["exit_code"] == 1 and not report["golden_equals_simulator"]
    assert [r["golden_differ"] for r in report["layers"]] == [1, 0, 0]
    assert table_rows(result.stdout)[0][-1] == "NO (1 differ)"
    assert result.stdout.splitlines()[-2].startswith("COMPILER BUG: the simulator differs from the golden model in "
                                                     "1 layer(s), first in layer fc1 (1 of 512 elements)")
    *progress, last = result.stderr.splitlines(keepends=True)
    progress_lines(SimpleNamespace(stderr="".join(progress)), "verify")
    assert last.startswith("sdannc: compiler bug:")


def test_the_documented_example_is_what_verify_prints(runner, tmp_path):
    doc = (Path(__file__).resolve().parents[1] / "docs" / "exactness.md").read_text()
    section = doc[doc.index("## 3. Finding the first mismatch"):]
    example = section[section.index("```\n") + 4:section.index("\n```", section.index("```\n") + 4)]
    x = tmp_path / "x.npy"
    np.save(x, models.eval_set(models.float_model("cnn_pool"), 16))
    model = models.quantized("cnn_pool")
    result = verify(runner, model, x, "-t", "darwin3-wide")
    assert result.exit_code == 1 and result.stdout == example + "\n"
    loose = verify(runner, model, x, "-t", "darwin3-wide", "--max-steps", 2, "--max-frac", 0.1)
    assert loose.exit_code == 0 and "`--max-steps 2\n--max-frac 0.1`" in section
    assert loose.stdout.splitlines()[-1] == "all 5 layers with an onnxruntime tensor are within the bound"


# ---- user errors: one line, exit 2, nothing written ----------------------------------------------------------


def _missing_input(ctx):
    ctx["x"] = ctx["work"] / "nosuch.npy"
    return [f"input {ctx['x']}", "not found"]


def _wrong_shape(ctx):
    ctx["x"] = ctx["work"] / "flat.npy"
    np.save(ctx["x"], np.zeros((3, 64), np.float32))
    return [f"input {ctx['x']}", "shape (3, 64)", "the model's input (batch, 1, 8, 8)"]  # before the backend ran


def _wrong_dtype(ctx):
    ctx["x"] = ctx["work"] / "codes.npy"
    np.save(ctx["x"], np.zeros((3, 1, 8, 8), np.uint8))
    return [f"input {ctx['x']}", "dtype uint8", "the model's input"]


def _empty_batch(ctx):
    ctx["x"] = ctx["work"] / "empty.npy"
    np.save(ctx["x"], np.zeros((0, 1, 8, 8), np.float32))
    return [f"input {ctx['x']}", "empty batch"]


def _bad_config(ctx):
    path = ctx["work"] / "sdannc.yaml"
    path.write_text("sparsify: {default: {rot: 2}}\nplacement: fast\n")
    ctx["args"] += ["--config", path]
    return [f"config {path}", "unknown key 'placement'"]


def _config_names_no_layer(ctx):
    path = ctx["work"] / "sdannc.yaml"
    path.write_text("sparsify: {conv9: {rot: 2}}\n")
    ctx["args"] += ["--config", path]
    return ["sparsify names layer 'conv9'", "conv1, conv2"]


def _missing_calib(ctx):
    ctx["args"] += ["--calib", ctx["work"] / "nosuch.npy"]
    return [str(ctx["work"] / "nosuch.npy"), "not found"]


def _missing_model(ctx):
    ctx["model"] = ctx["work"] / "nosuch.onnx"
    return [f"model {ctx['model']}", "not found"]


def _max_frac_above_one(ctx):
    ctx["args"] += ["--max-frac", 1.5]
    return ["--max-frac 1.5", "from 0 to 1"]


def _negative_max_steps(ctx):
    ctx["args"] += ["--max-steps", -1]
    return ["--max-steps -1", "negative"]


ERRORS = [_missing_input, _wrong_shape, _wrong_dtype, _empty_batch, _bad_config, _config_names_no_layer,
          _missing_calib, _missing_model, _max_frac_above_one, _negative_max_steps]


@pytest.mark.parametrize("mistake", ERRORS, ids=[m.__name__.lstrip("_") for m in ERRORS])
def test_user_errors_are_one_line_and_write_nothing(runner, tmp_path, inputs, mistake):
    work = tmp_path / "work"
    work.mkdir()
    report = tmp_path / "earlier.json"
    report.write_text("an earlier report\n")
    ctx = {"work": work, "model": models.quantized("cnn_pool"), "x": inputs["cnn_pool"], "args": []}
    fragments = mistake(ctx)
    result = verify(runner, ctx["model"], ctx["x"], "--json", report, *ctx["args"])
    assert_user_error(result, *fragments)
    assert result.stdout == ""
    assert report.read_text() == "an earlier report\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["earlier.json", "work"]


# ---- the library: the ONNX side of the correspondence ---------------------------------------------------------


def test_a_layer_stands_for_an_onnx_tensor_only_with_its_scale_and_zero_point():
    import onnx

    path = models.quantized("cnn_pool", "qop", False, "int8")
    model = onnx.load(str(path))
    quant = quantizations(model)
    # the QOperator MaxPool's output keeps its input's quantization; int8 zero points are their codes - 128
    assert quant["maxpool_out_quantized"] == quant["conv1_out_quantized"]
    assert quant["conv1_out_quantized"].dtype == "int8"
    graph = lower(path, load_target("darwin3-wide"))
    layers = [n.output for n in graph.nodes if n.op in ("stem", "adder", "max")]
    assert sorted(corresponding(graph, layers, model)) == sorted(layers)
    for field, change in (("zero_point", 1), ("scale", 1e-4)):
        shifted = graph.copy()
        t = shifted.tensors["conv2_out_quantized"]
        setattr(t, field, getattr(t, field) + change)
        assert "conv2_out_quantized" not in corresponding(shifted, layers, model), field


def test_verify_reports_its_progress(tmp_path, inputs):
    said = []
    verify_module.verify_model(models.quantized("mlp_gemm"), inputs["mlp_gemm"], "darwin3-wide",
                               progress=lambda done, total: said.append((done, total)))
    assert said[0][0] == 0 and said[-1][0] == said[-1][1] > 0


# ---- sdannc run --calib ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["golden", "sim"])
def test_run_takes_calib_as_compile_does(runner, tmp_path, inputs, engine):
    model, x = models.quantized("digits_mlp"), inputs["digits_mlp"]
    calib, y, y_worst = tmp_path / "calib.npy", tmp_path / "y.npy", tmp_path / "y_worst.npy"
    np.save(calib, models.calib_set(models.float_model("digits_mlp"), 64))
    base = ["run", str(model), "-i", str(x), "--engine", engine, "-t", "darwin3", "--config", str(_weighted(tmp_path))]
    assert runner.invoke(main, base + ["-o", str(y), "--calib", str(calib)]).exit_code == 0
    assert runner.invoke(main, base + ["-o", str(y_worst)]).exit_code == 0
    target = load_target("darwin3")
    expected = golden_run(lower(model, target, np.load(calib), plan=Plan(integration="weighted")), np.load(x),
                          target.arith)
    assert np.array_equal(np.load(y), expected)
    assert not np.array_equal(np.load(y), np.load(y_worst))  # measured sums, smaller shifts: other outputs
