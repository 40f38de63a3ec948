"""The paper's CIFAR-size networks on a board of Darwin3-like chips (docs/board.md): the CIFAR-10
ResNet-18 (3x3 stem, no max pool) and the CIFAR MobileNetV2 (stride-1 stem and first 24-channel block), both at 32 x 32 (random
weights, BatchNorm statistics from digits images: tests/torch_models.py), quantized by onnxruntime.

    .venv/bin/python bench/board_models.py [--board darwin3-2x2] [--n 3] [--plot DIR] [ARCH ...]

For each: compile for the board (time, peak memory of this process), the chips used and each chip's
cores, the compiler's link-load estimate against the simulator's measured loads, simulator == golden
on n inputs, and on the wide variant of the board (`darwin3-wide-...`) `sdannc verify`'s per-layer
comparison with onnxruntime (exact mode).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench")]

import torch_models  # noqa: E402

from sdannc.activity_report import plots  # noqa: E402
from sdannc.activity_report.collect import board_data  # noqa: E402
from sdannc.compiler import compile_in_memory  # noqa: E402
from sdannc.golden import run_codes  # noqa: E402
from sdannc.ir.codec import encode_input  # noqa: E402
from sdannc.sim import Simulator  # noqa: E402
from sdannc.sim.report import build_report  # noqa: E402
from sdannc.target import load_target  # noqa: E402
from sdannc.verification import verify_model  # noqa: E402

ARCHS = ["resnet18_cifar", "mobilenet_v2_cifar"]


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(arch: str, board: str, n: int, plot: Path | None, verify: bool = True) -> None:
    path = torch_models.quantized_deep(arch, 32, num_classes=10)
    calib = torch_models.digit_images(32, 16, start=128)
    x = torch_models.digit_images(32, n, start=300)
    target = load_target(board)
    start = time.perf_counter()
    compiled = compile_in_memory(path, target, calib)
    seconds = time.perf_counter() - start
    b = compiled.report["board"]
    print(f"## {arch} on {board}: compiled in {seconds:.1f} s (peak {_peak_mb():,.0f} MB so far), "
          f"{len(compiled.image.cores)} cores on {b['chips_used']} chips")
    for chip in b["chips"]:
        print(f"   chip {tuple(chip['chip'])}: {chip['cores']} cores, {chip['neurons']:,} neurons, "
              f"{chip['dendrite_words']:,} dendrite words")
    graph, image = compiled.graph, compiled.image
    del compiled
    start = time.perf_counter()
    sim = Simulator(image, arch)
    result = sim.run(x)
    expected = run_codes(graph, encode_input(x, graph.input_encode).reshape(x.shape), target.arith)
    equal = np.array_equal(result.codes, expected.reshape(len(x), -1))
    report = build_report(sim, result)
    print(f"   simulated {n} inputs in {time.perf_counter() - start:.1f} s: simulator == golden: {equal}")
    measured = report.get("board", {})
    busiest = measured.get("busiest_on_chip_link", report["busiest_link"])
    print(f"   busiest on-chip link: estimated {b['busiest_link']['link']} {b['busiest_link']['flits_per_sample']:.0f} "
          f"flits a sample ({b['estimate']}), measured {busiest['link']} {busiest.get('flits_per_sample', 0):.0f}")
    for est in b["chip_links"]:
        got = next((m for m in measured.get("chip_links", []) if m["from"] == est["from"] and m["to"] == est["to"]), None)
        print(f"   chip link {tuple(est['from'])} -> {tuple(est['to'])}: estimated {est['packets_per_sample']:.0f} "
              f"packets a sample, measured {got['packets_per_sample'] if got else 0:.0f}")
    print(f"   energy: {report['energy']['breakdown_pj']}")
    if plot is not None:
        plot.mkdir(parents=True, exist_ok=True)
        data = board_data(image, {"board": b}, report, n)
        (plot / f"{arch}_{board}.png").write_bytes(plots.board(data))
    del sim, result, image, graph  # not held while verify compiles and simulates again
    if not verify:
        return
    wide = board.replace("darwin3-", "darwin3-wide-", 1)
    start = time.perf_counter()
    check = verify_model(path, x, wide, calib=calib)
    rows = check.rows
    compared = [r for r in rows if r.differ is not None]
    print(f"   {wide}: sdannc verify in {time.perf_counter() - start:.1f} s: {len(compared)} of {len(rows)} layers "
          f"compared with onnxruntime, {sum(r.differ for r in compared)} elements differ; simulator != golden in "
          f"{sum(r.golden_differ for r in rows)} (peak {_peak_mb():,.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("archs", nargs="*", default=ARCHS)
    parser.add_argument("--board", default="darwin3-2x2")
    parser.add_argument("--n", type=int, default=3)
    parser.add_argument("--plot", type=Path)
    parser.add_argument("--no-verify", dest="verify", action="store_false", help="skip the wide board's verify")
    args = parser.parse_args()
    for arch in args.archs:
        measure(arch, args.board, args.n, args.plot, args.verify)


if __name__ == "__main__":
    main()
