"""Ops that only move or select codes (MaxPool selects one of a window's): one IR node each, on the
input's scale and zero point. The renames (reshape, transpose) and the index maps (index_maps.py)."""

from __future__ import annotations

from ..ir.ops import GATHER, MAXPOOL, RESHAPE, TRANSPOSE
import numpy as np

from .index_maps import INDEX_OPS, index_map, pad_map
from .ops import Fail, flatten_shape, pool_geometry, reduce_mean_geometry, reshape_shape, squeeze_shape, transpose_perm


MOVES = ("Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze")  # renames: what may precede the input's quantization
EXACT_OPS = ("MaxPool", *MOVES, *INDEX_OPS)


def exact_op(node, attrs: dict, in_shape: tuple, consts: dict, fail: Fail, k: int = 0) -> tuple[str, dict, tuple, dict]:
    """(IR op, attrs, output shape, params) of output k of an op that only moves or selects codes: it
    commutes with quantization, so the output keeps the input's scale and zero point."""
    op = node.op_type
    if op == "Pad":  # the pad value's code is checked where the quantization is known (Converter.emit)
        shape, index, value = pad_map(node, in_shape, consts, fail)
        return GATHER, {}, shape, {"index": index, "pad_value": np.asarray(value)}
    if op in INDEX_OPS:
        shape, index = index_map(node, in_shape, consts, fail, k)
        return GATHER, {}, shape, {"index": index}
    if op == "MaxPool":
        if len(node.output) > 1 and node.output[1]:
            fail("the Indices output is not supported")
        geo, shape = pool_geometry(op, attrs, in_shape, fail)
        return MAXPOOL, geo, shape, {}
    if op == "ReduceMean":  # over axes of size 1 only (qdq._mean_of_one): the pooled shape is the input's
        geo, pooled, shape = reduce_mean_geometry(node, attrs, in_shape, consts, fail)
        if geo["kernel"] != (1, 1):
            fail("a mean over more than one element computes new values; sdannc maps it only between "
                 "DequantizeLinear and QuantizeLinear (an average pool)")
        return RESHAPE, {}, shape, {}
    if op == "Transpose":
        perm, shape = transpose_perm(attrs, in_shape, fail)
        return TRANSPOSE, {"perm": perm}, shape, {}
    if op == "Flatten":
        return RESHAPE, {}, flatten_shape(attrs, in_shape, fail), {}
    if op == "Reshape":
        if len(node.input) < 2 or node.input[1] not in consts:
            fail("the target shape is not a constant")
        shape = reshape_shape(in_shape, consts[node.input[1]], int(attrs.get("allowzero", 0)), fail)
        return RESHAPE, {}, shape, {}
    axes = attrs.get("axes")
    if len(node.input) > 1 and node.input[1]:
        if node.input[1] not in consts:
            fail("the axes are not a constant")
        axes = consts[node.input[1]].reshape(-1).tolist()
    if op == "Unsqueeze" and axes is None:
        fail("no axes given")
    return RESHAPE, {}, squeeze_shape(op, in_shape, axes, fail), {}
