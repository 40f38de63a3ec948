"""The integer layer graph between the ONNX frontend and the chip backend, and its vocabulary
(codes, ops, connections, depths, the graph walk), which every stage shares: docs/compiler.md."""

from .codes import code_offset
from .graph import Graph, Node, Tensor
from .verify import verify

__all__ = ["Graph", "Node", "Tensor", "code_offset", "verify"]
