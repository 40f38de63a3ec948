"""Chip descriptions: load `targets/*.yaml` (or a user's file), check the schema, give typed access.

A target may say `extends: OTHER` and override some keys; the result is the deep merge, checked
as a whole. A board is a target with `chip: CHIP` (a chip target, by name or path), `chips: {width,
height}` (a 2-D grid of that chip) and `chip_links` (the links between neighbouring chips): it takes
every key of its chip and adds those three, so the chip is described once (docs/board.md). The schema below is the list of keys every target must have; an unknown or missing key,
or a value of the wrong kind, is an error naming the file and the key.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import yaml

from .errors import SdanncError
from .resources import data_dir

# key -> expected kind: an integer or a number within bounds, str, a list shape, or a nested schema.
# The bounds are sdannc's own limits, not the chip's: counts fit 32-bit arithmetic, bit widths are
# shift amounts (1 << bits), sizes that something is divided by are at least 1, and the mesh and the
# per-neuron register files stay within what placement and the simulator can hold in memory.
_LIMIT = 2 ** 31 - 1
_INT = ("int", 0, _LIMIT)  # a count
_SIZE = ("int", 1, _LIMIT)  # a count something is divided by, or that must hold at least one
_BITS = ("int", 1, 63)  # a field width
_MESH = ("int", 1, 256)  # a mesh side
_FIELDS = ("int", 0, 65535)  # registers or state fields of every neuron
_NUM = ("number", 0, _LIMIT)
_RATE = ("number", 1e-6, _LIMIT)  # a clock: time is cycles divided by it
_STR = "str"
_SCHEMA: dict = {
    "name": _STR,
    "description": _STR,
    "isa": _STR,
    "mesh": {"width": _MESH, "height": _MESH, "controller": [_INT, _INT], "max_hops_per_axis": _INT},
    "core": {
        "neurons": _SIZE,
        "program_words": _SIZE,
        "registers": _FIELDS,
        "config_registers": _FIELDS,
        "lut_words": _FIELDS,
        "state_fields": _FIELDS,
        "memory_word_bits": _BITS,
        "dendrite_memory_words": {"big": _INT, "little": _INT},
        "big_core_rule": {"column_modulus": _SIZE, "below": _INT},
        "axon_memory_words": _INT,
        "dendrite_id_bits": _BITS,
        "neuron_index_bits": _BITS,
    },
    "arith": {"weight_bits": _BITS, "register_bits": _BITS, "dendrite_sum_bits": _BITS},
    "tables": {
        "dendrite_header_words": _INT,
        "id_entry_bits": _BITS,
        "axon_pointer_words": _INT,
        "axon_entry_words": _INT,
    },
    "noc": {"flits_per_packet": _INT, "routing": _STR},
    "clock_mhz": _RATE,
    "cycles": {
        "per_synaptic_event": _INT,
        "per_packet_in": _INT,
        "per_packet_out": _INT,
        "per_hop": _INT,
        "per_flit_on_link": _INT,
        "tick_overhead": _INT,
        "instructions": "mapping",
    },
    "energy": {
        "pj_per_sop": _NUM,
        "pj_per_instruction": _NUM,
        "pj_per_flit_hop": _NUM,
        "ann_pj_per_mac": _NUM,
        "snn_pj_per_ac": _NUM,
    },
}


# The keys a board adds to its chip's. `chip` is the chip's name and description (its other keys are the
# board's own top level); the links join neighbouring chips' border routers (docs/board.md).
_BOARD_SCHEMA: dict = {
    "chip": {"name": _STR, "description": _STR},
    "chips": {"width": ("int", 1, 64), "height": ("int", 1, 64)},
    "chip_links": {"latency_cycles": _INT, "flits_per_cycle": _RATE, "pj_per_flit": _NUM},
}
BOARD_KEYS = tuple(_BOARD_SCHEMA)
_BOARD_SIDE = 1024  # routers along an axis of a board (all chips): sdannc's limit, as a 1024 x 1024 mesh


# Keys a target may leave out, and their value then: keys added after targets (and the images that
# embed them) were written. core.lut_words: no lookup memory (LUT), as before it existed.
_DEFAULTS = {("core", "lut_words"): 0}


def _with_defaults(raw):
    if not isinstance(raw, dict):
        return raw
    raw = copy.deepcopy(raw)
    for (section, key), value in _DEFAULTS.items():
        if isinstance(raw.get(section), dict):
            raw[section].setdefault(key, value)
    return raw


def _fail(source: str, key: str, what: str) -> SdanncError:
    return SdanncError(f"target {source}: key '{key}': {what}")


def _check(node, schema, source: str, path: str) -> None:
    if isinstance(schema, dict):
        if not isinstance(node, dict):
            raise _fail(source, path.rstrip(".") or "<top>", "expected a mapping")
        for key in node:
            if key not in schema:
                raise _fail(source, f"{path}{key}", "unknown key (check the spelling)")
        for key, sub in schema.items():
            if key not in node:
                raise _fail(source, f"{path}{key}", "missing")
            _check(node[key], sub, source, f"{path}{key}.")
        return
    key = path.rstrip(".")
    if isinstance(schema, list):
        if not (isinstance(node, list) and len(node) == len(schema)):
            raise _fail(source, key, f"expected a list of {len(schema)} integers")
        for item in node:
            _check(item, _INT, source, path)
    elif isinstance(schema, tuple):
        kind, lo, hi = schema
        types = int if kind == "int" else (int, float)
        if isinstance(node, bool) or not isinstance(node, types) or not lo <= node <= hi:  # NaN fails too
            raise _fail(source, key, f"expected {'an integer' if kind == 'int' else 'a number'} from {lo} "
                                     f"to {hi}, got {node!r}")
    elif schema == _STR:
        if not isinstance(node, str):
            raise _fail(source, key, f"expected a string, got {node!r}")
    elif schema == "mapping":
        if not isinstance(node, dict):
            raise _fail(source, key, "expected a mapping")


def _merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve_target_path(name_or_path: str) -> Path:
    """A built-in target name (`darwin3`) or a path to a YAML file."""
    as_path = Path(name_or_path)
    if as_path.suffix in (".yaml", ".yml") or as_path.exists():
        if not as_path.is_file():
            raise SdanncError(f"target file {name_or_path} not found")
        return as_path
    builtin = data_dir("targets") / f"{name_or_path}.yaml"
    if not builtin.is_file():
        names = ", ".join(sorted(p.stem for p in data_dir("targets").glob("*.yaml")))
        raise SdanncError(f"unknown target '{name_or_path}': built-in targets are {names}, or give a path to a YAML file")
    return builtin


def _read_yaml(path: Path) -> dict:
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise SdanncError(f"target {path}:{where} malformed YAML ({getattr(exc, 'problem', exc)})") from None
    except OSError as exc:
        raise SdanncError(f"target {path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise SdanncError(f"target {path}: not UTF-8 text (byte {exc.start}): is it a target YAML file?") from None
    if not isinstance(raw, dict):
        raise SdanncError(f"target {path}: expected a mapping of keys at the top level")
    return raw


def _relative_path(path: Path, name) -> Path:
    """A target named in another target's file: next to that file, else built in."""
    return path.parent / str(name) if (path.parent / str(name)).is_file() else resolve_target_path(str(name))


