"""`sdannc asm` / `sdannc disasm` through files, and how errors reach the user."""

import subprocess
import sys
from pathlib import Path

import pytest

from sdannc import __version__
from sdannc.cli import main

PROGRAM = """\
start:
    LDS
    UPDV 2
    FIRE R0, R1, SUB
    JC NFLAG, skip
    MUL R2, R3, 15
skip:
    STS
    JC ALWAYS, start
"""


def test_asm_then_disasm_round_trip(runner, tmp_path):
    source, binary = tmp_path / "neuron.s", tmp_path / "neuron.bin"
    source.write_text(PROGRAM)
    result = runner.invoke(main, ["asm", str(source), "-o", str(binary)])
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{binary}: 7 words\n"
    assert binary.stat().st_size == 14

    result = runner.invoke(main, ["disasm", str(binary), "--isa", "darwin3"])
    assert result.exit_code == 0, result.output
    assert "    FIRE R0, R1, SUB\n" in result.stdout
    assert "    JC NFLAG, L5\n" in result.stdout

    again = tmp_path / "again.s"
    again.write_text(result.stdout)
    result = runner.invoke(main, ["asm", str(again), "-o", str(tmp_path / "again.bin")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "again.bin").read_bytes() == binary.read_bytes()


def _assert_one_line_error(result, fragment):
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sdannc: error: ")
    assert fragment in lines[0]
    assert "Traceback" not in result.output


def test_bad_source_fails_cleanly_and_writes_nothing(runner, tmp_path):
    source = tmp_path / "bad.s"
    source.write_text("LDS\nADDI R0, 64\nEND\n")
    result = runner.invoke(main, ["asm", str(source), "-o", str(tmp_path / "bad.bin")])
    _assert_one_line_error(result, f"{source}:2: ADDI imm")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.s"]


def test_failed_asm_keeps_previous_output(runner, tmp_path):
    source, binary = tmp_path / "bad.s", tmp_path / "old.bin"
    source.write_text("JC ALWAYS, nowhere\n")
    binary.write_bytes(b"\x00\x00")
    result = runner.invoke(main, ["asm", str(source), "-o", str(binary)])
    _assert_one_line_error(result, "undefined label 'nowhere'")
    assert binary.read_bytes() == b"\x00\x00"


def test_missing_inputs_name_the_file(runner, tmp_path):
    missing = tmp_path / "missing.s"
    _assert_one_line_error(runner.invoke(main, ["asm", str(missing), "-o", str(tmp_path / "x.bin")]), f"{missing}: no such file")
    _assert_one_line_error(runner.invoke(main, ["disasm", str(tmp_path / "missing.bin")]), "missing.bin: no such file")
    _assert_one_line_error(runner.invoke(main, ["disasm", "x.bin", "--isa", "nosuch"]), "unknown ISA 'nosuch'")
    assert not (tmp_path / "x.bin").exists()


def test_invalid_binaries(runner, tmp_path):
    odd = tmp_path / "odd.bin"
    odd.write_bytes(b"\x00\x00\x00")
    _assert_one_line_error(runner.invoke(main, ["disasm", str(odd)]), f"{odd}: 3 bytes")
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x00\x00\x00\xf8")  # word 1 has opcode 31
    _assert_one_line_error(runner.invoke(main, ["disasm", str(bad)]), f"{bad}: word 1:")


def test_usage_errors_keep_clicks_message(runner):
    result = runner.invoke(main, ["asm", "x.s"])  # no -o
    assert result.exit_code == 2
    assert "Missing option" in result.output


def test_version(runner):
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.stdout


def test_python_dash_m(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", "sdannc", "disasm", str(tmp_path / "none.bin")],
                            cwd=repo, capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == f"sdannc: error: {tmp_path / 'none.bin'}: no such file\n"
