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


def conv_bias_add():
    """A constant added to a layer's quantized output (onnxruntime's MatMul bias), then a dense layer."""
    g = GraphMaker("bias", (2, 5, 5), seed=5)
    h = g.conv("x", 3, relu=False)
    h = g.add_const(h, [0.4, -0.25, 0.07], relu=True)
    g.dense(g.reshape(h, (3 * 5 * 5,)), 4, relu=False)
    return g.graph


def wide_scale_add():
    """An Add whose input scales are hundreds of times its output's: the 16-bit target falls back to
    the weighted STEM add, the wide one keeps the exact adder."""
    g = GraphMaker("far", (2, 4, 4), seed=6)
    a, b = g.conv("x", 2), g.conv("x", 2, relu=False)
    g.dense(g.reshape(g.add(a, b, scale=1e-4), (2 * 4 * 4,)), 3, relu=False)
    return g.graph


def gathers():
    """Index maps: a channel split into two branches (one of them dropping a row), a nearest 2x
    upsampling (every element read four times) feeding a convolution, a ring of padding (index -1:
    code 0, which no neuron sends), concatenated back."""
    g = GraphMaker("gather", (4, 6, 6), seed=7)
    h = g.conv("x", 4)
    ids = np.arange(4 * 6 * 6).reshape(4, 6, 6)
    left = g.conv(g.gather(h, ids[:2, 1:]), 3)  # [3, 5, 6]
    right = g.gather(h, ids[2:, :3, :3].repeat(2, axis=1).repeat(2, axis=2))  # [2, 6, 6]
    right = g.conv(right, 3)
    ring = g.gather(right, np.pad(np.arange(3 * 36).reshape(3, 6, 6)[:, 1:5, 1:5], ((0, 0), (1, 1), (1, 1)),
                                  constant_values=-1))  # [3, 6, 6], its border code 0
    right = g.conv(ring, 3, pad=0, k=1)
    c = g.concat([g.gather(left, np.arange(3 * 5 * 6).reshape(3, 5, 6)[:, ::-1]), g.gather(right, np.arange(3 * 36).reshape(3, 6, 6)[:, 1:])], axis=0)
    g.dense(g.reshape(c, (6 * 5 * 6,)), 4, relu=False)
    return g.graph


@pytest.mark.parametrize("target_name", ["darwin3", "darwin3-wide"])
@pytest.mark.parametrize("make", [mlp, cnn_pools, strided_depthwise, residual_concat, conv_bias_add, wide_scale_add,
                                  gathers])
def test_simulator_equals_golden(make, target_name):
    target = load_target(target_name)
    graph = run_pipeline(make(), target)
    image, _ = build_image(graph, target)
    shape = graph.tensors[graph.input].shape
    x = np.random.default_rng(0).integers(0, 256, size=(5,) + shape).astype(np.uint8)
    expected = run_codes(graph, x.astype(np.int64), target.arith)
    result = Simulator(image).run(x)
    assert len(np.unique(expected)) > 2, "outputs should vary"
    adds_exactly = make in (residual_concat, conv_bias_add) or (make is wide_scale_add and target_name == "darwin3-wide")
    assert any(n.op == "adder" for n in graph.nodes) == adds_exactly
    np.testing.assert_array_equal(result.outputs, expected)
