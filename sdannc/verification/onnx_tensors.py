"""The ONNX tensors a compiled graph's layers stand for, and their codes as onnxruntime computes them.

A layer's output stands for the ONNX tensor of the same name when that tensor is quantized (uint8 or
int8) with the IR tensor's scale and zero point (the IR holds int8 values + 128, `code_offset`);
layers the passes added (relays, the first stage of a separable pool) stand for none.

Each tensor is read from a session of its own, of the model cut at the DequantizeLinear that reads
it (or at the tensor, where no DequantizeLinear does: QOperator layers). Making a tensor an extra
output of the whole model would change what onnxruntime computes: its optimizer does not fuse a QDQ
group whose QuantizeLinear output is a graph output, so on the int8 QDQ CNN of the tests conv2 ran
as a float Conv instead of QLinearConv, and the model's own outputs changed by a step. A model that
ends in a DequantizeLinear is fused as the whole model is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..frontend.convert import Quant  # the frontend's record of an ONNX tensor's quantization
from ..frontend.moves import EXACT_OPS
from ..ir.codes import code_offset
from ..ir.graph import Graph
from ..reference import Reference, reference

# Quantized ops and the input that holds their output's scale (its zero point follows it).
_OUTPUT_SCALE = {"QuantizeLinear": 1, "QLinearConv": 6, "QLinearMatMul": 6, "QGemm": 7, "QLinearAdd": 6, "QLinearMul": 6,
                 "QLinearAveragePool": 3, "QLinearGlobalAveragePool": 3, "QLinearConcat": 0}
_DTYPES = {np.dtype(np.uint8): "uint8", np.dtype(np.int8): "int8"}


def _constants(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            consts[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return consts


def _read(consts: dict, scale: str, zero_point: str) -> Quant | None:
    """Per-tensor quantization from constant inputs; None for anything else (per-axis, float, absent)."""
    s = consts.get(scale)
    z = consts.get(zero_point) if zero_point else np.zeros((), np.uint8)
    if s is None or z is None or s.size != 1 or z.size != 1 or z.dtype not in _DTYPES:
        return None
    return Quant(float(np.float32(s.reshape(-1)[0])), int(z.reshape(-1)[0]), _DTYPES[z.dtype])


def quantizations(model: onnx.ModelProto) -> dict[str, Quant]:
    """Every quantized activation tensor's scale and zero point, as the ONNX graph gives them: from the
    QuantizeLinear or QLinear op that makes it, or, for MaxPool and data moves, from their input."""
    consts, found = _constants(model), {}
    for node in model.graph.node:
        ins = list(node.input) + [""] * 10
        if node.op_type in _OUTPUT_SCALE:
            at = _OUTPUT_SCALE[node.op_type]
            quant = _read(consts, ins[at], ins[at + 1])
        elif node.op_type in EXACT_OPS:
            quant = found.get(ins[0])
        else:
            continue
        if quant is not None:
            found.update({out: quant for out in (node.output if node.op_type == "Split" else node.output[:1])})
    return found


def corresponding(graph: Graph, tensors: list[str], model: onnx.ModelProto) -> dict[str, Quant]:
    """IR tensor -> the quantization of the ONNX tensor it stands for, for those that stand for one."""
    onnx_quant = quantizations(model)
    out = {}
    for name in tensors:
        quant, t = onnx_quant.get(name), graph.tensors[name]
        if quant is not None and quant.code_zp == t.zero_point and math.isclose(quant.scale, t.scale,
                                                                                         rel_tol=1e-6):
            out[name] = quant
    return out


def cut_at(model: onnx.ModelProto, tensor: str) -> onnx.ModelProto:
    """The model's nodes that `tensor` depends on, with `tensor` as the one output."""
    needed, keep = {tensor}, []
    for node in reversed(model.graph.node):
        if any(o in needed for o in node.output):
            keep.append(node)
            needed.update(i for i in node.input if i)
    graph = helper.make_graph(keep[::-1], f"{model.graph.name} cut at {tensor}", list(model.graph.input),
                              [helper.make_empty_tensor_value_info(tensor)],
                              [t for t in model.graph.initializer if t.name in needed])
    cut = helper.make_model(graph, opset_imports=list(model.opset_import))
    cut.ir_version = model.ir_version
    return cut


@dataclass(frozen=True)
class TensorReader:
    """How to get one ONNX tensor's codes from onnxruntime: from a session of the model cut at
    `output`, which is the tensor itself or the float output of the DequantizeLinear that reads it."""

    tensor: str
    quant: Quant
    output: str

    def read(self, model: onnx.ModelProto, x: np.ndarray) -> tuple[np.ndarray, Reference]:
        """[batch, elements] the tensor's codes on the batch x (value + code offset), and the session
        that gave them (its mode and note). The session is made here, so that it can go once read."""
        session = reference(cut_at(model, self.output))
        value, q = session.run(x)[self.output], self.quant
        if self.output != self.tensor:  # (q - zp) * scale in float32 is within 2^-24 relative of exact: rint undoes it
            value = np.rint(value.astype(np.float64) / np.float64(np.float32(q.scale))) + q.zero_point
        return value.reshape(len(x), -1).astype(np.int64) + code_offset(q.dtype), session


def readers(model: onnx.ModelProto, wanted: dict[str, Quant]) -> dict[str, TensorReader]:
    """A reader per tensor: cut at a DequantizeLinear that reads it with its own quantization, if any."""
    consts = _constants(model)
    dequantized = {}
    for node in model.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in wanted and \
                _read(consts, node.input[1], node.input[2] if len(node.input) > 2 else "") == wanted[node.input[0]]:
            dequantized.setdefault(node.input[0], node.output[0])
    return {tensor: TensorReader(tensor, quant, dequantized.get(tensor, tensor)) for tensor, quant in wanted.items()}
