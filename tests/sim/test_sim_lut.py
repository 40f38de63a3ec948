"""The LUT instruction on both program engines, and the lookup neuron's layers on the simulator:
every layer's recorded codes equal the golden model's, on both targets."""

from __future__ import annotations

import numpy as np
import pytest

import activation_models as am
from sdannc.backend import neuron_addresses
from sdannc.backend.addresses import INPUT
from sdannc.compiler import compile_in_memory
from sdannc.golden import run_codes
from sdannc.ir.codec import encode_input
from sdannc.ir.ops import LUT
from sdannc.isa import assemble, load_isa
from sdannc.sim import Simulator
from sdannc.sim.executor import ProgramRunner
from sdannc.target import load_target, target_from_dict

ISA = load_isa()
CYCLES = {spec.mnemonic: spec.cycles for spec in ISA.instructions}


@pytest.mark.parametrize("engine", ["numpy", "kernel"])
@pytest.mark.parametrize("target_name", ["darwin3", "darwin3-wide"])
def test_lut_reads_each_cores_memory_at_the_clamped_index(engine, target_name):
    target = load_target(target_name)
    base, words = target.core["config_registers"], target.core["lut_words"]
    n = 6
    config = np.zeros((base + words, n), dtype=np.int64)
    config[base:, :3] = np.arange(words)[:, None] * 3 + 1  # core 0's table
    config[base:, 3:] = 1000 - np.arange(words)[:, None]  # core 1's
    state = np.zeros((n, target.core["state_fields"]), dtype=np.int64)
    state[:, 0] = [0, 7, words + 50, -4, 255, 9]  # indices: in range, beyond, below
    program = assemble("LOAD R5, 0\nLUT R6, R5\nSTORE R6, 1\nEND", ISA)
    runner = ProgramRunner("lut", program, CYCLES, ISA, target, config, state, [0, 3], 1, engine=engine)
    assert runner.engine == engine, runner.engine_note
    runner.run_tick(np.zeros((1, n), dtype=np.int64))
    top = (1 << (target.arith["register_bits"] - 1)) - 1  # (a register saturates what it reads)
    assert runner.state[1, 0].tolist() == [1, 22, min(3 * (words - 1) + 1, top), 1000, 1000 - 255, 1000 - 9]


@pytest.mark.parametrize("engine", ["numpy", "kernel"])
def test_lut_reads_the_memory_of_the_neurons_core_and_zero_beyond_its_words(engine):
    """The simulator keeps one lookup memory per core (not per neuron): neurons name their core's
    row; an index below lut_words beyond the words written reads 0, as unwritten memory does."""
    target = load_target("darwin3")
    n = 5
    config = np.zeros((target.core["config_registers"], n), dtype=np.int64)
    memories = np.asarray([[5, 6, 7], [-1, -2, -3]], dtype=np.int64)
    state = np.zeros((n, target.core["state_fields"]), dtype=np.int64)
    state[:, 0] = [0, 2, 1, 3, -9]
    program = assemble("LOAD R5, 0\nLUT R6, R5\nSTORE R6, 1\nEND", ISA)
    runner = ProgramRunner("lut", program, CYCLES, ISA, target, config, state, [0, 2], 1, engine=engine,
                           lut=(memories, np.asarray([0, 0, 1, 1, 1])))
    assert runner.engine == engine, runner.engine_note
    runner.run_tick(np.zeros((1, n), dtype=np.int64))
    assert runner.state[1, 0].tolist() == [5, 7, -2, 0, -1]


def test_without_a_lookup_memory_lut_is_left_to_the_numpy_engine():
    target = load_target("darwin3")
    target = target_from_dict(dict(target.raw, name="no-lut", core=dict(target.raw["core"], lut_words=0)), "test")
    n = 2
    config = np.zeros((target.core["config_registers"], n), dtype=np.int64)
    state = np.zeros((n, target.core["state_fields"]), dtype=np.int64)
    runner = ProgramRunner("lut", assemble("LUT R6, R5\nEND", ISA), CYCLES, ISA, target, config,
                           state, [0], 1)
    assert runner.engine == "numpy" and "LUT without a lookup memory" in runner.engine_note


