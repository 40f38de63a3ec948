"""Models with unary activations (test helper): hand-built single-activation graphs on raw codes
(every one of the 256 codes through one activation, QDQ and QOperator forms), and small PyTorch
networks (conv, activation, conv, activation, dense; a Tiny-YOLO; MobileNetV3 / EfficientNet-style
blocks) exported by torch.onnx's legacy exporter and by its default (dynamo) one, then quantized
by onnxruntime's quantizer."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from models import quantize
from torch_models import set_batchnorm

NP = {"uint8": np.uint8, "int8": np.int8}
ONNX_TYPE = {"uint8": TensorProto.UINT8, "int8": TensorProto.INT8}
MS = "com.microsoft"


# ---- one activation on raw codes -------------------------------------------------------------------

class _Graph:
    def __init__(self, dtype: str):
        self.dtype, self.nodes, self.inits, self.k = dtype, [], [], 0

    def const(self, value, dtype=None) -> str:
        self.k += 1
        name = f"c{self.k}"
        self.inits.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def zp(self, value: int) -> str:
        return self.const(value, NP[self.dtype])

    def node(self, op: str, inputs, domain: str = "", name: str = "", **attrs) -> str:
        self.k += 1
        out = f"{op.lower()}{self.k}"
        self.nodes.append(helper.make_node(op, list(inputs), [out], name=name or f"{op}_{self.k}", domain=domain,
                                           **attrs))
        return out

    def q(self, f: str, scale: float, zp: int) -> str:
        return self.node("QuantizeLinear", [f, self.const(np.float32(scale)), self.zp(zp)])

    def dq(self, q: str, scale: float, zp: int) -> str:
        return self.node("DequantizeLinear", [q, self.const(np.float32(scale)), self.zp(zp)])

    def model(self, out: str, n: int = 256) -> onnx.ModelProto:
        g = helper.make_graph(self.nodes, "act", [helper.make_tensor_value_info("x", ONNX_TYPE[self.dtype], ["N", n])],
                              [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", n])], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 20), helper.make_opsetid(MS, 1)])
        m.ir_version = 9
        return m


def all_codes(dtype: str) -> np.ndarray:
    """Every code once, as the model's input [1, 256]."""
    lo = -128 if dtype == "int8" else 0
    return np.arange(lo, lo + 256).astype(NP[dtype]).reshape(1, 256)


# (op, attrs) of the ONNX unary ops, and ranges of real inputs that exercise their shapes
UNARY = {
    "Sigmoid": {}, "Tanh": {}, "HardSigmoid": {"alpha": 0.25, "beta": 0.4}, "HardSwish": {},
    "LeakyRelu": {"alpha": 0.1}, "Elu": {"alpha": 0.7}, "Gelu": {}, "Softplus": {},
}


def unary_qdq(op: str, dtype: str, sx: float, zx: int, sy: float, zy: int) -> onnx.ModelProto:
    """x codes -> DequantizeLinear -> op -> QuantizeLinear -> DequantizeLinear."""
    g = _Graph(dtype)
    y = g.node(op, [g.dq("x", sx, zx)], **UNARY.get(op, {}))
    return g.model(g.dq(g.q(y, sy, zy), sy, zy))


def unary_qop(op: str, dtype: str, sx: float, zx: int, sy: float, zy: int, **attrs) -> onnx.ModelProto:
    """x codes -> QLinearSigmoid / QLinearLeakyRelu -> DequantizeLinear."""
    g = _Graph(dtype)
    y = g.node(op, ["x", g.const(np.float32(sx)), g.zp(zx), g.const(np.float32(sy)), g.zp(zy)], domain=MS, **attrs)
    return g.model(g.dq(y, sy, zy))


