"""The Add neuron on 16-bit registers (isa/programs/add_two_words.s, MACW / SFTW): the output code
darwin3-wide's Add neuron gives, for every pair of input codes, on real Add layers and hostile ones;
a model's Add layers on darwin3 equal darwin3-wide's given the same inputs; the simulator equals the
golden model on both program engines; the report states darwin3-wide's bound; and the cost."""

import numpy as np
import pytest

import models
from sdannc import arith
from sdannc.backend import neuron_addresses
from sdannc.backend.program_cost import program_cost
from sdannc.compiler import compile_in_memory, lower
from sdannc.frontend import load_onnx
from sdannc.golden import run_codes
from sdannc.ir.codec import encode_input
from sdannc.ir.evaluate import walk
from sdannc.ir.graph import Graph, Tensor
from sdannc.isa import load_isa
from sdannc.neurons import NEURONS, golden_op
from sdannc.neurons.adder import split_multiplier
from sdannc.passes import run_pipeline
from sdannc.passes.lower_elementwise import adder_node
from sdannc.sim import Simulator, executor
from sdannc.sparsify import Plan, Setting
from sdannc.target import load_target

from irgraphs import GraphMaker, assert_simulator_equals_golden

NARROW, WIDE = load_target("darwin3"), load_target("darwin3-wide")
ADDER = NEURONS["adder"]
PAIRS = 1 << 16
CODES_A, CODES_B = np.divmod(np.arange(PAIRS), 256)  # every pair of codes once


# ---- the arithmetic: MACW and SFTW against Python's integers ---------------------------------------

def _saturate(v: int, bits: int) -> int:
    lo, hi = arith.signed_range(bits)
    return min(max(v, lo), hi)


