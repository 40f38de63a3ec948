; Time-to-first-spike lookup neuron (docs/codings.md): the input's one spike at tick p carries the code
; 256 - p (a dendrite of weight 1); on the window's last tick the table in the core's lookup memory gives
; the output code, whose spike is counted as the ttfs linear neuron counts it.
.state  code 0, threshold 1, phase 2, residue 3   ; threshold: 256
.config last_phase 0, window 1
        LDS                     ; R0 code so far, R1 threshold, R2 phase, R3 residue (the output's count)
        LDW  R6, 0              ; 1 when the input spikes now
        LDC  R7, window
        SUB  R7, R2             ; the code a spike now carries: 256 - phase
        MULT R6, R7, 0
        ADD  R0, R6             ; code += spike x (256 - phase)
        LDC  R5, last_phase
        CMP  R2, R5, EQ
        JC   NFLAG, emit
        LUT  R3, R0             ; residue = the table's output code for this input code
        MOVI R0, 0
        JC   ALWAYS, next
emit:
        ADDI R3, 1
        FIRE R3, R1, ZERO       ; the output spike when the count reaches 256, once
next:
.include coded_phase.inc
        STS
        END
