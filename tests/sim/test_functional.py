"""The functional engine (sim/functional.py) against the cycle engine, with ==: outputs, every
counter, every layer's recorded codes and the whole report, on every model family of tests/models.py
on both targets, sparsified, calibrated, with the paper's shift-and-add, with lookup and product
neurons, depthwise and residual blocks, for several lanes and windows; and `sdannc sim --engine`."""

from __future__ import annotations

import json

import numpy as np
import pytest

import activation_models as am
import models
from cli_checks import assert_ok, assert_user_error, invoke
from sdannc.compiler import compile_in_memory
from sdannc.config import parse_config
from sdannc.errors import SdanncError
from sdannc.image import write_image
from sdannc.ir.ops import LUT, PRODUCT
from sdannc.sim import FunctionalSimulator, Simulator, simulator
from sdannc.sim.functional import _exact_dtype
from sdannc.sim.report import build_report
from sdannc.sparsify import Plan, Setting
from sdannc.target import load_target

VARIANTS = models.variants()
CASES = [(name, VARIANTS[(i + shift) % len(VARIANTS)], target)
         for i, name in enumerate(sorted(models.FLOAT_MODELS))
         for shift, target in ((1, "darwin3"), (4, "darwin3-wide"))]
COUNTERS = ("neuron_spikes", "input_spikes", "sops", "core_cycles", "link_flits", "sample_spikes", "sample_sops",
            "sample_input_spikes", "instructions", "max_hops")


def assert_same_runs(image, x, **options):
    """Both engines on one batch: outputs, codes, counters, recorded codes and report all equal."""
    cycle, functional = Simulator(image), FunctionalSimulator(image)
    a, b = cycle.run(x, record_codes=True, **options), functional.run(x, record_codes=True, **options)
    np.testing.assert_array_equal(b.outputs, a.outputs)
    np.testing.assert_array_equal(b.codes, a.codes)
    np.testing.assert_array_equal(b.neuron_codes, a.neuron_codes)
    assert (b.samples, b.lanes, b.ticks) == (a.samples, a.lanes, a.ticks)
    for name in COUNTERS:
        np.testing.assert_array_equal(getattr(b.counters, name), getattr(a.counters, name), err_msg=name)
    assert np.array_equal(np.asarray(b.counters.tick_cycles), np.asarray(a.counters.tick_cycles))
    report_a, report_b = build_report(cycle, a), build_report(functional, b)
    assert (report_a.pop("engine"), report_b.pop("engine")) == ("cycle", "functional")
    assert report_b == report_a
    assert a.counters.neuron_spikes.any() and a.counters.sops.any()  # the comparison is not of silence
    return a


@pytest.mark.parametrize("name, variant, target_name", CASES,
                         ids=[f"{n}-{models.variant_id(v)}-{t}" for n, v, t in CASES])
def test_every_family_gives_the_cycle_engines_run(name, variant, target_name):
    compiled = compile_in_memory(models.quantized(name, *variant), load_target(target_name))
    assert_same_runs(compiled.image, models.eval_set(models.float_model(name), 5))


@pytest.mark.parametrize("options", [{"lanes": 2}, {"lanes": 3, "window": 5}, {"window": 1}, {"window": 8}])
def test_lanes_and_windows_change_nothing(options):
    compiled = compile_in_memory(models.quantized("residual", "qop", True, "int8"), load_target("darwin3"))
    assert_same_runs(compiled.image, models.eval_set(models.float_model("residual"), 6), **options)


def test_sparsified_layers():
    plan = Plan(Setting(rot=2), {"conv2": Setting(drlo=3)})
    compiled = compile_in_memory(models.quantized("digits_cnn"), load_target("darwin3"), plan=plan)
    assert sum("sparsify" in n.attrs for n in compiled.graph.nodes) >= 2
    assert_same_runs(compiled.image, models.eval_set(models.float_model("digits_cnn"), 4))


