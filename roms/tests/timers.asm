; timers: the board's interrupt wiring and time. Programs the 8259 pair and the 8254, counts IRQ0
; ticks with HLT in between across one RTC second (the PIT's rate against the RTC's), then counts
; RTC periodic interrupts (IRQ8 through the slave PIC, the master's IR2) across ten PIT ticks.
; Runs in realtime and in deterministic mode (-icount); in deterministic mode its whole output,
; including a latched PIT count, is the same on every run. Every result line also goes to COM1.
%define TEST_NAME "timers"
%include "rom_common.inc"

TICKS    equ 0x0500                      ; IRQ0 count (dword)
RTCINTS  equ 0x0504                      ; IRQ8 count (dword)
REGC     equ 0x0508                      ; register C as the first IRQ8 handler read it
COM1     equ 0x3F8
PIT_HZ_DIV equ 11932                     ; 1193182 / 11932 = 100.0 Hz

start:
        SETUP
        ; COM1: 115200 8N1, FIFOs on; lines are written with polling (output is instantaneous).
        mov dx, COM1 + 3
        mov al, 0x80
        out dx, al
        mov dx, COM1
        mov al, 1
        out dx, al
        inc dx
        xor al, al
        out dx, al
        mov dx, COM1 + 3
        mov al, 0x03
        out dx, al

        ; IVT: IRQ0 -> vector 0x20, IRQ8 -> vector 0x28.
        mov word [0x20 * 4], irq0
        mov word [0x20 * 4 + 2], 0xF000
        mov word [0x28 * 4], irq8
        mov word [0x28 * 4 + 2], 0xF000
        mov dword [TICKS], 0
        mov dword [RTCINTS], 0
        mov byte [REGC], 0

        ; 8259 pair: edge, cascade, ICW4; bases 0x20 / 0x28; slave on IR2.
        PIC_INIT 0x20, 0x28, 0xFE, 0xFF        ; master: IRQ0 only for now
        in al, 0x21
        CHECKB al, 0xFE, 2, "master IMR reads back"
        PRINT {"PIC initialised (bases 0x20/0x28): ok", 10}

        ; PIT channel 0, mode 2 (rate generator), LSB then MSB: 100 Hz.
        mov al, 0x34
        out 0x43, al
        mov ax, PIT_HZ_DIV
        out 0x40, al
        mov al, ah
        out 0x40, al
        sti

        ; ---- IRQ0 ticks during one RTC second ----
        call rtc_seconds
        mov bl, al
.sync:  hlt
        call rtc_seconds
        cmp al, bl
        je .sync
        mov bl, al
        mov dword [TICKS], 0
.count: hlt
        call rtc_seconds
        cmp al, bl
        je .count
        mov eax, [TICKS]
        push eax
        PRINT {"IRQ0 ticks in one RTC second: "}
        call print_dec
        PRINT {10}
        pop eax
        cmp eax, 90
        jb .bad_rate
        cmp eax, 110
        jbe .rate_ok
.bad_rate:
        FAIL 3, "PIT at 100 Hz should tick 90-110 times per RTC second"
.rate_ok:
        PRINT {"PIT rate against the RTC (100 Hz): ok", 10}

        ; ---- RTC periodic interrupt (1024 Hz) on IRQ8 during 10 PIT ticks ----
        mov al, 0x8A
        out 0x70, al
        mov al, 0x26                     ; 32.768 kHz base, rate 6 = 1024 Hz
        out 0x71, al
        mov al, 0x8C                     ; read C: clear stale flags
        out 0x70, al
        in al, 0x71
        mov al, 0xFA                     ; master: IRQ0 and IRQ2 (cascade)
        out 0x21, al
        mov al, 0xFE                     ; slave: IRQ8
        out 0xA1, al
        mov eax, [TICKS]
        add eax, 10
        mov ebx, eax
        cli
        mov dword [RTCINTS], 0
        mov al, 0x8B
        out 0x70, al
        in al, 0x71
        or al, 0x40                      ; PIE
        mov ah, al
        mov al, 0x8B
        out 0x70, al
        mov al, ah
        out 0x71, al
        mov eax, [TICKS]
        add eax, 10
        mov ebx, eax
        sti
.wait10:
        hlt
        cmp [TICKS], ebx
        jb .wait10
        cli
        mov al, 0x8B                     ; PIE off
        out 0x70, al
        in al, 0x71
        and al, ~0x40
        mov ah, al
        mov al, 0x8B
        out 0x70, al
        mov al, ah
        out 0x71, al
        sti
        mov eax, [RTCINTS]
        push eax
        PRINT {"IRQ8 periodic interrupts in 10 PIT ticks: "}
        call print_dec
        PRINT {10}
        pop eax
        cmp eax, 80
        jb .bad_rtc
        cmp eax, 125
        jbe .rtc_ok
.bad_rtc:
        FAIL 4, "RTC at 1024 Hz should interrupt 80-125 times in 100 ms"
.rtc_ok:
        CHECKB byte [REGC], 0xC0, 5, "register C in the IRQ8 handler (IRQF|PF)"
        PRINT {"RTC periodic interrupt through the slave PIC: ok", 10}

        ; A latched PIT count: timing-dependent, so identical only in deterministic runs.
        cli
        mov al, 0x00
        out 0x43, al
        in al, 0x40
        mov ah, al
        in al, 0x40
        xchg al, ah
        movzx eax, ax
        PRINT {"PIT channel 0 latched count: "}
        call print_dec
        PRINT {10}
        PASS

; AL = RTC seconds register (waits while an update is in progress).
rtc_seconds:
.uip:   mov al, 0x8A
        out 0x70, al
        in al, 0x71
        test al, 0x80
        jnz .uip
        mov al, 0x80
        out 0x70, al
        in al, 0x71
        ret

        PRINT_DEC_LIB COM1               ; print_dec: EAX in decimal to the debug console and COM1

irq0:
        push ax
        push ds
        xor ax, ax
        mov ds, ax
        inc dword [TICKS]
        mov al, 0x20                     ; non-specific EOI
        out 0x20, al
        pop ds
        pop ax
        iret

irq8:
        push ax
        push ds
        xor ax, ax
        mov ds, ax
        mov al, 0x8C                     ; reading register C acknowledges the RTC
        out 0x70, al
        in al, 0x71
        and al, 0xC0
        cmp byte [REGC], 0
        jne .seen
        mov [REGC], al
.seen:  inc dword [RTCINTS]
        mov al, 0x20
        out 0xA0, al                     ; EOI to the slave, then the master
        out 0x20, al
        pop ds
        pop ax
        iret

        ROM_END
