; Add neuron on 16-bit registers whose output is onnxruntime's QLinearAdd, bit for bit (docs/exactness.md,
; "(b) Add"): codes a and b arrive and are rebuilt as in add_neuron.s; then, once a sample, the
; exact sum S = ma (a - za) + mb (b - zb) in the two-word accumulator (as add_two_words.s computes
; it, without offset), split into X = H 2^14 + L as integration exact holds its sums, and the output
; code is the number of the layer's 255 thresholds at or below S: a binary search in the core's
; lookup memory, a bit a tick, MSB first, while the next sample arrives (exact_search.inc, the
; search and table layout of stem_exact.s; the thresholds come from onnxruntime's own float32
; function over all 256 x 256 input pairs, passes/requantize.add_search). sdannc/neurons/adder.py.
.state  acc_a 0, record 1, phase 2, residue 3, acc_b 4, sum_high 5, sum_low 6, step 7   ; residue: the code so far
.config last_phase 0, zero_a 4, zero_b 5, mult_a 6, mult_b 7, mult_a_low 10, mult_b_low 11
.param  split 15                ; the multipliers' low parts' bits (a MACW shift)
.param  search_step step         ; the field that holds the search's step
.param  high_op LOAD            ; exact_search.inc reads the sum from the fields the computing tick stored
.param  high sum_high
.param  low_op LOAD
.param  low sum_low
.include two_codes.inc
        MOVI R14, 0             ; the accumulator starts at 0
        MOVI R15, 0
        LDC  R6, zero_a
        SUB  R0, R6             ; a - za
        LDC  R6, mult_a
        MACW R0, R6, {split}    ; + (a - za) m_high 2^split
        LDC  R6, mult_a_low
        MACW R0, R6, 0          ; + (a - za) m_low
        LDC  R6, zero_b
        SUB  R4, R6             ; b - zb
        LDC  R6, mult_b
        MACW R4, R6, {split}
        LDC  R6, mult_b_low
        MACW R4, R6, 0          ; S, exact
        SFTW R0, 14, RND        ; H = round(S / 2^14)
        MOVI R6, -4
        MACW R0, R6, 12         ; S - H 2^14 = L, in [-2^13, 2^13)
        SFTW R7, 0, TRUNC
        STORE R0, sum_high      ; searched over the next 8 ticks
        STORE R7, sum_low
        MOVI R0, 0              ; a and b start from 0 for the next sample
        MOVI R4, 0
        MOVI R3, 0              ; the code so far
        MOVI R6, 1
        SFTI R6, L, 7, TRUNC
        STORE R6, step          ; the step: 128, 64, ..., 1
emit:
        STORE R4, acc_b
        MOV  R10, R1            ; the neuron's record (field record, kept by STS)
.include exact_search_tick.inc
        ADDI R2, 1
        LOGIC R2, R5, AND       ; phase = (phase + 1) mod 8
        STS
        END
