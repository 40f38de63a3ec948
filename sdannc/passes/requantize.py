"""Fixed-point requantization: the real multiplier of each neuron as an integer and two shifts.

out = round(acc * m / 2^(mul_shift + out_shift)), rounded once: MUL rounds when there is no further
shift; otherwise MULT truncates and `SFTI R, out_shift, RND` rounds, which is exactly one rounding.
m is an integer of the register width with as many significant bits as the register allows;
mul_shift is one of the ISA's MUL precisions and out_shift is kept small enough that the value
between the two instructions cannot saturate before the output clamp would.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import SdanncError
from ..isa import load_isa
from ..ir.graph import Graph, Node
from ..target import Target
from .base import Options, Pass


def _sfti_max(isa) -> int:
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


def requantize_node(node: Node, target: Target, isa) -> None:
    real = node.params.pop("real_multiplier")
    reg = target.arith["register_bits"]
    exact = dyadic(real, node.attrs.get("acc_bits", reg), reg, _sfti_max(isa))
    if exact is not None:  # MULT by 0 is exact; the shift rounds half to even
        node.params["multiplier"], shift = exact
        node.attrs.update(mul_shift=0, out_shifts=[shift] if shift else [], round="RNE")
        return
    mul_shifts = isa.domain(next(f for f in isa.by_mnemonic["MUL"].fields if f.name == "shift"))
    m, mul_shift, out_shift = fixed_point(real, reg, list(mul_shifts), _sfti_max(isa), node.name)
    node.params["multiplier"] = m
    node.attrs.update(mul_shift=int(mul_shift), out_shifts=[out_shift] if out_shift else [], round="RND")


def requantize(graph: Graph, target: Target, options: Options) -> Graph:
    graph = graph.copy()
    isa = load_isa(target.isa_name)
    for node in graph.nodes:
        if node.op == "stem":
            requantize_node(node, target, isa)
    return graph


PASS = Pass("requantize", requantize, "real multipliers to fixed-point integers and shifts")
