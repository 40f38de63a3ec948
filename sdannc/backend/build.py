"""From a hardware-level IR graph to a chip image, as a list of named steps (as the passes are).

Each step reads and fills in one `Backend` state; `build_image` runs them in order and shows the
state to the same `observe(step, state)` hook the passes report through, so `--dump-ir tile`
prints the tiles and `--dump-ir place` where they went (the state's `dump()`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..errors import SdanncError
from ..image import ChipImage, ImageBuilder, Schedule
from ..ir.graph import Graph
from ..target import Target
from . import chips, io, links, partition, schedule, tiling, wiring
from .dump import dump
from .meta import image_meta
from .placement import place, worst_hops


@dataclass
class Backend:
    """What the steps know so far; each step sets its own fields."""

    graph: Graph
    target: Target
    status: Callable[[str], None]
    milestone: Callable[[str], None]
    sizes: dict[str, int] | None = None  # the config's tiling: neurons per tile, by layer
    done: list[str] = field(default_factory=list)  # the steps run so far
    tiling: tiling.Tiling | None = None  # tile: layers, their cores, the link table
    builder: ImageBuilder | None = None  # tile: the image's cores; later steps fill them in
    routes: np.ndarray | None = None  # place: distinct (source core, destination core) pairs
    worst_hops: int = 0  # place: the longest route along an axis
    schedule: Schedule | None = None  # schedule
    # A board (docs/board.md): `target` is then its chip, and the tiles go to as few chips as they need.
    board: Target | None = None
    spikes: np.ndarray | None = None  # per element id, spikes per sample measured on calibration inputs
    model: str = "<model>"
    route_load: np.ndarray | None = None  # chips: packets per sample of each route (routes' order)
    chips: list[tuple[int, int]] = field(default_factory=lambda: [(0, 0)])  # chips: the chips used, in order
    chip_bounds: list[int] | None = None  # chips: chip k holds tiles [chip_bounds[k], chip_bounds[k + 1])
    cut: np.ndarray | None = None  # chips: per tile boundary, the packets per sample of the links across it
    placed_runs: dict = field(default_factory=dict)  # place: (first tile, end) of a chip's run -> its positions

    @property
    def layers(self) -> dict:
        return self.tiling.layers

    @property
    def links(self) -> links.LinkTable:
        return self.tiling.links

    @property
    def placed(self) -> bool:
        return "place" in self.done

    def owners(self) -> list[str]:
        """Each image core's layer name."""
        return [layer.node.name for layer in self.layers.values() for _ in layer.cores]

    def dump(self) -> str:
        return dump(self)


@dataclass(frozen=True)
class Step:
    name: str  # what --dump-ir calls it
    run: Callable[[Backend], None]
    doc: str = ""


def tile_step(state: Backend) -> None:
    state.tiling = tiling.tile(state.graph, state.target, state.status, state.sizes)
    state.builder = ImageBuilder(state.target)
    state.builder.cores = state.tiling.cores
    state.milestone(f"tables built: {len(state.builder.cores)} cores for {len(state.layers)} layers")


