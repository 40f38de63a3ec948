"""`sdannc compare` / sdannc.compare_codings: one model in each coding of config.CODINGS. Its
per-layer counts add up to what `sdannc sim` counts for the image compiled in that coding; its
page, JSON and figures exist and every number on the page is the JSON's; a refused coding is
shown as refused with the compiler's message while the others are still measured; the CLI writes
what the API writes; bad input is one line. Parameterized over CODINGS, so every coding the
compiler gains is covered."""

from __future__ import annotations

import html
import json

import numpy as np
import pytest

import models
import sdannc
from cli_checks import assert_ok, assert_user_error, invoke, progress_lines, tree
from sdannc.activity_report.page import fmt
from sdannc.comparison import MEASURED, REFUSED
from sdannc.config import CODINGS, DEFAULT_CODING
from sdannc.errors import SdanncError
from sdannc.fileio import COMPARISON_FORMAT
from test_report import _lookup, _Page

CNN, MLP = "cnn_pool", "mlp_gemm"


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """The CNN's and the MLP's inputs and labels, as files."""
    tmp = tmp_path_factory.mktemp("compare")
    for name, n in ((CNN, 4), (MLP, 5)):
        np.save(tmp / f"{name}_x.npy", models.eval_set(models.float_model(name), n))
        np.save(tmp / f"{name}_y.npy", models.digits_data()[3][:n].astype(np.int64))
    return tmp


@pytest.fixture(scope="module")
def cnn_comparison(data):
    """The CNN compared on darwin3 through the CLI: its folder."""
    out = data / "cnn_cmp"
    result = invoke("compare", models.quantized(CNN), "-i", data / f"{CNN}_x.npy", "--labels", data / f"{CNN}_y.npy",
                    "-o", out)
    assert_ok(result)
    assert result.stdout.splitlines()[-1] == f"comparison written to {out / 'index.html'}"
    progress_lines(result, "compare")
    return out


def _entry(folder, coding: str) -> dict:
    d = json.loads((folder / "comparison.json").read_text())
    return next(r for r in d["results"] if r["coding"] == coding)


def _compile_error(model, target: str, coding: str, config=None) -> str | None:
    try:
        sdannc.compile(model, target, coding=coding, config=config)
    except SdanncError as exc:
        return " ".join(str(exc).split())
    return None


@pytest.mark.parametrize("coding", CODINGS)
def test_per_layer_counts_add_up_to_the_simulators(coding, cnn_comparison, data, tmp_path):
    """Per layer, spikes and SOPs in the samples' windows: their sums are `sdannc sim`'s counters for
    the image compiled in that coding, as integers; the timing is the image's schedule."""
    model, x = models.quantized(CNN), data / f"{CNN}_x.npy"
    entry = _entry(cnn_comparison, coding)
    refusal = _compile_error(model, "darwin3", coding)
    if refusal is not None:
        assert entry == {"coding": coding, "status": REFUSED, "message": refusal}
        return
    assert entry["status"] == MEASURED
    sdannc.compile(model, "darwin3", coding=coding).save(tmp_path / "img")
    assert_ok(invoke("sim", tmp_path / "img", "-i", x, "-o", tmp_path / "y.npy", "-r", tmp_path / "sim.json", "-q"))
    sim = json.loads((tmp_path / "sim.json").read_text())
    layers = entry["layers"]
    assert sum(r["spikes"] for r in layers) == entry["totals"]["spikes"] == sim["spikes"]["in_sample_windows"]
    assert sum(r["sops"] for r in layers) == entry["totals"]["sops"] == sim["synaptic_ops"]["in_sample_windows"]
    assert entry["totals"]["sops"] > 0 and all(r["sops"] > 0 for r in layers if r["cores"])
    for key in ("ticks_per_sample", "ticks_between_samples", "ticks", "cycles"):
        assert entry["timing"][key] == sim[key], key
    e = entry["energy_per_sample_pj"]
    assert e["chip_sops"] == sim["energy"]["per_sample_pj"]
    assert e["chip_simulated"] == sim["energy"]["per_sample_all_pj"]
    assert e["instructions"] * 4 == pytest.approx(sim["instructions"] * e["pj_per_instruction"])
    assert e["noc"] * 4 == pytest.approx(sim["noc"]["flit_hops"] * e["pj_per_flit_hop"])
    assert e["instructions"] > 0 and e["noc"] > 0  # the target's instruction and network terms are not 0
    compiled = json.loads((tmp_path / "img" / "report.json").read_text())
    by_name = {r["layer"]: r for r in compiled["layers"]}
    for r in layers[1:]:
        assert r["energy_per_sample_pj"]["program"] == by_name[r["layer"]]["program_pj_per_sample"]
        assert r["energy_per_sample_pj"]["ann_macs"] == by_name[r["layer"]]["macs"] * e["pj_per_mac"]
    assert layers[0]["layer"] == "(input)" and [r["layer"] for r in layers[1:]] == list(by_name)
    assert sum(r["cycles"] for r in layers) > 0
    y = np.load(tmp_path / "y.npy")
    labels = np.load(data / f"{CNN}_y.npy")
    assert entry["accuracy"] == 100.0 * np.mean(y.reshape(len(y), -1).argmax(1) == labels)


