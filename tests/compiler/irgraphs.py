"""Quantized-level IR graphs built directly (no ONNX), with random parameters, for backend tests."""

from __future__ import annotations

import numpy as np

from sdannc.ir.connections import conv_output_hw
from sdannc.ir import Graph, Node, Tensor


class GraphMaker:
    def __init__(self, name: str, input_shape, seed: int = 0, scale: float = 0.02, zero_point: int = 0):
        self.rng = np.random.default_rng(seed)
        self.graph = Graph(name, "x", "", {"x": Tensor("x", tuple(input_shape), scale, zero_point)}, [],
                           {"kind": "uint8"}, {"kind": "uint8"})
        self.count = 0

    def _tensor(self, shape, scale=None, zero_point=None) -> str:
        self.count += 1
        name = f"t{self.count}"
        scale = scale if scale is not None else float(self.rng.uniform(0.01, 0.05))
        zp = zero_point if zero_point is not None else int(self.rng.integers(0, 30))
        self.graph.tensors[name] = Tensor(name, tuple(shape), scale, zp)
        self.graph.output = name
        return name

    def _add(self, op, inputs, out, attrs=None, params=None):
        self.graph.nodes.append(Node(f"{op}{self.count}", op, list(inputs), out, attrs or {}, params or {}))
        return out

    def dense(self, x: str, n: int, relu: bool = True) -> str:
        size = self.graph.tensors[x].size
        w = self.rng.integers(-127, 128, size=(n, size))
        out = self._tensor((n,))
        zp = self.graph.tensors[out].zero_point
        return self._add("linear", [x], out, {"kind": "dense", "clamp": (zp if relu else 0, 255)},
                         {"weight": w, "weight_scale": self.rng.uniform(0.002, 0.01, n),
                          "bias": self.rng.integers(-3000, 3000, n)})

    def conv(self, x: str, cout: int, k=3, stride=1, pad=1, dilation=1, group=1, relu=True) -> str:
        c, h, w = self.graph.tensors[x].shape
        attrs = {"kind": "conv", "kernel": (k, k), "strides": (stride, stride), "pads": (pad,) * 4,
                 "dilations": (dilation, dilation), "group": group}
        ho, wo = conv_output_hw((h, w), attrs)
        out = self._tensor((cout, ho, wo))
        zp = self.graph.tensors[out].zero_point
        attrs["clamp"] = (zp if relu else 0, 255)
        weight = self.rng.integers(-127, 128, size=(cout, c // group, k, k))
        return self._add("linear", [x], out, attrs, {"weight": weight, "weight_scale": self.rng.uniform(0.002, 0.01, cout),
                                                    "bias": self.rng.integers(-3000, 3000, cout)})

    def maxpool(self, x: str, k=2, stride=2, pad=0) -> str:
        src = self.graph.tensors[x]
        attrs = {"kernel": (k, k), "strides": (stride, stride), "pads": (pad,) * 4, "dilations": (1, 1)}
        ho, wo = conv_output_hw(src.shape[1:], attrs)
        out = self._tensor((src.shape[0], ho, wo), src.scale, src.zero_point)
        return self._add("maxpool", [x], out, attrs)

    def avgpool(self, x: str, k=2, stride=2, pad=0, include_pad=False) -> str:
        src = self.graph.tensors[x]
        attrs = {"kernel": (k, k), "strides": (stride, stride), "pads": (pad,) * 4, "dilations": (1, 1),
                 "count_include_pad": include_pad}
        ho, wo = conv_output_hw(src.shape[1:], attrs)
        out = self._tensor((src.shape[0], ho, wo))
        return self._add("avgpool", [x], out, attrs)

    def add(self, a: str, b: str, relu=False, scale=None) -> str:
        out = self._tensor(self.graph.tensors[a].shape, scale)
        zp = self.graph.tensors[out].zero_point
        return self._add("add", [a, b], out, {"clamp": (zp if relu else 0, 255)})

    def add_const(self, x: str, constant, relu=False, scale=None) -> str:
        """x + constant (real values, one per channel), to a tensor of its own scale."""
        out = self._tensor(self.graph.tensors[x].shape, scale)
        zp = self.graph.tensors[out].zero_point
        return self._add("add_const", [x], out, {"clamp": (zp if relu else 0, 255)},
                         {"constant": np.asarray(constant, dtype=np.float64)})

    def reshape(self, x: str, shape) -> str:
        src = self.graph.tensors[x]
        return self._add("reshape", [x], self._tensor(shape, src.scale, src.zero_point))

    def transpose(self, x: str, perm) -> str:
        src = self.graph.tensors[x]
        shape = tuple(src.shape[p] for p in perm)
        return self._add("transpose", [x], self._tensor(shape, src.scale, src.zero_point), {"perm": tuple(perm)})

    def gather(self, x: str, index) -> str:
        """Output element k is x's flat element index[k] (Slice, Split, nearest Resize)."""
        src = self.graph.tensors[x]
        index = np.asarray(index, np.int64)
        return self._add("gather", [x], self._tensor(index.shape, src.scale, src.zero_point), params={"index": index})

    def concat(self, inputs, axis=0) -> str:
        shapes = [self.graph.tensors[i].shape for i in inputs]
        shape = list(shapes[0])
        shape[axis] = sum(s[axis] for s in shapes)
        return self._add("concat", inputs, self._tensor(shape), {"axis": axis})


def program_node(op: str, **attrs) -> Node:
    """A hardware-level node with only the attrs its program depends on (no graph around it)."""
    return Node(f"{op}_layer", op, [], f"{op}_out", attrs)


def stem_program_node(acc_shift: int, mul_shift: int, out_shifts, rounding: str = "RND",
                      sparsify: bool = False) -> Node:
    return program_node("stem", acc_shift=acc_shift, mul_shift=mul_shift, out_shifts=list(out_shifts), round=rounding,
                        **({"sparsify": {"rot": 1}} if sparsify else {}))


def assert_simulator_equals_golden(graph: Graph, target, samples: int = 6) -> None:
    """The lowered graph's image simulated on random codes equals the golden model, `==`, with more
    than two distinct output codes (so that a constant output cannot pass)."""
    from sdannc.backend import build_image
    from sdannc.golden import run_codes
    from sdannc.sim import Simulator

    image, _ = build_image(graph, target)
    shape = (samples,) + tuple(graph.tensors[graph.input].shape)
    x = np.random.default_rng(0).integers(0, 256, size=shape).astype(np.uint8)
    expected = run_codes(graph, x.astype(np.int64), target.arith, keep=True)
    result = Simulator(image).run(x)
    assert len(np.unique(expected[graph.output])) > 2
    np.testing.assert_array_equal(result.outputs, expected[graph.output])
