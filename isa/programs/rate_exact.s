; Rate-coded linear neuron on 16-bit registers (docs/codings.md): rate_linear.s's count with the
; membrane in two words, so that the sum is exact, then integration exact's threshold search
; (coded_exact.inc) instead of the multiplier: the codes the STEM neuron's exact program
; (stem_exact.s) gives. Each tick the dendrite sum s = s_hi 2^14 + s_lo (LDW, LDWR) is added,
; v += s, as H 2^14 + L with L in [-2^13, 2^13) (exact_carry.inc); on the window's last tick the
; output code y, sent as rate_linear.s sends it (y spikes from that tick on). Field record: the
; neuron's record in the lookup memory.
.state  v 0, v_low 1, phase 2, residue 3, threshold 4, record 5   ; threshold: 1
.config last_phase 0, window 1  ; last phase 254
        LDS                     ; R0 v's high word, R1 its low word, R2 phase, R3 residue (spikes still to send)
        LDW  R4, 14             ; s_hi
        LDWR R5, 14             ; s_lo
        ADD  R1, R5
.include exact_carry.inc
        ADD  R0, R4
        ADD  R0, R6             ; v += s
        LDC  R9, last_phase
        CMP  R2, R9, EQ
        JC   NFLAG, emit        ; not the window's last tick: just send
.include coded_exact.inc
emit:
        LOAD R9, threshold
        FIRE R3, R9, SUB        ; a spike while residue >= 1, then residue -= 1
.include coded_phase.inc
        STS
        END
