"""Fuzzed bad input: well over a thousand malformed inputs thrown at the real CLI, in-process.

Every case mutates valid seed material (tests/fuzz/fuzz_seeds.py) and runs one command on it. The
property (tests/fuzz/fuzz_harness.py): the command either succeeds and its outputs are sane, or it
refuses the input with exit code 2, one `sdannc: error:` line on stderr and no traceback, and leaves
its folder exactly as it was. hypothesis runs derandomized, so CI throws the same cases every time;
`test_cases_thrown` (last in this module) asserts how many ran. docs/robustness.md has the counts and
every bug these cases found.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fuzz_harness import COUNTS, OUTCOMES, Case, fuzz_settings
from fuzz_image import (damage_image, damage_report, image_damage, rehash_damage, rehashed_damage, report_damage,
                        write_folder)
from fuzz_mutations import array_damage, byte_damage, damage_array, damage_bytes, damage_yaml, yaml_damage
from fuzz_onnx import damaged_model, model_damage
from fuzz_seeds import MODEL_SEEDS, npy_bytes, seeds
from sdannc.config import load_config
from sdannc.image import read_image

# category -> cases; cheap entry points (an input refused at load) get most of them
PLANNED = {
    "onnx bytes -> compile": 120,
    "onnx surgery -> compile": 400,
    "onnx surgery -> run": 60,
    "onnx surgery -> tune": 30,
    "float onnx -> quantize": 30,
    "config -> compile": 80,
    "config -> run": 30,
    "target -> compile": 200,
    "target -> sim -t": 40,
    "image on disk -> sim": 120,
    "image rehashed -> sim": 150,
    "image on disk -> report": 30,
    "image rehashed -> report": 40,
    "report.json -> report": 40,
    "input array -> run": 60,
    "input array -> sim": 60,
    "input array -> report": 15,
    "calibration array -> compile": 25,
    "calibration and labels -> tune": 40,
    "calibration array -> quantize": 15,
    "foreign output folder -> compile": 40,
    "foreign output folder -> report": 20,
}
MINIMUM = 1000  # the promise

SEED_NAMES = [f"{name}-{fmt}" for name, fmt in MODEL_SEEDS]


def fuzz(category: str):
    return fuzz_settings(PLANNED[category])


@pytest.fixture(scope="module")
def seed():
    return seeds()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


# ---- what a success must look like, per entry point ----------------------------------------------


def image_ok(out):
    def check():
        read_image(out)  # a compiled image loads and passes its own checks
        assert (out / "report.json").is_file()
    return check


def outputs_ok(path, samples: int):
    def check():
        y = np.load(path, allow_pickle=False)
        assert y.shape[0] == samples and y.dtype.kind in "fiu"
        assert np.isfinite(y).all()
    return check


def report_ok(out):
    def check():
        assert (out / "index.html").is_file()
        json.loads((out / "report.json").read_text())
    return check


def config_ok(path):
    return lambda: load_config(path)


def onnx_ok(path):
    return lambda: onnx.checker.check_model(onnx.load(str(path)))


def model_input(seed, name: str) -> np.ndarray:
    """The seed input batch shaped for a seed model (flat for the MLP, 8 x 8 images for the CNNs)."""
    return seed.x if name.startswith("mlp") else seed.x.reshape(-1, 1, 8, 8)


# ---- ONNX files -----------------------------------------------------------------------------------


@fuzz("onnx bytes -> compile")
@given(name=st.sampled_from(SEED_NAMES), damage=byte_damage())
def test_damaged_onnx_bytes(seed, root, name, damage):
    with Case(root, "onnx bytes -> compile") as case:
        model = case.write("model.onnx", damage_bytes(seed.models[name], damage))
        case.check(["compile", model, "-o", case.path("img"), "-q"], ["img"], image_ok(case.path("img")))


@fuzz("onnx surgery -> compile")
@given(name=st.sampled_from(SEED_NAMES), edits=model_damage())
def test_onnx_surgery_compile(seed, root, name, edits):
    with Case(root, "onnx surgery -> compile") as case:
        model = case.write("model.onnx", damaged_model(seed.models[name], edits))
        case.check(["compile", model, "-o", case.path("img"), "-q"], ["img"], image_ok(case.path("img")))


@fuzz("onnx surgery -> run")
@given(name=st.sampled_from(SEED_NAMES), edits=model_damage())
def test_onnx_surgery_run(seed, root, name, edits):
    with Case(root, "onnx surgery -> run") as case:
        model = case.write("model.onnx", damaged_model(seed.models[name], edits))
        x = model_input(seed, name)
        inp = case.write("x.npy", npy_bytes(x))
        case.check(["run", model, "-i", inp, "-o", case.path("y.npy")], ["y.npy"],
                   outputs_ok(case.path("y.npy"), len(x)))


@fuzz("onnx surgery -> tune")
@given(name=st.sampled_from(SEED_NAMES), edits=model_damage())
def test_onnx_surgery_tune(seed, root, name, edits):
    with Case(root, "onnx surgery -> tune") as case:
        model = case.write("model.onnx", damaged_model(seed.models[name], edits))
        calib = case.write("x.npy", npy_bytes(model_input(seed, name)))
        labels = case.write("labels.npy", npy_bytes(seed.labels))
        case.check(["tune", model, "--calib", calib, "--labels", labels, "-o", case.path("s.yaml"), "-q"],
                   ["s.yaml"], config_ok(case.path("s.yaml")))


@fuzz("float onnx -> quantize")
@given(damage=st.one_of(model_damage().map(lambda e: ("edits", e)), byte_damage().map(lambda b: ("bytes", b))))
def test_damaged_float_model_quantize(seed, root, damage):
    with Case(root, "float onnx -> quantize") as case:
        kind, detail = damage
        data = damaged_model(seed.float_model, detail) if kind == "edits" else damage_bytes(seed.float_model, detail)
        model = case.write("float.onnx", data)
        calib = case.write("x.npy", npy_bytes(seed.x))
        case.check(["quantize", model, "--calib", calib, "-o", case.path("q.onnx")], ["q.onnx"],
                   onnx_ok(case.path("q.onnx")))


# ---- compile configs and targets ------------------------------------------------------------------


@fuzz("config -> compile")
@given(damage=yaml_damage())
def test_damaged_config_compile(seed, root, damage):
    with Case(root, "config -> compile") as case:
        model = case.write("model.onnx", seed.model)
        config = case.write("sdannc.yaml", damage_yaml(seed.config, damage))
        case.check(["compile", model, "--config", config, "-o", case.path("img"), "-q"], ["img"],
                   image_ok(case.path("img")))


@fuzz("config -> run")
@given(damage=yaml_damage())
def test_damaged_config_run(seed, root, damage):
    with Case(root, "config -> run") as case:
        model = case.write("model.onnx", seed.model)
        config = case.write("sdannc.yaml", damage_yaml(seed.config, damage))
        inp = case.write("x.npy", npy_bytes(seed.x))
        case.check(["run", model, "-i", inp, "-o", case.path("y.npy"), "--config", config], ["y.npy"],
                   outputs_ok(case.path("y.npy"), len(seed.x)))


# `extends:` edits only a target has: a built-in parent, a missing one, itself (circular), a non-string
EXTENDS = st.tuples(st.just("extends"), st.sampled_from(("darwin3", "darwin3-wide", "nosuch", "target.yaml",
                                                          "../none.yaml", 5, None, ["darwin3"])))


def _extends(tree, edit):
    return {**tree, "extends": edit[1]} if isinstance(tree, dict) else tree


@fuzz("target -> compile")
@given(damage=yaml_damage(extra=(EXTENDS,)))
def test_damaged_target_compile(seed, root, damage):
    with Case(root, "target -> compile") as case:
        model = case.write("model.onnx", seed.model)
        target = case.write("target.yaml", damage_yaml(seed.target, damage, _extends))
        case.check(["compile", model, "-t", target, "-o", case.path("img"), "-q"], ["img"],
                   image_ok(case.path("img")))


@fuzz("target -> sim -t")
@given(damage=yaml_damage(extra=(EXTENDS,)))
def test_damaged_target_sim(seed, root, damage):
    with Case(root, "target -> sim -t") as case:
        write_folder(case.path("img"), seed.image)
        target = case.write("target.yaml", damage_yaml(seed.target, damage, _extends))
        inp = case.write("x.npy", npy_bytes(seed.x))
        case.check(["sim", case.path("img"), "-t", target, "-i", inp, "-o", case.path("y.npy"), "-q"], ["y.npy"],
                   outputs_ok(case.path("y.npy"), len(seed.x)))


# ---- chip images ----------------------------------------------------------------------------------


def _sim_damaged_image(seed, root, category, files, report: bool):
    with Case(root, category) as case:
        write_folder(case.path("img"), files)
        inp = case.write("x.npy", npy_bytes(seed.x))
        extra = ["-r", case.path("r.json")] if report else []
        case.check(["sim", case.path("img"), "-i", inp, "-o", case.path("y.npy"), "-q", *extra], ["y.npy", "r.json"],
                   outputs_ok(case.path("y.npy"), len(seed.x)))


@fuzz("image on disk -> sim")
@given(damage=image_damage(), report=st.booleans())
def test_damaged_image_sim(seed, root, damage, report):
    _sim_damaged_image(seed, root, "image on disk -> sim", damage_image(seed.image, damage), report)


@fuzz("image rehashed -> sim")
@given(damage=rehashed_damage(), report=st.booleans())
def test_rehashed_image_sim(seed, root, damage, report):
    _sim_damaged_image(seed, root, "image rehashed -> sim", rehash_damage(seed.image, damage), report)


def _report_damaged_image(seed, root, category: str, files) -> None:
    """`sdannc report` on an image folder holding `files`, with the seed batch."""
    with Case(root, category) as case:
        write_folder(case.path("img"), files)
        inp = case.write("x.npy", npy_bytes(seed.x))
        case.check(["report", case.path("img"), "-i", inp, "-o", case.path("rep"), "-q"], ["rep"],
                   report_ok(case.path("rep")))


@fuzz("image on disk -> report")
@given(damage=image_damage())
def test_damaged_image_report(seed, root, damage):
    _report_damaged_image(seed, root, "image on disk -> report", damage_image(seed.image, damage))


@fuzz("image rehashed -> report")
@given(damage=rehashed_damage())
def test_rehashed_image_report(seed, root, damage):
    _report_damaged_image(seed, root, "image rehashed -> report", rehash_damage(seed.image, damage))


@fuzz("report.json -> report")
@given(damage=report_damage())
def test_damaged_compile_report(seed, root, damage):
    _report_damaged_image(seed, root, "report.json -> report", damage_report(seed.image, damage))


# ---- input arrays ---------------------------------------------------------------------------------

GOOD_SHAPE = (3, 64)  # the seed batch: 3 flat digits


def _samples(data: bytes) -> int:
    """The batch size of an input file the command accepted (it must be a plain .npy array)."""
    import io

    return np.load(io.BytesIO(data), allow_pickle=False).shape[0]


def _outputs_of(case, data: bytes, name="y.npy"):
    def check():
        outputs_ok(case.path(name), _samples(data))()
    return check


@fuzz("input array -> run")
@given(damage=array_damage(GOOD_SHAPE))
def test_bad_input_run(seed, root, damage):
    with Case(root, "input array -> run") as case:
        model = case.write("model.onnx", seed.model)
        data = damage_array(seed.x, damage)
        inp = case.write("x.npy", data)
        case.check(["run", model, "-i", inp, "-o", case.path("y.npy")], ["y.npy"], _outputs_of(case, data))


@fuzz("input array -> sim")
@given(damage=array_damage(GOOD_SHAPE))
def test_bad_input_sim(seed, root, damage):
    with Case(root, "input array -> sim") as case:
        write_folder(case.path("img"), seed.image)
        data = damage_array(seed.x, damage)
        inp = case.write("x.npy", data)
        case.check(["sim", case.path("img"), "-i", inp, "-o", case.path("y.npy"), "-q"], ["y.npy"],
                   _outputs_of(case, data))


@fuzz("input array -> report")
@given(damage=array_damage(GOOD_SHAPE))
def test_bad_input_report(seed, root, damage):
    with Case(root, "input array -> report") as case:
        write_folder(case.path("img"), seed.image)
        inp = case.write("x.npy", damage_array(seed.x, damage))
        case.check(["report", case.path("img"), "-i", inp, "-o", case.path("rep"), "-q"], ["rep"],
                   report_ok(case.path("rep")))


@fuzz("calibration array -> compile")
@given(damage=array_damage(GOOD_SHAPE))
def test_bad_calibration_compile(seed, root, damage):
    with Case(root, "calibration array -> compile") as case:
        model = case.write("model.onnx", seed.model)
        calib = case.write("calib.npy", damage_array(seed.x, damage))
        case.check(["compile", model, "--calib", calib, "-o", case.path("img"), "-q"], ["img"],
                   image_ok(case.path("img")))


@fuzz("calibration and labels -> tune")
@given(which=st.sampled_from(("calib", "labels")), damage=array_damage(GOOD_SHAPE),
       label_damage=array_damage((3,)))
def test_bad_tune_arrays(seed, root, which, damage, label_damage):
    with Case(root, "calibration and labels -> tune") as case:
        model = case.write("model.onnx", seed.model)
        calib = damage_array(seed.x, damage) if which == "calib" else npy_bytes(seed.x)
        labels = damage_array(seed.labels, label_damage) if which == "labels" else npy_bytes(seed.labels)
        args = ["tune", model, "--calib", case.write("x.npy", calib), "--labels", case.write("l.npy", labels),
                "-o", case.path("s.yaml"), "-q"]
        case.check(args, ["s.yaml"], config_ok(case.path("s.yaml")))


@fuzz("calibration array -> quantize")
@given(damage=array_damage(GOOD_SHAPE))
def test_bad_calibration_quantize(seed, root, damage):
    with Case(root, "calibration array -> quantize") as case:
        model = case.write("float.onnx", seed.float_model)
        calib = case.write("x.npy", damage_array(seed.x, damage))
        case.check(["quantize", model, "--calib", calib, "-o", case.path("q.onnx")], ["q.onnx"],
                   onnx_ok(case.path("q.onnx")))


# ---- output folders that hold the user's files -----------------------------------------------------

FILE_NAMES = st.text(st.sampled_from("abcxyzABC019._-"), min_size=1, max_size=10).filter(lambda n: n not in (".", ".."))
FOREIGN = st.dictionaries(st.one_of(FILE_NAMES, st.just("manifest.json"), st.just("cores/x00_y01.npz")),
                          st.binary(max_size=64), min_size=1, max_size=4)


def _foreign_folder(case, files: dict) -> str:
    for name, data in files.items():
        case.write(f"out/{name}", data)
    return "out"


def _refused():
    raise AssertionError("a folder of the user's files was replaced")


@fuzz("foreign output folder -> compile")
@given(files=FOREIGN, where=st.sampled_from(("folder", "input folder")))
def test_foreign_output_folder_compile(seed, root, files, where):
    """A folder that holds files not written by sdannc (a manifest.json of random bytes included), or
    the folder that holds the model, is refused and kept as it was (--force is not given)."""
    with Case(root, "foreign output folder -> compile") as case:
        out = case.path(_foreign_folder(case, files))
        model = case.write("out/model.onnx" if where == "input folder" else "model.onnx", seed.model)
        case.check(["compile", model, "-o", out, "-q"], [], _refused)


@fuzz("foreign output folder -> report")
@given(files=FOREIGN)
def test_foreign_output_folder_report(seed, root, files):
    with Case(root, "foreign output folder -> report") as case:
        out = case.path(_foreign_folder(case, files))
        write_folder(case.path("img"), seed.image)
        x = case.write("x.npy", npy_bytes(seed.x))
        case.check(["report", case.path("img"), "--input", x, "-o", out, "-q"], [], _refused)


# ---- the count ------------------------------------------------------------------------------------


def test_cases_thrown():
    """Last in the module: every category ran all its cases (run the whole module, not a part).
    With FUZZ_TABLE=path set, also writes the outcome table of docs/robustness.md there."""
    short = {c: (COUNTS[c], n) for c, n in PLANNED.items() if COUNTS[c] < n}
    assert not short, f"categories that ran fewer cases than planned (ran, planned): {short}"
    assert sum(COUNTS[c] for c in PLANNED) >= MINIMUM
    if os.environ.get("FUZZ_TABLE"):
        rows = [(c, COUNTS[c], OUTCOMES[c, "accepted"], OUTCOMES[c, "refused"]) for c in PLANNED]
        rows.append(("**total**", *(sum(r[i] for r in rows) for i in (1, 2, 3))))
        lines = ["| category | cases | accepted | refused |", "|---|---:|---:|---:|"]
        lines += [f"| {c} | {n} | {a} | {r} |" for c, n, a, r in rows]
        Path(os.environ["FUZZ_TABLE"]).write_text("\n".join(lines) + "\n")
