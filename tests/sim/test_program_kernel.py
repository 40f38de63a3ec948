"""The compiled program kernel (sdannc/sim/program_kernel.py) against the numpy engine it replaces.

Everything is compared with ==: fired, cycles per core, instructions executed, the state after
every tick, and the errors. Neurons get values near and beyond the register limits, so that
saturation happens, and different values, so that jumps split them.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from sdannc.errors import SdanncError
from handbuilt import dense_stem_network, random_stem_layer
from sdannc.isa import Instr, assemble, assemble_file, load_isa
from sdannc.resources import data_dir
from sdannc.sim import Simulator, executor
from sdannc.sim import program_kernel as pk
from sdannc.sim.executor import ProgramRunner
from sdannc.target import load_target

ISA = load_isa()
CYCLES = {spec.mnemonic: spec.cycles for spec in ISA.instructions}
TARGETS = ["darwin3", "darwin3-wide"]
PROGRAMS = sorted((data_dir("isa") / "programs").glob("*.s"))


def _values(rng, shape, bits: int) -> np.ndarray:
    """Small values, any value of `bits`, values at the limits, and values beyond them."""
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    kinds = rng.integers(0, 4, size=shape)
    small = rng.integers(-8, 9, size=shape)
    anywhere = rng.integers(lo, hi + 1, size=shape)
    limits = np.where(rng.integers(0, 2, size=shape) == 1, hi, lo) + rng.integers(-3, 4, size=shape)
    beyond = rng.integers(lo * 8, hi * 8, size=shape)
    return np.choose(kinds, [small, anywhere, limits, beyond]).astype(np.int64)


def _bounds(rng, n: int) -> list[int]:
    """Core starts: a split of n neurons into cores of at least one neuron."""
    cores = int(rng.integers(1, min(n, 6) + 1))
    return [0] + sorted(rng.choice(np.arange(1, n), size=cores - 1, replace=False).tolist()) if n > 1 else [0]


def _runners(instrs, target, config, state, bounds, lanes):
    runners = [ProgramRunner("p", instrs, CYCLES, ISA, target, config, state, bounds, lanes, engine=e)
               for e in ("numpy", "kernel")]
    assert runners[1].engine == "kernel", runners[1].engine_note
    return runners


def _outcome(runner, wgtsum):
    """(fired, cycles, executed) of a tick, or the message of the error it raised."""
    try:
        return runner.run_tick(wgtsum.copy())
    except SdanncError as e:
        return str(e)


def _assert_same(reference, kernel) -> None:
    if isinstance(reference, str) or isinstance(kernel, str):
        assert kernel == reference
        return
    (fired_a, cycles_a, executed_a), (fired_b, cycles_b, executed_b) = reference, kernel
    assert fired_b.dtype == fired_a.dtype == bool and fired_b.shape == fired_a.shape
    assert np.array_equal(fired_a, fired_b)
    assert cycles_b.dtype == cycles_a.dtype and np.array_equal(cycles_a, cycles_b)
    assert type(executed_b) is int and executed_a == executed_b


def _tick(runners, wgtsum):
    """One tick on both engines: the same results and states, or the same error. Returns the
    kernel's outcome (an error message is a str)."""
    reference, kernel = (_outcome(r, wgtsum) for r in runners)
    _assert_same(reference, kernel)
    if not isinstance(kernel, str):
        assert np.array_equal(runners[0].state, runners[1].state)
    return kernel


def _example_data(target, n, seed):
    rng = np.random.default_rng(seed)
    bits = target.arith["register_bits"]
    config = _values(rng, (target.core["config_registers"] + target.core["lut_words"], n), bits)  # + the lookup memory
    config[0] = 7  # last phase, as the programs read it
    config[1:4] = rng.integers(-4, 300, size=(3, n))
    state = _values(rng, (n, target.core["state_fields"]), bits)
    state[:, 1] = np.where(rng.integers(0, 4, size=n) > 0, 128, state[:, 1])  # thresholds, mostly 128
    state[:, 2] = rng.integers(0, 8, size=n)  # phases differ: the emit branch splits the neurons
    state[:, 3] = np.where(rng.integers(0, 2, size=n) == 1, 0, state[:, 3])  # ttfs: not fired yet
    return rng, config, state


