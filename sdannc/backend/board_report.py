"""The compile report's board section: the chips used, each chip's cores and memory, and the link
loads the compiler expects (packets per sample over every directed link, from the routes' loads:
chips.py), with the busiest on-chip link and every chip-to-chip link (docs/board.md).

The loads are an estimate: per link its source's spikes per sample, measured on the calibration
inputs when given, else half a code's bits; the simulator's report measures the same links.
"""

from __future__ import annotations

import numpy as np

from ..image import ChipImage
from ..image.memory import axon_memory_words, dendrite_memory_words
from ..image.mesh import Mesh
from .addresses import INPUT
from .chips import link_packets


def link_flits(state, image: ChipImage) -> tuple[Mesh, np.ndarray]:
    """Flits per sample the compiler expects over each directed link of the image's mesh (board)."""
    target, links = image.target, state.links
    mesh = Mesh(target)
    width = mesh.width
    x = np.asarray([c.x for c in image.cores], dtype=np.int64)
    y = np.asarray([c.y for c in image.cores], dtype=np.int64)
    node = y * width + x
    cx, cy = target.controller
    nodes = mesh.width * mesh.height
    # (source node, destination node) pairs and their packets: the axons' from the routes' loads
    # (the chips step's, summed over the same links in the same order), the input's per core it feeds
    inputs = links.select(np.flatnonzero(links.src_core == INPUT))
    fed = np.bincount(inputs.dest, weights=link_packets(inputs, state.spikes), minlength=node.size)
    at = np.flatnonzero(fed)
    pair = np.concatenate([(cy * width + cx) * nodes + node[at],
                           node[state.routes[:, 0]] * nodes + node[state.routes[:, 1]]])
    order = np.argsort(pair, kind="stable")  # in pair order, so the links' sums add in the same order
    keys, load = pair[order], np.concatenate([fed[at], state.route_load])[order]
    matrix = mesh.pair_link_matrix(np.stack([keys // nodes, keys % nodes], axis=1))
    flits = np.asarray(matrix.T @ load).ravel() * target.noc["flits_per_packet"]
    return mesh, flits


def chip_usage(image: ChipImage) -> list[dict]:
    """Per chip used (in the order the tiles went): its cores, neurons and memory words."""
    target = image.target
    rows: dict[tuple[int, int], dict] = {}
    for core in image.cores:
        chip = target.chip_of(core.x, core.y)
        row = rows.setdefault(chip, {"chip": list(chip), "cores": 0, "neurons": 0, "dendrite_words": 0,
                                     "axon_words": 0})
        row["cores"] += 1
        row["neurons"] += core.n_neurons
        row["dendrite_words"] += dendrite_memory_words(core, target)
        row["axon_words"] += axon_memory_words(core, target)
    return list(rows.values())


def board_report(state, image: ChipImage) -> dict:
    """The board section of report.json."""
    board = state.board
    mesh, flits = link_flits(state, image)
    per_packet = image.target.noc["flits_per_packet"]
    crossing = mesh.chip_links() if image.target.is_board else np.zeros(flits.size, dtype=bool)
    edges: dict[tuple, dict] = {}
    for link in np.flatnonzero(crossing & (flits > 0)).tolist():
        a, b = mesh.link_chips(link)
        edge = edges.setdefault((a, b), {"from": list(a), "to": list(b), "packets_per_sample": 0.0,
                                         "busiest_link": "", "busiest_link_packets": 0.0})
        packets = float(flits[link]) / per_packet
        edge["packets_per_sample"] += packets
        if packets > edge["busiest_link_packets"]:
            edge["busiest_link"], edge["busiest_link_packets"] = mesh.link_name(link), packets
    on_chip = np.where(crossing, 0.0, flits)
    busiest = int(np.argmax(on_chip)) if flits.size else 0
    chip_edges = sorted(edges.values(), key=lambda e: (e["from"], e["to"]))
    worst = max(chip_edges, key=lambda e: e["packets_per_sample"], default=None)
    return {
        "board": board.name,
        "chips_available": board.chip_count,
        "chips_used": len(state.chips) if image.target.is_board else 1,
        "chips": chip_usage(image),
        "estimate": "calibration" if state.spikes is not None else "fan-out",
        "busiest_link": {"link": mesh.link_name(busiest), "flits_per_sample": float(on_chip[busiest])
                         if flits.size else 0.0},
        "chip_links": chip_edges,
        "worst_chip_link": worst,
    }
