"""No lost files: the commands that write a folder (`compile`, `report`) replace only an empty folder
or one of their own kind, recognised by its manifest.json; any other folder is refused in one line
naming it and --force, before any work is done, and keeps its files. Some folders are refused even
with --force: the current folder or one that holds it, the home folder, the filesystem root, and a
folder that holds one of the command's inputs. Single-file outputs replace a file but refuse a folder.

Every refusal is checked the same way: one line, exit code 2, and every file under the test's folder
(the output folder, its parent, hidden staging folders) exactly as it was.
"""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import pytest

import models
from cli_checks import assert_ok, assert_user_error, invoke, tree
from sdannc.errors import SdanncError
from sdannc.fileio import check_output_folder, checksums, save_all, write_folder
from sdannc.image import read_image, write_image


class Inputs(NamedTuple):
    model: Path  # a quantized MLP, [N, 64] float input
    x: Path  # a batch for it
    image: Path  # the model compiled (with the report.json `sdannc report` needs)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Inputs:
    root = tmp_path_factory.mktemp("inputs")
    model = root / "mlp_q.onnx"
    model.write_bytes(models.quantized("mlp_gemm").read_bytes())
    np.save(root / "x.npy", models.eval_set(models.float_model("mlp_gemm"), 4))
    assert_ok(invoke("compile", model, "-o", root / "image", "-q"))
    return Inputs(model, root / "x.npy", root / "image")


class Writer(NamedTuple):
    name: str
    args: Callable[[Inputs, Path], list]  # the command line that writes the folder
    format: str  # what its manifest.json declares
    work: str  # the function that does the command's work, to catch it starting


WRITERS = [
    Writer("compile", lambda i, out: ["compile", i.model, "-o", out, "-q"], "sdannc-image",
           "sdannc.compiler.compile_in_memory"),
    Writer("report", lambda i, out: ["report", i.image, "-i", i.x, "-o", out, "-q"], "sdannc-report",
           "sdannc.activity_report.collect"),
]
BY_NAME = {w.name: w for w in WRITERS}
each_writer = pytest.mark.parametrize("writer", WRITERS, ids=[w.name for w in WRITERS])


def foreign_folder(path: Path) -> Path:
    (path / "chapters").mkdir(parents=True)
    (path / "thesis.tex").write_text("\\documentclass{book}\n")
    (path / "chapters" / "one.tex").write_text("\\chapter{One}\n")
    return path


def refused(result, before: dict, root: Path, *fragments: str) -> str:
    line = assert_user_error(result, *fragments)
    assert result.stdout == ""
    assert tree(root) == before  # the folder's files, and no staging or .old folder beside it
    return line


# ---- what may be replaced -------------------------------------------------------------------------


@each_writer
def test_a_foreign_folder_is_refused_and_keeps_its_files(writer, inputs, tmp_path):
    out = foreign_folder(tmp_path / "thesis")
    before = tree(tmp_path)
    kind = writer.format.replace("-", " ")
    refused(invoke(*writer.args(inputs, out)), before, tmp_path,
            f"{out}: holds files that are not an {kind} (e.g. chapters/)", "--force")


@each_writer
def test_the_refusal_comes_before_any_work(writer, inputs, tmp_path, monkeypatch):
    def work(*args, **kwargs):
        raise AssertionError("the command started its work")

    monkeypatch.setattr(writer.work, work)
    out = foreign_folder(tmp_path / "thesis")
    before = tree(tmp_path)
    refused(invoke(*writer.args(inputs, out)), before, tmp_path, str(out), "--force")
    # The control: with a folder it may write, the same command does reach its work.
    result = invoke(*writer.args(inputs, tmp_path / "new"))
    assert isinstance(result.exception, AssertionError) and "started its work" in str(result.exception)


@each_writer
def test_force_replaces_a_foreign_folder(writer, inputs, tmp_path):
    out = foreign_folder(tmp_path / "thesis")
    assert_ok(invoke(*writer.args(inputs, out), "--force"))
    assert not (out / "thesis.tex").exists() and not (out / "chapters").exists()
    assert json.loads((out / "manifest.json").read_text())["format"] == writer.format
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]  # nothing left beside it


