"""Hand-assembled images on the simulator, against references computed independently in numpy
(the STEM networks) and against the neuron models' golden functions (IF and TTFS)."""

import numpy as np
import pytest

from handbuilt import (
    BITS,
    conv_stem_network,
    dense_reference,
    dense_stem_network,
    random_stem_conv,
    random_stem_layer,
)
from sdannc.image import ImageBuilder, Schedule
from sdannc.ir.graph import Node
from sdannc.neurons import NEURONS
from sdannc.sim import Simulator
from sdannc.arith import saturate, shift_right_round
from sdannc.target import load_target

IF, TTFS = NEURONS["if"], NEURONS["ttfs"]


def _bits_msb_first(codes: np.ndarray) -> np.ndarray:
    """[batch, n] codes -> [batch, BITS, n] spikes, MSB first."""
    shifts = np.arange(BITS - 1, -1, -1)[None, :, None]
    return (codes[:, None, :] >> shifts) & 1


# ---- integrate-and-fire chain across two cores ---------------------------------------------------

IF_VTH = (5, 7, 4, 9)
IF_W_IN = np.array([[3, 0, 2, 1], [1, 4, 0, 2], [0, 2, 5, 3]])  # [input element, core-0 neuron]
IF_W_HID = np.array([[2, 0], [3, 1], [0, 4], [1, 1]])  # [core-0 neuron, core-1 neuron]
IF_VTH_OUT = (3, 4)


def _dense_layer(op: str, weights: np.ndarray, threshold) -> Node:
    """A dense layer of neuron model `op`, as a lowering would make it: weights [source, neuron]."""
    return Node(f"{op}_layer", op, ["x"], "y", {"connections": [{"kind": "dense"}]},
                {"weight0": np.asarray(weights).T, "threshold": np.asarray(threshold)})


IF_HIDDEN, IF_OUT = _dense_layer("if", IF_W_IN, IF_VTH), _dense_layer("if", IF_W_HID, IF_VTH_OUT)


def _if_cores(target):
    """The IF chain's two cores, set up by the IF model: 4 neurons at (1, 0), 2 at (6, 3)."""
    b = ImageBuilder(target)
    first = b.add_core(1, 0, IF.program(IF_HIDDEN, target), 4)
    second = b.add_core(6, 3, IF.program(IF_OUT, target), 2)  # 5 hops east, 3 north
    IF.init_core(b.core(first), IF_HIDDEN, np.arange(4), (4,))
    IF.init_core(b.core(second), IF_OUT, np.arange(2), (2,))
    return b, first, second


def _if_image(target):
    b, first, second = _if_cores(target)
    for e in range(3):
        ids = np.flatnonzero(IF_W_IN[e])  # absolute ids that skip neurons
        dendrite = b.core(first).add_dendrite(ids, IF_W_IN[e, ids])
        b.map_input(e, [(first, dendrite, 0)])
    for n in range(4):
        dendrite = b.core(second).add_dendrite([0, 1], IF_W_HID[n])
        b.connect(first, n, [(second, dendrite)])
    for n in range(2):
        b.map_output(n, second, n)
    return b.build((3,), {"kind": "uint8"}, (2,), {"kind": "uint8"}, Schedule(BITS, BITS, 1))


def _if_golden(codes: np.ndarray, arith: dict) -> np.ndarray:
    """The chain through the IF model's golden function, layer by layer: the second layer hears the
    first a tick later, so its windows start a tick later, which is where the output reads them."""
    return IF.compute(IF_OUT, [IF.compute(IF_HIDDEN, [codes], (4,), arith)], (2,), arith)


def _if_loop_golden(codes: np.ndarray, arith: dict, feedback) -> np.ndarray:
    """The chain with feedback, tick by tick through the IF model's one-tick golden function:
    inputs arrive the tick they are injected, spikes a tick later; `feedback`: weights from the
    second core's first neuron back into the first core's neurons."""
    samples = codes.shape[0]
    first, second = IF.start(np.asarray(IF_VTH)), IF.start(np.asarray(IF_VTH_OUT))
    spikes1, spikes2 = np.zeros(4, dtype=np.int64), np.zeros(2, dtype=np.int64)
    raster = []
    for t in range(samples * BITS + 1):
        s, b = divmod(t, BITS)
        inputs = (codes[s] >> (BITS - 1 - b)) & 1 if s < samples else np.zeros(3, dtype=np.int64)
        current1 = inputs @ IF_W_IN + np.asarray(feedback) * spikes2[0]
        spikes1, spikes2 = IF.step(first, current1, arith), IF.step(second, spikes1 @ IF_W_HID, arith)
        raster.append(spikes2)
    windows = np.asarray(raster[1:]).reshape(samples, BITS, 2)  # the output reads from tick 1
    return (windows << np.arange(BITS - 1, -1, -1)[None, :, None]).sum(axis=1)


