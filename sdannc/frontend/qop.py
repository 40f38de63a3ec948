"""The QOperator format: QLinear* ops (and com.microsoft QGemm, QLinearAdd, ...) on quantized tensors.

Input layouts (onnxruntime's contrib ops):
  QLinearConv   x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp[, B int32]
  QLinearMatMul a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp          (b is [in, out])
  QGemm         A, a_scale, a_zp, B, b_scale, b_zp[, C int32][, y_scale, y_zp]   attrs transA/B, alpha
  QLinearAdd    A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp
  QLinearAveragePool / QLinearGlobalAveragePool   X, x_scale, x_zp, y_scale, y_zp   (channels_last=0)
  QLinearConcat Y_scale, Y_zp, then (X, X_scale, X_zp) per input            attr axis
MaxPool and the data moves run on the codes directly; their output keeps the input's quantization.
"""

from __future__ import annotations

import numpy as np

from ..ir.codes import CODE_MAX, DTYPES, code_offset
from ..ir.ops import ADD, AVGPOOL, CONCAT
from .convert import Converter, Quant
from .layers import check_gemm, linear_head
from .moves import exact_op
from .ops import attrs_of, concat_shape, pool_geometry
from .qdq import quant_params

FULL = (0, CODE_MAX)


def _inputs(node, n: int) -> list[str]:
    return list(node.input) + [""] * (n - len(node.input))


def _const(c: Converter, node, name: str, what: str) -> np.ndarray:
    if name not in c.m.consts:
        c.m.node_fail(node, f"{what} {name!r} is not a constant")
    return np.asarray(c.m.consts[name])


def _read(c: Converter, node, x: str, scale: str, zp: str) -> str:
    known = c.dtypes.get(c.qmap.get(x, ""), "") or None
    return c.check_quant(node, x, quant_params(c, node, scale, zp, known))


def _emit_head(c: Converter, node, head: dict, quant: Quant, clamp=FULL) -> None:
    out = node.output[0]
    attrs = dict(head["attrs"], **({"clamp": clamp} if head["op"] != CONCAT else {}))
    c.emit(c.m.node_name(node), head["op"], head["inputs"], out, head["shape"], quant, attrs, head["params"])
    c.qmap[out] = out


def on_conv(c: Converter, node) -> None:
    ins = _inputs(node, 9)
    x = _read(c, node, ins[0], ins[1], ins[2])
    w = _const(c, node, ins[3], "weight")
    wz = _const(c, node, ins[5], "weight zero point") if ins[5] else None
    bias = {"bias": _const(c, node, ins[8], "bias")} if ins[8] else {}
    head = linear_head(c, node, x, w, _const(c, node, ins[4], "weight scale"), wz, 0, False, "conv",
                       attrs_of(node), **bias)
    _emit_head(c, node, head, quant_params(c, node, ins[6], ins[7]))


def on_matmul(c: Converter, node) -> None:
    ins = _inputs(node, 8)
    if ins[0] in c.m.consts or ins[3] not in c.m.consts:
        c.m.node_fail(node, "only activation x constant weight products are supported")
    x = _read(c, node, ins[0], ins[1], ins[2])
    wz = _const(c, node, ins[5], "weight zero point") if ins[5] else None
    head = linear_head(c, node, x, _const(c, node, ins[3], "weight"), _const(c, node, ins[4], "weight scale"),
                       wz, 1, True, "dense")
    _emit_head(c, node, head, quant_params(c, node, ins[6], ins[7]))


def on_gemm(c: Converter, node) -> None:
    ins = _inputs(node, 9)
    if not ins[7]:
        c.m.node_fail(node, "has a float output (no y_scale); sdannc needs a quantized output")
    trans_b = check_gemm(c, node, attrs_of(node), bool(ins[6]))
    x = _read(c, node, ins[0], ins[1], ins[2])
    wz = _const(c, node, ins[5], "weight zero point") if ins[5] else None
    bias = {"bias": _const(c, node, ins[6], "bias")} if ins[6] else {}
    head = linear_head(c, node, x, _const(c, node, ins[3], "weight"), _const(c, node, ins[4], "weight scale"),
                       wz, 0 if trans_b else 1, not trans_b, "dense", **bias)
    _emit_head(c, node, head, quant_params(c, node, ins[7], ins[8]))


