"""Quantized unary activations as tables of 256 codes (IR op `unary`, param `table`).

A quantized unary op maps each of the 256 input codes to one output code, so a table is exact
(onnxruntime's QLinearSigmoid and QLinearLeakyRelu are tables too). The table is computed here as
onnxruntime computes the op: dequantize in float32 (`scale * (code - zero_point)`), the function in
float32, quantize with a float32 division, round half to even and saturate (MlasQuantizeLinear).
Sigmoid uses MLAS's own rational approximation (its coefficients, as MlasComputeLogistic has them);
the other functions are float32 numpy (onnxruntime's own kernels differ from them by an ulp or
so, which moves a code only where the exact value lies within that of a rounding boundary:
tests/frontend/test_activations.py compares every table with onnxruntime on all 256 codes).

SiLU, x * Sigmoid(x), is a Mul of two activations that are both functions of one code: the Mul's
table composes the Sigmoid's with onnxruntime's QLinearMul arithmetic (MlasQLinearMul on x86: the
integer product of the two codes less their zero points, times the float32 ratio
scale_a * scale_b / scale_c, plus the zero point, rounded half to even). Any other Mul of two
activations (squeeze-and-excitation gates, ...) is refused, naming the node and why.
"""

from __future__ import annotations

import numpy as np

from ..ir.codes import CODE_MAX
from ..ir.ops import UNARY
from .convert import Converter, Pending, Quant
from .ops import attrs_of

F32 = np.float32

# MlasLogisticConstants: LowerRange, UpperRange, alpha_9 .. alpha_1, beta_10 .. beta_0
_LOGISTIC = [F32(v) for v in (
    -18.0, 18.0, 4.37031012579801e-11, 1.15627324459942e-07, 6.08574864600143e-05, 8.51377133304701e-03,
    2.48287947061529e-01, 6.10247389755681e-13, 5.76102136993427e-09, 6.29106785017040e-06,
    1.70198817374094e-03, 1.16817656904453e-01, 9.93151921023180e-01)]


def _logistic(x: np.ndarray) -> np.ndarray:
    lo, hi, a9, a7, a5, a3, a1, b10, b8, b6, b4, b2, b0 = _LOGISTIC
    v = np.minimum(hi, np.maximum(lo, x)).astype(F32)
    v2 = v * v
    p = v2 * a9 + a7
    p = p * v2 + a5
    p = p * v2 + a3
    p = p * v2 + a1
    p = p * v
    q = v2 * b10 + b8
    q = q * v2 + b6
    q = q * v2 + b4
    q = q * v2 + b2
    q = q * v2 + b0
    return np.clip(p / q + F32(0.5), F32(0), F32(1)).astype(F32)


def _erf(x: np.ndarray) -> np.ndarray:
    from math import erf
    return np.asarray([erf(float(v)) for v in x], dtype=np.float64)


def _gelu(x: np.ndarray, attrs: dict) -> np.ndarray:
    x64 = x.astype(np.float64)
    if attrs.get("approximate", "none") == "tanh":
        y = 0.5 * x64 * (1 + np.tanh(np.sqrt(2 / np.pi) * (x64 + 0.044715 * x64 ** 3)))
    else:
        y = 0.5 * x64 * (1 + _erf(x64 / np.sqrt(2)))
    return y.astype(F32)


def _f(attrs: dict, name: str, default: float) -> F32:
    return F32(attrs.get(name, default))


