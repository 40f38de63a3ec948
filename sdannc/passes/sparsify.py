"""Mark the STEM layers the compile config sparsifies (SDANN 3.3; see sdannc/sparsify.py).

Runs before delay alignment: a relay copies codes it receives, so what it re-emits is already sparse.
"""

from __future__ import annotations

from .. import sparsify as spikes
from ..ir.graph import Graph
from ..target import Target
from .base import Options, Pass


def sparsify(graph: Graph, target: Target, options: Options) -> Graph:
    settings = spikes.resolve(options.sparsify, graph, f"model {options.model}")
    if not settings:
        return graph
    graph = graph.copy()
    for node in graph.nodes:
        if node.name in settings:
            node.attrs["sparsify"] = settings[node.name].as_dict()
    graph.notes.append("sparsified: " + "; ".join(f"{name} ({s})" for name, s in settings.items()))
    return graph


PASS = Pass("sparsify", sparsify, "RoT / DRLO settings of the compile config onto STEM layers")