@pytest.mark.parametrize("config", [None, {"integration": "horner"}], ids=["calibrated", "calibrated-horner"])
def test_calibrated_and_shift_and_add_integration(config):
    model = models.float_model("cnn_pool")
    plan = parse_config(config, "config <dict>") if config else None
    compiled = compile_in_memory(models.quantized("cnn_pool"), load_target("darwin3"), models.calib_set(model, 8),
                                 plan=plan)
    assert_same_runs(compiled.image, models.eval_set(model, 4))


@pytest.mark.parametrize("target_name", ["darwin3", "darwin3-wide"])
def test_lookup_neurons(target_name):
    path = am.quantized_net("small", "silu", "qdq", "uint8", False, (1, 8, 8))
    compiled = compile_in_memory(path, load_target(target_name))
    assert any(n.op == LUT or "table" in n.params for n in compiled.graph.nodes)
    assert_same_runs(compiled.image, am.inputs((1, 8, 8), 4, 7))


def test_product_neurons_and_depthwise_blocks():
    path = am.quantized_net("mobile", "mobilenetv3", "qdq", "uint8", False, (3, 16, 16), se=True)
    compiled = compile_in_memory(path, load_target("darwin3-wide"))
    assert any(n.op == PRODUCT for n in compiled.graph.nodes)
    assert_same_runs(compiled.image, am.inputs((3, 16, 16), 3, 7))


def test_one_sample():
    compiled = compile_in_memory(models.quantized("concat"), load_target("darwin3"))
    assert_same_runs(compiled.image, models.eval_set(models.float_model("concat"), 1))


def test_products_are_exact_in_the_float_they_choose():
    """float32 only below 2^24, float64 below 2^53, integers beyond."""
    assert _exact_dtype((1 << 24) - 1) == np.float32 and _exact_dtype(1 << 24) == np.float64
    assert _exact_dtype(1 << 53) is None


def test_cores_without_levels_are_refused_naming_the_other_engine():
    from test_sim_networks import _if_loop_image

    image = _if_loop_image(load_target("darwin3"))
    with pytest.raises(SdanncError, match=r"^image <loop>: its cores' connections have a cycle.*use --engine cycle$"):
        FunctionalSimulator(image, "<loop>")
    with pytest.raises(SdanncError, match=r"^engine 'fast': use cycle or functional$"):
        simulator(image, engine="fast")


def test_sim_command_gives_the_same_outputs_and_report_on_both_engines(tmp_path):
    compiled = compile_in_memory(models.quantized("cnn_pool"), load_target("darwin3"))
    write_image(compiled.image, tmp_path / "img")
    np.save(tmp_path / "x.npy", models.eval_set(models.float_model("cnn_pool"), 3))
    runs = {}
    for engine, executor in (("cycle", "kernel"), ("functional", "kernel"), ("functional", "numpy")):
        y, r = tmp_path / f"{engine}-{executor}.npy", tmp_path / f"{engine}-{executor}.json"
        assert_ok(invoke("sim", tmp_path / "img", "-i", tmp_path / "x.npy", "-o", y, "-r", r, "--engine", engine,
                         "--executor", executor, "-q"))
        report = json.loads(r.read_text())
        assert report.pop("engine") == engine
        runs[engine, executor] = (np.load(y), report)
    (y0, r0) = runs["cycle", "kernel"]
    for y, r in runs.values():
        np.testing.assert_array_equal(y, y0)
        assert r == r0
    assert_user_error(invoke("sim", tmp_path / "img", "-i", tmp_path / "x.npy", "-o", tmp_path / "y.npy",
                             "--engine", "numpy"), "'--engine'", "'numpy' is not one of 'cycle', 'functional'")


# ---- the levels that take one product a code (sim/linear.py) -----------------------------------


def _stem_program(**params):
    from sdannc.isa import assemble_template, load_isa
    from sdannc.neurons import NEURONS

    isa = load_isa("darwin3")
    return assemble_template(NEURONS["stem"].template, isa, params), isa


