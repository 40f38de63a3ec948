; Time-to-first-spike linear neuron on 16-bit registers (docs/codings.md): ttfs_linear.s's ramp with
; the current and the membrane each in two words, so that the sum is exact, then integration exact's
; threshold search (coded_exact.inc) instead of the multiplier: the codes the STEM neuron's exact
; program (stem_exact.s) gives. A code a arrives as one spike at tick 256 - a; each tick the
; dendrite sum s = s_hi 2^14 + s_lo (LDW, LDWR) ramps the current, i += s, and the membrane
; integrates it, v += i, both as H 2^14 + L with L in [-2^13, 2^13) (exact_carry.inc); on the
; window's last tick the output code y, sent as ttfs_linear.s sends it (fires at tick 255 - y of the
; next window; y = 0 never fires). Field record: the neuron's record in the lookup memory.
.state  v 0, v_low 1, phase 2, residue 3, threshold 4, current 5, current_low 6, record 7   ; threshold: 256
.config last_phase 0, window 1  ; last phase 255
        LDS                     ; R0 v's high word, R1 its low word, R2 phase, R3 residue (the output's count)
        LOAD R4, current
        LOAD R5, current_low
        LDW  R8, 14             ; s_hi
        ADD  R4, R8
        LDWR R8, 14             ; s_lo
        ADD  R5, R8             ; i += s, the low word in [-2^14, 2^14)
        MOV  R6, R5
        SFTI R6, R, 14, RND
        MOV  R7, R6
        SFTI R7, L, 14, TRUNC
        SUB  R5, R7
        ADD  R4, R6             ; its carry into the high word
        ADD  R1, R5             ; v += i
.include exact_carry.inc
        ADD  R0, R4
        ADD  R0, R6
        LDC  R9, last_phase
        CMP  R2, R9, EQ
        JC   NFLAG, emit        ; not the window's last tick: just count towards the output spike
.include coded_exact.inc
        MOVI R4, 0              ; i starts from 0 for the next sample
        MOVI R5, 0
        JC   ALWAYS, next       ; the last tick sends nothing (a code of 0 would fire here)
emit:
        ADDI R3, 1
        LOAD R9, threshold
        FIRE R3, R9, ZERO       ; the output spike when the count reaches 256, once
next:
.include coded_phase.inc
        STORE R4, current
        STORE R5, current_low
        STS
        END
