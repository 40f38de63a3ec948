"""Per-tick connectivity, built once when an image is loaded.

Every spike source (a neuron, or an element of the input, injected at the controller) has a list
of packets: destination core, dendrite, the neuron index the spike carries, hops, and route.
Dendrites of a core whose neuron-id lists are equal (relative lists: equal up to a constant shift)
form a group; a group's weight lists are the rows of one matrix. The tables are flattened into
arrays for the compiled delivery (delivery_kernel.py): per level, each source's packets (group,
row, carried index); per group, where its weights, offsets and partial rows start.

Cores are put in levels (longest path from the inputs) when their connections have no cycle: a
level only hears from lower levels, which lets the simulator run a level many ticks ahead of the
next (see simulator.py). Deliveries are grouped by the level they go to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import SdanncError
from ..image.model import DENDRITE_RELATIVE, ChipImage
from ..image.mesh import Mesh

# int32 partial sums are exact while every one stays below 2^31.
_INT32_EXACT = 1 << 31


@dataclass
class DendriteGroup:
    core: int  # image core index
    base: int  # global index of the core's first neuron
    n_neurons: int
    relative: bool
    offsets: np.ndarray  # [taps]: neuron ids (absolute) or offsets from the carried index (relative)
    weights: np.ndarray  # [rows, taps]
    span: int  # number of distinct carried-index values (relative), 1 for absolute


@dataclass
class LevelPackets:
    """The packets into one level's cores, group by group and, within a group, in runs from one
    sending core (so over one route): group gi's runs are group_run_ptr[gi]..group_run_ptr[gi+1],
    run ri's packets run_ptr[ri]..run_ptr[ri+1]. `source` is the index among the level's sources."""

    groups: np.ndarray
    group_run_ptr: np.ndarray
    run_ptr: np.ndarray
    run_route: np.ndarray
    run_from: np.ndarray  # sending core, -1 for the controller (inputs)
    run_hops: np.ndarray
    source: np.ndarray
    row: np.ndarray
    carried: np.ndarray  # 0 for absolute dendrites


@dataclass
class Packets:
    """All packets, in CSR order by source: source s sends packets ptr[s]..ptr[s+1]."""

    ptr: np.ndarray
    group: np.ndarray
    row: np.ndarray
    carried: np.ndarray  # carried index, shifted into the group's normalised offsets
    core: np.ndarray  # destination core
    hops: np.ndarray
    pair: np.ndarray  # route id: (source node, destination node)
    from_core: np.ndarray  # source core, -1 for the controller


def core_grid(image: ChipImage) -> np.ndarray:
    """Mesh position -> image core index (-1 where the image has no core)."""
    grid = np.full(image.target.grid_size, -1, dtype=np.int64)  # a board's: over all its chips
    for i, c in enumerate(image.cores):
        grid[c.x, c.y] = i
    return grid


def axon_entries(core) -> tuple[np.ndarray, np.ndarray]:
    """(neuron, axon target entry) for every entry of the core's axon lists."""
    counts = core.axon_ptr[:, 1]
    neuron = np.repeat(np.arange(core.n_neurons), counts)
    entry = np.repeat(core.axon_ptr[:, 0] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
    return neuron, entry.astype(np.int64)


def image_core_levels(image: ChipImage) -> tuple[np.ndarray, bool]:
    """core_levels over the cores' axon targets."""
    grid = core_grid(image)
    sources, dests = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for c, core in enumerate(image.cores):
        _, entry = axon_entries(core)
        tgt = core.axon_targets[entry]
        dests.append(grid[core.x + tgt[:, 0], core.y + tgt[:, 1]].astype(np.int64))
        sources.append(np.full(entry.size, c, dtype=np.int64))
    return core_levels(len(image.cores), np.concatenate(sources), np.concatenate(dests))


class Network:
    def __init__(self, image: ChipImage, core_base: np.ndarray, where: str, core_level: np.ndarray) -> None:
        self.image = image
        self.where = where
        self.core_base = core_base
        self.n_neurons = int(sum(c.n_neurons for c in image.cores))
        self.n_inputs = image.io.n_inputs
        self.mesh = Mesh(image.target)
        self.groups: list[DendriteGroup] = []
        self._dendrite_slot: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # per core: group, row, shift
        for index, core in enumerate(image.cores):
            self._group_core(index, core)
        self.packets = self._build_packets()
        self._choose_precision()
        self._source_totals()
        self.core_level = core_level
        self.n_levels = int(self.core_level.max(initial=0)) + 1
        source, level = self._packet_sources(), self.core_level[self.packets.core]  # of every packet
        self._level_sources(source, level)
        self._group_products(source, level)

    # ---- dendrite groups ------------------------------------------------------------------------
    def _group_core(self, index: int, core) -> None:
        """Group the core's dendrites by (kind, neuron-id list), relative lists shifted to start at 0,
        a list length at a time (one sort of the lists as byte strings)."""
        d = core.dendrites.astype(np.int64)
        group_of = np.zeros(core.n_dendrites, dtype=np.int64)
        row_of = np.zeros(core.n_dendrites, dtype=np.int64)
        shift_of = np.zeros(core.n_dendrites, dtype=np.int64)
        for length in np.unique(d[:, 2]).tolist():
            dends = np.flatnonzero(d[:, 2] == length)
            ids = core.ids[d[dends, 1][:, None] + np.arange(length)].astype(np.int64)
            relative = d[dends, 0] == DENDRITE_RELATIVE
            if length:
                shift_of[dends] = np.where(relative, ids.min(axis=1), 0)
            ids -= shift_of[dends][:, None]
            keys = np.ascontiguousarray(np.concatenate([relative[:, None].astype(np.int64), ids], axis=1))
            _, first, which = np.unique(keys.view(np.dtype((np.void, keys.shape[1] * 8))).ravel(),
                                        return_index=True, return_inverse=True)
            for u in np.argsort(first, kind="stable").tolist():  # groups in order of first appearance
                members = dends[which == u]
                rows = core.weights[d[members, 3][:, None] + np.arange(length)].astype(np.int64)
                group_of[members] = len(self.groups)
                row_of[members] = np.arange(members.size)
                self.groups.append(DendriteGroup(index, int(self.core_base[index]), core.n_neurons,
                                                 bool(relative[first[u]]), ids[first[u]], rows, 1))
        self._dendrite_slot.append((group_of, row_of, shift_of))

    # ---- packets --------------------------------------------------------------------------------
    def _neuron_packets(self):
        """(source, dest core, dendrite, carried index, source core) for every neuron's axon entries."""
        grid = core_grid(self.image)
        cols = [[] for _ in range(5)]
        for c, core in enumerate(self.image.cores):
            neuron, entry = axon_entries(core)
            if not neuron.size:
                continue
            tgt = core.axon_targets[entry]
            dest = grid[core.x + tgt[:, 0], core.y + tgt[:, 1]]
            for col, values in zip(cols, (self.core_base[c] + neuron, dest, tgt[:, 2], tgt[:, 3], np.full(neuron.size, c))):
                col.append(values)
        return [np.concatenate(col) if col else np.zeros(0, dtype=np.int64) for col in cols]

    def _input_packets(self):
        io = self.image.io
        element = np.repeat(np.arange(self.n_inputs), np.diff(io.input_ptr))
        return [self.n_neurons + element, io.input_core, io.input_dendrite, io.input_index,
                np.full(element.size, -1, dtype=np.int64)]

    def _build_packets(self) -> Packets:
        parts = [self._neuron_packets(), self._input_packets()]
        src, core, dend, carried, from_core = (np.concatenate([p[i] for p in parts]).astype(np.int64) for i in range(5))
        order = np.argsort(src, kind="stable")
        src, core, dend, carried, from_core = (a[order] for a in (src, core, dend, carried, from_core))
        group = np.empty(src.size, dtype=np.int64)
        row = np.empty(src.size, dtype=np.int64)
        for c in np.unique(core):
            sel = core == c
            group_of, row_of, shift_of = self._dendrite_slot[int(c)]
            group[sel], row[sel] = group_of[dend[sel]], row_of[dend[sel]]
            carried[sel] = carried[sel] + shift_of[dend[sel]]
        self._check_relative_targets(group, carried)
        nodes = self._node_ids(from_core, core)
        pairs, pair, _ = unique_rows(nodes)
        self._pairs = pairs
        hops = self.mesh.hops(pairs)[pair] if pairs.size else np.zeros(0, dtype=np.int64)
        n_sources = self.n_neurons + self.n_inputs
        ptr = np.searchsorted(src, np.arange(n_sources + 1)).astype(np.int64)
        return Packets(ptr, group, row, carried, core, hops, pair.reshape(-1).astype(np.int64), from_core)

    def _node_ids(self, from_core: np.ndarray, core: np.ndarray) -> np.ndarray:
        xy = np.asarray([(c.x, c.y) for c in self.image.cores] + [self.image.target.controller], dtype=np.int64)
        src_xy = xy[np.where(from_core < 0, len(self.image.cores), from_core)]
        dst_xy = xy[core]
        width = self.image.target.grid_size[0]
        return np.stack([src_xy[:, 1] * width + src_xy[:, 0], dst_xy[:, 1] * width + dst_xy[:, 0]], axis=1)

    def _check_relative_targets(self, group: np.ndarray, carried: np.ndarray) -> None:
        """A relative dendrite must land inside its core for every index a spike can carry into it."""
        lowest = np.full(len(self.groups), np.iinfo(np.int64).max)
        highest = np.full(len(self.groups), -1)
        np.minimum.at(lowest, group, carried)  # one pass over the packets, not one per group
        np.maximum.at(highest, group, carried)
        for g in np.flatnonzero(highest >= 0):
            grp = self.groups[int(g)]
            if not grp.relative:
                continue
            if grp.offsets.size and (lowest[g] + grp.offsets.min() < 0 or
                                     highest[g] + grp.offsets.max() >= grp.n_neurons):
                core = self.image.cores[grp.core]
                raise SdanncError(f"image {self.where}: core {core.name}: a relative dendrite reaches a neuron outside "
                                  f"the core's {grp.n_neurons} for some carried index: recompile")
            grp.span = int(highest[g]) + 1

    def _choose_precision(self) -> None:
        """int32 weights and partial sums where no partial sum of a group can overflow them, int64 elsewhere."""
        p = self.packets
        if p.group.size:
            _, _, counts = unique_rows(np.stack([p.group, p.row, p.carried], axis=1))
            most_hits = int(counts.max())  # sources that can share one (dendrite, index) in a tick
        else:
            most_hits = 1
        bound = max((most_hits * int(np.abs(g.weights).sum(axis=0).max()) for g in self.groups if g.weights.size),
                    default=0)
        self.weight_dtype = np.int32 if bound < _INT32_EXACT else np.int64

    def _source_totals(self) -> None:
        """Flits per route: the delivery counts packets per route, a window's flits per link are then one product."""
        target = self.image.target
        flits = target.noc["flits_per_packet"]
        self.n_routes = len(self._pairs)
        incidence = self.mesh.pair_link_matrix(self._pairs)
        self.route_link_flits = (incidence * flits).tocsr().astype(np.int64)
        # On a board: which links join chips, and each route's delay in cycles (hops, and the
        # chip-to-chip links' latency for each crossing; docs/board.md).
        self.chip_links = self.mesh.chip_links() if target.is_board else None
        if self.chip_links is not None:
            crossings = np.asarray(incidence @ self.chip_links.astype(np.int64)).ravel()
            hops = self.mesh.hops(self._pairs) if self.n_routes else np.zeros(0, dtype=np.int64)
            self.route_delay = (hops * target.cycles["per_hop"]
                                + crossings * target.chip_links["latency_cycles"]).astype(np.int64)
            # each route's receiving core: whose sample window its packets belong to (sim/windows.py)
            width = self.mesh.width
            dest = self._pairs[:, 1] if self.n_routes else np.zeros(0, dtype=np.int64)
            self.route_dest = core_grid(self.image)[dest % width, dest // width]

    # ---- the delivery's tables ------------------------------------------------------------------
    def _packet_sources(self) -> np.ndarray:
        p = self.packets
        return np.repeat(np.arange(p.ptr.size - 1), np.diff(p.ptr))

    def _level_sources(self, source: np.ndarray, level: np.ndarray) -> None:
        """Per level, the sources that send to it (neurons first, then inputs), in id order."""
        self.level_sources = [np.unique(source[level == lv]) for lv in range(self.n_levels)]
        self.level_input_sources = [s[s >= self.n_neurons] - self.n_neurons for s in self.level_sources]

    def _group_products(self, source: np.ndarray, level: np.ndarray) -> None:
        """Flat tables the delivery kernel reads (sdannc/sim/delivery_kernel.py): each group's weights
        and offsets, and per level its packets group by group."""
        p = self.packets
        groups = self.groups
        taps = np.asarray([g.offsets.size for g in groups], dtype=np.int64)
        rows = np.asarray([g.weights.shape[0] for g in groups], dtype=np.int64)
        self.g_taps = taps
        self.g_span = np.asarray([g.span for g in groups], dtype=np.int64)
        self.g_base = np.asarray([g.base for g in groups], dtype=np.int64)
        self.g_wbase = _starts(rows * taps)
        self.g_obase = _starts(taps)
        # Taps in offset order: a partial row then goes into its neurons in memory order.
        self.weights = np.empty(int((rows * taps).sum()), dtype=self.weight_dtype)
        self.offsets = np.empty(int(taps.sum()), dtype=np.int64)
        for g, grp in enumerate(groups):
            order = np.argsort(grp.offsets, kind="stable")
            self.offsets[self.g_obase[g]:self.g_obase[g] + taps[g]] = grp.offsets[order]
            self.weights[self.g_wbase[g]:self.g_wbase[g] + rows[g] * taps[g]].reshape(rows[g], taps[g])[...] = \
                grp.weights[:, order]
        self.g_core = np.asarray([g.core for g in groups], dtype=np.int64)
        self.partial_per_column = int((self.g_span * taps).max(initial=1))  # a group's partial rows
        self.span_per_column = int(self.g_span.max(initial=1))
        relative = np.asarray([g.relative for g in groups] + [False], dtype=bool)
        carried = np.where(relative[p.group], p.carried, 0)
        self.level_packets = [self._level_packets(lv, np.flatnonzero(level == lv), source, carried)
                              for lv in range(self.n_levels)]
        # Per level, its cores' neurons (first, count): the delivery clears and saturates their sums.
        n_neurons = np.asarray([c.n_neurons for c in self.image.cores], dtype=np.int64)
        cores = [np.flatnonzero(self.core_level == lv) for lv in range(self.n_levels)]
        self.level_cores = [(self.core_base[c].astype(np.int64), n_neurons[c]) for c in cores]

    def _level_packets(self, lv: int, mine: np.ndarray, source: np.ndarray, carried: np.ndarray) -> LevelPackets:
        p = self.packets
        mine = mine[np.argsort(p.group[mine], kind="stable")]  # group by group, sources in order within
        group, route = p.group[mine], p.pair[mine]
        new_run = np.ones(mine.size, dtype=bool)
        new_run[1:] = (group[1:] != group[:-1]) | (route[1:] != route[:-1])
        run_start = np.flatnonzero(new_run)
        group_ids, first_run = np.unique(group[run_start], return_index=True)
        return LevelPackets(
            groups=group_ids.astype(np.int64), group_run_ptr=np.append(first_run, run_start.size).astype(np.int64),
            run_ptr=np.append(run_start, mine.size).astype(np.int64), run_route=route[run_start].astype(np.int64),
            run_from=p.from_core[mine][run_start].astype(np.int64), run_hops=p.hops[mine][run_start].astype(np.int64),
            source=np.searchsorted(self.level_sources[lv], source[mine]).astype(np.int64),
            row=p.row[mine], carried=carried[mine])

    @property
    def n_links(self) -> int:
        return self.mesh.n_links


def unique_rows(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """np.unique(rows, axis=0, return_inverse=True, return_counts=True) for rows of non-negative
    integers, through one int64 key per row (sorting rows as records is several times slower)."""
    rows = np.asarray(rows, dtype=np.int64)
    if not rows.size:
        return rows, np.zeros(len(rows), dtype=np.int64), np.zeros(0, dtype=np.int64)
    radix = rows.max(axis=0) + 1
    if float(np.prod(radix.astype(np.float64))) >= 2.0 ** 62:
        return np.unique(rows, axis=0, return_inverse=True, return_counts=True)
    key = np.zeros(len(rows), dtype=np.int64)
    for column, r in zip(rows.T, radix):
        key = key * r + column
    _, first, inverse, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    return rows[first], inverse.reshape(-1), counts


def _starts(sizes: np.ndarray) -> np.ndarray:
    return (np.cumsum(sizes) - sizes).astype(np.int64)


def core_levels(n_cores: int, from_core: np.ndarray, to_core: np.ndarray) -> tuple[np.ndarray, bool]:
    """Longest-path level of each core over core-to-core packets, and whether there is no cycle.

    With a cycle (a core that hears from itself, directly or not) every core is put in level 0.
    """
    sent = from_core >= 0
    edges = unique_rows(np.stack([from_core[sent], to_core[sent]], axis=1).astype(np.int64))[0]
    level = np.zeros(n_cores, dtype=np.int64)
    indegree = np.bincount(edges[:, 1], minlength=n_cores)
    ptr = np.searchsorted(edges[:, 0], np.arange(n_cores + 1))
    ready = list(np.flatnonzero(indegree == 0))
    seen = 0
    while ready:
        core = ready.pop()
        seen += 1
        for dest in edges[ptr[core]:ptr[core + 1], 1]:
            level[dest] = max(level[dest], level[core] + 1)
            indegree[dest] -= 1
            if indegree[dest] == 0:
                ready.append(dest)
    if seen < n_cores:
        return np.zeros(n_cores, dtype=np.int64), False
    return level, True
