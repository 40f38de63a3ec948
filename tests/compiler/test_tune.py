"""`sdannc tune`: the search's contract, its evaluator against the full compile path, and the CLI."""

from __future__ import annotations

import re

import numpy as np
import pytest
from click.testing import CliRunner

import models
from cli_checks import assert_user_error, progress_lines
from sdannc.activity import golden_activity
from sdannc.backend import build_layers
from sdannc.backend.synapses import synapse_counts
from sdannc.cli import main
from sdannc.compiler import lower
from sdannc.config import load_config
from sdannc.golden.interpreter import run_codes
from sdannc.ir.codec import encode_input
from sdannc.sparsify import Plan, Setting
from sdannc.target import load_target
from sdannc.tuning import Evaluator, search

MODEL = "cnn_pool"


@pytest.fixture(scope="module")
def data():
    target = load_target("darwin3")
    graph = lower(models.quantized(MODEL), target, plan=Plan(integration="weighted"))  # as sdannc tune lowers
    layers = build_layers(graph, target)
    synapses = synapse_counts(graph, layers)
    x = models.eval_set(models.float_model(MODEL), 40)
    labels = models.ort_run(models.float_model(MODEL), x).argmax(1)  # the float model's classes
    return target, graph, synapses, x, labels


def test_evaluator_equals_compiling_with_the_plan(data):
    target, graph, synapses, x, labels = data
    settings = {"conv1": Setting(rot=2), "conv2": Setting(drlo=1, rot=1)}
    point = Evaluator(graph, x, labels, target.arith, synapses).evaluate(settings)
    full = lower(models.quantized(MODEL), target, plan=Plan(layers=settings, integration="weighted"))
    codes = run_codes(full, encode_input(x, full.input_encode).reshape(x.shape), target.arith, keep=True)
    sops = sum(a.sops for a in golden_activity(full, codes, synapses).values())
    assert point.sops * len(x) == sops
    out = codes[full.output].reshape(len(x), -1)
    assert point.accuracy == pytest.approx(100 * np.mean(out.argmax(1) == labels))


@pytest.mark.parametrize("max_drop", [0.0, 5.0])
def test_search_keeps_its_limit_and_its_pareto_front_is_undominated(data, max_drop):
    target, graph, synapses, x, labels = data
    evaluator = Evaluator(graph, x, labels, target.arith, synapses)
    result = search(evaluator, ["conv1", "conv2", "avgpool"], max_drop)
    assert result.baseline.accuracy - result.chosen.accuracy <= max_drop + 1e-9
    assert result.chosen.sops <= result.baseline.sops
    again = evaluator.evaluate(result.chosen.settings)
    assert (again.accuracy, again.sops) == (result.chosen.accuracy, result.chosen.sops)
    front = result.pareto()
    for p in front:
        assert not any(q.sops <= p.sops and q.accuracy > p.accuracy for q in result.points)
    assert [p.sops for p in front] == sorted(p.sops for p in front)
    if max_drop == 5.0:
        assert result.chosen.sops < result.baseline.sops  # a loose limit buys something


