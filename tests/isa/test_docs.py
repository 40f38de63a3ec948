"""docs/isa.md lists exactly the instructions of isa/darwin3.yaml, with their opcodes and costs."""

import re
from pathlib import Path

from sdannc.isa import load_isa

DOC = Path(__file__).resolve().parents[2] / "docs" / "isa.md"


def test_isa_doc_table_matches_the_yaml():
    rows = re.findall(r"^\| (\w+) \| (\d+) \| `([^`]*)` \| (\d+) \|", DOC.read_text(), flags=re.M)
    isa = load_isa()
    documented = {m: (int(op), syntax, int(cycles)) for m, op, syntax, cycles in rows}
    actual = {s.mnemonic: (s.opcode, f"{s.mnemonic} {', '.join(s.field_names)}".strip(), s.cycles)
              for s in isa.instructions}
    assert documented == actual
