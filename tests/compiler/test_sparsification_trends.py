"""SDANN's sparsification trends (tables 4 to 8) reproduced on the digits CNN (tests/models.py),
with the golden model (whose SOPs equal the simulator's, tests/compiler/test_activity.py).
The figures are in docs/sparsification.md (bench/sparsify_trends.py prints them)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import sparsify_trends as trends  # noqa: E402
from sdannc.sparsify import Setting  # noqa: E402


@pytest.fixture(scope="module")
def setup():
    return trends.setup()


def test_raising_the_rot_factor_lowers_sops_monotonically(setup):
    _, _, _, held_out, hidden, _ = setup
    base = held_out.evaluate({})
    points = trends.uniform(held_out, hidden, [Setting(rot=k) for k in range(1, 6)])
    sops = [base.sops] + [p.sops for _, p in points]
    assert all(a > b for a, b in zip(sops, sops[1:])), sops


def test_a_small_drlo_position_changes_accuracy_and_sops_little(setup):
    _, _, _, held_out, hidden, _ = setup
    base = held_out.evaluate({})
    (_, p1), = trends.uniform(held_out, hidden, [Setting(drlo=1)])
    assert abs(p1.accuracy - base.accuracy) <= 1.0
    assert 0.8 * base.sops <= p1.sops < base.sops


def test_tuned_hybrid_cuts_sops_by_15_percent_within_one_point(setup):
    target, graph, synapses, held_out, _, _ = setup
    x, y = trends.validation_split()
    result, _ = trends.tuned(target, graph, synapses, held_out, (x, y), max_drop=1.0)
    base, chosen = result.baseline, result.chosen
    assert base.accuracy - chosen.accuracy <= 1.0
    assert chosen.sops <= 0.85 * base.sops, (chosen.sops, base.sops)
    assert len({name for name in chosen.settings}) >= 2  # a hybrid: several layers, chosen separately
    assert {p.sops for p in result.pareto()} >= {chosen.sops}
