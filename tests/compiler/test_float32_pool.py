"""onnxruntime's float32 AveragePool on the chip (docs/exactness.md "(a)"; passes/float32_pool.py,
neurons/float32_pool.py, isa/programs/pool_float32.s): the numpy function against onnxruntime (the
project's reference) on pools with exact ties, hostile scales and zero points and other window sizes;
the integer tables against that function; where the compiler takes the neuron and where it keeps the
exact average (and says why); simulator == golden with `==` on darwin3 and a wide target; the QDQ
CNN with pools gives onnxruntime's outputs in every variant."""

import numpy as np
import pytest
from onnx import TensorProto, helper

import models
from sdannc.compiler import compile_in_memory, golden_outputs, lower
from sdannc.golden import run_codes
from sdannc.ir.graph import Node
from sdannc.ir.ops import FLOAT32_POOL, STEM
from sdannc.neurons import NEURONS
from sdannc.passes.float32_pool import needs_float32, pool_tables
from sdannc.passes.requantize import qlinear_average_pool_codes, row_major_steps, unfused_average_pool_codes
from sdannc.sim import Simulator
from sdannc.target import load_target, target_from_dict

POOL = NEURONS[FLOAT32_POOL]
NARROW = load_target("darwin3")
F32 = np.float32

# xs, ys, zx, zy, kernel (ONNX uint8 values)
CASES = {
    "ties": (0.0123, 0.0123, 0, 0, (2, 2)),
    "odd zero points": (0.0371, 0.0371, 17, 17, (2, 2)),
    "binary ratio, high zero point": (0.0079, 0.0158, 3, 250, (2, 2)),
    "zero points at the top": (0.0101, 0.0101, 255, 255, (2, 2)),
    "tiny scale": (1e-30, 1e-30, 128, 128, (2, 2)),
    "huge scale": (3e30, 3e30, 0, 128, (2, 2)),
    "window of 2": (0.013, 0.013, 5, 5, (1, 2)),
    "window of 9": (0.011, 0.011, 40, 40, (3, 3)),
    "scales apart": (0.00987, 0.00694, 0, 0, (2, 2)),
}


