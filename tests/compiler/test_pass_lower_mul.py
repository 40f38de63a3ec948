"""The lower_mul pass: a `mul` of two activations becomes a product neuron whose 255 thresholds
reproduce onnxruntime's QLinearMul on every product of code differences; a per-channel gate is
broadcast by a depthwise window; on a 16-bit target the same counts from Q = sat(P - C) and the
thresholds less C, and a layer whose thresholds span more than that is refused naming the node."""

import numpy as np
import pytest

from irgraphs import GraphMaker
from sdannc.errors import SdanncError
from sdannc.ir import connections
from sdannc.ir.ops import MUL, PRODUCT
from sdannc.ir.verify import verify
from sdannc.neurons import NEURONS
from sdannc.passes import Options
from sdannc.passes.lower_linear import lower_linear
from sdannc.passes.lower_mul import P_MAX, centered, lower_mul, qlinear_mul_codes, thresholds
from sdannc.target import load_target

WIDE, NARROW = load_target("darwin3-wide"), load_target("darwin3")
OPTS = Options(model="m.onnx")


@pytest.mark.parametrize("seed", range(4))
def test_the_thresholds_give_qlinearmul_on_every_product(seed):
    rng = np.random.default_rng(seed)
    sa, sb = (float(np.float32(v)) for v in np.exp(rng.uniform(np.log(0.002), np.log(0.1), 2)))
    sc = float(np.float32(sa * sb * P_MAX / rng.uniform(60, 300)))  # the products span the output range
    zc = int(rng.integers(-128, 128)) if seed % 2 else int(rng.integers(0, 256))
    code_zp = zc + (128 if seed % 2 else 0)
    clamp = (0, 255) if seed < 2 else (30, 200)
    t = thresholds(sa, sb, sc, zc, code_zp, clamp, 32)
    p = np.arange(-P_MAX, P_MAX + 1)
    want = np.clip(qlinear_mul_codes(p, sa, sb, sc, zc, code_zp), *clamp)
    got = np.searchsorted(t[1:], p, side="right")  # the binary search's answer
    np.testing.assert_array_equal(got, want)
    assert t.size == 256 and t[0] == -(1 << 31) and np.all(np.diff(t) >= 0)
    assert len(np.unique(want)) > 20


def _graph(gate: bool):
    g = GraphMaker("se", (2, 4, 4), seed=3)
    x = g.conv("x", 3)
    s = g.conv("x", 3, k=4, pad=0) if gate else g.conv("x", 3)  # [3, 1, 1]: a gate
    out = g._tensor(g.graph.tensors[x].shape)
    g._add(MUL, [x, s], out, {"clamp": (0, 255), "zero_point_onnx": g.graph.tensors[out].zero_point})
    return g.graph


@pytest.mark.parametrize("gate", [False, True])
def test_a_mul_becomes_a_product_neuron(gate):
    graph = verify(lower_mul(lower_linear(_graph(gate), WIDE, OPTS), WIDE, OPTS), "lower-mul")
    node = graph.nodes[-1]
    assert node.op == PRODUCT and node.params["thresholds"].size == 256
    a, b = (graph.tensors[i] for i in node.inputs)
    assert node.attrs["input_zero_points"] == (a.zero_point, b.zero_point)
    assert node.attrs["connections"][0] == {"kind": "elementwise"}
    y = graph.tensors[node.output]
    rng = np.random.default_rng(0)
    codes = [rng.integers(0, 256, (3,) + t.shape) for t in (a, b)]
    got = NEURONS[PRODUCT].compute(node, codes, y.shape, WIDE.arith)
    gate_codes = codes[1]
    if gate:
        conn = node.attrs["connections"][1]
        assert conn["kind"] == "conv" and conn["kernel"] == (4, 4) and conn["group"] == 3
        # the window broadcasts: twice the gate's code at every position
        sums = connections.apply(conn, node.params["weight1"], gate_codes, y.shape)
        np.testing.assert_array_equal(sums, 2 * np.broadcast_to(gate_codes, (3,) + y.shape))
        gate_codes = np.broadcast_to(gate_codes, (3,) + y.shape)
    p = (codes[0] - a.zero_point) * (gate_codes - b.zero_point)
    want = qlinear_mul_codes(p, a.scale, b.scale, y.scale, y.zero_point, y.zero_point)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("seed", range(4))
def test_on_16_bit_registers_the_centered_thresholds_give_the_same_counts(seed):
    """Q = sat(P - C) against the thresholds less C: the count of every product is the wide one's."""
    rng = np.random.default_rng(seed)
    sa, sb = (float(np.float32(v)) for v in np.exp(rng.uniform(np.log(0.002), np.log(0.1), 2)))
    sc = float(np.float32(sa * sb * P_MAX / rng.uniform(256, 1000)))  # 256 codes or more over P's half range
    zc = int(rng.integers(0, 256))
    wide = thresholds(sa, sb, sc, zc, zc, (0, 255), 32)
    table, center = centered(thresholds(sa, sb, sc, zc, zc, (0, 255), 18), 16)
    assert table.size == 256 and table[0] == -(1 << 15) and table[1:].min() >= -(1 << 15) + 1 and table.max() < 1 << 15
    p = np.arange(-P_MAX, P_MAX + 1)
    q = np.clip(p - center, -(1 << 15), (1 << 15) - 1)
    want = np.searchsorted(wide[1:], p, side="right")
    np.testing.assert_array_equal(np.searchsorted(table[1:], q, side="right"), want)
    assert len(np.unique(want)) > 100


@pytest.mark.parametrize("gate", [False, True])
def test_a_16_bit_target_computes_the_wide_products_in_two_words(gate):
    graphs = [lower_mul(lower_linear(_graph(gate), t, OPTS), t, OPTS) for t in (NARROW, WIDE)]
    (narrow, wide) = (g.nodes[-1] for g in graphs)
    assert narrow.attrs["two_words"] == 16 and "two_words" not in wide.attrs and "center" not in wide.params
    a, b = (graphs[0].tensors[i] for i in narrow.inputs)
    y = graphs[0].tensors[narrow.output]
    rng = np.random.default_rng(1)
    codes = [rng.integers(0, 256, (64,) + t.shape) for t in (a, b)]
    got = NEURONS[PRODUCT].compute(narrow, codes, y.shape, NARROW.arith)
    np.testing.assert_array_equal(got, NEURONS[PRODUCT].compute(wide, codes, y.shape, WIDE.arith))
    assert len(np.unique(got)) > 10


def test_thresholds_too_far_apart_for_16_bits_are_refused_naming_the_node():
    graph = lower_linear(_graph(True), NARROW, OPTS)
    y = graph.tensors[graph.nodes[-1].output]
    graph.tensors[y.name] = type(y)(y.name, y.shape, y.scale * 20, y.zero_point)  # each code 20 times as many products
    with pytest.raises(SdanncError, match=r"m.onnx: node mul\d+: a product of two activations compares .* span more "
                                          r"products than 16-bit registers hold") as e:
        lower_mul(graph, NARROW, OPTS)
    assert "\n" not in str(e.value)