# ---- the example programs ------------------------------------------------------------------------

@pytest.mark.parametrize("target_name", TARGETS)
@pytest.mark.parametrize("path", PROGRAMS, ids=[p.stem for p in PROGRAMS])
def test_example_programs_run_alike_on_both_engines(path, target_name):
    target = load_target(target_name)
    instrs = assemble_file(path, ISA)
    n, lanes = 700, 2
    rng, config, state = _example_data(target, n, 17)
    runners = _runners(instrs, target, config, state, [0, 5, 256, 300, 301, 640], lanes)
    sum_bits = target.arith["dendrite_sum_bits"]
    fired = 0
    for tick in range(16):
        sums = _values(rng, (lanes, n), sum_bits) if tick % 2 else rng.integers(-20, 60, size=(lanes, n))
        outcome = _tick(runners, sums)
        assert not isinstance(outcome, str), outcome
        fired += outcome[0].sum()
    assert fired, "some neuron should fire"


@pytest.mark.parametrize("chunk", [1, 7, 256])
def test_stem_program_with_any_chunk_size(monkeypatch, chunk):
    """Chunks split cores and lanes anywhere; neurons of a core may be in several chunks."""
    monkeypatch.setattr(pk, "CHUNK", chunk)
    target = load_target("darwin3")
    instrs = assemble_file(data_dir("isa") / "programs" / "stem_neuron.s", ISA)
    n, lanes = 90, 3
    rng, config, state = _example_data(target, n, 5)
    runners = _runners(instrs, target, config, state, [0, 4, 50, 89], lanes)
    for _ in range(9):
        _tick(runners, _values(rng, (lanes, n), 24))


def test_views_share_the_state_and_count_their_own_cores():
    """The stepper runs slices of a runner's cores: views, whose state updates land in the runner."""
    target = load_target("darwin3")
    instrs = assemble_file(data_dir("isa") / "programs" / "stem_neuron.s", ISA)
    n, lanes = 600, 2
    rng, config, state = _example_data(target, n, 9)
    bounds = [0, 37, 300, 301, 450]
    runners = _runners(instrs, target, config, state, bounds, lanes)
    slices = [(37, 301), (0, 37), (301, 600), (450, 600), (0, 600)]
    views = [[r.view(lo, hi) for r in runners] for lo, hi in slices]
    inner = [v.view(263, 264) for v in views[0]]  # a view of a view: the core 300..301
    assert inner[1].engine == "kernel" and inner[1].core_bounds.tolist() == [0]
    for _ in range(4):
        for (lo, hi), pair in zip(slices, views):
            _tick(pair, _values(rng, (lanes, hi - lo), 24))
            assert np.array_equal(runners[0].state, runners[1].state)
        _tick(inner, _values(rng, (lanes, 1), 24))
        _tick(runners, _values(rng, (lanes, n), 24))


def test_count_rule_on_a_split_program():
    """Executed: one per instruction a neuron executes, JC and END included; cycles likewise."""
    target = load_target("darwin3")
    source = """
        LDS
        CMP R1, R1, EQ0
        JC FLAG, skip
        MUL R0, R0, 4
        MUL R0, R0, 4
    skip:
        END
    """
    instrs = assemble(source, ISA)
    state = np.zeros((5, 8), dtype=np.int64)
    state[[1, 3], 1] = 1  # neurons 1 and 3 take the two MULs (2 cycles each), the others jump
    config = np.zeros((32, 5), dtype=np.int64)
    for engine in ("numpy", "kernel"):
        runner = ProgramRunner("p", instrs, CYCLES, ISA, target, config, state, [0, 2], 2, engine=engine)
        fired, cycles, executed = runner.run_tick(np.zeros((2, 5), dtype=np.int64))
        # every neuron: LDS (2 cycles), CMP, JC, END; neurons 1 and 3 also MUL, MUL
        assert executed == 2 * (5 * 4 + 2 * 2)
        assert cycles.tolist() == [[2 * 5 + 4, 3 * 5 + 4]] * 2


# ---- the step limit: counted over the whole array, as the numpy engine steps it -------------------

