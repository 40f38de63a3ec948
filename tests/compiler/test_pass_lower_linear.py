"""The lower_linear pass before and after, on small IR graphs: structure and numbers."""

import numpy as np

from sdannc.ir import connections
from sdannc.passes import Options
from sdannc.passes.lower_linear import lower_linear
from sdannc.target import load_target

from irgraphs import GraphMaker

NARROW = load_target("darwin3")
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
