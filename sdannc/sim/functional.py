"""The functional engine: the same outputs and counters as the cycle engine, layer after layer.

The cycle engine (stepper.py) delivers every spike packet by packet, each level of cores a window
ahead of the next. This engine takes one window of ticks at a time through the whole network, level
after level (a level hears only from lower ones, network.py): a level's dendrite sums for every
tick of the window are integer products of its sources' spikes (each tick's bit plane) with its
dendrite groups' weight matrices, on BLAS in float32 where every partial sum is provably below 2^24
(float64 below 2^53, int64 beyond), and then the level's own programs (the image's, on the
executor the cycle engine uses) run the window's ticks. A group is a core's dendrites that share
one neuron-id list (network.DendriteGroup): a packet adds its weight row at the neurons its carried
index shifts the list to, so per tick the group's sums are M @ W, with M[i, r] the spikes of the
sources whose packets reach row r with carried index i, scattered back to neuron i + offset.

What the packets cost (SOPs, packets in and out, flits per route, the longest route) is counted
per spiking source from the same tables the delivery counts with, and the window's accounting is
the stepper's own (Stepper._close_window): the outputs, every counter and the report are equal to
the cycle engine's, pipeline fill and drain included, for any lanes and any window.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import SdanncError
from .. import arith
from . import functional_kernel as fk
from .layout import Layout, RunnerBlock
from .network import Network
from .simulator import Simulator
from .stepper import Counters, Stepper
from .windows import SampleWindows

_FLOAT32_EXACT = 1 << 24  # integers below it, and every sum of them below it, are exact in float32
_FLOAT64_EXACT = 1 << 53


@dataclass
class GroupProduct:
    """One dendrite group's sums as a product: M [columns, |carried| x rows] @ weights."""

    gather: np.ndarray | None  # [packets] the level source of each M entry (no two packets share one)
    spread: sp.csr_matrix | None  # else: [level sources, |carried| x rows] packet counts
    entry: np.ndarray  # [packets] the M entry (carried index's rank x rows + row) of each packet
    n_carried: int
    weights: np.ndarray  # [rows, taps] float32, float64 or int64
    targets: np.ndarray  # [|carried| x taps] global neuron of each product entry


def _exact_dtype(bound: int):
    if bound < _FLOAT32_EXACT:
        return np.float32
    if bound < _FLOAT64_EXACT:
        return np.float64
    return np.int64


def group_products(net: Network, level: int) -> list[GroupProduct]:
    """The products of one level's dendrite groups, from the delivery's tables (network.level_packets)."""
    lp = net.level_packets[level]
    n_sources = net.level_sources[level].size
    out = []
    for gi, g in enumerate(lp.groups.tolist()):
        first, last = lp.run_ptr[lp.group_run_ptr[gi]], lp.run_ptr[lp.group_run_ptr[gi + 1]]
        source, row, carried = lp.source[first:last], lp.row[first:last], lp.carried[first:last]
        group = net.groups[g]
        rows, taps = group.weights.shape
        ranks, rank = np.unique(carried, return_inverse=True)
        entry = rank.reshape(-1) * rows + row
        width = ranks.size * rows
        spread = sp.csr_matrix((np.ones(entry.size), (source, entry)), shape=(n_sources, width))
        spread.sum_duplicates()
        hits = int(spread.data.max(initial=0)) if spread.nnz else 0
        unique = np.unique(entry).size == entry.size  # (a source's spike is 0 or 1: M entries are counts)
        most = max(hits, 1) * int(np.abs(group.weights).sum(axis=0).max(initial=0))
        dtype = _exact_dtype(most)
        out.append(GroupProduct(
            gather=source if unique else None, spread=None if unique else spread.astype(dtype),
            entry=entry, n_carried=int(ranks.size), weights=np.ascontiguousarray(group.weights, dtype=dtype),
            targets=(group.base + ranks[:, None] + group.offsets[None, :]).reshape(-1).astype(np.int64)))
    return out


