"""The rate-coded lookup neuron (isa/programs/rate_lut.s, docs/codings.md): the input code rebuilt
exactly from its spikes, then the activation's table; IR op `rate_lut` (passes/coding.py turns
each `lut` layer into one)."""

from __future__ import annotations

from ..ir import ops
from ..ir.codes import RATE_CODING
from .coding import CodedLookup


class RateLookup(CodedLookup):
    op, label, template_file, coding = ops.RATE_LUT, "rate lut", "rate_lut.s", RATE_CODING


MODEL = RateLookup()
