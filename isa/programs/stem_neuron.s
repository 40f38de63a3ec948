; STEM neuron (SDANN 3.2): 8-bit codes as 8 spikes, MSB first, pipelined.
; Every tick: acc = 2 * acc + (dendrite sum >> acc_shift), and one output bit of the previous sample.
; On the last input bit: requantize, add the zero point, clamp, and start emitting.
; State: 0 acc, 1 threshold 128, 2 phase, 3 residue, 4 bias, 5 multiplier, 6 starting acc.
; Config: 0 last phase (7), 1 output zero point, 2 low clamp, 3 high clamp.
        LDS                     ; R0 acc, R1 threshold, R2 phase, R3 residue
        SFTI R0, L, 1, TRUNC    ; earlier bits weigh twice as much
        UPDV 0              ; + this tick's weighted input bits (scaled integration)
        LDC  R5, 0
        CMP  R2, R5, EQ
        JC   NFLAG, emit        ; not the last input bit: just emit
        LOAD R6, 4
        ADD  R0, R6             ; + bias
        LOAD R6, 5
        MULT R0, R6, 15        ; * multiplier (MULT: rounded here; MULT: rounded by the shift below)
        SFTI R0, R, 4, RND      ; >> shift, rounded
        LDC  R6, 1
        ADD  R0, R6             ; + output zero point
        LDC  R6, 2
        CMP  R0, R6, LT
        SEL  R0, R6             ; clamp low (the ReLU)
        LDC  R6, 3
        CMP  R0, R6, GT
        SEL  R0, R6             ; clamp high
        MOV  R3, R0             ; residue = output code
        LOAD R0, 6              ; acc = starting value for the next sample
emit:
        FIRE R3, R1, SUB        ; output bit, MSB first: spike if residue >= 128, then residue -= 128
        SFTI R3, L, 1, TRUNC
        ADDI R2, 1
        LOGIC R2, R5, AND       ; phase = (phase + 1) mod 8
        STS
        END
