; Rate-coded product neuron (docs/codings.md): each input's spikes counted apart (dendrites of weights
; 1 and 2), so both codes are exact after the window; then the product neuron's search
; (product_search.inc), and the output code sent as spikes as the rate linear neuron sends it.
; sdannc/neurons/rate_mul.py.
.state  acc_a 0, threshold 1, phase 2, residue 3, acc_b 4, center 5, center_low 6   ; center: -C (two_words); threshold: 1
.config last_phase 0, zero_a 1, zero_b 2, window 3
.include rate_two_codes.inc
.include product_search.inc
        MOVI R0, 0              ; a and b start from 0 for the next sample
        MOVI R4, 0
emit:
        FIRE R3, R1, SUB        ; a spike while residue >= 1, then residue -= 1
.include coded_phase.inc
        STORE R4, acc_b
        STS
        END
