; pm_debug: debug exceptions in protected mode. TF single-step traps after each instruction
; (including the POPF that clears TF, not after the one that sets it) with DR6.BS; a DR0
; instruction breakpoint (a fault before the instruction, resumed with RF); a DR1 data write
; breakpoint (a trap after the writing instruction, not on reads) with DR6.B1; MOV SS and POP SS
; holding the single-step trap until after the next instruction; DR7.GD (a MOV DR faults with
; DR6.BD, GD cleared for the handler); RF in the EFLAGS image a fault saves, not a software INT's.
%define TEST_NAME "pm_debug"
%include "rom_common.inc"
%include "tests/pm_common.inc"

CNT      equ 0x0800
LAST_DR6 equ 0x0804
LIST     equ 0x0810
WATCH    equ 0x0900

start:
        PM_ENTER

        bits 32
pm_main:
        IDT_GATE 1, h_db, 0x8E

        ; ---- single-step ----
        mov dword [CNT], 0
        pushfd
        or dword [esp], 0x100
        popfd                                    ; sets TF: no trap after this one
.s1:    nop
.s2:    nop
.s3:    pushfd
.s4:    and dword [esp], ~0x100
.s5:    popfd                                    ; clears TF: still traps after it
.s_end: CHECK32 dword [CNT], 5, 2, "single-step traps"
        CHECK32 dword [LIST], .s2, 2, "first trap: EIP after the first NOP"
        CHECK32 dword [LIST + 4], .s3, 2, "second trap"
        CHECK32 dword [LIST + 8], .s4, 2, "third trap (after PUSHFD)"
        CHECK32 dword [LIST + 16], .s_end, 2, "last trap: after the POPFD that cleared TF"
        mov eax, [LAST_DR6]
        and eax, 0x400F
        CHECK32 eax, 0x4000, 2, "DR6.BS"
        OK32 "TF single-step"

        ; ---- DR0 instruction breakpoint ----
        mov dword [CNT], 0
        mov eax, 0xF0000 + bp_target
        mov dr0, eax
        mov eax, 0x00000001                      ; L0, execute, 1 byte
        mov dr7, eax
        call bp_target
        xor eax, eax
        mov dr7, eax
        CHECK32 dword [CNT], 1, 3, "instruction breakpoint hits"
        CHECK32 dword [LIST], bp_target, 3, "breakpoint EIP (a fault: the instruction)"
        mov eax, [LAST_DR6]
        and eax, 0x400F
        CHECK32 eax, 1, 3, "DR6.B0"
        CHECK32 ebx, 0xB0B0, 3, "the instruction ran after the breakpoint (RF)"
        OK32 "DR0 instruction breakpoint"

        ; ---- DR1 data write breakpoint ----
        mov dword [CNT], 0
        mov eax, WATCH
        mov dr1, eax
        mov eax, 0x00D00004                      ; L1, RW1 = write, LEN1 = 4 bytes
        mov dr7, eax
        mov eax, [WATCH]                         ; a read: no trap
        mov dword [WATCH + 4], 1                 ; outside the watched dword: no trap
.w:     mov word [WATCH + 2], 0x1234             ; overlaps: trap after it
.w_end: nop
        xor eax, eax
        mov dr7, eax
        CHECK32 dword [CNT], 1, 4, "data breakpoint hits"
        CHECK32 dword [LIST], .w_end, 4, "data breakpoint EIP (a trap: the next instruction)"
        mov eax, [LAST_DR6]
        and eax, 0x400F
        CHECK32 eax, 2, 4, "DR6.B1"
        CHECK32 dword [WATCH], 0x12340000, 4, "the write happened"
        OK32 "DR1 data write breakpoint"

        ; ---- MOV SS / POP SS hold the single-step trap for one instruction ----
        mov dword [CNT], 0
        mov ax, DATA
        pushfd
        or dword [esp], 0x100
        popfd                                    ; TF on (no trap after this one)
.m1:    mov ss, ax                               ; no trap here ...
.m2:    nop                                      ; ... but after this one
.m3:    push ss
.m4:    pop ss                                   ; again
.m5:    nop
.m6:    pushfd
.m7:    and dword [esp], ~0x100
.m8:    popfd
.m_end: CHECK32 dword [CNT], 6, 5, "single-step traps around MOV SS / POP SS"
        CHECK32 dword [LIST], .m3, 5, "first trap: after the instruction after MOV SS"
        CHECK32 dword [LIST + 4], .m4, 5, "after PUSH SS"
        CHECK32 dword [LIST + 8], .m6, 5, "after the instruction after POP SS"
        OK32 "MOV SS / POP SS hold the single-step trap"

        ; ---- DR7.GD ----
        mov dword [CNT], 0
        mov eax, 0x2000                          ; GD
        mov dr7, eax
.gd:    mov eax, dr6                             ; #DB (a fault); the handler returns with RF
        CHECK32 dword [CNT], 1, 6, "general-detect #DB"
        CHECK32 dword [LIST], .gd, 6, "its EIP: the MOV DR (a fault)"
        mov eax, [LAST_DR6]
        and eax, 0xE00F
        CHECK32 eax, 0x2000, 6, "DR6.BD"
        mov eax, dr7
        and eax, 0x2000
        CHECK32 eax, 0, 6, "GD cleared by the #DB"
        OK32 "DR7.GD general detect"

        ; ---- RF in the saved EFLAGS: set for a fault, not for INT n ----
        TRY .ud
        ud2
        FAIL32 7, "UD2 did not fault"
.ud:    EXPECT_EXC 6, -1, 7
        mov eax, [V_EFL]
        and eax, 0x10000
        CHECK32 eax, 0x10000, 7, "RF in the EFLAGS image of #UD"
        TRY .int
        int 0x40
.int:   EXPECT_EXC 0x40, -1, 7
        mov eax, [V_EFL]
        and eax, 0x10000
        CHECK32 eax, 0, 7, "no RF in the EFLAGS image of INT n"
        OK32 "RF pushed for faults"

        PASS32

bp_target:
        mov ebx, 0xB0B0
        ret

h_db:
        push eax
        push ebx
        mov ebx, [CNT]
        mov eax, [esp + 8]
        mov [LIST + ebx * 4], eax
        inc dword [CNT]
        mov eax, dr6
        mov [LAST_DR6], eax
        xor eax, eax
        mov dr6, eax
        or dword [esp + 16], 0x10000             ; RF: do not hit the same breakpoint again
        pop ebx
        pop eax
        iretd

        bits 16
        PM_SUPPORT
        ROM_END
