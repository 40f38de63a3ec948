"""Reading and checking the ONNX file: what every later step may take for granted.

`read_model` returns an `OnnxModel`: the checked ModelProto with its constants as numpy arrays,
producers and consumers of every tensor, the one graph input and output, node names to report,
and the shapes ONNX shape inference found (a cross-check for the frontend's own shape arithmetic).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from ..errors import SdanncError

MIN_OPSET = 13
QUANTIZED_OPS = {"QuantizeLinear", "QLinearConv", "QLinearMatMul", "QGemm", "QLinearAdd", "QLinearConcat",
                 "QLinearAveragePool", "QLinearGlobalAveragePool", "QLinearMul", "QLinearSigmoid",
                 "QLinearLeakyRelu", "QLinearSoftmax", "QLinearReduceMean", "QLinearWhere"}
ELEM_TYPES = {onnx.TensorProto.FLOAT: "float32", onnx.TensorProto.UINT8: "uint8", onnx.TensorProto.INT8: "int8",
              onnx.TensorProto.FLOAT16: "float16", onnx.TensorProto.DOUBLE: "float64"}


class OnnxModel:
    def __init__(self, path: Path, model: onnx.ModelProto):
        self.path = path
        self.model = model
        graph = model.graph
        self.name = graph.name or path.stem
        self.consts: dict[str, np.ndarray] = {t.name: self._array(t, "initializer") for t in graph.initializer}
        self.nodes = []
        for index, node in enumerate(graph.node):
            if node.op_type == "Constant" and node.domain in ("", "ai.onnx"):
                self._constant(node)
            else:
                self.nodes.append(node)
        self.names = {id(n): n.name or f"{n.op_type}_{i}" for i, n in enumerate(graph.node)}
        self.producer = {out: n for n in self.nodes for out in n.output if out}
        self.consumers: dict[str, list] = defaultdict(list)
        for n in self.nodes:
            for name in n.input:
                if name:
                    self.consumers[name].append(n)
        inputs = [i for i in graph.input if i.name not in self.consts]
        if len(inputs) != 1 or len(graph.output) != 1:
            self.fail(f"has {len(inputs)} inputs and {len(graph.output)} outputs; sdannc compiles models with "
                      "exactly one input and one output")
        self.input, self.output = inputs[0], graph.output[0]
        if self.output.name not in self.producer and self.output.name not in self.consts:
            self.fail(f"output {self.output.name!r} is not computed by any node")
        self.inferred = _inferred_shapes(model)

    def _constant(self, node) -> None:
        attr = node.attribute[0] if node.attribute else None
        if attr is None or attr.name != "value":
            self.fail(f"Constant node {node.name!r} has no tensor 'value' (only tensor constants are supported)")
        self.consts[node.output[0]] = self._array(attr.t, f"Constant node {node.name!r}: value")

    def _array(self, tensor, what: str) -> np.ndarray:
        return tensor_array(tensor, f"model {self.path}: {what}")

    def check_shape(self, name: str, shape: tuple) -> None:
        """The frontend's shape arithmetic against ONNX shape inference: when they disagree because the
        file declares shapes its own nodes contradict, that is the model's fault; otherwise it is ours."""
        inferred = self.inferred.get(name)
        if inferred is None or inferred == tuple(shape):
            return
        try:
            onnx.shape_inference.infer_shapes(self.model, strict_mode=True)
        except Exception as exc:  # noqa: BLE001 - InferenceError: ONNX itself finds the shapes inconsistent
            self.fail(f"tensor {name!r}: the shapes the file declares contradict its nodes "
                      f"({' '.join(str(exc).split())[:300]})")
        raise AssertionError(f"shape of {name}: {shape} vs ONNX {inferred}")

    def node_name(self, node) -> str:
        return self.names[id(node)]

    def fail(self, what: str):
        raise SdanncError(f"model {self.path}: {what}")

    def node_fail(self, node, what: str):
        raise SdanncError(f"model {self.path}: node {self.node_name(node)!r} ({node.op_type}): {what}")

    def elem_type(self, value_info) -> str:
        t = value_info.type.tensor_type.elem_type
        return ELEM_TYPES.get(t, onnx.TensorProto.DataType.Name(t).lower())

    def input_shape(self) -> tuple[int, ...]:
        """The per-sample input shape: the first axis is the batch (symbolic or 1)."""
        dims = self.input.type.tensor_type.shape.dim
        shape = [d.dim_value if d.HasField("dim_value") else None for d in dims]
        if not shape:
            self.fail(f"input {self.input.name!r} has no shape; give it [batch, ...] dimensions")
        if shape[0] not in (None, 1):
            self.fail(f"input {self.input.name!r} has batch dimension {shape[0]}; use 1 or a symbolic batch")
        if any(d is None or d < 1 for d in shape[1:]):
            self.fail(self._symbolic_shape(dims))
        return tuple(int(d) for d in shape[1:])

    def _symbolic_shape(self, dims) -> str:
        """What is unknown after the batch axis, and how to fix it: the chip needs every size."""
        free = [(axis, d.dim_param) for axis, d in enumerate(dims) if axis and d.dim_value < 1]
        listed = ", ".join(f"axis {axis} ({name!r})" if name else f"axis {axis} (no size)" for axis, name in free)
        if all(name for _, name in free):
            tool = " ".join(f"--dim_param {name} --dim_value SIZE" for name in dict.fromkeys(n for _, n in free))
        else:  # an unnamed dimension can only be fixed with the whole shape
            sizes = ",".join(str(d.dim_value) if d.dim_value > 0 else "SIZE" for d in dims[1:])
            tool = f"--input_name {self.input.name} --input_shape 1,{sizes}"
        fixed = self.path.with_name(f"{self.path.stem}_fixed.onnx")
        return (f"input {self.input.name!r} has symbolic dimensions after the batch axis: {listed}; the chip needs "
                f"fixed sizes: export the model with them fixed (torch.onnx.export without dynamic_axes on those "
                f"axes), or fix them with `python -m onnxruntime.tools.make_dynamic_shape_fixed {tool} "
                f"{self.path} {fixed}`")


