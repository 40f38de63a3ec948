; Exact Add neuron: codes a and b arrive as spikes, MSB first, on dendrites of weights 1 and 2.
; Every tick the dendrite sum (a's bit + 2 x b's bit) is split and each bit shifted into its own
; accumulator, so both codes are exact after 8 ticks; then, once:
;   y = clamp(shift(round(ma (a - za) >> p) + round(mb (b - zb) >> p) + offset) + zc)   (p = mul_shift)
; A template (docs/isa.md): sdannc/neurons/adder.py fills in each layer's parameters; as it stands,
; with the values below, it is the reference program.
.state  acc_a 0, threshold 1, phase 2, residue 3, acc_b 4, offset 5   ; offset: this neuron's constant
.config last_phase 0, zero_point 1, low 2, high 3, zero_a 4, zero_b 5, mult_a 6, mult_b 7, round_add 8, keep_mask 9
.param  mul_op MULT             ; MULT: exact products (shift 0); MUL: each rounded at mul_shift
.param  mul_shift 0
.param  out_shifts [(15, "TRUNC"), (6, "RND")]   ; (amount, TRUNC | RND | RNE): truncating, then one rounding
.include two_codes.inc
        LDC  R6, zero_a
        SUB  R0, R6             ; a - za
        LDC  R6, mult_a
        {mul_op} R0, R6, {mul_shift}    ; ma (a - za), exact when p = 0
        LDC  R6, zero_b
        SUB  R4, R6             ; b - zb
        LDC  R6, mult_b
        {mul_op} R4, R6, {mul_shift}    ; mb (b - zb)
        ADD  R0, R4
        LOAD R6, offset
        ADD  R0, R6             ; + offset
.for shift, mode in out_shifts
        SFTI R0, R, {shift}, {mode}
.end
.include output_code.inc
        MOVI R0, 0              ; a and b start from 0 for the next sample
        MOVI R4, 0
emit:
        FIRE R3, R1, SUB        ; output bit, MSB first: spike if residue >= 128, then residue -= 128
        SFTI R3, L, 1, TRUNC
        ADDI R2, 1
        LOGIC R2, R5, AND       ; phase = (phase + 1) mod 8
        STORE R4, acc_b
        STS
        END