def test_cli_writes_a_config_that_compiles(tmp_path, data):
    _, _, _, x, labels = data
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", labels)
    out = tmp_path / "sparsify.yaml"
    result = CliRunner().invoke(main, ["tune", str(models.quantized(MODEL)), "--calib", str(tmp_path / "x.npy"),
                                       "--labels", str(tmp_path / "y.npy"), "--max-drop", "3", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "SOPs/sample" in result.output and "(baseline)" in result.output and "chosen:" in result.output
    progress = progress_lines(result, "tune")  # a line per tenth of the configurations, the last at 100%
    assert 1 <= len(progress) <= 10
    assert re.fullmatch(r"sdannc: tune: 100% \((\d+)/\1 configurations\)", progress[-1]), progress
    plan = load_config(out)
    assert plan.layers and all(s.active for s in plan.layers.values())
    compiled = CliRunner().invoke(main, ["compile", str(models.quantized(MODEL)), "-o", str(tmp_path / "b"),
                                         "--config", str(out)])
    assert compiled.exit_code == 0, compiled.output


@pytest.mark.parametrize("labels, args, fragment", [
    (np.zeros(3, dtype=np.int64), [], "3 labels for 40 calibration samples"),
    (np.zeros(40, dtype=np.float32), [], "expected one integer class per sample"),
    (np.zeros(40, dtype=np.int64), ["--max-drop", "-1"], "--max-drop -1.0: must not be negative"),
])
def test_cli_errors_are_one_line_and_write_nothing(tmp_path, data, labels, args, fragment):
    _, _, _, x, _ = data
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", labels)
    out = tmp_path / "sparsify.yaml"
    result = CliRunner().invoke(main, ["tune", str(models.quantized(MODEL)), "--calib", str(tmp_path / "x.npy"),
                                       "--labels", str(tmp_path / "y.npy"), "-o", str(out)] + args)
    assert_user_error(result, fragment)
    assert not out.exists()


def test_an_unwritable_config_is_refused_before_the_search(tmp_path, data):
    _, _, _, x, labels = data
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", labels)
    (tmp_path / "afile").write_text("")
    out = tmp_path / "afile" / "sparsify.yaml"
    result = CliRunner().invoke(main, ["tune", str(models.quantized(MODEL)), "--calib", str(tmp_path / "x.npy"),
                                       "--labels", str(tmp_path / "y.npy"), "-o", str(out)])
    assert_user_error(result, str(out), "cannot write", "afile is a file, not a folder")  # no progress line first
    assert (tmp_path / "afile").read_text() == ""


def test_search_reports_progress_up_to_its_total(data):
    target, graph, synapses, x, labels = data
    calls = []
    search(Evaluator(graph, x[:8], labels[:8], target.arith, synapses), ["conv1"], 1.0,
           progress=lambda done, total: calls.append((done, total)))
    dones = [d for d, _ in calls]
    assert dones == sorted(dones) and calls[-1][0] == calls[-1][1] and len(calls) > 8


def test_a_coding_counts_its_own_spikes_and_stays_in_the_config(tmp_path, data):
    """`--coding rate` on darwin3-wide: the evaluator's SOPs are the rate graph's (a spikes per code,
    far more than STEM's), its settings compiled in that coding give them, and the config keeps it."""
    _, _, _, x, labels = data
    wide = load_target("darwin3-wide")
    settings = {"conv1": Setting(rot=2), "conv2": Setting(drlo=1)}
    sops = {}
    for coding in ("stem", "rate"):
        graph = lower(models.quantized(MODEL), wide, plan=Plan(integration="weighted", coding=coding))
        synapses = synapse_counts(graph, build_layers(graph, wide))
        point = Evaluator(graph, x, labels, wide.arith, synapses).evaluate(settings)
        full = lower(models.quantized(MODEL), wide, plan=Plan(layers=settings, integration="weighted", coding=coding))
        codes = run_codes(full, encode_input(x, full.input_encode).reshape(x.shape), wide.arith, keep=True)
        assert point.sops * len(x) == sum(a.sops for a in golden_activity(full, codes, synapses).values())
        sops[coding] = point.sops
    assert sops["rate"] > 5 * sops["stem"]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", labels)
    out = tmp_path / "rate.yaml"
    result = CliRunner().invoke(main, ["tune", str(models.quantized(MODEL)), "--calib", str(tmp_path / "x.npy"),
                                       "--labels", str(tmp_path / "y.npy"), "--max-drop", "3", "-o", str(out),
                                       "-t", "darwin3-wide", "--coding", "rate", "-q"])
    assert result.exit_code == 0, result.output
    assert load_config(out).coding == "rate" and "--coding rate" in out.read_text()
    compiled = CliRunner().invoke(main, ["compile", str(models.quantized(MODEL)), "-o", str(tmp_path / "b"),
                                         "-t", "darwin3-wide", "--config", str(out)])
    assert compiled.exit_code == 0, compiled.output
