"""Each pass before and after, on small IR graphs: structure and numbers."""

import numpy as np
import pytest

from sdannc.golden import run_codes
from sdannc.ir import connections
from sdannc.neurons import NEURONS
from sdannc.passes import Options, run_pipeline
from sdannc.passes.align_delays import align_delays, depths
from sdannc.passes.bias_calibration import bias_calibration
from sdannc.passes.lower_elementwise import add_weights, lower_elementwise
from sdannc.passes.lower_linear import lower_linear
from sdannc.passes.lower_pools import lower_pools
from sdannc.passes.requantize import adder_fixed_point, fixed_point, shift_chain
from sdannc.passes.scaled_integration import choose_shift, scaled_integration
from sdannc.target import load_target

from irgraphs import GraphMaker

NARROW, WIDE = load_target("darwin3"), load_target("darwin3-wide")
OPTS = Options()


def test_lower_linear_folds_zero_points_border_aware():
    g = GraphMaker("c", (3, 5, 6), seed=1, zero_point=17)
    y = g.conv("x", 4, pad=1)
    before = g.graph
    after = lower_linear(before, NARROW, OPTS)
    assert [n.op for n in after.nodes] == ["stem"] and before.nodes[0].op == "linear"
    node, raw = after.nodes[0], before.nodes[0]
    x = np.random.default_rng(0).integers(0, 256, size=(2, 3, 5, 6))
    conn = node.attrs["connections"][0]
    acc = connections.apply(conn, node.params["weight0"], x, after.tensors[y].shape) + node.params["bias"]
    # Reference: pad with the zero point (real 0), subtract it everywhere, full convolution, plus the bias.
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=17) - 17
    ref = connections.apply({**conn, "pads": (0, 0, 0, 0)}, raw.params["weight"], padded, after.tensors[y].shape)
    np.testing.assert_array_equal(acc, ref + raw.params["bias"][None, :, None, None])
    assert not np.all(node.params["bias"][:, 0, 0] == node.params["bias"][:, 2, 2]), "border biases differ"


def test_lower_pools_splits_large_max_windows_and_keeps_the_maximum():
    g = GraphMaker("p", (2, 7, 7), seed=2)
    g.maxpool("x", k=3, stride=2, pad=1)
    after = lower_pools(g.graph, NARROW, OPTS)
    assert [n.op for n in after.nodes] == ["max", "max"]  # 9 inputs > 7: rows, then columns
    x = np.random.default_rng(1).integers(0, 256, size=(3, 2, 7, 7))
    windows = connections.conv_windows(x, {"kernel": (3, 3), "strides": (2, 2), "pads": (1,) * 4,
                                           "dilations": (1, 1)}, fill=-1)
    np.testing.assert_array_equal(run_codes(after, x, NARROW.arith), windows.max(axis=(2, 3)))


def test_lower_pools_average_divides_by_the_taps_inside():
    g = GraphMaker("a", (2, 4, 4), seed=3)
    g.avgpool("x", k=3, stride=1, pad=1, include_pad=False)
    after = lower_pools(g.graph, NARROW, OPTS)
    node = after.nodes[0]
    x_t, y_t = after.tensors["x"], after.tensors[node.output]
    m = node.params["real_multiplier"]
    assert m[0, 0, 0] == pytest.approx(x_t.scale / (y_t.scale * 4))  # corner: 2 x 2 taps inside
    assert m[0, 1, 1] == pytest.approx(x_t.scale / (y_t.scale * 9))


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


def test_adder_fixed_point_exact_dyadic_fine_and_impossible():
    shifts = [0, 4, 8, 12, 15, 16, 24, 31]
    dyadic = adder_fixed_point([0.5, 0.25], 0.0, 32, shifts, 15)
    assert dyadic.multipliers == (2, 1) and dyadic.out_shifts == [(2, "RNE")] and dyadic.error == 0
    wide = adder_fixed_point([0.3, 0.7123], 0.0, 32, shifts, 15)
    assert wide.mul_shift == 0 and sum(wide.multipliers) * 255 < 2 ** 31
    total = sum(s for s, _ in wide.out_shifts)
    np.testing.assert_allclose(np.array(wide.multipliers) / 2 ** total, [0.3, 0.7123], rtol=1e-6)
    narrow = adder_fixed_point([0.3, 0.7123], 0.0, 16, shifts, 15)
    assert narrow.mul_shift > 0 and narrow.error < 0.1  # truncated products: more bits than exact ones allow
    exact_only = adder_fixed_point([0.3, 0.7123], 0.0, 16, [0], 15)
    assert exact_only.error > narrow.error
    assert adder_fixed_point([300.0, 1.0], 0.0, 16, shifts, 15) is None
    assert shift_chain(21, 15, "RND") == [(15, "TRUNC"), (6, "RND")] and shift_chain(0, 15, "RND") == []


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


