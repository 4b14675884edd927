; A Multiboot (v1) test kernel for vx86's -kernel loader (tests/unit/linux_boot_test.cpp). It is
; loaded through the header's address fields (flag 16, the "a.out kludge"); the test also wraps it
; in an ELF32 file with flag 16 cleared to exercise the ELF path. It checks the boot state and the
; Multiboot information structure against what the test passes:
;   RAM 32 MiB; kernel name "multiboot_kernel", -append "opt=42";
;   module 0 "mod0.bin arg1 arg2": 5000 bytes, starting "MODULE0-" and ending "=END";
;   module 1 "mod1.bin": starting "MODULE1-".
; and that the loader put none of its own structures (information, memory map, strings, module
; list, GDT, initial stack) inside the kernel's image or bss. It loads at LOAD_ADDR: 1 MiB, or
; 0x8000 as real-mode-era test kernels do (nasm -DLOAD_ADDR=0x8000), where the loader's usual area
; is taken. It reports each check on the debug console (0xe9), the verdict on isa-debug-exit (0xf4).

        bits 32
%ifndef LOAD_ADDR
%define LOAD_ADDR 0x100000
%endif
        org LOAD_ADDR
        cpu 686

%include "boot32.inc"

MB_MAGIC equ 0x1BADB002
MB_FLAGS equ 0x00010003                 ; page-aligned modules, memory info, address fields

image_start:
        align 4
mb_header:
        dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
        dd mb_header                    ; header_addr
        dd image_start                  ; load_addr
        dd image_end                    ; load_end_addr
        dd bss_end                      ; bss_end_addr
        dd entry                        ; entry_addr

entry:  mov [boot_esp], esp
        mov esp, stack_top
        mov ebp, ebx                    ; multiboot_info
        cmp eax, 0x2BADB002
        CHECK e, 1, "EAX = 0x2badb002"
        mov ax, cs
        cmp ax, 0x10
        CHECK e, 1, "flat code segment"
        mov eax, cr0
        and eax, 0x80000001
        cmp eax, 1
        CHECK e, 1, "protected mode, paging off"
        cmp dword [bss_probe], 0
        CHECK e, 1, "bss zeroed"
        mov eax, [ebp]                  ; flags: mem, cmdline, mods, mmap, boot_loader_name
        and eax, 0x24d
        cmp eax, 0x24d
        CHECK e, 2, "info flags"
        mov eax, ebp
        mov ecx, 88
        call outside
        CHECK e, 9, "info structure outside the image"
        mov eax, [ebp + 48]
        mov ecx, [ebp + 44]
        call outside
        CHECK e, 9, "memory map outside the image"
        mov eax, [ebp + 16]
        mov ecx, cmdline_end - cmdline
        call outside
        CHECK e, 9, "command line outside the image"
        mov eax, [ebp + 24]
        mov ecx, 2 * 16
        call outside
        CHECK e, 9, "module list outside the image"
        mov eax, [boot_esp]
        sub eax, 256
        mov ecx, 256
        call outside
        CHECK e, 9, "initial stack outside the image"
        sgdt [gdtr_image]
        mov eax, [gdtr_image + 2]
        movzx ecx, word [gdtr_image]
        inc ecx
        call outside
        CHECK e, 9, "GDT outside the image"
        cmp dword [ebp + 4], 640
        CHECK e, 3, "mem_lower"
        cmp dword [ebp + 8], 31 * 1024
        CHECK e, 3, "mem_upper"

        ; Memory map: an entry of usable RAM from 1 MiB to the end of the 32 MiB.
        mov esi, [ebp + 48]             ; mmap_addr
        mov ecx, [ebp + 44]             ; mmap_length
        lea edx, [esi + ecx]
        xor edi, edi
.mmap:  cmp esi, edx
        jae .mmap_done
        cmp dword [esi + 4], 0x100000
        jne .next
        cmp dword [esi + 8], 0
        jne .next
        cmp dword [esi + 12], 31 * 1024 * 1024
        jne .next
        cmp dword [esi + 20], 1
        jne .next
        inc edi
.next:  mov eax, [esi]
        lea esi, [esi + eax + 4]
        jmp .mmap
.mmap_done:
        cmp edi, 1
        CHECK e, 4, "memory map"

        mov esi, [ebp + 16]
        mov edi, cmdline
        call strcmp32
        CHECK e, 5, "command line"

        cmp dword [ebp + 20], 2
        CHECK e, 6, "two modules"
        mov ebx, [ebp + 24]             ; mods_addr
        mov esi, [ebx]                  ; module 0
        test esi, 0xfff
        CHECK z, 7, "module 0 page-aligned"
        cmp esi, image_end
        CHECK ae, 7, "module 0 above the kernel"
        cmp dword [esi], 'MODU'
        CHECK e, 7, "module 0 start"
        mov eax, [ebx + 4]
        sub eax, esi
        cmp eax, 5000
        CHECK e, 7, "module 0 size"
        mov eax, [ebx + 4]
        cmp dword [eax - 4], '=END'
        CHECK e, 7, "module 0 end"
        mov esi, [ebx + 8]
        mov edi, mod0_string
        call strcmp32
        CHECK e, 7, "module 0 string"
        mov esi, [ebx + 16]             ; module 1
        cmp esi, [ebx + 4]
        CHECK ae, 7, "module 1 after module 0"
        cmp dword [esi + 4], 'LE1-'
        CHECK e, 7, "module 1 contents"
        mov esi, [ebx + 24]
        mov edi, mod1_string
        call strcmp32
        CHECK e, 7, "module 1 string"

        mov esi, [ebp + 64]
        cmp dword [esi], 'vx86'
        CHECK e, 8, "boot loader name"
        PASS "multiboot_kernel"

        BOOT32_LIB

; ZF=1 if [EAX, EAX+ECX) lies outside the image and its bss. Clobbers EDX.
outside:
        lea edx, [eax + ecx]
        cmp edx, image_start
        jbe .yes
        cmp eax, bss_end
        jae .yes
        xor edx, edx
        inc edx                         ; ZF = 0
        ret
.yes:   xor edx, edx                    ; ZF = 1
        ret

cmdline:     db "multiboot_kernel opt=42", 0
cmdline_end:
mod0_string: db "mod0.bin arg1 arg2", 0
mod1_string: db "mod1.bin", 0
image_end:

        absolute image_end
        alignb 4
bss_probe:  resd 1
boot_esp:   resd 1
gdtr_image: resb 6
            resb 4096
stack_top:
bss_end:
