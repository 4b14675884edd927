; smp_locks: every CPU of the machine (the count from fw_cfg, -smp N) hammers shared memory with
; the locked instructions at once, then the BSP checks that no update was lost. Run with CPUs on
; host threads (-smp N,threads=on) the CPUs really race: each instruction must be one atomic
; read-modify-write (SDM Vol. 3, 9.1.2.2 "Software Controlled Bus Locking"), and a lock released by
; a plain MOV must never be overwritten by a concurrent XCHG. Per CPU and round:
; - LOCK ADD, LOCK INC, LOCK XADD on dwords, LOCK ADD on a word, LOCK SUB on a byte;
; - a LOCK CMPXCHG loop and a LOCK CMPXCHG8B loop (a 64-bit counter that carries into its high
;   dword);
; - an XCHG spinlock (released by MOV) and a LOCK BTS / LOCK BTR bit lock, each around a plain
;   INC of its own counter.
%define TEST_NAME "smp_locks"
%include "rom_common.inc"
%include "tests/pm_common.inc"

APIC       equ 0xFEE00000
AP_VECTOR  equ 0x40                    ; STARTUP vector: the APs start at 40000h
TRAMPOLINE equ AP_VECTOR << 12
AP_STACKS  equ 0x30000                 ; each AP's stack: AP_STACKS + APIC ID * 400h
ROUNDS     equ 50000

NCPU       equ 0x0700
AP_UP      equ 0x0704
GO         equ 0x0708
DONE       equ 0x070C
C_ADD      equ 0x0740                  ; the counters, one per 64-byte line...
C_INC      equ 0x0780
C_XADD     equ 0x07C0
C_CAS      equ 0x0800
C64        equ 0x0840                  ; (8-byte aligned)
C16        equ 0x0880
C8         equ 0x08C0
SPIN       equ 0x0900
PLAIN      equ 0x0904                  ; ...but the locks share a line with what they guard
BITLOCK    equ 0x0940
PLAIN2     equ 0x0944
C64_START  equ 0xFFFF0000              ; low dword: it carries into the high one

start:
        PM_ENTER

        bits 32
pm_main:
        mov dword [APIC + 0xF0], 0x1FF         ; software-enable the BSP's APIC
        ; The CPU count: fw_cfg item 05h (FW_CFG_NB_CPUS), 16 bits little-endian.
        mov dx, 0x510
        mov ax, 0x05
        out dx, ax
        mov dx, 0x511
        xor eax, eax
        in al, dx
        mov bl, al
        in al, dx
        mov ah, al
        mov al, bl
        mov [NCPU], eax
        cmp eax, 2
        jae .cpus_ok
        FAIL32 2, "needs at least 2 CPUs (-smp N)"
.cpus_ok:
        mov dword [C64], C64_START
        mov dword [C8], 0

        ; INIT and STARTUP to all the others ("all excluding self").
        mov esi, ap_entry16
        add esi, 0xF0000
        mov edi, TRAMPOLINE
        mov ecx, ap_entry16_end - ap_entry16
        rep movsb
        mov dword [APIC + 0x310], 0
        mov dword [APIC + 0x300], 0x000C4500
        mov dword [APIC + 0x300], 0x000C4600 | AP_VECTOR
        mov ebx, [NCPU]
        dec ebx
        mov ecx, 50000000
.wait_up:
        cmp [AP_UP], ebx
        je .all_up
        pause
        loop .wait_up
        FAIL32 3, "timed out waiting for the APs to start"
.all_up:
        OK32 "every CPU up"
        mov dword [GO], 1
        call hammer

        mov ebx, [NCPU]
        mov ecx, 200000000
.wait_done:
        cmp [DONE], ebx
        je .all_done
        pause
        loop .wait_done
        FAIL32 4, "timed out waiting for the CPUs to finish"
.all_done:
        mov ebx, [NCPU]
        imul ebx, ebx, ROUNDS                  ; what each counter must hold
        CHECK32 dword [C_ADD], ebx, 5, "LOCK ADD dword"
        CHECK32 dword [C_INC], ebx, 5, "LOCK INC dword"
        CHECK32 dword [C_XADD], ebx, 5, "LOCK XADD dword"
        CHECK32 dword [C_CAS], ebx, 6, "LOCK CMPXCHG loop"
        mov edx, ebx
        add edx, C64_START
        CHECK32 dword [C64], edx, 6, "LOCK CMPXCHG8B loop, low dword"
        CHECK32 dword [C64 + 4], 1, 6, "LOCK CMPXCHG8B loop, high dword"
        movzx eax, word [C16]
        mov edx, ebx
        and edx, 0xFFFF
        CHECK32 eax, edx, 7, "LOCK ADD word"
        movzx eax, byte [C8]
        mov edx, ebx
        neg edx
        and edx, 0xFF
        CHECK32 eax, edx, 7, "LOCK SUB byte"
        CHECK32 dword [PLAIN], ebx, 8, "INC under an XCHG spinlock"
        CHECK32 dword [PLAIN2], ebx, 8, "INC under a LOCK BTS bit lock"
        OK32 "no update lost"
        PASS32

; Each CPU's share: ROUNDS rounds of every locked operation.
hammer:
        mov esi, ROUNDS
.round:
        lock add dword [C_ADD], 1
        lock inc dword [C_INC]
        mov eax, 1
        lock xadd [C_XADD], eax
        lock add word [C16], 1
        lock sub byte [C8], 1
        mov eax, [C_CAS]
.cas:   lea edx, [eax + 1]
        lock cmpxchg [C_CAS], edx
        jnz .cas
        mov eax, [C64]
        mov edx, [C64 + 4]
.cas8:  mov ebx, eax
        mov ecx, edx
        add ebx, 1
        adc ecx, 0
        lock cmpxchg8b [C64]
        jnz .cas8
.acquire:
        mov eax, 1
        xchg [SPIN], eax
        test eax, eax
        jz .held
.spin:  pause
        cmp dword [SPIN], 0
        jne .spin
        jmp .acquire
.held:  inc dword [PLAIN]
        mov dword [SPIN], 0
.bit:   lock bts dword [BITLOCK], 0
        jnc .bit_held
        pause
        jmp .bit
.bit_held:
        inc dword [PLAIN2]
        lock btr dword [BITLOCK], 0
        dec esi
        jnz .round
        lock inc dword [DONE]
        ret

; ---- the APs ----
ap_main:
        mov ax, DATA
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov eax, [APIC + 0x20]
        shr eax, 24
        shl eax, 10
        add eax, AP_STACKS + 0x400
        mov esp, eax
        lock inc dword [AP_UP]
.go:    cmp dword [GO], 1
        je .start
        pause
        jmp .go
.start: call hammer
        cli
.idle:  hlt
        jmp .idle

        bits 16
; Copied to 40000h: runs at 4000:0000 after STARTUP, on every AP at once, on to ap_main.
ap_entry16:
        cli
        AP_ENTER_PM ap_main
ap_entry16_end:

        bits 32
        PRINT_DEC_LIB

        bits 16
        PM_SUPPORT
        ROM_END
