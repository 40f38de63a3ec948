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


# ---- two-word values (MACW, SFTW: a register pair holds one value of twice the register's width) ----

def two_word_limits(bits: int) -> tuple[int, int]:
    """The range of a two-word value of `bits`-bit words (a signed 2 x bits-bit integer)."""
    return signed_range(2 * bits)


def two_word_value(high, low, bits: int):
    """The value a register pair holds: high x 2^bits + low's bits read unsigned (the low word is the
    value's low `bits` bits, which a register holds as a signed number). Exact in int64 for bits <= 32."""
    return (np.asarray(high, dtype=np.int64) << bits) + (np.asarray(low, dtype=np.int64) & ((1 << bits) - 1))


def two_words(value, bits: int):
    """(high, low): the words of a two-word value (two_word_value's inverse)."""
    value = np.asarray(value, dtype=np.int64)
    low = value & ((1 << bits) - 1)
    return value >> bits, low - ((low >> (bits - 1)) << bits)


def _add_saturating(a, b, lo: int, hi: int):
    """sat(a + b) to lo..hi without int64 overflow (lo, hi may be int64's own limits)."""
    return np.where((b > 0) & (a > hi - np.maximum(b, 0)), hi,
                    np.where((b < 0) & (a < lo - np.minimum(b, 0)), lo, a + b))


def multiply_accumulate(high, low, x, m, shift: int, bits: int):
    """MACW: the pair (high, low) plus x * m * 2^shift, saturated to two words: the new (high, low).
    x * m is exact in int64 (words of at most 32 bits); the shifted product saturates first."""
    lo, hi = two_word_limits(bits)
    product = np.multiply(x, m, dtype=np.int64)
    shifted = np.where(product > (hi >> shift), hi,
                       np.where(product < (lo >> shift), lo, product << shift))
    return two_words(_add_saturating(two_word_value(high, low, bits), shifted, lo, hi), bits)


def shift_right_mode(x, k: int, mode: str):
    """Arithmetic right shift by k that TRUNC floors, RND rounds half up, RNE half to even (SFTI R's
    modes), without overflow for any int64 x (the two-word shift reads values of up to 64 bits)."""
    x = np.asarray(x, dtype=np.int64)
    floor = x >> k
    if k == 0 or mode == "TRUNC":
        return floor
    rest = x - (floor << k)
    half = 1 << (k - 1)
    if mode == "RND":
        return floor + (rest >= half)
    return floor + ((rest > half) | ((rest == half) & (floor & 1 == 1)))


def shift_two_words(high, low, k: int, mode: str, bits: int):
    """SFTW: the pair's value shifted right by k (TRUNC, RND or RNE), saturated to one word."""
    return saturate(shift_right_mode(two_word_value(high, low, bits), k, mode), bits)
