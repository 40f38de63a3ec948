"""Integration "exact" (docs/exactness.md): STEM layers on darwin3's 16-bit registers that compute
onnxruntime's codes bit for bit (darwin3-wide's where onnxruntime's kernel is not a float32
QLinearConv / QGemm / QLinearMatMul): the instruction it needs (LDWR) on both engines, onnxruntime's
float32 requantization against onnxruntime itself, the threshold tables against the functions
they step, the simulator against the golden model, and the layers' codes against onnxruntime's."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import models
from sdannc.backend import neuron_addresses
from sdannc.backend.addresses import INPUT
from sdannc.compiler import compile_in_memory
from sdannc.golden import run_codes
from sdannc.golden.interpreter import run as golden_run
from sdannc.neurons import golden_op
from sdannc.ir.codec import encode_input
from sdannc.ir.ops import STEM
from sdannc.isa import assemble
from sdannc.frontend import load_onnx
from sdannc.ir import connections
from sdannc.neurons.stem import EXACT, requantized, split_words
from sdannc.passes.requantize import WIDE_BITS, float32_codes
from sdannc.verification import _onnxruntime_codes
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


def _layer_codes(path, graph, nodes, x):
    """onnxruntime's codes (the project's reference, exact mode) of the nodes' inputs and outputs."""
    names = sorted({i for n in nodes for i in n.inputs} | {n.output for n in nodes})
    codes, _, _ = _onnxruntime_codes(path, graph, names, x)
    return codes


@pytest.mark.parametrize("name", ["cnn_pool", "residual", "strided_depthwise", "mlp_gemm", "mlp_matmul"])
def test_float32_requantization_is_onnxruntimes_on_every_element(name):
    """The function the thresholds step: clamp(rne(fl(fl(acc) fl(fl(sx sw) / sy))) + zy), on
    onnxruntime's own input codes of every Conv / Gemm / MatMul, equals onnxruntime's output codes."""
    for variant in VARIANTS[::3] + VARIANTS[1::3]:
        path = models.quantized(name, *variant)
        graph = load_onnx(path)
        linear = [n for n in graph.nodes if n.op == "linear"]
        assert all(n.attrs.get("float32_requantize") for n in linear)
        x = models.eval_set(models.float_model(name), 16)
        codes = _layer_codes(path, graph, linear, x)
        for node in linear:
            tx, ty = graph.tensors[node.inputs[0]], graph.tensors[node.output]
            xs = codes[node.inputs[0]].reshape((-1,) + tx.shape).astype(np.int64) - tx.zero_point
            acc = connections.apply(dict(node.attrs), node.params["weight"], xs, ty.shape)
            total = acc + node.params["bias"].reshape((-1,) + (1,) * (len(ty.shape) - 1))
            scale = (np.float32(tx.scale) * node.params["weight_scale"].astype(np.float32)) / np.float32(ty.scale)
            mine = float32_codes(total, scale.reshape((-1,) + (1,) * (len(ty.shape) - 1)), ty.zero_point,
                                 node.attrs["clamp"])
            np.testing.assert_array_equal(mine, codes[node.output].reshape(mine.shape), err_msg=node.name)


@pytest.mark.parametrize("name, variant", [(n, VARIANTS[(3 * i + 1) % len(VARIANTS)]) for i, n in enumerate(FAMILIES)],
                         ids=lambda v: v if isinstance(v, str) else models.variant_id(v))
def test_exact_layers_are_onnxruntimes_codes_and_the_simulator_is_golden(name, variant):
    target, compiled = _compile(name, variant, "darwin3")
    graph = compiled.graph
    exact = [n for n in graph.nodes if n.op == STEM and n.attrs.get("integration") == EXACT]
    assert exact, "the family's layers with sums beyond 16 bits use integration exact"
    linear = {n.name for n in load_onnx(models.quantized(name, *variant)).nodes if n.op == "linear"}
    for node in exact:  # onnxruntime's own function: no bound; elsewhere darwin3-wide's, its multiplier's
        assert node.attrs["error_bound"] == 0.0 if node.name in linear else node.attrs["error_bound"] < 1e-3
    x = models.eval_set(models.float_model(name), 4)
    codes = encode_input(x, graph.input_encode).reshape(x.shape)
    golden = run_codes(graph, codes, target.arith, keep=True)
    ort = _layer_codes(models.quantized(name, *variant), graph, exact, x)
    checked = 0
    for node in exact:  # on onnxruntime's own input codes: the layer's codes are onnxruntime's
        if not all(i in ort for i in node.inputs) or node.output not in ort:
            continue  # (an input that is no ONNX tensor: a relay the compiler added)
        inputs = [ort[i].reshape((-1,) + graph.tensors[i].shape) for i in node.inputs]
        mine = golden_op(node, inputs, graph.tensors[node.output].shape, target.arith)
        np.testing.assert_array_equal(mine.reshape(len(x), -1), ort[node.output].reshape(len(x), -1),
                                      err_msg=node.name)
        checked += 1
    assert checked >= len(exact) / 2
    sim = Simulator(compiled.image)
    result = sim.run(x, record_codes=True)
    for tensor, (core, neuron) in neuron_addresses(graph, compiled.layers).items():
        if not (core == INPUT).any():
            np.testing.assert_array_equal(sim.codes_at(result, core, neuron),
                                          golden[tensor].reshape(result.samples, -1), err_msg=tensor)


