"""Exactness on models the tests build and quantize themselves (tests/models.py).

- simulator == golden model, element for element, on every model and variant, on both targets;
- darwin3-wide against onnxruntime: bit-exact where our arithmetic can be (most models); the Add
  families (residual Add, MatMul + bias Add) within onnxruntime's own float32 rounding (at most 0.1 %
  of outputs differ, by one step, top-1 agreement at least 99.5 %, here and on all held-out digits);
  QDQ AveragePool within the bounds measured (docs/exactness.md);
- darwin3 (16-bit accumulator, scaled integration): top-1 accuracy on held-out digits within 0.5
  points of onnxruntime's.
"""

import numpy as np
import pytest

import models
from sdannc.compiler import compile_to_image
from sdannc.golden import run as golden_run
from sdannc.sim import Simulator
from sdannc.target import load_target

TARGETS = {name: load_target(name) for name in ("darwin3", "darwin3-wide")}
VARIANTS = models.variants()
# (worst fraction of output elements that differ from onnxruntime on darwin3-wide, most steps), and
# why (docs/exactness.md). Every other model must agree exactly.
WIDE_EXCEPTIONS = {
    "cnn_pool": (0.1, 1),  # QDQ AveragePool: onnxruntime averages in float32, its ties fall either way
}
# Exact Add neurons: onnxruntime's float32 QLinearAdd and our fixed point can round differently only
# where the sum lies within about 2^-11 of a step from a tie (docs/exactness.md).
WIDE_ADD_FAMILIES = ("mlp_matmul", "residual")
ADD_WORST_FRACTION, ADD_WORST_STEPS, ADD_TOP1 = 0.001, 1, 0.995

def _compiled(name, variant, target_name):
    path = models.quantized(name, *variant)
    graph, image, _ = compile_to_image(path, TARGETS[target_name])
    return path, graph, image


def _step(reference: np.ndarray) -> float:
    values = np.unique(reference)
    return float(np.min(np.diff(values))) if values.size > 1 else 1.0


@pytest.mark.parametrize("target_name", sorted(TARGETS))
@pytest.mark.parametrize("variant", VARIANTS, ids=models.variant_id)
@pytest.mark.parametrize("name", sorted(models.FLOAT_MODELS))
def test_simulator_equals_golden_and_wide_agrees_with_onnxruntime(name, variant, target_name):
    path, graph, image = _compiled(name, variant, target_name)
    x = models.eval_set(models.float_model(name), 16)
    golden = golden_run(graph, x, TARGETS[target_name].arith)
    chip = Simulator(image).run(x).outputs
    np.testing.assert_array_equal(chip, golden)
    if target_name != "darwin3-wide":
        return
    reference = models.ort_run(path, x)
    steps = np.rint(np.abs(chip - reference) / _step(reference))
    differ = float(np.mean(steps > 0))
    worst_fraction, worst_steps = WIDE_EXCEPTIONS.get(name, (0.0, 0))
    least_top1 = 0.9 if name in WIDE_EXCEPTIONS else 1.0
    if name in WIDE_ADD_FAMILIES:
        worst_fraction, worst_steps, least_top1 = ADD_WORST_FRACTION, ADD_WORST_STEPS, ADD_TOP1
    assert differ <= worst_fraction, f"{differ:.2%} of outputs differ from onnxruntime"
    assert steps.max() <= worst_steps
    top1 = np.mean(chip.reshape(len(x), -1).argmax(1) == reference.reshape(len(x), -1).argmax(1))
    assert top1 >= least_top1


@pytest.mark.parametrize("variant", VARIANTS, ids=models.variant_id)
@pytest.mark.parametrize("name", WIDE_ADD_FAMILIES)
def test_wide_add_families_agree_with_onnxruntime_on_all_held_out_digits(name, variant):
    """On every held-out digit (thousands of outputs, so that 0.1 % means something); the golden
    model stands for the simulator, which equals it (above)."""
    path, graph, _ = _compiled(name, variant, "darwin3-wide")
    assert sum(n.op == "adder" for n in graph.nodes) == {"mlp_matmul": 3, "residual": 1}[name]
    _, _, x_test, _ = models.digits_data()
    x = models.as_images(x_test) if len(graph.tensors[graph.input].shape) == 3 else x_test
    chip = golden_run(graph, x, TARGETS["darwin3-wide"].arith)
    reference = models.ort_run(path, x)
    steps = np.rint(np.abs(chip - reference) / _step(reference))
    assert chip.size >= 4000
    assert np.mean(steps > 0) <= ADD_WORST_FRACTION, f"{np.mean(steps > 0):.3%} of outputs differ"
    assert steps.max() <= ADD_WORST_STEPS
    top1 = np.mean(chip.reshape(len(x), -1).argmax(1) == reference.reshape(len(x), -1).argmax(1))
    assert top1 >= ADD_TOP1


def test_sixteen_bit_target_keeps_digits_accuracy_within_half_a_point():
    _, _, x_test, y_test = models.digits_data()
    path, graph, image = _compiled("digits_mlp", ("qdq", False, "uint8"), "darwin3")
    chip = Simulator(image).run(x_test, lanes=4).outputs
    reference = models.ort_run(path, x_test)
    chip_accuracy = np.mean(chip.argmax(1) == y_test)
    ort_accuracy = np.mean(reference.argmax(1) == y_test)
    assert len(x_test) >= 400
    assert abs(chip_accuracy - ort_accuracy) <= 0.005, (chip_accuracy, ort_accuracy)
    # 16 bits: the sums need two words (integration exact) or scaling (weighted) here
    assert any(n.attrs.get("integration") in ("exact", "weighted") for n in graph.nodes if n.op == "stem")
