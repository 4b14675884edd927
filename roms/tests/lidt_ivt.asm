; lidt_ivt: in real mode the IVT is wherever IDTR says. LIDT moves it (here to 0000:1000), INT n
; goes through the moved table, SIDT reads IDTR back, and LIDT moves it back to 0.
%define TEST_NAME "lidt_ivt"
%include "rom_common.inc"

HIT   equ 0x0500
IDTR  equ 0x0600                         ; 6-byte pseudo-descriptor for LIDT
SIDTR equ 0x0610                         ; SIDT's result
NEWIVT equ 0x1000

start:
        SETUP
        xor bx, bx                       ; any exception through the normal IVT is a failure
.fill:  mov word [bx], unexpected
        mov word [bx + 2], 0xF000
        add bx, 4
        cmp bx, 0x20 * 4
        jb .fill
        mov word [0x40 * 4], old_40      ; vector 0x40 in the IVT at 0
        mov word [0x40 * 4 + 2], 0xF000
        mov word [NEWIVT + 0x40 * 4], new_40   ; ... and in the one at 0x1000
        mov word [NEWIVT + 0x40 * 4 + 2], 0xF000

        mov byte [HIT], 0
        int 0x40
        CHECKB byte [HIT], 1, 2, "INT 0x40 through the IVT at 0"

        mov word [IDTR], 0x3FF
        mov dword [IDTR + 2], NEWIVT
        lidt [IDTR]
        mov byte [HIT], 0
        int 0x40
        CHECKB byte [HIT], 2, 3, "INT 0x40 through the IVT moved by LIDT"
        sidt [SIDTR]
        CHECKW word [SIDTR], 0x3FF, 4, "SIDT limit"
        CHECKD dword [SIDTR + 2], NEWIVT, 4, "SIDT base"

        mov dword [IDTR + 2], 0
        lidt [IDTR]
        mov byte [HIT], 0
        int 0x40
        CHECKB byte [HIT], 1, 5, "INT 0x40 after LIDT back to 0"
        PRINT {"LIDT-moved IVT: ok", 10}
        PASS

old_40: mov byte [HIT], 1
        iret
new_40: mov byte [HIT], 2
        iret
unexpected:
        FAIL 6, "unexpected exception (LIDT/SIDT not implemented?)"
        ROM_END
