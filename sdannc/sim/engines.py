"""The simulation engines `sdannc sim --engine` and `sdannc eval --engine` offer: the one list of
their names. Every engine runs a chip image and gives the same outputs and counters."""

from __future__ import annotations

from ..errors import SdanncError

CYCLE = "cycle"  # the cycle-level simulator (sdannc/sim/simulator.py): every tick of every core
FUNCTIONAL = "functional"  # layer after layer, the sums as products (sdannc/sim/functional.py)
ENGINES = (CYCLE, FUNCTIONAL)
DEFAULT_ENGINE = CYCLE


def check_engine(name: str) -> str:
    """The engine's name, or a one-line error naming the ones there are."""
    if name not in ENGINES:
        raise SdanncError(f"engine {name!r}: use {' or '.join(ENGINES)}")
    return name
