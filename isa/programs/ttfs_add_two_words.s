; Time-to-first-spike Add neuron on 16-bit registers (docs/codings.md): ttfs_add.s with the two-word
; Add's arithmetic (add_two_words.inc, as add_two_words.s computes it: darwin3-wide's sums bit for
; bit), then the output spike counted as the ttfs linear neuron counts it. sdannc/neurons/coding.py
; (CodedAdd) fills in each layer's parameters.
.state  acc_a 0, threshold 1, phase 2, residue 3, acc_b 4, offset 5, offset_low 6   ; threshold: 256
.config last_phase 0, zero_point 1, low 2, high 3, zero_a 4, zero_b 5, mult_a 6, mult_b 7, round_add 8, keep_mask 9, mult_a_low 10, mult_b_low 11, window 12
.include ttfs_two_codes.inc
.include add_two_words.inc
.include output_code.inc
        MOVI R0, 0              ; a and b start from 0 for the next sample
        MOVI R4, 0
        JC   ALWAYS, next
emit:
        ADDI R3, 1
        FIRE R3, R1, ZERO       ; the output spike when the count reaches 256, once
next:
.include coded_phase.inc
        STORE R4, acc_b
        STS
        END
