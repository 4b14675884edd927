; pm_interrupts: the IDT, privilege changes and call gates.
; INT n through interrupt and trap gates (IF), the frames pushed at the same level and from ring 3
; (stack switch through the TSS), IRET to ring 3, gate DPL checks (#GP(vector*8+2)), ring-3
; privilege faults (segment loads, CLI, HLT, MOV CR0, OUT through the I/O bitmap), a 32-bit call
; gate with two parameters from ring 3 to ring 0, far RET to the outer level (null-ing ES), a
; 16-bit call gate at the same level, and double faults (contributory + contributory -> #DF; a
; benign exception whose delivery faults is delivered serially).
%define TEST_NAME "pm_interrupts"
%include "rom_common.inc"
%include "tests/pm_common.inc"

CALLGATE  equ 0x38      ; 32-bit call gate, DPL 3, 2 parameters -> CODE32:cg_target
CALLGATE16 equ 0x40     ; 16-bit call gate, DPL 0 -> CODE16:cg16_target
R_IF      equ 0x0700
R_P0      equ 0x0704
R_P1      equ 0x0708
R_OESP    equ 0x070C
R_OSS     equ 0x0710
R_OCS     equ 0x0714
R_ESP     equ 0x0718

start:
        PM_ENTER

        bits 32
pm_main:
        IDT_GATE 0x41, h_flags, 0x8E             ; interrupt gate, DPL 0
        IDT_GATE 0x42, h_flags, 0x8F             ; trap gate
        IDT_GATE 0x80, pm_stubs + 0x80 * 10, 0xEE  ; DPL 3 interrupt gate to the recorder
        GATE GDT + CALLGATE, CODE32, cg_target, 0xEC, 2
        GATE GDT + CALLGATE16, CODE16, cg16_target, 0x84, 0

        ; ---- same level: INT n frame, IF in interrupt and trap gates ----
        push dword 0x202
        popfd
        TRY .i40
        int 0x40
.i40:   EXPECT_EXC 0x40, -1, 2
        CHECK32 dword [V_EIP], .i40, 2, "pushed EIP"
        CHECK32 dword [V_CS], CODE32, 2, "pushed CS"
        CHECK32 dword [V_EFL], 0x202, 2, "pushed EFLAGS"
        CHECK32 dword [V_FRAME], STACK0 - 12, 2, "ESP after the pushes (no stack switch)"
        int 0x41
        CHECK32 dword [R_IF], 0, 3, "IF in an interrupt gate handler"
        sti
        int 0x42
        CHECK32 dword [R_IF], 0x200, 3, "IF in a trap gate handler"
        cli
        OK32 "INT n at CPL 0: frame, interrupt and trap gates"

        ; ---- ring 3 and back through a DPL 3 gate ----
        TRY .back1
        TO_RING3 r3_int80, 0x0202
.back1: EXPECT_EXC 0x80, -1, 4
        CHECK32 dword [V_CS], CODE32_R3 | 3, 4, "pushed CS (ring 3)"
        CHECK32 dword [V_SS], DATA_R3 | 3, 4, "pushed SS"
        CHECK32 dword [V_ESP], STACK3 - 4, 4, "pushed ESP"
        CHECK32 dword [V_EIP], r3_int80.after, 4, "pushed EIP"
        CHECK32 dword [V_EFL], 0x0202, 4, "pushed EFLAGS"
        CHECK32 dword [V_FRAME], STACK0 - 20, 4, "ring-0 ESP after the pushes (TSS stack)"
        CHECK32 dword [R_ESP], STACK3, 4, "ring-3 code saw its stack"
        OK32 "IRET to ring 3, INT through a DPL 3 gate: stack switch and frame"

        ; ---- ring 3: gate DPL and privilege faults ----
        TRY .f1
        TO_RING3 r3_int41, 0x0002
.f1:    EXPECT_EXC 13, 0x41 * 8 + 2, 5
        CHECK32 dword [V_CS], CODE32_R3 | 3, 5, "pushed CS for the #GP"
        CHECK32 dword [V_EIP], r3_int41, 5, "pushed EIP for the #GP (the INT)"
        TRY .f2
        TO_RING3 r3_load_ds, 0x0002
.f2:    EXPECT_EXC 13, DATA, 6
        TRY .f3
        TO_RING3 r3_cli, 0x0002
.f3:    EXPECT_EXC 13, 0, 7
        CHECK32 dword [V_EIP], r3_cli, 7, "CLI faults"
        TRY .f4
        TO_RING3 r3_hlt, 0x0002
.f4:    EXPECT_EXC 13, 0, 8
        TRY .f5
        TO_RING3 r3_cr0, 0x0002
.f5:    EXPECT_EXC 13, 0, 9
        ; OUT at CPL 3 > IOPL: allowed by a clear bitmap bit, #GP(0) by a set one.
        or byte [TSS + 0x68 + 0x80 / 8], 1       ; port 0x80
        TRY .f6
        TO_RING3 r3_out, 0x0002
.f6:    EXPECT_EXC 13, 0, 10
        CHECK32 dword [V_EIP], r3_out.port80, 10, "OUT 0x80 faults, OUT 0xe9 did not"
        and byte [TSS + 0x68 + 0x80 / 8], 0xFE
        ; With IOPL 3 the bitmap is not consulted.
        or byte [TSS + 0x68 + 0x80 / 8], 1
        TRY .f7
        TO_RING3 r3_out, 0x3002
.f7:    EXPECT_EXC 0x80, -1, 10
        and byte [TSS + 0x68 + 0x80 / 8], 0xFE
        OK32 "ring 3: gate DPL #GP(0x20a), DS load #GP(0x10), CLI/HLT/MOV CR0 #GP(0), I/O bitmap"

        ; ---- call gate with parameters, ring 3 -> ring 0, RETF to ring 3 ----
        TRY .cg
        TO_RING3 r3_callgate, 0x0002
.cg:    EXPECT_EXC 0x80, -1, 11
        CHECK32 dword [R_P0], 0x2222, 11, "parameter 0 on the ring-0 stack"
        CHECK32 dword [R_P1], 0x1111, 11, "parameter 1 on the ring-0 stack"
        CHECK32 dword [R_OESP], STACK3 - 8, 11, "old ESP on the ring-0 stack"
        CHECK32 dword [R_OSS], DATA_R3 | 3, 11, "old SS on the ring-0 stack"
        CHECK32 dword [R_OCS], CODE32_R3 | 3, 11, "old CS on the ring-0 stack"
        CHECK32 dword [R_ESP], STACK0 - 24, 11, "ring-0 ESP in the gate target"
        CHECK32 dword [V_ESP], STACK3 - 4, 11, "ring-3 ESP after RETF 8 (and the INT push)"
        CHECK32 dword [0x720], 0, 11, "ES nulled by RETF to ring 3"
        CHECK32 dword [0x724], DATA_R3 | 3, 11, "FS kept by RETF to ring 3"
        OK32 "32-bit call gate: 2 parameters copied, stack switch, RETF to ring 3 nulls ES"

        ; ---- 16-bit call gate at the same level ----
        mov esp, STACK0
        call CALLGATE16:0
        CHECK32 dword [0x730], STACK0 - 4, 12, "16-bit gate pushed two words"
        CHECK32 esp, STACK0, 12, "ESP after the 16-bit RETF"
        OK32 "16-bit call gate at the same level"

        ; ---- double faults ----
        mov byte [IDT + 13 * 8 + 5], 0x0E         ; #GP gate not present
        TRY .df
        mov ax, 0x1F8 + 8
        mov ds, ax                               ; #GP(0x200) -> #NP(0x6b) -> #DF
.df:    EXPECT_EXC 8, 0, 13
        mov byte [IDT + 13 * 8 + 5], 0x8E
        mov byte [IDT + 6 * 8 + 5], 0x0E          ; #UD gate not present
        TRY .ud
        ud2                                      ; #UD (benign) -> #NP(0x33), delivered
.ud:    EXPECT_EXC 11, 6 * 8 + 2 + 1, 14
        mov byte [IDT + 6 * 8 + 5], 0x8E
        OK32 "#GP then #NP: #DF(0); #UD then #NP: #NP(0x33)"

        PASS32

h_flags:
        pushfd
        pop dword [R_IF]
        and dword [R_IF], 0x200
        iretd

cg_target:                                       ; ring 0 through the 32-bit call gate
        mov [R_ESP], esp
        mov eax, [esp + 4]
        mov [R_OCS], eax
        mov eax, [esp + 8]
        mov [R_P0], eax
        mov eax, [esp + 12]
        mov [R_P1], eax
        mov eax, [esp + 16]
        mov [R_OESP], eax
        mov eax, [esp + 20]
        mov [R_OSS], eax
        mov ax, DATA
        mov es, ax
        mov ax, DATA_R3 | 3
        mov fs, ax
        retf 8

        bits 16
cg16_target:                                     ; CS = CODE16 (16-bit), same level
        mov [0x730], esp
        o16 retf
        bits 32

; ---- ring-3 code ----
r3_int80:
        mov ax, DATA_R3 | 3
        mov ds, ax
        mov [R_ESP], esp
        push eax                                 ; ESP = STACK3 - 4 at the INT
        int 0x80
.after: jmp $
r3_int41:
        int 0x41
        jmp $
r3_load_ds:
        mov ax, DATA
        mov ds, ax
        jmp $
r3_cli: cli
        jmp $
r3_hlt: hlt
        jmp $
r3_cr0: mov eax, cr0
        mov cr0, eax
        jmp $
r3_out: in al, 0xe9
        mov ax, DATA_R3 | 3
        mov ds, ax
.port80:
        out 0x80, al
        int 0x80
        jmp $
r3_callgate:
        mov ax, DATA_R3 | 3
        mov ds, ax
        mov es, ax
        mov fs, ax
        push dword 0x1111
        push dword 0x2222
        call CALLGATE:0
        mov eax, es
        mov [0x720], eax
        mov eax, fs
        mov [0x724], eax
        push eax
        int 0x80
        jmp $

        bits 16
        PM_SUPPORT
        ROM_END
