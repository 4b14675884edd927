; triple_fault: makes the CPU shut down. With SP = 1 a word push does not fit in the stack
; segment (#SS); delivering #SS needs the same stack (a double fault), and so does delivering that
; (a triple fault): the 386 shuts down. With -no-reboot vx86 then exits (status 0, as QEMU);
; without it the machine resets and this ROM runs again: it counts its boots in RAM, which survives
; a reset, and exits with code 0 on the second.
%include "rom_common.inc"
MAGIC equ 0x0502
start:
        SETUP
        cmp word [MAGIC], 0x7EA5
        je .second
        mov word [MAGIC], 0x7EA5
        xor bx, bx                       ; any exception that gets delivered is a failure
.fill:  mov word [bx], unexpected
        mov word [bx + 2], 0xF000
        add bx, 4
        cmp bx, 0x20 * 4
        jb .fill
        PRINT {"triple_fault: first boot, faulting", 10}
        mov sp, 1
        push ax
        mov sp, 0x7000
        FAIL 2, "PUSH with SP=1 did not fault"
.second:
        PRINT {"triple_fault: reset after the triple fault: ok", 10}
        EXIT 0
unexpected:
        mov sp, 0x7000
        FAIL 3, "an exception was delivered: expected a triple fault"
        ROM_END
