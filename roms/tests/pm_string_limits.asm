; pm_string_limits: string instructions at segment limits, against the SDM: an access whose last
; byte is past an expand-up segment's limit, or at or below an expand-down segment's, raises
; #GP(0) before it happens; a REP string instruction that faults part-way leaves ECX, ESI and EDI
; as the completed iterations left them and EIP at the instruction, so it can be restarted.
%define TEST_NAME "pm_string_limits"
%include "rom_common.inc"
%include "tests/pm_common.inc"

LIM     equ 0x38        ; data, base 0x30000, limit 0x0FFF (bytes), expand-up, writable
DOWN    equ 0x40        ; data, base 0x30000, limit 0x0FFF, expand-down, B = 1: offsets 1000-FFFFFFFF
BASE    equ 0x30000
G_ECX   equ 0x0700      ; what the #GP handler saw
G_ESI   equ 0x0704
G_EDI   equ 0x0708
G_ERR   equ 0x070C
G_EIP   equ 0x0710
G_CNT   equ 0x0714
G_BACK  equ 0x0718      ; where the handler resumes

start:
        PM_ENTER

        bits 32
pm_main:
        DESC LIM, BASE, 0x0FFF, 0x92, 0x4
        DESC DOWN, BASE, 0x0FFF, 0x96, 0x4
        IDT_GATE 13, h_gp, 0x8E
        mov edi, BASE
        mov ecx, 0x2000 / 4
        xor eax, eax
        rep stosd

        ; ---- REP STOSB into ES with limit FFF from FF0: 16 bytes, then #GP at 1000 ----
        mov dword [G_CNT], 0
        mov dword [G_BACK], .stos_back
        mov ax, LIM
        mov es, ax
        mov edi, 0xFF0
        mov ecx, 0x20
        mov al, 0xAB
        cld
.stos:  rep stosb
.stos_back:
        FLAT_SEGS
        CHECK32 dword [G_CNT], 1, 2, "one #GP"
        CHECK32 dword [G_ERR], 0, 2, "#GP(0)"
        CHECK32 dword [G_EIP], .stos, 2, "EIP at the REP STOSB"
        CHECK32 dword [G_EDI], 0x1000, 2, "EDI at the faulting offset"
        CHECK32 dword [G_ECX], 0x10, 2, "ECX: 16 iterations done"
        CHECK32 dword [BASE + 0xFFC], 0xABABABAB, 2, "the bytes up to the limit written"
        CHECK32 dword [BASE + 0x1000], 0, 2, "nothing past the limit"
        OK32 "REP STOSB stops at an expand-up limit: #GP(0), restartable state"

        ; ---- REP MOVSD from DS with limit FFF: two dwords, then #GP at ESI = 1000 ----
        mov dword [G_CNT], 0
        mov dword [G_BACK], .movs_back
        mov dword [BASE + 0xFF8], 0x11111111
        mov dword [BASE + 0xFFC], 0x22222222
        mov ax, LIM
        mov ds, ax
        mov esi, 0xFF8
        mov edi, 0x20000
        mov ecx, 4
.movs:  rep movsd
.movs_back:
        FLAT_SEGS
        CHECK32 dword [G_CNT], 1, 3, "one #GP"
        CHECK32 dword [G_EIP], .movs, 3, "EIP at the REP MOVSD"
        CHECK32 dword [G_ESI], 0x1000, 3, "ESI at the faulting offset"
        CHECK32 dword [G_EDI], 0x20008, 3, "EDI after two dwords"
        CHECK32 dword [G_ECX], 2, 3, "ECX: two iterations done"
        CHECK32 dword [0x20004], 0x22222222, 3, "the second dword copied"
        OK32 "REP MOVSD stops at an expand-up limit"

        ; ---- LODSD whose last byte is past the limit: #GP, ESI unchanged ----
        mov dword [G_CNT], 0
        mov dword [G_BACK], .lods_back
        mov ax, LIM
        mov ds, ax
        mov esi, 0xFFE
        mov ecx, 0x55
.lods:  lodsd
.lods_back:
        FLAT_SEGS
        CHECK32 dword [G_CNT], 1, 4, "one #GP"
        CHECK32 dword [G_EIP], .lods, 4, "EIP at the LODSD"
        CHECK32 dword [G_ESI], 0xFFE, 4, "ESI unchanged"
        OK32 "LODSD straddling the limit faults"

        ; ---- expand-down: REP STOSB downwards from 1008 with DF = 1: 9 bytes, #GP at FFF ----
        mov dword [G_CNT], 0
        mov dword [G_BACK], .down_back
        mov ax, DOWN
        mov es, ax
        mov edi, 0x1008
        mov ecx, 0x10
        mov al, 0xCD
        std
.down:  rep stosb
.down_back:
        cld
        FLAT_SEGS
        CHECK32 dword [G_CNT], 1, 5, "one #GP"
        CHECK32 dword [G_EIP], .down, 5, "EIP at the REP STOSB"
        CHECK32 dword [G_EDI], 0xFFF, 5, "EDI at the first offset not above the limit"
        CHECK32 dword [G_ECX], 7, 5, "ECX: 9 iterations done"
        CHECK32 dword [BASE + 0x1000], 0xCDCDCDCD, 5, "1000-1003 written"
        CHECK32 dword [BASE + 0xFFC], 0x22222222, 5, "FFC-FFF untouched (as the MOVSD test left them)"
        ; and above the limit it is fine all the way to 4 GiB - 1: a dword at FFFFFFFC.
        mov dword [G_CNT], 0
        mov ax, DOWN
        mov es, ax
        mov edi, 0xFFFFFFFC
        mov eax, 0x12345678
        stosd
        FLAT_SEGS
        CHECK32 dword [G_CNT], 0, 5, "no #GP at the top of an expand-down segment"
        CHECK32 dword [BASE - 4], 0x12345678, 5, "the dword at base + FFFFFFFC (wraps below the base)"
        OK32 "expand-down segment: REP STOSB stops at the limit, the top is valid"

        PASS32

; #GP: records ECX, ESI, EDI, the error code and EIP, then resumes at [G_BACK] with the flat
; segments and the stack as they were before the fault.
h_gp:
        push eax
        mov ax, DATA
        mov ds, ax
        pop eax
        mov [G_ECX], ecx
        mov [G_ESI], esi
        mov [G_EDI], edi
        pop dword [G_ERR]
        pop dword [G_EIP]
        add esp, 8                               ; CS, EFLAGS
        inc dword [G_CNT]
        jmp [G_BACK]

        bits 16
        PM_SUPPORT
        ROM_END
