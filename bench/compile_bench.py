"""One compile benchmark in its own process (so that its peak memory is its own).

Usage: python bench/compile_bench.py vgg11|resnet18 TARGET OUT_JSON [--sim N]
Writes {model, target, seconds, peak_mb, cores, neurons, hops_total, hops_worst, hops_worst_per_axis,
error, sim: {...}} to OUT_JSON.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import models as bench_models  # noqa: E402  (bench/models.py)

from sdannc.compiler import compile_to_image  # noqa: E402
from sdannc.errors import SdanncError  # noqa: E402
from sdannc.sim import Simulator  # noqa: E402
from sdannc.target import load_target  # noqa: E402


def ort_seconds_per_sample(path: Path, x: np.ndarray) -> float:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    session.run(None, {name: x[:1]})
    start = time.perf_counter()
    for i in range(len(x)):
        session.run(None, {name: x[i:i + 1]})
    return (time.perf_counter() - start) / len(x)


def worst_hops_per_axis(image) -> int:
    """The longest route along one axis (the target's limit is per axis; the report's worst is x + y)."""
    return max((int(np.abs(core.axon_targets[:, :2]).max()) for core in image.cores if core.axon_targets.size),
               default=0)


def main() -> None:
    name, target_name, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    sim_samples = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--sim" else 0
    path, x = bench_models.quantized(getattr(bench_models, name)(), HERE / "out" / "models")
    row = {"model": name, "target": Path(target_name).stem}
    start = time.perf_counter()
    try:
        _, image, report = compile_to_image(path, load_target(target_name))
        row.update(seconds=round(time.perf_counter() - start, 2), cores=report["cores_used"],
                   neurons=report["neurons"], hops_total=report["hops_total"], hops_worst=report["hops_worst"],
                   hops_worst_per_axis=worst_hops_per_axis(image))
    except SdanncError as exc:
        row.update(seconds=round(time.perf_counter() - start, 2), error=str(exc))
        image = None
    row["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if image is not None and sim_samples:
        batch = np.repeat(x, -(-sim_samples // len(x)), axis=0)[:sim_samples]
        sim = Simulator(image, name)
        start = time.perf_counter()
        result = sim.run(batch)
        sim_s = (time.perf_counter() - start) / sim_samples
        ort_s = ort_seconds_per_sample(path, batch)
        row["sim"] = {"samples": sim_samples, "seconds_per_sample": sim_s, "ort_seconds_per_sample": ort_s,
                      "ratio": sim_s / ort_s, "synaptic_ops_per_sample": int(result.counters.sops.sum()) / sim_samples}
    out.write_text(json.dumps(row, indent=1) + "\n")
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
