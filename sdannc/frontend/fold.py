"""Shape arithmetic on constants, folded at compile time: what an exporter writes for `x.view(n, g,
c // g, h, w)` with a dynamic batch axis (Shape -> Gather -> Unsqueeze -> Concat -> Reshape).

Every per-sample shape is known, and the batch axis may be taken as 1 (the IR is per sample, and a
Reshape target must keep the batch axis first: ops.reshape_shape), so `Shape` is a constant and
every node whose inputs are all constants is evaluated once, by onnx's reference evaluator, into a
constant that later nodes read as the exporter's constants.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import helper

from .convert import Converter, Pending
from .model import OnnxModel
from .ops import attrs_of

# Nodes never folded: quantization marks the model's structure (a DequantizeLinear of a constant
# weight is read as the weight), and a random or sequence op is no constant.
KEEP = {"QuantizeLinear", "DequantizeLinear", "RandomNormal", "RandomUniform", "RandomNormalLike",
        "RandomUniformLike", "Multinomial", "Bernoulli"}


def _shape_of(c: Converter, name: str) -> tuple | None:
    """The per-sample shape of an activation, as the frontend knows it (or ONNX inference)."""
    value = c.qmap.get(name) or c.floats.get(name)
    if isinstance(value, str) and value in c.tensors:
        return c.tensors[value].shape
    if isinstance(value, Pending):
        return value.shape
    if name in c.input_moves:
        return c.input_moves[name][1] or c.m.input_shape()
    return c.m.inferred.get(name)


def shape(c: Converter, node) -> None:
    """Shape of an activation: [1, per-sample shape...], sliced by start and end (opset 15)."""
    dims = _shape_of(c, node.input[0])
    if dims is None:
        c.m.node_fail(node, f"the shape of {node.input[0]!r} is not known")
    full = np.array((1,) + tuple(dims), np.int64)
    attrs = attrs_of(node)
    c.m.consts[node.output[0]] = full[slice(attrs.get("start", 0), attrs.get("end"))]


def foldable(m: OnnxModel, node) -> bool:
    names = [name for name in node.input if name]
    return (node.op_type not in KEEP and node.domain in ("", "ai.onnx") and bool(names)
            and all(name in m.consts for name in names))


def evaluate(m: OnnxModel, node) -> None:
    """The node's outputs from its constant inputs, as ONNX defines them."""
    from onnx.reference import ReferenceEvaluator

    inputs = [name for name in node.input if name]
    graph = helper.make_graph(
        [node], "fold", [helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in inputs],
        [helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None) for n in node.output if n])
    opset = [o for o in m.model.opset_import if o.domain in ("", "ai.onnx")]
    try:
        results = ReferenceEvaluator(helper.make_model(graph, opset_imports=opset)).run(
            None, {n: m.consts[n] for n in inputs})
    except Exception as exc:  # noqa: BLE001 - an op the evaluator cannot run on these constants
        m.node_fail(node, f"cannot be computed from its constant inputs ({' '.join(str(exc).split())[:200]})")
    for name, value in zip([n for n in node.output if n], results):
        m.consts[name] = np.asarray(value)
