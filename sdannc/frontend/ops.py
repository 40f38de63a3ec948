"""ONNX attributes and shapes shared by both formats: conv and pool geometry, data-moving ops.

Shapes here are per sample (the batch axis dropped); ONNX axes are converted to per-sample axes.
Every function raises SdanncError through `fail`, which names the model file and the node.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from onnx import helper


Fail = Callable[[str], "None"]


def attrs_of(node) -> dict:
    """The node's attributes as Python values (strings decoded)."""
    out = {}
    for attr in node.attribute:
        value = helper.get_attribute_value(attr)
        out[attr.name] = value.decode() if isinstance(value, bytes) else value
    return out


def _pads(auto_pad: str, pads, size, kernel, strides, dilations, fail: Fail) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) for a 2-D window, resolving auto_pad as ONNX defines it."""
    if auto_pad in ("", "NOTSET"):
        pads = list(pads or [0, 0, 0, 0])
        if len(pads) != 4:
            fail(f"pads {pads} are not 2-D")
        return tuple(int(p) for p in pads)
    if auto_pad == "VALID":
        return (0, 0, 0, 0)
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        fail(f"auto_pad {auto_pad!r} is not supported")
    begin, end = [], []
    for n, k, s, d in zip(size, kernel, strides, dilations):
        out = math.ceil(n / s)
        total = max(0, (out - 1) * s + (k - 1) * d + 1 - n)
        small, large = total // 2, total - total // 2
        begin.append(small if auto_pad == "SAME_UPPER" else large)
        end.append(large if auto_pad == "SAME_UPPER" else small)
    return (begin[0], begin[1], end[0], end[1])


def window(attrs: dict, in_shape: tuple, kernel, fail: Fail, pool: bool) -> dict:
    """kernel, strides, pads, dilations of a 2-D conv or pool over a per-sample [C, H, W] input."""
    if len(in_shape) != 3:
        fail(f"input shape {list(in_shape)} per sample is not [C, H, W]: only 2-D windows are supported")
    kernel = tuple(int(k) for k in (attrs.get("kernel_shape") or kernel))
    if len(kernel) != 2:
        fail(f"kernel {list(kernel)} is not 2-D")
    strides = tuple(int(s) for s in attrs.get("strides", [1, 1]))
    dilations = tuple(int(d) for d in attrs.get("dilations", [1, 1]))
    if len(strides) != 2 or len(dilations) != 2 or min(strides + dilations) < 1:
        fail(f"strides {list(strides)} or dilations {list(dilations)} are not valid 2-D values")
    pads = _pads(attrs.get("auto_pad", "NOTSET"), attrs.get("pads"), in_shape[1:], kernel, strides, dilations, fail)
    if min(pads) < 0:
        fail(f"negative pads {list(pads)} are not supported")
    return {"kernel": kernel, "strides": strides, "pads": pads, "dilations": dilations}


def window_out(in_shape: tuple, geo: dict, channels: int, fail: Fail) -> tuple[int, int, int]:
    """Output [C, H, W] of a window op (floor mode)."""
    out = []
    for i in range(2):
        span = (geo["kernel"][i] - 1) * geo["dilations"][i] + 1
        padded = in_shape[1 + i] + geo["pads"][i] + geo["pads"][i + 2]
        if padded < span:
            fail(f"window {list(geo['kernel'])} is larger than the padded input {list(in_shape)}")
        out.append((padded - span) // geo["strides"][i] + 1)
    return (channels, out[0], out[1])


def conv_geometry(attrs: dict, in_shape: tuple, weight_shape: tuple, fail: Fail) -> tuple[dict, tuple]:
    """IR conv attrs (kernel, strides, pads, dilations, group) and the per-sample output shape."""
    geo = window(attrs, in_shape, weight_shape[2:], fail, pool=False)
    group = int(attrs.get("group", 1))
    cout, cin_g = weight_shape[0], weight_shape[1]
    if group < 1 or in_shape[0] != cin_g * group or cout % group:
        fail(f"weight {list(weight_shape)} with group={group} does not fit input channels {in_shape[0]}")
    if tuple(weight_shape[2:]) != geo["kernel"]:
        fail(f"kernel_shape {list(geo['kernel'])} differs from the weight's {list(weight_shape[2:])}")
    geo["group"] = group
    return geo, window_out(in_shape, geo, cout, fail)


def pool_geometry(op: str, attrs: dict, in_shape: tuple, fail: Fail) -> tuple[dict, tuple]:
    """IR maxpool / avgpool attrs and the per-sample output shape; global pools cover H x W."""
    if op.startswith("Global") or op == "QLinearGlobalAveragePool":
        if len(in_shape) != 3:
            fail(f"input shape {list(in_shape)} per sample is not [C, H, W]")
        geo = {"kernel": tuple(in_shape[1:]), "strides": (1, 1), "pads": (0, 0, 0, 0), "dilations": (1, 1)}
    else:
        if "kernel_shape" not in attrs:
            fail("kernel_shape is missing")
        geo = window(attrs, in_shape, attrs["kernel_shape"], fail, pool=True)
    include_pad = int(attrs.get("count_include_pad", 0))
    if attrs.get("ceil_mode", 0):
        geo["pads"] = _ceil_pads(in_shape, geo, "MaxPool" in op or not include_pad, fail)
    out = window_out(in_shape, geo, in_shape[0], fail)
    if "MaxPool" not in op:
        if geo["dilations"] != (1, 1):
            fail("dilations are not supported in average pools")
        del geo["dilations"]
        geo["count_include_pad"] = include_pad
    return geo, out


def _ceil_pads(in_shape: tuple, geo: dict, may_grow: bool, fail: Fail) -> tuple[int, int, int, int]:
    """Pads that make the floor-mode output size the ceil-mode one (ONNX: ceil((n + pads - span) / s) + 1,
    less the last window when it would start in the end padding): the windows ceil mode adds are the
    floor windows over extra bottom/right padding, which pools leave out (a max over, and a divisor
    counting, only the input's elements)."""
    pads = list(geo["pads"])
    for i in range(2):
        n, s = in_shape[1 + i], geo["strides"][i]
        span = (geo["kernel"][i] - 1) * geo["dilations"][i] + 1
        padded = n + pads[i] + pads[i + 2]
        out = -(-(padded - span) // s) + 1
        if (out - 1) * s >= n + pads[i]:
            out -= 1
        extra = max(0, (out - 1) * s + span - padded)
        if extra and not may_grow:
            fail("ceil_mode=1 with count_include_pad=1 adds windows whose divisor onnxruntime counts without "
                 "their overhang; export the pool with count_include_pad=0 or ceil_mode=0")
        pads[i + 2] += extra
    return tuple(pads)


def reduce_mean_geometry(node, attrs: dict, in_shape: tuple, consts: dict, fail: Fail) -> tuple[dict, tuple, tuple]:
    """ReduceMean over the spatial axes of [C, H, W] as an average pool: (avgpool attrs, pooled shape
    [C, h, w], output shape: the pooled one, or without the reduced axes when keepdims=0). Over H and
    W it is a global pool; over one of them, a window the axis long."""
    if len(in_shape) != 3:
        fail(f"input shape {list(in_shape)} per sample is not [C, H, W]: only spatial means are supported")
    axes = attrs.get("axes")
    if len(node.input) > 1 and node.input[1]:
        if node.input[1] not in consts:
            fail("the axes are not a constant")
        axes = consts[node.input[1]].reshape(-1).tolist()
    if axes is None or len(axes) == 0:
        if attrs.get("noop_with_empty_axes", 0):
            fail("noop_with_empty_axes=1 with no axes is an identity; remove the node")
        axes = [0, 1, 2, 3]
    axes = {a + 4 if a < 0 else a for a in (int(a) for a in axes)}
    if not axes or not axes <= {2, 3}:
        fail(f"reduces axes {sorted(axes)}; sdannc computes a mean over the spatial axes (2, 3) only")
    kernel = (in_shape[1] if 2 in axes else 1, in_shape[2] if 3 in axes else 1)
    geo = {"kernel": kernel, "strides": (1, 1), "pads": (0, 0, 0, 0), "count_include_pad": 0}
    pooled = (in_shape[0], in_shape[1] // kernel[0], in_shape[2] // kernel[1])
    keep = int(attrs.get("keepdims", 1))
    shape = pooled if keep else tuple(d for i, d in enumerate(pooled) if i + 1 not in axes)
    return geo, pooled, shape


def sample_axis(axis: int, rank: int, fail: Fail) -> int:
    """An ONNX axis over [batch, ...] (rank counts the batch) as a per-sample axis."""
    axis = axis + rank if axis < 0 else axis
    if not 1 <= axis < rank:
        fail(f"axis {axis} is the batch axis or out of range for rank {rank}")
    return axis - 1


def concat_shape(shapes: list[tuple], axis: int, fail: Fail) -> tuple[tuple, int]:
    """(output shape, per-sample axis) of a Concat along ONNX axis."""
    rank = len(shapes[0]) + 1
    ax = sample_axis(axis, rank, fail)
    for s in shapes[1:]:
        if len(s) != len(shapes[0]) or any(a != b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != ax):
            fail(f"inputs of shapes {[list(x) for x in shapes]} cannot be concatenated on axis {axis}")
    out = list(shapes[0])
    out[ax] = sum(s[ax] for s in shapes)
    return tuple(out), ax


def transpose_perm(attrs: dict, in_shape: tuple, fail: Fail) -> tuple[tuple, tuple]:
    """(per-sample perm, output shape) of a Transpose; the batch axis must stay first."""
    rank = len(in_shape) + 1
    perm = list(attrs.get("perm", reversed(range(rank))))
    if sorted(perm) != list(range(rank)) or perm[0] != 0:
        fail(f"perm {perm} moves the batch axis or is not a permutation of rank {rank}")
    sample = tuple(p - 1 for p in perm[1:])
    return sample, tuple(in_shape[p] for p in sample)


def reshape_shape(in_shape: tuple, target: np.ndarray, allowzero: int, fail: Fail) -> tuple:
    """Per-sample output shape of Reshape to target (over [batch, ...]), with a batch of 1."""
    full = (1,) + tuple(in_shape)
    target = [int(t) for t in np.asarray(target).reshape(-1)]
    out = [full[i] if t == 0 and not allowzero and i < len(full) else t for i, t in enumerate(target)]
    if out.count(-1) > 1 or any(t < -1 for t in out):
        fail(f"shape {target} is not a valid Reshape target")
    known = int(np.prod([t for t in out if t != -1]))
    total = int(np.prod(full))
    if -1 in out:
        if known == 0 or total % known:
            fail(f"cannot reshape {list(in_shape)} per sample to {target}")
        out[out.index(-1)] = total // known
    if int(np.prod(out)) != total or not out or out[0] != 1:
        fail(f"reshape of {list(in_shape)} per sample to {target} changes the batch axis")
    return tuple(out[1:])


def flatten_shape(attrs: dict, in_shape: tuple, fail: Fail) -> tuple:
    rank = len(in_shape) + 1
    axis = int(attrs.get("axis", 1))
    axis = axis + rank if axis < 0 else axis
    if axis < 1 or int(np.prod(in_shape[:axis - 1], dtype=np.int64)) != 1:
        fail(f"Flatten axis {attrs.get('axis', 1)} mixes the batch axis with per-sample axes")
    return (int(np.prod(in_shape, dtype=np.int64)),)


def squeeze_shape(op: str, in_shape: tuple, axes, fail: Fail) -> tuple:
    """Per-sample shape after Squeeze / Unsqueeze with ONNX axes (over [batch, ...])."""
    if op == "Squeeze":
        rank = len(in_shape) + 1
        if axes is None:
            return tuple(d for d in in_shape if d != 1)
        axes = {sample_axis(int(a), rank, fail) for a in axes}
        if any(in_shape[a] != 1 for a in axes):
            fail(f"cannot squeeze axes {sorted(axes)} of {list(in_shape)}")
        return tuple(d for i, d in enumerate(in_shape) if i not in axes)
    rank = len(in_shape) + 1 + len(axes)
    axes = sorted(sample_axis(int(a), rank, fail) for a in axes)
    out = list(in_shape)
    for a in axes:
        out.insert(a, 1)
    return tuple(out)
