"""The Python API (sdannc.compile / load / simulate / run_golden) gives what the CLI gives, byte for byte,
and refuses what the CLI refuses with the CLI's messages."""

from __future__ import annotations

import json
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
    assert (cli_image / "manifest.json").read_bytes() != manifest  # the calibration does change the image


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


def test_golden_matches_sdannc_run(model, x, tmp_path):
    np.save(tmp_path / "x.npy", x)
    assert_ok(invoke("run", model, "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy", "--engine", "golden"))
    expected = np.load(tmp_path / "y.npy")
    got = sdannc.run_golden(model, x)
    assert got.dtype == expected.dtype and np.array_equal(got, expected)
    assert np.array_equal(sdannc.simulate(sdannc.compile(model), x).outputs, expected)  # the chip is exact


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
    files it names (mlp_Q.onnx, x.npy)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mlp_Q.onnx").write_bytes(model.read_bytes())
    np.save(tmp_path / "x.npy", x)
    code = "\n".join(re.findall(r"^```python\n(.*?)^```", DOC.read_text(), flags=re.M | re.S))
    assert "sdannc.compile(" in code and "sdannc.run_golden(" in code
    exec(compile(code, str(DOC), "exec"), {})
