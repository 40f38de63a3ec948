"""One simulation over several threads (stepper.py): the deliveries split by level and part of the
window, the programs by slices of the cores; every output and every counter == the one-thread run."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import sdannc
from handbuilt import conv_stem_network, dense_stem_network, random_stem_conv, random_stem_layer
from sdannc.sim import Simulator, executor
from sdannc.sim import stepper as stepper_module
from sdannc.target import load_target

ROOT = Path(__file__).resolve().parents[2]


def everything(result) -> dict:
    c = result.counters
    return {"codes": result.codes, "outputs": result.outputs, "ticks": result.ticks,
            "neuron_spikes": c.neuron_spikes, "input_spikes": c.input_spikes, "sops": c.sops,
            "core_cycles": c.core_cycles, "link_flits": c.link_flits, "tick_cycles": np.asarray(c.tick_cycles),
            "instructions": c.instructions, "max_hops": c.max_hops, "sample_spikes": c.sample_spikes,
            "sample_sops": c.sample_sops, "sample_input_spikes": c.sample_input_spikes,
            "neuron_codes": result.neuron_codes}


def assert_same_run(a, b) -> None:
    for key, value in everything(a).items():
        np.testing.assert_array_equal(value, everything(b)[key], err_msg=key)


@pytest.fixture
def pieces(monkeypatch):
    """How many pieces each threaded step shares out (so that a test knows the threads had work)."""
    counts = []
    real = stepper_module.Stepper._all

    def counting(self, pieces):
        if self._pool is not None:
            counts.append(len(pieces))
        return real(self, pieces)

    monkeypatch.setattr(stepper_module.Stepper, "_all", counting)
    return counts


@pytest.mark.parametrize("lanes", [1, 3])
def test_threads_change_nothing_in_a_pipeline_of_levels(lanes, pieces):
    rng = np.random.default_rng(8)
    layers = [random_stem_layer(rng, 10, 9), random_stem_layer(rng, 9, 7), random_stem_layer(rng, 7, 4)]
    sim = Simulator(dense_stem_network(load_target("darwin3"), layers, per_core=2))
    x = rng.integers(0, 256, size=(9, 10)).astype(np.uint8)
    one = sim.run(x, lanes=lanes, threads=1, record_codes=True)
    assert one.counters.neuron_spikes.any() and one.counters.sample_sops.any()
    assert not pieces
    for threads in (2, 3, 8):
        for window in (None, 1, 5):
            assert_same_run(sim.run(x, lanes=lanes, threads=threads, window=window, record_codes=True), one)
    assert max(pieces) >= 6  # 3 levels x 2 or more parts of the window, or as many slices


def test_the_numpy_engine_tick_by_tick_equals_the_kernel_s_runs_of_ticks(monkeypatch):
    """The stepper runs a slice's ticks in one compiled call (window_kernel.py) on the kernel and
    tick by tick on the numpy engine: the same run, for any threads and window (windows that cut
    the last ticks of the run, where a slice's levels at work change within a step)."""
    rng = np.random.default_rng(3)
    layers = [random_stem_layer(rng, 8, 7), random_stem_layer(rng, 7, 6), random_stem_layer(rng, 6, 3)]
    image = dense_stem_network(load_target("darwin3"), layers, per_core=2)
    x = rng.integers(0, 256, size=(5, 8)).astype(np.uint8)
    runs = {}
    for engine in ("numpy", "kernel"):
        monkeypatch.setattr(executor, "ENGINE", engine)
        sim = Simulator(image)
        runs[engine] = [sim.run(x, lanes=lanes, threads=threads, window=window, record_codes=True)
                        for lanes, threads, window in ((1, 1, None), (2, 2, 7), (1, 3, 5), (1, 2, 1))]
    assert runs["numpy"][0].counters.neuron_spikes.any()
    for a, b in zip(runs["numpy"], runs["kernel"]):
        assert_same_run(a, b)


def test_with_threads_each_window_closes_beside_the_next_step_s_deliveries(monkeypatch):
    """Every window is closed once, in order, and (but the last) in the pool beside the next
    step's deliveries; progress is reported once per window, in order, up to every tick."""
    rng = np.random.default_rng(8)
    layers = [random_stem_layer(rng, 10, 9), random_stem_layer(rng, 9, 7), random_stem_layer(rng, 7, 4)]
    sim = Simulator(dense_stem_network(load_target("darwin3"), layers, per_core=2))
    x = rng.integers(0, 256, size=(6, 10)).astype(np.uint8)
    closed = []
    real = stepper_module.Stepper._close_window

    def recording(self, window):
        closed.append((window, threading.current_thread().name.startswith("sdannc-sim")))
        return real(self, window)

    monkeypatch.setattr(stepper_module.Stepper, "_close_window", recording)
    reported = []
    result = sim.run(x, threads=2, window=4, progress=lambda done, total: reported.append((done, total)))
    windows = -(-result.ticks // 4)
    assert [w for w, _ in closed] == list(range(windows)) and windows >= 3
    assert all(in_pool for _, in_pool in closed[:-1]) and not closed[-1][1]
    assert reported == [(0, result.ticks)] + [(min(4 * (w + 1), result.ticks), result.ticks) for w in range(windows)]
    closed.clear()
    sim.run(x, threads=1, window=4)
    assert [w for w, _ in closed] == list(range(windows)) and not any(in_pool for _, in_pool in closed)


def test_threads_change_nothing_in_a_convolution_and_a_compiled_network(pieces):
    rng = np.random.default_rng(12)
    sim = Simulator(conv_stem_network(load_target("darwin3"), random_stem_conv(rng, 3, 5), 6, 7))
    x = rng.integers(0, 256, size=(5, 3, 6, 7)).astype(np.uint8)
    assert_same_run(sim.run(x, threads=2), sim.run(x, threads=1))
    digits = sdannc.compile(ROOT / "examples" / "digits_mlp_q.onnx")
    x = np.load(ROOT / "examples" / "digits_input.npy")[:12]
    sim = Simulator(digits.image)
    assert_same_run(sim.run(x, threads=2, lanes=2), sim.run(x, threads=1, lanes=2))
    assert pieces


def test_the_api_s_threads_give_the_same_report(small_image):
    one = sdannc.simulate(small_image.path, small_image.x, threads=1)
    two = sdannc.simulate(small_image.path, small_image.x, threads=2)
    assert np.array_equal(one.outputs, two.outputs)
    assert one.report == two.report


def test_slices_are_whole_cores_of_about_equal_neurons():
    from sdannc.sim.layout import RunnerBlock

    block = RunnerBlock(None, 0, 10, np.arange(4), np.zeros(4, dtype=np.int64), np.asarray([0, 4, 5, 6, 10]))
    assert stepper_module.Stepper._member_slices(block, 0, 4, 1) == [(0, 4)]
    assert stepper_module.Stepper._member_slices(block, 0, 4, 2) == [(0, 2), (2, 4)]
    for n in range(1, 9):  # contiguous, every member once, never more slices than threads
        slices = stepper_module.Stepper._member_slices(block, 0, 4, n)
        assert slices[0][0] == 0 and slices[-1][1] == 4 and len(slices) <= n
        assert all(a[1] == b[0] for a, b in zip(slices, slices[1:]))
    even = RunnerBlock(None, 0, 8, np.arange(4), np.zeros(4, dtype=np.int64), np.asarray([0, 2, 4, 6, 8]))
    assert stepper_module.Stepper._member_slices(even, 0, 4, 4) == [(0, 1), (1, 2), (2, 3), (3, 4)]
    assert stepper_module.Stepper._member_slices(even, 1, 3, 2) == [(1, 2), (2, 3)]  # members 1 and 2 only
    assert stepper_module.Stepper._member_slices(even, 2, 3, 2) == [(2, 3)]


def test_each_step_shares_out_only_the_levels_at_work():
    """In the pipeline's fill and drain a step runs a few levels: those are what the threads share,
    in slices of about equal neurons (not slices of every level, most of them idle)."""
    rng = np.random.default_rng(8)
    layers = [random_stem_layer(rng, 10, 8), random_stem_layer(rng, 8, 8), random_stem_layer(rng, 8, 8)]
    sim = Simulator(dense_stem_network(load_target("darwin3"), layers, per_core=2))
    x = rng.integers(0, 256, size=(2, 10)).astype(np.uint8)
    layout = stepper_module.Layout(sim.image, sim.target, sim.network, sim.n_neurons, sim.core_base,
                                   sim.output_global)
    blocks = sim._runners(1)
    ticks = sim.image.schedule.ticks_for(2)
    stepper = stepper_module.Stepper(layout, blocks, np.zeros((1, 2, 10), dtype=np.int64), ticks, 4, threads=2)
    assert stepper.top >= 2
    for step in range(stepper.windows + stepper.top):
        lowest, highest = max(0, step - (ticks - 1) // 4), min(step, stepper.top)
        for block, slices in zip(blocks, stepper._step_slices(step)):
            at_work = np.flatnonzero((block.levels >= lowest) & (block.levels <= highest))
            members = [m for a, b in slices for m in range(a, b)]
            assert members == at_work.tolist()
            if at_work.size >= 2:  # two threads, two slices of equal neurons (the cores are of 2 here)
                assert len(slices) == 2
                sizes = [block.bounds[b] - block.bounds[a] for a, b in slices]
                assert abs(sizes[0] - sizes[1]) <= 2
