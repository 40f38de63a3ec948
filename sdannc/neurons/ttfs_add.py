"""The time-to-first-spike Add neuron (isa/programs/ttfs_add.s, docs/codings.md): both codes rebuilt exactly
from their spikes, then the exact Add neuron's arithmetic; IR op `ttfs_add` (passes/coding.py
turns each `adder` layer into one)."""

from __future__ import annotations

from ..ir import ops
from ..ir.codes import TTFS_CODING
from .coding import CodedAdd


class TtfsAdd(CodedAdd):
    op, label, template_file, coding = ops.TTFS_ADD, "ttfs add", "ttfs_add.s", TTFS_CODING
    two_words_file = "ttfs_add_two_words.s"  # 16-bit registers: the two-word Add (attr two_words)


MODEL = TtfsAdd()
