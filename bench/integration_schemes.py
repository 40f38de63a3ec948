"""16-bit integration schemes compared: accuracy against onnxruntime and cost on the chip.

    python bench/integration_schemes.py [--samples N] [--sim-samples N] [--only NAME]

For each model, compiled for darwin3 (16-bit registers) with the compiler's choice (weighted
integration where a layer's sums must be scaled, shift-and-add where they fit) and with the paper's
shift-and-add everywhere (`integration: horner` in a compile config), and for darwin3-wide (32 bits, exact
sums): the golden model's outputs on held-out inputs against onnxruntime's exact mode (top-1
agreement, rms error over the output's std, elements equal), without and with --calib; then the
simulator's cycles and energy per sample on a short stream, for each scheme. Models: VGG-11 32x32
and ResNet-18 64x64 of bench/models.py (random weights, random inputs), and ResNet-18 (ImageNet
stem) and MobileNetV2 at 32x32 of tests/torch_models.py (random weights, BatchNorm statistics from
digits images, digits inputs). Results go to stdout and bench/out/integration_schemes.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests")]  # tests/models.py is `models` here; bench/models.py is loaded by path

from sdannc.backend import build_image  # noqa: E402
from sdannc.errors import SdanncError  # noqa: E402
from sdannc.frontend import load_onnx  # noqa: E402
from sdannc.golden.interpreter import run as golden_run  # noqa: E402
from sdannc.passes import Options, run_pipeline  # noqa: E402
from sdannc.reference import reference  # noqa: E402
from sdannc.sim import Simulator  # noqa: E402
from sdannc.sim.report import build_report  # noqa: E402
from sdannc.target import load_target  # noqa: E402

SCHEMES = {"chosen": None, "horner": "horner"}  # None: the compiler chooses per layer


def _models(samples: int):
    """(name, quantized path, held-out inputs, calibration inputs) per model."""
    import importlib.util

    import torch_models

    spec = importlib.util.spec_from_file_location("bench_models", HERE / "models.py")
    bench_models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_models)

    folder = HERE / "out" / "models"
    for name, build in (("vgg11_32", bench_models.vgg11), ("resnet18_64", bench_models.resnet18)):
        path, _ = bench_models.quantized(build(), folder)
        shape = (samples,) + tuple(d.dim_value or 1 for d in load_onnx_input(path))
        rng = np.random.default_rng(7)
        yield name, path, rng.uniform(0, 1, shape).astype(np.float32), rng.uniform(0, 1, (32,) + shape[1:]).astype(
            np.float32)
    for arch in ("resnet18", "mobilenet_v2"):
        path = torch_models.quantized_deep(arch, 32)
        yield f"{arch}_32", path, torch_models.digit_images(32, samples, 300), torch_models.digit_images(32, 100, 0)


def load_onnx_input(path):
    import onnx

    return onnx.load(str(path)).graph.input[0].type.tensor_type.shape.dim[1:]


def _lower(path, target, integration, calib=None):
    return run_pipeline(load_onnx(path), target, Options(calib=calib, model=str(path), integration=integration))


def _agreement(graph, target, x, expected) -> dict:
    got = golden_run(graph, x, target.arith).astype(np.float64)
    err = got - expected
    return {"top1_agreement": float((got.reshape(len(x), -1).argmax(1) == expected.reshape(len(x), -1).argmax(1)).mean()),
            "rms_over_std": float(np.sqrt((err ** 2).mean()) / expected.std()),
            "equal": float((got == expected).mean())}


def _cost(graph, target, x) -> dict:
    image, _ = build_image(graph, target)
    sim = Simulator(image, "bench")
    result = sim.run(x)
    report = build_report(sim, result)
    return {"cycles_per_sample": report["cycles_per_sample"], "energy_pj_per_sample": report["energy"]["per_sample_pj"],
            "ticks": report["ticks"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--sim-samples", type=int, default=8)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    narrow, wide = load_target("darwin3"), load_target("darwin3-wide")
    results = {}
    for name, path, x, calib in _models(args.samples):
        if args.only not in name:
            continue
        expected = reference(path).outputs(x).astype(np.float64)
        row = {"wide": _agreement(_lower(path, wide, None), wide, x, expected)}
        for scheme, integration in SCHEMES.items():
            start = time.perf_counter()
            graph = _lower(path, narrow, integration)
            row[scheme] = _agreement(graph, narrow, x, expected)
            row[scheme + "_calib"] = _agreement(_lower(path, narrow, integration, calib), narrow, x, expected)
            try:
                row[scheme].update(_cost(graph, narrow, x[:args.sim_samples]))
            except SdanncError as exc:  # a model that does not fit one chip: accuracy only
                row[scheme]["cost"] = f"not simulated: {exc}"
            row[scheme]["seconds"] = time.perf_counter() - start
        results[name] = row
        for key, r in row.items():
            cost = f"  {r['cycles_per_sample']:,.0f} cycles/sample, {r['energy_pj_per_sample'] / 1e6:.2f} uJ/sample" \
                if "cycles_per_sample" in r else ""
            print(f"{name:14s} {key:13s} top-1 {100 * r['top1_agreement']:5.1f}%  rms/std {r['rms_over_std']:.3f}  "
                  f"equal {100 * r['equal']:5.1f}%{cost}", flush=True)
    out = HERE / "out" / "integration_schemes.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
