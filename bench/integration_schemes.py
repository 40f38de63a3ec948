"""16-bit integration schemes compared: accuracy against onnxruntime and cost on the chip.

    python bench/integration_schemes.py [--samples N] [--sim-samples N] [--only NAME] [--part P]

For each model, compiled for darwin3 (16-bit registers) with the compiler's choice (integration
exact where it fits, weighted where a layer's sums must be scaled otherwise, shift-and-add where they
fit), with weighted integration instead of exact (`integration: weighted` in a compile config: the
compiler before exact), with the paper's shift-and-add everywhere (`integration: horner`), and for
darwin3-wide (32 bits, exact sums): the golden model's outputs on held-out inputs against
onnxruntime's exact mode (top-1 agreement, rms error over the output's std, elements equal), without
and with --calib; then the simulator's cycles and energy per sample on a short stream, for the
chosen and the weighted scheme. `--part layers` gives, per model, each layer's own error (fed
onnxruntime's codes of its inputs: the codes that differ, by kind of layer), which shows what is left
of the chip's differences (the 16-bit Add neuron's rounding). Models (`--part deep`): VGG-11 32x32
and ResNet-18 64x64 of bench/models.py (random weights, random inputs), and ResNet-18 (ImageNet stem)
at 32x32 and 64x64 and MobileNetV2 at 32x32 of tests/torch_models.py (random weights, BatchNorm
statistics from digits images, digits inputs); (`--part digits`) the trained digits classifiers of
tests/models.py in all 8 variants (QDQ / QOperator, per tensor / per channel, uint8 / int8), on all
held-out digits: accuracy against onnxruntime's too. Results go to stdout and
bench/out/integration_schemes.json (each part its own key).
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

SCHEMES = {"chosen": None, "weighted": "weighted", "horner": "horner"}  # None: the compiler chooses per layer
COSTED = ("chosen", "weighted")  # the schemes simulated for cycles and energy


def _models(samples: int, wanted=lambda name: True):
    """(name, quantized path, held-out inputs, calibration inputs) per model `wanted` (by name)."""
    import importlib.util

    import torch_models

    spec = importlib.util.spec_from_file_location("bench_models", HERE / "models.py")
    bench_models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_models)

    folder = HERE / "out" / "models"
    for name, build in (("vgg11_32", bench_models.vgg11), ("resnet18_64", bench_models.resnet18)):
        if not wanted(name):
            continue
        path, _ = bench_models.quantized(build(), folder)
        shape = (samples,) + tuple(d.dim_value or 1 for d in load_onnx_input(path))
        rng = np.random.default_rng(7)
        yield name, path, rng.uniform(0, 1, shape).astype(np.float32), rng.uniform(0, 1, (32,) + shape[1:]).astype(
            np.float32)
    for arch, size in (("resnet18", 32), ("resnet18", 64), ("mobilenet_v2", 32)):
        if not wanted(f"torch_{arch}_{size}"):
            continue
        path = torch_models.quantized_deep(arch, size)
        yield (f"torch_{arch}_{size}", path, torch_models.digit_images(size, samples, 300),
               torch_models.digit_images(size, 100, 0))


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
            "ticks": report["ticks"], "cores": len(image.cores)}


def _digits(only: str) -> dict:
    """The trained digits classifiers, every variant: accuracy and agreement, without and with --calib."""
    import models

    _, _, x_test, y_test = models.digits_data()
    narrow, wide = load_target("darwin3"), load_target("darwin3-wide")
    results = {}
    for name in ("digits_cnn", "cnn_pool_trained", "strided_depthwise_trained", "residual_trained",
                 "concat_trained"):
        if only not in name:
            continue
        model = models.float_model(name)
        fixed = model.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1
        x = models.eval_set(model, len(x_test))
        calib = models.calib_set(model, 100)
        for variant in models.variants():
            path = models.quantized(name, *variant)
            expected = (np.concatenate([reference(path).outputs(x[i:i + 1]) for i in range(len(x))]) if fixed
                        else reference(path).outputs(x)).astype(np.float64)
            wide_got = golden_run(_lower(path, wide, None), x, wide.arith).astype(np.float64)
            row = {"wide_equal": float((wide_got == expected).mean())}  # (onnxruntime's own differences: docs/exactness.md)
            for key, c in (("nocalib", None), ("calib", calib)):
                graph = _lower(path, narrow, None, c)
                got = golden_run(graph, x, narrow.arith).astype(np.float64)
                row[key] = {"accuracy": float((got.argmax(1) == y_test).mean()),
                            "ort_accuracy": float((expected.argmax(1) == y_test).mean()),
                            "top1_agreement": float((got.argmax(1) == expected.argmax(1)).mean()),
                            "equal": float((got == expected).mean()),
                            "schemes": _schemes(graph)}
                r = row[key]
                print(f"{name:26s} {models.variant_id(variant):22s} {key:7s} accuracy {100 * r['accuracy']:6.2f}% "
                      f"(onnxruntime {100 * r['ort_accuracy']:6.2f}%)  top-1 {100 * r['top1_agreement']:5.1f}%  "
                      f"equal {100 * r['equal']:6.2f}% (darwin3-wide {100 * row['wide_equal']:6.2f}%)  {r['schemes']}",
                      flush=True)
            results[f"{name}/{models.variant_id(variant)}"] = row
    return results


def _schemes(graph) -> dict:
    from collections import Counter

    return dict(Counter(n.attrs.get("integration") for n in graph.nodes if n.op == "stem"))


def _layers(name, path, x, target) -> dict:
    """Each neuron layer fed onnxruntime's codes of its inputs: the share of its codes that differ
    from onnxruntime's, summed by kind (exact STEM, other STEM, Add neuron, other)."""
    from sdannc.ir.ops import NEURON_OPS
    from sdannc.neurons import golden_op
    from sdannc.verification import _onnxruntime_codes

    graph = _lower(path, target, None)
    nodes = [n for n in graph.nodes if n.op in NEURON_OPS]
    names = sorted({i for n in nodes for i in n.inputs} | {n.output for n in nodes})
    codes, _, _ = _onnxruntime_codes(path, graph, names, x)
    codes[graph.input] = codes.get(graph.input)
    kinds: dict[str, list[int]] = {}
    for node in nodes:
        if any(codes.get(i) is None for i in node.inputs) or codes.get(node.output) is None:
            continue
        inputs = [codes[i].reshape((-1,) + graph.tensors[i].shape).astype(np.int64) for i in node.inputs]
        mine = golden_op(node, inputs, graph.tensors[node.output].shape, target.arith).reshape(len(x), -1)
        ort = codes[node.output].reshape(len(x), -1)
        kind = f"{node.op} {node.attrs.get('integration')}" if node.op == "stem" else node.op
        differ, total, layers = kinds.setdefault(kind, [0, 0, 0])
        kinds[kind] = [differ + int((mine != ort).sum()), total + ort.size, layers + 1]
    for kind, (differ, total, layers) in kinds.items():
        print(f"{name:20s} layers {kind:16s} {layers:3d} layers: {differ:8d} of {total:9d} codes differ "
              f"({100 * differ / max(total, 1):.3f}%) fed onnxruntime's inputs", flush=True)
    return {k: {"differ": d, "codes": t, "layers": n} for k, (d, t, n) in kinds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--sim-samples", type=int, default=8)
    parser.add_argument("--only", default="", help="only the models whose name contains this")
    parser.add_argument("--names", default="", help="only these models (comma-separated names)")
    parser.add_argument("--part", choices=("deep", "digits", "layers", "all"), default="all")
    args = parser.parse_args()
    narrow, wide = load_target("darwin3"), load_target("darwin3-wide")

    def wanted(name: str) -> bool:
        return args.only in name and (not args.names or name in args.names.split(","))

    if args.part in ("digits", "all"):
        _save("digits", _digits(args.only))
    if args.part in ("layers", "all"):
        _save("layers", {name: _layers(name, path, x[:16], narrow) for name, path, x, _ in _models(args.samples, wanted)})
    if args.part not in ("deep", "all"):
        return
    results = {}
    for name, path, x, calib in _models(args.samples, wanted):
        expected = reference(path).outputs(x).astype(np.float64)
        row = {"wide": _agreement(_lower(path, wide, None), wide, x, expected)}
        for scheme, integration in SCHEMES.items():
            start = time.perf_counter()
            graph = _lower(path, narrow, integration)
            row[scheme] = _agreement(graph, narrow, x, expected)
            row[scheme]["schemes"] = _schemes(graph)
            row[scheme + "_calib"] = _agreement(_lower(path, narrow, integration, calib), narrow, x, expected)
            if scheme in COSTED:
                try:
                    row[scheme].update(_cost(graph, narrow, x[:args.sim_samples]))
                except SdanncError as exc:  # a model that does not fit one chip: accuracy only
                    row[scheme]["cost"] = f"not simulated: {exc}"
            row[scheme]["seconds"] = time.perf_counter() - start
            del graph
        results[name] = row
        for key, r in row.items():
            cost = f"  {r['cycles_per_sample']:,.0f} cycles/sample, {r['energy_pj_per_sample'] / 1e6:.2f} uJ/sample" \
                if "cycles_per_sample" in r else ""
            print(f"{name:20s} {key:15s} top-1 {100 * r['top1_agreement']:5.1f}%  rms/std {r['rms_over_std']:.4f}  "
                  f"equal {100 * r['equal']:5.1f}%{cost}  {r.get('schemes', '')}", flush=True)
    _save("deep", results)


def _save(part: str, results: dict) -> None:
    """bench/out/integration_schemes.json's key `part` (read again just before: parts run apart)."""
    out = HERE / "out" / "integration_schemes.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = json.loads(out.read_text()) if out.exists() else {}
    saved[part] = {**saved.get(part, {}), **results}  # (models measured in runs of their own add up)
    out.write_text(json.dumps(saved, indent=1))


if __name__ == "__main__":
    main()
