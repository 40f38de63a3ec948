"""The spike codings end to end (docs/codings.md): each test model compiled with --coding ttfs and
rate on darwin3-wide runs on the simulator with every layer's codes equal to the golden model's
(`==`) and to onnxruntime's (exact mode), as STEM's are; each neuron sends the spikes its coding says
(ttfs one per nonzero code, rate `code` of them); the window is the coding's; what cannot be
compiled in a coding is refused in one line naming the layer and the coding (on darwin3:
test_codings16.py)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

import activation_models as am
import models
from cli_checks import assert_ok, assert_user_error, invoke
import sdannc
from sdannc.errors import SdanncError
from sdannc.sim import Simulator

WIDE = "darwin3-wide"
FAMILIES = ["mlp_gemm", "cnn_pool", "strided_depthwise", "residual", "concat"]  # dense, pools, strided/depthwise, Add, Concat


def _x(path, n: int = 2) -> np.ndarray:
    return models.eval_set(onnx.load(path), n)


@pytest.mark.parametrize("coding", ["ttfs", "rate"])
@pytest.mark.parametrize("family", FAMILIES)
def test_every_layer_equals_golden_and_onnxruntime(family, coding):
    path = models.quantized(family)
    result = sdannc.verify(path, _x(path), WIDE, coding=coding)
    assert result.rows and not result.golden_mismatches  # simulator == golden, every layer
    assert result.first_mismatch is None  # == onnxruntime, every layer it has a tensor for
    assert all(row.differ == 0 for row in result.rows if row.tensor is not None)
    assert any(row.op.startswith(coding) for row in result.rows)


@pytest.mark.parametrize("fmt, per_channel, act", [("qop", True, "int8"), ("qdq", True, "int8")])
def test_other_quantizations_are_exact_too(fmt, per_channel, act):
    path = models.quantized("residual", fmt, per_channel, act)
    x = _x(path)
    for coding in ("ttfs", "rate"):
        outputs = sdannc.simulate(sdannc.compile(path, WIDE, coding=coding), x).outputs
        assert np.array_equal(outputs, sdannc.run(path, x, WIDE, coding=coding))
        assert np.array_equal(outputs, models.ort_run(path, x))


@pytest.mark.parametrize("coding", ["ttfs", "rate"])
def test_spikes_per_code_and_the_window(coding):
    """Per neuron, the spikes sent in the samples' own windows are what the coding says of the codes
    it sent (recorded from the same spikes, and equal to the golden model's by the test above)."""
    path = models.quantized("cnn_pool")
    x = _x(path, 3)
    compiled = sdannc.compile(path, WIDE, coding=coding)
    sim = Simulator(compiled.image)
    result = sim.run(x, record_codes=True)
    codes = result.neuron_codes.astype(np.int64)  # [samples, neurons]
    spikes = result.counters.sample_spikes.sum(axis=1)  # [neurons]
    assert np.array_equal(spikes, (codes > 0).sum(axis=0) if coding == "ttfs" else codes.sum(axis=0))
    assert codes.max() <= 255 and spikes.sum() > 0
    window = {"ttfs": 256, "rate": 255}[coding]
    schedule = compiled.image.schedule
    assert (schedule.bits, schedule.sample_interval, schedule.coding) == (window, window, coding)
    layers = len(compiled.report["layers"])
    assert compiled.report["ticks_per_sample"] == window * (layers + 1) - 1
    assert compiled.report["coding"] == coding and "coding" not in sdannc.compile(path, WIDE).report
    inputs_per_sample = result.counters.sample_input_spikes.sum() / len(x)
    encoded = sdannc.run(path, x, WIDE, coding="stem")  # any coding: the same outputs
    assert np.array_equal(result.outputs, encoded)
    assert inputs_per_sample > 0


def test_a_lookup_neuron_sees_every_code(tmp_path):
    """A Sigmoid on the raw input codes is one standalone lookup layer: all 256 codes go in as spikes
    of the coding, are rebuilt exactly and looked up."""
    path = tmp_path / "sigmoid_codes.onnx"
    onnx.save(am.unary_qdq("Sigmoid", "uint8", 0.05, 128, 1 / 256, 0), path)
    x = am.all_codes("uint8")
    expected = models.ort_run(path, x)
    for coding in ("ttfs", "rate"):
        compiled = sdannc.compile(path, WIDE, coding=coding)
        assert [r["op"] for r in compiled.report["layers"]] == [f"{coding} lut"]
        assert np.array_equal(sdannc.simulate(compiled, x).outputs, expected)


def test_sparsified_rate_layers_stay_equal_to_golden():
    path = models.quantized("mlp_gemm")
    x = _x(path, 3)
    config = {"sparsify": {"default": {"rot": 2}}, "coding": "rate"}
    compiled = sdannc.compile(path, WIDE, config=config)
    assert compiled.report["coding"] == "rate" and compiled.report["layers"][0]["sparsify"] == {"rot": 2}
    golden = sdannc.run(path, x, WIDE, config=config)
    assert np.array_equal(sdannc.simulate(compiled, x).outputs, golden)
    stem = sdannc.run(path, x, WIDE, config={"sparsify": {"default": {"rot": 2}}})
    assert np.array_equal(golden, stem)  # the same arithmetic in every coding


def test_a_product_of_two_activations_is_exact_in_each_coding(tmp_path):
    """A Mul of the input and its transpose (a product neuron): both codes rebuilt from their spikes."""
    path = tmp_path / "product.onnx"
    onnx.save(am.product_qdq("uint8"), path)
    x = np.random.default_rng(5).permutation(256).astype(np.uint8).reshape(1, 256)  # every code once (batch 1)
    expected = models.ort_run(path, x)
    for coding in ("ttfs", "rate"):
        compiled = sdannc.compile(path, WIDE, coding=coding)
        assert f"{coding} mul" in [r["op"] for r in compiled.report["layers"]]
        assert np.array_equal(sdannc.simulate(compiled, x).outputs, expected)


def test_the_command_line_compiles_and_simulates_a_coding(tmp_path):
    path = models.quantized("mlp_gemm")
    x = _x(path, 2)
    np.save(tmp_path / "x.npy", x)
    assert_ok(invoke("compile", path, "-t", WIDE, "-o", tmp_path / "img", "--coding", "ttfs", "-q"))
    network = json.loads((tmp_path / "img" / "network.json").read_text())
    assert network["schedule"] == {"bits": 256, "sample_interval": 256, "output_offset": 3 * 256 - 1, "coding": "ttfs"}
    assert_ok(invoke("sim", tmp_path / "img", "--input", tmp_path / "x.npy", "--output", tmp_path / "y.npy", "-q"))
    assert np.array_equal(np.load(tmp_path / "y.npy"), models.ort_run(path, x))
    (tmp_path / "c.yaml").write_text("coding: rate\n")
    assert_ok(invoke("run", path, "-i", tmp_path / "x.npy", "-o", tmp_path / "r.npy", "-t", WIDE, "--engine", "sim",
                     "--config", tmp_path / "c.yaml"))
    assert np.array_equal(np.load(tmp_path / "r.npy"), models.ort_run(path, x))


def test_bad_codings_are_usage_errors(tmp_path):
    path = models.quantized("mlp_gemm")
    assert_user_error(invoke("compile", path, "-o", tmp_path / "a", "--coding", "morse"), "--coding")
    (tmp_path / "c.yaml").write_text("coding: morse\n")
    assert_user_error(invoke("compile", path, "-o", tmp_path / "b", "--config", tmp_path / "c.yaml"),
                      "coding", "stem, ttfs, rate")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
    with pytest.raises(SdanncError, match="compile: coding 'morse': unknown"):
        sdannc.compile(path, WIDE, coding="morse")


@pytest.mark.parametrize("net, shape", [(("small", "silu"), (1, 8, 8)), (("mobile", "mobilenetv3"), (3, 16, 16))],
                         ids=["fused-silu", "squeeze-excitation"])
def test_activations_and_gates_are_exact_in_each_coding(net, shape):
    """Activations fused into convolutions (their table after the requantization, output_code.inc)
    and a squeeze-and-excitation gate (HardSwish tables, a product neuron)."""
    kind, name = net
    path = am.quantized_net(kind, name, "qdq", "uint8", False, shape, **({"se": True} if kind == "mobile" else {}))
    x = am.inputs(shape, 2, 7)
    expected = models.ort_run(path, x)
    for coding in ("ttfs", "rate"):
        compiled = sdannc.compile(path, WIDE, coding=coding)
        ops = [r["op"] for r in compiled.report["layers"]]
        assert any(op.endswith("+ lut") for op in ops) and all(op.startswith(coding) for op in ops)
        assert np.array_equal(sdannc.simulate(compiled, x).outputs, expected)


@pytest.mark.parametrize("schedule, error", [({"coding": "morse"}, "schedule coding 'morse' is none of stem, ttfs, rate"),
                                             ({"bits": 8}, "coding ttfs takes 256 ticks a value, bits says 8")])
def test_the_loader_refuses_a_damaged_coding(tmp_path, schedule, error):
    import hashlib

    from sdannc.image.store import manifest_bytes

    path = models.quantized("mlp_gemm")
    sdannc.compile(path, WIDE, coding="ttfs").save(tmp_path / "img")
    assert sdannc.load(tmp_path / "img").image.schedule.coding == "ttfs"
    network = json.loads((tmp_path / "img" / "network.json").read_text())
    network["schedule"].update(schedule)
    (tmp_path / "img" / "network.json").write_text(json.dumps(network))
    manifest = json.loads((tmp_path / "img" / "manifest.json").read_text())  # the damage keeps checksums valid
    manifest["files"]["network.json"] = hashlib.sha256((tmp_path / "img" / "network.json").read_bytes()).hexdigest()
    (tmp_path / "img" / "manifest.json").write_bytes(manifest_bytes(manifest))
    with pytest.raises(SdanncError, match=error):
        sdannc.load(tmp_path / "img")
