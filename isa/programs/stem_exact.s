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
.param  search_step bias         ; the state fields exact_search.inc reads
.param  search_high multiplier
.param  search_low init
.config last_phase 0, zero_point 1, low 2, high 3, round_add 4, keep_mask 5    ; last phase: 7
        LDS                     ; R0 H, R1 L, R2 phase, R3 the code so far
        LDW  R4, 14             ; s_hi
        LDWR R5, 14             ; s_lo
        SFTI R1, L, 1, TRUNC
        ADD  R1, R5             ; v = 2L + s_lo
        MOV  R6, R1
        SFTI R6, R, 14, RND     ; c = round(v / 2^14): -1, 0 or 1
        MOV  R7, R6
        SFTI R7, L, 14, TRUNC
        SUB  R1, R7             ; L = v - c 2^14
        SFTI R0, L, 1, TRUNC
        ADD  R0, R4
        ADD  R0, R6             ; H = 2H + s_hi + c
        LOAD R10, acc_shift     ; the neuron's record
        LDC  R5, last_phase
        CMP  R2, R5, EQ
        JC   NFLAG, search      ; not the last input bit: one step of the previous sample's search
        MOV  R9, R10
        ADDI R9, 1
        LUT  R11, R9            ; the bias's high word
        ADDI R9, 1
        LUT  R12, R9            ; its low word
        ADD  R1, R12            ; L + bias low, in [-2^14, 2^14)
        MOV  R6, R1
        SFTI R6, R, 14, RND     ; its carry
        MOV  R7, R6
        SFTI R7, L, 14, TRUNC
        SUB  R1, R7
        ADD  R0, R11
        ADD  R0, R6             ; T + bias = H 2^14 + L
        STORE R0, multiplier    ; searched over the next 8 ticks
        STORE R1, init
        MOVI R0, 0              ; H = L = 0 for the next sample
        MOVI R1, 0
        MOVI R3, 0              ; the code so far
        MOVI R4, 1
        SFTI R4, L, 7, TRUNC
        STORE R4, bias          ; the step: 128, 64, ..., 1
search:
.include exact_search.inc
        ADDI R2, 1
        LOGIC R2, R5, AND       ; phase = (phase + 1) mod 8
        STS
        END
