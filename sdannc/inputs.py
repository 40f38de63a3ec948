"""Does a batch fit an input: the one shape and dtype check of the golden model, the simulator and
the measured sums of --calib, each naming whose input it is."""

from __future__ import annotations

import numpy as np

from .errors import SdanncError
from .ir.codec import input_dtype_ok


def check_batch(x: np.ndarray, shape, what: str, against: str, encode: dict | None = None,
                at_least: int = 0) -> None:
    """`x` must be [batch, *shape] with at least `at_least` samples and, given the input's `encode`
    spec, of a dtype it takes. Refused in one line: `what` (e.g. "input x.npy") and `against` (e.g.
    "the model's input")."""
    shape = tuple(shape)
    if x.ndim < 1 or x.shape[0] < at_least or tuple(x.shape[1:]) != shape:
        raise SdanncError(f"{what}: shape {tuple(x.shape)} does not match {against} "
                          f"(batch, {', '.join(map(str, shape))})" + (f", batch at least {at_least}" if at_least else ""))
    if encode is not None and not input_dtype_ok(encode, x.dtype):
        raise SdanncError(f"{what}: dtype {x.dtype} does not suit {against} ({encode['kind']})")
