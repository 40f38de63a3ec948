"""How many memory words a core's tables take, by the target's packing rules.

The backend uses this to partition layers and the image loader to check an image; both read the
packing from the target (`tables`, `core.memory_word_bits`, `arith.weight_bits`).
"""

from __future__ import annotations

import numpy as np

from ..target import Target


def _words(count: int, bits: int, word_bits: int) -> int:
    return -(-count * bits // word_bits)


def _distinct_ranges(starts: np.ndarray, lengths: np.ndarray) -> list[tuple[int, int]]:
    return sorted({(int(s), int(n)) for s, n in zip(starts, lengths) if n > 0})


def dendrite_memory_words(core, target: Target) -> int:
    """Headers plus every distinct id list and weight list, each starting on a word boundary."""
    word_bits = target.core["memory_word_bits"]
    headers = core.n_dendrites * target.tables["dendrite_header_words"]
    if core.n_dendrites == 0:
        return headers
    lengths = core.dendrites[:, 2]
    id_words = sum(
        _words(n, target.tables["id_entry_bits"], word_bits) for _, n in _distinct_ranges(core.dendrites[:, 1], lengths)
    )
    weight_words = sum(
        _words(n, target.arith["weight_bits"], word_bits) for _, n in _distinct_ranges(core.dendrites[:, 3], lengths)
    )
    return headers + id_words + weight_words


def axon_memory_words(core, target: Target) -> int:
    """A pointer per neuron plus one entry per target in every distinct target list."""
    pointers = core.n_neurons * target.tables["axon_pointer_words"]
    lists = _distinct_ranges(core.axon_ptr[:, 0], core.axon_ptr[:, 1]) if core.n_neurons else []
    return pointers + sum(n for _, n in lists) * target.tables["axon_entry_words"]
