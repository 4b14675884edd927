; pm_tasks: hardware task switches. CALL through a task gate (back link, NT, busy bits, CR0.TS,
; registers saved and restored), IRET with NT back to the caller (busy cleared), JMP to a TSS
; (no NT, the old task's busy bit cleared), JMP to a busy TSS (#GP(sel)), a TSS that is too short
; (#TS(sel)), and an interrupt through a task gate in the IDT.
%define TEST_NAME "pm_tasks"
%include "rom_common.inc"
%include "tests/pm_common.inc"

TSS_B     equ 0x14000
TSS_B_SEL equ 0x38
TGATE     equ 0x40      ; task gate -> TSS_B_SEL
SHORT_TSS equ 0x48      ; a 32-bit TSS with limit 0x60
R         equ 0x0740    ; results written by task B

start:
        PM_ENTER

        bits 32
pm_main:
        ; TSS B: runs task_b with its own stack.
        mov edi, TSS_B
        xor eax, eax
        mov ecx, 0x68 / 4
        rep stosd
        mov dword [TSS_B + 0x20], task_b           ; EIP
        mov dword [TSS_B + 0x24], 0x0002           ; EFLAGS
        mov dword [TSS_B + 0x38], 0xA000           ; ESP
        mov word [TSS_B + 0x48], DATA              ; ES
        mov word [TSS_B + 0x4C], CODE32            ; CS
        mov word [TSS_B + 0x50], DATA              ; SS
        mov word [TSS_B + 0x54], DATA              ; DS
        mov word [TSS_B + 0x66], 0x68
        DESC TSS_B_SEL, TSS_B, 0x67, 0x89, 0x0
        GATE GDT + TGATE, TSS_B_SEL, 0, 0x85
        DESC SHORT_TSS, 0x16000, 0x60, 0x89, 0x0
        GATE IDT + 0x50 * 8, TSS_B_SEL, 0, 0x85      ; vector 0x50: task gate

        ; ---- CALL through the task gate, IRET back ----
        clts
        mov ebx, 0x1234ABCD
        mov esi, 0x5678
        call TGATE:0
        CHECK32 ebx, 0x1234ABCD, 2, "EBX restored in the calling task"
        CHECK32 esi, 0x5678, 2, "ESI restored"
        CHECK32 dword [R + 0x00], TSS_SEL, 2, "back link in the new TSS"
        mov eax, [R + 0x04]
        and eax, 0x4000
        CHECK32 eax, 0x4000, 2, "NT set in the called task"
        CHECK32 dword [R + 0x08], 0x00008B01, 2, "new TSS busy during the call"
        CHECK32 dword [R + 0x0C], 0x00008B01, 2, "old TSS still busy during the call"
        CHECK32 dword [R + 0x10], TSS_B_SEL, 2, "STR in the called task"
        CHECK32 dword [R + 0x14], 0xA000, 2, "ESP of the called task"
        CHECK32 dword [GDT + TSS_B_SEL + 4], 0x00008901, 2, "called TSS not busy after IRET"
        str ax
        CHECK32 eax, TSS_SEL, 2, "STR after IRET"
        pushfd
        pop eax
        and eax, 0x4000
        CHECK32 eax, 0, 2, "NT clear in the caller after IRET"
        mov eax, cr0
        and eax, 8
        CHECK32 eax, 8, 2, "CR0.TS set by the task switch"
        OK32 "CALL through a task gate, IRET with NT: back link, busy bits, NT, TS"

        ; ---- JMP to the TSS ----
        mov ebx, 0x600DF00D
        jmp TSS_B_SEL:0
        CHECK32 ebx, 0x600DF00D, 3, "EBX after JMP there and back"
        mov eax, [R + 0x20]
        and eax, 0x4000
        CHECK32 eax, 0, 3, "NT clear after JMP"
        CHECK32 dword [R + 0x24], 0x00008901, 3, "old TSS not busy after JMP"
        CHECK32 dword [GDT + TSS_B_SEL + 4], 0x00008901, 3, "TSS B not busy after JMP back"
        CHECK32 dword [GDT + TSS_SEL + 4], 0x00008B01, 3, "TSS A busy again"
        OK32 "JMP to a TSS and back: busy bits, no NT"

        ; ---- faults ----
        TRY .busy
        jmp TSS_SEL:0
        FAIL32 4, "JMP to the busy current TSS did not fault"
.busy:  EXPECT_EXC 13, TSS_SEL, 4
        TRY .short
        jmp SHORT_TSS:0
        FAIL32 4, "JMP to a short TSS did not fault"
.short: EXPECT_EXC 10, SHORT_TSS, 4
        OK32 "busy TSS: #GP(sel); short TSS: #TS(sel)"

        ; ---- INT through a task gate ----
        mov dword [R + 0x30], 0
        int 0x50
        mov eax, [R + 0x30]
        and eax, 0x4000
        CHECK32 eax, 0x4000, 5, "NT in a task entered through the IDT"
        CHECK32 dword [R + 0x34], TSS_SEL, 5, "back link of an interrupt task"
        OK32 "interrupt through a task gate"

        PASS32

task_b:
        ; phase 1: entered by CALL through the task gate
        movzx eax, word [TSS_B]
        mov [R + 0x00], eax
        pushfd
        pop dword [R + 0x04]
        mov eax, [GDT + TSS_B_SEL + 4]
        mov [R + 0x08], eax
        mov eax, [GDT + TSS_SEL + 4]
        mov [R + 0x0C], eax
        str ax
        movzx eax, ax
        mov [R + 0x10], eax
        mov [R + 0x14], esp
        xor ebx, ebx
        xor esi, esi
        iretd
        ; phase 2: entered by JMP
        pushfd
        pop dword [R + 0x20]
        mov eax, [GDT + TSS_SEL + 4]
        mov [R + 0x24], eax
        xor ebx, ebx
        jmp TSS_SEL:0
        ; phase 3: entered by INT 0x50 through the IDT's task gate
        pushfd
        pop dword [R + 0x30]
        movzx eax, word [TSS_B]
        mov [R + 0x34], eax
        iretd
        jmp $

        bits 16
        PM_SUPPORT
        ROM_END
