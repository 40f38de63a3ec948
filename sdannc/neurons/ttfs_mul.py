"""The time-to-first-spike product neuron (isa/programs/ttfs_mul.s, docs/codings.md): a Mul of two activations
(a squeeze-and-excitation gate), both codes rebuilt exactly from their spikes, then the product
neuron's search of onnxruntime's thresholds; IR op `ttfs_mul` (passes/coding.py turns each
`product` layer into one)."""

from __future__ import annotations

from ..ir import ops
from ..ir.codes import TTFS_CODING
from .coding import CodedProduct


class TtfsProduct(CodedProduct):
    op, label, template_file, coding = ops.TTFS_PRODUCT, "ttfs mul", "ttfs_mul.s", TTFS_CODING


MODEL = TtfsProduct()
