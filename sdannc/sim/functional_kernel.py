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
def scatter_nibbles(local, y, targets, columns):
    """local[targets[t, c], j] += 16 y[j carried + c, t] + y[(columns + j) carried + c, t]: a group's
    products of its codes' high and low nibbles (integer_products.py) into its neurons, code j."""
    taps, carried = targets.shape
    half = columns * carried
    for j in range(columns):
        for c in range(carried):
            r = j * carried + c
            for t in range(taps):
                local[targets[t, c], j] += 16 * np.int64(y[r, t]) + np.int64(y[half + r, t])


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


@nb.njit(cache=True, nogil=True)
def pack_codes(spikes, ticks, lo, hi, at, out):
    """out[c x lanes + lane, at + j] |= the code of spikes[ticks[8 c .. 8 c + 7], lane, lo + j], MSB
    first (out zero before): 8-bit codes read a bit plane at a time along the neurons, written along
    them (uint8, [codes x lanes, sources])."""
    lanes = spikes.shape[1]
    for c in range(ticks.size // 8):
        for b in range(8):
            plane = spikes[ticks[8 * c + b]]
            shift = 7 - b
            for lane in range(lanes):
                row = out[c * lanes + lane]
                bits = plane[lane]
                for j in range(hi - lo):
                    row[at + j] |= np.uint8(bits[lo + j]) << shift


@nb.njit(cache=True, nogil=True)
def exact_search(sums, bias, thresholds, table_of, bits, out):
    """out[i, col]: the code integration exact's search finds for the exact sum sums[i, col]: its
    `bits` rounds, step 2^(bits - 1) down to 1, each taking the candidate code + step where T + bias
    is at or above the candidate's threshold (thresholds[table_of[i], candidate], exact_levels.py)."""
    for i in range(sums.shape[0]):
        row = thresholds[table_of[i]]
        b = bias[i]
        for col in range(sums.shape[1]):
            x = sums[i, col] + b
            code = 0
            step = 1 << (bits - 1)
            while step > 0:
                code += step * (x >= row[code + step])  # no branch: the rounds' loads in a row
                step >>= 1
            out[i, col] = code


@nb.njit(cache=True, nogil=True)
def max_codes(codes, indptr, indices, weights, candidates, out):
    """out[i, col]: the largest of codes[col, source] over neuron i's inputs (CSR rows) whose bit is
    among its candidates, 0 without any (exact_levels.max_level)."""
    for i in range(out.shape[0]):
        for col in range(out.shape[1]):
            m = 0
            for e in range(indptr[i], indptr[i + 1]):
                if weights[e] & candidates[i]:
                    v = np.int64(codes[col, indices[e]])
                    if v > m:
                        m = v
            out[i, col] = m


@nb.njit(cache=True, nogil=True)
def exact_spikes(codes, carried, pre, ranges, ring, slots, bits):
    """The spikes of a window's ticks slots (the window starts on a code's first tick) of a level of
    integration exact or of the max: on a code's last tick (phase bits - 1) its code's MSB
    (codes[:, c x lanes + lane], c the window's code), on phase p < bits - 1 bit p + 1 of the code
    before (the previous window's last, carried [lanes, n], -1 before the run's first: then `pre`).
    Into ring[slot, lane, f + i] for each (f, count, local first) of `ranges` [cores, 3];
    carried becomes the window's last complete code."""
    lanes, n = carried.shape
    n_codes = codes.shape[1] // lanes if lanes else 0
    for k in range(slots.size):
        c, p = k // bits, k % bits
        s = slots[k]
        for lane in range(lanes):
            out = ring[s, lane]
            if p == bits - 1:
                col, shift = c * lanes + lane, bits - 1
            else:
                col, shift = (c - 1) * lanes + lane, bits - 2 - p
            for r in range(ranges.shape[0]):
                f, count, first = ranges[r, 0], ranges[r, 1], ranges[r, 2]
                for i in range(first, first + count):
                    code = codes[i, col] if col >= 0 else carried[lane, i]
                    out[f + i - first] = pre[i] if code < 0 else (code >> shift) & 1
    if n_codes:
        for lane in range(lanes):
            for i in range(n):
                carried[lane, i] = codes[i, (n_codes - 1) * lanes + lane]
