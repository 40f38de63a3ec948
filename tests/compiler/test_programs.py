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


def test_max_program_is_the_reference_file():
    target = load_target("darwin3")
    words = programs.max_program(target)
    assert list(words) == list(ISA.encode_program(assemble_file(data_dir("isa") / "programs" / "max_neuron.s", ISA)))
