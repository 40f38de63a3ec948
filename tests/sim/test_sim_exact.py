"""Integration "exact" (docs/exactness.md): STEM layers on darwin3's 16-bit registers that compute
darwin3-wide's codes bit for bit: the instruction it needs (LDWR) on both engines, the threshold
tables against darwin3-wide's requantization, the simulator against the golden model, and the
layers' codes against darwin3-wide's."""

from __future__ import annotations

import numpy as np
import pytest

import models
from sdannc.backend import neuron_addresses
from sdannc.backend.addresses import INPUT
from sdannc.compiler import compile_in_memory
from sdannc.golden import run_codes
from sdannc.neurons import golden_op
from sdannc.ir.codec import encode_input
from sdannc.ir.ops import STEM
from sdannc.isa import assemble
from sdannc.neurons.stem import EXACT, requantized, split_words
from sdannc.passes.requantize import WIDE_BITS
from sdannc.sim import Simulator
from sdannc.target import load_target
from test_program_kernel import ISA, _runners, _values

FAMILIES = ["cnn_pool", "residual", "strided_depthwise", "mlp_gemm", "digits_cnn"]
VARIANTS = models.variants()


def test_ldwr_is_the_remainder_of_ldw_on_both_engines():
    target = load_target("darwin3")
    instrs = assemble("LDS\nLDW R0, 14\nLDWR R1, 14\nLDWR R2, 0\nLDWR R3, 3\nSTS\nEND", ISA)
    n, lanes = 300, 2
    rng = np.random.default_rng(3)
    config = np.zeros((target.core["config_registers"], n), dtype=np.int64)
    state = np.zeros((n, target.core["state_fields"]), dtype=np.int64)
    runners = _runners(instrs, target, config, state, [0, 100], lanes)
    sums = _values(rng, (lanes, n), target.arith["dendrite_sum_bits"])
    sums = np.clip(sums, -(1 << 23), (1 << 23) - 1)  # (the dendrite unit holds 24 bits)
    for runner in runners:
        runner.run_tick(sums.copy())
    for runner in runners:
        hi, lo, zero, three = (runner.state[f] for f in range(4))
        assert np.all(lo >= -(1 << 13)) and np.all(lo < 1 << 13)
        np.testing.assert_array_equal(np.clip(hi, -(1 << 15), (1 << 15) - 1), hi)
        np.testing.assert_array_equal(hi.astype(np.int64) * (1 << 14) + lo, sums)  # |s_hi| < 2^10: no saturation
        np.testing.assert_array_equal(zero, 0)
        np.testing.assert_array_equal(three, sums - (((sums + 4) >> 3) << 3))
    np.testing.assert_array_equal(runners[0].state, runners[1].state)


def test_split_words_is_balanced_and_exact():
    x = np.arange(-(1 << 20), 1 << 20, 37, dtype=np.int64)
    hi, lo = split_words(x)
    assert np.all(lo >= -(1 << 13)) and np.all(lo < 1 << 13)
    np.testing.assert_array_equal(hi * (1 << 14) + lo, x)


def _compile(name, variant, target_name):
    target = load_target(target_name)
    return target, compile_in_memory(models.quantized(name, *variant), target)


@pytest.mark.parametrize("name, variant", [(n, VARIANTS[(3 * i + 1) % len(VARIANTS)]) for i, n in enumerate(FAMILIES)],
                         ids=lambda v: v if isinstance(v, str) else models.variant_id(v))
def test_exact_layers_are_darwin3_wide_bit_for_bit_and_the_simulator_is_golden(name, variant):
    target, compiled = _compile(name, variant, "darwin3")
    wide_target, wide = _compile(name, variant, "darwin3-wide")
    graph = compiled.graph
    exact = [n for n in graph.nodes if n.op == STEM and n.attrs.get("integration") == EXACT]
    assert exact, "the family's layers with sums beyond 16 bits use integration exact"
    x = models.eval_set(models.float_model(name), 4)
    codes = encode_input(x, graph.input_encode).reshape(x.shape)
    golden = run_codes(graph, codes, target.arith, keep=True)
    wide_golden = run_codes(wide.graph, codes, wide_target.arith, keep=True)
    for node in exact:  # on darwin3-wide's own inputs: the layer's codes are darwin3-wide's
        inputs = [wide_golden[i] for i in node.inputs]
        mine = golden_op(node, inputs, graph.tensors[node.output].shape, target.arith)
        np.testing.assert_array_equal(mine, wide_golden[node.output], err_msg=node.name)
        wide_node = next(n for n in wide.graph.nodes if n.name == node.name)
        assert node.attrs["error_bound"] == wide_node.attrs["error_bound"] < 1e-3  # darwin3-wide's
    sim = Simulator(compiled.image)
    result = sim.run(x, record_codes=True)
    for tensor, (core, neuron) in neuron_addresses(graph, compiled.layers).items():
        if not (core == INPUT).any():
            np.testing.assert_array_equal(sim.codes_at(result, core, neuron),
                                          golden[tensor].reshape(result.samples, -1), err_msg=tensor)


@pytest.mark.parametrize("variant", [VARIANTS[0], VARIANTS[1]], ids=models.variant_id)
def test_thresholds_are_the_requantization_of_t_plus_bias_one_table_per_multiplier(variant):
    _, compiled = _compile("cnn_pool", variant, "darwin3")
    node = next(n for n in compiled.graph.nodes if n.attrs.get("integration") == EXACT)
    table, group = node.params["exact_thresholds"], node.params["exact_group"]
    mult = np.asarray(node.params["multiplier"]).reshape(-1)
    assert table.shape[0] == np.unique(mult).size  # per tensor: one table; per channel: one per multiplier
    first = [int(np.argmax(group.reshape(-1) == g)) for g in range(table.shape[0])]
    bound = node.attrs["exact_bound"]
    rng = np.random.default_rng(0)
    t = np.concatenate([rng.integers(-bound, bound + 1, size=(2000, table.shape[0])),
                        (table[:, 1:].T + rng.integers(-1, 2, size=(255, table.shape[0]))).clip(-bound, bound)])
    wide = requantized(t, node, 0, mult[first], WIDE_BITS)
    counted = (t[..., None] >= table[None, :, 1:]).sum(axis=-1)
    np.testing.assert_array_equal(counted, wide)


@pytest.mark.parametrize("engine", ["numpy", "kernel"])
def test_lut_reads_zero_beyond_the_words_the_simulator_keeps(engine):
    """The simulator keeps only the words written (integration exact's memory is 16384 words): an
    index below lut_words but beyond them reads 0, as unwritten memory does."""
    from sdannc.sim.executor import ProgramRunner
    from test_program_kernel import CYCLES
    target = load_target("darwin3")
    base, n = target.core["config_registers"], 4
    config = np.zeros((base + 10, n), dtype=np.int64)
    config[base:] = np.arange(10)[:, None] + 5
    state = np.zeros((n, target.core["state_fields"]), dtype=np.int64)
    state[:, 0] = [3, 9, 10, target.core["lut_words"] + 7]
    program = assemble("LOAD R5, 0\nLUT R6, R5\nSTORE R6, 1\nEND", ISA)
    runner = ProgramRunner("lut", program, CYCLES, ISA, target, config, state, [0], 1, engine=engine)
    assert runner.engine == engine, runner.engine_note
    runner.run_tick(np.zeros((1, n), dtype=np.int64))
    assert runner.state[1, 0].tolist() == [8, 14, 0, 0]
