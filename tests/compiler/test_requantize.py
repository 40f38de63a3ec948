"""The fixed points of requantization (passes/requantize.py), which the passes use."""

import numpy as np
import pytest

from sdannc.passes.requantize import adder_fixed_point, fixed_point, shift_chain


def test_adder_fixed_point_exact_dyadic_fine_and_impossible():
    shifts = [0, 4, 8, 12, 15, 16, 24, 31]
    dyadic = adder_fixed_point([0.5, 0.25], 0.0, 32, shifts, 15)
    assert dyadic.multipliers == (2, 1) and dyadic.out_shifts == [(2, "RNE")] and dyadic.error == 0
    wide = adder_fixed_point([0.3, 0.7123], 0.0, 32, shifts, 15)
    assert wide.mul_shift == 0 and sum(wide.multipliers) * 255 < 2 ** 31
    total = sum(s for s, _ in wide.out_shifts)
    np.testing.assert_allclose(np.array(wide.multipliers) / 2 ** total, [0.3, 0.7123], rtol=1e-6)
    narrow = adder_fixed_point([0.3, 0.7123], 0.0, 16, shifts, 15)
    assert narrow.mul_shift > 0 and narrow.error < 0.1  # truncated products: more bits than exact ones allow
    exact_only = adder_fixed_point([0.3, 0.7123], 0.0, 16, [0], 15)
    assert exact_only.error > narrow.error
    assert adder_fixed_point([300.0, 1.0], 0.0, 16, shifts, 15) is None
    assert shift_chain(21, 15, "RND") == [(15, "TRUNC"), (6, "RND")] and shift_chain(0, 15, "RND") == []


@pytest.mark.parametrize("bits, top_shift", [(16, 15), (32, 31)])
def test_fixed_point_multiplier_is_close_and_fits(bits, top_shift):
    real = np.array([0.00123, 0.0009, 0.0031])
    m, mul_shift, out_shift = fixed_point(real, bits, [0, 4, 8, 12, 15, 16, 24, 31], 15, "t")
    assert np.abs(m).max() < 2 ** (bits - 1) and np.abs(m).max() >= 2 ** (bits - 3)
    np.testing.assert_allclose(m / 2.0 ** (mul_shift + out_shift), real, rtol=2.0 ** (3 - bits))
    one, s1, s2 = fixed_point(np.array([1.0]), bits, [0, 4, 8, 12, 15, 16, 24, 31], 15, "t")
    assert one[0] == 2 ** (s1 + s2)  # identity stays exact
