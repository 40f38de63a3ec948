"""One row per layer: how far the chip's codes are from onnxruntime's, and from the golden model's.

All figures are in codes (quantization steps of the layer's output), over every element of every
sample. rms / std is the root-mean-square error over the standard deviation of onnxruntime's codes:
when that deviation is 0 (a constant tensor) the ratio is 0 if the codes agree and undefined (None,
printed "-") if they do not; the differ count and the steps still say how far they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import SdanncError


@dataclass(frozen=True)
class Bound:
    max_steps: int = 0  # a layer may differ from onnxruntime by this many steps
    max_frac: float = 0.0  # in at most this fraction of its elements

    def __post_init__(self) -> None:
        if self.max_steps < 0:
            raise SdanncError(f"--max-steps {self.max_steps}: must not be negative (quantization steps)")
        if not 0.0 <= self.max_frac <= 1.0:
            raise SdanncError(f"--max-frac {self.max_frac}: must be a fraction from 0 to 1")


@dataclass
class Row:
    layer: str  # the IR node's name: the ONNX node's, as the compile summary calls it
    op: str
    tensor: str | None  # the ONNX tensor it stands for; None for a layer the compiler added
    shape: list[int]  # per sample
    elements: int  # compared: per-sample size x samples
    differ: int | None  # elements whose chip code differs from onnxruntime's
    max_steps: int | None
    rms_over_std: float | None
    golden_differ: int  # elements where the simulator and the golden model disagree (a compiler bug if any)
    beyond: bool  # beyond the bound
    sparsify: dict  # the layer's RoT / DRLO setting
    acc_shift: int | None  # its scaled-integration shift

    @property
    def differ_fraction(self) -> float | None:
        return None if self.differ is None else self.differ / self.elements if self.elements else 0.0

    def as_json(self) -> dict:
        return dict(asdict(self), differ_fraction=self.differ_fraction)


def rms_over_std(chip: np.ndarray, ref: np.ndarray) -> float | None:
    rms = float(np.sqrt(np.mean(np.square(chip - ref, dtype=np.float64)))) if ref.size else 0.0
    std = float(np.std(ref.astype(np.float64))) if ref.size else 0.0
    if std > 0:
        return rms / std
    return 0.0 if rms == 0 else None


def compare(chip: np.ndarray, golden: np.ndarray, ref: np.ndarray | None) -> dict:
    """The figures of one layer: chip and golden codes [batch, elements], onnxruntime's or None."""
    figures = {"golden_differ": int(np.count_nonzero(chip != golden)), "differ": None, "max_steps": None,
               "rms_over_std": None}
    if ref is not None:
        steps = np.abs(chip - ref)
        figures.update(differ=int(np.count_nonzero(steps)), max_steps=int(steps.max(initial=0)),
                       rms_over_std=rms_over_std(chip, ref))
    return figures


def is_beyond(figures: dict, elements: int, bound: Bound) -> bool:
    if figures["differ"] is None:
        return False
    fraction = figures["differ"] / elements if elements else 0.0
    return fraction > bound.max_frac or figures["max_steps"] > bound.max_steps
