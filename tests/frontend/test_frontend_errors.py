"""The frontend's one-line errors: each names the file and, for a node, its name and op type."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings

import numpy as np
import onnx
import pytest
from handmade import HandQDQ, conv_tail_model
from models import float_model, quantized
from onnx import helper

from sdannc.errors import SdanncError
from sdannc.frontend import SUPPORTED_OPS, load_onnx


def error_of(path) -> str:
    with pytest.raises(SdanncError) as info:
        load_onnx(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def edited(source, tmp_path, edit, name="edited.onnx"):
    model = onnx.load(str(source))
    edit(model)
    path = tmp_path / name
    onnx.save(model, path)
    return path


def node_named(model, name):
    return next(n for n in model.graph.node if n.name == name)


def set_attr(node, name, value):
    for attr in list(node.attribute):
        if attr.name == name:
            node.attribute.remove(attr)
    node.attribute.append(helper.make_attribute(name, value))


def test_float_model_says_how_to_quantize(tmp_path):
    path = tmp_path / "net.onnx"
    onnx.save(float_model("cnn_pool"), path)
    message = error_of(path)
    assert "float model" in message and "sdannc quantize net.onnx --calib X.npy -o net_Q.onnx" in message


@pytest.mark.parametrize("fmt", ["qdq", "qop"])
def test_unsupported_op_at_the_end(fmt, tmp_path):
    def edit(model):
        out = model.graph.output[0]
        model.graph.node.append(helper.make_node("Softmax", [out.name], ["probs"], name="my_softmax", axis=1))
        out.name = "probs"
    message = error_of(edited(quantized("mlp_gemm", fmt), tmp_path, edit))
    assert "node 'my_softmax' (Softmax)" in message and "not supported" in message
    assert "sdannc supports " + ", ".join(SUPPORTED_OPS) in message
    assert "QLinearConv" in message and "Conv" in message


def test_unsupported_op_between_qdq(tmp_path):
    h = HandQDQ()
    y = h.conv(h.qdq("input", 1 / 255, 0), 1 / 255, 2, 3, name="conv")
    y = h.node("Sin", [h.qdq(y, 0.05, 128)], "gate")  # (Sigmoid and the other activations are supported)
    path = tmp_path / "sin.onnx"
    onnx.save(h.model(h.qdq(y, 1 / 255, 0), [3, 4, 4]), path)
    assert "node 'gate' (Sin): op Sin is not supported" in error_of(path)


@pytest.mark.parametrize("fmt, node", [("qdq", "avgpool"), ("qop", "avgpool_quant")])
def test_ceil_mode_with_count_include_pad_is_rejected(fmt, node, tmp_path):
    """ceil_mode=1 alone is supported (tests/frontend/test_frontend_ops.py); with count_include_pad=1
    and windows that overhang, onnxruntime's divisor leaves the overhang out, which no pad reproduces."""
    def edit(m):
        pool = node_named(m, node)
        set_attr(pool, "ceil_mode", 1)
        set_attr(pool, "count_include_pad", 1)
        set_attr(pool, "kernel_shape", [3, 3])
    message = error_of(edited(quantized("cnn_pool", fmt), tmp_path, edit))
    assert f"node '{node}' (" in message and "ceil_mode=1 with count_include_pad=1" in message


def test_missing_file_and_directory(tmp_path):
    assert "not found" in error_of(tmp_path / "nope.onnx")
    assert "not a file" in error_of(tmp_path)


