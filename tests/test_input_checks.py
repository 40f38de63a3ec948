"""Inputs that are not numbers: NaN, +inf, -inf, an empty batch or a single value are refused in one
line by every command that reads a batch (sim, run, report and verify --input; compile, run, verify,
tune and quantize --calib), through the one check fileio.load_batch, with no numpy warning on stderr
and nothing written.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

import models
from cli_checks import assert_ok, assert_user_error, invoke, progress_lines, tree
from sdannc.errors import SdanncError
from sdannc.fileio import load_batch


# ---- load_batch itself -------------------------------------------------------------------------------


def refusal(tmp_path: Path, array: np.ndarray, what: str = "input") -> str:
    path = tmp_path / "x.npy"
    np.save(path, array)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning would fail the test, not just print
        with pytest.raises(SdanncError) as info:
            load_batch(path, what)
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{what} {path}: "), message
    return message


def with_values(values: dict[tuple, float], dtype=np.float32) -> np.ndarray:
    x = np.linspace(0, 1, 4 * 6, dtype=dtype).reshape(4, 6)
    for index, value in values.items():
        x[index] = value
    return x


NOT_FINITE = [
    ({(2, 3): np.nan}, "1 value is not a finite number (1 NaN), the first at index (2, 3)"),
    ({(0, 5): np.inf}, "1 value is not a finite number (1 +inf), the first at index (0, 5)"),
    ({(3, 0): -np.inf}, "1 value is not a finite number (1 -inf), the first at index (3, 0)"),
    ({(3, 5): np.nan, (1, 2): -np.inf, (1, 1): np.inf, (2, 0): np.nan},
     "4 values are not finite numbers (2 NaN, 1 +inf, 1 -inf), the first at index (1, 1)"),
]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("values, expected", NOT_FINITE, ids=["nan", "+inf", "-inf", "mixed"])
def test_values_that_are_not_numbers(tmp_path, values, expected, dtype):
    message = refusal(tmp_path, with_values(values, dtype), "calibration input")
    assert message == f"calibration input {tmp_path / 'x.npy'}: {expected}: replace them before running"


def test_the_first_index_is_in_every_axis(tmp_path):
    x = np.zeros((2, 1, 8, 8), np.float32)
    x[1, 0, 6, 2] = np.nan
    assert "the first at index (1, 0, 6, 2)" in refusal(tmp_path, x)


@pytest.mark.parametrize("shape", [(0,), (0, 64), (0, 1, 8, 8)])
def test_an_empty_batch(tmp_path, shape):
    assert refusal(tmp_path, np.zeros(shape, np.float32)).endswith(
        f": shape {shape}: an empty batch: give at least one sample")


def test_one_value_is_not_a_batch(tmp_path):
    assert "shape (): one value, not a batch" in refusal(tmp_path, np.float32(0.5))


def test_complex_values(tmp_path):
    assert "complex values" in refusal(tmp_path, np.ones((2, 3), np.complex64))


@pytest.mark.parametrize("array", [with_values({}), with_values({}, np.float64).astype(np.uint8),
                                   np.array([[np.finfo(np.float32).max, -np.finfo(np.float32).max]], np.float32)],
                         ids=["float32", "uint8", "float32-extremes"])
def test_a_good_batch_comes_back_unchanged(tmp_path, array):
    path = tmp_path / "x.npy"
    np.save(path, array)
    loaded = load_batch(path)
    assert loaded.dtype == array.dtype and np.array_equal(loaded, array)


def test_what_load_array_refuses_is_refused(tmp_path):
    with pytest.raises(SdanncError, match="not found"):
        load_batch(tmp_path / "none.npy")


# ---- every command that reads a batch ---------------------------------------------------------------


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("inputs")
    model = root / "mlp_q.onnx"
    model.write_bytes(models.quantized("mlp_gemm").read_bytes())
    float_model = root / "mlp.onnx"
    float_model.write_bytes(models.float_model("mlp_gemm").SerializeToString())
    good = models.calib_set(models.float_model("mlp_gemm"), 4)
    np.save(root / "labels.npy", np.arange(4) % 10)
    np.save(root / "good.npy", good)
    assert_ok(invoke("compile", model, "-o", root / "image", "-q"))
    return {"model": model, "float": float_model, "image": root / "image", "labels": root / "labels.npy",
            "good": good, "good_path": root / "good.npy"}


# (command, the words naming the batch, its command line given the batch file and an output folder)
COMMANDS = {
    "sim": ("input", lambda s, x, out: ["sim", s["image"], "--input", x, "--output", out / "y.npy",
                                        "--report", out / "r.json"]),
    "run-golden": ("input", lambda s, x, out: ["run", s["model"], "--input", x, "--output", out / "y.npy"]),
    "run-sim": ("input", lambda s, x, out: ["run", s["model"], "--input", x, "--output", out / "y.npy",
                                            "--engine", "sim"]),
    "report": ("input", lambda s, x, out: ["report", s["image"], "--input", x, "-o", out / "report"]),
    "run-calib": ("calibration input", lambda s, x, out: ["run", s["model"], "--input", s["good_path"],
                                                          "--calib", x, "--output", out / "y.npy"]),
    "verify": ("input", lambda s, x, out: ["verify", s["model"], "--input", x, "-t", "darwin3-wide",
                                           "--json", out / "v.json", "-q"]),
    "verify-calib": ("calibration input", lambda s, x, out: ["verify", s["model"], "--input", s["good_path"],
                                                             "--calib", x, "-t", "darwin3-wide",
                                                             "--json", out / "v.json", "-q"]),
    "compile": ("calibration input", lambda s, x, out: ["compile", s["model"], "--calib", x, "-o", out / "image"]),
    "tune": ("calibration input", lambda s, x, out: ["tune", s["model"], "--calib", x, "--labels", s["labels"],
                                                     "-o", out / "sparsify.yaml"]),
    "quantize": ("calibration data", lambda s, x, out: ["quantize", s["float"], "--calib", x,
                                                        "-o", out / "mlp_q.onnx"]),
}


def _nan(good):
    x = good.copy()
    x[1, 17] = np.nan
    return x, "1 value is not a finite number (1 NaN), the first at index (1, 17)"


def _pos_inf(good):
    x = good.copy()
    x[3, 0] = np.inf
    return x, "1 value is not a finite number (1 +inf), the first at index (3, 0)"


def _neg_inf(good):
    x = good.copy()
    x[0, 63] = -np.inf
    x[2, 5] = np.nan
    return x, "2 values are not finite numbers (1 NaN, 1 -inf), the first at index (0, 63)"


def _empty(good):
    return good[:0], "shape (0, 64): an empty batch"


def _one_value(good):
    return good[0, 0], "shape (): one value, not a batch"


BAD = [_nan, _pos_inf, _neg_inf, _empty, _one_value]


@pytest.mark.parametrize("bad", BAD, ids=[b.__name__.lstrip("_") for b in BAD])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_refuses_the_batch(setup, tmp_path, command, bad):
    what, args = COMMANDS[command]
    x, expected = bad(setup["good"])
    path = tmp_path / "x.npy"
    np.save(path, x)
    out = tmp_path / "out"
    out.mkdir()
    before = tree(tmp_path)
    line = assert_user_error(invoke(*args(setup, path, out)), f"sdannc: error: {what} {path}: {expected}")
    assert "Warning" not in line  # assert_user_error allows no second line, so no numpy warning either
    assert tree(tmp_path) == before  # nothing written


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_command_accepts_the_good_batch(setup, tmp_path, command):
    """The control for the test above: the same command line with the batch the bad ones are made from."""
    _, args = COMMANDS[command]
    path = tmp_path / "x.npy"
    np.save(path, setup["good"])
    out = tmp_path / "out"
    out.mkdir()
    result = invoke(*args(setup, path, out))
    assert_ok(result)
    progress_lines(result, args(setup, path, out)[0])  # stderr holds nothing but progress lines
    assert [p for p in out.iterdir()]  # it wrote its output
