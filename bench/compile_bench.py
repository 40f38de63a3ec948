"""One compile benchmark in its own process (so that its peak memory is its own).

Usage: python bench/compile_bench.py vgg11|resnet18 TARGET OUT_JSON [--sim N] [--threads T]
Writes {model, target, seconds, peak_mb, cores, neurons, hops_total, hops_worst, hops_worst_per_axis,
error, sim: {...}} to OUT_JSON.

--sim N streams N samples through the simulator and gives onnxruntime the same N samples, as one
batch and one sample per call; --threads T runs both with T threads (BLAS and onnxruntime's
intra-op pool), so that neither has more cores than the other.
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path


def _option(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


THREADS = _option("--threads", 0)  # 0: the libraries' defaults
if THREADS:  # before numpy loads BLAS
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = str(THREADS)

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import models as bench_models  # noqa: E402  (bench/models.py)

from sdannc.compiler import compile_to_image  # noqa: E402
from sdannc.errors import SdanncError  # noqa: E402
from sdannc.sim import Simulator  # noqa: E402
from sdannc.target import load_target  # noqa: E402


def _best_of_3(session, x: np.ndarray) -> dict:
    """Seconds per sample, best of 3, for the whole batch in one call and for one sample per call."""
    name = session.get_inputs()[0].name
    session.run(None, {name: x})
    batch, single = float("inf"), float("inf")
    for _ in range(3):
        start = time.perf_counter()
        session.run(None, {name: x})
        batch = min(batch, time.perf_counter() - start)
        start = time.perf_counter()
        for i in range(len(x)):
            session.run(None, {name: x[i:i + 1]})
        single = min(single, time.perf_counter() - start)
    return {"batch": batch / len(x), "one_per_call": single / len(x)}


def ort_seconds_per_sample(path: Path, x: np.ndarray) -> dict:
    """onnxruntime's time on the same batch: its default kernels (the speed a deployment gets, what the
    ratios compare with) and its exact mode (the reference the tests compare outputs with, about 3x
    slower on a VNNI CPU)."""
    from sdannc.reference import default_session, reference

    exact = reference(path, threads=THREADS)
    return {**_best_of_3(default_session(path, threads=THREADS), x),
            "exact": _best_of_3(exact.session, x), "exact_mode": exact.mode}


def worst_hops_per_axis(image) -> int:
    """The longest route along one axis (the target's limit is per axis; the report's worst is x + y)."""
    return max((int(np.abs(core.axon_targets[:, :2]).max()) for core in image.cores if core.axon_targets.size),
               default=0)


def main() -> None:
    name, target_name, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    sim_samples = _option("--sim", 0)
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
        start = time.perf_counter()
        sim = Simulator(image, name)
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        result = sim.run(batch, threads=THREADS or None)  # as many threads as onnxruntime
        sim_s = (time.perf_counter() - start) / sim_samples
        ort_s = ort_seconds_per_sample(path, batch)
        row["sim"] = {"samples": sim_samples, "ticks": result.ticks, "threads": THREADS or "default",
                      "load_seconds": round(load_s, 2), "seconds_per_sample": sim_s,
                      "ort_seconds_per_sample": ort_s["batch"], "ort_seconds_per_sample_one_per_call": ort_s["one_per_call"],
                      "ort_exact_seconds_per_sample": ort_s["exact"]["batch"], "ort_exact_mode": ort_s["exact_mode"], "ratio": sim_s / ort_s["batch"], "ratio_one_per_call": sim_s / ort_s["one_per_call"],
                      "synaptic_ops_per_sample_of_run": int(result.counters.sops.sum()) / sim_samples}  # fill and drain included
    out.write_text(json.dumps(row, indent=1) + "\n")
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
