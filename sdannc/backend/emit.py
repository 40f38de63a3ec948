"""From a hardware-level IR graph to a chip image: tiles, tables, placement, axons, I/O, schedule."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import SdanncError
from ..image import ChipImage, ImageBuilder, Schedule
from ..image.builder import CoreBuilder
from ..image.memory import dendrite_memory_words
from ..ir.codes import CODE_BITS
from ..ir.depths import depths
from ..ir.graph import Graph, Node
from ..neurons import NEURON_OPS, NEURONS
from ..target import Target
from . import connect
from .partition import Tile, as_chw, local_index, tiles
from .placement import place

INPUT = -1  # the core of an element that comes from the input (through the controller)


@dataclass
class LayerCores:
    node: Node
    tiles: list[Tile]
    builders: list[CoreBuilder] = field(default_factory=list)
    cores: list[int] = field(default_factory=list)  # ImageBuilder core indices, once the layers are final
    dendrite_words: list[int] = field(default_factory=list)  # per tile
    links: list[list[tuple[str, connect.Links]]] = field(default_factory=list)  # per tile: (source tensor, links)


def _tables(core: CoreBuilder, node: Node, tile: Tile, graph: Graph, target: Target) -> list:
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
            link = connect.window(core, tile, conn, in_shape, out_shape, weight, limit)
        links.append((source, link))
    return links


def _build_layer(node: Node, graph: Graph, target: Target, max_neurons: int) -> LayerCores:
    """Tiles as large as `max_neurons` allows; smaller while the tables do not fit a big core."""
    shape = graph.tensors[node.output].shape
    channels, rows, _ = as_chw(shape)
    max_channels, max_rows = channels, rows
    model = NEURONS[node.op]
    program = model.program(node, target)
    while True:
        layer = LayerCores(node, tiles(shape, max_neurons, max_channels, max_rows))
        try:
            for tile in layer.tiles:
                core = CoreBuilder(-1, -1, program, tile.channels * tile.rows * as_chw(shape)[2],
                                   target.core["state_fields"])
                model.init_core(core, node, local_index(tile, shape)[0], shape)
                layer.links.append(_tables(core, node, tile, graph, target))
                built = core.build()
                words = dendrite_memory_words(built, target)
                if words > target.core["dendrite_memory_words"]["big"]:
                    raise connect.TileTooLarge(f"need {words} words of dendrite memory, a big core has "
                                               f"{target.core['dendrite_memory_words']['big']}")
                if built.n_dendrites > 1 << target.core["dendrite_id_bits"]:
                    raise connect.TileTooLarge(f"need {built.n_dendrites} dendrites, a core addresses "
                                               f"{1 << target.core['dendrite_id_bits']}")
                layer.builders.append(core)
                layer.dendrite_words.append(words)
            return layer
        except connect.TileTooLarge as too_large:
            if max_channels > 1:
                max_channels = max(1, min(max_channels, layer.tiles[0].channels) // 2)
            elif max_rows > 1:
                max_rows = max(1, min(max_rows, layer.tiles[0].rows) // 2)
            else:
                raise SdanncError(f"layer {node.name}: the tables of a single neuron's tile {too_large}: "
                                  f"use fewer input channels or a smaller kernel") from None


def _through_aliases(graph: Graph, produced: dict[str, tuple]) -> dict[str, tuple]:
    """Per-element arrays given for the graph's input and every neuron layer's output, carried to
    every tensor: reshape, transpose and concat only rename elements."""
    values = dict(produced)
    for node in graph.nodes:
        if node.op in NEURON_OPS:
            continue
        if node.op == "reshape":
            values[node.output] = values[node.inputs[0]]
        elif node.op == "transpose":
            src = graph.tensors[node.inputs[0]]
            values[node.output] = tuple(a.reshape(src.shape).transpose(node.attrs["perm"]).reshape(-1)
                                        for a in values[node.inputs[0]])
        elif node.op == "concat":
            parts = [tuple(a.reshape(graph.tensors[i].shape) for a in values[i]) for i in node.inputs]
            values[node.output] = tuple(np.concatenate([p[k] for p in parts], axis=node.attrs["axis"]).reshape(-1)
                                        for k in range(len(parts[0])))
        else:
            raise SdanncError(f"layer {node.name}: op {node.op} reached the backend unlowered (a compiler bug)")
    return values


def _addresses(graph: Graph, layers: dict[str, LayerCores]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every tensor element as (image core, local neuron), core INPUT for the graph's input."""
    size = graph.tensors[graph.input].size
    produced = {graph.input: (np.full(size, INPUT, dtype=np.int64), np.arange(size, dtype=np.int64))}
    for node in graph.nodes:
        if node.op in NEURON_OPS:
            out = graph.tensors[node.output]
            core = np.empty(out.size, dtype=np.int64)
            index = np.empty(out.size, dtype=np.int64)
            layer = layers[node.output]
            for tile, c in zip(layer.tiles, layer.cores):
                flat, local = local_index(tile, out.shape)
                core[flat], index[flat] = c, local
            produced[node.output] = (core, index)
    return _through_aliases(graph, produced)


