"""The float32 average pool neuron (isa/programs/pool_float32.s): onnxruntime's QLinearAveragePool,
bit for bit, where its float32 rounding decides codes (docs/exactness.md, "(a)"); IR op
`float32_pool` (passes/lower_pools.py lowers such an AveragePool to it). The window's codes
arrive on dendrites of weights 1, 2, 4, 8 and are held apart, as the Add neuron holds its two;
then the float32 sum is followed in small integers: K (the codes' sum less the zero points) and
e (the sum's rounding error so far, in units of the input scale's ulp), from the tables of
passes/float32_pool.py in the core's lookup memory (param `pool_tables`, one set a layer), which
the compiler checked against the float32 function over every K and every e they allow."""

from __future__ import annotations

import numpy as np

from ..ir import connections, ops
from ..ir.graph import Node
from .common import CodeNeuron

RECORD_WORDS, FINAL_WORDS = 8, 2  # passes/float32_pool.py: xb, (c, f, p) twice, 0; base, step
SECOND_SIDE = 3  # the second (c, f, p) after the first
K_REGISTERS, E_REGISTERS = ("R0", "R4", "R5", "R6"), ("R7", "R8", "R9", "R10")  # each window slot's K and e


def shift_even(v: np.ndarray, k: int) -> np.ndarray:
    """SFTW's RNE: v / 2^k rounded half to even."""
    floor = v >> k
    rest = v - (floor << k)
    half = 1 << (k - 1)
    return floor + ((rest > half) | ((rest == half) & ((floor & 1) == 1)))


def step_terms(steps) -> list[int]:
    """How many of the window's terms each addition's sum holds."""
    terms, held = [], [1] * (max(max(step) for step in steps) + 1)
    for a, b in steps:
        held[a] += held[b]
        terms.append(held[a])
    return terms


class Float32Pool(CodeNeuron):
    op, label, template_file = ops.FLOAT32_POOL, "avgpool f32", "pool_float32.s"

    def windows(self, node: Node, x: np.ndarray) -> np.ndarray:
        """[batch, C, Ho, Wo, n]: each window's codes in row-major order (the dendrite weights' order)."""
        w = connections.conv_windows(x, node.attrs["connections"][0])  # [b, C, kh, kw, Ho, Wo]
        w = w.reshape(w.shape[:2] + (-1,) + w.shape[-2:])
        return np.moveaxis(w, 2, -1).astype(np.int64)

    def record_bases(self, node: Node) -> dict[str, int]:
        """Configuration registers records2..records4 (where a sum of m terms finds its record from its
        codes' sum: the m zero points folded in) and finals (the last sum's base code and step)."""
        a, zx = node.attrs, node.attrs["input_zero_point"]
        bases = {f"records{m}": a["record_zero"] - RECORD_WORDS * m * zx for m in (2, 3, 4)}
        count = len(a["steps"]) + 1
        return {**bases, "finals": a["final_zero"] - FINAL_WORDS * count * zx}

    def compute(self, node: Node, inputs: list[np.ndarray], out_shape, arith: dict) -> np.ndarray:
        """The program's arithmetic: each addition of `steps` from its record, then the code."""
        a, memory = node.attrs, node.params["pool_tables"]
        q = self.windows(node, inputs[0])
        bases, align = self.record_bases(node), self.template.params["align"]
        sums = [q[..., i] for i in range(q.shape[-1])]  # each slot's codes' sum (its K with the zero points)
        errors = [memory[v] for v in sums]  # e = r(q)
        for (i, j), m in zip(a["steps"], step_terms(a["steps"])):
            sums[i], x = sums[i] + sums[j], errors[i] + errors[j]
            record = bases[f"records{m}"] + RECORD_WORDS * sums[i]
            side = 1 + np.where(x >= memory[record], SECOND_SIDE, 0) if a["boundary"] else 1
            c, f, p = (memory[record + side + k] for k in range(3))
            errors[i] = shift_even((c + x) * f, align) * p - c
        final = bases["finals"] + FINAL_WORDS * sums[0]
        codes = memory[final] + (errors[0] >= memory[final + 1])
        return codes.reshape((q.shape[0],) + tuple(out_shape))

    def template_values(self, node: Node) -> dict:
        steps = [(K_REGISTERS[i], E_REGISTERS[i], K_REGISTERS[j], E_REGISTERS[j], f"records{m}")
                 for (i, j), m in zip(node.attrs["steps"], step_terms(node.attrs["steps"]))]
        return {"steps": steps, "boundary": bool(node.attrs["boundary"])}

    def init_core(self, core, node: Node, flat: np.ndarray, shape) -> None:
        super().init_core(core, node, flat, shape)
        core.set_config(self.registers(**self.record_bases(node)))
        core.set_lut(node.params["pool_tables"])

    def lookup_words(self, node: Node, flat: np.ndarray, shape) -> int:
        return int(node.params["pool_tables"].size)


MODEL = Float32Pool()
