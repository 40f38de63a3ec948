"""The neuron programs the backend emits, and the layout of the state and configuration they use.

The STEM program is a template here; `isa/programs/stem_neuron.s` is it with example constants (a
test keeps them equal). The max program has no constants and is read from `isa/programs/max_neuron.s`.
"""

from __future__ import annotations

import numpy as np

from ..ir.graph import CODE_MAX
from ..isa import assemble, load_isa
from ..resources import data_dir
from ..target import Target

BITS = 8
# State fields (per neuron) and configuration registers (per core) of the STEM program.
STEM_STATE = {"acc": 0, "threshold": 1, "phase": 2, "residue": 3, "bias": 4, "multiplier": 5, "init": 6}
STEM_CONFIG = {"last_phase": 0, "zero_point": 1, "low": 2, "high": 3, "round_add": 4, "keep_mask": 5}
MAX_STATE = {"result": 0, "threshold": 1, "phase": 2, "residue": 3, "candidates": 4}
MAX_CONFIG = {"last_phase": 0, "all_candidates": 1}

STEM_TEMPLATE = """\
; STEM neuron (SDANN 3.2): 8-bit codes as 8 spikes, MSB first, pipelined.
; Every tick: acc = 2 * acc + (dendrite sum >> acc_shift), and one output bit of the previous sample.
; On the last input bit: requantize, add the zero point, clamp, and start emitting.
; State: 0 acc, 1 threshold 128, 2 phase, 3 residue, 4 bias, 5 multiplier, 6 starting acc.
; Config: 0 last phase (7), 1 output zero point, 2 low clamp, 3 high clamp{config_more}.
        LDS                     ; R0 acc, R1 threshold, R2 phase, R3 residue
        SFTI R0, L, 1, TRUNC    ; earlier bits weigh twice as much
        UPDV {acc_shift}              ; + this tick's weighted input bits (scaled integration)
        LDC  R5, 0
        CMP  R2, R5, EQ
        JC   NFLAG, emit        ; not the last input bit: just emit
        LOAD R6, 4
        ADD  R0, R6             ; + bias
        LOAD R6, 5
        {mul_op} R0, R6, {mul_shift}        ; * multiplier ({mul_op}: rounded here; MULT: rounded by the shift below)
{out_shifts}{finish}        LOAD R0, 6              ; acc = starting value for the next sample
emit:
        FIRE R3, R1, SUB        ; output bit, MSB first: spike if residue >= 128, then residue -= 128
        SFTI R3, L, 1, TRUNC
        ADDI R2, 1
        LOGIC R2, R5, AND       ; phase = (phase + 1) mod 8
        STS
        END
"""
# RoT / DRLO (sdannc/sparsify.py): code = max(min(code + round_add, high) & keep_mask, low), once per
# sample after the clamp; the configuration registers are the program's own (`layout`).
SPARSIFY_LINES = """\
        LDC  R6, {round_add}
        ADD  R0, R6             ; + half of the lowest kept bit (RoT)
        LDC  R6, {high}
        CMP  R0, R6, GT
        SEL  R0, R6             ; clamp high again
        LDC  R6, {keep_mask}
        LOGIC R0, R6, AND       ; drop the low-order spikes (RoT, DRLO)
        LDC  R6, {low}
        CMP  R0, R6, LT
        SEL  R0, R6             ; clamp low again
"""


def sparsify_lines(layout: dict[str, int]) -> str:
    return SPARSIFY_LINES.format(**{k: layout[k] for k in ("round_add", "keep_mask", "low", "high")})


# The end of the once-per-sample part, shared by the STEM and Add programs: zero point, clamp, the
# optional RoT / DRLO block, and the code into the residue the emit phase sends.
FINISH_LINES = """\
        LDC  R6, {zero_point}
        ADD  R0, R6             ; + output zero point
        LDC  R6, {low}
        CMP  R0, R6, LT
        SEL  R0, R6             ; clamp low (the ReLU)
        LDC  R6, {high}
        CMP  R0, R6, GT
        SEL  R0, R6             ; clamp high
{sparsify}        MOV  R3, R0             ; residue = output code
"""


