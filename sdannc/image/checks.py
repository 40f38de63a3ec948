"""Check a chip image against its target's limits: every fault named with its core and resource."""

from __future__ import annotations

import numpy as np

from ..arith import signed_range
from ..errors import SdanncError
from ..isa import load_isa
from ..isa.table import IsaError
from .memory import axon_memory_words, dendrite_memory_words
from .model import DENDRITE_ABSOLUTE, DENDRITE_RELATIVE, ChipImage, CoreImage


def _check_program(core: CoreImage, image: ChipImage, fail) -> None:
    isa = load_isa(image.target.isa_name)
    limit = min(image.target.core["program_words"], isa.program_words)
    if core.program.size == 0:
        fail("program is empty (a program ends with END)")
    if core.program.size > limit:
        fail(f"program has {core.program.size} words, limit {limit}")
    try:
        instrs = isa.decode_program(core.program)
    except IsaError as exc:
        fail(f"program: {exc}")
    for pc, instr in enumerate(instrs):
        if instr.mnemonic == "JC" and instr["addr"] >= len(instrs):
            fail(f"program word {pc}: jump to {instr['addr']} beyond the program's {len(instrs)} words")
        for key in ("field",):
            if instr.mnemonic in ("LOAD", "STORE") and instr[key] >= image.target.core["state_fields"]:
                fail(f"program word {pc}: state field {instr[key]} beyond the {image.target.core['state_fields']} fields")
        if instr.mnemonic == "LUT" and core.lut.size == 0:
            fail(f"program word {pc}: LUT, but the core has no lookup memory")
        if instr.mnemonic == "LDC" and instr["creg"] >= image.target.core["config_registers"]:
            fail(f"program word {pc}: configuration register {instr['creg']} beyond the core's "
                 f"{image.target.core['config_registers']}")


def _check_ranges(array: np.ndarray, lo: int, hi: int, what: str, fail) -> None:
    if array.size and (array.min() < lo or array.max() > hi):
        bad = array[(array < lo) | (array > hi)][0]
        fail(f"{what} value {int(bad)} outside {lo}..{hi}")


