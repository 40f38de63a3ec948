"""Does the network fit the chip? Lower bounds from the hardware-level IR, before any table is built.

Building the tables of a network costs time and memory in proportion to its size: VGG-16 at
224 x 224 went past 10 GB before placement could say that it needs thousands of cores. These bounds
take one pass over the weights, and none of them can exceed what the backend will use (tiling.py),
so a network they refuse cannot fit; tests/compiler/test_capacity.py checks them against real
builds of every model family. Per neuron layer (one IR node, its tiles on cores of its own):

- neurons: its output elements, exactly;
- dendrites: a dense input with a nonzero weight for k of the layer's outputs has a dendrite in at
  least ceil(k / neurons per core) tiles; a window input (convolution, pooling) has one per input
  channel in every tile that holds outputs of its group in rows the window reaches; an elementwise
  input has one in every tile; every tile with dendrites stores at least one id list and one weight
  list;
- cores: at least ceil(neurons / neurons per core), enough big cores' dendrite memory and dendrite
  ids for the words and dendrites above, enough lookup memory for the layer's distinct threshold
  tables and records (integration exact: each is in at least one core), and, for a dense input, the fewest runs of consecutive
  outputs whose tables each fit a big core (its headers, its id list and its distinct weight lists;
  the backend's tiles of a dense layer are such runs).

Axon memory and route lengths depend on where the tiles go; they are checked after placement.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from ..errors import SdanncError
from ..ir.connections import valid_window_mask
from ..ir.graph import Graph, Node
from ..neurons import NEURON_OPS, NEURONS
from ..target import Target
from .chips import board_for, does_not_fit
from .partition import as_chw


@dataclass(frozen=True)
class LayerNeed:
    """What one neuron layer needs at least; `limit` says what sets its cores."""

    layer: str
    neurons: int
    dendrites: int
    dendrite_words: int
    cores: int
    limit: str  # "neurons", "dendrite tables" or "lookup memory"
    lookup_words: int = 0  # integration exact's threshold tables and records, all the layer's distinct ones


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


class _Chip:
    """The target's numbers the bounds read."""

    def __init__(self, target: Target) -> None:
        core, tables = target.core, target.tables
        self.neurons = max(1, core["neurons"])
        self.big_words = max(1, core["dendrite_memory_words"]["big"])
        self.lut_words = max(1, core.get("lut_words", 0))
        self.dendrites = 1 << core["dendrite_id_bits"]
        self.word_bits = core["memory_word_bits"]
        self.header_words = tables["dendrite_header_words"]
        self.id_bits, self.weight_bits = tables["id_entry_bits"], target.arith["weight_bits"]

    def list_words(self, length: int, bits: int) -> int:
        """Words of one stored list, as image/memory.py counts them."""
        return _ceil(length * bits, self.word_bits)


# ---- dense inputs -------------------------------------------------------------------------------


class _Run:
    """Outputs c0..c1 of a dense weight as one tile: which inputs it uses, and a hash of each input's
    weight column over those outputs (equal columns hash equal; a collision only merges two lists,
    which keeps the count of distinct lists a lower bound)."""

    def __init__(self, weight: np.ndarray, keys: np.ndarray, c0: int) -> None:
        self.weight, self.keys, self.c0, self.c1 = weight, keys, c0, c0
        self.used = np.zeros(weight.shape[1], dtype=bool)
        self.hash = np.zeros(weight.shape[1], dtype=np.uint64)

    def extended(self, c1: int) -> "_Run":
        """The run to output c1, this one left as it is (the search goes back to it)."""
        run = copy.copy(self)
        run.c1, run.used, run.hash = c1, self.used.copy(), self.hash.copy()
        for row in range(self.c1, c1):
            values = self.weight[row]
            run.used |= values != 0
            run.hash += values.astype(np.uint64) * self.keys[row]
        return run

    def fits(self, chip: _Chip) -> bool:
        """Could a big core hold this run's dense tables: a header per used input, the id list of its
        outputs, and each distinct weight column once."""
        used = int(self.used.sum())
        if not used:
            return True
        if used > chip.dendrites:
            return False
        channels = self.c1 - self.c0
        fixed = used * chip.header_words + chip.list_words(channels, chip.id_bits)
        per_list = chip.list_words(channels, chip.weight_bits)
        if fixed + per_list > chip.big_words:
            return False
        if fixed + used * per_list <= chip.big_words:
            return True  # fits even if no two columns were equal: no need to count them
        hashes = np.sort(self.hash[self.used])  # sorted, the distinct ones are where it changes
        distinct = 1 + int(np.count_nonzero(hashes[1:] != hashes[:-1]))
        return fixed + distinct * per_list <= chip.big_words


