"""The spike coding (`--coding stem|ttfs|rate`, docs/codings.md): each neuron layer becomes its
counterpart in the chosen coding, with the same integer arithmetic.

stem is the graph as it is. For ttfs and rate, a requantized STEM layer becomes a linear neuron of
the coding (its bias whole: the starting value that bias calibration split off is folded back,
bias + 2^8 init, since the coded neurons start each sample from 0); max, adder, lut and product
layers become their counterparts, whose programs rebuild the codes exactly. Exact by construction
where the sums fit: a layer whose worst-case sum (255 sum |w| + |bias|) or one tick's dendrite sum (sum |w|)
does not fit the target's registers is refused, in one line naming the layer and the coding, as is a
layer with no counterpart (the IF and TTFS models, which no pass lowers to). On 16-bit registers
(darwin3) a layer of integration exact (which scaled integration chooses wherever it applies when the
coding is ttfs or rate) keeps it: its counterpart sums in two words and searches the STEM neuron's
threshold tables (neurons/coding.py); what integration exact does not take (a sparsified layer, a
fused activation) and needs scaling is refused.
"""

from __future__ import annotations

import numpy as np

from ..arith import signed_range
from ..errors import SdanncError
from ..ir import ops
from ..ir.codes import CODE_BITS, CODINGS, RATE_CODING, STEM_CODING, TTFS_CODING
from ..ir.graph import Graph, Node
from ..neurons.stem import EXACT
from ..target import Target
from .base import Options, Pass
from .scaled_integration import worst_case

COUNTERPART = {
    TTFS_CODING: {ops.STEM: ops.TTFS_LINEAR, ops.MAX: ops.TTFS_MAX, ops.ADDER: ops.TTFS_ADD, ops.LUT: ops.TTFS_LUT,
                  ops.PRODUCT: ops.TTFS_PRODUCT},
    RATE_CODING: {ops.STEM: ops.RATE_LINEAR, ops.MAX: ops.RATE_MAX, ops.ADDER: ops.RATE_ADD, ops.LUT: ops.RATE_LUT,
                  ops.PRODUCT: ops.RATE_PRODUCT},
}


def _not_exact(node: Node, target: Target, integration: str | None) -> str:
    """Why integration exact, the codings' two-word sums on narrow registers, does not take the layer
    (passes/scaled_integration.exact_fits)."""
    if target.arith["register_bits"] >= 32:
        return "no integration exact on 32-bit registers"
    if integration is not None:
        return f"the config asks for integration {integration}"
    if "sparsify" in node.attrs:
        return "integration exact does not take a sparsified layer (RoT / DRLO)"
    if "table" in node.params:
        return "integration exact does not take a fused activation table"
    return "integration exact does not take it: its sums exceed two words, or its tables the lookup memory"


def _linear(node: Node, graph: Graph, target: Target, coding: str, model: str, integration: str | None) -> Node:
    """The STEM layer's counterpart: the same weights, bias and requantization, summed exactly (a
    layer of integration exact: its sum in two words and the STEM neuron's threshold tables)."""
    if node.attrs.get("integration") == EXACT:
        params = {k: v for k, v in node.params.items() if k not in ("init", "acc_shift")}
        return Node(node.name, COUNTERPART[coding][node.op], node.inputs, node.output, dict(node.attrs), params)
    if node.attrs.get("integration") != "horner" or node.attrs.get("acc_shift"):
        raise SdanncError(f"model {model}: layer {node.name}: coding {coding} sums exactly, and this layer's sums "
                          f"need scaling on the {target.name} target ({node.attrs.get('integration')} integration, "
                          f"shift {node.attrs.get('acc_shift')}; {_not_exact(node, target, integration)}): use a "
                          f"target with 32-bit registers (darwin3-wide) or --coding stem")
    bias = node.params["bias"] + node.params["init"] * (1 << CODE_BITS)  # the STEM doubles init 8 times
    params = {k: v for k, v in node.params.items() if k not in ("init", "acc_shift")}
    params["bias"] = bias
    trial = Node(node.name, node.op, node.inputs, node.output, node.attrs, params)
    final, per_tick = worst_case(trial, graph)
    reg, dsum = target.arith["register_bits"], target.arith["dendrite_sum_bits"]
    worst = int(final.max(initial=0))
    if worst > signed_range(reg)[1] or per_tick > min(signed_range(dsum)[1], signed_range(reg)[1]):
        need = max(worst, per_tick).bit_length() + 1
        raise SdanncError(f"model {model}: layer {node.name}: coding {coding} holds the exact sum, which needs "
                          f"{need} bits, in one register; the {target.name} target's hold {reg}: use a target "
                          f"with 32-bit registers (darwin3-wide) or --coding stem")
    attrs = dict(node.attrs, integration=coding, acc_shift=0)
    return Node(node.name, COUNTERPART[coding][node.op], node.inputs, node.output, attrs, params)


def run(graph: Graph, target: Target, options: Options) -> Graph:
    coding = options.coding
    if coding not in CODINGS:
        raise SdanncError(f"coding {coding!r}: expected one of {', '.join(CODINGS)}")
    if coding == STEM_CODING:
        return graph
    graph = graph.copy()
    nodes = []
    for node in graph.nodes:
        if node.op == ops.STEM:
            node = _linear(node, graph, target, coding, options.model, options.integration)
        elif node.op in COUNTERPART[coding]:
            node = Node(node.name, COUNTERPART[coding][node.op], node.inputs, node.output, node.attrs, node.params)
        elif node.op in ops.NEURON_OPS:
            raise SdanncError(f"model {options.model}: layer {node.name}: op {node.op} has no {coding} counterpart: "
                              f"compile it with --coding stem")
        nodes.append(node)
    graph.nodes = nodes
    graph.coding = coding
    return graph


PASS = Pass("coding", run, "each neuron layer as its counterpart in the chosen spike coding (ttfs, rate)")
