"""sdannc: quantized neural networks, exactly, on Darwin3-like neuromorphic chips.

The Python API (docs/api.md): compile, load, simulate, run_golden. `import sdannc` stays cheap: the
compiler is imported on the first call.
"""

from .api import CompiledModel, SimulationResult, compile, load, run_golden, simulate
from .errors import SdanncError
from .version import __version__  # in a module of its own: the modules that read it never import the package

__all__ = ["CompiledModel", "SdanncError", "SimulationResult", "compile", "load", "run_golden", "simulate", "__version__"]