def _dense_tiles(weight: np.ndarray, chip: _Chip) -> int:
    """The fewest runs of consecutive outputs, each at most a core's neurons, whose dense tables each
    fit a big core (the backend's tiles of the layer are such runs). Every test is monotone in the run
    (a longer run uses at least the inputs and the distinct columns of a shorter one), so taking each
    run as long as it fits gives the fewest; runs are found by doubling, then halving. A hash
    collision can only make a run fit sooner, and so the count smaller. An output whose tables fit
    no core counts one run (the backend names that layer)."""
    outputs = weight.shape[0]
    keys = np.random.default_rng(0).integers(1, 1 << 63, size=outputs, dtype=np.uint64) | np.uint64(1)
    tiles, c0 = 0, 0
    while c0 < outputs:
        most = min(outputs, c0 + chip.neurons)
        good = _Run(weight, keys, c0).extended(c0 + 1)
        if good.fits(chip):
            step = 1
            while good.c1 < most:  # double while it fits
                trial = good.extended(min(most, c0 + 2 * step))
                if not trial.fits(chip):
                    bad = trial.c1
                    while bad - good.c1 > 1:  # halve between the longest fit and the shortest misfit
                        middle = good.extended((good.c1 + bad) // 2)
                        good, bad = (middle, bad) if middle.fits(chip) else (good, middle.c1)
                    break
                good, step = trial, 2 * step
        tiles, c0 = tiles + 1, good.c1
    return tiles


# ---- per connection and per layer -----------------------------------------------------------------


def _window_dendrites(conn: dict, in_shape, out_shape, chip: _Chip) -> tuple[int, int]:
    """(dendrites, tiles with dendrites) at least, for a convolution or pooling window."""
    cin, h, w = as_chw(in_shape)
    cout, _, wo = as_chw(out_shape)
    reached = valid_window_mask((h, w), conn).any(axis=(0, 1, 3))  # output rows some input row reaches
    fed = int(reached.sum()) * wo
    if not fed:
        return 0, 0
    groups = conn["group"] or cin  # a max window: every channel is its own group
    per_group = _ceil(cout // groups * fed, chip.neurons)
    return groups * (cin // groups) * per_group, _ceil(cout * fed, chip.neurons)


def _layer_need(node: Node, graph: Graph, chip: _Chip, dense_runs: bool, tile: int | None = None,
                lookups: dict[str, int] | None = None) -> LayerNeed:
    """`tile`: the config's `tiling:` neurons per tile of the layer (each tile holds at most that many).
    `lookups`: the layers' lookup words found so far, by name (the same for both estimates)."""
    out_shape = graph.tensors[node.output].shape
    neurons = graph.tensors[node.output].size
    full = _ceil(neurons, min(chip.neurons, tile or chip.neurons))
    dendrites, holding, dense_tiles = 0, 0, 0
    for i, (conn, source) in enumerate(zip(node.attrs["connections"], node.inputs)):
        if conn["kind"] == "dense":
            weight = node.params[f"weight{i}"]
            per_input = np.count_nonzero(weight, axis=0)
            dendrites += int(((per_input + chip.neurons - 1) // chip.neurons).sum())
            holding = max(holding, _ceil(int(np.any(weight != 0, axis=1).sum()), chip.neurons))
            if dense_runs:
                dense_tiles = max(dense_tiles, _dense_tiles(weight, chip))
        elif conn["kind"] == "elementwise":
            dendrites, holding = dendrites + full, max(holding, full)
        else:
            d, t = _window_dendrites(conn, graph.tensors[source].shape, out_shape, chip)
            dendrites, holding = dendrites + d, max(holding, t)
    words = dendrites * chip.header_words + holding * (chip.list_words(1, chip.id_bits) +
                                                       chip.list_words(1, chip.weight_bits))
    tables = max(dense_tiles, _ceil(words, chip.big_words), _ceil(dendrites, chip.dendrites))
    # every distinct table and record of the layer's lookup memory is in at least one core's
    lookups = {} if lookups is None else lookups
    if node.name not in lookups:
        lookups[node.name] = NEURONS[node.op].lookup_words(node, np.arange(neurons), out_shape)
    lookup = lookups[node.name]
    lookup_cores = _ceil(lookup, chip.lut_words) if lookup else 0
    cores = max(full, tables, lookup_cores)
    limit = "neurons" if cores == full else "dendrite tables" if cores == tables else "lookup memory"
    return LayerNeed(node.name, neurons, dendrites, words, cores, limit, lookup)


def estimate(graph: Graph, target: Target, dense_runs: bool = True,
             sizes: dict[str, int] | None = None, lookups: dict[str, int] | None = None) -> list[LayerNeed]:
    """Every neuron layer's lower bounds, in graph order (the order of the compile report's layers).
    Without dense_runs, the dense layers' runs are left out: still lower bounds, and cheaper.
    `sizes`: the config's `tiling:` (neurons per tile, by layer); `lookups` keeps the layers' lookup
    words between calls (check_capacity's two estimates)."""
    chip, sizes = _Chip(target), sizes or {}
    return [_layer_need(node, graph, chip, dense_runs, sizes.get(node.name), lookups) for node in graph.nodes
            if node.op in NEURON_OPS]


def chip_dendrite_words(target: Target) -> int:
    """The dendrite memory of all the chip's cores."""
    return sum(target.dendrite_memory_words(x) for y in range(target.mesh["height"])
               for x in range(target.mesh["width"]) if target.is_core(x, y))


def _check_rows(graph: Graph, target: Target) -> None:
    """A tile holds whole rows of a layer's output: a row longer than a core's neurons cannot go anywhere."""
    most = target.core["neurons"]
    for node in graph.nodes:
        if node.op in NEURON_OPS:
            shape = graph.tensors[node.output].shape
            if as_chw(shape)[2] > most:
                raise SdanncError(f"layer {node.name}: its output {list(shape)} has rows of {as_chw(shape)[2]:,} "
                                  f"neurons, a core holds {most:,} and a row is never split: use a smaller input")


def check_capacity(graph: Graph, target: Target, model: str, sizes: dict[str, int] | None = None) -> list[LayerNeed]:
    """The estimate, or a one-line error if it already exceeds the chip: the resource, need against
    what the chip has, the layer that needs the most, and what to do. `sizes`: the config's tiling:."""
    _check_rows(graph, target)
    lookups: dict[str, int] = {}
    for dense_runs in (False, True):  # the cheap bounds refuse most networks that do not fit
        needs = estimate(graph, target, dense_runs, sizes, lookups)
        _refuse_beyond(needs, target, model, sizes or {})
    return needs


def _refuse_beyond(needs: list[LayerNeed], target: Target, model: str, sizes: dict[str, int]) -> None:
    cores, have = sum(n.cores for n in needs), target.core_count() * target.chip_count
    words, memory = sum(n.dendrite_words for n in needs), chip_dendrite_words(target) * target.chip_count
    if target.is_board and (cores > have or words > memory):  # a board: the need in chips (docs/board.md)
        chips = max(-(-cores // target.core_count()), -(-words // chip_dendrite_words(target)))
        raise does_not_fit(f"model {model}: at least {cores:,} cores ({target.core_count():,} a chip)", chips, target)
    if cores > have:
        worst = max(needs, key=lambda n: n.cores)
        why = f"{worst.neurons:,} neurons" if worst.limit == "neurons" else \
            f"its dendrite tables, at least {worst.dendrite_words:,} words" if worst.limit == "dendrite tables" else \
            f"its threshold tables (integration exact), at least {worst.lookup_words:,} words of lookup memory"
        if worst.layer in sizes and worst.limit == "neurons":
            why += f" at most {sizes[worst.layer]:,} a tile (the config's tiling: for it; a larger size takes fewer)"
        raise SdanncError(f"model {model}: needs at least {cores:,} cores, the chip ({target.name}) has {have:,}: "
                          f"{sum(n.neurons for n in needs):,} neurons at most {target.core['neurons']:,} a core, "
                          f"and layer {worst.layer} alone needs {worst.cores:,} cores for {why}: use a smaller "
                          f"input or fewer channels{_board_advice(-(-cores // have), target)}")
    if words > memory:
        worst = max(needs, key=lambda n: n.dendrite_words)
        raise SdanncError(f"model {model}: needs at least {words:,} words of dendrite memory, the chip ({target.name}) "
                          f"has {memory:,} in all its cores, and layer {worst.layer} alone needs "
                          f"{worst.dendrite_words:,}: use fewer channels or a smaller input"
                          f"{_board_advice(-(-words // memory), target)}")


def _board_advice(chips: int, target: Target) -> str:
    """On a chip that is too small: the built-in board of this chip that has the chips, if any."""
    board = board_for(chips, target)
    return f", or a board of about {chips} chips: -t {board}" if board else ""
