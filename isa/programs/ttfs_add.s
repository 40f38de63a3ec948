; Time-to-first-spike Add neuron (docs/codings.md): each input's one spike at tick p carries the code
; 256 - p, which the neuron keeps (a += spike x (256 - p)), so both codes are exact after the window;
; then the Add neuron's arithmetic (coded_add.inc), and the output spike counted as the ttfs linear
; neuron counts it. sdannc/neurons/ttfs_add.py fills in each layer's parameters.
.state  acc_a 0, threshold 1, phase 2, residue 3, acc_b 4, offset 5   ; threshold: 256
.config last_phase 0, zero_point 1, low 2, high 3, zero_a 4, zero_b 5, mult_a 6, mult_b 7, round_add 8, keep_mask 9, window 10
.include ttfs_two_codes.inc
.include coded_add.inc
        MOVI R0, 0              ; a and b start from 0 for the next sample
        MOVI R4, 0
        JC   ALWAYS, next
emit:
        ADDI R3, 1
        FIRE R3, R1, ZERO       ; the output spike when the count reaches 256, once
next:
.include coded_phase.inc
        STORE R4, acc_b
        STS
        END
