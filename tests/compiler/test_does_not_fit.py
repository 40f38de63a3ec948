"""A network that does not fit the chip: compile fails with one line naming the layer, the resource,
what it needs against the limit, and what to try; nothing is written. Where the capacity estimate
(sdannc/backend/capacity.py) already exceeds the chip, that line is all of stderr; a limit found only
while the tables are built or placed follows the compile's progress lines (stderr is not a terminal).

Each limit is exceeded with a small quantized model on a user target (a YAML file that `extends:
darwin3` and shrinks one resource), so that every case runs in well under a second once its model is
quantized. Where the need can be counted by hand it is (see each model's docstring), and a boundary
case checks that a target with exactly that much of the resource compiles.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import models
from sdannc.cli import main
from sdannc.compiler import compile_model
from sdannc.errors import SdanncError
from sdannc.target import load_target
from cli_checks import assert_user_error, assert_user_error_after_progress

# ---------------------------------------------------------------------------------------- models


def _float_gemm_net(name: str, sizes: tuple[int, ...], pattern: str) -> onnx.ModelProto:
    """Gemm layers fc1, fc2, ... (Relu between them) of sizes[0] -> sizes[1] -> ...

    pattern "alternate": W[o, i] = +1 if (o + i) is even else -1; "ones": every weight +1. Either way
    every weight has magnitude 1.0, so onnxruntime's symmetric int8 quantization makes it +-127.
    """
    nodes, inits = [], []
    h = "input"
    for k, (nin, nout) in enumerate(zip(sizes, sizes[1:]), start=1):
        o, i = np.meshgrid(np.arange(nout), np.arange(nin), indexing="ij")
        w = np.ones((nout, nin), np.float32) if pattern == "ones" else np.where((o + i) % 2 == 0, 1.0, -1.0)
        inits += [numpy_helper.from_array(w.astype(np.float32), f"fc{k}_W"),
                  numpy_helper.from_array(np.full(nout, 0.1, np.float32), f"fc{k}_B")]
        out = f"fc{k}_out"
        nodes.append(helper.make_node("Gemm", [h, f"fc{k}_W", f"fc{k}_B"], [out], name=f"fc{k}", transB=1))
        h = out
        if k < len(sizes) - 1:
            nodes.append(helper.make_node("Relu", [h], [f"relu{k}_out"], name=f"relu{k}"))
            h = f"relu{k}_out"
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", sizes[0]])],
                              [helper.make_tensor_value_info(h, TensorProto.FLOAT, ["N", sizes[-1]])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", models.OPSET)])
    model.ir_version = models.IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model


@functools.lru_cache(maxsize=None)
def gemm_net(sizes: tuple[int, ...], pattern: str = "alternate") -> Path:
    """The quantized (QDQ, per-tensor, uint8) form of _float_gemm_net, once per process."""
    calib = np.random.default_rng(7).uniform(0.0, 1.0, size=(32, sizes[0])).astype(np.float32)
    name = "gemm_" + "_".join(map(str, sizes)) + "_" + pattern
    return models.quantize(_float_gemm_net(name, sizes, pattern), calib)


def int_weights(path: Path, layer: str) -> np.ndarray:
    model = onnx.load(str(path))
    return numpy_helper.to_array(next(t for t in model.graph.initializer if t.name == f"{layer}_W_quantized"))


def with_int_weights(path: Path, out: Path, weights: dict[str, np.ndarray]) -> Path:
    """A copy of a QDQ model with some layers' int8 weight initializers replaced."""
    model = onnx.load(str(path))
    for t in model.graph.initializer:
        layer = t.name.removesuffix("_W_quantized")
        if t.name.endswith("_W_quantized") and layer in weights:
            t.CopyFrom(numpy_helper.from_array(weights[layer].astype(np.int8), t.name))
    onnx.save(model, str(out))
    return out


