"""One tick of a neuron program, compiled: a numba kernel that runs any encoded program.

`encode` turns the decoded program into an int64 table, one row per instruction (an op code of
this module, operands, cycle cost); `run_tick` runs one tick of it over all lanes x neurons. It
computes what executor.py's numpy engine computes (that engine is the reference, and tests compare
the two with ==); only the order of the work differs:

- The neurons are taken in chunks of CHUNK (one lane each). A chunk has its own registers (32 KB,
  so they stay in the L1 cache), flag and program counter per neuron. While all of its neurons
  are at the same program counter the chunk moves as one; after a data-dependent jump splits it,
  the lowest counter goes first, under a mask (the SIMT rule of the numpy engine), until the
  neurons meet again. Each instruction is one branch-free loop over the chunk (vector code); under
  a mask the same loop runs, and what the instruction writes is saved before and put back after
  for the neurons that do not execute it.
- Registers are not cleared for every chunk: only those some path may read before writing them
  (`registers_to_clear`); the others hold a previous chunk's values, which no result depends on.
- Every neuron executes the same instructions as in the numpy engine, so `fired`, the state, the
  cycles (each neuron's executed costs, summed per core) and the count of executed instructions
  (one per neuron per executed instruction, JC and END included) are equal.
- The step limit counts the numpy engine's steps: one per group of neurons stepped together over
  the whole [lanes, neurons] array. A subset of the neurons steps through its own lowest-first
  schedule whatever the others do (the others only make it wait), so the whole array's schedule is
  the merge of the chunks' schedules: take the lowest head, pop it from every chunk that has it.
  Each chunk records its schedule; `_merge` folds them together, and the errors are those the
  numpy engine raises: "ran past its last word" if a chunk ran past at a merged step within the
  limit, else the step limit if the merged schedule is longer than the limit.

Programs whose operands the table cannot hold safely (see `encode`) are left to the numpy engine.
"""

from __future__ import annotations

import numba
import numpy as np

CHUNK = 256  # neurons per chunk: 16 registers x 256 x 8 bytes = 32 KB (tests change it)

# Op codes of the table (this module's own numbering; the ISA's opcodes live in isa/*.yaml).
(NOP, ADD, SUB, MUL, MULT, ADDI, SFTI, CMP, MOV, LOGIC, LOAD, STORE, LDC, MOVI, SEL, LDS, STS, LDW,
 UPDV, FIRE, SPIKE, JC, END, LUT, UPDS, LDWR, MACW, SFTW) = range(28)
OPS = {name: code for code, name in enumerate(
    "NOP ADD SUB MUL MULT ADDI SFTI CMP MOV LOGIC LOAD STORE LDC MOVI SEL LDS STS LDW UPDV FIRE SPIKE JC END LUT UPDS LDWR"
    " MACW SFTW".split())}
# Table columns: op code, register rs (the destination), register rt, a number (immediate, shift,
# amount, state field, configuration register or jump address), a mode (LUT: the lookup memory's
# size), CMP's "against zero" (LUT: the words of it the simulator holds), what the instruction
# writes (W_* bits), cycle cost. MACW: D and E the accumulator's high and low registers; SFTW: B
# and E.
OP, A, B, C, D, E, W, COST = range(8)
WIDTH = 8
W_REG, W_BLOCK, W_FLAG, W_FIRED, W_FIELD, W_FIELDS, W_PAIR = 1, 2, 4, 8, 16, 32, 64  # rs, R0..R3, flag, fired,
# field, fields 0..3, the accumulator pair (registers D and E)

# Operand codes. The "else" cases follow executor.py: an SFTI R that is neither RND nor RNE
# truncates, FIRE resets only for ZERO and SUB, SPIKE is unconditional only for ALWAYS, JC on
# anything but ALWAYS and FLAG jumps when the flag is clear.
SFTI_L, SFTI_RND, SFTI_RNE, SFTI_TRUNC = range(4)
CMP_MODES = {"GE": 0, "EQ": 1, "GT": 2, "LT": 3, "NE": 4}
LOGIC_OPS = {"AND": 0, "OR": 1, "XOR": 2, "NOT": 3}
RESETS = {"ZERO": 1, "SUB": 2}  # anything else: 0, no reset
JC_ALWAYS, JC_FLAG, JC_NFLAG = range(3)

