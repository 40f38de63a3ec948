"""What a level computes when no sample is in flight: its idle code, learned once per image.

A level whose code is a function of its sources' codes in the same code slot (exact_levels.py:
integration exact, the max) or whose sums arrive as one product a code (linear.py, and a level's
relays) gives the same result for every column (a code of a lane) whose sources carry the same
codes. Pipeline fill and drain are such columns: the layers compute on the zeros before and after
the stream, every one with the codes its sources send when idle (from zero inputs up the pipeline).
So the functional engine keeps, per level, one vector of source codes and its results (the exact
part's codes, the product part's sums before saturation) and, in a run, takes products, searches
and maxima only for the columns that differ from it (functional.FunctionalStepper). Whatever the
vector, a column equal to it has its result: the shortcut is exact by construction; only how often
it applies depends on choosing the idle one.

The vector is learned by a run of no sample at all (IdleObserver, FunctionalSimulator._idle_codes):
enough codes that the first codes' start-up (the state before any code) has left the pipeline, the
last two codes of each level then compared; a level whose last two differ gets no memo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class IdleLevel:
    """One level's idle columns: its sources' codes and what it computes from them."""

    sources: np.ndarray  # uint8 [level sources] the codes its sources send when idle
    codes: np.ndarray | None  # int64 [its exact part's neurons] their code (exact_levels.py), None: no exact part
    sums: np.ndarray | None  # int64 [its product part's neurons] their code product before saturation, None: none


def busy_columns(codes: np.ndarray, idle_sources: np.ndarray) -> np.ndarray:
    """[columns] whether the column's source codes (codes [columns, sources] uint8) differ from the idle ones."""
    return (codes != idle_sources[None, :]).any(axis=1)


class IdleObserver:
    """What a run without samples saw at each level's last two codes (lane 0): their source codes,
    the last one's exact codes and product sums; then the IdleLevel of each level whose two codes
    were equal (the start-up gone)."""

    def __init__(self, n_levels: int) -> None:
        self.sources = [None] * n_levels
        self.codes = [None] * n_levels
        self.sums = [None] * n_levels

    def saw_sources(self, level: int, codes: np.ndarray) -> None:
        self.sources[level] = codes[-2:].copy()

    def saw_codes(self, level: int, codes: np.ndarray) -> None:
        self.codes[level] = codes[:, -1].copy()

    def saw_sums(self, level: int, sums: np.ndarray) -> None:
        self.sums[level] = sums[:, -1].copy()

    def levels(self) -> list[IdleLevel | None]:
        out = []
        for sources, codes, sums in zip(self.sources, self.codes, self.sums):
            steady = sources is not None and sources.shape[0] == 2 and np.array_equal(sources[0], sources[1])
            out.append(IdleLevel(sources[1], codes, sums) if steady and (codes is not None or sums is not None)
                       else None)
        return out
