; fpu: the x87 seen from a real-mode program. Checks basic arithmetic, the CR0.EM/TS/MP rules for
; #NM (EM or TS: every FPU instruction faults; WAIT only with TS and MP), an unmasked exception
; reported as #MF at the NEXT waiting FPU instruction with CR0.NE = 1 (and not at all with
; CR0.NE = 0, where the board's FERR#/IRQ13 path takes over), the FNSAVE/FRSTOR round trip and the
; real-mode FNSTENV layout.
%define TEST_NAME "fpu"
%include "rom_common.inc"
        cpu 686

HIT      equ 0x0500   ; byte: the vector a handler saw (0xFF = none)
SAVED_IP equ 0x0502   ; word: IP the CPU pushed
SCRATCH  equ 0x0600   ; a few words
IMG1     equ 0x0700   ; FNSAVE image
IMG2     equ 0x0800   ; second FNSAVE image
ENV      equ 0x0900   ; FNSTENV image

%macro SET_VECTOR 2
        mov word [%1 * 4], %2
        mov word [%1 * 4 + 2], 0xF000
%endmacro

; EXPECT_FAULT vector, ip, code: the last handler call was `vector` at `ip`.
%macro EXPECT_FAULT 3
        CHECKB byte [HIT], %1, %3, "vector"
        CHECKW word [SAVED_IP], %2, %3, "faulting IP"
        mov byte [HIT], 0xFF
%endmacro
%macro EXPECT_NO_FAULT 2
        CHECKB byte [HIT], 0xFF, %1, %2
%endmacro

; SET_CR0_BITS set, clear
%macro CR0_BITS 2
        mov eax, cr0
        or eax, %1
        and eax, ~(%2)
        mov cr0, eax
%endmacro

start:
        SETUP
        mov byte [HIT], 0xFF
        xor bx, bx
.fill:  mov word [bx], unexpected
        mov word [bx + 2], 0xF000
        add bx, 4
        cmp bx, 0x20 * 4
        jb .fill
        SET_VECTOR 7, nm_handler
        SET_VECTOR 16, mf_handler

        ; ---- arithmetic works: (1 + 1) * 3 / 2 = 3, stored as an integer ----
        fninit
        fld1
        fadd st0, st0
        mov word [SCRATCH], 3
        fimul word [SCRATCH]
        mov word [SCRATCH], 2
        fidiv word [SCRATCH]
        fistp word [SCRATCH]
        CHECKW word [SCRATCH], 3, 1, "(1+1)*3/2"
        fnstsw ax
        CHECKW ax, 0x0000, 1, "status word after FISTP (all exact)"
        PRINT {"fpu arithmetic: ok", 10}

        ; ---- CR0.EM = 1: an FPU instruction raises #NM before doing anything ----
        fninit
        CR0_BITS 0x4, 0
.nm1:   fld1                             ; the handler clears EM/TS; FLD1 then runs once
        EXPECT_FAULT 7, .nm1, 2
        fnstsw ax
        and ax, 0x3800
        CHECKW ax, 0x3800, 2, "TOP after FLD1 re-executed once"
        ; ---- CR0.TS = 1: #NM too ----
        CR0_BITS 0x8, 0
.nm2:   fldz
        EXPECT_FAULT 7, .nm2, 3
        ; ---- WAIT: no #NM with TS alone, nor with EM alone; #NM with TS and MP ----
        CR0_BITS 0x8, 0x2
        wait
        EXPECT_NO_FAULT 4, "WAIT with TS=1, MP=0 must not fault"
        CR0_BITS 0x4, 0x8
        wait
        EXPECT_NO_FAULT 5, "WAIT with EM=1 must not fault"
        CR0_BITS 0xA, 0x4
.nm3:   wait
        EXPECT_FAULT 7, .nm3, 6
        CR0_BITS 0, 0x2
        PRINT {"#NM (EM, TS, WAIT with TS+MP): ok", 10}

        ; ---- unmasked ZE: reported as #MF at the next waiting FPU instruction (CR0.NE = 1) ----
        fninit
        CR0_BITS 0x20, 0
        mov word [SCRATCH], 0x037B       ; ZE unmasked
        fldcw [SCRATCH]
        fld1
        fldz
        fdivp st1, st0                   ; 1 / 0: ZE, ES set; no #MF yet
        EXPECT_NO_FAULT 7, "#MF must wait for the next FPU instruction"
        fnstsw ax                        ; no-wait: no #MF either
        EXPECT_NO_FAULT 7, "FNSTSW must not raise #MF"
        and ax, 0xFDFF                   ; C1 is undefined here
        CHECKW ax, 0xB084, 7, "status word after unmasked ZE (B, TOP 6 unchanged, ES, ZE)"
