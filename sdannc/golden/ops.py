"""The integer golden model: one numpy function per hardware-level IR op.

A neuron op's function is its model's `compute` (sdannc/neurons): the arithmetic the chip
performs, step by step where steps can round or saturate, so that the simulator running the
emitted programs must agree with it bit for bit. The ops that only move data are here. Inputs and
outputs are code arrays [batch, *shape] (int64).
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import Node
from ..neurons import NEURONS


def reshape(node: Node, inputs, out_shape, arith) -> np.ndarray:
    return inputs[0].reshape((inputs[0].shape[0],) + tuple(out_shape))


def transpose(node: Node, inputs, out_shape, arith) -> np.ndarray:
    return inputs[0].transpose((0,) + tuple(1 + a for a in node.attrs["perm"]))


def concat(node: Node, inputs, out_shape, arith) -> np.ndarray:
    return np.concatenate(inputs, axis=1 + node.attrs["axis"])


OPS = {**{op: model.compute for op, model in NEURONS.items()}, "reshape": reshape, "transpose": transpose,
       "concat": concat}
