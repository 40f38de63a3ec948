"""Networks with unary activations, exported from PyTorch (legacy and default dynamo exporters),
quantized by onnxruntime (QDQ and QOperator): bit-exact with onnxruntime (exact mode) on
darwin3-wide, the simulator equal to the golden model on both targets; a Tiny-YOLO at 64 x 64
compiles; MobileNetV3 / EfficientNet-style blocks, with and without squeeze-and-excitation,
are bit-exact (the gate's Mul on product neurons; on the 16-bit target in two words, as the wide
target computes it)."""

from __future__ import annotations

import numpy as np
import pytest

import activation_models as am
from models import ort_run
from sdannc import compile as compile_model
from sdannc import run
from sdannc.errors import SdanncError
from sdannc.frontend import load_onnx
from sdannc.compiler import lower
from sdannc.ir.codec import encode_input
from sdannc.ir.evaluate import walk
from sdannc.ir.ops import MUL, PRODUCT, UNARY
from sdannc.neurons import golden_op
from sdannc.target import load_target

SHAPE = (1, 8, 8)
LEGACY = [(a, fmt, "uint8") for a in am.ACTIVATIONS for fmt in ("qdq", "qop")]
LEGACY += [(a, fmt, "int8") for a in ("sigmoid", "hardswish", "silu") for fmt in ("qdq", "qop")]
DYNAMO = [(a, fmt) for a in ("sigmoid", "tanh", "hardswish", "leakyrelu", "gelu", "silu") for fmt in ("qdq", "qop")]


def _exact(path, shape, n=8, target="darwin3-wide", sim=True):
    x = am.inputs(shape, n, 7)
    expected = ort_run(path, x)
    golden = run(path, x, target, engine="golden")
    if target == "darwin3-wide":
        np.testing.assert_array_equal(golden, expected)
    if sim:
        np.testing.assert_array_equal(run(path, x, target, engine="sim"), golden)
    return expected


def _tables(path) -> int:
    return sum(n.op == UNARY for n in load_onnx(path).nodes)


@pytest.mark.parametrize("act, fmt, act_type", LEGACY, ids=["-".join(c) for c in LEGACY])
def test_legacy_export_is_bit_exact(act, fmt, act_type):
    path = am.quantized_net("small", act, fmt, act_type, False, SHAPE)
    assert _tables(path) == 2  # each activation one table, whatever ops it was exported as
    out = _exact(path, SHAPE)
    assert len(np.unique(out)) > 4


@pytest.mark.parametrize("act, fmt", DYNAMO, ids=["-".join(c) for c in DYNAMO])
def test_dynamo_export_is_bit_exact(act, fmt):
    path = am.quantized_net("small", act, fmt, "uint8", True, SHAPE)
    assert _tables(path) == 2
    _exact(path, SHAPE)


@pytest.mark.parametrize("act", ["sigmoid", "silu", "gelu"])
def test_on_the_16_bit_target_the_simulator_is_the_golden_model(act):
    _exact(am.quantized_net("small", act, "qdq", "uint8", False, SHAPE), SHAPE, target="darwin3")


@pytest.mark.parametrize("fmt, dynamo", [("qdq", False), ("qop", True)])
def test_tiny_yolo_at_64_is_bit_exact(fmt, dynamo):
    """The narrow Tiny-YOLO, compiled and simulated."""
    _exact(am.quantized_net("tiny_yolo", "64", fmt, "uint8", dynamo, (3, 64, 64)), (3, 64, 64), n=2)


def test_full_tiny_yolo_v2_at_64_compiles_to_one_chip():
    """Tiny-YOLOv2's own widths (16 .. 1024, 125 outputs a cell) at 64 x 64: one darwin3-wide chip,
    bit-exact on the golden model."""
    path = am.quantized_net("tiny_yolo_full", "64", "qdq", "uint8", False, (3, 64, 64))
    compiled = compile_model(path, "darwin3-wide")
    assert compiled.report["cores_used"] <= compiled.report["cores_available"]
    assert _tables(path) == 8  # the LeakyReLUs, each fused into its convolution:
    assert compiled.report["neurons"] < 200_000 and compiled.report["ticks_per_sample"] < 130
    _exact(path, (3, 64, 64), n=1, sim=False)