def _load_raw(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    raw = _read_yaml(path)
    parent = raw.pop("extends", None)
    if parent is None:
        return raw
    parent_path = _relative_path(path, parent)
    if parent_path.resolve() in seen:
        raise SdanncError(f"target {path}: key 'extends': circular ({parent})")
    return _merge(_load_raw(parent_path, seen + (path.resolve(),)), raw)


def _board_raw(path: Path, raw: dict) -> dict:
    """A board's file (`chip: NAME` and the board keys) as one target: the chip's keys with the
    board's name and description, then the board keys, the chip named by its name and description."""
    if "chips" not in raw and "chip" not in raw:
        return raw
    ref = raw.get("chip")
    if not isinstance(ref, str):
        return raw  # an embedded board (an image's target.yaml) already holds its chip's keys
    own = set(raw) - {"name", "description", *BOARD_KEYS}
    if own:
        raise _fail(str(path), sorted(own)[0], "a board takes its chip's keys from the chip (`chip:`); "
                                               "change them in the chip's file")
    chip = _with_defaults(_load_raw(_relative_path(path, ref), (path.resolve(),)))
    if "chips" in chip or "chip" in chip:
        raise _fail(str(path), "chip", f"'{ref}' is a board, not a chip")
    _check(chip, _SCHEMA, str(ref), "")
    merged = copy.deepcopy(chip)
    for key in ("name", "description"):
        if key in raw:
            merged[key] = raw[key]
    merged["chip"] = {"name": chip["name"], "description": chip["description"]}
    for key in ("chips", "chip_links"):
        if key in raw:
            merged[key] = copy.deepcopy(raw[key])
    return merged


@dataclass(frozen=True)
class Target:
    """A checked chip description. `raw` is the merged YAML; properties name what code needs."""

    raw: dict
    source: str

    @property
    def name(self) -> str:
        return self.raw["name"]

    @property
    def isa_name(self) -> str:
        return self.raw["isa"]

    @property
    def mesh(self) -> dict:
        return self.raw["mesh"]

    @property
    def core(self) -> dict:
        return self.raw["core"]

    @property
    def arith(self) -> dict:
        return self.raw["arith"]

    @property
    def tables(self) -> dict:
        return self.raw["tables"]

    @property
    def noc(self) -> dict:
        return self.raw["noc"]

    @property
    def cycles(self) -> dict:
        return self.raw["cycles"]

    def instruction_cycles(self, isa) -> dict[str, int]:
        """Cycle cost per mnemonic: the ISA's, with this target's overrides (`cycles.instructions`)."""
        costs = {spec.mnemonic: spec.cycles for spec in isa.instructions}
        for mnemonic, value in self.cycles["instructions"].items():
            if mnemonic not in costs:
                raise SdanncError(f"target {self.name}: key 'cycles.instructions.{mnemonic}': not an instruction "
                                  f"of ISA {isa.name}")
            costs[mnemonic] = int(value)
        return costs

    @property
    def energy(self) -> dict:
        return self.raw["energy"]

    @property
    def clock_hz(self) -> float:
        return float(self.raw["clock_mhz"]) * 1e6

    @property
    def controller(self) -> tuple[int, int]:
        x, y = self.mesh["controller"]
        return int(x), int(y)

    def is_core(self, x: int, y: int) -> bool:
        """A neuron core: inside the mesh and not the controller node."""
        return 0 <= x < self.mesh["width"] and 0 <= y < self.mesh["height"] and (x, y) != self.controller

    def is_big_core(self, x: int) -> bool:
        """By the column on its chip (x may be a board position)."""
        rule = self.core["big_core_rule"]
        return x % self.mesh["width"] % rule["column_modulus"] < rule["below"]

    def dendrite_memory_words(self, x: int) -> int:
        kind = "big" if self.is_big_core(x) else "little"
        return self.core["dendrite_memory_words"][kind]

    def core_count(self) -> int:
        """A chip's neuron cores (of a board: each chip's)."""
        return self.mesh["width"] * self.mesh["height"] - 1

    # ---- boards: chips in a grid, each this target's mesh (docs/board.md) ----------------------
    @property
    def is_board(self) -> bool:
        return "chips" in self.raw

    @property
    def chip_grid(self) -> tuple[int, int]:
        """Chips along x and y: (1, 1) for a chip."""
        chips = self.raw.get("chips", {"width": 1, "height": 1})
        return int(chips["width"]), int(chips["height"])

    @property
    def chip_count(self) -> int:
        return self.chip_grid[0] * self.chip_grid[1]

    @property
    def chip_links(self) -> dict:
        return self.raw["chip_links"]

    @property
    def grid_size(self) -> tuple[int, int]:
        """Routers along x and y over all chips: board coordinates run over these (a chip's are its mesh)."""
        cw, ch = self.chip_grid
        return self.mesh["width"] * cw, self.mesh["height"] * ch

    def chip_of(self, x: int, y: int) -> tuple[int, int]:
        """The chip that holds board position (x, y)."""
        return x // self.mesh["width"], y // self.mesh["height"]

    def is_board_core(self, x: int, y: int) -> bool:
        """A neuron core at board position (x, y): on a chip of the grid, not a chip's controller."""
        (cw, ch), (w, h) = self.chip_grid, (self.mesh["width"], self.mesh["height"])
        return 0 <= x < w * cw and 0 <= y < h * ch and self.is_core(x % w, y % h)

    def chip_target(self) -> "Target":
        """The chip alone, as its own file loads it (a chip target is its own chip)."""
        if "chip" not in self.raw:
            return self
        raw = {k: copy.deepcopy(v) for k, v in self.raw.items() if k not in BOARD_KEYS}
        raw["name"], raw["description"] = self.raw["chip"]["name"], self.raw["chip"]["description"]
        return Target(raw=raw, source=self.raw["chip"]["name"])

    def with_chips(self, chips: tuple[int, int]) -> "Target":
        """The same board with another grid (for the does-not-fit advice)."""
        raw = copy.deepcopy(self.raw)
        raw["chips"] = {"width": int(chips[0]), "height": int(chips[1])}
        return Target(raw=raw, source=self.source)


def _check_consistency(raw: dict, source: str) -> None:
    mesh, core, arith = raw["mesh"], raw["core"], raw["arith"]
    cx, cy = mesh["controller"]
    if not (cx < mesh["width"] and cy < mesh["height"]):
        raise _fail(source, "mesh.controller", f"({cx}, {cy}) lies outside the {mesh['width']}x{mesh['height']} mesh")
    if core["neurons"] > 2 ** core["neuron_index_bits"]:
        raise _fail(source, "core.neurons", f"{core['neurons']} needs more than neuron_index_bits={core['neuron_index_bits']}")
    if not 2 <= arith["register_bits"] <= 32:
        raise _fail(source, "arith.register_bits", "supported range is 2 to 32")
    if not arith["register_bits"] <= arith["dendrite_sum_bits"] <= 48:
        raise _fail(source, "arith.dendrite_sum_bits", "must be at least register_bits and at most 48")
    if not 2 <= arith["weight_bits"] <= 16:
        raise _fail(source, "arith.weight_bits", "supported range is 2 to 16")
    if raw["noc"]["routing"] != "xy":
        raise _fail(source, "noc.routing", "only 'xy' (dimension-ordered) routing is modelled")
    if core["state_fields"] < 4:
        raise _fail(source, "core.state_fields", "at least 4 (LDS/STS move fields 0..3)")
    if any(k in raw for k in BOARD_KEYS):
        _check_board(raw, source)


def remote_entry_bits(raw: dict) -> int:
    """Bits of an axon entry for a neuron on another chip (docs/board.md): a flag, the chip offset
    (sign and distance per axis), the destination's position on its chip, the dendrite id and the
    carried index."""
    mesh, chips, core = raw["mesh"], raw["chips"], raw["core"]
    span = max(chips["width"], chips["height"]) - 1
    position = (mesh["width"] - 1).bit_length() + (mesh["height"] - 1).bit_length()
    return 1 + 2 * (1 + span.bit_length()) + position + core["dendrite_id_bits"] + core["neuron_index_bits"]


def _check_board(raw: dict, source: str) -> None:
    missing = [k for k in BOARD_KEYS if k not in raw]
    if missing:
        raise _fail(source, missing[0], "missing (a board has chip, chips and chip_links)")
    _check({k: raw[k] for k in BOARD_KEYS}, _BOARD_SCHEMA, source, "")
    for axis in ("width", "height"):  # the simulator holds every link of the board
        if raw["chips"][axis] * raw["mesh"][axis] > _BOARD_SIDE:
            raise _fail(source, f"chips.{axis}", f"{raw['chips'][axis]} chips of {raw['mesh'][axis]} routers are more "
                                                 f"than {_BOARD_SIDE} along an axis")
    bits, room = remote_entry_bits(raw), raw["core"]["memory_word_bits"] * raw["tables"]["axon_entry_words"]
    if bits > room:
        raise _fail(source, "chips", f"an axon entry to another chip takes {bits} bits, an entry has {room} "
                                     "(tables.axon_entry_words words): use fewer chips")


def load_target(name_or_path: str) -> Target:
    """Load and check a target by built-in name or path; raises SdanncError naming the key at fault."""
    path = resolve_target_path(name_or_path)
    raw = _with_defaults(_board_raw(path, _load_raw(path)))
    source = str(path) if Path(name_or_path).suffix else name_or_path
    _check(_chip_part(raw), _SCHEMA, source, "")
    _check_consistency(raw, source)
    return Target(raw=raw, source=source)


def target_from_dict(raw: dict, source: str) -> Target:
    """A target embedded in a chip image (already merged): checked the same way."""
    raw = _with_defaults(raw)
    _check(_chip_part(raw), _SCHEMA, source, "")
    _check_consistency(raw, source)
    return Target(raw=copy.deepcopy(raw), source=source)


def _chip_part(raw):
    """The keys the chip schema checks: a board's own keys are checked by _check_board."""
    if not isinstance(raw, dict) or not any(k in raw for k in BOARD_KEYS):
        return raw
    return {k: v for k, v in raw.items() if k not in BOARD_KEYS}
