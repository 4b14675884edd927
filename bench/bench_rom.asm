; The guest side of bench/interp_bench.cpp: fixed workloads that loop forever, so the host can run
; any number of instructions. The host writes the workload number at 0000:0500 before starting;
; each workload increments the dword at 0000:0504 once per pass (the host converts passes into
; instruction counts exactly, each REP iteration counting as one instruction).
%include "rom_common.inc"

SELECT equ 0x0500
PASSES equ 0x0504
SRC    equ 0x1000
DST    equ 0x9000

start:
        SETUP
        mov al, [SELECT]
        cmp al, 1
        je string_loop
        cmp al, 2
        je branchy_loop

; ---- 0: register and memory arithmetic. Per pass: 1 + 1000 * 8 + 2 = 8003 instructions. ----
alu_loop:
        mov cx, 1000
.l:     add ax, bx                        ; 8 instructions per iteration
        xor dx, ax
        add [0x0600], ax                  ; a read-modify-write memory operand
        mov si, [0x0600]
        sub bx, si
        shl di, 1
        dec cx
        jnz .l
        inc dword [PASSES]
        jmp alu_loop

; ---- 1: string instructions. Per pass: see STRING_INSNS_PER_PASS in interp_bench.cpp. ----
string_loop:
        mov si, SRC                       ; 4 + 2048 (REP MOVSW iterations)
        mov di, DST
        mov cx, 2048
        rep movsw
        mov di, DST                       ; 4 + 4096 (REP STOSB iterations)
        mov cx, 4096
        mov al, 0x5A
        rep stosb
        mov si, DST                       ; 2 + 512 * 3 (LODSB / ADD / LOOP)
        mov cx, 512
.l:     lodsb
        add bl, al
        loop .l
        inc dword [PASSES]                ; 2
        jmp string_loop

; ---- 2: calls, returns, stack and conditional branches. Per pass: 1 + 500 * 9 + 2 = 4503. ----
branchy_loop:
        mov cx, 500
.l:     push cx                           ; 9 instructions per iteration, incl. the callee's
        call .f
        pop cx
        test cl, 1
        jz .even
.even:  loop .l
        inc dword [PASSES]
        jmp branchy_loop
.f:     inc bp
        add bp, cx
        ret

        ROM_END
