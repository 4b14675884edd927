; The demo ROM: prints vx86's banner on the debug console and exits cleanly.
%include "rom_common.inc"

start:
        cli
        xor ax, ax
        mov ss, ax
        mov sp, 0x7000
        PRINT {"vx86 demo ROM: hello from a real-mode x86 guest", 13, 10}
        ; Do a little arithmetic so the banner line proves the CPU computes, not just prints.
        mov cx, 10
        xor ax, ax
.sum:   add ax, cx
        loop .sum
        cmp ax, 55
        jne .bad
        PRINT {"sum 1..10 = 55: ok", 13, 10}
        EXIT 0
.bad:   FAIL "arithmetic"

        ROM_END
