"""The IR: tensors of 8-bit codes, and layer nodes that compute on them.

Every activation on the chip is an unsigned 8-bit *code* (0..255) sent as 8 spikes (codes.py). A
tensor's real value is `(code - zero_point) * scale`; an int8 tensor of ONNX is stored with code =
value + 128, so its zero point here is the ONNX zero point + 128 (`code_offset`). Shapes are per
sample: the batch axis of ONNX is dropped.

Nodes come at two levels. The frontend emits *quantized* nodes (float scales, as in ONNX); the
passes turn them into *hardware* nodes (integer multipliers and shifts, per-neuron biases) that the
golden interpreter and the backend both read. Ops and what they carry (params are numpy arrays,
attrs are small values; ops.py names the ops and declares what each must carry after which pass,
which verify.py checks):

Quantized level (frontend output):
  linear     inputs [x]      attrs kind ('dense'|'conv'), clamp (lo, hi) codes;
                              conv: kernel (kh, kw), strides, pads (top, left, bottom, right), dilations, group
                              params weight int [out, in] or [Cout, Cin/group, kh, kw] (weight zero point removed),
                              weight_scale float [out], bias int [out] (units of x.scale * weight_scale)
  maxpool    inputs [x]      attrs kernel, strides, pads, dilations; output has x's scale and zero point
  avgpool    inputs [x]      attrs kernel, strides, pads, count_include_pad, clamp; float32_pool (in offset,
                              out offset, 'fused'|'unfused') where onnxruntime computes it in float32
  add        inputs [a, b]   attrs clamp
  add_const  inputs [x]      attrs clamp; params constant float [C] (real values, one per channel): x + constant,
                              where x is a linear layer's quantized output (onnxruntime's MatMul bias: rounded twice)
  concat     inputs [...]    attrs axis (per-sample axis)
  reshape    inputs [x]      (output tensor's shape is the new shape; same scale and zero point)
  transpose  inputs [x]      attrs perm (per-sample axes)
  gather     inputs [x]      params index int64 [output shape]: output element k is input element index[k]
                              (flat, per sample), or code 0 where index[k] is -1: Slice, Split, nearest
                              Resize, Pad whose value is code 0 (frontend/index_maps.py)
  clamp      inputs [x]      attrs clamp (lo, hi) codes; same scale and zero point (explicit Relu / Clip)
  unary      inputs [x]      attrs clamp; params table int [256]: the output code of each input code (a
                              unary activation, or a chain of elementwise ops on x: frontend/activations.py)
  mul        inputs [a, b]   attrs clamp, zero_point_onnx: onnxruntime's QLinearMul of two activations
                              (same shape, or b a per-channel gate [C, 1, 1])

Hardware level (after the passes): the neuron ops (`stem`, `adder`, `max`, `lut`: sdannc/neurons,
one module each) and the data moves. A `stem` or `adder` may carry params table [256] too: an
activation fused into it, applied to its code last.
  lut        inputs [x]      the lookup neuron (isa/programs/lut_neuron.s): attrs connections (elementwise);
                              params weight0 = 1, table int [256] (the core's lookup memory)
  product    inputs [a, b]   the product neuron (isa/programs/mul_neuron.s): attrs connections (a elementwise,
                              b elementwise or a depthwise window broadcasting a [C, 1, 1] gate),
                              input_zero_points; params weight0 = 1, weight1 = 2, thresholds int [256]
  adder      inputs [a] or [a, b]  the exact Add neuron (isa/programs/add_neuron.s): attrs connections
                              (elementwise), zero_point, clamp, input_zero_points (za, zb), multipliers (ma, mb),
                              mul_shift, out_shifts [(amount, TRUNC|RND|RNE)], error_bound;
                              params weight0 = 1, weight1 = 2, offset int per neuron
  float32_pool inputs [x]    onnxruntime's float32 AveragePool (isa/programs/pool_float32.s): attrs
                              connections (a window, input k on weight 2^k), input_zero_point, zero_point,
                              clamp, record_zero, final_zero, boundary, steps [(a, b)], integration, error_bound;
                              params pool_tables int (the core's lookup memory: passes/float32_pool.py)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import numpy as np

@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    scale: float
    zero_point: int  # in the code domain

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


@dataclass
class Node:
    name: str  # the ONNX node it came from: what errors and reports call the layer
    op: str
    inputs: list[str]
    output: str
    attrs: dict[str, Any] = field(default_factory=dict)
    params: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Graph:
    name: str
    input: str
    output: str
    tensors: dict[str, Tensor]
    nodes: list[Node]  # in topological order
    input_encode: dict  # how the user's input becomes codes (ir/codec.py)
    output_decode: dict  # how output codes become the graph's output
    notes: list[str] = field(default_factory=list)  # what passes decided, for the report
    coding: str = "stem"  # how codes travel as spikes (codes.CODINGS); the coding pass sets it

    def copy(self) -> "Graph":
        """A copy for a pass to change: new tensors, nodes and attrs, but the params arrays are shared
        (and made read-only), since passes replace a node's arrays and never write into them; a deep
        copy held every weight twice in memory at each pass (1.1 GB more for VGG-16)."""
        shared = {}
        for node in self.nodes:
            for array in node.params.values():
                if isinstance(array, np.ndarray):
                    array.flags.writeable = False
                    shared[id(array)] = array
        return copy.deepcopy(self, shared)

    def producer(self, tensor: str) -> Node | None:
        return next((n for n in self.nodes if n.output == tensor), None)

    def consumers(self, tensor: str) -> list[Node]:
        return [n for n in self.nodes if tensor in n.inputs]

    def dump(self) -> str:
        """A readable listing: one line per tensor and per node, arrays summarized."""
        lines = [f"graph {self.name}: input {self.input} -> output {self.output}"]
        for t in self.tensors.values():
            lines.append(f"  tensor {t.name} {list(t.shape)} scale={t.scale:.6g} zero_point={t.zero_point}")
        for n in self.nodes:
            attrs = ", ".join(f"{k}={v}" for k, v in n.attrs.items())
            params = ", ".join(f"{k}{list(v.shape)}[{v.min() if v.size else ''}..{v.max() if v.size else ''}]"
                               for k, v in n.params.items())
            lines.append(f"  {n.output} = {n.op}({', '.join(n.inputs)})  # {n.name}")
            if attrs:
                lines.append(f"      attrs: {attrs}")
            if params:
                lines.append(f"      params: {params}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)
