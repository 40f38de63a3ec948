"""Tick by tick: inject input spikes, deliver spikes, run every core's program, read output spikes.

A batch runs as `lanes` independent streams side by side (default one: the whole batch streamed
through one chip, pipelined as the image's schedule says). Each lane is one chip; its samples start
`sample_interval` ticks apart. Outputs do not depend on the number of lanes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import SdanncError
from ..image.codec import decode_output, encode_input, input_dtype_ok
from ..image.model import ChipImage
from ..isa import load_isa
from .. import arith
from .delivery import deliver
from .executor import ProgramRunner
from .network import Network
from .windows import SampleWindows


def instruction_cycles(image: ChipImage, isa) -> dict[str, int]:
    """Cycle cost per mnemonic: the ISA's, with the target's overrides."""
    costs = {spec.mnemonic: spec.cycles for spec in isa.instructions}
    for mnemonic, value in image.target.cycles["instructions"].items():
        if mnemonic not in costs:
            raise SdanncError(f"target {image.target.name}: key 'cycles.instructions.{mnemonic}': not an instruction of ISA {isa.name}")
        costs[mnemonic] = int(value)
    return costs


def lanes_for(samples: int, wanted: int) -> int:
    """The most lanes, up to `wanted`, that split the batch evenly: no lane runs empty slots."""
    return max((n for n in range(1, max(1, min(wanted, samples)) + 1) if samples % n == 0), default=1)


@dataclass
class Counters:
    """What the run cost, summed over ticks and lanes unless the name says otherwise."""

    neuron_spikes: np.ndarray  # [neurons]
    input_spikes: int = 0
    sops: np.ndarray = None  # [cores]
    core_cycles: np.ndarray = None  # [cores]
    link_flits: np.ndarray = None  # [links]
    tick_cycles: list = field(default_factory=list)  # per tick: [lanes]
    # Inside real samples' windows only (sdannc/sim/windows.py), not pipeline fill and drain:
    sample_spikes: np.ndarray = None  # [neurons, bits]: spikes sent, by bit position (0 = MSB)
    sample_sops: np.ndarray = None  # [cores]
    sample_input_spikes: np.ndarray = None  # [bits]: input spikes injected, by bit position
    instructions: int = 0
    max_hops: int = 0


@dataclass
class SimResult:
    outputs: np.ndarray
    codes: np.ndarray  # [batch, outputs] output spike codes before decoding
    counters: Counters
    samples: int
    lanes: int
    ticks: int


class Simulator:
    def __init__(self, image: ChipImage, where: str = "<image>") -> None:
        self.image = image
        self.where = where
        self.target = image.target
        isa = load_isa(image.target.isa_name)
        cycles = instruction_cycles(image, isa)
        # Cores with the same program run as one array; their neurons get consecutive global ids.
        by_program: dict[bytes, list[int]] = {}
        for index, core in enumerate(image.cores):
            by_program.setdefault(core.program.tobytes(), []).append(index)
        self.core_base = np.zeros(len(image.cores), dtype=np.int64)
        self._groups = []  # (runner, global start, global end, image core indices)
        start = 0
        for members in by_program.values():
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
        self.network = Network(image, self.core_base, where)
        io = image.io
        self.output_global = self.core_base[io.output_core] + io.output_neuron

    def _runners(self, lanes: int) -> list[tuple[ProgramRunner, int, int, list[int]]]:
        config_bits = self.target.core["config_registers"]
        runners = []
        for members, lo, hi, bounds, instrs, cycles, isa in self._groups:
            config = np.zeros((config_bits, hi - lo), dtype=np.int64)
            states = []
            for index, offset in zip(members, bounds):
                core = self.image.cores[index]
                config[: core.config.size, offset: offset + core.n_neurons] = core.config[:, None]
                states.append(core.state)
            names = ", ".join(self.image.cores[m].name for m in members[:3]) + (" ..." if len(members) > 3 else "")
            runner = ProgramRunner(f"image {self.where}: core {names}", instrs, cycles, isa, self.target, config,
                                   np.concatenate(states, axis=0), bounds, lanes)
            runners.append((runner, lo, hi, members))
        return runners

    def check_input(self, x: np.ndarray, name: str) -> None:
        io = self.image.io
        if x.ndim < 1 or tuple(x.shape[1:]) != io.input_shape:
            raise SdanncError(f"input {name}: shape {tuple(x.shape)} does not match the image's input "
                              f"(batch, {', '.join(map(str, io.input_shape))})")
        if not input_dtype_ok(io.input_encode, x.dtype):
            wanted = "a float type" if io.input_encode["kind"] == "quantize" else io.input_encode["kind"]
            raise SdanncError(f"input {name}: dtype {x.dtype}, the image takes {wanted}")

    def run(self, x: np.ndarray, lanes: int = 1, name: str = "input",
            progress: Callable[[int, int], None] | None = None) -> SimResult:
        self.check_input(x, name)
        io, sched = self.image.io, self.image.schedule
        if sched.sample_interval < sched.bits:
            raise SdanncError(f"image {self.where}: network.json: sample_interval {sched.sample_interval} is shorter "
                              f"than the {sched.bits} input bits: recompile")
        samples = x.shape[0]
        lanes = lanes_for(samples, lanes)
        per_lane = samples // lanes
        codes_in = encode_input(x, io.input_encode).reshape(lanes, per_lane, io.n_inputs)
        codes_out = np.zeros((lanes, per_lane, io.n_outputs), dtype=np.int64)

        runners = self._runners(lanes)
        n_cores = len(self.image.cores)
        counters = Counters(
            neuron_spikes=np.zeros(self.n_neurons, dtype=np.int64),
            sops=np.zeros(n_cores, dtype=np.int64),
            core_cycles=np.zeros(n_cores, dtype=np.int64),
            link_flits=np.zeros(self.network.n_links, dtype=np.int64),
            sample_spikes=np.zeros((self.n_neurons, sched.bits), dtype=np.int64),
            sample_sops=np.zeros(n_cores, dtype=np.int64),
            sample_input_spikes=np.zeros(sched.bits, dtype=np.int64),
        )
        windows = SampleWindows(self.image, per_lane)
        fired = np.zeros((lanes, self.n_neurons), dtype=bool)
        ticks = sched.ticks_for(per_lane)
        for tick in range(ticks):
            injected = self._inject(tick, codes_in)
            counters.input_spikes += int(injected.sum())
            counters.sample_input_spikes[tick % sched.sample_interval % sched.bits] += int(injected.sum())
            fired, sops = self._tick(np.concatenate([fired, injected], axis=1), runners, counters, lanes)
            self._attribute(tick, windows, fired, sops, counters)
            self._read_outputs(tick, fired, codes_out)
            if progress is not None:
                progress(tick + 1, ticks)

        codes = codes_out.reshape(samples, io.n_outputs)
        outputs = decode_output(codes, io.output_decode).reshape((samples,) + io.output_shape)
        return SimResult(outputs, codes, counters, samples, lanes, ticks)

    def _inject(self, tick: int, codes_in: np.ndarray) -> np.ndarray:
        sched = self.image.schedule
        sample, bit = divmod(tick, sched.sample_interval)
        lanes = codes_in.shape[0]
        if bit >= sched.bits or sample >= codes_in.shape[1]:
            return np.zeros((lanes, codes_in.shape[2]), dtype=bool)
        spikes = (codes_in[:, sample, :] >> (sched.bits - 1 - bit)) & 1
        return spikes == 1

    def _read_outputs(self, tick: int, fired: np.ndarray, codes_out: np.ndarray) -> None:
        sched = self.image.schedule
        if tick < sched.output_offset:
            return
        sample, bit = divmod(tick - sched.output_offset, sched.sample_interval)
        if bit < sched.bits and sample < codes_out.shape[1]:
            codes_out[:, sample, :] |= fired[:, self.output_global].astype(np.int64) << (sched.bits - 1 - bit)

    def _tick(self, sources: np.ndarray, runners, counters: Counters, lanes: int) -> np.ndarray:
        lane_of, source_of = np.nonzero(sources)
        d = deliver(self.network, lanes, lane_of, source_of)
        wgtsum = arith.saturate(d.wgtsum.astype(np.int64), self.target.arith["dendrite_sum_bits"])
        fired = np.zeros((lanes, self.n_neurons), dtype=bool)
        soma = np.zeros((lanes, len(self.image.cores)), dtype=np.int64)
        for runner, lo, hi, members in runners:
            fired[:, lo:hi], cycles, executed = runner.run_tick(wgtsum[:, lo:hi])
            soma[:, members] = cycles
            counters.instructions += executed
        c = self.target.cycles
        core_cycles = (soma + d.sops * c["per_synaptic_event"] + d.packets_in * c["per_packet_in"]
                       + d.packets_out * c["per_packet_out"])
        flits = d.link_flits
        noc = d.max_hops * c["per_hop"] + flits.max(axis=1, initial=0) * c["per_flit_on_link"]
        counters.tick_cycles.append(core_cycles.max(axis=1, initial=0) + noc + c["tick_overhead"])
        counters.neuron_spikes += fired.sum(axis=0)
        counters.sops += d.sops.sum(axis=0)
        counters.core_cycles += core_cycles.sum(axis=0)
        counters.link_flits += flits.sum(axis=0).astype(np.int64)
        counters.max_hops = max(counters.max_hops, int(d.max_hops.max(initial=0)))
        return fired, d.sops

    def _attribute(self, tick: int, windows: SampleWindows, fired: np.ndarray, sops: np.ndarray,
                   counters: Counters) -> None:
        """Count the spikes and SOPs of this tick that belong to real samples."""
        counters.sample_sops += sops.sum(axis=0) * windows.receiving(tick)
        sending, bit = windows.sending(tick)
        neurons = np.flatnonzero(fired.any(axis=0))
        core = self.neuron_core[neurons]
        neurons, core = neurons[sending[core]], core[sending[core]]
        counters.sample_spikes[neurons, bit[core]] += fired[:, neurons].sum(axis=0)
