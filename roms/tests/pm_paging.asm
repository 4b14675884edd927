; pm_paging: 32-bit paging switched on by MOV CR0. #PF error codes and CR2 (not present, write to
; read-only with and without CR0.WP, user access to a supervisor page), accessed and dirty bits in
; the PTE, stale translations until INVLPG or a CR3 reload, global pages (CR4.PGE) surviving a CR3
; reload, 4 MiB pages (CR4.PSE) with their A/D bits, and PAE paging with 2 MiB and 4 KiB pages.
%define TEST_NAME "pm_paging"
%include "rom_common.inc"
%include "tests/pm_common.inc"

PD      equ 0x20000
PT      equ 0x21000
PDPT    equ 0x22000
PAE_PD  equ 0x23000
PAE_PT  equ 0x24000
P_A     equ 0x20
P_D     equ 0x40

start:
        PM_ENTER

        bits 32
pm_main:
        ; Identity map of the first 4 MiB with 4 KiB user read/write pages.
        mov edi, PT
        mov eax, 7
.pt:    mov [edi], eax
        add eax, 0x1000
        add edi, 4
        cmp edi, PT + 0x1000
        jb .pt
        mov edi, PD
        xor eax, eax
        mov ecx, 1024
        rep stosd
        mov dword [PD], PT | 7
        ; Test pages (physical memory contents first).
        mov dword [0x300000], 0xA0A0A0A0
        mov dword [0x305000], 0x55555555
        mov dword [0x306000], 0x66666666
        mov dword [PT + 0x300 * 4], 0x300000 | 7        ; A and D clear
        mov dword [PT + 0x301 * 4], 0                   ; not present
        mov dword [PT + 0x302 * 4], 0x302000 | 5        ; read-only (user)
        mov dword [PT + 0x303 * 4], 0x303000 | 3        ; supervisor only
        mov dword [PT + 0x304 * 4], 0x305000 | 7        ; -> 0x305000

        mov eax, PD
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .pg_on                                       ; fetches now go through the tables
.pg_on: mov eax, cr0
        CHECK32 eax, 0xE0000011, 2, "CR0 with PG (ET stays 1)"
        OK32 "paging on"

        ; ---- accessed / dirty ----
        mov eax, [0x300000]
        CHECK32 eax, 0xA0A0A0A0, 3, "read through the page"
        mov eax, [PT + 0x300 * 4]
        and eax, P_A | P_D
        CHECK32 eax, P_A, 3, "PTE after a read: A set, D clear"
        mov dword [0x300004], 1
        mov eax, [PT + 0x300 * 4]
        and eax, P_A | P_D
        CHECK32 eax, P_A | P_D, 3, "PTE after a write: A and D set"
        test byte [PD], P_A
        jnz .pde_a
        FAIL32 3, "PDE accessed bit not set"
.pde_a: OK32 "accessed and dirty bits"

        ; ---- #PF: error codes and CR2 ----
        TRY .pf1
        mov eax, [0x301010]
        FAIL32 4, "read of a not-present page did not fault"
.pf1:   EXPECT_EXC 14, 0, 4
        mov eax, cr2
        CHECK32 eax, 0x301010, 4, "CR2 after a not-present read"
        TRY .pf2
        mov dword [0x301ffe], 0                   ; crosses into 0x302000 too
        FAIL32 4, "write to a not-present page did not fault"
.pf2:   EXPECT_EXC 14, 2, 4
        mov eax, cr2
        CHECK32 eax, 0x301ffe, 4, "CR2 after a not-present write"
        ; supervisor write to a read-only page: allowed with WP = 0, #PF(3) with WP = 1
        mov dword [0x302000], 0x12121212
        CHECK32 dword [0x302000], 0x12121212, 5, "supervisor write to read-only page with WP=0"
        mov eax, cr0
        or eax, 1 << 16
        mov cr0, eax
        TRY .pf3
        mov dword [0x302000], 0x34343434
        FAIL32 5, "supervisor write with WP=1 did not fault"
.pf3:   EXPECT_EXC 14, 3, 5
        CHECK32 dword [0x302000], 0x12121212, 5, "memory after the faulting write"
        mov eax, cr0
        and eax, ~(1 << 16)
        mov cr0, eax
        ; a page-crossing write whose second page faults writes nothing
        mov dword [0x300ffc], 0x77777777
        TRY .pf4
        mov dword [0x300ffe], 0x88888888          ; 0x301000 is not present
        FAIL32 5, "page-crossing write did not fault"
.pf4:   EXPECT_EXC 14, 2, 5
        mov eax, cr2
        CHECK32 eax, 0x301000, 5, "CR2 of a page-crossing write"
        CHECK32 dword [0x300ffc], 0x77777777, 5, "no byte of the faulting crossing write landed"
        ; user read of a supervisor page
        TRY .pf5
        TO_RING3 r3_read, 0x0002
