"""Build a chip image piece by piece, storing identical lists once.

Used by hand-written examples and tests, and by the compiler's backend. Indices given to the
builder are the image's own: a core is the value `add_core` returned, a dendrite the value
`add_dendrite` returned for that core.
"""

from __future__ import annotations

import numpy as np

from ..target import Target
from .model import DENDRITE_ABSOLUTE, DENDRITE_RELATIVE, ChipImage, CoreImage, IoMap, Schedule


class _ListPool:
    """Append-only storage where an identical list is stored once (keyed by its bytes: fast)."""

    def __init__(self) -> None:
        self._chunks: list[np.ndarray] = []
        self._size = 0
        self._index: dict[bytes, int] = {}
        self._joined: np.ndarray | None = None  # array(), kept until the next new list

    def add(self, items) -> int:
        return self._insert(np.asarray(items, dtype=np.int64).ravel())

    def add_rows(self, rows: np.ndarray) -> list[int]:
        """`add` for every row of a 2-D int64 array, without the per-call conversions."""
        return [self._insert(values) for values in rows]

    def _insert(self, values: np.ndarray) -> int:
        key = values.tobytes()
        start = self._index.get(key)
        if start is None:
            start = self._index[key] = self._size
            self._chunks.append(values)
            self._size += values.size
            self._joined = None
        return start

    def array(self) -> np.ndarray:
        """All lists end to end (a tile's core is built twice: for its memory check, then for the image)."""
        if self._joined is None:
            self._joined = np.concatenate(self._chunks) if self._chunks else np.zeros(0, dtype=np.int64)
            self._chunks = [self._joined]
        return self._joined


class CoreBuilder:
    def __init__(self, x: int, y: int, program, neurons: int, state_fields: int) -> None:
        self.x, self.y = x, y
        self.program = np.asarray(program, dtype=np.uint16)
        self.config: list[int] = []
        self.lut: list[int] = []
        self.state = np.zeros((neurons, state_fields), dtype=np.int64)
        self._axon_lists: list[tuple[int, int]] = [(0, 0)] * neurons
        self._axon_pool = _ListPool()  # target lists, 4 numbers a target
        self._dendrites: list[tuple[int, int, int, int]] = []
        self._ids = _ListPool()
        self._weights = _ListPool()
        self.stage, self.layer = 0, ""

    def set_config(self, values) -> None:
        self.config = [int(v) for v in values]

    def set_lut(self, values) -> None:
        """The core's lookup memory (what LUT reads)."""
        self.lut = [int(v) for v in values]

    def add_dendrites(self, ids, weights, relative: bool = False) -> np.ndarray:
        """Dendrites that share one id list, one per row of `weights`; their indices, in row order.
        The same as add_dendrite row by row, but fast enough for the thousands a convolution tile adds."""
        ids = np.asarray(ids, dtype=np.int64).ravel()
        weights = np.ascontiguousarray(weights, dtype=np.int64).reshape(-1, ids.size)
        kind = DENDRITE_RELATIVE if relative else DENDRITE_ABSOLUTE
        id_start, first = self._ids.add(ids), len(self._dendrites)
        self._dendrites.extend((kind, id_start, ids.size, w) for w in self._weights.add_rows(weights))
        return np.arange(first, len(self._dendrites))

    def add_dendrite(self, ids, weights, relative: bool = False) -> int:
        """A dendrite: a neuron-id list (or offsets, if relative) and its weights, of equal length."""
        ids, weights = np.asarray(ids).ravel(), np.asarray(weights).ravel()
        if len(ids) != len(weights):
            raise ValueError(f"dendrite needs as many weights ({len(weights)}) as ids ({len(ids)})")
        kind = DENDRITE_RELATIVE if relative else DENDRITE_ABSOLUTE
        self._dendrites.append((kind, self._ids.add(ids), len(ids), self._weights.add(weights)))
        return len(self._dendrites) - 1

    def dendrite_lengths(self) -> np.ndarray:
        return np.asarray([length for _, _, length, _ in self._dendrites], dtype=np.int64)

    def set_axons(self, neuron: int, targets) -> None:
        """Targets as (dx, dy, dendrite, carried index) with relative mesh offsets; identical lists are shared."""
        self.set_axon_array(neuron, np.asarray([(int(dx), int(dy), int(d), int(i)) for dx, dy, d, i in targets],
                                               dtype=np.int64).reshape(-1, 4))

    def set_axon_array(self, neuron: int, targets: np.ndarray) -> None:
        """set_axons with the targets already an int64 array [targets, 4] (for the compiler's many neurons)."""
        self._axon_lists[neuron] = (self._axon_pool.add(targets) // 4, len(targets))

    def build(self) -> CoreImage:
        return CoreImage(
            x=self.x,
            y=self.y,
            program=self.program,
            config=np.asarray(self.config, dtype=np.int64),
            lut=np.asarray(self.lut, dtype=np.int64),
            state=self.state,
            axon_ptr=np.asarray(self._axon_lists, dtype=np.int64).reshape(-1, 2),
            axon_targets=self._axon_pool.array().reshape(-1, 4),
            dendrites=np.asarray(self._dendrites, dtype=np.int64).reshape(-1, 4),
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
