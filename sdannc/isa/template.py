"""Program templates: assembly with named state fields and configuration registers, parameters,
and lines repeated or kept by a parameter (the syntax is in docs/isa.md, "Program templates").

The neuron programs under isa/programs are such templates: assembled as they stand (the values of
their `.param` lines) they are the reference programs; the neuron models (sdannc/neurons) assemble
them with each layer's values. A file without directives is plain assembly, unchanged.

    .state NAME N, NAME N, ...   the neurons' state fields; a name stands for its number in an operand
    .config NAME N, ...          the core's configuration registers, the same way
    .param NAME VALUE            a parameter, VALUE a Python literal or a bare word; `{NAME}` in an
                                 instruction is replaced by its value
    .for A[, B ...] in NAME      the lines up to `.end` once per item of the list NAME (items unpacked)
    .if NAME                     the lines up to `.end` only if NAME is true
    .end
    .include FILE                FILE's lines and directives here (FILE beside this one)
"""

from __future__ import annotations

import ast
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import SdanncError
from .table import IsaError

_DIRECTIVE = re.compile(r"\.(\w+)(?:\s+(.*?))?\s*\Z")  # `.name args`; a label `.name:` is not one
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_FOR = re.compile(r"(\w+(?:\s*,\s*\w+)*)\s+in\s+(\w+)\Z")
_WORD = re.compile(r"\w+\Z")


@dataclass(frozen=True)
class Line:
    """One line of a program: where it was written, its code (an instruction, a label or nothing,
    as written), and its comment (from the `;` or `#` that starts it)."""

    file: str
    number: int
    code: str
    comment: str = ""

    def error(self, message: str) -> IsaError:
        return IsaError(f"{self.file}:{self.number}: {message}")


@dataclass
class _Block:
    kind: str  # "for" or "if"
    names: tuple[str, ...]  # a `.for`'s loop variables
    param: str
    at: Line
    body: list = field(default_factory=list)


@dataclass
class ProgramTemplate:
    name: str
    body: list  # Lines and _Blocks
    params: dict[str, Any]  # name -> value as the file stands
    state: dict[str, int]
    config: dict[str, int]

    @property
    def symbols(self) -> dict[str, int]:
        return {**self.state, **self.config}

    def expand(self, values: dict[str, Any] | None = None) -> list[Line]:
        """The program's lines with the parameters given in `values` (the file's own for the rest)."""
        unknown = sorted(set(values or {}) - set(self.params))
        if unknown:
            raise IsaError(f"{self.name}: no parameter '{unknown[0]}'; it has: {', '.join(self.params) or 'none'}")
        out: list[Line] = []
        _expand(self.body, {**self.params, **(values or {})}, out)
        return out

    def source(self, values: dict[str, Any] | None = None) -> str:
        """The program as assembly text without parameters or blocks, for reading (and assembling)."""
        layouts = [f".{kind} " + ", ".join(f"{name} {n}" for name, n in layout.items())
                   for kind, layout in (("state", self.state), ("config", self.config)) if layout]
        lines = [(line.code + line.comment).rstrip() for line in self.expand(values)]
        return "".join(line + "\n" for line in layouts + lines)


def _expand(body: list, env: dict[str, Any], out: list[Line]) -> None:
    for item in body:
        if isinstance(item, Line):
            code = _PLACEHOLDER.sub(lambda m: str(env[m.group(1)]), item.code)
            out.append(Line(item.file, item.number, code, item.comment))
        elif item.kind == "if":
            if env[item.param]:
                _expand(item.body, env, out)
        else:
            for value in env[item.param]:
                values = tuple(value) if len(item.names) > 1 else (value,)
                if len(values) != len(item.names):
                    raise item.at.error(f"an item of '{item.param}' has {len(values)} values, the loop takes "
                                        f"{len(item.names)}")
                _expand(item.body, {**env, **dict(zip(item.names, values))}, out)


def parse_template(text: str, filename: str = "<string>", folder: str | os.PathLike | None = None) -> ProgramTemplate:
    """A template from its text; `folder` is where `.include` finds files (none: no includes)."""
    template = ProgramTemplate(filename, [], {}, {}, {})
    _parse_into(template, text, filename, Path(folder) if folder is not None else None, set())
    _check_names(template.body, set(template.params))
    return template


