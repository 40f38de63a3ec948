"""Compiled helpers of the functional engine (functional.py, numba): a group's products into its
neurons, and a linear level's ticks before a code's last (linear.emit_only_ticks) without its program."""

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
def emit_ticks(acc, phase, residue, threshold, last, low, high, ring, slots, lo):
    """Ticks slots (in order) of a linear program's emit-only part over [lanes, n] neurons: acc doubles
    (saturating: its sum comes on the code's last tick), the residue's top bit is the spike (FIRE SUB,
    then the residue shifts left, saturating), the phase counts modulo last + 1 (LOGIC AND); spikes into
    ring[slot, lane, lo + i]. The same integers as executor's FIRE, SFTI, ADDI and LOGIC."""
    lanes, n = acc.shape
    for t in range(slots.size):
        s = slots[t]
        for lane in range(lanes):
            for i in range(n):
                a = acc[lane, i] * 2
                acc[lane, i] = min(max(a, low), high)
                r = residue[lane, i]
                crossed = r >= threshold[lane, i]
                if crossed:
                    r = r - threshold[lane, i]
                residue[lane, i] = min(max(r * 2, low), high)
                p = min(max(phase[lane, i] + 1, low), high)
                phase[lane, i] = p & last[i]
                ring[s, lane, lo + i] = crossed


@nb.njit(cache=True, nogil=True)
def codes_of_spikes(spikes, ticks, lo, hi, at, bits, out):
    """out[at + j, c x lanes + lane] = the code of spikes[ticks[c bits .. c bits + bits - 1], lane, lo + j]
    read MSB first (bit b weighs 2^(bits - 1 - b)): a level's sources' codes, straight from the spike
    ring (or the input spikes)."""
    n_codes = ticks.size // bits
    lanes = spikes.shape[1]
    for c in range(n_codes):
        for lane in range(lanes):
            col = c * lanes + lane
            for j in range(hi - lo):
                v = 0
                for b in range(bits):
                    v = v * 2 + spikes[ticks[c * bits + b], lane, lo + j]
                out[at + j, col] = v
