"""What a core's program costs per tick: instructions and cycles on each of its two paths.

Every neuron program has at most one conditional jump (isa/programs/*.s): one path runs on the
ticks that only integrate and emit, the other once per sample, on the last input bit, where the
neuron also requantizes. The compile report gives both, from the assembled words and the target's
cycle costs, without running anything. (The ttfs and rate exact programs, coded_exact.inc, also loop
over the 8 rounds of their search on that tick: the walk counts one round, so their estimate is 7
rounds a sample short; the simulator counts every instruction run.)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..isa import load_isa
from ..target import Target


@dataclass(frozen=True)
class PathCost:
    instructions: int
    cycles: int


def _walk(instrs, costs: dict[str, int], take_jumps: bool) -> PathCost:
    pc, count, cycles, steps = 0, 0, 0, 0
    while pc < len(instrs) and steps <= 4 * len(instrs):  # a loop would be a bug in a template
        instr = instrs[pc]
        count, cycles, steps = count + 1, cycles + costs[instr.mnemonic], steps + 1
        if instr.mnemonic == "END":
            break
        if instr.mnemonic == "JC" and (take_jumps or instr["cond"] == "ALWAYS"):
            pc = instr["addr"]
        else:
            pc += 1
    return PathCost(count, cycles)


def program_cost(words, target: Target) -> tuple[PathCost, PathCost]:
    """(the path with its conditional jump taken, the path without) of a program's words."""
    isa = load_isa(target.isa_name)
    instrs = isa.decode_program(words)
    costs = target.instruction_cycles(isa)
    return _walk(instrs, costs, True), _walk(instrs, costs, False)