def finish_lines(layout: dict[str, int], sparsify: bool) -> str:
    return FINISH_LINES.format(zero_point=layout["zero_point"], low=layout["low"], high=layout["high"],
                               sparsify=sparsify_lines(layout) if sparsify else "")


SPARSIFY_CONFIG_NOTE = ", 4 round add, 5 keep mask"
OUT_SHIFT_LINE = "        SFTI R0, R, {shift}, {mode}      ; >> shift, rounded\n"

# The max neuron has no constants of its own: its program is the reference file itself.
MAX_SOURCE = (data_dir("isa") / "programs" / "max_neuron.s").read_text()


def stem_source(acc_shift: int, mul_shift: int, out_shifts, rounding: str = "RND", sparsify: bool = False) -> str:
    """MUL rounds at mul_shift; with further shifts MULT truncates and the last shift rounds, so that
    the product is rounded once (floor(floor(v / 2^a) + 2^(b-1)) / 2^b) = round(v / 2^(a+b)))."""
    shifts = "".join(OUT_SHIFT_LINE.format(shift=s, mode=rounding) for s in out_shifts)
    mul_op = "MULT" if out_shifts else "MUL "
    return STEM_TEMPLATE.format(acc_shift=acc_shift, mul_op=mul_op, mul_shift=mul_shift, out_shifts=shifts,
                                finish=finish_lines(STEM_CONFIG, sparsify),
                                config_more=SPARSIFY_CONFIG_NOTE if sparsify else "")


def stem_program(target: Target, acc_shift: int, mul_shift: int, out_shifts, rounding: str = "RND",
                 sparsify: bool = False) -> np.ndarray:
    isa = load_isa(target.isa_name)
    source = stem_source(acc_shift, mul_shift, out_shifts, rounding, sparsify)
    return isa.encode_program(assemble(source, isa, "<stem program>"))


def max_program(target: Target) -> np.ndarray:
    isa = load_isa(target.isa_name)
    return isa.encode_program(assemble(MAX_SOURCE, isa, "isa/programs/max_neuron.s"))


def stem_config(zero_point: int, low: int, high: int, round_add: int = 0, keep_mask: int = CODE_MAX) -> list[int]:
    config = [0] * len(STEM_CONFIG)
    for key, value in (("last_phase", BITS - 1), ("zero_point", zero_point), ("low", low), ("high", high),
                       ("round_add", round_add), ("keep_mask", keep_mask)):
        config[STEM_CONFIG[key]] = value
    return config


def max_config(inputs: int) -> list[int]:
    config = [0] * len(MAX_CONFIG)
    config[MAX_CONFIG["last_phase"]] = BITS - 1
    config[MAX_CONFIG["all_candidates"]] = (1 << inputs) - 1
    return config


# ---- the exact Add neuron (isa/programs/add_neuron.s: the template with example constants) ------
# Its two inputs arrive on dendrites of weights 1 and 2, so each tick's dendrite sum holds both
# input bits apart; each goes into its own accumulator, and after 8 ticks both codes are exact.
ADD_STATE = {"acc_a": 0, "threshold": 1, "phase": 2, "residue": 3, "acc_b": 4, "offset": 5}
ADD_CONFIG = {"last_phase": 0, "zero_point": 1, "low": 2, "high": 3, "zero_a": 4, "zero_b": 5,
              "mult_a": 6, "mult_b": 7, "round_add": 8, "keep_mask": 9}

