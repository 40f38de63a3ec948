"""How well the cycle engine's steps share out over threads, measured on one core (docs/performance.md).

Usage: python bench/threads_bench.py [--stream N] [--threads T] [--image DIR]
VGG-11 32 x 32 (bench/models.py). Runs the stream once with 1 thread (CPU time per sample), then
once cut into the pieces of a T-thread run but with every piece run in this thread, one after the
other, timing each piece's CPU time (time.thread_time). From those times it gives what T threads
on T free cores would take: the time outside the pieces (serial), each batch of pieces shared out
as the pool does (each piece, in order, to the first thread that is free), and the Amdahl bound
of the serial fraction alone. So the split can be judged on a machine whose cores are busy.
"""

from __future__ import annotations

import os

for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # before numpy loads BLAS
    os.environ[_variable] = "1"

import heapq  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import models as bench_models  # noqa: E402  (bench/models.py)

import sdannc  # noqa: E402
from sdannc.sim import Simulator  # noqa: E402
from sdannc.sim import stepper as stepper_module  # noqa: E402


def _option(name: str, default):
    return type(default)(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def shared_out(durations: list[float], threads: int) -> float:
    """The wall time of pieces handed, in order, each to the first of `threads` free threads."""
    free = [0.0] * threads
    for d in durations:
        heapq.heappush(free, heapq.heappop(free) + d)
    return max(free)


class PieceTimer:
    """Stepper._all replaced: every piece run here, in order, its CPU time recorded per batch, and
    within it the time in the compiled kernels that release the interpreter's lock (the rest of a
    piece holds the lock: no two threads run it at once)."""

    def __init__(self) -> None:
        self.batches: list[list[tuple[float, float]]] = []  # per piece: (CPU time, of which in kernels)
        self.in_kernels = 0.0

    def __call__(self, stepper, pieces: list) -> list:
        results, times = [], []
        for piece in pieces:
            start, kernels = time.thread_time(), self.in_kernels
            results.append(piece())
            times.append((time.thread_time() - start, self.in_kernels - kernels))
        self.batches.append(times)
        return results

    def timing(self, kernel):
        def timed(*args):
            start = time.thread_time()
            try:
                return kernel(*args)
            finally:
                self.in_kernels += time.thread_time() - start
        return timed


def batch_wall(pieces: list[tuple[float, float]], threads: int) -> float:
    """A batch's wall time on `threads` free cores: shared out as the pool does, and never less than
    the pieces' time holding the interpreter's lock, which runs one thread at a time."""
    return max(shared_out([total for total, _ in pieces], threads), sum(total - k for total, k in pieces))


# (module, function): the compiled kernels that release the interpreter's lock, where this tree has them
# (so that the bench also runs on an older tree, for a before and after)
NOGIL_KERNELS = [(module, name) for module, names in (
    ("sdannc.sim.delivery_kernel", ("zero_cores", "gather_active", "deliver_groups", "saturate_cores")),
    ("sdannc.sim.program_kernel", ("run_tick",)), ("sdannc.sim.window_kernel", ("run_ticks",)),
    ("sdannc.sim.windows", ("count_sample_spikes", "record_sample_codes"))) for name in names]


def _kernels() -> list[tuple[object, str]]:
    found = []
    for module_name, name in NOGIL_KERNELS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, name):
            found.append((module, name))
    return found


def timed_pieces(sim: Simulator, batch: np.ndarray, threads: int) -> tuple[float, list[list[float]]]:
    """The run's CPU time, and its pieces' CPU times by batch, cut for `threads` threads but run in one."""
    timer = PieceTimer()
    originals = [(stepper_module.Stepper, "_all", stepper_module.Stepper._all)]
    originals += [(module, name, getattr(module, name)) for module, name in _kernels()]
    stepper_module.Stepper._all = lambda self, pieces: timer(self, pieces)
    for module, name, kernel in originals[1:]:
        setattr(module, name, timer.timing(kernel))
    try:
        start = time.process_time()
        sim.run(batch, threads=threads)
        total = time.process_time() - start
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
    return total, timer.batches


def main() -> None:
    stream, threads = _option("--stream", 32), _option("--threads", 2)
    path, x = bench_models.quantized(bench_models.vgg11(), HERE / "out" / "models")
    image_dir = Path(_option("--image", str(HERE / "out" / "threads" / "vgg11_image")))
    if not (image_dir / "network.json").exists():
        sdannc.compile(path).save(image_dir, force=True)
    sim = Simulator(sdannc.load(image_dir).image, "vgg11")
    batch = np.repeat(x, -(-stream // len(x)), axis=0)[:stream]
    sim.run(batch[:1], threads=1)  # loads the compiled kernels
    start = time.process_time()
    sim.run(batch, threads=1)
    one = time.process_time() - start
    total, batches = timed_pieces(sim, batch, threads)
    parallel = sum(t for b in batches for t, _ in b)
    in_kernels = sum(k for b in batches for _, k in b)
    serial = total - parallel
    modelled = serial + sum(batch_wall(b, threads) for b in batches)
    row = {"sdannc": str(Path(sdannc.__file__).parent), "stream": stream, "threads": threads,
           "load_average": os.getloadavg()[0],
           "cpu_per_sample_one_thread_s": one / stream, "cpu_per_sample_cut_s": total / stream,
           "serial_fraction": serial / total, "amdahl_bound": total / (serial + parallel / threads),
           "outside_kernels_fraction": 1 - in_kernels / total,
           "amdahl_bound_outside_kernels": total / (total - in_kernels + in_kernels / threads),
           "modelled_speedup": total / modelled, "batches": len(batches)}
    print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
