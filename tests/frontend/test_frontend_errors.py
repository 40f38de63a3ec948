"""The frontend's one-line errors: each names the file and, for a node, its name and op type."""

from __future__ import annotations

import re
import subprocess
import sys

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
    y = h.node("Sigmoid", [h.qdq(y, 0.05, 128)], "gate")
    path = tmp_path / "sig.onnx"
    onnx.save(h.model(h.qdq(y, 1 / 255, 0), [3, 4, 4]), path)
    assert "node 'gate' (Sigmoid): op Sigmoid is not supported" in error_of(path)


@pytest.mark.parametrize("fmt, node", [("qdq", "maxpool"), ("qop", "maxpool"), ("qdq", "avgpool"),
                                       ("qop", "avgpool_quant")])
def test_ceil_mode_is_rejected(fmt, node, tmp_path):
    path = edited(quantized("cnn_pool", fmt), tmp_path, lambda m: set_attr(node_named(m, node), "ceil_mode", 1))
    message = error_of(path)
    assert f"node '{node}' (" in message and "ceil_mode=1 is not supported" in message


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
