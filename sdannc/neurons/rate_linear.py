"""The rate-coded linear neuron (isa/programs/rate_linear.s, docs/codings.md): Conv, Gemm, MatMul,
average pooling and relays of a network compiled with `--coding rate` (codes as code spikes in the window's first ticks); the
exact weighted sum of the codes, requantized as the STEM neuron requantizes it; IR op `rate_linear`
(passes/coding.py turns each requantized STEM layer into one)."""

from __future__ import annotations

from ..ir import ops
from ..ir.codes import RATE_CODING
from .coding import CodedLinear


class RateLinear(CodedLinear):
    op, label, template_file, coding = ops.RATE_LINEAR, "rate", "rate_linear.s", RATE_CODING
    exact_file = "rate_exact.s"  # 16-bit registers, integration exact


MODEL = RateLinear()
