"""Usage errors are one line, as every other error: `sdannc: error: <what>` naming the option and the
value, ending `(see 'sdannc COMMAND --help')`, exit code 2, nothing written; --help, --version and
`sdannc` alone still print what they always did.
"""

from __future__ import annotations

import pytest

from cli_checks import assert_user_error, invoke
from sdannc import __version__


# (command line, with {tmp} for the test's folder; what the line must say)
CASES = [
    ("sim {tmp}/img -i {tmp}/x.npy -o {tmp}/y.npy --lanes 0",
     ["Invalid value for '--lanes': 0 is not in the range x>=1", "(see 'sdannc sim --help')"]),
    ("report {tmp}/img -i {tmp}/x.npy -o {tmp}/out --lanes -3", ["'--lanes'", "-3", "(see 'sdannc report --help')"]),
    ("run {tmp}/m.onnx -i {tmp}/x.npy -o {tmp}/y.npy --engine fast",
     ["Invalid value for '--engine': 'fast' is not one of 'golden', 'sim'", "(see 'sdannc run --help')"]),
    ("compile {tmp}/m.onnx -o {tmp}/afile", ["'-o' / '--output'", "{tmp}/afile", "is a file",
                                              "(see 'sdannc compile --help')"]),
    ("compile {tmp}/m.onnx", ["Missing option '-o' / '--output'", "(see 'sdannc compile --help')"]),
    ("compile {tmp}/m.onnx -o {tmp}/out --dump-ir lower-everything", ["'--dump-ir'", "'lower-everything'",
                                                                     "lower-linear"]),
    ("sim {tmp}/img -i {tmp}/x.npy -o {tmp}/y.npy --bogus", ["No such option '--bogus'", "(see 'sdannc sim --help')"]),
    ("sim {tmp}/img -i {tmp}/x.npy -o {tmp}/adir", ["'--output' / '-o'", "{tmp}/adir", "is a directory"]),
    ("sim", ["Missing argument 'IMAGE_DIR'", "(see 'sdannc sim --help')"]),
    ("sim {tmp}/img -o {tmp}/y.npy", ["Missing option '--input' / '-i'"]),
    ("tune {tmp}/m.onnx --calib {tmp}/x.npy --labels {tmp}/l.npy -o {tmp}/t.yaml --max-drop lots",
     ["'--max-drop'", "'lots' is not a valid float", "(see 'sdannc tune --help')"]),
    ("quantize {tmp}/f.onnx --calib {tmp}/x.npy -o {tmp}/q.onnx --format fp8", ["'--format'", "'fp8'", "qdq"]),
    ("asm {tmp}/p.s", ["Missing option '-o' / '--output'", "(see 'sdannc asm --help')"]),
    ("frobnicate", ["No such command 'frobnicate'", "(see 'sdannc --help')"]),
    ("--bogus", ["No such option '--bogus'", "(see 'sdannc --help')"]),
]


@pytest.mark.parametrize("line, fragments", CASES, ids=[c[0].replace("{tmp}/", "") for c in CASES])
def test_usage_error_is_one_line(tmp_path, line, fragments):
    (tmp_path / "afile").write_text("mine\n")
    (tmp_path / "adir").mkdir()
    before = sorted(p.name for p in tmp_path.iterdir())
    result = invoke(*line.format(tmp=tmp_path).split())
    assert_user_error(result, *(f.format(tmp=tmp_path) for f in fragments))
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "afile").read_text() == "mine\n"


def test_help_and_version_are_unchanged():
    result = invoke("--help")
    assert result.exit_code == 0 and result.stdout.startswith("Usage: ") and "Commands:" in result.stdout
    result = invoke("sim", "--help")
    assert result.exit_code == 0 and "--lanes" in result.stdout and result.stderr == ""
    result = invoke("compile", "--help")
    assert result.exit_code == 0 and "--force" in result.stdout
    result = invoke("--version")
    assert result.exit_code == 0 and __version__ in result.stdout


def test_no_command_prints_the_help():
    result = invoke()
    assert "Usage: " in result.output and "Commands:" in result.output and "sdannc: error" not in result.output
