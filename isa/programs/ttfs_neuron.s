; Time-to-first-spike neuron (as in Quartz): integrate, fire once when the threshold is first
; crossed, then stay silent.
.state  vt 0, vth 1, fired 3    ; membrane, threshold, has fired
        LDS                     ; R0 vt, R1 vth, R2 I, R3 has-fired
        UPDV 0                  ; vt += wgtsum
        CMP  R3, R3, EQ0        ; not fired yet?
        JC   NFLAG, done
        FIRE R0, R1, NONE       ; first crossing: spike
        MOVI R6, 1
        SEL  R3, R6             ; remember it fired
done:
        STS
        END
