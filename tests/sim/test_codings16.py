"""The ttfs and rate codings on darwin3's 16-bit registers (docs/codings.md, "On 16-bit registers"):
each linear layer sums exactly in two words (ttfs: its ramping current and its membrane, rate: its
count) and finds its code by integration exact's threshold search on the STEM neuron's tables; each
Add and product computes in two words as the STEM-coded ones do. So the simulator equals the golden
model (`==`) in every layer, and every output equals STEM's with integration exact (and so
onnxruntime's wherever STEM's are); a layer integration exact cannot take is refused naming the
layer and the coding."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import activation_models as am
import models
import sdannc
from sdannc.errors import SdanncError

NARROW = "darwin3"
FAMILIES = ["mlp_gemm", "cnn_pool", "strided_depthwise", "residual", "concat"]  # dense, pools, strided/depthwise, Add, Concat
EXACT = {"integration": "exact"}  # STEM's integration exact wherever it applies, as the codings choose it


def _stem_exact(path, x) -> np.ndarray:
    return sdannc.run(path, x, NARROW, config=EXACT)


@pytest.mark.parametrize("coding", ["ttfs", "rate"])
@pytest.mark.parametrize("family", FAMILIES)
def test_every_layer_equals_golden_and_the_outputs_stem_exacts(family, coding):
    path = models.quantized(family)
    x = models.eval_set(onnx.load(path), 2)
    result = sdannc.verify(path, x, NARROW, coding=coding)
    assert result.rows and not result.golden_mismatches  # simulator == golden, every layer
    assert any(row.op.startswith(coding) for row in result.rows)
    compiled = sdannc.compile(path, NARROW, coding=coding)
    layers = compiled.report["layers"]
    assert any(r["integration"] == "exact" and r["op"].startswith(coding) for r in layers)
    outputs = sdannc.simulate(compiled, x).outputs
    stem = _stem_exact(path, x)
    assert np.array_equal(outputs, stem)
    if np.array_equal(stem, models.ort_run(path, x)):
        assert result.first_mismatch is None  # == onnxruntime, every layer it has a tensor for


@pytest.mark.parametrize("coding", ["ttfs", "rate"])
def test_the_adds_are_two_words_and_exact(coding):
    """The residual family's Add takes darwin3-wide's arithmetic in two words on darwin3 (attr
    two_words): its coded counterpart runs the two-word program, and equals onnxruntime."""
    path = models.quantized("residual", "qop", True, "int8")
    x = models.eval_set(onnx.load(path), 3)
    compiled = sdannc.compile(path, NARROW, coding=coding)
    assert f"{coding} add" in [r["op"] for r in compiled.report["layers"]]
    outputs = sdannc.simulate(compiled, x).outputs
    assert np.array_equal(outputs, sdannc.run(path, x, NARROW, coding=coding))
    assert np.array_equal(outputs, _stem_exact(path, x))


def test_a_product_of_two_activations_is_exact_on_16_bits(tmp_path):
    """P = (a - za)(b - zb) reaches 255^2: the coded product neurons search Q = sat(P - C) in two words."""
    path = tmp_path / "product.onnx"
    onnx.save(am.product_qdq("uint8"), path)
    x = np.random.default_rng(5).permutation(256).astype(np.uint8).reshape(1, 256)  # every code once
    expected = models.ort_run(path, x)
    for coding in ("ttfs", "rate"):
        compiled = sdannc.compile(path, NARROW, coding=coding)
        assert np.array_equal(sdannc.simulate(compiled, x).outputs, expected)


@pytest.mark.parametrize("name", ["digits_cnn", "residual_trained"])
def test_trained_digits_classifiers_are_stem_exacts_in_each_coding(name):
    """Held-out digits: the golden model of each coding is STEM-exact's, output for output, on all of
    them; the simulator is the golden model on a few."""
    model = models.float_model(name)
    _, _, x_test, _ = models.digits_data()
    fixed = model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1
    x = models.eval_set(model, 40 if fixed else len(x_test))
    path = models.quantized(name)
    run = (lambda f: np.concatenate([f(x[i:i + 1]) for i in range(len(x))])) if fixed else (lambda f: f(x))
    stem = run(lambda b: _stem_exact(path, b))
    for coding in ("ttfs", "rate"):
        assert np.array_equal(run(lambda b: sdannc.run(path, b, NARROW, coding=coding)), stem)
        compiled = sdannc.compile(path, NARROW, coding=coding)
        few = x[:1] if fixed else x[:4]
        assert np.array_equal(sdannc.simulate(compiled, few).outputs, stem[:len(few)])


@pytest.mark.parametrize("coding", ["ttfs", "rate"])
def test_a_layer_integration_exact_cannot_take_is_refused_naming_it(coding):
    """RoT / DRLO sit inside STEM's requantization, not its thresholds: a sparsified layer whose
    sums need scaling has no exact counterpart on 16 bits."""
    path = models.quantized("mlp_gemm")
    with pytest.raises(SdanncError) as err:
        sdannc.compile(path, NARROW, config={"sparsify": {"default": {"rot": 2}}, "coding": coding})
    message = str(err.value)
    assert "\n" not in message and "layer fc1" in message and f"coding {coding}" in message
    assert "sparsified" in message and "darwin3-wide" in message


@pytest.mark.parametrize("coding", ["ttfs", "rate"])
def test_the_functional_engine_runs_the_exact_programs_as_the_cycle_engine(coding):
    """The search loop and the lookup memory of the exact programs, the two-word Add: both engines."""
    path = models.quantized("residual")
    x = models.eval_set(onnx.load(path), 3)
    compiled = sdannc.compile(path, NARROW, coding=coding)
    cycle, functional = sdannc.simulate(compiled, x), sdannc.simulate(compiled, x, engine="functional")
    assert np.array_equal(cycle.outputs, functional.outputs)
    assert cycle.report["cycles"] == functional.report["cycles"] > 0


def test_a_lookup_neuron_sees_every_code_on_16_bits(tmp_path):
    """A standalone lookup layer needs nothing wider than a code: all 256 codes rebuilt and looked up."""
    path = tmp_path / "sigmoid_codes.onnx"
    onnx.save(am.unary_qdq("Sigmoid", "uint8", 0.05, 128, 1 / 256, 0), path)
    x = am.all_codes("uint8")
    expected = models.ort_run(path, x)
    for coding in ("ttfs", "rate"):
        compiled = sdannc.compile(path, NARROW, coding=coding)
        assert [r["op"] for r in compiled.report["layers"]] == [f"{coding} lut"]
        assert np.array_equal(sdannc.simulate(compiled, x).outputs, expected)
