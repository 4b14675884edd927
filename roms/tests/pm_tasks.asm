; pm_tasks: hardware task switches. CALL through a task gate (back link, NT, busy bits, CR0.TS,
; registers saved and restored), IRET with NT back to the caller (busy cleared), JMP to a TSS
; (no NT, the old task's busy bit cleared), JMP to a busy TSS (#GP(sel)), a TSS that is too short
; (#TS(sel)), an interrupt through a task gate in the IDT, and a CALL to a 16-bit (286) TSS: the
; general registers' upper halves read FFFFh in that task (as on 386-class processors), FLAGS is
; zero-extended, and IRET saves the 16-bit state into it; a TSS with its T bit set raises #DB
; (DR6.BT) before its task's first instruction.
%define TEST_NAME "pm_tasks"
%include "rom_common.inc"
%include "tests/pm_common.inc"

TSS_B     equ 0x14000
TSS_B_SEL equ 0x38
TGATE     equ 0x40      ; task gate -> TSS_B_SEL
SHORT_TSS equ 0x48      ; a 32-bit TSS with limit 0x60
R         equ 0x0740    ; results written by task B
TSS_C     equ 0x15000   ; a 16-bit TSS (0x2C bytes)
TSS_C_SEL equ 0x50
DATA16    equ 0x58      ; data, base 0, limit FFFF, B = 0: task C's 16-bit stack

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

        ; ---- JMP to the TSS (its T bit set) ----
        IDT_GATE 1, h_db, 0x8E
        mov dword [R + 0x70], 0
        mov word [TSS_B + 0x64], 1               ; T
        mov ebx, 0x600DF00D
        jmp TSS_B_SEL:0
        CHECK32 ebx, 0x600DF00D, 3, "EBX after JMP there and back"
        mov eax, [R + 0x20]
        and eax, 0x4000
        CHECK32 eax, 0, 3, "NT clear after JMP"
        CHECK32 dword [R + 0x24], 0x00008901, 3, "old TSS not busy after JMP"
        CHECK32 dword [GDT + TSS_B_SEL + 4], 0x00008901, 3, "TSS B not busy after JMP back"
        CHECK32 dword [GDT + TSS_SEL + 4], 0x00008B01, 3, "TSS A busy again"
        CHECK32 dword [R + 0x70], 1, 3, "one #DB for the T bit"
        CHECK32 dword [R + 0x74], task_b.phase2, 3, "#DB EIP: the new task's first instruction"
        mov eax, [R + 0x78]
        and eax, 0xE00F
        CHECK32 eax, 0x8000, 3, "DR6.BT"
        mov word [TSS_B + 0x64], 0
        OK32 "JMP to a TSS and back: busy bits, no NT, T bit #DB"

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

        ; ---- CALL to a 16-bit TSS, IRET back ----
        mov edi, TSS_C
        xor eax, eax
        mov ecx, 0x2C / 2
        rep stosw
        mov word [TSS_C + 0x0E], task_c            ; IP
        mov word [TSS_C + 0x10], 0x0002            ; FLAGS
        mov dword [TSS_C + 0x12], 0x22221111       ; AX, CX
        mov dword [TSS_C + 0x16], 0x44443333       ; DX, BX
        mov dword [TSS_C + 0x1A], 0x5555B000       ; SP, BP
        mov dword [TSS_C + 0x1E], 0x77776666       ; SI, DI
        mov dword [TSS_C + 0x22], (CODE32 << 16) | DATA  ; ES, CS
        mov dword [TSS_C + 0x26], (DATA << 16) | DATA16  ; SS (16-bit), DS
        DESC TSS_C_SEL, TSS_C, 0x2B, 0x81, 0x0
        DESC DATA16, 0, 0xFFFF, 0x92, 0x0
        mov eax, 0x12340000
        mov ecx, eax
        mov edx, eax
        mov ebx, 0xCAFE0000
        mov ebp, eax
        mov esi, eax
        mov edi, eax
        call TSS_C_SEL:0
        CHECK32 ebx, 0xCAFE0000, 6, "EBX restored after the 16-bit task"
        CHECK32 dword [R + 0x40], 0xFFFF1111, 6, "EAX in the 16-bit task"
        CHECK32 dword [R + 0x44], 0xFFFF2222, 6, "ECX in the 16-bit task"
        CHECK32 dword [R + 0x48], 0xFFFF3333, 6, "EDX in the 16-bit task"
        CHECK32 dword [R + 0x4C], 0xFFFF4444, 6, "EBX in the 16-bit task"
        CHECK32 dword [R + 0x50], 0xFFFFB000, 6, "ESP in the 16-bit task"
        CHECK32 dword [R + 0x54], 0xFFFF5555, 6, "EBP in the 16-bit task"
        CHECK32 dword [R + 0x58], 0xFFFF6666, 6, "ESI in the 16-bit task"
        CHECK32 dword [R + 0x5C], 0xFFFF7777, 6, "EDI in the 16-bit task"
        CHECK32 dword [R + 0x60], 0x00004002, 6, "EFLAGS in the 16-bit task: FLAGS and NT"
        CHECK32 dword [R + 0x64], 0x00008301, 6, "16-bit TSS busy during the call"
        movzx eax, word [TSS_C]
        CHECK32 eax, TSS_SEL, 6, "back link in the 16-bit TSS"
        CHECK32 dword [GDT + TSS_C_SEL + 4], 0x00008101, 6, "16-bit TSS not busy after IRET"
        movzx eax, word [TSS_C + 0x12]
        CHECK32 eax, 0x9999, 6, "AX saved into the 16-bit TSS"
        movzx eax, word [TSS_C + 0x1A]
        CHECK32 eax, 0xC000, 6, "SP saved into the 16-bit TSS"
        movzx eax, word [TSS_C + 0x0E]
        CHECK32 eax, task_c.after, 6, "IP saved into the 16-bit TSS"
        movzx eax, word [TSS_C + 0x10]
        CHECK32 eax, 0x0002, 6, "FLAGS saved without NT"
        OK32 "CALL to a 16-bit TSS, IRET back: FFFFh upper halves, 16-bit state saved"

        ; ---- JMP to the 16-bit TSS: it loads what the IRET saved, no NT; it JMPs back ----
        mov word [TSS_C + 0x0E], task_c2
        mov eax, 0x12340000
        jmp TSS_C_SEL:0
        CHECK32 dword [R + 0x80], 0xFFFF9999, 7, "EAX in the 16-bit task after JMP (AX as saved)"
        CHECK32 dword [R + 0x84], 0xFFFFC000, 7, "ESP in the 16-bit task after JMP (SP as saved)"
        mov eax, [R + 0x88]
        and eax, 0x4000
        CHECK32 eax, 0, 7, "no NT after JMP"
        CHECK32 dword [GDT + TSS_C_SEL + 4], 0x00008101, 7, "16-bit TSS not busy after it JMPed back"
        OK32 "JMP to a 16-bit TSS and back"

        ; ---- #GP through a task gate into the 16-bit TSS: the error code is a word ----
        GATE IDT + 13 * 8, TSS_C_SEL, 0, 0x85
        mov word [TSS_C + 0x0E], task_c3
        mov word [TSS_C + 0x1A], 0xC000           ; SP
        mov ax, 0x7FF8                            ; beyond the GDT's limit: #GP(0x7FF8)
.gp:    mov ds, ax
.after_gp:
        CHECK32 dword [R + 0x90], 0x7FF8, 8, "error code: a word at SS:BFFE in the 16-bit task"
        CHECK32 dword [R + 0x94], 0xFFFFBFFE, 8, "SP after the error code push"
        CHECK32 dword [R + 0x98], .gp, 8, "EIP saved in the faulting task: the MOV"
        mov eax, [R + 0x9C]
        and eax, 0x4000
        CHECK32 eax, 0x4000, 8, "NT in the exception's task"
        OK32 "#GP through a task gate into a 16-bit TSS: word error code, NT, back link"

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
.phase2: ; phase 2: entered by JMP
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

task_c2: ; entered by JMP (no stack until ESP is set)
        mov [R + 0x80], eax
        mov [R + 0x84], esp
        mov esp, 0xC000
        pushfd
        pop dword [R + 0x88]
        jmp TSS_SEL:0
        jmp $

task_c3: ; entered through the #GP task gate: the error code on the 16-bit stack
        movzx eax, word [0xBFFE]
        mov [R + 0x90], eax
        mov [R + 0x94], esp
        mov eax, [TSS + 0x20]                     ; the faulting task's saved EIP
        mov [R + 0x98], eax
        mov dword [TSS + 0x20], pm_main.after_gp  ; resume it after the faulting MOV
        pushfd
        pop dword [R + 0x9C]
        iretd
        jmp $

h_db:    ; #DB (the T bit): counts, records EIP and DR6
        inc dword [R + 0x70]
        push eax
        mov eax, [esp + 4]
        mov [R + 0x74], eax
        mov eax, dr6
        mov [R + 0x78], eax
        pop eax
        iretd

task_c:  ; a 16-bit TSS's task (32-bit code): no stack until ESP is set
        mov [R + 0x40], eax
        mov [R + 0x44], ecx
        mov [R + 0x48], edx
        mov [R + 0x4C], ebx
        mov [R + 0x50], esp
        mov [R + 0x54], ebp
        mov [R + 0x58], esi
        mov [R + 0x5C], edi
        mov esp, 0xC000
        pushfd
        pop dword [R + 0x60]
        mov eax, [GDT + TSS_C_SEL + 4]
        mov [R + 0x64], eax
        mov eax, 0xABCD9999
        iretd
.after: jmp $

        bits 16
        PM_SUPPORT
        ROM_END
