"""Small float ONNX models, one per frontend pattern of issue 12 (the ops the torchvision
architectures bring), for tests/frontend/test_frontend_ops.py. Inputs [N, 1, 8, 8] (the digits)."""

from __future__ import annotations

import numpy as np
from onnx import helper

from models import _Builder

SEED = 12


def _ints(*values) -> np.ndarray:
    return np.array(values, np.int64)


def reduce_mean(opset: int = 13, keepdims: int = 0, axes=(2, 3)):
    """Conv -> Relu -> ReduceMean over axes -> (Flatten) -> Gemm: torch's default exporter's global
    average pool (opset 18 takes the axes as an input)."""
    b = _Builder(SEED)
    h = b.node("Relu", [b.conv("input", "conv1", 1, 6, pads=[1, 1, 1, 1])], "relu1")
    if opset >= 18:
        h = b.node("ReduceMean", [h, b.const("axes", _ints(*axes))], "mean", keepdims=keepdims)
    else:
        h = b.node("ReduceMean", [h], "mean", axes=list(axes), keepdims=keepdims)
    if keepdims or len(axes) < 2:
        h = b.node("Flatten", [h], "flatten", axis=1)
    n = 6 * (1 if 2 in axes else 8) * (1 if 3 in axes else 8)
    out = b.gemm(h, "fc", n, 10)
    return b.model(f"reduce_mean_{opset}_{keepdims}_{len(axes)}", ["N", 1, 8, 8], out, ["N", 10], opset=opset)


def input_flatten():
    """nn.Flatten() on the image input, then an MLP: onnxruntime leaves the Flatten on the float input."""
    b = _Builder(SEED)
    h = b.node("Flatten", ["input"], "flatten", axis=1)
    h = b.node("Relu", [b.gemm(h, "fc1", 64, 32)], "relu1")
    out = b.gemm(h, "fc2", 32, 10)
    return b.model("input_flatten", ["N", 1, 8, 8], out, ["N", 10])


def input_reshape_transpose():
    """Reshape and Transpose of the float input ahead of its quantization, then a Conv."""
    b = _Builder(SEED)
    h = b.node("Transpose", ["input"], "transpose", perm=[0, 1, 3, 2])
    h = b.node("Reshape", [h, b.const("shape", _ints(-1, 2, 8, 4))], "reshape")
    h = b.node("Relu", [b.conv(h, "conv1", 2, 4, pads=[1, 1, 1, 1])], "relu1")
    h = b.node("Flatten", [h], "flatten", axis=1)
    out = b.gemm(h, "fc", 4 * 8 * 4, 10)
    return b.model("input_moves", ["N", 1, 8, 8], out, ["N", 10])


def ceil_pools(average: bool = True):
    """MaxPool 3x3 stride 2 and AveragePool 3x3 stride 2 (count_include_pad=0), both ceil_mode=1
    where ceil gives one more row and column than floor (SqueezeNet's pools)."""
    b = _Builder(SEED)
    h = b.node("Relu", [b.conv("input", "conv1", 1, 4, pads=[1, 1, 1, 1])], "relu1")  # [4, 8, 8]
    h = b.node("MaxPool", [h], "maxpool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)  # [4, 4, 4]
    h = b.node("Relu", [b.conv(h, "conv2", 4, 6, pads=[1, 1, 1, 1])], "relu2")
    if average:
        h = b.node("AveragePool", [h], "avgpool", kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)  # [6, 2, 2]
    else:
        h = b.node("MaxPool", [h], "maxpool2", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 0, 0], ceil_mode=1)
    h = b.node("Flatten", [h], "flatten", axis=1)
    out = b.gemm(h, "fc", 6 * 2 * 2, 10)
    return b.model("ceil_pools" if average else "ceil_maxpools", ["N", 1, 8, 8], out, ["N", 10])


def split_shuffle(opset: int = 13):
    """ShuffleNetV2's unit: a channel Split, one half through convs, Concat, then the channel shuffle
    (Reshape -> Transpose -> Reshape); a spatial Slice with a step; Gemm."""
    b = _Builder(SEED)
    h = b.node("Relu", [b.conv("input", "conv1", 1, 8, pads=[1, 1, 1, 1])], "relu1")  # [8, 8, 8]
    b.nodes.append(helper.make_node("Split", [h, b.const("split", _ints(4, 4))], ["left", "right"], name="split",
                                    axis=1))
    right = b.node("Relu", [b.conv("right", "conv2", 4, 4, pads=[1, 1, 1, 1])], "relu2")
    h = b.node("Concat", ["left", right], "concat", axis=1)
    h = b.node("Reshape", [h, b.const("shape1", _ints(-1, 2, 4, 8, 8))], "reshape1")
    h = b.node("Transpose", [h], "shuffle", perm=[0, 2, 1, 3, 4])
    h = b.node("Reshape", [h, b.const("shape2", _ints(-1, 8, 8, 8))], "reshape2")
    h = b.node("Slice", [h, b.const("starts", _ints(1, 0)), b.const("ends", _ints(8, 100)),
                         b.const("axes", _ints(2, 3)), b.const("steps", _ints(2, 3))], "slice")  # [8, 4, 3]
    h = b.node("Relu", [b.conv(h, "conv3", 8, 4, k=1)], "relu3")
    h = b.node("Flatten", [h], "flatten", axis=1)
    out = b.gemm(h, "fc", 4 * 4 * 3, 10)
    return b.model("split_shuffle", ["N", 1, 8, 8], out, ["N", 10])


