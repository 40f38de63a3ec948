"""Checks between passes: a broken graph is a compiler bug, caught where it happens.

Structure (every tensor produced once, before it is read; zero points and clamps inside the codes)
always; after a named pipeline step also every node against its op's spec (ops.py).
"""

from __future__ import annotations

import numpy as np

from .codes import CODE_MAX
from .graph import Graph, Node
from .ops import SPEC, STEPS, step_index


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
        if after in STEPS:
            problem = spec_problem(node, after)
            if problem:
                fail(f"node {node.name} ({node.op}): {problem}")
        outputs.add(node.output)
        known.add(node.output)
    if graph.output not in known:
        fail(f"output {graph.output} is never produced")
    return graph


def spec_problem(node: Node, step: str) -> str | None:
    """What is wrong with `node` after pipeline step `step` by its op's spec (ops.py), or None."""
    spec = SPEC.get(node.op)
    if spec is None:
        return "no such op (ir/ops.py)"
    at = step_index(step)
    if at < step_index(spec.made_by):
        return f"exists only after {spec.made_by}"
    if spec.lowered_by is not None and at >= step_index(spec.lowered_by):
        return f"should have been lowered by {spec.lowered_by}"
    least, most = spec.inputs
    if len(node.inputs) < least or (most is not None and len(node.inputs) > most):
        return f"{len(node.inputs)} inputs, the op takes {least}..{'' if most is None else most}"
    for carries in spec.carries:
        since, until = step_index(carries.since), None if carries.until is None else step_index(carries.until)
        held = [k for k in carries.attrs if k in node.attrs] + [k for k in carries.params if k in node.params]
        if until is not None and at >= until:
            if held:
                return f"still carries {', '.join(held)}, which {carries.until} removes"
        elif at >= since:
            missing = [f"attr {k}" for k in carries.attrs if k not in node.attrs]
            missing += [f"param {k}" for k in carries.params if k not in node.params]
            if missing:
                return f"lacks {', '.join(missing)} (carried from {carries.since} on)"
    if spec.weighted:
        if len(node.attrs.get("connections", ())) != len(node.inputs):
            return f"{len(node.attrs.get('connections', ()))} connections for {len(node.inputs)} inputs"
        missing = [f"weight{i}" for i in range(len(node.inputs)) if f"weight{i}" not in node.params]
        if missing:
            return f"lacks param {', '.join(missing)} (one weight array per input)"
    loose = [k for k, v in node.params.items() if not isinstance(v, np.ndarray)]
    if loose:
        return f"params {', '.join(loose)} are not numpy arrays"
    return None
