"""The instruction set as data: read isa/<name>.yaml, check it, and hold it as frozen specs;
`Instr`, one instruction as a value.

Every opcode and bit position sdannc uses comes from here; nothing else in the code base repeats one.
"""

from __future__ import annotations

import functools
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import yaml

from .. import resources
from . import encoding
from .encoding import IsaError

FIELD_KINDS = ("reg", "uint", "sint", "enum", "table", "addr")

# Names the assembler must be able to read back as one token.
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class FieldSpec:
    """One operand field: bits hi..lo (inclusive) of the word, and how to read them."""

    name: str
    hi: int
    lo: int
    kind: str
    choices: tuple | None = None  # enum: the names, table: the values; index = code

    @property
    def width(self) -> int:
        return self.hi - self.lo + 1

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lo


@dataclass(frozen=True)
class InstructionSpec:
    mnemonic: str
    opcode: int
    fields: tuple[FieldSpec, ...]
    cycles: int
    meaning: str

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def syntax(self) -> str:
        """How the instruction is written in assembly, e.g. `SFTI rs, dir, amount, round`."""
        return f"{self.mnemonic} {', '.join(self.field_names)}".rstrip()


@dataclass(frozen=True, eq=False)
class InstructionSet:
    name: str
    path: Path
    word_bits: int
    opcode_bits: tuple[int, int]  # (hi, lo)
    registers: int
    program_words: int
    fixed_registers: dict
    instructions: tuple[InstructionSpec, ...]
    by_mnemonic: dict = field(init=False, repr=False)
    by_opcode: dict = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_mnemonic", {s.mnemonic: s for s in self.instructions})
        object.__setattr__(self, "by_opcode", {s.opcode: s for s in self.instructions})

    @property
    def opcode_mask(self) -> int:
        hi, lo = self.opcode_bits
        return ((1 << (hi - lo + 1)) - 1) << lo

    def spec(self, mnemonic: str) -> InstructionSpec:
        try:
            return self.by_mnemonic[mnemonic]
        except (KeyError, TypeError):
            raise IsaError(f"{self.name}: unknown instruction {mnemonic!r}") from None

    def cycles(self, mnemonic: str) -> int:
        return self.spec(mnemonic).cycles

    def domain(self, f: FieldSpec) -> Sequence:
        """The semantic values field `f` can hold: encode accepts exactly these, decode yields only these."""
        if f.kind in ("enum", "table"):
            return f.choices
        if f.kind == "sint":
            return range(-(1 << (f.width - 1)), 1 << (f.width - 1))
        if f.kind == "reg":
            return range(min(self.registers, 1 << f.width))
        if f.kind == "addr":
            return range(min(self.program_words, 1 << f.width))
        return range(1 << f.width)

    # The bit work lives in encoding.py, below this module.
    def encode(self, instr: Instr) -> int:
        return encoding.encode(self, instr)

    def decode(self, word: int) -> Instr:
        return Instr(*encoding.decode(self, word))

    def encode_program(self, instrs) -> np.ndarray:
        return encoding.encode_program(self, instrs)

    def decode_program(self, words) -> list[Instr]:
        return [Instr(*decoded) for decoded in encoding.decode_program(self, words)]


@dataclass(frozen=True)
class Instr:
    """One instruction: its mnemonic and its operands as (field name, semantic value) pairs."""

    mnemonic: str
    operands: tuple[tuple[str, int | str], ...] = ()

    def __post_init__(self) -> None:
        # Normalise so that equal instructions compare and hash equal however they were built.
        ops = tuple((str(k), int(v) if isinstance(v, np.integer) else v) for k, v in self.operands)
        object.__setattr__(self, "operands", ops)

    @classmethod
    def of(cls, mnemonic: str, /, *, isa: InstructionSet | None = None, **operands: int | str) -> Instr:
        """`Instr.of("ADD", rs=0, rt=3)`: operands stored in the field order of the spec (darwin3 by default)."""
        spec = (isa or load_isa()).spec(mnemonic)
        encoding.check_names(spec, list(operands))
        return cls(spec.mnemonic, tuple((name, operands[name]) for name in spec.field_names))

    def __getitem__(self, name: str) -> int | str:
        for key, value in self.operands:
            if key == name:
                return value
        raise KeyError(f"{self.mnemonic} has no operand {name!r}")

    def __str__(self) -> str:
        return " ".join([self.mnemonic] + [f"{k}={v}" for k, v in self.operands])