# op type -> f(x float32 array, attrs) -> float32 array, as ONNX defines the op (defaults included)
FUNCTIONS = {
    "Sigmoid": lambda x, a: _logistic(x),
    "QLinearSigmoid": lambda x, a: _logistic(x),
    "Tanh": lambda x, a: np.tanh(x).astype(F32),
    "HardSigmoid": lambda x, a: np.clip(_f(a, "alpha", 0.2) * x + _f(a, "beta", 0.5), F32(0), F32(1)).astype(F32),
    "HardSwish": lambda x, a: (x * np.clip(F32(1 / 6) * x + F32(0.5), F32(0), F32(1))).astype(F32),
    "LeakyRelu": lambda x, a: np.where(x >= 0, x, x * _f(a, "alpha", 0.01)).astype(F32),
    "QLinearLeakyRelu": lambda x, a: np.where(x >= 0, x, x * _f(a, "alpha", 0.01)).astype(F32),
    "Elu": lambda x, a: np.where(x >= 0, x, _f(a, "alpha", 1.0) * (np.exp(x.astype(np.float64)) - 1).astype(F32))
    .astype(F32),
    "Gelu": _gelu,
    "Softplus": lambda x, a: np.log1p(np.exp(x.astype(np.float64))).astype(F32),
}
UNARY_OPS = ("Sigmoid", "Tanh", "HardSigmoid", "HardSwish", "LeakyRelu", "Elu", "Gelu", "Softplus")
QOP_UNARY = ("QLinearSigmoid", "QLinearLeakyRelu")  # com.microsoft: X, X_scale, X_zp, Y_scale, Y_zp


def dequantized(q: Quant) -> np.ndarray:
    """The real value of each of the 256 IR codes, as onnxruntime dequantizes them (float32)."""
    codes = np.arange(CODE_MAX + 1, dtype=np.int64)
    return (F32(q.scale) * (codes - q.code_zp).astype(F32)).astype(F32)


def quantized(y: np.ndarray, q: Quant) -> np.ndarray:
    """Float32 values as IR codes, as MlasQuantizeLinear does: y / scale, saturated, rounded half to even."""
    v = (np.asarray(y, F32) / F32(q.scale)).astype(F32)
    v = np.clip(v, F32(-q.code_zp), F32(CODE_MAX - q.code_zp))
    return (np.rint(v).astype(np.int64) + q.code_zp).clip(0, CODE_MAX)


def table(op: str, attrs: dict, qin: Quant, qout: Quant) -> np.ndarray:
    """The output code of each input code [256] of unary op `op`."""
    with np.errstate(over="ignore", invalid="ignore"):
        return quantized(FUNCTIONS[op](dequantized(qin), attrs), qout)


def mul_table(qa: Quant, qb: Quant, qc: Quant, b_of_a: np.ndarray) -> np.ndarray:
    """QLinearMul of a and b = b_of_a[a], per code of a (MlasQLinearMul's SSE2 kernel): the exact
    integer product (a - za)(b - zb) times the float32 ratio sa sb / sc, plus zc, rounded half to
    even, saturated."""
    codes = np.arange(CODE_MAX + 1, dtype=np.int64)
    product = ((codes - qa.code_zp) * (b_of_a - qb.code_zp)).astype(F32)
    ratio = F32(F32(F32(qa.scale) * F32(qb.scale)) / F32(qc.scale))
    value = (product * ratio + F32(qc.zero_point)).astype(F32)
    return (np.rint(value).astype(np.int64) + (qc.code_zp - qc.zero_point)).clip(0, CODE_MAX)


def _head(x: str, shape: tuple, tables) -> dict:
    """A pending unary layer; its table is made once the output quantization is known."""
    return {"op": UNARY, "inputs": [x], "attrs": {}, "params": tables, "shape": shape}


def _activation_input(c: Converter, node, name: str) -> str:
    value = c.floats.get(name)
    if isinstance(value, str):
        return value
    if isinstance(value, Pending) and value.head is None:
        return c.f_input(node, name)
    c.m.node_fail(node, f"input {name!r} is not a dequantized activation (quantize the layer before it)")


def on_float_unary(c: Converter, node) -> None:
    """QDQ: DequantizeLinear -> Sigmoid (Tanh, ...) -> QuantizeLinear."""
    x = _activation_input(c, node, node.input[0])
    attrs, qin = attrs_of(node), c.quant_of(x)
    head = dict(_head(x, c.tensors[x].shape, lambda qout: {"table": table(node.op_type, attrs, qin, qout)}),
                float=node.output[0])
    c.floats[node.output[0]] = Pending(c.m.node_name(node), head["shape"], head=head)


