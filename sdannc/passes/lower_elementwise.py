"""Add and Add-of-a-constant -> exact Add neurons; an explicit Relu/Clip -> a clamping relay; Concat
inputs of another scale -> requantizing relays, so that Concat itself only moves data.

The Add neuron (`adder`, isa/programs/add_neuron.s) receives its inputs on dendrites of weights 1
and 2, rebuilds both codes exactly and computes round(Ma (a - za) + Mb (b - zb) + K) + zc with
integer multipliers over a common power of two (passes/requantize.py: adder_fixed_point), as
onnxruntime's QLinearAdd does in float32 (docs/exactness.md); on 16-bit registers those of a 32-bit
register, in two words (attr `two_words`). An Add of a constant (onnxruntime's
quantized bias after a MatMul) is the same neuron with one input and K the constant per neuron.
Where the register cannot hold the Add's values, it falls back to a STEM neuron whose dendrite
weights approximate the ratio of the scales.
"""

from __future__ import annotations

import numpy as np

from ..ir.codes import CODE_MAX
from ..ir.graph import Graph, Node, Tensor
from ..ir.ops import ADD, ADD_CONST, ADDER, CLAMP, CONCAT
from ..isa import load_isa
from ..target import Target
from .base import Options, Pass, fresh_name, identity_stem, stem_node
from .requantize import adder_arithmetic, mul_shifts_of, sfti_max_of

# The adder's dendrite weights for inputs a and b: a tick's dendrite sum is a's bit + 2 x b's bit.
ADDER_INPUT_WEIGHTS = (1, 2)


def add_weights(ratio_a: float, ratio_b: float, weight_bits: int) -> tuple[int, int, float]:
    """Integer weights (wa, wb) and a multiplier m with wa * m ~ ratio_a and wb * m ~ ratio_b."""
    top = (1 << (weight_bits - 1)) - 1
    big = max(ratio_a, ratio_b)
    m = big / top
    return max(1, round(ratio_a / m)), max(1, round(ratio_b / m)), m


def adder_node(name: str, inputs: list[str], graph: Graph, out: Tensor, ratios, offsets, clamp,
               target: Target) -> Node | None:
    """The exact Add neuron: y = sum_i ratios[i] (x_i - z_i) + offsets, rounded once; None if it
    does not fit the target's registers."""
    isa = load_isa(target.isa_name)
    reg = target.arith["register_bits"]
    fp, two_words = adder_arithmetic(ratios, offsets, reg, mul_shifts_of(isa), sfti_max_of(isa))
    if fp is None:
        return None
    zero_points = [graph.tensors[i].zero_point for i in inputs] + [0] * (2 - len(inputs))
    one = (1,) * len(out.shape)
    params = {f"weight{i}": np.full(one, w, dtype=np.int64) for i, w in zip(range(len(inputs)), ADDER_INPUT_WEIGHTS)}
    params["offset"] = np.broadcast_to(fp.offset, out.shape).astype(np.int64).copy()
    attrs = {"connections": [{"kind": "elementwise"}] * len(inputs), "zero_point": out.zero_point,
             "clamp": tuple(clamp), "input_zero_points": tuple(zero_points), "multipliers": fp.multipliers,
             "mul_shift": fp.mul_shift, "out_shifts": list(fp.out_shifts), "error_bound": fp.error}
    if two_words:  # the sums of a register twice as wide, in two (neurons/adder.py)
        attrs["two_words"] = reg
    return Node(name=name, op=ADDER, inputs=list(inputs), output=out.name, attrs=attrs, params=params)


def _fallback_note(graph: Graph, node: Node, target: Target) -> None:
    graph.notes.append(f"lower-elementwise: {node.name}: the exact Add does not fit "
                       f"{target.arith['register_bits']}-bit registers; its input scales became 8-bit weights")


def lower_add(node: Node, graph: Graph, target: Target) -> Node:
    a, b = (graph.tensors[i] for i in node.inputs)
    y = graph.tensors[node.output]
    clamp = node.attrs.get("clamp", (0, CODE_MAX))
    exact = adder_node(node.name, node.inputs, graph, y, [a.scale / y.scale, b.scale / y.scale], 0.0, clamp, target)
    if exact is not None:
        if node.attrs.get("float32_add") and "two_words" in exact.attrs:  # onnxruntime's scales: requantize may search
            exact.attrs["float32_add"] = (a.scale, b.scale, y.scale)
        return exact
    _fallback_note(graph, node, target)
    wa, wb, m = add_weights(a.scale / y.scale, b.scale / y.scale, target.arith["weight_bits"])
    one = (1,) * len(y.shape)
    return stem_node(node.name, node.inputs, y, [{"kind": "elementwise"}] * 2, [np.full(one, wa), np.full(one, wb)],
                     -(wa * a.zero_point + wb * b.zero_point), m, clamp)


def per_neuron(constant: np.ndarray, shape) -> np.ndarray:
    """A per-channel vector [C] broadcast over an output of `shape` (channels first)."""
    return np.broadcast_to(constant.reshape((-1,) + (1,) * (len(shape) - 1)), shape)


def lower_add_const(node: Node, graph: Graph, target: Target) -> Node:
    x, y = graph.tensors[node.inputs[0]], graph.tensors[node.output]
    clamp = node.attrs.get("clamp", (0, CODE_MAX))
    constant = per_neuron(node.params["constant"].astype(np.float64), y.shape)
    exact = adder_node(node.name, node.inputs, graph, y, [x.scale / y.scale, 0.0], constant / y.scale, clamp, target)
    if exact is not None:
        return exact
    _fallback_note(graph, node, target)
    bias = np.rint(constant / x.scale).astype(np.int64) - x.zero_point
    return stem_node(node.name, node.inputs, y, [{"kind": "elementwise"}], [np.ones((1,) * len(y.shape))],
                     bias, x.scale / y.scale, clamp)


def _requantized_inputs(node: Node, graph: Graph) -> tuple[list[Node], Node]:
    out = graph.tensors[node.output]
    relays, inputs = [], []
    for i, name in enumerate(node.inputs):
        t = graph.tensors[name]
        if (t.scale, t.zero_point) == (out.scale, out.zero_point):
            inputs.append(name)
            continue
        relay = Tensor(fresh_name(graph, f"{name}_requant"), t.shape, out.scale, out.zero_point)
        graph.tensors[relay.name] = relay
        relays.append(identity_stem(graph, name, f"{node.name}/requant{i}", relay))
        inputs.append(relay.name)
    node.inputs = inputs
    return relays, node


def lower_elementwise(graph: Graph, target: Target, options: Options) -> Graph:
    graph = graph.copy()
    nodes = []
    for node in graph.nodes:
        if node.op == ADD:
            nodes.append(lower_add(node, graph, target))
        elif node.op == ADD_CONST:
            nodes.append(lower_add_const(node, graph, target))
        elif node.op == CLAMP:
            relay = identity_stem(graph, node.inputs[0], node.name, graph.tensors[node.output], node.attrs["clamp"])
            nodes.append(relay)
        elif node.op == CONCAT:
            relays, node = _requantized_inputs(node, graph)
            nodes.extend(relays + [node])
        else:
            nodes.append(node)
    graph.nodes = nodes
    return graph


PASS = Pass("lower-elementwise", lower_elementwise,
            "Add and constant Add to exact Add neurons, explicit clamps and Concat requantization to STEM neurons")
