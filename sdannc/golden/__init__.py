"""The integer golden model of the chip's arithmetic, per IR op."""

from .interpreter import run, run_codes

__all__ = ["run", "run_codes"]
