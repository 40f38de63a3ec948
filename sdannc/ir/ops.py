"""Every IR op: its name, what its nodes must carry, and after which pipeline steps it may exist.

ir/verify.py checks each node against this after every step (as tinygrad's uop/spec.py checks its
IR), so that a pass which forgets an attr, or leaves a quantized op behind, fails at the step that
broke the graph rather than in the backend. The name of an op is spelled here once; the passes,
the neuron models (sdannc/neurons, one per neuron op) and the backend use these constants.

What the attrs and params mean: ir/graph.py's docstring and the module that makes them.
"""

from __future__ import annotations

from dataclasses import dataclass

# The steps of passes/__init__.py's PIPELINE, in order (tests/compiler/test_ir_ops.py keeps them equal):
# the spec below says what exists after which of them.
STEPS = ("frontend", "lower-linear", "lower-pools", "lower-elementwise", "lower-unary", "lower-mul", "sparsify", "align-delays",
         "scaled-integration", "bias-calibration", "requantize", "coding")

# Quantized level: what the frontend emits, gone after the pass that lowers it.
LINEAR, MAXPOOL, AVGPOOL, ADD, ADD_CONST, CLAMP = "linear", "maxpool", "avgpool", "add", "add_const", "clamp"
UNARY = "unary"  # a quantized unary activation: param table, the output code of each input code
MUL = "mul"  # a Mul of two activations (QLinearMul): attrs clamp, zero_point_onnx
# Data moves: both levels; the backend routes them, no neuron computes them.
RESHAPE, TRANSPOSE, CONCAT, GATHER = "reshape", "transpose", "concat", "gather"
# Neuron ops: hardware level, one neuron model each (sdannc/neurons).
STEM, ADDER, MAX, IF, TTFS = "stem", "adder", "max", "if", "ttfs"
LUT = "lut"  # the lookup neuron (neurons/lut.py)
PRODUCT = "product"  # the product neuron (neurons/multiply.py)
FLOAT32_POOL = "float32_pool"  # onnxruntime's float32 average pool (neurons/float32_pool.py)
# The same layers in the other spike codings (passes/coding.py, docs/codings.md): one neuron model each.
TTFS_LINEAR, TTFS_MAX, TTFS_ADD, TTFS_LUT = "ttfs_linear", "ttfs_max", "ttfs_add", "ttfs_lut"
RATE_LINEAR, RATE_MAX, RATE_ADD, RATE_LUT = "rate_linear", "rate_max", "rate_add", "rate_lut"
TTFS_PRODUCT, RATE_PRODUCT = "ttfs_mul", "rate_mul"
CODED_OPS = (TTFS_LINEAR, TTFS_MAX, TTFS_ADD, TTFS_LUT, TTFS_PRODUCT, RATE_LINEAR, RATE_MAX, RATE_ADD, RATE_LUT,
             RATE_PRODUCT)

DATA_MOVES = (RESHAPE, TRANSPOSE, CONCAT, GATHER)
NEURON_OPS = (STEM, ADDER, MAX, LUT, PRODUCT, FLOAT32_POOL, IF, TTFS) + CODED_OPS  # each layer of these takes one window (depths.py)


@dataclass(frozen=True)
class Carries:
    """Attrs and params a node carries after step `since` and the steps that follow, up to (not
    after) step `until`, which removes them: after `until` they must be gone."""
    attrs: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    since: str = "frontend"
    until: str | None = None


@dataclass(frozen=True)
class OpSpec:
    made_by: str  # the first step after which a node of the op may exist
    lowered_by: str | None = None  # the step after which none may be left
    inputs: tuple[int, int | None] = (1, 1)  # how many inputs, at least and at most (None: any)
    carries: tuple[Carries, ...] = ()
    weighted: bool = False  # one connection (attrs connections) and one param weight{i} per input


# What a neuron op carries from the step that makes it; the STEM grows with each of its passes.
_OUTPUT = ("connections", "zero_point", "clamp")  # output_code.inc's registers and the wiring

