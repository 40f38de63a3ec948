; Rate-coded lookup neuron (docs/codings.md): the input's spikes (a dendrite of weight 1) counted give
; its code; on the window's last tick the table in the core's lookup memory gives the output code,
; sent as spikes as the rate linear neuron sends its code.
.state  code 0, threshold 1, phase 2, residue 3   ; threshold: 1
.config last_phase 0, window 1
        LDS                     ; R0 code so far, R1 threshold, R2 phase, R3 residue (spikes still to send)
        UPDV 0                  ; code += the input's spike
        LDC  R5, last_phase
        CMP  R2, R5, EQ
        JC   NFLAG, emit
        LUT  R3, R0             ; residue = the table's output code for this input code
        MOVI R0, 0
emit:
        FIRE R3, R1, SUB        ; a spike while residue >= 1, then residue -= 1
.include coded_phase.inc
        STS
        END
