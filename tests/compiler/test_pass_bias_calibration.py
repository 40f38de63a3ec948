"""The bias_calibration pass before and after, on small IR graphs: structure and numbers."""

import numpy as np

from sdannc.passes import Options
from sdannc.passes.bias_calibration import bias_calibration
from sdannc.passes.lower_linear import lower_linear
from sdannc.target import load_target

from irgraphs import GraphMaker

NARROW = load_target("darwin3")
OPTS = Options()


def test_bias_calibration_splits_only_biases_too_wide():
    g = GraphMaker("b", (4,), seed=7)
    g.dense("x", 3)
    graph = lower_linear(g.graph, NARROW, OPTS)
    graph.nodes[0].params["bias"] = np.array([100, 40000, -70000])
    after = bias_calibration(graph, NARROW, OPTS).nodes[0]
    np.testing.assert_array_equal(after.params["init"] * 256 + after.params["bias"], [100, 40000, -70000])
    assert after.params["init"][0] == 0 and np.abs(after.params["bias"]).max() < 2 ** 15