@pytest.mark.parametrize("target_name", ["darwin3", "darwin3-wide"])
def test_integrate_and_fire_chain_matches_reference(target_name):
    target = load_target(target_name)
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 256, size=(9, 3))
    result = Simulator(_if_image(target)).run(codes.astype(np.uint8))
    expected = _if_golden(codes, target.arith)
    assert expected.any(), "the reference network should spike"
    np.testing.assert_array_equal(result.codes, expected)
    np.testing.assert_array_equal(_if_loop_golden(codes, target.arith, (0, 0, 0, 0)), expected)


# ---- STEM: two dense layers, and a convolution ---------------------------------------------------

def _stem_bit_serial(layers, codes: np.ndarray, bits: int) -> np.ndarray:
    """The STEM program step by step, with the register saturation of a `bits`-wide datapath."""
    x = codes.astype(np.int64)
    for layer in layers:
        planes = _bits_msb_first(x)  # [batch, BITS, fan_in]
        acc = np.zeros((x.shape[0], layer.weights.shape[1]), dtype=np.int64)
        for b in range(BITS):
            acc = saturate(saturate(acc * 2, bits) + planes[:, b, :] @ layer.weights, bits)
        acc = saturate(acc + layer.bias, bits)
        acc = saturate((acc * layer.multiplier) >> 15, bits)  # MULT truncates
        acc = shift_right_round(acc, 4)  # SFTI R 4 RND rounds, once for the whole product
        x = np.clip(saturate(acc + layer.zero_point, bits), 0, 255)
    return x


@pytest.mark.parametrize("target_name", ["darwin3", "darwin3-wide"])
def test_two_layer_stem_matches_integer_reference(target_name):
    target = load_target(target_name)
    rng = np.random.default_rng(3)
    layers = [random_stem_layer(rng, 24, 16), random_stem_layer(rng, 16, 6)]
    x = rng.integers(0, 256, size=(11, 24)).astype(np.uint8)
    result = Simulator(dense_stem_network(target, layers, per_core=5)).run(x)
    np.testing.assert_array_equal(result.outputs, dense_reference(layers, x))
    assert len(set(result.outputs.ravel().tolist())) > 3, "outputs should not be constant"


def test_sixteen_bit_datapath_saturates_where_the_wide_one_does_not():
    rng = np.random.default_rng(5)
    layer = random_stem_layer(rng, 64, 8, weight_max=60)
    layer.multiplier[:] = 600  # small enough that sums far beyond 16 bits still land inside 0..255
    layer.bias[:] = 0
    layers = [layer]
    x = rng.integers(128, 256, size=(6, 64)).astype(np.uint8)
    narrow = Simulator(dense_stem_network(load_target("darwin3"), layers, per_core=8)).run(x).outputs
    wide = Simulator(dense_stem_network(load_target("darwin3-wide"), layers, per_core=8)).run(x).outputs
    np.testing.assert_array_equal(narrow, _stem_bit_serial(layers, x, 16))
    np.testing.assert_array_equal(wide, _stem_bit_serial(layers, x, 32))
    np.testing.assert_array_equal(wide, dense_reference(layers, x))
    assert (narrow != wide).any(), "these weights overflow 16 bits"


def test_relative_dendrites_compute_a_convolution():
    target = load_target("darwin3")
    rng = np.random.default_rng(11)
    conv = random_stem_conv(rng, 3, 5)
    x = rng.integers(0, 256, size=(4, 3, 6, 7)).astype(np.uint8)
    result = Simulator(conv_stem_network(target, conv, 6, 7)).run(x)
    np.testing.assert_array_equal(result.outputs, conv.reference(x))


# ---- streams and lanes ---------------------------------------------------------------------------

def test_pipelined_stream_equals_samples_run_alone_and_lanes_change_nothing():
    target = load_target("darwin3")
    rng = np.random.default_rng(4)
    layers = [random_stem_layer(rng, 10, 9), random_stem_layer(rng, 9, 7), random_stem_layer(rng, 7, 4)]
    sim = Simulator(dense_stem_network(target, layers, per_core=4))
    x = rng.integers(0, 256, size=(7, 10)).astype(np.uint8)
    stream = sim.run(x)
    alone = np.concatenate([sim.run(x[i:i + 1]).outputs for i in range(len(x))])
    np.testing.assert_array_equal(stream.outputs, alone)
    for lanes in (2, 3, 7):
        np.testing.assert_array_equal(sim.run(x, lanes=lanes).outputs, stream.outputs)
    assert stream.ticks == sim.image.schedule.ticks_for(7) == 6 * BITS + 3 * BITS - 1 + BITS


