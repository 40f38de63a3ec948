; Exact Add neuron on registers too narrow for its sums (16 bits): the result add_neuron.s gives
; with 32-bit registers, bit for bit, computed in a two-word accumulator (MACW, SFTW: docs/isa.md).
; Codes a and b arrive and are rebuilt as in add_neuron.s; then, once:
;   acc = offset + ma (a - za) + mb (b - zb)                    (exact, two words: R14 high, R15 low)
;   y = clamp(round(acc >> out_shift) + zc)                     (one rounding: RND, or RNE when exact)
; Each multiplier m is held in two registers, m = m_high 2^split + m_low (m_low the remainder of |m|,
; both with m's sign), so that each partial product fits a register; split is the register width - 1.
; A template (docs/isa.md): sdannc/neurons/adder.py fills in each layer's parameters; as it stands,
; with the values of add_two_words.inc, it is the reference program.
.state  acc_a 0, threshold 1, phase 2, residue 3, acc_b 4, offset 5, offset_low 6   ; offset: two words
.config last_phase 0, zero_point 1, low 2, high 3, zero_a 4, zero_b 5, mult_a 6, mult_b 7, round_add 8, keep_mask 9, mult_a_low 10, mult_b_low 11
.include two_codes.inc
.include add_two_words.inc
.include output_code.inc
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
