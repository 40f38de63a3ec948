"""The QDQ format: float ops between DequantizeLinear and QuantizeLinear.

A float op's inputs are DequantizeLinear outputs (activations, or constants: weights and biases);
its result stays `Pending` through Relu/Clip (a clamp), a constant Add (a bias), MaxPool and data
moves (exact on codes), until a QuantizeLinear gives its scale and zero point and the IR nodes are
emitted. A DequantizeLinear -> Relu -> QuantizeLinear that onnxruntime kept explicit becomes a
`clamp` (same scale) or an identity layer that requantizes (see Converter.requant).
"""

from __future__ import annotations

import math

import numpy as np

from ..ir.codes import code_offset
from ..ir.ops import ADD, AVGPOOL, CONCAT, RESHAPE
from .convert import ConstQ, Converter, Pending, Quant
from .layers import check_gemm, linear_head
from .moves import EXACT_OPS, exact_op
from .ops import attrs_of, concat_shape, pool_geometry, reduce_mean_geometry

FLOAT_OPS = ("Conv", "Gemm", "MatMul", "Add", "Mul", "Div", "Relu", "Clip", "AveragePool", "GlobalAveragePool",
             "ReduceMean", "Concat", *EXACT_OPS)
DTYPES = {np.dtype(np.uint8): "uint8", np.dtype(np.int8): "int8"}
ONNX_DTYPES = {2: "uint8", 3: "int8"}


def quant_params(c: Converter, node, scale_name: str, zp_name: str, dtype: str | None = None) -> Quant:
    """Per-tensor activation quantization from constant scale and zero-point inputs."""
    fail = lambda what: c.m.node_fail(node, what)  # noqa: E731
    if scale_name not in c.m.consts:
        fail(f"scale {scale_name!r} is not a constant")
    scale = np.asarray(c.m.consts[scale_name])
    if scale.size != 1:
        fail(f"per-axis activation quantization (scale of shape {list(scale.shape)}) is not supported")
    zp = 0
    if zp_name:
        if zp_name not in c.m.consts:
            fail(f"zero point {zp_name!r} is not a constant")
        arr = np.asarray(c.m.consts[zp_name])
        if arr.size != 1:
            fail(f"per-axis activation zero points (shape {list(arr.shape)}) are not supported")
        if arr.dtype not in DTYPES:
            fail(f"{arr.dtype} quantization is not supported; sdannc runs 8-bit codes (uint8 or int8)")
        zp, dtype = int(arr.reshape(-1)[0]), DTYPES[arr.dtype]
    value = float(np.float32(scale.reshape(-1)[0]))
    if not value > 0 or not math.isfinite(value):
        fail(f"scale {value} is not a positive number")
    return Quant(value, zp, dtype or "uint8")


def on_quantize(c: Converter, node) -> None:
    x, out = node.input[0], node.output[0]
    dtype = ONNX_DTYPES.get(attrs_of(node).get("output_dtype", 0))
    quant = quant_params(c, node, node.input[1], node.input[2] if len(node.input) > 2 else "", dtype)
    if x in c.input_moves:
        if c.input is not None:
            c.m.node_fail(node, "quantizes the input a second time; sdannc needs one QuantizeLinear of the input")
        moves, _ = c.input_moves[x]
        c.input = c.add_tensor(c.fresh(c.m.input.name + ":quantized") if moves else out, c.m.input_shape(), quant)
        c.input_encode = {"kind": "quantize", "scale": quant.scale, "zero_point": quant.zero_point,
                          "dtype": quant.dtype}
        c.qmap[out] = c.finish(Pending(c.m.node_name(node), c.m.input_shape(), source=c.input, ops=list(moves)),
                               out, quant) if moves else out
        return
    value = c.floats.get(x)
    if isinstance(value, str):  # DequantizeLinear -> QuantizeLinear: a requantization, or nothing
        value = Pending(c.m.node_name(node), c.tensors[value].shape, source=value)
    if not isinstance(value, Pending):
        c.m.node_fail(node, f"quantizes {x!r}, which does not come from a supported layer")
    c.qmap[out] = c.finish(value, out, quant)


