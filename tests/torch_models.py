"""Deep networks as people write them in PyTorch, exported to ONNX and quantized by onnxruntime.

Plain modules (the registry's torchvision wheel may not import against the CPU torch): ResNet-18
with the ImageNet stem (7x7 stride 2, max pool) and MobileNetV2, random weights, BatchNorm
statistics set from real images (scikit-learn's digits, upscaled to RGB) so that every layer sees
activations of the spread a trained network's layers see. torch is a test dependency only.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np

from models import as_images, digits_data, quantize

SEED = 0


def _torch():
    import torch

    torch.manual_seed(SEED)
    return torch


def digit_images(size: int, n: int, start: int = 0) -> np.ndarray:
    """n digits from the test split as (n, 3, size, size) float32 in [0, 1], nearest-upscaled."""
    _, _, x_test, _ = digits_data()
    x = as_images(x_test[start:start + n])  # (n, 1, 8, 8)
    reps = -(-size // 8)
    x = np.repeat(np.repeat(x, reps, axis=2), reps, axis=3)[:, :, :size, :size]
    return np.ascontiguousarray(np.repeat(x, 3, axis=1), dtype=np.float32)


def _resnet18(num_classes: int, blocks=(2, 2, 2, 2), stem: str = "imagenet"):
    """stem "imagenet": 7x7 stride 2 and a max pool; "cifar": one 3x3 stride-1 convolution, no pool
    (the CIFAR-10 ResNet-18 of SDANN's Tab. 2, for 32 x 32 inputs)."""
    nn = _torch().nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return self.relu(y + (x if self.down is None else self.down(x)))

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                      nn.MaxPool2d(3, 2, 1)) if stem == "imagenet" else \
                nn.Sequential(nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU())
            layers, cin = [], 64
            for (cout, stride), n in zip(((64, 1), (128, 2), (256, 2), (512, 2)), blocks):
                layers += [Block(cin, cout, stride)] + [Block(cout, cout, 1) for _ in range(n - 1)]
                cin = cout
            self.layers = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x):
            return self.fc(self.pool(self.layers(self.stem(x))).flatten(1))

    return ResNet18()


def _mobilenet_v2(num_classes: int, cifar: bool = False):
    """cifar: the CIFAR-10 form (as pytorch-cifar's MobileNetV2): the stem and the first 24-channel
    block at stride 1, so that a 32 x 32 input keeps its size through them."""
    nn = _torch().nn

    def conv_bn(cin, cout, k, stride, groups=1, relu=True):
        layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        return layers + [nn.ReLU6()] if relu else layers

    class Inverted(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = cin * expand
            layers = conv_bn(cin, hidden, 1, 1) if expand != 1 else []
            layers += conv_bn(hidden, hidden, 3, stride, groups=hidden) + conv_bn(hidden, cout, 1, 1, relu=False)
            self.body = nn.Sequential(*layers)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.body(x) if self.residual else self.body(x)

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            layers, cin = conv_bn(3, 32, 3, 1 if cifar else 2), 32
            for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 1 if cifar else 2), (6, 32, 3, 2), (6, 64, 4, 2),
                               (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
                for i in range(n):
                    layers.append(Inverted(cin, c, s if i == 0 else 1, t))
                    cin = c
            layers += conv_bn(cin, 1280, 1, 1)
            self.features = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(1280, num_classes)

        def forward(self, x):
            return self.classifier(self.pool(self.features(x)).flatten(1))

    return MobileNetV2()


def _resnet34(num_classes: int):
    return _resnet18(num_classes, blocks=(3, 4, 6, 3))


def _squeezenet1_1(num_classes: int):
    """torchvision's SqueezeNet 1.1: Fire modules, MaxPool 3x3 stride 2 with ceil_mode=True, a 1x1
    convolution classifier, adaptive average pooling."""
    torch = _torch()
    nn = torch.nn

    class Fire(nn.Module):
        def __init__(self, cin, squeeze, e1, e3):
            super().__init__()
            self.squeeze = nn.Sequential(nn.Conv2d(cin, squeeze, 1), nn.ReLU())
            self.e1 = nn.Sequential(nn.Conv2d(squeeze, e1, 1), nn.ReLU())
            self.e3 = nn.Sequential(nn.Conv2d(squeeze, e3, 3, padding=1), nn.ReLU())

        def forward(self, x):
            x = self.squeeze(x)
            return torch.cat([self.e1(x), self.e3(x)], 1)

    class SqueezeNet(nn.Module):
        def __init__(self):
            super().__init__()
            pool = functools.partial(nn.MaxPool2d, 3, 2, ceil_mode=True)
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, 3, 2), nn.ReLU(), pool(), Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
                Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(), Fire(256, 48, 192, 192),
                Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))
            self.classifier = nn.Sequential(nn.Conv2d(512, num_classes, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))

        def forward(self, x):
            return torch.flatten(self.classifier(self.features(x)), 1)

    return SqueezeNet()


