"""Slice, Split and nearest Resize as index maps: each output element is one input element.

`index_map` gives (per-sample output shape, int64 index array of that shape): output element k is
input element index[k] of the flattened per-sample input. The IR carries it as a `gather` node, a
data move like reshape and transpose: the codes are not changed, so it commutes with quantization.
Every function takes `fail` (names the model file and the node) for what it cannot map.
"""

from __future__ import annotations

import math

import numpy as np

from .ops import Fail, attrs_of, sample_axis

INDEX_OPS = ("Slice", "Split", "Resize", "Pad")
INT64_MAX = 2 ** 63 - 1


def _const(node, i: int, consts: dict, what: str, fail: Fail):
    name = node.input[i] if len(node.input) > i else ""
    if not name:
        return None
    if name not in consts:
        fail(f"the {what} {name!r} is not a constant")
    return np.asarray(consts[name])


def _slices(in_shape: tuple, starts, ends, axes, steps, fail: Fail) -> tuple:
    """numpy slices over the per-sample axes, as ONNX Slice clamps them; the batch axis stays whole."""
    rank = len(in_shape) + 1
    full = (1,) + tuple(in_shape)
    axes = list(range(len(starts))) if axes is None else [int(a) for a in axes]
    steps = [1] * len(starts) if steps is None else [int(s) for s in steps]
    if not (len(starts) == len(ends) == len(axes) == len(steps)):
        fail("starts, ends, axes and steps differ in length")
    cut = [slice(None)] * len(in_shape)
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = axis + rank if axis < 0 else axis
        if not 0 <= axis < rank or step == 0:
            fail(f"axis {axis} or step {step} is not valid for rank {rank}")
        start, end = int(start), int(end)
        region = range(full[axis])[slice(max(min(start, INT64_MAX), -INT64_MAX), end, step)]
        if axis == 0:
            if len(region) != 1:
                fail("slices the batch axis")
            continue
        cut[axis - 1] = slice(region.start, region.stop if region.stop >= 0 else None, region.step)
    return tuple(cut)


def _sliced(in_shape: tuple, cut: tuple, fail: Fail) -> tuple[tuple, np.ndarray]:
    index = np.arange(int(np.prod(in_shape)), dtype=np.int64).reshape(in_shape)[cut]
    if index.size == 0:
        fail(f"the result is empty (shape {list(index.shape)})")
    return tuple(index.shape), np.ascontiguousarray(index)


def slice_map(node, in_shape: tuple, consts: dict, fail: Fail) -> tuple[tuple, np.ndarray]:
    starts = _const(node, 1, consts, "starts", fail)
    ends = _const(node, 2, consts, "ends", fail)
    if starts is None or ends is None:
        fail("starts and ends must be given")
    axes = _const(node, 3, consts, "axes", fail)
    steps = _const(node, 4, consts, "steps", fail)
    cut = _slices(in_shape, starts.reshape(-1).tolist(), ends.reshape(-1).tolist(),
                  None if axes is None else axes.reshape(-1).tolist(),
                  None if steps is None else steps.reshape(-1).tolist(), fail)
    return _sliced(in_shape, cut, fail)