def read_template(path: str | os.PathLike) -> ProgramTemplate:
    path = Path(path)
    return parse_template(_read(path), str(path), path.parent)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SdanncError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise SdanncError(f"{path}: not a UTF-8 text file") from None
    except OSError as exc:
        raise SdanncError(f"{path}: cannot read: {exc.strerror}") from None


def _parse_into(template: ProgramTemplate, text: str, filename: str, folder: Path | None, including: set) -> None:
    """Append the lines of `text` to the template's body; its directives add to its declarations."""
    open_blocks: list[_Block] = []
    for number, raw in enumerate(text.splitlines(), 1):
        comment = re.search(r"[;#]", raw)
        at = comment.start() if comment else len(raw)
        line = Line(filename, number, raw[:at], raw[at:])
        body = open_blocks[-1].body if open_blocks else template.body
        directive = _DIRECTIVE.match(line.code.strip())
        if not directive:
            body.append(line)
            continue
        name, args = directive.group(1), directive.group(2) or ""
        if name in ("state", "config"):
            _declare(getattr(template, name), args, line, template)
        elif name == "param":
            _param(template.params, args, line)
        elif name in ("for", "if"):
            block = _block(name, args, line)
            body.append(block)
            open_blocks.append(block)
        elif name == "end":
            if not open_blocks:
                raise line.error("'.end' without a '.for' or '.if' to end")
            if args:
                raise line.error("'.end' takes nothing")
            open_blocks.pop()
        elif name == "include":
            _include(template, args, line, folder, including)
        else:
            raise line.error(f"unknown directive '.{name}' (known: .state, .config, .param, .for, .if, .end, .include)")
    if open_blocks:
        raise open_blocks[-1].at.error(f"'.{open_blocks[-1].kind}' has no '.end'")


def _declare(layout: dict[str, int], args: str, line: Line, template: ProgramTemplate) -> None:
    for entry in filter(None, (part.strip() for part in args.split(","))):
        words = entry.split()
        if len(words) != 2 or not _WORD.match(words[0]) or not words[1].isdigit():
            raise line.error(f"expected NAME NUMBER, got '{entry}'")
        name, number = words[0], int(words[1])
        if name in template.symbols:
            raise line.error(f"'{name}' is declared twice")
        if number in layout.values():
            raise line.error(f"number {number} is given two names")
        layout[name] = number


def _param(params: dict[str, Any], args: str, line: Line) -> None:
    name, _, value = args.partition(" ")
    value = value.strip()
    if not _WORD.match(name) or not value:
        raise line.error(f"expected '.param NAME VALUE', got '.param {args}'")
    if name in params:
        raise line.error(f"parameter '{name}' is declared twice")
    try:
        params[name] = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        if not _WORD.match(value):
            raise line.error(f"parameter '{name}': '{value}' is neither a Python literal nor a bare word") from None
        params[name] = value


def _block(kind: str, args: str, line: Line) -> _Block:
    if kind == "if":
        if not _WORD.match(args):
            raise line.error(f"expected '.if NAME', got '.if {args}'")
        return _Block("if", (), args, line)
    match = _FOR.match(args)
    if not match:
        raise line.error(f"expected '.for NAME[, NAME ...] in LIST', got '.for {args}'")
    return _Block("for", tuple(n.strip() for n in match.group(1).split(",")), match.group(2), line)


def _include(template: ProgramTemplate, args: str, line: Line, folder: Path | None, including: set) -> None:
    if folder is None:
        raise line.error("'.include' needs the folder of the including file (assemble it as a file)")
    path = (folder / args).resolve()
    if path in including:
        raise line.error(f"'{args}' includes itself")
    _parse_into(template, _read(folder / args), str(folder / args), path.parent, including | {path})


def _check_names(body: list, known: set[str]) -> None:
    """Every `{NAME}` and block parameter is a parameter or a loop variable where it is used."""
    for item in body:
        where = item if isinstance(item, Line) else item.at
        used = _PLACEHOLDER.findall(item.code) if isinstance(item, Line) else [item.param]
        for name in used:
            if name not in known:
                raise where.error(f"'{name}' is not a parameter ('.param {name} VALUE') or a loop variable")
        if isinstance(item, _Block):
            _check_names(item.body, known | set(item.names))
