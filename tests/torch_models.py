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


def _resnet18(num_classes: int):
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
                                      nn.MaxPool2d(3, 2, 1))
            layers, cin = [], 64
            for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
                layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
                cin = cout
            self.layers = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x):
            return self.fc(self.pool(self.layers(self.stem(x))).flatten(1))

    return ResNet18()


def _mobilenet_v2(num_classes: int):
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
            layers, cin = conv_bn(3, 32, 3, 2), 32
            for t, c, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                               (6, 160, 3, 2), (6, 320, 1, 1)):
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


ARCHITECTURES = {"resnet18": _resnet18, "mobilenet_v2": _mobilenet_v2}


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


def export(net, size: int, path: Path) -> Path:
    """torch.onnx's legacy (TorchScript) exporter, opset 13, a dynamic batch axis."""
    torch = _torch()
    x = torch.zeros(1, 3, size, size)
    torch.onnx.export(net, (x,), str(path), input_names=["input"], output_names=["logits"], opset_version=13,
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, dynamo=False)
    return path


@functools.lru_cache(maxsize=None)
def quantized_deep(arch: str, size: int, fmt: str = "qdq", per_channel: bool = False,
                   act_type: str = "uint8", num_classes: int = 1000) -> Path:
    """The quantized ONNX file of an architecture at size x size, built once per process."""
    import onnx

    net = ARCHITECTURES[arch](num_classes)
    set_batchnorm(net, digit_images(size, 128, start=0))
    folder = Path(tempfile.mkdtemp(prefix=f"sdannc-{arch}-"))
    float_model = onnx.load(export(net, size, folder / f"{arch}_{size}.onnx"))
    float_model.graph.name = f"{arch}_{size}"
    return quantize(float_model, digit_images(size, 64, start=128), fmt, per_channel, act_type, out_dir=folder)
