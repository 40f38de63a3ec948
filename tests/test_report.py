"""`sdannc report`: the page's structure, every number on it traced to report.json, and report.json
checked against the compile report, the simulator's report and an unsparsified compile."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser

import numpy as np
import pytest
from click.testing import CliRunner

import models
from cli_checks import assert_user_error
from sdannc.activity_report.page import fmt
from sdannc.image.store import manifest_bytes
from sdannc.cli import main

MODEL = "cnn_pool"
SECTIONS = {"summary", "timing", "energy", "layers", "bits", "sparsification"}


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sections, self.images, self.cells, self._key, self.title = [], [], {}, None, ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.sections.append(attrs.get("id"))
        elif tag == "img":
            self.images.append(attrs["src"])
        elif tag == "td" and "data-key" in attrs:
            self._key = attrs["data-key"]
            self.cells[self._key] = ""
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag):
        if tag == "td":
            self._key = None
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._key is not None:
            self.cells[self._key] += data
        if self._in_title:
            self.title += data


def _lookup(data, key: str):
    for part in key.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def _run(args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    model = models.quantized(MODEL)
    x = models.eval_set(models.float_model(MODEL), 6)
    np.save(tmp / "x.npy", x)
    (tmp / "sdannc.yaml").write_text("sparsify:\n  default: {rot: 2}\n  conv2: {drlo: 3}\n")
    _run(["compile", model, "-o", tmp / "sparse", "--config", tmp / "sdannc.yaml", "-q"])
    # (a sparsified layer integrates weighted, so does the plain compile: the same codes without RoT / DRLO)
    (tmp / "plain.yaml").write_text("integration: weighted\n")
    _run(["compile", model, "-o", tmp / "plain", "--config", tmp / "plain.yaml", "-q"])
    for name in ("sparse", "plain"):
        _run(["report", tmp / name, "--input", tmp / "x.npy", "-o", tmp / f"{name}_report", "-q"])
    _run(["sim", tmp / "sparse", "--input", tmp / "x.npy", "-o", tmp / "y.npy", "--report", tmp / "sim.json", "-q"])
    return tmp


def test_page_has_every_section_and_inline_png_figures(built):
    page = _Page()
    page.feed((built / "sparse_report" / "index.html").read_text())
    assert SECTIONS <= set(page.sections)
    assert "cnn_pool" in page.title and "darwin3" in page.title
    assert len(page.images) == 4
    for src in page.images:
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("spikes_sops", "bit_positions", "sparsification", "energy"):
        assert (built / "sparse_report" / f"{name}.png").read_bytes()[:4] == b"\x89PNG"


def test_every_number_on_the_page_is_the_one_in_report_json(built):
    data = json.loads((built / "sparse_report" / "report.json").read_text())
    page = _Page()
    page.feed((built / "sparse_report" / "index.html").read_text())
    assert len(page.cells) > 50
    for key, text in page.cells.items():
        value = _lookup(data, key)
        assert text == fmt(value), key
        assert float(text.replace(",", "")) == pytest.approx(value, rel=1e-2, abs=5e-3), key
    per_layer = {k.split(".")[2] for k in page.cells if k.startswith("layers.")}
    assert {"sops_per_sample", "spikes_per_sample", "sops_without_sparsify_per_sample", "macs_per_sample"} <= per_layer


def test_report_json_agrees_with_compile_and_simulator_reports(built):
    data = json.loads((built / "sparse_report" / "report.json").read_text())
    compiled = json.loads((built / "sparse" / "report.json").read_text())
    sim = json.loads((built / "sim.json").read_text())
    assert data["cores_used"] == compiled["cores_used"]
    layers = [r["layer"] for r in data["layers"]]
    assert layers == ["(input)"] + [r["layer"] for r in compiled["layers"]]
    assert [r["macs_per_sample"] for r in data["layers"][1:]] == [r["macs"] for r in compiled["layers"]]
    assert {r["layer"]: r["sparsify"] for r in data["layers"] if r["sparsify"]} == \
        {"conv1": {"rot": 2}, "conv2": {"drlo": 3}, "avgpool": {"rot": 2}}
    samples = data["samples"]
    # per sample: the samples' own windows, the same numbers in both reports; the run's fill and drain apart
    assert data["totals"]["sops_per_sample"] == sim["synaptic_ops"]["per_sample"]
    assert data["totals"]["spikes_per_sample"] == sim["spikes"]["per_sample"]
    assert data["totals"]["fill_drain_sops"] == sim["synaptic_ops"]["fill_drain"] > 0
    assert sim["synaptic_ops"]["in_sample_windows"] + sim["synaptic_ops"]["fill_drain"] == sim["synaptic_ops"]["total"]
    assert data["energy_per_sample_pj"]["chip_sops"] == pytest.approx(sim["energy"]["per_sample_pj"])
    assert data["timing"]["ticks_per_sample"] == compiled["ticks_per_sample"] == sim["ticks_per_sample"]
    assert data["energy_per_sample_pj"]["chip_simulated"] == pytest.approx(sim["energy"]["total_pj"] / samples)


def test_without_sparsification_equals_the_unsparsified_compile(built):
    sparse = json.loads((built / "sparse_report" / "report.json").read_text())
    plain = json.loads((built / "plain_report" / "report.json").read_text())
    for s, p in zip(sparse["layers"], plain["layers"]):
        assert s["sops_without_sparsify_per_sample"] == p["sops_per_sample"], s["layer"]
        assert s["spikes_without_sparsify_per_sample"] == p["spikes_per_sample"], s["layer"]
    assert sparse["totals"]["sops_per_sample"] < plain["totals"]["sops_per_sample"]
    assert plain["totals"]["sops_saved_fraction"] == 0


def test_report_errors_are_one_line_and_write_nothing(built, tmp_path):
    out = tmp_path / "r"
    result = CliRunner().invoke(main, ["report", str(built / "sparse"), "--input", str(built / "y.npy"), "-o", str(out)])
    assert_user_error(result, "does not match the image's input")
    (tmp_path / "bare").mkdir()
    result = CliRunner().invoke(main, ["report", str(built / "sparse"), "--input", str(built / "nothing.npy"),
                                       "-o", str(out)])
    assert_user_error(result, "nothing.npy: not found")
    assert not out.exists()


def test_image_without_compile_report_is_refused(built, tmp_path):
    import shutil

    image = tmp_path / "image"
    shutil.copytree(built / "sparse", image)
    (image / "report.json").unlink()
    result = CliRunner().invoke(main, ["report", str(image), "--input", str(built / "x.npy"), "-o", str(tmp_path / "r")])
    assert_user_error(result, "no report.json beside it", "sdannc compile")
    assert not (tmp_path / "r").exists()


def test_sim_per_sample_figures_are_the_samples_own_windows(built, tmp_path):
    """4 samples through the sparsified cnn_pool: `sdannc sim` on 2 lanes and `sdannc report` on 4 give
    the same SOPs in the samples' windows, the integer the golden model predicts (sdannc/activity.py);
    the run's totals add the pipeline's fill and drain (each lane pays its own) and are given apart."""
    from sdannc.activity import run_golden_activity, sample_totals
    from sdannc.backend import build_layers
    from sdannc.backend.synapses import synapse_counts
    from sdannc.compiler import lower
    from sdannc.config import load_config
    from sdannc.target import load_target

    x = np.load(built / "x.npy")[:4]
    np.save(tmp_path / "x4.npy", x)
    _run(["sim", built / "sparse", "-i", tmp_path / "x4.npy", "-o", tmp_path / "y.npy", "-r", tmp_path / "s.json",
          "--lanes", "2", "-q"])
    _run(["report", built / "sparse", "-i", tmp_path / "x4.npy", "-o", tmp_path / "r", "--lanes", "4", "-q"])
    sim = json.loads((tmp_path / "s.json").read_text())
    data = json.loads((tmp_path / "r" / "report.json").read_text())
    target = load_target("darwin3")
    graph = lower(models.quantized(MODEL), target, plan=load_config(built / "sdannc.yaml"))
    _, golden = run_golden_activity(graph, x, target.arith, synapse_counts(graph, build_layers(graph, target)))
    spikes, sops = sample_totals(golden)

    assert (sim["samples"], sim["lanes"]) == (4, 2)
    assert sim["synaptic_ops"]["in_sample_windows"] == sops == round(data["totals"]["sops_per_sample"] * 4)
    assert sim["spikes"]["in_sample_windows"] == spikes == round(data["totals"]["spikes_per_sample"] * 4)
    assert sim["synaptic_ops"]["per_sample"] == sops / 4 == data["totals"]["sops_per_sample"]
    for kind in ("synaptic_ops", "spikes"):
        counts = sim[kind]
        assert counts["total"] == counts["in_sample_windows"] + counts["fill_drain"]
        assert counts["fill_drain"] > 0 and counts["total"] > counts["per_sample"] * 4
    pj = sim["energy"]["pj_per_sop"]
    assert sim["energy"]["per_sample_pj"] == pytest.approx(sops * pj / 4)
    assert sim["energy"]["per_sample_pj"] == pytest.approx(data["energy_per_sample_pj"]["chip_sops"])
    assert sim["energy"]["total_pj"] == pytest.approx(4 * sim["energy"]["per_sample_pj"] + sim["energy"]["fill_drain_pj"]
                                                      + sim["energy"]["breakdown_pj"]["instruction_pj"]
                                                      + sim["energy"]["breakdown_pj"]["noc_pj"])
    # 4 lanes fill and drain the pipeline twice as often as 2: only the totals differ
    assert data["totals"]["fill_drain_sops"] > sim["synaptic_ops"]["fill_drain"]


def test_sim_summary_says_per_sample_and_whole_run_apart(built, tmp_path):
    x = np.load(built / "x.npy")[:4]
    np.save(tmp_path / "x4.npy", x)
    result = _run(["sim", built / "sparse", "-i", tmp_path / "x4.npy", "-o", tmp_path / "y.npy", "-r", tmp_path / "s.json"])
    sim = json.loads((tmp_path / "s.json").read_text())
    per_sample = next(line for line in result.stdout.splitlines() if line.startswith("per sample, in its own window: "))
    assert f"{sim['synaptic_ops']['per_sample']:,.0f} synaptic ops" in per_sample
    assert f"{sim['energy']['per_sample_pj'] / 1e3:,.2f} nJ" in per_sample
    run = next(line for line in result.stdout.splitlines() if line.startswith("whole run, with pipeline fill and drain: "))
    assert f"{sim['synaptic_ops']['total']:,} synaptic ops ({sim['synaptic_ops']['fill_drain']:,} in fill and drain)" in run


# ---- found by the fuzzer (tests/fuzz, docs/robustness.md): each was a traceback before ---------------


def test_a_scalar_input_is_the_wrong_shape(built, tmp_path):
    np.save(tmp_path / "scalar.npy", np.float32(0.5))
    result = CliRunner().invoke(main, ["report", str(built / "sparse"), "--input", str(tmp_path / "scalar.npy"),
                                       "-o", str(tmp_path / "r")])
    assert_user_error(result, "shape (): one value, not a batch")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("edit, fragment", [
    (lambda r: [r], "not a JSON object"),
    (lambda r: {**r, "cores_used": None}, "key 'cores_used' is not a count"),
    (lambda r: {**r, "layers": {"fc1": 1}}, "key 'layers' is not a list"),
    (lambda r: {**r, "layers": [{k: v for k, v in r["layers"][0].items() if k != "neurons"}]}, "layers[0] is damaged"),
    (lambda r: {**r, "layers": [{**r["layers"][0], "neurons": [3]}]}, "layers[0] is damaged"),
], ids=["list", "cores-used", "layers-mapping", "no-neurons", "neurons-list"])
def test_damaged_compile_report_is_refused(built, tmp_path, edit, fragment):
    """report.json sits beside the image, outside the manifest's checksums: valid JSON of the wrong
    shape reached the page code (TypeError, KeyError)."""
    import shutil

    image = tmp_path / "image"
    shutil.copytree(built / "sparse", image)
    (image / "report.json").write_text(json.dumps(edit(json.loads((image / "report.json").read_text()))))
    result = CliRunner().invoke(main, ["report", str(image), "--input", str(built / "x.npy"), "-o", str(tmp_path / "r")])
    assert_user_error(result, f"image {image}: report.json", fragment, "recompile")
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("meta, fragment", [
    ({"sparsify": {"fc1": {"5": 1}}}, "meta.sparsify.fc1: expected {rot: K}"),
    ({"sparsify": [1]}, "meta.sparsify is not a mapping"),
    ({"sparsify_registers": 5}, "meta.sparsify_registers is damaged"),
], ids=["setting", "sparsify-list", "registers-int"])
def test_damaged_meta_is_refused(built, tmp_path, meta, fragment):
    """meta is free-form in the image format, so the loader passes it on (checksums rewritten here, as
    a tool editing the image would); the page printed its settings: TypeError from Setting(**...)."""
    import hashlib
    import shutil

    image = tmp_path / "image"
    shutil.copytree(built / "sparse", image)
    net = json.loads((image / "network.json").read_text())
    net["meta"].update(meta)
    (image / "network.json").write_text(json.dumps(net))
    manifest = json.loads((image / "manifest.json").read_text())
    manifest["files"]["network.json"] = hashlib.sha256((image / "network.json").read_bytes()).hexdigest()
    (image / "manifest.json").write_bytes(manifest_bytes(manifest))  # sealed again, as a tool would
    result = CliRunner().invoke(main, ["report", str(image), "--input", str(built / "x.npy"), "-o", str(tmp_path / "r")])
    assert_user_error(result, fragment, "network.json")
    assert not (tmp_path / "r").exists()