# Run-time outcomes of the kernel.
OK, STEP_LIMIT, RAN_PAST = range(3)

_MAX_SHIFT = 62  # right shifts and rounding constants stay within int64
_MAX_LEFT = 31  # SFTI L of a register of at most 32 bits stays within int64
_MAX_IMM = 1 << 40


class NotEncodable(Exception):
    """The program has an operand the kernel does not take; the numpy engine runs it."""


def _reads_writes(op: int, row, state_block, membrane) -> tuple[set, set]:
    a, b, mode = int(row[A]), int(row[B]), int(row[D])
    if op in (ADD, SUB, MUL, MULT, LOGIC, SEL):
        return {a, b}, {a}
    if op == LUT:
        return {b}, {a}
    if op in (ADDI, SFTI):
        return {a}, {a}
    if op == CMP:
        return {a, b}, set()
    if op == MOV:
        return {b}, {a}
    if op in (LOAD, LDC, MOVI, LDW, LDWR):
        return set(), {a}
    if op == STORE:
        return {a}, set()
    if op == LDS:
        return set(), set(state_block)
    if op == STS:
        return set(state_block), set()
    if op == UPDV:
        return {membrane}, {membrane}
    if op == UPDS:  # B: the register that holds the shift
        return {membrane, b}, {membrane}
    if op == MACW:  # D, E: the accumulator
        return {a, b, int(row[D]), int(row[E])}, {int(row[D]), int(row[E])}
    if op == SFTW:  # B, E: the accumulator
        return {b, int(row[E])}, {a}
    if op == FIRE:
        return {a, b}, ({a} if mode else set())
    return set(), set()


def registers_to_clear(table: np.ndarray, state_block, membrane) -> np.ndarray:
    """Registers some neuron may read before writing them this tick (they must read zero).

    Forward data flow over the program: a register is surely written at an instruction when it is
    written on every path from the first one. The kernel clears only the registers returned.
    """
    n = table.shape[0]
    rw = [_reads_writes(int(row[OP]), row, state_block, membrane) for row in table]
    succ = []
    for pc, row in enumerate(table):
        op = int(row[OP])
        if op == END:
            succ.append([])
        elif op == JC:
            succ.append([int(row[C])] + ([] if row[D] == JC_ALWAYS else [pc + 1]))
        else:
            succ.append([pc + 1])
    written: list[set | None] = [None] * n  # surely written on entry; None: not reached yet
    written[0] = set()
    work = [0]
    while work:
        pc = work.pop()
        out = written[pc] | rw[pc][1]
        for s in succ[pc]:
            if s >= n:
                continue
            new = out if written[s] is None else written[s] & out
            if written[s] is None or new != written[s]:
                written[s] = set(new)
                work.append(s)
    clear = set()
    for pc in range(n):
        if written[pc] is not None:
            clear |= rw[pc][0] - written[pc]
    return np.asarray(sorted(clear), dtype=np.int64)


def encode(instrs, costs, *, n_registers: int, n_fields: int, n_config: int, state_block, membrane: int,
           register_bits: int, lut: tuple[int, int] = (0, 0), accumulator: tuple[int, int] = (0, 0)) -> np.ndarray:
    """The program as a table [instructions, WIDTH]; NotEncodable if the kernel should not run it.

    Left to the numpy engine (which fails, if at all, with its own IndexError or KeyError when the
    neurons get there): register, state field or configuration indices out of range, a jump beyond
    the program or a conditional one in its last word, unknown CMP or LOGIC modes, shifts and
    immediates beyond the ranges above, registers wider than 32 bits, a LUT without a lookup memory
    (`lut`: its size in words, and the words of it held), MACW / SFTW with an accumulator (its high
    and low registers) out of range. Decoded ISA words never are.
    """
    n = len(instrs)
    if n == 0:
        raise NotEncodable("empty program")
    if register_bits > 32:
        raise NotEncodable("registers wider than 32 bits")
    if not all(0 <= r < min(n_registers, n_fields) for r in state_block) or not 0 <= membrane < n_registers:
        raise NotEncodable("state block or membrane register out of range")
    table = np.zeros((n, WIDTH), dtype=np.int64)
    for pc, (i, cost) in enumerate(zip(instrs, costs)):
        try:
            table[pc] = _row(i, int(cost), pc == n - 1, n, n_registers, n_fields, n_config, membrane, lut,
                             accumulator)
        except KeyError as e:
            raise NotEncodable(f"{i.mnemonic} without operand {e}") from None
    return table