@pytest.mark.parametrize("params, linear", [
    ({}, True),  # the template as it stands: shift-and-add by 0
    ({"acc_shift": 0, "mul_op": "MUL", "out_shifts": []}, True),
    ({"acc_shift": 0, "sparsify": True, "lut": True}, True),
    ({"acc_shift": 2}, False),  # a per-tick rounding: each tick's sum matters
    ({"horner": False, "weighted": True}, False),  # UPDS scales each tick's sum apart
])
def test_only_the_exact_shift_and_add_is_linear(params, linear):
    from sdannc.sim.linear import linear_start_fields
    from sdannc.neurons import NEURONS

    instrs, isa = _stem_program(**params)
    form = linear_start_fields(instrs, isa)
    assert (form is not None) == linear
    if form is not None:
        stem = NEURONS["stem"]
        assert form == (stem.state["acc"], stem.state["init"], stem.config["last_phase"], stem.state["phase"])


def test_a_program_touching_the_sum_elsewhere_is_not_linear():
    from sdannc.isa import Instr
    from sdannc.sim.linear import linear_start_fields

    instrs, isa = _stem_program(acc_shift=0)
    assert linear_start_fields(instrs, isa) is not None
    at = next(k for k, i in enumerate(instrs) if i.mnemonic == "JC")
    for extra in (Instr.of("LDW", rs=6, shift=0), Instr.of("ADD", rs=0, rt=6)):  # the sum read again, acc moved
        changed = instrs[:at - 2] + [extra] + instrs[at - 2:]
        changed = [i if i.mnemonic != "JC" else Instr(i.mnemonic, tuple((k, v + 1 if k == "addr" else v)
                                                                         for k, v in i.operands)) for i in changed]
        assert linear_start_fields(changed, isa) is None, extra


def test_wide_target_levels_take_one_product_and_change_nothing():
    compiled = compile_in_memory(models.quantized("mlp_gemm"), load_target("darwin3-wide"))
    functional = FunctionalSimulator(compiled.image)
    assert all(lp.linear for lp in functional._products)
    x = models.eval_set(models.float_model("mlp_gemm"), 4)
    one = assert_same_runs(compiled.image, x)
    for window in (5, 7):  # windows that cut codes: every tick's product instead
        other = functional.run(x, window=window)
        np.testing.assert_array_equal(other.codes, one.codes)
        np.testing.assert_array_equal(other.counters.sample_spikes, one.counters.sample_spikes)
        assert np.array_equal(np.asarray(other.counters.tick_cycles), np.asarray(one.counters.tick_cycles))


def test_a_neuron_that_could_saturate_keeps_its_level_on_every_tick():
    """A start value near the register's limit: the bound fails, the level takes a product a tick,
    and still equals the cycle engine (which saturates)."""
    import copy

    compiled = compile_in_memory(models.quantized("mlp_gemm"), load_target("darwin3-wide"))
    image = copy.deepcopy(compiled.image)
    from sdannc.neurons import NEURONS

    stem = NEURONS["stem"]
    core = next(c for c in image.cores if c.stage == 1)
    core.state[:, stem.state["init"]] = core.state[:, stem.state["acc"]] = (1 << 23)
    functional = FunctionalSimulator(image)
    level = int(functional.network.core_level[image.cores.index(core)])
    assert not functional._products[level].linear
    assert sum(lp.linear for lp in functional._products) == len(functional._products) - 1
    assert_same_runs(image, models.eval_set(models.float_model("mlp_gemm"), 3))


