"""Per-tick connectivity, built once when an image is loaded.

Every spike source (a neuron, or an element of the input, injected at the controller) has a list
of packets: destination core, dendrite, the neuron index the spike carries, hops, and route.
Dendrites of a core whose neuron-id lists are equal (relative lists: equal up to a constant shift)
form a group; a group's weight lists are the rows of one matrix, so that one tick's deliveries to
the group are a single matrix product: (spikes per carried index x dendrite) @ (dendrite x tap).
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
    row_base: int = 0  # index of the group's first row among all groups' rows

    @property
    def dense_targets(self) -> bool:
        """Absolute ids 0..n-1 in order: sums add to a slice, no scatter needed."""
        return not self.relative and np.array_equal(self.offsets, np.arange(self.offsets.size))


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
    global_row: np.ndarray = None  # the packet's dendrite as a row among all groups' rows
    relative: np.ndarray = None  # bool: the packet's dendrite is relative
    key: np.ndarray = None  # relative packets: (group, carried index) as one position in a lane's key space


class Network:
    def __init__(self, image: ChipImage, core_base: np.ndarray, where: str) -> None:
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
        self._number_rows()
        self._source_totals()

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
        grid = self._core_grid()
        cols = [[] for _ in range(5)]
        for c, core in enumerate(self.image.cores):
            counts = core.axon_ptr[:, 1]
            if not counts.sum():
                continue
            neuron = np.repeat(np.arange(core.n_neurons), counts)
            entry = np.repeat(core.axon_ptr[:, 0] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            tgt = core.axon_targets[entry]
            dest = grid[core.x + tgt[:, 0], core.y + tgt[:, 1]]
            for col, values in zip(cols, (self.core_base[c] + neuron, dest, tgt[:, 2], tgt[:, 3], np.full(neuron.size, c))):
                col.append(values)
        return [np.concatenate(col) if col else np.zeros(0, dtype=np.int64) for col in cols]

    def _core_grid(self) -> np.ndarray:
        """Mesh position -> image core index (-1 where the image has no core)."""
        mesh = self.image.target.mesh
        grid = np.full((mesh["width"], mesh["height"]), -1, dtype=np.int64)
        for i, c in enumerate(self.image.cores):
            grid[c.x, c.y] = i
        return grid

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
        self.most_hits = most_hits
        for grp in self.groups:
            bound = most_hits * (np.abs(grp.weights).sum(axis=0).max() if grp.weights.size else 0)
            grp.weights = grp.weights.astype(np.float32 if bound < _FLOAT32_EXACT else np.float64)
        exact32 = all(g.weights.dtype == np.float32 for g in self.groups)
        self.product_dtype = np.float32 if exact32 else np.float64

    def _number_rows(self) -> None:
        """Numbering that lets a tick's deliveries be gathered without sorting packets."""
        base = 0
        for grp in self.groups:
            grp.row_base = base
            base += grp.weights.shape[0]
        self.n_rows = base
        self.group_spans = np.asarray([g.span if g.relative else 0 for g in self.groups], dtype=np.int64)
        self.group_rows = np.asarray([g.weights.shape[0] for g in self.groups], dtype=np.int64)
        self.span_base = np.concatenate([[0], np.cumsum(self.group_spans)]).astype(np.int64)
        self.total_span = int(self.span_base[-1])
        row_base = np.asarray([g.row_base for g in self.groups], dtype=np.int64)
        relative = np.asarray([g.relative for g in self.groups], dtype=bool)
        p = self.packets
        if not p.group.size:
            p.global_row, p.relative, p.key = p.row, np.zeros(0, dtype=bool), p.row
            return
        p.global_row = row_base[p.group] + p.row
        p.relative = relative[p.group]
        p.key = self.span_base[p.group] + p.carried

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
        self.source_link_flits = by_source(p.pair, len(self._pairs)) @ self.mesh.pair_link_matrix(self._pairs) * flits
        self.source_packets = np.diff(p.ptr)
        self.source_hops = np.zeros(n_sources, dtype=np.int64)
        np.maximum.at(self.source_hops, source, p.hops)
        self.source_core = np.full(n_sources, -1, dtype=np.int64)
        self.source_core[source] = p.from_core

    @property
    def n_links(self) -> int:
        return self.mesh.n_links