@each_writer
def test_an_empty_folder_and_an_earlier_output_are_replaced(writer, inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert_ok(invoke(*writer.args(inputs, out)))
    first = tree(out)
    (out / "output.npy").write_bytes(b"what `make sim` writes into the image folder")  # replaced with it
    assert_ok(invoke(*writer.args(inputs, out)))
    assert tree(out) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@each_writer
def test_the_manifest_lists_every_other_file(writer, inputs, tmp_path):
    """What makes the folder recognisable as this writer's (and, for the image, checkable)."""
    out = tmp_path / "out"
    assert_ok(invoke(*writer.args(inputs, out)))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == writer.format
    files = {k: v for k, v in tree(out).items() if v is not None and k != "manifest.json"}
    if writer.name == "compile":
        del files["report.json"]  # the compile report sits beside the image, outside the checked files
    assert manifest["files"] == checksums(files)


@pytest.mark.parametrize("writer_name, other_name", [("compile", "report"), ("report", "compile")])
def test_the_other_writers_folder_is_refused(writer_name, other_name, inputs, tmp_path):
    out = tmp_path / "out"
    assert_ok(invoke(*BY_NAME[other_name].args(inputs, out)))
    before = tree(tmp_path)
    kind = BY_NAME[writer_name].format.replace("-", " ")
    refused(invoke(*BY_NAME[writer_name].args(inputs, out)), before, tmp_path, f"not an {kind}", "--force")


@each_writer
def test_an_existing_file_is_not_a_folder(writer, inputs, tmp_path):
    afile = tmp_path / "notes.txt"
    afile.write_text("mine\n")
    before = tree(tmp_path)
    refused(invoke(*writer.args(inputs, afile)), before, tmp_path, "'-o' / '--output'", str(afile), "is a file")
    refused(invoke(*writer.args(inputs, afile), "--force"), before, tmp_path, str(afile), "is a file")


def test_the_library_writer_checks_too(small_chip, tmp_path):
    """write_image (and so every writer built on write_folder) applies the rule at the end as well."""
    out = foreign_folder(tmp_path / "thesis")
    before = tree(tmp_path)
    with pytest.raises(SdanncError, match="holds files that are not an sdannc image"):
        write_image(small_chip, out)
    assert tree(tmp_path) == before
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(SdanncError, match="is a file, not a folder"):
        write_image(small_chip, afile, force=True)
    write_image(small_chip, out, force=True)
    read_image(out)


def test_a_folder_that_cannot_be_moved_is_refused_cleanly(small_chip, tmp_path, monkeypatch):
    """`-o .` used to end in a traceback (Device or resource busy) and leave a hidden ..old.* folder."""
    out = tmp_path / "image"
    write_image(small_chip, out)
    before = tree(tmp_path)
    real_replace = os.replace

    def busy(src, dst):
        if Path(src) == out:
            raise OSError(errno.EBUSY, "Device or resource busy")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", busy)
    with pytest.raises(SdanncError) as info:
        write_image(small_chip, out)
    monkeypatch.undo()
    assert str(info.value) == f"{out}: cannot replace it (Device or resource busy)"
    assert tree(tmp_path) == before


def test_the_manifest_written_must_declare_the_kind(tmp_path):
    """A writer whose folder would not be recognised next time is a bug, caught before anything is written."""
    with pytest.raises(ValueError, match="sdannc-image"):
        write_folder({"manifest.json": b'{"format": "sdannc-report"}', "a": b""}, tmp_path / "out", "sdannc-image")
    assert list(tmp_path.iterdir()) == []


# ---- never replaced, not even with --force ---------------------------------------------------------


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("spelling", [".", "..", "$PWD", "$PWD/..", "$PWD/../here"])
@each_writer
def test_the_current_folder_and_its_parents(writer, spelling, force, inputs, tmp_path, monkeypatch):
    here = foreign_folder(tmp_path / "a" / "here")
    monkeypatch.chdir(here)
    out = spelling.replace("$PWD", str(here))
    before = tree(tmp_path)
    line = refused(invoke(*writer.args(inputs, out), *(["--force"] if force else [])), before, tmp_path,
                   f"sdannc: error: {out}: ", "--force does not replace it")
    assert ("is the current folder" if Path(out).resolve() == here else f"holds the current folder {here}") in line


@each_writer
def test_the_home_folder_and_its_parents(writer, inputs, tmp_path, monkeypatch):
    home = foreign_folder(tmp_path / "users" / "me")
    monkeypatch.setenv("HOME", str(home))
    before = tree(tmp_path)
    refused(invoke(*writer.args(inputs, home), "--force"), before, tmp_path, f"{home}: is your home folder")
    refused(invoke(*writer.args(inputs, home.parent), "--force"), before, tmp_path,
            f"{home.parent}: holds your home folder {home}")


def test_the_filesystem_root():
    for force in (False, True):
        with pytest.raises(SdanncError, match="is the filesystem root"):
            check_output_folder("/", "sdannc-image", force)


def _model_in_out(i: Inputs, out: Path):
    (out / "net.onnx").write_bytes(i.model.read_bytes())
    return ["compile", out / "net.onnx", "-o", out], [str(out / "net.onnx"), "(MODEL)"]


def _model_deep_in_out(i, out):
    (out / "models" / "v2").mkdir(parents=True)
    (out / "models" / "v2" / "net.onnx").write_bytes(i.model.read_bytes())
    return ["compile", out / "models" / "v2" / "net.onnx", "-o", out], ["models/v2/net.onnx", "(MODEL)"]


def _model_in_an_earlier_image(i, out):
    """An image folder may be replaced, but not when the user keeps the model in it."""
    assert_ok(invoke("compile", i.model, "-o", out, "-q"))
    (out / "net.onnx").write_bytes(i.model.read_bytes())
    return ["compile", out / "net.onnx", "-o", out], ["net.onnx", "(MODEL)"]


def _calib_in_out(i, out):
    (out / "data").mkdir()
    np.save(out / "data" / "calib.npy", np.load(i.x))
    return ["compile", i.model, "-o", out, "--calib", out / "data" / "calib.npy"], ["calib.npy", "(--calib)"]


def _config_in_out(i, out):
    (out / "sdannc.yaml").write_text("sparsify:\n  default: {rot: 1}\n")
    return ["compile", i.model, "-o", out, "--config", out / "sdannc.yaml"], ["sdannc.yaml", "(--config)"]


def _target_in_out(i, out):
    from sdannc.resources import data_dir

    (out / "mine.yaml").write_bytes((data_dir("targets") / "darwin3.yaml").read_bytes())
    return ["compile", i.model, "-o", out, "-t", out / "mine.yaml"], ["mine.yaml", "(--target)"]


def _report_into_its_image(i, out):
    out.rmdir()
    assert_ok(invoke("compile", i.model, "-o", out, "-q"))
    return ["report", out, "-i", i.x, "-o", out], [f"{out}: is {out}, which", "(IMAGE_DIR)"]


def _report_over_a_folder_holding_the_image(i, out):
    assert_ok(invoke("compile", i.model, "-o", out / "build" / "net", "-q"))
    return ["report", out / "build" / "net", "-i", i.x, "-o", out], ["build/net", "(IMAGE_DIR)"]


def _report_input_in_out(i, out):
    np.save(out / "x.npy", np.load(i.x))
    return ["report", i.image, "-i", out / "x.npy", "-o", out], ["x.npy", "(--input)"]


HOLDS_AN_INPUT = [_model_in_out, _model_deep_in_out, _model_in_an_earlier_image, _calib_in_out, _config_in_out,
                  _target_in_out, _report_into_its_image, _report_over_a_folder_holding_the_image, _report_input_in_out]


@pytest.mark.parametrize("force", [False, True], ids=["plain", "force"])
@pytest.mark.parametrize("case", HOLDS_AN_INPUT, ids=[c.__name__.lstrip("_") for c in HOLDS_AN_INPUT])
def test_a_folder_that_holds_an_input(case, force, inputs, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    args, fragments = case(inputs, out)
    before = tree(tmp_path)
    refused(invoke(*args, "-q", *(["--force"] if force else [])), before, tmp_path,
            f"sdannc: error: {out}: ", "which this command reads", "choose another folder", *fragments)


# ---- single-file outputs ---------------------------------------------------------------------------


def _file_commands(i: Inputs, tmp: Path, out: Path) -> dict[str, list]:
    labels = tmp / "labels.npy"
    np.save(labels, np.arange(4) % 10)
    float_model = tmp / "mlp.onnx"
    float_model.write_bytes(models.float_model("mlp_gemm").SerializeToString())
    y = tmp / "y.npy"
    return {
        "sim --output": ["sim", i.image, "-i", i.x, "-o", out],
        "sim --report": ["sim", i.image, "-i", i.x, "-o", y, "--report", out],
        "run --output": ["run", i.model, "-i", i.x, "-o", out],
        "tune -o": ["tune", i.model, "--calib", i.x, "--labels", labels, "-o", out],
        "quantize -o": ["quantize", float_model, "--calib", i.x, "-o", out],
    }


FILE_OUTPUTS = ["sim --output", "sim --report", "run --output", "tune -o", "quantize -o"]


@pytest.mark.parametrize("which", FILE_OUTPUTS)
def test_a_file_output_refuses_a_folder(which, inputs, tmp_path):
    out = foreign_folder(tmp_path / "results")
    args = _file_commands(inputs, tmp_path, out)[which]
    before = tree(tmp_path)
    refused(invoke(*args), before, tmp_path, str(out), "is a directory")


@pytest.mark.parametrize("which", FILE_OUTPUTS)
def test_a_file_output_replaces_a_file(which, inputs, tmp_path):
    """As Makefile pipelines expect: rerunning writes over the previous result."""
    out = tmp_path / "result"
    out.write_bytes(b"from the previous run")
    args = _file_commands(inputs, tmp_path, out)[which]
    assert_ok(invoke(*args, *(["-q"] if which.startswith(("sim", "tune")) else [])))
    assert out.read_bytes() != b"from the previous run" and out.stat().st_size > 0


def test_save_all_refuses_a_folder(tmp_path):
    (tmp_path / "y.npy").mkdir()
    with pytest.raises(SdanncError, match="is a folder, not a file"):
        save_all({tmp_path / "z.npy": b"1", tmp_path / "y.npy": b"2"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["y.npy"]  # neither written


def test_a_full_disk_is_one_line_and_leaves_nothing(tmp_path, monkeypatch):
    """The operating system's refusal mid-write (here ENOSPC on the third file) is the user's to fix:
    one line naming the file and the reason, and no partial image or staging folder."""
    real_write = Path.write_bytes
    calls = []

    def failing_write(self, data):
        calls.append(self)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing_write)
    out = tmp_path / "out" / "image"
    line = assert_user_error(invoke("compile", models.quantized("mlp_gemm"), "-o", out, "-q"),
                             "No space left on device")
    monkeypatch.undo()
    assert len(calls) == 3 and str(calls[-1]) in line
    assert not out.exists() and [p.name for p in out.parent.iterdir()] == []