@pytest.mark.parametrize("bits", [16, 32])
def test_two_word_instructions_are_integer_arithmetic_saturated_at_two_words(bits):
    rng = np.random.default_rng(bits)
    lo, hi = arith.signed_range(bits)
    n = 4000
    words = [rng.integers(lo, hi + 1, size=n) for _ in range(4)]
    words[0][:300] = np.where(rng.integers(0, 2, 300) == 1, hi, lo)  # accumulators at the limits
    words[2][:600] = rng.integers(-300, 300, size=600)  # small factors
    for shift in load_isa().domain(next(f for f in load_isa().spec("MACW").fields if f.name == "shift")):
        high, low = arith.multiply_accumulate(words[0], words[1], words[2], words[3], shift, bits)
        for k in range(0, n, 37):
            value = int(words[0][k]) * 2 ** bits + (int(words[1][k]) % 2 ** bits)
            want = _saturate(value + _saturate(int(words[2][k]) * int(words[3][k]) * 2 ** shift, 2 * bits), 2 * bits)
            assert int(high[k]) * 2 ** bits + int(low[k]) % 2 ** bits == want
            assert lo <= low[k] <= hi and lo <= high[k] <= hi
    for amount in (0, 1, 5, 15, 16, 31):
        for mode, rounding in (("TRUNC", lambda v, d: v // d), ("RND", lambda v, d: (2 * v + d) // (2 * d)),
                               ("RNE", lambda v, d: v // d + (2 * (v % d) > d or (2 * (v % d) == d and v // d % 2)))):
            got = arith.shift_two_words(words[0], words[1], amount, mode, bits)
            for k in range(0, n, 41):
                value = int(words[0][k]) * 2 ** bits + (int(words[1][k]) % 2 ** bits)
                assert int(got[k]) == _saturate(int(rounding(value, 2 ** amount)), bits)


def test_a_multipliers_two_parts_carry_its_sign():
    for m in (0, 1, -1, 32767, 32768, -32768, 2390228, -2390228, (1 << 23) - 1):
        high, low = split_multiplier(m, 15)
        assert high * 2 ** 15 + low == m and abs(low) < 2 ** 15 and abs(high) <= abs(m) >> 15
        assert high * m >= 0 and low * m >= 0


# ---- every pair of codes, 16-bit against 32-bit ------------------------------------------------------

def _pair_node(target, ratios, offsets, zero_points, zc, clamp, inputs=2):
    tensors = {"a": Tensor("a", (PAIRS,), 1.0, zero_points[0]), "b": Tensor("b", (PAIRS,), 1.0, zero_points[1]),
               "y": Tensor("y", (PAIRS,), 1.0, zc)}
    graph = Graph("pairs", "a", "y", tensors, [], {}, {})
    return adder_node("add", ["a", "b"][:inputs], graph, tensors["y"], ratios, offsets, clamp, target)


def _every_pair(narrow, wide, inputs: int, shape=(PAIRS,)):
    """Both nodes' codes over every pair of input codes (one input: every code, at every neuron)."""
    size = int(np.prod(shape))
    if inputs == 1:
        codes = [np.broadcast_to(np.arange(256).reshape((256,) + (1,) * len(shape)), (256,) + shape)]
    else:
        batch = -(-PAIRS // size)
        codes = [np.resize(c, batch * size).reshape((batch,) + shape) for c in (CODES_A, CODES_B)]
    return (ADDER.compute(narrow, codes, shape, NARROW.arith), ADDER.compute(wide, codes, shape, WIDE.arith))


def _assert_same_arithmetic(narrow, wide):
    assert narrow.attrs["two_words"] == 16 and "two_words" not in wide.attrs
    for key in ("multipliers", "mul_shift", "out_shifts", "error_bound", "input_zero_points", "zero_point"):
        assert narrow.attrs[key] == wide.attrs[key], key
    np.testing.assert_array_equal(narrow.params["offset"], wide.params["offset"])


HOSTILE = {  # ratios, offsets (output steps; per neuron when an array), input zero points, output zero point, clamp
    "typical": ([0.6, 0.55], 0.0, (0, 0), 0, (0, 255)),
    "int8 around 128": ([0.6, 0.55], 0.0, (128, 128), 128, (0, 255)),
    "near the limit": ([5.9, 2.1], 0.0, (255, 0), 200, (0, 255)),
    "near the limit, unequal": ([7.9, 0.1], 0.0, (3, 250), 250, (0, 255)),
    "sum near 16": ([12.0, 3.7], 0.0, (0, 0), 0, (0, 255)),
    "tiny ratios": ([1e-3, 2e-3], 100.3, (0, 0), 0, (0, 255)),  # 100.3 to 101.06: codes 100 and 101
    "negative offset": ([0.37, 1.93], -50.25, (255, 128), 200, (3, 250)),
    "offsets per neuron": ([0.81, 0.0], np.random.default_rng(1).uniform(-300, 300, PAIRS), (77, 0), 13, (0, 255)),
    "large zero points": ([1.3, 0.77], 0.0, (255, 255), 255, (0, 255)),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_every_pair_of_codes_gives_the_wide_code_on_hostile_adds(case):
    ratios, offsets, zero_points, zc, clamp = HOSTILE[case]
    narrow, wide = (_pair_node(t, ratios, offsets, zero_points, zc, clamp) for t in (NARROW, WIDE))
    _assert_same_arithmetic(narrow, wide)
    got, want = _every_pair(narrow, wide, 2)
    np.testing.assert_array_equal(got, want)
    assert np.unique(want).size > (1 if case == "tiny ratios" else 20)  # not all clamped


def test_one_input_adds_give_the_wide_code_for_every_code_and_offset():
    offsets = np.random.default_rng(2).uniform(-400, 400, 4096)
    for ratio, zp, zc in ((0.9, 77, 13), (1.3, 200, 255), (6.1, 0, 128)):
        narrow, wide = (_pair_node(t, [ratio, 0.0], np.resize(offsets, PAIRS), (zp, 0), zc, (0, 255), inputs=1)
                        for t in (NARROW, WIDE))
        _assert_same_arithmetic(narrow, wide)
        got, want = _every_pair(narrow, wide, 1)
        np.testing.assert_array_equal(got, want)


def test_where_one_register_is_exact_or_the_wide_one_rounds_its_products_one_word_stays():
    """Exact binary-fraction ratios need no second word; ratio sums above about 16 make darwin3-wide
    round its products (MUL at a shift), which the two-word program does not reproduce."""
    dyadic = _pair_node(NARROW, [0.75, 0.625], 0.0, (0, 0), 0, (0, 255))
    assert "two_words" not in dyadic.attrs and dyadic.attrs["out_shifts"] == [(3, "RNE")]
    got, want = _every_pair(dyadic, _pair_node(WIDE, [0.75, 0.625], 0.0, (0, 0), 0, (0, 255)), 2)
    np.testing.assert_array_equal(got, want)
    steep = _pair_node(NARROW, [30.0, 3.7], 0.0, (0, 0), 0, (0, 255))
    assert "two_words" not in steep.attrs and _pair_node(WIDE, [30.0, 3.7], 0.0, (0, 0), 0, (0, 255)).attrs["mul_shift"]


# uint8 Adds search onnxruntime's thresholds instead (test_add_search.py); int8 ones keep two words
MODEL_CASES = [("residual", v) for v in models.variants(per_channel=(False,), act_types=("int8",))] + [
    ("mlp_matmul", ("qdq", False, "uint8")), ("mlp_matmul", ("qop", True, "int8"))]


@pytest.mark.parametrize("name, variant", MODEL_CASES, ids=[f"{n}-{models.variant_id(v)}" for n, v in MODEL_CASES])
def test_every_pair_of_codes_gives_the_wide_code_on_the_models_add_layers(name, variant):
    path = models.quantized(name, *variant)
    wide = {n.name: n for n in lower(path, WIDE).nodes}
    adds = [n for n in lower(path, NARROW).nodes if n.op == "adder"]
    assert adds
    for narrow in adds:
        _assert_same_arithmetic(narrow, wide[narrow.name])
        shape = tuple(narrow.params["offset"].shape)
        got, want = _every_pair(narrow, wide[narrow.name], len(narrow.inputs), shape)
        np.testing.assert_array_equal(got, want, err_msg=narrow.name)


@pytest.mark.parametrize("variant", [("qdq", False, "int8"), ("qop", True, "int8")], ids=models.variant_id)
def test_a_residual_models_add_layers_on_darwin3_equal_darwin3_wides(variant):
    """Each layer of the darwin3 graph fed darwin3-wide's codes: every Add layer's codes are
    darwin3-wide's (the STEM layers, which round on 16 bits, are left to their own tests)."""
    path = models.quantized("residual", *variant)
    narrow = run_pipeline(load_onnx(path), NARROW)
    wide = {n.name: n for n in lower(path, WIDE).nodes}
    x = models.eval_set(models.float_model("residual"), 64)
    compared = []

    def apply(node, inputs, shape, arith_):
        exact = golden_op(wide[node.name], inputs, shape, WIDE.arith)
        if node.op == "adder":
            codes = golden_op(node, inputs, shape, NARROW.arith)
            np.testing.assert_array_equal(codes, exact, err_msg=node.name)
            compared.append(np.unique(codes).size)
        return exact

    walk(narrow, {narrow.input: encode_input(x, narrow.input_encode).reshape(x.shape).astype(np.int64)},
         NARROW.arith, apply)
    assert compared and min(compared) > 10


# ---- the chip: simulator == golden on both engines, the report, the cost ------------------------------

def _residual_and_bias():
    g = GraphMaker("res", (3, 6, 6), seed=4)
    a = g.conv("x", 4)
    b = g.conv(g.conv(a, 4), 4, relu=False)
    r = g.add(a, b, relu=True)
    h = g.add_const(g.conv(r, 3, relu=False), [0.4, -0.25, 0.07], relu=True)
    g.dense(g.reshape(h, (3 * 6 * 6,)), 3, relu=False)
    return g.graph


@pytest.mark.parametrize("engine", ["numpy", "kernel"])
def test_simulator_equals_golden_on_both_engines(monkeypatch, engine):
    monkeypatch.setattr(executor, "ENGINE", engine)
    graph = run_pipeline(_residual_and_bias(), NARROW)
    assert sum("two_words" in n.attrs for n in graph.nodes if n.op == "adder") == 2
    assert_simulator_equals_golden(graph, NARROW)


def test_the_report_states_darwin3_wides_bound_and_the_cost():
    path = models.quantized("residual", "qdq", False, "int8")  # (a uint8 Add searches: test_add_search.py)
    narrow, wide = (compile_in_memory(path, t).report for t in (NARROW, WIDE))
    rows = [{r["layer"]: r for r in report["layers"]} for report in (narrow, wide)]
    adds = [name for name, r in rows[1].items() if r["op"] == "add"]
    assert adds
    for name in adds:
        n, w = rows[0][name], rows[1][name]
        assert n["error_steps"] == w["error_steps"] < 1e-4
        # the ticks that only integrate cost the same; the tick that computes 2 instructions more
        assert n["instructions_per_tick"][0] == w["instructions_per_tick"][0]
        assert n["instructions_per_tick"][1] == w["instructions_per_tick"][1] + 2
        assert n["cycles_per_tick"][1] == w["cycles_per_tick"][1] + 4


def test_two_word_program_fits_the_core_and_uses_the_accumulator():
    graph = run_pipeline(_residual_and_bias(), NARROW)
    node = next(n for n in graph.nodes if "two_words" in n.attrs)
    words = ADDER.program(node, NARROW)
    mnemonics = [i.mnemonic for i in load_isa().decode_program(words)]
    assert mnemonics.count("MACW") == 4 and mnemonics.count("SFTW") == 1
    assert "MUL" not in mnemonics and "MULT" not in mnemonics
    assert len(words) <= NARROW.core["program_words"]
    template = ADDER.two_words_template
    assert max(template.state.values()) < NARROW.core["state_fields"]
    assert max(template.config.values()) < NARROW.core["config_registers"]
    integrating, last = program_cost(words, NARROW)
    assert last.instructions == len(words)  # the tick that computes runs every word once
    assert integrating.instructions == len(words) - 26  # the other seven skip the two-word sum and the output code


@pytest.mark.parametrize("engine", ["numpy", "kernel"])
def test_sparsified_two_word_adds_on_the_chip_are_the_golden_models(monkeypatch, engine):
    """RoT / DRLO after the two-word sum (output_code.inc): each Add layer's recorded codes."""
    monkeypatch.setattr(executor, "ENGINE", engine)
    compiled = compile_in_memory(models.quantized("residual", "qop", True, "int8"), NARROW,
                                 plan=Plan(Setting(rot=2, drlo=1)))
    graph = compiled.graph
    adds = [n for n in graph.nodes if n.op == "adder"]
    assert adds and all("two_words" in n.attrs and "sparsify" in n.attrs for n in adds)
    x = models.eval_set(models.float_model("residual"), 4)
    golden = run_codes(graph, encode_input(x, graph.input_encode).reshape(x.shape), NARROW.arith, keep=True)
    sim = Simulator(compiled.image)
    result = sim.run(x, record_codes=True)
    addresses = neuron_addresses(graph, compiled.layers)
    for node in adds:
        codes = sim.codes_at(result, *addresses[node.output])
        np.testing.assert_array_equal(codes, golden[node.output].reshape(result.samples, -1), err_msg=node.name)
        assert codes.any() and not (codes % 2).any()  # DRLO 1 dropped the low bit, and the layer spikes
