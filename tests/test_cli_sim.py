"""`sdannc sim` end to end: outputs equal the numpy reference, the report's counts equal independent
counts, and every bad input is one line on stderr, exit code 2, and no output file.

The independent counts follow the STEM neuron program (isa/programs/stem_neuron.s) and the schedule
in docs/image-format.md, not the simulator: every layer's neurons compute a new output code at ticks
8j + 7 (j = 0, 1, ...) and emit its 8 bits, MSB first, at ticks 8j + 7 .. 8j + 14. Computation j of
layer 1 reads input sample j; computation j of layer k + 1 reads computation j - 1 of layer k (spikes
arrive one tick after they are fired). Input spikes reach their dendrites in the tick they are injected.
A dendrite event (a spike arriving at a dendrite) costs one synaptic operation per id in its list: for
the dense chain that is the next layer's width. Before the first sample and after the last, the
neurons keep running on zero input, so layers whose idle output is not zero keep firing: those spikes
are real chip activity and are counted too.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from sdannc.cli import main
from handbuilt import StemLayer, dense_reference, dense_stem_network, random_stem_layer
from sdannc.image import read_image, write_image
from sdannc.isa import read_template
from sdannc.resources import data_dir
from sdannc.target import load_target
from cli_checks import assert_user_error, assert_ok, progress_lines

BITS = 8


def popcount(codes) -> int:
    codes = np.asarray(codes, dtype=np.int64).ravel()
    return int(sum(bin(int(c)).count("1") for c in codes))


def bits_fired_before(code: np.ndarray, first_tick: int, last_tick: int) -> int:
    """Spikes of codes whose MSB fires at first_tick, counting only bits fired at or before last_tick."""
    count = 0
    for b in range(BITS):
        if first_tick + b <= last_tick:
            count += int(((np.asarray(code, dtype=np.int64) >> (BITS - 1 - b)) & 1).sum())
    return count


def pipeline_counts(layers: list[StemLayer], x: np.ndarray, ticks: int) -> dict:
    """Synaptic operations and neuron spikes of a dense STEM chain run for `ticks` ticks."""
    n_computations = (ticks - 1 - 7) // BITS + 1  # computations happen at ticks 8j + 7 < ticks
    fan_in = layers[0].weights.shape[0]
    inputs = [x[j].astype(np.int64) if j < len(x) else np.zeros(fan_in, np.int64) for j in range(n_computations)]
    sops = popcount(x) * layers[0].weights.shape[1]
    spikes = 0
    for k, layer in enumerate(layers):
        outputs = [layer.reference(v) for v in inputs]
        # Everything fired before the end counts as a spike; what fires in the last tick is never delivered.
        spikes += sum(bits_fired_before(out, BITS * j + 7, ticks - 1) for j, out in enumerate(outputs))
        if k + 1 < len(layers):
            delivered = sum(bits_fired_before(out, BITS * j + 7, ticks - 2) for j, out in enumerate(outputs))
            sops += delivered * layers[k + 1].weights.shape[1]
            width = layer.weights.shape[1]
            inputs = [np.zeros(width, np.int64)] + outputs[:-1]
    return {"sops": sops, "spikes": spikes}


def run_sim(runner, *args):
    return runner.invoke(main, ["sim", *map(str, args)])



def sim_files(tmp_path: Path, x: np.ndarray) -> tuple[Path, Path, Path]:
    xp, yp, rp = tmp_path / "x.npy", tmp_path / "y.npy", tmp_path / "report.json"
    np.save(xp, x)
    return xp, yp, rp


# ---- a good run ----------------------------------------------------------------------------------


def test_sim_outputs_and_report(runner, small_image, tmp_path):
    xp, yp, rp = sim_files(tmp_path, small_image.x)
    result = run_sim(runner, small_image.path, "--input", xp, "--output", yp, "--report", rp)
    assert_ok(result)
    progress = progress_lines(result, "sim")  # CliRunner's stderr is not a terminal
    assert f"outputs written to {yp}, report to {rp}" in result.stdout

    y = np.load(yp)
    expected = dense_reference(small_image.layers, small_image.x)
    assert y.dtype == np.uint8 and y.shape == (4, 5)
    assert np.array_equal(y, expected)

    report = json.loads(rp.read_text())
    batch = len(small_image.x)
    schedule = read_image(small_image.path).schedule
    assert report["samples"] == batch
    assert report["ticks"] == schedule.ticks_for(batch)
    # docs: sample s's last output bit fires at s * sample_interval + output_offset + bits - 1
    assert report["ticks"] == (batch - 1) * schedule.sample_interval + schedule.output_offset + schedule.bits
    assert progress[-1] == f"sdannc: sim: 100% ({report['ticks']}/{report['ticks']} ticks)"
    assert report["spikes"]["inputs"] == popcount(small_image.x)

    counts = pipeline_counts(small_image.layers, small_image.x, report["ticks"])
    assert report["synaptic_ops"]["total"] == counts["sops"]
    assert report["spikes"]["neurons"] == counts["spikes"]
    assert report["spikes"]["total"] == counts["spikes"] + popcount(small_image.x)
    # Every layer-1 core sees every input spike, once per neuron it holds (5, 5 and 2 neurons).
    per_core = report["synaptic_ops"]["per_core"]
    first = popcount(small_image.x)
    assert [per_core[c] for c in ("x01_y00", "x02_y00", "x03_y00")] == [5 * first, 5 * first, 2 * first]
    assert sum(per_core.values()) == report["synaptic_ops"]["total"]


def test_sop_count_is_popcounts_times_widths_when_idle_layers_are_silent(runner, tmp_path):
    """With zero points 0 and biases <= 0 a layer's idle output is 0: only the samples' spikes exist, and
    the synaptic operations are popcount(input) x width(1) + sum over layers of popcount(activations) x
    width(next)."""
    rng = np.random.default_rng(99)
    layers = [random_stem_layer(rng, 16, 9), random_stem_layer(rng, 9, 7), random_stem_layer(rng, 7, 3)]
    for layer in layers:
        layer.weights = np.abs(layer.weights) - 1  # mostly positive, so that later layers are not all zero
        layer.bias = -np.abs(layer.bias) // 4
        layer.zero_point = 0
        assert not layer.reference(np.zeros(layer.weights.shape[0], np.int64)).any()
    image_dir = tmp_path / "img"
    write_image(dense_stem_network(load_target("darwin3"), layers, per_core=4), image_dir)
    x = rng.integers(0, 256, size=(5, 16)).astype(np.uint8)
    xp, yp, rp = sim_files(tmp_path, x)
    assert_ok(run_sim(runner, image_dir, "-i", xp, "-o", yp, "-r", rp, "-q"))

    assert np.array_equal(np.load(yp), dense_reference(layers, x))
    activations = [x]
    for layer in layers:
        activations.append(layer.reference(activations[-1]))
    assert all(popcount(a) > 0 for a in activations)  # every term below is exercised
    expected = sum(popcount(activations[k]) * layers[k].weights.shape[1] for k in range(len(layers)))
    report = json.loads(rp.read_text())
    assert report["synaptic_ops"]["total"] == expected
    assert report["spikes"]["neurons"] == sum(popcount(a) for a in activations[1:])


def test_three_layer_pipeline_counts(runner, tmp_path):
    """Idle activity in a deeper chain: layer 2 fires before the first sample reaches it, and so on."""
    rng = np.random.default_rng(5)
    layers = [random_stem_layer(rng, 12, 6), random_stem_layer(rng, 6, 6), random_stem_layer(rng, 6, 4)]
    for layer in layers:
        layer.bias = np.abs(layer.bias)  # idle outputs are not zero
    assert all(layer.reference(np.zeros(layer.weights.shape[0], np.int64)).any() for layer in layers)
    image_dir = tmp_path / "img"
    write_image(dense_stem_network(load_target("darwin3"), layers, per_core=6), image_dir)
    x = rng.integers(0, 256, size=(3, 12)).astype(np.uint8)
    xp, yp, rp = sim_files(tmp_path, x)
    assert_ok(run_sim(runner, image_dir, "-i", xp, "-o", yp, "-r", rp, "-q"))
    assert np.array_equal(np.load(yp), dense_reference(layers, x))
    report = json.loads(rp.read_text())
    counts = pipeline_counts(layers, x, report["ticks"])
    assert report["synaptic_ops"]["total"] == counts["sops"]
    assert report["spikes"]["neurons"] == counts["spikes"]


@pytest.mark.parametrize("lanes", [2, 3, 4])
def test_lanes_do_not_change_outputs(runner, small_image, tmp_path, lanes):
    xp, y1, _ = sim_files(tmp_path, small_image.x)
    yn = tmp_path / f"y{lanes}.npy"
    assert_ok(run_sim(runner, small_image.path, "-i", xp, "-o", y1, "-q"))
    result = run_sim(runner, small_image.path, "-i", xp, "-o", yn, "--lanes", lanes, "-q")
    assert_ok(result)
    assert result.stdout == ""  # --quiet
    assert np.array_equal(np.load(yn), np.load(y1))
    assert np.array_equal(np.load(yn), dense_reference(small_image.layers, small_image.x))


def test_target_given_as_matching_user_file(runner, small_image, tmp_path):
    user = tmp_path / "mine.yaml"
    shutil.copy(data_dir("targets") / "darwin3.yaml", user)
    xp, yp, _ = sim_files(tmp_path, small_image.x)
    assert_ok(run_sim(runner, small_image.path, "-i", xp, "-o", yp, "-t", user, "-q"))
    assert_ok(run_sim(runner, small_image.path, "-i", xp, "-o", yp, "-t", "darwin3", "-q"))
    assert np.array_equal(np.load(yp), dense_reference(small_image.layers, small_image.x))


def test_single_sample(runner, small_image, tmp_path):
    xp, yp, rp = sim_files(tmp_path, small_image.x[2:3])
    assert_ok(run_sim(runner, small_image.path, "-i", xp, "-o", yp, "-r", rp, "-q"))
    assert np.array_equal(np.load(yp), dense_reference(small_image.layers, small_image.x[2:3]))
    report = json.loads(rp.read_text())
    assert report["ticks"] == 2 * BITS - 1 + BITS  # two layers: output MSB at tick 15, 8 bits
    assert report["synaptic_ops"]["total"] == pipeline_counts(small_image.layers, small_image.x[2:3], 23)["sops"]


# ---- bad input: one line, exit code 2, nothing written --------------------------------------------



def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _wrong_shape(ctx):
    np.save(ctx["x"], ctx["good"][:, :19])
    return ["shape (4, 19)", "(batch, 20)"]


def _batch_axis_missing(ctx):
    np.save(ctx["x"], ctx["good"][0])
    return ["shape (20,)"]


def _scalar_input(ctx):
    np.save(ctx["x"], np.uint8(7))
    return ["shape ()"]


def _float_input(ctx):
    np.save(ctx["x"], ctx["good"].astype(np.float32))
    return ["dtype float32", "uint8"]


def _int8_input(ctx):
    np.save(ctx["x"], ctx["good"].astype(np.int8))
    return ["dtype int8", "uint8"]


def _empty_batch(ctx):
    np.save(ctx["x"], ctx["good"][:0])
    return [str(ctx["x"]), "shape (0, 20)", "empty batch"]


def _missing_input(ctx):
    ctx["x"].unlink()
    return [str(ctx["x"]), "not found"]


def _text_input(ctx):
    ctx["x"].write_text("1,2,3\n4,5,6\n")
    return [str(ctx["x"]), "not a .npy file", "numpy.save"]


def _npz_input(ctx):
    with open(ctx["x"], "wb") as handle:  # an archive under a .npy name
        np.savez(handle, x=ctx["good"])
    return [str(ctx["x"]), ".npz"]


def _object_input(ctx):
    np.save(ctx["x"], np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return [str(ctx["x"]), "not a readable .npy"]


def _missing_image(ctx):
    shutil.rmtree(ctx["image"])
    return [str(ctx["image"]), "not found"]


def _corrupted_image(ctx):
    flip_byte(ctx["image"] / "cores" / "x03_y00.npz")
    return [str(ctx["image"]), "cores/x03_y00.npz", "checksum mismatch"]


def _unknown_target(ctx):
    ctx["args"] += ["-t", "nosuch"]
    return ["unknown target 'nosuch'", "darwin3", "darwin3-wide"]


def _other_target(ctx):
    ctx["args"] += ["-t", "darwin3-wide"]
    return [str(ctx["image"]), "built for target 'darwin3'", "'darwin3-wide'"]


def _edited_user_target(ctx):
    text = (data_dir("targets") / "darwin3.yaml").read_text().replace("clock_mhz: 333", "clock_mhz: 400")
    path = ctx["tmp"] / "mine.yaml"
    path.write_text(text)
    ctx["args"] += ["-t", str(path)]
    return ["built for target"]


def _broken_user_target(ctx):
    path = ctx["tmp"] / "broken.yaml"
    path.write_text("name: [unclosed\n")
    ctx["args"] += ["-t", str(path)]
    return [str(path), "malformed YAML"]


def _output_under_a_file(ctx):
    (ctx["tmp"] / "afile").write_text("")
    ctx["y"] = ctx["tmp"] / "afile" / "y.npy"
    return ["afile", "cannot write"]


BAD = [_wrong_shape, _batch_axis_missing, _scalar_input, _empty_batch, _float_input, _int8_input, _missing_input, _text_input,
       _npz_input, _object_input, _missing_image, _corrupted_image, _unknown_target, _other_target,
       _edited_user_target, _broken_user_target, _output_under_a_file]


@pytest.mark.parametrize("damage", BAD, ids=[d.__name__.lstrip("_") for d in BAD])
def test_bad_input_is_one_line_and_writes_nothing(runner, small_image, tmp_path, damage):
    work = tmp_path / "work"
    work.mkdir()
    ctx = {"tmp": work, "image": small_image.path, "x": work / "x.npy", "y": work / "y.npy",
           "r": work / "report.json", "good": small_image.x, "args": []}
    np.save(ctx["x"], small_image.x)
    fragments = damage(ctx)
    before = sorted(p.name for p in work.iterdir())
    result = run_sim(runner, ctx["image"], "--input", ctx["x"], "--output", ctx["y"], "--report", ctx["r"],
                     *ctx["args"])
    assert_user_error(result, *fragments)
    assert not ctx["y"].exists() and not ctx["r"].exists()
    assert sorted(p.name for p in work.iterdir()) == before  # no temporary files left either
    assert result.stdout == ""


def test_same_arguments_without_the_damage_succeed(runner, small_image, tmp_path):
    """The control for the test above: the same command line, undamaged, exits 0 and writes both files."""
    xp, yp, rp = sim_files(tmp_path, small_image.x)
    assert_ok(run_sim(runner, small_image.path, "--input", xp, "--output", yp, "--report", rp))
    assert yp.is_file() and rp.is_file()


def test_failed_run_keeps_an_existing_output(runner, small_image, tmp_path):
    xp, yp, _ = sim_files(tmp_path, small_image.x)
    yp.write_bytes(b"previous results")
    np.save(tmp_path / "bad.npy", small_image.x.astype(np.float32))
    assert_user_error(run_sim(runner, small_image.path, "-i", tmp_path / "bad.npy", "-o", yp))
    assert yp.read_bytes() == b"previous results"


def test_unwritable_report_writes_no_outputs(runner, small_image, tmp_path):
    xp, yp, _ = sim_files(tmp_path, small_image.x)
    (tmp_path / "afile").write_text("")
    assert_user_error(run_sim(runner, small_image.path, "-i", xp, "-o", yp, "-r", tmp_path / "afile" / "r.json"),
                      "cannot write")
    assert not yp.exists()


# ---- disasm of a core file --------------------------------------------------------------------------


def source_mnemonics(path: Path) -> list[str]:
    """The mnemonics of a reference program, read from its text (a template as it stands)."""
    out = []
    for line in read_template(path).source().splitlines():
        if line.startswith((".state", ".config")):
            continue
        code = line.split(";")[0].strip()
        code = re.sub(r"^\w+:\s*", "", code)  # a label
        if code:
            out.append(code.split()[0].upper())
    return out


def test_disasm_core_file(runner, small_image):
    core_file = small_image.path / "cores" / "x02_y00.npz"
    result = runner.invoke(main, ["disasm", str(core_file)])
    assert result.exit_code == 0, (result.stderr, result.exception)
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    assert lines[-1] == "END"
    instructions = [line.split()[0] for line in lines if not line.endswith(":")]
    expected = source_mnemonics(data_dir("isa") / "programs" / "stem_neuron.s")
    assert instructions == expected
    with np.load(core_file) as archive:
        assert len(instructions) == archive["program"].size


def test_disasm_missing_core_file(runner, small_image):
    result = runner.invoke(main, ["disasm", str(small_image.path / "cores" / "x09_y09.npz")])
    assert_user_error(result, "x09_y09.npz")



def test_outputs_are_checked_before_the_run_and_nothing_is_created(tmp_path):
    """sim and tune check their output paths first (a long run would be lost at the end); the check
    itself creates nothing, not even the folders save_all would make."""
    from sdannc.errors import SdanncError
    from sdannc.fileio import check_writable

    (tmp_path / "afile").write_text("")
    (tmp_path / "taken").mkdir()
    for path, why in [(tmp_path / "afile" / "y.npy", f"{tmp_path / 'afile'} is a file, not a folder"),
                      (tmp_path / "afile" / "deeper" / "y.npy", f"{tmp_path / 'afile'} is a file, not a folder"),
                      (tmp_path / "taken", "it is a folder")]:
        with pytest.raises(SdanncError, match=re.escape(f"{path}: cannot write ({why}")):
            check_writable(path)
    check_writable(tmp_path / "new" / "deeper" / "y.npy")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "taken"]
