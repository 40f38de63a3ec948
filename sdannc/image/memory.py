"""How many memory words a core's tables take, by the target's packing rules.

The backend uses this to partition layers and the image loader to check an image; both read the
packing from the target (`tables`, `core.memory_word_bits`, `arith.weight_bits`).
"""

from __future__ import annotations

import numpy as np

from ..target import Target


def _words(counts: np.ndarray, bits: int, word_bits: int) -> int:
    """Words of lists of the given lengths, each starting on a word boundary."""
    return int((-(-np.asarray(counts, dtype=np.int64) * bits // word_bits)).sum())


def _distinct_lengths(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The length of every distinct non-empty (start, length) list: a shared list counts once."""
    keep = lengths > 0
    starts, lengths = np.asarray(starts)[keep].astype(np.int64), np.asarray(lengths)[keep].astype(np.int64)
    if not lengths.size:
        return lengths
    # one key per pair, start * span + length (a 1-D unique sorts several times faster than rows)
    span = int(lengths.max()) + 1
    if int(np.abs(starts).max()) < (2 ** 62) // span:
        return np.unique(starts * span + lengths) % span
    return np.unique(np.stack([starts, lengths], axis=1), axis=0)[:, 1]


def dendrite_memory_words(core, target: Target) -> int:
    """Headers plus every distinct id list and weight list, each starting on a word boundary."""
    word_bits = target.core["memory_word_bits"]
    headers = core.n_dendrites * target.tables["dendrite_header_words"]
    if core.n_dendrites == 0:
        return headers
    lengths = core.dendrites[:, 2]
    id_words = _words(_distinct_lengths(core.dendrites[:, 1], lengths), target.tables["id_entry_bits"], word_bits)
    weight_words = _words(_distinct_lengths(core.dendrites[:, 3], lengths), target.arith["weight_bits"], word_bits)
    return headers + id_words + weight_words


def axon_memory_words(core, target: Target) -> int:
    """A pointer per neuron plus one entry per target in every distinct target list."""
    pointers = core.n_neurons * target.tables["axon_pointer_words"]
    entries = int(_distinct_lengths(core.axon_ptr[:, 0], core.axon_ptr[:, 1]).sum()) if core.n_neurons else 0
    return pointers + entries * target.tables["axon_entry_words"]
