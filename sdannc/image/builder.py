"""Build a chip image piece by piece, storing identical lists once.

Used by hand-written examples and tests, and by the compiler's backend. Indices given to the
builder are the image's own: a core is the value `add_core` returned, a dendrite the value
`add_dendrite` returned for that core.
"""

from __future__ import annotations

import numpy as np

from ..target import Target
from .list_pool import ListPool
from .model import DENDRITE_ABSOLUTE, DENDRITE_RELATIVE, ChipImage, CoreImage, IoMap, Schedule


class CoreBuilder:
    def __init__(self, x: int, y: int, program, neurons: int, state_fields: int) -> None:
        self.x, self.y = x, y
        self.program = np.asarray(program, dtype=np.uint16)
        self.config: list[int] = []
        self.lut: list[int] = []
        self.state = np.zeros((neurons, state_fields), dtype=np.int64)
        self._axon_ptr = np.zeros((neurons, 2), dtype=np.int64)  # per neuron: its list's start (in targets), length
        self._axon_pool = ListPool()  # target lists, 4 numbers a target
        self._dendrites: list[np.ndarray] = []  # [dendrites, 4] blocks, as added
        self._n_dendrites = 0
        self._ids = ListPool()
        self._weights = ListPool()
        self.stage, self.layer = 0, ""

    def set_config(self, values) -> None:
        self.config = [int(v) for v in values]

    def set_lut(self, values) -> None:
        """The core's lookup memory (what LUT reads)."""
        self.lut = [int(v) for v in values]

    def _append_dendrites(self, kind: int, id_start: int, length: int, weight_starts: np.ndarray) -> np.ndarray:
        block = np.empty((weight_starts.size, 4), dtype=np.int64)
        block[:, 0], block[:, 1], block[:, 2], block[:, 3] = kind, id_start, length, weight_starts
        self._dendrites.append(block)
        first = self._n_dendrites
        self._n_dendrites += weight_starts.size
        return np.arange(first, self._n_dendrites)

    def add_dendrites(self, ids, weights, relative: bool = False) -> np.ndarray:
        """Dendrites that share one id list, one per row of `weights`; their indices, in row order.
        The same as add_dendrite row by row, but fast enough for the thousands a convolution tile adds."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        weights = np.ascontiguousarray(weights, dtype=np.int64).reshape(-1, ids.size)
        kind = DENDRITE_RELATIVE if relative else DENDRITE_ABSOLUTE
        id_start = self._ids.add(ids)
        return self._append_dendrites(kind, id_start, ids.size, np.asarray(self._weights.add_rows(weights),
                                                                            dtype=np.int64))

    def add_dendrite(self, ids, weights, relative: bool = False) -> int:
        """A dendrite: a neuron-id list (or offsets, if relative) and its weights, of equal length."""
        ids, weights = np.asarray(ids).ravel(), np.asarray(weights).ravel()
        if len(ids) != len(weights):
            raise ValueError(f"dendrite needs as many weights ({len(weights)}) as ids ({len(ids)})")
        kind = DENDRITE_RELATIVE if relative else DENDRITE_ABSOLUTE
        id_start = self._ids.add(ids)
        weight_start = self._weights.add(weights)
        return int(self._append_dendrites(kind, id_start, len(ids), np.asarray([weight_start]))[0])

    def _dendrite_table(self) -> np.ndarray:
        if len(self._dendrites) != 1:
            self._dendrites = [np.concatenate(self._dendrites) if self._dendrites else np.zeros((0, 4), dtype=np.int64)]
        return self._dendrites[0]

    def dendrite_lengths(self) -> np.ndarray:
        return self._dendrite_table()[:, 2].copy()

    def set_axons(self, neuron: int, targets) -> None:
        """Targets as (dx, dy, dendrite, carried index) with relative mesh offsets; identical lists are shared."""
        self.set_axon_array(neuron, np.asarray([(int(dx), int(dy), int(d), int(i)) for dx, dy, d, i in targets],
                                               dtype=np.int64).reshape(-1, 4))

    def set_axon_array(self, neuron: int, targets: np.ndarray) -> None:
        """set_axons with the targets already an int64 array [targets, 4]."""
        self._axon_ptr[neuron] = (self._axon_pool.add(targets) // 4, len(targets))

    def set_axon_lists(self, neurons: np.ndarray, bounds: np.ndarray, targets: np.ndarray) -> None:
        """set_axon_array for every neurons[i] with targets[bounds[i]:bounds[i + 1]], in that order, at once
        (the compiler's millions of neurons)."""
        starts = self._axon_pool.add_many(np.asarray(targets, dtype=np.int64).reshape(-1), 4 * np.asarray(bounds))
        self._axon_ptr[neurons, 0] = starts // 4
        self._axon_ptr[neurons, 1] = np.diff(bounds)

    def build(self) -> CoreImage:
        return CoreImage(
            x=self.x,
            y=self.y,
            program=self.program,
            config=np.asarray(self.config, dtype=np.int64),
            lut=np.asarray(self.lut, dtype=np.int64),
            state=self.state,
            axon_ptr=self._axon_ptr.copy(),
            axon_targets=self._axon_pool.array().reshape(-1, 4),
            dendrites=self._dendrite_table().copy(),
            ids=self._ids.array(),
            weights=self._weights.array(),
            stage=self.stage,
            layer=self.layer,
        )


class ImageBuilder:
    def __init__(self, target: Target) -> None:
        self.target = target
        self.cores: list[CoreBuilder] = []
        self._inputs: dict[int, list[tuple[int, int, int]]] = {}
        self._outputs: dict[int, tuple[int, int]] = {}
        self.meta: dict = {}

    def add_core(self, x: int, y: int, program, neurons: int) -> int:
        self.cores.append(CoreBuilder(x, y, program, neurons, self.target.core["state_fields"]))
        return len(self.cores) - 1

    def core(self, index: int) -> CoreBuilder:
        return self.cores[index]

    def connect(self, src_core: int, neuron: int, targets) -> None:
        """Axon of `neuron` on `src_core` to (dst_core, dendrite) or (dst_core, dendrite, carried index).

        The spike carries the neuron's own index unless the target says otherwise.
        """
        src = self.cores[src_core]
        rel = [(self.cores[t[0]].x - src.x, self.cores[t[0]].y - src.y, t[1], t[2] if len(t) > 2 else neuron)
               for t in targets]
        src.set_axons(neuron, rel)

    def map_input(self, element: int, targets) -> None:
        """Input element to (core, dendrite, carried index) targets."""
        self._inputs.setdefault(int(element), []).extend((int(c), int(d), int(i)) for c, d, i in targets)

    def map_output(self, element: int, core: int, neuron: int) -> None:
        self._outputs[int(element)] = (int(core), int(neuron))

    def build(self, input_shape, input_encode: dict, output_shape, output_decode: dict, schedule: Schedule) -> ChipImage:
        n_in = int(np.prod(input_shape, dtype=np.int64))
        n_out = int(np.prod(output_shape, dtype=np.int64))
        ptr, flat = [0], []
        for element in range(n_in):
            flat.extend(self._inputs.get(element, []))
            ptr.append(len(flat))
        triples = np.asarray(flat, dtype=np.int64).reshape(-1, 3)
        missing = [e for e in range(n_out) if e not in self._outputs]
        if missing:
            raise ValueError(f"output elements without a neuron: {missing[:5]}")
        outs = np.asarray([self._outputs[e] for e in range(n_out)], dtype=np.int64).reshape(-1, 2)
        io = IoMap(
            input_shape=tuple(int(s) for s in input_shape),
            input_encode=dict(input_encode),
            input_ptr=np.asarray(ptr, dtype=np.int64),
            input_core=triples[:, 0],
            input_dendrite=triples[:, 1],
            input_index=triples[:, 2],
            output_shape=tuple(int(s) for s in output_shape),
            output_decode=dict(output_decode),
            output_core=outs[:, 0],
            output_neuron=outs[:, 1],
        )
        return ChipImage(self.target, [c.build() for c in self.cores], io, schedule, dict(self.meta))
