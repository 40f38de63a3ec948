"""The cycle engine with 1 and 2 threads against onnxruntime in the same process, and `sdannc eval`
with 1 and 2 local workers, on VGG-11 32 x 32 (bench/models.py), in its own process.

Usage: python bench/eval_bench.py OUT_JSON [--stream N] [--eval N]
onnxruntime runs with the same threads as the simulator (its intra-op pool; BLAS is pinned to one
thread before numpy loads): its default kernels (a deployment's speed) and its exact mode (the
reference). The simulator's figure is the best of 2 runs of the N-sample stream after a warm-up.
The eval figures are the whole command's wall time (cluster start and each worker's image build
included) and its steady rate: samples per second between the moment every worker has finished its
first shard and the last shard.
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads BLAS
    os.environ[_variable] = "1"

import json  # noqa: E402
import shutil  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import models as bench_models  # noqa: E402  (bench/models.py)

import sdannc  # noqa: E402
from sdannc.sim import Simulator  # noqa: E402


def _option(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def _best(run, repeats: int = 2) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def ort_per_sample(path: Path, x: np.ndarray, threads: int) -> dict:
    from sdannc.reference import default_session, reference

    out = {}
    for mode, session in (("default", default_session(path, threads=threads)),
                          ("exact", reference(path, threads=threads).session)):
        name = session.get_inputs()[0].name
        session.run(None, {name: x})
        batch = _best(lambda: session.run(None, {name: x}), 3) / len(x)
        one = _best(lambda: [session.run(None, {name: x[i:i + 1]}) for i in range(len(x))], 3) / len(x)
        out[mode] = {"batch_s": batch, "one_per_call_s": one}
    return out


def eval_rate(image: Path, x: np.ndarray, workers: int, shard: int) -> dict:
    finished = []
    out = Path(tempfile.mkdtemp(prefix="sdannc-eval-bench-"))
    try:
        start = time.perf_counter()
        result = sdannc.evaluate(image, x, out / "result", workers=workers, shard_size=shard,
                                 progress=lambda done, total: finished.append(time.perf_counter()))
        wall = time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)
    times = finished[1:]  # the first call is progress(0, total), before any shard
    first_round = times[workers - 1]
    steady = (len(times) - workers) * shard / (times[-1] - first_round) if len(times) > workers else None
    return {"workers": workers, "samples": len(x), "shard_size": shard, "wall_s": wall,
            "samples_per_s_wall": len(x) / wall, "samples_per_s_steady": steady,
            "sops_per_sample": result.summary["per_sample"]["sops"]}


def main() -> None:
    out = Path(sys.argv[1])
    stream, eval_samples = _option("--stream", 32), _option("--eval", 64)
    path, x = bench_models.quantized(bench_models.vgg11(), HERE / "out" / "models")
    compiled = sdannc.compile(path)
    image_dir = HERE / "out" / "eval" / "vgg11_image"
    compiled.save(image_dir, force=True)
    batch = np.repeat(x, -(-stream // len(x)), axis=0)[:stream]
    sim = Simulator(compiled.image, "vgg11")
    sim.run(batch[:1], threads=1)  # loads the compiled kernels
    row = {"model": "vgg11", "cores": len(compiled.image.cores), "stream": stream, "cycle": {}, "ort": {}}
    outputs = {}
    for threads in (1, 2):
        seconds = _best(lambda: outputs.__setitem__(threads, sim.run(batch, threads=threads).outputs))
        row["cycle"][threads] = {"seconds_per_sample": seconds / stream}
        row["ort"][threads] = ort_per_sample(path, batch, threads)
        ratio = seconds / stream / row["ort"][threads]["default"]["batch_s"]
        row["cycle"][threads]["ratio_to_ort_batch"] = ratio
        row["cycle"][threads]["ratio_to_ort_one_per_call"] = (seconds / stream
                                                              / row["ort"][threads]["default"]["one_per_call_s"])
    assert np.array_equal(outputs[1], outputs[2])
    row["cycle_two_threads_speedup"] = (row["cycle"][1]["seconds_per_sample"] / row["cycle"][2]["seconds_per_sample"])
    x_eval = np.repeat(x, -(-eval_samples // len(x)), axis=0)[:eval_samples]
    row["eval"] = [eval_rate(image_dir, x_eval, workers, 8) for workers in (1, 2)]
    one, two = row["eval"]
    row["eval_two_workers_speedup_wall"] = two["samples_per_s_wall"] / one["samples_per_s_wall"]
    if one["samples_per_s_steady"] and two["samples_per_s_steady"]:
        row["eval_two_workers_speedup_steady"] = two["samples_per_s_steady"] / one["samples_per_s_steady"]
    out.write_text(json.dumps(row, indent=1) + "\n")
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