def _shufflenet_v2(num_classes: int, repeats=(4, 8, 4), channels=(24, 48, 96, 192, 1024)):
    """torchvision's ShuffleNetV2 (x0.5 by default): channel split by chunk, channel shuffle by
    view -> transpose -> view, global pooling as x.mean([2, 3])."""
    torch = _torch()
    nn = torch.nn

    def bn_relu(conv, relu=True):
        return [conv, nn.BatchNorm2d(conv.out_channels)] + ([nn.ReLU()] if relu else [])

    def shuffle(x, groups):
        n, c, h, w = x.shape
        return x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w)

    class Unit(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.stride, half = stride, cout // 2
            if stride > 1:
                self.branch1 = nn.Sequential(*bn_relu(nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), False),
                                             *bn_relu(nn.Conv2d(cin, half, 1, bias=False)))
            self.branch2 = nn.Sequential(
                *bn_relu(nn.Conv2d(cin if stride > 1 else half, half, 1, bias=False)),
                *bn_relu(nn.Conv2d(half, half, 3, stride, 1, groups=half, bias=False), False),
                *bn_relu(nn.Conv2d(half, half, 1, bias=False)))

        def forward(self, x):
            if self.stride == 1:
                x1, x2 = x.chunk(2, dim=1)
                out = torch.cat((x1, self.branch2(x2)), dim=1)
            else:
                out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
            return shuffle(out, 2)

    class ShuffleNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Sequential(*bn_relu(nn.Conv2d(3, channels[0], 3, 2, 1, bias=False)))
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            stages, cin = [], channels[0]
            for n, cout in zip(repeats, channels[1:4]):
                stages += [Unit(cin, cout, 2)] + [Unit(cout, cout, 1) for _ in range(n - 1)]
                cin = cout
            self.stages = nn.Sequential(*stages)
            self.conv5 = nn.Sequential(*bn_relu(nn.Conv2d(cin, channels[4], 1, bias=False)))
            self.fc = nn.Linear(channels[4], num_classes)

        def forward(self, x):
            x = self.conv5(self.stages(self.maxpool(self.conv1(x))))
            return self.fc(x.mean([2, 3]))

    return ShuffleNetV2()


