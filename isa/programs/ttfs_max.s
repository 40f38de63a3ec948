; Time-to-first-spike max pooling (docs/codings.md): the largest code is the earliest spike. Inputs
; arrive on dendrites of positive weights, so the dendrite sum is positive when any input spikes; a
; spike at tick p carries the code 256 - p, and the neuron keeps the largest. On the window's last tick
; it starts counting towards its output spike as the ttfs linear neuron does.
.state  result 0, threshold 1, phase 2, residue 3   ; threshold: 256
.config last_phase 0, window 1
        LDS                     ; R0 result, R1 threshold, R2 phase, R3 residue (the output's count)
        LDW  R6, 0              ; > 0: some input spikes now
        LDC  R7, window
        SUB  R7, R2             ; the code a spike now carries: 256 - phase
        MOVI R8, 0
        CMP  R6, R6, EQ0
        SEL  R7, R8             ; no spike: 0
        CMP  R7, R0, GT
        SEL  R0, R7             ; result = the largest code so far
        LDC  R5, last_phase
        CMP  R2, R5, EQ
        JC   NFLAG, emit
        MOV  R3, R0             ; residue = the maximum
        MOVI R0, 0
        JC   ALWAYS, next
emit:
        ADDI R3, 1
        FIRE R3, R1, ZERO       ; the output spike when the count reaches 256, once
next:
.include coded_phase.inc
        STS
        END
