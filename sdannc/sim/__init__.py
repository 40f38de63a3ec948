"""The simulator of a Darwin3-like chip running a chip image: the cycle-level engine (simulator.py)
and the functional one (functional.py), which give the same outputs and counters."""

from ..errors import SdanncError
from .functional import FunctionalSimulator
from .simulator import Simulator, SimResult

# `sdannc sim --engine`: the simulators, by name (the program executors are executor.ENGINES)
ENGINES = {"cycle": Simulator, "functional": FunctionalSimulator}


def simulator(image, where: str = "<image>", engine: str = "cycle", executor: str | None = None) -> Simulator:
    """The image on the named engine; executor: how the programs run ("kernel", "numpy"; None: the default)."""
    if engine not in ENGINES:
        raise SdanncError(f"engine {engine!r}: use {' or '.join(ENGINES)}")
    return ENGINES[engine](image, where, executor)


__all__ = ["ENGINES", "FunctionalSimulator", "Simulator", "SimResult", "simulator"]
