; apic_timer: the local APIC as a P6 guest finds and uses it (SDM Vol. 3, chapter "Advanced
; Programmable Interrupt Controller"), measured against the 8254 PIT:
; - CPUID.1:EDX.APIC, IA32_APIC_BASE = FEE00900h (BSP, enabled), an integrated APIC's version (1xh);
; - the timer's count rate in 10 ms of PIT channel 2, with divide 1 and divide 16 (ratio 16);
; - one-shot: no interrupt before its count runs out (5 ms into a 10 ms count), exactly one after;
; - periodic: 20 interrupts of a 1 ms period (EOI'd by the handler, waited for with HLT) take
;   20 ms of PIT channel 2 (18-21 ms: the first comes within a period of the start);
; - LINT0 in ExtINT mode (virtual wire): the PIT's IRQ0 at 1 kHz through the 8259 reaches the CPU
;   (20 of them in 20 ms), not while LINT0 is masked, again when unmasked;
; - the APIC disabled in IA32_APIC_BASE: CPUID clears the bit, the registers are gone, and the 8259
;   drives the CPU's INTR directly.
; The interrupt counts may never come faster than their period; slower is allowed up to 1.5x (in
; realtime mode a busy host can make the CPU miss a tick, as with any emulator's timers); with
; -icount they are exact.
%define TEST_NAME "apic_timer"
%include "rom_common.inc"
%include "tests/pm_common.inc"
%include "tests/pm_timing.inc"

APIC       equ 0xFEE00000
APIC_EOI   equ APIC + 0xB0
APIC_SVR   equ APIC + 0xF0
LVT_TIMER  equ APIC + 0x320
LVT_LINT0  equ APIC + 0x350
TMR_INIT   equ APIC + 0x380
TMR_CUR    equ APIC + 0x390
TMR_DIV    equ APIC + 0x3E0
TICKS      equ 0x0700          ; APIC timer interrupts
IRQ0S      equ 0x0704          ; PIT channel 0 interrupts through the 8259
RATE1      equ 0x0708          ; timer counts in 10 ms, divide 1

start:
        PM_ENTER

        bits 32
pm_main:
        mov al, 0xFF                           ; the 8259s quiet until the LINT0 part
        out 0x21, al
        out 0xA1, al
        IDT_GATE 0x40, apic_isr, 0x8E
        IDT_GATE 0x20, irq0_isr, 0x8E

        ; ---- discovery ----
        mov eax, 1
        cpuid
        and edx, 1 << 9
        CHECK32 edx, 1 << 9, 2, "CPUID.1:EDX.APIC"
        mov ecx, 0x1B
        rdmsr
        CHECK32 eax, 0xFEE00900, 2, "IA32_APIC_BASE after reset"
        mov eax, [APIC + 0x30]
        and eax, 0xF0
        CHECK32 eax, 0x10, 2, "version: an integrated APIC (1xh)"
        mov dword [APIC_SVR], 0x1FF            ; software-enabled, spurious vector FFh
        OK32 "discovery"

        ; ---- the count rate against the PIT ----
        mov dword [TMR_DIV], 0xB               ; divide by 1
        mov dword [LVT_TIMER], 0x10040         ; masked, one-shot
        mov dword [TMR_INIT], 0xFFFFFFFF
        mov ecx, 10 * PIT_1MS
        call pit_wait
        mov eax, 0xFFFFFFFF
        sub eax, [TMR_CUR]
        mov [RATE1], eax
        PRINT32 {"timer counts in 10 ms, divide 1: "}
        call print_dec
        PRINT32 {10}
        RANGE32 [RATE1], 10000, 0xF0000000, "counts in 10 ms"
        mov dword [TMR_DIV], 0x3               ; divide by 16
        mov dword [TMR_INIT], 0xFFFFFFFF
        mov ecx, 10 * PIT_1MS
        call pit_wait
        mov eax, 0xFFFFFFFF
        sub eax, [TMR_CUR]
        shl eax, 4                             ; x16: should be RATE1 within 1%
        mov ebx, [RATE1]
        shr ebx, 7                             ; ~0.8%
        mov ecx, [RATE1]
        sub ecx, ebx
        mov edx, [RATE1]
        add edx, ebx
        RANGE32 eax, ecx, edx, "divide 16 x 16 against divide 1"
        OK32 "count rate"

        ; ---- one-shot: 10 ms ----
        mov dword [TICKS], 0
        mov dword [TMR_DIV], 0xB
        mov dword [LVT_TIMER], 0x40            ; one-shot, vector 40h, unmasked
        sti
        mov eax, [RATE1]
        mov [TMR_INIT], eax
        mov ecx, 5 * PIT_1MS
        call pit_wait
        CHECK32 dword [TICKS], 0, 2, "one-shot: nothing after 5 of its 10 ms"
        mov ecx, 10 * PIT_1MS
        call pit_wait
        CHECK32 dword [TICKS], 1, 2, "one-shot: one interrupt after 15 ms"
        mov ecx, 20 * PIT_1MS
        call pit_wait
        CHECK32 dword [TICKS], 1, 2, "one-shot: still one after 35 ms"
        CHECK32 dword [TMR_CUR], 0, 2, "one-shot: the count stays at 0"
        OK32 "one-shot"

        ; ---- periodic: 1 ms; 20 interrupts waited for with HLT take 20 ms of PIT time ----
        mov dword [LVT_TIMER], 0x20040         ; periodic
        mov eax, [RATE1]
        xor edx, edx
        mov ebx, 10
        div ebx
        mov [TMR_INIT], eax
        mov esi, TICKS
        mov edi, 20
        call hlt_until
        mov dword [LVT_TIMER], 0x10040         ; masked: no more
        RANGE32 eax, 18 * PIT_1MS, 30 * PIT_1MS, "periodic: PIT ticks for 20 interrupts of 1 ms"
        mov ebx, [TICKS]
        mov ecx, 5 * PIT_1MS
        call pit_wait
        CHECK32 dword [TICKS], ebx, 2, "periodic, masked: no interrupts"
        mov dword [TMR_INIT], 0
        OK32 "periodic"

        ; ---- LINT0 virtual wire: PIT channel 0 at 1 kHz through the 8259 ----
        PIC_INIT 0x20, 0x28, 0xFE, 0xFF
        mov al, 0x34                           ; channel 0, mode 2
        out 0x43, al
        mov ax, PIT_1MS
        out 0x40, al
        mov al, ah
        out 0x40, al
        mov esi, IRQ0S
        mov edi, 20
        call hlt_until
        RANGE32 eax, 18 * PIT_1MS, 30 * PIT_1MS, "PIT ticks for 20 IRQ0 through LINT0 (ExtINT)"
        mov dword [LVT_LINT0], 0x10700         ; masked
        mov ebx, [IRQ0S]
        mov ecx, 10 * PIT_1MS
        call pit_wait
        mov eax, [IRQ0S]
        sub eax, ebx
        RANGE32 eax, 0, 1, "IRQ0 while LINT0 is masked"    ; (one may have been on its way)
        mov dword [LVT_LINT0], 0x700
        mov esi, IRQ0S
        mov edi, 10
        call hlt_until
        RANGE32 eax, 8 * PIT_1MS, 16 * PIT_1MS, "PIT ticks for 10 IRQ0 after LINT0 is unmasked"
        OK32 "LINT0 virtual wire"

        ; ---- disabled in IA32_APIC_BASE ----
        mov dword [LVT_LINT0], 0x10700         ; masked: only the disabled APIC lets IRQ0 through now
        mov ecx, 0x1B
        rdmsr
        and eax, ~0x800
        wrmsr
        mov eax, 1
        cpuid
        and edx, 1 << 9
        CHECK32 edx, 0, 2, "CPUID.1:EDX.APIC with the APIC disabled"
        mov eax, [APIC + 0x30]
        CHECK32 eax, 0xFFFFFFFF, 2, "the registers are gone (open bus)"
        mov esi, IRQ0S
        mov edi, 10
        call hlt_until
        RANGE32 eax, 8 * PIT_1MS, 16 * PIT_1MS, "PIT ticks for 10 IRQ0 straight from the 8259, APIC disabled"
        cli
        OK32 "APIC disabled"
        PASS32

apic_isr:
        inc dword [TICKS]
        mov dword [APIC_EOI], 0
        iretd

irq0_isr:
        push eax
        inc dword [IRQ0S]
        mov al, 0x20
        out 0x20, al
        pop eax
        iretd

        PM_TIMING_LIB
        PRINT_DEC_LIB

        bits 16
        PM_SUPPORT
        ROM_END
