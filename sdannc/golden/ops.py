"""The integer golden model: one numpy function per hardware-level IR op.

Each function is the arithmetic the chip performs, step by step where steps can round or saturate,
so that the simulator running the emitted programs must agree with it bit for bit. Inputs and
outputs are code arrays [batch, *shape] (int64).
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import CODE_BITS, Node
from .. import sparsify
from ..arith import fixed_multiply, saturate, shift_right_even, shift_right_round, shift_right_trunc
from . import connections


def plane_sums(node: Node, inputs: list[np.ndarray], out_shape) -> np.ndarray:
    """[bits, batch, *out] the exact dendrite sum of each tick: every input's bit plane of that tick
    (MSB first) through its connection and weights, summed over inputs (before saturation)."""
    return sum(connections.apply_bit_planes(conn, node.params[f"weight{i}"], x, out_shape, CODE_BITS)
               for i, (conn, x) in enumerate(zip(node.attrs["connections"], inputs)))


def stem(node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
    """STEM neuron (isa/programs/stem_neuron.s): shift-and-add 8 bit planes, requantize, clamp."""
    reg, dsum = arith["register_bits"], arith["dendrite_sum_bits"]
    a, p = node.attrs, node.params
    batch = inputs[0].shape[0]
    acc = np.broadcast_to(p["init"], (batch,) + tuple(out_shape)).astype(np.int64)
    sums = plane_sums(node, inputs, out_shape)
    for bit in range(CODE_BITS):
        wgtsum = saturate(sums[bit], dsum)
        acc = saturate(acc * 2, reg)
        acc = saturate(acc + shift_right_round(wgtsum, a["acc_shift"]), reg)
    acc = saturate(acc + p["bias"], reg)
    if a["out_shifts"]:  # MULT truncates, the shift after it rounds: one rounding in all
        acc = saturate(np.multiply(acc, p["multiplier"], dtype=np.int64) >> a["mul_shift"], reg)
    else:
        acc = saturate(fixed_multiply(acc, p["multiplier"], a["mul_shift"]), reg)
    rounding = shift_right_even if a.get("round") == "RNE" else shift_right_round
    for shift in a["out_shifts"]:
        acc = rounding(acc, shift)
    acc = saturate(acc + a["zero_point"], reg)
    return sparsify.emitted_codes(acc, a)


def adder(node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
    """Exact Add neuron (isa/programs/add_neuron.s): each tick's dendrite sum split into the two input
    bits, one accumulator per input, then two multipliers, the offset, the shifts, the zero point."""
    reg, dsum = arith["register_bits"], arith["dendrite_sum_bits"]
    a, p = node.attrs, node.params
    batch = inputs[0].shape[0]
    acc = [np.zeros((batch,) + tuple(out_shape), dtype=np.int64) for _ in range(2)]
    sums = plane_sums(node, inputs, out_shape)
    for bit in range(CODE_BITS):
        wgtsum = saturate(saturate(sums[bit], dsum), reg)  # LDW with shift 0: the sum into a register
        high = wgtsum >> 1
        low = saturate(wgtsum - saturate(high << 1, reg), reg)
        acc = [saturate(saturate(acc[0] * 2, reg) + low, reg), saturate(saturate(acc[1] * 2, reg) + high, reg)]
    terms = [saturate(np.multiply(saturate(x - z, reg), m, dtype=np.int64) >> a["mul_shift"], reg)
             for x, z, m in zip(acc, a["input_zero_points"], a["multipliers"])]
    v = saturate(saturate(terms[0] + terms[1], reg) + p["offset"], reg)
    for shift, mode in a["out_shifts"]:
        v = SHIFTS[mode](v, shift)
    v = saturate(v + a["zero_point"], reg)
    return sparsify.emitted_codes(v, a)


def max_pool(node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
    """Bit-serial max (isa/programs/max_neuron.s): the largest code in each window, padding ignored."""
    conn = node.attrs["connections"][0]
    windows = connections.conv_windows(inputs[0], conn, fill=-1)  # [b, C, kh, kw, Ho, Wo]
    return windows.reshape(windows.shape[:2] + (-1,) + windows.shape[-2:]).max(axis=2)


def reshape(node: Node, inputs, out_shape, arith) -> np.ndarray:
    return inputs[0].reshape((inputs[0].shape[0],) + tuple(out_shape))


def transpose(node: Node, inputs, out_shape, arith) -> np.ndarray:
    return inputs[0].transpose((0,) + tuple(1 + a for a in node.attrs["perm"]))


def concat(node: Node, inputs, out_shape, arith) -> np.ndarray:
    return np.concatenate(inputs, axis=1 + node.attrs["axis"])


SHIFTS = {"TRUNC": shift_right_trunc, "RND": shift_right_round, "RNE": shift_right_even}  # SFTI R's modes

OPS = {"stem": stem, "adder": adder, "max": max_pool, "reshape": reshape, "transpose": transpose, "concat": concat}
