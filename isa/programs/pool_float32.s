; The float32 average pool neuron: onnxruntime's float32 average pool, bit for bit (docs/exactness.md,
; "(a)"; sdannc/neurons/float32_pool.py, the tables passes/float32_pool.py). The window's codes
; arrive on dendrites of weights 1, 2, 4, 8 (row-major), so each tick's dendrite sum holds one bit of
; each; each goes into its own accumulator. Once a sample, each code becomes a term (K, e): K = q - zx
; and e = r(q), the float32 term's rounding error (lookup word q; the term is M K + e in units of the
; input scale's ulp). The kernel's float32 additions, in its order (param steps: the registers of
; the two terms added, the sum into the first, and the records of its number of terms), each: K = Ka + Kb, x = ea + eb, and from K's record
; (the (c, f, p) of x's side of its boundary xb) the sum's error e = p rne((c + x) f / 2^11) - c:
; float32's rounding to 24 bits, in small integers. The code is the last K's base, + 1 where e reaches
; K's step. Emitted MSB first over the next 8 ticks, as the STEM neuron does.
.state  q0 0, threshold 1, phase 2, residue 3, q1 4, q2 5, q3 6    ; threshold: 128
.config last_phase 0, records2 1, records3 2, records4 3, finals 4
.param  align 11                ; (c + x) f holds c + x at 2^align per 2^d (passes/float32_pool.ALIGN)
.param  boundary True            ; some record has two sides (the compiler drops the test where none has)
.param  steps [("R0", "R7", "R4", "R8", "records2"), ("R0", "R7", "R5", "R9", "records3"), ("R0", "R7", "R6", "R10", "records4")]
        LDS                     ; R0 q0, R1 threshold, R2 phase, R3 residue
        LOAD R4, q1
        LOAD R5, q2
        LOAD R6, q3
        LDW  R7, 0              ; this tick's bits: q0's + 2 q1's + 4 q2's + 8 q3's
        MOVI R9, 1
        MOV  R8, R7
        LOGIC R8, R9, AND       ; q0's bit
        SFTI R0, L, 1, TRUNC
        ADD  R0, R8             ; q0 = 2 q0 + bit
        SFTI R7, R, 1, TRUNC
        MOV  R8, R7
        LOGIC R8, R9, AND
        SFTI R4, L, 1, TRUNC
        ADD  R4, R8             ; q1
        SFTI R7, R, 1, TRUNC
        MOV  R8, R7
        LOGIC R8, R9, AND
        SFTI R5, L, 1, TRUNC
        ADD  R5, R8             ; q2
        SFTI R7, R, 1, TRUNC
        SFTI R6, L, 1, TRUNC
        ADD  R6, R7             ; q3 (the last bit)
        LDC  R9, last_phase
        CMP  R2, R9, EQ
        JC   NFLAG, emit        ; not the last input bit: just emit
        LUT  R7, R0             ; each code's term: e = r(q); its K is q - zx, held as q
        LUT  R8, R4             ; (the records of a sum of m terms are at records_m + 8 x their
        LUT  R9, R5             ; codes' sum: the m zero points are in records_m)
        LUT  R10, R6
.for ka, ea, kb, eb, records in steps
        ADD  {ka}, {kb}         ; K
        ADD  {ea}, {eb}         ; x, the exact sum's error
        MOV  R11, {ka}
        SFTI R11, L, 3, TRUNC
        LDC  R12, {records}
        ADD  R11, R12           ; K's record: xb, (c, f, p) below xb, (c, f, p) from xb
.if boundary
        LUT  R12, R11           ; xb
        CMP  {ea}, R12, GE      ; x >= xb
        MOV  R12, R11
        ADDI R12, 3
        SEL  R11, R12           ; then the second side's
.end
        ADDI R11, 1
        LUT  R12, R11           ; c
        ADD  {ea}, R12          ; c + x
        ADDI R11, 1
        LUT  R13, R11           ; f = 2^(align - d)
        MOVI R14, 0
        MOVI R15, 0
        MACW {ea}, R13, 0       ; (c + x) f
        SFTW {ea}, {align}, RNE ; rne((c + x) / 2^d)
        ADDI R11, 1
        LUT  R13, R11           ; p = 2^d
        MULT {ea}, R13, 0
        SUB  {ea}, R12          ; e = R24(M K + x) - M K
.end
        MOV  R11, R0
        ADD  R11, R0
        LDC  R12, finals
        ADD  R11, R12           ; K's base code and step
        LUT  R3, R11            ; residue = the base code
        ADDI R11, 1
        LUT  R12, R11           ; the step
        MOV  R13, R3
        ADDI R13, 1
        CMP  R7, R12, GE        ; e at or past the step
        SEL  R3, R13            ; then base + 1
        MOVI R0, 0              ; the codes start from 0 for the next sample
        MOVI R4, 0
        MOVI R5, 0
        MOVI R6, 0
emit:
        FIRE R3, R1, SUB        ; output bit, MSB first
        SFTI R3, L, 1, TRUNC
        ADDI R2, 1
        LDC  R9, last_phase
        LOGIC R2, R9, AND       ; phase = (phase + 1) mod 8
        STORE R4, q1
        STORE R5, q2
        STORE R6, q3
        STS
        END
