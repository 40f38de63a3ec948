"""The ops of issue 12 (torch's default exporter and torchvision's architectures), each in a small
model of its own, quantized by onnxruntime, compiled for darwin3-wide: the golden model's outputs
equal onnxruntime's (exact mode) bit for bit, on both formats and both activation types."""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
from models import as_images, digits_data, ort_run, quantize
from patterns import PATTERNS

from sdannc.compiler import golden_outputs
from sdannc.errors import SdanncError
from sdannc.frontend import load_onnx
from sdannc.target import load_target

VARIANTS = [("qdq", False, "uint8"), ("qop", False, "uint8"), ("qdq", True, "int8"), ("qop", True, "int8")]


@functools.lru_cache(maxsize=None)
def pattern(name: str, fmt: str, per_channel: bool, act: str):
    x = as_images(digits_data()[0][:32])
    return quantize(PATTERNS[name](), x, fmt, per_channel, act)


def _x(n: int = 16) -> np.ndarray:
    return as_images(digits_data()[2][:n])


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: f"{v[0]}-{v[2]}")
@pytest.mark.parametrize("name", list(PATTERNS))
def test_pattern_bit_exact(name, variant):
    path = pattern(name, *variant)
    x = _x()
    ort = ort_run(path, x)
    chip = golden_outputs(path, x, load_target("darwin3-wide"))
    assert len(np.unique(ort)) > 3, "outputs should vary"
    if name == "ceil_pools" and variant[0] == "qdq":
        # QDQ AveragePool: onnxruntime pools in float32 and rounds its ties either way (docs/exactness.md
        # (a)): by one step at most, on 17.5 % of these outputs; ceil_maxpools and the QOperator form are exact
        step = np.diff(np.unique(ort)).min()
        assert np.abs(chip - ort).max() <= step * 1.01 and np.mean(chip != ort) <= 0.25
        return
    np.testing.assert_array_equal(chip, ort)


@pytest.mark.parametrize("fmt", ["qdq", "qop"])
def test_pad_with_a_value_other_than_code_zero_is_refused(fmt):
    """The chip's padding sends no spikes: code 0. Padding a uint8 Relu output with 0.3 (code > 0)
    is refused naming the node, the code, and what works."""
    from patterns import pad

    path = quantize(pad(value=0.3), as_images(digits_data()[0][:32]), fmt)
    with pytest.raises(SdanncError) as info:
        load_onnx(path)
    message = str(info.value)
    assert re.search(r"node 'pad' \(Pad\): pads with 0\.(3|29\d*), code [1-9]", message)
    assert "the chip pads with code 0 only (no spikes)" in message and "mode edge or reflect" in message
