; ivt_interrupts: interrupts and exceptions through the real-mode IVT.
; Checks INT n, INT3, INTO (taken and not taken), #DE from DIV/IDIV (divide by zero and quotient
; overflow), #UD (UD2, 0F FF), #BR from BOUND, a handler in another code segment, and that each
; pushes the right FLAGS, CS and IP (faults: the faulting instruction; traps and INT: the next one),
; clears IF and TF in the handler, and that IRET restores all three and the stack pointer.
%define TEST_NAME "ivt_interrupts"
%include "rom_common.inc"

; Scratch variables (DS = 0).
HIT      equ 0x0500   ; byte: vector the recorder saw (0xFF = none)
SAVED_IP equ 0x0502   ; word: IP pushed by the CPU
SAVED_CS equ 0x0504   ; word: CS pushed by the CPU
SAVED_FL equ 0x0506   ; word: FLAGS pushed by the CPU
IN_FL    equ 0x0508   ; word: FLAGS inside the handler
RESUME   equ 0x050A   ; word: if nonzero, the handler returns here instead of the pushed IP
SAVED_SP equ 0x050C   ; word: SP inside the handler, right after the CPU's pushes
BOUNDS   equ 0x0510   ; two words: BOUND's lower and upper limits
RAMH     equ 0x0800   ; a handler copied to RAM, entered as 0080:0000

; SET_VECTOR n, handler: IVT entry n = F000:handler.
%macro SET_VECTOR 2
        mov word [%1 * 4], %2
        mov word [%1 * 4 + 2], 0xF000
%endmacro

; A recording handler per vector: saves what the CPU pushed, then returns (to RESUME if set).
%macro RECORDER 1
rec_%1:
        mov [SAVED_SP], sp
        push bp
        mov bp, sp
        push ax
        mov byte [HIT], %1
        mov ax, [bp + 2]
        mov [SAVED_IP], ax
        mov ax, [bp + 4]
        mov [SAVED_CS], ax
        mov ax, [bp + 6]
        mov [SAVED_FL], ax
        pushf
        pop ax
        mov [IN_FL], ax
        mov ax, [RESUME]
        test ax, ax
%if %1 == 0 || %1 == 5 || %1 == 6
        jz unexpected_fault              ; a fault nobody expected would repeat forever
%else
        jz %%ret
%endif
        mov [bp + 2], ax
        mov word [RESUME], 0
%%ret:  pop ax
        pop bp
        iret
%endmacro

; EXPECT vector, ip, flags, code: checks the last recorded interrupt.
%macro EXPECT 4
        CHECKB byte [HIT], %1, %4, "vector"
        CHECKW word [SAVED_IP], %2, %4, "pushed IP"
        CHECKW word [SAVED_CS], 0xF000, %4, "pushed CS"
        CHECKW word [SAVED_FL], %3, %4, "pushed FLAGS"
        mov ax, [IN_FL]
        and ax, 0x0300
        CHECKW ax, 0, %4, "IF/TF in handler"
        CHECKW word [SAVED_SP], 0x7000 - 6, %4, "SP after the pushes"
        CHECKW sp, 0x7000, %4, "SP after IRET"
        mov byte [HIT], 0xFF
%endmacro

; SETFLAGS value: loads FLAGS.
%macro SETFLAGS 1
        push word %1
        popf
%endmacro

start:
        SETUP
        mov byte [HIT], 0xFF
        mov word [RESUME], 0
        ; Every exception vector first goes to `unexpected`; the tested ones are overridden below.
        xor bx, bx
.fill:  mov word [bx], unexpected
        mov word [bx + 2], 0xF000
        add bx, 4
        cmp bx, 0x20 * 4
        jb .fill
        SET_VECTOR 0x00, rec_0x00
        SET_VECTOR 0x03, rec_0x03
        SET_VECTOR 0x04, rec_0x04
        SET_VECTOR 0x05, rec_0x05
        SET_VECTOR 0x06, rec_0x06
        SET_VECTOR 0x40, rec_0x40
        SET_VECTOR 0xFF, rec_0xFF

        ; ---- INT n: pushes FLAGS, CS, IP of the next instruction; IRET restores FLAGS ----
        SETFLAGS 0x0203                  ; IF | CF
        int 0x40
.after_int40:
        pushf
        pop ax
        CHECKW ax, 0x0203, 2, "FLAGS after IRET"
        EXPECT 0x40, .after_int40, 0x0203, 2
        SETFLAGS 0x08D6                  ; OF SF ZF AF PF, IF clear
        int 0xFF
.after_intff:
        pushf
        pop ax
        CHECKW ax, 0x08D6, 3, "FLAGS after IRET (int 0xff)"
        EXPECT 0xFF, .after_intff, 0x08D6, 3
        PRINT {"INT n: pushed FLAGS/CS/IP, IRET: ok", 10}

        ; ---- INT3 (CC, one byte) and INT 3 (CD 03) ----
        SETFLAGS 0x0002
        int3
.after_int3:
        EXPECT 0x03, .after_int3, 0x0002, 4
        SETFLAGS 0x0002
        db 0xCD, 0x03                    ; int 3, the two-byte form
.after_cd03:
        EXPECT 0x03, .after_cd03, 0x0002, 4
        PRINT {"INT3: ok", 10}

        ; ---- INTO: nothing with OF = 0; vector 4 after the instruction with OF = 1 ----
        SETFLAGS 0x0002
        into
        CHECKB byte [HIT], 0xFF, 5, "INTO with OF=0 must not interrupt"
        mov al, 0x7F
        add al, 1                        ; OF = 1 (and SF, AF): FLAGS = 0x0892
        into
