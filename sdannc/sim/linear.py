"""When a level's sums may arrive as one product a window: programs whose sum over a code's ticks
is linear.

A STEM program with the exact shift-and-add (`SFTI R0, L, 1` then `UPDV 0` every tick, the sum read
nowhere else) computes, over a code's 8 ticks, acc = 2^8 start + sum_b 2^(7-b) s_b, where s_b is the
tick's dendrite sum, as long as nothing saturates; before the code's last tick it neither reads nor
emits acc. Feeding the whole W @ codes on the last tick and zeros before gives the same acc there,
the same spikes and the same instructions and cycles (its only jump depends on the phase): one product
instead of eight (sdannc/sim/functional.py). This module proves the conditions from the image: the
program's form, the phase (zero at tick 0, the code's last tick at phase bits - 1), and the bound
|start| 2^8 + 255 sum |w| within the register and 255 sum |w| within the dendrite sum, per neuron.
"""

from __future__ import annotations

import numpy as np

from .. import arith

_NO_READ = {"STS", "END", "NOP"}  # instructions that may name R0 without reading it for a result


def _registers(instr) -> set[int]:
    return {v for k, v in instr.operands if k in ("rs", "rt") and isinstance(v, int)}


def linear_start_fields(instrs, isa) -> tuple[int, int, int, int] | None:
    """(acc field, start field, last-phase config register, phase field) of a program of that form,
    else None."""
    m = isa.fixed_registers["membrane"]
    block = list(isa.fixed_registers["state_block"])
    names = [i.mnemonic for i in instrs]
    if names[:3] != ["LDS", "SFTI", "UPDV"] or m not in block:
        return None
    shift, update = instrs[1], instrs[2]
    if (shift["rs"], shift["dir"], shift["amount"]) != (m, "L", 1) or update["shift"] != 0:
        return None
    if [k for k, n in enumerate(names) if n in ("LDW", "UPDV", "UPDS")] != [2]:
        return None
    jumps = [k for k, n in enumerate(names) if n == "JC"]
    if len(jumps) != 1 or instrs[jumps[0]]["cond"] != "NFLAG":
        return None
    j, emit = jumps[0], instrs[jumps[0]]["addr"]
    compare, load = instrs[j - 1], instrs[emit - 1]
    if not (j + 1 < emit < len(instrs) and compare.mnemonic == "CMP" and compare["mode"] == "EQ"):
        return None
    phase, last = compare["rs"], compare["rt"]
    if phase not in block or phase == m:
        return None
    config = [i for i in instrs[3:j] if i.mnemonic == "LDC" and i["rs"] == last]
    if len(config) != 1 or any(m in _registers(i) for i in instrs[3:j]):
        return None  # the integrating ticks touch acc only as above
    if any(m in _registers(i) for i in instrs[emit:] if i.mnemonic not in _NO_READ):
        return None  # nor does the emit part
    if not (load.mnemonic == "LOAD" and load["rs"] == m) or load["field"] in block:
        return None
    if any(i.mnemonic == "STORE" and i["field"] == load["field"] for i in instrs):
        return None  # the start value is a constant of the neuron
    writes = [i for i in instrs if i.mnemonic not in ("CMP", "STS", "LDS", "JC", "END", "NOP", "FIRE", "SPIKE",
                                                       "STORE") and i.operands and i.operands[0] == ("rs", phase)]
    if [(i.mnemonic, dict(i.operands)) for i in writes] != [("ADDI", {"rs": phase, "imm": 1}),
                                                            ("LOGIC", {"rs": phase, "rt": last, "op": "AND"})]:
        return None  # the phase counts the ticks modulo the code's length, nothing else moves it
    return m, load["field"], config[0]["creg"], phase  # LDS loads register r from state field r


def linear_neurons(core, instrs, isa, target, weight_sums: np.ndarray, bits: int) -> bool:
    """Whether every neuron of the core may take its sums as one product (module docstring);
    weight_sums: each neuron's sum of absolute weights."""
    form = linear_start_fields(instrs, isa)
    if form is None:
        return False
    acc, start, last, phase = form
    if int(core.config[last]) != bits - 1 or core.state[:, phase].any():
        return False
    top = (1 << (bits)) - 1  # a code's largest value
    reg_high = arith.signed_range(target.arith["register_bits"])[1]
    sum_high = arith.signed_range(target.arith["dendrite_sum_bits"])[1]
    first = np.abs(core.state[:, acc]).astype(object)
    later = np.abs(core.state[:, start]).astype(object)
    product = weight_sums.astype(object) * top
    return bool(np.all(product <= sum_high) and np.all(np.maximum(first, later) * (1 << bits) + product <= reg_high))


def emit_only_ticks(instrs, isa) -> tuple[int, int, int, int, int, list[int]] | None:
    """For a linear program (linear_start_fields) whose ticks before a code's last do nothing but the
    shift-and-add and the emit (LDS, SFTI, UPDV 0, LDC, CMP, JC; then FIRE SUB, SFTI, ADDI, LOGIC,
    STS, END): (acc field, phase field, last-phase config register, residue field, threshold field,
    the indices of those instructions). The functional
    engine then computes those ticks without running them (their acc is 2^b x start: the sums come
    on the last tick)."""
    form = linear_start_fields(instrs, isa)
    if form is None:
        return None
    block = list(isa.fixed_registers["state_block"])
    m, _, last, phase = form
    names = [i.mnemonic for i in instrs]
    j = names.index("JC")
    emit = instrs[j]["addr"]
    if names[:j + 1] != ["LDS", "SFTI", "UPDV", "LDC", "CMP", "JC"]:
        return None
    if names[emit:] != ["FIRE", "SFTI", "ADDI", "LOGIC", "STS", "END"]:
        return None
    fire, shift = instrs[emit], instrs[emit + 1]
    residue, threshold = fire["rs"], fire["rt"]
    if fire["reset"] != "SUB" or len({residue, threshold, m, phase}) != 4 or \
            not {residue, threshold} <= set(block):
        return None
    if (shift["rs"], shift["dir"], shift["amount"]) != (residue, "L", 1):
        return None
    return m, phase, last, residue, threshold, list(range(j + 1)) + list(range(emit, len(instrs)))
