"""The scaled_integration pass before and after, on small IR graphs: structure and numbers."""

import numpy as np
import pytest

from sdannc.passes import Options
from sdannc.passes.lower_linear import lower_linear
from sdannc.neurons.stem import HORNER, WEIGHTED
from sdannc.passes.scaled_integration import (RANGE_MARGIN, choose_shift, scaled_integration, unclamped_range,
                                              weighted_shifts, worst_case)
from sdannc.target import load_target

from irgraphs import GraphMaker

NARROW, WIDE = load_target("darwin3"), load_target("darwin3-wide")
OPTS = Options(integration="weighted")  # (these tests are about the weighted scheme; tests/sim/test_sim_exact.py: exact)


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
    assert (narrow.attrs["integration"], wide.attrs["integration"]) == (WEIGHTED, HORNER)
    k = narrow.params["acc_shift"]  # weighted: a shift per neuron, the attr their largest
    assert k.shape == (8,) and k.max() == narrow.attrs["acc_shift"]
    np.testing.assert_allclose(narrow.params["real_multiplier"], lowered.nodes[0].params["real_multiplier"] * 2.0 ** k)
    np.testing.assert_array_equal(narrow.params["bias"], (lowered.nodes[0].params["bias"] + (1 << k) // 2) >> k)


def test_weighted_shift_per_neuron_is_the_least_that_holds_its_range():
    g = GraphMaker("d", (64,), seed=6)
    g.dense("x", 8)
    lowered = lower_linear(g.graph, NARROW, OPTS)
    node = lowered.nodes[0]
    need = np.minimum(unclamped_range(node) * RANGE_MARGIN, worst_case(node, lowered)[0])
    k = scaled_integration(lowered, NARROW, OPTS).nodes[0].params["acc_shift"]
    limit = (1 << 15) - 1 - 8
    assert np.all(need / 2.0 ** k <= limit) and np.all((k == 0) | (need / 2.0 ** (k - 1) > limit))


@pytest.mark.parametrize("bound, expected", [(32767 - 8, 0), (32767 - 7, 1), (2 * (32767 - 8), 1),
                                             (2 * (32767 - 8) + 1, 2), (0, 0)])
def test_weighted_shifts(bound, expected):
    assert weighted_shifts(np.array([bound]), 16)[0] == expected


def test_horner_is_kept_exact_where_the_worst_case_fits():
    g = GraphMaker("d", (4,), seed=1)
    g.dense("x", 3)
    lowered = lower_linear(g.graph, NARROW, OPTS)
    lowered.nodes[0].params["weight0"] //= 16  # 4 inputs x 8 x 255 + bias: inside 16 bits
    assert choose_shift(int(worst_case(lowered.nodes[0], lowered)[0].max()), 16) == 0
    node = scaled_integration(lowered, NARROW, OPTS).nodes[0]
    assert (node.attrs["integration"], node.attrs["acc_shift"], node.attrs["acc_bound"]) == (HORNER, 0, "worst case")


def test_the_paper_scheme_on_request():
    g = GraphMaker("d", (64,), seed=6)
    g.dense("x", 8)
    node = scaled_integration(lower_linear(g.graph, NARROW, OPTS), NARROW, Options(integration=HORNER)).nodes[0]
    assert node.attrs["integration"] == HORNER and node.attrs["acc_shift"] > 0 and "acc_shift" not in node.params


def test_per_channel_layers_are_exact_only_where_their_tables_add_few_cores():
    """One threshold table per channel (512 words, 31 a core of darwin3): 64 channels of 8 x 8 take
    1 core by neurons and 3 by tables (exact); 512 channels of 2 x 2 take 1 and 17 (weighted); a
    per-tensor layer has one table whatever its size."""
    from sdannc.ir.graph import Node
    from sdannc.passes.scaled_integration import exact_adds_few_cores
    from sdannc.target import load_target

    target = load_target("darwin3")

    def layer(shape, per_channel=True):
        m = np.linspace(1e-3, 2e-3, shape[0]) if per_channel else np.full(shape[0], 1e-3)
        return Node(name="l", op="stem", inputs=["x"], output="y", attrs={},
                    params={"real_multiplier": np.broadcast_to(m[:, None, None], shape).copy(),
                            "bias": np.zeros(shape, dtype=np.int64)})

    assert exact_adds_few_cores(layer((64, 8, 8)), (64, 8, 8), target)
    assert not exact_adds_few_cores(layer((512, 2, 2)), (512, 2, 2), target)
    assert exact_adds_few_cores(layer((512, 2, 2), per_channel=False), (512, 2, 2), target)
