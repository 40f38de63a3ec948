"""Axon lists of every neuron, from the link table: a neuron's list holds its targets in link order
(the same lists a neuron-by-neuron build makes), as offsets on the mesh from its own core."""

from __future__ import annotations

import numpy as np

from ..errors import SdanncError
from ..image import ImageBuilder
from ..target import Target
from .addresses import INPUT
from .links import LinkTable

CHUNK = 1 << 23  # links checked at once


def group_by_source(source: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An order of the links that groups them by source element (elements in the order they first
    appear, an element's links in table order), and each group's bounds in that order."""
    if not source.size:
        return np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64)
    _, first, group = np.unique(source, return_index=True, return_inverse=True)
    rank = np.empty_like(first)
    rank[np.argsort(first)] = np.arange(first.size)
    group_rank = rank[group.ravel()]
    order = np.argsort(group_rank, kind="stable")
    return order, np.concatenate([[0], np.cumsum(np.bincount(group_rank, minlength=first.size))])


def check_route_lengths(src: np.ndarray, dest: np.ndarray, x: np.ndarray, y: np.ndarray, owners: list[str],
                        target: Target) -> None:
    """The first link (of the links' source and destination cores, in the order given) farther than the
    hop limit along an axis is an error."""
    hops = target.mesh["max_hops_per_axis"]
    width, height = target.mesh["width"], target.mesh["height"]
    for lo in range(0, src.size, CHUNK):  # a chunk at a time: the int64 temporaries of 10^8 links are gigabytes
        s, d = src[lo:lo + CHUNK], dest[lo:lo + CHUNK]
        # on a board, a link to another chip is addressed by chip and position (docs/board.md): no hop limit
        same_chip = (x[d] // width == x[s] // width) & (y[d] // height == y[s] // height)
        far = (s != INPUT) & same_chip & ((np.abs(x[d] - x[s]) > hops) | (np.abs(y[d] - y[s]) > hops))
        if far.any():
            _too_far(src, dest, lo + int(np.argmax(far)), x, y, owners, hops)


def _too_far(src: np.ndarray, dest: np.ndarray, r: int, x: np.ndarray, y: np.ndarray, owners: list[str],
             hops: int) -> None:
    (sx, sy), (tx, ty) = (x[src[r]], y[src[r]]), (x[dest[r]], y[dest[r]])
    raise SdanncError(f"layer {owners[int(src[r])]} -> layer {owners[int(dest[r])]}: route from core ({sx}, {sy}) "
                      f"to ({tx}, {ty}) needs {abs(tx - sx)} + {abs(ty - sy)} hops, at most {hops} per axis: the "
                      f"layers lie too far apart on the mesh; use fewer cores (fewer channels, a smaller input)")


def wire(builder: ImageBuilder, links: LinkTable, owners: list[str], target: Target) -> None:
    """Every neuron's axon list on its (placed) core; `owners` names each core's layer for errors.
    The lists go in, core by core, in the order their neurons first appear in the table: identical
    lists are stored once, where the first of them went. A core's lists go in with one call."""
    axons = np.flatnonzero(links.src_core != INPUT)
    order, bounds = group_by_source(links.source[axons])
    grouped = axons[order]
    x = np.asarray([core.x for core in builder.cores], dtype=np.int64)
    y = np.asarray([core.y for core in builder.cores], dtype=np.int64)
    check_route_lengths(links.src_core[grouped], links.dest[grouped], x, y, owners, target)
    group = np.repeat(np.arange(bounds.size - 1, dtype=np.int32 if bounds.size < 2 ** 31 else np.int64),
                      np.diff(bounds))
    by_core = np.argsort(links.src_core[grouped], kind="stable")  # each core's groups, still in order
    rows, group = grouped[by_core], group[by_core]  # the links in that order (indices, not a copy of the table)
    del grouped, by_core
    src = links.src_core[rows]
    starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]])) if group.size else group
    del group
    core_of_group = src[starts]
    del src
    core_bounds = np.searchsorted(core_of_group, np.arange(len(builder.cores) + 1))
    edges = np.concatenate([starts, [rows.size]])
    for core in np.unique(core_of_group).tolist():
        g0, g1 = int(core_bounds[core]), int(core_bounds[core + 1])
        first, last = int(edges[g0]), int(edges[g1])
        mine = rows[first:last]  # a core's targets at a time: 107 M links at once would be 3.4 GB
        dest = links.dest[mine]
        relative = np.stack([x[dest] - x[core], y[dest] - y[core], links.dendrite[mine],
                             links.carried[mine]], axis=1).astype(np.int64)
        builder.core(core).set_axon_lists(links.src_index[rows[edges[g0:g1]]], edges[g0:g1 + 1] - first, relative)
