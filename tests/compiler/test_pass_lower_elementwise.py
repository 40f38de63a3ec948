"""The lower_elementwise pass before and after, on small IR graphs: structure and numbers."""

import numpy as np
import pytest

from sdannc.neurons import NEURONS
from sdannc.passes import Options
from sdannc.passes.lower_elementwise import add_weights, lower_elementwise
from sdannc.passes.lower_linear import lower_linear
from sdannc.target import load_target

from irgraphs import GraphMaker

NARROW, WIDE = load_target("darwin3"), load_target("darwin3-wide")
OPTS = Options()


def test_add_weights_keep_the_ratio_of_scales():
    wa, wb, m = add_weights(0.3, 0.1, 8)
    assert (wa, wb) == (127, 42)
    assert wa * m == pytest.approx(0.3) and abs(wb * m - 0.1) < 0.5 * m


def _two_convs_added(seed: int):
    g = GraphMaker("add", (2, 4, 4), seed=seed)
    a, b = g.conv("x", 3), g.conv("x", 3)
    return g, a, b


def _adder_against_real(graph, node, real_before_rounding, codes, arith):
    """The adder's golden output against round(real) + zc: equal wherever the real value is further
    than the fixed point's error bound from a rounding tie, and never more than one step apart."""
    y = graph.tensors[node.output]
    got = NEURONS["adder"].compute(node, codes, y.shape, arith)
    want = np.clip(np.rint(real_before_rounding) + y.zero_point, *node.attrs["clamp"])
    clear = np.abs(np.abs(real_before_rounding % 1) - 0.5) > node.attrs["error_bound"]
    lo, hi = node.attrs["clamp"]
    assert clear.mean() > 0.8 and ((want > lo) & (want < hi)).mean() > 0.5  # not vacuous
    np.testing.assert_array_equal(got[clear], want[clear])
    assert np.abs(got - want).max() <= 1
    return got


@pytest.mark.parametrize("target", [NARROW, WIDE], ids=["darwin3", "darwin3-wide"])
def test_lower_elementwise_add_becomes_the_exact_adder(target):
    g, a, b = _two_convs_added(8)
    g.add(a, b)
    before = lower_linear(g.graph, target, OPTS)
    after = lower_elementwise(before, target, OPTS)
    assert [n.op for n in before.nodes] == ["stem", "stem", "add"]
    assert [n.op for n in after.nodes] == ["stem", "stem", "adder"]
    node = after.nodes[-1]
    assert [int(node.params[f"weight{i}"].max()) for i in range(2)] == [1, 2]  # both codes recoverable
    assert not node.params["offset"].any()
    if target is WIDE:  # exact products, one rounding
        assert node.attrs["mul_shift"] == 0 and node.attrs["out_shifts"][-1][1] == "RND"
        assert all(mode == "TRUNC" for _, mode in node.attrs["out_shifts"][:-1])
        assert node.attrs["error_bound"] < 2 ** -11
    ta, tb, ty = (after.tensors[t] for t in (a, b, node.output))
    rng = np.random.default_rng(3)
    xa, xb = rng.integers(0, 256, size=(2, 200) + ta.shape)
    real = (ta.scale * (xa - ta.zero_point) + tb.scale * (xb - tb.zero_point)) / ty.scale
    _adder_against_real(after, node, real, [xa, xb], target.arith)


@pytest.mark.parametrize("target", [NARROW, WIDE], ids=["darwin3", "darwin3-wide"])
def test_lower_elementwise_constant_add_is_a_one_input_adder_with_per_channel_offsets(target):
    g = GraphMaker("bias", (3, 4, 4), seed=9)
    h = g.conv("x", 3)
    constant = np.array([0.31, -0.07, 0.0123])
    g.add_const(h, constant, scale=0.05)
    after = lower_elementwise(lower_linear(g.graph, target, OPTS), target, OPTS)
    node = after.nodes[-1]
    assert node.op == "adder" and node.inputs == [h] and node.attrs["multipliers"][1] == 0
    assert len({int(v) for v in node.params["offset"][:, 0, 0]}) == 3  # one constant per channel
    assert np.all(node.params["offset"] == node.params["offset"][:, :1, :1])
    tx, ty = after.tensors[h], after.tensors[node.output]
    x = np.random.default_rng(4).integers(0, 256, size=(300,) + tx.shape)
    real = (tx.scale * (x - tx.zero_point) + constant[:, None, None]) / ty.scale
    _adder_against_real(after, node, real, [x], target.arith)


def test_lower_elementwise_falls_back_to_weighted_stem_add_when_the_register_is_too_narrow():
    g, a, b = _two_convs_added(10)
    g.add(a, b, scale=1e-4)  # input scales 100 .. 500 times the output's: too large for 16 bits
    narrow = lower_elementwise(lower_linear(g.graph, NARROW, OPTS), NARROW, OPTS)
    wide = lower_elementwise(lower_linear(g.graph, WIDE, OPTS), WIDE, OPTS)
    assert narrow.nodes[-1].op == "stem" and any("does not fit 16-bit" in n for n in narrow.notes)
    assert wide.nodes[-1].op == "adder" and not wide.notes


def test_lower_elementwise_requantizes_concat_inputs_of_another_scale():
    g = GraphMaker("cat", (2, 4, 4), seed=4)
    a, b = g.conv("x", 2), g.conv("x", 3)
    out = g.concat([a, b])
    g.graph.tensors[out].scale = g.graph.tensors[a].scale
    g.graph.tensors[out].zero_point = g.graph.tensors[a].zero_point
    after = lower_elementwise(g.graph, NARROW, OPTS)
    concat = after.nodes[-1]
    assert concat.inputs[0] == a and concat.inputs[1] != b  # only b needed a relay
    assert sum(1 for n in after.nodes if n.name.endswith("/requant1")) == 1
