"""sdannc.reference: onnxruntime as an exact reference on every CPU.

The probe is the issue's: a QLinearMatMul with K = 64, x = 255, w = 127 and output scale 10000. The
exact answer is round(64 * 255 * 127 / 10000) = 207; onnxruntime's default U8S8 kernels on x86 CPUs
without VNNI add pairs of products in 16 bits with saturation and give 105. On a VNNI machine the
default session gives 207 too, so the probe alone cannot fail there if the exact option were dropped:
the second test therefore checks that the session really carries the option, which fails on any CPU.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from models import IR_VERSION, OPSET, eval_set, float_model, quantized, variant_id
from onnx import TensorProto, helper, numpy_helper

from sdannc.errors import SdanncError
from sdannc.reference import DEFAULT, EXACT, EXACT_OPTION, TWIN, default_session_disagreement, reference
from sdannc.reference import Reference, _session, with_outputs
from sdannc.reference.twin import uint8_twin

K = 64


def _model(nodes, inputs, outputs, inits) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "probe", inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = IR_VERSION
    return model


def saturating_probe() -> onnx.ModelProto:
    inits = [numpy_helper.from_array(v, n) for n, v in [
        ("xs", np.array(1.0, np.float32)), ("xz", np.array(0, np.uint8)), ("w", np.full((K, 1), 127, np.int8)),
        ("ws", np.array(1.0, np.float32)), ("wz", np.array(0, np.int8)), ("ys", np.array(10000.0, np.float32)),
        ("yz", np.array(0, np.uint8))]]
    node = helper.make_node("QLinearMatMul", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"])
    return _model([node], [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, K])],
                  [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, 1])], inits)


def test_the_saturating_probe_is_exact():
    ref = reference(saturating_probe())
    y = ref.outputs(np.full((1, K), 255, np.uint8))
    assert y.tolist() == [[round(K * 255 * 127 / 10000)]] == [[207]]
    assert ref.mode == EXACT and ref.exact and ref.note == ""


def test_every_reference_session_carries_the_exact_option():
    options = reference(saturating_probe()).session.get_session_options()
    assert options.get_session_config_entry(EXACT_OPTION[0]) == EXACT_OPTION[1] == "1"


@pytest.mark.parametrize("name", ["mlp_gemm", "cnn_pool", "residual", "concat", "mlp_matmul"])
def test_qoperator_int8_activations_run_as_the_exact_uint8_twin(name):
    """Exact mode cannot load these (no int8-activation QGemm / QLinearMatMul); their twin can.
    Bit-exactness of the twin's outputs against an independent evaluator is test_frontend_vs_ort's."""
    path = quantized(name, "qop", False, "int8")
    ref = reference(path)
    assert ref.mode == TWIN and ref.exact and ref.shifted
    y = ref.outputs(eval_set(float_model(name), 4))
    assert y.dtype == np.float32 and np.ptp(y) > 0


def _int8_pool_model() -> onnx.ModelProto:
    """QuantizeLinear (int8) -> MaxPool -> QLinearAveragePool -> Reshape -> DequantizeLinear: no
    products, so onnxruntime's default kernels are exact on every CPU and can judge the twin."""
    inits = [numpy_helper.from_array(v, n) for n, v in [
        ("s", np.array(0.05, np.float32)), ("z", np.array(-7, np.int8)), ("s2", np.array(0.03, np.float32)),
        ("z2", np.array(11, np.int8)), ("shape", np.array([1, -1], np.int64))]]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
             helper.make_node("MaxPool", ["q"], ["m"], kernel_shape=[2, 2]),
             helper.make_node("QLinearAveragePool", ["m", "s", "z", "s2", "z2"], ["a"], domain="com.microsoft",
                              kernel_shape=[2, 2], strides=[1, 1]),
             helper.make_node("Reshape", ["a", "shape"], ["r"]),
             helper.make_node("DequantizeLinear", ["r", "s2", "z2"], ["y"])]
    return _model(nodes, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 6, 6])],
                  [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)


def test_the_twin_gives_the_original_int8_tensors():
    model = _int8_pool_model()
    twin, shifted = uint8_twin(model)
    tensors = ["q", "m", "a", "r"]
    assert shifted == set(tensors)
    x = np.random.default_rng(3).normal(0, 4, (1, 2, 6, 6)).astype(np.float32)  # saturates some codes
    default = Reference(_session(with_outputs(model, tensors), exact=False), DEFAULT).run(x)
    got = Reference(_session(with_outputs(twin, tensors), exact=True), TWIN, shifted=shifted).run(x)
    for name in ["y", *tensors]:
        assert got[name].dtype == default[name].dtype
        assert np.array_equal(got[name], default[name]), name
    assert default["q"].dtype == np.int8 and default["q"].min() == -128 and default["q"].max() == 127


def test_no_twin_for_an_op_it_does_not_know():
    model = _int8_pool_model()
    model.graph.node[1].op_type = "Relu"  # Relu on int8 codes is not Relu on codes + 128
    assert uint8_twin(model) is None


def test_without_exact_mode_or_twin_the_default_session_says_so(monkeypatch):
    path = quantized("mlp_gemm", "qop", False, "int8")
    monkeypatch.setattr("sdannc.reference.uint8_twin", lambda model: None)
    ref = reference(path)
    assert ref.mode == DEFAULT and not ref.exact
    assert "exact mode cannot load" in ref.note and "default kernels" in ref.note


def test_the_default_session_disagreement_line():
    """None where the default session agrees with the exact outputs given, a line with the share
    of outputs that differ where it does not (stood in for here by exact outputs that are off by one)."""
    model, x = saturating_probe(), np.full((1, K), 255, np.uint8)
    exact = reference(model).outputs(x)
    default = Reference(_session(model, exact=False), DEFAULT).outputs(x)
    expected = None if np.array_equal(default, exact) else _line(100)  # 105 against 207 without VNNI
    assert default_session_disagreement(model, x, exact) == expected
    assert default_session_disagreement(model, x, default + 1) == _line(100)


def _line(percent: float) -> str:
    return f"onnxruntime's default kernels on this CPU saturate: {percent:.2f}% of outputs differ from its exact mode"


def test_an_unreadable_model_is_one_error(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(SdanncError, match="bad.onnx"):
        reference(bad)
