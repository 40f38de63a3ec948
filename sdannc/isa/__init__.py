"""The Darwin3-like instruction set, read from isa/<name>.yaml: the only code that knows opcodes and bits.

    isa = load_isa()                          # isa/darwin3.yaml, checked and cached
    word = isa.encode(Instr.of("ADD", rs=0, rt=3))
    instrs = assemble(text, isa)              # and disassemble(words, isa) back to text
"""

from .assembler import assemble, assemble_file, disassemble, disassemble_file, format_instr
from .encoding import Instr, read_program_bin, write_program_bin
from .table import FieldSpec, InstructionSet, InstructionSpec, IsaError, load_isa

__all__ = [
    "FieldSpec",
    "Instr",
    "InstructionSet",
    "InstructionSpec",
    "IsaError",
    "assemble",
    "assemble_file",
    "disassemble",
    "disassemble_file",
    "format_instr",
    "load_isa",
    "read_program_bin",
    "write_program_bin",
]
