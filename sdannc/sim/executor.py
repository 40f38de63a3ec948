"""Run one core program over many neurons at once, one tick at a time.

Two engines compute the same results bit for bit. The default, "kernel", runs the program
compiled (program_kernel.py, numba). The reference, "numpy", is this module: the program is decoded
once and each instruction is one numpy operation over all neurons (and lanes) that share the
program. While every neuron takes the same branch the whole array moves together; where a
data-dependent jump splits them, neurons are stepped by program counter, lowest first (the usual
SIMT reconvergence), with each instruction applied under a mask.

Registers and the flag start at zero every tick; what a neuron keeps between ticks lives in its
state fields (LDS/STS/LOAD/STORE). Semantics: isa/*.yaml, arithmetic: sdannc/arith.py.
"""

from __future__ import annotations

import copy

import numpy as np

from ..errors import SdanncError
from ..isa import Instr
from .. import arith

# A program that runs this many instructions per neuron in one tick is taken to loop forever.
_STEP_LIMIT_PER_WORD = 64

# The engine of runners built without one: "kernel" (compiled) or "numpy" (the reference).
ENGINE = "kernel"
ENGINES = ("kernel", "numpy")


class _Registers:
    """Registers that start at zero every tick, without clearing them all every tick.

    Arrays come from a buffer kept across ticks; a register not yet written this tick reads as a
    shared array of zeros, and is cleared only if its first write is masked.
    """

    def __init__(self, buffer: np.ndarray, zeros: np.ndarray) -> None:
        self.buffer, self.zeros = buffer, zeros
        self.live = [False] * buffer.shape[0]

    def __getitem__(self, reg: int) -> np.ndarray:
        return self.buffer[reg] if self.live[reg] else self.zeros

    def target(self, reg: int, masked: bool) -> np.ndarray:
        """The array to write register `reg` into."""
        if not self.live[reg]:
            if masked:
                self.buffer[reg].fill(0)
            self.live[reg] = True
        return self.buffer[reg]


class _Context:
    """The per-tick machine state the instruction semantics operate on."""

    def __init__(self, runner: "ProgramRunner", wgtsum: np.ndarray) -> None:
        self.runner = runner
        # numpy integers, not Python ints: np.clip then skips its per-call range checks
        self.low, self.high = (np.int64(v) for v in arith.signed_range(runner.register_bits))
        shape = wgtsum.shape
        self.regs = _Registers(*runner.register_buffers(shape))
        self.flag = np.zeros(shape, dtype=bool)
        self.fired = np.zeros(shape, dtype=bool)
        self.wgtsum = wgtsum
        self.state = runner.state
        self.mask: np.ndarray | None = None  # None: every neuron executes

    def _put(self, array: np.ndarray, value) -> None:
        if self.mask is None:
            array[...] = value
        else:
            np.copyto(array, value, where=self.mask)  # one pass, no gathers

    def write(self, reg: int, value) -> None:
        """Saturate to the register width (arith.saturate) and store, in place where unmasked."""
        target = self.regs.target(reg, self.mask is not None)
        if self.mask is None:
            np.clip(value, self.low, self.high, out=target)
        else:
            self._put(target, np.clip(value, self.low, self.high))

    def set_flag(self, value) -> None:
        self._put(self.flag, value)

    def fire(self, value) -> None:
        self._put(self.fired, self.fired | value)

    def dendrite_sum(self, shift: int) -> np.ndarray:
        return arith.shift_right_round(self.wgtsum, shift)


# ---- instruction semantics, keyed by mnemonic ---------------------------------------------------

def _cmp(ctx: _Context, i: Instr) -> None:
    a, b = ctx.regs[i["rs"]], ctx.regs[i["rt"]]
    mode = i["mode"]
    if mode.endswith("0"):
        mode, b = mode[:-1], 0
    ops = {"GE": np.greater_equal, "EQ": np.equal, "GT": np.greater, "LT": np.less, "NE": np.not_equal}
    ctx.set_flag(ops[mode](a, b))


def _sfti(ctx: _Context, i: Instr) -> None:
    value, amount = ctx.regs[i["rs"]], i["amount"]
    if i["dir"] == "L":
        ctx.write(i["rs"], value << amount)
    elif i["round"] == "RND":
        ctx.write(i["rs"], arith.shift_right_round(value, amount))
    elif i["round"] == "RNE":
        ctx.write(i["rs"], arith.shift_right_even(value, amount))
    else:
        ctx.write(i["rs"], arith.shift_right_trunc(value, amount))


