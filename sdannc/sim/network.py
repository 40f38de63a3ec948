"""Per-tick connectivity, built once when an image is loaded.

Every spike source (a neuron, or an element of the input, injected at the controller) has a list
of packets: destination core, dendrite, the neuron index the spike carries, hops, and route.
Dendrites of a core whose neuron-id lists are equal (relative lists: equal up to a constant shift)
form a group; a group's weight lists are the rows of one matrix, so that deliveries to the group
are matrix products: spikes of its sources -> counts per (dendrite, carried index) (a sparse 0/1
matrix, `spread`), counts @ weights, and the sums per (tap, carried index) -> neurons (`scatter`).
Every tick and lane of a window is a column of these products.

Cores are put in levels (longest path from the inputs) when their connections have no cycle: a
level only hears from lower levels, which lets the simulator run a level many ticks ahead of the
next (see simulator.py). Deliveries are grouped by the level they go to.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse

from ..errors import SdanncError
from ..image.model import DENDRITE_RELATIVE, ChipImage
from .noc import Mesh

# float32 adds integers exactly while every partial sum stays below 2^24.
_FLOAT32_EXACT = 1 << 24


@dataclass
class DendriteGroup:
    core: int  # image core index
    base: int  # global index of the core's first neuron
    n_neurons: int
    relative: bool
    offsets: np.ndarray  # [taps]: neuron ids (absolute) or offsets from the carried index (relative)
    weights: np.ndarray  # [rows, taps] float32 or float64
    span: int  # number of distinct carried-index values (relative), 1 for absolute
    level: int = 0  # level of the group's core
    spread: scipy.sparse.csr_matrix = None  # [rows x span, sources of the level]: spikes -> counts
    scatter: scipy.sparse.csr_matrix = None  # [neurons, taps x span] float64: partial sums -> neurons
    direct: scipy.sparse.csr_matrix = None  # [neurons, sources of the level] float64, where cheaper


@dataclass
class Packets:
    """All packets, in CSR order by source: source s sends packets ptr[s]..ptr[s+1]."""

    ptr: np.ndarray
    group: np.ndarray
    row: np.ndarray
    carried: np.ndarray  # carried index, shifted into the group's normalised offsets
    core: np.ndarray  # destination core
    sops: np.ndarray  # synaptic operations the packet causes (its dendrite's list length)
    hops: np.ndarray
    pair: np.ndarray  # route id: (source node, destination node)
    from_core: np.ndarray  # source core, -1 for the controller


def core_grid(image: ChipImage) -> np.ndarray:
    """Mesh position -> image core index (-1 where the image has no core)."""
    mesh = image.target.mesh
    grid = np.full((mesh["width"], mesh["height"]), -1, dtype=np.int64)
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
        self._level_sources()
        self._group_products()

    # ---- dendrite groups ------------------------------------------------------------------------
    def _group_core(self, index: int, core) -> None:
        d = core.dendrites
        group_of = np.zeros(core.n_dendrites, dtype=np.int64)
        row_of = np.zeros(core.n_dendrites, dtype=np.int64)
        shift_of = np.zeros(core.n_dendrites, dtype=np.int64)
        members: dict[tuple, list[int]] = {}
        for dend in range(core.n_dendrites):
            kind, start, length, _ = (int(v) for v in d[dend])
            ids = core.ids[start:start + length]
            if kind == DENDRITE_RELATIVE and length:
                shift_of[dend] = int(ids.min())
                ids = ids - shift_of[dend]
            members.setdefault((kind, ids.tobytes()), []).append(dend)
        for (kind, _), dends in members.items():
            kind0, start, length, _ = (int(v) for v in d[dends[0]])
            offsets = core.ids[start:start + length] - shift_of[dends[0]]
            rows = np.stack([core.weights[int(d[x, 3]):int(d[x, 3]) + length] for x in dends]) if length else \
                np.zeros((len(dends), 0), dtype=np.int64)
            group_of[dends] = len(self.groups)
            row_of[dends] = np.arange(len(dends))
            self.groups.append(DendriteGroup(index, int(self.core_base[index]), core.n_neurons,
                                             kind == DENDRITE_RELATIVE, offsets.astype(np.int64), rows, 1))
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
        sops = np.empty(src.size, dtype=np.int64)
        for c in np.unique(core):
            sel = core == c
            group_of, row_of, shift_of = self._dendrite_slot[int(c)]
            group[sel], row[sel] = group_of[dend[sel]], row_of[dend[sel]]
            carried[sel] = carried[sel] + shift_of[dend[sel]]
            sops[sel] = self.image.cores[int(c)].dendrites[dend[sel], 2]
        self._check_relative_targets(group, carried)
        nodes = self._node_ids(from_core, core)
        pairs, pair = np.unique(nodes, axis=0, return_inverse=True) if nodes.size else (np.zeros((0, 2), np.int64), nodes[:, 0])
        self._pairs = pairs
        hops = self.mesh.hops(pairs)[pair] if pairs.size else np.zeros(0, dtype=np.int64)
        n_sources = self.n_neurons + self.n_inputs
        ptr = np.searchsorted(src, np.arange(n_sources + 1)).astype(np.int64)
        return Packets(ptr, group, row, carried, core, sops, hops, pair.reshape(-1).astype(np.int64), from_core)

    def _node_ids(self, from_core: np.ndarray, core: np.ndarray) -> np.ndarray:
        xy = np.asarray([(c.x, c.y) for c in self.image.cores] + [self.image.target.controller], dtype=np.int64)
        src_xy = xy[np.where(from_core < 0, len(self.image.cores), from_core)]
        dst_xy = xy[core]
        width = self.image.target.mesh["width"]
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
        """float32 where every partial sum of a group's product is provably exact, float64 elsewhere."""
        p = self.packets
        if p.group.size:
            key = np.stack([p.group, p.row, p.carried], axis=1)
            _, counts = np.unique(key, axis=0, return_counts=True)
            most_hits = int(counts.max())  # sources that can share one (dendrite, index) in a tick
        else:
            most_hits = 1
        for grp in self.groups:
            bound = most_hits * (np.abs(grp.weights).sum(axis=0).max() if grp.weights.size else 0)
            grp.weights = grp.weights.astype(np.float32 if bound < _FLOAT32_EXACT else np.float64)

    def _source_totals(self) -> None:
        """What one spike of each source costs, per core and per route: a tick's counts are a product."""
        p = self.packets
        n_sources = p.ptr.size - 1
        source = np.repeat(np.arange(n_sources), np.diff(p.ptr))
        n_cores = len(self.image.cores)

        def by_source(columns, width, weights=None):
            data = np.ones(source.size, dtype=np.int64) if weights is None else weights
            return scipy.sparse.csr_matrix((data, (source, columns)), shape=(n_sources, width))

        self.source_sops = by_source(p.core, n_cores, p.sops)
        self.source_packets_in = by_source(p.core, n_cores)
        # Flits one spike of each source puts on each link: its packets' routes, counted once here.
        flits = self.image.target.noc["flits_per_packet"]
        # Kept as two factors: routes are few and shared, so spikes -> packets per route -> links is
        # far cheaper per tick than one source x link matrix.
        self.source_routes = by_source(p.pair, len(self._pairs))
        self.route_link_flits = (self.mesh.pair_link_matrix(self._pairs) * flits).tocsr()
        self.source_packets = np.diff(p.ptr)
        self.source_hops = np.zeros(n_sources, dtype=np.int64)
        np.maximum.at(self.source_hops, source, p.hops)
        self.source_core = np.full(n_sources, -1, dtype=np.int64)
        self.source_core[source] = p.from_core
        sender = np.flatnonzero(self.source_core >= 0)  # the controller's packets are not a core's
        self.source_packets_out = scipy.sparse.csr_matrix(
            (self.source_packets[sender], (sender, self.source_core[sender])), shape=(n_sources, n_cores))
        # One product gives a tick's SOPs, packets in and packets out per core, side by side.
        self.source_core_costs = scipy.sparse.hstack(
            [self.source_sops, self.source_packets_in, self.source_packets_out], format="csr")

    # ---- products over windows of ticks --------------------------------------------------------
    def _packet_sources(self) -> np.ndarray:
        p = self.packets
        return np.repeat(np.arange(p.ptr.size - 1), np.diff(p.ptr))

    def _level_sources(self) -> None:
        """Per level, the sources that send to it (neurons first, then inputs), in id order."""
        source = self._packet_sources()
        level = self.core_level[self.packets.core]
        self.level_sources = [np.unique(source[level == lv]) for lv in range(self.n_levels)]
        self.level_neuron_sources = [s[s < self.n_neurons] for s in self.level_sources]
        self.level_input_sources = [s[s >= self.n_neurons] - self.n_neurons for s in self.level_sources]

    def _group_products(self) -> None:
        """Each group's spread (sources -> counts per row and carried index) and scatter matrices."""
        p = self.packets
        source = self._packet_sources()
        order = np.argsort(p.group, kind="stable")
        bounds = np.searchsorted(p.group[order], np.arange(len(self.groups) + 1))
        self.level_groups = [[] for _ in range(self.n_levels)]
        for g, grp in enumerate(self.groups):
            grp.level = int(self.core_level[grp.core])
            mine = order[bounds[g]:bounds[g + 1]]
            if not mine.size:
                continue
            rows = grp.weights.shape[0]
            carried = p.carried[mine] if grp.relative else np.zeros(mine.size, dtype=np.int64)
            local = np.searchsorted(self.level_sources[grp.level], source[mine])
            n_sources = self.level_sources[grp.level].size
            if _direct_is_cheaper(grp, mine.size):
                grp.direct = self._direct_matrix(grp, local, p.row[mine], carried, n_sources)
            else:
                grp.spread = scipy.sparse.csr_matrix(
                    (np.ones(mine.size, dtype=grp.weights.dtype), (p.row[mine] * grp.span + carried, local)),
                    shape=(rows * grp.span, n_sources))
                grp.scatter = self._scatter_matrix(grp)
            self.level_groups[grp.level].append(g)

    @staticmethod
    def _direct_matrix(grp: DendriteGroup, local, row, carried, n_sources: int) -> scipy.sparse.csr_matrix:
        """Source -> neuron weights of one group, every tap of every packet (duplicates add up)."""
        taps = grp.offsets.size
        neuron = grp.offsets[None, :] + (carried[:, None] if grp.relative else 0)
        values = grp.weights[row].astype(np.float64)  # [packets, taps]
        return scipy.sparse.csr_matrix((values.ravel(), (np.broadcast_to(neuron, values.shape).ravel(),
                                                         np.repeat(local, taps))), shape=(grp.n_neurons, n_sources))

    @staticmethod
    def _scatter_matrix(grp: DendriteGroup) -> scipy.sparse.csr_matrix:
        """Column (tap, carried index) adds into neuron offsets[tap] (+ the index, for relative dendrites)."""
        taps = grp.offsets.size
        carried = np.arange(grp.span) if grp.relative else np.zeros(1, dtype=np.int64)
        neuron = (grp.offsets[:, None] + carried[None, :]).ravel()
        column = np.arange(taps * grp.span)
        inside = (neuron >= 0) & (neuron < grp.n_neurons)  # indices no spike carries can point outside
        return scipy.sparse.csr_matrix((np.ones(int(inside.sum())), (neuron[inside], column[inside])),
                                       shape=(grp.n_neurons, taps * grp.span))

    @property
    def n_links(self) -> int:
        return self.mesh.n_links


# Rough cost of one multiply-add in a sparse product over that of one in a dense (BLAS) one.
_SPARSE_OVER_DENSE = 30


def _direct_is_cheaper(grp: DendriteGroup, packets: int) -> bool:
    """Speed only: one sparse source -> neuron product beats spread, weights and scatter when the
    group's dendrites are few, or hold few taps, for the positions they cover."""
    rows, taps = grp.weights.shape
    factored = packets + taps * grp.span + rows * taps * grp.span / _SPARSE_OVER_DENSE
    return packets * taps < factored


def core_levels(n_cores: int, from_core: np.ndarray, to_core: np.ndarray) -> tuple[np.ndarray, bool]:
    """Longest-path level of each core over core-to-core packets, and whether there is no cycle.

    With a cycle (a core that hears from itself, directly or not) every core is put in level 0.
    """
    sent = from_core >= 0
    edges = np.unique(np.stack([from_core[sent], to_core[sent]], axis=1), axis=0) if sent.any() else \
        np.zeros((0, 2), dtype=np.int64)
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