def neuron_addresses(graph: Graph, layers: dict[str, LayerCores]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every tensor's elements as (image core, local neuron) arrays, once the layers are numbered
    (build_image): where the simulator finds a tensor's codes (core INPUT for the graph's input)."""
    return _addresses(graph, layers)


def _link_targets(layers: dict[str, LayerCores], addr) -> tuple[np.ndarray, ...]:
    """Every (source neuron, target) pair of every link, in link order: source core and index, and
    the target's core, dendrite and carried index."""
    parts = []
    for layer in layers.values():
        for dest, tile_links in zip(layer.cores, layer.links):
            for source, link in tile_links:
                core, index = (a[link.element] for a in addr[source])
                parts.append((core, index, np.full(core.size, dest, dtype=np.int64), link.dendrite, link.carried))
    return tuple(np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, dtype=np.int64) for k in range(5))


def _group_by_source(core: np.ndarray, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """An order of the pairs that groups them by source neuron (neurons in the order they first
    appear, a neuron's targets in link order), and each group's bounds in that order."""
    if not core.size:
        return np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64)
    key = (core - INPUT) * (int(index.max()) + 1) + index
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    rank = np.empty_like(first)
    rank[np.argsort(first)] = np.arange(first.size)
    group_rank = rank[group.ravel()]
    order = np.argsort(group_rank, kind="stable")
    return order, np.concatenate([[0], np.cumsum(np.bincount(group_rank, minlength=first.size))])


def _check_route_lengths(src, dest, x, y, layers: dict[str, LayerCores], target: Target) -> None:
    """The first target (in wiring order) farther than the hop limit along an axis is an error."""
    hops = target.mesh["max_hops_per_axis"]
    far = (src != INPUT) & ((np.abs(x[dest] - x[src]) > hops) | (np.abs(y[dest] - y[src]) > hops))
    if not far.any():
        return
    r = int(np.argmax(far))
    owner = {c: layer.node.name for layer in layers.values() for c in layer.cores}
    (sx, sy), (tx, ty) = (x[src[r]], y[src[r]]), (x[dest[r]], y[dest[r]])
    raise SdanncError(f"layer {owner[int(src[r])]} -> layer {owner[int(dest[r])]}: route from core ({sx}, {sy}) to "
                      f"({tx}, {ty}) needs {abs(tx - sx)} + {abs(ty - sy)} hops, at most {hops} per axis: the layers "
                      f"lie too far apart on the mesh; use fewer cores (fewer channels, a smaller input)")


