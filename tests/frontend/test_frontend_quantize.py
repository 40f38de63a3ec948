"""sdannc.quantization: onnxruntime's static quantization behind one call, and its errors."""

from __future__ import annotations

import logging

import numpy as np
import onnx
import pytest
import qref
from models import (calib_set, digits_data, eval_set, float_model, ort_run, quantize, quantized,
                    train_digits_mlp)
from onnx import numpy_helper

from sdannc.errors import SdanncError
from sdannc.frontend import load_onnx
from sdannc.quantization import calib_shape_ok, quantize_model


def op_types(path) -> set[str]:
    return {n.op_type for n in onnx.load(str(path)).graph.node}


def test_qdq_and_qop_formats_differ():
    qdq, qop = op_types(quantized("cnn_pool", "qdq")), op_types(quantized("cnn_pool", "qop"))
    assert {"QuantizeLinear", "DequantizeLinear", "Conv", "Gemm", "AveragePool"} <= qdq
    assert not qdq & {"QLinearConv", "QGemm", "QLinearAveragePool"}
    assert {"QLinearConv", "QGemm", "QLinearAveragePool", "QuantizeLinear", "DequantizeLinear"} <= qop
    assert not qop & {"Conv", "Gemm", "AveragePool"}


@pytest.mark.parametrize("fmt", ["qdq", "qop"])
@pytest.mark.parametrize("act", ["uint8", "int8"])
def test_quantized_model_runs_close_to_float(fmt, act):
    model = float_model("residual")
    x = eval_set(model, 50)
    reference = ort_run(model, x)
    out = ort_run(quantized("residual", fmt, False, act), x)
    assert out.shape == reference.shape == (50, 10)
    assert np.mean(np.abs(out - reference)) < 0.03 * np.mean(np.abs(reference)) + 1e-6


def test_activation_type_and_per_channel_are_honoured():
    def input_zp_dtype(path):
        model = onnx.load(str(path))
        q = next(n for n in model.graph.node if n.op_type == "QuantizeLinear")
        return numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == q.input[2])).dtype

    def conv_scale_sizes(path):
        model = onnx.load(str(path))
        inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
        return [inits[n.input[4]].size for n in model.graph.node if n.op_type == "QLinearConv"]

    assert input_zp_dtype(quantized("cnn_pool", "qop", False, "uint8")) == np.uint8
    assert input_zp_dtype(quantized("cnn_pool", "qop", False, "int8")) == np.int8
    assert conv_scale_sizes(quantized("cnn_pool", "qop", False)) == [1, 1]
    assert conv_scale_sizes(quantized("cnn_pool", "qop", True)) == [4, 8]


def test_fixed_batch_model_is_calibrated_one_sample_at_a_time():
    path = quantized("strided_depthwise", "qdq")  # input [1, 1, 8, 8]
    x = eval_set(float_model("strided_depthwise"), 5)
    assert ort_run(path, x).shape == (5, 10)


def test_matmul_add_is_fused_into_gemm_by_pre_processing(tmp_path):
    """quant_pre_process fuses MatMul + Add into Gemm; preprocess=False keeps them (models.py uses
    that to exercise MatMul)."""
    model = float_model("mlp_matmul")
    with_pre = quantize(model, fmt="qop", out_dir=tmp_path / "a")
    without = quantize(model, fmt="qop", out_dir=tmp_path / "b", preprocess=False)
    assert "QGemm" in op_types(with_pre) and "QLinearMatMul" not in op_types(with_pre)
    assert {"QLinearMatMul", "QLinearAdd"} <= op_types(without)


def test_digits_mlp_is_accurate_float_and_quantized():
    _, _, x_test, y_test = digits_data()
    model = train_digits_mlp()
    assert np.mean(np.argmax(ort_run(model, x_test), axis=1) == y_test) > 0.9
    graph = load_onnx(quantized("digits_mlp", "qdq", False, "int8"))
    assert np.mean(np.argmax(qref.run(graph, x_test), axis=1) == y_test) > 0.9


def test_digits_data_is_deterministic():
    a, b = digits_data(), digits_data()
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    x_train, y_train, x_test, y_test = a
    assert x_train.dtype == np.float32 and x_train.shape[1] == 64 and len(x_train) + len(x_test) == 1797
    assert 0 <= x_train.min() and x_train.max() <= 1 and set(y_test) == set(range(10))