def _pool_model(xs, ys, zx, zy, kernel, dtype=TensorProto.UINT8, channels=4, size=12):
    consts = [helper.make_tensor("xs", TensorProto.FLOAT, [], [xs]), helper.make_tensor("zx", dtype, [], [zx]),
              helper.make_tensor("ys", TensorProto.FLOAT, [], [ys]), helper.make_tensor("zy", dtype, [], [zy])]
    nodes = [helper.make_node("DequantizeLinear", ["x", "xs", "zx"], ["xf"]),
             helper.make_node("AveragePool", ["xf"], ["yf"], kernel_shape=list(kernel), strides=list(kernel)),
             helper.make_node("QuantizeLinear", ["yf", "ys", "zy"], ["y"])]
    out = [size // kernel[0], size // kernel[1]]
    graph = helper.make_graph(nodes, "pool", [helper.make_tensor_value_info("x", dtype, [None, channels, size, size])],
                              [helper.make_tensor_value_info("y", dtype, [None, channels] + out)], consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def _windows(x, kernel):
    """[..., n] each window's values in row-major order, from [b, C, H, W]."""
    b, c, h, w = x.shape
    kh, kw = kernel
    v = x.reshape(b, c, h // kh, kh, w // kw, kw).transpose(0, 1, 2, 4, 3, 5)
    return v.reshape(b, c, h // kh, w // kw, kh * kw).astype(np.int64)


@pytest.mark.parametrize("case", list(CASES))
def test_the_float32_function_is_onnxruntimes_average_pool(case):
    xs, ys, zx, zy, kernel = CASES[case]
    xs, ys = float(F32(xs)), float(F32(ys))
    x = np.random.default_rng(1).integers(0, 256, (96, 4, 12, 12)).astype(np.uint8)
    x[:8] = np.random.default_rng(2).integers(0, 4, (8, 4, 12, 12)) * 85  # many equal codes: many exact ties
    expected = models.ort_run(_pool_model(xs, ys, zx, zy, kernel), x).astype(np.int64)
    windows = _windows(x, kernel)
    np.testing.assert_array_equal(qlinear_average_pool_codes(windows, (xs, ys), (zx, zy), (0, 255)), expected)
    if case in ("ties", "odd zero points", "zero points at the top"):  # and it is not the exact average's rounding
        exact = np.clip(np.rint((windows - zx).sum(-1) * (xs / ys / windows.shape[-1])) + zy, 0, 255)
        assert (exact != expected).mean() > 0.01


def test_an_int8_pool_alone_is_fused_and_quantize_linear_rounds_before_the_zero_point():
    """onnxruntime fuses an int8 DQ -> AveragePool -> Q of its own (QLinearAveragePool's rounding);
    in the int8 QDQ CNNs it runs them apart (test_the_qdq_cnn_with_pools_is_onnxruntime below), and
    the two functions differ at ties with an odd zero point."""
    xs = float(F32(0.0123))
    x = np.random.default_rng(3).integers(-128, 128, (64, 4, 12, 12)).astype(np.int8)
    expected = models.ort_run(_pool_model(xs, xs, -127, -127, (2, 2), TensorProto.INT8), x).astype(np.int64)
    windows = _windows(x, (2, 2))
    fused = qlinear_average_pool_codes(windows, (xs, xs), (-127, -127), (-128, 127))
    np.testing.assert_array_equal(fused, expected)
    assert (unfused_average_pool_codes(windows, (xs, xs), (-127, -127), (-128, 127)) != fused).mean() > 0.01


def _pool_node(kernel, scales, zero_points, fused=True, offsets=(0, 0)):
    count = kernel[0] * kernel[1]
    tables = pool_tables(count, scales, zero_points, offsets, (0, 255), fused)
    assert not isinstance(tables, str), tables
    conn = {"kind": "conv", "kernel": kernel, "strides": kernel, "pads": (0, 0, 0, 0), "dilations": (1, 1), "group": 0}
    return Node("pool", FLOAT32_POOL, ["x"], "y", attrs={
        "connections": [conn], "input_zero_point": zero_points[0], "zero_point": zero_points[1], "clamp": (0, 255),
        "record_zero": tables.record_zero, "final_zero": tables.final_zero, "boundary": tables.boundary,
        "steps": row_major_steps(count), "integration": "float32", "error_bound": 0.0},
        params={"pool_tables": tables.memory}), tables


@pytest.mark.parametrize("case", [c for c in CASES if CASES[c][4] != (3, 3)])
@pytest.mark.parametrize("fused", [True, False], ids=["fused", "unfused"])
def test_the_neurons_arithmetic_is_the_float32_function(case, fused):
    xs, ys, zx, zy, kernel = CASES[case]
    node, _ = _pool_node(kernel, (xs, ys), (zx, zy), fused)
    rng = np.random.default_rng(4)
    x = rng.integers(0, 256, (256, 4, 12, 12))
    x[:64] = rng.integers(0, 4, (64, 4, 12, 12)) * 85
    function = qlinear_average_pool_codes if fused else unfused_average_pool_codes
    expected = function(_windows(x, kernel), (xs, ys), (zx, zy), (0, 255))
    got = POOL.compute(node, [x], expected.shape[1:], NARROW.arith)
    np.testing.assert_array_equal(got, expected)


def test_every_window_of_two_codes():
    xs = float(F32(0.013))
    node, _ = _pool_node((1, 2), (xs, xs), (5, 5))
    a, b = np.divmod(np.arange(1 << 16), 256)
    x = np.stack([a, b], axis=-1).reshape(1, 1, 256, 512)
    expected = qlinear_average_pool_codes(np.stack([a, b], axis=-1), (xs, xs), (5, 5), (0, 255))
    np.testing.assert_array_equal(POOL.compute(node, [x], (1, 256, 256), NARROW.arith).reshape(-1), expected)


def test_a_sum_next_to_a_power_of_two_takes_its_records_second_side():
    """A scale for which some M K lies within the error bound of a power of two (2^27 here): the
    records there have two sides, and the program tests x against xb (param boundary)."""
    m = -(-(1 << 31) // 200)  # a 24-bit mantissa whose 200 M lies 152 above 2^31
    xs = float(m) * 2.0 ** -30
    node, tables = _pool_node((2, 2), (xs, xs), (0, 0))
    assert tables.boundary
    x = np.random.default_rng(5).integers(40, 61, (4096, 1, 8, 8))
    expected = qlinear_average_pool_codes(_windows(x, (2, 2)), (xs, xs), (0, 0), (0, 255))
    np.testing.assert_array_equal(POOL.compute(node, [x], (1, 4, 4), NARROW.arith), expected)


def test_the_neuron_is_taken_only_where_the_float32_rounding_differs_from_the_exact_average():
    def needs(case):
        xs, ys, zx, zy, kernel = CASES[case]
        count = kernel[0] * kernel[1]
        args = (count, (xs, ys), (zx, zy), (0, 0), (0, 255), True)
        tables = pool_tables(*args)
        return tables if isinstance(tables, str) else needs_float32(tables, *args)

    assert needs("ties") is True and needs("binary ratio, high zero point") is True
    assert needs("scales apart") is False  # no exact ties: the exact average's rounding is onnxruntime's
    assert "a window of 9 inputs" in needs("window of 9")


def test_count_9_and_unrelated_scales_agree_with_the_exact_average():
    """The claim behind the choice, measured: where the neuron is not needed, onnxruntime's float32
    pool is the exact average's rounding (half to even) on every window tried."""
    rng = np.random.default_rng(6)
    for xs, ys, zx, zy, count in ((0.011, 0.011, 40, 40, 9), (0.00987, 0.00694, 0, 0, 4), (0.02, 0.0173, 128, 128, 4)):
        windows = rng.integers(0, 256, (400_000, count))
        xs32, ys32 = float(F32(xs)), float(F32(ys))
        got = qlinear_average_pool_codes(windows, (xs32, ys32), (zx, zy), (0, 255))
        exact = np.clip(np.rint((windows - zx).sum(-1) * (xs32 / ys32 / count)) + zy, 0, 255)
        np.testing.assert_array_equal(got, exact)


def _pool_net(kernel, dtype="uint8"):
    """conv -> relu -> AveragePool (QDQ), quantized by onnxruntime: the pool's output has its input's scale."""
    import onnx
    w = np.random.default_rng(7).normal(0, 0.3, (4, 1, 3, 3)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("AveragePool", ["r"], ["y"], kernel_shape=list(kernel), strides=list(kernel))]
    graph = helper.make_graph(nodes, "net", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 1, 12, 12])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 4, 12 // kernel[0], 12 // kernel[1]])],
                              [onnx.numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def _lowered_net(tmp_path, kernel):
    import onnx
    from sdannc.quantization import quantize_model
    path = tmp_path / "f.onnx"
    onnx.save(_pool_net(kernel), path)
    calib = np.random.default_rng(8).random((16, 1, 12, 12)).astype(np.float32)
    quantized = tmp_path / "q.onnx"
    quantize_model(path, calib, quantized)
    return lower(quantized, NARROW)


def test_a_3x3_pool_stays_a_stem_layer_quietly_a_2x4_one_with_a_note(tmp_path):
    """Count 9 has no exact ties: the exact average is onnxruntime's, nothing to say. A 2 x 4 window
    (8 inputs, ties possible) is more than the neuron's 4: the STEM layer, and a note saying why."""
    graph = _lowered_net(tmp_path, (3, 3))
    assert [n.op for n in graph.nodes] == [STEM, STEM] and not any("float32" in note for note in graph.notes)
    graph = _lowered_net(tmp_path, (2, 4))
    assert [n.op for n in graph.nodes] == [STEM, STEM]
    assert any("a window of 8 inputs" in note for note in graph.notes)


def test_tables_beyond_the_lookup_memory_keep_the_exact_average():
    small = target_from_dict({**NARROW.raw, "name": "small", "core": {**NARROW.raw["core"], "lut_words": 2048}}, "test")
    graph = lower(models.quantized("cnn_pool_trained"), small)
    assert all(n.op != FLOAT32_POOL for n in graph.nodes)
    assert any("words of lookup memory" in note for note in graph.notes)


WIDE_LOOKUP = target_from_dict({**load_target("darwin3-wide").raw, "name": "darwin3-wide-lookup",
                                "core": {**load_target("darwin3-wide").raw["core"], "lut_words": 16384}}, "test")


@pytest.mark.parametrize("target", [NARROW, WIDE_LOOKUP], ids=["darwin3", "wide"])
@pytest.mark.parametrize("variant", [("qdq", False, "uint8"), ("qdq", True, "int8")], ids=models.variant_id)
def test_simulator_equals_golden_on_the_float32_pool(target, variant):
    path = models.quantized("cnn_pool_trained", *variant)
    compiled = compile_in_memory(path, target)
    pools = [n for n in compiled.graph.nodes if n.op == FLOAT32_POOL]
    assert len(pools) == 1
    x = models.eval_set(models.float_model("cnn_pool_trained"), 64)
    from sdannc.ir.codec import encode_input
    codes = encode_input(x, compiled.graph.input_encode).reshape(x.shape)
    golden = run_codes(compiled.graph, codes, target.arith, keep=True)
    sim = Simulator(compiled.image)
    result = sim.run(x, record_codes=True)
    from sdannc.backend import neuron_addresses
    core, neuron = neuron_addresses(compiled.graph, compiled.layers)[pools[0].output]
    np.testing.assert_array_equal(sim.codes_at(result, core, neuron), golden[pools[0].output].reshape(64, -1))
    np.testing.assert_array_equal(result.outputs, golden_outputs(path, x, target))
    if target is NARROW:  # the program on the numpy executor, and the functional engine
        from sdannc.sim.functional import FunctionalSimulator
        np.testing.assert_array_equal(Simulator(compiled.image, executor="numpy").run(x[:8]).outputs, result.outputs[:8])
        np.testing.assert_array_equal(FunctionalSimulator(compiled.image).run(x).outputs, result.outputs)


@pytest.mark.parametrize("variant", models.variants(), ids=models.variant_id)
def test_the_qdq_cnn_with_pools_is_onnxruntime(variant):
    """Issue 11's last family: the trained CNN with pools, every variant, on darwin3: onnxruntime's
    outputs on every element, with and without --calib (QOperator: the exact average already was)."""
    model = models.float_model("cnn_pool_trained")
    path = models.quantized("cnn_pool_trained", *variant)
    x = models.eval_set(model, 64)
    expected = models.ort_run(path, x)
    np.testing.assert_array_equal(golden_outputs(path, x, NARROW), expected)
    np.testing.assert_array_equal(golden_outputs(path, x, NARROW, calib=models.calib_set(model, 32)), expected)
    ops = {n.op for n in lower(path, NARROW).nodes}
    assert (FLOAT32_POOL in ops) == (variant[0] == "qdq")


@pytest.mark.parametrize("case", ["ties", "odd zero points", "zero points at the top"])
def test_simulator_equals_golden_and_onnxruntime_on_a_pool_of_its_own(case, tmp_path):
    """A DQ -> AveragePool -> Q model of uint8 codes compiled for darwin3: on 48 samples of 144 windows
    (a third of them of few distinct codes, ties everywhere) the simulator's codes are the golden
    model's (`==`) and onnxruntime's. (A program whose last comparison is `>` for `>=`, or whose
    partial sums round half up, fails here.)"""
    import onnx
    xs, ys, zx, zy, kernel = CASES[case]
    path = tmp_path / "pool.onnx"
    onnx.save(_pool_model(float(F32(xs)), float(F32(ys)), zx, zy, kernel), path)
    rng = np.random.default_rng(9)
    x = rng.integers(0, 256, (48, 4, 12, 12)).astype(np.uint8)
    x[:16] = rng.integers(0, 6, (16, 4, 12, 12)) * 51
    compiled = compile_in_memory(path, NARROW)
    assert [n.op for n in compiled.graph.nodes] == [FLOAT32_POOL]
    expected = models.ort_run(path, x)
    np.testing.assert_array_equal(golden_outputs(path, x, NARROW), expected)
    np.testing.assert_array_equal(Simulator(compiled.image).run(x).outputs, expected)


def test_an_output_step_finer_than_the_sums_error_keeps_the_exact_average():
    """The compile-time check behind the one step a sum's error may cross: an output scale 2^16
    times finer than the input's puts several codes within one sum's error bound: no tables (and
    lower-pools keeps the STEM layer, with the reason in a note, as for the other refusals)."""
    xs = float(F32(0.0123))
    assert pool_tables(4, (xs, xs / 1024), (0, 0), (0, 0), (0, 255), True).bound > 0
    reason = pool_tables(4, (xs, xs / 65536), (0, 0), (0, 0), (0, 255), True)
    assert reason == "onnxruntime's code takes more than one step within a sum's error bound"
