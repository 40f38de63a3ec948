"""Scaled integration (SDANN 3.2): keep the running sum inside the accumulator, per layer the
integration scheme that loses least (docs/exactness.md, "16-bit integration").

A STEM neuron's final sum is T = sum over ticks of 2^(7 - tick) x (the tick's dendrite sum). Where
the worst case of T fits the register, it is computed exactly with the paper's shift-and-add
("horner": acc = 2 acc + sum), shift k = 0. Where it does not, the neuron keeps T / 2^k instead, and
the layer uses "weighted" integration: acc += sum x 2^(7 - tick) / 2^k, each tick's term rounded
(half to even) once; in the paper's scheme (acc = 2 acc + sum >> k) the first tick's truncation is
doubled seven times, so its error is ~50 times larger for the same k (`integration: horner` in the
compile config keeps it, for comparison).

k is the smallest shift for which T / 2^k stays inside the register where it matters:
- with --calib, the largest |partial sum| measured on the calibration inputs, with a margin;
- without, the quantization ranges of the model: beyond the sums that give the lowest and highest
  output code the output is clamped anyway, so the accumulator need hold only those (with a margin for
  partial sums that overshoot the final one); a sum beyond them saturates;
- never more than the worst case needs.
"""

from __future__ import annotations

import numpy as np

from ..errors import SdanncError
from ..ir import connections
from ..ir.codes import CODE_BITS, CODE_MAX, RATE_CODING, TTFS_CODING
from ..ir.graph import Graph, Node
from ..ir.ops import STEM
from ..neurons.stem import EXACT, EXACT_BASE, EXACT_RECORD, EXACT_WORDS, HORNER, WEIGHTED
from ..target import Target
from .base import Options, Pass
from .measure import measured_sums

MEASURED_MARGIN = 1.25  # headroom over the largest partial sum seen on the calibration inputs
RANGE_MARGIN = 2.0  # headroom over the largest unclamped final sum, for partial sums that overshoot it


def _abs_weight_sum(node: Node, graph: Graph) -> np.ndarray:
    """Per neuron: the sum of |w| over everything it listens to (worst case per input code = 1)."""
    out_shape = graph.tensors[node.output].shape
    total = np.zeros(out_shape, dtype=np.int64)
    for i, (conn, name) in enumerate(zip(node.attrs["connections"], node.inputs)):
        total += connections.weight_sums(conn, node.params[f"weight{i}"], graph.tensors[name].shape, out_shape,
                                         absolute=True)
    return total


def worst_case(node: Node, graph: Graph) -> tuple[np.ndarray, int]:
    """(per neuron the largest |final sum + bias|, the largest |dendrite sum in one tick|) over all inputs."""
    per_tick = _abs_weight_sum(node, graph)
    final = CODE_MAX * per_tick + np.abs(node.params["bias"])
    return final, int(per_tick.max(initial=0))


def unclamped_range(node: Node) -> np.ndarray:
    """Per neuron the largest |final sum + bias| whose output code is not clamped: the sums that map
    between the clamp's bounds through the neuron's real requantization multiplier (inf for none)."""
    low, high = node.attrs["clamp"]
    zp = node.attrs["zero_point"]
    steps = max(abs(low - zp), abs(high - zp)) + 1
    m = np.abs(node.params["real_multiplier"])
    with np.errstate(divide="ignore"):
        return np.where(m > 0, np.ceil(steps / np.where(m > 0, m, 1)), np.inf)


def choose_shift(bound: int, register_bits: int) -> int:
    """Horner: smallest k with bound / 2^k (plus the rounding of 8 shifted ticks) inside the register."""
    limit = (1 << (register_bits - 1)) - 1
    k = 0
    while (bound >> k) + (1 << CODE_BITS) > limit and k < 31:
        k += 1
    return k


def weighted_shifts(bound: np.ndarray, register_bits: int) -> np.ndarray:
    """Weighted, per neuron: smallest k with bound / 2^k (plus half a step per rounded tick) inside
    the register."""
    limit = (1 << (register_bits - 1)) - 1 - CODE_BITS
    bound = np.maximum(np.asarray(bound, dtype=np.float64), 1.0)
    return np.clip(np.ceil(np.log2(bound / limit)), 0, 31).astype(np.int64)


def _check_fan_in(node: Node, per_tick: int, target: Target) -> None:
    adder = target.arith["dendrite_sum_bits"]
    if per_tick >= 1 << (adder - 1):
        raise SdanncError(f"layer {node.name}: fan-in too large: one tick's dendrite sum can reach {per_tick}, "
                          f"the {adder}-bit dendrite adder holds {(1 << (adder - 1)) - 1}: "
                          f"use fewer input channels or a target with a wider adder")