def _everything(result) -> dict:
    """Outputs and every counter of a run, for comparisons with ==."""
    c = result.counters
    return {"codes": result.codes, "outputs": result.outputs, "ticks": result.ticks,
            "neuron_spikes": c.neuron_spikes, "input_spikes": c.input_spikes, "sops": c.sops,
            "core_cycles": c.core_cycles, "link_flits": c.link_flits, "tick_cycles": np.asarray(c.tick_cycles),
            "instructions": c.instructions, "max_hops": c.max_hops}


def _assert_same_run(a, b) -> None:
    for key, value in _everything(a).items():
        np.testing.assert_array_equal(value, _everything(b)[key], err_msg=key)


@pytest.mark.parametrize("lanes", [1, 3])
def test_ticks_per_step_change_nothing_in_a_pipeline_of_levels(lanes):
    """Levels run whole windows of ticks ahead of the next; any window gives the tick-by-tick run."""
    target = load_target("darwin3")
    rng = np.random.default_rng(8)
    layers = [random_stem_layer(rng, 10, 9), random_stem_layer(rng, 9, 7), random_stem_layer(rng, 7, 4)]
    sim = Simulator(dense_stem_network(target, layers, per_core=4))
    assert sim.pipelined and sim.network.n_levels == 3
    x = rng.integers(0, 256, size=(9, 10)).astype(np.uint8)
    tick_by_tick = sim.run(x, lanes=lanes, window=1)
    assert tick_by_tick.counters.neuron_spikes.any()
    for window in (2, 5, 8, 1000):
        _assert_same_run(sim.run(x, lanes=lanes, window=window), tick_by_tick)
    _assert_same_run(sim.run(x, lanes=lanes), tick_by_tick)


def test_ticks_per_step_change_nothing_in_a_convolution():
    target = load_target("darwin3")
    rng = np.random.default_rng(12)
    sim = Simulator(conv_stem_network(target, random_stem_conv(rng, 3, 5), 6, 7))
    x = rng.integers(0, 256, size=(5, 3, 6, 7)).astype(np.uint8)
    _assert_same_run(sim.run(x, window=7), sim.run(x, window=1))


def _if_loop_image(target):
    """The integrate-and-fire chain with the second core's first neuron feeding back into the first core."""
    b, first, second = _if_cores(target)
    for e in range(3):
        ids = np.flatnonzero(IF_W_IN[e])
        b.map_input(e, [(first, b.core(first).add_dendrite(ids, IF_W_IN[e, ids]), 0)])
    for n in range(4):
        b.connect(first, n, [(second, b.core(second).add_dendrite([0, 1], IF_W_HID[n]))])
    b.connect(second, 0, [(first, b.core(first).add_dendrite([1, 3], [4, 2]))])
    for n in range(2):
        b.map_output(n, second, n)
    return b.build((3,), {"kind": "uint8"}, (2,), {"kind": "uint8"}, Schedule(BITS, BITS, 1))


def test_cores_in_a_loop_run_tick_by_tick():
    """Cores that hear from each other have no levels: the simulator steps one tick at a time."""
    sim = Simulator(_if_loop_image(load_target("darwin3")))
    assert not sim.pipelined and sim.window_for(1, 100, 8) == 1
    x = np.random.default_rng(2).integers(0, 256, size=(6, 3)).astype(np.uint8)
    result = sim.run(x, window=8)
    arith = load_target("darwin3").arith
    np.testing.assert_array_equal(result.codes, _if_loop_golden(x, arith, feedback=(0, 4, 0, 2)))
    assert (result.codes != _if_golden(x, arith)).any(), "the feedback should change the outputs"
    _assert_same_run(result, sim.run(x, window=1))


def test_wide_partial_sums_give_the_same_run(monkeypatch):
    """Every weight and partial sum in int64 instead of int32: the same run."""
    import sdannc.sim.network as network

    target = load_target("darwin3")
    rng = np.random.default_rng(13)
    conv = random_stem_conv(rng, 3, 5)
    x = rng.integers(0, 256, size=(3, 3, 6, 7)).astype(np.uint8)
    image = conv_stem_network(target, conv, 6, 7)
    reference = Simulator(image).run(x)
    np.testing.assert_array_equal(reference.outputs, conv.reference(x))
    assert reference.counters.sops.sum() > 0
    monkeypatch.setattr(network, "_INT32_EXACT", 0)
    wide = Simulator(image)
    assert wide.network.weights.dtype == np.int64
    _assert_same_run(wide.run(x), reference)


