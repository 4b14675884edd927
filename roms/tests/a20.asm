; a20: the A20 gate through System Control Port A (port 0x92, bit 1).
; With A20 off, FFFF:0510 (linear 0x100500) wraps to 0000:0500; with it on, they are two bytes.
; Data accesses and instruction fetches both follow the gate (the block cache must not run code
; decoded for the other setting).
; The A20 line is port 0x92 bit 1 OR the i8042's output-port bit 1; the ROM first turns the
; i8042's off (command 0xDD) so port 0x92 alone decides (i8042.asm tests the other source).
%define TEST_NAME "a20"
%include "rom_common.inc"

LOW   equ 0x0500                         ; 0000:0500 = physical 0x000500
HIGH  equ 0x0510                         ; FFFF:0510 = linear 0x100500
CODE_LO equ 0x0600                       ; 0000:0600, and FFFF:0610 = linear 0x100600

; A20 on|off via port 0x92 (bit 0, the reset bit, kept clear).
%macro A20 1
        in al, 0x92
%ifidn %1, on
        or al, 0x02
%else
        and al, ~0x02
%endif
        and al, ~0x01
        out 0x92, al
%endmacro

start:
        SETUP
        mov ax, 0xFFFF
        mov es, ax                       ; ES:HIGH = linear 0x100500
        mov al, 0xDD                     ; i8042: output port A20 bit off
        out 0x64, al

        ; Port 0x92 reads back its A20 bit; vx86 (like QEMU) starts with A20 enabled.
        in al, 0x92
        and al, 0x03
        CHECKB al, 0x02, 2, "port 0x92 at start (A20 on, reset bit clear)"
        PRINT {"port 0x92 reads A20 enabled at start: ok", 10}

        ; ---- A20 on: two distinct bytes ----
        A20 on
        mov byte [LOW], 0xAA
        mov byte [es:HIGH], 0x55
        CHECKB byte [LOW], 0xAA, 3, "A20 on: 0000:0500"
        CHECKB byte [es:HIGH], 0x55, 3, "A20 on: FFFF:0510"
        mov word [LOW + 2], 0x1234       ; a word store too
        mov word [es:HIGH + 2], 0x5678
        CHECKW word [LOW + 2], 0x1234, 3, "A20 on: word at 0000:0502"
        PRINT {"A20 on: 0x100500 and 0x000500 are distinct: ok", 10}

        ; ---- A20 off: FFFF:0510 aliases 0000:0500 ----
        A20 off
        in al, 0x92
        and al, 0x02
        CHECKB al, 0, 4, "port 0x92 bit 1 after disabling A20"
        CHECKB byte [es:HIGH], 0xAA, 4, "A20 off: FFFF:0510 reads 0000:0500"
        CHECKW word [es:HIGH + 2], 0x1234, 4, "A20 off: word at FFFF:0512"
        mov byte [es:HIGH], 0x66         ; writes 0000:0500
        CHECKB byte [LOW], 0x66, 5, "A20 off: a write to FFFF:0510 lands at 0000:0500"
        ; The first byte past 1 MiB: FFFF:0010 = linear 0x100000 wraps to 0x000000 (IVT entry 0, unused).
        mov byte [0x0000], 0xC3
        mov al, [es:0x0010]
        CHECKB al, 0xC3, 5, "A20 off: FFFF:0010 wraps to 0000:0000"
        PRINT {"A20 off: 0x100500 wraps to 0x000500: ok", 10}

        ; ---- A20 on again: the memory above 1 MiB kept its own byte ----
        A20 on
        in al, 0x92
        and al, 0x02
        CHECKB al, 0x02, 6, "port 0x92 bit 1 after enabling A20"
        CHECKB byte [es:HIGH], 0x55, 6, "A20 on again: FFFF:0510 kept 0x55"
        CHECKB byte [LOW], 0x66, 6, "A20 on again: 0000:0500 kept 0x66"
        CHECKW word [es:HIGH + 2], 0x5678, 6, "A20 on again: word at FFFF:0512"
        PRINT {"A20 on again: distinct again: ok", 10}

        ; ---- Instruction fetch follows the gate ----
        ; 0000:0600 holds `mov ax, 0x2222 / retf`; linear 0x100600 holds `mov ax, 0x1111 / retf`.
        mov byte [CODE_LO], 0xB8
        mov word [CODE_LO + 1], 0x2222
        mov byte [CODE_LO + 3], 0xCB
        mov byte [es:CODE_LO + 0x10], 0xB8
        mov word [es:CODE_LO + 0x11], 0x1111
        mov byte [es:CODE_LO + 0x13], 0xCB
        call 0xFFFF:CODE_LO + 0x10       ; A20 on: runs the code above 1 MiB
        CHECKW ax, 0x1111, 7, "A20 on: code at FFFF:0610 runs from 0x100600"
        A20 off
        call 0xFFFF:CODE_LO + 0x10       ; A20 off: same address, runs 0x000600
        CHECKW ax, 0x2222, 8, "A20 off: code at FFFF:0610 runs from 0x000600"
        A20 on
        call 0xFFFF:CODE_LO + 0x10
        CHECKW ax, 0x1111, 9, "A20 on again: code at FFFF:0610"
        PRINT {"instruction fetch follows A20: ok", 10}

        PASS
        ROM_END
