"""Integer arithmetic of the neuron datapath, shared by the simulator and the compiler's golden model.

One definition of saturation and rounding, so that the two agree bit for bit.
"""

from __future__ import annotations

import numpy as np


def signed_range(bits: int) -> tuple[int, int]:
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def saturate(x, bits: int):
    lo, hi = signed_range(bits)
    return np.clip(x, lo, hi)


def shift_right_round(x, k: int):
    """Arithmetic right shift by k with round-half-up: (x + 2^(k-1)) >> k."""
    if k == 0:
        return x
    return (x + (1 << (k - 1))) >> k


def shift_right_even(x, k: int):
    """Arithmetic right shift by k, rounding half to even (onnxruntime's nearbyint)."""
    if k == 0:
        return x
    floor = x >> k
    rest = x - (floor << k)
    half = 1 << (k - 1)
    return floor + ((rest > half) | ((rest == half) & (floor & 1 == 1)))


def scale_by_power(x, s):
    """x * 2^-s for a signed (array) shift s (UPDS): right shifts round half to even, left shifts are
    exact; s is clamped to -31..62, where a register of at most 32 bits saturates either way."""
    s = np.clip(np.asarray(s, dtype=np.int64), -31, 62)  # beyond these the register saturates anyway
    right = np.maximum(s, 0)
    floor = x >> right
    rest = x - (floor << right)
    half = np.where(right > 0, np.int64(1) << np.maximum(right - 1, 0), 0)
    up = (right > 0) & ((rest > half) | ((rest == half) & (floor & 1 == 1)))
    return np.where(s > 0, floor + up, x << np.maximum(-s, 0))


def shift_right_trunc(x, k: int):
    return x >> k


def fixed_multiply(a, b, shift: int):
    """round((a * b) >> shift): the MUL instruction before saturation (int64 holds 32x32-bit products)."""
    return shift_right_round(np.multiply(a, b, dtype=np.int64), shift)
