"""The rate-coded product neuron (isa/programs/rate_mul.s, docs/codings.md): a Mul of two activations
(a squeeze-and-excitation gate), both codes rebuilt exactly from their spikes, then the product
neuron's search of onnxruntime's thresholds; IR op `rate_mul` (passes/coding.py turns each
`product` layer into one)."""

from __future__ import annotations

from ..ir import ops
from ..ir.codes import RATE_CODING
from .coding import CodedProduct


class RateProduct(CodedProduct):
    op, label, template_file, coding = ops.RATE_PRODUCT, "rate mul", "rate_mul.s", RATE_CODING


MODEL = RateProduct()
