"""`make bench`: simulator throughput, compile time and memory, with the machine they ran on.

Simulator cases: a dense 4096 x 4096 STEM layer over 16 ticks (one sample: 8 ticks in, 8 out), and
a 3x3 convolution, 64 to 64 channels at 32 x 32. Images are hand-built (tests/handbuilt.py) on the
32-bit target so that the random weights cannot overflow; each case is timed over a few runs after
a warm-up and the best run is reported.
Compiler cases (bench/compile_bench.py, one process each for an honest peak memory): VGG-11 at
32 x 32 and ResNet-18 at 64 x 64 with random weights, quantized by onnxruntime; compiled for darwin3,
and where that fails on the route-length limit, for bench/targets/darwin3-longroutes.yaml to measure
speed anyway; then the simulator's time per sample against onnxruntime's on the same quantized model,
both given the same stream of samples (--stream, default 128) and the same threads (--threads,
default 1: on a shared machine BLAS thread pools thrash, and one thread each is the fair comparison).
Threads and eval (bench/eval_bench.py, its own process): VGG-11 32 x 32 on the cycle engine with 1
and 2 threads against onnxruntime with as many, and `sdannc eval` with 1 and 2 local workers.
Results go to stdout and bench/out/results.json.
Engine cases (bench/engines_bench.py, one process each): the functional and the cycle engine
against onnxruntime on VGG-11, ResNet-18 and MobileNetV2 (--engines), on darwin3 and darwin3-wide,
same batch and threads. Results go to stdout and bench/out/results.json.
Board cases (bench/board224.py, one process each, minutes and up to 14 GB; --board224 with no model
skips them): ResNet-18 and VGG-16 at 224 x 224 compiled for darwin3-4x4 or, if it refuses them,
darwin3-wafer; compile time and peak memory; one sample simulated, simulator == golden.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import platform
import sys
import time
from pathlib import Path


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stream", type=int, default=128, help="samples streamed through the simulator")
    parser.add_argument("--threads", type=int, default=1, help="threads for BLAS and onnxruntime (0: defaults)")
    parser.add_argument("--models", nargs="+", default=["vgg11", "resnet18"], help="compiler cases")
    parser.add_argument("--eval", type=int, default=64, help="samples of the sdannc eval case (VGG-11)")
    parser.add_argument("--engines", nargs="*", default=["vgg11", "resnet18", "mobilenet_v2"],
                        help="models for the engines' comparison (bench/engines_bench.py); none: skip it")
    parser.add_argument("--engine-samples", type=int, default=32, help="samples per engine run")
    parser.add_argument("--board224", nargs="*", default=["resnet18_224", "vgg16_224"],
                        help="models compiled for a board and simulated (bench/board224.py); none: skip it")
    return parser.parse_args()


ARGS = _arguments()
if ARGS.threads:  # before numpy loads BLAS
    for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[_variable] = str(ARGS.threads)

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the tests' hand-built images
from handbuilt import conv_stem_network, dense_stem_network, random_stem_conv, random_stem_layer  # noqa: E402
from sdannc.sim import Simulator  # noqa: E402
from sdannc.target import load_target  # noqa: E402

REPEATS = 3


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "threads": ARGS.threads or "default",
            "python": sys.version.split()[0], "numpy": np.__version__}


def time_run(sim: Simulator, x: np.ndarray, lanes: int) -> tuple[float, int]:
    sim.run(x[:1], lanes=1, threads=ARGS.threads or None)  # warm-up
    best, sops = float("inf"), 0
    for _ in range(REPEATS):
        start = time.perf_counter()
        result = sim.run(x, lanes=lanes, threads=ARGS.threads or None)
        best = min(best, time.perf_counter() - start)
        sops = int(result.counters.sops.sum())
    return best, sops


def case(name: str, build, x: np.ndarray, lanes: int = 1) -> dict:
    start = time.perf_counter()
    image = build()
    built = time.perf_counter() - start
    start = time.perf_counter()
    sim = Simulator(image, name)
    loaded = time.perf_counter() - start
    seconds, sops = time_run(sim, x, lanes)
    row = {
        "case": name, "samples": int(x.shape[0]), "lanes": lanes, "ticks": image.schedule.ticks_for(x.shape[0]),
        "cores": len(image.cores), "synaptic_events": sops, "seconds": round(seconds, 4),
        "events_per_second": sops / seconds, "build_seconds": round(built, 2), "load_seconds": round(loaded, 2),
    }
    print(f"{name:<34} {sops / 1e6:8.1f} M events  {seconds:7.3f} s  {sops / seconds / 1e6:8.0f} M events/s"
          f"  (load {loaded:.1f} s, {len(image.cores)} cores)", flush=True)
    return row


def main() -> None:
    target = load_target("darwin3-wide")
    rng = np.random.default_rng(0)
    dense = random_stem_layer(rng, 4096, 4096)
    conv = random_stem_conv(rng, 64, 64)
    x_dense = rng.integers(0, 256, size=(4, 4096)).astype(np.uint8)
    x_conv = rng.integers(0, 256, size=(4, 64, 32, 32)).astype(np.uint8)
    print(f"machine: {machine()}")
    rows = [
        case("dense 4096x4096, 1 sample", lambda: dense_stem_network(target, [dense], 64, big_only=True), x_dense[:1]),
        case("dense 4096x4096, 4 lanes", lambda: dense_stem_network(target, [dense], 64, big_only=True), x_dense, 4),
        case("conv3x3 64->64 @32x32, 1 sample", lambda: conv_stem_network(target, conv, 32, 32), x_conv[:1]),
        case("conv3x3 64->64 @32x32, 4-sample stream", lambda: conv_stem_network(target, conv, 32, 32), x_conv),
    ]
    out = Path(__file__).resolve().parent / "out"
    out.mkdir(exist_ok=True)
    compiled = [compile_case(name, out) for name in ARGS.models]
    engines = [engines_case(name, target, out) for name in ARGS.engines for target in ("darwin3", "darwin3-wide")]
    threads_and_eval = eval_case(out)
    boards = board224_case(out) if ARGS.board224 else []
    (out / "results.json").write_text(json.dumps({"machine": machine(), "simulator": rows, "compiler": compiled,
                                                  "engines": engines, "threads_and_eval": threads_and_eval,
                                                  "board224": boards}, indent=1) + "\n")


def board224_case(out: Path) -> list:
    """bench/board224.py: the 224 x 224 networks compiled for a board (each in its own process, minutes
    and up to 14 GB) and one sample simulated, simulator == golden."""
    result_file = out / "board224.json"
    subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "board224.py"), *ARGS.board224,
                    "--json", str(result_file)], stdout=subprocess.DEVNULL)  # (a failed model is a row of its own)
    rows = json.loads(result_file.read_text())
    for r in rows:
        if "sim_s" in r:
            print(f"board224 {r['model']:<13} {r['board']:<14} {r['chips']} chips, {r['cores']} cores: compile "
                  f"{r['compile_s']:.1f} s ({r['compile_cpu_s']:.1f} s CPU), peak {r['compile_peak_mb']:,} MB; one sample "
                  f"simulated in {r['sim_s']:.1f} s, simulator == golden: outputs {r['outputs_equal']}, counters "
                  f"{r['counters_equal']}", flush=True)
        else:
            print(f"board224 {r['model']:<13} error: {r.get('error', 'no simulation')}", flush=True)
    return rows


def engines_case(name: str, target: str, out: Path) -> dict:
    """The functional and cycle engines against onnxruntime on one model (bench/engines_bench.py, own process)."""
    result_file = out / f"engines_{name}_{target}.json"
    subprocess.run([sys.executable, str(Path(__file__).resolve().parent / "engines_bench.py"), name, target,
                    str(result_file), "--samples", str(ARGS.engine_samples), "--threads", str(ARGS.threads)],
                   check=True, stdout=subprocess.DEVNULL)
    row = json.loads(result_file.read_text())
    print(f"engines {name:<12} {target:<12} functional {row['functional_seconds_per_sample'] * 1e3:8.1f} ms/sample "
          f"({row['functional_x_ort']:.0f}x onnxruntime's batch), one per call "
          f"{row['functional_one_per_call'] * 1e3:.0f} ms ({row['functional_one_per_call_x_ort']:.0f}x); cycle "
          f"{row['cycle_seconds_per_sample'] * 1e3:.1f} ms ({row['cycle_x_ort']:.0f}x); equal: {row['equal']}",
          flush=True)


def eval_case(out: Path) -> dict:
    """bench/eval_bench.py in its own process: the cycle engine on 1 and 2 threads against onnxruntime
    on as many, and `sdannc eval` with 1 and 2 local workers, on VGG-11 32 x 32."""
    here = Path(__file__).resolve().parent
    result_file = out / "eval_vgg11.json"
    subprocess.run([sys.executable, str(here / "eval_bench.py"), str(result_file), "--stream", str(ARGS.stream),
                    "--eval", str(ARGS.eval)], check=True, stdout=subprocess.DEVNULL)
    row = json.loads(result_file.read_text())
    for threads, c in row["cycle"].items():
        ort = row["ort"][threads]["default"]
        print(f"cycle engine VGG-11, {threads} thread(s): {c['seconds_per_sample'] * 1e3:.1f} ms/sample, onnxruntime "
              f"{ort['batch_s'] * 1e3:.2f} ms batch ({c['ratio_to_ort_batch']:.0f}x), {ort['one_per_call_s'] * 1e3:.2f} ms "
              f"one per call ({c['ratio_to_ort_one_per_call']:.0f}x)", flush=True)
    print(f"cycle engine, 2 threads / 1: {row['cycle_two_threads_speedup']:.2f}x", flush=True)
    for e in row["eval"]:
        steady = f", {e['samples_per_s_steady']:.1f} steady" if e["samples_per_s_steady"] else ""
        print(f"eval VGG-11, {e['workers']} worker(s): {e['samples']} samples in {e['wall_s']:.1f} s "
              f"({e['samples_per_s_wall']:.1f} samples/s with start-up{steady})", flush=True)
    print(f"eval, 2 workers / 1: {row['eval_two_workers_speedup_wall']:.2f}x with start-up"
          + (f", {row['eval_two_workers_speedup_steady']:.2f}x steady" if "eval_two_workers_speedup_steady" in row
             else ""), flush=True)
    return row


def compile_case(name: str, out: Path) -> dict:
    """darwin3 first; if the route limit stops it, the long-routes variant, with a simulator run."""
    here = Path(__file__).resolve().parent
    results = []
    for target in ("darwin3", str(here / "targets" / "darwin3-longroutes.yaml")):
        result_file = out / f"compile_{name}_{Path(target).stem}.json"
        subprocess.run([sys.executable, str(here / "compile_bench.py"), name, target, str(result_file),
                        "--sim", str(ARGS.stream), "--threads", str(ARGS.threads)], check=True, stdout=subprocess.DEVNULL)
        row = json.loads(result_file.read_text())
        results.append(row)
        sim = row.get("sim")
        status = row.get("error") or (
            f"{row['cores']} cores, routes at most {row['hops_worst_per_axis']} hops per axis"
            + (f"; sim {sim['seconds_per_sample']:.3f} s/sample ({sim['samples']} streamed), onnxruntime "
               f"(default kernels; exact mode {sim['ort_exact_seconds_per_sample'] * 1e3:.2f} ms) "
               f"{sim['ort_seconds_per_sample'] * 1e3:.2f} ms/sample in one batch ({sim['ratio']:.0f}x), "
               f"{sim['ort_seconds_per_sample_one_per_call'] * 1e3:.2f} ms one per call "
               f"({sim['ratio_one_per_call']:.0f}x)" if sim else ""))
        print(f"compile {name:<9} {row['target']:<20} {row['seconds']:7.1f} s  peak {row['peak_mb']:6d} MB  {status}",
              flush=True)
        if "error" not in row:
            break
    return {"model": name, "runs": results}


if __name__ == "__main__":
    main()
