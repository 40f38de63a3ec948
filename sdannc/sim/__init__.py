"""The cycle-level simulator of a Darwin3-like chip running a chip image."""

from .simulator import Simulator, SimResult

__all__ = ["Simulator", "SimResult"]
