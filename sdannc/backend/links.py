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


@dataclass
class LinkTable:
    source: np.ndarray  # the sending element's id (addresses.ElementIds)
    src_core: np.ndarray  # its image core, INPUT for an input element
    src_index: np.ndarray  # its neuron on that core (for an input element: the element)
    dest: np.ndarray  # the receiving tile's image core
    dendrite: np.ndarray  # the dendrite of that core the spike goes to
    carried: np.ndarray  # the index the spike carries

    def __len__(self) -> int:
        return int(self.source.size)

    def select(self, keep: np.ndarray) -> "LinkTable":
        """The links where `keep` holds (a mask or an order), as a table of their own."""
        return LinkTable(*(a[keep] for a in (self.source, self.src_core, self.src_index, self.dest,
                                             self.dendrite, self.carried)))


def link_table(layers: dict, core_of: np.ndarray, index_of: np.ndarray) -> LinkTable:
    """The table of the layers' links, their cores numbered (tiling.number_cores), given every element
    id's (core, neuron) (addresses.locate). Its arrays are 32-bit (tiling.LINK_DTYPE); each layer's
    `source`, `dendrite` and `carried` become views of them, so the layers hold no copy of their own."""
    parts = [layer.links for layer in layers.values()]
    sizes = [int(p.source.size) for p in parts]
    bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    dtype = parts[0].source.dtype if parts else np.int32
    dest = np.empty(int(bounds[-1]), dtype=dtype)
    for layer, a, b in zip(layers.values(), bounds[:-1], bounds[1:]):
        dest[a:b] = np.repeat(np.asarray(layer.cores, dtype=dtype), np.diff(layer.links.tile_start))

    def joined(name: str) -> np.ndarray:
        out = np.empty(int(bounds[-1]), dtype=dtype)
        for p, a, b in zip(parts, bounds[:-1], bounds[1:]):
            out[a:b] = getattr(p, name)
            setattr(p, name, out[a:b])  # the layer's copy goes; it reads the table's
        return out

    source = joined("source")
    table = LinkTable(source, core_of[source].astype(dtype), index_of[source].astype(dtype), dest,
                      joined("dendrite"), joined("carried"))
    return table


def routes(links: LinkTable) -> np.ndarray:
    """Distinct (source core, destination core) pairs that axons will connect, sorted (as one key per
    pair: sorting millions of rows as pairs is several times slower)."""
    axons = links.src_core != INPUT
    src, dest = links.src_core[axons], links.dest[axons]
    if not src.size:
        return np.zeros((0, 2), dtype=np.int64)
    cores = int(max(src.max(), dest.max())) + 1
    key = np.unique(src.astype(np.int64) * cores + dest)
    return np.stack([key // cores, key % cores], axis=1)
