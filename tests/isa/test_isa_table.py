"""The ISA YAML is checked on load: a broken table is a one-line IsaError naming file and instruction."""

import copy

import pytest
import yaml

from sdannc import resources
from sdannc.errors import SdanncError
from sdannc.isa import IsaError, load_isa

SOURCE = resources.data_dir("isa") / "darwin3.yaml"
BASE = yaml.safe_load(SOURCE.read_text())


def instruction(data, mnemonic):
    return next(i for i in data["instructions"] if i["mnemonic"] == mnemonic)


def load_modified(tmp_path, change):
    data = copy.deepcopy(BASE)
    change(data)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    return load_isa(str(path)), path


def test_darwin3_loads_and_is_cached():
    isa = load_isa()
    assert isa is load_isa("darwin3") is load_isa(str(SOURCE)) is load_isa(SOURCE)
    assert isa.name == "darwin3" and isa.word_bits == 16 and isa.registers == 16 and isa.program_words == 128
    assert isa.fixed_registers["membrane"] == 0
    assert isa.by_opcode[3] is isa.by_mnemonic["MUL"]
    mul = isa.by_mnemonic["MUL"]
    assert [(f.name, f.hi, f.lo, f.kind, f.width) for f in mul.fields] == [
        ("rs", 10, 7, "reg", 4), ("rt", 6, 3, "reg", 4), ("shift", 2, 0, "table", 3)]
    assert mul.fields[2].choices == (0, 4, 8, 12, 15, 16, 24, 31)
    assert isa.by_mnemonic["CMP"].fields[2].choices[0] == "GE"
    assert isa.by_mnemonic["ADD"].fields[0].choices is None


def test_unmodified_copy_loads(tmp_path):
    isa, _ = load_modified(tmp_path, lambda data: None)
    assert [s.mnemonic for s in isa.instructions] == [s.mnemonic for s in load_isa().instructions]


def _set_bits(mnemonic, field, bits):
    def change(data):
        next(f for f in instruction(data, mnemonic)["fields"] if f["name"] == field)["bits"] = bits
    return change


def _set(mnemonic, key, value):
    def change(data):
        instruction(data, mnemonic)[key] = value
    return change


@pytest.mark.parametrize(
    "change, fragment",
    [
        (_set_bits("ADD", "rt", [7, 4]), "instruction ADD, field rt: .*overlap field rs"),
        (_set_bits("ADDI", "imm", [16, 10]), "instruction ADDI, field imm: .*outside the 16-bit word"),
        (_set_bits("MOVI", "imm", [11, 0]), "instruction MOVI, field imm: .*opcode bits"),
        (_set_bits("LDC", "creg", [2, 6]), "instruction LDC, field creg: bits must be"),
        (_set_bits("CMP", "mode", [1, 0]), "instruction CMP, field mode: enum cmp_mode has 8 entries"),
        (_set_bits("ADD", "rs", [9, 7]), "instruction ADD, field rs: 3 bits cannot name 16 registers"),
        (_set("SUB", "opcode", 1), "instruction SUB: opcode 1 is already ADD's"),
        (_set("SUB", "opcode", 32), "instruction SUB: opcode 32 does not fit"),
        (_set("SUB", "mnemonic", "add"), "instruction add: mnemonic repeats ADD"),
        (_set("SUB", "cycles", 0), "instruction SUB: cycles must be"),
        (_set("SUB", "opcodee", 2), "instruction SUB: unknown keys"),
        (lambda d: instruction(d, "JC")["fields"][0].update(enum="nope"), "instruction JC, field cond: enum 'nope' is not defined"),
        (lambda d: instruction(d, "MUL")["fields"][2].update(kind="float"), "instruction MUL, field shift: kind must be"),
        (lambda d: d["enums"]["shift_dir"].append("l"), "enums.shift_dir: entries repeat"),
        (lambda d: d.pop("registers"), "missing key 'registers'"),
    ],
)
def test_broken_tables_are_rejected(tmp_path, change, fragment):
    with pytest.raises(IsaError, match=fragment) as info:
        load_modified(tmp_path, change)
    message = str(info.value)
    assert message.startswith(str(tmp_path / "broken.yaml"))
    assert "\n" not in message
    assert isinstance(info.value, SdanncError)


def test_bad_names_and_files(tmp_path):
    with pytest.raises(IsaError, match="unknown ISA 'nosuch' \\(known: darwin3"):
        load_isa("nosuch")
    with pytest.raises(IsaError, match="no such ISA file"):
        load_isa(str(tmp_path / "none.yaml"))
    (tmp_path / "garbage.yaml").write_text("name: [unclosed\n")
    with pytest.raises(IsaError, match="garbage.yaml: not valid YAML") as info:
        load_isa(str(tmp_path / "garbage.yaml"))
    assert "\n" not in str(info.value)
