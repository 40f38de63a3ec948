"""Neuron programs per tick, numpy engine against the compiled kernel (sdannc/sim/program_kernel.py).

    .venv/bin/python bench/program_engines.py [--neurons 184320] [--ticks 100] [--lanes 1] [--program stem_neuron]

One runner of the program over that many neurons (cores of 4096, as on darwin3), random dendrite
sums. Phases as the compiler sets them: every neuron at phase 0 on the first tick, so that all take
the requantizing branch together one tick in eight (--divergent: a random phase per neuron, so
that every tick splits every core). Each
engine runs the same ticks; the first tick (the kernel's compilation, or loading it from numba's
cache) is timed apart. Prints the mean, median and slowest tick (the median is a plain tick, the
slowest usually a requantizing one), and checks that both engines agree.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from sdannc.isa import assemble_file, load_isa
from sdannc.resources import data_dir
from sdannc.sim.executor import ProgramRunner
from sdannc.target import load_target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=184_320)
    parser.add_argument("--ticks", type=int, default=100)
    parser.add_argument("--lanes", type=int, default=1)
    parser.add_argument("--program", default="stem_neuron")
    parser.add_argument("--target", default="darwin3")
    parser.add_argument("--divergent", action="store_true", help="a random phase per neuron")
    args = parser.parse_args()
    isa, target = load_isa(), load_target(args.target)
    instrs = assemble_file(data_dir("isa") / "programs" / f"{args.program}.s", isa)
    cycles = {spec.mnemonic: spec.cycles for spec in isa.instructions}
    rng = np.random.default_rng(0)
    n = args.neurons
    config = np.zeros((target.core["config_registers"], n), dtype=np.int64)
    config[:4] = np.array([7, 0, 0, 255])[:, None]  # last phase, zero point, clamps
    state = np.zeros((n, target.core["state_fields"]), dtype=np.int64)
    state[:, 1] = 128
    state[:, 2] = rng.integers(0, 8, size=n) if args.divergent else 0  # phase
    state[:, 5] = rng.integers(1000, 30000, size=n)  # multiplier
    bounds = list(range(0, n, target.core["neurons"]))
    sums = rng.integers(-300, 300, size=(args.ticks + 1, args.lanes, n))
    results = {}
    for engine in ("numpy", "kernel"):
        runner = ProgramRunner(args.program, instrs, cycles, isa, target, config, state, bounds, args.lanes,
                               engine=engine)
        start = time.perf_counter()
        outs = [runner.run_tick(sums[0])]
        first = time.perf_counter() - start
        times = []
        for t in range(1, args.ticks + 1):
            start = time.perf_counter()
            outs.append(runner.run_tick(sums[t]))
            times.append(time.perf_counter() - start)
        results[engine] = (outs, runner.state)
        ms = np.asarray(times) * 1e3
        print(f"{engine:>6}: {ms.mean():7.3f} ms per tick, median {np.median(ms):.3f}, slowest {ms.max():.3f} "
              f"({args.lanes} x {n} neurons of {args.program}{', divergent' if args.divergent else ''}, "
              f"{args.ticks} ticks; first tick {first * 1e3:.0f} ms)")
    (a, sa), (b, sb) = results["numpy"], results["kernel"]
    same = np.array_equal(sa, sb) and all(np.array_equal(x, y) for p, q in zip(a, b) for x, y in zip(p, q))
    print("engines agree" if same else "ENGINES DIFFER")


if __name__ == "__main__":
    main()
