"""Program templates (sdannc/isa/template.py): parameters, repeated and optional lines, includes,
named state fields and registers, and errors that say where."""

import pytest
from click.testing import CliRunner

from sdannc.cli import main
from sdannc.errors import SdanncError
from sdannc.isa import Instr, IsaError, assemble, assemble_file, load_isa, parse_template, read_template
from sdannc.resources import data_dir

ISA = load_isa()

TEMPLATE = """\
.state  vt 0, vth 1, gain 5
.config limit 2
.param  shift 3
.param  steps [(1, "TRUNC"), (2, "RND")]
.param  clamp False
        LOAD R6, gain           ; names stand for their numbers
        UPDV {shift}
.for amount, mode in steps
        SFTI R0, R, {amount}, {mode}
.end
.if clamp
        LDC  R6, limit
        CMP  R0, R6, GT
        SEL  R0, R6
.end
        END
"""


def test_as_it_stands_a_template_is_its_parameters_values():
    assert assemble(TEMPLATE, ISA) == [
        Instr.of("LOAD", rs=6, field=5), Instr.of("UPDV", shift=3),
        Instr.of("SFTI", rs=0, dir="R", amount=1, round="TRUNC"),
        Instr.of("SFTI", rs=0, dir="R", amount=2, round="RND"),
        Instr.of("END")]


def test_parameters_repeat_and_keep_lines():
    prog = assemble(TEMPLATE, ISA, params={"shift": 0, "steps": [(7, "RNE")], "clamp": True})
    assert prog == [
        Instr.of("LOAD", rs=6, field=5), Instr.of("UPDV", shift=0),
        Instr.of("SFTI", rs=0, dir="R", amount=7, round="RNE"),
        Instr.of("LDC", rs=6, creg=2), Instr.of("CMP", rs=0, rt=6, mode="GT"), Instr.of("SEL", rs=0, rt=6),
        Instr.of("END")]
    assert [i.mnemonic for i in assemble(TEMPLATE, ISA, params={"steps": []})] == ["LOAD", "UPDV", "END"]


def test_layouts_and_parameters_are_read():
    template = parse_template(TEMPLATE)
    assert template.state == {"vt": 0, "vth": 1, "gain": 5} and template.config == {"limit": 2}
    assert template.params == {"shift": 3, "steps": [(1, "TRUNC"), (2, "RND")], "clamp": False}


def test_source_is_plain_assembly_of_the_same_program():
    values = {"shift": 1, "clamp": True}
    text = parse_template(TEMPLATE).source(values)
    assert "{" not in text and ".for" not in text and "; names stand for their numbers" in text
    assert assemble(text, ISA) == assemble(TEMPLATE, ISA, params=values)


def test_include_reads_the_file_beside_and_shares_the_names(tmp_path):
    (tmp_path / "tail.inc").write_text(".param last 1\n        LDC  R6, limit\n        ADDI R0, {last}\n")
    (tmp_path / "main.s").write_text(".config limit 4\n        NOP\n.include tail.inc\n        END\n")
    assert assemble_file(tmp_path / "main.s", ISA, params={"last": 9}) == [
        Instr.of("NOP"), Instr.of("LDC", rs=6, creg=4), Instr.of("ADDI", rs=0, imm=9), Instr.of("END")]


def test_a_file_without_directives_is_unchanged():
    text = "start: LDS\n    UPDV 0   # comment\n.loop:\n    JC ALWAYS, .loop\n"
    assert parse_template(text).source() == text
    assert [i.mnemonic for i in assemble(text, ISA)] == ["LDS", "UPDV", "JC"]


@pytest.mark.parametrize("text, line, fragment", [
    ("NOP\n.repeat 3\n", 2, "unknown directive '.repeat'"),
    (".if on\nNOP\n", 1, "'.if' has no '.end'"),
    ("NOP\n.end\n", 2, "'.end' without"),
    ("UPDV {shift}\n", 1, "'shift' is not a parameter"),
    (".param on True\n.for a in off\n.end\n", 2, "'off' is not a parameter"),
    (".state a 0\n.config a 1\n", 2, "'a' is declared twice"),
    (".state a 0, b 0\n", 1, "number 0 is given two names"),
    (".state a zero\n", 1, "expected NAME NUMBER"),
    (".param x 1\n.param x 2\n", 2, "parameter 'x' is declared twice"),
    (".param x a b\n", 1, "neither a Python literal nor a bare word"),
    (".include x.inc\n", 1, "'.include' needs the folder"),
    (".param s [(1, 2, 3)]\n.for a, b in s\nNOP\n.end\n", 2, "has 3 values, the loop takes 2"),
    (".state bias 4\nLOAD R6, gain\n", 2, "LOAD field: expected a number, got 'gain'"),
])
def test_errors_carry_file_and_line(text, line, fragment):
    with pytest.raises(IsaError, match=fragment) as info:
        assemble(text, ISA, filename="neuron.s")
    assert str(info.value).startswith(f"neuron.s:{line}: ")


def test_an_unknown_parameter_is_refused():
    with pytest.raises(IsaError, match="no parameter 'shfit'; it has: shift, steps, clamp"):
        assemble(TEMPLATE, ISA, params={"shfit": 1})


def test_errors_in_an_included_file_name_that_file(tmp_path):
    (tmp_path / "bad.inc").write_text("NOP\nFOO R0\n")
    (tmp_path / "main.s").write_text("NOP\n.include bad.inc\n")
    with pytest.raises(IsaError, match=r"bad\.inc:2: unknown instruction 'FOO'"):
        assemble_file(tmp_path / "main.s", ISA)
    (tmp_path / "loop.inc").write_text(".include loop.inc\n")
    with pytest.raises(IsaError, match="'loop.inc' includes itself"):
        assemble_file(tmp_path / "loop.inc", ISA)
    with pytest.raises(SdanncError, match="missing.inc: no such file"):
        assemble("NOP\n.include missing.inc\n", ISA, folder=tmp_path)


@pytest.mark.parametrize("name", sorted(p.name for p in (data_dir("isa") / "programs").glob("*.s")))
def test_sdannc_asm_assembles_the_reference_programs(tmp_path, name):
    path = data_dir("isa") / "programs" / name
    result = CliRunner().invoke(main, ["asm", str(path), "-o", str(tmp_path / "p.bin")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p.bin").stat().st_size == 2 * len(assemble_file(path, ISA))
    assert assemble(read_template(path).source(), ISA) == assemble_file(path, ISA)  # the text is plain assembly
