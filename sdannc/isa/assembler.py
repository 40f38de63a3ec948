"""Text to instructions and back.

Syntax: one `MNEMONIC op, op, ...` per line, operands in the field order of the YAML; labels `name:`
alone or before an instruction; `;` or `#` start a comment. Mnemonics and enum names are read
case-insensitively, registers are `R0`.., table operands are written as their value, `addr`
operands as a label or a number, other numbers also as a name the program's `.state` or `.config`
declares. Programs may be templates (template.py): they are assembled with the parameters given,
or as they stand. `disassemble` writes the same syntax, so text round-trips.
"""

from __future__ import annotations

import difflib
import os
import re
from typing import Any, Iterable

import numpy as np

from .encoding import describe_domain, read_program_bin
from .table import FieldSpec, Instr, InstructionSet, InstructionSpec, IsaError
from .template import Line, ProgramTemplate, parse_template, read_template

_LABEL = re.compile(r"\s*([A-Za-z_.][\w.]*)\s*:")
_NAME = re.compile(r"[A-Za-z_.][\w.]*\Z")
_NUMBER = re.compile(r"([+-]?)(?:0[xX]([0-9a-fA-F]+)|([0-9]+))\Z")
_REGISTER = re.compile(r"[Rr]([0-9]+)\Z")
_INDENT = "    "


def assemble(text: str, isa: InstructionSet, filename: str = "<string>", params: dict[str, Any] | None = None,
             folder: str | os.PathLike | None = None) -> list[Instr]:
    """The instructions of an assembly text (a template with `params`, `.include`s found in
    `folder`); errors are IsaErrors starting `FILE:LINE:`."""
    return assemble_template(parse_template(text, filename, folder), isa, params)


def assemble_template(template: ProgramTemplate, isa: InstructionSet,
                      params: dict[str, Any] | None = None) -> list[Instr]:
    """The instructions of a program template with the parameters given (its own for the rest)."""
    by_name = {m.upper(): spec for m, spec in isa.by_mnemonic.items()}
    labels: dict[str, tuple[int, Line]] = {}  # name -> (address, line it was defined on)
    lines: list[tuple[Line, InstructionSpec, list[str]]] = []

    # Pass 1: labels get addresses, instructions get their spec and raw operand text.
    for line in template.expand(params):
        code = line.code
        while match := _LABEL.match(code):
            name = match.group(1)
            if name in labels:
                raise line.error(f"duplicate label '{name}' (first defined on line {labels[name][1].number})")
            labels[name] = (len(lines), line)
            code = code[match.end():]
        code = code.strip()
        if not code:
            continue
        mnemonic, _, rest = code.replace("\t", " ").partition(" ")
        rest = rest.strip()
        spec = by_name.get(mnemonic.upper())
        if spec is None:
            close = difflib.get_close_matches(mnemonic.upper(), list(by_name), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise line.error(f"unknown instruction '{mnemonic}'{hint}")
        operands = [op.strip() for op in rest.split(",")] if rest else []
        if len(operands) != len(spec.fields):
            raise line.error(f"{spec.mnemonic} takes {len(spec.fields)} operands, got {len(operands)}; "
                             f"expected: {spec.syntax}")
        if len(lines) == isa.program_words:
            raise line.error(f"program is longer than the {isa.program_words} words of {isa.name} program memory")
        lines.append((line, spec, operands))

    # Pass 2: operands to values; isa.encode is the one place that checks ranges.
    addresses = {name: address for name, (address, _) in labels.items()}
    instrs = []
    for line, spec, operands in lines:
        try:
            values = {f.name: _operand(isa, spec, f, op, addresses, template.symbols)
                      for f, op in zip(spec.fields, operands)}
            instr = Instr.of(spec.mnemonic, isa=isa, **values)
            isa.encode(instr)
        except IsaError as exc:
            raise line.error(str(exc)) from None
        instrs.append(instr)
    return instrs


def assemble_file(path: str | os.PathLike, isa: InstructionSet, params: dict[str, Any] | None = None) -> list[Instr]:
    return assemble_template(read_template(path), isa, params)


def disassemble(instrs_or_words: Iterable[Instr] | Iterable[int] | np.ndarray, isa: InstructionSet) -> str:
    """Assembly text for a program: jump targets inside it become labels `L<addr>` at their address."""
    items = instrs_or_words if isinstance(instrs_or_words, np.ndarray) else list(instrs_or_words)
    if len(items) and all(isinstance(item, Instr) for item in items):
        isa.encode_program(items)  # the same checks a decoded program passed
        instrs = list(items)
    else:
        instrs = isa.decode_program(items)
    # Targets past the end (other than the address just after it) stay numbers: no line to label.
    targets = {instr[f.name] for instr in instrs for f in isa.spec(instr.mnemonic).fields if f.kind == "addr"}
    targets = {t for t in targets if t <= len(instrs)}
    out = []
    for address, instr in enumerate(instrs):
        if address in targets:
            out.append(f"L{address}:")
        out.append(_INDENT + format_instr(instr, isa, targets))
    if len(instrs) in targets:
        out.append(f"L{len(instrs)}:")
    return "".join(line + "\n" for line in out)


def disassemble_file(path: str | os.PathLike, isa: InstructionSet) -> str:
    words = read_program_bin(path)
    try:
        return disassemble(words, isa)
    except IsaError as exc:
        raise IsaError(f"{path}: {exc}") from None


def format_instr(instr: Instr, isa: InstructionSet, labels: Iterable[int] = ()) -> str:
    """One instruction in assembly syntax; addresses in `labels` are written as `L<addr>`."""
    spec = isa.spec(instr.mnemonic)
    labels = set(labels)
    parts = []
    for f in spec.fields:
        value = instr[f.name]
        if f.kind == "reg":
            parts.append(f"R{value}")
        elif f.kind == "addr" and value in labels:
            parts.append(f"L{value}")
        else:
            parts.append(str(value))
    return f"{spec.mnemonic} {', '.join(parts)}" if parts else spec.mnemonic


def _operand(isa: InstructionSet, spec: InstructionSpec, f: FieldSpec, text: str, labels: dict[str, int],
             symbols: dict[str, int]) -> int | str:
    def bad(expected: str) -> IsaError:
        return IsaError(f"{spec.mnemonic} {f.name}: expected {expected}, got '{text}'")

    if f.kind == "reg":
        match = _REGISTER.match(text)
        if not match:
            raise bad(f"a register {describe_domain(isa, f)}")
        return int(match.group(1))
    if f.kind == "enum":
        for name in f.choices:
            if name.upper() == text.upper():
                return name
        raise bad(describe_domain(isa, f))
    number = _number(text)
    if number is not None:
        return number
    if f.kind == "addr":
        if not _NAME.match(text):
            raise bad("a label or an address")
        if text not in labels:
            raise IsaError(f"{spec.mnemonic} {f.name}: undefined label '{text}'")
        return labels[text]
    if text in symbols:  # a state field or configuration register by its name
        return symbols[text]
    raise bad("a number" if f.kind != "table" else describe_domain(isa, f))


def _number(text: str) -> int | None:
    match = _NUMBER.match(text)
    if not match:
        return None
    sign, hex_digits, dec_digits = match.groups()
    value = int(hex_digits, 16) if hex_digits is not None else int(dec_digits)
    return -value if sign == "-" else value
