"""The integer layer graph between the ONNX frontend and the chip backend."""

from .codes import code_offset
from .graph import Graph, Node, Tensor
from .verify import verify

__all__ = ["Graph", "Node", "Tensor", "code_offset", "verify"]