def test_ticks_before_a_codes_last_are_computed_not_run(monkeypatch):
    """On the wide target's STEM levels the ticks before each code's last are emit-only
    (linear.emit_only_ticks): computed without the program, and the run is still the cycle engine's."""
    from sdannc.sim import functional
    from sdannc.sim.linear import emit_only_ticks
    from sdannc.isa import assemble_template, load_isa
    from sdannc.neurons import NEURONS

    instrs, isa = _stem_program(acc_shift=0, sparsify=True)
    assert emit_only_ticks(instrs, isa) is not None
    assert emit_only_ticks(*_stem_program(acc_shift=1)) is None
    adder = assemble_template(NEURONS["adder"].template, load_isa("darwin3"), {})
    assert emit_only_ticks(adder, load_isa("darwin3")) is None
    calls = []
    original = functional.FunctionalStepper._emit_ticks
    monkeypatch.setattr(functional.FunctionalStepper, "_emit_ticks",
                        lambda self, view, emit, slots, *args: calls.append(slots.size)
                        or original(self, view, emit, slots, *args))
    compiled = compile_in_memory(models.quantized("cnn_pool"), load_target("darwin3-wide"))
    assert_same_runs(compiled.image, models.eval_set(models.float_model("cnn_pool"), 4))
    assert sum(calls) > 100 and set(calls) == {compiled.image.schedule.bits - 1}  # a code's ticks before its last


@pytest.mark.parametrize("coding", ["ttfs", "rate"])
@pytest.mark.parametrize("name", ["mlp_gemm", "cnn_pool"])
def test_the_spike_codings_give_the_cycle_engines_run(name, coding):
    """A coding is other neuron programs and a longer window: the functional engine runs them as they are."""
    compiled = compile_in_memory(models.quantized(name), load_target("darwin3-wide"), plan=Plan(coding=coding))
    assert compiled.image.schedule.coding == coding
    assert_same_runs(compiled.image, models.eval_set(models.float_model(name), 2))