def test_garbage_and_truncated_files(tmp_path):
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x00\xffthis is not a protobuf\x12\x99" * 10)
    assert "not a readable ONNX model" in error_of(garbage)
    data = quantized("cnn_pool", "qdq").read_bytes()
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(data[: len(data) // 2])
    assert "not a readable ONNX model" in error_of(truncated)


def test_old_opset(tmp_path):
    def edit(model):
        next(o for o in model.opset_import if o.domain in ("", "ai.onnx")).version = 12
    message = error_of(edited(quantized("cnn_pool", "qop"), tmp_path, edit))
    assert "opset 12 is too old; sdannc needs opset 13" in message


def test_invalid_model(tmp_path):
    def edit(model):  # a node reading a tensor nobody makes
        model.graph.node[1].input[0] = "nowhere"
    assert "invalid ONNX model" in error_of(edited(quantized("cnn_pool", "qdq"), tmp_path, edit))


@pytest.mark.parametrize("fmt, node", [("qdq", "fc1"), ("qop", "fc1_quant")])
def test_gemm_alpha_and_trans_a(fmt, node, tmp_path):
    path = edited(quantized("mlp_gemm", fmt), tmp_path, lambda m: set_attr(node_named(m, node), "alpha", 2.0))
    message = error_of(path)
    assert f"node '{node}' (" in message and "alpha=2, beta=1 is not supported" in message
    path = edited(quantized("mlp_gemm", fmt), tmp_path, lambda m: set_attr(node_named(m, node), "transA", 1))
    assert "transA=1 is not supported" in error_of(path)


def test_two_outputs(tmp_path):
    def edit(model):
        model.graph.output.append(helper.make_tensor_value_info("extra", onnx.TensorProto.FLOAT, ["N", 10]))
        model.graph.node.append(helper.make_node("Identity", [model.graph.output[0].name], ["extra"], name="id"))
    assert "exactly one input and one output" in error_of(edited(quantized("mlp_gemm", "qdq"), tmp_path, edit))


def _run_the_advice(message: str, size: int) -> None:
    """Run the onnxruntime command the message gives, with every SIZE filled in."""
    command = re.search(r"`python (-m onnxruntime\.tools\.make_dynamic_shape_fixed [^`]*)`", message).group(1)
    command = command.replace("SIZE", str(size))
    proc = subprocess.run([sys.executable, *command.split()], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_symbolic_sample_dimensions_say_which_and_what_to_do(tmp_path):
    """cnn_pool's input is ['N', 1, 8, 8]; with its height symbolic the message lists axis 2 alone (the
    batch axis N is fine), says how to fix it, and the onnxruntime command it gives does fix it."""
    def edit(model):
        model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "H"
    path = edited(quantized("cnn_pool", "qdq"), tmp_path, edit)
    message = error_of(path)
    assert "symbolic dimensions after the batch axis: axis 2 ('H'); the chip needs fixed sizes" in message
    assert "'N'" not in message and "axis 0" not in message
    assert "torch.onnx.export without dynamic_axes" in message
    fixed = tmp_path / "edited_fixed.onnx"
    assert f"make_dynamic_shape_fixed --dim_param H --dim_value SIZE {path} {fixed}`" in message
    _run_the_advice(message, 8)
    graph = load_onnx(fixed)
    assert graph.tensors[graph.input].shape == (1, 8, 8)


def test_unnamed_sample_dimensions_are_fixed_with_the_whole_shape(tmp_path):
    def edit(model):
        dims = model.graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_param = "H"
        dims[3].Clear()  # neither a size nor a name
    path = edited(quantized("cnn_pool", "qdq"), tmp_path, edit)
    message = error_of(path)
    assert "after the batch axis: axis 2 ('H'), axis 3 (no size);" in message
    assert "--input_name input --input_shape 1,1,SIZE,SIZE" in message
    _run_the_advice(message, 8)
    graph = load_onnx(tmp_path / "edited_fixed.onnx")
    assert graph.tensors[graph.input].shape == (1, 8, 8)


def test_float_weight_inside_a_quantized_model(tmp_path):
    h = HandQDQ()
    x = h.qdq("input", 1 / 255, 0)
    w = h.const(np.ones((3, 2, 3, 3), np.float32), "w")
    y = h.node("Conv", [x, w], "float_conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    path = tmp_path / "fw.onnx"
    onnx.save(h.model(h.qdq(y, 0.05, 128), [3, 4, 4]), path)
    message = error_of(path)
    assert "node 'float_conv' (Conv)" in message and "is float, not quantized" in message


def test_float_output(tmp_path):
    h = HandQDQ()
    y = h.conv(h.qdq("input", 1 / 255, 0), 1 / 255, 2, 3, name="last_conv")
    path = tmp_path / "fo.onnx"
    onnx.save(h.model(y, [3, 4, 4]), path)
    assert "is not a dequantized result" in error_of(path)


def test_constant_add_needs_a_linear_layer(tmp_path):
    h = HandQDQ()
    x = h.qdq(h.node("MaxPool", [h.qdq("input", 1 / 255, 0)], "pool", kernel_shape=[2, 2]), 1 / 255, 0)
    y = h.node("Add", [x, h.const(np.float32(0.5))], "shift")
    path = tmp_path / "add.onnx"
    onnx.save(h.model(h.qdq(y, 1 / 255, 0), [2, 3, 3]), path)
    message = error_of(path)
    assert "node 'shift' (Add)" in message and "only as a layer's bias" in message


def test_qdq_sanity_of_handmade_model(tmp_path):
    """The hand-made models used above are valid as they are: only the edit makes them fail."""
    path = tmp_path / "ok.onnx"
    onnx.save(conv_tail_model("Relu"), path)
    assert [n.op for n in load_onnx(path).nodes] == ["linear"]


# ---- found by the fuzzer (tests/fuzz, docs/robustness.md): each was a traceback before ---------------


def initializer(model, name):
    return next(t for t in model.graph.initializer if t.name == name)


def test_initializer_whose_data_does_not_fit_its_dims(tmp_path):
    def edit(model):
        initializer(model, "fc1_W_quantized").dims[:] = [46]  # 2048 bytes of int8 stay
    message = error_of(edited(quantized("mlp_gemm", "qdq"), tmp_path, edit))
    assert "initializer 'fc1_W_quantized'" in message and "dims [46]" in message and "unreadable" in message


def test_output_no_node_computes(tmp_path):
    def edit(model):
        model.graph.output[0].name = model.graph.input[0].name
    assert "output 'input' is not computed by any node" in error_of(edited(quantized("mlp_gemm", "qdq"), tmp_path, edit))


def test_declared_shapes_that_contradict_the_nodes(tmp_path):
    def edit(model):  # pads change what conv1 computes; the shapes stored in the file still say 8 x 8
        set_attr(node_named(model, "conv1"), "pads", [2, 2, 2, 2])
    path = edited(quantized("cnn_pool", "qdq"), tmp_path, edit)
    assert onnx.load(str(path)).graph.value_info  # the stale shapes the message is about
    message = error_of(path)
    assert "the shapes the file declares contradict its nodes" in message and "conv1" in message


@pytest.mark.parametrize("edit, fragment", [
    (lambda n: n.input.reverse(), "zero point"),  # (zero point, scale, values): the arrays do not fit
    (lambda n: n.input.__setitem__(2, "input"), "is not a constant"),
])
def test_constant_dequantize_with_parameters_that_do_not_fit(tmp_path, edit, fragment):
    path = edited(quantized("mlp_gemm", "qdq"), tmp_path, lambda m: edit(node_named(m, "fc1_B_DequantizeLinear")))
    message = error_of(path)
    assert "node 'fc1_B_DequantizeLinear' (DequantizeLinear)" in message and fragment in message


def test_per_axis_scale_of_the_wrong_length(tmp_path):
    def edit(model):
        scale = initializer(model, "fc1_W_scale")
        scale.CopyFrom(onnx.numpy_helper.from_array(np.full(5, 0.01, np.float32), scale.name))
        zero_point = initializer(model, "fc1_W_zero_point")
        zero_point.CopyFrom(onnx.numpy_helper.from_array(np.zeros(5, np.int8), zero_point.name))
    message = error_of(edited(quantized("mlp_gemm", "qdq"), tmp_path, edit))
    assert "scale of shape [5] is neither one value nor one per index of axis" in message


@pytest.mark.parametrize("value", [np.inf, np.nan, -0.5])
def test_weight_scale_that_is_not_a_finite_positive_number(tmp_path, value):
    def edit(model):
        scale = initializer(model, "fc2_W_scale")
        scale.CopyFrom(onnx.numpy_helper.from_array(np.float32(value), scale.name))
    message = error_of(edited(quantized("mlp_gemm", "qdq"), tmp_path, edit))
    assert "node 'fc2_W_DequantizeLinear'" in message and "finite positive" in message


def test_bias_no_integer_holds(tmp_path):
    def edit(model):  # an activation scale of 1e-30 makes the next layer's bias 1e27 steps
        scale = initializer(model, "relu1_out_scale")
        scale.CopyFrom(onnx.numpy_helper.from_array(np.float32(1e-30), scale.name))
    path = edited(quantized("mlp_gemm", "qdq"), tmp_path, edit)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # it was an "invalid value encountered in cast" and a garbage bias
        message = error_of(path)
    assert "node 'fc2' (Gemm)" in message and "no integer holds that" in message


def test_name_that_is_not_utf8(tmp_path):
    """A flipped byte inside a node's name: protobuf hands it back as bytes, which reached the IR (a
    TypeError in align-delays, or in writing report.json)."""
    data = quantized("mlp_gemm", "qop").read_bytes()
    at = data.index(b"fc3_quant")
    path = tmp_path / "flipped.onnx"
    path.write_bytes(data[:at + 4] + b"\x92" + data[at + 5:])
    message = error_of(path)
    assert "name b'fc3_\\x92uant' is not UTF-8 text: the file is damaged" in message
