"""`sdannc compile`, `run` and `quantize` end to end through the command line.

A compiled image holds what the report says it holds, runs on the simulator to exactly the golden
model's outputs, and is the same bytes every time; --dump-ir, -t and --calib do what they say; and
every user mistake is one line on stderr, exit code 2, and no output written (an existing output
folder is left as it was).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

import models
from sdannc.cli import main
from sdannc.compiler import lower
from sdannc.golden import run as golden_run
from sdannc.sparsify import Plan
from sdannc.target import load_target
from cli_checks import assert_user_error, assert_ok, new_runner, progress_lines, tree

TOTAL_CORES = 575  # darwin3: a 24 x 24 mesh less the controller node

# cnn_pool (tests/models.py): the ONNX node of each layer, its op on the chip, and its neurons (output sizes)
CNN_LAYERS = [("conv1", "STEM conv", 4 * 8 * 8), ("maxpool", "max", 4 * 4 * 4), ("conv2", "STEM conv", 8 * 4 * 4),
              ("avgpool", "avgpool f32", 8 * 2 * 2), ("fc", "STEM dense", 10)]  # (QDQ: onnxruntime's float32 pool)


def invoke(runner, *args):
    return runner.invoke(main, [str(a) for a in args])




def core_files(image: Path) -> list[Path]:
    return sorted((image / "cores").glob("*.npz"))


@pytest.fixture(scope="module")
def cnn() -> Path:
    return models.quantized("cnn_pool")


@pytest.fixture(scope="module")
def cnn_x(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inputs") / "x.npy"
    np.save(path, models.eval_set(models.float_model("cnn_pool"), 12))
    return path


@pytest.fixture(scope="module")
def compiled(cnn, tmp_path_factory):
    """cnn_pool compiled for darwin3 once: (output folder, the CliRunner result)."""
    out = tmp_path_factory.mktemp("compiled") / "image"
    result = invoke(new_runner(), "compile", cnn, "-t", "darwin3", "-o", out)
    assert_ok(result)
    return out, result


# ---- a good compile ---------------------------------------------------------------------------------


def test_compile_writes_the_image_and_the_report(compiled):
    out, result = compiled
    assert len(progress_lines(result, "compile")) == 3  # milestones: stderr is not a terminal here
    assert sorted(p.name for p in out.iterdir()) == ["cores", "io.npz", "manifest.json", "network.json", "report.json",
                                                     "target.yaml"]
    cores = core_files(out)
    assert cores and all(re.fullmatch(r"x\d\d_y\d\d\.npz", p.name) for p in cores)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["target"] == "darwin3"
    assert set(manifest["files"]) == {"target.yaml", "network.json", "io.npz"} | {f"cores/{p.name}" for p in cores}
    network = json.loads((out / "network.json").read_text())
    assert sorted(c["file"] for c in network["cores"]) == [f"cores/{p.name}" for p in cores]

    report = json.loads((out / "report.json").read_text())
    neurons = 0
    for path in cores:
        with np.load(path) as archive:
            neurons += archive["state"].shape[0]
    assert [r["layer"] for r in report["layers"]] == [name for name, _, _ in CNN_LAYERS]
    assert [r["op"] for r in report["layers"]] == [op for _, op, _ in CNN_LAYERS]
    assert [r["neurons"] for r in report["layers"]] == [n for _, _, n in CNN_LAYERS]
    assert sum(r["neurons"] for r in report["layers"]) == neurons == report["neurons"]
    assert report["cores_used"] == len(cores) == sum(r["cores"] for r in report["layers"])
    assert report["cores_available"] == TOTAL_CORES
    assert report["target"] == "darwin3"


def test_compile_prints_the_per_layer_table(compiled):
    out, result = compiled
    report = json.loads((out / "report.json").read_text())
    lines = result.stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == ["layer", "op", "neurons", "cores", "dendrite words", "axon words",
                                                     "acc bits", "shift", "integration", "error steps", "instr/tick"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines[2:2 + len(CNN_LAYERS)]]
    for row, r in zip(rows, report["layers"], strict=True):
        blank = lambda v: "-" if v is None else str(v)  # noqa: E731
        scheme = (r["integration"] or "-") + (" exact" if r["integration"] not in (None, "exact") and r["sums_exact"]
                                              else "")
        assert row == [r["layer"], r["op"], str(r["neurons"]), str(r["cores"]), str(r["dendrite_words"]),
                       str(r["axon_words"]), blank(r["acc_bits"]), blank(r["acc_shift"]), scheme,
                       f"{r['error_steps']:.2g}" if r["error_steps"] else "0",
                       "{} / {}".format(*r["instructions_per_tick"])]
    assert [row[0] for row in rows] == [name for name, _, _ in CNN_LAYERS]
    assert [row[2] for row in rows] == [str(n) for _, _, n in CNN_LAYERS]
    assert rows[1][6:9] == ["-", "-", "-"]  # the max layer has no accumulator
    totals = lines[2 + len(CNN_LAYERS)]
    assert totals.startswith(f"cores {len(core_files(out))} of {TOTAL_CORES}, neurons {report['neurons']},")
    assert f"image written to {out}" == lines[-1]
    # darwin3's 16-bit accumulator: conv1's sums take two words (integration exact), the table says so
    assert re.split(r"\s{2,}", next(line for line in lines if line.startswith("conv1 ")).strip())[8] == "exact"


def test_compiled_image_computes_what_run_computes(compiled, cnn, cnn_x, tmp_path):
    out, _ = compiled
    runner = new_runner()
    sim_y, golden_y, run_sim_y = tmp_path / "sim.npy", tmp_path / "golden.npy", tmp_path / "run_sim.npy"
    assert_ok(invoke(runner, "sim", out, "-i", cnn_x, "-o", sim_y, "-q"))
    assert_ok(invoke(runner, "run", cnn, "-i", cnn_x, "-o", golden_y, "--engine", "golden"))
    assert_ok(invoke(runner, "run", cnn, "-i", cnn_x, "-o", run_sim_y, "--engine", "sim"))
    sim, golden, run_sim = (np.load(p) for p in (sim_y, golden_y, run_sim_y))
    assert sim.shape == (12, 10) and sim.dtype == np.float32
    assert np.array_equal(sim, golden)
    assert np.array_equal(run_sim, golden)
    assert len(np.unique(golden, axis=0)) > 1  # the outputs depend on the input


def test_compile_is_deterministic(cnn, tmp_path):
    """The same model gives the same bytes in every file, report.json included, also from a fresh
    process with another hash seed; compiling into an earlier image replaces it whole."""
    runner = new_runner()
    first, second, third = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert_ok(invoke(runner, "compile", cnn, "-o", first, "-q"))
    second.mkdir()
    (second / "manifest.json").write_text('{"format": "sdannc-image", "format_version": 1}')  # an earlier image
    (second / "stale.txt").write_text("from before")
    assert_ok(invoke(runner, "compile", cnn, "-o", second, "-q"))
    env = dict(os.environ, PYTHONHASHSEED="12345")
    proc = subprocess.run([sys.executable, "-m", "sdannc", "compile", str(cnn), "-o", str(third), "-q"],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    a, b, c = tree(first), tree(second), tree(third)
    assert "report.json" in a and "stale.txt" not in b
    assert len([k for k in a if k.startswith("cores/")]) == 5
    assert a == b == c
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]  # no staging folders left


# ---- --dump-ir ----------------------------------------------------------------------------------------


def _section(stdout: str, step: str) -> str:
    parts = re.split(r"^== IR after (\S+) ==$", stdout, flags=re.M)
    sections = dict(zip(parts[1::2], parts[2::2]))
    assert step in sections, stdout[:500]
    return sections[step]


def test_dump_ir(cnn, tmp_path):
    runner = new_runner()
    result = invoke(runner, "compile", cnn, "-o", tmp_path / "out", "--dump-ir", "lower-linear",
                    "--dump-ir", "frontend")
    assert_ok(result)
    assert re.findall(r"^== IR after (\S+) ==$", result.stdout, flags=re.M) == ["frontend", "lower-linear"]
    lowered, front = _section(result.stdout, "lower-linear"), _section(result.stdout, "frontend")
    for text in (lowered, front):
        for name, _, _ in CNN_LAYERS:
            assert re.search(rf"= \w+\(.*\)  # {name}$", text, flags=re.M), name
    for name in ("conv1", "conv2", "fc"):
        assert re.search(rf"= linear\(.*\)  # {name}$", front, flags=re.M)
        assert re.search(rf"= stem\(.*\)  # {name}$", lowered, flags=re.M)
    assert "stem(" not in front and "linear(" not in lowered
    assert "layer  " in result.stdout  # the table follows
    assert (tmp_path / "out" / "manifest.json").is_file()

    quiet = invoke(runner, "compile", cnn, "-o", tmp_path / "quiet", "-q", "--dump-ir", "frontend")
    assert_ok(quiet)
    assert quiet.stdout.startswith("== IR after frontend ==\n") and "layer  " not in quiet.stdout


def test_dump_ir_unknown_step_is_a_usage_error(cnn, tmp_path):
    result = invoke(new_runner(), "compile", cnn, "-o", tmp_path / "out", "--dump-ir", "lower-everything")
    assert result.exit_code == 2
    assert "Invalid value for '--dump-ir'" in result.stderr and "lower-linear" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


# ---- targets --------------------------------------------------------------------------------------------


def test_wide_target_gives_another_image(compiled, cnn, cnn_x, tmp_path):
    narrow, _ = compiled
    wide = tmp_path / "wide"
    runner = new_runner()
    assert_ok(invoke(runner, "compile", cnn, "-t", "darwin3-wide", "-o", wide, "-q"))
    assert (wide / "target.yaml").read_bytes() != (narrow / "target.yaml").read_bytes()
    assert json.loads((wide / "manifest.json").read_text())["target"] == "darwin3-wide"
    report = json.loads((wide / "report.json").read_text())
    assert all(r["acc_shift"] in (0, None) for r in report["layers"])  # 32 bits need no scaled integration

    y = tmp_path / "y.npy"
    assert_user_error(invoke(runner, "sim", wide, "-i", cnn_x, "-o", y, "-t", "darwin3"),
                      str(wide), "built for target 'darwin3-wide'", "'darwin3'")
    assert not y.exists()
    golden = tmp_path / "golden.npy"
    assert_ok(invoke(runner, "sim", wide, "-i", cnn_x, "-o", y, "-t", "darwin3-wide", "-q"))
    assert_ok(invoke(runner, "run", cnn, "-i", cnn_x, "-o", golden, "-t", "darwin3-wide"))
    assert np.array_equal(np.load(y), np.load(golden))


# ---- --calib ----------------------------------------------------------------------------------------------


def test_calib_measures_the_sums(tmp_path):
    """digits_mlp on darwin3, weighted integration (integration exact, the compiler's choice, scales
    nothing): the worst case needs a shift on both layers; sums measured on the calibration inputs
    need no larger one (here a smaller one), and the image still equals the golden model of the same
    lowering."""
    model = models.quantized("digits_mlp")
    float_model = models.float_model("digits_mlp")
    calib = tmp_path / "calib.npy"
    np.save(calib, models.calib_set(float_model, 64))
    runner = new_runner()
    worst, measured = tmp_path / "worst", tmp_path / "measured"
    weighted = tmp_path / "weighted.yaml"
    weighted.write_text("integration: weighted\n")
    assert_ok(invoke(runner, "compile", model, "-o", worst, "-q", "--config", weighted))
    result = invoke(runner, "compile", model, "-o", measured, "--calib", calib, "--config", weighted)
    assert_ok(result)
    r_worst = json.loads((worst / "report.json").read_text())
    r_measured = json.loads((measured / "report.json").read_text())
    assert [r["layer"] for r in r_worst["layers"]] == [r["layer"] for r in r_measured["layers"]] == ["fc1", "fc2"]
    shifts_worst = [r["acc_shift"] for r in r_worst["layers"]]
    shifts_measured = [r["acc_shift"] for r in r_measured["layers"]]
    assert all(s > 0 for s in shifts_worst)
    assert all(m <= w for m, w in zip(shifts_measured, shifts_worst))
    assert shifts_measured != shifts_worst
    assert any("measured on --calib" in n for n in r_measured["notes"])
    assert not any("measured on --calib" in n for n in r_worst["notes"])
    assert "(measured on --calib)" in result.stdout

    x = tmp_path / "x.npy"
    xs = models.eval_set(float_model, 16)
    np.save(x, xs)
    y = tmp_path / "y.npy"
    assert_ok(invoke(runner, "sim", measured, "-i", x, "-o", y, "-q"))
    target = load_target("darwin3")
    expected = golden_run(lower(model, target, np.load(calib), plan=Plan(integration="weighted")), xs, target.arith)
    assert np.array_equal(np.load(y), expected)


# ---- user errors: one line, exit 2, nothing written --------------------------------------------------


def _missing_model(ctx):
    ctx["model"] = ctx["work"] / "nosuch.onnx"
    return [str(ctx["model"]), "not found"]


def _not_onnx(ctx):
    ctx["model"] = ctx["work"] / "notes.onnx"
    ctx["model"].write_text("this is not a protobuf\n" * 20)
    return [str(ctx["model"]), "not a readable ONNX model"]


def _float_model(ctx):
    ctx["model"] = ctx["work"] / "float.onnx"
    onnx.save(models.float_model("mlp_gemm"), str(ctx["model"]))
    return [str(ctx["model"]), "float model", "sdannc quantize"]


def _unknown_target(ctx):
    ctx["args"] += ["-t", "darwin9"]
    return ["unknown target 'darwin9'", "darwin3", "darwin3-wide"]


def _missing_target_file(ctx):
    ctx["args"] += ["-t", ctx["work"] / "mine.yaml"]
    return [str(ctx["work"] / "mine.yaml"), "not found"]


def _malformed_calib(ctx):
    path = ctx["work"] / "calib.npy"
    path.write_text("0.1,0.2,0.3\n")
    ctx["args"] += ["--calib", path]
    return [str(path), "not a .npy file"]


def _missing_calib(ctx):
    ctx["args"] += ["--calib", ctx["work"] / "nosuch.npy"]
    return [str(ctx["work"] / "nosuch.npy"), "not found"]


def _calib_wrong_shape(ctx):
    path = ctx["work"] / "calib.npy"
    np.save(path, np.zeros((4, 1, 7, 7), np.float32))
    ctx["args"] += ["--calib", path]
    return ["shape (4, 1, 7, 7)", "(batch, 1, 8, 8)"]


def _calib_flat(ctx):  # as many values per sample, but not the model's input shape
    path = ctx["work"] / "calib.npy"
    np.save(path, models.calib_set(models.float_model("mlp_gemm"), 8))
    ctx["args"] += ["--calib", path]
    return ["shape (8, 64)", "(batch, 1, 8, 8)"]


def _calib_empty(ctx):
    path = ctx["work"] / "calib.npy"
    np.save(path, np.zeros((0, 1, 8, 8), np.float32))
    ctx["args"] += ["--calib", path]
    return ["shape (0, 1, 8, 8)"]


def _calib_header_cut_short(ctx):
    """A .npy header whose dict never closes: numpy raised tokenize.TokenError (found by the fuzzer)."""
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (4, 1, 8, 8"
    header += b" " * ((64 - (11 + len(header)) % 64) % 64) + b"\n"
    path = ctx["work"] / "calib.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(1024))
    ctx["args"] += ["--calib", path]
    return [str(path), "not a readable .npy"]


def _calib_strings(ctx):
    """The right shape, but text: it reached the input encoder, a ValueError (found by the fuzzer)."""
    path = ctx["work"] / "calib.npy"
    np.save(path, np.full((4, 1, 8, 8), "ab"))
    ctx["args"] += ["--calib", path]
    return ["calibration input", "dtype <U2", "(quantize)"]


ERRORS = [_missing_model, _not_onnx, _float_model, _unknown_target, _missing_target_file, _malformed_calib,
          _missing_calib, _calib_wrong_shape, _calib_flat, _calib_empty, _calib_header_cut_short, _calib_strings]


@pytest.mark.parametrize("existing", [False, True], ids=["new-out", "existing-out"])
@pytest.mark.parametrize("mistake", ERRORS, ids=[m.__name__.lstrip("_") for m in ERRORS])
def test_compile_user_errors(cnn, tmp_path, mistake, existing):
    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir()
    if existing:  # an earlier image (by its manifest): a folder the compile may replace, but must not on error
        (out / "cores").mkdir(parents=True)
        (out / "manifest.json").write_text('{"format": "sdannc-image"}\n')
        (out / "report.json").write_text("an earlier compile\n")
        (out / "cores" / "x01_y00.npz").write_bytes(b"earlier bytes")
    ctx = {"work": work, "model": cnn, "args": []}
    fragments = mistake(ctx)
    before = tree(tmp_path)
    result = invoke(new_runner(), "compile", ctx["model"], "-o", out, *ctx["args"])
    assert_user_error(result, *fragments)
    assert result.stdout == ""
    assert tree(tmp_path) == before  # out untouched (or never made), no staging folders
    assert out.exists() == existing


# ---- sdannc quantize ------------------------------------------------------------------------------------


QUANTIZE_VARIANTS = [("qdq", False, "uint8"), ("qop", False, "uint8"), ("qdq", True, "int8"), ("qop", True, "int8")]


@pytest.mark.parametrize("fmt, per_channel, act", QUANTIZE_VARIANTS, ids=map(models.variant_id, QUANTIZE_VARIANTS))
def test_quantize_then_compile(tmp_path, fmt, per_channel, act):
    """The quantized model has the asked-for form, compiles, and on darwin3-wide the compiled image gives
    onnxruntime's outputs on this MLP exactly (docs/exactness.md)."""
    float_path, calib, q = tmp_path / "mlp.onnx", tmp_path / "calib.npy", tmp_path / "sub" / "mlp_q.onnx"
    float_model = models.float_model("mlp_gemm")
    onnx.save(float_model, str(float_path))
    np.save(calib, models.calib_set(float_model, 32))
    args = ["quantize", float_path, "--calib", calib, "-o", q, "--format", fmt, "--activations", act]
    runner = new_runner()
    result = invoke(runner, *args, *(["--per-channel"] if per_channel else []))
    assert_ok(result)
    assert f"quantized model written to {q}" in result.stdout

    model = onnx.load(str(q))
    ops = {n.op_type for n in model.graph.node}
    assert ("QGemm" in ops and "Gemm" not in ops) if fmt == "qop" else ("Gemm" in ops and "QGemm" not in ops)
    inits = {t.name: t for t in model.graph.initializer}
    assert list(inits["fc1_W_scale"].dims) == ([32] if per_channel else [])
    expected_type = onnx.TensorProto.INT8 if act == "int8" else onnx.TensorProto.UINT8
    assert inits["input_zero_point"].data_type == expected_type

    image, x, y, ref = tmp_path / "image", tmp_path / "x.npy", tmp_path / "y.npy", tmp_path / "ref.npy"
    assert_ok(invoke(runner, "compile", q, "-t", "darwin3-wide", "-o", image, "-q"))
    xs = models.eval_set(float_model, 16)
    np.save(x, xs)
    assert_ok(invoke(runner, "sim", image, "-i", x, "-o", y, "-q"))
    assert_ok(invoke(runner, "run", q, "-i", x, "-o", ref, "-t", "darwin3-wide"))
    assert np.array_equal(np.load(y), np.load(ref))
    assert np.array_equal(np.load(y), models.ort_run(q, xs))
    assert_ok(invoke(runner, "compile", q, "-t", "darwin3", "-o", tmp_path / "narrow", "-q"))


