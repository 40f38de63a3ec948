"""What a code is: the one table of the code domain, used by every stage.

Every activation on the chip is an unsigned code of CODE_BITS spikes (0..CODE_MAX). An ONNX
quantized value of dtype uint8 is its own code; an int8 value v travels as v + 128, so that codes
are never negative (the compiler folds that offset into zero points).
"""

from __future__ import annotations

CODE_BITS = 8
CODE_MAX = (1 << CODE_BITS) - 1

DTYPES = ("uint8", "int8")  # the ONNX quantized types a code can hold
OFFSET = {"uint8": 0, "int8": 1 << (CODE_BITS - 1)}  # added to an ONNX value to make its code
RANGE = {dtype: (-OFFSET[dtype], CODE_MAX - OFFSET[dtype]) for dtype in DTYPES}  # the ONNX values of a dtype


def code_offset(dtype: str) -> int:
    """What is added to an ONNX quantized value to make its code: 0 for uint8, 128 for int8."""
    return OFFSET[dtype]

# The spike codings a network can be compiled in (`sdannc compile --coding`, docs/codings.md), and
# how many ticks one code takes in each: the window of a layer, and the time between samples.
#   stem: the code's 8 bits, one a tick, MSB first (SDANN);
#   ttfs: one spike at tick WINDOW - code of the window (time to first spike, Quartz), none for 0;
#   rate: `code` spikes, in the window's first `code` ticks.
STEM_CODING, TTFS_CODING, RATE_CODING = "stem", "ttfs", "rate"
CODINGS = (STEM_CODING, TTFS_CODING, RATE_CODING)
WINDOW_TICKS = {STEM_CODING: CODE_BITS, TTFS_CODING: 1 << CODE_BITS, RATE_CODING: CODE_MAX}
