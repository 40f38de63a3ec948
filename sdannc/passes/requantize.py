"""Fixed-point requantization: the real multiplier of each neuron as an integer and two shifts.

out = round(acc * m / 2^(mul_shift + out_shift)), rounded once: MUL rounds when there is no further
shift; otherwise MULT truncates and `SFTI R, out_shift, RND` rounds, which is exactly one rounding.
m is an integer of the register width with as many significant bits as the register allows;
mul_shift is one of the ISA's MUL precisions and out_shift is kept small enough that the value
between the two instructions cannot saturate before the output clamp would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import SdanncError
from ..isa import load_isa
from ..ir.codes import CODE_BITS, CODE_MAX
from ..ir.graph import Graph, Node
from ..ir.ops import ADDER, STEM
from ..neurons.stem import EXACT, WEIGHTED
from ..target import Target
from .base import Options, Pass


def sfti_max_of(isa) -> int:
    field = next(f for f in isa.by_mnemonic["SFTI"].fields if f.name == "amount")
    return (1 << field.width) - 1


# Codes and zero points are below 2^9: a value between MULT and the last shift that is 2^9 times
# the shift's factor from saturating still clamps to the same output.
_HEADROOM_BITS = 10


def fixed_point(real: np.ndarray, register_bits: int, mul_shifts, sfti_max: int, where: str):
    """(m int array, mul_shift, out_shift) with m / 2^(mul_shift + out_shift) ~ real, m < 2^(bits-1)."""
    top = (1 << (register_bits - 1)) - 1
    sfti_max = min(sfti_max, max(0, register_bits - _HEADROOM_BITS))
    biggest = float(np.abs(real).max(initial=0.0))
    if biggest == 0.0:
        return np.zeros(real.shape, dtype=np.int64), min(mul_shifts), 0
    total = math.floor(math.log2(top / biggest))  # the most fractional bits m can carry
    while total >= 0:
        fits = [s for s in mul_shifts if s <= total and total - s <= sfti_max]
        if fits:
            mul_shift = max(fits)
            m = np.rint(real * 2.0 ** total).astype(np.int64)
            if np.abs(m).max() <= top:
                return m, mul_shift, total - mul_shift
        total -= 1
    raise SdanncError(f"layer {where}: requantization multiplier {biggest:.3g} is too large for a "
                      f"{register_bits}-bit register: try the wide target")


def dyadic(real: np.ndarray, acc_bits: int, register_bits: int, sfti_max: int):
    """(m, shift) with real == m / 2^shift exactly and acc * m inside the register, else None.

    Averages over 2, 4, 8 ... values and identity relays have such multipliers; their results can
    land exactly on .5, where onnxruntime rounds half to even: the exact product then lets the
    shift round the same way (SFTI RNE).
    """
    for shift in range(sfti_max + 1):
        m = real * 2.0 ** shift
        if np.all(m == np.rint(m)):
            top = int(np.abs(m).max(initial=0))
            if top.bit_length() + acc_bits <= register_bits - 1:
                return m.astype(np.int64), shift
            return None
    return None


def mul_shifts_of(isa) -> list[int]:
    """The shifts MUL and MULT can apply (the ISA's precision table)."""
    return list(isa.domain(next(f for f in isa.by_mnemonic["MUL"].fields if f.name == "shift")))


# The exact Add neuron multiplies exactly (MULT shift 0) and rounds once, as onnxruntime's float32
# does, when the register holds multipliers that keep it this close to the real value (in output
# steps, over every input); otherwise (16-bit registers) the MULT shift with the smallest error.
EXACT_ADD_ERROR = 2.0 ** -11


@dataclass
class AdderFixedPoint:
    """v = sum_i (m_i (code_i - z_i)) >> mul_shift, + offset, then out_shifts: ~ sum_i ratio_i (code_i - z_i) + K."""
    multipliers: tuple[int, ...]
    offset: np.ndarray  # per neuron, in units of the value before the out shifts
    mul_shift: int
    out_shifts: list[tuple[int, str]]  # (amount, TRUNC | RND | RNE), applied in order
    error: float  # worst distance from the real value, in output steps


def shift_chain(total: int, sfti_max: int, last: str) -> list[tuple[int, str]]:
    """A right shift by `total` as SFTI steps: truncating ones, then one `last` that rounds, which
    rounds once (floor(floor(v / 2^a) + 2^(b-1)) / 2^b) = round(v / 2^(a+b)))."""
    chain = []
    while total > sfti_max:
        chain.append((sfti_max, "TRUNC"))
        total -= sfti_max
    return chain + ([(total, last)] if total else [])


def _adder_at(ratios, offsets, mul_shift: int, total: int, top: int, sfti_max: int, last: str):
    """The Add fixed point with multipliers ratio * 2^total, or None where a value could saturate."""
    out_shift = total - mul_shift
    if out_shift < 0 or np.abs(ratios).max() * 2.0 ** total > top:
        return None
    m = np.rint(ratios * 2.0 ** total).astype(np.int64)
    off = np.rint(offsets * 2.0 ** out_shift).astype(np.int64)
    products = -(-(CODE_MAX * np.abs(m)) >> mul_shift) + (1 if mul_shift else 0)  # |m (code - z)| >> p, rounded
    if int(products.sum()) + int(np.abs(off).max(initial=0)) + 1 > top:
        return None
    roundings = np.count_nonzero(m) * 0.5 if mul_shift else 0  # each MUL rounds once, by at most half a unit
    error = (CODE_MAX * np.abs(m - ratios * 2.0 ** total).sum() / 2.0 ** total
             + (np.abs(off - offsets * 2.0 ** out_shift).max(initial=0) + roundings) / 2.0 ** out_shift)
    return AdderFixedPoint(tuple(int(v) for v in m), off, mul_shift, shift_chain(out_shift, sfti_max, last),
                           float(error))


def _adder_dyadic(ratios, offsets, top: int, sfti_max: int):
    """Exact multipliers and offsets at a shift one SFTI can make: exact ties then round half to even."""
    for total in range(sfti_max + 1):
        if np.all(ratios * 2.0 ** total % 1 == 0) and np.all(offsets * 2.0 ** total % 1 == 0):
            return _adder_at(ratios, offsets, 0, total, top, sfti_max, "RNE")
    return None


def _adder_finest(ratios, offsets, mul_shift: int, top: int, sfti_max: int):
    """The largest multipliers that fit with this MULT shift (None if even 2^0 does not)."""
    for total in range(mul_shift + top.bit_length(), -1, -1):
        found = _adder_at(ratios, offsets, mul_shift, total, top, sfti_max, "RND")
        if found is not None:
            return found
    return None


def adder_fixed_point(ratios, offsets, register_bits: int, shifts, sfti_max: int) -> AdderFixedPoint | None:
    """Integers for the Add neuron: y ~ sum_i ratios[i] (code_i - z_i) + offsets (offsets per neuron,
    in output steps). None if the register cannot hold the values at all."""
    ratios, offsets = np.asarray(ratios, dtype=np.float64), np.asarray(offsets, dtype=np.float64)
    top = (1 << (register_bits - 1)) - 1
    sfti_max = min(sfti_max, register_bits - 1)
    exact = _adder_dyadic(ratios, offsets, top, sfti_max)
    if exact is not None:
        return exact
    found = {p: _adder_finest(ratios, offsets, p, top, sfti_max) for p in sorted(shifts)}
    exact_products = found.get(0)
    if exact_products is not None and exact_products.error <= EXACT_ADD_ERROR:
        return exact_products
    fits = [f for f in found.values() if f is not None]
    return min(fits, key=lambda f: f.error) if fits else None


def exact_form(fp: AdderFixedPoint | None) -> bool:
    """The Add is exact up to its multipliers' rounding: exact products, one rounding."""
    return fp is not None and fp.mul_shift == 0 and fp.error <= EXACT_ADD_ERROR


# The two-word Add program computes the fixed point of a register twice as wide as the target's,
# up to this many bits (darwin3-wide's 32: on darwin3 it reproduces darwin3-wide's Add; the search
# above holds 9-bit codes times such multipliers in int64).
TWO_WORD_MAX_BITS = 32


def adder_arithmetic(ratios, offsets, register_bits: int, shifts, sfti_max: int) -> tuple[AdderFixedPoint | None, bool]:
    """(the Add's fixed point, whether it runs in two words). Where one register does not hold the
    exact form (16 bits: it rounds its products), the fixed point of a register of twice the width,
    in two words (isa/programs/add_two_words.s; MACW's shift by the register width - 1 splits the
    multipliers), if that one is exact; else the one-word fixed point as it is."""
    fp = adder_fixed_point(ratios, offsets, register_bits, shifts, sfti_max)
    if exact_form(fp) or 2 * register_bits > TWO_WORD_MAX_BITS or register_bits - 1 not in shifts:
        return fp, False
    wide = adder_fixed_point(ratios, offsets, 2 * register_bits, shifts, sfti_max)
    return (wide, True) if exact_form(wide) else (fp, False)


def requantize_node(node: Node, target: Target, isa) -> None:
    real = node.params.pop("real_multiplier")
    reg = target.arith["register_bits"]
    exact = dyadic(real, node.attrs.get("acc_bits", reg), reg, sfti_max_of(isa))
    if exact is not None:  # MULT by 0 is exact; the shift rounds half to even
        node.params["multiplier"], shift = exact
        node.attrs.update(mul_shift=0, out_shifts=[shift] if shift else [], round="RNE")
    else:
        m, mul_shift, out_shift = fixed_point(real, reg, mul_shifts_of(isa), sfti_max_of(isa), node.name)
        node.params["multiplier"] = m
        node.attrs.update(mul_shift=int(mul_shift), out_shifts=[out_shift] if out_shift else [], round="RND")
    node.attrs["error_bound"] = stem_error_bound(node, real, reg)


def _shifts(node: Node) -> np.ndarray:
    """Per neuron the accumulator's scaling shift k: weighted integration keeps one per neuron, the
    shift-and-add one per layer."""
    k = node.params.get("acc_shift", node.attrs.get("acc_shift", 0))
    return np.broadcast_to(np.asarray(k, dtype=np.int64), node.params["bias"].shape)


def _sum_error(node: Node, k: np.ndarray) -> np.ndarray:
    """Per neuron, the largest distance of the accumulator from T / 2^k, in its own units (bias included):
    half a unit per rounded tick and for the bias, the paper's scheme doubling each tick's rounding."""
    rounded_bias = np.where(k > 0, 0.5, 0.0)
    if node.attrs.get("integration") == WEIGHTED:  # tick t is shifted by t + k - 7: rounded where positive
        ticks = sum(np.where(t + k - (CODE_BITS - 1) > 0, 0.5, 0.0) for t in range(CODE_BITS))
        return ticks + rounded_bias
    return np.where(k > 0, 0.5 * ((1 << CODE_BITS) - 1), 0.0) + rounded_bias


def stem_error_bound(node: Node, real: np.ndarray, register_bits: int) -> float:
    """The largest distance, in output steps, between the value the neuron rounds to its output code
    and M (T + bias) computed in real numbers, over every sum whose output is not clamped: the
    accumulator's rounding times the multiplier, plus the fixed-point multiplier's own error over the
    largest accumulator value the layer's bound allows (docs/exactness.md, "16-bit integration")."""
    a = node.attrs
    scale = 2.0 ** (a["mul_shift"] + sum(a["out_shifts"]))
    largest = min(2.0 ** (a.get("acc_bits", register_bits) - 1), 2.0 ** (register_bits - 1))
    k = _shifts(node)
    held = np.minimum(largest / 2.0 ** k, 2.0 ** (register_bits - 1))  # what the register holds of it
    error = _sum_error(node, k) * np.abs(real) + np.abs(node.params["multiplier"] / scale - real) * held
    return float(np.max(error, initial=0.0))


WIDE_BITS = 32  # integration "exact" computes what the 32-bit registers of darwin3-wide compute


class _Wide:
    arith = {"register_bits": WIDE_BITS}


def float32_codes(total: np.ndarray, scale32, zero_point: int, clamp) -> np.ndarray:
    """onnxruntime's requantization of a QLinearConv / QGemm / QLinearMatMul output (its float32
    kernel, docs/exactness.md): clamp(rne(fl(fl(total) x scale32)) + zero_point), total the integer
    sum with its bias, scale32 = fl(fl(sx sw) / sy). Non-decreasing in total (scale32 > 0)."""
    v = np.asarray(total).astype(np.float32) * np.asarray(scale32, dtype=np.float32)
    return np.clip(np.rint(v.astype(np.float32)).astype(np.int64) + zero_point, *clamp)


def exact_thresholds(node: Node) -> tuple[np.ndarray, np.ndarray, bool]:
    """Integration "exact": per distinct multiplier (one for a per-tensor layer, one per channel for
    a per-channel one; the bias is not in them: the neuron adds it to its sum), the 256-entry table
    whose entry e (1..255) is the least T + bias whose code is >= e, clamped to +-(largest |T + bias|
    + 1); entry 0 is the top (never reached: no spike before the first code). The code is
    onnxruntime's float32 requantization where the layer is one of its QLinearConv / QGemm /
    QLinearMatMul (param float32_scale), else darwin3-wide's; both are non-decreasing in T + bias,
    so bisection finds the thresholds. Returns ([groups, 256], each neuron's group in the
    multiplier's shape, whether the codes are onnxruntime's)."""
    from ..neurons.stem import requantized
    p, a = node.params, node.attrs
    top = int(a["exact_bound"]) + 1
    own = "float32_scale" in p
    if own:
        key = np.asarray(p["float32_scale"], dtype=np.float32)
        unique, group = np.unique(key.reshape(-1), return_inverse=True)
        table = thresholds_of(lambda t, g: float32_codes(t, unique[g], a["zero_point"], a["clamp"]), len(unique), top)
    else:
        key = np.asarray(p["multiplier"], dtype=np.int64)
        unique, group = np.unique(key.reshape(-1), return_inverse=True)
        table = thresholds_of(lambda t, g: requantized(t, node, 0, unique[g], WIDE_BITS), len(unique), top)
    group = group.reshape(key.shape).astype(np.int64)
    reach = p.pop("exact_constant", None)  # per neuron: how far T reaches where the code is constant, else -1
    if reach is not None:  # one code whatever T is: a table of that code, the bias dropped
        constant = reach >= 0
        shape = constant.shape
        bias = np.broadcast_to(p["bias"], shape).astype(np.int64)
        scale = np.broadcast_to(key, shape)
        if own:
            lo, hi = (float32_codes(bias + d, scale, a["zero_point"], a["clamp"]) for d in (-reach, reach))
        else:
            lo, hi = (requantized(bias + d, node, 0, scale, WIDE_BITS) for d in (-reach, reach))
        if np.any((lo != hi)[constant]):
            raise SdanncError(f"layer {node.name}: a neuron taken for constant is not (integration exact)")
        codes = np.unique(lo[constant])
        e = np.arange(1 << CODE_BITS)
        steps = np.where((e[None, :] >= 1) & (e[None, :] <= codes[:, None]), -top, top)
        group = np.where(constant, len(unique) + np.searchsorted(codes, lo), np.broadcast_to(group, shape))
        table = np.concatenate([table, steps.astype(np.int64)])
        p["bias"] = np.where(constant, 0, p["bias"])
    return table, group, own


def thresholds_of(code_of, groups: int, top: int) -> np.ndarray:
    """[groups, 256]: entry e (1..255) the least t in [-top, top] with code_of(t, group) >= e (top
    where there is none), entry 0 top; code_of non-decreasing in t. By bisection, all at once."""
    e = np.arange(1, 1 << CODE_BITS, dtype=np.int64)
    g = np.repeat(np.arange(groups, dtype=np.int64)[:, None], e.size, axis=1)
    lo = np.full((groups, e.size), -top - 1, dtype=np.int64)  # code(lo) < e (lo is never taken)
    hi = np.full((groups, e.size), top, dtype=np.int64)  # the answer is at most hi
    while np.any(hi - lo > 1):
        mid = (lo + hi) >> 1
        up = code_of(mid, g) >= e
        hi, lo = np.where(up, mid, hi), np.where(up, lo, mid)
    first = np.maximum(hi, -top)
    return np.concatenate([np.full((groups, 1), top, dtype=np.int64), first], axis=-1)


def requantize(graph: Graph, target: Target, options: Options) -> Graph:
    graph = graph.copy()
    isa = load_isa(target.isa_name)
    for node in graph.nodes:
        if node.op == STEM and node.attrs.get("integration") == EXACT:
            requantize_node(node, _Wide, isa)  # the wide target's multiplier and shifts, then its step function
            node.params["exact_thresholds"], node.params["exact_group"], own = exact_thresholds(node)
            if own:  # onnxruntime's codes; else darwin3-wide's, and its bound (its fixed-point multiplier's)
                node.attrs["error_bound"] = 0.0
        elif node.op == STEM:
            requantize_node(node, target, isa)
        if node.op == STEM:
            node.params.pop("float32_scale", None)
        if node.op == ADDER and "float32_add" in node.attrs:
            search_add(node, graph, options)
    return graph


def search_add(node: Node, graph: Graph, options: Options) -> None:
    """A two-word Add of uint8 codes (attr float32_add: onnxruntime's scales) becomes the threshold
    search over its exact sum where onnxruntime's QLinearAdd is a non-decreasing function of it
    (add_search); a sparsified Add, one with a fused table or in a spike coding keeps its program."""
    scales = node.attrs.pop("float32_add")
    a = node.attrs
    if "sparsify" in a or "table" in node.params or options.coding != "stem":
        return
    found = add_search(scales, a["input_zero_points"], a["zero_point"], a["clamp"])
    if found is None:
        graph.notes.append(f"requantize: {node.name}: onnxruntime's QLinearAdd is no non-decreasing function "
                           f"of the exact sum here; the Add keeps darwin3-wide's arithmetic (two words)")
        return
    shape = graph.tensors[node.output].shape
    a.update(search=True, multipliers=found.multipliers, exact_bound=found.bound, error_bound=0.0)
    node.params["exact_thresholds"] = found.thresholds[None, :]
    node.params["exact_group"] = np.zeros((1,) * len(shape), dtype=np.int64)
    node.params["bias"] = np.zeros((1,) * len(shape), dtype=np.int64)


PASS = Pass("requantize", requantize, "real multipliers to fixed-point integers and shifts")


# The Add by threshold search (docs/exactness.md, "(b) Add"): its exact sum S = ma (a - za) + mb (b - zb)
# is held as stem_exact's X = H 2^14 + L, so |S| + 1 must stay within (2^15 - 2) 2^14.
SEARCH_SUM_LIMIT = ((1 << 15) - 2) << 14
SEARCH_TRIES = 4  # multipliers at the largest power of two that fits, and at up to 3 smaller ones


def qlinear_add_codes(a: np.ndarray, b: np.ndarray, scales, zero_points, clamp) -> np.ndarray:
    """onnxruntime's uint8 QLinearAdd on x86 (MLAS qladd_avx2.cpp, docs/exactness.md), in float32:
    ratios ra = fl(sa / sc), rb = fl(sb / sc), the fixed part fl(zc - fma(ra, za, fl(rb zb))), then
    fma(a, ra, fma(b, rb, fixed)) rounded half to even, clamped. An fma is exact in float64 here
    (a product of an 8-bit integer and a float32, plus a float32 of like size) and rounded once to
    float32."""
    f32 = np.float32
    sa, sb, sc = (f32(s) for s in scales)
    za, zb, zc = zero_points
    ra, rb = f32(sa / sc), f32(sb / sc)
    fixed = f32(f32(zc) - f32(np.float64(ra) * za + np.float64(f32(rb * f32(zb)))))
    v = (np.asarray(b, dtype=np.float64) * np.float64(rb) + np.float64(fixed)).astype(np.float32)
    v = (np.asarray(a, dtype=np.float64) * np.float64(ra) + v.astype(np.float64)).astype(np.float32)
    return np.clip(np.rint(v).astype(np.int64), *clamp)


@dataclass
class AddSearch:
    """The Add as a step function of its exact sum: code = #{e in 1..255 : thresholds[e] <= S}."""
    multipliers: tuple[int, int]
    thresholds: np.ndarray  # [256]: entry 0 the top (never a candidate), entries 1..255 non-decreasing
    bound: int  # the largest |S|


def add_search(scales, zero_points, out_zero_point: int, clamp) -> AddSearch | None:
    """Integer multipliers for which onnxruntime's QLinearAdd codes, over all 256 x 256 input pairs,
    are a non-decreasing function of S = ma (a - za) + mb (b - zb), and that function's thresholds;
    None where no power of two of the ones tried gives one (the two-word Add program stays)."""
    a, b = (g.reshape(-1) for g in np.meshgrid(np.arange(CODE_MAX + 1), np.arange(CODE_MAX + 1), indexing="ij"))
    (za, zb), f32 = zero_points, np.float32
    codes = qlinear_add_codes(a, b, scales, (za, zb, out_zero_point), clamp)
    ratios = np.array([f32(f32(scales[0]) / f32(scales[2])), f32(f32(scales[1]) / f32(scales[2]))], dtype=np.float64)
    total = math.floor(math.log2((SEARCH_SUM_LIMIT - 2) / (CODE_MAX * ratios.sum())))
    for shift in range(total, total - SEARCH_TRIES, -1):
        ma, mb = (int(v) for v in np.rint(ratios * 2.0 ** shift))
        bound = CODE_MAX * (abs(ma) + abs(mb))
        if ma <= 0 or mb <= 0 or bound + 1 > SEARCH_SUM_LIMIT:
            continue
        s = ma * (a - za) + mb * (b - zb)
        order = np.lexsort((codes, s))
        s_sorted, c_sorted = s[order], codes[order]
        if np.any(np.diff(c_sorted) < 0) or np.any((np.diff(s_sorted) == 0) & (np.diff(c_sorted) != 0)):
            continue  # not a function of S, or not a non-decreasing one
        top = bound + 1
        e = np.arange(1, CODE_MAX + 1)
        first = np.searchsorted(c_sorted, e, side="left")  # the first pair whose code is >= e
        steps = np.where(first < s_sorted.size, s_sorted[np.minimum(first, s_sorted.size - 1)], top)
        steps = np.where(first == 0, -top, steps)  # every pair is at or above e
        return AddSearch((ma, mb), np.concatenate([[top], steps]).astype(np.int64), bound)
    return None


def qlinear_average_pool_codes(windows: np.ndarray, scales, zero_points, clamp) -> np.ndarray:
    """onnxruntime's QLinearAveragePool (contrib_ops/cpu/quantization/qlinear_pool.cc; its optimizer
    fuses DequantizeLinear -> AveragePool -> QuantizeLinear into it), all in float32: each input
    dequantized, t = fl(xs (q - zx)); the window summed in its row-major order (windows [..., n],
    that order on the last axis), a float32 running sum; divided by the count n (Finalize); then
    quantize_value: nearbyintf(fl(y / ys) + zy), clamped. Zero points and clamp are ONNX values
    (int8's signed ones); the windows may be codes of either kind, since only q - zx enters, so long
    as zx is of the same kind."""
    return float32_pool_codes(windows, scales, zero_points, clamp, row_major_steps(np.shape(windows)[-1]), True)


def unfused_average_pool_codes(windows: np.ndarray, scales, zero_points, clamp) -> np.ndarray:
    """The same float32 sum and division, rounded before the zero point is added: rne(fl(y / ys)) + zy
    (QuantizeLinear's order). For the int8 QDQ models of the tests onnxruntime (x86) converts the
    pool's Q -> DQ pairs to uint8 and runs the fused kernel at zero point zy + 128; that gives this
    number whenever zy is even (docs/exactness.md "(a)"), as after every ReLU (zy = -128)."""
    return float32_pool_codes(windows, scales, zero_points, clamp, row_major_steps(np.shape(windows)[-1]), False)


def row_major_steps(count: int) -> list[tuple[int, int]]:
    """The float32 additions of a running sum over the window: (slot a, slot b), a += b."""
    return [(0, j) for j in range(1, count)]


def float32_pool_codes(windows: np.ndarray, scales, zero_points, clamp, steps, fused: bool) -> np.ndarray:
    """A float32 average pool: the terms fl(xs (q - zx)) added by `steps` (slot a += slot b, each
    rounded to float32; the result in slot 0), then pool_sum_codes."""
    f32 = np.float32
    terms = f32(scales[0]) * (np.asarray(windows, dtype=np.int64) - zero_points[0]).astype(f32)
    slots = [terms[..., i] for i in range(terms.shape[-1])]
    for a, b in steps:
        slots[a] = (slots[a] + slots[b]).astype(f32)
    return pool_sum_codes(slots[0], terms.shape[-1], scales[1], zero_points[1], clamp, fused)


def pool_sum_codes(total: np.ndarray, count: int, out_scale, out_zero_point: int, clamp, fused: bool = True) -> np.ndarray:
    """The end of a float32 average pool from its float32 window sum: y = fl(total / count); fused
    (QLinearAveragePool's quantize_value) nearbyintf(fl(y / ys) + zy), unfused (QuantizeLinear)
    rne(fl(y / ys)) + zy; clamped. Non-decreasing in total."""
    f32 = np.float32
    y = (np.asarray(total, dtype=f32) / f32(count)).astype(f32)
    v = (y / f32(out_scale)).astype(f32)
    if fused:
        return np.clip(np.rint((v + f32(out_zero_point)).astype(f32)).astype(np.int64), *clamp)
    return np.clip(np.rint(v).astype(np.int64) + out_zero_point, *clamp)