def test_the_emit_ticks_kernel_is_the_programs_own_ticks():
    """functional_kernel.emit_ticks against the executor running the STEM program's ticks before a
    code's last (zero sums), on random states that include values at the register's limits (the
    doubling acc and the shifted residue saturate), over several ticks and lanes."""
    from sdannc import arith
    from sdannc.sim import functional_kernel as fk
    from sdannc.sim.executor import ProgramRunner
    from sdannc.sim.linear import emit_only_ticks
    from sdannc.neurons import NEURONS

    instrs, isa = _stem_program(acc_shift=0)
    target = load_target("darwin3-wide")
    acc, phase, last_register, residue, threshold, _ = emit_only_ticks(instrs, isa)
    stem, lanes, n = NEURONS["stem"], 3, 40
    low, high = arith.signed_range(target.arith["register_bits"])
    rng = np.random.default_rng(5)
    state = rng.integers(-300, 300, size=(n, len(stem.state)), dtype=np.int64)
    state[:, acc] = rng.choice([0, 1, -7, high // 3, high, low // 3, low], size=n)
    state[:, residue] = rng.choice([0, 127, 128, 255, high // 2 + 1, high], size=n)
    state[:, threshold] = rng.choice([1, 128, 200], size=n)
    state[:, phase] = 0
    config = np.zeros((target.core["config_registers"], n), dtype=np.int64)
    config[last_register] = 7
    cycles = target.instruction_cycles(isa)
    runner = ProgramRunner("test", instrs, cycles, isa, target, config, state, [0], lanes)
    ours = runner.state.copy()
    ring = np.zeros((8, lanes, n + 2), dtype=bool)
    fk.emit_ticks(ours[acc], ours[phase], ours[residue], ours[threshold], config[last_register].copy(), low, high,
                  ring, np.arange(1, 8), 2)
    for t in range(1, 8):
        fired, _, _ = runner.run_tick(np.zeros((lanes, n), dtype=np.int64))
        np.testing.assert_array_equal(ring[t, :, 2:], fired.astype(bool), err_msg=f"tick {t}")
    np.testing.assert_array_equal(ours, runner.state)
    assert ring.any() and (runner.state[acc] == high).any() and (runner.state[acc] == low).any()


@pytest.mark.parametrize("limit", [1 << 12, 1 << 16])
def test_codes_as_two_nibbles_give_the_cycle_engines_run(monkeypatch, limit):
    """Where a code's product would not be exact in float32 but a nibble's would (large layers on the
    wide target), codes go in as 16 x high nibble + low nibble: with float32's limit lowered so that
    the small test layers take that path, the run is still the cycle engine's."""
    from sdannc.sim import functional

    monkeypatch.setattr(functional, "_FLOAT32_EXACT", limit)
    compiled = compile_in_memory(models.quantized("cnn_pool"), load_target("darwin3-wide"))
    engine = FunctionalSimulator(compiled.image)
    groups = [g for lp in engine._products if lp.linear for g in lp.dense]
    assert any(g.nibbles for g in groups)
    assert all(g.code_weights_t is g.weights_t for g in groups if g.nibbles)
    assert_same_runs(compiled.image, models.eval_set(models.float_model("cnn_pool"), 4))


# ---- the levels of integration exact (sim/exact_levels.py) ----------------------------------------
def test_exact_levels_run_no_program_and_change_nothing(monkeypatch):
    """On darwin3 the STEM levels of integration exact take one product a code and the search's
    rounds, no program; the pools still run theirs; the run is the cycle engine's, also with windows
    that cut codes (every level then runs its program) and with two lanes."""
    from sdannc.sim import functional

    compiled = compile_in_memory(models.quantized("cnn_pool"), load_target("darwin3"))
    engine = FunctionalSimulator(compiled.image)
    exact = [e is not None for e in engine._exact]
    assert any(exact) and not all(exact)  # the pool's level is not
    calls = []
    original = functional.FunctionalStepper._exact_window
    monkeypatch.setattr(functional.FunctionalStepper, "_exact_window",
                        lambda self, level, *args: calls.append(level) or original(self, level, *args))
    x = models.eval_set(models.float_model("cnn_pool"), 5)
    one = assert_same_runs(compiled.image, x)
    assert set(calls) == {level for level, e in enumerate(exact) if e}
    for options in ({"window": 5}, {"window": 16}, {"lanes": 2}):
        calls.clear()
        other = engine.run(x, **options)
        np.testing.assert_array_equal(other.codes, one.codes)
        np.testing.assert_array_equal(other.counters.sample_spikes, one.counters.sample_spikes)
        assert other.counters.instructions == one.counters.instructions or options.get("lanes")
        assert bool(calls) == (options.get("window") != 5)


def test_an_exact_level_out_of_its_bounds_runs_its_program():
    """A neuron whose state is not the model's (a phase that does not start at 0), or whose weights
    could saturate a tick's sum: its level is not taken as exact, and the run still equals the
    cycle engine's."""
    import copy

    from sdannc.isa import load_isa
    from sdannc.neurons import NEURONS
    from sdannc.sim.exact_levels import exact_level

    compiled = compile_in_memory(models.quantized("mlp_gemm"), load_target("darwin3"))
    image = copy.deepcopy(compiled.image)
    engine = FunctionalSimulator(image)
    level = next(lv for lv, e in enumerate(engine._exact) if e is not None)
    cores = np.flatnonzero(engine.network.core_level == level).tolist()
    isa, lp = load_isa(image.target.isa_name), engine._products[level]
    costs = np.ones(len(image.cores[cores[0]].program), dtype=np.int64)
    assert exact_level(image, cores, lp.weight_sums, isa, costs, 8) is not None
    assert exact_level(image, cores, lp.weight_sums + (1 << 23), isa, costs, 8) is None
    stem = NEURONS["stem"]
    image.cores[cores[0]].state[:, stem.exact_template.state["phase"]] = 3
    changed = FunctionalSimulator(image)
    assert changed._exact[level] is None
    assert_same_runs(image, models.eval_set(models.float_model("mlp_gemm"), 3))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_exact_search_is_the_programs_own(seed):
    """exact_levels.core_search and functional_kernel.exact_search / exact_spikes against the executor
    running stem_exact.s tick by tick, on lookup memories the compiler would not write: unsorted
    thresholds, low words off their canonical range, words at the register's limits, records near
    the memory's end (addresses clamped, words past it 0), and random dendrite sums."""
    from sdannc import arith
    from sdannc.isa import assemble_template, load_isa
    from sdannc.neurons import NEURONS
    from sdannc.sim import functional_kernel as fk
    from sdannc.sim.exact_levels import core_search
    from sdannc.sim.executor import ProgramRunner

    target, isa, stem = load_target("darwin3"), load_isa("darwin3"), NEURONS["stem"]
    instrs = assemble_template(stem.exact_template, isa, {})
    low, high = arith.signed_range(target.arith["register_bits"])
    sum_high = arith.signed_range(target.arith["dendrite_sum_bits"])[1]
    rng = np.random.default_rng(seed)
    words = 2 * 512 + 40
    lut = rng.integers(-4, 5, size=words)
    lut[1::2] = rng.choice([-(1 << 14), -(1 << 13) - 1, -(1 << 13), -5, 0, 7, (1 << 13) - 1, 1 << 13, high],
                           size=lut[1::2].size)
    lut[:512:2] = np.sort(rng.integers(-3, 4, size=256))  # table 0: high words sorted, low words not
    lut[600:700] = rng.choice([low, high, -1, 1], size=100)
    n, lanes, n_codes = 48, 2, 4
    records = np.arange(1024, 1024 + 3 * 12, 3)
    lut[records] = rng.choice([0, 512, 980, 1 << 11], size=records.size)  # table bases, one past the memory
    lut[records + 1] = rng.integers(-6, 7, size=records.size)
    lut[records + 2] = rng.integers(-(1 << 13), 1 << 13, size=records.size)
    record = rng.choice(records, size=n)
    fields, config_of = stem.exact_template.state, stem.exact_template.config
    state = np.zeros((n, len(stem.state)), dtype=np.int64)
    state[:, fields["acc_shift"]] = record
    config = np.zeros((target.core["config_registers"], n), dtype=np.int64)
    config[config_of["last_phase"]] = 7
    runner = ProgramRunner("test", instrs, target.instruction_cycles(isa), isa, target, config, state, [0], lanes,
                           lut=(lut[None, :], np.zeros(n, dtype=np.int64)))
    sums = rng.integers(-sum_high // 300, sum_high // 300, size=(n_codes * 8, lanes, n))
    sums[8:16] = rng.choice([-sum_high // 255, 0, sum_high // 255], size=(8, lanes, n))
    fired = np.stack([runner.run_tick(sums[t])[0].astype(bool) for t in range(n_codes * 8)])

    bias, thresholds, table_of = core_search(lut, record, int(target.core["lut_words"]), (low, high), 8)
    weights = (1 << (7 - np.arange(8)))[None, :, None, None]
    t = (sums.reshape(n_codes, 8, lanes, n) * weights).sum(axis=1)  # [codes, lanes, n] the exact sums
    codes = np.empty((n, n_codes * lanes), dtype=np.int64)
    fk.exact_search(np.ascontiguousarray(t.transpose(2, 0, 1).reshape(n, -1)), bias, thresholds, table_of, 8, codes)
    ring = np.zeros((n_codes * 8, lanes, n), dtype=bool)
    carried = np.full((lanes, n), -1, dtype=np.int64)
    pre = thresholds[table_of, 0] <= 0
    for w in range(2):  # two windows of two codes: the carried code crosses the window
        cols = slice(2 * w * lanes, 2 * (w + 1) * lanes)
        fk.exact_spikes(np.ascontiguousarray(codes[:, cols]), carried, pre, np.asarray([[0, n, 0]]), ring,
                        np.arange(16 * w, 16 * (w + 1)), 8)
    np.testing.assert_array_equal(ring, fired)
    assert fired.any() and not fired.all() and len(np.unique(codes)) > 4


# ---- code products on onnxruntime's integer kernels (sim/integer_products.py) ---------------------
def test_integer_products_are_exact_at_the_extremes():
    """Codes 255 against weights -128 and 127 over long rows (where u8 x s8 pairs of whole codes would
    saturate 16 bits on a CPU without VNNI): the nibble products equal the int64 product; weights
    beyond int8 keep the float path."""
    from sdannc.sim.functional import GroupProduct
    from sdannc.sim.integer_products import LevelSession, integer_group

    rng = np.random.default_rng(3)
    rows, taps, carried, columns = 700, 6, 3, 9
    weights = rng.choice([-128, 127, -1, 0, 5], size=(rows, taps))
    weights[:, 0], weights[:, 1] = -128, 127
    gather = np.arange(rows * carried)
    gather[rng.choice(gather.size, 50, replace=False)] = -1  # entries no packet fills: zero
    targets = np.arange(taps * carried).reshape(taps, carried)
    g = GroupProduct(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64),
                     carried, weights.T.astype(np.float32), targets, None, gather, integer=integer_group(weights))
    assert g.integer and not integer_group(weights * 2) and not integer_group(np.full((2, 2), -129))
    codes = rng.choice([0, 1, 15, 16, 128, 240, 255], size=(rows * carried, columns)).astype(np.float32)
    codes[:, 0] = 255
    local = np.zeros((taps * carried, columns), dtype=np.int64)
    LevelSession([g]).add(np.ascontiguousarray(codes.T.astype(np.uint8)), local)  # [columns, sources]
    padded = np.concatenate([codes.astype(np.int64), np.zeros((1, columns), dtype=np.int64)])
    m = padded[gather].reshape(rows, carried, columns)  # M[r, c] the source of row r, carried index c
    expected = np.einsum("rt,rcj->tcj", weights, m).reshape(taps * carried, columns)
    np.testing.assert_array_equal(local, expected)
    assert abs(expected[:carried, 0]).max() > 255 * 128 * 2  # beyond 16 bits


def test_code_products_take_the_integer_kernels(monkeypatch):
    """The STEM levels' code products go to onnxruntime's integer kernels (int8 weights), on both
    targets, and the runs are the cycle engine's."""
    from sdannc.sim import integer_products

    calls = []
    original = integer_products.LevelSession.add
    monkeypatch.setattr(integer_products.LevelSession, "add",
                        lambda self, codes, local: calls.append(codes.shape) or original(self, codes, local))
    for target_name in ("darwin3", "darwin3-wide"):
        calls.clear()
        compiled = compile_in_memory(models.quantized("cnn_pool"), load_target(target_name))
        assert_same_runs(compiled.image, models.eval_set(models.float_model("cnn_pool"), 4))
        assert calls, target_name


def test_a_level_of_exact_cores_and_relays_runs_each_part_its_way():
    """darwin3's residual block: a level holds integration exact's cores and the shorter branch's
    relays (STEM shift-and-add); the exact cores run no program, the relays take one product a
    code, and the run is the cycle engine's."""
    compiled = compile_in_memory(models.quantized("residual"), load_target("darwin3"))
    engine = FunctionalSimulator(compiled.image)
    mixed = [e for e in engine._exact if e is not None and e.rest.cores.size]
    assert mixed and all(e.rest.linear for e in mixed)
    assert_same_runs(compiled.image, models.eval_set(models.float_model("residual"), 4))


@pytest.mark.parametrize("target_name", ["darwin3", "darwin3-wide"])
def test_max_pools_run_no_program_and_change_nothing(target_name, monkeypatch):
    """The bit-serial max's levels (max_neuron.s) take the largest of their inputs' codes, no
    program, on both targets; the run is the cycle engine's; inputs that are not one bit each, or a
    state that is not the model's, keep the program."""
    import copy

    import scipy.sparse as sp

    from sdannc.isa import load_isa
    from sdannc.neurons import NEURONS
    from sdannc.sim import functional
    from sdannc.sim.exact_levels import max_level

    compiled = compile_in_memory(models.quantized("cnn_pool"), load_target(target_name))
    engine = FunctionalSimulator(compiled.image)
    pools = [level for level, e in enumerate(engine._exact) if e is not None and e.kind == "max"]
    assert pools
    calls = []
    original = functional.FunctionalStepper._exact_window
    monkeypatch.setattr(functional.FunctionalStepper, "_exact_window",
                        lambda self, level, *args: calls.append(level) or original(self, level, *args))
    assert_same_runs(compiled.image, models.eval_set(models.float_model("cnn_pool"), 4))
    assert set(pools) <= set(calls)
    e = engine._exact[pools[0]]
    cores, isa = e.products.cores.tolist(), load_isa(compiled.image.target.isa_name)
    costs = np.ones(len(compiled.image.cores[cores[0]].program), dtype=np.int64)
    inputs = sp.csr_matrix(e.products.code_sparse)
    assert max_level(compiled.image, cores, inputs, isa, costs, 8) is not None
    three = inputs.copy()
    three.data[0] = 3  # two bits: the program would see a sum, not a set
    assert max_level(compiled.image, cores, three, isa, costs, 8) is None
    image = copy.deepcopy(compiled.image)
    image.cores[cores[0]].state[:, NEURONS["max"].state["candidates"]] = 1
    assert FunctionalSimulator(image)._exact[pools[0]] is None
    assert_same_runs(image, models.eval_set(models.float_model("cnn_pool"), 3))


# ---- idle columns: the pipeline's fill and drain (sim/idle.py) -------------------------------------
def test_known_columns_are_matched_by_their_source_codes():
    from sdannc.sim.idle import IdleLevel

    known = np.asarray([[0, 3, 5], [1, 3, 5]], dtype=np.uint8)
    level = IdleLevel(known, np.asarray([[7, 8]]), None)
    codes = np.asarray([[1, 3, 5], [0, 3, 5], [0, 3, 4], [1, 3, 5]], dtype=np.uint8)
    np.testing.assert_array_equal(level.match(codes), [1, 0, -1, 1])


@pytest.mark.parametrize("name, target_name, part", [("residual", "darwin3", "codes"),
                                                     ("residual", "darwin3", "sums"),
                                                     ("cnn_pool", "darwin3-wide", "sums"),
                                                     ("cnn_pool", "darwin3-wide", "codes")])
def test_idle_columns_take_their_known_results_and_change_nothing(name, target_name, part, monkeypatch):
    """Columns whose sources carry the codes of a run without samples (fill and drain) take that
    run's codes (exact levels, pools) or sums (linear levels, relays) without a product: one sample
    per call, several samples, two lanes and windows of 16 ticks equal the cycle engine's; a run
    takes fewer product columns than it has; and a wrong known result changes the run (the
    shortcut is taken where the comparison would see it)."""
    from sdannc.sim import functional

    compiled = compile_in_memory(models.quantized(name), load_target(target_name))
    x = models.eval_set(models.float_model(name), 4)
    for options in ({}, {"lanes": 2}, {"window": 16}):
        assert_same_runs(compiled.image, x, **options)
    assert_same_runs(compiled.image, x[:1])
    engine = FunctionalSimulator(compiled.image)
    one = {"window": 16}  # whole codes but the last window's: the linear levels take one product a code
    right = engine.run(x[:1], record_codes=True, **one)
    columns = []
    original = functional.FunctionalStepper._add_code_products
    monkeypatch.setattr(functional.FunctionalStepper, "_add_code_products",
                        classmethod(lambda cls, lp, codes, local: columns.append(codes.shape[0])
                                    or original(lp, codes, local)))
    again = engine.run(x[:1], **one)
    np.testing.assert_array_equal(again.codes, right.codes)
    known = [level for level in engine._idle if level is not None and getattr(level, part) is not None]
    assert known
    n_codes = right.ticks // 8
    with_known = sum(level is not None for level in engine._idle)
    assert 0 < sum(columns) < n_codes * with_known // 2  # most of a one-sample run is fill and drain
    for level in known:  # a wrong idle result: other codes, or sums 1000 off
        values = getattr(level, part)
        values[:] = 255 - values if part == "codes" else values + 1000
    wrong = engine.run(x[:1], record_codes=True, **one)
    assert not (np.array_equal(wrong.counters.neuron_spikes, right.counters.neuron_spikes)
                and np.array_equal(wrong.neuron_codes, right.neuron_codes))  # fill and drain spike, samples too
