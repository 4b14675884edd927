; pm_segments: protected-mode segment loads and accesses, with exact exceptions and error codes.
; Not-present -> #NP(sel); RPL/DPL violations -> #GP(sel); null SS -> #GP(0); null DS used ->
; #GP(0); limits (expand-up and expand-down, #SS(0) through SS); read-only data and execute-only
; code; the accessed bit written back; selectors beyond the GDT and LDT limits; LLDT; LAR, LSL,
; VERR, VERW, ARPL; far JMP checks; and #UD for LAR in real mode.
%define TEST_NAME "pm_segments"
%include "rom_common.inc"
%include "tests/pm_common.inc"

start:
        SETUP
        ; LAR in real mode is #UD: the IVT handler skips the 3-byte instruction.
        mov word [6 * 4], rm_ud
        mov word [6 * 4 + 2], 0xF000
        mov byte [0x700], 0
        lar ax, bx
        cmp byte [0x700], 1
        je .ud_ok
        FAIL 1, "LAR in real mode did not raise #UD"
.ud_ok: PRINT {"LAR in real mode: #UD: ok", 10}
        PM_ENTER

rm_ud:  push bp
        mov bp, sp
        add word [bp + 2], 3
        mov byte [0x700], 1
        pop bp
        iret

        bits 32
pm_main:
        PRINT32 {"in protected mode", 10}
        DESC 0x38, 0x20000, 0xFFFF, 0x12, 0x4    ; data, not present
        DESC 0x40, 0x20000, 0x0FFF, 0x92, 0x4    ; data RW, limit 0xFFF
        DESC 0x48, 0x30000, 0x0FFF, 0x96, 0x4    ; data RW expand-down, B=1: 0x1000..0xFFFFFFFF
        DESC 0x50, 0x20000, 0xFFFF, 0x90, 0x4    ; data read-only
        DESC 0x58, 0xF0000, 0xFFFF, 0x98, 0x4    ; code execute-only
        DESC 0x60, 0x20000, 0xFFFF, 0x92, 0x4    ; data RW, accessed clear (cleared below)
        DESC 0x68, 0x5000, 0x000F, 0x82, 0x0     ; LDT with two entries
        DESC 0x70, 0xF0000, 0xFFFF, 0x9A, 0x4    ; code execute/read
        DESC 0x78, 0xF0000, 0xFFFF, 0x1A, 0x4    ; code, not present
        DESC 0x80, 0x48000, 0x0FFF, 0x92, 0x0    ; data, 16-bit expand-up (B clear), for SS tests
        DESC 0x88, 0x48000, 0x0FFF, 0x96, 0x0    ; data expand-down, B clear: 0x1000..0xFFFF
        mov dword [0x5000], 0
        mov dword [0x5004], 0
        mov dword [0x5008], 0x0000FFFF           ; LDT entry 1 (selector 0x0C): base 0x60000
        mov dword [0x500C], 0x00409206

        ; ---- not present: #NP(sel) ----
        TRY .np
        mov ax, 0x38
        mov ds, ax
        FAIL32 2, "load of a not-present segment did not fault"
.np:    EXPECT_EXC 11, 0x38, 2
        OK32 "not-present data segment: #NP(0x38)"

        ; ---- RPL > DPL: #GP(sel) (the error code has the index and TI, not the RPL) ----
        TRY .rpl
        mov ax, DATA | 3
        mov es, ax
        FAIL32 3, "RPL 3 load of a DPL 0 segment did not fault"
.rpl:   EXPECT_EXC 13, DATA, 3
        ; SS: RPL != CPL and DPL != CPL
        TRY .ss_dpl
        mov ax, DATA_R3 | 0
        mov ss, ax
        FAIL32 3, "SS load with DPL 3 at CPL 0 did not fault"
.ss_dpl: EXPECT_EXC 13, DATA_R3, 3
        TRY .ss_ro
        mov ax, 0x50
        mov ss, ax
        FAIL32 3, "SS load of a read-only segment did not fault"
