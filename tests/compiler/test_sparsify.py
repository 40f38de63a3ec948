"""Spike sparsification (SDANN 3.3): the RoT / DRLO arithmetic, the config, the pass, and that the
simulator running the sparsified STEM program still equals the golden model, element for element."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

import models
from cli_checks import assert_user_error
from irgraphs import stem_program_node
from sdannc import sparsify
from sdannc.cli import main
from sdannc.compiler import compile_to_image, lower
from sdannc.config import config_text, load_config
from sdannc.errors import SdanncError
from sdannc.golden import run as golden_run
from sdannc.neurons import NEURONS
from sdannc.passes.sparsify import resolve, sparsifiable
from sdannc.sim import Simulator
from sdannc.sparsify import Plan, Setting
from sdannc.target import load_target

CODES = np.arange(256)


def _popcount(a: np.ndarray) -> np.ndarray:
    return np.unpackbits(a.astype(np.uint8)[..., None], axis=-1).sum(-1)


def test_paper_example_83_rounds_to_84_then_drops_to_80():
    # SDANN fig. 10: 1010011 -> RoT 2 -> 1010100 -> DRLO 3 -> 1010000, 4 spikes -> 2
    assert sparsify.apply(np.array([83]), Setting(rot=2), (0, 255))[0] == 84
    out = sparsify.apply(np.array([83]), Setting(rot=2, drlo=3), (0, 255))[0]
    assert out == 80 and _popcount(np.array([83]))[0] == 4 and _popcount(np.array([out]))[0] == 2


@pytest.mark.parametrize("k", range(1, 8))
def test_rot_rounds_to_nearest_multiple_and_never_adds_spikes(k):
    out = sparsify.apply(CODES, Setting(rot=k), (0, 255))
    step = 1 << k
    assert np.all(out % step == 0)
    nearest = np.minimum(np.floor(CODES / step + 0.5) * step, 256 - step)
    np.testing.assert_array_equal(out, nearest)
    assert np.all(_popcount(out) <= _popcount(CODES))


@pytest.mark.parametrize("p", range(1, 8))
def test_drlo_drops_the_bits_below_its_position(p):
    out = sparsify.apply(CODES, Setting(drlo=p), (0, 255))
    np.testing.assert_array_equal(out, CODES >> p << p)


def test_sparsified_codes_stay_inside_the_clamp():
    out = sparsify.apply(CODES.clip(3, 200), Setting(rot=3, drlo=4), (3, 200))
    assert out.min() >= 3 and out.max() <= 200


def test_neutral_setting_changes_nothing():
    np.testing.assert_array_equal(sparsify.apply(CODES, Setting(), (0, 255)), CODES)


@pytest.mark.parametrize("value, fragment", [
    ({"rot": 8}, "rot must be an integer from 0 to 7"),
    ({"rot": "2"}, "rot must be an integer"),
    ({"drlo": -1}, "drlo must be an integer"),
    ({"round": 2}, "expected {rot: K}"),
    ([1], "expected {rot: K}"),
])
def test_bad_settings_are_refused(value, fragment):
    with pytest.raises(SdanncError, match=fragment.replace("{", r"\{").replace("}", r"\}")):
        sparsify.parse_setting(value, "config x.yaml: sparsify.conv1")


def test_default_skips_the_output_layer_and_layers_override_it():
    plan = Plan(Setting(rot=2), {"conv2": Setting(drlo=1)})
    # (with the plan: a sparsified QDQ AveragePool stays a STEM layer, not the float32 pool neuron)
    graph = lower(models.quantized("cnn_pool"), load_target("darwin3"), stop_after="lower-elementwise", plan=plan)
    settings = resolve(plan, graph, "model m")
    assert settings == {"conv1": Setting(rot=2), "conv2": Setting(drlo=1), "avgpool": Setting(rot=2)}
    with pytest.raises(SdanncError, match="no STEM or Add layer of that name; those it has: conv1, conv2, avgpool, fc"):
        resolve(Plan(layers={"maxpool": Setting(rot=1)}), graph, "model m")


def test_config_file_round_trips(tmp_path):
    plan = Plan(Setting(rot=1), {"conv2": Setting(drlo=2), "fc": Setting(rot=3, drlo=4)})
    path = tmp_path / "sparsify.yaml"
    path.write_text(config_text(plan, "written by a test"))
    assert load_config(path) == plan


@pytest.mark.parametrize("text, fragment", [
    ("sparsify: [1]\n", "'sparsify' must be a mapping"),
    ("speed: fast\n", "unknown key 'speed'; known keys: sparsify, tiling"),
    ("sparsify: {conv1: {rot: 9}}\n", "sparsify.conv1: rot must be an integer from 0 to 7"),
    ("sparsify: {a: [\n", "malformed YAML"),
])
def test_bad_config_files_are_one_line_errors(tmp_path, text, fragment):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(SdanncError, match=r"config .*c\.yaml: " + ".*" + fragment.replace("[", r"\[")
                       .replace("{", r"\{").replace("}", r"\}")):
        load_config(path)


def test_sparsified_stem_program_assembles_and_only_grows_when_asked():
    target, stem = load_target("darwin3"), NEURONS["stem"]
    plain = stem.program(stem_program_node(0, 15, [4]), target)
    sparse = stem.program(stem_program_node(0, 15, [4], sparsify=True), target)
    assert len(sparse) == len(plain) + 10
    assert "LOGIC R0, R6, AND" in stem.source(stem_program_node(0, 15, [4], sparsify=True))


PLANS = {
    "rot2": Plan(Setting(rot=2)),
    "drlo3": Plan(Setting(drlo=3)),
    "mixed": None,  # per model: RoT on the first layer, RoT + DRLO on the next, default DRLO 1
}


def _plan(name: str, model: str) -> Plan:
    if PLANS[name] is not None:
        return PLANS[name]
    graph = lower(models.quantized(model), load_target("darwin3"), stop_after="lower-elementwise")
    first, second = sparsifiable(graph)[:2]
    return Plan(Setting(drlo=1), {first: Setting(rot=3), second: Setting(rot=1, drlo=2)})


@pytest.mark.parametrize("target_name", ["darwin3", "darwin3-wide"])
@pytest.mark.parametrize("plan_name", sorted(PLANS))
@pytest.mark.parametrize("model", ["digits_mlp", "cnn_pool", "residual", "concat", "strided_depthwise"])
def test_simulator_equals_golden_with_sparsification(model, plan_name, target_name):
    target = load_target(target_name)
    path = models.quantized(model)
    x = models.eval_set(models.float_model(model), 12)
    graph, image, _ = compile_to_image(path, target, plan=_plan(plan_name, model))
    chip = Simulator(image).run(x)
    np.testing.assert_array_equal(chip.outputs, golden_run(graph, x, target.arith))
    plain_graph, plain_image, _ = compile_to_image(path, target)
    plain = Simulator(plain_image).run(x)
    assert chip.counters.neuron_spikes.sum() < plain.counters.neuron_spikes.sum()
    assert chip.counters.sops.sum() < plain.counters.sops.sum()
    if model == "residual" and plan_name != "mixed":
        assert any("add (" in note for note in graph.notes), graph.notes  # the exact Add neuron too


def test_compile_with_config_names_the_unknown_layer_and_writes_nothing(tmp_path):
    config = tmp_path / "sdannc.yaml"
    config.write_text("sparsify: {conv9: {rot: 1}}\n")
    out = tmp_path / "build"
    result = CliRunner().invoke(main, ["compile", str(models.quantized("cnn_pool")), "-o", str(out),
                                       "--config", str(config)])
    assert_user_error(result, "sparsify names layer 'conv9'", "those it has: conv1, conv2, avgpool, fc")
    assert not out.exists()


def test_compile_with_config_reports_the_sparsified_layers(tmp_path):
    config = tmp_path / "sdannc.yaml"
    config.write_text("sparsify: {default: {rot: 2}}\n")
    result = CliRunner().invoke(main, ["compile", str(models.quantized("cnn_pool")), "-o", str(tmp_path / "b"),
                                       "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert "sparsified: conv1 (rot 2); conv2 (rot 2); avgpool (rot 2)" in result.output


@pytest.mark.parametrize("engine", ["golden", "sim"])
def test_run_with_config_computes_the_sparsified_model(tmp_path, engine):
    config = tmp_path / "sdannc.yaml"
    config.write_text("sparsify: {default: {rot: 3}}\n")
    x = models.eval_set(models.float_model("cnn_pool"), 4)
    np.save(tmp_path / "x.npy", x)
    model = str(models.quantized("cnn_pool"))
    result = CliRunner().invoke(main, ["run", model, "-i", str(tmp_path / "x.npy"), "-o", str(tmp_path / "y.npy"),
                                       "--engine", engine, "--config", str(config)])
    assert result.exit_code == 0, result.output
    target = load_target("darwin3")
    expected = golden_run(lower(models.quantized("cnn_pool"), target, plan=load_config(config)), x, target.arith)
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), expected)
    assert not np.array_equal(expected, golden_run(lower(models.quantized("cnn_pool"), target), x, target.arith))
