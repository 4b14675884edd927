; p6: the P6 additions from real mode: CPUID (vendor, signature and every feature bit exactly as
; docs/cpuid.md lists them), CMPXCHG8B (equal and not equal), CMPXCHG, XADD, CMOVcc, BSWAP,
; RDTSC moving forward, RDMSR/WRMSR round trips of the SYSENTER MSRs (CPL 0 in real mode), and
; UD2 raising #UD through the IVT with the UD2's own address pushed.
%define TEST_NAME "p6"
%include "rom_common.inc"
        cpu P6

CX8_OP   equ 0x0500   ; 8 bytes: CMPXCHG8B operand
TSC0     equ 0x0508   ; 8 bytes: first RDTSC
UD_IP    equ 0x0510   ; word: IP pushed by #UD
UD_HIT   equ 0x0512   ; byte: #UD handler ran
SCRATCH  equ 0x0514   ; dword

start:
        SETUP
        mov word [6 * 4], ud_handler
        mov word [6 * 4 + 2], 0xF000

        ; ---- CPUID ----
        xor eax, eax
        cpuid
        CHECKD eax, 1, 1, "CPUID.0 max leaf"
        CHECKD ebx, 0x756E6547, 1, "CPUID.0 EBX (Genu)"
        CHECKD edx, 0x49656E69, 1, "CPUID.0 EDX (ineI)"
        CHECKD ecx, 0x6C65746E, 1, "CPUID.0 ECX (ntel)"
        mov eax, 1
        cpuid
        CHECKD eax, 0x633, 2, "CPUID.1 signature"
        PRINT {"CPUID vendor GenuineIntel, family 6 model 3 stepping 3: ok", 10}
        ; FPU PSE TSC MSR PAE CX8 SEP PGE CMOV
        CHECKD edx, 0x0000A979, 3, "CPUID.1 EDX features"
        CHECKD ecx, 0, 3, "CPUID.1 ECX features"
        CHECKD ebx, 0, 3, "CPUID.1 EBX"
        mov eax, 0x80000000
        cpuid
        CHECKD eax, 0x80000001, 4, "CPUID.80000000 max extended leaf"
        mov eax, 0x80000001
        cpuid
        CHECKD edx, 0x00100000, 4, "CPUID.80000001 EDX (NX)"
        CHECKD ecx, 0, 4, "CPUID.80000001 ECX"
        PRINT {"CPUID features: FPU PSE TSC MSR PAE CX8 SEP PGE CMOV, NX: ok", 10}

        ; ---- CMPXCHG8B ----
        mov dword [CX8_OP], 0x89ABCDEF
        mov dword [CX8_OP + 4], 0x01234567
        mov eax, 0x89ABCDEF
        mov edx, 0x01234567
        mov ebx, 0x11111111
        mov ecx, 0x22222222
        cmpxchg8b [CX8_OP]
        jnz .cx8_fail1
        CHECKD dword [CX8_OP], 0x11111111, 5, "CMPXCHG8B equal: low dword"
        CHECKD dword [CX8_OP + 4], 0x22222222, 5, "CMPXCHG8B equal: high dword"
        xor eax, eax
        xor edx, edx
        cmpxchg8b [CX8_OP]
        jz .cx8_fail2
        CHECKD eax, 0x11111111, 6, "CMPXCHG8B not equal: EAX"
        CHECKD edx, 0x22222222, 6, "CMPXCHG8B not equal: EDX"
        CHECKD dword [CX8_OP], 0x11111111, 6, "CMPXCHG8B not equal: memory unchanged"
        PRINT {"CMPXCHG8B: ok", 10}
        jmp .cx8_done
.cx8_fail1:
        FAIL 5, "CMPXCHG8B equal: ZF clear"
.cx8_fail2:
        FAIL 6, "CMPXCHG8B not equal: ZF set"
.cx8_done:

        ; ---- CMPXCHG, XADD, CMOVcc, BSWAP ----
        mov dword [SCRATCH], 40
        mov eax, 40
        mov ecx, 7
        cmpxchg [SCRATCH], ecx
        CHECKD dword [SCRATCH], 7, 7, "CMPXCHG equal stores the source"
        mov eax, 1
        cmpxchg [SCRATCH], ecx
        CHECKD eax, 7, 7, "CMPXCHG not equal loads EAX"
        mov ecx, 5
        xadd [SCRATCH], ecx
        CHECKD ecx, 7, 7, "XADD old value"
        CHECKD dword [SCRATCH], 12, 7, "XADD sum"
        mov eax, 1
        mov ebx, 2
        cmp eax, ebx
        cmovb eax, ebx                   ; taken
        cmova eax, [SCRATCH]             ; not taken
        CHECKD eax, 2, 8, "CMOVcc"
        mov edx, 0x11223344
        bswap edx
        CHECKD edx, 0x44332211, 8, "BSWAP"
        PRINT {"CMPXCHG, XADD, CMOVcc, BSWAP: ok", 10}

        ; ---- RDTSC moves forward ----
        rdtsc
        mov [TSC0], eax
        mov [TSC0 + 4], edx
        mov cx, 100
.spin:  loop .spin
        rdtsc
        cmp edx, [TSC0 + 4]
        ja .tsc_ok
        jb .tsc_back
        cmp eax, [TSC0]
        ja .tsc_ok
.tsc_back:
        FAIL 9, "RDTSC did not move forward"
.tsc_ok:
        sub eax, [TSC0]
        cmp eax, 100
        jae .tsc_ok2
        FAIL 9, "RDTSC moved less than the instructions in between"
.tsc_ok2:
        PRINT {"RDTSC: ok", 10}

        ; ---- RDMSR / WRMSR: SYSENTER_CS/ESP/EIP ----
        mov ecx, 0x174
        mov eax, 0x0010
        xor edx, edx
        wrmsr
        inc ecx
        mov eax, 0x00C0FFEE
        wrmsr
        inc ecx
        mov eax, 0xDEADBEEF
        wrmsr
        mov ecx, 0x174
        xor eax, eax
        mov edx, 0xFFFFFFFF
        rdmsr
        CHECKD eax, 0x0010, 10, "SYSENTER_CS"
        CHECKD edx, 0, 10, "SYSENTER_CS high dword"
        inc ecx
        rdmsr
        CHECKD eax, 0x00C0FFEE, 10, "SYSENTER_ESP"
        inc ecx
        rdmsr
        CHECKD eax, 0xDEADBEEF, 10, "SYSENTER_EIP"
        PRINT {"SYSENTER MSRs: ok", 10}

        ; ---- UD2: #UD through the IVT, pushing the UD2's address ----
        mov byte [UD_HIT], 0
.ud:    ud2
.after_ud:
        CHECKB byte [UD_HIT], 1, 11, "#UD handler ran"
        CHECKW word [UD_IP], .ud, 11, "IP pushed by #UD"
        PRINT {"UD2 #UD: ok", 10}

        PASS

; #UD handler: records the pushed IP, resumes after the 2-byte UD2.
ud_handler:
        push bp
        mov bp, sp
        push ax
        mov ax, [bp + 2]
        mov [UD_IP], ax
        add word [bp + 2], 2
        mov byte [UD_HIT], 1
        pop ax
        pop bp
        iret

        ROM_END
