"""The chip image: what the compiler writes and the simulator (or a board loader) reads.

See docs/image-format.md for the on-disk layout.
"""

from .model import ChipImage, CoreImage, IoMap, Schedule, DENDRITE_ABSOLUTE, DENDRITE_RELATIVE
from .builder import ImageBuilder
from .store import check_built_for, read_image, write_image

__all__ = [
    "ChipImage",
    "CoreImage",
    "IoMap",
    "Schedule",
    "DENDRITE_ABSOLUTE",
    "DENDRITE_RELATIVE",
    "ImageBuilder",
    "check_built_for",
    "read_image",
    "write_image",
]
