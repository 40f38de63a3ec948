"""sdannc: quantized neural networks, exactly, on Darwin3-like neuromorphic chips."""

__version__ = "0.1.0"