@pytest.mark.parametrize("kind", ["mobilenetv3", "efficientnet"])
@pytest.mark.parametrize("fmt, dynamo", [("qdq", False), ("qop", False), ("qdq", True)])
def test_mobile_blocks_are_bit_exact(kind, fmt, dynamo):
    path = am.quantized_net("mobile", kind, fmt, "uint8", dynamo, (3, 16, 16))
    assert _tables(path) == 3  # stem, expansion, depthwise: HardSwish or SiLU
    _exact(path, (3, 16, 16), n=4, sim=not dynamo)


SE = [(kind, fmt, act_type, dynamo) for kind in ("mobilenetv3", "efficientnet") for fmt in ("qdq", "qop")
      for act_type, dynamo in (("uint8", False), ("int8", False), ("uint8", True)) if (fmt, act_type) != ("qdq", "int8")]


@pytest.mark.parametrize("kind, fmt, act_type, dynamo", SE, ids=[f"{k}-{f}-{a}-{'dynamo' if d else 'legacy'}"
                                                                 for k, f, a, d in SE])
def test_squeeze_excitation_is_bit_exact(kind, fmt, act_type, dynamo):
    """The gate's Mul (a [C, 1, 1] gate times a [C, H, W] tensor) on product neurons."""
    path = am.quantized_net("mobile", kind, fmt, act_type, dynamo, (3, 16, 16), se=True)
    graph = load_onnx(path)
    assert sum(n.op == MUL for n in graph.nodes) == 1
    _exact(path, (3, 16, 16), n=4)


def test_int8_qdq_squeeze_excitation_is_refused_naming_the_gate():
    """onnxruntime computes an int8 QDQ Mul unfused, in float32: not what the product neuron mirrors."""
    path = am.quantized_net("mobile", "efficientnet", "qdq", "int8", False, (3, 16, 16), se=True)
    with pytest.raises(SdanncError, match=r"node '/se/Mul' \(Mul\): multiplies two int8 activations in QDQ form"):
        load_onnx(path)


@pytest.mark.parametrize("kind, fmt, act_type", [("mobilenetv3", "qdq", "uint8"), ("efficientnet", "qop", "int8")])
def test_squeeze_excitation_on_the_16_bit_target_gates_as_the_wide_one(kind, fmt, act_type):
    """On darwin3 the gate's product neuron computes in two words (lower_mul: Q = sat(P - C)): the
    simulator equals the golden model, and the gate layer, fed darwin3-wide's codes, gives darwin3-wide's."""
    path = am.quantized_net("mobile", kind, fmt, act_type, False, (3, 16, 16), se=True)
    _exact(path, (3, 16, 16), n=4, target="darwin3")
    narrow, wide = (lower(path, load_target(t)) for t in ("darwin3", "darwin3-wide"))
    wide_nodes = {n.name: n for n in wide.nodes}
    x = am.inputs((3, 16, 16), 16, 7)
    gates = []

    def apply(node, inputs, shape, arith):
        exact = golden_op(wide_nodes[node.name], inputs, shape, load_target("darwin3-wide").arith)
        if node.op == PRODUCT:
            assert node.attrs["two_words"] == 16
            np.testing.assert_array_equal(golden_op(node, inputs, shape, arith), exact)
            gates.append(np.unique(exact).size)
        return exact

    walk(narrow, {narrow.input: encode_input(x, narrow.input_encode).reshape(x.shape).astype(np.int64)},
         load_target("darwin3").arith, apply)
    assert gates and gates[0] > 10