_TWO_LOOPS = """
        LDS                     ; R0 trip count, R1 which loop
        CMP R1, R1, EQ0
        JC FLAG, second
    first:
        ADDI R0, -1
        CMP R0, R0, EQ0
        JC NFLAG, first
        JC ALWAYS, out
    second:
        ADDI R0, -1
        CMP R0, R0, EQ0
        JC NFLAG, second
    out:
        END
"""

_LOOP_THEN_RUN_PAST = """
        LDS
        CMP R1, R1, EQ0
        JC FLAG, past
    loop:
        ADDI R0, -1
        NOP
        CMP R0, R0, EQ0
        JC NFLAG, loop
        END
    past:
        ADDI R2, 1              ; the last word, and no END
"""


@pytest.mark.parametrize("chunk", [1, 256])
@pytest.mark.parametrize("source, trips, error", [
    (_TWO_LOOPS, 100, None),  # 3 + 300 + 1 + 300 + 1 steps: within 64 x 11 = 704
    (_TWO_LOOPS, 150, "did not reach END within 704"),  # each loop alone would be within it
    (_LOOP_THEN_RUN_PAST, 142, "ran past its last word"),  # at step 3 + 568 + 1 + 1 <= 576
    (_LOOP_THEN_RUN_PAST, 143, "did not reach END within 576"),  # the loop alone takes the 576
])
def test_step_limit_counts_the_steps_of_the_whole_array(monkeypatch, chunk, source, trips, error):
    """Neurons in different chunks loop one after the other, as in the numpy engine, whose step
    count is what the limit bounds; chunk 1: every neuron alone in its chunk."""
    monkeypatch.setattr(pk, "CHUNK", chunk)
    target = load_target("darwin3")
    state = np.zeros((2, 8), dtype=np.int64)
    state[:, 0] = trips
    state[0, 1] = 1  # neuron 0 takes the first loop; neuron 1 the second loop (or runs past)
    runners = _runners(assemble(source, ISA), target, np.zeros((32, 2), np.int64), state, [0], 1)
    reference = _outcome(runners[0], np.zeros((1, 2), dtype=np.int64))
    if error is None:
        assert not isinstance(reference, str)
    else:
        assert error in reference
    _tick(runners, np.zeros((1, 2), dtype=np.int64))


def test_endless_loop_stops_at_the_step_limit_on_both_engines():
    target = load_target("darwin3")
    instrs = assemble("top:\n ADDI R0, 1\n JC ALWAYS, top\n END", ISA)
    runners = _runners(instrs, target, np.zeros((32, 3), np.int64), np.zeros((3, 8), np.int64), [0], 1)
    messages = []
    for runner in runners:
        with pytest.raises(SdanncError, match="did not reach END within 192 instructions") as e:
            runner.run_tick(np.zeros((1, 3), dtype=np.int64))
        messages.append(str(e.value))
    assert messages[0] == messages[1]


# ---- random programs ------------------------------------------------------------------------------
# Registers are not compared; what a program computes is seen through the state and the spikes. So
# the programs below load R0..R7 from the state first and store them back last (SPIKE IFFLAG shows
# the flag), and their instructions use R0..R7 mostly.

_LOAD_ALL = "LDS\nLOAD R4, 4\nLOAD R5, 5\nLOAD R6, 6\nLOAD R7, 7"
_STORE_ALL = "SPIKE IFFLAG\nSTS\nSTORE R4, 4\nSTORE R5, 5\nSTORE R6, 6\nSTORE R7, 7"
_PLAIN = [s for s in ISA.instructions if s.mnemonic not in ("JC", "END")]
_TESTS = [ISA.spec("CMP"), ISA.spec("CMP"), ISA.spec("FIRE")]  # what sets the flag


def _operand(draw, field, length: int):
    if field.kind in ("enum", "table"):
        return draw(st.sampled_from(field.choices))
    if field.kind == "reg":
        return draw(st.one_of(st.integers(0, 7), st.integers(0, 7), st.integers(0, 7), st.integers(0, ISA.registers - 1)))
    if field.kind == "sint":
        half = 1 << (field.width - 1)
        return draw(st.integers(-half, half - 1))
    if field.kind == "addr":
        return draw(st.integers(0, length - 1))
    if field.name == "field":  # the targets' 8 state fields
        return draw(st.integers(0, 7))
    if field.name in ("amount", "shift"):  # small shifts often: they round halves, RNE's ties
        return draw(st.one_of(st.integers(0, 3), st.integers(0, (1 << field.width) - 1)))
    return draw(st.integers(0, (1 << field.width) - 1))


