"""Each pass before and after, on small IR graphs: structure and numbers."""

import numpy as np
import pytest

from sdannc.golden import connections, run_codes
from sdannc.passes import Options, run_pipeline
from sdannc.passes.align_delays import align_delays, depths
from sdannc.passes.bias_calibration import bias_calibration
from sdannc.passes.lower_elementwise import add_weights, lower_elementwise
from sdannc.passes.lower_linear import lower_linear
from sdannc.passes.lower_pools import lower_pools
from sdannc.passes.requantize import fixed_point
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
