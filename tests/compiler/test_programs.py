"""The emitted neuron programs: the reference files are the templates, and they fit the ISA."""

from sdannc.backend import programs
from sdannc.isa import assemble_file, load_isa
from sdannc.resources import data_dir
from sdannc.target import load_target

ISA = load_isa()


def test_reference_stem_program_is_the_template_with_example_constants():
    reference = (data_dir("isa") / "programs" / "stem_neuron.s").read_text()
    assert reference == programs.stem_source(0, 15, [4])


def test_stem_program_variants_assemble_within_the_program_memory():
    target = load_target("darwin3")
    plain = programs.stem_program(target, 0, 24, [])
    two_step = programs.stem_program(target, 3, 31, [7], "RNE")
    assert len(two_step) == len(plain) + 1 <= target.core["program_words"]
    text = programs.stem_source(3, 31, [7], "RNE")
    assert "MULT R0, R6, 31" in text and "SFTI R0, R, 7, RNE" in text and "UPDV 3" in text
    assert "MUL  R0, R6, 24" in programs.stem_source(0, 24, [])


def test_reference_add_program_is_the_template_with_example_constants():
    reference = (data_dir("isa") / "programs" / "add_neuron.s").read_text()
    assert reference == programs.add_source(0, [(15, "TRUNC"), (6, "RND")])


def test_add_program_variants_assemble_within_the_program_memory():
    target = load_target("darwin3")
    one_shift = programs.add_program(target, 8, [(5, "RNE")])
    two_shifts = programs.add_program(target, 0, [(15, "TRUNC"), (6, "RND")])
    assert len(two_shifts) == len(one_shift) + 1 <= target.core["program_words"]
    text = programs.add_source(8, [(5, "RNE")])
    assert text.count("MULT R0, R6, 8") == 1 and "MULT R4, R6, 8" in text and "SFTI R0, R, 5, RNE" in text
    assert len(programs.add_config(3, 0, 255, 1, 2, 5, 6)) == len(programs.ADD_CONFIG) <= target.core["config_registers"]
    assert max(programs.ADD_STATE.values()) < target.core["state_fields"]


def test_max_program_is_the_reference_file():
    target = load_target("darwin3")
    words = programs.max_program(target)
    assert list(words) == list(ISA.encode_program(assemble_file(data_dir("isa") / "programs" / "max_neuron.s", ISA)))
