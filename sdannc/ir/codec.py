"""Values to spike codes at the input, spike codes to values at the output: what a graph's
`input_encode` and `output_decode` mean (the golden model, the simulator and the image all read
them, so they are IR vocabulary). What a code is: codes.py.

Input encodings:  {"kind": "uint8"}  raw codes;  {"kind": "int8"}  raw int8 values;
                  {"kind": "quantize", "scale": s, "zero_point": z, "dtype": "uint8"|"int8"}
                  float input quantized as ONNX QuantizeLinear does (round half to even, saturate).
Output decodings: {"kind": "uint8"} codes as uint8;  {"kind": "int8"} codes - 128 as int8;
                  {"kind": "dequantize", "scale": s, "zero_point": z, "dtype": "uint8"|"int8"}
                  float32 (value - zero_point) * scale, as ONNX DequantizeLinear does.
Spike codings (codes.CODINGS): how a code travels as spikes within its window, the controller's
input encoding and output decoding tick by tick (`spikes_at`, `tick_values`).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import SdanncError
from .codes import DTYPES, OFFSET, RANGE, RATE_CODING, STEM_CODING, TTFS_CODING, WINDOW_TICKS


def _number(value, kind) -> bool:
    """An int (kind int) or an int or float (kind float); a JSON true is no number."""
    return not isinstance(value, bool) and isinstance(value, (int, float) if kind is float else int)


def _check_spec(spec: dict, where: str) -> None:
    kind = spec.get("kind")
    if kind in DTYPES:
        return
    if kind in ("quantize", "dequantize"):
        dtype, scale, zero_point = spec.get("dtype"), spec.get("scale"), spec.get("zero_point")
        ok = (dtype in DTYPES and _number(scale, float) and 0 < scale < math.inf
              and _number(zero_point, int) and RANGE[dtype][0] <= zero_point <= RANGE[dtype][1])
        if not ok:
            raise SdanncError(f"{where}: '{kind}' needs dtype uint8|int8, a positive scale and a zero point "
                              f"in the dtype's range; got {spec!r}")
        return
    raise SdanncError(f"{where}: unknown kind {kind!r}")


def check_input_spec(spec: dict, where: str = "input encoding") -> None:
    _check_spec(spec, where)
    if spec["kind"] == "dequantize":
        raise SdanncError(f"{where}: 'dequantize' is an output decoding")


def check_output_spec(spec: dict, where: str = "output decoding") -> None:
    _check_spec(spec, where)
    if spec["kind"] == "quantize":
        raise SdanncError(f"{where}: 'quantize' is an input encoding")


def input_dtype_ok(spec: dict, dtype: np.dtype) -> bool:
    kind = spec["kind"]
    if kind == "quantize":
        return np.issubdtype(dtype, np.floating)
    return np.dtype(dtype) == np.dtype(kind)


def encode_input(x: np.ndarray, spec: dict) -> np.ndarray:
    """Codes (int64, 0..255) for an input batch; the caller has checked shape and dtype."""
    kind = spec["kind"]
    if kind == "uint8":
        return x.astype(np.int64)
    if kind == "int8":
        return x.astype(np.int64) + OFFSET["int8"]
    lo, hi = RANGE[spec["dtype"]]
    # QuantizeLinear: saturate(round_half_to_even(x / scale) + zero_point); the division is float32, so
    # a large finite x can make it inf, which saturates as in onnxruntime (hence clip before the cast).
    with np.errstate(over="ignore"):
        steps = np.rint(x.astype(np.float32) / np.float32(spec["scale"]))
    q = np.clip(steps.astype(np.float64) + int(spec["zero_point"]), lo, hi).astype(np.int64)
    return q + OFFSET[spec["dtype"]]


def decode_output(codes: np.ndarray, spec: dict) -> np.ndarray:
    kind = spec["kind"]
    if kind == "uint8":
        return codes.astype(np.uint8)
    if kind == "int8":
        return (codes - OFFSET["int8"]).astype(np.int8)
    values = codes - OFFSET[spec["dtype"]] - int(spec["zero_point"])
    return (values.astype(np.float32) * np.float32(spec["scale"])).astype(np.float32)


def spikes_at(codes: np.ndarray, tick: int, coding: str = STEM_CODING) -> np.ndarray:
    """Which codes send a spike at `tick` (0-based) of their window: the controller's encoding, and
    what every neuron of the coding emits. stem: bit 7 - tick of the code (MSB first); ttfs: the one
    spike at tick WINDOW - code (none for code 0: ticks 1..255 carry codes 255..1); rate: ticks
    0..code-1, so a code of a sends a spikes, all at the window's start."""
    codes = np.asarray(codes)
    if coding == TTFS_CODING:
        return (codes > 0) & (codes == WINDOW_TICKS[TTFS_CODING] - tick)
    if coding == RATE_CODING:
        return codes > tick
    return ((codes >> (WINDOW_TICKS[STEM_CODING] - 1 - tick)) & 1) == 1


def tick_values(coding: str = STEM_CODING) -> np.ndarray:
    """[window] what a spike at each tick of a window adds to the code it carries: the decoding of a
    neuron's spikes, code = sum of its spikes' values (stem 2^(7 - tick), ttfs WINDOW - tick and at most
    one spike, rate 1)."""
    window = WINDOW_TICKS[coding]
    ticks = np.arange(window, dtype=np.int64)
    if coding == TTFS_CODING:
        return window - ticks
    if coding == RATE_CODING:
        return np.ones(window, dtype=np.int64)
    return np.int64(1) << (window - 1 - ticks)


def spike_counts(codes: np.ndarray, coding: str = STEM_CODING) -> np.ndarray:
    """How many spikes each code sends in its window: its set bits (stem), 1 unless 0 (ttfs), the
    code itself (rate)."""
    codes = np.asarray(codes, dtype=np.int64)
    if coding == TTFS_CODING:
        return (codes > 0).astype(np.int64)
    if coding == RATE_CODING:
        return codes
    return np.unpackbits(codes.astype(np.uint8)[..., None], axis=-1).sum(axis=-1, dtype=np.int64)


def spikes_by_tick(codes: np.ndarray, coding: str = STEM_CODING) -> np.ndarray:
    """[window] how many of the codes send a spike at each tick of their window."""
    histogram = np.bincount(np.asarray(codes, dtype=np.int64).reshape(-1), minlength=256)[:256]
    window = WINDOW_TICKS[coding]
    if coding == TTFS_CODING:  # code a at tick 256 - a; code 0 sends nothing
        return np.concatenate([[0], histogram[:0:-1]]).astype(np.int64)
    if coding == RATE_CODING:  # tick t: every code above t
        return np.cumsum(histogram[::-1])[::-1][1:window + 1].astype(np.int64)
    bits = (np.arange(256)[None, :] >> (window - 1 - np.arange(window))[:, None]) & 1  # [tick, code]
    return (bits @ histogram).astype(np.int64)
