"""Simulator == golden model, element for element, on IR graphs of every op, on both targets."""

import numpy as np
import pytest

from sdannc.backend import build_image
from sdannc.golden import run_codes
from sdannc.passes import run_pipeline
from sdannc.sim import Simulator
from sdannc.target import load_target

from irgraphs import GraphMaker


def mlp():
    g = GraphMaker("mlp", (20,), seed=1)
    h = g.dense("x", 24)
    g.dense(h, 7, relu=False)
    return g.graph


def cnn_pools():
    g = GraphMaker("cnn", (2, 8, 8), seed=2)
    h = g.conv("x", 4)
    h = g.maxpool(h)
    h = g.conv(h, 6)
    h = g.avgpool(h, k=3, stride=1, pad=1)
    h = g.reshape(h, (6 * 4 * 4,))
    g.dense(h, 5, relu=False)
    return g.graph


def strided_depthwise():
    g = GraphMaker("sdw", (3, 9, 9), seed=3)
    h = g.conv("x", 6, stride=2)
    h = g.conv(h, 6, group=6)
    h = g.conv(h, 4, k=1, pad=0)
    h = g.maxpool(h, k=3, stride=1, pad=1)
    g.dense(g.reshape(h, (4 * 5 * 5,)), 4, relu=False)
    return g.graph


def residual_concat():
    g = GraphMaker("res", (3, 6, 6), seed=4)
    a = g.conv("x", 4)
    b = g.conv(g.conv(a, 4), 4, relu=False)
    r = g.add(a, b, relu=True)
    c = g.concat([r, g.conv("x", 2)], axis=0)
    t = g.transpose(c, (1, 2, 0))
    g.dense(g.reshape(t, (6 * 6 * 6,)), 3, relu=False)
    return g.graph


@pytest.mark.parametrize("target_name", ["darwin3", "darwin3-wide"])
@pytest.mark.parametrize("make", [mlp, cnn_pools, strided_depthwise, residual_concat])
def test_simulator_equals_golden(make, target_name):
    target = load_target(target_name)
    graph = run_pipeline(make(), target)
    image, _ = build_image(graph, target)
    shape = graph.tensors[graph.input].shape
    x = np.random.default_rng(0).integers(0, 256, size=(5,) + shape).astype(np.uint8)
    expected = run_codes(graph, x.astype(np.int64), target.arith)
    result = Simulator(image).run(x)
    assert len(np.unique(expected)) > 2, "outputs should vary"
    np.testing.assert_array_equal(result.outputs, expected)
