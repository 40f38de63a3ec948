"""The uint8 twin of a QOperator model with int8 activations: the same network, every int8
activation stored as uint8 (value + 128, zero point + 128).

Why: onnxruntime's exact mode (`session.x64quantprecision`) converts int8 weights to uint8 and then
has no QGemm / QLinearMatMul kernel for int8 activations. Shifting an activation and its zero point
by the same 128 leaves every real value `(q - zp) * scale`, every integer accumulation and every
rounding unchanged, and the twin loads in exact mode. Weights stay int8 (u8 x s8 is the kernel exact
mode has). Only ops whose arithmetic is known here are rewritten; a model with any other op reading
an int8 activation has no twin (None), and the caller falls back to the default session.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from ..ir.codes import code_offset

SHIFT = code_offset("int8")  # an int8 value as uint8: the shift of the chip's codes (ir/codes.py)

# op -> ((activation input, its zero point input), ...), output zero point input (None: float output)
_QUANTIZED_OPS = {
    "QLinearConv": (((0, 2),), 7),
    "QLinearMatMul": (((0, 2), (3, 5)), 7),
    "QGemm": (((0, 2), (3, 5)), 8),
    "QLinearAdd": (((0, 2), (3, 5)), 7),
    "QLinearMul": (((0, 2), (3, 5)), 7),
    "QLinearAveragePool": (((0, 2),), 4),
    "QLinearGlobalAveragePool": (((0, 2),), 4),
    "QLinearLeakyRelu": (((0, 2),), 4),
    "QLinearSigmoid": (((0, 2),), 4),
}
# Ops whose inputs must share one type: an int8 constant beside a shifted activation is shifted too.
_SAME_TYPE_OPS = {"QLinearAdd", "QLinearMul", "QLinearConcat"}
# Ops that move or select codes without arithmetic: the output is shifted when input 0 is.
_DATA_OPS = {"MaxPool", "GlobalMaxPool", "Reshape", "Transpose", "Flatten", "Squeeze", "Unsqueeze",
             "Identity", "Slice", "Gather", "Split", "DepthToSpace", "SpaceToDepth", "Tile", "Expand"}


class _Rewrite:
    def __init__(self, model: onnx.ModelProto) -> None:
        self.model = onnx.ModelProto()
        self.model.CopyFrom(model)
        self.graph = self.model.graph
        self.inits = {t.name: t for t in self.graph.initializer}
        self.shifted: set[str] = set()

    def const(self, name: str) -> np.ndarray | None:
        return numpy_helper.to_array(self.inits[name]) if name in self.inits else None

    def is_int8(self, name: str) -> bool:
        value = self.const(name)
        return value is not None and value.dtype == np.int8

    def shifted_copy(self, name: str) -> str:
        """A uint8 copy (value + 128) of the int8 initializer `name`, left itself for other readers."""
        new = f"{name}__uint8_twin"
        if new not in self.inits:
            value = (self.const(name).astype(np.int16) + SHIFT).astype(np.uint8)
            self.inits[new] = numpy_helper.from_array(value, new)
            self.graph.initializer.append(self.inits[new])
        return new

    def shift_zero_point(self, node, index: int) -> bool:
        """Shift the int8 zero point at input `index`; False when it is not an int8 constant."""
        if index >= len(node.input) or not node.input[index]:
            return False  # an absent zero point is 0 of the input's type: uint8 would change it
        if not self.is_int8(node.input[index]):
            return False
        node.input[index] = self.shifted_copy(node.input[index])
        return True

    def node(self, node) -> bool:
        """Rewrite one node in place; False when it reads an int8 activation in a way not known here."""
        op, ins = node.op_type, list(node.input)
        reads_shifted = any(name in self.shifted for name in ins)
        if op == "QuantizeLinear":
            if len(ins) > 2 and self.is_int8(ins[2]):
                self.shift_zero_point(node, 2)
                self.shifted.add(node.output[0])
            return not reads_shifted
        if op == "DequantizeLinear":
            return not reads_shifted or self.shift_zero_point(node, 2)
        if op in _QUANTIZED_OPS or op == "QLinearConcat":
            pairs, out_zp = _QUANTIZED_OPS.get(op) or (
                tuple((i, i + 2) for i in range(2, len(ins), 3)), 1)
            same_type = op in _SAME_TYPE_OPS and (reads_shifted or (out_zp < len(ins) and self.is_int8(ins[out_zp])))
            for act, zp in pairs:
                if ins[act] in self.shifted:
                    if not self.shift_zero_point(node, zp):
                        return False
                elif same_type and self.is_int8(ins[act]):
                    node.input[act] = self.shifted_copy(ins[act])
                    if not self.shift_zero_point(node, zp):
                        return False
            if out_zp < len(ins) and self.is_int8(ins[out_zp]):
                self.shift_zero_point(node, out_zp)
                self.shifted.add(node.output[0])
            return True
        if op in _DATA_OPS:
            if ins and ins[0] in self.shifted:
                self.shifted.update(node.output)
            return not any(name in self.shifted for name in ins[1:])
        return not reads_shifted


def uint8_twin(model: onnx.ModelProto) -> tuple[onnx.ModelProto, frozenset[str]] | None:
    """The twin and the names of the tensors it holds shifted (value + 128 as uint8), or None when
    the model has no int8 activation to shift or reads one with an op this rewrite does not know."""
    if any(i.type.tensor_type.elem_type == TensorProto.INT8 for i in model.graph.input):
        return None  # the user's own int8 input; not a model onnxruntime's quantizer writes
    rewrite = _Rewrite(model)
    for node in rewrite.graph.node:
        if node.domain not in ("", "ai.onnx", "com.microsoft") or not rewrite.node(node):
            return None
    if not rewrite.shifted:
        return None
    for info in list(rewrite.graph.output) + list(rewrite.graph.value_info):
        if info.name in rewrite.shifted and info.type.tensor_type.elem_type == TensorProto.INT8:
            info.type.tensor_type.elem_type = TensorProto.UINT8
    return rewrite.model, frozenset(rewrite.shifted)


def unshift(array: np.ndarray) -> np.ndarray:
    """A shifted tensor's codes back as the original model's int8 values."""
    return (array.astype(np.int16) - SHIFT).astype(np.int8)
