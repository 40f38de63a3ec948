"""The backend: hardware-level IR to a chip image."""

from .emit import build_image

__all__ = ["build_image"]