@pytest.mark.parametrize("variant", [VARIANTS[0], VARIANTS[2]], ids=models.variant_id)
def test_thresholds_step_the_requantization_of_t_plus_bias_one_table_per_scale(variant):
    _, compiled = _compile("cnn_pool", variant, "darwin3")
    layers = [n for n in compiled.graph.nodes if n.attrs.get("integration") == EXACT]
    frontend = load_onnx(models.quantized("cnn_pool", *variant))
    linear = {n.name: n for n in frontend.nodes if n.op == "linear"}
    assert layers and all(n.name in linear for n in layers)  # (its exact layers are its convolutions and Gemm)
    for node in layers:
        table, group = node.params["exact_thresholds"], node.params["exact_group"]
        first = [int(np.argmax(group.reshape(-1) == g)) for g in range(table.shape[0])]
        # per tensor: one table; per channel: at most one per channel (one per float32 scale)
        assert table.shape[0] == 1 if not variant[1] else 1 <= table.shape[0] <= group.shape[0]
        bound = node.attrs["exact_bound"]
        rng = np.random.default_rng(0)
        t = np.concatenate([rng.integers(-bound, bound + 1, size=(2000, table.shape[0])),
                            (table[:, 1:].T + rng.integers(-1, 2, size=(255, table.shape[0]))).clip(-bound, bound)])
        lin = linear[node.name]
        sx, sy = frontend.tensors[lin.inputs[0]].scale, frontend.tensors[lin.output].scale
        scale = (np.float32(sx) * lin.params["weight_scale"].astype(np.float32)) / np.float32(sy)
        channel = np.asarray(first) // (group.size // group.shape[0])  # each table's first neuron's channel
        expected = float32_codes(t, scale[channel], node.attrs["zero_point"], node.attrs["clamp"])
        counted = (t[..., None] >= table[None, :, 1:]).sum(axis=-1)
        np.testing.assert_array_equal(counted, expected, err_msg=node.name)


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


def _tie_model(sx: float, sw: float, sy: float) -> onnx.ModelProto:
    """x [1, 2] -> QuantizeLinear -> QLinearMatMul by [[127], [1]] -> DequantizeLinear: acc = 127 a + b."""
    from models import IR_VERSION, OPSET
    inits = [numpy_helper.from_array(v, n) for n, v in [
        ("xs", np.array(sx, np.float32)), ("xz", np.array(0, np.uint8)), ("w", np.array([[127], [1]], np.int8)),
        ("ws", np.array(sw, np.float32)), ("wz", np.array(0, np.int8)), ("ys", np.array(sy, np.float32)),
        ("yz", np.array(0, np.uint8))]]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             helper.make_node("QLinearMatMul", ["xq", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["yq"], name="mm"),
             helper.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["y"])]
    graph = helper.make_graph(nodes, "tie", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model


def test_at_a_float32_tie_the_16_bit_chip_gives_onnxruntimes_code_where_darwin3_wide_does_not(tmp_path):
    """Scales (found by a search) for which acc = 23330 lies so near a half that onnxruntime's float32
    product rounds it to 60 where the exact value rounds to 61: integration exact, whose thresholds
    step onnxruntime's own function, gives 60 on darwin3 (golden model and simulator); darwin3-wide's
    fixed-point multiplier, the exact value's 61."""
    from fractions import Fraction
    sx, sw, sy = (float(np.float32(v)) for v in (0.018104884773492813, 0.009031620807945728, 0.06305518746376038))
    exact = Fraction(23330) * Fraction(sx) * Fraction(sw) / Fraction(sy)
    assert round(exact) == 61 and abs(exact - Fraction(121, 2)) < Fraction(1, 10 ** 4)  # (the half is 60.5)
    path = tmp_path / "tie.onnx"
    onnx.save(_tie_model(sx, sw, sy), path)
    rng = np.random.default_rng(5)
    codes = np.concatenate([[[183, 89]], rng.integers(0, 256, size=(63, 2))])  # 127 * 183 + 89 = 23330
    x = (codes * np.float32(sx)).astype(np.float32)
    expected = models.ort_run(path, x)
    assert round(float(expected[0, 0]) / sy) == 60
    narrow, wide = load_target("darwin3"), load_target("darwin3-wide")
    chip = compile_in_memory(path, narrow)
    assert [n.attrs["integration"] for n in chip.graph.nodes if n.op == STEM] == [EXACT]
    np.testing.assert_array_equal(golden_run(chip.graph, x, narrow.arith), expected)
    np.testing.assert_array_equal(Simulator(chip.image).run(x).outputs, expected)
    wide_out = golden_run(compile_in_memory(path, wide).graph, x, wide.arith)
    assert round(float(wide_out[0, 0]) / sy) == 61 and np.array_equal(wide_out[1:], expected[1:])


def test_a_neuron_whose_code_never_changes_needs_no_bias_in_two_words():
    """The trained digits CNN per channel has dense neurons whose tiny weight scale and large bias
    clamp them whatever their input (the bias is beyond two words): integration exact gives them a
    table of their one code and no bias, so the layer is exact too, and onnxruntime's outputs are
    matched on every element."""
    from sdannc.passes import Options, run_pipeline
    from sdannc.passes.scaled_integration import constant_neurons
    target = load_target("darwin3")
    path = models.quantized("digits_cnn", "qop", True, "uint8")
    lowered = run_pipeline(load_onnx(path), target, Options(), stop_after="align-delays")
    fc1 = next(n for n in lowered.nodes if n.name == "fc1_quant")
    assert constant_neurons(fc1, lowered).any()
    graph = run_pipeline(load_onnx(path), target, Options())
    assert all(n.attrs["integration"] == EXACT for n in graph.nodes if n.op == STEM)
    x = models.eval_set(models.float_model("digits_cnn"), 40)
    got = np.concatenate([golden_run(graph, x[i:i + 1], target.arith) for i in range(len(x))])
    expected = np.concatenate([models.ort_run(path, x[i:i + 1]) for i in range(len(x))])  # (a fixed batch of 1)
    np.testing.assert_array_equal(got, expected)
