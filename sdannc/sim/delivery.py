"""Spike delivery over a window of ticks: dendrite sums, and per tick what the packets cost.

The work is done packet by packet in a compiled kernel (delivery_kernel.py). The counts go into
rings indexed by tick, like the spikes (stepper.py), because each level delivers a window's ticks
at its own step; a tick's counts are read once every level has delivered it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from . import delivery_kernel as kernel
from .network import Network


@dataclass
class Costs:
    """Per pseudo-lane (tick x lane) counts of a window's deliveries."""

    sops: np.ndarray  # [columns, cores] synaptic operations at each destination core
    packets_in: np.ndarray  # [columns, cores]
    packets_out: np.ndarray  # [columns, cores] packets sent by each core (the controller's are not a core's)
    link_flits: np.ndarray  # [columns, links]
    max_hops: np.ndarray  # [columns]
    max_delay: np.ndarray | None = None  # [columns] on a board: the slowest route's cycles (hops and crossings)
    routes: np.ndarray | None = None  # [columns, routes] on a board: packets per route


class Scratch:
    """The kernel's working buffers for deliveries of `columns` columns: one per thread (stepper.py),
    zero between deliveries (partial, touched) or rewritten by each (the rest)."""

    def __init__(self, net: Network, columns: int) -> None:
        self.partial = np.zeros(columns * net.partial_per_column, dtype=net.weight_dtype)
        self.touched = np.zeros(columns * net.span_per_column, dtype=np.bool_)
        self.column_packets = np.zeros(columns, dtype=np.int64)
        self.run_packets = np.zeros(columns, dtype=np.int64)
        most = max((s.size for s in net.level_sources), default=0)
        self.active_ptr = np.zeros(most + 1, dtype=np.int64)
        self.active_columns = np.zeros(most * columns + 1, dtype=np.int32)
        self.spiked_sources = np.zeros(most * columns + 1, dtype=np.int32)  # gather_active's spikes, by column


class Delivery:
    """One run's deliveries: the count rings, shared by every thread (each delivery writes its own
    ticks' slots), and the kernel's scratch buffers, one set per thread and number of columns."""

    def __init__(self, net: Network, ring_ticks: int, lanes: int, sum_range: tuple[int, int]) -> None:
        self.net = net
        self.sum_range = sum_range
        self.lanes = lanes
        n_cores = len(net.image.cores)
        self._scratch = threading.local()
        self.sops, self.packets_in, self.packets_out = (np.zeros((ring_ticks, lanes, n_cores), dtype=np.int64)
                                                        for _ in range(3))
        self.route_packets = np.zeros((ring_ticks, lanes, net.n_routes), dtype=np.int32)  # int32: stays in cache
        self.hops = np.zeros((ring_ticks, lanes), dtype=np.int64)

    def scratch(self, columns: int) -> Scratch:
        """This thread's scratch buffers for `columns` columns."""
        mine = self._scratch.__dict__.setdefault("by_columns", {})
        if columns not in mine:
            mine[columns] = Scratch(self.net, columns)
        return mine[columns]

    def deliver(self, level: int, ring: np.ndarray, slots: np.ndarray, inputs: np.ndarray,
                tick_slots: np.ndarray, sums: np.ndarray) -> None:
        """Level `level`'s saturated dendrite sums into sums [columns, neurons] (int64; other levels'
        neurons untouched), column k * lanes + lane for the tick whose neurons' spikes are in ring slot
        slots[k] and input spikes in inputs[k]; its counts go to ring slot tick_slots[k]. Deliveries
        of other levels, or of other ticks, may run at the same time in other threads."""
        net = self.net
        scratch = self.scratch(slots.size * self.lanes)
        first, n_neurons = net.level_cores[level]
        kernel.zero_cores(sums, first, n_neurons)
        sources = net.level_sources[level]
        ptr = scratch.active_ptr[:sources.size + 1]
        kernel.gather_active(ring, slots, inputs, net.n_neurons, sources, ptr, scratch.active_columns,
                             scratch.spiked_sources)
        lp = net.level_packets[level]
        kernel.deliver_groups(ptr, scratch.active_columns, lp.groups, lp.group_run_ptr, lp.run_ptr, lp.run_route,
                              lp.run_from, lp.run_hops, lp.source, lp.row, lp.carried, net.g_core, net.g_taps,
                              net.g_span, net.g_wbase, net.g_obase, net.g_base, net.weights, net.offsets,
                              scratch.partial, scratch.touched, scratch.column_packets, scratch.run_packets, sums,
                              tick_slots, self.sops, self.packets_in, self.packets_out, self.route_packets, self.hops)
        kernel.saturate_cores(sums, first, n_neurons, *self.sum_range)

    def take_costs(self, tick_slots: np.ndarray) -> Costs:
        """The counts of these ticks [ticks x lanes, ...], cleared in the rings for later ticks."""
        def take(ring: np.ndarray) -> np.ndarray:
            values = ring[tick_slots].reshape((-1,) + ring.shape[2:])
            ring[tick_slots] = 0
            return values

        routes = take(self.route_packets)
        delay = None
        if self.net.chip_links is not None:
            delay = np.where(routes > 0, self.net.route_delay, 0).max(axis=1, initial=0)
        return Costs(take(self.sops), take(self.packets_in), take(self.packets_out),
                     (self.net.route_link_flits.T @ routes.T).T, take(self.hops), delay,
                     routes if delay is not None else None)
