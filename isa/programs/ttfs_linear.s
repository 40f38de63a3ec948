; Time-to-first-spike linear neuron (Quartz's ramp on integer codes; docs/codings.md): a code a
; arrives as one spike at tick 256 - a of the window (none for 0). Every tick the synaptic current
; ramps, i += wgtsum, and the membrane integrates it, v += i: an input spike at tick 256 - a adds its
; weight w on each of the a ticks left, so after the window v = sum w a exactly. On the window's last
; tick: requantize as the STEM neuron does (coded_requantize.inc) into the output code y, and start
; counting: the residue counts one a tick from y and fires on reaching 256 (the threshold), at tick
; 255 - y of the next window, which the next layer receives at its tick 256 - y; y = 0 never fires.
; A template (docs/isa.md): sdannc/neurons/ttfs_linear.py fills in each layer's parameters.
.state  v 0, threshold 1, phase 2, residue 3, current 4, bias 5, multiplier 6   ; threshold: 256
.config last_phase 0, zero_point 1, low 2, high 3, round_add 4, keep_mask 5, window 6   ; last phase 255
        LDS                     ; R0 v, R1 threshold, R2 phase, R3 residue (the output's count)
        LOAD R4, current
        LDW  R6, 0              ; this tick's dendrite sum: the weights of the inputs that spike now
        ADD  R4, R6             ; i += wgtsum: the current ramps up from each input's spike on
        ADD  R0, R4             ; v += i
        LDC  R5, last_phase
        CMP  R2, R5, EQ
        JC   NFLAG, emit        ; not the window's last tick: just count towards the output spike
.include coded_requantize.inc
        MOVI R0, 0              ; v and i start from 0 for the next sample
        MOVI R4, 0
        JC   ALWAYS, next       ; the last tick sends nothing (a code of 0 would fire here)
emit:
        ADDI R3, 1
        FIRE R3, R1, ZERO       ; the output spike when the count reaches 256, once
next:
.include coded_phase.inc
        STORE R4, current
        STS
        END