def test_core_levels_are_longest_paths_and_loops_have_none():
    from sdannc.sim.network import core_levels

    levels, acyclic = core_levels(3, np.array([0, 1, 2, -1]), np.array([1, 2, 1, 0]))
    assert not acyclic and not levels.any()
    levels, acyclic = core_levels(4, np.array([0, 0, 1, 2, -1]), np.array([1, 2, 3, 3, 0]))
    assert acyclic and levels.tolist() == [0, 1, 1, 2]


# ---- time to first spike: a data-dependent branch per neuron --------------------------------------

def test_time_to_first_spike_neuron_fires_once_at_the_first_crossing():
    target = load_target("darwin3")
    weights = np.array([[1, 2, 3, 1, 0, 2], [2, 1, 0, 3, 1, 1]])  # [input element, neuron]
    thresholds = np.array([3, 4, 5, 6, 2, 99])
    layer = _dense_layer("ttfs", weights, thresholds)
    b = ImageBuilder(target)
    core = b.add_core(2, 1, TTFS.program(layer, target), 6)
    TTFS.init_core(b.core(core), layer, np.arange(6), (6,))
    for e in range(2):
        b.map_input(e, [(core, b.core(core).add_dendrite(np.arange(6), weights[e]), 0)])
    for n in range(6):
        b.map_output(n, core, n)
    image = b.build((2,), {"kind": "uint8"}, (6,), {"kind": "uint8"}, Schedule(BITS, BITS, 0))
    codes = np.array([[0b10110011, 0b01101001]])
    result = Simulator(image).run(codes.astype(np.uint8))
    expected = TTFS.compute(layer, [codes], (6,), target.arith)[0]
    # by hand: the first tick at which the running sum reaches the threshold
    cumulative = np.cumsum(_bits_msb_first(codes)[0] @ weights, axis=0)  # [tick, neuron]
    first = [np.flatnonzero(cumulative[:, n] >= thresholds[n]) for n in range(6)]
    assert expected.tolist() == [1 << (BITS - 1 - f[0]) if f.size else 0 for f in first]
    assert (expected == 0).any() and (expected != 0).any()
    np.testing.assert_array_equal(result.codes[0], expected)
    assert result.counters.neuron_spikes.sum() == np.count_nonzero(expected)


def test_flits_on_links_follow_the_routes():
    """Input packets cross one link (controller (0,0) to core (1,0)); the first core's packets go
    5 east and 3 north to (6,3). Each packet is two flits on every link it crosses."""
    from sdannc.sim.report import build_report

    target = load_target("darwin3")
    sim = Simulator(_if_image(target))
    result = sim.run(np.random.default_rng(8).integers(0, 256, size=(5, 3)).astype(np.uint8))
    report = build_report(sim, result)
    first_core_spikes = report["spikes"]["per_core"]["x01_y00"]
    input_packets = result.counters.input_spikes  # every input element has one target
    flits = target.noc["flits_per_packet"]
    assert first_core_spikes > 0 and input_packets > 0
    assert report["noc"]["flit_hops"] == flits * (input_packets * 1 + first_core_spikes * (5 + 3))
    assert report["noc"]["max_hops"] == 8
    assert report["busiest_link"]["flits"] == flits * max(input_packets, first_core_spikes)


def test_relative_dendrite_reaching_outside_its_core_is_refused_at_load():
    from sdannc.errors import SdanncError

    target = load_target("darwin3")
    image = conv_stem_network(target, random_stem_conv(np.random.default_rng(12), 2, 3), 5, 5)
    Simulator(image)  # as built: every carried index lands inside
    image.io.input_index[-1] += 5 * 5  # one spike now carries an index a row of planes too far
    with pytest.raises(SdanncError, match="relative dendrite reaches a neuron outside"):
        Simulator(image)


def test_progress_starts_at_zero_and_ends_at_the_last_tick():
    """The bar appears before the first window (the first run also compiles the kernels) and ends full."""
    target = load_target("darwin3")
    rng = np.random.default_rng(21)
    layers = [random_stem_layer(rng, 6, 5), random_stem_layer(rng, 5, 3)]
    sim = Simulator(dense_stem_network(target, layers, per_core=2))
    calls = []
    x = rng.integers(0, 256, size=(9, 6)).astype(np.uint8)
    result = sim.run(x, progress=lambda done, total: calls.append((done, total)), window=4)
    assert calls[0] == (0, result.ticks) and calls[-1] == (result.ticks, result.ticks)
    assert all(a[0] < b[0] for a, b in zip(calls, calls[1:])) and len(calls) > 2
