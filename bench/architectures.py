"""The architecture table of docs/models.md: torchvision's classifiers (as plain PyTorch modules,
tests/torch_models.py; random weights, BatchNorm statistics from digits images), exported by
torch.onnx's legacy exporter and by its default one (dynamo=True), quantized by onnxruntime
(quant_pre_process, then quantize_static: QDQ, per-tensor uint8), compiled for darwin3-wide and
compared with onnxruntime in exact mode on the golden model.

    .venv/bin/python bench/architectures.py [--size 32] [--n 16] [ARCH ...] > table.md

Each row: the ONNX ops the exporter wrote, the cores the image takes (or why it does not fit one
chip), compile time (ONNX to image), and the output elements that differ from onnxruntime.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import numpy as np
import onnx

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

import torch_models  # noqa: E402
from models import ort_run  # noqa: E402

from sdannc.compiler import compile_in_memory, golden_outputs  # noqa: E402
from sdannc.errors import SdanncError  # noqa: E402
from sdannc.frontend import load_onnx  # noqa: E402
from float32_ties import flips  # noqa: E402
from sdannc.target import load_target  # noqa: E402

ARCHS = ["resnet18", "resnet34", "mobilenet_v2", "squeezenet1_1", "shufflenet_v2_x0_5", "regnet_x_400mf",
         "mobilenet_v3_small", "efficientnet_b0", "tiny_yolo"]
# the input size of an architecture that is not measured at --size (a detector's grid)
SIZES = {"tiny_yolo": 64, "tiny_yolo_small": 64}


def row(arch: str, exporter: str, size: int, n: int, target) -> dict:
    path = torch_models.quantized_deep(arch, size, num_classes=10, exporter=exporter)
    exported = path.parent / f"{arch}_{size}.onnx"
    model = onnx.load(str(exported), load_external_data=False)
    ops = collections.Counter(nd.op_type for nd in model.graph.node)
    result = {"arch": arch, "exporter": exporter, "opset": next(o.version for o in model.opset_import
                                                                 if o.domain in ("", "ai.onnx")),
              "ops": ", ".join(f"{op} {k}" for op, k in sorted(ops.items()))}
    x = torch_models.digit_images(size, n, start=300)
    start = time.perf_counter()
    try:
        compiled = compile_in_memory(path, target)
        result["compile_s"] = time.perf_counter() - start
        result["cores"] = len(compiled.image.cores)
    except SdanncError as exc:
        result["compile_s"] = time.perf_counter() - start
        result["cores"] = None
        result["error"] = str(exc)
    try:
        chip = golden_outputs(path, x, target)
        ort = ort_run(path, x)
        diff = np.rint(np.abs(chip - ort) / load_onnx(path).output_decode["scale"])
        result["differ"] = int((chip != ort).sum())
        result["elements"] = int(ort.size)
        result["max_steps"] = int(diff.max(initial=0))
        if ort.ndim == 2:  # a classifier (a detection head's channels are not classes)
            result["top1"] = float((chip.argmax(1) == ort.argmax(1)).mean())
        if result["differ"]:
            result["ties"] = flips(path, x)
    except SdanncError as exc:
        result["error"] = result.get("error") or str(exc)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("archs", nargs="*", default=ARCHS)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--exporters", default="legacy,dynamo")
    args = parser.parse_args()
    target = load_target("darwin3-wide")
    print("| architecture | exporter (opset) | ONNX ops as exported | cores | compile | outputs that differ "
          "from onnxruntime | top-1 agreement | where they part: float32 ties in linear layers |")
    print("|---|---|---|---|---|---|---|---|")
    for arch in args.archs:
        for exporter in args.exporters.split(","):
            size = SIZES.get(arch, args.size)
            r = row(arch, exporter, size, args.n, target)
            cores = r["cores"] if r.get("cores") is not None else f"does not fit: {r.get('error', '')}"
            differ = (f"{r['differ']} of {r['elements']} (max {r['max_steps']} steps)" if "differ" in r
                      else f"refused: {r.get('error', '')}")
            top1 = f"{100 * r['top1']:.0f}%" if "top1" in r else "-"
            ties = "none: bit-exact" if r.get("differ") == 0 else "-"
            if "ties" in r:
                count, total, worst = r["ties"]
                ties = (f"{count} of {total:,} layer outputs, each within {worst:.2f} x abs(v) 2^-24 of a half" if count
                        else f"none of {total:,} layer outputs: elsewhere (sdannc verify names the layer)")
            name = arch if size == args.size else f"{arch} ({size} x {size})"
            print(f"| {name} | {exporter} ({r['opset']}) | {r['ops']} | {cores} | {r['compile_s']:.1f} s | {differ} "
                  f"| {top1} | {ties} |", flush=True)


if __name__ == "__main__":
    main()
