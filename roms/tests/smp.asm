; smp: two CPUs (-smp 2) as an SMP OS starts and uses them, with the values the SDM and the MP
; specification give:
; - the BSP's APIC ID is 0 (APIC ID register and CPUID.1 EBX[31:24]), IA32_APIC_BASE.BSP set;
; - INIT, then STARTUP with vector 40h: the AP starts in real mode at 4000:0000 (CS = 4000h,
;   IP = 0), enters protected mode and reports APIC ID 1, CPUID initial APIC ID 1, BSP bit clear;
;   a second STARTUP is ignored (the AP is no longer waiting for one);
; - both CPUs add 1 to one dword 20000 times with LOCK XADD: the total is exact;
; - IPIs: AP -> BSP (fixed, physical destination 0), BSP -> AP (physical 1), "all excluding
;   self", logical flat destination (the AP's LDR), NMI to the AP, each taken once and EOIed;
; - lowest priority to both: the AP (TPR 0) takes it while the BSP's TPR is raised;
; - cross-modifying code: the BSP runs code in RAM until it is translated, the AP (whose TLB held
;   a writable entry for that page from before) patches its immediate, the BSP runs the new code.
%define TEST_NAME "smp"
%include "rom_common.inc"
%include "tests/pm_common.inc"

APIC       equ 0xFEE00000
AP_VECTOR  equ 0x40                    ; STARTUP vector: the AP starts at 40000h
TRAMPOLINE equ AP_VECTOR << 12
AP_STACK   equ 0x30000
AP_UP      equ 0x0700                  ; the AP's start count
AP_ID      equ 0x0704                  ; its APIC ID register >> 24
AP_CPUID   equ 0x0708                  ; its CPUID.1 EBX >> 24
AP_BASE    equ 0x070C                  ; its IA32_APIC_BASE low dword
COUNTER    equ 0x0710
AP_DONE    equ 0x0714
BSP_GOT    equ 0x0718                  ; vector 51h taken on the BSP
AP_GOT     equ 0x071C                  ; vector 52h taken on the AP
AP_NMI     equ 0x0720
AP_STARTS  equ 0x0724                  ; times the AP ran its 16-bit entry
XMC_REQ    equ 0x0728                  ; BSP: patch it now
XMC_DONE   equ 0x072C                  ; AP: patched
XMC        equ 0x50000                 ; the code in RAM
FLAT_CODE  equ 0x38                    ; a flat 32-bit code segment, to run it
ROUNDS     equ 10000

; WAIT_FOR dword, value, code, "what": spins (PAUSE) until [dword] == value, bounded.
%macro WAIT_FOR 4
        mov ecx, 20000000
%%spin: cmp dword [%1], %2
        je %%ok
        pause
        loop %%spin
        FAIL32 %3, {"timed out waiting for ", %4}
%%ok:
%endmacro

; SEND_IPI icr_hi, icr_lo
%macro SEND_IPI 2
        mov dword [APIC + 0x310], %1
        mov dword [APIC + 0x300], %2
%endmacro

start:
        PM_ENTER

        bits 32
pm_main:
        IDT_GATE 0x51, bsp_isr, 0x8E
        IDT_GATE 0x52, ap_isr, 0x8E
        IDT_GATE 0x02, nmi_isr, 0x8E
        mov dword [APIC + 0xF0], 0x1FF         ; software-enable the BSP's APIC
        mov dword [APIC + 0xE0], 0xFFFFFFFF    ; flat model, logical ID bit 0
        mov dword [APIC + 0xD0], 0x01000000
        mov eax, [APIC + 0x20]
        shr eax, 24
        CHECK32 eax, 0, 2, "BSP APIC ID"
        mov eax, 1
        cpuid
        shr ebx, 24
        CHECK32 ebx, 0, 2, "BSP CPUID initial APIC ID"
        mov ecx, 0x1B
        rdmsr
        and eax, 0x900
        CHECK32 eax, 0x900, 2, "BSP IA32_APIC_BASE enable and BSP bits"
        OK32 "BSP"

        ; ---- INIT, STARTUP ----
        mov esi, ap_entry16
        add esi, 0xF0000
        mov edi, TRAMPOLINE
        mov ecx, ap_entry16_end - ap_entry16
        rep movsb
        SEND_IPI 1 << 24, 0x00004500           ; INIT, assert, physical destination 1
        SEND_IPI 1 << 24, 0x00004600 | AP_VECTOR
        WAIT_FOR AP_UP, 1, 3, "the AP"
        SEND_IPI 1 << 24, 0x00004600 | AP_VECTOR   ; a second STARTUP: ignored
        CHECK32 dword [AP_ID], 1, 3, "AP APIC ID"
        CHECK32 dword [AP_CPUID], 1, 3, "AP CPUID initial APIC ID"
        mov eax, [AP_BASE]
        and eax, 0x900
        CHECK32 eax, 0x800, 3, "AP IA32_APIC_BASE enable and BSP bits"
        OK32 "INIT and STARTUP"

        ; ---- LOCK XADD from both ----
        mov ecx, ROUNDS
