"""Progress where stderr is not a terminal (Makefiles, CI logs; CliRunner's stderr is not one either):
`compile` prints a line per milestone, `sim`, `tune` and `report` a line per tenth of the run, each
`sdannc: <command>: ...`; `-q` silences them and no output changes. A command refused for its input
prints its one error line and nothing else (the one-line tests of every command, cli_checks.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import models
from cli_checks import assert_ok, progress_lines
from sdannc.cli import _progress, main
from sdannc.image import read_image
from sdannc.sim import Simulator


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_compile_prints_its_milestones_and_quiet_silences_them(runner, tmp_path):
    model = models.quantized("cnn_pool")
    loud = runner.invoke(main, ["compile", str(model), "-o", str(tmp_path / "a")])
    quiet = runner.invoke(main, ["compile", str(model), "-o", str(tmp_path / "b"), "-q"])
    assert_ok(loud)
    assert_ok(quiet)
    lines = progress_lines(loud, "compile")
    patterns = [r"read and lowered 5 layers; estimate: at least 5 of 575 cores", r"tables built: 5 cores for 5 layers",
                r"placed on the mesh and wired"]
    assert len(lines) == len(patterns)
    for line, pattern in zip(lines, patterns):
        assert re.fullmatch(rf"sdannc: compile: {pattern} \(\d+\.\d s\)", line), line
    assert quiet.stderr == "" and quiet.stdout == ""
    assert tree(tmp_path / "a") == tree(tmp_path / "b")


def _percentages(lines: list[str], command: str, unit: str) -> list[int]:
    found = [re.fullmatch(rf"sdannc: {command}: (\d+)% \((\d+)/(\d+) {unit}\)", line) for line in lines]
    assert all(found), lines
    for m in found:
        assert int(m.group(1)) == 100 * int(m.group(2)) // int(m.group(3))
    return [int(m.group(1)) for m in found]


def test_sim_prints_a_line_a_tenth_not_one_a_step(runner, small_image, tmp_path):
    """200 samples of the small image take 1,615 ticks in many steps of the simulator; the log gets
    at most ten lines, each in a later tenth, the last at 100%."""
    x = np.tile(small_image.x, (50, 1))
    np.save(tmp_path / "x.npy", x)
    steps = []
    Simulator(read_image(small_image.path)).run(x, progress=lambda done, total: steps.append(done))
    assert len(steps) > 20
    outputs = {}
    for flag in ("", "-q"):
        args = ["sim", str(small_image.path), "-i", str(tmp_path / "x.npy"), "-o", str(tmp_path / f"y{flag}.npy"),
                "-r", str(tmp_path / f"r{flag}.json")] + ([flag] if flag else [])
        outputs[flag] = result = runner.invoke(main, args)
        assert_ok(result)
    seen = _percentages(progress_lines(outputs[""], "sim"), "sim", "ticks")
    assert 5 <= len(seen) <= 10 and seen[-1] == 100
    assert [p // 10 for p in seen] == sorted(set(p // 10 for p in seen))  # one line per tenth at most
    assert outputs["-q"].stderr == "" and outputs["-q"].stdout == ""
    assert (tmp_path / "y.npy").read_bytes() == (tmp_path / "y-q.npy").read_bytes()
    assert (tmp_path / "r.json").read_bytes() == (tmp_path / "r-q.json").read_bytes()


def test_a_line_each_time_another_tenth_is_done(capsys):
    """The rule itself, where stderr is not a terminal: of 101 updates to 100, one line a tenth; of 8
    updates to 7, each is a new tenth; a repeated update says nothing."""
    with _progress("tune", "tuning", "configurations", quiet=False) as update:
        for done in range(101):
            update(done, 100)
    lines = capsys.readouterr().err.splitlines()
    assert lines == [f"sdannc: tune: {p}% ({p}/100 configurations)" for p in range(10, 101, 10)]
    with _progress("sim", "simulating", "ticks", quiet=False) as update:
        for done in list(range(8)) + [7]:
            update(done, 7)
    assert _percentages(capsys.readouterr().err.splitlines(), "sim", "ticks") == [14, 28, 42, 57, 71, 85, 100]
    with _progress("sim", "simulating", "ticks", quiet=True) as update:
        update(7, 7)
    assert capsys.readouterr().err == ""
