"""Encoding and decoding single words: round trips, the exact set of valid words, and the YAML as the source."""

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sdannc.errors import SdanncError
from sdannc.isa import Instr, IsaError, load_isa, read_program_bin, write_program_bin

ISA = load_isa()


def field_values(field):
    """Every value a field accepts, derived from the spec alone (not from InstructionSet.domain)."""
    w = field.width
    if field.kind in ("enum", "table"):
        return list(field.choices)
    if field.kind == "sint":
        return list(range(-(2 ** (w - 1)), 2 ** (w - 1)))
    if field.kind == "reg":
        return list(range(ISA.registers))
    if field.kind == "addr":
        return list(range(min(2**w, ISA.program_words)))
    return list(range(2**w))


@st.composite
def instructions(draw):
    spec = draw(st.sampled_from(ISA.instructions))
    operands = {f.name: draw(st.sampled_from(field_values(f))) for f in spec.fields}
    return Instr.of(spec.mnemonic, **operands)


@settings(max_examples=500)
@given(instructions())
def test_decode_inverts_encode(instr):
    word = ISA.encode(instr)
    assert 0 <= word < 2**ISA.word_bits
    assert ISA.decode(word) == instr


@pytest.fixture(scope="module")
def valid_words():
    """{word: Instr} over the whole 16-bit space: the words decode accepts."""
    valid = {}
    for word in range(2**16):
        try:
            valid[word] = ISA.decode(word)
        except IsaError:
            pass
    return valid


def test_every_valid_word_reencodes_to_itself(valid_words):
    for word, instr in valid_words.items():
        assert ISA.encode(instr) == word


def test_valid_words_per_instruction_are_exactly_the_operand_combinations(valid_words):
    counts = {spec.mnemonic: 0 for spec in ISA.instructions}
    for instr in valid_words.values():
        counts[instr.mnemonic] += 1
    for spec in ISA.instructions:
        expected = math.prod(len(field_values(f)) for f in spec.fields)
        assert counts[spec.mnemonic] == expected >= 1, spec.mnemonic
    # Spot checks against the darwin3 table by hand.
    assert counts["NOP"] == 1
    assert counts["ADD"] == 16 * 16
    assert counts["ADDI"] == 16 * 128
    assert counts["JC"] == 3 * 128  # cond codes 3..15 are not valid
    assert counts["SFTI"] == 16 * 2 * 16 * 3


@pytest.mark.parametrize(
    "word, fragment",
    [
        (0x0001, "reserved bits"),        # NOP with bit 0 set
        (31 << 11, "unknown opcode 31"),
        (28 << 11, "unknown opcode 28"),  # past the last opcode (SFTW, 27)
        ((7 << 11) | (3 << 7), "JC cond"),  # enum code with no name
        ((1 << 11) | 0b001, "reserved bits"),  # ADD's low 3 bits
        ((5 << 11) | 0b11, "round code 3 is not valid"),  # SFTI round code 3 has no name
        (1 << 16, "outside"),
        (-1, "outside"),
    ],
)
def test_invalid_words_raise(word, fragment):
    with pytest.raises(IsaError, match=fragment):
        ISA.decode(word)


def test_known_encodings():
    # Layout from the YAML: opcode 15..11, rs 10..7, rt 6..3, low bits for flags/immediates.
    assert ISA.encode(Instr.of("ADD", rs=0, rt=3)) == (1 << 11) | (0 << 7) | (3 << 3)
    assert ISA.encode(Instr.of("ADDI", rs=2, imm=-1)) == (4 << 11) | (2 << 7) | 0x7F
    assert ISA.encode(Instr.of("MUL", rs=0, rt=6, shift=15)) == (3 << 11) | (6 << 3) | 4  # table code 4
    assert ISA.encode(Instr.of("SFTI", rs=1, dir="R", amount=3, round="RND")) == (5 << 11) | (1 << 7) | (3 << 3) | 0b101
    assert ISA.decode((4 << 11) | 0x40)["imm"] == -64


