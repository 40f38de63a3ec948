"""Input encoding against onnxruntime's QuantizeLinear, at the edges of float32."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from sdannc.ir.codec import encode_input
from sdannc.ir.codes import OFFSET as _OFFSET
from sdannc.reference import reference


def ort_quantize(x: np.ndarray, scale: float, zero_point: int, dtype: str) -> np.ndarray:
    np_type = np.uint8 if dtype == "uint8" else np.int8
    graph = helper.make_graph(
        [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])], "q",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(x.shape))],
        [helper.make_tensor_value_info("y", TensorProto.UINT8 if dtype == "uint8" else TensorProto.INT8,
                                       list(x.shape))],
        [numpy_helper.from_array(np.float32(scale), "s"), numpy_helper.from_array(np_type(zero_point), "z")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return reference(model).outputs(x)


@pytest.mark.parametrize("dtype, zero_point", [("uint8", 0), ("uint8", 128), ("int8", -3)])
def test_finite_inputs_whose_quotient_overflows_saturate_as_in_onnxruntime(dtype, zero_point):
    """x / scale is inf in float32 for |x| near float32's largest values: onnxruntime saturates. Found
    by the fuzzer (a flipped byte in an input batch): sdannc cast inf to int64, warned
    "invalid value encountered in cast", and sent code 0 instead of 255."""
    x = np.array([3e38, -3e38, np.finfo(np.float32).max, 1e30, -1e30, 0.5, -0.5, 0.0], np.float32)
    spec = {"kind": "quantize", "scale": 0.0039, "zero_point": zero_point, "dtype": dtype}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        codes = encode_input(x, spec)
    expected = ort_quantize(x, spec["scale"], zero_point, dtype).astype(np.int64) + _OFFSET[dtype]
    assert codes.tolist() == expected.tolist()
    assert codes[0] == 255 and codes[1] == 0  # the two that went wrong
