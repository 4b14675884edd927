; The protected-mode part of a synthetic bzImage (tests/unit/linux_boot_test.cpp wraps it in a
; setup header): entered at code32_start = 1 MiB through the 32-bit boot protocol, it checks the
; CPU state and the boot_params (zero page) the loader built, and reports through the debug ports.
; The test passes the command line "console=ttyS0 vx86-test" and an initrd that starts with
; "INITRD<<" and ends with ">>END".

        bits 32
        org 0x100000
        cpu 686

%include "boot32.inc"

start:  mov ebp, esi                   ; boot_params
        mov ax, cs
        cmp ax, 0x10
        CHECK e, 1, "CS = __BOOT_CS"
        mov ax, ds
        cmp ax, 0x18
        CHECK e, 1, "DS = __BOOT_DS"
        mov ax, ss
        cmp ax, 0x18
        CHECK e, 1, "SS = __BOOT_DS"
        pushfd
        pop eax
        test eax, 0x200
        CHECK z, 2, "interrupts off"
        mov eax, cr0
        and eax, 0x80000001
        cmp eax, 1
        CHECK e, 3, "protected mode, paging off"
        test ebx, ebx
        CHECK z, 3, "EBX zero"
        cmp byte [ebp + 0x210], 0xff
        CHECK e, 4, "type_of_loader 0xff"
        cmp byte [ebp + 0x1e8], 3
        CHECK e, 5, "e820: 3 entries"
        cmp dword [ebp + 0x2d0 + 40], 0x100000    ; entry 2: base (low)
        CHECK e, 5, "e820: RAM from 1 MiB"
        cmp dword [ebp + 0x2d0 + 40 + 16], 1      ; entry 2: type
        CHECK e, 5, "e820: type RAM"
        mov esi, [ebp + 0x228]                    ; cmd_line_ptr
        mov edi, cmdline
        call strcmp32
        CHECK e, 6, "command line"
        mov edi, [ebp + 0x218]                    ; ramdisk_image
        test edi, 0xfff
        CHECK z, 7, "initrd page-aligned"
        cmp dword [edi], 'INIT'
        CHECK e, 7, "initrd start"
        mov ecx, [ebp + 0x21c]                    ; ramdisk_size
        cmp dword [edi + ecx - 4], '>END'
        CHECK e, 7, "initrd end"
        cmp dword [ebp + 0x202], 'HdrS'
        CHECK e, 8, "setup header copied"
        PASS "linux_boot_payload"

BOOT32_LIB

cmdline: db "console=ttyS0 vx86-test", 0