.mf1:   fld1                             ; #MF here; the handler's FNCLEX lets it run
        EXPECT_FAULT 16, .mf1, 8
        fnstsw ax
        CHECKW ax, 0x2800, 8, "status word after FNCLEX and FLD1"
        fld1
        fldz
        fdivp st1, st0
.mf2:   fwait                            ; WAIT reports it too
        EXPECT_FAULT 16, .mf2, 9
        ; ---- CR0.NE = 0: no #MF (FERR#/IRQ13 is the board's business) ----
        CR0_BITS 0, 0x20
        fld1
        fldz
        fdivp st1, st0
        fld1
        fwait
        EXPECT_NO_FAULT 10, "no #MF with CR0.NE = 0"
        fnclex
        PRINT {"#MF at the next waiting instruction (CR0.NE=1), none with NE=0: ok", 10}

        ; ---- FNSAVE / FRSTOR round trip (16-bit real-mode format, 94 bytes) ----
        fninit
        mov word [SCRATCH], 0x0B7F       ; round up
        fldcw [SCRATCH]
        fldpi
        fld1
        fdivrp st1, st0                  ; 1/pi
        fldl2t
        fnsave [IMG1]
        fnstsw ax
        CHECKW ax, 0, 11, "FNSAVE re-initialises the status word"
        fnstcw [SCRATCH]
        CHECKW word [SCRATCH], 0x037F, 11, "FNSAVE re-initialises the control word"
        frstor [IMG1]
        fnsave [IMG2]
        mov si, IMG1
        mov di, IMG2
        mov cx, 94
        repe cmpsb
        je .same
        FAIL 12, "FNSAVE after FRSTOR differs"
.same:  CHECKW word [IMG1], 0x0B7F, 12, "saved CW"
        CHECKW word [IMG1 + 2], 0x3020, 12, "saved SW (TOP = 6, PE from 1/pi)"
        CHECKW word [IMG1 + 4], 0x0FFF, 12, "saved tag word"
        PRINT {"FNSAVE/FRSTOR round trip: ok", 10}

        ; ---- FNSTENV (16-bit real-mode layout) ----
        fninit
        mov word [SCRATCH], 0
.ld:    fld1
        fild word [SCRATCH]
        fnstenv [ENV]
        CHECKW word [ENV + 0], 0x037F, 13, "env CW"
        CHECKW word [ENV + 2], 0x3000, 13, "env SW"
        CHECKW word [ENV + 4], 0x1FFF, 13, "env TW (R7 valid, R6 zero)"
        CHECKW word [ENV + 6], .ld + 2, 13, "env IP[15:0] (linear address of FILD)"
        CHECKW word [ENV + 8], 0xF706, 13, "env IP[19:16] and FOP"
        CHECKW word [ENV + 10], SCRATCH, 13, "env DP[15:0]"
        CHECKW word [ENV + 12], 0x0000, 13, "env DP[19:16]"
        fnstcw [SCRATCH]
        CHECKW word [SCRATCH], 0x037F, 13, "FNSTENV masks all exceptions"
        PRINT {"FNSTENV real-mode layout: ok", 10}

        PASS

nm_handler:                              ; lazy-FPU style: clear EM and TS, retry the instruction
        push bp
        mov bp, sp
        push eax
        mov byte [HIT], 7
        mov ax, [bp + 2]
        mov [SAVED_IP], ax
        mov eax, cr0
        and eax, ~0xC
        mov cr0, eax
        pop eax
        pop bp
        iret

mf_handler:                              ; clear the exception, retry the instruction
        push bp
        mov bp, sp
        push ax
        mov byte [HIT], 16
        mov ax, [bp + 2]
        mov [SAVED_IP], ax
        fnclex
        pop ax
        pop bp
        iret

unexpected:
        UNEXPECTED_HANDLER 30

        ROM_END
