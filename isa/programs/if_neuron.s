; Integrate-and-fire neuron: the five-instruction program of the vendor's examples.
.state  vt 0, vth 1             ; membrane, threshold
        LDS                     ; R0 vt, R1 vth, R2 I, R3 aux
        UPDV 0                  ; vt += wgtsum
        FIRE R0, R1, ZERO       ; spike when vt >= vth, then vt = 0
        STS
        END
