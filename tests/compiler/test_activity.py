"""The golden model predicts the simulator's activity exactly: per layer, spikes by bit position and
synaptic operations, inside real samples' windows, with and without sparsification."""

from __future__ import annotations

import numpy as np
import pytest

import models
from sdannc.activity import INPUT_LAYER, run_golden_activity, simulated_activity
from sdannc.backend import build_image, build_layers
from sdannc.backend.synapses import synapse_counts
from sdannc.compiler import lower
from sdannc.sim import Simulator
from sdannc.sparsify import Plan, Setting
from sdannc.target import load_target


def _both(model: str, target_name: str, plan: Plan | None, samples: int, lanes: int = 1, window: int | None = None):
    target = load_target(target_name)
    graph = lower(models.quantized(model), target, plan=plan)
    image, _ = build_image(graph, target)
    layers = build_layers(graph, target)  # what tune counts with: the tables, not placed
    x = models.eval_set(models.float_model(model), samples)
    codes, golden = run_golden_activity(graph, x, target.arith, synapse_counts(graph, layers))
    sim = Simulator(image)
    result = sim.run(x, lanes=lanes, window=window)
    np.testing.assert_array_equal(result.codes, codes.reshape(len(x), -1))
    return golden, simulated_activity(sim, result.counters), result


@pytest.mark.parametrize("plan", [None, Plan(Setting(rot=2), {})], ids=["plain", "rot2"])
@pytest.mark.parametrize("model", ["digits_mlp", "cnn_pool", "residual", "concat", "strided_depthwise"])
def test_golden_activity_equals_simulated_activity(model, plan):
    golden, simulated, result = _both(model, "darwin3", plan, 5 if model != "strided_depthwise" else 1)
    assert golden.keys() == simulated.keys()
    for layer in golden:
        np.testing.assert_array_equal(golden[layer].spikes_by_bit, simulated[layer].spikes_by_bit, err_msg=layer)
        assert golden[layer].sops == simulated[layer].sops, layer
    # the windows hold real work, and pipeline fill/drain is real but outside them
    assert sum(a.sops for a in golden.values()) > 0
    assert sum(a.sops for a in golden.values()) <= result.counters.sops.sum()
    assert golden[INPUT_LAYER].spikes == result.counters.input_spikes


def test_lanes_do_not_change_the_activity():
    _, one, _ = _both("cnn_pool", "darwin3-wide", None, 4, lanes=1)
    _, four, _ = _both("cnn_pool", "darwin3-wide", None, 4, lanes=4)
    for layer in one:
        np.testing.assert_array_equal(one[layer].spikes_by_bit, four[layer].spikes_by_bit)
        assert one[layer].sops == four[layer].sops


@pytest.mark.parametrize("window", [1, 3])
def test_windows_of_ticks_do_not_change_the_activity(window):
    _, default, _ = _both("residual", "darwin3", Plan(Setting(rot=1), {}), 3)
    _, stepped, _ = _both("residual", "darwin3", Plan(Setting(rot=1), {}), 3, window=window)
    for layer in default:
        np.testing.assert_array_equal(default[layer].spikes_by_bit, stepped[layer].spikes_by_bit)
        assert default[layer].sops == stepped[layer].sops


@pytest.mark.parametrize("coding", ["ttfs", "rate"])
@pytest.mark.parametrize("model", ["cnn_pool", "residual"])
def test_golden_activity_equals_simulated_activity_in_each_coding(model, coding):
    """Spikes tick by tick of the coding's window (ttfs: one per nonzero code, at tick 256 - code;
    rate: `code` of them) and the SOPs they cause, as the simulator counts them."""
    golden, simulated, result = _both(model, "darwin3-wide", Plan(coding=coding), 3)
    assert golden.keys() == simulated.keys()
    for layer in golden:
        assert golden[layer].spikes_by_bit.size == {"ttfs": 256, "rate": 255}[coding]
        np.testing.assert_array_equal(golden[layer].spikes_by_bit, simulated[layer].spikes_by_bit, err_msg=layer)
        assert golden[layer].sops == simulated[layer].sops, layer
    assert golden[INPUT_LAYER].spikes == result.counters.input_spikes
    stem, _, _ = _both(model, "darwin3-wide", None, 3)
    assert all(golden[layer].sops != stem[layer].sops for layer in golden if stem[layer].sops)
