"""Structural checks between passes: a broken graph is a compiler bug, caught where it happens."""

from __future__ import annotations

from .codes import CODE_MAX
from .graph import Graph


class IrError(AssertionError):
    """The IR broke an invariant: a bug in sdannc, not in the user's model."""


def verify(graph: Graph, after: str = "") -> Graph:
    where = f" after {after}" if after else ""

    def fail(what: str):
        raise IrError(f"IR invalid{where}: {what}")

    known = {graph.input}
    if graph.input not in graph.tensors:
        fail(f"input {graph.input} has no tensor")
    outputs = set()
    for node in graph.nodes:
        for name in node.inputs:
            if name not in known:
                fail(f"node {node.name} reads {name} before it is produced")
        if node.output in outputs or node.output == graph.input:
            fail(f"tensor {node.output} produced twice")
        if node.output not in graph.tensors:
            fail(f"node {node.name} output {node.output} has no tensor")
        t = graph.tensors[node.output]
        if not 0 <= t.zero_point <= CODE_MAX or not t.scale > 0:
            fail(f"tensor {t.name}: zero point {t.zero_point} or scale {t.scale} out of range")
        clamp = node.attrs.get("clamp")
        if clamp is not None and not 0 <= clamp[0] <= clamp[1] <= CODE_MAX:
            fail(f"node {node.name}: clamp {clamp} outside the codes")
        outputs.add(node.output)
        known.add(node.output)
    if graph.output not in known:
        fail(f"output {graph.output} is never produced")
    return graph
