"""When a level's codes are a function of each code's exact sum: the STEM program of integration
exact (isa/programs/stem_exact.s, sdannc/neurons/stem.py).

That program integrates a code's 8 dendrite sums into T = sum_b 2^(7-b) s_b on two words, adds the
neuron's bias on its last tick (phase 7), then searches the threshold table of its lookup memory one
round a tick over the next 8 ticks, spiking each round's flag (the code's bits, MSB first). Its only
jump depends on the phase, so every neuron runs one of two fixed instruction paths a tick: the
cycles and instructions of a tick are constants of its phase. When no tick's sum saturates
(255 sum |w| within the dendrite sum, T + bias within the two words), T = W @ codes exactly: the
functional engine then takes one product a code, runs the 8 rounds of the search on it at once
(functional_kernel.exact_search, the program's own comparisons on its lookup memory's words) and
writes the bits as the spikes of their ticks, without running the program (sdannc/sim/functional.py).

This module recognises such a level from the image: every core's program is the assembled
stem_exact.s, its phase starts at 0 and counts to bits - 1, its state is the one the neuron model
writes (zeros but the record address), the bias words are canonical and the bounds above hold.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from .. import arith
from ..isa import assemble_template
from ..neurons import stem


@dataclass
class ExactLevel:
    """A level of integration exact's program: what its search compares, per level neuron (local order)."""

    bias: np.ndarray  # [level neurons] the bias its record holds (two words)
    thresholds: np.ndarray  # [tables, 2^bits] T + bias at or above entry c takes candidate c (c = 0: the pre rounds)
    table_of: np.ndarray  # [level neurons] its row of thresholds
    pre: np.ndarray  # [level neurons] the spike of the ticks before the first code's last (a round of step 0)
    last_cycles: np.ndarray  # [level cores] a core's cycles on a code's last tick (phase bits - 1)
    other_cycles: np.ndarray  # [level cores] on the other ticks
    last_steps: int  # instructions a neuron executes on the last tick
    other_steps: int  # and on the others
    products: object = None  # the cores' sums (functional.LevelProducts), set by FunctionalSimulator
    rest: object = None  # the sums of the level's other cores
    ranges: np.ndarray = None  # [cores, 3] (global first, count, local first), set with products
    kind: str = "exact"  # or "max": max_neuron.s (max_level)
    inputs: object = None  # max: [level neurons, level sources] CSR, each input's bit in the dendrite sum
    candidates: np.ndarray = None  # max: [level neurons] the bits of the inputs it takes the max of


_WORDS: dict[str, bytes] = {}


def _exact_words(isa) -> bytes:
    """stem_exact.s assembled for the ISA: the program a core must hold, word for word."""
    if isa.name not in _WORDS:
        _WORDS[isa.name] = isa.encode_program(assemble_template(stem.MODEL.exact_template, isa, {})).tobytes()
    return _WORDS[isa.name]


def exact_program(core, isa) -> bool:
    """Whether the core holds integration exact's program, word for word."""
    return core.program.tobytes() == _exact_words(isa)


def _paths(instrs) -> tuple[list[int], list[int]] | None:
    """The program counters of the last tick's path and the other ticks': one JC on the phase."""
    jumps = [k for k, i in enumerate(instrs) if i.mnemonic == "JC"]
    ends = [k for k, i in enumerate(instrs) if i.mnemonic == "END"]
    if len(jumps) != 1 or ends != [len(instrs) - 1] or instrs[jumps[0]]["cond"] != "NFLAG":
        return None
    j = jumps[0]
    return list(range(len(instrs))), list(range(j + 1)) + list(range(instrs[j]["addr"], len(instrs)))


