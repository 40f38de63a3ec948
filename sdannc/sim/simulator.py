"""Tick by tick: inject input spikes, deliver spikes, run every core's program, read output spikes.

The ticks are evaluated level by level over windows of ticks (stepper.py); the results are those
of the tick-by-tick description (docs/simulator.md).

A batch runs as `lanes` independent streams side by side (default one: the whole batch streamed
through one chip, pipelined as the image's schedule says). Each lane is one chip; its samples start
`sample_interval` ticks apart. Outputs do not depend on the number of lanes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..errors import SdanncError
from ..image.model import ChipImage
from ..inputs import check_batch
from ..ir.codec import decode_output, encode_input
from ..isa import load_isa
from .executor import ProgramRunner
from .layout import Layout, RunnerBlock
from .network import Network, image_core_levels
from .stepper import Counters, Stepper


# A step's dendrite sums hold about this many values (window x lanes x neurons); longer windows make
# larger products but no fewer operations.
_WINDOW_ELEMENTS = 1 << 23
_MAX_WINDOW = 64
# The spike ring keeps (levels + 1) windows of every neuron's spikes, a byte each: a deep network
# gets shorter windows rather than more memory.
_RING_BYTES = 1 << 29


def machine_threads() -> int:
    """The cores this process may run on: a run's threads unless told otherwise."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def lanes_for(samples: int, wanted: int) -> int:
    """The most lanes, up to `wanted`, that split the batch evenly: no lane runs empty slots."""
    return max((n for n in range(1, max(1, min(wanted, samples)) + 1) if samples % n == 0), default=1)


@dataclass
class SimResult:
    outputs: np.ndarray
    codes: np.ndarray  # [batch, outputs] output spike codes before decoding
    counters: Counters
    samples: int
    lanes: int
    ticks: int
    neuron_codes: np.ndarray | None = None  # [batch, neurons] each neuron's code per sample, if recorded


