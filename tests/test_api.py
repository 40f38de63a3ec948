"""The Python API (sdannc.compile, load, simulate, run, run_golden, verify, tune, report, quantize,
assemble, disassemble) gives what the CLI gives, byte for byte, and refuses what the CLI refuses with
the CLI's messages; and the CLI is a thin layer over it."""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import re
from pathlib import Path

import numpy as np
import onnx
import pytest

import models
import sdannc
from cli_checks import assert_ok, assert_user_error, invoke, tree
from sdannc import SdanncError

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
SPARSE = {"sparsify": {"default": {"rot": 1}}}


@pytest.fixture(scope="module")
def model() -> Path:
    return models.quantized("mlp_gemm")


@pytest.fixture(scope="module")
def x() -> np.ndarray:
    return models.digits_data()[2][:3]


@pytest.fixture(scope="module")
def cli_image(model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "img"
    assert_ok(invoke("compile", model, "-o", out, "-q"))
    return out


def test_compile_and_save_match_the_cli_byte_for_byte(model, cli_image, tmp_path):
    compiled = sdannc.compile(model)
    assert compiled.graph is not None and compiled.report["layers"]
    compiled.save(tmp_path / "img")
    assert tree(tmp_path / "img") == tree(cli_image)


def test_a_model_proto_compiles_to_the_same_image(model, cli_image, tmp_path):
    """The same image; only the model's name differs (the graph's name, the proto has no file name)."""
    proto = onnx.load(str(model))
    sdannc.compile(proto).save(tmp_path / "img")
    got, expected = tree(tmp_path / "img"), tree(cli_image)
    for name in ("network.json", "report.json"):
        got[name] = got[name].replace(f'"{proto.graph.name}.onnx"'.encode(), f'"{model.name}"'.encode())
    expected["report.json"] = expected["report.json"].replace(f'"{model}"'.encode(), f'"{model.name}"'.encode())
    del got["manifest.json"], expected["manifest.json"]  # its checksums of network.json differ
    assert got == expected


def test_load_round_trip(cli_image, tmp_path):
    loaded = sdannc.load(cli_image)
    assert loaded.graph is None
    assert loaded.report == json.loads((cli_image / "report.json").read_bytes())
    loaded.save(tmp_path / "again")
    assert tree(tmp_path / "again") == tree(cli_image)


def test_a_dict_config_is_the_yaml_config(model, tmp_path):
    (tmp_path / "c.yaml").write_text("sparsify:\n  default: {rot: 1}\n")
    assert_ok(invoke("compile", model, "--config", tmp_path / "c.yaml", "-o", tmp_path / "cli", "-q"))
    sdannc.compile(model, config=SPARSE).save(tmp_path / "api")
    manifest = (tmp_path / "api" / "manifest.json").read_bytes()
    assert manifest == (tmp_path / "cli" / "manifest.json").read_bytes()
    sdannc.compile(model).save(tmp_path / "plain")
    assert manifest != (tmp_path / "plain" / "manifest.json").read_bytes()  # the config does change the image


def test_calib_array_is_the_calib_file(model, cli_image, tmp_path):
    calib = models.digits_data()[0][:32]
    np.save(tmp_path / "calib.npy", calib)
    assert_ok(invoke("compile", model, "--calib", tmp_path / "calib.npy", "-o", tmp_path / "cli", "-q"))
    sdannc.compile(model, calib=calib).save(tmp_path / "array")
    sdannc.compile(model, calib=tmp_path / "calib.npy").save(tmp_path / "file")
    manifest = (tmp_path / "cli" / "manifest.json").read_bytes()
    assert (tmp_path / "array" / "manifest.json").read_bytes() == manifest
    assert (tmp_path / "file" / "manifest.json").read_bytes() == manifest
    # digits_mlp on darwin3 is integration exact in every layer: nothing is scaled, so the calibration
    # leaves the image as it is (with weighted integration it changes it: test_cli_compile)
    assert (cli_image / "manifest.json").read_bytes() == manifest


def test_simulate_matches_sdannc_sim(cli_image, x, tmp_path):
    np.save(tmp_path / "x.npy", x)
    assert_ok(invoke("sim", cli_image, "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy", "-r", tmp_path / "r.json",
                     "-q"))
    result = sdannc.simulate(sdannc.load(cli_image), x)
    assert np.array_equal(result.outputs, np.load(tmp_path / "y.npy"))
    assert result.outputs.dtype == np.load(tmp_path / "y.npy").dtype
    assert result.report == json.loads((tmp_path / "r.json").read_bytes())
    by_folder = sdannc.simulate(cli_image, tmp_path / "x.npy")
    assert np.array_equal(by_folder.outputs, result.outputs)
    by_folder.save(tmp_path / "api_y.npy", tmp_path / "api_r.json")
    assert (tmp_path / "api_y.npy").read_bytes() == (tmp_path / "y.npy").read_bytes()
    assert (tmp_path / "api_r.json").read_bytes() == (tmp_path / "r.json").read_bytes()


def test_golden_matches_sdannc_run(model, x, tmp_path):
    np.save(tmp_path / "x.npy", x)
    assert_ok(invoke("run", model, "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy", "--engine", "golden"))
    expected = np.load(tmp_path / "y.npy")
    got = sdannc.run_golden(model, x)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    assert np.array_equal(sdannc.simulate(sdannc.compile(model), x).outputs, expected)  # the chip is exact


def test_run_on_the_simulator_matches_sdannc_run(model, x, tmp_path):
    np.save(tmp_path / "x.npy", x)
    assert_ok(invoke("run", model, "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy", "--engine", "sim"))
    expected = np.load(tmp_path / "y.npy")
    got = sdannc.run(model, x, engine="sim")
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    assert np.array_equal(sdannc.run(model, x), sdannc.run_golden(model, x))  # golden is the default engine


def test_verify_gives_the_table_sdannc_verify_writes(model, x, tmp_path):
    np.save(tmp_path / "x.npy", x)
    result = invoke("verify", model, "-i", tmp_path / "x.npy", "--json", tmp_path / "v.json", "-q")
    expected = json.loads((tmp_path / "v.json").read_bytes())
    assert result.exit_code == expected["exit_code"]
    verification = sdannc.verify(model, tmp_path / "x.npy")
    assert verification.as_json() == expected
    assert [row.layer for row in verification.rows] == [row["layer"] for row in expected["layers"]]
    by_array = sdannc.verify(onnx.load(str(model)), x).as_json()
    assert by_array["input"] == "<array>" and by_array["layers"] == expected["layers"]


def test_verify_takes_the_bound_and_config_as_the_cli_does(model, x, tmp_path):
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "c.yaml").write_text("sparsify:\n  default: {rot: 1}\n")
    invoke("verify", model, "-i", tmp_path / "x.npy", "--config", tmp_path / "c.yaml", "--max-steps", "2",
           "--json", tmp_path / "v.json", "-q")
    expected = json.loads((tmp_path / "v.json").read_bytes())
    got = sdannc.verify(model, x, config=SPARSE, max_steps=2).as_json()
    assert (got["config"], got["bound"]) == ("<dict>", expected["bound"])
    assert got["layers"] == expected["layers"] and got["exit_code"] == expected["exit_code"]
    cli = _cli_error("verify", model, "-i", tmp_path / "x.npy", "--max-frac", "2")
    assert _api_error(lambda: sdannc.verify(model, x, max_frac=2.0)) == cli


