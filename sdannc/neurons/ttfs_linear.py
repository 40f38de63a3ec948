"""The time-to-first-spike linear neuron (isa/programs/ttfs_linear.s, docs/codings.md): Conv, Gemm, MatMul,
average pooling and relays of a network compiled with `--coding ttfs` (codes as one spike at tick 256 - code (none for 0)); the
exact weighted sum of the codes, requantized as the STEM neuron requantizes it; IR op `ttfs_linear`
(passes/coding.py turns each requantized STEM layer into one)."""

from __future__ import annotations

from ..ir import ops
from ..ir.codes import TTFS_CODING
from .coding import CodedLinear


class TtfsLinear(CodedLinear):
    op, label, template_file, coding = ops.TTFS_LINEAR, "ttfs", "ttfs_linear.s", TTFS_CODING
    exact_file = "ttfs_exact.s"  # 16-bit registers, integration exact


MODEL = TtfsLinear()