def user_target(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(f"extends: darwin3\nname: {name}\n{body}")
    load_target(str(path))  # a valid target: the failure under test is the compile's
    return path


# ------------------------------------------------------------------------------------- checking



def assert_does_not_fit(runner, tmp_path: Path, model: Path, target: Path, *fragments: str, late: bool = False) -> str:
    """The library raises SdanncError with every fragment, the CLI says the same on one line, exit 2
    (late: after progress lines; else the only line); neither leaves an output folder (nor anything
    else) behind."""
    work = tmp_path / "work"
    work.mkdir()
    out = work / "out"
    with pytest.raises(SdanncError) as info:
        compile_model(model, str(target), out)
    message = str(info.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)
    assert not out.exists()
    result = runner.invoke(main, ["compile", str(model), "-t", str(target), "-o", str(out)])
    if late:
        line = assert_user_error_after_progress(result, "compile", *fragments)
        assert result.stderr.startswith("sdannc: compile: read and lowered ")
    else:
        line = assert_user_error(result, *fragments)
    assert line == f"sdannc: error: {message}"
    assert result.stdout == ""
    assert not out.exists()
    assert list(work.iterdir()) == []  # no staging folder left either
    return message


def assert_fits(model: Path, target: Path, out: Path) -> dict:
    report = compile_model(model, str(target), out)
    assert (out / "manifest.json").is_file()
    return report


# ------------------------------------------------------------------------------------ the limits


def test_more_cores_than_the_chip_has(runner, tmp_path):
    """cnn_pool is 5 layers of at most 256 neurons: one core each, 5 cores; a 2 x 2 mesh has 3. The
    capacity estimate says so before any table is built."""
    model = models.quantized("cnn_pool")
    small = user_target(tmp_path, "mesh2x2", "mesh:\n  width: 2\n  height: 2\n")
    message = assert_does_not_fit(runner, tmp_path, model, small, "needs at least 5 cores", "has 3")
    assert re.search(r"use fewer channels|smaller input", message)
    # exactly as many cores as needed: a 3 x 2 mesh (5 cores besides the controller) takes it
    exact = user_target(tmp_path, "mesh3x2", "mesh:\n  width: 3\n  height: 2\n")
    report = assert_fits(model, exact, tmp_path / "fits")
    assert report["cores_used"] == report["cores_available"] == 5


def test_table_beyond_dendrite_memory_even_for_one_neuron(runner, tmp_path):
    """One neuron of a dense 20 -> 1 layer: 20 dendrite headers (one per input, 1 word each), one id
    list [0] (1 word) shared by all, and the weight lists [127] and [-127] (1 word each, identical lists
    stored once): 23 words. A core of 22 words cannot hold it, one of 23 can."""
    model = gemm_net((20, 1))
    assert set(np.unique(int_weights(model, "fc1")).tolist()) == {-127, 127}
    tiny = user_target(tmp_path, "dend22", "core:\n  dendrite_memory_words:\n    big: 22\n    little: 16\n")
    message = assert_does_not_fit(runner, tmp_path, model, tiny, "layer fc1", "dendrite memory", "need 23 words",
                                  "has 22", late=True)
    assert "fewer input channels" in message
    exact = user_target(tmp_path, "dend23", "core:\n  dendrite_memory_words:\n    big: 23\n    little: 16\n")
    report = assert_fits(model, exact, tmp_path / "fits")
    assert report["layers"][0]["dendrite_words"] == 23


def test_fan_in_beyond_the_dendrite_adder(runner, tmp_path):
    """All weights 127: one tick's dendrite sum reaches 127 x fan-in; a 16-bit adder holds 32767, so a
    fan-in of 258 (32766) fits and 259 (32893) does not."""
    target = user_target(tmp_path, "adder16", "arith:\n  dendrite_sum_bits: 16\n  register_bits: 16\n")
    too_wide = gemm_net((259, 2), "ones")
    assert (int_weights(too_wide, "fc1") == 127).all()
    message = assert_does_not_fit(runner, tmp_path, too_wide, target, "layer fc1", "fan-in too large",
                                  str(127 * 259), "32767")
    assert "fewer input channels" in message or "wider adder" in message
    assert_fits(too_wide, "darwin3", tmp_path / "fits_24bit")  # the stock 24-bit adder takes it
    assert_fits(gemm_net((258, 2), "ones"), target, tmp_path / "fits_258")


def test_route_over_the_hop_limit(runner, tmp_path):
    """8 neurons per core: fc1 (32 neurons) takes 4 cores, all feeding fc2's single core. On a mesh one
    core high, at most two cores lie within 1 hop of fc2's core, so some route needs 2 or more."""
    model = gemm_net((16, 32, 8))
    body = "mesh:\n  width: 12\n  height: 1\n  max_hops_per_axis: {}\ncore:\n  neurons: 8\n"
    near = user_target(tmp_path, "hops1", body.format(1))
    message = assert_does_not_fit(runner, tmp_path, model, near, "layer fc1 -> layer fc2", "hops", "at most 1 per axis",
                                  late=True)
    match = re.search(r"from core \((\d+), (\d+)\) to \((\d+), (\d+)\) needs (\d+) \+ (\d+) hops", message)
    assert match, message
    x0, y0, x1, y1, dx, dy = map(int, match.groups())
    assert (abs(x1 - x0), abs(y1 - y0)) == (dx, dy) and max(dx, dy) > 1
    report = assert_fits(model, user_target(tmp_path, "hops15", body.format(15)), tmp_path / "fits")
    assert [r["cores"] for r in report["layers"]] == [4, 1]
    assert report["hops_worst"] > 1


def test_axon_list_beyond_axon_memory(runner, tmp_path):
    """8 neurons per core: fc2 (64 neurons, the output) takes 8 cores of 8 pointers (8 words, no
    targets), and every fc1 neuron feeds one dendrite in each of them: its axon list is 1 pointer + 8
    entries = 9 words, more than a core of 8 words holds even with fc1 split down to one neuron per
    core. With 9 words each fc1 neuron gets a core of its own: 32 cores of 9 words."""
    model = gemm_net((16, 32, 64))
    body = "core:\n  neurons: 8\n  axon_memory_words: {}\n"
    small = user_target(tmp_path, "axon8", body.format(8))
    message = assert_does_not_fit(runner, tmp_path, model, small, "layer fc1", "axon", "needs 9 words", late=True)
    assert re.search(r"\b8\b", message.split("needs 9 words", 1)[1]), message  # the limit
    assert "fewer channels" in message
    if load_target("darwin3-wide").core["axon_memory_words"] <= load_target("darwin3").core["axon_memory_words"]:
        assert "wide target" not in message  # it would not help
    report = assert_fits(model, user_target(tmp_path, "axon9", body.format(9)), tmp_path / "fits")
    fc1, fc2 = report["layers"]
    assert (fc1["layer"], fc1["cores"], fc1["axon_words"]) == ("fc1", 32, 32 * 9)
    assert (fc2["layer"], fc2["cores"], fc2["axon_words"]) == ("fc2", 8, 64)


def test_weights_wider_than_the_target_weights(runner, tmp_path):
    model = gemm_net((16, 32, 8))
    four = user_target(tmp_path, "w4", "arith:\n  weight_bits: 4\n")
    message = assert_does_not_fit(runner, tmp_path, model, four, "layer fc1", "-127..127", "-8..7")
    assert "quantize weights to int8" not in message  # int8 weights do not fit 4 bits either
    assert "4-bit" in message and "wider weights" in message


def test_weight_range_boundary(runner, tmp_path):
    """The same net with its int8 weights replaced by values in -8..7 compiles on 4-bit weights; one
    weight of 8 in fc2 is refused, naming fc2 and its span."""
    model = gemm_net((16, 32, 8))
    four = user_target(tmp_path, "w4", "arith:\n  weight_bits: 4\n")
    rng = np.random.default_rng(3)
    w1, w2 = (rng.integers(-8, 8, size=int_weights(model, n).shape) for n in ("fc1", "fc2"))
    w1.flat[:2], w2.flat[:2] = (-8, 7), (-8, 7)
    fits = with_int_weights(model, tmp_path / "w_fits.onnx", {"fc1": w1, "fc2": w2})
    assert_fits(fits, four, tmp_path / "fits")
    w2 = w2.copy()
    w2.flat[5] = 8
    over = with_int_weights(model, tmp_path / "w_over.onnx", {"fc1": w1, "fc2": w2})
    assert_does_not_fit(runner, tmp_path, over, four, "layer fc2", "-8..8", "-8..7")


def test_row_wider_than_a_core(runner, tmp_path):
    """A core holds whole rows: cnn_pool's conv1 output rows are 8 neurons wide, a core of 7 holds
    none (found by the fuzzer: it was a ValueError from the partitioner; the capacity estimate refuses
    it before any table is built); 8 fits."""
    model = models.quantized("cnn_pool")
    assert_does_not_fit(runner, tmp_path, model, user_target(tmp_path, "narrow", "core:\n  neurons: 7\n"),
                        "layer conv1: its output [4, 8, 8] has rows of 8 neurons, a core holds 7 and a row is "
                        "never split")
    assert_fits(model, user_target(tmp_path, "eight", "core:\n  neurons: 8\n"),
                tmp_path / "fits")
