"""`sdannc report`: a self-contained HTML page of where a compiled model's spikes go."""

from .collect import collect, collect_image
from .page import write_report

__all__ = ["collect", "collect_image", "write_report"]
