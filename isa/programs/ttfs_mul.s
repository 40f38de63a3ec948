; Time-to-first-spike product neuron (docs/codings.md): codes a and b arrive as one spike each on
; dendrites of weights 1 and 2; a spike at tick p carries 256 - p (a += spike x (256 - p)), so both
; codes are exact after the window; then the product neuron's search (product_search.inc), and the
; output spike counted as the ttfs linear neuron counts it. sdannc/neurons/ttfs_mul.py.
.state  acc_a 0, threshold 1, phase 2, residue 3, acc_b 4   ; threshold: 256
.config last_phase 0, zero_a 1, zero_b 2, window 3
.include coded_two_spikes.inc
        LDC  R9, window
        SUB  R9, R2             ; the code a spike now carries: 256 - phase
        MULT R6, R9, 0
        ADD  R0, R6             ; a += a's spike x (256 - phase)
        MULT R7, R9, 0
        ADD  R4, R7             ; b likewise
        LDC  R5, last_phase
        CMP  R2, R5, EQ
        JC   NFLAG, emit
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
