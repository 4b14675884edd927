; smc: self-modifying code. Code copied to RAM must run; a rewritten block must be re-decoded;
; a store that patches the immediate of the very next instruction, or an instruction further on
; in the same block, must take effect before that instruction runs; a REP MOVSB that overwrites
; the code right after itself must run the new bytes; and code rewritten through a 32-bit store
; that straddles two instructions.
%define TEST_NAME "smc"
%include "rom_common.inc"

RAMSEG  equ 0x0100                       ; snippets run at 0100:0000 = physical 0x1000
RAMCODE equ RAMSEG << 4

; LOAD snippet: copies snippet `%1` (from %1 to %1_end) to RAMSEG:0000.
%macro LOAD 1
        mov si, %1
        mov cx, %1_end - %1
        call copy_snippet
%endmacro
; AT snippet, label: the physical (= DS:0) address of `label` once `snippet` is loaded.
%define AT(s, l) (RAMCODE + (l) - (s))

start:
        SETUP
        xor ebx, ebx

        ; 1. Code copied to RAM runs.
        LOAD s1
        call RAMSEG:0
        CHECKW ax, 0x1111, 2, "code copied to RAM"
        PRINT {"copied code runs: ok", 10}

        ; 2. Rewriting an immediate of code that already ran (its block is cached): the new value.
        mov word [AT(s1, s1_imm)], 0x2222
        call RAMSEG:0
        CHECKW ax, 0x2222, 3, "patched immediate of a cached block"
        ; ... and again, a byte store this time.
        mov byte [AT(s1, s1_imm) + 1], 0x33
        call RAMSEG:0
        CHECKW ax, 0x3322, 3, "second patch"
        PRINT {"patched cached block re-decoded: ok", 10}

        ; 3. A store that patches the immediate of the NEXT instruction.
        LOAD s3
        call RAMSEG:0
        CHECKW ax, 0x3333, 4, "patch of the next instruction"
        call RAMSEG:0                    ; runs again with the patched bytes still there
        CHECKW ax, 0x3333, 4, "patch of the next instruction (second run)"
        PRINT {"patch of the next instruction: ok", 10}

        ; 4. A store that patches an instruction further on in the same block (opcode and immediate).
        LOAD s4
        call RAMSEG:0
        CHECKW bx, 0x0055, 5, "patch of a later instruction (immediate)"
        CHECKW cx, 0x0077, 5, "patch of a later instruction (opcode: mov bl -> mov cl)"
        PRINT {"patch of a later instruction in the block: ok", 10}

        ; 5. REP MOVSB overwrites the code right after itself, then that code runs.
        LOAD s5
        xor dx, dx
        call RAMSEG:0
        CHECKW dx, 0x6666, 6, "code written by REP MOVSB"
        PRINT {"REP MOVSB over the following code: ok", 10}

        ; 6. REP STOSB turns a run of INC AX (0x40) into NOPs (0x90) just ahead of itself.
        LOAD s6
        call RAMSEG:0
        CHECKW ax, 1, 7, "code rewritten by REP STOSB"
        PRINT {"REP STOSB over the following code: ok", 10}

        ; 7. A dword store straddling two instructions (end of one, start of the next).
        LOAD s7
        call RAMSEG:0
        CHECKW ax, 0xBEEF, 8, "dword patch straddling two instructions (first)"
        CHECKW dx, 0xCAFE, 8, "dword patch straddling two instructions (second)"
        PRINT {"dword patch across two instructions: ok", 10}

        ; 8. A loop that patches its own body each time round (a counter in an immediate).
        LOAD s8
        call RAMSEG:0
        CHECKW ax, 15, 9, "self-patching loop (1+2+3+4+5)"
        PRINT {"self-patching loop: ok", 10}

        PASS

; copy_snippet: DS:SI = CS:SI source, CX bytes, to RAMSEG:0000.
copy_snippet:
        push ds
        push es
        push cs
        pop ds
        mov di, RAMSEG
        mov es, di
        xor di, di
        rep movsb
        pop es
        pop ds
        ret

; ---- snippets, assembled here and run at RAMSEG:0000 (DS = 0 while they run) ----
s1:     mov ax, 0x1111
s1_imm  equ $ - 2
        retf
s1_end:

s3:     mov word [AT(s3, s3_next) + 1], 0x3333
s3_next:
        mov ax, 0x4444
        retf
s3_end:

s4:     mov byte [AT(s4, s4_a) + 1], 0x55        ; imm8 of `mov bl, 0x11`
        mov byte [AT(s4, s4_b)], 0xB1            ; `mov bl, 0x77` becomes `mov cl, 0x77`
        xor bx, bx
        xor cx, cx
        nop
        nop
s4_a:   mov bl, 0x11
        nop
s4_b:   mov bl, 0x77
        retf
s4_end:

s5:     push ds
        push es
        push cs
        pop es                                   ; ES:DI -> the code after the REP MOVSB
        mov di, s5_target - s5
        push cs
        pop ds
        mov si, s5_new - s5
        mov cx, s5_new_end - s5_new
        rep movsb
s5_target:
        times 4 nop                              ; becomes `mov dx, 0x6666` + nop
        pop es
        pop ds
        retf
s5_new: mov dx, 0x6666
        nop
s5_new_end:
s5_end:

s6:     push es
        push cs
        pop es
        mov di, s6_target - s6
        mov cx, 8
        mov al, 0x90
        rep stosb
        mov ax, 1
s6_target:
        times 8 inc ax                           ; become NOPs: AX stays 1
        pop es
        retf
s6_end:

s7:     mov dword [AT(s7, s7_a) + 1], 0xFEBABEEF ; imm16 of the first, opcode+imm lo of the second
s7_a:   mov ax, 0x0000
s7_b:   mov cx, 0xCA00                           ; becomes BA FE CA: mov dx, 0xCAFE
        retf
s7_end:

s8:     xor ax, ax
        mov cx, 5
s8_loop:
        add ax, strict word 1                    ; 05 01 00: the immediate grows 1, 2, 3, ...
s8_imm  equ $ - 2
        inc word [AT(s8, s8_imm)]
        loop s8_loop
        retf
s8_end:

        ROM_END
