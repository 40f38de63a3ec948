"""Neuron layers to tiles: each tile one core's neurons, its dendrite tables and its links.

A layer is built into tiles as large as its axon memory allows (counted from its consumers, which
are built first), then smaller while a tile's tables do not fit a big core's dendrite memory or
dendrite ids. The links of a layer say, for every tile, which source elements reach which of its
dendrites; they are kept flat, tile by tile and within a tile input by input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import SdanncError
from ..image.builder import CoreBuilder
from ..image.memory import dendrite_memory_words
from ..ir.graph import Graph, Node
from ..neurons import NEURON_OPS, NEURONS
from ..target import Target
from . import connect
from .addresses import INPUT, SILENT, ElementIds, element_ids, locate
from .links import LinkTable, link_table
from .partition import Tile, as_chw, local_index, tiles, wants_patches


# A link's numbers (element ids, cores, neurons, dendrites, carried indices) fit 32 bits: a board of
# 64 chips has 37 k cores and about 150 M neurons. VGG-16 at 224 makes about 107 M links, so 64-bit
# arrays would cost gigabytes more (docs/performance.md).
LINK_DTYPE = np.int32


@dataclass
class LayerLinks:
    """Every link of a layer's tiles, flat: tile by tile, within a tile input by input. Once the link
    table is built, `source`, `dendrite` and `carried` are views of its arrays (links.link_table)."""

    element: np.ndarray  # the source element, within its input tensor
    source: np.ndarray  # the same element as an element id (addresses.ElementIds)
    input: np.ndarray  # which of the node's inputs it comes from (int16)
    dendrite: np.ndarray  # the dendrite it reaches, in its tile's core
    carried: np.ndarray  # the index its spike carries
    tile_start: np.ndarray  # tile t's links are [tile_start[t], tile_start[t + 1])


@dataclass
class LayerTiles:
    node: Node
    tiles: list[Tile]
    builders: list[CoreBuilder]
    dendrite_words: list[int]  # per tile
    links: LayerLinks
    cores: list[int] = field(default_factory=list)  # ImageBuilder core indices, once the layers are final


def _tables(core: CoreBuilder, node: Node, tile: Tile, graph: Graph, target: Target,
            cache: dict | None = None) -> list[connect.Links]:
    """The tile's dendrite tables, one connection after the other; each connection's links. `cache`
    (one per layer) keeps what the layer's tiles share."""
    cache = {} if cache is None else cache
    out_shape = graph.tensors[node.output].shape
    limit = (1 << target.core["neuron_index_bits"]) - 1
    links = []
    for i, (conn, source) in enumerate(zip(node.attrs["connections"], node.inputs)):
        in_shape = graph.tensors[source].shape
        if conn["kind"] == "dense":
            link = connect.dense(core, tile, node.params[f"weight{i}"])
        elif conn["kind"] == "elementwise":
            link = connect.elementwise(core, tile, node.params[f"weight{i}"], out_shape)
        else:
            weight = node.params.get(f"weight{i}")  # none: a max window
            link = connect.window(core, tile, conn, in_shape, out_shape, weight, limit, cache.setdefault(i, {}))
        links.append(connect.Links(*(a.astype(LINK_DTYPE) for a in (link.element, link.dendrite, link.carried))))
    return links


def _flat_links(node: Node, per_tile: list[list[connect.Links]], ids: ElementIds) -> LayerLinks:
    """The tiles' links, flat; a link from a gather's padding (SILENT: code 0, never a spike) is none."""
    parts = [(i, link, ids.of[node.inputs[i]][link.element]) for tile_links in per_tile
             for i, link in enumerate(tile_links)]
    parts = [(i, link, source, source != SILENT) for i, link, source in parts]
    per = iter(parts)
    sizes = np.asarray([0] + [sum(int(next(per)[3].sum()) for _ in tile_links) for tile_links in per_tile])

    def joined(arrays, dtype=LINK_DTYPE) -> np.ndarray:
        return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype=dtype)

    return LayerLinks(
        element=joined([link.element[keep] for _, link, _, keep in parts]),
        source=joined([source[keep] for _, _, source, keep in parts]),
        input=joined([np.full(int(keep.sum()), i, dtype=np.int16) for i, _, _, keep in parts], np.int16),
        dendrite=joined([link.dendrite[keep] for _, link, _, keep in parts]),
        carried=joined([link.carried[keep] for _, link, _, keep in parts]),
        tile_start=np.cumsum(sizes))


def lookup_channels(node: Node, shape, target: Target, max_neurons: int) -> int:
    """The most channels a tile of the layer may hold for its lookup memory (the neuron model's
    lookup_words: integration exact's tables and records) to fit a core's: tiles of consecutive
    channels keep a core's tables as few as the channel order allows. The words only grow with the
    channels, so the largest that fits is found by bisection over the layer's tiles."""
    model = NEURONS[node.op]
    channels = as_chw(shape)[0]
    patch = wants_patches(shape, target.core["neurons"])

    def fits(per: int) -> bool:
        return all(model.lookup_words(node, local_index(t, shape)[0], shape) <= target.core.get("lut_words", 0)
                   for t in tiles(shape, max_neurons, per, patch=patch))

    everything = np.arange(int(np.prod(shape)))
    if model.lookup_words(node, everything, shape) <= target.core.get("lut_words", 0) or fits(channels):
        return channels  # (the words only grow with the neurons: if the whole layer fits, every tile does)
    good, bad = 0, channels
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if fits(middle) else (good, middle)
    return max(good, 1)  # (one channel that does not fit: init_core says so, the rows are halved)


