"""What the frontend makes of each model: ops, geometry, per-sample shapes, weights, encodings."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
import qref
from handmade import HandQDQ, conv_tail_model
from models import float_model, ort_run, quantized, variant_id, variants
from onnx import numpy_helper

from sdannc.frontend import load_onnx
from sdannc.frontend.ops import window

ALL = variants()


def graph_of(name, fmt="qdq", per_channel=False, act="uint8"):
    return load_onnx(quantized(name, fmt, per_channel, act))


def layers(graph):
    return [(n.op, graph.tensors[n.output].shape) for n in graph.nodes]


EXPECTED_OPS = {
    "digits_mlp": {"linear": 2},
    "mlp_gemm": {"linear": 3},
    # onnxruntime quantizes each MatMul's output, then adds its bias with QLinearAdd: two layers each
    "mlp_matmul": {"linear": 3, "add_const": 3},
    "cnn_pool": {"linear": 3, "maxpool": 1, "avgpool": 1, "reshape": 1},
    "strided_depthwise": {"linear": 4, "reshape": 1},
    "residual": {"linear": 4, "add": 1, "avgpool": 1, "reshape": 1},
    # the stem's Relu stays explicit (its input also feeds conv_b): an identity layer requantizes
    "concat": {"linear": 5, "concat": 1, "reshape": 2, "transpose": 1},
}


@pytest.mark.parametrize("variant", ALL, ids=variant_id)
@pytest.mark.parametrize("name", sorted(EXPECTED_OPS))
def test_op_counts(name, variant):
    graph = graph_of(name, *variant)
    assert Counter(n.op for n in graph.nodes) == EXPECTED_OPS[name]
    # Relus are fused: onnxruntime folds them into the output ranges, so no clamp nodes remain
    assert all(n.attrs.get("clamp", (0, 255)) == (0, 255) for n in graph.nodes)


@pytest.mark.parametrize("fmt", ["qdq", "qop"])
def test_cnn_pool_geometry_and_names(fmt):
    graph = graph_of("cnn_pool", fmt)
    assert graph.tensors[graph.input].shape == (1, 8, 8)
    assert layers(graph) == [("linear", (4, 8, 8)), ("maxpool", (4, 4, 4)), ("linear", (8, 4, 4)),
                             ("avgpool", (8, 2, 2)), ("reshape", (32,)), ("linear", (10,))]
    suffix = "_quant" if fmt == "qop" else ""
    assert [n.name for n in graph.nodes] == [f"conv1{suffix}", "maxpool", f"conv2{suffix}", f"avgpool{suffix}",
                                              "flatten", f"fc{suffix}"]
    conv1, maxpool, conv2, avgpool, _, fc = graph.nodes
    assert conv1.attrs == {"kind": "conv", "kernel": (3, 3), "strides": (1, 1), "pads": (1, 1, 1, 1),
                           "dilations": (1, 1), "group": 1, "clamp": (0, 255),
                           "float32_requantize": True}  # (onnxruntime's QLinearConv: docs/exactness.md)
    assert maxpool.attrs == {"kernel": (2, 2), "strides": (2, 2), "pads": (0, 0, 0, 0), "dilations": (1, 1)}
    assert avgpool.attrs == {"kernel": (2, 2), "strides": (2, 2), "pads": (0, 0, 0, 0), "count_include_pad": 0,
                             "clamp": (0, 255),
                             "float32_pool": (0, 0, "fused")}  # (onnxruntime's float32 QLinearAveragePool)
    assert conv2.params["weight"].shape == (8, 4, 3, 3) and fc.params["weight"].shape == (10, 32)
    assert fc.attrs == {"kind": "dense", "clamp": (0, 255), "float32_requantize": True}
    # maxpool and reshape keep their input's scale and zero point
    for node in (maxpool, graph.nodes[4]):
        src, out = graph.tensors[node.inputs[0]], graph.tensors[node.output]
        assert (src.scale, src.zero_point) == (out.scale, out.zero_point)


@pytest.mark.parametrize("fmt", ["qdq", "qop"])
def test_strided_depthwise_geometry(fmt):
    graph = graph_of("strided_depthwise", fmt)  # its batch dimension is a fixed 1
    assert layers(graph) == [("linear", (6, 4, 4)), ("linear", (6, 4, 4)), ("linear", (8, 4, 4)),
                             ("reshape", (128,)), ("linear", (10,))]
    s2, dw, pw = graph.nodes[:3]
    assert (s2.attrs["strides"], s2.attrs["pads"]) == ((2, 2), (1, 1, 1, 1))
    assert (dw.attrs["group"], dw.attrs["pads"], dw.params["weight"].shape) == (6, (1, 1, 1, 1), (6, 1, 3, 3))
    assert (pw.attrs["kernel"], pw.attrs["pads"]) == ((1, 1), (0, 0, 0, 0))


def test_auto_pad_resolution():
    def pads(auto_pad, size=4, k=3, s=2):
        attrs = {"auto_pad": auto_pad, "strides": [s, s]}
        return window(attrs, (1, size, size), (k, k), pytest.fail, pool=False)["pads"]
    assert pads("SAME_UPPER") == (0, 0, 1, 1)  # the odd pixel of padding goes at the end
    assert pads("SAME_LOWER") == (1, 1, 0, 0)
    assert pads("VALID") == (0, 0, 0, 0)
    assert pads("SAME_UPPER", size=5) == (1, 1, 1, 1)


@pytest.mark.parametrize("fmt", ["qdq", "qop"])
def test_residual_add_and_global_pool(fmt):
    graph = graph_of("residual", fmt)
    add = next(n for n in graph.nodes if n.op == "add")
    producers = {n.output: n for n in graph.nodes}
    assert [producers[i].name.removesuffix("_quant") for i in add.inputs] == ["conv3", "conv1"]
    gap = next(n for n in graph.nodes if n.op == "avgpool")
    assert gap.attrs["kernel"] == (8, 8) and graph.tensors[gap.output].shape == (8, 1, 1)


@pytest.mark.parametrize("fmt", ["qdq", "qop"])
def test_concat_and_data_moves(fmt):
    graph = graph_of("concat", fmt)
    concat = next(n for n in graph.nodes if n.op == "concat")
    assert concat.attrs == {"axis": 0} and graph.tensors[concat.output].shape == (6, 4, 4)
    moves = [(n.op, n.attrs, graph.tensors[n.output].shape) for n in graph.nodes if n.op in ("reshape", "transpose")]
    assert moves == [("reshape", {}, (6, 16)), ("transpose", {"perm": (1, 0)}, (16, 6)), ("reshape", {}, (96,))]
    # DQ -> Relu -> Q to another scale: a depthwise 1x1 identity layer that requantizes
    (node,) = [n for n in graph.nodes if n.name == "relu_stem"]
    assert node.attrs["group"] == 4 and node.attrs["kernel"] == (1, 1) and node.attrs["clamp"] == (0, 255)
    assert np.all(node.params["weight"] == 1) and np.all(node.params["bias"] == 0)
    assert np.all(node.params["weight_scale"] == 1)
    producers = {n.output: n.name.removesuffix("_quant") for n in graph.nodes}
    assert producers[node.inputs[0]] == "stem"
    assert any("identity layer" in note for note in graph.notes)


def _float_layer(model, name):
    node = next(n for n in model.graph.node if n.name == name)
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    w, b = inits[f"{name}_W"], inits.get(f"{name}_B")
    trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
    if node.op_type == "MatMul" or (node.op_type == "Gemm" and not trans_b):
        w = w.T
    return w, b


@pytest.mark.parametrize("variant", ALL, ids=variant_id)
@pytest.mark.parametrize("name", ["mlp_gemm", "mlp_matmul", "cnn_pool", "strided_depthwise", "digits_mlp"])
def test_weights_and_biases_match_the_float_model(name, variant):
    """weight * weight_scale and bias * x_scale * weight_scale give back the float model's numbers
    within half a quantization step: layouts (transB, MatMul), scales and zero points are right."""
    graph, model = graph_of(name, *variant), float_model(name)
    for node in (n for n in graph.nodes if n.op == "linear"):
        w, b = _float_layer(model, node.name.removesuffix("_quant"))
        weight, ws, bias = node.params["weight"], node.params["weight_scale"], node.params["bias"]
        assert weight.dtype == bias.dtype == np.int64 and weight.shape == w.shape and ws.shape == bias.shape
        step = ws.reshape((-1,) + (1,) * (w.ndim - 1))
        assert np.all(np.abs(weight * step - w) <= step / 2 * 1.001)
        assert np.abs(weight).max() == 127  # symmetric int8 weights use the whole range
        unit = graph.tensors[node.inputs[0]].scale * ws
        if name == "mlp_matmul":  # the bias is the next layer's constant, quantized by onnxruntime as int8
            assert np.all(bias == 0)
            (add,) = [n for n in graph.nodes if n.op == "add_const" and n.inputs == [node.output]]
            assert np.all(np.abs(add.params["constant"] - b) <= np.abs(b).max() / 127 / 2 * 1.001)
        else:
            assert np.all(np.abs(bias * unit - b) <= unit / 2 * 1.001)
        if variant[1]:
            assert len(np.unique(ws)) > 1
        else:
            assert len(np.unique(ws)) == 1


def _onnx_zero_point(path, op, index):
    model = onnx.load(str(path))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    node = next(n for n in model.graph.node
                if n.op_type == op and (op != "DequantizeLinear" or n.output[0] == model.graph.output[0].name))
    return node, inits[node.input[1]], inits[node.input[2]]


@pytest.mark.parametrize("variant", variants(per_channel=(False,)), ids=variant_id)
def test_input_encode_and_output_decode(variant):
    fmt, _, act = variant
    path = quantized("cnn_pool", *variant)
    graph = load_onnx(path)
    offset = 128 if act == "int8" else 0
    _, scale, zp = _onnx_zero_point(path, "QuantizeLinear", 0)
    assert graph.input_encode == {"kind": "quantize", "scale": float(scale), "zero_point": int(zp), "dtype": act}
    assert zp.dtype == np.dtype(act) and int(zp) == -offset  # [0, 1] inputs: zero point at the bottom
    assert graph.tensors[graph.input].zero_point == int(zp) + offset == 0
    _, scale, zp = _onnx_zero_point(path, "DequantizeLinear", 0)
    assert graph.output_decode == {"kind": "dequantize", "scale": float(scale), "zero_point": int(zp), "dtype": act}
    out = graph.tensors[graph.output]
    assert (out.scale, out.zero_point) == (float(scale), int(zp) + offset)


@pytest.mark.parametrize("act", ["uint8", "int8"])
def test_int8_zero_points_become_codes(act):
    """Every layer output's zero point is the ONNX y_zero_point + 128 for int8 (+0 for uint8)."""
    path = quantized("residual", "qop", False, act)
    graph = load_onnx(path)
    model = onnx.load(str(path))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    checked = 0
    for node in model.graph.node:
        if node.op_type in ("QLinearConv", "QLinearAdd", "QGemm", "QLinearGlobalAveragePool"):
            zp = inits[node.input[-1] if node.op_type != "QLinearConv" else node.input[7]]
            assert graph.tensors[node.output[0]].zero_point == int(zp) + (128 if act == "int8" else 0)
            checked += 1
    assert checked == 6  # 3 QLinearConv, QLinearAdd, QLinearGlobalAveragePool, QGemm


