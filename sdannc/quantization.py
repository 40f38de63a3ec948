"""Quantize a float ONNX model with onnxruntime, the way the frontend expects it.

A thin wrapper over `onnxruntime.quantization.quantize_static`: a calibration batch from a .npy
file (first axis is the batch), int8 weights, uint8 or int8 activations, QDQ or QOperator format,
per-tensor or per-channel weights. `quant_pre_process` (shape inference and basic graph
optimization, all offline) runs first when it can; if it fails the model is quantized as it is.
In QOperator format a Relu/Clip whose input has other readers stays float (see
`_shared_activations`): onnxruntime would otherwise drop it and change what the model computes.
The result is written atomically: a temporary file next to the output, then renamed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

import numpy as np

from .errors import SdanncError
from .fileio import as_batch, save_all

FORMATS = ("qdq", "qop")
ACTIVATION_TYPES = ("uint8", "int8")
_QUANTIZED_OPS = {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul", "QGemm",
                  "QLinearAdd", "ConvInteger", "MatMulInteger"}


def _load_float_model(path: Path):
    import onnx

    from .frontend.model import tensor_array

    if not path.is_file():
        raise SdanncError(f"model {path}: not found")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # a truncated or foreign file: DecodeError, ValueError, ...
        raise SdanncError(f"model {path}: not a readable ONNX model ({type(exc).__name__})") from None
    quantized = sorted({n.op_type for n in model.graph.node if n.op_type in _QUANTIZED_OPS})
    if quantized:
        raise SdanncError(f"model {path}: already quantized (has {', '.join(quantized)}); "
                          "give the float model")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # ValidationError: say what ONNX says, on one line
        raise SdanncError(f"model {path}: invalid ONNX model: {' '.join(str(exc).split())[:300]}") from None
    for tensor in model.graph.initializer:  # the quantizer would compute scales from them
        values = tensor_array(tensor, f"model {path}: initializer")
        if values.dtype.kind == "f" and not np.isfinite(values).all():
            raise SdanncError(f"model {path}: initializer {tensor.name!r} has NaN or infinite values")
    return model


def model_input(model) -> tuple[str, list]:
    """The one graph input that is not an initializer: (name, shape with None for symbolic dims)."""
    inits = {t.name for t in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise SdanncError(f"model has {len(inputs)} inputs ({', '.join(i.name for i in inputs)}); "
                          "sdannc quantizes models with exactly one input")
    dims = inputs[0].type.tensor_type.shape.dim
    return inputs[0].name, [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in dims]


def calib_shape_ok(model_shape: list, calib_shape: tuple) -> bool:
    """Does a calibration batch [n, ...] fit a model input [batch, ...] (None = any size)?"""
    if len(model_shape) != len(calib_shape) or not calib_shape or calib_shape[0] < 1:
        return False
    return all(m is None or m == c for m, c in zip(model_shape[1:], calib_shape[1:]))


def _shape_text(shape) -> str:
    return "[" + ", ".join("N" if d is None else str(d) for d in shape) + "]"


def check_calib(model, calib: np.ndarray, model_path, calib_path) -> None:
    _, shape = model_input(model)
    if not calib_shape_ok(shape, calib.shape):
        expected = _shape_text(["n"] + shape[1:]).replace("'", "")
        raise SdanncError(f"calibration data {calib_path}: shape {list(calib.shape)} does not fit the input "
                          f"{_shape_text(shape)} of {model_path}: expected {expected}")
    if not (np.issubdtype(calib.dtype, np.floating) or np.issubdtype(calib.dtype, np.integer)):
        raise SdanncError(f"calibration data {calib_path}: dtype {calib.dtype} is not numeric")


def _reader(name: str, batch_dim, calib: np.ndarray):
    from onnxruntime.quantization import CalibrationDataReader

    chunk = batch_dim or min(len(calib), 64)  # a fixed batch size is fed as it is, else in chunks

    class _Reader(CalibrationDataReader):
        def __init__(self):
            self.starts = iter(range(0, len(calib) - chunk + 1, chunk))

        def get_next(self):
            start = next(self.starts, None)
            return None if start is None else {name: calib[start:start + chunk]}

        def rewind(self):
            self.__init__()

    return _Reader()


@contextlib.contextmanager
def _quiet_onnxruntime():
    """onnxruntime talks on stderr three ways: advice on the root logger, tracebacks of failed steps
    on its own loggers, and its C++ log (warnings about the user's model written straight to file
    descriptor 2). What matters to the user reaches them as an exception; the rest is muted."""
    import onnxruntime

    root, own = logging.getLogger(), logging.getLogger("onnxruntime")
    levels = root.level, own.level
    root.setLevel(logging.ERROR)
    own.setLevel(logging.CRITICAL + 1)  # its children inherit this level
    onnxruntime.set_default_logger_severity(4)  # fatal only
    try:
        yield
    finally:
        root.setLevel(levels[0])
        own.setLevel(levels[1])
        onnxruntime.set_default_logger_severity(2)  # onnxruntime's default (it has no getter)


def _pre_process(src: Path, tmp: Path) -> Path:
    """ORT's quant_pre_process into tmp, or src itself when it fails (it is only an optimization).

    Its symbolic shape inference needs sympy; without it the ONNX shape inference and the graph
    optimization still run."""
    try:
        from onnxruntime.quantization.shape_inference import quant_pre_process
    except Exception:  # noqa: BLE001
        return src
    out = tmp / "preprocessed.onnx"
    here = os.getcwd()
    os.chdir(tmp)  # it writes sym_shape_infer_temp.onnx and external data files into the working folder
    try:
        for options in ({}, {"skip_symbolic_shape": True}):
            try:  # when it fails it logs its own traceback (muted by _quiet_onnxruntime)
                quant_pre_process(str(Path(here, src)), str(out.resolve()), **options)
                if out.is_file():
                    return out
            except Exception:  # noqa: BLE001 - anything it cannot do, quantize_static still can
                continue
    finally:
        os.chdir(here)
    return src


def _shared_activations(src: Path, tmp: Path) -> tuple[Path, list[str]]:
    """Relu and Clip nodes whose input other nodes also read, and the model to quantize.

    onnxruntime's QOperator quantizer drops every Relu/Clip that follows a quantized op, folding it
    into the producer's output range; when the producer's output has other readers that changes
    what the model computes (they get the clamped range but not the clamp). Such nodes are kept in
    float instead (excluded from quantization: DequantizeLinear -> Relu -> QuantizeLinear), which
    sdannc compiles exactly. Unnamed nodes are named first so that they can be excluded."""
    import onnx

    model = onnx.load(str(src))
    readers: dict[str, int] = {}
    for node in model.graph.node:
        for name in node.input:
            readers[name] = readers.get(name, 0) + 1
    shared = [n for n in model.graph.node if n.op_type in ("Relu", "Clip") and readers.get(n.input[0], 0) > 1]
    if not shared:
        return src, []
    if any(not n.name for n in shared):
        for i, node in enumerate(model.graph.node):
            node.name = node.name or f"{node.op_type}_{i}"
        src = tmp / "named.onnx"
        onnx.save(model, str(src))
    return src, [n.name for n in shared]


def quantize_model(model_path, calib, out_path, fmt: str = "qdq", per_channel: bool = False,
                   activation_type: str = "uint8", preprocess: bool = True) -> Path:
    """Quantize model_path with the calibration batch calib (a .npy path or an array); writes out_path,
    returns it.

    preprocess=False skips quant_pre_process, whose optimization would, for one, fuse MatMul + Add
    into Gemm."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static

    if fmt not in FORMATS:
        raise SdanncError(f"quantization format {fmt!r}: use one of {', '.join(FORMATS)}")
    if activation_type not in ACTIVATION_TYPES:
        raise SdanncError(f"activation type {activation_type!r}: use one of {', '.join(ACTIVATION_TYPES)}")
    model_path, out_path = Path(model_path), Path(out_path)
    model = _load_float_model(model_path)
    calib, calib_path = as_batch(calib, "calibration data")  # empty, NaN and inf are refused there
    check_calib(model, calib, model_path, calib_path)
    name, shape = model_input(model)
    calib = np.ascontiguousarray(calib.astype(np.float32))
    if shape[0] is not None and len(calib) < shape[0]:
        raise SdanncError(f"calibration data {calib_path}: {len(calib)} samples, fewer than the fixed batch "
                          f"size {shape[0]} of {model_path}")
    with _quiet_onnxruntime(), tempfile.TemporaryDirectory(prefix="sdannc-quantize-") as tmp:
        src = _pre_process(model_path, Path(tmp)) if preprocess else model_path
        exclude = []
        if fmt == "qop":
            src, exclude = _shared_activations(src, Path(tmp))
        quantized = Path(tmp) / "quantized.onnx"
        try:
            quantize_static(
                str(src), str(quantized), _reader(name, shape[0], calib),
                quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
                per_channel=per_channel,
                activation_type=QuantType.QUInt8 if activation_type == "uint8" else QuantType.QInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=CalibrationMethod.MinMax,
                nodes_to_exclude=exclude or None,
            )
        except SdanncError:
            raise
        except Exception as exc:  # ORT's own complaint about the model, on one line
            text = " ".join(str(exc).split())
            raise SdanncError(f"model {model_path}: onnxruntime could not quantize it: {text[:300]}") from None
        save_all({out_path: quantized.read_bytes()})  # whole or not at all, as every output
    return out_path