@pytest.mark.parametrize("target_name", ["darwin3", "darwin3-wide"])
@pytest.mark.parametrize("act, fmt", [("silu", "qdq"), ("leakyrelu", "qop"), ("gelu", "qdq")])
def test_recorded_layer_codes_equal_the_golden_model(act, fmt, target_name):
    target = load_target(target_name)
    compiled = compile_in_memory(am.quantized_net("small", act, fmt, "uint8", False, (1, 8, 8)), target)
    graph = compiled.graph
    x = am.inputs((1, 8, 8), 5, 3)
    golden = run_codes(graph, encode_input(x, graph.input_encode).reshape(x.shape), target.arith, keep=True)
    sim = Simulator(compiled.image)
    result = sim.run(x, record_codes=True)
    luts = [n.output for n in graph.nodes if "table" in n.params]  # the activations, fused into the convs
    assert len(luts) == 2 and not any(n.op == LUT for n in graph.nodes)
    checked = 0
    for name, (core, neuron) in neuron_addresses(graph, compiled.layers).items():
        if (core == INPUT).any():
            continue
        np.testing.assert_array_equal(sim.codes_at(result, core, neuron), golden[name].reshape(5, -1), err_msg=name)
        checked += name in luts
    assert checked == 2 and all(len(np.unique(golden[t])) > 4 for t in luts)


def test_the_lookup_memory_survives_writing_and_reading_the_image(tmp_path):
    from sdannc.image import read_image, write_image

    target = load_target("darwin3-wide")
    compiled = compile_in_memory(am.quantized_net("small", "silu", "qdq", "uint8", False, (1, 8, 8)), target)
    write_image(compiled.image, tmp_path / "img")
    back = read_image(tmp_path / "img")
    tables = [(a.lut, b.lut) for a, b in zip(compiled.image.cores, back.cores) if a.lut.size]
    assert tables and all(a.size == 256 and np.array_equal(a, b) for a, b in tables)
    assert sum(not a.lut.size for a in compiled.image.cores) >= 1  # cores without one keep none (the dense layer)
    x = am.inputs((1, 8, 8), 3, 4)
    np.testing.assert_array_equal(Simulator(back).run(x).outputs, Simulator(compiled.image).run(x).outputs)


@pytest.mark.parametrize("target_name", ["darwin3", "darwin3-wide"])
def test_a_lookup_neuron_layer_on_the_simulator(target_name, tmp_path):
    """An activation of the input itself: a layer of lookup neurons (nothing to fuse it into)."""
    import onnx
    path = tmp_path / "m.onnx"
    onnx.save(am.unary_qdq("Tanh", "uint8", 0.05, 128, 0.01, 100), path)
    target = load_target(target_name)
    compiled = compile_in_memory(path, target)
    assert [n.op for n in compiled.graph.nodes] == [LUT]
    x = np.tile(am.all_codes("uint8"), (3, 1))
    x[1] = x[1][::-1]
    sim = Simulator(compiled.image).run(x)
    golden = run_codes(compiled.graph, x.astype(np.int64), target.arith)
    np.testing.assert_array_equal(sim.codes, golden.reshape(3, -1))
    assert len(np.unique(golden)) > 50


@pytest.mark.parametrize("target_name", ["darwin3", "darwin3-wide"])
def test_a_sparsified_layer_with_a_fused_table_runs_as_its_golden_model(target_name):
    """RoT / DRLO act on the layer's own code, then the table (output_code.inc's order)."""
    from sdannc.sparsify import Plan, Setting

    target = load_target(target_name)
    path = am.quantized_net("small", "silu", "qdq", "uint8", False, (1, 8, 8))
    plain = compile_in_memory(path, target)
    sparse = compile_in_memory(path, target, plan=Plan(Setting(rot=2, drlo=1)))
    fused = [n for n in sparse.graph.nodes if "table" in n.params]
    assert fused and all("sparsify" in n.attrs for n in fused)
    x = am.inputs((1, 8, 8), 4, 6)
    golden = run_codes(sparse.graph, encode_input(x, sparse.graph.input_encode).reshape(x.shape), target.arith)
    np.testing.assert_array_equal(Simulator(sparse.image).run(x).codes, golden.reshape(4, -1))
    before = run_codes(plain.graph, encode_input(x, plain.graph.input_encode).reshape(x.shape), target.arith)
    assert (before != golden).any()  # the setting did something