class _CostRings:
    """The delivery's count rings (delivery.Delivery's), filled by counting packets per spike."""

    def __init__(self, net: Network, ring_ticks: int, lanes: int) -> None:
        self.net = net
        n_cores = len(net.image.cores)
        self.sops, self.packets_in, self.packets_out = (np.zeros((ring_ticks, lanes, n_cores), dtype=np.int64)
                                                        for _ in range(3))
        self.route_packets = np.zeros((ring_ticks, lanes, net.n_routes), dtype=np.int64)
        self.hops = np.zeros((ring_ticks, lanes), dtype=np.int64)
        p = net.packets
        self.packet_taps = net.g_taps[p.group] if p.group.size else np.zeros(0, dtype=np.int64)

    def count(self, ring, slots, inputs, tick_slots) -> None:
        p = self.net.packets
        fk.count_packets(ring, slots, inputs, self.net.n_neurons, p.ptr, p.core, self.packet_taps, p.pair,
                         p.from_core, p.hops, tick_slots, self.sops, self.packets_in, self.packets_out,
                         self.route_packets, self.hops)

    def take_costs(self, tick_slots: np.ndarray):
        from .delivery import Costs

        def take(ring: np.ndarray) -> np.ndarray:
            values = ring[tick_slots].reshape((-1,) + ring.shape[2:])
            ring[tick_slots] = 0
            return values

        routes = take(self.route_packets)
        return Costs(take(self.sops), take(self.packets_in), take(self.packets_out),
                     (self.net.route_link_flits.T @ routes.T).T, take(self.hops))


