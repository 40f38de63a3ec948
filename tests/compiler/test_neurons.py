"""The neuron models' registry (sdannc/neurons): what the other stages read from it, and the golden
functions of the integrate-and-fire and time-to-first-spike neurons on cases counted by hand (the
simulator against them: tests/sim/test_sim_networks.py)."""

import numpy as np
import pytest

from sdannc.neurons import OPS
from sdannc.ir.graph import Node
from sdannc.neurons import NEURON_OPS, NEURONS, SPARSIFIABLE_OPS, SPARSIFY_REGISTERS
from sdannc.target import load_target

ARITH = load_target("darwin3").arith
IF, TTFS = NEURONS["if"], NEURONS["ttfs"]


def test_the_stages_read_the_ops_from_the_registry():
    coded = tuple(f"{coding}_{op}" for coding in ("ttfs", "rate") for op in ("linear", "max", "add", "lut", "mul"))
    assert NEURON_OPS == ("stem", "adder", "max", "lut", "product", "float32_pool", "if", "ttfs") + coded
    # the programs that include the RoT / DRLO block
    assert SPARSIFIABLE_OPS == ("stem", "adder", "ttfs_linear", "ttfs_add", "rate_linear", "rate_add")
    assert SPARSIFY_REGISTERS == {"stem": (4, 5), "adder": (8, 9), "ttfs_linear": (4, 5), "ttfs_add": (8, 9),
                                  "rate_linear": (4, 5), "rate_add": (8, 9)}
    assert all(OPS[op] == NEURONS[op].compute for op in NEURON_OPS)
    assert set(OPS) - set(NEURON_OPS) == {"reshape", "transpose", "concat", "gather"}
    assert all(NEURONS[op].op == op for op in NEURON_OPS)


def test_report_labels():
    stem = Node("fc", "stem", ["a", "b"], "y", {"connections": [{"kind": "dense"}, {"kind": "elementwise"}]})
    assert NEURONS["stem"].report_label(stem) == "STEM dense+elementwise"
    assert [NEURONS[op].report_label(Node("n", op, [], "y")) for op in ("adder", "max", "lut", "product", "if", "ttfs")] == \
        ["add", "max", "lut", "mul", "IF", "TTFS"]
    assert [op for op in NEURON_OPS if NEURONS[op].counts_macs] == ["stem", "ttfs_linear", "rate_linear"]
    assert [NEURONS[f"{c}_{op}"].report_label(Node("n", "x", [], "y")) for c in ("ttfs", "rate") for op in ("max", "add", "lut", "mul")] \
        == ["ttfs max", "ttfs add", "ttfs lut", "ttfs mul", "rate max", "rate add", "rate lut", "rate mul"]
    assert NEURONS["rate_linear"].report_label(stem) == "rate dense+elementwise"


def _run(model, currents, threshold, arith=ARITH) -> list[int]:
    """The model's one-tick golden function over a list of ticks, for one neuron."""
    state = model.start(np.array([threshold]))
    return [int(model.step(state, np.array([c]), arith)[0]) for c in currents]


def test_integrate_and_fire_spikes_at_the_threshold_and_resets_to_zero():
    assert _run(IF, [2] * 9, 5) == [0, 0, 1, 0, 0, 1, 0, 0, 1]  # 2, 4, 6: spike; 2, 4, 6: spike ...
    assert _run(IF, [5, -3, 4, 4], 5) == [1, 0, 0, 1]  # at the threshold itself; negative sums count


def test_integrate_and_fire_saturates_as_the_registers_do():
    currents = [-30_000, -30_000, 30_000, 30_000]  # -60000 saturates to -32768 in 16 bits
    assert _run(IF, currents, 20_000) == [0, 0, 0, 1]
    assert _run(IF, currents, 20_000, load_target("darwin3-wide").arith) == [0, 0, 0, 0]


def test_time_to_first_spike_fires_once():
    assert _run(TTFS, [2] * 6, 5) == [0, 0, 1, 0, 0, 0]
    assert _run(TTFS, [9, -9, 9], 5) == [1, 0, 0]


@pytest.mark.parametrize("model, expected", [(IF, [0b00100100, 0b10010010]), (TTFS, [0b00100000, 0])])
def test_codes_are_a_stream_of_windows_and_the_state_carries_over(model, expected):
    """Input code 255 every sample, weight 2, threshold 5 (IF fires every third tick, across the
    window boundary; TTFS once, never again)."""
    node = Node("n", model.op, ["x"], "y", {"connections": [{"kind": "dense"}]},
                {"weight0": np.array([[2]]), "threshold": np.array([5])})
    codes = model.compute(node, [np.array([[255], [255]])], (1,), ARITH)
    assert codes[:, 0].tolist() == expected