@pytest.mark.parametrize("bad", ["wrong-shape", "not-npy"])
def test_quantize_bad_calibration_writes_nothing(tmp_path, bad):
    float_path, calib, q = tmp_path / "mlp.onnx", tmp_path / "calib.npy", tmp_path / "mlp_q.onnx"
    onnx.save(models.float_model("mlp_gemm"), str(float_path))
    if bad == "wrong-shape":
        np.save(calib, np.zeros((8, 1, 8, 8), np.float32))
        fragments = [str(calib), "shape [8, 1, 8, 8]", "[N, 64]"]
    else:
        calib.write_text("0.5\n")
        fragments = [str(calib), "not a .npy file"]
    before = sorted(p.name for p in tmp_path.iterdir())
    assert_user_error(invoke(new_runner(), "quantize", float_path, "--calib", calib, "-o", q), *fragments)
    assert not q.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# ---- sdannc run -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("engine", ["golden", "sim"])
def test_run_wrong_input_shape(cnn, tmp_path, engine):
    x, y = tmp_path / "x.npy", tmp_path / "y.npy"
    np.save(x, np.zeros((3, 64), np.float32))
    assert_user_error(invoke(new_runner(), "run", cnn, "-i", x, "-o", y, "--engine", engine),
                      f"input {x}", "shape (3, 64)", "(batch, 1, 8, 8)")
    assert not y.exists()


def test_compile_says_what_it_is_doing_step_by_step():
    from sdannc.compiler import compile_to_image
    from sdannc.passes import STEP_NAMES

    said = []
    compile_to_image(models.quantized("cnn_pool"), load_target("darwin3"), status=said.append)
    assert said[0].startswith("reading ")
    steps = [s.removesuffix(" done") for s in said if s.endswith(" done")]
    assert steps == STEP_NAMES
    built = [s for s in said if s.startswith("building layer ")]
    assert built[0] == "building layer fc (1 of 5)" and built[-1] == "building layer conv1 (5 of 5)"
    assert said.index(built[-1]) < said.index(next(s for s in said if s.startswith("placing "))) \
        < said.index("wiring axons")
