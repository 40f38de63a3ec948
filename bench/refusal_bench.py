"""How fast and how small `sdannc compile`'s refusal of a network far too large for the chip is.

Usage: python bench/refusal_bench.py [wide224] [vgg16_224] [-t TARGET]   (default: wide224, darwin3)

Each model (bench/models.py, random weights) is quantized once by onnxruntime with 2 calibration
samples and cached in bench/out/models (VGG-16 at 224 x 224, 138 M weights, takes about 80 s and
6 GB the first time); then `sdannc compile` runs in a process of its own, so that its peak memory
(ru_maxrss) is the compile's alone. Prints one JSON line per model: seconds, peak_mb, the error.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _compile_alone(model: str, target: str) -> None:
    """The child: compile_model as `sdannc compile` calls it, timed."""
    from sdannc.compiler import compile_model
    from sdannc.errors import SdanncError

    row = {"model": Path(model).name, "target": target}
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        try:
            report = compile_model(model, target, Path(out) / "image")
            row["cores"] = report["cores_used"]
        except SdanncError as exc:
            row["error"] = str(exc)
    row["seconds"] = round(time.perf_counter() - start, 2)
    row["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(row), flush=True)


def _prepare(name: str) -> None:
    """A child too: the quantized model's path (the parent stays small, since a process's peak memory
    counts its parent's at the fork)."""
    sys.path.insert(0, str(HERE))
    import models as bench_models  # bench/models.py

    path, _ = bench_models.quantized(getattr(bench_models, name)(), HERE / "out" / "models", samples=2)
    print(path)


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["--child"]:
        _compile_alone(args[1], args[2])
        return
    if args[:1] == ["--prepare"]:
        _prepare(args[1])
        return
    target = args[args.index("-t") + 1] if "-t" in args else "darwin3"
    names = [a for a in args if a not in ("-t", target)] or ["wide224"]
    for name in names:
        path = subprocess.run([sys.executable, __file__, "--prepare", name], check=True, capture_output=True,
                              text=True).stdout.strip().splitlines()[-1]
        subprocess.run([sys.executable, __file__, "--child", path, target], check=True)


if __name__ == "__main__":
    main()