def load_isa(name_or_path: str | os.PathLike = "darwin3") -> InstructionSet:
    """The instruction set named `name_or_path` (isa/<name>.yaml) or read from that YAML file."""
    return _load(_resolve(name_or_path))


def _resolve(name_or_path: str | os.PathLike) -> Path:
    text = os.fspath(name_or_path)
    is_path = isinstance(name_or_path, os.PathLike) or "/" in text or os.sep in text or text.endswith((".yaml", ".yml"))
    if is_path:
        path = Path(text)
        if not path.is_file():
            raise IsaError(f"{text}: no such ISA file")
        return path.resolve()
    folder = resources.data_dir("isa")
    path = folder / f"{text}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in folder.glob("*.yaml"))) or "none"
        raise IsaError(f"unknown ISA {text!r} (known: {known})")
    return path.resolve()


@functools.lru_cache(maxsize=None)
def _load(path: Path) -> InstructionSet:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise IsaError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise IsaError(f"{path}: cannot read: {exc}") from None
    return _Checker(path).build(data)


class _Checker:
    """Turns the parsed YAML into an InstructionSet, raising a one-line IsaError at the first problem."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, where: str, message: str):
        raise IsaError(f"{self.path}: {where}: {message}")

    def integer(self, value: Any, where: str, what: str, minimum: int = 0) -> int:
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            self.fail(where, f"{what} must be an integer >= {minimum}, got {value!r}")
        return value

    def bits(self, value: Any, where: str, what: str) -> tuple[int, int]:
        ok = isinstance(value, list) and len(value) == 2
        ok = ok and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
        if not ok or value[0] < value[1]:
            self.fail(where, f"{what} must be [hi, lo] with hi >= lo >= 0, got {value!r}")
        return value[0], value[1]

    def build(self, data: Any) -> InstructionSet:
        if not isinstance(data, dict):
            self.fail("top level", "expected a mapping")
        for key in ("name", "word_bits", "opcode_bits", "registers", "program_words", "instructions"):
            if key not in data:
                self.fail("top level", f"missing key '{key}'")
        if not isinstance(data["name"], str):
            self.fail("name", f"must be a string, got {data['name']!r}")
        word_bits = self.integer(data["word_bits"], "word_bits", "word_bits", 1)
        if word_bits > 16:  # programs are stored and handed around as uint16 words
            self.fail("word_bits", f"at most 16 is supported, got {word_bits}")
        opcode_bits = self.bits(data["opcode_bits"], "opcode_bits", "opcode_bits")
        if opcode_bits[0] >= word_bits:
            self.fail("opcode_bits", f"{list(opcode_bits)} lie outside the {word_bits}-bit word")
        registers = self.integer(data["registers"], "registers", "registers", 1)
        program_words = self.integer(data["program_words"], "program_words", "program_words", 1)
        fixed = data.get("fixed_registers", {})
        if not isinstance(fixed, dict):
            self.fail("fixed_registers", "expected a mapping")
        enums = self.named_lists(data.get("enums", {}), "enums", str)
        tables = self.named_lists(data.get("tables", {}), "tables", int)
        self.word_bits, self.opcode_bits, self.registers = word_bits, opcode_bits, registers
        self.enums, self.tables = enums, tables

        raw = data["instructions"]
        if not isinstance(raw, list) or not raw:
            self.fail("instructions", "expected a non-empty list")
        specs, mnemonics, opcodes = [], {}, {}
        for i, entry in enumerate(raw):
            spec = self.instruction(entry, i)
            if spec.mnemonic.upper() in mnemonics:  # the assembler reads mnemonics case-insensitively
                self.fail(f"instruction {spec.mnemonic}", f"mnemonic repeats {mnemonics[spec.mnemonic.upper()]}")
            if spec.opcode in opcodes:
                self.fail(f"instruction {spec.mnemonic}", f"opcode {spec.opcode} is already {opcodes[spec.opcode]}'s")
            mnemonics[spec.mnemonic.upper()] = spec.mnemonic
            opcodes[spec.opcode] = spec.mnemonic
            specs.append(spec)
        return InstructionSet(
            name=data["name"],
            path=self.path,
            word_bits=word_bits,
            opcode_bits=opcode_bits,
            registers=registers,
            program_words=program_words,
            fixed_registers=fixed,
            instructions=tuple(specs),
        )

    def named_lists(self, value: Any, where: str, item_type: type) -> dict[str, tuple]:
        if not isinstance(value, dict):
            self.fail(where, "expected a mapping of name to list")
        result = {}
        for name, items in value.items():
            here = f"{where}.{name}"
            if not isinstance(items, list) or not items:
                self.fail(here, "expected a non-empty list")
            for item in items:
                if not isinstance(item, item_type) or isinstance(item, bool):
                    self.fail(here, f"entry {item!r} is not of type {item_type.__name__}")
                if item_type is str and not _WORD.match(item):
                    self.fail(here, f"entry {item!r} is not a plain word")
            keys = [i.upper() if item_type is str else i for i in items]
            if len(set(keys)) != len(keys):
                self.fail(here, "entries repeat")
            result[name] = tuple(items)
        return result

    def instruction(self, entry: Any, index: int) -> InstructionSpec:
        if not isinstance(entry, dict):
            self.fail(f"instruction #{index}", "expected a mapping")
        mnemonic = entry.get("mnemonic")
        if not isinstance(mnemonic, str) or not _WORD.match(mnemonic):
            self.fail(f"instruction #{index}", f"mnemonic must be a plain word, got {mnemonic!r}")
        where = f"instruction {mnemonic}"
        unknown = set(entry) - {"mnemonic", "opcode", "fields", "cycles", "meaning"}
        if unknown:
            self.fail(where, f"unknown keys {sorted(unknown)}")
        hi, lo = self.opcode_bits
        opcode = self.integer(entry.get("opcode"), where, "opcode")
        if opcode >= 1 << (hi - lo + 1):
            self.fail(where, f"opcode {opcode} does not fit the {hi - lo + 1} opcode bits")
        cycles = self.integer(entry.get("cycles"), where, "cycles", 1)
        meaning = entry.get("meaning", "")
        if not isinstance(meaning, str):
            self.fail(where, "meaning must be a string")
        raw_fields = entry.get("fields", [])
        if not isinstance(raw_fields, list):
            self.fail(where, "fields must be a list")
        fields: list[FieldSpec] = []
        for raw in raw_fields:
            f = self.field(raw, where)
            for other in fields:
                if other.name == f.name:
                    self.fail(f"{where}, field {f.name}", "field name repeats")
                if other.mask & f.mask:
                    self.fail(f"{where}, field {f.name}", f"bits [{f.hi}, {f.lo}] overlap field {other.name}")
            fields.append(f)
        return InstructionSpec(mnemonic, opcode, tuple(fields), cycles, meaning)

    def field(self, raw: Any, where: str) -> FieldSpec:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"].isidentifier():
            self.fail(where, f"field {raw!r} needs a `name` that is an identifier")
        where = f"{where}, field {raw['name']}"
        kind = raw.get("kind")
        if kind not in FIELD_KINDS:
            self.fail(where, f"kind must be one of {', '.join(FIELD_KINDS)}, got {kind!r}")
        allowed = {"name", "bits", "kind"} | ({kind} if kind in ("enum", "table") else set())
        unknown = set(raw) - allowed
        if unknown:
            self.fail(where, f"unknown keys {sorted(unknown)}")
        hi, lo = self.bits(raw.get("bits"), where, "bits")
        if hi >= self.word_bits:
            self.fail(where, f"bits [{hi}, {lo}] lie outside the {self.word_bits}-bit word")
        if hi >= self.opcode_bits[1]:
            self.fail(where, f"bits [{hi}, {lo}] reach into the opcode bits {list(self.opcode_bits)}")
        width = hi - lo + 1
        choices = None
        if kind in ("enum", "table"):
            known = self.enums if kind == "enum" else self.tables
            ref = raw.get(kind)
            if ref not in known:
                self.fail(where, f"{kind} {ref!r} is not defined under `{kind}s`")
            choices = known[ref]
            if len(choices) > 1 << width:
                self.fail(where, f"{kind} {ref} has {len(choices)} entries, more than {width} bits can code")
        if kind == "reg" and self.registers > 1 << width:
            self.fail(where, f"{width} bits cannot name {self.registers} registers")
        return FieldSpec(raw["name"], hi, lo, kind, choices)
