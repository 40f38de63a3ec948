"""A readable listing of the backend's state after a step (`sdannc compile --dump-ir tile`, ...):
every layer's tiles, and once placed where each went; a line per later step done."""

from __future__ import annotations

import numpy as np

from ..neurons import NEURONS
from .addresses import INPUT


def _range(lo: int, hi: int) -> str:
    return f"{lo}..{hi - 1}" if hi - lo > 1 else str(lo)


def tile_lines(state) -> list[str]:
    """Per layer a header, then per tile: its core, channels, rows, neurons, dendrites and words,
    and where it went once placed (big or little core; `needs big` where its tables need one)."""
    target, little = state.target, state.target.core["dendrite_memory_words"]["little"]
    lines = []
    for output, layer in state.layers.items():
        shape = list(state.graph.tensors[output].shape)
        lines.append(f"  layer {layer.node.name} ({NEURONS[layer.node.op].report_label(layer.node)}, "
                     f"output {shape}): {len(layer.tiles)} tile{'s' if len(layer.tiles) != 1 else ''}")
        for t, (tile, core, builder, words) in enumerate(zip(layer.tiles, layer.cores, layer.builders,
                                                             layer.dendrite_words)):
            links = int(layer.links.tile_start[t + 1] - layer.links.tile_start[t])
            line = (f"    tile {t}: core {core}, channels {_range(tile.c0, tile.c1)}, rows {_range(tile.r0, tile.r1)}, "
                    f"{'' if tile.x1 is None else f'columns {_range(tile.x0, tile.x1)}, '}"
                    f"{builder.state.shape[0]} neurons, {len(builder.dendrite_lengths())} dendrites, "
                    f"{words} dendrite words{' (needs big)' if words > little else ''}, {links} links")
            if state.placed:
                kind = "big" if target.is_big_core(builder.x) else "little"
                line += f"; at ({builder.x}, {builder.y}), {kind} core"
            lines.append(line)
    return lines


def dump(state) -> str:
    links = state.links
    src = links.src_core
    axons = int(np.count_nonzero(src != INPUT))
    lines = [f"backend after {state.done[-1]}: {len(state.layers)} layers on {len(state.builder.cores)} cores, "
             f"{len(links)} links ({axons} from neurons, {len(links) - axons} from the input)"]
    lines += tile_lines(state)
    if state.placed:
        n = len(state.routes)
        lines.append(f"  placement: {n} route{'s' if n != 1 else ''} between cores, the longest "
                     f"{state.worst_hops} hops along an axis (at most {state.target.mesh['max_hops_per_axis']})")
    if "wire" in state.done:
        senders = np.unique(links.source[src != INPUT]).size
        lines.append(f"  wiring: {senders} neurons with axon lists, {axons} axon entries in all")
    if "io" in state.done:
        lines.append(f"  io: {state.graph.tensors[state.graph.input].size} input elements, "
                     f"{state.graph.tensors[state.graph.output].size} output elements")
    if state.schedule is not None:
        s = state.schedule
        lines.append(f"  schedule: windows of {s.bits} ticks, a sample every {s.sample_interval}, "
                     f"output read from tick {s.output_offset}")
    return "\n".join(lines)