def _scale(node: Node, k, scheme: str) -> None:
    """Bias and multiplier for an accumulator that holds T / 2^k (k per layer, or per neuron)."""
    node.attrs["integration"] = scheme
    if scheme == WEIGHTED:
        node.params["acc_shift"] = np.broadcast_to(k, node.params["bias"].shape).astype(np.int64).copy()
        node.attrs["acc_shift"] = int(node.params["acc_shift"].max(initial=0))
    else:
        node.attrs["acc_shift"] = int(k)
    if np.any(k):
        half = np.where(k > 0, np.int64(1) << np.maximum(k - 1, 0), 0)
        node.params["bias"] = (node.params["bias"] + half) >> k
        node.params["real_multiplier"] = node.params["real_multiplier"] * np.exp2(k)


def _offset_inputs(node: Node, graph: Graph) -> bool:
    """Inputs whose codes sit around a zero point other than 0 (outputs without a ReLU): the high bits
    of a code just below the zero point weigh far more than the code's distance from it, so weighted
    partial sums overshoot the final one by more than any margin (MobileNetV2's 1x1 expansions after
    its linear bottlenecks: 80 to 146 steps off in 1 % of the codes at twice the range)."""
    return any(graph.tensors[name].zero_point != 0 for name in node.inputs)


def _offset_choice(node: Node, worst_each: np.ndarray, per_tick: int, reg: int):
    """For offset inputs, of the two schemes that cannot saturate on an unclamped output, the one with
    the smaller rounding error: weighted at the worst case, or shift-and-add at the range (its partial
    sums stay within the final one plus one tick's worst case), error 4.5 against 127.5 units of 2^k."""
    k_weighted = weighted_shifts(worst_each, reg)
    horner_each = np.minimum(unclamped_range(node) * RANGE_MARGIN + per_tick, worst_each)
    k_horner = choose_shift(int(horner_each.max(initial=0)), reg)
    m = np.abs(node.params["real_multiplier"])
    weighted_error = float(np.max(4.5 * np.exp2(k_weighted) * m, initial=0.0))
    horner_error = float(np.max(128.0 * 2.0 ** k_horner * m, initial=0.0))
    if weighted_error <= horner_error:
        return int(worst_each.max(initial=0)), "worst case (offset inputs)", k_weighted, WEIGHTED
    return int(horner_each.max(initial=0)), "quantization range (offset inputs)", k_horner, HORNER


def constant_neurons(node: Node, graph: Graph) -> np.ndarray:
    """Per neuron: whether its code is the same for every input, clamped at one end whatever T is
    (a dead per-channel neuron: a tiny weight scale, a large bias), by more than a step of margin
    over the real multiplier (requantize checks it with the exact function). Integration exact gives
    such a neuron a table of its one code and no bias, so its bias need not fit two words."""
    reach = CODE_MAX * _abs_weight_sum(node, graph)
    m, b = node.params["real_multiplier"], node.params["bias"]
    low, high = node.attrs["clamp"]
    zp = node.attrs["zero_point"]
    least, most = m * (b - reach) + zp, m * (b + reach) + zp  # (m >= 0: least <= most)
    return (m >= 0) & ((most < low - 1) | (least > high + 1))


def exact_limit(register_bits: int) -> int:
    """Integration "exact": |T + bias| + 1 within it keeps H (and a threshold's high word) inside
    the register, with room for the carry."""
    return ((1 << (register_bits - 1)) - 2) << EXACT_BASE


def exact_fits(node: Node, worst: int, target: Target, forced) -> bool:
    """Integration "exact" applies (docs/exactness.md): registers of EXACT_BASE + 2 to 31 bits (wider
    ones are exact with the shift-and-add), the worst case of T + bias inside two words, a lookup
    memory for at least one table and its records, not sparsified (RoT / DRLO would be inside the
    thresholds, which the activity report cannot clear), no fused activation table (it would share
    the lookup memory: the layer is weighted instead), and the compile config asking for neither
    horner nor weighted."""
    reg = target.arith["register_bits"]
    return (forced not in (HORNER, WEIGHTED) and EXACT_BASE + 2 <= reg < 32 and "table" not in node.params
            and "sparsify" not in node.attrs and worst + 1 <= exact_limit(reg)
            and target.core.get("lut_words", 0) >= EXACT_WORDS + EXACT_RECORD)


def _multiplier_rounds(node: Node) -> bool:
    """Whether the layer's requantization is onnxruntime's float32 one (a Conv / Gemm / MatMul) or a
    multiplier that is no power-of-two fraction: then a register's fixed-point multiplier can be off
    by a step where integration exact is not (the sums fitting is not enough)."""
    if "float32_scale" in node.params:
        return True
    m = np.abs(node.params["real_multiplier"])
    return not any(np.all(m * 2.0 ** s == np.rint(m * 2.0 ** s)) for s in range(31))