def _logic(ctx: _Context, i: Instr) -> None:
    a, b = ctx.regs[i["rs"]], ctx.regs[i["rt"]]
    ops = {"AND": lambda: a & b, "OR": lambda: a | b, "XOR": lambda: a ^ b, "NOT": lambda: ~b}
    ctx.write(i["rs"], ops[i["op"]]())


def _lds(ctx: _Context, i: Instr) -> None:
    for reg in ctx.runner.state_block:
        ctx.write(reg, ctx.state[reg])


def _sts(ctx: _Context, i: Instr) -> None:
    for reg in ctx.runner.state_block:
        ctx._put(ctx.state[reg], ctx.regs[reg])


def _fire(ctx: _Context, i: Instr) -> None:
    rs, threshold = i["rs"], ctx.regs[i["rt"]]
    crossed = ctx.regs[rs] >= threshold
    ctx.set_flag(crossed)
    ctx.fire(crossed)
    if i["reset"] == "ZERO":
        ctx.write(rs, np.where(crossed, 0, ctx.regs[rs]))
    elif i["reset"] == "SUB":
        ctx.write(rs, np.where(crossed, ctx.regs[rs] - threshold, ctx.regs[rs]))


def _spike(ctx: _Context, i: Instr) -> None:
    ctx.fire(np.ones_like(ctx.flag) if i["mode"] == "ALWAYS" else ctx.flag)


def _lut(ctx: _Context, i: Instr) -> None:
    """rs = the neuron's core's lookup memory at rt (clamped to 0..lut_words-1): row lut_of[neuron]
    of ProgramRunner.lut, which holds the words written (the simulator keeps no more): the rest read 0."""
    runner = ctx.runner
    index = np.clip(ctx.regs[i["rt"]], 0, max(runner.lut_words - 1, 0))
    rows = runner.lut.shape[1]
    value = runner.lut[runner.lut_of, np.minimum(index, max(rows - 1, 0))] if rows > 0 else 0
    ctx.write(i["rs"], np.where(index < rows, value, 0))


def _macw(ctx: _Context, i: Instr) -> None:
    """The two-word accumulator plus rs * rt * 2^shift (arith.multiply_accumulate)."""
    high, low = ctx.runner.accumulator
    words = arith.multiply_accumulate(ctx.regs[high], ctx.regs[low], ctx.regs[i["rs"]], ctx.regs[i["rt"]],
                                      i["shift"], ctx.runner.register_bits)
    ctx.write(high, words[0])
    ctx.write(low, words[1])


def _sftw(ctx: _Context, i: Instr) -> None:
    high, low = ctx.runner.accumulator
    ctx.write(i["rs"], arith.shift_two_words(ctx.regs[high], ctx.regs[low], i["amount"], i["round"],
                                             ctx.runner.register_bits))


def _store(ctx: _Context, i: Instr) -> None:
    ctx._put(ctx.state[i["field"]], ctx.regs[i["rs"]])


SEMANTICS = {
    "NOP": lambda ctx, i: None,
    "ADD": lambda ctx, i: ctx.write(i["rs"], ctx.regs[i["rs"]] + ctx.regs[i["rt"]]),
    "SUB": lambda ctx, i: ctx.write(i["rs"], ctx.regs[i["rs"]] - ctx.regs[i["rt"]]),
    "MUL": lambda ctx, i: ctx.write(i["rs"], arith.fixed_multiply(ctx.regs[i["rs"]], ctx.regs[i["rt"]], i["shift"])),
    "MULT": lambda ctx, i: ctx.write(i["rs"], np.multiply(ctx.regs[i["rs"]], ctx.regs[i["rt"]], dtype=np.int64) >> i["shift"]),
    "ADDI": lambda ctx, i: ctx.write(i["rs"], ctx.regs[i["rs"]] + i["imm"]),
    "SFTI": _sfti,
    "CMP": _cmp,
    "MOV": lambda ctx, i: ctx.write(i["rs"], ctx.regs[i["rt"]]),
    "LOGIC": _logic,
    "LOAD": lambda ctx, i: ctx.write(i["rs"], ctx.state[i["field"]]),
    "STORE": _store,
    "LDC": lambda ctx, i: ctx.write(i["rs"], ctx.runner.config[i["creg"]]),
    "MOVI": lambda ctx, i: ctx.write(i["rs"], i["imm"]),
    "SEL": lambda ctx, i: ctx.write(i["rs"], np.where(ctx.flag, ctx.regs[i["rt"]], ctx.regs[i["rs"]])),
    "LDS": _lds,
    "STS": _sts,
    "LDW": lambda ctx, i: ctx.write(i["rs"], ctx.dendrite_sum(i["shift"])),
    "LDWR": lambda ctx, i: ctx.write(i["rs"], ctx.wgtsum - (ctx.dendrite_sum(i["shift"]) << i["shift"])),
    "UPDV": lambda ctx, i: ctx.write(ctx.runner.membrane, ctx.regs[ctx.runner.membrane] + ctx.dendrite_sum(i["shift"])),
    "UPDS": lambda ctx, i: ctx.write(ctx.runner.membrane, ctx.regs[ctx.runner.membrane] + arith.scale_by_power(
        ctx.wgtsum, ctx.regs[i["rs"]] + i["imm"])),
    "FIRE": _fire,
    "SPIKE": _spike,
    "END": lambda ctx, i: None,
    "LUT": _lut,
    "MACW": _macw,
    "SFTW": _sftw,
}
_CONTROL = {"JC", "END"}