def test_tune_writes_the_config_sdannc_tune_writes(model, tmp_path):
    calib, labels = models.digits_data()[2][:16], models.digits_data()[3][:16]
    np.save(tmp_path / "calib.npy", calib)
    np.save(tmp_path / "labels.npy", labels)
    assert_ok(invoke("tune", model, "--calib", tmp_path / "calib.npy", "--labels", tmp_path / "labels.npy",
                     "-o", tmp_path / "cli.yaml", "-q"))
    tuning = sdannc.tune(model, tmp_path / "calib.npy", tmp_path / "labels.npy")
    tuning.save(tmp_path / "api.yaml")
    assert (tmp_path / "api.yaml").read_bytes() == (tmp_path / "cli.yaml").read_bytes()
    assert tuning.result.chosen in tuning.result.points
    by_array = sdannc.tune(model, calib, labels)
    assert by_array.config.replace("<array>", "calib.npy") == tuning.config
    cli = _cli_error("tune", model, "--calib", tmp_path / "calib.npy", "--labels", tmp_path / "labels.npy",
                     "--max-drop", "-1", "-o", tmp_path / "x.yaml")
    assert _api_error(lambda: sdannc.tune(model, calib, labels, max_drop=-1.0)) == cli


def test_report_writes_the_folder_sdannc_report_writes(model, cli_image, x, tmp_path):
    np.save(tmp_path / "x.npy", x)
    assert_ok(invoke("report", cli_image, "-i", tmp_path / "x.npy", "-o", tmp_path / "cli", "-q"))
    measured = sdannc.report(cli_image, tmp_path / "x.npy")
    measured.save(tmp_path / "api")
    assert tree(tmp_path / "api") == tree(tmp_path / "cli")
    in_memory = sdannc.report(sdannc.compile(model), x).data
    expected = json.loads((tmp_path / "cli" / "report.json").read_bytes())
    assert in_memory["layers"] == expected["layers"] and in_memory["totals"] == expected["totals"]
    assert (in_memory["image"], in_memory["input"]) == ("<image>", "<array>")


