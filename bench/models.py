"""Benchmark models: VGG-11 at 32x32 and ResNet-18 at 64x64, random weights, quantized by onnxruntime."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from sdannc.quantization import quantize_model


class NetBuilder:
    def __init__(self, name: str, input_shape, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.name, self.nodes, self.inits = name, [], []
        self.shape = {"x": tuple(input_shape)}
        self.count = 0

    def _init(self, name, array):
        self.inits.append(helper.make_tensor(name, TensorProto.FLOAT, array.shape, array.astype(np.float32).ravel()))

    def _fresh(self, kind):
        self.count += 1
        return f"{kind}{self.count}"

    def conv(self, x, cout, k=3, stride=1, relu=True):
        c, h, w = self.shape[x][1:]
        name = self._fresh("conv")
        self._init(f"{name}_w", self.rng.normal(0, np.sqrt(2 / (c * k * k)), (cout, c, k, k)))
        self._init(f"{name}_b", self.rng.normal(0, 0.05, cout))
        pad = k // 2
        self.nodes.append(helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [name], name=name,
                                           kernel_shape=[k, k], pads=[pad] * 4, strides=[stride, stride]))
        self.shape[name] = (1, cout, (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1)
        return self.relu(name) if relu else name

    def relu(self, x):
        name = self._fresh("relu")
        self.nodes.append(helper.make_node("Relu", [x], [name], name=name))
        self.shape[name] = self.shape[x]
        return name

    def maxpool(self, x, k=2, stride=2, pad=0):
        name = self._fresh("pool")
        self.nodes.append(helper.make_node("MaxPool", [x], [name], name=name, kernel_shape=[k, k],
                                           strides=[stride, stride], pads=[pad] * 4))
        n, c, h, w = self.shape[x]
        self.shape[name] = (n, c, (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1)
        return name

    def add(self, a, b):
        name = self._fresh("add")
        self.nodes.append(helper.make_node("Add", [a, b], [name], name=name))
        self.shape[name] = self.shape[a]
        return self.relu(name)

    def gap_flatten(self, x):
        name = self._fresh("gap")
        self.nodes.append(helper.make_node("GlobalAveragePool", [x], [name], name=name))
        flat = self._fresh("flat")
        self.nodes.append(helper.make_node("Flatten", [name], [flat], name=flat))
        self.shape[flat] = (1, self.shape[x][1])
        return flat

    def flatten(self, x):
        flat = self._fresh("flat")
        self.nodes.append(helper.make_node("Flatten", [x], [flat], name=flat))
        self.shape[flat] = (1, int(np.prod(self.shape[x][1:])))
        return flat

    def gemm(self, x, n, relu=True):
        name = self._fresh("fc")
        k = self.shape[x][1]
        self._init(f"{name}_w", self.rng.normal(0, np.sqrt(2 / k), (n, k)))
        self._init(f"{name}_b", self.rng.normal(0, 0.05, n))
        self.nodes.append(helper.make_node("Gemm", [x, f"{name}_w", f"{name}_b"], [name], name=name, transB=1))
        self.shape[name] = (1, n)
        return self.relu(name) if relu else name

    def model(self, out) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name,
                                  [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", *self.shape["x"][1:]])],
                                  [helper.make_tensor_value_info(out, TensorProto.FLOAT, ["N", self.shape[out][1]])],
                                  self.inits)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        model.ir_version = 8
        return model


def _vgg(name: str, size: int, stages, hidden: int, classes: int) -> onnx.ModelProto:
    """A VGG: 3x3 convolutions in stages, each stage ending in a 2x2 max pool, then three dense layers."""
    b = NetBuilder(name, (1, 3, size, size))
    h = "x"
    for stage in stages:
        for c in stage:
            h = b.conv(h, c)
        h = b.maxpool(h)
    h = b.gemm(b.flatten(h), hidden)
    h = b.gemm(h, hidden)
    return b.model(b.gemm(h, classes, relu=False))


def vgg11() -> onnx.ModelProto:
    return _vgg("vgg11_32", 32, ((64,), (128,), (256, 256), (512, 512), (512, 512)), 512, 10)


def vgg16(size: int = 224) -> onnx.ModelProto:
    """VGG-16 at size x size with 1000 classes (the smaller sizes profile the compile of the full one)."""
    return _vgg(f"vgg16_{size}", size, ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512)),
                4096, 1000)


def vgg16_224() -> onnx.ModelProto:
    """VGG-16 at 224 x 224 with 1000 classes (138 M weights): far too large for one darwin3 chip."""
    return vgg16(224)


def wide224() -> onnx.ModelProto:
    """Two 3x3 convolutions (3 -> 16 -> 64 channels) at 224 x 224, global average pool, FC 10: 4 M
    neurons from 10 k weights (the case of tests/compiler/test_capacity.py)."""
    b = NetBuilder("wide224", (1, 3, 224, 224))
    h = b.conv(b.conv("x", 16), 64)
    return b.model(b.gemm(b.gap_flatten(h), 10, relu=False))


def resnet18(size: int = 64, classes: int = 10) -> onnx.ModelProto:
    """The ImageNet ResNet-18 (stem: 7x7 stride-2 convolution, 3x3 stride-2 max pool; 4 stages of 2
    basic blocks; 1x1 stride-2 projection shortcuts) at 64 x 64, with 10 classes (the defaults)."""
    b = NetBuilder(f"resnet18_{size}", (1, 3, size, size))
    h = b.maxpool(b.conv("x", 64, k=7, stride=2), k=3, stride=2, pad=1)
    channels = 64
    for stage, c in enumerate((64, 128, 256, 512)):
        for block in range(2):
            stride = 2 if stage > 0 and block == 0 else 1
            y = b.conv(b.conv(h, c, stride=stride), c, relu=False)
            skip = b.conv(h, c, k=1, stride=stride, relu=False) if stride != 1 or c != channels else h
            h = b.add(y, skip)
            channels = c
    return b.model(b.gemm(b.gap_flatten(h), classes, relu=False))


def resnet18_224() -> onnx.ModelProto:
    """ResNet-18 as on ImageNet: 224 x 224, 1000 classes (11.7 M weights; 5.2 M neurons on the chip)."""
    return resnet18(224, 1000)


def quantized(model: onnx.ModelProto, folder: Path, samples: int = 8) -> tuple[Path, np.ndarray]:
    folder.mkdir(parents=True, exist_ok=True)
    # The file names carry a digest of the float model, so that changing a model never reuses a stale file.
    stem = f"{model.graph.name}_{hashlib.sha256(model.SerializeToString()).hexdigest()[:10]}"
    src, calib, out = folder / f"{stem}.onnx", folder / f"{stem}_calib.npy", folder / f"{stem}_q.onnx"
    x = np.random.default_rng(1).uniform(0, 1, (samples,) + tuple(d.dim_value or 1 for d in
                                                                  model.graph.input[0].type.tensor_type.shape.dim[1:]))
    if not out.exists():
        onnx.save(model, src)
        np.save(calib, x.astype(np.float32))
        quantize_model(src, calib, out)
    return out, x.astype(np.float32)