def silu_qdq(dtype: str, sx, zx, ss, zs, sy, zy, gate: str = "Sigmoid") -> onnx.ModelProto:
    """x * Sigmoid(x) (or HardSigmoid: HardSwish) as onnxruntime's quantizer leaves it: the gate
    quantized, then a Mul of the two dequantized activations."""
    g = _Graph(dtype)
    x = g.dq("x", sx, zx)
    s = g.dq(g.q(g.node(gate, [x]), ss, zs), ss, zs)
    return g.model(g.dq(g.q(g.node("Mul", [g.dq("x", sx, zx), s]), sy, zy), sy, zy))


def silu_qop(dtype: str, sx, zx, ss, zs, sy, zy) -> onnx.ModelProto:
    """QLinearSigmoid, then QLinearMul of x and the gate."""
    g = _Graph(dtype)
    s = g.node("QLinearSigmoid", ["x", g.const(np.float32(sx)), g.zp(zx), g.const(np.float32(ss)), g.zp(zs)], domain=MS)
    y = g.node("QLinearMul", ["x", g.const(np.float32(sx)), g.zp(zx), s, g.const(np.float32(ss)), g.zp(zs),
                              g.const(np.float32(sy)), g.zp(zy)], domain=MS)
    return g.model(g.dq(y, sy, zy))


def product_qdq(dtype: str, requantized: bool = True) -> onnx.ModelProto:
    """A Mul of two activations that are not functions of one another (the input and its
    transpose), the transpose quantized again before the Mul as onnxruntime's quantizer does (or not)."""
    g = _Graph(dtype)
    a = g.dq("x", 0.05, 3)
    r = g.node("Reshape", [g.dq("x", 0.05, 3), g.const(np.asarray([1, 16, 16], np.int64))])
    r = g.node("Transpose", [r], perm=[0, 2, 1])
    r = g.node("Reshape", [r, g.const(np.asarray([1, 256], np.int64))])
    if requantized:
        r = g.dq(g.q(r, 0.05, 3), 0.05, 3)
    y = g.node("Mul", [a, r], name="the_product")
    return g.model(g.dq(g.q(y, 0.1, 0), 0.1, 0))


# ---- PyTorch networks --------------------------------------------------------------------------

def _torch():
    import torch
    return torch


def activation(name: str):
    nn = _torch().nn
    return {"sigmoid": nn.Sigmoid(), "tanh": nn.Tanh(), "hardsigmoid": nn.Hardsigmoid(), "hardswish": nn.Hardswish(),
            "leakyrelu": nn.LeakyReLU(0.1), "elu": nn.ELU(), "gelu": nn.GELU(), "softplus": nn.Softplus(),
            "silu": nn.SiLU()}[name]


ACTIVATIONS = ("sigmoid", "tanh", "hardsigmoid", "hardswish", "leakyrelu", "elu", "gelu", "softplus", "silu")


def small_net(name: str):
    """conv 3x3 (1 -> 4), activation, conv 3x3 (4 -> 4), activation, dense (256 -> 10), on 8 x 8."""
    torch = _torch()

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.c2 = torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.Conv2d(4, 4, 3, padding=1)
            self.act, self.fc = activation(name), torch.nn.Linear(4 * 8 * 8, 10)

        def forward(self, x):
            return self.fc(self.act(self.c2(self.act(self.c1(x)))).flatten(1))

    torch.manual_seed(0)
    return Net().eval()


# Tiny-YOLOv2's widths (VOC): 16 .. 512 with a 2x2 max pool after each, then 1024, 1024 and a 1x1
# head of 5 boxes x (5 + 20 classes); "small": the same shape, narrower
YOLO_WIDTHS = {"full": ((16, 32, 64, 128, 256, 512), (1024, 1024), 5 * 25),
               "small": ((8, 16, 32, 64), (64,), 5 * (5 + 3))}


def tiny_yolo(size: int = 64, widths: str = "small"):
    """Tiny-YOLO: a VGG-like backbone of 3x3 convs with BatchNorm and LeakyReLU(0.1), 2x2 max pools
    (none once the grid is 2 x 2), then 3x3 convs and a dense detection head (a 1x1 conv per cell)."""
    torch = _torch()
    nn = torch.nn
    pooled, tail, head = YOLO_WIDTHS[widths]
    layers, cin, side = [], 3, size
    for cout in pooled + tail:
        layers += [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.1)]
        if cout in pooled and side > 2:
            layers.append(nn.MaxPool2d(2))
            side //= 2
        cin = cout
    layers.append(nn.Conv2d(cin, head, 1))
    torch.manual_seed(0)
    return nn.Sequential(*layers).eval()


