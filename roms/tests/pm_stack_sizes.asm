; pm_stack_sizes: far CALLs from ring 3 through a call gate to ring 0 and far RETs back, in every
; combination of gate size (32- or 16-bit), outer stack size and inner stack size (SS.B). The
; expected values follow the SDM's CALL and RET pseudo-code (Vol. 2A), not vx86:
;   - the inner SS:ESP come from the TSS (SS0:ESP0); the gate's size sizes the pushes (old SS,
;     old ESP, CS, EIP: dwords for a 32-bit gate, words for a 16-bit one) and the inner stack's
;     size picks SP or ESP for them;
;   - the old ESP pushed by a 32-bit gate is ESP, by a 16-bit gate SP; a RETF to the outer level
;     loads it back with SS.
; Where the SDM leaves a value open it is not compared: the upper half of the ESP a 32-bit gate
; pushes from a 16-bit outer stack (ESP as QEMU pushes it, or SP zero-extended as Bochs does) and
; of ESP after that RETF, or after a 16-bit RETF.
; Only the low 16 bits of the pushed selector slots are compared (P6 writes a selector's slot as
; 16 bits; other chips zero-extend).
%define TEST_NAME "pm_stack_sizes"
%include "rom_common.inc"
%include "tests/pm_common.inc"

DATA16    equ 0x38      ; ring-0 data, base 0, limit FFFF, B = 0 (a 16-bit stack)
DATA16_R3 equ 0x40      ; the same at DPL 3
GATE32    equ 0x48      ; 32-bit call gate, DPL 3 -> CODE32:target32
GATE16    equ 0x50      ; 16-bit call gate, DPL 3 -> CODE16:target16
ESP0      equ 0x9000    ; the inner stack's top (TSS.ESP0)
R         equ 0x0700    ; results: +0 ESP and +4 SS in the target, +8.. its frame (4 slots),
                        ; +0x20 ESP and +0x24 SS back in ring 3

start:
        PM_ENTER

        bits 32
pm_main:
        DESC DATA16, 0, 0xFFFF, 0x92, 0x0
        DESC DATA16_R3, 0, 0xFFFF, 0xF2, 0x0
        GATE GDT + GATE32, CODE32, target32, 0xEC
        GATE GDT + GATE16, CODE16, target16, 0xE4
        mov byte [IDT + 0x80 * 8 + 5], 0xEE       ; INT 0x80 from ring 3 back to ring 0

; COMBO gate (32|16), outer SS, outer ESP, inner SS, code: one call through the gate and back.
%macro COMBO 5
        mov dword [TSS + 4], ESP0
        mov dword [TSS + 8], %4
        mov edi, R
        mov ecx, 0x28 / 4
        mov eax, 0xEEEEEEEE
        rep stosd
        TRY %%back
        push dword %2 | 3
        push dword %3
        push dword 0x0002
        push dword CODE32_R3 | 3
%if %1 == 32
        push dword r3_gate32
%else
        push dword r3_gate16
%endif
        iretd
%%back: EXPECT_EXC 0x80, -1, %5
        CHECK32 dword [R + 0x04], %4, %5, "inner SS in the gate target"
        movzx eax, word [R + 0x24]
        CHECK32 eax, %2 | 3, %5, "outer SS after RETF"
%if %1 == 32
        CHECK32 dword [R + 0x00], ESP0 - 16, %5, "inner ESP: four dwords pushed"
        CHECK32 dword [R + 0x08], r3_gate32.ret, %5, "pushed EIP"
        movzx eax, word [R + 0x0C]
        CHECK32 eax, CODE32_R3 | 3, %5, "pushed CS"
%if (%3) > 0xFFFF
        movzx eax, word [R + 0x10]
        CHECK32 eax, (%3) & 0xFFFF, %5, "pushed old ESP (its low half: a 16-bit outer stack)"
        movzx eax, word [R + 0x20]
        CHECK32 eax, (%3) & 0xFFFF, %5, "outer SP after the 32-bit RETF"
