"""Instructions as bits: one word each way, checked against the field specs, and the .bin program file.

Operand values are semantic (a register number, an immediate, an enum name, a table value); the
codes that stand for them in the word are computed here from the field specs, never spelled out.
This module sits below table.py (whose InstructionSet calls it) and so never imports it: an
instruction is read by its `mnemonic` and `operands`, and a decoded word comes back as those two.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

import numpy as np

from ..errors import SdanncError

if TYPE_CHECKING:  # annotations only
    from .table import FieldSpec, Instr, InstructionSet, InstructionSpec

Operands = tuple[tuple[str, "int | str"], ...]


class IsaError(SdanncError):
    """An instruction set file, an instruction or an encoded word that is not valid."""


def encode(isa: InstructionSet, instr: Instr) -> int:
    spec = isa.spec(instr.mnemonic)
    check_names(spec, [name for name, _ in instr.operands])
    values = dict(instr.operands)
    word = spec.opcode << isa.opcode_bits[1]
    for f in spec.fields:
        word |= _code(isa, spec, f, values[f.name]) << f.lo
    return word


def decode(isa: InstructionSet, word: int) -> tuple[str, Operands]:
    """The mnemonic and operands of `word` (InstructionSet.decode makes them an Instr)."""
    if not isinstance(word, (int, np.integer)) or isinstance(word, bool):
        raise IsaError(f"a word must be an integer, got {word!r}")
    word = int(word)
    if not 0 <= word < 1 << isa.word_bits:
        raise IsaError(f"word {word} is outside 0..{(1 << isa.word_bits) - 1}")
    opcode = (word & isa.opcode_mask) >> isa.opcode_bits[1]
    spec = isa.by_opcode.get(opcode)
    if spec is None:
        raise IsaError(f"word 0x{word:04x}: unknown opcode {opcode}")
    used = isa.opcode_mask
    for f in spec.fields:
        used |= f.mask
    if word & ~used:
        raise IsaError(f"word 0x{word:04x}: reserved bits 0x{word & ~used:04x} set in {spec.mnemonic}")
    return spec.mnemonic, tuple((f.name, _value(isa, spec, f, (word & f.mask) >> f.lo, word)) for f in spec.fields)


def encode_program(isa: InstructionSet, instrs: Iterable[Instr]) -> np.ndarray:
    words = []
    for address, instr in enumerate(instrs):
        try:
            words.append(encode(isa, instr))
        except IsaError as exc:
            raise IsaError(f"instruction {address}: {exc}") from None
    _check_length(isa, len(words))
    return np.array(words, dtype=np.uint16)


def decode_program(isa: InstructionSet, words: Iterable[int]) -> list[tuple[str, Operands]]:
    words = words.ravel().tolist() if isinstance(words, np.ndarray) else list(words)
    _check_length(isa, len(words))
    instrs = []
    for address, word in enumerate(words):
        try:
            instrs.append(decode(isa, word))
        except IsaError as exc:
            raise IsaError(f"word {address}: {exc}") from None
    return instrs


def write_program_bin(path: str | os.PathLike, words: Iterable[int]) -> None:
    """Write raw little-endian uint16 words; a temp file and a rename, so never a half-written file."""
    array = np.asarray(list(words) if not isinstance(words, np.ndarray) else words)
    if array.size and (array.dtype.kind not in "iu" or array.min() < 0 or array.max() > 0xFFFF):
        raise IsaError(f"{path}: program words must be integers in 0..65535")
    data = array.astype("<u2").tobytes()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")  # same folder, so os.replace is atomic
    try:
        with open(tmp, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise SdanncError(f"{path}: cannot write: {exc.strerror or exc}") from None
        raise


def read_program_bin(path: str | os.PathLike) -> np.ndarray:
    """Raw little-endian words, or the `program` array of a chip image's core file (.npz)."""
    if str(path).endswith(".npz"):
        return _program_from_core_file(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise SdanncError(f"{path}: no such file") from None
    except OSError as exc:
        raise SdanncError(f"{path}: cannot read: {exc.strerror}") from None
    if len(data) % 2:
        raise SdanncError(f"{path}: {len(data)} bytes is not a whole number of 16-bit words")
    return np.frombuffer(data, dtype="<u2").astype(np.uint16)


def _program_from_core_file(path: str | os.PathLike) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if "program" not in archive.files:
                raise SdanncError(f"{path}: no 'program' array: not a core file of a chip image")
            program = archive["program"]
    except FileNotFoundError:
        raise SdanncError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise SdanncError(f"{path}: not a readable core file ({exc})") from None
    if program.dtype != np.uint16 or program.ndim != 1:
        raise SdanncError(f"{path}: 'program' is not a list of 16-bit words")
    return program


def describe_domain(isa: InstructionSet, f: FieldSpec) -> str:
    """The allowed values of a field, for error messages: `R0..R15`, `-64..63`, `one of L, R`."""
    values = isa.domain(f)
    if f.kind in ("enum", "table"):
        return "one of " + ", ".join(str(v) for v in values)
    if not values:
        return "nothing"
    prefix = "R" if f.kind == "reg" else ""
    return f"{prefix}{values[0]}..{prefix}{values[-1]}"


def check_names(spec: InstructionSpec, names: list[str]) -> None:
    expected = spec.field_names
    missing = [n for n in expected if n not in names]
    extra = [n for n in names if n not in expected]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if missing or extra or repeated:
        problems = [f"{label} {', '.join(ns)}" for label, ns in
                    (("missing", missing), ("unexpected", extra), ("repeated", repeated)) if ns]
        raise IsaError(f"{spec.mnemonic}: {'; '.join(problems)} (expected: {spec.syntax})")


def _code(isa: InstructionSet, spec: InstructionSpec, f: FieldSpec, value: int | str) -> int:
    """The bits that stand for `value` in field `f`, after checking the value is allowed."""
    if f.kind == "enum":
        if not isinstance(value, str):
            raise IsaError(f"{spec.mnemonic} {f.name}: expected a name, got {value!r}")
    elif not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise IsaError(f"{spec.mnemonic} {f.name}: expected an integer, got {value!r}")
    if value not in isa.domain(f):
        raise IsaError(f"{spec.mnemonic} {f.name}: {value!r} is out of range ({describe_domain(isa, f)})")
    if f.kind in ("enum", "table"):
        return f.choices.index(value)
    return int(value) & ((1 << f.width) - 1)  # two's complement for sint, unchanged otherwise


def _value(isa: InstructionSet, spec: InstructionSpec, f: FieldSpec, code: int, word: int) -> int | str:
    """The semantic value of `code` in field `f`; a code that stands for nothing makes the word invalid."""
    if f.kind in ("enum", "table"):
        value = f.choices[code] if code < len(f.choices) else None
    elif f.kind == "sint" and code >> (f.width - 1):
        value = code - (1 << f.width)
    else:
        value = code
    if value is None or value not in isa.domain(f):
        raise IsaError(f"word 0x{word:04x}: {spec.mnemonic} {f.name} code {code} is not valid ({describe_domain(isa, f)})")
    return value


def _check_length(isa: InstructionSet, length: int) -> None:
    if length > isa.program_words:
        raise IsaError(f"program of {length} words does not fit the {isa.program_words}-word program memory of {isa.name}")