def _distinct_offsets(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(pairs, axis=0, return_inverse=True) for (dx, dy) rows, through one int64 key per row
    (the same sorted rows: a 1-D unique is several times faster than one over rows)."""
    pairs = np.asarray(pairs, dtype=np.int64)
    lo, hi = pairs.min(axis=0).tolist(), pairs.max(axis=0).tolist()
    span = hi[1] - lo[1] + 1
    if (hi[0] - lo[0] + 1) * span >= 2 ** 62:  # (a damaged image's values: keys would overflow)
        offsets, which = np.unique(pairs, axis=0, return_inverse=True)
        return offsets, which.ravel()
    keys, which = np.unique((pairs[:, 0] - lo[0]) * span + (pairs[:, 1] - lo[1]), return_inverse=True)
    return np.stack([keys // span + lo[0], keys % span + lo[1]], axis=1), which.ravel()


def _check_axon_targets(core: CoreImage, a: np.ndarray, image: ChipImage, index: dict, hops: int, fail) -> None:
    """Every target within reach, on a core of the image, at a dendrite that core has. Checked per
    distinct (dx, dy) offset, then for all entries at once (a core can have 10^5 entries)."""
    offsets, which = _distinct_offsets(a[:, :2])
    dendrites_there = np.empty(len(offsets), dtype=np.int64)
    here = image.target.chip_of(core.x, core.y)
    for k, (dx, dy) in enumerate(offsets.tolist()):
        # an entry for another chip of a board holds the chip and the position there (docs/board.md)
        same_chip = image.target.chip_of(core.x + dx, core.y + dy) == here
        if same_chip and (abs(dx) > hops or abs(dy) > hops):
            fail(f"axon target ({dx:+d}, {dy:+d}) is more than {hops} hops on an axis: place the layers closer")
        dest = index.get((core.x + dx, core.y + dy))
        if dest is None:
            fail(f"axon target ({dx:+d}, {dy:+d}) points at ({core.x + dx}, {core.y + dy}), which holds no core of this image")
        dendrites_there[k] = image.cores[dest].n_dendrites
    which = which.ravel()
    bad = np.flatnonzero((a[:, 2] < 0) | (a[:, 2] >= dendrites_there[which]))
    if bad.size:
        dx, dy = offsets[which[bad[0]]].tolist()
        dest = index[(core.x + dx, core.y + dy)]
        fail(f"axon target dendrite {int(a[bad[0], 2])} does not exist on core {image.cores[dest].name}")


def _check_core(core: CoreImage, image: ChipImage, index: dict, fail) -> None:
    t = image.target
    if t.is_board and not t.is_board_core(core.x, core.y):
        fail(f"board position ({core.x}, {core.y}) is not a neuron core of the {t.chip_grid[0]}x{t.chip_grid[1]} "
             f"chips of {t.mesh['width']}x{t.mesh['height']} cores (each chip's controller at {t.controller})")
    if not t.is_board and not t.is_core(core.x, core.y):
        fail(f"position ({core.x}, {core.y}) is not a neuron core of the {t.mesh['width']}x{t.mesh['height']} mesh "
             f"(controller at {t.controller})")
    if core.n_neurons > t.core["neurons"]:
        fail(f"{core.n_neurons} neurons, limit {t.core['neurons']}: use a smaller tile")
    if core.config.size > t.core["config_registers"]:
        fail(f"{core.config.size} configuration registers, limit {t.core['config_registers']}")
    if core.lut.size > t.core["lut_words"]:
        fail(f"lookup memory of {core.lut.size} words, limit {t.core['lut_words']}")
    reg_lo, reg_hi = signed_range(t.arith["register_bits"])
    _check_ranges(core.lut, reg_lo, reg_hi, f"lookup memory ({t.arith['register_bits']}-bit)", fail)
    _check_ranges(core.state, reg_lo, reg_hi, f"neuron state ({t.arith['register_bits']}-bit)", fail)
    _check_ranges(core.config, reg_lo, reg_hi, f"configuration register ({t.arith['register_bits']}-bit)", fail)
    _check_program(core, image, fail)

    # Dendrite table: kinds, list bounds, weights within the weight width.
    d = core.dendrites
    if d.size:
        if not np.isin(d[:, 0], (DENDRITE_ABSOLUTE, DENDRITE_RELATIVE)).all():
            fail("dendrite table: unknown dendrite kind")
        if (d[:, 1:] < 0).any() or (d[:, 1] + d[:, 2] > core.ids.size).any() or (d[:, 3] + d[:, 2] > core.weights.size).any():
            fail("dendrite table: a list reaches beyond the stored lists")
        if core.n_dendrites > 1 << t.core["dendrite_id_bits"]:
            fail(f"{core.n_dendrites} dendrites, limit {1 << t.core['dendrite_id_bits']}")
        absolute = d[d[:, 0] == DENDRITE_ABSOLUTE]
        for start, length in {(int(s), int(n)) for s, n in absolute[:, 1:3]}:
            _check_ranges(core.ids[start:start + length], 0, core.n_neurons - 1, "dendrite neuron id", fail)
    _check_ranges(core.weights, *signed_range(t.arith["weight_bits"]), f"weight ({t.arith['weight_bits']}-bit)", fail)

    # Axon table: pointers inside the table, targets within reach and existing.
    p, a = core.axon_ptr, core.axon_targets
    if p.shape[0] != core.n_neurons:
        fail(f"axon table has {p.shape[0]} pointers for {core.n_neurons} neurons")
    if p.size and ((p < 0).any() or (p[:, 0] + p[:, 1] > a.shape[0]).any()):
        fail("axon table: a pointer reaches beyond the target lists")
    hops = t.mesh["max_hops_per_axis"]
    _check_ranges(a[:, 3], 0, (1 << t.core["neuron_index_bits"]) - 1, "axon target carried index", fail)
    if a.size:
        _check_axon_targets(core, a, image, index, hops, fail)

    dmem, dlimit = dendrite_memory_words(core, t), t.dendrite_memory_words(core.x)
    if dmem > dlimit:
        kind = "big" if t.is_big_core(core.x) else "little"
        fail(f"dendrite memory needs {dmem} words, the {kind} core has {dlimit}: use a smaller tile or fewer channels")
    amem = axon_memory_words(core, t)
    if amem > t.core["axon_memory_words"]:
        fail(f"axon memory needs {amem} words, limit {t.core['axon_memory_words']}")


def _check_io(image: ChipImage, fail) -> None:
    io, n_cores = image.io, len(image.cores)
    if io.input_ptr.shape != (io.n_inputs + 1,) or io.input_ptr[0] != 0 or (np.diff(io.input_ptr) < 0).any():
        fail("io.npz: input_ptr does not match the input shape")
    m = int(io.input_ptr[-1])
    if not (io.input_core.size == io.input_dendrite.size == io.input_index.size == m):
        fail("io.npz: input target arrays differ in length")
    _check_ranges(io.input_core, 0, n_cores - 1, "io.npz: input core", fail)
    for c in np.unique(io.input_core):
        sel = io.input_core == c
        _check_ranges(io.input_dendrite[sel], 0, image.cores[int(c)].n_dendrites - 1, "io.npz: input dendrite", fail)
    _check_ranges(io.input_index, 0, (1 << image.target.core["neuron_index_bits"]) - 1, "io.npz: input index", fail)
    if io.output_core.size != io.n_outputs or io.output_neuron.size != io.n_outputs:
        fail("io.npz: output map does not match the output shape")
    _check_ranges(io.output_core, 0, n_cores - 1, "io.npz: output core", fail)
    for c in np.unique(io.output_core):
        sel = io.output_core == c
        _check_ranges(io.output_neuron[sel], 0, image.cores[int(c)].n_neurons - 1, "io.npz: output neuron", fail)
    s = image.schedule
    if s.bits < 1 or s.sample_interval < 1 or s.output_offset < 0:
        fail("schedule needs bits >= 1, sample_interval >= 1, output_offset >= 0")
    _check_pipeline(image, fail)


def _check_pipeline(image: ChipImage, fail) -> None:
    """A sample passes each stage, which holds at least one core, in `bits` ticks: the pipeline is at
    most as deep as the image has cores, and its output comes no later than that. A sample interval
    beyond the latency only adds idle ticks. (Damaged values would have the simulator run for ages.)"""
    s, n_cores = image.schedule, len(image.cores)
    deepest = max((core.stage for core in image.cores), default=0)
    if deepest > n_cores:
        fail(f"stage {deepest} is deeper than the image's {n_cores} cores")
    if s.output_offset >= s.bits * (n_cores + 1):
        fail(f"schedule output_offset {s.output_offset} is later than {n_cores} cores of "
             f"{s.bits}-tick stages can take")
    if s.sample_interval > s.output_offset + s.bits:
        fail(f"schedule sample_interval {s.sample_interval} is longer than a sample's "
             f"latency ({s.output_offset + s.bits} ticks)")


def check_image(image: ChipImage, where: str) -> None:
    """Raise SdanncError naming the image, the core and the resource at fault."""

    def fail_for(name: str):
        def fail(what: str):
            raise SdanncError(f"image {where}: {name}: {what}")

        return fail

    index = image.core_index()
    if len(index) != len(image.cores):
        fail_for("network.json")("two cores at the same mesh position")
    for core in image.cores:
        _check_core(core, image, index, fail_for(f"core {core.name}"))
    _check_io(image, fail_for("network.json"))