def _instr(draw, spec, length: int = 1, **fixed) -> Instr:
    operands = {f.name: fixed[f.name] if f.name in fixed else _operand(draw, f, length) for f in spec.fields}
    return Instr.of(spec.mnemonic, **operands)


def _asm(text: str) -> list[Instr]:
    return assemble(text, ISA)


@st.composite
def single_instructions(draw):
    """One instruction between loading R0..R7 and storing them."""
    return _asm(_LOAD_ALL) + [_instr(draw, draw(st.sampled_from(_PLAIN)))] + _asm(_STORE_ALL + "\nEND")


@st.composite
def two_branches(draw):
    """A flag test and a jump that splits the neurons, different instructions on each side (each
    runs under a mask), then both meet again."""
    first = [_instr(draw, draw(st.sampled_from(_PLAIN))) for _ in range(draw(st.integers(0, 4)))]
    second = [_instr(draw, draw(st.sampled_from(_PLAIN))) for _ in range(draw(st.integers(0, 4)))]
    start = len(_asm(_LOAD_ALL)) + 2
    to_second, to_end = start + len(first) + 1, start + len(first) + 1 + len(second)
    return (_asm(_LOAD_ALL) + [_instr(draw, draw(st.sampled_from(_TESTS))),
                               _instr(draw, ISA.spec("JC"), cond=draw(st.sampled_from(["FLAG", "NFLAG"])), addr=to_second)]
            + first + [Instr.of("JC", cond="ALWAYS", addr=to_end)] + second + _asm(_STORE_ALL + "\nEND"))


@st.composite
def programs(draw):
    """Random instructions, flag tests followed by jumps forward and back (loops, endless ones
    too), an END anywhere; then the stores and END, or a last word that is not END (and runs past
    the end: not a jump, which the kernel leaves to the numpy engine)."""
    kinds = [draw(st.sampled_from(["test", "test", "jump", "plain", "plain", "plain", "end"]))
             for _ in range(draw(st.integers(0, 10)))]
    tail = _asm(_STORE_ALL + "\nEND") if draw(st.integers(0, 5)) else [_instr(draw, draw(st.sampled_from(_PLAIN)))]
    length = len(_asm(_LOAD_ALL)) + len(kinds) + kinds.count("test") + len(tail)
    body = list(_asm(_LOAD_ALL)) if draw(st.integers(0, 4)) else [Instr.of("NOP")] * len(_asm(_LOAD_ALL))
    for kind in kinds:
        if kind == "test":
            body.append(_instr(draw, draw(st.sampled_from(_TESTS))))
            kind = "jump"
        body.append(_instr(draw, {"plain": draw(st.sampled_from(_PLAIN)), "jump": ISA.spec("JC"),
                                  "end": ISA.spec("END")}[kind], length))
    return body + tail


def _run_random(instrs, target_name, seed, n, lanes, chunk):
    """Both engines, three ticks or up to the first error; statistics on what happened."""
    target = load_target(target_name)
    rng = np.random.default_rng(seed)
    bits = target.arith["register_bits"]
    config = _values(rng, (target.core["config_registers"] + target.core["lut_words"], n), bits)  # + the lookup memory
    state = _values(rng, (n, target.core["state_fields"]), bits)
    runners = _runners(instrs, target, config, state, _bounds(rng, n), lanes)
    split = []  # whether the numpy engine took its divergent path
    divergent = runners[0]._run_divergent
    runners[0]._run_divergent = lambda *args: (split.append(True), divergent(*args))[1]
    old = pk.CHUNK
    pk.CHUNK = chunk
    try:
        for _ in range(3):
            outcome = _tick(runners, _values(rng, (lanes, n), target.arith["dendrite_sum_bits"]))
            if isinstance(outcome, str):
                event("did not reach END" if "did not reach" in outcome else "ran past")
                break  # both raised the same error; the states after it need not agree
            event(f"fired: {bool(outcome[0].any())}")
    finally:
        pk.CHUNK = old
    event(f"split by a jump: {bool(split)}")


