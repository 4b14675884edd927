; The guest side of bench/interp_bench.cpp: fixed workloads that loop forever, so the host can run
; any number of instructions. The host writes the workload number at 0000:0500 before starting;
; each workload increments the dword at 0000:0504 once per pass (the host converts passes into
; instruction counts exactly, each REP iteration counting as one instruction).
%include "rom_common.inc"
%include "tests/pm_common.inc"

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
        cmp al, 3
        jae pm_workloads

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

; ---- 3 and 4: the ALU loop in 32-bit protected mode, paging off (3) or on (4, 4 KiB pages
; identity-mapping the first 4 MiB), to measure what the TLB's paging-on hit path costs. ----
PT_BENCH equ 0x20000
PD_BENCH equ 0x21000
pm_workloads:
        PM_ENTER

        bits 32
pm_main:
        cmp byte [SELECT], 4
        jne alu32_loop
        mov edi, PT_BENCH
        mov eax, 0x003                    ; present, writable
        mov ecx, 1024
.pte:   mov [edi], eax
        add eax, 0x1000
        add edi, 4
        loop .pte
        mov dword [PD_BENCH], PT_BENCH | 3
        mov eax, PD_BENCH
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
alu32_loop:                               ; per pass: 1 + 1000 * 8 + 2 = 8003, as workload 0
        mov ecx, 1000
.l:     add eax, ebx
        xor edx, eax
        add [0x0600], eax
        mov esi, [0x0600]
        sub ebx, esi
        shl edi, 1
        dec ecx
        jnz .l
        inc dword [PASSES]
        jmp alu32_loop

        PM_SUPPORT
        bits 16
        ROM_END
