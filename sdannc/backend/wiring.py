"""Axon lists of every neuron, from the link table: a neuron's list holds its targets in link order
(the same lists a neuron-by-neuron build makes), as offsets on the mesh from its own core."""

from __future__ import annotations

import numba as nb
import numpy as np

from ..errors import SdanncError
from ..image import ImageBuilder
from ..target import Target
from .addresses import INPUT
from .links import LinkTable

CHUNK = 1 << 23  # links checked at once


@nb.njit(cache=True)
def _first_links(source, count):
    """Per element id, the first link it sends (-1: none)."""
    first = np.full(count, -1, np.int64)
    for i in range(source.size):
        if first[source[i]] < 0:
            first[source[i]] = i
    return first


@nb.njit(cache=True)
def _group_sizes(source, rank, groups):
    """Links per group (the rank of their source; -1: not grouped)."""
    sizes = np.zeros(groups, np.int64)
    for i in range(source.size):
        if rank[source[i]] >= 0:
            sizes[rank[source[i]]] += 1
    return sizes


@nb.njit(cache=True)
def _fill_groups(source, rank, bounds, order):
    """A counting sort: each group's links, in table order, at its bounds in `order`."""
    fill = bounds[:-1].copy()
    for i in range(source.size):
        r = rank[source[i]]
        if r >= 0:
            order[fill[r]] = i
            fill[r] += 1


def senders_by_core(first: np.ndarray, core_of: np.ndarray) -> np.ndarray:
    """The elements that send links and are neurons (not the input's), core by core in core order,
    on a core in the order their first links come in the table."""
    senders = np.flatnonzero((first >= 0) & (core_of != INPUT))
    key = core_of[senders].astype(np.int64) * (int(first.max(initial=0)) + 1) + first[senders]
    return senders[np.argsort(key)]


def group_by_core(source: np.ndarray, core_of: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The neurons' links grouped by source element, the groups core by core and on a core in the
    order they first appear, a group's links in table order: (order of the links, each group's
    bounds in it, each group's element, every element's first link). A counting sort in one pass
    over the links (a sort of a hundred million links took tens of bytes a link)."""
    source = np.ascontiguousarray(source)
    first = _first_links(source, core_of.size)
    senders = senders_by_core(first, core_of)
    rank = np.full(core_of.size, -1, dtype=np.int64)
    rank[senders] = np.arange(senders.size)
    bounds = np.concatenate([[0], np.cumsum(_group_sizes(source, rank, senders.size))]).astype(np.int64)
    order = np.empty(int(bounds[-1]), dtype=np.int32 if source.size < 2 ** 31 else np.int64)
    _fill_groups(source, rank, bounds, order)
    return order, bounds, senders, first


def check_route_lengths(links: LinkTable, first: np.ndarray, x: np.ndarray, y: np.ndarray, owners: list[str],
                        target: Target) -> None:
    """A link farther than the hop limit along an axis is an error; the one named is the first of
    them with the links grouped by source (sources in the order they first appear, `first`: each
    element's first link; a source's links in table order)."""
    hops = target.mesh["max_hops_per_axis"]
    width, height = target.mesh["width"], target.mesh["height"]
    n, found = len(links), None
    for lo in range(0, n, CHUNK):  # a chunk at a time: the int64 temporaries of 10^8 links are gigabytes
        s, d = links.core_of[links.source[lo:lo + CHUNK]], links.dest[lo:lo + CHUNK]
        # on a board, a link to another chip is addressed by chip and position (docs/board.md): no hop limit
        same_chip = (x[d] // width == x[s] // width) & (y[d] // height == y[s] // height)
        far = (s != INPUT) & same_chip & ((np.abs(x[d] - x[s]) > hops) | (np.abs(y[d] - y[s]) > hops))
        if far.any():
            at = np.flatnonzero(far) + lo
            key = first[links.source[at]] * n + at  # (the position in the grouped order)
            k = int(np.argmin(key))
            if found is None or key[k] < found[0]:
                found = (int(key[k]), int(at[k]))
    if found is not None:
        r = found[1]
        _too_far(int(links.core_of[links.source[r]]), int(links.dest[r]), x, y, owners, hops)


def _too_far(src: int, dest: int, x: np.ndarray, y: np.ndarray, owners: list[str], hops: int) -> None:
    (sx, sy), (tx, ty) = (x[src], y[src]), (x[dest], y[dest])
    raise SdanncError(f"layer {owners[src]} -> layer {owners[dest]}: route from core ({sx}, {sy}) "
                      f"to ({tx}, {ty}) needs {abs(tx - sx)} + {abs(ty - sy)} hops, at most {hops} per axis: the "
                      f"layers lie too far apart on the mesh; use fewer cores (fewer channels, a smaller input)")


def wire(builder: ImageBuilder, links: LinkTable, owners: list[str], target: Target) -> None:
    """Every neuron's axon list on its (placed) core; `owners` names each core's layer for errors.
    The lists go in, core by core, in the order their neurons first appear in the table: identical
    lists are stored once, where the first of them went. A core's lists go in with one call."""
    x = np.asarray([core.x for core in builder.cores], dtype=np.int64)
    y = np.asarray([core.y for core in builder.cores], dtype=np.int64)
    order, bounds, senders, first = group_by_core(links.source, links.core_of)
    check_route_lengths(links, first, x, y, owners, target)
    del first
    core_of_sender = links.core_of[senders]
    core_bounds = np.searchsorted(core_of_sender, np.arange(len(builder.cores) + 1))
    for core in np.unique(core_of_sender).tolist():
        g0, g1 = int(core_bounds[core]), int(core_bounds[core + 1])
        lo = int(bounds[g0])
        mine = order[lo:int(bounds[g1])]  # a core's targets at a time: 10^8 links at once would be gigabytes
        dest = links.dest[mine]
        relative = np.stack([x[dest] - x[core], y[dest] - y[core], links.dendrite[mine],
                             links.carried[mine]], axis=1).astype(np.int64)
        builder.core(core).set_axon_lists(links.index_of[senders[g0:g1]], bounds[g0:g1 + 1] - lo, relative)