def build_layer(node: Node, graph: Graph, target: Target, max_neurons: int, ids: ElementIds) -> LayerTiles:
    """Tiles as large as `max_neurons` allows; smaller while the tables do not fit a big core."""
    shape = graph.tensors[node.output].shape
    channels, rows, _ = as_chw(shape)
    max_channels, max_rows = lookup_channels(node, shape, target, max_neurons), rows
    patch = wants_patches(shape, target.core["neurons"])
    model = NEURONS[node.op]
    program = model.program(node, target)
    while True:
        parts = tiles(shape, max_neurons, max_channels, max_rows, patch=patch)
        patched = parts[0].x1 is not None
        builders, words_per_tile, per_tile, cache = [], [], [], {}
        try:
            for tile in parts:
                core = CoreBuilder(-1, -1, program, tile.neurons(shape), target.core["state_fields"])
                flat = local_index(tile, shape)[0]
                lookup = model.lookup_words(node, flat, shape)
                if lookup > target.core.get("lut_words", 0):  # (integration exact's tables and records)
                    raise connect.TileTooLarge(f"need {lookup} words of lookup memory, a core has "
                                               f"{target.core.get('lut_words', 0)}")
                model.init_core(core, node, flat, shape)
                per_tile.append(_tables(core, node, tile, graph, target, cache))
                built = core.build()
                words = dendrite_memory_words(built, target)
                if words > target.core["dendrite_memory_words"]["big"]:
                    raise connect.TileTooLarge(f"need {words} words of dendrite memory, a big core has "
                                               f"{target.core['dendrite_memory_words']['big']}")
                if built.n_dendrites > 1 << target.core["dendrite_id_bits"]:
                    raise connect.TileTooLarge(f"need {built.n_dendrites} dendrites, a core addresses "
                                               f"{1 << target.core['dendrite_id_bits']}")
                builders.append(core)
                words_per_tile.append(words)
            return LayerTiles(node, parts, builders, words_per_tile, _flat_links(node, per_tile, ids))
        except connect.TileTooLarge as too_large:
            if patched:  # a patch's tables have more border classes than a band's: bands, as wide as before
                patch = False
            elif max_channels > 1:
                max_channels = max(1, min(max_channels, parts[0].channels) // 2)
            elif max_rows > 1:
                max_rows = max(1, min(max_rows, parts[0].rows) // 2)
            else:
                raise SdanncError(f"layer {node.name}: the tables of a single neuron's tile {too_large}: "
                                  f"use fewer input channels or a smaller kernel") from None


def axon_cap(shape, entries: np.ndarray, target: Target) -> int:
    """The most neurons per core, halving from a full core, for which every core's axon lists fit
    its axon memory, given how many axon entries each neuron of the layer needs (at least a row)."""
    t = target.tables
    words = t["axon_pointer_words"] + entries * t["axon_entry_words"]
    cap, columns = target.core["neurons"], as_chw(shape)[2]
    patch = wants_patches(shape, target.core["neurons"])

    def worst(neurons: int) -> tuple[int, int]:  # the fullest core's axon words, the largest tile's neurons
        parts = tiles(shape, neurons)  # (bands: a patch of as many neurons needs about as many words)
        return (max(int(words[local_index(tile, shape)[0]].sum()) for tile in parts),
                max(tile.neurons(shape) for tile in parts))

    while True:
        words_needed, largest = worst(cap)
        if words_needed <= target.core["axon_memory_words"] or largest // 2 < columns:
            break
        cap = largest // 2
    if not patch or cap == target.core["neurons"] or words_needed > target.core["axon_memory_words"]:
        return cap
    # A layer of wide rows (wants_patches) feeds many cores and makes its producers' caps smaller in
    # turn: a cap of whole rows' worth between the halvings (bisection) keeps its tiles larger.
    good, bad = cap // columns, min(2 * cap, target.core["neurons"]) // columns
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if worst(middle * columns)[0] <= target.core["axon_memory_words"] else (good, middle)
    return good * columns


def check_sizes(graph: Graph, sizes: dict[str, int] | None, target: Target) -> dict[str, int]:
    """The config's `tiling:` neurons per tile, by neuron layer: a name the graph has, and a size of at
    least one output row (a tile holds whole rows)."""
    sizes = dict(sizes or {})
    names = {node.name: node for node in graph.nodes if node.op in NEURON_OPS}
    for name, neurons in sizes.items():
        if name not in names:
            known = ", ".join(list(names)[:12]) + (", ..." if len(names) > 12 else "")
            raise SdanncError(f"config: tiling.{name}: no neuron layer of that name; the layers are {known}")
        columns = as_chw(graph.tensors[names[name].output].shape)[2]
        if neurons < columns:
            raise SdanncError(f"config: tiling.{name}: {neurons} neurons is less than one output row of the layer "
                              f"({columns} neurons): a tile holds whole rows; use at least {columns}")
    return sizes


def _build_last_first(graph: Graph, target: Target, ids: ElementIds,
                      status: Callable[[str], None], sizes: dict[str, int]) -> dict[str, LayerTiles]:
    """Every neuron layer, in graph order, built from the last to the first: a layer's consumers
    then tell how many axon entries each of its neurons needs (one per link), so its neurons per
    core are chosen for the axon memory before its tables are built, instead of rebuilt after."""
    entries = np.zeros(ids.count, dtype=np.int64)
    built = {}
    order = list(reversed([node for node in graph.nodes if node.op in NEURON_OPS]))
    for i, node in enumerate(order):
        status(f"building layer {node.name} ({i + 1} of {len(order)})")
        start, size = ids.first[node.output], graph.tensors[node.output].size
        cap = axon_cap(graph.tensors[node.output].shape, entries[start:start + size], target)
        cap = min(cap, sizes.get(node.name, cap))
        layer = built[node.output] = build_layer(node, graph, target, cap, ids)
        entries += np.bincount(layer.links.source, minlength=ids.count)
    return {node.output: built[node.output] for node in graph.nodes if node.op in NEURON_OPS}


def number_cores(layers: dict[str, LayerTiles]) -> list[CoreBuilder]:
    """Every tile's core, layer by layer: a tile's place in this list is its image core index."""
    cores = []
    for layer in layers.values():
        layer.cores = list(range(len(cores), len(cores) + len(layer.builders)))
        cores.extend(layer.builders)
    return cores


def _axon_overflows(layers: dict[str, LayerTiles], cores: list[CoreBuilder], links: LinkTable,
                    target: Target) -> dict[str, tuple[int, int]]:
    """Layers whose cores would need more axon memory than a core has -> (words, largest core's neurons).

    Counted before placement from the links: each link is one axon entry of its source neuron.
    """
    src = links.src_core
    entries = np.bincount(src[src != INPUT], minlength=len(cores))
    t = target.tables
    neurons = np.asarray([c.state.shape[0] for c in cores], dtype=np.int64)
    words = neurons * t["axon_pointer_words"] + entries * t["axon_entry_words"]
    over = {}
    for output, layer in layers.items():
        worst = max((int(words[c]) for c in layer.cores), default=0)
        if worst > target.core["axon_memory_words"]:
            over[output] = (worst, max(int(neurons[c]) for c in layer.cores))
    return over


@dataclass
class Tiling:
    """The layers' final tiles, numbered as image cores, and every link of them in one table."""

    layers: dict[str, LayerTiles]
    cores: list[CoreBuilder]  # the image's cores, in core index order
    ids: ElementIds
    core_of: np.ndarray  # per element id: its image core (INPUT for the graph's input)
    index_of: np.ndarray  # per element id: its neuron on that core
    links: LinkTable


def tile(graph: Graph, target: Target, status: Callable[[str], None] | None = None,
         sizes: dict[str, int] | None = None) -> Tiling:
    """Every layer's tiles and tables as the image will hold them (before placement); `sizes` (the
    config's `tiling:`) caps the neurons per tile of the layers it names.

    Where a layer's cores still overflow their axon memory (tiles split for dendrite memory can
    gather more axon entries than the tiles its neurons per core were chosen for), halve its neurons
    per core and rebuild that layer alone (its consumers' tables do not change)."""
    status = status or (lambda text: None)
    ids = element_ids(graph)
    layers = _build_last_first(graph, target, ids, status, check_sizes(graph, sizes, target))
    while True:
        cores = number_cores(layers)
        core_of, index_of = locate(graph, ids, layers)
        links = link_table(layers, core_of, index_of)
        over = _axon_overflows(layers, cores, links, target)
        if not over:
            return Tiling(layers, cores, ids, core_of, index_of, links)
        for output, (words, neurons) in over.items():
            layer = layers[output]
            columns = as_chw(graph.tensors[output].shape)[2]
            if neurons // 2 < columns:  # a core holds at least one row
                held = "one neuron's axon list needs" if neurons <= 1 else \
                    f"the axon lists of {neurons} neurons (a core holds at least a row of {columns}) need"
                raise SdanncError(f"layer {layer.node.name}: {held} {words} words, a core has "
                                  f"{target.core['axon_memory_words']}: it feeds too many cores; use fewer "
                                  f"channels in the next layer")
            status(f"rebuilding layer {layer.node.name} with {neurons // 2} neurons per core (axon memory)")
            layers[output] = build_layer(layer.node, graph, target, neurons // 2, ids)


def build_layers(graph: Graph, target: Target, status: Callable[[str], None] | None = None,
                 sizes: dict[str, int] | None = None) -> dict[str, LayerTiles]:
    """tile()'s layers alone: what `sdannc tune` counts synapses with (no placement needed)."""
    return tile(graph, target, status, sizes).layers