def resize_nearest(mode: str = "asymmetric"):
    """A 2x nearest upsampling (Tiny-YOLO's neck) between two convolutions."""
    b = _Builder(SEED)
    h = b.node("Relu", [b.conv("input", "conv1", 1, 4, strides=[2, 2], pads=[1, 1, 1, 1])], "relu1")  # [4, 4, 4]
    scales = b.const("scales", np.array([1, 1, 2, 2], np.float32))
    h = b.node("Resize", [h, "", scales], "resize", mode="nearest", coordinate_transformation_mode=mode,
               nearest_mode="floor" if mode == "asymmetric" else "round_prefer_floor")  # [4, 8, 8]
    h = b.node("Relu", [b.conv(h, "conv2", 4, 4, pads=[1, 1, 1, 1])], "relu2")
    h = b.node("Flatten", [h], "flatten", axis=1)
    out = b.gemm(h, "fc", 4 * 8 * 8, 10)
    return b.model(f"resize_{mode}", ["N", 1, 8, 8], out, ["N", 10])


def clip_bounds(lo: float = 0.05, hi: float = 0.4):
    """Clip at bounds of its own (not 0 and 6) after a Conv and after a pool."""
    b = _Builder(SEED)
    h = b.conv("input", "conv1", 1, 4, pads=[1, 1, 1, 1])
    h = b.node("Clip", [h, b.const("lo", np.float32(lo)), b.const("hi", np.float32(hi))], "clip1")
    h = b.node("MaxPool", [h], "maxpool", kernel_shape=[2, 2], strides=[2, 2])
    h = b.node("Clip", [h, b.const("lo2", np.float32(lo * 2)), b.const("hi2", np.float32(hi * 0.75))], "clip2")
    h = b.node("Flatten", [h], "flatten", axis=1)
    out = b.gemm(h, "fc", 4 * 4 * 4, 10)
    return b.model("clip_bounds", ["N", 1, 8, 8], out, ["N", 10])


def scale_by_constant(op: str = "Mul", per_channel: bool = False):
    """Conv -> Relu -> Mul or Div by a constant (one value, or one per channel, one of them
    negative) -> Conv: onnxruntime's QLinearMul (Mul) or a float Div between DequantizeLinear and
    QuantizeLinear."""
    b = _Builder(SEED)
    h = b.node("Relu", [b.conv("input", "conv1", 1, 4, pads=[1, 1, 1, 1])], "relu1")
    k = np.array([0.5, 1.5, -2.0, 0.25], np.float32).reshape(1, 4, 1, 1) if per_channel else np.float32(1.7)
    h = b.node(op, [h, b.const("k", k)], "scale")
    h = b.node("Relu", [b.conv(h, "conv2", 4, 4, pads=[1, 1, 1, 1])], "relu2")
    h = b.node("Flatten", [h], "flatten", axis=1)
    out = b.gemm(h, "fc", 4 * 64, 10)
    return b.model(f"{op.lower()}_{'channels' if per_channel else 'scalar'}", ["N", 1, 8, 8], out, ["N", 10])


def pad(mode: str = "constant", value: float = 0.0):
    """Conv -> Relu -> Pad (a ring of one, two at the bottom/right) -> Conv without pads: constant
    padding with 0 (code 0 after a uint8 Relu), or edge / reflect copies."""
    b = _Builder(SEED)
    h = b.node("Relu", [b.conv("input", "conv1", 1, 4, pads=[1, 1, 1, 1])], "relu1")  # [4, 8, 8]
    inputs = [h, b.const("pads", _ints(0, 0, 1, 1, 0, 0, 2, 2))]
    if mode == "constant":
        inputs.append(b.const("value", np.float32(value)))
    h = b.node("Pad", inputs, "pad", mode=mode)  # [4, 11, 11]
    h = b.node("Relu", [b.conv(h, "conv2", 4, 4)], "relu2")  # [4, 9, 9]
    h = b.node("Flatten", [h], "flatten", axis=1)
    out = b.gemm(h, "fc", 4 * 81, 10)
    return b.model(f"pad_{mode}", ["N", 1, 8, 8], out, ["N", 10])


PATTERNS = {
    "reduce_mean": reduce_mean,
    "reduce_mean_keepdims": lambda: reduce_mean(keepdims=1),
    "reduce_mean_opset18": lambda: reduce_mean(opset=18),
    "reduce_mean_width": lambda: reduce_mean(axes=(3,), keepdims=1),
    "input_flatten": input_flatten,
    "input_moves": input_reshape_transpose,
    "ceil_pools": ceil_pools,
    "ceil_maxpools": lambda: ceil_pools(average=False),
    "split_shuffle": split_shuffle,
    "resize_asymmetric": resize_nearest,
    "resize_half_pixel": lambda: resize_nearest("half_pixel"),
    "clip_bounds": clip_bounds,
    "mul_scalar": scale_by_constant,
    "mul_channels": lambda: scale_by_constant(per_channel=True),
    "div_scalar": lambda: scale_by_constant("Div"),
    "div_channels": lambda: scale_by_constant("Div", per_channel=True),
    "pad_constant": pad,
    "pad_edge": lambda: pad("edge"),
    "pad_reflect": lambda: pad("reflect"),
}
