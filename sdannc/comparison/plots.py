"""The comparison's figures, as PNG bytes (matplotlib, as the activity report draws them)."""

from __future__ import annotations

import numpy as np

from ..activity_report.plots import height_for, png_bytes, pyplot

COLORS = ("#3b6ea8", "#e08a2c", "#5a9e4b", "#9a9a9a", "#b5495b")


def _layers(measured: list[dict]) -> list[str]:
    """Every layer of the measured codings, in the order the first that has it lists it."""
    names: list[str] = []
    for result in measured:
        names += [r["layer"] for r in result["layers"] if r["layer"] not in names]
    return names


def _empty(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#666")
    ax.set_xticks([])
    ax.set_yticks([])


def sops_per_layer(measured: list[dict]) -> bytes:
    """Per layer, SOPs per sample, one bar per coding."""
    plt = pyplot()
    names = _layers(measured)
    fig, ax = plt.subplots(figsize=(8, height_for(names) + 0.3 * len(names) * max(len(measured) - 1, 0)))
    if not measured:
        _empty(ax, "no coding compiled for this model")
        return png_bytes(fig)
    y = np.arange(len(names))
    width = 0.8 / len(measured)
    for i, result in enumerate(measured):
        sops = {r["layer"]: r["sops_per_sample"] for r in result["layers"]}
        ax.barh(y - 0.4 + (i + 0.5) * width, [sops.get(n, 0.0) for n in names], width,
                color=COLORS[i % len(COLORS)], label=result["coding"])
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlabel("synaptic operations per sample")
    ax.legend(loc="lower right")
    return png_bytes(fig)


def energy_and_latency(measured: list[dict]) -> bytes:
    """Per coding, the chip's simulated energy per sample against its latency."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    if not measured:
        _empty(ax, "no coding compiled for this model")
        return png_bytes(fig)
    for i, result in enumerate(measured):
        latency, energy = result["timing"]["latency_us"], result["energy_per_sample_pj"]["chip_simulated"] / 1e3
        ax.scatter([latency], [energy], s=60, color=COLORS[i % len(COLORS)], label=result["coding"], zorder=3)
        ax.annotate(result["coding"], (latency, energy), textcoords="offset points", xytext=(6, 4))
    ax.set_xlabel("latency per sample, us")
    ax.set_ylabel("chip energy per sample, nJ (simulated)")
    ax.grid(True, color="#ddd", zorder=0)
    ax.set_xlim(0, 1.15 * max(r["timing"]["latency_us"] for r in measured))  # room for the names
    ax.set_ylim(0, 1.15 * max(r["energy_per_sample_pj"]["chip_simulated"] for r in measured) / 1e3 or 1.0)
    return png_bytes(fig)
