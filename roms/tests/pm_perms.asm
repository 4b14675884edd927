; pm_perms: every combination of the page-table bits that decide an access's outcome, in 32-bit
; paging (4 KiB and 4 MiB pages) and PAE paging (4 KiB and 2 MiB pages, EFER.NXE off and on):
; U/S, R/W (and XD) in the PDE and the PTE, CR0.WP, CPL 0 and 3, read / write / instruction
; fetch, present, not-present and reserved-bit entries, G with and without CR4.PGE.
; For each combination the ROM first maps the address with full rights to another frame and does
; the same access there (so the TLB holds a translation, global if G), then writes the entries,
; flushes as the SDM requires (a stale translation would show), does the access and compares the
; outcome (#PF or not, error code, CR2, the entries' A/D bits, memory) with what `expect` derives
; from the bits by the rules of the Intel SDM vol. 3A: 4.6 (access rights), 4.7 (#PF error code),
; 4.8 (accessed and dirty flags) and the #PF entry of 6.15. No table of results: the rules only.
;
; Not checked, because the SDM leaves it to the implementation:
;   - the A bit of an entry the walk went through when a lower level was not present or had a
;     reserved bit (4.10.3: paging-structure caches may be filled with or without a translation);
;   - the leaf's A bit after a protection fault (6.15, #PF: "model specific");
;   - that a stale translation is still used after an entry changed without a flush (4.10.4.3:
;     a TLB may or may not hold it; -mmu shadow legitimately sees the new entry at once);
;   - reserved bits of 32-bit paging (PSE without PSE-36, PAT without PAT): P6 parts differ.
%define TEST_NAME "pm_perms"
%include "rom_common.inc"
%include "tests/pm_common.inc"

FLAT0       equ 0x38            ; flat 32-bit code, DPL 0: executes the test page
FLAT3       equ 0x40            ; the same, DPL 3
FLAT3_U     equ FLAT3 | 3
RING0_SP    equ 0xA000          ; TSS.ESP0: entries from ring 3 must not overwrite our call frames

PD32        equ 0x20000
PT32_LOW    equ 0x21000         ; identity map of 0-4 MiB, user read/write
PT32_TEST   equ 0x22000
PDPT        equ 0x23000
PAE_PD      equ 0x24000
PAE_PT_LOW  equ 0x25000         ; two tables: 0-2 MiB and 2-4 MiB, identity, user read/write
PAE_PT_TEST equ 0x27000

; One linear address, one physical address in every mode: 4 KiB PTE 0x3FF of PDE 2 (32-bit) or
; PTE 0x1FF of PDE 5 (PAE), a 4 MiB page at 0 or a 2 MiB page at 0x200000.
TEST_LIN    equ 0xBFF7F0
TEST_PHYS   equ 0x3FF7F0
TEST_FRAME  equ 0x3FF000
PATTERN     equ 0x5AA5C3CB      ; low byte RETF: the fetch test far-calls the page
PRIME_PHYS  equ 0x3FE7F0        ; the priming mapping's data (a 4 KiB page in every mode)
PRIME_FRAME equ 0x3FE000
PRIME_PAT   equ 0x3CC35ACB      ; (RETF too)
NEWVAL      equ 0x600DF00D

E_P  equ 0x01
E_RW equ 0x02
E_US equ 0x04
E_A  equ 0x20
E_D  equ 0x40
E_PS equ 0x80
E_G  equ 0x100
PF_P    equ 1
PF_W    equ 2
PF_U    equ 4
PF_RSVD equ 8
PF_I    equ 16

; Pass flags.
MF_PAE   equ 1
MF_LARGE equ 2
MF_NXE   equ 4
MF_PGE   equ 8

; The combination index: bits 0-1 access (0 read, 1 write, 2 fetch), 2 CPL 3, 3 PTE.RW, 4 PTE.US,
; 5 PDE.RW, 6 PDE.US, 7 PTE.XD, 8 PDE.XD, 9-10 state, 11 CR0.WP. Indices that mean nothing in a
; mode (XD without PAE, PTE bits with large pages ...) are skipped. G is derived (parity), and so
; is PS in the PDEs of the 32-bit 4 KiB pass, where CR4.PSE = 0 makes it meaningless.
ACC_R equ 0
ACC_W equ 1
ACC_X equ 2
ST_OK       equ 0               ; every entry present, no reserved bit
ST_LEAF_NP  equ 1               ; the leaf (PTE, or the large-page PDE) not present
ST_PDE_NP   equ 2               ; the PDE above a page table not present (4 KiB pages only)
ST_RSVD     equ 3               ; a reserved bit in the leaf (PAE only)
N_INDEX     equ 4096

; Variables (RAM, after pm_common's).
HAVE_NX   equ 0x700
MAXPHY    equ 0x704
M_FLAGS   equ 0x708
M_NAME    equ 0x70C             ; ROM offset of the pass's name (NUL-terminated)
M_PDE     equ 0x710             ; address of the test PDE
M_PTE     equ 0x714             ; address of the test PTE (4 KiB pages)
M_TARGET  equ 0x718             ; what the PDE points to: page table or large frame
M_CR3     equ 0x71C
M_PT      equ 0x720             ; the test page table (also for priming in large-page modes)
C_IDX     equ 0x724
COUNT     equ 0x728
F_ACC     equ 0x730
F_CPL3    equ 0x734
F_PTERW   equ 0x738
F_PTEUS   equ 0x73C
F_PDERW   equ 0x740
F_PDEUS   equ 0x744
F_PTEXD   equ 0x748
F_PDEXD   equ 0x74C
F_STATE   equ 0x750
F_WP      equ 0x754
F_G       equ 0x758
W_PDE     equ 0x760             ; qwords: the entries as written
W_PTE     equ 0x768
E_PDE     equ 0x770             ; qwords: the entries expected afterwards ...
E_PTE     equ 0x778
E_PDEMASK equ 0x780             ; ... in these bits of the low dword (the high dword: all bits)
E_PTEMASK equ 0x784
E_FAULT   equ 0x788
E_ERR     equ 0x78C
E_MEM     equ 0x790
A_VEC     equ 0x794
A_ERR     equ 0x798
A_CR2     equ 0x79C
A_PDE     equ 0x7A0             ; qwords
A_PTE     equ 0x7A8
A_MEM     equ 0x7B0
R3_VAL    equ 0x7B4             ; what the read got (also written from ring 3)

start:
        PM_ENTER

        bits 32
pm_main:
        mov dword [TSS + 4], RING0_SP
        mov byte [IDT + 0x30 * 8 + 5], 0xEE     ; INT 30h from ring 3: "access done"
        DESC FLAT0, 0, 0xFFFFF, 0x9A, 0xC
        DESC FLAT3, 0, 0xFFFFF, 0xFA, 0xC

        ; CPUID: NX (0x80000001 EDX bit 20) and MAXPHYADDR (0x80000008, else 36 with PAE: 4.1.4).
        mov dword [HAVE_NX], 0
        mov dword [MAXPHY], 36
        mov eax, 0x80000000
        cpuid
        mov esi, eax
        cmp esi, 0x80000001
        jb .no_ext
        mov eax, 0x80000001
        cpuid
        bt edx, 20
        setc byte [HAVE_NX]
        cmp esi, 0x80000008
        jb .no_ext
        mov eax, 0x80000008
        cpuid
        movzx eax, al
        mov [MAXPHY], eax
.no_ext:
        call build_tables

        mov dword [M_FLAGS], 0
        mov dword [M_NAME], name_32_4k
        call run_pass
        mov dword [M_FLAGS], MF_LARGE | MF_NXE | MF_PGE   ; NXE has no effect without PAE
        mov dword [M_NAME], name_32_4m
        call run_pass
        mov dword [M_FLAGS], MF_PAE | MF_PGE
        mov dword [M_NAME], name_pae_4k_0
        call run_pass
        mov dword [M_FLAGS], MF_PAE | MF_NXE
        mov dword [M_NAME], name_pae_4k_1
        call run_pass
        mov dword [M_FLAGS], MF_PAE | MF_LARGE
        mov dword [M_NAME], name_pae_2m_0
        call run_pass
        mov dword [M_FLAGS], MF_PAE | MF_LARGE | MF_NXE | MF_PGE
        mov dword [M_NAME], name_pae_2m_1
        call run_pass
        PASS32

name_32_4k:    db "32-bit 4K (PGE=0)", 0
name_32_4m:    db "32-bit 4M (PGE=1, NXE=1)", 0
name_pae_4k_0: db "PAE 4K (PGE=1, NXE=0)", 0
name_pae_4k_1: db "PAE 4K (PGE=0, NXE=1)", 0
name_pae_2m_0: db "PAE 2M (PGE=0, NXE=0)", 0
name_pae_2m_1: db "PAE 2M (PGE=1, NXE=1)", 0

; The fixed parts: identity maps of the first 4 MiB (user read/write) for both formats.
build_tables:
        mov edi, PD32
        xor eax, eax
        mov ecx, (PAE_PT_TEST + 0x1000 - PD32) / 4
        rep stosd
        mov edi, PT32_LOW
        mov eax, E_P | E_RW | E_US
.low32: stosd
        add eax, 0x1000
        cmp edi, PT32_LOW + 0x1000
        jb .low32
        mov dword [PD32], PT32_LOW | E_P | E_RW | E_US
        mov edi, PAE_PT_LOW
        mov eax, E_P | E_RW | E_US
.lowpae: stosd
        add edi, 4
        add eax, 0x1000
        cmp edi, PAE_PT_LOW + 0x2000
        jb .lowpae
        mov dword [PDPT], PAE_PD | E_P
        mov dword [PAE_PD], PAE_PT_LOW | E_P | E_RW | E_US
        mov dword [PAE_PD + 8], (PAE_PT_LOW + 0x1000) | E_P | E_RW | E_US
        ret

; One pass: the mode in M_FLAGS, every meaningful combination, then the summary line.
run_pass:
        mov eax, [M_FLAGS]
        test eax, MF_NXE
        jz .nx_ok
        cmp dword [HAVE_NX], 0
        jne .nx_ok
        mov esi, [M_NAME]
        call print_str
        PRINT32 {": skipped, CPUID reports no NX", 10}
        ret
.nx_ok:
        mov eax, cr0                            ; paging off: every TLB entry goes (4.10.4.1)
        and eax, 0x7FFEFFFF
        mov cr0, eax
        mov ecx, 0xC0000080
        rdmsr
        and eax, ~0x800
        test dword [M_FLAGS], MF_NXE
        jz .efer
        or eax, 0x800
.efer:  wrmsr
        xor eax, eax
        test dword [M_FLAGS], MF_PAE
        jz .c4a
        or eax, 1 << 5
.c4a:   test dword [M_FLAGS], MF_LARGE
        jz .c4b
        or eax, 1 << 4                          ; PSE (ignored under PAE: set in its 2M passes)
.c4b:   test dword [M_FLAGS], MF_PGE
        jz .c4c
        or eax, 1 << 7
.c4c:   mov cr4, eax
        test dword [M_FLAGS], MF_PAE
        jnz .pae
        mov dword [M_CR3], PD32
        mov dword [M_PDE], PD32 + (TEST_LIN >> 22) * 4
        mov dword [M_PTE], PT32_TEST + ((TEST_LIN >> 12) & 0x3FF) * 4
        mov dword [M_TARGET], PT32_TEST
        mov dword [M_PT], PT32_TEST
        test dword [M_FLAGS], MF_LARGE
        jz .mode
        mov dword [M_TARGET], TEST_PHYS & 0xFFC00000
        jmp .mode
.pae:   mov dword [M_CR3], PDPT
        mov dword [M_PDE], PAE_PD + ((TEST_LIN >> 21) & 0x1FF) * 8
        mov dword [M_PTE], PAE_PT_TEST + ((TEST_LIN >> 12) & 0x1FF) * 8
        mov dword [M_TARGET], PAE_PT_TEST
        mov dword [M_PT], PAE_PT_TEST
        test dword [M_FLAGS], MF_LARGE
        jz .mode
        mov dword [M_TARGET], TEST_PHYS & 0xFFE00000
.mode:  mov eax, [M_CR3]
        mov cr3, eax
        mov eax, cr0
        or eax, 0x80000000
        mov cr0, eax
        jmp .on
.on:    mov dword [COUNT], 0
        mov dword [C_IDX], 0
.loop:  call decode
        jc .next
        call one_combo
        inc dword [COUNT]
.next:  inc dword [C_IDX]
        cmp dword [C_IDX], N_INDEX
        jb .loop
        mov esi, [M_NAME]
        call print_str
        PRINT32 {": "}
        mov eax, [COUNT]
        call print_dec_nonl
        PRINT32 {" combinations ok", 10}
        ret

; C_IDX -> F_* fields; CF set if the index means nothing in this mode (checked first: most are).
decode:
        mov edx, [C_IDX]
        mov eax, edx
        and eax, 3
        cmp eax, 3
        je .skip
        mov ebx, edx
        shr ebx, 9
        and ebx, 3                              ; EBX = state
        mov ecx, [M_FLAGS]
        test ecx, MF_PAE
        jnz .pae
        test edx, (1 << 7) | (1 << 8)           ; no XD in 32-bit entries
        jnz .skip
        cmp ebx, ST_RSVD
        je .skip
.pae:   test ecx, MF_LARGE
        jz .ok
        test edx, (1 << 3) | (1 << 4) | (1 << 7) ; no PTE under a large page
        jnz .skip
        cmp ebx, ST_PDE_NP
        je .skip
.ok:    mov [F_ACC], eax
        mov [F_STATE], ebx
%macro FIELD 2  ; variable, bit
        bt edx, %2
        setc al
        movzx eax, al
        mov [%1], eax
%endmacro
        FIELD F_CPL3, 2
        FIELD F_PTERW, 3
        FIELD F_PTEUS, 4
        FIELD F_PDERW, 5
        FIELD F_PDEUS, 6
        FIELD F_PTEXD, 7
        FIELD F_PDEXD, 8
        FIELD F_WP, 11
        test dl, dl                             ; G: the parity of the low byte
        setpe al
        movzx eax, al
        mov [F_G], eax
        clc
        ret
.skip:  stc
        ret

; Sets up the combination, runs the access, checks it.
one_combo:
        ; CR0.WP (only when it changes: WP is the top index bit)
        mov eax, cr0
        mov ecx, eax
        and eax, ~(1 << 16)
        cmp dword [F_WP], 0
        je .wp
        or eax, 1 << 16
.wp:    cmp eax, ecx
        je .wp_same
        mov cr0, eax
.wp_same:
        call prime
        call make_entries
        mov dword [TEST_PHYS], PATTERN          ; through the identity map
        ; The entries; the high dwords only exist with PAE.
        test dword [M_FLAGS], MF_LARGE
        jnz .pde
        mov edi, [M_PTE]
        mov eax, [W_PTE]
        mov [edi], eax
        test dword [M_FLAGS], MF_PAE
        jz .pde
        mov eax, [W_PTE + 4]
        mov [edi + 4], eax
.pde:   mov edi, [M_PDE]
        mov eax, [W_PDE]
        mov [edi], eax
        test dword [M_FLAGS], MF_PAE
        jz .flush
        mov eax, [W_PDE + 4]
        mov [edi + 4], eax
        ; Flush (4.10.4.1): a CR3 load drops non-global translations and every paging-structure
        ; cache entry; a global one (G with PGE) needs INVLPG. Without PGE, G means nothing: a
        ; CR3 load must do then too, and INVLPG is taken by another parity (H) for some.
.flush: mov eax, [F_G]
        test dword [M_FLAGS], MF_PGE
        jnz .g
        mov eax, [C_IDX]
        test ah, ah
        setpe al
.g:     test al, al
        jz .cr3
        invlpg [TEST_LIN]
        jmp .flushed
.cr3:   mov eax, cr3
        mov cr3, eax
.flushed:
        call expect
        call do_access
        ; What happened to the entries and the memory.
        mov esi, [M_PDE]
        mov eax, [esi]
        mov [A_PDE], eax
        xor eax, eax
        test dword [M_FLAGS], MF_PAE
        jz .pdehi
        mov eax, [esi + 4]
.pdehi: mov [A_PDE + 4], eax
        mov esi, [M_PTE]
        mov eax, [esi]
        mov [A_PTE], eax
        xor eax, eax
        test dword [M_FLAGS], MF_PAE
        jz .ptehi
        mov eax, [esi + 4]
.ptehi: mov [A_PTE + 4], eax
        mov eax, [TEST_PHYS]
        mov [A_MEM], eax
        jmp check

; Maps TEST_LIN to PRIME_FRAME with every right (a 4 KiB page, G = F_G) and does this
; combination's access there: it must work, and leaves the translation in the TLB.
prime:
        mov dword [PRIME_PHYS], PRIME_PAT
        mov edi, [M_PTE]
        mov eax, PRIME_FRAME | E_P | E_RW | E_US | E_A | E_D
        cmp dword [F_G], 0
        je .g
        or eax, E_G
.g:     mov [edi], eax
        mov edx, [M_PDE]
        mov eax, [M_PT]
        or eax, E_P | E_RW | E_US | E_A
        mov [edx], eax
        test dword [M_FLAGS], MF_PAE
        jz .flush
        mov dword [edi + 4], 0
        mov dword [edx + 4], 0
.flush: invlpg [TEST_LIN]                       ; (drops the last combination's, global or not)
        call do_access
        cmp dword [A_VEC], 0x30
        jne .bad
        cmp dword [F_ACC], ACC_R
        jne .ok
        cmp dword [R3_VAL], PRIME_PAT
        jne .bad
.ok:    ret
.bad:   mov dword [E_FAULT], 0
        mov dword [E_MEM], PRIME_PAT
        mov esi, why_prime
        jmp mismatch

; F_* -> W_PDE, W_PTE.
make_entries:
        xor eax, eax
        mov [W_PDE + 4], eax
        mov [W_PTE + 4], eax
        ; the PDE
        mov eax, [M_TARGET]
        or eax, E_P
        cmp dword [F_STATE], ST_PDE_NP
        jne .pdep
        and eax, ~E_P
.pdep:  cmp dword [F_PDERW], 0
        je .pderw
        or eax, E_RW
.pderw: cmp dword [F_PDEUS], 0
        je .pdeus
        or eax, E_US
.pdeus: cmp dword [F_PDEXD], 0
        je .pdexd
        or dword [W_PDE + 4], 0x80000000
.pdexd: test dword [M_FLAGS], MF_LARGE
        jz .small
        or eax, E_PS
        call leaf_bits
        test dword [M_FLAGS], MF_PAE
        jz .large_done
        cmp dword [F_STATE], ST_RSVD
        jne .large_done
        or eax, 1 << 13                         ; bits 20:13 of a 2 MiB PDE are reserved
.large_done:
        mov [W_PDE], eax
        ret
.small: test dword [M_FLAGS], MF_PAE
        jnz .no_ps
        mov edx, [C_IDX]                        ; 32-bit paging with CR4.PSE = 0: PS is ignored
        test dl, 0x3C                           ; (4.3), so set it in about half the PDEs
        jpe .no_ps
        or eax, E_PS
.no_ps: mov [W_PDE], eax
        ; the PTE
        mov eax, TEST_FRAME
        cmp dword [F_PTERW], 0
        je .pterw
        or eax, E_RW
.pterw: cmp dword [F_PTEUS], 0
        je .pteus
        or eax, E_US
.pteus: cmp dword [F_PTEXD], 0
        je .ptexd
        or dword [W_PTE + 4], 0x80000000
.ptexd: or eax, E_P
        call leaf_bits
        cmp dword [F_STATE], ST_RSVD
        jne .pte_done
        mov ecx, [MAXPHY]                       ; bits 62:MAXPHYADDR are reserved (4.4.2)
        sub ecx, 32
        mov edx, 1
        shl edx, cl
        or [W_PTE + 4], edx
.pte_done:
        mov [W_PTE], eax
        ret
; EAX: a leaf; P off for ST_LEAF_NP, G from F_G.
leaf_bits:
        cmp dword [F_STATE], ST_LEAF_NP
        jne .p
        and eax, ~E_P
.p:     cmp dword [F_G], 0
        je .g
        or eax, E_G
.g:     ret

; The rules: from the F_* fields and the mode, what the access must do (E_*).
expect:
        ; 4.7: W/R, U/S and I/D describe the access, not the rights; I/D only with PAE and NXE.
        xor ebx, ebx
        cmp dword [F_ACC], ACC_W
        jne .e1
        or ebx, PF_W
.e1:    cmp dword [F_CPL3], 0
        je .e2
        or ebx, PF_U
.e2:    cmp dword [F_ACC], ACC_X
        jne .e3
        mov eax, [M_FLAGS]
        and eax, MF_PAE | MF_NXE
        cmp eax, MF_PAE | MF_NXE
        jne .e3
        or ebx, PF_I
.e3:    mov dword [E_FAULT], 0
        mov dword [E_ERR], 0xFFFFFFFF
        mov eax, [W_PDE]
        mov [E_PDE], eax
        mov eax, [W_PDE + 4]
        mov [E_PDE + 4], eax
        mov eax, [W_PTE]
        mov [E_PTE], eax
        mov eax, [W_PTE + 4]
        mov [E_PTE + 4], eax
        mov dword [E_PDEMASK], 0xFFFFFFFF
        mov dword [E_PTEMASK], 0xFFFFFFFF
        mov dword [E_MEM], PATTERN
        ; XD is a reserved bit of a present entry while NXE = 0 (4.4.2).
        xor edi, edi
        mov eax, [M_FLAGS]
        and eax, MF_PAE | MF_NXE
        cmp eax, MF_PAE
        jne .xd
        inc edi                                 ; EDI = 1: XD reserved
.xd:
        ; The PDE. P is looked at first: the rest of a not-present entry is ignored (4.3, 4.4.2).
        test dword [M_FLAGS], MF_LARGE
        jz .pde4k
        cmp dword [F_STATE], ST_LEAF_NP
        je .not_present
        test edi, edi
        jz .lrsvd
        cmp dword [F_PDEXD], 0
        jne .reserved
.lrsvd: cmp dword [F_STATE], ST_RSVD
        je .reserved
        jmp .rights
.pde4k: cmp dword [F_STATE], ST_PDE_NP
        je .not_present
        test edi, edi
        jz .pdersvd
        cmp dword [F_PDEXD], 0
        jne .reserved
.pdersvd:
        ; The PDE was used to find the PTE: whether a fault below sets its A is the processor's
        ; choice (a paging-structure cache entry may be made without a translation, 4.10.3.1).
        and dword [E_PDEMASK], ~E_A
        cmp dword [F_STATE], ST_LEAF_NP
        je .not_present
        test edi, edi
        jz .ptersvd
        cmp dword [F_PTEXD], 0
        jne .reserved
.ptersvd:
        cmp dword [F_STATE], ST_RSVD
        je .reserved
.rights:
        ; 4.6: U/S and R/W count as the AND over the levels, XD (with NXE) as the OR.
        mov eax, [F_PDEUS]                      ; EAX = U/S
        mov ecx, [F_PDERW]                      ; ECX = R/W
        mov edx, [F_PDEXD]                      ; EDX = XD
        test dword [M_FLAGS], MF_LARGE
        jnz .eff
        and eax, [F_PTEUS]
        and ecx, [F_PTERW]
        or edx, [F_PTEXD]
.eff:   test dword [M_FLAGS], MF_NXE
        jnz .nxe
        xor edx, edx                            ; (and without PAE there is no XD at all)
.nxe:   mov esi, [F_CPL3]
        cmp dword [F_ACC], ACC_W
        je .write
        cmp dword [F_ACC], ACC_X
        je .fetch
        ; Reads: user mode needs U/S = 1; supervisor mode reads anything (no SMAP here).
        test esi, esi
        jz .allowed
        test eax, eax
        jnz .allowed
        jmp .denied
        ; Writes: user mode needs U/S = 1 and R/W = 1; supervisor mode needs R/W = 1 if CR0.WP.
.write: test esi, esi
        jz .swrite
        and eax, ecx
        jnz .allowed
        jmp .denied
.swrite:
        cmp dword [F_WP], 0
        je .allowed
        test ecx, ecx
        jnz .allowed
        jmp .denied
        ; Fetches: user mode needs U/S = 1; both need XD = 0 (no SMEP here).
.fetch: test edx, edx
        jnz .denied
        test esi, esi
        jz .allowed
        test eax, eax
        jnz .allowed
.denied:
        ; 6.15 (#PF): on a protection violation the PDE's A is set; the leaf's is model specific.
        ; The leaf's D stays clear: nothing was written (4.8).
        mov dword [E_FAULT], 1
        or ebx, PF_P
        mov [E_ERR], ebx
        test dword [M_FLAGS], MF_LARGE
        jnz .leaf_pde
        or dword [E_PDE], E_A
        or dword [E_PDEMASK], E_A
        and dword [E_PTEMASK], ~E_A
        ret
.leaf_pde:
        and dword [E_PDEMASK], ~E_A
        ret
.allowed:
        ; 4.8: A in every entry used, D in the leaf for a write.
        or dword [E_PDE], E_A
        or dword [E_PDEMASK], E_A
        mov esi, E_PTE
        test dword [M_FLAGS], MF_LARGE
        jz .leaf
        mov esi, E_PDE
.leaf:  or dword [esi], E_A
        cmp dword [F_ACC], ACC_W
        jne .done
        or dword [esi], E_D
        mov dword [E_MEM], NEWVAL
.done:  ret
.not_present:
        mov dword [E_FAULT], 1
        mov [E_ERR], ebx                        ; P = 0 (and no RSVD: 4.7)
        ret
.reserved:
        mov dword [E_FAULT], 1
        or ebx, PF_P | PF_RSVD
        mov [E_ERR], ebx
        ret

; The access, at CPL 0 or 3; every path ends in INT 30h or a #PF, both recorded (pm_common).
do_access:
        mov dword [R3_VAL], 0
        TRY .resume
        mov eax, [F_ACC]
        cmp dword [F_CPL3], 0
        jne .ring3
        cmp eax, ACC_W
        je .w0
        cmp eax, ACC_X
        je .x0
        mov eax, [TEST_LIN]
        mov [R3_VAL], eax
        int 0x30
.w0:    mov dword [TEST_LIN], NEWVAL
        int 0x30
.x0:    call FLAT0:TEST_LIN
        int 0x30
.ring3: cmp eax, ACC_W
        je .w3
        cmp eax, ACC_X
        je .x3
        TO_RING3 r3_read, 0x0002
.w3:    TO_RING3 r3_write, 0x0002
.x3:    TO_RING3 r3_fetch, 0x0002
.resume:
        mov eax, [V_VEC]
        mov [A_VEC], eax
        mov eax, [V_ERR]
        mov [A_ERR], eax
        mov eax, cr2
        mov [A_CR2], eax
        ret

; Ring 3 (DS is null after the IRET: SS is the flat user data segment).
r3_read:
        mov eax, [ss:TEST_LIN]
        mov [ss:R3_VAL], eax
        int 0x30
r3_write:
        mov dword [ss:TEST_LIN], NEWVAL
        int 0x30
r3_fetch:
        call FLAT3_U:TEST_LIN
        int 0x30

; Compares A_* with E_*; on a mismatch prints the combination, expected and actual, and fails.
check:
        mov eax, [A_VEC]
        cmp eax, 14
        je .fault
        cmp eax, 0x30
        jne .bad_vec
        cmp dword [E_FAULT], 0
        jne .bad_outcome
        cmp dword [F_ACC], ACC_R
        jne .entries
        cmp dword [R3_VAL], PATTERN
        jne .bad_value
        jmp .entries
.fault: cmp dword [E_FAULT], 0
        je .bad_outcome
        mov eax, [A_ERR]
        cmp eax, [E_ERR]
        jne .bad_err
        cmp dword [A_CR2], TEST_LIN
        jne .bad_cr2
.entries:
        mov eax, [A_PDE]
        xor eax, [E_PDE]
        and eax, [E_PDEMASK]
        jnz .bad_pde
        mov eax, [A_PDE + 4]
        cmp eax, [E_PDE + 4]
        jne .bad_pde
        test dword [M_FLAGS], MF_LARGE
        jnz .mem
        mov eax, [A_PTE]
        xor eax, [E_PTE]
        and eax, [E_PTEMASK]
        jnz .bad_pte
        mov eax, [A_PTE + 4]
        cmp eax, [E_PTE + 4]
        jne .bad_pte
.mem:   mov eax, [A_MEM]
        cmp eax, [E_MEM]
        jne .bad_mem
        ret
.bad_vec:     mov esi, why_vec
              jmp mismatch
.bad_outcome: mov esi, why_outcome
              jmp mismatch
.bad_value:   mov esi, why_value
              jmp mismatch
.bad_err:     mov esi, why_err
              jmp mismatch
.bad_cr2:     mov esi, why_cr2
              jmp mismatch
.bad_pde:     mov esi, why_pde
              jmp mismatch
.bad_pte:     mov esi, why_pte
              jmp mismatch
.bad_mem:     mov esi, why_mem
              jmp mismatch
why_prime:   db "the priming access (full rights, another frame)", 0
why_vec:     db "an exception other than #PF", 0
why_outcome: db "#PF or not", 0
why_value:   db "the value read", 0
why_err:     db "#PF error code", 0
why_cr2:     db "CR2", 0
why_pde:     db "PDE afterwards", 0
why_pte:     db "PTE afterwards", 0
why_mem:     db "memory afterwards", 0

mismatch:
        PRINT32 {"FAIL: "}
        call print_str
        PRINT32 {" in "}
        mov esi, [M_NAME]
        call print_str
        PRINT32 {", combination 0x"}
        mov eax, [C_IDX]
        PRINT_HEX32
        PRINT32 {":", 10, "  "}
        mov eax, [F_ACC]
        mov esi, acc_names
        lea esi, [esi + eax * 8]
        call print_str
        PRINT32 {" at CPL "}
        mov eax, [F_CPL3]
        imul eax, 3
        add al, '0'
        out DEBUGCON, al
        PRINT32 {", CR0.WP="}
        mov eax, [F_WP]
        add al, '0'
        out DEBUGCON, al
        PRINT32 {", G="}
        mov eax, [F_G]
        add al, '0'
        out DEBUGCON, al
        PRINT32 {", state "}
        mov eax, [F_STATE]
        mov esi, state_names
        imul eax, 12
        add esi, eax
        call print_str
        PRINT32 {10, "  PDE written 0x"}
        mov eax, [W_PDE + 4]
        PRINT_HEX32
        mov eax, [W_PDE]
        PRINT_HEX32
        PRINT32 {", PTE written 0x"}
        mov eax, [W_PTE + 4]
        PRINT_HEX32
        mov eax, [W_PTE]
        PRINT_HEX32
        PRINT32 {10, "  expected: "}
        cmp dword [E_FAULT], 0
        je .e_ok
        PRINT32 {"#PF error 0x"}
        mov eax, [E_ERR]
        PRINT_HEX32
        PRINT32 {" CR2 0x"}
        mov eax, TEST_LIN
        PRINT_HEX32
        jmp .e_entries
.e_ok:  PRINT32 {"no fault"}
.e_entries:
        PRINT32 {"; PDE 0x"}
        mov eax, [E_PDE + 4]
        PRINT_HEX32
        mov eax, [E_PDE]
        PRINT_HEX32
        PRINT32 {" (low bits checked 0x"}
        mov eax, [E_PDEMASK]
        PRINT_HEX32
        PRINT32 {"), PTE 0x"}
        mov eax, [E_PTE + 4]
        PRINT_HEX32
        mov eax, [E_PTE]
        PRINT_HEX32
        PRINT32 {" (0x"}
        mov eax, [E_PTEMASK]
        PRINT_HEX32
        PRINT32 {"), memory 0x"}
        mov eax, [E_MEM]
        PRINT_HEX32
        PRINT32 {10, "  actual: vector 0x"}
        mov eax, [A_VEC]
        PRINT_HEX32
        PRINT32 {" error 0x"}
        mov eax, [A_ERR]
        PRINT_HEX32
        PRINT32 {" CR2 0x"}
        mov eax, [A_CR2]
        PRINT_HEX32
        PRINT32 {"; PDE 0x"}
        mov eax, [A_PDE + 4]
        PRINT_HEX32
        mov eax, [A_PDE]
        PRINT_HEX32
        PRINT32 {", PTE 0x"}
        mov eax, [A_PTE + 4]
        PRINT_HEX32
        mov eax, [A_PTE]
        PRINT_HEX32
        PRINT32 {", memory 0x"}
        mov eax, [A_MEM]
        PRINT_HEX32
        PRINT32 {", read 0x"}
        mov eax, [R3_VAL]
        PRINT_HEX32
        PRINT32 {10}
        EXIT 2

acc_names:   db "read", 0, 0, 0, 0
             db "write", 0, 0, 0
             db "fetch", 0, 0, 0
state_names: db "present", 0, 0, 0, 0, 0
             db "leaf NP", 0, 0, 0, 0, 0
             db "PDE NP", 0, 0, 0, 0, 0, 0
             db "leaf RSVD", 0, 0, 0

; ESI: ROM offset of a NUL-terminated string.
print_str:
        push eax
        push esi
.l:     cs lodsb
        test al, al
        jz .e
        out DEBUGCON, al
        jmp .l
.e:     pop esi
        pop eax
        ret

; EAX in decimal, no newline.
print_dec_nonl:
        pushad
        mov ebx, 10
        xor ecx, ecx
.div:   xor edx, edx
        div ebx
        push edx
        inc ecx
        test eax, eax
        jnz .div
.out:   pop eax
        add al, '0'
        out DEBUGCON, al
        loop .out
        popad
        ret

        bits 16
        PM_SUPPORT
        ROM_END
