; Time-to-first-spike product neuron (docs/codings.md): codes a and b arrive as one spike each on
; dendrites of weights 1 and 2; a spike at tick p carries 256 - p (a += spike x (256 - p)), so both
; codes are exact after the window; then the product neuron's search (product_search.inc), and the
; output spike counted as the ttfs linear neuron counts it. sdannc/neurons/ttfs_mul.py.
.state  acc_a 0, threshold 1, phase 2, residue 3, acc_b 4, center 5, center_low 6   ; center: -C (two_words); threshold: 256
.config last_phase 0, zero_a 1, zero_b 2, window 3
.include ttfs_two_codes.inc
.include product_search.inc
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