def _files(tmp_path, model_name="cnn_pool", calib=None):
    model = float_model(model_name)
    src, npy = tmp_path / "m.onnx", tmp_path / "calib.npy"
    onnx.save(model, src)
    np.save(npy, calib_set(model, 8) if calib is None else calib)
    return src, npy


def test_bad_calibration_shape_names_both_shapes(tmp_path):
    src, npy = _files(tmp_path, calib=np.zeros((8, 64), np.float32))
    out = tmp_path / "q.onnx"
    with pytest.raises(SdanncError) as info:
        quantize_model(src, npy, out)
    message = str(info.value)
    assert "[8, 64]" in message and "[N, 1, 8, 8]" in message and "expected [n, 1, 8, 8]" in message
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["calib.npy", "m.onnx"]


def test_missing_files_and_bad_options(tmp_path):
    src, npy = _files(tmp_path)
    with pytest.raises(SdanncError, match="not found"):
        quantize_model(tmp_path / "none.onnx", npy, tmp_path / "q.onnx")
    with pytest.raises(SdanncError, match="calibration data .* not found"):
        quantize_model(src, tmp_path / "none.npy", tmp_path / "q.onnx")
    with pytest.raises(SdanncError, match="quantization format 'int4'"):
        quantize_model(src, npy, tmp_path / "q.onnx", fmt="int4")
    with pytest.raises(SdanncError, match="activation type 'int16'"):
        quantize_model(src, npy, tmp_path / "q.onnx", activation_type="int16")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"\x01\x02 not onnx")
    with pytest.raises(SdanncError, match="not a readable ONNX model"):
        quantize_model(garbage, npy, tmp_path / "q.onnx")


def test_already_quantized_model_is_refused(tmp_path):
    _, npy = _files(tmp_path)
    with pytest.raises(SdanncError, match="already quantized"):
        quantize_model(quantized("cnn_pool", "qop"), npy, tmp_path / "q.onnx")


def test_output_written_atomically(tmp_path):
    src, npy = _files(tmp_path)
    out = tmp_path / "sub" / "q.onnx"
    assert quantize_model(src, npy, out, fmt="qop") == out
    assert "QLinearConv" in op_types(out)
    assert sorted(p.name for p in out.parent.iterdir()) == ["q.onnx"]  # no temporary file left


def test_calib_shape_ok():
    assert calib_shape_ok([None, 1, 8, 8], (5, 1, 8, 8))
    assert calib_shape_ok([1, 64], (3, 64))
    assert not calib_shape_ok([None, 1, 8, 8], (5, 64))
    assert not calib_shape_ok([None, 1, 8, 8], (5, 1, 8, 9))
    assert not calib_shape_ok([None, 64], (0, 64))
    assert calib_shape_ok([None, None], (2, 7))


