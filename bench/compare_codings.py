"""The spike codings compared on the trained digits CNN of tests/models.py (docs/codings.md).

    python bench/compare_codings.py OUT_DIR [--samples N] [--target NAME]...

Quantizes `digits_cnn` (Conv3x3 -> MaxPool -> Conv3x3 -> Gemm -> Gemm, trained on scikit-learn's
digits) with onnxruntime's static quantizer, saves it with the first N held-out digits and their
labels in OUT_DIR, and runs `sdannc compare` on it for each target (darwin3 and darwin3-wide by
default): OUT_DIR/digits_cnn-TARGET/index.html, and the table on stdout. The bundled MLP needs no
script: `sdannc compare examples/digits_mlp_q.onnx -i examples/digits_input.npy --labels
examples/digits_labels.npy -o OUT`.

Then, for both models, what the codes predict (`--predict-only` prints just this): the golden
model's codes of every layer, on darwin3-wide (where they are onnxruntime's), weighted by the
synapses each spike reaches, counted three ways: popcount(a) spikes per code (STEM, which the
simulator's SOPs equal), one spike per nonzero code (time to first spike), a spikes (rate). A
prediction for the codings that are not yet compiled, not a measurement of their neurons.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests")]  # tests/models.py builds and trains the model

import models  # noqa: E402

MODEL = "digits_cnn"
EXAMPLES = HERE.parent / "examples"


def predicted_sops(model_path, x: np.ndarray, target_name: str = "darwin3-wide") -> dict[str, dict[str, int]]:
    """layer -> {stem, ttfs, rate}: SOPs over the batch if each layer's input codes travel as
    popcount(a), [a > 0] or a spikes, from the golden model's codes and the backend's synapse counts."""
    from sdannc.backend import build_layers
    from sdannc.backend.synapses import synapse_counts
    from sdannc.compiler import lower_within_capacity
    from sdannc.golden import run_codes
    from sdannc.ir.codec import encode_input
    from sdannc.target import load_target

    target = load_target(target_name)
    graph, _ = lower_within_capacity(model_path, target)
    synapses = synapse_counts(graph, build_layers(graph, target))
    codes = run_codes(graph, encode_input(x, graph.input_encode).reshape(x.shape), target.arith, keep=True)
    spikes = {"stem": lambda c: np.unpackbits(c.astype(np.uint8)[..., None], axis=-1).sum(-1),
              "ttfs": lambda c: (c != 0).astype(np.int64), "rate": lambda c: c.astype(np.int64)}
    out: dict[str, dict[str, int]] = {}
    for layer, sources in synapses.items():
        row = out.setdefault(layer, dict.fromkeys(spikes, 0))
        for source, counts in sources:
            flat = codes[source].reshape(codes[source].shape[0], -1)
            for coding, count in spikes.items():
                row[coding] += int(count(flat).sum(axis=0) @ counts)
    return out


def print_predictions(name: str, model_path, x: np.ndarray) -> None:
    rows = predicted_sops(model_path, x)
    print(f"\n{name}: SOPs per sample if each layer's input codes travel as")
    print(f"  {'layer':10} {'STEM popcount(a)':>17} {'TTFS one spike':>15} {'rate a spikes':>14}")
    for layer, row in list(rows.items()) + [("all", {c: sum(r[c] for r in rows.values()) for c in ("stem", "ttfs", "rate")})]:
        print(f"  {layer:10} {row['stem'] / len(x):17,.0f} {row['ttfs'] / len(x):15,.0f} {row['rate'] / len(x):14,.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--target", action="append", default=None)
    parser.add_argument("--predict-only", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    model = args.out / f"{MODEL}_q.onnx"
    shutil.copyfile(models.quantized(MODEL), model)
    x, labels = args.out / f"{MODEL}_x.npy", args.out / f"{MODEL}_labels.npy"
    np.save(x, models.eval_set(models.float_model(MODEL), args.samples))
    np.save(labels, models.digits_data()[3][:args.samples])
    for target in [] if args.predict_only else args.target or ["darwin3", "darwin3-wide"]:
        command = [sys.executable, "-m", "sdannc", "compare", str(model), "-t", target, "-i", str(x), "--labels",
                   str(labels), "-o", str(args.out / f"{MODEL}-{target}"), "--force"]
        print("$ sdannc " + " ".join(command[3:]), flush=True)
        if subprocess.run(command).returncode:
            return 1
    print_predictions("digits MLP (examples/digits_mlp_q.onnx)", EXAMPLES / "digits_mlp_q.onnx",
                      np.load(EXAMPLES / "digits_input.npy"))
    print_predictions(f"digits CNN ({MODEL}, tests/models.py)", model, np.load(x))
    return 0


if __name__ == "__main__":
    sys.exit(main())
