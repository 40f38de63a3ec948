"""sdannc: quantized neural networks, exactly, on Darwin3-like neuromorphic chips.

The Python API (docs/api.md): compile, load, simulate, evaluate, run, run_golden, verify, tune,
report, compare_codings, quantize, assemble, disassemble; the `sdannc` command is a thin layer over
it. `import sdannc` stays cheap: the compiler is imported on the first call.
"""

from .api import (ActivityReport, CodingComparison, CompiledModel, Evaluation, SimulationResult, Tuning, assemble,
                  compare_codings, compile, disassemble, evaluate, load, quantize, report, run, run_golden, simulate,
                  tune, verify)
from .errors import SdanncError
from .version import __version__  # in a module of its own: the modules that read it never import the package

__all__ = ["ActivityReport", "CodingComparison", "CompiledModel", "Evaluation", "SdanncError", "SimulationResult",
           "Tuning", "assemble", "compare_codings", "compile", "disassemble", "evaluate", "load", "quantize", "report",
           "run", "run_golden", "simulate", "tune", "verify", "__version__"]
