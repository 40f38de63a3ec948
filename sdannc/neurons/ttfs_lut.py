"""The time-to-first-spike lookup neuron (isa/programs/ttfs_lut.s, docs/codings.md): the input code rebuilt
exactly from its spikes, then the activation's table; IR op `ttfs_lut` (passes/coding.py turns
each `lut` layer into one)."""

from __future__ import annotations

from ..ir import ops
from ..ir.codes import TTFS_CODING
from .coding import CodedLookup


class TtfsLookup(CodedLookup):
    op, label, template_file, coding = ops.TTFS_LUT, "ttfs lut", "ttfs_lut.s", TTFS_CODING


MODEL = TtfsLookup()
