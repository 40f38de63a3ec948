"""Both simulator engines against onnxruntime, in one process, with the same threads.

    .venv/bin/python bench/engines_bench.py MODEL TARGET OUT_JSON [--samples N] [--threads T]

MODEL: vgg11 (32 x 32) or resnet18 (64 x 64) of bench/models.py, or mobilenet_v2 (32 x 32, the
torchvision architecture of tests/torch_models.py, random weights, BatchNorm statistics from digits
images); TARGET: darwin3 or darwin3-wide (or a target file). Per sample: the functional engine
on the batch of N (one lane, streamed), and one sample per call (the pipeline fill paid each call);
the cycle engine on the batch; onnxruntime's default kernels and its exact mode on the same batch,
in one call and one sample per call. The engines' outputs and reports are compared with ==.
Best of 2 runs after a warm-up that also compiles the kernels.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path


def _option(name: str, default: int) -> int:
    return int(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


THREADS = _option("--threads", 1)
if THREADS:
    for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ[_variable] = str(THREADS)

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE)]  # `models` is the tests' (tests/torch_models.py reads it)

import importlib.util  # noqa: E402

import numpy as np  # noqa: E402

_spec = importlib.util.spec_from_file_location("bench_models", HERE / "models.py")
bench_models = importlib.util.module_from_spec(_spec)  # bench/models.py, under its own name
_spec.loader.exec_module(bench_models)

import models as _test_models  # noqa: E402,F401  (before compile_bench puts bench/ first on the path)
from compile_bench import ort_seconds_per_sample  # noqa: E402
from sdannc.compiler import compile_to_image  # noqa: E402
from sdannc.sim import FunctionalSimulator, Simulator  # noqa: E402
from sdannc.sim.report import build_report  # noqa: E402
from sdannc.target import load_target  # noqa: E402


def model_path(name: str) -> tuple[Path, np.ndarray]:
    if name == "mobilenet_v2":
        sys.modules["models"] = _test_models  # what tests/torch_models.py imports
        import torch_models

        path = torch_models.quantized_deep("mobilenet_v2", 32, num_classes=10)
        return path, torch_models.digit_images(32, 8, start=300).astype(np.float32)
    return bench_models.quantized(getattr(bench_models, name)(), HERE / "out" / "models")


def best(run, repeats: int = 2) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    name, target_name, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    samples = _option("--samples", 32)
    path, x = model_path(name)
    batch = np.repeat(x, -(-samples // len(x)), axis=0)[:samples]
    start = time.perf_counter()
    _, image, compiled = compile_to_image(path, load_target(target_name))
    row = {"model": name, "target": Path(target_name).stem, "samples": samples, "threads": THREADS or "default",
           "compile_seconds": round(time.perf_counter() - start, 2), "cores": compiled["cores_used"],
           "neurons": compiled["neurons"], "load_average_at_start": os.getloadavg()}
    del compiled
    # one engine at a time (each holds its own network tables): the process stays within 2.5 GB
    start = time.perf_counter()
    functional = FunctionalSimulator(image, name)
    row["functional_load_seconds"] = round(time.perf_counter() - start, 2)
    functional.run(batch[:2])  # warm-up: the kernels compile (or load from numba's cache)
    f_batch, f_result = best(lambda: functional.run(batch))
    one = batch[:4]
    f_single, _ = best(lambda: [functional.run(one[i:i + 1]) for i in range(len(one))])
    b = build_report(functional, f_result)
    del functional
    gc.collect()
    start = time.perf_counter()
    cycle = Simulator(image, name)
    row["cycle_load_seconds"] = round(time.perf_counter() - start, 2)
    cycle.run(batch[:2])
    c_batch, c_result = best(lambda: cycle.run(batch), repeats=1)
    a = build_report(cycle, c_result)
    a.pop("engine"), b.pop("engine")
    row["equal"] = bool(np.array_equal(c_result.outputs, f_result.outputs) and a == b)
    row["load_average"] = os.getloadavg()
    ort = ort_seconds_per_sample(path, batch)
    row.update(functional_seconds_per_sample=f_batch / samples, functional_one_per_call=f_single / len(one),
               cycle_seconds_per_sample=c_batch / samples, ort_batch=ort["batch"], ort_one_per_call=ort["one_per_call"],
               ort_exact_batch=ort["exact"]["batch"], ort_exact_mode=ort["exact_mode"])
    row["functional_x_ort"] = row["functional_seconds_per_sample"] / row["ort_batch"]
    row["functional_one_per_call_x_ort"] = row["functional_one_per_call"] / row["ort_one_per_call"]
    row["cycle_x_ort"] = row["cycle_seconds_per_sample"] / row["ort_batch"]
    out.write_text(json.dumps(row, indent=1) + "\n")
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
