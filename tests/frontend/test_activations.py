"""Unary activations as tables (sdannc/frontend/activations.py): every table against onnxruntime
(exact mode) on all 256 input codes, for each activation, QDQ and QOperator forms, uint8 and int8,
at several scales and zero points; compositions (SiLU, HardSwish as x * HardSigmoid(x), Gelu's erf
form) too; and a Mul of two activations that are not functions of one input."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import activation_models as am
from models import ort_run
from sdannc import run
from sdannc.errors import SdanncError
from sdannc.frontend import load_onnx
from sdannc.ir.ops import UNARY

# (scale in, zero point in, scale out, zero point out) per dtype: ranges wide and narrow, zero
# points at the ends and in the middle
SCALES = {
    "uint8": [(0.05, 128, 1 / 255, 0), (0.021, 200, 0.013, 90), (0.1, 3, 0.02, 100)],
    "int8": [(0.05, 0, 1 / 256, -128), (0.021, 70, 0.013, -40), (0.1, -125, 0.02, -20)],
}
CASES = [(op, dtype, k) for op in am.UNARY for dtype in ("uint8", "int8") for k in range(3)]


def _codes_through(model: onnx.ModelProto, dtype: str, tmp_path, target: str = "darwin3-wide"):
    """(onnxruntime's outputs, the golden model's) for every code once."""
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    x = am.all_codes(dtype)
    return ort_run(path, x), run(path, x, target, engine="golden"), path


def _agree(model, dtype, tmp_path):
    ours_ort, golden, path = _codes_through(model, dtype, tmp_path)
    graph = load_onnx(path)
    assert [n.op for n in graph.nodes] == [UNARY]  # one table
    np.testing.assert_array_equal(golden, ours_ort)
    return graph


@pytest.mark.parametrize("op, dtype, k", CASES, ids=[f"{o}-{d}-{k}" for o, d, k in CASES])
def test_qdq_table_is_onnxruntimes_on_every_code(op, dtype, k, tmp_path):
    graph = _agree(am.unary_qdq(op, dtype, *SCALES[dtype][k]), dtype, tmp_path)
    table = graph.nodes[0].params["table"]
    assert len(np.unique(table)) > 8  # the scales make the table say something


@pytest.mark.parametrize("op", ["QLinearSigmoid", "QLinearLeakyRelu"])
@pytest.mark.parametrize("dtype", ["uint8", "int8"])
@pytest.mark.parametrize("k", range(3))
def test_qoperator_table_is_onnxruntimes_on_every_code(op, dtype, k, tmp_path):
    attrs = {"alpha": 0.15} if op == "QLinearLeakyRelu" else {}
    _agree(am.unary_qop(op, dtype, *SCALES[dtype][k], **attrs), dtype, tmp_path)


@pytest.mark.parametrize("dtype", ["uint8", "int8"])
@pytest.mark.parametrize("gate", ["Sigmoid", "HardSigmoid"])
def test_silu_and_hardswish_qdq_are_one_table(dtype, gate, tmp_path):
    sx, zx, sy, zy = SCALES[dtype][1]
    _agree(am.silu_qdq(dtype, sx, zx, 1 / 256, zy, sy, zy, gate), dtype, tmp_path)


@pytest.mark.parametrize("dtype", ["uint8", "int8"])
@pytest.mark.parametrize("k", range(3))
def test_silu_qoperator_is_one_table(dtype, k, tmp_path):
    sx, zx, sy, zy = SCALES[dtype][k]
    _agree(am.silu_qop(dtype, sx, zx, 1 / 256, zy, sy, zy), dtype, tmp_path)


def test_a_wrong_table_is_seen(tmp_path, monkeypatch):
    """The comparison can fail: Sigmoid computed as tanh is not onnxruntime's."""
    import sdannc.frontend.activations as acts
    monkeypatch.setitem(acts.FUNCTIONS, "Sigmoid", acts.FUNCTIONS["Tanh"])
    ours_ort, golden, _ = _codes_through(am.unary_qdq("Sigmoid", "uint8", *SCALES["uint8"][0]), "uint8", tmp_path)
    assert (golden != ours_ort).any()


def test_a_product_of_two_independent_activations_is_onnxruntimes(tmp_path):
    """x times its own transpose: not a function of one code, a layer of product neurons."""
    from sdannc.ir.ops import MUL
    dtype = "uint8"
    ours_ort, golden, path = _codes_through(am.product_qdq(dtype), dtype, tmp_path)
    assert [n.op for n in load_onnx(path).nodes if n.op not in ("reshape", "transpose")] == [MUL]
    np.testing.assert_array_equal(golden, ours_ort)
    assert len(np.unique(golden)) > 50


def test_an_int8_qdq_product_is_refused_naming_the_node(tmp_path):
    """onnxruntime leaves an int8 QDQ Mul unfused (float32 on dequantized operands): not QLinearMul,
    and 4 of these 256 codes would differ."""
    path = tmp_path / "p.onnx"
    onnx.save(am.product_qdq("int8"), path)
    with pytest.raises(SdanncError) as e:
        load_onnx(path)
    message = str(e.value)
    assert "'the_product' (Mul)" in message and "int8" in message and "unfused" in message


def test_a_product_of_an_unquantized_float_chain_is_refused_naming_the_node(tmp_path):
    path = tmp_path / "p.onnx"
    onnx.save(am.product_qdq("uint8", requantized=False), path)
    with pytest.raises(SdanncError) as e:
        load_onnx(path)
    message = str(e.value)
    assert "'the_product' (Mul)" in message and "no QuantizeLinear" in message and "\n" not in message
