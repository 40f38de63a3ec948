"""The Darwin3-like instruction set, read from isa/<name>.yaml: the only code that knows opcodes and bits.

    isa = load_isa()                          # isa/darwin3.yaml, checked and cached
    word = isa.encode(Instr.of("ADD", rs=0, rt=3))
    instrs = assemble(text, isa)              # and disassemble(words, isa) back to text
"""

from .assembler import assemble, assemble_file, assemble_template, disassemble, disassemble_file, format_instr
from .encoding import read_program_bin, write_program_bin
from .table import FieldSpec, Instr, InstructionSet, InstructionSpec, IsaError, load_isa
from .template import ProgramTemplate, parse_template, read_template

__all__ = [
    "FieldSpec",
    "Instr",
    "InstructionSet",
    "InstructionSpec",
    "IsaError",
    "ProgramTemplate",
    "assemble",
    "assemble_file",
    "assemble_template",
    "disassemble",
    "disassemble_file",
    "format_instr",
    "load_isa",
    "parse_template",
    "read_program_bin",
    "read_template",
    "write_program_bin",
]
