"""The image's meta: what a reader of the image (report, sim) needs to know of the compile."""

from __future__ import annotations

from ..ir.graph import Graph
from ..neurons import SPARSIFY_REGISTERS


def image_meta(model: str, graph: Graph, layers: dict) -> dict:
    """The model's file name, the layers in order, each sparsified layer's RoT / DRLO setting, and
    where its program keeps the two registers."""
    nodes = [layer.node for layer in layers.values()]
    return {"model": model, "layers": [node.name for node in nodes],
            "sparsify": {node.name: node.attrs["sparsify"] for node in nodes if node.attrs.get("sparsify")},
            "sparsify_registers": {n.name: SPARSIFY_REGISTERS[n.op] for n in graph.nodes if "sparsify" in n.attrs}}
