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

The vector is learned by a run of no sample at all (IdleObserver, FunctionalSimulator._learn_idle):
enough codes that the first codes' start-up (the state before any code) has left the pipeline, the
last two codes of each level then compared; a level whose last two differ gets no memo.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class IdleLevel:
    """One level's known columns: its sources' codes in each and what it computes from them."""

    sources: np.ndarray  # uint8 [known, level sources] the codes its sources send: idle, and the start-up's
    codes: np.ndarray | None  # int64 [its exact part's neurons, known] their codes (exact_levels.py), None: no exact part
    sums: np.ndarray | None  # int64 [its product part's neurons, known] their code products before saturation

    def match(self, codes: np.ndarray) -> np.ndarray:
        """[columns] which known column each column of codes [columns, sources] is, -1 for none."""
        which = np.full(codes.shape[0], -1, dtype=np.int64)
        for k in range(self.sources.shape[0]):
            which[(which < 0) & ~busy_columns(codes, self.sources[k])] = k
        return which


def busy_columns(codes: np.ndarray, idle_sources: np.ndarray) -> np.ndarray:
    """[columns] whether the column's source codes (codes [columns, sources] uint8) differ from the idle ones."""
    return (codes != idle_sources[None, :]).any(axis=1)


# A level keeps at most this many known columns: the idle one and those of the first codes' start-up.
KNOWN = 4


class IdleObserver:
    """What a run without samples saw at each level (one lane): every code's source codes and its
    exact codes and product sums; then each level's IdleLevel of its most frequent distinct columns."""

    def __init__(self, n_levels: int) -> None:
        self.sources = [{} for _ in range(n_levels)]  # per level: window -> its columns' source codes
        self.codes = [[] for _ in range(n_levels)]
        self.sums = [[] for _ in range(n_levels)]
        self.spikes = None  # [ticks, sources] and their phases: the last window's spikes the costs count

    def saw_spikes(self, phases: np.ndarray, fired: np.ndarray, injected: np.ndarray) -> None:
        """A window's spikes as the costs count them (lane 0): the neurons' of the tick before, the inputs'."""
        self.spikes = (phases.copy(), np.concatenate([fired[:, 0], injected[:, 0]], axis=1))

    def known_spikes(self, bits: int) -> np.ndarray | None:
        """[bits, sources] the spikes of the run's last code, by phase (None without a whole code)."""
        if self.spikes is None or self.spikes[0].size < bits:
            return None
        phases, spikes = self.spikes[0][-bits:], self.spikes[1][-bits:]
        out = np.empty((bits, spikes.shape[1]), dtype=bool)
        out[phases] = spikes
        return out

    def saw_sources(self, level: int, window: int, codes: np.ndarray) -> None:
        """A window's source codes (a level's exact part and its relays both say them: kept once)."""
        self.sources[level].setdefault(window, codes.copy())

    def saw_codes(self, level: int, codes: np.ndarray) -> None:
        self.codes[level].append(codes.copy())

    def saw_sums(self, level: int, sums: np.ndarray) -> None:
        self.sums[level].append(sums.copy())

    def levels(self) -> list[IdleLevel | None]:
        return [self._level(*parts) for parts in zip(self.sources, self.codes, self.sums)]

    @staticmethod
    def _level(sources: dict, codes: list, sums: list) -> IdleLevel | None:
        if not sources or not (codes or sums):
            return None
        seen = np.concatenate(list(sources.values()))
        _, first, count = np.unique(seen, axis=0, return_index=True, return_counts=True)
        keep = first[np.argsort(-count, kind="stable")[:KNOWN]]
        return IdleLevel(seen[keep], np.concatenate(codes, axis=1)[:, keep] if codes else None,
                         np.concatenate(sums, axis=1)[:, keep] if sums else None)
