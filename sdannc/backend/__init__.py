"""The backend: hardware-level IR to a chip image."""

from .emit import build_image, build_layers, neuron_addresses

__all__ = ["build_image", "build_layers", "neuron_addresses"]