def split_map(node, in_shape: tuple, consts: dict, fail: Fail, k: int) -> tuple[tuple, np.ndarray]:
    """Output k of a Split: sizes from the `split` input (or attr), else equal parts (the last
    smaller when num_outputs does not divide the axis, as opset 18 says)."""
    attrs = attrs_of(node)
    rank = len(in_shape) + 1
    axis = sample_axis(int(attrs.get("axis", 0)), rank, fail)
    n, size = len(node.output), in_shape[axis]
    split = _const(node, 1, consts, "split", fail)
    if split is None and "split" in attrs:
        split = np.asarray(attrs["split"])
    if split is not None:
        sizes = [int(s) for s in split.reshape(-1)]
        if len(sizes) != n or sum(sizes) != size or min(sizes) < 0:
            fail(f"split {sizes} does not cut axis {axis + 1} of size {size} into {n} outputs")
    else:
        part = -(-size // n)
        sizes = [min(part, max(0, size - i * part)) for i in range(n)]
    start = sum(sizes[:k])
    cut = [slice(None)] * len(in_shape)
    cut[axis] = slice(start, start + sizes[k])
    return _sliced(in_shape, tuple(cut), fail)


_NEAREST = {
    "round_prefer_floor": lambda x: math.ceil(x - 0.5),
    "round_prefer_ceil": lambda x: math.floor(x + 0.5),
    "floor": math.floor,
    "ceil": math.ceil,
}


def _source(mode: str, x: int, scale: float, n_in: int, n_out: int) -> float:
    """ONNX Resize's coordinate transformation: the input coordinate of output coordinate x."""
    if mode == "half_pixel":
        return (x + 0.5) / scale - 0.5
    if mode == "pytorch_half_pixel":
        return (x + 0.5) / scale - 0.5 if n_out > 1 else 0.0
    if mode == "asymmetric":
        return x / scale
    if mode == "align_corners":
        return 0.0 if n_out == 1 else x * (n_in - 1) / (n_out - 1)
    if mode == "tf_half_pixel_for_nn":
        return (x + 0.5) / scale
    raise KeyError(mode)


def resize_map(node, in_shape: tuple, consts: dict, fail: Fail) -> tuple[tuple, np.ndarray]:
    """Nearest-neighbour Resize (inputs X, roi, scales, sizes; attrs mode, nearest_mode,
    coordinate_transformation_mode): each output element copies one input element."""
    attrs = attrs_of(node)
    if attrs.get("mode", "nearest") != "nearest":
        fail(f"mode {attrs.get('mode')!r} computes new values; sdannc maps only mode 'nearest'")
    if attrs.get("axes") is not None or attrs.get("keep_aspect_ratio_policy", "stretch") != "stretch":
        fail("axes and keep_aspect_ratio_policy are not supported")
    transform = attrs.get("coordinate_transformation_mode", "half_pixel")
    rounding = _NEAREST.get(attrs.get("nearest_mode", "round_prefer_floor"))
    if rounding is None or transform == "tf_crop_and_resize":
        fail(f"nearest_mode {attrs.get('nearest_mode')!r} / coordinate_transformation_mode {transform!r} "
             "is not supported")
    full = (1,) + tuple(in_shape)
    scales = _const(node, 2, consts, "scales", fail)
    sizes = _const(node, 3, consts, "sizes", fail)
    if sizes is not None and sizes.size:
        out = [int(s) for s in sizes.reshape(-1)]
        if len(out) != len(full):
            fail(f"sizes {out} do not match rank {len(full)}")
        factors = [o / i for o, i in zip(out, full)]
    elif scales is not None and scales.size:
        factors = [float(np.float32(s)) for s in scales.reshape(-1)]
        if len(factors) != len(full) or min(factors) <= 0:
            fail(f"scales {factors} do not match rank {len(full)}")
        out = [int(math.floor(i * f)) for i, f in zip(full, factors)]
    else:
        fail("neither scales nor sizes is given")
    if out[0] != 1:
        fail("resizes the batch axis")
    axes_index = []
    for n_in, n_out, f in zip(full[1:], out[1:], factors[1:]):
        src = [min(max(rounding(_source(transform, x, f, n_in, n_out)), 0), n_in - 1) for x in range(n_out)]
        axes_index.append(np.asarray(src, np.int64))
    base = np.arange(int(np.prod(in_shape)), dtype=np.int64).reshape(in_shape)
    index = base[np.ix_(*axes_index)]
    return tuple(index.shape), np.ascontiguousarray(index)


def pad_map(node, in_shape: tuple, consts: dict, fail: Fail) -> tuple[tuple, np.ndarray, float]:
    """Pad (inputs data, pads, constant_value, axes; attr mode): edge and reflect copy input elements;
    constant padding is index -1, code 0 on the chip (no spikes), so its value must quantize to
    code 0 (the zero point of a uint8 ReLU output, say): the caller checks that (`value`)."""
    attrs = attrs_of(node)
    mode = attrs.get("mode", "constant")
    if mode not in ("constant", "edge", "reflect"):
        fail(f"mode {mode!r} is not supported")
    pads = _const(node, 1, consts, "pads", fail)
    if pads is None:
        fail("the pads are not given")
    value = _const(node, 2, consts, "constant_value", fail)
    axes = _const(node, 3, consts, "axes", fail)
    rank = len(in_shape) + 1
    axes = list(range(rank)) if axes is None else [int(a) % rank for a in axes.reshape(-1)]
    pads = [int(p) for p in pads.reshape(-1)]
    if len(pads) != 2 * len(axes):
        fail(f"pads {pads} do not match {len(axes)} axes")
    begin, end = [0] * rank, [0] * rank
    for i, axis in enumerate(axes):
        begin[axis], end[axis] = pads[i], pads[i + len(axes)]
    if begin[0] or end[0]:
        fail("pads the batch axis")
    index = np.arange(int(np.prod(in_shape)), dtype=np.int64).reshape(in_shape)
    crop = tuple(slice(max(0, -b), n - max(0, -e)) for b, e, n in zip(begin[1:], end[1:], in_shape))
    index = index[crop]
    widths = [(max(0, b), max(0, e)) for b, e in zip(begin[1:], end[1:])]
    if mode == "constant":
        index = np.pad(index, widths, mode="constant", constant_values=-1)
    else:
        if mode == "reflect" and any(w >= n for (b, e), n in zip(widths, index.shape) for w in (b, e)):
            fail("reflect padding as wide as the axis")
        index = np.pad(index, widths, mode=mode)
    real = float(np.asarray(value).reshape(-1)[0]) if value is not None and value.size else 0.0
    return tuple(index.shape), np.ascontiguousarray(index), real


def index_map(node, in_shape: tuple, consts: dict, fail: Fail, k: int = 0) -> tuple[tuple, np.ndarray]:
    op = node.op_type
    if op == "Slice":
        return slice_map(node, in_shape, consts, fail)
    if op == "Split":
        return split_map(node, in_shape, consts, fail, k)
    return resize_map(node, in_shape, consts, fail)
