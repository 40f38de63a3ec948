"""The rate-coded Add neuron (isa/programs/rate_add.s, docs/codings.md): both codes rebuilt exactly
from their spikes, then the exact Add neuron's arithmetic; IR op `rate_add` (passes/coding.py
turns each `adder` layer into one)."""

from __future__ import annotations

from ..ir import ops
from ..ir.codes import RATE_CODING
from .coding import CodedAdd


class RateAdd(CodedAdd):
    op, label, template_file, coding = ops.RATE_ADD, "rate add", "rate_add.s", RATE_CODING
    two_words_file = "rate_add_two_words.s"  # 16-bit registers: the two-word Add (attr two_words)


MODEL = RateAdd()
