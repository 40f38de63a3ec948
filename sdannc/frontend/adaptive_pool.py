"""torch's default exporter's adaptive average pooling to a size that is not 1 x 1 (VGG's
`AdaptiveAvgPool2d((7, 7))`): the batch axis moved away, windows gathered, averaged, moved back:

    Transpose(perm [2, 3, 0, 1]) -> GatherND(constant windows) -> ReduceMean(window axes) -> Transpose
    (or the last two the other way round)

(onnxruntime's quantizer puts QuantizeLinear/DequantizeLinear pairs between some of them). The chain
only moves data and then averages, so its meaning is found by running it on element ids: when each
output averages a regular window (the same kernel and stride everywhere, as adaptive pooling from n
to m gives when windows are equal), the chain is that AveragePool, read from the first Transpose's
input. Other windows are refused naming the node.
"""

from __future__ import annotations

import numpy as np

from .ops import attrs_of

PASS_THROUGH = ("QuantizeLinear", "DequantizeLinear")
# after the first Transpose: the mean before or after the batch axis is moved back
ORDERS = (["GatherND", "ReduceMean", "Transpose"], ["GatherND", "Transpose", "ReduceMean"])


def _next(m, name: str):
    """The one consumer of tensor `name`, or None."""
    users = m.consumers.get(name, [])
    return users[0] if len(users) == 1 else None


def chain(m, node) -> list | None:
    """The chain's nodes from a Transpose that moves the batch axis, or None if it is not the pattern."""
    perm = list(attrs_of(node).get("perm", []))
    if node.op_type != "Transpose" or not perm or perm[0] == 0:
        return None
    nodes, ops, current = [node], [], node
    while ops not in ORDERS:
        current = _next(m, current.output[0])
        if current is None:
            return None
        nodes.append(current)
        if current.op_type in PASS_THROUGH:
            continue
        ops.append(current.op_type)
        if not any(order[:len(ops)] == ops for order in ORDERS):
            return None
    return nodes


def window(m, nodes, in_shape: tuple, fail) -> tuple[dict | None, tuple | np.ndarray]:
    """(avgpool attrs, per-sample output shape) of the chain over a per-sample [C, H, W] input; or,
    where every window is one element (VGG's 7 x 7 pool of a 1 x 1 map), (None, the gather's index)."""
    if len(in_shape) != 3:
        fail(f"input shape {list(in_shape)} per sample is not [C, H, W]")
    c, h, w = in_shape
    ids = np.arange(c * h * w, dtype=np.int64).reshape(1, c, h, w)
    sets = ids[..., None]  # every element: the ids it averages (one, before the mean)
    for node in nodes:
        attrs = attrs_of(node)
        if node.op_type == "Transpose":
            perm = list(attrs["perm"])
            sets = sets.transpose(perm + [len(perm)])
        elif node.op_type == "GatherND":
            indices = m.consts.get(node.input[1])
            if indices is None or int(attrs.get("batch_dims", 0)) != 0:
                fail("GatherND with indices that are not a constant, or with batch_dims, is not supported")
            sets = sets[tuple(np.moveaxis(indices.astype(np.int64), -1, 0))]  # [*indices.shape[:-1], rest]
        elif node.op_type == "ReduceMean":
            axes = attrs.get("axes")
            if len(node.input) > 1 and node.input[1]:
                axes = m.consts.get(node.input[1])
            if axes is None:
                fail("ReduceMean without constant axes")
            rank = sets.ndim - 1
            axes = sorted({int(a) % rank for a in np.asarray(axes).reshape(-1)})
            keep = [a for a in range(rank) if a not in axes]
            moved = sets.transpose(keep + axes + [rank])
            shape = [sets.shape[a] for a in keep]
            sets = moved.reshape(shape + [-1])
            if int(attrs.get("keepdims", 1)):
                sets = sets.reshape([1 if a in axes else sets.shape[keep.index(a)] for a in range(rank)] + [-1])
    if sets.ndim != 5 or sets.shape[0] != 1:
        fail(f"the chain ends in shape {list(sets.shape[:-1])}, not [N, C, H, W]")
    _, co, ho, wo, size = sets.shape
    if size == 1:  # windows of one element (pooling a smaller map to a larger one): a copy of each
        return None, np.ascontiguousarray(sets[0, ..., 0])
    if co != c:
        fail("the windows mix channels")
    ys, xs = (sets // w) % h, sets % w
    kh = int(ys[0, 0, 0, 0].max() - ys[0, 0, 0, 0].min() + 1)
    kw = int(xs[0, 0, 0, 0].max() - xs[0, 0, 0, 0].min() + 1)
    sh = int(ys[0, 0, 1, 0].min() - ys[0, 0, 0, 0].min()) if ho > 1 else 1
    sw = int(xs[0, 0, 0, 1].min() - xs[0, 0, 0, 0].min()) if wo > 1 else 1
    geo = {"kernel": (kh, kw), "strides": (max(sh, 1), max(sw, 1)), "pads": (0, 0, 0, 0), "count_include_pad": 0}
    expect = np.empty_like(sets)
    ch, oy, ox = np.meshgrid(np.arange(c), np.arange(ho), np.arange(wo), indexing="ij")
    dy, dx = np.meshgrid(np.arange(kh), np.arange(kw), indexing="ij")
    if kh * kw != size:
        fail(f"the windows of {size} elements are not {kh} x {kw} rectangles (adaptive pooling to sizes that do not "
             "give equal windows)")
    expect[0] = ((ch[..., None] * h + oy[..., None] * geo["strides"][0] + dy.reshape(-1)) * w
                 + ox[..., None] * geo["strides"][1] + dx.reshape(-1))
    if not np.array_equal(np.sort(sets, axis=-1), np.sort(expect, axis=-1)) or \
            (ho - 1) * geo["strides"][0] + kh > h or (wo - 1) * geo["strides"][1] + kw > w:
        fail("the windows are not those of one AveragePool (adaptive pooling to sizes that do not give equal "
             "windows); export with dynamo=False, or pool to a size that divides the input")
    return geo, (c, ho, wo)
