"""Compiled spike delivery (numba): the dendrite sums of a window of ticks, and what they cost.

A spike costs what it costs on the chip: each of its source's packets adds its dendrite's weight
list. Work goes group by group (dendrites of a core that share one neuron-id list): a packet adds
its weight row into a partial row per (column, carried index) for every column (tick x lane) of
the window in which its source spiked, so that the row is read from memory once per window; the
partial rows touched are then added into the neurons (neuron = offset of the tap + carried index).
Sums are integers, so the order of the adds does not change them.

The same pass counts, per tick, lane and core, the synaptic operations and packets in and out,
per route the packets, and the longest route (the tick's cycle and energy counts, stepper.py):
a group's packets come in runs from one sending core, so over one route, and are counted per run.
Columns are (tick of the window, lane) pairs: column = k * lanes + lane.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def gather_active(ring, slots, inputs, n_neurons, sources, active_ptr, active_columns, spiked_sources):
    """The columns (k * lanes + lane) in which each source spiked, as lists: source s's are
    active_columns[active_ptr[s]:active_ptr[s + 1]], in column order. Neurons' spikes come from ring
    slots[k], inputs' from inputs[k]. active_columns and the scratch spiked_sources must hold
    sources x columns + 1 entries. One pass column by column over the sources (sorted: each ring
    row is read in memory order, not a source's ticks a row apart) lists the spikes; a counting
    sort by source then keeps each source's in column order."""
    n_sources, lanes = sources.size, ring.shape[1]
    column_end = np.empty(slots.size * lanes, dtype=np.int64)  # where each column's spikes end in the list
    active_ptr[:n_sources + 1] = 0
    n = 0
    for k in range(slots.size):
        for lane in range(lanes):
            row = ring[slots[k], lane]
            for s in range(n_sources):
                src = sources[s]
                spiked = row[src] if src < n_neurons else inputs[k, lane, src - n_neurons]
                spiked_sources[n] = s  # written always, kept if it spiked: no branch
                n += spiked
                active_ptr[s + 1] += spiked
            column_end[k * lanes + lane] = n
    for s in range(n_sources):  # active_ptr[s + 1]: where source s's list ends
        active_ptr[s + 1] += active_ptr[s]
    for s in range(n_sources, 0, -1):  # active_ptr[s + 1]: where it starts, its cursor
        active_ptr[s] = active_ptr[s - 1]
    e = 0
    for col in range(column_end.size):  # each cursor ends where the next source's list starts
        while e < column_end[col]:
            s = spiked_sources[e]
            active_columns[active_ptr[s + 1]] = col
            active_ptr[s + 1] += 1
            e += 1


@nb.njit(cache=True, nogil=True)
def deliver_groups(active_ptr, active_columns, groups, group_run_ptr, run_ptr, run_route, run_from, run_hops,
                   pk_source, pk_row, pk_carried, g_core, g_taps, g_span, g_wbase, g_obase, g_base, weights, offsets,
                   partial, touched, column_packets, run_packets, sums, tick_slots, sops, packets_in, packets_out,
                   route_packets, hops):
    """Add the sums of one level's groups into sums [columns, neurons], and count the packets into
    the rings [ticks, lanes, ...] at tick_slots[k]: SOPs and packets in per receiving core, packets
    out per sending core, packets per route, the longest route. partial and touched [columns x span]
    are zero on entry and on exit; column_packets and run_packets [columns] are scratch."""
    columns = column_packets.size
    lanes = sops.shape[1]
    for gi in range(groups.size):
        g = groups[gi]
        taps, span = g_taps[g], g_span[g]
        b0 = g_base[g]
        o0 = g_obase[g]
        # one tap (a pool's dendrites): nothing to gather, the weight goes straight into its neuron
        direct = taps == 1
        column_packets[:] = 0
        for ri in range(group_run_ptr[gi], group_run_ptr[gi + 1]):
            run_packets[:] = 0
            for p in range(run_ptr[ri], run_ptr[ri + 1]):
                s = pk_source[p]
                w0 = g_wbase[g] + pk_row[p] * taps
                weight_row = weights[w0:w0 + taps]
                i = pk_carried[p]
                neuron = b0 + i + offsets[o0] if direct else 0
                for e in range(active_ptr[s], active_ptr[s + 1]):
                    col = active_columns[e]
                    run_packets[col] += 1
                    if direct:
                        sums[col, neuron] += weight_row[0]
                        continue
                    row = col * span + i
                    partial_row = partial[row * taps:(row + 1) * taps]
                    for t in range(taps):  # views and a counted loop: this vectorizes
                        partial_row[t] += weight_row[t]
                    touched[row] = True
            for col in range(columns):  # the run's packets: one route, one sending core
                n = run_packets[col]
                if n == 0:
                    continue
                slot, lane = tick_slots[col // lanes], col % lanes
                route_packets[slot, lane, run_route[ri]] += n
                if run_from[ri] >= 0:
                    packets_out[slot, lane, run_from[ri]] += n
                if run_hops[ri] > hops[slot, lane]:
                    hops[slot, lane] = run_hops[ri]
                column_packets[col] += n
        group_offsets = offsets[o0:o0 + taps]
        for col in range(columns):  # the touched partial rows into the neurons, in memory order
            n = column_packets[col]
            if n == 0:
                continue
            slot, lane = tick_slots[col // lanes], col % lanes
            sops[slot, lane, g_core[g]] += n * taps
            packets_in[slot, lane, g_core[g]] += n
            if direct:
                continue
            column_sums = sums[col]
            for i in range(span):
                row = col * span + i
                if not touched[row]:
                    continue
                touched[row] = False
                partial_row = partial[row * taps:(row + 1) * taps]
                targets = column_sums[b0 + i:]
                for t in range(taps):
                    targets[group_offsets[t]] += partial_row[t]
                partial_row[:] = 0


@nb.njit(cache=True, nogil=True)
def zero_cores(sums, core_first, core_neurons):
    """Clear the sums [columns, neurons] of these cores' neurons before a delivery."""
    for col in range(sums.shape[0]):
        for c in range(core_first.size):
            sums[col, core_first[c]:core_first[c] + core_neurons[c]] = 0


@nb.njit(cache=True, nogil=True)
def saturate_cores(sums, core_first, core_neurons, low, high):
    """Saturate these cores' sums to [low, high], as a core reads its dendrite sums (arith.saturate)."""
    for col in range(sums.shape[0]):
        for c in range(core_first.size):
            row = sums[col, core_first[c]:core_first[c] + core_neurons[c]]
            for n in range(row.size):
                row[n] = min(max(row[n], low), high)
