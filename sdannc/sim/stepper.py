"""One run, step by step: each level of cores simulates a window of ticks ahead of the next level.

Level L at step s simulates ticks [(s - L) W, (s - L + 1) W). It hears only from lower levels,
whose spikes for those ticks (one tick earlier) were produced at earlier steps, and from the inputs,
known in advance. So one step delivers W ticks to every level at once, then runs every program W
times, each core at its own tick. Without levels
(connections with a cycle) W is 1 and every core is in level 0: plain tick by tick. Every tick of
every core is still simulated in full, and the results do not depend on W.

Spikes (and the programs' cycles) are kept for the last (levels + 1) windows in rings indexed by
tick, so that memory does not grow with the stream; input spikes are made from the codes as needed. A window's
counts (packets, SOPs, flits, cycles) and output bits are taken once every level has passed it.

With `threads` > 1 a step's work is shared out: the deliveries as (level, part of the window) pieces,
with the closing of the window the previous step finished beside them, then the programs as slices
of the cores at work in the step, each slice running the step's ticks in order in one compiled call
(window_kernel.py). The pieces write disjoint parts of the sums, rings and counts (a level's own
neurons and its own ticks' slots), and the compiled kernels release the interpreter's lock, so the
threads run at once; every integer is the same whatever the number of threads.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .. import arith
from ..ir.codec import spikes_at, tick_values
from ..ir.codes import STEM_CODING
from . import window_kernel
from .delivery import Delivery
from .layout import Layout, RunnerBlock
from .windows import SampleWindows


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
    sample_route_packets: np.ndarray | None = None  # [routes] on a board: packets inside real samples' windows


class Stepper:
    def __init__(self, layout: Layout, blocks: list[RunnerBlock], codes_in: np.ndarray, ticks: int,
                 window: int, record_codes: bool = False, threads: int = 1) -> None:
        self.layout, self.net, self.blocks = layout, layout.network, blocks
        self.lanes, per_lane, _ = codes_in.shape
        self.ticks, self.window = ticks, window
        self.windows = -(-ticks // window)
        self.top = self.net.n_levels - 1
        self.ring_ticks = (self.top + 2) * window
        self.ring = np.zeros((self.ring_ticks, self.lanes, layout.n_neurons), dtype=bool)
        self.codes_in = codes_in
        self._accounting(layout, per_lane, record_codes)
        self._level_end = [self._level_runs(b.levels) for b in blocks]
        self._views: dict[tuple[int, int, int], object] = {}
        self._sums = np.empty((window * self.lanes, layout.n_neurons), dtype=np.int64)
        self.delivery = Delivery(self.net, self.ring_ticks, self.lanes,
                                 arith.signed_range(layout.target.arith["dendrite_sum_bits"]))
        self._no_inputs = np.zeros((0, 0, 0), dtype=bool)
        self.threads = max(1, threads)
        # the window's ticks in `parts` contiguous runs, delivered apart; each step's members at
        # work (its levels') in `threads` slices of about equal neurons, run apart
        parts = min(self.threads, window)
        cuts = [window * p // parts for p in range(parts + 1)]
        self._parts = [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]
        self._pool = None
        self._closing = None  # run(): the window to close during the next step's deliveries

    def _accounting(self, layout: Layout, per_lane: int, record_codes: bool) -> None:
        """What a run counts and reads out (both engines' steppers count the same)."""
        self.codes_out = np.zeros((self.lanes, per_lane, layout.image.io.n_outputs), dtype=np.int64)
        n_cores = len(layout.image.cores)
        self.soma = np.zeros((self.ring_ticks, self.lanes, n_cores), dtype=np.int64)  # cycles of the programs
        self.counters = Counters(
            neuron_spikes=np.zeros(layout.n_neurons, dtype=np.int64),
            sops=np.zeros(n_cores, dtype=np.int64),
            core_cycles=np.zeros(n_cores, dtype=np.int64),
            link_flits=np.zeros(self.net.n_links, dtype=np.int64),
            sample_sops=np.zeros(n_cores, dtype=np.int64),
            sample_input_spikes=np.zeros(layout.image.schedule.bits, dtype=np.int64),
        )
        if self.net.chip_links is not None:
            self.counters.sample_route_packets = np.zeros(self.net.n_routes, dtype=np.int64)
        self.sample_windows = SampleWindows(layout.image, per_lane)
        # Opt-in: every neuron's code per sample [lanes, samples, neurons] (what `sdannc verify` compares).
        sched = layout.image.schedule
        self._tick_values = tick_values(sched.coding) if sched.coding != STEM_CODING else \
            np.int64(1) << (sched.bits - 1 - np.arange(sched.bits, dtype=np.int64))  # hand-built images: any bits
        self.neuron_codes = np.zeros((self.lanes, per_lane, layout.n_neurons),
                                     dtype=np.min_scalar_type(int(self._tick_values.sum()))) \
            if record_codes else None
        self._spikes_by_bit = np.zeros((layout.image.schedule.bits, layout.n_neurons), dtype=np.int64)

    @staticmethod
    def _member_slices(block: RunnerBlock, first: int, last: int, n: int) -> list[tuple[int, int]]:
        """Members first..last - 1 of the block (whole cores) in n contiguous runs of about equal
        neuron counts (fewer where there are fewer members)."""
        bounds = block.bounds  # members' first neurons, and the end
        lo, hi = bounds[first], bounds[last]
        cuts = (first + np.searchsorted(bounds[first:last], [lo + (hi - lo) * t / n for t in range(n)],
                                        side="left")).tolist()
        cuts = sorted(set(cuts + [last]))
        return [(a, b) for a, b in zip(cuts, cuts[1:]) if b > a]

    def _step_slices(self, step: int) -> list[list[tuple[int, int]]]:
        """Per block, the members of the levels at work in this step, in `threads` slices: the
        pieces are then equal at every step, the pipeline's fill and drain included (a split of all
        members would leave a step's few levels to one thread)."""
        lowest = max(0, step - (self.ticks - 1) // self.window)  # levels at work at the step's first tick
        highest = min(step, self.top)
        slices = []
        for block in self.blocks:
            first, last = np.searchsorted(block.levels, [lowest, highest + 1]).tolist()
            slices.append(self._member_slices(block, first, last, self.threads) if first < last else [])
        return slices

    def _input_spikes(self, start: int, n: int) -> np.ndarray:
        """Input spikes [n, lanes, inputs] of ticks start..start+n-1: bit b of sample s at tick s * interval + b
        (tick b of its window in the codings ttfs and rate, ir/codec.spikes_at)."""
        sched = self.layout.image.schedule
        lanes, per_lane, n_inputs = self.codes_in.shape
        spikes = np.zeros((n, lanes, n_inputs), dtype=bool)
        for k in range(n):
            sample, bit = divmod(start + k, sched.sample_interval)
            if bit < sched.bits and sample < per_lane:
                spikes[k] = spikes_at(self.codes_in[:, sample, :], bit, sched.coding)
        return spikes

    @staticmethod
    def _level_runs(levels: np.ndarray) -> np.ndarray:
        """For each member, the index one past the last member of its level (members are by level)."""
        return np.searchsorted(levels, levels, side="right")

    def run(self, progress: Callable[[int, int], None] | None) -> np.ndarray:
        if progress is not None:  # shown at once: the first run also compiles the kernels (docs/simulator.md)
            progress(0, self.ticks)
        if self.threads > 1:
            self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="sdannc-sim")
        # With a pool, the window a step finishes is closed as a piece of the next step's deliveries,
        # beside them: they write none of what it reads (its ticks' ring slots are next written two
        # steps on, the count rings' by no delivery of the next step), and it writes nothing they read.
        self._closing = None
        try:
            for step in range(self.windows + self.top):
                self._step(step)
                if self._closing is not None:
                    self._closed(self._closing, progress)
                    self._closing = None
                done = step - self.top
                if 0 <= done < self.windows:
                    if self._pool is None:
                        self._close_window(done)
                        self._closed(done, progress)
                    else:
                        self._closing = done
            if self._closing is not None:  # the last window: no step left to close it beside
                self._close_window(self._closing)
                self._closed(self._closing, progress)
        finally:
            if self._pool is not None:
                self._pool.shutdown()
                self._pool = None
        self.counters.sample_spikes = np.ascontiguousarray(self._spikes_by_bit.T)
        return self.codes_out

    def _closed(self, window: int, progress: Callable[[int, int], None] | None) -> None:
        if progress is not None:
            progress(min((window + 1) * self.window, self.ticks), self.ticks)

    def _all(self, pieces: list) -> list:
        """Call every piece (a function of no arguments): in this thread, or shared out over the pool."""
        if self._pool is None or len(pieces) < 2:
            return [piece() for piece in pieces]
        return list(self._pool.map(lambda piece: piece(), pieces))

    # ---- one step: deliver a window to every level, then run the programs ------------------------
    def _step(self, step: int) -> None:
        w, lanes = self.window, self.lanes
        sums = self._sums  # each level's neurons are cleared and filled by its delivery
        deliveries = []
        if self._closing is not None:  # the window the previous step finished (run)
            deliveries.append(lambda window=self._closing: self._close_window(window))
        for level in range(self.top + 1):
            if 0 <= step - level < self.windows:
                for a, b in self._parts:
                    deliveries.append(lambda level=level, a=a, b=b: self._deliver(level, (step - level) * w, a, b))
        self._all(deliveries)
        slices = self._step_slices(step)
        executed = self._all([lambda t=t: self._run_slice(slices, t, step, sums) for t in range(self.threads)])
        self.counters.instructions += sum(executed)

    def _deliver(self, level: int, start: int, a: int, b: int) -> None:
        """Ticks start + a .. start + b - 1 of the level's window: its sums and counts."""
        ticks = start + np.arange(a, b)
        slots = (ticks - 1) % self.ring_ticks  # neurons' spikes arrive a tick later
        inputs = self._input_spikes(start + a, b - a) if self.net.level_input_sources[level].size else self._no_inputs
        self.delivery.deliver(level, self.ring, slots, inputs, ticks % self.ring_ticks,
                              self._sums[a * self.lanes:b * self.lanes])

    def _run_slice(self, slices: list[list[tuple[int, int]]], t: int, step: int, sums: np.ndarray) -> int:
        """Slice t of every runner's members at work (slices: _step_slices) through the step's ticks,
        in order; instructions executed. Blocks are disjoint cores: one block's ticks may run
        before the next block's (nothing they write is read before the step's end)."""
        executed = 0
        for b, block in enumerate(self.blocks):
            if t < len(slices[b]):
                for first, last, j0, j1 in self._tick_runs(block, *slices[b][t], step):
                    executed += self._run_members(b, first, last, sums, step, j0, j1)
        return executed

    def _tick_runs(self, block: RunnerBlock, lo_member: int, hi_member: int, step: int) -> list[tuple[int, ...]]:
        """(first, last, j0, j1): the step's ticks j0..j1 - 1 in runs over which the members at work
        among lo_member..hi_member - 1 stay members first..last - 1. They change only in the last
        windows, where the lower levels have passed the last tick."""
        w = self.window
        lowest = np.maximum(0, step - (self.ticks - 1 - np.arange(w)) // w)  # higher levels are past the last tick
        highest = min(step, self.top)  # lower levels are before the first
        firsts = np.maximum(np.searchsorted(block.levels, lowest), lo_member).tolist()
        last = min(int(np.searchsorted(block.levels, highest + 1)), hi_member)
        runs, j0 = [], 0
        for j1 in range(1, w + 1):
            if j1 == w or firsts[j1] != firsts[j0]:
                if firsts[j0] < last:
                    runs.append((firsts[j0], last, j0, j1))
                j0 = j1
        return runs

    def _view(self, b: int, first: int, last: int):
        """Block b's runner over members first..last - 1 (made once)."""
        view = self._views.get((b, first, last))
        if view is None:
            block = self.blocks[b]
            view = self._views[(b, first, last)] = block.runner.view(int(block.bounds[first]), int(block.bounds[last]))
        return view

    def _run_members(self, b: int, first: int, last: int, sums: np.ndarray, step: int, j0: int, j1: int) -> int:
        """Members first..last - 1 of block b through ticks j0..j1 - 1 of the step, each at its level's
        tick; instructions executed. In one compiled call (window_kernel.py) where the program runs
        on the kernel, else tick by tick on the numpy engine."""
        view = self._view(b, first, last)
        arguments = view.kernel_arguments()
        if arguments is None:
            lanes = self.lanes
            return sum(self._run_block(b, first, last, sums[j * lanes:(j + 1) * lanes], step, j)
                       for j in range(j0, j1))
        block = self.blocks[b]
        lo, hi = int(block.bounds[first]), int(block.bounds[last])
        member_ticks = (step - block.levels[first:last]) * self.window
        executed, outcome = window_kernel.run_ticks(*arguments, sums, self.lanes, j0, j1, block.lo + lo, hi - lo,
                                                    member_ticks, block.members[first:last], self.ring, self.soma)
        view.check_outcome(outcome)
        return int(executed)

    def _run_block(self, b: int, first: int, last: int, rows: np.ndarray, step: int, j: int) -> int:
        """Members first..last of block b, each at its level's tick of this step; instructions executed."""
        block = self.blocks[b]
        lo, hi = int(block.bounds[first]), int(block.bounds[last])
        fired, cycles, executed = self._view(b, first, last).run_tick(rows[:, block.lo + lo:block.lo + hi])
        ticks = (step - block.levels[first:last]) * self.window + j
        self.soma[ticks % self.ring_ticks, :, block.members[first:last]] = cycles.T
        member = first
        while member < last:  # each level's spikes go to its own tick
            end = min(int(self._level_end[b][member]), last)  # a slice may end inside a level
            a, z = int(block.bounds[member]), int(block.bounds[end])
            self.ring[ticks[member - first] % self.ring_ticks, :, block.lo + a:block.lo + z] = fired[:, a - lo:z - lo]
            member = end
        return executed

    # ---- a window every level has passed: counts and outputs ------------------------------------
    def _close_window(self, window: int) -> None:
        start = window * self.window
        n = min(self.window, self.ticks - start)
        ticks = start + np.arange(n)
        fired = self.ring[ticks % self.ring_ticks]  # [n, lanes, neurons]
        self.counters.neuron_spikes += fired.sum(axis=(0, 1))
        self._read_outputs(ticks, fired)
        injected = self._input_spikes(start, n)
        self.counters.input_spikes += int(injected.sum())
        c = self.delivery.take_costs(ticks % self.ring_ticks)
        self._count(c, start, n)
        if c.routes is not None:  # a board: the packets of real samples, by the receiving core's window
            for k, tick in enumerate(ticks.tolist()):
                inside = self.sample_windows.receiving(tick)[self.net.route_dest]
                self.counters.sample_route_packets += c.routes[k * self.lanes:(k + 1) * self.lanes].sum(axis=0) * inside
        self._attribute(ticks, fired, injected, c.sops.reshape(n, self.lanes, -1))

    def _attribute(self, ticks: np.ndarray, fired: np.ndarray, injected: np.ndarray, sops: np.ndarray) -> None:
        """Count the spikes and SOPs of these ticks that belong to real samples (not fill and drain)."""
        windows, counters, sched = self.sample_windows, self.counters, self.layout.image.schedule
        for k, tick in enumerate(ticks.tolist()):
            bit = tick % sched.sample_interval
            if bit < sched.bits:
                counters.sample_input_spikes[bit] += int(injected[k].sum())
            counters.sample_sops += sops[k].sum(axis=0) * windows.receiving(tick)
        windows.count_spikes(fired, ticks, self.layout.core_base, self._spikes_by_bit)
        if self.neuron_codes is not None:
            windows.record_codes(fired, ticks, self.layout.core_base, self.neuron_codes, self._tick_values)

    def _read_outputs(self, ticks: np.ndarray, fired: np.ndarray) -> None:
        """Output bit b of sample s is its neuron's spike at tick s * interval + output_offset + b; the
        code is the sum of its spikes' values (ir/codec.tick_values: 2^(7 - b) for stem)."""
        sched = self.layout.image.schedule
        for k, tick in enumerate(ticks):
            if tick < sched.output_offset:
                continue
            sample, bit = divmod(int(tick) - sched.output_offset, sched.sample_interval)
            if bit < sched.bits and sample < self.codes_out.shape[1]:
                spikes = fired[k][:, self.layout.output_global].astype(np.int64)
                self.codes_out[:, sample, :] += spikes * self._tick_values[bit]

    def _count(self, c, start: int, n: int) -> None:
        """Per tick: the slowest core, then the network's delivery; per core and link: totals."""
        cyc = self.layout.target.cycles
        soma = self.soma[(start + np.arange(n)) % self.ring_ticks].reshape(n * self.lanes, -1)
        core_cycles = (soma + c.sops * cyc["per_synaptic_event"] + c.packets_in * cyc["per_packet_in"]
                       + c.packets_out * cyc["per_packet_out"])
        if c.max_delay is None:
            noc = c.max_hops * cyc["per_hop"] + c.link_flits.max(axis=1, initial=0) * cyc["per_flit_on_link"]
        else:  # a board: the slowest route with its chip crossings, then the busiest link at its own rate
            chip = self.net.chip_links
            on_chip = c.link_flits[:, ~chip].max(axis=1, initial=0) * cyc["per_flit_on_link"]
            across = np.ceil(c.link_flits[:, chip].max(axis=1, initial=0)
                             / self.layout.target.chip_links["flits_per_cycle"]).astype(np.int64)
            noc = c.max_delay + np.maximum(on_chip, across)
        tick_cycles = core_cycles.max(axis=1, initial=0) + noc + cyc["tick_overhead"]
        self.counters.tick_cycles.extend(tick_cycles.reshape(n, self.lanes))
        self.counters.sops += c.sops.sum(axis=0)
        self.counters.core_cycles += core_cycles.sum(axis=0)
        self.counters.link_flits += c.link_flits.sum(axis=0).astype(np.int64)
        self.counters.max_hops = max(self.counters.max_hops, int(c.max_hops.max(initial=0)))