@pytest.mark.parametrize("act", ["uint8", "int8"])
@pytest.mark.parametrize("tail, ops", [
    (None, [("linear", (0, 255))]),
    ("Relu", [("linear", (128, 255))]),  # Relu fused: codes below the zero point (128) are cut
    ("Clip", [("linear", (128, 158))]),  # Clip(0, 1.5) at scale 0.05: 128 + 30
    ("explicit-same", [("linear", (0, 255)), ("clamp", (128, 255))]),
    ("explicit", [("linear", (0, 255)), ("linear", (100, 255))]),  # requantized to scale 0.03, zp 100
])
def test_relu_and_clip_become_clamps(tail, ops, act, tmp_path):
    model = conv_tail_model(tail.removesuffix("-same") if tail else None, act, same_scale=tail == "explicit-same")
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    graph = load_onnx(path)
    assert [(n.op, n.attrs["clamp"]) for n in graph.nodes] == ops
    x = np.random.default_rng(1).random((40, 2, 4, 4)).astype(np.float32) * 1.2 - 0.1
    np.testing.assert_array_equal(qref.run(graph, x), ort_run(path, x))


def test_weight_zero_point_is_subtracted(tmp_path):
    model = conv_tail_model(None, w_zp=100)
    path = tmp_path / "m.onnx"
    onnx.save(model, path)
    graph = load_onnx(path)
    stored = numpy_helper.to_array(next(t for t in model.graph.initializer if t.name.startswith("w")))
    assert stored.dtype == np.uint8
    np.testing.assert_array_equal(graph.nodes[0].params["weight"], stored.astype(np.int64) - 100)
    x = np.random.default_rng(2).random((40, 2, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(qref.run(graph, x), ort_run(path, x))


def test_bias_with_its_own_scale_is_rescaled(tmp_path):
    """onnxruntime gives the int32 bias the scale x_scale * w_scale; another scale is converted."""
    h = HandQDQ()
    y = h.conv(h.qdq("input", 1 / 255, 0), 1 / 255, 2, 3, name="conv", bias_factor=2.0)
    path = tmp_path / "m.onnx"
    onnx.save(h.model(h.qdq(y, 0.05, 128), [3, 4, 4]), path)
    graph = load_onnx(path)
    stored = next(numpy_helper.to_array(t) for t in h.inits if t.name.startswith("b"))
    np.testing.assert_array_equal(graph.nodes[0].params["bias"], 2 * stored.astype(np.int64))
    assert any("bias rescaled" in note for note in graph.notes)