# A per-channel layer is exact when its tables add at most this many cores to what its neurons take
# (or this share of them): a small layer's few more cores buy its exactness; a deep layer's 512
# channels on a 4 x 4 map would take 17 cores instead of 2.
EXACT_EXTRA_CORES, EXACT_EXTRA_SHARE = 2, 0.25


def exact_adds_few_cores(node: Node, shape, target: Target) -> bool:
    """Whether the layer's threshold tables and bias records fit about the cores its neurons take
    anyway: tiles of whole channels, as many as a core's neurons hold, each within the lookup memory
    (EXACT_WORDS a table, EXACT_RECORD a distinct bias of a channel). A per-tensor layer has one
    table; a per-channel one a table per channel, which on small maps would multiply its cores."""
    shape = tuple(shape)
    channels, per_channel = shape[0], int(np.prod(shape[1:], dtype=np.int64))  # (a tile holds whole channels' rows)
    if np.unique(node.params["real_multiplier"]).size <= 1:
        return True
    bias = np.broadcast_to(node.params["bias"], tuple(shape)).reshape(channels, -1)
    per_bias = max(np.unique(row).size for row in bias)  # distinct biases (border classes) of a channel
    per_table = EXACT_WORDS + EXACT_RECORD * per_bias
    by_lookup = max(1, int(target.core["lut_words"]) // per_table)
    by_neurons = max(1, min(channels, int(target.core["neurons"]) // max(1, per_channel)))
    cores, exact = -(-channels // by_neurons), -(-channels // min(by_lookup, by_neurons))
    return exact - cores <= max(EXACT_EXTRA_CORES, cores * EXACT_EXTRA_SHARE)


def scaled_integration(graph: Graph, target: Target, options: Options) -> Graph:
    graph = graph.copy()
    reg = target.arith["register_bits"]
    forced = options.integration
    if forced is None and options.coding in (TTFS_CODING, RATE_CODING):
        forced = EXACT  # the codings sum exactly: integration exact wherever it applies, whatever its cores
    measured = measured_sums(graph, target, options.calib, options.model) if options.calib is not None else {}
    for node in graph.nodes:
        if node.op != STEM:
            continue
        worst_each, per_tick = worst_case(node, graph)
        worst = int(worst_each.max(initial=0))
        _check_fan_in(node, per_tick, target)
        constant = constant_neurons(node, graph)
        exact_worst = int(worst_each[~constant].max(initial=0))  # (constant neurons drop their bias)
        exact = exact_fits(node, exact_worst, target, forced) and (
            forced == EXACT or exact_adds_few_cores(node, graph.tensors[node.output].shape, target))
        if forced == HORNER or (choose_shift(worst, reg) == 0 and not (exact and _multiplier_rounds(node))):
            # the paper's scheme, exact where the worst case fits (k = 0: nothing saturates or rounds)
            bound, source = worst, "worst case"
            if node.name in measured:
                bound, source = int(measured[node.name].horner * MEASURED_MARGIN), "measured on --calib"
            k, scheme = (choose_shift(bound, reg) if forced == HORNER else 0), HORNER
        elif exact:  # T + bias exact in two words, thresholds for the codes
            bound, source, k, scheme = exact_worst, "worst case", 0, EXACT
            node.attrs["exact_bound"] = max(exact_worst, int(CODE_MAX * per_tick))  # the largest |T + bias|
            if constant.any():  # (each such neuron's reach of T, -1 for the others)
                node.params["exact_constant"] = np.where(constant, CODE_MAX * _abs_weight_sum(node, graph), -1)
            node.attrs["lut_words"] = int(target.core["lut_words"])
        elif _offset_inputs(node, graph):  # (measured partial sums do not bound the held-out ones either)
            bound, source, k, scheme = _offset_choice(node, worst_each, per_tick, reg)
        else:  # per neuron: the smaller of what it was seen to need, or may need, and its worst case
            if node.name in measured:
                each, source = measured[node.name].weighted * MEASURED_MARGIN, "measured on --calib"
            else:
                each, source = unclamped_range(node) * RANGE_MARGIN, "quantization range"
            each = np.minimum(np.broadcast_to(each, worst_each.shape), worst_each)
            if np.array_equal(each, worst_each):
                source = "worst case"
            bound, k, scheme = int(each.max(initial=0)), weighted_shifts(each, reg), WEIGHTED
        node.attrs["acc_bits"] = max(bound, 1).bit_length() + 1
        node.attrs["acc_bound"] = source
        _scale(node, k, scheme)
        if node.attrs["acc_shift"]:
            graph.notes.append(f"scaled-integration: {node.name}: sums need {node.attrs['acc_bits']} bits "
                               f"({source}), accumulator {reg}: {scheme} integration, sums scaled by up to "
                               f"2^-{node.attrs['acc_shift']}")
    return graph


PASS = Pass("scaled-integration", scaled_integration, "keep each layer's running sum inside the accumulator")
