"""The lower_unary pass before and after: a `unary` (a table of 256 codes) becomes a lookup
neuron (`lut`) with one elementwise input of weight 1 and the table, clamped as the node's clamp
says, or, after a STEM or Add layer that nothing else reads, that layer's fused table; a table
the target's lookup memory cannot hold is refused naming the node."""

import numpy as np
import pytest

from irgraphs import GraphMaker
from sdannc.errors import SdanncError
from sdannc.ir import Node
from sdannc.ir.ops import LUT, UNARY
from sdannc.ir.verify import verify
from sdannc.neurons import NEURONS
from sdannc.passes import Options
from sdannc.passes.lower_linear import lower_linear
from sdannc.passes.lower_unary import lower_unary
from sdannc.target import load_target, target_from_dict

WIDE = load_target("darwin3-wide")
OPTS = Options(model="m.onnx")


def _graph(clamp=(0, 255), seed=0, after="conv"):
    """x -> conv -> unary (after "conv"), or x -> unary -> conv (after "input"), or x -> conv ->
    unary and the conv's output read again (after "shared")."""
    g = GraphMaker("act", (2, 4, 4), seed=seed)
    x = g.conv("x", 3) if after != "input" else "x"
    table = np.random.default_rng(seed).integers(0, 256, 256)
    out = g._tensor(g.graph.tensors[x].shape)
    g._add(UNARY, [x], out, {"clamp": clamp}, {"table": table})
    if after == "input":
        g.conv(out, 2)
    if after == "shared":
        g.conv(x, 2)
    return g.graph, table


@pytest.mark.parametrize("after", ["input", "shared"])
def test_a_unary_becomes_a_lookup_neuron_with_its_table(after):
    graph, table = _graph(after=after)
    unary = next(n for n in graph.nodes if n.op == UNARY)
    lowered = verify(lower_unary(lower_linear(graph, WIDE, OPTS), WIDE, OPTS), "lower-unary")
    assert not any(n.op == UNARY for n in lowered.nodes)
    assert not any("table" in n.params for n in lowered.nodes if n.op != LUT)  # nothing fused
    node = next(n for n in lowered.nodes if n.op == LUT)
    assert (node.name, node.inputs, node.output) == (unary.name, unary.inputs, unary.output)
    assert node.attrs["connections"] == [{"kind": "elementwise"}]
    np.testing.assert_array_equal(node.params["weight0"], np.ones((1, 1, 1)))
    np.testing.assert_array_equal(node.params["table"], table)
    codes = np.random.default_rng(1).integers(0, 256, (5,) + lowered.tensors[node.output].shape)
    np.testing.assert_array_equal(NEURONS[LUT].compute(node, [codes], codes.shape[1:], WIDE.arith), table[codes])


def test_after_a_layer_nothing_else_reads_the_table_is_fused_into_it():
    graph, table = _graph()
    lowered = lower_linear(graph, WIDE, OPTS)
    conv = lowered.nodes[0]
    after = verify(lower_unary(lowered, WIDE, OPTS), "lower-unary")
    assert [n.op for n in after.nodes] == ["stem"]
    fused = after.nodes[0]
    assert fused.name == conv.name and fused.inputs == conv.inputs and fused.output == graph.nodes[-1].output
    assert conv.output not in after.tensors and conv.output in lowered.tensors
    np.testing.assert_array_equal(fused.params["table"], table)
    assert fused.attrs == conv.attrs  # the layer's own code, as before, then the table
    assert any("fused into" in note for note in after.notes)
    assert NEURONS["stem"].report_label(fused) == "STEM conv + lut"
    assert NEURONS["stem"].report_label(conv) == "STEM conv"


def test_the_clamp_of_a_following_relu_is_in_the_table():
    graph, table = _graph(clamp=(40, 200), after="input")
    node = next(n for n in lower_unary(lower_linear(graph, WIDE, OPTS), WIDE, OPTS).nodes if n.op == LUT)
    np.testing.assert_array_equal(node.params["table"], np.clip(table, 40, 200))
    assert (table < 40).any() and (table > 200).any()


def test_a_table_beyond_the_lookup_memory_is_refused():
    raw = dict(WIDE.raw, name="small-lut", core=dict(WIDE.raw["core"], lut_words=128))
    small = target_from_dict(raw, "small-lut")
    graph, _ = _graph()
    with pytest.raises(SdanncError, match=r"m.onnx: node unary\d+: its activation is a table of 256 codes, the "
                                          r"target's lookup memory holds 128 words \(core.lut_words\)"):
        lower_unary(graph, small, OPTS)


def test_other_nodes_are_kept():
    graph, _ = _graph(after="shared")
    lowered = lower_linear(graph, WIDE, OPTS)
    after = lower_unary(lowered, WIDE, OPTS)
    assert [n.op for n in after.nodes] == ["stem", "lut", "stem"]
    assert [n.op for n in lowered.nodes] == ["stem", UNARY, "stem"]  # the input graph is not changed