%else
        CHECK32 dword [R + 0x10], %3, %5, "pushed old ESP"
        CHECK32 dword [R + 0x20], %3, %5, "outer ESP after the 32-bit RETF"
%endif
        movzx eax, word [R + 0x14]
        CHECK32 eax, %2 | 3, %5, "pushed old SS"
%else
        CHECK32 dword [R + 0x00], ESP0 - 8, %5, "inner ESP: four words pushed"
        movzx eax, word [R + 0x08]
        CHECK32 eax, r3_gate16.ret, %5, "pushed IP"
        movzx eax, word [R + 0x0A]
        CHECK32 eax, CODE32_R3 | 3, %5, "pushed CS"
        movzx eax, word [R + 0x0C]
        CHECK32 eax, (%3) & 0xFFFF, %5, "pushed old SP"
        movzx eax, word [R + 0x0E]
        CHECK32 eax, %2 | 3, %5, "pushed old SS"
        movzx eax, word [R + 0x20]
        CHECK32 eax, (%3) & 0xFFFF, %5, "outer SP after the 16-bit RETF"
%endif
%endmacro

        COMBO 32, DATA_R3, 0x00008000, DATA, 2
        OK32 "32-bit gate, 32-bit outer stack, 32-bit inner stack"
        COMBO 32, DATA16_R3, 0xABCD8000, DATA, 3
        OK32 "32-bit gate, 16-bit outer stack, 32-bit inner stack"
        COMBO 32, DATA_R3, 0x00008000, DATA16, 4
        OK32 "32-bit gate, 32-bit outer stack, 16-bit inner stack"
        COMBO 32, DATA16_R3, 0xABCD8000, DATA16, 5
        OK32 "32-bit gate, 16-bit outer stack, 16-bit inner stack"
        COMBO 16, DATA_R3, 0x00008000, DATA, 6
        OK32 "16-bit gate, 32-bit outer stack, 32-bit inner stack"
        COMBO 16, DATA16_R3, 0xABCD8000, DATA, 7
        OK32 "16-bit gate, 16-bit outer stack, 32-bit inner stack"
        COMBO 16, DATA_R3, 0x00008000, DATA16, 8
        OK32 "16-bit gate, 32-bit outer stack, 16-bit inner stack"
        COMBO 16, DATA16_R3, 0xABCD8000, DATA16, 9
        OK32 "16-bit gate, 16-bit outer stack, 16-bit inner stack"
        PASS32

; ---- ring 0, entered through the gates (DS is still ring 3's flat DPL 3 data) ----
target32:
        mov [R + 0x00], esp
        xor eax, eax
        mov ax, ss
        mov [R + 0x04], eax
        mov eax, [esp]
        mov [R + 0x08], eax
        mov eax, [esp + 4]
        mov [R + 0x0C], eax
        mov eax, [esp + 8]
        mov [R + 0x10], eax
        mov eax, [esp + 12]
        mov [R + 0x14], eax
        retf

        bits 16
target16:                                        ; CS = CODE16
        mov [R + 0x00], esp
        xor eax, eax
        mov ax, ss
        mov [R + 0x04], eax
        mov bp, sp
        mov eax, [bp]                            ; IP, CS
        mov [R + 0x08], eax
        mov eax, [bp + 4]                        ; SP, SS
        mov [R + 0x0C], eax
        o16 retf
        bits 32

; ---- ring 3 ----
r3_gate32:
        mov ax, DATA_R3 | 3                     ; IRET to ring 3 nulled DS
        mov ds, ax
        call GATE32:0
.ret:   jmp r3_back
r3_gate16:
        mov ax, DATA_R3 | 3
        mov ds, ax
        call GATE16:0
.ret:
r3_back:
        mov [R + 0x20], esp
        xor eax, eax
        mov ax, ss
        mov [R + 0x24], eax
        mov dword [TSS + 4], STACK0               ; the INT's ring-0 stack (ring 3 may write the TSS here)
        mov dword [TSS + 8], DATA
        int 0x80
        jmp $

        bits 16
        PM_SUPPORT
        ROM_END
