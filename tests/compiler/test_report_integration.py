"""The compile report says per layer how it integrates, whether its sums are exact, its error
bound and what its program costs per tick; one line warns when the bounds add up."""

import pytest

import models
from sdannc.sparsify import Plan
from sdannc.backend.report import WARN_ERROR_STEPS, error_warning, summary_table
from sdannc.compiler import compile_in_memory
from sdannc.target import load_target


@pytest.fixture(scope="module")
def compiled():
    path = models.quantized("residual")
    out = {t: compile_in_memory(path, load_target(t)) for t in ("darwin3", "darwin3-wide")}
    out["darwin3-exact"] = out["darwin3"]
    out["darwin3"] = compile_in_memory(path, load_target("darwin3"), plan=Plan(integration="weighted"))
    return out


def test_exact_layers_say_so(reports):
    stems = [r for r in reports["darwin3-exact"]["layers"] if r["op"].startswith("STEM")]
    exact = [r for r in stems if r["integration"] == "exact"]
    assert exact and all(r["sums_exact"] for r in exact)
    conv = [r for r in exact if r["layer"].startswith("conv")]  # onnxruntime's own requantization: no bound
    assert conv and all(r["error_steps"] == 0 for r in conv) and all(r["error_steps"] < 1e-3 for r in exact)
    assert all(tuple(r["instructions_per_tick"]) == (42, 63) for r in exact)
    text = summary_table(reports["darwin3-exact"])
    assert " exact " in next(line for line in text.splitlines() if line.startswith("conv1 "))


@pytest.fixture(scope="module")
def reports(compiled):
    return {t: c.report for t, c in compiled.items()}


def test_wide_layers_are_exact_and_narrow_ones_say_how_they_round(reports, compiled):
    wide, narrow = reports["darwin3-wide"]["layers"], reports["darwin3"]["layers"]
    assert all(r["sums_exact"] for r in wide)
    stems = [r for r in narrow if r["op"].startswith("STEM")]
    weighted = [r for r in stems if r["integration"] == "weighted"]
    assert weighted and all(not r["sums_exact"] and 0 < r["error_steps"] < 0.5 for r in weighted)
    assert all(r["sums_exact"] for r in stems if r["integration"] == "horner" and r["acc_shift"] == 0)
    for r in narrow:
        tick, last = r["instructions_per_tick"]
        assert 0 < tick <= last and r["cycles_per_tick"][0] >= tick
        # every neuron runs its program each tick of the layer's window, the last tick on the other path
        window, pj = compiled["darwin3"].image.schedule.bits, load_target("darwin3").energy["pj_per_instruction"]
        assert pj > 0 and r["program_pj_per_sample"] == r["neurons"] * ((window - 1) * tick + last) * pj


def test_the_summary_shows_the_scheme_and_the_bound(reports):
    text = summary_table(reports["darwin3"])
    head = text.splitlines()[0].split()
    assert "integration" in head and "instr/tick" in head
    conv = next(line for line in text.splitlines() if line.startswith("conv1 "))
    row = next(r for r in reports["darwin3"]["layers"] if r["layer"] == "conv1")
    assert "weighted" in conv and f"{row['error_steps']:.2g}" in conv
    assert "{} / {}".format(*row["instructions_per_tick"]) in conv


def test_one_line_warns_when_the_bounds_add_up(reports):
    assert error_warning(reports["darwin3-wide"]) is None
    narrow = reports["darwin3"]
    total = sum(r["error_steps"] for r in narrow["layers"])
    assert (error_warning(narrow) is None) == (total <= WARN_ERROR_STEPS)
    deep = dict(narrow, layers=narrow["layers"] * 10)  # as many rounding layers as a ResNet has
    warning = error_warning(deep)
    assert warning.startswith("warning: ") and "sdannc verify" in warning and "darwin3-wide" in warning
    assert warning in summary_table(deep).splitlines()