.after_into:
        EXPECT 0x04, .after_into, 0x0892, 5
        PRINT {"INTO: ok", 10}

        ; ---- #DE: a fault, pushes the address of the DIV; registers unchanged ----
        mov word [RESUME], .de1_resume
        mov ax, 0x1234
        mov dx, 0x5678
        xor bl, bl
        SETFLAGS 0x0002
.de1:   div bl                           ; divide by zero
.de1_resume:
        CHECKW ax, 0x1234, 6, "AX after #DE"
        CHECKW dx, 0x5678, 6, "DX after #DE"
        EXPECT 0x00, .de1, 0x0002, 6
        mov word [RESUME], .de2_resume
        mov ax, 0x1000
        mov bl, 2
        SETFLAGS 0x0002
.de2:   div bl                           ; quotient 0x800 does not fit in AL
.de2_resume:
        CHECKW ax, 0x1000, 7, "AX after DIV overflow"
        EXPECT 0x00, .de2, 0x0002, 7
        mov word [RESUME], .de3_resume
        mov ax, 0x0000
        mov dx, 0x8000
        mov cx, 0xFFFF
        SETFLAGS 0x0002
.de3:   idiv cx                          ; -2^31 / -1 overflows
.de3_resume:
        CHECKW dx, 0x8000, 8, "DX after IDIV overflow"
        CHECKW ax, 0x0000, 8, "AX after IDIV overflow"
        EXPECT 0x00, .de3, 0x0002, 8
        mov word [RESUME], .de4_resume
        xor edx, edx
        mov eax, 1
        xor ecx, ecx
        SETFLAGS 0x0002
.de4:   div ecx                          ; 32-bit divide by zero (66 prefix)
.de4_resume:
        CHECKD eax, 1, 9, "EAX after 32-bit #DE"
        EXPECT 0x00, .de4, 0x0002, 9
        mov ax, 100
        mov bl, 7
        div bl                           ; a good divide still works
        CHECKW ax, 0x020E, 9, "100 / 7"
        PRINT {"#DE (DIV, IDIV, overflow, 32-bit): ok", 10}

        ; ---- #UD: UD2 and 0F FF, faults at the opcode ----
        mov word [RESUME], .ud1_resume
        SETFLAGS 0x0002
.ud1:   ud2
.ud1_resume:
        EXPECT 0x06, .ud1, 0x0002, 10
        mov word [RESUME], .ud2_resume
        SETFLAGS 0x0002
.ud2:   db 0x0F, 0xFF, 0xC0              ; UD0 (invalid on the 386)
.ud2_resume:
        EXPECT 0x06, .ud2, 0x0002, 11
        PRINT {"#UD (UD2, 0F FF): ok", 10}

        ; ---- BOUND: #BR (a fault) outside [lower, upper], nothing inside ----
        mov word [BOUNDS], 10
        mov word [BOUNDS + 2], 20
        mov ax, 10
        bound ax, [BOUNDS]
        mov ax, 20
        bound ax, [BOUNDS]
        CHECKB byte [HIT], 0xFF, 12, "BOUND inside the limits must not fault"
        mov word [RESUME], .br1_resume
        mov ax, 21
        SETFLAGS 0x0002
.br1:   bound ax, [BOUNDS]
.br1_resume:
        EXPECT 0x05, .br1, 0x0002, 12
        mov word [RESUME], .br2_resume
        mov ax, 9
        SETFLAGS 0x0002
.br2:   bound ax, [BOUNDS]
.br2_resume:
        EXPECT 0x05, .br2, 0x0002, 13
        mov word [RESUME], .br3_resume
        mov word [BOUNDS], 0xFFF0        ; signed: -16 .. 20
        mov ax, 0xFFEF                   ; -17
        SETFLAGS 0x0002
.br3:   bound ax, [BOUNDS]
.br3_resume:
        EXPECT 0x05, .br3, 0x0002, 14
        mov ax, 0xFFF0                   ; -16: inside
        bound ax, [BOUNDS]
        CHECKB byte [HIT], 0xFF, 14, "BOUND is signed"
        PRINT {"BOUND #BR: ok", 10}

        ; ---- A handler in another code segment (0080:0000, in RAM) ----
        push ds
        push cs
        pop ds
        mov si, ram_handler
        mov di, RAMH
        mov cx, ram_handler_end - ram_handler
        rep movsb
        pop ds
        mov word [0x41 * 4], 0
        mov word [0x41 * 4 + 2], RAMH >> 4
        mov word [0x0520], 0
        int 0x41
        CHECKW word [0x0520], 0x0080, 15, "CS seen by a handler in segment 0x80"
        CHECKW word [0x0522], 0xF000, 15, "CS pushed for a handler in segment 0x80"
        PRINT {"handler in another segment: ok", 10}

        PASS

unexpected:                              ; an exception no check expected
        UNEXPECTED_HANDLER 30
unexpected_fault:                        ; from a recorder: BP frame as above, vector in HIT
        PRINT {"FAIL: unexpected fault, vector 0x"}
        mov al, [HIT]
        PRINT_HEX 2
        PRINT {" at "}
        mov ax, [bp + 4]
        PRINT_HEX 4
        PRINT {":"}
        mov ax, [bp + 2]
        PRINT_HEX 4
        PRINT {10}
        EXIT 31

ram_handler:                             ; runs at 0080:0000
        push ax
        mov ax, cs
        mov [0x0520], ax
        push bp
        mov bp, sp
        mov ax, [bp + 6]                 ; pushed CS (above BP, AX, IP)
        mov [0x0522], ax
        pop bp
        pop ax
        iret
ram_handler_end:

        RECORDER 0x00
        RECORDER 0x03
        RECORDER 0x04
        RECORDER 0x05
        RECORDER 0x06
        RECORDER 0x40
        RECORDER 0xFF

        ROM_END
