"""The paper's sparsification trends (SDANN tables 4 to 8) on the digits CNN of tests/models.py.

Prints the markdown tables of docs/sparsification.md: the same RoT factor on every hidden layer,
the same DRLO position on every hidden layer, and the tuned hybrid (tuned on training digits, measured
on held-out digits), all with the golden model, whose SOPs equal the simulator's.
Run: .venv/bin/python bench/sparsify_trends.py   (about a minute)
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import models  # noqa: E402  (the tests' model builders)
from sdannc.sparsify import Plan  # noqa: E402
from sdannc.tuning import TUNED_INTEGRATION  # noqa: E402
from sdannc.backend import build_layers  # noqa: E402
from sdannc.backend.synapses import synapse_counts  # noqa: E402
from sdannc.compiler import lower  # noqa: E402
from sdannc.passes.sparsify import hidden_layers  # noqa: E402
from sdannc.sparsify import Setting  # noqa: E402
from sdannc.target import load_target  # noqa: E402
from sdannc.tuning import Evaluator, tune  # noqa: E402

HALF = 225  # the 450 held-out digits: the first half validates (tunes), the second tests


def validation_split():
    _, _, x_test, y_test = models.digits_data()
    return models.as_images(x_test[:HALF]), y_test[:HALF]


def test_split():
    _, _, x_test, y_test = models.digits_data()
    return models.as_images(x_test[HALF:]), y_test[HALF:]


def setup(target_name: str = "darwin3"):
    """(target, graph, synapses, evaluator on all 450 held-out digits, hidden layers, validation split)."""
    target = load_target(target_name)
    # lowered as `sdannc tune` lowers (RoT / DRLO apply to weighted integration's layers: sdannc/tuning.py)
    graph = lower(models.quantized("digits_cnn"), target, plan=Plan(integration=TUNED_INTEGRATION))
    layers = build_layers(graph, target)
    synapses = synapse_counts(graph, layers)
    _, _, x_test, y_test = models.digits_data()
    held_out = Evaluator(graph, models.as_images(x_test), y_test, target.arith, synapses)
    hidden = hidden_layers(graph)
    return target, graph, synapses, held_out, hidden, validation_split()


def uniform(held_out: Evaluator, hidden: list[str], settings: list[Setting]):
    """(setting, point) with the setting on every hidden layer."""
    return [(s, held_out.evaluate({name: s for name in hidden})) for s in settings]


def tuned(target, graph, synapses, held_out: Evaluator, tune_set, max_drop: float = 1.0):
    result = tune(graph, tune_set[0], tune_set[1], target.arith, synapses, max_drop)
    return result, held_out.evaluate(result.chosen.settings)


def _table(base, rows) -> list[str]:
    lines = ["| setting | accuracy | change | SOPs per sample | SOPs saved |", "|---|---|---|---|---|"]
    for label, p in [("none", base)] + rows:
        lines.append(f"| {label} | {p.accuracy:.2f}% | {p.accuracy - base.accuracy:+.2f} | {p.sops:,.0f} | "
                     f"{100 * (1 - p.sops / base.sops):.1f}% |")
    return lines


def main() -> None:
    target, graph, synapses, held_out, hidden, tune_set = setup()
    base = held_out.evaluate({})
    print(f"hidden layers: {', '.join(hidden)}; {held_out.samples} held-out digits\n")
    print("RoT, the same factor k on every hidden layer:\n")
    print("\n".join(_table(base, [(f"RoT k={s.rot}", p) for s, p in uniform(held_out, hidden,
                                                                          [Setting(rot=k) for k in range(1, 6)])])))
    print("\nDRLO, the same position p on every hidden layer:\n")
    print("\n".join(_table(base, [(f"DRLO p={s.drlo}", p) for s, p in uniform(held_out, hidden,
                                                                            [Setting(drlo=p) for p in range(1, 6)])])))
    test = Evaluator(graph, *test_split(), target.arith, synapses)
    for max_drop in (1.0, 0.5):
        result, _ = tuned(target, graph, synapses, held_out, tune_set, max_drop)
        print(f"\nHybrid, `sdannc tune --max-drop {max_drop}` on the {len(tune_set[1])} validation digits "
              f"({len(result.points)} configurations evaluated): {result.chosen.describe()}\n")
        test_base, test_point = test.evaluate({}), test.evaluate(result.chosen.settings)
        print("| digits | accuracy, none | accuracy, tuned | change | SOPs per sample, none | tuned | saved |")
        print("|---|---|---|---|---|---|---|")
        for label, b, p in (("validation (tuned on)", result.baseline, result.chosen),
                            ("test (not seen)", test_base, test_point)):
            print(f"| {label} | {b.accuracy:.2f}% | {p.accuracy:.2f}% | {p.accuracy - b.accuracy:+.2f} | "
                  f"{b.sops:,.0f} | {p.sops:,.0f} | {100 * (1 - p.sops / b.sops):.1f}% |")


if __name__ == "__main__":
    main()
