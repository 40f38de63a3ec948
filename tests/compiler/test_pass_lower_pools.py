"""The lower_pools pass before and after, on small IR graphs: structure and numbers."""

import numpy as np
import pytest

from sdannc.golden import run_codes
from sdannc.ir import connections
from sdannc.passes import Options
from sdannc.passes.lower_pools import lower_pools
from sdannc.target import load_target

from irgraphs import GraphMaker

NARROW = load_target("darwin3")
OPTS = Options()


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
