"""sdannc's layering, as docs/compiler.md's table declares it: every import between its packages and
top-level modules (read from the ast, late imports included, as tests/test_import_cycles.py does)
must be one the table allows.
"""

from __future__ import annotations

import re
from pathlib import Path

from test_import_cycles import PACKAGE, import_graph

DOC = PACKAGE.parent / "docs" / "compiler.md"
KINDS = ("vocabulary", "stage", "command")


def unit(module: str) -> str:
    """`sdannc.passes.measure` -> `passes`; `sdannc.tune` -> `tune`; `sdannc` -> `sdannc`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def declared(text: str) -> dict[str, tuple[str, set[str]]]:
    """unit -> (kind, the units it may also import), from the rows of the layering table."""
    table = text.split("<!-- layering table", 1)[1].split("\n\n", 1)[0]
    rows = {}
    for line in table.splitlines()[3:]:  # the marker, the header, the rule
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        name, kind, allowed = cells[0].strip("`"), cells[1], set(re.findall(r"`([\w.]+)`", cells[2]))
        assert kind in KINDS, f"{name}: kind {kind!r}"
        assert name not in rows, f"{name} declared twice"
        rows[name] = (kind, allowed)
    return rows


def violations(graph: dict[str, set[str]], table: dict[str, tuple[str, set[str]]]) -> list[str]:
    found = []
    for module in sorted(graph):
        here = unit(module)
        if here not in table:
            found.append(f"{here} ({module}) is not in the layering table of docs/compiler.md")
            continue
        kind, allowed = table[here]
        for dep in sorted(graph[module]):
            there = unit(dep)
            if there == here or kind == "command":
                continue
            there_kind = table.get(there, ("?",))[0]
            if there_kind == "vocabulary" or (kind == "stage" and there in allowed):
                continue
            found.append(f"{module} imports {dep}: {kind} {here} may not import {there_kind} {there}")
    return found


def test_the_table_is_read():
    table = declared(DOC.read_text(encoding="utf-8"))
    assert table["ir"] == ("vocabulary", set())
    assert table["backend"] == ("stage", {"image"})
    assert table["cli"][0] == "command"
    for name, (kind, allowed) in table.items():
        assert allowed <= set(table), f"{name} may import {sorted(allowed - set(table))}, which are not declared"
        assert not (allowed and kind != "stage"), f"{name}: only a stage lists what it may also import"


def test_violations_are_found():
    table = {"ir": ("vocabulary", set()), "passes": ("stage", set()), "golden": ("stage", set()),
             "backend": ("stage", {"image"}), "image": ("stage", set()), "cli": ("command", set())}
    graph = {"sdannc.passes.measure": {"sdannc.golden.interpreter", "sdannc.ir.graph"},
             "sdannc.ir.graph": {"sdannc.passes"}, "sdannc.backend.emit": {"sdannc.image", "sdannc.ir"},
             "sdannc.cli": {"sdannc.passes", "sdannc.golden"}, "sdannc.newthing": set()}
    assert violations(graph, table) == [
        "sdannc.ir.graph imports sdannc.passes: vocabulary ir may not import stage passes",
        "newthing (sdannc.newthing) is not in the layering table of docs/compiler.md",
        "sdannc.passes.measure imports sdannc.golden.interpreter: stage passes may not import stage golden"]


def test_every_import_is_allowed_by_the_table():
    assert violations(import_graph(), declared(DOC.read_text(encoding="utf-8"))) == []


def test_every_unit_in_the_table_exists():
    units = {unit(m) for m in import_graph()}
    assert set(declared(DOC.read_text(encoding="utf-8"))) == units
    assert Path(PACKAGE / "ir" / "ops.py").exists()
