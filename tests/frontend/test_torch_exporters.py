"""Small versions of the torchvision patterns of issue 12, written in PyTorch, exported by the legacy
exporter (opset 13, dynamic batch: shape arithmetic in the graph) and by the default one
(dynamo=True: ReduceMean, Split, opset 18+), quantized by onnxruntime, compiled for darwin3-wide:
the golden model's outputs equal onnxruntime's (exact mode) bit for bit."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
import torch_models as tm
from models import ort_run

from sdannc.compiler import golden_outputs
from sdannc.errors import SdanncError
from sdannc.frontend import load_onnx
from sdannc.target import load_target

SIZE = 16
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning")


def _tiny_squeezenet(num_classes):
    """SqueezeNet 1.1's stem, a ceil-mode MaxPool (floor would give one row less), one Fire module,
    the 1x1-conv classifier with adaptive average pooling."""
    torch = tm._torch()
    nn = torch.nn

    class Fire(nn.Module):
        def __init__(self):
            super().__init__()
            self.squeeze = nn.Sequential(nn.Conv2d(16, 8, 1), nn.ReLU())
            self.e1, self.e3 = nn.Sequential(nn.Conv2d(8, 8, 1), nn.ReLU()), nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())

        def forward(self, x):
            x = self.squeeze(x)
            return torch.cat([self.e1(x), self.e3(x)], 1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            pool = nn.MaxPool2d(3, 2, ceil_mode=True)  # 7 -> 3 -> 1: the head's mean is over one element
            self.features = nn.Sequential(nn.Conv2d(3, 16, 3, 2), nn.ReLU(), pool, Fire(), pool)
            self.classifier = nn.Sequential(nn.Conv2d(16, num_classes, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1))

        def forward(self, x):
            return torch.flatten(self.classifier(self.features(x)), 1)

    return Net()


def test_float_mean_at_the_output_is_refused_with_what_to_do():
    """The default exporter's ReduceMean at the very end, over a 3 x 3 map: onnxruntime's quantizer
    leaves it in float, so the output is a float average of codes; refused, saying what works."""
    nn = tm._torch().nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 10, 3, 2), nn.ReLU(), nn.MaxPool2d(3, 2, ceil_mode=True))

        def forward(self, x):
            return self.body(x).mean((2, 3))

    path = tm.quantized_deep("tiny_float_mean", SIZE, exporter="dynamo", make=lambda n: Net())
    with pytest.raises(SdanncError) as info:
        load_onnx(path)
    message = str(info.value)
    assert "is an average computed in float after the last quantized layer" in message
    assert "dynamo=False" in message and "1 x 1" in message and "\n" not in message


def _tiny_shufflenet(num_classes):
    """ShuffleNetV2 x0.5's units at a tenth of the width: a stride-2 unit, two stride-1 units
    (channel split by chunk, channel shuffle by view/transpose/view), x.mean([2, 3])."""
    return tm._shufflenet_v2(num_classes, repeats=(1, 2), channels=(8, 16, 32, 0, 32))


def _tiny_mlp(num_classes):
    """nn.Flatten on the image input, then Linear layers: the Flatten stays on the float input."""
    nn = tm._torch().nn
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * SIZE * SIZE, 32), nn.ReLU(), nn.Linear(32, num_classes))


def _tiny_pool_head(num_classes):
    """A conv net whose head is x.mean((2, 3)) over a 4 x 4 map (an average pool, not a rename)."""
    torch = tm._torch()
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.Conv2d(8, 16, 3, 2, 1), nn.BatchNorm2d(16), nn.ReLU())
            self.fc = nn.Linear(16, num_classes)

        def forward(self, x):
            return self.fc(self.body(x).mean((2, 3)))

    return Net()


def _tiny_vgg(num_classes, pools: int = 2):
    """VGG's head: AdaptiveAvgPool2d((3, 3)) of a 4 x 4 map (windows of 2 x 2 at stride 1), which the
    default exporter writes as Transpose -> GatherND -> ReduceMean -> Transpose; two Linear layers.
    With 4 pools the map is 1 x 1 (VGG at 32 x 32): each of the 9 outputs copies it."""
    torch = tm._torch()
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            layers, cin = [], 3
            for _ in range(pools):
                layers += [nn.Conv2d(cin, 8, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2)]
                cin = 8
            self.features = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d((3, 3))
            self.classifier = nn.Sequential(nn.Linear(8 * 9, 16), nn.ReLU(), nn.Linear(16, num_classes))

        def forward(self, x):
            return self.classifier(torch.flatten(self.pool(self.features(x)), 1))

    return Net()


TINY = {"squeezenet": _tiny_squeezenet, "vgg": _tiny_vgg, "vgg_1x1": lambda n: _tiny_vgg(n, pools=4), "shufflenet": _tiny_shufflenet, "mlp": _tiny_mlp, "pool_head": _tiny_pool_head}
EXPECTED_OPS = {("shufflenet", "legacy"): {"Shape", "Gather", "Slice"}, ("shufflenet", "dynamo"): {"Split"},
                ("squeezenet", "dynamo"): {"ReduceMean"}, ("pool_head", "dynamo"): {"ReduceMean"},
                ("mlp", "legacy"): {"Flatten"}, ("vgg", "dynamo"): {"Transpose", "GatherND", "ReduceMean"},
                ("vgg_1x1", "dynamo"): {"Transpose", "GatherND"}}


# The legacy exporter itself refuses adaptive_avg_pool2d to a size that does not divide the input:
# the VGG heads are the default exporter's case only.
CASES = [(name, exporter) for name in TINY for exporter in ("legacy", "dynamo")
         if not (name.startswith("vgg") and exporter == "legacy")]


@pytest.mark.parametrize("name, exporter", CASES)
def test_tiny_architecture_bit_exact(name, exporter):
    path = tm.quantized_deep(f"tiny_{name}", SIZE, num_classes=10, exporter=exporter, make=TINY[name])
    exported = onnx.load(str(path.parent / f"tiny_{name}_{SIZE}.onnx"), load_external_data=False)
    assert EXPECTED_OPS.get((name, exporter), set()) <= {n.op_type for n in exported.graph.node}
    x = tm.digit_images(SIZE, 16, start=300)
    ort = ort_run(path, x)
    chip = golden_outputs(path, x, load_target("darwin3-wide"))
    assert len(np.unique(ort)) > 3, "outputs should vary"
    np.testing.assert_array_equal(chip, ort)


def _tiny_mobilenet_v3(num_classes):
    """MobileNetV3-Small's blocks at small widths: a HardSwish stem, a ReLU block with
    squeeze-excitation (HardSigmoid gate) at stride 2, one without, a HardSwish residual block with
    squeeze-excitation, the 1x1 conv, pooling, Linear, HardSwish, Linear."""
    blocks = ((8, 3, 8, 8, True, False, 2), (8, 3, 24, 16, False, False, 2), (16, 5, 32, 16, True, True, 1))
    return tm._mobilenet_v3_small(num_classes, blocks=blocks, stem=8, last=32, hidden=32)


def _tiny_efficientnet(num_classes):
    """EfficientNet-B0's MBConv blocks at small widths: SiLU, squeeze-excitation with a SiLU and a
    Sigmoid gate, an expansion-1 block, a stride-2 block and a residual one."""
    return tm._efficientnet_b0(num_classes, stages=((1, 3, 1, 8, 8, 1), (4, 3, 2, 8, 16, 2)), last=32)


@pytest.mark.parametrize("name, make", [("mobilenet_v3", _tiny_mobilenet_v3), ("efficientnet", _tiny_efficientnet)])
def test_tiny_squeeze_excitation_nets_bit_exact(name, make):
    """HardSwish (x * HardSigmoid(x) at opset 13) and SiLU (x * Sigmoid(x)), and the
    squeeze-excitation gate's product of two activations: the legacy export equals onnxruntime."""
    path = tm.quantized_deep(f"tiny_{name}", SIZE, num_classes=10, exporter="legacy", make=make)
    exported = onnx.load(str(path.parent / f"tiny_{name}_{SIZE}.onnx"), load_external_data=False)
    ops = {n.op_type for n in exported.graph.node}
    # opset 13 has no HardSwish: the legacy exporter writes x * HardSigmoid(x)
    assert {"Mul", "GlobalAveragePool", "HardSigmoid" if name == "mobilenet_v3" else "Sigmoid"} <= ops
    x = tm.digit_images(SIZE, 16, start=300)
    ort = ort_run(path, x)
    chip = golden_outputs(path, x, load_target("darwin3-wide"))
    assert len(np.unique(ort)) > 3, "outputs should vary"
    np.testing.assert_array_equal(chip, ort)
