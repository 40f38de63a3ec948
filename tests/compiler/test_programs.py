"""The emitted neuron programs: each model's program comes from its template under isa/programs,
and the variants the backend emits fit the ISA and the cores."""

import copy

import pytest

from irgraphs import program_node, stem_program_node
from sdannc.isa import Instr, assemble_file, load_isa, parse_template
from sdannc.neurons import NEURONS
from sdannc.resources import data_dir
from sdannc.target import load_target

ISA = load_isa()
PROGRAMS = data_dir("isa") / "programs"
# Per model, the attrs that give its template's own values: the reference program's constants.
REFERENCE_ATTRS = {
    "stem": {"acc_shift": 0, "mul_shift": 15, "out_shifts": [4], "round": "RND"},
    "adder": {"mul_shift": 0, "out_shifts": [(15, "TRUNC"), (6, "RND")]},
    "max": {}, "lut": {}, "product": {}, "if": {}, "ttfs": {},
    "float32_pool": {"steps": [(0, 1), (0, 2), (0, 3)], "boundary": True},  # a 2 x 2 window, two-sided records
    **{f"{coding}_linear": {"mul_shift": 15, "out_shifts": [4], "round": "RND"} for coding in ("ttfs", "rate")},
    **{f"{coding}_add": {"mul_shift": 0, "out_shifts": [(15, "TRUNC"), (6, "RND")]} for coding in ("ttfs", "rate")},
    **{f"{coding}_{op}": {} for coding in ("ttfs", "rate") for op in ("max", "lut", "mul")},
}


def test_every_reference_program_is_the_template_of_a_registered_model():
    files = [f for m in NEURONS.values() for f in (m.template_file,) + tuple(getattr(m, "extra_templates", ()))]
    assert sorted(files) == sorted(p.name for p in PROGRAMS.glob("*.s"))
    assert set(REFERENCE_ATTRS) == set(NEURONS)


@pytest.mark.parametrize("op", sorted(NEURONS))
def test_with_the_reference_constants_a_model_emits_its_reference_program(op):
    model = NEURONS[op]
    words = model.program(program_node(op, **REFERENCE_ATTRS[op]), load_target("darwin3"))
    assert list(words) == list(ISA.encode_program(assemble_file(PROGRAMS / model.template_file, ISA)))


@pytest.mark.parametrize("op", sorted(NEURONS))
def test_a_models_program_is_read_from_its_template(op, monkeypatch):
    """A line added to the template is in the program the model emits (no copy of it in the code)."""
    model = NEURONS[op]
    node = program_node(op, **REFERENCE_ATTRS[op])
    before = list(model.program(node, load_target("darwin3")))
    text = (PROGRAMS / model.template_file).read_text()
    assert text.endswith("        END\n")
    edited = text.removesuffix("END\n") + "NOP\n        END\n"  # after every label: no jump moves
    monkeypatch.setattr(model, "template", parse_template(edited, "edited.s", PROGRAMS))
    nop = ISA.encode(Instr.of("NOP"))
    assert list(model.program(node, load_target("darwin3"))) == before[:-1] + [nop] + before[-1:]


@pytest.mark.parametrize("op", sorted(NEURONS))
def test_layouts_fit_the_cores(op):
    target = load_target("darwin3")
    model = NEURONS[op]
    assert max(model.state.values()) < target.core["state_fields"]
    assert max(model.config.values(), default=-1) < target.core["config_registers"]


def test_stem_program_variants_assemble_within_the_program_memory():
    target = load_target("darwin3")
    stem = NEURONS["stem"]
    plain = stem.program(stem_program_node(0, 24, []), target)
    two_step = stem.program(stem_program_node(3, 31, [7], "RNE"), target)
    assert len(two_step) == len(plain) + 1 <= target.core["program_words"]
    text = stem.source(stem_program_node(3, 31, [7], "RNE"))
    assert "MULT R0, R6, 31" in text and "SFTI R0, R, 7, RNE" in text and "UPDV 3" in text
    assert Instr.of("MUL", rs=0, rt=6, shift=24) in ISA.decode_program(plain)


def test_add_program_variants_assemble_within_the_program_memory():
    target = load_target("darwin3")
    adder = NEURONS["adder"]
    one_shift = adder.program(program_node("adder", mul_shift=8, out_shifts=[(5, "RNE")]), target)
    two_shifts = adder.program(program_node("adder", mul_shift=0, out_shifts=[(15, "TRUNC"), (6, "RND")]), target)
    assert len(two_shifts) == len(one_shift) + 1 <= target.core["program_words"]
    text = adder.source(program_node("adder", mul_shift=8, out_shifts=[(5, "RNE")]))
    assert text.count("MUL R0, R6, 8") == 1 and "MUL R4, R6, 8" in text and "SFTI R0, R, 5, RNE" in text  # rounded products
    assert "MULT R0, R6, 0" in adder.source(program_node("adder", mul_shift=0, out_shifts=[(6, "RND")]))  # exact ones
    registers = adder.registers(zero_point=3, low=0, high=255, zero_a=1, zero_b=2, mult_a=5, mult_b=6, round_add=0,
                                keep_mask=255)
    assert len(registers) == len(adder.config) <= target.core["config_registers"]
    assert registers[adder.config["mult_b"]] == 6 and registers[adder.config["last_phase"]] == 7


def test_weighted_integration_is_one_instruction_more_per_tick_than_shift_and_add():
    """LOAD k, ADD phase, UPDS (weighted) against SFTI, UPDV (the paper's): counted on both paths."""
    from sdannc.backend.program_cost import program_cost

    target = load_target("darwin3")
    stem = NEURONS["stem"]
    horner = stem.program(stem_program_node(3, 16, [5]), target)
    weighted_node = stem_program_node(3, 16, [5])
    weighted_node.attrs["integration"] = "weighted"
    weighted = stem.program(weighted_node, target)
    text = stem.source(weighted_node)
    assert "UPDS R7, -7" in text and "LOAD R7, 7" not in text and "UPDV" not in text and "SFTI R0, L, 1" not in text
    (h_tick, h_last), (w_tick, w_last) = program_cost(horner, target), program_cost(weighted, target)
    assert (w_tick.instructions, w_last.instructions) == (h_tick.instructions + 1, h_last.instructions + 1)
    assert (w_tick.cycles, w_last.cycles) == (h_tick.cycles + 1, h_last.cycles + 1)
    assert h_last.instructions > h_tick.instructions  # the last input bit also requantizes


def test_program_cost_counts_the_target_cycle_overrides():
    from sdannc.backend.program_cost import program_cost

    target = load_target("darwin3")
    words = ISA.encode_program(assemble_file(PROGRAMS / "if_neuron.s", ISA))
    tick, last = program_cost(words, target)
    assert tick == last and tick.instructions == 5
    assert tick.cycles == sum(ISA.cycles(i.mnemonic) for i in ISA.decode_program(words))
    target = copy.deepcopy(target)
    target.raw["cycles"]["instructions"] = {"UPDV": 7}
    assert program_cost(words, target)[0].cycles == tick.cycles - ISA.cycles("UPDV") + 7
