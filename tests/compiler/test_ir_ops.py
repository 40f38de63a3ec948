"""The op spec (sdannc/ir/ops.py) and its check between passes (sdannc/ir/verify.py)."""

from __future__ import annotations

import numpy as np
import pytest

from models import FLOAT_MODELS, calib_set, float_model, quantized
from sdannc.frontend import load_onnx
from sdannc.ir import Node, ops
from sdannc.ir.verify import IrError, verify
from sdannc.neurons import NEURON_OPS, NEURONS
from sdannc.passes import PIPELINE, STEP_NAMES, Options, run_pipeline
from sdannc.target import load_target

TARGET = load_target("darwin3")


def steps_of(graph, **options) -> dict:
    """Every step's graph of the pipeline (run_pipeline verifies each against the spec)."""
    seen = {}
    run_pipeline(graph, TARGET, Options(**options), observe=lambda step, g: seen.setdefault(step, g))
    return seen


@pytest.fixture(scope="module")
def cnn_steps():
    return steps_of(load_onnx(quantized("cnn_pool")))


def test_the_spec_knows_the_pipeline_and_the_neurons():
    assert list(ops.STEPS) == STEP_NAMES == ["frontend"] + [p.name for p in PIPELINE]
    assert tuple(NEURONS) == NEURON_OPS == ops.NEURON_OPS
    assert all(NEURONS[op].op == op for op in ops.NEURON_OPS)
    for op, spec in ops.SPEC.items():
        named = [spec.made_by] + [s for s in (spec.lowered_by,) if s]
        named += [s for c in spec.carries for s in (c.since, c.until) if s]
        assert set(named) <= set(ops.STEPS), op
    assert set(ops.SPEC) == {ops.LINEAR, ops.MAXPOOL, ops.AVGPOOL, ops.ADD, ops.ADD_CONST, ops.CLAMP, ops.UNARY, ops.MUL,
                             *ops.DATA_MOVES, *ops.NEURON_OPS}


@pytest.mark.parametrize("name", sorted(FLOAT_MODELS))
@pytest.mark.parametrize("variant", [("qdq", False, "uint8"), ("qop", True, "int8")], ids=["qdq-u8", "qop-s8"])
def test_every_model_meets_the_spec_after_every_step(name, variant):
    seen = steps_of(load_onnx(quantized(name, *variant)))
    assert list(seen) == STEP_NAMES
    for step, graph in seen.items():
        assert verify(graph, step) is graph


def test_calibrated_models_meet_the_spec():
    seen = steps_of(load_onnx(quantized("residual")), calib=calib_set(float_model("residual"), 8))
    assert list(seen) == STEP_NAMES


def test_quantized_ops_are_gone_after_lowering(cnn_steps):
    lowered = cnn_steps["requantize"]
    assert {n.op for n in lowered.nodes} <= set(ops.NEURON_OPS) | set(ops.DATA_MOVES)
    assert {n.op for n in cnn_steps["frontend"].nodes} & {ops.LINEAR, ops.MAXPOOL}


def _first(graph, op):
    return next(n for n in graph.nodes if n.op == op)


def test_a_frontend_op_surviving_its_lowering_fails(cnn_steps):
    graph = cnn_steps["lower-linear"].copy()
    params = {"weight": np.ones((1, 1)), "weight_scale": np.ones(1), "bias": np.zeros(1)}
    graph.nodes.append(Node("stray", ops.LINEAR, [graph.output], "stray_out", {"kind": "dense"}, params))
    graph.tensors["stray_out"] = graph.tensors[graph.output]
    verify(graph)  # structurally sound
    with pytest.raises(IrError, match=r"after lower-linear: node stray \(linear\): should have been lowered by lower-linear"):
        verify(graph, "lower-linear")


def test_a_hardware_op_before_its_lowering_fails(cnn_steps):
    graph = cnn_steps["lower-pools"]
    assert any(n.op == ops.MAX for n in graph.nodes)
    with pytest.raises(IrError, match=r"\(max\): exists only after lower-pools"):
        verify(graph, "lower-linear")


def test_a_missing_attr_fails_after_the_step_that_adds_it(cnn_steps):
    graph = cnn_steps["scaled-integration"].copy()
    del _first(graph, ops.STEM).attrs["acc_shift"]
    verify(graph, "align-delays")  # before scaled integration a STEM has no shift yet
    with pytest.raises(IrError, match=r"after scaled-integration: node .* \(stem\): lacks attr acc_shift"):
        verify(graph, "scaled-integration")


def test_a_missing_param_fails(cnn_steps):
    graph = cnn_steps["requantize"].copy()
    del _first(graph, ops.STEM).params["multiplier"]
    with pytest.raises(IrError, match=r"lacks param multiplier \(carried from requantize on\)"):
        verify(graph, "requantize")


def test_a_param_a_pass_removes_must_be_gone(cnn_steps):
    graph = cnn_steps["requantize"].copy()
    _first(graph, ops.STEM).params["real_multiplier"] = np.ones(1)
    with pytest.raises(IrError, match=r"still carries real_multiplier, which requantize removes"):
        verify(graph, "requantize")


def test_one_weight_per_input(cnn_steps):
    graph = cnn_steps["lower-linear"].copy()
    del _first(graph, ops.STEM).params["weight0"]
    with pytest.raises(IrError, match=r"lacks param weight0 \(one weight array per input\)"):
        verify(graph, "lower-linear")


def test_an_unknown_op_fails(cnn_steps):
    graph = cnn_steps["frontend"].copy()
    graph.nodes[0].op = "gelu"
    with pytest.raises(IrError, match=r"\(gelu\): no such op"):
        verify(graph, "frontend")