.add:   mov eax, 1
        lock xadd [COUNTER], eax
        loop .add
        WAIT_FOR AP_DONE, 1, 4, "the AP's additions"
        CHECK32 dword [COUNTER], 2 * ROUNDS, 4, "the shared counter"
        CHECK32 dword [AP_STARTS], 1, 4, "AP starts (the second STARTUP ignored)"
        OK32 "LOCK XADD from both CPUs"

        ; ---- cross-modifying code ----
        DESC FLAT_CODE, 0, 0xFFFFF, 0x9A, 0xC
        mov esi, xmc_code + 0xF0000
        mov edi, XMC
        mov ecx, xmc_code_end - xmc_code
        rep movsb
        mov ecx, 8                             ; enough runs to be translated
.warm:  call FLAT_CODE:XMC
        loop .warm
        CHECK32 eax, 0x11111111, 6, "code in RAM before the AP patches it"
        mov dword [XMC_REQ], 1
        WAIT_FOR XMC_DONE, 1, 6, "the AP's patch"
        call FLAT_CODE:XMC
        CHECK32 eax, 0x22222222, 6, "code the AP patched, run by the BSP"
        OK32 "code written by the other CPU"

        ; ---- IPIs ----
        sti
        WAIT_FOR BSP_GOT, 1, 5, "the AP's IPI"
        SEND_IPI 1 << 24, 0x00000052           ; fixed, physical 1
        WAIT_FOR AP_GOT, 1, 5, "IPI to APIC ID 1"
        SEND_IPI 0, 0x000C0052                 ; all excluding self
        WAIT_FOR AP_GOT, 2, 5, "IPI to all excluding self"
        SEND_IPI 0x02 << 24, 0x00000852        ; logical, flat: the AP's LDR bit 1
        WAIT_FOR AP_GOT, 3, 5, "IPI to logical destination 02h"
        SEND_IPI 1 << 24, 0x00000400           ; NMI
        WAIT_FOR AP_NMI, 1, 5, "NMI IPI"
        mov dword [APIC + 0x80], 0x40          ; BSP TPR up: lowest priority goes to the AP
        SEND_IPI 0x03 << 24, 0x00000952        ; lowest priority, logical 03h (both)
        WAIT_FOR AP_GOT, 4, 5, "lowest-priority IPI"
        mov dword [APIC + 0x80], 0
        CHECK32 dword [BSP_GOT], 1, 5, "IPIs the BSP took"
        cli
        OK32 "IPIs"
        PASS32

bsp_isr:
        inc dword [BSP_GOT]
        mov dword [APIC + 0xB0], 0
        iretd

ap_isr:
        inc dword [AP_GOT]
        mov dword [APIC + 0xB0], 0
        iretd

nmi_isr:
        inc dword [AP_NMI]
        iretd

; ---- the AP ----
ap_main:
        mov ax, DATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov esp, AP_STACK
        lidt [pm_idt_ptr + 0xF0000]
        mov dword [APIC + 0xF0], 0x1FF         ; its own APIC (the board routes FEE00000h)
        mov dword [APIC + 0xE0], 0xFFFFFFFF    ; flat model
        mov dword [APIC + 0xD0], 0x02000000    ; logical ID bit 1
        mov eax, [APIC + 0x20]
        shr eax, 24
        mov [AP_ID], eax
        mov eax, 1
        cpuid
        shr ebx, 24
        mov [AP_CPUID], ebx
        mov ecx, 0x1B
        rdmsr
        mov [AP_BASE], eax
        mov dword [XMC + 0x800], 0             ; a writable TLB entry for the code's page, early
        lock inc dword [AP_UP]
        mov ecx, ROUNDS
.add:   mov eax, 1
        lock xadd [COUNTER], eax
        loop .add
        mov dword [AP_DONE], 1
.xw:    cmp dword [XMC_REQ], 1
        je .patch
        pause
        jmp .xw
.patch: mov dword [XMC + 1], 0x22222222        ; mov eax, imm32: the immediate
        mov dword [XMC_DONE], 1
        SEND_IPI 0, 0x00000051                 ; fixed, physical 0: the BSP
        sti
.idle:  hlt
        jmp .idle

xmc_code:                                      ; copied to XMC
        mov eax, 0x11111111
        retf
xmc_code_end:

        bits 16
; Copied to 40000h: runs at 4000:0000 after STARTUP. Counts its start, then on to ap_main.
ap_entry16:
        cli
        xor ax, ax
        mov es, ax
        lock inc dword [es:AP_STARTS]
        AP_ENTER_PM ap_main
ap_entry16_end:

        bits 32
        PRINT_DEC_LIB

        bits 16
        PM_SUPPORT
        ROM_END
