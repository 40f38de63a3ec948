"""Hand-built chip images of fixed shapes: dense STEM layers and one STEM convolution.

They use the reference neuron programs in isa/programs (the templates as they stand), their cores
set up by the STEM model as the backend's are (sdannc/neurons/stem.py), and serve the demo, the
benchmark and the machine's tests, independently of the compiler's passes and backend. Each network
also has its numpy reference here, written from the arithmetic of the STEM program, not from the
simulator.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from sdannc.image import ChipImage, ImageBuilder, Schedule
from sdannc.ir.codes import CODE_BITS as BITS, CODE_MAX
from sdannc.ir.graph import Node
from sdannc.isa import assemble_file, load_isa
from sdannc import arith
from sdannc.neurons import NEURONS
from sdannc.resources import data_dir
from sdannc.target import Target

STEM = NEURONS["stem"]
# The constants isa/programs/stem_neuron.s stands with.
STEM_MUL_SHIFT, (STEM_OUT_SHIFT,) = STEM.template.params["mul_shift"], STEM.template.params["out_shifts"]


def program_words(name: str, target: Target) -> np.ndarray:
    isa = load_isa(target.isa_name)
    return isa.encode_program(assemble_file(data_dir("isa") / "programs" / f"{name}.s", isa))


@dataclass
class StemLayer:
    """out = clamp(round((W^T x + bias) * M >> 19) + zero_point, 0, 255): MULT by M >> 15, then SFTI R 4 RND."""

    weights: np.ndarray  # [fan_in, outputs] int
    bias: np.ndarray  # [outputs]
    multiplier: np.ndarray  # [outputs], Q15
    zero_point: int

    def reference(self, x: np.ndarray) -> np.ndarray:
        acc = x.astype(np.int64) @ self.weights.astype(np.int64) + self.bias
        y = arith.shift_right_round(acc * self.multiplier, STEM_MUL_SHIFT + STEM_OUT_SHIFT)  # rounded once
        return np.clip(y + self.zero_point, 0, (1 << BITS) - 1)

    def as_node(self) -> Node:
        """What the STEM model's core set-up reads of a layer (no IR graph around it): zero point,
        clamp 0..255, per-neuron bias and multiplier, accumulators starting at 0."""
        return Node("layer", "stem", [], "", attrs={"zero_point": self.zero_point, "clamp": (0, CODE_MAX)},
                    params={"bias": self.bias, "multiplier": self.multiplier, "init": np.zeros_like(self.bias)})


def random_stem_layer(rng: np.random.Generator, fan_in: int, outputs: int, weight_max: int = 7) -> StemLayer:
    """Small weights keep the 16-bit running sum in range without scaled integration."""
    weights = rng.integers(-weight_max, weight_max + 1, size=(fan_in, outputs))
    bias = rng.integers(-200, 200, size=outputs)
    multiplier = rng.integers(1 << 12, 1 << 14, size=outputs)
    return StemLayer(weights, bias, multiplier, int(rng.integers(0, 20)))


def mesh_positions(target: Target, count: int, big_only: bool = False) -> list[tuple[int, int]]:
    """Core positions in row-major order, skipping the controller (and little cores if asked)."""
    positions = [
        (x, y)
        for y in range(target.mesh["height"])
        for x in range(target.mesh["width"])
        if target.is_core(x, y) and (not big_only or target.is_big_core(x))
    ]
    if count > len(positions):
        raise ValueError(f"{count} cores wanted, the mesh has {len(positions)}")
    return positions[:count]


def _stem_core(builder: ImageBuilder, position, words, layer: StemLayer, lo: int, hi: int, stage: int) -> int:
    core = builder.add_core(position[0], position[1], words, hi - lo)
    cb = builder.core(core)
    cb.stage, cb.layer = stage, f"layer{stage}"
    STEM.init_core(cb, layer.as_node(), np.arange(lo, hi), layer.bias.shape)
    ids = np.arange(hi - lo)
    for source in range(layer.weights.shape[0]):  # one dendrite per source, all sharing one id list
        cb.add_dendrite(ids, layer.weights[source, lo:hi])
    return core


def dense_stem_network(target: Target, layers: list[StemLayer], per_core: int, big_only: bool = False) -> ChipImage:
    """A chain of dense STEM layers; each layer split into cores of `per_core` neurons."""
    words = program_words("stem_neuron", target)
    builder = ImageBuilder(target)
    splits = [[(lo, min(lo + per_core, layer.weights.shape[1])) for lo in range(0, layer.weights.shape[1], per_core)]
              for layer in layers]
    positions = iter(mesh_positions(target, sum(len(s) for s in splits), big_only))
    cores = [[_stem_core(builder, next(positions), words, layer, lo, hi, stage) for lo, hi in split]
             for stage, (layer, split) in enumerate(zip(layers, splits), start=1)]
    for element in range(layers[0].weights.shape[0]):
        builder.map_input(element, [(c, element, 0) for c in cores[0]])
    for i in range(len(layers) - 1):
        for core, (lo, hi) in zip(cores[i], splits[i]):
            for neuron in range(hi - lo):
                builder.connect(core, neuron, [(c, lo + neuron) for c in cores[i + 1]])
    for core, (lo, hi) in zip(cores[-1], splits[-1]):
        for neuron in range(hi - lo):
            builder.map_output(lo + neuron, core, neuron)
    schedule = Schedule(bits=BITS, sample_interval=BITS, output_offset=BITS * len(layers) - 1)
    return builder.build((layers[0].weights.shape[0],), {"kind": "uint8"}, (layers[-1].weights.shape[1],),
                         {"kind": "uint8"}, schedule)


def dense_reference(layers: list[StemLayer], x: np.ndarray) -> np.ndarray:
    for layer in layers:
        x = layer.reference(x)
    return x


@dataclass
class StemConv:
    """A 3x3, stride 1, padding 1 convolution with the STEM requantization of StemLayer."""

    weights: np.ndarray  # [out_channels, in_channels, 3, 3]
    bias: np.ndarray  # [out_channels]
    multiplier: np.ndarray  # [out_channels]
    zero_point: int

    def reference(self, x: np.ndarray) -> np.ndarray:
        """x: [batch, in_channels, H, W] codes -> [batch, out_channels, H, W] codes."""
        batch, _, h, w = x.shape
        padded = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (1, 1), (1, 1)))
        acc = np.zeros((batch, self.weights.shape[0], h, w), dtype=np.int64)
        for ky in range(3):
            for kx in range(3):
                window = padded[:, :, ky:ky + h, kx:kx + w]
                acc += np.einsum("bchw,oc->bohw", window, self.weights[:, :, ky, kx].astype(np.int64))
        acc += self.bias[None, :, None, None]
        y = arith.shift_right_round(acc * self.multiplier[None, :, None, None], STEM_MUL_SHIFT + STEM_OUT_SHIFT)
        return np.clip(y + self.zero_point, 0, (1 << BITS) - 1)


def random_stem_conv(rng: np.random.Generator, in_channels: int, out_channels: int, weight_max: int = 3) -> StemConv:
    weights = rng.integers(-weight_max, weight_max + 1, size=(out_channels, in_channels, 3, 3))
    return StemConv(weights, rng.integers(-100, 100, size=out_channels),
                    rng.integers(1 << 11, 1 << 13, size=out_channels), int(rng.integers(0, 10)))


def _conv_taps(y: int, x: int, h: int, w: int) -> list[tuple[int, int]]:
    """Kernel taps (ky, kx) through which input pixel (y, x) reaches an output inside the image."""
    return [(ky, kx) for ky in range(3) for kx in range(3) if 0 <= y - ky + 1 < h and 0 <= x - kx + 1 < w]


def _edge_class(y: int, x: int, h: int, w: int) -> tuple[int, int]:
    row = 0 if y == 0 else (2 if y == h - 1 else 1)
    col = 0 if x == 0 else (2 if x == w - 1 else 1)
    return row, col


def conv_stem_network(target: Target, conv: StemConv, height: int, width: int) -> ChipImage:
    """One STEM convolution fed from the input, split by output channel, with relative dendrites.

    The spike of input pixel (c, y, x) carries y * width + x; one dendrite per (input channel, edge
    class) lists offsets to every output neuron that pixel feeds, so the lists are shared by all
    pixels of a class and by all input channels (only the weights differ).
    """
    out_channels, in_channels = conv.weights.shape[:2]
    plane = height * width
    per_core = max(1, target.core["neurons"] // plane)
    words = program_words("stem_neuron", target)
    builder = ImageBuilder(target)
    groups = [(lo, min(lo + per_core, out_channels)) for lo in range(0, out_channels, per_core)]
    cores, dendrite_of = [], []
    for position, (lo, hi) in zip(mesh_positions(target, len(groups)), groups):
        layer = StemLayer(np.zeros((0, hi - lo)), np.repeat(conv.bias[lo:hi], plane),
                          np.repeat(conv.multiplier[lo:hi], plane), conv.zero_point)
        core = _stem_core(builder, position, words, layer, 0, (hi - lo) * plane, stage=1)
        table = {}
        for c in range(in_channels):
            for cls_y, y in ((0, 0), (1, 1), (2, height - 1)):
                for cls_x, x in ((0, 0), (1, 1), (2, width - 1)):
                    taps = _conv_taps(y, x, height, width)
                    offsets = [o * plane - (ky - 1) * width - (kx - 1) for o in range(hi - lo) for ky, kx in taps]
                    weights = [conv.weights[lo + o, c, ky, kx] for o in range(hi - lo) for ky, kx in taps]
                    table[(c, (cls_y, cls_x))] = builder.core(core).add_dendrite(offsets, weights, relative=True)
        cores.append(core)
        dendrite_of.append(table)
    for c in range(in_channels):
        for y in range(height):
            for x in range(width):
                cls = _edge_class(y, x, height, width)
                element = (c * height + y) * width + x
                builder.map_input(element, [(core, table[(c, cls)], y * width + x) for core, table in zip(cores, dendrite_of)])
    for core, (lo, hi) in zip(cores, groups):
        for neuron in range((hi - lo) * plane):
            builder.map_output(lo * plane + neuron, core, neuron)
    schedule = Schedule(bits=BITS, sample_interval=BITS, output_offset=BITS - 1)
    return builder.build((in_channels, height, width), {"kind": "uint8"}, (out_channels, height, width),
                         {"kind": "uint8"}, schedule)