def exact_level(image, cores: list[int], weight_sums: np.ndarray, isa, costs: np.ndarray,
                bits: int) -> ExactLevel | None:
    """The level's ExactLevel if every core runs integration exact's program within its bounds, else
    None. cores: image core indices in the level's local order (LevelProducts'); weight_sums: its
    neurons' sums of absolute weights; costs: each instruction's cycles (ProgramRunner.costs)."""
    if not cores or image.schedule.sample_interval != bits or bits != stem.CODE_BITS:
        return None
    target = image.target
    words = _exact_words(isa)
    fields, config = stem.MODEL.exact_template.state, stem.MODEL.exact_template.config
    reg_low, reg_high = arith.signed_range(target.arith["register_bits"])
    sum_high = arith.signed_range(target.arith["dendrite_sum_bits"])[1]
    paths = None
    lut_words = int(target.core.get("lut_words", 0))
    bias, table_of, thresholds, at = [], [], [], 0
    for c in cores:
        core = image.cores[c]
        if core.program.tobytes() != words or int(core.config[config["last_phase"]]) != bits - 1:
            return None
        if paths is None:
            paths = _paths(isa.decode_program(core.program))
            if paths is None:
                return None
        state = core.state
        others = [f for name, f in fields.items() if name != "acc_shift"]
        if state[:, others].any():
            return None  # the neuron model's initial state: every field zero but the record address
        search = core_search(core.lut, state[:, fields["acc_shift"]], lut_words, (reg_low, reg_high), bits)
        if search is None:
            return None
        b, thresholds_here, base_of = search
        sums = weight_sums[at:at + core.n_neurons].astype(object)
        high = ((1 << bits) - 1) * sums + np.abs(b).astype(object)
        if np.any(sums > sum_high) or np.any(high // (1 << stem.EXACT_BASE) + 2 > reg_high):
            return None  # a tick's sum could saturate, or the high word
        table_of.append(base_of + sum(t.shape[0] for t in thresholds))
        thresholds.append(thresholds_here)
        bias.append(b)
        at += core.n_neurons
    thresholds, table_of = np.concatenate(thresholds), np.concatenate(table_of)
    pre = thresholds[table_of, 0] <= 0  # a round of step 0 on the initial state: candidate 0, T + bias 0
    sizes = np.asarray([image.cores[c].n_neurons for c in cores], dtype=np.int64)
    last, other = paths
    return ExactLevel(np.concatenate(bias), thresholds, table_of, pre, sizes * int(costs[last].sum()),
                      sizes * int(costs[other].sum()), len(last), len(other))


def core_search(lut: np.ndarray, record: np.ndarray, lut_words: int, register: tuple[int, int], bits: int):
    """What integration exact's search reads from a core's lookup memory `lut` for neurons whose
    record addresses are `record`: (each neuron's bias, the thresholds [tables, 2^bits], each
    neuron's table), read as the program reads them (exact_search.inc, exact_bias.inc: every register
    write saturating to `register`, every address clamped to 0 .. lut_words - 1, words past the
    memory 0); None where a bias's low word is not canonical (its carry then differs)."""
    low, high = register
    half = 1 << (stem.EXACT_BASE - 1)
    lut = np.asarray(lut, dtype=np.int64)

    def sat(x):
        return np.clip(x, low, high)

    def read(address):
        address = np.clip(address, 0, max(lut_words - 1, 0))
        if not lut.size:
            return np.zeros_like(address)
        return sat(np.where(address < lut.size, lut[np.minimum(address, lut.size - 1)], 0))

    record = sat(np.asarray(record, dtype=np.int64))
    b_hi, b_lo = read(sat(record + 1)), read(sat(sat(record + 1) + 1))
    if np.any(b_lo < -half) or np.any(b_lo >= half):
        return None
    # candidate c's words at the table base + 2c; T + bias = H 2^14 + L (L canonical) is at or above
    # them exactly when it is at or above hi 2^14 + lo, lo clamped to [-2^13, 2^13]
    bases, base_of = np.unique(read(record), return_inverse=True)
    candidate = np.arange(1 << bits, dtype=np.int64)
    address = sat(sat(2 * candidate)[None, :] + bases[:, None])
    t_hi, t_lo = read(address), read(sat(address + 1))
    thresholds = t_hi * (1 << stem.EXACT_BASE) + np.clip(t_lo, -half, half)
    return b_hi * (1 << stem.EXACT_BASE) + b_lo, thresholds, base_of.reshape(-1)


# ---- the bit-serial max (isa/programs/max_neuron.s, sdannc/neurons/max.py) ------------------------
# Its inputs arrive with weights 1, 2, 4, ...: a tick's dendrite sum is the set of the inputs whose
# bit is 1, and over a code's ticks the program keeps the candidates with the largest prefix: the
# code is the largest of its candidates' codes. It spikes it, MSB first, from the code's last tick
# on, as the program of integration exact does (FIRE SUB on the residue against 128, then a shift),
# and its only jump is on the phase. So when each source's summed weight into a neuron is a distinct
# power of two (the sum of them within the register, which LDW writes) and the state is the model's,
# the level's codes are maxima of its sources' codes.
_MAX_WORDS: dict[str, bytes] = {}


def max_program(core, isa) -> bool:
    """Whether the core holds the max neuron's program, word for word."""
    from ..neurons import max as max_neuron

    if isa.name not in _MAX_WORDS:
        _MAX_WORDS[isa.name] = isa.encode_program(assemble_template(max_neuron.MODEL.template, isa, {})).tobytes()
    return core.program.tobytes() == _MAX_WORDS[isa.name]


def max_level(image, cores: list[int], inputs, isa, costs: np.ndarray, bits: int) -> ExactLevel | None:
    """The level's ExactLevel (kind "max") if every core runs the max program within its bounds,
    else None; inputs: [level neurons, level sources] CSR of summed weights (LevelProducts of the
    cores, every group sparse)."""
    from ..neurons import max as max_neuron

    if not cores or image.schedule.sample_interval != bits or bits != stem.CODE_BITS:
        return None
    target = image.target
    fields, config = max_neuron.MODEL.template.state, max_neuron.MODEL.template.config
    reg_high = arith.signed_range(target.arith["register_bits"])[1]
    sum_high = arith.signed_range(target.arith["dendrite_sum_bits"])[1]
    paths = None
    candidates = []
    for c in cores:
        core = image.cores[c]
        if not max_program(core, isa) or int(core.config[config["last_phase"]]) != bits - 1:
            return None
        if paths is None:
            paths = _paths(isa.decode_program(core.program))
            if paths is None:
                return None
        state, every = core.state, int(core.config[config["all_candidates"]])
        zero = [f for name, f in fields.items() if name not in ("threshold", "candidates")]
        if state[:, zero].any() or np.any(state[:, fields["threshold"]] != 1 << (bits - 1)) \
                or np.any(state[:, fields["candidates"]] != every):
            return None  # the model's state: the first code starts as every later one
        candidates.append(np.full(core.n_neurons, every, dtype=np.int64))
    inputs = inputs.tocsr()
    inputs.sort_indices()
    weights = np.asarray(inputs.data, dtype=np.int64)
    if np.any(weights <= 0) or np.any(weights & (weights - 1)):
        return None  # every input's weight one bit
    rows = np.repeat(np.arange(inputs.shape[0]), np.diff(inputs.indptr))
    if np.any(np.bincount(rows, weights=weights, minlength=inputs.shape[0]) > min(reg_high, sum_high)):
        return None  # the set of inputs within the register LDW writes
    if np.unique(np.stack([rows, weights], axis=1), axis=0).shape[0] != weights.size:
        return None  # no two inputs share a bit
    sizes = np.asarray([image.cores[c].n_neurons for c in cores], dtype=np.int64)
    last, other = paths
    n = inputs.shape[0]
    csr = (inputs.indptr.astype(np.int64), inputs.indices.astype(np.int64), weights)
    return ExactLevel(np.zeros(n, dtype=np.int64), np.zeros((0, 1 << bits), dtype=np.int64),
                      np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool), sizes * int(costs[last].sum()),
                      sizes * int(costs[other].sum()), len(last), len(other), kind="max", inputs=csr,
                      candidates=np.concatenate(candidates))
