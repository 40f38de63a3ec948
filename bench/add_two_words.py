"""The 16-bit Add neuron in one word (rounded products) and in two (MACW / SFTW): flips and cost.

    python bench/add_two_words.py [--samples N] [--verify-samples N] [--only NAME]

For each model, compiled for darwin3 with the Add neuron in two words (the compiler's choice) and in
one (its program before: `requantize.TWO_WORD_MAX_BITS` set to 0 for the comparison):
- per Add layer, its own flips: the layer fed darwin3-wide's codes, the fraction of its codes that
  differ from darwin3-wide's Add layer (golden model, --samples inputs);
- per Add layer, `sdannc verify`'s figures (the simulator's codes against onnxruntime's, the errors of
  every layer before it included: --verify-samples inputs), and the model's outputs against
  onnxruntime's (golden model: top-1 agreement, rms over std);
- the Add program's instructions and cycles per tick, from the compile report.
Models: the residual digits CNN of tests/models.py (QDQ uint8 and QOperator int8) and ResNet-18
(ImageNet stem) at 32 x 32 of tests/torch_models.py (random weights, BatchNorm statistics from digits
images, digits inputs). Results go to stdout and bench/out/add_two_words.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests")]

import sdannc  # noqa: E402
from sdannc.compiler import lower  # noqa: E402
from sdannc.frontend import load_onnx  # noqa: E402
from sdannc.golden.interpreter import run as golden_run  # noqa: E402
from sdannc.ir.codec import encode_input  # noqa: E402
from sdannc.ir.evaluate import walk  # noqa: E402
from sdannc.neurons import golden_op  # noqa: E402
from sdannc.passes import Options, requantize, run_pipeline  # noqa: E402
from sdannc.reference import reference  # noqa: E402
from sdannc.target import load_target  # noqa: E402


@contextlib.contextmanager
def words(n: int):
    """Compile the Add neuron in n words (1: the one-word program, as before the two-word one)."""
    saved = requantize.TWO_WORD_MAX_BITS
    requantize.TWO_WORD_MAX_BITS = saved if n == 2 else 0
    try:
        yield
    finally:
        requantize.TWO_WORD_MAX_BITS = saved


def _models(samples: int, verify_samples: int):
    import models
    import torch_models

    for variant in (("qdq", False, "uint8"), ("qop", True, "int8")):
        x = models.eval_set(models.float_model("residual_trained"), max(samples, verify_samples))
        yield f"residual_digits/{models.variant_id(variant)}", models.quantized("residual_trained", *variant), x
    yield "resnet18_32", torch_models.quantized_deep("resnet18", 32), torch_models.digit_images(
        32, max(samples, verify_samples), 300)


def own_flips(path, x, narrow, wide) -> dict:
    """Per Add layer: the fraction of its codes that differ from darwin3-wide's, every layer fed
    darwin3-wide's codes."""
    graph = run_pipeline(load_onnx(path), narrow, Options(model=str(path)))
    wide_nodes = {n.name: n for n in lower(path, wide).nodes}
    flips = {}

    def apply(node, inputs, shape, arith):
        exact = golden_op(wide_nodes[node.name], inputs, shape, wide.arith)
        if node.op == "adder":
            flips[node.name] = float((golden_op(node, inputs, shape, narrow.arith) != exact).mean())
        return exact

    walk(graph, {graph.input: encode_input(x, graph.input_encode).reshape(x.shape).astype(np.int64)}, narrow.arith,
         apply)
    out = golden_run(graph, x, narrow.arith).astype(np.float64)
    expected = reference(path).outputs(x).astype(np.float64)
    agreement = {"top1_agreement": float((out.reshape(len(x), -1).argmax(1) == expected.reshape(len(x), -1).argmax(1)).mean()),
                 "rms_over_std": float(np.sqrt(((out - expected) ** 2).mean()) / expected.std())}
    return {"own_flips": flips, **agreement}


def verified(path, x, narrow) -> dict:
    """`sdannc verify` per Add layer: the fraction of elements that differ from onnxruntime's, and
    the Add program's cost per tick."""
    result = sdannc.verify(str(path), x, narrow)
    compiled = sdannc.compile(str(path), narrow)
    cost = {r["layer"]: (r["instructions_per_tick"], r["cycles_per_tick"]) for r in compiled.report["layers"]
            if r["op"].startswith("add")}
    rows = {r.layer: r for r in result.rows}
    return {"verify_differ": {name: rows[name].differ_fraction for name in cost if name in rows},
            "golden_differ": sum(r.golden_differ for r in result.rows), "cost": cost}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--verify-samples", type=int, default=16)
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    narrow, wide = load_target("darwin3"), load_target("darwin3-wide")
    results = {}
    for name, path, x in _models(args.samples, args.verify_samples):
        if args.only not in name:
            continue
        row = {}
        for n in (1, 2):
            with words(n):
                row[f"{n}_words"] = {**own_flips(path, x[:args.samples], narrow, wide),
                                     **verified(path, x[:args.verify_samples], narrow)}
        results[name] = row
        for key, r in row.items():
            flips = r["own_flips"].values()
            print(f"{name:28s} {key}: top-1 {100 * r['top1_agreement']:5.1f}%  rms/std {r['rms_over_std']:.3f}  "
                  f"own flips per Add {min(flips):.2%}..{max(flips):.2%}  verify differ "
                  f"{min(r['verify_differ'].values()):.2%}..{max(r['verify_differ'].values()):.2%}  "
                  f"sim != golden {r['golden_differ']}  cost {sorted(set(map(str, r['cost'].values())))}", flush=True)
    out = HERE / "out" / "add_two_words.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