def _const_quant(c: Converter, node, q: np.ndarray, scale_name: str, zp_name: str) -> ConstQ:
    """DequantizeLinear of a constant, checked as ONNX defines it: a scalar scale and zero point, or
    one of each per index of `axis`; a zero point of the constant's own type; finite positive scales."""
    fail = lambda what: c.m.node_fail(node, what)  # noqa: E731
    for name, what in ((scale_name, "scale"), (zp_name, "zero point")):
        if name and name not in c.m.consts:
            fail(f"the {what} {name!r} of a constant is not a constant")
    scale = np.asarray(c.m.consts[scale_name])
    zp = np.asarray(c.m.consts[zp_name]) if zp_name else np.zeros(scale.shape, q.dtype)
    axis = int(attrs_of(node).get("axis", 1))
    if zp.dtype != q.dtype or (zp.shape != scale.shape and not zp.size == scale.size == 1):
        fail(f"zero point ({zp.dtype}, shape {list(zp.shape)}) does not match the constant ({q.dtype}) "
             f"and its scale (shape {list(scale.shape)})")
    if scale.size != 1 and not (scale.ndim == 1 and -q.ndim <= axis < q.ndim and scale.size == q.shape[axis]):
        fail(f"scale of shape {list(scale.shape)} is neither one value nor one per index of axis {axis} "
             f"of the constant's shape {list(q.shape)}")
    if not (np.issubdtype(scale.dtype, np.floating) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
        fail(f"scale {scale.reshape(-1)[:4].tolist()} is not made of finite positive numbers")
    return ConstQ(q, scale, zp, axis)


def on_dequantize(c: Converter, node) -> None:
    x, out = node.input[0], node.output[0]
    zp_name = node.input[2] if len(node.input) > 2 else ""
    if x in c.m.consts:
        c.floats[out] = _const_quant(c, node, np.asarray(c.m.consts[x]), node.input[1], zp_name)
        return
    known = c.dtypes.get(c.qmap.get(x, ""), "") or None
    quant = quant_params(c, node, node.input[1], zp_name, known)
    c.floats[out] = c.check_quant(node, x, quant)


def const_value(c: Converter, name: str) -> np.ndarray | None:
    """A constant's real value: a plain initializer or a dequantized one; None for activations."""
    value = c.floats.get(name)
    if isinstance(value, ConstQ):
        return value.real()
    if name in c.m.consts:
        return np.asarray(c.m.consts[name], np.float64)
    return None


def _weight(c: Converter, node, name: str) -> ConstQ:
    value = c.floats.get(name)
    if isinstance(value, ConstQ):
        return value
    if name in c.m.consts:
        c.m.node_fail(node, f"weight {name!r} is float, not quantized: quantize the model with sdannc quantize")
    c.m.node_fail(node, f"weight {name!r} is not a constant (multiplying two activations is not supported)")


def _bias(c: Converter, node, name: str) -> dict:
    if not name:
        return {}
    value = c.floats.get(name)
    if isinstance(value, ConstQ) and np.issubdtype(value.q.dtype, np.integer) and not np.any(value.zero_point):
        return {"bias": value.q, "bias_scale": value.scale}
    real = const_value(c, name)
    if real is None:
        c.m.node_fail(node, f"bias {name!r} is not a constant")
    return {"bias_real": real}


def _linear(c: Converter, node, attrs: dict) -> dict:
    op = node.op_type
    x = c.f_input(node, node.input[0])
    w = _weight(c, node, node.input[1])
    bias = _bias(c, node, node.input[2] if op != "MatMul" and len(node.input) > 2 else "")
    if op == "Conv":
        return linear_head(c, node, x, w.q, w.scale, w.zero_point, w.axis, False, "conv", attrs, **bias)
    trans = True if op == "MatMul" else not check_gemm(c, node, attrs, bool(bias))
    return linear_head(c, node, x, w.q, w.scale, w.zero_point, w.axis, trans, "dense", **bias)


def _add(c: Converter, node, name: str) -> object:
    a, b = node.input[0], node.input[1]
    const_a, const_b = const_value(c, a), const_value(c, b)
    if const_a is not None and const_b is None:
        (a, const_a), (b, const_b) = (b, const_b), (a, const_a)
    if const_b is not None:  # x + constant: a bias
        value = c.floats.get(a)
        if isinstance(value, str):  # of a layer whose output was quantized first: rounded twice
            head = c.constant_add(node, value, const_b)
            return Pending(name, head["shape"], head=head)
        if not isinstance(value, Pending) or value.head is None:
            c.m.node_fail(node, "adds a constant to something other than a linear layer's output")
        return c.fold_bias(node, value, const_b)
    xa, xb = c.f_input(node, a), c.f_input(node, b)
    shape = c.tensors[xa].shape
    if c.tensors[xb].shape != shape:
        c.m.node_fail(node, f"broadcasting {list(shape)} + {list(c.tensors[xb].shape)} is not supported")
    uint8 = all(c.dtypes.get(x) == "uint8" for x in (xa, xb))  # onnxruntime's uint8 QLinearAdd (requantize.add_search)
    head = {"op": ADD, "inputs": [xa, xb], "attrs": {"float32_add": True} if uint8 else {}, "params": {},
            "shape": shape, "float": node.output[0]}
    return Pending(name, shape, head=head)


def _scale(c: Converter, node, name: str) -> Pending:
    """x * constant or x / constant, x a dequantized activation: its own layer, as onnxruntime
    rounds it (QLinearMul, or DequantizeLinear -> Div -> QuantizeLinear)."""
    a, b = node.input[0], node.input[1]
    const_a, const_b = const_value(c, a), const_value(c, b)
    if node.op_type == "Mul" and const_a is not None and const_b is None:
        (a, const_a), (b, const_b) = (b, const_b), (a, const_a)
    if const_b is None or const_a is not None:
        c.m.node_fail(node, "multiplies two activations (or divides by one); sdannc supports a product with a "
                            "constant" if const_b is None else "has two constant inputs")
    if node.op_type == "Div":
        if np.any(const_b == 0):
            c.m.node_fail(node, "divides by zero")
        const_b = 1.0 / const_b
    value = c.floats.get(a)
    if not isinstance(value, str):
        c.m.node_fail(node, f"input {a!r} is not a dequantized activation (quantize the result it scales first)")
    head = c.scale_head(node, value, const_b, node.output[0])
    return Pending(name, head["shape"], head=head)


def _clip_bounds(c: Converter, node, attrs: dict) -> tuple[float, float]:
    if node.op_type == "Relu":
        return 0.0, math.inf
    bounds = []
    for i, default in ((1, -math.inf), (2, math.inf)):
        name = node.input[i] if len(node.input) > i else ""
        value = const_value(c, name) if name else None
        if name and value is None:
            c.m.node_fail(node, f"bound {name!r} is not a constant")
        bounds.append(default if value is None else float(np.asarray(value).reshape(-1)[0]))
    return bounds[0], bounds[1]


def _mean_of_one(c: Converter, node, attrs: dict, fail) -> bool:
    """A ReduceMean over axes of size 1 (a global pool of a 1 x 1 map): a rename, exact in float too, so
    it may follow the last quantized layer (onnxruntime's quantizer leaves ReduceMean in float)."""
    value = c.floats.get(node.input[0])
    shape = c.tensors[value].shape if isinstance(value, str) else getattr(value, "shape", None)
    return shape is not None and reduce_mean_geometry(node, attrs, shape, c.m.consts, fail)[0]["kernel"] == (1, 1)


def _float32_pool(geo: dict, in_dtype: str | None):
    """The pool's attrs once its output's quantization is known: with float32_pool, the input's and
    output's code offsets and onnxruntime's float32 kernel (passes/float32_pool.py): uint8, fused into
    its QLinearAveragePool; int8, rounded before adding the zero point: onnxruntime converts the pool's
    int8 Q -> DQ pairs to uint8 (zero point + 128) and fuses, the same number for an even zero point
    (all four int8 QDQ CNNs of the tests; docs/exactness.md "(a)" says what is not covered)."""
    if in_dtype not in ("uint8", "int8"):
        return geo
    return lambda quant: {**geo, "float32_pool": (code_offset(in_dtype), code_offset(quant.dtype),
                                                  "fused" if quant.dtype == "uint8" else "unfused")}


def on_float_op(c: Converter, node) -> None:
    op, out, name, attrs = node.op_type, node.output[0], c.m.node_name(node), attrs_of(node)
    fail = lambda what: c.m.node_fail(node, what)  # noqa: E731
    if op in ("Conv", "Gemm", "MatMul"):
        head = _linear(c, node, attrs)
        c.floats[out] = Pending(name, head["shape"], head=head)
    elif op == "Add":
        c.floats[out] = _add(c, node, name)
    elif op in ("Mul", "Div"):
        c.floats[out] = _scale(c, node, name)
    elif op in ("AveragePool", "GlobalAveragePool"):
        x = c.f_input(node, node.input[0])
        geo, shape = pool_geometry(op, attrs, c.tensors[x].shape, fail)
        if op == "AveragePool":  # onnxruntime's float32 QLinearAveragePool (passes/lower_pools.float32_pool)
            geo = _float32_pool(geo, c.dtypes.get(x))
        head = {"op": AVGPOOL, "inputs": [x], "attrs": geo, "params": {}, "shape": shape, "float": out}
        c.floats[out] = Pending(name, shape, head=head)
    elif op == "ReduceMean" and not _mean_of_one(c, node, attrs, fail):
        x = c.f_input(node, node.input[0])
        geo, pooled, shape = reduce_mean_geometry(node, attrs, c.tensors[x].shape, c.m.consts, fail)
        head = {"op": AVGPOOL, "inputs": [x], "attrs": geo, "params": {}, "shape": pooled,
                "float": out if shape == pooled else out + ":pooled"}
        pending = Pending(name, shape, head=head)
        if shape != pooled:  # keepdims=0: the pooled [C, 1, 1] renamed
            pending.ops.append((name + ":squeeze", RESHAPE, {}, shape, out, {}))
        c.floats[out] = pending
    elif op == "Concat":
        xs = [c.f_input(node, i) for i in node.input]
        shape, axis = concat_shape([c.tensors[x].shape for x in xs], int(attrs.get("axis", 0)), fail)
        head = {"op": CONCAT, "inputs": xs, "attrs": {"axis": axis}, "params": {}, "shape": shape, "float": out}
        c.floats[out] = Pending(name, shape, head=head)
    else:  # Relu, Clip and exact ops go on with what their input is
        value = c.floats.get(node.input[0])
        if isinstance(value, str):
            value = Pending(name, c.tensors[value].shape, source=value)
        if not isinstance(value, Pending):
            fail(f"input {node.input[0]!r} is not a quantized activation")
        if op in ("Relu", "Clip"):
            lo, hi = _clip_bounds(c, node, attrs)
            c.floats[out] = value.derive(lo=max(value.lo, lo), hi=min(value.hi, hi))
            return
        consts = c.m.consts
        if op == "Pad" and len(node.input) > 2 and node.input[2] and node.input[2] not in consts:
            real = const_value(c, node.input[2])  # the quantizer dequantizes the pad value
            consts = {**consts, node.input[2]: real} if real is not None else consts
        for k, out in enumerate(node.output if op == "Split" else node.output[:1]):
            ir_op, ir_attrs, shape, params = exact_op(node, attrs, value.shape, consts, fail, k)
            derived = value.derive(shape=shape)
            derived.ops.append((name, ir_op, ir_attrs, shape, out, params))
            c.floats[out] = derived
