; Product of two activations (a squeeze-and-excitation gate): codes a and b arrive as spikes, MSB
; first, on dendrites of weights 1 and 2 (as the Add neuron's do), so both codes are exact after 8
; ticks; then P = (a - za)(b - zb), exact, and the output code is the number of the layer's 255
; thresholds at or below P: onnxruntime's QLinearMul is a non-decreasing step function of P, and its
; steps are in the core's lookup memory (word 0 holds the register's minimum, words 1..255 the
; thresholds), found by a binary search of 8 rounds (LUT, CMP, SEL). sdannc/neurons/multiply.py.
; On 16-bit registers (two_words) P, up to 255^2, does not fit one: the two-word accumulator
; (MACW, SFTW: docs/isa.md) computes Q = sat(P - C), C a constant of the layer chosen so that its
; thresholds less C fit the register, and the search runs over those (the same counts: saturation
; keeps the order of every P against every threshold).
.state  acc_a 0, threshold 1, phase 2, residue 3, acc_b 4, center 5, center_low 6   ; center: -C, two words
.config last_phase 0, zero_a 1, zero_b 2
.include two_codes.inc
.include product_search.inc
        MOVI R0, 0              ; a and b start from 0 for the next sample
        MOVI R4, 0
emit:
        FIRE R3, R1, SUB        ; output bit, MSB first: spike if residue >= 128, then residue -= 128
        SFTI R3, L, 1, TRUNC
        ADDI R2, 1
        LOGIC R2, R5, AND       ; phase = (phase + 1) mod 8
        STORE R4, acc_b
        STS
        END
