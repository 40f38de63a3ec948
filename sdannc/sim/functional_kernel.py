"""Compiled helpers of the functional engine (functional.py, numba): a group's products into the
neurons, and what a window's spikes cost as packets, without delivering them one by one."""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def scatter_rows(sums, products, targets):
    """sums[targets[j]] += products[j], row by row (exact integers held in floats): a group's
    products into its neurons (targets repeat: a convolution's taps overlap)."""
    for j in range(targets.size):
        row = sums[targets[j]]
        values = products[j]
        for col in range(row.size):
            row[col] += np.int64(values[col])


@nb.njit(cache=True, nogil=True)
def count_packets(ring, slots, inputs, n_neurons, ptr, core, taps, pair, from_core, hops, tick_slots,
                  sops, packets_in, packets_out, route_packets, max_hops):
    """The counts the delivery kernel (delivery_kernel.deliver_groups) makes, per packet of every
    source that spiked: tick k's neurons' spikes are ring[slots[k]], its inputs' inputs[k]; counts go
    to ring slot tick_slots[k] (SOPs are the packet's dendrite taps)."""
    lanes = ring.shape[1]
    n_inputs = inputs.shape[2] if inputs.shape[0] else 0
    for k in range(slots.size):
        slot = tick_slots[k]
        for lane in range(lanes):
            spikes = ring[slots[k], lane]
            for s in range(n_neurons + n_inputs):
                if s < n_neurons:
                    if not spikes[s]:
                        continue
                elif not inputs[k, lane, s - n_neurons]:
                    continue
                for p in range(ptr[s], ptr[s + 1]):
                    c = core[p]
                    sops[slot, lane, c] += taps[p]
                    packets_in[slot, lane, c] += 1
                    route_packets[slot, lane, pair[p]] += 1
                    if from_core[p] >= 0:
                        packets_out[slot, lane, from_core[p]] += 1
                    if hops[p] > max_hops[slot, lane]:
                        max_hops[slot, lane] = hops[p]
