"""A board's tiles across its chips: as few chips as the tiles need, cut where the fewest spikes cross.

The tiles are numbered as image cores, layer by layer in graph order, so every link goes from a
lower core number to a higher one (or comes from the input). A chip holds a run of consecutive
tiles; the chips are taken along a snake over the board (row 0 left to right, row 1 right to left,
...), so consecutive runs sit on neighbouring chips and a cut between runs is one chip edge. A link
crosses every cut between its two ends, so the traffic over the chip edges is the sum, over the
cuts, of the packets of the links that span each: the partition with the least of it is found by
dynamic programming over the cut positions, each run within a chip's cores and big cores.

Traffic is packets per sample per link: the spikes its source sends a sample (measured: the
calibration inputs' codes, their set bits; else the fan-out estimate: half of a code's bits), one
packet per link (docs/board.md).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from ..errors import SdanncError
from ..ir.codes import CODE_BITS
from ..resources import data_dir
from ..target import Target, load_target
from .addresses import INPUT
from .links import LinkTable

SPIKES_PER_CODE = CODE_BITS / 2  # the fan-out estimate: a code sends half its bits as spikes
CHUNK = 1 << 23  # links at a time


def link_packets(links: LinkTable, spikes: np.ndarray | None = None) -> np.ndarray:
    """Packets per sample over each link of the table: its source element's spikes per sample
    (`spikes`, per element id; the input's elements follow the neurons') or the fan-out estimate."""
    if spikes is None:
        return np.full(len(links), SPIKES_PER_CODE)
    return np.asarray(spikes, dtype=np.float64)[links.source]


@nb.njit(cache=True)
def _add_in_order(out, at, weights):
    for i in range(at.size):
        out[at[i]] += weights[i]


def add_in_order(out: np.ndarray, at: np.ndarray, weights: np.ndarray) -> None:
    """out[at[i]] += weights[i] for i in order: np.bincount's sums (the same floats), a chunk of the
    links at a time, added on."""
    if at.size and (int(at.min()) < 0 or int(at.max()) >= out.size):
        raise IndexError("add_in_order: an index outside the output")
    _add_in_order(out, np.ascontiguousarray(at), np.ascontiguousarray(weights, dtype=np.float64))


def link_chunks(links: LinkTable, spikes: np.ndarray | None = None):
    """(source cores, destination cores, packets per sample) of the links, CHUNK links at a time: the
    table's hundreds of millions of links are gigabytes in every int64 or float64 temporary."""
    for lo in range(0, len(links), CHUNK):
        part = links.select(slice(lo, lo + CHUNK))
        yield part.src_core, part.dest, link_packets(part, spikes)


def route_packets(links: LinkTable, spikes: np.ndarray | None, routes: np.ndarray) -> np.ndarray:
    """Packets per sample of each (source core, destination core) route of `routes` (links.routes),
    the links' source elements sending `spikes` per sample (per element id; None: the fan-out estimate)."""
    if not routes.size:
        return np.zeros(0)
    cores = int(max(routes.max(), links.dest.max(initial=0))) + 1
    keys, out = routes[:, 0] * cores + routes[:, 1], np.zeros(len(routes))
    for src, dest, packets in link_chunks(links, spikes):
        axons = src != INPUT
        add_in_order(out, np.searchsorted(keys, src[axons].astype(np.int64) * cores + dest[axons]), packets[axons])
    return out


def cut_costs(links: LinkTable, spikes: np.ndarray | None, n_tiles: int) -> np.ndarray:
    """[n_tiles + 1]: the packets per sample of the links that cross a cut just before tile k."""
    up, down = np.zeros(n_tiles + 2), np.zeros(n_tiles + 2)
    for src, dest, packets in link_chunks(links, spikes):
        src[src == INPUT] = -1
        add_in_order(up, np.minimum(src, dest) + 1, packets)
        add_in_order(down, np.maximum(src, dest) + 1, packets)
    cost = np.cumsum(up - down)[:n_tiles + 1]
    cost[0] = 0.0
    return cost


def big_cores(target: Target) -> int:
    """A chip's big cores (dendrite memory for the large tables)."""
    return sum(target.is_big_core(x) for y in range(target.mesh["height"]) for x in range(target.mesh["width"])
               if target.is_core(x, y))


def fewest_chips(needs_big: np.ndarray, chip: Target) -> int:
    """The fewest chips that hold the tiles, by count and by big cores."""
    cap, big = chip.core_count(), big_cores(chip)
    n_big = int(np.count_nonzero(needs_big))
    if n_big and not big:
        raise SdanncError(f"{n_big:,} tiles need a big core and the chip ({chip.name}) has none")
    return max(1, -(-len(needs_big) // cap), -(-n_big // big) if n_big else 1)


def partition(cut: np.ndarray, needs_big: np.ndarray, chip: Target, chips: int,
              cap: int | None = None) -> list[int] | None:
    """Run bounds [0, b1, ..., len] over the tiles for `chips` chips with the least traffic over the
    cuts, each run within a chip's cores (or `cap` tiles, if fewer) and big cores; None if no such
    cut exists."""
    n = len(needs_big)
    cap, big_cap = min(chip.core_count(), cap or chip.core_count()), big_cores(chip)
    big = np.concatenate([[0], np.cumsum(np.asarray(needs_big, dtype=np.int64))])
    best = np.full(n + 1, np.inf)
    best[0] = 0.0
    back = []
    for j in range(chips):
        here = best + (cut if j else 0.0)  # a run that starts at k > 0 pays the cut at k
        nxt, arg = np.full(n + 1, np.inf), np.full(n + 1, -1, dtype=np.int64)
        lows = np.maximum(np.arange(n + 1) - cap, np.searchsorted(big, big - big_cap, side="left"))
        for k in range(1, n + 1):
            lo = int(lows[k])
            if lo >= k:
                continue
            window = here[lo:k]
            i = int(np.argmin(window))
            if np.isfinite(window[i]):
                nxt[k], arg[k] = window[i], lo + i
        back.append(arg)
        best = nxt
    if not np.isfinite(best[n]):
        return None
    bounds, k = [n], n
    for arg in reversed(back):
        k = int(arg[k])
        bounds.append(k)
    return bounds[::-1]


def snake(chips: int, grid: tuple[int, int]) -> list[tuple[int, int]]:
    """The first `chips` chips of the board along the snake: neighbours follow each other."""
    width, height = grid
    order = [(x if y % 2 == 0 else width - 1 - x, y) for y in range(height) for x in range(width)]
    return order[:chips]


def board_for(chips: int, target: Target) -> str:
    """The name of the smallest built-in board with at least `chips` chips of this target's chip."""
    found, chip = [], target.chip_target().raw
    for path in data_dir("targets").glob("*.yaml"):
        candidate = load_target(path.stem)
        if candidate.is_board and candidate.chip_count >= chips and candidate.chip_target().raw == chip:
            found.append((candidate.chip_count, candidate.name))
    return min(found)[1] if found else ""


def does_not_fit(what: str, chips: int, board: Target) -> SdanncError:
    """`what` needs about `chips` chips, more than the board has: name the board tried and a larger one."""
    larger = board_for(chips, board)
    advice = f"use {larger}" if larger else "use a smaller input or fewer channels"
    return SdanncError(f"{what}: needs about {chips:,} chips; the largest board tried, {board.name}, has "
                       f"{board.chip_count:,}: {advice}")
