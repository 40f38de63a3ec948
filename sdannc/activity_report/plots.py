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
