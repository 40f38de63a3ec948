; Rate-coded max pooling (docs/codings.md): codes arrive as spikes in the first ticks of the window,
; so some input spikes at tick p exactly when the largest code exceeds p: counting the ticks in which
; the dendrite sum (positive weights) is positive gives the largest code. Sent as the rate linear
; neuron sends its code.
.state  result 0, threshold 1, phase 2, residue 3   ; threshold: 1
.config last_phase 0, window 1
        LDS                     ; R0 result, R1 threshold, R2 phase, R3 residue (spikes still to send)
        LDW  R6, 0              ; > 0: some input spikes now
        MOVI R7, 1
        MOVI R8, 0
        CMP  R6, R6, EQ0
        SEL  R7, R8             ; 1 when some input spikes
        ADD  R0, R7
        LDC  R5, last_phase
        CMP  R2, R5, EQ
        JC   NFLAG, emit
        MOV  R3, R0             ; residue = the maximum
        MOVI R0, 0
emit:
        FIRE R3, R1, SUB        ; a spike while residue >= 1, then residue -= 1
.include coded_phase.inc
        STS
        END
