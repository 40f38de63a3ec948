"""The coding pass (passes/coding.py) on small IR graphs: stem leaves the graph as it is; ttfs and
rate give every neuron layer its counterpart with the same arithmetic (the golden model's codes are
the STEM graph's, bit for bit), the bias whole; what does not fit or has no counterpart is refused
naming the layer and the coding."""

import numpy as np
import pytest

from sdannc.errors import SdanncError
from sdannc.golden import run_codes
from sdannc.ir import ops
from sdannc.ir.verify import verify
from sdannc.passes import Options, run_pipeline
from sdannc.passes.coding import run as coding_pass
from sdannc.target import load_target

from irgraphs import GraphMaker

WIDE, NARROW = load_target("darwin3-wide"), load_target("darwin3")


def _network():
    g = GraphMaker("net", (2, 6, 6), seed=3)
    a = g.conv("x", 4)
    p = g.maxpool(a)
    b = g.conv(p, 4)
    s = g.add(b, p, relu=True)
    g.dense(g.reshape(s, (4 * 3 * 3,)), 5)
    return g.graph


def _requantized(target=WIDE):
    return run_pipeline(_network(), target, Options(), stop_after="requantize")


def test_stem_is_the_graph_as_it_is():
    graph = _requantized()
    assert coding_pass(graph, WIDE, Options(coding="stem")) is graph
    assert graph.coding == "stem"


@pytest.mark.parametrize("coding", ["ttfs", "rate"])
def test_each_layer_gets_its_counterpart_and_the_same_codes(coding):
    stem = _requantized()
    coded = verify(coding_pass(stem, WIDE, Options(coding=coding)), "coding")
    assert coded.coding == coding
    counterpart = {"stem": f"{coding}_linear", "max": f"{coding}_max", "adder": f"{coding}_add"}
    assert [n.op for n in coded.nodes] == [counterpart.get(n.op, n.op) for n in stem.nodes]
    assert {n.op for n in coded.nodes} >= {f"{coding}_linear", f"{coding}_max", f"{coding}_add"}
    assert all("init" not in n.params for n in coded.nodes)
    x = np.random.default_rng(0).integers(0, 256, (4, 2, 6, 6))
    assert np.array_equal(run_codes(coded, x, WIDE.arith), run_codes(stem, x, WIDE.arith))


def test_the_starting_value_is_folded_back_into_the_bias():
    graph = _requantized()
    stem = next(n for n in graph.nodes if n.op == ops.STEM)
    bias = stem.params["bias"].copy()
    stem.params["init"] = np.full_like(bias, 3)
    coded = coding_pass(graph, WIDE, Options(coding="ttfs"))
    np.testing.assert_array_equal(coded.nodes[0].params["bias"], bias + 3 * 256)


@pytest.mark.parametrize("coding", ["ttfs", "rate"])
def test_sums_beyond_the_register_are_refused_naming_the_layer(coding):
    graph = _requantized(NARROW)
    with pytest.raises(SdanncError) as err:
        coding_pass(graph, NARROW, Options(coding=coding, model="net.onnx"))
    message = str(err.value)
    assert message.startswith("model net.onnx: layer linear1: coding " + coding) and "\n" not in message
    assert "darwin3-wide" in message


def test_an_unknown_coding_is_refused():
    with pytest.raises(SdanncError, match="coding 'morse'"):
        coding_pass(_requantized(), WIDE, Options(coding="morse"))
