"""The align_delays pass before and after, on small IR graphs: structure and numbers."""

import numpy as np

from sdannc.golden import run_codes
from sdannc.passes import Options, run_pipeline
from sdannc.ir.depths import depths
from sdannc.passes.align_delays import align_delays
from sdannc.passes.lower_elementwise import lower_elementwise
from sdannc.passes.lower_linear import lower_linear
from sdannc.target import load_target

from irgraphs import GraphMaker

NARROW = load_target("darwin3")
OPTS = Options()


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