def test_the_page_figures_and_json_exist_and_agree(cnn_comparison):
    d = json.loads((cnn_comparison / "comparison.json").read_text())
    assert d["codings"] == list(CODINGS) and [r["coding"] for r in d["results"]] == list(CODINGS)
    files = sorted(p.name for p in cnn_comparison.iterdir())
    assert files == ["comparison.json", "energy_latency.png", "index.html", "manifest.json", "sops_per_layer.png"]
    for name in ("energy_latency.png", "sops_per_layer.png"):
        assert (cnn_comparison / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    manifest = json.loads((cnn_comparison / "manifest.json").read_text())
    assert manifest["format"] == COMPARISON_FORMAT and set(manifest["files"]) == set(files) - {"manifest.json"}
    page = _Page()
    page.feed((cnn_comparison / "index.html").read_text())
    assert {"summary", "codings", "energy", "figures"} <= set(page.sections)
    measured = [r["coding"] for r in d["results"] if r["status"] == MEASURED]
    assert {f"layers-{c}" for c in measured} <= set(page.sections)
    assert len(page.images) == 2 and all(src.startswith("data:image/png;base64,") for src in page.images)
    assert len(page.cells) > 20
    for key, text in page.cells.items():
        value = _lookup(d, key)
        assert text == ("n/a" if value is None else fmt(value)), key


def test_the_cli_writes_what_the_api_writes(data, tmp_path):
    model, x, y = models.quantized(MLP), data / f"{MLP}_x.npy", data / f"{MLP}_y.npy"
    result = invoke("compare", model, "-i", x, "--labels", y, "-t", "darwin3-wide", "-o", tmp_path / "cli", "-q")
    assert_ok(result)
    assert result.stdout == "" and result.stderr == ""
    comparison = sdannc.compare_codings(model, x, "darwin3-wide", labels=y)
    comparison.save(tmp_path / "api")
    assert tree(tmp_path / "api") == tree(tmp_path / "cli")
    assert set(comparison.results) == set(CODINGS)
    table = invoke("compare", model, "-i", x, "-t", "darwin3-wide", "-o", tmp_path / "cli2").stdout.splitlines()
    assert table[0].split()[:3] == ["coding", "spikes/sample", "SOPs/sample"]
    assert [line.split()[0] for line in table[2:2 + len(CODINGS)]] == list(CODINGS)


@pytest.mark.parametrize("coding", CODINGS)
def test_on_darwin3_wide_every_measured_coding_gives_onnxruntimes_outputs(coding, data):
    """STEM is bit-exact on darwin3-wide for the MLP; so must every coding be (issue 13)."""
    model, x = models.quantized(MLP), np.load(data / f"{MLP}_x.npy")
    entry = sdannc.compare_codings(model, x, "darwin3-wide", codings=[coding]).results[coding]
    if entry["status"] == REFUSED:
        assert entry["message"] == _compile_error(model, "darwin3-wide", coding)
        return
    assert entry["agreement"] == {"elements": x.shape[0] * 10, "differ": 0, "elements_equal": 1.0, "max_steps": 0,
                                  "top1": 1.0}
    chip = sdannc.simulate(sdannc.compile(model, "darwin3-wide", coding=coding), x).outputs
    np.testing.assert_array_equal(chip, models.ort_run(model, x))


def test_a_refused_coding_appears_as_refused_with_the_compilers_message(data, tmp_path):
    """ttfs and rate hold their sums whole: on darwin3's 16-bit registers in two words by integration
    exact, which does not take the MLP's layers sparsified (RoT), whose sums then need scaling."""
    path = models.quantized(MLP)
    config = {"sparsify": {"default": {"rot": 2}}}
    (tmp_path / "rot.yaml").write_text("sparsify:\n  default: {rot: 2}\n")
    result = invoke("compare", path, "-i", data / f"{MLP}_x.npy", "-o", tmp_path / "out", "--config",
                    tmp_path / "rot.yaml")
    assert_ok(result)
    d = json.loads((tmp_path / "out" / "comparison.json").read_text())
    for r in d["results"]:
        refusal = _compile_error(path, "darwin3", r["coding"], config)
        assert (r == {"coding": r["coding"], "status": REFUSED, "message": refusal}) if refusal else \
            r["status"] == MEASURED
        if refusal:
            assert f"refused: {html.escape(refusal)}" in (tmp_path / "out" / "index.html").read_text()
            assert [r["coding"], f"refused: {refusal}"] in [line.split(None, 1) for line in result.stdout.splitlines()]
    assert {r["coding"] for r in d["results"] if r["status"] == REFUSED} == set(CODINGS) - {DEFAULT_CODING}
    assert (tmp_path / "out" / "sops_per_layer.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("coding", CODINGS)
def test_one_refusal_does_not_stop_the_others(coding, data, monkeypatch):
    model, x = models.quantized(MLP), np.load(data / f"{MLP}_x.npy")[:2]
    real = sdannc.api.compile

    def compile_refusing(*args, coding=None, **kwargs):
        if coding == refused:
            raise SdanncError(f"model m.onnx: layer fc1: the {coding} coding has no counterpart\nof this layer")
        return real(*args, coding=coding, **kwargs)

    refused = coding
    monkeypatch.setattr(sdannc.api, "compile", compile_refusing)
    results = sdannc.compare_codings(model, x, "darwin3-wide").results
    assert results[coding] == {"coding": coding, "status": REFUSED,
                               "message": f"model m.onnx: layer fc1: the {coding} coding has no counterpart of this layer"}
    assert all(r["status"] == MEASURED for c, r in results.items() if c != coding)


def test_bad_input_is_one_line_and_writes_nothing(data, tmp_path):
    model, x, y = models.quantized(MLP), data / f"{MLP}_x.npy", data / f"{MLP}_y.npy"
    out = tmp_path / "out"
    line = assert_user_error(invoke("compare", model, "-i", x, "--coding", "morse", "-o", out), "coding 'morse'",
                             "unknown", f"expected one of {', '.join(CODINGS)}")
    with pytest.raises(SdanncError) as exc:
        sdannc.compare_codings(model, x, codings=["morse"])
    assert line == f"sdannc: error: {exc.value}"
    np.save(tmp_path / "short.npy", np.arange(3))
    assert_user_error(invoke("compare", model, "-i", x, "--labels", tmp_path / "short.npy", "-o", out),
                      "3 labels for 5 input samples")
    np.save(tmp_path / "narrow.npy", np.load(x)[:, :10])
    assert_user_error(invoke("compare", model, "-i", tmp_path / "narrow.npy", "-o", out), "does not match the model's input")
    assert_user_error(invoke("compare", tmp_path / "none.onnx", "-i", x, "-o", out), "none.onnx")
    assert_user_error(invoke("compare", model, "-i", x, "-t", "darwin9", "-o", out), "darwin9")
    assert not out.exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    assert_user_error(invoke("compare", model, "-i", x, "-o", tmp_path / "mine"), "notes.txt", "--force")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep"


def test_the_coding_key_and_argument_take_the_compilers_codings(tmp_path):
    model = models.quantized(MLP)
    for coding in CODINGS:
        assert sdannc.compile(model, "darwin3-wide", config={"coding": coding}).report.get("coding", "stem") == coding
    with pytest.raises(SdanncError, match=r"config <dict>: coding 'morse': unknown; expected one of "):
        sdannc.compile(model, config={"coding": "morse"})
    with pytest.raises(SdanncError, match=r"compile: coding 'morse': unknown"):
        sdannc.compile(model, coding="morse")
    (tmp_path / "c.yaml").write_text("coding: morse\n")
    assert_user_error(invoke("compile", model, "--config", tmp_path / "c.yaml", "-o", tmp_path / "img"),
                      "coding 'morse': unknown")


@pytest.mark.parametrize("coding", CODINGS)
@pytest.mark.parametrize("name", [MLP, "residual"])
def test_one_more_sample_costs_the_instructions_the_compile_report_predicts(coding, name):
    """The compile report's program energy per sample (a layer's window of ticks, every neuron, the
    last tick on the other path) is exactly what one more sample adds to the simulator's count of
    executed instructions: the simulator and the compile report price the same instructions."""
    model = models.quantized(name)
    compiled = sdannc.compile(model, "darwin3-wide", coding=coding)  # ttfs / rate refuse 16-bit sums
    x = models.eval_set(models.float_model(name), 3)
    counts = [sdannc.simulate(compiled, x[:n]).report["instructions"] for n in (1, 2, 3)]
    window = compiled.image.schedule.bits
    predicted = sum(r["neurons"] * ((window - 1) * r["instructions_per_tick"][0] + r["instructions_per_tick"][1])
                    for r in compiled.report["layers"])
    assert np.diff(counts).tolist() == [predicted, predicted]
    pj = compiled.image.target.energy["pj_per_instruction"]
    assert sum(r["program_pj_per_sample"] for r in compiled.report["layers"]) == pytest.approx(predicted * pj)
