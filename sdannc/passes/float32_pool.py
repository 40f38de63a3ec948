"""onnxruntime's float32 average pool (requantize.qlinear_average_pool_codes) as integer tables for
the float32 pool neuron (neurons/float32_pool.py, isa/programs/pool_float32.s; docs/exactness.md, "(a)").

Write xs = M 2^(x - 24) with M its 24-bit mantissa, so every float32 value of the kernel's sum is an
integer in units of u = 2^(x - 24): a term is R24(M k), k = q - zx, R24 the rounding to 24
significant bits, half to even (float32's); each partial sum is R24 of the exact sum. Kept apart,
a partial sum is M K + e with K the sum of the k so far (an integer of 11 bits) and e its rounding
error so far, small (|e| <= `bound`, about 2^11 at most). The neuron holds K and e; the tables here:
- r(q) = R24(M k) - M k, a term's error, for each code q;
- per K a record of how R24(M K + x) - M K follows from x = e + r(q), for every |x| <= bound:
  with d = the bits R24 drops (0 to 10), M K = A 2^d + c0, c = c0 + 2^d (A mod 2) in [0, 2^(d+1)):
  R24(M K + x) - M K = 2^d rne((c + x) / 2^d) - c (an even multiple of 2^d added keeps the
  parity that rounding half to even looks at). d changes with x only where M K lies within the
  bound of a power of two: then two such (c, d) and the x where the second starts;
- per K the output code as a function of e: onnxruntime's code of the sum M K + e is non-decreasing
  in e, so over |e| <= bound it is `base` below a step and base + 1 from it (more than one step in
  that range: no tables, the pool stays a STEM layer); the step is the least error a last addition
  can leave whose code is base + 1.
Every one of these is checked here over its whole domain (every K, every x or e within the bound):
the tables compute the float32 function exactly, or `pool_tables` says why not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..ir.codes import CODE_MAX
from .requantize import pool_sum_codes

RECORD_WORDS = 8  # xb, then (c, f, p) for x < xb and for x >= xb, then 0; f = 2^(ALIGN - d), p = 2^d
FINAL_WORDS = 2  # base, step
ALIGN = 11  # (c + x) f holds c + x at 2^ALIGN per unit of 2^d: SFTW by ALIGN rounds it half to even
MAX_INPUTS = 4  # the window's codes on dendrites of weights 1, 2, 4, 8 (state fields for four codes)
REGISTER_LIMIT = (1 << 15) - 1  # every table word and every value the program holds fits 16 bits


def r24(x: np.ndarray) -> np.ndarray:
    """x rounded to 24 significant bits, half to even (|x| < 2^53): float32's rounding of an integer."""
    x = np.asarray(x, dtype=np.int64)
    d = np.maximum(np.frexp(np.abs(x).astype(np.float64))[1] - 24, 0)
    step = np.int64(1) << d
    floor = x >> d
    rest = x - (floor << d)
    up = (rest > step // 2) | ((rest == step // 2) & (d > 0) & ((floor & 1) == 1))
    return (floor + up) << d


def dropped_bits(x: np.ndarray) -> np.ndarray:
    """How many low bits R24 rounds away from x."""
    return np.maximum(np.frexp(np.abs(np.asarray(x, dtype=np.int64)).astype(np.float64))[1] - 24, 0)


@dataclass
class PoolTables:
    memory: np.ndarray  # the core's lookup memory: r table, records, finals
    record_zero: int  # the record of K is at record_zero + RECORD_WORDS K
    final_zero: int  # K's base code and step (the e from which the code is base + 1) at final_zero + FINAL_WORDS K
    bound: int  # the largest |e| and |x|
    boundary: bool  # some K's record has two sides (M K within the bound of a power of two)


def pool_tables(count: int, scales, zero_points, offsets, clamp, fused: bool) -> PoolTables | str:
    """The tables for a window of `count` codes, input and output scales and zero points (codes),
    the ONNX offsets of the input and output dtypes (code - value), the clamp (codes) and the
    kernel's quantization (fused: QLinearAveragePool's, else QuantizeLinear's; pool_sum_codes); or
    why the float32 function cannot run on them (the pool then stays a STEM layer). The order of
    the window's additions is the program's (any: every partial sum is some M K + e)."""
    f32 = np.float32
    xs, ys = float(f32(scales[0])), float(f32(scales[1]))
    zx, zy = zero_points
    if not 2 <= count <= MAX_INPUTS:
        return f"a window of {count} inputs (the float32 pool neuron takes 2 to {MAX_INPUTS})"
    mantissa, exponent = math.frexp(xs)
    if not (xs > 0 and exponent - 24 >= -149 and math.isfinite(xs * CODE_MAX * count * 2 / max(ys, 1e-300))):
        return f"input scale {xs:g} is not a normal float32 the kernel's sums stay normal with"
    if xs < 2.0 ** -126 or xs * CODE_MAX * count > 2.0 ** 120:
        return f"input scale {xs:g} lies outside the float32 range the tables assume"
    m = int(mantissa * (1 << 24))
    codes = np.arange(CODE_MAX + 1, dtype=np.int64)
    k = codes - zx
    r = r24(m * k) - m * k
    k_lo, k_hi = -count * zx, count * (CODE_MAX - zx)
    K = np.arange(k_lo, k_hi + 1, dtype=np.int64)
    mk = m * K
    d_max = int(dropped_bits(np.array([abs(m * k_lo), abs(m * k_hi)])).max()) + 1  # the bound may cross 2^b
    bound = int(count * np.abs(r).max() + (count - 1) * (1 << max(d_max - 1, 0)))
    if d_max > ALIGN or (1 << (ALIGN + 1)) + bound >= REGISTER_LIMIT:
        return f"sums drop {d_max} bits (the tables hold at most {ALIGN})"
    x = np.arange(-bound, bound + 1, dtype=np.int64)
    d = dropped_bits(mk[:, None] + x[None, :])  # [K, x]
    changes = np.diff(d, axis=1) != 0
    if np.any(changes.sum(axis=1) > 1):
        return "a partial sum crosses two powers of two within the error bound"
    first = np.where(changes.any(axis=1), changes.argmax(axis=1) + 1, x.size)  # index of the first x of side 2
    xb = np.where(first < x.size, x[np.minimum(first, x.size - 1)], bound + 1)
    sides = []
    for d_side in (d[:, 0], d[np.arange(K.size), np.minimum(first, x.size - 1)]):
        step = np.int64(1) << d_side
        c = (mk & (step - 1)) + step * ((mk >> d_side) & 1)
        sides.append((c, np.int64(1) << (ALIGN - d_side), step))
    # the records against R24 itself, every K and x
    hi = x[None, :] >= xb[:, None]
    c, f, p = (np.where(hi, b[:, None], a[:, None]) for a, b in zip(*sides))
    v = c + x[None, :]
    rounded = _shift_even(v * f, ALIGN) * p - c
    if not np.array_equal(rounded, r24(mk[:, None] + x[None, :]) - mk[:, None]):
        raise AssertionError("float32 pool records disagree with R24")  # a bug here, not the model's
    # the output code of M K + e: onnxruntime's, a float32 sum of exactly that many units
    unit = 2.0 ** (exponent - 24)
    total = ((mk[:, None] + x[None, :]).astype(np.float64) * unit).astype(np.float32)
    out = pool_sum_codes(total, count, ys, zy - offsets[1], (clamp[0] - offsets[1], clamp[1] - offsets[1]), fused)
    out = out + offsets[1]
    base = out[:, 0]
    if np.any(out[:, -1] > base + 1) or np.any(np.diff(out, axis=1) < 0):
        return "onnxruntime's code takes more than one step within a sum's error bound"
    # the step: the least error a last addition can leave (some R24(M K + x) - M K) whose code is base + 1,
    # so that a sum lands on it exactly where the code steps (a program comparing by > fails there)
    reached = ((mk[:, None] + rounded).astype(np.float64) * unit).astype(np.float32)
    reached = pool_sum_codes(reached, count, ys, zy - offsets[1], (clamp[0] - offsets[1], clamp[1] - offsets[1]), fused)
    steps = np.where(reached + offsets[1] > base[:, None], rounded, bound + 1).min(axis=1)
    records = np.stack([xb, *sides[0], *sides[1], np.zeros_like(xb)], axis=1)
    record_zero = CODE_MAX + 1 - RECORD_WORDS * k_lo
    final_zero = CODE_MAX + 1 + RECORD_WORDS * K.size - FINAL_WORDS * k_lo
    memory = np.concatenate([r, records.reshape(-1), np.stack([base, steps], axis=1).reshape(-1)]).astype(np.int64)
    if np.abs(memory).max() > REGISTER_LIMIT or memory.size > REGISTER_LIMIT:
        return "a table word does not fit a 16-bit register"
    return PoolTables(memory, int(record_zero), int(final_zero), bound, bool(np.any(xb <= bound)))


def _shift_even(v: np.ndarray, k: int) -> np.ndarray:
    floor = v >> k
    rest = v - (floor << k)
    half = 1 << (k - 1)
    return floor + ((rest > half) | ((rest == half) & ((floor & 1) == 1)))


def needs_float32(tables: PoolTables, count: int, scales, zero_points, offsets, clamp, fused: bool) -> bool:
    """(pool_tables' arguments.) Whether onnxruntime's float32 pool differs anywhere from the exact average's rounding (what a
    STEM layer computes, half to even): some sum's code depends on its rounding error e, or its
    code differs from the exact sum's. Where it does not, the STEM layer computes it already."""
    k_lo = -count * zero_points[0]
    base, steps = tables.memory[tables.final_zero + FINAL_WORDS * k_lo:].reshape(-1, FINAL_WORDS).T
    if np.any(steps <= tables.bound):
        return True
    K = np.arange(k_lo, k_lo + base.size)
    real = np.float64(np.float32(scales[0])) / (np.float64(np.float32(scales[1])) * count)
    exact = np.rint(K * real) + zero_points[1]  # float64: K real is exact to ~2^-40 of a step here
    return bool(np.any(np.clip(exact, *clamp) != base))