ADD_TEMPLATE = """\
; Exact Add neuron: codes a and b arrive as spikes, MSB first, on dendrites of weights 1 and 2.
; Every tick the dendrite sum (a's bit + 2 x b's bit) is split and each bit shifted into its own
; accumulator, so both codes are exact after 8 ticks; then, once:
;   y = clamp(shift((ma (a - za) >> p) + (mb (b - zb) >> p) + offset) + zc)   (p = {mul_shift})
; State: 0 a, 1 threshold 128, 2 phase, 3 residue, 4 b, 5 offset (this neuron's constant).
; Config: 0 last phase (7), 1 output zero point, 2 low clamp, 3 high clamp, 4 za, 5 zb, 6 ma, 7 mb.
        LDS                     ; R0 a so far, R1 threshold, R2 phase, R3 residue
        LOAD R4, 4              ; b so far
        LDW  R6, 0              ; this tick's bits: a's + 2 x b's
        MOV  R7, R6
        SFTI R7, R, 1, TRUNC    ; b's bit
        MOV  R8, R7
        SFTI R8, L, 1, TRUNC
        SUB  R6, R8             ; a's bit
        SFTI R0, L, 1, TRUNC
        ADD  R0, R6             ; a = 2 a + bit
        SFTI R4, L, 1, TRUNC
        ADD  R4, R7             ; b = 2 b + bit
        LDC  R5, 0
        CMP  R2, R5, EQ
        JC   NFLAG, emit        ; not the last input bit: just emit
        LDC  R6, 4
        SUB  R0, R6             ; a - za
        LDC  R6, 6
        MULT R0, R6, {mul_shift}        ; ma (a - za), exact when p = 0
        LDC  R6, 5
        SUB  R4, R6             ; b - zb
        LDC  R6, 7
        MULT R4, R6, {mul_shift}        ; mb (b - zb)
        ADD  R0, R4
        LOAD R6, 5
        ADD  R0, R6             ; + offset
{out_shifts}{finish}        MOVI R0, 0              ; a and b start from 0 for the next sample
        MOVI R4, 0
emit:
        FIRE R3, R1, SUB        ; output bit, MSB first: spike if residue >= 128, then residue -= 128
        SFTI R3, L, 1, TRUNC
        ADDI R2, 1
        LOGIC R2, R5, AND       ; phase = (phase + 1) mod 8
        STORE R4, 4
        STS
        END
"""
ADD_SHIFT_LINE = "        SFTI R0, R, {shift}, {mode}\n"


def add_source(mul_shift: int, out_shifts, sparsify: bool = False) -> str:
    """The Add program with its MULT shift and its chain of (amount, TRUNC|RND|RNE) right shifts:
    truncating shifts then one rounding shift round once (floor(floor(v / 2^a) + 2^(b-1)) / 2^b))."""
    shifts = "".join(ADD_SHIFT_LINE.format(shift=s, mode=mode) for s, mode in out_shifts)
    return ADD_TEMPLATE.format(mul_shift=mul_shift, out_shifts=shifts, finish=finish_lines(ADD_CONFIG, sparsify))


def add_program(target: Target, mul_shift: int, out_shifts, sparsify: bool = False) -> np.ndarray:
    isa = load_isa(target.isa_name)
    return isa.encode_program(assemble(add_source(mul_shift, out_shifts, sparsify), isa, "<add program>"))


def add_config(zero_point: int, low: int, high: int, zero_a: int, zero_b: int, mult_a: int, mult_b: int,
               round_add: int = 0, keep_mask: int = CODE_MAX) -> list[int]:
    values = {"last_phase": BITS - 1, "zero_point": zero_point, "low": low, "high": high, "zero_a": zero_a,
              "zero_b": zero_b, "mult_a": mult_a, "mult_b": mult_b, "round_add": round_add, "keep_mask": keep_mask}
    config = [0] * len(ADD_CONFIG)
    for key, value in values.items():
        config[ADD_CONFIG[key]] = value
    return config


# Where each sparsifiable program keeps its RoT / DRLO registers (reports switch them off).
SPARSIFY_REGISTERS = {op: (layout["round_add"], layout["keep_mask"])
                      for op, layout in (("stem", STEM_CONFIG), ("adder", ADD_CONFIG))}
