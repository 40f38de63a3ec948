"""Hand-written quantized ONNX models (test helper): patterns onnxruntime's quantizer does not
produce from the shared models, such as a Relu or Clip kept between a layer and its QuantizeLinear
with a zero point in mid-range, or a Relu kept explicit between DequantizeLinear and QuantizeLinear.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NP = {"uint8": np.uint8, "int8": np.int8}
OFFSET = {"uint8": 0, "int8": 128}


class HandQDQ:
    """Builds a QDQ graph step by step; float tensors are names, quantized ones remember (scale, zp)."""

    def __init__(self, in_shape=(2, 4, 4), dtype: str = "uint8", seed: int = 0, batch="N"):
        self.rng = np.random.default_rng(seed)
        self.dtype = dtype
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.quant: dict[str, tuple[float, int]] = {}
        self.in_shape = [batch, *in_shape]
        self.count = 0

    def _name(self, base: str) -> str:
        self.count += 1
        return f"{base}{self.count}"

    def const(self, array, base="c") -> str:
        name = self._name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], name: str | None = None, **attrs) -> str:
        name = name or self._name(op.lower())
        out = f"{name}_out"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def q(self, f: str, scale: float, zp_code: int) -> str:
        """QuantizeLinear of float f; zp_code is the code (ONNX zero point + 128 for int8)."""
        zp = zp_code - OFFSET[self.dtype]
        out = self.node("QuantizeLinear", [f, self.const(np.float32(scale), "s"),
                                           self.const(NP[self.dtype](zp), "z")])
        self.quant[out] = (scale, zp)
        return out

    def dq(self, q: str) -> str:
        scale, zp = self.quant[q]
        scale_name, zp_name = self.const(np.float32(scale), "s"), self.const(NP[self.dtype](zp), "z")
        return self.node("DequantizeLinear", [q, scale_name, zp_name])

    def qdq(self, f: str, scale: float, zp_code: int) -> str:
        return self.dq(self.q(f, scale, zp_code))

    def conv(self, f: str, sx: float, cin: int, cout: int, k: int = 3, pad: int = 1, name=None,
             w_zp: int = 0, bias_factor: float = 1.0, **attrs) -> str:
        """A Conv whose input f is DequantizeLinear of a tensor of scale sx; int32 bias; int8
        weights, or uint8 weights with zero point w_zp if w_zp is not 0; the bias's scale is
        bias_factor x (sx * sw), onnxruntime's own choice being 1."""
        sw = 0.02
        wtype = np.uint8 if w_zp else np.int8
        w = (self.rng.integers(-60, 61, (cout, cin, k, k)) + w_zp).astype(wtype)
        b = self.rng.integers(-300, 301, cout).astype(np.int32)
        wf = self.node("DequantizeLinear", [self.const(w, "w"), self.const(np.float32(sw), "s"),
                                            self.const(wtype(w_zp), "z")])
        bscale = self.const(np.float32(sx * sw * bias_factor), "s")
        bf = self.node("DequantizeLinear", [self.const(b, "b"), bscale, self.const(np.int32(0), "z")])
        return self.node("Conv", [f, wf, bf], name, kernel_shape=[k, k], pads=[pad] * 4, **attrs)

    def model(self, out: str, out_shape, opset: int = 13) -> onnx.ModelProto:
        graph = helper.make_graph(
            self.nodes, "handmade", [helper.make_tensor_value_info("input", TensorProto.FLOAT, self.in_shape)],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT, [self.in_shape[0], *out_shape])], self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
        model.ir_version = 8
        return model


def conv_tail_model(tail: str | None, dtype: str = "uint8", zp_code: int = 128, same_scale: bool = False,
                    w_zp: int = 0):
    """input -> Q -> DQ -> Conv -> tail -> Q(0.05, zp_code) -> DQ -> output, where tail is None,
    'Relu', 'Clip' (0..1.5), or 'explicit' (Conv -> Q -> DQ -> Relu -> Q: a Relu between Q/DQ,
    its output with the same scale and zero point as its input if same_scale, else 0.03 / code 100).
    w_zp: store the weights as uint8 with this zero point."""
    h = HandQDQ(dtype=dtype)
    x = h.qdq("input", 1 / 255, 0)
    y = h.conv(x, 1 / 255, 2, 3, name="conv", w_zp=w_zp)
    if tail == "Relu":
        y = h.node("Relu", [y], "relu")
    elif tail == "Clip":
        y = h.node("Clip", [y, h.const(np.float32(0.0)), h.const(np.float32(1.5))], "clip")
    elif tail == "explicit":
        y = h.node("Relu", [h.qdq(y, 0.05, zp_code)], "relu")
        return h.model(h.qdq(y, 0.05 if same_scale else 0.03, zp_code if same_scale else 100), [3, 4, 4])
    return h.model(h.qdq(y, 0.05, zp_code), [3, 4, 4])
