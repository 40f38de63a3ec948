; Exact Add neuron: codes a and b arrive as spikes, MSB first, on dendrites of weights 1 and 2.
; Every tick the dendrite sum (a's bit + 2 x b's bit) is split and each bit shifted into its own
; accumulator, so both codes are exact after 8 ticks; then, once:
;   y = clamp(shift((ma (a - za) >> p) + (mb (b - zb) >> p) + offset) + zc)   (p = 0)
; State: 0 a, 1 threshold 128, 2 phase, 3 residue, 4 b, 5 offset (this neuron's constant).
; Config: 0 last phase (7), 1 output zero point, 2 low clamp, 3 high clamp, 4 za, 5 zb, 6 ma, 7 mb.
        LDS                     ; R0 a so far, R1 threshold, R2 phase, R3 residue
        LOAD R4, 4              ; b so far
        LDW  R6, 0              ; this tick's bits: a's + 2 x b's
        MOV  R7, R6
        SFTI R7, R, 1, TRUNC    ; b's bit
        MOV  R8, R7
        SFTI R8, L, 1, TRUNC
        SUB  R6, R8             ; a's bit
        SFTI R0, L, 1, TRUNC
        ADD  R0, R6             ; a = 2 a + bit
        SFTI R4, L, 1, TRUNC
        ADD  R4, R7             ; b = 2 b + bit
        LDC  R5, 0
        CMP  R2, R5, EQ
        JC   NFLAG, emit        ; not the last input bit: just emit
        LDC  R6, 4
        SUB  R0, R6             ; a - za
        LDC  R6, 6
        MULT R0, R6, 0        ; ma (a - za), exact when p = 0
        LDC  R6, 5
        SUB  R4, R6             ; b - zb
        LDC  R6, 7
        MULT R4, R6, 0        ; mb (b - zb)
        ADD  R0, R4
        LOAD R6, 5
        ADD  R0, R6             ; + offset
        SFTI R0, R, 15, TRUNC
        SFTI R0, R, 6, RND
        LDC  R6, 1
        ADD  R0, R6             ; + output zero point
        LDC  R6, 2
        CMP  R0, R6, LT
        SEL  R0, R6             ; clamp low (the ReLU)
        LDC  R6, 3
        CMP  R0, R6, GT
        SEL  R0, R6             ; clamp high
        MOV  R3, R0             ; residue = output code
        MOVI R0, 0              ; a and b start from 0 for the next sample
        MOVI R4, 0
emit:
        FIRE R3, R1, SUB        ; output bit, MSB first: spike if residue >= 128, then residue -= 128
        SFTI R3, L, 1, TRUNC
        ADDI R2, 1
        LOGIC R2, R5, AND       ; phase = (phase + 1) mod 8
        STORE R4, 4
        STS
        END