def test_qop_keeps_a_shared_relu(tmp_path):
    """onnxruntime quirk: its QOperator quantizer drops a Relu whose input has other readers (here
    the stem's output feeds both a Relu and conv_b), so conv_a would read the un-Relu'd stem and
    the model would compute something else. quantize_model keeps such a Relu in float."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static

    from sdannc.quantization import _reader

    model = float_model("concat")
    src, raw = tmp_path / "f.onnx", tmp_path / "raw.onnx"
    onnx.save(model, src)
    quantize_static(str(src), str(raw), _reader("input", None, calib_set(model)),
                    quant_format=QuantFormat.QOperator, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8)
    ours = quantized("concat", "qop")
    assert "Relu" not in op_types(raw) and "Relu" in op_types(ours)
    x = eval_set(model, 50)
    reference = ort_run(model, x)
    raw_error = np.mean(np.abs(ort_run(raw, x) - reference))
    our_error = np.mean(np.abs(ort_run(ours, x) - reference))
    assert raw_error > 10 * our_error  # measured 0.20 vs 0.005
    graph = load_onnx(ours)
    by_name = {n.name: n for n in graph.nodes}
    assert by_name["conv_a_quant"].inputs == [by_name["relu_stem"].output]
    assert by_name["relu_stem"].inputs == [by_name["stem_quant"].output]


# ---- found by the fuzzer (tests/fuzz, docs/robustness.md) ------------------------------------------


def _quantize_cli(model_path, calib_path, out):
    from click.testing import CliRunner

    from sdannc.cli import main

    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:  # click >= 8.2 keeps stderr apart anyway
        runner = CliRunner()
    return runner.invoke(main, ["quantize", str(model_path), "--calib", str(calib_path), "-o", str(out)])


def _edited_float(tmp_path, edit):
    model = onnx.ModelProto()
    model.CopyFrom(float_model("mlp_gemm"))
    edit(model)
    path = tmp_path / "float.onnx"
    onnx.save(model, path)
    np.save(tmp_path / "x.npy", calib_set(model, 8))
    return path, tmp_path / "x.npy"


def test_invalid_float_model_is_refused_before_onnxruntime_sees_it(tmp_path):
    """onnxruntime's pre-processing printed its own traceback on stderr before sdannc's one line."""
    from cli_checks import assert_user_error

    path, npy = _edited_float(tmp_path, lambda m: setattr(m.graph.node[0], "op_type", "@emm"))
    assert_user_error(_quantize_cli(path, npy, tmp_path / "q.onnx"), str(path), "invalid ONNX model", "@emm")
    assert not (tmp_path / "q.onnx").exists()


def test_pre_processing_that_fails_says_nothing(tmp_path, caplog):
    """A model the checker lets through (input of element type UNDEFINED) that onnxruntime cannot
    load: its pre-processing logged "Model Optimization Failed!" and a traceback, which the command
    line shows on stderr; the quantizer's own error is what the user is to read."""
    from cli_checks import assert_user_error

    path, npy = _edited_float(tmp_path, lambda m: m.graph.input[0].type.tensor_type.__setattr__("elem_type", 0))
    with caplog.at_level(logging.WARNING):
        result = _quantize_cli(path, npy, tmp_path / "q.onnx")
    assert_user_error(result, str(path), "onnxruntime could not quantize it")
    assert not caplog.records, [r.getMessage()[:80] for r in caplog.records]


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_float_model_with_non_finite_weights_is_refused(tmp_path, value):
    """onnxruntime would compute scales from them (numpy warned "All-NaN axis encountered")."""
    def edit(model):
        w = next(t for t in model.graph.initializer if t.name == "fc2_W")
        array = numpy_helper.to_array(w).copy()
        array[0, 0] = value
        w.CopyFrom(numpy_helper.from_array(array, "fc2_W"))
    path, npy = _edited_float(tmp_path, edit)
    with pytest.raises(SdanncError, match="initializer 'fc2_W' has NaN or infinite values"):
        quantize_model(path, npy, tmp_path / "q.onnx")
    assert not (tmp_path / "q.onnx").exists()


def test_onnxruntime_native_warnings_stay_off_stderr(tmp_path, capfd):
    """fc2 without its bias leaves fc2_B unused: onnxruntime's C++ log wrote "[W:onnxruntime:...]
    Removing initializer 'fc2_B'" straight to file descriptor 2, past sdannc's own output."""
    def edit(model):
        fc2 = next(n for n in model.graph.node if n.name == "fc2")
        del fc2.input[2]
    path, npy = _edited_float(tmp_path, edit)
    capfd.readouterr()
    quantize_model(path, npy, tmp_path / "q.onnx")
    assert "onnxruntime" not in capfd.readouterr().err
    assert "QuantizeLinear" in op_types(tmp_path / "q.onnx")


def test_pre_processing_leaves_nothing_in_the_working_folder(tmp_path, monkeypatch):
    """onnxruntime's symbolic shape inference, when it cannot infer every shape, saves
    sym_shape_infer_temp.onnx (with external data files) into the working folder before it gives
    up; quant_pre_process runs in sdannc's temporary folder, so the user's folder stays as it was.
    The failure is forced here the way onnxruntime writes it (tools/symbolic_shape_infer.py)."""
    from onnxruntime.tools import symbolic_shape_infer

    def incomplete(in_mp, *args, **kwargs):
        onnx.save_model(in_mp, "sym_shape_infer_temp.onnx", save_as_external_data=True)
        raise Exception("Incomplete symbolic shape inference")

    monkeypatch.setattr(symbolic_shape_infer.SymbolicShapeInference, "infer_shapes", staticmethod(incomplete))
    work = tmp_path / "work"
    work.mkdir()
    src, calib = tmp_path / "mlp.onnx", tmp_path / "calib.npy"
    onnx.save(float_model("mlp_gemm"), src)
    np.save(calib, calib_set(float_model("mlp_gemm")))
    monkeypatch.chdir(work)
    quantize_model(src, calib, tmp_path / "mlp_q.onnx")
    assert list(work.iterdir()) == []
    assert (tmp_path / "mlp_q.onnx").is_file()
