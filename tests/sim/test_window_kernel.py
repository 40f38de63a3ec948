"""A run of a step's ticks in one compiled call (sdannc/sim/window_kernel.py) against the numpy
engine run tick by tick, its spikes and cycles put where the stepper puts them (stepper._run_block):
rings, state, instructions and errors compared with ==."""

import numpy as np
import pytest

from sdannc.errors import SdanncError
from sdannc.isa import assemble, load_isa
from sdannc.sim import program_kernel as pk
from sdannc.sim import window_kernel
from sdannc.sim.executor import ProgramRunner
from sdannc.target import load_target

ISA = load_isa()
CYCLES = {spec.mnemonic: spec.cycles for spec in ISA.instructions}
# v += the dendrite sum; a spike while v >= the threshold, which it then loses; a jump that splits
# the neurons (those that spiked add 1 more), so that cores' cycles differ
_INTEGRATE = """
        LDS
        UPDV 0
        FIRE R0, R1, SUB
        JC NFLAG, done
        ADDI R2, 1
    done:
        STS
        END
"""


def _runner(source: str, engine: str, n: int, bounds: list[int], lanes: int) -> ProgramRunner:
    state = np.zeros((n, 8), dtype=np.int64)
    state[:, 1] = 5  # the threshold
    runner = ProgramRunner("p", assemble(source, ISA), CYCLES, ISA, load_target("darwin3"),
                           np.zeros((32, n), np.int64), state, bounds, lanes, engine=engine)
    assert runner.engine == engine, runner.engine_note
    return runner


def _tick_by_tick(runner, sums, lanes, j0, j1, col, n, member_ticks, member_cores, ring, soma) -> int:
    """What stepper._run_block does for each tick: the reference."""
    bounds = np.append(runner.core_bounds, n)
    executed = 0
    for j in range(j0, j1):
        fired, cycles, done = runner.run_tick(sums[j * lanes:(j + 1) * lanes, col:col + n])
        executed += done
        for m, (a, z) in enumerate(zip(bounds, bounds[1:])):
            slot = (member_ticks[m] + j) % ring.shape[0]
            ring[slot, :, col + a:col + z] = fired[:, a:z]
            soma[slot, :, member_cores[m]] = cycles[:, m]
    return executed


@pytest.mark.parametrize("lanes", [1, 3])
@pytest.mark.parametrize("chunk", [2, 256])
def test_a_run_of_ticks_equals_the_ticks_one_by_one(monkeypatch, lanes, chunk):
    monkeypatch.setattr(pk, "CHUNK", chunk)
    rng = np.random.default_rng(5)
    n, bounds, col, ticks = 7, [0, 3, 4], 2, 6  # three cores, at columns 2..8 of the sums and the ring
    sums = rng.integers(-4, 9, size=(ticks * lanes, 12)).astype(np.int64)
    member_ticks = np.asarray([3, 10, 4], dtype=np.int64)  # each core at its own tick; 10 + j wraps the ring
    member_cores = np.asarray([4, 1, 2], dtype=np.int64)
    rings = [(np.zeros((12, lanes, 12), dtype=bool), np.zeros((12, lanes, 6), dtype=np.int64)) for _ in range(2)]
    reference, kernel = _runner(_INTEGRATE, "numpy", n, bounds, lanes), _runner(_INTEGRATE, "kernel", n, bounds, lanes)
    expected = _tick_by_tick(reference, sums, lanes, 1, 5, col, n, member_ticks, member_cores, *rings[0])
    executed, outcome = window_kernel.run_ticks(*kernel.kernel_arguments(), sums, lanes, 1, 5, col, n, member_ticks,
                                                member_cores, *rings[1])
    assert outcome == pk.OK and executed == expected > 0
    assert np.array_equal(rings[0][0], rings[1][0]) and rings[1][0].any() and not rings[1][0].all()
    assert np.array_equal(rings[0][1], rings[1][1]) and len(np.unique(rings[1][1])) > 2
    assert np.array_equal(reference.state, kernel.state)


def test_a_run_of_ticks_stops_with_the_tick_s_error():
    source = "top:\n ADDI R0, 1\n JC ALWAYS, top\n END"
    reference, kernel = _runner(source, "numpy", 3, [0], 1), _runner(source, "kernel", 3, [0], 1)
    with pytest.raises(SdanncError) as expected:
        reference.run_tick(np.zeros((1, 3), dtype=np.int64))
    ring, soma = np.zeros((4, 1, 3), dtype=bool), np.zeros((4, 1, 1), dtype=np.int64)
    _, outcome = window_kernel.run_ticks(*kernel.kernel_arguments(), np.zeros((2, 3), dtype=np.int64), 1, 0, 2, 0, 3,
                                         np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), ring, soma)
    assert outcome == pk.STEP_LIMIT
    with pytest.raises(SdanncError) as raised:
        kernel.check_outcome(outcome)
    assert str(raised.value) == str(expected.value)


def test_only_the_kernel_engine_offers_kernel_arguments():
    assert _runner(_INTEGRATE, "numpy", 3, [0], 1).kernel_arguments() is None
    assert _runner(_INTEGRATE, "kernel", 3, [0], 1).kernel_arguments() is not None
