; STEM neuron (SDANN section 3.2): 8-bit activations as 8 spikes, MSB first, pipelined.
;
; Every tick it accumulates one input bit plane (shift-and-add) and emits one bit of the result of
; the previous sample (compare-and-subtract); on the last input bit it requantizes:
;   out = clamp(round(round((acc + bias) * M >> 15) >> 4) + zero_point, 0, 255)
; State:  field 0 acc, 1 emit threshold (128), 2 phase (tick mod 8), 3 output residue,
;         field 4 bias, field 5 multiplier M (Q15).
; Config: creg 0 = 7 (last phase), creg 1 = output zero point, creg 2 = 255 (largest code).
        LDS                     ; R0 acc, R1 threshold, R2 phase, R3 residue
        SFTI R0, L, 1, TRUNC    ; acc = 2 * acc: earlier bits weigh twice as much
        UPDV 0                  ; acc += this tick's weighted input bits
        LDC  R5, 0              ; R5 = last phase
        CMP  R2, R5, EQ
        JC   NFLAG, emit        ; not the last input bit: just emit
        LOAD R6, 4
        ADD  R0, R6             ; + bias
        LOAD R6, 5
        MUL  R0, R6, 15         ; * M >> 15, rounded
        SFTI R0, R, 4, RND      ; >> 4, rounded
        LDC  R6, 1
        ADD  R0, R6             ; + output zero point
        MOVI R6, 0
        CMP  R0, R6, LT0
        SEL  R0, R6             ; clamp at 0 (ReLU)
        LDC  R6, 2
        CMP  R0, R6, GT
        SEL  R0, R6             ; clamp at 255
        MOV  R3, R0             ; residue = output code
        MOVI R0, 0              ; acc = 0 for the next sample
emit:
        FIRE R3, R1, SUB        ; output bit: spike if residue >= 128, then residue -= 128
        SFTI R3, L, 1, TRUNC    ; next bit into the MSB position
        ADDI R2, 1
        LOGIC R2, R5, AND       ; phase = (phase + 1) mod 8
        STS
        END
