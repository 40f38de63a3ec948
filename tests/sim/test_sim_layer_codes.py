"""The simulator's record of every layer's codes (Simulator.run(record_codes=True)) is the golden
model's, element for element, on every model family, both targets, with and without sparsification;
recording changes nothing else, and neither lanes nor windows change the record."""

from __future__ import annotations

import numpy as np
import pytest

import models
from sdannc.backend import neuron_addresses
from sdannc.backend.addresses import INPUT
from sdannc.compiler import compile_in_memory
from sdannc.golden import run_codes
from sdannc.ir.codec import encode_input
from sdannc.neurons import NEURON_OPS
from sdannc.sim import Simulator
from sdannc.sparsify import Plan, Setting
from sdannc.target import load_target

VARIANTS = models.variants()
# every family once per target, each with another variant (QDQ / QOperator, per-tensor / per-channel, uint8 / int8)
CASES = [(name, VARIANTS[(i + shift) % len(VARIANTS)], target)
         for i, name in enumerate(sorted(models.FLOAT_MODELS))
         for shift, target in ((0, "darwin3"), (3, "darwin3-wide"))]


def _run(name, variant, target_name, samples=5, plan=None, **run_options):
    target = load_target(target_name)
    compiled = compile_in_memory(models.quantized(name, *variant), target, plan=plan)
    graph = compiled.graph
    x = models.eval_set(models.float_model(name), samples)
    golden = run_codes(graph, encode_input(x, graph.input_encode).reshape(x.shape), target.arith, keep=True)
    sim = Simulator(compiled.image)
    result = sim.run(x, record_codes=True, **run_options)
    return graph, golden, sim, result, neuron_addresses(graph, compiled.layers)


def _assert_every_tensor_equals_golden(graph, golden, sim, result, addresses) -> int:
    """Every tensor the chip's neurons hold (layers' outputs and the data moves that rename them)."""
    checked = 0
    for name, (core, neuron) in addresses.items():
        if (core == INPUT).any():
            continue
        expected = golden[name].reshape(result.samples, -1)
        np.testing.assert_array_equal(sim.codes_at(result, core, neuron), expected, err_msg=name)
        checked += 1
    return checked


@pytest.mark.parametrize("name, variant, target_name", CASES,
                         ids=[f"{n}-{models.variant_id(v)}-{t}" for n, v, t in CASES])
def test_recorded_layer_codes_equal_the_golden_model(name, variant, target_name):
    graph, golden, sim, result, addresses = _run(name, variant, target_name)
    checked = _assert_every_tensor_equals_golden(graph, golden, sim, result, addresses)
    assert checked >= sum(n.op in NEURON_OPS for n in graph.nodes) >= 2
    # the output layer's record is what the simulator reads as its outputs
    np.testing.assert_array_equal(sim.codes_at(result, *addresses[graph.output]), result.codes)
    assert all(golden[n.output].any() for n in graph.nodes if n.op in NEURON_OPS)  # no layer is silent


def test_recorded_codes_equal_golden_with_sparsification():
    plan = Plan(Setting(rot=2), {"conv2": Setting(drlo=3)})
    graph, golden, sim, result, addresses = _run("digits_cnn", ("qdq", False, "uint8"), "darwin3", plan=plan)
    assert sum("sparsify" in n.attrs for n in graph.nodes) >= 2
    _assert_every_tensor_equals_golden(graph, golden, sim, result, addresses)
    codes = sim.codes_at(result, *addresses[next(n.output for n in graph.nodes if n.name == "conv2")])
    assert not (codes % 8).any() and codes.any()  # DRLO 3 dropped the three low bits, and the layer spikes


def test_lanes_and_windows_do_not_change_the_record():
    _, _, _, one, _ = _run("residual", ("qop", True, "int8"), "darwin3", samples=6)
    for options in ({"lanes": 3}, {"window": 1}, {"window": 5, "lanes": 2}):
        _, _, _, other, _ = _run("residual", ("qop", True, "int8"), "darwin3", samples=6, **options)
        np.testing.assert_array_equal(other.neuron_codes, one.neuron_codes, err_msg=str(options))


def test_recording_is_opt_in_and_changes_nothing_else():
    target = load_target("darwin3")
    compiled = compile_in_memory(models.quantized("concat"), target)
    x = models.eval_set(models.float_model("concat"), 4)
    sim = Simulator(compiled.image)
    plain, recorded = sim.run(x), sim.run(x, record_codes=True)
    assert plain.neuron_codes is None and recorded.neuron_codes.shape == (4, sim.n_neurons)
    np.testing.assert_array_equal(plain.outputs, recorded.outputs)
    for counter in ("neuron_spikes", "sops", "core_cycles", "link_flits", "sample_spikes", "sample_sops"):
        np.testing.assert_array_equal(getattr(plain.counters, counter), getattr(recorded.counters, counter))
    assert plain.counters.tick_cycles == recorded.counters.tick_cycles
    with pytest.raises(ValueError, match="record_codes=True"):
        sim.codes_at(plain, np.zeros(1, np.int64), np.zeros(1, np.int64))