.pf5:   EXPECT_EXC 14, 5, 6
        CHECK32 dword [V_CS], CODE32_R3 | 3, 6, "#PF from ring 3"
        mov eax, cr2
        CHECK32 eax, 0x303008, 6, "CR2 of the user read"
        TRY .pf6
        TO_RING3 r3_write, 0x0002
.pf6:   EXPECT_EXC 14, 7, 6
        OK32 "#PF error codes 0, 2, 3, 5, 7 and CR2"

        ; ---- TLB: INVLPG and CR3 reloads ----
        CHECK32 dword [0x304000], 0x55555555, 7, "0x304000 -> 0x305000"
        mov dword [PT + 0x304 * 4], 0x306000 | 7
        CHECK32 dword [0x304000], 0x55555555, 7, "stale translation before INVLPG"
        invlpg [0x304000]
        CHECK32 dword [0x304000], 0x66666666, 7, "new translation after INVLPG"
        mov dword [PT + 0x304 * 4], 0x305000 | 7
        CHECK32 dword [0x304000], 0x66666666, 7, "stale translation before the CR3 reload"
        mov eax, cr3
        mov cr3, eax
        CHECK32 dword [0x304000], 0x55555555, 7, "new translation after the CR3 reload"
        ; global page: survives a CR3 reload with CR4.PGE
        mov eax, cr4
        or eax, 1 << 7
        mov cr4, eax
        mov dword [PT + 0x304 * 4], 0x306000 | 7 | 0x100
        invlpg [0x304000]
        CHECK32 dword [0x304000], 0x66666666, 8, "global mapping"
        mov dword [PT + 0x304 * 4], 0x305000 | 7 | 0x100
        mov eax, cr3
        mov cr3, eax
        CHECK32 dword [0x304000], 0x66666666, 8, "global entry kept over a CR3 reload"
        invlpg [0x304000]
        CHECK32 dword [0x304000], 0x55555555, 8, "global entry dropped by INVLPG"
        mov eax, cr4
        and eax, ~(1 << 7)
        mov cr4, eax
        OK32 "INVLPG, CR3 reload, global pages"

        ; ---- 4 MiB pages ----
        mov eax, cr4
        or eax, 1 << 4
        mov cr4, eax
        mov dword [PD + 1 * 4], 0x800000 | 0x87   ; 0x400000 -> 0x800000, 4 MiB, user rw
        mov dword [PD + 2 * 4], 0x800000 | 0x83   ; 0x800000 -> 0x800000
        mov dword [0x400010], 0xBEEF4444
        CHECK32 dword [0x800010], 0xBEEF4444, 9, "4 MiB page: same physical memory"
        mov eax, [PD + 1 * 4]
        and eax, P_A | P_D
        CHECK32 eax, P_A | P_D, 9, "4 MiB PDE accessed and dirty"
        mov eax, [PD + 2 * 4]
        and eax, P_A | P_D
        CHECK32 eax, P_A, 9, "4 MiB PDE read only: accessed"
        OK32 "4 MiB pages (PSE)"

        ; ---- PAE ----
        mov edi, PDPT
        xor eax, eax
        mov ecx, (PAE_PT + 0x1000 - PDPT) / 4
        rep stosd
        mov dword [PDPT], PAE_PD | 1
        mov dword [PAE_PD], 0x000000E7            ; 0..2 MiB: 2 MiB page, user rw (A, D preset)
        mov dword [PAE_PD + 8], PAE_PT | 7        ; 2..4 MiB: 4 KiB pages
        mov dword [PAE_PT], 0x600000 | 7          ; 0x200000 -> 0x600000
        mov eax, cr0
        and eax, 0x7FFFFFFF
        mov cr0, eax
        mov dword [0x600000], 0x9AE09AE0          ; physical (0x600000 is inside a 4 MiB page above)
        mov eax, PDPT
        mov cr3, eax
        mov eax, cr4
        or eax, 1 << 5
        mov cr4, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .pae_on
.pae_on:
        CHECK32 dword [0x200000], 0x9AE09AE0, 10, "PAE: 0x200000 -> 0x600000"
        test byte [PAE_PT], P_A
        jnz .pae_a
        FAIL32 10, "PAE PTE accessed bit"
.pae_a: TRY .pae_pf
        mov eax, [0x201000]
        FAIL32 10, "PAE: not-present read did not fault"
.pae_pf: EXPECT_EXC 14, 0, 10
        mov eax, cr2
        CHECK32 eax, 0x201000, 10, "PAE: CR2"
        OK32 "PAE paging"

        PASS32

r3_read:
        mov eax, [ss:0x303008]
        jmp $
r3_write:
        mov dword [ss:0x303008], 0
        jmp $

        bits 16
        PM_SUPPORT
        ROM_END
