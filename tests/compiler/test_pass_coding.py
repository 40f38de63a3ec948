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
    """On 16 bits a layer whose sums need scaling and that integration exact does not take (here: the
    config forces weighted) is refused, saying why."""
    options = Options(coding=coding, model="net.onnx", integration="weighted")
    graph = run_pipeline(_network(), NARROW, options, stop_after="requantize")
    with pytest.raises(SdanncError) as err:
        coding_pass(graph, NARROW, options)
    message = str(err.value)
    assert message.startswith("model net.onnx: layer linear1: coding " + coding) and "\n" not in message
    assert "darwin3-wide" in message and "the config asks for integration weighted" in message


@pytest.mark.parametrize("coding", ["ttfs", "rate"])
def test_on_16_bits_exact_layers_keep_the_stem_tables_and_codes(coding):
    """With the coding, scaled integration takes integration exact wherever it applies; the coding
    pass keeps those layers' threshold tables and bias, and the golden codes are STEM-exact's."""
    x = np.random.default_rng(4).integers(0, 256, (3, 2, 6, 6))
    stem = run_pipeline(_network(), NARROW, Options(integration="exact"), stop_after="requantize")
    options = Options(coding=coding)
    coded = verify(coding_pass(run_pipeline(_network(), NARROW, options, stop_after="requantize"), NARROW, options),
                   "coding")
    exact = [n for n in coded.nodes if n.op == f"{coding}_linear" and n.attrs["integration"] == "exact"]
    assert exact and all("exact_thresholds" in n.params and "init" not in n.params for n in exact)
    by_name = {n.name: n for n in stem.nodes}
    assert all(np.array_equal(n.params["bias"], by_name[n.name].params["bias"]) for n in exact)
    adds = [n for n in coded.nodes if n.op == f"{coding}_add"]
    assert adds and all("two_words" in n.attrs for n in adds)  # the two-word Add's arithmetic
    assert np.array_equal(run_codes(coded, x, NARROW.arith), run_codes(stem, x, NARROW.arith))


def test_an_unknown_coding_is_refused():
    with pytest.raises(SdanncError, match="coding 'morse'"):
        coding_pass(_requantized(), WIDE, Options(coding="morse"))
