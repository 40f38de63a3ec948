"""Which layers can sparsify, which the compile config sparsifies, and the pass that marks them
(SDANN 3.3; what RoT and DRLO do to codes is sdannc/sparsify.py).

Runs before delay alignment: a relay copies codes it receives, so what it re-emits is already sparse.
"""

from __future__ import annotations

from ..errors import SdanncError
from ..ir.graph import Graph
from ..ir.ops import DATA_MOVES, FLOAT32_POOL
from ..neurons import SPARSIFIABLE_OPS
from ..sparsify import Plan, Setting
from ..target import Target
from .base import Options, Pass


def sparsifiable(graph: Graph) -> list[str]:
    """Names of the layers whose program can sparsify (STEM and Add neurons), in graph order."""
    return list(dict.fromkeys(n.name for n in graph.nodes if n.op in SPARSIFIABLE_OPS))


def _output_layers(graph: Graph) -> set[str]:
    """The layers whose neurons are the graph's output (seen through data moves)."""
    names, pending = set(), [graph.output]
    while pending:
        node = graph.producer(pending.pop())
        if node is None:
            continue
        if node.op in DATA_MOVES:
            pending.extend(node.inputs)
        else:
            names.add(node.name)
    return names


def hidden_layers(graph: Graph) -> list[str]:
    """The sparsifiable layers but those whose neurons are the graph's output: what `default` covers.
    The output layer's spikes leave the chip and cause no synaptic operations, so sparsifying it
    would only cost accuracy."""
    last = _output_layers(graph)
    return [name for name in sparsifiable(graph) if name not in last]


def layer_sparsified(plan: Plan, graph: Graph, name: str) -> bool:
    """Whether the plan sparsifies layer `name` by resolve's rule (named, or by `default` where the
    layer's neurons are not the graph's output), whatever its op: for a pass that must know it
    before the layer is a STEM one (passes/lower_pools.py)."""
    setting = (plan.layers or {}).get(name)
    if setting is None and name not in _output_layers(graph):
        setting = plan.default
    return setting is not None and setting.active


def resolve(plan: Plan, graph: Graph, where: str) -> dict[str, Setting]:
    """Per STEM or Add layer name, its setting: `default` on the hidden layers, then the named ones."""
    names = sparsifiable(graph)
    unknown = sorted(set(plan.layers or {}) - set(names))
    if unknown:  # (a float32 pool is one too: named, it stays a STEM layer, passes/lower_pools.py)
        names = [n.name for n in graph.nodes if n.op in SPARSIFIABLE_OPS or n.op == FLOAT32_POOL]
        raise SdanncError(f"{where}: sparsify names layer '{unknown[0]}', but {graph.name} has no STEM or Add layer "
                          f"of that name; those it has: {', '.join(dict.fromkeys(names))}")
    settings = {name: plan.default for name in hidden_layers(graph)}
    settings.update(plan.layers or {})
    return {name: s for name, s in settings.items() if s.active}


def sparsify(graph: Graph, target: Target, options: Options) -> Graph:
    settings = resolve(options.sparsify, graph, f"model {options.model}")
    if not settings:
        return graph
    graph = graph.copy()
    for node in graph.nodes:
        if node.name in settings:
            node.attrs["sparsify"] = settings[node.name].as_dict()
    graph.notes.append("sparsified: " + "; ".join(f"{name} ({s})" for name, s in settings.items()))
    return graph


PASS = Pass("sparsify", sparsify, "RoT / DRLO settings of the compile config onto STEM layers")
