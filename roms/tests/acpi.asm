; acpi: the board's ACPI hardware as an OS drives it, with no firmware in between:
; - 00:01.3 is the PIIX4 PM function (8086:7113); PMBA 600h with PMREGMISC.PMIOSE decodes the PM
;   block there; PM1a_CNT reads SCI_EN (always in ACPI mode);
; - the PM timer counts 3.579545 MHz: 10 ms of PIT channel 2 are 35795 ticks (+-1%);
; - the SCI (IRQ 9, level-triggered in the ELCR, through the 8259s) comes when the timer's bit 23
;   changes with TMR_EN set; the handler finds TMR_STS, clears it (the line drops) and EOIs once;
; - fw_cfg at 510h/511h answers "QEMU" and lists four files (etc/e820 and the three ACPI ones);
; - SLP_TYP 0 (the DSDT's _S5) with SLP_EN powers the board off: vx86 exits with status 0 after
;   "acpi: PASS"; still running afterwards is a failure.
%define TEST_NAME "acpi"
%include "rom_common.inc"
%include "tests/pm_common.inc"
%include "tests/pm_timing.inc"

PM         equ 0x600
SCIS       equ 0x0700          ; SCI count
STS_SEEN   equ 0x0704          ; PM1_STS as the handler found it
PMFN       equ 0x80000000 | (1 << 11) | (3 << 8)   ; 00:01.3 configuration address

start:
        PM_ENTER

        bits 32
pm_main:
        ; ---- the PM function ----
        mov dx, 0xCF8
        mov eax, PMFN
        out dx, eax
        mov dx, 0xCFC
        in eax, dx
        CHECK32 eax, 0x71138086, 2, "00:01.3 vendor/device"
        mov dx, 0xCF8
        mov eax, PMFN | 0x40
        out dx, eax
        mov dx, 0xCFC
        mov eax, PM | 1
        out dx, eax
        mov dx, 0xCF8
        mov eax, PMFN | 0x80
        out dx, eax
        mov dx, 0xCFC
        mov al, 1
        out dx, al
        mov dx, PM + 4
        in ax, dx
        and eax, 1
        CHECK32 eax, 1, 3, "PM1a_CNT.SCI_EN"
        OK32 "PM block at 600h"

        ; ---- PM timer rate against the PIT ----
        mov dx, PM + 8
        in eax, dx
        mov ebx, eax
        mov ecx, 10 * PIT_1MS
        call pit_wait
        mov dx, PM + 8
        in eax, dx
        sub eax, ebx
        and eax, 0xFFFFFF
        RANGE32 eax, 35437, 36153, "PM timer ticks in 10 ms of the PIT"
        OK32 "PM timer at 3.579545 MHz"

        ; ---- SCI from the timer's bit 23 ----
        PIC_INIT 0x20, 0x28, 0xFB, 0xFD        ; only IRQ2 (cascade) and IRQ9
        mov dx, 0x4D1
        in al, dx
        or al, 0x02                            ; IRQ9 level-triggered
        out dx, al
        IDT_GATE 0x29, sci_isr, 0x8E
        mov dx, PM
        mov ax, 0xFFFF                         ; clear every status bit
        out dx, ax
        mov dx, PM + 2
        mov ax, 1                              ; TMR_EN
        out dx, ax
        mov dword [SCIS], 0
        sti
.wait:  hlt
        cmp dword [SCIS], 0
        je .wait
        cli
        mov dx, PM + 8                         ; bit 23 has just changed: the low 23 bits are small
        in eax, dx
        and eax, 0x7FFFFF
        RANGE32 eax, 0, 0x10000, "PM timer low bits at the SCI"
        mov eax, [STS_SEEN]
        and eax, 1
        CHECK32 eax, 1, 4, "TMR_STS in the SCI handler"
        mov ecx, 5 * PIT_1MS                   ; the handler cleared TMR_STS: no second SCI
        sti
        call pit_wait
        cli
        CHECK32 dword [SCIS], 1, 5, "SCIs after the status was cleared"
        mov dx, PM + 2
        xor ax, ax
        out dx, ax
        OK32 "SCI on IRQ 9 at the timer's bit 23"

        ; ---- fw_cfg ----
        mov dx, 0x510
        xor ax, ax
        out dx, ax
        mov dx, 0x511
        xor ebx, ebx
        mov ecx, 4
.sig:   in al, dx
        shl ebx, 8
        mov bl, al
        loop .sig
        CHECK32 ebx, 'QEMU' >> 24 | ('QEMU' >> 8 & 0xFF00) | ('QEMU' << 8 & 0xFF0000) | ('QEMU' << 24 & 0xFF000000), 6, "fw_cfg signature"
        mov dx, 0x510
        mov ax, 0x19
        out dx, ax
        mov dx, 0x511
        xor ebx, ebx
        mov ecx, 4
.cnt:   in al, dx                              ; big-endian count
        shl ebx, 8
        mov bl, al
        loop .cnt
        CHECK32 ebx, 4, 7, "fw_cfg files"
        OK32 "fw_cfg"

        ; ---- S5 ----
        PRINT32 {TEST_NAME, ": PASS", 10}
        mov dx, PM + 4
        mov ax, 0x2000                         ; SLP_EN, SLP_TYP 0
        out dx, ax
        mov ecx, PIT_1MS
        call pit_wait
        FAIL32 8, "still running after S5"

sci_isr:
        push eax
        push edx
        inc dword [SCIS]
        mov dx, PM
        in ax, dx
        movzx eax, ax
        mov [STS_SEEN], eax
        out dx, ax                             ; write the set bits back: clears them
        mov al, 0x20
        out 0xA0, al
        out 0x20, al
        pop edx
        pop eax
        iretd

        PM_TIMING_LIB
        PRINT_DEC_LIB

        bits 16
        PM_SUPPORT
        ROM_END
