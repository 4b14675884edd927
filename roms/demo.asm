; The demo ROM: prints vx86's banner on the debug console and exits cleanly (code 0, status 1).
%include "rom_common.inc"

start:
        SETUP
        POST 0x01
        PRINT {"vx86 demo ROM: hello from a real-mode x86 guest", 13, 10}
        ; A little arithmetic, so the banner proves the CPU computes, not just prints.
        mov cx, 10
        xor ax, ax
.sum:   add ax, cx
        loop .sum
        cmp ax, 55
        jne .bad
        POST 0x02
        PRINT_TO BIOSLOG, {"demo ROM: a line for the bios log", 10}
        PRINT {"sum 1..10 = 55: ok", 13, 10}
        POST 0x03
        EXIT 0
.bad:   FAIL 1, "arithmetic"

        ROM_END