def _names(graph):
    """Every name the frontend reads: of nodes, their ops, domains and tensors, initializers, inputs, outputs."""
    for node in graph.node:
        yield from (node.name, node.op_type, node.domain, *node.input, *node.output)
    for info in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
        yield info.name


def tensor_array(tensor: onnx.TensorProto, where: str) -> np.ndarray:
    """An ONNX tensor as numpy; data that does not fit its type and dims is the model's fault."""
    try:
        return numpy_helper.to_array(tensor)
    except Exception as exc:  # noqa: BLE001 - a size that does not fit the dims, an unknown type, ...
        raise SdanncError(f"{where} {tensor.name!r} (data type {tensor.data_type}, dims {list(tensor.dims)}) is "
                          f"unreadable: {' '.join(str(exc).split())[:200]}") from None


def _inferred_shapes(model: onnx.ModelProto) -> dict[str, tuple]:
    """Static per-sample shapes that onnx.shape_inference knows (contrib ops leave gaps)."""
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # noqa: BLE001 - inference is only a cross-check
        return {}
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.output):
        dims = vi.type.tensor_type.shape.dim
        if len(dims) >= 1 and all(d.HasField("dim_value") for d in dims[1:]):
            shapes[vi.name] = tuple(int(d.dim_value) for d in dims[1:])
    return shapes


def read_model(path) -> OnnxModel:
    """Load and check an ONNX file; one-line SdanncErrors for everything the user can fix."""
    path = Path(path)
    if not path.is_file():
        raise SdanncError(f"model {path}: not found" if not path.exists() else f"model {path}: not a file")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # DecodeError, a foreign or truncated file
        raise SdanncError(f"model {path}: not a readable ONNX model ({type(exc).__name__})") from None
    if not model.graph.node:
        raise SdanncError(f"model {path}: not a readable ONNX model (no graph nodes)")
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None or opset < MIN_OPSET:
        raise SdanncError(f"model {path}: opset {opset} is too old; sdannc needs opset {MIN_OPSET} or newer "
                          "(re-export the model, or convert it with onnx.version_converter)")
    try:
        onnx.checker.check_model(model)
    except Exception as exc:  # ValidationError: say what ONNX says, on one line
        text = " ".join(str(exc).split())[:300]
        raise SdanncError(f"model {path}: invalid ONNX model: {text}") from None
    damaged = next((name for name in _names(model.graph) if not isinstance(name, str)), None)
    if damaged is not None:  # protobuf hands back a name that is not UTF-8 as bytes
        raise SdanncError(f"model {path}: name {damaged!r} is not UTF-8 text: the file is damaged")
    if not any(n.op_type in QUANTIZED_OPS for n in model.graph.node):
        raise SdanncError(f"model {path}: a float model (no QuantizeLinear or QLinear ops): quantize it first "
                          f"with `sdannc quantize {path.name} --calib X.npy -o {path.stem}_Q.onnx`")
    return OnnxModel(path, model)