def _regnet_x_400mf(num_classes: int, widths=(32, 64, 160, 400), depths=(1, 2, 7, 12), group_width=16):
    """torchvision's RegNetX-400MF: a 3x3 stride-2 stem of 32, then stages of residual bottleneck
    blocks (1x1, grouped 3x3 of group width 16, 1x1; bottleneck ratio 1, no squeeze-excitation)."""
    nn = _torch().nn

    def conv_bn(cin, cout, k, stride=1, groups=1, relu=True):
        layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        return nn.Sequential(*(layers + [nn.ReLU()] if relu else layers))

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.f = nn.Sequential(conv_bn(cin, cout, 1), conv_bn(cout, cout, 3, stride, cout // group_width),
                                   conv_bn(cout, cout, 1, relu=False))
            self.proj = conv_bn(cin, cout, 1, stride, relu=False) if stride != 1 or cin != cout else None
            self.relu = nn.ReLU()

        def forward(self, x):
            return self.relu((x if self.proj is None else self.proj(x)) + self.f(x))

    class RegNetX(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = conv_bn(3, 32, 3, 2)
            blocks, cin = [], 32
            for w, d in zip(widths, depths):
                blocks += [Block(cin, w, 2)] + [Block(w, w, 1) for _ in range(d - 1)]
                cin = w
            self.trunk = nn.Sequential(*blocks)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(cin, num_classes)

        def forward(self, x):
            return self.fc(self.pool(self.trunk(self.stem(x))).flatten(1))

    return RegNetX()


def _make_divisible(v: float, divisor: int = 8) -> int:
    """torchvision's rounding of channel counts to a multiple of 8 (never down by more than 10%)."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def _squeeze_excitation(nn, channels: int, squeeze: int, activation, gate):
    """torchvision.ops.SqueezeExcitation: global average pool, 1x1 conv, activation, 1x1 conv,
    gate; the input times the gate."""

    class SqueezeExcitation(nn.Module):
        def __init__(self):
            super().__init__()
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc1, self.fc2 = nn.Conv2d(channels, squeeze, 1), nn.Conv2d(squeeze, channels, 1)
            self.activation, self.scale_activation = activation(), gate()

        def forward(self, x):
            return x * self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))

    return SqueezeExcitation()


# torchvision's MobileNetV3-Small: (input, kernel, expanded, output, squeeze-excitation, HardSwish, stride)
MOBILENET_V3_SMALL = ((16, 3, 16, 16, True, False, 2), (16, 3, 72, 24, False, False, 2),
                      (24, 3, 88, 24, False, False, 1), (24, 5, 96, 40, True, True, 2),
                      (40, 5, 240, 40, True, True, 1), (40, 5, 240, 40, True, True, 1),
                      (40, 5, 120, 48, True, True, 1), (48, 5, 144, 48, True, True, 1),
                      (48, 5, 288, 96, True, True, 2), (96, 5, 576, 96, True, True, 1),
                      (96, 5, 576, 96, True, True, 1))


def _mobilenet_v3_small(num_classes: int, blocks=MOBILENET_V3_SMALL, stem: int = 16, last: int = 576,
                        hidden: int = 1024):
    """torchvision's MobileNetV3-Small: a HardSwish stem, inverted residual blocks (ReLU or HardSwish;
    squeeze-excitation with a ReLU and a HardSigmoid gate, squeezing to expanded / 4 rounded to 8),
    a 1x1 conv to 576, pooling, Linear 1024, HardSwish, (dropout), Linear; BatchNorm eps 0.001."""
    nn = _torch().nn

    def conv_bn(cin, cout, k, stride=1, groups=1, act=None):
        layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
                  nn.BatchNorm2d(cout, eps=0.001, momentum=0.01)]
        return layers + ([act()] if act else [])

    class InvertedResidual(nn.Module):
        def __init__(self, cin, k, expanded, cout, se, hardswish, stride):
            super().__init__()
            act = nn.Hardswish if hardswish else nn.ReLU
            layers = conv_bn(cin, expanded, 1, act=act) if expanded != cin else []
            layers += conv_bn(expanded, expanded, k, stride, groups=expanded, act=act)
            if se:
                layers.append(_squeeze_excitation(nn, expanded, _make_divisible(expanded // 4), nn.ReLU,
                                                  nn.Hardsigmoid))
            layers += conv_bn(expanded, cout, 1)
            self.block = nn.Sequential(*layers)
            self.use_res_connect = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.block(x) if self.use_res_connect else self.block(x)

    class MobileNetV3(nn.Module):
        def __init__(self):
            super().__init__()
            layers = conv_bn(3, stem, 3, 2, act=nn.Hardswish)
            layers += [InvertedResidual(*b) for b in blocks]
            layers += conv_bn(blocks[-1][3], last, 1, act=nn.Hardswish)
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(nn.Linear(last, hidden), nn.Hardswish(), nn.Dropout(0.2),
                                            nn.Linear(hidden, num_classes))

        def forward(self, x):
            return self.classifier(self.avgpool(self.features(x)).flatten(1))

    return MobileNetV3()


# torchvision's EfficientNet-B0: (expand ratio, kernel, stride, input, output, layers)
EFFICIENTNET_B0 = ((1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2), (6, 3, 2, 40, 80, 3),
                   (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4), (6, 3, 1, 192, 320, 1))


def _efficientnet_b0(num_classes: int, stages=EFFICIENTNET_B0, last: int = 1280):
    """torchvision's EfficientNet-B0: a SiLU stem of 32, MBConv blocks (1x1 expansion, depthwise,
    squeeze-excitation with a SiLU and a Sigmoid gate, squeezing to the block input / 4, 1x1
    projection; stochastic depth is the identity at eval), a 1x1 conv to 1280, pooling, (dropout),
    Linear."""
    nn = _torch().nn

    def conv_bn(cin, cout, k, stride=1, groups=1, act=True):
        layers = [nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
        return layers + ([nn.SiLU()] if act else [])

    class MBConv(nn.Module):
        def __init__(self, expand, k, stride, cin, cout):
            super().__init__()
            expanded = _make_divisible(cin * expand)
            layers = conv_bn(cin, expanded, 1) if expanded != cin else []
            layers += conv_bn(expanded, expanded, k, stride, groups=expanded)
            layers.append(_squeeze_excitation(nn, expanded, max(1, cin // 4), nn.SiLU, nn.Sigmoid))
            layers += conv_bn(expanded, cout, 1, act=False)
            self.block = nn.Sequential(*layers)
            self.use_res_connect = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.block(x) if self.use_res_connect else self.block(x)

    class EfficientNet(nn.Module):
        def __init__(self):
            super().__init__()
            layers = conv_bn(3, stages[0][3], 3, 2)
            for expand, k, stride, cin, cout, n in stages:
                layers += [MBConv(expand, k, stride if i == 0 else 1, cin if i == 0 else cout, cout) for i in range(n)]
            layers += conv_bn(stages[-1][4], last, 1)
            self.features = nn.Sequential(*layers)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(last, num_classes))

        def forward(self, x):
            return self.classifier(self.avgpool(self.features(x)).flatten(1))

    return EfficientNet()


def _tiny_yolo(num_classes: int, widths: str = "full"):
    """Tiny-YOLOv2 (tests/activation_models.py: LeakyReLU(0.1), 2x2 max pools, a 1x1 detection head
    of 5 boxes x 25 for VOC); num_classes is not used."""
    import activation_models

    return activation_models.tiny_yolo(64, widths)


ARCHITECTURES = {"resnet18": _resnet18, "resnet34": _resnet34, "mobilenet_v2": _mobilenet_v2,
                 "squeezenet1_1": _squeezenet1_1, "shufflenet_v2_x0_5": _shufflenet_v2,
                 "regnet_x_400mf": _regnet_x_400mf, "mobilenet_v3_small": _mobilenet_v3_small,
                 "efficientnet_b0": _efficientnet_b0, "tiny_yolo": _tiny_yolo,
                 "tiny_yolo_small": functools.partial(_tiny_yolo, widths="small"),
                 "resnet18_cifar": functools.partial(_resnet18, stem="cifar"),
                 "mobilenet_v2_cifar": functools.partial(_mobilenet_v2, cifar=True)}



def set_batchnorm(net, images: np.ndarray) -> None:
    """BatchNorm running statistics from real images (a cumulative average over the batches); the
    affine parameters keep PyTorch's initial 1 and 0, as a freshly built torchvision model has them."""
    torch = _torch()
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
            m.reset_running_stats()
    net.train()
    with torch.no_grad():
        for chunk in np.array_split(images, max(1, len(images) // 32)):
            net(torch.from_numpy(chunk))
    net.eval()


def export(net, size: int, path: Path, exporter: str = "legacy") -> Path:
    """torch.onnx's legacy (TorchScript) exporter, opset 13, a dynamic batch axis; or its default
    exporter since PyTorch 2.9 (`dynamo=True`, through onnxscript), with its own opset (18+) and a
    batch of 1."""
    import contextlib
    import io

    torch = _torch()
    x = torch.zeros(1, 3, size, size)
    if exporter == "dynamo":
        with contextlib.redirect_stdout(io.StringIO()):  # its progress lines
            torch.onnx.export(net, (x,), str(path), input_names=["input"], output_names=["logits"], dynamo=True)
        return path
    torch.onnx.export(net, (x,), str(path), input_names=["input"], output_names=["logits"], opset_version=13,
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, dynamo=False)
    return path


@functools.lru_cache(maxsize=None)
def quantized_deep(arch: str, size: int, fmt: str = "qdq", per_channel: bool = False,
                   act_type: str = "uint8", num_classes: int = 1000, exporter: str = "legacy",
                   make=None) -> Path:
    """The quantized ONNX file of an architecture at size x size, built once per process; `make`
    (num_classes -> module) builds one that is not in ARCHITECTURES (a small test version)."""
    import onnx

    net = (make or ARCHITECTURES[arch])(num_classes)
    set_batchnorm(net, digit_images(size, 128, start=0))
    folder = Path(tempfile.mkdtemp(prefix=f"sdannc-{arch}-"))
    float_model = onnx.load(export(net, size, folder / f"{arch}_{size}.onnx", exporter), load_external_data=True)
    float_model.graph.name = f"{arch}_{size}_{exporter}"
    return quantize(float_model, digit_images(size, 64, start=128), fmt, per_channel, act_type, out_dir=folder)
