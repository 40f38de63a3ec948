"""`sdannc report`: a self-contained HTML page of where a compiled model's spikes go."""

from .collect import collect
from .page import write_report

__all__ = ["collect", "write_report"]
