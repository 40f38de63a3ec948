"""The link table: every (source element -> tile's dendrite) link of the network, in one flat table.

Built once the tiles are final and numbered as image cores, and read by every later step: the axon
memory check, placement (which cores talk), wiring (each neuron's axon list) and the input map. Its
order is the order the image is built in: layer by layer, tile by tile, within a tile input by
input, and in an input the order its tables were made in; a neuron's axon list keeps that order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .addresses import INPUT

CHUNK = 1 << 23  # links at a time


@dataclass
class LinkTable:
    """The links' columns. A link's source core and neuron are looked up from its source element
    (`core_of`, `index_of`: per element id, 32-bit) instead of stored: at VGG-16's hundreds of
    millions of links, two columns fewer are gigabytes (docs/performance.md)."""

    source: np.ndarray  # the sending element's id (addresses.ElementIds)
    dest: np.ndarray  # the receiving tile's image core
    dendrite: np.ndarray  # the dendrite of that core the spike goes to
    carried: np.ndarray  # the index the spike carries
    core_of: np.ndarray  # per element id: its image core, INPUT for an input element
    index_of: np.ndarray  # per element id: its neuron on that core (for an input element: the element)

    def __len__(self) -> int:
        return int(self.source.size)

    @property
    def src_core(self) -> np.ndarray:
        """Each link's source core (a new array at every call: keep it while it is needed)."""
        return self.core_of[self.source]

    @property
    def src_index(self) -> np.ndarray:
        """Each link's source neuron on that core."""
        return self.index_of[self.source]

    def select(self, keep: np.ndarray) -> "LinkTable":
        """The links where `keep` holds (a mask or an order), as a table of their own."""
        return LinkTable(self.source[keep], self.dest[keep], self.dendrite[keep], self.carried[keep], self.core_of,
                         self.index_of)

    @classmethod
    def from_columns(cls, source, src_core, src_index, dest, dendrite, carried) -> "LinkTable":
        """A table from all six columns (hand-made tables); links of one source must agree on its core
        and neuron."""
        source = np.asarray(source, dtype=np.int64)
        count = int(source.max()) + 1 if source.size else 0
        core_of, index_of = np.zeros(count, dtype=np.int64), np.zeros(count, dtype=np.int64)
        core_of[source], index_of[source] = src_core, src_index
        if not (np.array_equal(core_of[source], src_core) and np.array_equal(index_of[source], src_index)):
            raise ValueError("links of one source element with different source cores or neurons")
        return cls(source, *(np.asarray(a, dtype=np.int64) for a in (dest, dendrite, carried)), core_of, index_of)


def link_table(layers: dict, core_of: np.ndarray, index_of: np.ndarray) -> LinkTable:
    """The table of the layers' links, their cores numbered (tiling.number_cores), given every element
    id's (core, neuron) (addresses.locate). Its arrays are 32-bit (tiling.LINK_DTYPE), the dendrites and
    carried indices 16-bit where they fit; each layer's `source`, `dendrite` and `carried` become
    views of them, so the layers hold no copy of their own."""
    parts = [layer.links for layer in layers.values()]
    sizes = [int(p.source.size) for p in parts]
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    dtype = parts[0].source.dtype if parts else np.int32
    dest = np.empty(int(bounds[-1]), dtype=dtype)
    for layer, a, b in zip(layers.values(), bounds[:-1], bounds[1:]):
        dest[a:b] = np.repeat(np.asarray(layer.cores, dtype=dtype), np.diff(layer.links.tile_start))

    def joined(name: str, narrow: bool = False) -> np.ndarray:
        out = np.empty(int(bounds[-1]), dtype=_narrowest([getattr(p, name) for p in parts], dtype) if narrow else dtype)
        for p, a, b in zip(parts, bounds[:-1], bounds[1:]):
            out[a:b] = getattr(p, name)
            setattr(p, name, out[a:b])  # the layer's copy goes; it reads the table's
        return out

    return LinkTable(joined("source"), dest, joined("dendrite", narrow=True), joined("carried", narrow=True),
                     core_of.astype(dtype), index_of.astype(dtype))


def _narrowest(arrays: list[np.ndarray], wide) -> np.dtype:
    """int16 if it holds every value of the arrays (dendrite ids and carried indices: a target's
    15- and 12-bit fields), else `wide`: 4 bytes a link less in the two columns."""
    lo = min((int(a.min()) for a in arrays if a.size), default=0)
    hi = max((int(a.max()) for a in arrays if a.size), default=0)
    info = np.iinfo(np.int16)
    return np.dtype(np.int16) if info.min <= lo and hi <= info.max else np.dtype(wide)


def routes(links: LinkTable) -> np.ndarray:
    """Distinct (source core, destination core) pairs that axons will connect, sorted (as one key per
    pair: sorting millions of rows as pairs is several times slower)."""
    cores = int(max(links.core_of.max(initial=0), links.dest.max(initial=0))) + 1
    keys = []
    for lo in range(0, len(links), CHUNK):  # a chunk at a time: int64 keys of 10^8 links are gigabytes
        src, dest = links.core_of[links.source[lo:lo + CHUNK]], links.dest[lo:lo + CHUNK]
        axons = src != INPUT
        keys.append(np.unique(src[axons].astype(np.int64) * cores + dest[axons]))
    key = np.unique(np.concatenate(keys)) if keys else np.zeros(0, dtype=np.int64)
    if not key.size:
        return np.zeros((0, 2), dtype=np.int64)
    return np.stack([key // cores, key % cores], axis=1)
