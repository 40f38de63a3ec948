"""In-memory form of a chip image: plain arrays per core, plus the network's I/O maps and schedule."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..target import Target

# Dendrite header kinds: an absolute neuron-id list, or offsets added to the index the spike carries
# (the form convolution and full connections share weights with).
DENDRITE_ABSOLUTE = 0
DENDRITE_RELATIVE = 1

# Column order of the per-core tables.
AXON_PTR_COLUMNS = ("start", "count")
AXON_TARGET_COLUMNS = ("dx", "dy", "dendrite", "index")
DENDRITE_COLUMNS = ("kind", "ids_start", "length", "weights_start")


@dataclass
class CoreImage:
    """One neuron core: configuration, program, tables and initial neuron state."""

    x: int
    y: int
    program: np.ndarray  # uint16 words
    config: np.ndarray  # int64, configuration registers 0..k-1
    state: np.ndarray  # int64 [neurons, state_fields], initial neuron state
    axon_ptr: np.ndarray  # int64 [neurons, 2]: start, count into axon_targets
    axon_targets: np.ndarray  # integer [entries, 4] (*): dx, dy, dendrite id there, neuron index the spike carries
    dendrites: np.ndarray  # int64 [dendrites, 4]: kind, ids_start, length, weights_start
    ids: np.ndarray  # integer (*): neuron ids (absolute) or offsets (relative), lists stored once
    weights: np.ndarray  # integer (*): weight lists, stored once
    # (*) int64 as read from a folder; an ImageBuilder's, the narrowest of int16..int64 that holds them
    # (image/list_pool.py: a large network's lists are most of its compile memory)
    lut: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # int64: the lookup memory (LUT), at most core.lut_words
    stage: int = 0  # pipeline stage of its neurons (its layer's depth; 0: not given), see sim/windows.py
    layer: str = ""  # the layer its neurons compute, for reports

    @property
    def n_neurons(self) -> int:
        return int(self.state.shape[0])

    @property
    def n_dendrites(self) -> int:
        return int(self.dendrites.shape[0])

    @property
    def name(self) -> str:
        return f"x{self.x:02d}_y{self.y:02d}"


@dataclass
class IoMap:
    """Input elements to (core, dendrite, carried index) targets; output elements to (core, neuron)."""

    input_shape: tuple[int, ...]
    input_encode: dict  # see sdannc/ir/codec.py
    input_ptr: np.ndarray  # int64 [n_inputs + 1]: CSR offsets into the three arrays below
    input_core: np.ndarray  # int64: index into ChipImage.cores
    input_dendrite: np.ndarray  # int64
    input_index: np.ndarray  # int64: the neuron index the injected spike carries
    output_shape: tuple[int, ...]
    output_decode: dict
    output_core: np.ndarray  # int64 [n_outputs]
    output_neuron: np.ndarray  # int64 [n_outputs]

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.input_shape, dtype=np.int64))

    @property
    def n_outputs(self) -> int:
        return int(np.prod(self.output_shape, dtype=np.int64))


@dataclass
class Schedule:
    """When spikes go in and come out, in ticks.

    Sample s (0-based) of a stream has its input bit b (MSB first) injected at tick
    s * sample_interval + b; its output bit b fires at tick s * sample_interval + output_offset + b.
    In the codings ttfs and rate, "bit b" is tick b of the window, and the coding says which ticks
    carry a spike for a code (ir/codec.spikes_at).
    """

    bits: int  # ticks a value takes (its window: 8 for stem, its bits MSB first; ir/codes.WINDOW_TICKS)
    sample_interval: int  # ticks between the starts of consecutive samples (pipelining)
    output_offset: int  # tick, relative to the sample's start, of the output MSB
    coding: str = "stem"  # how a value is spikes within its window (ir/codes.CODINGS, ir/codec.spikes_at)

    @property
    def latency(self) -> int:
        """Ticks from a sample's first input spike to its last output spike, inclusive."""
        return self.output_offset + self.bits

    def ticks_for(self, samples: int) -> int:
        return (samples - 1) * self.sample_interval + self.latency if samples else 0


@dataclass
class ChipImage:
    target: Target
    cores: list[CoreImage]
    io: IoMap
    schedule: Schedule
    meta: dict = field(default_factory=dict)  # free-form description (compiler report, layer names)

    def core_index(self) -> dict[tuple[int, int], int]:
        return {(c.x, c.y): i for i, c in enumerate(self.cores)}