_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
_DATA = dict(target_name=st.sampled_from(TARGETS), seed=st.integers(0, 2**32 - 1),
             n=st.integers(2, 6) | st.integers(1, 40), lanes=st.integers(1, 3), chunk=st.sampled_from([1, 3, 16, 256]))


@settings(max_examples=600, **_SETTINGS)
@given(instrs=single_instructions(), **_DATA)
def test_single_instructions_run_alike_on_both_engines(instrs, target_name, seed, n, lanes, chunk):
    _run_random(instrs, target_name, seed, n, lanes, chunk)


@settings(max_examples=600, **_SETTINGS)
@given(instrs=two_branches(), **_DATA)
def test_split_programs_run_alike_on_both_engines(instrs, target_name, seed, n, lanes, chunk):
    _run_random(instrs, target_name, seed, n, lanes, chunk)


@settings(max_examples=600, **_SETTINGS)
@given(instrs=programs(), **_DATA)
def test_random_programs_run_alike_on_both_engines(instrs, target_name, seed, n, lanes, chunk):
    _run_random(instrs, target_name, seed, n, lanes, chunk)


# ---- what the kernel leaves to the numpy engine ---------------------------------------------------

def test_programs_the_kernel_cannot_take_run_on_numpy():
    target = load_target("darwin3")
    for source in ("LOAD R0, 12\n END",  # a state field beyond the 8 the target has
                   "CMP R0, R0, EQ\n END\n JC FLAG, 0"):  # a conditional jump in the last word
        runner = ProgramRunner("p", assemble(source, ISA), CYCLES, ISA, target, np.zeros((32, 2), np.int64),
                               np.zeros((2, 8), np.int64), [0], 1)
        assert runner.engine == "numpy" and runner.engine_note


def test_every_example_program_runs_on_the_kernel():
    target = load_target("darwin3")
    rows = target.core["config_registers"] + target.core["lut_words"]  # with the lookup memory (LUT)
    for path in PROGRAMS:
        runner = ProgramRunner(path.stem, assemble_file(path, ISA), CYCLES, ISA, target,
                               np.zeros((rows, 1), np.int64), np.zeros((1, 8), np.int64), [0], 1)
        assert runner.engine == "kernel", runner.engine_note


def test_registers_read_before_written_are_the_ones_cleared():
    source = """
        LDS
        CMP R4, R5, EQ          ; R4 and R5 never written: they read zero
        JC FLAG, later
        MOVI R6, 3
    later:
        ADD R0, R6              ; R6 written on one path only
        MOV R7, R0
        ADD R7, R1              ; R7 and R1 written on every path
        STS
        END
    """
    runner = ProgramRunner("p", assemble(source, ISA), CYCLES, ISA, load_target("darwin3"),
                           np.zeros((32, 1), np.int64), np.zeros((1, 8), np.int64), [0], 1)
    assert runner._clear.tolist() == [4, 5, 6]


# ---- a whole simulation ---------------------------------------------------------------------------

def test_simulations_are_equal_on_both_engines(monkeypatch):
    target = load_target("darwin3")
    rng = np.random.default_rng(21)
    image = dense_stem_network(target, [random_stem_layer(rng, 24, 16), random_stem_layer(rng, 16, 6)], per_core=5)
    x = rng.integers(0, 256, size=(7, 24)).astype(np.uint8)
    runs = {}
    for engine in ("numpy", "kernel"):
        monkeypatch.setattr(executor, "ENGINE", engine)
        runs[engine] = Simulator(image).run(x, lanes=2)
    a, b = runs["numpy"], runs["kernel"]
    np.testing.assert_array_equal(a.codes, b.codes)
    for name in ("neuron_spikes", "core_cycles", "sops", "link_flits", "tick_cycles", "instructions"):
        np.testing.assert_array_equal(np.asarray(getattr(a.counters, name)), np.asarray(getattr(b.counters, name)),
                                      err_msg=name)
    assert a.counters.instructions > 0
