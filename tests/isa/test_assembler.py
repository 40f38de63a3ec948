"""Assembly text: parsing, labels, error positions, and disassemble -> assemble round trips."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sdannc.errors import SdanncError
from sdannc.isa import Instr, IsaError, assemble, disassemble, load_isa

ISA = load_isa()

INTEGRATE_AND_FIRE = """\
; integrate-and-fire: membrane += dendrite sum; spike and reset at threshold
    LDS                 ; R0 vt, R1 vth, R2 I
    UPDV 0
    FIRE R0, R1, ZERO   # compare-and-fire
    STS
    END
"""


def test_integrate_and_fire():
    prog = assemble(INTEGRATE_AND_FIRE, ISA)
    assert prog == [
        Instr.of("LDS"),
        Instr.of("UPDV", shift=0),
        Instr.of("FIRE", rs=0, rt=1, reset="ZERO"),
        Instr.of("STS"),
        Instr.of("END"),
    ]
    words = ISA.encode_program(prog)
    assert [ISA.decode(w).mnemonic for w in words] == ["LDS", "UPDV", "FIRE", "STS", "END"]
    assert ISA.decode(words[2])["reset"] == "ZERO"


def test_operand_syntax():
    prog = assemble(
        "sfti r3, r, 0xF, rnd\n"
        "SFTI R0, L, 1, TRUNC\n"
        "addi R1, -0x40\n"
        "MOVI R2, +63\n"
        "MUL R0, R6, 15\n"
        "cmp R4, R5, ge0\n"
        "JC always, 0x7f\n",
        ISA,
    )
    assert prog == [
        Instr.of("SFTI", rs=3, dir="R", amount=15, round="RND"),
        Instr.of("SFTI", rs=0, dir="L", amount=1, round="TRUNC"),
        Instr.of("ADDI", rs=1, imm=-64),
        Instr.of("MOVI", rs=2, imm=63),
        Instr.of("MUL", rs=0, rt=6, shift=15),
        Instr.of("CMP", rs=4, rt=5, mode="GE0"),
        Instr.of("JC", cond="ALWAYS", addr=127),
    ]


def test_labels_forward_and_backward():
    prog = assemble(
        "top:\n"
        "    CMP R0, R1, GE\n"
        "    JC FLAG, done      ; forward\n"
        "    ADDI R0, 1\n"
        "    JC ALWAYS, top     ; backward\n"
        "done: END\n"
        "after:\n",
        ISA,
    )
    assert [i["addr"] for i in prog if i.mnemonic == "JC"] == [4, 0]
    assert assemble("JC ALWAYS, after\nNOP\nafter:\n", ISA)[0]["addr"] == 2  # label past the end


@pytest.mark.parametrize(
    "text, line, fragment",
    [
        ("NOP\nFOO R0\n", 2, "unknown instruction 'FOO'"),
        ("NOP\n\nSFTI R0, 1\n", 3, "expected: SFTI rs, dir, amount, round"),
        ("NOP R0\n", 1, "expected: NOP"),
        ("JC ALWAYS, nowhere\n", 1, "undefined label 'nowhere'"),
        ("x: NOP\nNOP\nx:\n", 3, "duplicate label 'x'"),
        ("ADDI R0, 64\n", 1, "ADDI imm.*-64..63"),
        ("ADD R0, R16\n", 1, "ADD rt.*R0..R15"),
        ("ADD R0, 3\n", 1, "ADD rt: expected a register"),
        ("MUL R0, R1, 3\n", 1, "MUL shift"),
        ("CMP R0, R1, BIG\n", 1, "CMP mode: expected one of GE"),
        ("MOVI R0, 1.5\n", 1, "MOVI imm: expected a number"),
        ("NOP\n" * 128 + "END\n", 129, "longer than the 128 words"),
    ],
)
def test_errors_carry_file_and_line(text, line, fragment):
    with pytest.raises(IsaError, match=fragment) as info:
        assemble(text, ISA, filename="neuron.s")
    message = str(info.value)
    assert message.startswith(f"neuron.s:{line}: ")
    assert "\n" not in message
    assert isinstance(info.value, SdanncError)


def test_unknown_mnemonic_message_is_short():
    with pytest.raises(IsaError) as info:
        assemble("ADX R0, R1\n", ISA)
    assert "did you mean ADD" in str(info.value)
    assert len(str(info.value)) < 100


def _field_values(field, length):
    w = field.width
    if field.kind in ("enum", "table"):
        return st.sampled_from(field.choices)
    if field.kind == "sint":
        return st.integers(-(2 ** (w - 1)), 2 ** (w - 1) - 1)
    if field.kind == "reg":
        return st.integers(0, ISA.registers - 1)
    if field.kind == "addr":  # mostly targets inside the program, sometimes anywhere
        return st.one_of(st.integers(0, length), st.integers(0, min(2**w, ISA.program_words) - 1))
    return st.integers(0, 2**w - 1)


@st.composite
def programs(draw):
    length = draw(st.integers(0, 40))
    specs = draw(st.lists(st.sampled_from(ISA.instructions), min_size=length, max_size=length))
    if length:  # make jumps common: JC is one of many instructions otherwise
        specs[draw(st.integers(0, length - 1))] = ISA.by_mnemonic["JC"]
    return [Instr.of(s.mnemonic, **{f.name: draw(_field_values(f, length)) for f in s.fields}) for s in specs]


@settings(max_examples=200)
@given(programs())
def test_disassemble_assemble_round_trip(prog):
    words = ISA.encode_program(prog)
    text = disassemble(words, ISA)
    assert assemble(text, ISA) == ISA.decode_program(words) == prog
    assert disassemble(prog, ISA) == text


def test_disassembly_uses_labels_at_targets():
    words = ISA.encode_program(assemble("loop: ADDI R0, -1\nJC NFLAG, loop\nJC ALWAYS, 100\nJC ALWAYS, end\nend:\n", ISA))
    assert disassemble(words, ISA) == (
        "L0:\n"
        "    ADDI R0, -1\n"
        "    JC NFLAG, L0\n"
        "    JC ALWAYS, 100\n"  # no line at 100 to label
        "    JC ALWAYS, L4\n"
        "L4:\n"
    )


def test_disassemble_rejects_invalid_words():
    with pytest.raises(IsaError, match="word 1: .*reserved bits"):
        disassemble([0, 1], ISA)
