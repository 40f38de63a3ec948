"""The backend: hardware-level IR to a chip image, in named steps (build.py)."""

from .addresses import neuron_addresses
from .build import BACKEND_STEP_NAMES, STEPS, build_image
from .tiling import build_layers

__all__ = ["BACKEND_STEP_NAMES", "STEPS", "build_image", "build_layers", "neuron_addresses"]
