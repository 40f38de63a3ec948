"""ONNX -> IR: an onnxruntime-quantized model (QDQ or QOperator format) as quantized-level IR.

    graph = load_onnx("model_q.onnx")

Every node becomes IR nodes on 8-bit codes (sdannc/ir/graph.py); anything sdannc cannot run
exactly is a one-line SdanncError naming the file, the node and its op type.
"""

from __future__ import annotations

from ..ir import Graph, verify
from . import activations, qdq, qop
from .convert import Converter, Pending, Quant
from .model import OnnxModel, read_model
from .ops import EXACT_OPS

SUPPORTED_OPS = sorted({"QuantizeLinear", "DequantizeLinear", *qdq.FLOAT_OPS, *qop.HANDLERS, *activations.CHAIN_OPS,
                         *activations.QOP_HANDLERS})

__all__ = ["load_onnx", "SUPPORTED_OPS"]


def _unsupported(m: OnnxModel, node) -> None:
    m.node_fail(node, f"op {node.op_type} is not supported; sdannc supports {', '.join(SUPPORTED_OPS)}")


def _start(c: Converter) -> None:
    m = c.m
    dtype = m.elem_type(m.input)
    if dtype in ("uint8", "int8"):
        c.input = c.add_tensor(m.input.name, m.input_shape(), Quant(1.0, 0, dtype))
        c.qmap[m.input.name] = c.input
        c.input_encode = {"kind": dtype}
        c.unset_input_quant = True
    elif dtype != "float32":
        m.fail(f"input {m.input.name!r} is {dtype}; sdannc takes float32 (with a QuantizeLinear), uint8 or int8")


def _convert(c: Converter) -> None:
    for node in c.m.nodes:
        op = node.op_type
        if node.domain not in ("", "ai.onnx", "com.microsoft"):
            _unsupported(c.m, node)
        elif op == "QuantizeLinear":
            qdq.on_quantize(c, node)
        elif op == "DequantizeLinear":
            qdq.on_dequantize(c, node)
        elif activations.qop_claims(c, node):  # QLinearSigmoid, QLinearMul (SiLU), ...: one table
            activations.QOP_HANDLERS[op](c, node)
        elif op in qop.HANDLERS:
            qop.HANDLERS[op](c, node)
        elif activations.claims(c, node):  # Sigmoid, ..., SiLU, Gelu's erf form: one table
            activations.on_chain(c, node)
        elif op in EXACT_OPS and node.input and node.input[0] in c.qmap:
            qop.on_exact(c, node)
        elif op in qdq.FLOAT_OPS and node.domain in ("", "ai.onnx"):
            qdq.on_float_op(c, node)
        else:
            _unsupported(c.m, node)


def _output(c: Converter) -> tuple[str, dict]:
    m, name = c.m, c.m.output.name
    if name in c.qmap:
        ir = c.qmap[name]
        return ir, {"kind": c.dtypes[ir]}
    value = c.floats.get(name)
    if isinstance(value, Pending) and value.head is None:
        value = c.finish(value, c.fresh(name), c.quant_of(value.source))
    if not isinstance(value, str):
        m.fail(f"output {name!r} is not a dequantized result of a supported layer (it is computed in float); "
               "end the model with a DequantizeLinear")
    q = c.quant_of(value)
    return value, {"kind": "dequantize", "scale": q.scale, "zero_point": q.zero_point, "dtype": q.dtype}


def _prune(c: Converter, output: str) -> None:
    """Drop nodes the output does not depend on (dangling branches of the ONNX graph)."""
    needed, keep = {output}, []
    for node in reversed(c.nodes):
        if node.output in needed:
            keep.append(node)
            needed.update(node.inputs)
    c.nodes = keep[::-1]
    needed.add(c.input)
    c.tensors = {k: t for k, t in c.tensors.items() if k in needed}


def load_onnx(path) -> Graph:
    """The quantized-level IR of the onnxruntime-quantized ONNX model at path."""
    m = read_model(path)
    c = Converter(m)
    _start(c)
    _convert(c)
    if c.input is None:
        m.fail(f"input {m.input.name!r} is never quantized (no QuantizeLinear reads it)")
    unread = [n for n in m.consumers.get(m.input.name, []) if n.op_type != "QuantizeLinear"]
    if c.input_encode["kind"] == "quantize" and unread:
        m.node_fail(unread[0], f"reads the float input {m.input.name!r}; only a QuantizeLinear may")
    output, decode = _output(c)
    _prune(c, output)
    graph = Graph(name=m.name, input=c.input, output=output, tensors=c.tensors, nodes=c.nodes,
                  input_encode=c.input_encode, output_decode=decode, notes=c.notes)
    return verify(graph, "the ONNX frontend")