class FunctionalStepper(Stepper):
    """A run window by window, every level in one step (Stepper's levels a window apart become one
    window, level after level), the sums as products; the accounting is Stepper's."""

    def __init__(self, layout: Layout, blocks: list[RunnerBlock], codes_in: np.ndarray, ticks: int,
                 window: int, products: list[list[GroupProduct]], record_codes: bool = False) -> None:
        self.layout, self.net, self.blocks = layout, layout.network, blocks
        self.lanes, per_lane, _ = codes_in.shape
        self.ticks, self.window = ticks, window
        self.windows = -(-ticks // window)
        self.top = 0  # every level at once: a window closes at its own step
        self.ring_ticks = 2 * window  # this window and the previous one's last tick
        self.ring = np.zeros((self.ring_ticks, self.lanes, layout.n_neurons), dtype=bool)
        self.codes_in = codes_in
        self.codes_out = np.zeros((self.lanes, per_lane, layout.image.io.n_outputs), dtype=np.int64)
        n_cores = len(layout.image.cores)
        self.soma = np.zeros((self.ring_ticks, self.lanes, n_cores), dtype=np.int64)
        self.counters = Counters(
            neuron_spikes=np.zeros(layout.n_neurons, dtype=np.int64),
            sops=np.zeros(n_cores, dtype=np.int64),
            core_cycles=np.zeros(n_cores, dtype=np.int64),
            link_flits=np.zeros(self.net.n_links, dtype=np.int64),
            sample_sops=np.zeros(n_cores, dtype=np.int64),
            sample_input_spikes=np.zeros(layout.image.schedule.bits, dtype=np.int64),
        )
        self.sample_windows = SampleWindows(layout.image, per_lane)
        self.neuron_codes = np.zeros((self.lanes, per_lane, layout.n_neurons),
                                     dtype=np.min_scalar_type((1 << layout.image.schedule.bits) - 1)) \
            if record_codes else None
        self._spikes_by_bit = np.zeros((layout.image.schedule.bits, layout.n_neurons), dtype=np.int64)
        self._sums = np.zeros((window * self.lanes, layout.n_neurons), dtype=np.int64)
        self._sum_range = arith.signed_range(layout.target.arith["dendrite_sum_bits"])
        self.delivery = _CostRings(self.net, self.ring_ticks, self.lanes)
        self._products = products
        self._no_inputs = np.zeros((0, 0, 0), dtype=bool)
        # per level: (block, runner view over the level's members, their image cores) to run
        self._level_views = [[] for _ in range(self.net.n_levels)]
        for block in blocks:
            for level in np.unique(block.levels).tolist():
                first, last = np.searchsorted(block.levels, [level, level + 1])
                lo, hi = int(block.bounds[first]), int(block.bounds[last])
                self._level_views[level].append((block.lo + lo, block.lo + hi, block.runner.view(lo, hi),
                                                 block.members[first:last]))

    def _step(self, step: int) -> None:
        w, lanes, net = self.window, self.lanes, self.net
        start = step * w
        n = min(w, self.ticks - start)
        slots = (start - 1 + np.arange(n)) % self.ring_ticks  # neurons' spikes arrive a tick later
        ticks = (start + np.arange(n)) % self.ring_ticks
        inputs = self._input_spikes(start, n)
        columns = n * lanes
        sums = self._sums[:columns]
        for level in range(net.n_levels):
            self._level_sums(level, sums, slots, inputs, n)
            for k in range(n):
                rows = sums[k * lanes:(k + 1) * lanes]
                for lo, hi, view, members in self._level_views[level]:
                    fired, cycles, executed = view.run_tick(rows[:, lo:hi])
                    self.counters.instructions += executed
                    self.soma[ticks[k], :, members] = cycles.T
                    self.ring[ticks[k], :, lo:hi] = fired
        self.delivery.count(self.ring, slots, inputs if inputs.size else np.zeros((n, lanes, 0), dtype=bool), ticks)

    def _level_sums(self, level: int, sums: np.ndarray, slots: np.ndarray, inputs: np.ndarray, n: int) -> None:
        """The level's saturated dendrite sums of the window's ticks into sums [ticks x lanes, neurons]."""
        net, lanes = self.net, self.lanes
        first, counts = net.level_cores[level]
        for f, c in zip(first.tolist(), counts.tolist()):
            sums[:, f:f + c] = 0
        sources = net.level_sources[level]
        if not sources.size:
            return
        neurons = sources[sources < net.n_neurons]
        spikes = np.empty((n * lanes, sources.size), dtype=np.float32)
        spikes[:, :neurons.size] = self.ring[slots][:, :, neurons].reshape(n * lanes, -1)
        if neurons.size < sources.size:
            spikes[:, neurons.size:] = inputs[:, :, sources[neurons.size:] - net.n_neurons].reshape(n * lanes, -1)
        cast = {}
        for g in self._products[level]:
            x = cast.get(g.weights.dtype)
            if x is None:
                x = cast[g.weights.dtype] = spikes if g.weights.dtype == np.float32 else spikes.astype(g.weights.dtype)
            rows = g.weights.shape[0]
            if g.gather is not None:
                m = np.zeros((x.shape[0], g.n_carried * rows), dtype=x.dtype)
                m[:, g.entry] = x[:, g.gather]
            else:
                m = np.asarray((g.spread.T @ x.T).T, dtype=x.dtype)
            products = m.reshape(-1, rows) @ g.weights  # [columns x carried, taps]
            fk.scatter_add(sums, products.reshape(x.shape[0], -1), g.targets)
        low, high = self._sum_range
        for f, c in zip(first.tolist(), counts.tolist()):
            np.clip(sums[:, f:f + c], low, high, out=sums[:, f:f + c])


def check_functional(sim) -> None:
    """The functional engine runs level after level: an image whose cores hear from themselves
    (no levels) is the cycle engine's."""
    if not sim.pipelined:
        raise SdanncError(f"image {sim.where}: its cores' connections have a cycle, so they have no levels: "
                          f"use --engine cycle")


# A window's sums hold about this many values (ticks x lanes x neurons).
_WINDOW_ELEMENTS = 1 << 23
_MAX_WINDOW = 64


class FunctionalSimulator(Simulator):
    """Simulator's interface (run, codes_at, the report), the functional engine underneath."""

    engine = "functional"

    def __init__(self, image, where: str = "<image>") -> None:
        super().__init__(image, where)
        check_functional(self)
        self._products = [group_products(self.network, level) for level in range(self.network.n_levels)]

    def window_for(self, lanes: int, ticks: int, wanted: int | None = None) -> int:
        if wanted is None:
            wanted = min(_MAX_WINDOW, _WINDOW_ELEMENTS // max(1, lanes * self.n_neurons))
        return max(1, min(wanted, ticks))

    def _stepper(self, layout, runners, codes_in, ticks, window, record_codes) -> Stepper:
        return FunctionalStepper(layout, runners, codes_in, ticks, window, self._products, record_codes)