def on_add(c: Converter, node) -> None:
    ins = _inputs(node, 8)
    out_quant = quant_params(c, node, ins[6], ins[7])
    consts = [ins[i] in c.m.consts for i in (0, 3)]
    if all(consts):
        c.m.node_fail(node, "adds two constants")
    if any(consts):  # activation + constant: a bias added to a layer's quantized output (rounded twice)
        x, real = _activation_and_constant(c, node, ins, consts)
        _emit_head(c, node, c.constant_add(node, x, real), out_quant)
        return
    a = _read(c, node, ins[0], ins[1], ins[2])
    b = _read(c, node, ins[3], ins[4], ins[5])
    shape = c.tensors[a].shape
    if c.tensors[b].shape != shape:
        c.m.node_fail(node, f"broadcasting {list(shape)} + {list(c.tensors[b].shape)} is not supported")
    uint8 = out_quant.dtype == "uint8" and all(c.dtypes.get(x) == "uint8" for x in (a, b))  # requantize.add_search
    _emit_head(c, node, {"op": ADD, "inputs": [a, b], "attrs": {"float32_add": True} if uint8 else {}, "params": {},
                         "shape": shape}, out_quant)


def _activation_and_constant(c: Converter, node, ins, consts) -> tuple[str, np.ndarray]:
    """Of a QLinearAdd / QLinearMul with one constant operand: the activation's tensor and the
    constant's real values (dequantized with its own scale and zero point)."""
    k = 0 if consts[1] else 3
    j = 3 - k
    x = _read(c, node, ins[k], ins[k + 1], ins[k + 2])
    q = _const(c, node, ins[j], "operand").astype(np.float64)
    zp = _const(c, node, ins[j + 2], "zero point").astype(np.float64) if ins[j + 2] else 0.0
    return x, (q - zp) * float(_const(c, node, ins[j + 1], "scale").reshape(-1)[0])


def on_mul(c: Converter, node) -> None:
    """QLinearMul (A, A_scale, A_zp, B, B_scale, B_zp, C_scale, C_zp) with one constant operand."""
    ins = _inputs(node, 8)
    consts = [ins[i] in c.m.consts for i in (0, 3)]
    if consts.count(True) != 1:
        c.m.node_fail(node, "multiplies two activations; sdannc supports a product with a constant"
                      if not any(consts) else "multiplies two constants")
    x, real = _activation_and_constant(c, node, ins, consts)
    _emit_head(c, node, c.scale_head(node, x, real, node.output[0]), quant_params(c, node, ins[6], ins[7]))


def on_pool(c: Converter, node) -> None:
    ins = _inputs(node, 5)
    attrs = attrs_of(node)
    if attrs.get("channels_last", 0):
        c.m.node_fail(node, "channels_last=1 is not supported")
    x = _read(c, node, ins[0], ins[1], ins[2])
    geo, shape = pool_geometry(node.op_type, attrs, c.tensors[x].shape, lambda w: c.m.node_fail(node, w))
    quant = quant_params(c, node, ins[3], ins[4])
    if node.op_type == "QLinearAveragePool" and c.dtypes.get(x) in DTYPES:  # its float32 kernel (lower_pools)
        geo = {**geo, "float32_pool": (code_offset(c.dtypes[x]), code_offset(quant.dtype), "fused")}
    _emit_head(c, node, {"op": AVGPOOL, "inputs": [x], "attrs": geo, "params": {}, "shape": shape}, quant)


def on_concat(c: Converter, node) -> None:
    ins = list(node.input)
    if len(ins) < 5 or (len(ins) - 2) % 3:
        c.m.node_fail(node, f"has {len(ins)} inputs; expected Y_scale, Y_zero_point and triples")
    xs = [_read(c, node, ins[i], ins[i + 1], ins[i + 2]) for i in range(2, len(ins), 3)]
    shape, axis = concat_shape([c.tensors[x].shape for x in xs], int(attrs_of(node).get("axis", 0)),
                               lambda w: c.m.node_fail(node, w))
    _emit_head(c, node, {"op": CONCAT, "inputs": xs, "attrs": {"axis": axis}, "params": {}, "shape": shape},
               quant_params(c, node, ins[0], ins[1]))


def on_exact(c: Converter, node) -> None:
    """MaxPool or a data move on quantized codes: the output keeps the input's quantization."""
    x = c.qmap[node.input[0]]
    fail = lambda what: c.m.node_fail(node, what)  # noqa: E731
    for k, out in enumerate(node.output if node.op_type == "Split" else node.output[:1]):
        op, attrs, shape, params = exact_op(node, attrs_of(node), c.tensors[x].shape, c.m.consts, fail, k)
        if "pad_value" in params:  # on codes, the pad value is a code of the input's type: as a real value
            q = c.quant_of(x)
            params["pad_value"] = np.asarray((float(params["pad_value"]) - q.zero_point) * q.scale)
        c.emit(c.m.node_name(node), op, [x], out, shape, c.quant_of(x), attrs, params)
        c.qmap[out] = out


HANDLERS = {
    "QLinearConv": on_conv,
    "QLinearMatMul": on_matmul,
    "QGemm": on_gemm,
    "QLinearAdd": on_add,
    "QLinearMul": on_mul,
    "QLinearAveragePool": on_pool,
    "QLinearGlobalAveragePool": on_pool,
    "QLinearConcat": on_concat,
}
