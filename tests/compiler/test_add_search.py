"""The Add neuron on darwin3 by threshold search (isa/programs/add_search.s, passes/requantize.add_search):
onnxruntime's uint8 QLinearAdd as numpy computes it (requantize.qlinear_add_codes) equals onnxruntime's
own output on every pair of input codes; the chip's Add (golden model) gives onnxruntime's code on
every pair, on hostile scalings and on a model's Add layer; simulator == golden on both engines; a
residual model compiled for darwin3 gives onnxruntime's outputs; int8 Adds keep the two-word program."""

import numpy as np
import pytest
from onnx import TensorProto, helper

import models
from sdannc.compiler import compile_in_memory, golden_outputs, lower
from sdannc.ir.graph import Graph, Tensor
from sdannc.isa import load_isa
from sdannc.neurons import NEURONS
from sdannc.passes import run_pipeline
from sdannc.passes.base import Options
from sdannc.passes.lower_elementwise import adder_node
from sdannc.passes.requantize import add_search, qlinear_add_codes, search_add
from sdannc.reference import reference
from sdannc.sim import executor
from sdannc.target import load_target

from irgraphs import GraphMaker, assert_simulator_equals_golden

NARROW = load_target("darwin3")
ADDER = NEURONS["adder"]
PAIRS = 1 << 16
CODES_A, CODES_B = np.divmod(np.arange(PAIRS), 256)  # every pair of codes once

SCALINGS = {  # (sa, sb, sc), (za, zb), zc, clamp
    "typical": ((0.021, 0.034, 0.047), (0, 0), 0, (0, 255)),
    "relu": ((0.0123, 0.0311, 0.0291), (0, 0), 0, (0, 255)),
    "zero points": ((0.051, 0.017, 0.033), (131, 77), 140, (0, 255)),
    "large ratios": ((0.2, 0.05, 0.0391), (255, 3), 250, (0, 255)),
    "small ratios": ((0.0031, 0.0057, 0.02), (12, 240), 9, (0, 255)),
    "clamped low": ((0.03, 0.031, 0.029), (128, 128), 128, (128, 255)),
}


