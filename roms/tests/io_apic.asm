; io_apic: the I/O APIC at FEC00000h (82093AA datasheet) routing ISA interrupts to the local APIC,
; with the 8259s masked, as an SMP-era OS runs them:
; - the version register (an I/O APIC 1xh or 2xh, at least 16 redirection entries) and entry reset
;   state (masked);
; - PIT IRQ0 on pin 0, edge, fixed vector 50h to this CPU's APIC ID: 1 kHz interrupts (10 of them
;   take 10 ms of PIT channel 2, up to 1.5x in realtime), none while the entry is masked;
; - COM1's IRQ4 on pin 4: edge (one THRE interrupt), then level: delivered once, its handler
;   reads IIR (the line drops) and EOIs, no second delivery; a second THRE event after the EOI is
;   delivered again (remote IRR was cleared by the EOI broadcast).
%define TEST_NAME "io_apic"
%include "rom_common.inc"
%include "tests/pm_common.inc"
%include "tests/pm_timing.inc"

APIC       equ 0xFEE00000
IOAPIC     equ 0xFEC00000
COM1       equ 0x3F8
TICKS      equ 0x0700          ; vector 50h
UARTS      equ 0x0704          ; vector 54h

; IOREDTBL pin, low dword, high dword
%macro REDIR 3
        mov dword [IOAPIC], 0x11 + 2 * (%1)
        mov dword [IOAPIC + 0x10], %3
        mov dword [IOAPIC], 0x10 + 2 * (%1)
        mov dword [IOAPIC + 0x10], %2
%endmacro

start:
        PM_ENTER

        bits 32
pm_main:
        mov al, 0xFF                           ; the 8259s masked: the I/O APIC delivers
        out 0x21, al
        out 0xA1, al
        IDT_GATE 0x50, pit_isr, 0x8E
        IDT_GATE 0x54, uart_isr, 0x8E
        mov dword [APIC + 0xF0], 0x1FF         ; local APIC on
        mov ebx, [APIC + 0x20]                 ; our APIC ID, as the destination

        ; ---- registers ----
        mov dword [IOAPIC], 1
        mov eax, [IOAPIC + 0x10]
        mov ecx, eax
        and eax, 0xE0
        RANGE32 eax, 0x00, 0x20, "version"
        shr ecx, 16
        and ecx, 0xFF
        RANGE32 ecx, 15, 239, "max redirection entry"
        mov dword [IOAPIC], 0x10 + 2 * 4
        mov eax, [IOAPIC + 0x10]
        and eax, 0x10000
        CHECK32 eax, 0x10000, 2, "pin 4 masked after reset"
        OK32 "registers"

        ; ---- PIT IRQ0: pin 0, edge ----
        REDIR 0, 0x50, ebx
        mov al, 0x34                           ; channel 0, mode 2, 1 kHz
        out 0x43, al
        mov ax, PIT_1MS
        out 0x40, al
        mov al, ah
        out 0x40, al
        mov esi, TICKS
        mov edi, 10
        call hlt_until
        RANGE32 eax, 8 * PIT_1MS, 16 * PIT_1MS, "PIT ticks for 10 IRQ0 through pin 0"
        REDIR 0, 0x10050, ebx                  ; masked
        mov ebx, [TICKS]
        mov ecx, 5 * PIT_1MS
        call pit_wait
        mov eax, [TICKS]
        sub eax, ebx
        RANGE32 eax, 0, 1, "IRQ0 while pin 0 is masked"
        cli
        OK32 "PIT through pin 0"

        ; ---- COM1 IRQ4: pin 4, edge then level ----
        mov ebx, [APIC + 0x20]
        REDIR 4, 0x54, ebx
        mov dx, COM1 + 4
        mov al, 0x08                           ; OUT2: the IRQ line on a PC
        out dx, al
        mov dword [UARTS], 0
        sti
        mov dx, COM1 + 1
        mov al, 0x02                           ; THRE interrupt on: THR is empty, so at once
        out dx, al
        mov ecx, 2 * PIT_1MS
        call pit_wait
        CHECK32 dword [UARTS], 1, 2, "COM1 THRE through pin 4, edge"
        mov dx, COM1 + 1
        xor al, al
        out dx, al
        REDIR 4, 0x8054, ebx                   ; level
        mov dx, COM1 + 1
        mov al, 0x02
        out dx, al
        mov ecx, 2 * PIT_1MS
        call pit_wait
        CHECK32 dword [UARTS], 2, 2, "COM1 THRE through pin 4, level: once"
        mov dx, COM1
        mov al, '.'                            ; THR written: THRE again once the byte is out
        out dx, al
        mov ecx, 2 * PIT_1MS
        call pit_wait
        CHECK32 dword [UARTS], 3, 2, "a second THRE, level, after the EOI"
        mov dx, COM1 + 1
        xor al, al
        out dx, al
        cli
        OK32 "COM1 through pin 4"
        PASS32

pit_isr:
        inc dword [TICKS]
        mov dword [APIC + 0xB0], 0
        iretd

uart_isr:
        push eax
        push edx
        inc dword [UARTS]
        mov dx, COM1 + 2                       ; IIR: reading it clears the THRE interrupt
        in al, dx
        mov dword [APIC + 0xB0], 0
        pop edx
        pop eax
        iretd

        PM_TIMING_LIB
        PRINT_DEC_LIB

        bits 16
        PM_SUPPORT
        ROM_END