SPEC: dict[str, OpSpec] = {
    LINEAR: OpSpec("frontend", "lower-linear", carries=(Carries(("kind",), ("weight", "weight_scale", "bias")),)),
    MAXPOOL: OpSpec("frontend", "lower-pools", carries=(Carries(("kernel", "strides", "pads")),)),
    AVGPOOL: OpSpec("frontend", "lower-pools", carries=(Carries(("kernel", "strides", "pads")),)),
    ADD: OpSpec("frontend", "lower-elementwise", inputs=(2, 2)),
    ADD_CONST: OpSpec("frontend", "lower-elementwise", carries=(Carries(params=("constant",)),)),
    CLAMP: OpSpec("frontend", "lower-elementwise", carries=(Carries(("clamp",)),)),
    UNARY: OpSpec("frontend", "lower-unary", carries=(Carries(("clamp",), ("table",)),)),
    MUL: OpSpec("frontend", "lower-mul", inputs=(2, 2), carries=(Carries(("clamp", "zero_point_onnx")),)),
    RESHAPE: OpSpec("frontend"),
    TRANSPOSE: OpSpec("frontend", carries=(Carries(("perm",)),)),
    CONCAT: OpSpec("frontend", inputs=(1, None), carries=(Carries(("axis",)),)),
    GATHER: OpSpec("frontend", carries=(Carries(params=("index",)),)),
    STEM: OpSpec("lower-linear", inputs=(1, None), weighted=True, carries=(
        Carries(_OUTPUT, ("bias",), "lower-linear"),
        Carries(params=("real_multiplier",), since="lower-linear", until="requantize"),
        Carries(("acc_shift", "acc_bits", "integration", "acc_bound"), since="scaled-integration"),
        Carries(params=("init",), since="bias-calibration"),
        Carries(("mul_shift", "out_shifts", "round", "error_bound"), ("multiplier",), "requantize"))),
    ADDER: OpSpec("lower-elementwise", inputs=(1, 2), weighted=True, carries=(Carries(
        _OUTPUT + ("input_zero_points", "multipliers", "mul_shift", "out_shifts", "error_bound"), ("offset",),
        "lower-elementwise"),)),
    MAX: OpSpec("lower-pools", carries=(Carries(("connections",), since="lower-pools"),)),
    FLOAT32_POOL: OpSpec("lower-pools", carries=(Carries(("connections", "input_zero_point", "zero_point", "clamp",
                                                           "record_zero", "final_zero", "boundary", "steps",
                                                           "error_bound"),
                                                          ("pool_tables",), "lower-pools"),)),
    LUT: OpSpec("lower-unary", weighted=True, carries=(Carries(("connections",), ("table",), "lower-unary"),)),
    PRODUCT: OpSpec("lower-mul", inputs=(2, 2), weighted=True,
                    carries=(Carries(("connections", "input_zero_points"), ("thresholds",), "lower-mul"),)),
    # No pass lowers to these yet: their spec is what such a lowering must produce (neurons/ttfs.py).
    IF: OpSpec("lower-linear", inputs=(1, None), weighted=True,
               carries=(Carries(("connections",), ("threshold",), "lower-linear"),)),
    TTFS: OpSpec("lower-linear", inputs=(1, None), weighted=True,
                 carries=(Carries(("connections",), ("threshold",), "lower-linear"),)),
}
# The coding pass turns a requantized STEM into a ttfs or rate linear neuron with the same
# requantization (the bias whole: no starting value), and max, adder, lut and product into their counterparts.
_CODED_LINEAR = OpSpec("coding", inputs=(1, None), weighted=True, carries=(
    Carries(_OUTPUT + ("mul_shift", "out_shifts", "round", "error_bound"), ("bias", "multiplier"), "coding"),))
_CODED_ADD = OpSpec("coding", inputs=(1, 2), weighted=True, carries=(Carries(
    _OUTPUT + ("input_zero_points", "multipliers", "mul_shift", "out_shifts", "error_bound"), ("offset",),
    "coding"),))
_CODED_MAX = OpSpec("coding", carries=(Carries(("connections",), since="coding"),))
_CODED_LUT = OpSpec("coding", weighted=True, carries=(Carries(("connections",), ("table",), "coding"),))
_CODED_PRODUCT = OpSpec("coding", inputs=(2, 2), weighted=True,
                        carries=(Carries(("connections", "input_zero_points"), ("thresholds",), "coding"),))
SPEC.update({TTFS_LINEAR: _CODED_LINEAR, RATE_LINEAR: _CODED_LINEAR, TTFS_ADD: _CODED_ADD, RATE_ADD: _CODED_ADD,
             TTFS_MAX: _CODED_MAX, RATE_MAX: _CODED_MAX, TTFS_LUT: _CODED_LUT, RATE_LUT: _CODED_LUT,
             TTFS_PRODUCT: _CODED_PRODUCT, RATE_PRODUCT: _CODED_PRODUCT})


def step_index(step: str) -> int:
    return STEPS.index(step)