.ss_ro: EXPECT_EXC 13, 0x50, 3
        OK32 "DPL/RPL violations: #GP(sel)"

        ; ---- null selectors ----
        TRY .nullss
        xor eax, eax
        mov ss, ax
        FAIL32 4, "null SS load did not fault"
.nullss: EXPECT_EXC 13, 0, 4
        xor eax, eax
        mov fs, ax                               ; allowed
        TRY .nullfs
        mov eax, [fs:0]
        FAIL32 4, "access through a null FS did not fault"
.nullfs: EXPECT_EXC 13, 0, 4
        OK32 "null SS: #GP(0); null FS loads, #GP(0) on use"

        ; ---- beyond the GDT limit, LDT ----
        TRY .gdtlim
        mov ax, 0x200
        mov ds, ax
        FAIL32 5, "selector beyond the GDT limit did not fault"
.gdtlim: EXPECT_EXC 13, 0x200, 5
        TRY .noldt
        mov ax, 0x0C
        mov gs, ax
        FAIL32 5, "LDT selector with a null LDTR did not fault"
.noldt: EXPECT_EXC 13, 0x0C, 5
        mov ax, 0x68
        lldt ax
        sldt bx
        CHECK32 ebx, 0x68, 5, "SLDT"
        mov ax, 0x0C
        mov gs, ax
        mov dword [0x60010], 0x600D600D
        CHECK32 dword [gs:0x10], 0x600D600D, 5, "read through an LDT segment"
        TRY .ldtlim
        mov ax, 0x14
        mov gs, ax
        FAIL32 5, "selector beyond the LDT limit did not fault"
.ldtlim: EXPECT_EXC 13, 0x14, 5
        OK32 "GDT/LDT limits, LLDT/SLDT"

        ; ---- limits ----
        mov ax, 0x40
        mov es, ax
        mov dword [es:0xFFC], 0x12345678         ; last dword inside
        CHECK32 dword [0x20FFC], 0x12345678, 6, "write at the limit"
        TRY .lim
        mov eax, [es:0xFFD]
        FAIL32 6, "read across the limit did not fault"
.lim:   EXPECT_EXC 13, 0, 6
        ; expand-down: valid offsets are above the limit
        mov ax, 0x48
        mov es, ax
        mov dword [es:0x1000], 0xCAFEF00D
        CHECK32 dword [0x31000], 0xCAFEF00D, 7, "expand-down write above the limit"
        mov dword [es:0xFFFFFFF0], 0x11223344    ; base + 0xFFFFFFF0 = 0x2FFF0
        CHECK32 dword [0x2FFF0], 0x11223344, 7, "expand-down write near 4 GiB"
        TRY .ed
        mov eax, [es:0xFFF]
        FAIL32 7, "expand-down read at the limit did not fault"
.ed:    EXPECT_EXC 13, 0, 7
        ; 16-bit expand-down (B clear): the upper bound is 0xFFFF
        mov ax, 0x88
        mov es, ax
        mov word [es:0xFFFE], 0x5A5A
        TRY .ed16
        mov eax, [es:0xFFFE]
        FAIL32 7, "16-bit expand-down read past 0xFFFF did not fault"
.ed16:  EXPECT_EXC 13, 0, 7
        ; through SS: #SS(0)
        TRY .sslim
        mov ax, 0x80
        mov ss, ax
        mov esp, 0x800
        mov eax, [ss:0xFFE]
        FAIL32 8, "SS access across the limit did not fault"
.sslim: EXPECT_EXC 12, 0, 8
        OK32 "limits: expand-up, expand-down, #SS(0) through SS"

        ; ---- types ----
        mov ax, 0x50
        mov es, ax
        mov eax, [es:0]                          ; read-only: reads are fine
        TRY .ro
        mov dword [es:0], 1
        FAIL32 9, "write to a read-only segment did not fault"