class Simulator:
    engine = "cycle"

    def __init__(self, image: ChipImage, where: str = "<image>", executor: str | None = None) -> None:
        """executor: how the neuron programs run, "kernel" (compiled) or "numpy" (executor.py); None:
        executor.ENGINE."""
        self.image = image
        self.where = where
        self.executor = executor
        self.target = image.target
        isa = load_isa(image.target.isa_name)
        cycles = image.target.instruction_cycles(isa)
        core_level, self.pipelined = image_core_levels(image)
        # Cores with the same program run as one array; their neurons get consecutive global ids,
        # ordered by level so that the cores of a range of levels are one slice of the array.
        by_program: dict[bytes, list[int]] = {}
        for index, core in enumerate(image.cores):
            by_program.setdefault(core.program.tobytes(), []).append(index)
        self.core_base = np.zeros(len(image.cores), dtype=np.int64)
        self._groups = []  # (members, global start, global end, bounds, instrs, cycles, isa)
        start = 0
        for members in by_program.values():
            members = sorted(members, key=lambda m: int(core_level[m]))
            bounds, offset = [], 0
            for index in members:
                self.core_base[index] = start + offset
                bounds.append(offset)
                offset += image.cores[index].n_neurons
            instrs = isa.decode_program(image.cores[members[0]].program)
            self._groups.append((members, start, start + offset, bounds, instrs, cycles, isa))
            start += offset
        self.n_neurons = start
        self.neuron_core = np.zeros(start, dtype=np.int64)  # global neuron -> image core index
        for index, core in enumerate(image.cores):
            self.neuron_core[self.core_base[index]: self.core_base[index] + core.n_neurons] = index
        self.network = Network(image, self.core_base, where, core_level)
        io = image.io
        self.output_global = self.core_base[io.output_core] + io.output_neuron

    def _runners(self, lanes: int, window: int = 1) -> list[RunnerBlock]:
        config_bits = self.target.core["config_registers"]
        blocks = []
        for members, lo, hi, bounds, instrs, cycles, isa in self._groups:
            if not self._runs_programs(members, window):
                blocks.append(RunnerBlock(None, lo, hi, np.asarray(members, dtype=np.int64),
                                          self.network.core_level[np.asarray(members, dtype=np.int64)],
                                          np.append(np.asarray(bounds, dtype=np.int64), hi - lo)))
                continue
            # the lookup memory (LUT): one row per core, its neurons point at it (only as many words as
            # the largest table written: the words beyond read 0, as on the chip)
            lut_words = (max([self.image.cores[m].lut.size for m in members] + [1])
                         if any(i.mnemonic == "LUT" for i in instrs) else 0)
            config = np.zeros((config_bits, hi - lo), dtype=np.int64)
            lut = np.zeros((len(members) if lut_words else 0, lut_words), dtype=np.int64)
            lut_of = np.zeros(hi - lo, dtype=np.int64)
            states = []
            for row, (index, offset) in enumerate(zip(members, bounds)):
                core = self.image.cores[index]
                config[: core.config.size, offset: offset + core.n_neurons] = core.config[:, None]
                if lut_words:
                    lut[row, : core.lut.size] = core.lut
                    lut_of[offset: offset + core.n_neurons] = row
                states.append(core.state)
            names = ", ".join(self.image.cores[m].name for m in members[:3]) + (" ..." if len(members) > 3 else "")
            runner = ProgramRunner(f"image {self.where}: core {names}", instrs, cycles, isa, self.target, config,
                                   np.concatenate(states, axis=0), bounds, lanes, lut=(lut, lut_of),
                                   engine=self.executor)
            members = np.asarray(members, dtype=np.int64)
            blocks.append(RunnerBlock(runner, lo, hi, members, self.network.core_level[members],
                                      np.append(np.asarray(bounds, dtype=np.int64), hi - lo)))
        return blocks

    def _runs_programs(self, members: list[int], window: int) -> bool:
        """Whether a run with this window runs these cores' programs (one program's cores; without,
        their block has no runner)."""
        return True

    def check_input(self, x: np.ndarray, name: str) -> None:
        io = self.image.io
        check_batch(x, io.input_shape, f"input {name}", "the image's input", io.input_encode)

    def window_for(self, lanes: int, ticks: int, wanted: int | None = None) -> int:
        """Ticks delivered per step: as many as keep a step's sums and spike ring within bounds;
        one without levels."""
        if not self.pipelined:
            return 1
        if wanted is None:
            per_tick = max(1, lanes * self.n_neurons)
            wanted = min(_MAX_WINDOW, _WINDOW_ELEMENTS // per_tick,
                         _RING_BYTES // ((self.network.n_levels + 1) * per_tick))
        return max(1, min(wanted, ticks))

    def run(self, x: np.ndarray, lanes: int = 1, name: str = "input",
            progress: Callable[[int, int], None] | None = None, window: int | None = None,
            record_codes: bool = False, threads: int | None = None) -> SimResult:
        """Simulate the batch; `window` (ticks per step) and `threads` (default: the machine's cores)
        change the speed only, never the results. `record_codes` also keeps every neuron's code per
        sample (its 8 spikes in its layer's window, sim/windows.py), for `codes_at`."""
        self.check_input(x, name)
        io, sched = self.image.io, self.image.schedule
        if sched.sample_interval < sched.bits:
            raise SdanncError(f"image {self.where}: network.json: sample_interval {sched.sample_interval} is shorter "
                              f"than the {sched.bits} input bits: recompile")
        samples = x.shape[0]
        lanes = lanes_for(samples, lanes)
        per_lane = samples // lanes
        codes_in = encode_input(x, io.input_encode).reshape(lanes, per_lane, io.n_inputs)
        ticks = sched.ticks_for(per_lane)
        layout = Layout(self.image, self.target, self.network, self.n_neurons, self.core_base, self.output_global)
        window = self.window_for(lanes, ticks, window)
        stepper = self._stepper(layout, self._runners(lanes, window), codes_in, ticks, window,
                                record_codes, machine_threads() if threads is None else threads)
        codes_out = stepper.run(progress)
        codes = codes_out.reshape(samples, io.n_outputs)
        outputs = decode_output(codes, io.output_decode).reshape((samples,) + io.output_shape)
        recorded = stepper.neuron_codes.reshape(samples, self.n_neurons) if record_codes else None
        return SimResult(outputs, codes, stepper.counters, samples, lanes, ticks, recorded)

    def _stepper(self, layout: Layout, runners: list[RunnerBlock], codes_in: np.ndarray, ticks: int, window: int,
                 record_codes: bool, threads: int) -> Stepper:
        """The engine of the run (the cycle engine's stepper; functional.py has the other)."""
        return Stepper(layout, runners, codes_in, ticks, window, record_codes, threads)

    def codes_at(self, result: SimResult, core: np.ndarray, neuron: np.ndarray) -> np.ndarray:
        """[batch, elements] the codes the neurons (image core, local neuron) emitted per sample, from a
        run with record_codes; the compiler's addresses (backend.neuron_addresses) say which neurons
        hold a tensor."""
        if result.neuron_codes is None:
            raise ValueError("the run did not record neuron codes: run(..., record_codes=True)")
        return result.neuron_codes[:, self.core_base[np.asarray(core)] + np.asarray(neuron)].astype(np.int64)