class _Operands(dict):
    """An instruction as the runner keeps it: operands by name in a dict (Instr looks them up in a
    tuple, a cost paid for every instruction of every tick), its cycle cost and its semantics."""

    def __init__(self, instr: Instr, cost: int) -> None:
        super().__init__(instr.operands)
        self.mnemonic = instr.mnemonic
        self.cost = cost
        self.run = SEMANTICS.get(instr.mnemonic)


class ProgramRunner:
    """All neurons that share one program: their state, and one tick of their execution.

    Arrays are [lanes, neurons]; `core_bounds` splits the neuron axis into cores for accounting.
    """

    def __init__(self, name, instrs, cycles, isa, target, config_rows, initial_state, core_bounds, lanes,
                 engine: str | None = None, lut: tuple[np.ndarray, np.ndarray] | None = None):
        missing = sorted({i.mnemonic for i in instrs} - set(SEMANTICS) - _CONTROL)
        if missing:
            raise SdanncError(f"{name}: the simulator has no semantics for {', '.join(missing)}")
        self.name = name
        self.costs = np.asarray([cycles[i.mnemonic] for i in instrs], dtype=np.int64)
        self.instrs = [_Operands(i, int(c)) for i, c in zip(instrs, self.costs)]
        self.register_bits = target.arith["register_bits"]
        self.n_registers = isa.registers
        self.membrane = isa.fixed_registers["membrane"]
        self.state_block = list(isa.fixed_registers["state_block"])
        self.accumulator = tuple(isa.fixed_registers.get("accumulator", (0, 0)))  # MACW / SFTW's pair
        # LUT reads the core's lookup memory, one per core (a core's neurons share it): `lut` is
        # (memories [cores, words written], each neuron's memory [neurons]). Without it, rows after
        # the configuration registers of config_rows are each neuron's own memory.
        config_bits = int(target.core["config_registers"])
        if lut is None:
            config_rows = np.asarray(config_rows)
            lut = (np.ascontiguousarray(config_rows[config_bits:].T, dtype=np.int64),
                   np.arange(config_rows.shape[1], dtype=np.int64))
            config_rows = config_rows[:config_bits]
        self.lut, self.lut_of = np.ascontiguousarray(lut[0], dtype=np.int64), np.asarray(lut[1], dtype=np.int64)
        if self.lut.ndim != 2 or self.lut.shape[0] == 0:
            self.lut = np.zeros((1, 0), dtype=np.int64)
            self.lut_of = np.zeros(np.shape(config_rows)[1], dtype=np.int64)
        self.config = config_rows  # [config_registers, neurons], broadcast over lanes
        self.lut_words = int(target.core.get("lut_words", 0))
        # state fields x lanes x neurons
        self.state = np.repeat(initial_state.T[:, None, :], lanes, axis=1).astype(np.int64)
        self.core_bounds = np.asarray(core_bounds, dtype=np.int64)  # start index of each core
        self.step_limit = _STEP_LIMIT_PER_WORD * max(len(self.instrs), 1)
        self._registers = np.empty((self.n_registers,) + self.state.shape[1:], dtype=np.int64)
        self._zeros = np.zeros(self.state.shape[1:], dtype=np.int64)
        self._zeros.flags.writeable = False
        self.engine = ENGINE if engine is None else engine
        if self.engine not in ENGINES:
            raise SdanncError(f"{name}: unknown program engine {self.engine!r} (known: {', '.join(ENGINES)})")
        self.engine_note = ""  # why the kernel does not run this program, when it does not
        if self.engine == "kernel":
            self.engine_note = self._encode()
            if self.engine_note:
                self.engine = "numpy"

    def _encode(self) -> str:
        """Prepare the kernel's table; what keeps the kernel from this program, if anything."""
        try:
            from . import program_kernel
        except ImportError as e:  # numba is a dependency; without it the simulator still runs
            return f"numba is not available ({e})"
        config = np.asarray(self.config)
        if config.dtype.kind not in "iu" or not np.can_cast(config.dtype, np.int64):
            return f"configuration of dtype {config.dtype}"
        try:
            self._table = program_kernel.encode(
                self.instrs, self.costs, n_registers=self.n_registers, n_fields=self.state.shape[0],
                n_config=config.shape[0], state_block=self.state_block, membrane=self.membrane,
                register_bits=self.register_bits, lut=(self.lut_words, self.lut.shape[1]),
                accumulator=self.accumulator)
        except program_kernel.NotEncodable as e:
            return str(e)
        self._clear = program_kernel.registers_to_clear(self._table, self.state_block, self.membrane)
        self._state_block = np.asarray(self.state_block, dtype=np.int64)
        self._low_high = arith.signed_range(self.register_bits)
        # The kernel indexes whole C-order arrays (views would be strided for it): the state this
        # runner created (so self.state is updated in place, never replaced), the configuration as
        # given or a C-order int64 copy (it is only read), and where this runner's neurons start in
        # them (view() moves it).
        self._whole = (self.state, np.ascontiguousarray(config, dtype=np.int64), 0)
        self._lut_whole = (self.lut if self.lut.shape[1] else np.zeros((1, 1), dtype=np.int64),
                           np.ascontiguousarray(self.lut_of))
        self._bounds_fit = self._kernel_bounds()
        return ""

    def _kernel_bounds(self) -> bool:
        """Whether every core has neurons (the kernel's cycle sums assume it; the numpy engine's
        two paths treat an empty core differently, and keep doing so)."""
        b = self.core_bounds
        return b.size > 0 and b[0] >= 0 and bool(np.all(np.diff(b) > 0)) and b[-1] < self.n_neurons

    def register_buffers(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Register storage and a zero register for [lanes, neurons] = shape (this runner's)."""
        if shape != self._zeros.shape:
            raise SdanncError(f"{self.name}: dendrite sums of shape {shape} for {self._zeros.shape} neurons")
        return self._registers, self._zeros

    @property
    def n_neurons(self) -> int:
        return self.state.shape[2]

    def view(self, lo: int, hi: int) -> "ProgramRunner":
        """The runner over its neurons lo..hi (whole cores). Arrays are shared: state updates stay."""
        sub = copy.copy(self)
        sub.config = self.config[:, lo:hi]
        sub.lut_of = self.lut_of[lo:hi]
        sub.state = self.state[:, :, lo:hi]
        sub._registers = self._registers[:, :, lo:hi]
        sub._zeros = self._zeros[:, lo:hi]
        first, last = np.searchsorted(self.core_bounds, [lo, hi])
        sub.core_bounds = self.core_bounds[first:last] - lo
        if sub.engine == "kernel":
            state, config, start = self._whole
            sub._whole = (state, config, start + lo)
            sub._bounds_fit = sub._kernel_bounds()
        return sub

    def run_tick(self, wgtsum: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """One tick. Returns (fired [lanes, neurons], cycles [lanes, cores], instructions executed).

        Both engines count alike. Instructions executed: one for every instruction a neuron of a
        lane executes, JC and END included (on the numpy engine's uniform path that is steps x
        lanes x neurons; once a jump splits the neurons, the steps before it x lanes x neurons plus
        the neurons of each masked step). Cycles: the cost of every instruction a neuron executes,
        summed over the neurons of each core.

        The kernel runs unless the runner's program is the numpy engine's (engine, engine_note),
        the dendrite sums are not int64, there are none, or a core has no neurons."""
        if self.engine == "kernel" and self._bounds_fit and wgtsum.size and wgtsum.dtype == np.int64:
            return self._run_kernel(wgtsum)
        return self._run_numpy(wgtsum)

    def kernel_arguments(self) -> tuple | None:
        """program_kernel.run_tick's arguments but the dendrite sums, for a caller that runs ticks
        in compiled code (window_kernel.py) on int64 sums; None where run_tick would take the numpy
        engine (its rule, above)."""
        if not (self.engine == "kernel" and self._bounds_fit and self._zeros.size):
            return None
        from . import program_kernel as pk

        state, config, start = self._whole
        lut, lut_of = self._lut_whole
        return (self._table, self._clear, self._state_block, state, config, lut, lut_of, start, self.core_bounds,
                self.n_registers, *self._low_high, self.step_limit, pk.CHUNK)

    def check_outcome(self, outcome: int) -> None:
        """Raise the error of a kernel's outcome (program_kernel.OK, STEP_LIMIT or RAN_PAST)."""
        from . import program_kernel as pk

        if outcome == pk.STEP_LIMIT:
            raise self._endless()
        if outcome == pk.RAN_PAST:
            raise self._ran_past()

    def _endless(self) -> SdanncError:
        return SdanncError(f"{self.name}: program did not reach END within {self.step_limit} instructions")

    def _ran_past(self) -> SdanncError:
        return SdanncError(f"{self.name}: program ran past its last word without END")

    def _run_kernel(self, wgtsum: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        from . import program_kernel as pk

        if wgtsum.shape != self._zeros.shape:
            raise SdanncError(f"{self.name}: dendrite sums of shape {wgtsum.shape} for {self._zeros.shape} neurons")
        low, high = self._low_high
        state, config, start = self._whole
        lut, lut_of = self._lut_whole
        fired, cycles, executed, outcome = pk.run_tick(
            self._table, self._clear, self._state_block, np.ascontiguousarray(wgtsum), state, config, lut, lut_of,
            start, self.core_bounds, self.n_registers, low, high, self.step_limit, pk.CHUNK)
        self.check_outcome(outcome)
        return fired.view(np.bool_), cycles, int(executed)

    def _run_numpy(self, wgtsum: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        ctx = _Context(self, wgtsum)
        pc, steps, cycles = 0, 0, 0
        while True:  # uniform control flow: the whole array moves together
            steps += 1
            if steps > self.step_limit:
                raise self._endless()
            instr = self.instrs[pc]
            cycles += instr.cost
            if instr.mnemonic == "END":
                per_core = cycles * np.diff(np.append(self.core_bounds, self.n_neurons))
                per_lane = np.broadcast_to(per_core, (wgtsum.shape[0], per_core.size)).copy()
                return ctx.fired, per_lane, steps * wgtsum.size
            if instr.mnemonic == "JC":
                taken = self._condition(ctx, instr)
                if taken.all():
                    pc = instr["addr"]
                    continue
                if taken.any():
                    return self._run_divergent(ctx, np.where(taken, instr["addr"], pc + 1), cycles, steps)
                pc += 1
                continue
            instr.run(ctx, instr)
            pc += 1
            if pc >= len(self.instrs):
                raise self._ran_past()

    def _condition(self, ctx: _Context, instr: Instr) -> np.ndarray:
        cond = instr["cond"]
        if cond == "ALWAYS":
            return np.ones_like(ctx.flag)
        return ctx.flag if cond == "FLAG" else ~ctx.flag

    def _run_divergent(self, ctx: _Context, pcs: np.ndarray, cycles_so_far: int, steps: int):
        """Neurons at different program counters: step the lowest counter first, under a mask."""
        lanes = pcs.shape[0]
        done = np.zeros(pcs.shape, dtype=bool)
        per_neuron = np.full(pcs.shape, cycles_so_far, dtype=np.int64)
        executed = steps * pcs.size
        budget = self.step_limit - steps
        while not done.all():
            budget -= 1
            if budget < 0:
                raise self._endless()
            pc = int(pcs[~done].min())
            mask = (pcs == pc) & ~done
            instr = self.instrs[pc]
            np.add(per_neuron, self.costs[pc], out=per_neuron, where=mask)
            executed += int(mask.sum())
            if instr.mnemonic == "END":
                done |= mask
                continue
            if instr.mnemonic == "JC":
                taken = self._condition(ctx, instr)
                pcs = np.where(mask, np.where(taken, instr["addr"], pc + 1), pcs)
                continue
            ctx.mask = mask
            SEMANTICS[instr.mnemonic](ctx, instr)
            ctx.mask = None
            if pc + 1 >= len(self.instrs):
                raise self._ran_past()
            pcs = np.where(mask, pc + 1, pcs)
        per_core = np.add.reduceat(per_neuron, self.core_bounds, axis=1) if self.n_neurons else per_neuron
        return ctx.fired, per_core.reshape(lanes, -1), executed