def mobile_block(kind: str, se: bool):
    """A MobileNetV3 (HardSwish) or EfficientNet (SiLU) inverted-residual block on 3 x 16 x 16:
    stem conv, 1x1 expansion, depthwise 3x3, optional squeeze-and-excitation, 1x1 projection,
    residual add, pooled classifier."""
    torch = _torch()
    nn = torch.nn
    act = nn.Hardswish if kind == "mobilenetv3" else nn.SiLU
    gate = nn.Hardsigmoid if kind == "mobilenetv3" else nn.Sigmoid

    class SE(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.pool, self.fc1, self.fc2 = nn.AvgPool2d(16), nn.Conv2d(c, c // 4, 1), nn.Conv2d(c // 4, c, 1)
            self.act, self.gate = nn.ReLU(), gate()

        def forward(self, x):
            return x * self.gate(self.fc2(self.act(self.fc1(self.pool(x)))))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), act())
            self.expand = nn.Sequential(nn.Conv2d(8, 16, 1), act())
            self.dw = nn.Sequential(nn.Conv2d(16, 16, 3, padding=1, groups=16), act())
            self.se = SE(16) if se else nn.Identity()
            self.project = nn.Conv2d(16, 8, 1)
            self.head = nn.Sequential(nn.AvgPool2d(16), nn.Flatten(), nn.Linear(8, 10))

        def forward(self, x):
            x = self.stem(x)
            return self.head(x + self.project(self.se(self.dw(self.expand(x)))))

    torch.manual_seed(0)
    return Block().eval()


def export(net, shape: tuple, path: Path, dynamo: bool) -> onnx.ModelProto:
    """torch.onnx.export, the legacy exporter (opset 13, a dynamic batch) or the default one
    (dynamo=True, opset 18, a fixed batch of 1)."""
    torch = _torch()
    x = torch.zeros(1, *shape)
    if dynamo:
        torch.onnx.export(net, (x,), str(path), input_names=["input"], output_names=["out"], opset_version=18,
                          dynamo=True, verbose=False)
    else:
        torch.onnx.export(net, (x,), str(path), input_names=["input"], output_names=["out"], opset_version=13,
                          dynamic_axes={"input": {0: "N"}, "out": {0: "N"}}, dynamo=False)
    return onnx.load(path)


def inputs(shape: tuple, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, *shape)).astype(np.float32)


@functools.lru_cache(maxsize=None)
def quantized_net(builder: str, arg: str, fmt: str = "qdq", act_type: str = "uint8", dynamo: bool = False,
                  shape: tuple = (1, 8, 8), se: bool = False) -> Path:
    """A quantized PyTorch network, built once per process: builder "small" (arg: activation),
    "tiny_yolo" / "tiny_yolo_full" (arg: the input size), "mobile" (arg: mobilenetv3 | efficientnet; se)."""
    net = {"small": lambda: small_net(arg), "tiny_yolo": lambda: tiny_yolo(int(arg), "small"),
           "tiny_yolo_full": lambda: tiny_yolo(int(arg), "full"),
           "mobile": lambda: mobile_block(arg, se)}[builder]()
    folder = Path(tempfile.mkdtemp(prefix=f"sdannc-{builder}-{arg}-"))
    if builder.startswith("tiny_yolo"):
        set_batchnorm(net, inputs(shape, 32, 1))
    model = export(net, shape, folder / "float.onnx", dynamo)
    model.graph.name = f"{builder}_{arg}{'_se' if se else ''}{'_dynamo' if dynamo else ''}"
    return quantize(model, inputs(shape, 32, 2), fmt, False, act_type, out_dir=folder)
