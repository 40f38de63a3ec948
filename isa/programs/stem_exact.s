; STEM neuron, integration "exact" (16-bit registers; docs/exactness.md): onnxruntime's codes (or
; darwin3-wide's, where onnxruntime's requantization is not the float32 one).
; T = H 2^14 + L, L in [-2^13, 2^13), by Horner's scheme on two words: the tick's dendrite sum
; s = s_hi 2^14 + s_lo (LDW and LDWR at 14), v = 2L + s_lo, carry c = round(v / 2^14) in {-1, 0, 1},
; L = v - c 2^14, H = 2H + s_hi + c. After the last input bit the neuron's bias (two words) is added
; the same way. No multiplier: the output code is how many of the 255 thresholds of the neuron's
; table (the layer's requantization as a step function of T + bias: one table per multiplier, so a
; per-tensor layer has one) are at or below T + bias, found one bit a tick, MSB first, by a binary
; search in the core's lookup memory, pipelined as the other STEM program: the search of a sample
; runs while the next one accumulates. The lookup memory holds the core's tables (two words a
; threshold, 512 words a table), then a 3-word record per distinct (table, bias) of its neurons:
; the table's base, the bias's high word, its low word.
; The fields have the STEM program's names (sdannc/neurons/stem.py): acc = H, threshold = L,
; residue = the code so far, bias = the search's step, multiplier and init = the previous sample's
; H and L (bias added), acc_shift = the neuron's record.
.state  acc 0, threshold 1, phase 2, residue 3, bias 4, multiplier 5, init 6, acc_shift 7   ; threshold: 128
.config last_phase 0, zero_point 1, low 2, high 3, round_add 4, keep_mask 5    ; last phase: 7
.param  search_step bias         ; the field that holds the search's step
.param  high_op LOAD            ; exact_search.inc reads T + bias from the fields the last tick stored
.param  high multiplier
.param  low_op LOAD
.param  low init
        LDS                     ; R0 H, R1 L, R2 phase, R3 the code so far
        LDW  R4, 14             ; s_hi
        LDWR R5, 14             ; s_lo
        SFTI R1, L, 1, TRUNC
        ADD  R1, R5             ; v = 2L + s_lo
.include exact_carry.inc
        SFTI R0, L, 1, TRUNC
        ADD  R0, R4
        ADD  R0, R6             ; H = 2H + s_hi + c
        LOAD R10, acc_shift     ; the neuron's record
        LDC  R5, last_phase
        CMP  R2, R5, EQ
        JC   NFLAG, search      ; not the last input bit: one step of the previous sample's search
.include exact_bias.inc
        STORE R0, multiplier    ; searched over the next 8 ticks
        STORE R1, init
        MOVI R0, 0              ; H = L = 0 for the next sample
        MOVI R1, 0
        MOVI R3, 0              ; the code so far
        MOVI R4, 1
        SFTI R4, L, 7, TRUNC
        STORE R4, bias          ; the step: 128, 64, ..., 1
search:
.include exact_search_tick.inc
        ADDI R2, 1
        LOGIC R2, R5, AND       ; phase = (phase + 1) mod 8
        STS
        END
