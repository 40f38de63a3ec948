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
scale_a * scale_b / scale_c, plus the zero point, rounded half to even), or, for int8 QDQ, which
onnxruntime leaves unfused, its float32 Mul of the dequantized operands. Chains of elementwise ops
on one input (Gelu's erf form) are followed in float32 the same way. A Mul of two independent
activations (a squeeze-and-excitation gate) becomes a `mul` node (passes/lower_mul.py), or is
refused, naming the node and why, where onnxruntime does not compute it as QLinearMul.
"""

from __future__ import annotations

import numpy as np

from ..ir.codes import CODE_MAX
from ..ir.ops import MUL, UNARY
from .convert import ConstQ, Converter, Pending, Quant
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
    value = attrs.get(name, default)
    return F32(value if isinstance(value, (int, float)) else default)


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


def mul_codes(a: np.ndarray, qa: Quant, b: np.ndarray, qb: Quant, qc: Quant) -> np.ndarray:
    """QLinearMul of codes a and b (MlasQLinearMul's SSE2 kernel): the exact integer product
    (a - za)(b - zb), times the float32 ratio sa sb / sc, plus the zero point zc, rounded half to
    even, saturated."""
    product = ((a - qa.code_zp) * (b - qb.code_zp)).astype(F32)
    ratio = F32(F32(F32(qa.scale) * F32(qb.scale)) / F32(qc.scale))
    value = (product * ratio + F32(qc.zero_point)).astype(F32)
    return (np.rint(value).astype(np.int64) + (qc.code_zp - qc.zero_point)).clip(0, CODE_MAX)


def add_codes(a: np.ndarray, qa: Quant, b: np.ndarray, qb: Quant, qc: Quant) -> np.ndarray:
    """QLinearAdd of codes a and b, as onnxruntime computes it in float32:
    (sa (a - za) + sb (b - zb)) / sc + zc, rounded half to even, saturated."""
    va = F32(qa.scale) * (a - qa.code_zp).astype(F32)
    vb = F32(qb.scale) * (b - qb.code_zp).astype(F32)
    value = ((va + vb).astype(F32) / F32(qc.scale) + F32(qc.zero_point)).astype(F32)
    return (np.rint(value).astype(np.int64) + (qc.code_zp - qc.zero_point)).clip(0, CODE_MAX)


def _float_codes(op):
    """The same op as a DequantizeLinear -> Mul / Add -> QuantizeLinear that onnxruntime leaves
    unfused (int8 QDQ): both operands dequantized in float32, the float32 op, MlasQuantizeLinear."""
    def codes(a: np.ndarray, qa: Quant, b: np.ndarray, qb: Quant, qc: Quant) -> np.ndarray:
        va = (F32(qa.scale) * (a - qa.code_zp).astype(F32)).astype(F32)
        vb = (F32(qb.scale) * (b - qb.code_zp).astype(F32)).astype(F32)
        return quantized(op(va, vb).astype(F32), qc)
    return codes


QUANTIZED = {"Mul": mul_codes, "Add": add_codes, "QLinearMul": mul_codes, "QLinearAdd": add_codes}
UNFUSED = {"Mul": _float_codes(np.multiply), "Add": _float_codes(np.add)}


def fused_by_onnxruntime(quants) -> bool:
    """Whether onnxruntime fuses a QDQ Add / Mul into QLinearAdd / QLinearMul: with uint8 operands
    and output (its optimizer, saved, shows int8 QDQ Mul left as DequantizeLinear -> Mul ->
    QuantizeLinear)."""
    return all(q.dtype == "uint8" for q in quants)


def _pending(c: Converter, node, x: str, values: np.ndarray, tables=None) -> None:
    """The node's output as a pending unary layer of IR tensor x: `values`, the float32 value for
    each code of x (None where only `tables` is known); its table is made once a QuantizeLinear
    gives the output quantization."""
    if tables is None:
        tables = lambda qout, v=values: {"table": quantized(v, qout)}  # noqa: E731
    head = {"op": UNARY, "inputs": [x], "attrs": {}, "params": tables, "shape": c.tensors[x].shape,
            "float": node.output[0], "values": values}
    c.floats[node.output[0]] = Pending(c.m.node_name(node), head["shape"], head=head)


def _code_function(c: Converter, name: str) -> tuple[str, np.ndarray | None] | None:
    """(x, the float32 value per code of x) of a float tensor that is a function of one quantized
    tensor x: its dequantized value, or a pending unary chain of it; None for anything else."""
    value = c.floats.get(name)
    if isinstance(value, str):
        return value, dequantized(c.quant_of(value))
    if isinstance(value, Pending) and value.head is None and not value.ops:
        x = value.source
        return x, np.clip(dequantized(c.quant_of(x)), F32(value.lo), F32(value.hi)).astype(F32)
    if (isinstance(value, Pending) and value.head is not None and value.head["op"] == UNARY and not value.ops
            and value.head.get("values") is not None):
        return value.head["inputs"][0], np.clip(value.head["values"], F32(value.lo), F32(value.hi)).astype(F32)
    return None


def _scalar(c: Converter, name: str) -> F32 | None:
    """A constant of one element (plain or dequantized) as float32, else None."""
    from .qdq import const_value
    value = const_value(c, name)
    if value is None or np.size(value) != 1:
        return None
    if name in c.m.consts:
        return F32(np.asarray(c.m.consts[name]).reshape(-1)[0])
    return F32(np.asarray(value).reshape(-1)[0])


ARITH = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}
CHAIN_OPS = (*UNARY_OPS, "Erf", *ARITH)
NONLINEAR = (*UNARY_OPS, "Erf")


def _leads_to_nonlinear(c: Converter, name: str, depth: int = 6) -> bool:
    """Whether float tensor `name` feeds, through elementwise arithmetic, a nonlinear activation."""
    for consumer in c.m.consumers.get(name, []):
        if consumer.domain not in ("", "ai.onnx"):
            continue
        if consumer.op_type in NONLINEAR:
            return True
        if consumer.op_type in ARITH and depth and _leads_to_nonlinear(c, consumer.output[0], depth - 1):
            return True
    return False


def claims(c: Converter, node) -> bool:
    """Whether the node is part of an activation this module turns into a table: a nonlinear unary
    op (Sigmoid, ..., Erf) of a function of one code; arithmetic on such a function (with a scalar
    constant, or with another function of the same code); arithmetic of a dequantized activation
    and a scalar that feeds a nonlinear op (Gelu's x / sqrt 2); a Mul of two activations."""
    if node.domain not in ("", "ai.onnx") or node.op_type not in CHAIN_OPS or not node.input or not node.output:
        return False
    if node.op_type in NONLINEAR:
        return _code_function(c, node.input[0]) is not None
    if len(node.input) != 2:
        return False
    if _fused_binary(c, node):
        return True
    kinds = []
    for name in node.input:
        value = c.floats.get(name)
        if _scalar(c, name) is not None:
            kinds.append("const")
        elif _is_chain(value):
            if value.head.get("values") is None or value.ops:
                return False
            kinds.append("chain")
        elif _code_function(c, name) is not None:
            kinds.append("chain" if isinstance(value, str) and _tabled(c, value) is not None else "code")
        else:
            return False
    if "const" not in kinds:  # two activations: a Mul is this module's (one table, or refused); an Add is not
        return node.op_type == "Mul"
    if "chain" in kinds:
        return True
    return "code" in kinds and _leads_to_nonlinear(c, node.output[0])


def _is_chain(value) -> bool:
    return isinstance(value, Pending) and value.head is not None and value.head["op"] == UNARY


def on_chain(c: Converter, node) -> None:
    """One step of an activation: the float32 value per input code, as onnxruntime's float kernels
    compute it (Add, Sub, Mul, Div are IEEE float32 operations, the same in numpy)."""
    op = node.op_type
    if op in NONLINEAR:
        x, values = _code_function(c, node.input[0])
        with np.errstate(over="ignore", invalid="ignore"):
            y = _erf(values).astype(F32) if op == "Erf" else FUNCTIONS[op](values, attrs_of(node))
        _pending(c, node, x, y)
        return
    if _fused_binary(c, node):
        _mul_of_quantized(c, node)  # onnxruntime's QLinearAdd / QLinearMul
        return
    consts = [_scalar(c, name) for name in node.input]
    funcs = [None if k is not None else _code_function(c, name) for k, name in zip(consts, node.input)]
    sources = {f[0] for f in funcs if f is not None}
    if len(sources) != 1:
        c.m.node_fail(node, f"combines functions of two activations ({', '.join(sorted(sources))}); sdannc runs "
                            "elementwise arithmetic only on functions of one input")
    operands = [f[1] if f is not None else k for f, k in zip(funcs, consts)]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        y = np.asarray(ARITH[op](operands[0], operands[1]), F32)
    _pending(c, node, sources.pop(), np.broadcast_to(y, (CODE_MAX + 1,)).astype(F32))


def _tabled(c: Converter, t: str) -> tuple[str, np.ndarray] | None:
    """(x, t's code for each code of x) when IR tensor t is the output of a unary layer of x."""
    producer = next((n for n in c.nodes if n.output == t), None)
    if producer is None or producer.op != UNARY:
        return None
    return producer.inputs[0], np.asarray(producer.params["table"], dtype=np.int64)


def _operand(c: Converter, t: str) -> tuple[str, np.ndarray, Quant]:
    """A quantized activation as (x, its code for each code of x, its quantization)."""
    f = _tabled(c, t)
    x, codes = f if f is not None else (t, np.arange(CODE_MAX + 1, dtype=np.int64))
    return x, codes, c.quant_of(t)


def _const_operand(q: np.ndarray, scale: float, zp: int, dtype: str) -> tuple[None, np.ndarray, Quant]:
    quant = Quant(float(F32(scale)), int(zp), dtype)
    code = int(np.asarray(q).reshape(-1)[0]) + (quant.code_zp - quant.zero_point)
    return None, np.full(CODE_MAX + 1, code, dtype=np.int64), quant


def _binary(c: Converter, node, op: str, operands: list) -> tuple[str, callable]:
    """(x, table maker) of a quantized Add / Mul whose operands are functions of one tensor x (or
    constants), as onnxruntime's QLinearAdd / QLinearMul computes it; None for a Mul of two
    independent activations (a `mul` layer: _product); else refused."""
    sources = {o[0] for o in operands if o[0] is not None}
    if len(sources) != 1:
        if "Mul" in op and len(sources) == 2:
            return None
        c.m.node_fail(node, "combines two activations that are not functions of one another")
    (_, ca, qa), (_, cb, qb) = operands
    if op in UNFUSED:  # QDQ: fused into QLinear* only for uint8
        return sources.pop(), lambda qout: {"table": (QUANTIZED if fused_by_onnxruntime((qa, qb, qout)) else UNFUSED)[op](
            ca, qa, cb, qb, qout)}
    return sources.pop(), lambda qout: {"table": QUANTIZED[op](ca, qa, cb, qb, qout)}


def product_shape(c: Converter, node, a: str, b: str) -> tuple:
    """The output shape of a product of activations a and b: the same shapes, or one of them a
    per-channel gate [C, 1, 1] of the other's [C, H, W] (squeeze-and-excitation); else refused."""
    sa, sb = c.tensors[a].shape, c.tensors[b].shape
    if sa == sb:
        return sa
    for big, small in ((sa, sb), (sb, sa)):
        if len(big) == 3 and tuple(small) == (big[0], 1, 1):
            return big
    c.m.node_fail(node, f"multiplies activations of shapes {list(sa)} and {list(sb)}; sdannc runs a product of "
                        "two activations of one shape, or a per-channel gate [C, 1, 1] of a [C, H, W] tensor")


def _product_head(c: Converter, node, a: str, b: str) -> dict:
    return {"op": MUL, "inputs": [a, b], "attrs": lambda qout: {"zero_point_onnx": qout.zero_point}, "params": {},
            "shape": product_shape(c, node, a, b), "float": node.output[0]}


def _qdq_operand(c: Converter, name: str, node=None):
    """A QDQ operand of a fused QLinearAdd / QLinearMul: a dequantized activation, a dequantized
    scalar constant, or None (given the node, an exact chain of codes is emitted and read)."""
    from .convert import ConstQ
    value = c.floats.get(name)
    if isinstance(value, str):
        return _operand(c, value)
    if isinstance(value, ConstQ) and value.q.size == 1 and value.scale.size == 1:
        dtype = {np.dtype(np.uint8): "uint8", np.dtype(np.int8): "int8"}.get(value.q.dtype)
        if dtype is not None:
            return _const_operand(value.q, float(value.scale.reshape(-1)[0]), int(value.zero_point.reshape(-1)[0]),
                                  dtype)
    return None


def _fused_binary(c: Converter, node) -> bool:
    """Whether a QDQ Add / Mul is one onnxruntime fuses into QLinearAdd / QLinearMul (both inputs
    DequantizeLinear, of activations or scalar constants) and is this module's: a Mul of two
    activations, or an Add / Mul of a constant and a unary layer's output."""
    if node.op_type not in ("Add", "Mul") or len(node.input) != 2:
        return False
    values = [c.floats.get(name) for name in node.input]
    if node.op_type == "Mul" and all(isinstance(v, str) or (isinstance(v, Pending) and v.head is None) for v in values):
        return True  # two activations: a function of one (SiLU), or refused
    operands = [_qdq_operand(c, name) for name in node.input]
    if None in operands:
        return False
    activations = [o for o in operands if o[0] is not None]
    if len(activations) == 2:
        return node.op_type == "Mul"
    return len(activations) == 1 and _tabled(c, c.floats[next(n for n, o in zip(node.input, operands)
                                                              if o[0] is not None)]) is not None


def _mul_of_quantized(c: Converter, node) -> None:
    """QDQ Add / Mul that onnxruntime fuses into QLinearAdd / QLinearMul."""
    for name in node.input:
        if not isinstance(c.floats.get(name), (str, ConstQ)):
            c.m.node_fail(node, f"input {name!r} is a float result (data moves) with no QuantizeLinear: onnxruntime "
                                "multiplies it in float32, which sdannc does not mirror; quantize it first")
    operands = [_qdq_operand(c, name, node) for name in node.input]
    found = _binary(c, node, node.op_type, operands)
    if found is None:  # two independent activations
        a, b = (c.floats[name] for name in node.input)
        if not fused_by_onnxruntime((c.quant_of(a), c.quant_of(b))):
            c.m.node_fail(node, "multiplies two int8 activations in QDQ form, which onnxruntime leaves unfused and "
                                "computes in float32 (dequantized operands), not as QLinearMul: sdannc's product "
                                "neuron mirrors QLinearMul only; quantize with uint8 activations or QOperator form")
        head = _product_head(c, node, a, b)
        c.floats[node.output[0]] = Pending(c.m.node_name(node), head["shape"], head=head)
        return
    x, tables = found
    _pending(c, node, x, None, tables)


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


def _qop_operands(c: Converter, node) -> list:
    """The two operands of a QLinearAdd / QLinearMul: A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp."""
    from .qdq import DTYPES
    from .qop import _inputs, _read
    ins = _inputs(node, 8)
    out = []
    for k in (0, 3):
        if ins[k] in c.m.consts:
            q = np.asarray(c.m.consts[ins[k]])
            if q.size != 1 or q.dtype not in DTYPES:
                return [None, None]
            scale = np.asarray(c.m.consts.get(ins[k + 1], []), dtype=np.float64).reshape(-1)
            zp = np.asarray(c.m.consts.get(ins[k + 2], [0])).reshape(-1)
            if scale.size != 1 or zp.size != 1 or not np.isfinite(scale[0]) or not scale[0] > 0:
                return [None, None]
            scale, zp = scale[0], zp[0]
            out.append(_const_operand(q, float(scale), int(zp), DTYPES[q.dtype]))
        elif ins[k] in c.qmap:
            out.append(_operand(c, _read(c, node, ins[k], ins[k + 1], ins[k + 2])))
        else:
            return [None, None]
    return out


def qop_claims(c: Converter, node) -> bool:
    """QLinearSigmoid, QLinearLeakyRelu: always this module's; QLinearMul of two activations (a
    product) or, as QLinearAdd, of a constant and a unary layer's output (SiLU's x * gate, Gelu's
    1 + erf). A plain layer output times a constant is the frontend's identity layer (qop.on_mul)."""
    if node.domain != "com.microsoft":
        return False
    if node.op_type in ("QLinearSigmoid", "QLinearLeakyRelu"):
        return True
    if node.op_type not in ("QLinearAdd", "QLinearMul") or len(node.input) < 8 or not node.output:
        return False
    if not all(n in c.m.consts or n in c.qmap for n in (node.input[0], node.input[3])):
        return node.op_type == "QLinearMul" and not any(n in c.m.consts for n in (node.input[0], node.input[3]))
    operands = _qop_operands(c, node)
    if node.op_type == "QLinearMul" and not any(n in c.m.consts for n in (node.input[0], node.input[3])):
        return True  # two activations: a product, or a composition of functions of one tensor
    activations = [o for o in operands if o is not None and o[0] is not None]
    return None not in operands and len(activations) == 1 and not np.array_equal(activations[0][1], np.arange(256))


def on_qlinear_binary(c: Converter, node) -> None:
    """QOperator: QLinearMul / QLinearAdd (com.microsoft) of functions of one tensor (or constants)."""
    from .qdq import quant_params
    from .qop import _inputs
    operands = _qop_operands(c, node)
    if None in operands:
        c.m.node_fail(node, "an input is neither a quantized activation nor a scalar quantized constant")
    ins = _inputs(node, 8)
    qout = quant_params(c, node, ins[6], ins[7])
    found = _binary(c, node, node.op_type, operands)
    if found is None:  # two independent activations
        a, b = (c.qmap[ins[k]] for k in (0, 3))
        head = _product_head(c, node, a, b)
        out = node.output[0]
        c.emit(c.m.node_name(node), MUL, [a, b], out, head["shape"], qout,
               {"zero_point_onnx": qout.zero_point, "clamp": (0, CODE_MAX)})
        c.qmap[out] = out
        return
    x, tables = found
    _emit(c, node, x, tables(qout), qout)


QOP_HANDLERS = {"QLinearSigmoid": on_qlinear_unary, "QLinearLeakyRelu": on_qlinear_unary,
                "QLinearMul": on_qlinear_binary, "QLinearAdd": on_qlinear_binary}
