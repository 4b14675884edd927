; pm_v86: virtual-8086 mode. Entered by IRETD with VM=1 from ring 0; real-mode style segment
; loads; INT n from V86 through the protected-mode IDT to ring 0 (the V86 frame with ES, DS, FS,
; GS; data segments null in the handler) and IRETD back to V86; with IOPL 3: CLI, STI, PUSHF,
; POPF and IRET work; with IOPL < 3: CLI, INT n and PUSHF raise #GP(0) (from V86, frame checked);
; IN/OUT always go through the TSS I/O bitmap.
%define TEST_NAME "pm_v86"
%include "rom_common.inc"
%include "tests/pm_common.inc"

H       equ 0x0780      ; what the INT 0x60 handler saw: DS ES FS GS, then the 9-dword frame
R       equ 0x07D0      ; results of the V86 code

; TO_V86 ip, eflags: IRETD into V86 mode at F000:ip with SS:SP = 0000:7000.
%macro TO_V86 2
        push dword 0
        push dword 0
        push dword 0
        push dword 0
        push dword 0
        push dword 0x7000
        push dword (%2) | 0x20000
        push dword 0xF000
        push dword %1
        iretd
%endmacro

start:
        PM_ENTER

        bits 32
pm_main:
        IDT_GATE 0x60, h_v86int, 0xEE
        IDT_GATE 0x61, pm_stubs + 0x61 * 10, 0xEE
        mov word [0x12340], 0
        mov dword [R], 0

        ; ---- IOPL 3 ----
        TRY .v1
        TO_V86 v86_main, 0x3002
.v1:    EXPECT_EXC 0x61, -1, 2
        CHECK32 dword [V_CS], 0xF000, 2, "CS pushed by INT 0x61 from V86"
        movzx eax, word [0x12340]
        CHECK32 eax, 0xBEEF, 2, "V86 segment load: DS=0x1234 -> base 0x12340"
        CHECK32 dword [R], 0x600D, 2, "V86 CLI/STI/PUSHF/POPF/IRET with IOPL 3"
        CHECK32 dword [H + 0x00], 0, 3, "DS in the ring-0 handler"
        CHECK32 dword [H + 0x04], 0, 3, "ES in the ring-0 handler"
        CHECK32 dword [H + 0x08], 0, 3, "FS in the ring-0 handler"
        CHECK32 dword [H + 0x0C], 0, 3, "GS in the ring-0 handler"
        CHECK32 dword [H + 0x10], v86_main.after60, 3, "frame: EIP"
        CHECK32 dword [H + 0x14], 0xF000, 3, "frame: CS"
        mov eax, [H + 0x18]
        and eax, 0x23000
        CHECK32 eax, 0x23000, 3, "frame: EFLAGS with VM and IOPL 3"
        CHECK32 dword [H + 0x1C], 0x7000, 3, "frame: ESP"
        CHECK32 dword [H + 0x20], 0, 3, "frame: SS"
        CHECK32 dword [H + 0x24], 0x1111, 3, "frame: ES"
        CHECK32 dword [H + 0x28], 0x2222, 3, "frame: DS"
        CHECK32 dword [H + 0x2C], 0x3333, 3, "frame: FS"
        CHECK32 dword [H + 0x30], 0x4444, 3, "frame: GS"
        CHECK32 dword [R + 4], 0x2222, 3, "DS back in V86 after IRETD"
        OK32 "V86 with IOPL 3: INT n through the IDT with the V86 frame, IRETD back"

        ; ---- IOPL 0: IOPL-sensitive instructions fault ----
        TRY .g1
        TO_V86 v86_cli, 0x0002
.g1:    EXPECT_EXC 13, 0, 4
        CHECK32 dword [V_EIP], v86_cli, 4, "#GP at the CLI"
        CHECK32 dword [V_CS], 0xF000, 4, "#GP frame CS"
        mov eax, [V_EFL]
        and eax, 0x20000
        CHECK32 eax, 0x20000, 4, "#GP frame EFLAGS.VM"
        CHECK32 dword [V_ESP], 0x7000, 4, "#GP frame ESP"
        TRY .g2
        TO_V86 v86_int, 0x0002
.g2:    EXPECT_EXC 13, 0, 5
        TRY .g3
        TO_V86 v86_pushf, 0x0002
.g3:    EXPECT_EXC 13, 0, 6
        OK32 "V86 with IOPL 0: CLI, INT n, PUSHF raise #GP(0)"

        ; ---- I/O bitmap ----
        or byte [TSS + 0x68 + 0x80 / 8], 1
        TRY .g4
        TO_V86 v86_out, 0x3002
.g4:    EXPECT_EXC 13, 0, 7
        CHECK32 dword [V_EIP], v86_out.port80, 7, "OUT 0x80 faults (bitmap), IN 0xe9 did not"
        and byte [TSS + 0x68 + 0x80 / 8], 0xFE
        OK32 "V86 I/O through the TSS bitmap"

        PASS32

h_v86int:
        mov eax, ds
        mov [ss:H + 0x00], eax
        mov eax, es
        mov [ss:H + 0x04], eax
        mov eax, fs
        mov [ss:H + 0x08], eax
        mov eax, gs
        mov [ss:H + 0x0C], eax
        xor ecx, ecx
.copy:  mov eax, [esp + ecx * 4]
        mov [ss:H + 0x10 + ecx * 4], eax
        inc ecx
        cmp ecx, 9
        jb .copy
        iretd

        bits 16
v86_main:
        mov ax, 0x1234
        mov ds, ax
        mov word [0], 0xBEEF
        mov ax, 0x1111
        mov es, ax
        mov ax, 0x2222
        mov ds, ax
        mov ax, 0x3333
        mov fs, ax
        mov ax, 0x4444
        mov gs, ax
        int 0x60
.after60:
        mov ax, ds
        xor bx, bx
        mov ds, bx
        mov [R + 4], ax
        cli
        sti
        pushf
        popf
        pushf
        push cs
        push word .after_iret
        iret
.after_iret:
        PRINT {"in V86 mode: printing through the I/O bitmap", 10}
        mov word [R], 0x600D
        int 0x61
        jmp $
v86_cli:
        cli
        jmp $
v86_int:
        int 0x60
        jmp $
v86_pushf:
        pushf
        jmp $
v86_out:
        in al, 0xe9
.port80:
        out 0x80, al
        int 0x61
        jmp $

        PM_SUPPORT
        ROM_END
