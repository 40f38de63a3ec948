"""The time-to-first-spike max-pooling neuron (isa/programs/ttfs_max.s, docs/codings.md): the largest code of
each window, padding ignored; IR op `ttfs_max` (passes/coding.py turns each max layer into one)."""

from __future__ import annotations

from ..ir import ops
from ..ir.codes import TTFS_CODING
from .coding import CodedMax


class TtfsMax(CodedMax):
    op, label, template_file, coding = ops.TTFS_MAX, "ttfs max", "ttfs_max.s", TTFS_CODING


MODEL = TtfsMax()
