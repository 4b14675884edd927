; pm_spaces: two address spaces switched by MOV CR3 while both are being modified. Both map the
; first 4 MiB one to one through a shared table (so every table is also data) and 4-8 MiB through
; their own table (PT_A, PT_B). Each of 64 rounds loads the other CR3, reads 16 pages there and
; compares them with a model kept in RAM, then rewrites one entry of each space's table (the one not
; current too). Frame n at FRAMES + n * 4 KiB holds n in every dword. Under -mmu shadow the switch
; back must see every entry written while the space was not current.
%define TEST_NAME "pm_spaces"
%include "rom_common.inc"
%include "tests/pm_common.inc"

PD_A    equ 0x20000
PD_B    equ 0x21000
PT_LOW  equ 0x22000
PT_A    equ 0x23000
PT_B    equ 0x24000
MODEL   equ 0x25000             ; dword model[2][16]: the frame each page of each space maps
FRAMES  equ 0x200000
LIN     equ 0x400000

start:
        PM_ENTER

        bits 32
pm_main:
        mov edi, PT_LOW
        mov eax, 7
.low:   mov [edi], eax
        add eax, 0x1000
        add edi, 4
        cmp edi, PT_LOW + 0x1000
        jb .low
        mov edi, PD_A
        xor eax, eax
        mov ecx, 2048                   ; PD_A and PD_B
        rep stosd
        mov dword [PD_A], PT_LOW | 7
        mov dword [PD_B], PT_LOW | 7
        mov dword [PD_A + 4], PT_A | 7
        mov dword [PD_B + 4], PT_B | 7
        xor ebx, ebx                    ; frames 0..63
.frame: mov edi, ebx
        shl edi, 12
        add edi, FRAMES
        mov eax, ebx
        mov ecx, 1024
        rep stosd
        inc ebx
        cmp ebx, 64
        jb .frame
        xor ebx, ebx                    ; space A: frames 0..15, space B: 16..31
.map:   mov [MODEL + ebx * 4], ebx
        lea eax, [ebx + 16]
        mov [MODEL + 64 + ebx * 4], eax
        mov eax, ebx
        call entry
        mov [PT_A + ebx * 4], eax
        lea eax, [ebx + 16]
        call entry
        mov [PT_B + ebx * 4], eax
        inc ebx
        cmp ebx, 16
        jb .map

        mov eax, PD_A
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .on
.on:    xor esi, esi                    ; round
.round: mov ebp, esi
        and ebp, 1                      ; the space this round reads
        mov eax, PD_A
        test ebp, ebp
        jz .cr3
        mov eax, PD_B
.cr3:   mov cr3, eax
        shl ebp, 6                      ; its model row
        xor ebx, ebx
.page:  mov edi, ebx
        shl edi, 12
        mov eax, [LIN + edi + ebx * 4]
        CHECK32 eax, [MODEL + ebp + ebx * 4], 2, "a page after the switch"
        inc ebx
        cmp ebx, 16
        jb .page
        ; Space A's entry (round * 5) & 15 moves 3 frames on, space B's (round * 7 + 3) & 15 moves 5.
        lea ebx, [esi * 4 + esi]
        and ebx, 15
        mov eax, [MODEL + ebx * 4]
        add eax, 3
        and eax, 63
        mov [MODEL + ebx * 4], eax
        call entry
        mov [PT_A + ebx * 4], eax
        lea ebx, [esi * 8 + 3]
        sub ebx, esi
        and ebx, 15
        mov eax, [MODEL + 64 + ebx * 4]
        add eax, 5
        and eax, 63
        mov [MODEL + 64 + ebx * 4], eax
        call entry
        mov [PT_B + ebx * 4], eax
        inc esi
        cmp esi, 64
        jb .round
        OK32 "two address spaces switched while both were modified"
        PASS32

; eax = frame number -> eax = its present, writable user PTE
entry:  shl eax, 12
        add eax, FRAMES | 7
        ret

        bits 16
        PM_SUPPORT
        ROM_END