def _wire(builder: ImageBuilder, graph: Graph, layers: dict[str, LayerCores], addr, target: Target) -> None:
    """Axon lists of every neuron and the input map, from each tile's links, built as arrays: a
    neuron's list holds its targets in link order (the same lists a neuron-by-neuron build makes)."""
    src_core, src_index, dest, dendrite, carried = _link_targets(layers, addr)
    order, bounds = _group_by_source(src_core, src_index)
    src_core, src_index, dest, dendrite, carried = (a[order] for a in (src_core, src_index, dest, dendrite, carried))
    x = np.asarray([core.x for core in builder.cores], dtype=np.int64)
    y = np.asarray([core.y for core in builder.cores], dtype=np.int64)
    _check_route_lengths(src_core, dest, x, y, layers, target)
    relative = np.stack([x[dest] - x[src_core], y[dest] - y[src_core], dendrite, carried], axis=1)
    for start, end in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        c, i = int(src_core[start]), int(src_index[start])
        if c == INPUT:
            builder.map_input(i, zip(dest[start:end].tolist(), dendrite[start:end].tolist(),
                                     carried[start:end].tolist()))
        else:
            builder.core(c).set_axon_array(i, relative[start:end])


def _number_cores(layers: dict[str, LayerCores]) -> list[CoreBuilder]:
    cores = []
    for layer in layers.values():
        layer.cores = list(range(len(cores), len(cores) + len(layer.builders)))
        cores.extend(layer.builders)
    return cores


def _axon_overflows(graph: Graph, layers: dict[str, LayerCores], target: Target) -> dict[str, tuple[int, int]]:
    """Layers whose cores would need more axon memory than a core has -> (words, largest core's neurons).

    Counted before placement from the links: each link is one axon entry of its source neuron.
    """
    cores = _number_cores(layers)
    addr = _addresses(graph, layers)
    entries = np.zeros(len(cores), dtype=np.int64)
    for layer in layers.values():
        for tile_links in layer.links:
            for source, link in tile_links:
                src = addr[source][0][link.element]
                entries += np.bincount(src[src != INPUT], minlength=len(cores))
    t = target.tables
    neurons = np.asarray([c.state.shape[0] for c in cores], dtype=np.int64)
    words = neurons * t["axon_pointer_words"] + entries * t["axon_entry_words"]
    over = {}
    for output, layer in layers.items():
        worst = max((int(words[c]) for c in layer.cores), default=0)
        if worst > target.core["axon_memory_words"]:
            over[output] = (worst, max(int(neurons[c]) for c in layer.cores))
    return over


def _routes(layers: dict[str, LayerCores], addr) -> np.ndarray:
    """Distinct (source core, destination core) pairs that axons will connect."""
    pairs = []
    for layer in layers.values():
        for dest, tile_links in zip(layer.cores, layer.links):
            for source, link in tile_links:
                src = np.unique(addr[source][0][link.element])
                src = src[src != INPUT]
                pairs.append(np.stack([src, np.full(src.size, dest)], axis=1))
    return np.unique(np.concatenate(pairs), axis=0) if pairs else np.zeros((0, 2), dtype=np.int64)


def _element_ids(graph: Graph) -> tuple[dict[str, int], int, dict[str, np.ndarray]]:
    """A number for every element of the input and of each neuron layer's output (each tensor's
    first number, and how many there are), and every tensor's elements as those numbers."""
    first, count = {}, 0
    for name in [graph.input] + [node.output for node in graph.nodes if node.op in NEURON_OPS]:
        first[name], count = count, count + graph.tensors[name].size
    produced = {name: (start + np.arange(graph.tensors[name].size, dtype=np.int64),) for name, start in first.items()}
    return first, count, {name: ids for name, (ids,) in _through_aliases(graph, produced).items()}


def _axon_cap(shape, entries: np.ndarray, target: Target) -> int:
    """The most neurons per core, halving from a full core, for which every core's axon lists fit
    its axon memory, given how many axon entries each neuron of the layer needs."""
    t = target.tables
    words = t["axon_pointer_words"] + entries * t["axon_entry_words"]
    cap, columns = target.core["neurons"], as_chw(shape)[2]
    while True:
        parts = tiles(shape, cap)
        worst = max(int(words[local_index(tile, shape)[0]].sum()) for tile in parts)
        largest = max(tile.channels * tile.rows * columns for tile in parts)
        if worst <= target.core["axon_memory_words"] or largest // 2 < columns:
            return cap
        cap = largest // 2


