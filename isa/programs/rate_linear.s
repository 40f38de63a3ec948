; Rate-coded linear neuron (docs/codings.md): a code a arrives as a spikes, in the first a ticks of a
; window of 255. Every tick the membrane counts its inputs' spikes, v += wgtsum, so after the window
; v = sum w a exactly. On the window's last tick: requantize as the STEM neuron does
; (coded_requantize.inc) into the output code y, and send it as y spikes, one a tick from that tick
; on while the residue is at least 1 (the threshold), which the next layer receives in its ticks
; 0..y-1.
; A template (docs/isa.md): sdannc/neurons/rate_linear.py fills in each layer's parameters.
.state  v 0, threshold 1, phase 2, residue 3, bias 4, multiplier 5   ; threshold: 1
.config last_phase 0, zero_point 1, low 2, high 3, round_add 4, keep_mask 5, window 6   ; last phase 254
        LDS                     ; R0 v, R1 threshold, R2 phase, R3 residue (spikes still to send)
        UPDV 0                  ; v += wgtsum: every input spike adds its weight
        LDC  R5, last_phase
        CMP  R2, R5, EQ
        JC   NFLAG, emit        ; not the window's last tick: just send
.include coded_requantize.inc
        MOVI R0, 0              ; v starts from 0 for the next sample
emit:
        FIRE R3, R1, SUB        ; a spike while residue >= 1, then residue -= 1
.include coded_phase.inc
        STS
        END