def test_align_delays_puts_both_add_inputs_in_one_window():
    g = GraphMaker("res", (2, 4, 4), seed=5)
    a = g.conv("x", 2)
    b = g.conv(g.conv(g.conv(a, 2), 2), 2)
    g.add(a, b)
    lowered = lower_elementwise(lower_linear(g.graph, NARROW, OPTS), NARROW, OPTS)
    after = align_delays(lowered, NARROW, OPTS)
    d = depths(after)
    add = after.nodes[-1]
    assert d[add.inputs[0]] == d[add.inputs[1]]
    assert len(after.nodes) - len(lowered.nodes) == 3  # three relays on the skip path
    # Relays pass codes through unchanged, once the rest of the pipeline has made them integer.
    full = run_pipeline(g.graph, NARROW)
    values = run_codes(full, np.random.default_rng(2).integers(0, 256, size=(2, 2, 4, 4)), NARROW.arith, keep=True)
    relays = [n for n in full.nodes if "delay" in n.name]
    assert len(relays) == 3
    for relay in relays:
        np.testing.assert_array_equal(values[relay.output], values[relay.inputs[0]])


@pytest.mark.parametrize("bound, bits, expected", [(30000, 16, 0), (32767 - 256, 16, 0), (32767 - 255, 16, 1),
                                                   (255 * 127 * 64, 16, 6), (255 * 127 * 64, 32, 0)])
def test_choose_shift(bound, bits, expected):
    assert choose_shift(bound, bits) == expected


def test_scaled_integration_shifts_on_16_bits_and_not_on_32():
    g = GraphMaker("d", (64,), seed=6)
    g.dense("x", 8)
    lowered = lower_linear(g.graph, NARROW, OPTS)
    narrow = scaled_integration(lowered, NARROW, OPTS).nodes[0]
    wide = scaled_integration(lowered, WIDE, OPTS).nodes[0]
    assert narrow.attrs["acc_shift"] > 0 and wide.attrs["acc_shift"] == 0
    k = narrow.attrs["acc_shift"]
    np.testing.assert_allclose(narrow.params["real_multiplier"], lowered.nodes[0].params["real_multiplier"] * 2 ** k)
    np.testing.assert_array_equal(narrow.params["bias"], (lowered.nodes[0].params["bias"] + 2 ** (k - 1)) >> k)


def test_bias_calibration_splits_only_biases_too_wide():
    g = GraphMaker("b", (4,), seed=7)
    g.dense("x", 3)
    graph = lower_linear(g.graph, NARROW, OPTS)
    graph.nodes[0].params["bias"] = np.array([100, 40000, -70000])
    after = bias_calibration(graph, NARROW, OPTS).nodes[0]
    np.testing.assert_array_equal(after.params["init"] * 256 + after.params["bias"], [100, 40000, -70000])
    assert after.params["init"][0] == 0 and np.abs(after.params["bias"]).max() < 2 ** 15


@pytest.mark.parametrize("bits, top_shift", [(16, 15), (32, 31)])
def test_fixed_point_multiplier_is_close_and_fits(bits, top_shift):
    real = np.array([0.00123, 0.0009, 0.0031])
    m, mul_shift, out_shift = fixed_point(real, bits, [0, 4, 8, 12, 15, 16, 24, 31], 15, "t")
    assert np.abs(m).max() < 2 ** (bits - 1) and np.abs(m).max() >= 2 ** (bits - 3)
    np.testing.assert_allclose(m / 2.0 ** (mul_shift + out_shift), real, rtol=2.0 ** (3 - bits))
    one, s1, s2 = fixed_point(np.array([1.0]), bits, [0, 4, 8, 12, 15, 16, 24, 31], 15, "t")
    assert one[0] == 2 ** (s1 + s2)  # identity stays exact
