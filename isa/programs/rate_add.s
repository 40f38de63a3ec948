; Rate-coded Add neuron (docs/codings.md): each input's spikes are counted apart (a += a's spike,
; b += b's), so both codes are exact after the window; then the Add neuron's arithmetic
; (coded_add.inc) and the output code sent as spikes as the rate linear neuron sends it.
; sdannc/neurons/rate_add.py fills in each layer's parameters.
.state  acc_a 0, threshold 1, phase 2, residue 3, acc_b 4, offset 5   ; threshold: 1
.config last_phase 0, zero_point 1, low 2, high 3, zero_a 4, zero_b 5, mult_a 6, mult_b 7, round_add 8, keep_mask 9, window 10
.include rate_two_codes.inc
.include coded_add.inc
        MOVI R0, 0              ; a and b start from 0 for the next sample
        MOVI R4, 0
emit:
        FIRE R3, R1, SUB        ; a spike while residue >= 1, then residue -= 1
.include coded_phase.inc
        STORE R4, acc_b
        STS
        END