def _function_of(c: Converter, a: str, b: str) -> np.ndarray | None:
    """b's code as a function of a's [256], when b is a unary layer of a; else None."""
    producer = next((n for n in c.nodes if n.output == b), None)
    if producer is None or producer.op != UNARY or producer.inputs != [a]:
        return None
    return producer.params["table"]


def _mul(c: Converter, node, a: str, b: str) -> tuple[str, callable]:
    """(input, table maker) of a Mul of activations a and b that is a function of one of them."""
    for x, y in ((a, b), (b, a)):
        f = _function_of(c, x, y)
        if f is not None:
            qx, qy = c.quant_of(x), c.quant_of(y)
            return x, lambda qout, f=f, qx=qx, qy=qy: {"table": mul_table(qx, qy, qout, f)}
    if a == b:
        qa = c.quant_of(a)
        return a, lambda qout: {"table": mul_table(qa, qa, qout, np.arange(CODE_MAX + 1))}
    c.m.node_fail(node, f"multiplies two activations ({node.input[0]!r} x {node.input[1]!r}); sdannc runs a Mul of "
                        "activations only where one is a function of the other (SiLU: x * Sigmoid(x)): a general "
                        "product of two codes needs a two-input multiply neuron (and the gate's broadcast), "
                        "which the chip's neuron models do not have yet")


def on_float_mul(c: Converter, node) -> bool:
    """QDQ Mul of two activations (SiLU); False when an input is a constant (not this module's case)."""
    if any(name in c.m.consts or not isinstance(c.floats.get(name), (str, Pending)) for name in node.input):
        return False
    a, b = (_activation_input(c, node, name) for name in node.input)
    x, tables = _mul(c, node, a, b)
    head = dict(_head(x, c.tensors[x].shape, tables), float=node.output[0])
    c.floats[node.output[0]] = Pending(c.m.node_name(node), head["shape"], head=head)
    return True


def _emit(c: Converter, node, x: str, params: dict, quant: Quant) -> None:
    out = node.output[0]
    c.emit(c.m.node_name(node), UNARY, [x], out, c.tensors[x].shape, quant, {"clamp": (0, CODE_MAX)}, params)
    c.qmap[out] = out


def on_qlinear_unary(c: Converter, node) -> None:
    """QOperator: QLinearSigmoid / QLinearLeakyRelu (com.microsoft): X, X_scale, X_zp, Y_scale, Y_zp."""
    from .qdq import quant_params
    from .qop import _inputs, _read
    ins = _inputs(node, 5)
    x = _read(c, node, ins[0], ins[1], ins[2])
    qout = quant_params(c, node, ins[3], ins[4])
    _emit(c, node, x, {"table": table(node.op_type, attrs_of(node), c.quant_of(x), qout)}, qout)


def on_qlinear_mul(c: Converter, node) -> None:
    """QOperator: QLinearMul (com.microsoft): A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp."""
    from .qdq import quant_params
    from .qop import _inputs, _read
    ins = _inputs(node, 8)
    if ins[0] in c.m.consts or ins[3] in c.m.consts:
        c.m.node_fail(node, "multiplies an activation by a constant; sdannc runs QLinearMul only for x * f(x) (SiLU)")
    a, b = _read(c, node, ins[0], ins[1], ins[2]), _read(c, node, ins[3], ins[4], ins[5])
    if c.tensors[a].shape != c.tensors[b].shape:
        c.m.node_fail(node, f"multiplies activations of shapes {list(c.tensors[a].shape)} and "
                            f"{list(c.tensors[b].shape)} (a broadcast gate); sdannc has no two-input multiply neuron")
    qout = quant_params(c, node, ins[6], ins[7])
    x, tables = _mul(c, node, a, b)
    _emit(c, node, x, tables(qout), qout)


QOP_HANDLERS = {"QLinearSigmoid": on_qlinear_unary, "QLinearLeakyRelu": on_qlinear_unary, "QLinearMul": on_qlinear_mul}
