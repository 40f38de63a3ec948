"""The simulator of a Darwin3-like chip running a chip image: the cycle-level engine (simulator.py)
and the functional one (functional.py), which give the same outputs and counters."""

from .engines import CYCLE, ENGINES, FUNCTIONAL, check_engine
from .functional import FunctionalSimulator
from .simulator import Simulator, SimResult

# `sdannc sim --engine`: the simulators, by the names engines.ENGINES gives (the program executors
# are executor.ENGINES)
_SIMULATORS = {CYCLE: Simulator, FUNCTIONAL: FunctionalSimulator}


def simulator(image, where: str = "<image>", engine: str = CYCLE, executor: str | None = None) -> Simulator:
    """The image on the named engine; executor: how the programs run ("kernel", "numpy"; None: the default)."""
    return _SIMULATORS[check_engine(engine)](image, where, executor)


__all__ = ["ENGINES", "FunctionalSimulator", "Simulator", "SimResult", "simulator"]