def _onnxruntime_add(scales, zero_points, zc):
    """onnxruntime's uint8 QLinearAdd (the project's reference, exact mode) on every pair of codes."""
    consts = [helper.make_tensor(n, TensorProto.FLOAT, [], [float(np.float32(v))]) for n, v in zip(("sa", "sb", "sc"), scales)]
    consts += [helper.make_tensor(n, TensorProto.UINT8, [], [v]) for n, v in zip(("za", "zb", "zc"), (*zero_points, zc))]
    consts += [helper.make_tensor(f"i{k}", TensorProto.INT64, [], [k]) for k in (0, 1)]
    nodes = [helper.make_node("Gather", ["x", "i0"], ["a"], axis=0), helper.make_node("Gather", ["x", "i1"], ["b"], axis=0),
             helper.make_node("QLinearAdd", ["a", "sa", "za", "b", "sb", "zb", "sc", "zc"], ["y"], domain="com.microsoft")]
    graph = helper.make_graph(nodes, "qlinear_add", [helper.make_tensor_value_info("x", TensorProto.UINT8, [2, PAIRS])],
                              [helper.make_tensor_value_info("y", TensorProto.UINT8, [PAIRS])], consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
    return reference(model).outputs(np.stack([CODES_A, CODES_B]).astype(np.uint8)).astype(np.int64)


def _search_node(scales, zero_points, zc, clamp):
    tensors = {"a": Tensor("a", (PAIRS,), scales[0], zero_points[0]), "b": Tensor("b", (PAIRS,), scales[1], zero_points[1]),
               "y": Tensor("y", (PAIRS,), scales[2], zc)}
    graph = Graph("pairs", "a", "y", tensors, [], {}, {})
    node = adder_node("add", ["a", "b"], graph, tensors["y"], [scales[0] / scales[2], scales[1] / scales[2]], 0.0,
                      clamp, NARROW)
    node.attrs["float32_add"] = scales
    graph.nodes = [node]
    search_add(node, graph, Options())
    return node


@pytest.mark.parametrize("case", sorted(SCALINGS))
def test_every_pair_gives_onnxruntimes_code_in_numpy_and_on_the_chip(case):
    scales, zero_points, zc, clamp = SCALINGS[case]
    scales = tuple(float(np.float32(s)) for s in scales)
    want = np.clip(_onnxruntime_add(scales, zero_points, zc), *clamp)
    np.testing.assert_array_equal(qlinear_add_codes(CODES_A, CODES_B, scales, (*zero_points, zc), clamp), want)
    node = _search_node(scales, zero_points, zc, clamp)
    assert node.attrs.get("search") and node.attrs["error_bound"] == 0
    got = ADDER.compute(node, [CODES_A[None], CODES_B[None]], (PAIRS,), NARROW.arith)[0]
    np.testing.assert_array_equal(got, want)
    assert np.unique(want).size > 20  # not all clamped
    # the exact value's rounding differs from onnxruntime's somewhere on some scalings: the test is
    # of onnxruntime's function, not of the real sum (checked over all cases below)


def test_the_float32_function_is_not_the_real_sums_rounding_everywhere():
    """On one of these scalings onnxruntime's float32 rounds a pair the other way from the real sum:
    a test of the real sum's rounding would not catch it (found by search, scales fixed)."""
    differ = 0
    for scales, zero_points, zc, clamp in SCALINGS.values():
        s = [float(np.float32(v)) for v in scales]
        real = (s[0] * (CODES_A - zero_points[0]) + s[1] * (CODES_B - zero_points[1])) / s[2] + zc
        exact = np.clip(np.rint(real), *clamp)
        differ += int(np.count_nonzero(exact != qlinear_add_codes(CODES_A, CODES_B, s, (*zero_points, zc), clamp)))
    assert differ > 0


def test_thresholds_step_the_function_and_fit_the_two_word_layout():
    scales, zero_points, zc, clamp = SCALINGS["zero points"]
    found = add_search(scales, zero_points, zc, clamp)
    assert found is not None and found.bound + 1 <= (2 ** 15 - 2) * 2 ** 14
    t = found.thresholds
    assert t[0] == found.bound + 1 and np.all(np.diff(t[1:]) >= 0)
    ma, mb = found.multipliers
    s = ma * (CODES_A - zero_points[0]) + mb * (CODES_B - zero_points[1])
    codes = qlinear_add_codes(CODES_A, CODES_B, scales, (*zero_points, zc), clamp)
    np.testing.assert_array_equal(np.searchsorted(t[1:], s, side="right"), codes)


@pytest.mark.parametrize("variant", [("qdq", False, "uint8"), ("qop", True, "uint8")], ids=models.variant_id)
def test_a_residual_model_on_darwin3_gives_onnxruntimes_outputs(variant):
    path = models.quantized("residual", *variant)
    compiled = compile_in_memory(path, NARROW)
    adds = [n for n in compiled.graph.nodes if n.op == "adder"]
    assert adds and all(n.attrs.get("search") for n in adds)
    add = adds[0]
    a, b, y = (compiled.graph.tensors[t] for t in (*add.inputs, add.output))
    want = np.clip(_onnxruntime_add((a.scale, b.scale, y.scale), (a.zero_point, b.zero_point), y.zero_point),
                   *add.attrs["clamp"])
    shape = y.shape  # every pair once, spread over the layer's neurons (they share one table)
    batch = -(-PAIRS // int(np.prod(shape)))
    codes = [np.resize(c, batch * int(np.prod(shape))).reshape((batch,) + shape) for c in (CODES_A, CODES_B)]
    got = ADDER.compute(add, codes, shape, NARROW.arith).reshape(-1)[:PAIRS]
    np.testing.assert_array_equal(got, want)
    x = models.eval_set(models.float_model("residual"), 64)
    np.testing.assert_array_equal(golden_outputs(path, x, NARROW), models.ort_run(path, x))


def test_where_onnxruntimes_add_is_no_function_of_the_sum_the_two_word_program_stays():
    """Ratios 0.022 and 0.034 (nearly 11 : 17): pairs whose real sums lie 2e-8 apart just below a half
    come out of onnxruntime's float32 in the other order (4, 54 gives 3; 21, 43 gives 2), so no sum of
    integer multiples orders them; the compiler keeps darwin3-wide's arithmetic and says so."""
    scales = tuple(float(np.float32(s)) for s in (0.0011, 0.0017, 0.05))
    assert add_search(scales, (12, 240), 9, (0, 255)) is None
    node = _search_node(scales, (12, 240), 9, (0, 255))
    assert "search" not in node.attrs and node.attrs["two_words"] == 16 and "float32_add" not in node.attrs
    codes = qlinear_add_codes(np.array([4, 21]), np.array([54, 43]), scales, (12, 240, 9), (0, 255))
    assert codes.tolist() == [3, 2]


def test_int8_adds_keep_the_two_word_program():
    """Whether onnxruntime runs an int8 Add as its int8 kernel, its uint8 twin or unfused float32 depends
    on the model's form and the reference's mode; only uint8 is the function add_search steps."""
    adds = [n for n in lower(models.quantized("residual", "qdq", False, "int8"), NARROW).nodes if n.op == "adder"]
    assert adds and all("two_words" in n.attrs and "search" not in n.attrs for n in adds)


def _residual_graph():
    g = GraphMaker("res", (3, 6, 6), seed=4)
    a = g.conv("x", 4)
    b = g.conv(g.conv(a, 4), 4, relu=False)
    g.add(a, b, relu=True)
    for node in g.graph.nodes:
        if node.op == "add":
            node.attrs["float32_add"] = True  # as the frontend marks a uint8 Add
    out = g.graph.nodes[-1].output
    g.dense(g.reshape(out, (4 * 6 * 6,)), 3, relu=False)
    return g.graph


@pytest.mark.parametrize("engine", ["numpy", "kernel"])
def test_simulator_equals_golden_on_both_engines(monkeypatch, engine):
    monkeypatch.setattr(executor, "ENGINE", engine)
    graph = run_pipeline(_residual_graph(), NARROW)
    assert sum(bool(n.attrs.get("search")) for n in graph.nodes if n.op == "adder") == 1
    # 64 samples: a program whose two words split the sum off its canonical form (L outside
    # [-2^13, 2^13)) is one step off only near a threshold; 6 samples did not meet such a sum
    assert_simulator_equals_golden(graph, NARROW, samples=64)


def test_the_search_program_fits_the_core():
    node = next(n for n in run_pipeline(_residual_graph(), NARROW).nodes if n.attrs.get("search"))
    words = ADDER.program(node, NARROW)
    mnemonics = [i.mnemonic for i in load_isa().decode_program(words)]
    assert mnemonics.count("MACW") == 5 and mnemonics.count("LUT") == 3 and "MULT" not in mnemonics
    assert len(words) <= NARROW.core["program_words"]
    assert max(ADDER.search_template.state.values()) < NARROW.core["state_fields"]
