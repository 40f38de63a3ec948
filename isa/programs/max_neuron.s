; Bit-serial max: inputs arrive with weights 1, 2, 4, ... so the dendrite sum is the set of inputs
; whose current bit (MSB first) is 1. A result bit is 1 when a remaining candidate has a 1, and
; then only those candidates remain. Emits like the STEM neuron, one window later.
.state  result 0, threshold 1, phase 2, residue 3, candidates 4   ; threshold: 128
.config last_phase 0, all_candidates 1                            ; all candidates: 2^inputs - 1
        LDS                     ; R0 result, R1 threshold, R2 phase, R3 residue
        LOAD R4, candidates
        LDW  R6, 0              ; inputs with a 1 in this bit
        LOGIC R6, R4, AND       ; ... among the candidates
        SFTI R0, L, 1, TRUNC
        MOVI R7, 1
        MOVI R8, 0
        CMP  R6, R6, EQ0        ; no candidate has a 1?
        SEL  R7, R8             ; then the result bit is 0
        SEL  R6, R4             ; and the candidates stay
        ADD  R0, R7
        MOV  R4, R6
        LDC  R5, last_phase
        CMP  R2, R5, EQ
        JC   NFLAG, emit
        MOV  R3, R0             ; residue = the maximum
        MOVI R0, 0
        LDC  R4, all_candidates ; every input is a candidate again
emit:
        FIRE R3, R1, SUB
        SFTI R3, L, 1, TRUNC
        ADDI R2, 1
        LOGIC R2, R5, AND
        STORE R4, candidates
        STS
        END