def test_simulate_refuses_another_target_as_sim_t_does(cli_image, x, tmp_path):
    np.save(tmp_path / "x.npy", x)
    cli = _cli_error("sim", cli_image, "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy", "-t", "darwin3-wide")
    assert _api_error(lambda: sdannc.simulate(cli_image, x, target="darwin3-wide")) == cli
    loaded = sdannc.load(cli_image)
    assert _api_error(lambda: sdannc.simulate(loaded, x, target="darwin3-wide")) == cli
    assert sdannc.simulate(loaded, x, target="darwin3").report["samples"] == len(x)


def test_quantize_writes_the_model_sdannc_quantize_writes(tmp_path):
    float_model = tmp_path / "mlp.onnx"
    float_model.write_bytes(models.float_model("mlp_gemm").SerializeToString())
    calib = models.digits_data()[0][:16]
    np.save(tmp_path / "calib.npy", calib)
    assert_ok(invoke("quantize", float_model, "--calib", tmp_path / "calib.npy", "-o", tmp_path / "cli.onnx"))
    assert sdannc.quantize(float_model, calib, tmp_path / "api.onnx") == tmp_path / "api.onnx"
    assert (tmp_path / "api.onnx").read_bytes() == (tmp_path / "cli.onnx").read_bytes()


def test_assemble_and_disassemble_match_asm_and_disasm(tmp_path):
    (tmp_path / "p.s").write_text("start:\n    LDS\n    UPDV 2\n    STS\n    JC ALWAYS, start\n")
    assert_ok(invoke("asm", tmp_path / "p.s", "-o", tmp_path / "p.bin"))
    words = sdannc.assemble(tmp_path / "p.s")
    assert words.astype("<u2").tobytes() == (tmp_path / "p.bin").read_bytes()
    result = invoke("disasm", tmp_path / "p.bin")
    assert_ok(result)
    assert sdannc.disassemble(tmp_path / "p.bin") == result.stdout


# What sdannc/cli.py may import from sdannc: the API (the work), errors and version (the exit codes, --version),
# file writers (the output checks and writes), and the helpers that turn a result into text.
CLI_MAY_IMPORT = {
    "sdannc": {"api"},
    "sdannc.errors": {"SdanncError"},
    "sdannc.version": {"__version__"},
    "sdannc.fileio": {"COMPARISON_FORMAT", "EVAL_FORMAT", "IMAGE_FORMAT", "REPORT_FORMAT", "check_output_folder",
                      "check_writable", "json_bytes", "save_all", "save_array"},
    "sdannc.isa": {"write_program_bin"},  # `asm -o`'s writer
    "sdannc.passes": {"STEP_NAMES"},  # the choices of --dump-ir, constants
    "sdannc.ir.codes": {"CODINGS"},  # the choices of --coding, a constant
    "sdannc.backend": {"BACKEND_STEP_NAMES"},
    "sdannc.backend.report": {"summary_table"},  # compile's table
    "sdannc.sim.run": {"summary_lines"},
    "sdannc.sim.engines": {"DEFAULT_ENGINE", "ENGINES"},  # the choices of --engine, constants
    "sdannc.verification.text": {"summary_lines"},
    "sdannc.tuning": {"pareto_table"},
    "sdannc.comparison.text": {"summary_table"},
}


