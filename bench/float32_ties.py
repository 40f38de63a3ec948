"""Where the chip's exact rounding and onnxruntime's float32 requantization part, layer by layer.

For every linear layer (Conv, Gemm) of a quantized model, onnxruntime's codes of the layer's input
(exact mode, sessions cut at the tensor: sdannc/verification) go through the layer exactly: the
integer sum, times the real multiplier sx * sw / sy in float64, the value v that is rounded. Where
onnxruntime's own output code is not round(v), this prints how far v lies from the half it rounds
at, against |v| x 2^-24 (float32's half unit in the last place at v) and 2^-24:

    .venv/bin/python bench/float32_ties.py ARCH EXPORTER [--size 32] [--n 16]

onnxruntime computes float(acc) * float32(sx * sw / sy) in float32: two roundings of relative
error 2^-24 each, so it can round the other way where v lies within about |v| x 2^-23 of a half.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests")]

import torch_models  # noqa: E402

from sdannc.frontend import load_onnx  # noqa: E402
from sdannc.ir import connections  # noqa: E402
from sdannc.verification import _onnxruntime_codes  # noqa: E402


def layer_values(node, graph, x_codes: np.ndarray) -> np.ndarray:
    """v = (sum w (x - zx) + b) * sx * sw / sy + zy, in float64, before rounding and clamping."""
    tx, ty = graph.tensors[node.inputs[0]], graph.tensors[node.output]
    conn = dict(node.attrs)
    x = x_codes.reshape((-1,) + tx.shape).astype(np.int64) - tx.zero_point
    acc = connections.apply(conn, node.params["weight"], x, ty.shape)
    bias = node.params["bias"].reshape((-1,) + (1,) * (len(ty.shape) - 1))
    scale = (np.float64(tx.scale) * node.params["weight_scale"] / np.float64(ty.scale)).reshape(bias.shape)
    return (acc + bias) * scale + ty.zero_point


def flips(path, x: np.ndarray) -> tuple[int, int, float]:
    """(outputs of linear layers that onnxruntime rounds otherwise than the exact value, outputs
    compared, the largest distance of such a value from its half in units of |v| 2^-24)."""
    graph = load_onnx(path)
    linear = [n for n in graph.nodes if n.op == "linear"]
    names = sorted({n.inputs[0] for n in linear} | {n.output for n in linear})
    codes, _, _ = _onnxruntime_codes(path, graph, names, x)
    total = count = 0
    worst = 0.0
    for node in linear:
        if codes.get(node.inputs[0]) is None or node.output not in codes:
            continue
        v = layer_values(node, graph, codes[node.inputs[0]])
        exact = np.clip(np.rint(v), *node.attrs["clamp"])
        ort = codes[node.output].reshape(exact.shape)
        total += ort.size
        differ = v[exact != ort]
        count += differ.size
        gaps = np.abs(np.abs(differ - np.floor(differ)) - 0.5) / (np.abs(differ) * 2.0 ** -24)
        worst = max([worst, *gaps.tolist()])
    return count, total, worst


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("arch")
    parser.add_argument("exporter")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--n", type=int, default=16)
    args = parser.parse_args()
    path = torch_models.quantized_deep(args.arch, args.size, num_classes=10, exporter=args.exporter)
    x = torch_models.digit_images(args.size, args.n, start=300)
    graph = load_onnx(path)
    linear = [n for n in graph.nodes if n.op == "linear"]
    names = sorted({n.inputs[0] for n in linear} | {n.output for n in linear})
    codes, _, _ = _onnxruntime_codes(path, graph, names, x)
    codes[graph.input] = codes.get(graph.input)
    total = flips = 0
    worst_rel = 0.0
    for node in linear:
        if node.inputs[0] not in codes or codes[node.inputs[0]] is None or node.output not in codes:
            continue
        v = layer_values(node, graph, codes[node.inputs[0]])
        lo, hi = node.attrs["clamp"]
        exact = np.clip(np.rint(v), lo, hi)  # a tie at exactly .5 cannot arise from these scales
        ort = codes[node.output].reshape(exact.shape)
        total += ort.size
        differ = exact != ort
        if differ.any():
            for value in v[differ][:5]:
                gap = abs(abs(value - np.floor(value)) - 0.5)
                rel = gap / (abs(value) * 2.0 ** -24)
                worst_rel = max(worst_rel, rel)
                print(f"{node.name}: v = {value:.9f}, {gap:.3g} from the half; |v| 2^-24 = "
                      f"{abs(value) * 2.0 ** -24:.3g} ({rel:.2f} of it); 2^-24 = {2.0 ** -24:.3g}")
            flips += int(differ.sum())
    print(f"{args.arch} {args.exporter}: {flips} of {total} linear-layer outputs round the other way in "
          f"onnxruntime; the farthest from its half lies {worst_rel:.2f} x |v| 2^-24 from it")


if __name__ == "__main__":
    main()
