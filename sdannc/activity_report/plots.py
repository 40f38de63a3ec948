"""The report's figures, as PNG bytes (matplotlib, no display needed)."""

from __future__ import annotations

import io

import numpy as np

from ..ir.codes import CODE_BITS

BLUE, ORANGE, GREY = "#3b6ea8", "#e08a2c", "#9a9a9a"


def pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only: no screen on build machines
    import matplotlib.pyplot as plt

    return plt


def png_bytes(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    pyplot().close(fig)
    return buffer.getvalue()


def height_for(rows) -> float:
    return 1.2 + 0.32 * len(rows)


def spikes_and_sops(rows) -> bytes:
    """Per layer, spikes sent and SOPs performed per sample (SDANN fig. 9)."""
    plt = pyplot()
    names = [r["layer"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, height_for(rows)), sharey=True)
    y = np.arange(len(rows))
    left.barh(y, [r["spikes_per_sample"] for r in rows], color=BLUE)
    left.set_title("spikes sent per sample")
    right.barh(y, [r["sops_per_sample"] for r in rows], color=ORANGE)
    right.set_title("synaptic operations per sample")
    left.set_yticks(y, names)
    left.invert_yaxis()
    return png_bytes(fig)


def bit_positions(rows) -> bytes:
    """Per layer, the share of its spikes at each bit position, MSB first (SDANN fig. 8)."""
    plt = pyplot()
    counts = np.asarray([r["spikes_by_bit_per_sample"] for r in rows], dtype=float)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-12)
    bits = counts.shape[1]
    fig, ax = plt.subplots(figsize=(7, height_for(rows)))
    image = ax.imshow(share, aspect="auto", cmap="viridis", vmin=0)
    if bits == CODE_BITS:
        ax.set_xticks(range(bits), [f"bit {bits - 1 - b}" for b in range(bits)], rotation=45)
    else:  # the codings' windows of 256 / 255 ticks (docs/codings.md)
        ax.set_xticks(range(0, bits, 32), [f"tick {t}" for t in range(0, bits, 32)], rotation=45)
    ax.set_yticks(range(len(rows)), [r["layer"] for r in rows])
    ax.set_title("share of a layer's spikes at each bit position")
    fig.colorbar(image, ax=ax, fraction=0.04)
    return png_bytes(fig)


def sparsification(rows) -> bytes:
    """Per layer, SOPs per sample with and without the compiled sparsification."""
    plt = pyplot()
    y = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(8, height_for(rows)))
    ax.barh(y - 0.2, [r["sops_without_sparsify_per_sample"] for r in rows], 0.4, color=GREY, label="without")
    ax.barh(y + 0.2, [r["sops_per_sample"] for r in rows], 0.4, color=ORANGE, label="with sparsification")
    ax.set_yticks(y, [r["layer"] for r in rows])
    ax.invert_yaxis()
    ax.set_title("synaptic operations per sample")
    ax.legend(loc="lower right")
    return png_bytes(fig)


def energy(energy_pj: dict) -> bytes:
    """Energy per sample: quantized ANN (MACs), SNN (accumulates), the chip (SOPs, and all simulated)."""
    plt = pyplot()
    labels = [f"ANN MACs x {energy_pj['pj_per_mac']} pJ", f"SNN ACs x {energy_pj['pj_per_ac']} pJ",
              "chip SOPs x pJ/SOP", "chip, simulated"]
    values = [energy_pj[k] / 1e3 for k in ("ann_macs", "snn_acs", "chip_sops", "chip_simulated")]
    fig, ax = plt.subplots(figsize=(7, 2.6))
    ax.barh(range(4), values, color=[GREY, BLUE, ORANGE, ORANGE])
    ax.set_yticks(range(4), labels)
    ax.invert_yaxis()
    ax.set_xlabel("nJ per sample")
    return png_bytes(fig)


_STEP = {"E": (1, 0), "W": (-1, 0), "N": (0, 1), "S": (0, -1)}


def board(section: dict) -> bytes:
    """The board's routers (board positions: cores used dark, chips outlined) and every link that
    carried flits, coloured by its flits per sample; chip-to-chip links drawn thicker."""
    plt = pyplot()
    from matplotlib.collections import LineCollection

    (width, height), (cw, ch) = section["grid"], section["chip"]
    side = min(14.0, max(6.0, width / 6))
    fig, ax = plt.subplots(figsize=(side + 1.5, min(14.0, side * height / width) + 0.8))
    cores = np.asarray(section["cores"], dtype=float).reshape(-1, 2)
    ax.scatter(cores[:, 0], cores[:, 1], s=4, color=GREY, zorder=1)
    links = section["simulated"]["links"]
    samples = max(section["samples"], 1)
    segments = [((x, y), (x + 0.8 * _STEP[d][0], y + 0.8 * _STEP[d][1])) for x, y, d, _ in links]
    load = np.asarray([f / samples for *_, f in links], dtype=float)
    crossing = np.asarray([(x + _STEP[d][0]) // cw != x // cw or (y + _STEP[d][1]) // ch != y // ch
                           for x, y, d, _ in links], dtype=bool)
    if segments:
        lines = LineCollection(segments, array=load, cmap="inferno_r", linewidths=np.where(crossing, 3.0, 1.0),
                               zorder=2)
        ax.add_collection(lines)
        fig.colorbar(lines, ax=ax, fraction=0.04, label="flits per sample")
    for x in range(0, width + 1, cw):
        ax.axvline(x - 0.5, color="black", linewidth=0.8)
    for y in range(0, height + 1, ch):
        ax.axhline(y - 0.5, color="black", linewidth=0.8)
    ax.set_xlim(-0.5, width - 0.5)
    ax.set_ylim(-0.5, height - 0.5)
    ax.set_aspect("equal")
    ax.set_title(f"link loads on {width // cw} x {height // ch} chips (thick: chip-to-chip links)")
    return png_bytes(fig)
