"""`sdannc compare`: one quantized model compiled in each spike coding the compiler has
(config.CODINGS) for the same target, run on the same batch, and measured side by side: spikes,
SOPs, ticks, cycles and energy per layer and in total, accuracy, and agreement with onnxruntime.

The compile is the caller's (the Python API passes `compile_one(coding)`, so that this stage does
not drive the compiler): a coding the compiler refuses for this model (a SdanncError from the
compile) is recorded as refused, with the compiler's message, and the others are still measured.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..config import CODINGS, check_coding
from ..errors import SdanncError
from ..fileio import load_array
from ..reference import reference
from .measure import MEASURED, REFUSED, accuracy, measure, refused
from .page import write_comparison

__all__ = ["MEASURED", "REFUSED", "check_codings", "check_labels", "collect", "write_comparison"]


def check_codings(codings) -> list[str]:
    """The codings asked for (all of CODINGS when None), each known, each once, in CODINGS' order."""
    if codings is None:
        return list(CODINGS)
    if isinstance(codings, str):
        codings = [codings]
    wanted = {check_coding(c, "compare") for c in codings}
    if not wanted:
        raise SdanncError(f"compare: no coding given; the compiler has {', '.join(CODINGS)}")
    return [c for c in CODINGS if c in wanted]


def check_labels(labels, samples: int) -> tuple[np.ndarray | None, str | None]:
    """The labels (an array, a .npy path, or None) as one integer class per input sample, and their name."""
    if labels is None:
        return None, None
    name = "<array>" if isinstance(labels, np.ndarray) else str(labels)
    labels = labels if isinstance(labels, np.ndarray) else load_array(labels, "labels")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise SdanncError(f"labels {name}: expected one integer class per sample, got {labels.dtype} "
                          f"{tuple(labels.shape)}")
    if labels.shape[0] != samples:
        raise SdanncError(f"labels {name}: {labels.shape[0]} labels for {samples} input samples: give one per sample")
    return labels, name


def collect(model_path, model_name: str, target_name: str, compile_one: Callable, x: np.ndarray, input_name: str,
            *, codings=None, labels=None, lanes: int = 1, progress=None, status=None) -> dict:
    """The comparison's numbers on the batch x (checked against the model's input by the caller).
    compile_one(coding) -> (image, compile report, where) raises the compiler's SdanncError for a
    coding it refuses; progress(done, total) hears each simulation's ticks and status(text) each
    coding's steps."""
    status = status or (lambda text: None)
    codings = check_codings(codings)
    labels, labels_name = check_labels(labels, x.shape[0])
    onnxruntime = reference(model_path)
    ref = onnxruntime.outputs(x)
    results = []
    for i, coding in enumerate(codings, 1):
        status(f"{coding} ({i} of {len(codings)}): compiling")
        try:
            image, compiled, where = compile_one(coding)
        except SdanncError as exc:
            results.append(refused(coding, str(exc)))
            status(f"{coding}: refused: {results[-1]['message']}")
            continue
        status(f"{coding} ({i} of {len(codings)}): simulating {x.shape[0]} samples on {len(image.cores)} cores")
        results.append(measure(coding, image, compiled, where, x, input_name, ref, labels, lanes, progress))
        status(f"{coding}: measured")
    return {
        "model": model_name,
        "target": target_name,
        "input": input_name,
        "samples": int(x.shape[0]),
        "labels": labels_name,
        "codings": codings,
        "reference": {"mode": onnxruntime.mode, "note": onnxruntime.note,
                      "accuracy": accuracy(ref, labels)},
        "results": results,
    }