@pytest.mark.parametrize(
    "instr, fragment",
    [
        (Instr.of("ADDI", rs=0, imm=64), "ADDI imm.*-64..63"),
        (Instr.of("ADDI", rs=0, imm=-65), "ADDI imm"),
        (Instr.of("ADD", rs=16, rt=0), "ADD rs.*R0..R15"),
        (Instr.of("SFTI", rs=0, dir="L", amount=16, round="TRUNC"), "SFTI amount.*0..15"),
        (Instr.of("CMP", rs=0, rt=1, mode="GEQ"), "CMP mode.*GE, EQ"),
        (Instr.of("CMP", rs=0, rt=1, mode="ge"), "CMP mode"),  # Instr holds canonical names
        (Instr.of("MUL", rs=0, rt=1, shift=3), "MUL shift.*0, 4, 8"),  # a code, not a table value
        (Instr.of("JC", cond="ALWAYS", addr=128), "JC addr.*0..127"),
        (Instr.of("ADD", rs=True, rt=0), "ADD rs.*integer"),
        (Instr("ADD", (("rs", 0),)), "missing rt"),
        (Instr("NOP", (("rs", 0),)), "unexpected rs"),
        (Instr("ADD", (("rs", 0), ("rt", 1), ("rt", 1))), "repeated rt"),
        (Instr("FOO"), "unknown instruction 'FOO'"),
    ],
)
def test_encode_rejects(instr, fragment):
    with pytest.raises(IsaError, match=fragment):
        ISA.encode(instr)


def test_instr_value_semantics():
    a = Instr.of("ADD", rt=3, rs=0)
    assert a.operands == (("rs", 0), ("rt", 3))  # spec order, not keyword order
    assert a == Instr("ADD", (("rs", np.int64(0)), ("rt", 3)))
    assert len({a, Instr.of("ADD", rs=0, rt=3), Instr.of("ADD", rs=3, rt=0)}) == 2
    assert a["rt"] == 3
    with pytest.raises(KeyError):
        a["imm"]
    with pytest.raises(IsaError, match="missing rt"):
        Instr.of("ADD", rs=0)


def test_program_round_trip_and_limits():
    prog = [Instr.of("LDS"), Instr.of("UPDV", shift=0), Instr.of("END")]
    words = ISA.encode_program(prog)
    assert words.dtype == np.uint16 and words.tolist() == [16 << 11, 19 << 11, 22 << 11]
    assert ISA.decode_program(words) == prog
    with pytest.raises(IsaError, match="128-word"):
        ISA.encode_program([Instr.of("NOP")] * 129)
    with pytest.raises(IsaError, match="128-word"):
        ISA.decode_program([0] * 129)
    with pytest.raises(IsaError, match="word 1: .*unknown opcode"):
        ISA.decode_program([0, 31 << 11])


def test_cycles_from_table():
    assert ISA.cycles("MUL") == 2 and ISA.cycles("ADD") == 1 and ISA.cycles("LDS") == 2
    with pytest.raises(IsaError):
        ISA.cycles("FOO")


def test_yaml_is_the_source(tmp_path):
    data = yaml.safe_load(Path(ISA.path).read_text())
    add = next(i for i in data["instructions"] if i["mnemonic"] == "ADD")
    add["opcode"] = 31  # unused in darwin3
    data["tables"]["mul_shift"] = list(reversed(data["tables"]["mul_shift"]))
    (tmp_path / "flipped.yaml").write_text(yaml.safe_dump(data))
    flipped = load_isa(str(tmp_path / "flipped.yaml"))

    instr = Instr.of("ADD", rs=0, rt=3)
    assert ISA.encode(instr) >> 11 == 1
    assert flipped.encode(instr) >> 11 == 31
    assert flipped.decode(flipped.encode(instr)) == instr
    with pytest.raises(IsaError, match="unknown opcode 1"):
        flipped.decode(ISA.encode(instr))
    shift15 = Instr.of("MUL", rs=0, rt=0, shift=15)
    assert ISA.encode(shift15) & 0b111 == 4
    assert flipped.encode(shift15) & 0b111 == 3  # 15 sits at index 3 of the reversed table


def test_bin_file_round_trip(tmp_path):
    words = np.array([0x0102, 0xFFFF, 0], dtype=np.uint16)
    path = tmp_path / "p.bin"
    write_program_bin(path, words)
    assert path.read_bytes() == b"\x02\x01\xff\xff\x00\x00"  # little-endian
    back = read_program_bin(path)
    assert back.dtype == np.uint16 and back.tolist() == words.tolist()
    assert [p.name for p in tmp_path.iterdir()] == ["p.bin"]  # no temp file left behind


def test_bin_file_errors(tmp_path):
    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"\x00\x01\x02")
    with pytest.raises(SdanncError, match="odd.bin: 3 bytes"):
        read_program_bin(odd)
    with pytest.raises(SdanncError, match="missing.bin: no such file"):
        read_program_bin(tmp_path / "missing.bin")
    with pytest.raises(SdanncError, match="0..65535"):
        write_program_bin(tmp_path / "big.bin", [70000])
    assert not (tmp_path / "big.bin").exists()