def _number(value, lo: int, hi: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise NotEncodable(f"operand {value!r} outside {lo}..{hi}")
    return value


def _row(i, cost: int, last: bool, n: int, n_registers: int, n_fields: int, n_config: int, membrane: int,
         lut: tuple[int, int], accumulator: tuple[int, int]) -> list[int]:
    op = OPS.get(i.mnemonic)
    if op is None:
        raise NotEncodable(f"unknown instruction {i.mnemonic}")
    row = [op, 0, 0, 0, 0, 0, 0, cost]
    if op in (ADD, SUB, MUL, MULT, CMP, MOV, LOGIC, SEL, FIRE, LUT, MACW):
        row[B] = _number(i["rt"], 0, n_registers - 1)
    if op in (ADD, SUB, MUL, MULT, ADDI, SFTI, CMP, MOV, LOGIC, LOAD, STORE, LDC, MOVI, SEL, LDW, LDWR, FIRE, LUT,
              MACW, SFTW):
        row[A] = _number(i["rs"], 0, n_registers - 1)
    if op in (MACW, SFTW):
        high, low = (_number(r, 0, n_registers - 1) for r in accumulator)
    if op in (MUL, MULT):
        row[C] = _number(i["shift"], 0, _MAX_SHIFT)
    elif op == MACW:  # the shifted product saturates: any shift below 63 is safe
        row[C], row[D], row[E] = _number(i["shift"], 0, _MAX_SHIFT), high, low
    elif op == SFTW:
        row[B], row[C], row[E] = high, _number(i["amount"], 0, _MAX_SHIFT), low
        row[D] = {"RND": SFTI_RND, "RNE": SFTI_RNE}.get(i["round"], SFTI_TRUNC)
    elif op in (ADDI, MOVI):
        row[C] = _number(i["imm"], -_MAX_IMM, _MAX_IMM)
    elif op == SFTI:
        if i["dir"] == "L":
            row[C], row[D] = _number(i["amount"], 0, _MAX_LEFT), SFTI_L
        else:
            row[C] = _number(i["amount"], 0, _MAX_SHIFT)
            row[D] = {"RND": SFTI_RND, "RNE": SFTI_RNE}.get(i["round"], SFTI_TRUNC)
    elif op == CMP:
        mode = i["mode"]
        against_zero = isinstance(mode, str) and mode.endswith("0")
        if (mode[:-1] if against_zero else mode) not in CMP_MODES:
            raise NotEncodable(f"CMP mode {mode!r}")
        row[D], row[E] = CMP_MODES[mode[:-1] if against_zero else mode], int(against_zero)
    elif op == LOGIC:
        if i["op"] not in LOGIC_OPS:
            raise NotEncodable(f"LOGIC op {i['op']!r}")
        row[D] = LOGIC_OPS[i["op"]]
    elif op in (LOAD, STORE):
        row[C] = _number(i["field"], 0, n_fields - 1)
    elif op == LDC:
        row[C] = _number(i["creg"], 0, n_config - 1)
    elif op in (LDW, LDWR):
        row[C] = _number(i["shift"], 0, _MAX_SHIFT)
    elif op == LUT:
        words, held = lut
        if words < 1:
            raise NotEncodable(f"LUT without a lookup memory ({words} words)")
        # E: the words of it the simulator holds (the words written; the rest read 0)
        row[D], row[E] = words, min(words, held)
    elif op == UPDV:
        row[A], row[C] = membrane, _number(i["shift"], 0, _MAX_SHIFT)
    elif op == UPDS:  # A: the membrane it writes, B: the register holding the shift, C: the immediate
        row[A], row[B], row[C] = membrane, _number(i["rs"], 0, n_registers - 1), _number(i["imm"], -64, 63)
    elif op == FIRE:
        row[D] = RESETS.get(i["reset"], 0)
    elif op == SPIKE:
        row[D] = int(i["mode"] == "ALWAYS")
    elif op == JC:
        row[C] = _number(i["addr"], 0, n - 1)
        row[D] = {"ALWAYS": JC_ALWAYS, "FLAG": JC_FLAG}.get(i["cond"], JC_NFLAG)
        if row[D] != JC_ALWAYS and last:
            raise NotEncodable("conditional jump in the last word")
    row[W] = _writes(op, row[D])
    return row


def _writes(op: int, mode: int) -> int:
    if op in (ADD, SUB, MUL, MULT, ADDI, SFTI, MOV, LOGIC, LOAD, LDC, MOVI, SEL, LDW, LDWR, UPDV, LUT, UPDS, SFTW):
        return W_REG
    return {MACW: W_PAIR, LDS: W_BLOCK, CMP: W_FLAG, FIRE: W_FLAG | W_FIRED | (W_REG if mode else 0), SPIKE: W_FIRED,
            STORE: W_FIELD, STS: W_FIELDS}.get(op, 0)


# ---- the kernel ---------------------------------------------------------------------------------
# One function that indexes whole arrays: slicing an array in numba makes a view, and views are
# reference counted (atomic operations that cost more than an instruction of a chunk). Every loop
# over a chunk is branch-free, so that it compiles to vector instructions. Under a mask the same
# loops run for the whole chunk: what the instruction writes is saved before and restored after
# for the neurons that do not execute it (the values computed for them are thrown away; integer
# operations with constant shifts cannot fault).

@numba.njit(cache=True)
def _sat(v, low, high):
    return min(max(v, low), high)


@numba.njit(cache=True)
def _round_shift(x, k):
    """arith.shift_right_round: (x + 2^(k-1)) >> k, x itself for k = 0."""
    if k == 0:
        return x
    return (x + (np.int64(1) << (k - 1))) >> k


@numba.njit(cache=True)
def _scale_by_power(x, s):
    """arith.scale_by_power: x * 2^-s, right shifts rounding half to even, s clamped to -31..62."""
    s = min(max(s, -31), 62)
    if s <= 0:
        return x << -s
    floor = x >> s
    rest = x - (floor << s)
    half = np.int64(1) << (s - 1)
    return floor + ((rest > half) | ((rest == half) & ((floor & 1) == 1)))


@numba.njit(cache=True)
def _shift_mode(x, k, mode):
    """arith.shift_right_mode: x >> k, floored (TRUNC), rounded half up (RND) or half to even (RNE),
    without overflow for any int64 x."""
    floor = x >> k
    if k == 0 or mode == SFTI_TRUNC:
        return floor
    rest = x - (floor << k)
    half = np.int64(1) << (k - 1)
    if mode == SFTI_RND:
        return floor + np.int64(rest >= half)
    return floor + np.int64((rest > half) | ((rest == half) & ((floor & 1) == 1)))


@numba.njit(cache=True)
def _merge(a, na, a_err, b, nb, b_err, out, cap):
    """Two lowest-first schedules merged into out (at most cap steps); a step is in error if it is
    the last step of a schedule that ran past its last word. Returns (steps, ends in error)."""
    i = 0
    j = 0
    n = 0
    while (i < na or j < nb) and n < cap:
        if i < na and (j >= nb or a[i] <= b[j]):
            m = a[i]
        else:
            m = b[j]
        hit = False
        if i < na and a[i] == m:
            hit = hit or (a_err and i == na - 1)
            i += 1
        if j < nb and b[j] == m:
            hit = hit or (b_err and j == nb - 1)
            j += 1
        out[n] = m
        n += 1
        if hit:
            return n, True
    return n, False


@numba.njit(cache=True)
def _keep(new, old, a):
    """new where a is 1, old where it is 0 (without a branch, so that loops of it vectorize)."""
    return old + ((new - old) & -np.int64(a))


@numba.njit(cache=True, inline="always")
def _save_or_put_back(live, at, saved, act, c, restore):
    """Save live[at:at + c] (restore False), or put the saved values back where act is 0 (restore True)."""
    if restore:
        for k in range(c):
            live[at + np.uint64(k)] = _keep(live[at + np.uint64(k)], saved[k], act[k])
    else:
        for k in range(c):
            saved[k] = live[at + np.uint64(k)]


@numba.njit(cache=True)
def _save_restore(restore, w, a, num, pair_high, pair_low, c, lane, un, uj, regs, flag, fired, state, state_block,
                  act, saved_regs, saved_flag, saved_fired, saved_state):
    """Before a masked instruction (restore False): save what it writes (table column W); after it
    (restore True): put the saved values back where act is 0."""
    zero = np.uint64(0)
    if w & W_REG:
        _save_or_put_back(regs[a], zero, saved_regs[a], act, c, restore)
    if w & W_PAIR:
        _save_or_put_back(regs[pair_high], zero, saved_regs[pair_high], act, c, restore)
        _save_or_put_back(regs[pair_low], zero, saved_regs[pair_low], act, c, restore)
    if w & W_BLOCK:
        for r in state_block:
            _save_or_put_back(regs[r], zero, saved_regs[r], act, c, restore)
    if w & W_FLAG:
        _save_or_put_back(flag, zero, saved_flag, act, c, restore)
    if w & W_FIRED:
        _save_or_put_back(fired[lane], un, saved_fired, act, c, restore)
    if w & (W_FIELD | W_FIELDS):
        for f in state_block if w & W_FIELDS else np.full(1, num):
            _save_or_put_back(state[f, lane], uj, saved_state[f], act, c, restore)


@numba.njit(cache=True, nogil=True)  # nogil: slices of the cores run in threads at once (stepper.py)
def run_tick(table, clear, state_block, wgtsum, state, config, lut, lut_of, lo, core_bounds, n_registers, low,
             high, step_limit, chunk):
    """One tick over wgtsum's [lanes, n] neurons.

    state [fields, lanes, N], config [registers, N] and lut_of [N] (each neuron's row of the lookup
    memories lut [cores, words]) are whole arrays (C order), the tick's neurons at lo..lo + n. core_bounds: strictly increasing, below n (neurons before the first
    bound belong to no core, as in the numpy engine). Returns (fired [lanes, n] uint8, cycles
    [lanes, cores], executed, outcome), outcome OK, STEP_LIMIT or RAN_PAST.
    """
    n_instr = table.shape[0]
    lanes, n = wgtsum.shape
    n_cores = core_bounds.size
    fired = np.zeros((lanes, n), dtype=np.uint8)
    cycles = np.zeros((lanes, n_cores), dtype=np.int64)
    # (np.empty: every element is written before it is read; registers as registers_to_clear says)
    zero_reg = n_registers  # an extra register that stays zero: CMP's *0 modes read it
    regs = np.empty((n_registers + 1, chunk), dtype=np.int64)
    regs[zero_reg] = 0
    flag = np.empty(chunk, dtype=np.uint8)
    act = np.empty(chunk, dtype=np.uint8)  # the neurons that execute this step, when masked
    pcs = np.empty(chunk, dtype=np.int64)  # each neuron's program counter, when not uniform
    cyc = np.empty(chunk, dtype=np.int64)  # each neuron's cycles, when not uniform
    saved_regs = np.empty((n_registers, chunk), dtype=np.int64)
    saved_flag = np.empty(chunk, dtype=np.uint8)
    saved_fired = np.empty(chunk, dtype=np.uint8)
    saved_state = np.empty((state.shape[0], chunk), dtype=np.int64)
    # two-word values (MACW, SFTW): words of `bits` bits, values within low2..high2 (2 x bits wide)
    bits = 1
    while (np.int64(1) << (bits - 1)) - 1 < high:
        bits += 1
    word_mask = (np.int64(1) << bits) - 1
    high2 = (np.int64(high) << bits) | word_mask
    low2 = np.int64(low) << bits
    cap = step_limit + 1
    schedule = np.empty(cap, dtype=np.int64)
    merged = np.empty(cap, dtype=np.int64)
    spare = np.empty(cap, dtype=np.int64)
    merged_n = 0
    merged_err = False
    executed = 0
    done = n_instr  # the program counter of a neuron that reached END: above every real one
    for lane in range(lanes):
        core = 0
        for n0 in range(0, n, chunk):
            c = min(chunk, n - n0)
            # the chunk's first neuron in wgtsum and fired, and in state and config; unsigned, so
            # that the compiler does not check each index for a negative one (and can vectorize)
            un, uj = np.uint64(n0), np.uint64(lo + n0)
            for r in clear:
                for k in range(c):
                    regs[r, k] = 0
            for k in range(c):
                flag[k] = 0
            diverged = False  # cyc is in use
            base = 0  # cycles that every neuron of the chunk spent (while they moved as one)
            uniform = True  # all c neurons at program counter pc; else each at pcs[k]
            pc = 0
            steps = 0
            err = False
            while True:
                if uniform:
                    m = pc
                    count = c
                else:
                    m = done
                    for k in range(c):
                        m = min(m, pcs[k])
                    if m == done:
                        break
                    count = 0
                    for k in range(c):
                        act[k] = pcs[k] == m
                        count += act[k]
                    if count == c:  # met again, and none has ended
                        uniform = True
                        pc = m
                schedule[steps] = m
                steps += 1
                if steps > step_limit:
                    break
                executed += count
                op, a, b, num, mode, w, cost = (table[m, OP], table[m, A], table[m, B], table[m, C], table[m, D],
                                                table[m, W], table[m, COST])
                if uniform:
                    base += cost
                else:
                    for k in range(c):
                        cyc[k] += cost * act[k]

                # ---- control --------------------------------------------------------------------
                if op == JC:
                    if mode == JC_ALWAYS:
                        taken = c
                    else:
                        taken = 0
                        for k in range(c):
                            taken += flag[k]
                        if mode == JC_NFLAG:
                            taken = c - taken
                    if uniform and (taken == c or taken == 0):
                        pc = num if taken == c else m + 1
                        continue
                    want = 0 if mode == JC_NFLAG else 1  # the flag that jumps
                    if uniform:
                        for k in range(c):
                            act[k] = 1
                    always = 1 if mode == JC_ALWAYS else 0
                    for k in range(c):
                        go = np.int64(flag[k] == want) | always
                        pcs[k] = _keep(_keep(num, m + 1, go), pcs[k], act[k])
                    if not diverged:
                        diverged = True
                        for k in range(c):
                            cyc[k] = 0
                    uniform = False
                    continue
                if op == END:
                    if uniform:
                        break
                    for k in range(c):
                        pcs[k] = _keep(done, pcs[k], act[k])
                    continue

                # ---- the instruction, for every neuron of the chunk -------------------------------
                e = table[m, E]
                if not uniform:
                    _save_restore(False, w, a, num, mode, e, c, lane, un, uj, regs, flag, fired, state, state_block,
                                  act, saved_regs, saved_flag, saved_fired, saved_state)
                if op == ADD:
                    for k in range(c):
                        regs[a, k] = _sat(regs[a, k] + regs[b, k], low, high)
                elif op == SUB:
                    for k in range(c):
                        regs[a, k] = _sat(regs[a, k] - regs[b, k], low, high)
                elif op == MUL:  # arith.fixed_multiply
                    for k in range(c):
                        regs[a, k] = _sat(_round_shift(regs[a, k] * regs[b, k], num), low, high)
                elif op == MULT:
                    for k in range(c):
                        regs[a, k] = _sat((regs[a, k] * regs[b, k]) >> num, low, high)
                elif op == ADDI:
                    for k in range(c):
                        regs[a, k] = _sat(regs[a, k] + num, low, high)
                elif op == MOVI:
                    v = _sat(num, low, high)
                    for k in range(c):
                        regs[a, k] = v
                elif op == SFTI:
                    if mode == SFTI_L:
                        for k in range(c):
                            regs[a, k] = _sat(regs[a, k] << num, low, high)
                    elif mode == SFTI_RND:
                        for k in range(c):
                            regs[a, k] = _sat(_round_shift(regs[a, k], num), low, high)
                    elif mode == SFTI_RNE and num > 0:  # arith.shift_right_even
                        half = np.int64(1) << (num - 1)
                        for k in range(c):
                            x = regs[a, k]
                            floor = x >> num
                            rest = x - (floor << num)
                            up = (rest > half) | ((rest == half) & ((floor & 1) == 1))
                            regs[a, k] = _sat(floor + up, low, high)
                    else:  # TRUNC, and RNE by 0
                        for k in range(c):
                            regs[a, k] = _sat(regs[a, k] >> num, low, high)
                elif op == CMP:
                    if table[m, E]:
                        b = zero_reg
                    if mode == 0:
                        for k in range(c):
                            flag[k] = regs[a, k] >= regs[b, k]
                    elif mode == 1:
                        for k in range(c):
                            flag[k] = regs[a, k] == regs[b, k]
                    elif mode == 2:
                        for k in range(c):
                            flag[k] = regs[a, k] > regs[b, k]
                    elif mode == 3:
                        for k in range(c):
                            flag[k] = regs[a, k] < regs[b, k]
                    else:
                        for k in range(c):
                            flag[k] = regs[a, k] != regs[b, k]
                elif op == MOV:
                    for k in range(c):
                        regs[a, k] = _sat(regs[b, k], low, high)
                elif op == LOGIC:
                    if mode == 0:
                        for k in range(c):
                            regs[a, k] = _sat(regs[a, k] & regs[b, k], low, high)
                    elif mode == 1:
                        for k in range(c):
                            regs[a, k] = _sat(regs[a, k] | regs[b, k], low, high)
                    elif mode == 2:
                        for k in range(c):
                            regs[a, k] = _sat(regs[a, k] ^ regs[b, k], low, high)
                    else:
                        for k in range(c):
                            regs[a, k] = _sat(~regs[b, k], low, high)
                elif op == LOAD:
                    for k in range(c):
                        regs[a, k] = _sat(state[num, lane, uj + np.uint64(k)], low, high)
                elif op == STORE:
                    for k in range(c):
                        state[num, lane, uj + np.uint64(k)] = regs[a, k]
                elif op == LDC:
                    for k in range(c):
                        regs[a, k] = _sat(config[num, uj + np.uint64(k)], low, high)
                elif op == LUT:  # the neuron's core's memory, the index clamped into its mode words
                    held = table[m, E]
                    for k in range(c):
                        index = min(max(regs[b, k], 0), mode - 1)
                        if index < held:
                            regs[a, k] = _sat(lut[lut_of[uj + np.uint64(k)], index], low, high)
                        else:
                            regs[a, k] = 0
                elif op == SEL:  # (no saturation needed: both values are registers, within the range)
                    for k in range(c):
                        x = regs[a, k]
                        regs[a, k] = x + ((regs[b, k] - x) & -np.int64(flag[k]))
                elif op == LDS:
                    for r in state_block:
                        for k in range(c):
                            regs[r, k] = _sat(state[r, lane, uj + np.uint64(k)], low, high)
                elif op == STS:
                    for r in state_block:
                        for k in range(c):
                            state[r, lane, uj + np.uint64(k)] = regs[r, k]
                elif op == LDW:
                    for k in range(c):
                        regs[a, k] = _sat(_round_shift(wgtsum[lane, un + np.uint64(k)], num), low, high)
                elif op == LDWR:
                    for k in range(c):
                        x = wgtsum[lane, un + np.uint64(k)]
                        regs[a, k] = _sat(x - (_round_shift(x, num) << num), low, high)
                elif op == UPDV:
                    for k in range(c):
                        regs[a, k] = _sat(regs[a, k] + _round_shift(wgtsum[lane, un + np.uint64(k)], num), low, high)
                elif op == UPDS:  # arith.scale_by_power
                    for k in range(c):
                        regs[a, k] = _sat(regs[a, k] + _scale_by_power(wgtsum[lane, un + np.uint64(k)],
                                                                       regs[b, k] + num), low, high)
                elif op == MACW:  # arith.multiply_accumulate; D, E: the accumulator's high and low words
                    for k in range(c):
                        product = regs[a, k] * regs[b, k]
                        if product > (high2 >> num):
                            product = high2
                        elif product < (low2 >> num):
                            product = low2
                        else:
                            product = product << num
                        acc = (regs[mode, k] << bits) + (regs[e, k] & word_mask)
                        if product > 0 and acc > high2 - product:
                            acc = high2
                        elif product < 0 and acc < low2 - product:
                            acc = low2
                        else:
                            acc = acc + product
                        word = acc & word_mask
                        regs[mode, k] = acc >> bits
                        regs[e, k] = word - ((word >> (bits - 1)) << bits)
                elif op == SFTW:  # arith.shift_two_words; B, E: the accumulator's high and low words
                    for k in range(c):
                        acc = (regs[b, k] << bits) + (regs[e, k] & word_mask)
                        regs[a, k] = _sat(_shift_mode(acc, num, mode), low, high)
                elif op == FIRE:
                    for k in range(c):
                        crossed = np.uint8(regs[a, k] >= regs[b, k])
                        flag[k] = crossed
                        fired[lane, un + np.uint64(k)] |= crossed
                    if mode == 1:  # where crossed: 0
                        for k in range(c):
                            regs[a, k] &= np.int64(flag[k]) - 1
                    elif mode == 2:  # where crossed: rs - rt, saturated
                        for k in range(c):
                            regs[a, k] = _sat(regs[a, k] - (regs[b, k] & -np.int64(flag[k])), low, high)
                elif op == SPIKE:
                    if mode == 1:
                        for k in range(c):
                            fired[lane, un + np.uint64(k)] = 1
                    else:
                        for k in range(c):
                            fired[lane, un + np.uint64(k)] |= flag[k]
                # NOP: nothing
                if not uniform:
                    _save_restore(True, w, a, num, mode, e, c, lane, un, uj, regs, flag, fired, state, state_block,
                                  act, saved_regs, saved_flag, saved_fired, saved_state)

                if m + 1 >= n_instr:
                    err = True
                    break
                if uniform:
                    pc = m + 1
                else:
                    for k in range(c):
                        pcs[k] += act[k]  # from m to m + 1
            same = steps == merged_n and not err and not merged_err
            i = 0
            while same and i < steps:  # the usual case: this chunk went the way of the others
                same = schedule[i] == merged[i]
                i += 1
            if not same:
                merged_n, merged_err = _merge(merged, merged_n, merged_err, schedule, steps, err, spare, cap)
                merged, spare = spare, merged
            # this chunk's cycles, per core
            k = 0
            while k < c:
                j = n0 + k
                if j < core_bounds[0]:
                    k = min(c, core_bounds[0] - n0)
                    continue
                while core + 1 < n_cores and core_bounds[core + 1] <= j:
                    core += 1
                end = n if core + 1 == n_cores else core_bounds[core + 1]
                stop = min(c, end - n0)
                total = base * (stop - k)
                if diverged:
                    for kk in range(k, stop):
                        total += cyc[kk]
                cycles[lane, core] += total
                k = stop
    if merged_err and merged_n <= step_limit:
        outcome = RAN_PAST
    elif merged_n > step_limit:
        outcome = STEP_LIMIT
    else:
        outcome = OK
    return fired, cycles, executed, outcome
