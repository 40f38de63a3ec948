"""Compiled: one program's cores through a run of a window's ticks, their spikes and cycles into the
stepper's rings (stepper.py).

The stepper runs a slice of cores for the W ticks of a step; calling the program kernel once per
tick from Python cost a tick's bookkeeping (the call, the spikes and cycles copied into the rings)
in the interpreter, serial whatever the threads. Here the ticks run in one call that releases the
interpreter's lock: each tick is program_kernel.run_tick, unchanged, and each core's spikes and
cycles go to the ring slot of its own tick (a core's tick is its level's: members of several
levels run in one slice, each at its own tick).
"""

from __future__ import annotations

import numba

from . import program_kernel as pk


@numba.njit(cache=True, nogil=True)
def run_ticks(table, clear, state_block, state, config, lut, lut_of, lo, core_bounds, n_registers, low, high,
              step_limit, chunk, sums, lanes, j0, j1, col, n, member_ticks, member_cores, ring, soma):
    """Ticks j0..j1 - 1 of a step over n neurons (cores starting at core_bounds, the program
    kernel's arguments up to chunk). Tick j's dendrite sums are sums[j * lanes:(j + 1) * lanes,
    col:col + n]; core m's spikes go to ring[slot, :, col + its neurons] and its cycles to
    soma[slot, :, member_cores[m]], slot = (member_ticks[m] + j) % ring ticks. Returns
    (instructions executed, outcome: program_kernel.OK, or the error of the tick that stopped)."""
    ring_ticks = ring.shape[0]
    n_cores = core_bounds.size
    executed = 0
    for j in range(j0, j1):
        wgtsum = sums[j * lanes:(j + 1) * lanes, col:col + n]
        fired, cycles, done, outcome = pk.run_tick(table, clear, state_block, wgtsum, state, config, lut, lut_of,
                                                   lo, core_bounds, n_registers, low, high, step_limit, chunk)
        if outcome != pk.OK:
            return executed, outcome
        executed += done
        for m in range(n_cores):
            slot = (member_ticks[m] + j) % ring_ticks
            first = core_bounds[m]
            last = n if m + 1 == n_cores else core_bounds[m + 1]
            for lane in range(lanes):
                soma[slot, lane, member_cores[m]] = cycles[lane, m]
                spikes = ring[slot, lane, col + first:col + last]
                for i in range(last - first):
                    spikes[i] = fired[lane, first + i] != 0
    return executed, pk.OK
