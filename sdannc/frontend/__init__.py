"""ONNX -> IR: an onnxruntime-quantized model (QDQ or QOperator format) as quantized-level IR.

    graph = load_onnx("model_q.onnx")

Every node becomes IR nodes on 8-bit codes (sdannc/ir/graph.py); anything sdannc cannot run
exactly is a one-line SdanncError naming the file, the node and its op type.
"""

from __future__ import annotations

from ..ir import Graph, verify
from ..ir.ops import AVGPOOL, GATHER
from . import activations, adaptive_pool, fold, qdq, qop
from .convert import Converter, Pending, Quant
from .model import OnnxModel, read_model
from .moves import EXACT_OPS, MOVES, exact_op
from .ops import attrs_of

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


def _adaptive_pool(c: Converter, nodes: list) -> None:
    """The default exporter's adaptive average pool (adaptive_pool.py) as one average pool head."""
    first, last = nodes[0], nodes[-1]
    value = c.floats.get(first.input[0]) or c.qmap.get(first.input[0])
    if not isinstance(value, str):
        c.m.node_fail(first, f"input {first.input[0]!r} is not a quantized activation")
    geo, shape = adaptive_pool.window(c.m, nodes, c.tensors[value].shape, lambda w: c.m.node_fail(last, w))
    mean = next(i for i, n in enumerate(nodes) if n.op_type == "ReduceMean")
    for i, n in enumerate(nodes):  # a QuantizeLinear only re-quantizes moved codes as they were
        if n.op_type == "QuantizeLinear" and (i > mean or qdq.quant_params(c, n, n.input[1], n.input[2] if len(
                n.input) > 2 else "", c.dtypes[value]) != c.quant_of(value)):
            c.m.node_fail(n, "quantizes the adaptive pool's moved data with a scale of its own, or its mean before "
                             "the batch axis is back in place; sdannc maps only the default exporter's pattern")
    if geo is None:  # windows of one element: a mean of one is the element, the chain a gather
        index = shape
        step = (c.m.node_name(last), GATHER, {}, index.shape, last.output[0], {"index": index})
        c.floats[last.output[0]] = Pending(c.m.node_name(last), index.shape, source=value, ops=[step])
        return
    head = {"op": AVGPOOL, "inputs": [value], "attrs": geo, "params": {}, "shape": shape, "float": last.output[0]}
    c.floats[last.output[0]] = Pending(c.m.node_name(last), shape, head=head)


def _convert(c: Converter) -> None:
    skip = set()
    for node in c.m.nodes:
        op = node.op_type
        if id(node) in skip:
            continue
        pool_chain = adaptive_pool.chain(c.m, node) if op == "Transpose" else None
        if pool_chain:
            skip.update(id(n) for n in pool_chain)
            _adaptive_pool(c, pool_chain)
        elif node.domain not in ("", "ai.onnx", "com.microsoft"):
            _unsupported(c.m, node)
        elif op == "Shape" and node.domain in ("", "ai.onnx"):
            fold.shape(c, node)
        elif fold.foldable(c.m, node):
            fold.evaluate(c.m, node)
        elif op == "QuantizeLinear":
            qdq.on_quantize(c, node)
        elif op == "DequantizeLinear":
            qdq.on_dequantize(c, node)
        elif activations.qop_claims(c, node):  # QLinearSigmoid, QLinearMul (SiLU), ...: one table
            activations.QOP_HANDLERS[op](c, node)
        elif op in qop.HANDLERS:
            qop.HANDLERS[op](c, node)
        elif op in MOVES and node.input and node.input[0] in c.input_moves:
            _input_move(c, node)
        elif activations.claims(c, node):  # Sigmoid, ..., SiLU, Gelu's erf form: one table
            activations.on_chain(c, node)
        elif op in EXACT_OPS and node.input and node.input[0] in c.qmap:
            qop.on_exact(c, node)
        elif op in qdq.FLOAT_OPS and node.domain in ("", "ai.onnx"):
            qdq.on_float_op(c, node)
        else:
            _unsupported(c.m, node)


def _input_move(c: Converter, node) -> None:
    """A rename of the float input ahead of its QuantizeLinear (onnxruntime leaves a Flatten there):
    quantizing commutes with it, so the input is quantized as it comes and the rename follows."""
    moves, shape = c.input_moves[node.input[0]]
    shape = shape or c.m.input_shape()
    fail = lambda what: c.m.node_fail(node, what)  # noqa: E731
    op, attrs, out_shape, params = exact_op(node, attrs_of(node), shape, c.m.consts, fail)
    c.input_moves[node.output[0]] = (moves + [(c.m.node_name(node), op, attrs, out_shape, node.output[0], params)],
                                     out_shape)


def _output(c: Converter) -> tuple[str, dict]:
    m, name = c.m, c.m.output.name
    if name in c.qmap:
        ir = c.qmap[name]
        return ir, {"kind": c.dtypes[ir]}
    value = c.floats.get(name)
    if isinstance(value, Pending) and value.head is None:
        value = c.finish(value, c.fresh(name), c.quant_of(value.source))
    if isinstance(value, Pending) and value.head is not None and value.head["op"] == AVGPOOL:
        m.fail(f"output {name!r} is an average computed in float after the last quantized layer (node "
               f"{value.node!r}: onnxruntime's quantizer leaves a ReduceMean that no quantized op reads "
               f"unquantized), which the chip's codes cannot give exactly: export with torch.onnx.export("
               f"dynamo=False), whose GlobalAveragePool onnxruntime quantizes, or use an input size whose last "
               f"feature map is 1 x 1 (a mean over one element is exact)")
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
    moved = set(c.input_moves)
    unread = [n for name in moved for n in m.consumers.get(name, [])
              if n.op_type != "QuantizeLinear" and n.output[0] not in moved]
    if c.input_encode["kind"] == "quantize" and unread:
        m.node_fail(unread[0], f"reads the float input {m.input.name!r}; only a QuantizeLinear may")
    output, decode = _output(c)
    _prune(c, output)
    graph = Graph(name=m.name, input=c.input, output=output, tensors=c.tensors, nodes=c.nodes,
                  input_encode=c.input_encode, output_decode=decode, notes=c.notes)
    return verify(graph, "the ONNX frontend")
