; STEM neuron (SDANN 3.2): 8-bit codes as 8 spikes, MSB first, pipelined.
; Every tick, integration "horner" (the paper's scaled integration): acc = 2 * acc + (dendrite sum >>
; acc_shift); integration "weighted": acc += dendrite sum x 2^(7 - phase) / 2^k with k per neuron
; (UPDS, one rounding per tick that later ticks do not double; the bias is the start value, init);
; and one output bit of the previous sample.
; On the last input bit: requantize, add the zero point, clamp, and start emitting.
; A template (docs/isa.md): sdannc/neurons/stem.py fills in each layer's parameters; as it stands,
; with the values below, it is the reference program.
.state  acc 0, threshold 1, phase 2, residue 3, bias 4, multiplier 5, init 6, acc_shift 7   ; threshold: 128
.config last_phase 0, zero_point 1, low 2, high 3, round_add 4, keep_mask 5    ; last phase: 7
.param  acc_shift 0             ; scaled integration: the per-tick right shift (horner)
.param  horner True             ; acc = 2 acc + sum >> acc_shift
.param  weighted False          ; acc += sum x 2^-(phase + field acc_shift - 7), the shift per neuron
.param  mul_op MULT             ; MUL rounds at mul_shift; MULT truncates and the last out shift rounds
.param  mul_shift 15
.param  out_shifts [4]          ; right shifts after the multiply
.param  round RND               ; how they round: RND, or RNE where the multiplier is exact
        LDS                     ; R0 acc, R1 threshold, R2 phase, R3 residue
.if horner
        SFTI R0, L, 1, TRUNC    ; earlier bits weigh twice as much
        UPDV {acc_shift}        ; + this tick's weighted input bits (scaled integration)
.end
.if weighted
        LOAD R7, acc_shift      ; this neuron's scaling 2^-k
        ADD  R7, R2
        UPDS R7, -7             ; + this tick's input bits x 2^(7 - phase) / 2^k, rounded once
.end
        LDC  R5, last_phase
        CMP  R2, R5, EQ
        JC   NFLAG, emit        ; not the last input bit: just emit
        LOAD R6, bias
        ADD  R0, R6             ; + bias
        LOAD R6, multiplier
        {mul_op} R0, R6, {mul_shift}    ; * multiplier
.for shift in out_shifts
        SFTI R0, R, {shift}, {round}    ; >> shift, rounded
.end
.include output_code.inc
        LOAD R0, init           ; acc = starting value for the next sample
emit:
        FIRE R3, R1, SUB        ; output bit, MSB first: spike if residue >= 128, then residue -= 128
        SFTI R3, L, 1, TRUNC
        ADDI R2, 1
        LOGIC R2, R5, AND       ; phase = (phase + 1) mod 8
        STS
        END
