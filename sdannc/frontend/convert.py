"""The conversion state shared by the QDQ and QOperator handlers, and the IR nodes it emits.

ONNX tensors come in three kinds here:
  * quantized tensors (uint8/int8): `qmap` maps each to its IR tensor of codes;
  * float tensors that equal DequantizeLinear of a quantized tensor: `floats[name]` is that IR name;
  * float results still to be quantized (QDQ): `floats[name]` is a `Pending`, the layer that made
    them, finished when a QuantizeLinear gives the output scale and zero point;
  plus dequantized constants (`ConstQ`) and plain constants, which become weights and biases.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from ..ir import Node, Tensor
from ..ir.codes import CODE_MAX, code_offset
from ..ir.ops import ADD_CONST, CLAMP, CONCAT, LINEAR
from .model import OnnxModel


@dataclass(frozen=True)
class Quant:
    scale: float
    zero_point: int  # the ONNX zero point
    dtype: str  # uint8 | int8

    @property
    def code_zp(self) -> int:
        return self.zero_point + code_offset(self.dtype)


@dataclass
class ConstQ:
    """A DequantizeLinear of a constant: real = (q - zero_point) * scale along axis."""
    q: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray
    axis: int

    def real(self) -> np.ndarray:
        shape = [1] * self.q.ndim
        if self.scale.size > 1:
            shape[self.axis % self.q.ndim] = -1
        zp = self.zero_point.astype(np.float64).reshape(shape if self.zero_point.size > 1 else [1] * self.q.ndim)
        return (self.q.astype(np.float64) - zp) * self.scale.astype(np.float64).reshape(shape)


@dataclass
class Pending:
    """A float result awaiting its QuantizeLinear: a head layer (or none: data straight from `source`),
    then exact ops (maxpool and data moves, which commute with quantization), clamped to [lo, hi]."""
    node: str  # the IR node name (the ONNX node's)
    shape: tuple
    head: dict | None = None  # op, inputs, attrs, params, float (the ONNX float output name)
    source: str | None = None  # the IR tensor an exact chain starts from
    ops: list = field(default_factory=list)  # (node name, op, attrs, shape, float output name, params)
    lo: float = -math.inf
    hi: float = math.inf

    def derive(self, **changes) -> "Pending":
        return dataclasses.replace(self, ops=list(self.ops), **changes)


class Converter:
    def __init__(self, m: OnnxModel):
        self.m = m
        self.tensors: dict[str, Tensor] = {}
        self.nodes: list[Node] = []
        self.dtypes: dict[str, str] = {}
        self.qmap: dict[str, str] = {}
        self.floats: dict[str, object] = {}
        self.notes: list[str] = []
        self.input: str | None = None
        self.input_encode: dict | None = None
        self.unset_input_quant = False
        self.used_names: set[str] = set()
        # the float input and renames of it ahead of its QuantizeLinear: name -> (renames, shape)
        self.input_moves: dict[str, tuple[list, tuple]] = {m.input.name: ([], None)}

    # ------------------------------------------------------------------ tensors and nodes

    def add_tensor(self, name: str, shape: tuple, quant: Quant | None) -> str:
        self.m.check_shape(name, shape)
        scale, zp = (quant.scale, quant.code_zp) if quant else (1.0, 0)
        self.tensors[name] = Tensor(name, tuple(int(d) for d in shape), float(scale), int(zp))
        self.dtypes[name] = quant.dtype if quant else ""
        return name

    def quant_of(self, name: str) -> Quant:
        t = self.tensors[name]
        dtype = self.dtypes[name]
        return Quant(t.scale, t.zero_point - code_offset(dtype), dtype)

    def emit(self, name: str, op: str, inputs: list[str], out: str, shape: tuple, quant: Quant,
             attrs: dict | None = None, params: dict | None = None) -> str:
        unique, k = name, 1
        while unique in self.used_names:
            k += 1
            unique = f"{name}#{k}"
        self.used_names.add(unique)
        params = dict(params or {})
        if "pad_value" in params:  # a Pad's constant: the chip's padding is code 0 (no spikes)
            value = float(params.pop("pad_value"))
            code = int(np.rint(np.float32(value) / np.float32(quant.scale))) + quant.code_zp
            if (np.any(params["index"] < 0)) and code != 0:
                self.m.fail(f"node {name!r} (Pad): pads with {value:g}, code {code} at scale {quant.scale:.6g} zero "
                            f"point {quant.zero_point} {quant.dtype}; the chip pads with code 0 only (no spikes): pad "
                            "with the value of code 0, or use mode edge or reflect")
        self.add_tensor(out, shape, quant)
        self.nodes.append(Node(unique, op, list(inputs), out, dict(attrs or {}), params))
        return out

    def fresh(self, name: str) -> str:
        """name, or name#2, name#3, ... if an IR tensor has it already."""
        unique, k = name, 1
        while unique in self.tensors:
            k += 1
            unique = f"{name}#{k}"
        return unique

    def consumers_in_ir(self, name: str) -> list[Node]:
        return [n for n in self.nodes if name in n.inputs]

    # ------------------------------------------------------------------ reading quantized inputs

    def check_quant(self, node, name: str, quant: Quant) -> str:
        """The IR tensor for quantized ONNX tensor `name`, read by `node` with parameters `quant`."""
        if name not in self.qmap:
            self.m.node_fail(node, f"input {name!r} is not a quantized tensor sdannc knows (unsupported producer)")
        ir = self.qmap[name]
        if self.unset_input_quant and ir == self.input:  # a raw uint8/int8 input: its readers say its scale
            t = self.tensors[ir]
            self.tensors[ir] = Tensor(ir, t.shape, float(quant.scale), quant.code_zp)
            self.dtypes[ir] = quant.dtype
            self.unset_input_quant = False
            return ir
        have = self.quant_of(ir)
        if (have.dtype != quant.dtype or have.zero_point != quant.zero_point
                or not math.isclose(have.scale, quant.scale, rel_tol=1e-6)):
            self.m.node_fail(node, f"reads {name!r} as scale {quant.scale:.6g} zero point {quant.zero_point} "
                             f"{quant.dtype}, but it holds scale {have.scale:.6g} zero point "
                             f"{have.zero_point} {have.dtype}")
        return ir

    def f_input(self, node, name: str) -> str:
        """The IR tensor a float input of a QDQ layer dequantizes; exact chains are emitted here."""
        value = self.floats.get(name)
        if isinstance(value, str):
            return value
        if isinstance(value, Pending) and value.head is None:
            quant = self.quant_of(value.source)
            ir = self.finish(value, name, quant)
            self.floats[name] = ir
            return ir
        if name == self.m.input.name:
            self.m.node_fail(node, f"reads the float input {name!r} directly; quantize it first (QuantizeLinear)")
        self.m.node_fail(node, f"input {name!r} is a float result with no QuantizeLinear; sdannc needs every "
                               "layer's output quantized")

    # ------------------------------------------------------------------ finishing a pending result

    def clamp_codes(self, p: Pending, quant: Quant) -> tuple[int, int]:
        def code(v, default):
            if math.isinf(v):
                return default
            q = int(np.rint(np.float32(v) / np.float32(quant.scale))) + quant.code_zp
            return min(max(q, 0), CODE_MAX)
        return code(p.lo, 0), code(p.hi, CODE_MAX)

    def finish(self, p: Pending, out: str, quant: Quant) -> str:
        """Emit the IR nodes of a pending result quantized as `quant`, the last one writing `out`."""
        clamp = self.clamp_codes(p, quant)
        steps = list(p.ops)
        if p.head is not None:
            head = p.head
            shape = head["shape"]
            target = out if not steps else self.fresh(head["float"])
            attrs = head["attrs"](quant) if callable(head["attrs"]) else head["attrs"]  # (mul: the zero point)
            attrs = dict(attrs, **({"clamp": clamp} if head["op"] != CONCAT else {}))
            params = head["params"](quant) if callable(head["params"]) else head["params"]  # (unary: its table)
            self.emit(p.node, head["op"], head["inputs"], target, shape, quant, attrs, params)
            current = target
            if head["op"] == CONCAT and clamp != (0, CODE_MAX):
                steps.append((p.node + ":clamp", CLAMP, {"clamp": clamp}, p.shape, out, {}))
        else:
            current = p.source
            src = self.quant_of(current)
            needs_clamp = clamp != (0, CODE_MAX)
            if src != quant or needs_clamp:
                steps.append((p.node, "requant", {"clamp": clamp}, p.shape, out, {}))
        if not steps:
            return self.alias(out, current)
        for i, (name, op, attrs, shape, fname, params) in enumerate(steps):
            target = out if i == len(steps) - 1 else self.fresh(fname)
            if op == "requant":
                current = self.requant(name, current, target, quant, attrs["clamp"])
            else:
                current = self.emit(name, op, [current], target, shape, self.quant_of(current), attrs, params)
        return current

    def alias(self, out: str, ir: str) -> str:
        self.qmap[out] = ir
        return ir

    def requant(self, name: str, x: str, out: str, quant: Quant, clamp: tuple[int, int]) -> str:
        """y = clamp(requantize(x)): a `clamp` node when the scale and zero point stay, else an
        identity layer (depthwise 1x1 conv or identity dense) that requantizes as onnxruntime does."""
        src = self.quant_of(x)
        shape = self.tensors[x].shape
        if src == quant:
            return self.emit(name, CLAMP, [x], out, shape, quant, {"clamp": clamp})
        if len(shape) == 3:
            c = shape[0]
            attrs = {"kind": "conv", "kernel": (1, 1), "strides": (1, 1), "pads": (0, 0, 0, 0),
                     "dilations": (1, 1), "group": c}
            weight = np.ones((c, 1, 1, 1), np.int64)
        elif len(shape) == 1:
            c = shape[0]
            attrs, weight = {"kind": "dense"}, np.eye(c, dtype=np.int64)
        else:
            self.m.fail(f"node {name!r}: requantizing a tensor of shape {list(shape)} is not supported")
        attrs["clamp"] = clamp
        params = {"weight": weight, "weight_scale": np.ones(c), "bias": np.zeros(c, np.int64)}
        self.notes.append(f"{name}: requantization from scale {src.scale:.6g} to {quant.scale:.6g} "
                          "became an identity layer")
        return self.emit(name, LINEAR, [x], out, shape, quant, attrs, params)

    # ------------------------------------------------------------------ scaling by a constant

    def scale_head(self, node, ir: str, const: np.ndarray, out_float: str) -> dict:
        """The head of `ir x const` (Mul, or Div by 1 / const) for a quantized tensor `ir`: an identity
        layer (depthwise 1x1 conv, or identity dense) whose weight is the constant's sign and whose
        weight scale its magnitude, so that it requantizes with the real multiplier sx |k| / sy, once."""
        shape = self.tensors[ir].shape
        if len(shape) not in (1, 3):
            self.m.node_fail(node, f"scaling a tensor of shape {list(shape)} per sample is not supported")
        kind = "conv" if len(shape) == 3 else "dense"
        vec = channel_vector(np.asarray(const, np.float64), shape[0], kind)
        if vec is None or not np.all(np.isfinite(vec)):
            self.m.node_fail(node, f"constant of shape {list(np.shape(const))} is not one finite value, nor one per "
                                   f"channel of {list(shape)}")
        c = shape[0]
        sign = np.sign(vec).astype(np.int64)
        magnitude = np.where(vec == 0, 1.0, np.abs(vec))
        if kind == "conv":
            attrs = {"kind": "conv", "kernel": (1, 1), "strides": (1, 1), "pads": (0, 0, 0, 0),
                     "dilations": (1, 1), "group": c}
            weight = sign.reshape(c, 1, 1, 1)
        else:
            attrs, weight = {"kind": "dense"}, np.diag(sign)
        params = {"weight": weight, "weight_scale": magnitude, "bias": np.zeros(c, np.int64)}
        return {"op": LINEAR, "inputs": [ir], "attrs": attrs, "params": params, "shape": shape, "float": out_float}

    # ------------------------------------------------------------------ folding a constant add

    def constant_add(self, node, ir: str, const: np.ndarray) -> dict:
        """The head of `ir + const` for a linear layer's quantized output `ir`: onnxruntime rounds the
        layer's output, then adds the constant and rounds again (QLinearAdd); so does the IR."""
        producer = next((n for n in self.nodes if n.output == ir), None)
        if producer is None or producer.op != LINEAR:
            self.m.node_fail(node, "adds a constant to a tensor that is not the output of a linear layer "
                                   "(MatMul/Gemm/Conv); sdannc supports a constant Add only as a layer's bias")
        nout = producer.params["weight"].shape[0]
        vec = channel_vector(np.asarray(const, np.float64), nout, producer.attrs["kind"])
        if vec is None:
            self.m.node_fail(node, f"constant of shape {list(np.shape(const))} is not a per-output bias "
                                   f"for {nout} outputs")
        self.notes.append(f"{self.m.node_name(node)}: the constant Add after {producer.name}'s quantized output "
                          "is its own layer, rounded again as onnxruntime does")
        return {"op": ADD_CONST, "inputs": [ir], "attrs": {}, "params": {"constant": vec},
                "shape": self.tensors[ir].shape, "float": node.output[0]}

    def fold_bias(self, node, p: Pending, const: np.ndarray) -> Pending:
        """p's linear layer with constant `const` (real values) added to its bias."""
        head = p.head
        if head is None or head["op"] != LINEAR or p.ops or not (math.isinf(p.lo) and math.isinf(p.hi)):
            self.m.node_fail(node, "adds a constant to something other than a linear layer's output")
        params = head["params"]
        nout = params["weight"].shape[0]
        vec = channel_vector(np.asarray(const, np.float64), nout, head["attrs"]["kind"])
        if vec is None:
            self.m.node_fail(node, f"constant of shape {list(np.shape(const))} is not a per-output bias "
                                   f"for {nout} outputs")
        sx = self.tensors[head["inputs"][0]].scale
        extra = np.rint(vec / (np.float64(sx) * params["weight_scale"])).astype(np.int64)
        params = dict(params, bias=params["bias"] + extra)
        self.notes.append(f"{p.node}: the constant Add {self.m.node_name(node)} became the layer's bias")
        attrs = {k: v for k, v in head["attrs"].items() if k != "float32_requantize"}  # (not one onnxruntime kernel)
        return p.derive(head=dict(head, params=params, attrs=attrs))


def channel_vector(const: np.ndarray, nout: int, kind: str) -> np.ndarray | None:
    """A constant that broadcasts as one value per output channel, as a vector [nout]; else None."""
    if const.size == 1:
        return np.full(nout, float(const.reshape(-1)[0]))
    shape = list(const.shape)
    while shape and shape[0] == 1 and len(shape) > (3 if kind == "conv" else 1):
        shape.pop(0)
    want = [nout, 1, 1] if kind == "conv" else [nout]
    if shape != want:
        return None
    return const.reshape(nout).astype(np.float64)
