; Lookup neuron: any quantized unary activation (Sigmoid, Tanh, HardSwish, LeakyRelu, SiLU, ...) as
; a table of 256 output codes in the core's lookup memory (LUT, docs/isa.md). The input code arrives
; as spikes, MSB first, on a dendrite of weight 1: code = 2 code + bit each tick, exact after 8
; ticks; then the table gives the output code, which is emitted as the STEM neuron emits its code.
; sdannc/neurons/lut.py writes each layer's table; the program has no parameters.
.state  code 0, threshold 1, phase 2, residue 3
.config last_phase 0
        LDS                     ; R0 code so far, R1 threshold, R2 phase, R3 residue
        LDW  R6, 0              ; this tick's input bit
        SFTI R0, L, 1, TRUNC
        ADD  R0, R6             ; code = 2 code + bit
        LDC  R5, last_phase
        CMP  R2, R5, EQ
        JC   NFLAG, emit        ; not the last input bit: just emit
        LUT  R3, R0             ; residue = the table's output code for this input code
        MOVI R0, 0              ; the next sample's code starts from 0
emit:
        FIRE R3, R1, SUB        ; output bit, MSB first: spike if residue >= 128, then residue -= 128
        SFTI R3, L, 1, TRUNC
        ADDI R2, 1
        LOGIC R2, R5, AND       ; phase = (phase + 1) mod 8
        STS
        END