def _build_layers(graph: Graph, target: Target, status: Callable[[str], None]) -> dict[str, LayerCores]:
    """Every neuron layer, in graph order, built from the last to the first: a layer's consumers
    then tell how many axon entries each of its neurons needs (one per link), so its neurons per
    core are chosen for the axon memory before its tables are built, instead of rebuilt after."""
    first, count, ids = _element_ids(graph)
    entries = np.zeros(count, dtype=np.int64)
    built = {}
    order = list(reversed([node for node in graph.nodes if node.op in NEURON_OPS]))
    for i, node in enumerate(order):
        status(f"building layer {node.name} ({i + 1} of {len(order)})")
        size = graph.tensors[node.output].size
        cap = _axon_cap(graph.tensors[node.output].shape, entries[first[node.output]:first[node.output] + size], target)
        layer = built[node.output] = _build_layer(node, graph, target, cap)
        sources = [ids[source][link.element] for tile_links in layer.links for source, link in tile_links]
        if sources:
            entries += np.bincount(np.concatenate(sources), minlength=count)
    return {node.output: built[node.output] for node in graph.nodes if node.op in NEURON_OPS}


def build_layers(graph: Graph, target: Target,
                 status: Callable[[str], None] | None = None) -> dict[str, LayerCores]:
    """Every layer's tiles and tables as the image will hold them (before placement).

    Where a layer's cores still overflow their axon memory (tiles split for dendrite memory can
    gather more axon entries than the tiles its neurons per core were chosen for), halve its neurons
    per core and rebuild that layer alone (its consumers' tables do not change)."""
    status = status or (lambda text: None)
    layers = _build_layers(graph, target, status)
    while True:
        over = _axon_overflows(graph, layers, target)
        if not over:
            break
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
            layers[output] = _build_layer(layer.node, graph, target, neurons // 2)
    return layers


def build_image(graph: Graph, target: Target, status: Callable[[str], None] | None = None,
                milestone: Callable[[str], None] | None = None) -> tuple[ChipImage, dict[str, LayerCores]]:
    """The chip image: the layers' tiles (build_layers), placed, wired, with I/O and schedule;
    `milestone(text)` hears when the tables are built and when the tiles are placed and wired."""
    status = status or (lambda text: None)
    milestone = milestone or (lambda text: None)
    layers = build_layers(graph, target, status)
    builder = ImageBuilder(target)
    builder.cores = _number_cores(layers)
    depth = depths(graph)
    for layer in layers.values():
        for core in layer.builders:
            core.stage, core.layer = depth[layer.node.output], layer.node.name
    owners = [layer.node.name for layer in layers.values() for _ in layer.cores]
    little = target.core["dendrite_memory_words"]["little"]
    needs_big = [words > little for layer in layers.values() for words in layer.dendrite_words]
    addr = _addresses(graph, layers)
    milestone(f"tables built: {len(builder.cores)} cores for {len(layers)} layers")
    status(f"placing {len(builder.cores)} cores on the mesh")
    for core, (x, y) in zip(builder.cores, place(target, needs_big, owners, _routes(layers, addr))):
        core.x, core.y = x, y
    status("wiring axons")
    _wire(builder, graph, layers, addr, target)
    out_core, out_index = addr[graph.output]
    if (out_core == INPUT).any():
        raise SdanncError("the model's output is its input unchanged: nothing to compile")
    for element, (c, i) in enumerate(zip(out_core.tolist(), out_index.tolist())):
        builder.map_output(element, c, i)
    milestone("placed on the mesh and wired")
    schedule = Schedule(bits=CODE_BITS, sample_interval=CODE_BITS, output_offset=CODE_BITS * depth[graph.output] - 1)
    image = builder.build(graph.tensors[graph.input].shape, graph.input_encode, graph.tensors[graph.output].shape,
                          graph.output_decode, schedule)
    return image, layers
