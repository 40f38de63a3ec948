"""onnxruntime-quantized models over two chips of darwin3's own cores (docs/board.md): the test board
tests/targets/darwin3-mini-2x1.yaml is darwin3's cores (4096 neurons, their memories and programs)
on a 3 x 2 mesh, so that a digits-sized model needs both chips, with darwin3-2x1's chip links.

Compiled with the very inputs it then simulates as calibration inputs, the compiler's estimate of
each chip-to-chip edge's packets and of the busiest on-chip link equals the simulator's measure;
the simulator equals the golden model (outputs and per-layer counters) with `==`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import models
from sdannc.activity import run_golden_activity, simulated_activity
from sdannc.backend.synapses import synapse_counts
from sdannc.compiler import compile_in_memory
from sdannc.golden import run_codes
from sdannc.image import read_image, write_image
from sdannc.ir.codec import encode_input
from sdannc.sim import Simulator
from sdannc.sim.report import build_report
from sdannc.target import load_target

BOARD = Path(__file__).resolve().parents[1] / "targets" / "darwin3-mini-2x1.yaml"


@pytest.mark.parametrize("name", ["residual", "concat"])
def test_quantized_model_on_two_darwin3_chips(name, tmp_path):
    board = load_target(str(BOARD))
    x = models.eval_set(models.float_model(name), 6)
    compiled = compile_in_memory(models.quantized(name), board, x)
    estimate = compiled.report["board"]
    assert estimate["chips_used"] == 2 and estimate["estimate"] == "calibration"
    assert compiled.image.target.chip_target().core["neurons"] == load_target("darwin3").core["neurons"]
    chips = {board.chip_of(core.x, core.y) for core in compiled.image.cores}
    assert chips == {(0, 0), (1, 0)}
    graph, synapses = compiled.graph, synapse_counts(compiled.graph, compiled.layers)
    write_image(compiled.image, tmp_path / "img")
    image = read_image(tmp_path / "img")
    sim = Simulator(image)
    result = sim.run(x)

    codes = run_codes(graph, encode_input(x, graph.input_encode).reshape(x.shape), board.arith)
    assert len(np.unique(codes)) > 2
    np.testing.assert_array_equal(result.codes, codes.reshape(len(x), -1))
    _, golden = run_golden_activity(graph, x, board.arith, synapses)
    measured_activity = simulated_activity(sim, result.counters)
    assert golden.keys() == measured_activity.keys()
    for layer, activity in golden.items():
        np.testing.assert_array_equal(measured_activity[layer].spikes_by_bit, activity.spikes_by_bit)
        assert measured_activity[layer].sops == activity.sops, layer
    assert sum(a.sops for a in golden.values()) > 0

    measured = build_report(sim, result)["board"]
    edges = {(tuple(e["from"]), tuple(e["to"])): e for e in measured["chip_links"]}
    assert estimate["chip_links"] and len(estimate["chip_links"]) == len(edges)
    for edge in estimate["chip_links"]:  # per chip-to-chip edge: the estimate is the measure
        got = edges[(tuple(edge["from"]), tuple(edge["to"]))]
        assert edge["packets_per_sample"] > 0
        assert edge["packets_per_sample"] == pytest.approx(got["packets_per_sample"], rel=1e-9)
    busiest = measured["busiest_on_chip_link"]
    assert estimate["busiest_link"]["link"] == busiest["link"]
    assert estimate["busiest_link"]["flits_per_sample"] == pytest.approx(busiest["flits_per_sample"], rel=1e-9)
