"""The scaled_integration pass before and after, on small IR graphs: structure and numbers."""

import numpy as np
import pytest

from sdannc.passes import Options
from sdannc.passes.lower_linear import lower_linear
from sdannc.passes.scaled_integration import choose_shift, scaled_integration
from sdannc.target import load_target

from irgraphs import GraphMaker

NARROW, WIDE = load_target("darwin3"), load_target("darwin3-wide")
OPTS = Options()


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
    k = narrow.attrs["acc_shift"]
    np.testing.assert_allclose(narrow.params["real_multiplier"], lowered.nodes[0].params["real_multiplier"] * 2 ** k)
    np.testing.assert_array_equal(narrow.params["bias"], (lowered.nodes[0].params["bias"] + 2 ** (k - 1)) >> k)