def _cli_imports() -> dict[str, set[str]]:
    """sdannc module -> the names cli.py imports from it, anywhere in the file (late imports too)."""
    tree = ast.parse(Path(sdannc.cli.__file__).read_text(encoding="utf-8"))
    imported: dict[str, set[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sdannc":
                    imported.setdefault(alias.name, set()).add("*")
        elif isinstance(node, ast.ImportFrom):
            module = ("sdannc" + (f".{node.module}" if node.module else "")) if node.level == 1 else node.module
            assert node.level <= 1, ast.unparse(node)
            if module == "sdannc" or module.startswith("sdannc."):
                imported.setdefault(module, set()).update(alias.name for alias in node.names)
    return imported


def test_the_cli_imports_nothing_from_sdannc_but_the_api_and_its_helpers():
    import sdannc.cli  # noqa: F401  (for its file)

    imported = _cli_imports()
    assert "api" in imported["sdannc"]
    beyond = {module: names - CLI_MAY_IMPORT.get(module, set()) for module, names in imported.items()}
    assert not {module: names for module, names in beyond.items() if names}


API_NAMES = ("compile", "load", "simulate", "run", "run_golden", "verify", "tune", "report", "compare_codings",
             "quantize", "assemble", "disassemble", "evaluate", "CompiledModel", "SimulationResult", "Tuning",
             "ActivityReport", "CodingComparison", "Evaluation")


def test_every_api_name_is_exported_and_no_module_takes_it():
    """A submodule named like an API function would replace it as an attribute of the package once
    imported (`sdannc.verify` the function, not the package sdannc/verify/): so none may be."""
    for info in pkgutil.walk_packages(sdannc.__path__, "sdannc."):
        importlib.import_module(info.name)
    for name in API_NAMES:
        assert getattr(sdannc, name) is getattr(sdannc.api, name) and name in sdannc.__all__, name


def _cli_error(*args) -> str:
    """The CLI's message, without its `sdannc: error: ` prefix."""
    return assert_user_error(invoke(*args)).removeprefix("sdannc: error: ").strip()


def _api_error(call) -> str:
    with pytest.raises(SdanncError) as exc:
        call()
    return str(exc.value)


def test_bad_inputs_raise_the_cli_messages(model, cli_image, x, tmp_path):
    nan = x.copy()
    nan[1, 3] = np.nan
    np.save(tmp_path / "nan.npy", nan)
    np.save(tmp_path / "wide.npy", x[:, :10])
    for bad, array in (("nan.npy", nan), ("wide.npy", x[:, :10])):
        cli = _cli_error("sim", cli_image, "-i", tmp_path / bad, "-o", tmp_path / "y.npy")
        assert _api_error(lambda: sdannc.simulate(cli_image, array)) == cli.replace(str(tmp_path / bad), "<array>")
        assert _api_error(lambda: sdannc.simulate(cli_image, tmp_path / bad)) == cli
    cli = _cli_error("run", model, "-i", tmp_path / "nan.npy", "-o", tmp_path / "y.npy")
    assert _api_error(lambda: sdannc.run_golden(model, nan)) == cli.replace(str(tmp_path / "nan.npy"), "<array>")
    cli = _cli_error("compile", model, "-t", "darwin9", "-o", tmp_path / "out")
    assert _api_error(lambda: sdannc.compile(model, "darwin9")) == cli
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "notes.txt").write_text("mine")
    cli = _cli_error("compile", model, "-o", tmp_path / "foreign")
    assert _api_error(lambda: sdannc.load(cli_image).save(tmp_path / "foreign")) == cli
    assert (tmp_path / "foreign" / "notes.txt").read_text() == "mine"
    assert _api_error(lambda: sdannc.compile(model, config={"sparsify": 3, "tune": 1})).startswith(
        "config <dict>: unknown key 'tune'")


def test_the_docs_session_runs(model, x, tmp_path, monkeypatch):
    """Every ```python block of docs/api.md, in order, in one namespace, in a folder holding the
    files it names (mlp_Q.onnx, x.npy, labels.npy)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mlp_Q.onnx").write_bytes(model.read_bytes())
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "labels.npy", models.digits_data()[3][: len(x)])
    code = "\n".join(re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.M | re.S))
    for function in ("compile", "load", "simulate", "run", "run_golden", "verify", "tune", "report"):
        assert f"sdannc.{function}(" in code, function
    exec(compile(code, str(DOC), "exec"), {})
