"""The integer layer graph between the ONNX frontend and the chip backend."""

from .graph import Graph, Node, Tensor, code_offset
from .verify import verify

__all__ = ["Graph", "Node", "Tensor", "code_offset", "verify"]