def _little_tile(state: Backend, layer) -> tuple[int | None, int]:
    """The most neurons per tile (halving from the layer's own) whose tables all fit a little core,
    and the words of the smallest tile tried when none does (a tile holds at least one row)."""
    little = state.target.core["dendrite_memory_words"]["little"]
    columns = partition.as_chw(state.graph.tensors[layer.node.output].shape)[2]
    neurons = max(b.state.shape[0] for b in layer.builders)
    words = max(layer.dendrite_words)
    while neurons > columns:
        neurons = max(columns, neurons // 2)
        smaller = tiling.build_layer(layer.node, state.graph, state.target, neurons, state.tiling.ids)
        words = max(smaller.dendrite_words)
        if words <= little:
            return max(b.state.shape[0] for b in smaller.builders), words
    return None, words


def check_big_cores(state: Backend) -> None:
    """Refuse, before placement, a network whose tiles need more big cores (tables beyond a little
    core's dendrite memory) than the chip has: naming the layer with the most such tiles, the need
    against the limit, and the config's `tiling:` size with which its tiles fit little cores (found
    by building it), or that none does."""
    target = state.target
    little = target.core["dendrite_memory_words"]["little"]
    big = sum(target.is_big_core(x) for x in range(target.mesh["width"]) for y in range(target.mesh["height"])
              if target.is_core(x, y))
    per_layer = {name: [w for w in layer.dendrite_words if w > little] for name, layer in
                 ((layer.node.name, layer) for layer in state.layers.values())}
    need = sum(len(words) for words in per_layer.values())
    if need <= big:
        return
    layers = {layer.node.name: layer for layer in state.layers.values()}
    ranked = sorted((n for n in per_layer if per_layer[n]), key=lambda n: -len(per_layer[n]))
    tried = [(name, *_little_tile(state, layers[name])) for name in ranked[:8]]  # the first that can shrink
    name, fits, words = next((t for t in tried if t[1] is not None), tried[0])
    layer = layers[name]
    neurons = max(b.state.shape[0] for b in layer.builders)
    head = (f"layer {name}: {len(per_layer[name])} of its {len(layer.tiles)} tiles need a big core (dendrite "
            f"tables of up to {max(per_layer[name]):,} words, a little core holds {little:,}); the network needs "
            f"{need:,} big cores, the chip ({target.name}) has {big:,}: ")
    if fits is None:
        raise SdanncError(head + f"even its smallest tile (one row) needs {words:,} words, so no tile size helps; "
                                 "use fewer inputs to the layer or a target with more big cores")
    raise SdanncError(head + f"give it tiles of little cores with the config key `tiling: {{{name}: {{neurons: "
                             f"{fits}}}}}` (its tiles hold up to {neurons:,} neurons now)")


def _needs_big(state: Backend) -> list[bool]:
    little = state.target.core["dendrite_memory_words"]["little"]
    return [words > little for layer in state.layers.values() for words in layer.dendrite_words]


def chips_step(state: Backend) -> None:
    """On a board: the route loads (packets per sample) and as few chips as the tiles need, cut where
    the fewest packets cross (chips.py). On a chip, nothing."""
    if state.board is None:
        return
    state.routes = links.routes(state.links)
    state.route_load = chips.route_packets(state.links, state.spikes, state.routes)
    needs_big = np.asarray(_needs_big(state), dtype=bool)
    n = chips.fewest_chips(needs_big, state.target)
    state.chip_bounds = [0, len(needs_big)]
    if n > 1:
        _partition(state, n)


def _partition(state: Backend, n: int, cap: int | None = None) -> bool:
    """Tiles to n chips or more (the fewest that a cut within each chip's cores, or `cap` tiles a
    chip, allows). False if none does with a cap; without one, that the board is too small."""
    board, needs_big = state.board, np.asarray(_needs_big(state), dtype=bool)
    if state.cut is None:  # the same for every partition tried
        state.cut = chips.cut_costs(state.links, state.spikes, len(needs_big))
    cut = state.cut
    for count in range(n, board.chip_count + 1):
        bounds = chips.partition(cut, needs_big, state.target, count, cap)
        if bounds is not None:
            state.chip_bounds, state.chips = bounds, chips.snake(count, board.chip_grid)
            state.builder.target = board
            return True
    if cap is not None:
        return False
    raise chips.does_not_fit(f"model {state.model}: {len(needs_big):,} cores", board.chip_count + 1, board)


def _place_on_chips(state: Backend, full: bool = False) -> int:
    """Each chip's tiles on its mesh (routes inside the chip, weighted by their load); board positions.
    The longest route inside a chip, along an axis.

    A chip's placement depends only on its run of tiles, so a run placed in an earlier round is
    not placed again. The chips go densest first (the most routes inside): once one has a route
    over the limit the round fails and is only asked for its longest route, so the others then
    stop at the first placement whose routes are no longer than that (each chip's shortest is
    still known to be within it). Unless `full`: then every chip is placed as in a round that
    succeeds (the positions a failed board is left with)."""
    target, needs_big, owners = state.target, _needs_big(state), state.owners()
    width, height, limit = target.mesh["width"], target.mesh["height"], target.mesh["max_hops_per_axis"]
    routes, worst = state.routes, 0
    runs = []
    for k, chip in enumerate(state.chips):
        lo, hi = state.chip_bounds[k], state.chip_bounds[k + 1]
        inside = (routes[:, 0] >= lo) & (routes[:, 0] < hi) & (routes[:, 1] >= lo) & (routes[:, 1] < hi)
        runs.append((-int(np.count_nonzero(inside)), k, chip, lo, hi, inside))
    for _, k, (cx, cy), lo, hi, inside in sorted(runs, key=lambda run: run[:2]):
        local = routes[inside] - lo
        enough = limit if full else max(limit, worst)
        positions = state.placed_runs.get((lo, hi))
        if positions is None:
            state.status(f"placing {hi - lo} cores on chip ({cx}, {cy})")
            positions = place(target, needs_big[lo:hi], owners[lo:hi], local, state.route_load[inside], enough)
            hops = worst_hops(positions, local)
            if enough == limit or hops <= limit:  # the placement any round gets for the run
                state.placed_runs[(lo, hi)] = positions
        worst = max(worst, worst_hops(positions, local))
        for core, (x, y) in zip(state.builder.cores[lo:hi], positions):
            core.x, core.y = cx * width + x, cy * height + y
    return worst


def place_step(state: Backend) -> None:
    limit = state.target.mesh["max_hops_per_axis"]
    if state.board is not None and len(state.chips) > 1:
        state.worst_hops = _place_on_chips(state)
        while state.worst_hops > limit:
            # Emptier chips: shorter routes. More chips alone need not empty any (the cut with the
            # least traffic may keep the full runs), so each chip's tiles are capped below the fullest's.
            # The area a chip's tiles span goes with their count and its side with the longest
            # route: (limit / worst)^2 of the fullest chip's tiles, and at least an eighth fewer.
            fullest = int(np.diff(state.chip_bounds).max())
            cap = min(fullest * 7 // 8, fullest * limit ** 2 // state.worst_hops ** 2)
            state.status(f"routes of {state.worst_hops} hops on {len(state.chips)} chips of up to {fullest} cores: "
                         f"at most {cap} a chip")
            if cap < 1 or not _partition(state, len(state.chips), cap):
                _place_on_chips(state, full=True)
                return  # (wiring names the route that is too long)
            state.worst_hops = _place_on_chips(state)
        return
    needs_big = _needs_big(state)
    check_big_cores(state)
    state.routes = links.routes(state.links)
    state.status(f"placing {len(state.builder.cores)} cores on the mesh")
    positions = place(state.target, needs_big, state.owners(), state.routes)
    for core, (x, y) in zip(state.builder.cores, positions):
        core.x, core.y = x, y
    state.worst_hops = worst_hops(positions, state.routes)
    if state.board is not None and state.worst_hops > limit and state.board.chip_count > 1:
        _partition(state, 2)  # the routes do not fit one chip's hop limit: two chips
        place_step(state)


def wire_step(state: Backend) -> None:
    state.status("wiring axons")
    wiring.wire(state.builder, state.links, state.owners(), state.builder.target)


def io_step(state: Backend) -> None:
    io.map_inputs(state.builder, state.links)
    out = state.tiling.ids.of[state.graph.output]
    io.map_outputs(state.builder, state.tiling.core_of[out], state.tiling.index_of[out])
    state.milestone("placed on the mesh and wired")


def schedule_step(state: Backend) -> None:
    schedule.stage_cores(state.graph, state.layers)
    state.schedule = schedule.schedule(state.graph)


STEPS: list[Step] = [
    Step("tile", tile_step, "layers to core-sized tiles with their dendrite tables, numbered as image "
                            "cores; the link table"),
    Step("chips", chips_step, "on a board: as few chips as the tiles need, cut where the fewest spikes "
                              "cross (chips.py)"),
    Step("place", place_step, "each tile's core on the mesh (placement.py); on a board, on its chip's"),
    Step("wire", wire_step, "every neuron's axon list, from the link table"),
    Step("io", io_step, "the input map (from the link table) and the output map"),
    Step("schedule", schedule_step, "each core's window; the image's schedule"),
]
BACKEND_STEP_NAMES = [s.name for s in STEPS]


def build_image(graph: Graph, target: Target, status: Callable[[str], None] | None = None,
                milestone: Callable[[str], None] | None = None,
                observe: Callable[[str, Backend], None] | None = None,
                model: str = "<model>", sizes: dict[str, int] | None = None,
                spikes: np.ndarray | None = None, keep: Callable[[Backend], None] | None = None
                ) -> tuple[ChipImage, dict]:
    """The chip image and the layers' tiles: the steps in order, then the image with its meta.
    `milestone(text)` hears when the tables are built and when the tiles are placed and wired;
    `observe(step, state)` sees the state after every step. On a board target the tiles go to as
    few chips as they need; one chip's image is the chip's (the same bytes as compiled for it).
    `spikes` (per element id, spikes per sample) weighs the links for the partition across chips;
    `keep(state)` sees the final state (the report's link loads)."""
    board = target if target.is_board else None
    chip = target.chip_target() if board else target
    state = Backend(graph, chip, status or (lambda text: None), milestone or (lambda text: None), sizes,
                    board=board, spikes=spikes, model=model)
    for step in STEPS:
        step.run(state)
        state.done.append(step.name)
        if observe:
            observe(step.name, state)
    if keep:
        keep(state)
    state.builder.meta = image_meta(model, graph, state.layers)
    image = state.builder.build(graph.tensors[graph.input].shape, graph.input_encode,
                                graph.tensors[graph.output].shape, graph.output_decode, state.schedule)
    return image, state.layers
