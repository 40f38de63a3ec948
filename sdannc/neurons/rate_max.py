"""The rate-coded max-pooling neuron (isa/programs/rate_max.s, docs/codings.md): the largest code of
each window, padding ignored; IR op `rate_max` (passes/coding.py turns each max layer into one)."""

from __future__ import annotations

from ..ir import ops
from ..ir.codes import RATE_CODING
from .coding import CodedMax


class RateMax(CodedMax):
    op, label, template_file, coding = ops.RATE_MAX, "rate max", "rate_max.s", RATE_CODING


MODEL = RateMax()
