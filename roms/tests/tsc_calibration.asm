; tsc_calibration: the TSC measured against the PIT and the RTC, the way memtest86+ and Linux
; calibrate it. PIT channel 2 (gated by port 0x61 bit 0, its output read back on bit 5) counts
; 10 ms in mode 0 while the CPU polls it with a different instruction mix between the polls each
; time: nothing, a chain of IMULs, a 1 KiB REP MOVSB, and HLT-free I/O to the POST port. Each
; gives the TSC ticks in 10 ms. Then the TSC ticks between two RTC update-ended interrupts (one
; second, waited for with HLT, after a first update to start in step with the RTC). The guest-visible clocks share one time base, so every measure
; must give the same TSC frequency within 1%, whatever the instruction rate and whether the CPU
; ran or idled: in realtime and in deterministic (-icount) mode alike.
%define TEST_NAME "tsc_calibration"
%include "rom_common.inc"
        cpu 686

PIT_10MS  equ 11932                      ; 1193182 Hz * 10 ms
RESULTS   equ 0x0500                     ; dword per PIT measure
RTC_TSC   equ 0x0520                     ; TSC ticks in one RTC second
T0        equ 0x0530
SRC       equ 0x1000
DST       equ 0x2000

start:
        SETUP
        mov word [0x28 * 4], irq8
        mov word [0x28 * 4 + 2], 0xF000
        PIC_INIT 0x20, 0x28, 0xFB, 0xFE  ; master: the cascade only; slave: IRQ8

        ; ---- PIT channel 2: 10 ms, four instruction mixes ----
        xor bx, bx
.mix:   call pit_10ms
        mov [RESULTS + bx], eax
        PRINT {"TSC ticks in 10 ms of PIT channel 2, mix "}
        push eax
        movzx eax, bx
        shr eax, 2
        call print_dec
        PRINT {": "}
        pop eax
        call print_dec
        PRINT {10}
        add bx, 4
        cmp bx, 16
        jb .mix

        ; ---- one RTC second (update-ended interrupts, HLT in between) ----
        mov al, 0x8B
        out 0x70, al
        in al, 0x71
        or al, 0x10                      ; UIE
        mov ah, al
        mov al, 0x8B
        out 0x70, al
        mov al, ah
        out 0x71, al
        mov al, 0x8C                     ; clear stale flags
        out 0x70, al
        in al, 0x71
        sti
        hlt                              ; an update (the first may come late: an emulator's clock
        hlt                              ; may catch up while the CPU idles), then one in time:
        rdtsc                            ; the second starts
        mov [T0], eax
        mov [T0 + 4], edx
        hlt                              ; the next update
        rdtsc
        cli
        sub eax, [T0]
        sbb edx, [T0 + 4]
        CHECKD edx, 0, 2, "TSC ticks in one RTC second fit in 32 bits"
        mov [RTC_TSC], eax
        PRINT {"TSC ticks in one RTC second: "}
        call print_dec
        PRINT {10}

        ; ---- all within 1% of the RTC's rate (PIT measures x 100) ----
        mov ecx, [RTC_TSC]
        shr ecx, 7                       ; about 0.8%
        xor bx, bx
.cmp:   mov eax, [RESULTS + bx]
        imul eax, eax, 100
        sub eax, [RTC_TSC]
        jns .abs
        neg eax
.abs:   cmp eax, ecx
        jbe .near
        FAIL 3, "a PIT measure of the TSC differs from the RTC's by more than 0.8%"
.near:  add bx, 4
        cmp bx, 16
        jb .cmp
        PRINT {"one TSC frequency against the PIT (four instruction mixes) and the RTC: ok", 10}
        PASS

; EAX = TSC ticks while PIT channel 2 counts 10 ms (mode 0), polling with mix BX/4 in between.
pit_10ms:
        in al, 0x61
        and al, 0xFC                     ; gate off, speaker off
        out 0x61, al
        mov al, 0xB0                     ; channel 2, LSB then MSB, mode 0
        out 0x43, al
        mov ax, PIT_10MS
        out 0x42, al
        mov al, ah
        out 0x42, al
        in al, 0x61
        or al, 1                         ; gate on: the count starts
        out 0x61, al
        rdtsc
        mov [T0], eax
        mov [T0 + 4], edx
.poll:  cmp bx, 4
        je .imul
        cmp bx, 8
        je .movs
        cmp bx, 12
        je .io
        jmp .check
.imul:  mov ecx, 50
        mov eax, 3
.i:     imul eax, eax, 7
        loop .i
        jmp .check
.movs:  push es
        push ds
        pop es
        mov si, SRC
        mov di, DST
        mov cx, 1024
        cld
        rep movsb
        pop es
        jmp .check
.io:    mov cx, 20
.o:     out POST_PORT, al
        loop .o
.check: in al, 0x61
        test al, 0x20                    ; channel 2's output: high at the terminal count
        jz .poll
        rdtsc
        sub eax, [T0]
        sbb edx, [T0 + 4]
        ret

irq8:
        push ax
        mov al, 0x8C                     ; reading register C acknowledges the RTC
        out 0x70, al
        in al, 0x71
        mov al, 0x20
        out 0xA0, al
        out 0x20, al
        pop ax
        iret

        PRINT_DEC_LIB                    ; print_dec: EAX in decimal to the debug console

        ROM_END