.ro:    EXPECT_EXC 13, 0, 9
        TRY .xo
        mov ax, 0x58
        mov ds, ax
        FAIL32 9, "load of execute-only code into DS did not fault"
.xo:    EXPECT_EXC 13, 0x58, 9
        mov ax, 0x70                             ; readable code: loads, reads, no writes
        mov es, ax
        CHECK32 dword [es:pm_gdt_ptr], GDT_LIMIT | (GDT << 16), 9, "read through readable code"
        TRY .cw
        mov byte [es:0], 1
        FAIL32 9, "write through a code segment did not fault"
.cw:    EXPECT_EXC 13, 0, 9
        TRY .csw
        mov byte [cs:0], 1
        FAIL32 9, "write through CS did not fault"
.csw:   EXPECT_EXC 13, 0, 9
        OK32 "read-only data, execute-only and readable code"

        ; ---- accessed bit ----
        and byte [GDT + 0x60 + 5], 0xFE
        mov ax, 0x60
        mov es, ax
        CHECK32 dword [GDT + 0x60 + 4], 0x00409302, 10, "descriptor after a load (A set)"
        OK32 "accessed bit written back"

        ; ---- LAR LSL VERR VERW ARPL ----
        mov ax, 0x40
        lar ebx, ax
        jz .lar1
        FAIL32 11, "LAR of a data segment cleared ZF"
.lar1:  CHECK32 ebx, 0x00409300, 11, "LAR result"
        lsl ecx, ax
        CHECK32 ecx, 0x00000FFF, 11, "LSL result"
        mov ax, DATA
        lsl ecx, ax
        CHECK32 ecx, 0xFFFFFFFF, 11, "LSL of a page-granular segment"
        xor eax, eax
        mov ecx, 0x5555
        lsl ecx, ax
        jnz .lsl0
        FAIL32 11, "LSL of the null selector set ZF"
.lsl0:  CHECK32 ecx, 0x5555, 11, "LSL with ZF=0 leaves the register"
        mov ax, 0x50
        verr ax
        jz .vr1
        FAIL32 12, "VERR of read-only data"
.vr1:   verw ax
        jnz .vw1
        FAIL32 12, "VERW of read-only data set ZF"
.vw1:   mov ax, 0x58
        verr ax
        jnz .vr2
        FAIL32 12, "VERR of execute-only code set ZF"
.vr2:   mov ax, 0x40
        verw ax
        jz .vw2
        FAIL32 12, "VERW of writable data"
.vw2:   mov ax, TSS_SEL
        lar ebx, ax
        jz .lar2
        FAIL32 12, "LAR of the TSS"
.lar2:  CHECK32 ebx, 0x00008B00, 12, "LAR of the busy TSS"
        mov ax, 0x0010
        mov bx, 0x0003
        arpl ax, bx
        jz .arpl1
        FAIL32 13, "ARPL did not set ZF"
.arpl1: CHECK32 eax, 0x0013, 13, "ARPL result"
        arpl ax, bx
        jnz .arpl2
        FAIL32 13, "ARPL with equal RPL set ZF"
.arpl2: OK32 "LAR, LSL, VERR, VERW, ARPL"

        ; ---- far JMP ----
        TRY .jnp
        jmp 0x78:0
        FAIL32 14, "far JMP to a not-present code segment"
.jnp:   EXPECT_EXC 11, 0x78, 14
        TRY .jdata
        jmp DATA:0
        FAIL32 14, "far JMP to a data segment"
.jdata: EXPECT_EXC 13, DATA, 14
        TRY .jlim
        jmp 0x70:0x10000
        FAIL32 14, "far JMP beyond the limit"
.jlim:  EXPECT_EXC 13, 0, 14
        jmp 0x70:.jok
.jok:   mov eax, cs
        CHECK32 eax, 0x70, 14, "CS after far JMP"
        jmp CODE32:.jback
.jback: OK32 "far JMP: #NP(sel), #GP(sel), #GP(0), good target"

        PASS32
        bits 16

        PM_SUPPORT
        ROM_END
